/*
 * tests/redis/test_glob_server.c: our glob matcher against a real
 * redis-server's own SCAN MATCH (a differential test).
 *
 * Each test loads a key set into a fresh server, then for every pattern
 * walks the whole keyspace with SCAN 0 MATCH p COUNT big until the cursor
 * is 0, and compares the set of keys the server returned with the keys
 * mt_redis_glob_match accepts. Without writes during the walk, SCAN
 * returns every key that matches (possibly twice, which a set absorbs),
 * so the two sets must be equal.
 *
 * Random patterns and keys come from alphabets heavy in the bytes that
 * matter ('*', '?', '[', ']', '^', '-', '\', NUL, 0x80, 0xff and two
 * letters, so that random patterns often match). The seed is new each run
 * (time and pid) and printed with any mismatch; MT_TEST_SEED=N reruns a
 * failure.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mtpool/redis.h>

#include "../common/mt_test.h" /* MT_TEST_SANITIZED */
#include "../common/redis_server.h"
#include "glob.h"

#define NKEYS 3000
#define NPATTERNS (MT_TEST_SANITIZED ? 1000 : 2000)
#define MAXLEN 2100 /* the nesting case needs 2002-byte patterns */

struct str {
	size_t len;
	char b[MAXLEN];
};

/* The loaded keys, sorted and distinct, so that membership is a bsearch. */
struct keyset {
	struct str *k;
	size_t n;
	unsigned char *seen; /* per key: returned by the current walk */
};

static uint64_t rng;

