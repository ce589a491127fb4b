/*
 * pool/deque.c: the growable Chase-Lev work-stealing deque (see deque.h).
 *
 * Overview
 * ========
 * The owner pushes and takes at `bottom`; thieves steal at `top`. The live
 * items are the indices top .. bottom-1, stored at index & mask in a
 * power-of-two ring. Indices only grow (top never goes down; bottom goes
 * down by one at most for the length of a take), so a CAS on `top` can
 * never suffer ABA: claiming index t is one CAS from t to t+1.
 *
 * Usage
 * =====
 * The owner thread calls mt__deque_push_owner() and mt__deque_take_owner();
 * any thread calls mt__deque_steal() and mt__deque_size_seq_cst(). See
 * deque.h for the full contract.
 *
 * Implementation notes
 * ====================
 * This is figure 1 of Lê, Pop, Cohen and Zappa Nardelli, "Correct and
 * Efficient Work-Stealing for Weak Memory Models", PPoPP 2013, with two
 * changes:
 *
 * 1. The fix found by CDSChecker (Norris and Demsky, OOPSLA 2013): push
 *    reloads the buffer after a resize (here grow() hands the new buffer
 *    back), the new buffer is published with a release store and read with
 *    an acquire load in steal (the paper's `consume`, which compilers
 *    implement as acquire anyway).
 *
 * 2. No standalone fences. The paper puts a seq_cst fence in take between
 *    the store of bottom and the load of top, and one in steal between the
 *    load of top and the load of bottom. Here those four accesses are
 *    seq_cst operations instead, because ThreadSanitizer does not model
 *    standalone fences: this way the sanitizer build checks the protocol
 *    the release build runs.
 *
 * Why seq_cst operations give the guarantee the fences gave. The only
 * thing the fences are for is the Dekker pattern between take and steal:
 *
 *     take (owner)                    steal (thief)
 *     W: store bottom = b   (sc)      R1: t' = load top     (sc)
 *     L: t  = load top      (sc)      R2: b' = load bottom  (sc)
 *
 * All four are in the single total order S of C11 7.17.3p6 (C++11
 * 29.3p3), and S is consistent with happens-before, hence with
 * sequenced-before, so W < L and R1 < R2 in S. One of two cases holds:
 *
 *   (a) W < R2 in S. By 29.3p3 an SC load reads the last SC store to that
 *       location before it in S, or a non-SC store that does not happen
 *       before that one. Every earlier bottom store is by the owner and
 *       sequenced before W, so it happens before W: R2 cannot read it and
 *       sees b or a later value. The thief sees the item at b as gone
 *       (b' <= b) unless the owner has since given it back or pushed more.
 *
 *   (b) R2 < W in S. Then R1 < R2 < W < L, so L comes after R1 in S. Every
 *       write to top is a seq_cst CAS (its first value is set before the
 *       deque is shared), so by the same rule L reads a top at least as
 *       new as the t' the thief read: t >= t'.
 *
 * The bad outcome the fences exist to forbid is "both take the same item
 * without a CAS between them": the owner, seeing t < b, takes index b with
 * no CAS, while a thief claims index b because it read the old bottom
 * b + 1 and top == b. The thief's t' == b > t contradicts (b), and its
 * b' == b + 1 read from a store before W contradicts (a). (A b + 1 stored
 * after W comes from a later push, which put a new item at index b, and
 * acquiring that bottom makes the thief read the new item.) When t == b
 * both sides CAS top from b to b+1 and exactly one wins, as in the paper.
 *
 * Other orderings, each also written beside its access:
 * - push stores bottom with release, publishing the slot it just wrote;
 *   the thief's seq_cst load of bottom includes acquire and pairs with it.
 * - take's restoring store of bottom (b + 1) is release, not the paper's
 *   relaxed: a thief that reads it must still see the slots of the pushes
 *   before it, and we do not want to lean on C11's same-thread release
 *   sequences (C++20 removed them).
 * - push loads top with acquire, pairing with the thieves' CAS on top: a
 *   thief's read of slot t then happens before the owner overwrites that
 *   slot after the ring wraps, so the thief can't read the newer item.
 * - slots are relaxed atomics: a thief may read a slot that the owner is
 *   overwriting, but then its CAS on top fails and the value is dropped.
 *
 * Growth (owner only): when b - t >= capacity, allocate a ring twice as
 * large, copy t .. b-1 at the same indices, publish it with release and
 * keep the old ring on `retired` until destroy, because a thief that
 * loaded the old pointer may still read from it. A thief reading an old
 * ring reads the same item at the same index: items are copied, never
 * moved, and the owner never writes an old ring again.
 */
