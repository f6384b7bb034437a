/* SPDX-License-Identifier: MIT */
/*
 * Description: freed heap memory goes back to the OS.  After ~256 MiB of
 * small and large objects are allocated, touched and freed:
 *
 *   now		gort_scavenge() returns > 200 MiB and RSS drops by
 *			as much; a second call finds nothing left; the
 *			released memory is reused, zeroed, without growing
 *			heap_sys;
 *   background_*	without gort_scavenge(), sysmon's scavenger (every
 *			50 ms: spans idle > 1 s while the retained idle
 *			memory exceeds 10 % of the heap goal) brings RSS down
 *			within 5 s, whether the program then sleeps (all Ps
 *			idle) or keeps its P busy;
 *   memlimit		with GORT_MEMLIMIT=64M (read when the heap starts;
 *			each TEST is a forked child) it does so at once, well
 *			before the one-second idle age.
 *
 * RSS is "Rss:" of /proc/self/smaps_rollup, or statm's resident pages.
 */
#include "../gort_test.h"

#define MiB		(1ULL << 20)
#define RELEASE_MIN	(200 * MiB)

/* rss() - resident bytes of this process. */
static uint64_t rss(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	unsigned long long kb;

	if (f) {
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "Rss: %llu kB", &kb) == 1) {
				fclose(f);
				return kb << 10;
			}
		}
		fclose(f);
	}
	return gt_rss();
}

static bool read_ms(struct gort_memstats *ms)
{
	memset(ms, 0, sizeof(*ms));
	ms->sz = sizeof(*ms);
	return gort_read_memstats(ms) == 0;
}

/* The mix: ~258 MiB, small classes and large objects. */
static const struct {
	size_t size;
	int n;
} mix[] = {
	{ 1 << 20, 96 },	/* large, 96 MiB */
	{ 100000, 256 },	/* large, 13 pages each: 26 MiB */
	{ 32768, 2048 },	/* 64 MiB */
	{ 4096, 16384 },	/* 64 MiB */
	{ 1024, 8192 },		/* 8 MiB */
};

struct big {
	void **p;
	int n;
	uint64_t bytes;
};

/* fill_heap() - allocate the mix and touch every byte. */
static bool fill_heap(struct big *b)
{
	size_t i;
	int k, total = 0;

	for (i = 0; i < GT_ARRAY_SIZE(mix); i++)
		total += mix[i].n;
	b->p = calloc((size_t)total, sizeof(void *));
	b->n = 0;
	b->bytes = 0;
	if (!GCHECK(b->p != NULL))
		return false;
	/* malloc memory is not scanned: tell the collector about it. */
	GCHECK_EQ(0, gort_gc_add_roots(b->p, (size_t)total * sizeof(void *)));
	for (i = 0; i < GT_ARRAY_SIZE(mix); i++) {
		for (k = 0; k < mix[i].n; k++) {
			void *p = gort_alloc(mix[i].size, GORT_ALLOC_NOSCAN);

			if (!GCHECK(p != NULL))
				return false;
			memset(p, 0x77, mix[i].size);
			b->p[b->n++] = p;
			b->bytes += mix[i].size;
		}
	}
	return true;
}

static void free_heap(struct big *b)
{
	int k;

	for (k = 0; k < b->n; k++)
		gort_free(b->p[k]);
	GCHECK_EQ(0, gort_gc_remove_roots(b->p));
	free(b->p);
	b->p = NULL;
}

/* ---- gort_scavenge() ---- */

static int now_main(void *arg)
{
	struct gort_memstats before, after;
	struct big b;
	uint64_t full, freed, scav;
	size_t got, again;
	void *p[64];
	int k;

	(void)arg;
	if (!fill_heap(&b))
		return 1;
	full = rss();
	/* Before the frees: with a limit, releasing may start during them. */
	GCHECK(read_ms(&before));
	free_heap(&b);
	freed = rss();
	got = gort_scavenge();
	scav = rss();
	GCHECK(read_ms(&after));
	again = gort_scavenge();
	printf("# %llu MiB in objects; RSS %llu MiB full, %llu MiB freed, %llu MiB scavenged; gort_scavenge() = %zu MiB, then %zu bytes\n",
	       (unsigned long long)(b.bytes / MiB), (unsigned long long)(full / MiB),
	       (unsigned long long)(freed / MiB), (unsigned long long)(scav / MiB),
	       (size_t)(got >> 20), again);
	if (got <= RELEASE_MIN)
		GFAIL("gort_scavenge() released %zu MiB", (size_t)(got >> 20));
	if (scav + RELEASE_MIN > full)
		GFAIL("RSS went from %llu to %llu MiB", (unsigned long long)(full / MiB),
		      (unsigned long long)(scav / MiB));
	if (after.heap_released < before.heap_released + RELEASE_MIN)
		GFAIL("heap_released %llu -> %llu MiB",
		      (unsigned long long)(before.heap_released / MiB),
		      (unsigned long long)(after.heap_released / MiB));
	GCHECK(after.heap_released <= after.heap_idle);
	GCHECK_EQ(after.heap_sys, after.heap_inuse + after.heap_idle);
	GCHECK(again < MiB);
	/* Released pages come back zeroed, from the same heap. */
	for (k = 0; k < 64; k++) {
		p[k] = gort_alloc(MiB, 0);
		if (!GCHECK(p[k] != NULL))
			return 1;
		if (((unsigned char *)p[k])[0] || ((unsigned char *)p[k])[MiB / 2] ||
		    ((unsigned char *)p[k])[MiB - 1])
			GFAIL("reused object %p not zeroed", p[k]);
		memset(p[k], 1, MiB);
	}
	GCHECK(read_ms(&before));
	GCHECK_EQ(after.heap_sys, before.heap_sys);
	for (k = 0; k < 64; k++)
		gort_free(p[k]);
	return 0;
}

