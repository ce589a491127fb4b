/*
 * redis/uri.c: Redis URIs, the RFC 3986 grammar by liburiparser and the
 * Redis meaning checked on top. The forms, the checks and the handling of
 * the cluster seed list are described in uri.h's implementation notes.
 *
 * Rule of this file: every error text is built by bad() from a string
 * literal and numbers only. No argument ever points into the URI, so no
 * text can quote a password (or anything else the user typed).
 */
#define _DEFAULT_SOURCE /* explicit_bzero, strncasecmp */
#include "uri.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include <uriparser/Uri.h>

#define DEFAULT_PORT 6379
#define SCHEMES "expected redis://, unix:// or redis-cluster://"
#define ENCODE_HINT                                                    \
	"; a '@', '/', '?', '#' or '%' in a user or password must be " \
	"percent-encoded (%40, %2F, %3F, %23, %25)"

/* Where the reason goes; `seed` (1-based, 0 = none) prefixes host and
 * port reasons of a cluster URI with the seed they are about. */
struct why {
	char *buf;
	size_t len;
	size_t seed;
};

/* Offsets of the parts of the original text, found by scanning for the
 * delimiters (RFC 3986 section 3): used to split a cluster seed list and
 * to name the part a syntax error is in. */
struct layout {
	size_t auth;	 /* after "scheme://" */
	size_t hostport; /* after the userinfo's '@', else auth */
	size_t auth_end; /* the first '/', '?' or '#' after auth, or end */
	size_t query;	 /* the '?' or '#' after the path, or end */
	size_t fragment; /* the '#', or end */
	size_t end;
};

/* A text handed to liburiparser with the map back to the original: for a
 * cluster seed it is assembled from pieces of the original, and a syntax
 * error position must be reported in the original's terms.
 * Piece i: text[at, at + len) is original[from, from + len). */
struct piece {
	size_t at, len, from;
};
struct synth {
	const char *text;
	size_t len;
	struct piece p[3];
	int n;
};

__attribute__((format(printf, 2, 3))) static int bad(struct why *w,
						     const char *fmt, ...)
{
	va_list ap;
	int used = 0;

	if (!w->buf || w->len == 0)
		return EINVAL;
	if (w->seed > 0)
		used = snprintf(w->buf, w->len, "cluster seed %zu: ", w->seed);
	if (used < 0 || (size_t)used >= w->len)
		return EINVAL;
	va_start(ap, fmt);
	vsnprintf(w->buf + used, w->len - (size_t)used, fmt, ap);
	va_end(ap);
	return EINVAL;
}

/* ------------------------------------------------------------ memory */

_Atomic int mt__redis_uri_fail_allocs_after = -1;

/* Whether the next allocation fails (the test hook of uri.h). Relaxed: the
 * hook is set while no other thread parses. */
static int alloc_fails(void)
{
	int left = atomic_load_explicit(&mt__redis_uri_fail_allocs_after,
					memory_order_relaxed);
	if (left > 0)
		atomic_store_explicit(&mt__redis_uri_fail_allocs_after,
				      left - 1, memory_order_relaxed);
	return left == 0;
}

/* Every allocation of the parser goes through these, liburiparser's too
 * (its ...Mm functions, with uri_memory below). */
static void *uri_malloc(size_t n)
{
	return alloc_fails() ? NULL : malloc(n);
}

static void *uri_calloc(size_t n, size_t size)
{
	return alloc_fails() ? NULL : calloc(n, size);
}

static void *mm_malloc(UriMemoryManager *m, size_t n)
{
	(void)m;
	return uri_malloc(n);
}

static void *mm_calloc(UriMemoryManager *m, size_t n, size_t size)
{
	(void)m;
	return uri_calloc(n, size);
}

static void *mm_realloc(UriMemoryManager *m, void *p, size_t n)
{
	(void)m;
	return alloc_fails() ? NULL : realloc(p, n);
}

static void *mm_reallocarray(UriMemoryManager *m, void *p, size_t n,
			     size_t size)
{
	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return mm_realloc(m, p, n * size);
}

static void mm_free(UriMemoryManager *m, void *p)
{
	(void)m;
	free(p);
}

static UriMemoryManager uri_memory = {mm_malloc,       mm_calloc, mm_realloc,
				      mm_reallocarray, mm_free,	  NULL};

static int oom(struct why *w)
{
	w->seed = 0;
	bad(w, "out of memory");
	return ENOMEM;
}

