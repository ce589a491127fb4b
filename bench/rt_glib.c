/*
 * mtbench runtime: GLib's GThreadPool.
 *
 * Overview
 * ========
 * One exclusive GThreadPool of `threads` threads per init(), freed by
 * fini() after its queue has drained. Every item pushed is a `struct job`
 * whose first member says how to run it, since a GThreadPool has a single
 * function for all its items:
 *   detached   g_thread_pool_push of a heap job {fn, arg}, freed by the
 *              thread that runs it; quiesce waits for a counter of
 *              pending jobs to reach zero;
 *   for, map   the range is cut into up to 4 chunks per thread, each
 *              pushed as a job that lives in the caller's stack frame;
 *              the caller waits on a GMutex + GCond until the chunks are
 *              done. The caller does not help: GThreadPool has no way to
 *              run queued items on a thread outside the pool.
 *
 * Not available
 * =============
 * fib: a task that waits for a child it pushed blocks its pool thread;
 * once every thread waits, the children queued behind them never run. No
 * nested fork-join without a deadlock, hence N/A.
 *
 * Implementation notes
 * ====================
 * Four chunks per thread is the usual hand-chunking of a loop over a
 * fixed pool: enough slack that one slow chunk does not leave the other
 * threads idle for long, few enough that a push (a lock and a node
 * allocation) per chunk stays small against the chunk.
 *
 * A batch lives on the caller's stack, so a chunk's last access to it is
 * the signal under the batch mutex (NOTES.md: a GLib map once read its
 * chunk after signalling, when the caller had already returned). The
 * waiter re-checks `left` under the same mutex, so the signal cannot be
 * lost.
 *
 * Detached: the pending counter is decremented with acq_rel and only the
 * job that brings it to zero takes the static mutex to broadcast; the
 * waiter re-checks under that mutex, so no wake-up is lost (same argument
 * as above).
 *
 * wait_parked asks the kernel (bench_wait_threads_asleep): idle threads of
 * an exclusive pool block in g_async_queue_pop.
 */
#define _POSIX_C_SOURCE 200809L

#include <glib.h>
#include <stdatomic.h>

#include "bench.h"

#define STR_(x) #x
#define STR(x) STR_(x)
/* The GLib version, for the runtime's note. */
#define GLIB_VERSION_STR        \
	STR(GLIB_MAJOR_VERSION) \
	"." STR(GLIB_MINOR_VERSION) "." STR(GLIB_MICRO_VERSION)

/* Chunks per pool thread for loops and maps; see the notes. */
#define CHUNKS_PER_THREAD 4u

struct job {
	void (*run)(struct job *job);
};

/* The live pool and its size; main thread only. */
static GThreadPool *pool;
static unsigned nthreads;

/* Detached jobs not yet finished, and the wait for it to reach zero. */
static atomic_size_t pending;
static GMutex idle_mutex;
static GCond idle_cond;

static void pool_func(gpointer data, gpointer user_data)
{
	struct job *job = data;

	(void)user_data;
	job->run(job);
}

static int glib_init(unsigned threads)
{
	GError *error = NULL;

	pool = g_thread_pool_new(pool_func, NULL, (gint)threads, TRUE, &error);
	if (!pool) {
		g_error_free(error);
		return EAGAIN;
	}
	nthreads = threads;
	return 0;
}

static int glib_quiesce(void)
{
	/* acquire: pairs with the acq_rel decrement of the last job. */
	g_mutex_lock(&idle_mutex);
	while (atomic_load_explicit(&pending, memory_order_acquire) != 0)
		g_cond_wait(&idle_cond, &idle_mutex);
	g_mutex_unlock(&idle_mutex);
	return 0;
}

static int glib_fini(void)
{
	/* immediate = FALSE: the queue drains; wait_ = TRUE: then join. */
	g_thread_pool_free(pool, FALSE, TRUE);
	pool = NULL;
	return 0;
}

struct detached_job {
	struct job job;
	void (*fn)(void *arg);
	void *arg;
};

