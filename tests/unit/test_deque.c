/*
 * tests/unit/test_deque.c: the Chase-Lev deque of pool/deque.h.
 *
 * Order: single-thread behaviour, edge states crafted through
 * mt__deque_init_at (ring wrap-around, large indices), allocation failure,
 * then the owner/thief races. Single-thread tests push small integers
 * disguised as pointers (index + 1, never NULL); threaded tests push
 * pointers into a payload array (see struct tally), so they can count
 * how often each item came out: every pushed item must come out once.
 *
 * No test sleeps to wait for another thread; threads meet on atomics or
 * a barrier, and every threaded test has a timeout so a deadlock fails.
 */
/* pthread_barrier_t and sched_yield are POSIX, hidden by -std=c11. */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"
#include "deque.h"

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

/* Items pushed by the threaded tests. Under ThreadSanitizer fewer, so
 * that on 2 cores the 16-thief test stays well under 10 s (the
 * interleavings, growth under stealing included, are the same). */
#if UNDER_TSAN
#define STRESS_N 1000000
#define RACE_N 500000
#else
#define STRESS_N 2000000
#define RACE_N 1000000
#endif

static void *item(int64_t i)
{
	return (void *)(uintptr_t)(i + 1);
}

static void push_ok(struct mt_deque *d, int64_t i)
{
	cr_assert_eq(mt__deque_push_owner(d, item(i)), 0, "push of %lld",
		     (long long)i);
}

static void *steal_once(struct mt_deque *d)
{
	void *x = NULL;
	enum mt_steal_result r = mt__deque_steal(d, &x);
	/* Single-threaded, so no race can be lost. */
	cr_assert_neq(r, MT_STEAL_RETRY);
	return r == MT_STEAL_OK ? x : NULL;
}

/* ---- single thread ---------------------------------------------------- */

Test(deque, take_on_a_new_deque_returns_null)
{
	struct mt_deque d;
	cr_assert_eq(mt__deque_init(&d, MT_DEQUE_INITIAL_LOG2), 0);
	cr_assert_null(mt__deque_take_owner(&d));
	cr_assert_null(mt__deque_take_owner(&d));
	cr_assert_eq(mt__deque_size_seq_cst(&d), 0);
	mt__deque_destroy(&d);
}

Test(deque, steal_on_a_new_deque_reports_empty_and_leaves_item_alone)
{
	struct mt_deque d;
	void *x = item(41);
	cr_assert_eq(mt__deque_init(&d, MT_DEQUE_INITIAL_LOG2), 0);
	cr_assert_eq(mt__deque_steal(&d, &x), MT_STEAL_EMPTY);
	cr_assert_eq(x, item(41));
	mt__deque_destroy(&d);
}

Test(deque, take_returns_items_in_lifo_order)
{
	struct mt_deque d;
	cr_assert_eq(mt__deque_init(&d, 3), 0);
	for (int64_t i = 0; i < 5; i++)
		push_ok(&d, i);
	cr_assert_eq(mt__deque_size_seq_cst(&d), 5);
	for (int64_t i = 4; i >= 0; i--)
		cr_assert_eq(mt__deque_take_owner(&d), item(i));
	cr_assert_null(mt__deque_take_owner(&d));
	mt__deque_destroy(&d);
}

Test(deque, steal_returns_items_in_fifo_order)
{
	struct mt_deque d;
	cr_assert_eq(mt__deque_init(&d, 3), 0);
	for (int64_t i = 0; i < 5; i++)
		push_ok(&d, i);
	for (int64_t i = 0; i < 5; i++)
		cr_assert_eq(steal_once(&d), item(i));
	cr_assert_null(steal_once(&d));
	mt__deque_destroy(&d);
}

Test(deque, take_and_steal_meet_in_the_middle_without_loss)
{
	struct mt_deque d;
	cr_assert_eq(mt__deque_init(&d, 2), 0);
	for (int64_t i = 0; i < 4; i++)
		push_ok(&d, i);
	cr_assert_eq(steal_once(&d), item(0));
	cr_assert_eq(mt__deque_take_owner(&d), item(3));
	cr_assert_eq(steal_once(&d), item(1));
	cr_assert_eq(mt__deque_take_owner(&d), item(2)); /* the last one */
	cr_assert_null(mt__deque_take_owner(&d));
	cr_assert_null(steal_once(&d));
	push_ok(&d, 9); /* still usable after emptying through both ends */
	cr_assert_eq(steal_once(&d), item(9));
	mt__deque_destroy(&d);
}

