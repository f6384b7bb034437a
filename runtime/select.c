// SPDX-License-Identifier: MIT
/*
 * select.c - select, after Go's runtime/select.go (selectgo).
 *
 * 1. pollorder: the cases with a channel, in a uniformly random order
 *    (Fisher-Yates), so every ready case is equally likely to be chosen;
 *    lockorder: the same cases sorted by channel address, so any two
 *    selects lock shared channels in the same order (no deadlock).
 * 2. Lock every channel (each once), then look for a ready case in
 *    pollorder: the first found is done at once, as a send or receive
 *    would.  None and a default: unlock, return -1.
 * 3. Otherwise enqueue one sudog per case on its channel (in lock order,
 *    chained on sg->waitlink), park, and unlock everything on g0
 *    (selparkcommit).  The first waker wins g->selectdone and records its
 *    sudog in g->param; others skip this goroutine's sudogs.
 * 4. Woken: lock everything again, take the sudogs off the channels that
 *    did not fire, unlock, report the case that did.
 *
 * Invariant: while parked in select, a goroutine's sudogs are on exactly
 * the queues of its cases, and at most one waker (the one that moved
 * selectdone 0 -> 1) touches any of them.
 */
#include <errno.h>
#include <string.h>

#include <gort/chan.h>
#include "chan.h"

#define STACK_CASES 32

static void sellock(struct gort_select_case *cases, const uint32_t *lockorder, int n)
{
	struct hchan *last = NULL;
	int i;

	for (i = 0; i < n; i++) {
		struct hchan *c = (struct hchan *)cases[lockorder[i]].c;

		if (c != last)
			lock(&c->lock);
		last = c;
	}
}

static void selunlock(struct gort_select_case *cases, const uint32_t *lockorder, int n)
{
	int i;

	/* Reverse order; each channel once (duplicates are adjacent). */
	for (i = n - 1; i >= 0; i--) {
		struct hchan *c = (struct hchan *)cases[lockorder[i]].c;

		if (i > 0 && c == (struct hchan *)cases[lockorder[i - 1]].c)
			continue;
		unlock(&c->lock);
	}
}

struct selpark {
	struct gort_select_case *cases;
	const uint32_t *lockorder;
	int n;
};

static bool selparkcommit(struct g *gp, void *arg)
{
	struct selpark *sp = arg;

	(void)gp;
	selunlock(sp->cases, sp->lockorder, sp->n);
	return true;
}

/**
 * gort_select_park() - probe point: the current goroutine @gp blocks in
 * a select over @ncases channels (all locked on entry, unlocked once it
 * is parked); returns when one case fired.
 */
__probe void gort_select_park(struct g *gp, uint32_t ncases)
{
	PROBE_FRAME();
	(void)ncases;
	gopark(selparkcommit, gp->param, waitReasonSelect);
}

/* Sort case indices by channel address (insertion sort: n is small;
 * heapsort would bound the worst case, as Go's). */
static void sortlockorder(struct gort_select_case *cases, uint32_t *order, int n)
{
	int i, j;

	for (i = 1; i < n; i++) {
		uint32_t k = order[i];
		uintptr_t a = (uintptr_t)cases[k].c;

		for (j = i; j > 0 && (uintptr_t)cases[order[j - 1]].c > a; j--)
			order[j] = order[j - 1];
		order[j] = k;
	}
}

