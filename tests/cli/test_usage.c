/*
 * tests/cli/test_usage.c: mtredis's conventions: --help, --version, exit
 * codes 2 for usage errors with a one-line reason, 1 for servers that
 * cannot be reached or refuse the password, and no message that ever
 * shows a password from a URI.
 */
#define _GNU_SOURCE
#include "cli_test.h"

#define SECRET "s3cr3t-Pw"

/* One line of text on stderr, naming the subcommand. */
static void assert_one_line(const struct run *r, const char *prefix)
{
	cr_assert_eq(cli_count(r->err, "\n"), 1, "stderr: %s", r->err);
	cr_assert_eq(strncmp(r->err, prefix, strlen(prefix)), 0, "%s", r->err);
}

Test(usage, help_prints_usage_on_stdout_and_exits_0, .timeout = 30)
{
	struct run r;
	mtredis_run(&r, NULL, 0, "--help");
	cr_assert_eq(r.status, 0);
	cr_assert_not_null(strstr(r.out, "usage: mtredis"));
	for (const char *const *s =
		     (const char *const[]){"load", "dump", "bench", "demo",
					   NULL};
	     *s; s++)
		cr_assert_not_null(strstr(r.out, *s), "%s", *s);
	cr_assert_eq(r.errlen, 0);
	run_free(&r);
}

Test(usage, every_subcommand_has_help_on_stdout, .timeout = 30)
{
	const char *cmds[] = {"load", "dump", "bench", "demo"};
	for (size_t i = 0; i < 4; i++) {
		struct run r;
		mtredis_run(&r, NULL, 0, cmds[i], "--help");
		cr_assert_eq(r.status, 0, "%s", cmds[i]);
		char want[64];
		snprintf(want, sizeof want, "usage: mtredis %s", cmds[i]);
		cr_assert_not_null(strstr(r.out, want), "%s", r.out);
		cr_assert_eq(r.errlen, 0, "%s", r.err);
		run_free(&r);
	}
}

Test(usage, version_names_mtredis_and_exits_0, .timeout = 30)
{
	struct run r;
	mtredis_run(&r, NULL, 0, "--version");
	cr_assert_eq(r.status, 0);
	cr_assert_eq(strncmp(r.out, "mtredis ", 8), 0, "%s", r.out);
	cr_assert_not_null(strstr(r.out, "hiredis 0.14"));
	run_free(&r);
}

Test(usage, no_subcommand_is_a_usage_error, .timeout = 30)
{
	struct run r;
	mtredis_run_env(&r, NULL, 0, NULL, (const char *const[]){NULL});
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.err, "usage: mtredis"));
	run_free(&r);
}

Test(usage, unknown_subcommand_exits_2_with_one_line, .timeout = 30)
{
	struct run r;
	mtredis_run(&r, NULL, 0, "lod");
	cr_assert_eq(r.status, 2);
	assert_one_line(&r, "mtredis: unknown subcommand 'lod'");
	run_free(&r);
}

Test(usage, unknown_option_exits_2_with_one_line, .timeout = 30)
{
	struct run r;
	mtredis_run(&r, NULL, 0, "load", "--fast");
	cr_assert_eq(r.status, 2);
	assert_one_line(&r, "mtredis load: unknown option '--fast'");
	run_free(&r);
	mtredis_run(&r, NULL, 0, "dump", "-x", "*");
	cr_assert_eq(r.status, 2);
	assert_one_line(&r, "mtredis dump: unknown option '-x'");
	run_free(&r);
}

Test(usage, option_without_its_value_exits_2, .timeout = 30)
{
	struct run r;
	mtredis_run(&r, NULL, 0, "load", "--ttl");
	cr_assert_eq(r.status, 2);
	assert_one_line(&r, "mtredis load: option '--ttl' needs a value");
	run_free(&r);
}

Test(usage, bad_ttl_exits_2_before_connecting, .timeout = 30)
{
	const char *bad[] = {"0", "-5", "1.5", "10s", "", "99999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct run r;
		/* Port 1 refuses: had it connected first, the exit would
		 * be 1, not 2. */
		mtredis_run(&r, "k\tv\n", 4, "load", "--uri",
			    "redis://127.0.0.1:1", "--ttl", bad[i]);
		cr_assert_eq(r.status, 2, "--ttl '%s': %s", bad[i], r.err);
		assert_one_line(&r, "mtredis load: bad --ttl");
		run_free(&r);
	}
}

Test(usage, bad_numbers_exit_2, .timeout = 30)
{
	struct run r;
	mtredis_run(&r, NULL, 0, "dump", "--timeout", "abc", "*");
	cr_assert_eq(r.status, 2);
	assert_one_line(&r, "mtredis dump: bad --timeout");
	run_free(&r);
	mtredis_run(&r, NULL, 0, "demo", "-n", "0");
	cr_assert_eq(r.status, 2);
	assert_one_line(&r, "mtredis demo: bad -n");
	run_free(&r);
}

