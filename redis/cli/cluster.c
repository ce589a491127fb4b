/*
 * redis/cli/cluster.c: the embedded 3-master Redis Cluster. See
 * cluster.h.
 */
#define _GNU_SOURCE
#include "cluster.h"

#include <hiredis/hiredis.h>

#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define START_ATTEMPTS 5
#define READY_WAIT_MS 30000
#define POLL_MS 20

/* A loopback port that was free a moment ago, or -1. */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* Node i on a fresh pair of ports, as a cluster node. */
static int start_node(struct cluster *c, int i, char *why, size_t whylen)
{
	char port[16], bus[16];
	const char *extra[] = {"--port",
			       port,
			       "--bind",
			       "127.0.0.1",
			       "--cluster-enabled",
			       "yes",
			       "--cluster-config-file",
			       "nodes.conf",
			       "--cluster-port",
			       bus,
			       "--cluster-node-timeout",
			       "1000",
			       NULL};
	int err = EAGAIN;
	for (int a = 0; a < START_ATTEMPTS && err != 0; a++) {
		c->port[i] = free_port();
		do
			c->bus[i] = free_port();
		while (c->bus[i] == c->port[i] && c->bus[i] > 0);
		if (c->port[i] < 0 || c->bus[i] < 0) {
			snprintf(why, whylen, "no free loopback port");
			return EAGAIN;
		}
		snprintf(port, sizeof port, "%d", c->port[i]);
		snprintf(bus, sizeof bus, "%d", c->bus[i]);
		err = server_start_args(&c->node[i], extra, why, whylen);
		/* ENOENT (no redis-server) will not change on a retry. */
		if (err == ENOENT)
			break;
	}
	return err;
}

/* A command on node i (unix socket); 0, or EIO with why set. */
static int command(struct cluster *c, int i, redisReply **out, char *why,
		   size_t whylen, const char *fmt, ...)
{
	struct timeval tv = {.tv_sec = 5, .tv_usec = 0};
	redisContext *ctx = redisConnectUnixWithTimeout(c->node[i].sock, tv);
	redisReply *r = NULL;
	if (ctx && !ctx->err && redisSetTimeout(ctx, tv) == REDIS_OK) {
		va_list ap;
		va_start(ap, fmt);
		r = redisvCommand(ctx, fmt, ap);
		va_end(ap);
	}
	int err = !r || r->type == REDIS_REPLY_ERROR ? EIO : 0;
	if (err)
		snprintf(why, whylen, "cluster node %d: %s", c->port[i],
			 r   ? r->str :
			 ctx ? ctx->errstr :
			       "out of memory");
	if (out && !err)
		*out = r;
	else if (r)
		freeReplyObject(r);
	redisFree(ctx);
	return err;
}

/* Slots and config epochs, then the meeting. */
static int assemble(struct cluster *c, char *why, size_t whylen)
{
	int err = 0;
	for (int i = 0; err == 0 && i < CLUSTER_NODES; i++) {
		int lo = 16384 * i / CLUSTER_NODES;
		int hi = 16384 * (i + 1) / CLUSTER_NODES - 1;
		err = command(c, i, NULL, why, whylen,
			      "CLUSTER ADDSLOTSRANGE %d %d", lo, hi);
		if (err == 0)
			err = command(c, i, NULL, why, whylen,
				      "CLUSTER SET-CONFIG-EPOCH %d", i + 1);
	}
	for (int i = 1; err == 0 && i < CLUSTER_NODES; i++)
		err = command(c, 0, NULL, why, whylen,
			      "CLUSTER MEET 127.0.0.1 %d %d", c->port[i],
			      c->bus[i]);
	return err;
}

/* 1 when node i says cluster_state:ok and knows every node. */
static int node_ok(struct cluster *c, int i)
{
	char why[8], want[40];
	redisReply *r = NULL;
	int ok = 0;
	snprintf(want, sizeof want, "cluster_known_nodes:%d\r", CLUSTER_NODES);
	if (command(c, i, &r, why, sizeof why, "CLUSTER INFO") == 0) {
		ok = r->type == REDIS_REPLY_STRING &&
		     strstr(r->str, "cluster_state:ok\r") &&
		     strstr(r->str, want);
		freeReplyObject(r);
	}
	return ok;
}

static int wait_ok(struct cluster *c, char *why, size_t whylen)
{
	struct timespec pause = {0, POLL_MS * 1000000L};
	for (long waited = 0; waited < READY_WAIT_MS; waited += POLL_MS) {
		int ok = 1;
		for (int i = 0; ok && i < CLUSTER_NODES; i++)
			ok = node_ok(c, i);
		if (ok)
			return 0;
		nanosleep(&pause, NULL);
	}
	snprintf(why, whylen, "the cluster was not ok within %d s",
		 READY_WAIT_MS / 1000);
	return ETIMEDOUT;
}

int cluster_start(struct cluster *c, char *why, size_t whylen)
{
	int err = 0, at = 0;
	memset(c, 0, sizeof *c);
	for (int i = 0; err == 0 && i < CLUSTER_NODES; i++)
		err = start_node(c, i, why, whylen);
	if (err == 0)
		err = assemble(c, why, whylen);
	if (err == 0)
		err = wait_ok(c, why, whylen);
	if (err != 0) {
		cluster_stop(c);
		return err;
	}
	at = snprintf(c->uri, sizeof c->uri, "redis-cluster://");
	for (int i = 0; i < CLUSTER_NODES; i++)
		at += snprintf(c->uri + at, sizeof c->uri - (size_t)at,
			       "%s127.0.0.1:%d", i ? "," : "", c->port[i]);
	return 0;
}

int cluster_stop(struct cluster *c)
{
	int err = 0;
	for (int i = 0; i < CLUSTER_NODES; i++) {
		int e = server_stop(&c->node[i]);
		err = err ? err : e;
	}
	return err;
}

void cluster_kill_now(struct cluster *c)
{
	for (int i = 0; i < CLUSTER_NODES; i++)
		server_kill_now(&c->node[i]);
}
