/*
 * redis/slotmap.c: the CLUSTER SLOTS parser and the live slot map (see
 * slotmap.h for the design and the orderings).
 */
#include "slotmap.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redirect.h"

/* ================================================== CLUSTER SLOTS parser */

static int fail(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t whylen, const char *fmt, ...)
{
	if (why && whylen > 0) {
		int n = snprintf(why, whylen, "CLUSTER SLOTS reply: ");
		va_list ap;
		va_start(ap, fmt);
		if (n >= 0 && (size_t)n < whylen)
			vsnprintf(why + n, whylen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return EINVAL;
}

/* Where the parser is, for the reasons it gives. */
struct parse_ctx {
	char *why;
	size_t whylen;
	size_t range, node; /* indices in the reply, from 0 */
};

static int is_int_in(const redisReply *r, long long lo, long long hi)
{
	return r->type == REDIS_REPLY_INTEGER && r->integer >= lo &&
	       r->integer <= hi;
}

/* The value of the "ip" entry of a Redis 7 metadata array, or NULL. */
static const redisReply *metadata_ip(const redisReply *node)
{
	const redisReply *md;

	if (node->elements < 4 || node->element[3]->type != REDIS_REPLY_ARRAY)
		return NULL;
	md = node->element[3];
	for (size_t i = 0; i + 1 < md->elements; i += 2) {
		const redisReply *k = md->element[i], *v = md->element[i + 1];
		if (k->type == REDIS_REPLY_STRING && k->len == 2 &&
		    memcmp(k->str, "ip", 2) == 0 &&
		    v->type == REDIS_REPLY_STRING)
			return v;
	}
	return NULL;
}

/* The host of a node entry: NULL (the asked host) for an empty or NULL
 * endpoint, the metadata's ip for "?", else the endpoint itself. */
static int parse_host(const struct parse_ctx *c, const redisReply *node,
		      struct mt_redis_endpoint *e)
{
	const redisReply *h = node->element[0];

	if (h->type == REDIS_REPLY_NIL ||
	    (h->type == REDIS_REPLY_STRING && h->len == 0))
		return 0; /* e->host stays NULL */
	if (h->type != REDIS_REPLY_STRING)
		return fail(c->why, c->whylen,
			    "range %zu node %zu: endpoint is not a string",
			    c->range, c->node);
	if (h->len == 1 && h->str[0] == '?') {
		h = metadata_ip(node);
		if (!h || h->len == 0)
			return fail(c->why, c->whylen,
				    "range %zu node %zu: endpoint '?' and no "
				    "ip in its metadata",
				    c->range, c->node);
	}
	if (!mt__redis_host_ok(h->str, h->len) ||
	    (h->len == 1 && h->str[0] == '?'))
		return fail(c->why, c->whylen,
			    "range %zu node %zu: endpoint is not a host name "
			    "or address",
			    c->range, c->node);
	e->host = h->str;
	e->hostlen = h->len;
	return 0;
}

static int parse_node(const struct parse_ctx *c, const redisReply *node,
		      struct mt_redis_endpoint *e)
{
	if (node->type != REDIS_REPLY_ARRAY || node->elements < 2)
		return fail(c->why, c->whylen,
			    "range %zu node %zu: not an array of endpoint and "
			    "port",
			    c->range, c->node);
	if (!is_int_in(node->element[1], 1, 65535))
		return fail(c->why, c->whylen,
			    "range %zu node %zu: port is not 1..65535",
			    c->range, c->node);
	e->port = (int)node->element[1]->integer;
	e->host = NULL;
	e->hostlen = 0;
	return parse_host(c, node, e);
}

/* Marks first..last in `seen`; EINVAL if a slot was already claimed. */
static int claim(const struct parse_ctx *c, uint8_t *seen, unsigned first,
		 unsigned last)
{
	for (unsigned s = first; s <= last; s++) {
		if (seen[s / 8] & (1u << (s % 8)))
			return fail(c->why, c->whylen,
				    "range %zu: slot %u is claimed twice",
				    c->range, s);
		seen[s / 8] |= (uint8_t)(1u << (s % 8));
	}
	return 0;
}

static int parse_range(struct parse_ctx *c, const redisReply *r, uint8_t *seen,
		       struct mt_redis_slot_range *out,
		       struct mt_redis_endpoint *nodes)
{
	/* The count pass checked the type and that there are >= 3 elements. */
	if (!is_int_in(r->element[0], 0, MT_REDIS_SLOTS - 1) ||
	    !is_int_in(r->element[1], 0, MT_REDIS_SLOTS - 1))
		return fail(c->why, c->whylen,
			    "range %zu: slot bounds are not integers in "
			    "0..16383",
			    c->range);
	out->first = (unsigned)r->element[0]->integer;
	out->last = (unsigned)r->element[1]->integer;
	if (out->first > out->last)
		return fail(c->why, c->whylen, "range %zu: %u-%u is inverted",
			    c->range, out->first, out->last);
	out->nodes = nodes;
	out->nnodes = r->elements - 2;
	for (c->node = 0; c->node < out->nnodes; c->node++) {
		int rc =
			parse_node(c, r->element[2 + c->node], &nodes[c->node]);
		if (rc != 0)
			return rc;
	}
	return claim(c, seen, out->first, out->last);
}

/* First pass: every range is an array of >= 3 elements; counts nodes. */
static int count_nodes(struct parse_ctx *c, const redisReply *reply,
		       size_t *total)
{
	*total = 0;
	for (c->range = 0; c->range < reply->elements; c->range++) {
		const redisReply *r = reply->element[c->range];
		if (r->type != REDIS_REPLY_ARRAY || r->elements < 3)
			return fail(c->why, c->whylen,
				    "range %zu: not an array of first, last "
				    "and at least one node",
				    c->range);
		if (r->elements - 2 > SIZE_MAX / 2 - *total)
			return fail(c->why, c->whylen, "too many nodes");
		*total += r->elements - 2;
	}
	return 0;
}

static int check_top(struct parse_ctx *c, const redisReply *reply)
{
	if (!reply)
		return fail(c->why, c->whylen, "none");
	if (reply->type == REDIS_REPLY_ERROR)
		return fail(c->why, c->whylen, "the node answered \"%.120s\"",
			    reply->str ? reply->str : "");
	if (reply->type != REDIS_REPLY_ARRAY)
		return fail(c->why, c->whylen, "not an array (type %d)",
			    reply->type);
	return 0;
}

/* One allocation for the ranges and, after them, every endpoint. */
static int alloc_ranges(struct mt_redis_slots *out, size_t nranges,
			size_t nnodes, struct mt_redis_endpoint **nodes)
{
	size_t head = nranges * sizeof *out->ranges;
	size_t pad = (_Alignof(struct mt_redis_endpoint) -
		      head % _Alignof(struct mt_redis_endpoint)) %
		     _Alignof(struct mt_redis_endpoint);

	if (nnodes > (SIZE_MAX - head - pad) / sizeof **nodes)
		return ENOMEM;
	char *block = malloc(head + pad + nnodes * sizeof **nodes + 1);
	if (!block)
		return ENOMEM;
	out->ranges = (struct mt_redis_slot_range *)(void *)block;
	*nodes = (struct mt_redis_endpoint *)(void *)(block + head + pad);
	return 0;
}

static int parse_ranges(struct parse_ctx *c, const redisReply *reply,
			struct mt_redis_slots *out,
			struct mt_redis_endpoint *nodes)
{
	uint8_t seen[MT_REDIS_SLOTS / 8] = {0};

	for (c->range = 0; c->range < reply->elements; c->range++) {
		struct mt_redis_slot_range *r = &out->ranges[c->range];
		int rc = parse_range(c, reply->element[c->range], seen, r,
				     nodes);
		if (rc != 0)
			return rc;
		nodes += r->nnodes;
		out->covered += r->last - r->first + 1;
		out->nranges++;
	}
	return 0;
}

int mt__redis_slots_parse(const redisReply *reply, struct mt_redis_slots *out,
			  char *why, size_t whylen)
{
	struct parse_ctx c = {.why = why, .whylen = whylen};
	struct mt_redis_endpoint *nodes;
	size_t nnodes;
	int rc;

	memset(out, 0, sizeof *out);
	if (why && whylen > 0)
		why[0] = '\0';
	rc = check_top(&c, reply);
	if (rc == 0)
		rc = count_nodes(&c, reply, &nnodes);
	if (rc == 0)
		rc = alloc_ranges(out, reply->elements, nnodes, &nodes);
	if (rc == 0)
		rc = parse_ranges(&c, reply, out, nodes);
	if (rc != 0)
		mt__redis_slots_free(out);
	return rc;
}

void mt__redis_slots_free(struct mt_redis_slots *s)
{
	free(s->ranges);
	memset(s, 0, sizeof *s);
}

/* ========================================================== the live map */

#define NSEGS (MT_REDIS_NO_NODE / MT_REDIS_NODE_SEG + 1)
/* Buckets of the address index: a refresh interns every node of the
 * reply, so lookups must not scan the whole registry. */
#define NBUCKETS 1024u

struct mt_redis_slotmap {
	/* A: a node id, or MT_REDIS_NO_NODE. Stored with release (after
	 * the node's publication), loaded with acquire by readers. */
	_Atomic uint16_t owner[MT_REDIS_SLOTS];
	/* A: installs so far; written under lock with release. */
	_Atomic uint64_t generation;
	/* A: ids given out; written under lock with release after the node
	 * and its segment are in place (the publication of both). */
	_Atomic unsigned nnodes;
	/* M to write, then I: segments of node pointers. An entry (and the
	 * segment holding it) is written under lock before nnodes covers it
	 * and never changed after; readers reach it only through an acquire
	 * of nnodes or of an owner that follows. */
	struct mt_redis_node **segs[NSEGS];
	pthread_mutex_t lock;
	uint16_t bucket[NBUCKETS]; /* M: first id of each hash chain */
	unsigned *replicas;	   /* M: replicas of the last install */
	size_t nreplicas;	   /* M */
};

/* FNV-1a of the host and the port, folded to a bucket. */
static unsigned bucket_of(const char *host, int port)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const void *)host; *p; p++)
		h = (h ^ *p) * 16777619u;
	h = (h ^ (uint32_t)port) * 16777619u;
	return h % NBUCKETS;
}

