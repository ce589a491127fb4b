/*
 * redis/sigpipe.h: the SIGPIPE guard around a thread's Redis I/O.
 *
 * Overview
 * ========
 * hiredis 0.14 writes with write(2) and no MSG_NOSIGNAL, so a write to a
 * server that has gone raises SIGPIPE, whose default action kills the
 * process. The library must neither die of it nor change the process's
 * disposition (the application owns that). The guard:
 *   1. blocks SIGPIPE in the calling thread (pthread_sigmask), noting
 *      whether a SIGPIPE was already pending before;
 *   2. the I/O runs: a failed write raises a SIGPIPE that stays pending,
 *      since it is blocked, and returns EPIPE to hiredis;
 *   3. on leaving, if the I/O failed and a SIGPIPE is pending that was not
 *      pending before, it is ours: consume it with sigtimedwait (zero
 *      timeout); then restore the thread's previous mask.
 * So the application's own SIGPIPEs (pending before, or raised by its own
 * writes in other threads) are left alone, and its mask is as before.
 *
 * Usage
 * =====
 *   struct mt__redis_sigpipe g;
 *   mt__redis_sigpipe_block(&g);
 *   ... hiredis I/O on this thread ...
 *   mt__redis_sigpipe_restore(&g, io_failed);
 * Guards nest (each restores what it saw). Blocking SIGPIPE costs one
 * system call each way, so guard a share of work, not a command.
 *
 * Implementation notes
 * ====================
 * A SIGPIPE raised by write(2) is directed at the writing thread. Linux's
 * sigtimedwait takes the thread's own pending signals before the
 * process-wide ones, so when a process-directed SIGPIPE (kill -PIPE) is
 * also pending, the one consumed is still ours. If SIGPIPE was pending
 * before the guard (thread or process), the guard cannot tell its own
 * from that one and consumes none: the application's stays delivered, at
 * worst merged with ours, as standard signals merge anyway.
 */
#ifndef MTPOOL_REDIS_SIGPIPE_H
#define MTPOOL_REDIS_SIGPIPE_H

#include <signal.h>

struct mt__redis_sigpipe {
	sigset_t old;	 /* the thread's mask before the guard */
	int was_pending; /* SIGPIPE pending when the guard began */
};

/* Blocks SIGPIPE in the calling thread. Cannot fail (pthread_sigmask and
 * sigpending only fail on bad arguments). */
void mt__redis_sigpipe_block(struct mt__redis_sigpipe *g);

/* Consumes a SIGPIPE raised since mt__redis_sigpipe_block when
 * `io_failed` (a connection saw an I/O error meanwhile), then restores
 * the thread's mask. */
void mt__redis_sigpipe_restore(struct mt__redis_sigpipe *g, int io_failed);

/* Test hook: how many SIGPIPEs the guards have consumed in this process,
 * so a test can tell that its write really raised one. */
unsigned long mt__redis_sigpipe_consumed(void);

#endif /* MTPOOL_REDIS_SIGPIPE_H */
