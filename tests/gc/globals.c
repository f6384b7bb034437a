/* SPDX-License-Identifier: MIT */
/*
 * Description: a global that keeps the same value while the object it
 * points to is freed and a new one allocated at the same address, during
 * a concurrent mark, still keeps the new object.
 *
 * The data segments are roots; mark termination must see what they
 * point to at the stop.  A shortcut that re-scanned only the globals
 * whose value changed since the concurrent scan (a compare against a
 * copy) loses this case: the value is the same, but it now names an
 * object allocated white after that scan, and a large object's new span
 * starts unmarked.  gort_free() + gort_alloc() of the same large size
 * returns the same pages more often than not, so a program that
 * reallocates a global buffer does exactly this.
 *
 * A mutator goroutine keeps reallocating NBUF global buffers, each to the
 * same size, and checks its pattern in each before it frees it; the main
 * goroutine runs NCYCLES concurrent cycles back to back with
 * gccheckmark=1, which dies at mark termination if a reachable object
 * was left white, and gcstress poisons what the sweep frees.  The test
 * also counts how often the new buffer came back at the old address
 * (it must, or the test proves nothing).
 */
#include "gc_test.h"

#define NBUF		8
#define BUFSZ		(48 << 10)	/* a large object: 12 pages */
#define NCYCLES		400
#define MAGIC		0x6c0ba15b00000000ULL

/*
 * The roots under test, in the data segment, with 40 words that never
 * change on each side: a compare by blocks of up to 32 words must find
 * their block unchanged (the counters in Q would change it).
 */
static struct {
	char *pad0[40];
	char *b[NBUF];
	char *pad1[40];
} roots __attribute__((aligned(64)));
#define bufs	roots.b

static struct {
	_Atomic bool stop;
	long reallocs, same, bad;
	uint32_t done;
} Q;

static void fill(char *b, size_t i)
{
	uint64_t *w = (uint64_t *)b;

	w[0] = MAGIC ^ i;
	w[BUFSZ / 8 - 1] = MAGIC ^ ~i;
}

static bool intact(const char *b, size_t i)
{
	const uint64_t *w = (const uint64_t *)b;

	return w[0] == (MAGIC ^ i) && w[BUFSZ / 8 - 1] == (MAGIC ^ ~i);
}

/* Free buffer @i and allocate it again; false if it was not intact. */
static __attribute__((noinline)) bool realloc_one(size_t i)
{
	uintptr_t old = (uintptr_t)bufs[i];

	if (!intact(bufs[i], i) || !gc_alive(bufs[i]))
		return false;
	gort_free(bufs[i]);
	bufs[i] = gort_alloc(BUFSZ, 0);
	if (!GCHECK(bufs[i] != NULL))
		return false;
	fill(bufs[i], i);
	Q.reallocs++;
	Q.same += (uintptr_t)bufs[i] == old;
	return true;
}

/* Clear the dead stack below us: the next frames' unwritten slots must
 * not hold the last buffer's address (the stack would keep it). */
static __attribute__((noinline)) void scrub(void)
{
	volatile char pad[8192];

	memset((char *)pad, 0, sizeof(pad));
}

static void mutator(void *unused)
{
	size_t i;

	(void)unused;
	while (!atomic_load(&Q.stop)) {
		for (i = 0; i < NBUF; i++) {
			if (!realloc_one(i)) {
				Q.bad++;
				gort_sema_release(&Q.done);
				return;
			}
			scrub();
		}
		gort_yield();
	}
	gort_sema_release(&Q.done);
}

static int globals_main(void *unused)
{
	size_t i;

	(void)unused;
	for (i = 0; i < NBUF; i++) {
		bufs[i] = gort_alloc(BUFSZ, 0);
		if (!GCHECK(bufs[i] != NULL))
			return 1;
		fill(bufs[i], i);
	}
	if (!gc_cycles_beside(mutator, NULL, NCYCLES, &Q.stop, &Q.done))
		return 1;
	for (i = 0; i < NBUF; i++)
		if (!intact(bufs[i], i) || !gc_alive(bufs[i]))
			Q.bad++;
	return 0;
}

static void run(struct __test_metadata *_metadata, const char *debug, int procs)
{
	memset(&Q, 0, sizeof(Q));
	ASSERT_EQ(0, setenv("GORT_DEBUG", debug, 1));
	ASSERT_EQ(0, gt_run(globals_main, NULL, procs));
	ASSERT_EQ(0, unsetenv("GORT_DEBUG"));
	ASSERT_EQ(0, gt_failed());
	TH_LOG("%ld reallocations, %ld at the same address", Q.reallocs, Q.same);
	ASSERT_EQ(0, Q.bad);
	ASSERT_LT(100L, Q.same);
}

TEST(realloc_same_address_2p)
{
	run(_metadata, "gcconcurrent=1,gccheckmark=1,gcstress=1000000", 2);
}

TEST(realloc_same_address_1p)
{
	run(_metadata, "gcconcurrent=1,gccheckmark=1,gcstress=1000000", 1);
}

TEST_HARNESS_MAIN
