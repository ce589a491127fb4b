/*
 * tests/cli/test_tty.c: the progress line on a real terminal. tmux runs
 * mtredis in a detached 120x30 pane of a tmux server of the test's own
 * (its socket in a temporary folder); capture-pane reads the screen.
 * Every wait polls the screen with a bound (the test's .timeout), never a
 * fixed sleep. Also: nothing is drawn when stderr is not a terminal, and
 * Ctrl-C typed at the terminal stops a load with exit 130.
 */
#define _GNU_SOURCE
#include "cli_test.h"
#include "../common/mt_guard.h"

#include <stdarg.h>
#include <sys/stat.h>

struct tty {
	char dir[64];  /* mkdtemp: tmux socket, fifo */
	char sock[96]; /* tmux -S */
	char fifo[96]; /* the input of mtredis load */
	pid_t guard;   /* stops tmux and removes dir if the test dies */
};

static void tmux(const struct tty *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Runs `tmux -S sock <args>` (args through sh: the test's own strings). */
static void tmux(const struct tty *t, const char *fmt, ...)
{
	char args[2048], cmd[2300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof cmd, "tmux -S %s %s", t->sock, args);
	int rc = system(cmd);
	cr_assert_eq(rc, 0, "%s: %d", cmd, rc);
}

/* The pane's text now (NUL-terminated; free it). */
static char *screen(const struct tty *t)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "tmux -S %s capture-pane -p -t demo",
		 t->sock);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	size_t got;
	while ((got = fread(buf + n, 1, cap - n - 1, p)) > 0)
		n += got;
	buf[n] = '\0';
	pclose(p);
	return buf;
}

/* Polls the screen until it contains `text`; returns that screen. */
static char *wait_screen(const struct tty *t, const char *text)
{
	for (;;) {
		char *s = screen(t);
		if (strstr(s, text) != NULL)
			return s;
		free(s);
		cli_pause();
	}
}

/* The folder with the tmux socket and the fifo. */
static void tty_init(struct tty *t)
{
	snprintf(t->dir, sizeof t->dir, "/tmp/mtredis-tty.XXXXXX");
	cr_assert_not_null(mkdtemp(t->dir));
	snprintf(t->sock, sizeof t->sock, "%s/tmux.sock", t->dir);
	snprintf(t->fifo, sizeof t->fifo, "%s/input", t->dir);
	cr_assert_eq(mkfifo(t->fifo, 0600), 0);
	/* tmux's server is a daemon: nothing else stops it after a failed
	 * assertion or a timeout. */
	char cmd[256];
	snprintf(cmd, sizeof cmd,
		 "tmux -S %s kill-server 2>/dev/null; rm -rf %s", t->sock,
		 t->dir);
	t->guard = mt_test_guard_start(cmd);
}

/* Starts `command` in a 120x30 pane; the shell ignores SIGINT (mtredis
 * installs its own handler), prints the exit status and keeps the pane. */
static void tty_run(struct tty *t, const char *command)
{
	char *cmd;
	cr_assert_gt(asprintf(&cmd,
			      "new-session -d -s demo -x 120 -y 30 "
			      "\"trap '' INT; %s; echo EXIT=\\$?; exec cat\"",
			      command),
		     0);
	tmux(t, "-f /dev/null %s", cmd);
	free(cmd);
}

static void tty_stop(struct tty *t)
{
	tmux(t, "kill-server");
	unlink(t->fifo);
	unlink(t->sock);
	rmdir(t->dir);
	mt_test_guard_end(t->guard);
}

/* n lines "k<i>\t<64 bytes>\n". */
static char *lines(size_t from, size_t n, size_t *len)
{
	char *buf = malloc(n * 90 + 1), *w = buf;
	for (size_t i = from; i < from + n; i++)
		w += sprintf(w, "k%zu\t%064zu\n", i, i);
	*len = (size_t)(w - buf);
	return buf;
}

/* Runs `mtredis load --uri <s>` in the terminal, reading the fifo, and
 * returns the fifo's write end (the open waits for the shell's <). */
static int tty_load(struct tty *t, const struct mt_test_redis *s)
{
	tty_init(t);
	char command[512];
	snprintf(command, sizeof command, "%s load --uri %s < %s", MTREDIS_PATH,
		 s->tcp_uri, t->fifo);
	tty_run(t, command);
	int fd = open(t->fifo, O_WRONLY);
	cr_assert_geq(fd, 0);
	return fd;
}

