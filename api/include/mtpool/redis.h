/*
 * mtpool/redis.h: Redis bulk helpers on the mtpool pool (libmtpool-redis).
 *
 * Overview
 * ========
 * A client (mt_redis) is bound to one mtpool pool and one Redis deployment
 * (a server, or a Redis Cluster), named by a URI. Every bulk call splits
 * its items across the pool's workers; each worker pipelines its share on
 * its own connection, in windows of commands, and each item gets its
 * result in input order. Background calls (mt_redis_save_async, ...)
 * return at once and are pipelined together by pool tasks; mt_redis_flush
 * waits for them and reports what failed.
 *
 *   mt_redis *r;
 *   char why[MT_REDIS_ERRLEN];
 *   if (mt_redis_open(&r, "redis://127.0.0.1:6379/0", NULL, why,
 *                     sizeof why) != 0)
 *           fprintf(stderr, "%s\n", why);
 *   mt_redis_batch *b;
 *   mt_redis_get(r, keys, n, &b);          results in b->results[i]
 *   mt_redis_batch_free(b);
 *   mt_redis_close(r);
 *
 * Item outcomes
 * =============
 * Every item of every call ends in exactly one of three states, never
 * silently dropped:
 *   MT_REDIS_DONE     the server ran it and replied; the replies are kept;
 *   MT_REDIS_FAILED   it did not take effect, with the reason in `error`:
 *                     the server's own error text (WRONGTYPE ..., a MULTI
 *                     transaction aborted) or the client's (could not
 *                     connect, so it was never sent);
 *   MT_REDIS_UNKNOWN  it was sent, but the connection died or timed out
 *                     before its reply: it may or may not have run.
 * A command inside a non-atomic item that got an error reply makes the
 * item FAILED although its other commands ran: see its replies.
 *
 * Retries: an item whose connection broke before its reply is retried
 * once, on a new connection, if and only if it is marked idempotent
 * (MT_REDIS_IDEMPOTENT; reads and the bulk SET/GET/DEL/model calls set it)
 * and retries are not turned off (MT_REDIS_NO_RETRY). A retried item that
 * then gets a reply is DONE. PUBLISH and the generic commands without the
 * flag are never replayed: they end UNKNOWN.
 *
 * Connections
 * ===========
 * One hiredis connection per worker thread per server, created on first
 * use and reused across calls; one more per thread outside the pool that
 * takes part in a call (kept in a small free list). A connection is never
 * used by two threads at once. A connection that saw any error or timeout
 * is closed and a new one is made on next use (a late reply would
 * desynchronise the stream). Every new connection sends AUTH (when the URI
 * has a password) and SELECT (when it names a database) first. All
 * connections are closed by mt_redis_close().
 *
 * Signals: hiredis 0.14 writes with write(2), so a write to a dead server
 * raises SIGPIPE. The library blocks SIGPIPE in the threads doing its I/O
 * for the duration of that I/O and consumes a SIGPIPE it caused, so the
 * process's disposition of SIGPIPE is never changed and never triggered
 * by the library.
 *
 * Timeouts: no call blocks longer than about
 * (connect timeout + command timeout) x (1 + retries) per window, even
 * when the server is dead, stalled (DEBUG SLEEP, CLIENT PAUSE) or gone.
 *
 * Errors
 * ======
 * Functions returning int return 0 or a positive errno value and never
 * set errno. A call's own failure (bad arguments, out of memory) is its
 * return value and then no item was sent. Failures of single items (a
 * server error, a dead connection) are the items' outcomes: the call
 * returns 0 and the batch counts them. Common values:
 *   EINVAL        a NULL pointer where one is needed, n > 0 with a NULL
 *                 array, a bad option, a bad URI (see mt_redis_open);
 *   ENOMEM        out of memory (nothing was sent);
 *   ESHUTDOWN     the client is being closed, or its pool destroyed;
 *   ECHILD        the client was opened before fork() (in the child);
 *   EAGAIN        the background queue is full (mt_redis_options.
 *                 max_queued);
 *   ECONNREFUSED, ETIMEDOUT, EACCES, ENOENT, EHOSTUNREACH, EIO
 *                 from mt_redis_open when the first connection fails
 *                 (EACCES: AUTH refused; ENOENT: no such unix socket).
 * Error texts never contain a password.
 *
 * Calling context: every function may be called from any thread,
 * including tasks of the client's pool (a bulk call from a worker runs
 * part of the work itself and helps while it waits, as mt_map does),
 * except where a function says otherwise. Nothing here may be called
 * from a signal handler.
 *
 * Redis Cluster: a `redis-cluster://` URI gives the same API over every
 * master of a cluster; see docs/redis.md for routing, redirects and
 * failover. Items are routed by their key (mt_redis_item.key, or the
 * first argument of their first command).
 */
