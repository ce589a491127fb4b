/*
 * mtpool: a persistent work-stealing thread pool for C services.
 *
 * Overview
 * ========
 * One warm pool of worker threads serves two ways of running work:
 *
 *   - fire-and-forget: mt_spawn() / mt_spawn_copy() hand a function to the
 *     pool and return at once (Popoto's `start_new_thread`);
 *   - fork-join: mt_map() / mt_for() run a function over n inputs and block
 *     until all are done, results in input order (Popoto's
 *     `run_all_multithreaded`); mt_group is the general, stack-allocated
 *     fork-join for nested parallelism.
 *
 * Threads are created only when a pool is created, never per call. Passing
 * `pool == NULL` to any function except mt_pool_destroy() means the process
 * default pool (mt_default_pool()), created on first use.
 *
 * Errors
 * ======
 * Every function returning `int` returns 0 on success or a positive errno
 * value; it never sets `errno`. Pointer-returning constructors return NULL
 * and set `errno`. If a function that takes a callback fails, the callback is
 * never called and the caller still owns its argument. Once a task is
 * accepted (0 returned), it runs exactly once, unless it is a detached task
 * dropped by mt_pool_destroy(MT_DISCARD), which reports how many it dropped.
 *
 * Fork: in the child of fork(), the default pool is created afresh on first
 * use. A pool created with mt_pool_create() before the fork has no workers
 * in the child: every call on it there returns ECHILD (mt_pool_size
 * returns 0), and it cannot be destroyed there. fork() from inside a task:
 * the child's only thread continues in that task and is no worker. It
 * should exec or _exit; if the task returns instead, the child never runs
 * a task inherited from the parent's queues: it ends with exit(0), as when
 * a process's last thread returns (atexit handlers run, stdio is flushed;
 * on_worker_stop is not called).
 *
 * Calling context
 * ===============
 * "any thread" includes the pool's own workers unless a function says
 * otherwise. A worker that blocks in mt_map(), mt_for() or mt_group_wait()
 * on its own pool runs that pool's tasks while it waits, so nested
 * parallelism within one pool never deadlocks, even on a one-thread pool.
 * Waiting is bounded in stack: see docs/design.md. A worker waiting on
 * ANOTHER pool's map or group only blocks: a cycle of such waits between
 * pools whose workers are all blocked can deadlock, as with any two pools.
 *
 * Signal handlers: only mt_strerror(), mt_worker_index() and
 * mt_current_pool() may be called from a signal handler (they read
 * constants and a thread-local variable). Everything else allocates,
 * takes locks or sleeps, and may have been interrupted in the middle of
 * updating the very state it would touch.
 *
 * Worker hooks (mt_config.on_worker_start / on_worker_stop) run on the
 * worker's own thread: mt_worker_index() and mt_current_pool() name it,
 * and the pool's pointer is available there only through
 * mt_current_pool() (on_worker_start runs before mt_pool_create returns).
 * From either hook, calls on the hook's own pool behave as from a task of
 * it, with these differences:
 *   - on_worker_start: the worker has not run a task yet; mt_spawn and
 *     mt_spawn_copy queue on its deque and run once the pool is up; a
 *     map, for or group waited for there is run by this worker and by
 *     those already started.
 *   - on_worker_stop: the worker has left its loop and runs no more
 *     tasks of its own: mt_spawn and mt_spawn_copy return ESHUTDOWN (also
 *     from tasks run inside the hook's own waits); mt_map, mt_for and
 *     groups work (this worker runs them while it waits, with the workers
 *     still running).
 *   - From both: mt_quiesce and mt_pool_destroy on the own pool return
 *     EDEADLK. A hook must not wait for something only a task of its own
 *     pool could provide, other than through a map, for or group (a
 *     stopping pool's other workers may have exited).
 * Calls on other pools are as from any thread.
 */
#ifndef MTPOOL_MTPOOL_H
#define MTPOOL_MTPOOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MT_API __attribute__((visibility("default")))
#else
#define MT_API
#endif

