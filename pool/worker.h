/*
 * pool/worker.h: the worker loop, task execution, submission and helping
 * waits (worker.c), and which worker the calling thread is.
 */
#ifndef MTPOOL_POOL_WORKER_H
#define MTPOOL_POOL_WORKER_H

#include "cc.h"
#include "latch.h"
#include "pool.h"
#include "task.h"

/* Search rounds before a worker parks: at most MT_SPIN_ROUNDS, halved
 * down to MT_SPIN_ROUNDS_MIN while parks outlast MT_SPIN_PAYOFF_NS (worker.c
 * explains the rule). */
#define MT_SPIN_ROUNDS 64u
#define MT_SPIN_ROUNDS_MIN 4u
#define MT_SPIN_PAYOFF_NS 200000u

/* The calling thread's worker (any pool), or NULL; mt_fast_lane
 * (mtpool.h) is its deque's lane. Inline: every
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

/* The thread function of every worker; `worker` is its struct mt_worker. */
MT_HIDDEN void *mt__worker_main(void *worker);

/* ANY THREAD. Pushes t for execution: the caller's own deque if it is a
 * worker of `pool`, else the injection queue; wakes a worker if needed. If
 * the deque cannot grow, runs t inline. */
MT_HIDDEN void mt__submit(struct mt_pool *pool, struct mt_task *t);

/* OWNER (w is the calling thread's worker). Runs one task to completion
 * and releases it (kind-specific finish). */
MT_HIDDEN void mt__run_task(struct mt_pool *pool, struct mt_worker *w,
			    struct mt_task *t);

/* OWNER. Runs one deque item: a library task as mt__run_task, a group
 * frame followed by its group's count-down (group.h). */
MT_HIDDEN void mt__run_item(struct mt_pool *pool, struct mt_worker *w,
			    const struct mt_item *it);

/* OWNER. Pushes a group frame onto w's own deque, private unless other
 * workers are idle (then shared, and a sleeper woken: park.c). Returns 0,
 * or ENOMEM (not pushed: the caller runs it inline). */
MT_HIDDEN int mt__push_frame(struct mt_worker *w, const struct mt_item *it);

/* OWNER, g's waiter on the worker that initialised g (g->lane is w's):
 * runs back g's own frames, settles g's count and helps until g is done
 * (group.h). */
MT_HIDDEN void mt__group_wait_own(struct mt_worker *w, mt_group *g);

/* ANY THREAD, the latch's one waiter. Blocks until `latch` opens; on a
 * worker of `pool` runs other tasks meanwhile (helping). */
MT_HIDDEN void mt__wait_latch(struct mt_pool *pool, struct mt_latch *latch);

/* The fork child handler's part (pool.c): the calling thread is no worker
 * in the child. */
MT_HIDDEN void mt__worker_forget_after_fork(void);

#endif /* MTPOOL_POOL_WORKER_H */
