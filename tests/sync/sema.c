/* SPDX-License-Identifier: MIT */
/*
 * Description: the runtime semaphore: counting, FIFO wakeups, timeouts.
 *
 * - counts: releases bank up and acquires consume them without blocking;
 *   a preset value is honoured; acquire_timeout on zero fails.
 * - fifo: waiters queued one after another are woken in arrival order
 *   when released one at a time.
 * - timeout: acquire_timeout returns false no earlier than its timeout,
 *   true when released in time, and a timed-out waiter leaves the queue,
 *   so a later release is not lost to it.
 * - tokens: 16 goroutines race acquire_timeout (short timeouts) against
 *   releases on a semaphore holding 3 tokens: never more than 3 holders,
 *   and all 3 tokens are back at the end.
 * Each on 1 and 2 Ps.
 */
#include "../gort_test.h"

FIXTURE(sema) {
	int dummy;
};

FIXTURE_VARIANT(sema) {
	int maxprocs;
};

FIXTURE_VARIANT_ADD(sema, procs1) { .maxprocs = 1, };
FIXTURE_VARIANT_ADD(sema, procs2) { .maxprocs = 2, };

FIXTURE_SETUP(sema)
{
}

FIXTURE_TEARDOWN(sema)
{
}

static int counts_main(void *arg)
{
	uint32_t s = 0;
	int i;

	(void)arg;
	GCHECK(!gort_sema_acquire_timeout(&s, 0));
	GCHECK(!gort_sema_acquire_timeout(&s, -1));
	for (i = 0; i < 5; i++)
		gort_sema_release(&s);
	GCHECK_EQ(s, 5);
	for (i = 0; i < 5; i++)
		gort_sema_acquire(&s);
	GCHECK_EQ(s, 0);
	GCHECK(!gort_sema_acquire_timeout(&s, GT_MS));
	GCHECK_EQ(s, 0);

	s = 3;
	GCHECK(gort_sema_acquire_timeout(&s, 0));
	gort_sema_acquire(&s);
	GCHECK(gort_sema_acquire_timeout(&s, GT_MS));
	GCHECK(!gort_sema_acquire_timeout(&s, 0));
	GCHECK_EQ(s, 0);
	return 0;
}

