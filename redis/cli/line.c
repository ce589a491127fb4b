/*
 * redis/cli/line.c: parsing and writing the load/dump line format.
 * The format and its guarantees are in line.h.
 */
#include "line.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The one-letter escapes, and the bytes they stand for, in step. */
static const char named_letter[4] = {'\\', 't', 'n', 'r'};
static const char named_byte[4] = {'\\', '\t', '\n', '\r'};

/* Decodes the escape at s[*r] (a backslash) into *byte and advances *r
 * past it. Returns 0, or EINVAL when it is not one of line.h's escapes. */
static int unescape_one(const char *s, size_t len, size_t *r,
			unsigned char *byte)
{
	size_t i = *r + 1;
	if (i >= len)
		return EINVAL;
	const char *m = memchr(named_letter, s[i], sizeof named_letter);
	if (m != NULL) {
		*byte = (unsigned char)named_byte[m - named_letter];
		*r = i + 1;
		return 0;
	}
	int hi = s[i] == 'x' && i + 2 < len ? hexval((unsigned char)s[i + 1]) :
					      -1;
	int lo = hi >= 0 ? hexval((unsigned char)s[i + 2]) : -1;
	if (lo < 0)
		return EINVAL;
	*byte = (unsigned char)(hi << 4 | lo);
	*r = i + 3;
	return 0;
}

/* Decodes the field s[0..*len) in place, shrinking *len. On a bad escape
 * returns EINVAL with *bad the offset of its backslash. */
static int unescape_field(char *s, size_t *len, size_t *bad)
{
	char *bs = memchr(s, '\\', *len);
	if (bs == NULL)
		return 0;
	size_t r = (size_t)(bs - s), w = r;
	while (r < *len) {
		if (s[r] != '\\') {
			s[w++] = s[r++];
			continue;
		}
		unsigned char byte;
		if (unescape_one(s, *len, &r, &byte) != 0) {
			*bad = r;
			return EINVAL;
		}
		s[w++] = (char)byte;
	}
	*len = w;
	return 0;
}

/* Parses a decimal integer >= 1 that fits int64_t from s[0..len). */
static int parse_ms(const char *s, size_t len, int64_t *out)
{
	int64_t v = 0;
	if (len == 0 || len > 18)
		return EINVAL; /* 18 digits cannot overflow int64_t */
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1)
		return EINVAL;
	*out = v;
	return 0;
}

static int field_is(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);
	return len == n && memcmp(s, lit, n) == 0;
}

/* Applies one attribute field a[0..len) to rec; *seen tracks repeats
 * (bit 0: px, bit 1: type). Returns 0 or EINVAL. */
static int parse_attr(const char *a, size_t len, struct line_rec *rec,
		      unsigned *seen)
{
	if (len > 3 && memcmp(a, "px=", 3) == 0 && !(*seen & 1u)) {
		*seen |= 1u;
		return parse_ms(a + 3, len - 3, &rec->px);
	}
	if (len > 5 && memcmp(a, "type=", 5) == 0 && !(*seen & 2u)) {
		*seen |= 2u;
		if (field_is(a + 5, len - 5, "string"))
			rec->kind = LINE_STRING;
		else if (field_is(a + 5, len - 5, "dump"))
			rec->kind = LINE_DUMP;
		else
			return EINVAL;
		return 0;
	}
	return EINVAL;
}

/* Parses the attribute fields in s[0..len) (each introduced by a TAB,
 * s[0] being the first TAB). On error *bad is the offending field. */
static int parse_attrs(const char *s, size_t len, struct line_rec *rec,
		       size_t *bad)
{
	unsigned seen = 0;
	size_t at = 0;
	while (at < len) {
		const char *a = s + at + 1;
		const char *end = memchr(a, '\t', len - at - 1);
		size_t alen = end ? (size_t)(end - a) : len - at - 1;
		if (parse_attr(a, alen, rec, &seen) != 0) {
			*bad = at + 1;
			return EINVAL;
		}
		at += alen + 1;
	}
	return 0;
}

static int reject(char *why, size_t whylen, const char *what, size_t col)
{
	if (whylen > 0)
		snprintf(why, whylen, "%s at column %zu", what, col + 1);
	return EINVAL;
}

int line_parse(char *s, size_t len, struct line_rec *out, char *why,
	       size_t whylen)
{
	char *tab = memchr(s, '\t', len);
	if (tab == NULL)
		return reject(why, whylen, "no TAB after the key", len);
	size_t klen = (size_t)(tab - s), voff = klen + 1;
	char *vend = memchr(s + voff, '\t', len - voff);
	size_t vlen = (vend ? (size_t)(vend - s) : len) - voff;
	size_t bad = 0;
	*out = (struct line_rec){.key = s, .val = s + voff};
	if (vend != NULL &&
	    parse_attrs(vend, len - (size_t)(vend - s), out, &bad) != 0)
		return reject(why, whylen, "bad attribute",
			      (size_t)(vend - s) + bad);
	if (unescape_field(s, &klen, &bad) != 0)
		return reject(why, whylen, "bad escape in the key", bad);
	if (unescape_field(s + voff, &vlen, &bad) != 0)
		return reject(why, whylen, "bad escape in the value",
			      voff + bad);
	out->klen = klen;
	out->vlen = vlen;
	return 0;
}

size_t line_escape(char *dst, const void *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = src;
	char *w = dst;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			*w++ = (char)c;
			continue;
		}
		*w++ = '\\';
		const char *m = memchr(named_byte, c, sizeof named_byte);
		if (m != NULL) {
			*w++ = named_letter[m - named_byte];
			continue;
		}
		*w++ = 'x';
		*w++ = hex[c >> 4];
		*w++ = hex[c & 15];
	}
	return (size_t)(w - dst);
}

size_t line_format(char *dst, const void *key, size_t klen, const void *val,
		   size_t vlen, int64_t px, enum line_kind kind)
{
	char *w = dst;
	w += line_escape(w, key, klen);
	*w++ = '\t';
	w += line_escape(w, val, vlen);
	if (px > 0)
		w += sprintf(w, "\tpx=%lld", (long long)px);
	if (kind == LINE_DUMP) {
		memcpy(w, "\ttype=dump", 10);
		w += 10;
	}
	*w++ = '\n';
	return (size_t)(w - dst);
}
