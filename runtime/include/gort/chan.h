/* SPDX-License-Identifier: MIT */
/*
 * gort/chan.h - channels, select, and timers that deliver on channels,
 * as Go's chan, select and package time.
 *
 * A channel carries elements of one fixed size, copied in and out by
 * value.  Unbuffered (cap 0) channels rendezvous: a send completes when a
 * receiver takes the value.  Misuse is fatal in Go's words, with a
 * traceback of every goroutine and exit status 2:
 *   "panic: send on closed channel"
 *   "panic: close of closed channel"
 *   "panic: close of nil channel"
 * A NULL channel blocks forever (Go's nil channel) and select ignores it.
 * Blocking operations must be called from goroutines; the non-blocking
 * ones (try, close, len, cap) from any thread.
 */
#ifndef GORT_CHAN_H
#define GORT_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gort_chan;

enum gort_chan_flags {
	GORT_CHAN_NOSCAN = 1 << 0,	/* elements hold no pointers */
};

#define GORT_CHAN_MAX_ELEM 65536	/* Go: 64 KiB too */

/**
 * gort_chan_make() - make(chan T, cap) with sizeof(T) == @elemsize
 *
 * The channel and its buffer come from the gort heap.
 * Return: the channel, or NULL with errno EINVAL (@elemsize too large,
 * unknown flags) or ENOMEM.
 */
struct gort_chan *gort_chan_make(size_t elemsize, size_t cap, unsigned int flags);

/** gort_chan_free() - give a channel back (until the GC collects them).
 * Nobody may use or wait on it any more. */
void gort_chan_free(struct gort_chan *c);

/** gort_chan_send() - c <- *elem; blocks until a receiver or buffer space. */
void gort_chan_send(struct gort_chan *c, const void *elem);

/**
 * gort_chan_recv() - *elem = <-c (elem may be NULL to discard)
 * Return: true for a value sent, false if @c is closed and drained (then
 * *elem is zeroed), as Go's "v, ok := <-c".
 */
bool gort_chan_recv(struct gort_chan *c, void *elem);

/** gort_chan_trysend() - select { case c <- *elem: default: }
 * Return: true if sent.  Sending on a closed channel is still fatal. */
bool gort_chan_trysend(struct gort_chan *c, const void *elem);

/**
 * gort_chan_tryrecv() - select { case v, ok := <-c: default: }
 * Return: 1 received a value, 0 nothing ready, -1 closed and drained.
 */
int gort_chan_tryrecv(struct gort_chan *c, void *elem);

/** gort_chan_close() - close(c). */
void gort_chan_close(struct gort_chan *c);

/** gort_chan_len(), gort_chan_cap() - len(c), cap(c); 0 for NULL. */
size_t gort_chan_len(struct gort_chan *c);
size_t gort_chan_cap(struct gort_chan *c);

enum gort_select_dir {
	GORT_SELECT_RECV = 1,
	GORT_SELECT_SEND = 2,
};

/**
 * struct gort_select_case - one case of gort_select()
 * @c: the channel (NULL: the case is never ready)
 * @dir: GORT_SELECT_RECV or GORT_SELECT_SEND
 * @elem: value to send, or where to receive (may be NULL for a receive)
 * @ok: set for the chosen receive: false if the channel was closed
 */
struct gort_select_case {
	struct gort_chan *c;
	int dir;
	void *elem;
	bool ok;
};

#define GORT_SELECT_MAX 65536

/**
 * gort_select() - Go's select over @n cases
 * @block: false = the select has a default case
 *
 * Among the ready cases one is chosen uniformly at random.
 * Return: the index of the chosen case, or -1 if @block is false and no
 * case is ready.  With @block and no case that can ever be ready (n == 0,
 * or all channels NULL) the goroutine blocks forever, as in Go.
 */
int gort_select(struct gort_select_case *cases, int n, bool block);

/*
 * Timers and tickers deliver the time (int64_t, gort_nanotime()) on a
 * channel of capacity 1, as Go's time.Timer and time.Ticker.
 */
struct gort_timer;

/** gort_after() - time.After(@ns): a channel that receives once. The
 * timer frees itself after firing; never close the channel. */
struct gort_chan *gort_after(int64_t ns);

/** gort_timer_new() - time.NewTimer(@ns); NULL with errno on failure. */
struct gort_timer *gort_timer_new(int64_t ns);
/** gort_ticker_new() - time.NewTicker(@period): delivers every @period,
 * dropping ticks a slow receiver misses; @period <= 0 is EINVAL. */
struct gort_timer *gort_ticker_new(int64_t period);
/** gort_timer_chan() - the timer's channel (Go's t.C). */
struct gort_chan *gort_timer_chan(struct gort_timer *t);
/** gort_timer_stop() - t.Stop(): true if it stopped the timer before it
 * fired (Go 1.19 semantics: a value may already be in the channel). */
bool gort_timer_stop(struct gort_timer *t);
/** gort_timer_reset() - t.Reset(@ns): true if the timer had been active. */
bool gort_timer_reset(struct gort_timer *t, int64_t ns);
/** gort_timer_free() - stop and free a timer or ticker and its channel. */
void gort_timer_free(struct gort_timer *t);

#ifdef __cplusplus
}
#endif

#endif /* GORT_CHAN_H */
