/*
 * pool/batch.c: map/for batches (see batch.h).
 */
#include "batch.h"

#include <errno.h>

#include "park.h"
#include "worker.h"

/* Claims the next chunk; returns 0 when the range is exhausted. */
static int claim_chunk(struct mt_batch *b, size_t *lo, size_t *hi)
{
	/* relaxed: the cursor only partitions indices; the items' results
	 * reach the caller through the latch (join tasks) or program order
	 * (the caller's own chunks). */
	size_t cur = atomic_load_explicit(&b->next, memory_order_relaxed);
	for (;;) {
		if (cur >= b->n)
			return 0;
		size_t left = b->n - cur;
		size_t chunk = left / ((size_t)2 * b->participants);
		if (chunk == 0)
			chunk = 1;
		if (atomic_compare_exchange_weak_explicit(
			    &b->next, &cur, cur + chunk, memory_order_relaxed,
			    memory_order_relaxed)) {
			*lo = cur;
			*hi = cur + chunk;
			return 1;
		}
	}
}

/* The loops copy the batch's fields into locals first: the compiler must
 * otherwise reload them after every call (the callee might write *b). */
static void run_map_chunk(const struct mt_batch *b, size_t lo, size_t hi)
{
	void *(*fn)(void *) = b->map_fn;
	void *const *params = b->params;
	void **results = b->results;
	for (size_t i = lo; i < hi; i++)
		results[i] = fn(params[i]);
}

static void run_for_chunk(const struct mt_batch *b, size_t lo, size_t hi)
{
	void (*body)(size_t, void *) = b->body;
	void *ctx = b->ctx;
	for (size_t i = lo; i < hi; i++)
		body(i, ctx);
}

static void run_chunk(struct mt_batch *b, size_t lo, size_t hi)
{
	if (b->range_body != NULL)
		b->range_body(lo, hi, b->ctx);
	else if (b->map_fn != NULL)
		run_map_chunk(b, lo, hi);
	else
		run_for_chunk(b, lo, hi);
}

static void run_chunks(struct mt_batch *b)
{
	size_t lo, hi;
	while (claim_chunk(b, &lo, &hi))
		run_chunk(b, lo, hi);
}

/* The join tasks participant `j` creates: indices F*j+1 .. F*j+F below
 * joins + 1. Returns the first index and stores the count in *count. */
static unsigned children_of(const struct mt_batch *b, unsigned j,
			    unsigned *count)
{
	uint64_t first = (uint64_t)MT_BATCH_FANOUT * j + 1;
	uint64_t end = first + MT_BATCH_FANOUT;
	if (end > (uint64_t)b->joins + 1)
		end = (uint64_t)b->joins + 1;
	*count = first < end ? (unsigned)(end - first) : 0;
	return (unsigned)first;
}

/* Allocates the join tasks of participants first .. first+count-1 into
 * kids; all or nothing (ENOMEM: nothing allocated). */
static int alloc_joins(struct mt_batch *b, struct mt_task **kids,
		       unsigned first, unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		kids[i] = mt__task_alloc();
		if (kids[i] == NULL) {
			while (i-- > 0)
				mt__task_free(kids[i]);
			return ENOMEM;
		}
		kids[i]->kind = MT_TASK_JOIN;
		kids[i]->u.batch = b;
		kids[i]->arg = (void *)(uintptr_t)(first + i); /* its index */
		kids[i]->heap_copy = NULL;
		atomic_init(&kids[i]->state, 0);
	}
	return 0;
}

/* Counts the children in and hands them to the pool. The caller is a live
 * participant (the waiter, or a counted join task), so the relaxed add
 * cannot meet a count of zero (latch.h). */
static void submit_joins(struct mt_pool *pool, struct mt_batch *b,
			 struct mt_task **kids, unsigned count)
{
	if (count > 0)
		mt__latch_add(&b->latch, count);
	for (unsigned i = 0; i < count; i++)
		mt__submit(pool, kids[i]);
}

/* Arrives at each child as its creator: cancels those no worker has
 * claimed (counting them down, since no worker will) and frees those a
 * worker claimed first (it no longer reads them). Before the creator's
 * own count-down: the batch is still there. */
static void release_joins(struct mt_batch *b, struct mt_task **kids,
			  unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		/* acq_rel: pairs with the worker's fetch_or (task.h). */
		uint8_t old = atomic_fetch_or_explicit(
			&kids[i]->state, MT_JOIN_OWNER, memory_order_acq_rel);
		if (old & MT_JOIN_WORKER)
			mt__task_free(kids[i]);
		else
			mt__latch_count_down(&b->latch);
	}
}

/* One participant's part: its children out, its chunks, its children
 * back. */
static void participate(struct mt_pool *pool, struct mt_batch *b,
			struct mt_task **kids, unsigned count)
{
	submit_joins(pool, b, kids, count);
	run_chunks(b);
	release_joins(b, kids, count);
}

int mt__batch_join(struct mt_pool *pool, struct mt_task *t)
{
	/* Read before our fetch_or: once it is done the creator may free t. */
	struct mt_batch *b = t->u.batch;
	unsigned j = (unsigned)(uintptr_t)t->arg;
	/* acq_rel: the hand-off of the task between us and the creator
	 * (task.h); acquire pairs with its release when it cancelled first,
	 * and with its push otherwise (b's fields). */
	uint8_t old = atomic_fetch_or_explicit(&t->state, MT_JOIN_WORKER,
					       memory_order_acq_rel);
	if (old & MT_JOIN_OWNER) {
		mt__task_free(t); /* cancelled; b may be gone: don't touch */
		return 0;
	}
	struct mt_task *kids[MT_BATCH_FANOUT];
	unsigned count;
	unsigned first = children_of(b, j, &count);
	/* Out of memory: this subtree has fewer participants; the chunks
	 * are the same and all get done. */
	if (alloc_joins(b, kids, first, count) != 0)
		count = 0;
	participate(pool, b, kids, count);
	uintptr_t key = (uintptr_t)&b->latch; /* the waiter's key, see park.h */
	if (mt__latch_count_down(&b->latch))  /* last access to the batch */
		mt__wake_latch_waiter(pool, key);
	return 1;
}

/* Join tasks for a batch: one per other worker, so that with the caller
 * there are as many participants as workers. For a caller outside the
 * pool that leaves one worker out: the caller takes its place, and with
 * one participant per worker nobody is time-sliced against a chunk
 * holder. (With a join for every worker, a 10M-item mt_for from the main
 * thread on 2 CPUs ran 3 participants on 2 cores and reached only 1.2x
 * over the sequential call loop.) Never more participants than items. */
static unsigned joins_for(struct mt_pool *pool, struct mt_batch *b)
{
	size_t helpers = pool->nworkers - 1;
	if (helpers > b->n - 1)
		helpers = b->n - 1;
	return (unsigned)helpers;
}

int mt__batch_run(struct mt_pool *pool, struct mt_batch *b)
{
	struct mt_task *kids[MT_BATCH_FANOUT];
	unsigned count;
	b->joins = joins_for(pool, b);
	unsigned first = children_of(b, 0, &count);
	int err = alloc_joins(b, kids, first, count);
	if (err != 0)
		return err;
	atomic_init(&b->next, 0);
	b->participants = b->joins + 1;
	mt__latch_init(&b->latch);
	participate(pool, b, kids, count);
	mt__wait_latch(pool, &b->latch);
	return 0;
}
