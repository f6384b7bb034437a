// SPDX-License-Identifier: MIT
/*
 * time.c - per-P timer heaps, gort_sleep.
 *
 * Each P keeps a binary min-heap of timers ordered by when, under
 * p->timerlock; p->timer0when mirrors the earliest when (0 = none) so the
 * scheduler can skip the lock when nothing is due.  Timers run on the M
 * that holds the P: in schedule(), in findrunnable(), and when a spinning
 * M steals from a P whose timers are overdue.  An idle M sleeps on its
 * futex until the earliest timer of all Ps (stopm_until), so an idle
 * process makes no system calls and burns no CPU.
 *
 * A timer's callback runs with no lock held; it gets a copy of the
 * timer's arg and seq taken under the lock, so the owner may reuse the
 * timer as soon as it is out of the heap.
 *
 * Invariant: t->idx >= 0 iff t is in t->pp's heap at index idx.
 */
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

static void timer_swap(struct timer **h, int32_t i, int32_t j)
{
	struct timer *t = h[i];

	h[i] = h[j];
	h[j] = t;
	h[i]->idx = i;
	h[j]->idx = j;
}

static void siftup(struct timer **h, int32_t i)
{
	while (i > 0) {
		int32_t parent = (i - 1) / 2;

		if (h[parent]->when <= h[i]->when)
			break;
		timer_swap(h, i, parent);
		i = parent;
	}
}

static void siftdown(struct timer **h, int32_t n, int32_t i)
{
	for (;;) {
		int32_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < n && h[l]->when < h[m]->when)
			m = l;
		if (r < n && h[r]->when < h[m]->when)
			m = r;
		if (m == i)
			return;
		timer_swap(h, i, m);
		i = m;
	}
}

/* Remove timers[i]; timerlock held. */
static void heap_remove(struct p *pp, int32_t i)
{
	int32_t last = --pp->ntimers;

	if (i != last) {
		timer_swap(pp->timers, i, last);
		siftdown(pp->timers, last, i);
		siftup(pp->timers, i);
	}
	pp->timers[last]->idx = -1;
	store_release(&pp->timers[last]->pp, NULL);
	atomic_store(&pp->timer0when, pp->ntimers ? pp->timers[0]->when : 0);
}

static void heap_add(struct p *pp, struct timer *t)
{
	if (pp->ntimers == pp->ctimers) {
		int32_t c = pp->ctimers ? pp->ctimers * 2 : 16;
		struct timer **nt = realloc(pp->timers, (size_t)c * sizeof(*nt));

		if (!nt)
			throw("addtimer: out of memory");
		pp->timers = nt;
		pp->ctimers = c;
	}
	t->idx = pp->ntimers++;
	pp->timers[t->idx] = t;
	atomic_store(&t->pp, pp);
	siftup(pp->timers, t->idx);
	atomic_store(&pp->timer0when, pp->timers[0]->when);
}

/* when() - nanotime() + @ns, saturating instead of overflowing (Go's when). */
int64_t when(int64_t ns)
{
	int64_t now = nanotime();

	if (ns <= 0)
		return now;
	return ns > INT64_MAX - now ? INT64_MAX : now + ns;
}

/*
 * addtimer_nowake() - arm @t on the current P.
 * Return: true if it is due before the M that sleeps for timers would
 * wake, so the caller must wakep() (once it holds no lock) for somebody
 * to run it in time.
 */
bool addtimer_nowake(struct timer *t)
{
	struct m *mp = getm();
	struct p *pp = mp && mp->p ? mp->p : allp[0];
	int64_t pu;

	if (t->when <= 0)
		t->when = 1;
	lock(&pp->timerlock);
	heap_add(pp, t);
	unlock(&pp->timerlock);
	pu = atomic_load(&sched.pollUntil);
	/* A spinning M recomputes the deadline before it sleeps. */
	return pu == 0 || t->when < pu;
}

void addtimer(struct timer *t)
{
	if (addtimer_nowake(t))
		wakep();
}

/*
 * deltimer() - disarm @t; false if it already fired (or never ran).  For
 * a sync timer it also waits until a callback that is running right now
 * has returned, so the caller may free @t (and what f uses) afterwards.
 */
