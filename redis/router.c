/*
 * redis/router.c: Redis Cluster routing (see router.h for the rounds,
 * the redirect rules and the bounds).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "router.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "redirect.h"
#include "sigpipe.h"
#include "slot.h"
#include "slotmap.h"
#include "uri.h"

#define NSEGS (MT_REDIS_NO_NODE / MT_REDIS_NODE_SEG + 1)
#define NO_SLOT 0xFFFFu

static const char unsent_oom[] = MT__REDIS_NOT_SENT
	"out of memory in the client";
static const char unsent_unreadable[] = MT__REDIS_NOT_SENT
	"its commands could not be read to route it";

/* ====================================================== node caches */

/* A node's connection cache; node.cfg.addr points at addr, whose host is
 * the slot map's copy (both live until the router is destroyed). */
struct rnode {
	struct mt__redis_node node;
	struct mt_redis_addr addr;
};

typedef _Atomic(struct rnode *) rnode_ref;

struct mt__redis_router {
	mt_redis *r;			  /* I */
	struct mt_redis_slotmap *map;	  /* I: synchronises itself */
	pthread_mutex_t lock;		  /* creates node caches (leaf) */
	pthread_mutex_t refresh_lock;	  /* one refresh at a time */
	_Atomic(rnode_ref *) segs[NSEGS]; /* A: published with release */
};

static struct rnode *rnode_find(struct mt__redis_router *rt, unsigned id)
{
	/* acquire: pairs with the release stores in rnode_make, so the
	 * segment and the cache it names are seen initialised. */
	rnode_ref *seg = atomic_load_explicit(&rt->segs[id / MT_REDIS_NODE_SEG],
					      memory_order_acquire);
	return seg ? atomic_load_explicit(&seg[id % MT_REDIS_NODE_SEG],
					  memory_order_acquire) :
		     NULL;
}

/* A new cache for node id, published; under rt->lock. */
static int rnode_make(struct mt__redis_router *rt, unsigned id,
		      struct rnode **out)
{
	_Atomic(rnode_ref *) *segp = &rt->segs[id / MT_REDIS_NODE_SEG];
	/* relaxed: under the lock, which orders every store of segs. */
	rnode_ref *seg = atomic_load_explicit(segp, memory_order_relaxed);
	const struct mt_redis_node *n = mt__redis_slotmap_node(rt->map, id);

	if (!n)
		return EINVAL;
	if (!seg) {
		seg = calloc(MT_REDIS_NODE_SEG, sizeof *seg);
		if (!seg)
			return ENOMEM;
		/* release: publishes the zeroed segment (rnode_find). */
		atomic_store_explicit(segp, seg, memory_order_release);
	}
	struct rnode *rn = calloc(1, sizeof *rn);
	if (!rn)
		return ENOMEM;
	/* The connection code only reads the host; the map owns it. */
	rn->addr.host = (char *)n->host;
	rn->addr.port = n->port;
	struct mt__redis_conn_cfg cfg = rt->r->node.cfg;
	cfg.addr = &rn->addr;
	mt__redis_addr_format(&rn->addr, cfg.label, sizeof cfg.label);
	int rc = mt__redis_node_init(&rn->node, &cfg, rt->r->pool,
				     &rt->r->stats);
	if (rc) {
		free(rn);
		return rc;
	}
	/* release: the cache is initialised; pairs with rnode_find. */
	atomic_store_explicit(&seg[id % MT_REDIS_NODE_SEG], rn,
			      memory_order_release);
	*out = rn;
	return 0;
}

/* The connection cache of node id, made on first use. */
static int node_of(struct mt__redis_router *rt, unsigned id,
		   struct mt__redis_node **out)
{
	struct rnode *rn = rnode_find(rt, id);
	int rc = 0;

	if (!rn) {
		pthread_mutex_lock(&rt->lock);
		rn = rnode_find(rt, id);
		if (!rn)
			rc = rnode_make(rt, id, &rn);
		pthread_mutex_unlock(&rt->lock);
	}
	*out = rc ? NULL : &rn->node;
	return rc;
}

int mt__redis_router_create(mt_redis *r, struct mt__redis_router **out)
{
	struct mt__redis_router *rt = calloc(1, sizeof *rt);
	unsigned id;
	int rc;

	*out = NULL;
	if (!rt)
		return ENOMEM;
	rt->r = r;
	rc = mt__redis_slotmap_create(&rt->map);
	if (rc) {
		free(rt);
		return rc;
	}
	pthread_mutex_init(&rt->lock, NULL);
	pthread_mutex_init(&rt->refresh_lock, NULL);
	for (size_t i = 0; rc == 0 && i < r->uri.naddrs; i++)
		rc = mt__redis_slotmap_intern(rt->map, r->uri.addrs[i].host,
					      r->uri.addrs[i].port, &id);
	if (rc) {
		mt__redis_router_destroy(rt);
		return rc;
	}
	*out = rt;
	return 0;
}

void mt__redis_router_destroy(struct mt__redis_router *rt)
{
	if (!rt)
		return;
	for (unsigned s = 0; s < NSEGS; s++) {
		/* relaxed: no call is running (the client is closing). */
		rnode_ref *seg = atomic_load_explicit(&rt->segs[s],
						      memory_order_relaxed);
		for (unsigned k = 0; seg && k < MT_REDIS_NODE_SEG; k++) {
			struct rnode *rn = atomic_load_explicit(
				&seg[k], memory_order_relaxed);
			if (rn)
				mt__redis_node_destroy(&rn->node);
			free(rn);
		}
		free(seg);
	}
	mt__redis_slotmap_destroy(rt->map);
	pthread_mutex_destroy(&rt->lock);
	pthread_mutex_destroy(&rt->refresh_lock);
	free(rt);
}

/* ========================================================= refreshes */

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

/* What node n's CLUSTER SLOTS reply says, installed when it serves at
 * least one slot. Returns 0 or an errno (why says what went wrong). */
static int install_reply(struct mt__redis_router *rt, struct mt__redis_node *n,
			 const char *host, const redisReply *rep, char *why,
			 size_t len)
{
	struct mt_redis_slots s;
	char perr[160];
	int rc;

	if (rep->type == REDIS_REPLY_ERROR)
		return say(strncmp(rep->str, "NOAUTH", 6) == 0 ? EACCES : EIO,
			   why, len, "%s is not a usable cluster node: %s",
			   n->cfg.label, rep->str);
	rc = mt__redis_slots_parse(rep, &s, perr, sizeof perr);
	if (rc)
		return say(rc == ENOMEM ? ENOMEM : EIO, why, len, "%s: %s",
			   n->cfg.label, perr);
	if (s.covered == 0)
		rc = say(EIO, why, len, "%s serves no slot (not in a cluster?)",
			 n->cfg.label);
	else
		rc = mt__redis_slotmap_install(rt->map, &s, host);
	mt__redis_slots_free(&s);
	return rc;
}

/* CLUSTER SLOTS on node id, installed. Returns 0 or an errno. */
static int slots_from(struct mt__redis_router *rt, unsigned id, char *why,
		      size_t len)
{
	const struct mt_redis_node *mn = mt__redis_slotmap_node(rt->map, id);
	struct mt__redis_node *n;
	redisContext *c;
	int fresh, rc = node_of(rt, id, &n);

	if (rc == 0)
		rc = mt__redis_node_acquire(n, &c, &fresh, why, len);
	if (rc)
		return rc;
	redisReply *rep = redisCommand(c, "CLUSTER SLOTS");
	if (!rep) {
		char text[160];
		rc = mt__redis_conn_error_code(c, errno);
		mt__redis_conn_error_text(&n->cfg, c, rc, text, sizeof text);
		say(rc, why, len, "CLUSTER SLOTS on %s: %s", n->cfg.label,
		    text);
	} else {
		rc = install_reply(rt, n, mn->host, rep, why, len);
		freeReplyObject(rep);
	}
	mt__redis_node_release(n, c);
	return rc;
}

