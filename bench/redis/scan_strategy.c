/*
 * bench/redis/scan_strategy.c: which way of collecting keys by pattern is
 * fastest, measured on one server (the figures behind mt_redis_scan's
 * rule in docs/redis.md, "Key collection"). Started by scan_strategy.sh,
 * which starts and stops its own redis-server.
 *
 *   scan_strategy SOCKET [NKEYS] [REPS]
 *
 * Loads NKEYS keys (default 1,000,000) in four families of equal size
 * (user:N, session:N, order:N, item:N, N seven digits), then times each
 * case over REPS rounds (default 5; each case once per round, in turn, so
 * that a burst of load on the shared machine hits every case alike; the
 * median and minimum wall time are printed, with the server's CPU seconds
 * from INFO):
 *   walk-client  one SCAN walk (no MATCH), every pattern matched here;
 *   match-seq    one SCAN MATCH walk per pattern, one after another;
 *   match-par    one SCAN MATCH walk per pattern, each on its own
 *                connection and thread, at the same time;
 *   exists       EXISTS for a pattern without glob characters;
 * over one to four patterns of different selectivity, and the client
 * walk's COUNT hint; then the library's mt_redis_scan (which picks its
 * plan from these figures) with and without fetching every value by GET,
 * beside walk+get: the client walk, then GET of every key found,
 * pipelined in windows of 1000 on the same connection. Every strategy's key count
 * is checked against the client walk's, so a fast wrong answer cannot
 * win.
 */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mtpool/redis.h>

#include "glob.h"

static const char *sock;

