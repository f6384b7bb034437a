/* SPDX-License-Identifier: MIT */
/*
 * Description: Go's slices.  Capacities follow Go 1.19's growslice to the
 * element (go119_caps.h, printed by Go 1.19 itself) for element sizes 1,
 * 8 and 24, one at a time and many at once; sub-slices share their array
 * (Go's aliasing: an in-place append shows through); copy overlaps; the
 * bounds panics say what Go says; a 100-byte sub-slice keeps its 64 MiB
 * array alive, a clone of it lets the array go; a slice of pointers
 * keeps its targets, a NOSCAN one does not.
 */
#include "../gc/gc_test.h"

#include <gort/slice.h>

#include "go119_caps.h"

struct e24 {
	int64_t a, b, c;
};

/* Append one element at a time; every capacity change against Go's. */
static void check_caps(struct __test_metadata *_metadata, size_t esize, unsigned int flags,
		       const size_t *want, size_t nwant)
{
	struct gort_slice s = { 0 };
	unsigned char elem[24] = { 1 };
	size_t i, k = 0, last = 0;

	for (i = 0; i < 2000000; i++) {
		s = gort_slice_append(s, esize, elem, 1, flags);
		if (s.cap != last) {
			ASSERT_LT(k, nwant);
			if (s.cap != want[k])
				TH_LOG("size %zu: change %zu at len %zu: cap %zu, Go %zu", esize, k,
				       s.len, s.cap, want[k]);
			ASSERT_EQ(want[k], s.cap);
			/* gort_slice_growcap() is the same rule on its own. */
			if (k)
				ASSERT_EQ(s.cap, gort_slice_growcap(last, last + 1, esize));
			last = s.cap;
			k++;
		}
	}
	ASSERT_EQ(nwant, k);
	ASSERT_EQ((size_t)2000000, s.len);
}

static int caps_main(void *arg)
{
	struct __test_metadata *_metadata = arg;

	check_caps(_metadata, 1, GORT_ALLOC_NOSCAN, go119_caps_1, ARRAY_SIZE(go119_caps_1));
	check_caps(_metadata, 8, GORT_ALLOC_NOSCAN, go119_caps_8, ARRAY_SIZE(go119_caps_8));
	check_caps(_metadata, 24, 0, go119_caps_24, ARRAY_SIZE(go119_caps_24));
	return 0;
}

TEST(capacities_are_go119s)
{
	ASSERT_EQ(0, gt_run(caps_main, _metadata, 1));
}

static int many_main(void *arg)
{
	static const size_t n[] = { 7, 20, 1000, 3, 5000, 100000 };
	struct __test_metadata *_metadata = arg;
	struct gort_slice s = gort_slice_make(8, 5, 5, GORT_ALLOC_NOSCAN);
	size_t i, j;

	for (i = 0; i < ARRAY_SIZE(n); i++) {
		struct gort_slice add = gort_slice_make(8, n[i], n[i], GORT_ALLOC_NOSCAN);

		for (j = 0; j < n[i]; j++)
			GORT_AT(add, int64_t, j) = (int64_t)(s.len + j);
		s = gort_slice_append(s, 8, add.ptr, add.len, GORT_ALLOC_NOSCAN);
		ASSERT_EQ(go119_many_8[i], s.cap);
	}
	for (j = 5; j < s.len; j++)
		ASSERT_EQ((int64_t)j, GORT_AT(s, int64_t, j));
	return 0;
}

TEST(append_many_are_go119s)
{
	ASSERT_EQ(0, gt_run(many_main, _metadata, 1));
}

/* ---- semantics ---- */

