/*
 * pool/latch.c: see latch.h for the protocol.
 */
#include "latch.h"

#include <assert.h>
#include <errno.h>

#include "futex.h"

int mt__latch_add(struct mt_latch *l, uint32_t k)
{
	/* relaxed: the caller is the waiter or a live task of the latch, so
	 * the count cannot reach zero meanwhile; the push that follows
	 * publishes the task with release, ordering this add before the
	 * task's count_down. */
	uint32_t w = atomic_load_explicit(&l->word, memory_order_relaxed);
	if ((w >> 1) + (uint64_t)k > MT_LATCH_MAX)
		return EOVERFLOW;
	atomic_fetch_add_explicit(&l->word, k << 1, memory_order_relaxed);
	return 0;
}

int mt__latch_count_down(struct mt_latch *l)
{
	/* acq_rel: release publishes the task's effects to the waiter's
	 * acquire; acquire pairs with mt__latch_arm's release (latch.h).
	 * After this RMW the latch may be gone: only the address is used. */
	uint32_t old =
		atomic_fetch_sub_explicit(&l->word, 2u, memory_order_acq_rel);
	assert((old >> 1) > 0); /* more count-downs than adds */
	if (old != (2u | MT_LATCH_WAITER))
		return 0;
	mt__os_wake((const uint32_t *)&l->word, 1);
	return 1;
}

int mt__latch_arm(struct mt_latch *l)
{
	uint32_t w = atomic_load_explicit(&l->word, memory_order_relaxed);
	do {
		if ((w >> 1) == 0)
			return 0;
		/* release: see latch.h; relaxed on failure (we retry). */
	} while (!atomic_compare_exchange_weak_explicit(
		&l->word, &w, w | MT_LATCH_WAITER, memory_order_release,
		memory_order_relaxed));
	return 1;
}

void mt__latch_block(struct mt_latch *l)
{
	for (;;) {
		/* acquire: on zero, pairs with the last release decrement. */
		uint32_t w =
			atomic_load_explicit(&l->word, memory_order_acquire);
		if ((w >> 1) == 0)
			return;
		if (!(w & MT_LATCH_WAITER)) {
			/* relaxed: the flag carries no data; the futex
			 * compare in the kernel re-reads the word. */
			if (!atomic_compare_exchange_weak_explicit(
				    &l->word, &w, w | MT_LATCH_WAITER,
				    memory_order_relaxed, memory_order_relaxed))
				continue;
			w |= MT_LATCH_WAITER;
		}
		mt__os_wait((const uint32_t *)&l->word, w);
	}
}
