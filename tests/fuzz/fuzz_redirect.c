/*
 * tests/fuzz/fuzz_redirect.c: libFuzzer target for the cluster error
 * parser (redis/redirect.h).
 *
 * The input is one error text (without the leading '-'), not
 * NUL-terminated: it is copied into a buffer of exactly its size so ASan
 * sees any read past the end. Every parse must return 0 or EINVAL; EINVAL
 * only for a text that starts with the word MOVED or ASK, leaving *out
 * zeroed; a MOVED or ASK that parses must hold a slot below 16384, a port
 * 1..65535 and a printable host without spaces or brackets, and written
 * back as Redis writes it ("MOVED <slot> <host>:<port>") it must parse to
 * the very same fields.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redirect.h"

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_redirect: check failed: %s\n", \
				#cond);                                      \
			abort();                                             \
		}                                                            \
	} while (0)

static int starts_with_word(const char *p, size_t len, const char *w)
{
	size_t n = strlen(w);
	return len >= n && memcmp(p, w, n) == 0 && (len == n || p[n] == ' ');
}

static void check_target(const struct mt_redis_redirect *rd)
{
	size_t hostlen = strnlen(rd->host, sizeof rd->host);

	CHECK(hostlen < sizeof rd->host);
	CHECK(rd->slot < 16384);
	CHECK(rd->port >= 1 && rd->port <= 65535);
	for (size_t i = 0; i < hostlen; i++)
		CHECK(rd->host[i] > ' ' && rd->host[i] <= '~' &&
		      rd->host[i] != '[' && rd->host[i] != ']');
}

/* Written back the way redis-server writes it, the text parses to the
 * same fields. */
static void check_round_trip(const struct mt_redis_redirect *rd)
{
	char text[MT_REDIS_HOST_MAX + 32];
	struct mt_redis_redirect again;
	const char *word = rd->kind == MT_REDIS_REDIRECT_ASK ? "ASK" : "MOVED";
	int n = snprintf(text, sizeof text, "%s %u %s:%d", word, rd->slot,
			 rd->host, rd->port);

	CHECK(n > 0 && (size_t)n < sizeof text);
	CHECK(mt__redis_redirect_parse(text, (size_t)n, &again) == 0);
	CHECK(again.kind == rd->kind && again.slot == rd->slot &&
	      again.port == rd->port && strcmp(again.host, rd->host) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size ? size : 1);
	struct mt_redis_redirect rd;

	if (!text)
		return 0;
	memcpy(text, data, size);
	int rc = mt__redis_redirect_parse(text, size, &rd);
	int redirect = starts_with_word(text, size, "MOVED") ||
		       starts_with_word(text, size, "ASK");
	CHECK(rc == 0 || (rc == EINVAL && redirect));
	if (rc == EINVAL)
		CHECK(rd.kind == MT_REDIS_REDIRECT_NONE && rd.port == 0 &&
		      rd.slot == 0 && rd.host[0] == '\0');
	if (rc == 0 && redirect) {
		CHECK(rd.kind == MT_REDIS_REDIRECT_MOVED ||
		      rd.kind == MT_REDIS_REDIRECT_ASK);
		check_target(&rd);
		check_round_trip(&rd);
	}
	if (rc == 0 && !redirect)
		CHECK(rd.port == 0 && rd.host[0] == '\0');
	free(text);
	return 0;
}
