/*
 * redis/cli/cli.h: what every mtredis subcommand shares: exit codes,
 * messages, option values, opening the client, and signals.
 *
 * Overview
 * ========
 * Exit codes (docs/mtredis.md): 0 success; 1 operation errors (items
 * failed, lines rejected, a server that cannot be reached), with the
 * count on stderr; 2 usage errors (unknown subcommand or option, bad URI,
 * bad TTL or number), with a one-line reason; 130 interrupted by SIGINT
 * (128 + the signal number in general, so 143 for SIGTERM).
 *
 * Messages go to stderr as "mtredis <subcommand>: <text>". No message
 * ever quotes a URI: the library's texts never contain a password, and
 * ours name the URI's parts instead of quoting it.
 *
 * Signals: cli_signals_install runs a subcommand's handler for SIGINT and
 * SIGTERM on the main thread only. It is called before any other thread
 * exists, with both signals blocked around the creation of every thread
 * (the pool's workers, the loader, the progress ticker inherit the
 * block), then unblocked on the main thread: so a Ctrl-C interrupts the
 * main thread's read(2) or nanosleep (no SA_RESTART) and a handler never
 * runs on a library thread.
 *
 * Usage
 * =====
 *   struct cli_opts o;
 *   cli_opts_init(&o, "load");
 *   ... getopt_long, cli_common_option(&o, c, optarg) ...
 *   mt_redis *r;
 *   int rc = cli_open(&o, &r);     0, or the exit code to return
 *
 * Implementation notes
 * ====================
 * A pool of the tool's own (mt_pool_create, threads named "mtredis-N") is
 * created rather than the default one, so that it is made while SIGINT
 * and SIGTERM are blocked, and destroyed before exit. getopt_long runs
 * with a leading ':' so that a missing value and an unknown option are
 * told apart and reported in one line each; an unknown long option is
 * quoted up to its '=' only, so `--url=redis://:pw@h` never echoes pw.
 */
#ifndef MTPOOL_REDIS_CLI_CLI_H
#define MTPOOL_REDIS_CLI_CLI_H

#include <mtpool/mtpool.h>
#include <mtpool/redis.h>

#include <signal.h>
#include <stdint.h>

enum {
	CLI_OK = 0,
	CLI_FAILED = 1,
	CLI_USAGE = 2,
	CLI_INTERRUPTED = 130
};

#define CLI_DEFAULT_URI "redis://127.0.0.1:6379"

/* Options every subcommand that talks to a server takes. */
struct cli_opts {
	const char *cmd;     /* "load", ...: the message prefix */
	const char *uri;     /* --uri, else $REDIS_URL, else the default */
	unsigned timeout_ms; /* --timeout: command timeout, 0 = library's */
	int quiet;	     /* -q: no summary line */
	int draw;	     /* progress line: stderr is a terminal */
	mt_pool *pool;	     /* the pool cli_open made */
};

/* The long options every subcommand shares, and their codes. */
#define CLI_OPT_URI 1000
#define CLI_OPT_TIMEOUT 1001
#define CLI_OPT_HELP 'h'
#define CLI_COMMON_LONGOPTS                                            \
	{"uri", required_argument, NULL, CLI_OPT_URI},                 \
		{"timeout", required_argument, NULL, CLI_OPT_TIMEOUT}, \
		{"quiet", no_argument, NULL, 'q'},                     \
	{                                                              \
		"help", no_argument, NULL, CLI_OPT_HELP                \
	}

void cli_opts_init(struct cli_opts *o, const char *cmd);

/*
 * Handles a code from getopt_long (c; optstrings start with ':') that
 * every subcommand shares: --uri, --timeout, -q, and the errors '?'
 * (unknown option) and ':' (missing argument), read from optopt and
 * argv[optind - 1]. Returns 1 when handled, 0 when c is not shared, or
 * -CLI_USAGE after printing the one-line reason.
 */
int cli_common_option(struct cli_opts *o, int c, const char *arg, char **argv);

/* Prints "mtredis <cmd>: <reason> (see 'mtredis <cmd> --help')" and
 * returns CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prints "mtredis <cmd>: <text>" on stderr. */
void cli_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parses a decimal integer in [min, max] (no sign, no suffix, no
 * spaces). Returns 0 or EINVAL / ERANGE. */
int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Creates the pool (every thread with SIGINT/SIGTERM blocked) and opens
 * the client on o->uri. Returns CLI_OK, CLI_USAGE after "bad URI: <why>"
 * (mt_redis_open said EINVAL), or CLI_FAILED after "cannot connect:
 * <why>"; on failure nothing is left open.
 */
int cli_open(struct cli_opts *o, mt_redis **out /* OUT */);

/* Closes the client and destroys the pool cli_open made. */
void cli_close(struct cli_opts *o, mt_redis *r);

/*
 * Installs `handler` for SIGINT and SIGTERM (no SA_RESTART), and blocks
 * both signals on the calling thread, so every thread created afterwards
 * starts with them blocked; cli_signals_unblock then lets them in on the
 * calling (main) thread only.
 */
void cli_signals_install(void (*handler)(int sig));
void cli_signals_unblock(void);

/*
 * Async-signal-safe: ends the process at once with `code`, as _exit(2)
 * does. It calls exit_group directly: under ThreadSanitizer _exit runs
 * the sanitizer's finaliser, which would report a helper thread that had
 * finished but was not joined yet when the signal came as a leak; the
 * process is going away whole, so there is nothing to join.
 */
void cli_exit_now(int code) __attribute__((noreturn));

/* Async-signal-safe: writes s (NUL-terminated) to stderr. */
void cli_write_str(const char *s);
/* Async-signal-safe: writes the decimal n to stderr. */
void cli_write_u64(uint64_t n);

/* A monotonic clock in seconds. */
double cli_now(void);

/* Subcommands: main.c dispatches argv[1..] to these. Each returns its
 * exit code. */
int cli_load(int argc, char **argv);
int cli_dump(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_demo(int argc, char **argv);

#endif /* MTPOOL_REDIS_CLI_CLI_H */
