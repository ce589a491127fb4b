/*
 * pool/deque.c: the split work-stealing deque (see deque.h).
 *
 * Overview
 * ========
 * The live frames are the indices top .. bottom-1 of a power-of-two ring;
 * [top, split) is shared, [split, bottom) private. Indices only grow (top
 * never goes down; bottom and split go down by one at most for the length
 * of a pop), so a CAS on `top` can never suffer ABA: claiming index t is
 * one CAS from t to t+1.
 *
 * The `split` word holds split << 1 | PENDING. PENDING marks the oldest
 * private frame as being looked at by a private steal (below): thieves
 * steal only below split, and the owner's fast pop treats that one frame
 * as not private.
 *
 * Usage
 * =====
 * The owner thread calls push, share and take (and the inline fast paths
 * of mtpool.h do push and take's fast half in the caller's binary); any
 * thread calls steal, the size and private checks, and the private steal.
 *
 * Implementation notes
 * ====================
 * 1. The shared part is the Chase-Lev deque of Lê, Pop, Cohen and Zappa
 *    Nardelli, "Correct and Efficient Work-Stealing for Weak Memory
 *    Models" (PPoPP 2013, figure 1), with `split` in the role thieves see
 *    as the paper's `bottom`: thieves load top then split (seq_cst) and
 *    CAS top; the owner, to take a shared frame, lowers split with a
 *    seq_cst CAS and then loads top (seq_cst). As in the previous version
 *    of this file, the paper's two standalone fences are those seq_cst
 *    operations, because ThreadSanitizer does not model standalone fences.
 *    Why that is enough: all four accesses are in the single total order
 *    S (C11 7.17.3), consistent with sequenced-before, so either the
 *    thief's load of split comes after the owner's CAS in S and sees the
 *    frame gone, or the owner's load of top comes after the thief's load
 *    of top and sees a top at least as new (every write of top is a
 *    seq_cst CAS). The bad outcome, owner and thief both taking frame b
 *    without a CAS between them, needs both to miss the other. When
 *    t == b both CAS top and exactly one wins. The CDSChecker fix (Norris
 *    and Demsky, OOPSLA 2013) is kept: a grown ring is published with
 *    release and read with acquire in steal, and push goes on with the
 *    new ring.
 *
 * 2. The private part is the split deque of Dinan et al. and of Lace (van
 *    Dijk and van de Pol, "Lace: Non-blocking Split Deque for
 *    Work-Stealing", Euro-Par 2014 workshops): thieves never look above
 *    split, so the owner's private push is three relaxed stores of the
 *    frame and a release store of bottom (plain movs on x86), and its
 *    private pop a store of bottom, a compiler barrier and a load of split:
 *    no read-modify-write, no fence. Sharing raises split with a release
 *    store, which publishes the frames below it to the thieves' acquire
 *    (seq_cst) load of split. The owner shares the older half of its
 *    private frames when other workers are idle (worker.c), as Lace does
 *    when a thief asks, and everything when the frame must be stealable
 *    at once (a detached or join task).
 *
 * 3. The private steal. A split deque alone leaves a private frame with
 *    its owner until the owner next calls into the pool; an owner blocked
 *    in user code (waiting on a semaphore for that very frame to run)
 *    would wait for ever. So a thief about to sleep can take the oldest
 *    private frame s itself, with an asymmetric Dekker pair against the
 *    owner's fence-free pop:
 *
 *      owner pop of s:   W: store bottom = s; compiler barrier;
 *                        R: load split
 *      thief (marker):   W': CAS split 2s -> 2s+1 (PENDING);
 *                        membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
 *                        R': load bottom
 *
 *    The membarrier makes every running thread of the process execute a
 *    full barrier before it returns (a thread not running has passed one
 *    when it was switched out), at some point P of the owner's execution.
 *    If P comes before R, R sees W' (P follows W', and orders it before
 *    R): the owner sees the flag and takes the slow path. If P comes
 *    after R, it comes after W too, so R' sees bottom <= s (or a later
 *    value, see below). So either the owner leaves frame s alone, or the
 *    thief learns that the owner may have popped it. The thief then
 *    resolves with a CAS on the flagged word: bottom > s, it publishes
 *    (2s+1 -> 2s+2, release: frame s is shared and is stolen like any
 *    other); else it withdraws the flag (2s+1 -> 2s). The owner, finding
 *    the flag on its slow path, withdraws it with a CAS of its own (it
 *    wins the frame) or, if the thief published first, takes the frame
 *    through the Chase-Lev path above: both sides CAS the same word, so
 *    exactly one decision holds.
 *
 *    "A later value": after P the owner may pop s and push a new frame at
 *    index s before R' reads bottom = s+1. The thief then publishes that
 *    new frame, which is correct: any pop of it comes after P and sees the
 *    flag. What R' acquires is the owner's release store of bottom after
 *    the push that wrote frame s, so the thief (and through its release
 *    CAS every thief that acquires split) reads the frame the owner wrote.
 *
 *    ThreadSanitizer does not model membarrier. Nothing is published
 *    through it: frames reach thieves through the release/acquire pairs
 *    on bottom and split, which the sanitizer sees; the barrier only
 *    decides who takes frame s, which the stress tests check by counting
 *    every frame's runs. The heavy barrier is one system call, paid once
 *    by a worker on its way to sleep (park.c); no other path uses it.
 *
 * 4. Who writes split: the owner with plain release stores that only
 *    raise it (share, and the restore after a take), and with seq_cst
 *    CASes that lower it or withdraw a flag (take); a marker with CASes
 *    from the exact value it read. A raising store may overwrite a flag
 *    or a marker's publish: the frame stays shared or the marker's CAS
 *    fails, and either is safe. Lowering is never a plain store, so it
 *    cannot undo a publish that a thief may be acting on.
 *
 * 5. No barrier: where membarrier is not available (old kernel, seccomp),
 *    mt__deque_disable_private makes every push shared at once and sets
 *    the lane's limit so that the inline fast paths always call the
 *    library: the deque is then the plain Chase-Lev deque.
 *
 * Growth (owner only): when bottom - top >= capacity, allocate a ring
 * twice as large, copy top .. bottom-1 at the same indices, publish it
 * with release and keep the old ring on `retired` until destroy, because
 * a thief that loaded the old pointer may still read from it. A thief
 * reading an old ring reads the same frame at the same index: frames are
 * copied, never moved, and the owner never writes an old ring again.
 * `limit` (the lane) caches top + capacity: a push below it needs no look
 * at top. top only grows, so a stale limit only makes a push look early.
 */
