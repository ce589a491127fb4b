/*
 * bench/redis/workloads.c: the data set, the instruments and the library's
 * workloads of the Redis bench (see workloads.h). Public headers only.
 */
#define _GNU_SOURCE /* fnmatch's GNU rules */

#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "workloads.h"

const struct rb_sizes rb_full_sizes = {
	.keys = 1000000,
	.msgs = 200000,
	.models = 200000,
	.rtt = 20000,
};

const struct rb_sizes rb_quick_sizes = {
	.keys = 20000,
	.msgs = 5000,
	.models = 5000,
	.rtt = 1000,
};

struct rb_sizes rb_sizes_for(size_t keys)
{
	struct rb_sizes z = {.keys = keys ? keys : 1};

	z.msgs = z.models = z.keys / 5 ? z.keys / 5 : 1;
	z.rtt = z.msgs < rb_full_sizes.rtt ? z.msgs : rb_full_sizes.rtt;
	return z;
}

/* Items of any kind, at most: their indexes are written in 7 digits, and
 * every generated string with its NUL fits its stride (a key
 * "rb:order:%07zu" in KEY_STRIDE bytes, a model's strings in
 * MODEL_STRIDE). */
#define RB_MAX_ITEMS 10000000u
#define KEY_STRIDE 24
#define MODEL_STRIDE 64
/* Repetitions behind a median, at most. */
#define RB_MAX_REPS 100u
#define TTL_TEXT "3600000"
#define TTL_MS 3600000
#define END_MARK "rb:end-of-publish"
/* A command's reply waits at most this long in the subscriber (a lost end
 * marker must not hang the bench). */
#define SUB_TIMEOUT_MS 30000

/* mt_redis_map's result for an item whose reply was right. */
#define RB_OK ((void *)1)

/* The buffers behind struct rb_data. */
struct rb_store {
	char *keys, *values, *msgs, *models;
	mt_redis_bytes *chans; /* nmsgs copies of the channel (PUBLISH) */
	mt_redis_field *fields;
	mt_redis_sorted *sorted;
	void **params; /* params[i] = i, for mt_redis_map */
};

struct rb_bench {
	mt_redis *r;
	struct rb_config cfg; /* uri copied */
	struct rb_data d;
	struct rb_store st;
	long pid;
	enum rb_state state;
	mt_pool *sub_pool, *rtt_pool; /* helper clients, opened lazily */
	mt_redis *sub, *rtt;
};

static const char *const groups[4] = {"user", "order", "item", "sess"};
static const char *const cities[8] = {"Lisbon", "Oslo",	 "Lima",  "Kyoto",
				      "Accra",	"Quito", "Perth", "Turin"};
/* Each pattern picks a different shape of the keyspace: a prefix (2,500 of
 * 1M keys), a suffix (50,000), fixed-length ? wildcards (10,000), a class
 * and a range (100,000); every key matches at most one. */
static const char *const patterns[RB_NPATTERNS] = {"rb:user:00001*",
						   "rb:order:*7",
						   "rb:item:?????50",
						   "rb:s[a-e]ss:*[0-3]"};

/* A redis-cluster:// URI: the one-connection rows that cannot be routed
 * (a model's commands touch several slots; MULTI/EXEC needs one) are
 * N/A there, and the maps with a connection name their keys. */
static int is_cluster(const rb_bench *b)
{
	return strncmp(b->cfg.uri, "redis-cluster://", 16) == 0;
}

/* ------------------------------------------------------ the data set */

static mt_redis_bytes bytes(const char *s, size_t len)
{
	return (mt_redis_bytes){.data = s, .len = len};
}

/* Fills 64 bytes that spell i and a filler that depends on i, so a value
 * read back under the wrong key is seen. */
static void fill64(char *dst, char tag, size_t i)
{
	int k = snprintf(dst, RB_VALUE_LEN, "%c%07zu-", tag, i);

	for (int j = k; j < RB_VALUE_LEN; j++)
		dst[j] = (char)('a' + (i + (size_t)j) % 26);
}

static int gen_keys(struct rb_data *d, struct rb_store *st, size_t n)
{
	st->keys = malloc(n * KEY_STRIDE);
	st->values = malloc(n * RB_VALUE_LEN);
	d->keys = malloc(n * sizeof *d->keys);
	d->values = malloc(n * sizeof *d->values);
	if (!st->keys || !st->values || !d->keys || !d->values)
		return ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char *k = st->keys + i * KEY_STRIDE;
		int len = snprintf(k, KEY_STRIDE, "rb:%s:%07zu", groups[i % 4],
				   i);

		d->keys[i] = bytes(k, (size_t)len);
		fill64(st->values + i * RB_VALUE_LEN, 'v', i);
		d->values[i] =
			bytes(st->values + i * RB_VALUE_LEN, RB_VALUE_LEN);
	}
	d->nkeys = n;
	return 0;
}

static int gen_msgs(struct rb_data *d, struct rb_store *st, size_t n)
{
	st->msgs = malloc(n * RB_VALUE_LEN);
	st->chans = malloc(n * sizeof *st->chans);
	d->msgs = malloc(n * sizeof *d->msgs);
	if (!st->msgs || !st->chans || !d->msgs)
		return ENOMEM;
	d->channel = bytes("rb:channel", strlen("rb:channel"));
	for (size_t i = 0; i < n; i++) {
		fill64(st->msgs + i * RB_VALUE_LEN, 'm', i);
		d->msgs[i] = bytes(st->msgs + i * RB_VALUE_LEN, RB_VALUE_LEN);
		st->chans[i] = d->channel;
	}
	d->nmsgs = n;
	return 0;
}

/* Offsets of model i's strings in its 64-byte slot: the hash's name
 * "rbUser:%07zu" (the model's key is its part after "rbUser:"), then the
 * field values; each fits with its NUL for i < RB_MAX_ITEMS. */
enum {
	M_HKEY = 0,
	M_NAME = 16,
	M_EMAIL = 28,
	M_AGE = 52,
	M_SCORE = 56
};

