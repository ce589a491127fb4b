/*
 * tests/unit/test_latch.c: the one-word countdown latch of pool/latch.h.
 *
 * Order: single-thread behaviour (open at zero, add/count_down, the
 * EOVERFLOW limit), the OS-wait protocol through a counting fake of
 * mt__os_wait_ops (no wait when the count is already zero, exactly one
 * wake for a blocked waiter), then many finishers: their effects are
 * visible to the waiter, and the "last access" rule (STYLE 19) under a
 * latch that lives in a stack frame the waiter leaves and reuses at once.
 *
 * No test sleeps to wait for another thread: they meet on atomics, and
 * every threaded test has a timeout so a lost wake-up fails.
 * Plain atomic_load/atomic_store (seq_cst) appear only where order does not
 * matter: single-threaded checks, or reads after a join.
 */
/* sched_yield is POSIX, hidden by -std=c11. */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "futex.h"
#include "latch.h"

#include "../common/mt_test.h" /* MT_TEST_SANITIZED */

#define ROUNDS (MT_TEST_SANITIZED ? 1000 : 3000)
#define NFINISHERS 8

static uint32_t count_of(struct mt_latch *l)
{
	return atomic_load_explicit(&l->word, memory_order_relaxed) >> 1;
}

/* ---- single thread ---------------------------------------------------- */

Test(latch, a_new_latch_is_open_and_block_returns_at_once)
{
	struct mt_latch l;
	mt__latch_init(&l);
	cr_assert(mt__latch_is_open(&l));
	mt__latch_block(&l);
}

Test(latch, add_closes_it_and_the_last_count_down_opens_it)
{
	struct mt_latch l;
	mt__latch_init(&l);
	cr_assert_eq(mt__latch_add(&l, 3), 0);
	cr_assert_not(mt__latch_is_open(&l));
	mt__latch_count_down(&l);
	mt__latch_count_down(&l);
	cr_assert_not(mt__latch_is_open(&l));
	cr_assert_eq(mt__latch_add(&l, 1), 0); /* a live task adds more */
	mt__latch_count_down(&l);
	cr_assert_not(mt__latch_is_open(&l));
	mt__latch_count_down(&l);
	cr_assert(mt__latch_is_open(&l));
	mt__latch_block(&l);
}

Test(latch, add_of_zero_keeps_it_open)
{
	struct mt_latch l;
	mt__latch_init(&l);
	cr_assert_eq(mt__latch_add(&l, 0), 0);
	cr_assert(mt__latch_is_open(&l));
}

Test(latch, add_past_MT_LATCH_MAX_is_EOVERFLOW_and_changes_nothing)
{
	struct mt_latch l;
	mt__latch_init(&l);
	cr_assert_eq(mt__latch_add(&l, MT_LATCH_MAX + 1), EOVERFLOW);
	cr_assert_eq(mt__latch_add(&l, UINT32_MAX), EOVERFLOW);
	cr_assert(mt__latch_is_open(&l));
	cr_assert_eq(mt__latch_add(&l, MT_LATCH_MAX - 1), 0);
	cr_assert_eq(mt__latch_add(&l, 2), EOVERFLOW);
	cr_assert_eq(count_of(&l), MT_LATCH_MAX - 1);
	cr_assert_eq(mt__latch_add(&l, 1), 0); /* exactly the maximum */
	cr_assert_eq(count_of(&l), MT_LATCH_MAX);
	cr_assert_eq(mt__latch_add(&l, 1), EOVERFLOW);
	cr_assert_eq(count_of(&l), MT_LATCH_MAX);
	/* The count never touched the waiter bit. */
	cr_assert_eq(atomic_load(&l.word) & MT_LATCH_WAITER, 0);
	mt__latch_count_down(&l);
	cr_assert_eq(count_of(&l), MT_LATCH_MAX - 1);
}

/* ---- the OS-wait protocol, through a counting fake ----------------------
 * The fake counts, then delegates to the real futex ops, so a blocked
 * waiter really sleeps and a missing wake shows up as a timeout. */

