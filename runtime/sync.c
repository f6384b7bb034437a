// SPDX-License-Identifier: MIT
/*
 * sync.c - Mutex, RWMutex, WaitGroup, Once and Cond, as Go's sync package.
 *
 * Mutex (Go's sync.Mutex, same state word):
 *   state = waiters << 3 | starving << 2 | woken << 1 | locked
 * Normal mode: waiters queue FIFO on the semaphore, but a woken waiter
 * competes with arriving goroutines, which usually win (they are on CPU):
 * good throughput.  A waiter that fails to get the lock for over 1 ms
 * switches the mutex to starvation mode: unlock hands ownership straight
 * to the front waiter, newcomers queue at the tail without spinning.  The
 * last waiter, or one that waited under 1 ms, switches back to normal.
 *
 * RWMutex: readerCount goes negative (by rwmutexMaxReaders) while a
 * writer is pending, so new readers wait: writers cannot starve.
 *
 * WaitGroup: state = counter << 32 | waiters; Wait adds itself as a waiter
 * with a CAS, so Add/Done and Wait need no lock.
 *
 * Cond: a ticket-based notify list (Go's notifyList): wait takes a ticket
 * before unlocking L, so a signal after the unlock cannot be lost.
 *
 * The fast paths (uncontended lock/unlock, Done with waiters == 0) are one
 * atomic operation and never enter the scheduler.
 */
#include "internal.h"

enum {
	mutexLocked = 1,
	mutexWoken = 2,
	mutexStarving = 4,
	mutexWaiterShift = 3,
};

#define starvationThresholdNs	(1000 * 1000)
#define rwmutexMaxReaders	(1 << 30)

#define A32(p)	((int32_t *)(p))
#define AU32(p)	((uint32_t *)(p))
#define AU64(p)	((uint64_t *)(p))

/* Go's runtime_canSpin: only on multicore, with other Ps running and
 * nothing else to do locally. */
static bool canspin(int iter)
{
	struct m *mp = getm();
	struct p *pp;

	if (iter >= 4 || ncpu <= 1 || !mp || !(pp = mp->p))
		return false;
	if (atomic_load(&gomaxprocs) <= atomic_load(&sched.npidle) +
	    atomic_load(&sched.nmspinning) + 1)
		return false;
	return atomic_load(&pp->runqhead) == atomic_load(&pp->runqtail) &&
	       !atomic_load(&pp->runnext);
}

static void dospin(void)
{
	for (int i = 0; i < 30; i++)
		cpu_relax();
}

static void mutex_lockslow(struct gort_mutex *m)
{
	int64_t waitstart = 0;
	bool starving = false, awoke = false;
	int iter = 0;
	int32_t old = atomic_load(A32(&m->state));

	for (;;) {
		int32_t new;

		/* Spin while locked in normal mode and spinning makes sense. */
		if ((old & (mutexLocked | mutexStarving)) == mutexLocked && canspin(iter)) {
			if (!awoke && !(old & mutexWoken) && (old >> mutexWaiterShift) != 0 &&
			    atomic_compare_exchange_strong(A32(&m->state), &old, old | mutexWoken))
				awoke = true;
			dospin();
			iter++;
			old = atomic_load(A32(&m->state));
			continue;
		}
		new = old;
		if (!(old & mutexStarving))
			new |= mutexLocked;
		if (old & (mutexLocked | mutexStarving))
			new += 1 << mutexWaiterShift;
		if (starving && (old & mutexLocked))
			new |= mutexStarving;
		if (awoke) {
			if (!(new & mutexWoken))
				fatal("sync: inconsistent mutex state");
			new &= ~mutexWoken;
		}
		if (atomic_compare_exchange_strong(A32(&m->state), &old, new)) {
			bool lifo, acquired;

			if (!(old & (mutexLocked | mutexStarving)))
				break;	/* locked with CAS */
			lifo = waitstart != 0;
			if (!waitstart)
				waitstart = nanotime();
			semacquire1(&m->sema, lifo, waitReasonSyncMutexLock, -1, &acquired);
			starving = starving || nanotime() - waitstart > starvationThresholdNs;
			old = atomic_load(A32(&m->state));
			if (old & mutexStarving) {
				/* Ownership was handed to us; we are off the queue. */
				int32_t delta = mutexLocked - (1 << mutexWaiterShift);

				if ((old & (mutexLocked | mutexWoken)) ||
				    (old >> mutexWaiterShift) == 0)
					fatal("sync: inconsistent mutex state");
				if (!starving || (old >> mutexWaiterShift) == 1)
					delta -= mutexStarving;	/* exit starvation */
				atomic_fetch_add(A32(&m->state), delta);
				break;
			}
			awoke = true;
			iter = 0;
		}
	}
}

