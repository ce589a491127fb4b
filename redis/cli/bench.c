/*
 * redis/cli/bench.c: `mtredis bench [--uri URI] [-n N]`.
 *
 * Placeholder until the bench workloads library (bench/redis/) is merged:
 * the options are parsed and checked, then it says what is missing.
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>

static const char help[] =
	"usage: mtredis bench [--uri URI] [-n N]\n"
	"\n"
	"Runs the library's bulk workloads against the server and prints a\n"
	"table: ops/s of each helper, and the one-round-trip-per-key way\n"
	"beside it. WARNING: writes and deletes keys under 'bench:'.\n"
	"\n"
	"Options:\n"
	"  --uri URI        server (default $REDIS_URL, else " CLI_DEFAULT_URI
	")\n"
	"  -n N             keys per workload (default 1000000)\n"
	"  --timeout MS     command timeout in milliseconds (default 5000)\n"
	"  -h, --help       this text\n";

int cli_bench(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{0, 0, 0, 0},
	};
	struct cli_opts o;
	uint64_t n;
	int c;
	cli_opts_init(&o, "bench");
	optind = 1;
	while ((c = getopt_long(argc, argv, ":qhn:", longopts, NULL)) != -1) {
		int rc = cli_common_option(&o, c, optarg, argv);
		if (rc < 0)
			return -rc;
		if (c == 'h') {
			fputs(help, stdout);
			return CLI_OK;
		}
		if (c == 'n' && cli_parse_u64(optarg, 1, 100000000, &n) != 0)
			return cli_usage(o.cmd, "bad -n '%s'", optarg);
	}
	cli_error(o.cmd, "the bench workloads are not built in yet");
	return CLI_FAILED;
}
