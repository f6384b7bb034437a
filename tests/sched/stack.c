/* SPDX-License-Identifier: MIT */
/*
 * Description: goroutine stacks are as large as asked for.
 *
 * A goroutine touches 3/4 of its usable stack (one byte per page, through
 * a variable-length array) and must survive: the default 256 KiB, 1 MiB
 * and 4 MiB through gort_go_opts(), a 64 KiB one, and the main goroutine's
 * default 8 MiB and a 2 MiB main_stack_size.  Overflowing is tested in
 * overflow.c.
 */
#include "../gort_test.h"

FIXTURE(stack) {
	atomic_int ok;
	uint32_t done;
};

FIXTURE_VARIANT(stack) {
	size_t go_stack;	/* gort_go_opts stack_size; 0: gort_go() */
	size_t main_stack;	/* opts.main_stack_size; 0: default */
	size_t use;		/* bytes to touch */
	bool in_main;		/* touch in the main goroutine */
};

FIXTURE_VARIANT_ADD(stack, default_256k) { .use = 192 << 10, };
FIXTURE_VARIANT_ADD(stack, go_64k) { .go_stack = 64 << 10, .use = 48 << 10, };
FIXTURE_VARIANT_ADD(stack, go_1m) { .go_stack = 1 << 20, .use = 768 << 10, };
FIXTURE_VARIANT_ADD(stack, go_4m) { .go_stack = 4 << 20, .use = 3 << 20, };
FIXTURE_VARIANT_ADD(stack, main_default_8m) { .in_main = true, .use = 6 << 20, };
FIXTURE_VARIANT_ADD(stack, main_2m) {
	.in_main = true, .main_stack = 2 << 20, .use = 1536 << 10,
};

FIXTURE_SETUP(stack)
{
}

FIXTURE_TEARDOWN(stack)
{
}

static const FIXTURE_VARIANT(stack) *cur;

static __attribute__((noinline)) int touch(size_t n)
{
	volatile char buf[n];
	size_t i;

	for (i = 0; i < n; i += 4096)
		buf[i] = (char)i;
	buf[n - 1] = 1;
	return buf[0] + buf[n - 1];
}

static void user(void *arg)
{
	FIXTURE_DATA(stack) *self = arg;

	if (touch(cur->use) == 1)
		atomic_store(&self->ok, 1);
	gort_sema_release(&self->done);
}

static int stack_main(void *arg)
{
	FIXTURE_DATA(stack) *self = arg;
	struct gort_go_opts gopts = { .sz = sizeof(gopts), .stack_size = cur->go_stack };

	if (cur->in_main) {
		if (touch(cur->use) == 1)
			atomic_store(&self->ok, 1);
		return 0;
	}
	if (cur->go_stack)
		GCHECK(gort_go_opts(user, self, &gopts) > 0);
	else
		GCHECK(gort_go(user, self) > 0);
	gt_sema_wait(&self->done, 1, 5000);
	return 0;
}

TEST_F(stack, use)
{
	struct gort_opts opts = {
		.sz = sizeof(opts),
		.maxprocs = 2,
		.main_stack_size = variant->main_stack,
	};

	cur = variant;
	ASSERT_EQ(0, gort_main(stack_main, self, &opts));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(1, atomic_load(&self->ok));
}

TEST_HARNESS_MAIN
