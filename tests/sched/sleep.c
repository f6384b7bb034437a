/* SPDX-License-Identifier: MIT */
/*
 * Description: gort_sleep() wake-up accuracy, many concurrent sleepers,
 * and an idle scheduler that does not burn CPU.
 *
 * - latency: sleeps of 1, 2 and 5 ms never wake before the deadline, and
 *   the median (and at least 3 in 4) wake within 1 ms + 5 ms of scheduling
 *   slack after it.
 * - nonpositive: gort_sleep(0) and gort_sleep(-1) return and let a
 *   runnable goroutine run (they only yield).
 * - many: 10,000 goroutines sleeping 1..50 ms at once all wake, none early.
 * - idle_cpu: while every goroutine sleeps for 200 ms the process uses
 *   less than 50 ms of CPU.
 */
#include "../gort_test.h"

#define NR_SAMPLES	16
#define LATE_OK_NS	(1 * GT_MS + 5 * GT_MS)

FIXTURE(sleep) {
	int dummy;
};

FIXTURE_VARIANT(sleep) {
	int maxprocs;
};

FIXTURE_VARIANT_ADD(sleep, procs1) { .maxprocs = 1, };
FIXTURE_VARIANT_ADD(sleep, procs2) { .maxprocs = 2, };

FIXTURE_SETUP(sleep)
{
}

FIXTURE_TEARDOWN(sleep)
{
}

static const int64_t latency_ns[] = { 1 * GT_MS, 2 * GT_MS, 5 * GT_MS };

struct latency {
	int64_t late[GT_ARRAY_SIZE(latency_ns)][NR_SAMPLES];
	int early;
	atomic_bool stop;
	uint32_t done;
};

static void busy_neighbour(void *arg)
{
	struct latency *l = arg;

	/* Keep the scheduler lightly busy, as a real program would. */
	while (!atomic_load(&l->stop))
		gort_sleep(300 * GT_US);
	gort_sema_release(&l->done);
}

