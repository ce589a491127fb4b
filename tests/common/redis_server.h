/*
 * tests/common/redis_server.h: real redis-servers for the redis tests.
 *
 * Overview
 * ========
 * Each test starts its own redis-server (found on PATH) in a fresh mkdtemp
 * folder, listening on a free loopback TCP port and on a unix socket in
 * that folder, with persistence off and DEBUG enabled:
 *   --port P --bind 127.0.0.1 --unixsocket DIR/redis.sock --dir DIR
 *   --save "" --appendonly no --enable-debug-command yes
 * plus an admin ACL user (MT_TEST_REDIS_ADMIN) that the harness itself
 * uses, so fault injection works whatever password a test gives the
 * default user. The server is stopped by PID, never by name, and dies
 * with the thread that started it (PR_SET_PDEATHSIG), so a crashed test
 * never leaves one behind; a guard process (mt_guard.h) removes the
 * folder when a test dies before mt_test_redis_stop.
 *
 * Usage
 * =====
 *   struct mt_test_redis s;
 *   mt_test_redis_start(&s, NULL);        or (const char *[]){"--x", .., 0}
 *   ... mt_redis_open(&r, s.tcp_uri, ...) or s.unix_uri ...
 *   redisContext *adm = mt_test_redis_admin(&s);
 *   mt_test_redis_ok(adm, "CLIENT KILL TYPE normal");
 *   mt_test_redis_kill(&s);  ...  mt_test_redis_restart(&s);
 *   redisFree(adm);
 *   mt_test_redis_stop(&s);               removes the folder
 *
 * Every function asserts (Criterion) on failure, so it must run on the
 * test's own thread; give a helper thread a plain hiredis context made
 * here and assert on what it recorded afterwards. Start the server from
 * the test's thread too: PR_SET_PDEATHSIG fires when the thread that
 * forked the server exits.
 *
 * Implementation notes
 * ====================
 * The port is found by binding port 0 and closing the socket; another
 * process may take it before the server binds, so a server that exits
 * before it answers is retried on a fresh port, and a server that answers
 * is checked to be ours (INFO's process_id over TCP equals our child's
 * PID), never someone else's on a recycled port. Readiness is a bounded
 * poll of PING over the unix socket (about 7 ms typically). Stop sends
 * SIGTERM, waits a bounded time, then SIGKILL; either way the child is
 * reaped with waitpid.
 */
#ifndef MTPOOL_TESTS_COMMON_REDIS_SERVER_H
#define MTPOOL_TESTS_COMMON_REDIS_SERVER_H

#include <hiredis/hiredis.h>
#include <sys/types.h>

/* The harness's own ACL user (all commands, all keys and channels). */
#define MT_TEST_REDIS_ADMIN "mtadmin"
#define MT_TEST_REDIS_ADMIN_PASSWORD "mtadmin-secret"

#define MT_TEST_REDIS_MAX_ARGS 64

struct mt_test_redis {
	pid_t pid;	    /* the running server, 0 when none */
	int port;	    /* its loopback TCP port */
	char dir[128];	    /* the mkdtemp folder (its --dir) */
	char sock[160];	    /* DIR/redis.sock */
	char log[160];	    /* DIR/redis.log: the server's log */
	char tcp_uri[64];   /* redis://127.0.0.1:P */
	char unix_uri[192]; /* unix://DIR/redis.sock */
	char exe[256];	    /* redis-server's path, found on PATH */
	char *extra[MT_TEST_REDIS_MAX_ARGS]; /* copies of the extra args */
	int nextra;
	int bus_port; /* cluster nodes: the cluster bus port; 0 otherwise */
	pid_t guard;  /* removes the folder if the test dies (mt_guard.h) */
};

/* Starts a server; `extra` (may be NULL) is a NULL-terminated list of
 * more redis-server arguments, e.g. {"--requirepass", "pw", NULL} or
 * {"--user", "bob on >pw ~* &* +@all", NULL}; copied. Returns once the
 * server answers PING. */
void mt_test_redis_start(struct mt_test_redis *s, const char *const *extra);

/* As mt_test_redis_start, for a Redis Cluster node: adds
 * --cluster-enabled yes --cluster-config-file nodes.conf (in the folder)
 * and --cluster-port Q with Q a second free port (s->bus_port), since the
 * default P + 10000 is out of range for most ephemeral ports P. Port and
 * bus port are kept by mt_test_redis_restart, and nodes.conf with them, so
 * a restarted node rejoins its cluster with the same identity. */
void mt_test_redis_start_cluster_node(struct mt_test_redis *s,
				      const char *const *extra);

/* SIGTERM, waits (bounded), SIGKILL if needed, reaps; removes the folder
 * and frees the copies. Safe after mt_test_redis_kill (no server). */
void mt_test_redis_stop(struct mt_test_redis *s);

/* SIGKILL and reap: the server dies at once, mid-anything. The folder,
 * port and socket path are kept for mt_test_redis_restart. */
void mt_test_redis_kill(struct mt_test_redis *s);

/* Starts the server again (after mt_test_redis_kill) on the same port and
 * socket with the same arguments; an empty keyspace (no persistence).
 * Returns once it answers PING. */
void mt_test_redis_restart(struct mt_test_redis *s);

/* A new hiredis connection over the unix socket, authenticated as the
 * admin user, with a 10 s command timeout. The caller frees it. */
redisContext *mt_test_redis_admin(const struct mt_test_redis *s);

/* Runs a command (redisCommand format) and asserts it got a reply that is
 * not an error; returns it (free with freeReplyObject). */
redisReply *mt_test_redis_cmd(redisContext *c, const char *fmt, ...);

/* As mt_test_redis_cmd, and frees the reply. */
void mt_test_redis_ok(redisContext *c, const char *fmt, ...);

/* Runs a command that must answer an integer (DBSIZE, EXISTS, ...) and
 * returns it. */
long long mt_test_redis_int(redisContext *c, const char *fmt, ...);

/* The integer value of `field` in INFO (all sections), e.g.
 * "total_commands_processed", "connected_clients"; asserts it exists. */
long long mt_test_redis_info(redisContext *c, const char *field);

#endif /* MTPOOL_TESTS_COMMON_REDIS_SERVER_H */
