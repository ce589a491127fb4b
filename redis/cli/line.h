/*
 * redis/cli/line.h: the line format of `mtredis load` and `mtredis dump`.
 *
 * Overview
 * ========
 * One key per line, fields separated by a raw TAB, the line ended by LF:
 *
 *   key<TAB>value[<TAB>attr=value...]
 *
 * Key and value are escaped byte strings: `\\` is a backslash, `\t` a TAB,
 * `\n` a LF, `\r` a CR and `\xHH` (two hex digits, either case) any byte;
 * every other byte, except a raw TAB or LF, stands for itself (so a line a
 * person types, UTF-8 included, is read as it looks). Any other backslash
 * sequence is a bad escape. Since a raw TAB only ever separates fields,
 * the attributes after the value are unambiguous:
 *
 *   px=MS        the key expires MS milliseconds after it is loaded
 *                (MS >= 1; a dump writes the remaining TTL);
 *   type=string  the value is the string itself (the default);
 *   type=dump    the value is a DUMP payload, loaded with RESTORE ...
 *                REPLACE: hashes, lists, sets, sorted sets and streams
 *                exactly as they were.
 *
 * An attribute may appear once; an unknown one rejects the line (so a
 * future attribute is never silently dropped by an old loader). A line
 * without a TAB is rejected too. Empty lines are the caller's business
 * (load skips them).
 *
 * Writing (line_format) escapes every byte outside printable ASCII
 * (0x20..0x7e) and the backslash, so a dump is plain ASCII whatever the
 * data, and line_parse(line_format(k, v)) gives back k and v byte for
 * byte.
 *
 * Usage
 * =====
 *   struct line_rec rec;
 *   char why[LINE_WHYLEN];
 *   if (line_parse(buf, len, &rec, why, sizeof why) != 0)
 *           report(lineno, why);      buf's bytes now partly decoded
 *   else
 *           use(rec.key, rec.klen, rec.val, rec.vlen, rec.px, rec.kind);
 *
 *   char *out = malloc(LINE_FORMAT_MAX(klen, vlen));
 *   size_t n = line_format(out, key, klen, val, vlen, px, LINE_STRING);
 *
 * Implementation notes
 * ====================
 * Parsing decodes in place: an escape is never shorter than the byte it
 * stands for, so each field's decoded bytes fit at the field's own start
 * and the record points into the caller's buffer (no copy; load parses a
 * million lines a second this way on one core). A field without a
 * backslash (found with memchr) is not touched at all.
 */
#ifndef MTPOOL_REDIS_CLI_LINE_H
#define MTPOOL_REDIS_CLI_LINE_H

#include <stddef.h>
#include <stdint.h>

enum line_kind {
	LINE_STRING = 0, /* SET key value */
	LINE_DUMP = 1	 /* RESTORE key ttl payload REPLACE */
};

/* A parsed line. key and val point into the parsed buffer. */
struct line_rec {
	char *key;
	size_t klen;
	char *val;
	size_t vlen;
	int64_t px; /* > 0: TTL in milliseconds; 0: none given */
	enum line_kind kind;
};

/* Size of the reason buffer that holds every text line_parse writes. */
#define LINE_WHYLEN 64

/*
 * Parses the `len` bytes at `s` (one line, without its LF) into *out,
 * decoding key and value in place (the bytes at s are changed even when
 * the line is rejected). Returns 0, or EINVAL when the line is malformed:
 * then `why` (whylen > 0) holds a one-line reason with the 1-based byte
 * column, e.g. "bad escape \q at column 5". Never fails otherwise.
 */
int line_parse(char *s, size_t len, struct line_rec *out /* OUT */,
	       char *why /* OUT */, size_t whylen);

/* The most bytes line_format writes for a key and value of these sizes:
 * 4 per byte (\xHH), two TABs, the attributes and the LF. */
#define LINE_FORMAT_MAX(klen, vlen) (4 * (klen) + 4 * (vlen) + 48)

/*
 * Writes one whole line, LF included, for key/val into dst, which must
 * hold LINE_FORMAT_MAX(klen, vlen) bytes; px > 0 adds px=, LINE_DUMP adds
 * type=dump. Returns the number of bytes written (no NUL is added).
 */
size_t line_format(char *dst, const void *key, size_t klen, const void *val,
		   size_t vlen, int64_t px, enum line_kind kind);

/* Escapes n bytes of src into dst (4 * n bytes at most); returns the
 * number written. The escaping line_format uses for key and value. */
size_t line_escape(char *dst, const void *src, size_t n);

#endif /* MTPOOL_REDIS_CLI_LINE_H */