#include "deque.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>

#include "alloc.h"

_Static_assert(offsetof(struct mt_deque, top) % MT_CACHELINE == 0,
	       "top starts a cache line: every thief CASes it, and the "
	       "owner must not share that line with its own writes");
_Static_assert(offsetof(struct mt_deque, bottom) % MT_CACHELINE == 0,
	       "bottom starts a cache line: the owner writes it on every "
	       "push and take, and must not bounce the thieves' top line");

#define LOG2_MIN 1u
#define LOG2_MAX 40u

static int64_t capacity_of(const struct mt_deque_buf *a)
{
	return a->mask + 1;
}

static _Atomic(void *) *slot(struct mt_deque_buf *a, int64_t i)
{
	return &a->slots[i & a->mask];
}

/* Returns a ring of `cap` slots (a power of two), or NULL. Every slot is
 * initialised: a thief that loaded a stale top may read a slot of a fresh
 * ring that nothing was copied into (its CAS then fails), and that read
 * must not see indeterminate memory. */
static struct mt_deque_buf *buf_new(int64_t cap)
{
	size_t head = offsetof(struct mt_deque_buf, slots);
	if (cap <= 0 || (uint64_t)cap > (SIZE_MAX - head) / sizeof(void *))
		return NULL;
	struct mt_deque_buf *a = mt__alloc_aligned(
		MT_CACHELINE, head + (size_t)cap * sizeof(void *));
	if (a == NULL)
		return NULL;
	a->mask = cap - 1;
	a->retired_next = NULL;
	for (int64_t i = 0; i < cap; i++)
		atomic_init(&a->slots[i], NULL);
	return a;
}

int mt__deque_init_at(struct mt_deque *d, unsigned log2_capacity, int64_t start)
{
	if (d == NULL || log2_capacity < LOG2_MIN || log2_capacity > LOG2_MAX)
		return EINVAL;
	if (start < 0 || start > INT64_MAX / 2)
		return EINVAL;
	struct mt_deque_buf *a = buf_new((int64_t)1 << log2_capacity);
	if (a == NULL)
		return ENOMEM;
	atomic_init(&d->top, start);
	atomic_init(&d->bottom, start);
	atomic_init(&d->buf, a);
	d->retired = NULL;
	return 0;
}

int mt__deque_init(struct mt_deque *d, unsigned log2_capacity)
{
	return mt__deque_init_at(d, log2_capacity, 0);
}

void mt__deque_destroy(struct mt_deque *d)
{
	if (d == NULL)
		return;
	/* Relaxed: the caller guarantees every other thread has stopped
	 * (and joining them ordered their accesses before ours). */
	mt__free(atomic_load_explicit(&d->buf, memory_order_relaxed));
	struct mt_deque_buf *a = d->retired;
	while (a != NULL) {
		struct mt_deque_buf *next = a->retired_next;
		mt__free(a);
		a = next;
	}
	d->retired = NULL;
}

/* Owner only. Replaces `old`, which holds t .. b-1 and is full, with a
 * ring twice as large. Returns the new ring, or NULL (nothing changed). */
static struct mt_deque_buf *grow(struct mt_deque *d, struct mt_deque_buf *old,
				 int64_t t, int64_t b)
{
	struct mt_deque_buf *a = buf_new(2 * capacity_of(old));
	if (a == NULL)
		return NULL;
	/* Relaxed: the owner wrote these slots itself, and `a` is private
	 * until the release store below publishes it. */
	for (int64_t i = t; i < b; i++) {
		void *x = atomic_load_explicit(slot(old, i),
					       memory_order_relaxed);
		atomic_store_explicit(slot(a, i), x, memory_order_relaxed);
	}
	/* Release: publishes the copied slots and a->mask; pairs with the
	 * acquire load of buf in mt__deque_steal. */
	atomic_store_explicit(&d->buf, a, memory_order_release);
	old->retired_next = d->retired;
	d->retired = old;
	return a;
}

