/*
 * The sequential baselines: a bench_runtime that runs everything on the
 * calling thread.
 *
 * Overview
 * ========
 * Every workload in mtbench.c is timed on this runtime in the same run as
 * the parallel one, so each figure is printed beside what the same work
 * costs with no pool at all (STYLE.md point 42, after the "-seq"
 * variants of Lace's benchmarks).
 *
 * Implementation notes
 * ====================
 * The loops call the workload's body through the same function pointer
 * the parallel runtimes get; this file is compiled on its own, so without
 * LTO the compiler cannot inline the body into the loop, and the baseline
 * pays the same per-item call the parallel run pays. The one exception is
 * bench_seq_fill(), the "plain loop" of the 10M-item workload, which is
 * written the way a program without a pool would write it, so the speedup
 * printed against it is the speedup a user would actually see.
 *
 * bench_pthreads_for() is the other baseline of that workload: the same
 * body through the same pointer, split in equal halves (one part per
 * worker) on raw pthreads created for the call. It is the best a pool can
 * hope for on a balanced loop, so it tells how much of a pool's figure is
 * the machine: on this 2-vCPU VM it gains only 1.1-1.3x over one thread.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdlib.h>

#include "bench.h"

static int seq_init(unsigned threads)
{
	(void)threads;
	return 0;
}

static int seq_fini(void)
{
	return 0;
}

static int seq_spawn_detached(void (*fn)(void *arg), void *arg)
{
	fn(arg);
	return 0;
}

static int seq_quiesce(void)
{
	return 0;
}

static int seq_parallel_for(size_t n, void (*body)(size_t i, void *ctx),
			    void *ctx)
{
	for (size_t i = 0; i < n; i++)
		body(i, ctx);
	return 0;
}

static int seq_parallel_for_range(size_t n,
				  void (*body)(size_t lo, size_t hi, void *ctx),
				  void *ctx)
{
	body(0, n, ctx);
	return 0;
}

static int seq_map(void *(*fn)(void *param), void *const *params,
		   void **results, size_t n)
{
	for (size_t i = 0; i < n; i++)
		results[i] = fn(params[i]);
	return 0;
}

static uint64_t fib(unsigned n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static int seq_fib(unsigned n, uint64_t *out)
{
	*out = fib(n);
	return 0;
}

void bench_seq_fill(uint64_t *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		a[i] = (uint64_t)i * 2 + 1;
}

struct split_part {
	size_t lo, hi; /* IN: the range [lo, hi) */
	void (*body)(size_t i, void *ctx);
	void *ctx;
};

static void *split_run(void *arg)
{
	struct split_part *p = arg;

	for (size_t i = p->lo; i < p->hi; i++)
		p->body(i, p->ctx);
	return NULL;
}

int bench_pthreads_for(unsigned parts, size_t n,
		       void (*body)(size_t i, void *ctx), void *ctx)
{
	struct split_part *p = malloc(parts * sizeof *p);
	pthread_t *t = malloc(parts * sizeof *t);
	unsigned made = 0;
	int err = p && t ? 0 : ENOMEM;

	for (unsigned k = 0; err == 0 && k < parts; k++)
		p[k] = (struct split_part){n * k / parts, n * (k + 1) / parts,
					   body, ctx};
	/* The caller runs the last part, as a pool's caller would wait. */
	while (err == 0 && made + 1 < parts)
		if ((err = pthread_create(&t[made], NULL, split_run,
					  &p[made])) == 0)
			made++;
	if (err == 0)
		split_run(&p[parts - 1]);
	while (made > 0)
		pthread_join(t[--made], NULL);
	free(t);
	free(p);
	return err;
}

const struct bench_runtime bench_rt_seq = {
	.name = "seq",
	.note = "sequential baseline on the calling thread",
	.init = seq_init,
	.fini = seq_fini,
	.spawn_detached = seq_spawn_detached,
	.quiesce = seq_quiesce,
	.parallel_for = seq_parallel_for,
	.parallel_for_range = seq_parallel_for_range,
	.map = seq_map,
	.fib = seq_fib,
	.wait_parked = NULL,
	.why_no_parked = "no threads to park",
};

struct map_ctx {
	void *(*fn)(void *param);
	void *const *params;
	void **results;
};

static void map_body(size_t i, void *ctx)
{
	struct map_ctx *m = ctx;

	m->results[i] = m->fn(m->params[i]);
}

int bench_map_via_for(int (*parallel_for)(size_t n,
					  void (*body)(size_t i, void *ctx),
					  void *ctx),
		      void *(*fn)(void *param), void *const *params,
		      void **results, size_t n)
{
	struct map_ctx m = {fn, params, results};

	return parallel_for(n, map_body, &m);
}
