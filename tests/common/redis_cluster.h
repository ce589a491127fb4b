/*
 * tests/common/redis_cluster.h: real Redis Clusters on loopback for the
 * cluster tests.
 *
 * Overview
 * ========
 * mt_test_cluster_start() starts N masters and R replicas per master, each
 * a redis-server of the single-server harness (redis_server.h: its own
 * mkdtemp folder, a free loopback port, a unix socket, persistence off,
 * DEBUG on, the admin ACL user, PR_SET_PDEATHSIG) started as a cluster
 * node (--cluster-enabled yes, nodes.conf in its folder, a free
 * --cluster-port) with --cluster-node-timeout 1000; then runs
 *   redis-cli --cluster create 127.0.0.1:P1 ... --cluster-replicas R
 *     --cluster-yes
 * and polls (bounded) until the cluster is ready (mt_test_cluster_wait_ok):
 * every live node says cluster_state:ok with all 16,384 slots ok, every
 * live replica's master_link_status is up, and every live node's
 * CLUSTER SLOTS names the same master for every slot. About 2 s for three
 * masters, 6 s with replicas (NOTES.md): a new master waits 2 s before
 * it calls itself ok.
 *
 * Usage
 * =====
 *   struct mt_test_cluster c;
 *   mt_test_cluster_start(&c, 3, 0);
 *   mt_redis_open(&r, c.uri, ...);            redis-cluster://every master
 *   int m = mt_test_cluster_owner(&c, slot);  node index serving a slot
 *   redisContext *a = mt_test_cluster_admin(&c, m);
 *
 *   faults:
 *   mt_test_cluster_kill(&c, m);              SIGKILL, the node is gone
 *   int r = mt_test_cluster_wait_failover(&c, m);  its replica took over
 *   mt_test_cluster_restart(&c, m); mt_test_cluster_wait_ok(&c);
 *
 *   a slot migrated step by step (stop between steps to see ASK, then
 *   MOVED, happen to a client):
 *   struct mt_test_migration g;
 *   mt_test_cluster_migrate_begin(&c, slot, to, &g);   IMPORTING/MIGRATING
 *   while (mt_test_cluster_migrate_keys(&c, &g, 10) > 0) ...  MIGRATE
 *   mt_test_cluster_migrate_end(&c, &g);               SETSLOT NODE
 *   or all at once, a hook called after each step:
 *   mt_test_cluster_migrate(&c, slot, to, hook, arg);
 *
 *   mt_test_cluster_stop(&c);                 every node stopped, folders
 *                                             removed
 * Nodes are indexed in start order: masters 0 .. N-1 first as given to
 * redis-cli, then replicas; which master a replica follows is read from
 * the cluster (node[i].master), since redis-cli chooses, and is read
 * again by every wait (a failover changes it).
 *
 * As in the single-server harness, every function asserts (Criterion) on
 * failure and must run on the test's own thread, which is also the thread
 * the nodes die with.
 *
 * A cluster shared by the tests of one executable (it takes 2-6 s to
 * start, and Criterion runs each test in a process of its own):
 *   MT_TEST_CLUSTER_SHARED(3, 0)                 once, at file scope
 *   Test(...) { struct mt_test_cluster c;
 *               mt_test_cluster_shared(&c);  ... mt_test_cluster_stop(&c); }
 * Before the first test, the runner starts a keeper: the test executable
 * itself, run with --filter on the keeper test that the macro defines,
 * which starts the cluster with the functions above, writes its
 * description (ports, sockets, PIDs, ids) to a file, and serves until the
 * runner's last test is over (a stop file) or the runner is gone; then it
 * stops the cluster. The runner waits (bounded) for the description and
 * passes its path to the tests in the environment. Tests of a shared
 * cluster must not disturb each other: their own keys (a prefix or hash
 * tag per test) and, for the few that migrate a slot or make two masters
 * disagree about one, a slot of their own that no other test uses, left
 * served by one master at the end; no kill, no FLUSHALL. stop only
 * forgets the description. In the normal run the keeper test is skipped.
 *
 * Implementation notes
 * ====================
 * Every admin command goes over the node's unix socket as the admin user,
 * so a test may set a password on the default user. MIGRATE authenticates
 * to the target as the admin user too (AUTH2). The migration follows
 * redis-cli's order (the Redis Cluster specification's): IMPORTING on the
 * target before MIGRATING on the source, so that a client sent ASK to the
 * target is never bounced back; SETSLOT NODE on the target first, then
 * on the source, then on every other master, so that the target already
 * claims the slot when the source starts answering MOVED.
 */
