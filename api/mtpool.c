/*
 * api/mtpool.c: the public API on top of the scheduler in pool/.
 *
 * Every function validates its arguments first, then resolves the pool
 * (NULL -> default pool; a pool inherited across fork() -> ECHILD), and
 * only then allocates or submits, so a failure never leaves a task behind
 * and a callback of a failed call is never called.
 */
#include <errno.h>
#include <stdalign.h>
#include <string.h>

#include "alloc.h"
#include "batch.h"
#include "group.h"
#include "pending.h"
#include "pool.h"
#include "task.h"
#include "worker.h"

/* ---- detached tasks ---- */

/* Nonzero if the caller is a worker of `pool` that still runs its loop:
 * its detached spawns are part of the work MT_DRAIN drains. A worker in
 * on_worker_stop has left its loop and would never run them. */
static int own_worker_in_loop(struct mt_pool *pool)
{
	struct mt_worker *w = mt__worker_of(pool);
	return w != NULL && !w->stopped;
}

/* Fills t's argument, copying `size` bytes when `copy`. */
static int set_argument(struct mt_task *t, const void *arg, size_t size,
			int copy)
{
	t->heap_copy = NULL;
	if (!copy) {
		t->arg = (void *)arg;
		return 0;
	}
	if (size == 0) {
		t->arg = NULL;
	} else if (size <= MT_SPAWN_INLINE_BYTES) {
		memcpy(t->inline_arg, arg, size);
		t->arg = t->inline_arg;
	} else {
		t->heap_copy = mt__alloc_aligned(alignof(max_align_t), size);
		if (t->heap_copy == NULL)
			return ENOMEM;
		memcpy(t->heap_copy, arg, size);
		t->arg = t->heap_copy;
	}
	return 0;
}

static int spawn_detached(mt_pool *pool, void (*fn)(void *), const void *arg,
			  size_t size, int copy)
{
	int err = 0;
	if (fn == NULL || (copy && size > 0 && arg == NULL))
		return EINVAL;
	pool = mt__resolve_pool(pool, &err);
	if (pool == NULL)
		return err;
	struct mt_task *t = mt__task_alloc();
	if (t == NULL)
		return ENOMEM;
	t->kind = MT_TASK_DETACHED;
	t->fn = fn;
	err = set_argument(t, arg, size, copy);
	if (err == 0) {
		int state = mt__pending_admit_detached(&pool->pending);
		if (state != MT_POOL_LIVE)
			err = mt__pending_admit_closing(
				&pool->pending, state,
				own_worker_in_loop(pool));
	}
	if (err != 0) {
		mt__free(t->heap_copy);
		mt__task_free(t);
		return err;
	}
	mt__submit(pool, t);
	return 0;
}

int mt_spawn(mt_pool *pool, void (*fn)(void *arg), void *arg)
{
	return spawn_detached(pool, fn, arg, 0, 0);
}

int mt_spawn_copy(mt_pool *pool, void (*fn)(void *arg), const void *arg,
		  size_t size)
{
	return spawn_detached(pool, fn, arg, size, 1);
}

int mt_quiesce(mt_pool *pool)
{
	int err = 0;
	pool = mt__resolve_pool(pool, &err);
	if (pool == NULL)
		return err;
	if (mt__worker_of(pool) != NULL)
		return EDEADLK;
	mt__pending_quiesce(&pool->pending);
	return 0;
}

/* ---- map and for ---- */

static int run_batch(mt_pool *pool, struct mt_batch *b)
{
	int err = 0;
	pool = mt__resolve_pool(pool, &err);
	if (pool == NULL)
		return err;
	int external = mt__worker_of(pool) == NULL;
	if (external && (err = mt__pending_admit_external(&pool->pending)) != 0)
		return err;
	err = mt__batch_run(pool, b);
	if (external)
		mt__pending_external_done(&pool->pending);
	return err;
}

int mt_map(mt_pool *pool, void *(*fn)(void *param), void *const *params,
	   void **results, size_t n)
{
	if (fn == NULL)
		return EINVAL;
	if (n == 0)
		return 0;
	if (params == NULL || results == NULL)
		return EINVAL;
	struct mt_batch b = {
		.n = n, .map_fn = fn, .params = params, .results = results};
	return run_batch(pool, &b);
}

