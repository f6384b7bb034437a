// SPDX-License-Identifier: MIT
/*
 * mheap.c - the page heap: arenas from the OS, spans of pages, one heap
 * per NUMA node, and the scavenger that gives idle pages back.
 *
 * Arenas are 64 MiB of address space reserved with mmap(MAP_NORESERVE),
 * aligned to 64 MiB, bound to their node with mbind() before anything
 * touches them (only when there is more than one node), and given huge
 * pages or not per GORT_HUGEPAGES.  A node's heap carves spans from its
 * current arena front to back and keeps freed spans in free lists by
 * page count (free[n] for n < 128, one address-ordered list above),
 * coalescing with free neighbours found through the arena span map.
 * Allocation is best fit from the lists, else the arena front, else a
 * new arena.  Heap memory is never unmapped (Go's heap neither): idle
 * pages are released with MADV_DONTNEED by the scavenger, which keeps the
 * retained-but-idle memory under ~10 % of the heap goal.
 *
 * Accounting (bytes, per node, under the node lock):
 *   sys = inuse + idle,  idle = free-span pages + arena front,
 *   released <= idle  (released: free pages not resident: given back by
 *   the scavenger, or never touched, like the arena front).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "mgc.h"

struct heaparena **arenas;
static struct lock arenalock;
#define MAXARENAS 32768			/* 2 TiB of heap */
/*
 * Arena numbers (base >> ARENA_SHIFT), in creation order.  Numbers, not
 * addresses: the collector scans our globals conservatively, and an
 * arena's base is also its first object's address.
 */
static uint32_t arenalist[MAXARENAS];
static size_t narena;			/* atomic; arenalock for writers */

/* Arena numbers bounding all arena space, only ever widened, before an
 * arena is used (the collector's first filter for a possible pointer). */
uintptr_t arena_lo = UINTPTR_MAX >> ARENA_SHIFT, arena_hi;

size_t narenas(void)
{
	return __atomic_load_n(&narena, __ATOMIC_ACQUIRE);
}

uintptr_t arena_base(size_t i)
{
	return (uintptr_t)arenalist[i] << ARENA_SHIFT;
}

/* ---- span structs and bitmaps (Go's fixalloc) ---- */

static struct lock spanlock;
static struct mspan *spanfreelist;
static struct mspan *spanslab, *spanslabend;
#define BITWORDS_MAX	16		/* 1024 objects */
static uint64_t *bitfree[BITWORDS_MAX + 1];	/* free bitmap blocks by words */
static char *bitslab, *bitslabend;

struct mspan *spanalloc(void)
{
	struct mspan *s;

	lock(&spanlock);
	s = spanfreelist;
	if (s) {
		spanfreelist = s->next;
	} else {
		if (spanslab == spanslabend) {
			spanslab = sysmap(64 << 10);
			if (!spanslab) {
				unlock(&spanlock);
				return NULL;
			}
			spanslabend = spanslab + (64 << 10) / sizeof(struct mspan);
			heap.mspan_sys += 64 << 10;
		}
		s = spanslab++;
	}
	heap.mspan_inuse += sizeof(*s);
	unlock(&spanlock);
	memset(s, 0, sizeof(*s));
	return s;
}

/* Four bitmaps of @words each and 64 * @words mark bytes, zeroed;
 * spanlock held. */
static uint64_t *bitsalloc_locked(uint32_t words)
{
	uint64_t *b = bitfree[words];
	/* Whole cache lines: another P's span bitmaps never share one. */
	size_t n = ((4 + 8) * words * sizeof(uint64_t) + CACHELINE - 1) &
		   ~(size_t)(CACHELINE - 1);

	if (b) {
		bitfree[words] = *(uint64_t **)b;
	} else {
		if (bitslabend - bitslab < (ptrdiff_t)n) {
			bitslab = sysmap(256 << 10);
			if (!bitslab)
				return NULL;
			bitslabend = bitslab + (256 << 10);
			heap.mspan_sys += 256 << 10;
		}
		b = (uint64_t *)bitslab;	/* the slab is page aligned */
		bitslab += n;
	}
	memset(b, 0, n);
	return b;
}

