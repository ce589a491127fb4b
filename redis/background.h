/*
 * redis/background.h: the coalescing queue behind mt_redis_save_async,
 * mt_redis_publish_async, mt_redis_command_async and mt_redis_flush.
 *
 * Overview
 * ========
 * An _async call formats its commands (RESP, resp.h) into one allocation,
 * the op, appends it to the client's queue and returns. One drainer task
 * at a time runs on the client's pool: it takes everything queued (up to
 * MT__REDIS_BG_GRAB ops), runs it as ONE bulk call of the engine (so the
 * ops of many threads are pipelined together, split into shares across
 * every worker, with the engine's outcomes and retry rule), counts the
 * outcomes, and takes the next lot, until the queue is empty. That is the
 * automatic pipelining: 100k calls a second cost about what bulk calls of
 * the same items cost, not a round trip each.
 *
 * Flush: mt_redis_flush appends a marker to the queue and waits until the
 * drainer has finished the lot that holds it. Every op whose _async call
 * returned before the flush began was appended before the marker (both
 * append under the queue's mutex), so it is in the marker's lot or an
 * earlier one; lots run one after another, and a lot's markers are
 * signalled only after its whole engine call returned. So a flush waits
 * for everything queued before it, however the engine spread the lot.
 * Why one drainer and not several: with several, lots finish out of
 * order and a marker would need the watermark of every earlier lot; one
 * drainer already keeps every worker busy (its engine call fans out over
 * the pool), and while it runs, new ops pile up into the next lot.
 *
 * Nothing fails silently: each op's outcome is counted (stats bg_done,
 * bg_failed, bg_unknown, and the "since the last flush" counts and last
 * error text that mt_redis_flush reports); an op the drainer could not
 * even send (out of memory, pool shutting down) is counted FAILED.
 *
 * Usage
 * =====
 *   mt__redis_bg_create(r, &r->bg);      at open
 *   mt__redis_bg_enqueue(r, op);         by the _async calls
 *   mt__redis_bg_flush(r, &report);      mt_redis_flush, and at close
 *   mt__redis_bg_destroy(r->bg);         at close, after the flush
 *
 * Implementation notes
 * ====================
 * States of the drainer (`active`, under `lock`):
 *   0  none: the next append (op or marker) sets 1 and spawns one;
 *   1  spawned or running: appends just queue; the drainer, finding the
 *      queue empty under the lock, sets 0 and returns.
 * Because the check and the state change happen under the same lock as
 * the appends, an op can never be left in the queue with no drainer
 * coming. If mt_spawn fails (out of memory, pool being destroyed), the
 * caller drains the queue itself, so the ops still get their outcome.
 *
 * Lock order: `lock` is taken alone; the engine (and its connection
 * cache lock) is only ever called with it released.
 *
 * Field legend: I = set at create; M = under lock; A = atomic.
 */
#ifndef MTPOOL_REDIS_BACKGROUND_H
#define MTPOOL_REDIS_BACKGROUND_H

#include <mtpool/redis.h>

#include <stddef.h>

/* Ops one engine call takes at most: enough to fill every worker's
 * pipeline many windows deep, while bounding a lot's result memory and
 * letting a flush see progress. */
#define MT__REDIS_BG_GRAB 65536u

struct mt__redis_bg;

/* One queued operation: its commands in RESP, ready to send. */
struct mt__redis_bg_op {
	struct mt__redis_bg_op *next;
	struct mt__redis_bg_marker *marker; /* a flush's marker, no commands */
	size_t ncmds;			    /* commands, MULTI/EXEC excluded */
	unsigned flags;			    /* MT_REDIS_ATOMIC / _IDEMPOTENT */
	size_t len;			    /* bytes of data */
	char data[];
};

/* Sets up the queue of client r. Returns 0, ENOMEM, or a pthread error. */
int mt__redis_bg_create(mt_redis *r, struct mt__redis_bg **out /* OUT */);

/* Frees the queue; it must be empty and its drainer gone (after a
 * flush). NULL is a no-op. */
void mt__redis_bg_destroy(struct mt__redis_bg *bg);

/* Queues `op` (allocated with malloc; owned by the queue from now on,
 * also on failure, when it is freed). Returns 0, EAGAIN (max_queued ops
 * are waiting) or ESHUTDOWN (the client is closing).
 * CONTEXT: any thread; never waits for I/O (unless the drainer cannot be
 * spawned, see Implementation notes). */
int mt__redis_bg_enqueue(mt_redis *r, struct mt__redis_bg_op *op);

/* mt_redis_flush without its argument checks. `closing` also refuses
 * every later enqueue (ESHUTDOWN) and waits until the drainer is gone. */
int mt__redis_bg_flush(mt_redis *r, mt_redis_flush_report *report /* OUT */,
		       int closing);

#endif /* MTPOOL_REDIS_BACKGROUND_H */