#define MTPOOL_VERSION_MAJOR 0
#define MTPOOL_VERSION_MINOR 2
#define MTPOOL_VERSION_PATCH 0

/* A pool of worker threads. Opaque. */
typedef struct mt_pool mt_pool;

/* How mt_pool_destroy() treats work that has not started. */
typedef enum mt_shutdown {
	/* Run every queued task (and all they spawn), then join. */
	MT_DRAIN = 0,
	/* Drop queued detached tasks that have not started; let running
	 * tasks finish; join. Fork-join work (maps, groups) always completes:
	 * its callers are blocked on it. */
	MT_DISCARD = 1
} mt_shutdown;

/* Pool configuration. Zero-initialise, then set what you need; a NULL
 * config means all defaults. The pool copies everything it keeps. */
typedef struct mt_config {
	/* Worker threads; 0 = $MTPOOL_THREADS if set, else the online CPU
	 * count. At most MT_MAX_THREADS. */
	unsigned threads;
	/* Thread-name prefix shown by `top -H` and gdb as "<prefix>-<index>";
	 * the kernel keeps 15 bytes, so a long prefix is cut to keep the whole
	 * "-<index>" visible. NULL = "mtpool". Copied. */
	const char *name_prefix;
	/* Stack size of each worker in bytes; 0 = 8 MiB. */
	size_t stack_size;
	/* Called on each worker thread before it runs any task, and after
	 * it has run its last, with the worker's index (0 .. threads-1).
	 * May be NULL. What they may call: see "Worker hooks" above. */
	void (*on_worker_start)(unsigned index, void *userdata);
	void (*on_worker_stop)(unsigned index, void *userdata);
	/* Passed to both hooks; borrowed for the pool's lifetime. */
	void *userdata;
} mt_config;

#define MT_MAX_THREADS 1024u

/* Counters a service exports as metrics. All are totals since creation
 * except `queued`, `workers_parked` and `workers`, which are snapshots.
 * Counters are read without stopping the pool, so they are not a
 * consistent cut; and workers publish finished detached tasks in bulk
 * (every 64, and whenever they run out of work), so while workers are
 * busy `queued` may be up to 63 per worker too high. */
typedef struct mt_stats {
	uint64_t tasks_run;	 /* tasks workers executed: detached, group, and
				      map helpers that joined a batch */
	uint64_t tasks_detached; /* accepted by mt_spawn / mt_spawn_copy (run,
				      dropped or still queued) */
	uint64_t steals;	 /* tasks taken from another worker's deque */
	uint64_t injected;    /* tasks taken from the injection queue (submitted
				      by threads outside the pool) */
	uint64_t parks;	      /* times a worker went to sleep */
	uint64_t wakes;	      /* wake-ups issued to parked workers */
	uint64_t inline_runs; /* tasks run inline: a deque could not grow */
	uint64_t discarded;   /* detached tasks dropped by MT_DISCARD */
	uint64_t queued;      /* detached tasks accepted but not yet finished */
	unsigned workers;     /* pool size */
	unsigned workers_parked; /* workers asleep right now */
} mt_stats;

/*
 * The process default pool, created on first use, exactly once even when
 * many threads race to first use. Size: $MTPOOL_THREADS if set (a plain
 * decimal integer 1 .. MT_MAX_THREADS: digits only, no sign, no white
 * space), else the online CPU count.
 *
 * Returns the pool, or NULL with errno set:
 *   EINVAL   $MTPOOL_THREADS is set but not a valid thread count;
 *   ENOMEM   out of memory;
 *   EAGAIN   a worker thread could not be created.
 * A failed creation is retried on the next call.
 * CONTEXT: any thread. In the child of fork() the default pool is created
 * afresh on first use (the parent's workers do not exist there).
 * The default pool is never destroyed: it lives until the process exits,
 * and returning from main with detached work pending neither hangs nor
 * crashes (pending work is abandoned, as with daemon threads).
 */
