/*
 * mtbench: the workloads, timed on every registered runtime
 * against a sequential baseline measured in the same run.
 *
 * Overview
 * ========
 * For each runtime (bench.h) the program runs, with `threads` workers
 * (online CPUs by default):
 *   machine    how many CPUs raw pthreads get right now, at the start and
 *              the end (a shared machine gives fewer than it has);
 *   detached   1M empty tasks spawned from the main thread, then quiesce;
 *   for 10M    a[i] = i*2+1 over 10M items, against the plain loop and
 *              against the same body split in halves on raw pthreads;
 *   map 64     20,000 maps of 64 tiny items;
 *   fib(32)    a spawn per call, no cutoff; on one worker for the
 *              per-spawn overhead, on all workers for the speedup;
 *   unbalanced 10,000 items, every 100th spinning 200 us, the rest 0.5 us;
 *   wake       latency of one spawn into a fully parked pool;
 *   idle CPU   CPU burned by the warm, parked pool over one second;
 *   oversub    fib and for 10M again with 8 workers, as a ratio.
 * Each figure is the median of --reps repetitions (5); a row prints the
 * value, the sequential baseline, the target and PASS/MISS. A row
 * a runtime cannot do prints N/A and the runtime's reason (bench.h).
 *
 * Usage
 * =====
 *   mtbench [--runtime NAME[,NAME...]|all] [--threads N] [--reps N]
 *           [--quick] [--csv FILE] [--oversub N] [--timeout SEC] [--strict]
 *           [--only WORKLOAD[,WORKLOAD...]]
 *
 * The default runtime is mtpool; `all` runs every compiled-in runtime in
 * turn, `seq` runs the sequential baselines as if they were a runtime (a
 * column of the comparison, bench/compare.sh).
 *
 * Exit status: 0; 1 if any result was wrong or a runtime call failed;
 * 2 for a usage error or when the watchdog (--timeout) fired; 3 with
 * --strict when a target was missed. Missed targets alone exit 0: the
 * machine is shared and noisy, so CI smoke-tests correctness, not speed.
 *
 * Implementation notes
 * ====================
 * Results are checked outside the timed regions (array contents, map
 * results, fib value, every unbalanced item run once), so checking costs
 * no time in the figures. Arrays are cleared before every repetition,
 * also untimed, so page faults never land in a timed region. The table is
 * printed row by row as measured, so a hang shows which workload hung, and a
 * watchdog (SIGALRM) turns a hang into exit status 2.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* A once_fn's return value when the work ran but produced a wrong result
 * (runtime errors are positive errno values). */
#define WRONG (-1)

/* Bounds on --reps: enough for a stable median, few enough for a stack
 * array of samples. */
#define MAX_REPS 100u

/* The compiled-in runtimes, in the order `--runtime all` runs them. */
static const struct bench_runtime *const runtimes[] = {
	&bench_rt_mtpool,
#ifdef MTBENCH_HAVE_OPENMP
	&bench_rt_openmp,
#endif
#ifdef MTBENCH_HAVE_TBB
	&bench_rt_tbb,
#endif
#ifdef MTBENCH_HAVE_GLIB
	&bench_rt_glib,
#endif
#ifdef MTBENCH_HAVE_UV
	&bench_rt_uv,
#endif
};

#define NRUNTIMES (sizeof runtimes / sizeof runtimes[0])

/* Workload sizes: the issue's, or the --quick ones for CI. */
struct sizes {
	size_t detached;       /* tasks per detached repetition */
	size_t fill;	       /* items of the "for 10M" workload */
	size_t small_calls;    /* maps per map-64 repetition */
	size_t small_n;	       /* items per small map */
	unsigned fib_n;	       /* argument of fib */
	unsigned wake_samples; /* wake-latency samples */
	uint64_t idle_ns;      /* idle-CPU window */
	size_t unbal_n;	       /* items of the unbalanced workload */
};

static const struct sizes full_sizes = {
	.detached = 1000000,
	.fill = 10000000,
	.small_calls = 20000,
	.small_n = 64,
	.fib_n = 32,
	.wake_samples = 200,
	.idle_ns = 1000000000,
	.unbal_n = 10000,
};

static const struct sizes quick_sizes = {
	.detached = 100000,
	.fill = 1000000,
	.small_calls = 2000,
	.small_n = 64,
	.fib_n = 25,
	.wake_samples = 30,
	.idle_ns = 100000000,
	.unbal_n = 2000,
};

struct options {
	const char *runtime; /* NULL: all */
	const char *only;    /* NULL: every workload; else a comma list */
	unsigned threads;
	unsigned reps;
	unsigned oversub;
	unsigned timeout_s;
	int quick;
	int strict;
	const char *csv;
};

static struct options opt;
static struct sizes sz;
static FILE *csv;
static int failed; /* a wrong result or a failed runtime call */
static int missed; /* a target missed */

/* What is running now, for the watchdog's message. */
static const char *volatile stage = "start-up";

/* Row names that carry the sizes in use, built once by make_labels(). */
static struct {
	char fill[64], fill_sp[64], fill_pt[64], fill_rg[64];
	char fib[64], fib_sp[64], fib_ov[64], fib1[64];
	char over_fib[64], over_fill[64];
} lbl;

/* One line of the table. `value` NAN = not measured; `target` NAN = the
 * issue sets none; `result` NULL = decide PASS/MISS from the target. */
struct row {
	const char *workload;
	double value;
	const char *unit;
	unsigned n; /* repetitions or samples behind the value */
	char baseline[48];
	double target;
	const char *result;
};

/* ---- statistics and formatting ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts s[0..n-1] and returns the value at quantile q (nearest rank; the
 * mean of the two middle values for the median of an even count). */
static double quantile(double *s, size_t n, double q)
{
	size_t k;

	qsort(s, n, sizeof *s, cmp_double);
	if (q == 0.5 && n % 2 == 0)
		return (s[n / 2 - 1] + s[n / 2]) / 2;
	/* k = ceil(q * n), without libm (the by-hand build links no -lm). */
	k = (size_t)(q * (double)n);
	if ((double)k < q * (double)n)
		k++;
	return s[k > 0 ? k - 1 : 0];
}

