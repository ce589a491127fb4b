/*
 * redis/cli/cli.c: the helpers every mtredis subcommand shares; see
 * cli.h.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void cli_opts_init(struct cli_opts *o, const char *cmd)
{
	const char *env = getenv("REDIS_URL");
	*o = (struct cli_opts){.cmd = cmd, .uri = CLI_DEFAULT_URI};
	if (env != NULL && *env != '\0')
		o->uri = env;
	o->draw = isatty(STDERR_FILENO);
}

static void vmessage(const char *cmd, const char *fmt, va_list ap)
{
	char text[512];
	vsnprintf(text, sizeof text, fmt, ap);
	fprintf(stderr, "mtredis %s: %s\n", cmd, text);
}

void cli_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(cmd, fmt, ap);
	va_end(ap);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	char text[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	fprintf(stderr, "mtredis %s: %s (see 'mtredis %s --help')\n", cmd, text,
		cmd);
	return CLI_USAGE;
}

int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (*s == '\0')
		return EINVAL;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return EINVAL;
		if (v > (UINT64_MAX - 9) / 10)
			return ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v < min || v > max)
		return ERANGE;
	*out = v;
	return 0;
}

/* The option getopt stopped at, for "unknown option" messages: the short
 * letter, or the long option as typed (never its value: an unknown
 * --password=x must not be echoed whole). */
static void bad_option_name(char **argv, char *buf, size_t len)
{
	const char *typed = argv[optind - 1];
	if (optopt != 0 && !(typed[0] == '-' && typed[1] == '-')) {
		snprintf(buf, len, "-%c", optopt);
		return;
	}
	size_t n = strcspn(typed, "=");
	snprintf(buf, len, "%.*s", (int)(n < 64 ? n : 64), typed);
}

int cli_common_option(struct cli_opts *o, int c, const char *arg, char **argv)
{
	char name[80];
	uint64_t v;
	switch (c) {
	case CLI_OPT_URI:
		o->uri = arg;
		return 1;
	case CLI_OPT_TIMEOUT:
		if (cli_parse_u64(arg, 1, 3600000, &v) != 0)
			return -cli_usage(o->cmd,
					  "bad --timeout '%s': want "
					  "milliseconds, 1 to 3600000",
					  arg);
		o->timeout_ms = (unsigned)v;
		return 1;
	case 'q':
		o->quiet = 1;
		return 1;
	case '?':
		bad_option_name(argv, name, sizeof name);
		return -cli_usage(o->cmd, "unknown option '%s'", name);
	case ':':
		bad_option_name(argv, name, sizeof name);
		return -cli_usage(o->cmd, "option '%s' needs a value", name);
	}
	return 0;
}

/* Creates the pool with SIGINT/SIGTERM blocked (its workers inherit the
 * mask), so a handler only ever runs on the main thread. */
static mt_pool *make_pool(void)
{
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	mt_config cfg = {.name_prefix = "mtredis"};
	mt_pool *pool = mt_pool_create(&cfg);
	int err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = err;
	return pool;
}

int cli_open(struct cli_opts *o, mt_redis **out)
{
	char why[MT_REDIS_ERRLEN] = "";
	*out = NULL;
	o->pool = make_pool();
	if (o->pool == NULL) {
		int err = errno;
		if (err == EINVAL)
			return cli_usage(o->cmd, "bad MTPOOL_THREADS");
		cli_error(o->cmd, "cannot create the pool: %s", strerror(err));
		return CLI_FAILED;
	}
	mt_redis_options opts = {.pool = o->pool,
				 .command_timeout_ms = o->timeout_ms};
	int err = mt_redis_open(out, o->uri, &opts, why, sizeof why);
	if (err == 0)
		return CLI_OK;
	mt_pool_destroy(o->pool, MT_DRAIN);
	o->pool = NULL;
	if (err == EINVAL) {
		cli_error(o->cmd, "bad URI: %s", why[0] ? why : "malformed");
		return CLI_USAGE;
	}
	cli_error(o->cmd, "cannot connect: %s", why[0] ? why : strerror(err));
	return CLI_FAILED;
}

void cli_close(struct cli_opts *o, mt_redis *r)
{
	mt_redis_close(r);
	if (o->pool != NULL)
		mt_pool_destroy(o->pool, MT_DRAIN);
	o->pool = NULL;
}

void cli_signals_install(void (*handler)(int sig))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	pthread_sigmask(SIG_BLOCK, &sa.sa_mask, NULL);
}

void cli_signals_unblock(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

void cli_exit_now(int code)
{
	syscall(SYS_exit_group, code);
	_exit(code); /* not reached */
}

void cli_write_str(const char *s)
{
	size_t n = strlen(s);
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, s, n);
		if (w <= 0 && errno != EINTR)
			return;
		if (w > 0) {
			s += w;
			n -= (size_t)w;
		}
	}
}

void cli_write_u64(uint64_t n)
{
	char buf[24], *p = buf + sizeof buf;
	*--p = '\0';
	do {
		*--p = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0);
	cli_write_str(p);
}

double cli_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
