/*
 * bench/redis/workloads.h: the Redis bench's data set, its measuring
 * instruments and the library's workloads, shared by `redis_bench` and
 * `mtredis bench` (issue 7 "Benchmarks", issue 8).
 *
 * Overview
 * ========
 * An rb_bench holds what every workload of one run shares: the client
 * being measured (mt_redis), the data set (keys, 64-byte values, messages,
 * models, scan patterns: generated once, read-only afterwards, so the
 * hiredis baselines of redis_bench write exactly the same bytes), the
 * server's PID for its CPU share, and two helper clients opened from the
 * same URI: the subscriber that counts what PUBLISH delivers, and the
 * one-round-trip-per-key way (a pool of a few threads, one blocking
 * command per key, as the Python original's run_all_multithreaded).
 *
 * A workload is one row of the table: a group ("SET", "GET", ...), a
 * method, a unit, the keyspace state it needs, and a function that runs
 * it once and fills an rb_sample. rb_workloads[] lists the library's rows
 * and the one-round-trip-per-key rows; redis_bench adds its own hiredis
 * baselines beside them (bench/redis/baselines.h), through the same
 * rb_sample, rb_figure and table printer.
 *
 * Usage
 * =====
 *   rb_bench *b;
 *   struct rb_config cfg = {.uri = uri, .sizes = rb_sizes_for(n),
 *                           .reps = 3};
 *   if (rb_bench_open(&b, r, &cfg, why, sizeof why) == 0) {
 *           rb_run_table(b, NULL, stdout);  every row, median of reps
 *           rb_bench_close(b);
 *   }
 * redis_bench interleaves the repetitions of every row of a group instead
 * (rb_state_set, then rb_workload_once), so the machine's drift hits the
 * library and its baselines alike.
 *
 * Implementation notes
 * ====================
 * Only public headers: <mtpool/redis.h> (which brings hiredis) and
 * <mtpool/mtpool.h>. Timing is CLOCK_MONOTONIC wall time from the call to
 * its return plus the time to free what it returned (mt_redis_batch_free
 * counts: a user pays it; the baselines free each reply in their loop);
 * result checks run with the clocks paused (rb_timer). The server's CPU
 * is its main thread's time on the CPU from /proc/<pid>/schedstat (in
 * nanoseconds; utime+stime of /proc/<pid>/stat, in 10 ms ticks, where
 * the kernel has no schedstat), the PID given or read from INFO server
 * and accepted only when that process is a local redis-server; this process's
 * CPU is CLOCK_PROCESS_CPUTIME_ID. Both are given as a share of the wall
 * time (1.0 = one core busy), so a server share near 1.0 says the server's
 * single core was the ceiling.
 */
#ifndef MTPOOL_BENCH_REDIS_WORKLOADS_H
#define MTPOOL_BENCH_REDIS_WORKLOADS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <mtpool/redis.h>

/* Bytes of every value of the SET/GET keys and of every PUBLISH message. */
#define RB_VALUE_LEN 64
/* Patterns of the key-collection workload. */
#define RB_NPATTERNS 4
/* Threads that issue the background saves (the "from 4 threads"). */
#define RB_BG_THREADS 4

/* How many items each kind of workload times. */
struct rb_sizes {
	size_t keys;   /* SET, GET and the keyspace SCAN walks */
	size_t msgs;   /* PUBLISH */
	size_t models; /* model saves, background saves */
	size_t rtt;    /* the one-round-trip-per-key way: a subset (slow) */
};

/* The sizes, and the --quick ones (a smoke run of a few s). */
extern const struct rb_sizes rb_full_sizes, rb_quick_sizes;

/* The proportions for `keys` keys (-n): messages and models
 * keys / 5, the one-round-trip subset min(20,000, keys / 5); each >= 1. */
struct rb_sizes rb_sizes_for(size_t keys);

/* What the run is told; copied by rb_bench_open. */
struct rb_config {
	/* The URI of the measured client: the subscriber and the
	 * one-round-trip-per-key way open their own clients on it. */
	const char *uri;
	struct rb_sizes sizes;
	unsigned reps; /* repetitions behind each median (>= 1) */
	/* Threads of the one-round-trip-per-key way, each with its own
	 * connection (the calling thread is one of them); 0 = 4. */
	unsigned rtt_threads;
	/* 1: the server is the bench's own, FLUSHALL empties it between
	 * repetitions. 0: someone else's server: the bench deletes the keys
	 * it wrote (every key it writes starts with "rb:" or "rbUser:"). */
	int own_server;
	/* The server's PID for its CPU share; 0 = ask INFO server (and
	 * accept it only if /proc shows a local redis-server there). */
	long server_pid;
};

/* The data set. Read-only after rb_bench_open; everything it points to
 * is owned by the rb_bench. */
