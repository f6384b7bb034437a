/* SPDX-License-Identifier: MIT */
/*
 * Description: a channel is a FIFO that copies its elements exactly.
 *
 * - order: one sender, one receiver, 100,000 values; the receiver must
 *   see 0, 1, 2, ... in order, then ok = false once the sender closed.
 *   Unbuffered and buffered (cap 1, 16), on 1 and 2 Ps.
 * - try: len and cap; trysend on a full channel (an unbuffered one with
 *   no receiver) is false, tryrecv on an empty one is 0, on a closed and
 *   drained one -1 with the element zeroed; trysend succeeds with a
 *   receiver blocked, tryrecv with a sender blocked.  Cap 0, 1 and 16.
 * - elem: elements of 1, 8, 24, 100, 4096 and 65535 bytes arrive byte
 *   for byte, nothing written past the element; a NULL receive buffer
 *   discards.  Unbuffered, and buffered with and without NOSCAN.
 * - make_errors: elemsize >= 65536 and unknown flags are EINVAL; an
 *   absurd capacity fails cleanly; 65535 bytes and elemsize 0 work.
 */
#include "../gort_test.h"

/* ---- order ---- */

#define NR_VALUES	100000

FIXTURE(order) {
};

FIXTURE_VARIANT(order) {
	size_t cap;
	int maxprocs;
};

FIXTURE_VARIANT_ADD(order, cap0_procs1) { .cap = 0, .maxprocs = 1, };
FIXTURE_VARIANT_ADD(order, cap0_procs2) { .cap = 0, .maxprocs = 2, };
FIXTURE_VARIANT_ADD(order, cap1_procs1) { .cap = 1, .maxprocs = 1, };
FIXTURE_VARIANT_ADD(order, cap1_procs2) { .cap = 1, .maxprocs = 2, };
FIXTURE_VARIANT_ADD(order, cap16_procs1) { .cap = 16, .maxprocs = 1, };
FIXTURE_VARIANT_ADD(order, cap16_procs2) { .cap = 16, .maxprocs = 2, };

FIXTURE_SETUP(order)
{
}

FIXTURE_TEARDOWN(order)
{
}

struct order_ctx {
	size_t cap;
	struct gort_chan *c;
	uint32_t done;
	long received;
	bool closed_seen;
};

static void order_sender(void *arg)
{
	struct order_ctx *x = arg;
	uint64_t v;

	for (v = 0; v < NR_VALUES; v++)
		gort_chan_send(x->c, &v);
	gort_chan_close(x->c);
	gort_sema_release(&x->done);
}

static void order_receiver(void *arg)
{
	struct order_ctx *x = arg;
	uint64_t v, want = 0;

	for (;;) {
		v = ~0ull;
		if (!gort_chan_recv(x->c, &v))
			break;
		if (!GCHECK_EQ(want, v))
			break;
		GCHECK(gort_chan_len(x->c) <= x->cap);
		want++;
	}
	x->received = (long)want;
	x->closed_seen = want == NR_VALUES && v == 0;
	gort_sema_release(&x->done);
}

static int order_main(void *arg)
{
	struct order_ctx *x = arg;

	x->c = gort_chan_make(sizeof(uint64_t), x->cap, GORT_CHAN_NOSCAN);
	if (!GCHECK(x->c))
		return 1;
	GCHECK_EQ(x->cap, gort_chan_cap(x->c));
	gort_go(order_receiver, x);
	gort_go(order_sender, x);
	if (!gt_sema_wait(&x->done, 2, 20000))
		return 1;
	GCHECK_EQ(0, gort_chan_len(x->c));
	gort_chan_free(x->c);
	return 0;
}

