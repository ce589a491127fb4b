/*
 * tests/unit/test_deque.c: the split deque of pool/deque.h.
 *
 * Order: single-thread behaviour of the shared part (each push shared at
 * once: the Chase-Lev deque), then of the private part, sharing and the
 * private steal, edge states crafted through mt__deque_init_at (ring
 * wrap-around, large indices), allocation failure, then the owner/thief
 * races, with private frames, sharing and private steals (mark, heavy
 * barrier, resolve) in flight. Single-thread tests push small integers
 * disguised as pointers (index + 1, never NULL) as library-task frames;
 * threaded tests push pointers into a payload array (see struct tally),
 * so they can count how often each item came out: every pushed item must
 * come out once.
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
#include "park.h"

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

/* A library-task frame carrying p (deque.h: group NULL, arg non-NULL). */
static struct mt_item frame_of(void *p)
{
	struct mt_item f = {NULL, p, NULL};
	return f;
}

static void push_private_ok(struct mt_deque *d, int64_t i)
{
	struct mt_item f = frame_of(item(i));
	cr_assert_eq(mt__deque_push_owner(d, &f), 0, "push of %lld",
		     (long long)i);
}

/* A push that thieves see at once, as the Chase-Lev deque's. */
static void push_ok(struct mt_deque *d, int64_t i)
{
	push_private_ok(d, i);
	mt__deque_share_owner(d, MT_SHARE_ALL);
}

static void *take(struct mt_deque *d)
{
	struct mt_item f;
	if (!mt__deque_take_owner(d, &f))
		return NULL;
	cr_assert_null(f.group);
	return f.arg;
}

static void *steal_once(struct mt_deque *d)
{
	struct mt_item f;
	enum mt_steal_result r = mt__deque_steal(d, &f);
	/* Single-threaded, so no race can be lost. */
	cr_assert_neq(r, MT_STEAL_RETRY);
	return r == MT_STEAL_OK ? f.arg : NULL;
}

/* ---- single thread ---------------------------------------------------- */

Test(deque, take_on_a_new_deque_returns_null)
{
	struct mt_deque d;
	cr_assert_eq(mt__deque_init(&d, MT_DEQUE_INITIAL_LOG2), 0);
	cr_assert_null(take(&d));
	cr_assert_null(take(&d));
	cr_assert_eq(mt__deque_size_seq_cst(&d), 0);
	mt__deque_destroy(&d);
}

