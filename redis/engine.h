/*
 * redis/engine.h: THE bulk executor. Items -> shares -> windows -> outcomes.
 *
 * Overview
 * ========
 * An item is one or more commands that must run in order on one
 * connection (MULTI ... EXEC around them when atomic). A call is planned
 * as groups of (node, items); a single server has one group, all items.
 * Each group is cut into shares, contiguous runs of items, that run in
 * parallel on the pool (mt_for_range over shares: the calling thread
 * takes part, and a worker that calls helps while it waits). A share runs
 * on one thread, on that thread's own connection to the node, and
 * pipelines its items in windows of `window` units, two windows in
 * flight: window k+1 is written before the replies of window k are read,
 * so the server works on one while the client reads the other. A unit is
 * a command, or a key of a multi-key command (the item's weight): the
 * server buffers a window's replies, and an MGET of 100 keys costs it
 * about what 100 GETs do.
 *
 * Every item ends in exactly one state (mt_redis_status), in input order:
 *   DONE     every reply arrived and none was an error (atomic: EXEC
 *            returned an array without error elements);
 *   FAILED   an error reply (the server's text; for a non-atomic item
 *            its other commands ran), an aborted transaction (EXECABORT,
 *            with the first queuing error), or never sent (no connection
 *            could be made, or out of memory), with the client's text;
 *   UNKNOWN  sent, but the connection broke (error, end of stream,
 *            timeout) before all its replies were read.
 *
 * The retry rule, per share. After a connection error the connection is
 * freed (never reused), and every item that was in flight on it is
 * UNKNOWN, except those that are idempotent (MT_REDIS_IDEMPOTENT), when
 * the client allows retries and the item was not already replayed once:
 * those are sent again, first, on a new connection, and the share goes on
 * with its unsent items there. A share makes that new connection only if
 * the broken one had read at least one reply or came from the cache (it
 * may have died idle): a connection made for this share that breaks
 * before any reply means the server is dead or stalled, so the share
 * stops there: its in-flight items are UNKNOWN and its unsent items
 * FAILED ("not sent"). So each share waits at most about two command
 * timeouts plus two connect timeouts on a dead or stalled server, and
 * never replays an item twice.
 *
 * Usage
 * =====
 *   struct mt__redis_source src = {.n = n, .ctx = ..., .format = ...,
 *                                  .fixed_ncmds = 1,
 *                                  .fixed_flags = MT_REDIS_IDEMPOTENT};
 *   mt__redis_batch_new(n, 0, &b);
 *   rc = mt__redis_engine_run(r, &src, b->pub.results, b);
 *
 * Implementation notes
 * ====================
 * The hot path calls malloc for nothing per command or per reply: a
 * share formats each window of commands into one reusable buffer
 * (resp.h) and hands it to hiredis in one copy; while it holds a
 * connection, that connection's reader builds every reply straight into
 * the share's store, an arena (arena.h, batch.h: one bump allocation per
 * reply object, a string's bytes inside it), so keeping a reply for the
 * batch costs nothing more, and freeing the batch frees blocks, not
 * replies; a one-command item that is DONE points `replies` at its own
 * `reply` field instead of allocating an array. Counters are added to
 * the client once per share. SIGPIPE is blocked around each
 * participant's run of shares (sigpipe.h), not per command.
 *
 * The arena hook, per connection: hooked when the share acquires or
 * makes it, unhooked just before it goes back to the node (cached, or
 * freed when broken), on every path. So a reply read by a share is
 * always in the share's own store, owned by the batch until
 * mt_redis_batch_free (never passed to freeReplyObject: MULTI's and
 * QUEUED replies that an atomic item does not keep go back with
 * mt__redis_arena_undo), and a connection anyone else gets from the cache
 * (scan's walk, the map's function, another call) reads ordinary heap
 * replies again. A connection error in the middle of a reply leaves the
 * reply's objects in the arena, unreferenced; unhook takes the partial
 * reply back from the reader, so redisFree never frees it.
 *
 * The state of a share: `recv` <= `sent` are item cursors; the items in
 * [recv, sent) that are not finished are in flight, in order, with
 * `inflight` commands whose replies are unread (and `load` window units),
 * the first `recv_cmd` replies of item `recv` already read. Items are
 * finished (batch.h) once they have their outcome; finished items in
 * that range (UNKNOWN after an error, FAILED when out of memory) are
 * skipped by both cursors, as they were not resent.
 *
 * Redis Cluster (issue 9) plugs in at the plan: a cluster client's calls
 * go to the router (router.h), which groups the items per node from each
 * item's routing key and runs the groups together through
 * mt__redis_engine_run_groups, one round at a time: a reply that says
 * MOVED or ASK sends its item to another round instead of finishing it.
 * A group's shares use that group's node (its connection cache); the
 * "server down" shortcut above is per group.
 */
