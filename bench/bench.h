/*
 * mtbench: the runtime interface behind every workload.
 *
 * Overview
 * ========
 * mtbench.c holds the workloads, the timing and the table; a runtime is a
 * table of operations (struct bench_runtime) that the workloads call. Each
 * runtime lives in its own file, bench/rt_<name>.c, and is listed in the
 * `runtimes[]` array of mtbench.c. The sequential baselines are a runtime
 * too (bench/rt_seq.c, `bench_rt_seq`): every workload is timed on it in
 * the same run, so every figure has a baseline beside it (STYLE.md 42).
 *
 * Usage (adding a runtime, e.g. OpenMP)
 * =====================================
 *   1. Write bench/rt_openmp.c defining `const struct bench_runtime
 *      bench_rt_openmp = { .name = "openmp", ... };`. Fill in what the
 *      runtime can do; leave the rest NULL: the table prints N/A for every
 *      workload that needs a missing operation.
 *   2. Declare it below and add it to `runtimes[]` in mtbench.c (under the
 *      build macro that says the library is present).
 *
 * Implementation notes
 * ====================
 * A runtime holds at most one live instance: init() starts it with a given
 * number of worker threads and fini() stops it. mtbench calls init/fini
 * several times per run (all CPUs, one worker, oversubscribed), so both
 * must be repeatable. All operations are called from the main thread only,
 * between init() and fini(). Every `int` operation returns 0 or a positive
 * errno value; mtbench treats any other value as a failed run.
 */
#ifndef MTPOOL_BENCH_BENCH_H
#define MTPOOL_BENCH_BENCH_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct bench_runtime {
	/* Short name for --runtime and the table, e.g. "mtpool". */
	const char *name;
	/* One line shown in the header: library and version, caveats. */
	const char *note;

	/* Starts an instance with `threads` workers (>= 1). Required. */
	int (*init)(unsigned threads);
	/* Stops the instance after finishing all queued work. Required. */
	int (*fini)(void);

	/* Fire-and-forget fn(arg); returns without waiting. `arg` is
	 * borrowed until fn returns. */
	int (*spawn_detached)(void (*fn)(void *arg), void *arg);
	/* Blocks until every spawn_detached task has returned, and makes
	 * their effects visible to the caller. Needed with spawn_detached. */
	int (*quiesce)(void);

	/* body(i, ctx) for every i in 0 .. n-1, in any order; blocks until
	 * all have returned, their effects visible to the caller. */
	int (*parallel_for)(size_t n, void (*body)(size_t i, void *ctx),
			    void *ctx);
	/* results[i] = fn(params[i]) for i in 0 .. n-1; blocks as above. */
	int (*map)(void *(*fn)(void *param), void *const *params,
		   void **results /* OUT */, size_t n);

	/* *out = fib(n), computed with one task spawned per call that has
	 * n >= 2 (fib(n-1) spawned, fib(n-2) inline, then a join) and no
	 * sequential cutoff. The runtime decides how the root is started
	 * (mtpool runs it on a worker, so every spawn is a worker spawn). */
	int (*fib)(unsigned n, uint64_t *out /* OUT */);

	/* Wake probe: waits, at most `timeout_ns`, until every worker is
	 * asleep in the OS (parked), so that the next spawn has to wake one.
	 * Returns 0 when they are, ETIMEDOUT when they are not by then. A
	 * runtime that cannot observe parking may sleep for a time after
	 * which its workers are known to sleep, and must say so in `note`.
	 * NULL: the wake-latency and idle-CPU workloads print N/A. */
	int (*wait_parked)(uint64_t timeout_ns);
};

/* The registered runtimes. */
extern const struct bench_runtime bench_rt_mtpool;

/* The sequential baselines: every operation runs on the calling thread
 * (spawn_detached calls fn at once, fib is the plain recursion). */
extern const struct bench_runtime bench_rt_seq;

/* Plain-loop baseline of the 10M-item workload: a[i] = i*2+1, written as
 * a program without a pool would write it (the compiler may vectorise). */
void bench_seq_fill(uint64_t *a, size_t n);

/* Monotonic clock in nanoseconds. */
static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Busy-waits `ns` nanoseconds on the monotonic clock: a task of known
 * cost that neither sleeps nor yields. */
static inline void bench_spin_ns(uint64_t ns)
{
	uint64_t end = bench_now_ns() + ns;

	while (bench_now_ns() < end)
		;
}

/* Sleeps the calling thread for `ns` nanoseconds (restarting on EINTR). */
static inline void bench_sleep_ns(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / 1000000000u),
		.tv_nsec = (long)(ns % 1000000000u),
	};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

#endif /* MTPOOL_BENCH_BENCH_H */