int mt_for(mt_pool *pool, size_t n, void (*body)(size_t i, void *ctx),
	   void *ctx)
{
	if (body == NULL)
		return EINVAL;
	if (n == 0)
		return 0;
	struct mt_batch b = {.n = n, .body = body, .ctx = ctx};
	return run_batch(pool, &b);
}

int mt_for_range(mt_pool *pool, size_t n,
		 void (*body)(size_t lo, size_t hi, void *ctx), void *ctx)
{
	if (body == NULL)
		return EINVAL;
	if (n == 0)
		return 0;
	struct mt_batch b = {.n = n, .range_body = body, .ctx = ctx};
	return run_batch(pool, &b);
}

/* ---- groups ---- */

/* The header's fast halves (mtpool.h) do init, spawn and wait on the
 * worker that initialised the group, inline in C callers and first thing
 * here for everyone else; the rest of each function handles every other
 * caller and case. The counting is group.h's. */

static mt_group *group_of(mt_group *g)
{
	return (g != NULL && g->magic == MT_GROUP_MAGIC) ? g : NULL;
}

int mt_group_init(mt_group *group, mt_pool *pool)
{
	int err = 0;
	if (mt__group_init_fast(group, pool)) /* the header's fast half */
		return 0;
	if (group == NULL)
		return EINVAL;
	memset(group, 0, sizeof(*group));
	pool = mt__resolve_pool(pool, &err);
	if (pool == NULL)
		return err;
	struct mt_worker *w = mt__worker_of(pool);
	group->lane = w != NULL ? &w->deque.lane : NULL;
	group->pool = pool;
	atomic_init(&group->pending, 0);
	group->magic = MT_GROUP_MAGIC;
	return 0;
}

static int admit_group_spawn(mt_group *g)
{
	int err = 0;
	/* A group initialised before fork() names the parent's pool. */
	if (mt__resolve_pool(g->pool, &err) == NULL)
		return err;
	if (g->admitted)
		return 0;
	err = mt__pending_admit_external(&g->pool->pending);
	if (err == 0)
		g->admitted = 1;
	return err;
}

/* From a thread outside the pool: a library task through the injection
 * queue, counted in pending and, once per group, as an outside call. */
static int spawn_from_outside(mt_group *g, void (*fn)(void *), void *arg)
{
	struct mt_task *t = mt__task_alloc();
	if (t == NULL)
		return ENOMEM;
	/* Admit after the allocation, so a failed call leaves no admission
	 * behind for a wait that may never come. */
	int err = admit_group_spawn(g);
	if (err == 0)
		err = mt__group_add(g);
	if (err != 0) {
		mt__task_free(t);
		return err;
	}
	t->kind = MT_TASK_GROUP;
	t->fn = fn;
	t->arg = arg;
	t->heap_copy = NULL;
	t->u.group = g;
	mt__submit(g->pool, t);
	return 0;
}