static size_t rlen(UriTextRangeA r)
{
	return r.first ? (size_t)(r.afterLast - r.first) : 0;
}

static int present(UriTextRangeA r)
{
	return r.first != NULL;
}

static void wipe_free(char *p, size_t n)
{
	if (p)
		explicit_bzero(p, n);
	free(p);
}

/* Decimal digits only (no sign, no space), at most `max`: 0, or -1. */
static int parse_uint(const char *s, size_t n, long max, long *v)
{
	long x = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (s[i] - '0');
		if (x > max)
			return -1;
	}
	*v = x;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0, n) into a new string. %00 is refused: the result
 * is a C string and AUTH or a path would be cut at the NUL. `what` is a
 * literal naming the part. On failure the buffer is wiped (it may hold
 * part of a password) before it is freed. */
static int decode(const char *s, size_t n, char **out, const char *what,
		  struct why *w)
{
	char *d = uri_malloc(n + 1);
	size_t j = 0;
	int rc = 0;

	if (!d)
		return oom(w);
	for (size_t i = 0; i < n && rc == 0; i++) {
		int hi, lo;
		if (s[i] != '%') {
			d[j++] = s[i];
			continue;
		}
		hi = i + 2 < n ? hexval(s[i + 1]) : -1;
		lo = i + 2 < n ? hexval(s[i + 2]) : -1;
		if (hi < 0 || lo < 0)
			rc = bad(w, "malformed percent-encoding in the %s",
				 what);
		else if (hi == 0 && lo == 0)
			rc = bad(w, "the %s contains %%00 (a NUL byte)", what);
		else
			d[j++] = (char)(hi * 16 + lo);
		i += 2;
	}
	if (rc != 0) {
		wipe_free(d, n + 1);
		return rc;
	}
	d[j] = '\0';
	*out = d;
	return 0;
}

/* ------------------------------------------------------------ layout */

static void scan_layout(const char *text, size_t auth, struct layout *l)
{
	const char *at;

	l->end = strlen(text);
	l->auth = auth;
	l->auth_end = auth + strcspn(text + auth, "/?#");
	at = memchr(text + auth, '@', l->auth_end - auth);
	l->hostport = at ? (size_t)(at - text) + 1 : auth;
	l->query = l->auth_end + strcspn(text + l->auth_end, "?#");
	l->fragment = l->query + strcspn(text + l->query, "#");
}

static size_t count_byte(const char *s, size_t from, size_t to, char c)
{
	size_t n = 0;

	for (size_t i = from; i < to; i++)
		n += s[i] == c;
	return n;
}

/* The offset of the ':' before the port in the authority's host:port
 * (after a bracketed IPv6 address), or auth_end when there is none. */
static size_t port_colon(const char *text, const struct layout *l)
{
	size_t colon = l->auth_end;
	size_t from = l->hostport;

	if (text[from] == '[') {
		const char *close =
			memchr(text + from, ']', l->auth_end - from);
		if (!close)
			return l->auth_end;
		from = (size_t)(close - text);
	}
	for (size_t i = from; i < l->auth_end; i++)
		if (text[i] == ':')
			colon = i;
	return colon;
}

/* liburiparser reports some errors past their cause ("h:1x/0" at the
 * '/'): a port with a byte other than a digit is named directly. */
static int port_has_non_digit(const char *text, const struct layout *l)
{
	for (size_t i = port_colon(text, l) + 1; i < l->auth_end; i++)
		if (text[i] < '0' || text[i] > '9')
			return 1;
	return 0;
}

/* Writes into buf the name of the part of the original URI that the byte
 * at `off` belongs to. */
static void name_part(const char *text, const struct layout *l,
		      enum mt_redis_uri_kind kind, size_t off, char *buf,
		      size_t len)
{
	const char *part;

	if (off < l->auth)
		part = "the scheme";
	else if (off < l->hostport)
		part = "the userinfo (user:password)";
	else if (off < l->auth_end && kind == MT_REDIS_URI_CLUSTER) {
		snprintf(buf, len, "cluster seed %zu",
			 1 + count_byte(text, l->hostport, off, ','));
		return;
	} else if (off < l->auth_end)
		part = off > port_colon(text, l) ? "the port" : "the host";
	else if (off < l->query)
		part = kind == MT_REDIS_URI_UNIX ? "the socket path" :
						   "the path (/db)";
	else if (off < l->fragment)
		part = "the query";
	else
		part = "the fragment";
	snprintf(buf, len, "%s", part);
}

