/* SPDX-License-Identifier: MIT */
/*
 * Description: the collector gives back the unused part of parked
 * goroutines' stacks (Go shrinks stacks at GC; here the memory goes, the
 * stack stays).  A goroutine recurses ~190 KiB deep (touching every page),
 * comes back and parks shallow: after two cycles the pages it left are no
 * longer resident (mincore), unless GORT_DEBUG=gcshrinkstackoff=1.  One
 * that parks deep keeps its memory.  Live frames are never touched: every
 * frame checks its own contents after its callee returns, and a stress
 * run parks goroutines deep and shallow at random while cycles run all
 * the time (gcstress), on 1 and 2 Ps.
 */
#include "gc_test.h"

#include <sys/mman.h>

#define FRAME		4000		/* bytes of locals per level */
#define DEPTH		48		/* levels: ~190 KiB of a 256 KiB stack */
#define NWORKERS	16

struct worker {
	uint32_t go;		/* sema: resume */
	uint32_t *parked;	/* sema: one token per park */
	uintptr_t deepest;	/* the lowest frame's address */
	uintptr_t top;		/* the frame it dives from (and parks in) */
	bool park_deep;		/* park at the bottom instead */
	int bad;
};

static __attribute__((noinline)) void dive(struct worker *w, int level)
{
	volatile unsigned char buf[FRAME];
	int i;

	for (i = 0; i < FRAME; i += 64)
		buf[i] = (unsigned char)(level + i / 64);
	if (level > 1) {
		dive(w, level - 1);
	} else {
		w->deepest = (uintptr_t)buf;
		gort_maybe_yield();		/* a runtime call down here */
		if (w->park_deep) {
			gort_sema_release(w->parked);
			gort_sema_acquire(&w->go);
		}
	}
	for (i = 0; i < FRAME; i += 64)
		if (buf[i] != (unsigned char)(level + i / 64))
			w->bad++;
}

static void work(void *arg)
{
	struct worker *w = arg;
	uint64_t canary[32];
	int i;

	for (i = 0; i < 32; i++)
		canary[i] = 0x5a5a0000ULL + (uint64_t)i;
	w->top = (uintptr_t)__builtin_frame_address(0);
	dive(w, DEPTH);
	if (!w->park_deep) {
		gort_sema_release(w->parked);
		gort_sema_acquire(&w->go);
	}
	dive(w, DEPTH);		/* the stack still works after the trim */
	for (i = 0; i < 32; i++)
		if (canary[i] != 0x5a5a0000ULL + (uint64_t)i)
			w->bad++;
	gort_sema_release(w->parked);
}

/* Resident pages of [lo, hi), page aligned outward, and how many. */
static long resident(uintptr_t lo, uintptr_t hi, long *pages)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	unsigned char vec[128];
	long n, i, in = 0;

	lo &= ~(pg - 1);
	hi = (hi + pg - 1) & ~(pg - 1);
	n = (long)((hi - lo) / pg);
	if (n <= 0 || n > (long)sizeof(vec) || mincore((void *)lo, hi - lo, vec))
		return -1;
	for (i = 0; i < n; i++)
		in += vec[i] & 1;
	*pages = n;
	return in;
}

struct shrink_run {
	bool park_deep;
	long before, after, pages;
	struct gort_gcstats st;
	int bad;
};

