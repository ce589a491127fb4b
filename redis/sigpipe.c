/*
 * redis/sigpipe.c: the SIGPIPE guard. See sigpipe.h for the protocol.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sigtimedwait under -std=c11 */
#endif
#include "sigpipe.h"

#include <pthread.h>
#include <time.h>

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
		/* EAGAIN (nothing pending any more) is fine: nothing
		 * to consume. EINTR cannot happen with a zero timeout and
		 * only SIGPIPE, blocked, in the set. */
		(void)sigtimedwait(&pipe, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}