#ifndef MTPOOL_REDIS_ENGINE_H
#define MTPOOL_REDIS_ENGINE_H

#include <mtpool/redis.h>

#include <stddef.h>

#include "batch.h"
#include "resp.h"

/* How the engine reads a call's items without copying them. */
struct mt__redis_source {
	size_t n;
	const void *ctx;
	/* Commands of item i, MULTI/EXEC not counted (>= 1); NULL: all
	 * items have fixed_ncmds. */
	size_t (*ncmds)(const void *ctx, size_t i);
	size_t fixed_ncmds;
	/* MT_REDIS_ATOMIC | MT_REDIS_IDEMPOTENT of item i; NULL: all items
	 * have fixed_flags. */
	unsigned (*flags)(const void *ctx, size_t i);
	unsigned fixed_flags;
	/* Window units of item i (>= its commands; fewer are raised to
	 * them); NULL: fixed_weight, or 0 for its commands. A multi-key
	 * command weighs its keys, so a window of MGETs holds about as many
	 * keys as a window of GETs, not 100 times more. */
	size_t (*weight)(const void *ctx, size_t i);
	size_t fixed_weight;
	/* Appends item i's commands (without MULTI/EXEC) in RESP to b; on a
	 * growth failure b->oom is set and the engine fails the item. */
	void (*format)(const void *ctx, size_t i, struct mt__redis_buf *b);
	/* Cluster only (router.h): the key that routes item i; NULL: the
	 * first argument of the item's first command. */
	void (*key)(const void *ctx, size_t i, mt_redis_bytes *key);
	/* Called once per item as soon as its outcome res is final, before
	 * the run returns: on one server by the share that finished it (on
	 * that share's thread, in parallel with other shares), in a cluster
	 * by the router on the calling thread after the last round (rounds
	 * are not final). The op layer maps a chunk's reply onto its keys
	 * here, on the thread that just read it, instead of in one serial
	 * pass after the call. NULL: none. */
	void (*settled)(const void *ctx, size_t i, const mt_redis_result *res);
};

/* An internal item flag (beside MT_REDIS_ATOMIC / _IDEMPOTENT, ignored
 * by the engine): every command of the item has its key as its first
 * argument (the library's own multi-command items: model saves and
 * deletes). In a cluster such an item is split per hash slot when it is
 * not atomic, and refused when it is atomic and its keys span slots. */
#define MT__REDIS_KEYED 0x100u

/* How the text of an item that was never sent starts ("not sent: could
 * not connect to ..."): the router re-routes such items, which is safe
 * because none of their commands reached a server. */
#define MT__REDIS_NOT_SENT "not sent: "

/* One group of a call: items of `src` for one node, results in res. */
struct mt__redis_group {
	struct mt__redis_node *node;
	const struct mt__redis_source *src;
	mt_redis_result *res;
};

/*
 * Runs the n items of `src` and writes each item's outcome to res[i]
 * (zeroed before the call); replies and texts go into b's stores. Blocks
 * until all are finished. Returns 0 (each item has its outcome), or
 * ENOMEM / ESHUTDOWN from setting up (nothing was sent).
 * CONTEXT: any thread, including tasks of the client's pool.
 */
int mt__redis_engine_run(mt_redis *r, const struct mt__redis_source *src,
			 mt_redis_result *res, struct mt__redis_batch *b);

/*
 * Runs ng groups at once: every group's shares go into one mt_for_range,
 * so all nodes are worked on in parallel. Each group's items are its own
 * source's, results in its own array (zeroed before the call). With
 * count_items 0 the client's item counters are left to the caller (the
 * router counts an item once it is final, not per round). Returns as
 * mt__redis_engine_run. CONTEXT: as mt__redis_engine_run.
 */
int mt__redis_engine_run_groups(mt_redis *r, const struct mt__redis_group *g,
				size_t ng, struct mt__redis_batch *b,
				int count_items);

#endif /* MTPOOL_REDIS_ENGINE_H */
