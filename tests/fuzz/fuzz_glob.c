/*
 * tests/fuzz/fuzz_glob.c: libFuzzer target for Redis glob matching
 * (redis/glob.h), against a reference matcher written for this test only.
 *
 * Input: two bytes choosing the pattern's length, the pattern, then the
 * string. The matcher must not crash (ASan, UBSan) and must finish within
 * libFuzzer's -timeout on any input; for inputs of at most REF_MAX bytes
 * each it must give the reference's answer.
 *
 * The reference shares no code and no structure with glob.c: it first
 * compiles the pattern into tokens (a byte, any byte, a star, a 256-bit
 * class), then decides the match by dynamic programming over (token,
 * position), the textbook way. The server's rules it must reproduce are
 * stated once, in glob.h: class syntax (open classes, "[a-]", signed-char
 * ranges, escapes), and that an empty string matches only the empty
 * pattern. It has no "skip longer matches" shortcut and no nesting limit
 * (patterns of REF_MAX bytes cannot nest 1000 stars), so agreement also
 * shows that the server's shortcut never changes an answer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mtpool/redis.h>

#include "glob.h"

#define REF_MAX 512

enum kind {
	T_BYTE,
	T_ANY,
	T_STAR,
	T_CLASS
};

struct tok {
	enum kind kind;
	unsigned char byte;
	unsigned char set[32]; /* T_CLASS: bit c set = byte c matches */
};

static void set_add(struct tok *t, unsigned char c)
{
	t->set[c >> 3] |= (unsigned char)(1u << (c & 7));
}

static int set_has(const struct tok *t, unsigned char c)
{
	return (t->set[c >> 3] >> (c & 7)) & 1;
}

/* Every byte between a and b, either order, compared as signed char. */
static void set_range(struct tok *t, unsigned char a, unsigned char b)
{
	int lo = (signed char)a, hi = (signed char)b;
	if (lo > hi) {
		int x = lo;
		lo = hi;
		hi = x;
	}
	for (int c = 0; c < 256; c++)
		if ((signed char)c >= lo && (signed char)c <= hi)
			set_add(t, (unsigned char)c);
}

/* The class whose '[' is p[i]; returns the index after it. */
static size_t compile_class(const unsigned char *p, size_t n, size_t i,
			    struct tok *t)
{
	int negate;

	t->kind = T_CLASS;
	i++;
	negate = i < n && p[i] == '^';
	i += (size_t)negate;
	while (i < n) {
		if (p[i] == '\\' && n - i >= 2) {
			set_add(t, p[i + 1]);
			i += 2;
		} else if (p[i] == ']') {
			i++;
			break;
		} else if (n - i >= 3 && p[i + 1] == '-') {
			set_range(t, p[i], p[i + 2]);
			i += 3;
		} else {
			set_add(t, p[i++]);
		}
	}
	for (size_t k = 0; negate && k < sizeof t->set; k++)
		t->set[k] = (unsigned char)~t->set[k];
	return i;
}

static size_t compile(const unsigned char *p, size_t n, struct tok *t)
{
	size_t nt = 0;
	for (size_t i = 0; i < n; nt++) {
		memset(&t[nt], 0, sizeof t[nt]);
		if (p[i] == '*') {
			t[nt].kind = T_STAR;
			i++;
		} else if (p[i] == '?') {
			t[nt].kind = T_ANY;
			i++;
		} else if (p[i] == '[') {
			i = compile_class(p, n, i, &t[nt]);
		} else if (p[i] == '\\' && n - i >= 2) {
			t[nt].byte = p[i + 1];
			i += 2;
		} else {
			t[nt].byte = p[i++];
		}
	}
	return nt;
}

static int tok_match(const struct tok *t, unsigned char c)
{
	switch (t->kind) {
	case T_ANY:
		return 1;
	case T_CLASS:
		return set_has(t, c);
	default:
		return t->byte == c;
	}
}

/* m[i][j]: tokens i.. match string j.., filled from the end. */
static int reference(const unsigned char *p, size_t plen,
		     const unsigned char *s, size_t slen)
{
	static struct tok t[REF_MAX];
	static unsigned char m[REF_MAX + 1][REF_MAX + 1];
	size_t nt;

	if (slen == 0)
		return plen == 0;
	nt = compile(p, plen, t);
	for (size_t j = 0; j <= slen; j++)
		m[nt][j] = j == slen;
	for (size_t i = nt; i-- > 0;) {
		for (size_t j = slen + 1; j-- > 0;) {
			if (t[i].kind == T_STAR)
				m[i][j] = m[i + 1][j] ||
					  (j < slen && m[i][j + 1]);
			else
				m[i][j] = j < slen && tok_match(&t[i], s[j]) &&
					  m[i + 1][j + 1];
		}
	}
	return m[0][0];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t plen, slen;
	const unsigned char *p, *s;
	int ours, ref;

	if (size < 2)
		return 0;
	plen = ((size_t)data[0] << 8 | data[1]) % (size - 1);
	p = data + 2;
	s = p + plen;
	slen = size - 2 - plen;
	ours = mt__redis_stringmatch(p, plen, s, slen);
	if (ours != 0 && ours != 1)
		abort();
	if (plen > REF_MAX || slen > REF_MAX)
		return 0;
	ref = reference(p, plen, s, slen);
	if (ours != ref) {
		fprintf(stderr, "fuzz_glob: ours %d, reference %d\n", ours,
			ref);
		abort();
	}
	/* A literal pattern matches its unescaped form and nothing else. */
	static unsigned char lit[REF_MAX];
	size_t litlen;
	if (mt__redis_glob_literal(p, plen, lit, &litlen) &&
	    ours != (slen == litlen && memcmp(s, lit, slen) == 0))
		abort();
	/* The public call differs only for the pattern "*" alone. */
	mt_redis_bytes pb = {p, plen}, sb = {s, slen};
	if (mt_redis_glob_match(pb, sb) !=
	    (plen == 1 && p[0] == '*' ? 1 : ours))
		abort();
	return 0;
}
