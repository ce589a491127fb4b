/*
 * redis/ops.c: the bulk operations of <mtpool/redis.h> as thin layers over
 * the engine (engine.h), and the map with a connection.
 *
 * Each operation validates everything first (so a call that returns an
 * error sent nothing), describes its items to the engine as a source
 * (how many commands an item has, its flags, how to format it straight
 * from the caller's arrays: no argv is built), runs it, and for the
 * multi-key commands maps each chunk's reply back onto its keys:
 *   MSET / MGET / DEL of chunk_keys keys: engine item c carries keys
 *   [c * chunk, (c + 1) * chunk); key j's result points into item
 *   j / chunk's reply (MGET: its own element; MSET, DEL: the shared
 *   reply), with the chunk's status and error. The mapping is the
 *   source's settled callback (engine.h): each chunk's keys are filled
 *   by the share that read its reply, right after reading it, so the
 *   work (and the first touch of the result array's pages) is spread
 *   over the shares and overlaps the server's, instead of being a
 *   serial pass over every key after the call.
 * The Popoto model layout is written out in the header (mt_redis_model).
 */
#include <mtpool/redis.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "client.h"
#include "engine.h"
#include "ops.h"
#include "router.h"
#include "sigpipe.h"

/* ------------------------------------------------------ validation */

int mt__redis_bytes_ok(mt_redis_bytes b)
{
	return b.data != NULL || b.len == 0;
}

/* n byte strings, the array may be NULL only when n is 0. */
static int array_ok(const mt_redis_bytes *a, size_t n)
{
	if (n && !a)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!mt__redis_bytes_ok(a[i]))
			return 0;
	return 1;
}

/* The first checks of every call: EINVAL, ECHILD, or 0. */
static int begin(mt_redis *r, mt_redis_batch **out)
{
	if (!out)
		return EINVAL;
	*out = NULL;
	return r ? mt__redis_usable(r) : EINVAL;
}

/* Runs src into a new batch of n results. With ks (the chunked calls),
 * the engine's items are chunks: their results go to the batch's inner
 * array and the source's settled callback maps each onto its keys'
 * results (ks->out) as the chunk finishes. */
struct keys_src;

static int run(mt_redis *r, const struct mt__redis_source *src, size_t n,
	       struct keys_src *ks, mt_redis_batch **out);

/* --------------------------------------------------- chunked keys */

static size_t nchunks(size_t n, size_t chunk)
{
	return n / chunk + (n % chunk != 0);
}

/* What the chunked sources read. One server: chunk c is keys
 * [c * chunk, (c + 1) * chunk). A cluster: keys grouped by hash slot
 * (router.h), chunk c is keys perm[start[c]], ..., perm[start[c + 1] - 1],
 * all of one slot, so no MSET/MGET/DEL meets CROSSSLOT. */
struct keys_src {
	const char *cmd; /* MSET, MGET, DEL */
	const mt_redis_bytes *keys, *values;
	size_t n, chunk;
	size_t *perm, *start; /* cluster only, else NULL */
	int elements;	      /* MGET: each key its own element */
	mt_redis_result *out; /* the keys' results (the batch's) */
};

/* Chunk c's positions [*lo, *hi); key_at maps a position to a key. */
static void chunk_range(const struct keys_src *s, size_t c, size_t *lo,
			size_t *hi)
{
	if (s->start) {
		*lo = s->start[c];
		*hi = s->start[c + 1];
		return;
	}
	*lo = c * s->chunk;
	*hi = *lo + s->chunk < s->n ? *lo + s->chunk : s->n;
}

static size_t key_at(const struct keys_src *s, size_t k)
{
	return s->perm ? s->perm[k] : k;
}

/* Key j's result from its chunk's: same status and error; the chunk's
 * replies; `reply` chosen by the caller. */
static void from_chunk(mt_redis_result *key, const mt_redis_result *c)
{
	key->status = c->status;
	key->error = c->error;
	key->replies = c->replies;
	key->nreplies = c->nreplies;
	key->reply = c->status == MT_REDIS_DONE ? c->reply : NULL;
}

