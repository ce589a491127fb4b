/*
 * tests/unit/test_inject.c: the injection queue of pool/inject.h (bounded
 * Vyukov MPMC ring plus a locked overflow list).
 *
 * Order: single-thread behaviour (FIFO within the ring, empty pops), the
 * overflow list on tiny rings, edge states crafted through
 * mt__inject_init_at (positions next to the size_t wrap and next to the
 * intptr_t sign boundary, where the ring compares positions as signed
 * differences), then many producers against many consumers.
 *
 * Items are addresses of entries of a struct mt_task array: the queue
 * links overflowed tasks through t->next, so it needs real tasks. Threaded
 * tests count how often each item came out (every item exactly once) and
 * check that the task's contents written before the push are seen after
 * the pop (the ring's release/acquire hand-over, checked by TSan).
 *
 * No test sleeps to wait for another thread; threads meet on atomics or a
 * barrier, and every threaded test has a timeout so a deadlock fails.
 * Plain atomic_load/atomic_store (seq_cst) appear only where order does not
 * matter: single-threaded checks, or reads after a join.
 */
/* pthread_barrier_t and sched_yield are POSIX, hidden by -std=c11. */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h" /* fault injection */
#include "inject.h"
#include "task.h"

#include "../common/mt_test.h" /* MT_TEST_SANITIZED */

/* Items per MPMC stress run: on 2 cores with 16 threads the sanitized
 * runs stay under ~10 s each; the interleavings are the same. */
#define STRESS_N (MT_TEST_SANITIZED ? 100000u : 400000u)

static struct mt_task *new_tasks(size_t n)
{
	struct mt_task *t = calloc(n, sizeof(*t));
	cr_assert_not_null(t);
	return t;
}

static void init_at_ok(struct mt_inject *q, unsigned log2, size_t start)
{
	cr_assert_eq(mt__inject_init_at(q, log2, start), 0);
}

static size_t overflow_len(struct mt_inject *q)
{
	return atomic_load_explicit(&q->overflow_len, memory_order_relaxed);
}

/* Pushes tasks[0..n) then pops n and checks they come back in order (all
 * fit in the ring) and that the queue is then empty. */
static void push_pop_in_order(struct mt_inject *q, struct mt_task *tasks,
			      size_t n)
{
	for (size_t i = 0; i < n; i++)
		mt__inject_push_mp(q, &tasks[i]);
	cr_assert_eq(overflow_len(q), 0);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(mt__inject_pop_mc(q), &tasks[i], "item %zu", i);
	cr_assert_null(mt__inject_pop_mc(q));
	cr_assert_not(mt__inject_maybe_nonempty(q));
}

/* ---- single thread ---------------------------------------------------- */

Test(inject, pop_on_a_new_queue_returns_null)
{
	struct mt_inject q;
	cr_assert_eq(mt__inject_init(&q, 4), 0);
	cr_assert_null(mt__inject_pop_mc(&q));
	cr_assert_null(mt__inject_pop_mc(&q));
	cr_assert_not(mt__inject_maybe_nonempty(&q));
	mt__inject_destroy(&q);
}

Test(inject, pops_return_pushes_in_fifo_order_within_the_ring)
{
	struct mt_inject q;
	struct mt_task *tasks = new_tasks(16);
	cr_assert_eq(mt__inject_init(&q, 4), 0);
	push_pop_in_order(&q, tasks, 16); /* exactly full, no overflow */
	mt__inject_destroy(&q);
	free(tasks);
}

Test(inject, maybe_nonempty_follows_pushes_and_pops_in_the_ring)
{
	struct mt_inject q;
	struct mt_task *tasks = new_tasks(2);
	cr_assert_eq(mt__inject_init(&q, 3), 0);
	mt__inject_push_mp(&q, &tasks[0]);
	cr_assert(mt__inject_maybe_nonempty(&q));
	mt__inject_push_mp(&q, &tasks[1]);
	cr_assert_eq(mt__inject_pop_mc(&q), &tasks[0]);
	cr_assert(mt__inject_maybe_nonempty(&q));
	cr_assert_eq(mt__inject_pop_mc(&q), &tasks[1]);
	cr_assert_not(mt__inject_maybe_nonempty(&q));
	mt__inject_destroy(&q);
	free(tasks);
}