Test(deque, steal_on_a_new_deque_reports_empty_and_leaves_item_alone)
{
	struct mt_deque d;
	struct mt_item x = frame_of(item(41));
	cr_assert_eq(mt__deque_init(&d, MT_DEQUE_INITIAL_LOG2), 0);
	cr_assert_eq(mt__deque_steal(&d, &x), MT_STEAL_EMPTY);
	cr_assert_eq(x.arg, item(41));
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
		cr_assert_eq(take(&d), item(i));
	cr_assert_null(take(&d));
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
	cr_assert_eq(take(&d), item(3));
	cr_assert_eq(steal_once(&d), item(1));
	cr_assert_eq(take(&d), item(2)); /* the last one */
	cr_assert_null(take(&d));
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

Test(deque, init_at_rejects_a_start_outside_0_to_int64_max_over_4)
{
	struct mt_deque d;
	cr_assert_eq(mt__deque_init_at(&d, 4, -1), EINVAL);
	cr_assert_eq(mt__deque_init_at(&d, 4, INT64_MAX / 4 + 1), EINVAL);
	cr_assert_eq(mt__deque_init_at(&d, 4, INT64_MAX / 4), 0);
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
		cr_assert_eq(take(&d), item(i));
	cr_assert_null(take(&d));
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
		cr_assert_eq(take(&d), item(i));
	cr_assert_null(take(&d));
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

Test(deque, works_with_indices_near_int64_max_over_4)
{
	check_from_start(2, INT64_MAX / 4 - 10, 100);
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
			cr_assert_eq(take(&d), item(i));
			cr_assert_eq(take(&d), item(i - 1));
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
	struct mt_item f = frame_of(item(2));
	int rc = mt__deque_push_owner(&d, &f);
	mt__fault_fail_allocs_after(-1);
	mt__fault_fail_allocs_count(-1);

	cr_assert_eq(rc, ENOMEM);
	cr_assert_eq(mt__deque_size_seq_cst(&d), 2);
	cr_assert_eq(mt__deque_capacity(&d), 2);
	cr_assert_eq(take(&d), item(1));
	/* Still works, and grows once allocation works again. */
	for (int64_t i = 3; i < 7; i++)
		push_ok(&d, i);
	cr_assert_eq(mt__deque_capacity(&d), 8);
	cr_assert_eq(steal_once(&d), item(0));
	for (int64_t i = 6; i >= 3; i--)
		cr_assert_eq(take(&d), item(i));
	cr_assert_null(take(&d));
	mt__deque_destroy(&d);
}

/* ---- the private part, sharing, the private steal ---------------------- */

Test(deque, private_frames_are_not_stealable_and_come_back_lifo)
{
	struct mt_deque d;
	cr_assert_eq(mt__deque_init(&d, 3), 0);
	for (int64_t i = 0; i < 3; i++)
		push_private_ok(&d, i);
	cr_assert_null(steal_once(&d));
	cr_assert_eq(mt__deque_size_seq_cst(&d), 0, "nothing shared");
	cr_assert(mt__deque_has_private(&d));
	for (int64_t i = 2; i >= 0; i--)
		cr_assert_eq(take(&d), item(i));
	cr_assert_null(take(&d));
	cr_assert_not(mt__deque_has_private(&d));
	mt__deque_destroy(&d);
}

Test(deque, sharing_half_shares_the_older_half_rounded_up)
{
	struct mt_deque d;
	cr_assert_eq(mt__deque_init(&d, 3), 0);
	for (int64_t i = 0; i < 5; i++)
		push_private_ok(&d, i);
	cr_assert_eq(mt__deque_share_owner(&d, MT_SHARE_HALF), 3);
	cr_assert_eq(mt__deque_size_seq_cst(&d), 3);
	for (int64_t i = 0; i < 3; i++)
		cr_assert_eq(steal_once(&d), item(i));
	cr_assert_null(steal_once(&d));
	cr_assert_eq(mt__deque_share_owner(&d, MT_SHARE_HALF), 1);
	cr_assert_eq(steal_once(&d), item(3));
	cr_assert_eq(take(&d), item(4));
	cr_assert_eq(mt__deque_share_owner(&d, MT_SHARE_ALL), 0,
		     "nothing private left to share");
	mt__deque_destroy(&d);
}

Test(deque, the_owner_takes_back_shared_frames_under_private_ones)
{
	struct mt_deque d;
	cr_assert_eq(mt__deque_init(&d, 3), 0);
	for (int64_t i = 0; i < 2; i++)
		push_ok(&d, i); /* shared */
	for (int64_t i = 2; i < 4; i++)
		push_private_ok(&d, i);
	for (int64_t i = 3; i >= 0; i--)
		cr_assert_eq(take(&d), item(i));
	cr_assert_null(take(&d));
	cr_assert_null(steal_once(&d));
	push_ok(&d, 9); /* still usable after emptying through both parts */
	cr_assert_eq(steal_once(&d), item(9));
	mt__deque_destroy(&d);
}

Test(deque, a_deque_without_private_frames_shares_every_push)
{
	struct mt_deque d;
	cr_assert_eq(mt__deque_init(&d, 3), 0);
	mt__deque_disable_private(&d);
	cr_assert_eq(d.lane.limit, INT64_MIN, "inline pushes must fall back");
	push_private_ok(&d, 0);
	push_private_ok(&d, 1);
	cr_assert_not(mt__deque_has_private(&d));
	cr_assert_eq(steal_once(&d), item(0));
	cr_assert_eq(take(&d), item(1));
	mt__deque_destroy(&d);
}

Test(deque, take_owner_if_takes_only_the_named_groups_frame)
{
	struct mt_deque d;
	mt_group a, b;
	struct mt_item fa = {(void (*)(void *))1, item(1), &a};
	struct mt_item fb = {(void (*)(void *))1, item(2), &b};
	struct mt_item out;
	cr_assert_eq(mt__deque_init(&d, 3), 0);
	cr_assert_eq(mt__deque_push_owner(&d, &fa), 0);
	cr_assert_eq(mt__deque_push_owner(&d, &fb), 0);
	cr_assert_not(mt__deque_take_owner_if(&d, &a, &out));
	cr_assert(mt__deque_take_owner_if(&d, &b, &out));
	cr_assert_eq(out.group, &b);
	cr_assert(mt__deque_take_owner_if(&d, &a, &out));
	cr_assert_eq(out.arg, item(1));
	cr_assert_not(mt__deque_take_owner_if(&d, &a, &out), "empty");
	mt__deque_destroy(&d);
}

Test(deque, a_resolved_private_steal_shares_the_oldest_private_frame)
{
	struct mt_deque d;
	cr_assert_eq(mt__deque_init(&d, 3), 0);
	push_private_ok(&d, 0);
	push_private_ok(&d, 1);
	int64_t s = mt__deque_private_mark(&d);
	cr_assert_eq(s, 0, "the oldest private frame's index");
	cr_assert_eq(mt__deque_private_mark(&d), -1, "one flag at a time");
	cr_assert_null(steal_once(&d), "flagged is not shared yet");
	cr_assert(mt__deque_private_resolve(&d, s));
	cr_assert_eq(steal_once(&d), item(0));
	cr_assert_null(steal_once(&d));
	cr_assert_eq(take(&d), item(1));
	cr_assert_null(take(&d));
	mt__deque_destroy(&d);
}

Test(deque, the_owner_popping_a_flagged_frame_keeps_it_and_the_steal_withdraws)
{
	struct mt_deque d;
	cr_assert_eq(mt__deque_init(&d, 3), 0);
	push_private_ok(&d, 0);
	int64_t s = mt__deque_private_mark(&d);
	cr_assert_eq(s, 0);
	cr_assert_eq(take(&d), item(0), "the owner wins its flagged frame");
	cr_assert_not(mt__deque_private_resolve(&d, s));
	cr_assert_null(steal_once(&d));
	cr_assert_null(take(&d));
	push_private_ok(&d, 1); /* the flag is gone for good */
	cr_assert_eq(take(&d), item(1));
	mt__deque_destroy(&d);
}

Test(deque,
     a_steal_resolved_after_the_owner_refilled_the_index_shares_the_new_frame)
{
	struct mt_deque d;
	cr_assert_eq(mt__deque_init(&d, 3), 0);
	push_private_ok(&d, 0);
	push_private_ok(&d, 1);
	int64_t s = mt__deque_private_mark(&d); /* flags index 0 */
	cr_assert_eq(take(&d), item(1));
	cr_assert_eq(take(&d), item(0)); /* withdraws the flag itself */
	push_private_ok(&d, 2);		 /* index 0 again */
	cr_assert_not(mt__deque_private_resolve(&d, s), "flag withdrawn");
	cr_assert_null(steal_once(&d));
	cr_assert_eq(take(&d), item(2));
	mt__deque_destroy(&d);
}

Test(deque, sharing_over_a_flag_shares_and_the_steal_finds_nothing_to_do)
{
	struct mt_deque d;
	cr_assert_eq(mt__deque_init(&d, 3), 0);
	for (int64_t i = 0; i < 3; i++)
		push_private_ok(&d, i);
	int64_t s = mt__deque_private_mark(&d);
	cr_assert_eq(mt__deque_share_owner(&d, MT_SHARE_ALL), 3);
	cr_assert_not(mt__deque_private_resolve(&d, s));
	for (int64_t i = 0; i < 3; i++)
		cr_assert_eq(steal_once(&d), item(i));
	cr_assert_null(take(&d));
	mt__deque_destroy(&d);
}

Test(deque, no_private_steal_without_private_frames)
{
	struct mt_deque d;
	cr_assert_eq(mt__deque_init(&d, 3), 0);
	cr_assert_eq(mt__deque_private_mark(&d), -1);
	push_ok(&d, 0);
	cr_assert_eq(mt__deque_private_mark(&d), -1, "shared is not private");
	cr_assert_eq(take(&d), item(0));
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
 * One owner, some thieves, and optionally markers (private steals). The
 * thieves steal until the owner says it is done; markers flag the owner's
 * oldest private frame, run the heavy barrier, resolve, and steal what
 * that shared. The owner pushes (privately, sharing as the test's pattern
 * says) and takes, and drains the deque before saying it is done, so
 * every item must come out once. The deque starts at capacity 2, so it
 * also grows under stealing.
 */
struct race {
	struct mt_deque d;
	struct tally tally;
	pthread_barrier_t start;
	_Atomic bool done;
	int64_t push_failures; /* owner only, read after join */
	unsigned share_every;  /* owner: share half after this many pushes,
				* 0 = every push shared at once */
	unsigned pushes;       /* owner only */
	_Atomic int64_t marks; /* private steals flagged */
	_Atomic int64_t marks_shared; /* private steals that shared a frame */
	bool slow_owner;	      /* owner: jitter before each take */
	uint64_t rng;		      /* owner only */
};

static bool steal_into(struct race *s)
{
	struct mt_item f;
	enum mt_steal_result r = mt__deque_steal(&s->d, &f);
	if (r == MT_STEAL_OK)
		tally_add_stolen(&s->tally, f.arg);
	return r != MT_STEAL_EMPTY;
}

static void *thief(void *arg)
{
	struct race *s = arg;
	unsigned spins = 0;
	pthread_barrier_wait(&s->start);
	for (;;) {
		if (steal_into(s))
			continue;
		/* Acquire: pairs with the owner's release of `done`, which
		 * it sets only after draining: nothing is left to steal. */
		if (atomic_load_explicit(&s->done, memory_order_acquire))
			return NULL;
		spin_pause(&spins);
	}
}

/* A private steal as a worker on its way to sleep makes it (park.c). */
static void *marker(void *arg)
{
	struct race *s = arg;
	unsigned spins = 0;
	pthread_barrier_wait(&s->start);
	while (!atomic_load_explicit(&s->done, memory_order_acquire)) {
		int64_t at = mt__deque_private_mark(&s->d);
		if (at >= 0) {
			atomic_fetch_add_explicit(&s->marks, 1,
						  memory_order_relaxed);
			mt__heavy_barrier();
			if (mt__deque_private_resolve(&s->d, at)) {
				atomic_fetch_add_explicit(&s->marks_shared, 1,
							  memory_order_relaxed);
				while (steal_into(s))
					;
			}
		}
		spin_pause(&spins);
	}
	return NULL;
}

static void owner_push(struct race *s, int64_t i)
{
	s->tally.payload[i] = i; /* published by the push */
	struct mt_item f = frame_of(&s->tally.payload[i]);
	if (mt__deque_push_owner(&s->d, &f) != 0)
		s->push_failures++;
	if (s->share_every == 0 || ++s->pushes % s->share_every == 0)
		mt__deque_share_owner(&s->d, s->share_every == 0 ?
						     MT_SHARE_ALL :
						     MT_SHARE_HALF);
}

/* A busy delay of pseudo-random length (xorshift64), up to a few
 * microseconds: spreads the owner's pops over a marker's barrier. */
static void jitter(uint64_t *rng)
{
	*rng ^= *rng << 13;
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	for (volatile unsigned i = 0, n = (unsigned)(*rng % 4000); i < n; i++)
		;
}

/* Takes up to `max` items back (all if max < 0); false once empty. */
static bool owner_take(struct race *s, int64_t max)
{
	if (s->slow_owner)
		jitter(&s->rng);
	for (int64_t k = 0; max < 0 || k < max; k++) {
		struct mt_item f;
		if (!mt__deque_take_owner(&s->d, &f))
			return false;
		tally_add(&s->tally, f.arg);
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

/* One or two frames pushed, some work, popped back, as fib's spawn and
 * wait: the owner's fast pop of its only private frames against a
 * marker's flag on them. */
static void owner_push_pop_one(struct race *s)
{
	for (int64_t next = 0; next < s->tally.n;) {
		owner_push(s, next++);
		if (next < s->tally.n && (s->rng & 1))
			owner_push(s, next++);
		owner_take(s, 2);
	}
}

struct race_shape {
	unsigned thieves, markers;
	int64_t n;
	unsigned share_every;
	void (*owner)(struct race *);
};

static void run_race(struct race_shape shape)
{
	static struct race s; /* static: aligned, and off the test's stack */
	pthread_t tid[20];
	unsigned others = shape.thieves + shape.markers;
	cr_assert_leq(others, 20);
	if (shape.markers > 0) {
		mt__park_init_process(); /* registers the heavy barrier */
		cr_assert(mt__heavy_barrier_available(),
			  "membarrier is needed for private steals");
	}
	cr_assert_eq(mt__deque_init(&s.d, 1), 0);
	tally_init(&s.tally, shape.n);
	atomic_init(&s.done, false);
	atomic_init(&s.marks, 0);
	atomic_init(&s.marks_shared, 0);
	s.push_failures = 0;
	s.share_every = shape.share_every;
	s.pushes = 0;
	/* With markers the owner is slowed down, so that its pops meet the
	 * markers' barriers (a system call each) often enough. */
	s.slow_owner = shape.markers > 0;
	s.rng = 0x9e3779b97f4a7c15u;
	cr_assert_eq(pthread_barrier_init(&s.start, NULL, others + 1), 0);
	start_threads(tid, shape.thieves, thief, &s);
	start_threads(tid + shape.thieves, shape.markers, marker, &s);
	pthread_barrier_wait(&s.start);
	shape.owner(&s);
	owner_take(&s, -1);
	/* Release: the drain above comes before a thief's last EMPTY. */
	atomic_store_explicit(&s.done, true, memory_order_release);
	join_threads(tid, others);
	cr_assert_eq(s.push_failures, 0);
	cr_log_info("private steals: %lld flagged, %lld shared a frame",
		    (long long)atomic_load(&s.marks),
		    (long long)atomic_load(&s.marks_shared));
	tally_check_each_once(&s.tally);
	pthread_barrier_destroy(&s.start);
	mt__deque_destroy(&s.d);
}

Test(deque, owner_and_thief_racing_for_the_last_item_take_it_once,
     .timeout = 60)
{
	run_race((struct race_shape){1, 0, RACE_N, 0, owner_last_item_rounds});
}

Test(deque, each_item_is_taken_exactly_once_with_4_thieves, .timeout = 60)
{
	run_race((struct race_shape){4, 0, STRESS_N, 0, owner_bursts});
}

Test(deque, each_item_is_taken_exactly_once_with_16_thieves_on_2_cores,
     .timeout = 60)
{
	run_race((struct race_shape){16, 0, STRESS_N, 0, owner_bursts});
}

Test(deque, private_frames_shared_in_halves_are_each_taken_once, .timeout = 60)
{
	run_race((struct race_shape){4, 0, STRESS_N, 7, owner_bursts});
}

Test(deque, private_steals_against_fast_pops_take_each_frame_once,
     .timeout = 60)
{
	run_race((struct race_shape){1, 2, RACE_N / 5, 1000,
				     owner_push_pop_one});
}

Test(deque, private_steals_with_thieves_and_bursts_take_each_frame_once,
     .timeout = 60)
{
	run_race((struct race_shape){2, 2, RACE_N / 2, 64, owner_bursts});
}

Test(deque, private_steals_on_last_items_take_each_frame_once, .timeout = 60)
{
	run_race((struct race_shape){1, 3, RACE_N / 5, 2,
				     owner_last_item_rounds});
}
