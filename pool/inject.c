/*
 * pool/inject.c: bounded MPMC ring plus a locked overflow list.
 *
 * Cell sequence protocol (cells[i & mask], position p):
 *   seq == p          free for the producer claiming position p;
 *   seq == p + 1      holds the item of position p, for the consumer of p;
 *   seq == p + mask+1 freed by that consumer: free for position p + size.
 * A producer that sees seq < p knows the ring is full (the consumer of the
 * previous lap has not finished) and goes to the overflow list.
 */
#include "inject.h"

#include <errno.h>

#include "alloc.h"
#include "task.h"

int mt__inject_init(struct mt_inject *q, unsigned log2_cells)
{
	return mt__inject_init_at(q, log2_cells, 0);
}

int mt__inject_init_at(struct mt_inject *q, unsigned log2_cells, size_t start)
{
	size_t n = (size_t)1 << log2_cells;
	struct mt_inject_cell *cells =
		mt__alloc_aligned(MT_CACHELINE, n * sizeof(cells[0]));
	if (cells == NULL)
		return ENOMEM;
	int err = mt__fault_mutex_init_fails() ?
			  EAGAIN :
			  pthread_mutex_init(&q->overflow_lock, NULL);
	if (err != 0) {
		mt__free(cells); /* q is left as it was: nothing to destroy */
		return err;
	}
	q->cells = cells;
	/* Each cell free for the first position that maps to it (seq == p,
	 * see the protocol above); positions wrap modulo 2^N like size_t. */
	for (size_t p = start; p != start + n; p++) {
		atomic_init(&q->cells[p & (n - 1)].seq, p);
		atomic_init(&q->cells[p & (n - 1)].item, NULL);
	}
	q->mask = n - 1;
	atomic_init(&q->head, start);
	atomic_init(&q->tail, start);
	atomic_init(&q->overflow_len, 0);
	q->overflow_head = q->overflow_tail = NULL;
	return 0;
}

void mt__inject_destroy(struct mt_inject *q)
{
	pthread_mutex_destroy(&q->overflow_lock);
	mt__free(q->cells);
	q->cells = NULL;
}

static void overflow_push(struct mt_inject *q, struct mt_task *t)
{
	t->next = NULL;
	pthread_mutex_lock(&q->overflow_lock);
	if (q->overflow_tail != NULL)
		q->overflow_tail->next = t;
	else
		q->overflow_head = t;
	q->overflow_tail = t;
	/* A sleeping worker's re-check reads it after its fence, as it reads
	 * `tail` (park.c); the task itself is handed over by the mutex. */
	atomic_fetch_add_explicit(&q->overflow_len, 1, memory_order_seq_cst);
	pthread_mutex_unlock(&q->overflow_lock);
}

static struct mt_task *overflow_pop(struct mt_inject *q)
{
	/* relaxed: only a hint to skip the lock; the list is read under it. */
	if (atomic_load_explicit(&q->overflow_len, memory_order_relaxed) == 0)
		return NULL;
	pthread_mutex_lock(&q->overflow_lock);
	struct mt_task *t = q->overflow_head;
	if (t != NULL) {
		q->overflow_head = t->next;
		if (q->overflow_head == NULL)
			q->overflow_tail = NULL;
		atomic_fetch_sub_explicit(&q->overflow_len, 1,
					  memory_order_relaxed);
	}
	pthread_mutex_unlock(&q->overflow_lock);
	return t;
}

/* Signed distance from position b to seq a. Positions wrap modulo 2^N, so
 * the subtraction is done in size_t (defined) and only then converted
 * (modular in GCC and Clang; the distance is far below 2^(N-1)). Taking
 * it as (intptr_t)a - (intptr_t)b overflowed, which is undefined, when a
 * and b straddle INTPTR_MAX, e.g. a full ring one lap past it; UBSan
 * caught it in tests/unit/test_inject.c via mt__inject_init_at. */
