/*
 * pool/pending.h: the pool's life cycle and the work it waits for.
 *
 * Overview
 * ========
 * One module owns everything that decides when the pool may stop, so that
 * the protocol between submitters (api/mtpool.c), workers (worker.c,
 * park.c), mt_quiesce and mt_pool_destroy (pool.c) lives in one place:
 *   - the pool state (below) that destroy moves out of LIVE;
 *   - detached tasks: admitted by submitters, finished by workers (run or
 *     dropped), published in bulk, waited for by mt_quiesce and destroy;
 *   - fork-join calls (maps, groups) from threads outside the pool, which
 *     keep the workers alive while they run;
 *   - the condition on which a worker of a closing pool may exit.
 *
 * Pool states (`state`), one transition per pool, by destroy:
 *   MT_POOL_LIVE        accepting work;
 *   MT_POOL_DRAINING    mt_pool_destroy(MT_DRAIN) running: submissions from
 *                       outside fail with ESHUTDOWN, workers' own detached
 *                       spawns are accepted (they are part of the work being
 *                       drained), except from a worker that has left its
 *                       loop (on_worker_stop); workers exit once nothing is
 *                       pending;
 *   MT_POOL_DISCARDING  mt_pool_destroy(MT_DISCARD) running: as draining,
 *                       but detached tasks are dropped (counted) instead of
 *                       run, and workers' detached spawns fail too;
 *                       fork-join tasks still run (their callers wait).
 *
 * Counters (A: atomic, any thread; O: owner worker only):
 *   detached_admitted    A  submitters: +1 per detached task, before the
 *                           state check;
 *   detached_backed_out  A  +1 per admission then refused (ESHUTDOWN);
 *   w->pending.done      A  each worker's finished detached tasks (run or
 *                           dropped), written only by its owner;
 *   w->pending.unpublished O finished by the owner, not yet in `done`;
 *   external_pending     A  fork-join calls in flight from outside;
 *   quiesce_waiters      A  mt_quiesce callers, with their event count;
 *   leaving              A  a latch: threads outside the pool that still
 *                           touch it after giving back something destroy
 *                           waits for (the end of a map or group, a
 *                           refused admission) or that sit in mt_quiesce;
 *                           destroy waits for it after joining the workers
 *                           and before freeing, and each one's count-down
 *                           is its last access to the pool (pending.c).
 * Pending detached work is admitted - backed_out - sum(done): no counter
 * that both submitters and workers write, so the hot line does not bounce
 * between cores on every task. mt__pending_detached() reads the finished
 * counts first and `detached_admitted` last: every count only grows and a
 * task is admitted before it can finish, so zero means that at the last
 * load everything admitted had finished. An unpublished finish still
 * counts as pending: the sum may be late to reach zero, never early.
 *
 * The protocol: Dekker pairs, "one of us sees the other"
 * ======================================================
 * Each side writes with a seq_cst RMW or store, then reads the other side's
 * word with a seq_cst load:
 *
 *   destroy vs submit   destroy: store state          submitter: admitted++
 *                       (then wakes every worker)     (or external_pending++),
 *                                                     then load state
 *   destroy vs exit     destroy: store state, wake    worker: load state, the
 *                                                     detached counts and
 *                                                     external_pending (after
 *                                                     its park fence F_z)
 *   quiesce             waiter: quiesce_waiters++,    finisher: store its done
 *                       snapshot quiesce_ec, load     count (or backed_out++),
 *                       the detached counts           load quiesce_waiters
 *   finisher during     finisher: store its count (or worker as in "destroy
 *   shutdown            external_pending--), load     vs exit"
 *                       state, wake all if nothing
 *                       is pending
 * In every row, either the left side's load sees the right side's write or
 * the reverse: a submission is refused or waited for by the exiting
 * workers, a quiesce never misses the last finisher, and a worker never
 * sleeps through the end of the work it stays for. The pairs order only
 * these counters; tasks themselves are handed over by the queues'
 * release/acquire, which ThreadSanitizer sees.
 *
 * Publication: a worker publishes its finished detached tasks every
 * MT_DONE_PUBLISH_EVERY tasks, before it runs a task of another kind,
 * whenever it finds no task (before it spins, sleeps or parks), and when
 * it leaves a helping wait (the task around the wait then runs user code
 * again). So the only user code that runs while a worker holds
 * unpublished finishes is a detached task, itself pending: whoever waits
 * for the count waits for that task anyway, and no wait can hang on a
 * finish that will never be published. mt_quiesce and destroy need the
 * count only once the pool runs out of detached work, which is exactly
 * when a worker finds no task; a busy pool saves a locked store per task,
 * and the statistics' `queued` may lag by up to that many per busy worker.
 */
#ifndef MTPOOL_POOL_PENDING_H
#define MTPOOL_POOL_PENDING_H

#include <time.h> /* struct timespec, before ck_ec.h */

#include <ck_ec.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#include "cc.h"
#include "latch.h"

struct mt_worker;

enum mt_pool_state {
	MT_POOL_LIVE = 0,
	MT_POOL_DRAINING = 1,
	MT_POOL_DISCARDING = 2
};

/* See the overview for each field. Embedded in struct mt_pool as
 * `pending`; the functions below recover the pool from it. */
struct mt_pending {
	/* Read on every detached task and admission, written once. */
	_Alignas(MT_CACHELINE) _Atomic int state; /* A: enum mt_pool_state */
	/* Written on every admission from outside the workers. */
	_Alignas(MT_CACHELINE) _Atomic uint64_t detached_admitted; /* A */
	_Atomic uint64_t detached_backed_out;			   /* A */
	_Atomic uint64_t external_pending;			   /* A */
	_Atomic uint32_t quiesce_waiters;			   /* A */
	struct ck_ec32 quiesce_ec; /* A: bumped when nothing is pending */
	struct mt_latch leaving;   /* A: outside threads still touching the
				  * pool after a give-back (pending.c) */
};

