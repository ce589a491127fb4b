/*
 * bench/redis/baselines.c: the plain-hiredis baselines (baselines.h).
 */
#define _GNU_SOURCE /* fnmatch's GNU rules */

#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "baselines.h"

/* Commands a connection sends before reading their replies. */
#define WINDOW 1000u
/* Keys per MSET / MGET command. */
#define MULTI_KEYS 100u
/* The most connections a baseline uses. */
#define MAX_CONNS 4u
/* SCAN's COUNT hint, as the library's default. */
#define SCAN_COUNT "1000"
#define CONNECT_TIMEOUT_S 5

/* One pipelined operation: items [lo, hi) go in one command (hi - lo <=
 * per_cmd), or item lo in `cmds` commands (per_cmd == 1). */
struct pipe_op {
	unsigned per_cmd; /* items per command: 1, or MULTI_KEYS */
	unsigned cmds;	  /* commands per group */
	size_t (*count)(const struct rb_data *d);
	void (*append)(redisContext *c, const struct rb_data *d, size_t lo,
		       size_t hi);
	/* Bad items of the group [lo, hi) seen in the reply to its
	 * command k; an item is bad once however many of its commands
	 * failed (the group counts the most any of them reports). */
	size_t (*check)(const redisReply *r, const struct rb_data *d, size_t lo,
			size_t hi, unsigned k);
};

/* ------------------------------------------------------ connections */

static redisContext *bl_connect(const struct bl_env *e)
{
	struct timeval tv = {.tv_sec = CONNECT_TIMEOUT_S};
	redisContext *c;

	c = e->path ? redisConnectUnixWithTimeout(e->path, tv) :
		      redisConnectWithTimeout(e->host, e->port, tv);
	if (c && c->err) {
		redisFree(c);
		return NULL;
	}
	return c;
}

/* One thread's share of a run. */
struct share {
	const struct baseline *bl;
	const struct rb_data *d;
	redisContext *c;
	struct rb_gate *go;
	size_t lo, hi; /* items, or the pattern index for SCAN */
	size_t bad;    /* written by the thread, read after the join */
	void *found;   /* SCAN: the keys it found (struct keyset) */
};

/* Connects every share (untimed), then runs fn on one thread per share
 * between the clock's start and the last join, then `after` (NULL: none)
 * before the clock stops. Returns 0, ECONNREFUSED when a connection
 * failed, a pthread_create error, or after's error. */
static int run_shares(const struct baseline *bl, const struct bl_env *e,
		      struct share *sh, void *(*fn)(void *),
		      int (*after)(struct share *sh, unsigned n),
		      struct rb_sample *s)
{
	struct rb_gate go = RB_GATE_INIT;
	pthread_t th[MAX_CONNS];
	struct rb_timer t;
	unsigned k, started = 0;
	int err = 0;

	for (k = 0; k < bl->conns && err == 0; k++) {
		sh[k].go = &go;
		if (!(sh[k].c = bl_connect(e)))
			err = ECONNREFUSED;
	}
	for (k = 0; k < bl->conns && err == 0; k++) {
		if ((err = pthread_create(&th[k], NULL, fn, &sh[k])) != 0)
			break;
		started++;
	}
	rb_timer_start(&t, rb_bench_server_pid(e->b));
	rb_gate_open(&go);
	for (k = 0; k < started; k++)
		pthread_join(th[k], NULL);
	if (err == 0 && after)
		err = after(sh, bl->conns);
	rb_timer_stop(&t, s);
	for (k = 0; k < bl->conns; k++) {
		if (sh[k].c)
			redisFree(sh[k].c);
		s->bad += sh[k].bad;
	}
	return err;
}

/* ---------------------------------------------------- pipelined ones */

/* Appends the window [lo, hi) and returns the commands appended. */
static size_t append_window(const struct pipe_op *op, redisContext *c,
			    const struct rb_data *d, size_t lo, size_t hi)
{
	size_t cmds = 0;

	for (size_t i = lo; i < hi; i += op->per_cmd) {
		size_t end = i + op->per_cmd < hi ? i + op->per_cmd : hi;

		op->append(c, d, i, end);
		cmds += op->cmds;
	}
	return cmds;
}

/* Reads the replies of the window [lo, hi); returns the bad items, or
 * SIZE_MAX when the connection failed. */
