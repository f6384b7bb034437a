/* SPDX-License-Identifier: MIT */
/*
 * Description: a send on an unbuffered channel (or a full buffered one)
 * completes only once a receiver takes the value, and a receive on an
 * empty channel only once a sender gives one.
 *
 * - send_waits: the sender blocks in send; the receiver sleeps, sets a
 *   flag, then receives.  When send returns the flag must be set: the
 *   send did not complete before the receiver started receiving.
 * - recv_waits: the mirror image, for a receiver blocked in recv.
 * - handoff: 20,000 round trips passing plain (non-atomic) data whose
 *   writes precede the send; the receiver must see them (the channel
 *   orders memory, as Go's memory model says).
 * Unbuffered and cap 1 (filled first, so the sender blocks), on 1 and 2
 * Ps.
 */
#include "../gort_test.h"

#define ROUNDS		5
#define NAP		(5 * GT_MS)
#define HANDOFFS	20000

FIXTURE(rendezvous) {
};

FIXTURE_VARIANT(rendezvous) {
	size_t cap;
	int maxprocs;
};

FIXTURE_VARIANT_ADD(rendezvous, cap0_procs1) { .cap = 0, .maxprocs = 1, };
FIXTURE_VARIANT_ADD(rendezvous, cap0_procs2) { .cap = 0, .maxprocs = 2, };
FIXTURE_VARIANT_ADD(rendezvous, cap1_procs1) { .cap = 1, .maxprocs = 1, };
FIXTURE_VARIANT_ADD(rendezvous, cap1_procs2) { .cap = 1, .maxprocs = 2, };

FIXTURE_SETUP(rendezvous)
{
}

FIXTURE_TEARDOWN(rendezvous)
{
}

struct rv_ctx {
	size_t cap;
	struct gort_chan *c;
	_Atomic int flag;		/* the other side is about to act */
	_Atomic int blocked;		/* the waiting side is about to block */
	uint32_t done;
	int completed;
};

/* Fill the buffer so the next send has to wait for a receiver. */
static void fill(struct rv_ctx *x, uint64_t base)
{
	uint64_t v;
	size_t i;

	for (i = 0; i < x->cap; i++) {
		v = base + i;
		GCHECK(gort_chan_trysend(x->c, &v));
	}
}

static void waiting_sender(void *arg)
{
	struct rv_ctx *x = arg;
	uint64_t v;
	int r;

	for (r = 0; r < ROUNDS; r++) {
		fill(x, 1000 * r);
		v = 1000 * r + 999;
		atomic_store(&x->blocked, 1);
		gort_chan_send(x->c, &v);
		/* The receiver set the flag before it started to receive. */
		if (!GCHECK_EQ(1, atomic_load(&x->flag)))
			break;
		atomic_store(&x->flag, 0);
		x->completed++;
		/* Let the receiver drain the rest before the next round. */
		GT_WAIT_UNTIL(atomic_load(&x->blocked) == 0, 5000);
	}
	gort_sema_release(&x->done);
}

static int send_waits_main(void *arg)
{
	struct rv_ctx *x = arg;
	uint64_t v;
	size_t i;
	int r;

	x->c = gort_chan_make(sizeof(uint64_t), x->cap, 0);
	if (!GCHECK(x->c))
		return 1;
	gort_go(waiting_sender, x);
	for (r = 0; r < ROUNDS; r++) {
		if (!GCHECK(GT_WAIT_UNTIL(atomic_load(&x->blocked), 5000)))
			return 1;
		/* Give the sender ample time to (wrongly) complete. */
		gort_sleep(NAP);
		atomic_store(&x->flag, 1);
		for (i = 0; i < x->cap; i++) {
			GCHECK(gort_chan_recv(x->c, &v));
			GCHECK_EQ(1000 * r + i, v);
		}
		GCHECK(gort_chan_recv(x->c, &v));
		GCHECK_EQ(1000 * r + 999, v);
		atomic_store(&x->blocked, 0);
	}
	if (!gt_sema_wait(&x->done, 1, 5000))
		return 1;
	GCHECK_EQ(0, gort_chan_len(x->c));
	gort_chan_free(x->c);
	return 0;
}

