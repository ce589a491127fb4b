/*
 * pool/worker.c: the worker loop, task execution, and helping waits.
 *
 * Overview
 * ========
 * A worker looks for a task in this order: its own deque (LIFO, no atomic
 * RMW on the fast path), the injection queue, then the deques of the other
 * workers starting at a random victim (FIFO steal). Finding nothing, it
 * spins for a bounded number of backoff rounds, then parks (park.c).
 *
 * A thread that waits for a fork-join latch (mt_map, mt_for, mt_group_wait)
 * on a worker keeps running tasks while it waits: first its own deque (the
 * newest task, so a chain of nested waits grows the stack by one frame
 * group per level and no more), then, while it is not nested deeper than
 * MT_HELP_STEAL_MAX_DEPTH helping waits, the injection queue and other
 * deques. Past that depth it only drains its own deque: stealing an
 * unrelated task there could grow the stack without bound. This cannot
 * deadlock: every task the latch waits for is in the waiter's own deque
 * (it runs them), or already taken by a running worker (which finishes it
 * by the same argument, one level down), or in the injection queue, which
 * non-waiting workers drain.
 *
 * A helping wait that finds nothing for MT_LATCH_SPIN_ROUNDS rounds sleeps
 * (mt__park with its latch): within the depth bound as a sleeper that new
 * work may wake, so a submission never waits for a long task while a
 * worker that could run it idles in a wait; past the bound only its latch
 * wakes it, as it could not take the work anyway. Either way the latch's
 * last finisher wakes it (park.h, mt__wake_latch_waiter).
 *
 * Tunables (checked with bench/mtbench):
 *   MT_SPIN_ROUNDS 64 search rounds before parking, each separated by
 *   pause_round(): a backoff growing from 16 to 512 barrier iterations,
 *   then sched_yield(). That is roughly 50-100 us of searching: long enough
 *   that back-to-back 64-item maps and fib never park between calls, short
 *   enough that an idle pool's CPU stays under the noise floor of the idle
 *   row (0.06 ms/s). The yield was worth, in one back-to-back run of
 *   `build/release/mtbench` on the 2-CPU machine, 58 -> 43 ns per detached
 *   task and 0.69 -> 0.29 us per 64-item map: without it a worker woken
 *   onto the submitter's CPU spins there while the submitter waits.
 *   MT_HELP_STEAL_MAX_DEPTH 128: a helping level costs about 160 bytes of
 *   stack through a group and about 1,000 through a map (gcc -O2
 *   -fstack-usage, docs/design.md), so 128 stolen levels stay near 130 KiB
 *   at worst.
 *   MT_INJECT_POLL_EVERY 61: every 61st look for a task tries the injection
 *   queue before the worker's own deque, so an outside submission starts
 *   within about 61 local tasks per worker even when local work never runs
 *   out (two self-respawning tasks on two workers once kept an outside
 *   spawn waiting for 6.2M local tasks). Go's scheduler (schedtick % 61)
 *   and tokio (global_queue_interval 61) use the same value, a prime, so
 *   that the poll does not fall into step with a periodic pattern of the
 *   local work. An empty poll is two loads on the ring (inject.c); the
 *   cost in docs/benchmarks.md ("core hardening") is below the noise.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "worker.h"

#include <ck_backoff.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "batch.h"
#include "park.h"
#include "pending.h"

#define MT_SPIN_ROUNDS 64u
#define MT_SPIN_BACKOFF_START 16u
#define MT_SPIN_BACKOFF_CAP 512u
#define MT_LATCH_SPIN_ROUNDS 128u
#define MT_STEAL_RETRIES 4u
#define MT_HELP_STEAL_MAX_DEPTH 128u
#define MT_INJECT_POLL_EVERY 61u

MT_THREAD_LOCAL struct mt_worker *mt__tls_worker;

/* Adds one to an owner-written statistic: a plain load and store, no RMW
 * (STYLE 24: the readers in mt_pool_stats only need some recent value). */
