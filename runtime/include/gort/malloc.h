/* SPDX-License-Identifier: MIT */
/*
 * gort/malloc.h - the gort heap: Go's size classes, per-P caches, spans
 * and a page heap per NUMA node.
 *
 * Objects up to 32 KiB are rounded up to one of Go's 67 size classes and
 * come from the calling P's cache without a lock; larger ones get spans
 * of their own, from the calling P's NUMA node.  Memory is zeroed unless
 * GORT_ALLOC_NOZERO is given.  Objects are freed by the garbage collector
 * (gort/gc.h) once unreachable, or explicitly with gort_free().
 *
 * The heap works from any thread; goroutines get their P's node and
 * cache, other threads share a locked cache per node.
 */
#ifndef GORT_MALLOC_H
#define GORT_MALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum gort_alloc_flags {
	GORT_ALLOC_NOSCAN = 1 << 0,	/* holds no pointers: the GC skips it */
	GORT_ALLOC_NOZERO = 1 << 1,	/* contents are undefined */
};

#define GORT_MAX_SMALL_SIZE	32768	/* larger objects get their own span */
#define GORT_NUM_SIZE_CLASSES	68	/* class 0 = large */

/**
 * gort_alloc() - allocate @size bytes (zeroed unless GORT_ALLOC_NOZERO)
 * @size: any size; 0 returns a unique minimal object
 * @flags: enum gort_alloc_flags
 *
 * Objects are aligned, as in Go, to the largest power of two dividing
 * their class size (capped at 8 KiB): 8 bytes for the 8- and 24-byte
 * classes, at least 16 for every other class, a page for large objects.
 *
 * Return: the object, or NULL with errno = ENOMEM, or EINVAL for unknown
 * flags.
 */
void *gort_alloc(size_t size, unsigned int flags);

/**
 * struct gort_type - what the collector needs to know of a C type
 * @size:    bytes of one element, a non-zero multiple of 8
 * @ptrmask: bit i (word i / 64, bit i % 64) set if 8-byte word i of an
 *           element may hold a pointer to gort memory; NULL: every word
 * @name:    for messages; may be NULL
 *
 * Must outlive every object allocated with it (static storage, as a
 * rule).  GORT_PTRBIT(struct foo, next) gives the bit of a member.
 */
struct gort_type {
	size_t size;
	const uint64_t *ptrmask;
	const char *name;
};

#define GORT_PTRBIT(type, member) (1ULL << (__builtin_offsetof(type, member) / 8 % 64))

/**
 * gort_alloc_typed() - allocate @n elements of type @t, zeroed unless
 * GORT_ALLOC_NOZERO; the collector reads only the words @t->ptrmask marks
 *
 * An integer, a hash or a stale value in any other word keeps nothing
 * alive (gort_alloc()'s objects are scanned conservatively: every word).
 * A mask with no bit allocates GORT_ALLOC_NOSCAN; one with every bit is
 * gort_alloc().  Otherwise the object has 8 more bytes at its end for
 * @t (gort_heap_object() reports the size without them): writing past
 * @n * @t->size is undefined.
 *
 * Return: the object, or NULL with errno = EINVAL (no @t, a bad size,
 * flags other than GORT_ALLOC_NOZERO) or ENOMEM.
 */
void *gort_alloc_typed(const struct gort_type *t, size_t n, unsigned int flags);

/**
 * gort_alloc_node() - gort_alloc() with the memory on NUMA node @node
 *
 * Return: as gort_alloc(); EINVAL if @node does not exist.
 */
void *gort_alloc_node(size_t size, int node, unsigned int flags);

/**
 * gort_free() - give back an object from gort_alloc(); NULL is a no-op
 *
 * Freeing anything else, or twice, is fatal:
 * "fatal error: gort_free: bad pointer" / "... double free".
 */
void gort_free(void *p);

/** gort_size_class() - the size class (1..67) of @size, 0 if large. */
int gort_size_class(size_t size);

/** gort_roundup_size() - bytes gort_alloc(@size) really uses (Go's
 * roundupsize: the class size, or whole pages for large objects). */
size_t gort_roundup_size(size_t size);

/**
 * gort_heap_object() - the object that contains address @p, if any
 * @base: its start
 * @size: its size (class size, or the span for a large object)
 *
 * O(1): arena -> page -> span.  Return: 1 if @p points into an allocated
 * object, 0 if not (not heap memory, a free slot, or a span's tail).
 */
int gort_heap_object(const void *p, void **base, size_t *size);

/** gort_numa_nodes() - NUMA nodes the heap uses (1 without NUMA). */
int gort_numa_nodes(void);

/** gort_current_node() - the node of the calling goroutine's P, or of the
 * calling thread's CPU outside goroutines. */
int gort_current_node(void);

#define GORT_MEMSTATS_MAX_NODES 64

/**
 * struct gort_memstats - Go's runtime.MemStats fields that the heap has,
 * with Go's meanings, plus a per-node breakdown.  Read without stopping
 * the world: each field is exact for a quiescent heap and approximate
 * (summed per P) while allocation goes on.  Sizes in bytes.
 */
struct gort_memstats {
	size_t sz;
	uint64_t alloc;			/* = heap_alloc */
	uint64_t total_alloc;		/* cumulative bytes allocated */
	uint64_t sys;			/* all memory obtained from the OS */
	uint64_t mallocs, frees;	/* cumulative object counts */
	uint64_t heap_alloc;		/* bytes of allocated objects */
	uint64_t heap_sys;		/* heap memory obtained from the OS */
	uint64_t heap_idle;		/* in free spans */
	uint64_t heap_inuse;		/* in spans with objects */
	uint64_t heap_released;		/* idle and given back to the OS */
	uint64_t heap_objects;		/* live objects */
	uint64_t stack_inuse, stack_sys;
	uint64_t mspan_inuse, mspan_sys;
	uint64_t next_gc;		/* heap goal (GORT_GC percent) */
	struct {
		uint32_t size;
		uint64_t mallocs, frees;
	} by_size[GORT_NUM_SIZE_CLASSES];
	int nnodes;
	struct {
		uint64_t heap_alloc, heap_sys, heap_inuse, heap_idle, heap_released;
		uint64_t mallocs, frees;
	} node[GORT_MEMSTATS_MAX_NODES];
	/* The collector's, as in Go (also in struct gort_gcstats). */
	uint32_t num_gc, num_forced_gc;
	uint64_t pause_total_ns;
	uint64_t pause_ns[256];		/* cycle n's pause at [(n + 255) % 256] */
	uint64_t pause_end[256];	/* unix ns */
	uint64_t last_gc;		/* unix ns */
	double gc_cpu_fraction;
	size_t :0;
};

/** gort_read_memstats() - fill @ms (set ms->sz first); 0 or -EINVAL. */
int gort_read_memstats(struct gort_memstats *ms);

/** gort_scavenge() - give every idle heap page back to the OS now (Go's
 * debug.FreeOSMemory without the GC); returns the bytes released. */
size_t gort_scavenge(void);

#ifdef __cplusplus
}
#endif

#endif /* GORT_MALLOC_H */
