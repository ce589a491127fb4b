/*
 * redis/client.c: mt_redis_open, mt_redis_close, options and stats.
 *
 * Opening is: validate the options, resolve the pool, parse the URI
 * (uri.h), set up the node (conn.h) and the background queue
 * (background.h), then, unless MT_REDIS_LAZY, make the first connection
 * on the calling thread, so that a wrong address, password or db is
 * reported by open itself. Every failure unwinds through client_free.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "background.h"
#include "sigpipe.h"

int mt__redis_usable(const mt_redis *r)
{
	return r->pid == getpid() ? 0 : ECHILD;
}

static int say(int code, char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int say(int code, char *why, size_t len, const char *fmt, ...)
{
	if (why && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return code;
}

static int check_options(const mt_redis_options *o, char *why, size_t len)
{
	const unsigned known = MT_REDIS_NO_RETRY | MT_REDIS_LAZY;
	if (o->flags & ~known)
		return say(EINVAL, why, len, "unknown option flags 0x%x",
			   o->flags & ~known);
	if (o->window > MT__REDIS_MAX_WINDOW)
		return say(EINVAL, why, len, "window %u is over %u commands",
			   o->window, MT__REDIS_MAX_WINDOW);
	if (o->chunk_keys > MT__REDIS_MAX_CHUNK_KEYS)
		return say(EINVAL, why, len, "chunk_keys %u is over %u",
			   o->chunk_keys, MT__REDIS_MAX_CHUNK_KEYS);
	return 0;
}

static unsigned or_default(unsigned v, unsigned def)
{
	return v ? v : def;
}

static struct timeval ms_timeval(unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000,
			     .tv_usec = (suseconds_t)(ms % 1000) * 1000};
	return tv;
}

static void apply_options(mt_redis *r, const mt_redis_options *o)
{
	r->window = or_default(o->window, MT__REDIS_WINDOW);
	r->chunk_keys = or_default(o->chunk_keys, MT__REDIS_CHUNK_KEYS);
	r->flags = o->flags;
	r->max_queued = o->max_queued ? o->max_queued : MT__REDIS_MAX_QUEUED;
}

static void conn_cfg(const mt_redis *r, const mt_redis_options *o,
		     struct mt__redis_conn_cfg *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->addr = &r->uri.addrs[0];
	cfg->user = r->uri.user;
	cfg->password = r->uri.password;
	cfg->db = r->uri.db;
	cfg->connect_timeout = ms_timeval(or_default(
		o->connect_timeout_ms, MT__REDIS_CONNECT_TIMEOUT_MS));
	cfg->command_timeout = ms_timeval(or_default(
		o->command_timeout_ms, MT__REDIS_COMMAND_TIMEOUT_MS));
	mt__redis_addr_format(cfg->addr, cfg->label, sizeof cfg->label);
}

/* Frees what a (possibly partial) client holds; the parts not yet set
 * up are zero. */
static void client_free(mt_redis *r)
{
	mt__redis_bg_destroy(r->bg);
	if (r->node_ready)
		mt__redis_node_destroy(&r->node);
	mt__redis_uri_free(&r->uri);
	free(r);
}

/* A connection that sent neither AUTH nor SELECT has not spoken yet: a
 * PING shows that the server answers and takes commands without a
 * password (NOAUTH is EACCES, as a refused AUTH). */
static int ping(const struct mt__redis_conn_cfg *cfg, redisContext *c,
		char *why, size_t len)
{
	redisReply *rep = redisCommand(c, "PING");
	if (!rep) {
		int code = mt__redis_conn_error_code(c, errno);
		char text[160];
		mt__redis_conn_error_text(cfg, c, code, text, sizeof text);
		return say(code, why, len, "%s during PING on %s", text,
			   cfg->label);
	}
	int code = 0;
	if (rep->type == REDIS_REPLY_ERROR)
		code = say(strncmp(rep->str, "NOAUTH", 6) == 0 ? EACCES : EIO,
			   why, len, "PING refused by %s: %s", cfg->label,
			   rep->str);
	freeReplyObject(rep);
	return code;
}

/* The first connection, made on the calling thread and kept. */
static int first_connect(mt_redis *r, char *why, size_t len)
{
	const struct mt__redis_conn_cfg *cfg = &r->node.cfg;
	struct mt__redis_sigpipe guard;
	redisContext *c;
	int fresh;
	mt__redis_sigpipe_block(&guard);
	int rc = mt__redis_node_acquire(&r->node, &c, &fresh, why, len);
	if (rc == 0 && !cfg->password && !cfg->db)
		rc = ping(cfg, c, why, len);
	mt__redis_node_release(&r->node, c);
	mt__redis_sigpipe_restore(&guard, rc != 0);
	return rc;
}

