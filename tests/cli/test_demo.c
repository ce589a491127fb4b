/*
 * tests/cli/test_demo.c: `mtredis demo` runs every step correctly against
 * its private server and leaves nothing behind: no redis-server process
 * and no folder, after a normal run, after Ctrl-C or SIGTERM mid-demo;
 * after SIGKILL the kernel still kills the server (PR_SET_PDEATHSIG). A
 * missing redis-server gets a clear message and exit 1.
 */
#define _GNU_SOURCE
#include "cli_test.h"

/* A private TMPDIR, so the test sees exactly the demo's folder. */
static void make_tmpdir(char *dir, size_t len, char *env, size_t envlen)
{
	snprintf(dir, len, "/tmp/mtredis-demo-test.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(env, envlen, "TMPDIR=%s", dir);
}

static pid_t server_pid_in(const char *out)
{
	const char *p = strstr(out, "redis-server (pid ");
	cr_assert_not_null(p, "%s", out);
	return (pid_t)atoi(p + strlen("redis-server (pid "));
}

Test(demo, runs_every_step_and_leaves_no_server_or_folder, .timeout = 180)
{
	char dir[64], env[96];
	make_tmpdir(dir, sizeof dir, env, sizeof env);
	struct run r;
	mtredis_run_env(&r, NULL, 0, (const char *const[]){env, NULL},
			(const char *const[]){"demo", "-n", "3000", NULL});
	cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
	const char *steps[] = {"background model saves",
			       "fire-and-forget publish",
			       "bulk load",
			       "ordered bulk read",
			       "multi-pattern query",
			       "Python's way",
			       "all steps correct"};
	for (size_t i = 0; i < sizeof steps / sizeof *steps; i++)
		cr_assert_not_null(strstr(r.out, steps[i]), "%s: %s", steps[i],
				   r.out);
	cr_assert(cli_process_gone(server_pid_in(r.out)));
	cr_assert_eq(cli_dir_entries(dir), 0, "the demo's folder is left in %s",
		     dir);
	run_free(&r);
	rmdir(dir);
}

/* Reads the demo's stdout until `text` is there; returns the server's
 * PID from its first line. */
static pid_t wait_output(struct bg *b, const char *text, char *buf, size_t len)
{
	size_t n = 0;
	while (n < len - 1) {
		ssize_t got = read(b->out, buf + n, len - 1 - n);
		cr_assert_gt(got, 0, "the demo ended early: %s", buf);
		n += (size_t)got;
		buf[n] = '\0';
		if (strstr(buf, text) && strchr(strstr(buf, text), '\n'))
			return server_pid_in(buf);
	}
	cr_assert_fail("no '%s' in: %s", text, buf);
	return 0;
}

/* Keys of the demos that get a signal: enough that the steps last far
 * longer than the signal takes to arrive. */
#define BIG_N "100000"

static void signal_mid_demo(int sig)
{
	char dir[64], env[96], out[4096];
	make_tmpdir(dir, sizeof dir, env, sizeof env);
	struct bg b;
	mtredis_spawn(&b, 0, (const char *const[]){env, NULL},
		      (const char *const[]){"demo", "-n", BIG_N, NULL});
	/* Mid-step: the saves are done, the publish step is running. */
	pid_t server =
		wait_output(&b, "background model saves", out, sizeof out);
	cr_assert_eq(cli_dir_entries(dir), 1);
	cr_assert_eq(kill(b.pid, sig), 0);
	char *err;
	cr_assert_eq(bg_wait(&b, &err), 128 + sig, "%s", err);
	cr_assert(cli_process_gone(server));
	cr_assert_eq(cli_dir_entries(dir), 0, "folder left in %s", dir);
	free(err);
	rmdir(dir);
}

Test(demo, ctrl_c_mid_demo_stops_the_server_and_removes_the_folder,
     .timeout = 120)
{
	signal_mid_demo(SIGINT);
}

Test(demo, sigterm_mid_demo_stops_the_server_and_removes_the_folder,
     .timeout = 120)
{
	signal_mid_demo(SIGTERM);
}

Test(demo, a_reader_that_goes_away_ends_it_without_leftovers, .timeout = 120)
{
	char dir[64], env[96], out[4096];
	make_tmpdir(dir, sizeof dir, env, sizeof env);
	struct bg b;
	mtredis_spawn(&b, 0, (const char *const[]){env, NULL},
		      (const char *const[]){"demo", "-n", BIG_N, NULL});
	pid_t server = wait_output(&b, "helper at work", out, sizeof out);
	close(b.out); /* `mtredis demo | head -3` */
	b.out = open("/dev/null", O_RDONLY);
	char *err;
	cr_assert_eq(bg_wait(&b, &err), 128 + SIGPIPE, "%s", err);
	cr_assert(cli_process_gone(server));
	cr_assert_eq(cli_dir_entries(dir), 0, "folder left in %s", dir);
	free(err);
	rmdir(dir);
}

Test(demo, sigkill_of_the_demo_still_kills_its_server, .timeout = 120)
{
	char dir[64], env[96], out[4096];
	make_tmpdir(dir, sizeof dir, env, sizeof env);
	struct bg b;
	mtredis_spawn(&b, 0, (const char *const[]){env, NULL},
		      (const char *const[]){"demo", "-n", BIG_N, NULL});
	pid_t server = wait_output(&b, "redis-server (pid ", out, sizeof out);
	cr_assert_eq(kill(b.pid, SIGKILL), 0);
	char *err;
	cr_assert_eq(bg_wait(&b, &err), 128 + SIGKILL);
	while (!cli_process_gone(server)) /* PR_SET_PDEATHSIG: SIGKILL */
		cli_pause();
	free(err);
	/* Only the folder is left in this case (docs/mtredis.md). */
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(demo, missing_redis_server_is_a_clear_error, .timeout = 60)
{
	char dir[64], env[96];
	make_tmpdir(dir, sizeof dir, env, sizeof env);
	struct run r;
	mtredis_run_env(&r, NULL, 0,
			(const char *const[]){env, "PATH=/nonexistent", NULL},
			(const char *const[]){"demo", NULL});
	cr_assert_eq(r.status, 1, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "mtredis demo: redis-server not "
					 "found on PATH"),
			   "%s", r.err);
	cr_assert_eq(cli_dir_entries(dir), 0);
	run_free(&r);
	rmdir(dir);
}

Test(demo, with_uri_runs_on_that_server_and_deletes_its_keys, .timeout = 120)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s, NULL);
	redisContext *adm = mt_test_redis_admin(&s);
	mt_test_redis_ok(adm, "SET keep:me precious");
	struct run r;
	mtredis_run(&r, NULL, 0, "demo", "--uri", s.tcp_uri, "-n", "3000");
	cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
	cr_assert_not_null(strstr(r.out, "all steps correct"), "%s", r.out);
	cr_assert_null(strstr(r.out, "redis-server (pid"), "%s", r.out);
	cr_assert_eq(mt_test_redis_int(adm, "DBSIZE"), 1, "%s", r.out);
	cr_assert_eq(mt_test_redis_int(adm, "EXISTS keep:me"), 1);
	run_free(&r);
	redisFree(adm);
	mt_test_redis_stop(&s);
}
