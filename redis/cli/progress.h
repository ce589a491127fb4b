/*
 * redis/cli/progress.h: the progress line mtredis draws on a terminal.
 *
 * Overview
 * ========
 * A long operation counts its items (keys) and its work (bytes read for
 * load, keys written for dump) with progress_add from any thread; while
 * drawing is on, a ticker thread redraws one line on stderr four times a
 * second, in place (`\r`, then the text, then "erase to end of line"):
 *
 *   load: 523,104 keys  812.3k keys/s  52%  ETA 0:01
 *
 * Percent and ETA appear once the total work is known (progress_total).
 * progress_stop erases the line, so what follows starts on a clean one.
 * Drawing is on only when the caller asks for it, which mtredis does only
 * when stderr is a terminal: piped, a log stays free of `\r` noise.
 *
 * Usage
 * =====
 *   struct progress p;
 *   progress_start(&p, "load", "keys", file_bytes, isatty(2));
 *   ... progress_add(&p, keys_stored, bytes_parsed); ...
 *   progress_stop(&p);
 *
 * Implementation notes
 * ====================
 * Counters are relaxed atomics: the ticker only displays them, so a
 * value a moment old is fine and no ordering with other memory is
 * needed. The ticker sleeps on a condition variable with a deadline, so
 * progress_stop wakes it at once instead of waiting out a tick. It blocks
 * every signal, so SIGINT reaches the thread that reacts to it.
 */
#ifndef MTPOOL_REDIS_CLI_PROGRESS_H
#define MTPOOL_REDIS_CLI_PROGRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Legend: I set by progress_start, then read-only; A atomic (relaxed),
 * any thread; M under `lock`. */
struct progress {
	const char *label;	/* I */
	const char *unit;	/* I */
	struct timespec t0;	/* I: monotonic start */
	int drawing;		/* I: a ticker thread runs */
	_Atomic uint64_t items; /* A */
	_Atomic uint64_t work;	/* A */
	_Atomic uint64_t total; /* A: 0 = unknown */
	pthread_t ticker;	/* I (when drawing) */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stop; /* M */
};

/*
 * Starts counting; when `draw` is non-zero, also starts the ticker that
 * draws on stderr. label and unit are borrowed until progress_stop.
 * Returns 0, or the error of pthread_create / the condition variable
 * (then nothing is drawn, counting still works and progress_stop is
 * still to be called).
 */
int progress_start(struct progress *p, const char *label, const char *unit,
		   uint64_t total, int draw);

/* Sets the total work (for percent and ETA). Any thread. */
void progress_total(struct progress *p, uint64_t total);

/* Adds done items and work. Any thread, lock-free. */
void progress_add(struct progress *p, uint64_t items, uint64_t work);

/* Stops the ticker and erases the line. Returns the seconds since start. */
double progress_stop(struct progress *p);

/* Seconds since progress_start. */
double progress_elapsed(const struct progress *p);

/*
 * Writes the progress text (no `\r`, no newline) into buf (always
 * NUL-terminated when len > 0): "<label>: <items> <unit>  <rate> <unit>/s"
 * then "  <pct>%  ETA m:ss" when total > 0 and some work is done. Returns
 * the length written. Pure, for tests.
 */
size_t progress_format(char *buf, size_t len, const char *label,
		       const char *unit, uint64_t items, uint64_t work,
		       uint64_t total, double secs);

/* Writes n with thousands separators ("1,234,567") into buf (>= 27
 * bytes). Returns buf. */
const char *progress_group(char *buf, uint64_t n);

#endif /* MTPOOL_REDIS_CLI_PROGRESS_H */
