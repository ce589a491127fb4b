/*
 * pool/worker.c: the worker loop, task execution, submission to a worker's
 * own deque (and sharing with idle workers), and helping waits.
 *
 * Overview
 * ========
 * A worker looks for a task in this order: its own deque (LIFO; a private
 * frame costs no atomic RMW and no fence, deque.h), the injection queue,
 * then the shared parts of the other workers' deques starting at a random
 * victim (FIFO steal). Finding nothing, it spins for a bounded number of
 * backoff rounds, then parks (park.c), taking a private frame of another
 * worker on the way if one is left (the private steal).
 *
 * What a worker pushes: a library task (detached, join) is shared at once
 * (mt__submit); a group frame stays private unless other workers are idle,
 * in which case the older half of the private frames is shared and a
 * sleeper woken (mt__push_frame, mt_lane_share; the inline spawn of
 * mtpool.h does the same in the caller's binary).
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
 *   row (0.06 ms/s). The rounds adapt (adapt_search): a search that finds
 *   work, or a park that a wake ends within MT_SPIN_PAYOFF_NS (200 us,
 *   about what the full search spends, twice), restores 64; each park
 *   that lasts longer halves them, down to MT_SPIN_ROUNDS_MIN (4). A pool
 *   whose work comes in bursts far apart stops spinning for nothing: its
 *   idle CPU after a burst falls, and, on this VM's scheduler (EEVDF), a
 *   worker that has not just burnt its share wakes sooner
 *   (docs/benchmarks.md, issue 10: futex_floor's sleeper that spins 100 us
 *   after each wake wakes 2.6x slower than one that sleeps at once). The
 *   yield was worth, in one back-to-back run of
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
#include "group.h"
#include "park.h"
#include "pending.h"

#define MT_SPIN_BACKOFF_START 16u
#define MT_SPIN_BACKOFF_CAP 512u
#define MT_LATCH_SPIN_ROUNDS 128u
#define MT_STEAL_RETRIES 4u
#define MT_HELP_STEAL_MAX_DEPTH 128u
#define MT_INJECT_POLL_EVERY 61u

MT_THREAD_LOCAL struct mt_worker *mt__tls_worker;
/* The same worker's lane, for the inline fast paths of mtpool.h (hence
 * exported). Both are set together and cleared together. */
MT_API MT_THREAD_LOCAL struct mt_lane *mt_fast_lane;

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

/* A library task as a deque item. */
static struct mt_item task_item(struct mt_task *t)
{
	struct mt_item it = {NULL, t, NULL};
	return it;
}

static bool steal_one(struct mt_worker *victim, struct mt_item *out)
{
	for (unsigned tries = 0; tries < MT_STEAL_RETRIES; tries++) {
		enum mt_steal_result r = mt__deque_steal(&victim->deque, out);
		if (r == MT_STEAL_OK)
			return true;
		if (r == MT_STEAL_EMPTY)
			return false;
	}
	return false;
}

/* Out of line: the loops' common cases (own deque, injection queue) stay
 * small enough to inline. */
static MT_NOINLINE bool steal_from_others(struct mt_worker *w,
					  struct mt_item *out)
{
	struct mt_pool *pool = w->pool;
	unsigned n = pool->nworkers;
	if (n < 2)
		return false;
	unsigned start = (unsigned)(next_random(w) % n);
	for (unsigned i = 0; i < n; i++) {
		unsigned v = (start + i) % n;
		if (v == w->index)
			continue;
		if (steal_one(&pool->workers[v], out)) {
			stat_inc(&w->n_steals);
			return true;
		}
	}
	return false;
}

static inline bool take_injected(struct mt_worker *w, struct mt_item *out)
{
	struct mt_task *t = mt__inject_pop_mc(&w->pool->inject);
	if (t == NULL)
		return false;
	stat_inc(&w->n_injected_taken);
	*out = task_item(t);
	return true;
}

/* The injection queue, then the other workers. */
static inline bool find_shared_task(struct mt_worker *w, struct mt_item *out)
{
	return take_injected(w, out) || steal_from_others(w, out);
}

/* Every MT_INJECT_POLL_EVERY-th look for a task starts at the injection
 * queue: a worker whose own deque never runs dry would otherwise leave
 * outside submissions waiting for as long as its local work lasts. */
