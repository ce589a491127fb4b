/*
 * tests/redis/test_uri.c: the URI parser of redis/uri.h (no server).
 *
 * Order: every accepted form with every part checked (TCP, IPv6, unix,
 * cluster seed lists, percent-decoding), then every refusal with the part
 * its text must name, then the password rule: one distinctive password
 * placed into every kind of bad URI never appears in the reason, not
 * even four bytes of it. Last the small contracts: `why` on success, cut
 * to whylen, NULL arguments, free of a zeroed struct, address formatting.
 */
#define _GNU_SOURCE /* strcasestr */

#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "uri.h"

#define WHYLEN 256

/* Parses text that must be accepted; fails the test with the reason. */
static void parse_ok(const char *text, struct mt_redis_uri *u)
{
	char why[WHYLEN] = "x";
	int rc = mt__redis_uri_parse(text, u, why, sizeof why);
	cr_assert_eq(rc, 0, "%s: rc %d, why: %s", text, rc, why);
	cr_assert_str_empty(why, "%s: why not empty on success", text);
}

/* Parses text that must be refused with EINVAL and a reason holding
 * `part` (case-insensitive); returns nothing, leaves *u zeroed. */
static void parse_bad(const char *text, const char *part)
{
	struct mt_redis_uri u;
	char why[WHYLEN] = "";
	int rc = mt__redis_uri_parse(text, &u, why, sizeof why);
	cr_assert_eq(rc, EINVAL, "%s: rc %d (want EINVAL)", text, rc);
	cr_assert(strcasestr(why, part) != NULL,
		  "%s: reason \"%s\" does not name \"%s\"", text, why, part);
	cr_assert_null(u.addrs, "%s: addrs kept after a failure", text);
	cr_assert_null(u.password, "%s: password kept after a failure", text);
}

static void check_tcp(const struct mt_redis_addr *a, const char *host, int port)
{
	cr_assert_str_eq(a->host, host);
	cr_assert_eq(a->port, port);
	cr_assert_null(a->path);
}

/* ------------------------------------------------------- good forms */

Test(uri_ok, host_alone_gets_port_6379_and_db_0)
{
	struct mt_redis_uri u;
	parse_ok("redis://cache.example.com", &u);
	cr_assert_eq(u.kind, MT_REDIS_URI_TCP);
	cr_assert_eq(u.naddrs, 1);
	check_tcp(&u.addrs[0], "cache.example.com", 6379);
	cr_assert_eq(u.db, 0);
	cr_assert_null(u.user);
	cr_assert_null(u.password);
	mt__redis_uri_free(&u);
}

Test(uri_ok, port_and_db_are_read)
{
	struct mt_redis_uri u;
	parse_ok("redis://127.0.0.1:6380/15", &u);
	check_tcp(&u.addrs[0], "127.0.0.1", 6380);
	cr_assert_eq(u.db, 15);
	mt__redis_uri_free(&u);
}

Test(uri_ok, limits_of_port_and_db_are_accepted)
{
	struct mt_redis_uri u;
	parse_ok("redis://h:65535/2147483647", &u);
	check_tcp(&u.addrs[0], "h", 65535);
	cr_assert_eq(u.db, 2147483647);
	mt__redis_uri_free(&u);
	parse_ok("redis://h:1/0", &u);
	check_tcp(&u.addrs[0], "h", 1);
	mt__redis_uri_free(&u);
}

Test(uri_ok, trailing_slash_is_db_0)
{
	struct mt_redis_uri u;
	parse_ok("redis://h:7/", &u);
	cr_assert_eq(u.db, 0);
	mt__redis_uri_free(&u);
}

Test(uri_ok, scheme_is_case_insensitive)
{
	struct mt_redis_uri u;
	parse_ok("REDIS://H", &u);
	cr_assert_eq(u.kind, MT_REDIS_URI_TCP);
	mt__redis_uri_free(&u);
	parse_ok("Unix:///s", &u);
	cr_assert_eq(u.kind, MT_REDIS_URI_UNIX);
	mt__redis_uri_free(&u);
	parse_ok("Redis-Cluster://a:1", &u);
	cr_assert_eq(u.kind, MT_REDIS_URI_CLUSTER);
	mt__redis_uri_free(&u);
}

