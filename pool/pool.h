/*
 * pool/pool.h: the pool and worker structures shared by the scheduler's
 * modules (worker.c, park.c, pool.c) and the public API (api/mtpool.c).
 * Internal: never installed.
 *
 * Field legend (STYLE 25), on every field:
 *   I  set before the pool is published, then read-only;
 *   O  owner worker only;
 *   A  atomic, any thread (each access names its order at the use);
 *   S  owner writes (relaxed store), any thread reads (relaxed load): stats.
 *
 * Pool states (`state`):
 *   MT_POOL_LIVE        accepting work;
 *   MT_POOL_DRAINING    mt_pool_destroy(MT_DRAIN) running: external
 *                       submissions fail with ESHUTDOWN, workers' own
 *                       submissions are accepted (they are part of the work
 *                       being drained), workers exit once nothing is queued,
 *                       running, or awaited by an external caller;
 *   MT_POOL_DISCARDING  mt_pool_destroy(MT_DISCARD) running: as draining,
 *                       but detached tasks are dropped (counted) instead of
 *                       run, and workers' detached submissions fail too;
 *                       fork-join tasks still run (their callers wait).
 * Workers states: running a task; searching (counted in n_searching);
 * parked (asleep on their event count, counted in n_sleeping); see park.c.
 */
#ifndef MTPOOL_POOL_POOL_H
#define MTPOOL_POOL_POOL_H

#include <pthread.h>
#include <time.h> /* struct timespec, before ck_ec.h */

#include <ck_ec.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "deque.h"
#include "inject.h"
#include "latch.h"
#include "task.h"
#include "mtpool/mtpool.h"

enum mt_pool_state {
	MT_POOL_LIVE = 0,
	MT_POOL_DRAINING = 1,
	MT_POOL_DISCARDING = 2
};

struct mt_worker {
	struct mt_deque deque; /* own deque; see deque.h legend */
	struct mt_pool *pool;  /* I */
	unsigned index;	       /* I */
	uint64_t rng;	       /* O: victim selection */
	unsigned help_depth;   /* O: nested helping waits */
	pthread_t thread;      /* I (set by the creator before start) */
	/* The parking line: wakers write it, the owner sleeps on it. */
	_Alignas(MT_CACHELINE) struct ck_ec32 park_ec; /* A: see park.c */
	_Atomic uint32_t asleep; /* A: 1 = parked, not yet claimed */
	_Atomic int last_cpu;	 /* A: relaxed; CPU it parked on */
	/* Stats, on their own line so readers don't disturb the deque. */
	_Alignas(MT_CACHELINE) _Atomic uint64_t n_run; /* S */
	_Atomic uint64_t n_steals;		       /* S */
	_Atomic uint64_t n_parks;		       /* S */
	_Atomic uint64_t n_inline;		       /* S */
	_Atomic uint64_t n_discarded;		       /* S */
	_Atomic uint64_t n_detached_done;  /* A: detached tasks run or dropped,
					   * published by the owner with a
					   * seq_cst store (worker.c) */
	uint32_t done_unpublished;	   /* O: finished, not yet published */
	_Atomic uint64_t n_injected_taken; /* S: tasks taken from inject */
};

/* The lines a worker's neighbours write must not share with the lines the
 * owner writes on every task: wakers write park_ec/asleep, stats readers
 * read the counters, thieves CAS the deque's top. */
_Static_assert(offsetof(struct mt_worker, park_ec) % MT_CACHELINE == 0,
	       "park_ec starts the wakers' cache line");
_Static_assert(offsetof(struct mt_worker, n_run) % MT_CACHELINE == 0,
	       "the statistics start their own cache line");
_Static_assert(offsetof(struct mt_worker, park_ec) >=
		       offsetof(struct mt_worker, thread) + sizeof(pthread_t),
	       "owner-only fields stay off the wakers' line");

struct mt_pool {
	/* Read-mostly line. */
	unsigned nworkers;		    /* I */
	struct mt_worker *workers;	    /* I: nworkers entries */
	int is_default;			    /* I */
	void (*on_start)(unsigned, void *); /* I */
	void (*on_stop)(unsigned, void *);  /* I */
	void *userdata;			    /* I */
	char name_prefix[16];		    /* I */
	_Atomic int state;		    /* A: enum mt_pool_state */
	_Atomic int destroying;		    /* A: EBUSY guard for destroy */
	unsigned fork_gen;	 /* I: mt__fork_generation at creation */
	struct mt_latch started; /* A: counts workers not yet started */

	struct mt_inject inject; /* A: external submissions */

	/* Sleep bookkeeping, written on every park and wake. */
	_Alignas(MT_CACHELINE) _Atomic uint32_t n_sleeping; /* A */
	_Atomic uint32_t n_searching;			    /* A */
	_Atomic uint64_t n_wakes; /* A: relaxed counter */