static int latency_main(void *arg)
{
	struct latency *l = arg;
	size_t d;
	int i;

	GCHECK(gort_go(busy_neighbour, l) > 0);
	for (d = 0; d < GT_ARRAY_SIZE(latency_ns); d++) {
		for (i = 0; i < NR_SAMPLES; i++) {
			int64_t t0 = gort_nanotime(), dt;

			gort_sleep(latency_ns[d]);
			dt = gort_nanotime() - t0;
			if (dt < latency_ns[d]) {
				l->early++;
				GFAIL("sleep(%lld ns) returned after %lld ns",
				      (long long)latency_ns[d], (long long)dt);
			}
			l->late[d][i] = dt - latency_ns[d];
		}
	}
	atomic_store(&l->stop, true);
	gt_sema_wait(&l->done, 1, 5000);
	return 0;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

TEST_F(sleep, latency)
{
	struct latency l = { 0 };
	size_t d;
	int i;

	ASSERT_EQ(0, gt_run(latency_main, &l, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(0, l.early);
	for (d = 0; d < GT_ARRAY_SIZE(latency_ns); d++) {
		int ok = 0;

		qsort(l.late[d], NR_SAMPLES, sizeof(l.late[d][0]), cmp64);
		for (i = 0; i < NR_SAMPLES; i++)
			ok += l.late[d][i] <= LATE_OK_NS;
		TH_LOG("sleep %lld us: late median %lld us, max %lld us, %d/%d within %lld us",
		       (long long)latency_ns[d] / 1000,
		       (long long)l.late[d][NR_SAMPLES / 2] / 1000,
		       (long long)l.late[d][NR_SAMPLES - 1] / 1000,
		       ok, NR_SAMPLES, (long long)LATE_OK_NS / 1000);
		EXPECT_LE(l.late[d][NR_SAMPLES / 2], LATE_OK_NS);
		EXPECT_GE(ok, NR_SAMPLES * 3 / 4);
	}
}

struct yielder {
	atomic_int ran;
	int tries;
};

static void set_ran(void *arg)
{
	struct yielder *y = arg;

	atomic_store(&y->ran, 1);
}

static int nonpositive_main(void *arg)
{
	struct yielder *y = arg;
	static const int64_t ns[] = { 0, -1, INT64_MIN };
	size_t k;

	for (k = 0; k < GT_ARRAY_SIZE(ns); k++) {
		atomic_store(&y->ran, 0);
		if (!GCHECK(gort_go(set_ran, y) > 0))
			return 1;
		/*
		 * On one P the new goroutine can only run when we give the P
		 * up; with two, the other P may steal it and then be
		 * descheduled by the OS for a while, so bound the wait in
		 * time (1 s), not in a number of yields.
		 */
		{
			int64_t end = gort_nanotime() + 1000 * GT_MS;

			for (y->tries = 0; !atomic_load(&y->ran) && gort_nanotime() < end; y->tries++)
				gort_sleep(ns[k]);
		}
		if (!GCHECK(atomic_load(&y->ran)))
			fprintf(stderr, "# gort_sleep(%lld) never let another goroutine run\n",
				(long long)ns[k]);
	}
	return 0;
}

TEST_F(sleep, nonpositive)
{
	struct yielder y = { 0 };

	ASSERT_EQ(0, gt_run(nonpositive_main, &y, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

#define NR_SLEEPERS	10000

struct many {
	atomic_int woke, early;
	struct gort_waitgroup wg;
};

static struct many many;

static void sleeper(void *arg)
{
	int64_t ns = (int64_t)((uintptr_t)arg % 50 + 1) * GT_MS;
	int64_t t0 = gort_nanotime();

	gort_sleep(ns);
	if (gort_nanotime() - t0 < ns)
		atomic_fetch_add(&many.early, 1);
	atomic_fetch_add(&many.woke, 1);
	gort_waitgroup_done(&many.wg);
}

static void many_waiter(void *arg)
{
	uint32_t *done = arg;

	gort_waitgroup_wait(&many.wg);
	gort_sema_release(done);
}

static int many_main(void *arg)
{
	uintptr_t i;
	uint32_t done = 0;

	(void)arg;
	gort_waitgroup_add(&many.wg, NR_SLEEPERS);
	for (i = 0; i < NR_SLEEPERS; i++)
		if (!GCHECK(gort_go(sleeper, (void *)i) > 0))
			gort_waitgroup_done(&many.wg);
	/* The longest sleep is 50 ms; a lost timer must not hang the test. */
	GCHECK(gort_go(many_waiter, &done) > 0);
	gt_sema_wait(&done, 1, 10000);
	return 0;
}

TEST_F(sleep, many)
{
	ASSERT_EQ(0, gt_run(many_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(NR_SLEEPERS, atomic_load(&many.woke));
	ASSERT_EQ(0, atomic_load(&many.early));
}

#define NR_IDLE		8
#define IDLE_NS		(200 * GT_MS)
#define IDLE_CPU_MAX	(50 * GT_MS)

struct idle {
	int64_t cpu, wall;
	uint32_t done;
};

static void idle_sleeper(void *arg)
{
	struct idle *id = arg;

	gort_sleep(IDLE_NS + 50 * GT_MS);
	gort_sema_release(&id->done);
}

static int idle_main(void *arg)
{
	struct idle *id = arg;
	int64_t c0, t0;
	int i;

	for (i = 0; i < NR_IDLE; i++)
		GCHECK(gort_go(idle_sleeper, id) > 0);
	/* Let start-up (thread creation, first timers) settle. */
	gort_sleep(20 * GT_MS);
	c0 = gt_cpu_ns();
	t0 = gort_nanotime();
	gort_sleep(IDLE_NS);
	id->cpu = gt_cpu_ns() - c0;
	id->wall = gort_nanotime() - t0;
	gt_sema_wait(&id->done, NR_IDLE, 5000);
	return 0;
}

TEST_F(sleep, idle_cpu)
{
	struct idle id = { 0 };

	ASSERT_EQ(0, gt_run(idle_main, &id, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	TH_LOG("%lld ms asleep cost %lld us of CPU",
	       (long long)id.wall / GT_MS, (long long)id.cpu / 1000);
	ASSERT_GE(id.wall, IDLE_NS);
	ASSERT_LT(id.cpu, IDLE_CPU_MAX);
}

TEST_HARNESS_MAIN