static intptr_t pos_diff(size_t a, size_t b)
{
	return (intptr_t)(a - b);
}

/* Claims a ring position for pushing; returns the cell, or NULL if full. */
static struct mt_inject_cell *claim_push(struct mt_inject *q, size_t *pos_out)
{
	/* relaxed: only a starting guess, validated by the cell seq and CAS. */
	size_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
	for (;;) {
		struct mt_inject_cell *c = &q->cells[pos & q->mask];
		/* acquire: pairs with the consumer's release of seq, so its
		 * read of the previous lap's item is done before we overwrite
		 * it. */
		size_t seq =
			atomic_load_explicit(&c->seq, memory_order_acquire);
		intptr_t diff = pos_diff(seq, pos);
		if (diff == 0) {
			/* relaxed CAS: claiming the position publishes nothing;
			 * the cell's seq store below does. */
			if (atomic_compare_exchange_weak_explicit(
				    &q->tail, &pos, pos + 1,
				    memory_order_relaxed,
				    memory_order_relaxed)) {
				*pos_out = pos;
				return c;
			}
		} else if (diff < 0) {
			return NULL; /* a full lap behind: the ring is full */
		} else {
			pos = atomic_load_explicit(&q->tail,
						   memory_order_relaxed);
		}
	}
}

void mt__inject_push_mp(struct mt_inject *q, struct mt_task *t)
{
	size_t pos;
	struct mt_inject_cell *c = claim_push(q, &pos);
	if (c == NULL) {
		overflow_push(q, t);
		return;
	}
	atomic_store_explicit(&c->item, t, memory_order_relaxed);
	/* release: publishes the item and the task's fields; pairs with the
	 * acquire load of seq in ring_pop. Ordering against a worker going
	 * to sleep is not this store's job: the submitter's fence F_s after
	 * the push does it (park.c), and a sleeper's re-check reads `tail`,
	 * which our CAS above already moved. */
	atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
}

static struct mt_task *ring_pop(struct mt_inject *q)
{
	size_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
	for (;;) {
		struct mt_inject_cell *c = &q->cells[pos & q->mask];
		/* acquire: pairs with the producer's store of seq = pos + 1,
		 * making the item and the task's contents visible. */
		size_t seq =
			atomic_load_explicit(&c->seq, memory_order_acquire);
		intptr_t diff = pos_diff(seq, pos + 1);
		if (diff == 0) {
			if (atomic_compare_exchange_weak_explicit(
				    &q->head, &pos, pos + 1,
				    memory_order_relaxed,
				    memory_order_relaxed)) {
				struct mt_task *t = atomic_load_explicit(
					&c->item, memory_order_relaxed);
				/* release: our read of item happens before
				 * the next lap's producer overwrites it. */
				atomic_store_explicit(&c->seq,
						      pos + q->mask + 1,
						      memory_order_release);
				return t;
			}
		} else if (diff < 0) {
			return NULL; /* empty, or pos's producer not done */
		} else {
			pos = atomic_load_explicit(&q->head,
						   memory_order_relaxed);
		}
	}
}

struct mt_task *mt__inject_pop_mc(struct mt_inject *q)
{
	struct mt_task *t = ring_pop(q);
	return t != NULL ? t : overflow_pop(q);
}

int mt__inject_maybe_nonempty(struct mt_inject *q)
{
	/* seq_cst loads: ordered after the sleeper's fence F_z (park.c). A cell
	 * claimed but not yet published counts as non-empty: its producer
	 * will wake someone after publishing anyway, and a spurious "maybe"
	 * only costs one more search round. */
	size_t head = atomic_load_explicit(&q->head, memory_order_seq_cst);
	size_t tail = atomic_load_explicit(&q->tail, memory_order_seq_cst);
	return head != tail || atomic_load_explicit(&q->overflow_len,
						    memory_order_seq_cst) != 0;
}
