/*
 * tests/fuzz/fuzz_uri.c: libFuzzer target for the URI parser (redis/uri.h).
 *
 * Each input is parsed three ways: as it is; with a canary password
 * spliced in at a place the input's first byte picks; and behind
 * "redis://:<canary>@" (where a password normally sits). Every parse must
 * return 0, EINVAL or ENOMEM without a crash, a leak or undefined
 * behaviour (ASan, LeakSanitizer, UBSan), leave `why` terminated, and
 * never put four consecutive bytes of the canary into `why`. A parse that
 * succeeds must hold what the header promises (ports in range, the path
 * of a socket, a user only with a password, ...), and its parts, encoded
 * back into a URI, must parse again to the very same parts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uri.h"

#define CANARY "Kq8wZt3vJx"
#define WHYLEN 256

/* Aborts with a message: libFuzzer saves the input as a crash. */
#define CHECK(cond)                                                     \
	do {                                                            \
		if (!(cond)) {                                          \
			fprintf(stderr, "fuzz_uri: check failed: %s\n", \
				#cond);                                 \
			abort();                                        \
		}                                                       \
	} while (0)

static void check_no_canary(const char *why)
{
	static const char canary[] = CANARY;
	char piece[5];
	for (size_t i = 0; i + 4 <= sizeof canary - 1; i++) {
		memcpy(piece, &canary[i], 4);
		piece[4] = '\0';
		CHECK(strstr(why, piece) == NULL);
	}
}

static int unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/* Appends s percent-encoded; '/' kept when keep_slash (a socket path). */
static size_t put_encoded(char *out, size_t at, const char *s, int keep_slash)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (unreserved(c) || (keep_slash && c == '/'))
			out[at++] = (char)c;
		else
			at += (size_t)sprintf(out + at, "%%%02X", c);
	}
	return at;
}

static size_t put_addr(char *out, size_t at, const struct mt_redis_addr *a)
{
	if (strchr(a->host, ':'))
		return at +
		       (size_t)sprintf(out + at, "[%s]:%d", a->host, a->port);
	return at + (size_t)sprintf(out + at, "%s:%d", a->host, a->port);
}

/* The parts of u written back as a URI, every byte that could be special
 * percent-encoded. The caller frees the result. */
static char *encode(const struct mt_redis_uri *u)
{
	size_t cap = 64 + 3 * (u->user ? strlen(u->user) : 0) +
		     3 * (u->password ? strlen(u->password) : 0);
	for (size_t i = 0; i < u->naddrs; i++)
		cap += 3 * strlen(u->addrs[i].path ? u->addrs[i].path :
						     u->addrs[i].host) +
		       16;
	char *out = malloc(cap);
	CHECK(out != NULL);
	static const char *const scheme[] = {"redis://", "unix://",
					     "redis-cluster://"};
	size_t at = (size_t)sprintf(out, "%s", scheme[u->kind]);
	if (u->password) {
		if (u->user)
			at = put_encoded(out, at, u->user, 0);
		out[at++] = ':';
		at = put_encoded(out, at, u->password, 0);
		out[at++] = '@';
	}
	for (size_t i = 0; i < u->naddrs; i++) {
		if (i > 0)
			out[at++] = ',';
		if (u->kind == MT_REDIS_URI_UNIX)
			at = put_encoded(out, at, u->addrs[i].path, 1);
		else
			at = put_addr(out, at, &u->addrs[i]);
	}
	if (u->kind == MT_REDIS_URI_TCP)
		at += (size_t)sprintf(out + at, "/%d", u->db);
	else if (u->kind == MT_REDIS_URI_UNIX)
		at += (size_t)sprintf(out + at, "?db=%d", u->db);
	out[at] = '\0';
	CHECK(at < cap);
	return out;
}

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_same(const struct mt_redis_uri *a,
		       const struct mt_redis_uri *b)
{
	CHECK(a->kind == b->kind && a->naddrs == b->naddrs && a->db == b->db);
	CHECK(same_str(a->user, b->user) && same_str(a->password, b->password));
	for (size_t i = 0; i < a->naddrs; i++) {
		CHECK(same_str(a->addrs[i].host, b->addrs[i].host));
		CHECK(same_str(a->addrs[i].path, b->addrs[i].path));
		CHECK(a->addrs[i].port == b->addrs[i].port);
	}
}

