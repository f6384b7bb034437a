// SPDX-License-Identifier: MIT
/*
 * chan.c - channels, after Go's runtime/chan.go.
 *
 * struct hchan: a lock, a ring buffer of dataqsiz elements (qcount of
 * them used, taken at recvx, put at sendx), and two queues of waiting
 * goroutines, each represented by a sudog pointing at the element it
 * sends or the slot it receives into (on its own stack: stacks never
 * move).  See chan.h for the invariants and the lock order.
 *
 * send: a waiting receiver gets the value copied straight into its slot
 * and is readied into the sender's runnext (it runs next, on this P,
 * cache-hot); else the value goes into the buffer; else the sender
 * parks in sendq.  recv mirrors it: from a waiting sender (for a full
 * buffered channel: take the head, put the sender's value at the tail),
 * else from the buffer, else park in recvq.  close wakes everybody:
 * receivers get zeroed values and ok = false, senders panic.
 *
 * A sudog of a goroutine blocked in select may only be used by the waker
 * that wins g->selectdone (0 -> 1); waitq_dequeue skips the others.
 *
 * The fast paths (no waiter to wake, no blocking) call nothing that
 * exists only for probing; parking, waking and closing go through the
 * exported probe functions gort_chan_park/gort_chan_wake/
 * gort_chan_doclose.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <gort/chan.h>
#include "chan.h"

#define SUDOG_SLAB 64

static struct lock sudoglock;
static struct sudog *sudogfree;

/*
 * Sudogs come from a small cache in the G itself (no lock: only the G
 * uses it), refilled from and overflowing to a global pool.
 */
#define G_SUDOGS 8

struct sudog *acquiresudog(struct g *gp)
{
	struct sudog *sg = gp->sudogcache;

	if (likely(sg)) {
		gp->sudogcache = sg->next;
		gp->nsudogcache--;
	} else {
		lock(&sudoglock);
		if (!sudogfree) {
			struct sudog *slab = sysmap(SUDOG_SLAB * sizeof(*slab));
			int i;

			if (!slab)
				throw("acquiresudog: out of memory");
			for (i = 0; i < SUDOG_SLAB; i++) {
				slab[i].next = sudogfree;
				sudogfree = &slab[i];
			}
		}
		sg = sudogfree;
		sudogfree = sg->next;
		unlock(&sudoglock);
	}
	memset(sg, 0, sizeof(*sg));
	return sg;
}

void releasesudog(struct g *gp, struct sudog *sg)
{
	if (gp->nsudogcache < G_SUDOGS) {
		sg->next = gp->sudogcache;
		gp->sudogcache = sg;
		gp->nsudogcache++;
		return;
	}
	lock(&sudoglock);
	sg->next = sudogfree;
	sudogfree = sg;
	unlock(&sudoglock);
}

void waitq_enqueue(struct waitq *q, struct sudog *sg)
{
	sg->next = NULL;
	sg->prev = q->last;
	if (q->last)
		q->last->next = sg;
	else
		q->first = sg;
	q->last = sg;
}

void waitq_remove(struct waitq *q, struct sudog *sg)
{
	if (sg->prev)
		sg->prev->next = sg->next;
	else if (q->first == sg)
		q->first = sg->next;
	else
		return;		/* not queued (already dequeued) */
	if (sg->next)
		sg->next->prev = sg->prev;
	else
		q->last = sg->prev;
	sg->next = sg->prev = NULL;
}

/* The first waiter that is ours to wake (a select's only if we win it). */
struct sudog *waitq_dequeue(struct waitq *q)
{
	struct sudog *sg;

	while ((sg = q->first)) {
		uint32_t zero = 0;

		q->first = sg->next;
		if (q->first)
			q->first->prev = NULL;
		else
			q->last = NULL;
		sg->next = sg->prev = NULL;
		if (sg->isselect &&
		    !atomic_compare_exchange_strong(&sg->g->selectdone, &zero, 1))
			continue;	/* another case of that select won */
		return sg;
	}
	return NULL;
}