/* Adds one to an owner-written statistic (as worker.c's stat_inc). */
static void stat_inc(_Atomic uint64_t *c)
{
	/* relaxed: readers in mt_pool_stats only need some recent value. */
	atomic_store_explicit(c,
			      atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* On a worker: a frame in its own deque. Counted in local when the worker
 * is the group's (its waiter), else in pending (group.h). A deque that
 * cannot grow runs the task here, as mt__submit does. */
static int spawn_on_worker(struct mt_worker *w, mt_group *g, void (*fn)(void *),
			   void *arg)
{
	int own = g->lane == &w->deque.lane;
	int err = 0;
	if (own && g->local >= MT_GROUP_LOCAL_MAX)
		err = mt__group_settle_early(g);
	else if (!own)
		err = mt__group_add(g);
	if (err != 0)
		return err;
	struct mt_item it = {fn, arg, g};
	if (mt__push_frame(w, &it) == 0) {
		if (own) /* only the owner may even write local */
			g->local++;
		return 0;
	}
	stat_inc(&w->n_inline);
	if (own) { /* counted nowhere: as if the wait had run it back */
		stat_inc(&w->deque.lane.runs);
		fn(arg);
		return 0;
	}
	mt__run_item(w->pool, w, &it); /* runs it and counts it down */
	return 0;
}

int mt_group_spawn(mt_group *group, void (*fn)(void *arg), void *arg)
{
	if (mt__group_spawn_fast(group, fn, arg)) /* the header's fast half */
		return 0;
	mt_group *g = group_of(group);
	if (g == NULL || fn == NULL)
		return EINVAL;
	struct mt_worker *w = mt__worker_of(g->pool);
	return w != NULL ? spawn_on_worker(w, g, fn, arg) :
			   spawn_from_outside(g, fn, arg);
}

int mt_group_wait(mt_group *group)
{
	if (mt__group_wait_fast(group)) /* the header's fast half */
		return 0;
	mt_group *g = group_of(group);
	int err = 0;
	if (g == NULL)
		return EINVAL;
	/* In a fork child the parent's workers that would run the group's
	 * tasks do not exist: waiting would never end. */
	if (mt__resolve_pool(g->pool, &err) == NULL)
		return err;
	struct mt_worker *w = mt__worker_of(g->pool);
	if (w != NULL && g->lane == &w->deque.lane)
		mt__group_wait_own(w, g);
	else if (!mt__group_settle(g)) /* local is 0 off the group's worker */
		mt__wait_latch(g->pool, mt__group_latch(g));
	if (g->admitted) {
		g->admitted = 0;
		mt__pending_external_done(&g->pool->pending);
	}
	return 0;
}

/* ---- introspection ---- */

unsigned mt_pool_size(const mt_pool *pool)
{
	int err = 0;
	const struct mt_pool *p = mt__resolve_pool((mt_pool *)pool, &err);
	return p != NULL ? p->nworkers : 0;
}

int mt_worker_index(void)
{
	struct mt_worker *w = mt__current_worker();
	return w != NULL ? (int)w->index : -1;
}

mt_pool *mt_current_pool(void)
{
	struct mt_worker *w = mt__current_worker();
	return w != NULL ? w->pool : NULL;
}

static uint64_t load_stat(_Atomic uint64_t *c)
{
	/* relaxed: each counter is exact on its own; no cut is promised. */
	return atomic_load_explicit(c, memory_order_relaxed);
}

static void sum_workers(struct mt_pool *p, mt_stats *out)
{
	for (unsigned i = 0; i < p->nworkers; i++) {
		struct mt_worker *w = &p->workers[i];
		out->tasks_run +=
			load_stat(&w->n_run) + load_stat(&w->deque.lane.runs);
		out->steals += load_stat(&w->n_steals);
		out->parks += load_stat(&w->n_parks);
		out->inline_runs += load_stat(&w->n_inline);
		out->discarded += load_stat(&w->n_discarded);
		out->injected += load_stat(&w->n_injected_taken);
		out->workers_parked +=
			atomic_load_explicit(&w->parked, memory_order_relaxed);
	}
}

int mt_pool_stats(const mt_pool *pool, mt_stats *out)
{
	int err = 0;
	if (out == NULL)
		return EINVAL;
	struct mt_pool *p = mt__resolve_pool((mt_pool *)pool, &err);
	if (p == NULL)
		return err;
	memset(out, 0, sizeof(*out));
	sum_workers(p, out);
	out->queued = mt__pending_detached(&p->pending);
	out->tasks_detached = mt__pending_accepted(&p->pending);
	out->wakes = load_stat(&p->n_wakes);
	out->workers = p->nworkers;
	return 0;
}

const char *mt_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case EINVAL:
		return "invalid argument";
	case ENOMEM:
		return "out of memory";
	case EAGAIN:
		return "could not create a worker thread";
	case ESHUTDOWN:
		return "the pool is shutting down";
	case EDEADLK:
		return "would deadlock: called from one of the pool's own "
		       "workers";
	case EBUSY:
		return "the pool is already being destroyed";
	case EOVERFLOW:
		return "too many pending tasks in the group";
	case ECHILD:
		return "the pool was created before fork() and has no workers "
		       "in this process";
	default:
		return "unknown error";
	}
}
