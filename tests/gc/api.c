/* SPDX-License-Identifier: MIT */
/*
 * Description: the collector's API contract, call by call (gort/gc.h).
 *
 *   gc_eperm		gort_gc() outside a goroutine is -EPERM: before the
 *			runtime starts, from a plain pthread while it runs,
 *			and from the thread that called gort_main() after it
 *			returned; from a goroutine it is 0.
 *   roots_errors	gort_gc_add_roots(): NULL, zero length, a range that
 *			wraps, and every kind of overlap (same, inside,
 *			around, straddling either end) are -EINVAL, touching
 *			ranges are fine; gort_gc_remove_roots() of an address
 *			that starts no range (never added, the inside of one,
 *			removed already) is -ENOENT.  Many ranges at once (the
 *			table grows).  What a registered range keeps alive is
 *			checked in collect.c.
 *   exclude_errors	gort_gc_exclude_roots(): NULL, zero length, a range
 *			that wraps or overlaps an excluded one are -EINVAL;
 *			past 64 ranges -ENOSPC, before the runtime starts
 *			too, and the runtime still starts (its own
 *			exclusions have room of their own).
 *			What an excluded range no longer keeps: collect.c.
 *   gcstats_args	gort_read_gcstats(): NULL and sz smaller than the sz
 *			field itself are -EINVAL; a short sz fills only that
 *			much (old callers); it works before the runtime runs
 *			(num_gc 0).  Same for gort_read_memstats()'s GC part.
 *   counters		with GORT_GC=off (no automatic cycle can interfere)
 *			each gort_gc() is exactly one cycle: num_gc and
 *			num_forced_gc grow by one per call, in both stats
 *			structs; the pause ring entry of the last cycle,
 *			[(num_gc + 255) % 256], is nonzero, its pause_end is
 *			last_gc and lies between two CLOCK_REALTIME readings
 *			around the call; pause_total_ns adds up the ring;
 *			mode is one of the three names.
 *   gctrace		GORT_DEBUG=gctrace=1 prints one line per cycle on
 *			stderr in Go's format, "gc 1 @0.012s 0%: a+b+c ms
 *			clock, ... MB goal, ... P (forced)", numbered from 1
 *			(checked in a forked child with its stderr captured).
 *   percent		gort_gc_percent() returns the previous setting, the
 *			first time GORT_GC's (100 by default, 50 when set).
 *   gc_off		GORT_GC=off: 64 MiB of garbage (small and large
 *			objects) start no cycle (num_gc stays 0) until
 *			gort_gc(), which frees it; gort_gc_percent(100) turns
 *			automatic cycles back on: the next 64 MiB start one.
 *   gc_on		by default, 64 MiB of garbage start automatic cycles
 *			and the heap does not keep it all.
 *   heap_goal.*	while a goroutine allocates 256 MiB of garbage as fast
 *			as it can (64 B, 4 KiB and 40,000 B objects), heap_alloc
 *			stays at 12 MiB or less on average (sampled every 64
 *			allocations, from the end of the 4th cycle on), 3 times
 *			the 4 MiB minimum goal: cycles start when the heap
 *			reaches the trigger, not whenever the GC goroutine
 *			happens to get a P, and an allocator that outruns the
 *			marking waits.  (Regression: before 06b583b, on 1 P only
 *			sysmon's preemption, every 10+ ms, let the GC goroutine
 *			run: a saw-tooth up to 33..247 MiB.)  The average, not
 *			the peak: on 2 Ps the start of a cycle is now and then
 *			late by a few ms, and the heap jumps to 30..45 MiB.
 */
#include "../gort_test.h"

#include <pthread.h>
#include <stddef.h>

#define MiB	(1ULL << 20)

static bool gcstats(struct gort_gcstats *st)
{
	memset(st, 0, sizeof(*st));
	st->sz = sizeof(*st);
	return gort_read_gcstats(st) == 0;
}

