/*
 * pool/deque.h: a growable Chase-Lev work-stealing deque of pointers.
 *
 * Overview
 * ========
 * One deque per worker. Its owner pushes and takes at the bottom (LIFO);
 * any thread steals from the top (FIFO). The suffix of each function says
 * who may call it: `_owner` only the deque's owner thread, `mt__deque_steal`
 * any thread. Items are opaque non-NULL pointers (tasks).
 *
 * Usage
 * =====
 *   struct mt_deque d;
 *   mt__deque_init(&d, MT_DEQUE_INITIAL_LOG2);   any thread, before sharing
 *   mt__deque_push_owner(&d, task);             0 or ENOMEM
 *   task = mt__deque_take_owner(&d);            NULL when empty
 *   r = mt__deque_steal(&d, &task);             OK / EMPTY / RETRY
 *   mt__deque_destroy(&d);                      after all threads stopped
 *
 * Progress: push and take are wait-free except when push grows the buffer
 * (one allocation); steal is lock-free (a failed CAS means another thread
 * made progress and returns MT_STEAL_RETRY).
 *
 * Implementation notes
 * ====================
 * Follows Lê, Pop, Cohen and Zappa Nardelli, "Correct and Efficient
 * Work-Stealing for Weak Memory Models" (PPoPP 2013), figure 1, with the
 * fix found by model checking (push reloads the buffer pointer after a
 * resize; the new buffer is published with release and read with acquire
 * in steal) and with the paper's two standalone seq_cst fences replaced by
 * seq_cst operations at the same points: ThreadSanitizer does not model
 * standalone fences, so this way the sanitizer build checks the very
 * protocol the release build runs. The orderings and their reasons are
 * written beside each access in deque.c.
 *
 * Retired buffers are kept until mt__deque_destroy() (a thief may still be
 * reading one); buffers double, so retired memory is less than the live
 * buffer.
 */
#ifndef MTPOOL_POOL_DEQUE_H
#define MTPOOL_POOL_DEQUE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cc.h"

/* 2^8 = 256 slots (2 KiB): fib(32) with a spawn per call keeps fewer than
 * 40 tasks per deque, a 10M-item map fewer than 64 pieces; a larger start
 * only costs memory per worker. */
#define MT_DEQUE_INITIAL_LOG2 8

/* A power-of-two ring of item slots. Slots are atomics (relaxed) because
 * a thief may read a slot while the owner overwrites it after wrap-around;
 * the thief's CAS on top then fails and the value it read is discarded. */
struct mt_deque_buf {
	int64_t mask; /* I: capacity - 1 */
	struct mt_deque_buf
		*retired_next;	 /* O: older buffers, freed at destroy */
	_Atomic(void *) slots[]; /* A: relaxed, see above */
};

/*
 * Field legend: O owner only, A atomic any thread, I set at init.
 * `top` and `bottom` sit on separate cache lines: thieves hammer `top`
 * with CAS while the owner writes `bottom` on every push and take.
 */
struct mt_deque {
	_Alignas(MT_CACHELINE) _Atomic int64_t top; /* A: next index to steal */
	_Alignas(MT_CACHELINE) _Atomic int64_t
		bottom; /* A (written by O): next push index */
	_Atomic(struct mt_deque_buf *) buf; /* A (written by O): current ring */
	struct mt_deque_buf *retired;	    /* O: list of outgrown rings */
};

enum mt_steal_result {
	MT_STEAL_OK = 0,    /* *item holds a stolen item */
	MT_STEAL_EMPTY = 1, /* the deque was empty */
	MT_STEAL_RETRY = 2  /* lost a race with another thief or the owner */
};

/* Returns 0 or ENOMEM (nothing allocated), EINVAL if log2_capacity is not
 * in 1 .. 40. */
MT_HIDDEN int mt__deque_init(struct mt_deque *d, unsigned log2_capacity);

/* Test hook: as init, but top = bottom = start, so tests can place the
 * indices anywhere (for example so that the ring wraps at once).
 * start must be >= 0 and <= INT64_MAX / 2. */
MT_HIDDEN int mt__deque_init_at(struct mt_deque *d, unsigned log2_capacity,
				int64_t start);

/* Frees the live and retired buffers. No thread may use d any more.
 * Items still in the deque are not touched (the caller drains it first). */
MT_HIDDEN void mt__deque_destroy(struct mt_deque *d);

/* OWNER ONLY. Pushes item (non-NULL) at the bottom. Grows the ring when
 * full. Returns 0, or ENOMEM if the ring was full and could not grow: the
 * item is NOT in the deque and the caller runs it inline. */
MT_HIDDEN int mt__deque_push_owner(struct mt_deque *d, void *item);

/* OWNER ONLY. Takes the most recently pushed item, or NULL if empty. */
MT_HIDDEN void *mt__deque_take_owner(struct mt_deque *d);

/* ANY THREAD. Tries to take the oldest item into *item. */
MT_HIDDEN enum mt_steal_result mt__deque_steal(struct mt_deque *d, void **item);

/* ANY THREAD. Number of items at the moment of the two loads (may be stale
 * or even negative transiently; treat <= 0 as empty). Both loads are
 * seq_cst: a worker going to sleep uses this to re-check for work after
 * announcing itself (the no-lost-wake-up argument in pool/park.c needs
 * them to be ordered after its announcement). */
MT_HIDDEN int64_t mt__deque_size_seq_cst(struct mt_deque *d);

/* Current capacity (tests). OWNER or quiescent only. */
MT_HIDDEN int64_t mt__deque_capacity(struct mt_deque *d);

#endif /* MTPOOL_POOL_DEQUE_H */
