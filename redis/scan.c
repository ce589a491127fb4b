/*
 * redis/scan.c: mt_redis_scan: the plan, the walk on the calling thread,
 * the fetch tasks on the pool, and the result object. See scan.h.
 */
#include "scan.h"

#include <mtpool/redis.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "client.h"
#include "engine.h"
#include "glob.h"
#include "keyset.h"
#include "router.h"
#include "sigpipe.h"

/* SCAN's COUNT hint when the caller gives none (redis.h says 1000). */
#define DEFAULT_COUNT 1000u
/* Keys per fetch task: one task is a call of the engine, which pipelines
 * it in windows (1024 commands by default) and below 512 items runs it
 * as one share. A chunk of 1024 is a window's worth: big enough that a
 * task's fixed costs (a batch, a connection check) are small per key,
 * small enough that the first values are read while the walk has barely
 * begun and that several tasks run at once on a pool of a few workers. */
#define FETCH_CHUNK 1024u
/* Longest cursor text accepted from the server (a 64-bit number). */
#define CURSOR_MAX 32

void (*mt__redis_scan_page_hook)(size_t page, void *arg);
void *mt__redis_scan_page_hook_arg;

/* ------------------------------------------------------------- plan */

enum plan_kind {
	PLAN_EXISTS,
	PLAN_MATCH,
	PLAN_WALK,
	PLAN_ALL /* a pattern is "*": every key, no matching anywhere */
};

/* Whether the walk sees every key, so literals need no EXISTS. */
static int plan_walks_all(enum plan_kind kind)
{
	return kind == PLAN_WALK || kind == PLAN_ALL;
}

struct plan {
	enum plan_kind kind;
	struct mt_redis_keyset pats; /* distinct patterns, as given */
	struct mt_redis_keyset lits; /* the literal ones, unescaped */
	mt_redis_bytes glob;	     /* the last glob pattern added */
	size_t nglob;
};

static int plan_add(struct plan *p, const char *pat)
{
	size_t len = strlen(pat), litlen;
	int added, rc = mt__redis_keyset_add(&p->pats, pat, len, &added);
	char *lit;

	if (rc != 0 || !added)
		return rc;
	lit = malloc(len + 1);
	if (!lit)
		return ENOMEM;
	if (mt__redis_glob_literal(pat, len, lit, &litlen)) {
		rc = mt__redis_keyset_add(&p->lits, lit, litlen, NULL);
	} else {
		p->nglob++;
		p->glob = p->pats.keys[p->pats.n - 1];
	}
	free(lit);
	return rc;
}

static int plan_make(struct plan *p, const char *const *patterns, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = plan_add(p, patterns[i]);
		if (rc != 0)
			return rc;
	}
	p->kind = p->nglob == 0 ? PLAN_EXISTS :
		  p->nglob == 1 ? PLAN_MATCH :
				  PLAN_WALK;
	/* SCAN treats MATCH "*" as no MATCH, and so does the server's walk
	 * cost: any other pattern beside it is redundant. */
	if (mt__redis_keyset_has(&p->pats, "*", 1))
		p->kind = PLAN_ALL;
	return 0;
}

static void plan_free(struct plan *p)
{
	mt__redis_keyset_free(&p->pats);
	mt__redis_keyset_free(&p->lits);
}

/* ------------------------------------------------------ call state */

struct scan;

/* A fetch task: the values of keys [lo, lo + n). */
struct chunk {
	struct chunk *next;	       /* the call's list, newest first */
	struct scan *s;		       /* I: set before the spawn */
	mt_redis_bytes *keys;	       /* I: copies of keys.keys[lo, lo + n) */
	size_t lo, n;		       /* I */
	struct mt__redis_batch *batch; /* T: written by the task */
	int rc;			       /* T: 0 or the engine's error */
};

/* The walking thread's connection. */
struct walker {
	redisContext *c;
	int fresh;	   /* c was made for this call, not taken from cache */
	uint64_t progress; /* replies read on c */
	int io_failed;	   /* any connection broke (for the SIGPIPE guard) */
	struct mt__redis_sigpipe guard;
};