#include "deque.h"

#include <assert.h>
#include <errno.h>

#include "alloc.h"

_Static_assert(offsetof(struct mt_deque, lane) == 0,
	       "the lane starts the deque: the owner's hot line");
_Static_assert(offsetof(struct mt_deque, lane.split) % MT_CACHELINE == 0,
	       "split starts a line: thieves read it on every steal, the "
	       "owner on every pop, and only sharing writes it");
_Static_assert(offsetof(struct mt_deque, top) % MT_CACHELINE == 0,
	       "top starts a line: every thief CASes it, and the owner "
	       "must not share that line with its own writes");

#define LOG2_MIN 1u
#define LOG2_MAX 40u
#define PENDING 1

static int64_t capacity_of(const struct mt_deque_buf *a)
{
	return a->mask + 1;
}

static struct mt_frame *slot(struct mt_deque_buf *a, int64_t i)
{
	return &a->slots[i & a->mask];
}

/* Relaxed: a frame is published by the release store of bottom (private
 * steals) or of split (sharing) that follows its write. */
static void frame_write(struct mt_frame *s, const struct mt_item *f)
{
	atomic_store_explicit(&s->fn, f->fn, memory_order_relaxed);
	atomic_store_explicit(&s->arg, f->arg, memory_order_relaxed);
	atomic_store_explicit(&s->group, f->group, memory_order_relaxed);
}

/* Relaxed: the caller has acquired what published the frame, or wrote it
 * itself; a thief that reads a frame being overwritten fails its CAS. */
static void frame_read(struct mt_frame *s, struct mt_item *out)
{
	out->fn = atomic_load_explicit(&s->fn, memory_order_relaxed);
	out->arg = atomic_load_explicit(&s->arg, memory_order_relaxed);
	out->group = atomic_load_explicit(&s->group, memory_order_relaxed);
}

/* Returns a ring of `cap` frames (a power of two), or NULL. Every frame is
 * initialised: a thief that loaded a stale top may read a slot of a fresh
 * ring that nothing was copied into (its CAS then fails), and that read
 * must not see indeterminate memory. */
