/*
 * redis/background.c: the coalescing queue and the public _async and
 * flush calls. See background.h for the protocol and why it is correct.
 */
#include "background.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "client.h"
#include "engine.h"
#include "ops.h"
#include "resp.h"

/* A flush's place in the queue; lives on the flushing thread's stack.
 * The drainer sets `done` under the lock; the flusher reads it under the
 * lock, so the drainer's last access is before it unlocks (STYLE 52). */
struct mt__redis_bg_marker {
	int done; /* M */
};

struct mt__redis_bg {
	mt_redis *r; /* I */
	/* A: every pushed entry not yet taken, newest first (a Treiber
	 * stack: pushers never lock; the drainer takes all at once). */
	_Atomic(struct mt__redis_bg_op *) top;
	_Atomic size_t queued; /* A: ops pushed, not yet taken */
	_Atomic int active;    /* A: the drainer state, see the header */
	_Atomic int closing;   /* A: enqueue refused */
	pthread_mutex_t lock;  /* guards every M field */
	pthread_cond_t cond;   /* markers done; drainer gone */
	/* M: outcomes since the last flush */
	uint64_t done, failed, unknown;
	char last_error[MT_REDIS_ERRLEN];
};

int mt__redis_bg_create(mt_redis *r, struct mt__redis_bg **out)
{
	*out = NULL;
	struct mt__redis_bg *bg = calloc(1, sizeof *bg);
	if (!bg)
		return ENOMEM;
	bg->r = r;
	int rc = pthread_mutex_init(&bg->lock, NULL);
	if (rc) {
		free(bg);
		return rc;
	}
	rc = pthread_cond_init(&bg->cond, NULL);
	if (rc) {
		pthread_mutex_destroy(&bg->lock);
		free(bg);
		return rc;
	}
	*out = bg;
	return 0;
}

void mt__redis_bg_destroy(struct mt__redis_bg *bg)
{
	if (!bg)
		return;
	pthread_cond_destroy(&bg->cond);
	pthread_mutex_destroy(&bg->lock);
	free(bg);
}

/* ------------------------------------------------------------ draining */

/* What the engine reads: the ops of one lot, in queue order. */
static size_t op_ncmds(const void *ctx, size_t i)
{
	return ((struct mt__redis_bg_op *const *)ctx)[i]->ncmds;
}

static unsigned op_flags(const void *ctx, size_t i)
{
	return ((struct mt__redis_bg_op *const *)ctx)[i]->flags;
}

static void op_format(const void *ctx, size_t i, struct mt__redis_buf *b)
{
	const struct mt__redis_bg_op *op =
		((struct mt__redis_bg_op *const *)ctx)[i];
	mt__redis_buf_raw(b, op->data, op->len);
}

/* A lot's outcome, added to the queue's counts under the lock. */
struct tally {
	uint64_t done, failed, unknown;
	char last_error[MT_REDIS_ERRLEN];
};

static void tally_batch(struct tally *t, const mt_redis_batch *b)
{
	t->done += b->done;
	t->failed += b->failed;
	t->unknown += b->unknown;
	for (size_t i = b->n; i-- > 0;)
		if (b->results[i].status != MT_REDIS_DONE) {
			snprintf(t->last_error, sizeof t->last_error, "%s",
				 b->results[i].error);
			break;
		}
}

/* The lot could not be sent at all: every op FAILED, counted. */
static void tally_unsent(struct tally *t, size_t n, int err)
{
	t->failed += n;
	snprintf(t->last_error, sizeof t->last_error, "not sent: %s",
		 mt_strerror(err));
}

/* Runs the n ops of a lot as one engine call. */
static void run_lot(mt_redis *r, struct mt__redis_bg_op **ops, size_t n,
		    struct tally *t)
{
	struct mt__redis_source src = {.n = n,
				       .ctx = ops,
				       .ncmds = op_ncmds,
				       .flags = op_flags,
				       .format = op_format};
	struct mt__redis_batch *b;
	int rc = mt__redis_batch_new(n, 0, &b);
	if (rc == 0)
		rc = mt__redis_engine_run(r, &src, b->pub.results, b);
	if (rc == 0) {
		mt__redis_batch_count(b);
		tally_batch(t, &b->pub);
	} else {
		tally_unsent(t, n, rc);
	}
	mt__redis_batch_destroy(b);
}

