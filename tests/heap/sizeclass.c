/* SPDX-License-Identifier: MIT */
/*
 * Description: Go's size classes, exactly.  gort_size_class() and
 * gort_roundup_size() agree with Go 1.19 (runtime/sizeclasses.go,
 * class_to_size below is copied from it) for every size up to 32 KiB,
 * at every class boundary, and above it (whole 8 KiB pages, class 0).
 * gort_alloc() of each class size gives distinct, zeroed objects aligned
 * as Go aligns them (the largest power of two dividing the class size,
 * capped at 8 KiB), usable over their whole rounded size, also when the
 * memory is reused; the flags work, unknown flags are EINVAL, size 0
 * gives a unique minimal object.
 *
 * The allocation cases run twice (FIXTURE_VARIANT): in a goroutine (the
 * P's mcache) and on a plain thread without gort_main() (the node's
 * shared, locked cache).
 */
#include "../gort_test.h"

#include "go_sizeclasses.h"

/* Go's roundupsize() for a small size: the smallest class that fits. */
static int go_class(size_t size)
{
	int c;

	if (size == 0)
		size = 1;	/* gort: size 0 is a minimal object, not zerobase */
	for (c = 1; c < NCLASSES; c++)
		if (go_class_to_size[c] >= size)
			return c;
	return 0;
}

/* Go's "min align" column: largest power of two dividing the size. */
static uintptr_t go_align(uint32_t size)
{
	uintptr_t a = size & -size;

	return a > PAGE ? PAGE : a;
}

TEST(class_table_is_go)
{
	int c;

	/* The expectation itself: strictly increasing, 8 .. 32 KiB. */
	ASSERT_EQ(8u, go_class_to_size[1]);
	ASSERT_EQ((uint32_t)GORT_MAX_SMALL_SIZE, go_class_to_size[NCLASSES - 1]);
	ASSERT_EQ(GORT_NUM_SIZE_CLASSES, NCLASSES);
	for (c = 2; c < NCLASSES; c++)
		ASSERT_LT(go_class_to_size[c - 1], go_class_to_size[c]);
}

/* Every size from 0 to 32 KiB: class and rounded size. */
TEST(every_small_size)
{
	size_t size;
	int bad = 0;

	for (size = 0; size <= GORT_MAX_SMALL_SIZE; size++) {
		int want = go_class(size);
		int got = gort_size_class(size);
		size_t up = gort_roundup_size(size);

		if (got != want || up != go_class_to_size[want]) {
			if (bad++ < 10)
				TH_LOG("size %zu: class %d (want %d), roundup %zu (want %u)",
				       size, got, want, up, go_class_to_size[want]);
		}
	}
	ASSERT_EQ(0, bad);
}

/* Each class c owns exactly (class_size[c-1], class_size[c]]. */
TEST(class_boundaries)
{
	int c;

	for (c = 1; c < NCLASSES; c++) {
		uint32_t lo = go_class_to_size[c - 1] + 1, hi = go_class_to_size[c];

		EXPECT_EQ(c, gort_size_class(lo)) TH_LOG("class %d, size %u", c, lo);
		EXPECT_EQ(c, gort_size_class(hi)) TH_LOG("class %d, size %u", c, hi);
		EXPECT_EQ(c, gort_size_class(hi - 1)) TH_LOG("class %d, size %u", c, hi - 1);
		EXPECT_EQ(hi, gort_roundup_size(lo)) TH_LOG("class %d, size %u", c, lo);
		EXPECT_EQ(hi, gort_roundup_size(hi)) TH_LOG("class %d, size %u", c, hi);
		if (c + 1 < NCLASSES) {
			EXPECT_EQ(c + 1, gort_size_class(hi + 1)) TH_LOG("size %u", hi + 1);
			EXPECT_EQ(go_class_to_size[c + 1], gort_roundup_size(hi + 1));
		}
	}
}

static const struct {
	size_t size, rounded;
} large_cases[] = {
	{ 32769, 40960 },
	{ 40960, 40960 },
	{ 40961, 49152 },
	{ 65536, 65536 },
	{ 65537, 73728 },
	{ 1 << 20, 1 << 20 },
	{ (1 << 20) + 1, (1 << 20) + PAGE },
	{ (size_t)1 << 40, (size_t)1 << 40 },
	{ ((size_t)1 << 40) + 3, ((size_t)1 << 40) + PAGE },
	/* Go: if size + _PageSize < size, return size (no wrap). */
	{ SIZE_MAX - 100, SIZE_MAX - 100 },
	{ SIZE_MAX, SIZE_MAX },
};

TEST(large_sizes_round_to_pages)
{
	size_t i;

	for (i = 0; i < GT_ARRAY_SIZE(large_cases); i++) {
		EXPECT_EQ(0, gort_size_class(large_cases[i].size))
			TH_LOG("size %zu", large_cases[i].size);
		EXPECT_EQ(large_cases[i].rounded, gort_roundup_size(large_cases[i].size))
			TH_LOG("size %zu", large_cases[i].size);
	}
}