MT_API mt_pool *mt_default_pool(void);

/*
 * Creates a pool with its own workers; `cfg` may be NULL (defaults).
 * Returns the pool, or NULL with errno set:
 *   EINVAL   cfg->threads > MT_MAX_THREADS, or $MTPOOL_THREADS invalid
 *            when cfg->threads is 0, or cfg->stack_size refused by
 *            pthread_attr_setstacksize (below PTHREAD_STACK_MIN);
 *   ENOMEM   out of memory;
 *   EAGAIN   (or another pthread_create / pthread_mutex_init error) a
 *            worker or lock could not be created.
 * On failure nothing is leaked and no worker is left running.
 * CONTEXT: any thread; blocks until every worker has started.
 */
MT_API mt_pool *mt_pool_create(const mt_config *cfg);

/*
 * Shuts the pool down and frees it. NULL is a no-op returning 0.
 * MT_DRAIN runs every queued detached task, and the detached tasks those
 * spawn while draining, then joins. MT_DISCARD drops detached tasks that
 * have not started (counted: see mt_pool_destroy_counted), lets running
 * ones finish, joins. Fork-join work (maps, groups) in flight always
 * completes. While destroy runs:
 *   - mt_spawn / mt_spawn_copy fail with ESHUTDOWN, except from the pool's
 *     own tasks during MT_DRAIN (not from on_worker_stop, nor from tasks
 *     that run inside it: that worker runs no more tasks of its own, so
 *     the spawn is refused rather than accepted and never run);
 *   - mt_map / mt_for / mt_group_spawn fail with ESHUTDOWN from threads
 *     outside the pool, and work as usual from its workers.
 * Returns 0, or:
 *   EINVAL    `how` is not MT_DRAIN or MT_DISCARD, or pool is the default
 *             pool (it lives until exit);
 *   EDEADLK   called from one of this pool's own workers (nothing done);
 *   EBUSY     another thread is already destroying this pool;
 *   ECHILD    the pool was created before fork() in a parent process: it
 *             has no workers here, and its memory is left alone.
 * CONTEXT: not from this pool's workers; blocks until all workers joined.
 *
 * Calls that overlap a destroy: the pool's memory is freed before destroy
 * returns, so a call may overlap it only if the pool is guaranteed to be
 * there for the whole call:
 *   - calls from the pool's own tasks and from on_worker_stop are safe:
 *     destroy joins the workers before it frees anything;
 *   - a call from another thread is safe if, from before the call until
 *     after it returns, that thread holds something destroy waits for: a
 *     group it has spawned into and not yet waited for, or a task of the
 *     pool that cannot finish before the call returns (for example one
 *     blocked until this thread lets it go). Such calls get the errors
 *     listed above: ESHUTDOWN for new work, EBUSY for a second destroy;
 *   - the calls that give such work back, mt_group_wait() and the end of
 *     an mt_map() / mt_for() / mt_for_range() started before the destroy,
 *     are safe as such: nothing after the give-back touches the pool, and
 *     destroy does not free it while one of them is still returning.
 * Any other overlap (a call that merely races with destroy) may read freed
 * memory: ESHUTDOWN and EBUSY report misuse under the rule above, they
 * cannot tell whether a pool still exists.
 */
MT_API int mt_pool_destroy(mt_pool *pool, mt_shutdown how);

/* As mt_pool_destroy(), and stores in *discarded (if not NULL) how many
 * detached tasks MT_DISCARD dropped (0 for MT_DRAIN). */
MT_API int mt_pool_destroy_counted(mt_pool *pool, mt_shutdown how,
				   uint64_t *discarded /* OUT, may be NULL */);

/* Number of workers; for NULL, the default pool's. 0 if the default pool
 * cannot be created, or for a pool inherited across fork(). CONTEXT: any
 * thread. */
MT_API unsigned mt_pool_size(const mt_pool *pool);

/* Index (0 .. size-1) of the calling worker within its pool, or -1 when
 * the caller is not a pool worker. CONTEXT: any thread. */