/* MSET, DEL: every key of chunk c shares its result. Runs on the thread
 * that finished the chunk (engine.h, settled); chunks have disjoint keys,
 * so shares write disjoint results. */
static void settle_shared(const void *ctx, size_t c, const mt_redis_result *cr)
{
	const struct keys_src *s = ctx;
	size_t lo, hi;

	chunk_range(s, c, &lo, &hi);
	for (size_t k = lo; k < hi; k++)
		from_chunk(&s->out[key_at(s, k)], cr);
}

/* What every key of chunk [lo, hi) gets: the chunk's status, except
 * for an MGET whose reply is not an array of one element per key. */
static mt_redis_status key_status(const struct keys_src *s, size_t lo,
				  size_t hi, const mt_redis_result *cr)
{
	if (!s->elements || cr->status != MT_REDIS_DONE)
		return cr->status;
	return cr->reply->type == REDIS_REPLY_ARRAY &&
			       cr->reply->elements == hi - lo ?
		       MT_REDIS_DONE :
		       MT_REDIS_FAILED;
}

/* MGET: each key of chunk c gets its own element of the chunk's array. */
static void settle_elements(const void *ctx, size_t c,
			    const mt_redis_result *cr)
{
	static const char bad[] = "unexpected reply to MGET";
	const struct keys_src *s = ctx;
	size_t lo, hi;

	chunk_range(s, c, &lo, &hi);
	mt_redis_status st = key_status(s, lo, hi, cr);
	for (size_t k = lo; k < hi; k++) {
		mt_redis_result *key = &s->out[key_at(s, k)];
		from_chunk(key, cr);
		if (st != cr->status) {
			key->status = st;
			key->error = bad;
			key->reply = NULL;
		} else if (st == MT_REDIS_DONE) {
			key->reply = cr->reply->element[k - lo];
		}
	}
}

/* The batch's counts from its chunks, each counted once per key: what
 * mt__redis_batch_count finds, without a pass over every key's result
 * on the calling thread after the call. */
static void count_chunks(struct mt__redis_batch *b, const struct keys_src *s)
{
	size_t n[3] = {0, 0, 0};

	for (size_t c = 0, lo, hi; c < b->ninner; c++) {
		chunk_range(s, c, &lo, &hi);
		n[key_status(s, lo, hi, &b->inner[c])] += hi - lo;
	}
	b->pub.done = n[MT_REDIS_DONE];
	b->pub.failed = n[MT_REDIS_FAILED];
	b->pub.unknown = n[MT_REDIS_UNKNOWN];
}

static void format_chunk(const void *ctx, size_t c, struct mt__redis_buf *b)
{
	const struct keys_src *s = ctx;
	size_t lo, hi;
	chunk_range(s, c, &lo, &hi);
	mt__redis_buf_argc(b, 1 + (hi - lo) * (s->values ? 2 : 1));
	mt__redis_buf_str(b, s->cmd);
	for (size_t k = lo; k < hi; k++) {
		size_t j = key_at(s, k);
		mt__redis_buf_arg(b, s->keys[j].data, s->keys[j].len);
		if (s->values)
			mt__redis_buf_arg(b, s->values[j].data,
					  s->values[j].len);
	}
}

/* Cluster: a chunk weighs its keys and is routed by its first key. */
static size_t chunk_weight(const void *ctx, size_t c)
{
	size_t lo, hi;
	chunk_range(ctx, c, &lo, &hi);
	return hi - lo;
}

static void chunk_key(const void *ctx, size_t c, mt_redis_bytes *key)
{
	const struct keys_src *s = ctx;
	*key = s->keys[key_at(s, s->start[c])];
}

