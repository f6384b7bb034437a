/* SPDX-License-Identifier: MIT */
/*
 * Description: large pointer-free objects are left out of dirty-page
 * tracking (nothing in them is scanned), so rewriting one after a cycle
 * takes no write-protect faults, where a scanned one takes one per page.
 * And the pages of a freed one are tracked again before they hold
 * pointers: a mutator frees large NOSCAN arrays and at once allocates
 * scanned ones of the same size (the same pages, as a rule), then hangs
 * fresh objects on them while cycles run back to back (gcstress); every
 * object must survive intact.
 */
#include "gc_test.h"

#include <sys/resource.h>

#define BIG	(32 * MiB)

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_minflt;
}

static struct {
	long faults[2];		/* rewriting after a cycle: noscan, scanned */
	char mode[16];
} F;

static void rewrite(void *arg)
{
	unsigned int flags = *(unsigned int *)arg;
	char *p = gort_alloc(BIG, flags);
	long before;
	int k = flags & GORT_ALLOC_NOSCAN ? 0 : 1;

	if (!GCHECK(p != NULL))
		return;
	memset(p, 1, BIG);		/* first touch */
	GCHECK_EQ(0, gort_gc());	/* a look: tracked pages are protected again */
	GCHECK_EQ(0, gort_gc());
	before = minflt();
	memset(p, 2, BIG);
	F.faults[k] = minflt() - before;
	GCHECK_EQ(2, p[BIG - 1]);
}

static int faults_main(void *unused)
{
	unsigned int noscan = GORT_ALLOC_NOSCAN, scan = 0;
	struct gort_gcstats st = { .sz = sizeof(st) };

	(void)unused;
	/* One goroutine at a time on one P: getrusage(RUSAGE_THREAD) sees
	 * this thread's faults. */
	if (!gc_in_goroutine(rewrite, &noscan) || !gc_in_goroutine(rewrite, &scan))
		return 1;
	GCHECK_EQ(0, gort_read_gcstats(&st));
	snprintf(F.mode, sizeof(F.mode), "%s", st.mode);
	printf("# %s: rewriting 32 MiB after a cycle: %ld page faults noscan, %ld scanned\n",
	       F.mode, F.faults[0], F.faults[1]);
	return 0;
}

TEST(noscan_rewrite_takes_no_wp_faults)
{
	ASSERT_EQ(0, unsetenv("GORT_GCMODE"));
	ASSERT_EQ(0, gt_run(faults_main, NULL, 1));
	ASSERT_EQ(0, gt_failed());
	if (strcmp(F.mode, "uffd-wp"))
		SKIP(return, "dirty-page mode is %s, not uffd-wp", F.mode);
	ASSERT_LT(F.faults[0], (long)(BIG / 4096 / 100));	/* < 1 % of the pages */
	ASSERT_GT(F.faults[1], (long)(BIG / 4096 / 2));	/* at least half */
}

/* ---- freed noscan pages become scanned memory ---- */

#define SLOTS		8
#define LARGE		(96 << 10)	/* 12 pages: large */
#define NPTR		(LARGE / 8)
#define MAGIC		0x5eed5eed00000000ULL

static struct {
	uint64_t **slot[SLOTS];	/* a root: the scanned large objects */
	long rounds, checked;
	int bad;
} R;

static void check_slot(int k)
{
	size_t i;

	if (!R.slot[k])
		return;
	for (i = 0; i < NPTR; i += 7) {
		uint64_t *o = R.slot[k][i];

		if (o && *o != (MAGIC | i))
			R.bad++;
		R.checked += !!o;
	}
}

static void churn(void *unused)
{
	int64_t end = gort_nanotime() + 1500 * GT_MS;
	int k = 0;

	(void)unused;
	while (gort_nanotime() < end) {
		char *tmp = gort_alloc(LARGE, GORT_ALLOC_NOSCAN);
		uint64_t **big;
		size_t i;

		if (!GCHECK(tmp != NULL))
			return;
		memset(tmp, 0x11, LARGE);
		gort_free(tmp);
		big = gort_alloc(LARGE, 0);	/* the same pages, as a rule */
		if (!GCHECK(big != NULL))
			return;
		check_slot((k + 1) % SLOTS);	/* an older one, written meanwhile */
		R.slot[k] = big;
		/* Hang fresh objects on it a few at a time, with cycles under
		 * way: only the page tracking keeps the late ones. */
		for (i = 0; i < NPTR; i += 7) {
			uint64_t *o = gort_alloc(16, GORT_ALLOC_NOSCAN);

			if (!GCHECK(o != NULL))
				return;
			*o = MAGIC | i;
			big[i] = o;
			if (!(i & 255))
				gort_maybe_yield();
		}
		k = (k + 1) % SLOTS;
		R.rounds++;
	}
}

static int reuse_main(void *unused)
{
	int k;

	(void)unused;
	if (!gc_in_goroutine(churn, NULL))
		return 1;
	for (k = 0; k < SLOTS; k++)
		check_slot(k);
	printf("# %ld large arrays reused as scanned memory, %ld objects checked\n", R.rounds,
	       R.checked);
	return 0;
}

static void run_reuse(struct __test_metadata *_metadata, const char *mode)
{
	memset(&R, 0, sizeof(R));
	if (mode) {
		ASSERT_EQ(0, setenv("GORT_GCMODE", mode, 1));
	} else {
		ASSERT_EQ(0, unsetenv("GORT_GCMODE"));
	}
	ASSERT_EQ(0, setenv("GORT_DEBUG", "gcstress=64", 1));
	ASSERT_EQ(0, gt_run(reuse_main, NULL, 2));
	ASSERT_EQ(0, unsetenv("GORT_DEBUG"));
	ASSERT_EQ(0, unsetenv("GORT_GCMODE"));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(0, R.bad);
	ASSERT_LT(20, R.rounds);
}

TEST(freed_noscan_pages_are_tracked_again)
{
	run_reuse(_metadata, NULL);
}

TEST(freed_noscan_pages_are_tracked_again_stw)
{
	run_reuse(_metadata, "stw");
}

TEST_HARNESS_MAIN