MT_API int mt_worker_index(void);

/* The pool whose worker is calling, or NULL outside workers. */
MT_API mt_pool *mt_current_pool(void);

/*
 * Fire-and-forget: runs fn(arg) once on the pool and returns at once.
 * `arg` is borrowed: it must stay valid until fn returns (use
 * mt_spawn_copy for stack data). From a worker of the pool the task goes
 * to that worker's own deque (no lock, no CAS); from any other thread
 * through the pool's injection queue. Either way one atomic add counts the
 * task in for mt_quiesce. If a worker's deque cannot grow (out of memory),
 * the task runs inline in the caller.
 * Returns 0, or:
 *   EINVAL     fn is NULL;
 *   ENOMEM     no memory for the task (fn is not called);
 *   ESHUTDOWN  the pool is being destroyed (see mt_pool_destroy for the
 *              one exception, workers' spawns during MT_DRAIN);
 *   ECHILD     the pool was created before fork() (in the child);
 *   other      errno values from mt_default_pool() when pool is NULL.
 * CONTEXT: any thread. Never waits for a task; lock-free except on
 * allocation and when the injection ring is full (an outside submitter
 * then appends to an overflow list under a mutex). A task spawned from
 * outside the pool is not starved by the workers' own work: each worker
 * looks at the outside queue at least once every 61 tasks it takes.
 */
MT_API int mt_spawn(mt_pool *pool, void (*fn)(void *arg), void *arg);

/*
 * As mt_spawn(), but copies `size` bytes from `arg` into the task, and
 * passes fn a pointer to that copy (aligned for any type, valid until fn
 * returns), so the caller's buffer may go away at once. size 0 passes
 * NULL. Errors as mt_spawn(), and EINVAL if arg is NULL with size > 0;
 * ENOMEM also covers a size no allocation can satisfy (above PTRDIFF_MAX),
 * which is refused before anything is read from arg.
 * Copies of up to MT_SPAWN_INLINE_BYTES bytes live inside the task (no
 * extra allocation); larger ones are allocated.
 */
MT_API int mt_spawn_copy(mt_pool *pool, void (*fn)(void *arg), const void *arg,
			 size_t size);

#define MT_SPAWN_INLINE_BYTES 64u

/*
 * Blocks until no detached task of the pool is queued or running,
 * including detached tasks spawned by detached tasks. Returns 0, or:
 *   EDEADLK   called from a worker of this pool;
 *   ECHILD    the pool was created before fork() (in the child);
 *   other     errno values from mt_default_pool() when pool is NULL.
 * CONTEXT: not from this pool's workers. Blocks (sleeps on an event
 * count; no spinning). Tasks submitted concurrently with the call may or
 * may not be waited for.
 */
MT_API int mt_quiesce(mt_pool *pool);

/*
 * Parallel map: results[i] = fn(params[i]) for i in 0 .. n-1; blocks until
 * all are done. Order is preserved. The caller runs part of the work; on a
 * worker, waiting runs other tasks. Up to size-1 helper tasks join the
 * caller, and every participant takes chunks from a shared cursor, large
 * first and smaller towards the end (guided), so idle workers share an
 * unbalanced tail. n == 0 returns 0 at once. Returns 0, or:
 *   EINVAL     fn NULL, or n > 0 with params or results NULL;
 *   ENOMEM     no memory to split the work (fn has not been called);
 *   ESHUTDOWN  the pool is being destroyed;
 *   other      errno values from mt_default_pool() when pool is NULL.
 * `params` and `results` are borrowed for the call; results may alias
 * params. CONTEXT: any thread, including inside tasks of any pool.
 */
MT_API int mt_map(mt_pool *pool, void *(*fn)(void *param), void *const *params,
		  void **results /* OUT */, size_t n);

/*
 * Parallel loop: body(i, ctx) for i in 0 .. n-1, blocks until all are
 * done; no order between indices. Errors as mt_map (EINVAL if body is
 * NULL). `ctx` is borrowed for the call.
 */
