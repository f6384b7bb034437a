/* SPDX-License-Identifier: MIT */
/*
 * Description: timers and tickers that deliver on channels.
 *
 * - after_latency: gort_after(2 ms) in a select with never-ready
 *   channels, 20 times: none fires early (neither the select's return
 *   nor the delivered time), and the median is late by less than 1 ms +
 *   5 ms of slack.  On 1 and 2 Ps.  The only timing assertion.
 * - timeout: select { case <-c: case <-After(10 ms): } takes the timer
 *   when c stays silent, and c when a value comes first.
 * - stop: Stop before firing is true and nothing arrives; a second Stop,
 *   and a Stop after firing, are false.
 * - reset: Reset of a pending timer is true and moves it; of a fired one
 *   false, and it fires again; Reset to a later time does not fire at
 *   the earlier one.
 * - ticker: ticks arrive in order, never before start + k * period;
 *   a slow receiver finds at most one tick waiting (cap 1); after Stop
 *   (and draining the one that may wait) no tick arrives; free works.
 * - ticker_einval: gort_ticker_new(0) and (-1) are NULL with EINVAL.
 * - many_after: 1,000 gort_after timers of 0..20 ms each deliver
 *   exactly once.
 * - free_while_firing: tickers of 1 us freed while they fire on another
 *   P, the memory reused by fresh channels at once: the tick being
 *   delivered must not land in a freed channel (in a child, 2 Ps).
 */
#include "../gort_test.h"

#define SAMPLES		21
#define AFTER_NS	(2 * GT_MS)

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* recv_within() - receive from @c, giving up after @ms; true if it did. */
static bool recv_within(struct gort_chan *c, int64_t *v, int64_t ms)
{
	struct gort_chan *escape = gort_after(ms * GT_MS);
	struct gort_select_case cs[2] = {
		{ .c = c, .dir = GORT_SELECT_RECV, .elem = v },
		{ .c = escape, .dir = GORT_SELECT_RECV },
	};

	return escape && gort_select(cs, 2, true) == 0;
}

/* ---- after_latency ---- */

FIXTURE(latency) {
};

FIXTURE_VARIANT(latency) {
	int maxprocs;
};

FIXTURE_VARIANT_ADD(latency, procs1) { .maxprocs = 1, };
FIXTURE_VARIANT_ADD(latency, procs2) { .maxprocs = 2, };

FIXTURE_SETUP(latency)
{
}

FIXTURE_TEARDOWN(latency)
{
}

struct latency_ctx {
	int64_t late[SAMPLES];
	int64_t early;		/* worst earliness seen (> 0 is a failure) */
	int n;
};

static int latency_main(void *arg)
{
	struct latency_ctx *x = arg;
	struct gort_chan *never1 = gort_chan_make(sizeof(uint64_t), 0, 0);
	struct gort_chan *never2 = gort_chan_make(sizeof(uint64_t), 4, 0);
	uint64_t a, b;
	int i;

	if (!GCHECK(never1 && never2))
		return 1;
	for (i = 0; i < SAMPLES; i++) {
		int64_t t0 = gort_nanotime(), fired = 0, t1;
		struct gort_select_case cs[4] = {
			{ .c = never1, .dir = GORT_SELECT_RECV, .elem = &a },
			{ .c = gort_after(AFTER_NS), .dir = GORT_SELECT_RECV, .elem = &fired },
			{ .c = never2, .dir = GORT_SELECT_RECV, .elem = &b },
			{ .c = NULL, .dir = GORT_SELECT_RECV },
		};
		int got;

		if (!GCHECK(cs[1].c))
			return 1;
		got = gort_select(cs, 4, true);
		t1 = gort_nanotime();
		if (!GCHECK_EQ(1, got) || !GCHECK(cs[1].ok))
			return 1;
		/* The delivered time is when it fired: not early either. */
		if (t0 + AFTER_NS - fired > x->early)
			x->early = t0 + AFTER_NS - fired;
		if (t0 + AFTER_NS - t1 > x->early)
			x->early = t0 + AFTER_NS - t1;
		GCHECK(fired <= t1);
		x->late[x->n++] = t1 - t0 - AFTER_NS;
	}
	gort_chan_free(never1);
	gort_chan_free(never2);
	return 0;
}