static int sem_main(void *arg)
{
	struct __test_metadata *_metadata = arg;
	struct gort_slice s = gort_slice_make(sizeof(int), 4, 8, GORT_ALLOC_NOSCAN), t, u, c;
	int i;

	for (i = 0; i < 4; i++)
		GORT_AT(s, int, i) = i;
	/* Zeroed beyond len too: reslicing up to cap shows zeros. */
	t = gort_slice_sub(s, sizeof(int), 0, 8);
	ASSERT_EQ(0, GORT_AT(t, int, 7));
	/* s[1:3]: len 2, cap 7, shares the array. */
	t = gort_slice_sub(s, sizeof(int), 1, 3);
	ASSERT_EQ((size_t)2, t.len);
	ASSERT_EQ((size_t)7, t.cap);
	GORT_AT(t, int, 0) = 100;
	ASSERT_EQ(100, GORT_AT(s, int, 1));
	/* append(t, 42) fits: writes s[3], as in Go. */
	u = GORT_APPEND(t, int, GORT_ALLOC_NOSCAN, 42);
	ASSERT_EQ(u.ptr, t.ptr);
	ASSERT_EQ(42, GORT_AT(s, int, 3));
	/* s[1:3:3]: full; the append moves to a new array, s untouched. */
	t = gort_slice_sub3(s, sizeof(int), 1, 3, 3);
	ASSERT_EQ((size_t)2, t.cap);
	u = GORT_APPEND(t, int, GORT_ALLOC_NOSCAN, 7);
	ASSERT_NE(u.ptr, t.ptr);
	ASSERT_EQ(42, GORT_AT(s, int, 3));
	ASSERT_EQ(100, GORT_AT(u, int, 0));
	ASSERT_EQ(7, GORT_AT(u, int, 2));
	/* s[4:4:4]: cap 0 keeps the old pointer, not one past the array. */
	t = gort_slice_sub3(s, sizeof(int), 4, 4, 4);
	ASSERT_EQ((size_t)0, t.cap);
	ASSERT_EQ(s.ptr, t.ptr);
	/* append(s, s...) reads its own array. */
	t = gort_slice_sub(s, sizeof(int), 0, 4);
	u = gort_slice_append(t, sizeof(int), t.ptr, t.len, GORT_ALLOC_NOSCAN);
	ASSERT_EQ((size_t)8, u.len);
	for (i = 0; i < 4; i++)
		ASSERT_EQ(GORT_AT(u, int, i), GORT_AT(u, int, i + 4));
	/* copy: overlapping, forward and back; min of the lengths. */
	ASSERT_EQ((size_t)3, gort_slice_copy(gort_slice_sub(u, sizeof(int), 1, 4),
					     gort_slice_sub(u, sizeof(int), 0, 8), sizeof(int)));
	ASSERT_EQ(0, GORT_AT(u, int, 1));
	ASSERT_EQ(100, GORT_AT(u, int, 2));
	/* clone: same elements, its own array, cap from growslice(0, len). */
	c = gort_slice_clone(u, sizeof(int), GORT_ALLOC_NOSCAN);
	ASSERT_NE(c.ptr, u.ptr);
	ASSERT_EQ(u.len, c.len);
	ASSERT_EQ(gort_slice_growcap(0, u.len, sizeof(int)), c.cap);
	ASSERT_EQ(0, memcmp(c.ptr, u.ptr, u.len * sizeof(int)));
	/* Zero-size elements and empty slices. */
	t = gort_slice_make(0, 3, 3, 0);
	ASSERT_EQ((size_t)3, t.len);
	t = gort_slice_append(t, 0, "", 2, 0);
	ASSERT_EQ((size_t)5, t.len);
	ASSERT_EQ((size_t)0, gort_slice_copy(t, (struct gort_slice){ 0 }, 4));
	t = gort_slice_append((struct gort_slice){ 0 }, 8, NULL, 0, 0);
	ASSERT_EQ((size_t)0, t.len);
	return 0;
}

TEST(semantics)
{
	ASSERT_EQ(0, gt_run(sem_main, _metadata, 2));
}

/* ---- panics, each in a child ---- */

enum misuse { SUB_HI, SUB_LO, SUB3_MAX, SUB3_HI, SUB3_LO, INDEX, MAKE_LEN, MAKE_CAP, GROW };

static enum misuse mcur;

static int misuse_main(void *arg)
{
	struct gort_slice s = gort_slice_make(4, 3, 3, GORT_ALLOC_NOSCAN);
	volatile size_t big = (size_t)1 << 60;

	(void)arg;
	switch (mcur) {
	case SUB_HI:
		gort_slice_sub(s, 4, 0, 5);
		break;
	case SUB_LO:
		gort_slice_sub(s, 4, 2, 1);
		break;
	case SUB3_MAX:
		gort_slice_sub3(s, 4, 0, 1, 4);
		break;
	case SUB3_HI:
		gort_slice_sub3(s, 4, 0, 3, 2);
		break;
	case SUB3_LO:
		gort_slice_sub3(s, 4, 2, 1, 3);
		break;
	case INDEX:
		GORT_AT(s, int, 7) = 1;
		break;
	case MAKE_LEN:
		gort_slice_make(8, big, big, 0);
		break;
	case MAKE_CAP:
		gort_slice_make(8, 4, 3, 0);
		break;
	case GROW:
		s.len = s.cap = SIZE_MAX;	/* a forged header: the sum overflows */
		gort_slice_append(s, 8, "12345678", 1, 0);
		break;
	}
	fprintf(stderr, "misuse was not fatal\n");
	return 4;
}

static int misuse_child(void *arg)
{
	(void)arg;
	return gt_run(misuse_main, NULL, 1);
}

FIXTURE(misuse) {
	struct gt_child child;
};

FIXTURE_VARIANT(misuse) {
	enum misuse kind;
	const char *msg;
};

FIXTURE_SETUP(misuse) { memset(&self->child, 0, sizeof(self->child)); }
FIXTURE_TEARDOWN(misuse) { free(self->child.out); }

