/*
 * redis/cli/load.c: `mtredis load [--uri URI] [--ttl SECONDS] [FILE...|-]`.
 *
 * Overview
 * ========
 * Stores the lines of the files (standard input when none, or `-`) in the
 * format of line.h. The main thread reads and parses the input in
 * batches; a loader thread stores batch k with the bulk helpers while
 * batch k+1 is parsed (two batches alternate), so parsing never waits for
 * the server and the server never waits for parsing:
 *   - plain strings (no TTL): mt_redis_set without options, i.e. MSET
 *     chunks in parallel pipelines, the fastest form the server takes;
 *   - --ttl for lines without px=: mt_redis_set with ttl_ms (SET PX);
 *   - lines with px= or type=dump: one item each through mt_redis_exec,
 *     SET key value PX ms, or RESTORE key ttl payload REPLACE.
 * Every item is idempotent (retried once on a fresh connection by the
 * library). Each failure is mapped back to its FILE:LINE and reported.
 *
 * Faults: a rejected line (bad escape, ...) or an item the server
 * refuses is reported and counted and the load goes on; exit 1 at the
 * end. A batch of which nothing was stored while the connection failed
 * (the server is gone) ends the load: the rest of the input is not read,
 * and the message says from which line on.
 *
 * Interrupts: the first SIGINT/SIGTERM stops the reading; the batches in
 * flight finish (bounded by the library's timeouts), so every line read
 * has a definite, reported outcome; exit 130 (143 for SIGTERM). A second
 * signal exits at once, saying from which line on lines may or may not
 * have been stored.
 *
 * Implementation notes
 * ====================
 * Batches hold up to BATCH_BYTES of input or BATCH_LINES lines, decoded in
 * place (line.h); records point into the batch's buffer, so nothing is
 * copied between the read(2) and the library's writev. A batch never spans
 * two files, so one file name serves all its messages. The bytes after
 * the last whole line (or past the line cap) are carried into the next
 * batch.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "line.h"
#include "progress.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 4 MiB or 64k lines: about 50 ms of server work at 1M keys/s, large
 * enough that a batch's fixed costs (splitting into shares, waking the
 * workers) vanish, small enough that Ctrl-C and progress stay prompt. */
#define BATCH_BYTES (4u << 20)
#define BATCH_LINES 65536u
/* Individual failure messages shown; then only the counts. */
#define MAX_REPORTED 100

static const char help[] =
	"usage: mtredis load [--uri URI] [--ttl SECONDS] [OPTIONS] "
	"[FILE...|-]\n"
	"\n"
	"Stores the lines of the FILEs (standard input when none is given,\n"
	"or for -) in Redis, in parallel pipelines. A line is\n"
	"  key<TAB>value[<TAB>px=MS][<TAB>type=dump]\n"
	"with the escapes \\\\ \\t \\n \\r \\xHH in key and value; a plain\n"
	"line a person types is stored as a string. px= is a TTL in\n"
	"milliseconds; type=dump means the value is a DUMP payload (any\n"
	"type), restored with RESTORE ... REPLACE. `mtredis dump` writes\n"
	"this format. Empty lines are skipped.\n"
	"\n"
	"Options:\n"
	"  --uri URI        server (default $REDIS_URL, else " CLI_DEFAULT_URI
	")\n"
	"  --ttl SECONDS    expire the keys of lines without px= (1..2^31)\n"
	"  --timeout MS     command timeout in milliseconds (default 5000)\n"
	"  -q, --quiet      no summary line\n"
	"  -h, --help       this text\n"
	"\n"
	"A rejected line or a key the server refuses is reported as\n"
	"FILE:LINE and counted; the load goes on. Exit status: 0 all\n"
	"stored, 1 some lines failed, 2 usage error, 130 interrupted\n"
	"(Ctrl-C: the batches in flight finish, then what was stored is\n"
	"reported). A progress line is drawn when stderr is a terminal.\n";

/* A record that is not a plain MSET string: SET PX or RESTORE. */
struct xrec {
	mt_redis_bytes key, val;
	int64_t px;
	enum line_kind kind;
	uint64_t line;
};

/* Legend: a batch is owned by one thread at a time (the main thread while
 * filling, the loader while storing); hand-over is under loader.lock. */