Test(uri_ok, host_names_take_dash_dot_underscore)
{
	struct mt_redis_uri u;
	parse_ok("redis://redis_1.internal-net.local:6379", &u);
	check_tcp(&u.addrs[0], "redis_1.internal-net.local", 6379);
	mt__redis_uri_free(&u);
}

Test(uri_ok, ipv6_in_brackets_is_stored_without_them)
{
	struct mt_redis_uri u;
	parse_ok("redis://[::1]:6390/2", &u);
	check_tcp(&u.addrs[0], "::1", 6390);
	cr_assert_eq(u.db, 2);
	mt__redis_uri_free(&u);
	parse_ok("redis://[2001:db8::7]", &u);
	check_tcp(&u.addrs[0], "2001:db8::7", 6379);
	mt__redis_uri_free(&u);
}

Test(uri_ok, password_alone_is_auth_for_the_default_user)
{
	struct mt_redis_uri u;
	parse_ok("redis://:s3cret@h", &u);
	cr_assert_null(u.user);
	cr_assert_str_eq(u.password, "s3cret");
	mt__redis_uri_free(&u);
}

Test(uri_ok, user_and_password_are_both_kept)
{
	struct mt_redis_uri u;
	parse_ok("redis://alice:pw@h:1/3", &u);
	cr_assert_str_eq(u.user, "alice");
	cr_assert_str_eq(u.password, "pw");
	cr_assert_eq(u.db, 3);
	mt__redis_uri_free(&u);
}

Test(uri_ok, password_may_hold_raw_colons)
{
	struct mt_redis_uri u;
	parse_ok("redis://bob:a:b:c@h", &u);
	cr_assert_str_eq(u.user, "bob");
	cr_assert_str_eq(u.password, "a:b:c");
	mt__redis_uri_free(&u);
}

Test(uri_ok, reserved_characters_are_percent_decoded)
{
	struct mt_redis_uri u;
	parse_ok("redis://us%3Aer%40x:p%40ss%2F%3F%23%25%20w@h", &u);
	cr_assert_str_eq(u.user, "us:er@x");
	cr_assert_str_eq(u.password, "p@ss/?#% w");
	mt__redis_uri_free(&u);
}

Test(uri_ok, high_bytes_decode_as_they_are)
{
	struct mt_redis_uri u;
	parse_ok("redis://:%C3%A9%ff@h", &u);
	cr_assert_str_eq(u.password, "\xc3\xa9\xff");
	mt__redis_uri_free(&u);
}

Test(uri_ok, unix_socket_with_db_query)
{
	struct mt_redis_uri u;
	parse_ok("unix:///run/redis/redis.sock?db=4", &u);
	cr_assert_eq(u.kind, MT_REDIS_URI_UNIX);
	cr_assert_eq(u.naddrs, 1);
	cr_assert_str_eq(u.addrs[0].path, "/run/redis/redis.sock");
	cr_assert_null(u.addrs[0].host);
	cr_assert_eq(u.addrs[0].port, 0);
	cr_assert_eq(u.db, 4);
	mt__redis_uri_free(&u);
}

Test(uri_ok, unix_socket_with_credentials_and_encoded_path)
{
	struct mt_redis_uri u;
	parse_ok("unix://app:p%40w@/tmp/my%20dir/s.sock", &u);
	cr_assert_str_eq(u.user, "app");
	cr_assert_str_eq(u.password, "p@w");
	cr_assert_str_eq(u.addrs[0].path, "/tmp/my dir/s.sock");
	cr_assert_eq(u.db, 0);
	mt__redis_uri_free(&u);
}