static bool memstats(struct gort_memstats *ms)
{
	memset(ms, 0, sizeof(*ms));
	ms->sz = sizeof(*ms);
	return gort_read_memstats(ms) == 0;
}

static bool mode_known(const char *m)
{
	return m && (!strcmp(m, "uffd-wp") || !strcmp(m, "soft-dirty") || !strcmp(m, "stw"));
}

/* ---- gc_eperm ---- */

static void *thread_gc(void *arg)
{
	*(int *)arg = gort_gc();
	return NULL;
}

static int eperm_main(void *arg)
{
	int *from_thread = arg;
	pthread_t t;

	GCHECK_EQ(0, gort_gc());
	if (!GCHECK_EQ(0, pthread_create(&t, NULL, thread_gc, from_thread)))
		return 1;
	/* The thread makes no gort call that could block us: join outright. */
	GCHECK_EQ(0, GORT_BLOCKING(pthread_join(t, NULL)));
	return 0;
}

TEST(gc_eperm)
{
	int from_thread = 1;

	ASSERT_EQ(-EPERM, gort_gc());
	ASSERT_EQ(0, gt_run(eperm_main, &from_thread, 2));
	ASSERT_EQ(0, gt_failed());
	EXPECT_EQ(-EPERM, from_thread);
	EXPECT_EQ(-EPERM, gort_gc());
}

/* ---- roots_errors ---- */

#define NRANGES	300

static int roots_main(void *arg)
{
	static uint64_t area[64];
	char *a = (char *)area;
	char *many;
	int i;

	(void)arg;
	GCHECK_EQ(-EINVAL, gort_gc_add_roots(NULL, 8));
	GCHECK_EQ(-EINVAL, gort_gc_add_roots(NULL, 0));
	GCHECK_EQ(-EINVAL, gort_gc_add_roots(a, 0));
	GCHECK_EQ(-EINVAL, gort_gc_add_roots((void *)(UINTPTR_MAX - 15), 64));
	GCHECK_EQ(-ENOENT, gort_gc_remove_roots(a));
	GCHECK_EQ(-ENOENT, gort_gc_remove_roots(NULL));

	/* [a+128, a+256) registered; every overlap refused. */
	GCHECK_EQ(0, gort_gc_add_roots(a + 128, 128));
	GCHECK_EQ(-EINVAL, gort_gc_add_roots(a + 128, 128));	/* same */
	GCHECK_EQ(-EINVAL, gort_gc_add_roots(a + 136, 8));	/* inside */
	GCHECK_EQ(-EINVAL, gort_gc_add_roots(a + 64, 256));	/* around */
	GCHECK_EQ(-EINVAL, gort_gc_add_roots(a + 64, 72));	/* its start */
	GCHECK_EQ(-EINVAL, gort_gc_add_roots(a + 255, 64));	/* its end */
	GCHECK_EQ(-EINVAL, gort_gc_add_roots(a + 255, 1));	/* last byte */
	/* Touching it on either side is no overlap. */
	GCHECK_EQ(0, gort_gc_add_roots(a + 64, 64));
	GCHECK_EQ(0, gort_gc_add_roots(a + 256, 64));
	/* Only a range's start removes it. */
	GCHECK_EQ(-ENOENT, gort_gc_remove_roots(a + 136));
	GCHECK_EQ(-ENOENT, gort_gc_remove_roots(a + 120));
	GCHECK_EQ(0, gort_gc_remove_roots(a + 128));
	GCHECK_EQ(-ENOENT, gort_gc_remove_roots(a + 128));
	/* Its room is free again. */
	GCHECK_EQ(0, gort_gc_add_roots(a + 136, 8));
	GCHECK_EQ(0, gort_gc_remove_roots(a + 136));
	GCHECK_EQ(0, gort_gc_remove_roots(a + 64));
	GCHECK_EQ(0, gort_gc_remove_roots(a + 256));
	GCHECK_EQ(-ENOENT, gort_gc_remove_roots(a + 64));

	/* Many ranges (the table grows), a collection with them, all gone. */
	many = malloc(NRANGES * 64);
	if (!GCHECK(many != NULL))
		return 1;
	memset(many, 0, NRANGES * 64);
	for (i = 0; i < NRANGES; i++)
		GCHECK_EQ(0, gort_gc_add_roots(many + i * 64, 32));
	GCHECK_EQ(-EINVAL, gort_gc_add_roots(many + 17 * 64 + 16, 64));
	GCHECK_EQ(0, gort_gc());
	for (i = NRANGES - 1; i >= 0; i--)
		GCHECK_EQ(0, gort_gc_remove_roots(many + i * 64));
	GCHECK_EQ(-ENOENT, gort_gc_remove_roots(many));
	GCHECK_EQ(0, gort_gc());
	free(many);
	return 0;
}

