/*
 * redis/background.h: the coalescing queue behind mt_redis_save_async,
 * mt_redis_publish_async, mt_redis_command_async and mt_redis_flush.
 *
 * Overview
 * ========
 * An _async call formats its commands (RESP, resp.h) into one allocation,
 * the op, pushes it into the client's queue and returns. One drainer task
 * at a time runs on the client's pool: it takes everything queued (up to
 * MT__REDIS_BG_GRAB ops), runs it as ONE bulk call of the engine (so the
 * ops of many threads are pipelined together, split into shares across
 * every worker, with the engine's outcomes and retry rule), counts the
 * outcomes, and takes the next lot, until the queue is empty. That is the
 * automatic pipelining: 100k calls a second cost about what bulk calls of
 * the same items cost, not a round trip each.
 *
 * Flush: mt_redis_flush pushes a marker into the queue and waits until
 * the drainer has finished the lot that holds it. Every op whose _async
 * call returned before the flush began was pushed before the marker, so
 * it comes before it in queue order: in the marker's lot or an earlier
 * one. Lots run one after another, and a lot's markers are signalled only
 * after its whole engine call returned. So a flush waits for everything
 * queued before it, however the engine spread the lot over the workers.
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
 * The queue is a Treiber stack (`top`): a pusher links its entry with one
 * compare-exchange and never locks, so many threads queueing 100k ops a
 * second do not convoy on a mutex; the drainer takes the whole stack with
 * one exchange and reverses it into queue order (push order, which
 * respects every push that finished before another began).
 *
 * States of the drainer (`active`):
 *   0  none: the pusher that moves it 0 -> 1 (compare-exchange) spawns
 *      one; other pushers just push;
 *   1  spawned or running: it takes and runs lots until it finds the
 *      stack empty, then stores 0 and looks at the stack once more; if
 *      an entry arrived meanwhile it moves 0 -> 1 itself and goes on
 *      (unless a pusher already did and spawned another).
 * No lost entry: a pusher pushes, then reads `active`; the drainer
 * stores 0, then reads `top`; all four are seq_cst, so in their single
 * total order one of the two reads sees the other's write. If mt_spawn
 * fails (out of memory, pool being destroyed), the pusher drains the
 * queue itself, so the ops still get their outcome.
 *
 * The lock guards only the flush side: the counts since the last flush,
 * the markers' `done`, and the drainer's move to 0 (so that a closing
 * flush that sees 0 under the lock knows the drainer no longer touches
 * the queue, which close then frees). It is a leaf: the engine is never
 * called with it held.
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
 * CONTEXT: any thread; lock-free; never waits for I/O (unless the
 * drainer cannot be spawned, see Implementation notes). */
int mt__redis_bg_enqueue(mt_redis *r, struct mt__redis_bg_op *op);

/* mt_redis_flush without its argument checks. `closing` also refuses
 * every later enqueue (ESHUTDOWN) and waits until the drainer is gone. */
int mt__redis_bg_flush(mt_redis *r, mt_redis_flush_report *report /* OUT */,
		       int closing);

#endif /* MTPOOL_REDIS_BACKGROUND_H */
