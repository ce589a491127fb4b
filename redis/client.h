/*
 * redis/client.h: the client object (struct mt_redis) that every module of
 * redis/ shares, and its counters.
 *
 * Overview
 * ========
 * A client is opened once (client.c) and then only read by the bulk calls
 * running on any thread: its options, its node (the server and its
 * connection cache, conn.h) and its pool are set before the client is
 * returned to the caller and never change. What changes concurrently is
 * each connection slot (owned by one worker at a time, see conn.h), the
 * free list (under its mutex), the background queue (background.h) and
 * the counters (relaxed atomics).
 *
 * Usage
 * =====
 *   int rc = mt__redis_usable(r);      first, in every public call
 *   mt__redis_count(&r->stats.retries, n);
 *
 * Implementation notes
 * ====================
 * Counters are relaxed atomics added once per share, not once per item,
 * so they cost nothing on the hot path; they are statistics, never used
 * to synchronise anything (mt_redis_stats says they are not a consistent
 * cut).
 *
 * Field legend: I = set at open, then read-only; A = atomic, any thread.
 */
#ifndef MTPOOL_REDIS_CLIENT_H
#define MTPOOL_REDIS_CLIENT_H

#include <mtpool/redis.h>

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "conn.h"
#include "uri.h"

/* Option defaults (mt_redis_options says what each one means). The
 * window of 1024 commands sits on the plateau measured in NOTES.md (one
 * connection: 820k GET/s at 1,000 against 906k at 10,000) while keeping
 * the server's per-connection reply buffer near 100 KB for small values;
 * 100 keys a command is where MGET/MSET reached their measured rates. */
#define MT__REDIS_CONNECT_TIMEOUT_MS 2000u
#define MT__REDIS_COMMAND_TIMEOUT_MS 5000u
#define MT__REDIS_WINDOW 1024u
#define MT__REDIS_CHUNK_KEYS 100u
#define MT__REDIS_MAX_QUEUED ((size_t)1 << 20)
/* Upper bounds that catch a garbage option rather than limit a real use:
 * Redis itself caps a command at 2^31 arguments and its query buffer at
 * 1 GB by default. */
#define MT__REDIS_MAX_WINDOW (1u << 20)
#define MT__REDIS_MAX_CHUNK_KEYS (1u << 20)

/* The counters behind mt_redis_stats (same names, same meaning). */
struct mt__redis_counters {
	_Atomic uint64_t commands, items_done, items_failed, items_unknown;
	_Atomic uint64_t retries, connects, connection_errors;
	_Atomic uint64_t bg_queued, bg_done, bg_failed, bg_unknown;
	_Atomic uint64_t redirects;
};

/* Adds v to a counter: relaxed, since counters order nothing. */
static inline void mt__redis_count(_Atomic uint64_t *c, uint64_t v)
{
	if (v)
		atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

struct mt__redis_bg;

struct mt_redis {
	mt_pool *pool;		    /* I: borrowed, outlives the client */
	pid_t pid;		    /* I: getpid() at open, for ECHILD */
	unsigned window;	    /* I: commands per pipeline window */
	unsigned chunk_keys;	    /* I: keys per MGET / MSET / DEL */
	unsigned flags;		    /* I: MT_REDIS_NO_RETRY, MT_REDIS_LAZY */
	size_t max_queued;	    /* I: background queue bound */
	struct mt_redis_uri uri;    /* I: parsed URI (owns its strings) */
	struct mt__redis_node node; /* the server and its connections */
	int node_ready;		    /* I: node set up (for the unwind) */
	struct mt__redis_bg *bg;    /* the background queue, background.h */
	struct mt__redis_counters stats; /* A */
};

/*
 * The check every public call makes first: 0, or ECHILD when the client
 * was opened in another process (its connections are the parent's
 * sockets: using them would interleave two processes' streams).
 */
int mt__redis_usable(const mt_redis *r);

/* mt_redis_open after the URI is parsed: takes over *uri's strings (it
 * is zeroed, also on failure). Same returns as mt_redis_open. Tests use
 * it to open on an address built by hand. */
int mt__redis_open_parsed(mt_redis **out /* OUT */, struct mt_redis_uri *uri,
			  const mt_redis_options *opts, char *why,
			  size_t whylen);

#endif /* MTPOOL_REDIS_CLIENT_H */
