/*
 * pool/task.h: the unit of work, and where its memory comes from.
 *
 * Overview
 * ========
 * A task is a fixed-size block: a function, its argument, what to signal
 * when it finishes, and room for a small copied argument. The injection
 * queue holds pointers to tasks; a worker's deque holds frames, which
 * carry a task pointer, or, for a group spawn made on a worker, the
 * function and argument themselves (deque.h).
 *
 * Task kinds, by what happens when the task finishes:
 *   MT_TASK_DETACHED  fire-and-forget: counts down the pool's detached
 *                     counter (mt_quiesce, MT_DRAIN wait on it);
 *   MT_TASK_GROUP     counts down its group (group.h); only a spawn from
 *                     outside the pool makes one: a worker's spawn is a
 *                     frame in its deque (deque.h), no task at all;
 *   MT_TASK_JOIN      joins a map/for batch: runs chunks of the batch, then
 *                     counts down the batch latch. A join task may be
 *                     cancelled by the batch owner before it starts (state
 *                     below), so the owner never waits for a worker that
 *                     has not even picked the task up.
 *
 * Join task hand-off (`state`), the only field two threads race on. Two
 * parties touch a join task: the worker that dequeues it and the batch
 * owner, who is done with it once it runs out of chunks. Each sets its bit
 * with one fetch_or; the second to arrive frees the task:
 *   0                    queued, nobody has looked;
 *   MT_JOIN_WORKER       a worker claimed it first: it runs chunks and counts
 *                        the latch down; the owner frees the task later;
 *   MT_JOIN_OWNER        the owner arrived first: cancelled; the owner counts
 *                        the latch down itself; whoever dequeues the task
 *                        frees it without touching the batch (it may be gone);
 *   both bits            done; the later party has freed the task.
 * A task is thus never freed while the other party may still read it, and
 * the owner never waits for a worker that has not even woken up.
 *
 * Memory: tasks are allocated from per-thread magazines (arrays of free
 * tasks; no lock, no atomic); threads trade full and empty magazines
 * through a process-wide depot under a mutex, so a thread that only
 * submits (and never frees) gets tasks back from the workers that ran
 * them, one lock round trip per 64 tasks. Nothing here belongs to a pool,
 * so destroying a pool cannot strand another pool's tasks.
 */
#ifndef MTPOOL_POOL_TASK_H
#define MTPOOL_POOL_TASK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cc.h"
#include "mtpool/mtpool.h"

struct mt_batch;

enum mt_task_kind {
	MT_TASK_DETACHED = 0,
	MT_TASK_GROUP = 1,
	MT_TASK_JOIN = 2
};

enum mt_join_state {
	MT_JOIN_WORKER = 1,
	MT_JOIN_OWNER = 2
};

/* Field legend: I set by the submitter before the task is published
 * (the queue's release/acquire hands it over), A atomic. */
struct mt_task {
	void (*fn)(void *arg); /* I: DETACHED and GROUP */
	void *arg;	       /* I: argument passed to fn */
	union {
		mt_group *group;	/* I: GROUP */
		struct mt_batch *batch; /* I: JOIN */
	} u;
	struct mt_task *next; /* link in the injection overflow list */
	void *heap_copy; /* I: large mt_spawn_copy argument, freed after fn */
	uint8_t kind;	 /* I: enum mt_task_kind */
	_Atomic uint8_t state; /* A: enum mt_join_state bits (JOIN only) */
	/* Small copied arguments live here; aligned for any type. */
	_Alignas(16) unsigned char inline_arg[MT_SPAWN_INLINE_BYTES];
};

/* Returns a task (fields uninitialised) or NULL when out of memory.
 * ANY THREAD. */
MT_HIDDEN struct mt_task *mt__task_alloc(void);

/* Returns a task to the calling thread's magazines. ANY THREAD. */
MT_HIDDEN void mt__task_free(struct mt_task *t);

/* Moves the calling thread's magazines to the depot (workers call it
 * before they exit; other threads' are flushed by a thread-exit hook). */
MT_HIDDEN void mt__task_cache_flush(void);

/* In the child of fork(): forget the depot without touching its lock,
 * which a parent thread may have held at the fork. Leaks what it held. */
MT_HIDDEN void mt__task_depot_reset_after_fork(void);

#endif /* MTPOOL_POOL_TASK_H */
