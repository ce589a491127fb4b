/*
 * redis/cli/dump.c: `mtredis dump [--uri URI] PATTERN...`.
 *
 * Overview
 * ========
 * Collects the keys matching any PATTERN with mt_redis_scan (one walk of
 * the keyspace, merged, de-duplicated), then reads them in parallel
 * pipelines, in groups of GROUP_KEYS, and writes one line per key in the
 * format of line.h, so that `mtredis load` restores every key byte for
 * byte, with its type and TTL:
 *   - strings as their value (readable, escaped);
 *   - every other type (hash, list, set, sorted set, stream) as its DUMP
 *     payload with type=dump, which RESTORE recreates exactly;
 *   - px= the remaining TTL in milliseconds, when the key has one.
 * A key deleted between the walk and the read is skipped.
 *
 * Reads per key: one item per chunk of CHUNK_KEYS keys carries
 * "MGET k1..kN", plus "PTTL k" for each key when the database holds keys
 * with an expiry (INFO keyspace "expires=" above 0; most datasets have
 * none, and the PTTLs would double the server's work); every key MGET
 * answers nil for (not a string) then costs one more item "DUMP k",
 * "PTTL k". Measured on this machine (docs/mtredis.md), a Lua script
 * doing TYPE + PTTL + GET/DUMP per key on the server ran at 0.21M keys/s
 * against 0.91M for MGET and 0.48M for MGET + PTTL on one connection: Lua
 * costs more per key than the round trips it saves.
 *
 * Threads: a fetcher thread reads group g+1 (both phases) while the main
 * thread formats and writes group g; two group slots alternate, so the
 * pool's connections never wait for the output and the output never
 * waits for a whole group's round trips.
 *
 * Output and signals: lines are written in whole buffers that end on a
 * line boundary; a SIGINT/SIGTERM that arrives outside write(2) exits at
 * once (130/143), one that arrives during a write lets it finish first,
 * so standard output always ends on a whole line. SIGPIPE (the reader
 * went away, `dump | head`) keeps its default: the process ends, as any
 * Unix filter does.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "line.h"
#include "progress.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Keys per MGET (and per item), and keys read per mt_redis_exec call:
 * 100 is where the multi-key gain levels off (NOTES: chunks of 10 get
 * most of it, 1,000 nothing more); a group of 64k keys keeps every
 * worker's pipeline full while bounding the replies held at once. */
#define CHUNK_KEYS 100
#define GROUP_KEYS 65536
#define OUTBUF (1u << 20)
#define MAX_REPORTED 100

static const char help[] =
	"usage: mtredis dump [--uri URI] [OPTIONS] PATTERN...\n"
	"\n"
	"Writes every key matching any PATTERN (Redis glob: * ? [abc] [^a]\n"
	"[a-z] \\x), of any type, with its TTL, to standard output in the\n"
	"load format, one line per key:\n"
	"  key<TAB>value[<TAB>px=MS][<TAB>type=dump]\n"
	"Strings are written as their value; hashes, lists, sets, sorted\n"
	"sets and streams as DUMP payloads (type=dump), which need a server\n"
	"of the same or a newer RDB version to load. Every byte outside\n"
	"printable ASCII is escaped (\\t \\n \\r \\\\ \\xHH), so\n"
	"`mtredis dump ... | mtredis load` round-trips byte for byte.\n"
	"The keys are collected with one SCAN walk for all patterns.\n"
	"\n"
	"Options:\n"
	"  --uri URI        server (default $REDIS_URL, else " CLI_DEFAULT_URI
	")\n"
	"  --timeout MS     command timeout in milliseconds (default 5000)\n"
	"  -q, --quiet      no summary line on stderr\n"
	"  -h, --help       this text\n"
	"\n"
	"Exit status: 0 every key written, 1 some key could not be read or\n"
	"the walk failed, 2 usage error, 130 interrupted (the output still\n"
	"ends on a whole line).\n";