/* Asks `prefer` (if a node), then every candidate, until one gives a map;
 * under refresh_lock. */
static int refresh_locked(struct mt__redis_router *rt, unsigned prefer,
			  char *why, size_t len)
{
	unsigned count = mt__redis_slotmap_node_count(rt->map);
	unsigned *ids = malloc(((size_t)count + 1) * sizeof *ids);
	size_t n = 0;
	int rc = ENOMEM;

	if (!ids)
		return say(ENOMEM, why, len, "out of memory");
	if (prefer != MT_REDIS_NO_NODE)
		ids[n++] = prefer;
	n += mt__redis_slotmap_candidates(rt->map, ids + n, count);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && ids[i] == prefer)
			continue;
		rc = slots_from(rt, ids[i], why, len);
		if (rc == 0)
			break;
	}
	free(ids);
	return rc;
}

/* Refreshes the map unless another call did since generation `seen`
 * (once per burst of redirects, not once per reply). Returns 0 or the
 * last node's error. */
static int refresh(struct mt__redis_router *rt, uint64_t seen, unsigned prefer,
		   char *why, size_t len)
{
	struct mt__redis_sigpipe guard;
	int rc = 0;

	mt__redis_sigpipe_block(&guard);
	pthread_mutex_lock(&rt->refresh_lock);
	if (mt__redis_slotmap_generation(rt->map) == seen)
		rc = refresh_locked(rt, prefer, why, len);
	pthread_mutex_unlock(&rt->refresh_lock);
	mt__redis_sigpipe_restore(&guard, rc != 0);
	return rc;
}

int mt__redis_router_open(mt_redis *r, char *why, size_t whylen)
{
	return refresh(r->router, 0, MT_REDIS_NO_NODE, why, whylen);
}

/* ====================================================== RESP reading */

/* The number after `lead` ('*' or '$') up to CRLF; *next is past it. */
static int resp_num(const char *p, const char *end, char lead, size_t *v,
		    const char **next)
{
	size_t n = 0;
	const char *digits;

	if (p >= end || *p++ != lead)
		return -1;
	for (digits = p; p < end && *p >= '0' && *p <= '9'; p++) {
		if (n > (SIZE_MAX - 9) / 10)
			return -1;
		n = n * 10 + (size_t)(*p - '0');
	}
	if (p == digits || end - p < 2 || p[0] != '\r' || p[1] != '\n')
		return -1;
	*v = n;
	*next = p + 2;
	return 0;
}

/* Walks the command at p (our own RESP: *N then N bulk strings). *next is
 * past it; *arg is argument `want` (0 is the name) when there is one.
 * Returns 1 (has argument want), 0 (has not) or -1 (malformed). */
static int resp_cmd(const char *p, const char *end, size_t want,
		    mt_redis_bytes *arg, const char **next)
{
	size_t argc, len;
	int found = 0;

	if (resp_num(p, end, '*', &argc, &p) != 0)
		return -1;
	for (size_t a = 0; a < argc; a++) {
		if (resp_num(p, end, '$', &len, &p) != 0 ||
		    (size_t)(end - p) < len || end - p - (ptrdiff_t)len < 2)
			return -1;
		if (a == want) {
			arg->data = p;
			arg->len = len;
			found = 1;
		}
		p += len + 2;
	}
	*next = p;
	return found;
}

/* ============================================================ a call */

struct unit {
	size_t item;
	mt_redis_result *out; /* res[item], or a split unit's own result */
	uint32_t cmd0, ncmd;  /* split: cmdv[cmd0, cmd0 + ncmd); 0: all */
	uint16_t slot;	      /* NO_SLOT: no key */
	uint16_t target;      /* node for the next round; NO_NODE: owner */
	uint8_t ask, redirects, replayed, split;
};

struct call {
	mt_redis *r;			    /* I */
	struct mt__redis_router *rt;	    /* I */
	const struct mt__redis_source *src; /* I: the caller's */
	mt_redis_result *res;		    /* I: the caller's results */
	struct mt__redis_batch *b;
	size_t store; /* the router's store: b->stores[store] */
	struct unit *u;
	size_t nu, capu;
	uint32_t *cmdv; /* split units' command lists */
	size_t ncmdv, capcmdv;
	mt_redis_result *split_res;
	size_t *pending, npending;
	struct mt__redis_buf scratch; /* planning, on the calling thread */
	/* between rounds */
	uint64_t gen;	  /* map generation the round was routed with */
	int need_refresh; /* a MOVED, a node down, CLUSTERDOWN */
	unsigned prefer;  /* the MOVED target, asked first */
	int wait;	  /* some unit waits for a pause */
	long long wait_start, wait_limit; /* ms; 0: no pause yet */
	unsigned backoff;		  /* next pause, ms */
};

static struct mt__redis_store *rstore(struct call *c)
{
	return &c->b->stores[c->store];
}

static size_t src_ncmds(const struct mt__redis_source *s, size_t i)
{
	return s->ncmds ? s->ncmds(s->ctx, i) : s->fixed_ncmds;
}

