/*
 * pool/park.c: parking idle workers and waking them, without lost
 * wake-ups and without waking the whole pool for one task.
 *
 * Overview
 * ========
 * Each worker sleeps on its own Concurrency Kit event count (ck_ec32,
 * multi-producer mode) so a wake-up reaches exactly one worker: ck_ec wakes
 * every waiter of an event count, and there is only ever one waiter of a
 * worker's. Two pool-wide counters steer wake-ups:
 *   n_sleeping   workers that announced they are going to sleep and have not
 *                been claimed by a waker;
 *   n_searching  workers looking for work (spinning, or just woken). While
 *                one searches, a new task from outside needs no wake-up: the
 *                searcher will find it. When the last searcher finds work
 *                and more work is visible, it wakes one sleeper, so a burst
 *                of tasks ramps the pool up one worker at a time (Go's
 *                wakep; rayon's sleep module), and a lone task wakes one.
 *
 * Worker states (one at a time):
 *   running    inside a task; counted nowhere;
 *   searching  looking for a task after finding none, or just woken;
 *              counted in n_searching;
 *   announced  asleep = 1 and counted in n_sleeping, from its announcement
 *              through its re-check and its sleep, until it cancels
 *              (asleep 1 -> 0 by itself) or a waker claims it (asleep 1 ->
 *              0 by the waker, which moves it to searching);
 *   waiting    in a helping wait that found nothing to help with: either
 *              announced as above, with its latch armed (it leaves when the
 *              latch opens or when claimed for work), or, nested past the
 *              helping depth bound (worker.c), asleep on its event count
 *              without being announced, which only its latch ends.
 * The latch's last finisher bumps the event count of the worker waiting
 * for it (waiting_on) without claiming it: the worker sees its latch open
 * and cancels its own announcement. Any bump that is not a claim (a late
 * finisher of a latch it no longer waits for) only makes a worker look
 * again and sleep again.
 *
 * The no-lost-wake-up argument (STYLE 26)
 * =======================================
 * A submitter S:  push task X;  F_s: seq_cst fence;  read n_searching and
 *                 n_sleeping; if nobody searches and someone sleeps, wake one.
 * A sleeper Z:    asleep = 1, n_sleeping++;  F_z: seq_cst fence;  re-check
 *                 every queue (and the exit condition); sleep only if all
 *                 are empty, on the event-count value snapshotted before.
 * F_s and F_z are ordered in the single total order of seq_cst fences. If
 * F_s comes first, Z's re-check observes X (C11 [atomics.order]: a store
 * sequenced before a fence that precedes, in S, a fence sequenced before a
 * load is visible to that load), so Z does not sleep. If F_z comes first,
 * S's read observes Z's increment, so S wakes somebody (Z or another
 * sleeper, which then searches and finds X). A searcher that stops
 * searching does RMW n_searching; F; read n_sleeping and look for more
 * visible work, so a submitter that skipped the wake because it saw that
 * searcher is covered by the searcher's own wake when it was the last:
 * by the same fence argument, either the submitter saw the decrement (and
 * woke someone itself) or the searcher's look after F sees the task. A
 * sleeper that cancels its sleep because its re-check sees work counts
 * itself as searching again: submitters that pushed that work while it
 * was still a searcher woke nobody, so the work it does not take itself
 * must be covered by its own last-searcher check when it finds work. A
 * wake that arrives between Z's snapshot and its wait bumps the event
 * count, so ck_ec_wait returns at once: the snapshot-recheck-wait order
 * of ck_ec.
 *
 * A waiter in a helping wait is not lost either: it snapshots its event
 * count, stores waiting_on = its latch, then arms the latch with a release
 * RMW on the latch word (which fails if the count is already zero), and
 * re-checks the latch after its announcement. The finisher whose acq_rel
 * decrement takes the count to zero reads the word as the arm (or a later
 * RMW) left it, so it sees the waiter flag and, through the acquire, the
 * waiting_on store, and bumps that worker's event count after the
 * snapshot: the sleep ends at once or never starts.
 *
 * A worker pushing onto its own deque (the hot path of nested
 * parallelism) must not pay a fence per push, yet a missed wake-up there
 * is not harmless: the pushing task may then block outside the pool (on a
 * semaphore, say) until its child runs, and with every other worker asleep
 * nothing would ever run it. So the pair is made asymmetric, as liburcu
 * and Folly do: the pusher P has only a compiler barrier between its push
 * and its read of n_sleeping, and the sleeper pays instead, with
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) after F_z. That system call
 * makes every running thread of the process execute a full barrier before
 * it returns (a thread that is not running has passed one when it was
 * switched out). Where P was when that barrier ran decides: if after its
 * read of n_sleeping, its push was visible before the call returned, and
 * Z's re-check sees it; if before, P's read comes after the barrier, which
 * comes after Z's increment, and P sees Z and wakes somebody. P does not
 * rely on searchers (it wakes whenever someone sleeps): the last-searcher
 * rule pairs through plain fences, which P's compiler barrier does not
 * match. Where membarrier is not available (registration fails: old
 * kernel, seccomp), P uses a seq_cst fence instead, and the pair is F_s/F_z
 * again.
 *
 * Private frames (deque.h) follow the same asymmetric rule. An owner
 * pushes a private frame, then (compiler barrier only) reads n_sleeping
 * and n_searching; if either is nonzero it shares frames and wakes a
 * sleeper as a local push does (mt_lane_share, worker.c). A sleeper Z,
 * after F_z, flags one private frame of some other worker for a private
 * steal (deque.c, note 3), runs the heavy barrier, then settles the flag
 * and re-checks: a frame the flag shared, shared frames anywhere, and
 * private frames anywhere all cancel the sleep. By the membarrier
 * argument above, an owner whose read missed Z's announcement pushed its
 * frame before its barrier, so Z's re-check sees it: Z does not sleep but
 * searches again and flags it on its next try. So a private frame is never
 * left behind while a worker sleeps, even if its owner blocks in user code
 * right after the push (a task waiting on a semaphore for its child).
 *
 * ThreadSanitizer does not model standalone fences. Here the fences only
 * order the Dekker pair above; no data is published through them (tasks
 * are handed over by the queues' own release/acquire), so the sanitizer
 * sees every real hand-over, and there is nothing for it to misreport.
 *
 * Once parked, a worker has no timed wake-ups: the wait32 op below ignores
 * the partial deadlines ck_ec's slow path passes (its backoff exists for
 * single-producer mode, which we do not use), so an idle pool burns no CPU.
 */
