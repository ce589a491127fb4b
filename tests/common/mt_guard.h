/*
 * tests/common/mt_guard.h: clean-up that survives a failed test.
 *
 * Overview
 * ========
 * A test that starts a daemon (a tmux server) or makes a folder cleans up
 * at its end; but a failed assertion ends the test process at once, and
 * Criterion kills a test that runs past its .timeout. A guard is a small
 * child process that waits for the test process to die and then runs a
 * shell command (`tmux -S SOCK kill-server; rm -rf DIR`), so nothing is
 * left behind either way. On the normal path the test cleans up itself
 * and ends the guard with mt_test_guard_end, which does not run the
 * command.
 *
 * Usage
 * =====
 *   pid_t g = mt_test_guard_start("rm -rf /tmp/x.123");
 *   ... the test; it may fail anywhere ...
 *   cleanup; mt_test_guard_end(g);
 *
 * Implementation notes
 * ====================
 * The guard learns of the death through PR_SET_PDEATHSIG (SIGTERM), which
 * fires when the thread that forked it exits: start guards from the
 * test's own thread, as the redis harness starts its servers. Between
 * fork() and exec the child makes only async-signal-safe calls (the test
 * process may have other threads): it installs an empty SIGTERM handler,
 * asks for the death signal, checks that its parent is still the test
 * (the test may have died before prctl), and waits in sigsuspend with
 * SIGTERM blocked everywhere else, so the signal cannot slip in between
 * the check and the wait. The command then runs through /bin/sh.
 */
#ifndef MTPOOL_TESTS_COMMON_MT_GUARD_H
#define MTPOOL_TESTS_COMMON_MT_GUARD_H

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static inline void mt_test_guard_wake(int sig)
{
	(void)sig; /* sigsuspend returns once this ran */
}

/* The guard's life after fork(): wait for the test to die, then exec. */
static inline void mt_test_guard_child(pid_t test, const char *command)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = mt_test_guard_wake;
	sigemptyset(&sa.sa_mask);
	sigset_t term, old;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	if (sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigprocmask(SIG_BLOCK, &term, &old) != 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGTERM) != 0)
		_exit(1);
	sigdelset(&old, SIGTERM);
	while (getppid() == test)
		sigsuspend(&old); /* SIGTERM: the test died, or we are told */
	execl("/bin/sh", "sh", "-c", command, (char *)NULL);
	_exit(127);
}

/* Starts a guard that runs `command` (sh -c) when the calling process
 * dies. Returns its PID, or -1 if fork failed (then there is no guard:
 * the test goes on, only its clean-up on failure is lost). */
static inline pid_t mt_test_guard_start(const char *command)
{
	pid_t test = getpid();
	pid_t pid = fork();
	if (pid == 0)
		mt_test_guard_child(test, command);
	return pid;
}

/* Ends a guard without running its command (the test cleaned up). */
static inline void mt_test_guard_end(pid_t guard)
{
	if (guard <= 0)
		return;
	kill(guard, SIGKILL);
	while (waitpid(guard, NULL, 0) < 0 && errno == EINTR)
		;
}

#endif /* MTPOOL_TESTS_COMMON_MT_GUARD_H */