__export int gort_select(struct gort_select_case *cases, int n, bool block)
{
	uint32_t stackorder[2 * STACK_CASES], *pollorder, *lockorder;
	struct sudog *sg, *sglist = NULL, **tail = &sglist, *fired;
	struct g *gp;
	struct m *mp;
	struct selpark sp;
	int i, norder = 0, chosen = -1;

	if (n < 0 || n > GORT_SELECT_MAX || (n && !cases))
		fatal("gort_select: bad arguments");
	if (n <= STACK_CASES) {
		pollorder = stackorder;
	} else {
		pollorder = gort_alloc(2 * (size_t)n * sizeof(uint32_t), GORT_ALLOC_NOSCAN);
		if (!pollorder)
			throw("gort_select: out of memory");
	}
	lockorder = pollorder + n;

	/* Random permutation of the cases that have a channel. */
	mp = getm();
	for (i = 0; i < n; i++) {
		uint32_t j;

		if (!cases[i].c)
			continue;
		if (cases[i].dir != GORT_SELECT_RECV && cases[i].dir != GORT_SELECT_SEND)
			fatal("gort_select: bad case direction");
		j = (mp ? fastrand_m(mp) : fastrand()) % (uint32_t)(norder + 1);
		pollorder[norder] = pollorder[j];
		pollorder[j] = (uint32_t)i;
		norder++;
	}
	if (!norder) {
		if (n > STACK_CASES)
			gort_free(pollorder);
		if (!block)
			return -1;
		gopark(NULL, NULL, waitReasonSelectNoCases);
		throw("unreachable: select with no cases woke");
	}
	memcpy(lockorder, pollorder, (size_t)norder * sizeof(uint32_t));
	sortlockorder(cases, lockorder, norder);
	sellock(cases, lockorder, norder);

	/* Pass 1: a case that is ready now. */
	for (i = 0; i < norder; i++) {
		struct gort_select_case *k = &cases[pollorder[i]];
		struct hchan *c = (struct hchan *)k->c;

		if (k->dir == GORT_SELECT_RECV) {
			if ((sg = waitq_dequeue(&c->sendq))) {
				chan_recv_from_waiter(c, sg, k->elem);
				selunlock(cases, lockorder, norder);
				gort_chan_wake(c, sg->g, GORT_SELECT_SEND);
				k->ok = true;
				chosen = (int)pollorder[i];
				goto out;
			}
			if (c->qcount > 0) {
				void *qp = chanbuf(c, c->recvx);

				if (k->elem)
					elemcopy(k->elem, qp, c->elemsize);
				elemzero(qp, c->elemsize);
				if (++c->recvx == c->dataqsiz)
					c->recvx = 0;
				__atomic_store_n(&c->qcount, c->qcount - 1, __ATOMIC_RELAXED);
				selunlock(cases, lockorder, norder);
				k->ok = true;
				chosen = (int)pollorder[i];
				goto out;
			}
			if (c->closed) {
				selunlock(cases, lockorder, norder);
				if (k->elem)
					elemzero(k->elem, c->elemsize);
				k->ok = false;
				chosen = (int)pollorder[i];
				goto out;
			}
		} else {
			if (c->closed) {
				selunlock(cases, lockorder, norder);
				gopanic("send on closed channel");
			}
			if ((sg = waitq_dequeue(&c->recvq))) {
				chan_send_to_waiter(c, sg, k->elem);
				selunlock(cases, lockorder, norder);
				gort_chan_wake(c, sg->g, GORT_SELECT_RECV);
				chosen = (int)pollorder[i];
				goto out;
			}
			if (c->qcount < c->dataqsiz) {
				elemcopy(chanbuf(c, c->sendx), k->elem, c->elemsize);
				if (++c->sendx == c->dataqsiz)
					c->sendx = 0;
				__atomic_store_n(&c->qcount, c->qcount + 1, __ATOMIC_RELAXED);
				selunlock(cases, lockorder, norder);
				chosen = (int)pollorder[i];
				goto out;
			}
		}
	}
	if (!block) {
		selunlock(cases, lockorder, norder);
		goto out;
	}

	/* Pass 2: wait on every channel. */
	gp = getg();
	if (!gp)
		fatal("gort_select: blocking outside a goroutine");
	atomic_store(&gp->selectdone, 0);
	for (i = 0; i < norder; i++) {
		struct gort_select_case *k = &cases[lockorder[i]];
		struct hchan *c = (struct hchan *)k->c;

		sg = acquiresudog(gp);
		sg->g = gp;
		sg->c = c;
		sg->elem = k->elem;
		sg->isselect = true;
		sg->caseidx = lockorder[i];
		*tail = sg;
		tail = &sg->waitlink;
		waitq_enqueue(k->dir == GORT_SELECT_RECV ? &c->recvq : &c->sendq, sg);
	}
	sp.cases = cases;
	sp.lockorder = lockorder;
	sp.n = norder;
	gp->param = &sp;
	gort_select_park(gp, (uint32_t)norder);

	/* Pass 3: the waker left its sudog in param; dequeue the others. */
	fired = getg()->param;
	sellock(cases, lockorder, norder);
	for (sg = sglist; sg; sg = sg->waitlink) {
		if (sg == fired)
			continue;
		waitq_remove(cases[sg->caseidx].dir == GORT_SELECT_RECV ? &sg->c->recvq :
			     &sg->c->sendq, sg);
	}
	selunlock(cases, lockorder, norder);
	if (!fired)
		throw("select: woken without a case");
	chosen = (int)fired->caseidx;
	if (cases[chosen].dir == GORT_SELECT_RECV) {
		cases[chosen].ok = fired->success;
	} else if (!fired->success) {
		gopanic("send on closed channel");
	}
	gp = getg();
	while ((sg = sglist)) {
		sglist = sg->waitlink;
		releasesudog(gp, sg);
	}
out:
	if (n > STACK_CASES)
		gort_free(pollorder);
	return chosen;
}
