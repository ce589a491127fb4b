/*
 * cmake/criterion_tsan_shim.c: lets Criterion 2.4.1 (Debian 12) start under
 * ThreadSanitizer. Linked into every test executable of an MTPOOL_TSAN
 * build, and into nothing else.
 *
 * Why
 * ===
 * Criterion's sandbox (BoxFort) maps its shared "inheritable arena" with
 * MAP_FIXED at base 0x200000000000 + (rand_r() & 0x3fffff) * 16 MiB, tries
 * ten such addresses, and aborts with "Could not initialize inheritable
 * arena" (or crashes later) when none is usable. Under TSan on x86-64 only
 * 0x550000000000 .. 0x568000000000 of that window is application memory;
 * the rest is TSan's shadow, metadata or reserved gaps, so nine runs in ten
 * died before running a test (Criterion issue #274, still open).
 *
 * What
 * ====
 * This file defines rand_r(), which the executable exports in place of
 * glibc's. Calls from libcriterion get an index inside TSan's application
 * range (BoxFort still checks the pages are free with mincore() before
 * mapping); every other caller gets glibc's exact sequence, so tests that
 * use rand_r() see no difference.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

/* BoxFort's arena index r maps to 0x200000000000 + r * 2^24; TSan's
 * application range 0x550000000000 .. 0x568000000000 is r in this span. */
#define ARENA_INDEX_FIRST 0x350000u
#define ARENA_INDEX_COUNT 0x18000u

static int called_from_criterion(const void *return_address)
{
	Dl_info info;

	if (!dladdr(return_address, &info) || !info.dli_fname)
		return 0;
	return strstr(info.dli_fname, "libcriterion") != NULL;
}

/* glibc 2.36 stdlib/rand_r.c, so other callers see the usual sequence. */
static int glibc_rand_r(unsigned int *seed)
{
	unsigned int next = *seed;
	int result;

	next *= 1103515245;
	next += 12345;
	result = (unsigned int)(next / 65536) % 2048;
	next *= 1103515245;
	next += 12345;
	result <<= 10;
	result ^= (unsigned int)(next / 65536) % 1024;
	next *= 1103515245;
	next += 12345;
	result <<= 10;
	result ^= (unsigned int)(next / 65536) % 1024;
	*seed = next;
	return result;
}

int rand_r(unsigned int *seed)
{
	int r = glibc_rand_r(seed);

	if (!called_from_criterion(__builtin_return_address(0)))
		return r;
	return (int)(ARENA_INDEX_FIRST + (unsigned int)r % ARENA_INDEX_COUNT);
}
