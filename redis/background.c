/*
 * redis/background.c: the coalescing queue and the public _async and
 * flush calls. See background.h for the protocol and why it is correct.
 */
#include "background.h"

#include <errno.h>
#include <pthread.h>
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
	mt_redis *r;			     /* I */
	pthread_mutex_t lock;		     /* guards every M field */
	pthread_cond_t cond;		     /* markers done; drainer gone */
	struct mt__redis_bg_op *head, *tail; /* M: FIFO queue */
	size_t queued; /* M: ops in the queue (not markers) */
	int active;    /* M: 0 no drainer, 1 spawned or running */
	int closing;   /* M: enqueue refused */
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

/* Takes up to MT__REDIS_BG_GRAB ops (and the markers among them) off
 * the queue, under the lock. Returns the lot's first entry. */
static struct mt__redis_bg_op *grab(struct mt__redis_bg *bg, size_t *nops)
{
	struct mt__redis_bg_op *first = bg->head, *last = NULL, *e = first;
	size_t n = 0;
	while (e && n < MT__REDIS_BG_GRAB) {
		n += e->marker == NULL;
		last = e;
		e = e->next;
	}
	if (last) {
		last->next = NULL;
		bg->head = e;
		if (!e)
			bg->tail = NULL;
	}
	bg->queued -= n;
	*nops = n;
	return first;
}

/* Sends a lot's ops (everything but markers), then frees them; the
 * markers stay in the list for finish_lot. */
static void send_lot(mt_redis *r, struct mt__redis_bg_op *lot, size_t n,
		     struct tally *t)
{
	struct mt__redis_bg_op **ops = n ? malloc(n * sizeof *ops) : NULL;
	size_t k = 0;
	for (struct mt__redis_bg_op *e = lot; e && n; e = e->next)
		if (!e->marker && ops)
			ops[k++] = e;
	if (n && !ops)
		tally_unsent(t, n, ENOMEM);
	else if (n)
		run_lot(r, ops, n, t);
	free(ops);
}

/* Counts the lot, releases its markers' flushes, frees its entries. */
static void finish_lot(struct mt__redis_bg *bg, struct mt__redis_bg_op *lot,
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
	while (lot) {
		struct mt__redis_bg_op *next = lot->next;
		if (lot->marker)
			lot->marker->done = 1;
		else
			free(lot);
		lot = next;
	}
	pthread_cond_broadcast(&bg->cond);
	pthread_mutex_unlock(&bg->lock);
}

/* The drainer: lots until the queue is empty, then state 0. The store
 * of active = 0 and the broadcast are under the lock, so a closing flush
 * that sees 0 knows this task no longer touches bg. */
static void drain(void *arg)
{
	struct mt__redis_bg *bg = arg;
	for (;;) {
		size_t n;
		pthread_mutex_lock(&bg->lock);
		struct mt__redis_bg_op *lot = grab(bg, &n);
		if (!lot) {
			bg->active = 0;
			pthread_cond_broadcast(&bg->cond);
			pthread_mutex_unlock(&bg->lock);
			return;
		}
		pthread_mutex_unlock(&bg->lock);
		struct tally t = {0};
		send_lot(bg->r, lot, n, &t);
		finish_lot(bg, lot, &t);
	}
}

/* ----------------------------------------------------------- appending */

/* Appends an entry under the lock; says whether a drainer must start. */
static int append_locked(struct mt__redis_bg *bg, struct mt__redis_bg_op *e)
{
	e->next = NULL;
	if (bg->tail)
		bg->tail->next = e;
	else
		bg->head = e;
	bg->tail = e;
	bg->queued += e->marker == NULL;
	if (bg->active)
		return 0;
	bg->active = 1;
	return 1;
}

/* Starts the drainer; when the pool refuses the task, this thread drains
 * (the ops must get their outcome; the call then takes that long). */
static void start_drainer(struct mt__redis_bg *bg)
{
	if (mt_spawn(bg->r->pool, drain, bg) != 0)
		drain(bg);
}

int mt__redis_bg_enqueue(mt_redis *r, struct mt__redis_bg_op *op)
{
	struct mt__redis_bg *bg = r->bg;
	op->marker = NULL;
	pthread_mutex_lock(&bg->lock);
	int rc = bg->closing		     ? ESHUTDOWN :
		 bg->queued >= r->max_queued ? EAGAIN :
					       0;
	int start = rc == 0 && append_locked(bg, op);
	pthread_mutex_unlock(&bg->lock);
	if (rc) {
		free(op);
		return rc;
	}
	mt__redis_count(&r->stats.bg_queued, 1);
	if (start)
		start_drainer(bg);
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
	pthread_mutex_lock(&bg->lock);
	bg->closing |= closing;
	int start = append_locked(bg, &entry);
	pthread_mutex_unlock(&bg->lock);
	if (start)
		start_drainer(bg);
	pthread_mutex_lock(&bg->lock);
	while (!marker.done || (closing && bg->active))
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
			   flags | MT_REDIS_IDEMPOTENT | MT__REDIS_KEYED,
			   fmt_save, model);
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
