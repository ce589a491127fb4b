/*
 * redis/cli/cluster.h: the Redis Cluster that `mtredis demo --cluster`
 * embeds.
 *
 * Overview
 * ========
 * cluster_start runs three redis-servers (server.h: each in a fresh
 * mkdtemp folder, persistence off, dying with the caller) as the masters
 * of a cluster on free loopback ports, gives each a third of the 16,384
 * slots (CLUSTER ADDSLOTSRANGE) and a config epoch of its own, has them
 * meet, and returns once every node says cluster_state:ok (about 2 s: a
 * new master waits that long before it calls itself ok). cluster_stop
 * stops them by PID and removes their folders; cluster_kill_now does it
 * from a signal handler. No replicas: the demo shows routing, not
 * failover.
 *
 * Usage
 * =====
 *   struct cluster c;
 *   if (cluster_start(&c, why, sizeof why) != 0) { print why; exit 1 }
 *   ... mt_redis_open(&r, c.uri, ...) ...       redis-cluster://...
 *   cluster_stop(&c);
 *
 * Implementation notes
 * ====================
 * Slots are assigned directly rather than by `redis-cli --cluster
 * create`, so the demo needs redis-server only. A free port is one that
 * binding port 0 returned a moment ago; another process may take it
 * first, so a node that exits at start is started again on fresh ports
 * (a few attempts). As server_start, cluster_start must run on the main
 * thread (PR_SET_PDEATHSIG is per thread).
 */
#ifndef MTPOOL_REDIS_CLI_CLUSTER_H
#define MTPOOL_REDIS_CLI_CLUSTER_H

#include <stddef.h>

#include "server.h"

#define CLUSTER_NODES 3

struct cluster {
	struct server node[CLUSTER_NODES];
	int port[CLUSTER_NODES], bus[CLUSTER_NODES]; /* TCP, cluster bus */
	char uri[32 + CLUSTER_NODES * 24]; /* redis-cluster://every node */
};

/* Starts the cluster (see the overview). On failure nothing is left and
 * `why` says what went wrong. Returns 0, the errors of server_start, or
 * ETIMEDOUT (not ok within 30 s), EIO (a node refused a setup command).
 * Main thread only. */
int cluster_start(struct cluster *c, char *why /* OUT */, size_t whylen);

/* Stops every node and removes the folders; 0 or the first folder left
 * behind (EEXIST). Fine after a failed start. */
int cluster_stop(struct cluster *c);

/* From a signal handler or a crash: SIGKILL every node, reap, remove the
 * folders. Async-signal-safe. */
void cluster_kill_now(struct cluster *c);

#endif /* MTPOOL_REDIS_CLI_CLUSTER_H */
