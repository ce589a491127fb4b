/*
 * mtbench runtime: mtpool, through its public API only.
 *
 * Overview
 * ========
 * One explicit pool (mt_pool_create) per init(), destroyed with MT_DRAIN
 * by fini(); the default pool is never touched, so the one-worker and
 * oversubscribed runs get exactly the worker count they ask for.
 *
 * Implementation notes
 * ====================
 * fib: every call with n >= 2 puts a stack-allocated mt_group around one
 * spawn (fib(n-1)) and computes fib(n-2) inline before waiting, which is
 * the "spawn per call, no cutoff". The root is itself spawned into
 * a group from the main thread, so every other spawn is made by a worker
 * onto its own deque: the measured cost is the worker path, not the
 * injection queue. A failed spawn falls back to computing inline, so the
 * result stays right, and the first error is reported after the run.
 *
 * wait_parked polls mt_pool_stats(); `workers_parked` is a snapshot, so
 * "all parked" means "all were parked at one instant", which is what the
 * wake probe needs: nothing else runs in the process meanwhile.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdatomic.h>

#include <mtpool/mtpool.h>

#include "bench.h"

#define STR_(x) #x
#define STR(x) STR_(x)
/* The library version, for the runtime's note. */
#define MTPOOL_VERSION_STR        \
	STR(MTPOOL_VERSION_MAJOR) \
	"." STR(MTPOOL_VERSION_MINOR) "." STR(MTPOOL_VERSION_PATCH)

/* The live pool, set by init() and cleared by fini(); main thread only. */
static mt_pool *pool;

/* First error from a spawn inside fib; relaxed: read by the main thread
 * only after mt_group_wait(), which makes the tasks' effects visible. */
static atomic_int fib_err;

static int rt_init(unsigned threads)
{
	mt_config cfg = {.threads = threads, .name_prefix = "mtbench"};

	pool = mt_pool_create(&cfg);
	return pool ? 0 : errno;
}

static int rt_fini(void)
{
	int err = mt_pool_destroy(pool, MT_DRAIN);

	pool = NULL;
	return err;
}

static int rt_spawn_detached(void (*fn)(void *arg), void *arg)
{
	return mt_spawn(pool, fn, arg);
}

static int rt_quiesce(void)
{
	return mt_quiesce(pool);
}

static int rt_parallel_for(size_t n, void (*body)(size_t i, void *ctx),
			   void *ctx)
{
	return mt_for(pool, n, body, ctx);
}

static int rt_parallel_for_range(size_t n,
				 void (*body)(size_t lo, size_t hi, void *ctx),
				 void *ctx)
{
	return mt_for_range(pool, n, body, ctx);
}

static int rt_map(void *(*fn)(void *param), void *const *params, void **results,
		  size_t n)
{
	return mt_map(pool, fn, params, results, n);
}

struct fib_frame {
	unsigned n;	/* IN */
	uint64_t value; /* OUT: fib(n) */
};

static uint64_t pfib(unsigned n);

static void fib_task(void *arg)
{
	struct fib_frame *f = arg;

	f->value = pfib(f->n);
}

static void note_fib_err(int err)
{
	int none = 0;

	atomic_compare_exchange_strong_explicit(&fib_err, &none, err,
						memory_order_relaxed,
						memory_order_relaxed);
}

static uint64_t pfib(unsigned n)
{
	struct fib_frame child;
	mt_group g;
	uint64_t rest;
	int err;

	if (n < 2)
		return n;
	child.n = n - 1;
	child.value = 0;
	err = mt_group_init(&g, pool);
	if (err == 0)
		err = mt_group_spawn(&g, fib_task, &child);
	if (err != 0) {
		note_fib_err(err);
		fib_task(&child);
	}
	rest = pfib(n - 2);
	if (err == 0 && (err = mt_group_wait(&g)) != 0)
		note_fib_err(err);
	return child.value + rest;
}

static int rt_fib(unsigned n, uint64_t *out)
{
	struct fib_frame root = {.n = n};
	mt_group g;
	int err;

	atomic_store_explicit(&fib_err, 0, memory_order_relaxed);
	err = mt_group_init(&g, pool);
	if (err == 0)
		err = mt_group_spawn(&g, fib_task, &root);
	if (err == 0)
		err = mt_group_wait(&g);
	if (err == 0)
		err = atomic_load_explicit(&fib_err, memory_order_relaxed);
	*out = root.value;
	return err;
}

static int rt_wait_parked(uint64_t timeout_ns)
{
	uint64_t deadline = bench_now_ns() + timeout_ns;
	mt_stats st;
	int err;

	for (;;) {
		err = mt_pool_stats(pool, &st);
		if (err != 0)
			return err;
		if (st.workers_parked == st.workers)
			return 0;
		if (bench_now_ns() > deadline)
			return ETIMEDOUT;
		bench_sleep_ns(20000);
	}
}

const struct bench_runtime bench_rt_mtpool = {
	.name = "mtpool",
	.note = "mtpool " MTPOOL_VERSION_STR
		", explicit pool (mt_pool_create), "
		"fib root run on a worker",
	.init = rt_init,
	.fini = rt_fini,
	.spawn_detached = rt_spawn_detached,
	.quiesce = rt_quiesce,
	.parallel_for = rt_parallel_for,
	.parallel_for_range = rt_parallel_for_range,
	.map = rt_map,
	.fib = rt_fib,
	.wait_parked = rt_wait_parked,
};