#ifndef MTPOOL_REDIS_H
#define MTPOOL_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <mtpool/mtpool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A client: a pool, a deployment, its connections. Opaque. */
typedef struct mt_redis mt_redis;

/* Size of the buffers that receive error texts (mt_redis_open's `why`,
 * mt_redis_flush_report.last_error). Longer texts are cut. */
#define MT_REDIS_ERRLEN 256

/* A byte string: keys, values, channels, arguments. Binary-safe (NUL,
 * CR, LF and any byte are fine); `data` may be NULL only when len is 0.
 * Borrowed by every call for the call's duration only, unless stated. */
typedef struct mt_redis_bytes {
	const void *data;
	size_t len;
} mt_redis_bytes;

/* Client flags (mt_redis_options.flags). */
#define MT_REDIS_NO_RETRY 0x1u /* never retry, even idempotent items */
#define MT_REDIS_LAZY 0x2u     /* mt_redis_open does not connect */

/* Options; zero-initialise, then set what you need. NULL = defaults. */
typedef struct mt_redis_options {
	/* The pool that runs the work; NULL = the default pool. Borrowed:
	 * it must outlive the client. */
	mt_pool *pool;
	unsigned connect_timeout_ms; /* 0 = 2000 */
	unsigned command_timeout_ms; /* 0 = 5000: a reply later than this
					ends the connection (item UNKNOWN) */
	/* Commands a connection sends before it reads their replies (a
	 * pipeline window; a multi-key command of the bulk SET/GET/DEL
	 * counts once per key); 0 = 1024. The server buffers a window's
	 * replies, so this bounds its memory per connection. */
	unsigned window;
	/* Keys per multi-key command (MGET, MSET, DEL); 0 = 100. */
	unsigned chunk_keys;
	/* Background operations queued and not yet sent, beyond which the
	 * _async calls return EAGAIN; 0 = 1,048,576. */
	size_t max_queued;
	unsigned flags; /* MT_REDIS_NO_RETRY, MT_REDIS_LAZY */
} mt_redis_options;

/*
 * Opens a client on the deployment named by `uri`:
 *   redis://[[user]:password@]host[:port][/db]      (port 6379, db 0)
 *   unix:///path/to/socket[?db=N]  (also unix://[[user]:password@]/path)
 *   redis-cluster://[[user]:password@]host:port[,host:port...]  (seeds)
 * A host may be a name, an IPv4 address or a bracketed IPv6 address.
 * User and password are percent-decoded (%40 is '@'); a user without a
 * password is an error; a password without a user means AUTH password (the
 * default user), with one AUTH user password (an ACL user).
 * Unless MT_REDIS_LAZY, connects once on the calling thread (the
 * connection is kept), so a wrong address, password or db fails here.
 * `*out` receives the client (NULL on failure). `why` (may be NULL)
 * receives a one-line reason on failure, naming the bad part of the URI or
 * the server's reply, never the password.
 * Returns 0, or EINVAL (out or uri NULL, malformed URI, unknown scheme,
 * bad port or db, bad option), ENOMEM, ECHILD (the pool was created before
 * fork()), ECONNREFUSED / ETIMEDOUT / ENOENT / EHOSTUNREACH / EIO (could
 * not connect), EACCES (AUTH refused), ERANGE (SELECT refused: no such
 * db), or the errors of mt_default_pool() when opts->pool is NULL.
 * CONTEXT: any thread; blocks for at most the connect timeout plus a
 * command timeout.
 */
MT_API int mt_redis_open(mt_redis **out /* OUT */, const char *uri,
			 const mt_redis_options *opts, char *why /* OUT */,
			 size_t whylen);

