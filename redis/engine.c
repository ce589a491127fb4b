/*
 * redis/engine.c: the bulk executor. See engine.h for the protocol, the
 * outcomes and the retry rule.
 */
#include "engine.h"

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "router.h"
#include "sigpipe.h"

/* Windows per share at least: below two windows a share cannot overlap
 * its writes with its reads, and its fixed costs (a connection check,
 * three signal-mask system calls, the last window's round trip that
 * nothing overlaps) weigh more than the parallelism gains; a call smaller
 * than that runs on the calling thread alone, with no task hand-off. */
#define MIN_SHARE_WINDOWS 2u
/* Shares per participant: more, smaller shares let a participant that
 * started late (a helper woken after the caller began) still get work. */
#define SHARES_PER_THREAD 4u
#define SHARE_ALIGN 64

static const char unsent_oom[] = MT__REDIS_NOT_SENT
	"out of memory in the client";
static const char reply_oom[] = "out of memory in the client: a reply "
				"could not be kept";

/* One group of a call (one node). `down` is set once, by the first share
 * that finds the server unreachable (no connection could be made, or a
 * connection made for it broke before any reply: dead or stalled); later
 * shares of the group do not try it again, so a call on a dead server
 * costs one connect or command timeout, not one per share. */
struct run {
	_Atomic int claimed;	   /* A: the one writer of why */
	_Atomic int down;	   /* A: why is written */
	char why[MT_REDIS_ERRLEN]; /* written once, before down */
};

/* Cache-line aligned: the cursors change on every reply, and neighbouring
 * shares run on other threads. */
struct share {
	/* I: set before the share runs */
	_Alignas(SHARE_ALIGN) struct run *run;
	mt_redis *r;
	struct mt__redis_node *node; /* the server the share talks to */
	const struct mt__redis_source *src;
	mt_redis_result *res;
	struct mt__redis_store *store;
	size_t lo, hi;
	/* O: the running thread's state (engine.h, Implementation notes) */
	redisContext *c;		    /* hooked to store's arena */
	struct mt__redis_arena_saved saved; /* c's own reply functions */
	int fresh;			    /* c was made for this share */
	uint64_t progress;		    /* replies read on c */
	size_t sent, recv;		    /* item cursors */
	size_t recv_cmd;      /* replies of item recv already read */
	size_t inflight;      /* commands whose replies are unread */
	size_t load;	      /* window units of the unfinished items */
	size_t replayed_hi;   /* items below were sent on a broken conn */
	const char *item_err; /* first error reply of item recv */
	int item_oom;	      /* item recv's reply array: out of memory */
	int io_failed;	      /* any connection error (for SIGPIPE) */
	struct mt__redis_buf buf;
	uint64_t commands, retries, done, failed, unknown;
};

static int finished(const mt_redis_result *res)
{
	return res->reply != NULL || res->error != NULL;
}

static size_t item_ncmds(const struct mt__redis_source *s, size_t i)
{
	return s->ncmds ? s->ncmds(s->ctx, i) : s->fixed_ncmds;
}

static unsigned item_flags(const struct mt__redis_source *s, size_t i)
{
	return s->flags ? s->flags(s->ctx, i) : s->fixed_flags;
}

/* Window units of item i: its weight, or its commands on the wire. */
static size_t item_weight(const struct mt__redis_source *s, size_t i,
			  size_t wire)
{
	size_t w = s->weight ? s->weight(s->ctx, i) : s->fixed_weight;
	return w > wire ? w : wire;
}

/* Commands on the wire for item i: MULTI and EXEC count. */
static size_t wire_cmds(const struct share *sh, size_t i, unsigned flags)
{
	return item_ncmds(sh->src, i) + (flags & MT_REDIS_ATOMIC ? 2 : 0);
}