/* The hint applies when the URI shows the usual sign of an unencoded
 * reserved character in a password: a second '@', an '@' after the
 * authority, or the error inside the userinfo. */
static int needs_hint(const char *text, const struct layout *l, size_t off)
{
	return count_byte(text, l->auth, l->end, '@') > 1 ||
	       count_byte(text, l->auth_end, l->end, '@') > 0 ||
	       (off >= l->auth && off < l->hostport);
}

static int syntax_error(const char *text, const struct layout *l,
			enum mt_redis_uri_kind kind, size_t off, struct why *w)
{
	char part[48];
	const char *hint = needs_hint(text, l, off) ? ENCODE_HINT : "";

	w->seed = 0;
	if (off >= l->end) {
		name_part(text, l, kind, l->end > 0 ? l->end - 1 : 0, part,
			  sizeof part);
		return bad(w, "malformed URI: syntax error at its end, in %s%s",
			   part, hint);
	}
	name_part(text, l, kind, off, part, sizeof part);
	return bad(w, "malformed URI: syntax error at position %zu, in %s%s",
		   off + 1, part, hint);
}

static size_t map_back(const struct synth *s, size_t off)
{
	for (int i = s->n - 1; i >= 0; i--) {
		const struct piece *p = &s->p[i];
		if (off >= p->at)
			return p->from +
			       (off - p->at < p->len ? off - p->at : p->len);
	}
	return s->p[0].from;
}

/* ------------------------------------------------------------ scheme */

static const struct {
	const char *name;
	enum mt_redis_uri_kind kind;
} schemes[] = {
	{"redis", MT_REDIS_URI_TCP},
	{"unix", MT_REDIS_URI_UNIX},
	{"redis-cluster", MT_REDIS_URI_CLUSTER},
};

/* Finds the scheme by hand: a cluster URI is not RFC 3986 (its seed list
 * is no authority), so its kind must be known before liburiparser sees
 * it. Sets *auth to the offset after "scheme://". */
static int take_scheme(const char *text, enum mt_redis_uri_kind *kind,
		       size_t *auth, struct why *w)
{
	size_t n = strcspn(text, ":/?#@[");
	size_t i;

	if (text[0] == '\0')
		return bad(w, "URI is empty");
	if (text[n] != ':' || n == 0)
		return bad(w, "URI has no scheme: " SCHEMES);
	for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
		if (strlen(schemes[i].name) == n &&
		    strncasecmp(text, schemes[i].name, n) == 0)
			break;
	if (n == 6 && strncasecmp(text, "rediss", 6) == 0)
		return bad(w, "rediss:// (TLS) is not supported: Debian's "
			      "hiredis 0.14 has no TLS");
	if (i == sizeof schemes / sizeof schemes[0])
		return bad(w, "unknown scheme: " SCHEMES);
	if (strncmp(text + n + 1, "//", 2) != 0)
		return bad(w, "expected '//' after the scheme "
			      "(redis://host, unix:///path/to/socket)");
	*kind = schemes[i].kind;
	*auth = n + 3;
	return 0;
}

/* ---------------------------------------------------------- userinfo */

static int take_userinfo(UriTextRangeA r, struct mt_redis_uri *out,
			 struct why *w)
{
	size_t n = rlen(r), ulen, plen;
	const char *colon;
	int rc;

	if (!present(r))
		return 0;
	if (n == 0)
		return bad(w, "empty userinfo before '@'");
	colon = memchr(r.first, ':', n);
	if (!colon)
		return bad(w, "userinfo has a user but no password: AUTH "
			      "needs user:password@ or :password@");
	ulen = (size_t)(colon - r.first);
	plen = n - ulen - 1;
	if (plen == 0)
		return bad(w, "the password is empty");
	rc = decode(colon + 1, plen, &out->password, "password", w);
	if (rc == 0 && ulen > 0)
		rc = decode(r.first, ulen, &out->user, "user", w);
	return rc;
}

/* -------------------------------------------------------- host, port */

static int is_name_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

/* A registered name (RFC 3986 reg-name) allows far more than a host name
 * does (sub-delims, percent-encoding); we accept what DNS and /etc/hosts
 * accept, and refuse a dotted number that is no IPv4 address (liburiparser
 * took it for a name: "999.1.1.1", which getaddrinfo would misread). */
