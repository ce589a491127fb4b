/*
 * tests/unit/test_task.c: task memory of pool/task.h (per-thread
 * magazines over a process-wide depot).
 *
 * Order: one thread (round trips, 10,000 blocks across many magazine
 * boundaries, flush), allocation failure through the alloc.h fault hook
 * (alloc fails only when no cached task is left; free never fails), then
 * tasks travelling between threads through the depot, and threads that
 * exit with full caches (their thread-exit flush; the ASan build checks
 * leaks at exit).
 *
 * Each Criterion test runs in its own process, so each starts with empty
 * caches and an empty depot. Tests that arm the fault hook disarm it
 * before asserting, so a failed assertion never leaves it armed for the
 * runner's own allocations.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "task.h"

#define MANY 10000

static void disarm_faults(void)
{
	mt__fault_fail_allocs_after(-1);
	mt__fault_fail_allocs_count(-1);
}

/* Allocates n tasks into out[], each 64-byte aligned and written through
 * (ASan checks the whole block is ours). Returns how many succeeded. */
static size_t alloc_n(struct mt_task **out, size_t n)
{
	size_t k = 0;
	for (; k < n; k++) {
		out[k] = mt__task_alloc();
		if (out[k] == NULL)
			break;
		memset(out[k], (int)(k & 0xff), sizeof(*out[k]));
	}
	return k;
}

static void free_n(struct mt_task **t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mt__task_free(t[i]);
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (void *const *)a;
	uintptr_t y = (uintptr_t) * (void *const *)b;
	return (x > y) - (x < y);
}

/* All n pointers distinct and aligned. */
static void assert_distinct_aligned(struct mt_task **t, size_t n)
{
	struct mt_task **copy = malloc(n * sizeof(*copy));
	cr_assert_not_null(copy);
	memcpy(copy, t, n * sizeof(*copy));
	qsort(copy, n, sizeof(*copy), cmp_ptr);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq((uintptr_t)copy[i] % 64, 0);
		if (i > 0)
			cr_assert_neq(copy[i], copy[i - 1],
				      "block handed out twice");
	}
	free(copy);
}

/* ---- one thread ------------------------------------------------------- */

Test(task, alloc_then_free_round_trips)
{
	struct mt_task *t = mt__task_alloc();
	cr_assert_not_null(t);
	memset(t, 0x5a, sizeof(*t));
	mt__task_free(t);
	mt__task_cache_flush();
}

Test(task, a_freed_task_is_reused_by_the_next_alloc_on_the_same_thread)
{
	struct mt_task *t = mt__task_alloc();
	cr_assert_not_null(t);
	mt__task_free(t);
	cr_assert_eq(mt__task_alloc(), t);
	mt__task_free(t);
	mt__task_cache_flush();
}

Test(task, ten_thousand_allocs_then_frees_cross_magazines_without_loss)
{
	static struct mt_task *t[MANY];
	for (int pass = 0; pass < 3; pass++) {
		cr_assert_eq(alloc_n(t, MANY), MANY);
		assert_distinct_aligned(t, MANY);
		free_n(t, MANY);
	}
	mt__task_cache_flush();
}

Test(task, alloc_after_cache_flush_works_and_reuses_flushed_tasks)
{
	static struct mt_task *t[1000];
	cr_assert_eq(alloc_n(t, 1000), 1000);
	free_n(t, 1000);
	mt__task_cache_flush();
	mt__task_cache_flush(); /* twice: an empty cache is fine */
	/* The flushed magazines are in the depot: no malloc is needed. */
	mt__fault_fail_allocs_after(0);
	size_t got = alloc_n(t, 1000);
	disarm_faults();
	cr_assert_eq(got, 1000);
	free_n(t, 1000);
	mt__task_cache_flush();
}

/* ---- allocation failure ------------------------------------------------ */

Test(task_fault, alloc_with_empty_caches_and_failing_malloc_is_NULL)
{
	struct mt_task *kept = mt__task_alloc(); /* before arming */
	cr_assert_not_null(kept);
	mt__fault_fail_allocs_after(0);
	struct mt_task *t = mt__task_alloc();
	/* Free needs a magazine it cannot allocate: it must fall back to
	 * mt__free (ASan would report the leak otherwise). */
	mt__task_free(kept);
	disarm_faults();
	cr_assert_null(t);
	t = mt__task_alloc();
	cr_assert_not_null(t, "alloc still fails after disarming");
	mt__task_free(t);
	mt__task_cache_flush();
}

Test(task_fault, cached_tasks_are_handed_out_while_malloc_fails)
{
	struct mt_task *t[10];
	cr_assert_eq(alloc_n(t, 10), 10);
	free_n(t, 10);
	mt__fault_fail_allocs_after(0);
	size_t got = alloc_n(t, 10);
	struct mt_task *eleventh = mt__task_alloc();
	free_n(t, got); /* back into the cache: no allocation needed */
	disarm_faults();
	cr_assert_eq(got, 10);
	cr_assert_null(eleventh);
	mt__task_cache_flush();
}

