/* SPDX-License-Identifier: MIT */
/*
 * Description: sysmon forces a GC cycle when none ran for a while (Go's
 * forcegcperiod: two minutes; GORT_DEBUG=gcforce=N seconds here, so the
 * test takes seconds).  An idle program, every P idle and sysmon asleep,
 * still gets its cycle: sysmon's idle sleep ends no later than the next
 * forced cycle.  With GORT_GC=off there is none, as in Go.
 */
#include "../gort_test.h"

struct forced {
	struct gort_gcstats st;
};

static int idle_main(void *arg)
{
	struct forced *f = arg;

	gort_sleep(2600 * GT_MS);	/* every P idle meanwhile */
	f->st.sz = sizeof(f->st);
	GCHECK_EQ(0, gort_read_gcstats(&f->st));
	return 0;
}

TEST(idle_program_gets_cycles)
{
	struct forced f = { 0 };

	ASSERT_EQ(0, setenv("GORT_DEBUG", "gcforce=1", 1));
	ASSERT_EQ(0, gt_run(idle_main, &f, 2));
	ASSERT_EQ(0, gt_failed());
	TH_LOG("%u cycles, %u forced, in 2.6 s", f.st.num_gc, f.st.num_forced_gc);
	ASSERT_LE(2U, f.st.num_gc);
	ASSERT_EQ(f.st.num_gc, f.st.num_forced_gc);
	ASSERT_NE(0ULL, (unsigned long long)f.st.pause_end[0]);
}

TEST(none_when_off)
{
	struct forced f = { 0 };

	ASSERT_EQ(0, setenv("GORT_DEBUG", "gcforce=1", 1));
	ASSERT_EQ(0, setenv("GORT_GC", "off", 1));
	ASSERT_EQ(0, gt_run(idle_main, &f, 2));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(0U, f.st.num_gc);
}

TEST_HARNESS_MAIN
