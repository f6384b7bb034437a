// SPDX-License-Identifier: MIT
/*
 * malloc.c - allocation: the per-P mcache fast path, large objects, free.
 *
 * gort_alloc(size) for size <= 32 KiB rounds size up to its class and
 * takes the next free object of the calling P's cached span of that class
 * (and noscan-ness): a bitmap scan on the span's own alloccache, no lock,
 * no atomic read-modify-write.  When the span is full, the mcache gives it
 * back to its node's mcentral and takes another (mcentral.c).  Larger
 * objects get a span of their own from the page heap of the P's node.
 *
 * A goroutine uses its P's mcache, so it allocates from its P's NUMA
 * node.  A thread that is not running a goroutine (or a goroutine inside
 * gort_syscall_enter/exit, which holds no P) uses a shared mcache of the
 * node of the CPU it runs on, under a lock; gort_alloc_node() uses the
 * shared mcache of the node asked for.
 *
 * Invariants: an mcache's alloc[sc] is NULL or a span with incache set
 * whose spanclass is sc; the fast path never blocks or parks, so a
 * goroutine keeps its P (and the mcache) for the whole call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mgc.h"

struct heapt heap;
static struct lock initlock;

struct mcache *allocmcache(int node)
{
	struct mcache *c = sysmap(sizeof(*c));

	if (!c)
		throw("allocmcache: out of memory");
	c->node = (uint8_t)node;
	return c;
}

/*
 * mallocinit() - set up the heap once, from gort_main() or from the first
 * gort_alloc() of a program that does not run goroutines.
 */
void mallocinit(void)
{
	const char *hp;
	int i, j, e;

	if (__atomic_load_n(&heap.inited, __ATOMIC_ACQUIRE))
		return;
	e = errno_get();	/* libnuma's probing may set it: not ours to change */
	lock(&initlock);
	if (heap.inited) {
		unlock(&initlock);
		errno_set(e);
		return;
	}
	sizeclasses_init();
	mheap_init();
	heapnuma_init();
	/*
	 * Arenas follow the system's THP setting unless GORT_HUGEPAGES=on
	 * (MADV_HUGEPAGE) or off (MADV_NOHUGEPAGE).  Not on by default: with
	 * "defrag=madvise", the usual setting, a fault in an MADV_HUGEPAGE
	 * region may compact memory synchronously for milliseconds, and a
	 * goroutine stuck in that fault delays every stop-the-world (GC
	 * pauses of 4-8 ms on a 1 GiB heap, under 1 ms without; Go stopped
	 * using MADV_HUGEPAGE in 1.21.1 for the same reason).
	 */
	hp = getenv("GORT_HUGEPAGES");
	if (hp && (!strcmp(hp, "off") || !strcmp(hp, "0")))
		heap.hugepages = 0;
	else if (hp && (!strcmp(hp, "on") || !strcmp(hp, "1")))
		heap.hugepages = 1;
	else
		heap.hugepages = -1;
	heap.memlimit = (int64_t)envsize("GORT_MEMLIMIT", 0);
	/* GORT_GC, as GOGC: a percentage, or "off" (no goal). */
	hp = getenv("GORT_GC");
	heap.gcpercent = hp && !strcmp(hp, "off") ? -1 : (int)envint("GORT_GC", 100);
	for (i = 0; i < heap.nnodes; i++) {
		for (j = 0; j < NUM_SPAN_CLASSES; j++) {
			heap.central[i][j].spanclass = (uint8_t)j;
			heap.central[i][j].node = (uint8_t)i;
		}
		heap.extcache[i].node = (uint8_t)i;
	}
	__atomic_store_n(&heap.inited, true, __ATOMIC_RELEASE);
	unlock(&initlock);
	errno_set(e);
}

/* Heap node index of the CPU this thread runs on. */
static int cpunode(void)
{
	unsigned int cpu, node;
	int i;

	if (!heap.numa || getcpu(&cpu, &node))
		return 0;
	for (i = 0; i < heap.nnodes; i++)
		if (heap.nodeids[i] == (int)node)
			return i;
	return 0;
}

