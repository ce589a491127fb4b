/*
 * tests/redis/test_slotmap.c: the CLUSTER SLOTS parser and the live slot
 * map (redis/slotmap.h). Replies are built as RESP text and read by
 * hiredis's own reader, so the trees are exactly what a connection gives;
 * the shapes follow what redis-server 7.0.15 sends with each
 * cluster-preferred-endpoint-type (seen here), and Redis 3's. The live
 * replies of a real cluster are parsed in test_cluster.c.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/redis_util.h"
#include "slotmap.h"

/* ------------------------------------------------ RESP text builder */

static char resp_buf[1 << 16];
static size_t resp_len;

static void put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void put(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(resp_buf + resp_len, sizeof resp_buf - resp_len, fmt,
			  ap);
	va_end(ap);
	cr_assert(n >= 0 && (size_t)n < sizeof resp_buf - resp_len);
	resp_len += (size_t)n;
}

static void A(size_t n)
{
	put("*%zu\r\n", n);
}
static void I(long long v)
{
	put(":%lld\r\n", v);
}
static void S(const char *s)
{
	put("$%zu\r\n%s\r\n", strlen(s), s);
}
static void N(void)
{
	put("$-1\r\n");
}

/* A Redis 7 node entry: endpoint, port, id, metadata (empty). */
static void node7(const char *host, long long port)
{
	A(4);
	S(host);
	I(port);
	S("0123456789012345678901234567890123456789");
	A(0);
}

/* Reads what was built as one reply; the builder starts over. */
static redisReply *built(void)
{
	redisReader *rd = redisReaderCreate();
	void *reply = NULL;

	cr_assert_not_null(rd);
	cr_assert_eq(redisReaderFeed(rd, resp_buf, resp_len), REDIS_OK);
	cr_assert_eq(redisReaderGetReply(rd, &reply), REDIS_OK);
	cr_assert_not_null(reply, "incomplete RESP in the test");
	redisReaderFree(rd);
	resp_len = 0;
	return reply;
}

/* The three-master layout of `redis-cli --cluster create`. */
static redisReply *three_masters(const char *host)
{
	A(3);
	A(3), I(0), I(5460), node7(host, 7001);
	A(3), I(5461), I(10922), node7(host, 7002);
	A(3), I(10923), I(16383), node7(host, 7003);
	return built();
}

static char why[256];

static void parse_ok(redisReply *r, struct mt_redis_slots *s)
{
	cr_assert_eq(mt__redis_slots_parse(r, s, why, sizeof why), 0, "%s",
		     why);
	cr_assert_str_eq(why, "");
}

static void assert_host(const struct mt_redis_endpoint *e, const char *host)
{
	cr_assert_not_null(e->host);
	cr_assert_eq(e->hostlen, strlen(host));
	cr_assert(memcmp(e->host, host, e->hostlen) == 0);
}

/* ------------------------------------------------------- the parser */

Test(slots_parse, three_masters_as_redis_7_sends_them)
{
	redisReply *r = three_masters("127.0.0.1");
	struct mt_redis_slots s;

	parse_ok(r, &s);
	cr_assert_eq(s.nranges, 3);
	cr_assert_eq(s.covered, 16384);
	cr_assert_eq(s.ranges[1].first, 5461);
	cr_assert_eq(s.ranges[1].last, 10922);
	cr_assert_eq(s.ranges[1].nnodes, 1);
	assert_host(&s.ranges[1].nodes[0], "127.0.0.1");
	cr_assert_eq(s.ranges[1].nodes[0].port, 7002);
	mt__redis_slots_free(&s);
	cr_assert_null(s.ranges);
	freeReplyObject(r);
}

Test(slots_parse, replicas_follow_their_master_and_metadata_is_skipped)
{
	A(1);
	A(5), I(0), I(16383);
	A(4), S("10.0.0.1"), I(7000), S("id1"), A(2), S("hostname"), S("a");
	A(4), S("10.0.0.2"), I(7100), S("id2"), A(2), S("hostname"), S("b");
	A(3), S("::1"), I(7200), S("id3"); /* no metadata: Redis 4..6 */
	redisReply *r = built();
	struct mt_redis_slots s;

	parse_ok(r, &s);
	cr_assert_eq(s.ranges[0].nnodes, 3);
	assert_host(&s.ranges[0].nodes[0], "10.0.0.1");
	assert_host(&s.ranges[0].nodes[1], "10.0.0.2");
	assert_host(&s.ranges[0].nodes[2], "::1");
	cr_assert_eq(s.ranges[0].nodes[2].port, 7200);
	mt__redis_slots_free(&s);
	freeReplyObject(r);
}