/* Legend: main thread only, except `writing` which the signal handler
 * (also on the main thread) reads. */
struct out {
	char *buf;
	size_t len;
	int failed; /* write(2) failed: stop */
};

static volatile sig_atomic_t writing, interrupted;

static void on_signal(int sig)
{
	if (!writing)
		cli_exit_now(128 + sig); /* no partial line can be on stdout */
	interrupted = sig;
}

/* Writes out->buf whole (a write cut short by a signal is resumed), then
 * exits if a signal came meanwhile. */
static void flush(struct out *o)
{
	size_t at = 0;
	writing = 1;
	while (at < o->len && !o->failed) {
		ssize_t n = write(STDOUT_FILENO, o->buf + at, o->len - at);
		if (n > 0)
			at += (size_t)n;
		else if (n < 0 && errno != EINTR)
			o->failed = errno;
	}
	writing = 0;
	o->len = 0;
	if (interrupted)
		cli_exit_now(128 + interrupted);
}

/* Appends one line, flushing first when it would not fit. A line larger
 * than the buffer gets a buffer of its own. */
static void emit(struct out *o, const mt_redis_bytes *k, const void *v,
		 size_t vlen, int64_t px, enum line_kind kind)
{
	size_t need = LINE_FORMAT_MAX(k->len, vlen);
	if (o->len + need > OUTBUF)
		flush(o);
	if (need <= OUTBUF) {
		o->len += line_format(o->buf + o->len, k->data, k->len, v, vlen,
				      px, kind);
		return;
	}
	struct out big = {.buf = malloc(need)};
	if (big.buf == NULL) {
		o->failed = ENOMEM;
		return;
	}
	big.len = line_format(big.buf, k->data, k->len, v, vlen, px, kind);
	flush(&big);
	o->failed = big.failed;
	free(big.buf);
}

/* Legend: main thread only. */
/* One group of keys, read by the fetcher and written by the main thread.
 * Legend: owned by the fetcher until published (ready = 1 under
 * dumper.lock), then by the main thread until it gives it back. */
struct group {
	size_t lo, hi;	   /* keys[lo, hi) */
	mt_redis_batch *a; /* phase A: one result per chunk of CHUNK_KEYS */
	mt_redis_batch *b; /* phase B: one result per later key */
	int err_a, err_b;  /* a call refused as a whole (ENOMEM, ...) */
	size_t *later;	   /* keys MGET answered nil for: DUMP them */
	size_t nlater;
	int ready;
};

/* Legend: I set before the fetcher starts; M under `lock`; F fetcher
 * thread only; W main (writing) thread only. */
struct dumper {
	struct cli_opts *o;	   /* I */
	mt_redis *r;		   /* I */
	const mt_redis_keys *keys; /* I */
	int with_ttl;		   /* I: read PTTLs: some key has an expiry */
	/* I: keys per MGET: CHUNK_KEYS, or 1 on a cluster, where the keys
	 * found are in every slot and one MGET must stay in one. */
	size_t chunk;
	struct out out;			/* W */
	struct progress prog;		/* counters atomic */
	uint64_t written, failed, gone; /* W */
	struct group slot[2];		/* M: ready; else per the legend */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop; /* M: the writer gave up (output failed) */
	/* F: scratch for building one group's items, reused. */
	mt_redis_item *items;
	mt_redis_cmd *cmds;
	mt_redis_bytes *argv;
};

#define BYTES(lit) ((mt_redis_bytes){lit, sizeof lit - 1})

/* "key <escaped, cut>: not read: why" for the first MAX_REPORTED. */
static void report_key(struct dumper *d, const mt_redis_bytes *k,
		       const char *why)
{
	char esc[4 * 48 + 1];
	size_t n = line_escape(esc, k->data, k->len < 48 ? k->len : 48);
	esc[n] = '\0';
	if (d->failed++ < MAX_REPORTED)
		fprintf(stderr, "%smtredis dump: key %s%s: not read: %s\n",
			d->o->draw ? "\r\033[K" : "", esc,
			k->len > 48 ? "..." : "", why ? why : "unknown");
}