static void fmt_value(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "N/A");
	else if (v > -1 && v < 1)
		snprintf(buf, len, "%.3f", v);
	else if (v > -100 && v < 100)
		snprintf(buf, len, "%.2f", v);
	else
		snprintf(buf, len, "%.1f", v);
}

static const char *row_result(const struct row *r)
{
	if (r->result)
		return r->result;
	if (isnan(r->value))
		return "N/A";
	if (isnan(r->target))
		return "-";
	if (r->value <= r->target)
		return "PASS";
	missed = 1;
	return "MISS";
}

static void print_header(void)
{
	char rule[105];

	memset(rule, '-', sizeof rule - 1);
	rule[sizeof rule - 1] = '\0';
	printf("%-30s %10s %-8s %4s  %-30s %-8s %s\n", "workload", "value",
	       "unit", "n", "baseline (same run)", "target", "result");
	printf("%s\n", rule);
}

/* CSV keeps full precision and leaves value and target_max empty when
 * there is none; the baseline is free text, quoted. */
static void emit_csv(const struct bench_runtime *rt, const struct row *r,
		     const char *res)
{
	fprintf(csv, "%s,%u,\"%s\",", rt->name, opt.threads, r->workload);
	if (!isnan(r->value))
		fprintf(csv, "%.6g", r->value);
	fprintf(csv, ",%s,%u,\"%s\",", r->unit, r->n, r->baseline);
	if (!isnan(r->target))
		fprintf(csv, "%g", r->target);
	fprintf(csv, ",%s\n", res);
}

static void emit(const struct bench_runtime *rt, const struct row *r)
{
	char value[32], target[32] = "-";
	const char *res = row_result(r);

	fmt_value(value, sizeof value, r->value);
	if (!isnan(r->target)) {
		fmt_value(target + 3, sizeof target - 3, r->target);
		memcpy(target, "<= ", 3);
	}
	printf("%-30s %10s %-8s %4u  %-30s %-8s %s\n", r->workload, value,
	       r->unit, r->n, r->baseline, target, res);
	fflush(stdout);
	if (csv)
		emit_csv(rt, r, res);
}

/* Reports a failed call or wrong result on stderr and marks the row. */
static void row_fail(const struct bench_runtime *rt, struct row *r, int err)
{
	failed = 1;
	r->value = NAN;
	if (err == WRONG) {
		r->result = "WRONG";
		fprintf(stderr, "mtbench: %s: %s: wrong result\n", rt->name,
			r->workload);
	} else {
		r->result = "ERROR";
		fprintf(stderr, "mtbench: %s: %s: %s\n", rt->name, r->workload,
			strerror(err));
	}
}

static struct row row_new(const char *workload, const char *unit, double target)
{
	struct row r = {.workload = workload,
			.value = NAN,
			.unit = unit,
			.n = opt.reps,
			.target = target};

	stage = workload;
	return r;
}

/* Emits r as N/A with the runtime's reason (NULL: none given). */
static void emit_na(const struct bench_runtime *rt, struct row *r,
		    const char *why)
{
	r->value = NAN;
	r->result = "N/A";
	snprintf(r->baseline, sizeof r->baseline, "%s", why ? why : "");
	emit(rt, r);
}

/* ---- repetition ---- */

/* One timed repetition: stores its figure in *out; returns 0, a positive
 * errno from the runtime, or WRONG. */
typedef int (*once_fn)(const struct bench_runtime *rt, void *ctx, double *out);

static int median_of(const struct bench_runtime *rt, once_fn once, void *ctx,
		     double *median)
{
	double s[MAX_REPS];
	int err;

	for (unsigned i = 0; i < opt.reps; i++) {
		err = once(rt, ctx, &s[i]);
		if (err != 0)
			return err;
	}
	*median = quantile(s, opt.reps, 0.5);
	return 0;
}

/* ---- detached throughput ---- */

static void empty_task(void *arg)
{
	(void)arg;
}

static void count_task(void *arg)
{
	atomic_fetch_add_explicit((atomic_size_t *)arg, 1,
				  memory_order_relaxed);
}

/* Untimed: every accepted task runs, and quiesce waits for all of them
 * (its return makes their effects visible, so relaxed is enough). */
static int detached_check(const struct bench_runtime *rt)
{
	atomic_size_t count = 0;
	size_t n = 10000;
	int err;

	for (size_t i = 0; i < n; i++)
		if ((err = rt->spawn_detached(count_task, &count)) != 0)
			return err;
	if ((err = rt->quiesce()) != 0)
		return err;
	return atomic_load_explicit(&count, memory_order_relaxed) == n ? 0 :
									 WRONG;
}

static int detached_once(const struct bench_runtime *rt, void *ctx, double *out)
{
	uint64_t t0 = bench_now_ns();
	int err;

	(void)ctx;
	for (size_t i = 0; i < sz.detached; i++)
		if ((err = rt->spawn_detached(empty_task, NULL)) != 0)
			return err;
	if ((err = rt->quiesce()) != 0)
		return err;
	*out = (double)(bench_now_ns() - t0) / (double)sz.detached;
	return 0;
}

static void wl_detached(const struct bench_runtime *rt)
{
	struct row r = row_new("detached spawn+quiesce", "ns/task", 50);
	double seq = NAN, par = NAN;
	int err;

	if (!rt->spawn_detached || !rt->quiesce) {
		emit_na(rt, &r, rt->why_no_detached);
		return;
	}
	err = detached_check(rt);
	if (err == 0)
		err = median_of(&bench_rt_seq, detached_once, NULL, &seq);
	if (err == 0)
		err = median_of(rt, detached_once, NULL, &par);
	if (err != 0)
		row_fail(rt, &r, err);
	else {
		r.value = par;
		snprintf(r.baseline, sizeof r.baseline, "call %.2f ns", seq);
	}
	emit(rt, &r);
}

