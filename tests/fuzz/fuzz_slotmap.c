/*
 * tests/fuzz/fuzz_slotmap.c: libFuzzer target for the CLUSTER SLOTS parser
 * and the slot map (redis/slotmap.h).
 *
 * The input is RESP, read by hiredis's own redisReader, so the reply trees
 * have exactly the shapes a connection can deliver (arrays nested to
 * hiredis's limit, NULLs, integers, errors, binary strings). Every reply
 * the reader gives is parsed. The parse must return 0 or EINVAL (a
 * terminated reason that starts "CLUSTER SLOTS reply: ") and never crash,
 * leak or read out of bounds (ASan, LeakSanitizer, UBSan). A parse that
 * succeeds must hold what the header promises (ranges inside 0..16383,
 * not inverted, disjoint, `covered` their total, at least one node each,
 * ports 1..65535, printable hosts), and once installed into a map every
 * slot must be owned by its range's master and every other slot by no
 * one; a MOVED of the first range's first slot must then move that slot
 * alone.
 *
 * hiredis 0.14's reader allocates an array's element vector as soon as
 * it reads the header, with no bound: "*2000000000" asks for 16 GB, and
 * libFuzzer stops on the memory, not on anything of ours. So inputs that
 * announce an array or a string longer than MAX_ANNOUNCED are skipped (a
 * real CLUSTER SLOTS reply has a few thousand elements at most; replies
 * come from the cluster's own nodes, not from strangers).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slotmap.h"

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "fuzz_slotmap: check failed: %s\n", \
				#cond);                                     \
			abort();                                            \
		}                                                           \
	} while (0)

#define ASKED "asked.example"
#define MAX_ANNOUNCED 65536

/* 1 if some '*' or '$' header in the bytes announces more than
 * MAX_ANNOUNCED elements or bytes (see above). */
static int announces_too_much(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		unsigned long long v = 0;
		if (data[i] != '*' && data[i] != '$')
			continue;
		for (size_t j = i + 1; j < size && data[j] >= '0' &&
				       data[j] <= '9' && v <= MAX_ANNOUNCED;
		     j++)
			v = v * 10 + (data[j] - '0');
		if (v > MAX_ANNOUNCED)
			return 1;
	}
	return 0;
}

static void check_endpoint(const struct mt_redis_endpoint *e)
{
	CHECK(e->port >= 1 && e->port <= 65535);
	if (!e->host)
		return;
	CHECK(e->hostlen > 0 && e->hostlen < 256);
	for (size_t i = 0; i < e->hostlen; i++)
		CHECK(e->host[i] > ' ' && e->host[i] <= '~');
}

/* Ranges as promised; fills owner_port[slot] (0 = no range). */
static void check_slots(const struct mt_redis_slots *s, int *owner_port)
{
	unsigned covered = 0;

	for (size_t i = 0; i < s->nranges; i++) {
		const struct mt_redis_slot_range *r = &s->ranges[i];
		CHECK(r->first <= r->last && r->last < MT_REDIS_SLOTS);
		CHECK(r->nnodes >= 1);
		for (size_t j = 0; j < r->nnodes; j++)
			check_endpoint(&r->nodes[j]);
		for (unsigned slot = r->first; slot <= r->last; slot++) {
			CHECK(owner_port[slot] == 0);
			owner_port[slot] = r->nodes[0].port;
		}
		covered += r->last - r->first + 1;
	}
	CHECK(covered == s->covered);
}

static void check_map(struct mt_redis_slotmap *m, const int *owner_port)
{
	for (unsigned slot = 0; slot < MT_REDIS_SLOTS; slot++) {
		unsigned id = mt__redis_slotmap_owner(m, slot);
		const struct mt_redis_node *n = mt__redis_slotmap_node(m, id);
		if (owner_port[slot] == 0) {
			CHECK(id == MT_REDIS_NO_NODE && n == NULL);
			continue;
		}
		CHECK(n != NULL && n->id == id);
		CHECK(n->port == owner_port[slot]);
	}
}

static void check_install(const struct mt_redis_slots *s, const int *owner_port)
{
	struct mt_redis_slotmap *m;
	unsigned ids[64], id;

	if (mt__redis_slotmap_create(&m) != 0)
		return;
	int rc = mt__redis_slotmap_install(m, s, ASKED);
	CHECK(rc == 0 || rc == ENOMEM);
	if (rc == 0) {
		CHECK(mt__redis_slotmap_generation(m) == 1);
		check_map(m, owner_port);
		size_t n = mt__redis_slotmap_candidates(m, ids, 64);
		CHECK(n <= mt__redis_slotmap_node_count(m));
		for (size_t i = 0; i < n; i++)
			CHECK(mt__redis_slotmap_node(m, ids[i]) != NULL);
	}
	if (rc == 0 && s->nranges > 0) {
		unsigned slot = s->ranges[0].first;
		CHECK(mt__redis_slotmap_moved(m, slot, "moved.example", 1,
					      &id) == 0);
		CHECK(mt__redis_slotmap_owner(m, slot) == id);
		CHECK(mt__redis_slotmap_generation(m) == 1);
	}
	mt__redis_slotmap_destroy(m);
}

static void one_reply(const redisReply *reply)
{
	static int owner_port[MT_REDIS_SLOTS];
	struct mt_redis_slots s;
	char why[160];

	int rc = mt__redis_slots_parse(reply, &s, why, sizeof why);
	CHECK(rc == 0 || rc == EINVAL || rc == ENOMEM);
	CHECK(strnlen(why, sizeof why) < sizeof why);
	if (rc != 0) {
		CHECK(s.ranges == NULL && s.nranges == 0);
		if (rc == EINVAL)
			CHECK(strncmp(why, "CLUSTER SLOTS reply: ", 21) == 0);
		return;
	}
	CHECK(why[0] == '\0');
	memset(owner_port, 0, sizeof owner_port);
	check_slots(&s, owner_port);
	check_install(&s, owner_port);
	mt__redis_slots_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	redisReader *rd;
	void *reply;

	if (announces_too_much(data, size) || !(rd = redisReaderCreate()))
		return 0;
	if (redisReaderFeed(rd, (const char *)data, size) == REDIS_OK) {
		while (redisReaderGetReply(rd, &reply) == REDIS_OK && reply) {
			one_reply(reply);
			freeReplyObject(reply);
		}
	}
	redisReaderFree(rd);
	return 0;
}
