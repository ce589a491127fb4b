/*
 * redis/batch.c: result storage and mt_redis_batch_free. See batch.h.
 */
#include "batch.h"

#include <errno.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Arena chunks of 64 KiB: a share of a large call stores at most a few
 * texts and multi-command reply arrays per window, so a chunk lasts many
 * windows; a larger request gets a chunk of its own. */
#define CHUNK_BYTES (64u * 1024u)

struct mt__redis_arena_chunk {
	struct mt__redis_arena_chunk *next;
	alignas(max_align_t) char data[];
};

static const char oom_text[] = "out of memory in the client";

int mt__redis_batch_new(size_t n, size_t ninner, struct mt__redis_batch **out)
{
	*out = NULL;
	struct mt__redis_batch *b = calloc(1, sizeof *b);
	if (!b)
		return ENOMEM;
	b->pub.impl = b;
	b->pub.n = n;
	b->pub.results = calloc(n ? n : 1, sizeof *b->pub.results);
	b->ninner = ninner;
	if (ninner)
		b->inner = calloc(ninner, sizeof *b->inner);
	if (!b->pub.results || (ninner && !b->inner)) {
		mt__redis_batch_destroy(b);
		return ENOMEM;
	}
	*out = b;
	return 0;
}

int mt__redis_batch_stores(struct mt__redis_batch *b, size_t nstores)
{
	size_t n = b->nstores + nstores;
	struct mt__redis_store *st;

	if (n < nstores || n > SIZE_MAX / sizeof *st)
		return ENOMEM;
	st = realloc(b->stores, (n ? n : 1) * sizeof *st);
	if (!st)
		return ENOMEM;
	memset(st + b->nstores, 0, nstores * sizeof *st);
	b->stores = st;
	b->nstores = n;
	return 0;
}

void mt__redis_batch_count(struct mt__redis_batch *b)
{
	size_t c[3] = {0, 0, 0};
	for (size_t i = 0; i < b->pub.n; i++)
		c[b->pub.results[i].status]++;
	b->pub.done = c[MT_REDIS_DONE];
	b->pub.failed = c[MT_REDIS_FAILED];
	b->pub.unknown = c[MT_REDIS_UNKNOWN];
}

void mt__redis_batch_destroy(struct mt__redis_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->nstores; i++)
		mt__redis_store_release(&b->stores[i]);
	free(b->stores);
	free(b->inner);
	free(b->pub.results);
	free(b);
}

void mt_redis_batch_free(mt_redis_batch *b)
{
	if (b)
		mt__redis_batch_destroy(b->impl);
}

int mt__redis_store_keep(struct mt__redis_store *s, redisReply *r)
{
	struct mt__redis_keep_block *k = s->keep;
	if (!k || k->n == MT__REDIS_KEEP_BLOCK) {
		k = malloc(sizeof *k);
		if (!k)
			return ENOMEM;
		k->n = 0;
		k->next = s->keep;
		s->keep = k;
	}
	k->r[k->n++] = r;
	return 0;
}

void *mt__redis_store_alloc(struct mt__redis_store *s, size_t size)
{
	size = (size + alignof(max_align_t) - 1) &
	       ~(size_t)(alignof(max_align_t) - 1);
	if (size > s->left) {
		size_t cap = size > CHUNK_BYTES ? size : CHUNK_BYTES;
		struct mt__redis_arena_chunk *c = malloc(sizeof *c + cap);
		if (!c)
			return NULL;
		c->next = s->chunks;
		s->chunks = c;
		s->cur = c->data;
		s->left = cap;
	}
	void *p = s->cur;
	s->cur += size;
	s->left -= size;
	return p;
}

const char *mt__redis_store_text(struct mt__redis_store *s, const char *fmt,
				 ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *t = n < 0 ? NULL : mt__redis_store_alloc(s, (size_t)n + 1);
	if (!t)
		return oom_text;
	va_start(ap, fmt);
	vsnprintf(t, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return t;
}

void mt__redis_store_release(struct mt__redis_store *s)
{
	while (s->keep) {
		struct mt__redis_keep_block *k = s->keep;
		s->keep = k->next;
		for (size_t i = 0; i < k->n; i++)
			freeReplyObject(k->r[i]);
		free(k);
	}
	while (s->chunks) {
		struct mt__redis_arena_chunk *c = s->chunks;
		s->chunks = c->next;
		free(c);
	}
	s->cur = NULL;
	s->left = 0;
}
