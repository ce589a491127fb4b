/*
 * redis/background.h: the coalescing queue behind mt_redis_save_async,
 * mt_redis_publish_async, mt_redis_command_async and mt_redis_flush.
 * (Being written: a placeholder so the client can hold one.)
 */
#ifndef MTPOOL_REDIS_BACKGROUND_H
#define MTPOOL_REDIS_BACKGROUND_H

#include <mtpool/redis.h>

struct mt__redis_bg;

int mt__redis_bg_create(mt_redis *r, struct mt__redis_bg **out /* OUT */);
void mt__redis_bg_destroy(struct mt__redis_bg *bg);
int mt__redis_bg_flush(mt_redis *r, mt_redis_flush_report *report);

#endif /* MTPOOL_REDIS_BACKGROUND_H */
