/* SPDX-License-Identifier: MIT */
/*
 * Description: MemStats invariants and counting.  For a quiescent heap:
 * heap_inuse + heap_idle == heap_sys, heap_released <= heap_idle,
 * heap_objects == mallocs - frees, alloc == heap_alloc <= heap_inuse,
 * heap_alloc <= total_alloc, sys >= heap_sys, by_size rows sum to the
 * totals and carry the class sizes, and every per-node field sums to its
 * total.  Allocating N objects of size s adds N to mallocs, heap_objects
 * and by_size[class(s)].mallocs and N * roundup(s) to heap_alloc and
 * total_alloc; freeing them takes it back (table-driven over small and
 * large sizes, in a goroutine and on a plain thread).  A caller built
 * against an older, shorter struct (small sz) gets exactly sz bytes
 * written.
 */
#include "../gort_test.h"

/*
 * These tests drive the allocator with explicit gort_free() and keep
 * objects where the collector does not look (malloc'ed arrays, the stacks
 * of plain threads): the collector is off, as GORT_GC=off would set it.
 */
__attribute__((constructor)) static void gc_off(void)
{
	setenv("GORT_GC", "off", 1);
}

#include <stddef.h>

#define NCLASSES	GORT_NUM_SIZE_CLASSES

static bool read_ms(struct gort_memstats *ms)
{
	memset(ms, 0, sizeof(*ms));
	ms->sz = sizeof(*ms);
	return gort_read_memstats(ms) == 0;
}

/* check_invariants() - the equations of a quiescent heap; @what names it. */
static void check_invariants(const struct gort_memstats *ms, const char *what)
{
	uint64_t m = 0, f = 0;
	uint64_t alloc = 0, sys = 0, inuse = 0, idle = 0, rel = 0, nm = 0, nf = 0;
	int i;

#define EQ(a, b) do {							\
	if ((a) != (b))							\
		GFAIL("%s: %s == %s: %llu != %llu", what, #a, #b,	\
		      (unsigned long long)(a), (unsigned long long)(b));	\
} while (0)
#define LE(a, b) do {							\
	if ((a) > (b))							\
		GFAIL("%s: %s <= %s: %llu > %llu", what, #a, #b,	\
		      (unsigned long long)(a), (unsigned long long)(b));	\
} while (0)
	EQ(ms->sz, sizeof(*ms));
	EQ(ms->heap_inuse + ms->heap_idle, ms->heap_sys);
	LE(ms->heap_released, ms->heap_idle);
	EQ(ms->heap_objects, ms->mallocs - ms->frees);
	LE(ms->frees, ms->mallocs);
	EQ(ms->alloc, ms->heap_alloc);
	LE(ms->heap_alloc, ms->heap_inuse);
	LE(ms->heap_alloc, ms->total_alloc);
	LE(ms->heap_sys, ms->sys);
	LE(ms->stack_inuse, ms->stack_sys);
	LE(ms->mspan_inuse, ms->mspan_sys);
	LE(ms->heap_sys + ms->stack_sys + ms->mspan_sys, ms->sys);
	LE(ms->heap_alloc, ms->next_gc);
	for (i = 0; i < NCLASSES; i++) {
		m += ms->by_size[i].mallocs;
		f += ms->by_size[i].frees;
		LE(ms->by_size[i].frees, ms->by_size[i].mallocs);
		if (i > 0) {
			LE(ms->by_size[i - 1].size + 1, ms->by_size[i].size);
			EQ(gort_roundup_size(ms->by_size[i].size), (size_t)ms->by_size[i].size);
			EQ(gort_size_class(ms->by_size[i].size), i);
		}
	}
	EQ(ms->by_size[0].size, 0);
	EQ(ms->by_size[1].size, 8);
	EQ(ms->by_size[NCLASSES - 1].size, GORT_MAX_SMALL_SIZE);
	EQ(m, ms->mallocs);
	EQ(f, ms->frees);
	EQ(ms->nnodes, gort_numa_nodes());
	if (ms->nnodes < 1 || ms->nnodes > GORT_MEMSTATS_MAX_NODES) {
		GFAIL("%s: nnodes %d", what, ms->nnodes);
		return;
	}
	for (i = 0; i < ms->nnodes; i++) {
		EQ(ms->node[i].heap_inuse + ms->node[i].heap_idle, ms->node[i].heap_sys);
		LE(ms->node[i].heap_released, ms->node[i].heap_idle);
		alloc += ms->node[i].heap_alloc;
		sys += ms->node[i].heap_sys;
		inuse += ms->node[i].heap_inuse;
		idle += ms->node[i].heap_idle;
		rel += ms->node[i].heap_released;
		nm += ms->node[i].mallocs;
		nf += ms->node[i].frees;
	}
	EQ(alloc, ms->heap_alloc);
	EQ(sys, ms->heap_sys);
	EQ(inuse, ms->heap_inuse);
	EQ(idle, ms->heap_idle);
	EQ(rel, ms->heap_released);
	EQ(nm, ms->mallocs);
	EQ(nf, ms->frees);
	for (; i < GORT_MEMSTATS_MAX_NODES; i++)
		if (ms->node[i].heap_sys || ms->node[i].mallocs || ms->node[i].heap_alloc)
			GFAIL("%s: node %d beyond nnodes %d has data", what, i, ms->nnodes);