TEST(roots_errors)
{
	ASSERT_EQ(0, gt_run(roots_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

/* ---- exclude_errors ---- */

static uint64_t xarea[128];
static char xbytes[62];

static int exclude_main(void *arg)
{
	(void)arg;
	GCHECK_EQ(0, gort_gc());	/* the runtime's ranges are there */
	GCHECK_EQ(-EINVAL, gort_gc_exclude_roots(xarea, 8));	/* taken below */
	return 0;
}

TEST(exclude_errors)
{
	int i;

	ASSERT_EQ(-EINVAL, gort_gc_exclude_roots(NULL, 8));
	ASSERT_EQ(-EINVAL, gort_gc_exclude_roots(xarea, 0));
	ASSERT_EQ(-EINVAL, gort_gc_exclude_roots((void *)(UINTPTR_MAX - 15), 64));
	ASSERT_EQ(0, gort_gc_exclude_roots(&xarea[64], 64));
	ASSERT_EQ(-EINVAL, gort_gc_exclude_roots(&xarea[64], 64));	/* same */
	ASSERT_EQ(-EINVAL, gort_gc_exclude_roots(&xarea[60], 40));	/* straddles */
	ASSERT_EQ(0, gort_gc_exclude_roots(&xarea[0], 8));		/* touching */
	/* 62 more, a byte each, then no room: before the runtime runs. */
	for (i = 0; i < 62; i++)
		ASSERT_EQ(0, gort_gc_exclude_roots(&xbytes[i], 1));
	ASSERT_EQ(-ENOSPC, gort_gc_exclude_roots(&xarea[1], 8));
	ASSERT_EQ(0, gt_run(exclude_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

/* ---- gcstats_args ---- */

static int gcstats_args_main(void *arg)
{
	struct gort_gcstats st;
	struct gort_memstats ms;

	(void)arg;
	GCHECK_EQ(-EINVAL, gort_read_gcstats(NULL));
	memset(&st, 0, sizeof(st));
	GCHECK_EQ(-EINVAL, gort_read_gcstats(&st));
	st.sz = sizeof(size_t) - 1;
	GCHECK_EQ(-EINVAL, gort_read_gcstats(&st));

	GCHECK_EQ(0, gort_gc());
	/* An old caller that knows only sz and num_gc. */
	memset(&st, 0xee, sizeof(st));
	st.sz = offsetof(struct gort_gcstats, num_forced_gc);
	GCHECK_EQ(0, gort_read_gcstats(&st));
	GCHECK_EQ(offsetof(struct gort_gcstats, num_forced_gc), st.sz);
	GCHECK(st.num_gc >= 1);
	GCHECK_EQ(0xeeeeeeeeu, st.num_forced_gc);
	GCHECK_EQ(0xeeeeeeeeeeeeeeeeull, st.finalizers_run);

	/* All of it. */
	GCHECK(gcstats(&st));
	GCHECK_EQ(sizeof(st), st.sz);
	GCHECK(st.num_gc >= 1);
	GCHECK(st.num_forced_gc >= 1);
	GCHECK(mode_known(st.mode));
	GCHECK(st.next_gc > 0);
	GCHECK(st.last_gc > 0);

	/* Memstats: the GC part is there; a short sz stops before it. */
	GCHECK(memstats(&ms));
	GCHECK(ms.num_gc >= st.num_gc);
	GCHECK(ms.num_forced_gc >= 1);
	memset(&ms, 0xee, sizeof(ms));
	ms.sz = offsetof(struct gort_memstats, num_gc);
	GCHECK_EQ(0, gort_read_memstats(&ms));
	GCHECK_EQ(0xeeeeeeeeu, ms.num_gc);
	GCHECK_EQ(-EINVAL, gort_read_memstats(NULL));
	return 0;
}

TEST(gcstats_args)
{
	struct gort_gcstats st;

	/* Before the runtime: no cycle yet, but a valid answer. */
	ASSERT_TRUE(gcstats(&st));
	ASSERT_EQ(0U, st.num_gc);
	ASSERT_EQ(0U, st.num_forced_gc);
	ASSERT_EQ(0ULL, st.finalizers_run);
	ASSERT_EQ(-EINVAL, gort_read_gcstats(NULL));
	ASSERT_EQ(0, gt_run(gcstats_args_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

/* ---- counters ---- */

static uint64_t unix_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int counters_main(void *arg)
{
	struct gort_gcstats a, b;
	struct gort_memstats ms;
	uint64_t t0, t1, sum = 0;
	uint32_t k;
	int i;

	(void)arg;
	if (!GCHECK(gcstats(&a)))
		return 1;
	GCHECK_EQ(0, a.num_gc);		/* GORT_GC=off: nothing ran by itself */
	for (i = 1; i <= 5; i++) {
		/* Some garbage for the cycle to find. */
		for (k = 0; k < 1000; k++)
			GCHECK(gort_alloc(64 + k, 0) != NULL);
		t0 = unix_ns();
		GCHECK_EQ(0, gort_gc());
		t1 = unix_ns();
		if (!GCHECK(gcstats(&b)))
			return 1;
		GCHECK_EQ(a.num_gc + i, b.num_gc);
		GCHECK_EQ(a.num_forced_gc + i, b.num_forced_gc);
		k = (b.num_gc + GORT_GC_PAUSE_RING - 1) % GORT_GC_PAUSE_RING;
		if (!GCHECK(b.pause_ns[k] > 0))
			fprintf(stderr, "# cycle %u: pause_ns[%u] = 0\n", b.num_gc, k);
		GCHECK_EQ(b.last_gc, b.pause_end[k]);
		if (!GCHECK(b.last_gc >= t0 && b.last_gc <= t1))
			fprintf(stderr, "# last_gc %llu not in [%llu, %llu]\n",
				(unsigned long long)b.last_gc, (unsigned long long)t0,
				(unsigned long long)t1);
		GCHECK(mode_known(b.mode));
		/* Memstats tells the same story. */
		if (!GCHECK(memstats(&ms)))
			return 1;
		GCHECK_EQ(b.num_gc, ms.num_gc);
		GCHECK_EQ(b.num_forced_gc, ms.num_forced_gc);
		GCHECK_EQ(b.pause_ns[k], ms.pause_ns[k]);
		GCHECK_EQ(b.last_gc, ms.last_gc);
	}
	/* Fewer than 256 cycles: the ring holds all of them. */
	for (k = 0; k < b.num_gc; k++) {
		GCHECK(b.pause_ns[k] > 0);
		sum += b.pause_ns[k];
	}
	for (; k < GORT_GC_PAUSE_RING; k++)
		GCHECK_EQ(0, b.pause_ns[k]);
	GCHECK_EQ(sum, b.pause_total_ns);
	GCHECK(b.gc_cpu_fraction >= 0.0 && b.gc_cpu_fraction <= 1.0);
	printf("# mode %s, %u cycles, pauses %llu ns in total\n", b.mode, b.num_gc,
	       (unsigned long long)b.pause_total_ns);
	return 0;
}

TEST(counters)
{
	setenv("GORT_GC", "off", 1);
	ASSERT_EQ(0, gt_run(counters_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

/* ---- gctrace ---- */

static int gctrace_main(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < 3; i++) {
		GCHECK(gort_alloc(1000, 0) != NULL);
		GCHECK_EQ(0, gort_gc());
	}
	return gt_failed();
}

static int gctrace_child(void *arg)
{
	(void)arg;
	setenv("GORT_DEBUG", "gctrace=1", 1);
	setenv("GORT_GC", "off", 1);	/* only the three forced cycles */
	return gt_run(gctrace_main, NULL, 2);
}

/* Check one "gc N @..." line against Go's gctrace format. */
static bool trace_line_ok(const char *line, unsigned int want)
{
	unsigned int n, pct, mb0, mb1, mb2, goal, stk, glob;
	double at, c1, c2, c3, u1, u2, u3, u4, u5;
	int procs, used = 0;

	if (sscanf(line, "gc %u @%lfs %u%%: %lf+%lf+%lf ms clock, "
		   "%lf+%lf/%lf/%lf+%lf ms cpu, %u->%u->%u MB, %u MB goal, "
		   "%u MB stacks, %u MB globals, %d P%n",
		   &n, &at, &pct, &c1, &c2, &c3, &u1, &u2, &u3, &u4, &u5,
		   &mb0, &mb1, &mb2, &goal, &stk, &glob, &procs, &used) != 18 || !used) {
		fprintf(stderr, "# not in Go's gctrace format: %s\n", line);
		return false;
	}
	if (n != want || at < 0 || pct > 100 || c1 < 0 || c2 < 0 || c3 < 0 ||
	    procs != 2 || goal < 1) {
		fprintf(stderr, "# odd values (want cycle %u, 2 P): %s\n", want, line);
		return false;
	}
	if (!strstr(line + used, "(forced)")) {
		fprintf(stderr, "# gort_gc()'s cycle not marked forced: %s\n", line);
		return false;
	}
	return true;
}

TEST(gctrace)
{
	struct gt_child c;
	char *line, *save = NULL;
	unsigned int want = 1;

	ASSERT_EQ(0, gt_fork_capture(&c, gctrace_child, NULL, 20000));
	if (gt_exit_code(&c) != 0)
		gt_child_dump(&c, "gctrace child");
	ASSERT_EQ(0, gt_exit_code(&c));
	ASSERT_NE(NULL, strstr(c.out, "gc 1 @"));
	/* The first line of the output is cycle 1's. */
	ASSERT_EQ(0, strncmp(c.out, "gc 1 @", 6));
	for (line = strtok_r(c.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "gc ", 3))
			continue;
		EXPECT_TRUE(trace_line_ok(line, want));
		want++;
	}
	EXPECT_EQ(4U, want);		/* three cycles, three lines */
	gt_child_free(&c);
}

/* Without gctrace: not a word. */
static int quiet_child(void *arg)
{
	(void)arg;
	unsetenv("GORT_DEBUG");
	return gt_run(gctrace_main, NULL, 2);
}

TEST(gctrace_off)
{
	struct gt_child c;

	ASSERT_EQ(0, gt_fork_capture(&c, quiet_child, NULL, 20000));
	ASSERT_EQ(0, gt_exit_code(&c));
	EXPECT_EQ(NULL, strstr(c.out, "gc 1 @"));
	gt_child_free(&c);
}

/* ---- percent ---- */

static int percent_main(void *arg)
{
	int first = *(int *)arg;

	GCHECK_EQ(first, gort_gc_percent(50));
	GCHECK_EQ(50, gort_gc_percent(-1));
	GCHECK_EQ(-1, gort_gc_percent(200));
	GCHECK_EQ(200, gort_gc_percent(first));
	GCHECK_EQ(0, gort_gc());
	return 0;
}

TEST(percent_default)
{
	int first = 100;

	unsetenv("GORT_GC");
	ASSERT_EQ(0, gt_run(percent_main, &first, 2));
	ASSERT_EQ(0, gt_failed());
}

TEST(percent_env)
{
	int first = 50;

	setenv("GORT_GC", "50", 1);
	ASSERT_EQ(0, gt_run(percent_main, &first, 2));
	ASSERT_EQ(0, gt_failed());
}

TEST(percent_env_off)
{
	int first = -1;

	setenv("GORT_GC", "off", 1);
	ASSERT_EQ(0, gt_run(percent_main, &first, 2));
	ASSERT_EQ(0, gt_failed());
}

/* ---- gc_off, gc_on ---- */

#define GARBAGE		(64 * MiB)

/* Allocate @bytes of garbage, 1 in 16 large; keep nothing. */
static void garbage(uint64_t bytes)
{
	uint64_t done = 0;
	unsigned int i;

	for (i = 0; done < bytes; i++) {
		size_t sz = i % 16 ? 64 + (i * 40) % 4000 : 48 * 1024;
		char *p = gort_alloc(sz, i & 1 ? GORT_ALLOC_NOSCAN : 0);

		if (!GCHECK(p != NULL))
			return;
		p[0] = 1;
		p[sz - 1] = 1;
		done += sz;
		if (!(i & 255))
			gort_maybe_yield();
	}
}

static int gc_off_main(void *arg)
{
	struct gort_gcstats st;
	struct gort_memstats ms0, ms1, ms2;

	(void)arg;
	GCHECK(memstats(&ms0));
	garbage(GARBAGE);
	/* Give a background cycle every chance to have run. */
	gort_sleep(50 * GT_MS);
	GCHECK(gcstats(&st));
	GCHECK(memstats(&ms1));
	GCHECK_EQ(0, st.num_gc);
	GCHECK_EQ(0, ms1.num_gc);
	if (!GCHECK(ms1.heap_alloc >= ms0.heap_alloc + GARBAGE))
		fprintf(stderr, "# GORT_GC=off: heap_alloc %llu MiB after %llu MiB garbage\n",
			(unsigned long long)(ms1.heap_alloc / MiB),
			(unsigned long long)(GARBAGE / MiB));
	/* gort_gc() still collects. */
	GCHECK_EQ(0, gort_gc());
	GCHECK(gcstats(&st));
	GCHECK_EQ(1, st.num_gc);
	GCHECK(memstats(&ms2));
	if (!GCHECK(ms2.heap_alloc < ms0.heap_alloc + 4 * MiB))
		fprintf(stderr, "# after gort_gc: heap_alloc %llu KiB, was %llu KiB\n",
			(unsigned long long)(ms2.heap_alloc >> 10),
			(unsigned long long)(ms0.heap_alloc >> 10));
	/* And automatic cycles come back with a percentage. */
	GCHECK_EQ(-1, gort_gc_percent(100));
	garbage(GARBAGE);
	if (!GCHECK(GT_WAIT_UNTIL(gcstats(&st) && st.num_gc >= 2, 5000)))
		fprintf(stderr, "# no automatic cycle after GORT_GC=100 and %llu MiB\n",
			(unsigned long long)(GARBAGE / MiB));
	return 0;
}

TEST(gc_off)
{
	setenv("GORT_GC", "off", 1);
	ASSERT_EQ(0, gt_run(gc_off_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

static int gc_on_main(void *arg)
{
	struct gort_gcstats st;
	struct gort_memstats ms;

	(void)arg;
	garbage(GARBAGE);
	if (!GCHECK(GT_WAIT_UNTIL(gcstats(&st) && st.num_gc >= 1, 5000)))
		fprintf(stderr, "# only %u automatic cycles for %llu MiB of garbage\n",
			st.num_gc, (unsigned long long)(GARBAGE / MiB));
	GCHECK_EQ(0, st.num_forced_gc);
	GCHECK(memstats(&ms));
	/* Not all of it is still there (the goal is 4 MiB). */
	if (!GCHECK(ms.heap_alloc < GARBAGE / 2))
		fprintf(stderr, "# heap_alloc %llu MiB after %u cycles\n",
			(unsigned long long)(ms.heap_alloc / MiB), st.num_gc);
	printf("# %u automatic cycles for %llu MiB, heap_alloc %llu MiB\n", st.num_gc,
	       (unsigned long long)(GARBAGE / MiB), (unsigned long long)(ms.heap_alloc / MiB));
	return 0;
}

TEST(gc_on)
{
	unsetenv("GORT_GC");
	ASSERT_EQ(0, gt_run(gc_on_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

TEST(gc_on_1p)
{
	unsetenv("GORT_GC");
	ASSERT_EQ(0, gt_run(gc_on_main, NULL, 1));
	ASSERT_EQ(0, gt_failed());
}

/* ---- heap_goal ---- */

#define GOAL_GARBAGE	(256 * MiB)
#define GOAL_MEAN	(12 * MiB)	/* 3 times the minimum goal */
#define GOAL_WARMUP	4		/* cycles not counted: see heap_goal above */

static int goal_main(void *arg)
{
	size_t sz = *(size_t *)arg;
	struct gort_memstats ms;
	struct gort_gcstats st;
	uint64_t done, peak = 0, sum = 0, mean;
	long i, samples = 0;

	for (i = 0, done = 0; done < GOAL_GARBAGE; i++, done += sz) {
		char *p = gort_alloc(sz, GORT_ALLOC_NOSCAN);

		if (!GCHECK(p != NULL))
			return 1;
		p[0] = 1;
		/* The steady state: from the end of the GOAL_WARMUP-th cycle. */
		if (!(i & 63) && memstats(&ms) && ms.num_gc >= GOAL_WARMUP) {
			sum += ms.heap_alloc;
			samples++;
			if (ms.heap_alloc > peak)
				peak = ms.heap_alloc;
		}
	}
	GCHECK(gcstats(&st));
	if (!GCHECK(samples > 0))
		return 1;
	mean = sum / (uint64_t)samples;
	if (!GCHECK(mean <= GOAL_MEAN))
		fprintf(stderr, "# %zu-byte garbage: heap_alloc %llu KiB on average, peak %llu KiB "
			"(goal %llu KiB), %u cycles\n", sz, (unsigned long long)(mean >> 10),
			(unsigned long long)(peak >> 10), (unsigned long long)(st.next_gc >> 10),
			st.num_gc);
	printf("# %zu-byte objects: heap_alloc %llu KiB on average, peak %llu KiB, %u cycles\n",
	       sz, (unsigned long long)(mean >> 10), (unsigned long long)(peak >> 10),
	       st.num_gc);
	return 0;
}

FIXTURE(heap_goal) {
};

FIXTURE_VARIANT(heap_goal) {
	size_t size;
	int maxprocs;
};

FIXTURE_VARIANT_ADD(heap_goal, small_1p) { .size = 64, .maxprocs = 1 };
FIXTURE_VARIANT_ADD(heap_goal, page_1p) { .size = 4096, .maxprocs = 1 };
FIXTURE_VARIANT_ADD(heap_goal, large_1p) { .size = 40000, .maxprocs = 1 };
FIXTURE_VARIANT_ADD(heap_goal, small_2p) { .size = 64, .maxprocs = 2 };
FIXTURE_VARIANT_ADD(heap_goal, page_2p) { .size = 4096, .maxprocs = 2 };
FIXTURE_VARIANT_ADD(heap_goal, large_2p) { .size = 40000, .maxprocs = 2 };

FIXTURE_SETUP(heap_goal)
{
}

FIXTURE_TEARDOWN(heap_goal)
{
}

TEST_F(heap_goal, peak)
{
	size_t sz = variant->size;

	unsetenv("GORT_GC");
	unsetenv("GORT_DEBUG");
	ASSERT_EQ(0, gt_run(goal_main, &sz, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

TEST_HARNESS_MAIN