TEST_F(rendezvous, send_waits)
{
	struct rv_ctx x = { .cap = variant->cap };

	ASSERT_EQ(0, gt_run(send_waits_main, &x, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(ROUNDS, x.completed);
}

static void waiting_receiver(void *arg)
{
	struct rv_ctx *x = arg;
	uint64_t v;
	int r;

	for (r = 0; r < ROUNDS; r++) {
		v = 0;
		atomic_store(&x->blocked, 1);
		if (!GCHECK(gort_chan_recv(x->c, &v)))
			break;
		/* The sender set the flag before it started to send. */
		if (!GCHECK_EQ(1, atomic_load(&x->flag)))
			break;
		GCHECK_EQ(r + 7, v);
		atomic_store(&x->flag, 0);
		x->completed++;
		GT_WAIT_UNTIL(atomic_load(&x->blocked) == 0, 5000);
	}
	gort_sema_release(&x->done);
}

static int recv_waits_main(void *arg)
{
	struct rv_ctx *x = arg;
	uint64_t v;
	int r;

	x->c = gort_chan_make(sizeof(uint64_t), x->cap, 0);
	if (!GCHECK(x->c))
		return 1;
	gort_go(waiting_receiver, x);
	for (r = 0; r < ROUNDS; r++) {
		if (!GCHECK(GT_WAIT_UNTIL(atomic_load(&x->blocked), 5000)))
			return 1;
		gort_sleep(NAP);
		atomic_store(&x->flag, 1);
		v = r + 7;
		gort_chan_send(x->c, &v);
		/* Wait until it was taken before starting the next round. */
		if (!GCHECK(GT_WAIT_UNTIL(atomic_load(&x->flag) == 0, 5000)))
			return 1;
		atomic_store(&x->blocked, 0);
	}
	if (!gt_sema_wait(&x->done, 1, 5000))
		return 1;
	gort_chan_free(x->c);
	return 0;
}

TEST_F(rendezvous, recv_waits)
{
	struct rv_ctx x = { .cap = variant->cap };

	ASSERT_EQ(0, gt_run(recv_waits_main, &x, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(ROUNDS, x.completed);
}

/* ---- handoff ---- */

struct payload {
	uint64_t a, b, c;		/* written before the send, plain */
};

struct handoff_ctx {
	size_t cap;
	struct gort_chan *fwd, *back;
	struct payload *slots;
	uint32_t done;
	int seen;
};

static void handoff_peer(void *arg)
{
	struct handoff_ctx *x = arg;
	struct payload *p;
	uint64_t i;

	for (i = 0; i < HANDOFFS; i++) {
		if (!GCHECK(gort_chan_recv(x->fwd, &p)))
			break;
		/* The writes before the send are visible after the receive. */
		if (!GCHECK_EQ(i, p->a) || !GCHECK_EQ(~i, p->b) ||
		    !GCHECK_EQ(i * 3 + 1, p->c))
			break;
		p->a = 0;
		p->c = i * 5;
		gort_chan_send(x->back, &p);
		x->seen++;
	}
	gort_sema_release(&x->done);
}

static int handoff_main(void *arg)
{
	struct handoff_ctx *x = arg;
	struct payload *p;
	uint64_t i;

	x->fwd = gort_chan_make(sizeof(p), x->cap, GORT_CHAN_NOSCAN);
	x->back = gort_chan_make(sizeof(p), 1, GORT_CHAN_NOSCAN);
	x->slots = calloc(4, sizeof(*x->slots));
	if (!GCHECK(x->fwd && x->back && x->slots))
		return 1;
	gort_go(handoff_peer, x);
	for (i = 0; i < HANDOFFS; i++) {
		p = &x->slots[i % 4];
		p->a = i;
		p->b = ~i;
		p->c = i * 3 + 1;
		gort_chan_send(x->fwd, &p);
		if (!GCHECK(gort_chan_recv(x->back, &p)))
			break;
		if (!GCHECK_EQ(0, p->a) || !GCHECK_EQ(i * 5, p->c))
			break;
	}
	if (!gt_sema_wait(&x->done, 1, 10000))
		return 1;
	free(x->slots);
	gort_chan_free(x->fwd);
	gort_chan_free(x->back);
	return 0;
}

TEST_F(rendezvous, handoff)
{
	struct handoff_ctx x = { .cap = variant->cap };

	ASSERT_EQ(0, gt_run(handoff_main, &x, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(HANDOFFS, x.seen);
}

TEST_HARNESS_MAIN
