/*
 * pool/futex.h: the two OS waiting primitives the pool needs, behind a
 * small ops table so tests can count or delay them.
 *
 * Overview
 * ========
 * mt__os_wait(addr, expected) sleeps while *addr == expected (it may
 * return early for any reason: callers loop); mt__os_wake(addr, n) wakes up
 * to n sleepers of addr. On Linux these are FUTEX_WAIT_PRIVATE and
 * FUTEX_WAKE_PRIVATE (futex.c). Untimed: once parked, nothing wakes a
 * thread but a wake on its address.
 *
 * Waking a stale address is harmless: the kernel uses the address only as
 * a key, and every futex user must tolerate spurious wake-ups. The latch
 * (latch.c) relies on this: its last finisher may wake after the waiter
 * has already returned and reused the memory.
 *
 * The ck_ec event counts that park workers use the same two functions
 * through mt__ck_ec_mode (see park.c).
 */
#ifndef MTPOOL_POOL_FUTEX_H
#define MTPOOL_POOL_FUTEX_H

#include <stdint.h>

#include "cc.h"

struct mt_os_wait_ops {
	void (*wait)(const uint32_t *addr, uint32_t expected);
	void (*wake)(const uint32_t *addr, int count);
};

/* The ops in use; tests may swap in their own (before creating pools). */
MT_HIDDEN extern const struct mt_os_wait_ops *mt__os_wait_ops;
MT_HIDDEN extern const struct mt_os_wait_ops mt__os_wait_ops_futex;

static inline void mt__os_wait(const uint32_t *addr, uint32_t expected)
{
	mt__os_wait_ops->wait(addr, expected);
}

static inline void mt__os_wake(const uint32_t *addr, int count)
{
	mt__os_wait_ops->wake(addr, count);
}

#endif /* MTPOOL_POOL_FUTEX_H */
