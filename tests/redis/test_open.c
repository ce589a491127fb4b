/*
 * tests/redis/test_open.c: mt_redis_open and mt_redis_close against real
 * servers: AUTH with a password or an ACL user (percent-encoded), the
 * db, the unix socket, what a wrong password, a wrong db, a dead server
 * or a bad option give (and that no error text carries the password),
 * MT_REDIS_LAZY, and ECHILD after fork.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <mtpool/redis.h>

#include "../common/mt_test.h"
#include "../common/redis_server.h"
#include "../common/redis_util.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A password no error text may contain. */
#define SECRET "s3cr@t-Zq9"
#define SECRET_URI "s3cr%40t-Zq9"

/* mt_redis_open that must fail with `want`; returns the reason text. */
static void open_fails(const char *uri, const mt_redis_options *o, int want,
		       char *why, size_t len)
{
	mt_redis *r = (mt_redis *)why;
	int rc = mt_redis_open(&r, uri, o, why, len);
	cr_assert_eq(rc, want, "open(%s) gave %d (%s), want %d", uri, rc, why,
		     want);
	cr_assert_null(r);
	cr_assert_neq(why[0], '\0', "no reason given");
	cr_assert_null(strstr(why, SECRET), "the reason has the password");
	cr_assert_null(strstr(why, "Zq9"), "the reason has the password");
}

/* SET then GET of one key through the client. */
static void use(mt_redis *r, const char *key)
{
	mt_redis_bytes k = mt_test_str(key), v = mt_test_str("v");
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_set(r, &k, &v, 1, NULL, &b), 0);
	cr_assert_eq(b->done, 1, "%s", b->results[0].error);
	mt_redis_batch_free(b);
}

Test(open, password_in_the_uri_is_sent_percent_decoded,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s,
			    (const char *[]){"--requirepass", SECRET, NULL});
	char uri[256], why[MT_REDIS_ERRLEN];
	snprintf(uri, sizeof uri, "redis://:%s@127.0.0.1:%d", SECRET_URI,
		 s.port);
	mt_redis *r = mt_test_client(uri, NULL);
	use(r, "k");
	cr_assert_eq(mt_redis_close(r), 0);

	snprintf(uri, sizeof uri, "redis://:wrong-Zq9@127.0.0.1:%d", s.port);
	open_fails(uri, NULL, EACCES, why, sizeof why);
	cr_assert(strstr(why, "AUTH"), "%s", why);
	/* No password at all: refused (NOAUTH) at open too, with and
	 * without a db to select. */
	snprintf(uri, sizeof uri, "redis://127.0.0.1:%d/1", s.port);
	open_fails(uri, NULL, EACCES, why, sizeof why);
	snprintf(uri, sizeof uri, "redis://127.0.0.1:%d", s.port);
	open_fails(uri, NULL, EACCES, why, sizeof why);
	cr_assert(strstr(why, "NOAUTH"), "%s", why);
	mt_test_redis_stop(&s);
}

Test(open, acl_user_and_password, .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s,
			    (const char *[]){"--user", "bob", "on", ">" SECRET,
					     "~*", "&*", "+@all", NULL});
	char uri[256], why[MT_REDIS_ERRLEN];
	snprintf(uri, sizeof uri, "redis://bob:%s@127.0.0.1:%d", SECRET_URI,
		 s.port);
	mt_redis *r = mt_test_client(uri, NULL);
	use(r, "k");
	cr_assert_eq(mt_redis_close(r), 0);
	snprintf(uri, sizeof uri, "redis://bob:Zq9-nope@127.0.0.1:%d", s.port);
	open_fails(uri, NULL, EACCES, why, sizeof why);
	snprintf(uri, sizeof uri, "unix://alice:%s@%s", SECRET_URI, s.sock);
	open_fails(uri, NULL, EACCES, why, sizeof why);
	mt_test_redis_stop(&s);
}