/*
 * Waits for the background queue (as mt_redis_flush, result dropped),
 * closes every connection and frees the client. NULL is a no-op. No other
 * call on the client may run concurrently or start afterwards. Returns 0,
 * or EDEADLK when called from a task of the client's pool (nothing done:
 * it would wait for itself).
 */
MT_API int mt_redis_close(mt_redis *r);

/* ---------------------------------------------------------- results */

typedef enum mt_redis_status {
	MT_REDIS_DONE = 0,
	MT_REDIS_FAILED = 1,
	MT_REDIS_UNKNOWN = 2
} mt_redis_status;

/* One item's outcome. Everything it points to is owned by its batch and
 * valid until mt_redis_batch_free(). The replies are redisReply structs
 * built in the batch's own memory: read them, never pass one to
 * freeReplyObject(). */
typedef struct mt_redis_result {
	mt_redis_status status;
	/* DONE: the reply that answers the item (see each call); NULL
	 * otherwise. For mt_redis_get, a REDIS_REPLY_STRING or
	 * REDIS_REPLY_NIL (no such key); for an atomic item, the EXEC array. */
	const redisReply *reply;
	/* The replies of each of the item's commands, in order, as far as
	 * they arrived (nreplies may be less than the command count when
	 * the item is not DONE). For bulk SET/GET the multi-key command's
	 * reply is shared by the keys it carried; `reply` points at the
	 * key's own element. */
	const redisReply *const *replies;
	size_t nreplies;
	/* FAILED / UNKNOWN: why, NUL-terminated; NULL when DONE. */
	const char *error;
} mt_redis_result;

/* The results of one bulk call, in input order. Fields are read-only. */
typedef struct mt_redis_batch {
	size_t n;		      /* items */
	mt_redis_result *results;     /* n entries, input order */
	size_t done, failed, unknown; /* counts of each status; sum is n */
	void *impl;		      /* private */
} mt_redis_batch;

/* Frees a batch and every reply and text it holds. NULL is a no-op. */
MT_API void mt_redis_batch_free(mt_redis_batch *b);

/* ------------------------------------------------- the generic engine */

/* One command: argv[0] is the command name. Arguments are sent as they
 * are (binary-safe, never formatted into a command string). */
typedef struct mt_redis_cmd {
	int argc;
	const mt_redis_bytes *argv;
} mt_redis_cmd;

/* Item flags. */
#define MT_REDIS_ATOMIC 0x1u	 /* MULTI ... EXEC around the commands */
#define MT_REDIS_IDEMPOTENT 0x2u /* safe to replay after a broken connection */

/* One item: one or more commands pipelined together, in order, on one
 * connection. `key` routes the item in a cluster (NULL data = the first
 * argument of the first command); ignored on a single server. */
typedef struct mt_redis_item {
	const mt_redis_cmd *cmds;
	size_t ncmds;
	unsigned flags;
	mt_redis_bytes key;
} mt_redis_item;

/*
 * Runs n items, each item's commands in order on one connection, the
 * items split across the workers and pipelined in windows; blocks until
 * every item has its outcome. *out receives the batch (n results; `reply`
 * is the last command's reply, or the EXEC array for an atomic item).
 * n == 0 gives an empty batch. Items and their arguments are borrowed for
 * the call. Returns 0 (each item's outcome is in the batch), or EINVAL
 * (r, out or a needed array NULL; an item with no command or argc < 1),
 * ENOMEM, ESHUTDOWN, ECHILD; then *out is NULL and nothing was sent.
 */
MT_API int mt_redis_exec(mt_redis *r, const mt_redis_item *items, size_t n,
			 mt_redis_batch **out /* OUT */);

/*
 * Parallel map with a connection: results[i] = fn(c, params[i], ctx) for
 * every i, where c is the calling thread's own connection (Popoto's
 * run_all_multithreaded(fetch_user, ids) with the connection passed in).
 * fn may use c for any blocking hiredis call (redisCommandArgv,
 * redisAppendCommandArgv + redisGetReply, ...) and must not keep it, free
 * it or use it from another thread. If fn leaves c->err set, that
 * connection is closed after fn returns. An item whose thread cannot
 * connect is not run: results[i] = NULL and it is counted in *not_run
 * (may be NULL). Order as mt_map. Returns 0 when every item ran; else the
 * first connection error (ECONNREFUSED, ETIMEDOUT, EACCES, ...), or
 * EINVAL / ENOMEM / ESHUTDOWN / ECHILD before anything ran. Not for
 * cluster clients (EINVAL): a connection there belongs to one node; use
 * mt_redis_map_keyed.
 */