/**
 * gort_chan_wake() - probe point: @gp, blocked on @c (@dir: 1 recv,
 * 2 send, as enum gort_select_dir), is readied.  Called with no channel
 * lock held, by the sender, receiver or closer.
 */
__probe void gort_chan_wake(struct hchan *c, struct g *gp, uint32_t dir)
{
	PROBE_FRAME();
	(void)c, (void)dir;
	goready(gp);
}

/**
 * gort_chan_park() - probe point: the current goroutine @gp blocks on
 * @c (@dir: 1 recv, 2 send); returns when woken.  @c's lock is held on
 * entry and released once @gp is parked.
 */
__probe void gort_chan_park(struct hchan *c, struct g *gp, uint32_t dir)
{
	PROBE_FRAME();
	gp->param = NULL;
	goparkunlock_m(gp->m, &c->lock, dir == 2 ? waitReasonChanSend : waitReasonChanReceive);
}

/* Hand @ep to receiver @sg (lock held); the caller unlocks and wakes. */
void chan_send_to_waiter(struct hchan *c, struct sudog *sg, const void *ep)
{
	if (sg->elem)
		elemcopy(sg->elem, ep, c->elemsize);
	sg->success = true;
	sg->g->param = sg;
}

/*
 * Take a value for @ep from blocked sender @sg (lock held): directly for
 * an unbuffered channel; for a full buffered one the head of the buffer,
 * and the sender's value goes to the tail (FIFO kept).
 */
void chan_recv_from_waiter(struct hchan *c, struct sudog *sg, void *ep)
{
	if (c->dataqsiz == 0) {
		if (ep)
			elemcopy(ep, sg->elem, c->elemsize);
	} else {
		void *qp = chanbuf(c, c->recvx);

		if (ep)
			elemcopy(ep, qp, c->elemsize);
		elemcopy(qp, sg->elem, c->elemsize);
		if (++c->recvx == c->dataqsiz)
			c->recvx = 0;
		c->sendx = c->recvx;
	}
	sg->success = true;
	sg->g->param = sg;
}

static void park_forever(enum waitreason reason)
{
	gopark(NULL, NULL, reason);
	throw("unreachable: woke from a nil channel");
}

/* chansend() - Go's chansend; true if sent (always, when @block). */
static bool chansend(struct hchan *c, const void *ep, bool block)
{
	struct sudog *sg;
	struct g *gp;

	if (!c) {
		if (!block)
			return false;
		park_forever(waitReasonChanSendNilChan);
	}
	/* Lock-free "full and open" check for a failing try (Go's too). */
	if (!block && !__atomic_load_n(&c->closed, __ATOMIC_RELAXED) &&
	    ((c->dataqsiz == 0 && !__atomic_load_n(&c->recvq.first, __ATOMIC_RELAXED)) ||
	     (c->dataqsiz > 0 && __atomic_load_n(&c->qcount, __ATOMIC_RELAXED) == c->dataqsiz)))
		return false;

	lock(&c->lock);
	if (c->closed) {
		unlock(&c->lock);
		gopanic("send on closed channel");
	}
	if ((sg = waitq_dequeue(&c->recvq))) {
		chan_send_to_waiter(c, sg, ep);
		unlock(&c->lock);
		gort_chan_wake(c, sg->g, GORT_SELECT_RECV);
		return true;
	}
	if (c->qcount < c->dataqsiz) {
		elemcopy(chanbuf(c, c->sendx), ep, c->elemsize);
		if (++c->sendx == c->dataqsiz)
			c->sendx = 0;
		__atomic_store_n(&c->qcount, c->qcount + 1, __ATOMIC_RELAXED);
		unlock(&c->lock);
		return true;
	}
	if (!block) {
		unlock(&c->lock);
		return false;
	}

	gp = getg();
	if (!gp)
		fatal("gort_chan_send: blocking outside a goroutine");
	sg = acquiresudog(gp);
	sg->g = gp;
	sg->c = c;
	sg->elem = (void *)ep;
	waitq_enqueue(&c->sendq, sg);
	gort_chan_park(c, gp, GORT_SELECT_SEND);
	/* Woken by a receiver (success) or by close. */
	if (!sg->success) {
		releasesudog(gp, sg);
		gopanic("send on closed channel");
	}
	releasesudog(gp, sg);
	return true;
}