/* A worker's share: its finished detached tasks. */
struct mt_pending_worker {
	_Atomic uint64_t done; /* A: owner stores (seq_cst), anyone loads */
	uint32_t unpublished;  /* O: finished, not yet added to `done` */
};

#define MT_DONE_PUBLISH_EVERY 64u

MT_HIDDEN void mt__pending_init(struct mt_pending *pd);
MT_HIDDEN void mt__pending_worker_init(struct mt_pending_worker *pw);

/* ---- life cycle ---- */

/* The state with relaxed order: for decisions that tolerate a stale value
 * (run or drop a detached task that starts while destroy begins). */
static inline int mt__pending_state_relaxed(struct mt_pending *pd)
{
	return atomic_load_explicit(&pd->state, memory_order_relaxed);
}

/* destroy (and a failed creation): moves the pool out of LIVE and wakes
 * every worker so that each re-evaluates mt__pending_may_exit. */
MT_HIDDEN void mt__pending_close(struct mt_pending *pd,
				 enum mt_pool_state state);

/* Workers: nonzero if the pool is closing and nothing is pending that the
 * workers must stay for. seq_cst loads (the "destroy vs exit" pair). */
MT_HIDDEN int mt__pending_may_exit(struct mt_pending *pd);

/* destroy, after joining every worker and before freeing the pool: waits
 * until no outside thread is still inside a give-back or mt_quiesce. */
MT_HIDDEN void mt__pending_wait_leavers(struct mt_pending *pd);

/* ---- detached tasks ---- */

/* Counts a detached task in and returns the pool state it saw:
 * MT_POOL_LIVE (0): admitted. Anything else: the pool is closing, and the
 * caller settles the admission with mt__pending_admit_closing (kept out of
 * the fast path, so that the caller computes what it needs for that only
 * then). ANY THREAD; one seq_cst RMW and one load. */
static inline int mt__pending_admit_detached(struct mt_pending *pd)
{
	/* seq_cst RMW then seq_cst load: "destroy vs submit". Either we see
	 * the shutdown, or the workers see our task and stay for it. */
	atomic_fetch_add_explicit(&pd->detached_admitted, 1,
				  memory_order_seq_cst);
	return atomic_load_explicit(&pd->state, memory_order_seq_cst);
}

/* The pool was seen closing (`state`) by mt__pending_admit_detached:
 * keeps the admission if the caller is a worker of this pool still in its
 * loop (`own_worker`) and the pool drains (MT_DRAIN drains its workers'
 * spawns; a worker in on_worker_stop runs no more tasks), else gives it
 * back, waking waiters if it was the last thing pending. Returns 0, or
 * ESHUTDOWN. */
MT_HIDDEN int mt__pending_admit_closing(struct mt_pending *pd, int state,
					int own_worker);

/* OWNER ONLY: adds w's finished detached tasks (w->pending.unpublished,
 * nonzero) to its published count, and wakes quiesce waiters or exiting
 * workers if nothing is pending any more. Takes the worker, not its
 * share, so that the task-running path passes a pointer it already holds
 * (an extra pointer kept across the task's call showed in fib's
 * instruction count). */
MT_HIDDEN void mt__pending_publish_now(struct mt_worker *w);

/* OWNER ONLY: nonzero if pw holds finishes not yet published; the owner
 * then calls mt__pending_publish_now (see the overview for when). */
static inline int mt__pending_unpublished(const struct mt_pending_worker *pw)
{
	return pw->unpublished != 0;
}

/* OWNER ONLY: one detached task finished (run or dropped) on pw's worker.
 * Returns nonzero when the owner must publish now (every
 * MT_DONE_PUBLISH_EVERY finishes). */
static inline int mt__pending_count_finished(struct mt_pending_worker *pw)
{
	return ++pw->unpublished >= MT_DONE_PUBLISH_EVERY;
}

/* Detached tasks admitted and not finished (published); 0 means none was
 * queued or running at some instant during the call. ANY THREAD. */
MT_HIDDEN uint64_t mt__pending_detached(struct mt_pending *pd);

/* Detached tasks accepted since creation (admitted, not backed out);
 * relaxed: a statistic. */
MT_HIDDEN uint64_t mt__pending_accepted(struct mt_pending *pd);

/* Blocks until no detached task is pending. NOT FROM A WORKER of the
 * pool (it would wait for itself). Sleeps on quiesce_ec; no spinning. */
MT_HIDDEN void mt__pending_quiesce(struct mt_pending *pd);

/* ---- fork-join calls from outside the pool ---- */

/* A map or a group started by a thread that is not a worker of this pool
 * counts in external_pending while it runs, so a destroy keeps the workers
 * until it is done; the pool's own workers need no admission (destroy
 * joins them). Returns 0, or ESHUTDOWN with the admission given back. */
MT_HIDDEN int mt__pending_admit_external(struct mt_pending *pd);

/* Ends an admitted outside call. */
MT_HIDDEN void mt__pending_external_done(struct mt_pending *pd);

/* Test hook, NULL in production: called by a thread outside the pool just
 * before (given_back 0) and just after (1) it gives back an external
 * admission, the end of a map or group or a refused one, so that a test can
 * hold it there or widen the window in which destroy may finish. */
MT_HIDDEN extern void (*mt__pending_release_test_hook)(int given_back);

#endif /* MTPOOL_POOL_PENDING_H */
