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

static int by_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The contents of a key in a canonical text: its type, then its
 * elements (members, field/value pairs, entries, scores) sorted where
 * Redis keeps no order. A hash table (a set, a large hash) is restored
 * with the same contents but may DUMP its members in another order, so
 * contents, not payload bytes, are compared. */
static char *contents(redisContext *c, const redisReply *key)
{
	redisReply *t = mt_test_redis_cmd(c, "TYPE %b", key->str, key->len);
	static const struct {
		const char *type, *cmd;
		int sort;
	} how[] = {{"string", "GET %b", 0},
		   {"list", "LRANGE %b 0 -1", 0},
		   {"set", "SMEMBERS %b", 1},
		   {"hash", "HGETALL %b", 2},
		   {"zset", "ZRANGE %b 0 -1 WITHSCORES", 0},
		   {"stream", "XRANGE %b - +", 0}};
	size_t k = 0;
	while (k < 6 && strcmp(how[k].type, t->str) != 0)
		k++;
	cr_assert_lt(k, 6, "type %s", t->str);
	redisReply *v = mt_test_redis_cmd(c, how[k].cmd, key->str, key->len);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	fprintf(f, "%s:", t->str);
	if (v->type == REDIS_REPLY_STRING) {
		fwrite(v->str, 1, v->len, f);
	} else {
		size_t step = how[k].sort == 2 ? 2 : 1;
		char **el = calloc(v->elements + 1, sizeof *el);
		size_t n = 0;
		for (size_t i = 0; i < v->elements; i += step, n++) {
			const redisReply *e = v->element[i];
			if (e->type == REDIS_REPLY_ARRAY) /* a stream entry */
				cr_assert_gt(asprintf(&el[n], "%s(%zu)",
						      e->element[0]->str,
						      e->element[1]->elements),
					     0);
			else if (step == 2)
				cr_assert_gt(asprintf(&el[n], "%s=%s", e->str,
						      v->element[i + 1]->str),
					     0);
			else
				el[n] = strndup(e->str, e->len);
		}
		if (how[k].sort)
			qsort(el, n, sizeof *el, by_text);
		for (size_t i = 0; i < n; i++) {
			fprintf(f, "%s|", el[i]);
			free(el[i]);
		}
		free(el);
	}
	fclose(f);
	freeReplyObject(t);
	freeReplyObject(v);
	return text;
}

/* Each key of `from` has the same type, contents and (within the time
 * passed) TTL in `to`; strings byte for byte. */
static void assert_same_keys(redisContext *from, redisContext *to)
{
	redisReply *keys = mt_test_redis_cmd(from, "KEYS *");
	cr_assert_eq(mt_test_redis_int(to, "DBSIZE"),
		     (long long)keys->elements);
	for (size_t i = 0; i < keys->elements; i++) {
		const redisReply *k = keys->element[i];
		char *a = contents(from, k), *b = contents(to, k);
		cr_assert_str_eq(a, b, "key %s", k->str);
		free(a);
		free(b);
		long long ta =
			mt_test_redis_int(from, "PTTL %b", k->str, k->len);
		long long tb = mt_test_redis_int(to, "PTTL %b", k->str, k->len);
		if (ta == -1)
			cr_assert_eq(tb, -1, "%s", k->str);
		else
			cr_assert(tb > 0 && tb <= ta + 1000, "%s %lld %lld",
				  k->str, ta, tb);
	}
	freeReplyObject(keys);
}

/* The string lines of a dump with px= values removed, sorted: comparable
 * across two dumps taken at different times and in different SCAN orders.
 * type=dump lines are left out: a hash table's payload may list its
 * members in another order after a round trip (contents() compares). */
static char *normalised(const char *dump, size_t len)
{
	size_t n = 0, cap = 64;
	char **lines = malloc(cap * sizeof *lines);
	for (const char *p = dump; p < dump + len;) {
		const char *nl = memchr(p, '\n', (size_t)(dump + len - p));
		cr_assert_not_null(nl, "a line without LF");
		char *l = strndup(p, (size_t)(nl - p));
		if (strstr(l, "\ttype=dump") != NULL) {
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
	qsort(lines, n, sizeof *lines, by_text);
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
