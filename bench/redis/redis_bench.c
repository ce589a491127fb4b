/*
 * redis_bench: the Redis workloads of issue 7, each timed on the library
 * and, in the same run against the same server, on plain-hiredis
 * baselines and the one-round-trip-per-key way.
 *
 * Overview
 * ========
 * Groups, in this order (the keyspace SET leaves serves GET and SCAN):
 *   SET         1,000,000 keys, 64-byte values;
 *   GET         the same keys, in the order written;
 *   SCAN        4 patterns over those 1,000,000 keys;
 *   PUBLISH     200,000 messages, a subscriber counting what arrives;
 *   MODEL SAVE  200,000 models (HSET 5 fields + SADD + ZADD + PEXPIRE);
 *   BG SAVE     200,000 mt_redis_save_async from 4 threads, then flush.
 * Each group's rows (library, baselines, one round trip per key) are run
 * in turn, repetition by repetition, so that the machine's drift hits all
 * of them alike; a row's figure is the median of --reps runs. Below each
 * group the targets are printed met or missed with their figures:
 * the library at least as fast as the best baseline of the group, at least
 * 20x the one-round-trip-per-key way, and background saves at least 0.8x
 * the blocking bulk save.
 *
 * Usage
 * =====
 *   redis_bench (--host H --port P | --socket PATH) [--server-pid PID]
 *               [--quick] [-n N] [--reps N] [--rtt-n N] [--threads N]
 *               [--rtt-threads N] [--only LIST] [--csv FILE]
 *               [--timeout SEC] [--strict] [--window N] [--chunk N]
 * bench/redis.sh starts a server of its own and runs this against it.
 * The server is emptied (FLUSHALL) between runs: never point this at a
 * server whose data you want.
 *
 * Exit status: 0; 1 when a result was wrong (an item failed, a value read
 * back wrong, a key missing from a scan, a message not delivered) or a
 * call failed; 2 for a usage error or when the watchdog fired; 3 with
 * --strict when a target was missed.
 *
 * Implementation notes
 * ====================
 * The library rows and the one-round-trip-per-key rows live in
 * workloads.c (shared with `mtredis bench`); the hiredis baselines in
 * baselines.c. Rows that report ENOSYS print "N/A (not implemented yet)".
 */
#define _GNU_SOURCE

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "baselines.h"
#include "workloads.h"

#define MAX_ROWS 16
#define MAX_REPS 100u

/* A group: its name in the table and its key for --only. */
struct group {
	const char *name, *key;
};

static const struct group groups[] = {
	{"SET", "set"},
	{"GET", "get"},
	{"SCAN 4 patterns", "scan"},
	{"PUBLISH", "publish"},
	{"MODEL SAVE", "model"},
	{"BG SAVE", "bg"},
};
#define NGROUPS (sizeof groups / sizeof groups[0])

struct options {
	const char *host, *path, *csv, *only;
	int port;
	long server_pid;
	size_t keys, rtt_n; /* -n, --rtt-n; 0 = not given */
	struct rb_sizes sizes;
	unsigned reps, threads, rtt_threads, timeout_s;
	unsigned window, chunk; /* the library's options; 0 = its default */
	int quick, strict;
};

/* One row of a group: a library workload or a baseline. */
struct row {
	const struct rb_workload *w; /* or */
	const struct baseline *bl;
	struct rb_sample s[MAX_REPS];
	unsigned ns;
	int err;
	struct rb_row out;
};

static struct options opt;
static FILE *csv;
static int wrong;  /* a wrong result or a failed call */
static int missed; /* a target missed */
/* The library's rate of the MODEL SAVE group, for BG SAVE's target. */
static double model_save_rate = NAN, model_rtt_rate = NAN;
static const char *volatile stage = "start-up";

/* ------------------------------------------------------ the options */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: redis_bench (--host H --port P | --socket PATH)\n"
		"         [--server-pid PID] [--quick] [-n KEYS] [--reps N]\n"
		"         [--rtt-n N] [--threads N] [--rtt-threads N]\n"
		"         [--only set,get,scan,publish,model,bg] [--csv FILE]\n"
		"         [--timeout SEC] [--strict] [--window N] [--chunk N]\n"
		"  -n KEYS   keys of SET/GET/SCAN (1000000); messages and\n"
		"            models are KEYS/5\n"
		"  --quick   20000 keys, 5000 messages and models, 1000 for\n"
		"            the one-round-trip way\n"
		"  --threads N  the library's pool (default: online CPUs)\n"
		"  --window N, --chunk N  the library's pipeline window and\n"
		"            keys per MGET/MSET (default: the library's)\n"
		"The server is FLUSHALLed between runs: use a server of your\n"
		"own (bench/redis.sh starts one).\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > max || s[0] == '-')
		return EINVAL;
	*out = v;
	return 0;
}

