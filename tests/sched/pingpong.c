/* SPDX-License-Identifier: MIT */
/*
 * Description: two goroutines ping-pong 100,000 times.
 *
 * One round trip is a hand-off from "ping" to "pong" and back, either
 * through a pair of semaphores (gort_sema_release / gort_sema_acquire) or
 * through a mutex-protected turn variable and a Cond.  A plain (non-atomic)
 * turn variable is checked at every step, so a wakeup without the matching
 * release, a lost wakeup or a missing memory barrier is caught, and the
 * number of completed rounds must be exact.  Runs on 1 and 2 Ps.
 */
#include "../gort_test.h"

#define NR_ROUNDS	100000

FIXTURE(pingpong) {
	uint32_t to_pong, to_ping;	/* semaphores */
	struct gort_mutex mu;
	struct gort_cond cond;
	int turn;			/* 0: ping's, 1: pong's */
	long pings, pongs;
	uint32_t done;
};

FIXTURE_VARIANT(pingpong) {
	int maxprocs;
};

FIXTURE_VARIANT_ADD(pingpong, procs1) { .maxprocs = 1, };
FIXTURE_VARIANT_ADD(pingpong, procs2) { .maxprocs = 2, };

FIXTURE_SETUP(pingpong)
{
	gort_cond_init(&self->cond, &self->mu);
}

FIXTURE_TEARDOWN(pingpong)
{
}

static void sema_ping(void *arg)
{
	FIXTURE_DATA(pingpong) *self = arg;
	long i;

	for (i = 0; i < NR_ROUNDS; i++) {
		if (!GCHECK_EQ(self->turn, 0))
			break;
		self->turn = 1;
		self->pings++;
		gort_sema_release(&self->to_pong);
		gort_sema_acquire(&self->to_ping);
	}
	gort_sema_release(&self->done);
}

static void sema_pong(void *arg)
{
	FIXTURE_DATA(pingpong) *self = arg;
	long i;

	for (i = 0; i < NR_ROUNDS; i++) {
		gort_sema_acquire(&self->to_pong);
		if (!GCHECK_EQ(self->turn, 1))
			break;
		self->turn = 0;
		self->pongs++;
		gort_sema_release(&self->to_ping);
	}
	gort_sema_release(&self->done);
}

static void cond_ping(void *arg)
{
	FIXTURE_DATA(pingpong) *self = arg;
	long i;

	for (i = 0; i < NR_ROUNDS; i++) {
		gort_mutex_lock(&self->mu);
		while (self->turn != 0)
			gort_cond_wait(&self->cond);
		self->turn = 1;
		self->pings++;
		gort_cond_signal(&self->cond);
		gort_mutex_unlock(&self->mu);
	}
	gort_sema_release(&self->done);
}

static void cond_pong(void *arg)
{
	FIXTURE_DATA(pingpong) *self = arg;
	long i;

	for (i = 0; i < NR_ROUNDS; i++) {
		gort_mutex_lock(&self->mu);
		while (self->turn != 1)
			gort_cond_wait(&self->cond);
		self->turn = 0;
		self->pongs++;
		gort_cond_signal(&self->cond);
		gort_mutex_unlock(&self->mu);
	}
	gort_sema_release(&self->done);
}

struct pair {
	FIXTURE_DATA(pingpong) *self;
	void (*ping)(void *arg);
	void (*pong)(void *arg);
};

static int pingpong_main(void *arg)
{
	struct pair *p = arg;

	GCHECK(gort_go(p->pong, p->self) > 0);
	GCHECK(gort_go(p->ping, p->self) > 0);
	/* A lost wakeup would hang both: fail instead. */
	gt_sema_wait(&p->self->done, 2, 20000);
	return 0;
}

TEST_F(pingpong, sema)
{
	struct pair p = { self, sema_ping, sema_pong };

	ASSERT_EQ(0, gt_run(pingpong_main, &p, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(NR_ROUNDS, self->pings);
	ASSERT_EQ(NR_ROUNDS, self->pongs);
	ASSERT_EQ(0, self->turn);
}

TEST_F(pingpong, mutex_cond)
{
	struct pair p = { self, cond_ping, cond_pong };

	ASSERT_EQ(0, gt_run(pingpong_main, &p, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(NR_ROUNDS, self->pings);
	ASSERT_EQ(NR_ROUNDS, self->pongs);
	ASSERT_EQ(0, self->turn);
}

TEST_HARNESS_MAIN
