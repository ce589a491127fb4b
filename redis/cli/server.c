/*
 * redis/cli/server.c: the embedded redis-server of `mtredis demo`; see
 * server.h for the guarantees.
 */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Bounds on waiting for the server: start-up is ~7 ms here, so 10 s is
 * only a net for a machine under heavy load; a clean shutdown with
 * persistence off takes milliseconds. */
#define START_WAIT_MS 10000
#define STOP_WAIT_MS 5000
#define POLL_MS 2

/* strlcpy: copies what fits, always NUL-terminates (len > 0). */
static void copy_cut(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

int server_find(const char *name, char *buf, size_t len)
{
	if (strchr(name, '/') != NULL) {
		copy_cut(buf, len, name);
		return access(buf, X_OK) == 0 ? 0 : ENOENT;
	}
	const char *path = getenv("PATH");
	while (path != NULL && *path != '\0') {
		const char *colon = strchr(path, ':');
		size_t dlen = colon ? (size_t)(colon - path) : strlen(path);
		int n = snprintf(buf, len, "%.*s/%s", (int)dlen, path, name);
		if (dlen > 0 && n > 0 && (size_t)n < len &&
		    access(buf, X_OK) == 0)
			return 0;
		path = colon ? colon + 1 : NULL;
	}
	return ENOENT;
}

static void sleep_ms(long ms)
{
	struct timespec t = {.tv_sec = ms / 1000,
			     .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
}

/* Everything here is async-signal-safe: it runs in the child of a
 * threaded process before exec, and in signal handlers. */
static void remove_folder(const struct server *s)
{
	if (s->dir[0] == '\0')
		return;
	unlink(s->sock);
	unlink(s->log);
	unlink(s->conf); /* a cluster node's nodes.conf ("" otherwise) */
	rmdir(s->dir);
}

/* The child: never returns. Only async-signal-safe calls (see server.h). */
static void child(const struct server *s, char *const argv[], pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127); /* the parent died before the prctl */
	setpgid(0, 0);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	int in = open("/dev/null", O_RDONLY);
	int out = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (in < 0 || out < 0)
		_exit(127);
	dup2(in, STDIN_FILENO);
	dup2(out, STDOUT_FILENO);
	dup2(out, STDERR_FILENO);
	execv(argv[0], argv);
	_exit(127);
}

/* 1 when a connect() to the socket succeeds: the server is listening. */
static int accepting(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	copy_cut(a.sun_path, sizeof a.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

/* The last line of the server's log, for a start-up failure message. */
static void last_log_line(const char *log, char *buf, size_t len)
{
	char text[4096];
	buf[0] = '\0';
	int fd = open(log, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		n--;
	if (n <= 0)
		return;
	text[n] = '\0';
	char *nl = strrchr(text, '\n');
	copy_cut(buf, len, nl ? nl + 1 : text);
}

/* Polls until the server accepts connections or exits. */
static int wait_ready(struct server *s, char *why, size_t whylen)
{
	for (long waited = 0; waited < START_WAIT_MS; waited += POLL_MS) {
		if (accepting(s->sock))
			return 0;
		int status;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			char line[200];
			s->pid = 0;
			last_log_line(s->log, line, sizeof line);
			snprintf(why, whylen, "redis-server exited at once: %s",
				 line[0] ? line : "(no output)");
			return ECHILD;
		}
		sleep_ms(POLL_MS);
	}
	snprintf(why, whylen, "redis-server did not accept connections in %d s",
		 START_WAIT_MS / 1000);
	return ETIMEDOUT;
}

static int make_folder(struct server *s, char *why, size_t whylen)
{
	const char *tmp = getenv("TMPDIR");
	tmp = tmp && *tmp ? tmp : "/tmp";
	int n = snprintf(s->dir, sizeof s->dir, "%s/mtredis-demo.XXXXXX", tmp);
	if (n < 0 || (size_t)n >= sizeof s->dir) {
		snprintf(why, whylen, "TMPDIR is too long for a socket path");
		s->dir[0] = '\0';
		return ENAMETOOLONG;
	}
	if (mkdtemp(s->dir) == NULL) {
		int err = errno;
		snprintf(why, whylen, "cannot create a folder in %s: %s", tmp,
			 strerror(err));
		s->dir[0] = '\0';
		return err;
	}
	snprintf(s->sock, sizeof s->sock, "%.*s/redis.sock", SERVER_DIRLEN - 1,
		 s->dir);
	snprintf(s->log, sizeof s->log, "%.*s/redis.log", SERVER_DIRLEN - 1,
		 s->dir);
	snprintf(s->conf, sizeof s->conf, "%.*s/nodes.conf", SERVER_DIRLEN - 1,
		 s->dir);
	snprintf(s->uri, sizeof s->uri, "unix://%s", s->sock);
	return 0;
}

int server_start(struct server *s, char *why, size_t whylen)
{
	return server_start_args(s, NULL, why, whylen);
}

/* The fixed arguments, then `extra`: a later option wins in redis.conf
 * syntax, so extra may override (e.g. --port). */
static void build_argv(struct server *s, char *exe, const char *const *extra,
		       char **argv, size_t cap)
{
	const char *fixed[] = {
		exe,	 "--port",	     "0",   "--unixsocket",
		s->sock, "--unixsocketperm", "700", "--save",
		"",	 "--appendonly",     "no",  "--dir",
		s->dir,	 "--daemonize",	     "no"};
	size_t n = 0;
	for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
		argv[n++] = (char *)fixed[i];
	for (; extra && *extra && n + 1 < cap; extra++)
		argv[n++] = (char *)*extra;
	argv[n] = NULL;
}

int server_start_args(struct server *s, const char *const *extra, char *why,
		      size_t whylen)
{
	memset(s, 0, sizeof *s);
	const char *name = getenv("MTREDIS_SERVER");
	char exe[SERVER_PATHLEN];
	if (server_find(name && *name ? name : "redis-server", exe,
			sizeof exe) != 0) {
		snprintf(why, whylen,
			 "redis-server not found on PATH (Debian: apt-get "
			 "install redis-server; or give --uri)");
		return ENOENT;
	}
	int err = make_folder(s, why, whylen);
	if (err != 0)
		return err;
	char *argv[SERVER_MAX_EXTRA + 20];
	build_argv(s, exe, extra, argv, sizeof argv / sizeof *argv);
	pid_t parent = getpid();
	s->pid = fork();
	if (s->pid < 0) {
		err = errno;
		s->pid = 0;
		snprintf(why, whylen, "fork: %s", strerror(err));
	} else if (s->pid == 0) {
		child(s, argv, parent);
	} else {
		err = wait_ready(s, why, whylen);
	}
	if (err != 0)
		server_stop(s);
	return err;
}

/* Waits up to ms for the server to exit; 1 if it did (and was reaped). */
static int reaped_within(pid_t pid, long ms)
{
	for (long waited = 0; waited <= ms; waited += POLL_MS) {
		pid_t rc = waitpid(pid, NULL, WNOHANG);
		if (rc == pid || (rc < 0 && errno == ECHILD))
			return 1;
		sleep_ms(POLL_MS);
	}
	return 0;
}

int server_stop(struct server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		if (!reaped_within(s->pid, STOP_WAIT_MS)) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
		}
		s->pid = 0;
	}
	remove_folder(s);
	int err = s->dir[0] != '\0' && access(s->dir, F_OK) == 0 ? EEXIST : 0;
	s->dir[0] = '\0';
	return err;
}

void server_kill_now(struct server *s)
{
	pid_t pid = s->pid;
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		s->pid = 0;
	}
	remove_folder(s);
}