/* The numeric options, where each one's value goes. */
static int set_number(int c, const char *arg)
{
	unsigned long v;

	if (parse_uint(arg, c == 'p' ? 65535 : 100000000, &v) != 0)
		return EINVAL;
	if (c == 'n')
		opt.keys = v;
	else if (c == 'R')
		opt.rtt_n = v;
	else if (c == 'r')
		opt.reps = (unsigned)v;
	else if (c == 't')
		opt.threads = (unsigned)v;
	else if (c == 'T')
		opt.rtt_threads = (unsigned)v;
	else if (c == 'p')
		opt.port = (int)v;
	else if (c == 'P')
		opt.server_pid = (long)v;
	else if (c == 'w')
		opt.timeout_s = (unsigned)v;
	else if (c == 'W')
		opt.window = (unsigned)v;
	else if (c == 'C')
		opt.chunk = (unsigned)v;
	return 0;
}

static const struct option longopts[] = {
	{"host", required_argument, 0, 'h'},
	{"port", required_argument, 0, 'p'},
	{"socket", required_argument, 0, 's'},
	{"server-pid", required_argument, 0, 'P'},
	{"quick", no_argument, 0, 'q'},
	{"reps", required_argument, 0, 'r'},
	{"rtt-n", required_argument, 0, 'R'},
	{"threads", required_argument, 0, 't'},
	{"rtt-threads", required_argument, 0, 'T'},
	{"only", required_argument, 0, 'o'},
	{"csv", required_argument, 0, 'c'},
	{"timeout", required_argument, 0, 'w'},
	{"window", required_argument, 0, 'W'},
	{"chunk", required_argument, 0, 'C'},
	{"strict", no_argument, 0, 'S'},
	{"help", no_argument, 0, 'H'},
	{0, 0, 0, 0},
};

/* The options that take a string or nothing; 0 if c is not one. */
static int set_other(int c, const char *arg)
{
	if (c == 'h')
		opt.host = arg;
	else if (c == 's')
		opt.path = arg;
	else if (c == 'o')
		opt.only = arg;
	else if (c == 'c')
		opt.csv = arg;
	else if (c == 'q')
		opt.quick = 1;
	else if (c == 'S')
		opt.strict = 1;
	else
		return 0;
	return 1;
}

/* Sizes: --quick's or the issue's, -n scales them, --rtt-n sets the
 * subset, which never exceeds a set it is taken from. */
static void pick_sizes(void)
{
	struct rb_sizes *z = &opt.sizes;

	*z = opt.quick ? rb_quick_sizes : rb_full_sizes;
	if (opt.keys)
		*z = rb_sizes_for(opt.keys);
	if (opt.rtt_n)
		z->rtt = opt.rtt_n;
	else if (opt.quick)
		z->rtt = rb_quick_sizes.rtt;
	z->rtt = z->rtt < z->keys ? z->rtt : z->keys;
	z->rtt = z->rtt < z->msgs ? z->rtt : z->msgs;
	z->rtt = z->rtt < z->models ? z->rtt : z->models;
}

/* Returns 0, or 2 (usage error), or -1 (--help printed). */
static int parse_args(int argc, char **argv)
{
	int c;

	opt = (struct options){.reps = 3, .rtt_threads = 4};
	while ((c = getopt_long(argc, argv, "n:", longopts, NULL)) != -1) {
		if (c == 'H' || c == '?') {
			usage(c == 'H' ? stdout : stderr);
			return c == 'H' ? -1 : 2;
		}
		if (set_other(c, optarg))
			continue;
		if (set_number(c, optarg) != 0) {
			fprintf(stderr, "redis_bench: bad number '%s'\n",
				optarg);
			return 2;
		}
	}
	if (optind != argc || (!opt.path && (!opt.host || !opt.port))) {
		usage(stderr);
		return 2;
	}
	pick_sizes();
	if (!opt.timeout_s)
		opt.timeout_s = opt.quick ? 120 : 1800;
	return 0;
}