struct batch {
	char *buf;
	size_t len, cap;
	mt_redis_bytes *keys, *vals; /* plain strings: MSET / SET PX */
	uint64_t *lines;	     /* line of keys[i] */
	size_t nplain;		     /* all arrays hold BATCH_LINES */
	struct xrec *x;		     /* SET PX / RESTORE items */
	size_t nx;
	unsigned file;			/* index into the input list */
	uint64_t first_line, last_line; /* lines read into this batch */
	uint64_t bytes;			/* input bytes it covers */
};

struct input {
	const char *name; /* as given; "-" shows as "<stdin>" */
	int fd;
	int eof;
	uint64_t line; /* lines read so far */
};

/* Legend: I set before the loader starts; M under `lock`; A atomic;
 * L loader thread only, read by main after the join. */
struct loader {
	struct cli_opts *o;
	mt_redis *r;
	int64_t ttl_ms;	      /* I: --ttl, 0 = none */
	struct input *in;     /* I: the inputs (names for messages) */
	struct progress prog; /* A (its counters) */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct batch *pending;	/* M: filled, waiting for the loader */
	struct batch *spare[2]; /* M: free batches */
	int closing;		/* M: no more batches will come */
	int busy;		/* M: the loader is storing a batch */
	int gave_up;		/* M: the server is gone: stop reading */
	mt_redis_item *items;	/* L: BATCH_LINES each, made on first use */
	mt_redis_cmd *cmds;
	mt_redis_bytes *argv;		  /* 5 per item */
	char (*px)[24];			  /* the TTL argument of each item */
	uint64_t stored, failed, unknown; /* L */
	_Atomic unsigned long reported;	  /* A: failures seen, for the cap */
	uint64_t rejected;		  /* main: lines the parser refused */
	uint64_t read_errors; /* main: files that could not be read */
};

/* The signal state. `confirmed` packs (file << 48 | line) of the last
 * line whose outcome is known: relaxed, since the handler only prints
 * it and no memory is published through it. */
static volatile sig_atomic_t interrupted;
static _Atomic uint64_t confirmed;
static struct input *signal_inputs;

static const char *input_name(const struct input *in)
{
	return strcmp(in->name, "-") == 0 ? "<stdin>" : in->name;
}

/* First signal: stop reading. Second: say what is unknown, exit now. */
static void on_signal(int sig)
{
	if (!interrupted) {
		interrupted = sig;
		return;
	}
	uint64_t c = atomic_load_explicit(&confirmed, memory_order_relaxed);
	cli_write_str("\nmtredis load: interrupted again: stopped at once; "
		      "lines from ");
	cli_write_str(input_name(&signal_inputs[c >> 48]));
	cli_write_str(":");
	cli_write_u64((c & ((UINT64_C(1) << 48) - 1)) + 1);
	cli_write_str(" on may or may not have been stored\n");
	cli_exit_now(128 + sig);
}

/* ---------------------------------------------------------- reporting */

/* One line's failure: "FILE:LINE: what: why", the first MAX_REPORTED. */
static void report(struct loader *L, unsigned file, uint64_t line,
		   const char *what, const char *why)
{
	/* relaxed: the main thread (rejected lines) and the loader (refused
	 * keys) only share the count; nothing is published through it. */
	unsigned long seen = atomic_fetch_add_explicit(&L->reported, 1,
						       memory_order_relaxed);
	if (seen >= MAX_REPORTED) {
		if (seen == MAX_REPORTED)
			cli_error(L->o->cmd, "more failures: only the counts "
					     "follow");
		return;
	}
	fprintf(stderr, "%smtredis load: %s:%" PRIu64 ": %s%s%s\n",
		L->o->draw ? "\r\033[K" : "", input_name(&L->in[file]), line,
		what, why ? ": " : "", why ? why : "");
}

/* ------------------------------------------------------------ batches */

static void batch_free(struct batch *b)
{
	if (b == NULL)
		return;
	free(b->buf);
	free(b->keys);
	free(b->vals);
	free(b->lines);
	free(b->x);
	free(b);
}

/* Every array holds BATCH_LINES records, so filling never reallocates
 * them (records point into buf, which only grows before parsing). */
