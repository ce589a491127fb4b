/*
 * tests/redis/test_arena.c: the reply arena of redis/arena.h (no server):
 * the bump allocator (alignment, growing blocks, blocks of their own,
 * undo), and hiredis 0.14's reader building replies in it through the
 * hook: every reply shape, replies bigger than a block, a reply cut by a
 * protocol error or left half read, and the reader's own functions back
 * after unhook.
 *
 * A hiredis reader is driven directly (redisReaderFeed / GetReply) inside
 * a context that holds nothing else, so every byte boundary is exact.
 * The sanitizer builds are what catch a mistake here: an arena object
 * handed to free() (a missing or late unhook) is an ASan bad-free, and a
 * block freed twice or never is a double-free or a leak.
 */
#include <criterion/criterion.h>

#include <hiredis/hiredis.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

/* A context that holds a reader and nothing else: all the hook reads. */
struct rd {
	redisContext c;
	struct mt__redis_arena a;
	struct mt__redis_arena_saved saved;
};

static void rd_open(struct rd *t)
{
	memset(t, 0, sizeof *t);
	t->c.reader = redisReaderCreate();
	cr_assert_not_null(t->c.reader);
	mt__redis_arena_hook(&t->a, &t->c, &t->saved);
}

static void rd_close(struct rd *t)
{
	mt__redis_arena_unhook(&t->c, &t->saved);
	redisReaderFree(t->c.reader);
	mt__redis_arena_free(&t->a);
}

static void feed(struct rd *t, const void *p, size_t len)
{
	cr_assert_eq(redisReaderFeed(t->c.reader, p, len), REDIS_OK);
}

static void feeds(struct rd *t, const char *s)
{
	feed(t, s, strlen(s));
}

/* The next complete reply (asserted to be there). */
static redisReply *next(struct rd *t)
{
	void *rep = NULL;
	cr_assert_eq(redisReaderGetReply(t->c.reader, &rep), REDIS_OK);
	cr_assert_not_null(rep, "no complete reply");
	return rep;
}

static void assert_str(const redisReply *r, int type, const char *want)
{
	cr_assert_eq(r->type, type);
	cr_assert_eq(r->len, strlen(want));
	cr_assert_eq(memcmp(r->str, want, r->len), 0);
	cr_assert_eq(r->str[r->len], '\0', "not NUL-terminated");
}

/* --------------------------------------------------------- allocator */

Test(arena, allocations_are_aligned_and_blocks_double_up_to_1_mib)
{
	struct mt__redis_arena a = {0};
	size_t sizes[] = {1, 7, 8, 9, 48, 113, 0, 3};

	for (size_t i = 0; i < 64; i++) {
		void *p = mt__redis_arena_alloc(&a, sizes[i % 8]);
		cr_assert_not_null(p);
		cr_assert_eq((uintptr_t)p % 8, 0, "size %zu", sizes[i % 8]);
		memset(p, 0xab, sizes[i % 8]);
	}
	cr_assert_eq(mt__redis_arena_bytes(&a), MT__REDIS_ARENA_FIRST);
	/* Fill block after block with allocations of "own" size (the
	 * largest from a bump block): the blocks are 64 KiB, then 128, 256,
	 * 512 KiB, then 1 MiB each. */
	size_t want = MT__REDIS_ARENA_FIRST, at_cap = 0;
	for (size_t blk = 2 * MT__REDIS_ARENA_FIRST; at_cap < 3;
	     blk = blk < MT__REDIS_ARENA_MAX ? 2 * blk : blk) {
		size_t before = mt__redis_arena_bytes(&a);
		while (mt__redis_arena_bytes(&a) == before)
			cr_assert_not_null(
				mt__redis_arena_alloc(&a, MT__REDIS_ARENA_OWN));
		want += blk;
		cr_assert_eq(mt__redis_arena_bytes(&a), want, "block %zu", blk);
		at_cap += blk == MT__REDIS_ARENA_MAX;
	}
	mt__redis_arena_free(&a);
	cr_assert_eq(mt__redis_arena_bytes(&a), 0);
	cr_assert_null(a.blocks);
	/* An arena may be used again after free. */
	cr_assert_not_null(mt__redis_arena_alloc(&a, 10));
	mt__redis_arena_free(&a);
}

