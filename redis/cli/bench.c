/*
 * redis/cli/bench.c: `mtredis bench [--uri URI] [-n N] [--reps R]`.
 *
 * Runs the library's bulk workloads (bench/redis/workloads.h, the same
 * code as the project's redis_bench, without its plain-hiredis baselines)
 * against the server and prints them as a table: items per second of
 * each helper, the server's CPU share, and the one-round-trip-per-key way
 * (the Python original's) beside each with the ratio. The server is
 * someone else's: the bench deletes the keys it wrote ("rb:*",
 * "rbUser:*" and the model's index keys) instead of flushing.
 */
#include "cli.h"
#include "workloads.h"

#include <errno.h>
#include <getopt.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

static const char help[] =
	"usage: mtredis bench [--uri URI] [-n N] [--reps R]\n"
	"\n"
	"Runs the library's bulk workloads against the server and prints a\n"
	"table: SET and GET of N keys (64-byte values), PUBLISH to a\n"
	"subscriber that counts, model saves, background saves from 4\n"
	"threads, a 4-pattern key collection; each with items/s, the\n"
	"server's CPU share (1.0 = its one core busy) and, beside it, the\n"
	"one-round-trip-per-key way with the ratio. The keys it writes\n"
	"start with 'rb:' or 'rbUser:' and are deleted afterwards.\n"
	"\n"
	"Options:\n"
	"  --uri URI        server (default $REDIS_URL, else " CLI_DEFAULT_URI
	")\n"
	"  -n N             keys of SET/GET/SCAN (default 1000000; the\n"
	"                   other workloads scale with it)\n"
	"  --reps R         runs behind each median (default 1)\n"
	"  --timeout MS     command timeout in milliseconds (default 5000)\n"
	"  -h, --help       this text\n"
	"\n"
	"Exit status: 0, 1 when a workload failed or came back wrong,\n"
	"2 usage error.\n";

struct bench_args {
	uint64_t n, reps;
};

static int parse_args(struct cli_opts *o, int argc, char **argv,
		      struct bench_args *a)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{"reps", required_argument, NULL, 'r'},
		{0, 0, 0, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":qhn:", longopts, NULL)) != -1) {
		int rc = cli_common_option(o, c, optarg, argv);
		if (rc < 0)
			return -rc;
		if (c == 'h') {
			fputs(help, stdout);
			return -1;
		}
		if (c == 'n' && cli_parse_u64(optarg, 1, 100000000, &a->n))
			return cli_usage(o->cmd,
					 "bad -n '%s': want 1 to "
					 "100000000",
					 optarg);
		if (c == 'r' && cli_parse_u64(optarg, 1, 100, &a->reps))
			return cli_usage(o->cmd,
					 "bad --reps '%s': want 1 to 100",
					 optarg);
	}
	if (optind < argc)
		return cli_usage(o->cmd, "unexpected argument");
	return 0;
}

static int run(struct cli_opts *o, mt_redis *r, const struct bench_args *a)
{
	struct rb_config cfg = {.uri = o->uri,
				.sizes = rb_sizes_for((size_t)a->n),
				.reps = (unsigned)a->reps};
	rb_bench *b;
	char why[MT_REDIS_ERRLEN] = "";
	int err = rb_bench_open(&b, r, &cfg, why, sizeof why);
	if (err != 0) {
		cli_error(o->cmd, "%s", why[0] ? why : strerror(err));
		return CLI_FAILED;
	}
	cli_signals_unblock();
	err = rb_run_table(b, NULL, stdout);
	/* The last rows leave their keys: a foreign server gets them
	 * deleted (own_server is 0, so this never flushes). */
	int clean = rb_state_set(b, RB_EMPTY);
	rb_bench_close(b);
	if (clean != 0)
		cli_error(o->cmd,
			  "could not delete the bench's keys (rb:*, "
			  "rbUser:*): %s",
			  strerror(clean));
	if (err != 0)
		cli_error(o->cmd, "some workload failed or came back wrong");
	return err ? CLI_FAILED : CLI_OK;
}

/* Ctrl-C: the table so far is printed; the keys written stay. */
static void on_signal(int sig)
{
	cli_write_str("\nmtredis bench: interrupted; its keys (rb:*, rbUser:*) "
		      "may be left on the server\n");
	cli_exit_now(128 + sig);
}

int cli_bench(int argc, char **argv)
{
	struct cli_opts o;
	struct bench_args a = {.n = 1000000, .reps = 1};
	cli_opts_init(&o, "bench");
	int rc = parse_args(&o, argc, argv, &a);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	cli_signals_install(on_signal);
	mt_redis *r = NULL;
	rc = cli_open(&o, &r);
	if (rc == CLI_OK)
		rc = run(&o, r, &a);
	cli_close(&o, r);
	return rc;
}
