/* SPDX-License-Identifier: MIT */
/*
 * Description: gort_cond producer/consumer without lost wakeups, signal
 * waking one waiter, broadcast waking all.
 *
 * - queue: 4 producers and 4 consumers pass 40,000 items through a ring of
 *   8 slots guarded by one mutex and two Conds (not_full, not_empty),
 *   using signal; every item arrives exactly once.  A lost wakeup stalls
 *   the queue, which fails the test after a timeout instead of hanging.
 * - queue_broadcast: the same with broadcast instead of signal.
 * - broadcast: 50 goroutines parked on a Cond all wake on one broadcast.
 * - signal_one: each signal wakes exactly one of 10 parked waiters.
 * - no_banking: signal and broadcast with nobody waiting are lost, as in
 *   Go: a later waiter still parks until the next signal.
 * Each on 1 and 2 Ps.
 */
#include "../gort_test.h"

FIXTURE(cond) {
	int dummy;
};

FIXTURE_VARIANT(cond) {
	int maxprocs;
};

FIXTURE_VARIANT_ADD(cond, procs1) { .maxprocs = 1, };
FIXTURE_VARIANT_ADD(cond, procs2) { .maxprocs = 2, };

FIXTURE_SETUP(cond)
{
}

FIXTURE_TEARDOWN(cond)
{
}

#define NR_PRODUCERS	4
#define NR_CONSUMERS	4
#define NR_ITEMS	40000	/* in total, a multiple of both */
#define RING		8

struct queue {
	struct gort_mutex mu;
	struct gort_cond not_full, not_empty;
	int ring[RING];
	int head, len;			/* protected by mu */
	bool broadcast;
	unsigned char seen[NR_ITEMS];	/* protected by mu */
	int consumed;			/* protected by mu */
	uint32_t done;
};

struct producer_arg {
	struct queue *q;
	int first;
};

static void wake(struct queue *q, struct gort_cond *c)
{
	if (q->broadcast)
		gort_cond_broadcast(c);
	else
		gort_cond_signal(c);
}

static void producer(void *arg)
{
	struct producer_arg *pa = arg;
	struct queue *q = pa->q;
	int item;

	/* producer k makes items k, k + P, k + 2P, ... */
	for (item = pa->first; item < NR_ITEMS; item += NR_PRODUCERS) {
		gort_mutex_lock(&q->mu);
		while (q->len == RING)
			gort_cond_wait(&q->not_full);
		q->ring[(q->head + q->len) % RING] = item;
		q->len++;
		wake(q, &q->not_empty);
		gort_mutex_unlock(&q->mu);
	}
	gort_sema_release(&q->done);
}

static void consumer(void *arg)
{
	struct queue *q = arg;
	int i, item;

	for (i = 0; i < NR_ITEMS / NR_CONSUMERS; i++) {
		gort_mutex_lock(&q->mu);
		while (q->len == 0)
			gort_cond_wait(&q->not_empty);
		item = q->ring[q->head];
		q->head = (q->head + 1) % RING;
		q->len--;
		if (!GCHECK(item >= 0 && item < NR_ITEMS) ||
		    !GCHECK_EQ(q->seen[item], 0)) {
			gort_mutex_unlock(&q->mu);
			break;
		}
		q->seen[item] = 1;
		q->consumed++;
		wake(q, &q->not_full);
		gort_mutex_unlock(&q->mu);
	}
	gort_sema_release(&q->done);
}

static int queue_main(void *arg)
{
	struct queue *q = arg;
	struct producer_arg pa[NR_PRODUCERS];
	int i;

	gort_cond_init(&q->not_full, &q->mu);
	gort_cond_init(&q->not_empty, &q->mu);
	for (i = 0; i < NR_CONSUMERS; i++)
		GCHECK(gort_go(consumer, q) > 0);
	for (i = 0; i < NR_PRODUCERS; i++) {
		pa[i].q = q;
		pa[i].first = i;
		GCHECK(gort_go(producer, &pa[i]) > 0);
	}
	/* pa[] lives until here: everyone is done or we give up. */
	if (!gt_sema_wait(&q->done, NR_PRODUCERS + NR_CONSUMERS, 20000)) {
		/* Racy read, for the message only. */
		fprintf(stderr, "# stalled: %d consumed, %d queued\n",
			q->consumed, q->len);
		_exit(1);	/* producers may still use pa[] */
	}
	return 0;
}