bool span_bitsalloc(struct mspan *s, uint32_t nelems)
{
	uint32_t words = (nelems + 63) / 64;
	uint64_t *b;

	lock(&spanlock);
	b = bitsalloc_locked(words);
	unlock(&spanlock);
	if (!b)
		return false;
	s->nwords = words;
	s->allocbits = b;
	s->freebits = b + words;
	s->cachedbits = b + 2 * words;
	s->typedbits = b + 3 * words;
	s->gcmarkbytes = (uint8_t *)(b + 4 * words);
	return true;
}

void spanfree(struct mspan *s)
{
	lock(&spanlock);
	if (s->allocbits) {
		*(uint64_t **)s->allocbits = bitfree[s->nwords];
		bitfree[s->nwords] = s->allocbits;
	}
	s->state = mSpanDead;
	s->next = spanfreelist;
	spanfreelist = s;
	heap.mspan_inuse -= sizeof(*s);
	unlock(&spanlock);
}

/* ---- arenas ---- */

static void arenas_init(void)
{
	arenas = sysmap(sizeof(*arenas) << ARENA_INDEX_BITS);
	if (!arenas)
		throw("mallocinit: cannot reserve the arena index");
}

/* Map [lo, lo + len) page by page to @s in the arena index. */
static void setspans(uintptr_t lo, uintptr_t npages, struct mspan *s)
{
	uintptr_t p;

	for (p = lo; p < lo + npages * PAGE_SIZE; p += PAGE_SIZE) {
		struct heaparena *ha = arenas[p >> ARENA_SHIFT];

		__atomic_store_n(&ha->spans[(p >> PAGE_SHIFT) & (ARENA_PAGES - 1)], s,
				 __ATOMIC_RELEASE);
	}
}

/* Only the first and last page: enough for coalescing a free span. */
static void setspanends(struct mspan *s)
{
	setspans(s->base, 1, s);
	if (s->npages > 1)
		setspans(s->base + (s->npages - 1) * PAGE_SIZE, 1, s);
}

/*
 * Where arenas go: Go's hints, 0x00c0 << 32, then i << 40 | 0x00c0 << 32
 * for i = 1 .. 0x7f, each region filled upwards until something else is
 * in the way.  Far from the stacks, libraries and mmap()s at the top of
 * the address space: a conservative scan would take a stale word there
 * for a heap pointer more often (the upper half of a stack address whose
 * lower half a 32-bit store zeroed, 0x7fXX00000000, is an arena base
 * when arenas live among the stacks).  When every hint is taken (a
 * sanitizer's shadow memory covers the first ones) the kernel chooses.
 */
#define ARENA_HINT(i)	((uintptr_t)(i) << 40 | (uintptr_t)0x00c0 << 32)
#define ARENA_NHINTS	0x80
static uintptr_t arenahint = ARENA_HINT(0);	/* arenalock */
static unsigned int arenahinti;

static uintptr_t arena_reserve_hinted(size_t n)
{
	uintptr_t at = 0;

	lock(&arenalock);
	while (arenahinti < ARENA_NHINTS) {
		if (arenahint + n <= ARENA_HINT(arenahinti + 1) &&
		    sysmap_at((void *)arenahint, n)) {
			at = arenahint;
			arenahint += n;
			break;
		}
		arenahint = ARENA_HINT(++arenahinti);
	}
	unlock(&arenalock);
	return at;
}

/*
 * arena_grow() - reserve @n bytes (a multiple of ARENA_SIZE) of arena
 * space for node @ni; node lock held.  Returns the base or 0.
 */