Test(deque, init_rejects_log2_capacity_outside_1_to_40)
{
	struct mt_deque d;
	cr_assert_eq(mt__deque_init(&d, 0), EINVAL);
	cr_assert_eq(mt__deque_init(&d, 41), EINVAL);
	cr_assert_eq(mt__deque_init(NULL, 4), EINVAL);
	cr_assert_eq(mt__deque_init(&d, 1), 0);
	cr_assert_eq(mt__deque_capacity(&d), 2);
	mt__deque_destroy(&d);
}

Test(deque, init_at_rejects_a_start_outside_0_to_int64_max_over_2)
{
	struct mt_deque d;
	cr_assert_eq(mt__deque_init_at(&d, 4, -1), EINVAL);
	cr_assert_eq(mt__deque_init_at(&d, 4, INT64_MAX / 2 + 1), EINVAL);
	cr_assert_eq(mt__deque_init_at(&d, 4, INT64_MAX / 2), 0);
	mt__deque_destroy(&d);
}

Test(deque, destroy_accepts_null)
{
	mt__deque_destroy(NULL);
}

Test(deque, grows_from_capacity_2_to_many_thousands_keeping_all_items)
{
	enum {
		N = 100000,
		STOLEN = 1000
	};
	struct mt_deque d;
	cr_assert_eq(mt__deque_init(&d, 1), 0);
	for (int64_t i = 0; i < N; i++)
		push_ok(&d, i);
	cr_assert_geq(mt__deque_capacity(&d), N);
	cr_assert_eq(mt__deque_size_seq_cst(&d), N);
	for (int64_t i = 0; i < STOLEN; i++)
		cr_assert_eq(steal_once(&d), item(i));
	for (int64_t i = N - 1; i >= STOLEN; i--)
		cr_assert_eq(mt__deque_take_owner(&d), item(i));
	cr_assert_null(mt__deque_take_owner(&d));
	mt__deque_destroy(&d);
}

Test(deque, grows_while_thieves_have_moved_top_keeping_fifo_order)
{
	struct mt_deque d;
	int64_t next_out = 0, next_in = 0;
	cr_assert_eq(mt__deque_init(&d, 1), 0);
	/* Each round pushes 3 and steals 2, so top keeps moving and each
	 * growth copies a window that starts at a non-zero index. */
	for (int round = 0; round < 5000; round++) {
		for (int k = 0; k < 3; k++)
			push_ok(&d, next_in++);
		for (int k = 0; k < 2; k++)
			cr_assert_eq(steal_once(&d), item(next_out++));
	}
	while (next_out < next_in)
		cr_assert_eq(steal_once(&d), item(next_out++));
	cr_assert_null(steal_once(&d));
	mt__deque_destroy(&d);
}

/* ---- edge states ------------------------------------------------------ */

/* Pushes `n` items starting at the given start index, then checks that
 * steals and takes see them in order; the ring wraps or grows meanwhile. */
static void check_from_start(unsigned log2, int64_t start, int64_t n)
{
	struct mt_deque d;
	cr_assert_eq(mt__deque_init_at(&d, log2, start), 0);
	for (int64_t i = 0; i < n; i++)
		push_ok(&d, i);
	cr_assert_eq(mt__deque_size_seq_cst(&d), n);
	for (int64_t i = 0; i < n / 2; i++)
		cr_assert_eq(steal_once(&d), item(i));
	for (int64_t i = n - 1; i >= n / 2; i--)
		cr_assert_eq(mt__deque_take_owner(&d), item(i));
	cr_assert_null(mt__deque_take_owner(&d));
	cr_assert_null(steal_once(&d));
	mt__deque_destroy(&d);
}

Test(deque, ring_wraps_when_start_is_just_below_a_multiple_of_capacity)
{
	/* Capacity 8, start 8*5 - 3: the fourth push lands in slot 0. */
	check_from_start(3, 8 * 5 - 3, 8);
}

Test(deque, grows_across_the_wrap_point_keeping_order)
{
	/* Full ring straddling the wrap point, then 4 doublings. */
	check_from_start(3, 8 * 5 - 3, 8 * 16);
}

Test(deque, works_with_indices_near_int64_max_over_2)
{
	check_from_start(2, INT64_MAX / 2 - 10, 100);
}

Test(deque, reuses_slots_after_wrap_without_growing)
{
	struct mt_deque d;
	cr_assert_eq(mt__deque_init_at(&d, 2, 4 * 1000 - 1), 0);
	/* Never more than 3 live items in a ring of 4: no growth, and every
	 * slot is overwritten many times. */
	for (int64_t i = 0; i < 10000; i++) {
		push_ok(&d, i);
		if (i % 3 == 2) {
			cr_assert_eq(steal_once(&d), item(i - 2));
			cr_assert_eq(mt__deque_take_owner(&d), item(i));
			cr_assert_eq(mt__deque_take_owner(&d), item(i - 1));
		}
	}
	cr_assert_eq(mt__deque_capacity(&d), 4);
	mt__deque_destroy(&d);
}

