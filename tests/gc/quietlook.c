/* SPDX-License-Identifier: MIT */
/*
 * Description: mark termination skips its dirty-page look when no page
 * fault happened since the last concurrent look began (gcdirty_quiet(),
 * uffd-wp mode only), and only then.
 *
 * A mover goroutine keeps moving the only pointer to each of NVICTIM
 * victim objects from a slot of one holder object to a slot of another,
 * and clears the old slot: the race a concurrent collector loses if it
 * misses the write into an already-scanned holder.  It moves in bursts
 * and sleeps between them, so that some cycles end while it sleeps (no
 * fault: no look) and others while it moves (faults: the look must be
 * made).  Both must happen: a skip that ignored the mover's faults would
 * skip every look, one that never skipped none.  The main goroutine runs
 * cycles back to back with gccheckmark=1, which walks the heap again at
 * every mark termination and dies if a reachable object was left white;
 * gcstress poisons what the sweep frees, and the final check finds every
 * victim intact where the mover last put it.  The mover keeps where each
 * victim is in malloc()ed memory, as holder and slot numbers: the
 * collector sees no copy of a victim's address but the slot's.
 *
 * With GORT_DEBUG=gcquietoff=1 every look is made.  protected_writes_fault
 * checks what the skip rests on: the first write to a protected page,
 * ours or the kernel's (read()), is a page fault of the writing thread.
 */
#include "gc_test.h"

#include <sys/resource.h>

/* Under ASan its own runtime faults pages in nearly every cycle: 3 or 4
 * looks in 300 were skipped there, none some runs, which is allowed. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED	1
#endif
#endif

#define NHOLDER		8192
#define NSLOT		7
#define NVICTIM		2048
#define BURST		64		/* moves between sleeps */
#define NCYCLES		300
#define MAGIC		0x91e7100c00000000ULL

struct node {
	uint64_t magic;
	struct node *slot[NSLOT];
};

static struct {
	struct node **holders;		/* the root: NHOLDER holder nodes */
	uint32_t *where;		/* victim i: holder * NSLOT + slot (malloc) */
	_Atomic bool stop;
	long moves, bad;
	uint32_t done;			/* semaphore: the mover ended */
	struct gort_gcstats st0, st;
} Q;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static struct node **slotp(uint32_t w)
{
	return &Q.holders[w / NSLOT]->slot[w % NSLOT];
}

/* Move victim @v to a free slot and clear the one it was in. */
static void move(uint64_t *seed, uint32_t v)
{
	uint32_t w;

	do
		w = (uint32_t)(rnd(seed) % (NHOLDER * NSLOT));
	while (*slotp(w));
	*slotp(w) = *slotp(Q.where[v]);
	*slotp(Q.where[v]) = NULL;
	Q.where[v] = w;
}

static void mover(void *unused)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	int i;

	(void)unused;
	while (!atomic_load(&Q.stop)) {
		for (i = 0; i < BURST; i++)
			move(&seed, (uint32_t)(rnd(&seed) % NVICTIM));
		Q.moves += BURST;
		gort_sleep((int64_t)(rnd(&seed) % 400) * 1000);	/* 0-400 us */
	}
	gort_sema_release(&Q.done);
}

static int quiet_main(void *unused)
{
	uint64_t seed = 7;
	uint32_t i, w;

	(void)unused;
	Q.where = malloc(NVICTIM * sizeof(*Q.where));
	Q.holders = gort_alloc(NHOLDER * sizeof(*Q.holders), 0);
	if (!GCHECK(Q.where && Q.holders))
		return 1;
	for (i = 0; i < NHOLDER; i++) {
		Q.holders[i] = gort_alloc(sizeof(struct node), 0);
		if (!GCHECK(Q.holders[i] != NULL))
			return 1;
		Q.holders[i]->magic = MAGIC | i;
	}
	for (i = 0; i < NVICTIM; i++) {
		struct node *v = gort_alloc(sizeof(struct node), 0);

		if (!GCHECK(v != NULL))
			return 1;
		v->magic = MAGIC | (NHOLDER + i);
		do
			w = (uint32_t)(rnd(&seed) % (NHOLDER * NSLOT));
		while (*slotp(w));
		*slotp(w) = v;
		Q.where[i] = w;
	}
	GCHECK(gc_stats(&Q.st0));
	if (!gc_cycles_beside(mover, NULL, NCYCLES, &Q.stop, &Q.done))
		return 1;
	GCHECK(gc_stats(&Q.st));
	for (i = 0; i < NVICTIM; i++) {
		struct node *v = *slotp(Q.where[i]);

		if (!v || !gc_alive(v) || v->magic != (MAGIC | (NHOLDER + i)))
			Q.bad++;
	}
	for (i = 0; i < NHOLDER; i++)
		if (Q.holders[i]->magic != (MAGIC | i))
			Q.bad++;
	free(Q.where);
	return 0;
}

