/*
 * tests/common/redis_util.c: see redis_util.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "redis_util.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mt_redis *mt_test_client(const char *uri, const mt_redis_options *opts)
{
	mt_redis *r = NULL;
	char why[MT_REDIS_ERRLEN];
	int rc = mt_redis_open(&r, uri, opts, why, sizeof why);
	cr_assert_eq(rc, 0, "mt_redis_open(%s): %d %s", uri, rc, why);
	cr_assert_not_null(r);
	return r;
}

unsigned char mt_test_value_byte(size_t i, size_t k)
{
	return (unsigned char)(i * 131u + k * 7u + (k >> 3));
}

void mt_test_kv_make(struct mt_test_kv *kv, const char *prefix, size_t n,
		     size_t vlen)
{
	size_t plen = strlen(prefix), klen_max = plen + 5 + 21;
	kv->n = n;
	kv->keys = calloc(n ? n : 1, sizeof *kv->keys);
	kv->values = calloc(n ? n : 1, sizeof *kv->values);
	kv->mem = malloc(n * (klen_max + vlen) + 1);
	cr_assert(kv->keys && kv->values && kv->mem);
	char *p = kv->mem;
	for (size_t i = 0; i < n; i++) {
		char *k = p;
		memcpy(p, prefix, plen);
		memcpy(p + plen, "\0\r\n\xff:", 5);
		p += plen + 5;
		p += sprintf(p, "%zu", i);
		kv->keys[i] = (mt_redis_bytes){k, (size_t)(p - k)};
		for (size_t b = 0; b < vlen; b++)
			p[b] = (char)mt_test_value_byte(i, b);
		kv->values[i] = (mt_redis_bytes){p, vlen};
		p += vlen;
	}
}

void mt_test_kv_free(struct mt_test_kv *kv)
{
	free(kv->keys);
	free(kv->values);
	free(kv->mem);
	memset(kv, 0, sizeof *kv);
}

void mt_test_assert_bytes(const redisReply *reply, mt_redis_bytes want,
			  size_t i)
{
	cr_assert_not_null(reply, "item %zu: no reply", i);
	cr_assert_eq(reply->type, REDIS_REPLY_STRING, "item %zu: reply type %d",
		     i, reply->type);
	cr_assert_eq(reply->len, want.len, "item %zu: %zu bytes, want %zu", i,
		     (size_t)reply->len, want.len);
	cr_assert_eq(memcmp(reply->str, want.data, want.len), 0,
		     "item %zu: wrong bytes", i);
}

mt_redis_bytes mt_test_str(const char *s)
{
	return (mt_redis_bytes){s, strlen(s)};
}

mt_redis_stats mt_test_client_stats(mt_redis *r)
{
	mt_redis_stats s;
	cr_assert_eq(mt_redis_stats_get(r, &s), 0);
	return s;
}

void mt_test_assert_counts_all_done(const mt_redis_batch *b, size_t n)
{
	cr_assert_not_null(b);
	cr_assert_eq(b->n, n);
	cr_assert_eq(b->done, n, "done %zu failed %zu unknown %zu of %zu: %s",
		     b->done, b->failed, b->unknown, n,
		     n && b->results[0].error ? b->results[0].error : "");
	cr_assert_eq(b->failed + b->unknown, 0);
}

void mt_test_assert_string_reply(redisReply *r, const char *want)
{
	cr_assert_eq(r->type, REDIS_REPLY_STRING, "type %d: %s", r->type,
		     r->type == REDIS_REPLY_ERROR ? r->str : "");
	cr_assert_str_eq(r->str, want);
	freeReplyObject(r);
}