#ifndef MTPOOL_TESTS_COMMON_REDIS_CLUSTER_H
#define MTPOOL_TESTS_COMMON_REDIS_CLUSTER_H

#include <hiredis/hiredis.h>

#include <stdarg.h>
#include <stddef.h>

#include "redis_server.h"

#define MT_TEST_CLUSTER_MAX 12

struct mt_test_cluster_node {
	struct mt_test_redis srv; /* pid 0 while killed */
	char id[41];		  /* its cluster node id */
	int master;		  /* a replica: its master's index; else -1 */
	int removed;		  /* left the cluster (still running) */
};

struct mt_test_cluster {
	int n; /* nodes, masters first */
	struct mt_test_cluster_node node[MT_TEST_CLUSTER_MAX];
	/* redis-cluster://127.0.0.1:P,... with every master at start. */
	char uri[32 + MT_TEST_CLUSTER_MAX * 24];
	char cli[256]; /* redis-cli's path */
	/* Extra redis-server arguments of every node (copies). */
	char *extra[8];
	int nextra;
	int shared; /* attached by mt_test_cluster_shared: not ours */
};

/* Starts masters (1..) masters with `replicas` replicas each and waits
 * until the cluster is ready (see above). */
void mt_test_cluster_start(struct mt_test_cluster *c, int masters,
			   int replicas);

/* As mt_test_cluster_start, every node also given `extra` (a
 * NULL-terminated list of at most 8 redis-server arguments, copied), e.g.
 * {"--cluster-require-full-coverage", "no", NULL}. */
void mt_test_cluster_start_args(struct mt_test_cluster *c, int masters,
				int replicas, const char *const *extra);

/* Starts one more node, has it meet the cluster as a master without
 * slots, and waits until every node knows it. Returns its index. */
int mt_test_cluster_add_master(struct mt_test_cluster *c);

/* Starts one more node as a replica of `master` (a node index) and waits
 * until the cluster is ready, its link to the master up (a second or so,
 * where a cluster created with a replica per master takes ~6 s). Returns
 * its index. */
int mt_test_cluster_add_replica(struct mt_test_cluster *c, int master);

/* Node i, which must serve no slot, leaves the cluster as an operator
 * removes one: every other node forgets it (CLUSTER FORGET), then it is
 * reset (CLUSTER RESET HARD: it knows no other node and serves nothing)
 * and keeps running until stop, like a decommissioned server that still
 * answers. It no longer counts for readiness. */
void mt_test_cluster_remove(struct mt_test_cluster *c, int i);

/* Stops every node (SIGTERM, bounded, then SIGKILL; reaped) and removes
 * their folders. Fine after kills. */
void mt_test_cluster_stop(struct mt_test_cluster *c);

/* Polls until the live nodes are ready as described above, then reads the
 * replica relations again. Bounded (fails the test after 60 s). */
void mt_test_cluster_wait_ok(struct mt_test_cluster *c);

/* An admin connection to node i over its unix socket (10 s timeout). The
 * caller frees it. */
redisContext *mt_test_cluster_admin(const struct mt_test_cluster *c, int i);

/* A command on node i over a fresh admin connection (format as
 * redisCommand); the caller frees the reply. Error replies are returned,
 * not asserted: a lost connection is. */
redisReply *mt_test_cluster_cmd(const struct mt_test_cluster *c, int i,
				const char *fmt, ...);
redisReply *mt_test_cluster_vcmd(const struct mt_test_cluster *c, int i,
				 const char *fmt, va_list ap);

/* The index of the node with this TCP port, or -1. */
int mt_test_cluster_node_of_port(const struct mt_test_cluster *c, int port);

