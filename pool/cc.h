/*
 * pool/cc.h: the few compiler and layout macros every module of pool/
 * shares, and nothing else (the role ck_cc.h plays in Concurrency Kit), so
 * that no module includes another module's header for a constant.
 * Internal: never installed.
 */
#ifndef MTPOOL_POOL_CC_H
#define MTPOOL_POOL_CC_H

/* Internal functions and data shared between the library's files; the
 * library is built with hidden visibility anyway, this keeps a static
 * build's symbols out of the dynamic table too. */
#if defined(__GNUC__)
#define MT_HIDDEN __attribute__((visibility("hidden")))
#else
#define MT_HIDDEN
#endif

/* Thread-local storage with the initial-exec model: in a shared library
 * the default (global-dynamic) model calls __tls_get_addr on every access,
 * and the spawn path reads the current worker several times per task.
 * The cost is that the library uses a few dozen bytes of the static TLS
 * surplus when dlopen()ed, which glibc reserves for exactly this. */
#if defined(__GNUC__)
#define MT_THREAD_LOCAL _Thread_local __attribute__((tls_model("initial-exec")))
#else
#define MT_THREAD_LOCAL _Thread_local
#endif

/* A function off the hot path: never inlined into its callers, so that
 * their loops keep only the registers their common case needs. */
#if defined(__GNUC__)
#define MT_COLD __attribute__((cold, noinline))
#else
#define MT_COLD
#endif

/* Never inlined, without the cold hint: a slow path taken in ordinary
 * runs (a steal), kept out of line so its callers stay small. */
#if defined(__GNUC__)
#define MT_NOINLINE __attribute__((noinline))
#else
#define MT_NOINLINE
#endif

/* The cache-line size fields are aligned to when two threads must not
 * share a line (x86-64 and most arm64 parts: 64 bytes). */
#define MT_CACHELINE 64

#endif /* MTPOOL_POOL_CC_H */
