/*
 * tests/common/redis_server.c: starting and stopping real redis-servers
 * for the redis tests. See redis_server.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, nftw, prctl */
#endif
#include "redis_server.h"
#include "mt_guard.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Bounds, generous for a loaded 2-core machine under sanitizers: a server
 * answers PING in ~7 ms and exits on SIGTERM in a few ms when idle. */
#define START_BOUND_MS 20000
#define STOP_BOUND_MS 10000
#define PORT_ATTEMPTS 20

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void pause_ms(long ms)
{
	struct timespec t = {.tv_sec = 0, .tv_nsec = ms * 1000000};
	nanosleep(&t, NULL);
}

/* redis-server's path, found on PATH now, so the child only execs. */
static void find_exe(struct mt_test_redis *s)
{
	const char *path = getenv("PATH");
	char dirs[4096];
	snprintf(dirs, sizeof dirs, "%s", path ? path : "/usr/bin:/bin");
	char *save = NULL;
	for (char *d = strtok_r(dirs, ":", &save); d;
	     d = strtok_r(NULL, ":", &save)) {
		snprintf(s->exe, sizeof s->exe, "%s/redis-server", d);
		if (access(s->exe, X_OK) == 0)
			return;
	}
	cr_assert_fail("redis-server not found on PATH (apt-get install "
		       "redis-server)");
}

/* A loopback port that was free a moment ago: bind port 0, read it. */
static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0, "bind: %s",
		     strerror(errno));
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* Fills argv (NULL-terminated) for the current port; `port` and `bus`
 * must outlive argv. */
static void build_argv(struct mt_test_redis *s, char *port, char *bus,
		       char **argv)
{
	int n = 0;
	const char *fixed[] = {s->exe,
			       "--port",
			       port,
			       "--bind",
			       "127.0.0.1",
			       "--unixsocket",
			       s->sock,
			       "--unixsocketperm",
			       "700",
			       "--dir",
			       s->dir,
			       "--logfile",
			       s->log,
			       "--daemonize",
			       "no",
			       "--save",
			       "",
			       "--appendonly",
			       "no",
			       "--enable-debug-command",
			       "yes",
			       "--user",
			       MT_TEST_REDIS_ADMIN,
			       "on",
			       ">" MT_TEST_REDIS_ADMIN_PASSWORD,
			       "~*",
			       "&*",
			       "+@all"};
	for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
		argv[n++] = (char *)fixed[i];
	for (int i = 0; i < s->nextra; i++)
		argv[n++] = s->extra[i];
	if (s->bus_port) {
		const char *cluster[] = {"--cluster-enabled",	  "yes",
					 "--cluster-config-file", "nodes.conf",
					 "--cluster-port",	  bus};
		for (size_t i = 0; i < sizeof cluster / sizeof *cluster; i++)
			argv[n++] = (char *)cluster[i];
	}
	argv[n] = NULL;
}

/* fork + exec; the child dies with the thread that forked it. Only
 * async-signal-safe calls between fork and exec. */
static pid_t spawn(struct mt_test_redis *s)
{
	char port[16], bus[16];
	char *argv[MT_TEST_REDIS_MAX_ARGS + 40];
	snprintf(port, sizeof port, "%d", s->port);
	snprintf(bus, sizeof bus, "%d", s->bus_port);
	build_argv(s, port, bus, argv);
	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 ||
		    getppid() != parent)
			_exit(127);
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
		}
		/* The server must not hold copies of the test's sockets
		 * (a client connection would outlive its close) nor of
		 * Criterion's channel to its runner. */
		syscall(SYS_close_range, 3u, ~0u, 0u);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* One PING over the unix socket: 1 when the server answered PONG. */