Test(uri_ok, unix_empty_query_is_db_0)
{
	struct mt_redis_uri u;
	parse_ok("unix:///s?", &u);
	cr_assert_eq(u.db, 0);
	mt__redis_uri_free(&u);
}

Test(uri_ok, cluster_seed_list_keeps_order_and_forms)
{
	struct mt_redis_uri u;
	parse_ok("redis-cluster://:p%2Cw@10.0.0.1:7000,[::1]:7001,"
		 "node-c:7002",
		 &u);
	cr_assert_eq(u.kind, MT_REDIS_URI_CLUSTER);
	cr_assert_eq(u.naddrs, 3);
	check_tcp(&u.addrs[0], "10.0.0.1", 7000);
	check_tcp(&u.addrs[1], "::1", 7001);
	check_tcp(&u.addrs[2], "node-c", 7002);
	cr_assert_str_eq(u.password, "p,w");
	cr_assert_eq(u.db, 0);
	mt__redis_uri_free(&u);
}

Test(uri_ok, cluster_single_seed_and_trailing_slash)
{
	struct mt_redis_uri u;
	parse_ok("redis-cluster://u:p@a:1/", &u);
	cr_assert_eq(u.naddrs, 1);
	check_tcp(&u.addrs[0], "a", 1);
	cr_assert_str_eq(u.user, "u");
	mt__redis_uri_free(&u);
}

/* The userinfo ends at the first '@' (no userinfo or host may hold a raw
 * one), so commas before it belong to the password. */
Test(uri_ok, cluster_password_with_raw_comma_is_not_a_seed)
{
	struct mt_redis_uri u;
	parse_ok("redis-cluster://:a,b@h1:1,h2:2", &u);
	cr_assert_str_eq(u.password, "a,b");
	cr_assert_eq(u.naddrs, 2);
	check_tcp(&u.addrs[1], "h2", 2);
	mt__redis_uri_free(&u);
	parse_ok("redis-cluster://a:1,u:p@b:2", &u);
	cr_assert_str_eq(u.user, "a");
	cr_assert_str_eq(u.password, "1,u:p");
	cr_assert_eq(u.naddrs, 1);
	check_tcp(&u.addrs[0], "b", 2);
	mt__redis_uri_free(&u);
}

/* -------------------------------------------------------- bad forms */

Test(uri_bad, scheme_errors_name_the_scheme)
{
	parse_bad("", "empty");
	parse_bad("localhost:6379", "scheme");
	parse_bad("//h:1", "scheme");
	parse_bad("http://h", "unknown scheme");
	parse_bad("rediss://h", "TLS");
	parse_bad("redis:h", "'//'");
	parse_bad("unix:/tmp/s", "'//'");
}

Test(uri_bad, host_errors_name_the_host)
{
	parse_bad("redis://", "host is missing");
	parse_bad("redis://:6379/0", "host is missing");
	parse_bad("redis://h k", "in the host");
	parse_bad("redis://ho%41st", "host name");
	parse_bad("redis://h!x", "host name");
	parse_bad("redis://a,b:1", "redis-cluster://");
	parse_bad("redis://999.1.1.1", "IPv4");
	parse_bad("redis://12345", "IPv4");
	parse_bad("redis://[v1.x]", "IPvFuture");
	parse_bad("redis://[::1", "host");
	parse_bad("redis://[::g]", "host");
	parse_bad("redis://[fe80::1%25eth0]", "host");
}

Test(uri_bad, overlong_host_name_is_refused)
{
	char text[400] = "redis://";
	memset(text + 8, 'a', 256);
	parse_bad(text, "255");
}

Test(uri_bad, port_errors_name_the_port)
{
	parse_bad("redis://h:/", "port");
	parse_bad("redis://h:0", "port");
	parse_bad("redis://h:65536", "port");
	parse_bad("redis://h:99999999999999999999", "port");
	parse_bad("redis://h:x", "port");
	parse_bad("redis://h:1x/0", "port");
	parse_bad("redis://h:-1", "port");
	parse_bad("redis://[::1]:x", "port");
}

