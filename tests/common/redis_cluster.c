/*
 * tests/common/redis_cluster.c: real Redis Clusters on loopback for the
 * cluster tests. See redis_cluster.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* close_range via syscall, prctl */
#endif
#include "redis_cluster.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Generous for a loaded 2-core machine under sanitizers: ready takes
 * ~2 s (~6 s with replicas), a failover ~3 s (node timeout 1,000 ms). */
#define READY_BOUND_MS 60000
#define CLI_BOUND_MS 60000
#define POLL_MS 20
#define STOP_BOUND_MS 30000

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void pause_ms(long ms)
{
	struct timespec t = {.tv_sec = 0, .tv_nsec = ms * 1000000};
	nanosleep(&t, NULL);
}

/* Running and part of the cluster. */
static int live(const struct mt_test_cluster *c, int i)
{
	return c->node[i].srv.pid > 0 && !c->node[i].removed;
}

static void find_cli(struct mt_test_cluster *c)
{
	const char *path = getenv("PATH");
	char dirs[4096], *save = NULL;

	snprintf(dirs, sizeof dirs, "%s", path ? path : "/usr/bin:/bin");
	for (char *d = strtok_r(dirs, ":", &save); d;
	     d = strtok_r(NULL, ":", &save)) {
		snprintf(c->cli, sizeof c->cli, "%s/redis-cli", d);
		if (access(c->cli, X_OK) == 0)
			return;
	}
	cr_assert_fail("redis-cli not found on PATH (apt-get install "
		       "redis-tools)");
}

/* ------------------------------------------------------------ create */

/* fork + exec redis-cli with its output in `log`; only async-signal-safe
 * calls in the child, which dies with this thread. */
static pid_t spawn_cli(char **argv, const char *log)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 ||
		    getppid() != parent)
			_exit(127);
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int null = open("/dev/null", O_RDONLY);
		if (fd < 0 || null < 0)
			_exit(127);
		dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		syscall(SYS_close_range, 3u, ~0u, 0u);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void wait_cli(pid_t pid, const char *log)
{
	long long end = now_ms() + CLI_BOUND_MS;
	int st;

	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			cr_assert_fail("redis-cli --cluster create did not end "
				       "within %d ms; log: %s",
				       CLI_BOUND_MS, log);
		}
		pause_ms(POLL_MS);
	}
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "redis-cli --cluster create failed; log: %s", log);
}

static void create(struct mt_test_cluster *c, int replicas)
{
	char addr[MT_TEST_CLUSTER_MAX][32], nrep[16], log[192];
	char *argv[MT_TEST_CLUSTER_MAX + 8];
	int n = 0;

	argv[n++] = c->cli;
	argv[n++] = "--cluster";
	argv[n++] = "create";
	for (int i = 0; i < c->n; i++) {
		snprintf(addr[i], sizeof addr[i], "127.0.0.1:%d",
			 c->node[i].srv.port);
		argv[n++] = addr[i];
	}
	snprintf(nrep, sizeof nrep, "%d", replicas);
	argv[n++] = "--cluster-replicas";
	argv[n++] = nrep;
	argv[n++] = "--cluster-yes";
	argv[n] = NULL;
	snprintf(log, sizeof log, "%s/cluster-create.log", c->node[0].srv.dir);
	wait_cli(spawn_cli(argv, log), log);
}

static void read_ids(struct mt_test_cluster *c)
{
	for (int i = 0; i < c->n; i++) {
		redisContext *a = mt_test_cluster_admin(c, i);
		redisReply *r = mt_test_redis_cmd(a, "CLUSTER MYID");
		cr_assert(r->type == REDIS_REPLY_STRING && r->len == 40);
		memcpy(c->node[i].id, r->str, 40);
		c->node[i].id[40] = '\0';
		freeReplyObject(r);
		redisFree(a);
	}
}

