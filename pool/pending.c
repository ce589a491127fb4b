/*
 * pool/pending.c: the accounting of pending work (see pending.h for the
 * protocol and its proof sketch).
 */
#include "pending.h"

#include <stddef.h>

#include "park.h"
#include "pool.h"

/* The pool whose `pending` member pd is (container_of). */
static struct mt_pool *pool_of(struct mt_pending *pd)
{
	return (struct mt_pool *)(void *)((char *)pd -
					  offsetof(struct mt_pool, pending));
}

void mt__pending_init(struct mt_pending *pd)
{
	atomic_init(&pd->state, MT_POOL_LIVE);
	atomic_init(&pd->detached_admitted, 0);
	atomic_init(&pd->detached_backed_out, 0);
	atomic_init(&pd->external_pending, 0);
	atomic_init(&pd->quiesce_waiters, 0);
	ck_ec32_init(&pd->quiesce_ec, 0);
	mt__latch_init(&pd->leaving);
}

void mt__pending_worker_init(struct mt_pending_worker *pw)
{
	atomic_init(&pw->done, 0);
	pw->unpublished = 0;
}

uint64_t mt__pending_detached(struct mt_pending *pd)
{
	struct mt_pool *pool = pool_of(pd);
	/* Finished counts first, admissions last (pending.h): reading in the
	 * other order could pair an old admission count with newer
	 * completions and report zero while a task still runs. seq_cst:
	 * these loads take part in the Dekker pairs of pending.h. */
	uint64_t done = atomic_load_explicit(&pd->detached_backed_out,
					     memory_order_seq_cst);
	for (unsigned i = 0; i < pool->nworkers; i++)
		done += atomic_load_explicit(&pool->workers[i].pending.done,
					     memory_order_seq_cst);
	uint64_t admitted = atomic_load_explicit(&pd->detached_admitted,
						 memory_order_seq_cst);
	return admitted > done ? admitted - done : 0;
}

uint64_t mt__pending_accepted(struct mt_pending *pd)
{
	/* relaxed: a statistic, no cut promised. */
	return atomic_load_explicit(&pd->detached_admitted,
				    memory_order_relaxed) -
	       atomic_load_explicit(&pd->detached_backed_out,
				    memory_order_relaxed);
}

/* The finisher's side of the "quiesce" and "finisher during shutdown"
 * pairs: our count is stored (seq_cst); now read the other side. Only if
 * somebody waits do we pay for summing every worker's count. */
static void wake_if_last(struct mt_pending *pd)
{
	int waiters = atomic_load_explicit(&pd->quiesce_waiters,
					   memory_order_seq_cst) != 0;
	int closing = atomic_load_explicit(&pd->state, memory_order_seq_cst) !=
		      MT_POOL_LIVE;
	if (!(waiters || closing) || mt__pending_detached(pd) != 0)
		return;
	if (waiters)
		ck_ec32_inc(&pd->quiesce_ec, &mt__ck_ec_mode);
	if (closing)
		mt__wake_all(pool_of(pd));
}

void mt__pending_publish_now(struct mt_worker *w)
{
	struct mt_pending *pd = &w->pool->pending;
	struct mt_pending_worker *pw = &w->pending;
	/* Owner-only counter, but a seq_cst store: it is the first half of
	 * the finisher's pairs (an xchg on x86, on a line no other thread
	 * writes). */
	uint64_t n = atomic_load_explicit(&pw->done, memory_order_relaxed);
	atomic_store_explicit(&pw->done, n + pw->unpublished,
			      memory_order_seq_cst);
	pw->unpublished = 0;
	wake_if_last(pd);
}

/* Leaving: a thread that gives back something destroy waits for (an
 * admission) may need the pool afterwards (to wake exiting workers). It
 * counts itself in `leaving` BEFORE the give-back, and destroy, after
 * joining the workers, waits for `leaving` to drop to zero before it frees
 * the pool: the count-down is the leaver's last access (STYLE 52).
 *
 * Why destroy cannot miss a leaver: the add is sequenced before the
 * give-back, a seq_cst RMW that the exiting workers' seq_cst loads read
 * from (release/acquire), and destroy's wait comes after joining those
 * workers; so the add happens before destroy's first look at the latch.
 * The add is the latch's relaxed add (latch.h) for that reason: the
 * give-back publishes it. */