static void finish(struct share *sh, size_t i, mt_redis_status st,
		   const char *error)
{
	mt_redis_result *res = &sh->res[i];
	res->status = st;
	res->error = error;
	if (st != MT_REDIS_DONE)
		res->reply = NULL;
	sh->done += st == MT_REDIS_DONE;
	sh->failed += st == MT_REDIS_FAILED;
	sh->unknown += st == MT_REDIS_UNKNOWN;
	if (sh->src->settled)
		sh->src->settled(sh->src->ctx, i, res);
}

/* Every unfinished item in [from, hi) FAILED with `text`. */
static void fail_rest(struct share *sh, size_t from, const char *text)
{
	for (size_t i = from; i < sh->hi; i++)
		if (!finished(&sh->res[i]))
			finish(sh, i, MT_REDIS_FAILED, text);
}

/* ------------------------------------------------------------ sending */

static void format_item(struct share *sh, size_t i, unsigned flags)
{
	if (flags & MT_REDIS_ATOMIC) {
		mt__redis_buf_argc(&sh->buf, 1);
		mt__redis_buf_arg(&sh->buf, "MULTI", 5);
	}
	sh->src->format(sh->src->ctx, i, &sh->buf);
	if (flags & MT_REDIS_ATOMIC) {
		mt__redis_buf_argc(&sh->buf, 1);
		mt__redis_buf_arg(&sh->buf, "EXEC", 4);
	}
}

/* The buffer could not grow: the items formatted into it were not sent. */
static void fail_unsent(struct share *sh, size_t first, size_t inflight,
			size_t load)
{
	for (size_t i = first; i < sh->sent; i++)
		if (!finished(&sh->res[i]))
			finish(sh, i, MT_REDIS_FAILED, unsent_oom);
	sh->inflight = inflight;
	sh->load = load;
	sh->buf.len = 0;
	sh->buf.oom = 0;
}

/* Formats items until two windows are in flight, hands them to hiredis
 * and writes them out. Returns 0, or -1 on a connection error. */
static int fill(struct share *sh)
{
	size_t two = 2 * (size_t)sh->r->window;
	size_t first = sh->sent, before = sh->inflight, load = sh->load;
	sh->buf.len = 0;
	while (sh->sent < sh->hi && sh->load < two) {
		size_t i = sh->sent++;
		if (finished(&sh->res[i]))
			continue;
		unsigned flags = item_flags(sh->src, i);
		size_t wire = wire_cmds(sh, i, flags);
		format_item(sh, i, flags);
		sh->inflight += wire;
		sh->load += item_weight(sh->src, i, wire);
	}
	if (sh->buf.oom) {
		fail_unsent(sh, first, before, load);
		return 0;
	}
	if (sh->buf.len == 0)
		return 0;
	sh->commands += sh->inflight - before;
	if (redisAppendFormattedCommand(sh->c, sh->buf.p, sh->buf.len) !=
	    REDIS_OK)
		return -1;
	int done = 0;
	while (!done)
		if (redisBufferWrite(sh->c, &done) != REDIS_OK)
			return -1;
	return 0;
}

/* ----------------------------------------------------------- receiving */

/* The k-th reply of a non-atomic item of n commands. */
static void plain_reply(struct share *sh, size_t i, size_t k, size_t n,
			redisReply *rep)
{
	mt_redis_result *res = &sh->res[i];
	if (rep->type == REDIS_REPLY_ERROR && !sh->item_err)
		sh->item_err = rep->str;
	if (n == 1 && rep->type != REDIS_REPLY_ERROR) {
		/* The common case allocates nothing: replies -> reply. */
		res->reply = rep;
		res->replies = &res->reply;
		res->nreplies = 1;
		return;
	}
	if (!res->replies) {
		res->replies = mt__redis_store_alloc(sh->store,
						     n * sizeof *res->replies);
		if (!res->replies) {
			sh->item_oom = 1;
			return;
		}
	}
	((const redisReply **)res->replies)[k] = rep;
	res->nreplies = k + 1;
}