static struct batch *batch_new(void)
{
	struct batch *b = calloc(1, sizeof *b);
	if (b == NULL)
		return NULL;
	b->cap = BATCH_BYTES;
	b->buf = malloc(b->cap);
	b->keys = malloc(BATCH_LINES * sizeof *b->keys);
	b->vals = malloc(BATCH_LINES * sizeof *b->vals);
	b->lines = malloc(BATCH_LINES * sizeof *b->lines);
	b->x = malloc(BATCH_LINES * sizeof *b->x);
	if (!b->buf || !b->keys || !b->vals || !b->lines || !b->x) {
		batch_free(b);
		return NULL;
	}
	return b;
}

/* Files a parsed record: plain strings go to the MSET arrays. */
static void batch_add(struct batch *b, const struct line_rec *rec,
		      uint64_t line)
{
	mt_redis_bytes k = {rec->key, rec->klen}, v = {rec->val, rec->vlen};
	if (rec->px == 0 && rec->kind == LINE_STRING) {
		b->keys[b->nplain] = k;
		b->vals[b->nplain] = v;
		b->lines[b->nplain++] = line;
	} else {
		b->x[b->nx++] = (struct xrec){k, v, rec->px, rec->kind, line};
	}
}

/* Parses one line (without its LF) into b, or reports it. */
static void parse_line(struct loader *L, struct batch *b, struct input *in,
		       char *s, size_t len)
{
	uint64_t line = ++in->line;
	struct line_rec rec;
	char why[LINE_WHYLEN];
	if (len == 0)
		return; /* empty lines are skipped (docs/mtredis.md) */
	if (line_parse(s, len, &rec, why, sizeof why) != 0) {
		L->rejected++;
		report(L, b->file, line, "rejected", why);
		return;
	}
	batch_add(b, &rec, line);
}

/*
 * Parses the whole lines of b->buf[0..len) (and the unterminated last
 * line at the end of input), at most BATCH_LINES of them. Returns the
 * offset of the first byte not parsed: the tail for the next batch.
 */
static size_t parse_batch(struct loader *L, struct batch *b, struct input *in)
{
	size_t at = 0;
	b->first_line = in->line + 1;
	for (unsigned n = 0; n < BATCH_LINES && at < b->len; n++) {
		char *s = b->buf + at;
		char *nl = memchr(s, '\n', b->len - at);
		if (nl == NULL && !in->eof)
			break;
		size_t len = nl ? (size_t)(nl - s) : b->len - at;
		parse_line(L, b, in, s, len);
		at += len + (nl != NULL);
	}
	b->last_line = in->line;
	b->bytes = at;
	return at;
}

/* ------------------------------------------------------------ reading */

/* The unparsed tail of one batch, carried into the next. */
struct carry {
	char *buf;
	size_t len, cap;
};

static int ready(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, timeout_ms) > 0;
}

static int loader_idle(struct loader *L)
{
	pthread_mutex_lock(&L->lock);
	int idle = L->pending == NULL && !L->busy;
	pthread_mutex_unlock(&L->lock);
	return idle;
}

/* Doubles b->buf (no record points into it yet). */
static int grow_buf(struct batch *b, size_t need)
{
	size_t cap = b->cap;
	while (cap < need)
		cap *= 2;
	if (cap == b->cap)
		return 0;
	char *p = realloc(b->buf, cap);
	if (p == NULL)
		return ENOMEM;
	b->buf = p;
	b->cap = cap;
	return 0;
}

/*
 * Reads into b until it is full, the input ends, or, once it holds a
 * whole line, the input has nothing more right now while the loader
 * idles: a person typing lines, or a slow pipe, gets them stored at
 * once, and a fast input still fills whole batches. A line longer than
 * the buffer grows it. Returns 0, EINTR (interrupted), or read's errno.
 */
static int read_into(struct loader *L, struct batch *b, struct input *in)
{
	int whole = memchr(b->buf, '\n', b->len) != NULL;
	while (!in->eof && !interrupted) {
		if (b->len == b->cap && (whole || grow_buf(b, b->cap * 2)))
			return whole ? 0 : ENOMEM;
		if (whole && !ready(in->fd, 0)) {
			if (loader_idle(L))
				return 0;
			ready(in->fd, 10);
			continue;
		}
		ssize_t n = read(in->fd, b->buf + b->len, b->cap - b->len);
		if (n > 0) {
			whole = whole ||
				memchr(b->buf + b->len, '\n', (size_t)n);
			b->len += (size_t)n;
		} else if (n == 0) {
			in->eof = 1;
		} else if (errno != EINTR) {
			return errno;
		}
	}
	return interrupted ? EINTR : 0;
}

