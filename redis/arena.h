/*
 * redis/arena.h: a bump arena, and hiredis reply objects built in it.
 *
 * Overview
 * ========
 * An arena hands out memory that is only ever freed all at once: every
 * allocation lives until mt__redis_arena_free(). It is what a bulk call's
 * share (engine.h) keeps its replies and texts in (batch.h: one arena
 * per share, freed by mt_redis_batch_free), so that keeping a million
 * replies costs a few hundred block allocations instead of two mallocs
 * per reply, and freeing them costs as many frees, not two million.
 *
 * The reply half: hiredis 0.14's reader builds reply objects through a
 * table of functions (redisReader.fn, a redisReplyObjectFunctions) and
 * hands each of them the reader's privdata (read.c copies
 * reader->privdata into every redisReadTask it starts: the root task of
 * each reply and each array level). mt__redis_arena_hook() points a
 * connection's reader at functions that build ordinary redisReply
 * structs in an arena, so redisGetReply() on that connection returns
 * replies that live in the arena:
 *   - a string, status or error reply is ONE allocation: the struct,
 *     then its bytes (NUL-terminated, as hiredis's), right after it;
 *   - an array is one allocation: the struct, then its element vector;
 *     each element is its own reply, built as it is parsed;
 *   - an integer or nil reply is the struct alone.
 * They are real redisReply structs (mt_redis_result.reply is a
 * `const redisReply *`), but they must NEVER reach freeReplyObject(): they
 * are freed with the arena. The hooked reader's freeObject does nothing,
 * which is what makes a reply cut by an error harmless: hiredis frees a
 * partial reply with freeObject (a protocol error, or redisFree of a
 * context whose reader holds one), and its objects stay in the arena.
 *
 * mt__redis_arena_unhook() restores the reader's own functions. It must
 * run before the connection is used by anything else, goes back to the
 * cache, or is freed: scan's walk, the map's user function and the
 * connection set-up read replies with redisGetReply and free them with
 * freeReplyObject, and redisFree would free a reply the reader still
 * holds with the restored freeObject. Unhook therefore also takes back a
 * partial reply the reader holds (one cut by a connection error: hiredis
 * keeps it in the reader until redisFree): it belongs to the arena.
 *
 * Usage
 * =====
 *   struct mt__redis_arena a = {0};
 *   struct mt__redis_arena_saved saved;
 *   mt__redis_arena_hook(&a, c, &saved);
 *   redisGetReply(c, &rep) ...        rep lives in a
 *   mt__redis_arena_unhook(c, &saved);
 *   ... c may go back to the cache, or be freed ...
 *   p = mt__redis_arena_alloc(&a, 40);
 *   mt__redis_arena_free(&a);          every reply and allocation
 *
 * Implementation notes
 * ====================
 * Blocks grow: the first is MT__REDIS_ARENA_FIRST (64 KiB) and each new
 * one is twice the last, up to MT__REDIS_ARENA_MAX (1 MiB), so a share
 * that keeps a few replies stays small and one that keeps a million of
 * them takes about one block per MiB. An allocation above
 * MT__REDIS_ARENA_OWN (16 KiB, a quarter of the first block) gets a
 * block of its own, linked behind the current one, so a large value (a
 * 4 MiB GET) neither wastes the rest of a block nor ends it: the space
 * lost at the end of a block is therefore under 16 KiB. Allocations are
 * 8-byte aligned (redisReply's and a pointer's alignment on the targets
 * we build for; checked at compile time).
 *
 * mt__redis_arena_undo() gives back the most recent allocation when it
 * is still the last thing in its block: the engine drops MULTI's +OK
 * and each +QUEUED of an atomic item that way, so they cost no memory.
 *
 * Not thread-safe: an arena is written by one thread at a time (a share
 * runs on one thread); hooking is per connection, and a connection is
 * used by one thread at a time (conn.h).
 */
#ifndef MTPOOL_REDIS_ARENA_H
#define MTPOOL_REDIS_ARENA_H

#include <hiredis/hiredis.h>

#include <stddef.h>

#define MT__REDIS_ARENA_FIRST (64u * 1024u)
#define MT__REDIS_ARENA_MAX (1024u * 1024u)
#define MT__REDIS_ARENA_OWN (16u * 1024u)

struct mt__redis_arena_block;

/* Zero-initialised is an empty arena. */
struct mt__redis_arena {
	struct mt__redis_arena_block *blocks; /* all of them, bump one first */
	char *cur;    /* bump pointer into blocks (the first one) */
	size_t left;  /* bytes left at cur */
	size_t next;  /* size of the next bump block; 0 = FIRST */
	void *last;   /* the latest allocation if bumped, else NULL */
	size_t bytes; /* in all blocks */
};

/* A reader's own functions, kept while it is hooked. */
struct mt__redis_arena_saved {
	redisReplyObjectFunctions *fn;
	void *privdata;
};

/* size bytes, 8-byte aligned, valid until mt__redis_arena_free(a); NULL
 * when out of memory (the arena is unchanged then). size 0 is valid. */
void *mt__redis_arena_alloc(struct mt__redis_arena *a, size_t size);

/* Gives back p if it is a's latest allocation and nothing was allocated
 * after it in its block; otherwise does nothing (p stays allocated until
 * the arena is freed). Returns 1 if given back, else 0. */
int mt__redis_arena_undo(struct mt__redis_arena *a, const void *p);

/* Frees every block; a is empty afterwards (and may be used again). */
void mt__redis_arena_free(struct mt__redis_arena *a);

/* Bytes held in blocks (for tests: growth, blocks of their own). */
size_t mt__redis_arena_bytes(const struct mt__redis_arena *a);

/* From now on c's reader builds its replies in a; its own functions are
 * saved in *saved. c must be between replies (its reader holds no
 * partial reply), as every connection acquired from a node is. a must
 * stay where it is until mt__redis_arena_unhook. */
void mt__redis_arena_hook(struct mt__redis_arena *a, redisContext *c,
			  struct mt__redis_arena_saved *saved /* OUT */);

/* Restores c's reader to the functions in *saved, and drops (to the
 * arena) a partial reply it still holds after an error, so that redisFree
 * does not free it. NULL c is a no-op. */
void mt__redis_arena_unhook(redisContext *c,
			    const struct mt__redis_arena_saved *saved);

/* Test-only fault hook: called, when set, each time the arena takes a
 * new block (bump or own), with the block's size, on the thread
 * allocating. Tests use it to act at a known point in the middle of a
 * large reply (a block of its own is taken while hiredis parses it). Set
 * it before the calls it should see, and clear it after they return. */
extern void (*mt__redis_arena_block_hook)(size_t bytes, void *arg);
extern void *mt__redis_arena_block_hook_arg;

#endif /* MTPOOL_REDIS_ARENA_H */