static unsigned src_flags(const struct mt__redis_source *s, size_t i)
{
	return s->flags ? s->flags(s->ctx, i) : s->fixed_flags;
}

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static long long timeout_ms(const mt_redis *r)
{
	struct timeval tv = r->node.cfg.command_timeout;
	return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ------------------------------------------------------------ plan */

static struct unit *new_unit(struct call *c, size_t item)
{
	if (c->nu == c->capu) {
		size_t cap = c->capu ? 2 * c->capu : 64;
		struct unit *u = realloc(c->u, cap * sizeof *u);
		if (!u)
			return NULL;
		c->u = u;
		c->capu = cap;
	}
	struct unit *u = &c->u[c->nu++];
	*u = (struct unit){.item = item,
			   .out = &c->res[item],
			   .slot = NO_SLOT,
			   .target = MT_REDIS_NO_NODE};
	return u;
}

static int push_cmd(struct call *c, uint32_t j)
{
	if (c->ncmdv == c->capcmdv) {
		size_t cap = c->capcmdv ? 2 * c->capcmdv : 64;
		uint32_t *v = realloc(c->cmdv, cap * sizeof *v);
		if (!v)
			return ENOMEM;
		c->cmdv = v;
		c->capcmdv = cap;
	}
	c->cmdv[c->ncmdv++] = j;
	return 0;
}

/* Item i formatted into the scratch buffer. */
static int format_scratch(struct call *c, size_t i)
{
	c->scratch.len = 0;
	c->scratch.oom = 0;
	c->src->format(c->src->ctx, i, &c->scratch);
	return c->scratch.oom ? ENOMEM : 0;
}

/* slots[j] = the slot of command j's first argument (NO_SLOT: none). */
static int command_slots(struct call *c, size_t i, uint16_t *slots, size_t n)
{
	const char *p, *end;
	int rc = format_scratch(c, i);

	p = c->scratch.p;
	end = p + c->scratch.len;
	for (size_t j = 0; rc == 0 && j < n; j++) {
		mt_redis_bytes k = {0};
		int has = resp_cmd(p, end, 1, &k, &p);
		if (has < 0)
			return EINVAL;
		slots[j] = has ? (uint16_t)mt__redis_slot(k.data, k.len) :
				 NO_SLOT;
	}
	return rc;
}

/* The routing slot of an unsplit item. */
static int item_slot(struct call *c, size_t i, uint16_t *slot)
{
	mt_redis_bytes k = {0};
	const char *next;

	if (c->src->key) {
		c->src->key(c->src->ctx, i, &k);
		*slot = k.data ? (uint16_t)mt__redis_slot(k.data, k.len) :
				 NO_SLOT;
		return 0;
	}
	int rc = format_scratch(c, i);
	if (rc)
		return rc;
	int has = resp_cmd(c->scratch.p, c->scratch.p + c->scratch.len, 1, &k,
			   &next);
	*slot = has > 0 ? (uint16_t)mt__redis_slot(k.data, k.len) : NO_SLOT;
	return 0;
}

/* Item i FAILED before anything was sent. */
static void fail_item(struct call *c, size_t i, const char *text)
{
	c->res[i].status = MT_REDIS_FAILED;
	c->res[i].error = text;
}

/* A keyed item split into one unit per slot, in order of first use. */
static int split_item(struct call *c, size_t i, const uint16_t *slots, size_t n)
{
	for (size_t j = 0; j < n; j++) {
		int seen = 0;
		for (size_t k = 0; k < j && !seen; k++)
			seen = slots[k] == slots[j];
		if (seen)
			continue;
		struct unit *u = new_unit(c, i);
		if (!u)
			return ENOMEM;
		u->slot = slots[j];
		u->split = 1;
		u->cmd0 = (uint32_t)c->ncmdv;
		for (size_t k = j; k < n; k++)
			if (slots[k] == slots[j] && push_cmd(c, (uint32_t)k))
				return ENOMEM;
		u->ncmd = (uint32_t)(c->ncmdv - u->cmd0);
	}
	return 0;
}

/* A keyed item of n > 1 commands: one unit, split units, or refused. */
static int plan_keyed(struct call *c, size_t i, size_t n)
{
	uint16_t small[16], *slots = n <= 16 ? small : malloc(n * 2);
	int rc = slots ? command_slots(c, i, slots, n) : ENOMEM;
	size_t j = 1;

	while (rc == 0 && j < n && slots[j] == slots[0])
		j++;
	if (rc == 0 && j == n) {
		struct unit *u = new_unit(c, i);
		rc = u ? 0 : ENOMEM;
		if (u)
			u->slot = slots[0];
	} else if (rc == 0 && (src_flags(c->src, i) & MT_REDIS_ATOMIC)) {
		fail_item(c, i,
			  mt__redis_store_text(
				  rstore(c),
				  "refused: the keys of an atomic item hash to "
				  "slots %u and %u, and MULTI/EXEC runs on one "
				  "node: give them one hash tag, e.g. {tag}",
				  slots[0], slots[j]));
	} else if (rc == 0) {
		rc = split_item(c, i, slots, n);
	}
	if (slots != small)
		free(slots);
	return rc;
}

static int plan_item(struct call *c, size_t i)
{
	size_t n = src_ncmds(c->src, i);

	if ((src_flags(c->src, i) & MT__REDIS_KEYED) && n > 1)
		return plan_keyed(c, i, n);
	uint16_t slot;
	int rc = item_slot(c, i, &slot);
	if (rc)
		return rc;
	struct unit *u = new_unit(c, i);
	if (!u)
		return ENOMEM;
	u->slot = slot;
	return 0;
}

/* Units for every item; split units get their own results. */
static int plan(struct call *c)
{
	size_t nsplit = 0;

	for (size_t i = 0; i < c->src->n; i++) {
		int rc = plan_item(c, i);
		if (rc == ENOMEM)
			return rc;
		if (rc)
			fail_item(c, i, unsent_unreadable);
	}
	for (size_t k = 0; k < c->nu; k++)
		nsplit += c->u[k].split;
	c->split_res = calloc(nsplit ? nsplit : 1, sizeof *c->split_res);
	c->pending = malloc((c->nu ? c->nu : 1) * sizeof *c->pending);
	if (!c->split_res || !c->pending)
		return ENOMEM;
	for (size_t k = 0, s = 0; k < c->nu; k++) {
		if (c->u[k].split)
			c->u[k].out = &c->split_res[s++];
		c->pending[c->npending++] = k;
	}
	return 0;
}

/* ------------------------------------------ a group's view of units */

/* What the engine reads for one node's group: item k is unit idx[k]. */
struct gsrc {
	struct call *c;
	const size_t *idx;
	struct mt__redis_source src;
};

static const struct unit *gunit(const void *ctx, size_t k)
{
	const struct gsrc *g = ctx;
	return &g->c->u[g->idx[k]];
}

/* An unsplit atomic unit: MULTI/EXEC, by the engine or (ASK) by us. */
static int unit_atomic(const struct call *c, const struct unit *u)
{
	return !u->split && (src_flags(c->src, u->item) & MT_REDIS_ATOMIC);
}

/* The unit's own commands (without MULTI/EXEC/ASKING). */
static size_t unit_cmds(const struct call *c, const struct unit *u)
{
	return u->split ? u->ncmd : src_ncmds(c->src, u->item);
}

static size_t g_ncmds(const void *ctx, size_t k)
{
	const struct gsrc *g = ctx;
	const struct unit *u = gunit(ctx, k);
	size_t n = unit_cmds(g->c, u);

	if (!u->ask)
		return n;
	/* ASKING before each command, or ASKING MULTI ... EXEC. */
	return unit_atomic(g->c, u) ? n + 3 : 2 * n;
}

static unsigned g_flags(const void *ctx, size_t k)
{
	const struct gsrc *g = ctx;
	const struct unit *u = gunit(ctx, k);
	unsigned f = src_flags(g->c->src, u->item) &
		     (MT_REDIS_ATOMIC | MT_REDIS_IDEMPOTENT);

	/* An ASK unit writes its own MULTI/EXEC after ASKING (g_format). */
	return u->ask || u->split ? f & ~MT_REDIS_ATOMIC : f;
}

static size_t g_weight(const void *ctx, size_t k)
{
	const struct gsrc *g = ctx;
	const struct unit *u = gunit(ctx, k);
	const struct mt__redis_source *s = g->c->src;

	if (u->split)
		return 0;
	return s->weight ? s->weight(s->ctx, u->item) : s->fixed_weight;
}

static void put_word(struct mt__redis_buf *b, const char *w)
{
	mt__redis_buf_argc(b, 1);
	mt__redis_buf_str(b, w);
}

/* Appends a copy of b's own bytes [at, at + len) (b may move). */
static void put_own(struct mt__redis_buf *b, size_t at, size_t len)
{
	if (mt__redis_buf_reserve(b, len) == 0) {
		memmove(b->p + b->len, b->p + at, len);
		b->len += len;
	}
}

/* After the caller's formatter wrote the whole item at [start, end):
 * appends the unit's version (its commands only, ASKING inserted). */
static void rewrite(const struct call *c, const struct unit *u,
		    struct mt__redis_buf *b, size_t start, size_t end)
{
	int atomic = u->ask && unit_atomic(c, u);
	size_t at = start, sel = 0;
	mt_redis_bytes none;
	const char *next;

	if (atomic) {
		put_word(b, "ASKING");
		put_word(b, "MULTI");
	}
	for (uint32_t j = 0; at < end && !b->oom; j++) {
		if (resp_cmd(b->p + at, b->p + end, SIZE_MAX, &none, &next) <
		    0) {
			b->oom = 1; /* not our RESP: never sent */
			return;
		}
		size_t len = (size_t)(next - (b->p + at));
		int mine = !u->split ||
			   (sel < u->ncmd && c->cmdv[u->cmd0 + sel] == j);
		if (mine && u->ask && !atomic)
			put_word(b, "ASKING");
		if (mine)
			put_own(b, at, len);
		sel += mine && u->split;
		at += len;
	}
	if (atomic)
		put_word(b, "EXEC");
}

static void g_format(const void *ctx, size_t k, struct mt__redis_buf *b)
{
	const struct gsrc *g = ctx;
	const struct unit *u = gunit(ctx, k);
	const struct mt__redis_source *s = g->c->src;
	size_t start = b->len, end;

	s->format(s->ctx, u->item, b);
	if ((!u->ask && !u->split) || b->oom)
		return;
	end = b->len;
	rewrite(g->c, u, b, start, end);
	if (b->oom)
		return;
	memmove(b->p + start, b->p + end, b->len - end);
	b->len -= end - start;
}

/* ----------------------------------------------------- classifying */

/* The cluster error of an error text, or NONE (an unparsable MOVED is the
 * server's text like any other). */
static enum mt_redis_redirect_kind kind_of(const char *t, size_t len,
					   struct mt_redis_redirect *rd)
{
	if (!t || mt__redis_redirect_parse(t, len, rd) != 0)
		return MT_REDIS_REDIRECT_NONE;
	return rd->kind == MT_REDIS_REDIRECT_CROSSSLOT ?
		       MT_REDIS_REDIRECT_NONE :
		       rd->kind;
}

static enum mt_redis_redirect_kind kind_of_reply(const redisReply *rep,
						 struct mt_redis_redirect *rd)
{
	if (!rep || rep->type != REDIS_REPLY_ERROR)
		return MT_REDIS_REDIRECT_NONE;
	return kind_of(rep->str, rep->len, rd);
}

/* An atomic unit that the engine wrapped: its text is EXEC's error, then
 * the first queuing error in parentheses ("EXECABORT ... (MOVED ...)",
 * engine.c exec_reply): the transaction was discarded, nothing ran. */
static enum mt_redis_redirect_kind
execabort_redirect(const char *text, struct mt_redis_redirect *rd)
{
	const char *open = text ? strstr(text, " (") : NULL;
	const char *close = open ? strrchr(open, ')') : NULL;

	if (!open || !close || strncmp(text, "EXECABORT", 9) != 0)
		return MT_REDIS_REDIRECT_NONE;
	return kind_of(open + 2, (size_t)(close - open - 2), rd);
}

/* The first queuing error of an ASK atomic unit's replies (ASKING,
 * MULTI, QUEUED..., EXEC), or NULL. */
static const redisReply *first_queue_error(const mt_redis_result *sr)
{
	for (size_t k = 2; k + 1 < sr->nreplies; k++)
		if (sr->replies[k]->type == REDIS_REPLY_ERROR)
			return sr->replies[k];
	return NULL;
}

/* The redirect that answered every command of the unit (so none of them
 * ran), or NONE. */
static enum mt_redis_redirect_kind unit_redirect(const struct call *c,
						 const struct unit *u,
						 const mt_redis_result *sr,
						 struct mt_redis_redirect *rd)
{
	size_t n = unit_cmds(c, u);

	if (sr->status != MT_REDIS_FAILED)
		return MT_REDIS_REDIRECT_NONE;
	if (unit_atomic(c, u) && !u->ask)
		return execabort_redirect(sr->error, rd);
	if (unit_atomic(c, u)) {
		const redisReply *exec =
			sr->nreplies == n + 3 ? sr->replies[n + 2] : NULL;
		if (!exec || exec->type != REDIS_REPLY_ERROR)
			return MT_REDIS_REDIRECT_NONE;
		return kind_of_reply(first_queue_error(sr), rd);
	}
	size_t step = u->ask ? 2 : 1;
	if (sr->nreplies != n * step)
		return MT_REDIS_REDIRECT_NONE;
	enum mt_redis_redirect_kind first = MT_REDIS_REDIRECT_NONE;
	for (size_t k = step - 1; k < sr->nreplies; k += step) {
		struct mt_redis_redirect other;
		enum mt_redis_redirect_kind kk = kind_of_reply(
			sr->replies[k], k == step - 1 ? rd : &other);
		if (kk == MT_REDIS_REDIRECT_NONE)
			return kk;
		first = k == step - 1 ? kk : first;
	}
	return first;
}

/* Never sent (no connection, out of memory): safe to send elsewhere. */
static int not_sent(const mt_redis_result *sr)
{
	return sr->status == MT_REDIS_FAILED && sr->nreplies == 0 &&
	       sr->error &&
	       strncmp(sr->error, MT__REDIS_NOT_SENT,
		       sizeof MT__REDIS_NOT_SENT - 1) == 0;
}

/* ------------------------------------------------------- finishing */

/* An ASK unit without MULTI: every other reply is ASKING's. */
static void finish_ask_plain(struct call *c, mt_redis_result *o,
			     const mt_redis_result *sr)
{
	size_t n = sr->nreplies / 2;
	const redisReply **real =
		n ? mt__redis_store_alloc(rstore(c), n * sizeof *real) : NULL;

	*o = (mt_redis_result){.status = sr->status, .error = sr->error};
	if (n && !real) {
		o->status = MT_REDIS_FAILED;
		o->error = "out of memory in the client: a reply could not be "
			   "kept";
		return;
	}
	for (size_t k = 0; k < n; k++)
		real[k] = sr->replies[2 * k + 1];
	o->replies = real;
	o->nreplies = n;
	if (o->status == MT_REDIS_DONE)
		o->reply = real[n - 1];
}

/* EXEC's array, as the engine judges an atomic item. */
static void finish_exec(mt_redis_result *o, const redisReply *exec)
{
	o->replies = (const redisReply *const *)exec->element;
	o->nreplies = exec->elements;
	for (size_t k = 0; k < exec->elements; k++)
		if (exec->element[k]->type == REDIS_REPLY_ERROR) {
			o->status = MT_REDIS_FAILED;
			o->error = exec->element[k]->str;
			return;
		}
	o->status = MT_REDIS_DONE;
	o->reply = exec;
}

/* An ASK unit with our own ASKING MULTI ... EXEC around its commands. */
static void finish_ask_atomic(struct call *c, const struct unit *u,
			      mt_redis_result *o, const mt_redis_result *sr)
{
	size_t n = unit_cmds(c, u) + 3;
	const redisReply *exec = sr->nreplies == n ? sr->replies[n - 1] : NULL;
	const redisReply *qerr = exec ? first_queue_error(sr) : NULL;

	*o = (mt_redis_result){.status = sr->status, .error = sr->error};
	if (!exec)
		return; /* UNKNOWN, or FAILED before EXEC's reply */
	if (exec->type == REDIS_REPLY_ARRAY) {
		finish_exec(o, exec);
	} else if (exec->type == REDIS_REPLY_ERROR) {
		o->status = MT_REDIS_FAILED;
		o->error = qerr ? mt__redis_store_text(rstore(c), "%s (%s)",
						       exec->str, qerr->str) :
				  exec->str;
	} else {
		o->status = MT_REDIS_FAILED;
		o->error = "transaction aborted: EXEC did not return an array";
	}
}

/* A FAILED item whose error is a redirect that was not followed (some
 * of its commands ran): its commands were not all for one slot. The
 * server's text alone would read like a routing bug of ours. */
static void explain_partial(struct call *c, const struct unit *u,
			    mt_redis_result *o)
{
	struct mt_redis_redirect rd;
	enum mt_redis_redirect_kind k =
		o->status == MT_REDIS_FAILED && o->error ?
			kind_of(o->error, strlen(o->error), &rd) :
			MT_REDIS_REDIRECT_NONE;

	if (k != MT_REDIS_REDIRECT_MOVED && k != MT_REDIS_REDIRECT_ASK)
		return;
	o->error = mt__redis_store_text(
		rstore(c),
		"%s: a command of this item is for hash slot %u, on another "
		"node than the item's key (slot %d); the others ran: the "
		"commands of one item must share a hash slot (a hash tag)",
		o->error, rd.slot, u->slot == NO_SLOT ? -1 : (int)u->slot);
}

/* The unit's outcome is final: written to its result. */
static void finish_unit(struct call *c, const struct unit *u,
			const mt_redis_result *sr)
{
	mt_redis_result *o = u->out;

	if (u->ask && unit_atomic(c, u)) {
		finish_ask_atomic(c, u, o, sr);
	} else if (u->ask) {
		finish_ask_plain(c, o, sr);
	} else {
		*o = *sr;
		/* The engine points a lone reply's array at the result
		 * itself, which was the round's scratch copy. */
		if (sr->replies == &sr->reply)
			o->replies = &o->reply;
	}
}

/* An atomic unit told to go to another slot than its key's: its keys
 * span slots (only the server could tell, for a caller's own commands). */
static int atomic_cross_slot(struct call *c, const struct unit *u,
			     const struct mt_redis_redirect *rd)
{
	mt_redis_result failed = {.status = MT_REDIS_FAILED};

	if (!unit_atomic(c, u) || u->slot == NO_SLOT || rd->slot == u->slot)
		return 0;
	failed.error = mt__redis_store_text(
		rstore(c),
		"refused by the cluster: the keys of an atomic item hash to "
		"slots %u and %u, and MULTI/EXEC runs on one node: give them "
		"one hash tag, e.g. {tag} (%s %u %s:%d)",
		u->slot, rd->slot,
		rd->kind == MT_REDIS_REDIRECT_ASK ? "ASK" : "MOVED", rd->slot,
		rd->host, rd->port);
	struct unit plain = *u;
	plain.ask = 0;
	finish_unit(c, &plain, &failed);
	return 1;
}

/* ----------------------------------------------------------- retries */

/* Starts the call's pause clock at its first pause; 1 while the pauses
 * may go on (one command timeout from the first). */
static int may_wait(struct call *c)
{
	long long now = now_ms();

	if (!c->wait_start) {
		c->wait_start = now;
		c->wait_limit = now + timeout_ms(c->r);
	}
	return now < c->wait_limit;
}

static int replay_ok(const struct call *c, const struct unit *u)
{
	return !(c->r->flags & MT_REDIS_NO_RETRY) && !u->replayed &&
	       (src_flags(c->src, u->item) & MT_REDIS_IDEMPOTENT);
}

/* The unit goes to the node the redirect names; -1 if that node cannot
 * be named ("?": no known address). */
static int redirect_to(struct call *c, struct unit *u,
		       const struct mt_redis_redirect *rd, unsigned asked)
{
	const struct mt_redis_node *an =
		mt__redis_slotmap_node(c->rt->map, asked);
	const char *host = rd->host[0] ? rd->host : an ? an->host : NULL;
	unsigned id;
	int rc;

	if (!host || strcmp(host, "?") == 0)
		return -1;
	if (rd->kind == MT_REDIS_REDIRECT_MOVED)
		rc = mt__redis_slotmap_moved(c->rt->map, rd->slot, host,
					     rd->port, &id);
	else
		rc = mt__redis_slotmap_intern(c->rt->map, host, rd->port, &id);
	if (rc)
		return -1;
	u->target = (uint16_t)id;
	u->ask = rd->kind == MT_REDIS_REDIRECT_ASK;
	u->redirects++;
	return 0;
}

static void give_up_redirects(struct call *c, struct unit *u,
			      const struct mt_redis_redirect *rd)
{
	mt_redis_result failed = {
		.status = MT_REDIS_FAILED,
		.error = mt__redis_store_text(
			rstore(c),
			"gave up after %u redirects (the last: %s %u %s:%d): "
			"the cluster keeps sending this item elsewhere",
			u->redirects,
			rd->kind == MT_REDIS_REDIRECT_ASK ? "ASK" : "MOVED",
			rd->slot, rd->host, rd->port)};
	struct unit plain = *u;
	plain.ask = 0; /* the result is ours, nothing to strip */
	finish_unit(c, &plain, &failed);
}

/* MOVED or ASK: 1 when the unit goes to another round or is finished
 * (too many redirects); 0 when it must wait instead. */
static int follow(struct call *c, size_t k, const struct mt_redis_redirect *rd,
		  unsigned asked)
{
	struct unit *u = &c->u[k];

	if (u->redirects >= MT__REDIS_MAX_REDIRECTS) {
		give_up_redirects(c, u, rd);
		return 1; /* finished: nothing more to do */
	}
	if (redirect_to(c, u, rd, asked) != 0)
		return 0; /* an endpoint we cannot reach: wait and refresh */
	mt__redis_count(&c->r->stats.redirects, 1);
	if (rd->kind == MT_REDIS_REDIRECT_MOVED) {
		c->need_refresh = 1;
		c->prefer = u->target;
	}
	c->pending[c->npending++] = k;
	return 1;
}

/* TRYAGAIN, CLUSTERDOWN, a node down, a lost idempotent unit: pause,
 * then route by the (refreshed) map. 1 when requeued. */
static int retry_later(struct call *c, size_t k, int refresh_too)
{
	struct unit *u = &c->u[k];

	if (!may_wait(c))
		return 0;
	u->target = MT_REDIS_NO_NODE;
	u->ask = 0;
	c->need_refresh |= refresh_too;
	c->wait = 1;
	c->pending[c->npending++] = k;
	return 1;
}

/* What unit k's round outcome sr means (router.h, step 3). */
static void classify(struct call *c, size_t k, const mt_redis_result *sr,
		     unsigned asked)
{
	struct unit *u = &c->u[k];
	struct mt_redis_redirect rd;
	enum mt_redis_redirect_kind kind = unit_redirect(c, u, sr, &rd);
	int handled = 0; /* requeued, or finished by follow */

	if ((kind == MT_REDIS_REDIRECT_MOVED ||
	     kind == MT_REDIS_REDIRECT_ASK) &&
	    atomic_cross_slot(c, u, &rd))
		handled = 1;
	else if (kind == MT_REDIS_REDIRECT_MOVED ||
		 kind == MT_REDIS_REDIRECT_ASK)
		handled = follow(c, k, &rd, asked) || retry_later(c, k, 1);
	else if (kind == MT_REDIS_REDIRECT_TRYAGAIN)
		handled = retry_later(c, k, 0);
	else if (kind == MT_REDIS_REDIRECT_CLUSTERDOWN || not_sent(sr))
		handled = retry_later(c, k, 1);
	else if (sr->status == MT_REDIS_UNKNOWN && replay_ok(c, u) &&
		 retry_later(c, k, 1))
		handled = u->replayed = 1;
	if (!handled)
		finish_unit(c, u, sr);
	if (!handled && kind == MT_REDIS_REDIRECT_NONE && !unit_atomic(c, u))
		explain_partial(c, u, u->out);
}

/* ------------------------------------------------------------ rounds */

/* Unit k's node this round, from the map unless a redirect named one;
 * NO_NODE when no master is known for its slot. */
static unsigned route(struct call *c, struct unit *u)
{
	unsigned slot = u->slot != NO_SLOT ? u->slot : u->item % MT_REDIS_SLOTS;

	if (u->target == MT_REDIS_NO_NODE)
		u->target = (uint16_t)mt__redis_slotmap_owner(c->rt->map, slot);
	return u->target;
}

/* A unit no master serves: waits for the map to learn one, else fails. */
static void no_owner(struct call *c, size_t k)
{
	struct unit *u = &c->u[k];
	mt_redis_result failed = {.status = MT_REDIS_FAILED};

	if (retry_later(c, k, 1))
		return;
	failed.error = mt__redis_store_text(
		rstore(c),
		MT__REDIS_NOT_SENT "no master serves hash slot %u "
				   "(CLUSTER SLOTS leaves it out)",
		u->slot != NO_SLOT ? u->slot : (unsigned)(u->item % 16384));
	u->ask = 0;
	finish_unit(c, u, &failed);
}

/* A round's units sorted by node: group gi is order[start[gi] ..
 * start[gi + 1]), all for node[gi], with its view, engine group and
 * results. */
struct round {
	size_t *order, *start;
	unsigned *node;
	struct gsrc *views;
	struct mt__redis_group *g;
	mt_redis_result *sub; /* parallel to order */
	size_t n, ng;
};

static void round_free(struct round *rd)
{
	free(rd->order);
	free(rd->start);
	free(rd->node);
	free(rd->views);
	free(rd->g);
	free(rd->sub);
}

static int round_alloc(struct round *rd, size_t n)
{
	size_t m = n ? n : 1;

	rd->order = malloc(m * sizeof *rd->order);
	rd->start = malloc((m + 1) * sizeof *rd->start);
	rd->node = malloc(m * sizeof *rd->node);
	rd->views = calloc(m, sizeof *rd->views);
	rd->g = calloc(m, sizeof *rd->g);
	rd->sub = calloc(m, sizeof *rd->sub);
	return rd->order && rd->start && rd->node && rd->views && rd->g &&
			       rd->sub ?
		       0 :
		       ENOMEM;
}

/* Sorts the routed units todo[0, n) by node into rd (a counting sort over
 * node ids, so each group keeps the caller's order). */
static int group_units(struct call *c, const size_t *todo, size_t n,
		       struct round *rd)
{
	unsigned nn = mt__redis_slotmap_node_count(c->rt->map);
	size_t *at = calloc((size_t)nn + 1, sizeof *at);

	if (!at)
		return ENOMEM;
	for (size_t i = 0; i < n; i++)
		at[c->u[todo[i]].target + 1]++;
	for (unsigned id = 0; id < nn; id++) {
		if (at[id + 1]) {
			rd->node[rd->ng] = id;
			rd->start[rd->ng++] = at[id];
		}
		at[id + 1] += at[id];
	}
	rd->start[rd->ng] = n;
	for (size_t i = 0; i < n; i++)
		rd->order[at[c->u[todo[i]].target]++] = todo[i];
	rd->n = n;
	free(at);
	return 0;
}

static void view_init(struct call *c, struct gsrc *v, const size_t *idx,
		      size_t n)
{
	v->c = c;
	v->idx = idx;
	v->src = (struct mt__redis_source){
		.n = n,
		.ctx = v,
		.ncmds = g_ncmds,
		.flags = g_flags,
		.weight = g_weight,
		/* For planning shares only: item weights come from g_weight. */
		.fixed_weight = c->src->fixed_weight,
		.format = g_format};
}

/* The groups' sources and nodes; a node whose cache cannot be made
 * leaves its units FAILED (never sent). */
static void build_groups(struct call *c, struct round *rd)
{
	for (size_t gi = 0; gi < rd->ng; gi++) {
		size_t lo = rd->start[gi], hi = rd->start[gi + 1];
		view_init(c, &rd->views[gi], rd->order + lo, hi - lo);
		rd->g[gi].src = &rd->views[gi].src;
		rd->g[gi].res = rd->sub + lo;
		if (node_of(c->rt, rd->node[gi], &rd->g[gi].node) == 0)
			continue;
		for (size_t k = lo; k < hi; k++)
			rd->sub[k] = (mt_redis_result){
				.status = MT_REDIS_FAILED, .error = unsent_oom};
		rd->views[gi].src.n = 0;
		rd->g[gi].node = &c->r->node;
	}
}

/* Routes the pending units into todo; those without an owner wait or
 * fail. Returns how many were routed. */
static size_t route_pending(struct call *c, size_t *todo)
{
	size_t nround = c->npending, n = 0;

	memcpy(todo, c->pending, nround * sizeof *todo);
	c->npending = 0;
	c->wait = 0;
	for (size_t i = 0; i < nround; i++) {
		if (route(c, &c->u[todo[i]]) == MT_REDIS_NO_NODE)
			no_owner(c, todo[i]);
		else
			todo[n++] = todo[i];
	}
	return n;
}

/* One round over the pending units. Returns 0, or the engine's error
 * (then nothing of this round was sent: its units are pending again). */
static int run_round(struct call *c, size_t *todo)
{
	struct round rd = {0};
	size_t n;
	int rc;

	/* Read before routing: a refresh by anyone after this point makes
	 * this round's MOVED replies stale news (refresh checks it). */
	c->gen = mt__redis_slotmap_generation(c->rt->map);
	n = route_pending(c, todo);
	rc = round_alloc(&rd, n);
	if (rc == 0)
		rc = group_units(c, todo, n, &rd);
	if (rc == 0) {
		build_groups(c, &rd);
		rc = mt__redis_engine_run_groups(c->r, rd.g, rd.ng, c->b, 0);
	}
	for (size_t gi = 0; rc == 0 && gi < rd.ng; gi++)
		for (size_t k = rd.start[gi]; k < rd.start[gi + 1]; k++)
			classify(c, rd.order[k], &rd.sub[k], rd.node[gi]);
	if (rc) {
		memcpy(c->pending + c->npending, todo, n * sizeof *todo);
		c->npending += n;
	}
	round_free(&rd);
	return rc;
}

/* --------------------------------------------------- split items */

/* Merges a unit's outcome into its item's: UNKNOWN over FAILED over
 * DONE, the first error of each kind kept. */
static void merge_status(mt_redis_result *o, const mt_redis_result *uo)
{
	if (uo->status == MT_REDIS_UNKNOWN && o->status != MT_REDIS_UNKNOWN) {
		o->status = MT_REDIS_UNKNOWN;
		o->error = uo->error;
	} else if (uo->status == MT_REDIS_FAILED &&
		   o->status == MT_REDIS_DONE) {
		o->status = MT_REDIS_FAILED;
		o->error = uo->error;
	}
}

/* Units [first, last) are the split units of one item: its result gets
 * their replies back in command order. */
static void assemble(struct call *c, size_t first, size_t last)
{
	size_t item = c->u[first].item, n = src_ncmds(c->src, item), have = 0;
	const redisReply **rep =
		mt__redis_store_alloc(rstore(c), n * sizeof *rep);
	mt_redis_result *o = &c->res[item];

	*o = (mt_redis_result){.status = MT_REDIS_DONE};
	for (size_t k = first; k < last; k++) {
		const struct unit *u = &c->u[k];
		merge_status(o, u->out);
		for (size_t j = 0; rep && j < u->out->nreplies; j++)
			rep[c->cmdv[u->cmd0 + j]] = u->out->replies[j];
	}
	if (!rep) {
		o->status = MT_REDIS_FAILED;
		o->error = "out of memory in the client: a reply could not be "
			   "kept";
		return;
	}
	/* "As far as they arrived": the replies before the first gap. */
	while (have < n && rep[have])
		have++;
	o->replies = rep;
	o->nreplies = have;
	o->reply = o->status == MT_REDIS_DONE ? rep[n - 1] : NULL;
}

static void assemble_all(struct call *c)
{
	for (size_t k = 0; k < c->nu;) {
		size_t end = k + 1;
		if (!c->u[k].split) {
			k++;
			continue;
		}
		while (end < c->nu && c->u[end].split &&
		       c->u[end].item == c->u[k].item)
			end++;
		assemble(c, k, end);
		k = end;
	}
}

/* ------------------------------------------------------------ a call */

static void count_items(struct call *c)
{
	uint64_t n[3] = {0, 0, 0};

	for (size_t i = 0; i < c->src->n; i++)
		n[c->res[i].status]++;
	mt__redis_count(&c->r->stats.items_done, n[MT_REDIS_DONE]);
	mt__redis_count(&c->r->stats.items_failed, n[MT_REDIS_FAILED]);
	mt__redis_count(&c->r->stats.items_unknown, n[MT_REDIS_UNKNOWN]);
}

/* Every item's outcome is final: the source's settled, in item order. */
static void settle_all(struct call *c)
{
	for (size_t i = 0; c->src->settled && i < c->src->n; i++)
		c->src->settled(c->src->ctx, i, &c->res[i]);
}

/* Every item FAILED, never sent: the map could not be read. */
static void fail_all(struct call *c, const char *why)
{
	const char *text =
		mt__redis_store_text(rstore(c), MT__REDIS_NOT_SENT "%s", why);

	for (size_t i = 0; i < c->src->n; i++)
		fail_item(c, i, text);
}

/* The pause and the refresh that the last round asked for. */
static void between_rounds(struct call *c)
{
	char why[MT_REDIS_ERRLEN];

	if (c->wait) {
		unsigned ms = c->backoff ? c->backoff : MT__REDIS_BACKOFF_MS;
		struct timespec t = {.tv_sec = ms / 1000,
				     .tv_nsec = (long)(ms % 1000) * 1000000};
		nanosleep(&t, NULL);
		c->backoff = ms * 2 < MT__REDIS_BACKOFF_MAX_MS ?
				     ms * 2 :
				     MT__REDIS_BACKOFF_MAX_MS;
	}
	if (c->need_refresh)
		refresh(c->rt, c->gen, c->prefer, why, sizeof why);
	c->need_refresh = 0;
	c->prefer = MT_REDIS_NO_NODE;
}

/* The rounds, until every unit is final. The first round's engine error
 * is the call's (nothing was sent); a later one fails what is left. */
static int rounds(struct call *c)
{
	size_t *todo = malloc((c->nu ? c->nu : 1) * sizeof *todo);
	int first = 1, rc = todo ? 0 : ENOMEM;

	while (rc == 0 && c->npending > 0) {
		if (!first)
			between_rounds(c);
		rc = run_round(c, todo);
		if (rc && !first) {
			mt_redis_result failed = {
				.status = MT_REDIS_FAILED,
				.error = mt__redis_store_text(
					rstore(c), MT__REDIS_NOT_SENT "%s",
					mt_strerror(rc))};
			for (size_t i = 0; i < c->npending; i++)
				finish_unit(c, &c->u[c->pending[i]], &failed);
			c->npending = 0;
			rc = 0;
		}
		first = 0;
	}
	free(todo);
	return rc;
}

static void call_free(struct call *c)
{
	free(c->u);
	free(c->cmdv);
	free(c->split_res);
	free(c->pending);
	mt__redis_buf_free(&c->scratch);
}

int mt__redis_router_run(mt_redis *r, const struct mt__redis_source *src,
			 mt_redis_result *res, struct mt__redis_batch *b)
{
	struct call c = {.r = r,
			 .rt = r->router,
			 .src = src,
			 .res = res,
			 .b = b,
			 .prefer = MT_REDIS_NO_NODE};
	char why[MT_REDIS_ERRLEN];
	int rc;

	if (src->n == 0)
		return 0;
	if (mt__redis_batch_stores(b, 1) != 0)
		return ENOMEM;
	c.store = b->nstores - 1;
	if (mt__redis_slotmap_generation(c.rt->map) == 0 &&
	    refresh(c.rt, 0, MT_REDIS_NO_NODE, why, sizeof why) != 0 &&
	    mt__redis_slotmap_generation(c.rt->map) == 0) {
		fail_all(&c, why);
		count_items(&c);
		settle_all(&c);
		return 0;
	}
	rc = plan(&c);
	if (rc == 0)
		rc = rounds(&c);
	if (rc == 0) {
		assemble_all(&c);
		count_items(&c);
		settle_all(&c);
	}
	call_free(&c);
	return rc;
}

size_t mt__redis_router_masters(mt_redis *r, struct mt__redis_node **nodes,
				size_t cap, int *err)
{
	struct mt__redis_router *rt = r->router;
	unsigned *ids = malloc((cap ? cap : 1) * sizeof *ids);
	char why[MT_REDIS_ERRLEN];
	size_t n = 0;

	*err = ids ? 0 : ENOMEM;
	if (ids && mt__redis_slotmap_generation(rt->map) == 0)
		*err = refresh(rt, 0, MT_REDIS_NO_NODE, why, sizeof why);
	if (ids && mt__redis_slotmap_generation(rt->map) != 0)
		*err = 0;
	for (unsigned s = 0; *err == 0 && s < MT_REDIS_SLOTS && n < cap; s++) {
		unsigned id = mt__redis_slotmap_owner(rt->map, s);
		int seen = id == MT_REDIS_NO_NODE;
		for (size_t k = n; k-- > 0 && !seen;)
			seen = ids[k] == id;
		if (!seen)
			ids[n++] = id;
	}
	for (size_t k = 0; *err == 0 && k < n; k++)
		*err = node_of(rt, ids[k], &nodes[k]);
	free(ids);
	return *err ? 0 : n;
}

/* ------------------------------------------------ multi-key chunks */

/* The chunks of a slot-sorted perm: a new one at each slot change and
 * every `chunk` keys. With start NULL, only counts them. */
static size_t cut_chunks(const uint16_t *slot, const size_t *perm, size_t n,
			 size_t chunk, size_t *start)
{
	size_t nc = 0, in = 0;

	for (size_t k = 0; k < n; k++) {
		int fresh = k == 0 || in == chunk ||
			    slot[perm[k]] != slot[perm[k - 1]];
		if (fresh) {
			if (start)
				start[nc] = k;
			nc++;
			in = 0;
		}
		in++;
	}
	if (start)
		start[nc] = n;
	return nc;
}

int mt__redis_router_chunks(const mt_redis_bytes *keys, size_t n, size_t chunk,
			    size_t **perm, size_t **start, size_t *nchunks)
{
	uint16_t *slot = malloc((n ? n : 1) * sizeof *slot);
	size_t *at = calloc(MT_REDIS_SLOTS + 1, sizeof *at);
	size_t *p = malloc((n ? n : 1) * sizeof *p), *st = NULL;
	int rc = slot && at && p ? 0 : ENOMEM;

	for (size_t j = 0; rc == 0 && j < n; j++) {
		slot[j] = (uint16_t)mt__redis_slot(keys[j].data, keys[j].len);
		at[slot[j] + 1]++;
	}
	for (unsigned s = 0; rc == 0 && s < MT_REDIS_SLOTS; s++)
		at[s + 1] += at[s];
	for (size_t j = 0; rc == 0 && j < n; j++)
		p[at[slot[j]]++] = j; /* stable: a slot's keys keep order */
	size_t nc = rc ? 0 : cut_chunks(slot, p, n, chunk, NULL);
	if (rc == 0 && !(st = malloc((nc + 1) * sizeof *st)))
		rc = ENOMEM;
	if (rc == 0)
		cut_chunks(slot, p, n, chunk, st);
	free(slot);
	free(at);
	if (rc) {
		free(p);
		return rc;
	}
	*perm = p;
	*start = st;
	*nchunks = nc;
	return 0;
}

/* ------------------------------------------- the map with a connection */

/* A keyed map: items sorted by node (order[], node id of item i in
 * node[i]), each participant walking a range of that order. */
struct kmap {
	mt_redis *r;
	void *(*fn)(redisContext *c, void *param, void *ctx);
	void *const *params;
	void **results;
	void *ctx;
	const size_t *order;
	const uint16_t *node;
	/* Relaxed: read by the caller after mt_for_range returns, which
	 * orders every participant's writes before that. */
	_Atomic size_t not_run;
	_Atomic int first_err;
};

static void kmap_skip(struct kmap *m, size_t i, int err)
{
	int none = 0;
	m->results[i] = NULL;
	atomic_fetch_add_explicit(&m->not_run, 1, memory_order_relaxed);
	atomic_compare_exchange_strong_explicit(&m->first_err, &none, err,
						memory_order_relaxed,
						memory_order_relaxed);
}

/* The connection for node id, switching from the current one. Returns 0,
 * or the error that makes the node unreachable for this range. */
static int kmap_switch(struct kmap *m, unsigned id, struct mt__redis_node **cur,
		       redisContext **c)
{
	char why[MT_REDIS_ERRLEN];
	int fresh, rc;

	mt__redis_node_release(*cur, *c);
	*c = NULL;
	*cur = NULL;
	if (id == MT_REDIS_NO_NODE)
		return EHOSTUNREACH;
	rc = node_of(m->r->router, id, cur);
	if (rc == 0)
		rc = mt__redis_node_acquire(*cur, c, &fresh, why, sizeof why);
	return rc;
}

static void kmap_range(size_t lo, size_t hi, void *arg)
{
	struct kmap *m = arg;
	struct mt__redis_sigpipe guard;
	struct mt__redis_node *cur = NULL;
	redisContext *c = NULL;
	unsigned at = MT_REDIS_NO_NODE + 1; /* no node yet */
	int down = 0, io_failed = 0;

	mt__redis_sigpipe_block(&guard);
	for (size_t p = lo; p < hi; p++) {
		size_t i = m->order[p];
		if (m->node[i] != at || (!c && !down)) {
			at = m->node[i];
			down = kmap_switch(m, at, &cur, &c);
		}
		if (down) {
			kmap_skip(m, i, down);
			continue;
		}
		m->results[i] = m->fn(c, m->params[i], m->ctx);
		if (c->err) {
			io_failed = 1;
			mt__redis_node_release(cur, c);
			c = NULL;
		}
	}
	mt__redis_node_release(cur, c);
	mt__redis_sigpipe_restore(&guard, io_failed);
}

/* order[] = items sorted by their owner's id (counting sort: stable). */
static int kmap_plan(struct mt__redis_router *rt, const mt_redis_bytes *keys,
		     size_t n, size_t *order, uint16_t *node)
{
	unsigned nn = mt__redis_slotmap_node_count(rt->map) + 1;
	size_t *at = calloc((size_t)nn + 1, sizeof *at);

	if (!at)
		return ENOMEM;
	for (size_t i = 0; i < n; i++) {
		unsigned id = mt__redis_slotmap_owner(
			rt->map, mt__redis_slot(keys[i].data, keys[i].len));
		/* No owner sorts last, as id nn - 1. */
		node[i] = (uint16_t)(id == MT_REDIS_NO_NODE ? nn - 1 : id);
		at[node[i] + 1]++;
	}
	for (unsigned k = 0; k < nn; k++)
		at[k + 1] += at[k];
	for (size_t i = 0; i < n; i++)
		order[at[node[i]]++] = i;
	for (size_t i = 0; i < n; i++)
		if (node[i] == nn - 1)
			node[i] = MT_REDIS_NO_NODE;
	free(at);
	return 0;
}

static int keys_ok(const mt_redis_bytes *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!keys[i].data && keys[i].len)
			return 0;
	return 1;
}

