/*
 * tests/api/test_spawn.c: mt_spawn / mt_spawn_copy through the public API.
 *
 * What is checked: each accepted task runs exactly once (one atomic counter
 * per task), mt_spawn_copy hands the task its own copy of the bytes (the
 * caller wipes and frees its buffer right after the call; ASan turns a
 * missing copy into a use-after-free), argument errors never call the
 * function, tasks spawned by tasks run, and the worker identity functions
 * answer correctly on and off the pool.
 *
 * Order: simple -> edge cases -> spawn from tasks -> many threads.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_getname_np, pthread_barrier_t under -std=c11 */
#endif
#include <criterion/criterion.h>
#include <mtpool/mtpool.h>

#include "../common/mt_test.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define N_TASKS 10000

/* ---- exactly once ------------------------------------------------------ */

static atomic_uint run_count[N_TASKS];

static void count_slot(void *arg)
{
	atomic_fetch_add_explicit(&run_count[(uintptr_t)arg], 1,
				  memory_order_relaxed);
}

static void check_each_ran_once(size_t n)
{
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(atomic_load(&run_count[i]), 1u,
			     "task %zu ran %u times", i,
			     atomic_load(&run_count[i]));
}

Test(spawn, runs_each_task_exactly_once, .timeout = 60)
{
	mt_pool *p = mt_test_pool(4);
	for (uintptr_t i = 0; i < N_TASKS; i++)
		cr_assert_eq(mt_spawn(p, count_slot, (void *)i), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	check_each_ran_once(N_TASKS);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	/* Nothing may run a second time during shutdown either. */
	check_each_ran_once(N_TASKS);
}

Test(spawn, runs_each_task_exactly_once_on_one_thread_pool, .timeout = 60)
{
	mt_pool *p = mt_test_pool(1);
	for (uintptr_t i = 0; i < N_TASKS; i++)
		cr_assert_eq(mt_spawn(p, count_slot, (void *)i), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	check_each_ran_once(N_TASKS);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(spawn, on_default_pool_with_NULL_runs_each_task_exactly_once,
     .timeout = 60)
{
	for (uintptr_t i = 0; i < N_TASKS; i++)
		cr_assert_eq(mt_spawn(NULL, count_slot, (void *)i), 0);
	cr_assert_eq(mt_quiesce(NULL), 0);
	check_each_ran_once(N_TASKS);
}

/* ---- mt_spawn_copy copies ---------------------------------------------- */

/* Set by the test before each spawn (the spawn publishes it to the task);
 * read back after mt_quiesce(). */
static size_t copy_expected_size;
static atomic_int copy_runs;
static atomic_int copy_bad_bytes;
static atomic_int copy_bad_align;
static atomic_int copy_null_arg;

static unsigned char pattern_byte(size_t i, size_t size)
{
	return (unsigned char)(i * 131u + size * 7u + 1u);
}

static void check_copy(void *arg)
{
	const unsigned char *b = arg;
	size_t size = copy_expected_size;
	if (arg == NULL)
		atomic_fetch_add(&copy_null_arg, 1);
	else if ((uintptr_t)arg % alignof(max_align_t) != 0)
		atomic_fetch_add(&copy_bad_align, 1);
	for (size_t i = 0; arg != NULL && i < size; i++)
		if (b[i] != pattern_byte(i, size)) {
			atomic_fetch_add(&copy_bad_bytes, 1);
			break;
		}
	atomic_fetch_add(&copy_runs, 1);
}

static void spawn_copy_of_size(mt_pool *p, size_t size)
{
	atomic_store(&copy_runs, 0);
	atomic_store(&copy_bad_bytes, 0);
	atomic_store(&copy_bad_align, 0);
	atomic_store(&copy_null_arg, 0);
	copy_expected_size = size;
	unsigned char *buf = malloc(size ? size : 1);
	cr_assert_not_null(buf);
	for (size_t i = 0; i < size; i++)
		buf[i] = pattern_byte(i, size);
	cr_assert_eq(mt_spawn_copy(p, check_copy, buf, size), 0, "size %zu",
		     size);
	/* The caller's buffer may go away at once: wipe and free it. */
	memset(buf, 0xEE, size ? size : 1);
	free(buf);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(atomic_load(&copy_runs), 1, "size %zu", size);
	cr_assert_eq(atomic_load(&copy_bad_bytes), 0,
		     "size %zu: task saw wrong bytes", size);
	cr_assert_eq(atomic_load(&copy_bad_align), 0,
		     "size %zu: copy not max-aligned", size);
	if (size == 0)
		cr_assert_eq(atomic_load(&copy_null_arg), 1,
			     "size 0 must pass NULL");
	else
		cr_assert_eq(atomic_load(&copy_null_arg), 0,
			     "size %zu passed NULL", size);
}

/* spawn_copy_of_size on a fresh pool of `threads` workers, destroyed
 * afterwards. */
static void spawn_copy_on_new_pool(unsigned threads, size_t size)
{
	mt_pool *p = mt_test_pool(threads);
	spawn_copy_of_size(p, size);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(spawn_copy, task_sees_original_bytes_size_0_passes_NULL, .timeout = 60)
{
	spawn_copy_on_new_pool(2, 0);
}

Test(spawn_copy, task_sees_original_bytes_size_1, .timeout = 60)
{
	spawn_copy_on_new_pool(2, 1);
}

Test(spawn_copy, task_sees_original_bytes_size_inline_max, .timeout = 60)
{
	spawn_copy_on_new_pool(2, MT_SPAWN_INLINE_BYTES);
}

Test(spawn_copy, task_sees_original_bytes_size_inline_max_plus_1, .timeout = 60)
{
	spawn_copy_on_new_pool(2, MT_SPAWN_INLINE_BYTES + 1);
}

Test(spawn_copy, task_sees_original_bytes_size_4096, .timeout = 60)
{
	spawn_copy_on_new_pool(2, 4096);
}

Test(spawn_copy, task_sees_original_bytes_every_size_0_to_200, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	for (size_t size = 0; size <= 200; size++)
		spawn_copy_of_size(p, size);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(spawn_copy, size_0_with_non_NULL_arg_passes_NULL, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	int x = 42;
	copy_expected_size = 0;
	atomic_store(&copy_runs, 0);
	atomic_store(&copy_null_arg, 0);
	cr_assert_eq(mt_spawn_copy(p, check_copy, &x, 0), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(atomic_load(&copy_runs), 1);
	cr_assert_eq(atomic_load(&copy_null_arg), 1);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* Many copies in flight at once, each carrying its own id: a copy that is
 * shared, reused or overwritten while queued shows up as a wrong count. */
struct id_blob {
	uint32_t id;
	uint32_t check;
	unsigned char pad[100]; /* > MT_SPAWN_INLINE_BYTES: allocated copies */
};

static void count_blob(void *arg)
{
	const struct id_blob *b = arg;
	if (b->check == (b->id ^ 0x5A5A5A5Au) && b->id < N_TASKS)
		atomic_fetch_add_explicit(&run_count[b->id], 1,
					  memory_order_relaxed);
}

struct small_blob {
	uint32_t id;
	uint32_t check;
};

static void count_small_blob(void *arg)
{
	const struct small_blob *b = arg;
	if (b->check == ~b->id && b->id < N_TASKS)
		atomic_fetch_add_explicit(&run_count[b->id], 1,
					  memory_order_relaxed);
}

Test(spawn_copy, many_queued_large_copies_each_keep_their_bytes, .timeout = 60)
{
	mt_pool *p = mt_test_pool(4);
	struct id_blob b;
	memset(&b, 0, sizeof b);
	for (uint32_t i = 0; i < N_TASKS; i++) {
		b.id = i;
		b.check = i ^ 0x5A5A5A5Au;
		cr_assert_eq(mt_spawn_copy(p, count_blob, &b, sizeof b), 0);
	}
	cr_assert_eq(mt_quiesce(p), 0);
	check_each_ran_once(N_TASKS);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(spawn_copy, many_queued_inline_copies_each_keep_their_bytes, .timeout = 60)
{
	mt_pool *p = mt_test_pool(4);
	struct small_blob b;
	for (uint32_t i = 0; i < N_TASKS; i++) {
		b.id = i;
		b.check = ~i;
		cr_assert_eq(mt_spawn_copy(p, count_small_blob, &b, sizeof b),
			     0);
	}
	cr_assert_eq(mt_quiesce(p), 0);
	check_each_ran_once(N_TASKS);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* ---- argument errors --------------------------------------------------- */

static atomic_int never_calls;

static void must_not_run(void *arg)
{
	(void)arg;
	atomic_fetch_add(&never_calls, 1);
}

Test(spawn, NULL_fn_is_EINVAL, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	cr_assert_eq(mt_spawn(p, NULL, NULL), EINVAL);
	cr_assert_eq(mt_spawn(p, NULL, &never_calls), EINVAL);
	cr_assert_eq(mt_spawn(NULL, NULL, NULL), EINVAL);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(spawn_copy, NULL_fn_is_EINVAL, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	int x = 1;
	cr_assert_eq(mt_spawn_copy(p, NULL, &x, sizeof x), EINVAL);
	cr_assert_eq(mt_spawn_copy(p, NULL, NULL, 0), EINVAL);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(spawn_copy, NULL_arg_with_size_is_EINVAL_and_never_calls_fn, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	cr_assert_eq(mt_spawn_copy(p, must_not_run, NULL, 1), EINVAL);
	cr_assert_eq(mt_spawn_copy(p, must_not_run, NULL,
				   MT_SPAWN_INLINE_BYTES + 1),
		     EINVAL);
	cr_assert_eq(mt_spawn_copy(p, must_not_run, NULL, 4096), EINVAL);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	cr_assert_eq(atomic_load(&never_calls), 0);
}

Test(spawn_copy, NULL_arg_with_size_0_is_accepted_and_passes_NULL,
     .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	copy_expected_size = 0;
	atomic_store(&copy_runs, 0);
	atomic_store(&copy_null_arg, 0);
	cr_assert_eq(mt_spawn_copy(p, check_copy, NULL, 0), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(atomic_load(&copy_runs), 1);
	cr_assert_eq(atomic_load(&copy_null_arg), 1);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* A size no allocation can satisfy is ENOMEM, never a short buffer: the
 * rounding of the copy's size used to wrap near SIZE_MAX, 16 bytes were
 * allocated and the copy ran past them. The caller's buffer is one byte:
 * fn is never called, so nothing may read past it. */
Test(spawn_copy, size_beyond_PTRDIFF_MAX_is_ENOMEM_and_the_pool_still_works,
     .timeout = 60)
{
	static const size_t sizes[] = {
		SIZE_MAX,
		SIZE_MAX - 1,
		SIZE_MAX - 15,
		SIZE_MAX - 16,
		SIZE_MAX - 63,
		(size_t)PTRDIFF_MAX + 1,
		(size_t)PTRDIFF_MAX + 2,
	};
	mt_pool *p = mt_test_pool(2);
	unsigned char byte = 7;
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		cr_assert_eq(mt_spawn_copy(p, must_not_run, &byte, sizes[i]),
			     ENOMEM, "size %zu", sizes[i]);
	cr_assert_eq(mt_spawn_copy(NULL, must_not_run, &byte, SIZE_MAX),
		     ENOMEM);
	cr_assert_eq(mt_test_stats(p).tasks_detached, 0);
	spawn_copy_of_size(p, 4096); /* the pool still works */
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	cr_assert_eq(atomic_load(&never_calls), 0);
}

/* ---- fairness: outside work is not starved by local work --------------
 * Two self-respawning tasks keep both workers busy with their own deques
 * for ever; a task spawned from outside must still start within a bounded
 * number of local tasks (the workers poll the injection queue every
 * MT_INJECT_POLL_EVERY = 61 local tasks; 4 x 61 leaves room for the tasks
 * in flight). The chains stop once the outside task has run, or after
 * RESPAWN_CAP tasks so that a starving pool fails the count, not the
 * timeout. */

#define RESPAWN_CAP (MT_TEST_SANITIZED ? 50000ul : 500000ul)
#define OUTSIDE_BOUND (4ul * 61)

static atomic_ulong local_runs, runs_when_outside_ran;
static atomic_int outside_ran, respawn_failed;

static void respawn(void *arg)
{
	(void)arg;
	if (atomic_load(&outside_ran))
		return;
	if (atomic_fetch_add(&local_runs, 1) + 1 >= RESPAWN_CAP)
		return;
	if (mt_spawn(mt_current_pool(), respawn, NULL) != 0)
		atomic_store(&respawn_failed, 1);
}

static void outside_task(void *arg)
{
	(void)arg;
	atomic_store(&runs_when_outside_ran, atomic_load(&local_runs));
	atomic_store(&outside_ran, 1);
}

Test(spawn, an_outside_task_starts_within_a_bounded_number_of_local_tasks,
     .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	cr_assert_eq(mt_spawn(p, respawn, NULL), 0);
	cr_assert_eq(mt_spawn(p, respawn, NULL), 0);
	while (atomic_load(&local_runs) < 1000) /* both chains are running */
		sched_yield();
	cr_assert_eq(mt_spawn(p, outside_task, NULL), 0);
	unsigned long submitted_at = atomic_load(&local_runs);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_not(atomic_load(&respawn_failed));
	cr_assert(atomic_load(&outside_ran));
	unsigned long waited =
		atomic_load(&runs_when_outside_ran) - submitted_at;
	cr_assert_leq(waited, OUTSIDE_BOUND,
		      "the outside task waited for %lu local tasks", waited);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* ---- identity: mt_worker_index / mt_current_pool ----------------------- */

Test(identity, worker_index_is_minus_1_and_current_pool_NULL_on_main_thread,
     .timeout = 60)
{
	cr_assert_eq(mt_worker_index(), -1);
	cr_assert_null(mt_current_pool());
	mt_pool *p = mt_test_pool(2);
	/* Creating a pool does not make the creator a worker. */
	cr_assert_eq(mt_worker_index(), -1);
	cr_assert_null(mt_current_pool());
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

static void *identity_of_plain_thread(void *arg)
{
	int *out = arg;
	out[0] = mt_worker_index();
	out[1] = mt_current_pool() == NULL;
	return NULL;
}

Test(identity, worker_index_is_minus_1_on_a_plain_thread, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	int out[2] = {0, 0};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, identity_of_plain_thread, out),
		     0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(out[0], -1);
	cr_assert_eq(out[1], 1);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* The header's signal-handler rule: mt_worker_index, mt_current_pool and
 * mt_strerror may be called there, and tell the truth about the
 * interrupted thread. */
static volatile sig_atomic_t handler_index = -2;
static mt_pool *volatile handler_pool;
static const char *volatile handler_text;

static void identity_handler(int sig)
{
	(void)sig;
	handler_index = mt_worker_index();
	handler_pool = mt_current_pool();
	handler_text = mt_strerror(ESHUTDOWN);
}

static void raise_in_task(void *arg)
{
	(void)arg;
	raise(SIGUSR1);
}

Test(identity, is_available_in_a_signal_handler_on_a_worker, .timeout = 60)
{
	struct sigaction sa = {.sa_handler = identity_handler};
	cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	mt_pool *p = mt_test_pool(1);
	cr_assert_eq(mt_spawn(p, raise_in_task, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(handler_index, 0);
	cr_assert_eq(handler_pool, p);
	cr_assert_str_eq((const char *)handler_text, mt_strerror(ESHUTDOWN));
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

#define ID_POOL_SIZE 4
#define ID_TASKS 2000

static atomic_int id_seen[ID_TASKS]; /* worker index seen by task i */
static _Atomic(mt_pool *)
	id_pool_seen[ID_TASKS]; /* current pool seen by task i */

static void record_identity(void *arg)
{
	uintptr_t i = (uintptr_t)arg;
	atomic_store(&id_seen[i], mt_worker_index());
	atomic_store(&id_pool_seen[i], mt_current_pool());
}

Test(identity, worker_index_in_range_and_current_pool_in_tasks, .timeout = 60)
{
	mt_pool *p = mt_test_pool(ID_POOL_SIZE);
	cr_assert_eq(mt_pool_size(p), ID_POOL_SIZE);
	for (uintptr_t i = 0; i < ID_TASKS; i++) {
		atomic_store(&id_seen[i], -100);
		cr_assert_eq(mt_spawn(p, record_identity, (void *)i), 0);
	}
	cr_assert_eq(mt_quiesce(p), 0);
	for (size_t i = 0; i < ID_TASKS; i++) {
		int w = atomic_load(&id_seen[i]);
		cr_assert(w >= 0 && w < ID_POOL_SIZE,
			  "task %zu saw worker index %d", i, w);
		cr_assert_eq(atomic_load(&id_pool_seen[i]), p,
			     "task %zu saw another pool", i);
	}
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* With every worker blocked in its own task, each worker runs exactly one of
 * them: the indices seen must be exactly 0 .. size-1, each once. */
static struct mt_test_gate gate;

static void identity_then_block(void *arg)
{
	uintptr_t i = (uintptr_t)arg;
	atomic_store(&id_seen[i], mt_worker_index());
	atomic_store(&id_pool_seen[i], mt_current_pool());
	mt_test_gate_enter(&gate);
}

Test(identity, blocked_workers_have_distinct_indices_0_to_size_minus_1,
     .timeout = 60)
{
	mt_test_gate_init(&gate);
	mt_pool *p = mt_test_pool(ID_POOL_SIZE);
	for (uintptr_t i = 0; i < ID_POOL_SIZE; i++)
		cr_assert_eq(mt_spawn(p, identity_then_block, (void *)i), 0);
	mt_test_gate_wait_started(&gate, ID_POOL_SIZE);
	int seen[ID_POOL_SIZE] = {0};
	for (size_t i = 0; i < ID_POOL_SIZE; i++) {
		int w = atomic_load(&id_seen[i]);
		cr_assert(w >= 0 && w < ID_POOL_SIZE, "worker index %d", w);
		seen[w]++;
		cr_assert_eq(atomic_load(&id_pool_seen[i]), p);
	}
	for (int w = 0; w < ID_POOL_SIZE; w++)
		cr_assert_eq(seen[w], 1, "index %d seen %d times", w, seen[w]);
	mt_test_gate_open(&gate, ID_POOL_SIZE);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* A task on pool A reports A, not the default pool or another pool. */
static void record_pool_only(void *arg)
{
	_Atomic(mt_pool *) *out = arg;
	atomic_store(out, mt_current_pool());
}

Test(identity, current_pool_distinguishes_two_pools, .timeout = 60)
{
	mt_pool *a = mt_test_pool(1);
	mt_pool *b = mt_test_pool(1);
	_Atomic(mt_pool *) seen_a = NULL, seen_b = NULL;
	cr_assert_eq(mt_spawn(a, record_pool_only, &seen_a), 0);
	cr_assert_eq(mt_spawn(b, record_pool_only, &seen_b), 0);
	cr_assert_eq(mt_quiesce(a), 0);
	cr_assert_eq(mt_quiesce(b), 0);
	cr_assert_eq(atomic_load(&seen_a), a);
	cr_assert_eq(atomic_load(&seen_b), b);
	cr_assert_eq(mt_pool_destroy(a, MT_DRAIN), 0);
	cr_assert_eq(mt_pool_destroy(b, MT_DRAIN), 0);
}

/* ---- spawn from inside tasks ------------------------------------------- */

#define FANOUT 4
#define DEPTH 6 /* 1 + 4 + ... + 4^6 = 5461 tasks */

static atomic_uint tree_runs;
static atomic_uint tree_spawn_errors;
static atomic_uint tree_bad_index;

static void tree_node(void *arg)
{
	uintptr_t depth = (uintptr_t)arg;
	int w = mt_worker_index();
	mt_pool *cur = mt_current_pool();
	if (w < 0 || cur == NULL || (unsigned)w >= mt_pool_size(cur))
		atomic_fetch_add(&tree_bad_index, 1);
	atomic_fetch_add_explicit(&tree_runs, 1, memory_order_relaxed);
	if (depth == 0)
		return;
	for (int i = 0; i < FANOUT; i++)
		if (mt_spawn(cur, tree_node, (void *)(depth - 1)) != 0)
			atomic_fetch_add(&tree_spawn_errors, 1);
}

static unsigned tree_size(unsigned depth)
{
	unsigned total = 0, level = 1;
	for (unsigned d = 0; d <= depth; d++, level *= FANOUT)
		total += level;
	return total;
}

static void spawn_tree_on(unsigned threads)
{
	mt_pool *p = mt_test_pool(threads);
	cr_assert_eq(mt_spawn(p, tree_node, (void *)(uintptr_t)DEPTH), 0);
	/* mt_quiesce waits for tasks spawned by tasks too. */
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(atomic_load(&tree_spawn_errors), 0);
	cr_assert_eq(atomic_load(&tree_bad_index), 0);
	cr_assert_eq(atomic_load(&tree_runs), tree_size(DEPTH));
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	cr_assert_eq(atomic_load(&tree_runs), tree_size(DEPTH));
}

Test(spawn, from_inside_a_task_runs_on_one_thread_pool, .timeout = 60)
{
	spawn_tree_on(1);
}

Test(spawn, from_inside_a_task_runs_on_four_thread_pool, .timeout = 60)
{
	spawn_tree_on(4);
}

/* A task that spawns onto a *different* pool: goes through that pool's
 * injection path, and runs there. */
static mt_pool *other_pool;
static atomic_int other_ran_on_other;

static void on_other(void *arg)
{
	(void)arg;
	if (mt_current_pool() == other_pool)
		atomic_fetch_add(&other_ran_on_other, 1);
}

static void spawn_onto_other(void *arg)
{
	atomic_int *rc = arg;
	atomic_store(rc, mt_spawn(other_pool, on_other, NULL));
}

Test(spawn, from_a_task_onto_another_pool_runs_there, .timeout = 60)
{
	mt_pool *a = mt_test_pool(2);
	other_pool = mt_test_pool(2);
	atomic_int rc = -1;
	cr_assert_eq(mt_spawn(a, spawn_onto_other, &rc), 0);
	cr_assert_eq(mt_quiesce(a), 0);
	cr_assert_eq(atomic_load(&rc), 0);
	cr_assert_eq(mt_quiesce(other_pool), 0);
	cr_assert_eq(atomic_load(&other_ran_on_other), 1);
	cr_assert_eq(mt_pool_destroy(a, MT_DRAIN), 0);
	cr_assert_eq(mt_pool_destroy(other_pool, MT_DRAIN), 0);
}

/* ---- many submitting threads ------------------------------------------- */

#define SUBMITTERS 4

static mt_pool *shared_pool;

static void *submit_slice(void *arg)
{
	uintptr_t k = (uintptr_t)arg;
	for (uintptr_t i = k; i < N_TASKS; i += SUBMITTERS) {
		int rc = (i & 1) ?
				 mt_spawn(shared_pool, count_slot, (void *)i) :
				 mt_spawn_copy(
					 shared_pool, count_small_blob,
					 &(struct small_blob){(uint32_t)i,
							      ~(uint32_t)i},
					 sizeof(struct small_blob));
		if (rc != 0)
			return (void *)(uintptr_t)rc;
	}
	return NULL;
}

Test(spawn, from_four_external_threads_runs_each_task_exactly_once,
     .timeout = 60)
{
	shared_pool = mt_test_pool(3);
	pthread_t t[SUBMITTERS];
	for (uintptr_t k = 0; k < SUBMITTERS; k++)
		cr_assert_eq(pthread_create(&t[k], NULL, submit_slice,
					    (void *)k),
			     0);
	for (int k = 0; k < SUBMITTERS; k++) {
		void *rc;
		cr_assert_eq(pthread_join(t[k], &rc), 0);
		cr_assert_null(rc, "submitter %d got error %d", k,
			       (int)(uintptr_t)rc);
	}
	cr_assert_eq(mt_quiesce(shared_pool), 0);
	check_each_ran_once(N_TASKS);
	cr_assert_eq(mt_pool_destroy(shared_pool, MT_DRAIN), 0);
}