static size_t read_window(const struct pipe_op *op, redisContext *c,
			  const struct rb_data *d, size_t lo, size_t hi)
{
	size_t bad = 0;
	redisReply *r;

	for (size_t i = lo; i < hi; i += op->per_cmd) {
		size_t end = i + op->per_cmd < hi ? i + op->per_cmd : hi;

		size_t worst = 0;

		for (unsigned k = 0; k < op->cmds; k++) {
			size_t b;

			if (redisGetReply(c, (void **)&r) != REDIS_OK)
				return SIZE_MAX;
			b = op->check(r, d, i, end, k);
			worst = b > worst ? b : worst;
			freeReplyObject(r);
		}
		bad += worst;
	}
	return bad;
}

static void *pipe_thread(void *arg)
{
	struct share *sh = arg;
	const struct pipe_op *op = sh->bl->op;
	/* A window holds WINDOW commands (WINDOW keys when multi-key). */
	size_t step = op->per_cmd > 1 ? WINDOW : WINDOW / op->cmds;

	rb_gate_wait(sh->go);
	for (size_t lo = sh->lo; lo < sh->hi; lo += step) {
		size_t hi = lo + step < sh->hi ? lo + step : sh->hi, bad;

		append_window(op, sh->c, sh->d, lo, hi);
		if ((bad = read_window(op, sh->c, sh->d, lo, hi)) == SIZE_MAX) {
			sh->bad += sh->hi - lo;
			break;
		}
		sh->bad += bad;
	}
	return NULL;
}

static int pipe_once(const struct baseline *bl, const struct bl_env *e,
		     struct rb_sample *s)
{
	const struct rb_data *d = rb_bench_data(e->b);
	struct share sh[MAX_CONNS];
	size_t n = bl->op->count(d);

	for (unsigned k = 0; k < bl->conns; k++)
		sh[k] = (struct share){.bl = bl,
				       .d = d,
				       .lo = n * k / bl->conns,
				       .hi = n * (k + 1) / bl->conns};
	s->n = n;
	return run_shares(bl, e, sh, pipe_thread, NULL, s);
}

/* Whole-item checks shared by the single-command operations. */
static size_t bad_unless(int ok, size_t lo, size_t hi)
{
	return ok ? 0 : hi - lo;
}

static size_t count_keys(const struct rb_data *d)
{
	return d->nkeys;
}

static size_t count_msgs(const struct rb_data *d)
{
	return d->nmsgs;
}

static size_t count_models(const struct rb_data *d)
{
	return d->nmodels;
}

static void set_append(redisContext *c, const struct rb_data *d, size_t lo,
		       size_t hi)
{
	const char *argv[3] = {"SET", d->keys[lo].data, d->values[lo].data};
	size_t len[3] = {3, d->keys[lo].len, RB_VALUE_LEN};

	(void)hi;
	redisAppendCommandArgv(c, 3, argv, len);
}

static size_t status_check(const redisReply *r, const struct rb_data *d,
			   size_t lo, size_t hi, unsigned k)
{
	(void)d, (void)k;
	return bad_unless(r->type == REDIS_REPLY_STATUS, lo, hi);
}

static void mset_append(redisContext *c, const struct rb_data *d, size_t lo,
			size_t hi)
{
	const char *argv[1 + 2 * MULTI_KEYS];
	size_t len[1 + 2 * MULTI_KEYS];
	int a = 1;

	argv[0] = "MSET", len[0] = 4;
	for (size_t i = lo; i < hi; i++, a += 2) {
		argv[a] = d->keys[i].data, len[a] = d->keys[i].len;
		argv[a + 1] = d->values[i].data, len[a + 1] = RB_VALUE_LEN;
	}
	redisAppendCommandArgv(c, a, argv, len);
}

static void get_append(redisContext *c, const struct rb_data *d, size_t lo,
		       size_t hi)
{
	const char *argv[1 + MULTI_KEYS];
	size_t len[1 + MULTI_KEYS];
	int a = 1;

	argv[0] = hi - lo > 1 ? "MGET" : "GET";
	len[0] = strlen(argv[0]);
	for (size_t i = lo; i < hi; i++, a++)
		argv[a] = d->keys[i].data, len[a] = d->keys[i].len;
	redisAppendCommandArgv(c, a, argv, len);
}

static int value_ok(const redisReply *r, const struct rb_data *d, size_t i)
{
	return r->type == REDIS_REPLY_STRING && r->len == RB_VALUE_LEN &&
	       memcmp(r->str, d->values[i].data, RB_VALUE_LEN) == 0;
}

/* GET's reply is the value; MGET's an array of them (a chunk of one key
 * is sent as GET, see get_append). */