MT_API int mt_redis_map(mt_redis *r,
			void *(*fn)(redisContext *c, void *param, void *ctx),
			void *const *params, void **results /* OUT */, size_t n,
			void *ctx, size_t *not_run /* OUT */);

/*
 * mt_redis_map where item i names its key: on a cluster client, fn gets a
 * connection to the master that serves keys[i] (its hash slot, as the
 * client's slot map says), the items grouped per node so that each
 * participant switches connections as rarely as it can, all nodes in
 * parallel. On a single server the keys are ignored (this is
 * mt_redis_map). fn sees the cluster's replies as they are: a MOVED or
 * ASK (the slot moved since the map was read) is fn's to handle, and the
 * client's bulk calls keep the map up to date. keys (borrowed for the
 * call) may be NULL only when n is 0. Returns as mt_redis_map (EINVAL
 * also for a bad key); an item whose node cannot be reached, or whose
 * slot no master serves, is not run (NULL, counted in *not_run).
 */
MT_API int mt_redis_map_keyed(mt_redis *r,
			      void *(*fn)(redisContext *c, void *param,
					  void *ctx),
			      void *const *params, const mt_redis_bytes *keys,
			      void **results /* OUT */, size_t n, void *ctx,
			      size_t *not_run /* OUT */);

/* ------------------------------------------------------ bulk helpers */

/* Options of mt_redis_set; NULL = plain SET. */
typedef struct mt_redis_set_options {
	int64_t ttl_ms; /* > 0: expire after this many milliseconds */
	int mode;	/* 0, MT_REDIS_SET_NX or MT_REDIS_SET_XX */
} mt_redis_set_options;
#define MT_REDIS_SET_NX 1 /* only if the key does not exist */
#define MT_REDIS_SET_XX 2 /* only if it exists */

/*
 * Stores values[i] at keys[i]. Without TTL and mode, keys go in MSET
 * commands of chunk_keys keys; otherwise one SET per key. Result i:
 * DONE with `reply` the status reply (or REDIS_REPLY_NIL when NX/XX did
 * not set), FAILED or UNKNOWN. Idempotent: retried per the rule above.
 * Returns as mt_redis_exec (EINVAL also for a negative ttl_ms or an
 * unknown mode).
 */
MT_API int mt_redis_set(mt_redis *r, const mt_redis_bytes *keys,
			const mt_redis_bytes *values, size_t n,
			const mt_redis_set_options *opts,
			mt_redis_batch **out /* OUT */);

/* Reads keys[i] with MGET commands of chunk_keys keys. Result i: DONE
 * with `reply` a REDIS_REPLY_STRING, or REDIS_REPLY_NIL for a missing key
 * or a key of another type (as MGET). Returns as mt_redis_exec. */
MT_API int mt_redis_get(mt_redis *r, const mt_redis_bytes *keys, size_t n,
			mt_redis_batch **out /* OUT */);

/* Deletes keys[i] (DEL in chunks). Result i: DONE with `reply` the
 * chunk's integer reply (keys removed in that chunk). */
MT_API int mt_redis_del(mt_redis *r, const mt_redis_bytes *keys, size_t n,
			mt_redis_batch **out /* OUT */);

/* PUBLISH messages[i] on channels[i]. Result i: DONE with `reply` the
 * integer reply (subscribers that received it). Never retried. */
MT_API int mt_redis_publish(mt_redis *r, const mt_redis_bytes *channels,
			    const mt_redis_bytes *messages, size_t n,
			    mt_redis_batch **out /* OUT */);

/* A field of a model: HSET name value. */
typedef struct mt_redis_field {
	mt_redis_bytes name, value;
} mt_redis_field;

/* A sorted index entry: ZADD $SortedF:<model>:<name> score member. */
typedef struct mt_redis_sorted {
	mt_redis_bytes name;
	double score;
} mt_redis_sorted;

