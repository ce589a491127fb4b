/*
 * redis/ops.h: the pieces of the bulk operations (ops.c) that the
 * background queue (background.c) shares.
 *
 * Overview
 * ========
 * An operation queued with an _async call must be checked and written
 * exactly as its bulk form (the same EINVAL cases, the same Popoto key
 * layout), so both use these.
 *
 * Usage
 * =====
 *   if (!mt__redis_model_ok(m, 1)) return EINVAL;
 *   mt__redis_format_save(m, &buf);    buf holds its commands in RESP
 *
 * Implementation notes
 * ====================
 * Formatting goes straight from the caller's structures into the buffer
 * (resp.h): no argv is built.
 */
#ifndef MTPOOL_REDIS_OPS_H
#define MTPOOL_REDIS_OPS_H

#include <mtpool/redis.h>

#include <stddef.h>

#include "resp.h"

/* 1 when b.data is not NULL or b.len is 0 (the mt_redis_bytes rule). */
int mt__redis_bytes_ok(mt_redis_bytes b);

/* 1 when the command has argc >= 1 and valid arguments. */
int mt__redis_cmd_ok(const mt_redis_cmd *c);

/* 1 when the model is valid for a save (saving: at least one field,
 * ttl_ms >= 0) or a delete. */
int mt__redis_model_ok(const mt_redis_model *m, int saving);

/* Appends one command in RESP. */
void mt__redis_format_cmd(const mt_redis_cmd *c, struct mt__redis_buf *b);

/* Appends a model save's commands (HSET, SADD ..., ZADD ..., PEXPIRE),
 * MULTI/EXEC not included, and says how many there are. */
void mt__redis_format_save(const mt_redis_model *m, struct mt__redis_buf *b);
size_t mt__redis_save_ncmds(const mt_redis_model *m);

#endif /* MTPOOL_REDIS_OPS_H */
