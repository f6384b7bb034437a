/* SPDX-License-Identifier: MIT */
/*
 * Description: many senders and many receivers on shared channels lose
 * nothing and duplicate nothing.
 *
 * Each sender s sends the values (s << 40) | seq, seq = 0, 1, 2, ...;
 * the last sender to finish closes the channel, and receivers run until
 * recv reports it closed.  Checked afterwards: every value was received
 * exactly once (a bitmap per sender, set atomically: a second arrival is
 * a duplicate, a clear bit a loss), the count, sum and xor of all values
 * received match those sent, and each receiver saw each sender's values
 * in increasing order (a channel is FIFO: two values one sender sent in
 * order are received in order by any one receiver).
 *
 * Variants: 8 x 8 goroutines, unbuffered and buffered (cap 1, 64), on 1
 * and 2 Ps; 1 x 8 and 8 x 1; and receivers that select over two
 * channels (even senders on one, odd on the other, each closed when its
 * last sender is done) instead of receiving from one.
 */
#include "../gort_test.h"

#define MAX_G		16
#define SEQ_BITS	40

enum mode { PLAIN, SELECT2 };

FIXTURE(stress) {
};

FIXTURE_VARIANT(stress) {
	int senders, receivers;
	size_t cap;
	int maxprocs;
	enum mode mode;
	long total;
};

#define STRESS(name, s, r, c, procs, m, n)				\
	FIXTURE_VARIANT_ADD(stress, name) {				\
		.senders = s, .receivers = r, .cap = c,			\
		.maxprocs = procs, .mode = m, .total = n,		\
	}

STRESS(s8r8_cap0_procs1, 8, 8, 0, 1, PLAIN, 1000000);
STRESS(s8r8_cap0_procs2, 8, 8, 0, 2, PLAIN, 1000000);
STRESS(s8r8_cap1_procs1, 8, 8, 1, 1, PLAIN, 1000000);
STRESS(s8r8_cap1_procs2, 8, 8, 1, 2, PLAIN, 1000000);
STRESS(s8r8_cap64_procs1, 8, 8, 64, 1, PLAIN, 1000000);
STRESS(s8r8_cap64_procs2, 8, 8, 64, 2, PLAIN, 1000000);
STRESS(s1r8_cap0_procs2, 1, 8, 0, 2, PLAIN, 200000);
STRESS(s8r1_cap0_procs2, 8, 1, 0, 2, PLAIN, 200000);
STRESS(select_s8r8_cap0_procs1, 8, 8, 0, 1, SELECT2, 1000000);
STRESS(select_s8r8_cap0_procs2, 8, 8, 0, 2, SELECT2, 1000000);
STRESS(select_s8r8_cap16_procs1, 8, 8, 16, 1, SELECT2, 1000000);
STRESS(select_s8r8_cap16_procs2, 8, 8, 16, 2, SELECT2, 1000000);

FIXTURE_SETUP(stress)
{
}

FIXTURE_TEARDOWN(stress)
{
}

struct stress_ctx {
	const FIXTURE_VARIANT(stress) *v;
	long per_sender;
	struct gort_chan *c[2];
	_Atomic int left[2];		/* senders still sending on c[i] */
	_Atomic uint64_t *seen[MAX_G];	/* bitmap per sender */
	_Atomic long dups, disorder, bad;
	_Atomic long count;
	_Atomic uint64_t sum, xor;
	uint32_t done;
	struct sender_arg {
		struct stress_ctx *x;
		int s;
	} args[MAX_G];
};

static int chan_of(const struct stress_ctx *x, int s)
{
	return x->v->mode == SELECT2 ? s % 2 : 0;
}

static void sender(void *arg)
{
	struct sender_arg *a = arg;
	struct stress_ctx *x = a->x;
	int s = a->s;
	struct gort_chan *c = x->c[chan_of(x, s)];
	uint64_t v;
	long i;

	for (i = 0; i < x->per_sender; i++) {
		v = (uint64_t)s << SEQ_BITS | (uint64_t)i;
		gort_chan_send(c, &v);
	}
	if (atomic_fetch_sub(&x->left[chan_of(x, s)], 1) == 1)
		gort_chan_close(c);
	gort_sema_release(&x->done);
}

struct rstate {
	int64_t last[MAX_G];
	long count;
	uint64_t sum, xor;
};