static void gen_model(struct rb_data *d, struct rb_store *st, size_t i)
{
	char *m = st->models + i * MODEL_STRIDE;
	mt_redis_field *f = st->fields + i * 5;
	int hl = snprintf(m + M_HKEY, 16, "rbUser:%07zu", i);
	int nl = snprintf(m + M_NAME, 12, "user%07zu", i);
	int el = snprintf(m + M_EMAIL, 24, "u%07zu@example.com", i);
	int al = snprintf(m + M_AGE, 4, "%zu", 18 + i % 70);
	int sl = snprintf(m + M_SCORE, 8, "%zu", i % 10000000);
	const char *city = cities[i % 8];

	d->hkeys[i] = bytes(m + M_HKEY, (size_t)hl);
	d->scores[i] = bytes(m + M_SCORE, (size_t)sl);
	f[0] = (mt_redis_field){bytes("name", 4),
				bytes(m + M_NAME, (size_t)nl)};
	f[1] = (mt_redis_field){bytes("email", 5),
				bytes(m + M_EMAIL, (size_t)el)};
	f[2] = (mt_redis_field){bytes("age", 3), bytes(m + M_AGE, (size_t)al)};
	f[3] = (mt_redis_field){bytes("city", 4), bytes(city, strlen(city))};
	f[4] = (mt_redis_field){bytes("score", 5), d->scores[i]};
	st->sorted[i] =
		(mt_redis_sorted){bytes("score", 5), (double)(i % 10000000)};
	d->models[i] = (mt_redis_model){
		.model = bytes("rbUser", 6),
		.key = bytes(m + M_HKEY + 7, (size_t)hl - 7),
		.fields = f,
		.nfields = 5,
		.sorted_indexes = &st->sorted[i],
		.nsorted_indexes = 1,
		.ttl_ms = TTL_MS,
	};
}

static int gen_models(struct rb_data *d, struct rb_store *st, size_t n)
{
	st->models = malloc(n * MODEL_STRIDE);
	st->fields = malloc(n * 5 * sizeof *st->fields);
	st->sorted = malloc(n * sizeof *st->sorted);
	d->models = malloc(n * sizeof *d->models);
	d->hkeys = malloc(n * sizeof *d->hkeys);
	d->scores = malloc(n * sizeof *d->scores);
	if (!st->models || !st->fields || !st->sorted || !d->models ||
	    !d->hkeys || !d->scores)
		return ENOMEM;
	for (size_t i = 0; i < n; i++)
		gen_model(d, st, i);
	d->class_set = bytes("$Class:rbUser", strlen("$Class:rbUser"));
	d->sorted_set =
		bytes("$SortedF:rbUser:score", strlen("$SortedF:rbUser:score"));
	d->nmodels = n;
	return 0;
}

/* Which pattern key `k` (NUL-terminated) matches, or -1. fnmatch without
 * flags follows Redis's glob for these patterns ('*' crosses ':', no
 * escapes, no [^...]); it is libc's, so an error in the library's own
 * matcher cannot hide in the expected count. */
static int which_pattern(const char *k)
{
	for (int p = 0; p < RB_NPATTERNS; p++)
		if (fnmatch(patterns[p], k, 0) == 0)
			return p;
	return -1;
}

static int gen_data(struct rb_data *d, struct rb_store *st,
		    const struct rb_sizes *sz)
{
	size_t nmax;
	int err;

	if ((err = gen_keys(d, st, sz->keys)) != 0 ||
	    (err = gen_msgs(d, st, sz->msgs)) != 0 ||
	    (err = gen_models(d, st, sz->models)) != 0)
		return err;
	nmax = sz->keys > sz->msgs ? sz->keys : sz->msgs;
	nmax = nmax > sz->models ? nmax : sz->models;
	if (!(st->params = malloc(nmax * sizeof *st->params)))
		return ENOMEM;
	for (size_t i = 0; i < nmax; i++)
		st->params[i] = (void *)(uintptr_t)i;
	for (int p = 0; p < RB_NPATTERNS; p++)
		d->patterns[p] = patterns[p];
	d->matches = 0;
	for (size_t i = 0; i < d->nkeys; i++)
		d->matches += which_pattern(d->keys[i].data) >= 0;
	return 0;
}

static void free_data(struct rb_data *d, struct rb_store *st)
{
	free(st->keys);
	free(st->values);
	free(st->msgs);
	free(st->chans);
	free(st->models);
	free(st->fields);
	free(st->sorted);
	free(st->params);
	free(d->keys);
	free(d->values);
	free(d->msgs);
	free(d->models);
	free(d->hkeys);
	free(d->scores);
}

void rb_model_cmds(const struct rb_data *d, size_t i, struct rb_model_cmds *o)
{
	const mt_redis_model *m = &d->models[i];
	const mt_redis_bytes h = d->hkeys[i];
	int a = 2;

	o->argv[0][0] = "HSET";
	o->len[0][0] = 4;
	o->argv[0][1] = h.data;
	o->len[0][1] = h.len;
	for (size_t f = 0; f < m->nfields; f++, a += 2) {
		o->argv[0][a] = m->fields[f].name.data;
		o->len[0][a] = m->fields[f].name.len;
		o->argv[0][a + 1] = m->fields[f].value.data;
		o->len[0][a + 1] = m->fields[f].value.len;
	}
	o->argc[0] = a;
#define ARG(c, k, s, l) (o->argv[c][k] = (s), o->len[c][k] = (l))
	ARG(1, 0, "SADD", 4), ARG(1, 1, d->class_set.data, d->class_set.len);
	ARG(1, 2, h.data, h.len), o->argc[1] = 3;
	ARG(2, 0, "ZADD", 4), ARG(2, 1, d->sorted_set.data, d->sorted_set.len);
	ARG(2, 2, d->scores[i].data, d->scores[i].len);
	ARG(2, 3, h.data, h.len), o->argc[2] = 4;
	ARG(3, 0, "PEXPIRE", 7), ARG(3, 1, h.data, h.len);
	ARG(3, 2, TTL_TEXT, strlen(TTL_TEXT)), o->argc[3] = 3;
#undef ARG
}

/* ------------------------------------------------------- instruments */

double rb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double self_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds of the main thread of `pid` from /proc/PID/schedstat
 * (nanoseconds on the CPU), or NAN when the kernel has no schedstat. */