bool deltimer(struct timer *t)
{
	bool removed = false;

	for (;;) {
		struct p *pp = atomic_load(&t->pp);

		if (!pp) {
			/*
			 * Not in a heap: fired (a one-shot timer), never armed,
			 * or removed by us.  A sync timer's callback may be
			 * running: wait for it (it is short and never blocks).
			 * Then look again, in case the owner re-armed it.
			 */
			if (!t->sync)
				return removed;
			while (load_acquire(&t->running))
				osyield();
			if (!atomic_load(&t->pp))
				return removed;
			continue;
		}
		lock(&pp->timerlock);
		if (atomic_load(&t->pp) != pp) {
			unlock(&pp->timerlock);
			continue;
		}
		heap_remove(pp, t->idx);
		unlock(&pp->timerlock);
		removed = true;
	}
}

/*
 * checktimers() - run @pp's timers due at @now; sets *ran if any ran.
 * Return: when of the next timer, 0 if none.
 */
int64_t checktimers(struct p *pp, int64_t now, bool *ran)
{
	int64_t next = atomic_load(&pp->timer0when);

	if (!next || next > now)
		return next;
	lock(&pp->timerlock);
	while (pp->ntimers && pp->timers[0]->when <= now) {
		struct timer *t = pp->timers[0];
		void (*f)(void *, uint64_t) = t->f;
		void *arg = t->arg;
		uint64_t seq = t->seq;
		bool sync = t->sync;

		/*
		 * Running before it leaves the heap: a deltimer() that then
		 * sees t->pp == NULL (release store in heap_remove, paired
		 * with its acquire load) also sees it running, and waits.
		 * A count, not a flag: the owner's M and a stealing M may run
		 * a short-period ticker's callback at once, and the first to
		 * return must not tell deltimer() that none runs.
		 */
		if (sync)
			__atomic_add_fetch(&t->running, 1, __ATOMIC_RELAXED);
		/*
		 * A ticker is re-armed in place (as Go does): it never leaves
		 * the heap, so deltimer() never sees it out of one for a
		 * moment and takes that for fired.
		 */
		if (t->period > 0) {
			t->when += t->period * (1 + (now - t->when) / t->period);
			siftdown(pp->timers, pp->ntimers, 0);
			atomic_store(&pp->timer0when, pp->timers[0]->when);
		} else {
			heap_remove(pp, 0);
		}
		unlock(&pp->timerlock);
		f(arg, seq);
		/* A sync timer may be freed as soon as this store lands;
		 * others (gort_after) may free themselves in f: no touch. */
		if (sync)
			__atomic_sub_fetch(&t->running, 1, __ATOMIC_RELEASE);
		*ran = true;
		lock(&pp->timerlock);
	}
	next = pp->ntimers ? pp->timers[0]->when : 0;
	unlock(&pp->timerlock);
	return next;
}

/* nexttimer() - earliest timer of all Ps, 0 if none. */
int64_t nexttimer(void)
{
	int32_t i, procs = atomic_load(&gomaxprocs);
	int64_t next = 0;

	for (i = 0; i < procs; i++) {
		int64_t w = atomic_load(&allp[i]->timer0when);

		if (w && (!next || w < next))
			next = w;
	}
	return next;
}

/* movetimers() - move all of @from's timers to @to (world stopped). */
void movetimers(struct p *to, struct p *from)
{
	lock(&from->timerlock);
	lock(&to->timerlock);
	while (from->ntimers) {
		struct timer *t = from->timers[0];

		heap_remove(from, 0);
		heap_add(to, t);
	}
	unlock(&to->timerlock);
	unlock(&from->timerlock);
}

static void sleepready(void *arg, uint64_t seq)
{
	(void)seq;
	goready(arg);
}

static bool sleeppark(struct g *gp, void *unused)
{
	(void)unused;
	/* Armed on g0 after the switch: it cannot fire before gp parked. */
	addtimer(&gp->timer);
	return true;
}

__export void gort_sleep(int64_t ns)
{
	struct g *gp = getg();

	if (!gp)
		fatal("gort_sleep: not on a goroutine");
	if (ns <= 0) {
		gort_yield();
		return;
	}
	gp->timer.when = when(ns);
	gp->timer.period = 0;
	gp->timer.f = sleepready;
	gp->timer.arg = gp;
	gp->timer.seq++;
	gopark(sleeppark, NULL, waitReasonSleep);
}
