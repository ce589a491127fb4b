/*
 * redis/cli/demo.c: `mtredis demo [--uri URI] [-n N]`.
 *
 * Overview
 * ========
 * Shows every helper of <mtpool/redis.h> at work, with timings, against
 * a private redis-server (server.h: a unix socket in a temporary folder,
 * stopped and removed on exit, Ctrl-C or a crash), or against --uri:
 *   1. background model saves (mt_redis_save_async from 4 threads, then
 *      mt_redis_flush), a few of them failing on purpose (WRONGTYPE) to
 *      show that failures are counted, never lost;
 *   2. fire-and-forget publish (mt_redis_publish_async) to a subscriber
 *      that counts what arrives (running inside mt_redis_map, on a pool
 *      connection of its own);
 *   3. bulk load (mt_redis_set: MSET chunks in parallel pipelines);
 *   4. ordered bulk read (mt_redis_get), every value checked in order;
 *   5. a multi-pattern query (mt_redis_scan: one walk for all patterns,
 *      the hashes fetched with HGETALL while the walk goes on);
 *   6. the same bulk read the Python original's way: a thread pool made
 *      for the call (Popoto's run_all_multithreaded), one GET round trip
 *      per key, beside mt_redis_get on the same keys, with the ratio.
 * With --uri, every key the demo wrote is deleted at the end; its keys
 * are "demo:*", "DemoUser:*" and Popoto's index keys for DemoUser.
 * With --cluster it starts a 3-master Redis Cluster of its own instead
 * (cluster.h) and runs the same steps on it through a redis-cluster://
 * URI: the library routes every item to its key's master.
 *
 * Exit status: 0, 1 (a step failed, or redis-server is not on PATH),
 * 2 (usage), 130/143 (interrupted: the server is stopped first).
 */
#define _GNU_SOURCE
#include "cli.h"
#include "cluster.h"
#include "progress.h"
#include "server.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] =
	"usage: mtredis demo [--uri URI | --cluster] [-n N]\n"
	"\n"
	"Starts a private redis-server (found on PATH; a unix socket in a\n"
	"temporary folder, persistence off) and shows each helper at work\n"
	"with timings: background model saves with failures counted,\n"
	"fire-and-forget publish to a subscriber that counts what arrives,\n"
	"bulk load, ordered bulk read, a multi-pattern query, and the same\n"
	"bulk read done the Python original's way (a thread pool per call,\n"
	"one round trip per key) beside it, with the ratio. The server is\n"
	"stopped and its folder removed on exit, on Ctrl-C and on a crash.\n"
	"\n"
	"Options:\n"
	"  --uri URI        use this server instead (its demo keys are\n"
	"                   deleted at the end); redis-cluster:// too\n"
	"  --cluster        start a 3-master Redis Cluster of its own instead\n"
	"                   (free loopback ports, temporary folders), run\n"
	"                   every step on it, and stop it\n"
	"  -n N             keys to load and read (default 200000; the other\n"
	"                   steps scale with it)\n"
	"  --timeout MS     command timeout in milliseconds (default 5000)\n"
	"  -h, --help       this text\n"
	"\n"
	"Exit status: 0 ok, 1 a step failed or redis-server is missing,\n"
	"2 usage error, 130 interrupted.\n";

/* The embedded server or cluster, reachable from the signal handlers
 * (an unused one has no PID: killing it is a no-op). */
static struct server server;
static struct cluster cluster;

static void on_signal(int sig)
{
	server_kill_now(&server);
	cluster_kill_now(&cluster);
	cli_exit_now(128 + sig);
}

/* A crash must not leave the server behind either: stop it, then die of
 * the same signal with the default action (core dump and all). SIGPIPE
 * too: `mtredis demo | head` ends the demo at its next line, as any
 * filter ends, but without the server. (A SIGPIPE the library causes on
 * its own connections never gets here: it blocks and consumes those.) */
static void on_crash(int sig)
{
	server_kill_now(&server);
	cluster_kill_now(&cluster);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_crash_handlers(void)
{
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGABRT,
				   SIGFPE,  SIGILL, SIGPIPE};
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_crash;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		sigaction(sigs[i], &sa, NULL);
}

struct demo {
	struct cli_opts *o;
	mt_redis *r;
	size_t n;	      /* keys to load and read */
	mt_redis_bytes *keys; /* demo:key:<i> */
	mt_redis_bytes *vals; /* 64 bytes each */
	char *arena;
	int failed_steps;
};