static int pings(const struct mt_test_redis *s)
{
	struct timeval tv = {.tv_sec = 1, .tv_usec = 0};
	redisContext *c = redisConnectUnixWithTimeout(s->sock, tv);
	int ok = 0;
	if (c && !c->err) {
		redisSetTimeout(c, tv);
		/* As the admin: the default user may need a password. */
		redisAppendCommand(c, "AUTH %s %s", MT_TEST_REDIS_ADMIN,
				   MT_TEST_REDIS_ADMIN_PASSWORD);
		redisAppendCommand(c, "PING");
		redisReply *a = NULL, *r = NULL;
		if (redisGetReply(c, (void **)&a) == REDIS_OK)
			redisGetReply(c, (void **)&r);
		ok = r && r->type == REDIS_REPLY_STATUS;
		if (a)
			freeReplyObject(a);
		if (r)
			freeReplyObject(r);
	}
	redisFree(c);
	return ok;
}

enum wait_result {
	READY,
	EXITED
};

/* Polls until the child answers PING or exits (then it is reaped). */
static enum wait_result wait_ready(struct mt_test_redis *s)
{
	long long end = now_ms() + START_BOUND_MS;
	for (;;) {
		int st;
		pid_t w = waitpid(s->pid, &st, WNOHANG);
		if (w == s->pid) {
			s->pid = 0;
			return EXITED;
		}
		if (pings(s))
			return READY;
		cr_assert_lt(now_ms(), end,
			     "redis-server (pid %d) did not answer PING "
			     "within %d ms; log: %s",
			     (int)s->pid, START_BOUND_MS, s->log);
		pause_ms(1);
	}
}

/* The server answering on our TCP port must be our child (a recycled
 * port could belong to another test's server). */
static int tcp_is_ours(const struct mt_test_redis *s)
{
	struct timeval tv = {.tv_sec = 5, .tv_usec = 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
	int ours = 0;
	if (c && !c->err) {
		redisSetTimeout(c, tv);
		redisReply *r = redisCommand(c, "AUTH %s %s",
					     MT_TEST_REDIS_ADMIN,
					     MT_TEST_REDIS_ADMIN_PASSWORD);
		if (r)
			freeReplyObject(r);
		ours = mt_test_redis_info(c, "process_id") == s->pid;
	}
	redisFree(c);
	return ours;
}

static void kill_and_reap(struct mt_test_redis *s, int sig)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, sig);
	long long end = now_ms() + STOP_BOUND_MS;
	int st;
	while (waitpid(s->pid, &st, WNOHANG) == 0) {
		if (now_ms() > end) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &st, 0);
			break;
		}
		pause_ms(1);
	}
	s->pid = 0;
}

/* Starts on s->port (fixed_port) or on fresh ports until one works. */
static void launch(struct mt_test_redis *s, int fixed_port)
{
	for (int attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
		if (!fixed_port)
			s->port = free_port();
		/* A fresh bus port too, distinct from the client port. */
		while (!fixed_port && s->bus_port &&
		       (s->bus_port = free_port()) == s->port)
			;
		s->pid = spawn(s);
		if (wait_ready(s) == READY) {
			cr_assert(tcp_is_ours(s),
				  "port %d answers, but not from our "
				  "redis-server (pid %d)",
				  s->port, (int)s->pid);
			return;
		}
		cr_assert(!fixed_port,
			  "redis-server exited at restart on port %d; "
			  "log: %s",
			  s->port, s->log);
	}
	cr_assert_fail("redis-server failed %d times to start; log: %s",
		       PORT_ATTEMPTS, s->log);
}

static void make_dir(struct mt_test_redis *s)
{
	const char *base = getenv("TMPDIR");
	/* A unix socket path holds 107 bytes: keep the folder short. */
	if (!base || strlen(base) > 60)
		base = "/tmp";
	snprintf(s->dir, sizeof s->dir, "%s/mtredis.XXXXXX", base);
	cr_assert_not_null(mkdtemp(s->dir), "mkdtemp: %s", strerror(errno));
	snprintf(s->sock, sizeof s->sock, "%s/redis.sock", s->dir);
	snprintf(s->log, sizeof s->log, "%s/redis.log", s->dir);
	snprintf(s->unix_uri, sizeof s->unix_uri, "unix://%s", s->sock);
	char rm[sizeof s->dir + 16];
	snprintf(rm, sizeof rm, "rm -rf '%s'", s->dir);
	s->guard = mt_test_guard_start(rm);
}

