/*
 * bench_wait_threads_asleep(): the wake probe for runtimes that do not
 * report parking (OpenMP, oneTBB, GLib, libuv).
 *
 * Overview
 * ========
 * The wake-latency and idle-CPU workloads need "every worker is asleep in
 * the OS", so that the next submission has to wake one. mtpool reports it
 * (mt_pool_stats); the other runtimes do not, but the kernel does: a
 * thread blocked in futex_wait, epoll_wait or nanosleep shows state S in
 * /proc/self/task/TID/stat, one that spins or yields shows R. Asking the
 * kernel treats every runtime alike, and needs no guessed sleep time.
 *
 * Implementation notes
 * ====================
 * One scan reads each thread's stat file in turn, so "all asleep" means
 * each was asleep when read; a worker that wakes in between is missed for
 * that scan only. Nothing else runs in the process meanwhile (mtbench's
 * main thread is the caller), so a worker that is asleep stays asleep
 * until the probe's spawn. Threads of a runtime measured earlier in the
 * same process (libgomp and oneTBB keep theirs) are asleep too once idle.
 * A scan costs about 10-20 us per thread, so polls are 50 us apart.
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

/* Gap between scans: long against a scan, short against a probe. */
#define SCAN_GAP_NS 50000u

/* The state letter of thread `tid`, or 0 if it cannot be read (the
 * thread has exited, which counts as asleep: it holds no CPU). */
static char thread_state(const char *tid)
{
	char path[64], buf[512];
	const char *paren;
	ssize_t len;
	int fd;

	snprintf(path, sizeof path, "/proc/self/task/%s/stat", tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	len = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	/* The name in parentheses may hold spaces: the state follows the
	 * last ')'. */
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' ? paren[2] : 0;
}

/* 1 when every thread but the caller sleeps, 0 if not; -errno. */
static int all_asleep(void)
{
	char self[24];
	struct dirent *e;
	DIR *d = opendir("/proc/self/task");
	int asleep = 1;
	char st;

	if (!d)
		return -errno;
	snprintf(self, sizeof self, "%ld", (long)syscall(SYS_gettid));
	while (asleep && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, self) == 0)
			continue;
		st = thread_state(e->d_name);
		asleep = st == 0 || st == 'S' || st == 'D';
	}
	closedir(d);
	return asleep;
}

int bench_wait_threads_asleep(uint64_t timeout_ns)
{
	uint64_t deadline = bench_now_ns() + timeout_ns;
	int r;

	for (;;) {
		if ((r = all_asleep()) < 0)
			return -r;
		if (r == 1)
			return 0;
		if (bench_now_ns() > deadline)
			return ETIMEDOUT;
		bench_sleep_ns(SCAN_GAP_NS);
	}
}
