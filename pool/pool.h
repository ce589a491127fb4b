/*
 * pool/pool.h: the pool and worker structures shared by the scheduler's
 * modules and the public API (api/mtpool.c), and pool.c's functions
 * (the fork generation, resolving a pool argument). Each module declares
 * its own functions in its own header: park.h, worker.h, pending.h,
 * batch.h. Internal: never installed.
 *
 * Field legend (STYLE 25), on every field:
 *   I  set before the pool is published, then read-only;
 *   O  owner worker only;
 *   A  atomic, any thread (each access names its order at the use);
 *   S  owner writes (relaxed store), any thread reads (relaxed load): stats.
 *
 * The pool's states (live, draining, discarding) and the accounting of the
 * work it waits for are pending.h's; the worker's states (running,
 * searching, parked) are park.c's.
 */
#ifndef MTPOOL_POOL_POOL_H
#define MTPOOL_POOL_POOL_H

#include <pthread.h>
#include <time.h> /* struct timespec, before ck_ec.h */

#include <ck_ec.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cc.h"
#include "deque.h"
#include "inject.h"
#include "latch.h"
#include "pending.h"
#include "mtpool/mtpool.h"

struct mt_worker {
	struct mt_deque deque; /* own deque; see deque.h legend */
	struct mt_pool *pool;  /* I */
	unsigned index;	       /* I */
	uint64_t rng;	       /* O: victim selection */
	unsigned help_depth;   /* O: nested helping waits */
	int stopped; /* O: left its loop: on_worker_stop runs, no more tasks */
	unsigned poll_countdown; /* O: looks for a task until the next poll
				  * of the injection queue (worker.c) */
	/* S: search rounds before parking, adapted to how long parks last
	 * (worker.c); atomic only so that tests may read it. */
	_Atomic unsigned spin_rounds;
	pthread_t thread; /* I (set by the creator before start) */
	/* The parking line: wakers write it, the owner sleeps on it. */
	_Alignas(MT_CACHELINE) struct ck_ec32 park_ec; /* A: see park.c */
	_Atomic uint32_t asleep; /* A: 1 = parked, not yet claimed */
	_Atomic int last_cpu;	 /* A: relaxed; CPU it parked on */
	/* A: address of the latch it sleeps on in a helping wait, else 0;
	 * written by the owner, read by finishers (park.c). */
	_Atomic uintptr_t waiting_on;
	/* Stats, on their own line so readers don't disturb the deque. */
	_Alignas(MT_CACHELINE) _Atomic uint64_t n_run; /* S */
	_Atomic uint64_t n_steals;		       /* S */
	_Atomic uint64_t n_parks;		       /* S */
	_Atomic uint64_t n_inline;		       /* S */
	_Atomic uint64_t n_discarded;		       /* S */
	_Atomic uint64_t n_injected_taken; /* S: tasks taken from inject */
	/* S: 1 while asleep as an announced sleeper past its re-check
	 * (park.c): mt_stats.workers_parked. `asleep` is set earlier, at the
	 * announcement, when a submission may still be found by the
	 * re-check without any wake-up. */
	_Atomic uint32_t parked;
	struct mt_pending_worker pending; /* A/O: see pending.h */
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
	_Atomic int destroying;		    /* A: EBUSY guard for destroy */
	unsigned fork_gen;	 /* I: mt__fork_generation at creation */
	struct mt_latch started; /* A: counts workers not yet started */

	struct mt_inject inject; /* A: external submissions */

	/* Sleep bookkeeping, written on every park and wake, read by every
	 * spawn: `idle` holds the n_sleeping and n_searching of park.c
	 * (park.h, MT_IDLE_SLEEPER). */
	_Alignas(MT_CACHELINE) struct mt_idle idle; /* A */
	_Atomic uint64_t n_wakes;		    /* A: relaxed counter */

	/* Life cycle and pending work: see pending.h. */
	struct mt_pending pending;
};

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

#endif /* MTPOOL_POOL_POOL_H */
