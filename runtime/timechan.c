// SPDX-License-Identifier: MIT
/*
 * timechan.c - timers and tickers that deliver on channels (Go's
 * time.After, time.Timer, time.Ticker), on the per-P timer heaps of
 * time.c.
 *
 * Each gort_timer owns a channel of capacity 1 of int64_t.  When it
 * fires, the callback (on the M running the P's timers, no lock held)
 * makes a non-blocking send of gort_nanotime(): if the channel is still
 * full, a ticker's tick is dropped, as in Go.  Stop and Reset follow Go
 * 1.19: Stop reports whether it removed the timer before it fired; a
 * value that fired earlier may still sit in the channel.
 */
#include <errno.h>

#include <gort/chan.h>
#include "chan.h"

struct gort_timer {
	struct timer t;
	struct gort_chan *c;
	bool autofree;			/* gort_after: free the timer once fired */
};

static void sendtime(void *arg, uint64_t seq)
{
	struct gort_timer *gt = arg;
	int64_t now = nanotime();

	(void)seq;
	gort_chan_trysend(gt->c, &now);
	if (gt->autofree)
		gort_free(gt);
}

static struct gort_timer *timer_make(int64_t ns, int64_t period, bool autofree)
{
	/* Scanned: it holds the channel; the P's timer heap holds it. */
	struct gort_timer *gt = gort_alloc(sizeof(*gt), 0);

	if (!gt)
		return NULL;
	gt->c = gort_chan_make(sizeof(int64_t), 1, GORT_CHAN_NOSCAN);
	if (!gt->c) {
		gort_free(gt);
		return NULL;
	}
	gt->autofree = autofree;
	/* Handles can be stopped and freed: deltimer must wait for a running
	 * callback.  gort_after's timer frees itself in the callback. */
	gt->t.sync = !autofree;
	gt->t.when = when(ns);
	gt->t.period = period;
	gt->t.f = sendtime;
	gt->t.arg = gt;
	gt->t.idx = -1;
	addtimer(&gt->t);
	return gt;
}

__export struct gort_chan *gort_after(int64_t ns)
{
	struct gort_timer *gt = timer_make(ns, 0, true);

	return gt ? gt->c : NULL;
}

__export struct gort_timer *gort_timer_new(int64_t ns)
{
	return timer_make(ns, 0, false);
}

__export struct gort_timer *gort_ticker_new(int64_t period)
{
	if (period <= 0) {
		errno_set(EINVAL);
		return NULL;
	}
	return timer_make(period, period, false);
}

__export struct gort_chan *gort_timer_chan(struct gort_timer *t)
{
	return t->c;
}

__export bool gort_timer_stop(struct gort_timer *t)
{
	return deltimer(&t->t);
}

__export bool gort_timer_reset(struct gort_timer *t, int64_t ns)
{
	bool active = deltimer(&t->t);

	t->t.when = when(ns);
	t->t.seq++;
	addtimer(&t->t);
	return active;
}

__export void gort_timer_free(struct gort_timer *t)
{
	if (!t)
		return;
	deltimer(&t->t);
	gort_chan_free(t->c);
	gort_free(t);
}