static int resolve_pool(const mt_redis_options *o, mt_pool **pool, char *why,
			size_t len)
{
	*pool = o->pool ? o->pool : mt_default_pool();
	if (!*pool)
		return say(errno, why, len, "no default pool: %s",
			   mt_strerror(errno));
	if (mt_pool_size(*pool) == 0)
		return say(ECHILD, why, len,
			   "the pool was created before fork()");
	return 0;
}

/* The checks before anything is allocated; *pool is resolved. */
static int open_checks(const struct mt_redis_uri *uri,
		       const mt_redis_options *o, mt_pool **pool, char *why,
		       size_t len)
{
	int rc = check_options(o, why, len);
	if (!rc && uri->kind == MT_REDIS_URI_CLUSTER)
		rc = say(EINVAL, why, len,
			 "redis-cluster:// is not supported yet");
	return rc ? rc : resolve_pool(o, pool, why, len);
}

/* Sets up a zeroed client's parts; on failure client_free undoes them. */
static int client_init(mt_redis *r, const mt_redis_options *o, char *why,
		       size_t len)
{
	r->pid = getpid();
	apply_options(r, o);
	struct mt__redis_conn_cfg cfg;
	conn_cfg(r, o, &cfg);
	int rc = mt__redis_node_init(&r->node, &cfg, r->pool, &r->stats);
	if (rc)
		return say(rc, why, len, "out of memory");
	r->node_ready = 1;
	rc = mt__redis_bg_create(r, &r->bg);
	if (rc)
		return say(rc, why, len, "out of memory");
	return r->flags & MT_REDIS_LAZY ? 0 : first_connect(r, why, len);
}

int mt__redis_open_parsed(mt_redis **out, struct mt_redis_uri *uri,
			  const mt_redis_options *opts, char *why,
			  size_t whylen)
{
	static const mt_redis_options defaults;
	const mt_redis_options *o = opts ? opts : &defaults;
	mt_pool *pool = NULL;
	int rc = open_checks(uri, o, &pool, why, whylen);
	mt_redis *r = rc ? NULL : calloc(1, sizeof *r);
	if (!rc && !r)
		rc = say(ENOMEM, why, whylen, "out of memory");
	if (rc) {
		mt__redis_uri_free(uri);
		return rc;
	}
	r->uri = *uri;
	memset(uri, 0, sizeof *uri);
	r->pool = pool;
	rc = client_init(r, o, why, whylen);
	if (rc) {
		client_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int mt_redis_open(mt_redis **out, const char *uri, const mt_redis_options *opts,
		  char *why, size_t whylen)
{
	if (why && whylen)
		why[0] = '\0';
	if (out)
		*out = NULL;
	if (!out || !uri)
		return say(EINVAL, why, whylen, "%s is NULL",
			   out ? "uri" : "out");
	struct mt_redis_uri u;
	int rc = mt__redis_uri_parse(uri, &u, why, whylen);
	if (rc)
		return rc;
	return mt__redis_open_parsed(out, &u, opts, why, whylen);
}

int mt_redis_close(mt_redis *r)
{
	if (!r)
		return 0;
	if (mt_current_pool() == r->pool)
		return EDEADLK;
	/* In a child of fork() the queue's tasks would run on the parent's
	 * pool: there is nothing to wait for here, only memory to free. */
	if (mt__redis_usable(r) == 0)
		mt__redis_bg_flush(r, NULL, 1);
	client_free(r);
	return 0;
}

static uint64_t get(const _Atomic uint64_t *c)
{
	/* Relaxed: statistics, not a consistent cut (see the header). */
	return atomic_load_explicit(c, memory_order_relaxed);
}

int mt_redis_stats_get(mt_redis *r, mt_redis_stats *out)
{
	if (!r || !out)
		return EINVAL;
	const struct mt__redis_counters *s = &r->stats;
	*out = (mt_redis_stats){
		.commands = get(&s->commands),
		.items_done = get(&s->items_done),
		.items_failed = get(&s->items_failed),
		.items_unknown = get(&s->items_unknown),
		.retries = get(&s->retries),
		.connects = get(&s->connects),
		.connection_errors = get(&s->connection_errors),
		.bg_queued = get(&s->bg_queued),
		.bg_done = get(&s->bg_done),
		.bg_failed = get(&s->bg_failed),
		.bg_unknown = get(&s->bg_unknown),
		.redirects = get(&s->redirects),
	};
	return 0;
}