/* ---- for over 10M items ---- */

static void fill_body(size_t i, void *ctx)
{
	uint64_t *a = ctx;

	a[i] = (uint64_t)i * 2 + 1;
}

static int fill_check(const uint64_t *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != (uint64_t)i * 2 + 1)
			return WRONG;
	return 0;
}

struct fill_ctx {
	uint64_t *a;
	int plain; /* time bench_seq_fill() instead of rt->parallel_for */
};

static int fill_once(const struct bench_runtime *rt, void *ctx, double *out)
{
	struct fill_ctx *c = ctx;
	uint64_t t0;
	int err;

	memset(c->a, 0, sz.fill * sizeof *c->a);
	t0 = bench_now_ns();
	if (c->plain)
		bench_seq_fill(c->a, sz.fill);
	else if ((err = rt->parallel_for(sz.fill, fill_body, c->a)) != 0)
		return err;
	*out = (double)(bench_now_ns() - t0) / (double)sz.fill;
	return fill_check(c->a, sz.fill);
}

/* Median ns/item of the fill with rt->parallel_for, or of the plain loop. */
static int fill_median(const struct bench_runtime *rt, int plain, double *ns)
{
	struct fill_ctx c = {.a = malloc(sz.fill * sizeof *c.a),
			     .plain = plain};
	int err;

	if (!c.a)
		return ENOMEM;
	err = median_of(rt, fill_once, &c, ns);
	free(c.a);
	return err;
}

/* ---- small maps ---- */

static void *small_fn(void *param)
{
	return (void *)((uintptr_t)param * 2 + 1);
}

struct small_ctx {
	void *params[64];
	void *results[64];
};

static int small_once(const struct bench_runtime *rt, void *ctx, double *out)
{
	struct small_ctx *c = ctx;
	uint64_t t0;
	int err;

	memset(c->results, 0, sizeof c->results);
	t0 = bench_now_ns();
	for (size_t k = 0; k < sz.small_calls; k++)
		if ((err = rt->map(small_fn, c->params, c->results,
				   sz.small_n)) != 0)
			return err;
	*out = (double)(bench_now_ns() - t0) / 1e3 / (double)sz.small_calls;
	for (size_t i = 0; i < sz.small_n; i++)
		if (c->results[i] != small_fn(c->params[i]))
			return WRONG;
	return 0;
}

static void wl_small_maps(const struct bench_runtime *rt)
{
	struct row r = row_new("map 64 items", "us/call", 0.5);
	struct small_ctx c;
	double seq = NAN, par = NAN;
	int err;

	if (!rt->map) {
		emit_na(rt, &r, rt->why_no_for);
		return;
	}
	for (size_t i = 0; i < sz.small_n; i++)
		c.params[i] = (void *)(uintptr_t)(i + 1);
	err = median_of(&bench_rt_seq, small_once, &c, &seq);
	if (err == 0)
		err = median_of(rt, small_once, &c, &par);
	if (err != 0)
		row_fail(rt, &r, err);
	else {
		r.value = par;
		snprintf(r.baseline, sizeof r.baseline, "seq %.3f us", seq);
	}
	emit(rt, &r);
}

/* ---- fib ---- */

static uint64_t fib_iter(unsigned n)
{
	uint64_t a = 0, b = 1;

	while (n-- > 0) {
		uint64_t t = a + b;

		a = b;
		b = t;
	}
	return a;
}

/* Spawns made by fib(n) with one spawn per call that has n >= 2:
 * S(n) = 1 + S(n-1) + S(n-2), S(0) = S(1) = 0, so S(n) = fib(n+1) - 1. */
static uint64_t fib_spawns(unsigned n)
{
	return fib_iter(n + 1) - 1;
}

static int fib_once(const struct bench_runtime *rt, void *ctx, double *out)
{
	uint64_t t0 = bench_now_ns(), v;
	int err;

	(void)ctx;
	if ((err = rt->fib(sz.fib_n, &v)) != 0)
		return err;
	*out = (double)(bench_now_ns() - t0) / 1e6;
	return v == fib_iter(sz.fib_n) ? 0 : WRONG;
}

/* ---- unbalanced for ---- */

/* Item costs from the issue: every 100th item is heavy. */
#define UNBAL_HEAVY_NS 200000u
#define UNBAL_LIGHT_NS 500u

struct unbal_ctx {
	unsigned char *hits; /* hits[i]: times item i ran; one writer each */
};

static uint64_t unbal_cost(size_t i)
{
	return i % 100 == 0 ? UNBAL_HEAVY_NS : UNBAL_LIGHT_NS;
}

static void unbal_body(size_t i, void *ctx)
{
	struct unbal_ctx *c = ctx;

	bench_spin_ns(unbal_cost(i));
	c->hits[i]++;
}

static int unbal_once(const struct bench_runtime *rt, void *ctx, double *out)
{
	struct unbal_ctx *c = ctx;
	uint64_t t0;
	int err;

	memset(c->hits, 0, sz.unbal_n);
	t0 = bench_now_ns();
	if ((err = rt->parallel_for(sz.unbal_n, unbal_body, c)) != 0)
		return err;
	*out = (double)(bench_now_ns() - t0) / 1e6;
	for (size_t i = 0; i < sz.unbal_n; i++)
		if (c->hits[i] != 1)
			return WRONG;
	return 0;
}

/* The ideal: the sum of the nominal item costs over the workers. */
static double unbal_ideal_ms(void)
{
	double total = 0;

	for (size_t i = 0; i < sz.unbal_n; i++)
		total += (double)unbal_cost(i);
	return total / 1e6 / opt.threads;
}