TEST(now)
{
	ASSERT_EQ(0, gt_run(now_main, NULL, 1));
	ASSERT_EQ(0, gt_failed());
}

TEST(now_thread)
{
	ASSERT_EQ(0, now_main(NULL));
	ASSERT_EQ(0, gt_failed());
}

/* ---- sysmon's scavenger ---- */

struct bg {
	bool busy;		/* poll spinning on the P instead of sleeping */
	int64_t limit_ms;	/* RSS must drop within this */
	uint64_t drop;		/* by this much */
};

/* Wait for RSS to fall to @target: sleeping (P idle) or spinning. */
static int64_t wait_rss(const struct bg *bg, uint64_t target)
{
	int64_t start = gort_nanotime(), end = start + bg->limit_ms * GT_MS;

	while (rss() > target && gort_nanotime() < end) {
		if (bg->busy) {
			int64_t next = gort_nanotime() + 20 * GT_MS;

			while (gort_nanotime() < next)
				gort_yield();
		} else {
			gort_sleep(20 * GT_MS);
		}
	}
	return rss() <= target ? (gort_nanotime() - start) / GT_MS : -1;
}

static int background_main(void *arg)
{
	const struct bg *bg = arg;
	struct gort_memstats before, after;
	struct big b;
	uint64_t full, freed;
	int64_t ms;

	if (!fill_heap(&b))
		return 1;
	full = rss();
	/* Before the frees: with a limit, releasing may start during them. */
	GCHECK(read_ms(&before));
	free_heap(&b);
	freed = rss();
	ms = wait_rss(bg, full - bg->drop);
	GCHECK(read_ms(&after));
	printf("# RSS %llu MiB full, %llu MiB freed, %llu MiB after %lld ms%s; heap_released %llu -> %llu MiB\n",
	       (unsigned long long)(full / MiB), (unsigned long long)(freed / MiB),
	       (unsigned long long)(rss() / MiB), (long long)ms,
	       ms < 0 ? " (gave up)" : "",
	       (unsigned long long)(before.heap_released / MiB),
	       (unsigned long long)(after.heap_released / MiB));
	if (ms < 0)
		GFAIL("RSS did not drop by %llu MiB within %lld ms (%s)",
		      (unsigned long long)(bg->drop / MiB), (long long)bg->limit_ms,
		      bg->busy ? "P busy" : "all Ps idle");
	GCHECK(after.heap_released >= before.heap_released + bg->drop);
	return 0;
}

TEST(background_idle)
{
	struct bg bg = { .busy = false, .limit_ms = 5000, .drop = RELEASE_MIN };

	ASSERT_EQ(0, gt_run(background_main, &bg, 1));
	ASSERT_EQ(0, gt_failed());
}

TEST(background_busy)
{
	struct bg bg = { .busy = true, .limit_ms = 5000, .drop = RELEASE_MIN };

	ASSERT_EQ(0, gt_run(background_main, &bg, 1));
	ASSERT_EQ(0, gt_failed());
}

/*
 * GORT_MEMLIMIT=64M: retained memory (sys - released) is pushed under the
 * limit without waiting for spans to age a second: within 800 ms of the
 * last free, ~190 MiB of the ~260 MiB freed must be gone.
 */
TEST(memlimit)
{
	struct bg bg = { .busy = false, .limit_ms = 800, .drop = 150 * MiB };

	ASSERT_EQ(0, setenv("GORT_MEMLIMIT", "64M", 1));
	ASSERT_EQ(0, gt_run(background_main, &bg, 1));
	ASSERT_EQ(0, gt_failed());
}

TEST(memlimit_busy)
{
	struct bg bg = { .busy = true, .limit_ms = 800, .drop = 150 * MiB };

	ASSERT_EQ(0, setenv("GORT_MEMLIMIT", "64M", 1));
	ASSERT_EQ(0, gt_run(background_main, &bg, 1));
	ASSERT_EQ(0, gt_failed());
}

TEST_HARNESS_MAIN