Test(inject, ring_cells_are_reused_lap_after_lap_without_overflow)
{
	struct mt_inject q;
	struct mt_task *tasks = new_tasks(4);
	cr_assert_eq(mt__inject_init(&q, 1), 0);
	/* 1,000 laps of a 2-cell ring, alternately half and completely full. */
	for (int lap = 0; lap < 1000; lap++)
		push_pop_in_order(&q, tasks, 1 + lap % 2);
	mt__inject_destroy(&q);
	free(tasks);
}

/* ---- overflow --------------------------------------------------------- */

Test(inject, pushes_beyond_a_full_ring_go_to_overflow_and_come_back_once)
{
	enum {
		N = 10
	};
	struct mt_inject q;
	struct mt_task *tasks = new_tasks(N);
	int seen[N] = {0};
	cr_assert_eq(mt__inject_init(&q, 1), 0); /* 2 cells */
	for (size_t i = 0; i < N; i++)
		mt__inject_push_mp(&q, &tasks[i]);
	cr_assert_eq(overflow_len(&q), N - 2);
	/* No FIFO promise across ring and overflow, but each part is FIFO:
	 * the ring holds 0, 1 and the list 2 .. N-1 in push order. */
	size_t last_overflowed = 1;
	for (size_t k = 0; k < N; k++) {
		struct mt_task *t = mt__inject_pop_mc(&q);
		cr_assert_not_null(t, "pop %zu of %d", k, N);
		size_t i = (size_t)(t - tasks);
		cr_assert_lt(i, N);
		seen[i]++;
		if (i >= 2) {
			cr_assert_gt(i, last_overflowed, "overflow not FIFO");
			last_overflowed = i;
		}
	}
	for (size_t i = 0; i < N; i++)
		cr_assert_eq(seen[i], 1, "item %zu seen %d times", i, seen[i]);
	cr_assert_null(mt__inject_pop_mc(&q));
	cr_assert_eq(overflow_len(&q), 0);
	mt__inject_destroy(&q);
	free(tasks);
}

Test(inject, maybe_nonempty_sees_a_task_left_only_in_overflow)
{
	struct mt_inject q;
	struct mt_task *tasks = new_tasks(5);
	cr_assert_eq(mt__inject_init(&q, 2), 0); /* 4 cells */
	for (size_t i = 0; i < 5; i++)
		mt__inject_push_mp(&q, &tasks[i]);
	cr_assert_eq(overflow_len(&q), 1);
	for (size_t i = 0; i < 4; i++)
		cr_assert_eq(mt__inject_pop_mc(&q), &tasks[i]);
	/* The ring is empty (head == tail); only the list holds a task. */
	cr_assert_eq(atomic_load(&q.head), atomic_load(&q.tail));
	cr_assert(mt__inject_maybe_nonempty(&q));
	cr_assert_eq(mt__inject_pop_mc(&q), &tasks[4]);
	cr_assert_not(mt__inject_maybe_nonempty(&q));
	cr_assert_null(mt__inject_pop_mc(&q));
	mt__inject_destroy(&q);
	free(tasks);
}

Test(inject, a_pop_from_a_full_ring_makes_room_for_the_next_push)
{
	struct mt_inject q;
	struct mt_task *tasks = new_tasks(5);
	cr_assert_eq(mt__inject_init(&q, 2), 0);
	for (size_t i = 0; i < 4; i++)
		mt__inject_push_mp(&q, &tasks[i]);
	cr_assert_eq(mt__inject_pop_mc(&q), &tasks[0]);
	mt__inject_push_mp(&q, &tasks[4]);
	cr_assert_eq(overflow_len(&q), 0, "push went to overflow");
	for (size_t i = 1; i < 5; i++)
		cr_assert_eq(mt__inject_pop_mc(&q), &tasks[i]);
	mt__inject_destroy(&q);
	free(tasks);
}

/* ---- edge states: position wrap-around ----------------------------------
 * Positions are size_t and wrap modulo 2^64; the ring compares a cell's
 * seq with a position as a signed difference. Two boundaries matter: the
 * size_t wrap (SIZE_MAX -> 0) and the sign boundary of intptr_t
 * (INTPTR_MAX -> INTPTR_MIN as signed values), where a difference taken
 * in intptr_t overflows unless it is taken in size_t first. Under the
 * ASan+UBSan build, a signed overflow there fails the test. */

