/*
 * pool/task.c: task memory, a per-thread cache over a shared depot.
 *
 * Implementation notes
 * ====================
 * The cache is a thread-local singly linked list, touched only by its
 * thread. When it grows past MT_TASK_CACHE_MAX the thread moves a batch of
 * MT_TASK_BATCH tasks to the depot; when it is empty the thread takes a
 * batch from the depot before falling back to mt__alloc(). Both batch
 * moves take `depot_lock`, once per MT_TASK_BATCH tasks.
 *
 * Tunables: MT_TASK_BATCH 64 makes the lock round trip cost under 1 ns per
 * task in the detached-throughput bench (one submitting thread, workers
 * freeing); MT_TASK_CACHE_MAX 256 bounds what an idle thread keeps
 * (32 KiB); MT_TASK_DEPOT_MAX_BATCHES bounds the depot (64K tasks, 8 MiB)
 * so a burst does not pin memory for ever: beyond it tasks go back to
 * free(). With 128 batches, a submitter running ahead of the workers made
 * them free() and it malloc() a task each: malloc and free took about 30%
 * of the cycles of the detached-throughput bench under perf.
 */
#include "task.h"

#include <pthread.h>
#include <string.h>

#define MT_TASK_BATCH 64u
#define MT_TASK_CACHE_MAX 256u
#define MT_TASK_DEPOT_MAX_BATCHES 1024u

struct task_cache {
	struct mt_task *head;
	unsigned count;
	int registered; /* the thread-exit flush is armed */
};

static MT_THREAD_LOCAL struct task_cache cache;

/* Batches are chains of MT_TASK_BATCH tasks linked through `next`; the
 * depot links batches through the first task's `arg` field. */
static pthread_mutex_t depot_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mt_task *depot_batches; /* M: depot_lock */
static unsigned depot_count;	      /* M: depot_lock */

static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static int exit_key_ok;

static void flush_at_thread_exit(void *unused)
{
	(void)unused;
	mt__task_cache_flush();
}

static void make_exit_key(void)
{
	exit_key_ok = pthread_key_create(&exit_key, flush_at_thread_exit) == 0;
}

/* Arms the thread-exit flush so a submitting thread that exits does not
 * strand its cache. Best effort: without a key the cache is leaked at
 * thread exit, which costs memory, never correctness. */
static void register_cache(void)
{
	cache.registered = 1;
	pthread_once(&exit_key_once, make_exit_key);
	if (exit_key_ok)
		pthread_setspecific(exit_key, &cache);
}

static struct mt_task *depot_take_batch(void)
{
	pthread_mutex_lock(&depot_lock);
	struct mt_task *batch = depot_batches;
	if (batch != NULL) {
		depot_batches = batch->arg;
		depot_count--;
	}
	pthread_mutex_unlock(&depot_lock);
	return batch;
}

/* Returns 1 if the depot took the batch, 0 if it is full. */
static int depot_put_batch(struct mt_task *batch)
{
	int taken = 0;
	pthread_mutex_lock(&depot_lock);
	if (depot_count < MT_TASK_DEPOT_MAX_BATCHES) {
		batch->arg = depot_batches;
		depot_batches = batch;
		depot_count++;
		taken = 1;
	}
	pthread_mutex_unlock(&depot_lock);
	return taken;
}

static void free_chain(struct mt_task *t)
{
	while (t != NULL) {
		struct mt_task *next = t->next;
		mt__free(t);
		t = next;
	}
}

/* Detaches the first `n` tasks of the cache as a chain. */
static struct mt_task *cache_split(unsigned n)
{
	struct mt_task *first = cache.head, *last = first;
	for (unsigned i = 1; i < n; i++)
		last = last->next;
	cache.head = last->next;
	last->next = NULL;
	cache.count -= n;
	return first;
}

struct mt_task *mt__task_alloc(void)
{
	if (cache.head == NULL) {
		if (!cache.registered)
			register_cache();
		struct mt_task *batch = depot_take_batch();
		if (batch == NULL)
			return mt__alloc_aligned(64, sizeof(struct mt_task));
		cache.head = batch;
		cache.count = MT_TASK_BATCH;
	}
	struct mt_task *t = cache.head;
	cache.head = t->next;
	cache.count--;
	return t;
}

void mt__task_free(struct mt_task *t)
{
#ifdef MTPOOL_DEBUG
	memset(t, 0xdb, sizeof(*t)); /* a use after free reads garbage */
#endif
	t->next = cache.head;
	cache.head = t;
	cache.count++;
	if (cache.count > MT_TASK_CACHE_MAX) {
		if (!cache.registered)
			register_cache();
		struct mt_task *batch = cache_split(MT_TASK_BATCH);
		if (!depot_put_batch(batch))
			free_chain(batch);
	}
}

void mt__task_cache_flush(void)
{
	while (cache.count >= MT_TASK_BATCH) {
		struct mt_task *batch = cache_split(MT_TASK_BATCH);
		if (!depot_put_batch(batch))
			free_chain(batch);
	}
	free_chain(cache.head);
	cache.head = NULL;
	cache.count = 0;
}

void mt__task_depot_reset_after_fork(void)
{
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	memcpy(&depot_lock, &fresh, sizeof(fresh));
	depot_batches = NULL;
	depot_count = 0;
}
