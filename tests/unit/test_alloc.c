/*
 * tests/unit/test_alloc.c: the allocation entry point (pool/alloc.c) with
 * sizes at the edge of size_t.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"

/* Rounding SIZE_MAX - 62 up to a multiple of 64 wraps to 0; the allocator
 * must refuse the size rather than hand out a 64-byte block for it. */
Test(alloc, size_that_cannot_be_rounded_up_is_NULL_and_errno_is_kept)
{
	static const size_t sizes[] = {SIZE_MAX, SIZE_MAX - 62,
				       (size_t)PTRDIFF_MAX + 1};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		errno = 4242;
		cr_assert_null(mt__alloc_aligned(64, sizes[i]), "size %zu",
			       sizes[i]);
		cr_assert_null(mt__alloc(sizes[i]), "size %zu", sizes[i]);
		cr_assert_eq(errno, 4242);
	}
}

Test(alloc, aligned_sizes_round_up_to_the_alignment)
{
	for (size_t size = 0; size <= 130; size++) {
		unsigned char *p = mt__alloc_aligned(64, size);
		cr_assert_not_null(p);
		cr_assert_eq((uintptr_t)p % 64, 0);
		for (size_t i = 0; i < size; i++)
			p[i] = (unsigned char)i; /* ASan checks the bounds */
		mt__free(p);
	}
}
