/*
 * pool/alloc.c: allocation with a fault-injection countdown (see alloc.h).
 */
#include "alloc.h"

#include <errno.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

/* Both counters are relaxed: they carry no data between threads, and the
 * tests that arm them only need each allocation to see some recent value. */
static _Atomic long fault_countdown = -1; /* < 0: disarmed */
static _Atomic long fault_failures = -1;  /* < 0: fail all once triggered */

static int injected_failure(void)
{
	long left =
		atomic_load_explicit(&fault_countdown, memory_order_relaxed);
	if (left < 0)
		return 0;
	if (left > 0) {
		atomic_fetch_sub_explicit(&fault_countdown, 1,
					  memory_order_relaxed);
		return 0;
	}
	long fails =
		atomic_load_explicit(&fault_failures, memory_order_relaxed);
	if (fails == 0)
		return 0;
	if (fails > 0)
		atomic_fetch_sub_explicit(&fault_failures, 1,
					  memory_order_relaxed);
	return 1;
}

/* No object may be larger than PTRDIFF_MAX (pointer differences within
 * it must be representable), and glibc's allocator refuses such sizes
 * anyway. Refusing them here, before any arithmetic on the size, keeps the
 * rounding below from wrapping (SIZE_MAX - 62 rounded up to 64 is 0) and
 * gives every build the same answer: sanitizer allocators abort on such
 * sizes instead of returning NULL. */
static int size_too_large(size_t size)
{
	return size > PTRDIFF_MAX;
}

/* The library's int-returning functions promise to leave errno alone
 * (mtpool.h), and a failing malloc sets it: callers report ENOMEM
 * themselves. */
static void *keep_errno(void *p, int saved)
{
	errno = saved;
	return p;
}

void *mt__alloc(size_t size)
{
	if (size_too_large(size) || injected_failure())
		return NULL;
	int saved = errno;
	return keep_errno(malloc(size), saved);
}

void *mt__alloc_aligned(size_t alignment, size_t size)
{
	if (size_too_large(size) || injected_failure())
		return NULL;
	/* aligned_alloc wants size to be a multiple of the alignment; with
	 * size <= PTRDIFF_MAX and a small alignment the sum cannot wrap. */
	size_t rounded = (size + alignment - 1) & ~(alignment - 1);
	int saved = errno;
	return keep_errno(
		aligned_alloc(alignment, rounded ? rounded : alignment), saved);
}

void mt__free(void *p)
{
	free(p);
}

void mt__fault_fail_allocs_after(long n)
{
	atomic_store_explicit(&fault_countdown, n, memory_order_relaxed);
}

void mt__fault_fail_allocs_count(long count)
{
	atomic_store_explicit(&fault_failures, count, memory_order_relaxed);
}

/* One-shot countdowns for the other resources pools create; relaxed as
 * above. */
static _Atomic long thread_fault_countdown = -1;
static _Atomic long mutex_fault_countdown = -1;

static int countdown_fails(_Atomic long *countdown)
{
	long left = atomic_load_explicit(countdown, memory_order_relaxed);
	if (left < 0)
		return 0;
	atomic_store_explicit(countdown, left - 1, memory_order_relaxed);
	return left == 0;
}

void mt__fault_fail_thread_create_after(long n)
{
	atomic_store_explicit(&thread_fault_countdown, n, memory_order_relaxed);
}

int mt__fault_thread_create_fails(void)
{
	return countdown_fails(&thread_fault_countdown);
}

void mt__fault_fail_mutex_init_after(long n)
{
	atomic_store_explicit(&mutex_fault_countdown, n, memory_order_relaxed);
}

int mt__fault_mutex_init_fails(void)
{
	return countdown_fails(&mutex_fault_countdown);
}