/* Takes every pushed entry, oldest first; *nops counts the ops among
 * them and is taken off `queued`. */
static struct mt__redis_bg_op *take_all(struct mt__redis_bg *bg, size_t *nops)
{
	/* Acquire: the entries' contents; pairs with the release of the
	 * push's compare-exchange. */
	struct mt__redis_bg_op *e =
		atomic_exchange_explicit(&bg->top, NULL, memory_order_acquire);
	struct mt__redis_bg_op *fifo = NULL;
	size_t n = 0;
	while (e) {
		struct mt__redis_bg_op *next = e->next;
		e->next = fifo;
		fifo = e;
		n += e->marker == NULL;
		e = next;
	}
	/* Relaxed: `queued` is a bound, ordering nothing. */
	atomic_fetch_sub_explicit(&bg->queued, n, memory_order_relaxed);
	*nops = n;
	return fifo;
}

/* Cuts the first lot (up to MT__REDIS_BG_GRAB ops, and the markers among
 * them) off the list; returns it, leaves the rest in *rest. */
static struct mt__redis_bg_op *cut_lot(struct mt__redis_bg_op **rest,
				       size_t *nops)
{
	struct mt__redis_bg_op *first = *rest, *last = NULL, *e = first;
	size_t n = 0;
	while (e && n < MT__REDIS_BG_GRAB) {
		n += e->marker == NULL;
		last = e;
		e = e->next;
	}
	if (last)
		last->next = NULL;
	*rest = e;
	*nops = n;
	return first;
}

/* Sends a lot's ops (everything but markers) and frees them; the
 * markers are moved to *markers for finish_lot. */
static void send_lot(mt_redis *r, struct mt__redis_bg_op *lot, size_t n,
		     struct mt__redis_bg_op **markers, struct tally *t)
{
	struct mt__redis_bg_op **ops = n ? malloc(n * sizeof *ops) : NULL;
	size_t k = 0;
	for (struct mt__redis_bg_op *e = lot; e; e = e->next)
		if (!e->marker && ops)
			ops[k++] = e;
	if (n && !ops)
		tally_unsent(t, n, ENOMEM);
	else if (n)
		run_lot(r, ops, n, t);
	free(ops);
	*markers = NULL;
	while (lot) {
		struct mt__redis_bg_op *next = lot->next;
		if (lot->marker) {
			lot->next = *markers;
			*markers = lot;
		} else {
			free(lot);
		}
		lot = next;
	}
}

/* Counts the lot and releases its markers' flushes: every op queued
 * before them is in this lot or an earlier one, all finished. */
static void finish_lot(struct mt__redis_bg *bg, struct mt__redis_bg_op *m,
		       const struct tally *t)
{
	mt_redis *r = bg->r;
	mt__redis_count(&r->stats.bg_done, t->done);
	mt__redis_count(&r->stats.bg_failed, t->failed);
	mt__redis_count(&r->stats.bg_unknown, t->unknown);
	pthread_mutex_lock(&bg->lock);
	bg->done += t->done;
	bg->failed += t->failed;
	bg->unknown += t->unknown;
	if (t->last_error[0])
		memcpy(bg->last_error, t->last_error, sizeof bg->last_error);
	while (m) {
		struct mt__redis_bg_op *next = m->next;
		m->marker->done = 1;
		m = next;
	}
	pthread_cond_broadcast(&bg->cond);
	pthread_mutex_unlock(&bg->lock);
}

/* Runs everything taken, lot by lot, in queue order. */
static void run_taken(struct mt__redis_bg *bg, struct mt__redis_bg_op *list)
{
	while (list) {
		size_t n;
		struct mt__redis_bg_op *lot = cut_lot(&list, &n), *markers;
		struct tally t = {0};
		send_lot(bg->r, lot, n, &markers, &t);
		finish_lot(bg, markers, &t);
	}
}

/* The queue looks empty: state 0, unless an entry arrived meanwhile and
 * no one else started a drainer for it. Returns 1 to go on draining. The
 * store of 0 comes before the re-check of `top` (seq_cst both), and a
 * pusher pushes before it reads `active` (seq_cst both): in their single
 * total order either the re-check sees the push or the pusher sees 0 and
 * starts a drainer, so no entry is left without one. Under the lock, so
 * that a closing flush that sees 0 knows this task is done with bg. */
