/*
 * tests/cli/test_dump.c: `mtredis dump` against real servers: dump | load
 * round-trips every data type with its TTL byte for byte (binary keys and
 * values included), patterns select exactly their keys among decoys and
 * each key once, and standard output ends on a whole line when Ctrl-C
 * arrives mid-write.
 */
#define _GNU_SOURCE
#include "cli_test.h"

#include <sys/ioctl.h>

/* Every type, TTLs on some, and binary keys and values. */
static void populate(redisContext *c)
{
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	const char bkey[] = "bin\0\r\n\t\\\xff key";
	redisReply *r = redisCommand(c, "SET %b %b", bkey, sizeof bkey - 1, all,
				     sizeof all);
	cr_assert(r && r->type == REDIS_REPLY_STATUS);
	freeReplyObject(r);
	mt_test_redis_ok(c, "SET plain hello");
	mt_test_redis_ok(c, "SET int 12345");
	mt_test_redis_ok(c, "SET ttl:str v PX 500000");
	mt_test_redis_ok(c, "HSET User:1 name Ada age 36");
	mt_test_redis_ok(c, "PEXPIRE User:1 600000");
	for (int i = 0; i < 200; i++) /* a hashtable-encoded hash */
		mt_test_redis_ok(c, "HSET big f%d %0100d", i, i);
	mt_test_redis_ok(c, "RPUSH list a b c");
	mt_test_redis_ok(c, "SADD set x y z");
	mt_test_redis_ok(c, "SADD $Class:User User:1");
	mt_test_redis_ok(c, "ZADD zset 1 a 2.5 b");
	mt_test_redis_ok(c, "XADD stream 1-1 f v");
	mt_test_redis_ok(c, "XADD stream 2-1 g w");
	mt_test_redis_ok(c, "PEXPIRE stream 700000");
}

/* A hashtable-encoded hash is restored with the same fields, but its
 * DUMP may list them in another order: compare the contents. */
static void assert_same_big_hash(redisContext *from, redisContext *to)
{
	cr_assert_eq(mt_test_redis_int(to, "HLEN big"), 200);
	for (int i = 0; i < 200; i += 37) {
		redisReply *a = mt_test_redis_cmd(from, "HGET big f%d", i);
		redisReply *b = mt_test_redis_cmd(to, "HGET big f%d", i);
		cr_assert_str_eq(a->str, b->str);
		freeReplyObject(a);
		freeReplyObject(b);
	}
	cr_assert_eq(mt_test_redis_int(to, "PTTL big"), -1);
}

/* Each key of `from` has the same type, DUMP payload and (within the
 * time passed) TTL in `to`. */
static void assert_same_keys(redisContext *from, redisContext *to)
{
	redisReply *keys = mt_test_redis_cmd(from, "KEYS *");
	cr_assert_eq(mt_test_redis_int(to, "DBSIZE"),
		     (long long)keys->elements);
	for (size_t i = 0; i < keys->elements; i++) {
		const redisReply *k = keys->element[i];
		if (strcmp(k->str, "big") == 0) {
			assert_same_big_hash(from, to);
			continue;
		}
		redisReply *a =
			mt_test_redis_cmd(from, "DUMP %b", k->str, k->len);
		redisReply *b =
			mt_test_redis_cmd(to, "DUMP %b", k->str, k->len);
		cr_assert_eq(b->type, REDIS_REPLY_STRING, "%s", k->str);
		cr_assert_eq(a->len, b->len, "%s", k->str);
		cr_assert_eq(memcmp(a->str, b->str, a->len), 0, "%s", k->str);
		long long ta =
			mt_test_redis_int(from, "PTTL %b", k->str, k->len);
		long long tb = mt_test_redis_int(to, "PTTL %b", k->str, k->len);
		if (ta == -1)
			cr_assert_eq(tb, -1, "%s", k->str);
		else
			cr_assert(tb > 0 && tb <= ta + 1000, "%s %lld %lld",
				  k->str, ta, tb);
		freeReplyObject(a);
		freeReplyObject(b);
	}
	freeReplyObject(keys);
}

