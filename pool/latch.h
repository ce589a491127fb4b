/*
 * pool/latch.h: a countdown latch with one waiter, for fork-join waits
 * (mt_group, map batches). No allocation: it lives in the caller's storage.
 *
 * Overview
 * ========
 *   mt__latch_init(&l);                count 0
 *   mt__latch_add(&l, k);              k more pending tasks (submitter)
 *   mt__latch_count_down(&l);          a task finished (any thread)
 *   mt__latch_is_open(&l);             count == 0, with acquire
 *   mt__latch_block(&l);               sleep until count == 0 (waiter)
 *
 * Implementation notes
 * ====================
 * One 32-bit word: count << 1 | WAITER. The waiter sets WAITER by CAS
 * before sleeping; the finisher whose decrement takes the count to zero
 * wakes it if WAITER was set. That decrement is the finisher's last access
 * to the latch: once the count is zero the waiter may return and reuse the
 * memory (STYLE 19), so the finisher reads nothing after it, and its wake
 * uses the address only as a futex key (futex.h).
 *
 * The waiter sleeps either on the word itself (mt__latch_block: any
 * thread) or elsewhere: a worker in a helping wait arms the latch
 * (mt__latch_arm) and sleeps on its own event count, where new work can
 * wake it too. Then mt__latch_count_down() tells the last finisher that a
 * waiter was flagged, and the finisher wakes it by the address it noted
 * before its decrement (park.c), again without touching the latch.
 *
 * Orderings: count_down is a release RMW, and all decrements form one
 * release sequence, so the waiter's acquire load that sees zero
 * happens-after every task's effects. add is relaxed: it is sequenced
 * before the push that publishes the task (release), which orders it.
 */
#ifndef MTPOOL_POOL_LATCH_H
#define MTPOOL_POOL_LATCH_H

#include <stdatomic.h>
#include <stdint.h>

#include "cc.h"

#define MT_LATCH_WAITER 1u
/* Counts above this are refused (EOVERFLOW) so count << 1 never wraps. */
#define MT_LATCH_MAX ((uint32_t)1 << 30)

struct mt_latch {
	_Atomic uint32_t word; /* A: count << 1 | MT_LATCH_WAITER */
};

static inline void mt__latch_init(struct mt_latch *l)
{
	atomic_init(&l->word, 0);
}

/* Returns 0, or EOVERFLOW if the count would pass MT_LATCH_MAX.
 * Only the waiter, or a task counted in the latch, may add. */
MT_HIDDEN int mt__latch_add(struct mt_latch *l, uint32_t k);

/* A task finished (any thread). Returns nonzero if this was the last one
 * and a waiter had flagged itself (the word's futex has been woken; a
 * waiter sleeping elsewhere must be woken by the caller). acq_rel: release
 * publishes the task's effects; acquire makes what the waiter wrote before
 * arming visible (park.c's waiting_on). */
MT_HIDDEN int mt__latch_count_down(struct mt_latch *l);

static inline int mt__latch_is_open(struct mt_latch *l)
{
	/* acquire: pairs with the release decrements (release sequence). */
	return (atomic_load_explicit(&l->word, memory_order_acquire) >> 1) == 0;
}

/* Sleeps until the count is zero. Only the one waiter calls it. */
MT_HIDDEN void mt__latch_block(struct mt_latch *l);

/* The one waiter, before sleeping somewhere else: flags itself (release
 * RMW, even if the flag is already set, so that the last finisher's
 * count-down reads from it). Returns 0 if the latch is already open. */
MT_HIDDEN int mt__latch_arm(struct mt_latch *l);

#endif /* MTPOOL_POOL_LATCH_H */
