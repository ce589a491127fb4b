/*
 * tests/redis/test_redirect.c: the cluster error texts (redis/redirect.h),
 * including the forms redis-server 7.0.15 was seen to send. The live
 * MOVED / ASK replies of a real cluster are parsed in test_cluster.c.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "redirect.h"

static struct mt_redis_redirect rd;

static int parse(const char *text)
{
	memset(&rd, 0x5a, sizeof rd); /* what parse leaves must be its own */
	return mt__redis_redirect_parse(text, strlen(text), &rd);
}

static void assert_target(enum mt_redis_redirect_kind kind, unsigned slot,
			  const char *host, int port)
{
	cr_assert_eq(rd.kind, kind);
	cr_assert_eq(rd.slot, slot);
	cr_assert_str_eq(rd.host, host);
	cr_assert_eq(rd.port, port);
}

static void assert_malformed(const char *text)
{
	cr_assert_eq(parse(text), EINVAL, "accepted \"%s\"", text);
	cr_assert_eq(rd.kind, MT_REDIS_REDIRECT_NONE, "\"%s\"", text);
	cr_assert_eq(rd.port, 0);
	cr_assert_str_eq(rd.host, "");
}

Test(redirect, moved_with_an_ipv4_endpoint)
{
	cr_assert_eq(parse("MOVED 3999 127.0.0.1:6381"), 0);
	assert_target(MT_REDIS_REDIRECT_MOVED, 3999, "127.0.0.1", 6381);
}

Test(redirect, ask_with_an_ipv4_endpoint)
{
	cr_assert_eq(parse("ASK 16383 10.0.0.7:7000"), 0);
	assert_target(MT_REDIS_REDIRECT_ASK, 16383, "10.0.0.7", 7000);
}

Test(redirect, ipv6_host_ends_at_the_last_colon)
{
	cr_assert_eq(parse("MOVED 12182 ::1:17003"), 0);
	assert_target(MT_REDIS_REDIRECT_MOVED, 12182, "::1", 17003);
	cr_assert_eq(parse("ASK 0 fe80::1:2:3:4:65535"), 0);
	assert_target(MT_REDIS_REDIRECT_ASK, 0, "fe80::1:2:3:4", 65535);
}

Test(redirect, bracketed_ipv6_host_loses_its_brackets)
{
	cr_assert_eq(parse("MOVED 1 [::1]:6379"), 0);
	assert_target(MT_REDIS_REDIRECT_MOVED, 1, "::1", 6379);
}

Test(redirect, empty_endpoint_means_the_node_asked)
{
	cr_assert_eq(parse("MOVED 12182 :17003"), 0);
	assert_target(MT_REDIS_REDIRECT_MOVED, 12182, "", 17003);
	cr_assert_eq(parse("ASK 7 :6380"), 0);
	assert_target(MT_REDIS_REDIRECT_ASK, 7, "", 6380);
}

Test(redirect, question_mark_endpoint_is_kept_for_the_caller)
{
	cr_assert_eq(parse("MOVED 12182 ?:17003"), 0);
	assert_target(MT_REDIS_REDIRECT_MOVED, 12182, "?", 17003);
}

Test(redirect, hostname_endpoint)
{
	cr_assert_eq(parse("MOVED 5 redis-3.cache.internal:6379"), 0);
	assert_target(MT_REDIS_REDIRECT_MOVED, 5, "redis-3.cache.internal",
		      6379);
}

