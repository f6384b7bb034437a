/* SPDX-License-Identifier: MIT */
/*
 * Description: 1,000,000 goroutines started and finished in sequence must
 * not grow the resident set.
 *
 * Goroutines are spawned in batches (of one: spawn, wait, repeat; or of
 * 64 joined with a WaitGroup) until a million have run.  Each touches
 * 8 KiB of its stack, so a leaked stack, g or anything else per goroutine
 * shows up in RSS.  The RSS after the first 10,000 goroutines is the
 * baseline; at the end it may be at most 2 MiB larger.  Afterwards only
 * the main goroutine may be left.
 */
#include "../gort_test.h"

#define NR_TOTAL	1000000
#define NR_WARMUP	10000
#define RSS_SLACK	(2u << 20)

FIXTURE(churn) {
	struct gort_waitgroup wg;
	uint32_t done_sema;
	atomic_long ran;
	long spawn_errors;
	size_t rss_warm, rss_end;
	int left;
};

FIXTURE_VARIANT(churn) {
	int maxprocs;
	int batch;
};

FIXTURE_VARIANT_ADD(churn, procs1_batch1) { .maxprocs = 1, .batch = 1, };
FIXTURE_VARIANT_ADD(churn, procs2_batch1) { .maxprocs = 2, .batch = 1, };
FIXTURE_VARIANT_ADD(churn, procs1_batch64) { .maxprocs = 1, .batch = 64, };
FIXTURE_VARIANT_ADD(churn, procs2_batch64) { .maxprocs = 2, .batch = 64, };

FIXTURE_SETUP(churn)
{
}

FIXTURE_TEARDOWN(churn)
{
}

static const FIXTURE_VARIANT(churn) *cur_variant;

static __attribute__((noinline)) void touch_stack(void)
{
	volatile char buf[8192];
	size_t i;

	for (i = 0; i < sizeof(buf); i += 512)
		buf[i] = (char)i;
}

static void one(void *arg)
{
	FIXTURE_DATA(churn) *self = arg;

	touch_stack();
	atomic_fetch_add_explicit(&self->ran, 1, memory_order_relaxed);
	if (cur_variant->batch == 1)
		gort_sema_release(&self->done_sema);
	else
		gort_waitgroup_done(&self->wg);
}

static void run_batch(FIXTURE_DATA(churn) *self, int n)
{
	int i;

	if (n == 1) {
		if (gort_go(one, self) <= 0) {
			self->spawn_errors++;
			return;
		}
		gort_sema_acquire(&self->done_sema);
		return;
	}
	gort_waitgroup_add(&self->wg, n);
	for (i = 0; i < n; i++) {
		if (gort_go(one, self) <= 0) {
			self->spawn_errors++;
			gort_waitgroup_done(&self->wg);
		}
	}
	gort_waitgroup_wait(&self->wg);
}

static int churn_main(void *arg)
{
	FIXTURE_DATA(churn) *self = arg;
	int batch = cur_variant->batch;
	long n;

	for (n = 0; n < NR_WARMUP; n += batch)
		run_batch(self, batch);
	self->rss_warm = gt_rss();
	for (; n < NR_TOTAL; n += batch)
		run_batch(self, batch);
	/* Finished goroutines may still be on their way out. */
	GT_WAIT_UNTIL(gort_num_goroutine() == 1, 2000);
	self->left = gort_num_goroutine();
	self->rss_end = gt_rss();
	return 0;
}

TEST_F_TIMEOUT(churn, million, 60)
{
	cur_variant = variant;
	ASSERT_EQ(0, gt_run(churn_main, self, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(0, self->spawn_errors);
	/* NR_TOTAL is a multiple of every batch size. */
	ASSERT_EQ(NR_TOTAL, atomic_load(&self->ran));
	ASSERT_EQ(1, self->left);
	ASSERT_NE(0UL, self->rss_warm);
	TH_LOG("rss after %d: %zu KiB, after %d: %zu KiB", NR_WARMUP,
	       self->rss_warm >> 10, NR_TOTAL, self->rss_end >> 10);
	ASSERT_LE(self->rss_end, self->rss_warm + RSS_SLACK);
}

TEST_HARNESS_MAIN
