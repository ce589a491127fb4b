/*
 * bench/probes/for_variants.c: the per-index loop of mt_for, four ways,
 * interleaved in one process (so a shared machine's drift hits all alike):
 *
 *   inline     mt_for as the header compiles it into this binary: the
 *              per-index loop runs here over mt_for_range chunks;
 *   exported   the exported mt_for through a function pointer: the loop
 *              runs in libmtpool.so and calls into this binary per index
 *              (what every caller got before issue 10);
 *   range      mt_for_range with a chunk body that calls the per-index
 *              body through a pointer, written by hand;
 *   pthreads   the same body through the same pointer, in one half per
 *              thread on two raw pthreads: what a balanced loop gets with
 *              no pool at all.
 *
 *   for_variants [WORKERS [REPS]]       (defaults 2 and 31)
 *
 * Each figure is the median over REPS of ns per item of a[i] = 2i+1 over
 * 10M items (the mtbench "for 10M items" workload).
 */
#define _POSIX_C_SOURCE 200809L

#include <mtpool/mtpool.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N 10000000u
#define MAX_REPS 101

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void body(size_t i, void *ctx)
{
	uint64_t *a = ctx;
	a[i] = (uint64_t)i * 2 + 1;
}

/* volatile: the compiler must not inline the body into the loops. */
static void (*volatile body_ptr)(size_t, void *) = body;

typedef int (*for_fn)(mt_pool *, size_t, void (*)(size_t, void *), void *);
static for_fn volatile exported_for = mt_for; /* the library's symbol */

static void range_chunk(size_t lo, size_t hi, void *ctx)
{
	void (*b)(size_t, void *) = body_ptr;
	for (size_t i = lo; i < hi; i++)
		b(i, ctx);
}

struct half {
	size_t lo, hi;
	uint64_t *a;
};

static void *half_loop(void *arg)
{
	struct half *h = arg;
	range_chunk(h->lo, h->hi, h->a);
	return NULL;
}

static int run(mt_pool *p, int v, uint64_t *a)
{
	struct half h1 = {0, N / 2, a}, h2 = {N / 2, N, a};
	pthread_t t;
	switch (v) {
	case 0:
		return mt_for(p, N, body, a);
	case 1:
		return exported_for(p, N, body, a);
	case 2:
		return mt_for_range(p, N, range_chunk, a);
	default:
		if (pthread_create(&t, NULL, half_loop, &h2) != 0)
			return 1;
		half_loop(&h1);
		return pthread_join(t, NULL);
	}
}

static int cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

int main(int argc, char **argv)
{
	static const char *const names[4] = {
		"inline mt_for (loop in this binary)",
		"exported mt_for (loop in libmtpool.so)",
		"mt_for_range, per-index loop by hand",
		"raw pthreads, two halves"};
	unsigned workers = argc > 1 ? (unsigned)atoi(argv[1]) : 2;
	int reps = argc > 2 ? atoi(argv[2]) : 31;
	static double s[4][MAX_REPS];
	if (reps < 1 || reps > MAX_REPS || workers < 1)
		return 2;
	mt_config cfg = {.threads = workers};
	mt_pool *p = mt_pool_create(&cfg);
	uint64_t *a = malloc(N * sizeof *a);
	if (p == NULL || a == NULL)
		return 1;
	for (int r = 0; r < reps; r++)
		for (int v = 0; v < 4; v++) {
			memset(a, 0, N * sizeof *a);
			uint64_t t0 = now_ns();
			if (run(p, v, a) != 0)
				return 1;
			s[v][r] = (double)(now_ns() - t0) / N;
			for (size_t i = 0; i < N; i += 4099)
				if (a[i] != (uint64_t)i * 2 + 1)
					return 1;
		}
	printf("%u workers, median of %d, ns/item:\n", workers, reps);
	for (int v = 0; v < 4; v++) {
		qsort(s[v], (size_t)reps, sizeof s[v][0], cmp);
		printf("  %-40s %.3f (min %.3f)\n", names[v], s[v][reps / 2],
		       s[v][0]);
	}
	mt_pool_destroy(p, MT_DRAIN);
	free(a);
	return 0;
}