MT_API int mt_for(mt_pool *pool, size_t n, void (*body)(size_t i, void *ctx),
		  void *ctx);

/*
 * As mt_for, but body(lo, hi, ctx) gets a whole chunk [lo, hi) of indices
 * at a time: the chunks partition 0 .. n-1, each index in exactly one.
 * For trivial items this lets the compiler vectorise the loop inside the
 * body, where mt_for pays an indirect call per index. Errors as mt_for.
 */
MT_API int mt_for_range(mt_pool *pool, size_t n,
			void (*body)(size_t lo, size_t hi, void *ctx),
			void *ctx);

/*
 * Inline fast paths
 * =================
 * In C with GCC or Clang, some calls are also defined in this header as
 * GNU `extern inline` functions (gnu_inline): a call is compiled into the
 * caller's binary, and the exported function of the same name (same
 * symbol, same ABI) is what a function pointer, C++, another compiler, or
 * `-DMTPOOL_NO_INLINE` gets. Both behave exactly alike.
 *
 * mt_for: the per-index loop runs in the caller's binary over the chunks
 * of mt_for_range. Called from inside libmtpool, each index was a far
 * indirect call into the program, about twice the cost of a near one on
 * the AMD EPYC of docs/benchmarks.md; from here it is a near one, as in
 * the code OpenMP, oneTBB, GLib or libuv users compile.
 */
#if defined(__GNUC__) && !defined(__cplusplus) && !defined(MTPOOL_NO_INLINE)
#define MT_INLINE_FAST_PATHS 1
#define MT_EXTERN_INLINE \
	extern __inline __attribute__((__gnu_inline__, __always_inline__))
#else
#define MT_INLINE_FAST_PATHS 0
#endif

#if MT_INLINE_FAST_PATHS
/* private: what mt_for's chunks need to call the per-index body. */
struct mt__for_closure {
	void (*body)(size_t i, void *ctx);
	void *ctx;
};

/* private: one chunk of mt_for, in the caller's binary. Weak and hidden,
 * not static: an inline definition may only name functions with external
 * linkage (C11 6.7.4p3), so every file that uses mt_for emits a copy and
 * the linker keeps one per binary, invisible outside it. The fields are
 * copied first: the body could write *c, as far as the compiler knows,
 * so it would reload them after every call. Aligned to a cache line so
 * that its loop (about 18 bytes) never straddles two: where the linker
 * happened to place it across a 64-byte boundary, mtbench's 10M loop ran
 * 0.77-0.93 ns/item instead of 0.69-0.73 (AMD EPYC, docs/benchmarks.md). */
void mt__for_chunk(size_t lo, size_t hi, void *closure);
__attribute__((__weak__, __visibility__("hidden"), __aligned__(64))) void
mt__for_chunk(size_t lo, size_t hi, void *closure)
{
	const struct mt__for_closure *c =
		(const struct mt__for_closure *)closure;
	void (*body)(size_t, void *) = c->body;
	void *ctx = c->ctx;
	for (size_t i = lo; i < hi; i++)
		body(i, ctx);
}

MT_EXTERN_INLINE int mt_for(mt_pool *pool, size_t n,
			    void (*body)(size_t i, void *ctx), void *ctx)
{
	struct mt__for_closure c = {body, ctx};
	/* A NULL body: mt_for_range's own check returns EINVAL, as
	 * mt_for's does, before it looks at anything else. */
	return mt_for_range(pool, n, body != NULL ? mt__for_chunk : NULL, &c);
}
#endif

