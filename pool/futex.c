/*
 * pool/futex.c: the Linux implementation of the OS wait ops (futex.h).
 *
 * Kept apart from the scheduler so that the latch, which only needs to
 * sleep on a word, does not depend on the parking code.
 */
#include "futex.h"

#include <errno.h>
#include <linux/futex.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Both keep the caller's errno: the library's int functions sleep and
 * wake through them and promise to leave errno alone (mtpool.h). */

static void futex_wait(const uint32_t *addr, uint32_t expected)
{
	int saved = errno;
	/* EINTR, EAGAIN (value changed) and spurious returns all mean
	 * "look again", which every caller does. */
	syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
	errno = saved;
}

static void futex_wake(const uint32_t *addr, int count)
{
	int saved = errno;
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
	errno = saved;
}

const struct mt_os_wait_ops mt__os_wait_ops_futex = {
	.wait = futex_wait,
	.wake = futex_wake,
};
const struct mt_os_wait_ops *mt__os_wait_ops = &mt__os_wait_ops_futex;
