/*
 * tests/soak/soak_mixed.c: every kind of submission at once, for minutes,
 * with every task counted exactly once. Run by tests/soak.sh; not a ctest.
 *
 * Overview
 * ========
 * One pool (16 workers by default, on whatever cores there are) and
 * several submitter threads. Work is handed out in epochs of EPOCH_IDS
 * task ids; each id is one task or one map item, and seen[id] counts its
 * runs. Each submitter draws operations at random:
 *   spawn       mt_spawn of one task from outside the pool;
 *   copy        mt_spawn_copy with a 4..200-byte payload the task checks
 *               (inline and heap copies);
 *   parent      a task that spawns 1..8 children from its worker;
 *   nest        a task that runs a group of 2 and a map of 4 inside it;
 *   map         mt_map of 1..64 items from outside (results checked);
 *   group       a group of 1..16 tasks from outside, waited for;
 *   quiesce     mt_quiesce, then: every detached task whose mt_spawn had
 *               returned before the call has run.
 * When an epoch's ids run out, the submitters meet at a barrier, the main
 * thread quiesces the pool and checks that every id handed out ran
 * exactly once, and the next epoch starts. Meanwhile a lifecycle thread
 * creates and destroys small pools (MT_DRAIN and MT_DISCARD, alternately)
 * with work in flight, checking ran + discarded == accepted each time.
 *
 * Plain atomic operations (seq_cst) appear where order does not matter:
 * counters read after barriers, mt_quiesce or joins. The one ordering
 * that matters, for the quiesce check, names its pair.
 *
 * Usage: soak_mixed [--seconds S] [--workers W] [--submitters K]
 *                   [--min-submissions N]
 * Prints one line "soak_mixed: key=value ..." and exits 0, or prints what
 * went wrong and exits 1 (also when fewer than N submissions were made).
 */
#define _GNU_SOURCE

#include <mtpool/mtpool.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EPOCH_IDS ((size_t)1 << 22)
#define MAX_SUBMITTERS 16

static unsigned opt_seconds = 60, opt_workers = 16, opt_submitters = 4;
static unsigned long long opt_min_submissions;

static mt_pool *pool;
static atomic_uchar *seen;	    /* seen[id]: runs of id */
static _Atomic size_t next_id;	    /* next id to hand out */
static _Atomic size_t first_unused; /* ids >= it were never used */
static _Atomic int stop;	    /* time is up: finish the epoch */
static pthread_barrier_t epoch_done, epoch_next;
static _Atomic uint64_t detached_spawned, detached_ran;
static _Atomic unsigned long long submissions, pools_made, quiesces;
static _Atomic unsigned long long maps, groups;
static _Atomic int failed;

