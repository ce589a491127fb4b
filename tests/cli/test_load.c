/*
 * tests/cli/test_load.c: `mtredis load` against real servers: what is
 * stored (escapes, attributes, TTLs, RESTORE), how bad lines and refused
 * keys are reported (FILE:LINE, counted, the load goes on, exit 1), a
 * server killed mid-load (exit 1 within the timeout, never a hang) and
 * restarted (the next load works), and Ctrl-C (exit 130 with what was
 * stored and from which line nothing was read).
 */
#define _GNU_SOURCE
#include "cli_test.h"
#include "line.h"

#include <poll.h>

static void start(struct mt_test_redis *s, redisContext **adm)
{
	mt_test_redis_start(s, NULL);
	*adm = mt_test_redis_admin(s);
}

static void stop(struct mt_test_redis *s, redisContext *adm)
{
	redisFree(adm);
	mt_test_redis_stop(s);
}

/* GET key (binary-safe) must be exactly want[0..len). */
static void assert_value(redisContext *c, const char *key, size_t klen,
			 const char *want, size_t len)
{
	redisReply *v = redisCommand(c, "GET %b", key, klen);
	cr_assert_not_null(v);
	cr_assert_eq(v->type, REDIS_REPLY_STRING, "key %.*s", (int)klen, key);
	cr_assert_eq(v->len, len);
	cr_assert_eq(memcmp(v->str, want, len), 0);
	freeReplyObject(v);
}

Test(load, plain_lines_from_stdin_are_stored_as_strings, .timeout = 60)
{
	struct mt_test_redis s;
	redisContext *adm;
	start(&s, &adm);
	const char in[] = "user:1\tAda Lovelace\nuser:2\tAlan Turing\n\n"
			  "empty\t\nlast\tno newline";
	struct run r;
	mtredis_run(&r, in, sizeof in - 1, "load", "--uri", s.tcp_uri);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "4 keys stored"), "%s", r.err);
	assert_value(adm, "user:1", 6, "Ada Lovelace", 12);
	assert_value(adm, "user:2", 6, "Alan Turing", 11);
	assert_value(adm, "empty", 5, "", 0);
	assert_value(adm, "last", 4, "no newline", 10);
	cr_assert_eq(mt_test_redis_int(adm, "DBSIZE"), 4);
	run_free(&r);
	stop(&s, adm);
}

Test(load, escapes_give_binary_keys_and_values, .timeout = 60)
{
	struct mt_test_redis s;
	redisContext *adm;
	start(&s, &adm);
	const char in[] = "bin\\x00\\tkey\\n\tv\\r\\n\\\\\\xff\\x80\n"
			  "raw\xc3\xa9\t\x01\r\xfe\n";
	struct run r;
	mtredis_run(&r, in, sizeof in - 1, "load", "-q", "--uri", s.unix_uri);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(r.errlen, 0, "-q: %s", r.err);
	assert_value(adm, "bin\0\tkey\n", 9, "v\r\n\\\xff\x80", 6);
	assert_value(adm, "raw\xc3\xa9", 5, "\x01\r\xfe", 3);
	run_free(&r);
	stop(&s, adm);
}

Test(load, ttl_option_and_px_attribute_set_expiries, .timeout = 60)
{
	struct mt_test_redis s;
	redisContext *adm;
	start(&s, &adm);
	const char in[] = "a\t1\nb\t2\tpx=5000000\n";
	struct run r;
	mtredis_run(&r, in, sizeof in - 1, "load", "--ttl", "100", "--uri",
		    s.tcp_uri);
	cr_assert_eq(r.status, 0, "%s", r.err);
	long long a = mt_test_redis_int(adm, "PTTL a");
	long long b = mt_test_redis_int(adm, "PTTL b");
	cr_assert(a > 90000 && a <= 100000, "PTTL a %lld", a);
	cr_assert(b > 4900000 && b <= 5000000, "PTTL b %lld", b);
	run_free(&r);
	/* Without --ttl a plain line has no expiry. */
	mtredis_run(&r, "c\t3\n", 4, "load", "--uri", s.tcp_uri);
	cr_assert_eq(mt_test_redis_int(adm, "PTTL c"), -1);
	run_free(&r);
	stop(&s, adm);
}

/* A DUMP payload of a hash, escaped into a load line by line_format. */
static char *dumped_hash_line(redisContext *adm, const char *name, int64_t px,
			      size_t *len)
{
	mt_test_redis_ok(adm, "HSET src f1 v1 f2 v2");
	redisReply *p = mt_test_redis_cmd(adm, "DUMP src");
	cr_assert_eq(p->type, REDIS_REPLY_STRING);
	char *line = malloc(LINE_FORMAT_MAX(strlen(name), p->len));
	*len = line_format(line, name, strlen(name), p->str, p->len, px,
			   LINE_DUMP);
	freeReplyObject(p);
	mt_test_redis_ok(adm, "DEL src");
	return line;
}