/* Keeps b->buf[at..len) for the next batch. */
static int keep_tail(struct carry *c, const struct batch *b, size_t at)
{
	size_t n = b->len - at;
	if (n > c->cap) {
		char *p = realloc(c->buf, n);
		if (p == NULL)
			return ENOMEM;
		c->buf = p;
		c->cap = n;
	}
	if (n > 0)
		memcpy(c->buf, b->buf + at, n);
	c->len = n;
	return 0;
}

/* Fills b with the carried tail and new input, then parses it. Returns 0,
 * EINTR, ENOMEM or a read error (what was parsed is in b either way). */
static int fill(struct loader *L, struct batch *b, struct input *in,
		unsigned file, struct carry *c)
{
	b->nplain = b->nx = 0;
	b->file = file;
	if (grow_buf(b, c->len) != 0)
		return ENOMEM;
	if (c->len > 0)
		memcpy(b->buf, c->buf, c->len);
	b->len = c->len;
	c->len = 0;
	int err = read_into(L, b, in);
	if (err == EINTR) {
		b->len = 0; /* interrupted: nothing more is parsed */
		b->first_line = in->line + 1;
		b->last_line = in->line;
		b->bytes = 0;
		return err;
	}
	int kerr = keep_tail(c, b, parse_batch(L, b, in));
	return err != 0 ? err : kerr;
}

/* ------------------------------------------------------------ storing */

/* Counts and reports one call's outcomes; line_of(i) gives item i's line.
 * Returns how many items failed for want of a connection: UNKNOWN, or
 * FAILED without any reply (never sent). */
static size_t account(struct loader *L, const struct batch *b,
		      const mt_redis_batch *res, const uint64_t *lines,
		      const struct xrec *x)
{
	size_t lost = 0;
	for (size_t i = 0; i < res->n; i++) {
		const mt_redis_result *it = &res->results[i];
		uint64_t line = lines ? lines[i] : x[i].line;
		if (it->status == MT_REDIS_DONE)
			continue;
		if (it->status == MT_REDIS_UNKNOWN || it->nreplies == 0)
			lost++;
		report(L, b->file, line,
		       it->status == MT_REDIS_UNKNOWN ?
			       "may or may not be stored (connection lost)" :
			       "not stored",
		       it->error);
	}
	L->stored += res->done;
	L->failed += res->failed;
	L->unknown += res->unknown;
	return lost;
}

/* A whole call refused (ENOMEM, ESHUTDOWN...): every item failed. */
static void call_failed(struct loader *L, const struct batch *b, size_t n,
			int err)
{
	char what[96];
	snprintf(what, sizeof what,
		 "not stored, with the %zu lines of this "
		 "batch",
		 n);
	report(L, b->file, b->first_line, what, strerror(err));
	L->failed += n;
}

static int make_items(struct loader *L)
{
	if (L->items != NULL)
		return 0;
	L->items = malloc(BATCH_LINES * sizeof *L->items);
	L->cmds = malloc(BATCH_LINES * sizeof *L->cmds);
	L->argv = malloc(5 * BATCH_LINES * sizeof *L->argv);
	L->px = malloc(BATCH_LINES * sizeof *L->px);
	return L->items && L->cmds && L->argv && L->px ? 0 : ENOMEM;
}

#define BYTES(lit) ((mt_redis_bytes){lit, sizeof lit - 1})

