/*
 * pool/alloc.h: the one allocation entry point of the library, with a
 * fault-injection hook for tests.
 *
 * Overview
 * ========
 * Every heap allocation in pool/ and api/ goes through mt__alloc() and
 * mt__free(), so a test can make the N-th allocation fail and check that
 * the caller gets ENOMEM, nothing leaks, and the pool still works.
 *
 * Usage (tests only)
 * ==================
 *   mt__fault_fail_allocs_after(3);   the 4th allocation from now fails,
 *                                     and every later one until reset
 *   mt__fault_fail_allocs_after(-1);  no more injected failures
 *   mt__fault_fail_allocs_count(1);   optional: only that many fail
 *
 * Implementation notes
 * ====================
 * The countdown is one relaxed atomic: tests arm it from one thread and the
 * exact interleaving of allocations between threads is not promised.
 */
#ifndef MTPOOL_POOL_ALLOC_H
#define MTPOOL_POOL_ALLOC_H

#include <stddef.h>

#include "cc.h"

/* malloc that honours the fault hook; NULL on (real or injected) failure,
 * and for a size above PTRDIFF_MAX without calling the allocator. Never
 * changes errno: callers report ENOMEM. */
MT_HIDDEN void *mt__alloc(size_t size);
/* aligned_alloc-like (alignment a power of two up to 4096, size any);
 * the size limit and fault hook as mt__alloc. */
MT_HIDDEN void *mt__alloc_aligned(size_t alignment, size_t size);
/* free; NULL is a no-op. */
MT_HIDDEN void mt__free(void *p);

/* Test hooks. n < 0 disarms. After n more successful allocations, the
 * following ones fail (all of them, or `count` of them, see below). */
MT_HIDDEN void mt__fault_fail_allocs_after(long n);
/* How many allocations fail once the countdown hits zero; < 0 = all. */
MT_HIDDEN void mt__fault_fail_allocs_count(long count);

/* Test hook for thread creation (pool.c): n < 0 disarms; otherwise the
 * creation attempt after n successful ones fails with EAGAIN, once. */
MT_HIDDEN void mt__fault_fail_thread_create_after(long n);
/* pool.c asks before each pthread_create; nonzero means fail it. */
MT_HIDDEN int mt__fault_thread_create_fails(void);

/* Test hook for mutex creation (inject.c): n < 0 disarms; otherwise the
 * pthread_mutex_init after n successful ones fails with EAGAIN, once. */
MT_HIDDEN void mt__fault_fail_mutex_init_after(long n);
/* inject.c asks before pthread_mutex_init; nonzero means fail it. */
MT_HIDDEN int mt__fault_mutex_init_fails(void);

#endif /* MTPOOL_POOL_ALLOC_H */
