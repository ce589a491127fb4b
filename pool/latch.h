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
 * before sleeping on the word; the finisher whose decrement takes the count
 * to zero wakes it if WAITER was set. That decrement is the finisher's
 * last access to the latch: once the count is zero the waiter may return
 * and reuse the memory (STYLE 19), so the finisher reads nothing after it,
 * and its wake uses the address only as a futex key (futex.h).
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

MT_HIDDEN void mt__latch_count_down(struct mt_latch *l);

static inline int mt__latch_is_open(struct mt_latch *l)
{
	/* acquire: pairs with the release decrements (release sequence). */
	return (atomic_load_explicit(&l->word, memory_order_acquire) >> 1) == 0;
}

/* Sleeps until the count is zero. Only the one waiter calls it. */
MT_HIDDEN void mt__latch_block(struct mt_latch *l);

#endif /* MTPOOL_POOL_LATCH_H */