/* ---- allocation, in a goroutine or on a plain thread ---- */

FIXTURE(alloc) {
	int unused;
};

FIXTURE_VARIANT(alloc) {
	bool goroutine;
};

FIXTURE_VARIANT_ADD(alloc, goroutine) {
	.goroutine = true,
};

FIXTURE_VARIANT_ADD(alloc, thread) {
	.goroutine = false,
};

FIXTURE_SETUP(alloc) {}
FIXTURE_TEARDOWN(alloc) {}

/* run() - @fn in a goroutine (1 P) or directly on this thread. */
static int run(bool goroutine, int (*fn)(void *), void *arg)
{
	if (goroutine)
		return gt_run(fn, arg, 1);
	return fn(arg);
}

static bool all_bytes(const void *p, size_t n, unsigned char v)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != v)
			return false;
	return true;
}

static unsigned char pat(uintptr_t base, size_t i)
{
	return (unsigned char)((base >> 4) * 31 + i * 7 + 1);
}

#define PER_CLASS	4	/* objects per class and flag set */
#define NPTRS		(NCLASSES * PER_CLASS * 2)

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Each class size (and that size minus one), with and without NOSCAN:
 * aligned, zeroed, writable over the whole class size; all distinct and
 * non-overlapping; freed at the end.
 */
static int class_objects_main(void *arg)
{
	static void *ptrs[NPTRS];
	static uintptr_t sorted[NPTRS];
	static size_t sizes[NPTRS];
	size_t n = 0, i, j;
	int c, k;

	(void)arg;
	for (c = 1; c < NCLASSES; c++) {
		uint32_t csize = go_class_to_size[c];

		for (k = 0; k < PER_CLASS * 2; k++) {
			unsigned int flags = k & 1 ? GORT_ALLOC_NOSCAN : 0;
			size_t want = k & 2 ? csize - 1 : csize;
			unsigned char *p = gort_alloc(want, flags);

			if (!GCHECK(p != NULL))
				return 1;
			GCHECK_EQ(0, (uintptr_t)p % go_align(csize));
			if (!all_bytes(p, csize, 0))
				GFAIL("class %d (%u bytes): object %p not zeroed", c, csize, (void *)p);
			for (j = 0; j < csize; j++)
				p[j] = pat((uintptr_t)p, j);
			ptrs[n] = p;
			sizes[n++] = csize;
		}
	}
	/* Read back after everything was written: no overlap. */
	for (i = 0; i < n; i++) {
		unsigned char *p = ptrs[i];

		for (j = 0; j < sizes[i]; j++) {
			if (p[j] != pat((uintptr_t)p, j)) {
				GFAIL("object %p (%zu bytes): byte %zu overwritten", (void *)p,
				      sizes[i], j);
				break;
			}
		}
		sorted[i] = (uintptr_t)p;
	}
	qsort(sorted, n, sizeof(sorted[0]), cmp_ptr);
	for (i = 1; i < n; i++)
		GCHECK(sorted[i] != sorted[i - 1]);
	for (i = 0; i < n; i++)
		gort_free(ptrs[i]);
	return 0;
}

TEST_F(alloc, class_objects)
{
	ASSERT_EQ(0, run(variant->goroutine, class_objects_main, NULL));
	ASSERT_EQ(0, gt_failed());
}

/*
 * Reused memory is zeroed again: fill a few spans' worth of each of a
 * few classes (and large objects) with 0xa5, free them, allocate again.
 */
static const size_t reuse_sizes[] = { 8, 24, 48, 512, 1408, 8192, 32768, 40000, 1 << 20 };

#define REUSE_BYTES	(64u << 10)

static int reuse_zeroed_main(void *arg)
{
	static void *ptrs[REUSE_BYTES / 8];
	size_t i, k, n;
	int round;

	(void)arg;
	for (i = 0; i < GT_ARRAY_SIZE(reuse_sizes); i++) {
		size_t size = reuse_sizes[i], up = gort_roundup_size(size);

		n = up >= REUSE_BYTES ? 2 : REUSE_BYTES / up;
		for (round = 0; round < 3; round++) {
			for (k = 0; k < n; k++) {
				ptrs[k] = gort_alloc(size, 0);
				if (!GCHECK(ptrs[k] != NULL))
					return 1;
				if (!all_bytes(ptrs[k], up, 0))
					GFAIL("size %zu round %d: reused object %p not zeroed",
					      size, round, ptrs[k]);
				memset(ptrs[k], 0xa5, up);
			}
			for (k = 0; k < n; k++)
				gort_free(ptrs[k]);
		}
	}
	return 0;
}

TEST_F(alloc, reuse_is_zeroed)
{
	ASSERT_EQ(0, run(variant->goroutine, reuse_zeroed_main, NULL));
	ASSERT_EQ(0, gt_failed());
}