#undef EQ
#undef LE
}

/* ---- in a goroutine and on a plain thread ---- */

FIXTURE(ms) {
	int unused;
};

FIXTURE_VARIANT(ms) {
	bool goroutine;
};

FIXTURE_VARIANT_ADD(ms, goroutine) {
	.goroutine = true,
};

FIXTURE_VARIANT_ADD(ms, thread) {
	.goroutine = false,
};

FIXTURE_SETUP(ms) {}
FIXTURE_TEARDOWN(ms) {}

static int run(bool goroutine, int (*fn)(void *), void *arg)
{
	return goroutine ? gt_run(fn, arg, 1) : fn(arg);
}

static int fresh_main(void *arg)
{
	struct gort_memstats ms;

	(void)arg;
	if (!GCHECK(read_ms(&ms)))
		return 1;
	check_invariants(&ms, "fresh heap");
	return 0;
}

TEST_F(ms, invariants_fresh)
{
	ASSERT_EQ(0, run(variant->goroutine, fresh_main, NULL));
	ASSERT_EQ(0, gt_failed());
}

static const struct {
	size_t size;
	int n;
	unsigned int flags;
} count_cases[] = {
	{ 0, 100, 0 },
	{ 1, 1000, 0 },
	{ 8, 3000, GORT_ALLOC_NOSCAN },
	{ 24, 777, 0 },
	{ 100, 500, 0 },
	{ 1024, 300, GORT_ALLOC_NOZERO },
	{ 1025, 300, 0 },
	{ 3000, 50, 0 },
	{ 20000, 20, GORT_ALLOC_NOSCAN },
	{ 32768, 10, 0 },
	{ 32769, 10, 0 },
	{ 100000, 5, 0 },
	{ 3 << 20, 3, GORT_ALLOC_NOZERO },
};

#define MAXN	3000

