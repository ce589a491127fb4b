/*
 * redis/redirect.h: the error replies by which a cluster node says "not
 * here" or "not now".
 *
 * Overview
 * ========
 * A node of a Redis Cluster answers a command about a key it does not
 * serve with an error reply instead of running it (hiredis gives the text
 * without the leading '-'):
 *   MOVED <slot> <host>:<port>   the slot belongs to that master now: the
 *                                client updates its slot map and sends the
 *                                command there;
 *   ASK <slot> <host>:<port>     the slot is being migrated and this key
 *                                is already on that node: send ASKING and
 *                                then the command there, this once, and
 *                                keep the slot map as it is;
 *   TRYAGAIN ...                 a multi-key command during a migration,
 *                                its keys split between the two nodes:
 *                                retry after a pause;
 *   CLUSTERDOWN ...              the cluster (or this slot) is not
 *                                serving: retry after a pause;
 *   CROSSSLOT ...                the command's keys hash to different
 *                                slots: the client's bug, never retried.
 * Anything else (WRONGTYPE, ERR, ...) is the command's own error.
 *
 * The endpoint of MOVED and ASK, as Redis 7 writes it ("%s:%d" of the
 * node's preferred endpoint, cluster-preferred-endpoint-type):
 *   127.0.0.1:6381       an IPv4 address (the default, `ip`)
 *   ::1:6381             an IPv6 address, without brackets: the port is
 *                        after the LAST colon ([::1]:6381 is accepted too)
 *   redis-3.local:6381   a hostname (`hostname`)
 *   :6381                an empty endpoint (`unknown-endpoint`): "the same
 *                        host as the request that got this reply, with
 *                        this port"; host is "" and the caller substitutes
 *                        the node it asked
 *   ?:6381               `hostname` preferred but the node has none:
 *                        host is "?", an address only a fresh slot map
 *                        can give (CLUSTER SLOTS lists the node's IP in
 *                        its metadata then); the caller refreshes.
 * All four forms were seen from redis-server 7.0.15 (MOVED 12182 :17003,
 * MOVED 12182 ::1:17003, MOVED 12182 ?:17003).
 *
 * Usage
 * =====
 *   struct mt_redis_redirect rd;
 *   if (r->type == REDIS_REPLY_ERROR &&
 *       mt__redis_redirect_parse(r->str, r->len, &rd) == 0 &&
 *       rd.kind == MT_REDIS_REDIRECT_MOVED)
 *           ... route rd.slot to rd.host (or the asked node's) : rd.port
 *
 * Implementation notes
 * ====================
 * Strict: a text that starts with "MOVED " or "ASK " must be exactly
 * "<slot> <endpoint>:<port>" with a decimal slot below 16384, a decimal
 * port 1..65535 and an endpoint of printable bytes without spaces, at most
 * MT_REDIS_HOST_MAX - 1 of them; anything else is EINVAL, so a corrupt
 * reply never routes anything. "?" is the only host that is not a name
 * or an address. The prefixes are matched case-sensitively
 * as whole words ("MOVEDX" is not MOVED), as Redis writes them. No
 * allocation: the host is copied into the struct.
 */
#ifndef MTPOOL_REDIS_REDIRECT_H
#define MTPOOL_REDIS_REDIRECT_H

#include <stddef.h>

/* Room for a host name (253 bytes in DNS) or an address, and its NUL. */
#define MT_REDIS_HOST_MAX 256

enum mt_redis_redirect_kind {
	MT_REDIS_REDIRECT_NONE = 0, /* not a cluster error */
	MT_REDIS_REDIRECT_MOVED,
	MT_REDIS_REDIRECT_ASK,
	MT_REDIS_REDIRECT_TRYAGAIN,
	MT_REDIS_REDIRECT_CLUSTERDOWN,
	MT_REDIS_REDIRECT_CROSSSLOT
};

struct mt_redis_redirect {
	enum mt_redis_redirect_kind kind;
	/* MOVED / ASK only; 0 and "" otherwise. */
	unsigned slot; /* 0 .. 16383 */
	int port;      /* 1 .. 65535 */
	/* "": the node that replied; "?": unknown (see above). */
	char host[MT_REDIS_HOST_MAX];
};

/*
 * Classifies the error text (len bytes at text, without the leading '-',
 * as hiredis's redisReply.str of a REDIS_REPLY_ERROR; need not be
 * NUL-terminated) into *out. Returns 0 (out->kind says which; NONE for an
 * error that is not a cluster one), or EINVAL for a MOVED or ASK text that
 * is malformed (then *out is NONE).
 * text may be NULL only when len is 0. Pure; any thread.
 */
int mt__redis_redirect_parse(const char *text, size_t len,
			     struct mt_redis_redirect *out /* OUT */);

/* 1 if len bytes at p can be a host name or address as the cluster
 * writes them (printable ASCII, no space, no bracket, fewer than
 * MT_REDIS_HOST_MAX bytes; "?" included), else 0. Shared with the slot
 * map's parser so both accept the same hosts. */
int mt__redis_host_ok(const char *p, size_t len);

#endif /* MTPOOL_REDIS_REDIRECT_H */