__export void gort_mutex_lock(struct gort_mutex *m)
{
	int32_t unlocked = 0;

	if (likely(atomic_compare_exchange_strong(A32(&m->state), &unlocked, mutexLocked)))
		return;
	mutex_lockslow(m);
}

__export bool gort_mutex_trylock(struct gort_mutex *m)
{
	int32_t old = atomic_load(A32(&m->state));

	if (old & (mutexLocked | mutexStarving))
		return false;
	return atomic_compare_exchange_strong(A32(&m->state), &old, old | mutexLocked);
}

static void mutex_unlockslow(struct gort_mutex *m, int32_t new)
{
	if (!((new + mutexLocked) & mutexLocked))
		fatal("sync: unlock of unlocked mutex");
	if (!(new & mutexStarving)) {
		int32_t old = new;

		for (;;) {
			/* Nobody to wake, or someone already woke/locked. */
			if ((old >> mutexWaiterShift) == 0 ||
			    (old & (mutexLocked | mutexWoken | mutexStarving)))
				return;
			new = (old - (1 << mutexWaiterShift)) | mutexWoken;
			if (atomic_compare_exchange_strong(A32(&m->state), &old, new)) {
				semrelease1(&m->sema, false);
				return;
			}
		}
	}
	/* Starving: hand off to the next waiter. */
	semrelease1(&m->sema, true);
}

__export void gort_mutex_unlock(struct gort_mutex *m)
{
	int32_t new = atomic_fetch_sub(A32(&m->state), mutexLocked) - mutexLocked;

	if (unlikely(new != 0))
		mutex_unlockslow(m, new);
}

/* ---- RWMutex ---- */

__export void gort_rwmutex_rlock(struct gort_rwmutex *rw)
{
	if (atomic_fetch_add(A32(&rw->reader_count), 1) + 1 < 0) {
		bool ok;

		/* A writer is pending: wait for it. */
		semacquire1(&rw->reader_sem, false, waitReasonSyncRWMutexRLock, -1, &ok);
	}
}

__export bool gort_rwmutex_tryrlock(struct gort_rwmutex *rw)
{
	int32_t c = atomic_load(A32(&rw->reader_count));

	while (c >= 0) {
		if (atomic_compare_exchange_weak(A32(&rw->reader_count), &c, c + 1))
			return true;
	}
	return false;
}

__export void gort_rwmutex_runlock(struct gort_rwmutex *rw)
{
	int32_t r = atomic_fetch_sub(A32(&rw->reader_count), 1) - 1;

	if (r < 0) {
		if (r + 1 == 0 || r + 1 == -rwmutexMaxReaders)
			fatal("sync: RUnlock of unlocked RWMutex");
		/* The last departing reader unblocks the writer. */
		if (atomic_fetch_sub(A32(&rw->reader_wait), 1) - 1 == 0)
			semrelease1(&rw->writer_sem, false);
	}
}

__export void gort_rwmutex_lock(struct gort_rwmutex *rw)
{
	int32_t r;

	gort_mutex_lock(&rw->w);
	/* Announce the writer; r = active readers. */
	r = atomic_fetch_add(A32(&rw->reader_count), -rwmutexMaxReaders);
	if (r != 0 && atomic_fetch_add(A32(&rw->reader_wait), r) + r != 0) {
		bool ok;

		semacquire1(&rw->writer_sem, false, waitReasonSyncRWMutexLock, -1, &ok);
	}
}

__export bool gort_rwmutex_trylock(struct gort_rwmutex *rw)
{
	int32_t zero = 0;

	if (!gort_mutex_trylock(&rw->w))
		return false;
	if (!atomic_compare_exchange_strong(A32(&rw->reader_count), &zero, -rwmutexMaxReaders)) {
		gort_mutex_unlock(&rw->w);
		return false;
	}
	return true;
}

__export void gort_rwmutex_unlock(struct gort_rwmutex *rw)
{
	int32_t r = atomic_fetch_add(A32(&rw->reader_count), rwmutexMaxReaders) +
		    rwmutexMaxReaders;

	if (r >= rwmutexMaxReaders)
		fatal("sync: Unlock of unlocked RWMutex");
	/* Unblock the readers that queued behind this writer. */
	for (int32_t i = 0; i < r; i++)
		semrelease1(&rw->reader_sem, false);
	gort_mutex_unlock(&rw->w);
}

/* ---- WaitGroup ---- */