Test(open, db_is_selected_on_every_connection, .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s, NULL);
	mt_pool *pool = mt_test_pool(2);
	mt_redis_options o = {.pool = pool};
	char uri[256];
	snprintf(uri, sizeof uri, "redis://127.0.0.1:%d/3", s.port);
	mt_redis *r = mt_test_client(uri, &o);
	/* Enough keys for several shares, so workers' connections too. */
	struct mt_test_kv kv;
	mt_test_kv_make(&kv, "db", 5000, 4);
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_set(r, kv.keys, kv.values, kv.n, NULL, &b), 0);
	cr_assert_eq(b->done, kv.n);
	mt_redis_batch_free(b);
	snprintf(uri, sizeof uri, "%s?db=5", s.unix_uri);
	mt_redis *u = mt_test_client(uri, &o);
	use(u, "in5");
	redisContext *adm = mt_test_redis_admin(&s);
	cr_assert_eq(mt_test_redis_int(adm, "DBSIZE"), 0);
	mt_test_redis_ok(adm, "SELECT 3");
	cr_assert_eq(mt_test_redis_int(adm, "DBSIZE"), (long long)kv.n);
	mt_test_redis_ok(adm, "SELECT 5");
	cr_assert_eq(mt_test_redis_int(adm, "EXISTS in5"), 1);
	redisFree(adm);
	mt_test_kv_free(&kv);
	cr_assert_eq(mt_redis_close(r), 0);
	cr_assert_eq(mt_redis_close(u), 0);
	cr_assert_eq(mt_pool_destroy(pool, MT_DRAIN), 0);
	mt_test_redis_stop(&s);
}

Test(open, wrong_db_is_erange, .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s, NULL);
	char uri[256], why[MT_REDIS_ERRLEN];
	snprintf(uri, sizeof uri, "redis://127.0.0.1:%d/99", s.port);
	open_fails(uri, NULL, ERANGE, why, sizeof why);
	cr_assert(strstr(why, "SELECT 99"), "%s", why);
	mt_test_redis_stop(&s);
}

Test(open, dead_server_refused_and_missing_socket,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s, NULL);
	char tcp[64], unx[256], why[MT_REDIS_ERRLEN];
	snprintf(tcp, sizeof tcp, "%s", s.tcp_uri);
	snprintf(unx, sizeof unx, "%s", s.unix_uri);
	mt_test_redis_stop(&s);
	open_fails(tcp, NULL, ECONNREFUSED, why, sizeof why);
	cr_assert(strstr(why, "127.0.0.1:"), "%s", why);
	open_fails(unx, NULL, ENOENT, why, sizeof why);
}

Test(open, lazy_open_succeeds_and_calls_report_not_sent,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s, NULL);
	char tcp[64];
	snprintf(tcp, sizeof tcp, "%s", s.tcp_uri);
	mt_redis_options o = {.flags = MT_REDIS_LAZY};
	mt_redis *r = mt_test_client(tcp, &o);
	use(r, "lazy");
	mt_test_redis_stop(&s);
	mt_redis_bytes k = mt_test_str("k");
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_get(r, &k, 1, &b), 0);
	cr_assert_eq(b->failed, 1);
	cr_assert(strstr(b->results[0].error, "not sent"), "%s",
		  b->results[0].error);
	mt_redis_batch_free(b);
	mt_redis_stats st;
	cr_assert_eq(mt_redis_stats_get(r, &st), 0);
	cr_assert_eq(st.items_failed, 1);
	cr_assert_eq(st.items_done, 1);
	cr_assert_eq(mt_redis_close(r), 0);
}

Test(open, bad_arguments_and_options_are_einval,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	char why[MT_REDIS_ERRLEN];
	mt_redis *r;
	cr_assert_eq(mt_redis_open(NULL, "redis://h", NULL, why, sizeof why),
		     EINVAL);
	cr_assert_eq(mt_redis_open(&r, NULL, NULL, why, sizeof why), EINVAL);
	cr_assert_null(r);
	open_fails("http://127.0.0.1", NULL, EINVAL, why, sizeof why);
	open_fails("redis://:" SECRET_URI "@127.0.0.1:0", NULL, EINVAL, why,
		   sizeof why);
	mt_redis_options o = {.flags = 0x100};
	open_fails("redis://127.0.0.1", &o, EINVAL, why, sizeof why);
	o = (mt_redis_options){.window = 1u << 30};
	open_fails("redis://127.0.0.1", &o, EINVAL, why, sizeof why);
	o = (mt_redis_options){.chunk_keys = 1u << 30};
	open_fails("redis://127.0.0.1", &o, EINVAL, why, sizeof why);
	/* why may be NULL. */
	cr_assert_eq(mt_redis_open(&r, "nope", NULL, NULL, 0), EINVAL);
}

Test(open, a_client_opened_before_fork_is_echild_in_the_child,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s, NULL);
	mt_redis *r = mt_test_client(s.tcp_uri, NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		mt_redis_bytes k = {"k", 1};
		mt_redis_batch *b;
		int rc = mt_redis_get(r, &k, 1, &b);
		int rf = mt_redis_flush(r, NULL);
		int rs = mt_redis_save_async(r, NULL, 0);
		_exit(rc == ECHILD && rf == ECHILD && rs == ECHILD ? 0 : 1);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "the child did not get ECHILD");
	use(r, "parent-still-works");
	cr_assert_eq(mt_redis_close(r), 0);
	mt_test_redis_stop(&s);
}