static void finish_plain(struct share *sh, size_t i)
{
	mt_redis_result *res = &sh->res[i];
	if (sh->item_oom)
		finish(sh, i, MT_REDIS_FAILED, reply_oom);
	else if (sh->item_err)
		finish(sh, i, MT_REDIS_FAILED, sh->item_err);
	else {
		res->reply = res->replies[res->nreplies - 1];
		finish(sh, i, MT_REDIS_DONE, NULL);
	}
}

/* EXEC's array: DONE unless one of the commands failed at run time (the
 * others ran: Redis has no rollback). */
static void exec_array(struct share *sh, size_t i, redisReply *rep)
{
	mt_redis_result *res = &sh->res[i];
	res->replies = (const redisReply *const *)rep->element;
	res->nreplies = rep->elements;
	for (size_t k = 0; k < rep->elements; k++)
		if (rep->element[k]->type == REDIS_REPLY_ERROR) {
			finish(sh, i, MT_REDIS_FAILED, rep->element[k]->str);
			return;
		}
	res->reply = rep;
	finish(sh, i, MT_REDIS_DONE, NULL);
}

static void exec_reply(struct share *sh, size_t i, redisReply *rep)
{
	if (rep->type == REDIS_REPLY_ARRAY) {
		exec_array(sh, i, rep);
	} else if (rep->type == REDIS_REPLY_ERROR) {
		const char *t = rep->str;
		if (sh->item_err)
			t = mt__redis_store_text(sh->store, "%s (%s)", rep->str,
						 sh->item_err);
		finish(sh, i, MT_REDIS_FAILED, t);
	} else {
		finish(sh, i, MT_REDIS_FAILED,
		       "transaction aborted: EXEC did not return an array");
	}
}

/* The k-th reply of an atomic item: MULTI's, a QUEUED or queuing error
 * (kept only when it is the first error), or EXEC's. A reply not kept
 * goes back to the arena, so +OK and +QUEUED cost no memory. */
static void atomic_reply(struct share *sh, size_t i, size_t k, size_t n,
			 redisReply *rep)
{
	if (k + 1 == n)
		exec_reply(sh, i, rep);
	else if (rep->type == REDIS_REPLY_ERROR && !sh->item_err)
		sh->item_err = rep->str;
	else
		mt__redis_arena_undo(&sh->store->arena, rep);
}

/* Gives one reply to the item it answers. */
static void take_reply(struct share *sh, redisReply *rep)
{
	while (finished(&sh->res[sh->recv]))
		sh->recv++;
	assert(sh->recv < sh->sent);
	size_t i = sh->recv, k = sh->recv_cmd++;
	unsigned flags = item_flags(sh->src, i);
	size_t n = wire_cmds(sh, i, flags);
	if (flags & MT_REDIS_ATOMIC)
		atomic_reply(sh, i, k, n, rep);
	else
		plain_reply(sh, i, k, n, rep);
	if (k + 1 < n)
		return;
	if (!(flags & MT_REDIS_ATOMIC))
		finish_plain(sh, i);
	sh->load -= item_weight(sh->src, i, n);
	sh->recv++;
	sh->recv_cmd = 0;
	sh->item_err = NULL;
	sh->item_oom = 0;
}

/* Reads replies until at most `target` window units are in flight.
 * Returns 0, or -1 on a connection error. */
static int drain(struct share *sh, size_t target)
{
	while (sh->load > target) {
		redisReply *rep = NULL;
		if (redisGetReply(sh->c, (void **)&rep) != REDIS_OK)
			return -1;
		sh->progress++;
		sh->inflight--;
		take_reply(sh, rep);
	}
	return 0;
}

/* ------------------------------------------------------ connections */

/* The share's connections are hooked to its store's arena while it holds
 * them, so hiredis builds every reply read on them there (arena.h), and
 * unhooked before anyone else may see them: the cache's next user (a
 * walk, a map function) expects hiredis's own heap replies. */
static int share_acquire(struct share *sh, char *why, size_t len)
{
	int rc = mt__redis_node_acquire(sh->node, &sh->c, &sh->fresh, why, len);
	if (rc == 0)
		mt__redis_arena_hook(&sh->store->arena, sh->c, &sh->saved);
	return rc;
}

