/* redis/background.c: placeholder until the queue lands. */
#include "background.h"

#include <stddef.h>

int mt__redis_bg_create(mt_redis *r, struct mt__redis_bg **out)
{
	(void)r;
	*out = NULL;
	return 0;
}

void mt__redis_bg_destroy(struct mt__redis_bg *bg)
{
	(void)bg;
}

int mt__redis_bg_flush(mt_redis *r, mt_redis_flush_report *report)
{
	(void)r;
	(void)report;
	return 0;
}
