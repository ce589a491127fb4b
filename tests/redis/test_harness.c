/*
 * tests/redis/test_harness.c: the redis-server harness itself
 * (tests/common/redis_server.{h,c}), so that every other redis test can
 * trust it: the server answers on both the TCP port and the unix socket,
 * is ours, takes extra arguments, dies on kill, comes back on the same
 * port and socket on restart, and leaves nothing behind on stop.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>

#include "../common/redis_server.h"
#include "../common/redis_util.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static redisContext *tcp_connect(int port)
{
	struct timeval tv = {.tv_sec = 5, .tv_usec = 0};
	return redisConnectWithTimeout("127.0.0.1", port, tv);
}

/* PING over a fresh TCP connection as the default user (no password). */
static int tcp_pings(int port)
{
	redisContext *c = tcp_connect(port);
	int ok = 0;
	if (c && !c->err) {
		redisReply *r = redisCommand(c, "PING");
		ok = r && r->type == REDIS_REPLY_STATUS &&
		     strcmp(r->str, "PONG") == 0;
		if (r)
			freeReplyObject(r);
	}
	redisFree(c);
	return ok;
}

Test(harness, start_answers_on_tcp_and_unix_and_is_ours,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s, NULL);
	cr_assert_gt(s.pid, 0);
	cr_assert(s.port > 0 && s.port < 65536);
	char want[64];
	snprintf(want, sizeof want, "redis://127.0.0.1:%d", s.port);
	cr_assert_str_eq(s.tcp_uri, want);
	cr_assert_eq(strncmp(s.unix_uri, "unix:///", 8), 0);
	cr_assert_str_eq(s.unix_uri + strlen("unix://"), s.sock);
	cr_assert(tcp_pings(s.port));

	redisContext *adm = mt_test_redis_admin(&s);
	cr_assert_eq(mt_test_redis_info(adm, "process_id"), s.pid);
	cr_assert_eq(mt_test_redis_int(adm, "DBSIZE"), 0);
	/* DEBUG is enabled (the stall tests need it). */
	mt_test_redis_ok(adm, "DEBUG SLEEP 0");
	redisFree(adm);
	mt_test_redis_stop(&s);
}

Test(harness, extra_args_reach_the_server_and_admin_still_works,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s, (const char *[]){"--requirepass", "pw", NULL});
	redisContext *c = tcp_connect(s.port);
	cr_assert(c && !c->err);
	redisReply *r = redisCommand(c, "SET k v");
	cr_assert_not_null(r);
	cr_assert_eq(r->type, REDIS_REPLY_ERROR);
	cr_assert(strstr(r->str, "NOAUTH"), "got '%s'", r->str);
	freeReplyObject(r);
	redisFree(c);

	redisContext *adm = mt_test_redis_admin(&s);
	mt_test_redis_ok(adm, "SET k v");
	redisFree(adm);
	mt_test_redis_stop(&s);
}

Test(harness, two_servers_get_their_own_ports_and_folders,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct mt_test_redis a, b;
	mt_test_redis_start(&a, NULL);
	mt_test_redis_start(&b, NULL);
	cr_assert_neq(a.port, b.port);
	cr_assert_str_neq(a.dir, b.dir);
	redisContext *ca = mt_test_redis_admin(&a);
	redisContext *cb = mt_test_redis_admin(&b);
	mt_test_redis_ok(ca, "SET only-in-a 1");
	cr_assert_eq(mt_test_redis_int(cb, "EXISTS only-in-a"), 0);
	redisFree(ca);
	redisFree(cb);
	mt_test_redis_stop(&a);
	mt_test_redis_stop(&b);
}

Test(harness, kill_then_restart_keeps_port_and_socket_and_empties_data,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s, NULL);
	redisContext *adm = mt_test_redis_admin(&s);
	mt_test_redis_ok(adm, "SET before-kill 1");
	pid_t old = s.pid;
	int port = s.port;

	mt_test_redis_kill(&s);
	cr_assert_eq(s.pid, 0);
	cr_assert_eq(kill(old, 0), -1, "killed server still exists");
	cr_assert_eq(errno, ESRCH);
	cr_assert_not(tcp_pings(port), "a killed server answered");
	/* Not used again: a write to the dead server would raise SIGPIPE. */
	redisFree(adm);

	mt_test_redis_restart(&s);
	cr_assert_gt(s.pid, 0);
	cr_assert_neq(s.pid, old);
	cr_assert_eq(s.port, port);
	cr_assert(tcp_pings(s.port));
	adm = mt_test_redis_admin(&s);
	cr_assert_eq(mt_test_redis_info(adm, "process_id"), s.pid);
	cr_assert_eq(mt_test_redis_int(adm, "EXISTS before-kill"), 0);
	redisFree(adm);
	mt_test_redis_stop(&s);
}

Test(harness, stop_reaps_the_server_and_removes_its_folder,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s, NULL);
	char dir[sizeof s.dir];
	snprintf(dir, sizeof dir, "%s", s.dir);
	pid_t pid = s.pid;
	mt_test_redis_stop(&s);
	cr_assert_eq(kill(pid, 0), -1, "stopped server still exists");
	cr_assert_eq(errno, ESRCH);
	struct stat st;
	cr_assert_eq(stat(dir, &st), -1, "%s still exists", dir);
	cr_assert_eq(errno, ENOENT);
}

Test(harness, admin_survives_client_kill_type_normal,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s, NULL);
	redisContext *victim = tcp_connect(s.port);
	cr_assert(victim && !victim->err);
	redisContext *adm = mt_test_redis_admin(&s);
	cr_assert_geq(mt_test_redis_int(adm, "CLIENT KILL TYPE normal"), 1);
	mt_test_redis_ok(adm, "PING");
	cr_assert_null(redisCommand(victim, "PING"));
	redisFree(victim);
	redisFree(adm);
	mt_test_redis_stop(&s);
}