static int shrink_main(void *arg)
{
	struct shrink_run *r = arg;
	static struct worker w[NWORKERS];
	uint32_t parked = 0;
	int i;

	for (i = 0; i < NWORKERS; i++) {
		w[i] = (struct worker){ .parked = &parked, .park_deep = r->park_deep };
		GCHECK(gort_go(work, &w[i]) > 0);
	}
	if (!gt_sema_wait(&parked, NWORKERS, 10000))
		return 1;
	/* What each dive touched, less a margin under the top frame. */
	for (i = 0; i < NWORKERS; i++) {
		long n = 0, in = resident(w[i].deepest, w[i].top - (32 << 10), &n);

		GCHECK(in >= 0);
		r->before += in;
		r->pages += n;
	}
	gc_full(2);
	for (i = 0; i < NWORKERS; i++) {
		long n = 0;

		r->after += resident(w[i].deepest, w[i].top - (32 << 10), &n);
	}
	r->st.sz = sizeof(r->st);
	GCHECK_EQ(0, gort_read_gcstats(&r->st));
	for (i = 0; i < NWORKERS; i++)
		gort_sema_release(&w[i].go);
	if (!gt_sema_wait(&parked, NWORKERS, 10000))
		return 1;
	for (i = 0; i < NWORKERS; i++)
		r->bad += w[i].bad;
	printf("# %s: %ld of %ld pages resident before two cycles, %ld after; "
	       "%llu stacks trimmed, %llu KiB\n", r->park_deep ? "parked deep" : "parked shallow",
	       r->before, r->pages, r->after, (unsigned long long)r->st.stacks_shrunk,
	       (unsigned long long)(r->st.stack_bytes_released >> 10));
	return 0;
}