TEST_F(latency, after_in_select)
{
	struct latency_ctx x = { .early = INT64_MIN };
	int64_t median;

	ASSERT_EQ(0, gt_run(latency_main, &x, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(SAMPLES, x.n);
	qsort(x.late, SAMPLES, sizeof(x.late[0]), cmp_i64);
	median = x.late[SAMPLES / 2];
	TH_LOG("late by: min %lld us, median %lld us, max %lld us",
	       (long long)x.late[0] / 1000, (long long)median / 1000,
	       (long long)x.late[SAMPLES - 1] / 1000);
	ASSERT_LE(x.early, 0);
	ASSERT_LT(median, 1 * GT_MS + 5 * GT_MS);
}

/* ---- timeout ---- */

static void late_sender(void *arg)
{
	uint64_t v = 77;

	gort_sleep(2 * GT_MS);
	gort_chan_send(arg, &v);
}

static int timeout_main(void *arg)
{
	struct gort_chan *c = gort_chan_make(sizeof(uint64_t), 0, 0);
	struct gort_select_case cs[2];
	uint64_t v = 0;
	int64_t t0, when = 0;

	(void)arg;
	if (!GCHECK(c))
		return 1;
	/* Nobody sends: the timeout wins, not before its time. */
	t0 = gort_nanotime();
	cs[0] = (struct gort_select_case){ .c = c, .dir = GORT_SELECT_RECV, .elem = &v };
	cs[1] = (struct gort_select_case){ .c = gort_after(10 * GT_MS),
					   .dir = GORT_SELECT_RECV, .elem = &when };
	GCHECK_EQ(1, gort_select(cs, 2, true));
	GCHECK(gort_nanotime() - t0 >= 10 * GT_MS);
	GCHECK(when - t0 >= 10 * GT_MS);
	GCHECK_EQ(0, v);
	/* It took itself off c. */
	GCHECK(!gort_chan_trysend(c, &v));

	/* A value comes first: c wins, and the timer fires unseen later. */
	gort_go(late_sender, c);
	cs[1].c = gort_after(5000 * GT_MS);
	GCHECK_EQ(0, gort_select(cs, 2, true));
	GCHECK_EQ(77, v);
	GCHECK(gort_nanotime() - t0 < 5000 * GT_MS);

	/* A timer already fired is ready at once; zero and negative fire. */
	cs[1].c = gort_after(0);
	gort_sleep(GT_MS);
	GCHECK_EQ(1, gort_select(cs, 2, false));
	cs[1].c = gort_after(-5);
	GCHECK_EQ(1, gort_select(cs, 2, true));
	gort_chan_free(c);
	return 0;
}

TEST(timeout)
{
	ASSERT_EQ(0, gt_run(timeout_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

/* ---- stop ---- */

static int stop_main(void *arg)
{
	struct gort_timer *t = gort_timer_new(20 * GT_MS);
	int64_t v = 0;

	(void)arg;
	if (!GCHECK(t))
		return 1;
	GCHECK_EQ(1, gort_chan_cap(gort_timer_chan(t)));
	GCHECK(gort_timer_stop(t));
	gort_sleep(40 * GT_MS);
	GCHECK_EQ(0, gort_chan_tryrecv(gort_timer_chan(t), &v));
	GCHECK(!gort_timer_stop(t));
	gort_timer_free(t);

	/* Fired: Stop is false, the value is there. */
	t = gort_timer_new(GT_MS);
	if (!GCHECK(t))
		return 1;
	GCHECK(recv_within(gort_timer_chan(t), &v, 5000));
	GCHECK(!gort_timer_stop(t));
	gort_timer_free(t);

	/* Free a pending timer: it never fires into freed memory. */
	t = gort_timer_new(5 * GT_MS);
	if (!GCHECK(t))
		return 1;
	gort_timer_free(t);
	gort_sleep(20 * GT_MS);
	return 0;
}

TEST(stop)
{
	ASSERT_EQ(0, gt_run(stop_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

/* ---- reset ---- */

static int reset_main(void *arg)
{
	struct gort_timer *t = gort_timer_new(3600000 * GT_MS);
	int64_t v = 0, t0;

	(void)arg;
	if (!GCHECK(t))
		return 1;
	/* Pending: true, and it now fires soon. */
	t0 = gort_nanotime();
	GCHECK(gort_timer_reset(t, 5 * GT_MS));
	GCHECK(recv_within(gort_timer_chan(t), &v, 5000));
	GCHECK(v - t0 >= 5 * GT_MS);
	GCHECK_EQ(0, gort_chan_tryrecv(gort_timer_chan(t), &v));

	/* Fired: false, and it fires again. */
	t0 = gort_nanotime();
	GCHECK(!gort_timer_reset(t, 2 * GT_MS));
	GCHECK(recv_within(gort_timer_chan(t), &v, 5000));
	GCHECK(v - t0 >= 2 * GT_MS);

	/* Pushed back: nothing at the old time. */
	GCHECK(!gort_timer_reset(t, 2 * GT_MS));
	GCHECK(gort_timer_reset(t, 3600000 * GT_MS));
	gort_sleep(20 * GT_MS);
	GCHECK_EQ(0, gort_chan_tryrecv(gort_timer_chan(t), &v));
	GCHECK(gort_timer_stop(t));
	gort_timer_free(t);
	return 0;
}

TEST(reset)
{
	ASSERT_EQ(0, gt_run(reset_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

/* ---- ticker ---- */

#define PERIOD	(3 * GT_MS)
#define TICKS	10

FIXTURE(ticker) {
};

FIXTURE_VARIANT(ticker) {
	int maxprocs;
};

FIXTURE_VARIANT_ADD(ticker, procs1) { .maxprocs = 1, };
FIXTURE_VARIANT_ADD(ticker, procs2) { .maxprocs = 2, };

FIXTURE_SETUP(ticker)
{
}

FIXTURE_TEARDOWN(ticker)
{
}

struct ticker_ctx {
	int ticks;
	int64_t first, last;	/* relative to the start */
};

static int ticker_main(void *arg)
{
	struct ticker_ctx *x = arg;
	int64_t t0 = gort_nanotime(), v = 0, prev = 0;
	struct gort_timer *t = gort_ticker_new(PERIOD);
	struct gort_chan *c;
	int i;

	if (!GCHECK(t))
		return 1;
	c = gort_timer_chan(t);
	GCHECK_EQ(1, gort_chan_cap(c));
	for (i = 0; i < TICKS; i++) {
		if (!GCHECK(recv_within(c, &v, 5000)))
			return 1;
		/* Tick i is due at t0 + (i + 1) * period at the earliest. */
		GCHECK(v - t0 >= (i + 1) * PERIOD);
		GCHECK(v > prev);
		if (i == 0)
			x->first = v - t0;
		prev = v;
		x->ticks++;
	}
	x->last = prev - t0;

	/* A slow receiver: the ticks it misses are dropped, one waits. */
	gort_sleep(10 * PERIOD);
	GCHECK_EQ(1, gort_chan_len(c));
	GCHECK_EQ(1, gort_chan_tryrecv(c, &v));
	GCHECK(v > prev);
	GCHECK(recv_within(c, &v, 5000));

	/* Stopped: at most one tick already sent, then silence. */
	GCHECK(gort_timer_stop(t));
	gort_chan_tryrecv(c, &v);
	gort_sleep(5 * PERIOD);
	GCHECK_EQ(0, gort_chan_tryrecv(c, &v));
	GCHECK(!gort_timer_stop(t));

	/* Reset restarts it as a ticker. */
	gort_timer_reset(t, PERIOD);
	GCHECK(recv_within(c, &v, 5000));
	GCHECK(recv_within(c, &v, 5000));
	gort_timer_free(t);

	/* Freed while running. */
	t = gort_ticker_new(GT_MS / 10);
	if (!GCHECK(t))
		return 1;
	gort_sleep(3 * GT_MS);
	gort_timer_free(t);
	gort_sleep(3 * GT_MS);
	return 0;
}

TEST_F(ticker, ticks)
{
	struct ticker_ctx x = { 0 };

	ASSERT_EQ(0, gt_run(ticker_main, &x, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(TICKS, x.ticks);
	TH_LOG("first tick at %lld us, tick %d at %lld us (period %lld us)",
	       (long long)x.first / 1000, TICKS, (long long)x.last / 1000,
	       (long long)PERIOD / 1000);
	ASSERT_GE(x.last, TICKS * PERIOD);
}

/* ---- ticker_einval ---- */

struct einval_ctx {
	bool null0, nullneg;
	int err0, errneg;
};

static int einval_main(void *arg)
{
	struct einval_ctx *x = arg;
	struct gort_timer *t;

	errno = 0;
	t = gort_ticker_new(0);
	x->err0 = errno;
	x->null0 = !t;
	errno = 0;
	t = gort_ticker_new(-1);
	x->errneg = errno;
	x->nullneg = !t;
	return 0;
}

TEST(ticker_einval)
{
	struct einval_ctx x = { 0 };

	ASSERT_EQ(0, gt_run(einval_main, &x, 1));
	EXPECT_TRUE(x.null0);
	EXPECT_EQ(EINVAL, x.err0);
	EXPECT_TRUE(x.nullneg);
	EXPECT_EQ(EINVAL, x.errneg);
}

/* ---- many_after ---- */

#define NR_AFTER	1000

struct many_ctx {
	struct gort_chan *c[NR_AFTER];
	struct own {
		struct gort_chan *c;
		uint32_t *done;
	} own[4];
	uint32_t done;
	int fired;
};

static void after_waiter(void *arg)
{
	struct own *o = arg;
	int64_t v;

	GCHECK(recv_within(o->c, &v, 5000));
	gort_sleep(2 * GT_MS);
	/* Exactly once: nothing more arrives. */
	GCHECK_EQ(0, gort_chan_tryrecv(o->c, &v));
	gort_sema_release(o->done);
}

static void after_collector(void *arg)
{
	struct many_ctx *x = arg;
	int64_t v;
	int i;

	for (i = 0; i < NR_AFTER; i++) {
		if (!GCHECK(recv_within(x->c[i], &v, 5000)))
			break;
		x->fired++;
	}
	gort_sleep(25 * GT_MS);
	for (i = 0; i < NR_AFTER; i++)
		GCHECK_EQ(0, gort_chan_tryrecv(x->c[i], &v));
	gort_sema_release(&x->done);
}

static int many_after_main(void *arg)
{
	struct many_ctx *x = arg;
	uint32_t seed = 12345;
	int i;

	for (i = 0; i < NR_AFTER; i++) {
		seed = seed * 1103515245 + 12345;
		x->c[i] = gort_after((int64_t)(seed >> 8) % (20 * GT_MS));
		if (!GCHECK(x->c[i]))
			return 1;
	}
	/* A few waiters of their own, the rest through one collector. */
	for (i = 0; i < 4; i++) {
		x->own[i].c = gort_after(i * GT_MS);
		x->own[i].done = &x->done;
		if (!GCHECK(x->own[i].c))
			return 1;
		gort_go(after_waiter, &x->own[i]);
	}
	gort_go(after_collector, x);
	if (!gt_sema_wait(&x->done, 5, 10000))
		return 1;
	return 0;
}

TEST(many_after)
{
	static struct many_ctx x;

	ASSERT_EQ(0, gt_run(many_after_main, &x, 2));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(NR_AFTER, x.fired);
}

/* ---- free_while_firing ---- */

/*
 * One goroutine on 2 Ps: the idle P's M runs the overdue 1 us ticks
 * (checktimers calls sendtime with no lock held) while this goroutine
 * frees the ticker and makes a channel that likely reuses its memory.
 */

#define CHURN_G		1
#define CHURN_NS	(500 * GT_MS)

static void churn(void *arg)
{
	uint32_t *done = arg;
	int64_t end = gort_nanotime() + CHURN_NS;
	volatile int spin;
	int i, k;

	for (i = 0; gort_nanotime() < end; i++) {
		struct gort_timer *t = gort_ticker_new(GT_US);
		struct gort_chan *c;
		uint64_t v = 0xdeadbeef, w = 0;

		if (!GCHECK(t))
			break;
		for (spin = 0, k = 0; k < (i % 50) * 20; k++)
			spin++;
		gort_timer_free(t);
		/* Likely the memory the timer and its channel had. */
		c = gort_chan_make(sizeof(uint64_t), 1, GORT_CHAN_NOSCAN);
		if (!GCHECK(c))
			break;
		GCHECK(gort_chan_trysend(c, &v));
		GCHECK_EQ(1, gort_chan_tryrecv(c, &w));
		if (!GCHECK_EQ(0xdeadbeef, w) || !GCHECK_EQ(0, gort_chan_len(c)))
			break;
		gort_chan_free(c);
	}
	gort_sema_release(done);
}

static int churn_main(void *arg)
{
	uint32_t done = 0;
	int i;

	(void)arg;
	for (i = 0; i < CHURN_G; i++)
		gort_go(churn, &done);
	gt_sema_wait(&done, CHURN_G, 20000);
	return 0;
}

static int churn_child(void *arg)
{
	(void)arg;
	return gt_run(churn_main, NULL, 2) || gt_failed();
}

TEST(free_while_firing)
{
	struct gt_child c;

	ASSERT_EQ(0, gt_fork_capture(&c, churn_child, NULL, 25000));
	if (gt_exit_code(&c) != 0)
		gt_child_dump(&c, "child");
	EXPECT_FALSE(c.timed_out);
	EXPECT_EQ(0, gt_exit_code(&c));
	gt_child_free(&c);
}

TEST_HARNESS_MAIN