/* Field legend: I = set before the walk, read-only after (fetch tasks
 * read them); W = the walking thread only; T = chunks' task fields, read
 * by the walking thread after mt_group_wait. */
struct scan {
	mt_redis *r;		     /* I */
	struct mt__redis_node *node; /* I: the server walked (a master) */
	const char *fetch;	     /* I: NULL = keys only */
	size_t fetchlen;	     /* I */
	char count[24];		     /* I: the COUNT argument */
	struct plan plan;	     /* I */
	struct mt_redis_keyset keys; /* W */
	size_t queued;		     /* W: keys [0, queued) are in chunks */
	struct chunk *chunks;	     /* W */
	mt_group group;		     /* W: the fetch tasks */
	int spawned;		     /* W: a task was spawned into group */
	uint64_t commands, retries;  /* W: for the client's counters */
};

/* The publicly documented codes: EPIPE is a reset connection, a protocol
 * error is an I/O error. */
static int public_code(int code)
{
	if (code == EPIPE)
		return ECONNRESET;
	return code == EPROTO ? EIO : code;
}

/* -------------------------------------------------------- requests */

typedef void (*append_fn)(const struct scan *s, redisContext *c, size_t i,
			  const void *arg);

static int walker_open(struct scan *s, struct walker *w, int new_only)
{
	char why[MT_REDIS_ERRLEN];

	w->progress = 0;
	if (!new_only)
		return mt__redis_node_acquire(s->node, &w->c, &w->fresh, why,
					      sizeof why);
	w->fresh = 1;
	return mt__redis_node_connect(s->node, &w->c, why, sizeof why);
}

/* Appends k commands, reads their k replies into reps. 0, or the
 * connection's error code (then reps holds nothing). */
static int attempt(struct scan *s, struct walker *w, size_t k, append_fn append,
		   const void *arg, redisReply **reps)
{
	size_t got = 0;

	for (size_t i = 0; i < k; i++)
		append(s, w->c, i, arg);
	s->commands += k;
	while (got < k) {
		redisReply *rep = NULL;
		if (redisGetReply(w->c, (void **)&rep) != REDIS_OK || !rep) {
			int code = mt__redis_conn_error_code(w->c, errno);
			while (got > 0)
				freeReplyObject(reps[--got]);
			return public_code(code);
		}
		reps[got++] = rep;
		w->progress++;
	}
	return 0;
}

/* After request number `retried` failed with rc on w->c: drops that
 * connection and, under the retry rule of scan.h (retries on, the broken
 * connection had answered before or came from the cache, not retried
 * yet), opens a new one. Returns 0 when the request may be sent again
 * there, else rc or the new connection's error. */
static int recover(struct scan *s, struct walker *w, int rc, int retried)
{
	int may_retry = !retried && !(s->r->flags & MT_REDIS_NO_RETRY) &&
			(w->progress > 0 || !w->fresh);

	w->io_failed = 1;
	mt__redis_node_release(s->node, w->c);
	w->c = NULL;
	if (!may_retry)
		return rc;
	s->retries++;
	return walker_open(s, w, 1);
}

/* k pipelined commands and their replies, with the retry rule. */
static int request(struct scan *s, struct walker *w, size_t k, append_fn append,
		   const void *arg, redisReply **reps)
{
	int rc = w->c ? 0 : walker_open(s, w, 0);

	for (int retried = 0; rc == 0; retried = 1) {
		rc = attempt(s, w, k, append, arg, reps);
		if (rc == 0)
			return 0;
		rc = recover(s, w, rc, retried);
	}
	return rc;
}

/* ---------------------------------------------------------- fetches */

static void format_fetch(const void *ctx, size_t i, struct mt__redis_buf *b)
{
	const struct chunk *ch = ctx;

	mt__redis_buf_argc(b, 2);
	mt__redis_buf_arg(b, ch->s->fetch, ch->s->fetchlen);
	mt__redis_buf_arg(b, ch->keys[i].data, ch->keys[i].len);
}