static void check_queue(struct __test_metadata *_metadata, bool broadcast,
			int procs)
{
	struct queue *q = calloc(1, sizeof(*q));
	int i, missing = 0;

	ASSERT_NE(NULL, q);
	q->broadcast = broadcast;
	ASSERT_EQ(0, gt_run(queue_main, q, procs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(NR_ITEMS, q->consumed);
	ASSERT_EQ(0, q->len);
	for (i = 0; i < NR_ITEMS; i++)
		missing += !q->seen[i];
	ASSERT_EQ(0, missing);
	free(q);
}

TEST_F(cond, queue)
{
	check_queue(_metadata, false, variant->maxprocs);
}

TEST_F(cond, queue_broadcast)
{
	check_queue(_metadata, true, variant->maxprocs);
}

#define NR_WAITERS	50

struct crowd {
	struct gort_mutex mu;
	struct gort_cond c;
	int waiting;		/* protected by mu */
	int go;			/* protected by mu: waiters allowed out */
	atomic_int woken;
	uint32_t done;
};

static void crowd_waiter(void *arg)
{
	struct crowd *cr = arg;

	gort_mutex_lock(&cr->mu);
	cr->waiting++;
	while (cr->go == 0)
		gort_cond_wait(&cr->c);
	cr->go--;
	cr->waiting--;
	atomic_fetch_add(&cr->woken, 1);
	gort_mutex_unlock(&cr->mu);
	gort_sema_release(&cr->done);
}

static int waiting(struct crowd *cr)
{
	int n;

	gort_mutex_lock(&cr->mu);
	n = cr->waiting;
	gort_mutex_unlock(&cr->mu);
	return n;
}

static int broadcast_main(void *arg)
{
	struct crowd *cr = arg;
	int i;

	gort_cond_init(&cr->c, &cr->mu);
	for (i = 0; i < NR_WAITERS; i++)
		GCHECK(gort_go(crowd_waiter, cr) > 0);
	/* Counted under the mutex, so all are inside gort_cond_wait(). */
	if (!GCHECK(GT_WAIT_UNTIL(waiting(cr) == NR_WAITERS, 5000)))
		return 0;
	gort_mutex_lock(&cr->mu);
	cr->go = NR_WAITERS;
	gort_cond_broadcast(&cr->c);
	gort_mutex_unlock(&cr->mu);
	gt_sema_wait(&cr->done, NR_WAITERS, 5000);
	return 0;
}

TEST_F(cond, broadcast)
{
	struct crowd cr = { 0 };

	ASSERT_EQ(0, gt_run(broadcast_main, &cr, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(NR_WAITERS, atomic_load(&cr.woken));
}

#define NR_SIGNALLED	10

/*
 * Waiters here leave on any wakeup (no predicate loop), so an extra or
 * spurious wakeup shows up in the count.
 */
static void once_waiter(void *arg)
{
	struct crowd *cr = arg;

	gort_mutex_lock(&cr->mu);
	cr->waiting++;
	gort_cond_wait(&cr->c);
	cr->waiting--;
	atomic_fetch_add(&cr->woken, 1);
	gort_mutex_unlock(&cr->mu);
	gort_sema_release(&cr->done);
}

static int signal_main(void *arg)
{
	struct crowd *cr = arg;
	int i;

	gort_cond_init(&cr->c, &cr->mu);
	for (i = 0; i < NR_SIGNALLED; i++)
		GCHECK(gort_go(once_waiter, cr) > 0);
	if (!GCHECK(GT_WAIT_UNTIL(waiting(cr) == NR_SIGNALLED, 5000)))
		return 0;
	for (i = 1; i <= NR_SIGNALLED; i++) {
		gort_cond_signal(&cr->c);
		if (!GCHECK(GT_WAIT_UNTIL(atomic_load(&cr->woken) >= i, 5000)))
			return 0;
		/* Give a second wakeup the chance to show. */
		gort_sleep(GT_MS);
		if (!GCHECK_EQ(atomic_load(&cr->woken), i))
			return 0;
	}
	gt_sema_wait(&cr->done, NR_SIGNALLED, 5000);
	return 0;
}

TEST_F(cond, signal_one)
{
	struct crowd cr = { 0 };

	ASSERT_EQ(0, gt_run(signal_main, &cr, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(NR_SIGNALLED, atomic_load(&cr.woken));
}

static int banking_main(void *arg)
{
	struct crowd *cr = arg;

	gort_cond_init(&cr->c, &cr->mu);
	gort_cond_signal(&cr->c);
	gort_cond_broadcast(&cr->c);
	GCHECK(gort_go(once_waiter, cr) > 0);
	GCHECK(GT_WAIT_UNTIL(waiting(cr) == 1, 5000));
	gort_sleep(5 * GT_MS);
	GCHECK_EQ(atomic_load(&cr->woken), 0);
	gort_cond_signal(&cr->c);
	gt_sema_wait(&cr->done, 1, 5000);
	return 0;
}

TEST_F(cond, no_banking)
{
	struct crowd cr = { 0 };

	ASSERT_EQ(0, gt_run(banking_main, &cr, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(1, atomic_load(&cr.woken));
}

TEST_HARNESS_MAIN