static int run_chunked(mt_redis *r, struct keys_src *s,
		       void (*settle)(const void *, size_t,
				      const mt_redis_result *),
		       mt_redis_batch **out)
{
	s->chunk = r->chunk_keys;
	struct mt__redis_source src = {.n = nchunks(s->n, s->chunk),
				       .ctx = s,
				       .fixed_ncmds = 1,
				       .fixed_flags = MT_REDIS_IDEMPOTENT,
				       .fixed_weight = s->chunk,
				       .format = format_chunk,
				       .settled = settle};
	if (r->router && s->n) {
		int rc = mt__redis_router_chunks(s->keys, s->n, s->chunk,
						 &s->perm, &s->start, &src.n);
		if (rc)
			return rc;
		src.weight = chunk_weight;
		src.key = chunk_key;
	}
	int rc = run(r, &src, s->n, s, out);
	free(s->perm);
	free(s->start);
	return rc;
}

static int run(mt_redis *r, const struct mt__redis_source *src, size_t n,
	       struct keys_src *ks, mt_redis_batch **out)
{
	struct mt__redis_batch *b;
	int rc = mt__redis_batch_new(n, ks ? src->n : 0, &b);
	if (rc)
		return rc;
	if (ks)
		ks->out = b->pub.results;
	rc = mt__redis_engine_run(r, src, ks ? b->inner : b->pub.results, b);
	if (rc) {
		mt__redis_batch_destroy(b);
		return rc;
	}
	if (ks)
		count_chunks(b, ks);
	else
		mt__redis_batch_count(b);
	*out = &b->pub;
	return 0;
}

/* --------------------------------------------------------- SET */

struct set_src {
	const mt_redis_bytes *keys, *values;
	char ttl[24];	  /* "" = no PX */
	const char *mode; /* NULL, "NX" or "XX" */
};

static void format_set(const void *ctx, size_t i, struct mt__redis_buf *b)
{
	const struct set_src *s = ctx;
	mt__redis_buf_argc(b, 3 + (s->ttl[0] ? 2 : 0) + (s->mode != NULL));
	mt__redis_buf_arg(b, "SET", 3);
	mt__redis_buf_arg(b, s->keys[i].data, s->keys[i].len);
	mt__redis_buf_arg(b, s->values[i].data, s->values[i].len);
	if (s->ttl[0]) {
		mt__redis_buf_arg(b, "PX", 2);
		mt__redis_buf_str(b, s->ttl);
	}
	if (s->mode)
		mt__redis_buf_str(b, s->mode);
}

static void set_key(const void *ctx, size_t i, mt_redis_bytes *key)
{
	*key = ((const struct set_src *)ctx)->keys[i];
}

static int set_options_ok(const mt_redis_set_options *o)
{
	return !o ||
	       (o->ttl_ms >= 0 && (o->mode == 0 || o->mode == MT_REDIS_SET_NX ||
				   o->mode == MT_REDIS_SET_XX));
}

int mt_redis_set(mt_redis *r, const mt_redis_bytes *keys,
		 const mt_redis_bytes *values, size_t n,
		 const mt_redis_set_options *opts, mt_redis_batch **out)
{
	int rc = begin(r, out);
	if (rc)
		return rc;
	if (!array_ok(keys, n) || !array_ok(values, n) || !set_options_ok(opts))
		return EINVAL;
	if (!opts || (opts->ttl_ms == 0 && opts->mode == 0)) {
		struct keys_src s = {
			.cmd = "MSET", .keys = keys, .values = values, .n = n};
		return run_chunked(r, &s, settle_shared, out);
	}
	struct set_src s = {.keys = keys, .values = values};
	if (opts->ttl_ms > 0)
		snprintf(s.ttl, sizeof s.ttl, "%lld", (long long)opts->ttl_ms);
	if (opts->mode)
		s.mode = opts->mode == MT_REDIS_SET_NX ? "NX" : "XX";
	struct mt__redis_source src = {.n = n,
				       .ctx = &s,
				       .fixed_ncmds = 1,
				       .fixed_flags = MT_REDIS_IDEMPOTENT,
				       .format = format_set,
				       .key = set_key};
	return run(r, &src, n, NULL, out);
}

int mt_redis_get(mt_redis *r, const mt_redis_bytes *keys, size_t n,
		 mt_redis_batch **out)
{
	int rc = begin(r, out);
	if (rc)
		return rc;
	if (!array_ok(keys, n))
		return EINVAL;
	struct keys_src s = {
		.cmd = "MGET", .keys = keys, .n = n, .elements = 1};
	return run_chunked(r, &s, settle_elements, out);
}