Test(slots_parse, redis_3_nodes_of_address_and_port_only)
{
	A(2);
	A(3), I(0), I(99), A(2), S("127.0.0.1"), I(30001);
	A(4), I(100), I(100), A(2), S("127.0.0.1"), I(30002), A(2),
		S("127.0.0.1"), I(30003);
	redisReply *r = built();
	struct mt_redis_slots s;

	parse_ok(r, &s);
	cr_assert_eq(s.covered, 101);
	cr_assert_eq(s.ranges[1].nnodes, 2);
	mt__redis_slots_free(&s);
	freeReplyObject(r);
}

Test(slots_parse, null_or_empty_endpoint_means_the_asked_host)
{
	/* unknown-endpoint: NULL, the metadata carries "ip"; older servers
	 * send "" when the node does not know its address. */
	A(2);
	A(3), I(0), I(10), A(4), N(), I(17001), S("id"), A(2), S("ip"),
		S("::1");
	A(3), I(11), I(20), A(3), S(""), I(17002), S("id");
	redisReply *r = built();
	struct mt_redis_slots s;

	parse_ok(r, &s);
	cr_assert_null(s.ranges[0].nodes[0].host);
	cr_assert_eq(s.ranges[0].nodes[0].port, 17001);
	cr_assert_null(s.ranges[1].nodes[0].host);
	mt__redis_slots_free(&s);
	freeReplyObject(r);
}

Test(slots_parse, question_mark_endpoint_takes_the_metadata_ip)
{
	/* hostname preferred and none set: "?" plus ["ip", address]. */
	A(1);
	A(3), I(0), I(16383), A(4), S("?"), I(17001), S("id"), A(4),
		S("hostname"), S("x"), S("ip"), S("::1");
	redisReply *r = built();
	struct mt_redis_slots s;

	parse_ok(r, &s);
	assert_host(&s.ranges[0].nodes[0], "::1");
	mt__redis_slots_free(&s);
	freeReplyObject(r);
}

Test(slots_parse, empty_reply_is_a_node_that_serves_nothing)
{
	A(0);
	redisReply *r = built();
	struct mt_redis_slots s;

	parse_ok(r, &s);
	cr_assert_eq(s.nranges, 0);
	cr_assert_eq(s.covered, 0);
	mt__redis_slots_free(&s);
	freeReplyObject(r);
}

/* Each builder makes one malformed reply. */
static void bad_not_array(void)
{
	put("+OK\r\n");
}
static void bad_error(void)
{
	put("-ERR This instance has cluster support disabled\r\n");
}
static void bad_range_short(void)
{
	A(1), A(2), I(0), I(1);
}
static void bad_range_not_array(void)
{
	A(1), I(5);
}
static void bad_bound_string(void)
{
	A(1), A(3), S("0"), I(1), node7("h", 1);
}
static void bad_bound_negative(void)
{
	A(1), A(3), I(-1), I(1), node7("h", 1);
}
static void bad_bound_16384(void)
{
	A(1), A(3), I(0), I(16384), node7("h", 1);
}
static void bad_inverted(void)
{
	A(1), A(3), I(9), I(8), node7("h", 1);
}
static void bad_overlap(void)
{
	A(2), A(3), I(0), I(10), node7("h", 1);
	A(3), I(10), I(20), node7("h", 2);
}
static void bad_port_0(void)
{
	A(1), A(3), I(0), I(1), node7("h", 0);
}
static void bad_port_65536(void)
{
	A(1), A(3), I(0), I(1), node7("h", 65536);
}
static void bad_port_string(void)
{
	A(1), A(3), I(0), I(1), A(2), S("h"), S("7000");
}
static void bad_node_not_array(void)
{
	A(1), A(3), I(0), I(1), S("h:7000");
}
static void bad_node_short(void)
{
	A(1), A(3), I(0), I(1), A(1), S("h");
}
static void bad_endpoint_integer(void)
{
	A(1), A(3), I(0), I(1), A(2), I(1), I(7000);
}
static void bad_host_space(void)
{
	A(1), A(3), I(0), I(1), node7("a b", 7000);
}
static void bad_host_control(void)
{
	A(1), A(3), I(0), I(1), node7("a\tb", 7000);
}
static void bad_question_without_ip(void)
{
	A(1), A(3), I(0), I(1), node7("?", 7000);
}
static void bad_question_ip_is_question(void)
{
	A(1), A(3), I(0), I(1), A(4), S("?"), I(1), S("id"), A(2), S("ip"),
		S("?");
}
static void bad_host_long(void)
{
	char host[300];
	memset(host, 'h', 256);
	host[256] = '\0';
	A(1), A(3), I(0), I(1), node7(host, 7000);
}
static void bad_second_range(void)
{
	A(2), A(3), I(0), I(1), node7("h", 1), A(3), I(2), I(3), A(0);
}