int mt__deque_push_owner(struct mt_deque *d, void *item)
{
	assert(item != NULL); /* NULL means "empty" to take. */
	/* Relaxed: only the owner writes bottom and buf. */
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
	struct mt_deque_buf *a =
		atomic_load_explicit(&d->buf, memory_order_relaxed);
	/* Acquire: pairs with the thieves' CAS on top, so a thief's read of
	 * a slot happens before we overwrite that slot after wrap-around.
	 * A stale (smaller) top only makes us grow early, never overwrite. */
	int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
	if (b - t >= capacity_of(a)) {
		a = grow(d, a, t, b); /* the CDSChecker fix: use the new ring */
		if (a == NULL)
			return ENOMEM;
	}
	/* Relaxed: published by the release store of bottom just below. */
	atomic_store_explicit(slot(a, b), item, memory_order_relaxed);
	/* Release: publishes the slot; pairs with the seq_cst (so acquire)
	 * load of bottom in mt__deque_steal. */
	atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
	return 0;
}

/* Owner only. Gives index b back after take found it empty or raced for
 * it. Release keeps every store of bottom a release, so a thief that
 * reads this value also sees the slots of the pushes before it. */
static void restore_bottom(struct mt_deque *d, int64_t b)
{
	atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
}

/* Owner only. The last item, index t == b: the owner and the thieves all
 * claim it with a CAS on top, and exactly one wins. */
static bool claim_last(struct mt_deque *d, int64_t t)
{
	/* Seq_cst on success, as in the paper: it orders against the
	 * thieves' seq_cst loads of top (case (b) of the proof above).
	 * Relaxed on failure: we then return "empty" and read nothing. */
	return atomic_compare_exchange_strong_explicit(
		&d->top, &t, t + 1, memory_order_seq_cst, memory_order_relaxed);
}

void *mt__deque_take_owner(struct mt_deque *d)
{
	/* Relaxed: only the owner writes bottom and buf. */
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed) - 1;
	struct mt_deque_buf *a =
		atomic_load_explicit(&d->buf, memory_order_relaxed);
	/* Seq_cst store then seq_cst load: the take half of the Dekker pair
	 * (W and L in the proof above), standing in for the paper's fence.
	 * Pairs with the seq_cst loads of top and bottom in steal. */
	atomic_store_explicit(&d->bottom, b, memory_order_seq_cst);
	int64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
	if (t > b) {
		restore_bottom(d, b);
		return NULL;
	}
	/* Relaxed: the owner wrote this slot; thieves never write slots. */
	void *x = atomic_load_explicit(slot(a, b), memory_order_relaxed);
	if (t < b)
		return x; /* by the proof above no thief can claim index b */
	bool won = claim_last(d, t);
	restore_bottom(d, b);
	return won ? x : NULL;
}

enum mt_steal_result mt__deque_steal(struct mt_deque *d, void **item)
{
	/* Seq_cst load then seq_cst load: the steal half of the Dekker pair
	 * (R1 and R2 in the proof above), standing in for the paper's fence.
	 * The load of bottom also acquires, pairing with the release store
	 * of bottom in push (and in take's restore_bottom). */
	int64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_seq_cst);
	if (t >= b)
		return MT_STEAL_EMPTY;
	/* Acquire: pairs with the release store in grow(), so the ring's
	 * mask and copied slots are visible. The push whose bottom we
	 * acquired came after any growth it needed, so whenever our CAS
	 * can succeed this ring (or a newer one) holds index t. */
	struct mt_deque_buf *a =
		atomic_load_explicit(&d->buf, memory_order_acquire);
	/* Relaxed: may race with the owner reusing the slot after wrap;
	 * then top has moved past t and the CAS below fails. */
	void *x = atomic_load_explicit(slot(a, t), memory_order_relaxed);
	/* Seq_cst on success, as in the paper: the CAS is in S with take's
	 * load of top, and releases our read of the slot to push's acquire
	 * load of top. Relaxed on failure: we return RETRY and use nothing. */
	if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1,
						     memory_order_seq_cst,
						     memory_order_relaxed))
		return MT_STEAL_RETRY;
	*item = x;
	return MT_STEAL_OK;
}

int64_t mt__deque_size_seq_cst(struct mt_deque *d)
{
	/* Seq_cst, as deque.h promises: both loads are in S after whatever
	 * SC operation the caller did before (the park announcement). Top
	 * first, as in steal, so the result errs towards "non-empty".
	 * Push's store of bottom is release, not seq_cst, so it is not in
	 * S: a waker that pushed must meet the sleeper through an RMW on
	 * the same word (release sequence), not a Dekker on two words. */
	int64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_seq_cst);
	return b - t;
}

int64_t mt__deque_capacity(struct mt_deque *d)
{
	/* Relaxed: owner or quiescent only; the owner wrote buf itself. */
	return capacity_of(atomic_load_explicit(&d->buf, memory_order_relaxed));
}