int mt_redis_del(mt_redis *r, const mt_redis_bytes *keys, size_t n,
		 mt_redis_batch **out)
{
	int rc = begin(r, out);
	if (rc)
		return rc;
	if (!array_ok(keys, n))
		return EINVAL;
	struct keys_src s = {.cmd = "DEL", .keys = keys, .n = n};
	return run_chunked(r, &s, settle_shared, out);
}

/* ------------------------------------------------------ PUBLISH */

struct publish_src {
	const mt_redis_bytes *channels, *messages;
};

static void format_publish(const void *ctx, size_t i, struct mt__redis_buf *b)
{
	const struct publish_src *s = ctx;
	mt__redis_buf_argc(b, 3);
	mt__redis_buf_arg(b, "PUBLISH", 7);
	mt__redis_buf_arg(b, s->channels[i].data, s->channels[i].len);
	mt__redis_buf_arg(b, s->messages[i].data, s->messages[i].len);
}

/* Cluster: a message may be published on any node (the cluster bus
 * carries it to every subscriber); routing by channel spreads them. */
static void publish_key(const void *ctx, size_t i, mt_redis_bytes *key)
{
	*key = ((const struct publish_src *)ctx)->channels[i];
}

int mt_redis_publish(mt_redis *r, const mt_redis_bytes *channels,
		     const mt_redis_bytes *messages, size_t n,
		     mt_redis_batch **out)
{
	int rc = begin(r, out);
	if (rc)
		return rc;
	if (!array_ok(channels, n) || !array_ok(messages, n))
		return EINVAL;
	struct publish_src s = {channels, messages};
	/* Never idempotent: a replayed message is delivered twice. */
	struct mt__redis_source src = {.n = n,
				       .ctx = &s,
				       .fixed_ncmds = 1,
				       .fixed_flags = 0,
				       .format = format_publish,
				       .key = publish_key};
	return run(r, &src, n, NULL, out);
}

/* --------------------------------------------------------- exec */

int mt__redis_cmd_ok(const mt_redis_cmd *c)
{
	return c->argc >= 1 && c->argv && array_ok(c->argv, (size_t)c->argc);
}

static int items_ok(const mt_redis_item *items, size_t n)
{
	if (n && !items)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (items[i].ncmds == 0 || !items[i].cmds)
			return 0;
		for (size_t k = 0; k < items[i].ncmds; k++)
			if (!mt__redis_cmd_ok(&items[i].cmds[k]))
				return 0;
	}
	return 1;
}

static size_t items_ncmds(const void *ctx, size_t i)
{
	return ((const mt_redis_item *)ctx)[i].ncmds;
}

static unsigned items_flags(const void *ctx, size_t i)
{
	return ((const mt_redis_item *)ctx)[i].flags &
	       (MT_REDIS_ATOMIC | MT_REDIS_IDEMPOTENT);
}

void mt__redis_format_cmd(const mt_redis_cmd *c, struct mt__redis_buf *b)
{
	mt__redis_buf_argc(b, (uint64_t)c->argc);
	for (int a = 0; a < c->argc; a++)
		mt__redis_buf_arg(b, c->argv[a].data, c->argv[a].len);
}

static void format_item(const void *ctx, size_t i, struct mt__redis_buf *b)
{
	const mt_redis_item *it = &((const mt_redis_item *)ctx)[i];
	for (size_t k = 0; k < it->ncmds; k++)
		mt__redis_format_cmd(&it->cmds[k], b);
}

/* redis.h: `key`, or else the first argument of the first command; a
 * one-word command has no key (any master). */
static void item_key(const void *ctx, size_t i, mt_redis_bytes *key)
{
	const mt_redis_item *it = &((const mt_redis_item *)ctx)[i];
	static const mt_redis_bytes none;

	if (it->key.data)
		*key = it->key;
	else
		*key = it->cmds[0].argc > 1 ? it->cmds[0].argv[1] : none;
}

