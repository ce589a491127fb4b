/*
 * mtbench runtime: libuv's work queue (uv_queue_work).
 *
 * Overview
 * ========
 * A libuv program runs a loop on one thread and hands blocking or CPU work
 * to libuv's thread pool with uv_queue_work(); the completion callback
 * (after_work) runs back on the loop thread. Here the caller (mtbench's
 * main thread) is the loop thread, which is how such a program is
 * written:
 *   detached   uv_queue_work of a heap request {uv_work_t, fn, arg}; the
 *              work runs on a pool thread at once, without the loop
 *              running; quiesce runs the loop (uv_run, UV_RUN_DEFAULT)
 *              until no request is left, i.e. every after_work has run;
 *   for, map   up to 4 chunks per thread, each a uv_work_t in the
 *              caller's frame, then uv_run until all have completed.
 * uv_queue_work may only be called on the loop thread. A thread that is
 * not the loop's would hand work over with uv_async_send() and a locked
 * list, one more hop per submission; it is not what these rows measure.
 *
 * Not available
 * =============
 * fib: a work callback cannot queue work (uv_queue_work is loop-thread
 * only) nor wait for it without blocking a pool thread: no nested
 * fork-join. Resizing: the pool is process-wide and sized once, from
 * UV_THREADPOOL_SIZE, at its first use; init() with any other worker count
 * later in the process returns ENOTSUP (the one-worker and oversubscribed
 * rows are N/A; bench/compare.sh runs each runtime in its own process).
 *
 * Implementation notes
 * ====================
 * init() sets UV_THREADPOOL_SIZE (libuv's default is 4, not the CPU count)
 * and queues one empty request, so the pool's threads exist before the
 * first timed call, as every other runtime's do. wait_parked asks the
 * kernel (bench_wait_threads_asleep): idle pool threads block on a
 * condition variable.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "bench.h"

#define STR_(x) #x
#define STR(x) STR_(x)
/* The libuv version, for the runtime's note. */
#define UV_VERSION_STR        \
	STR(UV_VERSION_MAJOR) \
	"." STR(UV_VERSION_MINOR) "." STR(UV_VERSION_PATCH)

/* Chunks per pool thread for loops and maps, as in rt_glib.c. */
#define CHUNKS_PER_THREAD 4u

/* The loop (main thread only) and the pool size fixed at first use. */
static uv_loop_t loop;
static unsigned pool_size;

static int uv_err(int r)
{
	return r == UV_ENOMEM ? ENOMEM : r < 0 ? -r : 0;
}

static void nop_work(uv_work_t *req)
{
	(void)req;
}

static void nop_after(uv_work_t *req, int status)
{
	(void)req;
	(void)status;
}

static int uv_rt_init(unsigned threads)
{
	char size[16];
	uv_work_t warm;
	int r;

	if (pool_size != 0 && pool_size != threads)
		return ENOTSUP;
	snprintf(size, sizeof size, "%u", threads);
	if (pool_size == 0 && setenv("UV_THREADPOOL_SIZE", size, 1) != 0)
		return ENOMEM;
	pool_size = threads;
	if ((r = uv_loop_init(&loop)) != 0)
		return uv_err(r);
	if ((r = uv_queue_work(&loop, &warm, nop_work, nop_after)) == 0)
		r = uv_run(&loop, UV_RUN_DEFAULT) < 0 ? UV_EINVAL : 0;
	if (r != 0)
		uv_loop_close(&loop);
	return uv_err(r);
}

static int uv_rt_quiesce(void)
{
	/* Returns once no active request is left: every after_work ran. */
	uv_run(&loop, UV_RUN_DEFAULT);
	return 0;
}

static int uv_rt_fini(void)
{
	uv_rt_quiesce();
	return uv_err(uv_loop_close(&loop));
}

struct detached_req {
	uv_work_t req;
	void (*fn)(void *arg);
	void *arg;
};

static void detached_work(uv_work_t *req)
{
	struct detached_req *d = (struct detached_req *)req;

	d->fn(d->arg);
}

static void detached_after(uv_work_t *req, int status)
{
	(void)status;
	free(req);
}

static int uv_rt_spawn_detached(void (*fn)(void *arg), void *arg)
{
	struct detached_req *d = malloc(sizeof *d);
	int r;

	if (!d)
		return ENOMEM;
	d->fn = fn;
	d->arg = arg;
	if ((r = uv_queue_work(&loop, &d->req, detached_work,
			       detached_after)) != 0)
		free(d);
	return uv_err(r);
}

struct chunk {
	uv_work_t req;
	size_t lo, hi;
	void (*body)(size_t i, void *ctx);
	void *ctx;
};

static void chunk_work(uv_work_t *req)
{
	struct chunk *c = (struct chunk *)req;

	for (size_t i = c->lo; i < c->hi; i++)
		c->body(i, c->ctx);
}

static int uv_rt_parallel_for(size_t n, void (*body)(size_t i, void *ctx),
			      void *ctx)
{
	struct chunk chunks[CHUNKS_PER_THREAD * 64];
	size_t max = pool_size * CHUNKS_PER_THREAD;
	unsigned k;

	if (max > sizeof chunks / sizeof chunks[0])
		max = sizeof chunks / sizeof chunks[0];
	k = (unsigned)(n < max ? n : max);
	for (unsigned j = 0; j < k; j++) {
		struct chunk *c = &chunks[j];

		*c = (struct chunk){.lo = n * j / k,
				    .hi = n * (j + 1) / k,
				    .body = body,
				    .ctx = ctx};
		/* A chunk that cannot be queued runs here. */
		if (uv_queue_work(&loop, &c->req, chunk_work, nop_after) != 0)
			chunk_work(&c->req);
	}
	/* after_work of every queued chunk has run when uv_run returns:
	 * the chunks' frame may go. */
	uv_run(&loop, UV_RUN_DEFAULT);
	return 0;
}

static int uv_rt_map(void *(*fn)(void *param), void *const *params,
		     void **results, size_t n)
{
	return bench_map_via_for(uv_rt_parallel_for, fn, params, results, n);
}

const struct bench_runtime bench_rt_uv = {
	.name = "uv",
	.note = "libuv " UV_VERSION_STR
		" uv_queue_work, caller is the loop thread, "
		"4 chunks per thread",
	.init = uv_rt_init,
	.fini = uv_rt_fini,
	.spawn_detached = uv_rt_spawn_detached,
	.quiesce = uv_rt_quiesce,
	.parallel_for = uv_rt_parallel_for,
	.map = uv_rt_map,
	.wait_parked = bench_wait_threads_asleep,
	.why_no_fib = "no nested fork-join: work cannot queue work",
	.why_no_resize = "UV_THREADPOOL_SIZE is read once per process",
};
