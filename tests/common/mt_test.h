/*
 * tests/common/mt_test.h: helpers shared by the api/ and stress/ tests.
 *
 * Header-only (`static inline`), included relatively as
 * "../common/mt_test.h" so no build file changes. Helpers that use
 * cr_assert_* must be called from the test's own thread, except where a
 * comment says otherwise. The including file defines _GNU_SOURCE or
 * _POSIX_C_SOURCE before any include, as before.
 *
 * Give every test of one file the same .timeout (60 by convention): when
 * tests with different timeouts run in parallel, Criterion 2.4.1's runner
 * leaks a 48-byte timer entry, which LeakSanitizer reports and the ASan
 * configuration then fails on.
 */
#ifndef MTPOOL_TESTS_COMMON_MT_TEST_H
#define MTPOOL_TESTS_COMMON_MT_TEST_H

#include <criterion/criterion.h>
#include <mtpool/mtpool.h>

#include <errno.h>
#include <sched.h>
#include <semaphore.h>
#include <time.h>

/* MT_TEST_SANITIZED: 1 under ThreadSanitizer / AddressSanitizer (gcc or
 * clang), so stress sizes can be cut down to stay within the timeout. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define MT_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define MT_TEST_SANITIZED 1
#endif
#endif
#ifndef MT_TEST_SANITIZED
#define MT_TEST_SANITIZED 0
#endif

/* Every test needs a pool of an exact size and must fail (not crash on
 * NULL) when creation fails; the message carries errno. */
static inline mt_pool *mt_test_pool(unsigned threads)
{
	mt_config cfg = {.threads = threads};
	mt_pool *p = mt_pool_create(&cfg);
	cr_assert_not_null(p, "mt_pool_create(%u) failed: errno %d", threads,
			   errno);
	return p;
}

/* sem_wait that retries on EINTR (a signal must not open a gate early)
 * and fails the test on any other error. */
static inline void mt_test_sem_wait(sem_t *s)
{
	while (sem_wait(s) != 0)
		cr_assert_eq(errno, EINTR);
}

/* mt_pool_stats that must succeed: tests read snapshots, not rcs. */
static inline mt_stats mt_test_stats(const mt_pool *p)
{
	mt_stats s;
	cr_assert_eq(mt_pool_stats(p, &s), 0);
	return s;
}

/* Polls until every worker of p is parked at one instant and returns that
 * snapshot (STYLE 36: a state check, bounded only by the test's .timeout).
 * pause_ns == 0 polls with sched_yield (tight, for wake-up races); otherwise
 * it sleeps that long between polls. */
static inline mt_stats mt_test_wait_all_parked(const mt_pool *p, long pause_ns)
{
	const struct timespec pause = {.tv_sec = 0, .tv_nsec = pause_ns};
	for (;;) {
		mt_stats s = mt_test_stats(p);
		if (s.workers_parked == s.workers)
			return s;
		if (pause_ns == 0)
			sched_yield();
		else
			nanosleep(&pause, NULL);
	}
}

/*
 * Gate (STYLE 36): tasks that block workers deterministically. Each gated
 * task calls mt_test_gate_enter, which posts `started` and blocks on `open`;
 * the test waits for n `started` posts (then n workers are busy, and later
 * tasks stay queued) and releases them with mt_test_gate_open.
 */
struct mt_test_gate {
	sem_t started, open;
};

/* Both semaphores start at 0; call before spawning any gated task. */
static inline void mt_test_gate_init(struct mt_test_gate *g)
{
	cr_assert_eq(sem_init(&g->started, 0, 0), 0);
	cr_assert_eq(sem_init(&g->open, 0, 0), 0);
}

/* Called by a gated task (on a worker): announces it runs, then blocks.
 * The exception to "test thread only": like the per-file gates it
 * replaces, the wait's cr_assert runs on the worker, and only fires if
 * sem_wait fails with something other than EINTR. */
static inline void mt_test_gate_enter(struct mt_test_gate *g)
{
	sem_post(&g->started);
	mt_test_sem_wait(&g->open);
}

/* Waits until n gated tasks have entered. */
static inline void mt_test_gate_wait_started(struct mt_test_gate *g, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		mt_test_sem_wait(&g->started);
}

/* Spawns n copies of fn (arg NULL; fn must call mt_test_gate_enter) and
 * returns once all n run, i.e. every worker of an n-thread pool is inside
 * one (a blocked worker cannot take a second). */
static inline void mt_test_gate_block(struct mt_test_gate *g, mt_pool *p,
				      unsigned n, void (*fn)(void *))
{
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(mt_spawn(p, fn, NULL), 0);
	mt_test_gate_wait_started(g, n);
}

/* Releases n gated tasks. Safe from any thread (no asserts). */
static inline void mt_test_gate_open(struct mt_test_gate *g, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		sem_post(&g->open);
}

#endif /* MTPOOL_TESTS_COMMON_MT_TEST_H */