static struct mt_deque_buf *buf_new(int64_t cap)
{
	size_t head = offsetof(struct mt_deque_buf, slots);
	size_t each = sizeof(struct mt_frame);
	if (cap <= 0 || (uint64_t)cap > (SIZE_MAX - head) / each)
		return NULL;
	struct mt_deque_buf *a =
		mt__alloc_aligned(MT_CACHELINE, head + (size_t)cap * each);
	if (a == NULL)
		return NULL;
	a->mask = cap - 1;
	a->retired_next = NULL;
	for (int64_t i = 0; i < cap; i++) {
		atomic_init(&a->slots[i].fn, NULL);
		atomic_init(&a->slots[i].arg, NULL);
		atomic_init(&a->slots[i].group, NULL);
	}
	return a;
}

/* The owner's view of the ring (the lane) follows `a`. */
static void use_ring(struct mt_deque *d, struct mt_deque_buf *a, int64_t top)
{
	d->lane.slots = a->slots;
	d->lane.mask = a->mask;
	d->lane.limit = d->private_ok ? top + capacity_of(a) : INT64_MIN;
}

int mt__deque_init_at(struct mt_deque *d, unsigned log2_capacity, int64_t start)
{
	if (d == NULL || log2_capacity < LOG2_MIN || log2_capacity > LOG2_MAX)
		return EINVAL;
	if (start < 0 || start > INT64_MAX / 4)
		return EINVAL;
	struct mt_deque_buf *a = buf_new((int64_t)1 << log2_capacity);
	if (a == NULL)
		return ENOMEM;
	atomic_init(&d->top, start);
	atomic_init(&d->lane.bottom, start);
	atomic_init(&d->lane.split, 2 * start);
	atomic_init(&d->lane.runs, 0);
	atomic_init(&d->buf, a);
	d->lane.idle = NULL;
	d->lane.pool = NULL;
	d->retired = NULL;
	d->private_ok = true;
	use_ring(d, a, start);
	return 0;
}

int mt__deque_init(struct mt_deque *d, unsigned log2_capacity)
{
	return mt__deque_init_at(d, log2_capacity, 0);
}

void mt__deque_disable_private(struct mt_deque *d)
{
	d->private_ok = false;
	d->lane.limit = INT64_MIN; /* inline pushes always call the library */
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
	for (int64_t i = t; i < b; i++) {
		struct mt_item f;
		frame_read(slot(old, i), &f); /* the owner's own writes */
		frame_write(slot(a, i), &f);  /* private until published */
	}
	/* Release: publishes the copied frames and a->mask; pairs with the
	 * acquire load of buf in mt__deque_steal. */
	atomic_store_explicit(&d->buf, a, memory_order_release);
	old->retired_next = d->retired;
	d->retired = old;
	return a;
}

/* Owner only: makes room for a push at index b (bottom). Returns the ring
 * to write, or NULL when it is full and cannot grow. */
static struct mt_deque_buf *room_for(struct mt_deque *d, int64_t b)
{
	/* Relaxed: only the owner writes buf. */
	struct mt_deque_buf *a =
		atomic_load_explicit(&d->buf, memory_order_relaxed);
	if (b < d->lane.limit)
		return a;
	/* Acquire: pairs with the thieves' CAS on top, so a thief's read of
	 * a frame happens before we overwrite its slot after wrap-around. */
	int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
	if (b - t >= capacity_of(a)) {
		a = grow(d, a, t, b); /* the CDSChecker fix: use the new ring */
		if (a == NULL)
			return NULL;
	}
	use_ring(d, a, t);
	return a;
}

int mt__deque_push_owner(struct mt_deque *d, const struct mt_item *f)
{
	assert(f->group != NULL ? f->fn != NULL : f->arg != NULL);
	/* Relaxed: only the owner writes bottom. */
	int64_t b = atomic_load_explicit(&d->lane.bottom, memory_order_relaxed);
	struct mt_deque_buf *a = room_for(d, b);
	if (a == NULL)
		return ENOMEM;
	frame_write(slot(a, b), f);
	/* Release: publishes the frame to a private steal's acquire load of
	 * bottom (mt__deque_private_resolve); sharing publishes it again. */
	atomic_store_explicit(&d->lane.bottom, b + 1, memory_order_release);
	if (!d->private_ok)
		mt__deque_share_owner(d, MT_SHARE_ALL);
	return 0;
}

int64_t mt__deque_share_owner(struct mt_deque *d, enum mt_share how)
{
	/* Relaxed: the owner writes bottom, and every even value of split;
	 * a flag or a publish a marker added only raises what we store
	 * (implementation note 4). */
	int64_t b = atomic_load_explicit(&d->lane.bottom, memory_order_relaxed);
	int64_t s =
		atomic_load_explicit(&d->lane.split, memory_order_relaxed) >> 1;
	int64_t n = b - s;
	if (n <= 0)
		return 0;
	int64_t k = how == MT_SHARE_ALL ? n : (n + 1) / 2;
	/* Release: publishes frames s .. s+k-1 (written before, by the owner)
	 * to the thieves' seq_cst, hence acquire, load of split. */
	atomic_store_explicit(&d->lane.split, 2 * (s + k),
			      memory_order_release);
	return k;
}

