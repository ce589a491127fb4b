/*
 * tests/common/redis_util.h: helpers the redis tests share on top of the
 * server harness (redis_server.h): opening a client that must open, and
 * deterministic binary keys and values.
 *
 * Keys and values hold every kind of awkward byte: each key is
 * "<prefix>\0\r\n\xff:<i>" and each value is a deterministic mix of all
 * 256 byte values (NUL, CR, LF and high bytes included) derived from i,
 * so a value written to the wrong key, cut at a NUL, or reordered is
 * seen. Like the harness, every helper asserts, so call them on the
 * test's own thread.
 */
#ifndef MTPOOL_TESTS_COMMON_REDIS_UTIL_H
#define MTPOOL_TESTS_COMMON_REDIS_UTIL_H

#include <mtpool/redis.h>

#include <stddef.h>

/* The one Criterion .timeout (seconds) of every redis test. Criterion
 * 2.4.1's runner leaks a timeout-queue entry (reported by LeakSanitizer
 * in the runner, failing the ASan run) when tests with different
 * timeouts overlap, e.g. 120 s then 60 s; one value avoids it. Generous:
 * a test that hangs is a bug, and this only bounds it. */
#define MT_TEST_REDIS_TIMEOUT 120

/* Opens a client on uri with `opts` (may be NULL), asserting success. */
mt_redis *mt_test_client(const char *uri, const mt_redis_options *opts);

/* n keys and values; the bytes live in `mem`. */
struct mt_test_kv {
	size_t n;
	mt_redis_bytes *keys, *values;
	char *mem;
};

/* Makes n binary keys "<prefix>\0\r\n\xff:<i>" and values of vlen bytes. */
void mt_test_kv_make(struct mt_test_kv *kv, const char *prefix, size_t n,
		     size_t vlen);
void mt_test_kv_free(struct mt_test_kv *kv);

/* Byte k of value i (what mt_test_kv_make wrote). */
unsigned char mt_test_value_byte(size_t i, size_t k);

/* Asserts that reply is a string equal to the bytes of want. */
void mt_test_assert_bytes(const redisReply *reply, mt_redis_bytes want,
			  size_t i);

/* A byte string from a C string (no NUL counted). */
mt_redis_bytes mt_test_str(const char *s);

/* Asserts that r is a string reply equal to want, then frees r. */
void mt_test_assert_string_reply(redisReply *r, const char *want);

/* The client's counters (mt_redis_stats_get), asserting success. */
mt_redis_stats mt_test_client_stats(mt_redis *r);

/* Asserts that the batch has n items and that its counts say every one is
 * done (the counts, not the statuses: redis_cluster_keys.h's
 * mt_test_assert_all_done checks each item's status). */
void mt_test_assert_counts_all_done(const mt_redis_batch *b, size_t n);

#endif /* MTPOOL_TESTS_COMMON_REDIS_UTIL_H */
