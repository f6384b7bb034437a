// SPDX-License-Identifier: MIT
/*
 * mcentral.c - the spans of one span class on one node, shared by the
 * node's Ps (Go's mcentral, with a lock instead of Go's lock-free span
 * sets: it is taken once per span refill, not per object).
 *
 * A span not owned by an mcache is on exactly one list: partial (some
 * objects free) or full.  gort_free() marks a freebit; if that was the
 * span's first free while full and uncached, the span moves to partial;
 * if it leaves the span empty, the pages go back to the page heap.
 * Frees are merged into allocbits (freebits cleared) only by whoever owns
 * the span next: mcache refill, under the lock.  That is also where the
 * GC's sweep will plug in (allocbits = gcmarkbits).
 */
#include "mheap.h"

static void list_insert(struct mspan **head, struct mspan *s)
{
	s->prev = NULL;
	s->next = *head;
	if (*head)
		(*head)->prev = s;
	*head = s;
}

static void list_remove(struct mspan **head, struct mspan *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		*head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

static struct mspan **listof(struct mcentral *c, struct mspan *s)
{
	return s->list == listPartial ? &c->partial : &c->full;
}

/*
 * merge_frees() - fold freebits into allocbits; the caller owns @s (it
 * is in no list and in no cache, or the mcentral lock is held and it is
 * not cached).  Returns the objects freed.
 */
static uint32_t merge_frees(struct mspan *s)
{
	uint32_t w, n = 0;

	for (w = 0; w < s->nwords; w++) {
		uint64_t fb = __atomic_exchange_n(&s->freebits[w], 0, __ATOMIC_ACQ_REL);

		if (fb) {
			__atomic_store_n(&s->allocbits[w], s->allocbits[w] & ~fb, __ATOMIC_RELAXED);
			n += (uint32_t)__builtin_popcountll(fb);
		}
	}
	if (n) {
		s->allocCount -= n;
		__atomic_fetch_sub(&s->nfreed, n, __ATOMIC_RELAXED);
		s->needzero = true;
	}
	return n;
}

/* Prime the allocation cache of a span just taken for allocation. */
static void span_prime(struct mspan *s)
{
	s->freeindex = 0;
	s->alloccache = 0;
}

static struct mspan *newspan(struct mcentral *c)
{
	uint8_t sc = c->spanclass >> 1;
	uint32_t nelems = class_nelems[sc];
	struct mspan *s;
	bool needzero;

	s = mheap_alloc(c->node, class_to_allocnpages[sc], &needzero);
	if (!s)
		return NULL;
	s->spanclass = c->spanclass;
	s->elemsize = class_to_size[sc];
	s->nelems = nelems;
	s->divmagic = class_to_divmagic[sc];
	s->needzero = needzero;
	s->allocCount = 0;
	s->nfreed = 0;
	if (!span_bitsalloc(s, nelems)) {
		mheap_free(s);
		return NULL;
	}
	return s;
}

/* mcentral_cachespan() - a span with free objects, now owned by the
 * caller's mcache; NULL if out of memory. */
struct mspan *mcentral_cachespan(struct mcentral *c)
{
	struct mspan *s;

	lock(&c->lock);
	while ((s = c->partial)) {
		list_remove(&c->partial, s);
		s->list = listNone;
		s->incache = true;
		merge_frees(s);
		if (s->allocCount < s->nelems)
			break;
		/* Raced: its frees were merged by nobody; keep looking. */
		s->incache = false;
		s->list = listFull;
		list_insert(&c->full, s);
	}
	unlock(&c->lock);
	if (!s) {
		s = newspan(c);
		if (!s)
			return NULL;
		s->incache = true;
	}
	span_prime(s);
	return s;
}

/* mcentral_uncachespan() - the mcache is done with @s (it filled up, or
 * the P goes away). */
void mcentral_uncachespan(struct mcentral *c, struct mspan *s)
{
	uint32_t live;

	lock(&c->lock);
	/* seq_cst, before the merge: pairs with gort_free's OR-then-load of
	 * incache, so a concurrent free is either merged here or sees false
	 * and comes to the lock. */
	__atomic_store_n(&s->incache, false, __ATOMIC_SEQ_CST);
	merge_frees(s);
	live = s->allocCount;
	if (live == 0) {
		unlock(&c->lock);
		mheap_free(s);
		return;
	}
	s->list = live < s->nelems ? listPartial : listFull;
	list_insert(listof(c, s), s);
	unlock(&c->lock);
}

/*
 * mcentral_freed() - gort_free() marked an object of @s free: an
 * uncached full span becomes partial, an empty one goes to the heap.
 */
void mcentral_freed(struct mspan *s)
{
	struct mcentral *c = &heap.central[s->node][s->spanclass];

	if (__atomic_load_n(&s->incache, __ATOMIC_SEQ_CST))
		return;		/* the owner merges when it lets go of it */
	lock(&c->lock);
	if (s->incache || s->list == listNone) {
		unlock(&c->lock);
		return;
	}
	/* Empty: merge (nobody else can now) and give the pages back. */
	if (__atomic_load_n(&s->nfreed, __ATOMIC_ACQUIRE) == s->allocCount) {
		merge_frees(s);
		if (s->allocCount == 0) {
			list_remove(listof(c, s), s);
			s->list = listNone;
			unlock(&c->lock);
			mheap_free(s);
			return;
		}
	}
	/* Not merged here: the pending count keeps later frees lock-free. */
	if (s->list == listFull) {
		list_remove(&c->full, s);
		s->list = listPartial;
		list_insert(&c->partial, s);
	}
	unlock(&c->lock);
}

/* mcache_flushall() - give every cached span back (a P goes away). */
void mcache_flushall(struct mcache *mc)
{
	int i;

	for (i = 0; i < NUM_SPAN_CLASSES; i++) {
		struct mspan *s = mc->alloc[i];

		if (s) {
			mc->alloc[i] = NULL;
			mcentral_uncachespan(&heap.central[s->node][i], s);
		}
	}
}