static void detached_run(struct job *job)
{
	struct detached_job *d = (struct detached_job *)job;

	d->fn(d->arg);
	g_free(d);
	/* acq_rel: release publishes fn's effects to quiesce. */
	if (atomic_fetch_sub_explicit(&pending, 1, memory_order_acq_rel) == 1) {
		g_mutex_lock(&idle_mutex);
		g_cond_broadcast(&idle_cond);
		g_mutex_unlock(&idle_mutex);
	}
}

static int glib_spawn_detached(void (*fn)(void *arg), void *arg)
{
	struct detached_job *d = g_new(struct detached_job, 1);
	GError *error = NULL;

	d->job.run = detached_run;
	d->fn = fn;
	d->arg = arg;
	/* relaxed: the push (a locked queue) publishes it to the job. */
	atomic_fetch_add_explicit(&pending, 1, memory_order_relaxed);
	if (!g_thread_pool_push(pool, d, &error)) {
		atomic_fetch_sub_explicit(&pending, 1, memory_order_relaxed);
		g_error_free(error);
		g_free(d);
		return EAGAIN;
	}
	return 0;
}

/* A loop or map cut into chunks; lives in the caller's frame. */
struct batch {
	GMutex mutex;
	GCond done;
	unsigned left; /* chunks not finished; under `mutex` */
	void (*body)(size_t i, void *ctx);
	void *ctx;
};

struct chunk {
	struct job job;
	struct batch *batch;
	size_t lo, hi;
};

static void chunk_run(struct job *job)
{
	struct chunk *c = (struct chunk *)job;
	struct batch *b = c->batch;

	for (size_t i = c->lo; i < c->hi; i++)
		b->body(i, b->ctx);
	/* The signal is this chunk's last access to the caller's frame. */
	g_mutex_lock(&b->mutex);
	if (--b->left == 0)
		g_cond_signal(&b->done);
	g_mutex_unlock(&b->mutex);
}

/* Pushes chunks[0 .. k-1] of b; returns how many were pushed. */
static unsigned push_chunks(struct batch *b, struct chunk *chunks, unsigned k,
			    size_t n)
{
	GError *error = NULL;
	unsigned pushed = 0;

	for (unsigned j = 0; j < k; j++) {
		chunks[j] = (struct chunk){
			{chunk_run}, b, n * j / k, n * (j + 1) / k};
		if (!g_thread_pool_push(pool, &chunks[j], &error)) {
			g_error_free(error);
			break;
		}
		pushed++;
	}
	return pushed;
}

static int glib_parallel_for(size_t n, void (*body)(size_t i, void *ctx),
			     void *ctx)
{
	struct chunk chunks[CHUNKS_PER_THREAD * 64];
	struct batch b = {.body = body, .ctx = ctx};
	size_t max = nthreads * CHUNKS_PER_THREAD;
	unsigned k, pushed;

	if (max > sizeof chunks / sizeof chunks[0])
		max = sizeof chunks / sizeof chunks[0];
	k = (unsigned)(n < max ? n : max);
	if (k == 0)
		return 0;
	g_mutex_init(&b.mutex);
	g_cond_init(&b.done);
	b.left = k;
	pushed = push_chunks(&b, chunks, k, n);
	/* Chunks that could not be pushed run here, so the batch ends. */
	for (unsigned j = pushed; j < k; j++)
		chunk_run(&chunks[j].job);
	g_mutex_lock(&b.mutex);
	while (b.left != 0)
		g_cond_wait(&b.done, &b.mutex);
	g_mutex_unlock(&b.mutex);
	g_cond_clear(&b.done);
	g_mutex_clear(&b.mutex);
	return 0;
}

static int glib_map(void *(*fn)(void *param), void *const *params,
		    void **results, size_t n)
{
	return bench_map_via_for(glib_parallel_for, fn, params, results, n);
}

const struct bench_runtime bench_rt_glib = {
	.name = "glib",
	.note = "GLib " GLIB_VERSION_STR " GThreadPool (exclusive), "
		"4 chunks per thread, caller waits",
	.init = glib_init,
	.fini = glib_fini,
	.spawn_detached = glib_spawn_detached,
	.quiesce = glib_quiesce,
	.parallel_for = glib_parallel_for,
	.map = glib_map,
	.wait_parked = bench_wait_threads_asleep,
	.why_no_fib = "no nested fork-join: a waiting task blocks",
};