static int check_name(const char *s, size_t n, struct why *w)
{
	size_t numeric = 0;

	if (memchr(s, ',', n))
		return bad(w, "the host contains ','; a list of seeds needs "
			      "redis-cluster://");
	for (size_t i = 0; i < n; i++) {
		if (!is_name_byte(s[i]))
			return bad(w, "the host name may contain only letters, "
				      "digits, '-', '.' and '_'");
		numeric += (s[i] >= '0' && s[i] <= '9') || s[i] == '.';
	}
	if (n > 255)
		return bad(w, "the host name is longer than 255 bytes");
	if (numeric == n)
		return bad(w, "the host is not a valid IPv4 address");
	return 0;
}

static int take_host(const UriUriA *u, struct mt_redis_addr *a, struct why *w)
{
	size_t n = rlen(u->hostText);
	int rc;

	if (present(u->hostData.ipFuture))
		return bad(w, "IPvFuture addresses ([v...]) are not supported");
	if (n == 0)
		return bad(w, "the host is missing");
	if (!u->hostData.ip4 && !u->hostData.ip6) {
		rc = check_name(u->hostText.first, n, w);
		if (rc != 0)
			return rc;
	}
	a->host = uri_malloc(n + 1);
	if (!a->host)
		return oom(w);
	memcpy(a->host, u->hostText.first, n);
	a->host[n] = '\0';
	return 0;
}

static int take_port(UriTextRangeA r, enum mt_redis_uri_kind kind, int *port,
		     struct why *w)
{
	long v;

	if (!present(r) && kind == MT_REDIS_URI_CLUSTER)
		return bad(w, "no port (each seed is host:port)");
	if (!present(r)) {
		*port = DEFAULT_PORT;
		return 0;
	}
	if (parse_uint(r.first, rlen(r), 65535, &v) != 0 || v == 0)
		return bad(w, "the port is not a number in 1..65535");
	*port = (int)v;
	return 0;
}

/* --------------------------------------------------------------- db */

static int take_db(const char *s, size_t n, int *db, const char *where,
		   struct why *w)
{
	long v;

	if (parse_uint(s, n, INT_MAX, &v) != 0)
		return bad(w, "the db %s is not a number in 0..2147483647",
			   where);
	*db = (int)v;
	return 0;
}

/* redis://host[/db]: at most one path segment; "host/" is db 0. */
static int take_db_path(const UriUriA *u, enum mt_redis_uri_kind kind, int *db,
			struct why *w)
{
	const UriPathSegmentA *s = u->pathHead;

	if (!s)
		return 0;
	if (s->next)
		return bad(w, "the path has more than one segment: expected "
			      "/db");
	if (rlen(s->text) == 0)
		return 0;
	if (kind == MT_REDIS_URI_CLUSTER)
		return bad(w, "a cluster URI takes no /db: a cluster has "
			      "only db 0");
	return take_db(s->text.first, rlen(s->text), db, "in the path", w);
}

/* unix://...?db=N: the only query key; liburiparser splits and decodes. */
static int take_db_query(UriTextRangeA q, int *db, struct why *w)
{
	UriQueryListA *list = NULL;
	int items, seen = 0, rc = 0;

	if (rlen(q) == 0)
		return 0;
	switch (uriDissectQueryMallocExMmA(&list, &items, q.first, q.afterLast,
					   URI_FALSE, URI_BR_DONT_TOUCH,
					   &uri_memory)) {
	case URI_SUCCESS:
		break;
	case URI_ERROR_MALLOC:
		return oom(w);
	default:
		return bad(w, "the query is malformed");
	}
	for (UriQueryListA *it = list; it && rc == 0; it = it->next) {
		if (strcmp(it->key, "db") != 0)
			rc = bad(w, "unknown query key: a unix:// URI takes "
				    "only ?db=N");
		else if (seen++)
			rc = bad(w, "the db is given twice in the query");
		else if (!it->value)
			rc = bad(w, "the db in the query has no value (?db=N)");
		else
			rc = take_db(it->value, strlen(it->value), db,
				     "in the query", w);
	}
	uriFreeQueryListMmA(list, &uri_memory);
	return rc;
}

/* -------------------------------------------------------------- unix */

static int take_socket_path(const UriUriA *u, struct mt_redis_addr *a,
			    struct why *w)
{
	size_t n = 0, at = 0;
	char *raw;
	int rc;

