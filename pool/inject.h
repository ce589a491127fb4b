/*
 * pool/inject.h: the injection queue, through which threads that are not
 * workers of a pool hand it tasks.
 *
 * Overview
 * ========
 * Many producers (any thread), many consumers (the pool's workers). A
 * bounded lock-free ring takes the common case; when it is full, tasks go
 * to an overflow list under a mutex, so a submission never fails for lack
 * of room and never blocks on a consumer. No FIFO promise across the two.
 *
 *   mt__inject_init(&q, MT_INJECT_LOG2);   0 or ENOMEM
 *   mt__inject_push_mp(&q, task);          any thread, never fails
 *   task = mt__inject_pop_mc(&q);          any thread, NULL if empty
 *   mt__inject_destroy(&q);                quiescent, queue empty
 *
 * Implementation notes
 * ====================
 * The ring is a bounded MPMC queue with a sequence number per cell
 * (D. Vyukov's design): a producer claims a cell by CAS on `tail`, writes
 * the item, then publishes the cell by a release store of its sequence;
 * a consumer claims by CAS on `head` after an acquire load of the cell's
 * sequence. Why not ck_ring_*_mpmc: it copies slots with memcpy and
 * publishes them with ck_pr fences, which ThreadSanitizer cannot model,
 * so every hand-over would be reported; here each hand-over is a C11
 * release/acquire pair the sanitizer checks. Progress: a producer that is
 * preempted between its CAS and its publishing store makes that one cell
 * look empty to consumers until it resumes (its push is not yet visible,
 * which is harmless: the producer wakes a worker after the push returns).
 */
#ifndef MTPOOL_POOL_INJECT_H
#define MTPOOL_POOL_INJECT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cc.h"

struct mt_task;

/* 16,384 cells (256 KiB per pool): one thread submitting a million empty
 * tasks runs ahead of two workers; with 4,096 cells the overflow list (a
 * mutex per task) took over in the detached-throughput bench. */
#define MT_INJECT_LOG2 14

struct mt_inject_cell {
	_Atomic size_t seq;		/* A: see inject.c */
	_Atomic(struct mt_task *) item; /* A: relaxed, published by seq */
};

/* Field legend: A atomic, I set at init, M under overflow_lock. */
struct mt_inject {
	_Alignas(MT_CACHELINE) _Atomic size_t head; /* A: next cell to pop */
	_Alignas(MT_CACHELINE) _Atomic size_t tail; /* A: next cell to push */
	_Alignas(MT_CACHELINE) struct mt_inject_cell *cells; /* I */
	size_t mask;					     /* I */
	_Atomic size_t overflow_len; /* A: written under the lock */
	pthread_mutex_t overflow_lock;
	struct mt_task *overflow_head; /* M */
	struct mt_task *overflow_tail; /* M */
};

/* Returns 0, or ENOMEM or pthread_mutex_init's error; on failure nothing
 * is allocated or initialised, and mt__inject_destroy must not be called. */
MT_HIDDEN int mt__inject_init(struct mt_inject *q, unsigned log2_cells);
/* As mt__inject_init, but the ring starts as if `start` pushes and pops had
 * already happened (head = tail = start). Tests use it to put the size_t
 * positions next to their wrap-around, which no real run ever reaches. */
MT_HIDDEN int mt__inject_init_at(struct mt_inject *q, unsigned log2_cells,
				 size_t start);
MT_HIDDEN void mt__inject_destroy(struct mt_inject *q);
MT_HIDDEN void mt__inject_push_mp(struct mt_inject *q, struct mt_task *t);
MT_HIDDEN struct mt_task *mt__inject_pop_mc(struct mt_inject *q);
/* Nonzero if the queue may hold a task. The loads are seq_cst so that a
 * worker re-checking after announcing sleep is ordered after its fence. */
MT_HIDDEN int mt__inject_maybe_nonempty(struct mt_inject *q);

#endif /* MTPOOL_POOL_INJECT_H */