/* Starts node i: the node timeout, then the cluster's extra args. */
static void start_node(struct mt_test_cluster *c, int i)
{
	const char *args[12] = {"--cluster-node-timeout", "1000"};

	for (int k = 0; k < c->nextra; k++)
		args[2 + k] = c->extra[k];
	args[2 + c->nextra] = NULL;
	mt_test_redis_start_cluster_node(&c->node[i].srv, args);
	c->node[i].master = -1;
}

void mt_test_cluster_start(struct mt_test_cluster *c, int masters, int replicas)
{
	mt_test_cluster_start_args(c, masters, replicas, NULL);
}

void mt_test_cluster_start_args(struct mt_test_cluster *c, int masters,
				int replicas, const char *const *extra)
{
	int at = 0;

	memset(c, 0, sizeof *c);
	cr_assert(masters >= 1 && replicas >= 0 &&
		  masters * (1 + replicas) <= MT_TEST_CLUSTER_MAX);
	for (; extra && *extra; extra++) {
		cr_assert_lt(c->nextra, 8);
		cr_assert_not_null(c->extra[c->nextra++] = strdup(*extra));
	}
	find_cli(c);
	c->n = masters * (1 + replicas);
	for (int i = 0; i < c->n; i++)
		start_node(c, i);
	at = snprintf(c->uri, sizeof c->uri, "redis-cluster://");
	for (int i = 0; i < masters; i++)
		at += snprintf(c->uri + at, sizeof c->uri - (size_t)at,
			       "%s127.0.0.1:%d", i ? "," : "",
			       c->node[i].srv.port);
	create(c, replicas);
	read_ids(c);
	mt_test_cluster_wait_ok(c);
}

void mt_test_cluster_stop(struct mt_test_cluster *c)
{
	for (int i = 0; !c->shared && i < c->n; i++)
		mt_test_redis_stop(&c->node[i].srv);
	for (int k = 0; k < c->nextra; k++)
		free(c->extra[k]);
	c->nextra = 0;
	c->n = 0;
}

redisContext *mt_test_cluster_admin(const struct mt_test_cluster *c, int i)
{
	cr_assert(i >= 0 && i < c->n && c->node[i].srv.pid > 0,
		  "node %d is not running", i);
	return mt_test_redis_admin(&c->node[i].srv);
}

redisReply *mt_test_cluster_vcmd(const struct mt_test_cluster *c, int i,
				 const char *fmt, va_list ap)
{
	redisContext *a = mt_test_cluster_admin(c, i);
	redisReply *r = redisvCommand(a, fmt, ap);
	cr_assert_not_null(r, "node %d: %s", i, a->errstr);
	redisFree(a);
	return r;
}

redisReply *mt_test_cluster_cmd(const struct mt_test_cluster *c, int i,
				const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = mt_test_cluster_vcmd(c, i, fmt, ap);
	va_end(ap);
	return r;
}

int mt_test_cluster_node_of_port(const struct mt_test_cluster *c, int port)
{
	for (int i = 0; i < c->n; i++)
		if (c->node[i].srv.port == port)
			return i;
	return -1;
}

/* ------------------------------------------------------ readiness */

/* The integer after "<field>:" in an INFO-style text, or -1. */
static long long text_field(const char *text, const char *field)
{
	size_t flen = strlen(field);

	for (const char *p = text; p; p = strchr(p, '\n')) {
		p += *p == '\n';
		if (strncmp(p, field, flen) == 0 && p[flen] == ':')
			return strtoll(p + flen + 1, NULL, 10);
	}
	return -1;
}

/* 1 if the INFO-style text holds "<field>:<value>". */
static int text_has(const char *text, const char *field, const char *value)
{
	char want[96];
	snprintf(want, sizeof want, "%s:%s\r", field, value);
	return strstr(text, want) != NULL;
}

/* ports[s] = port of the master serving slot s (0: none), from the node's
 * CLUSTER SLOTS, read here independently of the library's parser. */