Test(redirect, retry_and_refusal_errors_are_classified_by_their_word)
{
	cr_assert_eq(parse("TRYAGAIN Multiple keys request during rehashing "
			   "of slot"),
		     0);
	cr_assert_eq(rd.kind, MT_REDIS_REDIRECT_TRYAGAIN);
	cr_assert_eq(parse("CLUSTERDOWN The cluster is down"), 0);
	cr_assert_eq(rd.kind, MT_REDIS_REDIRECT_CLUSTERDOWN);
	cr_assert_eq(parse("CLUSTERDOWN Hash slot not served"), 0);
	cr_assert_eq(rd.kind, MT_REDIS_REDIRECT_CLUSTERDOWN);
	cr_assert_eq(parse("CROSSSLOT Keys in request don't hash to the "
			   "same slot"),
		     0);
	cr_assert_eq(rd.kind, MT_REDIS_REDIRECT_CROSSSLOT);
	cr_assert_eq(parse("TRYAGAIN"), 0);
	cr_assert_eq(rd.kind, MT_REDIS_REDIRECT_TRYAGAIN);
	cr_assert_eq(rd.port, 0);
	cr_assert_str_eq(rd.host, "");
}

Test(redirect, other_errors_are_none)
{
	const char *texts[] = {
		"WRONGTYPE Operation against a key holding the wrong kind",
		"ERR unknown command",
		"MOVEDX 1 a:1",
		"ASKING",
		"moved 1 a:1",
		"EXECABORT Transaction discarded because of previous errors.",
		"",
		" MOVED 1 a:1",
		"TRYAGAINX",
		"CROSSSLOTS x"};

	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		cr_assert_eq(parse(texts[i]), 0, "\"%s\"", texts[i]);
		cr_assert_eq(rd.kind, MT_REDIS_REDIRECT_NONE, "\"%s\"",
			     texts[i]);
	}
	cr_assert_eq(mt__redis_redirect_parse(NULL, 0, &rd), 0);
	cr_assert_eq(rd.kind, MT_REDIS_REDIRECT_NONE);
}

Test(redirect, malformed_moved_and_ask_are_einval)
{
	const char *texts[] = {"MOVED",
			       "MOVED ",
			       "ASK",
			       "MOVED 1",
			       "MOVED 1 ",
			       "MOVED 1 host",
			       "MOVED 1 host:",
			       "MOVED 1 host:0",
			       "MOVED 1 host:65536",
			       "MOVED 1 host:-1",
			       "MOVED 1 host:+1",
			       "MOVED 1 host:12a",
			       "MOVED 1 host:123456",
			       "MOVED 16384 h:1",
			       "MOVED 99999 h:1",
			       "MOVED -1 h:1",
			       "MOVED x h:1",
			       "MOVED  1 h:1",
			       "MOVED 1  h:1",
			       "MOVED 1 h:1 ",
			       "MOVED 1 h:1 x",
			       "MOVED 1 h h:1",
			       "MOVED 1 [::1:1",
			       "MOVED 1 [h]]:1",
			       "MOVED 1 h\x01:1",
			       "MOVED 1 h\x7f:1",
			       "MOVED 1 h\xc3\xa9:1",
			       "MOVED 123456 h:1",
			       "ASK 1 h:1\r\n",
			       "MOVED 1 []x:1"};

	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
		assert_malformed(texts[i]);
}

Test(redirect, text_need_not_be_nul_terminated)
{
	const char buf[] = "MOVED 42 a:1234XXXX";

	cr_assert_eq(mt__redis_redirect_parse(buf, 15, &rd), 0);
	assert_target(MT_REDIS_REDIRECT_MOVED, 42, "a", 1234);
}

Test(redirect, nul_inside_the_text_is_malformed)
{
	const char buf[] = "MOVED 42 a\0b:1";

	cr_assert_eq(mt__redis_redirect_parse(buf, sizeof buf - 1, &rd),
		     EINVAL);
}

Test(redirect, host_of_255_bytes_fits_and_256_does_not)
{
	char text[300] = "MOVED 1 ";
	size_t at = strlen(text);

	memset(text + at, 'h', 255);
	strcpy(text + at + 255, ":9");
	cr_assert_eq(parse(text), 0);
	cr_assert_eq(strlen(rd.host), 255);
	memset(text + at, 'h', 256);
	strcpy(text + at + 256, ":9");
	assert_malformed(text);
}
