// SPDX-License-Identifier: MIT
/*
 * mstats.c - MemStats, as Go's runtime.ReadMemStats, plus one row per
 * NUMA node.
 *
 * Counters live where they change: per mcache (mallocs, frees and bytes,
 * no atomics on the fast path) and per node heap (sys, inuse, released).
 * A read sums them without stopping the world, so while other Ps allocate
 * it is a consistent-enough snapshot, and exact for a quiescent heap:
 *
 *   heap_inuse + heap_idle = heap_sys	  heap_released <= heap_idle
 *   heap_alloc = total_alloc - bytes freed	heap_objects = mallocs - frees
 *   sum over nodes of every node field	= the total
 *
 * Differences from Go: by_size has 68 rows (one per class, row 0 for
 * large objects) where Go keeps 61 for compatibility; next_gc is the goal
 * the collector will use (heap_alloc * (1 + GORT_GC/100), 4 MiB at least)
 * (gc.c's pacer).
 */
#include <errno.h>
#include <string.h>

#include "mgc.h"

/* Visit every mcache: the Ps' (live or retired) and the shared ones. */
static void for_each_mcache(void (*fn)(struct mcache *c, void *arg), void *arg)
{
	int i;

	for (i = 0; i < GORT_MAXPROCS_LIMIT; i++) {
		struct p *pp = __atomic_load_n(&allp[i], __ATOMIC_ACQUIRE);

		if (pp && pp->mcache)
			fn(pp->mcache, arg);
	}
	for (i = 0; i < heap.nnodes; i++) {
		fn(&heap.extcache[i], arg);
		if (gc_sweepstats(i))
			fn(gc_sweepstats(i), arg);	/* what the GC freed */
	}
}

static void add_alloc(struct mcache *c, void *arg)
{
	uint64_t *sum = arg;
	int i;

	*sum += __atomic_load_n(&c->bytesmalloc, __ATOMIC_RELAXED);
	for (i = 0; i < heap.nnodes; i++)
		*sum -= __atomic_load_n(&c->bytesfree[i], __ATOMIC_RELAXED);
}

uint64_t heap_alloc_bytes(void)
{
	uint64_t sum = 0;

	for_each_mcache(add_alloc, &sum);
	return (int64_t)sum < 0 ? 0 : sum;
}

uint64_t heap_goal(uint64_t alloc)
{
	uint64_t goal = heap.gcpercent < 0 ? UINT64_MAX / 2 :
			alloc + alloc * (uint64_t)heap.gcpercent / 100;

	return goal < (4 << 20) ? (4 << 20) : goal;
}

static void add_stats(struct mcache *c, void *arg)
{
	struct gort_memstats *ms = arg;
	int i;

#define LD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
	for (i = 0; i < NUM_SIZE_CLASSES; i++) {
		ms->by_size[i].mallocs += LD(c->nmalloc[i]);
		ms->by_size[i].frees += LD(c->nfree[i]);
		ms->mallocs += LD(c->nmalloc[i]);
		ms->frees += LD(c->nfree[i]);
		ms->node[c->node].mallocs += LD(c->nmalloc[i]);
	}
	ms->total_alloc += LD(c->bytesmalloc);
	ms->node[c->node].heap_alloc += LD(c->bytesmalloc);
	for (i = 0; i < heap.nnodes; i++) {
		ms->node[i].heap_alloc -= LD(c->bytesfree[i]);
		ms->node[i].frees += LD(c->nfreenode[i]);
	}
#undef LD
}

__export int gort_read_memstats(struct gort_memstats *out)
{
	struct gort_memstats ms;
	size_t sz;
	int i;

	if (!out || out->sz < sizeof(size_t))
		return -EINVAL;
	mallocinit();
	memset(&ms, 0, sizeof(ms));
	for_each_mcache(add_stats, &ms);
	ms.nnodes = heap.nnodes;
	for (i = 0; i < NUM_SIZE_CLASSES; i++)
		ms.by_size[i].size = class_to_size[i];
	for (i = 0; i < heap.nnodes; i++) {
		struct mheapnode *h = &heap.nodes[i];

		lock(&h->lock);
		ms.node[i].heap_sys = h->sys;
		ms.node[i].heap_inuse = h->inuse;
		ms.node[i].heap_idle = h->sys - h->inuse;
		ms.node[i].heap_released = h->released;
		unlock(&h->lock);
		ms.heap_sys += ms.node[i].heap_sys;
		ms.heap_inuse += ms.node[i].heap_inuse;
		ms.heap_idle += ms.node[i].heap_idle;
		ms.heap_released += ms.node[i].heap_released;
		ms.heap_alloc += ms.node[i].heap_alloc;
	}
	ms.alloc = ms.heap_alloc;
	ms.heap_objects = ms.mallocs - ms.frees;
	stack_memstats(&ms.stack_inuse, &ms.stack_sys);
	ms.mspan_inuse = __atomic_load_n(&heap.mspan_inuse, __ATOMIC_RELAXED);
	ms.mspan_sys = __atomic_load_n(&heap.mspan_sys, __ATOMIC_RELAXED);
	ms.sys = ms.heap_sys + ms.stack_sys + ms.mspan_sys;
	{
		struct gort_gcstats gs = { .sz = sizeof(gs) };

		gort_read_gcstats(&gs);
		ms.next_gc = gs.next_gc ? gs.next_gc : heap_goal(ms.heap_alloc);
		ms.num_gc = gs.num_gc;
		ms.num_forced_gc = gs.num_forced_gc;
		ms.pause_total_ns = gs.pause_total_ns;
		memcpy(ms.pause_ns, gs.pause_ns, sizeof(ms.pause_ns));
		memcpy(ms.pause_end, gs.pause_end, sizeof(ms.pause_end));
		ms.last_gc = gs.last_gc;
		ms.gc_cpu_fraction = gs.gc_cpu_fraction;
	}
	sz = out->sz < sizeof(ms) ? out->sz : sizeof(ms);
	ms.sz = sz;
	memcpy(out, &ms, sz);
	return 0;
}

__export size_t gort_scavenge(void)
{
	size_t n = 0;
	int i;

	mallocinit();
	while (!mcentral_trim(INT64_MAX))
		gort_sleep(100 * 1000);		/* a cycle marks: until it ends */
	for (i = 0; i < heap.nnodes; i++)
		n += mheap_scavenge(i, SIZE_MAX, INT64_MAX);
	return n;
}