TEST_F(order, one_to_one)
{
	struct order_ctx x = { .cap = variant->cap };

	ASSERT_EQ(0, gt_run(order_main, &x, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(NR_VALUES, x.received);
	ASSERT_TRUE(x.closed_seen);
}

/* ---- try ---- */

FIXTURE(try) {
};

FIXTURE_VARIANT(try) {
	size_t cap;
};

FIXTURE_VARIANT_ADD(try, cap0) { .cap = 0, };
FIXTURE_VARIANT_ADD(try, cap1) { .cap = 1, };
FIXTURE_VARIANT_ADD(try, cap16) { .cap = 16, };

FIXTURE_SETUP(try)
{
}

FIXTURE_TEARDOWN(try)
{
}

struct try_ctx {
	size_t cap;
	struct gort_chan *c;
	_Atomic int state;		/* helper: 1 about to block, 2 done */
	uint64_t got;
	uint32_t done;
};

static void try_blocked_receiver(void *arg)
{
	struct try_ctx *x = arg;
	uint64_t v = 0;

	atomic_store(&x->state, 1);
	GCHECK(gort_chan_recv(x->c, &v));
	x->got = v;
	atomic_store(&x->state, 2);
	gort_sema_release(&x->done);
}

static void try_blocked_sender(void *arg)
{
	struct try_ctx *x = arg;
	uint64_t v = 4242;

	atomic_store(&x->state, 1);
	gort_chan_send(x->c, &v);
	atomic_store(&x->state, 2);
	gort_sema_release(&x->done);
}

static int try_main(void *arg)
{
	struct try_ctx *x = arg;
	uint64_t v;
	size_t i;

	x->c = gort_chan_make(sizeof(uint64_t), x->cap, 0);
	if (!GCHECK(x->c))
		return 1;
	GCHECK_EQ(x->cap, gort_chan_cap(x->c));
	GCHECK_EQ(0, gort_chan_len(x->c));
	GCHECK_EQ(0, gort_chan_len(NULL));
	GCHECK_EQ(0, gort_chan_cap(NULL));

	/* Empty: tryrecv finds nothing and leaves the element alone. */
	v = 77;
	GCHECK_EQ(0, gort_chan_tryrecv(x->c, &v));
	GCHECK_EQ(77, v);
	GCHECK_EQ(0, gort_chan_tryrecv(x->c, NULL));

	/* Fill: len counts up to cap, then trysend fails. */
	for (i = 0; i < x->cap; i++) {
		v = 100 + i;
		GCHECK(gort_chan_trysend(x->c, &v));
		GCHECK_EQ(i + 1, gort_chan_len(x->c));
	}
	v = 999;
	GCHECK(!gort_chan_trysend(x->c, &v));
	GCHECK_EQ(x->cap, gort_chan_len(x->c));

	/* Drain in order. */
	for (i = 0; i < x->cap; i++) {
		v = 0;
		GCHECK_EQ(1, gort_chan_tryrecv(x->c, &v));
		GCHECK_EQ(100 + i, v);
		GCHECK_EQ(x->cap - i - 1, gort_chan_len(x->c));
	}
	GCHECK_EQ(0, gort_chan_tryrecv(x->c, &v));

	/* The ring wraps: more values through it than its capacity. */
	for (i = 0; i < 3 * x->cap + 5; i++) {
		uint64_t w = 0;

		v = 5000 + i;
		GCHECK(x->cap == 0 || gort_chan_trysend(x->c, &v));
		if (x->cap) {
			GCHECK_EQ(1, gort_chan_tryrecv(x->c, &w));
			GCHECK_EQ(v, w);
		}
	}

	/* A blocked receiver makes trysend succeed, even unbuffered. */
	atomic_store(&x->state, 0);
	gort_go(try_blocked_receiver, x);
	v = 31337;
	GCHECK(GT_WAIT_UNTIL(gort_chan_trysend(x->c, &v), 5000));
	if (!gt_sema_wait(&x->done, 1, 5000))
		return 1;
	GCHECK_EQ(31337, x->got);
	GCHECK_EQ(0, gort_chan_len(x->c));

	/* A blocked sender (on a full channel) makes tryrecv succeed. */
	for (i = 0; i < x->cap; i++) {
		v = 200 + i;
		GCHECK(gort_chan_trysend(x->c, &v));
	}
	atomic_store(&x->state, 0);
	gort_go(try_blocked_sender, x);
	GCHECK(GT_WAIT_UNTIL(atomic_load(&x->state) == 1, 5000));
	gort_sleep(5 * GT_MS);
	/* Still blocked: there is no room. */
	GCHECK_EQ(1, atomic_load(&x->state));
	for (i = 0; i < x->cap; i++) {
		v = 0;
		GCHECK_EQ(1, gort_chan_tryrecv(x->c, &v));
		GCHECK_EQ(200 + i, v);
	}
	v = 0;
	GCHECK(GT_WAIT_UNTIL(gort_chan_tryrecv(x->c, &v) == 1, 5000));
	GCHECK_EQ(4242, v);
	if (!gt_sema_wait(&x->done, 1, 5000))
		return 1;
	GCHECK_EQ(0, gort_chan_len(x->c));

	/* Closed with values: they drain, then -1 and a zeroed element. */
	for (i = 0; i < x->cap; i++) {
		v = 300 + i;
		GCHECK(gort_chan_trysend(x->c, &v));
	}
	gort_chan_close(x->c);
	GCHECK_EQ(x->cap, gort_chan_len(x->c));
	for (i = 0; i < x->cap; i++) {
		v = 0;
		GCHECK_EQ(1, gort_chan_tryrecv(x->c, &v));
		GCHECK_EQ(300 + i, v);
	}
	v = 12345;
	GCHECK_EQ(-1, gort_chan_tryrecv(x->c, &v));
	GCHECK_EQ(0, v);
	GCHECK_EQ(-1, gort_chan_tryrecv(x->c, NULL));
	GCHECK_EQ(0, gort_chan_len(x->c));
	GCHECK_EQ(x->cap, gort_chan_cap(x->c));

	/* NULL channel: never ready. */
	v = 1;
	GCHECK(!gort_chan_trysend(NULL, &v));
	GCHECK_EQ(0, gort_chan_tryrecv(NULL, &v));
	GCHECK_EQ(1, v);

	gort_chan_free(x->c);
	return 0;
}

TEST_F(try, semantics)
{
	struct try_ctx x = { .cap = variant->cap };

	ASSERT_EQ(0, gt_run(try_main, &x, 2));
	ASSERT_EQ(0, gt_failed());
}

/* ---- elem ---- */

#define GUARD		64
#define GUARD_BYTE	0xa5

FIXTURE(elem) {
};

FIXTURE_VARIANT(elem) {
	size_t size;
	size_t cap;
	unsigned int flags;
	int count;
};

#define ELEM(sz, c, fl, n, name)				\
	FIXTURE_VARIANT_ADD(elem, name) {			\
		.size = sz, .cap = c, .flags = fl, .count = n,	\
	}

ELEM(1, 0, 0, 2000, size1_cap0);
ELEM(8, 0, 0, 2000, size8_cap0);
ELEM(24, 0, 0, 2000, size24_cap0);
ELEM(100, 0, 0, 2000, size100_cap0);
ELEM(4096, 0, 0, 1000, size4096_cap0);
ELEM(65535, 0, 0, 100, size65535_cap0);
ELEM(1, 3, 0, 2000, size1_cap3);
ELEM(8, 3, 0, 2000, size8_cap3);
ELEM(24, 3, 0, 2000, size24_cap3);
ELEM(100, 3, 0, 2000, size100_cap3);
ELEM(4096, 3, 0, 1000, size4096_cap3);
ELEM(1, 3, GORT_CHAN_NOSCAN, 2000, size1_cap3_noscan);
ELEM(24, 3, GORT_CHAN_NOSCAN, 2000, size24_cap3_noscan);
ELEM(100, 3, GORT_CHAN_NOSCAN, 2000, size100_cap3_noscan);
ELEM(4096, 3, GORT_CHAN_NOSCAN, 1000, size4096_cap3_noscan);
ELEM(65535, 2, GORT_CHAN_NOSCAN, 100, size65535_cap2_noscan);

FIXTURE_SETUP(elem)
{
}

FIXTURE_TEARDOWN(elem)
{
}

struct elem_ctx {
	const FIXTURE_VARIANT(elem) *v;
	struct gort_chan *c;
	uint32_t done;
	int checked;
};

static uint8_t pattern(int msg, size_t i, size_t size)
{
	return (uint8_t)(msg * 131 + i * 7 + (i >> 8) * 13 + size);
}

static void elem_sender(void *arg)
{
	struct elem_ctx *x = arg;
	size_t size = x->v->size, i;
	uint8_t *buf = malloc(size);
	int m;

	if (!GCHECK(buf))
		return;
	for (m = 0; m < x->v->count; m++) {
		for (i = 0; i < size; i++)
			buf[i] = pattern(m, i, size);
		gort_chan_send(x->c, buf);
		/* The channel copied it: scribbling now must not matter. */
		memset(buf, 0xee, size);
	}
	free(buf);
	gort_sema_release(&x->done);
}

static void elem_receiver(void *arg)
{
	struct elem_ctx *x = arg;
	size_t size = x->v->size, i;
	uint8_t *buf = malloc(size + GUARD);
	int m, bad = 0;

	if (!GCHECK(buf))
		return;
	for (m = 0; m < x->v->count && !bad; m++) {
		/* Every 7th message is discarded with a NULL buffer. */
		if (m % 7 == 6) {
			GCHECK(gort_chan_recv(x->c, NULL));
			continue;
		}
		memset(buf, 0x5a, size);
		memset(buf + size, GUARD_BYTE, GUARD);
		if (!GCHECK(gort_chan_recv(x->c, buf)))
			break;
		for (i = 0; i < size; i++) {
			if (buf[i] != pattern(m, i, size)) {
				GFAIL("message %d byte %zu of %zu: got 0x%02x want 0x%02x",
				      m, i, size, buf[i], pattern(m, i, size));
				bad = 1;
				break;
			}
		}
		for (i = 0; i < GUARD; i++) {
			if (buf[size + i] != GUARD_BYTE) {
				GFAIL("message %d: written %zu bytes past the %zu-byte element",
				      m, i + 1, size);
				bad = 1;
				break;
			}
		}
		x->checked++;
	}
	free(buf);
	gort_sema_release(&x->done);
}

static int elem_main(void *arg)
{
	struct elem_ctx *x = arg;

	x->c = gort_chan_make(x->v->size, x->v->cap, x->v->flags);
	if (!GCHECK(x->c))
		return 1;
	gort_go(elem_receiver, x);
	gort_go(elem_sender, x);
	if (!gt_sema_wait(&x->done, 2, 20000))
		return 1;
	gort_chan_free(x->c);
	return 0;
}

TEST_F(elem, copied_exactly)
{
	struct elem_ctx x = { .v = variant };

	ASSERT_EQ(0, gt_run(elem_main, &x, 2));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(variant->count - variant->count / 7, x.checked);
}

/* ---- make_errors ---- */

struct make_ctx {
	int err_big, err_bigger, err_flags, err_cap;
	bool big_null, bigger_null, flags_null, cap_null;
	bool max_ok, zero_ok;
};

static int make_main(void *arg)
{
	struct make_ctx *x = arg;
	struct gort_chan *c;
	char dummy = 0;
	int i;

	errno = 0;
	c = gort_chan_make(GORT_CHAN_MAX_ELEM, 1, 0);
	x->err_big = errno;
	x->big_null = !c;

	errno = 0;
	c = gort_chan_make((size_t)1 << 20, 0, GORT_CHAN_NOSCAN);
	x->err_bigger = errno;
	x->bigger_null = !c;

	errno = 0;
	c = gort_chan_make(8, 1, 1u << 7);
	x->err_flags = errno;
	x->flags_null = !c;

	errno = 0;
	c = gort_chan_make(4096, SIZE_MAX / 2, 0);
	x->err_cap = errno;
	x->cap_null = !c;

	/* The largest element size is fine. */
	c = gort_chan_make(GORT_CHAN_MAX_ELEM - 1, 1, 0);
	x->max_ok = c && gort_chan_cap(c) == 1;
	gort_chan_free(c);

	/* chan struct{}: zero-size elements still count. */
	c = gort_chan_make(0, 4, 0);
	x->zero_ok = c != NULL;
	if (c) {
		for (i = 0; i < 4; i++)
			GCHECK(gort_chan_trysend(c, &dummy));
		GCHECK(!gort_chan_trysend(c, &dummy));
		GCHECK_EQ(4, gort_chan_len(c));
		GCHECK_EQ(1, gort_chan_tryrecv(c, &dummy));
		GCHECK(gort_chan_recv(c, NULL));
		GCHECK_EQ(2, gort_chan_len(c));
		gort_chan_free(c);
	}
	return 0;
}

TEST(make_errors)
{
	struct make_ctx x = { 0 };

	ASSERT_EQ(0, gt_run(make_main, &x, 1));
	ASSERT_EQ(0, gt_failed());
	EXPECT_TRUE(x.big_null);
	EXPECT_EQ(EINVAL, x.err_big);
	EXPECT_TRUE(x.bigger_null);
	EXPECT_EQ(EINVAL, x.err_bigger);
	EXPECT_TRUE(x.flags_null);
	EXPECT_EQ(EINVAL, x.err_flags);
	EXPECT_TRUE(x.cap_null);
	EXPECT_TRUE(x.err_cap == EINVAL || x.err_cap == ENOMEM);
	EXPECT_TRUE(x.max_ok);
	EXPECT_TRUE(x.zero_ok);
}

TEST_HARNESS_MAIN