static void wl_unbalanced(const struct bench_runtime *rt)
{
	struct row r = row_new("unbalanced for: time/ideal", "x", 1.03);
	struct row r2 = row_new("unbalanced for: time/(seq/W)", "x", NAN);
	struct unbal_ctx c;
	double seq = NAN, par = NAN, ideal = unbal_ideal_ms();
	int err;

	if (!rt->parallel_for) {
		emit_na(rt, &r, rt->why_no_for);
		emit_na(rt, &r2, rt->why_no_for);
		return;
	}
	c.hits = malloc(sz.unbal_n);
	err = c.hits ? 0 : ENOMEM;
	if (err == 0)
		err = median_of(&bench_rt_seq, unbal_once, &c, &seq);
	if (err == 0)
		err = median_of(rt, unbal_once, &c, &par);
	free(c.hits);
	if (err != 0) {
		row_fail(rt, &r, err);
		row_fail(rt, &r2, err);
	} else {
		r.value = par / ideal;
		r2.value = par / (seq / opt.threads);
		snprintf(r.baseline, sizeof r.baseline,
			 "ideal %.2f ms, par %.2f", ideal, par);
		snprintf(r2.baseline, sizeof r2.baseline, "seq %.2f ms", seq);
	}
	emit(rt, &r);
	emit(rt, &r2);
}

/* ---- wake latency ---- */

struct wake_probe {
	_Atomic uint64_t stamp; /* when the task ran; 0 before */
};

static void wake_task(void *arg)
{
	struct wake_probe *p = arg;

	atomic_store_explicit(&p->stamp, bench_now_ns(), memory_order_relaxed);
}

/* Gap between probes, long enough for the workers to park again (it is
 * not timed: wait_parked checks that they did). */
#define WAKE_GAP_NS 2000000u

/* One sample in us. Returns ETIMEDOUT if the pool would not park. */
static int wake_once(const struct bench_runtime *rt, uint64_t park_timeout,
		     double *us)
{
	struct wake_probe p = {0};
	uint64_t t0;
	int err;

	bench_sleep_ns(WAKE_GAP_NS);
	if ((err = rt->wait_parked(park_timeout)) != 0)
		return err;
	t0 = bench_now_ns();
	if ((err = rt->spawn_detached(wake_task, &p)) != 0)
		return err;
	/* quiesce makes the task's store visible; relaxed load suffices. */
	if ((err = rt->quiesce()) != 0)
		return err;
	uint64_t t1 = atomic_load_explicit(&p.stamp, memory_order_relaxed);
	if (t1 == 0)
		return WRONG;
	*us = (double)(t1 > t0 ? t1 - t0 : 0) / 1e3;
	return 0;
}

/* Fills s[0..n-1]; each probe may wait up to a second for the pool to
 * park (a loaded machine, such as CI running this as a smoke test, can
 * delay the workers' last spin); a pool that never parks fails the row. */
static int wake_samples(const struct bench_runtime *rt, double *s, unsigned n)
{
	int err = 0;

	for (unsigned i = 0; i < n && err == 0; i++)
		err = wake_once(rt, 1000000000u, &s[i]);
	return err;
}

static void wl_wake(const struct bench_runtime *rt)
{
	struct row med = row_new("wake latency, median", "us", 4);
	struct row p99 = row_new("wake latency, p99", "us", 20);
	unsigned n = sz.wake_samples;
	double *s;
	int err;

	med.n = p99.n = n;
	if (!rt->wait_parked || !rt->spawn_detached || !rt->quiesce) {
		const char *why = rt->wait_parked ? rt->why_no_detached :
						    rt->why_no_parked;

		emit_na(rt, &med, why);
		emit_na(rt, &p99, why);
		return;
	}
	s = malloc(n * sizeof *s);
	err = s ? wake_samples(rt, s, n) : ENOMEM;
	if (err == ETIMEDOUT) {
		med.result = p99.result = "MISS";
		snprintf(med.baseline, sizeof med.baseline,
			 "pool did not park");
		missed = 1;
	} else if (err != 0) {
		row_fail(rt, &med, err);
		row_fail(rt, &p99, err);
	} else {
		med.value = quantile(s, n, 0.5);
		p99.value = quantile(s, n, 0.99);
		snprintf(med.baseline, sizeof med.baseline, "min %.2f us",
			 s[0]);
	}
	free(s);
	emit(rt, &med);
	emit(rt, &p99);
}

/* ---- idle CPU ---- */

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A small map to warm the pool up. */
static int warm_up(const struct bench_runtime *rt)
{
	size_t n = 100000;
	uint64_t *a = malloc(n * sizeof *a);
	int err;

	if (!a)
		return ENOMEM;
	err = rt->parallel_for(n, fill_body, a);
	if (err == 0)
		err = fill_check(a, n);
	free(a);
	return err;
}

/* Set when wait_parked timed out before an idle window: the window was
 * measured anyway, since CPU burned by a pool that never parks is exactly
 * what the workload is for. */
static int idle_unparked;

/* The baseline: process CPU over the same window before any runtime has
 * started, i.e. what the measurement itself costs (main() sets it). */
static double idle_floor;

/* Process CPU over the idle window, in ms per second of wall time.
 * `parked`: wait for all workers to park first (the figure);
 * otherwise start right after the warm-up, so any spin-down counts. */
static int idle_once(const struct bench_runtime *rt, void *ctx, double *out)
{
	int parked = *(int *)ctx, err;
	uint64_t c0;

	if ((err = warm_up(rt)) != 0)
		return err;
	err = parked && rt->wait_parked ? rt->wait_parked(1000000000u) : 0;
	if (err == ETIMEDOUT)
		idle_unparked = 1;
	else if (err != 0)
		return err;
	c0 = cpu_ns();
	bench_sleep_ns(sz.idle_ns);
	*out = (double)(cpu_ns() - c0) / 1e6 / ((double)sz.idle_ns / 1e9);
	return 0;
}

static double measure_idle_floor(void)
{
	double s[MAX_REPS];
	int parked = 0;

	for (unsigned i = 0; i < opt.reps; i++)
		idle_once(&bench_rt_seq, &parked, &s[i]);
	return quantile(s, opt.reps, 0.5);
}

