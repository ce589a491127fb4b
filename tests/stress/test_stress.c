/*
 * tests/stress/test_stress.c: bounded stress runs of the public API.
 *
 * Each test runs a fixed amount of work (never "for N seconds") and checks
 * exact outcomes: every task id seen exactly once, every map result in its
 * slot, every discarded task counted. Sizes are cut down under
 * ThreadSanitizer / AddressSanitizer so the whole file stays within about a
 * minute there on a 2-core machine; plain builds take a few seconds per
 * test.
 *
 * Oversubscription (16 workers on 2 cores) is deliberate: workers get
 * preempted mid-steal and mid-park, which is where lost wake-ups and
 * double-takes show up.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_getname_np, pthread_barrier_t under -std=c11 */
#endif
#include <criterion/criterion.h>
#include <mtpool/mtpool.h>

#include "../common/mt_test.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Task counts: plain / sanitized. */
#define MILLION (MT_TEST_SANITIZED ? 250000u : 1000000u)
#define MIXED_ITERS (MT_TEST_SANITIZED ? 300 : 2000)
#define LIFECYCLES (MT_TEST_SANITIZED ? 100 : 200)

#define SUBMITTERS 4

/* ---- a million tasks, each exactly once -------------------------------- */

static atomic_uchar *seen; /* seen[id]: times task id ran */
static mt_pool *target;	   /* NULL = default pool */
static pthread_barrier_t go;

static void mark_packed(void *arg)
{
	atomic_fetch_add_explicit(&seen[(uintptr_t)arg], 1,
				  memory_order_relaxed);
}

static void mark_copied(void *arg)
{
	uint32_t id;
	memcpy(&id, arg, sizeof id);
	atomic_fetch_add_explicit(&seen[id], 1, memory_order_relaxed);
}

/* Submitter k takes ids k, k+4, k+8, ...; odd ids travel packed in the
 * pointer, even ones as a mt_spawn_copy of the id. */
static void *submitter(void *arg)
{
	uintptr_t k = (uintptr_t)arg;
	pthread_barrier_wait(&go);
	for (uint32_t id = (uint32_t)k; id < MILLION; id += SUBMITTERS) {
		int rc = (id & 1) ? mt_spawn(target, mark_packed,
					     (void *)(uintptr_t)id) :
				    mt_spawn_copy(target, mark_copied, &id,
						  sizeof id);
		if (rc != 0)
			return (void *)(uintptr_t)rc;
	}
	return NULL;
}

static void million_from_four_threads(mt_pool *p)
{
	target = p;
	seen = calloc(MILLION, sizeof *seen);
	cr_assert_not_null(seen);
	cr_assert_eq(pthread_barrier_init(&go, NULL, SUBMITTERS), 0);
	pthread_t t[SUBMITTERS];
	for (uintptr_t k = 0; k < SUBMITTERS; k++)
		cr_assert_eq(pthread_create(&t[k], NULL, submitter, (void *)k),
			     0);
	for (int k = 0; k < SUBMITTERS; k++) {
		void *rc;
		cr_assert_eq(pthread_join(t[k], &rc), 0);
		cr_assert_null(rc, "submitter %d: mt_spawn returned %d", k,
			       (int)(uintptr_t)rc);
	}
	cr_assert_eq(mt_quiesce(p), 0);
	for (uint32_t id = 0; id < MILLION; id++)
		cr_assert_eq(
			atomic_load_explicit(&seen[id], memory_order_relaxed),
			1, "task %u ran %d times", id, atomic_load(&seen[id]));
	mt_stats s;
	cr_assert_eq(mt_pool_stats(p, &s), 0);
	cr_assert_eq(s.queued, 0);
	cr_assert_geq(s.tasks_run, MILLION);
	pthread_barrier_destroy(&go);
	free(seen);
}

Test(stress, million_tasks_from_four_threads_on_default_pool_each_run_once,
     .timeout = 60)
{
	cr_assert_eq(unsetenv("MTPOOL_THREADS"), 0);
	million_from_four_threads(NULL);
}