Test(uri_bad, db_errors_name_the_db)
{
	parse_bad("redis://h/x", "db");
	parse_bad("redis://h/-1", "db");
	parse_bad("redis://h/+1", "db");
	parse_bad("redis://h/2147483648", "db");
	parse_bad("redis://h/1/2", "one segment");
	parse_bad("redis://h//", "one segment");
	parse_bad("redis://h/%31", "db");
}

Test(uri_bad, query_and_fragment_are_named)
{
	parse_bad("redis://h?db=1", "query");
	parse_bad("redis://h?", "query");
	parse_bad("redis://h/0#x", "fragment");
	parse_bad("unix:///s#x", "fragment");
	parse_bad("redis-cluster://a:1#x", "fragment");
}

Test(uri_bad, userinfo_errors_name_user_or_password)
{
	parse_bad("redis://@h", "userinfo");
	parse_bad("redis://bob@h", "no password");
	parse_bad("redis://bob:@h", "password is empty");
	parse_bad("redis://:@h", "password is empty");
	parse_bad("redis://:a%00b@h", "%00");
	parse_bad("redis://a%00:b@h", "user contains %00");
	parse_bad("redis://:%zz@h", "userinfo");
	parse_bad("redis://:%4@h", "userinfo");
}

Test(uri_bad, unencoded_reserved_bytes_in_a_password_get_the_hint)
{
	parse_bad("redis://:p@ss@h", "percent-encoded");
	parse_bad("redis://:p/ss@h", "percent-encoded");
	parse_bad("redis://:p?ss@h", "percent-encoded");
	parse_bad("redis://:p#ss@h", "percent-encoded");
	parse_bad("redis-cluster://:p@ss@a:1", "percent-encoded");
}

Test(uri_bad, unix_errors_name_the_part)
{
	parse_bad("unix://", "socket path is missing");
	parse_bad("unix:///", "socket path is missing");
	parse_bad("unix://host/s", "no host");
	parse_bad("unix://[::1]/s", "no host");
	parse_bad("unix://:99/s", "no port");
	parse_bad("unix:///a%00b", "socket path contains %00");
	parse_bad("unix:///a b", "socket path");
	parse_bad("unix:///s?db=x", "db in the query");
	parse_bad("unix:///s?db=2147483648", "db in the query");
	parse_bad("unix:///s?db", "no value");
	parse_bad("unix:///s?db=1&db=2", "twice");
	parse_bad("unix:///s?timeout=3", "unknown query key");
}

Test(uri_bad, unix_path_longer_than_sun_path_is_refused)
{
	char text[200] = "unix:///";
	memset(text + 8, 'p', 107); /* "/" + 107 bytes = 108 > 107 */
	parse_bad(text, "107");
	text[8 + 106] = '\0'; /* exactly 107 bytes: accepted */
	struct mt_redis_uri u;
	parse_ok(text, &u);
	cr_assert_eq(strlen(u.addrs[0].path), 107);
	mt__redis_uri_free(&u);
}

Test(uri_bad, cluster_errors_name_the_seed)
{
	parse_bad("redis-cluster://", "cluster seed 1: empty");
	parse_bad("redis-cluster://a:1,,b:2", "cluster seed 2: empty");
	parse_bad("redis-cluster://a:1,", "cluster seed 2: empty");
	parse_bad("redis-cluster://a:1,b:2,c", "cluster seed 3: no port");
	parse_bad("redis-cluster://a", "cluster seed 1: no port");
	parse_bad("redis-cluster://a:1,b:x", "cluster seed 2: the port");
	parse_bad("redis-cluster://a:1,b:70000", "cluster seed 2: the port");
	parse_bad("redis-cluster://a:1,b!:2", "cluster seed 2: the host");
	parse_bad("redis-cluster://:pw@a:1,u:p@b:2", "inside the seed list");
	parse_bad("redis-cluster://a:1,b:2/0", "only db 0");
	parse_bad("redis-cluster://a:1?x=1", "query");
	parse_bad("redis-cluster://a:1,[::1:2", "cluster seed 2");
}