struct rb_data {
	size_t nkeys; /* key i "rb:<user|order|item|sess>:%07zu" */
	mt_redis_bytes *keys, *values;
	size_t nmsgs; /* all on one channel, 64 bytes each */
	mt_redis_bytes channel, *msgs;
	/* Popoto's layout (mt_redis_model): model "rbUser", key "%07zu",
	 * fields name, email, age, city, score; the sorted index "score"
	 * (score i); a TTL of one hour. hkeys[i] is the hash's name
	 * "rbUser:%07zu" and scores[i] the score as text, for the
	 * baselines that write the same commands by hand. */
	size_t nmodels;
	mt_redis_model *models;
	mt_redis_bytes *hkeys, *scores;
	mt_redis_bytes class_set;  /* "$Class:rbUser" */
	mt_redis_bytes sorted_set; /* "$SortedF:rbUser:score" */
	const char *patterns[RB_NPATTERNS];
	size_t matches; /* keys of the set matching any pattern */
	void *store;	/* private: the buffers */
};

/* One timed run of one method. */
struct rb_sample {
	double seconds;	  /* wall time, checks excluded */
	size_t n;	  /* items timed */
	size_t bad;	  /* items that failed or came back wrong */
	double srv_cpu;	  /* server CPU seconds meanwhile; NAN unknown */
	double cli_cpu;	  /* this process's CPU seconds meanwhile */
	double delivered; /* PUBLISH: counted by the subscriber / sent;
			     NAN for other workloads */
};

/* The median of a row's samples. */
struct rb_figure {
	int err;	  /* 0, ENOSYS (not implemented yet) or the error */
	unsigned reps;	  /* samples behind the medians */
	size_t n;	  /* items per sample */
	double rate;	  /* median items per second */
	double seconds;	  /* median wall time of one sample */
	double srv_share; /* median server CPU / wall (1.0 = one core) */
	double cli_share; /* median client CPU / wall */
	double delivered; /* lowest delivered fraction; NAN if none */
	size_t bad;	  /* sum over the samples */
};

/* The median figure of samples s[0 .. ns-1] (ns >= 1). */
void rb_figure_of(struct rb_figure *f, const struct rb_sample *s, unsigned ns);
/* 1 when the figure's row failed (other than ENOSYS), had a bad item, or
 * lost a message. */
int rb_figure_wrong(const struct rb_figure *f);

/* What a workload needs the keyspace to be before each run. */
enum rb_state {
	RB_ANY = 0,    /* nothing: PUBLISH */
	RB_EMPTY = 1,  /* none of the bench's keys (writes start fresh) */
	RB_LOADED = 2, /* exactly the data set's keys (GET, SCAN) */
	RB_DIRTY = 3   /* (current state only) something else */
};

typedef struct rb_bench rb_bench;

/* One row: a method of a group. */
struct rb_workload {
	const char *name;   /* short id for --only and mtredis: "set" */
	const char *group;  /* "SET", "GET", "SCAN", "PUBLISH", ... */
	const char *method; /* what is measured, one line */
	const char *unit;   /* "keys/s", "msgs/s", "models/s" */
	enum rb_state needs;
	/* What a run leaves: RB_ANY = the state it found; RB_LOADED means
	 * "loaded if no item was bad", else RB_DIRTY. */
	enum rb_state leaves;
	int rtt; /* 1: the one-round-trip-per-key way */
	/* Runs once, filling *s. Returns 0 (failures of single items are
	 * s->bad), ENOSYS when the library lacks the call, or an error. */
	int (*once)(rb_bench *b, struct rb_sample *s /* OUT */);
};

/* The library's rows and the one-round-trip-per-key rows, grouped, in
 * the order of a run (the keyspace SET leaves serves GET and SCAN). */
extern const struct rb_workload rb_workloads[];
extern const size_t rb_nworkloads;

/* The row named `name`, or NULL. */
const struct rb_workload *rb_workload_find(const char *name);

/*
 * Opens the bench's state for client `r` (borrowed: it must outlive the
 * rb_bench): generates the data set and finds the server's PID. The
 * helper clients are opened on first use. Returns 0, or EINVAL (a NULL
 * argument, no URI, reps 0, a size 0), ENOMEM; `why` (may be NULL) gets
 * a reason.
 */
int rb_bench_open(rb_bench **out /* OUT */, mt_redis *r,
		  const struct rb_config *cfg, char *why /* OUT */,
		  size_t whylen);
void rb_bench_close(rb_bench *b);

const struct rb_data *rb_bench_data(const rb_bench *b);
const struct rb_config *rb_bench_config(const rb_bench *b);
/* The server's PID (0 when unknown: CPU shares are then NAN). */
long rb_bench_server_pid(const rb_bench *b);

/* Makes the keyspace what `want` says (untimed): RB_EMPTY flushes (or
 * deletes the bench's keys), RB_LOADED also loads the data set's keys
 * with mt_redis_set unless the bench knows they are there. Returns 0 or
 * the error of the call that failed (EIO when items failed). */