/* Allocate N of each case, compare the deltas, free them, compare again. */
static int counts_main(void *arg)
{
	static void *p[MAXN];
	struct gort_memstats a, b, c;
	size_t i;
	int k;

	(void)arg;
	for (i = 0; i < GT_ARRAY_SIZE(count_cases); i++) {
		size_t size = count_cases[i].size, up = gort_roundup_size(size);
		int n = count_cases[i].n, cls = gort_size_class(size);
		uint64_t bytes = (uint64_t)n * up;
		char what[64];

		snprintf(what, sizeof(what), "%d x %zu bytes", n, size);
		if (!GCHECK(read_ms(&a)))
			return 1;
		for (k = 0; k < n; k++) {
			p[k] = gort_alloc(size, count_cases[i].flags);
			if (!GCHECK(p[k] != NULL))
				return 1;
		}
		GCHECK(read_ms(&b));
		check_invariants(&b, what);
		if (b.mallocs - a.mallocs != (uint64_t)n ||
		    b.by_size[cls].mallocs - a.by_size[cls].mallocs != (uint64_t)n ||
		    b.heap_objects - a.heap_objects != (uint64_t)n ||
		    b.heap_alloc - a.heap_alloc != bytes ||
		    b.total_alloc - a.total_alloc != bytes ||
		    b.frees != a.frees)
			GFAIL("%s allocated: mallocs +%llu, by_size[%d] +%llu, heap_objects +%lld, heap_alloc +%lld, total_alloc +%llu, frees +%llu; want +%d objects, +%llu bytes",
			      what, (unsigned long long)(b.mallocs - a.mallocs), cls,
			      (unsigned long long)(b.by_size[cls].mallocs - a.by_size[cls].mallocs),
			      (long long)(b.heap_objects - a.heap_objects),
			      (long long)(b.heap_alloc - a.heap_alloc),
			      (unsigned long long)(b.total_alloc - a.total_alloc),
			      (unsigned long long)(b.frees - a.frees), n,
			      (unsigned long long)bytes);
		/* Large objects occupy exactly their pages. */
		if (cls == 0 && b.heap_inuse - a.heap_inuse != bytes)
			GFAIL("%s: heap_inuse +%lld, want +%llu", what,
			      (long long)(b.heap_inuse - a.heap_inuse), (unsigned long long)bytes);
		/* Small ones: their spans, give or take a span or two of slack. */
		if ((int64_t)(b.heap_inuse - a.heap_inuse) > (int64_t)bytes + (80 << 10) ||
		    (int64_t)(b.heap_inuse - a.heap_inuse) <
			    (int64_t)(bytes - bytes / 8) - (80 << 10))
			GFAIL("%s: heap_inuse +%lld for %llu bytes of objects", what,
			      (long long)(b.heap_inuse - a.heap_inuse), (unsigned long long)bytes);
		for (k = 0; k < n; k++)
			gort_free(p[k]);
		GCHECK(read_ms(&c));
		check_invariants(&c, what);
		if (c.frees - b.frees != (uint64_t)n ||
		    c.by_size[cls].frees - b.by_size[cls].frees != (uint64_t)n ||
		    c.mallocs != b.mallocs || c.heap_objects != a.heap_objects ||
		    c.heap_alloc != a.heap_alloc || c.total_alloc != b.total_alloc)
			GFAIL("%s freed: frees +%llu, by_size[%d].frees +%llu, heap_objects %llu (was %llu), heap_alloc %llu (was %llu)",
			      what, (unsigned long long)(c.frees - b.frees), cls,
			      (unsigned long long)(c.by_size[cls].frees - b.by_size[cls].frees),
			      (unsigned long long)c.heap_objects,
			      (unsigned long long)a.heap_objects,
			      (unsigned long long)c.heap_alloc, (unsigned long long)a.heap_alloc);
		if (cls == 0 && b.heap_inuse - c.heap_inuse != bytes)
			GFAIL("%s freed: heap_inuse -%lld, want -%llu", what,
			      (long long)(b.heap_inuse - c.heap_inuse), (unsigned long long)bytes);
	}
	return 0;
}

TEST_F(ms, alloc_free_counts)
{
	ASSERT_EQ(0, run(variant->goroutine, counts_main, NULL));
	ASSERT_EQ(0, gt_failed());
}

/* gort_alloc_node() on node 0 (every machine has it) counts there. */
static int node_counts_main(void *arg)
{
	struct gort_memstats a, b;
	void *p[10];
	int i, node = 0;

	(void)arg;
	GCHECK(read_ms(&a));
	for (i = 0; i < 10; i++) {
		p[i] = gort_alloc_node(i < 5 ? 200 : 50000, node, 0);
		if (!GCHECK(p[i] != NULL))
			return 1;
	}
	GCHECK(read_ms(&b));
	check_invariants(&b, "alloc_node");
	GCHECK_EQ(10, b.node[0].mallocs - a.node[0].mallocs);
	GCHECK_EQ(5 * gort_roundup_size(200) + 5 * gort_roundup_size(50000),
		  b.node[0].heap_alloc - a.node[0].heap_alloc);
	for (i = 0; i < 10; i++)
		gort_free(p[i]);
	GCHECK(read_ms(&b));
	GCHECK_EQ(10, b.node[0].frees - a.node[0].frees);
	GCHECK_EQ(a.node[0].heap_alloc, b.node[0].heap_alloc);
	return 0;
}

TEST_F(ms, node_counts)
{
	if (gort_numa_nodes() != 1 && !variant->goroutine)
		TH_LOG("%d nodes: node 0 only", gort_numa_nodes());
	ASSERT_EQ(0, run(variant->goroutine, node_counts_main, NULL));
	ASSERT_EQ(0, gt_failed());
}

/* ---- the sz protocol ---- */

