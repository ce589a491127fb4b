/*
 * bench/redis/baselines.h: the plain-hiredis baselines of redis_bench.
 *
 * Overview
 * ========
 * What a competent C programmer writes with hiredis alone, beside every
 * library workload of the same group (issue 7):
 *   SET, GET      a pipelining client, one thread and connection per
 *                 share, on 1, 2 and 4 connections: single-key commands
 *                 in windows of 1,000 commands, and MSET / MGET of 100
 *                 keys in windows of 10 commands (the same 1,000 keys);
 *   PUBLISH       the same pipelining client, windows of 1,000;
 *   MODEL SAVE    HSET (5 fields) + SADD + ZADD + PEXPIRE per model,
 *                 windows of 1,000 commands (250 models);
 *   SCAN          SCAN MATCH once per pattern on one connection; the same
 *                 with a thread and connection per pattern (the Python
 *                 original's run_all_multithreaded over the patterns); one
 *                 SCAN walk matching the patterns on the client (fnmatch).
 * They write the data set's bytes (workloads.h), check every reply in
 * their loop, and free each reply there, as such a client would.
 *
 * Usage
 * =====
 *   struct bl_env e = {.host = "127.0.0.1", .port = p, .b = bench};
 *   for each baselines[i] whose group is being run:
 *           rb_state_set(bench, baselines[i].needs);
 *           err = baselines[i].once(&baselines[i], &e, &sample);
 *           rb_state_after(bench, baselines[i].leaves, err, &sample);
 *
 * Implementation notes
 * ====================
 * Connections are made before the clock starts; the threads then wait at
 * a gate that the clock's start opens, and the clock stops when the last
 * one is joined. A connection error ends that thread's share: the items it
 * did not get a good reply for are counted bad, never retried (a plain
 * client has no retry rule).
 */
#ifndef MTPOOL_BENCH_REDIS_BASELINES_H
#define MTPOOL_BENCH_REDIS_BASELINES_H

#include "workloads.h"

/* Where the baselines connect, and the bench whose data and subscriber
 * they use. */
struct bl_env {
	const char *host; /* TCP, when path is NULL */
	int port;
	const char *path; /* unix socket */
	rb_bench *b;
};

struct baseline;
/* Runs once, filling *s; returns 0 (bad items are s->bad) or an error
 * that stopped the whole run (no connection, no memory). */
typedef int (*bl_once_fn)(const struct baseline *bl, const struct bl_env *e,
			  struct rb_sample *s /* OUT */);

struct pipe_op;

struct baseline {
	const char *group; /* as rb_workload.group */
	const char *method;
	const char *unit;
	enum rb_state needs, leaves; /* as rb_workload */
	unsigned conns;
	bl_once_fn once;
	const struct pipe_op *op; /* the pipelined ones' commands */
	int pattern_mode;	  /* the SCAN ones' strategy */
};

extern const struct baseline baselines[];
extern const size_t nbaselines;

#endif /* MTPOOL_BENCH_REDIS_BASELINES_H */