/*
 * Fork-join group, allocated by the caller (usually on the stack): no
 * malloc per group. The fields are private.
 *
 *   mt_group g;
 *   mt_group_init(&g, pool);
 *   mt_group_spawn(&g, fn, arg);   ... any number of times
 *   mt_group_wait(&g);             runs tasks while waiting
 *
 * The group's storage must stay valid until mt_group_wait() has returned;
 * after that it may be reused (init again) or go out of scope. A group
 * has one waiter; tasks of the group may spawn more tasks into it.
 *
 * On a worker of the group's pool, init, spawn and wait are compiled into
 * the caller (below, "Inline fork-join"): a spawn writes the task into the
 * worker's own deque and a wait runs it back with no atomic
 * read-modify-write and no fence, unless another worker took it. A task
 * spawned that way is stealable at once when other workers are idle;
 * otherwise the spawning worker shares it when one of them runs out of
 * work (at its next spawn or wait), or the idle worker takes it itself on
 * its way to sleep, so a task is never left behind while a worker sleeps.
 *
 * Version 0.1.0 kept 32 opaque bytes here; the layout below has the same
 * size and alignment.
 */
struct mt_lane;

#ifdef __cplusplus
#define MT_ATOMIC_U32 uint32_t /* C++ only allocates groups */
#else
#define MT_ATOMIC_U32 _Atomic uint32_t
#endif

typedef struct mt_group {
	/* private: pool/group.h has the protocol. */
	struct mt_lane *lane; /* the initialising worker's deque, or NULL */
	mt_pool *pool;
	MT_ATOMIC_U32 pending; /* count << 1 | waiter flag (signed count) */
	uint32_t local;	       /* tasks on `lane` its owner still counts */
	uint32_t magic;	       /* MT_GROUP_MAGIC once initialised */
	uint32_t admitted;     /* counted as an outside call (destroy) */
} mt_group;

#define MT_GROUP_MAGIC 0x6d744750u /* private: "mtGP" */
/* private: the inline spawn leaves `local` below this (pool/group.h). */
#define MT_GROUP_LOCAL_MAX ((uint32_t)1 << 16)

/* Returns 0, or EINVAL (group NULL), or the errors of mt_default_pool()
 * when pool is NULL. */
MT_API int mt_group_init(mt_group *group, mt_pool *pool);

/*
 * Adds fn(arg) to the group. `arg` is borrowed until fn returns. After any
 * successful spawn, mt_group_wait() must be called (even if a later spawn
 * fails): the pool waits for it at destroy. Returns 0, or:
 *   EINVAL     group or fn NULL, or the group was not initialised;
 *   ENOMEM     no memory for the task (fn not called);
 *   ESHUTDOWN  the pool is being destroyed;
 *   EOVERFLOW  2^30 - 2^17 tasks of the group are pending already;
 *   ECHILD     the group's pool was created before fork() (in the child).
 * A group that has accepted a task from a thread outside the pool keeps
 * accepting until mt_group_wait() returns, even if destroy starts
 * meanwhile: in-flight fork-join work completes.
 * CONTEXT: the waiting thread, or a task of this group before it returns.
 * On the waiting worker: wait-free, no atomic read-modify-write, unless the
 * worker's deque must grow (one allocation).
 */
MT_API int mt_group_spawn(mt_group *group, void (*fn)(void *arg), void *arg);

/*
 * Blocks until every task spawned into the group has returned; a worker
 * runs other tasks meanwhile. Returns 0, or EINVAL (group NULL or not
 * initialised), or ECHILD (the group's pool was created before fork(), in
 * the child: its tasks would never run there). All effects of the group's
 * tasks are visible to the caller on return.
 */
MT_API int mt_group_wait(mt_group *group);

#ifndef __cplusplus
#include <stdatomic.h>
#include <stdlib.h> /* exit: a fork() inside an inlined wait */

/*
 * Inline fork-join
 * ================
 * private, C only: the layouts the inline group functions below share
 * with the library (pool/deque.h holds the protocol and its proof).
 */

/* A task in a worker's deque: fn(arg) for `group`, or with group NULL a
 * library task (arg). Atomics: thieves may read a slot being rewritten.
 * 32 bytes, so that a slot's offset is a shift. */
struct mt_frame {
	_Alignas(32) _Atomic(void (*)(void *)) fn;
	_Atomic(void *) arg;
	_Atomic(struct mt_group *) group;
};