/* Owner only: frame b was shared (split > b, b == split - 1, nothing
 * private) and bottom is already b. The Chase-Lev take with split as the
 * thieves' bottom; also withdraws a marker's flag. */
static bool take_shared(struct mt_deque *d, int64_t b, struct mt_item *out)
{
	struct mt_deque_buf *a =
		atomic_load_explicit(&d->buf, memory_order_relaxed);
	for (;;) {
		int64_t w = atomic_load_explicit(&d->lane.split,
						 memory_order_relaxed);
		if (w & PENDING) {
			/* A marker's flag: ours to withdraw, as the frame is
			 * either ours (b == split) or gone from the private
			 * part (the marker read an old bottom). Relaxed:
			 * the flag publishes nothing; failure re-reads. */
			atomic_compare_exchange_strong_explicit(
				&d->lane.split, &w, w & ~(int64_t)PENDING,
				memory_order_relaxed, memory_order_relaxed);
			continue;
		}
		if (2 * b >= w) { /* private after all: a flag is gone */
			frame_read(slot(a, b), out);
			return true;
		}
		/* Seq_cst CAS then seq_cst load: W and L of implementation
		 * note 1 (the paper's fence). Relaxed on failure: re-read. */
		if (!atomic_compare_exchange_strong_explicit(
			    &d->lane.split, &w, 2 * b, memory_order_seq_cst,
			    memory_order_relaxed))
			continue;
		int64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
		frame_read(slot(a, b), out);
		if (t < b)
			return true; /* no thief can claim b (note 1) */
		bool won = false;
		if (t == b) {
			/* Seq_cst on success, as in the paper: in S with the
			 * thieves' loads of top. Relaxed on failure. */
			won = atomic_compare_exchange_strong_explicit(
				&d->top, &t, b + 1, memory_order_seq_cst,
				memory_order_relaxed);
		}
		/* Empty at b + 1. split first: a marker that then reads
		 * bottom = b + 1 must not find a private frame at b. Release,
		 * as every store of split and bottom, so that a thief or
		 * marker that reads them also sees earlier frames. */
		atomic_store_explicit(&d->lane.split, 2 * (b + 1),
				      memory_order_release);
		atomic_store_explicit(&d->lane.bottom, b + 1,
				      memory_order_release);
		return won;
	}
}

bool mt__deque_take_owner(struct mt_deque *d, struct mt_item *out)
{
	int64_t b =
		atomic_load_explicit(&d->lane.bottom, memory_order_relaxed) - 1;
	/* The owner's half of the asymmetric pair (note 3): the store of
	 * bottom, a compiler barrier, the load of split. Relaxed store: a
	 * marker's heavy barrier, not this store's order, makes it visible
	 * in time; relaxed load: only the owner lowers split. */
	atomic_store_explicit(&d->lane.bottom, b, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
	int64_t w = atomic_load_explicit(&d->lane.split, memory_order_relaxed);
	if (2 * b >= w) {
		frame_read(&d->lane.slots[b & d->lane.mask], out);
		return true;
	}
	/* Nothing private; if nothing is shared either, give the index back
	 * without take_shared's CAS (every search round of an idle worker
	 * pops its empty deque). Relaxed: top only grows, so a value at or
	 * past split proves the shared part empty; a stale smaller one only
	 * sends us down the CAS path. b < split: frame b is not the flagged
	 * private frame of a marker (take_shared withdraws that one), and no
	 * marker can share anything here: with no private frame its resolve
	 * withdraws (note 3). */
	int64_t s = w >> 1;
	if (b < s && atomic_load_explicit(&d->top, memory_order_relaxed) >= s) {
		atomic_store_explicit(&d->lane.bottom, b + 1,
				      memory_order_release);
		return false;
	}
	return take_shared(d, b, out);
}

bool mt__deque_take_owner_if(struct mt_deque *d, const struct mt_group *group,
			     struct mt_item *out)
{
	/* Relaxed: the owner's own fields; the slot may be stale (below
	 * top, or taken), in which case take's checks on split and top
	 * decide, as they would without this peek. */
	int64_t b = atomic_load_explicit(&d->lane.bottom, memory_order_relaxed);
	struct mt_frame *f = &d->lane.slots[(b - 1) & d->lane.mask];
	if (atomic_load_explicit(&f->group, memory_order_relaxed) != group)
		return false;
	return mt__deque_take_owner(d, out);
}

enum mt_steal_result mt__deque_steal(struct mt_deque *d, struct mt_item *out)
{
	/* Seq_cst load then seq_cst load: the steal half of note 1 (R1, R2).
	 * The load of split also acquires, pairing with the release stores
	 * that share frames (the owner's, a marker's publishing CAS). */
	int64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
	int64_t w = atomic_load_explicit(&d->lane.split, memory_order_seq_cst);
	if (t >= (w >> 1))
		return MT_STEAL_EMPTY;
	/* Acquire: pairs with the release store in grow(), so the ring's
	 * mask and copied frames are visible. The share whose split we
	 * acquired came after any growth it needed, so whenever our CAS can
	 * succeed this ring (or a newer one) holds index t. */
	struct mt_deque_buf *a =
		atomic_load_explicit(&d->buf, memory_order_acquire);
	struct mt_item f;
	frame_read(slot(a, t), &f);
	/* Seq_cst on success, as in the paper: the CAS is in S with take's
	 * load of top, and releases our read of the frame to push's acquire
	 * load of top. Relaxed on failure: we return RETRY and use nothing. */
	if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1,
						     memory_order_seq_cst,
						     memory_order_relaxed))
		return MT_STEAL_RETRY;
	*out = f;
	return MT_STEAL_OK;
}

