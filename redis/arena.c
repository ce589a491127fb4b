/*
 * redis/arena.c: the bump arena and the reply objects built in it. See
 * arena.h.
 */
#include "arena.h"

#include <assert.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 8u

static_assert(alignof(redisReply) <= ALIGN, "redisReply alignment");
static_assert(alignof(redisReply *) <= ALIGN, "pointer alignment");
static_assert(MT__REDIS_ARENA_OWN <= MT__REDIS_ARENA_FIRST,
	      "a bump block must hold any allocation that is not own");

struct mt__redis_arena_block {
	struct mt__redis_arena_block *next;
	alignas(ALIGN) char data[];
};

void (*mt__redis_arena_block_hook)(size_t bytes, void *arg);
void *mt__redis_arena_block_hook_arg;

/* A block of `bytes` usable bytes, not yet linked. */
static struct mt__redis_arena_block *block_new(size_t bytes)
{
	struct mt__redis_arena_block *b;

	if (bytes > SIZE_MAX - sizeof *b)
		return NULL;
	b = malloc(sizeof *b + bytes);
	if (b && mt__redis_arena_block_hook)
		mt__redis_arena_block_hook(bytes,
					   mt__redis_arena_block_hook_arg);
	return b;
}

/* A large allocation: its own block, linked behind the bump block so
 * that the bump block stays first and keeps its free space. */
static void *alloc_own(struct mt__redis_arena *a, size_t size)
{
	struct mt__redis_arena_block *b = block_new(size);

	if (!b)
		return NULL;
	a->bytes += size;
	a->last = NULL;
	if (a->blocks) {
		b->next = a->blocks->next;
		a->blocks->next = b;
	} else {
		/* No bump block yet: this one is full (left stays 0). */
		b->next = NULL;
		a->blocks = b;
	}
	return b->data;
}

/* A new bump block, each twice the last up to MT__REDIS_ARENA_MAX. The
 * rest of the old one (under MT__REDIS_ARENA_OWN) is left unused. */
static int bump_block(struct mt__redis_arena *a)
{
	size_t bytes = a->next ? a->next : MT__REDIS_ARENA_FIRST;
	struct mt__redis_arena_block *b = block_new(bytes);

	if (!b)
		return -1;
	b->next = a->blocks;
	a->blocks = b;
	a->bytes += bytes;
	a->cur = b->data;
	a->left = bytes;
	a->next = bytes < MT__REDIS_ARENA_MAX ? 2 * bytes : bytes;
	return 0;
}

void *mt__redis_arena_alloc(struct mt__redis_arena *a, size_t size)
{
	if (size > MT__REDIS_ARENA_OWN)
		return alloc_own(a, size);
	/* At least ALIGN: even a 0-byte allocation needs a block (an empty
	 * arena's cur is NULL, the out-of-memory answer). */
	size = size ? (size + ALIGN - 1) & ~(size_t)(ALIGN - 1) : ALIGN;
	if (size > a->left && bump_block(a) != 0)
		return NULL;
	void *p = a->cur;
	a->cur += size;
	a->left -= size;
	a->last = p;
	return p;
}

int mt__redis_arena_undo(struct mt__redis_arena *a, const void *p)
{
	if (!p || p != a->last)
		return 0;
	/* Every allocation resets last, so nothing came after p: [p, cur)
	 * is p's alone. */
	a->left += (size_t)(a->cur - (char *)a->last);
	a->cur = a->last;
	a->last = NULL;
	return 1;
}

void mt__redis_arena_free(struct mt__redis_arena *a)
{
	while (a->blocks) {
		struct mt__redis_arena_block *b = a->blocks;
		a->blocks = b->next;
		free(b);
	}
	*a = (struct mt__redis_arena){0};
}

size_t mt__redis_arena_bytes(const struct mt__redis_arena *a)
{
	return a->bytes;
}

/* ------------------------------------------------------ reply objects */

/* A reply of `type` with `extra` bytes after the struct, hung on its
 * parent array as hiredis's own objects are. */
static redisReply *reply_new(const redisReadTask *t, int type, size_t extra)
{
	redisReply *r;

	if (extra > SIZE_MAX - sizeof *r)
		return NULL;
	r = mt__redis_arena_alloc(t->privdata, sizeof *r + extra);
	if (!r)
		return NULL;
	*r = (redisReply){.type = type};
	if (t->parent) {
		redisReply *parent = t->parent->obj;
		assert(parent->type == REDIS_REPLY_ARRAY);
		parent->element[t->idx] = r;
	}
	return r;
}

/* A string, status or error reply: its bytes right after the struct. */
static void *create_string(const redisReadTask *t, char *str, size_t len)
{
	redisReply *r = len < SIZE_MAX ? reply_new(t, t->type, len + 1) : NULL;

	if (!r)
		return NULL;
	r->str = (char *)(r + 1);
	memcpy(r->str, str, len);
	r->str[len] = '\0';
	r->len = len;
	return r;
}

/* An array: its element vector right after the struct, zeroed until
 * hiredis fills it element by element. */
static void *create_array(const redisReadTask *t, int elements)
{
	size_t n = elements > 0 ? (size_t)elements : 0;
	redisReply *r = n <= (SIZE_MAX - sizeof *r) / sizeof *r->element ?
				reply_new(t, REDIS_REPLY_ARRAY,
					  n * sizeof *r->element) :
				NULL;

	if (!r)
		return NULL;
	if (n) {
		r->element = (redisReply **)(r + 1);
		memset(r->element, 0, n * sizeof *r->element);
	}
	r->elements = n;
	return r;
}

static void *create_integer(const redisReadTask *t, long long value)
{
	redisReply *r = reply_new(t, REDIS_REPLY_INTEGER, 0);

	if (r)
		r->integer = value;
	return r;
}

static void *create_nil(const redisReadTask *t)
{
	return reply_new(t, REDIS_REPLY_NIL, 0);
}

/* Arena objects are freed with their arena: hiredis calls this for a
 * reply cut by a protocol error and for one left in the reader at
 * redisFree, and both must stay where they are. */
static void free_nothing(void *obj)
{
	(void)obj;
}

/* Not const: hiredis 0.14 declares redisReader.fn non-const. Never
 * written. */
static redisReplyObjectFunctions arena_functions = {
	create_string, create_array, create_integer, create_nil, free_nothing};

void mt__redis_arena_hook(struct mt__redis_arena *a, redisContext *c,
			  struct mt__redis_arena_saved *saved)
{
	redisReader *rd = c->reader;

	assert(rd->ridx < 0 && rd->reply == NULL);
	saved->fn = rd->fn;
	saved->privdata = rd->privdata;
	rd->fn = &arena_functions;
	rd->privdata = a;
}

void mt__redis_arena_unhook(redisContext *c,
			    const struct mt__redis_arena_saved *saved)
{
	if (!c)
		return;
	redisReader *rd = c->reader;
	/* Only after an error can the reader hold a reply (a partial one,
	 * or a stack of tasks in one): it is the arena's. Such a context is
	 * never reused (conn.h: c->err set, or not in step). */
	rd->reply = NULL;
	rd->fn = saved->fn;
	rd->privdata = saved->privdata;
}