Test(slots_parse, every_unexpected_shape_is_einval_with_a_reason)
{
	void (*bad[])(void) = {bad_not_array,
			       bad_error,
			       bad_range_short,
			       bad_range_not_array,
			       bad_bound_string,
			       bad_bound_negative,
			       bad_bound_16384,
			       bad_inverted,
			       bad_overlap,
			       bad_port_0,
			       bad_port_65536,
			       bad_port_string,
			       bad_node_not_array,
			       bad_node_short,
			       bad_endpoint_integer,
			       bad_host_space,
			       bad_host_control,
			       bad_question_without_ip,
			       bad_question_ip_is_question,
			       bad_host_long,
			       bad_second_range};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		bad[i]();
		redisReply *r = built();
		struct mt_redis_slots s;
		int rc = mt__redis_slots_parse(r, &s, why, sizeof why);
		cr_assert_eq(rc, EINVAL, "case %zu accepted", i);
		cr_assert_null(s.ranges, "case %zu", i);
		cr_assert_eq(s.nranges, 0);
		cr_assert(strncmp(why, "CLUSTER SLOTS reply: ", 21) == 0 &&
				  strlen(why) > 21,
			  "case %zu: \"%s\"", i, why);
		freeReplyObject(r);
	}
}

Test(slots_parse, error_reply_is_quoted_in_the_reason)
{
	bad_error();
	redisReply *r = built();
	struct mt_redis_slots s;

	cr_assert_eq(mt__redis_slots_parse(r, &s, why, sizeof why), EINVAL);
	cr_assert(strstr(why, "cluster support disabled"), "%s", why);
	cr_assert_eq(mt__redis_slots_parse(NULL, &s, NULL, 0), EINVAL);
	freeReplyObject(r);
}

Test(slots_parse, reason_is_cut_to_the_buffer)
{
	char small[8];

	bad_overlap();
	redisReply *r = built();
	struct mt_redis_slots s;
	cr_assert_eq(mt__redis_slots_parse(r, &s, small, sizeof small), EINVAL);
	cr_assert_eq(strlen(small), sizeof small - 1);
	freeReplyObject(r);
}

/* ------------------------------------------------------ the live map */

static struct mt_redis_slotmap *new_map(void)
{
	struct mt_redis_slotmap *m;
	cr_assert_eq(mt__redis_slotmap_create(&m), 0);
	return m;
}

static void install(struct mt_redis_slotmap *m, redisReply *r,
		    const char *asked)
{
	struct mt_redis_slots s;

	parse_ok(r, &s);
	cr_assert_eq(mt__redis_slotmap_install(m, &s, asked), 0);
	mt__redis_slots_free(&s);
	freeReplyObject(r);
}

static const char *owner_host(struct mt_redis_slotmap *m, unsigned slot)
{
	const struct mt_redis_node *n =
		mt__redis_slotmap_node(m, mt__redis_slotmap_owner(m, slot));
	return n ? n->host : NULL;
}

static int owner_port(struct mt_redis_slotmap *m, unsigned slot)
{
	const struct mt_redis_node *n =
		mt__redis_slotmap_node(m, mt__redis_slotmap_owner(m, slot));
	return n ? n->port : 0;
}