	/* Detached work in flight is counted without a counter that both
	 * submitters and workers write (that line would bounce between cores
	 * on every task): submitters count `detached_admitted`, each worker
	 * counts what it finished in its own n_detached_done, and
	 * mt__detached_pending() combines them (see worker.c). */
	_Alignas(MT_CACHELINE) _Atomic uint64_t detached_admitted; /* A */
	_Atomic uint64_t detached_backed_out; /* A: admitted, then refused */
	/* External fork-join callers in flight (maps and groups started by
	 * threads that are not workers of this pool); workers do not exit
	 * during destroy while one is in flight. */
	_Atomic uint64_t external_pending; /* A */
	_Atomic uint32_t quiesce_waiters;  /* A */
	struct ck_ec32 quiesce_ec;	   /* A: bumped when pending hits 0 */
};

/* The calling thread's worker (any pool), or NULL. Inline: every
 * submission and wait asks, and a call per question showed in the
 * per-spawn instruction count of fib (callgrind). */
MT_HIDDEN extern MT_THREAD_LOCAL struct mt_worker *mt__tls_worker;

static inline struct mt_worker *mt__current_worker(void)
{
	return mt__tls_worker;
}

/* The calling thread's worker if it belongs to `pool`, else NULL. */
static inline struct mt_worker *mt__worker_of(struct mt_pool *pool)
{
	struct mt_worker *w = mt__tls_worker;
	return (w != NULL && w->pool == pool) ? w : NULL;
}

/* worker.c */
MT_HIDDEN void *mt__worker_main(void *worker);
/* Pushes t for execution: the caller's own deque if it is a worker of
 * `pool`, else the injection queue; wakes a worker if needed. If the deque
 * cannot grow, runs t inline. */
MT_HIDDEN void mt__submit(struct mt_pool *pool, struct mt_task *t);
/* Runs one task to completion and releases it (kind-specific finish). */
MT_HIDDEN void mt__run_task(struct mt_pool *pool, struct mt_worker *w,
			    struct mt_task *t);
/* Blocks until `latch` opens; runs other tasks meanwhile on a worker. */
MT_HIDDEN void mt__wait_latch(struct mt_pool *pool, struct mt_latch *latch);
/* Publishes the detached tasks w finished since the last call (run or
 * dropped), and wakes quiesce waiters or exiting workers if nothing is
 * pending any more. OWNER ONLY. */
MT_HIDDEN void mt__publish_done(struct mt_pool *pool, struct mt_worker *w);
/* Undoes an admission that was then refused (ESHUTDOWN). */
MT_HIDDEN void mt__detached_back_out(struct mt_pool *pool);
/* Detached tasks admitted and not finished; 0 means none queued or
 * running at some instant during the call (seq_cst loads). */
MT_HIDDEN uint64_t mt__detached_pending(struct mt_pool *pool);

/* park.c */
MT_HIDDEN extern const struct ck_ec_mode mt__ck_ec_mode;
MT_HIDDEN void mt__notify_external(struct mt_pool *pool);
MT_HIDDEN void mt__notify_local(struct mt_pool *pool);
MT_HIDDEN void mt__wake_one(struct mt_pool *pool);
MT_HIDDEN void mt__wake_all(struct mt_pool *pool);
/* Parks w until woken, unless work or shutdown shows up in the re-check.
 * Returns 1 if w was woken by a waker (which counted it in n_searching),
 * 0 if it cancelled its sleep (not counted). */
MT_HIDDEN int mt__park(struct mt_worker *w);
/* Test hook, NULL in production: called by a worker at the start of
 * mt__park, before it announces itself, so a test can submit work in the
 * window where a submitter cannot see the worker as asleep yet. */
MT_HIDDEN extern void (*mt__park_test_hook)(struct mt_worker *w);
/* Nonzero if any queue of the pool may hold a task (seq_cst loads). */
MT_HIDDEN int mt__pool_has_visible_work(struct mt_pool *pool);
/* Nonzero if a shutting-down pool has nothing left for workers to do. */
MT_HIDDEN int mt__pool_may_exit(struct mt_pool *pool);

/* pool.c */
/* Bumped in the child of every fork(): pools of an older generation
 * belong to the parent (their workers do not exist here). */
MT_HIDDEN extern _Atomic unsigned mt__fork_generation;
/* NULL -> the default pool (or *err); an inherited pool -> ECHILD. */
MT_HIDDEN mt_pool *mt__resolve_pool_slow(mt_pool *pool, int *err);

static inline mt_pool *mt__resolve_pool(mt_pool *pool, int *err)
{
	/* relaxed: the generation only changes in a fork child's only
	 * thread, before any other thread exists there. */
	if (pool != NULL &&
	    pool->fork_gen == atomic_load_explicit(&mt__fork_generation,
						   memory_order_relaxed))
		return pool;
	return mt__resolve_pool_slow(pool, err);
}

/* batch.c: runs a join task; returns 1 if it joined its batch, 0 if the
 * batch owner had cancelled it (then it only freed the task). */
MT_HIDDEN int mt__batch_join(struct mt_pool *pool, struct mt_task *t);

#endif /* MTPOOL_POOL_POOL_H */