static void slot_ports(redisContext *a, int *ports)
{
	redisReply *r = mt_test_redis_cmd(a, "CLUSTER SLOTS");

	memset(ports, 0, 16384 * sizeof *ports);
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	for (size_t i = 0; i < r->elements; i++) {
		redisReply *e = r->element[i];
		cr_assert(e->type == REDIS_REPLY_ARRAY && e->elements >= 3);
		redisReply *m = e->element[2];
		cr_assert(m->type == REDIS_REPLY_ARRAY && m->elements >= 2);
		for (long long s = e->element[0]->integer;
		     s <= e->element[1]->integer && s < 16384; s++)
			ports[s] = (int)m->element[1]->integer;
	}
	freeReplyObject(r);
}

/* Returns 0 (not ready) with the reason in *why. */
static int not_ready(const char **why, const char *reason)
{
	*why = reason;
	return 0;
}

/* What a node says of itself (CLUSTER INFO, INFO replication texts). */
static int self_ready(const char *ci, const char *ir, const char **why)
{
	if (!text_has(ci, "cluster_state", "ok"))
		return not_ready(why, "cluster_state is not ok");
	if (text_field(ci, "cluster_slots_ok") != 16384)
		return not_ready(why, "some slots are not ok");
	if (text_has(ir, "role", "slave") &&
	    !text_has(ir, "master_link_status", "up"))
		return not_ready(why, "a replica's link to its master is down");
	return 1;
}

/* 1 if the node (connection a) calls itself ready: state ok, every slot
 * ok, a replica's link up. *why says what is missing otherwise. */
static int node_ready(redisContext *a, const char **why)
{
	redisReply *ci = mt_test_redis_cmd(a, "CLUSTER INFO");
	redisReply *ir = mt_test_redis_cmd(a, "INFO replication");
	int ok = self_ready(ci->str, ir->str, why);

	freeReplyObject(ci);
	freeReplyObject(ir);
	return ok;
}

/* Every slot is served by a live node of ours. */
static int owners_live(const struct mt_test_cluster *c, const int *ports)
{
	for (int s = 0; s < 16384; s++) {
		int i = mt_test_cluster_node_of_port(c, ports[s]);
		if (i < 0 || !live(c, i))
			return 0;
	}
	return 1;
}

/* The node's CLUSTER NODES flags no live node as failing or unlinked. */
static int sees_live_nodes_well(const struct mt_test_cluster *c,
				redisContext *a)
{
	redisReply *r = mt_test_redis_cmd(a, "CLUSTER NODES");
	int ok = 1;

	for (char *line = r->str; ok && line && *line;) {
		char *end = strchr(line, '\n');
		int port = 0;
		char flags[128] = "", link[32] = "";
		if (sscanf(line, "%*s %*[^:]:%d@%*s %127s %*s %*s %*s %*s %31s",
			   &port, flags, link) == 3) {
			int i = mt_test_cluster_node_of_port(c, port);
			if (i >= 0 && live(c, i) &&
			    (strstr(flags, "fail") ||
			     strcmp(link, "connected") != 0))
				ok = 0;
		}
		line = end ? end + 1 : NULL;
	}
	freeReplyObject(r);
	return ok;
}

/* One poll over every live node; a[i] its admin connection. */
static int all_ready(const struct mt_test_cluster *c, redisContext **a,
		     int *ref, int *ports, const char **why)
{
	int first = 1;

	for (int i = 0; i < c->n; i++) {
		if (!live(c, i))
			continue;
		if (!node_ready(a[i], why))
			return 0;
		if (!sees_live_nodes_well(c, a[i]))
			return not_ready(why, "a live node is seen as failing");
		slot_ports(a[i], first ? ref : ports);
		if (!first && memcmp(ref, ports, 16384 * sizeof *ports) != 0)
			return not_ready(why, "nodes disagree on slot owners");
		if (first && !owners_live(c, ref))
			return not_ready(why,
					 "a slot is served by a dead node");
		first = 0;
	}
	return 1;
}