int mt_redis_exec(mt_redis *r, const mt_redis_item *items, size_t n,
		  mt_redis_batch **out)
{
	int rc = begin(r, out);
	if (rc)
		return rc;
	if (!items_ok(items, n))
		return EINVAL;
	struct mt__redis_source src = {.n = n,
				       .ctx = items,
				       .ncmds = items_ncmds,
				       .flags = items_flags,
				       .format = format_item,
				       .key = item_key};
	return run(r, &src, n, NULL, out);
}

/* ------------------------------------------------------- models */

/* The pieces of Popoto's key names: H = "<model>:<key>", and the index
 * set names around <model> and an index's <name>[:<value>]. */
static void arg_hash(struct mt__redis_buf *b, const mt_redis_model *m)
{
	const void *d[3] = {m->model.data, ":", m->key.data};
	size_t l[3] = {m->model.len, 1, m->key.len};
	mt__redis_buf_concat(b, d, l, 3);
}

static void arg_class(struct mt__redis_buf *b, const mt_redis_model *m)
{
	const void *d[2] = {"$Class:", m->model.data};
	size_t l[2] = {7, m->model.len};
	mt__redis_buf_concat(b, d, l, 2);
}

static void arg_keyf(struct mt__redis_buf *b, const mt_redis_model *m,
		     const mt_redis_field *f)
{
	const void *d[6] = {"$KeyF:",	  m->model.data, ":",
			    f->name.data, ":",		 f->value.data};
	size_t l[6] = {6, m->model.len, 1, f->name.len, 1, f->value.len};
	mt__redis_buf_concat(b, d, l, 6);
}

static void arg_sortedf(struct mt__redis_buf *b, const mt_redis_model *m,
			const mt_redis_sorted *s)
{
	const void *d[4] = {"$SortedF:", m->model.data, ":", s->name.data};
	size_t l[4] = {9, m->model.len, 1, s->name.len};
	mt__redis_buf_concat(b, d, l, 4);
}

/* "<cmd> <set> H" for the class set and each index. */
static void format_index_ops(const mt_redis_model *m, const char *set_cmd,
			     struct mt__redis_buf *b)
{
	mt__redis_buf_argc(b, 3);
	mt__redis_buf_str(b, set_cmd);
	arg_class(b, m);
	arg_hash(b, m);
	for (size_t k = 0; k < m->nkey_indexes; k++) {
		mt__redis_buf_argc(b, 3);
		mt__redis_buf_str(b, set_cmd);
		arg_keyf(b, m, &m->key_indexes[k]);
		arg_hash(b, m);
	}
}

static void format_sorted_add(const mt_redis_model *m, struct mt__redis_buf *b)
{
	for (size_t k = 0; k < m->nsorted_indexes; k++) {
		char score[40];
		snprintf(score, sizeof score, "%.17g",
			 m->sorted_indexes[k].score);
		mt__redis_buf_argc(b, 4);
		mt__redis_buf_arg(b, "ZADD", 4);
		arg_sortedf(b, m, &m->sorted_indexes[k]);
		mt__redis_buf_str(b, score);
		arg_hash(b, m);
	}
}

void mt__redis_format_save(const mt_redis_model *m, struct mt__redis_buf *b)
{
	mt__redis_buf_argc(b, 2 + 2 * (uint64_t)m->nfields);
	mt__redis_buf_arg(b, "HSET", 4);
	arg_hash(b, m);
	for (size_t k = 0; k < m->nfields; k++) {
		mt__redis_buf_arg(b, m->fields[k].name.data,
				  m->fields[k].name.len);
		mt__redis_buf_arg(b, m->fields[k].value.data,
				  m->fields[k].value.len);
	}
	format_index_ops(m, "SADD", b);
	format_sorted_add(m, b);
	if (m->ttl_ms > 0) {
		char ttl[24];
		snprintf(ttl, sizeof ttl, "%lld", (long long)m->ttl_ms);
		mt__redis_buf_argc(b, 3);
		mt__redis_buf_arg(b, "PEXPIRE", 7);
		arg_hash(b, m);
		mt__redis_buf_str(b, ttl);
	}
}