/* What the header promises about a parse that succeeded. */
static void check_parts(const struct mt_redis_uri *u)
{
	CHECK(u->kind <= MT_REDIS_URI_CLUSTER);
	CHECK(u->naddrs >= 1 && u->addrs != NULL);
	CHECK(u->naddrs == 1 || u->kind == MT_REDIS_URI_CLUSTER);
	CHECK(u->db >= 0 && (u->db == 0 || u->kind != MT_REDIS_URI_CLUSTER));
	CHECK(!u->user || u->password);
	CHECK(!u->password || u->password[0] != '\0');
	CHECK(!u->user || u->user[0] != '\0');
	for (size_t i = 0; i < u->naddrs; i++) {
		const struct mt_redis_addr *a = &u->addrs[i];
		char buf[64];
		mt__redis_addr_format(a, buf, sizeof buf);
		CHECK(strlen(buf) < sizeof buf);
		if (u->kind == MT_REDIS_URI_UNIX) {
			CHECK(!a->host && a->port == 0 && a->path);
			CHECK(a->path[0] == '/' && strlen(a->path) <= 107);
		} else {
			CHECK(!a->path && a->host && a->host[0] != '\0');
			CHECK(a->port >= 1 && a->port <= 65535);
		}
	}
}

/* The parts must survive a trip through a URI of their own. */
static void check_round_trip(const struct mt_redis_uri *u)
{
	struct mt_redis_uri again;
	char why[WHYLEN];
	char *text = encode(u);
	int rc = mt__redis_uri_parse(text, &again, why, sizeof why);
	if (rc == ENOMEM) {
		free(text);
		return;
	}
	if (rc != 0)
		fprintf(stderr,
			"fuzz_uri: re-parse of its own parts failed: "
			"%s\n",
			why);
	CHECK(rc == 0);
	check_same(u, &again);
	mt__redis_uri_free(&again);
	free(text);
}

static void parse_one(const char *text, int canary_inside)
{
	struct mt_redis_uri u;
	char why[WHYLEN];
	memset(why, 'x', sizeof why);
	int rc = mt__redis_uri_parse(text, &u, why, sizeof why);
	CHECK(rc == 0 || rc == EINVAL || rc == ENOMEM);
	CHECK(memchr(why, '\0', sizeof why) != NULL);
	if (canary_inside)
		check_no_canary(why);
	if (rc != 0) {
		CHECK(u.addrs == NULL && u.password == NULL && u.user == NULL);
		CHECK(why[0] != '\0');
		return;
	}
	CHECK(why[0] == '\0');
	check_parts(&u);
	check_round_trip(&u);
	mt__redis_uri_free(&u);
	CHECK(u.addrs == NULL && u.naddrs == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char prefix[] = "redis://:" CANARY "@";
	size_t clen = sizeof CANARY - 1, plen = sizeof prefix - 1;
	size_t cut = size > 0 ? data[0] % (size + 1) : 0;
	char *text = malloc(size + clen + plen + 1);

	CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	parse_one(text, 0);

	memcpy(text, data, cut);
	memcpy(text + cut, CANARY, clen);
	memcpy(text + cut + clen, data + cut, size - cut);
	text[size + clen] = '\0';
	parse_one(text, 1);

	memcpy(text, prefix, plen);
	memcpy(text + plen, data, size);
	text[plen + size] = '\0';
	parse_one(text, 1);
	free(text);
	return 0;
}