static uintptr_t arena_grow(int ni, size_t n)
{
	uintptr_t raw, base, a;
	size_t len = n + ARENA_SIZE;

	base = arena_reserve_hinted(n);
	if (!base) {
		raw = (uintptr_t)sysmap(len);
		if (!raw)
			return 0;
		/* Trim to ARENA_SIZE alignment. */
		base = (raw + ARENA_SIZE - 1) & ~(ARENA_SIZE - 1);
		if (base > raw)
			sysunmap((void *)raw, base - raw);
		if (raw + len > base + n)
			sysunmap((void *)(base + n), raw + len - (base + n));
	}
	if (heap.hugepages == 1)
		sysmadvise((void *)base, n, MADV_HUGEPAGE);
	else if (heap.hugepages == 0)
		sysmadvise((void *)base, n, MADV_NOHUGEPAGE);
	if (heap.numa)
		heap_mbind((void *)base, n, heap.nodeids[ni]);
	lock(&arenalock);
	for (a = base; a < base + n; a += ARENA_SIZE) {
		struct heaparena *ha = sysmap(sizeof(*ha));

		if (!ha) {
			unlock(&arenalock);
			return 0;	/* the reservation leaks; nothing points in */
		}
		ha->node = (uint8_t)ni;
		__atomic_store_n(&arenas[a >> ARENA_SHIFT], ha, __ATOMIC_RELEASE);
		if (narena == MAXARENAS)
			throw("arena_grow: too many arenas");
		arenalist[narena] = (uint32_t)(a >> ARENA_SHIFT);
		__atomic_store_n(&narena, narena + 1, __ATOMIC_RELEASE);
		if (a >> ARENA_SHIFT < arena_lo)
			__atomic_store_n(&arena_lo, a >> ARENA_SHIFT, __ATOMIC_RELEASE);
		if ((a >> ARENA_SHIFT) + 1 > arena_hi)
			__atomic_store_n(&arena_hi, (a >> ARENA_SHIFT) + 1, __ATOMIC_RELEASE);
	}
	unlock(&arenalock);
	gcdirty_track(base, n);
	return base;
}

/* ---- the page heap of one node ---- */

static struct mspan **freelist_of(struct mheapnode *h, struct mspan *s)
{
	return s->npages < HEAP_FREELISTS ? &h->free[s->npages] : &h->large;
}

static void freelist_push(struct mheapnode *h, struct mspan *s)
{
	spanlist_push(freelist_of(h, s), s);
}

static void freelist_remove(struct mheapnode *h, struct mspan *s)
{
	spanlist_remove(freelist_of(h, s), s);
}

/* Best fit: the smallest free span of >= npages; node lock held. */
static struct mspan *freelist_take(struct mheapnode *h, uintptr_t npages)
{
	struct mspan *s, *best = NULL;
	uintptr_t n;

	for (n = npages; n < HEAP_FREELISTS; n++) {
		if (h->free[n]) {
			best = h->free[n];
			break;
		}
	}
	if (!best) {
		for (s = h->large; s; s = s->next)
			if (s->npages >= npages && (!best || s->npages < best->npages))
				best = s;
	}
	if (best)
		freelist_remove(h, best);
	return best;
}

/*
 * mheap_alloc() - an in-use span of @npages on heap node @ni.  *needzero
 * says whether its memory may hold old data.  Returns NULL on ENOMEM.
 */
struct mspan *mheap_alloc(int ni, uintptr_t npages, bool *needzero)
{
	struct mheapnode *h = &heap.nodes[ni];
	struct mspan *s, *rest = NULL;
	size_t bytes = npages * PAGE_SIZE;

	/* Span structs first: no allocation under the node lock. */
	s = spanalloc();
	rest = spanalloc();
	if (!s || !rest)
		goto nomem;