size_t mt__redis_save_ncmds(const mt_redis_model *m)
{
	return 2 + m->nkey_indexes + m->nsorted_indexes + (m->ttl_ms > 0);
}

static void format_save(const void *ctx, size_t i, struct mt__redis_buf *b)
{
	mt__redis_format_save(&((const mt_redis_model *)ctx)[i], b);
}

static size_t save_ncmds(const void *ctx, size_t i)
{
	return mt__redis_save_ncmds(&((const mt_redis_model *)ctx)[i]);
}

static void format_delete(const void *ctx, size_t i, struct mt__redis_buf *b)
{
	const mt_redis_model *m = &((const mt_redis_model *)ctx)[i];
	mt__redis_buf_argc(b, 2);
	mt__redis_buf_arg(b, "DEL", 3);
	arg_hash(b, m);
	format_index_ops(m, "SREM", b);
	for (size_t k = 0; k < m->nsorted_indexes; k++) {
		mt__redis_buf_argc(b, 3);
		mt__redis_buf_arg(b, "ZREM", 4);
		arg_sortedf(b, m, &m->sorted_indexes[k]);
		arg_hash(b, m);
	}
}

static size_t delete_ncmds(const void *ctx, size_t i)
{
	const mt_redis_model *m = &((const mt_redis_model *)ctx)[i];
	return 2 + m->nkey_indexes + m->nsorted_indexes;
}

static int fields_ok(const mt_redis_field *f, size_t n)
{
	if (n && !f)
		return 0;
	for (size_t k = 0; k < n; k++)
		if (!mt__redis_bytes_ok(f[k].name) ||
		    !mt__redis_bytes_ok(f[k].value))
			return 0;
	return 1;
}

int mt__redis_model_ok(const mt_redis_model *m, int saving)
{
	if (saving && (m->nfields == 0 || m->ttl_ms < 0))
		return 0;
	if (m->nsorted_indexes && !m->sorted_indexes)
		return 0;
	for (size_t k = 0; k < m->nsorted_indexes; k++)
		if (!mt__redis_bytes_ok(m->sorted_indexes[k].name))
			return 0;
	return mt__redis_bytes_ok(m->model) && mt__redis_bytes_ok(m->key) &&
	       (!saving || fields_ok(m->fields, m->nfields)) &&
	       fields_ok(m->key_indexes, m->nkey_indexes);
}

static int models_ok(const mt_redis_model *m, size_t n, unsigned flags,
		     int saving)
{
	if ((n && !m) || (flags & ~MT_REDIS_ATOMIC))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!mt__redis_model_ok(&m[i], saving))
			return 0;
	return 1;
}

int mt_redis_model_save(mt_redis *r, const mt_redis_model *models, size_t n,
			unsigned flags, mt_redis_batch **out)
{
	int rc = begin(r, out);
	if (rc)
		return rc;
	if (!models_ok(models, n, flags, 1))
		return EINVAL;
	struct mt__redis_source src = {
		.n = n,
		.ctx = models,
		.ncmds = save_ncmds,
		.fixed_flags = flags | MT_REDIS_IDEMPOTENT | MT__REDIS_KEYED,
		.format = format_save};
	return run(r, &src, n, NULL, out);
}

int mt_redis_model_delete(mt_redis *r, const mt_redis_model *models, size_t n,
			  unsigned flags, mt_redis_batch **out)
{
	int rc = begin(r, out);
	if (rc)
		return rc;
	if (!models_ok(models, n, flags, 0))
		return EINVAL;
	struct mt__redis_source src = {
		.n = n,
		.ctx = models,
		.ncmds = delete_ncmds,
		.fixed_flags = flags | MT_REDIS_IDEMPOTENT | MT__REDIS_KEYED,
		.format = format_delete};
	return run(r, &src, n, NULL, out);
}

struct load_src {
	mt_redis_bytes model;
	const mt_redis_bytes *keys;
};