/* node[i].master from one live node's CLUSTER NODES. */
static void read_roles(struct mt_test_cluster *c, redisContext *a)
{
	redisReply *r = mt_test_redis_cmd(a, "CLUSTER NODES");

	for (char *line = r->str; line && *line;) {
		char *end = strchr(line, '\n');
		char id[41], flags[128], master[41];
		int port;
		if (sscanf(line, "%40s %*[^:]:%d@%*s %127s %40s", id, &port,
			   flags, master) == 4) {
			int i = mt_test_cluster_node_of_port(c, port);
			cr_assert_geq(i, 0, "unknown node port %d", port);
			c->node[i].master = -1;
			for (int j = 0; strstr(flags, "slave") && j < c->n; j++)
				if (strcmp(c->node[j].id, master) == 0)
					c->node[i].master = j;
		}
		line = end ? end + 1 : NULL;
	}
	freeReplyObject(r);
}

void mt_test_cluster_wait_ok(struct mt_test_cluster *c)
{
	redisContext *a[MT_TEST_CLUSTER_MAX] = {0};
	int *ref = malloc(2 * 16384 * sizeof *ref);
	const char *why = "";
	long long end = now_ms() + READY_BOUND_MS;
	int any = -1;

	cr_assert_not_null(ref);
	for (int i = 0; i < c->n; i++)
		if (live(c, i))
			a[i] = mt_test_cluster_admin(c, i), any = i;
	cr_assert_geq(any, 0, "no live node");
	while (!all_ready(c, a, ref, ref + 16384, &why)) {
		cr_assert_lt(now_ms(), end,
			     "cluster not ready within %d ms: %s",
			     READY_BOUND_MS, why);
		pause_ms(POLL_MS);
	}
	read_roles(c, a[any]);
	for (int i = 0; i < c->n; i++)
		redisFree(a[i]);
	free(ref);
}

int mt_test_cluster_owner(const struct mt_test_cluster *c, unsigned slot)
{
	int *ports = malloc(16384 * sizeof *ports);
	int i = 0;

	cr_assert_not_null(ports);
	cr_assert_lt(slot, 16384);
	while (i < c->n && !live(c, i))
		i++;
	redisContext *a = mt_test_cluster_admin(c, i);
	slot_ports(a, ports);
	redisFree(a);
	int owner = ports[slot] ? mt_test_cluster_node_of_port(c, ports[slot]) :
				  -1;
	free(ports);
	return owner;
}

/* -------------------------------------------------------------- faults */

void mt_test_cluster_kill(struct mt_test_cluster *c, int i)
{
	cr_assert(i >= 0 && i < c->n && !c->shared);
	mt_test_redis_kill(&c->node[i].srv);
}

void mt_test_cluster_restart(struct mt_test_cluster *c, int i)
{
	cr_assert(i >= 0 && i < c->n && !c->shared);
	mt_test_redis_restart(&c->node[i].srv);
}

/* The index of a live replica of `dead` that calls itself master, or -1. */
static int promoted(const struct mt_test_cluster *c, int dead)
{
	for (int i = 0; i < c->n; i++) {
		if (c->node[i].master != dead || !live(c, i))
			continue;
		redisContext *a = mt_test_cluster_admin(c, i);
		redisReply *r = mt_test_redis_cmd(a, "INFO replication");
		int is_master = text_has(r->str, "role", "master");
		freeReplyObject(r);
		redisFree(a);
		if (is_master)
			return i;
	}
	return -1;
}

int mt_test_cluster_wait_failover(struct mt_test_cluster *c, int dead)
{
	long long end = now_ms() + READY_BOUND_MS;
	int r;

	cr_assert(dead >= 0 && dead < c->n && !live(c, dead),
		  "node %d must be killed first", dead);
	while ((r = promoted(c, dead)) < 0) {
		cr_assert_lt(now_ms(), end,
			     "no replica of node %d promoted within %d ms",
			     dead, READY_BOUND_MS);
		pause_ms(POLL_MS);
	}
	mt_test_cluster_wait_ok(c);
	cr_assert_eq(c->node[r].master, -1);
	return r;
}

/* ----------------------------------------------------- slot migration */