static inline void stat_inc(_Atomic uint64_t *c)
{
	atomic_store_explicit(c,
			      atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* The owner's side of pending.h's publication rule: publish finished
 * detached tasks before anything that may keep this worker away from
 * finishing tasks for long. */
static inline void publish(struct mt_worker *w)
{
	if (mt__pending_unpublished(&w->pending))
		mt__pending_publish_now(w);
}

static uint64_t next_random(struct mt_worker *w)
{
	/* xorshift64: victim choice needs spread, not quality. */
	uint64_t x = w->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	w->rng = x;
	return x;
}

static struct mt_task *steal_one(struct mt_worker *victim)
{
	void *item = NULL;
	for (unsigned tries = 0; tries < MT_STEAL_RETRIES; tries++) {
		enum mt_steal_result r = mt__deque_steal(&victim->deque, &item);
		if (r == MT_STEAL_OK)
			return item;
		if (r == MT_STEAL_EMPTY)
			return NULL;
	}
	return NULL;
}

static struct mt_task *steal_from_others(struct mt_worker *w)
{
	struct mt_pool *pool = w->pool;
	unsigned n = pool->nworkers;
	if (n < 2)
		return NULL;
	unsigned start = (unsigned)(next_random(w) % n);
	for (unsigned i = 0; i < n; i++) {
		unsigned v = (start + i) % n;
		if (v == w->index)
			continue;
		struct mt_task *t = steal_one(&pool->workers[v]);
		if (t != NULL) {
			stat_inc(&w->n_steals);
			return t;
		}
	}
	return NULL;
}

static struct mt_task *take_injected(struct mt_worker *w)
{
	struct mt_task *t = mt__inject_pop_mc(&w->pool->inject);
	if (t != NULL)
		stat_inc(&w->n_injected_taken);
	return t;
}

/* The injection queue, then the other workers. */
static struct mt_task *find_shared_task(struct mt_worker *w)
{
	struct mt_task *t = take_injected(w);
	return t != NULL ? t : steal_from_others(w);
}

/* Every MT_INJECT_POLL_EVERY-th look for a task starts at the injection
 * queue: a worker whose own deque never runs dry would otherwise leave
 * outside submissions waiting for as long as its local work lasts. */
static struct mt_task *poll_injected(struct mt_worker *w)
{
	if (--w->poll_countdown != 0)
		return NULL;
	w->poll_countdown = MT_INJECT_POLL_EVERY;
	return take_injected(w);
}

static struct mt_task *find_task(struct mt_worker *w)
{
	struct mt_task *t = poll_injected(w);
	if (t == NULL)
		t = mt__deque_take_owner(&w->deque);
	return t != NULL ? t : find_shared_task(w);
}

static void run_detached(struct mt_pool *pool, struct mt_worker *w,
			 struct mt_task *t)
{
	/* relaxed: a task that starts just before a concurrent MT_DISCARD
	 * may still run; the state only decides between run and drop. */
	if (mt__pending_state_relaxed(&pool->pending) == MT_POOL_DISCARDING) {
		stat_inc(&w->n_discarded);
	} else {
		stat_inc(&w->n_run);
		t->fn(t->arg);
	}
	mt__free(t->heap_copy);
	mt__task_free(t);
	if (mt__pending_count_finished(&w->pending))
		mt__pending_publish_now(w);
}

static void run_group(struct mt_pool *pool, struct mt_task *t)
{
	struct mt_latch *latch = t->u.latch;
	uintptr_t key = (uintptr_t)latch; /* the waiter's key, see park.h */
	t->fn(t->arg);
	mt__task_free(t);
	if (mt__latch_count_down(latch)) /* last access to the group */
		mt__wake_latch_waiter(pool, key);
}

void mt__run_task(struct mt_pool *pool, struct mt_worker *w, struct mt_task *t)
{
	switch (t->kind) {
	case MT_TASK_DETACHED:
		run_detached(pool, w, t);
		break;
	case MT_TASK_GROUP:
		/* Group and join tasks may run for long, or block: publish
		 * the finished detached tasks first (pending.h). */
		publish(w);
		stat_inc(&w->n_run);
		run_group(pool, t);
		break;
	default:
		publish(w);
		if (mt__batch_join(pool, t))
			stat_inc(&w->n_run);
		break;
	}
}

void mt__submit(struct mt_pool *pool, struct mt_task *t)
{
	struct mt_worker *w = mt__worker_of(pool);
	if (w == NULL) {
		mt__inject_push_mp(&pool->inject, t);
		mt__wake_after_inject(pool);
		return;
	}
	if (mt__deque_push_owner(&w->deque, t) != 0) {
		/* The deque is full and cannot grow: run it here rather than
		 * fail a submission that was already accepted. */
		stat_inc(&w->n_inline);
		mt__run_task(pool, w, t);
		return;
	}
	mt__wake_after_push(pool);
}

/* ---- fork() inside a task ---- */

void mt__worker_forget_after_fork(void)
{
	mt__tls_worker = NULL;
}

/* Fork (STYLE 30; pool.c's handler is the other half). A task may call
 * fork(): the child's only thread is the one that ran the task, and when
 * the task returns there it is back in this file's loops, on a copy of
 * the parent's queues whose workers do not exist in the child. Going on
 * would run tasks inherited from the parent (their side effects twice)
 * and then park for ever. So the first thing a worker does after any task
 * returns is to ask whether it is still in the process that created its
 * pool (a relaxed load of a global that only the fork child handler
 * changes, in the child's only thread); in a child it ends the process
 * with exit(0), as returning from the thread would (the child's last
 * thread): atexit handlers run and stdio buffers are flushed, nothing of
 * the pool is touched and on_worker_stop is not called. A child that
 * wants another status, or to skip the handlers, calls _exit or exec
 * itself before its task returns. */
static void leave_if_fork_child(struct mt_pool *pool)
{
	if (pool->fork_gen !=
	    atomic_load_explicit(&mt__fork_generation, memory_order_relaxed))
		exit(0);
}

/* Runs t on the worker's own thread from one of its loops. */
static void run_from_loop(struct mt_pool *pool, struct mt_worker *w,
			  struct mt_task *t)
{
	mt__run_task(pool, w, t);
	leave_if_fork_child(pool);
}

/* ---- searching and the worker loop ---- */

static void start_searching(struct mt_pool *pool)
{
	atomic_fetch_add_explicit(&pool->n_searching, 1, memory_order_seq_cst);
}

/* Leaves the searching state because work was found. If that leaves
 * nobody searching while workers sleep and more work is visible, wakes
 * one to take it (see park.c for why the fence is needed: a submitter that
 * saw us searching skipped its own wake-up, and after the fence we are
 * guaranteed to see its task). With no further work there is nobody to
 * wake for, and not waking keeps a futex syscall off the path between a
 * lone task's submission and its start (the wake-latency bench). */
static void stop_searching_found(struct mt_pool *pool)
{
	uint32_t old = atomic_fetch_sub_explicit(&pool->n_searching, 1,
						 memory_order_seq_cst);
	if (old != 1)
		return;
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&pool->n_sleeping, memory_order_relaxed) > 0 &&
	    mt__pool_has_visible_work(pool))
		mt__wake_one(pool);
}