static size_t get_check(const redisReply *r, const struct rb_data *d, size_t lo,
			size_t hi, unsigned k)
{
	size_t bad = 0;

	(void)k;
	if (hi - lo == 1)
		return !value_ok(r, d, lo);
	if (r->type != REDIS_REPLY_ARRAY || r->elements != hi - lo)
		return hi - lo;
	for (size_t i = lo; i < hi; i++)
		bad += !value_ok(r->element[i - lo], d, i);
	return bad;
}

static void publish_append(redisContext *c, const struct rb_data *d, size_t lo,
			   size_t hi)
{
	const char *argv[3] = {"PUBLISH", d->channel.data, d->msgs[lo].data};
	size_t len[3] = {7, d->channel.len, RB_VALUE_LEN};

	(void)hi;
	redisAppendCommandArgv(c, 3, argv, len);
}

static size_t integer_check(const redisReply *r, const struct rb_data *d,
			    size_t lo, size_t hi, unsigned k)
{
	(void)d, (void)k;
	return bad_unless(r->type == REDIS_REPLY_INTEGER, lo, hi);
}

static void model_append(redisContext *c, const struct rb_data *d, size_t lo,
			 size_t hi)
{
	struct rb_model_cmds m;

	(void)hi;
	rb_model_cmds(d, lo, &m);
	for (int k = 0; k < RB_MODEL_CMDS; k++)
		redisAppendCommandArgv(c, m.argc[k], m.argv[k], m.len[k]);
}

static const struct pipe_op op_set = {1, 1, count_keys, set_append,
				      status_check};
static const struct pipe_op op_mset = {MULTI_KEYS, 1, count_keys, mset_append,
				       status_check};
static const struct pipe_op op_get = {1, 1, count_keys, get_append, get_check};
static const struct pipe_op op_mget = {MULTI_KEYS, 1, count_keys, get_append,
				       get_check};
static const struct pipe_op op_publish = {1, 1, count_msgs, publish_append,
					  integer_check};
static const struct pipe_op op_model = {1, RB_MODEL_CMDS, count_models,
					model_append, integer_check};

/* PUBLISH with the bench's subscriber counting what arrives. */
static int publish_once(const struct baseline *bl, const struct bl_env *e,
			struct rb_sample *s)
{
	struct rb_sub *sub;
	int err;

	if ((err = rb_sub_start(e->b, &sub)) != 0)
		return err;
	err = pipe_once(bl, e, s);
	s->delivered = (double)rb_sub_finish(e->b, sub) /
		       (double)rb_bench_data(e->b)->nmsgs;
	return err;
}

/* ------------------------------------------------------------ SCAN */

/* A set of byte strings (open addressing, FNV-1a): what any client needs
 * to merge and de-duplicate what SCAN returns. */
struct keyset {
	size_t cap, n; /* cap a power of two, n <= cap / 2 */
	char **slot;   /* a length-prefixed copy, or NULL */
};

static uint64_t fnv1a(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211u;
	return h;
}

static int keyset_grow(struct keyset *ks);

/* Adds s (copied) unless present. Returns 0 or ENOMEM. */
static int keyset_add(struct keyset *ks, const char *s, size_t len)
{
	size_t i;
	char *copy;

	if ((ks->n + 1) * 2 > ks->cap && keyset_grow(ks) != 0)
		return ENOMEM;
	for (i = fnv1a(s, len) & (ks->cap - 1); ks->slot[i];
	     i = (i + 1) & (ks->cap - 1))
		if (memcmp(ks->slot[i], &len, sizeof len) == 0 &&
		    memcmp(ks->slot[i] + sizeof len, s, len) == 0)
			return 0;
	if (!(copy = malloc(sizeof len + len)))
		return ENOMEM;
	memcpy(copy, &len, sizeof len);
	memcpy(copy + sizeof len, s, len);
	ks->slot[i] = copy;
	ks->n++;
	return 0;
}

static int keyset_grow(struct keyset *ks)
{
	struct keyset big = {.cap = ks->cap ? ks->cap * 2 : 1024};

	if (!(big.slot = calloc(big.cap, sizeof *big.slot)))
		return ENOMEM;
	for (size_t i = 0; i < ks->cap; i++) {
		char *k = ks->slot[i];
		size_t len, j;

		if (!k)
			continue;
		memcpy(&len, k, sizeof len);
		for (j = fnv1a(k + sizeof len, len) & (big.cap - 1);
		     big.slot[j]; j = (j + 1) & (big.cap - 1))
			;
		big.slot[j] = k;
	}
	free(ks->slot);
	big.n = ks->n;
	*ks = big;
	return 0;
}

