/*
 * pool/deque.h: a worker's deque of task frames, split into a private part
 * only its owner touches and a shared part any thread may steal from.
 *
 * Overview
 * ========
 * One deque per worker. Items are frames (struct mt_frame, mtpool.h):
 * fn(arg) for a group, or a library task (group NULL). The live frames are
 * the indices top .. bottom-1 of a power-of-two ring:
 *
 *        top            split              bottom
 *         | shared: steal |  private: owner   |
 *         v   from here   v   only, LIFO      v
 *
 * The owner pushes and pops at `bottom`. Frames below `split` are shared:
 * thieves take the oldest with a CAS on `top` (the Chase-Lev deque). Frames
 * at or above `split` are private: the owner pushes and pops them with
 * plain stores, no read-modify-write and no fence, which is what makes a
 * group spawn and its wait cost a few nanoseconds. The owner moves `split`
 * up to share frames (mt__deque_share_owner), when other workers are idle
 * or the frames must be stealable at once (detached and join tasks).
 *
 * A thief may also take a private frame without the owner's help, for a
 * worker about to sleep while an owner that is not calling into the pool
 * (blocked in user code, say) holds private frames: the private steal
 * (mark, a process-wide barrier, resolve; deque.c). It costs a system call,
 * so workers use it only on their way to sleep (park.c).
 *
 * The owner's view (slots, mask, bottom, limit, split) is struct mt_lane in
 * the public header, because the inline fast paths of mtpool.h push and pop
 * private frames in the caller's binary; this module and those paths are
 * the two halves of one protocol, and deque.c holds its argument.
 *
 * Usage
 * =====
 *   struct mt_deque d;
 *   struct mt_item f = {fn, arg, group};
 *   mt__deque_init(&d, MT_DEQUE_INITIAL_LOG2);  any thread, before sharing
 *   mt__deque_push_owner(&d, &f);              private; 0 or ENOMEM
 *   mt__deque_share_owner(&d, MT_SHARE_ALL);   make private frames stealable
 *   mt__deque_take_owner(&d, &f);              newest frame; 0 when empty
 *   mt__deque_steal(&d, &f);                   OK / EMPTY / RETRY (shared)
 *   s = mt__deque_private_mark(&d);            thief, before a heavy barrier
 *   mt__deque_private_resolve(&d, s);          thief, after it
 *   mt__deque_destroy(&d);                     after all threads stopped
 *
 * Progress: push, share and take are wait-free except when push grows the
 * ring (one allocation) and when take races for a shared frame (one CAS);
 * steal is lock-free (a failed CAS means another thread made progress).
 */
#ifndef MTPOOL_POOL_DEQUE_H
#define MTPOOL_POOL_DEQUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cc.h"
#include "mtpool/mtpool.h"

/* 2^8 = 256 frames (6 KiB): fib(32) with a spawn per call keeps fewer than
 * 40 frames per deque, a 10M-item map fewer than 64; a larger start only
 * costs memory per worker. */
#define MT_DEQUE_INITIAL_LOG2 8

/* A frame's value, out of the ring: what a push takes and a pop or steal
 * hands back. group NULL: arg is a library task (struct mt_task). */
struct mt_item {
	void (*fn)(void *arg);
	void *arg;
	struct mt_group *group;
};

/* A power-of-two ring of frames. Frame fields are atomics (relaxed)
 * because a thief may read a slot while the owner overwrites it after
 * wrap-around; the thief's CAS on top then fails and what it read is
 * discarded. */
struct mt_deque_buf {
	int64_t mask;			   /* I: capacity - 1 */
	struct mt_deque_buf *retired_next; /* O: older rings (destroy frees) */
	struct mt_frame slots[];	   /* A: relaxed, see above */
};

/*
 * Field legend: O owner only, A atomic any thread, I set at init.
 * The lane (mtpool.h) holds the owner's line (slots, mask, bottom, limit)
 * and, on a line of its own, `split`, which the owner reads on every pop
 * and thieves read on every steal but which is written only to share or
 * take back frames. `top` sits on a third line: thieves CAS it.
 */
struct mt_deque {
	struct mt_lane lane; /* O/A: see mtpool.h and deque.c */
	_Alignas(MT_CACHELINE) _Atomic int64_t top; /* A: next index to steal */
	_Atomic(struct mt_deque_buf *) buf; /* A (written by O): current ring */
	struct mt_deque_buf *retired;	    /* O: list of outgrown rings */
	bool private_ok; /* O: private frames allowed (deque.c, "no barrier") */
};