/* The pool's counts of workers asleep (low 32 bits) and of workers
 * looking for work (high 32 bits), in one word that a spawn reads at once. */
struct mt_idle {
	_Atomic uint64_t word;
};

/* A worker's deque as its owner sees it. The first line is written by the
 * owner only (bottom is read by others); `split` has a line of its own. */
struct mt_lane {
	struct mt_frame *slots;	    /* the current ring */
	int64_t mask;		    /* capacity - 1 */
	_Atomic int64_t bottom;	    /* next push index */
	int64_t limit;		    /* a push below needs no look at top */
	const struct mt_idle *idle; /* the pool's */
	mt_pool *pool;
	_Atomic uint64_t runs; /* tasks its inlined waits ran (statistics) */
	_Alignas(64) _Atomic int64_t split; /* shared below: split<<1|flag */
};

#if defined(__GNUC__)
#define MT_TLS_INITIAL_EXEC __attribute__((__tls_model__("initial-exec")))
#else
#define MT_TLS_INITIAL_EXEC
#endif

/* The calling thread's lane if it is a worker, else NULL. */
MT_API extern _Thread_local struct mt_lane *mt_fast_lane MT_TLS_INITIAL_EXEC;

/* The inline spawn's slow half: shares frames with idle workers and wakes
 * one if any sleeps. Called by the lane's owner only. */
MT_API void mt_lane_share(struct mt_lane *lane);

#if defined(__GNUC__)
/*
 * The fast halves of init, spawn and wait: the common case, on the worker
 * that initialised the group. Each returns nonzero if it did the whole
 * call (the call's result is then 0); the exported functions start with
 * them too, so C++ and pointer callers get the same fast path.
 */
static __inline __attribute__((__always_inline__)) int
mt__group_init_fast(mt_group *group, mt_pool *pool)
{
	struct mt_lane *l = mt_fast_lane;
	if (group == NULL || l == NULL || l->pool != pool)
		return 0;
	/* One plain assignment: the group is not shared before a spawn
	 * publishes it, and an atomic store of pending would keep the
	 * compiler from merging the stores. */
	*group = (mt_group){.lane = l, .pool = pool, .magic = MT_GROUP_MAGIC};
	return 1;
}

/* A private push (pool/deque.c, note 2), then, if some worker is idle,
 * the library shares and wakes. The idle counts are read after the push,
 * behind a compiler barrier only: a worker going to sleep runs a heavy
 * barrier before it re-checks the deques (pool/park.c), so either it sees
 * this frame or this load sees it asleep. */
static __inline __attribute__((__always_inline__)) int
mt__group_spawn_fast(mt_group *group, void (*fn)(void *), void *arg)
{
	struct mt_lane *l = mt_fast_lane;
	if (l == NULL || group == NULL || fn == NULL || group->lane != l ||
	    group->local >= MT_GROUP_LOCAL_MAX)
		return 0;
	/* Relaxed: only the owner writes bottom. */
	int64_t b = atomic_load_explicit(&l->bottom, memory_order_relaxed);
	if (b >= l->limit) /* full, or no private frames in this process */
		return 0;
	struct mt_frame *f = &l->slots[b & l->mask];
	/* Relaxed: published by the store of bottom. */
	atomic_store_explicit(&f->fn, fn, memory_order_relaxed);
	atomic_store_explicit(&f->arg, arg, memory_order_relaxed);
	atomic_store_explicit(&f->group, group, memory_order_relaxed);
	/* Release: publishes the frame (deque.c, note 3). */
	atomic_store_explicit(&l->bottom, b + 1, memory_order_release);
	group->local++;
	atomic_signal_fence(memory_order_seq_cst);
	/* Relaxed: ordered after the push by the barrier above and the
	 * sleeper's heavy barrier. */
	if (atomic_load_explicit(&l->idle->word, memory_order_relaxed) != 0)
		mt_lane_share(l);
	return 1;
}