Test(usage, dump_without_a_pattern_exits_2, .timeout = 30)
{
	struct run r;
	mtredis_run(&r, NULL, 0, "dump", "--uri", "redis://127.0.0.1:1");
	cr_assert_eq(r.status, 2);
	assert_one_line(&r, "mtredis dump: no PATTERN given");
	run_free(&r);
}

Test(usage, bad_uri_exits_2_and_never_shows_the_password, .timeout = 30)
{
	const char *uris[] = {
		"redis://user:" SECRET "@127.0.0.1:99999",
		"redis://:" SECRET "@127.0.0.1:6379/notadb",
		"http://:" SECRET "@127.0.0.1:6379",
		"redis://:" SECRET "@",
	};
	for (size_t i = 0; i < sizeof uris / sizeof *uris; i++) {
		struct run r;
		mtredis_run(&r, "k\tv\n", 4, "load", "--uri", uris[i]);
		cr_assert_eq(r.status, 2, "uri %zu: %s", i, r.err);
		assert_one_line(&r, "mtredis load: bad URI: ");
		cr_assert_null(strstr(r.err, SECRET), "%s", r.err);
		cr_assert_null(strstr(r.out, SECRET));
		run_free(&r);
	}
}

Test(usage, bad_uri_from_redis_url_exits_2_without_the_password, .timeout = 30)
{
	struct run r;
	mtredis_run_env(&r, NULL, 0,
			(const char *const[]){"REDIS_URL=redis://:" SECRET
					      "@127.0.0.1:0",
					      NULL},
			(const char *const[]){"dump", "*", NULL});
	cr_assert_eq(r.status, 2, "%s", r.err);
	cr_assert_null(strstr(r.err, SECRET), "%s", r.err);
	run_free(&r);
}

Test(usage, misplaced_uri_or_unknown_option_never_echoes_a_password,
     .timeout = 30)
{
	struct run r;
	mtredis_run(&r, NULL, 0, "redis://:" SECRET "@127.0.0.1:6379");
	cr_assert_eq(r.status, 2);
	cr_assert_null(strstr(r.err, SECRET), "%s", r.err);
	run_free(&r);
	mtredis_run(&r, NULL, 0, "load", "--url=redis://:" SECRET "@h");
	cr_assert_eq(r.status, 2);
	cr_assert_null(strstr(r.err, SECRET), "%s", r.err);
	run_free(&r);
	mtredis_run(&r, NULL, 0, "demo", "redis://:" SECRET "@h");
	cr_assert_eq(r.status, 2);
	cr_assert_null(strstr(r.err, SECRET), "%s", r.err);
	run_free(&r);
}

Test(usage, unreachable_server_exits_1, .timeout = 60)
{
	struct run r;
	mtredis_run(&r, "k\tv\n", 4, "load", "--uri", "redis://127.0.0.1:1");
	cr_assert_eq(r.status, 1, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "mtredis load: cannot connect"));
	run_free(&r);
}

Test(usage, wrong_password_exits_1_without_the_password, .timeout = 60)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s, (const char *[]){"--requirepass", "right-pw",
						 NULL});
	char uri[128];
	snprintf(uri, sizeof uri, "redis://:" SECRET "@127.0.0.1:%d", s.port);
	struct run r;
	mtredis_run(&r, "k\tv\n", 4, "load", "--uri", uri);
	cr_assert_eq(r.status, 1, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "cannot connect"), "%s", r.err);
	cr_assert_null(strstr(r.err, SECRET), "%s", r.err);
	run_free(&r);
	snprintf(uri, sizeof uri, "redis://:right-pw@127.0.0.1:%d", s.port);
	mtredis_run(&r, "k\tv\n", 4, "load", "-q", "--uri", uri);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(r.errlen, 0, "%s", r.err);
	run_free(&r);
	mt_test_redis_stop(&s);
}

Test(usage, uri_defaults_to_redis_url, .timeout = 60)
{
	struct mt_test_redis s;
	mt_test_redis_start(&s, NULL);
	char env[256];
	snprintf(env, sizeof env, "REDIS_URL=%s", s.unix_uri);
	struct run r;
	mtredis_run_env(&r, "from\tenv\n", 9, (const char *const[]){env, NULL},
			(const char *const[]){"load", "-q", NULL});
	cr_assert_eq(r.status, 0, "%s", r.err);
	redisContext *adm = mt_test_redis_admin(&s);
	redisReply *v = mt_test_redis_cmd(adm, "GET from");
	cr_assert_str_eq(v->str, "env");
	freeReplyObject(v);
	redisFree(adm);
	run_free(&r);
	mt_test_redis_stop(&s);
}
