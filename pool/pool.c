/*
 * pool/pool.c: creating and destroying pools, the process default pool,
 * and what fork() does to them.
 *
 * Lock order: default_lock is the only lock taken here and nothing else is
 * taken while it is held except what mt_pool_create takes (the task depot
 * lock, briefly).
 *
 * Fork (STYLE 30)
 * ===============
 * One pthread_atfork child handler, reset_after_fork(), runs in the child's
 * only thread. It takes no lock a worker may hold: it re-initialises the
 * default-pool lock and the task depot instead, forgets the default pool
 * (its workers do not exist in the child; its memory is leaked there), and
 * bumps mt__fork_generation. Consequences:
 *   - mt_default_pool() in the child creates a fresh pool on first use;
 *   - an explicit pool created before the fork is inherited without
 *     workers: every call on it in the child returns ECHILD, and
 *     mt_pool_destroy() on it frees nothing and returns ECHILD too (its
 *     memory may be mid-update by a parent thread that no longer exists).
 */
#include "pool.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "park.h"
#include "pending.h"
#include "task.h"
#include "worker.h"

_Atomic unsigned mt__fork_generation;

static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(mt_pool *) default_pool_ptr; /* A: release on publish */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void reset_after_fork(void)
{
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	memcpy(&default_lock, &fresh, sizeof(fresh));
	atomic_store_explicit(&default_pool_ptr, NULL, memory_order_relaxed);
	atomic_fetch_add_explicit(&mt__fork_generation, 1,
				  memory_order_relaxed);
	mt__task_depot_reset_after_fork();
	mt__worker_forget_after_fork();
	mt__park_init_process();
}

/* Once per process, before its first pool. */
static void init_process(void)
{
	mt__park_init_process();
	/* Failure (ENOMEM) only loses fork support; the pools work. */
	pthread_atfork(NULL, NULL, reset_after_fork);
}

/* Parses $MTPOOL_THREADS: digits only, 1 .. MT_MAX_THREADS. Not strtoul,
 * which skips leading white space, takes a sign, and reports through
 * errno (which the int functions that create the default pool must leave
 * alone). Returns 0 and *out (0 if unset), or EINVAL. */
static int threads_from_env(unsigned *out)
{
	const char *s = getenv("MTPOOL_THREADS");
	*out = 0;
	if (s == NULL)
		return 0;
	unsigned v = 0;
	for (const char *c = s; *c != '\0'; c++) {
		if (*c < '0' || *c > '9')
			return EINVAL;
		v = v * 10 + (unsigned)(*c - '0');
		if (v > MT_MAX_THREADS) /* also keeps v from overflowing */
			return EINVAL;
	}
	if (v == 0) /* "", "0", "000" */
		return EINVAL;
	*out = v;
	return 0;
}

static unsigned online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > (long)MT_MAX_THREADS ? MT_MAX_THREADS : (unsigned)n;
}

static int resolve_threads(const mt_config *cfg, unsigned *out)
{
	if (cfg != NULL && cfg->threads > MT_MAX_THREADS)
		return EINVAL;
	if (cfg != NULL && cfg->threads > 0) {
		*out = cfg->threads;
		return 0;
	}
	int err = threads_from_env(out);
	if (err == 0 && *out == 0)
		*out = online_cpus();
	return err;
}

static void copy_config(struct mt_pool *p, const mt_config *cfg)
{
	const char *prefix = "mtpool";
	if (cfg != NULL) {
		if (cfg->name_prefix != NULL)
			prefix = cfg->name_prefix;
		p->on_start = cfg->on_worker_start;
		p->on_stop = cfg->on_worker_stop;
		p->userdata = cfg->userdata;
	}
	snprintf(p->name_prefix, sizeof(p->name_prefix), "%s", prefix);
}

static void init_worker(struct mt_pool *p, unsigned i)
{
	struct mt_worker *w = &p->workers[i];
	w->pool = p;
	w->index = i;
	w->rng = 0x9e3779b97f4a7c15ull * (i + 1);
	w->help_depth = 0;
	w->stopped = 0;
	w->poll_countdown = 1; /* a fresh worker looks at the queue first */
	atomic_init(&w->spin_rounds, MT_SPIN_ROUNDS);
	ck_ec32_init(&w->park_ec, 0);
	atomic_init(&w->asleep, 0);
	atomic_init(&w->last_cpu, -1);
	atomic_init(&w->waiting_on, 0);
	atomic_init(&w->n_run, 0);
	atomic_init(&w->n_steals, 0);
	atomic_init(&w->n_parks, 0);
	atomic_init(&w->n_inline, 0);
	atomic_init(&w->n_discarded, 0);
	atomic_init(&w->n_injected_taken, 0);
	atomic_init(&w->parked, 0);
	mt__pending_worker_init(&w->pending);
}