/* 1 when INFO keyspace shows a key with an expiry in any database (or
 * cannot be read: then PTTLs are read, to be safe). */
static int any_expiry(mt_redis *r)
{
	mt_redis_bytes argv[] = {BYTES("INFO"), BYTES("keyspace")};
	mt_redis_cmd cmd = {.argc = 2, .argv = argv};
	mt_redis_item item = {
		.cmds = &cmd, .ncmds = 1, .flags = MT_REDIS_IDEMPOTENT};
	mt_redis_batch *b = NULL;
	int any = 1;
	if (mt_redis_exec(r, &item, 1, &b) == 0 && b->done == 1 &&
	    b->results[0].reply->type == REDIS_REPLY_STRING) {
		any = 0;
		const char *s = b->results[0].reply->str;
		while ((s = strstr(s, "expires=")) != NULL) {
			s += 8;
			any |= *s != '0';
		}
	}
	mt_redis_batch_free(b);
	return any;
}

static int alloc_scratch(struct dumper *d)
{
	size_t chunks = GROUP_KEYS / d->chunk + 1;
	/* Phase A: per chunk MGET + keys, PTTL pairs; phase B: 4 per key. */
	size_t nargv = 4 * (size_t)GROUP_KEYS + chunks;
	d->items = malloc(GROUP_KEYS * sizeof *d->items);
	d->cmds = malloc(2 * (size_t)GROUP_KEYS * sizeof *d->cmds +
			 chunks * sizeof *d->cmds);
	d->argv = malloc(nargv * sizeof *d->argv);
	d->slot[0].later = malloc(GROUP_KEYS * sizeof(size_t));
	d->slot[1].later = malloc(GROUP_KEYS * sizeof(size_t));
	return d->items && d->cmds && d->argv && d->slot[0].later &&
			       d->slot[1].later ?
		       0 :
		       ENOMEM;
}

static void free_scratch(struct dumper *d)
{
	free(d->items);
	free(d->cmds);
	free(d->argv);
	free(d->slot[0].later);
	free(d->slot[1].later);
}

/* ------------------------------------------------- fetcher thread */

/* Builds one phase-A item for keys[lo, hi): MGET, then PTTL per key. */
static void build_chunk(struct dumper *d, size_t lo, size_t hi,
			mt_redis_item *item, mt_redis_cmd **cmd,
			mt_redis_bytes **arg)
{
	const mt_redis_bytes *keys = d->keys->keys;
	mt_redis_cmd *c0 = *cmd;
	mt_redis_bytes *a = *arg;
	*c0 = (mt_redis_cmd){.argc = (int)(hi - lo + 1), .argv = a};
	*a++ = BYTES("MGET");
	for (size_t i = lo; i < hi; i++)
		*a++ = keys[i];
	mt_redis_cmd *c = c0 + 1;
	for (size_t i = lo; d->with_ttl && i < hi; i++, c++) {
		*c = (mt_redis_cmd){.argc = 2, .argv = a};
		*a++ = BYTES("PTTL");
		*a++ = keys[i];
	}
	*item = (mt_redis_item){.cmds = c0,
				.ncmds = (size_t)(c - c0),
				.flags = MT_REDIS_IDEMPOTENT};
	*cmd = c;
	*arg = a;
}

static size_t chunk_end(const struct dumper *d, size_t at, size_t hi)
{
	return at + d->chunk < hi ? at + d->chunk : hi;
}

