/*
 * redis/router.h: Redis Cluster routing for the engine: which node each
 * item goes to, and what happens when the cluster says "not here".
 *
 * Overview
 * ========
 * A client opened on a redis-cluster:// URI has a router. It owns the
 * slot map (slotmap.h) and one connection cache (conn.h: a slot per
 * worker, a free list) per cluster node, made the first time an item goes
 * to that node. mt__redis_engine_run hands every call of such a client to
 * mt__redis_router_run, which runs it in rounds:
 *
 *   1. Plan (first round only). Each item gets its hash slot (slot.h) from
 *      its routing key: the source's key callback (mt_redis_item.key, a
 *      chunk's keys, ...) or else the first argument of its first
 *      command; an item without one (a one-word command) goes to any
 *      master. An item whose commands each carry their key first
 *      (MT__REDIS_KEYED: model saves and deletes) is split into one unit
 *      per slot when it is not atomic (the commands of one slot stay in
 *      order on one connection; different slots are different keys), and
 *      refused with a clear error when it is atomic and its keys span
 *      slots (MULTI/EXEC runs on one node). Every other item is one unit.
 *   2. Route. Each pending unit goes to the master that owns its slot, or
 *      to the node a redirect named; units are grouped per node and every
 *      group runs at once in one engine call (engine.h: shares of all the
 *      groups spread over the pool, each pipelined on a worker's own
 *      connection to its node, results in the caller's order).
 *   3. Classify each unit's outcome:
 *      MOVED s host:port  the slot moved: the map learns it at once and
 *                         the unit goes to that node next round; the map
 *                         is refreshed (CLUSTER SLOTS) once per round,
 *                         not once per reply, and only if no other call
 *                         refreshed it since this round was routed;
 *      ASK s host:port    the key is being migrated: next round the unit
 *                         goes to that node with ASKING immediately before
 *                         each of its commands (before MULTI for an atomic
 *                         one), in the same pipeline as everything else;
 *                         the map is not changed;
 *      TRYAGAIN           a multi-key command met a half-migrated slot:
 *                         retried after a pause;
 *      CLUSTERDOWN        retried after a pause and a refresh;
 *      not sent           no connection to the node could be made: the
 *                         map is refreshed (a replica may have taken over)
 *                         and the unit retried after a pause;
 *      UNKNOWN            the connection died after the unit was sent: an
 *                         idempotent unit (retries on) is replayed once
 *                         more on the slot's owner after a refresh;
 *                         others stay UNKNOWN;
 *      anything else      final (DONE, or FAILED with the server's text).
 *   A redirect is followed only when every command of the unit was
 *   answered by one (so none of them ran): a write whose reply was read is
 *   never sent again. MOVED and ASK are followed at most
 *   MT__REDIS_MAX_REDIRECTS times per unit (then FAILED: "gave up after
 *   ... redirects"), so a redirect loop between nodes that disagree ends;
 *   the pauses (TRYAGAIN, CLUSTERDOWN, a node down) double from
 *   MT__REDIS_BACKOFF_MS up to MT__REDIS_BACKOFF_MAX_MS and stop one
 *   command timeout after the call's first pause: a node that stays down
 *   costs its items that much, then they are FAILED (never sent) or
 *   UNKNOWN, while the other nodes' items are DONE.
 *
 * A split item's result puts its units' replies back in command order;
 * it is UNKNOWN if a unit is, else FAILED if a unit is, else DONE.
 *
 * The slot map is read at open from the first seed that answers (unless
 * MT_REDIS_LAZY: then on the first call) and refreshed from the node the
 * MOVED named, then the masters, then their replicas, then every other
 * node ever seen, seeds included (slotmap.h, candidates): after a
 * failover the old master is gone and a replica knows the new map; after
 * a node was removed from the cluster, it is no longer asked first (it may
 * still answer, with an empty map, which is skipped).
 *
 * Usage
 * =====
 *   mt__redis_router_create(r, &r->router);   at open, after r->node
 *   mt__redis_router_open(r, why, len);       first map (unless LAZY)
 *   mt__redis_router_run(r, src, res, b);     by mt__redis_engine_run
 *   mt__redis_router_destroy(r->router);      at close
 *
 * Implementation notes
 * ====================
 * Node caches are published like the slot map's nodes: created once,
 * under `lock`, into a segment allocated on first use, then published by
 * a release store of the pointer; readers (every share of every call)
 * take them with an acquire load and no lock. They live until close, as
 * do the map's nodes that name them, so a cache found is always valid.
 *
 * The rounds run on the calling thread; the engine's shares read the
 * units (written between rounds only) through a per-group source whose
 * callbacks map the group's k-th item to its unit. An ASK unit or a split
 * unit is formatted by the caller's own formatter into the share's buffer
 * and then rearranged in place (ASKING inserted, other slots' commands
 * dropped), so no formatter knows about the cluster.
 *
 * Lock order: refresh_lock (held across the CLUSTER SLOTS round trips,
 * taken only by refreshers) -> lock (node caches, leaf, no I/O) and the
 * slot map's own writers' lock (leaf).
 *
 * Field legend: I = set at create, then read-only; A = atomic; M = under
 * lock; R = under refresh_lock.
 */