static int want_group(const struct group *g)
{
	const char *p = opt.only;
	size_t len = strlen(g->key);

	if (!p)
		return 1;
	for (; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (strncmp(p, g->key, len) == 0 &&
		    (p[len] == ',' || p[len] == '\0'))
			return 1;
	return 0;
}

/* ------------------------------------------------------- watchdog */

static void on_alarm(int sig)
{
	static const char msg[] = "\nredis_bench: watchdog: still running: ";
	const char *st = stage;

	(void)sig;
	if (write(2, msg, sizeof msg - 1) < 0 || write(2, st, strlen(st)) < 0 ||
	    write(2, "\n", 1) < 0)
		_exit(2);
	_exit(2);
}

/* ------------------------------------------------------- the header */

static void cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	snprintf(buf, len, "unknown CPU");
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
			snprintf(buf, len, "%s", strchr(line, ':') + 2);
			buf[strcspn(buf, "\n")] = '\0';
			break;
		}
	if (f)
		fclose(f);
}

static void loadavg(char *buf, size_t len)
{
	FILE *f = fopen("/proc/loadavg", "r");

	snprintf(buf, len, "?");
	if (f && fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	if (f)
		fclose(f);
}

/* The server's version, asked with a plain connection. */
static void server_version(char *buf, size_t len)
{
	struct bl_env e = {
		.host = opt.host, .port = opt.port, .path = opt.path};
	struct timeval tv = {.tv_sec = 5};
	redisContext *c = e.path ? redisConnectUnixWithTimeout(e.path, tv) :
				   redisConnectWithTimeout(e.host, e.port, tv);
	redisReply *r = c && !c->err ? redisCommand(c, "INFO server") : NULL;
	const char *p;

	snprintf(buf, len, "?");
	if (r && r->type == REDIS_REPLY_STRING &&
	    (p = strstr(r->str, "redis_version:")))
		snprintf(buf, len, "%.*s", (int)strcspn(p + 14, "\r\n"),
			 p + 14);
	freeReplyObject(r);
	if (c)
		redisFree(c);
}

static void print_header(const char *uri, rb_bench *b, unsigned workers)
{
	char cpu[128], load[64], ver[32];
	const struct rb_data *d = rb_bench_data(b);

	cpu_model(cpu, sizeof cpu);
	loadavg(load, sizeof load);
	server_version(ver, sizeof ver);
	printf("# redis_bench: the library beside plain hiredis, one server, "
	       "one run\n");
	printf("# server: redis %s at %s, pid %ld (%s)\n", ver, uri,
	       rb_bench_server_pid(b),
	       rb_bench_server_pid(b) ? "CPU share from /proc" :
					"not local: no CPU share");
	/* 1024 and 100 are the defaults <mtpool/redis.h> documents. */
	printf("# client: hiredis %d.%d.%d; library on a pool of %u workers "
	       "+ the caller, window %u commands, MGET/MSET of %u keys\n",
	       HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH, workers,
	       opt.window ? opt.window : 1024, opt.chunk ? opt.chunk : 100);
	printf("# machine: %s, %ld online CPUs; load average at start: %s\n",
	       cpu, sysconf(_SC_NPROCESSORS_ONLN), load);
	printf("# sizes: %zu keys (%d-byte values), %zu messages, %zu models;"
	       " one round trip per key: %zu items on %u threads; median of "
	       "%u reps\n",
	       d->nkeys, RB_VALUE_LEN, d->nmsgs, d->nmodels, opt.sizes.rtt,
	       opt.rtt_threads, opt.reps);
	printf("# srv / cli: CPU of the server / of this process over the "
	       "wall time (100%% = one core busy); x lib: rate / the "
	       "library's\n");
	rb_table_header(stdout);
}

/* ------------------------------------------------------- the groups */

/* Collects the group's rows: library rows, baselines, one round trip per
 * key last. */
static size_t group_rows(const struct group *g, struct row *rows)
{
	size_t n = 0;

	for (size_t i = 0; i < rb_nworkloads && n < MAX_ROWS; i++)
		if (!rb_workloads[i].rtt &&
		    strcmp(rb_workloads[i].group, g->name) == 0)
			rows[n++] = (struct row){.w = &rb_workloads[i]};
	for (size_t i = 0; i < nbaselines && n < MAX_ROWS; i++)
		if (strcmp(baselines[i].group, g->name) == 0)
			rows[n++] = (struct row){.bl = &baselines[i]};
	for (size_t i = 0; i < rb_nworkloads && n < MAX_ROWS; i++)
		if (rb_workloads[i].rtt &&
		    strcmp(rb_workloads[i].group, g->name) == 0)
			rows[n++] = (struct row){.w = &rb_workloads[i]};
	return n;
}

static int baseline_once(rb_bench *b, const struct bl_env *e,
			 const struct baseline *bl, struct rb_sample *s)
{
	int err;

	*s = (struct rb_sample){.delivered = NAN};
	if ((err = rb_state_set(b, bl->needs)) != 0)
		return err;
	err = bl->once(bl, e, s);
	rb_state_after(b, bl->leaves, err, s);
	return err;
}

static void run_row_once(rb_bench *b, const struct bl_env *e, struct row *r)
{
	struct rb_sample *s = &r->s[r->ns];

	if (r->err != 0)
		return;
	stage = r->w ? r->w->method : r->bl->method;
	r->err = r->w ? rb_workload_once(b, r->w, s) :
			baseline_once(b, e, r->bl, s);
	if (r->err == 0)
		r->ns++;
}

static void finish_row(struct row *r, double lib_rate)
{
	const char *group = r->w ? r->w->group : r->bl->group;

	r->out.group = group;
	r->out.method = r->w ? r->w->method : r->bl->method;
	r->out.unit = r->w ? r->w->unit : r->bl->unit;
	if (r->err == 0 && r->ns > 0)
		rb_figure_of(&r->out.fig, r->s, r->ns);
	r->out.fig.err = r->err;
	r->out.vs = lib_rate > 0 ? r->out.fig.rate / lib_rate : NAN;
	if (r->err != 0 && r->err != ENOSYS && r->err != ENOTSUP)
		fprintf(stderr, "redis_bench: %s: %s: %s\n", group,
			r->out.method, strerror(r->err));
	wrong |= rb_figure_wrong(&r->out.fig);
}

static int usable(const struct row *r)
{
	return r->err == 0 && r->ns > 0 && !isnan(r->out.fig.rate);
}

/* Prints "  target: what: MET/MISSED (have/s vs other/s of whom: r x)"
 * where the target is have >= factor x other. */
static void target(const char *what, double have, double other, double factor,
		   const char *whom)
{
	char h[16], o[16];

	rb_fmt_rate(h, sizeof h, have);
	rb_fmt_rate(o, sizeof o, other);
	printf("  target: %s: ", what);
	if (isnan(have) || isnan(other)) {
		printf("not measured (%s/s vs %s/s)\n", h, o);
		return;
	}
	if (have < factor * other)
		missed = 1;
	printf("%s (%s/s vs %s/s%s%s: %.3gx)\n",
	       have >= factor * other ? "MET" : "MISSED", h, o,
	       whom ? " of " : "", whom ? whom : "", have / other);
}

/* The fastest baseline of the group and its one-round-trip row. */
static void find_rows(struct row *rows, size_t n, const struct row **best,
		      const struct row **rtt)
{
	*best = *rtt = NULL;
	for (size_t i = 1; i < n; i++) {
		if (!usable(&rows[i]))
			continue;
		if (rows[i].w && rows[i].w->rtt)
			*rtt = &rows[i];
		else if (rows[i].bl &&
			 (!*best ||
			  rows[i].out.fig.rate > (*best)->out.fig.rate))
			*best = &rows[i];
	}
}

static void target_rtt(double lr, double rr)
{
	target("library >= 20x one round trip per key", lr, rr, 20, NULL);
}

/* The targets for a group whose library row is rows[0]. BG SAVE
 * is held against MODEL SAVE's rows (run before it). */
static void group_targets(const struct group *g, struct row *rows, size_t n)
{
	const struct row *best, *rtt;
	double lr = usable(&rows[0]) ? rows[0].out.fig.rate : NAN;

	find_rows(rows, n, &best, &rtt);
	if (strcmp(g->key, "model") == 0) {
		model_save_rate = lr;
		model_rtt_rate = rtt ? rtt->out.fig.rate : NAN;
	}
	if (best)
		target("library >= best baseline", lr, best->out.fig.rate, 1,
		       best->out.method);
	if (strcmp(g->key, "scan") == 0) {
		printf("  target: library >= 20x one round trip per key: n/a "
		       "(SCAN has no per-key form; the thread-per-pattern row "
		       "is the Python way)\n");
		return;
	}
	if (strcmp(g->key, "bg") != 0) {
		target_rtt(lr, rtt ? rtt->out.fig.rate : NAN);
		return;
	}
	target("background >= 0.8x blocking bulk save", lr, model_save_rate,
	       0.8, "mt_redis_model_save");
	target_rtt(lr, model_rtt_rate);
}

static void run_group(rb_bench *b, const struct bl_env *e,
		      const struct group *g)
{
	static struct row rows[MAX_ROWS];
	size_t n = group_rows(g, rows);
	double lib_rate;

	for (unsigned rep = 0; rep < opt.reps; rep++)
		for (size_t i = 0; i < n; i++)
			run_row_once(b, e, &rows[i]);
	finish_row(&rows[0], 0);
	lib_rate = usable(&rows[0]) ? rows[0].out.fig.rate : NAN;
	rows[0].out.vs = usable(&rows[0]) ? 1.0 : NAN;
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			finish_row(&rows[i], lib_rate);
		rb_table_row(stdout, &rows[i].out);
		if (csv)
			rb_csv_row(csv, &rows[i].out);
	}
	group_targets(g, rows, n);
}