int rb_state_set(rb_bench *b, enum rb_state want);
/* Tells the bench what a run outside it (a baseline) left behind: the
 * run's `leaves` state (as rb_workload.leaves), its error and sample. */
void rb_state_after(rb_bench *b, enum rb_state leaves, int err,
		    const struct rb_sample *s);

/* rb_state_set(w->needs), then w->once. Returns as once. */
int rb_workload_once(rb_bench *b, const struct rb_workload *w,
		     struct rb_sample *s /* OUT */);
/* cfg.reps runs of rb_workload_once, their median in *f; f->err holds
 * the first error (then the figure is empty). Returns f->err. */
int rb_workload_run(rb_bench *b, const struct rb_workload *w,
		    struct rb_figure *f /* OUT */);

/* What `mtredis bench` prints: every row of rb_workloads[] whose name
 * `want` accepts (NULL: all), run with rb_workload_run, printed as they
 * come with the table header first, "x lib" against the group's first
 * (library) row. Returns 0, or EIO when a row was wrong (a bad item, a
 * lost message) or failed (ENOSYS rows are N/A, not failures). */
int rb_run_table(rb_bench *b, int (*want)(const struct rb_workload *w),
		 FILE *out);

/* The four commands of a model save written by hand, as the library's
 * mt_redis_model_save writes them for the data set's model i: HSET of the
 * five fields, SADD to the class set, ZADD to the sorted index, PEXPIRE
 * (so the baselines and the one-round-trip-per-key way send the same
 * bytes). */
#define RB_MODEL_CMDS 4
#define RB_MODEL_ARGS 12 /* HSET, the hash, 5 fields and their values */
struct rb_model_cmds {
	int argc[RB_MODEL_CMDS];
	const char *argv[RB_MODEL_CMDS][RB_MODEL_ARGS];
	size_t len[RB_MODEL_CMDS][RB_MODEL_ARGS];
};
void rb_model_cmds(const struct rb_data *d, size_t i,
		   struct rb_model_cmds *out /* OUT */);

/* ---------------------------------------------------- instruments */

/* Holds the threads of one timed run until every one exists, so that the
 * clock starts when they start: each calls rb_gate_wait, the runner
 * rb_gate_open once the clock runs. Initialise with RB_GATE_INIT. */
struct rb_gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int open; /* mu */
};
#define RB_GATE_INIT                                                   \
	{                                                              \
		PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 \
	}
void rb_gate_wait(struct rb_gate *g);
void rb_gate_open(struct rb_gate *g);

/* Clocks of a timed region, paused around checks. */
struct rb_timer {
	long pid;	       /* server, 0 = none */
	double wall, srv, cli; /* accumulated seconds */
	double wall0, srv0, cli0;
};
void rb_timer_start(struct rb_timer *t, long server_pid);
void rb_timer_pause(struct rb_timer *t);
void rb_timer_resume(struct rb_timer *t);
/* Pauses, and writes seconds, srv_cpu and cli_cpu of *s. */
void rb_timer_stop(struct rb_timer *t, struct rb_sample *s /* OUT */);

/* CPU seconds of process `pid` so far: its main thread's from
 * /proc/PID/schedstat (nanoseconds), else utime + stime of /proc/PID/stat
 * (clock ticks); NAN when neither can be read. */
double rb_proc_cpu_seconds(long pid);
/* Monotonic seconds. */
double rb_now(void);

/*
 * The subscriber: its own client and thread, SUBSCRIBEd to the data
 * set's channel, counting the messages that arrive until the bench's end
 * marker (published after the last message's reply, so every earlier
 * message is already queued to it) or a dead connection.
 */
struct rb_sub;
/* Starts it and waits until it is subscribed: a client of its own on a
 * one-worker pool (opened on first use, kept until rb_bench_close), whose
 * mt_redis_map runs the subscription on a thread of its own. Returns 0,
 * an error of mt_pool_create, mt_redis_open or pthread_create, or EIO
 * (SUBSCRIBE refused). */
int rb_sub_start(rb_bench *b, struct rb_sub **out /* OUT */);
/* Publishes the end marker through the measured client, joins the
 * subscriber and returns how many messages it counted. */
size_t rb_sub_finish(rb_bench *b, struct rb_sub *s);

/* ----------------------------------------------------------- table */

struct rb_row {
	const char *group, *method, *unit;
	struct rb_figure fig;
	double vs; /* rate / the group's library rate; NAN: not shown */
};

/* Aligned text: one header, then one line per row; CSV likewise. Both
 * print "N/A (not implemented yet)" for ENOSYS rows. */
void rb_table_header(FILE *out);
void rb_table_row(FILE *out, const struct rb_row *row);
void rb_csv_header(FILE *out);
void rb_csv_row(FILE *out, const struct rb_row *row);
/* A rate in 3 significant digits with k / M ("1.23M"), "-" for NAN. */
void rb_fmt_rate(char *buf, size_t len, double rate);

#endif /* MTPOOL_BENCH_REDIS_WORKLOADS_H */
