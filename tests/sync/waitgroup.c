/* SPDX-License-Identifier: MIT */
/*
 * Description: gort_waitgroup with many waiters, adds of any size, and the
 * fatal negative counter.
 *
 * - stress: 200 rounds, each with a fresh WaitGroup: add(N), N workers
 *   finish (some with done(), some with add(-1)) while W extra waiter
 *   goroutines and the main goroutine wait; every waiter must return only
 *   after all N workers finished, and all must return.
 * - add_delta: add(5) then add(-2), add(-3) releases waiters; wait() on a
 *   zero counter returns at once; a WaitGroup can be reused once its
 *   waiters have returned.
 * - negative: done() on a zero counter, and add(-2) on a counter of 1, are
 *   "fatal error: sync: negative WaitGroup counter" with exit code 2.
 * Each on 1 and 2 Ps.
 */
#include "../gort_test.h"

FIXTURE(waitgroup) {
	struct gt_child child;
};

FIXTURE_VARIANT(waitgroup) {
	int maxprocs;
};

FIXTURE_VARIANT_ADD(waitgroup, procs1) { .maxprocs = 1, };
FIXTURE_VARIANT_ADD(waitgroup, procs2) { .maxprocs = 2, };

FIXTURE_SETUP(waitgroup)
{
}

FIXTURE_TEARDOWN(waitgroup)
{
	gt_child_free(&self->child);
}

#define NR_ROUNDS	200
#define NR_WORKERS	20
#define NR_WAITERS	5

struct round {
	struct gort_waitgroup wg;
	atomic_int finished;
	uint32_t *waiters_done;
};

static void wg_worker(void *arg)
{
	struct round *r = arg;
	int n = atomic_fetch_add(&r->finished, 1);

	if (n % 3 == 0)
		gort_yield();
	if (n % 2)
		gort_waitgroup_done(&r->wg);
	else
		gort_waitgroup_add(&r->wg, -1);
}

static void wg_waiter(void *arg)
{
	struct round *r = arg;

	gort_waitgroup_wait(&r->wg);
	GCHECK_EQ(atomic_load(&r->finished), NR_WORKERS);
	gort_sema_release(r->waiters_done);
}

static int stress_main(void *arg)
{
	struct round *rounds = arg;
	uint32_t waiters_done = 0;
	int r, i;

	for (r = 0; r < NR_ROUNDS; r++) {
		struct round *rd = &rounds[r];

		rd->waiters_done = &waiters_done;
		gort_waitgroup_add(&rd->wg, NR_WORKERS);
		for (i = 0; i < NR_WAITERS; i++)
			GCHECK(gort_go(wg_waiter, rd) > 0);
		for (i = 0; i < NR_WORKERS; i++)
			GCHECK(gort_go(wg_worker, rd) > 0);
		gort_waitgroup_wait(&rd->wg);
		GCHECK_EQ(atomic_load(&rd->finished), NR_WORKERS);
		if (!gt_sema_wait(&waiters_done, NR_WAITERS, 5000))
			break;
	}
	return 0;
}

TEST_F(waitgroup, stress)
{
	struct round *rounds = calloc(NR_ROUNDS, sizeof(*rounds));

	ASSERT_NE(NULL, rounds);
	ASSERT_EQ(0, gt_run(stress_main, rounds, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	free(rounds);
}

struct delta {
	struct gort_waitgroup wg;
	atomic_int released;
	uint32_t done;
};

static void delta_waiter(void *arg)
{
	struct delta *d = arg;

	gort_waitgroup_wait(&d->wg);
	atomic_fetch_add(&d->released, 1);
	gort_sema_release(&d->done);
}

static int delta_main(void *arg)
{
	struct delta *d = arg;
	int i, round;

	/* Zero counter: no wait at all. */
	gort_waitgroup_wait(&d->wg);
	for (round = 0; round < 3; round++) {
		atomic_store(&d->released, 0);
		gort_waitgroup_add(&d->wg, 5);
		for (i = 0; i < 4; i++)
			GCHECK(gort_go(delta_waiter, d) > 0);
		gort_sleep(2 * GT_MS);
		GCHECK_EQ(atomic_load(&d->released), 0);
		gort_waitgroup_add(&d->wg, -2);
		gort_sleep(2 * GT_MS);
		GCHECK_EQ(atomic_load(&d->released), 0);
		gort_waitgroup_add(&d->wg, -3);
		/* Reused next round only after these returned. */
		gt_sema_wait(&d->done, 4, 5000);
		GCHECK_EQ(atomic_load(&d->released), 4);
		gort_waitgroup_wait(&d->wg);
	}
	return 0;
}

TEST_F(waitgroup, add_delta)
{
	struct delta d = { 0 };

	ASSERT_EQ(0, gt_run(delta_main, &d, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

static int neg_kind, cur_procs;

static int negative_main(void *arg)
{
	struct gort_waitgroup wg = GORT_WAITGROUP_INIT;

	(void)arg;
	if (neg_kind == 0) {
		gort_waitgroup_done(&wg);
	} else {
		gort_waitgroup_add(&wg, 1);
		gort_waitgroup_add(&wg, -2);
	}
	fprintf(stderr, "negative counter went unnoticed\n");
	return 0;
}

static int negative_child(void *arg)
{
	(void)arg;
	return gt_run(negative_main, NULL, cur_procs);
}

static void check_negative(struct __test_metadata *_metadata,
			   struct gt_child *c)
{
	ASSERT_EQ(0, gt_fork_capture(c, negative_child, NULL, 10000));
	if (gt_exit_code(c) != 2)
		gt_child_dump(c, "child");
	ASSERT_FALSE(c->timed_out);
	ASSERT_NE(NULL, strstr(c->out, "fatal error: sync: negative WaitGroup counter"));
	ASSERT_EQ(2, gt_exit_code(c));
}

TEST_F(waitgroup, negative_done)
{
	neg_kind = 0;
	cur_procs = variant->maxprocs;
	check_negative(_metadata, &self->child);
}

TEST_F(waitgroup, negative_add)
{
	neg_kind = 1;
	cur_procs = variant->maxprocs;
	check_negative(_metadata, &self->child);
}

TEST_HARNESS_MAIN