#define _GNU_SOURCE /* sched_getcpu */
#include "park.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "futex.h"
#include "pending.h"
#include "pool.h"

static int ec_gettime(const struct ck_ec_ops *ops, struct timespec *out)
{
	(void)ops;
	return clock_gettime(CLOCK_MONOTONIC, out);
}

static void ec_wait32(const struct ck_ec_wait_state *state,
		      const uint32_t *addr, uint32_t expected,
		      const struct timespec *deadline)
{
	(void)state;
	(void)deadline; /* untimed on purpose: see the overview */
	mt__os_wait(addr, expected);
}

static void ec_wake32(const struct ck_ec_ops *ops, const uint32_t *addr)
{
	(void)ops;
	mt__os_wake(addr, INT_MAX);
}

/* busy_loop_iter 1: ck_ec's slow path otherwise spins 100 pause
 * instructions (about 5 us here) before sleeping. Every caller has already
 * spun as long as it should (a worker's search rounds; mt_quiesce has
 * nothing to do meanwhile), and on a 2-CPU machine that spin delayed a
 * woken worker that Linux had queued on the waiter's own CPU. */
static const struct ck_ec_ops ec_ops = {
	.gettime = ec_gettime,
	.wait32 = ec_wait32,
	.wake32 = ec_wake32,
	.busy_loop_iter = 1,
};

const struct ck_ec_mode mt__ck_ec_mode = {
	.ops = &ec_ops,
	.single_producer = false,
};

int mt__pool_has_visible_work(struct mt_pool *pool)
{
	if (mt__inject_maybe_nonempty(&pool->inject))
		return 1;
	for (unsigned i = 0; i < pool->nworkers; i++)
		if (mt__deque_size_seq_cst(&pool->workers[i].deque) > 0)
			return 1;
	return 0;
}

