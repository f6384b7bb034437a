/* SPDX-License-Identifier: MIT */
/*
 * Description: interior-pointer lookup.  gort_heap_object() maps any
 * address inside an allocated object (its first, middle and last byte)
 * to that object's start and size, for every object of a whole span of
 * every size class (both span classes: scan and noscan) and for large
 * objects (every page of them, and their last byte); it says no to the
 * byte just past a large object unless another object starts there, to
 * a span's tail waste (the bytes after its last object), to freed
 * objects, and to memory that is not the heap: NULL, the stack, static
 * data, libc malloc memory, a private mmap.
 *
 * A span's worth of objects of one class (Go's class_to_allocnpages
 * below) is allocated twice over; the sorted addresses are searched for
 * a complete span: nelems objects, size apart, from a page-aligned base.
 * The lookups run in a goroutine; the checks for non-heap memory also on
 * a plain thread.
 */
#include "../gort_test.h"

#include <sys/mman.h>

#include "go_sizeclasses.h"

/* check_object() - every probe offset of [base, base+size) maps back. */
static void check_object(uintptr_t base, size_t size, int c)
{
	const size_t offs[] = { 0, 1, size / 2, size - 2, size - 1 };
	size_t i;

	for (i = 0; i < GT_ARRAY_SIZE(offs); i++) {
		void *b = NULL;
		size_t s = 0;
		int r = gort_heap_object((void *)(base + offs[i]), &b, &s);

		if (r != 1 || (uintptr_t)b != base || s != size)
			GFAIL("class %d: lookup of %#lx+%zu = %d, base %p (want %#lx), size %zu (want %zu)",
			      c, (unsigned long)base, offs[i], r, b, (unsigned long)base, s, size);
	}
	/* NULL out-parameters are allowed. */
	GCHECK_EQ(1, gort_heap_object((void *)(base + size - 1), NULL, NULL));
}