static void setslot(struct mt_test_cluster *c, int i, unsigned slot,
		    const char *how, int other)
{
	redisContext *a = mt_test_cluster_admin(c, i);
	mt_test_redis_ok(a, "CLUSTER SETSLOT %u %s %s", slot, how,
			 c->node[other].id);
	redisFree(a);
}

void mt_test_cluster_migrate_begin(struct mt_test_cluster *c, unsigned slot,
				   int to, struct mt_test_migration *m)
{
	int from = mt_test_cluster_owner(c, slot);

	cr_assert(from >= 0 && from != to && to >= 0 && to < c->n &&
			  live(c, to) && c->node[to].master == -1,
		  "cannot migrate slot %u from node %d to node %d", slot, from,
		  to);
	*m = (struct mt_test_migration){.slot = slot, .from = from, .to = to};
	setslot(c, to, slot, "IMPORTING", from);
	setslot(c, from, slot, "MIGRATING", to);
}

/* MIGRATE 127.0.0.1 <port> "" 0 <ms> AUTH2 <admin> KEYS k...: the keys of
 * a GETKEYSINSLOT reply, binary-safe. */
static void migrate_keys(struct mt_test_cluster *c, redisContext *a,
			 const struct mt_test_migration *m,
			 const redisReply *keys)
{
	size_t argc = 10 + keys->elements;
	const char **argv = calloc(argc, sizeof *argv);
	size_t *lens = calloc(argc, sizeof *lens);
	char port[16];

	cr_assert(argv && lens);
	snprintf(port, sizeof port, "%d", c->node[m->to].srv.port);
	const char *head[] = {"MIGRATE",
			      "127.0.0.1",
			      port,
			      "",
			      "0",
			      "10000",
			      "AUTH2",
			      MT_TEST_REDIS_ADMIN,
			      MT_TEST_REDIS_ADMIN_PASSWORD,
			      "KEYS"};
	for (size_t i = 0; i < 10; i++)
		argv[i] = head[i], lens[i] = strlen(head[i]);
	for (size_t i = 0; i < keys->elements; i++)
		argv[10 + i] = keys->element[i]->str,
			  lens[10 + i] = keys->element[i]->len;
	redisReply *r = redisCommandArgv(a, (int)argc, argv, lens);
	cr_assert(r && r->type == REDIS_REPLY_STATUS, "MIGRATE: %s",
		  r ? r->str : a->errstr);
	freeReplyObject(r);
	free(argv);
	free(lens);
}

size_t mt_test_cluster_migrate_keys(struct mt_test_cluster *c,
				    struct mt_test_migration *m, size_t max)
{
	redisContext *a = mt_test_cluster_admin(c, m->from);
	/* hiredis's formatter knows no %zu. */
	redisReply *keys = mt_test_redis_cmd(a, "CLUSTER GETKEYSINSLOT %u %lu",
					     m->slot, (unsigned long)max);
	size_t n = keys->elements;

	cr_assert_eq(keys->type, REDIS_REPLY_ARRAY);
	if (n > 0)
		migrate_keys(c, a, m, keys);
	m->moved += n;
	freeReplyObject(keys);
	redisFree(a);
	return n;
}

/* SETSLOT slot NODE on the source, which may have turned into a replica
 * of the target already: a master that gives away its last slot does
 * that (cluster-allow-replica-migration, Redis 7), as soon as gossip
 * tells it the target claims the slot. */
static void setslot_source(struct mt_test_cluster *c, int i, unsigned slot,
			   int owner)
{
	redisContext *a = mt_test_cluster_admin(c, i);
	redisReply *r = redisCommand(a, "CLUSTER SETSLOT %u NODE %s", slot,
				     c->node[owner].id);
	cr_assert_not_null(r, "%s", a->errstr);
	cr_assert(r->type != REDIS_REPLY_ERROR ||
			  strstr(r->str, "only with masters"),
		  "CLUSTER SETSLOT on node %d: %s", i, r->str);
	freeReplyObject(r);
	redisFree(a);
}

