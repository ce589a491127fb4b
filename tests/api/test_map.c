/*
 * tests/api/test_map.c: mt_map and mt_for through the public API.
 *
 * mt_map is checked with results[i] = f(params[i]) where params[i] encodes
 * i, so a result written to the wrong slot, twice, or not at all is seen;
 * each fn call also bumps a per-index counter so "called exactly once per
 * index" is checked separately from the result values. mt_for is checked
 * with one counter per index.
 *
 * Sizes 0, 1, 2, 63, 64, 65 sit around likely split grains; 1000003 is a
 * large prime so no power-of-two split divides it evenly.
 *
 * Order: simple -> edge cases (n == 0, EINVAL, aliasing) -> many threads.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_getname_np, pthread_barrier_t under -std=c11 */
#endif
#include <criterion/criterion.h>
#include <mtpool/mtpool.h>

#include "../common/mt_test.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#define BIG_N 1000003u

/* params[i] = P(i), results[i] must be F(P(i)). P never yields NULL and F
 * is not the identity, so an untouched result slot or aliasing mistakes are
 * caught. */
static void *P(size_t i)
{
	return (void *)(uintptr_t)(i * 4u + 8u);
}

static void *F(void *param)
{
	uintptr_t x = (uintptr_t)param;
	return (void *)(x * 3u + 1u);
}

static atomic_uchar *calls; /* calls[i]: times fn saw P(i); saturates */

static void *f_counted(void *param)
{
	uintptr_t i = ((uintptr_t)param - 8u) / 4u;
	atomic_fetch_add_explicit(&calls[i], 1, memory_order_relaxed);
	return F(param);
}

static void check_map(mt_pool *p, size_t n)
{
	void **params = malloc((n ? n : 1) * sizeof *params);
	void **results = malloc((n ? n : 1) * sizeof *results);
	calls = calloc(n ? n : 1, sizeof *calls);
	cr_assert(params && results && calls);
	for (size_t i = 0; i < n; i++) {
		params[i] = P(i);
		results[i] = NULL;
	}
	cr_assert_eq(mt_map(p, f_counted, params, results, n), 0, "n = %zu", n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(results[i], F(P(i)), "n = %zu: results[%zu] wrong",
			     n, i);
		cr_assert_eq(atomic_load(&calls[i]), 1,
			     "n = %zu: fn called %d times for %zu", n,
			     atomic_load(&calls[i]), i);
		cr_assert_eq(params[i], P(i), "params[%zu] modified", i);
	}
	free(params);
	free(results);
	free(calls);
}