Test(uri_bad, cluster_syntax_error_position_is_in_the_original_text)
{
	struct mt_redis_uri u;
	char why[WHYLEN];
	/* The space is byte 22 (1-based) of the original; the parser saw
	 * it inside "redis-cluster://b k:2", at byte 18. */
	const char *text = "redis-cluster://a:1,b k:2";
	cr_assert_eq(mt__redis_uri_parse(text, &u, why, sizeof why), EINVAL);
	cr_assert(strstr(why, "position 22, in cluster seed 2") != NULL,
		  "why: %s", why);
}

Test(uri_bad, syntax_error_position_counts_from_1)
{
	struct mt_redis_uri u;
	char why[WHYLEN];
	cr_assert_eq(mt__redis_uri_parse("redis://h k", &u, why, sizeof why),
		     EINVAL);
	cr_assert(strstr(why, "position 10, in the host") != NULL, "why: %s",
		  why);
}

/* ---------------------------------------------------- the password */

/* A password nothing in the parser's texts could spell by chance. */
#define PW "Zq7vXw9kPj"

/* Fails when any 4 consecutive bytes of PW appear in why. */
static void assert_no_password(const char *uri, const char *why)
{
	static const char pw[] = PW;
	char piece[5];
	for (size_t i = 0; i + 4 <= strlen(pw); i++) {
		memcpy(piece, &pw[i], 4);
		piece[4] = '\0';
		cr_assert(strstr(why, piece) == NULL,
			  "reason for %s quotes the password: %s", uri, why);
	}
}

/* Every kind of bad URI, each holding the password (raw or in a place
 * the parser misreads), and one per refusal path of the parser. */
static const char *const with_password[] = {
	PW "://h",			     /* password typed as a scheme */
	"rediss://:" PW "@h",		     /* TLS */
	"redis:" PW "@h",		     /* no "//" */
	"redis://:" PW "@",		     /* no host */
	"redis://:" PW "@h k",		     /* syntax error in the host */
	"redis://:" PW "@h!",		     /* bad host name */
	"redis://:" PW "@a,b:1",	     /* seed list in redis:// */
	"redis://:" PW "@999.9.9.9",	     /* not IPv4 */
	"redis://:" PW "@[v1.x]",	     /* IPvFuture */
	"redis://:" PW "@[::1",		     /* cut IPv6 */
	"redis://:" PW "@h:0",		     /* port range */
	"redis://:" PW "@h:1x",		     /* port digits */
	"redis://:" PW "@h/x",		     /* db */
	"redis://:" PW "@h/1/2",	     /* path */
	"redis://:" PW "@h?db=1",	     /* query */
	"redis://:" PW "@h#" PW,	     /* fragment */
	"redis://:" PW "%00@h",		     /* %00 in the password */
	"redis://:" PW "%zz@h",		     /* bad escape */
	"redis://:" PW "@x@h",		     /* raw '@' in the password */
	"redis://:" PW "/x@h",		     /* raw '/' */
	"redis://:" PW "?x@h",		     /* raw '?' */
	"redis://:" PW "#x@h",		     /* raw '#' */
	"redis://:" PW " x@h",		     /* raw space */
	"redis://" PW "@h",		     /* the password taken as a user */
	"redis://" PW ":@h",		     /* empty password */
	"redis://" PW "%00:x@h",	     /* %00 in the user */
	"unix://:" PW "@host/s",	     /* unix host */
	"unix://:" PW "@:1/s",		     /* unix port */
	"unix://:" PW "@",		     /* unix path missing */
	"unix://:" PW "@/s?db=" PW,	     /* unix db */
	"unix://:" PW "@/s?" PW "=1",	     /* unix query key */
	"unix://:" PW "@/s?db=1&db=2",	     /* unix db twice */
	"unix://:" PW "@/a%00",		     /* unix path %00 */
	"redis-cluster://:" PW "@",	     /* no seed */
	"redis-cluster://:" PW "@a:1,,b:2",  /* empty seed */
	"redis-cluster://:" PW "@a:1,b",     /* seed without port */
	"redis-cluster://:" PW "@a:1,b:x",   /* seed port */
	"redis-cluster://:" PW "@a:1,b k:1", /* seed syntax */
	"redis-cluster://:" PW "@a:1,x:" PW "@b:2", /* '@' in the seeds */
	"redis-cluster://:" PW "@a:1/0",	    /* cluster db */
	"redis-cluster://:" PW "@a:1?q",	    /* cluster query */
	"redis-cluster://:" PW "@a:1#f",	    /* cluster fragment */
	"redis-cluster://:" PW "@@a:1",		    /* raw '@' */
};

