/*
 * redis/batch.c: result storage and mt_redis_batch_free. See batch.h.
 */
#include "batch.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void *mt__redis_store_alloc(struct mt__redis_store *s, size_t size)
{
	return mt__redis_arena_alloc(&s->arena, size);
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
	mt__redis_arena_free(&s->arena);
}
