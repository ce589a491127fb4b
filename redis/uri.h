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

/* Writes "host:port", "[v6]:port" or the socket path of `a` into buf
 * (cut to fit, always NUL-terminated when len > 0): the form used in
 * error texts and logs, which never carry credentials. */
void mt__redis_addr_format(const struct mt_redis_addr *a, char *buf,
			   size_t len);

#endif /* MTPOOL_REDIS_URI_H */