/* Next free object of @s, or NULL if it is full.  Owner only. */
static inline void *nextfree(struct mspan *s)
{
	for (;;) {
		uint32_t w;
		uint64_t c;

		if (likely(s->alloccache)) {
			uint32_t bit = (uint32_t)__builtin_ctzll(s->alloccache);
			uint32_t idx = s->freeindex - 64 + bit;

			s->alloccache &= s->alloccache - 1;
			/* Owner-only writer; relaxed so lookups may read. */
			__atomic_store_n(&s->allocbits[idx >> 6],
					 s->allocbits[idx >> 6] | (1ULL << (idx & 63)),
					 __ATOMIC_RELAXED);
			s->allocCount++;
			return (void *)(s->base + (uintptr_t)idx * s->elemsize);
		}
		if (s->freeindex >= s->nelems)
			return NULL;
		w = s->freeindex >> 6;
		c = ~s->allocbits[w];
		if (s->nelems - w * 64 < 64)
			c &= (1ULL << (s->nelems - w * 64)) - 1;	/* no tail slots */
		s->alloccache = c;
		s->freeindex = (w + 1) * 64;
	}
}

/* Clear @p's cachedbit: it leaves a free cache to be handed out. */
static inline struct mspan *tcache_take(void *p)
{
	struct mspan *s = spanof((uintptr_t)p);
	uint32_t idx = span_objindex(s, (uintptr_t)p);

	__atomic_fetch_and(&s->cachedbits[idx >> 6], ~(1ULL << (idx & 63)), __ATOMIC_RELAXED);
	return s;
}

/*
 * Zero small object @p of @n bytes.  The common small classes as inline
 * stores of a constant size: a memset() call per 16-byte object cost 7 %
 * of binary-trees' CPU time.
 */
static __always_inline void zero_object(void *p, size_t n)
{
	switch (n) {
	case 8:  memset(p, 0, 8);  break;
	case 16: memset(p, 0, 16); break;
	case 24: memset(p, 0, 24); break;
	case 32: memset(p, 0, 32); break;
	case 48: memset(p, 0, 48); break;
	case 64: memset(p, 0, 64); break;
	default: memset(p, 0, n);  break;
	}
}

static void *mcache_alloc_small(struct mcache *c, size_t size, unsigned int flags)
{
	uint8_t sc = size_to_class(size ? size : 1);
	uint8_t spc = spanclass_of(sc, flags & GORT_ALLOC_NOSCAN);
	struct mspan *s;
	void *p;

	if (c->ntcache[spc]) {
		p = c->tcache[spc][--c->ntcache[spc]];
		tcache_take(p);
		/* A freed object holds old data, whatever its span's state. */
		if (!(flags & GORT_ALLOC_NOZERO))
			zero_object(p, class_to_size[sc]);
		c->nmalloc[sc]++;
		c->bytesmalloc += class_to_size[sc];
		return p;
	}
	s = c->alloc[spc];
	p = s ? nextfree(s) : NULL;

	/*
	 * Full: if a quarter of it was freed meanwhile, take that back (we
	 * own it, so we may merge) and keep the span, instead of cycling it
	 * through the mcentral lock for a handful of slots.
	 */
	if (unlikely(!p) && s &&
	    __atomic_load_n(&s->nfreed, __ATOMIC_RELAXED) >= s->nelems / 4 + 1 &&
	    merge_frees(s)) {
		span_prime(s);
		p = nextfree(s);
	}
	if (unlikely(!p)) {
		/* Refill: give the full span back, take one with room. */
		if (s)
			mcentral_uncachespan(&heap.central[s->node][spc], s);
		c->alloc[spc] = NULL;
		s = mcentral_cachespan(&heap.central[c->node][spc]);
		if (!s)
			return NULL;
		c->alloc[spc] = s;
		p = nextfree(s);
		if (!p)
			throw("mcache refill: span has no free object");
		gc_alloc_hook((uint64_t)(s->nelems - s->allocCount + 1) * s->elemsize, c);
		c->slow = true;
	}
	if (!(flags & GORT_ALLOC_NOZERO) && s->needzero)
		zero_object(p, s->elemsize);
	c->nmalloc[sc]++;
	c->bytesmalloc += s->elemsize;
	return p;
}