void mt_test_cluster_migrate_end(struct mt_test_cluster *c,
				 struct mt_test_migration *m)
{
	setslot(c, m->to, m->slot, "NODE", m->to);
	setslot_source(c, m->from, m->slot, m->to);
	for (int i = 0; i < c->n; i++)
		if (i != m->to && i != m->from && live(c, i) &&
		    c->node[i].master == -1)
			setslot(c, i, m->slot, "NODE", m->to);
}

void mt_test_cluster_setslot_node(struct mt_test_cluster *c, int i,
				  unsigned slot, int owner)
{
	setslot(c, i, slot, "NODE", owner);
}

void mt_test_cluster_migrate(struct mt_test_cluster *c, unsigned slot, int to,
			     void (*hook)(enum mt_test_migration_step step,
					  const struct mt_test_migration *m,
					  void *arg),
			     void *arg)
{
	struct mt_test_migration m;

	mt_test_cluster_migrate_begin(c, slot, to, &m);
	if (hook)
		hook(MT_TEST_MIGRATION_BEGUN, &m, arg);
	while (mt_test_cluster_migrate_keys(c, &m, 100) > 0)
		if (hook)
			hook(MT_TEST_MIGRATION_KEYS, &m, arg);
	mt_test_cluster_migrate_end(c, &m);
	if (hook)
		hook(MT_TEST_MIGRATION_ENDED, &m, arg);
}

/* ------------------------------------------------ the shared cluster */

/* Environment: set for the keeper's own runner (its folder), and for the
 * tests (the description file, or why there is none). */
#define ENV_KEEPER "MT_TEST_CLUSTER_KEEPER"
#define ENV_OWNER "MT_TEST_CLUSTER_OWNER"
#define ENV_DESC "MT_TEST_CLUSTER"
#define ENV_ERROR "MT_TEST_CLUSTER_ERROR"
#define KEEPER_BOUND_MS 120000

/* The runner's keeper (report hooks run in the runner process). */
static pid_t keeper_pid;
static char keeper_dir[128];

static void keeper_failed(const char *what)
{
	char msg[512];
	snprintf(msg, sizeof msg, "shared cluster: %s (keeper log: %s/log)",
		 what, keeper_dir);
	setenv(ENV_ERROR, msg, 1);
	fprintf(stderr, "%s\n", msg);
}

/* The keeper: this executable again, running only the keeper test. */
static pid_t spawn_keeper(void)
{
	char log[192], owner[24];
	pid_t parent = getpid();

	snprintf(log, sizeof log, "%s/log", keeper_dir);
	snprintf(owner, sizeof owner, "%d", (int)parent);
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(127);
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int null = open("/dev/null", O_RDONLY);
	if (fd < 0 || null < 0)
		_exit(127);
	dup2(null, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	syscall(SYS_close_range, 3u, ~0u, 0u);
	setenv(ENV_KEEPER, keeper_dir, 1);
	setenv(ENV_OWNER, owner, 1);
	execl("/proc/self/exe", "cluster-keeper",
	      "--filter=mt_cluster_keeper/*", "--jobs=1", (char *)NULL);
	_exit(127);
}

/* Polls (bounded) for the description or the keeper's death. */
static void await_keeper(const char *desc)
{
	long long end = now_ms() + KEEPER_BOUND_MS;
	int st;

	while (access(desc, R_OK) != 0) {
		if (waitpid(keeper_pid, &st, WNOHANG) == keeper_pid) {
			keeper_pid = 0;
			keeper_failed("the keeper exited before the cluster "
				      "was ready");
			return;
		}
		if (now_ms() > end) {
			keeper_failed("the cluster was not ready in time");
			return;
		}
		pause_ms(POLL_MS);
	}
	setenv(ENV_DESC, desc, 1);
}

static void remove_keeper_dir(void)
{
	const char *files[] = {"cluster", "cluster.tmp", "stop", "log"};
	char path[192];

	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		snprintf(path, sizeof path, "%s/%s", keeper_dir, files[i]);
		unlink(path);
	}
	rmdir(keeper_dir);
}