/* NOZERO and NOSCAN|NOZERO: usable objects of the right class. */
static int flags_main(void *arg)
{
	static const unsigned int flagsets[] = {
		GORT_ALLOC_NOZERO, GORT_ALLOC_NOSCAN,
		GORT_ALLOC_NOSCAN | GORT_ALLOC_NOZERO,
	};
	static const size_t sizes[] = { 1, 8, 100, 4096, 32768, 32769, 300000 };
	size_t f, i;

	(void)arg;
	for (f = 0; f < GT_ARRAY_SIZE(flagsets); f++) {
		for (i = 0; i < GT_ARRAY_SIZE(sizes); i++) {
			size_t up = gort_roundup_size(sizes[i]);
			void *p = gort_alloc(sizes[i], flagsets[f]), *base = NULL;
			size_t osize = 0;

			if (!GCHECK(p != NULL))
				return 1;
			if (!(flagsets[f] & GORT_ALLOC_NOZERO) && !all_bytes(p, up, 0))
				GFAIL("flags %#x size %zu: not zeroed", flagsets[f], sizes[i]);
			memset(p, 0x5a, up);
			GCHECK(all_bytes(p, up, 0x5a));
			GCHECK_EQ(1, gort_heap_object(p, &base, &osize));
			GCHECK(base == p);
			GCHECK_EQ(up, osize);
			gort_free(p);
		}
	}
	return 0;
}

TEST_F(alloc, flags)
{
	ASSERT_EQ(0, run(variant->goroutine, flags_main, NULL));
	ASSERT_EQ(0, gt_failed());
}

static int bad_flags_main(void *arg)
{
	static const unsigned int bad[] = { 1u << 2, 1u << 7, 1u << 31, ~0u,
					    GORT_ALLOC_NOSCAN | 1u << 3 };
	size_t i;

	(void)arg;
	for (i = 0; i < GT_ARRAY_SIZE(bad); i++) {
		void *p;
		int err;

		errno = 0;
		p = gort_alloc(16, bad[i]);
		err = errno;
		GCHECK(p == NULL);
		GCHECK_EQ(EINVAL, err);
		errno = 0;
		p = gort_alloc(100000, bad[i]);
		err = errno;
		GCHECK(p == NULL);
		GCHECK_EQ(EINVAL, err);
		errno = 0;
		p = gort_alloc_node(16, 0, bad[i]);
		err = errno;
		GCHECK(p == NULL);
		GCHECK_EQ(EINVAL, err);
	}
	return 0;
}

TEST_F(alloc, unknown_flags_einval)
{
	ASSERT_EQ(0, run(variant->goroutine, bad_flags_main, NULL));
	ASSERT_EQ(0, gt_failed());
}

/* Size 0: a unique, minimal (8-byte class), freeable object each time. */
static int size_zero_main(void *arg)
{
	void *p[64], *base;
	size_t i, j, size;

	(void)arg;
	for (i = 0; i < GT_ARRAY_SIZE(p); i++) {
		p[i] = gort_alloc(0, i & 1 ? GORT_ALLOC_NOSCAN : 0);
		if (!GCHECK(p[i] != NULL))
			return 1;
		GCHECK_EQ(1, gort_heap_object(p[i], &base, &size));
		GCHECK(base == p[i]);
		GCHECK_EQ(8, size);
		for (j = 0; j < i; j++)
			GCHECK(p[j] != p[i]);
	}
	for (i = 0; i < GT_ARRAY_SIZE(p); i++)
		gort_free(p[i]);
	gort_free(NULL);	/* a no-op */
	return 0;
}

TEST_F(alloc, size_zero)
{
	ASSERT_EQ(0, run(variant->goroutine, size_zero_main, NULL));
	ASSERT_EQ(0, gt_failed());
}

/*
 * A size no machine can back: NULL and ENOMEM, not a wrap to a tiny
 * object.  A large object first, so the page heap has a front to hand
 * out; the next one must not overlap it or anything else.
 */
static int huge_main(void *arg)
{
	static const size_t sizes[] = {
		SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - PAGE + 2, SIZE_MAX - PAGE,
		(size_t)1 << 62, (size_t)1 << 50,
	};
	void *before = gort_alloc(100000, 0), *after;
	size_t i;

	(void)arg;
	if (!GCHECK(before != NULL))
		return 1;
	for (i = 0; i < GT_ARRAY_SIZE(sizes); i++) {
		void *p;
		int err;

		errno = 0;
		p = gort_alloc(sizes[i], GORT_ALLOC_NOZERO);
		err = errno;
		if (p || err != ENOMEM)
			GFAIL("gort_alloc(%#zx) = %p, errno %d", sizes[i], p, err);
	}
	after = gort_alloc(100000, 0);
	if (!GCHECK(after != NULL))
		return 1;
	GCHECK_EQ(1, gort_heap_object(after, NULL, NULL));
	GCHECK((char *)after >= (char *)before + 100000 || (char *)after + 100000 <= (char *)before);
	gort_free(before);
	gort_free(after);
	return 0;
}

TEST_F(alloc, huge_enomem)
{
	ASSERT_EQ(0, run(variant->goroutine, huge_main, NULL));
	ASSERT_EQ(0, gt_failed());
}

TEST_HARNESS_MAIN