/* "1.23M/s", "812k/s", "950/s". */
static void rate(char *buf, size_t len, double v)
{
	if (v >= 1e6)
		snprintf(buf, len, "%.2fM/s", v / 1e6);
	else if (v >= 1e3)
		snprintf(buf, len, "%.0fk/s", v / 1e3);
	else
		snprintf(buf, len, "%.0f/s", v);
}

/* One step: its figures, then what it checked on the next line. */
static void row(const char *what, size_t items, double secs, const char *note)
{
	char n[32], r[32];
	rate(r, sizeof r, secs > 0 ? (double)items / secs : 0.0);
	printf("  %-46s %9s %8.3f s %9s\n", what, progress_group(n, items),
	       secs, r);
	printf("      %s\n", note);
	fflush(stdout);
}

/* ------------------------------------------------- 1. background saves */

#define MODEL "DemoUser"
#define BAD_SAVES 3

struct saver {
	mt_redis *r;
	size_t lo, hi;
	size_t refused; /* calls that returned an error (not queued) */
	/* MT_REDIS_ATOMIC, or 0 on a cluster: a model's keys span slots
	 * there, and MULTI/EXEC runs on one node (docs/redis.md). */
	unsigned flags;
};

#define B(s) ((mt_redis_bytes){s, strlen(s)})

/* One model save in Popoto's layout (redis.h): 4 fields, a key index on
 * the city, a sorted index on the score. */
static void *save_range(void *arg)
{
	struct saver *s = arg;
	static const char *cities[] = {"Paris", "Lagos", "Lima", "Osaka"};
	for (size_t i = s->lo; i < s->hi; i++) {
		char key[32], name[32], age[8];
		/* The first BAD_SAVES keys collide with strings: WRONGTYPE. */
		snprintf(key, sizeof key, i < BAD_SAVES ? "bad%zu" : "%zu", i);
		snprintf(name, sizeof name, "user %zu", i);
		snprintf(age, sizeof age, "%zu", 18 + i % 60);
		const char *city = cities[i % 4];
		mt_redis_field f[] = {{B("name"), B(name)},
				      {B("age"), B(age)},
				      {B("city"), B(city)},
				      {B("plan"), B(i % 3 ? "free" : "pro")}};
		mt_redis_field kidx[] = {{B("city"), B(city)}};
		mt_redis_sorted sidx[] = {{B("age"), (double)(18 + i % 60)}};
		mt_redis_model m = {.model = B(MODEL),
				    .key = B(key),
				    .fields = f,
				    .nfields = 4,
				    .key_indexes = kidx,
				    .nkey_indexes = 1,
				    .sorted_indexes = sidx,
				    .nsorted_indexes = 1};
		if (mt_redis_save_async(s->r, &m, s->flags) != 0)
			s->refused++;
	}
	return NULL;
}

/* Strings where three saves will put hashes: their saves fail. */
static int plant_bad_keys(struct demo *d)
{
	mt_redis_bytes k[BAD_SAVES], v[BAD_SAVES];
	char names[BAD_SAVES][32];
	for (int i = 0; i < BAD_SAVES; i++) {
		snprintf(names[i], sizeof names[i], MODEL ":bad%d", i);
		k[i] = B(names[i]);
		v[i] = B("a string, not a hash");
	}
	mt_redis_batch *b = NULL;
	int ok = mt_redis_set(d->r, k, v, BAD_SAVES, NULL, &b) == 0 &&
		 b->done == BAD_SAVES;
	mt_redis_batch_free(b);
	return ok ? 0 : EIO;
}

static void step_saves(struct demo *d, size_t n)
{
	enum {
		THREADS = 4
	};
	struct saver s[THREADS];
	pthread_t t[THREADS];
	if (plant_bad_keys(d) != 0) {
		cli_error("demo", "could not prepare the save step");
		d->failed_steps++;
		return;
	}
	unsigned flags = strncmp(d->o->uri, "redis-cluster://", 16) == 0 ?
				 0 :
				 MT_REDIS_ATOMIC;
	double t0 = cli_now();
	for (int i = 0; i < THREADS; i++) {
		s[i] = (struct saver){d->r, n * i / THREADS,
				      n * (i + 1) / THREADS, 0, flags};
		pthread_create(&t[i], NULL, save_range, &s[i]);
	}
	size_t refused = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		refused += s[i].refused;
	}
	double queued = cli_now() - t0;
	mt_redis_flush_report rep;
	mt_redis_flush(d->r, &rep);
	double secs = cli_now() - t0;
	char note[400];
	snprintf(note, sizeof note,
		 "queued in %.3f s; flush: %llu done, %llu failed (%d "
		 "planted: %.50s...), %llu unknown, %zu refused",
		 queued, (unsigned long long)rep.done,
		 (unsigned long long)rep.failed, BAD_SAVES, rep.last_error,
		 (unsigned long long)rep.unknown, refused);
	row("background model saves (save_async x4 thr)", n, secs, note);
	if (rep.failed != BAD_SAVES || rep.unknown != 0 || refused != 0 ||
	    rep.done != n - BAD_SAVES)
		d->failed_steps++;
}