/* Claims a sleeping worker and wakes it. Returns 1 if one was woken. */
static int claim_and_wake(struct mt_pool *pool, struct mt_worker *w)
{
	uint32_t one = 1;
	/* relaxed pre-check keeps the CAS off lines of awake workers. */
	if (atomic_load_explicit(&w->asleep, memory_order_relaxed) != 1)
		return 0;
	/* acq_rel: the claim is the hand-off of "who will wake w"; exactly
	 * one of the wakers and w's own cancel succeeds. */
	if (!atomic_compare_exchange_strong_explicit(&w->asleep, &one, 0,
						     memory_order_acq_rel,
						     memory_order_relaxed))
		return 0;
	/* The woken worker starts out searching: count it before it runs so
	 * concurrent submitters see a searcher and do not wake another. */
	atomic_fetch_add_explicit(&pool->idle.word,
				  MT_IDLE_SEARCHER - MT_IDLE_SLEEPER,
				  memory_order_seq_cst);
	atomic_fetch_add_explicit(&pool->n_wakes, 1, memory_order_relaxed);
	/* ck_ec_inc is a release RMW that wakes the (single) waiter. */
	ck_ec32_inc(&w->park_ec, &mt__ck_ec_mode);
	return 1;
}

static MT_THREAD_LOCAL unsigned wake_cursor;

/* Which sleeper to wake: preferably one that parked on another CPU than
 * ours. Linux tends to run a woken thread on its previous CPU when that is
 * idle, else near the waker; a sleeper that parked on our own CPU would
 * queue behind us (the submitter, often busy right after submitting) while
 * another CPU idles: on the 2-CPU bench machine that turned a 10 us wake
 * into milliseconds. sched_getcpu() is a vDSO call, and the CPUs are only
 * hints (relaxed): a wrong guess costs latency, never correctness. */
void mt__wake_one(struct mt_pool *pool)
{
	unsigned n = pool->nworkers;
	unsigned start = wake_cursor++ % n;
	int here = sched_getcpu();
	for (unsigned i = 0; i < n; i++) {
		struct mt_worker *w = &pool->workers[(start + i) % n];
		if (atomic_load_explicit(&w->last_cpu, memory_order_relaxed) !=
			    here &&
		    claim_and_wake(pool, w))
			return;
	}
	for (unsigned i = 0; i < n; i++)
		if (claim_and_wake(pool, &pool->workers[(start + i) % n]))
			return;
}

void mt__wake_all(struct mt_pool *pool)
{
	for (unsigned i = 0; i < pool->nworkers; i++)
		claim_and_wake(pool, &pool->workers[i]);
}

void mt__wake_latch_waiter(struct mt_pool *pool, uintptr_t latch)
{
	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct mt_worker *w = &pool->workers[i];
		/* relaxed: the caller's acq_rel count-down read from the
		 * waiter's release arm, which follows its store of waiting_on.
		 * Not a claim: the worker sees its latch open and leaves its
		 * sleep itself (a stale match only wakes it once too often). */
		if (atomic_load_explicit(&w->waiting_on,
					 memory_order_relaxed) == latch)
			ck_ec32_inc(&w->park_ec, &mt__ck_ec_mode);
	}
}

/* 1 once this process is registered for expedited private membarrier:
 * local pushes then skip their fence (see the overview). relaxed: set
 * before any pool exists (creation registers, then starts workers). */
static _Atomic int asym_barrier;

static int membarrier(int cmd)
{
	int saved = errno; /* callers' errno is the user's (mtpool.h) */
	int rc = (int)syscall(SYS_membarrier, cmd, 0, 0);
	errno = saved;
	return rc;
}

void mt__park_init_process(void)
{
	/* Registration is per process. It runs before the process's first
	 * pool and again in a fork child's only thread (pool.c), never while
	 * workers read the flag, so pushers and sleepers always agree on it. */
	int ok = membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
	atomic_store_explicit(&asym_barrier, ok, memory_order_relaxed);
}

void mt__park_test_without_heavy_barrier(void)
{
	atomic_store_explicit(&asym_barrier, 0, memory_order_relaxed);
}

int mt__heavy_barrier_available(void)
{
	return atomic_load_explicit(&asym_barrier, memory_order_relaxed);
}

void mt__heavy_barrier(void)
{
	if (atomic_load_explicit(&asym_barrier, memory_order_relaxed))
		(void)membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
}

/* The sleeper's heavy barrier: after F_z, before the re-check. */
static void heavy_barrier(void)
{
	mt__heavy_barrier();
}

static int should_wake(struct mt_pool *pool)
{
	/* relaxed: ordered after the caller's fence (F_s) where it matters. */
	uint64_t idle =
		atomic_load_explicit(&pool->idle.word, memory_order_relaxed);
	return mt__idle_searching(idle) == 0 && mt__idle_sleeping(idle) > 0;
}

void mt__wake_after_inject(struct mt_pool *pool)
{
	atomic_thread_fence(memory_order_seq_cst); /* F_s, pairs with F_z */
	if (should_wake(pool))
		mt__wake_one(pool);
}