/*
 * chanrecv() - Go's chanrecv.  Returns 1 received, -1 closed (and *ep
 * zeroed), 0 nothing (only when !@block).
 */
static int chanrecv(struct hchan *c, void *ep, bool block)
{
	struct sudog *sg;
	struct g *gp;
	bool ok;

	if (!c) {
		if (!block)
			return 0;
		park_forever(waitReasonChanReceiveNilChan);
	}
	/* Lock-free "empty" check for a failing try. */
	if (!block && ((c->dataqsiz == 0 && !__atomic_load_n(&c->sendq.first, __ATOMIC_RELAXED)) ||
		       (c->dataqsiz > 0 && !__atomic_load_n(&c->qcount, __ATOMIC_RELAXED)))) {
		if (!__atomic_load_n(&c->closed, __ATOMIC_ACQUIRE))
			return 0;
		/* Closed: re-check emptiness after seeing it (Go's order). */
		if ((c->dataqsiz == 0 && !__atomic_load_n(&c->sendq.first, __ATOMIC_RELAXED)) ||
		    (c->dataqsiz > 0 && !__atomic_load_n(&c->qcount, __ATOMIC_RELAXED))) {
			if (ep)
				elemzero(ep, c->elemsize);
			return -1;
		}
	}

	lock(&c->lock);
	if (c->closed && c->qcount == 0) {
		unlock(&c->lock);
		if (ep)
			elemzero(ep, c->elemsize);
		return -1;
	}
	if ((sg = waitq_dequeue(&c->sendq))) {
		chan_recv_from_waiter(c, sg, ep);
		unlock(&c->lock);
		gort_chan_wake(c, sg->g, GORT_SELECT_SEND);
		return 1;
	}
	if (c->qcount > 0) {
		void *qp = chanbuf(c, c->recvx);

		if (ep)
			elemcopy(ep, qp, c->elemsize);
		elemzero(qp, c->elemsize);
		if (++c->recvx == c->dataqsiz)
			c->recvx = 0;
		__atomic_store_n(&c->qcount, c->qcount - 1, __ATOMIC_RELAXED);
		unlock(&c->lock);
		return 1;
	}
	if (!block) {
		unlock(&c->lock);
		return 0;
	}

	gp = getg();
	if (!gp)
		fatal("gort_chan_recv: blocking outside a goroutine");
	sg = acquiresudog(gp);
	sg->g = gp;
	sg->c = c;
	sg->elem = ep;
	waitq_enqueue(&c->recvq, sg);
	gort_chan_park(c, gp, GORT_SELECT_RECV);
	ok = sg->success;
	releasesudog(gp, sg);
	return ok ? 1 : -1;
}

/* Of an hchan, only buf points into the heap (sudogs are not heap). */
static const uint64_t hchan_ptrmask[] = { GORT_PTRBIT(struct hchan, buf) };
static const struct gort_type hchan_type = {
	.size = (sizeof(struct hchan) + 7) & ~(size_t)7,
	.ptrmask = hchan_ptrmask,
	.name = "hchan",
};