static void fail(const char *what, unsigned long long a, unsigned long long b)
{
	fprintf(stderr, "soak_mixed: FAILED: %s (%llu, %llu)\n", what, a, b);
	atomic_store(&failed, 1);
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t next_rand(uint64_t *s)
{
	/* xorshift64: spread, not quality. */
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Reserves k consecutive ids of this epoch; returns 0 when it is full. */
static int reserve(size_t k, size_t *base)
{
	size_t b = atomic_fetch_add(&next_id, k);
	if (b + k <= EPOCH_IDS) {
		*base = b;
		return 1;
	}
	/* The smallest failed base bounds the ids that were all used. */
	size_t cur = atomic_load(&first_unused);
	while (b < cur && !atomic_compare_exchange_weak(&first_unused, &cur, b))
		;
	return 0;
}

static void mark(size_t id)
{
	atomic_fetch_add_explicit(&seen[id], 1, memory_order_relaxed);
}

/* ---- the tasks ---- */

static void run_one(void *arg)
{
	mark((uintptr_t)arg);
	atomic_fetch_add_explicit(&detached_ran, 1, memory_order_relaxed);
}

static void run_copy(void *arg)
{
	uint32_t id, size;
	memcpy(&id, arg, 4);
	memcpy(&size, (char *)arg + 4, 4);
	for (uint32_t i = 8; i < size; i++)
		if (((unsigned char *)arg)[i] != (unsigned char)(id + i))
			fail("a copied argument changed", id, i);
	run_one((void *)(uintptr_t)id);
}

/* Counts a detached spawn once it is accepted (the quiesce check). */
static int spawn_counted(mt_pool *p, void (*fn)(void *), void *arg)
{
	int rc = mt_spawn(p, fn, arg);
	if (rc == 0)
		/* release: a quiesce that reads the count after this waits
		 * for the task; pairs with the acquire in do_quiesce. */
		atomic_fetch_add_explicit(&detached_spawned, 1,
					  memory_order_release);
	else
		fail("mt_spawn", (unsigned long long)rc, 0);
	return rc;
}

static void run_parent(void *arg)
{
	uintptr_t packed = (uintptr_t)arg;
	size_t base = packed >> 4, k = packed & 15;
	for (size_t i = 1; i <= k; i++)
		spawn_counted(mt_current_pool(), run_one,
			      (void *)(uintptr_t)(base + i));
	run_one((void *)(uintptr_t)base);
}

static void group_item(void *arg)
{
	mark((uintptr_t)arg);
}

static void *map_item(void *param)
{
	mark((uintptr_t)param);
	return param;
}

/* Runs a map of n items starting at id base on p; checks the results. */
static void map_ids(mt_pool *p, size_t base, size_t n)
{
	void *params[64] = {0}, *results[64];
	for (size_t i = 0; i < n; i++)
		params[i] = (void *)(uintptr_t)(base + i);
	int rc = mt_map(p, map_item, params, results, n);
	if (rc != 0)
		fail("mt_map", (unsigned long long)rc, n);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (results[i] != params[i])
			fail("a map result is out of place", base, i);
	atomic_fetch_add(&maps, 1);
}

/* A group of n tasks with ids base.. on p, waited for. */
static void group_ids(mt_pool *p, size_t base, size_t n)
{
	mt_group g;
	int rc = mt_group_init(&g, p);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = mt_group_spawn(&g, group_item,
				    (void *)(uintptr_t)(base + i));
	if (rc != 0)
		fail("mt_group_spawn", (unsigned long long)rc, n);
	if (mt_group_wait(&g) != 0)
		fail("mt_group_wait", 0, 0);
	atomic_fetch_add(&groups, 1);
}

/* Nested fork-join inside a task: a group of 2, then a map of 4. */
static void run_nest(void *arg)
{
	size_t base = (uintptr_t)arg;
	mt_pool *p = mt_current_pool();
	group_ids(p, base + 1, 2);
	map_ids(p, base + 3, 4);
	run_one((void *)(uintptr_t)base);
}

/* ---- the submitters' operations ---- */

static void do_copy(size_t id, uint64_t *rng)
{
	unsigned char buf[200];
	uint32_t size = 8 + (uint32_t)(next_rand(rng) % 192),
		 id32 = (uint32_t)id;
	memcpy(buf, &id32, 4);
	memcpy(buf + 4, &size, 4);
	for (uint32_t i = 8; i < size; i++)
		buf[i] = (unsigned char)(id32 + i);
	int rc = mt_spawn_copy(pool, run_copy, buf, size);
	if (rc != 0)
		fail("mt_spawn_copy", (unsigned long long)rc, size);
	else
		atomic_fetch_add_explicit(&detached_spawned, 1,
					  memory_order_release);
}

static void do_quiesce(void)
{
	/* acquire: pairs with the release counts of accepted spawns. */
	uint64_t before =
		atomic_load_explicit(&detached_spawned, memory_order_acquire);
	if (mt_quiesce(pool) != 0)
		fail("mt_quiesce", 0, 0);
	uint64_t ran =
		atomic_load_explicit(&detached_ran, memory_order_relaxed);
	if (ran < before)
		fail("mt_quiesce returned before tasks spawned earlier ran",
		     ran, before);
	atomic_fetch_add(&quiesces, 1);
}

enum op {
	OP_QUIESCE,
	OP_SPAWN,
	OP_COPY,
	OP_PARENT,
	OP_NEST,
	OP_MAP,
	OP_GROUP
};

/* The mix, in percent: 2 quiesce, 38 spawn, 10 copy, 15 parent, 5 nest,
 * 15 map, 15 group. */
static enum op pick(unsigned percent)
{
	static const struct {
		unsigned below;
		enum op op;
	} mix[] = {{2, OP_QUIESCE}, {40, OP_SPAWN}, {50, OP_COPY},
		   {65, OP_PARENT}, {70, OP_NEST},  {85, OP_MAP}};
	for (size_t i = 0; i < sizeof mix / sizeof mix[0]; i++)
		if (percent < mix[i].below)
			return mix[i].op;
	return OP_GROUP;
}

/* How many ids (tasks or items) an operation uses. */
static size_t ids_for(enum op op, uint64_t *rng)
{
	switch (op) {
	case OP_PARENT:
		return 2 +
		       next_rand(rng) % 8; /* the parent and 1..8 children */
	case OP_NEST:
		return 7; /* the task, a group of 2, a map of 4 */
	case OP_MAP:
		return 1 + next_rand(rng) % 64;
	case OP_GROUP:
		return 1 + next_rand(rng) % 16;
	default:
		return 1;
	}
}

static void submit(enum op op, size_t base, size_t k, uint64_t *rng)
{
	switch (op) {
	case OP_SPAWN:
		spawn_counted(pool, run_one, (void *)(uintptr_t)base);
		break;
	case OP_COPY:
		do_copy(base, rng);
		break;
	case OP_PARENT:
		spawn_counted(pool, run_parent,
			      (void *)(uintptr_t)(base << 4 | (k - 1)));
		break;
	case OP_NEST:
		spawn_counted(pool, run_nest, (void *)(uintptr_t)base);
		break;
	case OP_MAP:
		map_ids(pool, base, k);
		break;
	default:
		group_ids(pool, base, k);
		break;
	}
}

/* One random operation; returns 0 when the epoch's ids ran out. */
static int one_op(uint64_t *rng)
{
	enum op op = pick((unsigned)(next_rand(rng) % 100));
	if (op == OP_QUIESCE) {
		do_quiesce();
		return 1;
	}
	size_t base, k = ids_for(op, rng);
	if (!reserve(k, &base))
		return 0;
	submit(op, base, k, rng);
	atomic_fetch_add_explicit(&submissions, k, memory_order_relaxed);
	return 1;
}

static void *submitter(void *arg)
{
	uint64_t rng = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1);
	for (;;) {
		while (one_op(&rng))
			;
		pthread_barrier_wait(&epoch_done);
		pthread_barrier_wait(&epoch_next);
		if (atomic_load(&stop))
			return NULL;
	}
}

/* ---- epochs ---- */

/* After every submitter stopped: all ids handed out ran exactly once. */
static void check_epoch(void)
{
	if (mt_quiesce(pool) != 0)
		fail("mt_quiesce", 0, 0);
	size_t used = atomic_load(&first_unused);
	for (size_t id = 0; id < used; id++)
		if (atomic_load_explicit(&seen[id], memory_order_relaxed) != 1)
			fail("a task id did not run exactly once", id,
			     atomic_load(&seen[id]));
	memset((void *)seen, 0, EPOCH_IDS);
	atomic_store(&first_unused, EPOCH_IDS);
	atomic_store(&next_id, 0);
}

/* ---- pools made and destroyed with work in flight ---- */

static _Atomic uint64_t life_ran;

static void life_task(void *arg)
{
	(void)arg;
	atomic_fetch_add_explicit(&life_ran, 1, memory_order_relaxed);
}

static void one_lifecycle(uint64_t *rng, unsigned long long round)
{
	mt_config cfg = {.threads = 1 + (unsigned)(next_rand(rng) % 4)};
	mt_pool *p = mt_pool_create(&cfg);
	if (p == NULL) {
		fail("mt_pool_create", (unsigned long long)errno, 0);
		return;
	}
	unsigned n = (unsigned)(next_rand(rng) % 2000);
	atomic_store(&life_ran, 0);
	for (unsigned i = 0; i < n; i++)
		if (mt_spawn(p, life_task, NULL) != 0)
			fail("mt_spawn on a fresh pool", i, n);
	uint64_t dropped = 0;
	mt_shutdown how = (round & 1) ? MT_DISCARD : MT_DRAIN;
	if (mt_pool_destroy_counted(p, how, &dropped) != 0)
		fail("mt_pool_destroy", round, 0);
	if (atomic_load(&life_ran) + dropped != n)
		fail("a destroyed pool lost tasks",
		     atomic_load(&life_ran) + dropped, n);
	atomic_fetch_add(&submissions, n);
	atomic_fetch_add(&pools_made, 1);
}

static void *lifecycles(void *arg)
{
	(void)arg;
	uint64_t rng = 0x2545f4914f6cdd1dull;
	for (unsigned long long r = 0; !atomic_load(&stop); r++)
		one_lifecycle(&rng, r);
	return NULL;
}

/* ---- main ---- */

static void parse(int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i += 2) {
		unsigned long long v = strtoull(argv[i + 1], NULL, 10);
		if (strcmp(argv[i], "--seconds") == 0)
			opt_seconds = (unsigned)v;
		else if (strcmp(argv[i], "--workers") == 0)
			opt_workers = (unsigned)v;
		else if (strcmp(argv[i], "--submitters") == 0)
			opt_submitters = (unsigned)v;
		else if (strcmp(argv[i], "--min-submissions") == 0)
			opt_min_submissions = v;
	}
	if (opt_submitters < 1 || opt_submitters > MAX_SUBMITTERS)
		opt_submitters = 4;
}

