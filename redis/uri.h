/*
 * redis/uri.h: parsing the URIs that name a Redis deployment.
 *
 * Overview
 * ========
 *   redis://[[user]:password@]host[:port][/db]
 *   unix://[[user]:password@]/path/to/socket[?db=N]
 *   redis-cluster://[[user]:password@]host:port[,host:port...]
 *
 * mt__redis_uri_parse() fills a struct mt_redis_uri that owns copies of
 * every part (user and password percent-decoded). On a malformed URI it
 * writes a one-line reason into `why` that names the bad part (scheme,
 * host, port, db, userinfo, path, query, seed list) and never contains the
 * password: the reason is built from the URI's structure, not by quoting
 * it. A user without a password (`redis://bob@host`) is an error (AUTH
 * needs a password).
 *
 * Hosts: a name, an IPv4 address, or an IPv6 address in brackets
 * (`[::1]`, stored without the brackets). Ports 1..65535 (default 6379;
 * required for each cluster seed). db 0..2^31-1 (default 0; a cluster has
 * only db 0, so a db in a cluster URI is an error). The only query key is
 * `db`, for unix URIs.
 *
 * Usage
 * =====
 *   struct mt_redis_uri u;
 *   char why[MT_REDIS_ERRLEN];
 *   if (mt__redis_uri_parse(text, &u, why, sizeof why) != 0)
 *           return EINVAL;            why: "the port is not a number ..."
 *   ... u.addrs[0].host, u.addrs[0].port, u.password, u.db ...
 *   mt__redis_uri_free(&u);
 *
 * Implementation notes
 * ====================
 * liburiparser 0.9 (Debian's liburiparser1, RFC 3986) does the grammar:
 * it accepts or refuses the text, splits it into scheme, userinfo, host
 * (telling IPv4, bracketed IPv6 and IPvFuture apart, and checking each
 * address's own syntax), port digits, path segments, query and fragment,
 * and splits the unix query into key=value pairs (decoded). A text it
 * refuses gets "malformed URI: syntax error at position N, in the <part>",
 * the part found from our own scan of the delimiters (scheme, userinfo,
 * host, port, path, query, fragment, cluster seed N). liburiparser reports
 * some errors after their cause ("h:1x/0" at the '/'), so a port with a
 * non-digit is named as a bad port first.
 *
 * What RFC 3986 allows and we refuse or check on top:
 *  - the scheme (case-insensitive) is one of the three, followed by "//";
 *    rediss:// (TLS) is refused by name: hiredis 0.14 has no TLS;
 *  - a host name (reg-name) may hold only letters, digits, '-', '.', '_'
 *    (RFC 3986 also allows sub-delims and %-escapes, which no resolver
 *    takes), at most 255 bytes, and not only digits and dots (liburiparser
 *    takes "999.1.1.1" for a name; getaddrinfo would misread it);
 *    IPvFuture ([v1.x]) and IPv6 zone IDs ([fe80::1%25eth0], RFC 6874,
 *    which liburiparser 0.9 does not parse) are refused;
 *  - the port is 1..65535 (RFC 3986: any digits, even none);
 *  - userinfo: user and password split at the first ':' (a password may
 *    hold ':'), each percent-decoded by us (%00 refused: the result is a C
 *    string and AUTH would be cut); an empty userinfo, a user without a
 *    password and an empty password are refused;
 *  - redis://: at most one path segment, the db; no query; no fragment;
 *  - unix://: empty host, no port, the path percent-decoded (%00 refused)
 *    and shorter than sun_path (107 bytes); the query holds only db, once;
 *  - an error text never quotes the URI (only part names, positions and
 *    limits), so it cannot carry the password; the parse's own copies of
 *    the password (and the cluster text holding it) are wiped before they
 *    are freed.
 *
 * The cluster seed list `host:port,host:port` is not RFC 3986 authority
 * syntax: the port is digits only, so liburiparser refuses the first ','.
 * We split it ourselves: the authority ends at the first '/', '?' or '#'
 * after "//" (RFC 3986 3.2), the userinfo at its first '@' (neither a
 * userinfo nor a host may hold a raw '@'), and the seed list at each ','
 * (a port cannot hold one, a bracketed IPv6 address cannot either, and
 * host names are limited as above). Each seed is then handed to
 * liburiparser as a URI of its own: the first as scheme://userinfo@seed
 * followed by the rest of the original text (so path, query and fragment
 * are checked once), the others as redis-cluster://seed; positions in
 * errors are mapped back to the original text. An empty seed, a seed
 * without a port, an '@' inside the seed list, a db or a query are errors.
 */
#ifndef MTPOOL_REDIS_URI_H
#define MTPOOL_REDIS_URI_H

#include <stddef.h>

enum mt_redis_uri_kind {
	MT_REDIS_URI_TCP = 0,	 /* redis:// */
	MT_REDIS_URI_UNIX = 1,	 /* unix:// */
	MT_REDIS_URI_CLUSTER = 2 /* redis-cluster:// */
};

/* One server address: host + port (TCP) or path (unix socket). */
struct mt_redis_addr {
	char *host; /* TCP: name or address, no brackets; NULL for unix */
	int port;   /* TCP: 1..65535; 0 for unix */
	char *path; /* unix: socket path; NULL for TCP */
};

struct mt_redis_uri {
	enum mt_redis_uri_kind kind;
	struct mt_redis_addr *addrs; /* naddrs >= 1: the server, or seeds */
	size_t naddrs;
	char *user;	/* NULL: none (AUTH password for the default user) */
	char *password; /* NULL: no AUTH; may contain any byte but NUL */
	int db;		/* 0 unless given */
};

/*
 * Parses `text` into *out (zeroed first; free with mt__redis_uri_free).
 * Returns 0, EINVAL (malformed: `why` says which part, never quoting the
 * password) or ENOMEM. `why` may be NULL; otherwise it is always
 * NUL-terminated when whylen > 0, and left "" on success.
 */
int mt__redis_uri_parse(const char *text, struct mt_redis_uri *out, char *why,
			size_t whylen);

/* Frees what mt__redis_uri_parse stored (the password is wiped first);
 * leaves *u zeroed. Accepts a zeroed or partially filled struct. */
void mt__redis_uri_free(struct mt_redis_uri *u);

/* Test hook: after this many more allocations (this module's and
 * liburiparser's on its behalf, through one memory manager), every
 * allocation of the parser fails, until the hook is set back to -1 (the
 * default: never). Set it only while no other thread parses a URI. */
extern _Atomic int mt__redis_uri_fail_allocs_after;

/* Writes "host:port", "[v6]:port" or the socket path of `a` into buf
 * (cut to fit, always NUL-terminated when len > 0): the form used in
 * error texts and logs, which never carry credentials. */
void mt__redis_addr_format(const struct mt_redis_addr *a, char *buf,
			   size_t len);

#endif /* MTPOOL_REDIS_URI_H */
