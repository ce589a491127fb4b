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
 *   3. For every operation left NULL, say why in its `why_no_*` field:
 *      the reason is printed beside the N/A. An adapter never fakes an
 *      operation the runtime has no natural idiom for.
 *
 * Implementation notes
 * ====================
 * A runtime holds at most one live instance: init() starts it with a given
 * number of worker threads and fini() stops it. mtbench calls init/fini
 * several times per run (all CPUs, one worker, oversubscribed), so both
 * must be repeatable. All operations are called from the main thread only,
 * between init() and fini(). Every `int` operation returns 0 or a positive
 * errno value; mtbench treats any other value as a failed run, except
 * ENOTSUP from init(): the runtime cannot run with that many workers in
 * this process (libuv sizes its pool once), so those rows print N/A.
 *
 * The optional runtimes (OpenMP, oneTBB, GLib, libuv) are compiled only
 * when CMake found them, which defines MTBENCH_HAVE_<NAME>; bench/rt_tbb.cpp
 * is C++, hence the extern "C" block.
 */
#ifndef MTPOOL_BENCH_BENCH_H
#define MTPOOL_BENCH_BENCH_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

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
	/* body(lo, hi, ctx) over chunks that partition 0 .. n-1, chosen by
	 * the runtime; blocks as above. The range form a runtime offers for
	 * loops whose body the compiler should vectorise. NULL: N/A. */
	int (*parallel_for_range)(size_t n,
				  void (*body)(size_t lo, size_t hi, void *ctx),
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

	/* Why an operation is NULL (or init refuses a worker count with
	 * ENOTSUP): one line of at most 47 characters, shown in the
	 * baseline column of the N/A rows. NULL when the operation exists. */
	const char *why_no_detached; /* spawn_detached, quiesce */
	const char *why_no_for;	     /* parallel_for, map */
	const char *why_no_range;    /* parallel_for_range */
	const char *why_no_fib;
	const char *why_no_parked; /* wait_parked */
	const char *why_no_resize; /* init() -> ENOTSUP */
};

/* The registered runtimes. */
extern const struct bench_runtime bench_rt_mtpool;
#ifdef MTBENCH_HAVE_OPENMP
extern const struct bench_runtime bench_rt_openmp;
#endif
#ifdef MTBENCH_HAVE_TBB
extern const struct bench_runtime bench_rt_tbb;
#endif
#ifdef MTBENCH_HAVE_GLIB
extern const struct bench_runtime bench_rt_glib;
#endif
#ifdef MTBENCH_HAVE_UV
extern const struct bench_runtime bench_rt_uv;
#endif

/* The sequential baselines: every operation runs on the calling thread
 * (spawn_detached calls fn at once, fib is the plain recursion). */
extern const struct bench_runtime bench_rt_seq;

/* Plain-loop baseline of the 10M-item workload: a[i] = i*2+1, written as
 * a program without a pool would write it (the compiler may vectorise). */
void bench_seq_fill(uint64_t *a, size_t n);

/* The raw-threads baseline of the 10M-item workload: body(i, ctx) over
 * 0 .. n-1 split into `parts` equal contiguous ranges, parts-1 of them on
 * fresh pthreads and the last on the caller, then joined. What a program
 * without a pool gets from its cores; 0 or a pthread_create error. */
int bench_pthreads_for(unsigned parts, size_t n,
		       void (*body)(size_t i, void *ctx), void *ctx);

/* results[i] = fn(params[i]) through a runtime's own parallel_for, for
 * runtimes whose map idiom is their loop (GLib, libuv). Returns what
 * parallel_for returns. */
int bench_map_via_for(int (*parallel_for)(size_t n,
					  void (*body)(size_t i, void *ctx),
					  void *ctx),
		      void *(*fn)(void *param), void *const *params,
		      void **results, size_t n);

/* wait_parked for runtimes that cannot report parking: waits, at most
 * `timeout_ns`, until every thread of the process other than the caller
 * is asleep in the kernel (state S or D in /proc/self/task/TID/stat) at
 * one scan. Returns 0, ETIMEDOUT, or an errno from reading /proc. Every
 * thread counts, so a process should hold one runtime's threads only, or
 * the others' threads asleep (they are, once idle: see bench/procwait.c). */
int bench_wait_threads_asleep(uint64_t timeout_ns);

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

#ifdef __cplusplus
}
#endif

#endif /* MTPOOL_BENCH_BENCH_H */