/* At the runner's exit: the stop file, then the keeper's end. */
static void keeper_end(void)
{
	char stop[192];
	long long end = now_ms() + STOP_BOUND_MS;
	int st;

	if (!keeper_dir[0])
		return;
	snprintf(stop, sizeof stop, "%s/stop", keeper_dir);
	close(open(stop, O_WRONLY | O_CREAT, 0600));
	while (keeper_pid > 0 && waitpid(keeper_pid, &st, WNOHANG) == 0) {
		if (now_ms() > end) {
			kill(keeper_pid, SIGKILL);
			waitpid(keeper_pid, &st, 0);
			break;
		}
		pause_ms(POLL_MS);
	}
	keeper_pid = 0;
	remove_keeper_dir();
}

void mt_test_cluster_keeper_begin(void)
{
	const char *base = getenv("TMPDIR");
	char desc[192];

	if (getenv(ENV_KEEPER))
		return; /* this is the keeper's own runner */
	if (!base || strlen(base) > 60)
		base = "/tmp";
	snprintf(keeper_dir, sizeof keeper_dir, "%s/mtcluster.XXXXXX", base);
	if (!mkdtemp(keeper_dir)) {
		keeper_failed("mkdtemp failed");
		return;
	}
	atexit(keeper_end);
	keeper_pid = spawn_keeper();
	if (keeper_pid < 0) {
		keeper_pid = 0;
		keeper_failed("fork failed");
		return;
	}
	snprintf(desc, sizeof desc, "%s/cluster", keeper_dir);
	await_keeper(desc);
}

static void write_desc(const struct mt_test_cluster *c, const char *dir)
{
	char tmp[192], path[192];
	snprintf(tmp, sizeof tmp, "%s/cluster.tmp", dir);
	snprintf(path, sizeof path, "%s/cluster", dir);
	FILE *f = fopen(tmp, "w");

	cr_assert_not_null(f, "%s: %s", tmp, strerror(errno));
	fprintf(f, "%d %s\n", c->n, c->uri);
	for (int i = 0; i < c->n; i++) {
		const struct mt_test_cluster_node *nd = &c->node[i];
		fprintf(f, "%d %d %d %s %s %s\n", nd->srv.port,
			(int)nd->srv.pid, nd->master, nd->id, nd->srv.sock,
			nd->srv.dir);
	}
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(rename(tmp, path), 0);
}

/* Serves until the runner writes the stop file or is gone. */
static void serve_until_stopped(const char *dir, pid_t owner)
{
	char stop[192];
	snprintf(stop, sizeof stop, "%s/stop", dir);

	while (access(stop, F_OK) != 0 &&
	       (kill(owner, 0) == 0 || errno != ESRCH))
		pause_ms(POLL_MS);
}

void mt_test_cluster_keeper_serve(int masters, int replicas)
{
	const char *dir = getenv(ENV_KEEPER), *owner = getenv(ENV_OWNER);
	struct mt_test_cluster c;

	if (!dir || !owner)
		cr_skip_test("runs only as the shared cluster's keeper");
	mt_test_cluster_start(&c, masters, replicas);
	write_desc(&c, dir);
	serve_until_stopped(dir, (pid_t)atoi(owner));
	mt_test_cluster_stop(&c);
}

static void read_node(FILE *f, struct mt_test_cluster_node *nd)
{
	int pid;
	cr_assert_eq(fscanf(f, "%d %d %d %40s %159s %127s", &nd->srv.port, &pid,
			    &nd->master, nd->id, nd->srv.sock, nd->srv.dir),
		     6, "malformed shared cluster description");
	nd->srv.pid = (pid_t)pid;
}

void mt_test_cluster_shared(struct mt_test_cluster *c)
{
	const char *err = getenv(ENV_ERROR), *path = getenv(ENV_DESC);

	memset(c, 0, sizeof *c);
	cr_assert_null(err, "%s", err);
	cr_assert_not_null(path, "no shared cluster: MT_TEST_CLUSTER_SHARED "
				 "missing in this test file?");
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fscanf(f, "%d %319s", &c->n, c->uri), 2);
	cr_assert(c->n > 0 && c->n <= MT_TEST_CLUSTER_MAX);
	for (int i = 0; i < c->n; i++)
		read_node(f, &c->node[i]);
	fclose(f);
	c->shared = 1;
}