Test(load, type_dump_lines_are_restored_with_replace, .timeout = 60)
{
	struct mt_test_redis s;
	redisContext *adm;
	start(&s, &adm);
	size_t len;
	char *line = dumped_hash_line(adm, "h", 600000, &len);
	mt_test_redis_ok(adm, "SET h old-string"); /* REPLACE overwrites */
	struct run r;
	mtredis_run(&r, line, len, "load", "--uri", s.tcp_uri);
	cr_assert_eq(r.status, 0, "%s", r.err);
	redisReply *v = mt_test_redis_cmd(adm, "HGET h f2");
	cr_assert_str_eq(v->str, "v2");
	freeReplyObject(v);
	long long ttl = mt_test_redis_int(adm, "PTTL h");
	cr_assert(ttl > 500000 && ttl <= 600000, "%lld", ttl);
	free(line);
	run_free(&r);
	stop(&s, adm);
}

Test(load, bad_lines_are_reported_by_file_and_line_and_the_rest_loads,
     .timeout = 60)
{
	struct mt_test_redis s;
	redisContext *adm;
	start(&s, &adm);
	const char in[] = "good1\tv\nbad\\q\tv\nno tab\ngood2\tv\n"
			  "k\tv\tpx=0\ngood3\tv\n";
	char *path = cli_temp_file(in, sizeof in - 1);
	struct run r;
	mtredis_run(&r, NULL, 0, "load", "--uri", s.tcp_uri, path);
	cr_assert_eq(r.status, 1, "%s", r.err);
	char want[600];
	snprintf(want, sizeof want, "%s:2: rejected: bad escape in the key",
		 path);
	cr_assert_not_null(strstr(r.err, want), "%s", r.err);
	snprintf(want, sizeof want, "%s:3: rejected: no TAB", path);
	cr_assert_not_null(strstr(r.err, want), "%s", r.err);
	snprintf(want, sizeof want, "%s:5: rejected: bad attribute", path);
	cr_assert_not_null(strstr(r.err, want), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "3 lines rejected"), "%s", r.err);
	cr_assert_eq(mt_test_redis_int(adm, "DBSIZE"), 3);
	cr_assert_eq(mt_test_redis_int(adm, "EXISTS good1 good2 good3"), 3);
	unlink(path);
	free(path);
	run_free(&r);
	stop(&s, adm);
}

Test(load, keys_the_server_refuses_are_reported_with_their_line, .timeout = 60)
{
	struct mt_test_redis s;
	redisContext *adm;
	start(&s, &adm);
	/* Line 2 is a corrupt DUMP payload: RESTORE refuses it. */
	const char in[] = "a\t1\tpx=100000\nb\tnot-a-payload\ttype=dump\n"
			  "c\t3\tpx=100000\n";
	struct run r;
	mtredis_run(&r, in, sizeof in - 1, "load", "--uri", s.tcp_uri);
	cr_assert_eq(r.status, 1, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "<stdin>:2: not stored: ERR"), "%s",
			   r.err);
	cr_assert_not_null(strstr(r.err, "; 1 not stored"), "%s", r.err);
	cr_assert_eq(mt_test_redis_int(adm, "EXISTS a b c"), 2);
	run_free(&r);
	stop(&s, adm);
}

Test(load, several_files_keep_their_own_line_numbers, .timeout = 60)
{
	struct mt_test_redis s;
	redisContext *adm;
	start(&s, &adm);
	char *f1 = cli_temp_file("a\t1\nb\t2\n", 8);
	char *f2 = cli_temp_file("c\t3\nbroken\n", 11);
	struct run r;
	mtredis_run(&r, "d\t4\n", 4, "load", "--uri", s.tcp_uri, f1, "-", f2,
		    "/nonexistent/file");
	cr_assert_eq(r.status, 1, "%s", r.err);
	char want[300];
	snprintf(want, sizeof want, "%s:2: rejected", f2);
	cr_assert_not_null(strstr(r.err, want), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "cannot open /nonexistent/file"));
	cr_assert_eq(mt_test_redis_int(adm, "EXISTS a b c d"), 4);
	unlink(f1);
	unlink(f2);
	free(f1);
	free(f2);
	run_free(&r);
	stop(&s, adm);
}

/* n lines "key:<i>\t<64 bytes>\n" into a new buffer. */
static char *lines(size_t n, size_t *len)
{
	char *buf = malloc(n * 90), *w = buf;
	cr_assert_not_null(buf);
	for (size_t i = 0; i < n; i++)
		w += sprintf(w, "key:%zu\t%064zu\n", i, i);
	*len = (size_t)(w - buf);
	return buf;
}