/* ---- allocation failure ----------------------------------------------- */

Test(deque, init_returns_enomem_when_allocation_fails)
{
	struct mt_deque d;
	mt__fault_fail_allocs_after(0);
	int rc = mt__deque_init(&d, 4);
	mt__fault_fail_allocs_after(-1);
	cr_assert_eq(rc, ENOMEM);
}

Test(deque, push_returns_enomem_without_pushing_when_growth_fails)
{
	struct mt_deque d;
	cr_assert_eq(mt__deque_init(&d, 1), 0);
	push_ok(&d, 0);
	push_ok(&d, 1);

	mt__fault_fail_allocs_after(0); /* the growth allocation fails */
	int rc = mt__deque_push_owner(&d, item(2));
	mt__fault_fail_allocs_after(-1);
	mt__fault_fail_allocs_count(-1);

	cr_assert_eq(rc, ENOMEM);
	cr_assert_eq(mt__deque_size_seq_cst(&d), 2);
	cr_assert_eq(mt__deque_capacity(&d), 2);
	cr_assert_eq(mt__deque_take_owner(&d), item(1));
	/* Still works, and grows once allocation works again. */
	for (int64_t i = 3; i < 7; i++)
		push_ok(&d, i);
	cr_assert_eq(mt__deque_capacity(&d), 8);
	cr_assert_eq(steal_once(&d), item(0));
	for (int64_t i = 6; i >= 3; i--)
		cr_assert_eq(mt__deque_take_owner(&d), item(i));
	cr_assert_null(mt__deque_take_owner(&d));
	mt__deque_destroy(&d);
}

/* ---- owner and thieves ------------------------------------------------ */

/*
 * Counts how often each item came out; `bad` counts impossible items.
 * In the threaded tests an item is a pointer to payload[i], which the
 * owner writes (plainly) just before pushing it and the taker reads
 * (plainly): as with a real task, ThreadSanitizer then checks that the
 * deque publishes what was written before the push.
 */
struct tally {
	_Atomic int *seen;
	int64_t *payload;
	int64_t n;
	_Atomic int64_t bad;
	_Atomic int64_t stolen; /* by thieves: logged to show races happen */
};

static void tally_init(struct tally *t, int64_t n)
{
	t->seen = malloc((size_t)n * sizeof(*t->seen));
	t->payload = malloc((size_t)n * sizeof(*t->payload));
	cr_assert_not_null(t->seen);
	cr_assert_not_null(t->payload);
	for (int64_t i = 0; i < n; i++)
		atomic_init(&t->seen[i], 0);
	t->n = n;
	atomic_init(&t->bad, 0);
	atomic_init(&t->stolen, 0);
}

/* Called from any thread: no cr_assert here, which must stay on the
 * test's main thread. Relaxed: the checks run after pthread_join. */
static void tally_add(struct tally *t, void *x)
{
	uintptr_t off = (uintptr_t)x - (uintptr_t)t->payload;
	uintptr_t i = off / sizeof(*t->payload);
	if (off % sizeof(*t->payload) != 0 || i >= (uintptr_t)t->n ||
	    t->payload[i] != (int64_t)i)
		atomic_fetch_add_explicit(&t->bad, 1, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&t->seen[i], 1, memory_order_relaxed);
}

static void tally_add_stolen(struct tally *t, void *x)
{
	tally_add(t, x);
	atomic_fetch_add_explicit(&t->stolen, 1, memory_order_relaxed);
}

/* Main thread, after every other thread was joined. */
static void tally_check_each_once(struct tally *t)
{
	int64_t wrong = 0, first = -1;
	cr_log_info("thieves got %lld items (n = %lld)",
		    (long long)atomic_load(&t->stolen), (long long)t->n);
	for (int64_t i = 0; i < t->n; i++) {
		if (atomic_load_explicit(&t->seen[i], memory_order_relaxed) !=
		    1) {
			wrong++;
			first = first < 0 ? i : first;
		}
	}
	cr_assert_eq(atomic_load(&t->bad), 0, "unknown items or payloads");
	cr_assert_eq(wrong, 0,
		     "%lld items not taken exactly once, first %lld "
		     "taken %d times",
		     (long long)wrong, (long long)first,
		     first < 0 ? 1 : atomic_load(&t->seen[first]));
	free(t->seen);
	free(t->payload);
}

static void start_threads(pthread_t *tid, unsigned n, void *(*fn)(void *),
			  void *arg)
{
	for (unsigned i = 0; i < n; i++) {
		int rc = pthread_create(&tid[i], NULL, fn, arg);
		cr_assert_eq(rc, 0, "pthread_create: %d", rc);
	}
}