static void run(struct __test_metadata *_metadata, const char *debug)
{
	long cycles, quiet;

	memset(&Q, 0, sizeof(Q));
	ASSERT_EQ(0, unsetenv("GORT_GCMODE"));
	ASSERT_EQ(0, setenv("GORT_DEBUG", debug, 1));
	ASSERT_EQ(0, gt_run(quiet_main, NULL, 2));
	ASSERT_EQ(0, unsetenv("GORT_DEBUG"));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(0, Q.bad);
	if (strcmp(Q.st.mode, "uffd-wp"))
		SKIP(return, "dirty-page mode is %s, not uffd-wp: the look is never skipped",
		     Q.st.mode);
	cycles = (long)(Q.st.num_gc - Q.st0.num_gc);
	quiet = (long)(Q.st.quiet_looks - Q.st0.quiet_looks);
	TH_LOG("%ld cycles, %ld without the last look, %ld moves, %llu dirty pages",
	       cycles, quiet, Q.moves,
	       (unsigned long long)(Q.st.dirty_pages - Q.st0.dirty_pages));
	ASSERT_LE((long)NCYCLES, cycles);
	ASSERT_LT(1000L, Q.moves);
	if (strstr(debug, "gcquietoff=1")) {
		ASSERT_EQ(0, quiet);
	} else {
		/* Both paths taken: some cycles end while the mover sleeps,
		 * some while it moves. */
#ifndef SANITIZED
		ASSERT_LT(0, quiet);
#endif
		ASSERT_GT(cycles, quiet);
	}
}

TEST(skipped_only_after_no_fault)
{
	run(_metadata, "gcconcurrent=1,gccheckmark=1,gcstress=100000");
}

TEST(gcquietoff)
{
	run(_metadata, "gcconcurrent=1,gccheckmark=1,gcstress=100000,gcquietoff=1");
}

/*
 * What the skip rests on: in uffd-wp mode the first write to a page the
 * last look protected is a page fault of the writing thread, by our code
 * or by the kernel's copy for read(); a second write to it is not.
 */
static struct {
	long user, again, kernel;
	char mode[16];
} W;

static long thread_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_minflt + ru.ru_majflt;
}

static void writes_fn(void *unused)
{
	size_t len = 16 * 4096;
	char *p = gort_alloc(len, 0), buf[4096];	/* scanned: tracked */
	long f0, f1, f2, f3;
	int fd[2];

	(void)unused;
	if (!GCHECK(p != NULL) || !GCHECK_EQ(0, pipe(fd)))
		return;
	memset(p, 1, len);
	memset(buf, 2, sizeof(buf));
	GCHECK_EQ((long)sizeof(buf), write(fd[1], buf, sizeof(buf)));
	GCHECK_EQ(0, gort_gc());	/* a look protects the pages again */
	/* No parking from here on: one thread, its own counter. */
	f0 = thread_faults();
	p[0] = 3;
	f1 = thread_faults();
	p[1] = 4;
	f2 = thread_faults();
	GCHECK_EQ((long)sizeof(buf), read(fd[0], p + 8 * 4096, sizeof(buf)));
	f3 = thread_faults();
	W.user = f1 - f0;
	W.again = f2 - f1;
	W.kernel = f3 - f2;
	GCHECK_EQ(2, p[8 * 4096 + 4095]);
	close(fd[0]);
	close(fd[1]);
}

static int writes_main(void *unused)
{
	(void)unused;
	gc_in_goroutine(writes_fn, NULL);
	snprintf(W.mode, sizeof(W.mode), "%s", gc_mode());
	return 0;
}

TEST(protected_writes_fault)
{
	ASSERT_EQ(0, unsetenv("GORT_GCMODE"));
	ASSERT_EQ(0, setenv("GORT_DEBUG", "gcconcurrent=1", 1));
	ASSERT_EQ(0, gt_run(writes_main, NULL, 1));
	ASSERT_EQ(0, unsetenv("GORT_DEBUG"));
	ASSERT_EQ(0, gt_failed());
	if (strcmp(W.mode, "uffd-wp"))
		SKIP(return, "dirty-page mode is %s, not uffd-wp", W.mode);
	TH_LOG("page faults: first write %ld, second write %ld, read() into a page %ld",
	       W.user, W.again, W.kernel);
	ASSERT_LE(1, W.user);
	ASSERT_EQ(0, W.again);
	ASSERT_LE(1, W.kernel);
}

TEST_HARNESS_MAIN