/* SET key value PX ms, or RESTORE key ttl payload REPLACE. */
static void build_item(struct loader *L, const struct xrec *x, size_t i)
{
	int64_t px = x->px > 0 ? x->px : L->ttl_ms;
	mt_redis_bytes *a = &L->argv[5 * i];
	int n = snprintf(L->px[i], sizeof L->px[i], "%lld", (long long)px);
	mt_redis_bytes ttl = {L->px[i], (size_t)n};
	if (x->kind == LINE_DUMP) {
		a[0] = BYTES("RESTORE");
		a[1] = x->key;
		a[2] = ttl;
		a[3] = x->val;
		a[4] = BYTES("REPLACE");
	} else {
		a[0] = BYTES("SET");
		a[1] = x->key;
		a[2] = x->val;
		a[3] = BYTES("PX");
		a[4] = ttl;
	}
	L->cmds[i] = (mt_redis_cmd){.argc = 5, .argv = a};
	L->items[i] = (mt_redis_item){
		.cmds = &L->cmds[i], .ncmds = 1, .flags = MT_REDIS_IDEMPOTENT};
}

static size_t store_items(struct loader *L, const struct batch *b, size_t *done)
{
	mt_redis_batch *res = NULL;
	int err = make_items(L);
	for (size_t i = 0; err == 0 && i < b->nx; i++)
		build_item(L, &b->x[i], i);
	if (err == 0)
		err = mt_redis_exec(L->r, L->items, b->nx, &res);
	if (err != 0) {
		call_failed(L, b, b->nx, err);
		return 0;
	}
	size_t lost = account(L, b, res, NULL, b->x);
	*done += res->done;
	mt_redis_batch_free(res);
	return lost;
}

static size_t store_plain(struct loader *L, const struct batch *b, size_t *done)
{
	mt_redis_set_options ttl = {.ttl_ms = L->ttl_ms};
	mt_redis_batch *res = NULL;
	int err = mt_redis_set(L->r, b->keys, b->vals, b->nplain,
			       L->ttl_ms > 0 ? &ttl : NULL, &res);
	if (err != 0) {
		call_failed(L, b, b->nplain, err);
		return 0;
	}
	size_t lost = account(L, b, res, b->lines, NULL);
	*done += res->done;
	mt_redis_batch_free(res);
	return lost;
}

/* Stores one batch; a batch that stored nothing because the connection
 * failed means the server is gone: the reading stops. */
static void store(struct loader *L, const struct batch *b)
{
	size_t done = 0, lost = 0;
	if (b->nplain > 0)
		lost += store_plain(L, b, &done);
	if (b->nx > 0)
		lost += store_items(L, b, &done);
	uint64_t mark = (uint64_t)b->file << 48 | b->last_line;
	atomic_store_explicit(&confirmed, mark, memory_order_relaxed);
	progress_add(&L->prog, done, 0);
	if (done == 0 && lost > 0) {
		pthread_mutex_lock(&L->lock);
		L->gave_up = 1;
		pthread_mutex_unlock(&L->lock);
	}
}

static void *loader_main(void *arg)
{
	struct loader *L = arg;
	pthread_mutex_lock(&L->lock);
	for (;;) {
		while (L->pending == NULL && !L->closing)
			pthread_cond_wait(&L->cond, &L->lock);
		struct batch *b = L->pending;
		if (b == NULL)
			break;
		L->pending = NULL;
		L->busy = 1;
		pthread_cond_broadcast(&L->cond);
		pthread_mutex_unlock(&L->lock);
		store(L, b);
		pthread_mutex_lock(&L->lock);
		L->busy = 0;
		L->spare[L->spare[0] ? 1 : 0] = b;
		pthread_cond_broadcast(&L->cond);
	}
	pthread_mutex_unlock(&L->lock);
	return NULL;
}

/* Main thread: a free batch to fill (waits while both are in use). */
static struct batch *take_spare(struct loader *L)
{
	pthread_mutex_lock(&L->lock);
	while (L->spare[0] == NULL && L->spare[1] == NULL)
		pthread_cond_wait(&L->cond, &L->lock);
	int i = L->spare[0] ? 0 : 1;
	struct batch *b = L->spare[i];
	L->spare[i] = NULL;
	pthread_mutex_unlock(&L->lock);
	return b;
}

/* Main thread: hands b to the loader (or back to the spares when it has
 * no line). Returns 1 when the loader gave up (the server is gone). */
static int post(struct loader *L, struct batch *b)
{
	pthread_mutex_lock(&L->lock);
	if (b->nplain + b->nx == 0) {
		L->spare[L->spare[0] ? 1 : 0] = b;
	} else {
		while (L->pending != NULL)
			pthread_cond_wait(&L->cond, &L->lock);
		L->pending = b;
		pthread_cond_broadcast(&L->cond);
	}
	int gave_up = L->gave_up;
	pthread_mutex_unlock(&L->lock);
	return gave_up;
}

