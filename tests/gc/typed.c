/* SPDX-License-Identifier: MIT */
/*
 * Description: objects allocated with a type (gort_alloc_typed) are
 * scanned precisely: a word the type marks keeps its target, any other
 * word -- an integer that happens to hold a heap address -- keeps
 * nothing.  The same object from gort_alloc() keeps both (the test can
 * tell the two apart).  Covers small and large objects, arrays, the
 * degenerate masks, bad arguments, the size gort_heap_object() reports,
 * a typed slot reused untyped (its last word is data again), and
 * gccheckmark agreeing with the precise mark.
 */
#include "gc_test.h"

struct rec {
	uint64_t key;		/* an integer: may hold anything */
	void *ptr;		/* a pointer */
	uint64_t hash;
};

static const uint64_t rec_mask[] = { GORT_PTRBIT(struct rec, ptr) };
static const struct gort_type rec_type = {
	.size = sizeof(struct rec), .ptrmask = rec_mask, .name = "rec",
};

#define N	64

static struct {
	size_t n;		/* elements per object */
	bool typed;
	uintptr_t obj;		/* hidden: the array */
	uintptr_t byptr[N], byint[N];	/* hidden: targets */
	void *keep;		/* the array, in a root */
	long ptr_alive, int_alive;
} T;

static void make(void *unused)
{
	struct rec *r;
	size_t i;

	(void)unused;
	r = T.typed ? gort_alloc_typed(&rec_type, T.n, 0) :
		      gort_alloc(T.n * sizeof(struct rec), 0);
	if (!GCHECK(r != NULL))
		return;
	for (i = 0; i < N; i++) {
		void *a = gort_alloc(64, GORT_ALLOC_NOSCAN), *b = gort_alloc(64, GORT_ALLOC_NOSCAN);
		size_t k = i * (T.n / N);

		if (!GCHECK(a && b))
			return;
		r[k].ptr = a;
		r[k].key = (uint64_t)(uintptr_t)b;	/* an address, as a number */
		r[k].hash = ~(uint64_t)(uintptr_t)b;
		T.byptr[i] = GC_HIDE(a);
		T.byint[i] = GC_HIDE(b);
	}
	T.keep = r;
}

static int precise_main(void *unused)
{
	(void)unused;
	if (!gc_in_goroutine(make, NULL))
		return 1;
	gc_full(3);
	T.ptr_alive = gc_count_alive(T.byptr, N);
	T.int_alive = gc_count_alive(T.byint, N);
	GCHECK(gc_alive(T.keep));
	printf("# %s, %zu elements: %ld/%d kept by pointer words, %ld/%d by integer words\n",
	       T.typed ? "typed" : "untyped", T.n, T.ptr_alive, N, T.int_alive, N);
	return 0;
}