static void wl_idle_one(const struct bench_runtime *rt, struct row *r,
			int parked)
{
	double v = NAN;
	int err;

	if (!rt->parallel_for || (parked && !rt->wait_parked)) {
		emit_na(rt, r,
			rt->parallel_for ? rt->why_no_parked : rt->why_no_for);
		return;
	}
	idle_unparked = 0;
	err = median_of(rt, idle_once, &parked, &v);
	if (err != 0)
		row_fail(rt, r, err);
	else if (idle_unparked) {
		r->value = v;
		snprintf(r->baseline, sizeof r->baseline,
			 "pool did not park in 1 s");
	} else {
		r->value = v;
		snprintf(r->baseline, sizeof r->baseline, "no pool %.3f ms/s",
			 idle_floor);
	}
	emit(rt, r);
}

static void wl_idle(const struct bench_runtime *rt)
{
	struct row parked = row_new("idle CPU, all parked", "ms/s", 0.1);
	struct row after =
		row_new("idle CPU, 1 s right after map", "ms/s", NAN);

	wl_idle_one(rt, &parked, 1);
	wl_idle_one(rt, &after, 0);
}

/* ---- machine check ---- */

/* Work per thread of the capacity check: long against thread start-up,
 * short against the run. */
#define CAPACITY_SPIN_NS 10000000u

static void *spin_thread(void *arg)
{
	(void)arg;
	bench_spin_ns(CAPACITY_SPIN_NS);
	return NULL;
}

/* How many CPUs the machine gives us right now: `threads` raw pthreads
 * (the caller is one) each spin CAPACITY_SPIN_NS; the figure is
 * threads * one-thread time / all-threads time, about `threads` on an
 * idle machine and less when other processes hold CPUs. Every parallel
 * figure of the run is only as good as this one. */
static int capacity_once(const struct bench_runtime *rt, void *ctx, double *out)
{
	pthread_t *t = malloc(opt.threads * sizeof *t);
	uint64_t t0 = bench_now_ns(), one, all;
	unsigned made = 0;
	int err = t ? 0 : ENOMEM;

	(void)rt;
	(void)ctx;
	spin_thread(NULL);
	one = bench_now_ns() - t0;
	t0 = bench_now_ns();
	while (err == 0 && made + 1 < opt.threads)
		if ((err = pthread_create(&t[made], NULL, spin_thread, NULL)) ==
		    0)
			made++;
	spin_thread(NULL);
	while (made > 0)
		pthread_join(t[--made], NULL);
	all = bench_now_ns() - t0;
	free(t);
	*out = (double)opt.threads * (double)one / (double)all;
	return err;
}

static void wl_capacity(const struct bench_runtime *rt, const char *label)
{
	struct row r = row_new(label, "cpus", NAN);
	int err = median_of(rt, capacity_once, NULL, &r.value);

	if (err != 0)
		row_fail(rt, &r, err);
	else
		snprintf(r.baseline, sizeof r.baseline, "%u pthreads, ideal %u",
			 opt.threads, opt.threads);
	emit(rt, &r);
}

/* ---- runs of one runtime ---- */

/* Medians kept across pools for the derived rows. */
struct figures {
	double fill_seq, fill_par; /* ns/item */
	double fib_seq, fib_par;   /* ms */
};

/* One repetition of the raw-pthreads baseline (bench_pthreads_for). */
static int fill_pt_once(const struct bench_runtime *rt, void *ctx, double *out)
{
	uint64_t *a = ctx, t0;
	int err;

	(void)rt;
	memset(a, 0, sz.fill * sizeof *a);
	t0 = bench_now_ns();
	if ((err = bench_pthreads_for(opt.threads, sz.fill, fill_body, a)) != 0)
		return err;
	*out = (double)(bench_now_ns() - t0) / (double)sz.fill;
	return fill_check(a, sz.fill);
}

/* The same body through the same pointer, split in one part per worker on
 * raw pthreads: what the machine gives a balanced loop with no pool at
 * all. On a VM whose vCPUs share a core this is far below W x, and a
 * pool's speedup must be read against it, not against W. */
static void wl_fill_pthreads(const struct bench_runtime *rt, double calls)
{
	struct row r = row_new(lbl.fill_pt, "ns/item", NAN);
	uint64_t *a = malloc(sz.fill * sizeof *a);
	double pt = NAN;
	int err = a ? median_of(rt, fill_pt_once, a, &pt) : ENOMEM;

	free(a);
	if (err != 0)
		row_fail(rt, &r, err);
	else {
		r.value = pt;
		snprintf(r.baseline, sizeof r.baseline,
			 "%u halves; %.2fx over call loop", opt.threads,
			 calls / pt);
	}
	emit(rt, &r);
}

static void wl_fill(const struct bench_runtime *rt, struct figures *f)
{
	struct row r = row_new(lbl.fill, "ns/item", NAN);
	struct row sp = row_new(lbl.fill_sp, "x", NAN);
	struct row pt = row_new(lbl.fill_pt, "ns/item", NAN);
	double calls = NAN; /* the seq loop calling fill_body per item */
	int err;

	f->fill_par = NAN;
	if (!rt->parallel_for) {
		emit_na(rt, &r, rt->why_no_for);
		emit_na(rt, &sp, rt->why_no_for);
		emit_na(rt, &pt, rt->why_no_for);
		return;
	}
	err = fill_median(&bench_rt_seq, 1, &f->fill_seq);
	if (err == 0)
		err = fill_median(&bench_rt_seq, 0, &calls);
	if (err == 0)
		err = fill_median(rt, 0, &f->fill_par);
	if (err != 0) {
		row_fail(rt, &r, err);
		row_fail(rt, &sp, err);
		f->fill_par = NAN;
	} else {
		r.value = f->fill_par;
		sp.value = f->fill_seq / f->fill_par;
		snprintf(r.baseline, sizeof r.baseline,
			 "plain %.3f, call loop %.3f", f->fill_seq, calls);
		snprintf(sp.baseline, sizeof sp.baseline, "over plain loop");
	}
	emit(rt, &r);
	emit(rt, &sp);
	if (err == 0)
		wl_fill_pthreads(rt, calls);
	else
		emit(rt, &pt);
}

