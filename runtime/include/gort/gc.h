/* SPDX-License-Identifier: MIT */
/*
 * gort/gc.h - the garbage collector: a concurrent, non-moving tri-color
 * mark-sweep collector for the gort heap (Documentation/gc.rst).
 *
 * What keeps an object alive: a pointer to any byte of it (interior
 * pointers count) found in a goroutine's stack or saved registers, in the
 * program's writable data segments (globals of the executable and of the
 * shared objects loaded at startup), in a range registered with
 * gort_gc_add_roots(), or in another live gort heap object that is not
 * GORT_ALLOC_NOSCAN.  Not scanned: memory from malloc()/mmap(), the stacks
 * of threads that are not goroutines, and a goroutine's stack below the
 * point where it called gort_syscall_enter().  A pointer kept only there
 * does not keep its object alive: register the range, or keep a copy in
 * scanned memory.
 *
 * No write barrier: the collector runs concurrently with goroutines and
 * learns which pages they (or the kernel) wrote from userfaultfd
 * write-protection or soft-dirty bits; GORT_GCMODE= forces a mode.
 */
#ifndef GORT_GC_H
#define GORT_GC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * gort_gc() - run a full collection and wait for it (Go's runtime.GC):
 * when it returns, every object unreachable at the call is freed and its
 * finalizer queued.  Callable from goroutines only (else -EPERM).
 *
 * Return: 0, or -EPERM outside a goroutine.
 */
int gort_gc(void);

/**
 * gort_gc_percent() - set the GC target percentage (GORT_GC, Go's
 * debug.SetGCPercent): the next cycle starts when the heap has grown by
 * @percent since the last one marked; < 0 turns the collector off.
 *
 * Return: the previous setting.
 */
int gort_gc_percent(int percent);

/**
 * gort_gc_add_roots() - scan [@addr, @addr + @len) for pointers in every
 * cycle, as if it were a global (memory from malloc, mmap, a thread's
 * stack).  Ranges may not overlap.
 *
 * Return: 0; -EINVAL for a NULL/empty/wrapping range or one that overlaps
 * a registered one; -ENOMEM.
 */
int gort_gc_add_roots(void *addr, size_t len);

/** gort_gc_remove_roots() - forget the range starting at @addr; 0 or
 * -ENOENT. */
int gort_gc_remove_roots(void *addr);

/**
 * gort_gc_exclude_roots() - [@addr, @addr + @len), part of a data
 * segment, holds no pointer into the gort heap: leave it out of the roots
 * from the next cycle on, for good (Boehm's GC_exclude_static_roots).
 *
 * Every cycle scans the writable data segments twice, once with the world
 * stopped; a big table of numbers or text there lengthens every pause
 * (0.2 to 0.5 ms a MB).  A heap pointer kept only in an excluded range
 * does not keep its object: the object is freed while still in use.
 *
 * Return: 0; -EINVAL for a NULL/empty/wrapping range or one that overlaps
 * an excluded one; -ENOSPC past 64 ranges.
 */
int gort_gc_exclude_roots(const void *addr, size_t len);

/**
 * gort_set_finalizer() - run @fn(@obj, @arg) once, on the finalizer
 * goroutine, after @obj becomes unreachable (Go's runtime.SetFinalizer).
 * @obj: the start of a gort heap object
 * @fn: NULL removes the finalizer
 *
 * The object stays allocated until its finalizer has run (and is freed
 * in the cycle after, unless the finalizer stored @obj somewhere
 * reachable: resurrection keeps it, and it is not finalized again).
 * Objects reachable from a finalizable object are kept too; a cycle of
 * finalizable objects is never collected, as in Go.
 *
 * Return: 0; -EINVAL if @obj is not the start of a heap object; -EEXIST
 * if it has a finalizer already (remove it first); -ENOMEM.
 */
int gort_set_finalizer(void *obj, void (*fn)(void *obj, void *arg), void *arg);

/**
 * struct gort_gcstats - the collector's part of Go's MemStats (also in
 * struct gort_memstats) plus what the dirty-page tracking did.
 */
#define GORT_GC_PAUSE_RING 256

struct gort_gcstats {
	size_t sz;			/* set by the caller: sizeof(*this) */
	uint32_t num_gc;		/* completed cycles */
	uint32_t num_forced_gc;		/* by gort_gc() or the 2-minute timer */
	uint64_t pause_total_ns;	/* all stop-the-world pauses */
	uint64_t pause_ns[GORT_GC_PAUSE_RING];	/* cycle n's at [(n+255)%256] */
	uint64_t pause_end[GORT_GC_PAUSE_RING];	/* unix ns when it ended */
	uint64_t last_gc;		/* unix ns the last cycle ended */
	uint64_t next_gc;		/* heap size that starts the next cycle */
	double gc_cpu_fraction;		/* GC CPU time / CPU time available
					 * since the program started */
	const char *mode;		/* "uffd-wp", "soft-dirty" or "stw" */
	uint64_t dirty_pages;		/* pages re-scanned, all cycles */
	uint64_t mark_rounds;		/* concurrent re-scan rounds, all cycles */
	uint64_t finalizers_run;
	uint64_t stacks_shrunk;		/* parked goroutines' stacks trimmed */
	uint64_t stack_bytes_released;	/* by them (that may have been resident) */
	uint64_t quiet_looks;		/* mark terminations that made no dirty-page
					 * look: no page fault since the last round */
	uint64_t assists;		/* allocations that helped mark (past the goal) */
	uint64_t assist_bytes;		/* what they marked, all cycles */
	size_t :0;
};

/** gort_read_gcstats() - fill @st (set st->sz first); 0 or -EINVAL. */
int gort_read_gcstats(struct gort_gcstats *st);

#ifdef __cplusplus
}
#endif

#endif /* GORT_GC_H */
