/*
 * tests/soak/soak_park.c: park/wake cycles for minutes, and no stall.
 * Run by tests/soak.sh; not a ctest.
 *
 * Overview
 * ========
 * One pool (16 workers by default: on 2 cores they are preempted while
 * they announce sleep, re-check and park, which is where a lost wake-up
 * would show). The main thread repeats rounds of three kinds:
 *   parked     wait until every worker is parked, spawn one task,
 *              mt_quiesce;
 *   burst      wait until every worker is parked, spawn 16 tasks at once
 *              (the chain wake-up ramps the pool up), mt_quiesce;
 *   wind-down  a random busy delay after the previous round (workers are
 *              searching, announcing, re-checking or parked), spawn one
 *              task from inside a task of another pool (a worker's
 *              outside submission), mt_quiesce.
 * Each round is timed from its first spawn to the return of mt_quiesce;
 * a round over one second is a stall and fails the run. A watchdog thread
 * fails it too if no round finishes for ten seconds (a hang), printing
 * the pool's counters. The figures are the pool's own counters:
 * `wakes` (parked workers claimed and woken) and `parks` (sleeps begun).
 *
 * Plain atomic operations (seq_cst) appear where order does not matter:
 * counters read after mt_quiesce, and the watchdog's progress stamp.
 *
 * Usage: soak_park [--seconds S] [--workers W] [--min-wakes N]
 * Prints one line "soak_park: key=value ..." and exits 0, or 1.
 */
#define _GNU_SOURCE

#include <mtpool/mtpool.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BURST 16
#define STALL_S 1.0
#define HANG_S 10.0

static unsigned opt_seconds = 60, opt_workers = 16;
static unsigned long long opt_min_wakes;

static mt_pool *pool, *helper;
static _Atomic unsigned long long rounds, stalls, ran;
static _Atomic double last_progress;
static _Atomic int done;
static double worst_s;

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void count_run(void *arg)
{
	(void)arg;
	atomic_fetch_add_explicit(&ran, 1, memory_order_relaxed);
}

static void wait_all_parked(void)
{
	mt_stats s;
	while (mt_pool_stats(pool, &s) == 0 && s.workers_parked != s.workers)
		sched_yield();
}

static void jitter(uint64_t *rng)
{
	*rng ^= *rng << 13;
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	for (volatile unsigned i = 0, n = (unsigned)(*rng % 200000); i < n; i++)
		;
}

/* Runs on the helper pool: the submission comes from a worker thread of
 * another pool, i.e. from outside `pool`. */
static void spawn_from_helper(void *arg)
{
	(void)arg;
	if (mt_spawn(pool, count_run, NULL) != 0)
		abort();
}

static void one_round(unsigned long long r, uint64_t *rng)
{
	unsigned kind = (unsigned)(r % 3);
	if (kind < 2)
		wait_all_parked();
	else
		jitter(rng);
	double t0 = now_s();
	if (kind == 2) {
		if (mt_spawn(helper, spawn_from_helper, NULL) != 0 ||
		    mt_quiesce(helper) != 0)
			abort();
	} else {
		for (unsigned i = 0; i < (kind == 1 ? BURST : 1); i++)
			if (mt_spawn(pool, count_run, NULL) != 0)
				abort();
	}
	if (mt_quiesce(pool) != 0)
		abort();
	double dt = now_s() - t0;
	if (dt > worst_s)
		worst_s = dt;
	if (dt > STALL_S) {
		atomic_fetch_add(&stalls, 1);
		fprintf(stderr, "soak_park: round %llu (kind %u) took %.3f s\n",
			r, kind, dt);
	}
	atomic_fetch_add(&rounds, 1);
	atomic_store(&last_progress, now_s());
}

static void *watchdog(void *arg)
{
	(void)arg;
	while (!atomic_load(&done)) {
		usleep(100000);
		if (now_s() - atomic_load(&last_progress) <= HANG_S)
			continue;
		mt_stats s;
		mt_pool_stats(pool, &s);
		fprintf(stderr,
			"soak_park: FAILED: no round finished for %.0f s "
			"(round %llu; parked %u of %u, queued %llu)\n",
			HANG_S, atomic_load(&rounds), s.workers_parked,
			s.workers, (unsigned long long)s.queued);
		_exit(1);
	}
	return NULL;
}

static void parse(int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i += 2) {
		unsigned long long v = strtoull(argv[i + 1], NULL, 10);
		if (strcmp(argv[i], "--seconds") == 0)
			opt_seconds = (unsigned)v;
		else if (strcmp(argv[i], "--workers") == 0)
			opt_workers = (unsigned)v;
		else if (strcmp(argv[i], "--min-wakes") == 0)
			opt_min_wakes = v;
	}
}

int main(int argc, char **argv)
{
	parse(argc, argv);
	mt_config cfg = {.threads = opt_workers}, one = {.threads = 1};
	pool = mt_pool_create(&cfg);
	helper = mt_pool_create(&one);
	if (pool == NULL || helper == NULL)
		return fprintf(stderr, "soak_park: setup failed\n"), 1;
	double t0 = now_s(), end = t0 + opt_seconds;
	atomic_store(&last_progress, t0);
	pthread_t dog;
	pthread_create(&dog, NULL, watchdog, NULL);
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	unsigned long long r = 0;
	while (now_s() < end)
		one_round(r++, &rng);
	atomic_store(&done, 1);
	pthread_join(dog, NULL);
	mt_stats s;
	mt_pool_stats(pool, &s);
	/* Per three rounds: 1 (parked) + BURST + 1 (wind-down). */
	unsigned long long expected = r / 3 * (BURST + 2) +
				      (r % 3 >= 1 ? 1 : 0) +
				      (r % 3 == 2 ? BURST : 0);
	int ok = atomic_load(&stalls) == 0 && atomic_load(&ran) == expected &&
		 s.wakes >= opt_min_wakes;
	if (atomic_load(&ran) != expected)
		fprintf(stderr,
			"soak_park: FAILED: %llu tasks ran, %llu spawned\n",
			atomic_load(&ran), expected);
	if (s.wakes < opt_min_wakes)
		fprintf(stderr, "soak_park: FAILED: %llu wakes, wanted %llu\n",
			(unsigned long long)s.wakes, opt_min_wakes);
	printf("soak_park: rounds=%llu wakes=%llu parks=%llu stalls=%llu "
	       "worst_round_ms=%.1f workers=%u seconds=%.1f result=%s\n",
	       r, (unsigned long long)s.wakes, (unsigned long long)s.parks,
	       atomic_load(&stalls), worst_s * 1e3, opt_workers, now_s() - t0,
	       ok ? "ok" : "FAILED");
	mt_pool_destroy(helper, MT_DRAIN);
	mt_pool_destroy(pool, MT_DRAIN);
	return ok ? 0 : 1;
}