Test(slotmap, starts_empty)
{
	struct mt_redis_slotmap *m = new_map();

	for (unsigned s = 0; s < MT_REDIS_SLOTS; s++)
		cr_assert_eq(mt__redis_slotmap_owner(m, s), MT_REDIS_NO_NODE);
	cr_assert_eq(mt__redis_slotmap_generation(m), 0);
	cr_assert_eq(mt__redis_slotmap_node_count(m), 0);
	cr_assert_null(mt__redis_slotmap_node(m, 0));
	cr_assert_null(mt__redis_slotmap_node(m, MT_REDIS_NO_NODE));
	mt__redis_slotmap_destroy(m);
	mt__redis_slotmap_destroy(NULL);
}

Test(slotmap, intern_gives_one_stable_id_per_address)
{
	struct mt_redis_slotmap *m = new_map();
	unsigned a, b, c, a2;

	cr_assert_eq(mt__redis_slotmap_intern(m, "127.0.0.1", 7000, &a), 0);
	cr_assert_eq(mt__redis_slotmap_intern(m, "127.0.0.1", 7001, &b), 0);
	cr_assert_eq(mt__redis_slotmap_intern(m, "::1", 7000, &c), 0);
	cr_assert_eq(mt__redis_slotmap_intern(m, "127.0.0.1", 7000, &a2), 0);
	cr_assert_eq(a, 0);
	cr_assert_eq(b, 1);
	cr_assert_eq(c, 2);
	cr_assert_eq(a2, a);
	cr_assert_eq(mt__redis_slotmap_find(m, "::1", 7000), c);
	cr_assert_eq(mt__redis_slotmap_find(m, "::1", 7001), MT_REDIS_NO_NODE);
	cr_assert_str_eq(mt__redis_slotmap_node(m, b)->host, "127.0.0.1");
	cr_assert_eq(mt__redis_slotmap_node(m, b)->port, 7001);
	cr_assert_eq(mt__redis_slotmap_node(m, b)->id, b);
	cr_assert_eq(mt__redis_slotmap_node_count(m), 3);
	mt__redis_slotmap_destroy(m);
}

Test(slotmap, intern_refuses_bad_addresses)
{
	struct mt_redis_slotmap *m = new_map();
	unsigned id;

	cr_assert_eq(mt__redis_slotmap_intern(m, "", 1, &id), EINVAL);
	cr_assert_eq(mt__redis_slotmap_intern(m, NULL, 1, &id), EINVAL);
	cr_assert_eq(mt__redis_slotmap_intern(m, "h", 0, &id), EINVAL);
	cr_assert_eq(mt__redis_slotmap_intern(m, "h", 65536, &id), EINVAL);
	cr_assert_eq(mt__redis_slotmap_intern(m, "a b", 1, &id), EINVAL);
	cr_assert_eq(mt__redis_slotmap_node_count(m), 0);
	mt__redis_slotmap_destroy(m);
}

Test(slotmap, intern_stops_at_the_id_limit_with_enospc,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct mt_redis_slotmap *m = new_map();
	char host[32];
	unsigned id;

	for (unsigned i = 0; i < MT_REDIS_MAX_NODES; i++) {
		snprintf(host, sizeof host, "n%u", i);
		cr_assert_eq(mt__redis_slotmap_intern(m, host, 1, &id), 0);
		cr_assert_eq(id, i);
	}
	cr_assert_eq(mt__redis_slotmap_intern(m, "one-more", 1, &id), ENOSPC);
	cr_assert_eq(mt__redis_slotmap_intern(m, "n77", 1, &id), 0);
	cr_assert_eq(id, 77);
	cr_assert_str_eq(mt__redis_slotmap_node(m, 65534)->host, "n65534");
	mt__redis_slotmap_destroy(m);
}