__export struct gort_chan *gort_chan_make(size_t elemsize, size_t cap, unsigned int flags)
{
	struct hchan *c;
	size_t hsz = (sizeof(*c) + 15) & ~(size_t)15;

	if (elemsize >= GORT_CHAN_MAX_ELEM || (flags & ~GORT_CHAN_NOSCAN) ||
	    cap > UINT32_MAX || (elemsize && cap > (SIZE_MAX / 4 - hsz) / elemsize)) {
		errno_set(EINVAL);
		return NULL;
	}
	if (flags & GORT_CHAN_NOSCAN || !cap || !elemsize) {
		/* No pointers in the buffer: one noscan object (Go does too). */
		c = gort_alloc(hsz + cap * elemsize, GORT_ALLOC_NOSCAN);
		if (!c)
			return NULL;
		c->buf = (char *)c + hsz;
	} else {
		/* Scanned: c->buf is the only pointer to the buffer, and the
		 * only word of the hchan the collector reads (as Go's). */
		c = gort_alloc_typed(&hchan_type, 1, 0);
		if (!c)
			return NULL;
		c->buf = gort_alloc(cap * elemsize, 0);
		if (!c->buf) {
			gort_free(c);
			return NULL;
		}
	}
	c->elemsize = (uint32_t)elemsize;
	c->dataqsiz = (uint32_t)cap;
	return (struct gort_chan *)c;
}

__export void gort_chan_free(struct gort_chan *ch)
{
	struct hchan *c = (struct hchan *)ch;
	size_t hsz = (sizeof(*c) + 15) & ~(size_t)15;

	if (!c)
		return;
	if (c->recvq.first || c->sendq.first)
		fatal("gort_chan_free: goroutines are blocked on the channel");
	if (c->buf != (char *)c + hsz)
		gort_free(c->buf);
	gort_free(c);
}

__export void gort_chan_send(struct gort_chan *c, const void *elem)
{
	chansend((struct hchan *)c, elem, true);
}

__export bool gort_chan_recv(struct gort_chan *c, void *elem)
{
	return chanrecv((struct hchan *)c, elem, true) > 0;
}

__export bool gort_chan_trysend(struct gort_chan *c, const void *elem)
{
	return chansend((struct hchan *)c, elem, false);
}

__export int gort_chan_tryrecv(struct gort_chan *c, void *elem)
{
	return chanrecv((struct hchan *)c, elem, false);
}

/**
 * gort_chan_doclose() - probe point: @gp (NULL outside goroutines)
 * closes @c: every blocked receiver gets a zero value and ok = false,
 * every blocked sender panics.
 */
__probe void gort_chan_doclose(struct hchan *c, struct g *gp)
{
	struct sudog *sg, *recvs = NULL, *sends = NULL;

	PROBE_FRAME();
	(void)gp;
	lock(&c->lock);
	if (c->closed) {
		unlock(&c->lock);
		gopanic("close of closed channel");
	}
	__atomic_store_n(&c->closed, 1, __ATOMIC_RELEASE);
	/* Collect them (linked through ->next: dequeued, and their Gs do
	 * not run until readied), then wake them without the lock. */
	while ((sg = waitq_dequeue(&c->recvq))) {
		if (sg->elem)
			elemzero(sg->elem, c->elemsize);
		sg->success = false;
		sg->g->param = sg;
		sg->next = recvs;
		recvs = sg;
	}
	while ((sg = waitq_dequeue(&c->sendq))) {
		sg->success = false;
		sg->g->param = sg;
		sg->next = sends;
		sends = sg;
	}
	unlock(&c->lock);
	while ((sg = recvs)) {
		recvs = sg->next;
		gort_chan_wake(c, sg->g, GORT_SELECT_RECV);
	}
	while ((sg = sends)) {
		sends = sg->next;
		gort_chan_wake(c, sg->g, GORT_SELECT_SEND);
	}
}

__export void gort_chan_close(struct gort_chan *c)
{
	if (!c)
		gopanic("close of nil channel");
	gort_chan_doclose((struct hchan *)c, getg());
}

__export size_t gort_chan_len(struct gort_chan *ch)
{
	struct hchan *c = (struct hchan *)ch;

	return c ? __atomic_load_n(&c->qcount, __ATOMIC_RELAXED) : 0;
}

__export size_t gort_chan_cap(struct gort_chan *ch)
{
	struct hchan *c = (struct hchan *)ch;

	return c ? c->dataqsiz : 0;
}
