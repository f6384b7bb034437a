/* SPDX-License-Identifier: MIT */
/*
 * mheap.h - the heap's private types: size classes, spans, arenas, the
 * per-node page heap, mcentral and mcache (malloc.c, mheap.c,
 * mcentral.c, sizeclasses.c, mstats.c, numa.c).
 *
 * Layers, as Go's runtime (and tcmalloc):
 *
 *   mcache (per P)  --refill-->  mcentral (per node, per span class)
 *                                --grow-->  mheap node (page heap)
 *                                           --grow-->  arenas (64 MiB, mmap)
 *
 * Address -> span is O(1): arenas[addr >> ARENA_SHIFT] holds one span
 * pointer per 8 KiB page.  Every page of an in-use span maps to it; of a
 * free span, at least its first and last page do (enough to coalesce).
 *
 * Span invariants (s = a small-object span, n = s->nelems):
 *   allocCount = popcount(allocbits[0..n)) - popcount(freebits[0..n))
 *   an object is allocated iff its allocbit is set and its freebit and
 *   cachedbit are clear (cachedbit: it sits, freed, in an mcache's
 *   per-class free cache, still counted in allocCount)
 *   freebits is non-zero only where allocbits is (frees of live objects)
 *   s->incache  => s is on no mcentral list and only that cache allocates
 *   !s->incache => s is on exactly one list of its mcentral
 *
 * Lock order: mcentral.lock -> node heap lock -> arena lock.
 */
#ifndef GORT_MHEAP_H
#define GORT_MHEAP_H

#include "internal.h"

#define PAGE_SHIFT		13
#define PAGE_SIZE		(1UL << PAGE_SHIFT)
#define ARENA_SHIFT		26
#define ARENA_SIZE		(1UL << ARENA_SHIFT)
#define ARENA_PAGES		(ARENA_SIZE / PAGE_SIZE)
#define ARENA_INDEX_BITS	(47 - ARENA_SHIFT)
#define NUM_SIZE_CLASSES	GORT_NUM_SIZE_CLASSES
#define NUM_SPAN_CLASSES	(NUM_SIZE_CLASSES * 2)
#define MAX_SMALL_SIZE		GORT_MAX_SMALL_SIZE
#define MAX_NODES		GORT_MEMSTATS_MAX_NODES
#define HEAP_FREELISTS		128	/* free[n]: spans of n pages, n < 128 */

extern const uint16_t class_to_size[NUM_SIZE_CLASSES];
extern const uint8_t class_to_allocnpages[NUM_SIZE_CLASSES];
extern uint32_t class_to_divmagic[NUM_SIZE_CLASSES];
extern uint16_t class_nelems[NUM_SIZE_CLASSES];

void sizeclasses_init(void);

/* Go's two lookup tables (sizeclasses.go): 8-byte steps to 1024, then 128. */
#define SMALL_SIZE_DIV	8
#define SMALL_SIZE_MAX	1024
#define LARGE_SIZE_DIV	128
extern uint8_t size_to_class8[SMALL_SIZE_MAX / SMALL_SIZE_DIV + 1];
extern uint8_t size_to_class128[(MAX_SMALL_SIZE - SMALL_SIZE_MAX) / LARGE_SIZE_DIV + 1];

/* The smallest class that holds @size (<= MAX_SMALL_SIZE); inline: it is
 * on every small allocation. */
static inline uint8_t size_to_class(size_t size)
{
	if (size <= SMALL_SIZE_MAX - 8)
		return size_to_class8[(size + SMALL_SIZE_DIV - 1) / SMALL_SIZE_DIV];
	return size_to_class128[(size - SMALL_SIZE_MAX + LARGE_SIZE_DIV - 1) / LARGE_SIZE_DIV];
}

enum spanstate {
	mSpanDead,		/* on the span free list, unused */
	mSpanInUse,		/* holds objects (small) or one large object */
	mSpanFree,		/* pages on a node's free lists */
};

enum spanlist { listNone, listPartial, listFull, listEmpty };