/* The dump with px= values removed, its lines sorted: comparable across
 * two dumps taken at different times and in different SCAN orders. The
 * big hash's line is left out (its field order may differ). */
static char *normalised(const char *dump, size_t len)
{
	size_t n = 0, cap = 64;
	char **lines = malloc(cap * sizeof *lines);
	for (const char *p = dump; p < dump + len;) {
		const char *nl = memchr(p, '\n', (size_t)(dump + len - p));
		cr_assert_not_null(nl, "a line without LF");
		char *l = strndup(p, (size_t)(nl - p));
		if (strncmp(l, "big\t", 4) == 0) { /* see above */
			free(l);
			p = nl + 1;
			continue;
		}
		char *px = strstr(l, "\tpx=");
		if (px != NULL) {
			size_t skip = strcspn(px + 1, "\t") + 1;
			memmove(px, px + skip, strlen(px + skip) + 1);
		}
		if (n == cap)
			lines = realloc(lines, (cap *= 2) * sizeof *lines);
		lines[n++] = l;
		p = nl + 1;
	}
	qsort(lines, n, sizeof *lines,
	      (int (*)(const void *, const void *))strcmp);
	char *out = calloc(1, len + n + 1);
	for (size_t i = 0; i < n; i++) {
		strcat(strcat(out, lines[i]), "\n");
		free(lines[i]);
	}
	free(lines);
	return out;
}

Test(dump, dump_then_load_round_trips_every_type_with_ttls, .timeout = 120)
{
	struct mt_test_redis a, b;
	mt_test_redis_start(&a, NULL);
	mt_test_redis_start(&b, NULL);
	redisContext *ca = mt_test_redis_admin(&a);
	redisContext *cb = mt_test_redis_admin(&b);
	populate(ca);
	struct run d1, l, d2;
	mtredis_run(&d1, NULL, 0, "dump", "--uri", a.tcp_uri, "*");
	cr_assert_eq(d1.status, 0, "%s", d1.err);
	cr_assert_eq(cli_count(d1.out, "\n"), 11, "%s", d1.out);
	for (size_t i = 0; i < d1.outlen; i++) /* plain ASCII lines */
		cr_assert(d1.out[i] == '\t' || d1.out[i] == '\n' ||
				  (d1.out[i] >= 0x20 && d1.out[i] < 0x7f),
			  "byte %zu", i);
	mtredis_run(&l, d1.out, d1.outlen, "load", "--uri", b.unix_uri);
	cr_assert_eq(l.status, 0, "%s", l.err);
	assert_same_keys(ca, cb);
	mtredis_run(&d2, NULL, 0, "dump", "--uri", b.tcp_uri, "*");
	cr_assert_eq(d2.status, 0, "%s", d2.err);
	char *n1 = normalised(d1.out, d1.outlen);
	char *n2 = normalised(d2.out, d2.outlen);
	cr_assert_str_eq(n1, n2);
	free(n1);
	free(n2);
	run_free(&d1);
	run_free(&l);
	run_free(&d2);
	redisFree(ca);
	redisFree(cb);
	mt_test_redis_stop(&a);
	mt_test_redis_stop(&b);
}

Test(dump, strings_are_written_readably_and_other_types_as_payloads,
     .timeout = 60)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s, NULL);
	redisContext *c = mt_test_redis_admin(&s);
	mt_test_redis_ok(c, "SET greeting hello\tworld");
	mt_test_redis_ok(c, "RPUSH l x");
	struct run r;
	mtredis_run(&r, NULL, 0, "dump", "--uri", s.tcp_uri, "greeting", "l");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.out, "greeting\thello\\tworld\n"), "%s",
			   r.out);
	cr_assert_not_null(strstr(r.out, "\ttype=dump\n"), "%s", r.out);
	cr_assert_null(strstr(r.out, "px="), "no TTL: %s", r.out);
	run_free(&r);
	redisFree(c);
	mt_test_redis_stop(&s);
}