Test(arena, a_large_allocation_gets_its_own_block_and_the_bump_block_goes_on)
{
	struct mt__redis_arena a = {0};
	char *big0 = mt__redis_arena_alloc(&a, 4u << 20);

	/* First thing in an empty arena: its own block, no bump block. */
	cr_assert_not_null(big0);
	cr_assert_eq(mt__redis_arena_bytes(&a), 4u << 20);
	memset(big0, 1, 4u << 20);
	char *p1 = mt__redis_arena_alloc(&a, 100);
	char *big = mt__redis_arena_alloc(&a, MT__REDIS_ARENA_OWN + 1);
	char *p2 = mt__redis_arena_alloc(&a, 100);
	cr_assert(p1 && big && p2);
	cr_assert_eq(p2, p1 + 104, "the own block ended the bump block");
	cr_assert_eq(mt__redis_arena_bytes(&a),
		     (4u << 20) + MT__REDIS_ARENA_FIRST + MT__REDIS_ARENA_OWN +
			     1);
	memset(big, 2, MT__REDIS_ARENA_OWN + 1);
	memset(p1, 3, 100);
	memset(p2, 4, 100);
	/* Exactly "own" still comes from the bump block. */
	char *p3 = mt__redis_arena_alloc(&a, MT__REDIS_ARENA_OWN);
	cr_assert_eq(p3, p2 + 104);
	mt__redis_arena_free(&a);
}

Test(arena, undo_gives_back_only_the_latest_bump_allocation)
{
	struct mt__redis_arena a = {0};
	char *p = mt__redis_arena_alloc(&a, 40);
	char *q = mt__redis_arena_alloc(&a, 24);

	cr_assert_eq(mt__redis_arena_undo(&a, p), 0, "p is not the latest");
	cr_assert_eq(mt__redis_arena_undo(&a, q), 1);
	cr_assert_eq(mt__redis_arena_undo(&a, q), 0, "undone twice");
	cr_assert_eq(mt__redis_arena_alloc(&a, 8), q, "space not reused");
	/* After an allocation of its own block, nothing is the latest bump
	 * allocation. */
	char *r = mt__redis_arena_alloc(&a, 16);
	cr_assert_not_null(mt__redis_arena_alloc(&a, 1u << 20));
	cr_assert_eq(mt__redis_arena_undo(&a, r), 0);
	cr_assert_eq(mt__redis_arena_undo(&a, NULL), 0);
	mt__redis_arena_free(&a);
}

Test(arena, a_zero_byte_allocation_in_an_empty_arena_is_not_null)
{
	struct mt__redis_arena a = {0};
	char *p = mt__redis_arena_alloc(&a, 0);

	cr_assert_not_null(p, "0 bytes read as out of memory");
	cr_assert_neq(mt__redis_arena_alloc(&a, 0), p);
	mt__redis_arena_free(&a);
}

/* ------------------------------------------------------ reply objects */