/* One pause between search rounds: one pause instruction (ck_pr_stall),
 * a bounded exponential backoff (ck_backoff_eb's loop of compiler
 * barriers, doubling from 16 to our cap of 512), then a sched_yield().
 * The yield matters on a loaded or small machine:
 * Linux often wakes a parked worker on the CPU of the thread that woke it,
 * and a worker spinning there would keep that thread (the submitter, or a
 * map caller) off its CPU for the whole spin. */
static void pause_round(unsigned *backoff)
{
	ck_pr_stall();
	ck_backoff_eb(backoff);
	if (*backoff > MT_SPIN_BACKOFF_CAP)
		*backoff = MT_SPIN_BACKOFF_CAP;
	sched_yield();
}

static struct mt_task *spin_for_task(struct mt_worker *w)
{
	unsigned backoff = MT_SPIN_BACKOFF_START;
	for (unsigned round = 0; round < MT_SPIN_ROUNDS; round++) {
		pause_round(&backoff);
		struct mt_task *t = find_task(w);
		if (t != NULL)
			return t;
	}
	return NULL;
}

/* "<prefix>-<index>", within the kernel's 15 bytes: the prefix is cut
 * rather than the index, which is what tells threads apart. */
static void name_thread(struct mt_worker *w)
{
	char suffix[16], name[16];
	int slen = snprintf(suffix, sizeof(suffix), "-%u", w->index);
	size_t room = sizeof(name) - 1 - (size_t)slen;
	size_t plen = strnlen(w->pool->name_prefix, room);
	memcpy(name, w->pool->name_prefix, plen);
	memcpy(name + plen, suffix, (size_t)slen + 1);
	pthread_setname_np(pthread_self(), name); /* cosmetic: ignore errors */
}

/* One search: found -> run it; else spin; else exit or park.
 * Returns 0 when the worker should exit. *searching tracks whether this
 * worker is counted in n_searching. */
static int worker_step(struct mt_worker *w, int *searching)
{
	struct mt_pool *pool = w->pool;
	struct mt_task *t = find_task(w);
	if (t == NULL) {
		publish(w);
		if (!*searching) {
			start_searching(pool);
			*searching = 1;
		}
		t = spin_for_task(w);
	}
	if (t != NULL) {
		if (*searching)
			stop_searching_found(pool);
		*searching = 0;
		run_from_loop(pool, w, t);
		return 1;
	}
	if (mt__pending_may_exit(&pool->pending))
		return 0;
	*searching = mt__park(w, NULL, MT_PARK_SEARCHING | MT_PARK_FOR_WORK);
	return 1;
}

