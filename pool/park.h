/*
 * pool/park.h: parking idle workers and waking them (park.c holds the
 * protocol and its no-lost-wake-up argument).
 *
 *   mt__wake_after_inject(pool)   after a push into the injection queue
 *   mt__wake_after_push(pool)     after a worker's push onto its own deque
 *   mt__park(w)                   a worker that found nothing sleeps
 *   mt__wake_one / mt__wake_all   claim and wake sleepers
 */
#ifndef MTPOOL_POOL_PARK_H
#define MTPOOL_POOL_PARK_H

#include <time.h> /* struct timespec, before ck_ec.h */

#include <ck_ec.h>
#include <stdint.h>

#include "cc.h"

struct mt_latch;
struct mt_pool;
struct mt_worker;

/* ck_ec mode shared by every event count of the library (park_ec,
 * quiesce_ec): multi-producer, untimed waits through futex.h's ops. */
MT_HIDDEN extern const struct ck_ec_mode mt__ck_ec_mode;

/* ANY THREAD, after pushing a task into pool's injection queue: wakes a
 * sleeper unless somebody is already searching (fence F_s, park.c). */
MT_HIDDEN void mt__wake_after_inject(struct mt_pool *pool);

/* OWNER, after pushing a task onto its own deque: wakes a sleeper if
 * there is one; no fence on this path (park.c: the sleepers pay). */
MT_HIDDEN void mt__wake_after_push(struct mt_pool *pool);

/* Claims one sleeper (preferably one that parked on another CPU) and
 * wakes it, counted as searching. ANY THREAD. */
MT_HIDDEN void mt__wake_one(struct mt_pool *pool);

/* Claims and wakes every sleeper. ANY THREAD. */
MT_HIDDEN void mt__wake_all(struct mt_pool *pool);

/* The pool's idle word (mtpool.h, struct mt_idle): n_sleeping in the low
 * 32 bits, n_searching in the high 32 bits. One word, so that a spawn
 * reads both with one load; each update below is one RMW of it. */
#define MT_IDLE_SLEEPER ((uint64_t)1)
#define MT_IDLE_SEARCHER ((uint64_t)1 << 32)

static inline uint32_t mt__idle_sleeping(uint64_t word)
{
	return (uint32_t)word;
}

static inline uint32_t mt__idle_searching(uint64_t word)
{
	return (uint32_t)(word >> 32);
}

/* mt__park flags. */
#define MT_PARK_SEARCHING 1u /* w counts in n_searching on entry */
#define MT_PARK_FOR_WORK 2u  /* announce w as a sleeper: new work wakes it */

/* OWNER: w sleeps until there is a reason to go on. latch NULL: the worker
 * loop, which leaves when work shows up or the pool may exit (the flags
 * are then SEARCHING | FOR_WORK). latch non-NULL: a helping wait, which
 * leaves when the latch opens, and also for new work if FOR_WORK (only
 * while the wait may still take unrelated tasks: worker.c's depth bound).
 * Returns 1 if w now counts as searching (a waker claimed it, or its
 * re-check saw work), 0 if not (the latch opened, or the pool may exit). */
MT_HIDDEN int mt__park(struct mt_worker *w, struct mt_latch *latch,
		       unsigned flags);

/* A finisher whose mt__latch_count_down() reported a waiter calls this
 * with the latch's address taken BEFORE the count-down (the latch may be
 * gone since): wakes the worker of `pool` that sleeps waiting for it, if
 * any. Only addresses are compared; nothing is read through `latch`. */
MT_HIDDEN void mt__wake_latch_waiter(struct mt_pool *pool, uintptr_t latch);

/* Test hook, NULL in production: called by a worker at the start of
 * mt__park, while it still counts as searching and before it announces
 * sleep, so a test can submit work in the window where submitters rely
 * on it and cannot see it asleep yet. */
MT_HIDDEN extern void (*mt__park_test_hook)(struct mt_worker *w);

/* Once per process before its first pool, and in a fork child (pool.c):
 * sets up the sleepers' heavy barrier (park.c). */
MT_HIDDEN void mt__park_init_process(void);

/* Test hook: behave from now on as a process where membarrier is not
 * available (pools created afterwards have no private frames and local
 * pushes fence). Call after some pool was created (which registers) and
 * before creating the pool under test. */
MT_HIDDEN void mt__park_test_without_heavy_barrier(void);

/* Nonzero if any queue of the pool may hold a shared task (seq_cst
 * loads); private frames (deque.h) do not count. */
MT_HIDDEN int mt__pool_has_visible_work(struct mt_pool *pool);

/* Nonzero once this process is registered for the heavy barrier below;
 * without it no deque may hold private frames (pool.c). ANY THREAD. */
MT_HIDDEN int mt__heavy_barrier_available(void);

/* membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED): every running thread of
 * the process executes a full barrier before this returns (a no-op when
 * not available). The thief's half of the asymmetric pairs (park.c,
 * deque.c note 3). ANY THREAD; one system call. */
MT_HIDDEN void mt__heavy_barrier(void);

#endif /* MTPOOL_POOL_PARK_H */