static void run(struct __test_metadata *_metadata, size_t n, bool typed)
{
	memset(&T, 0, sizeof(T));
	T.n = n;
	T.typed = typed;
	ASSERT_EQ(0, unsetenv("GORT_GC"));
	ASSERT_EQ(0, gt_run(precise_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(N, T.ptr_alive);
}

TEST(small_typed_keeps_only_pointers)
{
	run(_metadata, N, true);
	ASSERT_LE(T.int_alive, N * GC_MARGIN_PCT / 100);
}

TEST(large_typed_keeps_only_pointers)
{
	run(_metadata, 4096, true);	/* 96 KiB: a span of its own */
	ASSERT_LE(T.int_alive, N * GC_MARGIN_PCT / 100);
}

/* Conservative: every word counts, so the integers keep theirs. */
TEST(untyped_keeps_both)
{
	run(_metadata, N, false);
	ASSERT_EQ(N, T.int_alive);
}

/* gccheckmark walks typed objects the same way: no false report. */
TEST(checkmark_agrees)
{
	ASSERT_EQ(0, setenv("GORT_DEBUG", "gccheckmark=1", 1));
	run(_metadata, N, true);
	ASSERT_EQ(0, unsetenv("GORT_DEBUG"));
	ASSERT_LE(T.int_alive, N * GC_MARGIN_PCT / 100);
}

/* ---- the API's edges ---- */

static int api_main(void *unused)
{
	static const uint64_t none[] = { 0 }, all[] = { ~0ULL };
	struct gort_type t = { .size = 24, .ptrmask = none };
	size_t size = 0;
	void *p, *base;

	(void)unused;
	errno = 0;
	GCHECK(!gort_alloc_typed(NULL, 1, 0) && errno == EINVAL);
	t.size = 12;
	errno = 0;
	GCHECK(!gort_alloc_typed(&t, 1, 0) && errno == EINVAL);
	t.size = 0;
	GCHECK(!gort_alloc_typed(&t, 1, 0));
	t.size = 24;
	errno = 0;
	GCHECK(!gort_alloc_typed(&t, 1, GORT_ALLOC_NOSCAN) && errno == EINVAL);
	errno = 0;
	GCHECK(!gort_alloc_typed(&t, SIZE_MAX / 8, 0) && errno == ENOMEM);

	/* No pointer word: a noscan object, no trailer. */
	p = gort_alloc_typed(&t, 2, 0);
	GCHECK(p && gort_heap_object(p, &base, &size) == 1 && base == p && size == 48);
	/* Every word: plain gort_alloc, no trailer either. */
	t.ptrmask = all;
	p = gort_alloc_typed(&t, 2, 0);
	GCHECK(p && gort_heap_object(p, &base, &size) == 1 && size == 48);
	/* A real mask: 8 more bytes, not reported as the object's. */
	p = gort_alloc_typed(&rec_type, 2, 0);
	GCHECK(p && gort_heap_object(p, &base, &size) == 1 && base == p);
	GCHECK_EQ((size_t)56, size);	/* 48 + 8 bytes: the 64-byte class, less 8 */
	p = gort_alloc_typed(&rec_type, 2000, 0);
	GCHECK(p && gort_heap_object(p, &base, &size) == 1 && base == p);
	GCHECK_EQ((size_t)(48 << 10) - 8, size);
	/* Zero elements: a valid minimal object. */
	GCHECK(gort_alloc_typed(&rec_type, 0, 0) != NULL);
	return 0;
}

TEST(api)
{
	ASSERT_EQ(0, gt_run(api_main, NULL, 1));
	ASSERT_EQ(0, gt_failed());
}

/*
 * A typed object freed (explicitly, or by the collector) and its slot
 * handed out by gort_alloc(): the last word is the new owner's, and
 * garbage there must not be taken for a type.
 */
static void **reuse_keep;	/* a root: the new owners stay reachable */

static int reuse_main(void *unused)
{
	int round, i;

	(void)unused;
	for (round = 0; round < 20; round++) {
		void *v[256];

		for (i = 0; i < 256; i++) {
			v[i] = gort_alloc_typed(&rec_type, 1, 0);	/* 32-byte class */
			if (!GCHECK(v[i] != NULL))
				return 1;
		}
		for (i = 0; i < 256; i += 2)
			gort_free(v[i]);
		memset(v, 0, sizeof(v));	/* the rest: garbage for the GC */
		if (round % 2)
			GCHECK_EQ(0, gort_gc());	/* swept, not freed */
		reuse_keep = gort_alloc(1024 * sizeof(void *), 0);
		if (!GCHECK(reuse_keep != NULL))
			return 1;
		for (i = 0; i < 1024; i++) {
			uint64_t *q = gort_alloc(32, 0);

			if (!GCHECK(q != NULL))
				return 1;
			q[3] = 0xdeadbeefcafef00dULL;	/* where a type was */
			reuse_keep[i] = q;
		}
		GCHECK_EQ(0, gort_gc());	/* scans every new owner */
	}
	return 0;
}

TEST(reused_slot_is_untyped)
{
	ASSERT_EQ(0, gt_run(reuse_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

TEST_HARNESS_MAIN