static void format_load(const void *ctx, size_t i, struct mt__redis_buf *b)
{
	const struct load_src *s = ctx;
	const void *d[3] = {s->model.data, ":", s->keys[i].data};
	size_t l[3] = {s->model.len, 1, s->keys[i].len};
	mt__redis_buf_argc(b, 2);
	mt__redis_buf_arg(b, "HGETALL", 7);
	mt__redis_buf_concat(b, d, l, 3);
}

int mt_redis_model_load(mt_redis *r, mt_redis_bytes model,
			const mt_redis_bytes *keys, size_t n,
			mt_redis_batch **out)
{
	int rc = begin(r, out);
	if (rc)
		return rc;
	if (!mt__redis_bytes_ok(model) || !array_ok(keys, n))
		return EINVAL;
	struct load_src s = {model, keys};
	struct mt__redis_source src = {.n = n,
				       .ctx = &s,
				       .fixed_ncmds = 1,
				       .fixed_flags = MT_REDIS_IDEMPOTENT,
				       .format = format_load};
	return run(r, &src, n, NULL, out);
}

/* ---------------------------------------------------------- map */

struct map_run {
	mt_redis *r;
	void *(*fn)(redisContext *c, void *param, void *ctx);
	void *const *params;
	void **results;
	void *ctx;
	/* Relaxed: both are read by the caller after mt_for_range returns,
	 * which orders every participant's writes before that. */
	_Atomic size_t not_run;
	_Atomic int first_err;
};

/* Items [i, hi) cannot run: no connection. */
static void map_skip(struct map_run *m, size_t i, size_t hi, int err)
{
	int none = 0;
	for (size_t k = i; k < hi; k++)
		m->results[k] = NULL;
	atomic_fetch_add_explicit(&m->not_run, hi - i, memory_order_relaxed);
	atomic_compare_exchange_strong_explicit(&m->first_err, &none, err,
						memory_order_relaxed,
						memory_order_relaxed);
}

/* One participant's chunk, on its own connection. A connection fn left
 * broken is dropped and the next item gets a new one; once a connection
 * cannot be made, the rest of the chunk is not run (a dead server must
 * not cost a connect timeout per item). */
static void map_range(size_t lo, size_t hi, void *arg)
{
	struct map_run *m = arg;
	struct mt__redis_sigpipe guard;
	redisContext *c = NULL;
	int fresh, io_failed = 0;
	char why[MT_REDIS_ERRLEN];
	mt__redis_sigpipe_block(&guard);
	for (size_t i = lo; i < hi; i++) {
		int rc = c ? 0 :
			     mt__redis_node_acquire(&m->r->node, &c, &fresh,
						    why, sizeof why);
		if (rc) {
			map_skip(m, i, hi, rc);
			break;
		}
		m->results[i] = m->fn(c, m->params[i], m->ctx);
		if (c->err) {
			io_failed = 1;
			mt__redis_node_release(&m->r->node, c);
			c = NULL;
		}
	}
	mt__redis_node_release(&m->r->node, c);
	mt__redis_sigpipe_restore(&guard, io_failed);
}

int mt_redis_map(mt_redis *r,
		 void *(*fn)(redisContext *c, void *param, void *ctx),
		 void *const *params, void **results, size_t n, void *ctx,
		 size_t *not_run)
{
	if (not_run)
		*not_run = 0;
	if (!r || !fn || (n && (!params || !results)))
		return EINVAL;
	/* A connection belongs to one node of a cluster (redis.h). */
	if (r->router)
		return EINVAL;
	int rc = mt__redis_usable(r);
	if (rc || n == 0)
		return rc;
	struct map_run m = {.r = r,
			    .fn = fn,
			    .params = params,
			    .results = results,
			    .ctx = ctx};
	rc = mt_for_range(r->pool, n, map_range, &m);
	if (rc)
		return rc;
	if (not_run)
		*not_run =
			atomic_load_explicit(&m.not_run, memory_order_relaxed);
	return atomic_load_explicit(&m.first_err, memory_order_relaxed);
}
