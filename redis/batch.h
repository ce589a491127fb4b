/*
 * redis/batch.h: the result object of a bulk call (mt_redis_batch) and the
 * per-share storage behind it.
 *
 * Overview
 * ========
 * A batch holds one mt_redis_result per item, in input order, and owns
 * everything they point to: hiredis replies (kept as hiredis built them,
 * never copied) and client-side texts. mt_redis_batch_free() frees all
 * of it.
 *
 * Each share of a call (engine.h) writes the results of its own items
 * (disjoint ranges of the array, so no locking) and keeps what they point
 * to in its own store, an arena (arena.h): the replies themselves, which
 * hiredis builds straight into it while the share reads its connection,
 * the reply arrays of multi-command items, and error texts. Stores are
 * per share so that shares running in parallel never contend on an
 * allocator lock of ours, and the batch frees them all at the end.
 *
 * Ownership and lifetime: everything a result points to lives in some
 * store of its batch (a reply that an engine round kept and a later
 * round, or the op layer, points to is still in the store of the share
 * that read it), from the moment the share reads it until
 * mt_redis_batch_free(). Nothing in a store is ever freed on its own:
 * not with freeReplyObject (the replies are not hiredis's heap objects),
 * and not earlier (a partial reply cut by an error, or the replies of an
 * item that is replayed, stay until the end, unreferenced). Freeing a
 * batch is therefore a free per arena block (about one per MiB of
 * replies), plus the result arrays, whatever the number of replies:
 * malloc and free of two objects per reply were a quarter of the
 * client's time in a bulk GET (docs/benchmarks.md).
 *
 * When an operation maps engine items onto user-visible results (bulk
 * GET: one MGET item answers up to chunk_keys keys), the engine's results
 * live in `inner` and the user's results point into them.
 *
 * Usage
 * =====
 *   struct mt__redis_batch *b;
 *   mt__redis_batch_new(n, ninner, &b);   results zeroed
 *   ... the engine fills b->pub.results (or b->inner) using stores ...
 *   mt__redis_batch_count(b);             done / failed / unknown
 *   return &b->pub;                        mt_redis_batch_free frees it
 *
 * Implementation notes
 * ====================
 * A result is "finished" when its `reply` (DONE) or `error` (FAILED,
 * UNKNOWN) is set; zeroed results are unfinished. The engine relies on
 * that to skip items it finalised early (an UNKNOWN item is not resent).
 */
#ifndef MTPOOL_REDIS_BATCH_H
#define MTPOOL_REDIS_BATCH_H

#include <mtpool/redis.h>

#include <stddef.h>

#include "arena.h"

/* One share's storage: written only by the thread running the share. */
struct mt__redis_store {
	struct mt__redis_arena arena; /* replies, reply arrays, texts */
};

struct mt__redis_batch {
	mt_redis_batch pub;	/* pub.impl == this */
	mt_redis_result *inner; /* engine results, or NULL */
	size_t ninner;
	struct mt__redis_store *stores; /* one per share, owned */
	size_t nstores;
};

/* Allocates a batch of n zeroed results, and `ninner` zeroed inner
 * results (0: none). Returns 0 or ENOMEM. */
int mt__redis_batch_new(size_t n, size_t ninner,
			struct mt__redis_batch **out /* OUT */);

/* Adds `nstores` zeroed stores after the batch's existing ones (a cluster
 * call runs the engine once per round on one batch); 0 or ENOMEM (then
 * the batch is unchanged). The stores array may move: index it again
 * after each call. */
int mt__redis_batch_stores(struct mt__redis_batch *b, size_t nstores);

/* Sets done / failed / unknown from the results. */
void mt__redis_batch_count(struct mt__redis_batch *b);

/* Frees the stores' replies and arenas and the batch itself. */
void mt__redis_batch_destroy(struct mt__redis_batch *b);

/* size bytes, pointer-aligned, valid for the batch's lifetime; NULL when
 * out of memory. */
void *mt__redis_store_alloc(struct mt__redis_store *s, size_t size);

/* A formatted text for the batch's lifetime; on out of memory a static
 * text saying so (never NULL, so an item always has its reason). */
const char *mt__redis_store_text(struct mt__redis_store *s, const char *fmt,
				 ...) __attribute__((format(printf, 2, 3)));

/* Frees a store's contents (not the store itself). */
void mt__redis_store_release(struct mt__redis_store *s);

#endif /* MTPOOL_REDIS_BATCH_H */