static int idle_or_resume(struct mt__redis_bg *bg)
{
	pthread_mutex_lock(&bg->lock);
	atomic_store_explicit(&bg->active, 0, memory_order_seq_cst);
	int resume = 0;
	if (atomic_load_explicit(&bg->top, memory_order_seq_cst)) {
		int idle = 0;
		resume = atomic_compare_exchange_strong_explicit(
			&bg->active, &idle, 1, memory_order_seq_cst,
			memory_order_seq_cst);
	}
	if (!resume)
		pthread_cond_broadcast(&bg->cond);
	pthread_mutex_unlock(&bg->lock);
	return resume;
}

/* The drainer: takes and runs everything, until the queue is empty. */
static void drain(void *arg)
{
	struct mt__redis_bg *bg = arg;
	for (;;) {
		size_t n;
		struct mt__redis_bg_op *list = take_all(bg, &n);
		if (list)
			run_taken(bg, list);
		else if (!idle_or_resume(bg))
			return;
	}
}

/* ----------------------------------------------------------- appending */

/* Pushes an entry; lock-free. */
static void push(struct mt__redis_bg *bg, struct mt__redis_bg_op *e)
{
	struct mt__redis_bg_op *old =
		atomic_load_explicit(&bg->top, memory_order_relaxed);
	do
		e->next = old;
	/* seq_cst: publishes the entry (release, paired with take_all's
	 * acquire) and orders the push before the load of `active` in
	 * start_if_idle (see idle_or_resume). */
	while (!atomic_compare_exchange_weak_explicit(
		&bg->top, &old, e, memory_order_seq_cst, memory_order_relaxed));
}

/* Starts a drainer when none is running; when the pool refuses the task,
 * this thread drains (the ops must get their outcome; the call then
 * takes that long). */
static void start_if_idle(struct mt__redis_bg *bg)
{
	int idle = 0;
	if (atomic_load_explicit(&bg->active, memory_order_seq_cst) != 0 ||
	    !atomic_compare_exchange_strong_explicit(&bg->active, &idle, 1,
						     memory_order_seq_cst,
						     memory_order_seq_cst))
		return;
	if (mt_spawn(bg->r->pool, drain, bg) != 0)
		drain(bg);
}

int mt__redis_bg_enqueue(mt_redis *r, struct mt__redis_bg_op *op)
{
	struct mt__redis_bg *bg = r->bg;
	op->marker = NULL;
	/* Relaxed: closing is set before close waits (no call may run
	 * concurrently with close), and `queued` is only a bound. */
	int rc = atomic_load_explicit(&bg->closing, memory_order_relaxed) ?
			 ESHUTDOWN :
			 0;
	if (!rc &&
	    atomic_fetch_add_explicit(&bg->queued, 1, memory_order_relaxed) >=
		    r->max_queued) {
		atomic_fetch_sub_explicit(&bg->queued, 1, memory_order_relaxed);
		rc = EAGAIN;
	}
	if (rc) {
		free(op);
		return rc;
	}
	push(bg, op);
	mt__redis_count(&r->stats.bg_queued, 1);
	start_if_idle(bg);
	return 0;
}

/* Fills the report from the counts since the last flush, and resets
 * them; under the lock. Returns EIO when any op failed or is unknown. */
static int report_locked(struct mt__redis_bg *bg, mt_redis_flush_report *rep)
{
	int rc = bg->failed || bg->unknown ? EIO : 0;
	if (rep) {
		rep->done = bg->done;
		rep->failed = bg->failed;
		rep->unknown = bg->unknown;
		memcpy(rep->last_error, bg->last_error, sizeof rep->last_error);
	}
	bg->done = bg->failed = bg->unknown = 0;
	bg->last_error[0] = '\0';
	return rc;
}