Test(dump, patterns_select_their_keys_once_among_decoys, .timeout = 60)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s, NULL);
	redisContext *c = mt_test_redis_admin(&s);
	const char *keys[] = {"user:1",	   "user:22", "users",	"xuser:1",
			      "session:a", "session", "sess:b", "session:ab"};
	for (size_t i = 0; i < 8; i++)
		mt_test_redis_ok(c, "SET %s v", keys[i]);
	struct run r;
	mtredis_run(&r, NULL, 0, "dump", "--uri", s.tcp_uri, "user:*",
		    "session:?", "user:1");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(cli_count(r.out, "\n"), 3, "%s", r.out);
	cr_assert_eq(cli_count(r.out, "user:1\tv\n"), 1, "%s", r.out);
	cr_assert_eq(cli_count(r.out, "user:22\tv\n"), 1, "%s", r.out);
	cr_assert_eq(cli_count(r.out, "session:a\tv\n"), 1, "%s", r.out);
	run_free(&r);
	mtredis_run(&r, NULL, 0, "dump", "--uri", s.tcp_uri, "nothing*");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(r.outlen, 0);
	run_free(&r);
	redisFree(c);
	mt_test_redis_stop(&s);
}

/* n string keys of 64-byte values, MSET in chunks. */
static void fill(redisContext *c, int n)
{
	for (int i = 0; i < n; i += 100) {
		for (int j = i; j < i + 100 && j < n; j++)
			redisAppendCommand(c, "SET key:%d %064d", j, j);
		for (int j = i; j < i + 100 && j < n; j++) {
			redisReply *r;
			cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
			freeReplyObject(r);
		}
	}
}

static size_t pipe_bytes(int fd)
{
	int n = 0;
	cr_assert_eq(ioctl(fd, FIONREAD, &n), 0);
	return (size_t)n;
}

Test(dump, ctrl_c_mid_write_still_ends_on_a_whole_line, .timeout = 120)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s, NULL);
	redisContext *c = mt_test_redis_admin(&s);
	fill(c, MT_TEST_SANITIZED ? 15000 : 30000);
	struct bg b;
	mtredis_spawn(&b, 0, NULL,
		      (const char *const[]){"dump", "--uri", s.tcp_uri, "*",
					    NULL});
	/* Output over a MiB, flushed a MiB at a time into a 64 KiB pipe
	 * nobody reads yet: once bytes are there, dump waits in write. */
	while (pipe_bytes(b.out) == 0)
		cli_pause();
	cr_assert_eq(kill(b.pid, SIGINT), 0);
	size_t len = 0, cap = 1 << 20;
	char *out = malloc(cap);
	ssize_t n;
	while ((n = read(b.out, out + len, cap - len)) > 0)
		if ((len += (size_t)n) == cap)
			out = realloc(out, cap *= 2);
	char *err;
	cr_assert_eq(bg_wait(&b, &err), 130, "%s", err);
	cr_assert_gt(len, 0);
	cr_assert_eq(out[len - 1], '\n', "output cut mid-line");
	free(out);
	free(err);
	redisFree(c);
	mt_test_redis_stop(&s);
}

Test(dump, a_reader_that_goes_away_ends_it_by_sigpipe, .timeout = 120)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s, NULL);
	redisContext *c = mt_test_redis_admin(&s);
	fill(c, 20000);
	struct bg b;
	mtredis_spawn(&b, 0, NULL,
		      (const char *const[]){"dump", "--uri", s.tcp_uri, "*",
					    NULL});
	char head[100];
	cr_assert_gt(read(b.out, head, sizeof head), 0);
	close(b.out); /* `| head -c 100` */
	b.out = open("/dev/null", O_RDONLY);
	char *err;
	cr_assert_eq(bg_wait(&b, &err), 128 + SIGPIPE, "%s", err);
	free(err);
	redisFree(c);
	mt_test_redis_stop(&s);
}
