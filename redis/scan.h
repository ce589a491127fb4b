/*
 * redis/scan.h: mt_redis_scan, the one-walk multi-pattern key collection
 * (the public contract is in <mtpool/redis.h>; the rule and its figures
 * in docs/redis.md, "Key collection").
 *
 * Overview
 * ========
 * A call is planned from its distinct patterns, split into literal ones
 * (no unescaped '*', '?' or '[': they match exactly one key, glob.h) and
 * glob ones:
 *   no glob pattern   EXISTS for each literal, no walk at all;
 *   one glob pattern  EXISTS for the literals, then one SCAN MATCH walk
 *                     for the glob pattern, filtered by the server;
 *   two or more       one SCAN walk without MATCH, every key matched on
 *                     the client against every pattern (glob.c), since
 *                     each SCAN MATCH walks the whole keyspace again;
 *   "*" among them    one SCAN walk without MATCH, no matching, no EXISTS:
 *                     every key is wanted.
 * The keys found are de-duplicated (keyset.h: SCAN may return a key
 * twice, and patterns overlap) in the order found: the literals' keys
 * first, in pattern order, then the walk's.
 *
 * With a fetch command, the keys are read while the walk goes on: each
 * time FETCH_CHUNK new keys are found (and once more at the end), a task
 * on the client's pool runs "<fetch> key" for them through the engine
 * (engine.h: pipelined, in parallel shares, with its retry rule), so the
 * server answers reads between the walk's pages and the client's other
 * cores read replies while this thread walks.
 *
 * Usage
 * =====
 * The public call (redis.h). Tests can set mt__redis_scan_page_hook to
 * act between two pages of a walk (kill the connection, stall the
 * server), which no timing can do reliably.
 *
 * Implementation notes
 * ====================
 * The walk and the EXISTS requests run on the calling thread, on its own
 * connection (conn.h), with SIGPIPE blocked (sigpipe.h). A SCAN cursor is
 * the server's position, not connection state, so a page whose connection
 * broke is asked again, from the same cursor, on a new connection: the
 * engine's rule (engine.h), per request: retried once, only if retries are
 * on and the broken connection had answered before or came from the cache
 * (a connection made for it that breaks at once means a dead or stalled
 * server). The walk keeps one SCAN ahead: the next page is sent as soon
 * as the current page's cursor is read, before its keys are filed, so the
 * server and this thread work at once; a connection with that SCAN still
 * unanswered when the walk fails is freed, never cached. When a request
 * still fails, the call returns that error and
 * no result: a partial key list is never presented as complete.
 *
 * A fetch task gets a copy of its keys' (pointer, length) entries: the
 * walk keeps adding to the key set, whose entry array may move, while the
 * key bytes themselves never move (keyset.h). Tasks join an mt_group that
 * the call waits for before it returns, on success and on failure alike,
 * so no task outlives the call's state.
 */
#ifndef MTPOOL_REDIS_SCAN_H
#define MTPOOL_REDIS_SCAN_H

#include <stddef.h>

/* Test-only fault hook: when not NULL, called on the walking thread after
 * each SCAN page is processed (page counts from 1), with
 * mt__redis_scan_page_hook_arg. Set it before the call, from the test's
 * thread; never set in production. */
extern void (*mt__redis_scan_page_hook)(size_t page, void *arg);
extern void *mt__redis_scan_page_hook_arg;

#endif /* MTPOOL_REDIS_SCAN_H */