void mt__wake_after_push(struct mt_pool *pool)
{
	/* The light side of the asymmetric pair (overview): only the compiler
	 * must keep the push before the load; the sleeper's membarrier does
	 * the rest. */
	if (atomic_load_explicit(&asym_barrier, memory_order_relaxed))
		atomic_signal_fence(memory_order_seq_cst);
	else
		atomic_thread_fence(memory_order_seq_cst); /* F_s */
	/* relaxed: ordered after the push by the barrier above. */
	if (mt__idle_sleeping(atomic_load_explicit(&pool->idle.word,
						   memory_order_relaxed)) > 0)
		mt__wake_one(pool);
}

/* Undoes the announcement if no waker claimed us yet; returns 1 if so. */
static int cancel_sleep(struct mt_worker *w)
{
	uint32_t one = 1;
	if (!atomic_compare_exchange_strong_explicit(&w->asleep, &one, 0,
						     memory_order_acq_rel,
						     memory_order_relaxed))
		return 0; /* a waker claimed us and bumped the event count */
	uint64_t before = atomic_fetch_sub_explicit(
		&w->pool->idle.word, MT_IDLE_SLEEPER, memory_order_seq_cst);
	/* we counted ourselves in before announcing */
	assert(mt__idle_sleeping(before) > 0);
	(void)before;
	return 1;
}

void (*mt__park_test_hook)(struct mt_worker *w);

/* A private steal in flight (deque.c, note 3): the deque whose frame
 * `s` this worker flagged before its heavy barrier, or NULL. */
struct private_mark {
	struct mt_deque *victim;
	int64_t s;
};

/* Flags the oldest private frame of one other worker, if any holds one,
 * looking from the next worker round. Only with the heavy barrier: without
 * it no deque has private frames (pool.c). */
static struct private_mark mark_private(struct mt_worker *w)
{
	struct private_mark m = {NULL, -1};
	struct mt_pool *pool = w->pool;
	unsigned n = pool->nworkers;
	if (!atomic_load_explicit(&asym_barrier, memory_order_relaxed))
		return m;
	for (unsigned i = 1; i < n; i++) {
		struct mt_deque *d = &pool->workers[(w->index + i) % n].deque;
		int64_t s = mt__deque_private_mark(d);
		if (s >= 0) {
			m.victim = d;
			m.s = s;
			break;
		}
	}
	return m;
}

/* After the heavy barrier: settles the flag; nonzero if the frame is now
 * shared (this worker should go and steal it). */
static int resolve_private(struct private_mark *m)
{
	return m->victim != NULL && mt__deque_private_resolve(m->victim, m->s);
}

/* Nonzero if some other worker holds private frames (after the heavy
 * barrier, see the overview's "private frames"). */
static int private_work_seen(struct mt_worker *w)
{
	struct mt_pool *pool = w->pool;
	for (unsigned i = 0; i < pool->nworkers; i++)
		if (i != w->index &&
		    mt__deque_has_private(&pool->workers[i].deque))
			return 1;
	return 0;
}

/* Announces w as a sleeper that a waker may claim (the sleeper's half of
 * the pairs in the overview, up to and including the barriers), flagging
 * a private frame to steal between the two barriers. */
static struct private_mark announce_sleep(struct mt_worker *w)
{
	struct mt_pool *pool = w->pool;
	atomic_store_explicit(&w->last_cpu, sched_getcpu(),
			      memory_order_relaxed);
	atomic_store_explicit(&w->asleep, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&pool->idle.word, MT_IDLE_SLEEPER,
				  memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst); /* F_z, pairs with F_s */
	struct private_mark m = mark_private(w);
	heavy_barrier(); /* pairs with the pushers' compiler barrier */
	return m;
}

enum recheck {
	MT_RECHECK_SLEEP, /* nothing changed: sleep */
	MT_RECHECK_OPEN,  /* the latch waited for has opened */
	MT_RECHECK_WORK,  /* a queue shows work this worker may take */
	MT_RECHECK_EXIT	  /* the pool is closing with nothing pending */
};

/* The re-check after the announcement (seq_cst loads, after F_z and the
 * heavy barrier). `stolen`: a private steal shared a frame for us. Private
 * frames seen now count as work too: their owner may have pushed them
 * after our flagging and before our announcement reached it, and may be
 * blocked; we look again instead of sleeping (the next try flags them). */
