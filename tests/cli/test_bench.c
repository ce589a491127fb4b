/*
 * tests/cli/test_bench.c: `mtredis bench` prints the library's workloads
 * as a table, each beside the one-round-trip-per-key way, and leaves the
 * server as it found it: only its own keys are written, and deleted.
 */
#define _GNU_SOURCE
#include "cli_test.h"

Test(bench, prints_every_workload_and_deletes_only_its_keys, .timeout = 180)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s, NULL);
	redisContext *adm = mt_test_redis_admin(&s);
	mt_test_redis_ok(adm, "SET keep:me precious");
	struct run r;
	mtredis_run(&r, NULL, 0, "bench", "--uri", s.tcp_uri, "-n",
		    MT_TEST_SANITIZED ? "300" : "2000");
	cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
	const char *rows[] = {"mt_redis_set",	     "mt_redis_get",
			      "mt_redis_scan",	     "mt_redis_publish",
			      "mt_redis_model_save", "mt_redis_save_async",
			      "Python's way"};
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
		cr_assert_not_null(strstr(r.out, rows[i]), "%s: %s", rows[i],
				   r.out);
	cr_assert_null(strstr(r.out, "BAD"), "%s", r.out);
	cr_assert_eq(mt_test_redis_int(adm, "DBSIZE"), 1);
	redisReply *v = mt_test_redis_cmd(adm, "GET keep:me");
	cr_assert_str_eq(v->str, "precious");
	freeReplyObject(v);
	run_free(&r);
	redisFree(adm);
	mt_test_redis_stop(&s);
}