/* ---------------------------------------------------------- the run */

/* Opens input i; reports and counts a file that cannot be opened. */
static int open_input(struct loader *L, struct input *in)
{
	in->line = 0;
	in->eof = 0;
	if (strcmp(in->name, "-") == 0) {
		in->fd = STDIN_FILENO;
		return 0;
	}
	in->fd = open(in->name, O_RDONLY | O_CLOEXEC);
	if (in->fd >= 0)
		return 0;
	cli_error(L->o->cmd, "cannot open %s: %s", in->name, strerror(errno));
	L->read_errors++;
	return errno;
}

/* The input's size when it is a regular file (for percent and ETA). */
static uint64_t input_size(const struct input *in)
{
	struct stat st;
	int ok = strcmp(in->name, "-") == 0 ? fstat(STDIN_FILENO, &st) == 0 :
					      stat(in->name, &st) == 0;
	return ok && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
}

/* Reads one input to its end (or until interrupted or the loader gives
 * up). Returns 1 when the whole load must stop. */
static int load_input(struct loader *L, unsigned file, struct carry *c)
{
	struct input *in = &L->in[file];
	int stop = 0;
	c->len = 0;
	while (!stop && (!in->eof || c->len > 0)) {
		struct batch *b = take_spare(L);
		int err = fill(L, b, in, file, c);
		/* Work (percent, ETA) counts bytes as they are parsed: the
		 * reader is never more than two batches ahead of the server,
		 * and a stalled first batch still shows where the input is. */
		progress_add(&L->prog, 0, b->bytes);
		stop = post(L, b) || err == EINTR || interrupted;
		if (err != 0 && err != EINTR) {
			cli_error(L->o->cmd, "reading %s: %s", input_name(in),
				  strerror(err));
			L->read_errors++;
			break;
		}
	}
	return stop;
}

/* Waits until the loader has stored every batch handed to it. */
static void finish(struct loader *L, pthread_t t)
{
	pthread_mutex_lock(&L->lock);
	L->closing = 1;
	pthread_cond_broadcast(&L->cond);
	pthread_mutex_unlock(&L->lock);
	pthread_join(t, NULL);
}

/* The file and line where reading stopped: the last line read. */
static void stop_point(const struct loader *L, unsigned file, char *buf,
		       size_t len)
{
	snprintf(buf, len, "%s:%" PRIu64, input_name(&L->in[file]),
		 L->in[file].line);
}

/* "; 2 lines rejected, 1 not stored": the non-zero failure counts. */
static void failure_counts(const struct loader *L, char *buf, size_t len)
{
	const struct {
		uint64_t n;
		const char *what;
	} c[] = {{L->rejected, "lines rejected"},
		 {L->failed, "not stored"},
		 {L->unknown, "of unknown outcome"},
		 {L->read_errors, "files unreadable"}};
	size_t at = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof c / sizeof *c && at < len; i++)
		if (c[i].n > 0)
			at += (size_t)snprintf(buf + at, len - at,
					       "; %" PRIu64 " %s", c[i].n,
					       c[i].what);
}

static int summary(struct loader *L, double secs, unsigned file, int stopped)
{
	char n[32], where[300], fails[160];
	uint64_t bad = L->rejected + L->failed + L->unknown + L->read_errors;
	stop_point(L, file, where, sizeof where);
	if (interrupted)
		cli_error(L->o->cmd,
			  "interrupted: %s keys stored; every line up to %s "
			  "has its outcome above, the lines after it were "
			  "not read",
			  progress_group(n, L->stored), where);
	else if (stopped)
		cli_error(L->o->cmd,
			  "giving up: the server cannot be reached; the "
			  "lines after %s were not read",
			  where);
	failure_counts(L, fails, sizeof fails);
	if (!L->o->quiet || bad > 0)
		cli_error(L->o->cmd, "%s keys stored in %.2f s (%.0f keys/s)%s",
			  progress_group(n, L->stored), secs,
			  secs > 0 ? (double)L->stored / secs : 0.0, fails);
	if (interrupted)
		return 128 + interrupted;
	return bad > 0 || stopped ? CLI_FAILED : CLI_OK;
}