#ifndef MTPOOL_REDIS_ROUTER_H
#define MTPOOL_REDIS_ROUTER_H

#include <mtpool/redis.h>

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "conn.h"
#include "engine.h"

/* MOVED and ASK followed per unit before it is FAILED. Real moves take
 * one (MOVED) or two (ASK, then MOVED once the slot is handed over); five
 * leaves room for a failover during a migration, as other clients do. */
#define MT__REDIS_MAX_REDIRECTS 5u
/* Pauses before retrying TRYAGAIN, CLUSTERDOWN or a node down: doubling
 * from 10 ms to 320 ms, i.e. about a dozen rounds in the default command
 * timeout of 5 s, enough to see a failover (2.5-3 s with a node timeout
 * of 1 s, docs/redis.md) complete without spinning. */
#define MT__REDIS_BACKOFF_MS 10u
#define MT__REDIS_BACKOFF_MAX_MS 320u

struct mt__redis_router;

/* Creates r's router: an empty slot map with the seeds of r->uri
 * registered, no node cache yet. r->node must be set up (its connection
 * settings are every node's). Returns 0, ENOMEM, EINVAL (a seed host the
 * map refuses), or a pthread error. */
int mt__redis_router_create(mt_redis *r,
			    struct mt__redis_router **out /* OUT */);

/* Reads the slot map from the first seed that answers CLUSTER SLOTS with
 * at least one slot. Returns 0, or the connection's error with the seed's
 * reason in why (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, EIO, EACCES,
 * ENOMEM), or EIO when a seed answered but is not a cluster node or
 * serves nothing. CONTEXT: any thread; blocks for the round trips. */
int mt__redis_router_open(mt_redis *r, char *why, size_t whylen);

/* Closes every node cache and frees the router. NULL is a no-op. */
void mt__redis_router_destroy(struct mt__redis_router *rt);

/* mt__redis_engine_run for a cluster client: the rounds above. Returns
 * 0 (every item has its outcome), or ENOMEM / ESHUTDOWN before anything
 * was sent. CONTEXT: as mt__redis_engine_run. */
int mt__redis_router_run(mt_redis *r, const struct mt__redis_source *src,
			 mt_redis_result *res, struct mt__redis_batch *b);

/* The connection caches of the masters the map names now (after reading
 * the map first if it was never read), at most cap, in slot order.
 * Returns how many, or 0 with *err set (the map could not be read). For
 * operations that visit every master (SCAN). Any thread. */
size_t mt__redis_router_masters(mt_redis *r, struct mt__redis_node **nodes,
				size_t cap, int *err /* OUT */);

/*
 * Multi-key commands in a cluster: the n keys grouped by hash slot (in
 * their order within a slot), each slot's keys cut into chunks of at most
 * `chunk`: chunk c is keys (*perm)[(*start)[c]] ... up to (*start)[c + 1],
 * all of one slot, so an MSET / MGET / DEL of a chunk never meets
 * CROSSSLOT. *perm (n entries) and *start (*nchunks + 1) are malloc'ed
 * for the caller to free. Returns 0 or ENOMEM. Any thread.
 */
int mt__redis_router_chunks(const mt_redis_bytes *keys, size_t n, size_t chunk,
			    size_t **perm /* OUT */, size_t **start /* OUT */,
			    size_t *nchunks /* OUT */);

#endif /* MTPOOL_REDIS_ROUTER_H */
