/*
 * redis/slotmap.h: which master serves each hash slot, read on every
 * routed item while one thread at a time rewrites it.
 *
 * Overview
 * ========
 * Two parts.
 *
 * 1. A parser of the `CLUSTER SLOTS` reply (a hiredis reply tree) into a
 *    plain description, struct mt_redis_slots: slot ranges, each with its
 *    master's endpoint first and then its replicas'. The reply is RESP2:
 *      [ [first, last, node, node...], ... ]       one entry per range
 *      node = [endpoint, port, (node-id), (metadata), ...]
 *    endpoint: a string (IP or hostname), "" (older servers: the node does
 *    not know its own address), NULL (Redis 7 `unknown-endpoint`: both
 *    mean "the host you asked, with this port"), or "?" (Redis 7
 *    `hostname` preferred but the node has none: the metadata's "ip" is
 *    used instead, as it is listed then). metadata (Redis 7) is a flat
 *    array of name/value strings ("ip", "hostname"); the node id and
 *    elements after the metadata are ignored. Every shape it does not
 *    expect (a wrong type, a range out of 0..16383 or inverted, two ranges
 *    claiming one slot, a port out of 1..65535, a host that is not
 *    printable) is EINVAL with a reason, never a crash and never a partial
 *    result; an empty reply (a node that serves nothing) is valid.
 *
 * 2. The live map, struct mt_redis_slotmap, owned by a cluster client:
 *    - a node registry: every address the client has ever seen (seeds,
 *      masters, replicas, redirect targets) gets a small id that never
 *      changes or is reused while the client lives, so per-worker
 *      per-node connection caches can be indexed by it;
 *    - owner[slot]: the id of the master serving the slot, or
 *      MT_REDIS_NO_NODE;
 *    - generation: how many full installs (refreshes) have happened.
 *
 * Usage
 * =====
 *   struct mt_redis_slotmap *m;
 *   mt__redis_slotmap_create(&m);
 *   mt__redis_slotmap_intern(m, "10.0.0.1", 7000, &seed_id);   seeds
 *   ... CLUSTER SLOTS on a node ...
 *   struct mt_redis_slots s;
 *   if (mt__redis_slots_parse(reply, &s, why, sizeof why) == 0 &&
 *       s.covered > 0)
 *           mt__redis_slotmap_install(m, &s, asked_host);
 *   mt__redis_slots_free(&s);  (before freeing the reply it borrows)
 *
 *   routing, any thread, wait-free:
 *   uint64_t g = mt__redis_slotmap_generation(m);
 *   unsigned id = mt__redis_slotmap_owner(m, mt__redis_slot(key, len));
 *   const struct mt_redis_node *n = mt__redis_slotmap_node(m, id);
 *
 *   a MOVED reply: mt__redis_slotmap_moved(m, slot, host, port, &id);
 *   refresh once per burst: under the router's own refresh lock, refresh
 *   only if mt__redis_slotmap_generation(m) is still the g the items were
 *   routed with (someone else refreshed otherwise).
 *
 * Implementation notes
 * ====================
 * Why not an immutable map published by pointer: a reader would need the
 * map to stay alive while it routes (reclamation: epochs, hazard pointers
 * or keeping every old map until close, 32 KiB per refresh, unbounded for
 * a long-lived client under repeated resharding). Routing never needs a
 * consistent snapshot of all 16,384 slots: each item reads one slot, and
 * a stale owner only costs a MOVED that the engine follows. So each slot
 * is its own atomic word, and nothing is ever freed before the client
 * closes: readers are wait-free and memory is bounded (32 KiB of owners,
 * plus the registry, which grows by one small node per distinct address).
 *
 * A refresh writes only the slots whose owner changed, never a transient
 * "no owner" (readers would fail items for nothing); a reader may see
 * some slots of the new map and some of the old one for a moment, which
 * is the same as having routed a little earlier or later.
 *
 * Orderings (every atomic in slotmap.c names its order):
 *   - A node is fully written and its pointer put in the registry (in a
 *     segment allocated on first use), and only then published by a
 *     release store of the node count; only after that can its id be
 *     stored in owner[] (release). A reader's acquire load of owner[slot]
 *     that sees the id therefore also sees the node, and the acquire load
 *     of the count in mt__redis_slotmap_node pairs with its release.
 *   - install stores every changed owner, then increments generation with
 *     release; generation's acquire load pairs with it, so a reader that
 *     sees generation g sees at least the owners of install g.
 * Writers (intern, install, moved) are serialised by one mutex, taken for
 * a few microseconds per refresh or redirect; readers never take it.
 *
 * Field legend: I = written before publication, then read-only; A =
 * atomic, any thread; M = under `lock`.
 */
#ifndef MTPOOL_REDIS_SLOTMAP_H
#define MTPOOL_REDIS_SLOTMAP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "slot.h"

/* ------------------------------------------------ the CLUSTER SLOTS reply */

/* A node as the reply names it. Borrowed from the reply: valid while the
 * reply lives. host NULL means "the host that was asked" (an empty or NULL
 * endpoint); otherwise hostlen printable bytes, not NUL-terminated. */
struct mt_redis_endpoint {
	const char *host;
	size_t hostlen;
	int port;
};

