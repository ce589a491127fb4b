/*
 * redis/cli/progress.c: the progress line; see progress.h.
 */
#define _GNU_SOURCE
#include "progress.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Redraws per second: often enough to look alive, rarely enough that a
 * slow terminal (tmux, ssh) never becomes the bottleneck. */
#define TICK_NS 250000000L

static double since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) +
	       (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

const char *progress_group(char *buf, uint64_t n)
{
	char digits[24];
	int nd = snprintf(digits, sizeof digits, "%llu", (unsigned long long)n);
	char *w = buf;
	for (int i = 0; i < nd; i++) {
		if (i > 0 && (nd - i) % 3 == 0)
			*w++ = ',';
		*w++ = digits[i];
	}
	*w = '\0';
	return buf;
}

/* "812.3k", "1.24M", "950": a rate in at most 6 characters. */
static void human(char *buf, size_t len, double v)
{
	if (v >= 1e6)
		snprintf(buf, len, "%.2fM", v / 1e6);
	else if (v >= 1e3)
		snprintf(buf, len, "%.1fk", v / 1e3);
	else
		snprintf(buf, len, "%.0f", v);
}

size_t progress_format(char *buf, size_t len, const char *label,
		       const char *unit, uint64_t items, uint64_t work,
		       uint64_t total, double secs)
{
	char count[32], rate[32];
	progress_group(count, items);
	human(rate, sizeof rate, secs > 0 ? (double)items / secs : 0);
	int n = snprintf(buf, len, "%s: %s %s  %s %s/s", label, count, unit,
			 rate, unit);
	if (total > 0 && work > 0 && n >= 0 && (size_t)n < len) {
		double frac = work >= total ? 1.0 : (double)work / total;
		double eta = secs * (1.0 - frac) / frac;
		unsigned long e = (unsigned long)(eta + 0.5);
		n += snprintf(buf + n, len - (size_t)n, "  %d%%  ETA %lu:%02lu",
			      (int)(frac * 100), e / 60, e % 60);
	}
	return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

static void draw(struct progress *p)
{
	char line[160];
	line[0] = '\r';
	size_t n =
		1 +
		progress_format(
			line + 1, sizeof line - 8, p->label, p->unit,
			atomic_load_explicit(&p->items, memory_order_relaxed),
			atomic_load_explicit(&p->work, memory_order_relaxed),
			atomic_load_explicit(&p->total, memory_order_relaxed),
			since(&p->t0));
	memcpy(line + n, "\033[K", 3); /* erase what a longer text left */
	/* A failed write to a terminal costs a frame: nothing to handle. */
	ssize_t rc = write(STDERR_FILENO, line, n + 3);
	(void)rc;
}

static void *ticker(void *arg)
{
	struct progress *p = arg;
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		struct timespec at;
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_nsec += TICK_NS;
		at.tv_sec += at.tv_nsec / 1000000000L;
		at.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&p->wake, &p->lock, &at);
		if (!p->stop)
			draw(p);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* The ticker's condition variable waits on the monotonic clock, so a
 * change of the wall clock neither stalls nor rushes the redraws. */
static int init_sync(struct progress *p)
{
	pthread_condattr_t ca;
	int err = pthread_condattr_init(&ca);
	if (err != 0)
		return err;
	err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (err == 0)
		err = pthread_cond_init(&p->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (err != 0)
		return err;
	err = pthread_mutex_init(&p->lock, NULL);
	if (err != 0)
		pthread_cond_destroy(&p->wake);
	return err;
}

/* Creates the ticker with every signal blocked (it inherits the mask). */
static int start_ticker(struct progress *p)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int err = pthread_create(&p->ticker, NULL, ticker, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

int progress_start(struct progress *p, const char *label, const char *unit,
		   uint64_t total, int draw)
{
	memset(p, 0, sizeof *p);
	p->label = label;
	p->unit = unit;
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	atomic_init(&p->items, 0);
	atomic_init(&p->work, 0);
	atomic_init(&p->total, total);
	if (!draw)
		return 0;
	int err = init_sync(p);
	if (err != 0)
		return err;
	err = start_ticker(p);
	if (err != 0) {
		pthread_cond_destroy(&p->wake);
		pthread_mutex_destroy(&p->lock);
		return err;
	}
	p->drawing = 1;
	return 0;
}

void progress_total(struct progress *p, uint64_t total)
{
	atomic_store_explicit(&p->total, total, memory_order_relaxed);
}

void progress_add(struct progress *p, uint64_t items, uint64_t work)
{
	atomic_fetch_add_explicit(&p->items, items, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->work, work, memory_order_relaxed);
}

double progress_elapsed(const struct progress *p)
{
	return since(&p->t0);
}

double progress_stop(struct progress *p)
{
	double secs = since(&p->t0);
	if (!p->drawing)
		return secs;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->ticker, NULL);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	p->drawing = 0;
	ssize_t rc = write(STDERR_FILENO, "\r\033[K", 4);
	(void)rc;
	return secs;
}