TEST_F(sema, counts)
{
	ASSERT_EQ(0, gt_run(counts_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

#define NR_FIFO		16

struct fifo {
	uint32_t s;
	int order[NR_FIFO];
	atomic_int n;
	atomic_int queued;
};

struct fifo_arg {
	struct fifo *f;
	int idx;
};

static void fifo_waiter(void *arg)
{
	struct fifo_arg *fa = arg;
	struct fifo *f = fa->f;

	atomic_fetch_add(&f->queued, 1);
	gort_sema_acquire(&f->s);
	f->order[atomic_fetch_add(&f->n, 1)] = fa->idx;
}

static int fifo_main(void *arg)
{
	struct fifo *f = arg;
	struct fifo_arg fa[NR_FIFO];
	int i;

	for (i = 0; i < NR_FIFO; i++) {
		fa[i].f = f;
		fa[i].idx = i;
		GCHECK(gort_go(fifo_waiter, &fa[i]) > 0);
		/* Let it queue up before the next one comes. */
		GCHECK(GT_WAIT_UNTIL(atomic_load(&f->queued) == i + 1, 1000));
		gort_sleep(GT_MS);
	}
	for (i = 0; i < NR_FIFO; i++) {
		gort_sema_release(&f->s);
		if (!GCHECK(GT_WAIT_UNTIL(atomic_load(&f->n) == i + 1, 2000)))
			_exit(1);	/* waiters still point into fa[] */
	}
	return 0;
}

TEST_F(sema, fifo)
{
	struct fifo f = { 0 };
	int i;

	ASSERT_EQ(0, gt_run(fifo_main, &f, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(NR_FIFO, atomic_load(&f.n));
	for (i = 0; i < NR_FIFO; i++)
		EXPECT_EQ(i, f.order[i]);
}

static const int64_t timeouts_ns[] = { 1 * GT_MS, 3 * GT_MS, 10 * GT_MS };

struct tmo {
	uint32_t s;
	int64_t took[GT_ARRAY_SIZE(timeouts_ns)];
	bool got[GT_ARRAY_SIZE(timeouts_ns)];
	bool in_time;
	bool after_timeout;
	uint32_t done;
};

static void late_releaser(void *arg)
{
	struct tmo *t = arg;

	gort_sleep(5 * GT_MS);
	gort_sema_release(&t->s);
}

static int timeout_main(void *arg)
{
	struct tmo *t = arg;
	size_t i;

	for (i = 0; i < GT_ARRAY_SIZE(timeouts_ns); i++) {
		int64_t t0 = gort_nanotime();

		t->got[i] = gort_sema_acquire_timeout(&t->s, timeouts_ns[i]);
		t->took[i] = gort_nanotime() - t0;
	}
	/* The timed-out waits left the queue: this release stays banked. */
	gort_sema_release(&t->s);
	GCHECK_EQ(t->s, 1);
	GCHECK(gort_sema_acquire_timeout(&t->s, 0));

	/* Released after 5 ms, well within the 2 s timeout. */
	GCHECK(gort_go(late_releaser, t) > 0);
	t->in_time = gort_sema_acquire_timeout(&t->s, 2000 * GT_MS);
	GCHECK_EQ(t->s, 0);
	return 0;
}

TEST_F(sema, timeout)
{
	struct tmo t = { 0 };
	size_t i;

	ASSERT_EQ(0, gt_run(timeout_main, &t, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	for (i = 0; i < GT_ARRAY_SIZE(timeouts_ns); i++) {
		EXPECT_FALSE(t.got[i]);
		EXPECT_GE(t.took[i], timeouts_ns[i]);
	}
	ASSERT_TRUE(t.in_time);
}

#define NR_TOKENS	3
#define NR_RACERS	16
#define NR_TRIES	2000

struct tokens {
	uint32_t s;
	atomic_int holders, max_holders;
	atomic_long acquired, timed_out;
	uint32_t done;
};

static void racer(void *arg)
{
	struct tokens *t = arg;
	int i, h;

	for (i = 0; i < NR_TRIES; i++) {
		/* 0..40 us: many time out while a release is on its way. */
		if (!gort_sema_acquire_timeout(&t->s, (int64_t)(i % 5) * 10 * GT_US)) {
			atomic_fetch_add(&t->timed_out, 1);
			continue;
		}
		h = atomic_fetch_add(&t->holders, 1) + 1;
		if (h > NR_TOKENS)
			GFAIL("%d holders of %d tokens", h, NR_TOKENS);
		if (h > atomic_load(&t->max_holders))
			atomic_store(&t->max_holders, h);
		if (i % 3 == 0)
			gort_yield();
		atomic_fetch_sub(&t->holders, 1);
		atomic_fetch_add(&t->acquired, 1);
		gort_sema_release(&t->s);
	}
	gort_sema_release(&t->done);
}

static int tokens_main(void *arg)
{
	struct tokens *t = arg;
	int i;

	t->s = NR_TOKENS;
	for (i = 0; i < NR_RACERS; i++)
		GCHECK(gort_go(racer, t) > 0);
	gt_sema_wait(&t->done, NR_RACERS, 20000);
	/* Every token is back and none was minted. */
	GCHECK_EQ(t->s, NR_TOKENS);
	for (i = 0; i < NR_TOKENS; i++)
		GCHECK(gort_sema_acquire_timeout(&t->s, 0));
	GCHECK(!gort_sema_acquire_timeout(&t->s, 0));
	return 0;
}

TEST_F(sema, tokens)
{
	struct tokens t = { 0 };

	ASSERT_EQ(0, gt_run(tokens_main, &t, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	TH_LOG("%ld acquired, %ld timed out", atomic_load(&t.acquired),
	       atomic_load(&t.timed_out));
	ASSERT_EQ((long)NR_RACERS * NR_TRIES,
		  atomic_load(&t.acquired) + atomic_load(&t.timed_out));
	ASSERT_GT(atomic_load(&t.acquired), 0);
}

TEST_HARNESS_MAIN