/* The same fill with the runtime's range form: one call per chunk, whose
 * loop the compiler vectorises, so the per-index indirect call of the
 * "for" row is gone. Read it against the plain loop. */
static void fill_range_body(size_t lo, size_t hi, void *ctx)
{
	uint64_t *a = ctx;

	for (size_t i = lo; i < hi; i++)
		a[i] = (uint64_t)i * 2 + 1;
}

static int fill_rg_once(const struct bench_runtime *rt, void *ctx, double *out)
{
	uint64_t *a = ctx, t0;
	int err;

	memset(a, 0, sz.fill * sizeof *a);
	t0 = bench_now_ns();
	if ((err = rt->parallel_for_range(sz.fill, fill_range_body, a)) != 0)
		return err;
	*out = (double)(bench_now_ns() - t0) / (double)sz.fill;
	return fill_check(a, sz.fill);
}

static void wl_fill_range(const struct bench_runtime *rt, struct figures *f)
{
	struct row r = row_new(lbl.fill_rg, "ns/item", NAN);
	uint64_t *a;
	double rg = NAN;
	int err;

	if (!rt->parallel_for_range || !rt->parallel_for) {
		emit_na(rt, &r,
			rt->why_no_range ? rt->why_no_range :
					   "no range form of for");
		return;
	}
	a = malloc(sz.fill * sizeof *a);
	err = a ? median_of(rt, fill_rg_once, a, &rg) : ENOMEM;
	free(a);
	if (err != 0)
		row_fail(rt, &r, err);
	else {
		r.value = rg;
		snprintf(r.baseline, sizeof r.baseline, "%.2fx over plain loop",
			 f->fill_seq / rg);
	}
	emit(rt, &r);
}

/* The overhead on all workers: the work (workers x time) beyond
 * the sequential time, per spawn. A perfect runtime with o ns of overhead
 * per spawn takes (seq + spawns * o) / W. */
static void fib_overhead_row(const struct bench_runtime *rt, struct row *ov,
			     const struct figures *f)
{
	ov->value = ((double)opt.threads * f->fib_par - f->fib_seq) * 1e6 /
		    (double)fib_spawns(sz.fib_n);
	snprintf(ov->baseline, sizeof ov->baseline, "%uw x %.2f - seq %.2f ms",
		 opt.threads, f->fib_par, f->fib_seq);
	emit(rt, ov);
}

static void wl_fib(const struct bench_runtime *rt, struct figures *f)
{
	struct row r = row_new(lbl.fib, "ms", NAN);
	struct row sp = row_new(lbl.fib_sp, "x", NAN);
	struct row ov = row_new(lbl.fib_ov, "ns/spawn", 5);
	int err;

	f->fib_par = NAN;
	if (!rt->fib) {
		emit_na(rt, &r, rt->why_no_fib);
		emit_na(rt, &sp, rt->why_no_fib);
		emit_na(rt, &ov, rt->why_no_fib);
		return;
	}
	err = median_of(&bench_rt_seq, fib_once, NULL, &f->fib_seq);
	if (err == 0)
		err = median_of(rt, fib_once, NULL, &f->fib_par);
	if (err != 0) {
		row_fail(rt, &r, err);
		row_fail(rt, &sp, err);
		row_fail(rt, &ov, err);
		f->fib_par = NAN;
	} else {
		r.value = f->fib_par;
		sp.value = f->fib_seq / f->fib_par;
		snprintf(r.baseline, sizeof r.baseline, "seq %.2f ms",
			 f->fib_seq);
		snprintf(sp.baseline, sizeof sp.baseline, "over seq");
	}
	emit(rt, &r);
	emit(rt, &sp);
	if (err == 0)
		fib_overhead_row(rt, &ov, f);
	else
		emit(rt, &ov);
}

/* Starts rt with `threads` workers; on failure marks `r` and returns the
 * error. ENOTSUP (the runtime cannot have that many workers in this
 * process) is no failure: `r` prints N/A with the runtime's reason. */
static int start(const struct bench_runtime *rt, unsigned threads,
		 struct row *r)
{
	int err = rt->init(threads);

	if (err == ENOTSUP)
		emit_na(rt, r, rt->why_no_resize);
	else if (err != 0) {
		row_fail(rt, r, err);
		emit(rt, r);
	}
	return err;
}

static void stop(const struct bench_runtime *rt)
{
	int err;

	stage = "fini";
	if ((err = rt->fini()) != 0) {
		failed = 1;
		fprintf(stderr, "mtbench: %s: fini: %s\n", rt->name,
			strerror(err));
	}
}

/* Nonzero if --only names `name` (or --only is not given). */
static int want(const char *name)
{
	size_t len = strlen(name);

	if (!opt.only)
		return 1;
	for (const char *s = opt.only; *s != '\0';) {
		size_t n = strcspn(s, ",");

		if (n == len && strncmp(s, name, len) == 0)
			return 1;
		s += n + (s[n] == ',');
	}
	return 0;
}

static void run_full_size(const struct bench_runtime *rt, struct figures *f)
{
	struct row r = row_new("init", "-", NAN);

	if (start(rt, opt.threads, &r) != 0)
		return;
	if (want("detached"))
		wl_detached(rt);
	if (want("for")) {
		wl_fill(rt, f);
		wl_fill_range(rt, f);
	}
	if (want("map"))
		wl_small_maps(rt);
	if (want("fib"))
		wl_fib(rt, f);
	if (want("unbalanced"))
		wl_unbalanced(rt);
	if (want("wake"))
		wl_wake(rt);
	if (want("idle"))
		wl_idle(rt);
	stop(rt);
}

