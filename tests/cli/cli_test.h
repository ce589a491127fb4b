/*
 * tests/cli/cli_test.h: running the built mtredis from Criterion tests.
 *
 * Header-only (`static inline`), included by the tests/cli/ end-to-end tests.
 * mtredis_run() runs MTREDIS_PATH (a compile definition: the binary CMake
 * built) with the given arguments, standard input from a byte string, and
 * returns its exit status with everything it wrote on stdout and stderr;
 * every run also asserts that stderr holds no sanitizer report (the
 * binary is built with the same sanitizer as the test). mtredis_spawn()
 * starts it in the background with pipes, for the signal tests.
 *
 * The including file defines _GNU_SOURCE before any include.
 */
#ifndef MTPOOL_TESTS_CLI_CLI_TEST_H
#define MTPOOL_TESTS_CLI_CLI_TEST_H

#include "../common/mt_test.h"
#include "../common/redis_server.h"

#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MTREDIS_PATH
#error "MTREDIS_PATH must name the mtredis binary (CMake defines it)"
#endif

struct run {
	int status; /* exit code, or 128 + signal */
	char *out;  /* stdout, NUL-terminated (may contain NULs) */
	size_t outlen;
	char *err; /* stderr, NUL-terminated */
	size_t errlen;
};

/* A temporary file holding `len` bytes; returns its path (free it). */
static inline char *cli_temp_file(const void *data, size_t len)
{
	char *path = strdup("/tmp/mtredis-test.XXXXXX");
	cr_assert_not_null(path);
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		cr_assert_gt(n, 0, "write: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	close(fd);
	return path;
}

/* Reads a whole file (NUL-terminated copy); *len receives its size. */
static inline char *cli_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	cr_assert_not_null(buf);
	size_t got;
	while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (cap - n < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
			cr_assert_not_null(buf);
		}
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static inline int cli_wait_status(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		cr_assert_eq(errno, EINTR);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static inline void cli_assert_clean(const struct run *r)
{
	cr_assert_null(strstr(r->err, "Sanitizer"), "sanitizer: %s", r->err);
	cr_assert_null(strstr(r->err, "runtime error"), "ubsan: %s", r->err);
}

/* The child side: stdin/stdout/stderr from the given descriptors, an env
 * entry or two, then exec. */
static inline void cli_exec(const char *const *args, int in, int out, int err,
			    const char *const *env)
{
	dup2(in, 0);
	dup2(out, 1);
	dup2(err, 2);
	for (; env != NULL && *env != NULL; env++)
		putenv((char *)*env);
	int n = 0;
	while (args[n] != NULL)
		n++;
	char **argv = calloc((size_t)n + 2, sizeof *argv);
	argv[0] = (char *)MTREDIS_PATH;
	for (int i = 0; i < n; i++)
		argv[i + 1] = (char *)args[i];
	execv(MTREDIS_PATH, argv);
	_exit(127);
}

/*
 * Runs mtredis args... (NULL-terminated, argv[0] excluded) with `input`
 * (may be NULL: /dev/null) on stdin and `env` (NULL-terminated "K=V"
 * strings, may be NULL) added to the environment. Fills *r.
 */
static inline void mtredis_run_env(struct run *r, const void *input,
				   size_t inlen, const char *const *env,
				   const char *const *args)
{
	char *in = cli_temp_file(input ? input : "", input ? inlen : 0);
	char *out = cli_temp_file("", 0), *err = cli_temp_file("", 0);
	int fi = open(in, O_RDONLY), fo = open(out, O_WRONLY | O_TRUNC),
	    fe = open(err, O_WRONLY | O_TRUNC);
	cr_assert(fi >= 0 && fo >= 0 && fe >= 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		cli_exec(args, fi, fo, fe, env);
	close(fi);
	close(fo);
	close(fe);
	r->status = cli_wait_status(pid);
	r->out = cli_slurp(out, &r->outlen);
	r->err = cli_slurp(err, &r->errlen);
	unlink(in);
	unlink(out);
	unlink(err);
	free(in);
	free(out);
	free(err);
	cli_assert_clean(r);
}

#define mtredis_run(r, input, inlen, ...)      \
	mtredis_run_env(r, input, inlen, NULL, \
			(const char *const[]){__VA_ARGS__, NULL})

static inline void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* A background mtredis: its stdin is the write end `in` (-1 when stdin
 * is /dev/null), its stdout the read end `out`, its stderr a file. */
struct bg {
	pid_t pid;
	int in, out;
	char *errpath;
};

static inline void mtredis_spawn(struct bg *b, int with_stdin,
				 const char *const *env,
				 const char *const *args)
{
	int pin[2], pout[2];
	cr_assert_eq(pipe2(pin, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(pout, O_CLOEXEC), 0);
	b->errpath = cli_temp_file("", 0);
	int fe = open(b->errpath, O_WRONLY | O_TRUNC | O_CLOEXEC);
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	b->pid = fork();
	cr_assert_geq(b->pid, 0);
	if (b->pid == 0)
		cli_exec(args, with_stdin ? pin[0] : devnull, pout[1], fe, env);
	close(pin[0]);
	close(pout[1]);
	close(fe);
	close(devnull);
	if (!with_stdin)
		close(pin[1]);
	b->in = with_stdin ? pin[1] : -1;
	b->out = pout[0];
}

/* Waits for a background mtredis; returns its status and its stderr. */
static inline int bg_wait(struct bg *b, char **err)
{
	if (b->in >= 0)
		close(b->in);
	int st = cli_wait_status(b->pid);
	size_t len;
	*err = cli_slurp(b->errpath, &len);
	unlink(b->errpath);
	free(b->errpath);
	close(b->out);
	struct run r = {.err = *err};
	cli_assert_clean(&r);
	return st;
}

/* Sleeps a little between polls of a condition (never as an assertion:
 * every poll loop is bounded by the test's .timeout). */
static inline void cli_pause(void)
{
	struct timespec t = {.tv_sec = 0, .tv_nsec = 5000000};
	nanosleep(&t, NULL);
}

/* Number of occurrences of `needle` in s. */
static inline size_t cli_count(const char *s, const char *needle)
{
	size_t n = 0;
	while ((s = strstr(s, needle)) != NULL) {
		n++;
		s += strlen(needle);
	}
	return n;
}

/* Entries of a folder, "." and ".." not counted. */
static inline int cli_dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	cr_assert_not_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 &&
		     strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

/* Whether pid is gone, or a zombie nobody reaped yet (it runs no more
 * either way). */
static inline int cli_process_gone(pid_t pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *close_paren = strrchr(buf, ')');
	return close_paren != NULL && close_paren[2] == 'Z';
}

#endif /* MTPOOL_TESTS_CLI_CLI_TEST_H */
