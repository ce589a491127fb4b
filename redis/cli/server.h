/*
 * redis/cli/server.h: the redis-server that `mtredis demo` embeds.
 *
 * Overview
 * ========
 * server_start runs `redis-server` (found on PATH, or $MTREDIS_SERVER)
 * listening only on a unix socket inside a fresh mkdtemp folder, with
 * persistence off, and returns once it accepts connections. server_stop
 * stops it by its PID (SIGTERM, then SIGKILL after a bound) and removes
 * the folder. Nothing of it may outlive the caller:
 *   - normal exit and errors: server_stop;
 *   - SIGINT, SIGTERM and crashes (SIGSEGV, SIGBUS, SIGABRT, SIGFPE,
 *     SIGILL): the caller's handler calls server_kill_now, which is
 *     async-signal-safe (kill, waitpid, unlink, rmdir only);
 *   - the caller killed outright (SIGKILL, OOM killer): the child asked
 *     the kernel for SIGKILL when its parent dies (PR_SET_PDEATHSIG), so
 *     the server dies too; only the folder (a socket and a log in the
 *     temporary directory) is left in this case.
 * The server runs in its own process group, so a Ctrl-C typed at the
 * terminal reaches mtredis alone, which then stops the server in order.
 *
 * Usage
 * =====
 *   struct server s;
 *   char why[256];
 *   if (server_start(&s, why, sizeof why) != 0) { print why; exit 1 }
 *   ... connect to s.uri ...
 *   server_stop(&s);
 *
 * Implementation notes
 * ====================
 * PR_SET_PDEATHSIG fires when the *thread* that forked exits, not the
 * process, so server_start must be called from the main thread (which
 * lives until the process ends). The child checks getppid() after the
 * prctl, closing the race where the parent died before the prctl ran.
 * Between fork and exec the child of a threaded process may call only
 * async-signal-safe functions: argv is built before fork. The child
 * unblocks every signal and resets SIGINT/SIGTERM/SIGPIPE to their
 * defaults, since a blocked or ignored signal survives exec.
 */
#ifndef MTPOOL_REDIS_CLI_SERVER_H
#define MTPOOL_REDIS_CLI_SERVER_H

#include <stddef.h>
#include <sys/types.h>

/* A unix socket path holds at most 107 bytes (sun_path), so the folder
 * name is kept well under that. */
#define SERVER_DIRLEN 80
#define SERVER_PATHLEN (SERVER_DIRLEN + 32)

/* Legend: I set by server_start, read-only after; `pid` is reset to 0 by
 * server_stop / server_kill_now. */
struct server {
	pid_t pid;		      /* the redis-server; 0 = none */
	char dir[SERVER_PATHLEN];     /* I: the mkdtemp folder */
	char sock[SERVER_PATHLEN];    /* I: dir/redis.sock */
	char log[SERVER_PATHLEN];     /* I: dir/redis.log (its output) */
	char conf[SERVER_PATHLEN];    /* I: dir/nodes.conf of a cluster node */
	char uri[SERVER_PATHLEN + 8]; /* I: unix://<sock> */
};

/*
 * Starts the server (see the overview) and waits, for at most 10 s, until
 * it accepts connections on its socket. On failure nothing is left
 * (process or folder) and `why` holds a one-line reason. Returns 0, or
 * ENOENT (no redis-server on PATH), ETIMEDOUT (it did not answer in
 * time), ECHILD (it exited at once: why quotes its log), ENAMETOOLONG
 * ($TMPDIR too long for a socket path), or the errno of mkdtemp / fork.
 * Main thread only (see the implementation notes).
 */
int server_start(struct server *s, char *why /* OUT */, size_t whylen);

/* Extra redis-server arguments server_start_args takes, at most. */
#define SERVER_MAX_EXTRA 16

/* As server_start, with `extra` (a NULL-terminated list of at most
 * SERVER_MAX_EXTRA arguments; more are ignored) after the fixed ones, so
 * they may override them: a cluster node (cluster.h) adds a TCP port and
 * the cluster settings, its nodes.conf in the folder (s->conf). */
int server_start_args(struct server *s, const char *const *extra,
		      char *why /* OUT */, size_t whylen);

/* Stops the server (SIGTERM; SIGKILL after 5 s) and removes its folder.
 * Returns 0 or the errno of removing the folder. s->pid 0 is fine. */
int server_stop(struct server *s);

/* From a signal handler or a crash: SIGKILL the server, reap it, remove
 * the folder. Async-signal-safe. */
void server_kill_now(struct server *s);

/* Finds `name` in $PATH (or takes it as is when it has a '/'), into buf.
 * Returns 0 or ENOENT. */
int server_find(const char *name, char *buf /* OUT */, size_t len);

#endif /* MTPOOL_REDIS_CLI_SERVER_H */