/* ---------------------------------------------- 2. fire-and-forget publish */

/* Legend: A atomic; I set before the subscriber starts. */
struct sub {
	mt_redis *r;	      /* I */
	uint64_t want;	      /* I */
	_Atomic int state;    /* A: 0 starting, 1 subscribed, 2 ended */
	_Atomic uint64_t got; /* A */
};

#define CHANNEL "demo:events"

static int is_message(const redisReply *m)
{
	return m->type == REDIS_REPLY_ARRAY && m->elements == 3 &&
	       m->element[0]->type == REDIS_REPLY_STRING &&
	       strcmp(m->element[0]->str, "message") == 0;
}

/* Runs inside mt_redis_map on a connection of the library's own: reads
 * messages until all arrived or none came for a command timeout. The
 * connection is left in subscribed mode, so c->err is set on the way out:
 * the library then closes it instead of reusing it (redis.h). */
static void *subscriber(redisContext *c, void *param, void *ctx)
{
	struct sub *s = ctx;
	(void)param;
	redisReply *m = redisCommand(c, "SUBSCRIBE " CHANNEL);
	if (m != NULL) {
		freeReplyObject(m);
		/* release: nothing is published through it, but the publisher
		 * must see it after the server registered the subscription. */
		atomic_store_explicit(&s->state, 1, memory_order_release);
	}
	uint64_t got = 0;
	while (m != NULL && got < s->want &&
	       redisGetReply(c, (void **)&m) == REDIS_OK) {
		got += is_message(m);
		atomic_store_explicit(&s->got, got, memory_order_relaxed);
		freeReplyObject(m);
	}
	c->err = REDIS_ERR_OTHER;
	snprintf(c->errstr, sizeof c->errstr, "left in subscribed mode");
	return NULL;
}

static void *subscriber_thread(void *arg)
{
	struct sub *s = arg;
	void *param = NULL, *result;
	/* Keyed: on a cluster, a connection to the channel's master. */
	mt_redis_bytes channel = {CHANNEL, sizeof CHANNEL - 1};
	mt_redis_map_keyed(s->r, subscriber, &param, &channel, &result, 1, s,
			   NULL);
	atomic_store_explicit(&s->state, 2, memory_order_release);
	return NULL;
}

/* Waits (bounded by the subscriber's own timeout) until it subscribed. */
static int wait_subscribed(struct sub *s)
{
	int st;
	/* acquire: pairs with the release stores in the subscriber. */
	while ((st = atomic_load_explicit(&s->state, memory_order_acquire)) ==
	       0)
		usleep(1000);
	return st == 1 ? 0 : EIO;
}

static size_t publish_all(struct demo *d, size_t n)
{
	size_t refused = 0;
	char msg[80];
	for (size_t i = 0; i < n; i++) {
		int len = snprintf(msg, sizeof msg,
				   "{\"event\":\"signup\",\"user\":%zu}", i);
		if (mt_redis_publish_async(d->r, B(CHANNEL),
					   (mt_redis_bytes){msg, (size_t)len}))
			refused++;
	}
	return refused;
}

static void step_publish(struct demo *d, size_t n)
{
	struct sub s = {.r = d->r, .want = n};
	pthread_t t;
	if (pthread_create(&t, NULL, subscriber_thread, &s) != 0 ||
	    wait_subscribed(&s) != 0) {
		cli_error("demo", "the subscriber could not subscribe");
		d->failed_steps++;
		return;
	}
	double t0 = cli_now();
	size_t refused = publish_all(d, n);
	mt_redis_flush_report rep;
	mt_redis_flush(d->r, &rep);
	double secs = cli_now() - t0;
	pthread_join(t, NULL);
	uint64_t got = atomic_load_explicit(&s.got, memory_order_relaxed);
	char note[200];
	snprintf(note, sizeof note,
		 "subscriber received %llu of %zu; flush: %llu failed, "
		 "%llu unknown, %zu refused",
		 (unsigned long long)got, n, (unsigned long long)rep.failed,
		 (unsigned long long)rep.unknown, refused);
	row("fire-and-forget publish (publish_async)", n, secs, note);
	if (got != n || rep.failed || rep.unknown || refused)
		d->failed_steps++;
}

