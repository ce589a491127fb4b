/*
 * tests/package/consumer.c: the smallest program an installed mtpool must
 * build and run: it includes <mtpool/mtpool.h> from the install prefix,
 * links the installed library, and asks for the default pool's size.
 */
#include <mtpool/mtpool.h>

#include <stdio.h>

int main(void)
{
	unsigned n = mt_pool_size(NULL);

	printf("mtpool %d.%d.%d consumer: default pool has %u workers\n",
	       MTPOOL_VERSION_MAJOR, MTPOOL_VERSION_MINOR, MTPOOL_VERSION_PATCH,
	       n);
	return n >= 1 ? 0 : 1;
}