/* Epoch loop of the main thread; returns the number of epochs. */
static unsigned long run_epochs(double end)
{
	unsigned long epochs = 0;
	for (;;) {
		pthread_barrier_wait(&epoch_done);
		check_epoch();
		epochs++;
		if (now_s() >= end || atomic_load(&failed))
			atomic_store(&stop, 1);
		pthread_barrier_wait(&epoch_next);
		if (atomic_load(&stop))
			return epochs;
	}
}

int main(int argc, char **argv)
{
	parse(argc, argv);
	mt_config cfg = {.threads = opt_workers};
	pool = mt_pool_create(&cfg);
	seen = calloc(EPOCH_IDS, 1);
	if (pool == NULL || seen == NULL)
		return fprintf(stderr, "soak_mixed: setup failed\n"), 1;
	atomic_store(&first_unused, EPOCH_IDS);
	pthread_barrier_init(&epoch_done, NULL, opt_submitters + 1);
	pthread_barrier_init(&epoch_next, NULL, opt_submitters + 1);
	double t0 = now_s();
	pthread_t sub[MAX_SUBMITTERS], life;
	for (uintptr_t k = 0; k < opt_submitters; k++)
		pthread_create(&sub[k], NULL, submitter, (void *)k);
	pthread_create(&life, NULL, lifecycles, NULL);
	unsigned long epochs = run_epochs(t0 + opt_seconds);
	for (unsigned k = 0; k < opt_submitters; k++)
		pthread_join(sub[k], NULL);
	pthread_join(life, NULL);
	if (mt_pool_destroy(pool, MT_DRAIN) != 0)
		fail("mt_pool_destroy", 0, 0);
	unsigned long long n = atomic_load(&submissions);
	if (n < opt_min_submissions)
		fail("fewer submissions than asked for", n,
		     opt_min_submissions);
	printf("soak_mixed: submissions=%llu epochs=%lu maps=%llu groups=%llu "
	       "quiesces=%llu pools=%llu workers=%u submitters=%u "
	       "seconds=%.1f result=%s\n",
	       n, epochs, atomic_load(&maps), atomic_load(&groups),
	       atomic_load(&quiesces), atomic_load(&pools_made), opt_workers,
	       opt_submitters, now_s() - t0,
	       atomic_load(&failed) ? "FAILED" : "ok");
	return atomic_load(&failed) ? 1 : 0;
}