/* ------------------------------------------- 3, 4. bulk load and read */

static int make_data(struct demo *d)
{
	enum {
		KEYLEN = 24,
		VALLEN = 64
	};
	d->keys = malloc(d->n * sizeof *d->keys);
	d->vals = malloc(d->n * sizeof *d->vals);
	d->arena = malloc(d->n * (KEYLEN + VALLEN));
	if (!d->keys || !d->vals || !d->arena)
		return ENOMEM;
	for (size_t i = 0; i < d->n; i++) {
		char *k = d->arena + i * (KEYLEN + VALLEN), *v = k + KEYLEN;
		int kl = snprintf(k, KEYLEN, "demo:key:%zu", i);
		memset(v, 'a' + (int)(i % 26), VALLEN);
		memcpy(v, k, (size_t)kl); /* each value names its key */
		d->keys[i] = (mt_redis_bytes){k, (size_t)kl};
		d->vals[i] = (mt_redis_bytes){v, VALLEN};
	}
	return 0;
}

static void step_load(struct demo *d)
{
	mt_redis_batch *b = NULL;
	double t0 = cli_now();
	int err = mt_redis_set(d->r, d->keys, d->vals, d->n, NULL, &b);
	double secs = cli_now() - t0;
	char note[120];
	snprintf(note, sizeof note, "%zu stored, %zu failed, %zu unknown",
		 err ? 0 : b->done, err ? d->n : b->failed,
		 err ? 0 : b->unknown);
	row("bulk load (mt_redis_set, MSET chunks)", d->n, secs, note);
	if (err != 0 || b->done != d->n)
		d->failed_steps++;
	mt_redis_batch_free(b);
}

/* Counts the results that are not exactly vals[i], in input order. */
static size_t mismatches(const mt_redis_batch *b, const mt_redis_bytes *vals)
{
	size_t bad = 0;
	for (size_t i = 0; i < b->n; i++) {
		const redisReply *v = b->results[i].reply;
		bad += v == NULL || v->type != REDIS_REPLY_STRING ||
		       v->len != vals[i].len ||
		       memcmp(v->str, vals[i].data, v->len) != 0;
	}
	return bad;
}

/* Returns the seconds mt_redis_get took for n keys, or -1 on a wrong or
 * missing value. */
static double timed_get(struct demo *d, size_t n, size_t *bad)
{
	mt_redis_batch *b = NULL;
	double t0 = cli_now();
	int err = mt_redis_get(d->r, d->keys, n, &b);
	double secs = cli_now() - t0;
	*bad = err ? n : mismatches(b, d->vals);
	mt_redis_batch_free(b);
	return secs;
}

static void step_read(struct demo *d)
{
	size_t bad;
	double secs = timed_get(d, d->n, &bad);
	char note[120];
	snprintf(note, sizeof note,
		 "every value checked in input order: %zu "
		 "wrong",
		 bad);
	row("ordered bulk read (mt_redis_get, MGET)", d->n, secs, note);
	d->failed_steps += bad != 0;
}

/* ------------------------------------------------ 5. multi-pattern query */

/* DBSIZE: the keys a walk goes over. */
static long long dbsize(mt_redis *r)
{
	mt_redis_bytes argv[] = {B("DBSIZE")};
	mt_redis_cmd cmd = {.argc = 1, .argv = argv};
	mt_redis_item item = {.cmds = &cmd, .ncmds = 1};
	mt_redis_batch *b = NULL;
	long long n = -1;
	if (mt_redis_exec(r, &item, 1, &b) == 0 && b->done == 1 &&
	    b->results[0].reply->type == REDIS_REPLY_INTEGER)
		n = b->results[0].reply->integer;
	mt_redis_batch_free(b);
	return n;
}