static bool lookup_fails(const void *p)
{
	void *b = (void *)1;
	size_t s = 1;

	return gort_heap_object(p, &b, &s) == 0;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

/* A whole span of class @c (noscan or not): lookups, tail, frees. */
static void span_of_class(int c, unsigned int flags)
{
	uint32_t size = go_class_to_size[c];
	uint32_t spanbytes = go_class_to_allocnpages[c] * PAGE;
	uint32_t nelems = spanbytes / size, n = 2 * nelems, i, k;
	uintptr_t *p = calloc(n, sizeof(*p)), span = 0;

	if (!GCHECK(p != NULL))
		return;
	for (i = 0; i < n; i++) {
		p[i] = (uintptr_t)gort_alloc(size, flags);
		if (!GCHECK(p[i] != 0))
			goto out;
	}
	qsort(p, n, sizeof(*p), cmp_ptr);
	/* A complete span: nelems objects from a page boundary, in a row. */
	for (i = 0; i + nelems <= n && !span; i++) {
		if (p[i] % PAGE)
			continue;
		for (k = 1; k < nelems; k++)
			if (p[i + k] != p[i] + (uintptr_t)k * size)
				break;
		if (k == nelems)
			span = p[i];
	}
	if (!span) {
		GFAIL("class %d (%u bytes, %u per span): %u objects fill no whole span",
		      c, size, nelems, n);
		goto out;
	}
	for (i = 0; i < n; i++)
		check_object(p[i], size, c);
	/* The tail waste after the last object is no object. */
	if (spanbytes % size) {
		uintptr_t tail = span + (uintptr_t)nelems * size;

		if (!lookup_fails((void *)tail) ||
		    !lookup_fails((void *)(span + spanbytes - 1)) ||
		    !lookup_fails((void *)(tail + (span + spanbytes - tail) / 2)))
			GFAIL("class %d: tail waste %#lx..%#lx looks like an object", c,
			      (unsigned long)tail, (unsigned long)(span + spanbytes));
	}
	/* Free every other object: those are gone, the others stay. */
	for (i = 0; i < n; i += 2)
		gort_free((void *)p[i]);
	for (i = 0; i < n; i++) {
		if (i % 2 == 0) {
			if (!lookup_fails((void *)p[i]) ||
			    !lookup_fails((void *)(p[i] + size - 1)))
				GFAIL("class %d: freed object %#lx still found", c,
				      (unsigned long)p[i]);
		} else {
			check_object(p[i], size, c);
		}
	}
	for (i = 1; i < n; i += 2)
		gort_free((void *)p[i]);
	for (i = 0; i < n; i++)
		if (!lookup_fails((void *)(p[i] + size / 2)))
			GFAIL("class %d: freed object %#lx still found", c, (unsigned long)p[i]);
	n = 0;
out:
	for (i = 0; i < n; i++)
		if (p[i])
			gort_free((void *)p[i]);
	free(p);
}

static int small_main(void *arg)
{
	int c;

	(void)arg;
	for (c = 1; c < NCLASSES; c++) {
		span_of_class(c, 0);
		span_of_class(c, GORT_ALLOC_NOSCAN);
	}
	return 0;
}

TEST(every_class_whole_span)
{
	ASSERT_EQ(0, gt_run(small_main, NULL, 1));
	ASSERT_EQ(0, gt_failed());
}

static const size_t large_sizes[] = {
	32769, 40960, 40961, 65536, 100000, 1 << 20, (1 << 20) + 1, 5 << 20,
};

static int large_main(void *arg)
{
	uintptr_t p[GT_ARRAY_SIZE(large_sizes)];
	size_t i, off;

	(void)arg;
	for (i = 0; i < GT_ARRAY_SIZE(large_sizes); i++) {
		p[i] = (uintptr_t)gort_alloc(large_sizes[i], i & 1 ? GORT_ALLOC_NOSCAN : 0);
		if (!GCHECK(p[i] != 0))
			return 1;
		GCHECK_EQ(0, p[i] % PAGE);
	}
	for (i = 0; i < GT_ARRAY_SIZE(large_sizes); i++) {
		size_t up = gort_roundup_size(large_sizes[i]);
		uintptr_t end = p[i] + up;
		void *b = NULL;
		size_t s = 0;

		check_object(p[i], up, 0);
		/* Every page of it. */
		for (off = 0; off < up; off += PAGE)
			if (!GCHECK_EQ(1, gort_heap_object((void *)(p[i] + off), &b, &s)) ||
			    !GCHECK(b == (void *)p[i]) || !GCHECK_EQ(up, s))
				break;
		/* Just past the end: nothing, or an object starting there. */
		if (gort_heap_object((void *)end, &b, &s) && b != (void *)end)
			GFAIL("large %zu at %#lx: byte past the end maps to %p", large_sizes[i],
			      (unsigned long)p[i], b);
	}
	for (i = 0; i < GT_ARRAY_SIZE(large_sizes); i++)
		gort_free((void *)p[i]);
	for (i = 0; i < GT_ARRAY_SIZE(large_sizes); i++) {
		size_t up = gort_roundup_size(large_sizes[i]);

		if (!lookup_fails((void *)p[i]) || !lookup_fails((void *)(p[i] + up / 2)) ||
		    !lookup_fails((void *)(p[i] + up - 1)))
			GFAIL("freed large object %#lx (%zu) still found", (unsigned long)p[i],
			      large_sizes[i]);
	}
	return 0;
}

TEST(large_objects)
{
	ASSERT_EQ(0, gt_run(large_main, NULL, 1));
	ASSERT_EQ(0, gt_failed());
}

/* The byte after the last large object of a fresh arena front is free. */
static int past_end_main(void *arg)
{
	uintptr_t a, b;

	(void)arg;
	a = (uintptr_t)gort_alloc(3 * PAGE, 0);
	b = (uintptr_t)gort_alloc(3 * PAGE, 0);
	if (!GCHECK(a && b))
		return 1;
	gort_free((void *)b);
	if (b == a + 3 * PAGE)
		GCHECK(lookup_fails((void *)(a + 3 * PAGE)));
	GCHECK(lookup_fails((void *)b));
	check_object(a, 3 * PAGE, 0);
	gort_free((void *)a);
	return 0;
}

TEST(large_past_end_after_free)
{
	ASSERT_EQ(0, gt_run(past_end_main, NULL, 1));
	ASSERT_EQ(0, gt_failed());
}

/* ---- not the heap ---- */

static int static_data[64];
static const char rodata[] = "not heap memory";

static int not_heap_main(void *arg)
{
	int local[16];
	char *m = malloc(100), *big = malloc(1 << 20);
	void *map = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *h = gort_alloc(64, 0);	/* the heap exists, but not there */

	(void)arg;
	local[0] = 1;
	GCHECK(h != NULL);
	GCHECK(lookup_fails(NULL));
	GCHECK(lookup_fails((void *)1));
	GCHECK(lookup_fails((void *)4096));
	GCHECK(lookup_fails(local));
	GCHECK(lookup_fails(&local[15]));
	GCHECK(lookup_fails(static_data));
	GCHECK(lookup_fails(rodata));
	GCHECK(lookup_fails((void *)not_heap_main));
	GCHECK(lookup_fails(m));
	GCHECK(lookup_fails(big));
	GCHECK(lookup_fails(big + (512 << 10)));
	GCHECK(map != MAP_FAILED);
	GCHECK(lookup_fails(map));
	GCHECK(lookup_fails((char *)map + 12345));
	/* Non-canonical and kernel addresses. */
	GCHECK(lookup_fails((void *)(1ULL << 47)));
	GCHECK(lookup_fails((void *)~0ULL));
	GCHECK(lookup_fails((void *)0xffff800000000000ULL));
	gort_free(h);
	free(m);
	free(big);
	munmap(map, 1 << 20);
	return 0;
}

TEST(not_heap_goroutine)
{
	ASSERT_EQ(0, gt_run(not_heap_main, NULL, 1));
	ASSERT_EQ(0, gt_failed());
}

TEST(not_heap_thread)
{
	ASSERT_EQ(0, not_heap_main(NULL));
	ASSERT_EQ(0, gt_failed());
}

/* Before the heap exists at all (no gort call yet): no crash, no. */
TEST(not_heap_before_init)
{
	int local = 0;

	ASSERT_EQ(0, gort_heap_object(&local, NULL, NULL));
	ASSERT_EQ(0, gort_heap_object(static_data, NULL, NULL));
	ASSERT_EQ(0, gort_heap_object(NULL, NULL, NULL));
}

TEST_HARNESS_MAIN