static enum recheck recheck(struct mt_worker *w, struct mt_latch *latch,
			    int for_work, int stolen)
{
	struct mt_pool *pool = w->pool;
	if (latch != NULL && mt__latch_is_open(latch))
		return MT_RECHECK_OPEN;
	if (for_work &&
	    (stolen || mt__pool_has_visible_work(pool) || private_work_seen(w)))
		return MT_RECHECK_WORK;
	if (latch == NULL && mt__pending_may_exit(&pool->pending))
		return MT_RECHECK_EXIT;
	return MT_RECHECK_SLEEP;
}

/* Registers w as the sleeping waiter of `latch` (park.h: the finisher
 * that opens it bumps w's event count). Returns 0 if the latch is open. */
static int wait_on(struct mt_worker *w, struct mt_latch *latch)
{
	/* relaxed: published to the finisher by the release CAS in
	 * mt__latch_arm, which its acq_rel count-down reads from. */
	atomic_store_explicit(&w->waiting_on, (uintptr_t)latch,
			      memory_order_relaxed);
	return mt__latch_arm(latch);
}

static void stop_waiting_on(struct mt_worker *w)
{
	/* relaxed: a finisher that still sees the old value only bumps our
	 * event count once too often, which every sleep tolerates. */
	atomic_store_explicit(&w->waiting_on, 0, memory_order_relaxed);
}

/* Leaves a sleep that ended without a claim: returns the value for
 * mt__park, or -1 to look again and sleep. */
static int after_unclaimed(struct mt_worker *w, enum recheck r)
{
	if (r == MT_RECHECK_WORK) {
		/* Submitters that pushed this work while we still counted as
		 * a searcher woke nobody: take it as a searcher, so that
		 * finding it wakes the next sleeper if more is queued (the
		 * last-searcher rule), as if we had never tried to sleep.
		 * seq_cst, as every update of n_searching: submitters read it
		 * after their fence F_s. */
		atomic_fetch_add_explicit(&w->pool->idle.word, MT_IDLE_SEARCHER,
					  memory_order_seq_cst);
		return 1;
	}
	return r == MT_RECHECK_SLEEP ? -1 : 0;
}

static void count_park(struct mt_worker *w)
{
	atomic_store_explicit(
		&w->n_parks,
		atomic_load_explicit(&w->n_parks, memory_order_relaxed) + 1,
		memory_order_relaxed);
}

/* One announce, re-check, sleep cycle; returns as mt__park, or -1 if the
 * sleep ended without a claim and without a reason to leave. */
static int park_once(struct mt_worker *w, struct mt_latch *latch, int for_work)
{
	/* Snapshot first: any wake after this point changes the value. */
	uint32_t snap = ck_ec32_value(&w->park_ec);
	if (latch != NULL && !wait_on(w, latch))
		return 0;
	int stolen = 0;
	if (for_work) {
		struct private_mark m = announce_sleep(w);
		stolen = resolve_private(&m); /* always, whatever follows */
	}
	enum recheck r = recheck(w, latch, for_work, stolen);
	if (r == MT_RECHECK_SLEEP) {
		count_park(w);
		/* relaxed: a statistic (workers_parked), owner-written. */
		atomic_store_explicit(&w->parked, (uint32_t)for_work,
				      memory_order_relaxed);
		while (ck_ec32_value(&w->park_ec) == snap)
			ck_ec32_wait(&w->park_ec, &mt__ck_ec_mode, snap, NULL);
		atomic_store_explicit(&w->parked, 0, memory_order_relaxed);
	}
	if (latch != NULL)
		stop_waiting_on(w);
	if (for_work && !cancel_sleep(w))
		return 1; /* claimed: the waker counted us as searching */
	if (r == MT_RECHECK_SLEEP) /* woken by a latch finisher, or stale */
		r = recheck(w, latch, 0, 0);
	return after_unclaimed(w, r);
}

int mt__park(struct mt_worker *w, struct mt_latch *latch, unsigned flags)
{
	struct mt_pool *pool = w->pool;
	if (mt__park_test_hook != NULL)
		mt__park_test_hook(w); /* tests: hold w while it searches */
	/* Leave the searching state before announcing sleep: F_z orders
	 * this decrement too. */
	if (flags & MT_PARK_SEARCHING)
		atomic_fetch_sub_explicit(&pool->idle.word, MT_IDLE_SEARCHER,
					  memory_order_seq_cst);
	int r;
	while ((r = park_once(w, latch, (flags & MT_PARK_FOR_WORK) != 0)) < 0)
		;
	return r;
}
