/*
 * bench/futex_floor.c: the wake-up floor of this machine, without a pool.
 *
 * The same probe as mtbench's wake-latency rows, on raw threads: a thread
 * sleeps in FUTEX_WAIT; every 2 ms the main thread stamps the time, wakes
 * it with FUTEX_WAKE, and sleep-polls until the thread has stamped its own
 * start. Two variants: the woken thread goes straight back to sleep, or it
 * first spins for about 100 us, as a pool worker searching for more work
 * does. Prints the median and p99 of 200 probes for each, computed as
 * mtbench computes its wake rows (median of an even count: the mean of the
 * two middle values; p99: nearest rank).
 *
 *   futex_floor [--csv FILE]
 *
 * --csv writes the first variant's two figures as mtbench rows of a
 * runtime named "floor", so that bench/compare.sh can put the floor beside
 * every runtime's wake latency, measured in the same rounds.
 *
 * Build: cmake builds it as `futex_floor` next to mtbench.
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PROBES 200

static _Atomic uint32_t word;
static _Atomic int64_t stamp;
static int spin_after_wake;

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void spin_us(int64_t us)
{
	int64_t end = now_ns() + us * 1000;
	while (now_ns() < end)
		;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;) {
		uint32_t seen = atomic_load(&word);
		syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, seen, NULL, NULL,
			0);
		if (atomic_load(&word) == seen)
			continue; /* spurious */
		atomic_store(&stamp, now_ns());
		if (spin_after_wake)
			spin_us(100);
	}
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

struct figures {
	double median, p99; /* us */
};

/* Nearest rank, as mtbench's quantile() for q != 0.5. */
static double rank(const int64_t *sorted, double q)
{
	int k = (int)(q * PROBES);
	if ((double)k < q * PROBES)
		k++;
	return (double)sorted[k > 0 ? k - 1 : 0] / 1e3;
}

static struct figures probe(const char *label)
{
	int64_t lat[PROBES];
	const struct timespec gap = {0, 2000000}, poll = {0, 20000};
	for (int i = 0; i < PROBES; i++) {
		nanosleep(&gap, NULL);
		atomic_store(&stamp, 0);
		int64_t t0 = now_ns();
		atomic_fetch_add(&word, 1);
		syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
		while (atomic_load(&stamp) == 0)
			nanosleep(&poll, NULL);
		lat[i] = atomic_load(&stamp) - t0;
	}
	qsort(lat, PROBES, sizeof lat[0], cmp);
	struct figures f = {
		.median = (double)(lat[PROBES / 2 - 1] + lat[PROBES / 2]) / 2e3,
		.p99 = rank(lat, 0.99)};
	printf("%-34s median %6.1f us   p99 %6.1f us   min %5.1f us\n", label,
	       f.median, f.p99, (double)lat[0] / 1e3);
	return f;
}

static int write_csv(const char *path, struct figures f)
{
	FILE *out = fopen(path, "w");
	if (out == NULL)
		return -1;
	fprintf(out, "runtime,threads,workload,value,unit,n,baseline,"
		     "target_max,result\n");
	fprintf(out,
		"floor,1,\"wake latency, median\",%.6g,us,%d,"
		"\"raw futex, no pool\",,-\n",
		f.median, PROBES);
	fprintf(out,
		"floor,1,\"wake latency, p99\",%.6g,us,%d,"
		"\"raw futex, no pool\",,-\n",
		f.p99, PROBES);
	return fclose(out);
}

int main(int argc, char **argv)
{
	const char *csv = NULL;
	if (argc == 3 && strcmp(argv[1], "--csv") == 0)
		csv = argv[2];
	else if (argc != 1) {
		fprintf(stderr, "usage: futex_floor [--csv FILE]\n");
		return 2;
	}
	pthread_t t;
	if (pthread_create(&t, NULL, sleeper, NULL) != 0)
		return 1;
	struct figures f = probe("raw futex, sleeper idles at once");
	spin_after_wake = 1;
	probe("raw futex, sleeper spins 100 us");
	if (csv != NULL && write_csv(csv, f) != 0) {
		perror(csv);
		return 1;
	}
	return 0;
}
