/*
 * redis/glob.h: Redis's glob matching, as the server applies it in SCAN
 * MATCH and KEYS, on the client.
 *
 * Overview
 * ========
 * mt__redis_stringmatch() answers exactly what the server's
 * stringmatchlen(pattern, string, nocase = 0) answers (Redis 7.0.15 as
 * Debian 12 ships it), byte for byte, for any pattern and any key:
 *   *       any run of bytes (but see "" below);
 *   ?       any one byte;
 *   [abc]   one byte of the set; [^abc] one byte not in it;
 *   [a-z]   a range, bounds in either order ([z-a] is [a-z]);
 *   \x      the byte x itself, outside and inside [...];
 *   other   the byte itself (binary-safe: NUL and high bytes are bytes).
 * mt_redis_glob_match() (public, <mtpool/redis.h>) is the answer to "does
 * SCAN MATCH pattern return this key": the same, except that the pattern
 * "*" alone matches every key, "" included, because SCAN and KEYS skip
 * matching for it (db.c: use_pattern, allkeys).
 *
 * Usage
 * =====
 *   if (mt__redis_stringmatch(p, plen, key, keylen)) ... keep the key
 *
 * Implementation notes
 * ====================
 * The server's rules, facts taken from Redis 7.0.15 src/util.c
 * (stringmatchlen_impl) and its Debian patches, that differ from a shell
 * glob and that this code reproduces on purpose:
 *  - An empty string matches only the empty pattern or a pattern of stars
 *    that the loop never reaches: stringmatchlen("*", "") is 0 (the loop
 *    runs while both pattern and string remain), "" matches "".
 *  - After the last byte of the string is consumed, trailing stars are
 *    skipped; anything else left in the pattern (even "[" or "?") fails.
 *  - Inside [...]: '\' escapes the next byte when one follows; ']' ends
 *    the class; a '-' between two bytes makes a range when at least three
 *    bytes remain, so in "[a-]" the ']' is the range's end and the class
 *    goes on; a pattern that ends inside the class ends it there ("[abc"
 *    is the class {a, b, c}; "[" matches nothing; "[^" matches any byte).
 *  - Range bounds and the byte are compared as C `char`, which is signed
 *    on x86-64: [a-\xff] is the range -1..'a' (0xff and 0x00..'a'),
 *    not 'a'..0xff. We compare as signed char explicitly, so this client
 *    agrees with an x86-64 server (and a server on a platform whose char
 *    is unsigned, such as arm64 Linux, differs from both for ranges whose
 *    bounds straddle 0x80).
 *  - A '\' at the end of the pattern (outside a class) is a literal '\'.
 *  - Pathological patterns (CVE-2022-36021, fixed in 7.0.9): when the rest
 *    of the pattern after a '*' matches at no position of the rest of the
 *    string, no earlier '*' can help either, so the whole match fails at
 *    once ("skip longer matches"); this bounds the time by about
 *    pattern length x string length. And (CVE-2024-31228, in Debian's
 *    7.0.15-1~deb12u2 and later, upstream 7.2.6) a match that nests more
 *    than 1000 '*' deep fails: a pattern with more than 1000 separate
 *    stars never matches a string that needs them all. This also bounds
 *    our recursion depth to 1001 frames.
 * tests/redis/test_glob_server.c checks all of this against a real
 * redis-server's SCAN MATCH on random patterns and keys.
 */
#ifndef MTPOOL_REDIS_GLOB_H
#define MTPOOL_REDIS_GLOB_H

#include <stddef.h>

/* The server's nesting limit (CVE-2024-31228): a '*' nested deeper fails. */
#define MT_REDIS_GLOB_MAX_NESTING 1000

/*
 * 1 if string[0, slen) matches pattern[0, plen) by stringmatchlen's rules,
 * else 0. Either pointer may be NULL when its length is 0. Pure: any
 * thread, no allocation; time about O(plen x slen), stack at most
 * MT_REDIS_GLOB_MAX_NESTING + 1 small frames.
 */
int mt__redis_stringmatch(const void *pattern, size_t plen, const void *string,
			  size_t slen);

/*
 * 1 if the pattern has no '*', '?' or '[' outside a '\' escape: it then
 * matches exactly one string (the SCAN rules above), which is written to
 * out[0, *outlen): the pattern with its escapes resolved ("a\*b" is
 * "a*b"; a '\' at the end stands for itself). `out` must have room for
 * plen bytes. 0 otherwise (out untouched). mt_redis_scan answers such a
 * pattern with EXISTS instead of a walk.
 */
int mt__redis_glob_literal(const void *pattern, size_t plen, void *out,
			   size_t *outlen /* OUT */);

#endif /* MTPOOL_REDIS_GLOB_H */