static void take(struct stress_ctx *x, struct rstate *rs, uint64_t v)
{
	int s = (int)(v >> SEQ_BITS);
	int64_t seq = (int64_t)(v & ((1ull << SEQ_BITS) - 1));
	uint64_t bit;

	if (s >= x->v->senders || seq >= x->per_sender) {
		if (atomic_fetch_add(&x->bad, 1) < 5)
			GFAIL("received a value never sent: %#llx", (unsigned long long)v);
		return;
	}
	bit = 1ull << (seq % 64);
	if (atomic_fetch_or(&x->seen[s][seq / 64], bit) & bit) {
		if (atomic_fetch_add(&x->dups, 1) < 5)
			GFAIL("sender %d value %lld received twice", s, (long long)seq);
	}
	if (seq <= rs->last[s]) {
		if (atomic_fetch_add(&x->disorder, 1) < 5)
			GFAIL("sender %d: %lld received after %lld", s,
			      (long long)seq, (long long)rs->last[s]);
	}
	rs->last[s] = seq;
	rs->count++;
	rs->sum += v;
	rs->xor ^= v;
}

static void receiver(void *arg)
{
	struct stress_ctx *x = arg;
	struct rstate rs = { .count = 0 };
	struct gort_select_case cs[2];
	uint64_t v, w;
	int i, open;

	for (i = 0; i < MAX_G; i++)
		rs.last[i] = -1;
	if (x->v->mode == PLAIN) {
		while (gort_chan_recv(x->c[0], &v))
			take(x, &rs, v);
	} else {
		cs[0] = (struct gort_select_case){ .c = x->c[0], .dir = GORT_SELECT_RECV, .elem = &v };
		cs[1] = (struct gort_select_case){ .c = x->c[1], .dir = GORT_SELECT_RECV, .elem = &w };
		for (open = 2; open;) {
			int k = gort_select(cs, 2, true);

			if (!GCHECK(k == 0 || k == 1))
				break;
			if (!cs[k].ok) {
				/* Closed: Go's idiom, a nil channel is never ready. */
				cs[k].c = NULL;
				open--;
				continue;
			}
			take(x, &rs, k ? w : v);
		}
	}
	atomic_fetch_add(&x->count, rs.count);
	atomic_fetch_add(&x->sum, rs.sum);
	atomic_fetch_xor(&x->xor, rs.xor);
	gort_sema_release(&x->done);
}

static int stress_main(void *arg)
{
	struct stress_ctx *x = arg;
	int nchan = x->v->mode == SELECT2 ? 2 : 1, i;

	for (i = 0; i < nchan; i++) {
		x->c[i] = gort_chan_make(sizeof(uint64_t), x->v->cap, GORT_CHAN_NOSCAN);
		if (!GCHECK(x->c[i]))
			return 1;
	}
	for (i = 0; i < x->v->senders; i++)
		atomic_fetch_add(&x->left[chan_of(x, i)], 1);
	for (i = 0; i < x->v->receivers; i++)
		gort_go(receiver, x);
	for (i = 0; i < x->v->senders; i++) {
		x->args[i] = (struct sender_arg){ .x = x, .s = i };
		gort_go(sender, &x->args[i]);
	}
	if (!gt_sema_wait(&x->done, x->v->senders + x->v->receivers, 25000))
		return 1;
	for (i = 0; i < nchan; i++) {
		GCHECK_EQ(0, gort_chan_len(x->c[i]));
		gort_chan_free(x->c[i]);
	}
	return 0;
}

TEST_F(stress, exactly_once)
{
	struct stress_ctx x = { .v = variant };
	uint64_t sum = 0, xor = 0;
	long missing = 0, i;
	int s;

	ASSERT_LE(variant->senders, MAX_G);
	x.per_sender = variant->total / variant->senders;
	for (s = 0; s < variant->senders; s++) {
		x.seen[s] = calloc((size_t)(x.per_sender + 63) / 64, sizeof(uint64_t));
		ASSERT_NE(NULL, x.seen[s]);
		for (i = 0; i < x.per_sender; i++) {
			uint64_t v = (uint64_t)s << SEQ_BITS | (uint64_t)i;

			sum += v;
			xor ^= v;
		}
	}
	ASSERT_EQ(0, gt_run(stress_main, &x, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	for (s = 0; s < variant->senders; s++) {
		for (i = 0; i < x.per_sender; i++)
			if (!(atomic_load(&x.seen[s][i / 64]) & (1ull << (i % 64))))
				missing++;
		free((void *)x.seen[s]);
	}
	EXPECT_EQ(0, missing);
	EXPECT_EQ(0, atomic_load(&x.dups));
	EXPECT_EQ(0, atomic_load(&x.disorder));
	EXPECT_EQ(0, atomic_load(&x.bad));
	EXPECT_EQ(x.per_sender * variant->senders, atomic_load(&x.count));
	EXPECT_EQ(sum, atomic_load(&x.sum));
	EXPECT_EQ(xor, atomic_load(&x.xor));
}

TEST_HARNESS_MAIN