static void leave_begin(struct mt_pending *pd)
{
	mt__latch_add(&pd->leaving, 1); /* cannot overflow: one per thread */
}

static void leave_end(struct mt_pending *pd)
{
	mt__latch_count_down(&pd->leaving); /* last access to the pool */
}

static void back_out_detached(struct mt_pending *pd)
{
	leave_begin(pd);
	/* seq_cst: the finisher's first half, as a published count. */
	atomic_fetch_add_explicit(&pd->detached_backed_out, 1,
				  memory_order_seq_cst);
	wake_if_last(pd);
	leave_end(pd);
}

int mt__pending_admit_closing(struct mt_pending *pd, int state, int own_worker)
{
	if (state == MT_POOL_DRAINING && own_worker)
		return 0;
	back_out_detached(pd);
	return ESHUTDOWN;
}

void mt__pending_quiesce(struct mt_pending *pd)
{
	/* Counted as leaving for the whole wait: a destroy that starts
	 * meanwhile frees the pool only after we have returned. */
	leave_begin(pd);
	/* seq_cst RMW, then snapshot, then the seq_cst loads of the counts:
	 * the waiter's side of "quiesce". A bump after the snapshot makes
	 * the wait return at once. */
	atomic_fetch_add_explicit(&pd->quiesce_waiters, 1,
				  memory_order_seq_cst);
	for (;;) {
		uint32_t snap = ck_ec32_value(&pd->quiesce_ec);
		if (mt__pending_detached(pd) == 0)
			break;
		ck_ec32_wait(&pd->quiesce_ec, &mt__ck_ec_mode, snap, NULL);
	}
	/* relaxed: only tells finishers whether to bump quiesce_ec. */
	atomic_fetch_sub_explicit(&pd->quiesce_waiters, 1,
				  memory_order_relaxed);
	leave_end(pd);
}

void mt__pending_close(struct mt_pending *pd, enum mt_pool_state state)
{
	/* seq_cst: destroy's side of "destroy vs submit" and "destroy vs
	 * exit". */
	atomic_store_explicit(&pd->state, state, memory_order_seq_cst);
	mt__wake_all(pool_of(pd));
}

int mt__pending_may_exit(struct mt_pending *pd)
{
	/* seq_cst: these loads follow F_z (park.c) and pair with the seq_cst
	 * updates of destroy and of the finishers. */
	if (atomic_load_explicit(&pd->state, memory_order_seq_cst) ==
	    MT_POOL_LIVE)
		return 0;
	return mt__pending_detached(pd) == 0 &&
	       atomic_load_explicit(&pd->external_pending,
				    memory_order_seq_cst) == 0;
}

void (*mt__pending_release_test_hook)(int given_back);

/* Gives back one external admission; the caller is counted in leaving. */
static void release_external(struct mt_pending *pd)
{
	if (mt__pending_release_test_hook != NULL)
		mt__pending_release_test_hook(0);
	/* seq_cst: "finisher during shutdown": the last one out during
	 * shutdown wakes the workers that stayed for it. */
	uint64_t old = atomic_fetch_sub_explicit(&pd->external_pending, 1,
						 memory_order_seq_cst);
	if (mt__pending_release_test_hook != NULL)
		mt__pending_release_test_hook(1);
	if (old == 1 &&
	    atomic_load_explicit(&pd->state, memory_order_seq_cst) !=
		    MT_POOL_LIVE)
		mt__wake_all(pool_of(pd));
}

int mt__pending_admit_external(struct mt_pending *pd)
{
	/* seq_cst RMW then load: "destroy vs submit". */
	atomic_fetch_add_explicit(&pd->external_pending, 1,
				  memory_order_seq_cst);
	if (atomic_load_explicit(&pd->state, memory_order_seq_cst) ==
	    MT_POOL_LIVE)
		return 0;
	/* Refused: a worker may have seen our admission and parked instead
	 * of exiting, so the give-back wakes them like any last leaver. */
	leave_begin(pd);
	release_external(pd);
	leave_end(pd);
	return ESHUTDOWN;
}

void mt__pending_external_done(struct mt_pending *pd)
{
	leave_begin(pd);
	release_external(pd);
	leave_end(pd);
}

void mt__pending_wait_leavers(struct mt_pending *pd)
{
	mt__latch_block(&pd->leaving);
}
