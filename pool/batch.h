/*
 * pool/batch.h: one fork-join batch for mt_map / mt_for.
 *
 * Overview
 * ========
 * A batch is a range [0, n) of independent items, one descriptor on the
 * caller's stack and one latch. Its participants are the caller and k join
 * tasks, one per worker but one (so that with the caller there are as
 * many participants as workers) and never more than n - 1; every
 * participant takes chunks from a shared atomic cursor, guided-style: each
 * chunk is remaining / (2 * participants) items (at least 1), so early
 * chunks are large (few atomic operations on big inputs) and late ones
 * small (an unbalanced tail is shared out).
 *
 * The join tasks form a tree: participant j (the caller is 0) creates the
 * join tasks of participants F*j+1 .. F*j+F that exist (F =
 * MT_BATCH_FANOUT) before it takes its first chunk, and, once the range is
 * exhausted, cancels those no worker has picked up yet. So the caller does
 * O(F) work however large the pool, the tasks reach a 1,000-worker pool in
 * a few rounds of stealing, and no participant counts anything but the
 * latch: no shared counter joins the hot path. A small input is never cut
 * into more chunks than there are items, and cancellation means a tiny map
 * never waits for a worker to wake up.
 *
 * The latch counts join tasks that may still touch the batch (each added
 * by its creator, a live participant, before the push); the caller returns
 * only when it is open, and a join task's count-down is its last access,
 * so the stack descriptor is never used after the caller returns.
 */
#ifndef MTPOOL_POOL_BATCH_H
#define MTPOOL_POOL_BATCH_H

#include <stdatomic.h>
#include <stddef.h>

#include "cc.h"
#include "latch.h"
#include "pool.h"
#include "task.h"

/* Children per participant in the tree of join tasks. 4: a 200-worker
 * pool is reached in 4 rounds of stealing (1 + 4 + 16 + 64 + 256), and a
 * 2-worker pool's caller creates its one join task as before. */
#define MT_BATCH_FANOUT 4u

struct mt_batch {
	_Alignas(MT_CACHELINE) _Atomic size_t next; /* A: next unclaimed item */
	/* The read-only fields start a line of their own: every participant's
	 * CAS on `next` would otherwise evict the fields they all read. */
	_Alignas(MT_CACHELINE) size_t n; /* I */
	unsigned participants;		 /* I: caller + join tasks */
	unsigned joins;			 /* I: join tasks in the tree */
	/* The work: map (fn, params, results), for (body, ctx) or
	 * for_range (range_body, ctx); exactly one function is set. */
	void *(*map_fn)(void *);      /* I */
	void *const *params;	      /* I */
	void **results;		      /* I: disjoint items per chunk */
	void (*body)(size_t, void *); /* I */
	void (*range_body)(size_t, size_t, void *); /* I */
	void *ctx;				    /* I */
	struct mt_latch latch; /* A: join tasks still running */
};

/* Runs the batch on `pool` with the caller participating; returns 0, or
 * ENOMEM (nothing ran). Admission (ESHUTDOWN) is the caller's job. `b` is
 * set up by the caller except `next`, `participants`, `joins` and
 * `latch`. */
MT_HIDDEN int mt__batch_run(struct mt_pool *pool, struct mt_batch *b);

/* Runs a join task (a worker of `pool`); returns 1 if it joined its batch,
 * 0 if the batch owner had cancelled it (then it only freed the task). */
MT_HIDDEN int mt__batch_join(struct mt_pool *pool, struct mt_task *t);

#endif /* MTPOOL_POOL_BATCH_H */