Test(load, a_large_input_is_stored_completely, .timeout = 120)
{
	struct mt_test_redis s;
	redisContext *adm;
	start(&s, &adm);
	size_t n = MT_TEST_SANITIZED ? 60000 : 300000, len;
	char *in = lines(n, &len);
	char *path = cli_temp_file(in, len);
	struct run r;
	mtredis_run(&r, NULL, 0, "load", "--uri", s.unix_uri, path);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(mt_test_redis_int(adm, "DBSIZE"), (long long)n);
	char v[80];
	snprintf(v, sizeof v, "%064zu", n - 1);
	char k[32];
	snprintf(k, sizeof k, "key:%zu", n - 1);
	assert_value(adm, k, strlen(k), v, 64);
	unlink(path);
	free(path);
	free(in);
	run_free(&r);
	stop(&s, adm);
}

/* Writes all of buf to fd (a pipe to mtredis's stdin). */
static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		cr_assert_gt(n, 0, "write: %s", strerror(errno));
		buf += n;
		len -= (size_t)n;
	}
}

static void wait_dbsize(redisContext *adm, long long n)
{
	while (mt_test_redis_int(adm, "DBSIZE") < n)
		cli_pause();
}

Test(load, server_killed_mid_load_exits_1_then_a_restart_loads_again,
     .timeout = 120)
{
	struct mt_test_redis s;
	redisContext *adm;
	start(&s, &adm);
	struct bg b;
	mtredis_spawn(&b, 1, NULL,
		      (const char *const[]){"load", "--uri", s.tcp_uri,
					    "--timeout", "2000", NULL});
	size_t len;
	char *first = lines(1000, &len);
	write_all(b.in, first, len);
	wait_dbsize(adm, 1000); /* stored: the load is mid-way */
	redisFree(adm);
	mt_test_redis_kill(&s);
	/* More input for a dead server: it must give up, not hang. */
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < 20 && write(b.in, first, len) > 0; i++)
		;
	char *err;
	int st = bg_wait(&b, &err);
	cr_assert_eq(st, 1, "status %d: %s", st, err);
	cr_assert_not_null(strstr(err, "giving up"), "%s", err);
	free(err);
	mt_test_redis_restart(&s);
	struct run r;
	mtredis_run(&r, first, len, "load", "--uri", s.tcp_uri);
	cr_assert_eq(r.status, 0, "%s", r.err);
	adm = mt_test_redis_admin(&s);
	cr_assert_eq(mt_test_redis_int(adm, "DBSIZE"), 1000);
	free(first);
	run_free(&r);
	stop(&s, adm);
}

Test(load, ctrl_c_stops_reading_and_reports_what_was_stored, .timeout = 120)
{
	struct mt_test_redis s;
	redisContext *adm;
	start(&s, &adm);
	struct bg b;
	mtredis_spawn(&b, 1, NULL,
		      (const char *const[]){"load", "--uri", s.tcp_uri, NULL});
	size_t len;
	char *first = lines(1000, &len);
	write_all(b.in, first, len);
	wait_dbsize(adm, 1000);
	/* It now waits in read(2) for more: Ctrl-C. */
	cr_assert_eq(kill(b.pid, SIGINT), 0);
	char *err;
	int st = bg_wait(&b, &err);
	cr_assert_eq(st, 130, "%s", err);
	cr_assert_not_null(strstr(err, "interrupted: 1,000 keys stored"), "%s",
			   err);
	cr_assert_not_null(strstr(err, "up to <stdin>:1000 "), "%s", err);
	cr_assert_eq(mt_test_redis_int(adm, "DBSIZE"), 1000);
	free(err);
	free(first);
	stop(&s, adm);
}

/* Polls a file until it contains `text`. */
static void wait_file(const char *path, const char *text)
{
	for (;;) {
		size_t len;
		char *s = cli_slurp(path, &len);
		int found = strstr(s, text) != NULL;
		free(s);
		if (found)
			return;
		cli_pause();
	}
}

Test(load, second_ctrl_c_exits_at_once_naming_the_unconfirmed_lines,
     .timeout = 120)
{
	struct mt_test_redis s;
	redisContext *adm;
	start(&s, &adm);
	/* Writes stall: the first batch stays in flight. */
	mt_test_redis_ok(adm, "CLIENT PAUSE 100000 WRITE");
	struct bg b;
	mtredis_spawn(&b, 1, NULL,
		      (const char *const[]){"load", "--uri", s.tcp_uri,
					    "--timeout", "100000", NULL});
	size_t len;
	char *first = lines(1000, &len);
	write_all(b.in, first, len);
	while (mt_test_redis_info(adm, "blocked_clients") < 1)
		cli_pause(); /* its MSETs wait on the pause */
	cr_assert_eq(kill(b.pid, SIGINT), 0);
	wait_file(b.errpath, "again to stop at once");
	cr_assert_eq(kill(b.pid, SIGINT), 0);
	char *err;
	int st = bg_wait(&b, &err);
	cr_assert_eq(st, 130, "%s", err);
	cr_assert_not_null(strstr(err, "lines from <stdin>:1 on may or may not "
				       "have been stored"),
			   "%s", err);
	mt_test_redis_ok(adm, "CLIENT UNPAUSE");
	free(err);
	free(first);
	stop(&s, adm);
}
