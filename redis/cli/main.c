/*
 * redis/cli/main.c: `mtredis`, the command-line tool on the Redis bulk
 * helpers of <mtpool/redis.h> (docs/mtredis.md).
 *
 * Overview
 * ========
 *   mtredis load  [--uri URI] [--ttl SECONDS] [FILE...|-]
 *   mtredis dump  [--uri URI] PATTERN...
 *   mtredis bench [--uri URI] [-n N]
 *   mtredis demo  [--uri URI] [-n N]
 * This file dispatches to the subcommands (load.c, dump.c, bench.c,
 * demo.c) and answers --help and --version; cli.h holds what they share
 * (exit codes, options, signals). The tool uses public headers only.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: mtredis [--help | --version] SUBCOMMAND [OPTIONS] [ARGS]\n"
	"\n"
	"Bulk-load and dump Redis at the server's ceiling, on the mtpool\n"
	"Redis helpers (parallel pipelines, one connection per worker).\n"
	"\n"
	"Subcommands:\n"
	"  load   [--uri URI] [--ttl SECONDS] [FILE...|-]\n"
	"         store the lines key<TAB>value of the files (or stdin)\n"
	"  dump   [--uri URI] PATTERN...\n"
	"         write every key matching a pattern, of any type, with its\n"
	"         TTL, in the load format: dump | load round-trips\n"
	"  bench  [--uri URI] [-n N]\n"
	"         the library's bulk workloads against a server, as a table\n"
	"  demo   [--uri URI] [-n N]\n"
	"         start a private redis-server and show every helper at work\n"
	"\n"
	"'mtredis SUBCOMMAND --help' describes each one. The server is\n"
	"--uri, else $REDIS_URL, else " CLI_DEFAULT_URI ":\n"
	"  redis://[[user]:password@]host[:port][/db]\n"
	"  unix:///path/to/socket[?db=N]\n"
	"Exit status: 0 success, 1 operation errors, 2 usage errors,\n"
	"130 interrupted. Documentation: docs/mtredis.md.\n";

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} subcommands[] = {
	{"load", cli_load},
	{"dump", cli_dump},
	{"bench", cli_bench},
	{"demo", cli_demo},
};

static int version(void)
{
	printf("mtredis %d.%d.%d (mtpool %d.%d.%d, hiredis %d.%d.%d)\n",
	       MTPOOL_VERSION_MAJOR, MTPOOL_VERSION_MINOR, MTPOOL_VERSION_PATCH,
	       MTPOOL_VERSION_MAJOR, MTPOOL_VERSION_MINOR, MTPOOL_VERSION_PATCH,
	       HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
	return CLI_OK;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return CLI_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "help") == 0) {
		fputs(usage, stdout);
		return CLI_OK;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0)
		return version();
	for (size_t i = 0; i < sizeof subcommands / sizeof *subcommands; i++)
		if (strcmp(cmd, subcommands[i].name) == 0)
			return subcommands[i].run(argc - 1, argv + 1);
	/* Up to a '=' only, and never a URI: an unknown --uri=... or a URI
	 * given in place of the subcommand must not echo a password. */
	int n = strstr(cmd, "://") ? 0 : (int)strcspn(cmd, "=");
	fprintf(stderr, "mtredis: unknown %s '%.*s' (see 'mtredis --help')\n",
		cmd[0] == '-' ? "option" : "subcommand", n < 64 ? n : 64, cmd);
	return CLI_USAGE;
}
