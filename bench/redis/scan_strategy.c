/*
 * bench/redis/scan_strategy.c: which way of collecting keys by pattern is
 * fastest, measured on one server (the figures behind mt_redis_scan's
 * rule in docs/redis.md, "Key collection"). Started by scan_strategy.sh,
 * which starts and stops its own redis-server.
 *
 *   scan_strategy SOCKET [NKEYS] [REPS]
 *
 * Loads NKEYS keys (default 1,000,000) in four families of equal size
 * (user:N, session:N, order:N, item:N, N seven digits), then times, each
 * REPS times (median printed, with the server's CPU seconds from INFO):
 *   walk-client  one SCAN walk (no MATCH), every pattern matched here;
 *   match-seq    one SCAN MATCH walk per pattern, one after another;
 *   match-par    one SCAN MATCH walk per pattern, each on its own
 *                connection and thread, at the same time;
 *   exists       EXISTS for a pattern without glob characters;
 * over one to four patterns of different selectivity, and the client
 * walk's COUNT hint. Every strategy's key count is checked against the
 * client walk's, so a fast wrong answer cannot win.
 */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

enum strategy {
	WALK_CLIENT,
	MATCH_SEQ,
	MATCH_PAR
};

static long run(redisContext *c, enum strategy s, const char *const *pats,
		int npats, long count)
{
	long kept = 0;
	struct par par[8];
	pthread_t t[8];

	switch (s) {
	case WALK_CLIENT:
		return walk(c, NULL, pats, npats, count);
	case MATCH_SEQ:
		for (int p = 0; p < npats; p++)
			kept += walk(c, pats[p], NULL, 0, count);
		return kept;
	case MATCH_PAR:
		for (int p = 0; p < npats; p++) {
			par[p].pattern = pats[p];
			pthread_create(&t[p], NULL, par_walk, &par[p]);
		}
		for (int p = 0; p < npats; p++) {
			pthread_join(t[p], NULL);
			kept += par[p].kept;
		}
		return kept;
	}
	return -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Times `reps` runs; prints the median wall and server CPU seconds. */
static void measure(redisContext *c, const char *label, enum strategy s,
		    const char *const *pats, int npats, long count, int reps,
		    long want)
{
	double wall[16], cpu[16];
	long kept = 0;
	for (int i = 0; i < reps; i++) {
		double c0 = server_cpu(c), t0 = now();
		kept = run(c, s, pats, npats, count);
		wall[i] = now() - t0;
		cpu[i] = server_cpu(c) - c0;
	}
	qsort(wall, (size_t)reps, sizeof *wall, cmp_double);
	qsort(cpu, (size_t)reps, sizeof *cpu, cmp_double);
	printf("%-34s %-12s %8ld keys  %7.3f s  server cpu %6.3f s%s\n", label,
	       s == WALK_CLIENT ? "walk-client" :
	       s == MATCH_SEQ	? "match-seq" :
				  "match-par",
	       kept, wall[reps / 2], cpu[reps / 2],
	       want >= 0 && kept != want ? "  WRONG COUNT" : "");
	fflush(stdout);
}

static void compare(redisContext *c, const char *label, const char *const *pats,
		    int npats, int reps)
{
	long want = walk(c, NULL, pats, npats, 1000);
	/* Disjoint families: the per-pattern sums equal the union. */
	measure(c, label, WALK_CLIENT, pats, npats, 1000, reps, want);
	measure(c, label, MATCH_SEQ, pats, npats, 1000, reps, want);
	if (npats > 1)
		measure(c, label, MATCH_PAR, pats, npats, 1000, reps, want);
}

static void exists_vs_match(redisContext *c, int reps)
{
	double t0 = now();
	long hits = 0;
	for (int i = 0; i < reps; i++) {
		redisReply *r = redisCommand(c, "EXISTS user:0004242");
		hits += r->integer;
		freeReplyObject(r);
	}
	printf("%-34s %-12s %8ld keys  %7.6f s\n", "literal user:0004242",
	       "exists", hits / reps, (now() - t0) / reps);
	const char *lit[] = {"user:0004242"};
	measure(c, "literal user:0004242", MATCH_SEQ, lit, 1, 1000, reps, 1);
}

int main(int argc, char **argv)
{
	long nkeys = argc > 2 ? atol(argv[2]) : 1000000;
	int reps = argc > 3 ? atoi(argv[3]) : 3;
	if (argc < 2 || reps < 1 || reps > 16) {
		fprintf(stderr, "usage: %s SOCKET [NKEYS] [REPS<=16]\n",
			argv[0]);
		return 2;
	}
	sock = argv[1];
	redisContext *c = connect_or_die();
	load(c, nkeys);
	printf("%ld keys loaded, %d runs each, medians\n", nkeys, reps);

	const char *one_rare[] = {"user:00042*"};
	const char *one_quarter[] = {"user:*"};
	const char *one_all[] = {"*:*"};
	const char *two[] = {"user:00042*", "session:*7"};
	const char *three[] = {"user:00042*", "session:*7", "order:[0-4]*"};
	const char *four[] = {"user:00042*", "session:*7", "order:[0-4]*",
			      "item:??????[13]"};
	compare(c, "1 pattern, 0.01% of keys", one_rare, 1, reps);
	compare(c, "1 pattern, 25% of keys", one_quarter, 1, reps);
	compare(c, "1 pattern, 100% of keys", one_all, 1, reps);
	compare(c, "2 patterns", two, 2, reps);
	compare(c, "3 patterns", three, 3, reps);
	compare(c, "4 patterns", four, 4, reps);
	exists_vs_match(c, reps);
	for (long count = 100; count <= 100000; count *= 10) {
		char label[64];
		snprintf(label, sizeof label, "4 patterns, COUNT %ld", count);
		measure(c, label, WALK_CLIENT, four, 4, count, reps, -1);
	}
	redisFree(c);
	return 0;
}