Test(stress, million_tasks_from_four_threads_on_16_workers_each_run_once,
     .timeout = 60)
{
	mt_pool *p = mt_test_pool(16);
	million_from_four_threads(p);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* Fan-out from inside tasks: each root spawns children from its worker, so
 * the worker-deque path and stealing carry the load instead of injection. */
#define ROOTS 1000u

static void spawn_children(void *arg)
{
	uintptr_t root = (uintptr_t)arg;
	uint32_t per_root = MILLION / ROOTS;
	for (uintptr_t i = 0; i < per_root; i++)
		if (mt_spawn(target, mark_packed,
			     (void *)(root * per_root + i)) != 0)
			abort(); /* shows up as a crashed test */
}

Test(stress, million_tasks_spawned_from_workers_on_16_workers_each_run_once,
     .timeout = 60)
{
	mt_pool *p = target = mt_test_pool(16);
	seen = calloc(MILLION, sizeof *seen);
	cr_assert_not_null(seen);
	for (uintptr_t r = 0; r < ROOTS; r++)
		cr_assert_eq(mt_spawn(p, spawn_children, (void *)r), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	for (uint32_t id = 0; id < (MILLION / ROOTS) * ROOTS; id++)
		cr_assert_eq(
			atomic_load_explicit(&seen[id], memory_order_relaxed),
			1, "task %u ran %d times", id, atomic_load(&seen[id]));
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	free(seen);
}

/* ---- maps + spawns + groups from four threads at once ------------------- */

static atomic_uint detached_runs;
static mt_pool *mixed_pool;

static void detached_count(void *arg)
{
	(void)arg;
	atomic_fetch_add_explicit(&detached_runs, 1, memory_order_relaxed);
}

static void *mix(void *x)
{
	uintptr_t v = (uintptr_t)x;
	return (void *)(v * 2654435761u + 17u);
}

struct fib {
	unsigned n;
	unsigned long result;
	atomic_int *errors;
};

static void fib_task(void *arg)
{
	struct fib *f = arg;
	if (f->n < 2) {
		f->result = f->n;
		return;
	}
	struct fib a = {f->n - 1, 0, f->errors}, b = {f->n - 2, 0, f->errors};
	mt_group g;
	if (mt_group_init(&g, mixed_pool) || mt_group_spawn(&g, fib_task, &a) ||
	    mt_group_spawn(&g, fib_task, &b) || mt_group_wait(&g)) {
		atomic_fetch_add(f->errors, 1);
		return;
	}
	f->result = a.result + b.result;
}

/* A map whose function runs a nested map: exercises helping waits from
 * workers concurrently with external waits. */
static void *nested_sum(void *x)
{
	uintptr_t base = (uintptr_t)x;
	void *params[17], *results[17];
	for (uintptr_t i = 0; i < 17; i++)
		params[i] = (void *)(base + i);
	if (mt_map(mixed_pool, mix, params, results, 17) != 0)
		return (void *)0;
	uintptr_t sum = 0;
	for (int i = 0; i < 17; i++)
		sum += (uintptr_t)results[i];
	return (void *)sum;
}

static uintptr_t nested_sum_expected(uintptr_t base)
{
	uintptr_t sum = 0;
	for (uintptr_t i = 0; i < 17; i++)
		sum += (uintptr_t)mix((void *)(base + i));
	return sum;
}

#define MAP_N 1000
#define SPAWNS_PER_ITER 50

static void *mixed_worker(void *arg)
{
	uintptr_t k = (uintptr_t)arg;
	void **params = malloc(MAP_N * sizeof *params);
	void **results = malloc(MAP_N * sizeof *results);
	atomic_int errors;
	atomic_init(&errors, 0);
	uintptr_t bad = 0;
	if (!params || !results)
		return (void *)1;
	pthread_barrier_wait(&go);
	for (int it = 0; it < MIXED_ITERS && !bad; it++) {
		uintptr_t base = ((k << 20) + (uintptr_t)it) * MAP_N;
		size_t n = 1 + (size_t)((it * 37 + (int)k * 11) % MAP_N);
		for (size_t i = 0; i < n; i++)
			params[i] = (void *)(base + i);
		if (mt_map(mixed_pool, mix, params, results, n) != 0)
			bad = 2;
		for (size_t i = 0; i < n && !bad; i++)
			if (results[i] != mix((void *)(base + i)))
				bad = 3;
		for (int i = 0; i < SPAWNS_PER_ITER && !bad; i++)
			if (mt_spawn(mixed_pool, detached_count, NULL) != 0)
				bad = 4;
		struct fib f = {.n = 10 + (unsigned)(it % 4),
				.errors = &errors};
		mt_group g;
		if (!bad &&
		    (mt_group_init(&g, mixed_pool) ||
		     mt_group_spawn(&g, fib_task, &f) || mt_group_wait(&g)))
			bad = 5;
		static const unsigned long fibs[] = {55, 89, 144, 233};
		if (!bad && (f.result != fibs[it % 4] || atomic_load(&errors)))
			bad = 6;
		if (!bad && it % 8 == 0) {
			enum {
				NN = 8
			};
			void *np[NN], *nr[NN];
			for (uintptr_t i = 0; i < NN; i++)
				np[i] = (void *)(base + i * 100);
			if (mt_map(mixed_pool, nested_sum, np, nr, NN) != 0)
				bad = 7;
			for (uintptr_t i = 0; i < NN && !bad; i++)
				if ((uintptr_t)nr[i] !=
				    nested_sum_expected(base + i * 100))
					bad = 8;
		}
	}
	free(params);
	free(results);
	return (void *)bad;
}

/* SUBMITTERS threads run mixed_worker against a fresh `workers` pool; every
 * thread must pass its checks and every detached spawn must have run. */
static void check_mixed_on(unsigned workers)
{
	mixed_pool = mt_test_pool(workers);
	cr_assert_eq(pthread_barrier_init(&go, NULL, SUBMITTERS), 0);
	pthread_t t[SUBMITTERS];
	for (uintptr_t k = 0; k < SUBMITTERS; k++)
		cr_assert_eq(pthread_create(&t[k], NULL, mixed_worker,
					    (void *)k),
			     0);
	for (int k = 0; k < SUBMITTERS; k++) {
		void *rc;
		cr_assert_eq(pthread_join(t[k], &rc), 0);
		cr_assert_null(rc, "thread %d failed at check %d", k,
			       (int)(uintptr_t)rc);
	}
	cr_assert_eq(mt_quiesce(mixed_pool), 0);
	cr_assert_eq(atomic_load(&detached_runs),
		     (unsigned)(SUBMITTERS * MIXED_ITERS * SPAWNS_PER_ITER));
	cr_assert_eq(mt_pool_destroy(mixed_pool, MT_DRAIN), 0);
}

Test(stress, maps_spawns_and_groups_from_four_threads_on_16_workers,
     .timeout = 60)
{
	check_mixed_on(16);
}

Test(stress, maps_spawns_and_groups_from_four_threads_on_1_worker,
     .timeout = 60)
{
	check_mixed_on(1);
}

/* ---- create / destroy in a loop ---------------------------------------- */

static atomic_uint loop_runs;

static void loop_count(void *arg)
{
	(void)arg;
	atomic_fetch_add_explicit(&loop_runs, 1, memory_order_relaxed);
}

static void loop_spawn_more(void *arg)
{
	(void)arg;
	atomic_fetch_add_explicit(&loop_runs, 1, memory_order_relaxed);
	/* During MT_DISCARD this may be refused (ESHUTDOWN); when accepted
	 * the child runs or is counted as discarded like any other. */
	if (mt_spawn(mt_current_pool(), loop_count, NULL) != 0)
		atomic_fetch_add_explicit(&loop_runs, 1, memory_order_relaxed);
}

Test(stress,
     create_destroy_loop_alternating_drain_and_discard_accounts_for_every_task,
     .timeout = 60)
{
	for (int i = 0; i < LIFECYCLES; i++) {
		atomic_store(&loop_runs, 0);
		mt_pool *p = mt_test_pool(1 + (unsigned)(i % 5) *
						      3u); /* 1, 4, 7, 10, 13 */
		unsigned queued = 50u + (unsigned)(i % 7) * 100u;
		unsigned parents = queued / 10;
		for (unsigned k = 0; k < queued - parents; k++)
			cr_assert_eq(mt_spawn(p, loop_count, NULL), 0);
		/* Each parent accounts for itself and its one child (run,
		 * discarded, or refused). */
		for (unsigned k = 0; k < parents; k++)
			cr_assert_eq(mt_spawn(p, loop_spawn_more, NULL), 0);
		unsigned expected = queued + parents;
		uint64_t d = 0;
		if (i & 1) {
			cr_assert_eq(mt_pool_destroy_counted(p, MT_DISCARD, &d),
				     0);
			/* A discarded parent also never spawns its child. */
			cr_assert_leq(atomic_load(&loop_runs) + d, expected);
			cr_assert_geq(atomic_load(&loop_runs) + 2 * d, expected,
				      "iteration %d: ran %u, discarded %llu, "
				      "expected %u",
				      i, atomic_load(&loop_runs),
				      (unsigned long long)d, expected);
		} else {
			cr_assert_eq(mt_pool_destroy_counted(p, MT_DRAIN, &d),
				     0);
			cr_assert_eq(d, 0);
			cr_assert_eq(atomic_load(&loop_runs), expected,
				     "iteration %d: drained %u of %u", i,
				     atomic_load(&loop_runs), expected);
		}
	}
}

/* Many pools alive at once, each with work, destroyed in reverse order. */
Test(stress, sixteen_pools_alive_at_once, .timeout = 60)
{
	enum {
		POOLS = 16
	};
	mt_pool *pools[POOLS];
	atomic_store(&loop_runs, 0);
	for (int i = 0; i < POOLS; i++)
		pools[i] = mt_test_pool(2);
	for (int round = 0; round < 100; round++)
		for (int i = 0; i < POOLS; i++)
			cr_assert_eq(mt_spawn(pools[i], loop_count, NULL), 0);
	for (int i = POOLS - 1; i >= 0; i--)
		cr_assert_eq(mt_pool_destroy(pools[i], MT_DRAIN), 0);
	cr_assert_eq(atomic_load(&loop_runs), POOLS * 100);
}