static void keyset_free(struct keyset *ks)
{
	for (size_t i = 0; i < ks->cap; i++)
		free(ks->slot[i]);
	free(ks->slot);
}

/* How a SCAN baseline finds the keys. */
enum {
	SCAN_MATCH_SEQ,
	SCAN_MATCH_THREADS,
	SCAN_ONE_WALK
};

static void scan_send(redisContext *c, const char *cursor, const char *pat)
{
	int done = 0;

	if (pat)
		redisAppendCommand(c, "SCAN %s MATCH %s COUNT %s", cursor, pat,
				   SCAN_COUNT);
	else
		redisAppendCommand(c, "SCAN %s COUNT %s", cursor, SCAN_COUNT);
	while (!done && redisBufferWrite(c, &done) == REDIS_OK)
		;
}

/* Adds the keys of one SCAN reply that match (pat == NULL: the server
 * matched; else any of the data set's patterns, with fnmatch). */
static int scan_take(struct keyset *ks, const redisReply *keys,
		     const struct rb_data *d, int client_match)
{
	int err = 0;

	for (size_t i = 0; i < keys->elements && err == 0; i++) {
		const redisReply *k = keys->element[i];
		int hit = !client_match;

		for (int p = 0; p < RB_NPATTERNS && !hit; p++)
			hit = fnmatch(d->patterns[p], k->str, 0) == 0;
		if (hit)
			err = keyset_add(ks, k->str, k->len);
	}
	return err;
}

/* One walk of the keyspace (SCAN MATCH pat, or all keys when pat is
 * NULL), adding what matches to ks. The next SCAN is on its way before
 * this reply is processed, so client-side matching overlaps the server's
 * work. Returns 0, EIO (connection or reply error) or ENOMEM. */
static int scan_walk(redisContext *c, const char *pat, struct keyset *ks,
		     const struct rb_data *d)
{
	char cursor[32] = "0";
	redisReply *r;
	int err = 0, last = 0;

	scan_send(c, cursor, pat);
	while (!last && err == 0) {
		if (redisGetReply(c, (void **)&r) != REDIS_OK)
			return EIO;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->len >= sizeof cursor) {
			freeReplyObject(r);
			return EIO;
		}
		memcpy(cursor, r->element[0]->str, r->element[0]->len + 1);
		if (!(last = strcmp(cursor, "0") == 0))
			scan_send(c, cursor, pat);
		err = scan_take(ks, r->element[1], d, pat == NULL);
		freeReplyObject(r);
	}
	return err;
}

static void *scan_thread(void *arg)
{
	struct share *sh = arg;
	const struct rb_data *d = sh->d;
	struct keyset *ks = sh->found;
	int mode = sh->bl->pattern_mode;

	rb_gate_wait(sh->go);
	if (mode == SCAN_ONE_WALK)
		sh->bad = scan_walk(sh->c, NULL, ks, d) != 0;
	for (size_t p = sh->lo; p < sh->hi && mode != SCAN_ONE_WALK; p++)
		sh->bad += scan_walk(sh->c, d->patterns[p], ks, d) != 0;
	return NULL;
}

/* Merges every share's set into the first (the threaded baseline's
 * last step, timed). */
static int scan_merge(struct share *sh, unsigned n)
{
	struct keyset *all = sh[0].found;

	for (unsigned k = 1; k < n; k++) {
		struct keyset *ks = sh[k].found;

		for (size_t i = 0; i < ks->cap; i++) {
			size_t len;

			if (!ks->slot[i])
				continue;
			memcpy(&len, ks->slot[i], sizeof len);
			if (keyset_add(all, ks->slot[i] + sizeof len, len))
				return ENOMEM;
		}
	}
	return 0;
}

static int scan_once(const struct baseline *bl, const struct bl_env *e,
		     struct rb_sample *s)
{
	const struct rb_data *d = rb_bench_data(e->b);
	struct keyset ks[MAX_CONNS] = {{0}};
	struct share sh[MAX_CONNS];
	int err;

	for (unsigned k = 0; k < bl->conns; k++)
		sh[k] = (struct share){.bl = bl,
				       .d = d,
				       .lo = RB_NPATTERNS * k / bl->conns,
				       .hi = RB_NPATTERNS * (k + 1) / bl->conns,
				       .found = &ks[k]};
	err = run_shares(bl, e, sh, scan_thread, scan_merge, s);
	/* The rate is the keyspace walked per second (RB_LOADED: the data
	 * set's keys and nothing else). */
	s->n = d->nkeys;
	if (ks[0].n != d->matches)
		s->bad += ks[0].n > d->matches ? ks[0].n - d->matches :
						 d->matches - ks[0].n;
	for (unsigned k = 0; k < bl->conns; k++)
		keyset_free(&ks[k]);
	return err;
}

