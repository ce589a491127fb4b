/*
 * redis/resp.h: writing commands in RESP into a reusable buffer.
 *
 * Overview
 * ========
 * A command is an array of bulk strings:
 *   *<argc>\r\n  then, per argument,  $<len>\r\n<bytes>\r\n
 * Arguments are copied as they are (binary-safe), never formatted into a
 * command string. The engine formats a whole window of commands into one
 * buffer, then hands it to hiredis with one redisAppendFormattedCommand
 * (one copy into the output buffer): no allocation per command, where
 * redisAppendCommandArgv allocates and frees an sds per command.
 *
 * Usage
 * =====
 *   struct mt__redis_buf b = {0};
 *   mt__redis_buf_argc(&b, 3);
 *   mt__redis_buf_arg(&b, "SET", 3); ... key, value
 *   if (b.oom) ...  (ENOMEM: nothing usable was written)
 *   b.len = 0;      reuse
 *   mt__redis_buf_free(&b);
 *
 * Implementation notes
 * ====================
 * Growth failures are sticky (`oom`) so a formatter writes a whole item
 * and checks once. A buffer may start on caller storage (`ext`, e.g. a
 * stack array, for small one-off commands): its first growth moves it to
 * the heap. Capacity doubles, so a share's buffer reaches a
 * window's size after a few windows and stays there.
 */
#ifndef MTPOOL_REDIS_RESP_H
#define MTPOOL_REDIS_RESP_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct mt__redis_buf {
	char *p;
	size_t len, cap;
	int oom; /* a growth failed: the content is incomplete */
	int ext; /* p is the caller's storage (not ours to realloc/free) */
};

/* Makes room for `more` bytes; 0 or -1 (and oom set). */
static inline int mt__redis_buf_reserve(struct mt__redis_buf *b, size_t more)
{
	if (b->cap - b->len >= more)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap - b->len < more) {
		if (cap > SIZE_MAX / 2) {
			b->oom = 1;
			return -1;
		}
		cap *= 2;
	}
	char *p = b->ext ? malloc(cap) : realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	if (b->ext && b->len)
		memcpy(p, b->p, b->len);
	b->ext = 0;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Writes "<c><decimal v>\r\n" (c is '*' or '$'); room is reserved. */
static inline void mt__redis_buf_header(struct mt__redis_buf *b, char c,
					uint64_t v)
{
	char digits[20];
	int n = 0;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	char *o = b->p + b->len;
	*o++ = c;
	while (n)
		*o++ = digits[--n];
	*o++ = '\r';
	*o++ = '\n';
	b->len = (size_t)(o - b->p);
}

/* Starts a command of argc arguments. */
static inline void mt__redis_buf_argc(struct mt__redis_buf *b, uint64_t argc)
{
	if (mt__redis_buf_reserve(b, 24) == 0)
		mt__redis_buf_header(b, '*', argc);
}

/* Appends one argument. `data` may be NULL when len is 0. */
static inline void mt__redis_buf_arg(struct mt__redis_buf *b, const void *data,
				     size_t len)
{
	if (len > SIZE_MAX - 32 || mt__redis_buf_reserve(b, len + 32) != 0) {
		b->oom = 1;
		return;
	}
	mt__redis_buf_header(b, '$', len);
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len++] = '\r';
	b->p[b->len++] = '\n';
}

/* A NUL-terminated argument (command names, formatted numbers). */
static inline void mt__redis_buf_str(struct mt__redis_buf *b, const char *s)
{
	mt__redis_buf_arg(b, s, strlen(s));
}

/* Appends bytes that already are RESP (a command formatted earlier). */
static inline void mt__redis_buf_raw(struct mt__redis_buf *b, const void *data,
				     size_t len)
{
	if (mt__redis_buf_reserve(b, len) == 0 && len) {
		memcpy(b->p + b->len, data, len);
		b->len += len;
	}
}

/* One argument made of `n` pieces laid end to end ("<model>:<key>"). */
static inline void mt__redis_buf_concat(struct mt__redis_buf *b,
					const void *const *data,
					const size_t *lens, size_t n)
{
	size_t len = 0;
	for (size_t k = 0; k < n; k++) {
		if (lens[k] > SIZE_MAX - 32 - len) {
			b->oom = 1;
			return;
		}
		len += lens[k];
	}
	if (mt__redis_buf_reserve(b, len + 32) != 0)
		return;
	mt__redis_buf_header(b, '$', len);
	for (size_t k = 0; k < n; k++) {
		if (lens[k])
			memcpy(b->p + b->len, data[k], lens[k]);
		b->len += lens[k];
	}
	b->p[b->len++] = '\r';
	b->p[b->len++] = '\n';
}

static inline void mt__redis_buf_free(struct mt__redis_buf *b)
{
	if (!b->ext)
		free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
}

#endif /* MTPOOL_REDIS_RESP_H */
