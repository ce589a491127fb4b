/*
 * redis/sigpipe.c: the SIGPIPE guard. See sigpipe.h for the protocol.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sigtimedwait under -std=c11 */
#endif
#include "sigpipe.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

/* Relaxed: a statistic for tests, ordering nothing. */
static _Atomic unsigned long consumed;

unsigned long mt__redis_sigpipe_consumed(void)
{
	return atomic_load_explicit(&consumed, memory_order_relaxed);
}

static int sigpipe_pending(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigpending(&set);
	return sigismember(&set, SIGPIPE) == 1;
}

void mt__redis_sigpipe_block(struct mt__redis_sigpipe *g)
{
	sigset_t pipe;
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, &g->old);
	g->was_pending = sigpipe_pending();
}

void mt__redis_sigpipe_restore(struct mt__redis_sigpipe *g, int io_failed)
{
	if (io_failed && !g->was_pending && sigpipe_pending()) {
		sigset_t pipe;
		sigemptyset(&pipe);
		sigaddset(&pipe, SIGPIPE);
		const struct timespec zero = {0, 0};
		/* -1 with EAGAIN (nothing pending any more) is fine:
		 * nothing to consume. */
		if (sigtimedwait(&pipe, NULL, &zero) == SIGPIPE)
			atomic_fetch_add_explicit(&consumed, 1,
						  memory_order_relaxed);
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}