static void step_query(struct demo *d)
{
	const char *patterns[] = {MODEL ":1*", MODEL ":2*", MODEL ":3*"};
	mt_redis_scan_options so = {.fetch = "HGETALL"};
	mt_redis_keys *k = NULL;
	long long walked = dbsize(d->r);
	double t0 = cli_now();
	int err = mt_redis_scan(d->r, patterns, 3, &so, &k);
	double secs = cli_now() - t0;
	char note[240];
	snprintf(note, sizeof note,
		 "3 patterns (%s %s %s) in one SCAN walk over %lld keys "
		 "(%.0fk keys/s); each hash read with HGETALL during the "
		 "walk: %zu not read",
		 patterns[0], patterns[1], patterns[2], walked,
		 secs > 0 ? (double)walked / secs / 1e3 : 0.0,
		 err ? 0 : k->failed);
	row("multi-pattern query (mt_redis_scan)", err ? 0 : k->n, secs, note);
	d->failed_steps += err != 0 || k->n == 0 || k->failed != 0;
	mt_redis_keys_free(k);
}

/* ------------------------------------------ 6. the Python original's way */

/* One GET, one round trip: what each call of Popoto's
 * run_all_multithreaded(fetch_user, ids) does on its thread. */
static void *get_one(redisContext *c, void *param, void *ctx)
{
	const mt_redis_bytes *k = param;
	const char *argv[] = {"GET", k->data};
	size_t len[] = {3, k->len};
	(void)ctx;
	return redisCommandArgv(c, 2, argv, len);
}

/* A thread pool made for the call (run_all_multithreaded makes a
 * multiprocessing.dummy.Pool per call), its own connections, one round
 * trip per key; pool and connections are part of the time, as in Python.
 * Returns the seconds, and *bad the wrong or missing values. */
static double python_way(struct demo *d, const char *uri, size_t n, size_t *bad)
{
	enum {
		THREADS = 8
	};
	void **params = malloc(n * sizeof *params);
	void **res = calloc(n, sizeof *res);
	*bad = n;
	if (params == NULL || res == NULL) {
		free(params);
		free(res);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		params[i] = &d->keys[i];
	double t0 = cli_now();
	mt_config cfg = {.threads = THREADS, .name_prefix = "pyway"};
	mt_pool *pool = mt_pool_create(&cfg);
	mt_redis_options opts = {.pool = pool, .flags = MT_REDIS_LAZY};
	mt_redis *r = NULL;
	/* Keyed: on a cluster, each GET on its key's master. */
	if (pool && mt_redis_open(&r, uri, &opts, NULL, 0) == 0)
		mt_redis_map_keyed(r, get_one, params, d->keys, res, n, NULL,
				   NULL);
	mt_redis_close(r);
	mt_pool_destroy(pool, MT_DRAIN);
	double secs = cli_now() - t0;
	*bad = 0;
	for (size_t i = 0; i < n; i++) {
		const redisReply *v = res[i];
		*bad += v == NULL || v->type != REDIS_REPLY_STRING ||
			v->len != d->vals[i].len ||
			memcmp(v->str, d->vals[i].data, v->len) != 0;
		freeReplyObject(res[i]);
	}
	free(params);
	free(res);
	return secs;
}

static void step_python(struct demo *d, const char *uri)
{
	size_t n = d->n < 20000 ? d->n : 20000, bad_py, bad_mt;
	double py = python_way(d, uri, n, &bad_py);
	double mt = timed_get(d, n, &bad_mt);
	char note[160];
	snprintf(note, sizeof note, "%zu wrong values", bad_py);
	row("Python's way: pool per call, GET per key", n, py, note);
	snprintf(note, sizeof note, "%.1fx faster than Python's way; %zu wrong",
		 mt > 0 ? py / mt : 0.0, bad_mt);
	row("the same read with mt_redis_get", n, mt, note);
	d->failed_steps += bad_py != 0 || bad_mt != 0;
}

/* ---------------------------------------------------------- the run */

/* With --uri: deletes every key the demo wrote. */
static void clean_up(struct demo *d)
{
	const char *patterns[] = {"demo:*", MODEL ":*", "$Class:" MODEL,
				  "$KeyF:" MODEL ":*", "$SortedF:" MODEL ":*"};
	mt_redis_keys *k = NULL;
	mt_redis_batch *b = NULL;
	if (mt_redis_scan(d->r, patterns, 5, NULL, &k) == 0)
		mt_redis_del(d->r, k->keys, k->n, &b);
	printf("  deleted the %zu keys the demo wrote\n", b ? b->done : 0);
	mt_redis_batch_free(b);
	mt_redis_keys_free(k);
}

static void steps(struct demo *d, const char *uri)
{
	char n[32];
	printf("  %-46s %9s %10s %9s\n", "helper at work", "items", "time",
	       "rate");
	step_saves(d, d->n / 4 > BAD_SAVES ? d->n / 4 : BAD_SAVES + 1);
	step_publish(d, d->n / 2 ? d->n / 2 : 1);
	step_load(d);
	step_read(d);
	step_query(d);
	step_python(d, uri);
	if (d->failed_steps == 0)
		printf("all steps correct (%s keys in the main steps)\n",
		       progress_group(n, d->n));
}

/* getopt code of --cluster, beside the common options' codes. */
#define OPT_CLUSTER 0x4300

/* *own: 0 --uri given, 1 a private server, 2 a private cluster. */
static int parse_args(struct cli_opts *o, int argc, char **argv, size_t *n,
		      int *own_server)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{"cluster", no_argument, NULL, OPT_CLUSTER},
		{0, 0, 0, 0},
	};
	int uri = 0, own_cluster = 0;
	int c;
	uint64_t v;
	optind = 1;
	*own_server = 1;
	while ((c = getopt_long(argc, argv, ":qhn:", longopts, NULL)) != -1) {
		uri |= c == CLI_OPT_URI;
		if (c == OPT_CLUSTER) {
			own_cluster = 1;
			continue;
		}
		int rc = cli_common_option(o, c, optarg, argv);
		if (rc < 0)
			return -rc;
		if (c == 'h') {
			fputs(help, stdout);
			return -1;
		}
		if (c == 'n' && cli_parse_u64(optarg, 1, 100000000, &v) != 0)
			return cli_usage(o->cmd,
					 "bad -n '%s': want 1 to "
					 "100000000",
					 optarg);
		if (c == 'n')
			*n = (size_t)v;
	}
	if (optind < argc)
		return cli_usage(o->cmd, "unexpected argument '%s'",
				 strstr(argv[optind], "://") ? "<a URI>" :
							       argv[optind]);
	if (uri && own_cluster)
		return cli_usage(o->cmd, "--uri and --cluster exclude each "
					 "other");
	*own_server = uri ? 0 : own_cluster ? 2 : 1;
	return 0;
}