/* A pool task: reads its chunk's values through the engine. */
static void fetch_task(void *arg)
{
	struct chunk *ch = arg;
	struct mt__redis_source src = {.n = ch->n,
				       .ctx = ch,
				       .fixed_ncmds = 1,
				       .fixed_flags = MT_REDIS_IDEMPOTENT,
				       .format = format_fetch};

	ch->rc = mt__redis_batch_new(ch->n, 0, &ch->batch);
	if (ch->rc == 0)
		ch->rc = mt__redis_engine_run(
			ch->s->r, &src, ch->batch->pub.results, ch->batch);
}

static int spawn_chunk(struct scan *s, size_t lo, size_t n)
{
	struct chunk *ch = calloc(1, sizeof *ch);
	int rc;

	if (!ch)
		return ENOMEM;
	ch->keys = malloc(n * sizeof *ch->keys);
	if (!ch->keys) {
		free(ch);
		return ENOMEM;
	}
	memcpy(ch->keys, s->keys.keys + lo, n * sizeof *ch->keys);
	ch->s = s;
	ch->lo = lo;
	ch->n = n;
	ch->next = s->chunks;
	s->chunks = ch;
	rc = mt_group_spawn(&s->group, fetch_task, ch);
	if (rc != 0) {
		s->chunks = ch->next;
		free(ch->keys);
		free(ch);
		return rc;
	}
	s->spawned = 1;
	return 0;
}

/* Hands every full chunk of new keys to a task; with `final`, the rest
 * too. */
static int queue_fetches(struct scan *s, int final)
{
	while (s->fetch && s->keys.n > s->queued &&
	       (final || s->keys.n - s->queued >= FETCH_CHUNK)) {
		size_t n = s->keys.n - s->queued;
		int rc = spawn_chunk(s, s->queued,
				     n < FETCH_CHUNK ? n : FETCH_CHUNK);
		if (rc != 0)
			return rc;
		s->queued += n < FETCH_CHUNK ? n : FETCH_CHUNK;
	}
	return 0;
}

/* ------------------------------------------------------ the literals */

static void append_exists(const struct scan *s, redisContext *c, size_t i,
			  const void *arg)
{
	const mt_redis_bytes *k = &s->plan.lits.keys[*(const size_t *)arg + i];

	redisAppendCommandArgv(c, 2, (const char *[]){"EXISTS", k->data},
			       (size_t[]){6, k->len});
}

/* Takes the k EXISTS replies of literals [lo, lo + k) and frees them. */
static int take_exists(struct scan *s, redisReply **reps, size_t lo, size_t k)
{
	int rc = 0;

	for (size_t i = 0; i < k; i++) {
		const mt_redis_bytes *key = &s->plan.lits.keys[lo + i];
		if (rc == 0 && reps[i]->type != REDIS_REPLY_INTEGER)
			rc = EIO;
		else if (rc == 0 && reps[i]->integer == 1)
			rc = mt__redis_keyset_add(&s->keys, key->data, key->len,
						  NULL);
		freeReplyObject(reps[i]);
	}
	return rc;
}

/* EXISTS for every literal pattern, a window at a time; the keys that
 * exist join the set in pattern order. */
static int exists_all(struct scan *s, struct walker *w)
{
	size_t n = s->plan.lits.n, win = s->r->window;
	redisReply **reps = malloc((n < win ? n : win) * sizeof *reps);
	int rc = reps ? 0 : ENOMEM;

	for (size_t lo = 0; lo < n && rc == 0; lo += win) {
		size_t k = n - lo < win ? n - lo : win;
		rc = request(s, w, k, append_exists, &lo, reps);
		if (rc == 0)
			rc = take_exists(s, reps, lo, k);
	}
	free(reps);
	return rc;
}

/* ---------------------------------------------------------- the walk */