	lock(&h->lock);
	{
		struct mspan *f = freelist_take(h, npages);

		if (f) {
			/* Use f's struct for the result; split off the tail. */
			spanfree(s);
			s = f;
			*needzero = true;
			if (s->released)
				h->released -= s->npages * PAGE_SIZE;
			if (s->npages > npages) {
				rest->base = s->base + bytes;
				rest->npages = s->npages - npages;
				rest->state = mSpanFree;
				rest->node = (uint8_t)ni;
				rest->released = s->released;
				rest->freedat = s->freedat;
				if (rest->released)
					h->released += rest->npages * PAGE_SIZE;
				setspanends(rest);
				freelist_push(h, rest);
				rest = NULL;
				s->npages = npages;
			}
		} else {
			if (h->end - h->cur < bytes) {
				/* A fresh arena; the old front becomes a free span. */
				size_t n = (bytes + ARENA_SIZE - 1) & ~(ARENA_SIZE - 1);
				uintptr_t base = arena_grow(ni, n);

				if (!base) {
					unlock(&h->lock);
					goto nomem;
				}
				if (h->end > h->cur) {
					/* Never touched: counted as released. */
					rest->base = h->cur;
					rest->npages = (h->end - h->cur) / PAGE_SIZE;
					rest->state = mSpanFree;
					rest->node = (uint8_t)ni;
					rest->released = true;
					setspanends(rest);
					freelist_push(h, rest);
					rest = NULL;
				}
				h->cur = base;
				h->end = base + n;
				h->sys += n;
				h->released += n;
			}
			s->base = h->cur;
			s->npages = npages;
			h->cur += bytes;
			h->released -= bytes;
			*needzero = false;	/* never touched: the kernel zeroes */
		}
	}
	s->sweepgen = __atomic_load_n(&heap.sweepgen, __ATOMIC_ACQUIRE);
	s->largemark = 0;
	s->largetyped = 0;
	s->nspecials = 0;
	__atomic_store_n(&s->ready, false, __ATOMIC_RELEASE);	/* the caller sets it */
	s->state = mSpanInUse;
	s->node = (uint8_t)ni;
	s->released = false;
	s->next = s->prev = NULL;
	h->inuse += bytes;
	setspans(s->base, npages, s);
	unlock(&h->lock);
	if (rest)
		spanfree(rest);
	return s;
nomem:
	if (s)
		spanfree(s);
	if (rest)
		spanfree(rest);
	return NULL;
}

/*
 * mheap_free() - give in-use span @s back to its node's free lists,
 * merging it with free neighbours.  Its struct may be recycled.
 * @idlesince: when it stopped holding objects (nanotime_coarse), 0 = now;
 * the scavenger's one-second grace counts from then.
 */
void mheap_free(struct mspan *s, int64_t idlesince)
{
	struct mheapnode *h = &heap.nodes[s->node];
	struct mspan *prev, *next, *dead[2] = { NULL, NULL };

	/* An untracked large object's pages (pointer-free, or ALLOC_UNTRACKED)
	 * are looked at again before they can hold anything else (gcdirty.c). */
	if ((s->spanclass >> 1) == 0)
		gcdirty_retrack(s->base);
	lock(&h->lock);
	h->inuse -= s->npages * PAGE_SIZE;
	__atomic_store_n(&s->ready, false, __ATOMIC_RELEASE);
	s->state = mSpanFree;
	s->elemsize = 0;
	s->spanclass = 0;
	s->released = false;
	s->freedat = idlesince ? idlesince : nanotime_coarse();
	/* Bitmaps go back with the struct; a free span has none. */
	if (s->allocbits) {
		lock(&spanlock);
		*(uint64_t **)s->allocbits = bitfree[s->nwords];
		bitfree[s->nwords] = s->allocbits;
		unlock(&spanlock);
		s->allocbits = s->freebits = s->cachedbits = s->typedbits = NULL;
		s->gcmarkbytes = NULL;
		s->nwords = 0;
	}
	/* Only merge with neighbours that are free and not released, so a
	 * span is either all resident or all released. */
	prev = spanof(s->base - PAGE_SIZE);
	if (prev && prev->state == mSpanFree && prev->node == s->node && !prev->released &&
	    prev->base + prev->npages * PAGE_SIZE == s->base) {
		freelist_remove(h, prev);
		s->base = prev->base;
		s->npages += prev->npages;
		dead[0] = prev;
	}
	next = spanof(s->base + s->npages * PAGE_SIZE);
	if (next && next->state == mSpanFree && next->node == s->node && !next->released &&
	    next->base == s->base + s->npages * PAGE_SIZE) {
		freelist_remove(h, next);
		s->npages += next->npages;
		dead[1] = next;
	}
	setspanends(s);
	freelist_push(h, s);
	unlock(&h->lock);
	if (dead[0])
		spanfree(dead[0]);
	if (dead[1])
		spanfree(dead[1]);
}

