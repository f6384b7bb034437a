/* SPDX-License-Identifier: MIT */
/*
 * Description: gort_exit() ends the calling goroutine only.
 *
 * 1,000 goroutines call gort_exit() from a few frames deep (after a
 * release that the main goroutine waits for); the code after the call
 * never runs, the goroutines are gone afterwards, and their ids and
 * stacks are reused by later goroutines without trouble.
 */
#include "../gort_test.h"

#define NR_EXITERS	1000

struct ex {
	uint32_t done;
	atomic_int after_exit;
	atomic_int reached;
	int left;
};

/*
 * Called through a volatile pointer, so the compiler keeps the code after
 * the call: if it did return, the test would see it.
 */
static void (*volatile exit_fn)(void) = gort_exit;

static __attribute__((noinline)) void deep(struct ex *e, int depth)
{
	volatile char pad[256];

	pad[0] = (char)depth;
	if (depth > 0) {
		deep(e, depth - 1);
	} else {
		atomic_fetch_add(&e->reached, 1);
		gort_sema_release(&e->done);
		exit_fn();
	}
	/* Never: gort_exit() does not return. */
	atomic_fetch_add(&e->after_exit, 1 + pad[0] * 0);
}

static void exiter(void *arg)
{
	struct ex *e = arg;

	deep(e, 3 + (int)(gort_goid() % 5));
	atomic_fetch_add(&e->after_exit, 1);
}

static int exit_main(void *arg)
{
	struct ex *e = arg;
	int round, i;

	for (round = 0; round < 2; round++) {
		for (i = 0; i < NR_EXITERS; i++)
			GCHECK(gort_go(exiter, e) > 0);
		if (!gt_sema_wait(&e->done, NR_EXITERS, 10000))
			return 0;
	}
	GT_WAIT_UNTIL(gort_num_goroutine() == 1, 2000);
	e->left = gort_num_goroutine();
	return 0;
}

TEST(goexit_deep)
{
	struct ex e = { 0 };

	ASSERT_EQ(0, gt_run(exit_main, &e, 2));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(2 * NR_EXITERS, atomic_load(&e.reached));
	ASSERT_EQ(0, atomic_load(&e.after_exit));
	ASSERT_EQ(1, e.left);
}

TEST_HARNESS_MAIN
