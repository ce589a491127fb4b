/*
 * redis/conn.c: making, checking and caching connections. See conn.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "conn.h"

#include <hiredis/sds.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "client.h"

/* snprintf into why when there is room; returns code, so a failing path
 * is `return say(code, why, len, ...)`. */
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

static long timeval_ms(struct timeval tv)
{
	return (long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The errno value behind a failed connect: hiredis 0.14 sets REDIS_ERR_IO
 * from errno (left as it was), and REDIS_ERR_OTHER when the host name
 * does not resolve. */
static int connect_error_code(const redisContext *c, int saved_errno)
{
	if (c->err != REDIS_ERR_IO)
		return EHOSTUNREACH;
	switch (saved_errno) {
	case ECONNREFUSED:
	case ETIMEDOUT:
	case ENOENT:
	case EHOSTUNREACH:
		return saved_errno;
	case ENETUNREACH:
	case EADDRNOTAVAIL:
		return EHOSTUNREACH;
	case EAGAIN:
	case EINPROGRESS:
		return ETIMEDOUT;
	default:
		return EIO;
	}
}

int mt__redis_conn_error_code(const redisContext *c, int saved_errno)
{
	switch (c->err) {
	case REDIS_ERR_EOF:
		return ECONNRESET;
	case REDIS_ERR_PROTOCOL:
		return EPROTO;
	case REDIS_ERR_OOM:
		return ENOMEM;
	case REDIS_ERR_IO:
		break;
	default:
		return EIO;
	}
	switch (saved_errno) {
	case EAGAIN: /* SO_RCVTIMEO / SO_SNDTIMEO expired */
		return ETIMEDOUT;
	case EPIPE:
	case ECONNRESET:
	case ETIMEDOUT:
		return saved_errno;
	default:
		return EIO;
	}
}

void mt__redis_conn_error_text(const struct mt__redis_conn_cfg *cfg,
			       const redisContext *c, int code, char *buf,
			       size_t len)
{
	if (code == ETIMEDOUT)
		snprintf(buf, len, "timed out after %ld ms",
			 timeval_ms(cfg->command_timeout));
	else
		snprintf(buf, len, "%s", c->errstr);
}

/* Appends AUTH [user] password, as argv so that no byte of the password
 * is ever interpreted. */
static void append_auth(const struct mt__redis_conn_cfg *cfg, redisContext *c)
{
	const char *argv[3] = {"AUTH", cfg->user, cfg->password};
	size_t lens[3] = {4, cfg->user ? strlen(cfg->user) : 0,
			  strlen(cfg->password)};
	if (cfg->user)
		redisAppendCommandArgv(c, 3, argv, lens);
	else
		redisAppendCommandArgv(c, 2,
				       (const char *[]){"AUTH", cfg->password},
				       (size_t[]){4, lens[2]});
}

/* Reads one setup reply; an error reply gives EACCES (AUTH, or NOAUTH on
 * SELECT) or ERANGE (SELECT). */
static int setup_reply(const struct mt__redis_conn_cfg *cfg, redisContext *c,
		       int is_auth, char *why, size_t len)
{
	redisReply *rep = NULL;
	if (redisGetReply(c, (void **)&rep) != REDIS_OK) {
		int code = mt__redis_conn_error_code(c, errno);
		char text[160];
		mt__redis_conn_error_text(cfg, c, code, text, sizeof text);
		return say(code, why, len, "%s during %s on %s", text,
			   is_auth ? "AUTH" : "SELECT", cfg->label);
	}
	int code = 0;
	if (rep->type == REDIS_REPLY_ERROR) {
		int noauth = strncmp(rep->str, "NOAUTH", 6) == 0;
		if (is_auth || noauth)
			code = say(EACCES, why, len, "AUTH refused by %s: %s",
				   cfg->label, rep->str);
		else
			code = say(ERANGE, why, len,
				   "SELECT %d refused by %s: %s", cfg->db,
				   cfg->label, rep->str);
	}
	freeReplyObject(rep);
	return code;
}

/* AUTH and SELECT in one round trip; both replies are always read, so a
 * failure leaves nothing in flight (the context is freed anyway). */
static int setup(const struct mt__redis_conn_cfg *cfg, redisContext *c,
		 char *why, size_t len)
{
	char db[16];
	snprintf(db, sizeof db, "%d", cfg->db);
	if (cfg->password)
		append_auth(cfg, c);
	if (cfg->db)
		redisAppendCommandArgv(c, 2, (const char *[]){"SELECT", db},
				       (size_t[]){6, strlen(db)});
	int code = 0;
	if (cfg->password)
		code = setup_reply(cfg, c, 1, why, len);
	if (cfg->db && !c->err) {
		int sel = setup_reply(cfg, c, 0, why, len);
		code = code ? code : sel;
	}
	return code;
}

int mt__redis_connect(const struct mt__redis_conn_cfg *cfg, redisContext **out,
		      char *why, size_t whylen)
{
	*out = NULL;
	errno = 0;
	redisContext *c =
		cfg->addr->path ?
			redisConnectUnixWithTimeout(cfg->addr->path,
						    cfg->connect_timeout) :
			redisConnectWithTimeout(cfg->addr->host,
						cfg->addr->port,
						cfg->connect_timeout);
	int saved = errno;
	if (!c)
		return say(ENOMEM, why, whylen,
			   "out of memory connecting to %s", cfg->label);
	int code = 0;
	if (c->err)
		code = say(connect_error_code(c, saved), why, whylen,
			   "could not connect to %s: %s", cfg->label,
			   c->errstr);
	else if (redisSetTimeout(c, cfg->command_timeout) != REDIS_OK)
		code = say(EIO, why, whylen, "could not set timeouts on %s: %s",
			   cfg->label, c->errstr);
	else
		code = setup(cfg, c, why, whylen);
	if (code) {
		redisFree(c);
		return code;
	}
	*out = c;
	return 0;
}

int mt__redis_node_init(struct mt__redis_node *n,
			const struct mt__redis_conn_cfg *cfg, mt_pool *pool,
			struct mt__redis_counters *stats)
{
	memset(n, 0, sizeof *n);
	n->cfg = *cfg;
	n->pool = pool;
	n->stats = stats;
	n->nslots = mt_pool_size(pool);
	n->capfree = n->nslots + MT__REDIS_FREE_EXTRA;
	n->slots = calloc(n->nslots ? n->nslots : 1, sizeof *n->slots);
	n->free = calloc(n->capfree, sizeof *n->free);
	if (!n->slots || !n->free) {
		free(n->slots);
		free(n->free);
		return ENOMEM;
	}
	int rc = pthread_mutex_init(&n->lock, NULL);
	if (rc) {
		free(n->slots);
		free(n->free);
	}
	return rc;
}

void mt__redis_node_destroy(struct mt__redis_node *n)
{
	for (unsigned i = 0; i < n->nslots; i++)
		redisFree(n->slots[i]);
	for (size_t i = 0; i < n->nfree; i++)
		redisFree(n->free[i]);
	free(n->slots);
	free(n->free);
	pthread_mutex_destroy(&n->lock);
}

/* The calling thread's slot, or NULL for a thread outside n's pool. */
static redisContext **my_slot(struct mt__redis_node *n)
{
	if (mt_current_pool() != n->pool)
		return NULL;
	int i = mt_worker_index();
	return i >= 0 && (unsigned)i < n->nslots ? &n->slots[i] : NULL;
}

/* An idle connection must have nothing to read: end of stream, an error,
 * or stray bytes (a late reply, or the server's own goodbye) mean its
 * stream is dead or out of step. */
static int idle_sound(const redisContext *c)
{
	char b;
	ssize_t r = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* A cached connection, or NULL. Dead ones found on the way are closed. */
static redisContext *take_cached(struct mt__redis_node *n)
{
	redisContext **slot = my_slot(n);
	for (;;) {
		redisContext *c = NULL;
		if (slot && *slot) {
			c = *slot;
			*slot = NULL;
		} else {
			pthread_mutex_lock(&n->lock);
			if (n->nfree)
				c = n->free[--n->nfree];
			pthread_mutex_unlock(&n->lock);
		}
		if (!c || idle_sound(c))
			return c;
		mt__redis_count(&n->stats->connection_errors, 1);
		redisFree(c);
	}
}

int mt__redis_node_connect(struct mt__redis_node *n, redisContext **out,
			   char *why, size_t whylen)
{
	int rc = mt__redis_connect(&n->cfg, out, why, whylen);
	if (rc == 0)
		mt__redis_count(&n->stats->connects, 1);
	return rc;
}

int mt__redis_node_acquire(struct mt__redis_node *n, redisContext **out,
			   int *fresh, char *why, size_t whylen)
{
	*out = take_cached(n);
	*fresh = *out == NULL;
	return *out ? 0 : mt__redis_node_connect(n, out, why, whylen);
}

/* Still in step: no error, nothing unsent, nothing read but unparsed. */
static int in_step(const redisContext *c)
{
	const redisReader *rd = c->reader;
	return !c->err && sdslen(c->obuf) == 0 && rd->pos == rd->len &&
	       rd->ridx < 0;
}

void mt__redis_node_release(struct mt__redis_node *n, redisContext *c)
{
	if (!c)
		return;
	if (!in_step(c)) {
		mt__redis_count(&n->stats->connection_errors, 1);
		redisFree(c);
		return;
	}
	redisContext **slot = my_slot(n);
	if (slot && !*slot) {
		*slot = c;
		return;
	}
	pthread_mutex_lock(&n->lock);
	int kept = n->nfree < n->capfree;
	if (kept)
		n->free[n->nfree++] = c;
	pthread_mutex_unlock(&n->lock);
	if (!kept)
		redisFree(c);
}
