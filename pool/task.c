/*
 * pool/task.c: task memory, per-thread magazines over a shared depot.
 *
 * Implementation notes
 * ====================
 * Each thread keeps two magazines (Bonwick and Adams, "Magazines and
 * Vmem", USENIX 2001): arrays of up to MT_MAGAZINE_SIZE free tasks,
 * touched only by their thread. Allocation pops from the loaded magazine,
 * freeing pushes onto it; the second one absorbs a thread that alternates
 * around a full or empty boundary. When both are empty (a thread that only
 * submits) the thread swaps one for a full magazine from the depot; when
 * both are full (a worker that only frees) it hands one to the depot. Both
 * moves take `depot_lock`, once per MT_MAGAZINE_SIZE tasks.
 *
 * Why arrays and not linked free lists: a submitting thread reuses tasks
 * that workers freed on other cores. Popping a linked list reads each
 * block's link, a cache miss per task that the CPU cannot overlap (the next
 * address is in the block); an array of pointers is read sequentially and
 * prefetched. Under perf, the linked version spent about 30% of the
 * detached-throughput bench in the allocation's pointer chase.
 *
 * Tunables: MT_MAGAZINE_SIZE 64 keeps the lock round trip under 1 ns per
 * task; the depot keeps at most MT_DEPOT_MAX_FULL full magazines (64K
 * tasks, 8 MiB: a 112-byte task takes a 128-byte block at 64-byte
 * alignment) so a burst does not pin memory for ever: beyond it, tasks go
 * back to free().
 */
#include "task.h"

#include <pthread.h>
#include <string.h>

#include "alloc.h"

#define MT_MAGAZINE_SIZE 64u
#define MT_DEPOT_MAX_FULL 1024u
#define MT_DEPOT_MAX_EMPTY 64u

struct magazine {
	struct magazine *next; /* M: depot list link */
	unsigned count;	       /* owner thread (or depot, under the lock) */
	struct mt_task *slots[MT_MAGAZINE_SIZE];
};

struct task_cache {
	struct magazine *loaded;
	struct magazine *spare;
	int registered; /* the thread-exit flush is armed */
};

static MT_THREAD_LOCAL struct task_cache cache;

static pthread_mutex_t depot_lock = PTHREAD_MUTEX_INITIALIZER;
static struct magazine *depot_full;	   /* M: depot_lock */
static struct magazine *depot_empty;	   /* M: depot_lock */
static unsigned depot_nfull, depot_nempty; /* M: depot_lock */

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

/* Arms the thread-exit flush so a thread that exits does not strand its
 * magazines. Best effort: without a key they leak at thread exit, which
 * costs memory, never correctness. */
static void register_cache(void)
{
	cache.registered = 1;
	pthread_once(&exit_key_once, make_exit_key);
	if (exit_key_ok)
		pthread_setspecific(exit_key, &cache);
}

static void free_magazine(struct magazine *m)
{
	for (unsigned i = 0; i < m->count; i++)
		mt__free(m->slots[i]);
	mt__free(m);
}

/* Takes a magazine from a depot list; NULL if it is empty. */
static struct magazine *depot_take(struct magazine **list, unsigned *n)
{
	pthread_mutex_lock(&depot_lock);
	struct magazine *m = *list;
	if (m != NULL) {
		*list = m->next;
		(*n)--;
	}
	pthread_mutex_unlock(&depot_lock);
	return m;
}

/* Gives m to a depot list; returns 0 (m untouched) if the list is full. */
static int depot_put(struct magazine **list, unsigned *n, unsigned max,
		     struct magazine *m)
{
	int taken = 0;
	pthread_mutex_lock(&depot_lock);
	if (*n < max) {
		m->next = *list;
		*list = m;
		(*n)++;
		taken = 1;
	}
	pthread_mutex_unlock(&depot_lock);
	return taken;
}

static void retire_full(struct magazine *m)
{
	if (!depot_put(&depot_full, &depot_nfull, MT_DEPOT_MAX_FULL, m))
		free_magazine(m);
}

static void retire_empty(struct magazine *m)
{
	if (!depot_put(&depot_empty, &depot_nempty, MT_DEPOT_MAX_EMPTY, m))
		mt__free(m);
}

static struct magazine *get_empty(void)
{
	struct magazine *m = depot_take(&depot_empty, &depot_nempty);
	if (m == NULL)
		m = mt__alloc(sizeof(*m));
	if (m != NULL)
		m->count = 0;
	return m;
}

static void swap_magazines(void)
{
	struct magazine *m = cache.loaded;
	cache.loaded = cache.spare;
	cache.spare = m;
}

/* Both magazines empty (or missing): load a full one from the depot. */
static int reload(void)
{
	struct magazine *full = depot_take(&depot_full, &depot_nfull);
	if (full == NULL)
		return 0;
	if (cache.spare != NULL)
		retire_empty(cache.spare);
	cache.spare = cache.loaded;
	cache.loaded = full;
	return 1;
}

struct mt_task *mt__task_alloc(void)
{
	struct magazine *m = cache.loaded;
	if (m == NULL || m->count == 0) {
		if (!cache.registered)
			register_cache();
		if (cache.spare != NULL && cache.spare->count > 0)
			swap_magazines();
		else if (!reload())
			return mt__alloc_aligned(64, sizeof(struct mt_task));
		m = cache.loaded;
	}
	return m->slots[--m->count];
}

/* Both magazines full (or missing): hand the spare to the depot and start
 * an empty one. Returns 0 if no magazine could be had. */
static int make_room(void)
{
	if (!cache.registered)
		register_cache();
	struct magazine *empty = get_empty();
	if (empty == NULL)
		return 0;
	if (cache.spare != NULL)
		retire_full(cache.spare);
	cache.spare = cache.loaded;
	cache.loaded = empty;
	return 1;
}

void mt__task_free(struct mt_task *t)
{
#ifdef MTPOOL_DEBUG
	memset(t, 0xdb, sizeof(*t)); /* a use after free reads garbage */
#endif
	struct magazine *m = cache.loaded;
	if (m == NULL || m->count == MT_MAGAZINE_SIZE) {
		if (cache.spare != NULL &&
		    cache.spare->count < MT_MAGAZINE_SIZE)
			swap_magazines();
		else if (!make_room()) {
			mt__free(t);
			return;
		}
		m = cache.loaded;
	}
	m->slots[m->count++] = t;
}

static void flush_one(struct magazine *m)
{
	if (m == NULL)
		return;
	if (m->count == 0)
		retire_empty(m);
	else
		retire_full(m); /* partly full is fine: alloc pops by count */
}

void mt__task_cache_flush(void)
{
	flush_one(cache.loaded);
	flush_one(cache.spare);
	cache.loaded = cache.spare = NULL;
}

void mt__task_depot_reset_after_fork(void)
{
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	memcpy(&depot_lock, &fresh, sizeof(fresh));
	depot_full = depot_empty = NULL;
	depot_nfull = depot_nempty = 0;
}
