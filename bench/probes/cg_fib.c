/*
 * bench/probes/cg_fib.c: instructions per group spawn, for callgrind.
 *
 * fib(22) with one mt_group per call (spawn fib(n-1), fib(n-2) inline,
 * wait), no cutoff, on a one-worker pool, in a root task the count is
 * toggled on; then the plain recursion in a second function. The load of
 * a shared machine does not change instruction counts, so this is the
 * repeatable measure of the spawn path (docs/benchmarks.md):
 *
 *   valgrind --tool=callgrind --toggle-collect=root_task ./cg_fib
 *   valgrind --tool=callgrind --toggle-collect=seq_root ./cg_fib
 *
 * (root - seq) / 28,656 spawns = instructions per spawn beyond the
 * sequential recursion (fib(22) makes fib(23) - 1 spawns).
 */
#include <mtpool/mtpool.h>

#include <stdint.h>
#include <stdio.h>

static mt_pool *pool;

struct frame {
	unsigned n;	/* IN */
	uint64_t value; /* OUT */
};

static uint64_t pfib(unsigned n);

static void task(void *arg)
{
	struct frame *f = arg;
	f->value = pfib(f->n);
}

static uint64_t pfib(unsigned n)
{
	if (n < 2)
		return n;
	struct frame child = {n - 1, 0};
	mt_group g;
	mt_group_init(&g, pool);
	mt_group_spawn(&g, task, &child);
	uint64_t rest = pfib(n - 2);
	mt_group_wait(&g);
	return child.value + rest;
}

__attribute__((noinline)) void root_task(void *arg)
{
	struct frame *f = arg;
	f->value = pfib(f->n);
}

__attribute__((noinline)) static uint64_t sfib(unsigned n)
{
	return n < 2 ? n : sfib(n - 1) + sfib(n - 2);
}

__attribute__((noinline)) void seq_root(void *arg)
{
	struct frame *f = arg;
	f->value = sfib(f->n);
}

int main(void)
{
	mt_config cfg = {.threads = 1};
	pool = mt_pool_create(&cfg);
	if (pool == NULL)
		return 1;
	struct frame root = {22, 0}, seq = {22, 0};
	mt_group g;
	mt_group_init(&g, pool);
	mt_group_spawn(&g, root_task, &root);
	mt_group_wait(&g);
	seq_root(&seq);
	printf("fib(22) = %llu (sequential %llu)\n",
	       (unsigned long long)root.value, (unsigned long long)seq.value);
	mt_pool_destroy(pool, MT_DRAIN);
	return root.value == seq.value ? 0 : 1;
}