int64_t mt__deque_size_seq_cst(struct mt_deque *d)
{
	/* Seq_cst, as deque.h promises: both loads are in S after whatever
	 * SC operation the caller did before (the park announcement). Top
	 * first, as in steal, so the result errs towards "non-empty". */
	int64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
	int64_t w = atomic_load_explicit(&d->lane.split, memory_order_seq_cst);
	return (w >> 1) - t;
}

bool mt__deque_has_private(struct mt_deque *d)
{
	/* Acquire both: split first, so that a bottom above it was stored
	 * after the frames below it (the owner's release stores). */
	int64_t w = atomic_load_explicit(&d->lane.split, memory_order_acquire);
	int64_t b = atomic_load_explicit(&d->lane.bottom, memory_order_acquire);
	return b > (w >> 1);
}

int64_t mt__deque_private_mark(struct mt_deque *d)
{
	/* Acquire: as in mt__deque_has_private. */
	int64_t w = atomic_load_explicit(&d->lane.split, memory_order_acquire);
	int64_t b = atomic_load_explicit(&d->lane.bottom, memory_order_acquire);
	if ((w & PENDING) || b <= (w >> 1))
		return -1;
	/* Seq_cst: W' of note 3, before the caller's heavy barrier in its
	 * program order (the barrier orders it for the owner; seq_cst keeps
	 * the compiler and the C11 model from weakening that). Relaxed on
	 * failure: another marker or the owner moved split; we do nothing. */
	if (!atomic_compare_exchange_strong_explicit(
		    &d->lane.split, &w, w | PENDING, memory_order_seq_cst,
		    memory_order_relaxed))
		return -1;
	return w >> 1;
}

bool mt__deque_private_resolve(struct mt_deque *d, int64_t s)
{
	int64_t flagged = 2 * s + PENDING;
	/* Acquire: R' of note 3, after the heavy barrier; pairs with the
	 * owner's release store of bottom after it wrote frame s, so that
	 * our publish below carries that frame to the thieves. */
	int64_t b = atomic_load_explicit(&d->lane.bottom, memory_order_acquire);
	if (b > s) {
		/* Release: shares frame s (as the owner's share would);
		 * relaxed on failure: the owner withdrew or overwrote the
		 * flag, and whatever it decided holds. */
		return atomic_compare_exchange_strong_explicit(
			&d->lane.split, &flagged, 2 * (s + 1),
			memory_order_release, memory_order_relaxed);
	}
	/* The owner may have popped frame s: withdraw. Relaxed: the flag
	 * published nothing; if the CAS fails the owner already did. */
	atomic_compare_exchange_strong_explicit(&d->lane.split, &flagged, 2 * s,
						memory_order_relaxed,
						memory_order_relaxed);
	return false;
}

int64_t mt__deque_capacity(struct mt_deque *d)
{
	/* Relaxed: owner or quiescent only; the owner wrote buf itself. */
	return capacity_of(atomic_load_explicit(&d->buf, memory_order_relaxed));
}