/* ------------------------------------------------------------ table */

#define PIPE(g, m, u, nd, lv, c, op)                 \
	{                                            \
		g, m, u, nd, lv, c, pipe_once, op, 0 \
	}

const struct baseline baselines[] = {
	PIPE("SET", "hiredis SET, windows of 1000, 1 conn", "keys/s", RB_EMPTY,
	     RB_LOADED, 1, &op_set),
	PIPE("SET", "hiredis SET, windows of 1000, 2 conns", "keys/s", RB_EMPTY,
	     RB_LOADED, 2, &op_set),
	PIPE("SET", "hiredis SET, windows of 1000, 4 conns", "keys/s", RB_EMPTY,
	     RB_LOADED, 4, &op_set),
	PIPE("SET", "hiredis MSET 100 keys, windows of 10, 1 conn", "keys/s",
	     RB_EMPTY, RB_LOADED, 1, &op_mset),
	PIPE("SET", "hiredis MSET 100 keys, windows of 10, 2 conns", "keys/s",
	     RB_EMPTY, RB_LOADED, 2, &op_mset),
	PIPE("SET", "hiredis MSET 100 keys, windows of 10, 4 conns", "keys/s",
	     RB_EMPTY, RB_LOADED, 4, &op_mset),
	PIPE("GET", "hiredis GET, windows of 1000, 1 conn", "keys/s", RB_LOADED,
	     RB_ANY, 1, &op_get),
	PIPE("GET", "hiredis GET, windows of 1000, 2 conns", "keys/s",
	     RB_LOADED, RB_ANY, 2, &op_get),
	PIPE("GET", "hiredis GET, windows of 1000, 4 conns", "keys/s",
	     RB_LOADED, RB_ANY, 4, &op_get),
	PIPE("GET", "hiredis MGET 100 keys, windows of 10, 1 conn", "keys/s",
	     RB_LOADED, RB_ANY, 1, &op_mget),
	PIPE("GET", "hiredis MGET 100 keys, windows of 10, 2 conns", "keys/s",
	     RB_LOADED, RB_ANY, 2, &op_mget),
	PIPE("GET", "hiredis MGET 100 keys, windows of 10, 4 conns", "keys/s",
	     RB_LOADED, RB_ANY, 4, &op_mget),
	{"SCAN 4 patterns", "hiredis SCAN MATCH per pattern, in turn, 1 conn",
	 "keys walked/s", RB_LOADED, RB_ANY, 1, scan_once, NULL,
	 SCAN_MATCH_SEQ},
	{"SCAN 4 patterns", "hiredis SCAN MATCH, a thread per pattern",
	 "keys walked/s", RB_LOADED, RB_ANY, 4, scan_once, NULL,
	 SCAN_MATCH_THREADS},
	{"SCAN 4 patterns", "hiredis one SCAN walk, fnmatch on the client",
	 "keys walked/s", RB_LOADED, RB_ANY, 1, scan_once, NULL, SCAN_ONE_WALK},
	{"PUBLISH", "hiredis PUBLISH, windows of 1000, 1 conn", "msgs/s",
	 RB_ANY, RB_ANY, 1, publish_once, &op_publish, 0},
	{"PUBLISH", "hiredis PUBLISH, windows of 1000, 2 conns", "msgs/s",
	 RB_ANY, RB_ANY, 2, publish_once, &op_publish, 0},
	{"PUBLISH", "hiredis PUBLISH, windows of 1000, 4 conns", "msgs/s",
	 RB_ANY, RB_ANY, 4, publish_once, &op_publish, 0},
	PIPE("MODEL SAVE", "hiredis 4 cmds/model, windows of 1000, 1 conn",
	     "models/s", RB_EMPTY, RB_DIRTY, 1, &op_model),
	PIPE("MODEL SAVE", "hiredis 4 cmds/model, windows of 1000, 2 conns",
	     "models/s", RB_EMPTY, RB_DIRTY, 2, &op_model),
	PIPE("MODEL SAVE", "hiredis 4 cmds/model, windows of 1000, 4 conns",
	     "models/s", RB_EMPTY, RB_DIRTY, 4, &op_model),
};

const size_t nbaselines = sizeof baselines / sizeof baselines[0];
