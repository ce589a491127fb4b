/*
 * tests/package/redis_consumer.c: the smallest program an installed
 * libmtpool-redis must build and run: it includes <mtpool/redis.h> from
 * the install prefix and links the installed library (through CMake's
 * mtpool::redis or pkg-config's mtpool-redis).
 *
 *   redis_consumer            opens lazily (no server) and closes
 *   redis_consumer URI        also sets and reads back a key on URI
 */
#include <mtpool/redis.h>

#include <stdio.h>
#include <string.h>

static int round_trip(mt_redis *r)
{
	mt_redis_bytes k = {"consumer", 8}, v = {"ok", 2};
	mt_redis_batch *b;
	if (mt_redis_set(r, &k, &v, 1, NULL, &b) != 0 || b->done != 1)
		return 1;
	mt_redis_batch_free(b);
	if (mt_redis_get(r, &k, 1, &b) != 0 || b->done != 1)
		return 1;
	const redisReply *got = b->results[0].reply;
	int ok = got->type == REDIS_REPLY_STRING && got->len == 2 &&
		 memcmp(got->str, "ok", 2) == 0;
	mt_redis_batch_free(b);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *uri = argc > 1 ? argv[1] : "redis://127.0.0.1:6379";
	mt_redis_options o = {.flags = argc > 1 ? 0 : MT_REDIS_LAZY};
	char why[MT_REDIS_ERRLEN];
	mt_redis *r;
	int rc = mt_redis_open(&r, uri, &o, why, sizeof why);
	if (rc != 0) {
		fprintf(stderr, "redis consumer: open: %s\n", why);
		return 1;
	}
	rc = argc > 1 ? round_trip(r) : 0;
	if (mt_redis_close(r) != 0)
		rc = 1;
	printf("mtpool-redis consumer: %s\n", rc ? "FAILED" : "ok");
	return rc;
}