/* Frees everything but threads; deques [0, ndeques) were initialised. */
static void free_pool(struct mt_pool *p, unsigned ndeques, int inject_ok)
{
	for (unsigned i = 0; i < ndeques; i++)
		mt__deque_destroy(&p->workers[i].deque);
	if (inject_ok)
		mt__inject_destroy(&p->inject);
	mt__free(p->workers);
#ifdef MTPOOL_DEBUG
	memset(p, 0xdb, sizeof(*p));
#endif
	mt__free(p);
}

static struct mt_pool *alloc_pool(unsigned n, int *err)
{
	struct mt_pool *p = mt__alloc_aligned(MT_CACHELINE, sizeof(*p));
	if (p == NULL) {
		*err = ENOMEM;
		return NULL;
	}
	memset(p, 0, sizeof(*p));
	p->workers = mt__alloc_aligned(MT_CACHELINE, n * sizeof(p->workers[0]));
	if (p->workers == NULL) {
		mt__free(p);
		*err = ENOMEM;
		return NULL;
	}
	memset(p->workers, 0, n * sizeof(p->workers[0]));
	p->nworkers = n;
	return p;
}

/* Initialises the injection queue (*inject_ok) and then the deques
 * ([0, *ndeques)); on failure, what was initialised is reported so that
 * free_pool undoes exactly that. */
static int init_queues(struct mt_pool *p, int *inject_ok, unsigned *ndeques)
{
	*ndeques = 0;
	int err = mt__inject_init(&p->inject, MT_INJECT_LOG2);
	*inject_ok = err == 0;
	if (err != 0)
		return err;
	for (; *ndeques < p->nworkers; (*ndeques)++) {
		struct mt_deque *d = &p->workers[*ndeques].deque;
		err = mt__deque_init(d, MT_DEQUE_INITIAL_LOG2);
		if (err != 0)
			return err;
		d->lane.pool = p;
		d->lane.idle = &p->idle;
		/* Without the heavy barrier a private frame of an owner
		 * blocked in user code could never be taken (deque.c). */
		if (!mt__heavy_barrier_available())
			mt__deque_disable_private(d);
	}
	return 0;
}

/* Stops and joins the first `started` workers (creation failed later). */
static void stop_started(struct mt_pool *p, unsigned started)
{
	mt__pending_close(&p->pending, MT_POOL_DRAINING);
	for (unsigned i = 0; i < started; i++)
		pthread_join(p->workers[i].thread, NULL);
}

static int start_workers(struct mt_pool *p, size_t stack_size)
{
	pthread_attr_t attr;
	int err = pthread_attr_init(&attr);
	if (err != 0)
		return err;
	err = pthread_attr_setstacksize(&attr, stack_size);
	unsigned i = 0;
	mt__latch_add(&p->started, p->nworkers);
	for (; err == 0 && i < p->nworkers; i++) {
		err = mt__fault_thread_create_fails() ?
			      EAGAIN :
			      pthread_create(&p->workers[i].thread, &attr,
					     mt__worker_main, &p->workers[i]);
		if (err != 0)
			break;
	}
	pthread_attr_destroy(&attr);
	if (err != 0) {
		/* Let the never-started workers' share of the latch go, so
		 * the started ones are not waited for by anybody. */
		for (unsigned j = i; j < p->nworkers; j++)
			mt__latch_count_down(&p->started);
		stop_started(p, i);
		return err;
	}
	mt__latch_block(&p->started);
	return 0;
}

static struct mt_pool *create_pool(const mt_config *cfg, int *err)
{
	unsigned n = 0, ndeques = 0;
	int inject_ok = 0;
	*err = resolve_threads(cfg, &n);
	if (*err != 0)
		return NULL;
	struct mt_pool *p = alloc_pool(n, err);
	if (p == NULL)
		return NULL;
	copy_config(p, cfg);
	p->fork_gen = atomic_load_explicit(&mt__fork_generation,
					   memory_order_relaxed);
	mt__pending_init(&p->pending);
	mt__latch_init(&p->started);
	for (unsigned i = 0; i < n; i++)
		init_worker(p, i);
	*err = init_queues(p, &inject_ok, &ndeques);
	if (*err == 0) {
		size_t stack = (cfg != NULL && cfg->stack_size != 0) ?
				       cfg->stack_size :
				       (size_t)8 << 20;
		*err = start_workers(p, stack);
	}
	if (*err != 0) {
		free_pool(p, ndeques, inject_ok);
		return NULL;
	}
	return p;
}