__export void gort_waitgroup_add(struct gort_waitgroup *wg, int delta)
{
	uint64_t state = atomic_fetch_add(AU64(&wg->state), (uint64_t)(int64_t)delta << 32) +
			 ((uint64_t)(int64_t)delta << 32);
	int32_t v = (int32_t)(state >> 32);
	uint32_t w = (uint32_t)state;

	if (v < 0)
		fatal("sync: negative WaitGroup counter");
	if (w != 0 && delta > 0 && v == delta)
		fatal("sync: WaitGroup misuse: Add called concurrently with Wait");
	if (v > 0 || w == 0)
		return;
	/* Counter is 0 and there are waiters: nobody may touch state now. */
	if (atomic_load(AU64(&wg->state)) != state)
		fatal("sync: WaitGroup misuse: Add called concurrently with Wait");
	atomic_store(AU64(&wg->state), 0);
	for (; w != 0; w--)
		semrelease1(&wg->sema, false);
}

__export void gort_waitgroup_done(struct gort_waitgroup *wg)
{
	gort_waitgroup_add(wg, -1);
}

__export void gort_waitgroup_wait(struct gort_waitgroup *wg)
{
	uint64_t state = atomic_load(AU64(&wg->state));

	for (;;) {
		if ((state >> 32) == 0)
			return;
		if (atomic_compare_exchange_weak(AU64(&wg->state), &state, state + 1)) {
			bool ok;

			semacquire1(&wg->sema, false, waitReasonSyncWaitGroupWait, -1, &ok);
			if (atomic_load(AU64(&wg->state)) != 0)
				fatal("sync: WaitGroup is reused before previous Wait has returned");
			return;
		}
	}
}

/* ---- Once ---- */

__export void gort_once_do(struct gort_once *o, void (*fn)(void *), void *arg)
{
	/* acquire: pairs with the release store after fn ran. */
	if (likely(atomic_load_explicit(AU32(&o->done), acquire)))
		return;
	gort_mutex_lock(&o->m);
	if (!atomic_load_explicit(AU32(&o->done), relaxed)) {
		fn(arg);
		atomic_store_explicit(AU32(&o->done), 1, release);
	}
	gort_mutex_unlock(&o->m);
}

/* ---- Cond (notify list) ---- */

struct condwaiter {
	struct g *g;
	uint32_t ticket;
	struct condwaiter *next;
};

static struct lock *condlock(struct gort_cond *c)
{
	return (struct lock *)&c->lock;
}

_Static_assert(sizeof(struct lock) == sizeof(uint32_t), "cond lock word");

__export void gort_cond_init(struct gort_cond *c, struct gort_mutex *l)
{
	c->l = l;
	c->wait = c->notify = c->lock = 0;
	c->head = c->tail = NULL;
}

static bool condpark(struct g *gp, void *arg)
{
	(void)gp;
	unlock(arg);
	return true;
}

__export void gort_cond_wait(struct gort_cond *c)
{
	struct condwaiter w;
	struct g *gp = getg();
	uint32_t t;

	if (!c->l)
		fatal("sync: Cond used without a Locker");
	t = atomic_fetch_add(AU32(&c->wait), 1);
	gort_mutex_unlock(c->l);

	lock(condlock(c));
	/* Already notified between the ticket and now? */
	if ((int32_t)(t - atomic_load(AU32(&c->notify))) < 0) {
		unlock(condlock(c));
	} else {
		w.g = gp;
		w.ticket = t;
		w.next = NULL;
		if (c->tail)
			((struct condwaiter *)c->tail)->next = &w;
		else
			c->head = &w;
		c->tail = &w;
		gopark(condpark, condlock(c), waitReasonSyncCondWait);
	}
	gort_mutex_lock(c->l);
}

__export void gort_cond_signal(struct gort_cond *c)
{
	struct condwaiter *w, *prev = NULL;
	uint32_t t;

	/* Fast path: no waiters since the last notification. */
	if (atomic_load(AU32(&c->wait)) == atomic_load(AU32(&c->notify)))
		return;
	lock(condlock(c));
	t = atomic_load(AU32(&c->notify));
	if (t == atomic_load(AU32(&c->wait))) {
		unlock(condlock(c));
		return;
	}
	atomic_store(AU32(&c->notify), t + 1);
	/* The waiter with ticket t may not have queued yet: then it sees
	 * notify > t and does not park. */
	for (w = c->head; w; prev = w, w = w->next) {
		if (w->ticket == t) {
			if (prev)
				prev->next = w->next;
			else
				c->head = w->next;
			if (c->tail == w)
				c->tail = prev;
			unlock(condlock(c));
			goready(w->g);
			return;
		}
	}
	unlock(condlock(c));
}

__export void gort_cond_broadcast(struct gort_cond *c)
{
	struct condwaiter *w, *next;

	if (atomic_load(AU32(&c->wait)) == atomic_load(AU32(&c->notify)))
		return;
	lock(condlock(c));
	atomic_store(AU32(&c->notify), atomic_load(AU32(&c->wait)));
	w = c->head;
	c->head = c->tail = NULL;
	unlock(condlock(c));
	for (; w; w = next) {
		next = w->next;	/* read before the waiter may run and go */
		goready(w->g);
	}
}
