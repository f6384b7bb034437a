/* SPDX-License-Identifier: MIT */
/*
 * Description: a goroutine that never gives up its P does not stop the
 * others.
 *
 * - spinner_2p: with 2 Ps, a goroutine spins on a volatile flag without
 *   any runtime call, on the P whose run queue holds all the workers (it
 *   is spawned last, into runnext, just before the spawner parks).  The
 *   workers, which sleep and yield, must all finish on the other P (work
 *   stealing, timers of a busy P) before the spinner gives up after 5 s.
 * - maybe_yield_1p: with 1 P, a goroutine spinning with gort_maybe_yield()
 *   in its loop is asked to yield after ~10 ms, so another goroutine gets
 *   to run all its steps; the scheduler counts those requests in
 *   gort_sched_stats().preempt_requests.
 */
#include "../gort_test.h"

#define SPIN_LIMIT_NS	(5000 * GT_MS)

struct spin {
	volatile int stop;
	atomic_int spinning;
	bool spin_timed_out;
	atomic_long steps;
	uint32_t workers_done, spinner_done;
	struct gort_sched_stats before, after;
};

#define NR_WORKERS	8
#define NR_STEPS	50

static void worker(void *arg)
{
	struct spin *s = arg;
	int i;

	for (i = 0; i < NR_STEPS; i++) {
		if (i % 2)
			gort_sleep(200 * GT_US);
		else
			gort_yield();
		atomic_fetch_add(&s->steps, 1);
	}
	gort_sema_release(&s->workers_done);
}

/* No runtime call in here: only a vDSO clock read as an escape. */
static void bounded_spinner(void *arg)
{
	struct spin *s = arg;
	int64_t end = gt_now_ns() + SPIN_LIMIT_NS;
	unsigned long n = 0;

	atomic_store(&s->spinning, 1);
	while (!s->stop) {
		if (++n % 1024 == 0 && gt_now_ns() > end) {
			s->spin_timed_out = true;
			break;
		}
	}
	gort_sema_release(&s->spinner_done);
}

static void spawner(void *arg)
{
	struct spin *s = arg;
	int i;

	for (i = 0; i < NR_WORKERS; i++)
		GCHECK(gort_go(worker, s) > 0);
	/* Last into runnext: this P runs the spinner as soon as we exit. */
	GCHECK(gort_go(bounded_spinner, s) > 0);
}

static int spinner_2p_main(void *arg)
{
	struct spin *s = arg;

	GCHECK(gort_go(spawner, s) > 0);
	if (gt_sema_wait(&s->workers_done, NR_WORKERS, SPIN_LIMIT_NS / GT_MS))
		GCHECK(!s->spin_timed_out);
	s->stop = 1;
	gt_sema_wait(&s->spinner_done, 1, 2 * SPIN_LIMIT_NS / GT_MS);
	return 0;
}

TEST(spinner_2p)
{
	static struct spin s;

	ASSERT_EQ(0, gt_run(spinner_2p_main, &s, 2));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(1, atomic_load(&s.spinning));
	ASSERT_FALSE(s.spin_timed_out);
	ASSERT_EQ(NR_WORKERS * NR_STEPS, atomic_load(&s.steps));
}

#define NR_OTHER_STEPS	10

static void polite_spinner(void *arg)
{
	struct spin *s = arg;
	int64_t end = gt_now_ns() + SPIN_LIMIT_NS;

	atomic_store(&s->spinning, 1);
	while (!s->stop) {
		gort_maybe_yield();
		if (gt_now_ns() > end) {
			s->spin_timed_out = true;
			break;
		}
	}
	gort_sema_release(&s->spinner_done);
}

static void other(void *arg)
{
	struct spin *s = arg;
	int i;

	for (i = 0; i < NR_OTHER_STEPS; i++) {
		atomic_fetch_add(&s->steps, 1);
		gort_yield();
	}
	s->stop = 1;
	gort_sema_release(&s->workers_done);
}

static int maybe_yield_main(void *arg)
{
	struct spin *s = arg;

	GCHECK(gt_stats(&s->before));
	GCHECK(gort_go(other, s) > 0);
	GCHECK(gort_go(polite_spinner, s) > 0);
	gt_sema_wait(&s->spinner_done, 1, 2 * SPIN_LIMIT_NS / GT_MS);
	gt_sema_wait(&s->workers_done, 1, 1000);
	GCHECK(gt_stats(&s->after));
	return 0;
}

TEST(maybe_yield_1p)
{
	static struct spin s;

	ASSERT_EQ(0, gt_run(maybe_yield_main, &s, 1));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(1, atomic_load(&s.spinning));
	ASSERT_FALSE(s.spin_timed_out);
	ASSERT_EQ(NR_OTHER_STEPS, atomic_load(&s.steps));
	TH_LOG("preempt_requests %llu -> %llu",
	       (unsigned long long)s.before.preempt_requests,
	       (unsigned long long)s.after.preempt_requests);
	ASSERT_GT(s.after.preempt_requests, s.before.preempt_requests);
}

TEST_HARNESS_MAIN
