/*
 * mtbench runtime: OpenMP, as gcc's libgomp implements it.
 *
 * Overview
 * ========
 * Each operation is the idiom an OpenMP user would write: one parallel
 * region per call, `#pragma omp for schedule(guided)` for loops and maps,
 * and `#pragma omp task` + `taskwait` for fib inside a region whose root
 * runs under `single`. The team size is omp_set_num_threads(threads) with
 * dynamic adjustment off, so every region has exactly `threads` threads,
 * the caller included (as in an mtpool map, where the caller is one
 * participant).
 *
 * Not available
 * =============
 * Detached work: OpenMP has no way to submit a task from outside a
 * parallel region that outlives the call; a task's lifetime is bounded by
 * its region (or its taskgroup), and the region's end is a barrier. The
 * wake-latency row needs detached work too, so it is N/A as well.
 *
 * Implementation notes
 * ====================
 * schedule(guided): chunks start at remaining/threads and shrink to 1, so
 * a balanced 10M-item loop costs a few dozen chunk grabs while the
 * unbalanced loop still ends evenly. schedule(dynamic) with the default
 * chunk of 1 would pay ~32 ns per item on this machine (NOTES.md), and a
 * fixed larger chunk would be tuned to this workload; guided is the
 * schedule the OpenMP documentation suggests when it does not know.
 *
 * fib: libgomp may run a task at once (undeferred) when the team already
 * holds many queued tasks; that is its own throttle, left alone.
 *
 * Idle behaviour: libgomp threads spin (GOMP_SPINCOUNT, 300,000 by
 * default; fewer when oversubscribed) before sleeping on a futex, so
 * wait_parked asks the kernel (bench_wait_threads_asleep), and the
 * "right after map" idle row shows the spin. The environment is left as
 * the user's: OMP_WAIT_POLICY or GOMP_SPINCOUNT set by the caller apply.
 */
#define _POSIX_C_SOURCE 200809L

#include <omp.h>

#include "bench.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* Team size of every region; main thread only. */
static int team;

static int omp_init(unsigned threads)
{
	team = (int)threads;
	omp_set_dynamic(0);
	omp_set_num_threads(team);
	/* Start the team now, as the other runtimes start their threads in
	 * init(), so the first timed region does not pay thread creation. */
#pragma omp parallel
	{
		(void)0;
	}
	return 0;
}

static int omp_fini(void)
{
	/* Every region has ended at its barrier: nothing is queued. */
	return 0;
}

static int omp_parallel_for(size_t n, void (*body)(size_t i, void *ctx),
			    void *ctx)
{
#pragma omp parallel for schedule(guided)
	for (size_t i = 0; i < n; i++)
		body(i, ctx);
	return 0;
}

/* OpenMP has no range callback; the idiom is a static split, one block
 * per thread, which is what `parallel for schedule(static)` does. */
static int omp_parallel_for_range(size_t n,
				  void (*body)(size_t lo, size_t hi, void *ctx),
				  void *ctx)
{
#pragma omp parallel
	{
		size_t t = (size_t)omp_get_thread_num();
		size_t nt = (size_t)omp_get_num_threads();
		size_t lo = n * t / nt, hi = n * (t + 1) / nt;
		if (lo < hi)
			body(lo, hi, ctx);
	}
	return 0;
}

static int omp_map(void *(*fn)(void *param), void *const *params,
		   void **results, size_t n)
{
#pragma omp parallel for schedule(guided)
	for (size_t i = 0; i < n; i++)
		results[i] = fn(params[i]);
	return 0;
}

static uint64_t pfib(unsigned n)
{
	uint64_t x, y;

	if (n < 2)
		return n;
#pragma omp task shared(x)
	x = pfib(n - 1);
	y = pfib(n - 2);
#pragma omp taskwait
	return x + y;
}

static int omp_fib(unsigned n, uint64_t *out)
{
	uint64_t v = 0;

#pragma omp parallel
	{
#pragma omp single
		v = pfib(n);
	}
	*out = v;
	return 0;
}

const struct bench_runtime bench_rt_openmp = {
	.name = "openmp",
	.note = "gcc libgomp, OpenMP " STR(
		_OPENMP) ", region per call, "
			 "schedule(guided), fib: omp task/taskwait",
	.init = omp_init,
	.fini = omp_fini,
	.parallel_for = omp_parallel_for,
	.parallel_for_range = omp_parallel_for_range,
	.map = omp_map,
	.fib = omp_fib,
	.wait_parked = bench_wait_threads_asleep,
	.why_no_detached = "no detached submit outside a parallel region",
};