static int parse_args(struct cli_opts *o, int argc, char **argv,
		      int64_t *ttl_ms)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{"ttl", required_argument, NULL, 't'},
		{0, 0, 0, 0},
	};
	int c;
	uint64_t v;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
		int rc = cli_common_option(o, c, optarg, argv);
		if (rc < 0)
			return -rc;
		if (rc > 0)
			continue;
		if (c == 'h') {
			fputs(help, stdout);
			return -1;
		}
		if (cli_parse_u64(optarg, 1, INT32_MAX, &v) != 0)
			return cli_usage(o->cmd,
					 "bad --ttl '%s': want whole seconds, "
					 "1 to 2147483647",
					 optarg);
		*ttl_ms = (int64_t)v * 1000;
	}
	return 0;
}

static int loader_init(struct loader *L)
{
	if (pthread_mutex_init(&L->lock, NULL) != 0)
		return ENOMEM;
	if (pthread_cond_init(&L->cond, NULL) != 0) {
		pthread_mutex_destroy(&L->lock);
		return ENOMEM;
	}
	L->spare[0] = batch_new();
	L->spare[1] = batch_new();
	return L->spare[0] && L->spare[1] ? 0 : ENOMEM;
}

static void loader_destroy(struct loader *L)
{
	batch_free(L->spare[0]);
	batch_free(L->spare[1]);
	free(L->items);
	free(L->cmds);
	free(L->argv);
	free(L->px);
	pthread_cond_destroy(&L->cond);
	pthread_mutex_destroy(&L->lock);
}

/* Reads every input in turn while the loader stores; returns the exit
 * code. Signals are blocked on entry and let in once threads exist. */
static int run(struct loader *L, unsigned nin)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < nin; i++)
		total += input_size(&L->in[i]);
	progress_start(&L->prog, "load", "keys", total, L->o->draw);
	pthread_t t;
	int err = pthread_create(&t, NULL, loader_main, L);
	cli_signals_unblock();
	if (err != 0) {
		progress_stop(&L->prog);
		cli_error(L->o->cmd, "cannot start a thread: %s",
			  strerror(err));
		return CLI_FAILED;
	}
	struct carry c = {0};
	unsigned file = 0;
	int stopped = 0;
	for (; file < nin && !stopped; file++) {
		if (open_input(L, &L->in[file]) != 0)
			continue;
		stopped = load_input(L, file, &c);
		if (L->in[file].fd != STDIN_FILENO)
			close(L->in[file].fd);
	}
	if (interrupted)
		fprintf(stderr,
			"%smtredis load: interrupted: letting the lines in "
			"flight finish (again to stop at once)\n",
			L->o->draw ? "\r\033[K" : "");
	finish(L, t);
	free(c.buf);
	double secs = progress_stop(&L->prog);
	/* The last batch may have found the server gone after the input
	 * ended: that is the same verdict as giving up mid-way. */
	stopped = (stopped || L->gave_up) && !interrupted;
	return summary(L, secs, file > 0 ? file - 1 : 0, stopped);
}

int cli_load(int argc, char **argv)
{
	struct cli_opts o;
	struct loader L = {0};
	cli_opts_init(&o, "load");
	int rc = parse_args(&o, argc, argv, &L.ttl_ms);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	static char *stdin_only[] = {"-"};
	char **names = optind < argc ? argv + optind : stdin_only;
	unsigned nin = optind < argc ? (unsigned)(argc - optind) : 1;
	if (nin >= 1u << 16)
		return cli_usage(o.cmd, "too many files (at most 65535)");
	L.in = calloc(nin, sizeof *L.in);
	if (L.in == NULL || loader_init(&L) != 0) {
		cli_error(o.cmd, "out of memory");
		free(L.in);
		return CLI_FAILED;
	}
	for (unsigned i = 0; i < nin; i++)
		L.in[i].name = names[i];
	signal_inputs = L.in;
	cli_signals_install(on_signal);
	L.o = &o;
	rc = cli_open(&o, &L.r);
	if (rc == CLI_OK)
		rc = run(&L, nin);
	cli_close(&o, L.r);
	loader_destroy(&L);
	free(L.in);
	return rc;
}