Test(slotmap, install_routes_every_slot_to_its_ranges_master)
{
	struct mt_redis_slotmap *m = new_map();

	install(m, three_masters("127.0.0.1"), "seed");
	cr_assert_eq(mt__redis_slotmap_generation(m), 1);
	cr_assert_eq(owner_port(m, 0), 7001);
	cr_assert_eq(owner_port(m, 5460), 7001);
	cr_assert_eq(owner_port(m, 5461), 7002);
	cr_assert_eq(owner_port(m, 12182), 7003);
	cr_assert_eq(owner_port(m, 16383), 7003);
	cr_assert_str_eq(owner_host(m, 16383), "127.0.0.1");
	mt__redis_slotmap_destroy(m);
}

Test(slotmap, reinstall_moves_changed_slots_and_keeps_node_ids)
{
	struct mt_redis_slotmap *m = new_map();

	install(m, three_masters("127.0.0.1"), "seed");
	unsigned id7003 = mt__redis_slotmap_owner(m, 16000);
	/* Slot 0 moved to 7003; slots 100..5460 served by nobody (a failed
	 * master without replica). */
	A(3);
	A(3), I(0), I(0), node7("127.0.0.1", 7003);
	A(3), I(1), I(99), node7("127.0.0.1", 7001);
	A(3), I(5461), I(16383), node7("127.0.0.1", 7002);
	install(m, built(), "seed");
	cr_assert_eq(mt__redis_slotmap_generation(m), 2);
	cr_assert_eq(mt__redis_slotmap_owner(m, 0), id7003);
	cr_assert_eq(owner_port(m, 1), 7001);
	cr_assert_eq(mt__redis_slotmap_owner(m, 100), MT_REDIS_NO_NODE);
	cr_assert_eq(mt__redis_slotmap_owner(m, 5460), MT_REDIS_NO_NODE);
	cr_assert_eq(owner_port(m, 16000), 7002);
	cr_assert_eq(mt__redis_slotmap_node_count(m), 3);
	mt__redis_slotmap_destroy(m);
}

Test(slotmap, null_endpoint_is_registered_under_the_asked_host)
{
	struct mt_redis_slotmap *m = new_map();

	A(1);
	A(3), I(0), I(16383), A(4), N(), I(17001), S("id"), A(0);
	install(m, built(), "10.1.2.3");
	cr_assert_str_eq(owner_host(m, 42), "10.1.2.3");
	cr_assert_eq(owner_port(m, 42), 17001);
	mt__redis_slotmap_destroy(m);
}

Test(slotmap, failed_install_changes_no_owner_and_no_generation)
{
	struct mt_redis_slotmap *m = new_map();
	struct mt_redis_slots s;

	install(m, three_masters("127.0.0.1"), "seed");
	A(1);
	A(3), I(0), I(16383), A(2), N(), I(9000);
	redisReply *r = built();
	parse_ok(r, &s);
	cr_assert_eq(mt__redis_slotmap_install(m, &s, NULL), EINVAL);
	cr_assert_eq(mt__redis_slotmap_install(m, &s, ""), EINVAL);
	cr_assert_eq(mt__redis_slotmap_generation(m), 1);
	cr_assert_eq(owner_port(m, 0), 7001);
	cr_assert_eq(owner_port(m, 16383), 7003);
	mt__redis_slots_free(&s);
	freeReplyObject(r);
	mt__redis_slotmap_destroy(m);
}

Test(slotmap, moved_sets_one_slot_and_not_the_generation)
{
	struct mt_redis_slotmap *m = new_map();
	unsigned id;

	install(m, three_masters("127.0.0.1"), "seed");
	cr_assert_eq(mt__redis_slotmap_moved(m, 12182, "127.0.0.1", 7001, &id),
		     0);
	cr_assert_eq(mt__redis_slotmap_owner(m, 12182), id);
	cr_assert_eq(owner_port(m, 12182), 7001);
	cr_assert_eq(owner_port(m, 12181), 7003);
	cr_assert_eq(owner_port(m, 12183), 7003);
	cr_assert_eq(mt__redis_slotmap_generation(m), 1);
	cr_assert_eq(mt__redis_slotmap_moved(m, 5, "10.9.9.9", 6379, &id), 0);
	cr_assert_str_eq(owner_host(m, 5), "10.9.9.9");
	cr_assert_eq(mt__redis_slotmap_moved(m, 16384, "h", 1, &id), EINVAL);
	cr_assert_eq(mt__redis_slotmap_moved(m, 1, "", 1, &id), EINVAL);
	mt__redis_slotmap_destroy(m);
}