mt_pool *mt_pool_create(const mt_config *cfg)
{
	pthread_once(&init_once, init_process);
	int err = 0;
	mt_pool *p = create_pool(cfg, &err);
	if (p == NULL)
		errno = err;
	return p;
}

static mt_pool *create_default(int *err)
{
	pthread_mutex_lock(&default_lock);
	/* relaxed: under the lock, which orders it with the publisher. */
	mt_pool *p =
		atomic_load_explicit(&default_pool_ptr, memory_order_relaxed);
	if (p == NULL) {
		p = create_pool(NULL, err);
		if (p != NULL) {
			p->is_default = 1;
			/* release: publishes the pool to lock-free readers. */
			atomic_store_explicit(&default_pool_ptr, p,
					      memory_order_release);
		}
	}
	pthread_mutex_unlock(&default_lock);
	return p;
}

/* The default pool, created on first use; NULL and *err on failure. */
static mt_pool *default_pool(int *err)
{
	/* acquire: pairs with the release publish in create_default. */
	mt_pool *p =
		atomic_load_explicit(&default_pool_ptr, memory_order_acquire);
	if (p != NULL)
		return p;
	pthread_once(&init_once, init_process);
	return create_default(err);
}

mt_pool *mt_default_pool(void)
{
	int err = 0;
	mt_pool *p = default_pool(&err);
	if (p == NULL)
		errno = err;
	return p;
}

mt_pool *mt__resolve_pool_slow(mt_pool *pool, int *err)
{
	if (pool == NULL) {
		/* The int functions' route to the default pool: creating it
		 * starts threads, and some libc calls on the way may set
		 * errno, which these functions promise to leave alone. */
		int saved = errno;
		pool = default_pool(err);
		errno = saved;
		return pool;
	}
	if (pool->fork_gen !=
	    atomic_load_explicit(&mt__fork_generation, memory_order_relaxed)) {
		*err = ECHILD;
		return NULL;
	}
	return pool;
}

static uint64_t collect_discarded(struct mt_pool *p)
{
	uint64_t d = 0;
	for (unsigned i = 0; i < p->nworkers; i++)
		d += atomic_load_explicit(&p->workers[i].n_discarded,
					  memory_order_relaxed);
	return d;
}

/* After the join, the queues can only hold join tasks whose batch owner
 * cancelled them (task.h): nobody else needs them, so free them. Group
 * frames cannot be left: every group was waited for. With every worker
 * joined, this thread may act as each deque's owner. */
static void free_leftovers(struct mt_pool *p)
{
	struct mt_task *t;
	while ((t = mt__inject_pop_mc(&p->inject)) != NULL)
		mt__task_free(t);
	for (unsigned i = 0; i < p->nworkers; i++) {
		struct mt_item it;
		while (mt__deque_take_owner(&p->workers[i].deque, &it))
			if (it.group == NULL)
				mt__task_free(it.arg);
	}
}

static int destroy_checks(mt_pool *pool, mt_shutdown how)
{
	if (how != MT_DRAIN && how != MT_DISCARD)
		return EINVAL;
	if (pool->fork_gen !=
	    atomic_load_explicit(&mt__fork_generation, memory_order_relaxed))
		return ECHILD;
	if (pool->is_default)
		return EINVAL;
	if (mt__worker_of(pool) != NULL)
		return EDEADLK;
	int expected = 0;
	/* relaxed: only decides which caller destroys; joins order the rest. */
	if (!atomic_compare_exchange_strong_explicit(
		    &pool->destroying, &expected, 1, memory_order_relaxed,
		    memory_order_relaxed))
		return EBUSY;
	return 0;
}

int mt_pool_destroy_counted(mt_pool *pool, mt_shutdown how, uint64_t *discarded)
{
	if (discarded != NULL)
		*discarded = 0;
	if (pool == NULL)
		return 0;
	int err = destroy_checks(pool, how);
	if (err != 0)
		return err;
	int state = how == MT_DRAIN ? MT_POOL_DRAINING : MT_POOL_DISCARDING;
	mt__pending_close(&pool->pending, state);
	for (unsigned i = 0; i < pool->nworkers; i++)
		pthread_join(pool->workers[i].thread, NULL);
	if (discarded != NULL)
		*discarded = collect_discarded(pool);
	mt__pending_wait_leavers(&pool->pending);
	free_leftovers(pool);
	/* Nothing detached was lost: each admitted task ran or was dropped. */
	assert(mt__pending_detached(&pool->pending) == 0);
	free_pool(pool, pool->nworkers, 1);
	return 0;
}

int mt_pool_destroy(mt_pool *pool, mt_shutdown how)
{
	return mt_pool_destroy_counted(pool, how, NULL);
}