void *mt__worker_main(void *arg)
{
	struct mt_worker *w = arg;
	struct mt_pool *pool = w->pool;
	mt__tls_worker = w;
	name_thread(w);
	if (pool->on_start != NULL)
		pool->on_start(w->index, pool->userdata);
	mt__latch_count_down(&pool->started);
	int searching = 0;
	while (worker_step(w, &searching))
		;
	if (searching)
		atomic_fetch_sub_explicit(&pool->n_searching, 1,
					  memory_order_seq_cst);
	/* From here on this worker takes no task from its loop: a detached
	 * task it accepted now (from on_worker_stop) would never run. */
	w->stopped = 1;
	if (pool->on_stop != NULL)
		pool->on_stop(w->index, pool->userdata);
	mt__task_cache_flush();
	mt__tls_worker = NULL;
	return NULL;
}

/* ---- helping waits ---- */

static inline struct mt_task *find_help_task(struct mt_worker *w)
{
	int may_steal = w->help_depth <= MT_HELP_STEAL_MAX_DEPTH;
	struct mt_task *t = may_steal ? poll_injected(w) : NULL;
	if (t == NULL)
		t = mt__deque_take_owner(&w->deque);
	if (t == NULL && may_steal)
		t = find_shared_task(w);
	return t;
}

/* How a helping wait that found nothing for MT_LATCH_SPIN_ROUNDS rounds
 * sleeps: counted as a sleeper that new work may wake (it would help with
 * it), unless it is nested too deep to take unrelated tasks, in which
 * case only its latch wakes it. */
static int park_in_wait(struct mt_worker *w, struct mt_latch *latch,
			int searching)
{
	unsigned flags = searching ? MT_PARK_SEARCHING : 0;
	if (w->help_depth <= MT_HELP_STEAL_MAX_DEPTH)
		flags |= MT_PARK_FOR_WORK;
	return mt__park(w, latch, flags);
}

/* The slow part of a helping wait, when there is nothing to help with:
 * spin rounds, then park. Returns once it has run one task (found while
 * spinning, or after a wake-up for work) or once the latch is open, not
 * counted as searching either way. Kept out of line so that the common
 * wait (take the newest own task, run it, the latch opens) carries none
 * of this state: fib's instruction count per spawn showed it. */
static MT_COLD void help_idle(struct mt_worker *w, struct mt_latch *latch)
{
	struct mt_pool *pool = w->pool;
	unsigned idle = 0, backoff = MT_SPIN_BACKOFF_START;
	int searching = 0; /* counted in n_searching (woken for work) */
	publish(w);
	while (!mt__latch_is_open(latch)) {
		struct mt_task *t = find_help_task(w);
		if (t != NULL) {
			if (searching)
				stop_searching_found(pool);
			run_from_loop(pool, w, t);
			return;
		}
		if (++idle < MT_LATCH_SPIN_ROUNDS) {
			pause_round(&backoff);
			continue;
		}
		searching = park_in_wait(w, latch, searching);
		idle = 0;
		backoff = MT_SPIN_BACKOFF_START;
	}
	/* Woken for work that others have taken meanwhile: pass the baton
	 * as any searcher that stops searching does (park.c). */
	if (searching)
		stop_searching_found(pool);
}

static void help_until_open(struct mt_worker *w, struct mt_latch *latch)
{
	struct mt_pool *pool = w->pool;
	w->help_depth++;
	while (!mt__latch_is_open(latch)) {
		struct mt_task *t = find_help_task(w);
		if (t != NULL)
			run_from_loop(pool, w, t);
		else
			help_idle(w, latch);
	}
	/* The detached tasks run while helping must not stay unpublished:
	 * the task around this wait may now block for as long as it likes
	 * (on the very thread that waits in mt_quiesce for them). */
	publish(w);
	w->help_depth--;
}

static void spin_then_block(struct mt_latch *latch)
{
	unsigned backoff = MT_SPIN_BACKOFF_START;
	for (unsigned i = 0; i < MT_LATCH_SPIN_ROUNDS; i++) {
		if (mt__latch_is_open(latch))
			return;
		ck_backoff_eb(&backoff);
		if (backoff > MT_SPIN_BACKOFF_CAP)
			backoff = MT_SPIN_BACKOFF_CAP;
	}
	mt__latch_block(latch);
}

void mt__wait_latch(struct mt_pool *pool, struct mt_latch *latch)
{
	struct mt_worker *w = mt__worker_of(pool);
	if (w != NULL)
		help_until_open(w, latch);
	else
		spin_then_block(latch);
}