static void start(struct mt_test_redis *s, const char *const *extra,
		  int cluster)
{
	memset(s, 0, sizeof *s);
	s->bus_port = cluster; /* nonzero: launch picks the real one */
	find_exe(s);
	for (; extra && *extra; extra++) {
		cr_assert_lt(s->nextra, MT_TEST_REDIS_MAX_ARGS);
		s->extra[s->nextra] = strdup(*extra);
		cr_assert_not_null(s->extra[s->nextra++]);
	}
	make_dir(s);
	launch(s, 0);
	snprintf(s->tcp_uri, sizeof s->tcp_uri, "redis://127.0.0.1:%d",
		 s->port);
}

void mt_test_redis_start(struct mt_test_redis *s, const char *const *extra)
{
	start(s, extra, 0);
}

void mt_test_redis_start_cluster_node(struct mt_test_redis *s,
				      const char *const *extra)
{
	start(s, extra, 1);
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
			struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void mt_test_redis_stop(struct mt_test_redis *s)
{
	kill_and_reap(s, SIGTERM);
	if (s->dir[0])
		nftw(s->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	s->dir[0] = '\0';
	mt_test_guard_end(s->guard);
	s->guard = 0;
	for (int i = 0; i < s->nextra; i++)
		free(s->extra[i]);
	s->nextra = 0;
}

void mt_test_redis_kill(struct mt_test_redis *s)
{
	cr_assert_gt(s->pid, 0, "no server to kill");
	kill_and_reap(s, SIGKILL);
}

void mt_test_redis_restart(struct mt_test_redis *s)
{
	cr_assert_eq(s->pid, 0, "restart needs a stopped server");
	/* A killed server leaves its socket file behind; the new one
	 * replaces it, but a poll must not see the stale file answer. */
	unlink(s->sock);
	launch(s, 1);
}

redisContext *mt_test_redis_admin(const struct mt_test_redis *s)
{
	struct timeval tv = {.tv_sec = 10, .tv_usec = 0};
	redisContext *c = redisConnectUnixWithTimeout(s->sock, tv);
	cr_assert(c && !c->err, "admin connect to %s: %s", s->sock,
		  c ? c->errstr : "out of memory");
	cr_assert_eq(redisSetTimeout(c, tv), REDIS_OK);
	mt_test_redis_ok(c, "AUTH %s %s", MT_TEST_REDIS_ADMIN,
			 MT_TEST_REDIS_ADMIN_PASSWORD);
	return c;
}

static redisReply *vcmd(redisContext *c, const char *fmt, va_list ap)
{
	redisReply *r = redisvCommand(c, fmt, ap);
	cr_assert_not_null(r, "'%s': connection error: %s", fmt, c->errstr);
	cr_assert_neq(r->type, REDIS_REPLY_ERROR, "'%s': %s", fmt, r->str);
	return r;
}

redisReply *mt_test_redis_cmd(redisContext *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = vcmd(c, fmt, ap);
	va_end(ap);
	return r;
}

void mt_test_redis_ok(redisContext *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	freeReplyObject(vcmd(c, fmt, ap));
	va_end(ap);
}

long long mt_test_redis_int(redisContext *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = vcmd(c, fmt, ap);
	va_end(ap);
	cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "'%s': not an integer", fmt);
	long long v = r->integer;
	freeReplyObject(r);
	return v;
}

long long mt_test_redis_info(redisContext *c, const char *field)
{
	redisReply *r = mt_test_redis_cmd(c, "INFO everything");
	cr_assert_eq(r->type, REDIS_REPLY_STRING);
	size_t flen = strlen(field);
	const char *p = r->str;
	while (p) {
		if (strncmp(p, field, flen) == 0 && p[flen] == ':') {
			long long v = strtoll(p + flen + 1, NULL, 10);
			freeReplyObject(r);
			return v;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	freeReplyObject(r);
	cr_assert_fail("INFO has no field '%s'", field);
	return 0;
}
