/*
 * mtbench runtime: oneTBB (Debian's libtbb-dev, oneTBB 2021).
 *
 * Overview
 * ========
 * The idioms oneTBB documents: tbb::parallel_for over a blocked_range with
 * the default (auto) partitioner for loops and maps, a tbb::task_group per
 * fib call (run fib(n-1), compute fib(n-2), wait), and
 * tbb::task_arena::enqueue for fire-and-forget work.
 *
 * Implementation notes
 * ====================
 * Worker count. oneTBB sizes itself from the CPU count and, by default,
 * lets at most cores-1 worker threads join (the caller being the last
 * core): on this 2-vCPU machine an enqueue-only arena would run on ONE
 * worker (NOTES.md). init(threads) therefore raises the process limit
 * with tbb::global_control(max_allowed_parallelism, threads + 1) and uses
 * two explicit arenas:
 *   fj   task_arena(threads, 1): the caller plus threads-1 workers for the
 *        fork-join operations, entered with fj.execute(), so a loop has
 *        `threads` participants like an mtpool map (caller included);
 *   det  task_arena(threads, 0): `threads` workers for enqueued tasks,
 *        which the caller never joins, like mtpool's detached spawns.
 * Explicit arenas also let the oversubscribed run have 8 threads, which
 * the implicit arena (sized to the CPUs) would not.
 *
 * Quiesce. An arena has no "wait for everything enqueued" call (a
 * task_group cannot be enqueued into an arena without preview features in
 * this version), so each enqueued task decrements a counter of pending
 * tasks, and the one that brings it to zero notifies a condition variable
 * under its mutex; quiesce waits on it. The waiter re-checks the counter
 * under the mutex, and the notifier takes the mutex after its decrement,
 * so the notification cannot fall between the check and the wait. The
 * mutex and condition variable are static, so the last task may touch
 * them after the waiter has returned.
 *
 * wait_parked asks the kernel (bench_wait_threads_asleep): oneTBB workers
 * spin briefly, then sleep on a futex.
 */
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#include <oneapi/tbb/version.h>

#include "bench.h"

namespace
{

/* The live instance, created by init() and destroyed by fini(); main
 * thread only. */
struct instance {
	tbb::global_control limit;
	tbb::task_arena fj;
	tbb::task_arena det;

	explicit instance(unsigned threads)
	    : limit(tbb::global_control::max_allowed_parallelism, threads + 1),
	      fj(static_cast<int>(threads), 1),
	      det(static_cast<int>(threads), 0)
	{
		fj.initialize();
		det.initialize();
	}
};

instance *live;

/* Enqueued tasks not yet finished. acq_rel on the decrement: release
 * publishes the task's effects, acquire (in quiesce's load) takes them. */
std::atomic<size_t> pending{0};
std::mutex idle_mutex;
std::condition_variable idle_cv;

int tbb_init(unsigned threads)
{
	try {
		live = new instance(threads);
	} catch (const std::bad_alloc &) {
		return ENOMEM;
	} catch (...) {
		return EAGAIN;
	}
	return 0;
}

int tbb_quiesce(void)
{
	std::unique_lock<std::mutex> lk(idle_mutex);

	idle_cv.wait(lk, [] {
		return pending.load(std::memory_order_acquire) == 0;
	});
	return 0;
}

int tbb_fini(void)
{
	tbb_quiesce();
	delete live;
	live = nullptr;
	return 0;
}

int tbb_spawn_detached(void (*fn)(void *arg), void *arg)
{
	/* relaxed: the task that decrements is enqueued after this, and
	 * the enqueue itself publishes the increment to it. */
	pending.fetch_add(1, std::memory_order_relaxed);
	try {
		live->det.enqueue([fn, arg] {
			fn(arg);
			if (pending.fetch_sub(1, std::memory_order_acq_rel) ==
			    1) {
				std::lock_guard<std::mutex> lk(idle_mutex);
				idle_cv.notify_all();
			}
		});
	} catch (...) {
		pending.fetch_sub(1, std::memory_order_relaxed);
		return ENOMEM;
	}
	return 0;
}

int tbb_parallel_for(size_t n, void (*body)(size_t i, void *ctx), void *ctx)
{
	live->fj.execute([&] {
		tbb::parallel_for(tbb::blocked_range<size_t>(0, n),
				  [&](const tbb::blocked_range<size_t> &r) {
					  for (size_t i = r.begin();
					       i != r.end(); ++i)
						  body(i, ctx);
				  });
	});
	return 0;
}

int tbb_parallel_for_range(size_t n,
			   void (*body)(size_t lo, size_t hi, void *ctx),
			   void *ctx)
{
	live->fj.execute([&] {
		tbb::parallel_for(tbb::blocked_range<size_t>(0, n),
				  [&](const tbb::blocked_range<size_t> &r) {
					  body(r.begin(), r.end(), ctx);
				  });
	});
	return 0;
}

int tbb_map(void *(*fn)(void *param), void *const *params, void **results,
	    size_t n)
{
	live->fj.execute([&] {
		tbb::parallel_for(tbb::blocked_range<size_t>(0, n),
				  [&](const tbb::blocked_range<size_t> &r) {
					  for (size_t i = r.begin();
					       i != r.end(); ++i)
						  results[i] = fn(params[i]);
				  });
	});
	return 0;
}

uint64_t pfib(unsigned n)
{
	uint64_t x, y;
	tbb::task_group g;

	if (n < 2)
		return n;
	g.run([&x, n] { x = pfib(n - 1); });
	y = pfib(n - 2);
	g.wait();
	return x + y;
}

int tbb_fib(unsigned n, uint64_t *out)
{
	try {
		live->fj.execute([&] { *out = pfib(n); });
	} catch (const std::bad_alloc &) {
		return ENOMEM;
	}
	return 0;
}

} // namespace

extern "C" const struct bench_runtime bench_rt_tbb = {
	.name = "tbb",
	.note = "oneTBB " TBB_VERSION_STRING
		", global_control(threads+1), parallel_for auto partitioner,"
		" task_group fib, arena enqueue",
	.init = tbb_init,
	.fini = tbb_fini,
	.spawn_detached = tbb_spawn_detached,
	.quiesce = tbb_quiesce,
	.parallel_for = tbb_parallel_for,
	.parallel_for_range = tbb_parallel_for_range,
	.map = tbb_map,
	.fib = tbb_fib,
	.wait_parked = bench_wait_threads_asleep,
	.why_no_detached = nullptr,
	.why_no_for = nullptr,
	.why_no_range = nullptr,
	.why_no_fib = nullptr,
	.why_no_parked = nullptr,
	.why_no_resize = nullptr,
};