Test(uri_password, never_appears_in_any_reason)
{
	size_t n = sizeof with_password / sizeof with_password[0];
	for (size_t i = 0; i < n; i++) {
		struct mt_redis_uri u;
		char why[WHYLEN] = "";
		int rc = mt__redis_uri_parse(with_password[i], &u, why,
					     sizeof why);
		cr_assert_eq(rc, EINVAL, "%s was accepted", with_password[i]);
		cr_assert_str_not_empty(why, "%s: no reason", with_password[i]);
		assert_no_password(with_password[i], why);
	}
}

Test(uri_password, percent_encoded_form_never_appears_either)
{
	/* "Zq7v%58w9kPj" decodes to PW: neither form may be quoted. */
	const char *uri = "redis://:Zq7v%58w9kPj@h:99999";
	char why[WHYLEN];
	struct mt_redis_uri u;
	cr_assert_eq(mt__redis_uri_parse(uri, &u, why, sizeof why), EINVAL);
	assert_no_password(uri, why);
	cr_assert(strstr(why, "%58w9") == NULL, "why: %s", why);
}

/* ------------------------------------------------- small contracts */

Test(uri_api, why_is_cut_to_whylen_and_terminated)
{
	struct mt_redis_uri u;
	char why[8];
	memset(why, 'x', sizeof why);
	cr_assert_eq(mt__redis_uri_parse("http://h", &u, why, sizeof why),
		     EINVAL);
	cr_assert_eq(strlen(why), sizeof why - 1);
}

Test(uri_api, why_may_be_null_or_zero_length)
{
	struct mt_redis_uri u;
	char why[4] = "abc";
	cr_assert_eq(mt__redis_uri_parse("http://h", &u, NULL, 0), EINVAL);
	cr_assert_eq(mt__redis_uri_parse("http://h", &u, why, 0), EINVAL);
	cr_assert_str_eq(why, "abc", "whylen 0 must not write");
	cr_assert_eq(mt__redis_uri_parse("redis://h", &u, NULL, 0), 0);
	mt__redis_uri_free(&u);
}

Test(uri_api, seed_prefix_is_cut_safely_too)
{
	struct mt_redis_uri u;
	char why[10];
	cr_assert_eq(mt__redis_uri_parse("redis-cluster://a:1,,b:2", &u, why,
					 sizeof why),
		     EINVAL);
	cr_assert_eq(strlen(why), sizeof why - 1);
}

Test(uri_api, null_arguments_are_einval)
{
	struct mt_redis_uri u;
	char why[WHYLEN];
	cr_assert_eq(mt__redis_uri_parse(NULL, &u, why, sizeof why), EINVAL);
	cr_assert_str_not_empty(why);
	cr_assert_null(u.addrs);
	cr_assert_eq(mt__redis_uri_parse("redis://h", NULL, why, sizeof why),
		     EINVAL);
}

Test(uri_api, free_accepts_zeroed_and_freed_structs)
{
	struct mt_redis_uri u;
	memset(&u, 0, sizeof u);
	mt__redis_uri_free(&u);
	mt__redis_uri_free(NULL);
	parse_ok("redis://:pw@h", &u);
	mt__redis_uri_free(&u);
	cr_assert_null(u.password);
	cr_assert_null(u.addrs);
	cr_assert_eq(u.naddrs, 0);
	mt__redis_uri_free(&u); /* zeroed by the first free */
}