static void append_scan(const struct scan *s, redisContext *c, size_t i,
			const void *cursor)
{
	const char *argv[6] = {"SCAN",	 cursor,  "COUNT",
			       s->count, "MATCH", s->plan.glob.data};
	size_t lens[6] = {4, strlen(cursor),  5, strlen(s->count),
			  5, s->plan.glob.len};

	(void)i;
	redisAppendCommandArgv(c, s->plan.kind == PLAN_MATCH ? 6 : 4, argv,
			       lens);
}

/* PLAN_MATCH: the server filtered; PLAN_WALK: any pattern matches. */
static int wanted(const struct scan *s, const redisReply *key)
{
	mt_redis_bytes k = {key->str, key->len};

	if (s->plan.kind != PLAN_WALK)
		return 1;
	for (size_t i = 0; i < s->plan.pats.n; i++)
		if (mt_redis_glob_match(s->plan.pats.keys[i], k))
			return 1;
	return 0;
}

/* The next cursor of a SCAN reply [next cursor, [key, ...]], whose
 * shape is checked here. Anything else is EIO. */
static int take_cursor(const redisReply *rep,
		       char *cursor /* OUT [CURSOR_MAX] */)
{
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[0]->len >= CURSOR_MAX ||
	    rep->element[1]->type != REDIS_REPLY_ARRAY)
		return EIO;
	memcpy(cursor, rep->element[0]->str, rep->element[0]->len + 1);
	return 0;
}

/* Files keys [lo, lo + n) of a page (n <= TAKE_BLOCK) in two passes:
 * hash the wanted ones (prefetching their slots), then add them. */
#define TAKE_BLOCK 256u
static int take_block(struct scan *s, const redisReply *keys, size_t lo,
		      size_t n)
{
	uint64_t h[TAKE_BLOCK];
	unsigned char want[TAKE_BLOCK];
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		const redisReply *k = keys->element[lo + i];
		if (k->type != REDIS_REPLY_STRING)
			return EIO;
		want[i] = (unsigned char)wanted(s, k);
		if (want[i])
			h[i] = mt__redis_keyset_hash(&s->keys, k->str, k->len);
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		const redisReply *k = keys->element[lo + i];
		if (want[i])
			rc = mt__redis_keyset_add_hashed(&s->keys, h[i], k->str,
							 k->len, NULL);
	}
	return rc;
}

/* Files the keys of a SCAN reply whose shape take_cursor checked. */
static int take_keys(struct scan *s, const redisReply *rep)
{
	const redisReply *keys = rep->element[1];
	int rc = mt__redis_keyset_reserve(&s->keys, keys->elements);

	for (size_t lo = 0; rc == 0 && lo < keys->elements; lo += TAKE_BLOCK) {
		size_t n = keys->elements - lo;
		rc = take_block(s, keys, lo, n < TAKE_BLOCK ? n : TAKE_BLOCK);
	}
	return rc;
}

/* Sends "SCAN cursor" on w->c without reading its reply. Returns 1 if
 * it went out; 0 if the connection broke, which then shows on the next
 * request() on it (and goes through the retry rule there). */
static int send_scan(struct scan *s, struct walker *w, const char *cursor)
{
	int done = 0;

	append_scan(s, w->c, 0, cursor);
	s->commands++;
	while (!done)
		if (redisBufferWrite(w->c, &done) != REDIS_OK)
			return 0;
	return 1;
}

/* The reply to a SCAN that send_scan sent; on a broken connection, the
 * same SCAN once more on a new one, under the retry rule. */
static int receive_scan(struct scan *s, struct walker *w, const char *cursor,
			redisReply **rep)
{
	int rc;

	if (redisGetReply(w->c, (void **)rep) == REDIS_OK && *rep) {
		w->progress++;
		return 0;
	}
	rc = public_code(mt__redis_conn_error_code(w->c, errno));
	for (int retried = 0; rc != 0; retried = 1) {
		rc = recover(s, w, rc, retried);
		if (rc == 0)
			rc = attempt(s, w, 1, append_scan, cursor, rep);
		if (rc == 0 || retried)
			break;
	}
	return rc;
}