/* The MGET reply of chunk i of g, or NULL when the chunk failed. */
static const redisReply *chunk_values(const struct dumper *d,
				      const struct group *g, size_t i)
{
	const mt_redis_result *res = &g->a->results[i];
	size_t lo = g->lo + i * d->chunk;
	const redisReply *v = res->status == MT_REDIS_DONE ? res->replies[0] :
							     NULL;
	return v && v->type == REDIS_REPLY_ARRAY &&
			       v->elements == chunk_end(d, lo, g->hi) - lo ?
		       v :
		       NULL;
}

/* Phase A: MGET (+ PTTL) chunks; the keys that are not strings are
 * noted for phase B. */
static void phase_a(struct dumper *d, struct group *g)
{
	mt_redis_cmd *c = d->cmds;
	mt_redis_bytes *a = d->argv;
	size_t n = 0;
	for (size_t at = g->lo; at < g->hi; at += d->chunk, n++)
		build_chunk(d, at, chunk_end(d, at, g->hi), &d->items[n], &c,
			    &a);
	g->err_a = mt_redis_exec(d->r, d->items, n, &g->a);
	for (size_t i = 0; g->err_a == 0 && i < n; i++) {
		const redisReply *v = chunk_values(d, g, i);
		for (size_t k = 0; v != NULL && k < v->elements; k++)
			if (v->element[k]->type != REDIS_REPLY_STRING)
				g->later[g->nlater++] =
					g->lo + i * d->chunk + k;
	}
}

/* Phase B: DUMP and PTTL of each key MGET answered nil for. */
static void phase_b(struct dumper *d, struct group *g)
{
	const mt_redis_bytes *keys = d->keys->keys;
	for (size_t i = 0; i < g->nlater; i++) {
		mt_redis_bytes *a = &d->argv[4 * i];
		a[0] = BYTES("DUMP");
		a[1] = a[3] = keys[g->later[i]];
		a[2] = BYTES("PTTL");
		d->cmds[2 * i] = (mt_redis_cmd){.argc = 2, .argv = a};
		d->cmds[2 * i + 1] = (mt_redis_cmd){.argc = 2, .argv = a + 2};
		d->items[i] = (mt_redis_item){.cmds = &d->cmds[2 * i],
					      .ncmds = 2,
					      .flags = MT_REDIS_IDEMPOTENT};
	}
	g->err_b = mt_redis_exec(d->r, d->items, g->nlater, &g->b);
}

/* Waits for slot i to be free; 0 when the writer stopped. */
static int claim(struct dumper *d, struct group *g)
{
	pthread_mutex_lock(&d->lock);
	while (g->ready && !d->stop)
		pthread_cond_wait(&d->cond, &d->lock);
	int go = !d->stop;
	pthread_mutex_unlock(&d->lock);
	return go;
}