static double schedstat_seconds(long pid)
{
	char path[64];
	unsigned long long ns;
	FILE *f;
	int ok;

	snprintf(path, sizeof path, "/proc/%ld/schedstat", pid);
	if (!(f = fopen(path, "r")))
		return NAN;
	ok = fscanf(f, "%llu", &ns) == 1;
	fclose(f);
	return ok ? (double)ns * 1e-9 : NAN;
}

/* utime + stime of every thread of `pid` from /proc/PID/stat, in clock
 * ticks (10 ms here), or NAN. */
static double stat_seconds(long pid)
{
	char path[64], buf[1024];
	unsigned long ut, st;
	const char *p;
	FILE *f;
	size_t len;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if (!(f = fopen(path, "r")))
		return NAN;
	len = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[len] = '\0';
	/* The command name (field 2) may hold spaces and parentheses: the
	 * fields after it start after the last ')'. utime and stime are
	 * fields 14 and 15. */
	if (!(p = strrchr(buf, ')')) ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		   &ut, &st) != 2)
		return NAN;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The main thread's nanosecond count where the kernel keeps it: a 1 s run
 * read in 10 ms ticks is only good to 1 %, a --quick run's 20 ms not at
 * all. Redis runs every command on its main thread (its other threads
 * only close files and free memory lazily, idle here), so that thread is
 * the single core the docs speak of. */
double rb_proc_cpu_seconds(long pid)
{
	double s;

	if (pid <= 0)
		return NAN;
	s = schedstat_seconds(pid);
	return isnan(s) ? stat_seconds(pid) : s;
}

void rb_timer_start(struct rb_timer *t, long server_pid)
{
	t->pid = server_pid;
	t->wall = t->srv = t->cli = 0;
	rb_timer_resume(t);
}

void rb_timer_resume(struct rb_timer *t)
{
	t->srv0 = rb_proc_cpu_seconds(t->pid);
	t->cli0 = self_cpu();
	t->wall0 = rb_now();
}

void rb_timer_pause(struct rb_timer *t)
{
	t->wall += rb_now() - t->wall0;
	t->cli += self_cpu() - t->cli0;
	t->srv += rb_proc_cpu_seconds(t->pid) - t->srv0;
}