static _Atomic unsigned n_wait, n_wake;

static void counting_wait(const uint32_t *addr, uint32_t expected)
{
	/* seq_cst: tests poll n_wait to know the waiter has set WAITER. */
	atomic_fetch_add(&n_wait, 1);
	mt__os_wait_ops_futex.wait(addr, expected);
}

static void counting_wake(const uint32_t *addr, int count)
{
	atomic_fetch_add(&n_wake, 1); /* seq_cst: read after joins */
	mt__os_wait_ops_futex.wake(addr, count);
}

static const struct mt_os_wait_ops counting_ops = {
	.wait = counting_wait,
	.wake = counting_wake,
};

Test(latch_os, a_latch_open_before_block_never_waits_or_wakes)
{
	struct mt_latch l;
	mt__os_wait_ops = &counting_ops;
	mt__latch_init(&l);
	cr_assert_eq(mt__latch_add(&l, 2), 0);
	mt__latch_count_down(&l);
	mt__latch_count_down(&l);
	mt__latch_block(&l);
	mt__os_wait_ops = &mt__os_wait_ops_futex;
	cr_assert_eq(atomic_load(&n_wait), 0);
	cr_assert_eq(atomic_load(&n_wake), 0);
}

struct blocked {
	struct mt_latch l;
	_Atomic int returned;
};

static void *waiter(void *p)
{
	struct blocked *b = p;
	mt__latch_block(&b->l);
	atomic_store(&b->returned, 1);
	return NULL;
}

static void *count_down_once(void *p)
{
	mt__latch_count_down(p);
	return NULL;
}

/* A waiter already inside wait (WAITER set) gets exactly one wake, from
 * whichever of the `finishers` threads takes the count to zero. */
static void one_wake_for_a_blocked_waiter(unsigned finishers)
{
	struct blocked b;
	pthread_t w, f[NFINISHERS];
	mt__os_wait_ops = &counting_ops;
	mt__latch_init(&b.l);
	atomic_init(&b.returned, 0);
	cr_assert_eq(mt__latch_add(&b.l, finishers), 0);
	cr_assert_eq(pthread_create(&w, NULL, waiter, &b), 0);
	while (atomic_load(&n_wait) == 0)
		sched_yield();
	cr_assert_eq(atomic_load(&b.l.word) & MT_LATCH_WAITER, MT_LATCH_WAITER);
	cr_assert_not(atomic_load(&b.returned));
	for (unsigned i = 0; i < finishers; i++)
		cr_assert_eq(pthread_create(&f[i], NULL, count_down_once, &b.l),
			     0);
	for (unsigned i = 0; i < finishers; i++)
		cr_assert_eq(pthread_join(f[i], NULL), 0);
	cr_assert_eq(pthread_join(w, NULL), 0);
	mt__os_wait_ops = &mt__os_wait_ops_futex;
	cr_assert(atomic_load(&b.returned));
	cr_assert_geq(atomic_load(&n_wait), 1);
	cr_assert_eq(atomic_load(&n_wake), 1, "wakes: %u",
		     atomic_load(&n_wake));
}

Test(latch_os, a_blocked_waiter_gets_exactly_one_wake, .timeout = 60)
{
	one_wake_for_a_blocked_waiter(1);
}

Test(latch_os, a_blocked_waiter_gets_one_wake_from_eight_finishers,
     .timeout = 60)
{
	one_wake_for_a_blocked_waiter(NFINISHERS);
}

/* ---- many finishers --------------------------------------------------- */

static int effects[NFINISHERS]; /* plain: published by the latch */

struct finisher_arg {
	struct mt_latch *l;
	int i;
	int value;
};

static void *write_then_count_down(void *p)
{
	struct finisher_arg *a = p;
	effects[a->i] = a->value;
	mt__latch_count_down(a->l);
	return NULL;
}