/* ------------------------------------------------------------ main */

static int open_client(const char *uri, mt_pool **pool, mt_redis **r)
{
	mt_config pc = {.threads = opt.threads, .name_prefix = "rb-lib"};
	mt_redis_options o = {.window = opt.window, .chunk_keys = opt.chunk};
	char why[MT_REDIS_ERRLEN];
	int err;

	if (!(*pool = mt_pool_create(&pc))) {
		fprintf(stderr, "redis_bench: pool: %s\n", strerror(errno));
		return errno;
	}
	o.pool = *pool;
	if ((err = mt_redis_open(r, uri, &o, why, sizeof why)) != 0) {
		fprintf(stderr, "redis_bench: %s: %s\n", uri, why);
		mt_pool_destroy(*pool, MT_DRAIN);
	}
	return err;
}

static int run(const char *uri)
{
	struct bl_env e = {
		.host = opt.host, .port = opt.port, .path = opt.path};
	struct rb_config cfg = {.uri = uri,
				.sizes = opt.sizes,
				.reps = opt.reps,
				.rtt_threads = opt.rtt_threads,
				.own_server = 1,
				.server_pid = opt.server_pid};
	char why[256], load[64];
	mt_pool *pool;
	mt_redis *r;
	int err;

	if ((err = open_client(uri, &pool, &r)) != 0)
		return 1;
	if ((err = rb_bench_open(&e.b, r, &cfg, why, sizeof why)) != 0) {
		fprintf(stderr, "redis_bench: %s\n", why);
		wrong = 1;
	} else {
		print_header(uri, e.b, mt_pool_size(pool));
		for (size_t g = 0; g < NGROUPS; g++)
			if (want_group(&groups[g]))
				run_group(e.b, &e, &groups[g]);
		loadavg(load, sizeof load);
		printf("# load average at end: %s\n", load);
	}
	rb_bench_close(e.b);
	mt_redis_close(r);
	mt_pool_destroy(pool, MT_DRAIN);
	return wrong ? 1 : 0;
}

int main(int argc, char **argv)
{
	char uri[512];
	int rc = parse_args(argc, argv);

	if (rc != 0)
		return rc < 0 ? 0 : rc;
	if (opt.path)
		snprintf(uri, sizeof uri, "unix://%s", opt.path);
	else
		snprintf(uri, sizeof uri, "redis://%s:%d", opt.host, opt.port);
	if (opt.csv && !(csv = fopen(opt.csv, "w"))) {
		fprintf(stderr, "redis_bench: %s: %s\n", opt.csv,
			strerror(errno));
		return 2;
	}
	if (csv)
		rb_csv_header(csv);
	signal(SIGALRM, on_alarm);
	alarm(opt.timeout_s);
	rc = run(uri);
	if (csv)
		fclose(csv);
	if (rc == 0 && missed && opt.strict)
		rc = 3;
	return rc;
}