/* The map must have been read once; 0 or the reason it cannot be. */
static int ensure_map(struct mt__redis_router *rt)
{
	char why[MT_REDIS_ERRLEN];
	int rc = 0;

	if (mt__redis_slotmap_generation(rt->map) == 0)
		rc = refresh(rt, 0, MT_REDIS_NO_NODE, why, sizeof why);
	return mt__redis_slotmap_generation(rt->map) ? 0 : rc ? rc : EIO;
}

static int kmap_run(mt_redis *r, struct kmap *m, const mt_redis_bytes *keys,
		    size_t n, size_t *not_run)
{
	size_t *order = malloc(n * sizeof *order);
	uint16_t *node = malloc(n * sizeof *node);
	int rc = order && node ? ensure_map(r->router) : ENOMEM;

	if (rc == 0)
		rc = kmap_plan(r->router, keys, n, order, node);
	if (rc && rc != ENOMEM) {
		/* No map: nothing can run (as mt_redis_map, no connection). */
		for (size_t i = 0; i < n; i++)
			m->results[i] = NULL;
		if (not_run)
			*not_run = n;
	}
	m->order = order;
	m->node = node;
	if (rc == 0)
		rc = mt_for_range(r->pool, n, kmap_range, m);
	if (rc == 0 && not_run)
		*not_run =
			atomic_load_explicit(&m->not_run, memory_order_relaxed);
	if (rc == 0)
		rc = atomic_load_explicit(&m->first_err, memory_order_relaxed);
	free(order);
	free(node);
	return rc;
}

int mt_redis_map_keyed(mt_redis *r,
		       void *(*fn)(redisContext *c, void *param, void *ctx),
		       void *const *params, const mt_redis_bytes *keys,
		       void **results, size_t n, void *ctx, size_t *not_run)
{
	if (not_run)
		*not_run = 0;
	if (!r || !fn || (n && (!params || !results || !keys)) ||
	    (n && !keys_ok(keys, n)))
		return EINVAL;
	if (!r->router)
		return mt_redis_map(r, fn, params, results, n, ctx, not_run);
	int rc = mt__redis_usable(r);
	if (rc || n == 0)
		return rc;
	struct kmap m = {.r = r,
			 .fn = fn,
			 .params = params,
			 .results = results,
			 .ctx = ctx};
	return kmap_run(r, &m, keys, n, not_run);
}