static void publish(struct dumper *d, struct group *g)
{
	pthread_mutex_lock(&d->lock);
	g->ready = 1;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

/* Reads group after group into the two slots, alternately, while the
 * main thread writes the previous one. */
static void *fetcher(void *arg)
{
	struct dumper *d = arg;
	size_t n = d->keys->n;
	for (size_t lo = 0, k = 0; lo < n; lo += GROUP_KEYS, k++) {
		struct group *g = &d->slot[k % 2];
		if (!claim(d, g))
			break;
		/* Field by field: `ready` is the lock's (claim saw it 0). */
		g->lo = lo;
		g->hi = lo + GROUP_KEYS < n ? lo + GROUP_KEYS : n;
		g->a = g->b = NULL;
		g->err_a = g->err_b = 0;
		g->nlater = 0;
		phase_a(d, g);
		if (g->nlater > 0)
			phase_b(d, g);
		publish(d, g);
	}
	return NULL;
}

/* ---------------------------------------------------- main thread */

/* The TTL to write from a PTTL reply: 0 none; -1 the key is gone. */
static int64_t ttl_of(const redisReply *p)
{
	if (p == NULL || p->type != REDIS_REPLY_INTEGER || p->integer == -1)
		return 0;
	if (p->integer == -2)
		return -1;
	return p->integer > 0 ? p->integer : 1; /* 0 ms left: keep 1 */
}

/* Writes the strings of chunk i of g (the others are phase B's). */
static void emit_chunk(struct dumper *d, const struct group *g, size_t i)
{
	const mt_redis_bytes *keys = d->keys->keys;
	const mt_redis_result *res = &g->a->results[i];
	const redisReply *mget = chunk_values(d, g, i);
	size_t lo = g->lo + i * d->chunk, hi = chunk_end(d, lo, g->hi);
	for (size_t k = lo; k < hi; k++) {
		const redisReply *v = mget ? mget->element[k - lo] : NULL;
		if (v == NULL) {
			report_key(d, &keys[k], res->error);
			continue;
		}
		if (v->type != REDIS_REPLY_STRING)
			continue; /* phase B's */
		int64_t px = d->with_ttl ? ttl_of(res->replies[1 + k - lo]) : 0;
		if (px < 0) {
			d->gone++; /* expired or deleted since the MGET */
			continue;
		}
		emit(&d->out, &keys[k], v->str, v->len, px, LINE_STRING);
		d->written++;
	}
}

/* Writes key k from its phase-B result: DUMP payload and TTL. */
static void emit_dumped(struct dumper *d, const mt_redis_result *res, size_t k)
{
	const mt_redis_bytes *key = &d->keys->keys[k];
	if (res->status != MT_REDIS_DONE || res->nreplies != 2) {
		report_key(d, key, res->error);
		return;
	}
	const redisReply *payload = res->replies[0];
	int64_t px = ttl_of(res->replies[1]);
	if (payload->type != REDIS_REPLY_STRING || px < 0) {
		d->gone++; /* deleted or expired since the walk */
		return;
	}
	emit(&d->out, key, payload->str, payload->len, px, LINE_DUMP);
	d->written++;
}

/* Writes one group, or reports its keys when a call was refused. */
static void emit_group(struct dumper *d, const struct group *g)
{
	const mt_redis_bytes *keys = d->keys->keys;
	for (size_t k = g->lo; g->err_a != 0 && k < g->hi; k++)
		report_key(d, &keys[k], strerror(g->err_a));
	for (size_t at = g->lo, i = 0; g->err_a == 0 && at < g->hi;
	     at += d->chunk, i++)
		emit_chunk(d, g, i);
	for (size_t i = 0; i < g->nlater; i++)
		if (g->err_b != 0)
			report_key(d, &keys[g->later[i]], strerror(g->err_b));
		else
			emit_dumped(d, &g->b->results[i], g->later[i]);
	progress_add(&d->prog, g->hi - g->lo, g->hi - g->lo);
}

/* Takes each group in turn as the fetcher publishes it, writes it, and
 * gives the slot back. Stops the fetcher when the output fails. */
static void write_groups(struct dumper *d)
{
	size_t n = d->keys->n;
	for (size_t lo = 0, k = 0; lo < n && !d->out.failed;
	     lo += GROUP_KEYS, k++) {
		struct group *g = &d->slot[k % 2];
		pthread_mutex_lock(&d->lock);
		while (!g->ready)
			pthread_cond_wait(&d->cond, &d->lock);
		pthread_mutex_unlock(&d->lock);
		emit_group(d, g);
		mt_redis_batch_free(g->a);
		mt_redis_batch_free(g->b);
		pthread_mutex_lock(&d->lock);
		g->ready = 0;
		d->stop = d->out.failed != 0;
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->lock);
	}
}

/* Runs the fetcher beside write_groups (signals blocked in it: they are
 * the main thread's, see cli.h). Returns 0 or pthread_create's error. */
static int read_and_write(struct dumper *d)
{
	pthread_t t;
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	int err = pthread_create(&t, NULL, fetcher, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err != 0)
		return err;
	write_groups(d);
	pthread_mutex_lock(&d->lock);
	d->stop = 1; /* the writer is done: a fetcher still at work stops */
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	pthread_join(t, NULL);
	for (int i = 0; i < 2; i++) /* groups read but never written */
		if (d->slot[i].ready) {
			mt_redis_batch_free(d->slot[i].a);
			mt_redis_batch_free(d->slot[i].b);
		}
	return 0;
}