Test(arena, every_reply_shape_is_a_real_redisreply_in_the_arena)
{
	struct rd t;
	rd_open(&t);
	static const char in[] = "$5\r\nhel\0o\r\n+OK\r\n-ERR bad\r\n:-42\r\n"
				 "$-1\r\n*-1\r\n*0\r\n$0\r\n\r\n";
	feed(&t, in, sizeof in - 1); /* a NUL inside: not feeds() */
	redisReply *s = next(&t);
	cr_assert_eq(s->type, REDIS_REPLY_STRING);
	cr_assert_eq(s->len, 5);
	cr_assert_eq(memcmp(s->str, "hel\0o", 6), 0);
	cr_assert_eq((void *)s->str, (void *)(s + 1), "bytes not inline");
	assert_str(next(&t), REDIS_REPLY_STATUS, "OK");
	assert_str(next(&t), REDIS_REPLY_ERROR, "ERR bad");
	redisReply *i = next(&t);
	cr_assert_eq(i->type, REDIS_REPLY_INTEGER);
	cr_assert_eq(i->integer, -42);
	cr_assert_eq(next(&t)->type, REDIS_REPLY_NIL);
	cr_assert_eq(next(&t)->type, REDIS_REPLY_NIL);
	redisReply *e = next(&t);
	cr_assert_eq(e->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(e->elements, 0);
	cr_assert_null(e->element);
	assert_str(next(&t), REDIS_REPLY_STRING, "");
	/* All of it in one bump block: no malloc per reply. */
	cr_assert_eq(mt__redis_arena_bytes(&t.a), MT__REDIS_ARENA_FIRST);
	rd_close(&t);
}

/* An EXEC-like reply: arrays in arrays (HGETALL and LRANGE results inside
 * EXEC's), every level's elements hung on the right parent. */
Test(arena, nested_arrays_keep_each_level_in_order)
{
	struct rd t;
	rd_open(&t);
	feeds(&t, "*4\r\n+OK\r\n*4\r\n$1\r\nf\r\n$1\r\nv\r\n$2\r\ng2\r\n$-1\r\n"
		  "*2\r\n*1\r\n*1\r\n:7\r\n*0\r\n:3\r\n");
	redisReply *r = next(&t);
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(r->elements, 4);
	assert_str(r->element[0], REDIS_REPLY_STATUS, "OK");
	redisReply *h = r->element[1];
	cr_assert_eq(h->elements, 4);
	assert_str(h->element[0], REDIS_REPLY_STRING, "f");
	assert_str(h->element[1], REDIS_REPLY_STRING, "v");
	assert_str(h->element[2], REDIS_REPLY_STRING, "g2");
	cr_assert_eq(h->element[3]->type, REDIS_REPLY_NIL);
	redisReply *deep = r->element[2];
	cr_assert_eq(deep->elements, 2);
	cr_assert_eq(deep->element[0]->elements, 1);
	cr_assert_eq(deep->element[0]->element[0]->element[0]->integer, 7);
	cr_assert_eq(deep->element[1]->elements, 0);
	cr_assert_eq(r->element[3]->integer, 3);
	rd_close(&t);
}

Test(arena, a_bulk_string_bigger_than_a_block_gets_a_block_of_its_own)
{
	size_t len = 4u << 20;
	char *v = malloc(len), head[32];
	cr_assert_not_null(v);
	for (size_t k = 0; k < len; k++)
		v[k] = (char)(k * 31 + 7);
	int hl = snprintf(head, sizeof head, "*3\r\n:1\r\n$%zu\r\n", len);
	struct rd t;
	rd_open(&t);
	feed(&t, head, (size_t)hl);
	/* Fed in pieces, as a socket delivers it. */
	for (size_t at = 0; at < len; at += 65536)
		feed(&t, v + at, len - at < 65536 ? len - at : 65536);
	feeds(&t, "\r\n$2\r\nok\r\n");
	redisReply *r = next(&t);
	cr_assert_eq(r->elements, 3);
	cr_assert_eq(r->element[0]->integer, 1);
	cr_assert_eq(r->element[1]->len, len);
	cr_assert_eq(memcmp(r->element[1]->str, v, len), 0);
	cr_assert_eq(r->element[1]->str[len], '\0');
	assert_str(r->element[2], REDIS_REPLY_STRING, "ok");
	/* One bump block for the small ones, one of its own for the big. */
	cr_assert_eq(mt__redis_arena_bytes(&t.a),
		     MT__REDIS_ARENA_FIRST + sizeof(redisReply) + len + 1);
	rd_close(&t);
	free(v);
}

Test(arena, an_element_vector_bigger_than_a_block_gets_a_block_of_its_own)
{
	/* 200,000 elements: a 1.6 MB vector, above the largest block. */
	size_t n = 200000;
	struct rd t;
	char head[32];
	rd_open(&t);
	feed(&t, head, (size_t)snprintf(head, sizeof head, "*%zu\r\n", n));
	for (size_t i = 0; i < n; i++) {
		char e[32];
		feed(&t, e, (size_t)snprintf(e, sizeof e, ":%zu\r\n", i));
	}
	redisReply *r = next(&t);
	cr_assert_eq(r->elements, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(r->element[i]->integer, (long long)i);
	rd_close(&t);
}

/* ------------------------------------------------ errors and unhook */

/* A reply half read when the connection is given up: the reader holds it
 * (hiredis frees it at redisReaderFree with the reader's freeObject).
 * After unhook the reader has the heap functions back, so unhook must
 * take the partial reply away from it: ASan reports a bad-free if not. */
Test(arena, a_half_read_reply_is_dropped_to_the_arena_by_unhook)
{
	struct rd t;
	void *rep = (void *)1;
	rd_open(&t);
	feeds(&t, "*3\r\n$3\r\nfoo\r\n*2\r\n:1\r\n$10\r\nhalf");
	cr_assert_eq(redisReaderGetReply(t.c.reader, &rep), REDIS_OK);
	cr_assert_null(rep, "a partial reply was returned");
	cr_assert_not_null(t.c.reader->reply, "no partial reply held");
	rd_close(&t);
}

/* hiredis frees a partial reply itself on a protocol error, with the
 * hooked freeObject: a no-op, the objects stay in the arena. */
Test(arena, a_protocol_error_mid_reply_frees_nothing_of_the_arena)
{
	struct rd t;
	void *rep = NULL;
	rd_open(&t);
	feeds(&t, "*3\r\n$3\r\nfoo\r\n*2\r\n:1\r\n!bad\r\n");
	cr_assert_eq(redisReaderGetReply(t.c.reader, &rep), REDIS_ERR);
	cr_assert_null(rep);
	cr_assert_null(t.c.reader->reply);
	/* The arena is intact and still usable. */
	char *p = mt__redis_arena_alloc(&t.a, 64);
	memset(p, 0, 64);
	rd_close(&t);
}

/* After unhook the reader builds hiredis's own heap replies again, which
 * freeReplyObject frees (ASan: no bad-free, no leak); replies read while
 * hooked stay valid until the arena is freed. */
Test(arena, unhook_gives_the_reader_its_own_functions_back)
{
	struct rd t;
	redisReader *fresh = redisReaderCreate();
	cr_assert_not_null(fresh);
	rd_open(&t);
	cr_assert_neq(t.c.reader->fn, fresh->fn);
	cr_assert_eq(t.c.reader->privdata, &t.a);
	feeds(&t, "*2\r\n$1\r\na\r\n:5\r\n");
	redisReply *kept = next(&t);
	mt__redis_arena_unhook(&t.c, &t.saved);
	cr_assert_eq(t.c.reader->fn, fresh->fn);
	cr_assert_null(t.c.reader->privdata);
	feeds(&t, "*2\r\n$1\r\nb\r\n*1\r\n:6\r\n");
	redisReply *heap = next(&t);
	cr_assert_eq(heap->element[1]->element[0]->integer, 6);
	freeReplyObject(heap);
	assert_str(kept->element[0], REDIS_REPLY_STRING, "a");
	/* Hook and unhook again, as a cached connection is by each share. */
	mt__redis_arena_hook(&t.a, &t.c, &t.saved);
	feeds(&t, "+again\r\n");
	assert_str(next(&t), REDIS_REPLY_STATUS, "again");
	rd_close(&t);
	redisReaderFree(fresh);
}