/* As share_acquire, always a new connection (after an error). */
static int share_connect(struct share *sh, char *why, size_t len)
{
	int rc = mt__redis_node_connect(sh->node, &sh->c, why, len);
	sh->fresh = 1;
	if (rc == 0)
		mt__redis_arena_hook(&sh->store->arena, sh->c, &sh->saved);
	return rc;
}

/* Back to the node (kept, or freed if broken), unhooked first. */
static void share_release(struct share *sh)
{
	mt__redis_arena_unhook(sh->c, &sh->saved);
	mt__redis_node_release(sh->node, sh->c);
	sh->c = NULL;
}

/* -------------------------------------------------------- recovering */

static void mark_down(struct run *run, const char *why)
{
	int none = 0;
	/* Relaxed: the claim only elects the writer of why; publishing it
	 * is the release below. */
	if (!atomic_compare_exchange_strong_explicit(&run->claimed, &none, 1,
						     memory_order_relaxed,
						     memory_order_relaxed))
		return;
	snprintf(run->why, sizeof run->why, "%s", why);
	/* Release: why is complete; pairs with the acquire in down_why. */
	atomic_store_explicit(&run->down, 1, memory_order_release);
}

static const char *down_why(struct run *run)
{
	/* Acquire: pairs with the release in mark_down. */
	return atomic_load_explicit(&run->down, memory_order_acquire) ?
		       run->why :
		       NULL;
}

/* The rest of the share is not sent: `why` says why (the server is down
 * for this call). */
static void give_up(struct share *sh, const char *why)
{
	mark_down(sh->run, why);
	fail_rest(sh, sh->sent,
		  mt__redis_store_text(sh->store, MT__REDIS_NOT_SENT "%s",
				       why));
}

static int retry_allowed(const struct share *sh, size_t i)
{
	return !(sh->r->flags & MT_REDIS_NO_RETRY) && i >= sh->replayed_hi &&
	       (item_flags(sh->src, i) & MT_REDIS_IDEMPOTENT);
}

/* An in-flight item goes back to "unsent": its partial replies stay in
 * the store (freed with the batch) but are no longer its replies. */
static void reset_item(struct share *sh, size_t i)
{
	mt_redis_result *res = &sh->res[i];
	res->nreplies = 0;
	if (res->replies == &res->reply)
		res->replies = NULL;
	res->reply = NULL;
}

/* Marks the in-flight items after a connection error: UNKNOWN, or reset
 * for a replay when `may_replay`. Returns how many were reset. */
static size_t settle_inflight(struct share *sh, int may_replay,
			      const char *unknown_text)
{
	size_t replay = 0;
	for (size_t i = sh->recv; i < sh->sent; i++) {
		if (finished(&sh->res[i]))
			continue;
		if (may_replay && retry_allowed(sh, i)) {
			reset_item(sh, i);
			replay++;
		} else {
			finish(sh, i, MT_REDIS_UNKNOWN, unknown_text);
		}
	}
	sh->item_err = NULL;
	sh->item_oom = 0;
	return replay;
}

/* Rewinds the share onto a new connection: the items reset for a replay
 * go first. Returns 0, or 1 with the share given up (no connection). */
static int reconnect(struct share *sh, size_t replay, const char *unknown)
{
	char why[MT_REDIS_ERRLEN];
	/* Always a new connection: a cached one could be stalled too, and
	 * each would cost a timeout. */
	if (share_connect(sh, why, sizeof why)) {
		/* The items reset for a replay were sent once: UNKNOWN. */
		settle_inflight(sh, 0, unknown);
		give_up(sh, why);
		return 1;
	}
	sh->retries += replay;
	sh->sent = sh->recv;
	sh->recv_cmd = 0;
	sh->inflight = 0;
	sh->load = 0;
	sh->progress = 0;
	return 0;
}

