/* SPDX-License-Identifier: MIT */
/*
 * chan.h - channel internals shared by chan.c, select.c and timechan.c.
 *
 * Invariants (Go's chan.go), c->lock held:
 *   at least one of c->sendq and c->recvq is empty, except for an
 *   unbuffered channel with a single goroutine blocked on both sides of
 *   it in one select (Go's exception too);
 *   buffered: qcount > 0 => recvq is empty; qcount < dataqsiz => sendq is
 *   empty;
 *   closed => sendq is empty (close wakes every sender, which then panics).
 *
 * Lock order: the locks of several channels (select) are taken in
 * increasing address order; a channel lock is taken before sched.lock and
 * p->timerlock (goready, timers), never after.
 */
#ifndef GORT_CHAN_INTERNAL_H
#define GORT_CHAN_INTERNAL_H

#include "internal.h"

/* struct sudog - a goroutine waiting on a channel (one per select case). */
struct sudog {
	struct g *g;
	struct sudog *next, *prev;	/* in c->sendq or c->recvq */
	void *elem;			/* data to send, or where to receive */
	struct hchan *c;
	struct sudog *waitlink;		/* a select's sudogs, in lock order */
	bool isselect;
	bool success;			/* woken by a value (true) or by close */
	uint32_t caseidx;		/* select: which case */
};

struct waitq {
	struct sudog *first, *last;
};

/* struct hchan - a channel (Go's hchan), what gort_chan points to. */
struct hchan {
	struct lock lock;
	uint32_t qcount;		/* elements in buf */
	uint32_t dataqsiz;		/* cap */
	uint32_t elemsize;
	uint32_t closed;
	uint32_t sendx, recvx;		/* buf ring indices */
	struct waitq recvq, sendq;
	char *buf;			/* dataqsiz * elemsize, after the hchan */
};

struct sudog *acquiresudog(struct g *gp);
void releasesudog(struct g *gp, struct sudog *sg);
void waitq_enqueue(struct waitq *q, struct sudog *sg);
void waitq_remove(struct waitq *q, struct sudog *sg);
struct sudog *waitq_dequeue(struct waitq *q);
void chan_send_to_waiter(struct hchan *c, struct sudog *sg, const void *ep);
void chan_recv_from_waiter(struct hchan *c, struct sudog *sg, void *ep);
static inline void *chanbuf(struct hchan *c, uint32_t i)
{
	return c->buf + (size_t)i * c->elemsize;
}

/* Copy one element: inline for the common small sizes (no libc call). */
static inline void elemcopy(void *dst, const void *src, uint32_t size)
{
	switch (size) {
	case 8:
		__builtin_memcpy(dst, src, 8);
		break;
	case 4:
		__builtin_memcpy(dst, src, 4);
		break;
	case 16:
		__builtin_memcpy(dst, src, 16);
		break;
	default:
		__builtin_memcpy(dst, src, size);
	}
}

static inline void elemzero(void *dst, uint32_t size)
{
	if (size == 8)
		__builtin_memset(dst, 0, 8);
	else
		__builtin_memset(dst, 0, size);
}

/* Probe points (Documentation/probes.rst). */
void gort_chan_park(struct hchan *c, struct g *gp, uint32_t dir);
void gort_chan_wake(struct hchan *c, struct g *gp, uint32_t dir);
void gort_chan_doclose(struct hchan *c, struct g *gp);
void gort_select_park(struct g *gp, uint32_t ncases);

#endif /* GORT_CHAN_INTERNAL_H */