/*
 * One model instance in Popoto's layout. With H = "<model>:<key>":
 *   HSET H field value ...                    every field
 *   SADD $Class:<model> H                     the class set
 *   SADD $KeyF:<model>:<name>:<value> H       each key index
 *   ZADD $SortedF:<model>:<name> score H      each sorted index
 *   PEXPIRE H ttl_ms                          when ttl_ms > 0
 * A delete is DEL H, SREM $Class:<model> H, and the SREM / ZREM of each
 * index given.
 */
typedef struct mt_redis_model {
	mt_redis_bytes model; /* class name, e.g. "User" */
	mt_redis_bytes key;   /* instance key */
	const mt_redis_field *fields;
	size_t nfields; /* >= 1 for a save */
	const mt_redis_field *key_indexes;
	size_t nkey_indexes;
	const mt_redis_sorted *sorted_indexes;
	size_t nsorted_indexes;
	int64_t ttl_ms; /* > 0: PEXPIRE on the hash */
} mt_redis_model;

/* Saves models[i], as one item each; atomic (MULTI/EXEC, so the indexes
 * never disagree with the hash) when `flags` has MT_REDIS_ATOMIC.
 * Idempotent. Result i: DONE (`reply`: the last command's reply, or the
 * EXEC array), FAILED or UNKNOWN. EINVAL for a model with no field. */
MT_API int mt_redis_model_save(mt_redis *r, const mt_redis_model *models,
			       size_t n, unsigned flags,
			       mt_redis_batch **out /* OUT */);

/* HGETALL "<model>:<key>" for keys[i], in order. Result i: DONE with
 * `reply` the HGETALL array (empty for a missing key). */
MT_API int mt_redis_model_load(mt_redis *r, mt_redis_bytes model,
			       const mt_redis_bytes *keys, size_t n,
			       mt_redis_batch **out /* OUT */);

/* Deletes models[i] (hash, class set entry, the indexes given), one item
 * each, atomic with MT_REDIS_ATOMIC. Fields are not needed. */
MT_API int mt_redis_model_delete(mt_redis *r, const mt_redis_model *models,
				 size_t n, unsigned flags,
				 mt_redis_batch **out /* OUT */);

/* ------------------------------------------------- key collection */

/* Options of mt_redis_scan; NULL = collect keys only. */
typedef struct mt_redis_scan_options {
	/* When not NULL, each key found is also read with "<fetch> key"
	 * (for example "GET" or "HGETALL"), in parallel pipelines while the
	 * walk goes on; the replies are in the result. A read: it may be
	 * sent twice after a broken connection (MT_REDIS_IDEMPOTENT). */
	const char *fetch;
	/* SCAN COUNT hint; 0 = 1000. */
	unsigned count;
} mt_redis_scan_options;

/* Keys found by mt_redis_scan, de-duplicated, in the order found (the
 * keys of literal patterns first, in pattern order, then the walk's). */
typedef struct mt_redis_keys {
	size_t n;
	const mt_redis_bytes *keys; /* n keys, owned by this object */
	/* With a fetch command: n results, in the same order (a key deleted
	 * since it was found gives the command's reply for a missing key);
	 * NULL otherwise. */
	const mt_redis_result *values;
	size_t failed; /* values that are FAILED or UNKNOWN */
	void *impl;    /* private */
} mt_redis_keys;

/* Frees k, its keys and every value and text it holds. NULL is a no-op. */
MT_API void mt_redis_keys_free(mt_redis_keys *k);

/*
 * Collects every key matching any of the patterns (Redis glob rules: *,
 * ?, [abc], [^abc], [a-z], and \ escapes), merged and de-duplicated, with
 * one walk of the keyspace: a single SCAN matching all patterns on the
 * client (every SCAN MATCH walks the whole keyspace, so one walk per
 * pattern costs a walk each), except where docs/redis.md says the server
 * side wins (one pattern: SCAN MATCH; a pattern with no glob character:
 * EXISTS). Never KEYS. Keys written or deleted during the walk may or may
 * not be included (SCAN's guarantee). A page whose connection broke is
 * asked again from the same cursor on a new connection (once, unless
 * MT_REDIS_NO_RETRY); a walk that cannot finish returns its error and no
 * keys, never a partial list. Returns 0, or EINVAL (npatterns 0, a NULL
 * pattern, an empty fetch), ENOMEM, ESHUTDOWN, ECHILD, or the error that
 * stopped the walk (ETIMEDOUT, ECONNRESET, EIO: also for an error reply,
 * or mt_redis_open's connection errors), then *out is NULL.
 * CONTEXT: any thread, tasks of the client's pool included; the walk
 * runs on the calling thread, the fetches on the pool.
 */
