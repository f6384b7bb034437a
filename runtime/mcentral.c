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

/* Append at the tail: O(n), but partial lists stay short (a node's
 * spans of one class with free room). */
static void list_append(struct mspan **head, struct mspan *s)
{
	struct mspan **pp = head, *prev = NULL;

	while (*pp) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	s->next = NULL;
	s->prev = prev;
	*pp = s;
}

static struct mspan **listof(struct mcentral *c, struct mspan *s)
{
	return s->list == listPartial ? &c->partial : s->list == listFull ? &c->full : &c->empty;
}

/* Park an empty span for reuse; lock held. */
static void keep_empty(struct mcentral *c, struct mspan *s)
{
	s->list = listEmpty;
	s->freedat = nanotime_coarse();
	spanlist_push(&c->empty, s);
}

/*
 * merge_frees() - fold freebits into allocbits; the caller owns @s (it
 * is in no list and in no cache, or the mcentral lock is held and it is
 * not cached).  Returns the objects freed.
 */
uint32_t merge_frees(struct mspan *s)
{
	uint32_t w, n = 0;

	for (w = 0; w < s->nwords; w++) {
		uint64_t fb = __atomic_load_n(&s->freebits[w], __ATOMIC_RELAXED);

		if (fb)
			fb = __atomic_exchange_n(&s->freebits[w], 0, __ATOMIC_ACQ_REL);

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
void span_prime(struct mspan *s)
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
		mheap_free(s, 0);
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
	/* Emptiest first: a whole free span lasts longest in the cache. */
	if ((s = c->empty)) {
		spanlist_remove(&c->empty, s);
		s->list = listNone;
		s->incache = true;
		merge_frees(s);
	}
	while (!s && (s = c->partial)) {
		spanlist_remove(&c->partial, s);
		s->list = listNone;
		s->incache = true;
		merge_frees(s);
		if (s->allocCount < s->nelems)
			break;
		/* Its pending frees were merged already by nobody: full. */
		s->incache = false;
		s->list = listFull;
		spanlist_push(&c->full, s);
		s = NULL;
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
		keep_empty(c, s);
		unlock(&c->lock);
		return;
	}
	s->list = live < s->nelems ? listPartial : listFull;
	/* Partial spans queue FIFO: by the time one is taken again it has
	 * had the longest to collect frees. */
	if (s->list == listPartial)
		list_append(&c->partial, s);
	else
		spanlist_push(&c->full, s);
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
	/* Empty: merge (nobody else can now) and keep it for reuse. */
	if (s->list != listEmpty &&
	    __atomic_load_n(&s->nfreed, __ATOMIC_ACQUIRE) == s->allocCount) {
		merge_frees(s);
		if (s->allocCount == 0) {
			spanlist_remove(listof(c, s), s);
			keep_empty(c, s);
			unlock(&c->lock);
			return;
		}
	}
	/* Not merged here: the pending count keeps later frees lock-free. */
	if (s->list == listFull) {
		spanlist_remove(&c->full, s);
		s->list = listPartial;
		list_append(&c->partial, s);
	}
	unlock(&c->lock);
}

/*
 * mcentral_trim() - give the empty spans kept since before @olderthan
 * back to the page heap (sysmon once a second; gort_scavenge: all).
 */
void mcentral_trim(int64_t olderthan)
{
	int n, i;

	for (n = 0; n < heap.nnodes; n++) {
		for (i = 0; i < NUM_SPAN_CLASSES; i++) {
			struct mcentral *c = &heap.central[n][i];
			struct mspan *s, *next, *rel = NULL;

			if (!__atomic_load_n(&c->empty, __ATOMIC_RELAXED))
				continue;
			lock(&c->lock);
			for (s = c->empty; s; s = next) {
				next = s->next;
				if (s->freedat > olderthan)
					continue;
				spanlist_remove(&c->empty, s);
				s->list = listNone;
				s->next = rel;
				rel = s;
			}
			unlock(&c->lock);
			for (s = rel; s; s = next) {
				next = s->next;
				mheap_free(s, s->freedat);	/* idle since it emptied */
			}
		}
	}
}

bool mcentral_has_empty(void)
{
	int n, i;

	for (n = 0; n < heap.nnodes; n++)
		for (i = 0; i < NUM_SPAN_CLASSES; i++)
			if (__atomic_load_n(&heap.central[n][i].empty, __ATOMIC_RELAXED))
				return true;
	return false;
}

/* mcache_flushall() - give every cached span back (a P goes away). */
void mcache_flushall(struct mcache *mc)
{
	int i;

	for (i = 0; i < NUM_SPAN_CLASSES; i++) {
		struct mspan *s = mc->alloc[i];

		mcache_tcache_flush(mc, i, 0);
		if (s) {
			mc->alloc[i] = NULL;
			mcentral_uncachespan(&heap.central[s->node][i], s);
		}
	}
}