TEST(short_sz_old_caller)
{
	static const size_t sizes[] = {
		sizeof(size_t),
		offsetof(struct gort_memstats, total_alloc),
		offsetof(struct gort_memstats, mallocs) + 4,	/* mid-field */
		offsetof(struct gort_memstats, by_size),
		offsetof(struct gort_memstats, nnodes),
	};
	struct gort_memstats full;
	unsigned char buf[sizeof(struct gort_memstats) + 64];
	void *keep = gort_alloc(64, 0);
	size_t i, j;

	ASSERT_NE(NULL, keep);
	ASSERT_TRUE(read_ms(&full));
	ASSERT_LT(0u, full.mallocs);
	for (i = 0; i < GT_ARRAY_SIZE(sizes); i++) {
		size_t sz = sizes[i];
		struct gort_memstats *ms = (struct gort_memstats *)buf;

		memset(buf, 0xa5, sizeof(buf));
		ms->sz = sz;
		ASSERT_EQ(0, gort_read_memstats(ms)) TH_LOG("sz %zu", sz);
		ASSERT_EQ(sz, ms->sz) TH_LOG("sz %zu", sz);
		for (j = sz; j < sizeof(buf); j++)
			ASSERT_EQ(0xa5, buf[j]) TH_LOG("sz %zu: byte %zu written", sz, j);
		if (sz >= offsetof(struct gort_memstats, total_alloc)) {
			ASSERT_EQ(full.alloc, ms->alloc);
		}
		if (sz >= offsetof(struct gort_memstats, by_size)) {
			ASSERT_EQ(full.mallocs, ms->mallocs);
			ASSERT_EQ(full.heap_sys, ms->heap_sys);
		}
	}
	gort_free(keep);
}

TEST(bad_sz)
{
	struct gort_memstats ms;

	ASSERT_EQ(-EINVAL, gort_read_memstats(NULL));
	memset(&ms, 0, sizeof(ms));
	ASSERT_EQ(-EINVAL, gort_read_memstats(&ms));
	ms.sz = sizeof(size_t) - 1;
	ASSERT_EQ(-EINVAL, gort_read_memstats(&ms));
}

/*
 * With goroutines on 4 Ps allocating and freeing, then quiescent: exact.
 * Each leaves 10 objects live; main checks, frees them (cross-P frees)
 * and checks that the heap is back where it was.
 */
#define CHURNERS	8
#define LEFT		10

struct busy {
	uint32_t done;
	atomic_int next;
	void *left[CHURNERS * LEFT];
};

static void churn(void *arg)
{
	struct busy *b = arg;
	int me = atomic_fetch_add(&b->next, 1);
	void *keep[100];
	int i, k;

	for (k = 0; k < 20; k++) {
		for (i = 0; i < 100; i++) {
			keep[i] = gort_alloc((size_t)(i * 37 + k * 101 + me) % 50000 + 1, 0);
			GCHECK(keep[i] != NULL);
		}
		for (i = 0; i < 100; i += 2)
			gort_free(keep[i]);
		for (i = 1; i < 100; i += 2)
			gort_free(keep[i]);
		gort_yield();
	}
	for (i = 0; i < LEFT; i++)
		b->left[me * LEFT + i] = gort_alloc(48, 0);
	gort_sema_release(&b->done);
}

static int many_ps_main(void *arg)
{
	struct busy b = { 0 };
	struct gort_memstats before, after, end;
	int i;

	(void)arg;
	GCHECK(read_ms(&before));
	for (i = 0; i < CHURNERS; i++)
		gort_go(churn, &b);
	if (!gt_sema_wait(&b.done, CHURNERS, 10000))
		return 1;
	GCHECK(read_ms(&after));
	check_invariants(&after, "after 4 Ps churned");
	GCHECK_EQ(before.heap_objects + CHURNERS * LEFT, after.heap_objects);
	GCHECK_EQ(before.heap_alloc + CHURNERS * LEFT * 48, after.heap_alloc);
	GCHECK_EQ(20 * 100 * CHURNERS + CHURNERS * LEFT, after.mallocs - before.mallocs);
	for (i = 0; i < CHURNERS * LEFT; i++) {
		GCHECK(b.left[i] != NULL);
		gort_free(b.left[i]);
	}
	GCHECK(read_ms(&end));
	check_invariants(&end, "after main freed the rest");
	GCHECK_EQ(before.heap_objects, end.heap_objects);
	GCHECK_EQ(before.heap_alloc, end.heap_alloc);
	return 0;
}

TEST(invariants_many_ps)
{
	ASSERT_EQ(0, gt_run(many_ps_main, NULL, 4));
	ASSERT_EQ(0, gt_failed());
}

TEST_HARNESS_MAIN