/* Slots first..last; nodes[0] is the master, then its replicas. */
struct mt_redis_slot_range {
	unsigned first, last;
	const struct mt_redis_endpoint *nodes;
	size_t nnodes; /* >= 1 */
};

struct mt_redis_slots {
	struct mt_redis_slot_range *ranges; /* one allocation with the nodes */
	size_t nranges;
	unsigned covered; /* slots served by some range: 0 .. 16384 */
};

/*
 * Parses a CLUSTER SLOTS reply (borrowed: it must outlive *out) into *out
 * (zeroed first). Returns 0, EINVAL (any unexpected shape or value; `why`
 * says what and where), ENOMEM. why may be NULL; otherwise it is always
 * NUL-terminated when whylen > 0, and "" on success. Any thread.
 */
int mt__redis_slots_parse(const redisReply *reply,
			  struct mt_redis_slots *out /* OUT */, char *why,
			  size_t whylen);

/* Frees what parse allocated; leaves *s zeroed. A zeroed *s is fine. */
void mt__redis_slots_free(struct mt_redis_slots *s);

/* ----------------------------------------------------------- the live map */

/* Ids are 0 .. MT_REDIS_MAX_NODES - 1; MT_REDIS_NO_NODE is "none". */
#define MT_REDIS_NODE_SEG 256u
#define MT_REDIS_MAX_NODES (256u * MT_REDIS_NODE_SEG - 1u)
#define MT_REDIS_NO_NODE 0xFFFFu

/* A node's address; immutable once published (I). */
struct mt_redis_node {
	unsigned id;
	unsigned next; /* private: the map's address index */
	int port;
	char host[]; /* NUL-terminated, no brackets for IPv6 */
};

struct mt_redis_slotmap;

/* Creates an empty map (no node, every owner MT_REDIS_NO_NODE,
 * generation 0). Returns 0, ENOMEM, or the error of pthread_mutex_init. */
int mt__redis_slotmap_create(struct mt_redis_slotmap **out /* OUT */);

/* Frees the map and every node. NULL is a no-op. No reader may use the
 * map or a node pointer it returned afterwards. */
void mt__redis_slotmap_destroy(struct mt_redis_slotmap *m);

/* The owner of `slot` (< 16384): a node id, or MT_REDIS_NO_NODE when no
 * master is known to serve it. Wait-free; any thread. */
unsigned mt__redis_slotmap_owner(const struct mt_redis_slotmap *m,
				 unsigned slot);

/* The node with id `id`, or NULL when no such id was given out (including
 * MT_REDIS_NO_NODE). The pointer is valid until the map is destroyed.
 * Wait-free; any thread. */
const struct mt_redis_node *
mt__redis_slotmap_node(const struct mt_redis_slotmap *m, unsigned id);

/* Number of ids given out so far (ids are 0 .. count - 1). Any thread. */
unsigned mt__redis_slotmap_node_count(const struct mt_redis_slotmap *m);

/* Full installs so far; see the orderings above. Any thread. */
uint64_t mt__redis_slotmap_generation(const struct mt_redis_slotmap *m);

/*
 * The id of host:port (host NUL-terminated, compared byte for byte;
 * port 1..65535), registering it if new. Returns 0, EINVAL (empty or
 * over-long host, bad port), ENOSPC (MT_REDIS_MAX_NODES addresses already
 * registered), ENOMEM. Blocks on the writers' mutex; any thread.
 */
int mt__redis_slotmap_intern(struct mt_redis_slotmap *m, const char *host,
			     int port, unsigned *id /* OUT */);

/* The id of host:port if registered, else MT_REDIS_NO_NODE. Takes the
 * writers' mutex (a scan of the registry); any thread. */
unsigned mt__redis_slotmap_find(struct mt_redis_slotmap *m, const char *host,
				int port);

/*
 * Makes the map say what `s` says: every slot of a range owned by the
 * range's master, every other slot MT_REDIS_NO_NODE; registers every
 * master and replica. Endpoints with a NULL host get `asked_host` (the
 * host the reply came from). Then increments the generation. Returns 0,
 * EINVAL (a NULL host and asked_host NULL or empty), ENOSPC, ENOMEM; on
 * an error the owners and generation are unchanged (nodes registered on
 * the way stay registered, unused). Blocks on the writers' mutex.
 */
int mt__redis_slotmap_install(struct mt_redis_slotmap *m,
			      const struct mt_redis_slots *s,
			      const char *asked_host);

/*
 * A MOVED reply: slot now belongs to host:port (the caller has replaced
 * an empty host by the one it asked). Registers the node, sets the
 * owner; the generation is unchanged (this is not a full refresh).
 * Returns 0 with *id set, or the errors of mt__redis_slotmap_intern.
 */
int mt__redis_slotmap_moved(struct mt_redis_slotmap *m, unsigned slot,
			    const char *host, int port, unsigned *id /* OUT */);

/*
 * The nodes worth asking for a fresh map, best first: the masters of the
 * last install (and of MOVED updates since), then its replicas, then every
 * other registered node (seeds, nodes no longer in the map). Writes at
 * most cap ids into ids and returns how many it wrote. Takes the writers'
 * mutex; any thread.
 */
size_t mt__redis_slotmap_candidates(struct mt_redis_slotmap *m,
				    unsigned *ids /* OUT */, size_t cap);

#endif /* MTPOOL_REDIS_SLOTMAP_H */
