/* SPDX-License-Identifier: MIT */
/*
 * Description: gort_once_do runs its function exactly once, and every
 * caller returns only after it has completed.
 *
 * 200 goroutines call gort_once_do() on the same Once at the same time;
 * the function sleeps 5 ms (so callers pile up behind it), then marks
 * itself done.  It must have run once, and each caller must see it done
 * when gort_once_do() returns.  Later calls do not run it again, and a
 * second Once is independent.  Table: 1 and 2 Ps, the function sleeping
 * or yielding.
 */
#include "../gort_test.h"

#define NR_CALLERS	200

FIXTURE(once) {
	struct gort_once once, other;
	atomic_int calls, other_calls;
	atomic_int completed;
	atomic_int saw_incomplete;
	atomic_int gate_open;
	uint32_t done;
};

FIXTURE_VARIANT(once) {
	int maxprocs;
	bool sleep;	/* the function sleeps, else it yields a few times */
};

FIXTURE_VARIANT_ADD(once, procs1_sleep) { .maxprocs = 1, .sleep = true, };
FIXTURE_VARIANT_ADD(once, procs2_sleep) { .maxprocs = 2, .sleep = true, };
FIXTURE_VARIANT_ADD(once, procs1_yield) { .maxprocs = 1, .sleep = false, };
FIXTURE_VARIANT_ADD(once, procs2_yield) { .maxprocs = 2, .sleep = false, };

FIXTURE_SETUP(once)
{
}

FIXTURE_TEARDOWN(once)
{
}

static const FIXTURE_VARIANT(once) *cur;

static void init_fn(void *arg)
{
	FIXTURE_DATA(once) *self = arg;
	int i;

	atomic_fetch_add(&self->calls, 1);
	if (cur->sleep) {
		gort_sleep(5 * GT_MS);
	} else {
		for (i = 0; i < 20; i++)
			gort_yield();
	}
	atomic_store(&self->completed, 1);
}

static void other_fn(void *arg)
{
	FIXTURE_DATA(once) *self = arg;

	atomic_fetch_add(&self->other_calls, 1);
}

static void caller(void *arg)
{
	FIXTURE_DATA(once) *self = arg;

	/* Start together. */
	while (!atomic_load(&self->gate_open))
		gort_yield();
	gort_once_do(&self->once, init_fn, self);
	if (!atomic_load(&self->completed))
		atomic_fetch_add(&self->saw_incomplete, 1);
	gort_sema_release(&self->done);
}

static int once_main(void *arg)
{
	FIXTURE_DATA(once) *self = arg;
	int i;

	for (i = 0; i < NR_CALLERS; i++)
		GCHECK(gort_go(caller, self) > 0);
	atomic_store(&self->gate_open, 1);
	gt_sema_wait(&self->done, NR_CALLERS, 10000);
	/* Done: later calls are no-ops, other Onces independent. */
	for (i = 0; i < 3; i++) {
		gort_once_do(&self->once, init_fn, self);
		gort_once_do(&self->other, other_fn, self);
	}
	return 0;
}

TEST_F(once, concurrent)
{
	cur = variant;
	ASSERT_EQ(0, gt_run(once_main, self, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(1, atomic_load(&self->calls));
	ASSERT_EQ(1, atomic_load(&self->completed));
	ASSERT_EQ(0, atomic_load(&self->saw_incomplete));
	ASSERT_EQ(1, atomic_load(&self->other_calls));
}

TEST_HARNESS_MAIN
