/*
 * redis/redirect.c: parsing MOVED / ASK / TRYAGAIN / CLUSTERDOWN /
 * CROSSSLOT error texts (see redirect.h).
 */
#include "redirect.h"

#include <errno.h>
#include <string.h>

#include "slot.h"

/* 1 if text starts with the word w, followed by the end or a space. */
static int word_is(const char *text, size_t len, const char *w)
{
	size_t n = strlen(w);

	return len >= n && memcmp(text, w, n) == 0 &&
	       (len == n || text[n] == ' ');
}

/* A decimal number of 1..5 digits, no sign, no spaces, at most max. */
static int parse_number(const char *p, size_t len, unsigned long max,
			unsigned long *out)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return EINVAL;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	if (v > max)
		return EINVAL;
	*out = v;
	return 0;
}

/* IPv6 brackets are removed before this check. */
int mt__redis_host_ok(const char *p, size_t len)
{
	if (len >= MT_REDIS_HOST_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (p[i] <= ' ' || p[i] > '~' || p[i] == '[' || p[i] == ']')
			return 0;
	return 1;
}

/* "<host>:<port>", the port after the last colon (IPv6 hosts have more). */
static int parse_endpoint(const char *p, size_t len,
			  struct mt_redis_redirect *out)
{
	size_t colon = len;
	unsigned long port;

	while (colon > 0 && p[colon - 1] != ':')
		colon--;
	if (colon == 0)
		return EINVAL;
	if (parse_number(p + colon, len - colon, 65535, &port) != 0 ||
	    port == 0)
		return EINVAL;
	size_t hostlen = colon - 1;
	if (hostlen >= 2 && p[0] == '[' && p[hostlen - 1] == ']') {
		p++;
		hostlen -= 2;
	}
	if (!mt__redis_host_ok(p, hostlen))
		return EINVAL;
	memcpy(out->host, p, hostlen);
	out->host[hostlen] = '\0';
	out->port = (int)port;
	return 0;
}

/* "<slot> <endpoint>", the part after "MOVED " or "ASK ". */
static int parse_target(const char *p, size_t len,
			struct mt_redis_redirect *out)
{
	const char *space = memchr(p, ' ', len);
	unsigned long slot;

	if (!space ||
	    parse_number(p, (size_t)(space - p), MT_REDIS_SLOTS - 1, &slot))
		return EINVAL;
	out->slot = (unsigned)slot;
	size_t used = (size_t)(space - p) + 1;
	return parse_endpoint(space + 1, len - used, out);
}

static int parse_redirect(const char *text, size_t len, size_t skip,
			  enum mt_redis_redirect_kind kind,
			  struct mt_redis_redirect *out)
{
	/* word_is() accepted the bare word too: "MOVED" alone is malformed. */
	int rc = len > skip ? parse_target(text + skip, len - skip, out) :
			      EINVAL;

	if (rc != 0) {
		memset(out, 0, sizeof *out);
		return rc;
	}
	out->kind = kind;
	return 0;
}

int mt__redis_redirect_parse(const char *text, size_t len,
			     struct mt_redis_redirect *out)
{
	memset(out, 0, sizeof *out);
	if (word_is(text, len, "MOVED"))
		return parse_redirect(text, len, 6, MT_REDIS_REDIRECT_MOVED,
				      out);
	if (word_is(text, len, "ASK"))
		return parse_redirect(text, len, 4, MT_REDIS_REDIRECT_ASK, out);
	if (word_is(text, len, "TRYAGAIN"))
		out->kind = MT_REDIS_REDIRECT_TRYAGAIN;
	else if (word_is(text, len, "CLUSTERDOWN"))
		out->kind = MT_REDIS_REDIRECT_CLUSTERDOWN;
	else if (word_is(text, len, "CROSSSLOT"))
		out->kind = MT_REDIS_REDIRECT_CROSSSLOT;
	return 0;
}