/* SCAN from cursor 0 until the server says 0 again, fetches queued as
 * keys arrive. The next page is asked for as soon as its cursor is
 * known, before this page's keys are filed: the server computes page
 * k+1 while this thread hashes the keys of page k (one walk had the
 * client and the server taking turns, each idle half the time). */
static int walk(struct scan *s, struct walker *w)
{
	char cursor[CURSOR_MAX] = "0";
	size_t page = 0;
	int rc, sent = 0;

	do {
		redisReply *rep = NULL;
		rc = sent ? receive_scan(s, w, cursor, &rep) :
			    request(s, w, 1, append_scan, cursor, &rep);
		if (rc != 0)
			return rc;
		rc = take_cursor(rep, cursor);
		sent = rc == 0 && strcmp(cursor, "0") != 0 &&
		       send_scan(s, w, cursor);
		if (rc == 0)
			rc = take_keys(s, rep);
		freeReplyObject(rep);
		if (rc == 0)
			rc = queue_fetches(s, 0);
		if (rc == 0 && mt__redis_scan_page_hook)
			mt__redis_scan_page_hook(++page,
						 mt__redis_scan_page_hook_arg);
	} while (rc == 0 && strcmp(cursor, "0") != 0);
	if (rc != 0 && sent) {
		/* A reply is still due on c: it must never reach the cache,
		 * where the next user would read it as its own. */
		redisFree(w->c);
		w->c = NULL;
	}
	return rc;
}

/* Everything done on the calling thread's connection: the literals'
 * EXISTS, then the walk. The connection goes back to the cache before
 * the caller waits for the fetch tasks (a worker may run them). */
static int collect(struct scan *s)
{
	struct walker w = {0};
	int rc = 0;

	mt__redis_sigpipe_block(&w.guard);
	/* A walk without MATCH sees the literals' keys anyway. */
	if (s->plan.lits.n > 0 && !plan_walks_all(s->plan.kind))
		rc = exists_all(s, &w);
	if (rc == 0 && s->plan.kind != PLAN_EXISTS)
		rc = walk(s, &w);
	mt__redis_node_release(s->node, w.c);
	mt__redis_sigpipe_restore(&w.guard, w.io_failed);
	if (rc == 0)
		rc = queue_fetches(s, 1);
	return rc;
}

/* ---------------------------------------------------------- a cluster */

/*
 * A cluster: every master holds its own keys, and a SCAN cursor belongs
 * to one node. The literals' EXISTS go through the engine, so the router
 * sends each to its key's master (following redirects); the walk runs on
 * every master at once (one walk per master, on a participant of the
 * pool, each with its own connection and key set), and the masters' keys
 * are merged, de-duplicated, after the literals' as on one server. The
 * values are then read through the engine too (routed), in the usual
 * chunks; they are not read while the walks go on, since the key set is
 * filled only at the merge. A master that fails its walk (down, or failed
 * over mid-walk: the replica's cursor would start from 0) fails the call
 * with its error, as one server's walk does.
 */

static void format_exists(const void *ctx, size_t i, struct mt__redis_buf *b)
{
	const mt_redis_bytes *k = &((const mt_redis_bytes *)ctx)[i];

	mt__redis_buf_argc(b, 2);
	mt__redis_buf_arg(b, "EXISTS", 6);
	mt__redis_buf_arg(b, k->data, k->len);
}

static void exists_key(const void *ctx, size_t i, mt_redis_bytes *key)
{
	*key = ((const mt_redis_bytes *)ctx)[i];
}