Test(latch_threads, finishers_effects_are_visible_when_block_returns,
     .timeout = 60)
{
	for (int r = 0; r < ROUNDS / 10; r++) {
		struct mt_latch l;
		pthread_t th[NFINISHERS];
		struct finisher_arg args[NFINISHERS];
		mt__latch_init(&l);
		cr_assert_eq(mt__latch_add(&l, NFINISHERS), 0);
		for (int i = 0; i < NFINISHERS; i++) {
			args[i] = (struct finisher_arg){&l, i, r * 100 + i};
			cr_assert_eq(pthread_create(&th[i], NULL,
						    write_then_count_down,
						    &args[i]),
				     0);
		}
		mt__latch_block(&l);
		/* Read before joining: only the latch orders these reads. */
		for (int i = 0; i < NFINISHERS; i++)
			cr_assert_eq(effects[i], r * 100 + i, "round %d", r);
		for (int i = 0; i < NFINISHERS; i++)
			cr_assert_eq(pthread_join(th[i], NULL), 0);
	}
}

/* ---- the last access rule ----------------------------------------------
 * Each round runs in a fresh call of round_on_stack(): its latch lives in
 * that frame, and the frame is dead (and scribbled over by the next
 * round's frame and by scribble_stack()) as soon as block returns. A
 * finisher that read or wrote the latch after its decrement would touch
 * another round's latch: TSan reports the unordered access, and a stray
 * write corrupts the next count (a hang or an early open, both caught). */

struct mailbox {
	_Atomic(struct mt_latch *) latch; /* this round's latch */
	_Atomic int round;		  /* published round number */
	int data[NFINISHERS];		  /* plain: published by the latch */
};

static struct mailbox box;

static void *persistent_finisher(void *p)
{
	int i = (int)(intptr_t)p;
	for (int r = 1; r <= ROUNDS; r++) {
		/* acquire: pairs with the release store of round, so the
		 * latch's init and add are visible before we count down. */
		while (atomic_load_explicit(&box.round, memory_order_acquire) !=
		       r)
			sched_yield();
		struct mt_latch *l =
			atomic_load_explicit(&box.latch, memory_order_relaxed);
		box.data[i] = r;
		mt__latch_count_down(l);
	}
	return NULL;
}

static __attribute__((noinline)) void round_on_stack(int r)
{
	struct mt_latch l; /* dies when this function returns */
	mt__latch_init(&l);
	cr_assert_eq(mt__latch_add(&l, NFINISHERS), 0);
	atomic_store_explicit(&box.latch, &l, memory_order_relaxed);
	/* release: publishes the latch to the finishers. */
	atomic_store_explicit(&box.round, r, memory_order_release);
	/* Some rounds block at once, some after finishers ran: both paths. */
	if (r % 2 == 0)
		sched_yield();
	mt__latch_block(&l);
	for (int i = 0; i < NFINISHERS; i++)
		cr_assert_eq(box.data[i], r, "round %d finisher %d", r, i);
}

static __attribute__((noinline)) void scribble_stack(void)
{
	volatile unsigned char junk[512];
	memset((void *)junk, 0xa5, sizeof(junk));
	(void)junk[0];
}

Test(latch_threads, stack_latch_reused_at_once_each_round_stays_exact,
     .timeout = 60)
{
	pthread_t th[NFINISHERS];
	for (int i = 0; i < NFINISHERS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, persistent_finisher,
					    (void *)(intptr_t)i),
			     0);
	for (int r = 1; r <= ROUNDS; r++) {
		round_on_stack(r);
		scribble_stack();
	}
	for (int i = 0; i < NFINISHERS; i++)
		cr_assert_eq(pthread_join(th[i], NULL), 0);
}

/* The library's int functions must leave errno alone (mtpool.h), and they
 * sleep through these ops: a futex wait whose value has already changed
 * fails with EAGAIN, which must not reach the caller's errno. */
Test(os_wait, a_wait_on_a_changed_value_returns_and_leaves_errno_alone)
{
	uint32_t word = 1;
	errno = 4242;
	mt__os_wait(&word, 0); /* returns at once: EAGAIN in the kernel */
	mt__os_wake(&word, 1);
	cr_assert_eq(errno, 4242, "errno %d", errno);
}