/* check_map on a fresh pool of `threads` workers, destroyed afterwards. */
static void check_map_on_new_pool(unsigned threads, size_t n)
{
	mt_pool *p = mt_test_pool(threads);
	check_map(p, n);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

static void check_map_sizes(unsigned threads)
{
	static const size_t sizes[] = {0, 1, 2, 63, 64, 65, 1000, BIG_N};
	mt_pool *p = mt_test_pool(threads);
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
		check_map(p, sizes[k]);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(map, keeps_input_order_n_0, .timeout = 60)
{
	check_map_on_new_pool(2, 0);
}

Test(map, keeps_input_order_n_1, .timeout = 60)
{
	check_map_on_new_pool(2, 1);
}

Test(map, keeps_input_order_n_2, .timeout = 60)
{
	check_map_on_new_pool(2, 2);
}

Test(map, keeps_input_order_n_63, .timeout = 60)
{
	check_map_on_new_pool(2, 63);
}

Test(map, keeps_input_order_n_64, .timeout = 60)
{
	check_map_on_new_pool(2, 64);
}

Test(map, keeps_input_order_n_65, .timeout = 60)
{
	check_map_on_new_pool(2, 65);
}

Test(map, keeps_input_order_n_1000003, .timeout = 60)
{
	check_map_on_new_pool(2, BIG_N);
}

Test(map, keeps_input_order_all_sizes_on_one_thread_pool, .timeout = 60)
{
	check_map_sizes(1);
}

Test(map, keeps_input_order_all_sizes_on_eight_thread_pool, .timeout = 60)
{
	check_map_sizes(8);
}

Test(map, keeps_input_order_on_default_pool_via_NULL, .timeout = 60)
{
	check_map(NULL, 65);
	check_map(NULL, 100000);
}

Test(map, keeps_input_order_every_n_up_to_300, .timeout = 60)
{
	mt_pool *p = mt_test_pool(3);
	for (size_t n = 0; n <= 300; n++)
		check_map(p, n);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* ---- edge cases -------------------------------------------------------- */

static atomic_int never_calls;

static void *must_not_run(void *param)
{
	(void)param;
	atomic_fetch_add(&never_calls, 1);
	return NULL;
}

static void body_must_not_run(size_t i, void *ctx)
{
	(void)i;
	(void)ctx;
	atomic_fetch_add(&never_calls, 1);
}

Test(map, n_0_returns_0_with_NULL_params_and_results, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	cr_assert_eq(mt_map(p, must_not_run, NULL, NULL, 0), 0);
	cr_assert_eq(mt_map(NULL, must_not_run, NULL, NULL, 0), 0);
	cr_assert_eq(mt_for(p, 0, body_must_not_run, NULL), 0);
	cr_assert_eq(atomic_load(&never_calls), 0);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(map, NULL_fn_is_EINVAL, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	void *params[4] = {P(0), P(1), P(2), P(3)};
	void *results[4] = {0};
	cr_assert_eq(mt_map(p, NULL, params, results, 4), EINVAL);
	cr_assert_eq(mt_map(p, NULL, NULL, NULL, 0), EINVAL);
	for (int i = 0; i < 4; i++)
		cr_assert_null(results[i]);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(map, NULL_params_or_results_with_n_positive_is_EINVAL, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	void *params[4] = {P(0), P(1), P(2), P(3)};
	void *results[4] = {0};
	cr_assert_eq(mt_map(p, must_not_run, NULL, results, 4), EINVAL);
	cr_assert_eq(mt_map(p, must_not_run, params, NULL, 4), EINVAL);
	cr_assert_eq(mt_map(p, must_not_run, NULL, NULL, 1), EINVAL);
	cr_assert_eq(atomic_load(&never_calls), 0);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(map, results_may_alias_params, .timeout = 60)
{
	mt_pool *p = mt_test_pool(3);
	static const size_t sizes[] = {1, 2, 63, 64, 65, 100000};
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		size_t n = sizes[k];
		void **buf = malloc(n * sizeof *buf);
		cr_assert_not_null(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = P(i);
		cr_assert_eq(mt_map(p, F, buf, buf, n), 0);
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(buf[i], F(P(i)), "n = %zu, slot %zu", n,
				     i);
		free(buf);
	}
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* ---- mt_for ------------------------------------------------------------ */

struct for_ctx {
	atomic_uchar *hits;
	size_t n;
	atomic_int out_of_range;
};

static void for_body(size_t i, void *ctx)
{
	struct for_ctx *c = ctx;
	if (i >= c->n) {
		atomic_fetch_add(&c->out_of_range, 1);
		return;
	}
	atomic_fetch_add_explicit(&c->hits[i], 1, memory_order_relaxed);
}

static void check_for(mt_pool *p, size_t n)
{
	struct for_ctx c = {.hits = calloc(n ? n : 1, 1), .n = n};
	cr_assert_not_null(c.hits);
	atomic_init(&c.out_of_range, 0);
	cr_assert_eq(mt_for(p, n, for_body, &c), 0, "n = %zu", n);
	cr_assert_eq(atomic_load(&c.out_of_range), 0);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(atomic_load(&c.hits[i]), 1,
			     "n = %zu: index %zu hit %d times", n, i,
			     atomic_load(&c.hits[i]));
	free(c.hits);
}

static void check_for_sizes(unsigned threads)
{
	static const size_t sizes[] = {0, 1, 2, 63, 64, 65, 1000, BIG_N};
	mt_pool *p = mt_test_pool(threads);
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
		check_for(p, sizes[k]);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(for, covers_each_index_exactly_once_on_one_thread_pool, .timeout = 60)
{
	check_for_sizes(1);
}

Test(for, covers_each_index_exactly_once_on_two_thread_pool, .timeout = 60)
{
	check_for_sizes(2);
}

Test(for, covers_each_index_exactly_once_on_eight_thread_pool, .timeout = 60)
{
	check_for_sizes(8);
}

Test(for, covers_each_index_exactly_once_on_default_pool, .timeout = 60)
{
	check_for(NULL, 65);
	check_for(NULL, BIG_N);
}

Test(for, NULL_body_is_EINVAL, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	cr_assert_eq(mt_for(p, 10, NULL, NULL), EINVAL);
	cr_assert_eq(mt_for(p, 0, NULL, NULL), EINVAL);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* The header's inline mt_for (above) and the exported symbol, which a
 * function pointer reaches, must behave alike. volatile: the compiler
 * must not see through the pointer and inline the header's copy. */
typedef int (*for_fn)(mt_pool *, size_t, void (*)(size_t, void *), void *);
static for_fn volatile exported_for = mt_for;

Test(for, exported_symbol_covers_each_index_exactly_once_too, .timeout = 60)
{
	static const size_t sizes[] = {0, 1, 65, 1000, BIG_N};
	mt_pool *p = mt_test_pool(2);
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		size_t n = sizes[k];
		struct for_ctx c = {.hits = calloc(n ? n : 1, 1), .n = n};
		cr_assert_not_null(c.hits);
		atomic_init(&c.out_of_range, 0);
		cr_assert_eq(exported_for(p, n, for_body, &c), 0);
		cr_assert_eq(atomic_load(&c.out_of_range), 0);
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(atomic_load(&c.hits[i]), 1);
		free(c.hits);
	}
	cr_assert_eq(exported_for(p, 10, NULL, NULL), EINVAL);
	cr_assert_eq(exported_for(p, 0, NULL, NULL), EINVAL);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(for, NULL_ctx_is_passed_through, .timeout = 60)
{
	/* ctx is the caller's; NULL is a legal ctx. */
	mt_pool *p = mt_test_pool(2);
	atomic_store(&never_calls, 0);
	cr_assert_eq(mt_for(p, 100, body_must_not_run, NULL), 0);
	cr_assert_eq(atomic_load(&never_calls), 100);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* ---- several external threads mapping at once --------------------------- */

#define MAPPERS 4
#define MAP_ROUNDS 20
#define MAP_N 20011

static mt_pool *shared_pool;
static pthread_barrier_t mappers_ready;

/* Each mapper uses its own offset so one mapper's results cannot pass for
 * another's. */
static void *G(void *param)
{
	return (void *)((uintptr_t)param * 5u + 3u);
}

static void *mapper(void *arg)
{
	uintptr_t k = (uintptr_t)arg;
	void **params = malloc(MAP_N * sizeof *params);
	void **results = malloc(MAP_N * sizeof *results);
	uintptr_t bad = 0;
	if (!params || !results)
		return (void *)1;
	pthread_barrier_wait(&mappers_ready);
	for (int r = 0; r < MAP_ROUNDS && !bad; r++) {
		uintptr_t base =
			(k * MAP_ROUNDS + (uintptr_t)r) * MAP_N * 2u + 1u;
		for (size_t i = 0; i < MAP_N; i++) {
			params[i] = (void *)(base + i);
			results[i] = NULL;
		}
		size_t n = MAP_N - (size_t)r * 7u; /* vary n a little */
		if (mt_map(shared_pool, G, params, results, n) != 0)
			bad = 2;
		for (size_t i = 0; i < n && !bad; i++)
			if (results[i] != G((void *)(base + i)))
				bad = 3;
		for (size_t i = n; i < MAP_N && !bad; i++)
			if (results[i] != NULL)
				bad = 4; /* wrote past n */
	}
	free(params);
	free(results);
	return (void *)bad;
}

static void concurrent_maps_on(mt_pool *p)
{
	shared_pool = p;
	cr_assert_eq(pthread_barrier_init(&mappers_ready, NULL, MAPPERS), 0);
	pthread_t t[MAPPERS];
	for (uintptr_t k = 0; k < MAPPERS; k++)
		cr_assert_eq(pthread_create(&t[k], NULL, mapper, (void *)k), 0);
	for (int k = 0; k < MAPPERS; k++) {
		void *rc;
		cr_assert_eq(pthread_join(t[k], &rc), 0);
		cr_assert_null(rc, "mapper %d failed with code %d", k,
			       (int)(uintptr_t)rc);
	}
	pthread_barrier_destroy(&mappers_ready);
}

Test(map, from_four_external_threads_at_once_on_two_thread_pool, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	concurrent_maps_on(p);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(map, from_four_external_threads_at_once_on_one_thread_pool, .timeout = 60)
{
	mt_pool *p = mt_test_pool(1);
	concurrent_maps_on(p);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(map, from_four_external_threads_at_once_on_default_pool, .timeout = 60)
{
	concurrent_maps_on(NULL);
}

/* ---- map from inside a detached task ----------------------------------- */

static atomic_int task_map_rc = -1;
static atomic_int task_map_bad = -1;

static void map_in_task(void *arg)
{
	(void)arg;
	enum {
		N = 5000
	};
	static void *params[N], *results[N];
	for (size_t i = 0; i < N; i++)
		params[i] = P(i);
	atomic_store(&task_map_rc,
		     mt_map(mt_current_pool(), F, params, results, N));
	int bad = 0;
	for (size_t i = 0; i < N; i++)
		bad += results[i] != F(P(i));
	atomic_store(&task_map_bad, bad);
}

Test(map, from_inside_a_detached_task_on_one_thread_pool, .timeout = 60)
{
	mt_pool *p = mt_test_pool(1);
	cr_assert_eq(mt_spawn(p, map_in_task, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(atomic_load(&task_map_rc), 0);
	cr_assert_eq(atomic_load(&task_map_bad), 0);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* A task on pool A maps on pool B: "any thread, including inside tasks of
 * any pool". */
static mt_pool *map_target;

static void map_on_other_pool(void *arg)
{
	(void)arg;
	enum {
		N = 3000
	};
	static void *params[N], *results[N];
	for (size_t i = 0; i < N; i++)
		params[i] = P(i);
	atomic_store(&task_map_rc, mt_map(map_target, F, params, results, N));
	int bad = 0;
	for (size_t i = 0; i < N; i++)
		bad += results[i] != F(P(i));
	atomic_store(&task_map_bad, bad);
}

Test(map, from_a_task_of_another_pool, .timeout = 60)
{
	mt_pool *a = mt_test_pool(1);
	map_target = mt_test_pool(2);
	cr_assert_eq(mt_spawn(a, map_on_other_pool, NULL), 0);
	cr_assert_eq(mt_quiesce(a), 0);
	cr_assert_eq(atomic_load(&task_map_rc), 0);
	cr_assert_eq(atomic_load(&task_map_bad), 0);
	cr_assert_eq(mt_pool_destroy(a, MT_DRAIN), 0);
	cr_assert_eq(mt_pool_destroy(map_target, MT_DRAIN), 0);
}
