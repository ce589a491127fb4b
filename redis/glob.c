/*
 * redis/glob.c: Redis's glob matching; the rules and where they come from
 * are in glob.h.
 *
 * The walk keeps (p, plen) and (s, slen) as the server does, so each rule
 * of glob.h maps to one place below. Where the server reads the byte
 * after the end of the pattern (its sds strings end in a NUL), we test the
 * length instead, which gives the same answer: that NUL is never '*',
 * '^', '\' or ']'.
 */
#include "glob.h"

#include <mtpool/redis.h>

/* One match in progress. `skip` is set once a star's rest failed at every
 * position of the rest of the string: no earlier star can do better. */
struct glob {
	int skip;
};

/* Matches the class whose '[' is p[0], against byte c. Returns 1 or 0
 * (after a '^') and sets *last to the offset of the class's last byte,
 * its ']' or, for a class the pattern ends inside, the pattern's last
 * byte: the caller steps past it as it steps past any pattern byte. */
static int match_class(const char *p, size_t plen, char c, size_t *last)
{
	size_t k = 1;
	int negate = k < plen && p[k] == '^';
	int match = 0;

	for (k += (size_t)negate;; k++) {
		if (k >= plen) {
			k = plen - 1;
			break;
		}
		if (p[k] == '\\' && plen - k >= 2) {
			match |= p[++k] == c;
		} else if (p[k] == ']') {
			break;
		} else if (plen - k >= 3 && p[k + 1] == '-') {
			/* Compared as signed char: see glob.h. */
			signed char lo = (signed char)p[k];
			signed char hi = (signed char)p[k + 2];
			signed char x = (signed char)c;
			match |= lo <= hi ? (x >= lo && x <= hi) :
					    (x >= hi && x <= lo);
			k += 2;
		} else {
			match |= p[k] == c;
		}
	}
	*last = k;
	return negate ? !match : match;
}

static int match_at(struct glob *g, const char *p, size_t plen, const char *s,
		    size_t slen, int nesting);

/* p[0] is a '*' and the string is not empty. Tries the rest of the
 * pattern at every position of the string, shortest run first. */
static int match_star(struct glob *g, const char *p, size_t plen, const char *s,
		      size_t slen, int nesting)
{
	while (plen >= 2 && p[1] == '*') {
		p++;
		plen--;
	}
	if (plen == 1)
		return 1;
	for (; slen > 0; s++, slen--) {
		if (match_at(g, p + 1, plen - 1, s, slen, nesting + 1))
			return 1;
		if (g->skip)
			return 0;
	}
	g->skip = 1;
	return 0;
}

/* Matches one pattern element against s[0]; returns 0 on a mismatch, else
 * the number of pattern bytes the element used. Not for '*'. */
static size_t match_one(const char *p, size_t plen, char c)
{
	size_t last;

	switch (p[0]) {
	case '?':
		return 1;
	case '[':
		return match_class(p, plen, c, &last) ? last + 1 : 0;
	case '\\':
		/* A '\' at the very end is a literal '\'. */
		if (plen >= 2)
			return p[1] == c ? 2 : 0;
		return c == '\\';
	default:
		return p[0] == c;
	}
}

static int match_at(struct glob *g, const char *p, size_t plen, const char *s,
		    size_t slen, int nesting)
{
	const int consumed = slen > 0;

	if (nesting > MT_REDIS_GLOB_MAX_NESTING)
		return 0;
	while (plen > 0 && slen > 0) {
		size_t used;
		if (p[0] == '*')
			return match_star(g, p, plen, s, slen, nesting);
		used = match_one(p, plen, s[0]);
		if (used == 0)
			return 0;
		p += used;
		plen -= used;
		s++;
		slen--;
	}
	/* The string was used up here: only stars may remain. The server
	 * skips them only after it consumed a byte, so "*" does not match an
	 * empty string. */
	while (consumed && slen == 0 && plen > 0 && p[0] == '*') {
		p++;
		plen--;
	}
	return plen == 0 && slen == 0;
}

int mt__redis_stringmatch(const void *pattern, size_t plen, const void *string,
			  size_t slen)
{
	struct glob g = {0};

	if ((!pattern && plen > 0) || (!string && slen > 0))
		return 0;
	return match_at(&g, pattern, plen, string, slen, 0);
}

int mt__redis_glob_literal(const void *pattern, size_t plen, void *out,
			   size_t *outlen)
{
	const char *p = pattern;
	char *o = out;
	size_t n = 0;

	for (size_t i = 0; i < plen; i++)
		if (p[i] == '*' || p[i] == '?' || p[i] == '[')
			return 0;
		else if (p[i] == '\\')
			i++; /* the escaped byte, if any, is literal */
	for (size_t i = 0; i < plen; i++) {
		if (p[i] == '\\' && i + 1 < plen)
			i++;
		o[n++] = p[i];
	}
	*outlen = n;
	return 1;
}

MT_API int mt_redis_glob_match(mt_redis_bytes pattern, mt_redis_bytes string)
{
	/* SCAN and KEYS take "*" alone for every key without matching it,
	 * so it also returns "", which stringmatchlen("*", "") does not. */
	if (pattern.len == 1 && pattern.data &&
	    ((const char *)pattern.data)[0] == '*')
		return 1;
	return mt__redis_stringmatch(pattern.data, pattern.len, string.data,
				     string.len);
}