/* After a connection error on sh->c: settles the in-flight items and
 * reconnects if the retry rule allows. Returns 1 to go on (sent rewound
 * to the first item to send again), 0 when the share is over. */
static int recover(struct share *sh, int saved_errno)
{
	const struct mt__redis_conn_cfg *cfg = &sh->node->cfg;
	char why[160];
	int code = mt__redis_conn_error_code(sh->c, saved_errno);
	mt__redis_conn_error_text(cfg, sh->c, code, why, sizeof why);
	const char *unknown = mt__redis_store_text(
		sh->store,
		"the connection to %s failed before the reply (%s): it may or "
		"may not have run",
		cfg->label, why);
	int may_reconnect = sh->progress > 0 || !sh->fresh;
	sh->io_failed = 1;
	share_release(sh);
	size_t replay = settle_inflight(sh, may_reconnect, unknown);
	if (sh->sent > sh->replayed_hi)
		sh->replayed_hi = sh->sent;
	if (may_reconnect)
		return reconnect(sh, replay, unknown) == 0;
	char down[sizeof cfg->label + sizeof why + 40];
	snprintf(down, sizeof down, "a new connection to %s failed too (%s)",
		 cfg->label, why);
	give_up(sh, down);
	return 0;
}

/* ----------------------------------------------------------- a share */

static void run_share(struct share *sh)
{
	char why[MT_REDIS_ERRLEN];
	sh->sent = sh->recv = sh->replayed_hi = sh->lo;
	const char *down = down_why(sh->run);
	if (down) {
		fail_rest(sh, sh->lo,
			  mt__redis_store_text(sh->store,
					       MT__REDIS_NOT_SENT "%s", down));
		return;
	}
	if (share_acquire(sh, why, sizeof why) != 0) {
		give_up(sh, why);
		return;
	}
	for (;;) {
		int err = 0;
		if (fill(sh) != 0)
			err = errno;
		else if (drain(sh, sh->sent == sh->hi ? 0 : sh->r->window))
			err = errno;
		else if (sh->sent == sh->hi && sh->inflight == 0)
			break;
		else
			continue;
		if (!recover(sh, err))
			break;
	}
	share_release(sh);
	mt__redis_buf_free(&sh->buf);
}

/* ------------------------------------------------------------ a call */

/* One participant's chunk of shares, under one SIGPIPE guard. */
static void run_shares(size_t lo, size_t hi, void *ctx)
{
	struct share *shares = ctx;
	struct mt__redis_sigpipe guard;
	int io_failed = 0;
	mt__redis_sigpipe_block(&guard);
	for (size_t k = lo; k < hi; k++) {
		run_share(&shares[k]);
		io_failed |= shares[k].io_failed;
	}
	mt__redis_sigpipe_restore(&guard, io_failed);
}

/* Window units of the first items of a call, counted until `enough`:
 * exact for a source with per-item counts, which a sum over n callbacks
 * costs far less than the round trips it plans. */
static size_t count_units(const struct mt__redis_source *s, size_t enough)
{
	size_t unit = s->fixed_weight ? s->fixed_weight : s->fixed_ncmds;
	unit = unit ? unit : 1;
	if (!s->weight && !s->ncmds)
		return s->n > enough / unit ? enough : s->n * unit;
	size_t units = 0;
	for (size_t i = 0; i < s->n && units < enough; i++) {
		unsigned f = item_flags(s, i);
		size_t wire = item_ncmds(s, i) + (f & MT_REDIS_ATOMIC ? 2 : 0);
		units += item_weight(s, i, wire);
	}
	return units;
}

/* Shares for a call: at least MIN_SHARE_WINDOWS windows each, at most
 * SHARES_PER_THREAD per worker. */
static size_t plan_shares(const mt_redis *r, const struct mt__redis_group *g)
{
	const struct mt__redis_source *s = g->src;
	size_t most = (size_t)g->node->nslots * SHARES_PER_THREAD;
	size_t per = (size_t)r->window * MIN_SHARE_WINDOWS;
	size_t by_size = count_units(s, most * per) / per;
	size_t k = by_size < most ? by_size : most;
	return k ? k : 1;
}