enum mt_steal_result {
	MT_STEAL_OK = 0,    /* *out holds a stolen frame */
	MT_STEAL_EMPTY = 1, /* nothing shared */
	MT_STEAL_RETRY = 2  /* lost a race with another thief or the owner */
};

/* How much mt__deque_share_owner shares. */
enum mt_share {
	MT_SHARE_HALF = 0, /* the older half of the private frames, >= 1 */
	MT_SHARE_ALL = 1   /* every private frame */
};

/* Returns 0 or ENOMEM (nothing allocated), EINVAL if log2_capacity is not
 * in 1 .. 40. The lane's pool and idle pointers are the caller's to set. */
MT_HIDDEN int mt__deque_init(struct mt_deque *d, unsigned log2_capacity);

/* Test hook: as init, but top = split = bottom = start, so tests can
 * place the indices anywhere (for example so that the ring wraps at once).
 * start must be >= 0 and <= INT64_MAX / 4. */
MT_HIDDEN int mt__deque_init_at(struct mt_deque *d, unsigned log2_capacity,
				int64_t start);

/* Frees the live and retired rings. No thread may use d any more. Frames
 * still in the deque are not touched (the caller drains it first). */
MT_HIDDEN void mt__deque_destroy(struct mt_deque *d);

/* Before the deque is shared: no frame will ever be private (every push
 * is shared at once and the inline fast paths of mtpool.h always fall
 * back to the library). For a process without the heavy barrier that
 * private steals need (park.h): without it a private frame of an owner
 * blocked in user code could never be taken. */
MT_HIDDEN void mt__deque_disable_private(struct mt_deque *d);

/* OWNER ONLY. Pushes *f (fn non-NULL, or group NULL with arg non-NULL) as
 * a private frame at the bottom (shared at once if private frames are
 * disabled); grows the ring when full. Returns 0, or ENOMEM if the ring
 * was full and could not grow: the frame is NOT in the deque and the
 * caller runs it inline. */
MT_HIDDEN int mt__deque_push_owner(struct mt_deque *d, const struct mt_item *f);

/* OWNER ONLY. Moves `split` up (see enum mt_share); returns the number of
 * frames it made stealable (0 if none was private). */
MT_HIDDEN int64_t mt__deque_share_owner(struct mt_deque *d, enum mt_share how);

/* OWNER ONLY. Takes the most recently pushed frame into *out, private or
 * shared; returns 0 if the deque is empty (or a thief won its last frame). */
MT_HIDDEN bool mt__deque_take_owner(struct mt_deque *d, struct mt_item *out);

/* OWNER ONLY. As mt__deque_take_owner, but only if the newest frame
 * belongs to `group` (else nothing changes and it returns 0). */
MT_HIDDEN bool mt__deque_take_owner_if(struct mt_deque *d,
				       const struct mt_group *group,
				       struct mt_item *out);

/* ANY THREAD. Tries to take the oldest shared frame into *out. */
MT_HIDDEN enum mt_steal_result mt__deque_steal(struct mt_deque *d,
					       struct mt_item *out);

/* ANY THREAD. Shared frames at the moment of the two loads (may be stale or
 * even negative transiently; treat <= 0 as empty). Both loads are seq_cst:
 * a worker going to sleep uses this to re-check for work after announcing
 * itself (pool/park.c needs them ordered after its announcement). */
MT_HIDDEN int64_t mt__deque_size_seq_cst(struct mt_deque *d);

/* ANY THREAD. Nonzero if the owner held private frames at the moment of
 * the loads (acquire: a private steal reads the frames after). */
MT_HIDDEN bool mt__deque_has_private(struct mt_deque *d);

/* ANY THREAD, first half of a private steal: flags the oldest private
 * frame as pending (CAS on split). Returns its index, or -1 if there was
 * no private frame or another thief's flag is in place. The caller must
 * then run a heavy barrier (park.h) and call mt__deque_private_resolve
 * with the index, whatever happens in between. */
MT_HIDDEN int64_t mt__deque_private_mark(struct mt_deque *d);

/* ANY THREAD, second half, after the heavy barrier: if the owner has not
 * popped frame `s`, shares it (returns true: steal it like any shared
 * frame); else withdraws the flag (false). See deque.c for why. */
MT_HIDDEN bool mt__deque_private_resolve(struct mt_deque *d, int64_t s);

/* Current capacity (tests). OWNER or quiescent only. */
MT_HIDDEN int64_t mt__deque_capacity(struct mt_deque *d);

#endif /* MTPOOL_POOL_DEQUE_H */
