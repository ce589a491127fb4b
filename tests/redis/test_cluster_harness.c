/*
 * tests/redis/test_cluster_harness.c: the cluster harness itself
 * (tests/common/redis_cluster.{h,c}), so the cluster tests can trust it:
 * a cluster that starts ready, routes a key to its owner, and leaves no
 * process or folder behind. Its migration steps are checked against the
 * library's parsers in test_cluster.c (cluster_live); kill, restart,
 * failover, add and remove in test_cluster_faults.c, whose tests check
 * the cluster's state after each (owners, replicas promoted, data).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <mtpool/redis.h>

#include "../common/redis_cluster.h"
#include "../common/redis_util.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A command's reply on node i; the caller frees it. Errors are returned,
 * not asserted: the redirects are what these tests look at. */
static redisReply *on(struct mt_test_cluster *c, int i, const char *fmt, ...)
{
	redisContext *a = mt_test_cluster_admin(c, i);
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = redisvCommand(a, fmt, ap);
	va_end(ap);
	cr_assert_not_null(r, "node %d: %s", i, a->errstr);
	redisFree(a);
	return r;
}

static void assert_string(redisReply *r, const char *want)
{
	cr_assert_eq(r->type, REDIS_REPLY_STRING, "type %d: %s", r->type,
		     r->type == REDIS_REPLY_ERROR ? r->str : "");
	cr_assert_str_eq(r->str, want);
	freeReplyObject(r);
}

static int other_master(const struct mt_test_cluster *c, int not )
{
	for (int i = 0; i < c->n; i++)
		if (i != not &&c->node[i].master == -1)
			return i;
	cr_assert_fail("no other master");
	return -1;
}

Test(cluster_harness, three_ready_masters_a_key_via_its_owner_and_no_trace,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct mt_test_cluster c;
	char want[128];

	mt_test_cluster_start(&c, 3, 0);
	cr_assert_eq(c.n, 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(c.node[i].master, -1);
		cr_assert_eq(strlen(c.node[i].id), 40);
		cr_assert_neq(c.node[i].srv.bus_port, c.node[i].srv.port);
	}
	snprintf(want, sizeof want,
		 "redis-cluster://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d",
		 c.node[0].srv.port, c.node[1].srv.port, c.node[2].srv.port);
	cr_assert_str_eq(c.uri, want);
	/* redis-cli splits the slots evenly, in node order. */
	cr_assert_eq(mt_test_cluster_owner(&c, 0), 0);
	cr_assert_eq(mt_test_cluster_owner(&c, 16383), 2);

	/* "{user1000}.following" is in slot 3443. */
	int o = mt_test_cluster_owner(&c, 3443), x = other_master(&c, o);
	freeReplyObject(on(&c, o, "SET {user1000}.following v1"));
	assert_string(on(&c, o, "GET {user1000}.following"), "v1");
	redisReply *r = on(&c, x, "GET {user1000}.following");
	snprintf(want, sizeof want, "MOVED 3443 127.0.0.1:%d",
		 c.node[o].srv.port);
	cr_assert_eq(r->type, REDIS_REPLY_ERROR);
	cr_assert_str_eq(r->str, want);
	freeReplyObject(r);

	pid_t pids[3];
	char dirs[3][128];
	for (int i = 0; i < 3; i++) {
		pids[i] = c.node[i].srv.pid;
		snprintf(dirs[i], sizeof dirs[i], "%s", c.node[i].srv.dir);
	}
	mt_test_cluster_stop(&c);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(kill(pids[i], 0), -1, "node %d still runs", i);
		cr_assert_eq(errno, ESRCH);
		cr_assert_eq(access(dirs[i], F_OK), -1, "%s left", dirs[i]);
	}
}
