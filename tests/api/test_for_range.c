/*
 * tests/api/test_for_range.c: mt_for_range hands out chunks that
 * partition 0 .. n-1, each index exactly once, on any pool size.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <mtpool/mtpool.h>

struct coverage {
	size_t n;
	_Atomic unsigned char *hits;
	_Atomic size_t chunks;
	_Atomic int bad_range; /* a chunk with lo >= hi or hi > n */
};

static void mark_range(size_t lo, size_t hi, void *ctx)
{
	struct coverage *c = ctx;
	if (lo >= hi || hi > c->n)
		atomic_store(&c->bad_range, 1);
	atomic_fetch_add(&c->chunks, 1);
	for (size_t i = lo; i < hi && i < c->n; i++)
		atomic_fetch_add_explicit(&c->hits[i], 1, memory_order_relaxed);
}

static void check_cover(unsigned threads, size_t n)
{
	mt_config cfg = {.threads = threads};
	mt_pool *p = mt_pool_create(&cfg);
	cr_assert_not_null(p);
	struct coverage c = {.n = n, .hits = calloc(n ? n : 1, 1)};
	cr_assert_not_null(c.hits);
	cr_assert_eq(mt_for_range(p, n, mark_range, &c), 0);
	cr_assert_eq(atomic_load(&c.bad_range), 0,
		     "empty or out-of-range chunk");
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(atomic_load(&c.hits[i]), 1,
			     "index %zu covered %u times", i,
			     (unsigned)atomic_load(&c.hits[i]));
	cr_assert_leq(atomic_load(&c.chunks), n ? n : 0,
		      "never more chunks than items");
	free((void *)c.hits);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(for_range, covers_each_index_once_n_1_one_thread, .timeout = 60)
{
	check_cover(1, 1);
}

Test(for_range, covers_each_index_once_n_65_two_threads, .timeout = 60)
{
	check_cover(2, 65);
}

Test(for_range, covers_each_index_once_n_1000003_four_threads, .timeout = 60)
{
	check_cover(4, 1000003);
}

Test(for_range, covers_each_index_once_n_100000_sixteen_threads, .timeout = 60)
{
	check_cover(16, 100000);
}

Test(for_range, n_0_returns_0_without_calling_body, .timeout = 60)
{
	struct coverage c = {.n = 0};
	cr_assert_eq(mt_for_range(NULL, 0, mark_range, &c), 0);
	cr_assert_eq(atomic_load(&c.chunks), 0);
}

Test(for_range, NULL_body_is_EINVAL, .timeout = 60)
{
	cr_assert_eq(mt_for_range(NULL, 10, NULL, NULL), EINVAL);
}