/* The index of the master serving `slot`, as the first live node's
 * CLUSTER SLOTS says; -1 if none serves it. */
int mt_test_cluster_owner(const struct mt_test_cluster *c, unsigned slot);

/* SIGKILL node i and reap it. Its folder, ports and nodes.conf stay for
 * mt_test_cluster_restart. */
void mt_test_cluster_kill(struct mt_test_cluster *c, int i);

/* Starts the killed node i again on its ports with its nodes.conf (same
 * node id; an empty dataset). Returns once it answers PING; call
 * mt_test_cluster_wait_ok for the cluster to take it back. */
void mt_test_cluster_restart(struct mt_test_cluster *c, int i);

/* After master `dead` was killed: polls until one of its replicas has
 * been promoted and the live nodes are ready; returns its index. */
int mt_test_cluster_wait_failover(struct mt_test_cluster *c, int dead);

/* ------------------------------------------------- slot migration */

enum mt_test_migration_step {
	MT_TEST_MIGRATION_BEGUN, /* IMPORTING on target, MIGRATING on source */
	MT_TEST_MIGRATION_KEYS,	 /* a batch of keys moved (MIGRATE) */
	MT_TEST_MIGRATION_ENDED	 /* SETSLOT NODE on every master */
};

struct mt_test_migration {
	unsigned slot;
	int from, to; /* node indices */
	size_t moved; /* keys migrated so far */
};

/* IMPORTING on `to` (a master), then MIGRATING on the slot's owner. */
void mt_test_cluster_migrate_begin(struct mt_test_cluster *c, unsigned slot,
				   int to, struct mt_test_migration *m);

/* Moves up to max keys of the slot from source to target (GETKEYSINSLOT,
 * then one MIGRATE ... KEYS); returns how many (0: none left). */
size_t mt_test_cluster_migrate_keys(struct mt_test_cluster *c,
				    struct mt_test_migration *m, size_t max);

/* SETSLOT slot NODE <to> on the target, the source, then every other
 * live master. Replicas learn it by gossip (mt_test_cluster_wait_ok). */
void mt_test_cluster_migrate_end(struct mt_test_cluster *c,
				 struct mt_test_migration *m);

/* SETSLOT slot NODE <owner's id> on node i only: for tests that make
 * nodes disagree on purpose. */
void mt_test_cluster_setslot_node(struct mt_test_cluster *c, int i,
				  unsigned slot, int owner);

/* The whole migration, keys moved 100 at a time; hook (may be NULL) runs
 * after each step. */
void mt_test_cluster_migrate(struct mt_test_cluster *c, unsigned slot, int to,
			     void (*hook)(enum mt_test_migration_step step,
					  const struct mt_test_migration *m,
					  void *arg),
			     void *arg);

/* ---------------------------------------------- a shared cluster */

/* Fills c with the executable's shared cluster (see Overview); fails the
 * test if the keeper could not start it. */
void mt_test_cluster_shared(struct mt_test_cluster *c);

/* The keeper's parts; use MT_TEST_CLUSTER_SHARED. begin runs in the
 * runner (a report hook: no assertion there, failures are passed on to
 * the tests through the environment) and registers the runner's part of
 * the end with atexit; serve is the keeper test. */
void mt_test_cluster_keeper_begin(void);
void mt_test_cluster_keeper_serve(int masters, int replicas);

/* One report hook only: Criterion names hooks by line, so the runner's
 * end is an atexit handler that begin registers. */
#define MT_TEST_CLUSTER_SHARED(masters, replicas)                    \
	ReportHook(PRE_ALL)(struct criterion_test_set * mt_set_)     \
	{                                                            \
		(void)mt_set_;                                       \
		mt_test_cluster_keeper_begin();                      \
	}                                                            \
	Test(mt_cluster_keeper, serves_the_shared_cluster)           \
	{                                                            \
		mt_test_cluster_keeper_serve((masters), (replicas)); \
	}

#endif /* MTPOOL_TESTS_COMMON_REDIS_CLUSTER_H */