FIXTURE_VARIANT_ADD(misuse, sub_hi) {
	.kind = SUB_HI, .msg = "panic: runtime error: slice bounds out of range [:5] with capacity 3\n",
};
FIXTURE_VARIANT_ADD(misuse, sub_lo) {
	.kind = SUB_LO, .msg = "panic: runtime error: slice bounds out of range [2:1]\n",
};
FIXTURE_VARIANT_ADD(misuse, sub3_max) {
	.kind = SUB3_MAX, .msg = "panic: runtime error: slice bounds out of range [::4] with capacity 3\n",
};
FIXTURE_VARIANT_ADD(misuse, sub3_hi) {
	.kind = SUB3_HI, .msg = "panic: runtime error: slice bounds out of range [:3:2]\n",
};
FIXTURE_VARIANT_ADD(misuse, sub3_lo) {
	.kind = SUB3_LO, .msg = "panic: runtime error: slice bounds out of range [2:1:]\n",
};
FIXTURE_VARIANT_ADD(misuse, index) {
	.kind = INDEX, .msg = "panic: runtime error: index out of range [7] with length 3\n",
};
FIXTURE_VARIANT_ADD(misuse, make_len) {
	.kind = MAKE_LEN, .msg = "panic: runtime error: makeslice: len out of range\n",
};
FIXTURE_VARIANT_ADD(misuse, make_cap) {
	.kind = MAKE_CAP, .msg = "panic: runtime error: makeslice: cap out of range\n",
};
FIXTURE_VARIANT_ADD(misuse, grow) {
	.kind = GROW, .msg = "panic: runtime error: growslice: cap out of range\n",
};

TEST_F(misuse, panics)
{
	struct gt_child *c = &self->child;
	const char *p;

	mcur = variant->kind;
	ASSERT_EQ(0, gt_fork_capture(c, misuse_child, NULL, 10000));
	p = strstr(c->out, variant->msg);
	if (gt_exit_code(c) != 2 || !p)
		gt_child_dump(c, "child");
	ASSERT_EQ(2, gt_exit_code(c));
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, strstr(p, "goroutine 1 [running]"));
	ASSERT_EQ(NULL, strstr(c->out, "was not fatal"));
}

/* ---- the collector ---- */

#define BIG	(64 * MiB)

static struct {
	struct gort_slice small;	/* a root: .bss */
	uintptr_t big;			/* hidden */
	bool alive_sub, alive_clone;
} G;

static void make_big(void *unused)
{
	struct gort_slice s = gort_slice_make(1, BIG, BIG, GORT_ALLOC_NOSCAN);

	(void)unused;
	memset((char *)s.ptr + 1000, 7, 100);
	G.big = GC_HIDE(s.ptr);
	G.small = gort_slice_sub(s, 1, 1000, 1100);	/* 100 bytes of it */
}

static void do_clone(void *unused)
{
	(void)unused;
	G.small = gort_slice_clone(G.small, 1, GORT_ALLOC_NOSCAN);
}

static int gc_main(void *unused)
{
	(void)unused;
	if (!gc_in_goroutine(make_big, NULL))
		return 1;
	/* Counted on goroutines of their own: the address must not sit in
	 * a frame of ours while we wait in gort_gc() (gc_test.h). */
	gc_full(3);
	G.alive_sub = gc_count_alive(&G.big, 1) == 1;
	if (!gc_in_goroutine(do_clone, NULL))
		return 1;
	gc_full(3);
	G.alive_clone = gc_count_alive(&G.big, 1) == 1;
	GCHECK_EQ((size_t)100, G.small.len);
	GCHECK_EQ(7, GORT_AT(G.small, char, 99));
	return 0;
}

TEST(subslice_keeps_array_clone_lets_go)
{
	ASSERT_EQ(0, unsetenv("GORT_GC"));
	ASSERT_EQ(0, gt_run(gc_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
	ASSERT_TRUE(G.alive_sub);	/* 100 bytes keep 64 MiB, as in Go */
	ASSERT_FALSE(G.alive_clone);
}

#define NPTR	256

static struct {
	struct gort_slice ptrs;		/* a root */
	uintptr_t targets[NPTR];	/* hidden */
	unsigned int flags;
	long alive;
} P;

static void fill_ptrs(void *unused)
{
	int i;

	(void)unused;
	P.ptrs = (struct gort_slice){ 0 };
	for (i = 0; i < NPTR; i++) {
		void *t = gort_alloc(48, GORT_ALLOC_NOSCAN);

		P.targets[i] = GC_HIDE(t);
		P.ptrs = GORT_APPEND(P.ptrs, void *, P.flags, t);
	}
}

static int ptrs_main(void *unused)
{
	(void)unused;
	if (!gc_in_goroutine(fill_ptrs, NULL))
		return 1;
	gc_full(3);
	P.alive = gc_count_alive(P.targets, NPTR);
	return 0;
}

TEST(pointer_elements_are_scanned)
{
	P.flags = 0;
	ASSERT_EQ(0, gt_run(ptrs_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(NPTR, P.alive);
}

TEST(noscan_elements_are_not)
{
	P.flags = GORT_ALLOC_NOSCAN;
	ASSERT_EQ(0, gt_run(ptrs_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
	ASSERT_LE(P.alive, NPTR * GC_MARGIN_PCT / 100);
}

TEST_HARNESS_MAIN