/* The literals that exist join the set, in pattern order. */
static int exists_routed(struct scan *s)
{
	size_t n = s->plan.lits.n;
	struct mt__redis_source src = {.n = n,
				       .ctx = s->plan.lits.keys,
				       .fixed_ncmds = 1,
				       .fixed_flags = MT_REDIS_IDEMPOTENT,
				       .format = format_exists,
				       .key = exists_key};
	struct mt__redis_batch *b;
	int rc = mt__redis_batch_new(n, 0, &b);

	if (rc == 0)
		rc = mt__redis_engine_run(s->r, &src, b->pub.results, b);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const mt_redis_result *res = &b->pub.results[i];
		const mt_redis_bytes *k = &s->plan.lits.keys[i];
		if (res->status != MT_REDIS_DONE ||
		    res->reply->type != REDIS_REPLY_INTEGER)
			rc = EIO;
		else if (res->reply->integer == 1)
			rc = mt__redis_keyset_add(&s->keys, k->data, k->len,
						  NULL);
	}
	mt__redis_batch_destroy(b);
	return rc;
}

/* One walk per master; walks[k] is master k's own scan state. */
struct walks {
	struct scan *walks;
	int *rc;
};

static void walk_masters(size_t lo, size_t hi, void *arg)
{
	struct walks *ws = arg;

	for (size_t k = lo; k < hi; k++) {
		struct walker w = {0};
		mt__redis_sigpipe_block(&w.guard);
		ws->rc[k] = walk(&ws->walks[k], &w);
		mt__redis_node_release(ws->walks[k].node, w.c);
		mt__redis_sigpipe_restore(&w.guard, w.io_failed);
	}
}

/* Master k's walk: the call's plan and COUNT, no fetch (keys only). */
static void walk_init(struct scan *w, const struct scan *s,
		      struct mt__redis_node *node)
{
	memset(w, 0, sizeof *w);
	w->r = s->r;
	w->node = node;
	w->plan = s->plan; /* shared, read-only: freed with s */
	memcpy(w->count, s->count, sizeof w->count);
}

/* Merges the walks' keys (master order) and their counters into s. */
static int merge_walks(struct scan *s, struct scan *walks, const int *rcs,
		       size_t n)
{
	int rc = 0;

	for (size_t k = 0; k < n; k++) {
		const struct mt_redis_keyset *ks = &walks[k].keys;
		rc = rc ? rc : rcs[k];
		for (size_t i = 0; rc == 0 && i < ks->n; i++)
			rc = mt__redis_keyset_add(&s->keys, ks->keys[i].data,
						  ks->keys[i].len, NULL);
		s->commands += walks[k].commands;
		s->retries += walks[k].retries;
		mt__redis_keyset_free(&walks[k].keys);
	}
	return rc;
}

static int walk_cluster(struct scan *s)
{
	/* Every master serves a slot at least: at most 16,384 of them. */
	struct mt__redis_node **nodes = malloc(16384 * sizeof *nodes);
	int rc = nodes ? 0 : ENOMEM;
	size_t n = rc ? 0 : mt__redis_router_masters(s->r, nodes, 16384, &rc);
	struct scan *walks = n ? calloc(n, sizeof *walks) : NULL;
	int *rcs = n ? calloc(n, sizeof *rcs) : NULL;

	if (rc == 0 && n && (!walks || !rcs))
		rc = ENOMEM;
	for (size_t k = 0; rc == 0 && k < n; k++)
		walk_init(&walks[k], s, nodes[k]);
	struct walks ws = {walks, rcs};
	if (rc == 0 && n)
		rc = mt_for_range(s->r->pool, n, walk_masters, &ws);
	if (rc == 0)
		rc = merge_walks(s, walks, rcs, n);
	free(walks);
	free(rcs);
	free(nodes);
	return rc;
}

static int collect_cluster(struct scan *s)
{
	int rc = 0;

	if (s->plan.lits.n > 0 && !plan_walks_all(s->plan.kind))
		rc = exists_routed(s);
	if (rc == 0 && s->plan.kind != PLAN_EXISTS)
		rc = walk_cluster(s);
	if (rc == 0)
		rc = queue_fetches(s, 1);
	return rc;
}

/* ----------------------------------------------------------- result */

struct keys_obj {
	mt_redis_keys pub; /* pub.impl == this */
	struct mt_redis_keyset set;
	mt_redis_result *values;
	struct chunk *chunks;
};