Test(uri_api, addr_format_brackets_ipv6_and_prints_paths)
{
	struct mt_redis_uri u;
	char buf[64];
	parse_ok("redis-cluster://:pw@h:1,[::1]:2", &u);
	mt__redis_addr_format(&u.addrs[0], buf, sizeof buf);
	cr_assert_str_eq(buf, "h:1");
	mt__redis_addr_format(&u.addrs[1], buf, sizeof buf);
	cr_assert_str_eq(buf, "[::1]:2");
	mt__redis_addr_format(&u.addrs[1], buf, 4);
	cr_assert_str_eq(buf, "[::");
	mt__redis_uri_free(&u);
	parse_ok("unix:///tmp/r.sock?db=1", &u);
	mt__redis_addr_format(&u.addrs[0], buf, sizeof buf);
	cr_assert_str_eq(buf, "/tmp/r.sock");
	mt__redis_uri_free(&u);
	buf[0] = 'x';
	mt__redis_addr_format(NULL, buf, 0); /* len 0: nothing written */
	cr_assert_eq(buf[0], 'x');
}

/* ------------------------------------------------------ out of memory */

/* Fails every allocation from the k-th on (uri.h's hook), for k = 0, 1,
 * 2, ... until the parse succeeds: each failing parse must return ENOMEM,
 * say so, and keep nothing (the ASan build sees a leak or a double free);
 * the first that succeeds must equal the parse with no failure. The
 * parses that succeed need allocations, so k > 0 shows the hook took. */
static void parse_under_oom(const char *text)
{
	struct mt_redis_uri want, got;
	parse_ok(text, &want);
	int k;
	for (k = 0; k < 1000; k++) {
		char why[WHYLEN] = "";
		mt__redis_uri_fail_allocs_after = k;
		int rc = mt__redis_uri_parse(text, &got, why, sizeof why);
		mt__redis_uri_fail_allocs_after = -1;
		if (rc == 0)
			break;
		cr_assert_eq(rc, ENOMEM, "%s, fail after %d: rc %d (%s)", text,
			     k, rc, why);
		cr_assert_str_eq(why, "out of memory");
		cr_assert_null(got.addrs, "%s: addrs kept", text);
		cr_assert_null(got.password, "%s: password kept", text);
		cr_assert_null(got.user, "%s: user kept", text);
	}
	cr_assert_gt(k, 0, "%s: the hook failed no allocation", text);
	cr_assert_lt(k, 1000, "%s: never succeeded", text);
	cr_assert_eq(got.kind, want.kind);
	cr_assert_eq(got.naddrs, want.naddrs);
	cr_assert_eq(got.db, want.db);
	cr_assert_str_eq(got.password ? got.password : "",
			 want.password ? want.password : "");
	cr_assert_str_eq(got.user ? got.user : "", want.user ? want.user : "");
	for (size_t i = 0; i < want.naddrs; i++) {
		const struct mt_redis_addr *a = &got.addrs[i];
		const struct mt_redis_addr *b = &want.addrs[i];
		cr_assert_str_eq(a->host ? a->host : "",
				 b->host ? b->host : "");
		cr_assert_str_eq(a->path ? a->path : "",
				 b->path ? b->path : "");
		cr_assert_eq(a->port, b->port);
	}
	mt__redis_uri_free(&got);
	mt__redis_uri_free(&want);
}

Test(uri_oom, every_allocation_failure_is_enomem_and_keeps_nothing)
{
	parse_under_oom("redis://bob:p%40ss@cache.example.com:6380/3");
	parse_under_oom("redis://[::1]:7000");
	parse_under_oom("unix://:pw@/tmp/r%20dir/redis.sock?db=2");
	parse_under_oom("redis-cluster://:pw@a:1,[::1]:2,b.example:3");
}