/* The overhead: (one-worker time - sequential time) / spawns. */
static void run_one_worker(const struct bench_runtime *rt,
			   const struct figures *f)
{
	struct row r = row_new(lbl.fib1, "ns/spawn", 5);
	double one = NAN;
	int err;

	if (!rt->fib || isnan(f->fib_par)) {
		emit_na(rt, &r, rt->fib ? NULL : rt->why_no_fib);
		return;
	}
	if (start(rt, 1, &r) != 0)
		return;
	err = median_of(rt, fib_once, NULL, &one);
	stop(rt);
	if (err != 0)
		row_fail(rt, &r, err);
	else {
		r.value =
			(one - f->fib_seq) * 1e6 / (double)fib_spawns(sz.fib_n);
		snprintf(r.baseline, sizeof r.baseline, "1w %.2f, seq %.2f ms",
			 one, f->fib_seq);
	}
	emit(rt, &r);
}

static void oversub_row(const struct bench_runtime *rt, struct row *r, int err,
			double over, double right)
{
	if (err != 0)
		row_fail(rt, r, err);
	else {
		r->value = over / right;
		snprintf(r->baseline, sizeof r->baseline,
			 "%uw %.3g vs %uw %.3g", opt.oversub, over, opt.threads,
			 right);
	}
	emit(rt, r);
}

static void run_oversubscribed(const struct bench_runtime *rt,
			       const struct figures *f)
{
	struct row rf = row_new(lbl.over_fib, "x", 1.5);
	struct row rm = row_new(lbl.over_fill, "x", 1.5);
	double fib = NAN, fill = NAN;
	int err_fib = 0, err_fill = 0, err;

	if ((err = start(rt, opt.oversub, &rf)) != 0) {
		if (err == ENOTSUP)
			emit_na(rt, &rm, rt->why_no_resize);
		return;
	}
	if (rt->fib && !isnan(f->fib_par))
		err_fib = median_of(rt, fib_once, NULL, &fib);
	stage = rm.workload;
	if (rt->parallel_for && !isnan(f->fill_par))
		err_fill = fill_median(rt, 0, &fill);
	stop(rt);
	if (!want("fib"))
		; /* --only without fib: no row */
	else if (isnan(fib) && err_fib == 0)
		emit_na(rt, &rf, rt->fib ? NULL : rt->why_no_fib);
	else
		oversub_row(rt, &rf, err_fib, fib, f->fib_par);
	if (!want("for"))
		; /* --only without for: no row */
	else if (isnan(fill) && err_fill == 0)
		emit_na(rt, &rm, rt->parallel_for ? NULL : rt->why_no_for);
	else
		oversub_row(rt, &rm, err_fill, fill, f->fill_par);
}

static void run_runtime(const struct bench_runtime *rt)
{
	struct figures f = {NAN, NAN, NAN, NAN};

	printf("\n== %s: %s; %u workers, oversubscribed %u; median of %u%s\n",
	       rt->name, rt->note, opt.threads, opt.oversub, opt.reps,
	       opt.quick ? " (--quick sizes)" : "");
	printf("   fib(%u), for %zu items, %zu maps of %zu, %zu detached, "
	       "%zu unbalanced items\n",
	       sz.fib_n, sz.fill, sz.small_calls, sz.small_n, sz.detached,
	       sz.unbal_n);
	print_header();
	wl_capacity(rt, "machine: free cpus, start");
	run_full_size(rt, &f);
	if (want("fib"))
		run_one_worker(rt, &f);
	if (want("fib") || want("for"))
		run_oversubscribed(rt, &f);
	wl_capacity(rt, "machine: free cpus, end");
}

/* ---- command line and main ---- */

static void usage(FILE *to)
{
	fprintf(to,
		"usage: mtbench [--runtime NAME[,NAME...]|all] [--threads N] "
		"[--reps N]\n"
		"               [--quick] [--csv FILE] [--oversub N] "
		"[--timeout SEC] [--strict]\n"
		"               [--only WORKLOAD[,WORKLOAD...]]\n"
		"  --runtime LIST  runtimes to run, in that order (default "
		"mtpool);\n"
		"                  `all` = every compiled-in one:");
	for (size_t i = 0; i < NRUNTIMES; i++)
		fprintf(to, " %s", runtimes[i]->name);
	fprintf(to,
		"\n"
		"                  `seq` = the sequential baselines as a "
		"runtime\n"
		"  --threads N     workers (default: online CPUs)\n"
		"  --reps N        repetitions per figure, 1..%u (default 5, "
		"quick 3)\n"
		"  --quick         small sizes for a few-second smoke test\n"
		"  --csv FILE      also write the rows as CSV to FILE\n"
		"  --oversub N     workers of the oversubscribed run "
		"(default 8)\n"
		"  --timeout SEC   watchdog, 0 = off (default 300, quick 60)\n"
		"  --strict        exit 3 when a target is missed\n"
		"  --only LIST     only these workloads, a comma list of:\n"
		"                  detached, for, map, fib, unbalanced, wake,\n"
		"                  idle (fib and for bring their one-worker\n"
		"                  and oversubscribed rows)\n",
		MAX_REPS);
}

/* Parses a decimal in [lo, hi]; bad input is an error, never a default. */
static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!s || *s < '0' || *s > '9')
		return EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* Returns 0, or EINVAL after printing what was wrong. */