static uint64_t next(void)
{
	/* xorshift64*: small, fast and good enough to pick bytes. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

static uint64_t seed_once(void)
{
	const char *e = getenv("MT_TEST_SEED");
	uint64_t s = e ? strtoull(e, NULL, 0) :
			 (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
	rng = s ? s : 1;
	return s;
}

static void random_str(struct str *s, const char *alpha, size_t nalpha,
		       size_t maxlen)
{
	s->len = next() % (maxlen + 1);
	for (size_t i = 0; i < s->len; i++)
		s->b[i] = alpha[next() % nalpha];
}

static int cmp_str(const void *a, const void *b)
{
	const struct str *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->b, y->b, n);
	if (c != 0)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

static void hex(const struct str *s, char *out, size_t outlen)
{
	size_t at = 0;
	out[0] = '\0';
	for (size_t i = 0; i < s->len && at + 4 < outlen; i++)
		at += (size_t)snprintf(out + at, outlen - at, "%02x",
				       (unsigned char)s->b[i]);
}

/* Sorts, drops duplicates, and SETs every key (pipelined, binary-safe). */
static void load_keys(redisContext *c, struct keyset *ks)
{
	size_t n = 0;
	qsort(ks->k, ks->n, sizeof *ks->k, cmp_str);
	for (size_t i = 0; i < ks->n; i++)
		if (n == 0 || cmp_str(&ks->k[n - 1], &ks->k[i]) != 0)
			ks->k[n++] = ks->k[i];
	ks->n = n;
	for (size_t i = 0; i < n; i++) {
		const char *argv[] = {"SET", ks->k[i].b, "v"};
		size_t lens[] = {3, ks->k[i].len, 1};
		cr_assert_eq(redisAppendCommandArgv(c, 3, argv, lens),
			     REDIS_OK);
	}
	for (size_t i = 0; i < n; i++) {
		redisReply *r;
		cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
		cr_assert_eq(r->type, REDIS_REPLY_STATUS);
		freeReplyObject(r);
	}
	cr_assert_eq(mt_test_redis_int(c, "DBSIZE"), (long long)n);
	ks->seen = calloc(n, 1);
	cr_assert_not_null(ks->seen);
}

static void mark_seen(struct keyset *ks, const redisReply *key)
{
	struct str probe;
	struct str *hit;
	cr_assert_eq(key->type, REDIS_REPLY_STRING);
	cr_assert_leq(key->len, MAXLEN);
	probe.len = key->len;
	memcpy(probe.b, key->str, key->len);
	hit = bsearch(&probe, ks->k, ks->n, sizeof *ks->k, cmp_str);
	cr_assert_not_null(hit, "SCAN returned a key we never loaded");
	ks->seen[hit - ks->k] = 1;
}

/* The full walk: SCAN from cursor 0 until it returns 0. */
static void scan_walk(redisContext *c, const struct str *p, struct keyset *ks)
{
	char cursor[32] = "0";
	memset(ks->seen, 0, ks->n);
	do {
		const char *argv[] = {"SCAN", cursor,  "MATCH",
				      p->b,   "COUNT", "100000"};
		size_t lens[] = {4, strlen(cursor), 5, p->len, 5, 6};
		redisReply *r = redisCommandArgv(c, 6, argv, lens);
		cr_assert_not_null(r, "SCAN failed: %s", c->errstr);
		cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
		cr_assert_eq(r->elements, 2);
		snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements; i++)
			mark_seen(ks, r->element[1]->element[i]);
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
}

/* Walks with pattern p and compares every key; returns the mismatches
 * (each printed with the seed). */
static size_t compare(redisContext *c, const struct str *p, struct keyset *ks,
		      uint64_t seed)
{
	size_t bad = 0;
	scan_walk(c, p, ks);
	for (size_t i = 0; i < ks->n; i++) {
		mt_redis_bytes pb = {p->b, p->len};
		mt_redis_bytes kb = {ks->k[i].b, ks->k[i].len};
		int ours = mt_redis_glob_match(pb, kb);
		if (ours == ks->seen[i])
			continue;
		char ph[2 * 64 + 1], kh[2 * 64 + 1];
		hex(p, ph, sizeof ph);
		hex(&ks->k[i], kh, sizeof kh);
		if (bad++ < 10)
			fprintf(stderr,
				"glob mismatch (MT_TEST_SEED=%llu): pattern "
				"hex %s key hex %s: server %d, ours %d\n",
				(unsigned long long)seed, ph, kh, ks->seen[i],
				ours);
	}
	return bad;
}

static const char pattern_bytes[] = "ab*?[]^-\\\0\x80\xff"
				    "ab*?[";
static const char key_bytes[] = "ab]^-\\[*?\0\x80\xff"
				"c";

Test(glob_server, random_patterns_agree_with_scan_match, .timeout = 300)
{
	uint64_t seed = seed_once();
	struct mt_test_redis s;
	struct keyset ks = {.n = NKEYS};
	struct str p;
	size_t bad = 0;

	ks.k = calloc(NKEYS, sizeof *ks.k);
	cr_assert_not_null(ks.k);
	for (size_t i = 0; i < NKEYS; i++)
		random_str(&ks.k[i], key_bytes, sizeof key_bytes - 1, 7);
	ks.k[0].len = 0; /* the empty key: "*" and "" rules */
	mt_test_redis_start(&s, NULL);
	redisContext *c = mt_test_redis_admin(&s);
	load_keys(c, &ks);
	for (size_t i = 0; i < NPATTERNS; i++) {
		random_str(&p, pattern_bytes, sizeof pattern_bytes - 1, 9);
		bad += compare(c, &p, &ks, seed);
	}
	cr_assert_eq(bad, 0,
		     "%zu mismatches over %d patterns x %zu keys "
		     "(MT_TEST_SEED=%llu)",
		     bad, NPATTERNS, ks.n, (unsigned long long)seed);
	redisFree(c);
	mt_test_redis_stop(&s);
	free(ks.seen);
	free(ks.k);
}

static void add(struct keyset *ks, const char *b, size_t len)
{
	ks->k[ks->n].len = len;
	memcpy(ks->k[ks->n].b, b, len);
	ks->n++;
}

/* Every hand-picked string of test_glob.c, as keys and as patterns, so
 * that the unit tests' expectations are the server's, not ours. */
static const struct {
	const char *b;
	size_t len;
} picked[] = {
#define P(lit)                       \
	{                            \
		lit, sizeof(lit) - 1 \
	}
	P(""),	       P("*"),	   P("**"),    P("a"),	      P("a*"),
	P("a**"),      P("*a"),	   P("?"),     P("??"),	      P("a?"),
	P("[ae]"),     P("[^e]"),  P("[a-c]"), P("[z-a]"),    P("[a-]"),
	P("[a-]x"),    P("[-a]"),  P("[abc"),  P("["),	      P("[^"),
	P("a["),       P("[a-"),   P("[]"),    P("[]a]"),     P("[^]"),
	P("\\*"),      P("\\?"),   P("\\[a]"), P("a\\"),      P("[\\]]"),
	P("[\\^a]"),   P("[\\-]"), P("[\\]"),  P("[\\"),      P("a\0b"),
	P("a\0c"),     P("a?b"),   P("\xff*"), P("[a-\xff]"), P("[\x80-\xff]"),
	P("_"),	       P("-"),	   P("]"),     P("^"),	      P("\\"),
	P("x"),	       P("_x"),	   P("b"),     P("d"),	      P("m"),
	P("\xff"),     P("\x80"),  P("\xc3"),  P("\0"),	      P("\xff\xfe"),
	P("\xfe\xff"), P("[a]"),   P("a\\b"),  P("hello"),    P("h*o"),
#undef P
};

Test(glob_server, hand_picked_cases_agree_with_scan_match, .timeout = 120)
{
	size_t npicked = sizeof picked / sizeof picked[0];
	struct mt_test_redis s;
	struct keyset ks = {0};
	struct str p;
	size_t bad = 0;

	ks.k = calloc(npicked, sizeof *ks.k);
	cr_assert_not_null(ks.k);
	for (size_t i = 0; i < npicked; i++)
		add(&ks, picked[i].b, picked[i].len);
	mt_test_redis_start(&s, NULL);
	redisContext *c = mt_test_redis_admin(&s);
	load_keys(c, &ks);
	for (size_t i = 0; i < npicked; i++) {
		p.len = picked[i].len;
		memcpy(p.b, picked[i].b, p.len);
		bad += compare(c, &p, &ks, 0);
	}
	cr_assert_eq(bad, 0, "%zu mismatches (see stderr)", bad);
	redisFree(c);
	mt_test_redis_stop(&s);
	free(ks.seen);
	free(ks.k);
}

/* "*x" k times needs k nested stars to match k 'x's: the server refuses
 * more than 1000 (CVE-2024-31228), and so do we. */
Test(glob_server, nesting_limit_agrees_with_scan_match, .timeout = 120)
{
	struct mt_test_redis s;
	struct keyset ks = {0};
	struct str p;
	size_t bad = 0;

	ks.k = calloc(4, sizeof *ks.k);
	cr_assert_not_null(ks.k);
	for (size_t k = 999; k <= 1002; k++) {
		ks.k[ks.n].len = k;
		memset(ks.k[ks.n++].b, 'x', k);
	}
	mt_test_redis_start(&s, NULL);
	redisContext *c = mt_test_redis_admin(&s);
	load_keys(c, &ks);
	for (size_t k = 999; k <= 1001; k++) {
		p.len = 2 * k;
		for (size_t i = 0; i < k; i++) {
			p.b[2 * i] = '*';
			p.b[2 * i + 1] = 'x';
		}
		bad += compare(c, &p, &ks, 0);
		/* The server must say something both ways, or this test
		 * proves nothing about the limit. */
		cr_assert_eq(ks.seen[k - 999], k <= MT_REDIS_GLOB_MAX_NESTING,
			     "server on %zu stars", k);
	}
	cr_assert_eq(bad, 0, "%zu mismatches (see stderr)", bad);
	redisFree(c);
	mt_test_redis_stop(&s);
	free(ks.seen);
	free(ks.k);
}
