/* SPDX-License-Identifier: MIT */
/*
 * Description: gort_main() start-up contract.
 *
 * - retval: gort_main() returns the main goroutine's return value, runs it
 *   as goroutine 1, and a second gort_main() in the same process is
 *   -EBUSY.
 * - opts: bad options are -EINVAL and leave the runtime unstarted (a
 *   valid gort_main() afterwards works): size 0, non-zero bytes past the
 *   known fields, maxprocs above GORT_MAXPROCS_LIMIT or negative.  Good
 *   ones start it: NULL, an older (shorter) struct, a newer (longer) one
 *   whose extra bytes are zero.
 */
#include <stddef.h>

#include "../gort_test.h"

static int ret_main(void *arg)
{
	GCHECK_EQ(gort_goid(), 1);
	return *(int *)arg;
}

TEST(retval)
{
	int v = 42;

	ASSERT_EQ(42, gort_main(ret_main, &v, NULL));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(-EBUSY, gort_main(ret_main, &v, NULL));
}

struct big_opts {
	struct gort_opts o;
	char tail[16];
};

FIXTURE(opts) {
	struct big_opts b;
};

FIXTURE_VARIANT(opts) {
	size_t sz;		/* 0: sizeof(struct gort_opts) */
	int maxprocs;
	bool null;		/* pass NULL */
	bool dirty_tail;	/* non-zero byte past the known fields */
	int expect;		/* gort_main() result: 7 or -EINVAL */
};

#define END_OF(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

FIXTURE_VARIANT_ADD(opts, null) { .null = true, .expect = 7, };
FIXTURE_VARIANT_ADD(opts, exact) { .expect = 7, };
FIXTURE_VARIANT_ADD(opts, older_struct) {
	.sz = END_OF(struct gort_opts, maxprocs), .maxprocs = 1, .expect = 7,
};
FIXTURE_VARIANT_ADD(opts, newer_struct_zero_tail) {
	.sz = sizeof(struct big_opts), .expect = 7,
};
FIXTURE_VARIANT_ADD(opts, newer_struct_dirty_tail) {
	.sz = sizeof(struct big_opts), .dirty_tail = true, .expect = -EINVAL,
};
FIXTURE_VARIANT_ADD(opts, size_zero) { .sz = 1, .expect = -EINVAL, };
FIXTURE_VARIANT_ADD(opts, maxprocs_too_big) {
	.maxprocs = GORT_MAXPROCS_LIMIT + 1, .expect = -EINVAL,
};
FIXTURE_VARIANT_ADD(opts, maxprocs_negative) { .maxprocs = -1, .expect = -EINVAL, };

FIXTURE_SETUP(opts)
{
}

FIXTURE_TEARDOWN(opts)
{
}

static int seven(void *arg)
{
	(void)arg;
	return 7;
}

TEST_F(opts, validate)
{
	struct gort_opts *o = &self->b.o;

	memset(&self->b, 0, sizeof(self->b));
	/* .sz = 1 stands for "too small to hold sz itself". */
	o->sz = variant->sz ? (variant->sz == 1 ? 0 : variant->sz) : sizeof(*o);
	o->maxprocs = variant->maxprocs;
	if (variant->dirty_tail)
		self->b.tail[3] = 1;
	ASSERT_EQ(variant->expect,
		  gort_main(seven, NULL, variant->null ? NULL : o));
	if (variant->expect < 0) {
		/* Rejected before starting anything. */
		ASSERT_EQ(7, gt_run(seven, NULL, 1));
	}
}

TEST_HARNESS_MAIN