static const size_t wrap_starts[] = {
	SIZE_MAX - 5,		/* crosses SIZE_MAX -> 0 */
	(size_t)INTPTR_MAX - 5, /* crosses the intptr_t sign boundary */
	(size_t)INTPTR_MAX,	/* starts right on it */
	SIZE_MAX,
};
#define NSTARTS (sizeof(wrap_starts) / sizeof(wrap_starts[0]))

/* First positions past each boundary. */
static const size_t boundaries[] = {0, (size_t)INTPTR_MAX + 1};

Test(inject, fifo_order_holds_across_position_wrap_around)
{
	struct mt_inject q;
	struct mt_task *tasks = new_tasks(8);
	for (size_t s = 0; s < NSTARTS; s++) {
		init_at_ok(&q, 3, wrap_starts[s]);
		cr_assert_null(mt__inject_pop_mc(&q));
		for (int lap = 0; lap < 4; lap++)
			push_pop_in_order(&q, tasks, 3 + lap % 6);
		push_pop_in_order(&q, tasks, 8);
		mt__inject_destroy(&q);
	}
	free(tasks);
}

Test(inject, a_full_ring_across_the_wrap_sends_pushes_to_overflow)
{
	struct mt_inject q;
	struct mt_task *tasks = new_tasks(7);
	for (size_t s = 0; s < 2; s++) {
		/* 4 cells starting 2 below the boundary: the ring fills across
		 * it, so the "full" test compares positions on both sides. */
		init_at_ok(&q, 2, boundaries[s] - 2);
		for (size_t i = 0; i < 7; i++)
			mt__inject_push_mp(&q, &tasks[i]);
		cr_assert_eq(overflow_len(&q), 3, "boundary %zx",
			     boundaries[s]);
		for (size_t i = 0; i < 7; i++)
			cr_assert_eq(mt__inject_pop_mc(&q), &tasks[i]);
		cr_assert_null(mt__inject_pop_mc(&q));
		cr_assert_not(mt__inject_maybe_nonempty(&q));
		mt__inject_destroy(&q);
	}
	free(tasks);
}

Test(inject, init_at_without_memory_is_ENOMEM_and_a_retry_works)
{
	struct mt_inject q;
	mt__fault_fail_allocs_after(0);
	int err = mt__inject_init_at(&q, 4, SIZE_MAX);
	mt__fault_fail_allocs_after(-1);
	cr_assert_eq(err, ENOMEM);
	cr_assert_eq(mt__inject_init_at(&q, 4, SIZE_MAX), 0);
	mt__inject_destroy(&q);
}

/* ---- many producers, many consumers ------------------------------------ */

struct mpmc {
	struct mt_inject q;
	struct mt_task *tasks;
	atomic_uchar *seen; /* seen[i]: times tasks[i] was popped */
	size_t n;	    /* items in all */
	unsigned producers;
	_Atomic size_t taken;	    /* items popped so far */
	_Atomic unsigned prefilled; /* producers done with their first burst */
	_Atomic int bad;	    /* a popped task's contents were wrong */
	pthread_barrier_t pstart;   /* producers and main */
	pthread_barrier_t cstart;   /* consumers and main */
};

struct mpmc_arg {
	struct mpmc *m;
	unsigned id;
};

/* Items each producer pushes before consumers may start: far more than
 * the ring holds, so the overflow list is used in every run. */
#define PREFILL 64u

static void *producer(void *p)
{
	struct mpmc_arg *a = p;
	struct mpmc *m = a->m;
	pthread_barrier_wait(&m->pstart);
	size_t k = 0;
	for (size_t i = a->id; i < m->n; i += m->producers, k++) {
		/* Plain writes, published by the push (TSan checks it). */
		m->tasks[i].arg = &m->tasks[i];
		m->tasks[i].kind = (uint8_t)(i & 0x7f);
		mt__inject_push_mp(&m->q, &m->tasks[i]);
		if (k + 1 == PREFILL)
			/* release: pairs with the acquire in run_mpmc. */
			atomic_fetch_add_explicit(&m->prefilled, 1,
						  memory_order_release);
	}
	if (k < PREFILL)
		atomic_fetch_add_explicit(&m->prefilled, 1,
					  memory_order_release);
	return NULL;
}

