/*
 * pool/group.c: the group's counts (see group.h for the protocol).
 */
#include "group.h"

#include <errno.h>

#include "futex.h"

/* The signed count held in a pending word. */
static int32_t count_of(uint32_t word)
{
	return (int32_t)(word & ~MT_LATCH_WAITER) / 2;
}

int mt__group_add(mt_group *g)
{
	/* Relaxed: the caller is the waiter or a live task of the group, so
	 * the count cannot reach zero meanwhile; the push that follows
	 * publishes the task with release, ordering this add before the
	 * task's count-down. */
	uint32_t w = atomic_load_explicit(&g->pending, memory_order_relaxed);
	if (count_of(w) >= MT_GROUP_PENDING_MAX)
		return EOVERFLOW;
	atomic_fetch_add_explicit(&g->pending, 2u, memory_order_relaxed);
	return 0;
}

int mt__group_settle(mt_group *g)
{
	uint32_t k = g->local;
	if (k == 0) /* no write: a waiter off the group's worker is here */
		return count_of(atomic_load_explicit(
			       &g->pending, memory_order_acquire)) == 0;
	g->local = 0;
	/* acq_rel: acquire, because the tasks that took the count to -k ran
	 * elsewhere and their effects must be ours once it reads 0;
	 * release, for symmetry with a count-down (the arm's reader). */
	uint32_t old = atomic_fetch_add_explicit(&g->pending, 2u * k,
						 memory_order_acq_rel);
	return count_of(old) + (int32_t)k == 0;
}

int mt__group_settle_early(mt_group *g)
{
	/* Relaxed: only a bound; the count can only be lower by now (the
	 * other threads' tasks returning), or higher by their own spawns,
	 * which are bounded by the same check in mt__group_add. */
	uint32_t w = atomic_load_explicit(&g->pending, memory_order_relaxed);
	if (count_of(w) + (int64_t)g->local >= MT_GROUP_PENDING_MAX)
		return EOVERFLOW;
	(void)mt__group_settle(g); /* not done: a spawn is under way */
	return 0;
}

int mt__group_count_down(mt_group *g)
{
	/* acq_rel: release publishes the task's effects to the waiter;
	 * acquire pairs with mt__latch_arm's release (latch.h). After this
	 * RMW the group may be gone: only its address is used. */
	uint32_t old = atomic_fetch_sub_explicit(&g->pending, 2u,
						 memory_order_acq_rel);
	if (old != (2u | MT_LATCH_WAITER))
		return 0;
	mt__os_wake((const uint32_t *)&g->pending, 1);
	return 1;
}