Test(task_fault, free_never_fails_when_no_magazine_can_be_had)
{
	static struct mt_task *t[MANY];
	cr_assert_eq(alloc_n(t, MANY), MANY);
	mt__fault_fail_allocs_after(0);
	/* The first frees fill what magazines exist (none yet); every
	 * further one must go straight back to the allocator. */
	free_n(t, MANY);
	disarm_faults();
	mt__task_cache_flush();
}

Test(task_fault, a_single_failure_at_each_point_of_a_free_burst_loses_nothing)
{
	static struct mt_task *t[300];
	for (long k = 0; k < 8; k++) {
		cr_assert_eq(alloc_n(t, 300), 300);
		mt__fault_fail_allocs_after(k);
		mt__fault_fail_allocs_count(1);
		free_n(t, 300); /* crosses several magazine boundaries */
		disarm_faults();
		mt__task_cache_flush();
	}
}

/* ---- between threads --------------------------------------------------- */

#define CONSUMERS 4
#define PER_CONSUMER 3000 /* ~47 magazines each */

struct batch {
	struct mt_task **tasks;
	size_t n;
};

static void *free_batch(void *p)
{
	struct batch *b = p;
	free_n(b->tasks, b->n);
	return NULL; /* thread exit flushes the cache into the depot */
}

/* Returns non-NULL on failure: Criterion asserts belong on the test's
 * own thread. */
static void *alloc_and_free_batch(void *p)
{
	struct batch *b = p;
	size_t got = alloc_n(b->tasks, b->n);
	free_n(b->tasks, got);
	return got == b->n ? NULL : b; /* exits with full magazines */
}

Test(task_threads, tasks_freed_by_other_threads_come_back_through_the_depot,
     .timeout = 60)
{
	static struct mt_task *t[CONSUMERS * PER_CONSUMER];
	const size_t n = CONSUMERS * PER_CONSUMER;
	pthread_t th[CONSUMERS];
	struct batch b[CONSUMERS];
	for (int round = 0; round < 3; round++) {
		/* The producer (this thread) never frees: its cache stays
		 * empty, and later rounds can only be served by the depot. */
		cr_assert_eq(alloc_n(t, n), n);
		for (int i = 0; i < CONSUMERS; i++) {
			b[i] = (struct batch){&t[i * PER_CONSUMER],
					      PER_CONSUMER};
			cr_assert_eq(pthread_create(&th[i], NULL, free_batch,
						    &b[i]),
				     0);
		}
		for (int i = 0; i < CONSUMERS; i++)
			cr_assert_eq(pthread_join(th[i], NULL), 0);
		/* Every block is in the depot now: no malloc needed. */
		mt__fault_fail_allocs_after(0);
		size_t got = alloc_n(t, n);
		disarm_faults();
		cr_assert_eq(got, n, "only %zu of %zu from the depot", got, n);
		assert_distinct_aligned(t, n);
		/* Hand them back to consumers in the next round. */
		mt__task_cache_flush();
		for (int i = 0; i < CONSUMERS; i++) {
			b[i] = (struct batch){&t[i * PER_CONSUMER],
					      PER_CONSUMER};
			cr_assert_eq(pthread_create(&th[i], NULL, free_batch,
						    &b[i]),
				     0);
		}
		for (int i = 0; i < CONSUMERS; i++)
			cr_assert_eq(pthread_join(th[i], NULL), 0);
	}
}

Test(task_threads, threads_exiting_with_full_caches_leave_them_to_the_depot,
     .timeout = 60)
{
	enum {
		THREADS = 8,
		EACH = 1000
	};
	static struct mt_task *t[THREADS][EACH];
	static struct mt_task *again[EACH];
	pthread_t th[THREADS];
	struct batch b[THREADS];
	for (int i = 0; i < THREADS; i++) {
		b[i] = (struct batch){t[i], EACH};
		cr_assert_eq(pthread_create(&th[i], NULL, alloc_and_free_batch,
					    &b[i]),
			     0);
	}
	for (int i = 0; i < THREADS; i++) {
		void *failed = NULL;
		cr_assert_eq(pthread_join(th[i], &failed), 0);
		cr_assert_null(failed, "thread %d could not allocate", i);
	}
	/* At least EACH blocks were flushed at thread exit (each thread
	 * held EACH at once); the leak check at exit covers the rest. */
	mt__fault_fail_allocs_after(0);
	size_t got = alloc_n(again, EACH);
	disarm_faults();
	cr_assert_eq(got, EACH);
	free_n(again, EACH);
	mt__task_cache_flush();
}