static struct mt_redis_node *node_at(const struct mt_redis_slotmap *m,
				     unsigned id)
{
	return m->segs[id / MT_REDIS_NODE_SEG][id % MT_REDIS_NODE_SEG];
}

int mt__redis_slotmap_create(struct mt_redis_slotmap **out)
{
	struct mt_redis_slotmap *m = calloc(1, sizeof *m);
	int rc;

	*out = NULL;
	if (!m)
		return ENOMEM;
	rc = pthread_mutex_init(&m->lock, NULL);
	if (rc != 0) {
		free(m);
		return rc;
	}
	for (unsigned s = 0; s < MT_REDIS_SLOTS; s++)
		atomic_init(&m->owner[s], MT_REDIS_NO_NODE);
	for (unsigned b = 0; b < NBUCKETS; b++)
		m->bucket[b] = MT_REDIS_NO_NODE;
	atomic_init(&m->generation, 0);
	atomic_init(&m->nnodes, 0);
	*out = m;
	return 0;
}

void mt__redis_slotmap_destroy(struct mt_redis_slotmap *m)
{
	if (!m)
		return;
	/* relaxed: the caller guarantees no reader or writer is left. */
	unsigned n = atomic_load_explicit(&m->nnodes, memory_order_relaxed);
	for (unsigned id = 0; id < n; id++)
		free(node_at(m, id));
	for (unsigned i = 0; i < NSEGS; i++)
		free(m->segs[i]);
	free(m->replicas);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

unsigned mt__redis_slotmap_owner(const struct mt_redis_slotmap *m,
				 unsigned slot)
{
	/* acquire: pairs with the release store of the owner in install /
	 * moved, so the node it names is visible (slotmap.h, Orderings). */
	return atomic_load_explicit(&m->owner[slot], memory_order_acquire);
}

const struct mt_redis_node *
mt__redis_slotmap_node(const struct mt_redis_slotmap *m, unsigned id)
{
	/* acquire: pairs with the release store of nnodes in intern, which
	 * follows the writes of the node and of its segment entry. */
	if (id >= atomic_load_explicit(&m->nnodes, memory_order_acquire))
		return NULL;
	return node_at(m, id);
}

unsigned mt__redis_slotmap_node_count(const struct mt_redis_slotmap *m)
{
	/* acquire: as in mt__redis_slotmap_node. */
	return atomic_load_explicit(&m->nnodes, memory_order_acquire);
}

uint64_t mt__redis_slotmap_generation(const struct mt_redis_slotmap *m)
{
	/* acquire: pairs with the release increment at the end of install,
	 * so the owners that install stored are visible to the caller. */
	return atomic_load_explicit(&m->generation, memory_order_acquire);
}

/* ---------------------------------------------- writers (under m->lock) */

static unsigned find_locked(const struct mt_redis_slotmap *m, const char *host,
			    int port)
{
	unsigned id = m->bucket[bucket_of(host, port)];

	while (id != MT_REDIS_NO_NODE) {
		const struct mt_redis_node *node = node_at(m, id);
		if (node->port == port && strcmp(node->host, host) == 0)
			return id;
		id = node->next;
	}
	return MT_REDIS_NO_NODE;
}

static struct mt_redis_node *node_new(unsigned id, const char *host,
				      size_t hostlen, int port)
{
	struct mt_redis_node *n = malloc(sizeof *n + hostlen + 1);

	if (!n)
		return NULL;
	n->id = id;
	n->next = MT_REDIS_NO_NODE;
	n->port = port;
	memcpy(n->host, host, hostlen + 1);
	return n;
}

static int add_locked(struct mt_redis_slotmap *m, const char *host,
		      size_t hostlen, int port, unsigned *id)
{
	/* relaxed: under the lock, see find_locked. */
	unsigned n = atomic_load_explicit(&m->nnodes, memory_order_relaxed);

	if (n >= MT_REDIS_MAX_NODES)
		return ENOSPC;
	struct mt_redis_node ***seg = &m->segs[n / MT_REDIS_NODE_SEG];
	if (!*seg && !(*seg = calloc(MT_REDIS_NODE_SEG, sizeof **seg)))
		return ENOMEM;
	struct mt_redis_node *node = node_new(n, host, hostlen, port);
	if (!node)
		return ENOMEM;
	unsigned b = bucket_of(host, port);
	node->next = m->bucket[b];
	m->bucket[b] = (uint16_t)n;
	(*seg)[n % MT_REDIS_NODE_SEG] = node;
	/* release: publishes the node and its segment; pairs with the
	 * acquire loads of nnodes in mt__redis_slotmap_node / _node_count. */
	atomic_store_explicit(&m->nnodes, n + 1, memory_order_release);
	*id = n;
	return 0;
}

static int intern_locked(struct mt_redis_slotmap *m, const char *host, int port,
			 unsigned *id)
{
	size_t hostlen = host ? strlen(host) : 0;

	if (hostlen == 0 || !mt__redis_host_ok(host, hostlen) || port < 1 ||
	    port > 65535)
		return EINVAL;
	*id = find_locked(m, host, port);
	if (*id != MT_REDIS_NO_NODE)
		return 0;
	return add_locked(m, host, hostlen, port, id);
}

int mt__redis_slotmap_intern(struct mt_redis_slotmap *m, const char *host,
			     int port, unsigned *id)
{
	pthread_mutex_lock(&m->lock);
	int rc = intern_locked(m, host, port, id);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

unsigned mt__redis_slotmap_find(struct mt_redis_slotmap *m, const char *host,
				int port)
{
	pthread_mutex_lock(&m->lock);
	unsigned id = find_locked(m, host, port);
	pthread_mutex_unlock(&m->lock);
	return id;
}

static void set_owner_locked(struct mt_redis_slotmap *m, unsigned slot,
			     uint16_t id)
{
	/* relaxed load: only writers (serialised by the lock) store here.
	 * release store: the node named by id was published before; pairs
	 * with the acquire in mt__redis_slotmap_owner. */
	if (atomic_load_explicit(&m->owner[slot], memory_order_relaxed) != id)
		atomic_store_explicit(&m->owner[slot], id,
				      memory_order_release);
}

int mt__redis_slotmap_moved(struct mt_redis_slotmap *m, unsigned slot,
			    const char *host, int port, unsigned *id)
{
	if (slot >= MT_REDIS_SLOTS)
		return EINVAL;
	pthread_mutex_lock(&m->lock);
	int rc = intern_locked(m, host, port, id);
	if (rc == 0)
		set_owner_locked(m, slot, (uint16_t)*id);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

/* The registered id of an endpoint of a CLUSTER SLOTS reply. */
static int intern_endpoint_locked(struct mt_redis_slotmap *m,
				  const struct mt_redis_endpoint *e,
				  const char *asked_host, unsigned *id)
{
	char buf[MT_REDIS_HOST_MAX];

	if (!e->host)
		return intern_locked(m, asked_host, e->port, id);
	if (e->hostlen >= sizeof buf)
		return EINVAL;
	memcpy(buf, e->host, e->hostlen);
	buf[e->hostlen] = '\0';
	return intern_locked(m, buf, e->port, id);
}

/* What an install will write: the new owners and replica list. */
struct plan {
	uint16_t *owner;
	unsigned *replicas;
	size_t nreplicas;
};

static void plan_free(struct plan *p)
{
	free(p->owner);
	free(p->replicas);
}

static void plan_add_replica(struct plan *p, unsigned id)
{
	for (size_t i = 0; i < p->nreplicas; i++)
		if (p->replicas[i] == id)
			return;
	p->replicas[p->nreplicas++] = id;
}

static int plan_range_locked(struct mt_redis_slotmap *m,
			     const struct mt_redis_slot_range *r,
			     const char *asked_host, struct plan *p)
{
	unsigned id;
	int rc = intern_endpoint_locked(m, &r->nodes[0], asked_host, &id);

	if (rc != 0)
		return rc;
	for (unsigned s = r->first; s <= r->last; s++)
		p->owner[s] = (uint16_t)id;
	for (size_t i = 1; i < r->nnodes; i++) {
		rc = intern_endpoint_locked(m, &r->nodes[i], asked_host, &id);
		if (rc != 0)
			return rc;
		plan_add_replica(p, id);
	}
	return 0;
}

static int plan_locked(struct mt_redis_slotmap *m,
		       const struct mt_redis_slots *s, const char *asked_host,
		       struct plan *p)
{
	size_t nodes = 0;

	for (size_t i = 0; i < s->nranges; i++)
		nodes += s->ranges[i].nnodes;
	p->owner = malloc(MT_REDIS_SLOTS * sizeof *p->owner);
	p->replicas = malloc((nodes + 1) * sizeof *p->replicas);
	if (!p->owner || !p->replicas)
		return ENOMEM;
	for (unsigned slot = 0; slot < MT_REDIS_SLOTS; slot++)
		p->owner[slot] = MT_REDIS_NO_NODE;
	for (size_t i = 0; i < s->nranges; i++) {
		int rc = plan_range_locked(m, &s->ranges[i], asked_host, p);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void apply_locked(struct mt_redis_slotmap *m, struct plan *p)
{
	unsigned *old = m->replicas;

	for (unsigned slot = 0; slot < MT_REDIS_SLOTS; slot++)
		set_owner_locked(m, slot, p->owner[slot]);
	/* relaxed load: only writers, under the lock, change generation.
	 * release store: the owners above happen-before any reader that
	 * acquires this generation (mt__redis_slotmap_generation). */
	uint64_t g = atomic_load_explicit(&m->generation, memory_order_relaxed);
	atomic_store_explicit(&m->generation, g + 1, memory_order_release);
	m->replicas = p->replicas;
	m->nreplicas = p->nreplicas;
	p->replicas = old;
}

int mt__redis_slotmap_install(struct mt_redis_slotmap *m,
			      const struct mt_redis_slots *s,
			      const char *asked_host)
{
	struct plan p = {0};

	pthread_mutex_lock(&m->lock);
	int rc = plan_locked(m, s, asked_host, &p);
	if (rc == 0)
		apply_locked(m, &p);
	pthread_mutex_unlock(&m->lock);
	plan_free(&p);
	return rc;
}

/* Appends id to ids unless marked; marks it. */
static void add_candidate(unsigned id, uint8_t *mark, unsigned *ids, size_t cap,
			  size_t *n)
{
	if (mark[id / 8] & (1u << (id % 8)))
		return;
	mark[id / 8] |= (uint8_t)(1u << (id % 8));
	if (*n < cap)
		ids[(*n)++] = id;
}

size_t mt__redis_slotmap_candidates(struct mt_redis_slotmap *m, unsigned *ids,
				    size_t cap)
{
	uint8_t mark[(MT_REDIS_MAX_NODES + 8) / 8] = {0};
	size_t n = 0;

	pthread_mutex_lock(&m->lock);
	for (unsigned slot = 0; slot < MT_REDIS_SLOTS; slot++) {
		/* relaxed: under the lock, which orders every owner store. */
		unsigned id = atomic_load_explicit(&m->owner[slot],
						   memory_order_relaxed);
		if (id != MT_REDIS_NO_NODE)
			add_candidate(id, mark, ids, cap, &n);
	}
	for (size_t i = 0; i < m->nreplicas; i++)
		add_candidate(m->replicas[i], mark, ids, cap, &n);
	/* relaxed: under the lock, see find_locked. */
	unsigned count = atomic_load_explicit(&m->nnodes, memory_order_relaxed);
	for (unsigned id = 0; id < count; id++)
		add_candidate(id, mark, ids, cap, &n);
	pthread_mutex_unlock(&m->lock);
	return n;
}