static void chunks_free(struct chunk *ch)
{
	while (ch) {
		struct chunk *next = ch->next;
		if (ch->batch)
			mt__redis_batch_destroy(ch->batch);
		free(ch->keys);
		free(ch);
		ch = next;
	}
}

void mt_redis_keys_free(mt_redis_keys *k)
{
	struct keys_obj *o = k ? k->impl : NULL;

	if (!o)
		return;
	chunks_free(o->chunks);
	free(o->values);
	mt__redis_keyset_free(&o->set);
	free(o);
}

/* Copies each chunk's results to values[lo, lo + n) (the replies stay
 * owned by the chunk's batch) and counts the ones not DONE. */
static int gather(struct scan *s, mt_redis_result *values, size_t *failed)
{
	for (struct chunk *ch = s->chunks; ch; ch = ch->next) {
		if (ch->rc != 0)
			return ch->rc;
		mt__redis_batch_count(ch->batch);
		memcpy(values + ch->lo, ch->batch->pub.results,
		       ch->n * sizeof *values);
		*failed += ch->batch->pub.failed + ch->batch->pub.unknown;
	}
	return 0;
}

/* Moves the keys and the fetch results into the caller's object. */
static int assemble(struct scan *s, mt_redis_keys **out)
{
	struct keys_obj *o = calloc(1, sizeof *o);
	int rc = o ? 0 : ENOMEM;

	if (rc == 0 && s->fetch && s->keys.n > 0) {
		o->values = malloc(s->keys.n * sizeof *o->values);
		rc = o->values ? gather(s, o->values, &o->pub.failed) : ENOMEM;
	}
	if (rc != 0) {
		if (o)
			free(o->values);
		free(o);
		return rc;
	}
	o->set = s->keys;
	memset(&s->keys, 0, sizeof s->keys);
	o->chunks = s->chunks;
	s->chunks = NULL;
	o->pub.n = o->set.n;
	o->pub.keys = o->set.keys;
	o->pub.values = o->values;
	o->pub.impl = o;
	*out = &o->pub;
	return 0;
}

/* -------------------------------------------------------- the call */

static int args_ok(mt_redis *r, const char *const *patterns, size_t npatterns,
		   const mt_redis_scan_options *opts)
{
	if (!r || !patterns || npatterns == 0)
		return 0;
	for (size_t i = 0; i < npatterns; i++)
		if (!patterns[i])
			return 0;
	return !opts || !opts->fetch || opts->fetch[0] != '\0';
}

static void scan_init(struct scan *s, mt_redis *r,
		      const mt_redis_scan_options *opts)
{
	memset(s, 0, sizeof *s);
	s->r = r;
	s->node = &r->node;
	s->fetch = opts ? opts->fetch : NULL;
	s->fetchlen = s->fetch ? strlen(s->fetch) : 0;
	snprintf(s->count, sizeof s->count, "%u",
		 opts && opts->count ? opts->count : DEFAULT_COUNT);
}

int mt_redis_scan(mt_redis *r, const char *const *patterns, size_t npatterns,
		  const mt_redis_scan_options *opts, mt_redis_keys **out)
{
	struct scan s;
	int rc;

	if (!out)
		return EINVAL;
	*out = NULL;
	if (!args_ok(r, patterns, npatterns, opts))
		return EINVAL;
	rc = mt__redis_usable(r);
	if (rc != 0)
		return rc;
	scan_init(&s, r, opts);
	rc = plan_make(&s.plan, patterns, npatterns);
	if (rc == 0 && s.fetch)
		rc = mt_group_init(&s.group, r->pool);
	if (rc == 0)
		rc = r->router ? collect_cluster(&s) : collect(&s);
	/* Every task spawned must end before the call's state goes. */
	if (s.spawned)
		mt_group_wait(&s.group);
	if (rc == 0)
		rc = assemble(&s, out);
	mt__redis_count(&r->stats.commands, s.commands);
	mt__redis_count(&r->stats.retries, s.retries);
	chunks_free(s.chunks);
	mt__redis_keyset_free(&s.keys);
	plan_free(&s.plan);
	return rc;
}