static inline bool poll_injected(struct mt_worker *w, struct mt_item *out)
{
	if (--w->poll_countdown != 0)
		return false;
	w->poll_countdown = MT_INJECT_POLL_EVERY;
	return take_injected(w, out);
}

static inline bool find_task(struct mt_worker *w, struct mt_item *out)
{
	return poll_injected(w, out) || mt__deque_take_owner(&w->deque, out) ||
	       find_shared_task(w, out);
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

/* A group task that came from outside the pool (a library task). */
static void run_group_task(struct mt_pool *pool, struct mt_task *t)
{
	mt_group *g = t->u.group;
	uintptr_t key = (uintptr_t)mt__group_latch(g); /* see park.h */
	t->fn(t->arg);
	mt__task_free(t);
	if (mt__group_count_down(g)) /* last access to the group */
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
		run_group_task(pool, t);
		break;
	default:
		publish(w);
		if (mt__batch_join(pool, t))
			stat_inc(&w->n_run);
		break;
	}
}

/* A group frame run anywhere but in its owner's wait (group.h): the task,
 * then its count-down, the last access to the group. */
static void run_group_frame(struct mt_pool *pool, struct mt_worker *w,
			    const struct mt_item *it)
{
	mt_group *g = it->group;
	uintptr_t key = (uintptr_t)mt__group_latch(g); /* see park.h */
	publish(w); /* as for any task that may block (pending.h) */
	stat_inc(&w->n_run);
	it->fn(it->arg);
	if (mt__group_count_down(g))
		mt__wake_latch_waiter(pool, key);
}

static inline void run_item(struct mt_pool *pool, struct mt_worker *w,
			    const struct mt_item *it)
{
	if (it->group == NULL)
		mt__run_task(pool, w, it->arg);
	else
		run_group_frame(pool, w, it);
}

void mt__run_item(struct mt_pool *pool, struct mt_worker *w,
		  const struct mt_item *it)
{
	run_item(pool, w, it);
}

void mt__submit(struct mt_pool *pool, struct mt_task *t)
{
	struct mt_worker *w = mt__worker_of(pool);
	if (w == NULL) {
		mt__inject_push_mp(&pool->inject, t);
		mt__wake_after_inject(pool);
		return;
	}
	struct mt_item it = task_item(t);
	if (mt__deque_push_owner(&w->deque, &it) != 0) {
		/* The deque is full and cannot grow: run it here rather than
		 * fail a submission that was already accepted. */
		stat_inc(&w->n_inline);
		mt__run_task(pool, w, t);
		return;
	}
	/* Library tasks are stealable at once (detached tasks may be waited
	 * for by a task that then blocks; join tasks are for others). */
	mt__deque_share_owner(&w->deque, MT_SHARE_ALL);
	mt__wake_after_push(pool);
}

/* The worker whose lane is `lane` (its deque's first member). */
static struct mt_worker *worker_of_lane(struct mt_lane *lane)
{
	return (struct mt_worker *)(void *)((char *)lane -
					    offsetof(struct mt_worker, deque) -
					    offsetof(struct mt_deque, lane));
}

/* Shares with idle workers. With sleepers, always (and wakes one, with the
 * local push's asymmetric pair: park.c); with searchers only, unless
 * shared frames already wait for them. */
void mt_lane_share(struct mt_lane *lane)
{
	struct mt_worker *w = worker_of_lane(lane);
	struct mt_pool *pool = w->pool;
	/* relaxed: hints; the wake below re-reads sleeping in order. */
	if (mt__idle_sleeping(atomic_load_explicit(
		    &pool->idle.word, memory_order_relaxed)) == 0 &&
	    mt__deque_size_seq_cst(&w->deque) > 0)
		return;
	mt__deque_share_owner(&w->deque, MT_SHARE_HALF);
	mt__wake_after_push(pool);
}

int mt__push_frame(struct mt_worker *w, const struct mt_item *it)
{
	if (mt__deque_push_owner(&w->deque, it) != 0)
		return ENOMEM;
	if (!w->deque.private_ok) { /* shared at once: the fenced wake */
		mt__wake_after_push(w->pool);
		return 0;
	}
	/* The inline spawn's sequence (mtpool.h): push, compiler barrier,
	 * then the idle counts, relaxed (park.c, "Private frames"). */
	atomic_signal_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&w->pool->idle.word, memory_order_relaxed) !=
	    0)
		mt_lane_share(&w->deque.lane);
	return 0;
}