void rb_timer_stop(struct rb_timer *t, struct rb_sample *s)
{
	rb_timer_pause(t);
	s->seconds = t->wall;
	s->srv_cpu = t->srv;
	s->cli_cpu = t->cli;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of v[0 .. n-1] (sorted in place); NAN if any is NAN. */
static double median(double *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (isnan(v[i]))
			return NAN;
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void rb_figure_of(struct rb_figure *f, const struct rb_sample *s, unsigned ns)
{
	double rate[RB_MAX_REPS], sec[RB_MAX_REPS], srv[RB_MAX_REPS],
		cli[RB_MAX_REPS];

	if (ns > RB_MAX_REPS)
		ns = RB_MAX_REPS;
	*f = (struct rb_figure){.reps = ns, .n = s[0].n, .delivered = NAN};
	for (unsigned i = 0; i < ns; i++) {
		rate[i] = (double)s[i].n / s[i].seconds;
		sec[i] = s[i].seconds;
		srv[i] = s[i].srv_cpu / s[i].seconds;
		cli[i] = s[i].cli_cpu / s[i].seconds;
		f->bad += s[i].bad;
		if (!isnan(s[i].delivered) &&
		    (isnan(f->delivered) || s[i].delivered < f->delivered))
			f->delivered = s[i].delivered;
	}
	f->rate = median(rate, ns);
	f->seconds = median(sec, ns);
	f->srv_share = median(srv, ns);
	f->cli_share = median(cli, ns);
}

/* ------------------------------------------------- small server calls */

/* Runs one command on the measured client; *out (may be NULL) receives
 * the batch, which the caller frees. Returns 0, the call's error, or EIO
 * when the item was not DONE. */
static int command(rb_bench *b, int argc, const char *const *argv,
		   mt_redis_batch **out)
{
	mt_redis_bytes a[4];
	mt_redis_cmd cmd = {.argc = argc, .argv = a};
	mt_redis_item item = {.cmds = &cmd, .ncmds = 1};
	mt_redis_batch *bt;
	int err;

	for (int i = 0; i < argc; i++)
		a[i] = bytes(argv[i], strlen(argv[i]));
	if ((err = mt_redis_exec(b->r, &item, 1, &bt)) != 0)
		return err;
	err = bt->done == 1 ? 0 : EIO;
	if (out && err == 0)
		*out = bt;
	else
		mt_redis_batch_free(bt);
	return err;
}

/* The PID in INFO server's process_id, if /proc shows a redis-server
 * there (a server on another machine has a PID that means nothing
 * here); else 0. */
static long find_server_pid(rb_bench *b)
{
	const char *argv[] = {"INFO", "server"};
	mt_redis_batch *bt;
	char path[64], comm[32] = "";
	const char *p;
	long pid = 0;
	FILE *f;

	if (command(b, 2, argv, &bt) != 0)
		return 0;
	if (bt->results[0].reply->type == REDIS_REPLY_STRING &&
	    (p = strstr(bt->results[0].reply->str, "process_id:")))
		pid = strtol(p + strlen("process_id:"), NULL, 10);
	mt_redis_batch_free(bt);
	snprintf(path, sizeof path, "/proc/%ld/comm", pid);
	if (pid <= 0 || !(f = fopen(path, "r")))
		return 0;
	if (!fgets(comm, sizeof comm, f))
		comm[0] = '\0';
	fclose(f);
	return strncmp(comm, "redis-server", 12) == 0 ? pid : 0;
}

static long dbsize(rb_bench *b)
{
	const char *argv[] = {"DBSIZE"};
	mt_redis_batch *bt;
	long n = -1;

	if (command(b, 1, argv, &bt) != 0)
		return -1;
	if (bt->results[0].reply->type == REDIS_REPLY_INTEGER)
		n = (long)bt->results[0].reply->integer;
	mt_redis_batch_free(bt);
	return n;
}

/* Deletes keys[0 .. n-1]; EIO if some item failed. */
static int del_keys(rb_bench *b, const mt_redis_bytes *keys, size_t n)
{
	mt_redis_batch *bt;
	int err;

	if (n == 0)
		return 0;
	if ((err = mt_redis_del(b->r, keys, n, &bt)) != 0)
		return err;
	err = bt->done == n ? 0 : EIO;
	mt_redis_batch_free(bt);
	return err;
}

/* Removes every key the bench writes: FLUSHALL on its own server, else
 * the keys one by one (someone else's data stays). */
static int clear(rb_bench *b)
{
	const char *argv[] = {"FLUSHALL"};
	const struct rb_data *d = &b->d;
	mt_redis_bytes idx[2] = {d->class_set, d->sorted_set};
	int err;

	if (b->cfg.own_server)
		return command(b, 1, argv, NULL);
	if ((err = del_keys(b, d->keys, d->nkeys)) != 0 ||
	    (err = del_keys(b, d->hkeys, d->nmodels)) != 0)
		return err;
	return del_keys(b, idx, 2);
}

static int load(rb_bench *b)
{
	const struct rb_data *d = &b->d;
	mt_redis_batch *bt;
	int err;

	err = mt_redis_set(b->r, d->keys, d->values, d->nkeys, NULL, &bt);
	if (err != 0)
		return err;
	err = bt->done == d->nkeys ? 0 : EIO;
	mt_redis_batch_free(bt);
	return err;
}

int rb_state_set(rb_bench *b, enum rb_state want)
{
	int err = 0;

	if (want == RB_ANY || want == RB_DIRTY || want == b->state)
		return 0;
	if (b->state != RB_EMPTY) {
		b->state = RB_DIRTY;
		if ((err = clear(b)) != 0)
			return err;
		b->state = RB_EMPTY;
	}
	if (want == RB_LOADED) {
		b->state = RB_DIRTY;
		if ((err = load(b)) != 0)
			return err;
		b->state = RB_LOADED;
	}
	return 0;
}

void rb_state_after(rb_bench *b, enum rb_state leaves, int err,
		    const struct rb_sample *s)
{
	if (err != 0 || (leaves == RB_LOADED && s->bad != 0))
		b->state = RB_DIRTY;
	else if (leaves != RB_ANY)
		b->state = leaves;
}

/* ------------------------------------------------------ the bench */

static int bench_init(rb_bench *b, mt_redis *r, const struct rb_config *cfg)
{
	const struct rb_sizes *z = &cfg->sizes;
	int err;

	if (!cfg->uri || cfg->reps == 0 || cfg->reps > RB_MAX_REPS ||
	    !z->keys || !z->msgs || !z->models || !z->rtt ||
	    z->keys > RB_MAX_ITEMS || z->msgs > RB_MAX_ITEMS ||
	    z->models > RB_MAX_ITEMS)
		return EINVAL;
	b->r = r;
	b->cfg = *cfg;
	b->state = RB_DIRTY;
	if (b->cfg.rtt_threads == 0)
		b->cfg.rtt_threads = 4;
	if (!(b->cfg.uri = strdup(cfg->uri)))
		return ENOMEM;
	/* The one-round-trip-per-key way runs on subsets of the sets. */
	if (b->cfg.sizes.rtt > z->keys || b->cfg.sizes.rtt > z->msgs ||
	    b->cfg.sizes.rtt > z->models)
		return EINVAL;
	if ((err = gen_data(&b->d, &b->st, z)) != 0)
		return err;
	/* A cluster has a server per master: no one PID to watch. */
	b->pid = cfg->server_pid > 0 ? cfg->server_pid :
		 is_cluster(b)	     ? 0 :
				       find_server_pid(b);
	return 0;
}

int rb_bench_open(rb_bench **out, mt_redis *r, const struct rb_config *cfg,
		  char *why, size_t whylen)
{
	rb_bench *b;
	int err;

	if (!out || !r || !cfg)
		return EINVAL;
	*out = NULL;
	if (!(b = calloc(1, sizeof *b)))
		return ENOMEM;
	if ((err = bench_init(b, r, cfg)) != 0) {
		if (why)
			snprintf(why, whylen, "bench set-up: %s",
				 err == EINVAL ? "bad sizes, reps or URI" :
						 strerror(err));
		rb_bench_close(b);
		return err;
	}
	*out = b;
	return 0;
}

void rb_bench_close(rb_bench *b)
{
	if (!b)
		return;
	mt_redis_close(b->sub);
	mt_redis_close(b->rtt);
	if (b->sub_pool)
		mt_pool_destroy(b->sub_pool, MT_DRAIN);
	if (b->rtt_pool)
		mt_pool_destroy(b->rtt_pool, MT_DRAIN);
	free_data(&b->d, &b->st);
	free((void *)b->cfg.uri);
	free(b);
}

const struct rb_data *rb_bench_data(const rb_bench *b)
{
	return &b->d;
}

const struct rb_config *rb_bench_config(const rb_bench *b)
{
	return &b->cfg;
}

long rb_bench_server_pid(const rb_bench *b)
{
	return b->pid;
}

/* Opens a helper client on a pool of its own with `threads` workers. */
static int helper_open(rb_bench *b, unsigned threads, const char *name,
		       unsigned timeout_ms, mt_pool **pool, mt_redis **r)
{
	mt_config pc = {.threads = threads, .name_prefix = name};
	mt_redis_options o = {.command_timeout_ms = timeout_ms};
	int err;

	if (*r)
		return 0;
	if (!(*pool = mt_pool_create(&pc)))
		return errno;
	o.pool = *pool;
	if ((err = mt_redis_open(r, b->cfg.uri, &o, NULL, 0)) != 0) {
		mt_pool_destroy(*pool, MT_DRAIN);
		*pool = NULL;
	}
	return err;
}

/* --------------------------------------------------- the subscriber */

struct rb_sub {
	rb_bench *b;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int state;    /* M: 0 starting, 1 subscribed, -1 failed */
	int err;      /* M: why it failed */
	size_t count; /* the subscriber thread's; read after the join */
};

static void sub_signal(struct rb_sub *s, int state, int err)
{
	pthread_mutex_lock(&s->mu);
	s->state = state;
	s->err = err;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* 1 for a "message" push on our channel, 2 for the end marker, else 0. */
static int push_kind(const redisReply *r)
{
	const redisReply *p;

	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[0]->str, "message") != 0)
		return 0;
	p = r->element[2];
	if (p->len == strlen(END_MARK) && memcmp(p->str, END_MARK, p->len) == 0)
		return 2;
	return 1;
}

static void *sub_fn(redisContext *c, void *param, void *ctx)
{
	struct rb_sub *s = ctx;
	const mt_redis_bytes ch = s->b->d.channel;
	redisReply *r;
	int ok, kind = 0;

	(void)param;
	r = redisCommand(c, "SUBSCRIBE %b", ch.data, ch.len);
	ok = r && r->type == REDIS_REPLY_ARRAY;
	freeReplyObject(r);
	sub_signal(s, ok ? 1 : -1, EIO);
	while (ok && kind != 2 && redisGetReply(c, (void **)&r) == REDIS_OK) {
		kind = push_kind(r);
		s->count += kind == 1;
		freeReplyObject(r);
	}
	/* The connection is in subscribe mode now: a set err makes the
	 * library close it rather than hand it to the next caller. */
	if (!c->err) {
		c->err = REDIS_ERR_OTHER;
		snprintf(c->errstr, sizeof c->errstr, "subscriber done");
	}
	return RB_OK;
}

static void *sub_thread(void *arg)
{
	struct rb_sub *s = arg;
	void *param = NULL, *res = NULL;
	size_t not_run = 0;
	int err;

	/* Keyed: on a cluster, the connection of the channel's master. */
	err = mt_redis_map_keyed(s->b->sub, sub_fn, &param, &s->b->d.channel,
				 &res, 1, s, &not_run);
	if (err != 0 || not_run != 0)
		sub_signal(s, -1, err ? err : EIO);
	return NULL;
}

static void sub_free(struct rb_sub *s)
{
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

int rb_sub_start(rb_bench *b, struct rb_sub **out)
{
	struct rb_sub *s;
	int err;

	err = helper_open(b, 1, "rb-sub", SUB_TIMEOUT_MS, &b->sub_pool,
			  &b->sub);
	if (err != 0)
		return err;
	if (!(s = calloc(1, sizeof *s)))
		return ENOMEM;
	s->b = b;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if ((err = pthread_create(&s->thread, NULL, sub_thread, s)) != 0) {
		sub_free(s);
		return err;
	}
	pthread_mutex_lock(&s->mu);
	while (s->state == 0)
		pthread_cond_wait(&s->cv, &s->mu);
	err = s->state == 1 ? 0 : s->err;
	pthread_mutex_unlock(&s->mu);
	if (err != 0) {
		pthread_join(s->thread, NULL);
		sub_free(s);
		return err;
	}
	*out = s;
	return 0;
}

size_t rb_sub_finish(rb_bench *b, struct rb_sub *s)
{
	mt_redis_bytes end = bytes(END_MARK, strlen(END_MARK));
	mt_redis_batch *bt = NULL;
	size_t count;

	/* Every message's reply has come back, so the server has queued
	 * each of them to the subscriber before this marker. */
	if (mt_redis_publish(b->r, &b->d.channel, &end, 1, &bt) == 0)
		mt_redis_batch_free(bt);
	pthread_join(s->thread, NULL);
	count = s->count;
	sub_free(s);
	return count;
}

/* ------------------------------------------------ library workloads */

/* Ends a timed bulk call: counts the items that are not DONE (untimed),
 * frees the batch (timed: the caller pays it) and stops the clock. */
static void end_batch(struct rb_timer *t, mt_redis_batch *bt, size_t n,
		      struct rb_sample *s)
{
	rb_timer_pause(t);
	s->n = n;
	s->bad += bt->n == n ? n - bt->done : n;
	rb_timer_resume(t);
	mt_redis_batch_free(bt);
	rb_timer_stop(t, s);
}

static int wl_set(rb_bench *b, struct rb_sample *s)
{
	const struct rb_data *d = &b->d;
	mt_redis_batch *bt;
	struct rb_timer t;
	int err;

	rb_timer_start(&t, b->pid);
	err = mt_redis_set(b->r, d->keys, d->values, d->nkeys, NULL, &bt);
	if (err != 0)
		return err;
	end_batch(&t, bt, d->nkeys, s);
	return 0;
}

/* Results whose reply is not key i's value (DONE ones; end_batch counts
 * the others). */
static size_t get_wrong(const struct rb_data *d, const mt_redis_batch *bt)
{
	size_t wrong = 0;

	for (size_t i = 0; i < bt->n; i++) {
		const redisReply *r = bt->results[i].reply;

		if (bt->results[i].status == MT_REDIS_DONE &&
		    (r->type != REDIS_REPLY_STRING || r->len != RB_VALUE_LEN ||
		     memcmp(r->str, d->values[i].data, RB_VALUE_LEN) != 0))
			wrong++;
	}
	return wrong;
}

static int wl_get(rb_bench *b, struct rb_sample *s)
{
	const struct rb_data *d = &b->d;
	mt_redis_batch *bt;
	struct rb_timer t;
	int err;

	rb_timer_start(&t, b->pid);
	if ((err = mt_redis_get(b->r, d->keys, d->nkeys, &bt)) != 0)
		return err;
	rb_timer_pause(&t);
	s->bad = get_wrong(d, bt);
	rb_timer_resume(&t);
	end_batch(&t, bt, d->nkeys, s);
	return 0;
}

/* The index of the data set's key k, or -1 if k is not one of them. The
 * library's keys are bytes, not NUL-terminated: the digits are read up to
 * k->len only. */
static long key_index(const struct rb_data *d, const mt_redis_bytes *k)
{
	const char *s = k->data, *p;
	size_t i = 0;

	if (k->len < 5 || !(p = memchr(s + 3, ':', k->len - 3)))
		return -1;
	for (p++; p < s + k->len; p++) {
		if (*p < '0' || *p > '9' || i > RB_MAX_ITEMS)
			return -1;
		i = i * 10 + (size_t)(*p - '0');
	}
	if (i >= d->nkeys || d->keys[i].len != k->len ||
	    memcmp(d->keys[i].data, s, k->len) != 0)
		return -1;
	return (long)i;
}

/* Keys found that are not distinct matching keys of the data set, plus
 * the matching keys not found. */
static size_t scan_wrong(const struct rb_data *d, const mt_redis_keys *k)
{
	unsigned char *seen = calloc(d->nkeys, 1);
	size_t wrong = 0, found = 0;

	if (!seen)
		return k->n + d->matches;
	for (size_t j = 0; j < k->n; j++) {
		long i = key_index(d, &k->keys[j]);

		if (i < 0 || seen[i] || which_pattern(d->keys[i].data) < 0) {
			wrong++;
			continue;
		}
		seen[i] = 1;
		found++;
	}
	free(seen);
	return wrong + (d->matches - found);
}

static int wl_scan(rb_bench *b, struct rb_sample *s)
{
	const struct rb_data *d = &b->d;
	long walked = dbsize(b);
	mt_redis_keys *k;
	struct rb_timer t;
	int err;

	rb_timer_start(&t, b->pid);
	err = mt_redis_scan(b->r, d->patterns, RB_NPATTERNS, NULL, &k);
	if (err != 0)
		return err;
	rb_timer_pause(&t);
	s->bad = scan_wrong(d, k);
	rb_timer_resume(&t);
	mt_redis_keys_free(k);
	rb_timer_stop(&t, s);
	/* The rate is the keyspace walked per second. */
	s->n = walked > 0 ? (size_t)walked : d->nkeys;
	return 0;
}

static int wl_publish(rb_bench *b, struct rb_sample *s)
{
	const struct rb_data *d = &b->d;
	mt_redis_batch *bt;
	struct rb_sub *sub;
	struct rb_timer t;
	int err;

	if ((err = rb_sub_start(b, &sub)) != 0)
		return err;
	rb_timer_start(&t, b->pid);
	err = mt_redis_publish(b->r, b->st.chans, d->msgs, d->nmsgs, &bt);
	if (err == 0)
		end_batch(&t, bt, d->nmsgs, s);
	s->delivered = (double)rb_sub_finish(b, sub) / (double)d->nmsgs;
	return err;
}

static int model_save(rb_bench *b, struct rb_sample *s, unsigned flags)
{
	const struct rb_data *d = &b->d;
	mt_redis_batch *bt;
	struct rb_timer t;
	int err;

	rb_timer_start(&t, b->pid);
	err = mt_redis_model_save(b->r, d->models, d->nmodels, flags, &bt);
	if (err != 0)
		return err;
	end_batch(&t, bt, d->nmodels, s);
	return 0;
}

static int wl_model_save(rb_bench *b, struct rb_sample *s)
{
	return model_save(b, s, 0);
}

static int wl_model_save_atomic(rb_bench *b, struct rb_sample *s)
{
	/* A model's keys span slots: refused on a cluster (docs/redis.md). */
	if (is_cluster(b))
		return ENOTSUP;
	return model_save(b, s, MT_REDIS_ATOMIC);
}

/* ------------------------------------------------- the start gate */

void rb_gate_wait(struct rb_gate *g)
{
	pthread_mutex_lock(&g->mu);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

void rb_gate_open(struct rb_gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = 1;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

/* One of the background-save threads: its share of the models. */
struct bg_share {
	rb_bench *b;
	struct rb_gate *go;
	size_t lo, hi;
	size_t refused; /* calls that did not return 0 */
	int err;	/* the first refusal */
};

static void *bg_thread(void *arg)
{
	struct bg_share *sh = arg;
	const struct rb_data *d = &sh->b->d;

	rb_gate_wait(sh->go);
	for (size_t i = sh->lo; i < sh->hi; i++) {
		int err = mt_redis_save_async(sh->b->r, &d->models[i], 0);

		if (err != 0 && !sh->refused++)
			sh->err = err;
	}
	return NULL;
}

/* Starts the threads, each waiting at `go`; returns how many started. */
static unsigned bg_start(rb_bench *b, struct rb_gate *go, struct bg_share *sh,
			 pthread_t *th)
{
	size_t n = b->d.nmodels;
	unsigned k;

	for (k = 0; k < RB_BG_THREADS; k++) {
		sh[k] = (struct bg_share){.b = b,
					  .go = go,
					  .lo = n * k / RB_BG_THREADS,
					  .hi = n * (k + 1) / RB_BG_THREADS};
		if (pthread_create(&th[k], NULL, bg_thread, &sh[k]) != 0)
			break;
	}
	return k;
}

static int wl_bg_save(rb_bench *b, struct rb_sample *s)
{
	struct bg_share sh[RB_BG_THREADS];
	pthread_t th[RB_BG_THREADS];
	struct rb_gate go = RB_GATE_INIT;
	mt_redis_flush_report rep;
	struct rb_timer t;
	unsigned started;
	int err = 0;

	/* The report counts from the previous flush: start from zero. */
	mt_redis_flush(b->r, NULL);
	started = bg_start(b, &go, sh, th);
	rb_timer_start(&t, b->pid);
	rb_gate_open(&go);
	for (unsigned k = 0; k < started; k++) {
		pthread_join(th[k], NULL);
		s->bad += sh[k].refused;
		err = err ? err : sh[k].err;
	}
	if (started < RB_BG_THREADS)
		return EAGAIN;
	mt_redis_flush(b->r, &rep);
	rb_timer_stop(&t, s);
	s->n = b->d.nmodels;
	s->bad += (size_t)(rep.failed + rep.unknown);
	if (rep.done + s->bad != s->n)
		s->bad = s->n - (size_t)rep.done;
	return err == ENOSYS ? ENOSYS : 0;
}

/* ------------------------------- the one-round-trip-per-key way */

static void *rtt_set_fn(redisContext *c, void *param, void *ctx)
{
	const struct rb_data *d = ctx;
	size_t i = (uintptr_t)param;
	const char *argv[3] = {"SET", d->keys[i].data, d->values[i].data};
	size_t len[3] = {3, d->keys[i].len, RB_VALUE_LEN};
	redisReply *r = redisCommandArgv(c, 3, argv, len);
	int ok = r && r->type == REDIS_REPLY_STATUS;

	freeReplyObject(r);
	return ok ? RB_OK : NULL;
}

static void *rtt_get_fn(redisContext *c, void *param, void *ctx)
{
	const struct rb_data *d = ctx;
	size_t i = (uintptr_t)param;
	const char *argv[2] = {"GET", d->keys[i].data};
	size_t len[2] = {3, d->keys[i].len};
	redisReply *r = redisCommandArgv(c, 2, argv, len);
	int ok = r && r->type == REDIS_REPLY_STRING && r->len == RB_VALUE_LEN &&
		 memcmp(r->str, d->values[i].data, RB_VALUE_LEN) == 0;

	freeReplyObject(r);
	return ok ? RB_OK : NULL;
}

static void *rtt_publish_fn(redisContext *c, void *param, void *ctx)
{
	const struct rb_data *d = ctx;
	size_t i = (uintptr_t)param;
	const char *argv[3] = {"PUBLISH", d->channel.data, d->msgs[i].data};
	size_t len[3] = {7, d->channel.len, RB_VALUE_LEN};
	redisReply *r = redisCommandArgv(c, 3, argv, len);
	int ok = r && r->type == REDIS_REPLY_INTEGER;

	freeReplyObject(r);
	return ok ? RB_OK : NULL;
}

/* A model save as Popoto does it: the model's commands in one pipeline,
 * one round trip per model. */
static void *rtt_model_fn(redisContext *c, void *param, void *ctx)
{
	struct rb_model_cmds m;
	redisReply *r;
	int ok = 1;

	rb_model_cmds(ctx, (uintptr_t)param, &m);
	for (int k = 0; k < RB_MODEL_CMDS; k++)
		redisAppendCommandArgv(c, m.argc[k], m.argv[k], m.len[k]);
	for (int k = 0; k < RB_MODEL_CMDS; k++) {
		if (redisGetReply(c, (void **)&r) != REDIS_OK)
			return NULL;
		ok &= r->type == REDIS_REPLY_INTEGER;
		freeReplyObject(r);
	}
	return ok ? RB_OK : NULL;
}

/* results[i] = fn(i) on the rtt client's threads, item i on the
 * connection for keys[i] (a cluster's master; NULL: every item's key is
 * the channel); the items whose result is not RB_OK are bad. */
static int rtt_run(rb_bench *b, void *(*fn)(redisContext *, void *, void *),
		   const mt_redis_bytes *keys, struct rb_sample *s)
{
	size_t n = b->cfg.sizes.rtt, not_run = 0;
	void **res;
	struct rb_timer t;
	int err;

	err = helper_open(b,
			  b->cfg.rtt_threads > 1 ? b->cfg.rtt_threads - 1 : 1,
			  "rb-rtt", 0, &b->rtt_pool, &b->rtt);
	if (err != 0)
		return err;
	mt_redis_bytes *chans = keys ? NULL : calloc(n, sizeof *chans);
	if (!(res = calloc(n, sizeof *res)) || (!keys && !chans)) {
		free(res);
		return ENOMEM;
	}
	for (size_t i = 0; !keys && i < n; i++)
		chans[i] = b->d.channel;
	rb_timer_start(&t, b->pid);
	err = mt_redis_map_keyed(b->rtt, fn, b->st.params, keys ? keys : chans,
				 res, n, &b->d, &not_run);
	rb_timer_stop(&t, s);
	free(chans);
	s->n = n;
	for (size_t i = 0; i < n; i++)
		s->bad += res[i] != RB_OK;
	free(res);
	/* A connection error is counted in s->bad (its items are not_run). */
	return err == ENOSYS || err == EINVAL || err == ENOMEM ? err : 0;
}

static int rtt_set(rb_bench *b, struct rb_sample *s)
{
	return rtt_run(b, rtt_set_fn, b->d.keys, s);
}

static int rtt_get(rb_bench *b, struct rb_sample *s)
{
	return rtt_run(b, rtt_get_fn, b->d.keys, s);
}

static int rtt_model(rb_bench *b, struct rb_sample *s)
{
	/* One connection, commands of several slots: not on a cluster. */
	if (is_cluster(b))
		return ENOTSUP;
	return rtt_run(b, rtt_model_fn, b->d.hkeys, s);
}

static int rtt_publish(rb_bench *b, struct rb_sample *s)
{
	struct rb_sub *sub;
	int err;

	if ((err = rb_sub_start(b, &sub)) != 0)
		return err;
	err = rtt_run(b, rtt_publish_fn, NULL, s);
	s->delivered = (double)rb_sub_finish(b, sub) / (double)b->cfg.sizes.rtt;
	return err;
}

#define RTT_WAY "a round trip per key, threads (Python's way)"

const struct rb_workload rb_workloads[] = {
	{"set", "SET", "mt_redis_set (MSET chunks)", "keys/s", RB_EMPTY,
	 RB_LOADED, 0, wl_set},
	{"rtt-set", "SET", "SET, " RTT_WAY, "keys/s", RB_EMPTY, RB_DIRTY, 1,
	 rtt_set},
	{"get", "GET", "mt_redis_get (MGET chunks)", "keys/s", RB_LOADED,
	 RB_ANY, 0, wl_get},
	{"rtt-get", "GET", "GET, " RTT_WAY, "keys/s", RB_LOADED, RB_ANY, 1,
	 rtt_get},
	{"scan", "SCAN 4 patterns", "mt_redis_scan (one walk)", "keys walked/s",
	 RB_LOADED, RB_ANY, 0, wl_scan},
	{"publish", "PUBLISH", "mt_redis_publish", "msgs/s", RB_ANY, RB_ANY, 0,
	 wl_publish},
	{"rtt-publish", "PUBLISH", "PUBLISH, " RTT_WAY, "msgs/s", RB_ANY,
	 RB_ANY, 1, rtt_publish},
	{"model-save", "MODEL SAVE", "mt_redis_model_save", "models/s",
	 RB_EMPTY, RB_DIRTY, 0, wl_model_save},
	{"model-save-atomic", "MODEL SAVE",
	 "mt_redis_model_save, MULTI/EXEC each", "models/s", RB_EMPTY, RB_DIRTY,
	 0, wl_model_save_atomic},
	{"rtt-model-save", "MODEL SAVE",
	 "a round trip per model, threads (Python's way)", "models/s", RB_EMPTY,
	 RB_DIRTY, 1, rtt_model},
	{"bg-save", "BG SAVE", "mt_redis_save_async x4 threads + flush",
	 "models/s", RB_EMPTY, RB_DIRTY, 0, wl_bg_save},
};

const size_t rb_nworkloads = sizeof rb_workloads / sizeof rb_workloads[0];

const struct rb_workload *rb_workload_find(const char *name)
{
	for (size_t i = 0; i < rb_nworkloads; i++)
		if (strcmp(rb_workloads[i].name, name) == 0)
			return &rb_workloads[i];
	return NULL;
}

int rb_workload_once(rb_bench *b, const struct rb_workload *w,
		     struct rb_sample *s)
{
	int err;

	*s = (struct rb_sample){.delivered = NAN};
	if ((err = rb_state_set(b, w->needs)) != 0)
		return err;
	err = w->once(b, s);
	rb_state_after(b, w->leaves, err, s);
	return err;
}

int rb_workload_run(rb_bench *b, const struct rb_workload *w,
		    struct rb_figure *f)
{
	unsigned reps = b->cfg.reps;
	struct rb_sample s[RB_MAX_REPS];

	*f = (struct rb_figure){.delivered = NAN};
	for (unsigned i = 0; i < reps; i++)
		if ((f->err = rb_workload_once(b, w, &s[i])) != 0)
			return f->err;
	rb_figure_of(f, s, reps);
	return 0;
}

int rb_figure_wrong(const struct rb_figure *f)
{
	if (f->err != 0)
		return f->err != ENOSYS && f->err != ENOTSUP;
	return f->bad != 0 || (!isnan(f->delivered) && f->delivered < 1);
}

int rb_run_table(rb_bench *b, int (*want)(const struct rb_workload *w),
		 FILE *out)
{
	const char *group = NULL;
	double lib = NAN;
	int wrong = 0;

	rb_table_header(out);
	for (size_t i = 0; i < rb_nworkloads; i++) {
		const struct rb_workload *w = &rb_workloads[i];
		struct rb_row row = {.group = w->group,
				     .method = w->method,
				     .unit = w->unit};

		if (want && !want(w))
			continue;
		rb_workload_run(b, w, &row.fig);
		if (!group || strcmp(group, w->group) != 0) {
			group = w->group;
			lib = row.fig.err == 0 ? row.fig.rate : NAN;
		}
		row.vs = row.fig.err == 0 ? row.fig.rate / lib : NAN;
		rb_table_row(out, &row);
		wrong |= rb_figure_wrong(&row.fig);
	}
	return wrong ? EIO : 0;
}

/* ------------------------------------------------------------ table */

void rb_fmt_rate(char *buf, size_t len, double v)
{
	/* The bounds are where 3 digits round up to the next unit. */
	if (isnan(v))
		snprintf(buf, len, "-");
	else if (v >= 999.5e3)
		snprintf(buf, len, "%.3gM", v / 1e6);
	else if (v >= 999.5)
		snprintf(buf, len, "%.3gk", v / 1e3);
	else
		snprintf(buf, len, "%.3g", v);
}

static void fmt_pct(char *buf, size_t len, double share)
{
	if (isnan(share))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.0f%%", share * 100);
}

/* "ok", "BAD n", "ok, 99.9% delivered", "N/A (...)", "ERROR: ..." */
static void fmt_check(char *buf, size_t len, const struct rb_figure *f)
{
	int k;

	if (f->err == ENOTSUP) {
		snprintf(buf, len, "N/A on a cluster (docs/redis.md)");
		return;
	}
	if (f->err == ENOSYS) {
		snprintf(buf, len, "N/A (not implemented yet)");
		return;
	}
	if (f->err != 0) {
		snprintf(buf, len, "ERROR: %s", strerror(f->err));
		return;
	}
	k = f->bad ? snprintf(buf, len, "BAD %zu", f->bad) :
		     snprintf(buf, len, "ok");
	if (!isnan(f->delivered) && k > 0 && (size_t)k < len)
		snprintf(buf + k, len - (size_t)k, ", %.1f%% delivered",
			 f->delivered * 100);
}

void rb_table_header(FILE *out)
{
	fprintf(out, "%-16s %-52s %8s %7s %-13s %5s %5s %6s  %s\n", "group",
		"method", "n", "rate", "unit", "srv", "cli", "x lib",
		"check (median of reps)");
}

void rb_table_row(FILE *out, const struct rb_row *w)
{
	char rate[16], srv[8], cli[8], vs[16], check[64];
	const struct rb_figure *f = &w->fig;
	int ok = f->err == 0;

	rb_fmt_rate(rate, sizeof rate, ok ? f->rate : NAN);
	fmt_pct(srv, sizeof srv, ok ? f->srv_share : NAN);
	fmt_pct(cli, sizeof cli, ok ? f->cli_share : NAN);
	if (ok && !isnan(w->vs))
		snprintf(vs, sizeof vs, "%.2f", w->vs);
	else
		snprintf(vs, sizeof vs, "-");
	fmt_check(check, sizeof check, f);
	fprintf(out, "%-16s %-52s %8zu %7s %-13s %5s %5s %6s  %s\n", w->group,
		w->method, f->n, rate, w->unit, srv, cli, vs, check);
	fflush(out);
}

void rb_csv_header(FILE *out)
{
	fprintf(out, "group,method,unit,n,reps,rate,seconds,server_cpu,"
		     "client_cpu,vs_lib,delivered,bad,status\n");
}

/* A CSV number at full precision; empty when there is none. */
static void csv_num(FILE *out, double v)
{
	if (!isnan(v))
		fprintf(out, "%.6g", v);
	fputc(',', out);
}

void rb_csv_row(FILE *out, const struct rb_row *w)
{
	const struct rb_figure *f = &w->fig;
	int ok = f->err == 0;
	char check[64];

	fmt_check(check, sizeof check, f);
	fprintf(out, "\"%s\",\"%s\",%s,%zu,%u,", w->group, w->method, w->unit,
		f->n, f->reps);
	csv_num(out, ok ? f->rate : NAN);
	csv_num(out, ok ? f->seconds : NAN);
	csv_num(out, ok ? f->srv_share : NAN);
	csv_num(out, ok ? f->cli_share : NAN);
	csv_num(out, ok ? w->vs : NAN);
	csv_num(out, ok ? f->delivered : NAN);
	fprintf(out, "%zu,\"%s\"\n", f->bad, check);
	fflush(out);
}