	for (const UriPathSegmentA *s = u->pathHead; s; s = s->next)
		n += 1 + rlen(s->text);
	if (n <= 1)
		return bad(w, "the socket path is missing "
			      "(unix:///path/to/socket)");
	raw = uri_malloc(n + 1);
	if (!raw)
		return oom(w);
	for (const UriPathSegmentA *s = u->pathHead; s; s = s->next) {
		raw[at++] = '/';
		memcpy(raw + at, s->text.first, rlen(s->text));
		at += rlen(s->text);
	}
	rc = decode(raw, n, &a->path, "socket path", w);
	free(raw);
	if (rc == 0 &&
	    strlen(a->path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		rc = bad(w, "the socket path is longer than %zu bytes",
			 sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	return rc;
}

static int take_unix(const UriUriA *u, struct mt_redis_uri *out, struct why *w)
{
	int rc;

	if (rlen(u->hostText) > 0 || u->hostData.ip4 || u->hostData.ip6 ||
	    present(u->hostData.ipFuture))
		return bad(w, "a unix:// URI names no host: "
			      "unix:///path/to/socket");
	if (present(u->portText))
		return bad(w, "a unix:// URI has no port");
	rc = take_socket_path(u, &out->addrs[0], w);
	return rc ? rc : take_db_query(u->query, &out->db, w);
}

/* ---------------------------------------------------------- the parse */

static int take_tcp(const UriUriA *u, enum mt_redis_uri_kind kind, size_t seed,
		    struct mt_redis_uri *out, struct why *w)
{
	struct mt_redis_addr *a = &out->addrs[seed > 0 ? seed - 1 : 0];
	int rc;

	w->seed = seed;
	rc = take_host(u, a, w);
	if (rc == 0)
		rc = take_port(u->portText, kind, &a->port, w);
	w->seed = 0;
	if (rc == 0)
		rc = take_db_path(u, kind, &out->db, w);
	if (rc == 0 && present(u->query))
		rc = kind == MT_REDIS_URI_CLUSTER ?
			     bad(w, "a cluster URI takes no query") :
			     bad(w, "a redis:// URI takes no query (the db "
				    "goes in the path: /db)");
	return rc;
}

/* Checks what liburiparser found against the Redis forms. `seed` is the
 * 1-based cluster seed this text carries, 0 for the other kinds; only the
 * first seed's text carries the userinfo and what follows the seeds. */
static int take_parts(const UriUriA *u, enum mt_redis_uri_kind kind,
		      size_t seed, struct mt_redis_uri *out, struct why *w)
{
	int rc = 0;

	if (present(u->fragment))
		return bad(w, "a fragment (#...) is not allowed");
	if (seed <= 1)
		rc = take_userinfo(u->userInfo, out, w);
	else if (present(u->userInfo)) {
		w->seed = seed;
		rc = bad(w, "an '@' inside the seed list%s", ENCODE_HINT);
		w->seed = 0;
	}
	if (rc != 0)
		return rc;
	if (kind == MT_REDIS_URI_UNIX)
		return take_unix(u, out, w);
	return take_tcp(u, kind, seed, out, w);
}

static int parse_text(const struct synth *s, const char *orig,
		      const struct layout *l, enum mt_redis_uri_kind kind,
		      size_t seed, struct mt_redis_uri *out, struct why *w)
{
	UriUriA u;
	const char *ep = NULL;
	int rc = uriParseSingleUriExMmA(&u, s->text, s->text + s->len, &ep,
					&uri_memory);

	if (rc == URI_ERROR_MALLOC)
		return oom(w);
	if (rc != URI_SUCCESS && kind != MT_REDIS_URI_UNIX) {
		struct layout sl;
		scan_layout(s->text, strcspn(s->text, ":") + 3, &sl);
		if (port_has_non_digit(s->text, &sl)) {
			w->seed = seed;
			rc = bad(w, "the port is not a number in 1..65535%s",
				 needs_hint(orig, l, l->end) ? ENCODE_HINT :
							       "");
			w->seed = 0;
			return rc;
		}
	}
	if (rc != URI_SUCCESS)
		return syntax_error(
			orig, l, kind,
			ep ? map_back(s, (size_t)(ep - s->text)) : 0, w);
	rc = take_parts(&u, kind, seed, out, w);
	uriFreeUriMembersMmA(&u, &uri_memory);
	return rc;
}

/* Cluster seed `seed` (1-based), original[from, to), as a URI of its own:
 * the first one keeps the scheme, the userinfo and everything after the
 * seed list; the others get a bare "redis-cluster://" in front. */
static int parse_seed(const char *text, const struct layout *l, size_t seed,
		      size_t from, size_t to, struct mt_redis_uri *out,
		      struct why *w)
{
	static const char prefix[] = "redis-cluster://";
	size_t head = seed == 1 ? l->hostport : sizeof prefix - 1;
	size_t mid = to - from;
	size_t tail = seed == 1 ? l->end - l->auth_end : 0;
	struct synth s = {.len = head + mid + tail, .n = 3};
	char *buf = uri_malloc(s.len + 1);
	int rc;

	if (!buf)
		return oom(w);
	memcpy(buf, seed == 1 ? text : prefix, head);
	memcpy(buf + head, text + from, mid);
	memcpy(buf + head + mid, text + l->auth_end, tail);
	buf[s.len] = '\0';
	s.text = buf;
	s.p[0] = (struct piece){0, seed == 1 ? head : 0, 0};
	s.p[1] = (struct piece){head, mid, from};
	s.p[2] = (struct piece){head + mid, tail, l->auth_end};
	rc = parse_text(&s, text, l, MT_REDIS_URI_CLUSTER, seed, out, w);
	wipe_free(buf, s.len + 1); /* the first seed's text has the password */
	return rc;
}

/* The seed list host:port,host:port is no RFC 3986 authority (a port is
 * digits only, so liburiparser stops at the first ','): split it at the
 * commas (no host or port can contain one) and parse each seed alone. */
static int parse_cluster(const char *text, const struct layout *l,
			 struct mt_redis_uri *out, struct why *w)
{
	size_t n = 1 + count_byte(text, l->hostport, l->auth_end, ',');
	size_t from = l->hostport;
	int rc = 0;

	out->addrs = uri_calloc(n, sizeof *out->addrs);
	if (!out->addrs)
		return oom(w);
	out->naddrs = n;
	for (size_t i = 1; i <= n && rc == 0; i++) {
		const char *comma =
			memchr(text + from, ',', l->auth_end - from);
		size_t to = comma ? (size_t)(comma - text) : l->auth_end;
		w->seed = i;
		rc = to == from ? bad(w, "empty (expected host:port)") : 0;
		w->seed = 0;
		if (rc == 0)
			rc = parse_seed(text, l, i, from, to, out, w);
		from = to + 1;
	}
	return rc;
}

static int parse_single(const char *text, const struct layout *l,
			enum mt_redis_uri_kind kind, struct mt_redis_uri *out,
			struct why *w)
{
	struct synth s = {.text = text, .len = l->end, .n = 1};

	out->addrs = uri_calloc(1, sizeof *out->addrs);
	if (!out->addrs)
		return oom(w);
	out->naddrs = 1;
	s.p[0] = (struct piece){0, l->end, 0};
	return parse_text(&s, text, l, kind, 0, out, w);
}

int mt__redis_uri_parse(const char *text, struct mt_redis_uri *out, char *why,
			size_t whylen)
{
	struct why w = {why, whylen, 0};
	struct layout l;
	size_t auth = 0;
	int rc;

	if (why && whylen > 0)
		why[0] = '\0';
	if (!out)
		return bad(&w, "no place for the parsed URI (NULL)");
	memset(out, 0, sizeof *out);
	if (!text)
		return bad(&w, "no URI (NULL)");
	rc = take_scheme(text, &out->kind, &auth, &w);
	if (rc == 0) {
		scan_layout(text, auth, &l);
		rc = out->kind == MT_REDIS_URI_CLUSTER ?
			     parse_cluster(text, &l, out, &w) :
			     parse_single(text, &l, out->kind, out, &w);
	}
	if (rc != 0)
		mt__redis_uri_free(out);
	return rc;
}

void mt__redis_uri_free(struct mt_redis_uri *u)
{
	if (!u)
		return;
	for (size_t i = 0; u->addrs && i < u->naddrs; i++) {
		free(u->addrs[i].host);
		free(u->addrs[i].path);
	}
	free(u->addrs);
	free(u->user);
	if (u->password)
		wipe_free(u->password, strlen(u->password));
	memset(u, 0, sizeof *u);
}

void mt__redis_addr_format(const struct mt_redis_addr *a, char *buf, size_t len)
{
	if (!buf || len == 0)
		return;
	if (!a)
		snprintf(buf, len, "(no address)");
	else if (a->path)
		snprintf(buf, len, "%s", a->path);
	else if (a->host && strchr(a->host, ':'))
		snprintf(buf, len, "[%s]:%d", a->host, a->port);
	else
		snprintf(buf, len, "%s:%d", a->host ? a->host : "", a->port);
}