/* `items`: also the outcome counts (a cluster call counts its items
 * itself, once they are final, not per round). */
static void add_counters(mt_redis *r, const struct share *sh, size_t k,
			 int items)
{
	uint64_t c[6] = {0};
	for (size_t i = 0; i < k; i++) {
		c[0] += sh[i].commands;
		c[1] += sh[i].done;
		c[2] += sh[i].failed;
		c[3] += sh[i].unknown;
		c[4] += sh[i].retries;
	}
	mt__redis_count(&r->stats.commands, c[0]);
	mt__redis_count(&r->stats.retries, c[4]);
	if (!items)
		return;
	mt__redis_count(&r->stats.items_done, c[1]);
	mt__redis_count(&r->stats.items_failed, c[2]);
	mt__redis_count(&r->stats.items_unknown, c[3]);
}

/* Group g's k shares, its items cut evenly between them. */
static void init_shares(mt_redis *r, const struct mt__redis_group *g,
			struct run *run, struct share *sh, size_t k,
			struct mt__redis_store *stores)
{
	size_t n = g->src->n;
	for (size_t i = 0; i < k; i++) {
		sh[i].run = run;
		sh[i].r = r;
		sh[i].node = g->node;
		sh[i].src = g->src;
		sh[i].res = g->res;
		sh[i].store = &stores[i];
		sh[i].lo = n * i / k;
		sh[i].hi = n * (i + 1) / k;
	}
}

/* Shares per group (ks[i], 0 for an empty group); returns their total. */
static size_t plan_groups(const mt_redis *r, const struct mt__redis_group *g,
			  size_t ng, size_t *ks)
{
	size_t total = 0;
	for (size_t i = 0; i < ng; i++) {
		ks[i] = g[i].src->n ? plan_shares(r, &g[i]) : 0;
		total += ks[i];
	}
	return total;
}

/* Cache-line aligned, zeroed shares (NULL when out of memory). */
static struct share *shares_new(size_t k)
{
	struct share *sh = aligned_alloc(SHARE_ALIGN, k * sizeof *sh);
	if (sh)
		memset(sh, 0, k * sizeof *sh);
	return sh;
}

int mt__redis_engine_run_groups(mt_redis *r, const struct mt__redis_group *g,
				size_t ng, struct mt__redis_batch *b,
				int count_items)
{
	size_t *ks = calloc(ng ? ng : 1, sizeof *ks);
	struct run *runs = calloc(ng ? ng : 1, sizeof *runs);
	size_t k = ks && runs ? plan_groups(r, g, ng, ks) : 0;
	struct share *sh = k ? shares_new(k) : NULL;
	size_t first = b->nstores;
	int rc = 0;
	if (!ks || !runs || (k && !sh))
		rc = ENOMEM;
	if (rc == 0 && k && mt__redis_batch_stores(b, k) != 0)
		rc = ENOMEM;
	for (size_t i = 0, at = 0; rc == 0 && i < ng; at += ks[i++])
		init_shares(r, &g[i], &runs[i], sh + at, ks[i],
			    b->stores + first + at);
	if (rc == 0 && k == 1)
		run_shares(0, 1, sh);
	else if (rc == 0 && k > 1)
		rc = mt_for_range(r->pool, k, run_shares, sh);
	if (rc == 0)
		add_counters(r, sh, k, count_items);
	free(sh);
	free(runs);
	free(ks);
	return rc;
}

int mt__redis_engine_run(mt_redis *r, const struct mt__redis_source *src,
			 mt_redis_result *res, struct mt__redis_batch *b)
{
	if (src->n == 0)
		return 0;
	if (r->router)
		return mt__redis_router_run(r, src, res, b);
	struct mt__redis_group g = {&r->node, src, res};
	return mt__redis_engine_run_groups(r, &g, 1, b, 1);
}
