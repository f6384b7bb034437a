/* SPDX-License-Identifier: MIT */
/*
 * Description: gort_mutex mutual exclusion, trylock, starvation mode and
 * the fatal unlock of an unlocked mutex.
 *
 * - counter: 16 goroutines x 20,000 increments of a plain (non-atomic)
 *   counter under the mutex, sometimes yielding while holding it so that
 *   waiters park; the total must be exact and no two holders overlap.
 * - trylock: succeeds on an unlocked mutex only, also from another
 *   goroutine while held.
 * - starvation: a holder that keeps the mutex for 2 ms at a time and
 *   re-locks right after unlocking must not starve the waiters: once they
 *   have waited over 1 ms, ownership is handed to them, so all of them get
 *   the mutex within a few of the holder's rounds.
 * - unlock_unlocked: "fatal error: sync: unlock of unlocked mutex", with a
 *   traceback and exit code 2, for a never-locked and a doubly unlocked
 *   mutex.
 * Each on 1 and 2 Ps.
 */
#include "../gort_test.h"

FIXTURE(mutex) {
	struct gort_mutex mu;
	long counter;			/* protected by mu */
	int holders;			/* protected by mu */
	uint32_t done;
	struct gt_child child;
};

FIXTURE_VARIANT(mutex) {
	int maxprocs;
};

FIXTURE_VARIANT_ADD(mutex, procs1) { .maxprocs = 1, };
FIXTURE_VARIANT_ADD(mutex, procs2) { .maxprocs = 2, };

FIXTURE_SETUP(mutex)
{
}

FIXTURE_TEARDOWN(mutex)
{
	gt_child_free(&self->child);
}

#define NR_LOCKERS	16
#define NR_INCS		20000

static void locker(void *arg)
{
	FIXTURE_DATA(mutex) *self = arg;
	int i;

	for (i = 0; i < NR_INCS; i++) {
		gort_mutex_lock(&self->mu);
		if (self->holders++ != 0)
			GFAIL("two goroutines hold the mutex");
		self->counter++;
		if (i % 512 == 0)
			gort_yield();	/* let others pile up on the mutex */
		self->holders--;
		gort_mutex_unlock(&self->mu);
	}
	gort_sema_release(&self->done);
}

static int counter_main(void *arg)
{
	FIXTURE_DATA(mutex) *self = arg;
	int i;

	for (i = 0; i < NR_LOCKERS; i++)
		GCHECK(gort_go(locker, self) > 0);
	if (gt_sema_wait(&self->done, NR_LOCKERS, 20000)) {
		/* Left unlocked. */
		GCHECK(gort_mutex_trylock(&self->mu));
		gort_mutex_unlock(&self->mu);
	}
	return 0;
}

TEST_F(mutex, counter)
{
	ASSERT_EQ(0, gt_run(counter_main, self, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ((long)NR_LOCKERS * NR_INCS, self->counter);
}

static void try_other(void *arg)
{
	FIXTURE_DATA(mutex) *self = arg;

	/* main holds it */
	GCHECK(!gort_mutex_trylock(&self->mu));
	gort_sema_release(&self->done);
}

static int trylock_main(void *arg)
{
	FIXTURE_DATA(mutex) *self = arg;

	GCHECK(gort_mutex_trylock(&self->mu));
	GCHECK(!gort_mutex_trylock(&self->mu));
	GCHECK(gort_go(try_other, self) > 0);
	gt_sema_wait(&self->done, 1, 5000);
	gort_mutex_unlock(&self->mu);
	GCHECK(gort_mutex_trylock(&self->mu));
	gort_mutex_unlock(&self->mu);
	/* trylock and lock interoperate */
	gort_mutex_lock(&self->mu);
	GCHECK(!gort_mutex_trylock(&self->mu));
	gort_mutex_unlock(&self->mu);
	GCHECK(gort_mutex_trylock(&self->mu));
	gort_mutex_unlock(&self->mu);
	return 0;
}

TEST_F(mutex, trylock)
{
	ASSERT_EQ(0, gt_run(trylock_main, self, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

#define NR_WAITERS	3
#define HOLD_NS		(2 * GT_MS)
#define MAX_ROUNDS	50

struct starve {
	struct gort_mutex mu;
	int acquired;		/* waiters that got it; protected by mu */
	int rounds;		/* holder's rounds until all had it */
	atomic_int holder_has_it;
	uint32_t done;
};

static void starve_waiter(void *arg)
{
	struct starve *s = arg;

	gort_mutex_lock(&s->mu);
	s->acquired++;
	gort_mutex_unlock(&s->mu);
	gort_sema_release(&s->done);
}

static void starve_holder(void *arg)
{
	struct starve *s = arg;
	int i;

	for (i = 0; i < MAX_ROUNDS; i++) {
		gort_mutex_lock(&s->mu);
		atomic_store(&s->holder_has_it, 1);
		if (s->acquired == NR_WAITERS) {
			gort_mutex_unlock(&s->mu);
			break;
		}
		gort_sleep(HOLD_NS);
		/* Unlock and immediately lock again: barging. */
		gort_mutex_unlock(&s->mu);
	}
	s->rounds = i;
	gort_sema_release(&s->done);
}

static int starve_main(void *arg)
{
	struct starve *s = arg;
	int i;

	GCHECK(gort_go(starve_holder, s) > 0);
	GCHECK(GT_WAIT_UNTIL(atomic_load(&s->holder_has_it), 1000));
	for (i = 0; i < NR_WAITERS; i++)
		GCHECK(gort_go(starve_waiter, s) > 0);
	gt_sema_wait(&s->done, NR_WAITERS + 1, 10000);
	return 0;
}

TEST_F(mutex, starvation)
{
	struct starve s = { 0 };

	ASSERT_EQ(0, gt_run(starve_main, &s, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	TH_LOG("%d of %d waiters had the mutex after %d rounds of the holder",
	       s.acquired, NR_WAITERS, s.rounds);
	ASSERT_EQ(NR_WAITERS, s.acquired);
	ASSERT_LT(s.rounds, MAX_ROUNDS);
}

static bool double_unlock;
static int cur_procs;

static int bad_unlock_main(void *arg)
{
	struct gort_mutex mu = GORT_MUTEX_INIT;

	(void)arg;
	if (double_unlock) {
		gort_mutex_lock(&mu);
		gort_mutex_unlock(&mu);
	}
	gort_mutex_unlock(&mu);
	fprintf(stderr, "unlock of an unlocked mutex returned\n");
	return 0;
}

static int bad_unlock_child(void *arg)
{
	(void)arg;
	return gt_run(bad_unlock_main, NULL, cur_procs);
}

static void check_bad_unlock(struct __test_metadata *_metadata,
			     struct gt_child *c)
{
	ASSERT_EQ(0, gt_fork_capture(c, bad_unlock_child, NULL, 10000));
	if (gt_exit_code(c) != 2)
		gt_child_dump(c, "child");
	ASSERT_FALSE(c->timed_out);
	ASSERT_NE(NULL, strstr(c->out, "fatal error: sync: unlock of unlocked mutex"));
	ASSERT_NE(NULL, strstr(c->out, "goroutine 1 ["));
	ASSERT_EQ(2, gt_exit_code(c));
}

TEST_F(mutex, unlock_unlocked)
{
	cur_procs = variant->maxprocs;
	double_unlock = false;
	check_bad_unlock(_metadata, &self->child);
}

TEST_F(mutex, double_unlock)
{
	cur_procs = variant->maxprocs;
	double_unlock = true;
	check_bad_unlock(_metadata, &self->child);
}

TEST_HARNESS_MAIN