int mt__redis_bg_flush(mt_redis *r, mt_redis_flush_report *report, int closing)
{
	struct mt__redis_bg *bg = r->bg;
	struct mt__redis_bg_marker marker = {0};
	/* A marker entry without data: queued like an op, sent never. */
	struct mt__redis_bg_op entry = {.marker = &marker};
	if (closing)
		atomic_store_explicit(&bg->closing, 1, memory_order_relaxed);
	push(bg, &entry);
	start_if_idle(bg);
	pthread_mutex_lock(&bg->lock);
	while (!marker.done ||
	       (closing &&
		atomic_load_explicit(&bg->active, memory_order_relaxed)))
		pthread_cond_wait(&bg->cond, &bg->lock);
	int rc = report_locked(bg, report);
	pthread_mutex_unlock(&bg->lock);
	return rc;
}

/* ------------------------------------------------------ the public calls */

/* The checks every background call makes first. */
static int bg_begin(mt_redis *r)
{
	return r ? mt__redis_usable(r) : EINVAL;
}

/* Formats with `fmt` into a new op; NULL when out of memory. */
static struct mt__redis_bg_op *
new_op(size_t ncmds, unsigned flags,
       void (*fmt)(const void *, struct mt__redis_buf *), const void *arg)
{
	char small[512];
	struct mt__redis_buf b = {.p = small, .cap = sizeof small, .ext = 1};
	fmt(arg, &b);
	struct mt__redis_bg_op *op = b.oom ? NULL : malloc(sizeof *op + b.len);
	if (op) {
		*op = (struct mt__redis_bg_op){
			.ncmds = ncmds, .flags = flags, .len = b.len};
		memcpy(op->data, b.p, b.len);
	}
	mt__redis_buf_free(&b);
	return op;
}

static int enqueue_new(mt_redis *r, size_t ncmds, unsigned flags,
		       void (*fmt)(const void *, struct mt__redis_buf *),
		       const void *arg)
{
	struct mt__redis_bg_op *op = new_op(ncmds, flags, fmt, arg);
	return op ? mt__redis_bg_enqueue(r, op) : ENOMEM;
}

static void fmt_save(const void *arg, struct mt__redis_buf *b)
{
	mt__redis_format_save(arg, b);
}

int mt_redis_save_async(mt_redis *r, const mt_redis_model *model,
			unsigned flags)
{
	int rc = bg_begin(r);
	if (rc)
		return rc;
	if (!model || (flags & ~MT_REDIS_ATOMIC) ||
	    !mt__redis_model_ok(model, 1))
		return EINVAL;
	return enqueue_new(r, mt__redis_save_ncmds(model),
			   flags | MT_REDIS_IDEMPOTENT, fmt_save, model);
}

struct publish_args {
	mt_redis_bytes channel, message;
};

static void fmt_publish(const void *arg, struct mt__redis_buf *b)
{
	const struct publish_args *p = arg;
	mt__redis_buf_argc(b, 3);
	mt__redis_buf_arg(b, "PUBLISH", 7);
	mt__redis_buf_arg(b, p->channel.data, p->channel.len);
	mt__redis_buf_arg(b, p->message.data, p->message.len);
}

int mt_redis_publish_async(mt_redis *r, mt_redis_bytes channel,
			   mt_redis_bytes message)
{
	int rc = bg_begin(r);
	if (rc)
		return rc;
	if (!mt__redis_bytes_ok(channel) || !mt__redis_bytes_ok(message))
		return EINVAL;
	struct publish_args p = {channel, message};
	/* Never idempotent: a replayed message is delivered twice. */
	return enqueue_new(r, 1, 0, fmt_publish, &p);
}

static void fmt_cmd(const void *arg, struct mt__redis_buf *b)
{
	mt__redis_format_cmd(arg, b);
}

int mt_redis_command_async(mt_redis *r, const mt_redis_cmd *cmd, unsigned flags)
{
	int rc = bg_begin(r);
	if (rc)
		return rc;
	if (!cmd || !mt__redis_cmd_ok(cmd) || (flags & ~MT_REDIS_IDEMPOTENT))
		return EINVAL;
	return enqueue_new(r, 1, flags, fmt_cmd, cmd);
}

int mt_redis_flush(mt_redis *r, mt_redis_flush_report *report)
{
	int rc = bg_begin(r);
	if (rc)
		return rc;
	if (mt_current_pool() == r->pool)
		return EDEADLK;
	return mt__redis_bg_flush(r, report, 0);
}