static void join_threads(pthread_t *tid, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int rc = pthread_join(tid[i], NULL);
		cr_assert_eq(rc, 0, "pthread_join: %d", rc);
	}
}

/* Bounded politeness while spinning: the other threads may need this
 * core (2 cores, and 16 thieves in one test). */
static void spin_pause(unsigned *spins)
{
	if (++*spins % 64 == 0)
		sched_yield();
}

/*
 * One owner, some thieves. The thieves steal until the owner says it is
 * done; the owner pushes and takes in a pattern set by the test, and
 * drains the deque before saying so, so every item must come out once.
 * The deque starts at capacity 2, so it also grows under stealing.
 */
struct race {
	struct mt_deque d;
	struct tally tally;
	pthread_barrier_t start;
	_Atomic bool done;
	int64_t push_failures; /* owner only, read after join */
};

static void *thief(void *arg)
{
	struct race *s = arg;
	unsigned spins = 0;
	pthread_barrier_wait(&s->start);
	for (;;) {
		void *x;
		enum mt_steal_result r = mt__deque_steal(&s->d, &x);
		if (r == MT_STEAL_OK) {
			tally_add_stolen(&s->tally, x);
			continue;
		}
		/* Acquire: pairs with the owner's release of `done`, which
		 * it sets only after draining: nothing is left to steal. */
		if (r == MT_STEAL_EMPTY &&
		    atomic_load_explicit(&s->done, memory_order_acquire))
			return NULL;
		spin_pause(&spins);
	}
}

static void owner_push(struct race *s, int64_t i)
{
	s->tally.payload[i] = i; /* published by the push */
	if (mt__deque_push_owner(&s->d, &s->tally.payload[i]) != 0)
		s->push_failures++;
}

/* Takes up to `max` items back (all if max < 0); false once empty. */
static bool owner_take(struct race *s, int64_t max)
{
	void *x;
	for (int64_t k = 0; max < 0 || k < max; k++) {
		if ((x = mt__deque_take_owner(&s->d)) == NULL)
			return false;
		tally_add(&s->tally, x);
	}
	return true;
}

/* Rounds of 1 to 3 pushes, each taken back until empty: almost every
 * round ends with the owner's take and a steal both going for the last
 * item (take's CAS on top against steal's). */
static void owner_last_item_rounds(struct race *s)
{
	int64_t next = 0;
	for (unsigned round = 0; next < s->tally.n; round++) {
		for (unsigned k = 0; k <= round % 3 && next < s->tally.n; k++)
			owner_push(s, next++);
		owner_take(s, -1);
	}
}

/* Bursts of 1 to 512 pushes, half of each taken back: the deque fills,
 * grows and wraps while the thieves steal from the other end. */
static void owner_bursts(struct race *s)
{
	int64_t next = 0;
	for (unsigned round = 0; next < s->tally.n; round++) {
		int64_t burst = (int64_t)1 << (round % 10);
		for (int64_t k = 0; k < burst && next < s->tally.n; k++)
			owner_push(s, next++);
		owner_take(s, burst / 2);
	}
}

static void run_race(unsigned thieves, int64_t n, void (*owner)(struct race *))
{
	static struct race s; /* static: aligned, and off the test's stack */
	pthread_t tid[16];
	cr_assert_leq(thieves, 16);
	cr_assert_eq(mt__deque_init(&s.d, 1), 0);
	tally_init(&s.tally, n);
	atomic_init(&s.done, false);
	s.push_failures = 0;
	cr_assert_eq(pthread_barrier_init(&s.start, NULL, thieves + 1), 0);
	start_threads(tid, thieves, thief, &s);
	pthread_barrier_wait(&s.start);
	owner(&s);
	owner_take(&s, -1);
	/* Release: the drain above comes before a thief's last EMPTY. */
	atomic_store_explicit(&s.done, true, memory_order_release);
	join_threads(tid, thieves);
	cr_assert_eq(s.push_failures, 0);
	tally_check_each_once(&s.tally);
	pthread_barrier_destroy(&s.start);
	mt__deque_destroy(&s.d);
}

Test(deque, owner_and_thief_racing_for_the_last_item_take_it_once,
     .timeout = 60)
{
	run_race(1, RACE_N, owner_last_item_rounds);
}

Test(deque, each_item_is_taken_exactly_once_with_4_thieves, .timeout = 60)
{
	run_race(4, STRESS_N, owner_bursts);
}

Test(deque, each_item_is_taken_exactly_once_with_16_thieves_on_2_cores,
     .timeout = 60)
{
	run_race(16, STRESS_N, owner_bursts);
}