/* ---- fork() inside a task ---- */

void mt__worker_forget_after_fork(void)
{
	mt__tls_worker = NULL;
	mt_fast_lane = NULL;
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

/* Runs it on the worker's own thread from one of its loops. */
static void run_from_loop(struct mt_pool *pool, struct mt_worker *w,
			  const struct mt_item *it)
{
	run_item(pool, w, it);
	leave_if_fork_child(pool);
}

/* ---- searching and the worker loop ---- */

static void start_searching(struct mt_pool *pool)
{
	atomic_fetch_add_explicit(&pool->idle.word, MT_IDLE_SEARCHER,
				  memory_order_seq_cst);
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
	uint64_t old = atomic_fetch_sub_explicit(
		&pool->idle.word, MT_IDLE_SEARCHER, memory_order_seq_cst);
	if (mt__idle_searching(old) != 1)
		return;
	atomic_thread_fence(memory_order_seq_cst);
	if (mt__idle_sleeping(atomic_load_explicit(&pool->idle.word,
						   memory_order_relaxed)) > 0 &&
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

static bool spin_for_task(struct mt_worker *w, struct mt_item *out)
{
	unsigned backoff = MT_SPIN_BACKOFF_START;
	/* relaxed: owner-written; atomic for readers in tests only. */
	unsigned rounds =
		atomic_load_explicit(&w->spin_rounds, memory_order_relaxed);
	for (unsigned round = 0; round < rounds; round++) {
		pause_round(&backoff);
		if (find_task(w, out)) {
			/* relaxed: as above. Searching pays: keep it long. */
			atomic_store_explicit(&w->spin_rounds, MT_SPIN_ROUNDS,
					      memory_order_relaxed);
			return true;
		}
	}
	return false;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no system call */
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* After a park of `slept` ns (tunables above): work that came back
 * within the payoff time would have been found by a full search; a
 * longer park means the search spun for nothing. */
static void adapt_search(struct mt_worker *w, uint64_t slept)
{
	/* relaxed: owner-written; atomic for readers in tests only. */
	unsigned rounds =
		atomic_load_explicit(&w->spin_rounds, memory_order_relaxed);
	if (slept < MT_SPIN_PAYOFF_NS)
		rounds = MT_SPIN_ROUNDS;
	else if (rounds / 2 >= MT_SPIN_ROUNDS_MIN)
		rounds /= 2;
	else
		rounds = MT_SPIN_ROUNDS_MIN;
	atomic_store_explicit(&w->spin_rounds, rounds, memory_order_relaxed);
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

/* Nonzero if `it` is a join task its batch's caller has cancelled (it ran
 * out of chunks first, batch.c): running it only frees it. A hint: the
 * caller may still cancel a task this reads as live, and running it is
 * then a cancelled join anyway. The task cannot be freed under us: the
 * caller frees a join task only after a worker has claimed it (task.h). */
static inline bool is_cancelled_join(const struct mt_item *it)
{
	if (it->group != NULL)
		return false;
	struct mt_task *t = it->arg;
	/* relaxed: only a hint; run_item's fetch_or makes the decision. */
	return t->kind == MT_TASK_JOIN &&
	       (atomic_load_explicit(&t->state, memory_order_relaxed) &
		MT_JOIN_OWNER) != 0;
}

/* One search: found -> run it; else spin; else exit or park.
 * Returns 0 when the worker should exit. *searching tracks whether this
 * worker is counted in n_searching. */
static int worker_step(struct mt_worker *w, int *searching)
{
	struct mt_pool *pool = w->pool;
	struct mt_item it;
	bool found = find_task(w, &it);
	if (!found) {
		publish(w);
		if (!*searching) {
			start_searching(pool);
			*searching = 1;
		}
		found = spin_for_task(w, &it);
	}
	if (found && is_cancelled_join(&it)) {
		/* Not work: freed here, and this worker stays a searcher, so
		 * a burst of maps that ends with cancelled joins in the queues
		 * passes no baton (a wake-up of a sleeper that finds nothing,
		 * about 50 us of CPU each). */
		run_from_loop(pool, w, &it);
		return 1;
	}
	if (found) {
		if (*searching)
			stop_searching_found(pool);
		*searching = 0;
		run_from_loop(pool, w, &it);
		return 1;
	}
	if (mt__pending_may_exit(&pool->pending))
		return 0;
	uint64_t parked = monotonic_ns();
	*searching = mt__park(w, NULL, MT_PARK_SEARCHING | MT_PARK_FOR_WORK);
	adapt_search(w, monotonic_ns() - parked);
	return 1;
}

void *mt__worker_main(void *arg)
{
	struct mt_worker *w = arg;
	struct mt_pool *pool = w->pool;
	mt__tls_worker = w;
	mt_fast_lane = &w->deque.lane;
	name_thread(w);
	if (pool->on_start != NULL)
		pool->on_start(w->index, pool->userdata);
	mt__latch_count_down(&pool->started);
	int searching = 0;
	while (worker_step(w, &searching))
		;
	if (searching)
		atomic_fetch_sub_explicit(&pool->idle.word, MT_IDLE_SEARCHER,
					  memory_order_seq_cst);
	/* From here on this worker takes no task from its loop: a detached
	 * task it accepted now (from on_worker_stop) would never run. */
	w->stopped = 1;
	if (pool->on_stop != NULL)
		pool->on_stop(w->index, pool->userdata);
	mt__task_cache_flush();
	mt__tls_worker = NULL;
	mt_fast_lane = NULL;
	return NULL;
}

/* ---- helping waits ---- */

static inline bool find_help_task(struct mt_worker *w, struct mt_item *out)
{
	int may_steal = w->help_depth <= MT_HELP_STEAL_MAX_DEPTH;
	return (may_steal && poll_injected(w, out)) ||
	       mt__deque_take_owner(&w->deque, out) ||
	       (may_steal && find_shared_task(w, out));
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
 * of this state: fib's instruction count per spawn showed it.
 *
 * Within the depth bound the waiter may take any work, so it counts as a
 * searcher while it spins: owners of private frames then share them with
 * it (mt_lane_share), and outside submitters rely on it as on any
 * searcher. Not counted, a waiter on a stolen fib subtree span its rounds
 * while the thief kept every frame private, then slept until the thief's
 * next spawn saw it asleep: fib(32) on two workers ran no faster than on
 * one (2-3 steals a run). */
static MT_COLD void help_idle(struct mt_worker *w, struct mt_latch *latch)
{
	struct mt_pool *pool = w->pool;
	unsigned idle = 0, backoff = MT_SPIN_BACKOFF_START;
	int searching = 0; /* counted in n_searching */
	publish(w);
	if (w->help_depth <= MT_HELP_STEAL_MAX_DEPTH) {
		start_searching(pool);
		searching = 1;
	}
	while (!mt__latch_is_open(latch)) {
		struct mt_item it;
		if (find_help_task(w, &it)) {
			if (is_cancelled_join(&it)) {
				/* No work (worker_step): still searching. */
				run_from_loop(pool, w, &it);
				continue;
			}
			if (searching)
				stop_searching_found(pool);
			run_from_loop(pool, w, &it);
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
		struct mt_item it;
		if (find_help_task(w, &it))
			run_from_loop(pool, w, &it);
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

/* ---- the group's own wait ---- */

/* The library's copy of the inline wait's loop (mtpool.h): runs back the
 * group's frames from the top of this worker's deque, private or shared
 * (a shared one through the deque's CAS path), counting them off local. */
static void run_own_frames(struct mt_worker *w, mt_group *g)
{
	struct mt_item it;
	while (g->local > 0 && mt__deque_take_owner_if(&w->deque, g, &it)) {
		g->local--;
		stat_inc(&w->deque.lane.runs);
		it.fn(it.arg);
		leave_if_fork_child(w->pool);
	}
}

void mt__group_wait_own(struct mt_worker *w, mt_group *g)
{
	run_own_frames(w, g);
	/* What is left of local ran elsewhere, or is queued under frames
	 * that are not the group's: settle it into the latch (group.h). */
	if (!mt__group_settle(g))
		help_until_open(w, mt__group_latch(g));
}