/* ---------------------------------------------- adding and removing */

/* 1 if node j's CLUSTER NODES lists the node on `port`. */
static int lists(const struct mt_test_cluster *c, int j, int port)
{
	char want[32];
	snprintf(want, sizeof want, ":%d@", port);
	redisContext *a = mt_test_cluster_admin(c, j);
	redisReply *r = mt_test_redis_cmd(a, "CLUSTER NODES");
	int ok = strstr(r->str, want) != NULL;
	freeReplyObject(r);
	redisFree(a);
	return ok;
}

/* Node i and every live node list each other. */
static int known_by_all(const struct mt_test_cluster *c, int i)
{
	for (int j = 0; j < c->n; j++)
		if (j != i && live(c, j) &&
		    (!lists(c, j, c->node[i].srv.port) ||
		     !lists(c, i, c->node[j].srv.port)))
			return 0;
	return 1;
}

/* A new node that knows and is known by every node (a master without
 * slots). */
static int join(struct mt_test_cluster *c)
{
	long long end = now_ms() + READY_BOUND_MS;
	int i = c->n, first = 0;

	cr_assert(!c->shared && c->n < MT_TEST_CLUSTER_MAX);
	while (!live(c, first))
		first++;
	start_node(c, i);
	c->n++;
	redisContext *a = mt_test_cluster_admin(c, i);
	mt_test_redis_ok(a, "CLUSTER MEET 127.0.0.1 %d %d",
			 c->node[first].srv.port, c->node[first].srv.bus_port);
	redisReply *r = mt_test_redis_cmd(a, "CLUSTER MYID");
	memcpy(c->node[i].id, r->str, 40);
	c->node[i].id[40] = '\0';
	freeReplyObject(r);
	redisFree(a);
	while (!known_by_all(c, i)) {
		cr_assert_lt(now_ms(), end, "node %d not known in time", i);
		pause_ms(POLL_MS);
	}
	return i;
}

int mt_test_cluster_add_master(struct mt_test_cluster *c)
{
	int i = join(c);
	mt_test_cluster_wait_ok(c);
	return i;
}

int mt_test_cluster_add_replica(struct mt_test_cluster *c, int master)
{
	cr_assert(master >= 0 && master < c->n && live(c, master) &&
		  c->node[master].master == -1);
	int i = join(c);
	long long end = now_ms() + READY_BOUND_MS;
	redisContext *a = mt_test_cluster_admin(c, i);
	/* Listed is not enough: a node in handshake has a temporary id. */
	for (;;) {
		redisReply *r = mt_test_redis_cmd(a, "CLUSTER NODES");
		int knows = strstr(r->str, c->node[master].id) != NULL;
		freeReplyObject(r);
		if (knows)
			break;
		cr_assert_lt(now_ms(), end, "node %d never learned node %d", i,
			     master);
		pause_ms(POLL_MS);
	}
	mt_test_redis_ok(a, "CLUSTER REPLICATE %s", c->node[master].id);
	redisFree(a);
	mt_test_cluster_wait_ok(c);
	cr_assert_eq(c->node[i].master, master);
	return i;
}

void mt_test_cluster_remove(struct mt_test_cluster *c, int i)
{
	cr_assert(!c->shared && i >= 0 && i < c->n && live(c, i));
	for (int j = 0; j < c->n; j++) {
		if (j == i || !live(c, j))
			continue;
		redisContext *a = mt_test_cluster_admin(c, j);
		mt_test_redis_ok(a, "CLUSTER FORGET %s", c->node[i].id);
		redisFree(a);
	}
	redisContext *a = mt_test_cluster_admin(c, i);
	mt_test_redis_ok(a, "CLUSTER RESET HARD");
	redisFree(a);
	c->node[i].removed = 1;
	mt_test_cluster_wait_ok(c);
}