static void *consumer(void *p)
{
	struct mpmc *m = ((struct mpmc_arg *)p)->m;
	pthread_barrier_wait(&m->cstart);
	/* relaxed: the loop only needs to stop eventually. */
	while (atomic_load_explicit(&m->taken, memory_order_relaxed) < m->n) {
		struct mt_task *t = mt__inject_pop_mc(&m->q);
		if (t == NULL) {
			sched_yield();
			continue;
		}
		size_t i = (size_t)(t - m->tasks);
		if (i >= m->n || t->arg != t || t->kind != (uint8_t)(i & 0x7f))
			atomic_store_explicit(&m->bad, 1, memory_order_relaxed);
		else
			atomic_fetch_add_explicit(&m->seen[i], 1,
						  memory_order_relaxed);
		atomic_fetch_add_explicit(&m->taken, 1, memory_order_relaxed);
	}
	return NULL;
}

/* nprod producers and ncons consumers move n items through a 2^log2-cell
 * ring whose positions start at `start`. Consumers start only once every
 * producer has pushed PREFILL items, so the overflow list is exercised. */
static void run_mpmc(unsigned nprod, unsigned ncons, unsigned log2,
		     size_t start, size_t n)
{
	static struct mpmc m; /* large; one run at a time */
	pthread_t th[32];
	struct mpmc_arg args[32];
	cr_assert_leq(nprod + ncons, 32);
	init_at_ok(&m.q, log2, start);
	m.tasks = new_tasks(n);
	m.seen = calloc(n, sizeof(m.seen[0]));
	cr_assert_not_null(m.seen);
	m.n = n;
	m.producers = nprod;
	atomic_init(&m.taken, 0);
	atomic_init(&m.prefilled, 0);
	atomic_init(&m.bad, 0);
	cr_assert_eq(pthread_barrier_init(&m.pstart, NULL, nprod + 1), 0);
	cr_assert_eq(pthread_barrier_init(&m.cstart, NULL, ncons + 1), 0);
	for (unsigned i = 0; i < nprod; i++) {
		args[i] = (struct mpmc_arg){&m, i};
		cr_assert_eq(pthread_create(&th[i], NULL, producer, &args[i]),
			     0);
	}
	pthread_barrier_wait(&m.pstart);
	/* acquire: pairs with the producers' release of prefilled. */
	while (atomic_load_explicit(&m.prefilled, memory_order_acquire) < nprod)
		sched_yield();
	cr_assert_gt(overflow_len(&m.q), 0, "overflow list never used");
	for (unsigned i = 0; i < ncons; i++) {
		args[nprod + i] = (struct mpmc_arg){&m, nprod + i};
		cr_assert_eq(pthread_create(&th[nprod + i], NULL, consumer,
					    &args[nprod + i]),
			     0);
	}
	pthread_barrier_wait(&m.cstart);
	for (unsigned i = 0; i < nprod + ncons; i++)
		cr_assert_eq(pthread_join(th[i], NULL), 0);
	pthread_barrier_destroy(&m.pstart);
	pthread_barrier_destroy(&m.cstart);

	cr_assert_not(atomic_load(&m.bad), "a popped task had wrong contents");
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(atomic_load_explicit(&m.seen[i],
						  memory_order_relaxed),
			     1, "item %zu popped %u times", i,
			     (unsigned)atomic_load(&m.seen[i]));
	cr_assert_null(mt__inject_pop_mc(&m.q));
	cr_assert_not(mt__inject_maybe_nonempty(&m.q));
	mt__inject_destroy(&m.q);
	free(m.seen);
	free(m.tasks);
}

Test(inject_mpmc, four_producers_four_consumers_take_every_item_once,
     .timeout = 60)
{
	run_mpmc(4, 4, 4, 0, STRESS_N);
}

Test(inject_mpmc, eight_producers_eight_consumers_take_every_item_once,
     .timeout = 60)
{
	run_mpmc(8, 8, 4, 0, STRESS_N);
}

Test(inject_mpmc, every_item_once_while_positions_wrap_past_size_max,
     .timeout = 60)
{
	run_mpmc(4, 4, 4, SIZE_MAX - STRESS_N / 2, STRESS_N);
}

Test(inject_mpmc, every_item_once_while_positions_cross_intptr_max,
     .timeout = 60)
{
	run_mpmc(8, 8, 4, (size_t)INTPTR_MAX - STRESS_N / 2, STRESS_N);
}