/* Runs the group's own frames from the top of the lane while they are
 * private (a private pop: deque.c, note 3), then returns nonzero if
 * nothing else of the group is pending; anything else is the library's. */
static __inline __attribute__((__always_inline__)) int
mt__group_wait_fast(mt_group *group)
{
	struct mt_lane *l = mt_fast_lane;
	if (l == NULL || group == NULL || group->lane != l)
		return 0;
	while (group->local != 0) {
		/* Relaxed: the owner's own fields and frames. */
		int64_t b =
			atomic_load_explicit(&l->bottom, memory_order_relaxed) -
			1;
		struct mt_frame *f = &l->slots[b & l->mask];
		if (atomic_load_explicit(&f->group, memory_order_relaxed) !=
		    group)
			break;
		/* The owner's pop: store bottom, compiler barrier, load
		 * split (deque.c, note 3). */
		atomic_store_explicit(&l->bottom, b, memory_order_relaxed);
		atomic_signal_fence(memory_order_seq_cst);
		if (2 * b <
		    atomic_load_explicit(&l->split, memory_order_relaxed)) {
			/* Shared, or a thief is looking at it: give it back
			 * (release, as every store of bottom that others may
			 * read) and let the library take it. */
			atomic_store_explicit(&l->bottom, b + 1,
					      memory_order_release);
			break;
		}
		void (*fn)(void *) =
			atomic_load_explicit(&f->fn, memory_order_relaxed);
		void *arg = atomic_load_explicit(&f->arg, memory_order_relaxed);
		group->local--;
		atomic_store_explicit(
			&l->runs,
			atomic_load_explicit(&l->runs, memory_order_relaxed) +
				1,
			memory_order_relaxed);
		fn(arg);
		/* fn forked and returned in the child, which is no worker:
		 * it ends as the library's loops end it (the header's Fork
		 * paragraph), before it could run an inherited task. */
		if (mt_fast_lane != l)
			exit(0);
	}
	/* Acquire: pairs with the release count-downs of tasks that ran
	 * elsewhere (pool/group.h). With local at 0 none of the group's
	 * count is owed by this thread, so 0 means nothing is pending. */
	return group->local == 0 &&
	       atomic_load_explicit(&group->pending, memory_order_acquire) == 0;
}

#if MT_INLINE_FAST_PATHS
/*
 * In C the three calls are static functions behind function-like macros,
 * so that their slow halves can call the exported functions of the same
 * name: `(mt_group_spawn)(...)` or a pointer to it reaches the library.
 */
static __inline __attribute__((__always_inline__)) int
mt__group_init_inline(mt_group *group, mt_pool *pool)
{
	return mt__group_init_fast(group, pool) ? 0 :
						  mt_group_init(group, pool);
}

static __inline __attribute__((__always_inline__)) int
mt__group_spawn_inline(mt_group *group, void (*fn)(void *), void *arg)
{
	return mt__group_spawn_fast(group, fn, arg) ?
		       0 :
		       mt_group_spawn(group, fn, arg);
}

static __inline __attribute__((__always_inline__)) int
mt__group_wait_inline(mt_group *group)
{
	return mt__group_wait_fast(group) ? 0 : mt_group_wait(group);
}

#define mt_group_init(group, pool) mt__group_init_inline(group, pool)
#define mt_group_spawn(group, fn, arg) mt__group_spawn_inline(group, fn, arg)
#define mt_group_wait(group) mt__group_wait_inline(group)
#endif /* MT_INLINE_FAST_PATHS */
#endif /* __GNUC__ */
#endif /* !__cplusplus */

/* Fills *out with the pool's counters. Returns 0, or EINVAL (out NULL),
 * or the errors of mt_default_pool() when pool is NULL.
 * CONTEXT: any thread; lock-free; O(workers). */
MT_API int mt_pool_stats(const mt_pool *pool, mt_stats *out);

/* Short static English text for an mtpool error value (ESHUTDOWN,
 * EDEADLK, ...), never NULL. */
MT_API const char *mt_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* MTPOOL_MTPOOL_H */