static void run_shrink(struct __test_metadata *_metadata, struct shrink_run *r,
		       const char *dbg, int procs)
{
	if (dbg) {
		ASSERT_EQ(0, setenv("GORT_DEBUG", dbg, 1));
	} else {
		ASSERT_EQ(0, unsetenv("GORT_DEBUG"));
	}
	ASSERT_EQ(0, unsetenv("GORT_GC"));
	ASSERT_EQ(0, gt_run(shrink_main, r, procs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(0, r->bad);
	/* Every page the dive touched was resident before. */
	ASSERT_GE(r->before * 10, r->pages * 9);
}

TEST(parked_shallow_is_trimmed)
{
	struct shrink_run r = { 0 };

	run_shrink(_metadata, &r, NULL, 2);
	ASSERT_LE(r.after * 10, r.pages);		/* at most 10 % left */
	ASSERT_LE((uint64_t)NWORKERS, r.st.stacks_shrunk);
	ASSERT_LE((uint64_t)NWORKERS * (128 << 10), r.st.stack_bytes_released);
}

TEST(parked_shallow_is_trimmed_stw)
{
	struct shrink_run r = { 0 };

	ASSERT_EQ(0, setenv("GORT_GCMODE", "stw", 1));
	run_shrink(_metadata, &r, NULL, 2);
	ASSERT_EQ(0, unsetenv("GORT_GCMODE"));
	ASSERT_LE(r.after * 10, r.pages);
	ASSERT_LE((uint64_t)NWORKERS, r.st.stacks_shrunk);
}

/* The same with shrinking off: the pages stay (the test can tell). */
TEST(shrinkstackoff_keeps_pages)
{
	struct shrink_run r = { 0 };

	run_shrink(_metadata, &r, "gcshrinkstackoff=1", 2);
	ASSERT_GE(r.after * 10, r.pages * 9);
	ASSERT_EQ(0ULL, (unsigned long long)r.st.stacks_shrunk);
}

/* Parked at the bottom: the whole stack is in use, nothing goes. */
TEST(parked_deep_keeps_pages)
{
	struct shrink_run r = { .park_deep = true };

	run_shrink(_metadata, &r, NULL, 2);
	ASSERT_GE(r.after * 10, r.pages * 9);
	ASSERT_EQ(0ULL, (unsigned long long)r.st.stacks_shrunk);
}

/* ---- stress: trims race with goroutines that resume ---- */

#define PAIRS		4
#define ROUNDS_MS	1500		/* at least; then on to MIN_PARKS */
#define MIN_PARKS	1001
#define MAX_MS		15000		/* no progress: fail (harness: 30 s) */

struct pair {
	uint32_t sem[2];
	uint64_t seed;
	int bad;
	long parks;
	uint32_t *done;
};

static atomic_int stress_stop;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Down @level frames, each checking its own contents on the way back;
 * at the bottom, hand the turn to the partner and wait for it back. */
static __attribute__((noinline)) void pdive(struct pair *p, int me, int level)
{
	volatile unsigned char buf[FRAME / 2];
	unsigned char tag = (unsigned char)(me * 64 + level);
	int i;

	for (i = 0; i < FRAME / 2; i += 32)
		buf[i] = tag;
	if (level > 1) {
		pdive(p, me, level - 1);
	} else {
		gort_sema_release(&p->sem[!me]);
		gort_sema_acquire(&p->sem[me]);
		__atomic_add_fetch(&p->parks, 1, __ATOMIC_RELAXED);
	}
	for (i = 0; i < FRAME / 2; i += 32)
		if (buf[i] != tag)
			p->bad++;
	/* Allocation: gcstress's cycles come from here. */
	if (!gort_alloc(32, 0))
		p->bad++;
}

static void player(struct pair *p, int me)
{
	uint64_t seed = p->seed * (uint64_t)(me + 1);

	if (me)
		gort_sema_acquire(&p->sem[1]);
	while (!atomic_load(&stress_stop))
		pdive(p, me, 1 + (int)(rnd(&seed) % (2 * DEPTH)));
	gort_sema_release(&p->sem[!me]);	/* let the partner out */
	gort_sema_release(p->done);
}

static void player0(void *arg)
{
	player(arg, 0);
}

static void player1(void *arg)
{
	player(arg, 1);
}

struct stress_run {
	long parks;
	int bad;
	struct gort_gcstats st;
};

static long sumparks(struct pair *pairs)
{
	long n = 0;
	int i;

	for (i = 0; i < PAIRS; i++)
		n += __atomic_load_n(&pairs[i].parks, __ATOMIC_RELAXED);
	return n;
}

static int stress_main(void *arg)
{
	struct stress_run *r = arg;
	static struct pair pairs[PAIRS];
	uint32_t done = 0;
	int i;

	atomic_store(&stress_stop, 0);
	for (i = 0; i < PAIRS; i++) {
		pairs[i] = (struct pair){ .seed = 0x9e3779b97f4a7c15ULL + (uint64_t)i, .done = &done };
		GCHECK(gort_go(player0, &pairs[i]) > 0);
		GCHECK(gort_go(player1, &pairs[i]) > 0);
	}
	/* A count of parks, not a rate: a sanitized build on a busy host
	 * parks half as often per second. */
	for (i = 0; i < MAX_MS / 100 && (i < ROUNDS_MS / 100 || sumparks(pairs) < MIN_PARKS); i++)
		gort_sleep(100 * GT_MS);
	atomic_store(&stress_stop, 1);
	if (!gt_sema_wait(&done, 2 * PAIRS, 20000))
		raise(SIGQUIT);		/* every goroutine's traceback, then exit */
	for (i = 0; i < PAIRS; i++) {
		r->parks += pairs[i].parks;
		r->bad += pairs[i].bad;
	}
	r->st.sz = sizeof(r->st);
	GCHECK_EQ(0, gort_read_gcstats(&r->st));
	printf("# %ld parks at random depths, %u cycles, %llu stacks trimmed\n", r->parks,
	       r->st.num_gc, (unsigned long long)r->st.stacks_shrunk);
	return 0;
}

static void run_stress(struct __test_metadata *_metadata, int procs)
{
	struct stress_run r = { 0 };

	ASSERT_EQ(0, setenv("GORT_DEBUG", "gcstress=50", 1));
	ASSERT_EQ(0, unsetenv("GORT_GC"));
	ASSERT_EQ(0, gt_run(stress_main, &r, procs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(0, r.bad);
	ASSERT_LT(MIN_PARKS - 1, r.parks);
	ASSERT_LT(10U, r.st.num_gc);
	ASSERT_LT(0ULL, (unsigned long long)r.st.stacks_shrunk);
}

TEST(stress_2p)
{
	run_stress(_metadata, 2);
}

TEST(stress_1p)
{
	run_stress(_metadata, 1);
}

TEST_HARNESS_MAIN