/* Large objects from 4 MiB on get huge pages (Documentation/heap.rst):
 * big arrays are read at random, beyond the reach of a 4 KiB-page TLB. */
#define HUGE_PAGE	(2UL << 20)
#define HUGE_LARGE	(4UL << 20)

static void *alloc_large(struct mcache *c, int node, size_t size, unsigned int flags)
{
	uintptr_t npages = (size + PAGE_SIZE - 1) / PAGE_SIZE;
	struct mspan *s;
	bool needzero;

	/* The rounding above wraps for sizes near SIZE_MAX: check first. */
	if (size > SIZE_MAX / 2)
		return NULL;
	/* Sweep a little before growing the heap: what the last cycle left
	 * white may be just the pages we need (Go's mheap.reclaim). */
	sweep_some(npages);
	s = mheap_alloc(node, npages, &needzero);
	if (!s)
		return NULL;
	s->spanclass = spanclass_of(0, flags & GORT_ALLOC_NOSCAN);
	s->elemsize = 0;
	s->nelems = 1;
	if (flags & (GORT_ALLOC_NOSCAN | ALLOC_UNTRACKED))
		gcdirty_untrack(s->base, npages * PAGE_SIZE);	/* unscanned, or barriered */
	if (npages * PAGE_SIZE >= HUGE_LARGE && heap.hugepages != 0) {
		uintptr_t lo = (s->base + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
		uintptr_t hi = (s->base + npages * PAGE_SIZE) & ~(HUGE_PAGE - 1);

		if (hi > lo)
			sysmadvise((void *)lo, hi - lo, MADV_HUGEPAGE);
	}
	__atomic_store_n(&s->allocCount, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&s->ready, true, __ATOMIC_RELEASE);
	gc_alloc_hook(npages * PAGE_SIZE, c);
	c->slow = true;
	if (needzero && !(flags & GORT_ALLOC_NOZERO))
		memset((void *)s->base, 0, npages * PAGE_SIZE);
	c->nmalloc[0]++;
	c->bytesmalloc += npages * PAGE_SIZE;
	return (void *)s->base;
}

static void *alloc_on(struct mcache *c, int node, size_t size, unsigned int flags)
{
	return size <= MAX_SMALL_SIZE ? mcache_alloc_small(c, size, flags) :
					alloc_large(c, node, size, flags);
}

/* Allocate through the shared, locked cache of heap node @ni. */
static void *alloc_ext(int ni, size_t size, unsigned int flags)
{
	void *p;

	bool wake;

	lock(&heap.extlock[ni]);
	p = alloc_on(&heap.extcache[ni], ni, size, flags);
	wake = heap.extcache[ni].gcwake;
	heap.extcache[ni].gcwake = false;
	unlock(&heap.extlock[ni]);
	if (unlikely(wake))
		gc_wake();
	return p;
}

/* gort_alloc() with the runtime's own flags (ALLOC_UNTRACKED).  Inlined
 * into gort_alloc(): no extra call on the allocation fast path. */
static __always_inline void *mallocgc(size_t size, unsigned int flags)
{
	struct m *mp;
	void *p;

	if (unlikely(!heap.inited))
		mallocinit();
	mp = getm();
	if (likely(mp && mp->p && mp->curg)) {
		struct mcache *c = mp->p->mcache;

		p = alloc_on(c, c->node, size, flags);
		/*
		 * After a refill (every span's worth of objects), with the
		 * mcache no longer in use: wake the GC if the pacer asks, and
		 * stop here if the world is stopping (Go's malloc is a
		 * preemption point too).
		 */
		if (unlikely(c->slow)) {
			c->slow = false;
			if (c->gcwake) {
				/* Let the GC goroutine (readied to our runnext)
				 * start the cycle now, as Go's mallocgc would. */
				c->gcwake = false;
				gc_wake();
				gort_yield();
			}
			preemptcheck();
			if (unlikely(__atomic_load_n(&gcmarking, __ATOMIC_RELAXED)))
				gc_assist();
		}
	} else {
		p = alloc_ext(cpunode(), size, flags);
	}
	if (unlikely(!p))
		errno_set(ENOMEM);
	else if (unlikely(gcstressn))
		gc_stress_tick();
	return p;
}

__export void *gort_alloc(size_t size, unsigned int flags)
{
	if (unlikely(flags & ~(GORT_ALLOC_NOSCAN | GORT_ALLOC_NOZERO))) {
		errno_set(EINVAL);
		return NULL;
	}
	return mallocgc(size, flags);
}

/* The one out-of-line copy, for the typed paths. */
static void *mallocgc_typed(size_t size, unsigned int flags)
{
	return mallocgc(size, flags);
}

static void *alloc_typed(const struct gort_type *t, size_t n, unsigned int flags);

/*
 * Typed objects: the gort_type pointer sits in the object's last word,
 * written before the span's typedbit (or largetyped) is set with release:
 * the collector reads the bit with acquire, then the word.  Every way an
 * object becomes free clears its bit (gort_free, sweep), so a slot comes
 * out of the allocator untyped.
 */
__export void *gort_alloc_typed(const struct gort_type *t, size_t n, unsigned int flags)
{
	if (!t || !t->size || t->size % 8 || (flags & ~GORT_ALLOC_NOZERO)) {
		errno_set(EINVAL);
		return NULL;
	}
	return alloc_typed(t, n, flags);
}

static void *alloc_typed(const struct gort_type *t, size_t n, unsigned int flags)
{
	size_t words, i;
	bool any = false, all = true;
	struct mspan *s;
	uintptr_t p;

	if (n && t->size > (SIZE_MAX / 2) / n) {
		errno_set(ENOMEM);
		return NULL;
	}
	if (!t->ptrmask)
		return mallocgc_typed(n * t->size, flags);
	/* A mask word at a time: no bit is NOSCAN, every bit is untyped. */
	words = t->size / 8;
	for (i = 0; i < words; i += 64) {
		uint64_t valid = words - i >= 64 ? ~0ULL : (1ULL << (words - i)) - 1;
		uint64_t bits = t->ptrmask[i / 64] & valid;

		any |= bits != 0;
		all &= bits == valid;
	}
	if (!any)
		return mallocgc_typed(n * t->size, flags | GORT_ALLOC_NOSCAN);
	if (all)
		return mallocgc_typed(n * t->size, flags);
	p = (uintptr_t)mallocgc_typed(n * t->size + sizeof(t), flags);
	if (!p)
		return NULL;
	s = spanof(p);
	if (s->spanclass >> 1) {
		uint32_t idx = span_objindex(s, p);

		*(const struct gort_type **)(p + s->elemsize - sizeof(t)) = t;
		__atomic_fetch_or(&s->typedbits[idx >> 6], 1ULL << (idx & 63), __ATOMIC_RELEASE);
	} else {
		*(const struct gort_type **)(p + s->npages * PAGE_SIZE - sizeof(t)) = t;
		__atomic_store_n(&s->largetyped, 1, __ATOMIC_RELEASE);
	}
	return (void *)p;
}

void *newobject(size_t size, unsigned int flags)
{
	void *p = gort_alloc(size, flags);

	if (!p)
		fatal("runtime: out of memory");
	return p;
}

void *newobject_typed(const struct gort_type *t, size_t n)
{
	return newobject_typed_flags(t, n, 0);
}

void *newobject_typed_flags(const struct gort_type *t, size_t n, unsigned int flags)
{
	void *p = alloc_typed(t, n, flags);

	if (!p)
		fatal("runtime: out of memory");
	return p;
}

__export void *gort_alloc_node(size_t size, int node, unsigned int flags)
{
	int i;
	void *p;

	if (flags & ~(GORT_ALLOC_NOSCAN | GORT_ALLOC_NOZERO)) {
		errno_set(EINVAL);
		return NULL;
	}
	mallocinit();
	for (i = 0; i < heap.nnodes; i++)
		if (heap.nodeids[i] == node)
			break;
	if (i == heap.nnodes) {
		errno_set(EINVAL);
		return NULL;
	}
	p = alloc_ext(i, size, flags);
	if (!p)
		errno_set(ENOMEM);
	return p;
}

/* The cache that counts this free: the P's, or the node's shared one. */
static void count_free(struct mspan *s, uint8_t sc, uint64_t bytes)
{
	struct m *mp = getm();

	struct mcache *c;
	int ni = s->node;

	if (mp && mp->p && mp->curg) {
		c = mp->p->mcache;
		c->nfree[sc]++;
		c->bytesfree[ni] += bytes;
		c->nfreenode[ni]++;
		return;
	}
	lock(&heap.extlock[ni]);
	c = &heap.extcache[ni];
	c->nfree[sc]++;
	c->bytesfree[ni] += bytes;
	c->nfreenode[ni]++;
	unlock(&heap.extlock[ni]);
}

/*
 * Free object @idx of @s for good: freebit, pending count, and the
 * mcentral if the span's list must change.  No statistics.
 */
static void span_free_object(struct mspan *s, uint32_t idx)
{
	uint64_t bit = 1ULL << (idx & 63);
	uint32_t pending;

	if (__atomic_fetch_or(&s->freebits[idx >> 6], bit, __ATOMIC_SEQ_CST) & bit)
		fatalf("gort_free: double free of %p",
		       (void *)(s->base + (uintptr_t)idx * s->elemsize));
	pending = __atomic_fetch_add(&s->nfreed, 1, __ATOMIC_SEQ_CST);
	/*
	 * Lock-free unless this free changes the span's list: the first
	 * pending free of an uncached span (full -> partial), or the last
	 * live object (-> empty).  A cached span is the owner's business.
	 */
	if (!__atomic_load_n(&s->incache, __ATOMIC_SEQ_CST) &&
	    (pending == 0 || __atomic_load_n(&s->allocCount, __ATOMIC_RELAXED) == pending + 1))
		mcentral_freed(s);
}

/* mcache_tcache_flush() - free all but @keep of @c's cached objects of
 * span class @spc for good (the oldest first). */
void mcache_tcache_flush(struct mcache *c, int spc, int keep)
{
	int n = c->ntcache[spc] - keep, i;

	if (n <= 0)
		return;
	for (i = 0; i < n; i++) {
		void *p = c->tcache[spc][i];
		struct mspan *s = tcache_take(p);

		span_free_object(s, span_objindex(s, (uintptr_t)p));
	}
	memmove(c->tcache[spc], c->tcache[spc] + n, (size_t)keep * sizeof(void *));
	c->ntcache[spc] = (uint8_t)keep;
}

/* Put a freed small object in the caller's free cache; false if the
 * caller has none (then the object is freed in its span). */
static bool tcache_put(struct mspan *s, uint8_t sc, uint32_t idx, void *ptr)
{
	struct m *mp = getm();
	uint8_t spc = s->spanclass;
	struct mcache *c;

	if (!mp || !mp->p || !mp->curg)
		return false;
	c = mp->p->mcache;
	/* Only local memory: the next allocations here must be on our node. */
	if (s->node != c->node)
		return false;
	if (__atomic_fetch_or(&s->cachedbits[idx >> 6], 1ULL << (idx & 63), __ATOMIC_RELAXED) &
	    (1ULL << (idx & 63)))
		fatalf("gort_free: double free of %p", ptr);
	if (c->ntcache[spc] == TCACHE)
		mcache_tcache_flush(c, spc, TCACHE / 2);
	c->tcache[spc][c->ntcache[spc]++] = ptr;
	c->nfree[sc]++;
	c->bytesfree[s->node] += s->elemsize;
	c->nfreenode[s->node]++;
	return true;
}

__export void gort_free(void *ptr)
{
	uintptr_t p = (uintptr_t)ptr;
	struct mspan *s;
	uint32_t idx, one = 1;
	uint64_t bit;
	uint8_t sc;

	if (!ptr)
		return;
	s = heap.inited ? spanof(p) : NULL;
	if (!s || __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != mSpanInUse ||
	    p < s->base || p >= s->base + s->npages * PAGE_SIZE)
		fatalf("gort_free: bad pointer %p (not from gort_alloc)", ptr);
	sc = s->spanclass >> 1;
	if (sc == 0) {
		if (p != s->base)
			fatalf("gort_free: bad pointer %p (inside a large object)", ptr);
		sweep_fence_large(s);
		if (!__atomic_compare_exchange_n(&s->allocCount, &one, 0, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			fatalf("gort_free: double free of %p", ptr);
		count_free(s, 0, s->npages * PAGE_SIZE);
		mheap_free(s, 0);
		return;
	}
	idx = span_objindex(s, p);
	if (idx >= s->nelems || p != s->base + (uintptr_t)idx * s->elemsize)
		fatalf("gort_free: bad pointer %p (not the start of an object)", ptr);
	bit = 1ULL << (idx & 63);
	if (!(__atomic_load_n(&s->allocbits[idx >> 6], __ATOMIC_RELAXED) & bit) ||
	    (__atomic_load_n(&s->freebits[idx >> 6], __ATOMIC_RELAXED) & bit))
		fatalf("gort_free: double free of %p (or never allocated)", ptr);
	if ((__atomic_load_n(&s->cachedbits[idx >> 6], __ATOMIC_RELAXED) & bit))
		fatalf("gort_free: double free of %p", ptr);
	/* Its next owner may not be typed: the last word is data again. */
	if (__atomic_load_n(&s->typedbits[idx >> 6], __ATOMIC_RELAXED) & bit)
		__atomic_fetch_and(&s->typedbits[idx >> 6], ~bit, __ATOMIC_RELAXED);
	/* Into the calling P's free cache: no span state changes. */
	if (tcache_put(s, sc, idx, ptr))
		return;
	span_free_object(s, idx);
	count_free(s, sc, s->elemsize);
}

__export int gort_size_class(size_t size)
{
	if (!heap.inited)
		mallocinit();
	return size <= MAX_SMALL_SIZE ? size_to_class(size ? size : 1) : 0;
}

__export size_t gort_roundup_size(size_t size)
{
	if (size <= MAX_SMALL_SIZE)
		return class_to_size[gort_size_class(size)];
	if (size > SIZE_MAX - PAGE_SIZE)
		return size;
	return (size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
}

__export int gort_heap_object(const void *ptr, void **base, size_t *size)
{
	uintptr_t p = (uintptr_t)ptr;
	struct mspan *s = heap.inited ? spanof(p) : NULL;
	uint32_t idx;

	if (!s || __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != mSpanInUse ||
	    !__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE) ||
	    p < s->base || p >= s->base + s->npages * PAGE_SIZE)
		return 0;
	if ((s->spanclass >> 1) == 0) {
		if (!__atomic_load_n(&s->allocCount, __ATOMIC_ACQUIRE))
			return 0;
		if (base)
			*base = (void *)s->base;
		if (size)
			*size = s->npages * PAGE_SIZE -
				(__atomic_load_n(&s->largetyped, __ATOMIC_ACQUIRE) ? 8 : 0);
		return 1;
	}
	idx = span_objindex(s, p);
	if (idx >= s->nelems)
		return 0;	/* the span's tail waste */
	if (!(__atomic_load_n(&s->allocbits[idx >> 6], __ATOMIC_RELAXED) & (1ULL << (idx & 63))) ||
	    (__atomic_load_n(&s->freebits[idx >> 6], __ATOMIC_RELAXED) & (1ULL << (idx & 63))) ||
	    (__atomic_load_n(&s->cachedbits[idx >> 6], __ATOMIC_RELAXED) & (1ULL << (idx & 63))))
		return 0;
	if (base)
		*base = (void *)(s->base + (uintptr_t)idx * s->elemsize);
	if (size)
		*size = s->elemsize - ((__atomic_load_n(&s->typedbits[idx >> 6], __ATOMIC_ACQUIRE) >>
					(idx & 63) & 1) ? 8 : 0);
	return 1;
}

__export int gort_numa_nodes(void)
{
	mallocinit();
	return heap.nnodes;
}

__export int gort_current_node(void)
{
	struct m *mp = getm();

	mallocinit();
	if (mp && mp->p)
		return heap.nodeids[mp->p->mcache->node];
	return heap.nodeids[cpunode()];
}