MT_API int mt_redis_scan(mt_redis *r, const char *const *patterns,
			 size_t npatterns, const mt_redis_scan_options *opts,
			 mt_redis_keys **out /* OUT */);

/* Redis's glob matching on the client: 1 if SCAN MATCH `pattern` (and
 * KEYS) would return the key `string`, else 0; byte for byte the
 * server's rules (docs/redis.md), "*" alone matching every key, "" too.
 * Pure: any thread. */
MT_API int mt_redis_glob_match(mt_redis_bytes pattern, mt_redis_bytes string);

/* ------------------------------------------------------ cluster slots */

/*
 * The Redis Cluster hash slot of `key`, 0 .. 16383: CRC16 (XMODEM, the
 * cluster specification's) of the key modulo 16384, or of its hash tag
 * when it has a non-empty one (the bytes between the first '{' and the
 * first '}' after it: "{user1000}.following" hashes "user1000";
 * "foo{}{bar}" hashes the whole key). Keys with the same slot live on the
 * same master, so a tool can group keys per slot (or per node) before
 * multi-key commands. Pure function; any thread; key.data may be NULL
 * when key.len is 0.
 */
MT_API unsigned mt_redis_key_slot(mt_redis_bytes key);

/* ------------------------------------------------- background work */

/*
 * Fire-and-forget: queue the operation and return at once. Calls from
 * every thread go to one queue that pool tasks drain in pipelines
 * (automatic pipelining), so many small calls cost about what one bulk
 * call of the same items costs. The arguments are copied. Idempotent
 * operations (saves) are retried as bulk calls are; publish and commands
 * are never replayed. Each outcome is counted; see mt_redis_flush.
 * Returns 0 (queued), or EINVAL, ENOMEM, EAGAIN (max_queued reached:
 * nothing queued), ESHUTDOWN (the client is closing), ECHILD.
 */
MT_API int mt_redis_save_async(mt_redis *r, const mt_redis_model *model,
			       unsigned flags /* MT_REDIS_ATOMIC */);
MT_API int mt_redis_publish_async(mt_redis *r, mt_redis_bytes channel,
				  mt_redis_bytes message);
MT_API int mt_redis_command_async(mt_redis *r, const mt_redis_cmd *cmd,
				  unsigned flags /* MT_REDIS_IDEMPOTENT */);

/* What mt_redis_flush reports: the outcomes of the background operations
 * that completed since the previous flush. */
typedef struct mt_redis_flush_report {
	uint64_t done, failed, unknown;
	char last_error[MT_REDIS_ERRLEN]; /* "" when none failed */
} mt_redis_flush_report;

/*
 * Blocks until every background operation queued before the call has its
 * outcome, then fills *report (may be NULL) with the counts since the
 * previous flush. Returns 0 when none of them failed or was unknown,
 * EIO when some did (see the report), or EDEADLK when called from a task
 * of the client's pool (it would wait for itself; nothing done), ECHILD.
 */
MT_API int mt_redis_flush(mt_redis *r, mt_redis_flush_report *report /* OUT */);

/* ------------------------------------------------------------ stats */

typedef struct mt_redis_stats {
	uint64_t commands;   /* commands sent */
	uint64_t items_done; /* items of bulk calls, by outcome */
	uint64_t items_failed;
	uint64_t items_unknown;
	uint64_t retries;	    /* items replayed on a new connection */
	uint64_t connects;	    /* connections made */
	uint64_t connection_errors; /* connections closed after an error */
	uint64_t bg_queued;	    /* background operations accepted */
	uint64_t bg_done;	    /* ... by outcome */
	uint64_t bg_failed;
	uint64_t bg_unknown;
	uint64_t redirects; /* cluster: MOVED and ASK followed */
} mt_redis_stats;

/* Fills *out. Counters are totals since open, read without stopping the
 * client. Returns 0 or EINVAL. */
MT_API int mt_redis_stats_get(mt_redis *r, mt_redis_stats *out /* OUT */);

#ifdef __cplusplus
}
#endif

#endif /* MTPOOL_REDIS_H */