Test(slotmap, candidates_are_masters_then_replicas_then_the_rest)
{
	struct mt_redis_slotmap *m = new_map();
	unsigned seed, ids[16];

	cr_assert_eq(mt__redis_slotmap_intern(m, "seed", 1, &seed), 0);
	A(2);
	A(4), I(0), I(8000), node7("m1", 1), node7("r1", 1);
	A(4), I(8001), I(16383), node7("m2", 1), node7("r2", 1);
	install(m, built(), "seed");
	size_t n = mt__redis_slotmap_candidates(m, ids, 16);
	cr_assert_eq(n, 5);
	cr_assert_str_eq(mt__redis_slotmap_node(m, ids[0])->host, "m1");
	cr_assert_str_eq(mt__redis_slotmap_node(m, ids[1])->host, "m2");
	cr_assert_str_eq(mt__redis_slotmap_node(m, ids[2])->host, "r1");
	cr_assert_str_eq(mt__redis_slotmap_node(m, ids[3])->host, "r2");
	cr_assert_eq(ids[4], seed);
	cr_assert_eq(mt__redis_slotmap_candidates(m, ids, 2), 2);
	cr_assert_str_eq(mt__redis_slotmap_node(m, ids[1])->host, "m2");
	mt__redis_slotmap_destroy(m);
}

/* ---------------------------------------- readers during rewrites */

/* Two layouts alternate: slot s is served by A[s % 2] in one and by
 * B[s % 2] in the other, with MOVED updates in between. Every read must
 * name a published node of the right pair. */
struct race {
	struct mt_redis_slotmap *m;
	redisReply *layout[2];
	_Atomic int stop;
};

static redisReply *layout(int which)
{
	const char *h = which ? "b" : "a";
	A(MT_REDIS_SLOTS / 512);
	for (unsigned s = 0; s < MT_REDIS_SLOTS; s += 512) {
		A(3), I(s), I(s + 511), node7(h, 1 + (int)(s / 512) % 2);
	}
	return built();
}

static void *reader(void *arg)
{
	struct race *r = arg;
	unsigned long reads = 0;

	while (!atomic_load_explicit(&r->stop, memory_order_relaxed) ||
	       reads < 100000) {
		unsigned slot = (unsigned)(reads * 7919) % MT_REDIS_SLOTS;
		const struct mt_redis_node *n = mt__redis_slotmap_node(
			r->m, mt__redis_slotmap_owner(r->m, slot));
		if (!n ||
		    (n->host[0] != 'a' && n->host[0] != 'b' &&
		     n->host[0] != 'm') ||
		    n->port < 1 || n->port > 2)
			return (void *)1;
		reads++;
	}
	return NULL;
}

Test(slotmap, readers_see_only_published_nodes_while_it_is_rewritten,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct race r = {.m = new_map()};
	struct mt_redis_slots s[2];
	pthread_t t[3];
	unsigned id;
	char host[16];

	r.layout[0] = layout(0);
	r.layout[1] = layout(1);
	parse_ok(r.layout[0], &s[0]);
	parse_ok(r.layout[1], &s[1]);
	cr_assert_eq(mt__redis_slotmap_install(r.m, &s[0], "x"), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, reader, &r), 0);
	for (int round = 0; round < 200; round++) {
		cr_assert_eq(mt__redis_slotmap_install(r.m, &s[round % 2], "x"),
			     0);
		snprintf(host, sizeof host, "m%d", round);
		cr_assert_eq(mt__redis_slotmap_moved(r.m, (unsigned)round * 13,
						     host, 1 + round % 2, &id),
			     0);
	}
	atomic_store_explicit(&r.stop, 1, memory_order_relaxed);
	for (int i = 0; i < 3; i++) {
		void *bad;
		cr_assert_eq(pthread_join(t[i], &bad), 0);
		cr_assert_null(bad, "a reader saw an unpublished node");
	}
	cr_assert_eq(mt__redis_slotmap_generation(r.m), 201);
	for (int i = 0; i < 2; i++) {
		mt__redis_slots_free(&s[i]);
		freeReplyObject(r.layout[i]);
	}
	mt__redis_slotmap_destroy(r.m);
}