/*
 * mheap_scavenge() - release up to @want bytes of node @ni's free spans
 * that went free before @olderthan (nanotime_coarse), oldest lists first.
 * Returns the bytes released.
 */
size_t mheap_scavenge(int ni, size_t want, int64_t olderthan)
{
	struct mheapnode *h = &heap.nodes[ni];
	size_t done = 0;
	int n;

	lock(&h->lock);
	for (n = HEAP_FREELISTS; n >= 0 && done < want; n--) {
		struct mspan *s = n == HEAP_FREELISTS ? h->large : h->free[n];

		for (; s && done < want; s = s->next) {
			if (s->released || s->freedat > olderthan)
				continue;
			/* MADV_DONTNEED under the lock: the span must not be
			 * handed out half released. */
			sysmadvise((void *)s->base, s->npages * PAGE_SIZE, MADV_DONTNEED);
			s->released = true;
			h->released += s->npages * PAGE_SIZE;
			done += s->npages * PAGE_SIZE;
		}
	}
	unlock(&h->lock);
	return done;
}

void mheap_init(void)
{
	gc_noscan_global(&heap, sizeof(heap));
	gc_noscan_global(arenalist, sizeof(arenalist));
	arenas_init();
}

/*
 * mheap_scavenge_tick() - sysmon, every tick (at most every 50 ms): keep
 * the idle memory that is still resident within 10 % of the heap goal,
 * as Go's background scavenger; with GORT_MEMLIMIT, also keep
 * sys - released under the limit.  Empty spans the mcentrals kept and
 * free spans go back once idle for a second; over the limit at once.
 * Return: true while there is idle resident memory it may release later
 * (sysmon then keeps waking, even when every P is idle).
 */
/*
 * heap_scavenge_pending() - is there memory the scavenger may release
 * later (kept empty spans, or resident idle pages while over the goal or
 * the limit)?  Cheap: sysmon asks before it sleeps for good.
 */
bool heap_scavenge_pending(void)
{
	uint64_t sys = 0, released = 0, inuse = 0, retained, goal;
	int i;

	if (!heap.inited)
		return false;
	if (mcentral_has_empty())
		return true;
	for (i = 0; i < heap.nnodes; i++) {
		struct mheapnode *h = &heap.nodes[i];

		sys += __atomic_load_n(&h->sys, __ATOMIC_RELAXED);
		released += __atomic_load_n(&h->released, __ATOMIC_RELAXED);
		inuse += __atomic_load_n(&h->inuse, __ATOMIC_RELAXED);
	}
	retained = sys - released;
	goal = heap_goal(heap_alloc_bytes());
	return sys - released > inuse &&
	       (retained > goal + goal / 10 ||
		(heap.memlimit > 0 && retained > (uint64_t)heap.memlimit));
}

bool mheap_scavenge_tick(void)
{
	static int64_t last;
	static bool pending;
	int64_t now = nanotime_coarse();
	uint64_t sys = 0, released = 0, retained, goal, limit;
	int i;

	if (!heap.inited)
		return false;
	if (now - last < 50 * 1000 * 1000)
		return pending;		/* sysmon re-checks before it sleeps */
	last = now;
	for (i = 0; i < heap.nnodes; i++) {
		struct mheapnode *h = &heap.nodes[i];

		sys += __atomic_load_n(&h->sys, __ATOMIC_RELAXED);
		released += __atomic_load_n(&h->released, __ATOMIC_RELAXED);
	}
	goal = heap_goal(heap_alloc_bytes());
	retained = sys - released;
	limit = heap.memlimit > 0 ? (uint64_t)heap.memlimit : UINT64_MAX;
	/* Kept empty spans count as in use until trimmed. */
	mcentral_trim(retained > limit ? INT64_MAX : now - 1000LL * 1000 * 1000);
	for (i = 0; i < heap.nnodes; i++) {
		if (retained > goal + goal / 10)
			retained -= mheap_scavenge(i, (size_t)(retained - goal - goal / 10),
						   now - 1000LL * 1000 * 1000);
		if (retained > limit)
			retained -= mheap_scavenge(i, (size_t)(retained - limit), INT64_MAX);
	}
	pending = heap_scavenge_pending();
	return pending;
}