struct mspan {
	/* First line: what the allocator's fast path and the collector's
	 * markword() read. */
	uintptr_t base;
	uintptr_t npages;
	uint64_t *allocbits;		/* set on allocation (owner only) */
	uint8_t *gcmarkbytes;		/* the collector's: a byte per object,
					 * plain stores (gc.c, markspan) */
	uint8_t state;			/* enum spanstate */
	uint8_t spanclass;		/* sizeclass << 1 | noscan */
	uint8_t node;
	uint8_t list;			/* enum spanlist (mcentral) */
	bool incache;			/* owned by an mcache */
	bool needzero;			/* objects may hold old data */
	bool released;			/* free pages given back (MADV_DONTNEED) */
	bool ready;			/* in use and its fields and bitmaps set
					 * (release): lock-free readers (the GC,
					 * gort_heap_object) check it after state */
	uint32_t elemsize;		/* 0 for free spans */
	uint32_t nelems;
	uint32_t divmagic;
	uint32_t freeindex;		/* next word to look at (owner) */
	uint32_t allocCount;		/* atomic: objects allocated */
	uint32_t largemark;		/* large object: marked this cycle */
	/* Second line. */
	uint64_t alloccache;		/* ~allocbits of the word at freeindex-64 */
	struct mspan *next, *prev;	/* free list, or mcentral list */
	uint32_t nfreed;		/* atomic: frees not yet merged */
	uint32_t nwords;		/* words of each bitmap */
	uint64_t *freebits;		/* set by gort_free (atomic OR) */
	uint64_t *cachedbits;		/* freed into some mcache's free cache */
	int64_t freedat;		/* nanotime_coarse() when it went free */
	uint32_t sweepgen;		/* mgc.h: against heap.sweepgen */
	uint32_t nspecials;		/* objects with finalizers */
	uint64_t *typedbits;		/* atomic: the object ends in a gort_type
					 * pointer (gort_alloc_typed) */
	uint32_t largetyped;		/* the same for a large object */
} __aligned(CACHELINE);		/* spans of different Ps share no line */

static inline uint8_t spanclass_of(uint8_t sizeclass, bool noscan)
{
	return (uint8_t)(sizeclass << 1 | (noscan ? 1 : 0));
}

/* Doubly linked span lists (page heap free lists, mcentral lists). */
static inline void spanlist_push(struct mspan **head, struct mspan *s)
{
	s->prev = NULL;
	s->next = *head;
	if (*head)
		(*head)->prev = s;
	*head = s;
}

