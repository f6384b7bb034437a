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
 * the span next: mcache refill, under the lock.
 *
 * Sweeping (the GC's, mgc.h) happens here too, under the lock: a span
 * that is not swept this cycle is swept before an mcache takes it, and
 * the GC goroutine sweeps the rest in the background (sweepone).  Sweep
 * frees what the collector left white: allocbits &= the mark bytes
 * (packed to bits), and clears the marks for the next cycle.
 */
#include <string.h>

#include "mgc.h"

/* Append to the partial list (FIFO: a span comes back to the front
 * after the longest time to collect frees).  O(1): after a GC cycle
 * the list may hold thousands of spans. */
static void partial_append(struct mcentral *c, struct mspan *s)
{
	s->next = NULL;
	s->prev = c->partialtail;
	if (c->partialtail)
		c->partialtail->next = s;
	else
		c->partial = s;
	c->partialtail = s;
}

static struct mspan **listof(struct mcentral *c, struct mspan *s)
{
	return s->list == listPartial ? &c->partial : s->list == listFull ? &c->full : &c->empty;
}

/* Take @s off the list it is on (s->list says which). */
static void list_remove(struct mcentral *c, struct mspan *s)
{
	if (s->list == listPartial && c->partialtail == s)
		c->partialtail = s->prev;
	spanlist_remove(listof(c, s), s);
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

static inline bool unswept(const struct mspan *s)
{
	return s->sweepgen != __atomic_load_n(&heap.sweepgen, __ATOMIC_ACQUIRE);
}

/* Mark bytes [64 @w, 64 @w + 64) of @s as a bitmap word, cleared. */
static uint64_t takemarks(struct mspan *s, uint32_t w)
{
	static const uint64_t zero;
	uint8_t *mb = s->gcmarkbytes + 64 * (size_t)w;
	uint64_t m = 0, x;
	int i;

	for (i = 0; i < 8; i++) {
		memcpy(&x, mb + 8 * i, sizeof(x));
		if (!x)
			continue;
		/* Bytes of 0 or 1: byte j lands in bit 56 + j, no carries. */
		m |= (x * 0x0102040810204080ULL) >> 56 << (8 * i);
		memcpy(mb + 8 * i, &zero, sizeof(zero));
	}
	return m;
}

/*
 * sweep_span_locked() - free @s's white objects and clear its marks;
 * its mcentral's lock held, @s on one of its lists (or just taken off),
 * not cached.  Leaves the list to the caller.
 */
void sweep_span_locked(struct mspan *s)
{
	uint32_t w, ndead = 0;

	merge_frees(s);
	for (w = 0; w < s->nwords; w++) {
		uint64_t a = s->allocbits[w];
		uint64_t m = takemarks(s, w);
		uint64_t dead = a & ~m & ~__atomic_load_n(&s->cachedbits[w], __ATOMIC_RELAXED);

		if (dead && __atomic_load_n(&s->nspecials, __ATOMIC_RELAXED))
			dead = gc_finalize_dead(s, w, dead);
		if (dead) {
			/* A concurrent gort_free of a dead object (a bug of the
			 * program's) must not be merged again later. */
			uint64_t fb = __atomic_fetch_and(&s->freebits[w], ~dead, __ATOMIC_ACQ_REL) & dead;

			if (fb)
				__atomic_fetch_sub(&s->nfreed, (uint32_t)__builtin_popcountll(fb),
						   __ATOMIC_RELAXED);
			__atomic_store_n(&s->allocbits[w], a & ~dead, __ATOMIC_RELAXED);
			if (__atomic_load_n(&s->typedbits[w], __ATOMIC_RELAXED) & dead)
				__atomic_fetch_and(&s->typedbits[w], ~dead, __ATOMIC_RELAXED);
			ndead += (uint32_t)__builtin_popcountll(dead);
			if (unlikely(gcstressn)) {
				uint64_t d = dead;

				while (d) {
					uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(d);

					d &= d - 1;
					gc_poison((void *)(s->base + (uintptr_t)i * s->elemsize),
						  s->elemsize);
				}
			}
		}
	}
	if (ndead) {
		s->allocCount -= ndead;
		s->needzero = true;
		gc_stats_free(s->node, s->spanclass >> 1, ndead, (uint64_t)ndead * s->elemsize);
	}
	__atomic_store_n(&s->sweepgen, __atomic_load_n(&heap.sweepgen, __ATOMIC_ACQUIRE),
			 __ATOMIC_RELEASE);
}

/* Put @s (on no list) on the list its count calls for; lock held. */
static void relist(struct mcentral *c, struct mspan *s)
{
	if (s->allocCount == 0) {
		keep_empty(c, s);
	} else if (s->allocCount < s->nelems) {
		s->list = listPartial;
		partial_append(c, s);
	} else {
		s->list = listFull;
		spanlist_push(&c->full, s);
	}
}

/*
 * sweep_small() - sweep @s if it is an unswept small span on a list;
 * false if it was not (cached, in transit to the page heap, or swept).
 */
static bool sweep_small(struct mspan *s)
{
	struct mcentral *c;
	uint8_t spc = s->spanclass, node = s->node;

	if (node >= heap.nnodes || !(spc >> 1))
		return false;
	c = &heap.central[node][spc];
	lock(&c->lock);
	if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != mSpanInUse ||
	    s->spanclass != spc || s->node != node || s->incache ||
	    s->list == listNone || !unswept(s)) {
		unlock(&c->lock);
		return false;
	}
	list_remove(c, s);
	s->list = listNone;
	sweep_span_locked(s);
	relist(c, s);
	unlock(&c->lock);
	return true;
}

/* A large object: claim it by sweepgen, free it if white. */
static bool sweep_large(struct mspan *s)
{
	uint32_t sg = __atomic_load_n(&heap.sweepgen, __ATOMIC_ACQUIRE), old = sg - 2, one = 1;

	if (!__atomic_compare_exchange_n(&s->sweepgen, &old, sg - 1, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return false;
	if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != mSpanInUse || s->spanclass >> 1) {
		__atomic_store_n(&s->sweepgen, sg, __ATOMIC_RELEASE);
		return false;
	}
	if (__atomic_exchange_n(&s->largemark, 0, __ATOMIC_ACQ_REL) ||
	    (__atomic_load_n(&s->nspecials, __ATOMIC_RELAXED) && !gc_finalize_dead(s, 0, 1)) ||
	    !__atomic_compare_exchange_n(&s->allocCount, &one, 0, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED)) {
		__atomic_store_n(&s->sweepgen, sg, __ATOMIC_RELEASE);
		return true;
	}
	gc_stats_free(s->node, 0, 1, s->npages * PAGE_SIZE);
	if (unlikely(gcstressn))
		gc_poison((void *)s->base, s->npages * PAGE_SIZE);
	__atomic_store_n(&s->sweepgen, sg, __ATOMIC_RELEASE);
	mheap_free(s, 0);
	return true;
}

/*
 * sweep_fence_large() - the program frees large span @s: wait out a
 * sweeper that holds it, and mark it swept so that none takes it after.
 * Without this, a sweeper that claimed @s before the free could find it
 * handed out again (the same struct, allocCount 1, largemark 0: white)
 * and free the new object.  Sweepers hold a span for a few loads and
 * CASes and never park, so the wait is short.
 */
void sweep_fence_large(struct mspan *s)
{
	for (;;) {
		uint32_t sg = __atomic_load_n(&heap.sweepgen, __ATOMIC_ACQUIRE);
		uint32_t g = __atomic_load_n(&s->sweepgen, __ATOMIC_ACQUIRE);

		if (g == sg - 1) {
			osyield();
			continue;
		}
		if (g != sg - 2 ||
		    __atomic_compare_exchange_n(&s->sweepgen, &g, sg, false, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			return;
	}
}

/* The span that starts at page @pg, if any is in use and unswept. */
static struct mspan *span_at(uintptr_t pg)
{
	struct mspan *s = spanof(pg);

	if (!s || s->base != pg || __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != mSpanInUse ||
	    !unswept(s))
		return NULL;
	return s;
}

static uint64_t sweepcursor;	/* atomic: next page (over all arenas) */
static uint32_t sweepcursorgen;	/* the sweepgen the cursor walks for */

/*
 * sweepone() - sweep the next unswept span in address order.  Returns
 * false when every span has been visited this cycle.
 */
bool sweepone(void)
{
	uint32_t sg = __atomic_load_n(&heap.sweepgen, __ATOMIC_ACQUIRE);
	uint64_t total = (uint64_t)narenas() * ARENA_PAGES;

	if (__atomic_load_n(&sweepcursorgen, __ATOMIC_ACQUIRE) != sg) {
		uint32_t old = __atomic_load_n(&sweepcursorgen, __ATOMIC_ACQUIRE);

		/* First call this cycle restarts the walk. */
		if (__atomic_compare_exchange_n(&sweepcursorgen, &old, sg, false,
						__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			__atomic_store_n(&sweepcursor, 0, __ATOMIC_RELEASE);
	}
	for (;;) {
		uint64_t i = __atomic_fetch_add(&sweepcursor, 1, __ATOMIC_ACQ_REL);
		uintptr_t pg;
		struct mspan *s;

		if (i >= total)
			return false;
		pg = arena_base(i / ARENA_PAGES) + (i % ARENA_PAGES) * PAGE_SIZE;
		s = span_at(pg);
		if (!s)
			continue;
		if (s->spanclass >> 1 ? sweep_small(s) : sweep_large(s))
			return true;
	}
}

/* sweep_done() - every span was visited by this cycle's sweep. */
bool sweep_done(void)
{
	return __atomic_load_n(&sweepcursorgen, __ATOMIC_ACQUIRE) ==
	       __atomic_load_n(&heap.sweepgen, __ATOMIC_ACQUIRE) &&
	       __atomic_load_n(&sweepcursor, __ATOMIC_RELAXED) >= (uint64_t)narenas() * ARENA_PAGES;
}

/*
 * sweep_some() - before a large allocation of @npages grows the heap:
 * sweep spans until about that many pages were visited, or none is left.
 * Cheap once the cycle's sweep is over (one load).
 */
void sweep_some(uintptr_t npages)
{
	uint64_t start = __atomic_load_n(&sweepcursor, __ATOMIC_RELAXED);

	if (sweep_done())
		return;
	while (sweepone() &&
	       __atomic_load_n(&sweepcursor, __ATOMIC_RELAXED) - start < 4 * npages + 64)
		;
}

/*
 * sweep_finish() - every span swept (the start of a cycle needs clean
 * marks): the rest of the walk, then a check that waits for spans
 * other sweepers hold.
 */
void sweep_finish(void)
{
	size_t a, n = narenas();
	uintptr_t i;

	while (sweepone())
		;
	for (a = 0; a < n; a++) {
		for (i = 0; i < ARENA_PAGES; i++) {
			uintptr_t pg = arena_base(a) + i * PAGE_SIZE;
			struct mspan *s;

			while ((s = span_at(pg))) {
				if (s->spanclass >> 1) {
					/* Cached spans are swept; in transit to
					 * the page heap: empty, and gone soon. */
					if (!sweep_small(s))
						break;
				} else if (!sweep_large(s)) {
					osyield();	/* another sweeper has it */
				}
			}
		}
	}
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
	__atomic_store_n(&s->ready, true, __ATOMIC_RELEASE);
	return s;
}

/* A span of @c with free objects, taken for a cache; NULL if none. */
static struct mspan *takespan(struct mcentral *c)
{
	struct mspan *s;

	lock(&c->lock);
	/* Emptiest first: a whole free span lasts longest in the cache. */
	if ((s = c->empty)) {
		spanlist_remove(&c->empty, s);
		s->list = listNone;
		if (unswept(s))
			sweep_span_locked(s);
		s->incache = true;
		merge_frees(s);
	}
	while (!s && (s = c->partial)) {
		list_remove(c, s);
		s->list = listNone;
		if (unswept(s))
			sweep_span_locked(s);
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
	/* Sweep before growing (Go's too): unswept full spans may free up.
	 * Once a walk found none, spans that fill up now are swept ones. */
	if (!s && c->fullswept != heap.sweepgen && !sweep_done()) {
		struct mspan *f, *next;
		int visits = 0;

		/* Bounded: the lock is held, and after a big cycle the list
		 * may hold tens of thousands of spans. */
		for (f = c->full; f && !s && visits < 64; f = next, visits++) {
			next = f->next;
			if (!unswept(f))
				continue;
			spanlist_remove(&c->full, f);
			f->list = listNone;
			sweep_span_locked(f);
			if (f->allocCount < f->nelems) {
				s = f;
				s->incache = true;
			} else {
				relist(c, f);
			}
		}
		if (!s && !f)
			c->fullswept = heap.sweepgen;
	}
	unlock(&c->lock);
	return s;
}

/* mcentral_cachespan() - a span with free objects, now owned by the
 * caller's mcache; NULL if out of memory. */
struct mspan *mcentral_cachespan(struct mcentral *c)
{
	struct mspan *s = takespan(c);

	/*
	 * Sweep a little of the whole heap before growing it, as large
	 * allocations do (Go's proportional sweep, roughly): the walk of
	 * our full list above is bounded and, once swept full spans head
	 * it, finds nothing, while spans of every class wait for the
	 * background sweeper.  When mutators outran it (with a change that
	 * made them faster between cycles, since dropped: gc.rst),
	 * binary-trees' heap took two more arenas (peak RSS 430 -> 500-547
	 * MB).
	 */
	if (!s && !sweep_done()) {
		sweep_some(class_to_allocnpages[c->spanclass >> 1]);
		s = takespan(c);
	}
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
		partial_append(c, s);
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
			list_remove(c, s);
			keep_empty(c, s);
			unlock(&c->lock);
			return;
		}
	}
	/* Not merged here: the pending count keeps later frees lock-free. */
	if (s->list == listFull) {
		spanlist_remove(&c->full, s);
		s->list = listPartial;
		partial_append(c, s);
	}
	unlock(&c->lock);
}

/*
 * mcentral_trim() - give the empty spans kept since before @olderthan
 * back to the page heap (sysmon once a second; gort_scavenge: all).
 * Not while a cycle marks (gc_trim_begin): false then, nothing done.
 */
bool mcentral_trim(int64_t olderthan)
{
	int n, i;

	if (!gc_trim_begin())
		return false;
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
	gc_trim_end();
	return true;
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
