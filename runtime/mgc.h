/* SPDX-License-Identifier: MIT */
/*
 * mgc.h - the collector's hooks into the allocator, the scheduler and
 * the stacks (gc.c, gcdirty.c, mcentral.c's sweep).
 *
 * Marks: a small object is marked when its gcmarkbytes byte is set; a
 * large object when its span's largemark is.  New objects are white even
 * while the GC marks (gcmarking, from sweep termination to mark
 * termination): whatever points to one was written after the cycle's
 * dirty interval began, so a later look finds the pointer (gc.c).
 *
 * Sweep generations, as Go's: with sg = heap.sweepgen,
 *   s->sweepgen == sg - 2  the span needs sweeping
 *   s->sweepgen == sg - 1  a sweeper holds it (large spans only)
 *   s->sweepgen == sg      swept, ready for use
 * sg goes up by 2 at mark termination, with every mcache flushed, so no
 * span an mcache holds is ever unswept; a small span is swept under its
 * mcentral's lock before an mcache may take it.
 */
#ifndef GORT_MGC_H
#define GORT_MGC_H

#include "mheap.h"

extern uint32_t gcmarking;		/* a cycle is between its two STWs */
bool gc_trim_begin(void);		/* false: a cycle marks, free no span */
void gc_trim_end(void);

enum gcphase { _GCoff, _GCmark, _GCmarktermination };


/*
 * struct gcstate - the collector's state (gc.c), what the probe points
 * pass: eBPF tools read the cycle number, phase, heap figures and pause
 * ring from it through BTF.  Field names are what the tools use.
 */
struct gcstate {
	struct lock lock;		/* requests, waiters */
	uint32_t phase;			/* enum gcphase */
	uint32_t started, done;		/* cycles begun / completed */
	uint32_t requested;		/* run cycles until done == requested */
	uint32_t forced;		/* the requested one is forced */
	struct g *bg;			/* the GC goroutine */
	struct g *fing;			/* the finalizer goroutine */
	bool inited;
	uint64_t heaplive;		/* atomic: bytes handed to mcaches since mark */
	uint64_t trigger;		/* start a cycle when heaplive reaches it */
	uint64_t goal;
	uint64_t marked;		/* bytes marked by the last cycle */
	uint64_t heapstart, heapterm;	/* heap_alloc at the two STWs */
	int64_t lastgc;			/* nanotime() of the last cycle's end */
	uintptr_t mainsp, mainhi;	/* the gort_main caller's stack */
	uint32_t donesema;		/* gort_gc callers wait here */
	uint32_t nwaiters;		/* under lock */
	/* gcstats */
	uint32_t numforced;
	uint64_t pausetotal;
	uint64_t pausens[GORT_GC_PAUSE_RING], pauseend[GORT_GC_PAUSE_RING];
	uint64_t lastgc_unix;
	int64_t gccpu;			/* ns the GC goroutine worked */
	uint64_t dirtypages, rounds, finrun;
	uint64_t quietlooks;		/* last looks skipped: gcdirty_quiet() */
	uint64_t assistbytes;		/* marked by assists, all cycles */
	uint64_t nshrunk, shrunkbytes;	/* stack_shrink(), GC goroutine only */
	uint64_t stresscount;
};

extern struct gcstate gc;

/* Probe points (Documentation/probes.rst). */
void gort_gc_phase(struct gcstate *gc, uint32_t phase);
void gort_gc_assist(struct gcstate *gc, struct g *gp, uint64_t heaplive);

/* gc.c */
void gcinit(void);
void gc_mainstack(uintptr_t sp);
void gc_alloc_hook(uint64_t bytes, struct mcache *c);	/* refill: pacing */
void gc_wake(void);
void gc_stress_tick(void);
void gc_assist(void);
void gc_wb(const void *slot, const void *p);
struct mcache *gc_sweepstats(int node);
extern uint64_t gcstressn;
void gc_poison(void *p, size_t n);
void gc_sysmon_tick(int64_t now);
int64_t gc_force_in(int64_t now);
void gc_selfscan(struct g *gp);

/* While the GC marks, a goroutine that was readied or created has its
 * stack re-scanned at mark termination (gc.c); execute() stamps one that
 * runs itself. */
static inline void gc_stampstack(struct g *gp)
{
	if (unlikely(__atomic_load_n(&gcmarking, __ATOMIC_RELAXED)))
		__atomic_store_n(&gp->gcstackdirty, true, __ATOMIC_SEQ_CST);
}
uint64_t gc_finalize_dead(struct mspan *s, uint32_t w, uint64_t dead);
void gc_stats_free(int node, uint8_t sc, uint64_t n, uint64_t bytes);

/* gcdirty.c: which pages were written since the last look */
enum { GCMODE_STW, GCMODE_SOFTDIRTY, GCMODE_UFFD };
int gcdirty_init(int want);
void gcdirty_track(uintptr_t lo, size_t len);
void gcdirty_untrack(uintptr_t lo, size_t len);	/* large noscan or UNTRACKED */
void gcdirty_retrack(uintptr_t lo);			/* ... freed */
void gcdirty_reset(void);
uint64_t gcdirty_collect(void (*fn)(uintptr_t lo, uintptr_t hi, void *arg), void *arg,
			 bool stw);
const char *gcdirty_name(int mode);

/* What gcdirty_quiet() compares: see gcdirty.c. */
struct gcdirty_stamp {
	uint64_t faults;
	uint32_t gen;
	bool ok;
};
void gcdirty_stamp(struct gcdirty_stamp *st);
bool gcdirty_quiet(const struct gcdirty_stamp *st);
extern int gcmode;

/* mcentral.c / mheap.c: sweeping */
bool sweepone(void);			/* false: nothing left */
void sweep_some(uintptr_t npages);
bool sweep_done(void);
void sweep_finish(void);
void sweep_fence_large(struct mspan *s);
void sweep_span_locked(struct mspan *s);
size_t narenas(void);
extern uintptr_t arena_lo, arena_hi;	/* arena numbers: [lo, hi) */
uintptr_t arena_base(size_t i);

#endif /* GORT_MGC_H */