static inline void spanlist_remove(struct mspan **head, struct mspan *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		*head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

/* struct heaparena - per-64 MiB metadata. */
struct heaparena {
	struct mspan *spans[ARENA_PAGES];
	uint8_t node;
};

extern struct heaparena **arenas;	/* [1 << ARENA_INDEX_BITS] */

/* spanof() - the span holding address @p, or NULL.  O(1), lock-free. */
static inline struct mspan *spanof(uintptr_t p)
{
	struct heaparena *ha;

	if (p >> 47)
		return NULL;
	ha = __atomic_load_n(&arenas[p >> ARENA_SHIFT], __ATOMIC_ACQUIRE);
	if (!ha)
		return NULL;
	return __atomic_load_n(&ha->spans[(p >> PAGE_SHIFT) & (ARENA_PAGES - 1)],
			       __ATOMIC_ACQUIRE);
}

/* Object index of @p in small span @s (Go's divmagic). */
static inline uint32_t span_objindex(const struct mspan *s, uintptr_t p)
{
	return (uint32_t)(((uint64_t)(p - s->base) * s->divmagic) >> 32);
}

/*
 * struct mheapnode - the page heap of one NUMA node.  All fields under
 * lock.  Sizes in bytes.
 */
struct mheapnode {
	struct lock lock;
	struct mspan *free[HEAP_FREELISTS];	/* exactly n pages */
	struct mspan *large;			/* >= HEAP_FREELISTS pages */
	uintptr_t cur, end;			/* unused mapped arena space */
	uint64_t sys;				/* heap_sys */
	uint64_t inuse;				/* pages in in-use spans */
	uint64_t released;			/* free pages given back */
} __aligned(CACHELINE);

/* struct mcentral - spans of one span class on one node. */
struct mcentral {
	struct lock lock;
	struct mspan *partial;		/* some free objects, FIFO */
	struct mspan *partialtail;
	struct mspan *full;		/* no free objects */
	struct mspan *empty;		/* no live objects: kept for reuse,
					 * released by mcentral_trim() */
	uint8_t spanclass;
	uint8_t node;
	uint32_t fullswept;		/* sweepgen whose full list is swept */
} __aligned(CACHELINE);

/*
 * struct mcache - a P's private spans, one per span class, plus local
 * statistics (summed by gort_read_memstats).  Owner only, no lock.
 */
#define TCACHE 32

struct mcache {
	struct mspan *alloc[NUM_SPAN_CLASSES];
	/* Objects freed here, reused first (LIFO): gort_free + gort_alloc
	 * of the same class cost no span state change. */
	uint8_t ntcache[NUM_SPAN_CLASSES];
	void *tcache[NUM_SPAN_CLASSES][TCACHE];
	uint8_t node;
	uint64_t nmalloc[NUM_SIZE_CLASSES];	/* [0]: large objects */
	uint64_t nfree[NUM_SIZE_CLASSES];	/* frees made here, any node */
	uint64_t bytesmalloc;			/* all on this cache's node */
	uint64_t bytesfree[MAX_NODES];		/* by the freed object's node */
	uint64_t nfreenode[MAX_NODES];
	bool gcwake;				/* a refill wants the GC woken */
	bool slow;				/* gort_alloc took the slow path */
};

struct heapt {
	int nnodes;
	int nodeids[MAX_NODES];		/* heap node index -> OS node id */
	bool numa;			/* nnodes > 1: mbind and pin Ms */
	int hugepages;			/* -1 system default, 0 off, 1 on */
	struct mheapnode nodes[MAX_NODES];
	struct mcentral central[MAX_NODES][NUM_SPAN_CLASSES];
	/* For threads that are not goroutines: one locked cache per node. */
	struct lock extlock[MAX_NODES];
	struct mcache extcache[MAX_NODES];
	uint64_t mspan_inuse, mspan_sys;	/* under spanlock */
	int64_t memlimit;			/* GORT_MEMLIMIT, 0 = none */
	int gcpercent;				/* GORT_GC, default 100 */
	uint32_t sweepgen;			/* mgc.h */
	bool inited;
};

extern struct heapt heap;

void mallocinit(void);
struct mcache *allocmcache(int node);
void freemcache(struct mcache *c);

/* mheap.c */
void mheap_init(void);
bool span_bitsalloc(struct mspan *s, uint32_t nelems);
struct mspan *mheap_alloc(int node, uintptr_t npages, bool *needzero);
void mheap_free(struct mspan *s, int64_t idlesince);
struct mspan *spanalloc(void);
void spanfree(struct mspan *s);
size_t mheap_scavenge(int node, size_t want, int64_t olderthan);
bool mheap_scavenge_tick(void);
bool heap_scavenge_pending(void);
uint64_t heap_alloc_bytes(void);
uint64_t heap_goal(uint64_t alloc);

/* mcentral.c */
struct mspan *mcentral_cachespan(struct mcentral *c);
void mcentral_uncachespan(struct mcentral *c, struct mspan *s);
void mcentral_freed(struct mspan *s);
uint32_t merge_frees(struct mspan *s);
void span_prime(struct mspan *s);
void mcache_flushall(struct mcache *c);
void mcache_tcache_flush(struct mcache *c, int spc, int keep);
bool mcentral_trim(int64_t olderthan);
bool mcentral_has_empty(void);

/* numa.c */
void heapnuma_init(void);
int heap_node_of_p(int pid);
void heap_mbind(void *addr, size_t len, int node);
void heap_pin_m(struct m *mp, int node);

#endif /* GORT_MHEAP_H */
