/*
 * tests/cli/test_cluster.c: mtredis on a Redis Cluster. `load` then
 * `dump` round-trip byte for byte through a redis-cluster:// URI (keys in
 * many slots, every type, a TTL), `bench` runs its rows on the cluster,
 * and `demo --cluster` starts three masters of its own, runs every step
 * correctly and leaves no process and no folder behind.
 */
#define _GNU_SOURCE
#include "cli_test.h"

#include "../common/redis_cluster.h"
#include "../common/redis_util.h"

MT_TEST_CLUSTER_SHARED(3, 0)

/* One admin command on the master that owns `key` (given as %s first). */
static void on_owner(struct mt_test_cluster *c, const char *key,
		     const char *fmt)
{
	int o = mt_test_cluster_owner(c, mt_redis_key_slot(mt_test_str(key)));
	redisContext *a = mt_test_cluster_admin(c, o);
	mt_test_redis_ok(a, fmt, key);
	redisFree(a);
}

/* Sorted lines of a dump, the px= of TTL'd lines cut (they tick). */
static char *normalised(const char *out, size_t len)
{
	char *copy = malloc(len + 1), *lines[256], *buf = malloc(len + 2);
	size_t n = 0, at = 0;
	cr_assert(copy && buf);
	memcpy(copy, out, len);
	copy[len] = '\0';
	for (char *l = strtok(copy, "\n"); l && n < 256;
	     l = strtok(NULL, "\n")) {
		char *px = strstr(l, "\tpx=");
		if (px)
			strcpy(px, "\tpx=?");
		lines[n++] = l;
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0;
		     j--) {
			char *t = lines[j];
			lines[j] = lines[j - 1];
			lines[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++)
		at += (size_t)sprintf(buf + at, "%s\n", lines[i]);
	buf[at] = '\0';
	free(copy);
	return buf;
}

static void del_prefix(struct mt_test_cluster *c, const char *pattern)
{
	mt_redis *r = mt_test_client(c->uri, NULL);
	mt_redis_keys *k;
	mt_redis_batch *b;
	const char *pats[] = {pattern};
	cr_assert_eq(mt_redis_scan(r, pats, 1, NULL, &k), 0);
	cr_assert_eq(mt_redis_del(r, k->keys, k->n, &b), 0);
	cr_assert_eq(b->done, k->n);
	mt_redis_batch_free(b);
	mt_redis_keys_free(k);
	cr_assert_eq(mt_redis_close(r), 0);
}

Test(cli_cluster, load_then_dump_round_trips_every_type_across_slots,
     .timeout = 120)
{
	struct mt_test_cluster c;
	struct run r, again;
	static const char input[] = "crt:a\tone\n"
				    "crt:b\ttwo\n"
				    "crt:{x}c\tthree\n"
				    "crt:bin\t\\x00\\r\\n\\xff\n"
				    "crt:ttl\tsoon\tpx=600000\n";

	mt_test_cluster_shared(&c);
	mtredis_run(&r, input, sizeof input - 1, "load", "--uri", c.uri);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_free(&r);
	on_owner(&c, "crt:hash", "HSET %s f v");
	on_owner(&c, "crt:list", "RPUSH %s 1 2 3");
	on_owner(&c, "crt:set", "SADD %s m");
	on_owner(&c, "crt:zset", "ZADD %s 1.5 m");
	on_owner(&c, "crt:stream", "XADD %s * f v");

	mtredis_run(&r, NULL, 0, "dump", "--uri", c.uri, "crt:*");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(cli_count(r.out, "\n"), 10, "%s", r.out);
	cr_assert_not_null(strstr(r.out, "crt:ttl\tsoon\tpx="), "%s", r.out);
	del_prefix(&c, "crt:*");
	struct run load;
	mtredis_run(&load, r.out, r.outlen, "load", "--uri", c.uri);
	cr_assert_eq(load.status, 0, "%s", load.err);
	run_free(&load);
	mtredis_run(&again, NULL, 0, "dump", "--uri", c.uri, "crt:*");
	cr_assert_eq(again.status, 0, "%s", again.err);
	char *want = normalised(r.out, r.outlen);
	char *got = normalised(again.out, again.outlen);
	cr_assert_str_eq(got, want);
	free(want);
	free(got);
	run_free(&r);
	run_free(&again);
	mt_test_cluster_stop(&c);
}

Test(cli_cluster, bench_runs_its_rows_on_a_cluster, .timeout = 120)
{
	struct mt_test_cluster c;
	struct run r;

	mt_test_cluster_shared(&c);
	mtredis_run(&r, NULL, 0, "bench", "--uri", c.uri, "-n", "2000");
	cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
	cr_assert_not_null(strstr(r.out, "mt_redis_set"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "N/A on a cluster"), "%s", r.out);
	cr_assert_null(strstr(r.out, "ERROR"), "%s", r.out);
	run_free(&r);
	mt_test_cluster_stop(&c);
}

Test(cli_cluster, demo_cluster_runs_every_step_and_leaves_nothing,
     .timeout = 120)
{
	char dir[64], env[96];
	struct run r;
	int pid[3];

	snprintf(dir, sizeof dir, "/tmp/mtredis-cdemo-test.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(env, sizeof env, "TMPDIR=%s", dir);
	mtredis_run_env(&r, NULL, 0, (const char *const[]){env, NULL},
			(const char *const[]){"demo", "--cluster", "-n", "3000",
					      NULL});
	cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
	const char *p = strstr(r.out, "3 masters (pids ");
	cr_assert_not_null(p, "%s", r.out);
	cr_assert_eq(sscanf(p, "3 masters (pids %d %d %d)", &pid[0], &pid[1],
			    &pid[2]),
		     3);
	cr_assert_not_null(strstr(r.out, "redis-cluster://127.0.0.1:"));
	cr_assert_not_null(strstr(r.out, "all steps correct"), "%s", r.out);
	for (int i = 0; i < 3; i++)
		cr_assert(cli_process_gone(pid[i]), "node %d still runs",
			  pid[i]);
	cr_assert_eq(cli_dir_entries(dir), 0, "a node's folder is left in %s",
		     dir);
	run_free(&r);
	rmdir(dir);
}
