/*
 * redis/conn.h: one connection's life cycle, and the per-client cache of
 * connections to one server (a node).
 *
 * Overview
 * ========
 * A connection is a blocking hiredis context. mt__redis_connect() makes
 * one: connect with the connect timeout, set the command timeout as the
 * socket's send and receive timeouts, then AUTH (when a password is
 * given) and SELECT (when db != 0) pipelined in one round trip. The
 * drop-on-any-error rule: a context that saw any error (c->err set, which
 * includes a timeout) is freed, never reused, since a late reply would
 * otherwise answer the next command.
 *
 * A node owns the connections to one server:
 *   - one slot per worker index of the client's pool: the connection of
 *     worker i lives in slots[i] and is touched only by worker i (it is
 *     taken out while in use and put back after);
 *   - a free list, under a mutex, for threads outside the pool and for
 *     nested use (a worker whose slot connection is already in use by an
 *     outer frame of its own stack, e.g. a bulk call made from inside a
 *     mt_redis_map function, or a share run while helping in a wait).
 * So a connection is only ever used by one thread at a time, and a worker
 * reuses its own connection across calls without any lock.
 *
 * Usage
 * =====
 *   redisContext *c; int fresh;
 *   if (mt__redis_node_acquire(node, &c, &fresh, why, len) != 0) ...
 *   ... pipeline on c on this thread ...
 *   mt__redis_node_release(node, c);   c->err set: closed, not kept
 *
 * Implementation notes
 * ====================
 * A cached connection may have died while idle (the server restarted,
 * CLIENT KILL, an idle timeout). Acquire checks it first with a
 * non-blocking peek: end of stream, an error or unexpected bytes mean it
 * is dead, so it is freed and a new one made. This turns the common "server
 * restarted between calls" into a clean reconnect before anything is
 * sent, so even non-idempotent items are not left UNKNOWN by it. The peek
 * is one system call per acquire, i.e. per share, not per command.
 *
 * The free list keeps at most `nslots + MT__REDIS_FREE_EXTRA` connections:
 * enough for the callers outside the pool that a service typically has,
 * without keeping a connection per thread that ever called.
 *
 * Lock order: node->lock is a leaf (nothing else is taken under it, and
 * no I/O is done under it).
 *
 * Field legend: I = set at init, then read-only; S = slot i is owned by
 * worker i of `pool`; M = under `lock`; A = atomic.
 */
#ifndef MTPOOL_REDIS_CONN_H
#define MTPOOL_REDIS_CONN_H

#include <hiredis/hiredis.h>
#include <mtpool/mtpool.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "uri.h"

#define MT__REDIS_FREE_EXTRA 8u

struct mt__redis_counters;

/* Everything a new connection needs. Strings are borrowed from the
 * client's parsed URI. */
struct mt__redis_conn_cfg {
	const struct mt_redis_addr *addr; /* I */
	const char *user;		  /* I: NULL = AUTH password */
	const char *password;		  /* I: NULL = no AUTH */
	int db;				  /* I: 0 = no SELECT */
	struct timeval connect_timeout;	  /* I */
	struct timeval command_timeout;	  /* I */
	char label[128]; /* I: "host:port" or path, for texts */
};

struct mt__redis_node {
	struct mt__redis_conn_cfg cfg; /* I */
	mt_pool *pool;		       /* I: whose worker indices index slots */
	unsigned nslots;	       /* I: mt_pool_size(pool) */
	redisContext **slots;	       /* S: NULL when empty or in use */
	pthread_mutex_t lock;	       /* protects the free list */
	redisContext **free;	       /* M: cached connections */
	size_t nfree, capfree;	       /* M; capfree is I */
	struct mt__redis_counters *stats; /* I: connects, connection_errors */
};

/*
 * Makes a connection per `cfg` (see Overview). On success *out is a
 * blocking context with the command timeout set, authenticated and on
 * the right db. Returns 0, or ENOMEM, ECONNREFUSED, ETIMEDOUT, ENOENT (no
 * such unix socket), EHOSTUNREACH (also: host name not resolved), EIO
 * (another I/O error), EACCES (AUTH refused), ERANGE (SELECT refused),
 * with a one-line reason in why (never the password). *out is NULL then.
 * CONTEXT: any thread; blocks up to the connect timeout plus a command
 * timeout.
 */
int mt__redis_connect(const struct mt__redis_conn_cfg *cfg,
		      redisContext **out /* OUT */, char *why, size_t whylen);

/* Sets up a node for `addr` with an empty cache. Returns 0, ENOMEM, or a
 * pthread_mutex_init error. */
int mt__redis_node_init(struct mt__redis_node *n,
			const struct mt__redis_conn_cfg *cfg, mt_pool *pool,
			struct mt__redis_counters *stats);

/* Closes every cached connection and frees the cache. No connection may
 * be in use (the client is closing). */
void mt__redis_node_destroy(struct mt__redis_node *n);

/*
 * Gives the calling thread a connection of its own: its worker slot's,
 * else one from the free list, else a new one (mt__redis_connect).
 * *fresh is 1 when the connection was made by this call, 0 when it came
 * from the cache. Returns 0 or mt__redis_connect's errors.
 * CONTEXT: any thread; may block to connect.
 */
int mt__redis_node_acquire(struct mt__redis_node *n,
			   redisContext **out /* OUT */, int *fresh /* OUT */,
			   char *why, size_t whylen);

/* As mt__redis_node_acquire, but always a new connection (counted in
 * the node's stats): after an error, a cached connection to the same
 * server may be stalled too. */
int mt__redis_node_connect(struct mt__redis_node *n,
			   redisContext **out /* OUT */, char *why,
			   size_t whylen);

/*
 * Returns a connection acquired by this thread. A connection with c->err
 * set, or with unsent commands or unread bytes (its stream is no longer in
 * step), is closed and counted as a connection error; a sound one goes
 * back to the calling worker's slot, else to the free list, else it is
 * closed. NULL is a no-op.
 */
void mt__redis_node_release(struct mt__redis_node *n, redisContext *c);

/* errno-style code for a context error (c->err set): ETIMEDOUT for a
 * timeout, ECONNRESET for end of stream or reset, EPIPE, ENOMEM, EPROTO
 * for a protocol error, else EIO. `saved_errno` is errno as it was right
 * after the failing hiredis call. */
int mt__redis_conn_error_code(const redisContext *c, int saved_errno);

/* Writes a short reason for a context error into buf: "timed out after
 * N ms" for a timeout, else hiredis's text. */
void mt__redis_conn_error_text(const struct mt__redis_conn_cfg *cfg,
			       const redisContext *c, int code, char *buf,
			       size_t len);

#endif /* MTPOOL_REDIS_CONN_H */