/* Starts the private server (main thread: PR_SET_PDEATHSIG is per
 * thread) and points o->uri at it. */
static int start_server(struct cli_opts *o)
{
	char why[300];
	if (server_start(&server, why, sizeof why) != 0) {
		cli_error(o->cmd, "%s", why);
		return CLI_FAILED;
	}
	o->uri = server.uri;
	printf("mtredis demo: redis-server (pid %d) on %s\n", (int)server.pid,
	       server.uri);
	fflush(stdout); /* seen at once even through a pipe */
	return CLI_OK;
}

/* Starts the private cluster (main thread, as the server) and points
 * o->uri at it. */
static int start_cluster(struct cli_opts *o)
{
	char why[300];
	if (cluster_start(&cluster, why, sizeof why) != 0) {
		cli_error(o->cmd, "%s", why);
		return CLI_FAILED;
	}
	o->uri = cluster.uri;
	printf("mtredis demo: a Redis Cluster of 3 masters (pids %d %d %d) "
	       "at %s\n",
	       (int)cluster.node[0].pid, (int)cluster.node[1].pid,
	       (int)cluster.node[2].pid, cluster.uri);
	fflush(stdout);
	return CLI_OK;
}

int cli_demo(int argc, char **argv)
{
	struct cli_opts o;
	struct demo d = {.n = 200000};
	int own;
	cli_opts_init(&o, "demo");
	int rc = parse_args(&o, argc, argv, &d.n, &own);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	d.o = &o;
	cli_signals_install(on_signal);
	install_crash_handlers();
	rc = own == 1 ? start_server(&o) :
	     own == 2 ? start_cluster(&o) :
			CLI_OK;
	if (rc == CLI_OK)
		rc = cli_open(&o, &d.r);
	cli_signals_unblock();
	if (rc == CLI_OK && make_data(&d) != 0) {
		cli_error(o.cmd, "out of memory");
		rc = CLI_FAILED;
	}
	if (rc == CLI_OK) {
		printf("mtredis demo: pool of %u workers\n",
		       mt_pool_size(o.pool));
		steps(&d, o.uri);
		if (!own)
			clean_up(&d);
		rc = d.failed_steps ? CLI_FAILED : CLI_OK;
	}
	cli_close(&o, d.r);
	if (own == 1 && server_stop(&server) != 0)
		cli_error(o.cmd, "could not remove %s", server.dir);
	if (own == 2 && cluster_stop(&cluster) != 0)
		cli_error(o.cmd, "could not remove a cluster node's folder");
	free(d.keys);
	free(d.vals);
	free(d.arena);
	return rc;
}