static int parse_args(struct cli_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{0, 0, 0, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
		int rc = cli_common_option(o, c, optarg, argv);
		if (rc < 0)
			return -rc;
		if (c == 'h') {
			fputs(help, stdout);
			return -1;
		}
	}
	if (optind >= argc)
		return cli_usage(o->cmd, "no PATTERN given ('*' for every "
					 "key)");
	return 0;
}

static int summary(struct dumper *d, double secs, int scan_err)
{
	char n[32];
	if (d->out.failed != 0)
		cli_error(d->o->cmd, "writing the output: %s",
			  strerror(d->out.failed));
	if (d->failed > 0)
		cli_error(d->o->cmd, "%llu keys could not be read",
			  (unsigned long long)d->failed);
	if (!d->o->quiet && scan_err == 0)
		cli_error(d->o->cmd, "%s keys written in %.2f s (%.0f keys/s)",
			  progress_group(n, d->written), secs,
			  secs > 0 ? (double)d->written / secs : 0.0);
	return d->failed > 0 || d->out.failed || scan_err ? CLI_FAILED : CLI_OK;
}

/* Walks the keyspace, then reads and writes the keys group by group. */
static int run(struct dumper *d, char **patterns, size_t npatterns)
{
	mt_redis_keys *keys = NULL;
	progress_start(&d->prog, "dump", "keys", 0, d->o->draw);
	cli_signals_unblock();
	int err = mt_redis_scan(d->r, (const char *const *)patterns, npatterns,
				NULL, &keys);
	if (err != 0) {
		progress_stop(&d->prog);
		cli_error(d->o->cmd, "collecting the keys: %s", strerror(err));
		return summary(d, 0, err);
	}
	d->keys = keys;
	progress_total(&d->prog, keys->n);
	/* On a cluster INFO answers for one master only: read every TTL. */
	d->with_ttl = keys->n > 0 && (d->chunk == 1 || any_expiry(d->r));
	err = keys->n > 0 ? read_and_write(d) : 0;
	if (err != 0)
		cli_error(d->o->cmd, "cannot start a thread: %s",
			  strerror(err));
	flush(&d->out);
	double secs = progress_stop(&d->prog);
	mt_redis_keys_free(keys);
	return summary(d, secs, err);
}

int cli_dump(int argc, char **argv)
{
	struct cli_opts o;
	struct dumper d = {0};
	cli_opts_init(&o, "dump");
	/* Lines written to the same terminal would be torn by redraws. */
	o.draw = o.draw && !isatty(STDOUT_FILENO);
	int rc = parse_args(&o, argc, argv);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	d.o = &o;
	d.chunk = strncmp(o.uri, "redis-cluster://", 16) == 0 ? 1 : CHUNK_KEYS;
	d.out.buf = malloc(OUTBUF);
	if (d.out.buf == NULL || alloc_scratch(&d) != 0) {
		cli_error(o.cmd, "out of memory");
		rc = CLI_FAILED;
		goto out;
	}
	if (pthread_mutex_init(&d.lock, NULL) != 0 ||
	    pthread_cond_init(&d.cond, NULL) != 0) {
		cli_error(o.cmd, "cannot make a lock");
		rc = CLI_FAILED;
		goto out;
	}
	cli_signals_install(on_signal);
	rc = cli_open(&o, &d.r);
	if (rc == CLI_OK)
		rc = run(&d, argv + optind, (size_t)(argc - optind));
	cli_close(&o, d.r);
	pthread_cond_destroy(&d.cond);
	pthread_mutex_destroy(&d.lock);
out:
	free_scratch(&d);
	free(d.out.buf);
	return rc;
}