/* No line of the screen starts with the progress text "load: ". */
static int progress_erased(const char *s)
{
	return strncmp(s, "load: ", 6) != 0 && strstr(s, "\nload: ") == NULL;
}

Test(tty, load_draws_progress_in_place_and_erases_it, .timeout = 120)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s, NULL);
	struct tty t;
	int fd = tty_load(&t, &s);
	size_t len;
	char *in = lines(0, 2000, &len);
	cr_assert_eq(write(fd, in, len), (ssize_t)len);
	/* Stdin is a pipe: no total, so items and rate only. */
	char *scr = wait_screen(&t, "load: 2,000 keys");
	cr_assert_not_null(strstr(scr, " keys/s"), "%s", scr);
	cr_assert_null(strstr(scr, "ETA"), "%s", scr);
	cr_assert_eq(cli_count(scr, "load: "), 1, "drawn in place: %s", scr);
	free(scr);
	close(fd); /* end of input: the load ends */
	scr = wait_screen(&t, "EXIT=");
	cr_assert_not_null(strstr(scr, "EXIT=0"), "%s", scr);
	cr_assert_not_null(strstr(scr, "mtredis load: 2,000 keys stored"), "%s",
			   scr);
	cr_assert(progress_erased(scr), "%s", scr);
	free(scr);
	free(in);
	tty_stop(&t);
	mt_test_redis_stop(&s);
}

Test(tty, load_of_a_file_shows_percent_and_eta, .timeout = 120)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s, NULL);
	redisContext *adm = mt_test_redis_admin(&s);
	size_t len;
	char *in = lines(0, MT_TEST_SANITIZED ? 80000 : 150000, &len);
	char *path = cli_temp_file(in, len);
	/* Writes stall (the normal clients' ones: the admin is exempt
	 * from nothing but reads still work), so the load stays on screen
	 * until the test has seen its line. */
	mt_test_redis_ok(adm, "CLIENT PAUSE 100000 WRITE");
	struct tty t;
	char command[512];
	snprintf(command, sizeof command,
		 "%s load --timeout 100000 --uri %s %s", MTREDIS_PATH,
		 s.tcp_uri, path);
	tty_init(&t);
	tty_run(&t, command);
	char *scr = wait_screen(&t, "ETA ");
	cr_assert_not_null(strstr(scr, "%  ETA"), "%s", scr);
	free(scr);
	mt_test_redis_ok(adm, "CLIENT UNPAUSE");
	scr = wait_screen(&t, "EXIT=");
	cr_assert_not_null(strstr(scr, "EXIT=0"), "%s", scr);
	cr_assert(progress_erased(scr), "%s", scr);
	free(scr);
	tty_stop(&t);
	unlink(path);
	free(path);
	free(in);
	redisFree(adm);
	mt_test_redis_stop(&s);
}

Test(tty, ctrl_c_typed_at_the_terminal_stops_a_load_with_130, .timeout = 120)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s, NULL);
	struct tty t;
	int fd = tty_load(&t, &s);
	size_t len;
	char *in = lines(0, 500, &len);
	cr_assert_eq(write(fd, in, len), (ssize_t)len);
	free(wait_screen(&t, "load: 500 keys"));
	tmux(&t, "send-keys -t demo C-c");
	char *scr = wait_screen(&t, "EXIT=");
	cr_assert_not_null(strstr(scr, "EXIT=130"), "%s", scr);
	cr_assert_not_null(strstr(scr, "interrupted: 500 keys stored"), "%s",
			   scr);
	free(scr);
	close(fd);
	free(in);
	tty_stop(&t);
	mt_test_redis_stop(&s);
}

Test(tty, nothing_is_drawn_when_stderr_is_not_a_terminal, .timeout = 60)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s, NULL);
	size_t len;
	char *in = lines(0, 20000, &len);
	struct run r;
	mtredis_run(&r, in, len, "load", "--uri", s.tcp_uri);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_null(memchr(r.err, '\r', r.errlen), "%s", r.err);
	cr_assert_null(strstr(r.err, "\033["), "%s", r.err);
	cr_assert_eq(cli_count(r.err, "\n"), 1, "one summary line: %s", r.err);
	run_free(&r);
	free(in);
	mt_test_redis_stop(&s);
}
