/*
 * tests/fuzz/fuzz_line.c: libFuzzer target for the load/dump line parser
 * (redis/cli/line.h).
 *
 * Each input is one line (its bytes as they are, LF included if any).
 * The target checks what the format promises: line_parse never reads or
 * writes outside the line and never fails without a reason; a parsed
 * record's key and value lie inside the line and are no longer than their
 * escaped form; and line_format of the record parses back to the same
 * key, value, TTL and kind (the dump | load round trip). Any violation
 * aborts, which libFuzzer reports as a crash.
 *
 * The line module is mtredis's, not the library's (which the fuzz targets
 * link), so it is compiled in here: one file, no build change.
 */
#include "../../redis/cli/line.c"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok)
{
	if (!ok)
		abort();
}

static void round_trip(const struct line_rec *rec)
{
	size_t cap = LINE_FORMAT_MAX(rec->klen, rec->vlen);
	char *out = malloc(cap);
	check(out != NULL);
	size_t n = line_format(out, rec->key, rec->klen, rec->val, rec->vlen,
			       rec->px, rec->kind);
	check(n <= cap && n > 0 && out[n - 1] == '\n');
	check(memchr(out, '\n', n - 1) == NULL);
	struct line_rec back;
	char why[LINE_WHYLEN];
	check(line_parse(out, n - 1, &back, why, sizeof why) == 0);
	check(back.klen == rec->klen && back.vlen == rec->vlen);
	check(memcmp(back.key, rec->key, rec->klen) == 0);
	check(memcmp(back.val, rec->val, rec->vlen) == 0);
	check(back.px == rec->px && back.kind == rec->kind);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size heap copy: ASan catches any read past its end. */
	char *line = malloc(size ? size : 1);
	check(line != NULL);
	memcpy(line, data, size);
	struct line_rec rec;
	char why[LINE_WHYLEN] = "";
	if (line_parse(line, size, &rec, why, sizeof why) == 0) {
		check(rec.key >= line && rec.key + rec.klen <= line + size);
		check(rec.val >= line && rec.val + rec.vlen <= line + size);
		check(rec.klen + rec.vlen < size || size == 0);
		check(rec.px >= 0);
		round_trip(&rec);
	} else {
		check(why[0] != '\0');
	}
	free(line);
	return 0;
}