static redisContext *connect_or_die(void)
{
	struct timeval tv = {.tv_sec = 60};
	redisContext *c = redisConnectUnixWithTimeout(sock, tv);
	if (!c || c->err) {
		fprintf(stderr, "connect %s: %s\n", sock,
			c ? c->errstr : "out of memory");
		exit(1);
	}
	return c;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The server's own CPU seconds (user + sys), from INFO cpu. */
static double server_cpu(redisContext *c)
{
	redisReply *r = redisCommand(c, "INFO cpu");
	double user = 0, sys = 0;
	const char *u = r ? strstr(r->str, "used_cpu_user:") : NULL;
	const char *s = r ? strstr(r->str, "used_cpu_sys:") : NULL;
	if (u)
		user = strtod(u + strlen("used_cpu_user:"), NULL);
	if (s)
		sys = strtod(s + strlen("used_cpu_sys:"), NULL);
	if (r)
		freeReplyObject(r);
	return user + sys;
}

static void load(redisContext *c, long nkeys)
{
	static const char *const family[] = {"user", "session", "order",
					     "item"};
	const long chunk = 100;
	char keys[100][32];
	const char *argv[1 + 2 * 100];
	size_t lens[1 + 2 * 100];
	long sent = 0;

	freeReplyObject(redisCommand(c, "FLUSHALL"));
	argv[0] = "MSET";
	lens[0] = 4;
	for (long i = 0; i < nkeys; i += chunk) {
		int n = 0;
		for (long k = i; k < i + chunk && k < nkeys; k++, n++) {
			lens[1 + 2 * n] = (size_t)snprintf(
				keys[n], sizeof keys[n], "%s:%07ld",
				family[k % 4], k / 4);
			argv[1 + 2 * n] = keys[n];
			argv[2 + 2 * n] = "0123456789abcdef";
			lens[2 + 2 * n] = 16;
		}
		redisAppendCommandArgv(c, 1 + 2 * n, argv, lens);
		if (++sent % 64 == 0)
			for (; sent > 0; sent--) {
				redisReply *r;
				redisGetReply(c, (void **)&r);
				freeReplyObject(r);
			}
	}
	for (; sent > 0; sent--) {
		redisReply *r;
		redisGetReply(c, (void **)&r);
		freeReplyObject(r);
	}
}

/* One SCAN walk; with `match` the server filters, else every key is
 * matched here against all patterns. Returns the keys kept. */
static long walk(redisContext *c, const char *match, const char *const *pats,
		 int npats, long count)
{
	char cursor[32] = "0", cnt[32];
	long kept = 0;
	snprintf(cnt, sizeof cnt, "%ld", count);
	do {
		redisReply *r =
			match ? redisCommand(c, "SCAN %s MATCH %s COUNT %s",
					     cursor, match, cnt) :
				redisCommand(c, "SCAN %s COUNT %s", cursor,
					     cnt);
		if (!r || r->type != REDIS_REPLY_ARRAY) {
			fprintf(stderr, "SCAN failed\n");
			exit(1);
		}
		snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements; i++) {
			const redisReply *k = r->element[1]->element[i];
			int hit = match != NULL;
			for (int p = 0; !hit && p < npats; p++)
				hit = mt__redis_stringmatch(pats[p],
							    strlen(pats[p]),
							    k->str, k->len);
			kept += hit;
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	return kept;
}

struct par {
	const char *pattern;
	long kept;
};

static void *par_walk(void *arg)
{
	struct par *p = arg;
	redisContext *c = connect_or_die();
	p->kept = walk(c, p->pattern, NULL, 0, 1000);
	redisFree(c);
	return NULL;
}

/* The walk collecting every key that matches, then GET of each, windows
 * of 1000 on the same connection: the sequential way. Returns the keys. */
static long walk_then_get(redisContext *c, const char *const *pats, int npats)
{
	char cursor[32] = "0";
	size_t n = 0, cap = 1024;
	char **keys = malloc(cap * sizeof *keys);
	do {
		redisReply *r = redisCommand(c, "SCAN %s COUNT 1000", cursor);
		snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements; i++) {
			const redisReply *k = r->element[1]->element[i];
			int hit = 0;
			for (int p = 0; !hit && p < npats; p++)
				hit = mt__redis_stringmatch(pats[p],
							    strlen(pats[p]),
							    k->str, k->len);
			if (!hit)
				continue;
			if (n == cap)
				keys = realloc(keys, (cap *= 2) * sizeof *keys);
			keys[n++] = strdup(k->str);
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	for (size_t lo = 0; lo < n; lo += 1000) {
		size_t hi = lo + 1000 < n ? lo + 1000 : n;
		for (size_t i = lo; i < hi; i++)
			redisAppendCommand(c, "GET %s", keys[i]);
		for (size_t i = lo; i < hi; i++) {
			redisReply *r;
			redisGetReply(c, (void **)&r);
			freeReplyObject(r);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	return (long)n;
}

enum strategy {
	WALK_CLIENT,   /* one SCAN walk, matched here */
	MATCH_SEQ,     /* SCAN MATCH per pattern, one after another */
	MATCH_PAR,     /* SCAN MATCH per pattern, a connection each */
	EXISTS,	       /* EXISTS of the one literal pattern */
	WALK_THEN_GET, /* walk_then_get */
	LIB_SCAN,      /* mt_redis_scan */
	LIB_SCAN_GET   /* mt_redis_scan with fetch "GET" */
};

static const char *const strategy_name[] = {"walk-client", "match-seq",
					    "match-par",   "exists",
					    "walk+get",	   "mt_scan",
					    "mt_scan+get"};

struct bench_case {
	const char *label;
	enum strategy s;
	const char *const *pats;
	int npats;
	long count;
	long want; /* keys expected, from a first client walk */
	double wall[16], cpu[16];
	long kept;
};

static mt_redis *lib;

static long run_lib(const struct bench_case *bc, const char *fetch)
{
	mt_redis_scan_options o = {.fetch = fetch,
				   .count = (unsigned)bc->count};
	mt_redis_keys *k = NULL;
	int rc = mt_redis_scan(lib, bc->pats, (size_t)bc->npats, &o, &k);
	long n;
	if (rc != 0 || k->failed) {
		fprintf(stderr, "mt_redis_scan: %d\n", rc);
		exit(1);
	}
	n = (long)k->n;
	mt_redis_keys_free(k);
	return n;
}

static long run_exists(redisContext *c, const char *key)
{
	redisReply *r = redisCommand(c, "EXISTS %s", key);
	long n = r->integer;
	freeReplyObject(r);
	return n;
}

static long run_par(const struct bench_case *bc)
{
	struct par par[8];
	pthread_t t[8];
	long kept = 0;
	for (int p = 0; p < bc->npats; p++) {
		par[p].pattern = bc->pats[p];
		pthread_create(&t[p], NULL, par_walk, &par[p]);
	}
	for (int p = 0; p < bc->npats; p++) {
		pthread_join(t[p], NULL);
		kept += par[p].kept;
	}
	return kept;
}

static long run(redisContext *c, const struct bench_case *bc)
{
	long kept = 0;
	switch (bc->s) {
	case WALK_CLIENT:
		return walk(c, NULL, bc->pats, bc->npats, bc->count);
	case MATCH_SEQ:
		for (int p = 0; p < bc->npats; p++)
			kept += walk(c, bc->pats[p], NULL, 0, bc->count);
		return kept;
	case MATCH_PAR:
		return run_par(bc);
	case EXISTS:
		return run_exists(c, bc->pats[0]);
	case WALK_THEN_GET:
		return walk_then_get(c, bc->pats, bc->npats);
	case LIB_SCAN:
		return run_lib(bc, NULL);
	case LIB_SCAN_GET:
		return run_lib(bc, "GET");
	}
	return -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void run_once(redisContext *c, struct bench_case *bc, int rep)
{
	double c0 = server_cpu(c), t0 = now();
	bc->kept = run(c, bc);
	bc->wall[rep] = now() - t0;
	bc->cpu[rep] = server_cpu(c) - c0;
}

static void report(struct bench_case *bc, int reps)
{
	qsort(bc->wall, (size_t)reps, sizeof *bc->wall, cmp_double);
	qsort(bc->cpu, (size_t)reps, sizeof *bc->cpu, cmp_double);
	printf("%-26s %-12s %8ld keys %8.4f s (min %7.4f)  server cpu "
	       "%6.3f s%s\n",
	       bc->label, strategy_name[bc->s], bc->kept, bc->wall[reps / 2],
	       bc->wall[0], bc->cpu[reps / 2],
	       bc->kept != bc->want ? "  WRONG COUNT" : "");
}

static const char *const one_rare[] = {"user:00042*"};
static const char *const one_quarter[] = {"user:*"};
static const char *const one_all[] = {"*:*"};
static const char *const two[] = {"user:00042*", "session:*7"};
static const char *const three[] = {"user:00042*", "session:*7",
				    "order:[0-4]*"};
static const char *const four[] = {"user:00042*", "session:*7", "order:[0-4]*",
				   "item:??????[13]"};
static const char *const literal[] = {"user:0004242"};
static const char *const all_two[] = {"*:*", "nothing*"};

#define CASE(l, st, p, cnt)                                             \
	{                                                               \
		l, st, p, sizeof(p) / sizeof(p[0]), cnt, 0, {0}, {0}, 0 \
	}

static struct bench_case cases[] = {
	CASE("1 pattern, 0.01% of keys", WALK_CLIENT, one_rare, 1000),
	CASE("1 pattern, 0.01% of keys", MATCH_SEQ, one_rare, 1000),
	CASE("1 pattern, 0.01% of keys", LIB_SCAN, one_rare, 1000),
	CASE("1 pattern, 25% of keys", WALK_CLIENT, one_quarter, 1000),
	CASE("1 pattern, 25% of keys", MATCH_SEQ, one_quarter, 1000),
	CASE("1 pattern, 25% of keys", LIB_SCAN, one_quarter, 1000),
	CASE("1 pattern, 100% of keys", WALK_CLIENT, one_all, 1000),
	CASE("1 pattern, 100% of keys", MATCH_SEQ, one_all, 1000),
	CASE("2 patterns", WALK_CLIENT, two, 1000),
	CASE("2 patterns", MATCH_SEQ, two, 1000),
	CASE("2 patterns", MATCH_PAR, two, 1000),
	CASE("3 patterns", WALK_CLIENT, three, 1000),
	CASE("3 patterns", MATCH_SEQ, three, 1000),
	CASE("3 patterns", MATCH_PAR, three, 1000),
	CASE("4 patterns", WALK_CLIENT, four, 1000),
	CASE("4 patterns", MATCH_SEQ, four, 1000),
	CASE("4 patterns", MATCH_PAR, four, 1000),
	CASE("4 patterns", LIB_SCAN, four, 1000),
	CASE("literal user:0004242", EXISTS, literal, 1000),
	CASE("literal user:0004242", MATCH_SEQ, literal, 1000),
	CASE("literal user:0004242", LIB_SCAN, literal, 1000),
	CASE("4 patterns, values", WALK_THEN_GET, four, 1000),
	CASE("4 patterns, values", LIB_SCAN_GET, four, 1000),
	CASE("all keys, values", WALK_THEN_GET, all_two, 1000),
	CASE("all keys, values", LIB_SCAN_GET, all_two, 1000),
	CASE("4 patterns, COUNT 100", WALK_CLIENT, four, 100),
	CASE("4 patterns, COUNT 1000", WALK_CLIENT, four, 1000),
	CASE("4 patterns, COUNT 10000", WALK_CLIENT, four, 10000),
};

static void open_lib(void)
{
	char uri[300], why[MT_REDIS_ERRLEN];
	snprintf(uri, sizeof uri, "unix://%s", sock);
	if (mt_redis_open(&lib, uri, NULL, why, sizeof why) != 0) {
		fprintf(stderr, "mt_redis_open: %s\n", why);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	long nkeys = argc > 2 ? atol(argv[2]) : 1000000;
	int reps = argc > 3 ? atoi(argv[3]) : 5;
	size_t ncases = sizeof cases / sizeof cases[0];
	if (argc < 2 || reps < 1 || reps > 16) {
		fprintf(stderr, "usage: %s SOCKET [NKEYS] [REPS<=16]\n",
			argv[0]);
		return 2;
	}
	sock = argv[1];
	redisContext *c = connect_or_die();
	load(c, nkeys);
	open_lib();
	for (size_t i = 0; i < ncases; i++)
		cases[i].want = cases[i].s == EXISTS ?
					run_exists(c, cases[i].pats[0]) :
					walk(c, NULL, cases[i].pats,
					     cases[i].npats, 1000);
	printf("%ld keys loaded; %d rounds, each case once per round in "
	       "turn; medians (and minimum) of wall time, server CPU\n",
	       nkeys, reps);
	/* Rounds, not one case's runs in a row: the machine is shared, and
	 * a burst of load then hits every case alike. */
	for (int rep = 0; rep < reps; rep++)
		for (size_t i = 0; i < ncases; i++)
			run_once(c, &cases[i], rep);
	for (size_t i = 0; i < ncases; i++)
		report(&cases[i], reps);
	mt_redis_close(lib);
	redisFree(c);
	return 0;
}
