/*
 * pool/group.h: how an mt_group counts its pending tasks, so that the
 * common case (the waiter spawns, and runs the task back itself) needs no
 * atomic read-modify-write at all.
 *
 * Overview
 * ========
 * A group (mtpool.h) has two counts:
 *   local    plain, touched only by the thread whose worker deque is
 *            `lane` (the worker that initialised the group): frames it
 *            pushed for the group and has not run back in its own wait;
 *   pending  atomic, a latch word (latch.h): count << 1 | waiter flag,
 *            where count is a signed 31-bit number.
 * Every task of the group is accounted for exactly once:
 *   - spawned by lane's owner: local += 1 (no RMW). Run back by that
 *     owner's wait (inline in mtpool.h, or in api/mtpool.c): local -= 1.
 *     Run anywhere else (stolen, or popped by some other wait of the
 *     owner's): pending -= 1 when it returns, which may take the count
 *     below zero for a while;
 *   - spawned by any other thread: pending += 1 before the push, and
 *     pending -= 1 when it returns, wherever it ran.
 * The waiter settles before it waits on the latch: it adds what is left
 * of local to pending (one RMW) and sets local to 0. From then on pending
 * counts exactly the tasks not yet returned, it never goes negative again
 * (every later task is counted before it is pushed), and the latch
 * protocol of latch.h applies unchanged: the waiter arms or blocks, the
 * finisher whose decrement takes the count to zero wakes it.
 *
 * Why local == 0 and pending == 0 means done (the inline wait's exit):
 * local == 0 says every frame the owner pushed was run back by its own
 * wait, so no decrement is owed for them; pending then sums +1 -1 for each
 * other task, and a task is counted before it exists, so zero means each
 * has returned.
 *
 * Settling early is as safe: local + count (the signed count of pending)
 * is the number of tasks not yet returned whatever the split between the
 * two, and the owner's wait only ever takes one off local for a task it
 * ran. So when local reaches MT_GROUP_LOCAL_MAX (2^16) a spawn settles
 * first (mt__group_settle_early), which bounds the transient negative:
 *
 * Limits: the count stays within [-2^16, 2^30 - 2^17 + 2^16]: spawns are
 * refused (EOVERFLOW) once local + count reaches MT_GROUP_PENDING_MAX
 * (2^30 - 2^17), so count << 1 never overflows the signed 32-bit word.
 * An owner's spawn that finds local at the maximum settles early; the
 * inline path leaves that to the library.
 *
 * Orderings: a task's count-down is a release RMW (acq_rel, as the
 * latch's: acquire pairs with the waiter's arm), all updates of pending
 * are RMWs, so the waiter's acquire load that reads zero (or its settling
 * RMW that makes it zero) happens-after every task's effects. Adds are
 * relaxed: each is sequenced before the push that publishes its task.
 */
#ifndef MTPOOL_POOL_GROUP_H
#define MTPOOL_POOL_GROUP_H

#include <stdalign.h>
#include <stdint.h>

#include "cc.h"
#include "latch.h"
#include "mtpool/mtpool.h"

_Static_assert(sizeof(((mt_group *)0)->pending) == sizeof(struct mt_latch) &&
		       alignof(struct mt_latch) <= 4,
	       "a group's pending word is a latch word");

/* The group's pending count as a latch (wait, arm, open: latch.h). */
static inline struct mt_latch *mt__group_latch(mt_group *g)
{
	return (struct mt_latch *)(void *)&g->pending;
}

#define MT_GROUP_PENDING_MAX (((int32_t)1 << 30) - ((int32_t)1 << 17))

_Static_assert(MT_GROUP_PENDING_MAX + (int64_t)MT_GROUP_LOCAL_MAX <
		       ((int64_t)1 << 30),
	       "count << 1 must fit the signed 32-bit pending word");

/* A spawn by a thread other than lane's owner: counts one more task.
 * Returns 0, or EOVERFLOW (nothing changed). The caller is the waiter or a
 * live task of the group, so the count cannot reach zero meanwhile. */
MT_HIDDEN int mt__group_add(mt_group *g);

/* Lane's owner, whose spawn found local at MT_GROUP_LOCAL_MAX: settles
 * (as mt__group_settle) so that local can count from zero again. Returns
 * 0, or EOVERFLOW (nothing changed) if MT_GROUP_PENDING_MAX tasks are
 * pending. */
MT_HIDDEN int mt__group_settle_early(mt_group *g);

/* The waiter, before it waits: moves local into pending. Acq_rel: as a
 * count-down (a task that finished elsewhere may be the last). Returns
 * nonzero if the group is now done. */
MT_HIDDEN int mt__group_settle(mt_group *g);

/* A task of the group returned anywhere but in its owner's wait, where
 * local counted it. Returns nonzero if this was the last one and the
 * waiter had armed the latch (then wake it by the address taken before
 * this call: park.h, mt__wake_latch_waiter). The last access to g. */
MT_HIDDEN int mt__group_count_down(mt_group *g);

#endif /* MTPOOL_POOL_GROUP_H */