static int parse_args(int argc, char **argv)
{
	int reps_set = 0, timeout_set = 0, err = 0;

	for (int i = 1; i < argc && err == 0; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--quick") == 0)
			opt.quick = 1;
		else if (strcmp(a, "--strict") == 0)
			opt.strict = 1;
		else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if (!v)
			err = EINVAL;
		else if (strcmp(a, "--runtime") == 0)
			opt.runtime = argv[++i];
		else if (strcmp(a, "--csv") == 0)
			opt.csv = argv[++i];
		else if (strcmp(a, "--only") == 0)
			opt.only = argv[++i];
		else if (strcmp(a, "--threads") == 0)
			err = parse_uint(argv[++i], 1, 1024, &opt.threads);
		else if (strcmp(a, "--oversub") == 0)
			err = parse_uint(argv[++i], 1, 1024, &opt.oversub);
		else if (strcmp(a, "--reps") == 0)
			err = parse_uint(argv[++i], 1, MAX_REPS, &opt.reps),
			reps_set = 1;
		else if (strcmp(a, "--timeout") == 0)
			err = parse_uint(argv[++i], 0, 86400, &opt.timeout_s),
			timeout_set = 1;
		else
			err = EINVAL;
		if (err != 0)
			fprintf(stderr, "mtbench: bad argument near '%s'\n", a);
	}
	if (!reps_set)
		opt.reps = opt.quick ? 3 : 5;
	if (!timeout_set)
		opt.timeout_s = opt.quick ? 60 : 300;
	return err;
}

static void on_alarm(int sig)
{
	static const char msg[] = "\nmtbench: watchdog fired (hang?) in: ";
	const char *s = stage;

	(void)sig;
	(void)!write(STDERR_FILENO, msg, sizeof msg - 1);
	(void)!write(STDERR_FILENO, s, strlen(s));
	(void)!write(STDERR_FILENO, "\n", 1);
	_exit(2);
}

static void arm_watchdog(unsigned seconds)
{
	struct sigaction sa;

	if (seconds == 0)
		return;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	alarm(seconds);
}

/* "10M" for 10,000,000, else the plain number. */
static void fmt_count(char *buf, size_t len, size_t n)
{
	if (n >= 1000000 && n % 1000000 == 0)
		snprintf(buf, len, "%zuM", n / 1000000);
	else
		snprintf(buf, len, "%zu", n);
}

static void make_labels(void)
{
	char n[24];

	fmt_count(n, sizeof n, sz.fill);
	snprintf(lbl.fill, sizeof lbl.fill, "for %s items", n);
	snprintf(lbl.fill_sp, sizeof lbl.fill_sp, "for %s items: speedup", n);
	snprintf(lbl.fill_rg, sizeof lbl.fill_rg, "for %s items: range body",
		 n);
	snprintf(lbl.fill_pt, sizeof lbl.fill_pt, "for %s items: raw pthreads",
		 n);
	snprintf(lbl.over_fill, sizeof lbl.over_fill,
		 "oversub %uw: for %s ratio", opt.oversub, n);
	snprintf(lbl.fib, sizeof lbl.fib, "fib(%u) all workers", sz.fib_n);
	snprintf(lbl.fib_sp, sizeof lbl.fib_sp, "fib(%u) speedup", sz.fib_n);
	snprintf(lbl.fib_ov, sizeof lbl.fib_ov, "fib(%u) all workers: overhead",
		 sz.fib_n);
	snprintf(lbl.fib1, sizeof lbl.fib1, "fib(%u) 1 worker: overhead",
		 sz.fib_n);
	snprintf(lbl.over_fib, sizeof lbl.over_fib,
		 "oversub %uw: fib(%u) ratio", opt.oversub, sz.fib_n);
}

static int setup(int argc, char **argv)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	opt.threads = cpus > 0 ? (unsigned)cpus : 1;
	opt.oversub = 8;
	if (parse_args(argc, argv) != 0) {
		usage(stderr);
		return 2;
	}
	sz = opt.quick ? quick_sizes : full_sizes;
	make_labels();
	if (opt.csv) {
		csv = fopen(opt.csv, "w");
		if (!csv) {
			fprintf(stderr, "mtbench: %s: %s\n", opt.csv,
				strerror(errno));
			return 2;
		}
		fprintf(csv, "runtime,threads,workload,value,unit,n,baseline,"
			     "target_max,result\n");
	}
	arm_watchdog(opt.timeout_s);
	return 0;
}

/* The runtime called `name` (len bytes), or NULL. */
static const struct bench_runtime *find_runtime(const char *name, size_t len)
{
	for (size_t i = 0; i < NRUNTIMES; i++)
		if (strlen(runtimes[i]->name) == len &&
		    strncmp(runtimes[i]->name, name, len) == 0)
			return runtimes[i];
	if (len == 3 && strncmp(name, "seq", 3) == 0)
		return &bench_rt_seq;
	return NULL;
}

/* Resolves --runtime into list[0 .. *n-1]; EINVAL (after a message) for
 * an unknown name, E2BIG for more names than the list holds. */
static int select_runtimes(const struct bench_runtime **list, size_t max,
			   size_t *n)
{
	const char *s = opt.runtime ? opt.runtime : "mtpool";
	size_t len;

	*n = 0;
	if (strcmp(s, "all") == 0) {
		for (size_t i = 0; i < NRUNTIMES && i < max; i++)
			list[(*n)++] = runtimes[i];
		return 0;
	}
	for (; *s != '\0'; s += len + (s[len] == ',')) {
		len = strcspn(s, ",");
		if (*n == max)
			return E2BIG;
		if (!(list[*n] = find_runtime(s, len))) {
			fprintf(stderr, "mtbench: unknown runtime '%.*s'\n",
				(int)len, s);
			return EINVAL;
		}
		(*n)++;
	}
	return *n > 0 ? 0 : EINVAL;
}

int main(int argc, char **argv)
{
	const struct bench_runtime *list[16];
	size_t nlist;
	int status = setup(argc, argv);

	if (status != 0)
		return status;
	if (select_runtimes(list, sizeof list / sizeof list[0], &nlist) != 0) {
		usage(stderr);
		return 2;
	}
	stage = "idle floor";
	idle_floor = measure_idle_floor();
	for (size_t i = 0; i < nlist; i++)
		run_runtime(list[i]);
	if (csv && fclose(csv) != 0) {
		fprintf(stderr, "mtbench: %s: %s\n", opt.csv, strerror(errno));
		failed = 1;
	}
	if (failed)
		return 1;
	return opt.strict && missed ? 3 : 0;
}
