// SPDX-License-Identifier: MIT
/*
 * sema.c - the runtime semaphore that parks goroutines (Go's sema.go).
 *
 * A semaphore is any uint32_t in user memory.  Waiters are kept in one of
 * SEMTABSZ roots chosen by hashing the address, each a lock plus a list
 * of parked Gs (g->waitlink), FIFO per address (LIFO on request, for a
 * Mutex waiter that already waited once).
 *
 * Invariant: root->nwait >= the number of Gs in root's list; it is read
 * without the lock by semrelease to skip the lock when nobody waits, so
 * acquire increments it *before* its final cansemacquire re-check, and
 * release adds to *addr before reading nwait (both seq_cst): a release
 * either sees the waiter or the waiter sees the count.
 *
 * Handoff (Mutex starvation mode): semrelease1(addr, true) takes the
 * count on the waiter's behalf and marks it ticket_handoff, so the woken
 * goroutine owns it without racing newcomers.
 *
 * Timed waits arm gp->timer from the unlock function (on g0, after the
 * park), so the timer cannot fire before the goroutine is parked; the
 * timeout handler removes the waiter under the root lock only if it is
 * still queued for the same wait (seq).
 */
#include "internal.h"

#define SEMTABSZ 251

struct semaroot {
	struct lock lock;
	struct g *head, *tail;
	uint32_t nwait;
} __aligned(CACHELINE);

static struct semaroot semtable[SEMTABSZ];

/* Its Gs are not heap objects: 16 KB the collector need not scan. */
void sema_init(void)
{
	gc_noscan_global(semtable, sizeof(semtable));
}

static struct semaroot *semroot(uint32_t *addr)
{
	return &semtable[((uintptr_t)addr >> 3) % SEMTABSZ];
}

static bool cansemacquire(uint32_t *addr)
{
	uint32_t *a = (uint32_t *)addr;
	uint32_t v = atomic_load(a);

	while (v != 0) {
		if (atomic_compare_exchange_weak(a, &v, v - 1))
			return true;
	}
	return false;
}

/* semtryacquire() - take a unit of *@addr if one is free; never yields
 * (stopTheWorld: a collector about to stop the world must not go to the
 * back of the run queue first). */
bool semtryacquire(uint32_t *addr)
{
	return cansemacquire(addr);
}

/* root->lock held. */
static void queue(struct semaroot *root, struct g *gp, bool lifo)
{
	gp->waitlink = NULL;
	if (lifo) {
		/* Before the first waiter on the same address. */
		struct g **pg = &root->head;

		while (*pg && (*pg)->waitaddr != gp->waitaddr)
			pg = &(*pg)->waitlink;
		gp->waitlink = *pg;
		*pg = gp;
		if (!gp->waitlink)
			root->tail = gp;
		return;
	}
	if (root->tail)
		root->tail->waitlink = gp;
	else
		root->head = gp;
	root->tail = gp;
}

/* Unlink @gp (or the first waiter on @addr if @gp is NULL); lock held. */
static struct g *dequeue(struct semaroot *root, void *addr, struct g *want)
{
	struct g **pg, *prev = NULL;

	for (pg = &root->head; *pg; prev = *pg, pg = &(*pg)->waitlink) {
		struct g *gp = *pg;

		if (want ? gp == want : gp->waitaddr == addr) {
			*pg = gp->waitlink;
			if (root->tail == gp)
				root->tail = prev;
			gp->waitlink = NULL;
			gp->waitaddr = NULL;
			atomic_fetch_sub(&root->nwait, 1);
			return gp;
		}
	}
	return NULL;
}

static void semtimeout(void *arg, uint64_t seq)
{
	struct g *gp = arg;
	struct semaroot *root;
	void *addr = gp->waitaddr;

	if (!addr)
		return;
	root = semroot(addr);
	lock(&root->lock);
	if (gp->timer.seq == seq && gp->waitaddr == addr && dequeue(root, addr, gp)) {
		gp->timedout = true;
		unlock(&root->lock);
		goready(gp);
		return;
	}
	unlock(&root->lock);
}

static bool semparkunlock(struct g *gp, void *lk)
{
	bool wake = gp->timer.when && addtimer_nowake(&gp->timer);

	unlock(lk);
	/* After the unlock: starting an M must not happen under a root lock. */
	if (wake)
		wakep();
	return true;
}

void semacquire1(uint32_t *addr, bool lifo, enum waitreason reason,
		 int64_t timeout_ns, bool *acquired)
{
	struct semaroot *root;
	struct g *gp;
	int64_t deadline = timeout_ns >= 0 ? when(timeout_ns) : 0;

	*acquired = true;
	if (cansemacquire(addr)) {
		preemptcheck();
		return;
	}
	gp = getg();
	if (!gp)
		fatal("semacquire: not on a goroutine");
	root = semroot(addr);
	for (;;) {
		lock(&root->lock);
		atomic_fetch_add(&root->nwait, 1);
		if (cansemacquire(addr)) {
			atomic_fetch_sub(&root->nwait, 1);
			unlock(&root->lock);
			return;
		}
		if (timeout_ns >= 0 && nanotime() >= deadline) {
			atomic_fetch_sub(&root->nwait, 1);
			unlock(&root->lock);
			*acquired = false;
			return;
		}
		gp->waitaddr = addr;
		gp->ticket_handoff = false;
		gp->timedout = false;
		gp->acquiretime = 0;
		gp->timer.when = 0;
		/*
		 * A new seq for every wait, timed or not: a timeout of an
		 * earlier wait whose callback is still running must not wake
		 * this one.
		 */
		gp->timer.seq++;
		if (timeout_ns >= 0) {
			gp->timer.when = deadline;
			gp->timer.period = 0;
			gp->timer.f = semtimeout;
			gp->timer.arg = gp;
		}
		queue(root, gp, lifo);
		gopark(semparkunlock, &root->lock, reason);
		if (gp->timer.when)
			deltimer(&gp->timer);
		if (gp->ticket_handoff || cansemacquire(addr))
			return;
		if (gp->timedout) {
			*acquired = false;
			return;
		}
	}
}

void semrelease1(uint32_t *addr, bool handoff)
{
	struct semaroot *root = semroot(addr);
	struct m *mp;
	struct g *gp;

	atomic_fetch_add((uint32_t *)addr, 1);
	/* Pairs with the nwait increment in semacquire1 (both seq_cst). */
	if (atomic_load(&root->nwait) == 0) {
		preemptcheck();
		return;
	}
	lock(&root->lock);
	if (atomic_load(&root->nwait) == 0) {
		unlock(&root->lock);
		return;
	}
	gp = dequeue(root, addr, NULL);
	unlock(&root->lock);
	if (!gp)
		return;
	if (handoff && cansemacquire(addr))
		gp->ticket_handoff = true;
	goready(gp);
	/*
	 * Direct handoff: let the waiter run now on this P (it is in
	 * runnext), so starvation mode really hands the lock over.
	 */
	mp = getm();
	if (gp->ticket_handoff && mp && mp->curg && !mp->locks)
		gort_yield();
	else
		preemptcheck();
}

__export void gort_sema_acquire(uint32_t *addr)
{
	bool ok;

	semacquire1(addr, false, waitReasonSemacquire, -1, &ok);
}

__export bool gort_sema_acquire_timeout(uint32_t *addr, int64_t timeout_ns)
{
	bool ok;

	semacquire1(addr, false, waitReasonSemacquire, timeout_ns < 0 ? 0 : timeout_ns, &ok);
	return ok;
}

__export void gort_sema_release(uint32_t *addr)
{
	semrelease1(addr, false);
}
