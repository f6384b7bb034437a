// SPDX-License-Identifier: MIT
/*
 * proc.c - the G/M/P scheduler, after Go's runtime/proc.go.
 *
 * G is a goroutine, M an OS thread, P a processor: the right to run
 * goroutines, with a local run queue.  An M must hold a P to run a G;
 * there are exactly GOMAXPROCS Ps, so at most GOMAXPROCS goroutines run at
 * once, while any number of Ms may sit in blocking calls without a P.
 *
 * Each M loops on its own thread stack ("g0"): schedule() finds a G,
 * execute() switches to it, and when the G parks, yields or exits it
 * switches back to g0, which finishes the transition there (mloop).  So a
 * goroutine's stack is never in use by two threads: a parked G becomes
 * visible to wakers only after it has left its stack (gopark's unlockf
 * runs on g0, after the switch).
 *
 * Finding work (findrunnable): local run queue (runnext first), the global
 * queue (every 61st schedule too, for fairness), then stealing half of a
 * random victim's queue.  An M looking for work is "spinning"; at most
 * half the busy Ps' worth of Ms spin at once.  wakep() starts a spinning M
 * when work appears and there is an idle P but no spinning M.
 *
 * Spinning -> non-spinning is the delicate step (Go's "delicate dance"):
 * the M first releases its P and decrements nmspinning, then re-checks
 * every run queue; a submitter first publishes the G, then reads
 * nmspinning.  Both sides use sequentially consistent atomics, so either
 * the M sees the G or the submitter sees no spinning M and wakes one.
 *
 * Invariants:
 *   - a P is Prunning iff p->m != NULL and p->m->p == p;
 *   - a P is on sched.pidle iff its status is Pidle, except while it is
 *     in transit: startm() took it and set m->nextp of the M it wakes,
 *     which has not taken it yet (takenextp());
 *   - an M is on sched.midle iff it sleeps in stopm() with no P;
 *   - nmspinning = number of Ms with m->spinning set;
 *   - a G is Grunnable iff it is on exactly one run queue (or runnext, or
 *     m->resume), Gwaiting iff some wait list or timer owns it.
 *
 * Lock order: see internal.h.  sched.lock guards the idle lists, the
 * global run queue and stop-the-world bookkeeping.
 *
 * Alternatives rejected: ucontext (a sigprocmask syscall per switch);
 * one thread per goroutine (no); a global run queue only (contention).
 * Goroutines are not preempted by signals (Go >= 1.14 does): C code may
 * hold libc locks anywhere, so preemption is cooperative at gort calls.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "netpoll.h"
#include "mheap.h"
#include "mgc.h"

#ifdef GORT_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

struct schedt sched;
struct p *allp[GORT_MAXPROCS_LIMIT];
int32_t gomaxprocs;
struct m * allms;
int ncpu;

static __thread struct m *tls_m __attribute__((tls_model("initial-exec")));
static int newprocs;		/* pending GOMAXPROCS change, under STW */
static uint32_t worldsema = 1;	/* held from stopTheWorld to startTheWorld */

static void schedule(struct m *mp);
static void stopm(struct m *mp);
static int msleep(struct m *mp, int64_t ns);
enum { MSLEEP_WOKEN, MSLEEP_TIMEOUT, MSLEEP_GOTP };
static void startm(struct p *pp, bool spinning);
static int newm(struct p *pp, bool spinning);
static void checkdead(void);

/*
 * getm() - the M running this code.  Out of line, with an asm barrier the
 * compiler cannot see through, so the TLS address is recomputed at every
 * call: a goroutine may resume on another thread after any park.
 */
__attribute__((noinline)) struct m *getm(void)
{
	__asm__ volatile("");
	return tls_m;
}

/*
 * opts_valid() - libbpf's OPTS_VALID: an options struct from a newer
 * caller (sz > known) is fine if every byte we do not know is zero.
 */
static bool opts_valid(const void *opts, size_t sz, size_t known)
{
	size_t i;

	if (sz < sizeof(size_t))
		return false;
	for (i = known; i < sz; i++)
		if (((const char *)opts)[i])
			return false;
	return true;
}

/* ---- ASan fiber annotations: no-ops without ASan ---- */

static inline void asan_enter_g(struct m *mp, struct g *gp)
{
#ifdef GORT_ASAN
	__sanitizer_start_switch_fiber(&mp->g0_fake_stack, (void *)gp->stack_lo,
				       gp->stack_hi - gp->stack_lo);
#else
	(void)mp, (void)gp;
#endif
}

static inline void asan_back_on_g0(struct m *mp)
{
#ifdef GORT_ASAN
	__sanitizer_finish_switch_fiber(mp->g0_fake_stack, NULL, NULL);
#else
	(void)mp;
#endif
}

static inline void asan_leave_g(struct m *mp, struct g *gp, bool dying)
{
#ifdef GORT_ASAN
	__sanitizer_start_switch_fiber(dying ? NULL : &gp->asan_fake_stack,
				       mp->g0_stack_bottom, mp->g0_stack_size);
#else
	(void)mp, (void)gp, (void)dying;
#endif
}

static inline void asan_back_on_g(struct g *gp)
{
#ifdef GORT_ASAN
	__sanitizer_finish_switch_fiber(gp->asan_fake_stack, NULL, NULL);
#else
	(void)gp;
#endif
}

/* ---- run queues ---- */

static inline bool runqempty(struct p *pp)
{
	/*
	 * runqput kicks runnext to the tail between its two stores, so read
	 * tail, runnext, then check tail did not move (Go's runqempty).
	 */
	for (;;) {
		uint32_t head = atomic_load(&pp->runqhead);
		uint32_t tail = atomic_load(&pp->runqtail);
		struct g *next = atomic_load(&pp->runnext);

		if (tail == atomic_load(&pp->runqtail))
			return head == tail && !next;
	}
}

/*
 * gq_*: a growable ring of G pointers.  The global run queue and the
 * global free list hold pointers, not links through the Gs, so moving a
 * batch never touches the Gs: their cache lines are often dirty in
 * another core's cache, and a pointer chase under sched.lock would pay
 * one miss per G with everybody waiting.
 */
static void gq_push(struct gqueue *q, struct g *gp)
{
	if (q->n == q->cap) {
		uint32_t cap = q->cap ? q->cap * 2 : 1024, i;
		struct g **v = sysmap(cap * sizeof(*v));

		if (!v)
			throw("out of memory growing a goroutine queue");
		for (i = 0; i < q->n; i++)
			v[i] = q->v[(q->head + i) & (q->cap - 1)];
		if (q->v)
			sysunmap(q->v, q->cap * sizeof(*v));
		q->v = v;
		q->cap = cap;
		q->head = 0;
	}
	q->v[(q->head + q->n++) & (q->cap - 1)] = gp;
}

static struct g *gq_pop(struct gqueue *q)
{
	struct g *gp;

	if (!q->n)
		return NULL;
	gp = q->v[q->head];
	q->head = (q->head + 1) & (q->cap - 1);
	q->n--;
	return gp;
}

static struct g *gq_poptail(struct gqueue *q)
{
	return q->n ? q->v[(q->head + --q->n) & (q->cap - 1)] : NULL;
}

/* globrunqput/globrunqpop: sched.lock held. */
static void globrunqput(struct g *gp)
{
	gq_push(&sched.runq, gp);
	atomic_fetch_add(&sched.runqsize, 1);
}

static struct g *globrunqpop(void)
{
	struct g *gp = gq_pop(&sched.runq);

	if (gp)
		atomic_fetch_sub(&sched.runqsize, 1);
	return gp;
}

/* Move half the local queue and @gp to the global queue.  Owner only. */
static bool runqputslow(struct p *pp, struct g *gp, uint32_t h, uint32_t t)
{
	struct g *batch[RUNQ_SIZE / 2 + 1];
	uint32_t n = (t - h) / 2, i;

	if (n != RUNQ_SIZE / 2)
		throw("runqputslow: queue is not full");
	for (i = 0; i < n; i++)
		batch[i] = load_relaxed((struct g * *)&pp->runq[(h + i) % RUNQ_SIZE]);
	/* release: pairs with the acquire load of runqhead by stealers. */
	if (!atomic_compare_exchange_strong_explicit(&pp->runqhead, &h, h + n,
						     release, relaxed))
		return false;
	batch[n] = gp;
	lock(&sched.lock);
	for (i = 0; i <= n; i++)
		gq_push(&sched.runq, batch[i]);
	atomic_fetch_add(&sched.runqsize, (int32_t)n + 1);
	unlock(&sched.lock);
	return true;
}

/*
 * runqput() - put @gp on @pp's local queue; with @next, in the runnext
 * slot, kicking the previous runnext G to the tail.  Owner only.
 */
static void runqput(struct p *pp, struct g *gp, bool next)
{
	uint32_t h, t;

	if (next) {
		struct g *old;

		/*
		 * With one P nobody else takes runnext (there is no other P to
		 * steal it, and GOMAXPROCS changes only with the world
		 * stopped, never in here): a load and a store, not an xchg.
		 */
		if (atomic_load_explicit(&gomaxprocs, relaxed) == 1) {
			old = load_relaxed(&pp->runnext);
			store_release(&pp->runnext, gp);
		} else {
			old = atomic_exchange(&pp->runnext, gp);
		}
		if (!old)
			return;
		gp = old;
	}
	for (;;) {
		/* acquire: a stealer's consumption of slots before head. */
		h = load_acquire(&pp->runqhead);
		t = load_relaxed(&pp->runqtail);
		if (t - h < RUNQ_SIZE) {
			store_relaxed((struct g * *)&pp->runq[t % RUNQ_SIZE], gp);
			/* release: the slot is written before it is published. */
			store_release(&pp->runqtail, t + 1);
			return;
		}
		if (runqputslow(pp, gp, h, t))
			return;
	}
}

/* runqget() - next G of @pp's local queue; owner only. */
static struct g *runqget(struct p *pp, bool *inherit)
{
	struct g *next = atomic_load(&pp->runnext);

	/* Only the owner clears runnext; stealers CAS it too (with one P
	 * there are none: see runqput). */
	if (next && atomic_load_explicit(&gomaxprocs, relaxed) == 1) {
		store_relaxed(&pp->runnext, NULL);
		*inherit = true;
		return next;
	}
	if (next && atomic_compare_exchange_strong(&pp->runnext, &next, NULL)) {
		*inherit = true;
		return next;
	}
	*inherit = false;
	for (;;) {
		uint32_t h = load_acquire(&pp->runqhead);
		uint32_t t = load_relaxed(&pp->runqtail);
		struct g *gp;

		if (t == h)
			return NULL;
		gp = load_relaxed((struct g * *)&pp->runq[h % RUNQ_SIZE]);
		if (atomic_compare_exchange_weak_explicit(&pp->runqhead, &h, h + 1,
							  release, relaxed))
			return gp;
	}
}

/*
 * runqgrab() - copy half of @pp's queue into @batch starting at
 * @batchhead; with @stealnext, take runnext when the queue is empty.
 */
static uint32_t runqgrab(struct p *pp, struct g **batch, uint32_t batchhead,
			 bool stealnext)
{
	for (;;) {
		uint32_t h = load_acquire(&pp->runqhead);
		uint32_t t = load_acquire(&pp->runqtail);
		uint32_t n = t - h, i;

		n = n - n / 2;
		if (n == 0) {
			struct g *next;

			if (!stealnext)
				return 0;
			next = atomic_load(&pp->runnext);
			if (!next)
				return 0;
			/*
			 * The owner may be about to run it (it just readied it
			 * and is switching); back off a little first, as Go
			 * does, so a ping-pong pair is not split apart.
			 */
			if (load_relaxed(&pp->status) == Prunning)
				usleep_ns(3000);
			if (!atomic_compare_exchange_strong(&pp->runnext, &next, NULL))
				continue;
			store_relaxed((struct g * *)&batch[batchhead % RUNQ_SIZE], next);
			return 1;
		}
		if (n > RUNQ_SIZE / 2)
			continue;	/* read inconsistent h and t */
		for (i = 0; i < n; i++) {
			struct g *gp = load_relaxed((struct g * *)&pp->runq[(h + i) % RUNQ_SIZE]);

			store_relaxed((struct g * *)&batch[(batchhead + i) % RUNQ_SIZE], gp);
		}
		if (atomic_compare_exchange_strong_explicit(&pp->runqhead, &h, h + n,
							    release, relaxed))
			return n;
	}
}

/**
 * gort_sched_steal() - probe point: @pp stole @n goroutines from @victim
 * and is about to run one of them.
 */
__probe void gort_sched_steal(struct p *pp, struct p *victim, uint32_t n)
{
	PROBE_FRAME();
	(void)pp, (void)victim, (void)n;
	atomic_fetch_add_explicit(&sched.nsteal, 1, relaxed);
}

/* runqsteal() - steal half of @victim's queue into @pp's; returns one. */
static struct g *runqsteal(struct p *pp, struct p *victim, bool stealnext)
{
	uint32_t t = load_relaxed(&pp->runqtail);
	uint32_t n = runqgrab(victim, pp->runq, t, stealnext), h;
	struct g *gp;

	if (n == 0)
		return NULL;
	gort_sched_steal(pp, victim, n);
	n--;
	gp = load_relaxed((struct g * *)&pp->runq[(t + n) % RUNQ_SIZE]);
	if (n == 0)
		return gp;
	h = load_acquire(&pp->runqhead);
	if (t - h + n >= RUNQ_SIZE)
		throw("runqsteal: runq overflow");
	store_release(&pp->runqtail, t + n);
	return gp;
}

/* globrunqget() - take a fair share of the global queue; sched.lock held. */
static struct g *globrunqget(struct p *pp, int32_t max)
{
	int32_t n = atomic_load(&sched.runqsize), procs = atomic_load(&gomaxprocs);
	struct g *gp;

	if (n == 0)
		return NULL;
	n = n / procs + 1;
	if (n > atomic_load(&sched.runqsize))
		n = atomic_load(&sched.runqsize);
	if (max > 0 && n > max)
		n = max;
	if (n > RUNQ_SIZE / 2)
		n = RUNQ_SIZE / 2;
	gp = globrunqpop();
	while (--n > 0)
		runqput(pp, globrunqpop(), false);
	return gp;
}

/* ---- Ps and Ms ---- */

/* pidleput/pidleget: sched.lock held. */
static void pidleput(struct p *pp)
{
	if (!runqempty(pp))
		throw("pidleput: P has non-empty run queue");
	atomic_store(&pp->status, Pidle);
	pp->m = NULL;
	pp->link = sched.pidle;
	sched.pidle = pp;
	atomic_fetch_add(&sched.npidle, 1);
}

static struct p *pidleget(void)
{
	struct p *pp = sched.pidle;

	if (pp) {
		sched.pidle = pp->link;
		atomic_fetch_sub(&sched.npidle, 1);
		/* A P leaves the idle list: sysmon must watch again. */
		if (atomic_load(&sched.sysmonwait))
			sysmon_wake();
	}
	return pp;
}

/* mput/mget: sched.lock held. */
static void mput(struct m *mp)
{
	mp->schedlink = sched.midle;
	sched.midle = mp;
	sched.nmidle++;
	checkdead();
}

static struct m *mget(void)
{
	struct m *mp = sched.midle;

	if (mp) {
		sched.midle = mp->schedlink;
		sched.nmidle--;
	}
	return mp;
}

/* Remove @mp from the idle list if it is still there; sched.lock held. */
static bool mremove(struct m *mp)
{
	struct m **pm;

	for (pm = &sched.midle; *pm; pm = &(*pm)->schedlink) {
		if (*pm == mp) {
			*pm = mp->schedlink;
			sched.nmidle--;
			return true;
		}
	}
	return false;
}

static void acquirep(struct m *mp, struct p *pp)
{
	if (mp->p || pp->m)
		throw("acquirep: invalid P state");
	mp->p = pp;
	pp->m = mp;
	atomic_store(&pp->status, Prunning);
	/* Run on the P's node (no-op without NUMA or if already there). */
	heap_pin_m(mp, pp->node);
}

static struct p *releasep(struct m *mp)
{
	struct p *pp = mp->p;

	if (!pp || pp->m != mp || atomic_load(&pp->status) != Prunning)
		throw("releasep: invalid P state");
	mp->p = NULL;
	pp->m = NULL;
	atomic_store(&pp->status, Pidle);
	return pp;
}

/*
 * takenextp() - @mp was woken (or created) to run the P startm() handed
 * it.  Waking a sleeping thread takes 20-200 us on these VMs, and a new
 * one longer: a stop-the-world does not wait for that but takes the P
 * back (claimhandoff()) and puts @mp on sched.mflight, where startm()
 * may hand it another P before it goes back to sleep.  Returns false,
 * with @mp no longer spinning, if it has none.
 */
static bool takenextp(struct m *mp)
{
	struct p *pp = __atomic_exchange_n(&mp->nextp, NULL, __ATOMIC_ACQ_REL);
	struct m **pm;

	if (!pp) {
		lock(&sched.lock);
		for (pm = &sched.mflight; *pm && *pm != mp; pm = &(*pm)->flightlink)
			;
		if (!*pm) {
			/* flightget() took us off: handed another P since. */
			unlock(&sched.lock);
			pp = __atomic_exchange_n(&mp->nextp, NULL, __ATOMIC_ACQ_REL);
			if (!pp)
				throw("takenextp: no P");
		} else {
			*pm = mp->flightlink;
			if (mp->spinning) {
				mp->spinning = false;
				if (atomic_fetch_sub(&sched.nmspinning, 1) <= 0)
					throw("takenextp: negative nmspinning");
			}
			unlock(&sched.lock);
			return false;
		}
	}
	acquirep(mp, pp);
	return true;
}

/* handoff() - give @pp to @mp, which will take it in takenextp(). */
static void handoff(struct m *mp, struct p *pp)
{
	__atomic_store_n(&pp->handto, mp, __ATOMIC_RELEASE);
	__atomic_store_n(&mp->nextp, pp, __ATOMIC_RELEASE);
}

/*
 * claimhandoff() - take back @pp if it is still in transit to the M that
 * startm() woke for it; sched.lock held, the world stopping.
 */
static bool claimhandoff(struct p *pp)
{
	struct m *to = __atomic_load_n(&pp->handto, __ATOMIC_ACQUIRE);
	struct p *exp = pp;

	if (!to || !__atomic_compare_exchange_n(&to->nextp, &exp, NULL, false,
						__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return false;
	to->flightlink = sched.mflight;
	sched.mflight = to;
	return true;
}

/*
 * flightget() - an M on sched.mflight, to run @pp at once (no wake-up:
 * it is awake), or NULL; sched.lock held.
 */
static struct m *flightget(struct p *pp, bool spinning)
{
	struct m *mp = sched.mflight;

	if (!mp)
		return NULL;
	sched.mflight = mp->flightlink;
	/* Its old spinning state was counted for the P it lost. */
	if (mp->spinning && atomic_fetch_sub(&sched.nmspinning, 1) <= 0)
		throw("flightget: negative nmspinning");
	mp->spinning = spinning;
	handoff(mp, pp);
	return mp;
}

/**
 * gort_sched_stopm() - probe point: @mp has no work and goes to sleep.
 */
__probe void gort_sched_stopm(struct m *mp)
{
	PROBE_FRAME();
	for (;;) {
		if (msleep(mp, -1) == MSLEEP_GOTP)
			return;
		notesleep(&mp->park);
		noteclear(&mp->park);
		if (takenextp(mp))
			return;
		/* A stop-the-world took the P back: sleep again. */
		lock(&sched.lock);
		mput(mp);
		unlock(&sched.lock);
	}
}

/*
 * A stop-the-world lasts 10-200 us as a rule.  An M that stopped its P
 * for one waits that long for the restart spinning, not asleep: waking a
 * sleeping thread took 20-200 us here, and when the kernel put the woken
 * thread on the restarting thread's CPU, that thread lost the CPU, its
 * pause 1-2 ms longer.  Politely: never on the stopper's CPU, no more
 * spinners than the CPUs the stopper leaves, and it yields every few
 * microseconds to any other thread that wants its CPU (a goroutine still
 * running towards its preemption point, the look's helper).
 */
#define STW_RESTART_SPIN_NS	(300 * 1000)

static bool stwspin(struct note *n)
{
	int64_t end = nanotime() + STW_RESTART_SPIN_NS;
	bool woken = false;

	/* One spinner per CPU the stopper does not use, at most. */
	if (atomic_fetch_add(&sched.nstwspin, 1) < ncpu - 1) {
		do {
			if (sched_getcpu() == atomic_load(&sched.stwcpu))
				break;
			woken = notespin(n, 5 * 1000);
			if (woken)
				break;
			osyield();
		} while (nanotime() < end);
	}
	atomic_fetch_sub(&sched.nstwspin, 1);
	return woken || load_acquire(&n->key) != 0;
}

/*
 * msleep() - sleep, on the idle list, until startm() hands @mp a P
 * (MSLEEP_WOKEN: the note is or will be set), @ns pass (MSLEEP_TIMEOUT;
 * @ns < 0: never), or, for an M that sleeps in the network poller, the
 * poller readies goroutines and an idle P is free to run them
 * (MSLEEP_GOTP: @mp holds it, off the idle list).
 *
 * An M with io_uring operations in flight must sleep in its ring (only
 * it can reap them), and under epoll one idle M sleeps in epoll_wait.
 * startm() wakes such an M through the poller: inpoll and the note's key
 * are a Dekker pair, both sequentially consistent, so either the waker
 * sees inpoll set or the sleeper sees the note set.
 */
static int msleep(struct m *mp, int64_t ns)
{
	int64_t now = nanotime();
	/* Saturating: a timer "never" is INT64_MAX from stopm_until(). */
	int64_t deadline = ns < 0 ? -1 : ns > INT64_MAX - now ? INT64_MAX : now + ns;

	if (mp->stwspin) {
		mp->stwspin = false;
		if (stwspin(&mp->park))
			return MSLEEP_WOKEN;
	}
	if (!netpoll_mode || !netpoll_claim(mp))
		return notetsleep(&mp->park, ns) ? MSLEEP_WOKEN : MSLEEP_TIMEOUT;
	for (;;) {
		struct glist l = { 0 };
		struct g *gp, *next;
		int64_t left = -1;
		struct p *pp;

		atomic_store(&mp->inpoll, 1);
		if (atomic_load(&mp->park.key)) {
			atomic_store(&mp->inpoll, 0);
			netpoll_release(mp);
			return MSLEEP_WOKEN;
		}
		if (deadline >= 0) {
			left = deadline - nanotime();
			if (left <= 0) {
				atomic_store(&mp->inpoll, 0);
				netpoll_release(mp);
				return MSLEEP_TIMEOUT;
			}
		}
		netpoll_wait(mp, left, &l);
		atomic_store(&mp->inpoll, 0);
		if (!l.n)
			continue;
		lock(&sched.lock);
		pp = NULL;
		if (mremove(mp)) {
			pp = pidleget();
			if (!pp)
				mput(mp);
		}
		unlock(&sched.lock);
		if (pp) {
			netpoll_release(mp);
			acquirep(mp, pp);
		}
		for (gp = l.head; gp; gp = next) {
			next = gp->schedlink;
			gp->schedlink = NULL;
			gort_sched_ready(gp, pp, false);
			/* Only now: until it is runnable, checkdead() must see
			 * it waiting on the poller, or it calls a deadlock. */
			atomic_fetch_sub(&netpoll_nwait, 1);
		}
		if (pp)
			return MSLEEP_GOTP;
	}
}

/* stopm() - put @mp to sleep until startm() hands it a P. */
static void stopm(struct m *mp)
{
	if (mp->p)
		throw("stopm holding p");
	if (mp->spinning)
		throw("stopm spinning");
	lock(&sched.lock);
	mput(mp);
	unlock(&sched.lock);
	gort_sched_stopm(mp);
}

/*
 * stopm_until() - like stopm(), but wake at @when (a timer is due) even
 * without being handed a P.  Returns with a P, or without one on timeout.
 */
static void stopm_until(struct m *mp, int64_t when)
{
	int64_t now = nanotime();
	bool woken;
	int r;

	lock(&sched.lock);
	mput(mp);
	if (!atomic_load(&sched.pollUntil) || when < atomic_load(&sched.pollUntil))
		atomic_store(&sched.pollUntil, when);
	unlock(&sched.lock);

	r = msleep(mp, when > now ? when - now : 0);
	woken = r == MSLEEP_WOKEN;

	lock(&sched.lock);
	if (atomic_load(&sched.pollUntil) == when)
		atomic_store(&sched.pollUntil, 0);
	if (r == MSLEEP_TIMEOUT && !mremove(mp))
		woken = true;		/* a startm() raced with the timeout */
	unlock(&sched.lock);
	if (woken) {
		notesleep(&mp->park);
		noteclear(&mp->park);
		takenextp(mp);		/* without a P if a stop took it */
	}
}

/**
 * gort_sched_startm() - probe point: wake (or create) an M to run @pp;
 * @spinning: it starts out looking for work.
 */
__probe void gort_sched_startm(struct m *mp, struct p *pp, bool spinning)
{
	PROBE_FRAME();
	mp->spinning = spinning;
	handoff(mp, pp);
	notewakeup(&mp->park);
	/* The other half of msleep()'s Dekker pair: the note's store before
	 * this load (notewakeup's exchange is a full barrier on x86 only). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (atomic_load(&mp->inpoll))
		netpoll_wake(mp);
}

/*
 * startm() - run @pp (an idle P if NULL) on an idle or new M.  If
 * @spinning, the caller already incremented nmspinning for it.
 */
static void startm(struct p *pp, bool spinning)
{
	struct m *nmp;

	lock(&sched.lock);
	if (!pp) {
		pp = pidleget();
		if (!pp) {
			unlock(&sched.lock);
			if (spinning && atomic_fetch_sub(&sched.nmspinning, 1) <= 0)
				throw("startm: negative nmspinning");
			return;
		}
	}
	nmp = mget();
	if (!nmp && flightget(pp, spinning)) {
		unlock(&sched.lock);
		return;
	}
	unlock(&sched.lock);
	if (!nmp) {
		int err = newm(pp, spinning);

		if (err)
			fatalf("runtime: failed to create new OS thread: %s", strerror(-err));
		return;
	}
	gort_sched_startm(nmp, pp, spinning);
}

/* wakep() - start a spinning M if there is an idle P and none spins. */
void wakep(void)
{
	int32_t zero = 0;

	if (atomic_load(&sched.npidle) == 0)
		return;
	/* Only one spinning M at a time from here: it wakes the next. */
	if (atomic_load(&sched.nmspinning) != 0 ||
	    !atomic_compare_exchange_strong(&sched.nmspinning, &zero, 1))
		return;
	startm(NULL, true);
}

/* resetspinning() - the spinning M found work: maybe wake another. */
static void resetspinning(struct m *mp)
{
	mp->spinning = false;
	if (atomic_fetch_sub(&sched.nmspinning, 1) <= 0)
		throw("resetspinning: negative nmspinning");
	wakep();
}

/**
 * gort_sched_handoffp() - probe point: sysmon took P @pp from an M
 * blocked in a syscall and hands it on (@from is NULL today: sysmon does
 * not know which M held it; the argument is kept for the probe's ABI).
 */
__probe void gort_sched_handoffp(struct p *pp, struct m *from)
{
	PROBE_FRAME();
	int32_t zero = 0;

	(void)from;
	if (!runqempty(pp) || atomic_load(&sched.runqsize)) {
		startm(pp, false);
		return;
	}
	/* No local work: still start a spinning M if nobody looks. */
	if (atomic_load(&sched.nmspinning) + atomic_load(&sched.npidle) == 0 &&
	    atomic_compare_exchange_strong(&sched.nmspinning, &zero, 1)) {
		startm(pp, true);
		return;
	}
	lock(&sched.lock);
	if (atomic_load(&sched.gcwaiting)) {
		atomic_store(&pp->status, Pgcstop);
		if (--sched.stopwait == 0)
			notewakeup(&sched.stopnote);
		unlock(&sched.lock);
		return;
	}
	if (atomic_load(&sched.runqsize)) {
		unlock(&sched.lock);
		startm(pp, false);
		return;
	}
	/* The last P with timers must be run by someone. */
	if (atomic_load(&sched.npidle) == atomic_load(&gomaxprocs) - 1 &&
	    atomic_load(&pp->timer0when)) {
		unlock(&sched.lock);
		startm(pp, false);
		return;
	}
	/* The last P, goroutines waiting on epoll, nobody in epoll_wait: an
	 * M must sleep there (Go's handoffp checks the same). */
	if (atomic_load(&sched.npidle) == atomic_load(&gomaxprocs) - 1 &&
	    netpoll_needs_poller()) {
		unlock(&sched.lock);
		startm(pp, false);
		return;
	}
	pidleput(pp);
	unlock(&sched.lock);
	/* Its timers still need an M to sleep for them (Go: wakeNetPoller). */
	if (atomic_load(&pp->timer0when))
		wakep();
}

/* ---- M creation ---- */

static void mloop(struct m *mp) __noreturn;
static void gostart(void *arg) __noreturn;

static void *mstart(void *arg)
{
	struct m *mp = arg;
	sigset_t none;

	tls_m = mp;
	mp->tid = gettid_raw();
	mp->fastrand = ((uint64_t)mp->id << 32 | (uint32_t)nanotime()) | 1;
#ifdef GORT_ASAN
	{
		pthread_attr_t a;
		void *addr;
		size_t size;

		pthread_getattr_np(pthread_self(), &a);
		pthread_attr_getstack(&a, &addr, &size);
		pthread_attr_destroy(&a);
		mp->g0_stack_bottom = addr;
		mp->g0_stack_size = size;
	}
#endif
	signals_minit(mp);
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
	if (!takenextp(mp))
		stopm(mp);
	mloop(mp);
}

static int newm(struct p *pp, bool spinning)
{
	struct m *mp = calloc(1, sizeof(*mp));
	pthread_attr_t attr;
	sigset_t all, old;
	int err;

	if (!mp)
		return -ENOMEM;
	lock(&sched.lock);
	mp->id = sched.mnext++;
	unlock(&sched.lock);
	mp->spinning = spinning;
	mp->node = -1;
	mp->alllink = atomic_load(&allms);
	while (!atomic_compare_exchange_weak(&allms, &mp->alllink, mp))
		;
	/* Last: from here a stop-the-world may take @pp back and
	 * flightget() may give @mp another (with its spinning state). */
	handoff(mp, pp);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 512 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* Start with signals blocked; mstart unblocks after sigaltstack. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&mp->thread, &attr, mstart, mp);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	/* The M stays on allms, idle forever; only start-up reports this. */
	return err ? -err : 0;
}

/* ---- goroutine transitions ---- */

/**
 * gort_sched_ready() - probe point: @gp becomes runnable on @pp (NULL: the
 * global queue, when readied from outside the runtime); @next: it goes in
 * runnext and runs before the rest of the queue.
 */
__probe void gort_sched_ready(struct g *gp, struct p *pp, bool next)
{
	PROBE_FRAME();
	/*
	 * The caller owns this wake-up (it dequeued gp under a lock, won its
	 * select, or took its park token), and gp was Gwaiting before any
	 * waker could find it: a check and a release store, no CAS.
	 */
	if (load_relaxed(&gp->status) != Gwaiting)
		throw("goready: bad g status");
	store_release(&gp->status, Grunnable);
	gc_stampstack(gp);	/* it may hold what the waker handed over */
	if (pp) {
		runqput(pp, gp, next);
		wakep();
		return;
	}
	/*
	 * From a thread that is not an M: no P will look at the global
	 * queue soon if all are idle, and a spinning M may be on its way
	 * to sleep, so hand an idle P to an M outright (Go's injectglist).
	 */
	lock(&sched.lock);
	globrunqput(gp);
	unlock(&sched.lock);
	if (atomic_load(&sched.npidle))
		startm(NULL, false);
	else
		wakep();
}

void goready(struct g *gp)
{
	struct m *mp = getm();

	gort_sched_ready(gp, mp ? mp->p : NULL, true);
}

/**
 * gort_sched_execute() - probe point: @gp starts (or resumes) running on
 * @mp holding @pp.  Returns on g0 when @gp switches away.
 */
__probe void gort_sched_execute(struct g *gp, struct m *mp, struct p *pp)
{
	PROBE_FRAME();
	mp->curg = gp;
	gp->m = mp;
	atomic_store_explicit(&gp->status, Grunning, relaxed);
	/* While the GC marks: re-scan its stack at the end, and do not run
	 * it on a stack the GC is trimming. */
	if (unlikely(load_relaxed(&gcmarking))) {
		__atomic_store_n(&gp->gcstackdirty, true, __ATOMIC_SEQ_CST);
		stack_shrink_wait(gp);
	}
	if (likely(gp->ctx.sp)) {
		asan_enter_g(mp, gp);
		gort_ctx_switch(&mp->g0ctx, &gp->ctx);
	} else {
		/* First run: default-size goroutines get their stack now. */
		if (!gp->stack_hi && stack_attach(pp, gp))
			fatalf("runtime: cannot allocate a %zu-byte goroutine stack: out of memory",
			       default_stack_size);
		asan_enter_g(mp, gp);
		gort_ctx_launch(&mp->g0ctx, gp->stack_hi & ~(uintptr_t)15, gostart, gp);
	}
	asan_back_on_g0(mp);
}

/* mcall() - switch from the current G to g0, which does @what. */
static void mcall(struct m *mp, enum mafter what)
{
	struct g *gp = mp->curg;

	stack_note(gp, (uintptr_t)__builtin_frame_address(0));
	mp->after = what;
	asan_leave_g(mp, gp, what == mafterExit);
	gort_ctx_switch(&gp->ctx, &mp->g0ctx);
	/* Resumed, perhaps on another M: do not reuse @mp. */
	asan_back_on_g(gp);
}

void gopark(bool (*unlockf)(struct g *, void *), void *lk, enum waitreason reason)
{
	gopark_m(getm(), unlockf, lk, reason);
}

void gopark_m(struct m *mp, bool (*unlockf)(struct g *, void *), void *lk,
	      enum waitreason reason)
{
	if (!mp || !mp->curg)
		fatal("gort: blocking call outside a goroutine");
	if (mp->locks)
		throw("gopark: holding locks");
	mp->waitunlockf = unlockf;
	mp->waitlock = lk;
	mp->waitreason = (uint8_t)reason;
	mcall(mp, mafterPark);
}

static bool parkunlock_c(struct g *gp, void *lk)
{
	(void)gp;
	unlock(lk);
	return true;
}

void goparkunlock(struct lock *l, enum waitreason reason)
{
	gopark_m(getm(), parkunlock_c, l, reason);
}

void goparkunlock_m(struct m *mp, struct lock *l, enum waitreason reason)
{
	gopark_m(mp, parkunlock_c, l, reason);
}

/**
 * gort_sched_park() - probe point: @gp parks for @reason (enum
 * waitreason; names in Documentation/probes.rst).  Runs on g0.
 */
__probe void gort_sched_park(struct g *gp, uint32_t reason)
{
	PROBE_FRAME();
	struct m *mp = gp->m;
	bool (*fn)(struct g *, void *) = mp->waitunlockf;

	gp->waitreason = (uint8_t)reason;
	/*
	 * Flagged by sysmon (10 ms in one time slice): a pair that hands off
	 * through runnext would inherit the slice forever and starve the
	 * queue, so the next pick must not be runnext (see schedule()).
	 */
	if (unlikely(load_relaxed(&gp->preempt))) {
		store_relaxed(&gp->preempt, false);
		mp->kicknext = true;
	}
	/* For dumps only: sysmon's clock, not a clock read per park. */
	gp->waitsince = load_relaxed(&sched.coarsenow);
	gp->m = NULL;
	mp->curg = NULL;
	/*
	 * Gwaiting before the unlock: a waker that finds gp in the wait list
	 * (under that lock) must see it parked.
	 */
	store_release(&gp->status, Gwaiting);
	mp->waitunlockf = NULL;
	/* The common unlock function, called directly. */
	if (fn == parkunlock_c)
		unlock(mp->waitlock);
	else if (fn && !fn(gp, mp->waitlock)) {
		/* Park cancelled: resume gp at once. */
		atomic_store(&gp->status, Grunnable);
		mp->resume = gp;
	}
}

/**
 * gort_sched_preempt() - probe point: @gp, flagged by sysmon or by a
 * stop-the-world, yields @pp at a gort call.  Runs on g0.
 */
__probe void gort_sched_preempt(struct g *gp, struct p *pp)
{
	PROBE_FRAME();
	(void)pp;
	atomic_store(&gp->status, Grunnable);
	lock(&sched.lock);
	globrunqput(gp);
	unlock(&sched.lock);
}

/**
 * gort_sched_goexit() - probe point: @gp exited; its G and stack go to
 * @pp's free list.  Runs on g0.
 */
__probe void gort_sched_goexit(struct g *gp, struct p *pp)
{
	PROBE_FRAME();
	atomic_store(&gp->status, Gdead);
	gp->m = NULL;
	gp->fn = NULL;
	gp->arg = NULL;
	store_relaxed(&gp->preempt, false);
	pp->ngoroutine--;
	if (gp->slot_size != stack_slotsize(default_stack_size)) {
		lock(&sched.gflock);
		gp->schedlink = sched.gfree_custom;
		sched.gfree_custom = gp;
		unlock(&sched.gflock);
		return;
	}
	/* We are on g0: the stack is free to go. */
	stack_detach(pp, gp);
	if (pp->gfreecnt == GFREE_LOCAL_MAX) {
		/* Keep the hottest half here; the oldest half goes global. */
		int32_t i, half = GFREE_LOCAL_MAX / 2;

		lock(&sched.gflock);
		for (i = 0; i < half; i++)
			gq_push(&sched.gfree, pp->gfree[i]);
		unlock(&sched.gflock);
		memmove(pp->gfree, pp->gfree + half, (size_t)half * sizeof(pp->gfree[0]));
		pp->gfreecnt -= half;
	}
	pp->gfree[pp->gfreecnt++] = gp;
}

/* gfget() - a dead G of default stack size (it has no stack), or NULL. */
static struct g *gfget(struct p *pp)
{
	if (!pp->gfreecnt && sched.gfree.n) {
		lock(&sched.gflock);
		while (pp->gfreecnt < GFREE_LOCAL_MAX / 2 && sched.gfree.n)
			pp->gfree[pp->gfreecnt++] = gq_poptail(&sched.gfree);
		unlock(&sched.gflock);
	}
	return pp->gfreecnt ? pp->gfree[--pp->gfreecnt] : NULL;
}

/* A dead G with a custom stack size, or NULL. */
static struct g *gfget_sized(size_t stack_size)
{
	struct g **pg, *gp = NULL;
	size_t slot = stack_slotsize(stack_size);

	lock(&sched.gflock);
	for (pg = &sched.gfree_custom; *pg; pg = &(*pg)->schedlink) {
		if ((*pg)->slot_size == slot) {
			gp = *pg;
			*pg = gp->schedlink;
			break;
		}
	}
	unlock(&sched.gflock);
	return gp;
}

static void goexit1(void) __noreturn;

static void gostart(void *arg)
{
	struct g *gp = arg;

#ifdef GORT_ASAN
	/* First entry: no fake stack of ours to restore (a reused G's old
	 * one died with it). */
	gp->asan_fake_stack = NULL;
	__sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
	gp->fn(gp->arg);
	goexit1();
}

static void goexit1(void)
{
	struct m *mp = getm();

	mcall(mp, mafterExit);
	throw("goexit1: dead goroutine resumed");
}

__export void gort_exit(void)
{
	struct m *mp = getm();

	if (!mp || !mp->curg)
		fatal("gort_exit: not on a goroutine");
	goexit1();
}

/**
 * gort_sched_newproc() - probe point: @newg was created by @parent (NULL
 * for the main goroutine) and is being put on @pp's run queue.
 */
__probe void gort_sched_newproc(struct g *newg, struct g *parent, struct p *pp)
{
	PROBE_FRAME();
	(void)parent;
	runqput(pp, newg, true);
}

static int64_t newproc(void (*fn)(void *), void *arg, size_t stack_size,
		       uintptr_t pc, struct p *pp, struct g *parent, struct g **newg)
{
	struct g *gp = NULL;

	if (stack_size == default_stack_size) {
		gp = gfget(pp);
		if (!gp)
			gp = galloc_g();	/* its stack comes at first run */
	} else {
		gp = gfget_sized(stack_size);
		if (!gp)
			gp = stackalloc_g(stack_size);
	}
	if (!gp)
		return -ENOMEM;
	if (pp->goidcache == pp->goidcacheend) {
		/* Batches of 16 keep goidgen off the hot path. */
		pp->goidcache = atomic_fetch_add(&sched.goidgen, 16) + 1;
		pp->goidcacheend = pp->goidcache + 16;
	}
	gp->goid = pp->goidcache++;
	gp->fn = fn;
	gp->arg = arg;
	gp->gopc = pc;
	gp->parentgoid = parent ? parent->goid : 0;
	gp->waitreason = 0;
	store_relaxed(&gp->preempt, false);
	gp->ctx.sp = 0;		/* launched on its empty stack by execute */
	pp->ngoroutine++;
	atomic_store_explicit(&gp->status, Grunnable, relaxed);
	gc_stampstack(gp);	/* its arg may be new to a marking GC */
	if (newg)
		*newg = gp;
	gort_sched_newproc(gp, parent, pp);
	return gp->goid;
}

static int64_t go_common(void (*fn)(void *), void *arg, size_t stack_size, uintptr_t pc)
{
	struct m *mp = getm();
	int64_t id;

	if (!mp || !mp->curg)
		fatal("gort_go: not on a goroutine (start the runtime with gort_main)");
	if (!fn)
		fatal("go of nil func value");
	mp->locks++;
	id = newproc(fn, arg, stack_size, pc, mp->p, mp->curg, NULL);
	mp->locks--;
	if (id > 0 && atomic_load(&sched.npidle))
		wakep();
	preemptcheck();
	return id;
}

/*
 * gosys() - start a runtime goroutine (the GC's): not counted by
 * gort_num_goroutine, as Go's system goroutines are not.
 */
struct g *gosys(void (*fn)(void *), void *arg)
{
	struct m *mp = getm();
	struct g *gp = NULL;

	mp->locks++;
	if (newproc(fn, arg, default_stack_size, (uintptr_t)fn, mp->p, mp->curg, &gp) > 0) {
		gp->system = true;
		mp->p->ngoroutine--;
	}
	mp->locks--;
	if (gp && atomic_load(&sched.npidle))
		wakep();
	return gp;
}

__export int64_t gort_go(void (*fn)(void *), void *arg)
{
	return go_common(fn, arg, default_stack_size,
			 (uintptr_t)__builtin_return_address(0));
}

__export int64_t gort_go_opts(void (*fn)(void *), void *arg,
			      const struct gort_go_opts *opts)
{
	size_t sz = default_stack_size;

	if (opts) {
		if (!opts_valid(opts, opts->sz, sizeof(*opts)))
			return -EINVAL;
		if (opts->sz > offsetof(struct gort_go_opts, stack_size) && opts->stack_size)
			sz = (opts->stack_size + physpagesize() - 1) & ~(physpagesize() - 1);
	}
	return go_common(fn, arg, sz, (uintptr_t)__builtin_return_address(0));
}

/* ---- park/unpark: one wake-up token per goroutine ---- */

enum { parkNone, parkToken, parkParked };

__export struct gort_g *gort_self(void)
{
	return (struct gort_g *)getg();
}

/* On g0, after the switch: park only if no token arrived meanwhile. */
static bool parkcommit(struct g *gp, void *unused)
{
	uint32_t s = parkNone;

	(void)unused;
	if (atomic_compare_exchange_strong(&gp->parkstate, &s, parkParked))
		return true;
	/* s == parkToken: consume it and resume at once. */
	atomic_store(&gp->parkstate, parkNone);
	return false;
}

/* park_reason() - gort_park() showing @reason in tracebacks. */
void park_reason(enum waitreason reason)
{
	struct g *gp = getg();
	uint32_t s = parkToken;

	if (!gp)
		fatal("gort_park: not on a goroutine");
	if (atomic_compare_exchange_strong(&gp->parkstate, &s, parkNone)) {
		preemptcheck();
		return;
	}
	gopark(parkcommit, NULL, reason);
}

__export void gort_park(void)
{
	park_reason(waitReasonPark);
}

/* Give @gp its token or ready it; true if it was readied.  Never yields
 * (the heap calls it holding its P's mcache). */
static bool unpark1(struct g *gp)
{
	uint32_t s = atomic_load(&gp->parkstate);

	for (;;) {
		if (s == parkToken)
			return false;
		if (s == parkNone) {
			if (atomic_compare_exchange_weak(&gp->parkstate, &s, parkToken))
				return false;
			continue;
		}
		/* Parked: parkcommit's CAS made it Gwaiting first. */
		if (atomic_compare_exchange_weak(&gp->parkstate, &s, parkNone)) {
			goready(gp);
			return true;
		}
	}
}

void unpark_noyield(struct g *gp)
{
	unpark1(gp);
}

__export void gort_unpark(struct gort_g *h)
{
	if (unpark1((struct g *)h))
		preemptcheck();
}

/* ---- yielding and preemption ---- */

__export void gort_yield(void)
{
	struct m *mp = getm();

	if (!mp || !mp->curg)
		return;
	mcall(mp, mafterYield);
}

void preemptcheck(void)
{
	struct m *mp = getm();
	struct g *gp = mp ? mp->curg : NULL;

	if (!gp)
		return;
	stack_note(gp, (uintptr_t)__builtin_frame_address(0));
	if (unlikely(load_relaxed(&gp->gcscanreq)))
		gc_selfscan(gp);
	if (unlikely(atomic_load_explicit(&gp->preempt, relaxed)) && !mp->locks) {
		store_relaxed(&gp->preempt, false);
		mcall(mp, mafterPreempt);
	}
}

__export void gort_maybe_yield(void)
{
	preemptcheck();
}

/* ---- finding work ---- */

/* stealwork() - try to steal from every other P, in random order. */
static struct g *stealwork(struct p *pp, int64_t now, bool *rantimers)
{
	int32_t procs = atomic_load(&gomaxprocs);
	int i;

	/* NUMA: first the Ps of our own node, whose Gs' memory is local. */
	if (heap.numa) {
		uint32_t start = fastrand() % (uint32_t)procs;
		int32_t j;

		for (j = 0; j < procs; j++) {
			struct p *p2 = allp[(start + (uint32_t)j) % (uint32_t)procs];
			struct g *gp;

			if (p2 == pp || p2->node != pp->node ||
			    atomic_load(&p2->status) == Pidle)
				continue;
			if ((gp = runqsteal(pp, p2, false)))
				return gp;
		}
	}

	for (i = 0; i < 4; i++) {
		bool last = i == 3;
		uint32_t start = fastrand() % (uint32_t)procs;
		int32_t j;

		for (j = 0; j < procs; j++) {
			struct p *p2 = allp[(start + (uint32_t)j) % (uint32_t)procs];
			struct g *gp;

			if (p2 == pp)
				continue;
			if (atomic_load(&sched.gcwaiting))
				return NULL;
			/* Last round: run the victim's due timers too. */
			if (last && atomic_load(&p2->timer0when) &&
			    atomic_load(&p2->timer0when) <= now) {
				bool ran = false;

				checktimers(p2, now, &ran);
				if (ran) {
					*rantimers = true;
					if ((gp = runqget(pp, &(bool){0})))
						return gp;
				}
			}
			if (atomic_load(&p2->status) == Pidle)
				continue;
			gp = runqsteal(pp, p2, last);
			if (gp)
				return gp;
		}
	}
	return NULL;
}

static void gcstopm(struct m *mp)
{
	struct p *pp;

	if (mp->spinning) {
		mp->spinning = false;
		if (atomic_fetch_sub(&sched.nmspinning, 1) <= 0)
			throw("gcstopm: negative nmspinning");
	}
	pp = releasep(mp);
	lock(&sched.lock);
	atomic_store(&pp->status, Pgcstop);
	if (--sched.stopwait == 0)
		notewakeup(&sched.stopnote);
	unlock(&sched.lock);
	mp->stwspin = true;
	stopm(mp);
}

/* findrunnable() - a runnable G; sleeps until there is one. */
static struct g *findrunnable(struct m *mp, bool *inherit)
{
	struct p *pp;
	struct g *gp;
	int64_t now, next;
	bool ran;
	int32_t i, procs;

top:
	pp = mp->p;
	if (atomic_load(&sched.gcwaiting)) {
		gcstopm(mp);
		goto top;
	}
	now = nanotime();
	checktimers(pp, now, &ran);

	if ((gp = runqget(pp, inherit)))
		return gp;
	if (atomic_load(&sched.runqsize)) {
		lock(&sched.lock);
		gp = globrunqget(pp, 0);
		unlock(&sched.lock);
		if (gp) {
			*inherit = false;
			return gp;
		}
	}

	/* Submit what our goroutines queued; ready what completed. */
	if (netpoll_mode) {
		netpoll_check(mp);
		if ((gp = runqget(pp, inherit)))
			return gp;
	}

	/* Limit spinning Ms to half the busy Ps: stealing burns CPU. */
	procs = atomic_load(&gomaxprocs);
	if (mp->spinning ||
	    2 * atomic_load(&sched.nmspinning) < procs - atomic_load(&sched.npidle)) {
		if (!mp->spinning) {
			mp->spinning = true;
			atomic_fetch_add(&sched.nmspinning, 1);
		}
		ran = false;
		gp = stealwork(pp, now, &ran);
		if (gp) {
			*inherit = false;
			return gp;
		}
		if (ran)
			goto top;
	}

	/* Nothing: give up the P. */
	lock(&sched.lock);
	if (atomic_load(&sched.gcwaiting)) {
		unlock(&sched.lock);
		goto top;
	}
	if (atomic_load(&sched.runqsize)) {
		gp = globrunqget(pp, 0);
		unlock(&sched.lock);
		*inherit = false;
		return gp;
	}
	releasep(mp);
	pidleput(pp);
	unlock(&sched.lock);

	if (mp->spinning) {
		mp->spinning = false;
		if (atomic_fetch_sub(&sched.nmspinning, 1) <= 0)
			throw("findrunnable: negative nmspinning");
		/* The delicate dance: re-check after dropping nmspinning. */
		for (i = 0; i <= procs; i++) {
			if (i < procs ? !runqempty(allp[i]) : atomic_load(&sched.runqsize) > 0) {
				lock(&sched.lock);
				pp = pidleget();
				unlock(&sched.lock);
				if (pp) {
					acquirep(mp, pp);
					mp->spinning = true;
					atomic_fetch_add(&sched.nmspinning, 1);
					goto top;
				}
				break;
			}
		}
	}

	next = nexttimer();
	if (next) {
		stopm_until(mp, next);
		if (!mp->p) {
			lock(&sched.lock);
			pp = pidleget();
			unlock(&sched.lock);
			if (pp)
				acquirep(mp, pp);
			else
				stopm(mp);
		}
	} else {
		stopm(mp);
	}
	goto top;
}

/* schedule() - pick the next G for @mp; leaves it in mp->resume. */
static void schedule(struct m *mp)
{
	struct p *pp;
	struct g *gp = NULL;
	bool inherit = false;

	if (mp->resume) {
		/* A cancelled park resumes at once, in the same time slice. */
		mp->inherit = true;
		return;
	}
top:
	pp = mp->p;
	if (atomic_load(&sched.gcwaiting)) {
		gcstopm(mp);
		goto top;
	}
	if (unlikely(mp->kicknext)) {
		/* Honour the preemption: runnext goes behind the others. */
		struct g *next = atomic_exchange(&pp->runnext, NULL);

		mp->kicknext = false;
		if (next)
			runqput(pp, next, false);
		/* And give the global queue its turn too. */
		if (atomic_load(&sched.runqsize)) {
			lock(&sched.lock);
			gp = globrunqget(pp, 1);
			unlock(&sched.lock);
		}
	}
	if (atomic_load(&pp->timer0when))
		checktimers(pp, nanotime(), &(bool){0});
	/*
	 * I/O queued by our goroutines goes in one batch when the run queue
	 * runs dry (findrunnable); with a long queue, every 16th tick, so
	 * neither submissions nor completions wait for it to drain.
	 */
	if (netpoll_mode && load_relaxed(&pp->schedtick) % 16 == 0 && netpoll_pending(mp))
		netpoll_check(mp);
	/* Every 61st tick, check the global queue so it cannot starve (not
	 * if the kicknext path above took one already: it would be lost). */
	if (!gp && load_relaxed(&pp->schedtick) % 61 == 0 && atomic_load(&sched.runqsize) > 0) {
		lock(&sched.lock);
		gp = globrunqget(pp, 1);
		unlock(&sched.lock);
	}
	if (!gp)
		gp = runqget(pp, &inherit);
	if (!gp)
		gp = findrunnable(mp, &inherit);
	if (mp->spinning)
		resetspinning(mp);
	mp->resume = gp;
	mp->inherit = inherit;
}

static void mloop(struct m *mp)
{
	for (;;) {
		struct g *gp;
		struct p *pp;

		if (!mp->p)
			stopm(mp);
		schedule(mp);
		gp = mp->resume;
		mp->resume = NULL;
		pp = mp->p;
		if (!mp->inherit)
			atomic_store_explicit(&pp->schedtick,
					      load_relaxed(&pp->schedtick) + 1, relaxed);
		gort_sched_execute(gp, mp, pp);

		/* Back on g0: finish what the goroutine asked for. */
		gp = mp->curg;
		switch (mp->after) {
		case mafterPark:
			gort_sched_park(gp, mp->waitreason);
			break;
		case mafterYield:
		case mafterPreempt:
			mp->curg = NULL;
			gp->m = NULL;
			if (mp->after == mafterPreempt)
				gort_sched_preempt(gp, mp->p);
			else {
				/*
				 * To the tail of the local queue, not the global
				 * one as Go's Gosched: no lock, and stealing still
				 * spreads it.  runqput may spill to global.
				 */
				store_release(&gp->status, Grunnable);
				runqput(mp->p, gp, false);
			}
			break;
		case mafterExit:
			mp->curg = NULL;
			gort_sched_goexit(gp, mp->p);
			break;
		case mafterSyscall:
			mp->curg = NULL;
			gp->m = NULL;
			atomic_store(&gp->status, Grunnable);
			lock(&sched.lock);
			pp = pidleget();
			if (!pp)
				globrunqput(gp);
			unlock(&sched.lock);
			if (pp) {
				acquirep(mp, pp);
				mp->resume = gp;
			}
			break;
		default:
			throw("mloop: bad after");
		}
		mp->after = mafterNone;
	}
}

/* ---- system calls ---- */

/*
 * gort_syscall_enter (switch.S) pushes the callee-saved registers, whose
 * values are its caller's, and calls this with their address: the GC
 * scans them and the caller's frames from here on, while the goroutine
 * runs C code outside the runtime without a P.
 */
void syscall_enter_c(const uintptr_t *regs)
{
	struct m *mp = getm();
	struct p *pp;
	int i;

	if (!mp || !mp->curg)
		return;
	/* Our ring's queued SQEs must not wait for the call to return
	 * (its completions do: Documentation/netpoll.rst). */
	if (unlikely(mp->ring) && netpoll_pending(mp)) {
		/* On the goroutine's stack: nothing in there may switch it
		 * away (a semaphore release would preempt), or it would come
		 * back on another M with this one's P detached below. */
		mp->locks++;
		netpoll_check(mp);
		mp->locks--;
	}
	for (i = 0; i < 6; i++)
		mp->curg->syscallregs[i] = regs[i];
	stack_note(mp->curg, (uintptr_t)regs);
	mp->curg->syscallsp = (uintptr_t)(regs + 7);	/* past rbp, return address */
	pp = mp->p;
	mp->syscalltick = load_relaxed(&pp->syscalltick);
	atomic_store(&mp->curg->status, Gsyscall);
	pp->m = NULL;
	mp->oldp = pp;
	mp->p = NULL;
	/* From here sysmon may take pp (Psyscall -> Pidle) at any time. */
	atomic_store(&pp->status, Psyscall);
	if (atomic_load(&sched.sysmonwait))
		sysmon_wake();
	if (atomic_load(&sched.gcwaiting)) {
		uint32_t s = Psyscall;

		/*
		 * Re-check under the lock (Go's entersyscall_gcwait): that
		 * stop-the-world may be over, and pp running again elsewhere.
		 */
		lock(&sched.lock);
		if (sched.stopwait > 0 &&
		    atomic_compare_exchange_strong(&pp->status, &s, Pgcstop)) {
			atomic_fetch_add(&pp->syscalltick, 1);
			if (--sched.stopwait == 0)
				notewakeup(&sched.stopnote);
		}
		unlock(&sched.lock);
	}
}

static bool exitsyscallfast(struct m *mp, struct p *oldp)
{
	uint32_t s = Psyscall;
	struct p *pp;

	if (atomic_load(&sched.gcwaiting))
		return false;
	if (oldp && atomic_compare_exchange_strong(&oldp->status, &s, Pidle)) {
		acquirep(mp, oldp);
		atomic_fetch_add(&oldp->syscalltick, 1);
		return true;
	}
	if (atomic_load(&sched.npidle)) {
		lock(&sched.lock);
		pp = pidleget();
		unlock(&sched.lock);
		if (pp) {
			acquirep(mp, pp);
			return true;
		}
	}
	return false;
}

__export void gort_syscall_exit(void)
{
	int e = errno_get();
	struct m *mp = getm();
	struct p *oldp;

	if (!mp || !mp->curg)
		return;
	oldp = mp->oldp;
	mp->oldp = NULL;
	if (exitsyscallfast(mp, oldp)) {
		atomic_store(&mp->curg->status, Grunning);
		preemptcheck();
		errno_set(e);
		return;
	}
	/* No P: queue this G and let g0 find something else to do. */
	mcall(mp, mafterSyscall);
	errno_set(e);
}

/* ---- stop the world ---- */

static void preemptall(void)
{
	int32_t i, procs = atomic_load(&gomaxprocs);

	for (i = 0; i < procs; i++) {
		struct p *pp = allp[i];
		struct m *mp = pp->m;
		struct g *gp;

		if (atomic_load(&pp->status) != Prunning || !mp)
			continue;
		gp = mp->curg;
		if (gp)
			atomic_store(&gp->preempt, true);
	}
}

/**
 * gort_sched_stw() - probe point: the world stops (@stop = 1) or starts
 * again (@stop = 0) for @reason.
 */
__probe void gort_sched_stw(const char *reason, uint32_t stop)
{
	PROBE_FRAME();
	(void)reason, (void)stop;
}

/*
 * The running goroutines reach a preemption point within microseconds as
 * a rule; spin that long for the last P before sleeping on the note (a
 * futex wake-up took 50-200 us more here, a large part of a short pause).
 */
#define STW_SPIN_NS	(50 * 1000)

/*
 * stopTheWorld() - stop every P but the caller's.  Goroutines running
 * user code stop at their next gort call; Ps in syscalls are taken
 * without waiting for the call to return, and so are Ps on their way to
 * an M that has not woken yet.
 */
void stopTheWorld(const char *reason)
{
	struct m *mp = getm();
	int32_t i, procs;
	struct p *pp;
	bool wait;

	if (!mp || !mp->p)
		fatal("stopTheWorld: not on a goroutine");
	/* One stop-the-world at a time; waiting here parks (Go's worldsema).
	 * Uncontended, no preemption point: we stop the world now. */
	if (!semtryacquire(&worldsema))
		semacquire1(&worldsema, false, waitReasonStopTheWorld, -1, &(bool){0});
	mp = getm();
	mp->locks++;
	gort_sched_stw(reason, 1);
	atomic_store(&sched.stwcpu, sched_getcpu());
	lock(&sched.lock);
	procs = atomic_load(&gomaxprocs);
	sched.stopwait = procs;
	noteclear(&sched.stopnote);
	atomic_store(&sched.gcwaiting, 1);
	/*
	 * Not us: the caller goes on after startTheWorld() (the GC
	 * goroutine to mark), and a preempt flag left set would hand its P
	 * to another goroutine at its first preemption point.  On one P
	 * that made marking wait for the mutator's next runtime call.
	 */
	if (mp->curg)
		atomic_store(&mp->curg->preempt, false);
	atomic_store(&mp->p->status, Pgcstop);
	sched.stopwait--;
	for (i = 0; i < procs; i++) {
		uint32_t s = Psyscall;

		pp = allp[i];
		if (atomic_compare_exchange_strong(&pp->status, &s, Pgcstop)) {
			atomic_fetch_add(&pp->syscalltick, 1);
			sched.stopwait--;
		} else if (s == Pidle && claimhandoff(pp)) {
			/* Its M is still waking up: it will find no P. */
			atomic_store(&pp->status, Pgcstop);
			sched.stopwait--;
		}
	}
	while ((pp = pidleget())) {
		atomic_store(&pp->status, Pgcstop);
		sched.stopwait--;
	}
	wait = sched.stopwait > 0;
	unlock(&sched.lock);
	/*
	 * Only now: a preempted goroutine takes sched.lock at once (to queue
	 * itself, then to stop its P).  Flagged while we held it, it spun,
	 * slept on the lock, and took 20-230 us to wake up here.
	 */
	if (wait)
		preemptall();
	if (wait && !notespin(&sched.stopnote, STW_SPIN_NS)) {
		/* Keep preempting: a G may have started since preemptall. */
		while (!notetsleep(&sched.stopnote, 100 * 1000))
			preemptall();
	}
	if (sched.stopwait != 0)
		throw("stopTheWorld: not stopped");
}

/* procresize() - set the number of Ps; sched.lock held, world stopped.
 * Returns the Ps that have local work (linked by ->link). */
static struct p *procresize(int32_t nprocs)
{
	int32_t old = atomic_load(&gomaxprocs), i;
	struct m *mp = getm();
	struct p *runnable = NULL;

	for (i = 0; i < nprocs; i++) {
		if (!allp[i]) {
			struct p *pp = aligned_alloc(CACHELINE, sizeof(*pp));

			if (!pp)
				throw("procresize: out of memory");
			memset(pp, 0, sizeof(*pp));
			pp->id = i;
			pp->status = Pgcstop;
			pp->node = heap_node_of_p(i);
			pp->mcache = allocmcache(pp->node);
			atomic_store(&allp[i], pp);
		}
		if (atomic_load(&allp[i]->status) == Pdead)
			atomic_store(&allp[i]->status, Pgcstop);
	}
	/* Destroy Ps beyond nprocs: their work moves to the survivors. */
	for (i = nprocs; i < old; i++) {
		struct p *pp = allp[i];
		struct g *gp;
		bool inh;

		while ((gp = runqget(pp, &inh)))
			globrunqput(gp);
		movetimers(allp[0], pp);
		stack_pflush(pp);
		mcache_flushall(pp->mcache);	/* its statistics stay for MemStats */
		sched.ngoroutine_dead += pp->ngoroutine;
		pp->ngoroutine = 0;
		lock(&sched.gflock);
		while (pp->gfreecnt)
			gq_push(&sched.gfree, pp->gfree[--pp->gfreecnt]);
		unlock(&sched.gflock);
		if (mp && mp->p == pp) {
			mp->p = NULL;
			pp->m = NULL;
		}
		atomic_store(&pp->status, Pdead);
	}
	atomic_store(&gomaxprocs, nprocs);
	if (mp && mp->curg) {
		if (!mp->p) {
			mp->p = allp[0];
			allp[0]->m = mp;
		}
		atomic_store(&mp->p->status, Prunning);
	}
	sched.pidle = NULL;
	atomic_store(&sched.npidle, 0);
	for (i = nprocs - 1; i >= 0; i--) {
		struct p *pp = allp[i];

		if (mp && mp->p == pp)
			continue;
		pp->m = NULL;
		if (runqempty(pp)) {
			pidleput(pp);
		} else {
			atomic_store(&pp->status, Pidle);
			pp->link = runnable;
			runnable = pp;
		}
	}
	return runnable;
}

void startTheWorld(void)
{
	struct m *mp = getm();
	struct p *runnable, *pp;

	lock(&sched.lock);
	runnable = procresize(newprocs ? newprocs : atomic_load(&gomaxprocs));
	newprocs = 0;
	atomic_store(&sched.gcwaiting, 0);
	if (atomic_load(&sched.sysmonwait))
		sysmon_wake();
	unlock(&sched.lock);
	while ((pp = runnable)) {
		runnable = pp->link;
		startm(pp, false);
	}
	/* The pause ends here; what follows may yield (gc.c measures). */
	sched.worldstarted = nanotime();
	gort_sched_stw("", 0);
	wakep();
	mp->locks--;
	semrelease1(&worldsema, false);
}

__export int gort_maxprocs(int n)
{
	int32_t prev = atomic_load(&gomaxprocs);

	if (n > GORT_MAXPROCS_LIMIT)
		return -EINVAL;
	if (n <= 0 || n == prev)
		return prev;
	stopTheWorld("GOMAXPROCS");
	newprocs = n;
	startTheWorld();
	return prev;
}

/* ---- deadlock detection ---- */

/*
 * checkdead() - called with sched.lock held whenever an M goes idle: if
 * no M runs or sits in a syscall, nothing can ever wake the goroutines.
 */
static void checkdead(void)
{
	int32_t run = sched.mnext - sched.nmidle;
	int32_t i, nwaiting = 0;
	struct g *gp;

	if (run > 0 || atomic_load(&sched.exiting) || !sched.started ||
	    atomic_load(&sched.nwakers) > 0)
		return;
	/* The network may wake them (Go does not call that a deadlock). */
	if (netpoll_busy())
		return;
	if (run < 0)
		throw("checkdead: inconsistent counts");
	/* A pending timer will wake somebody (checked first: it is cheap). */
	for (i = 0; i < atomic_load(&gomaxprocs); i++)
		if (atomic_load(&allp[i]->timer0when))
			return;
	for_each_g(k, gp) {
		switch (atomic_load(&gp->status)) {
		case Gwaiting:
			nwaiting++;
			break;
		case Grunnable:
		case Grunning:
		case Gsyscall:
			/* Being readied from outside the runtime right now. */
			return;
		default:
			break;
		}
	}
	unlock(&sched.lock);
	if (nwaiting == 0)
		fatal("no goroutines (main called gort_exit) - deadlock!");
	fatal("all goroutines are asleep - deadlock!");
}

__export int gort_external_wakers(int delta)
{
	int n = atomic_fetch_add(&sched.nwakers, delta) + delta;

	if (n < 0)
		fatal("gort_external_wakers: count below zero");
	return n;
}

/* ---- introspection ---- */

__export int64_t gort_goid(void)
{
	struct g *gp = getg();

	return gp ? gp->goid : 0;
}

__export int gort_num_goroutine(void)
{
	int64_t n = sched.ngoroutine_dead;
	int32_t i;

	for (i = 0; i < atomic_load(&gomaxprocs); i++)
		n += *(volatile int64_t *)&allp[i]->ngoroutine;
	return n < 0 ? 0 : (int)n;
}

__export int gort_sched_stats(struct gort_sched_stats *st)
{
	size_t sz;

	if (!st || st->sz < sizeof(size_t))
		return -EINVAL;
	sz = st->sz < sizeof(*st) ? st->sz : sizeof(*st);
	{
		struct gort_sched_stats s = { .sz = sz };

		s.handoffs = atomic_load(&sched.nhandoff);
		s.steals = atomic_load(&sched.nsteal);
		s.preempt_requests = atomic_load(&sched.npreempt);
		s.threads = sched.mnext;
		s.idle_threads = sched.nmidle;
		s.guard_mode = stack_guard_mode();
		memcpy(st, &s, sz);
	}
	return 0;
}

/* ---- start-up ---- */

struct mainarg {
	int (*fn)(void *);
	void *arg;
};

static struct mainarg mainarg;

static void runmain(void *unused)
{
	(void)unused;
	gcinit();
	sched.mainret = mainarg.fn(mainarg.arg);
	/* As in Go, nobody waits for the other goroutines. */
	atomic_store(&sched.exiting, true);
	notewakeup(&sched.mainnote);
}

__export int gort_main(int (*fn)(void *), void *arg, const struct gort_opts *opts)
{
	static bool once;
	size_t stack = 0, mainstack = 8 << 20, pg = physpagesize();
	int procs = 0;
	struct p *pp;
	int64_t id;

	if (!fn)
		return -EINVAL;
	if (opts) {
		if (!opts_valid(opts, opts->sz, sizeof(*opts)))
			return -EINVAL;
		if (opts->sz > offsetof(struct gort_opts, maxprocs))
			procs = opts->maxprocs;
		if (opts->sz > offsetof(struct gort_opts, stack_size))
			stack = opts->stack_size;
		if (opts->sz > offsetof(struct gort_opts, main_stack_size) &&
		    opts->main_stack_size)
			mainstack = opts->main_stack_size;
		if (procs < 0 || procs > GORT_MAXPROCS_LIMIT)
			return -EINVAL;
	}
	if (atomic_exchange(&once, true))
		return -EBUSY;

	parsedebugvars();
	ncpu = ncpu_available();
	if (!procs)
		procs = (int)envint("GORT_MAXPROCS", 0);
	if (procs <= 0)
		procs = ncpu;
	if (procs > GORT_MAXPROCS_LIMIT)
		procs = GORT_MAXPROCS_LIMIT;
	if (!stack)
		stack = envsize("GORT_STACKSIZE", 256 << 10);
	default_stack_size = (stack + pg - 1) & ~(pg - 1);
	mainstack = (mainstack + pg - 1) & ~(pg - 1);

	sched.starttime = nanotime();
	sched.coarsenow = sched.starttime;
	/* Our caller's frames (main's argument, often) are GC roots. */
	gc_mainstack((uintptr_t)__builtin_frame_address(0));
	mallocinit();
	stack_init();
	sema_init();
	symtab_init();
	signals_init();
	netpoll_init();
	if (debug.verbose) {
		printf_raw("gort: GOMAXPROCS=%d (CPUs usable: %d, affinity+cgroup quota), "
			   "stack %zu KiB + guard via %s, TLS model initial-exec\n",
			   procs, ncpu, default_stack_size >> 10,
			   stack_guard_mode() == 1 ? "MADV_GUARD_INSTALL" :
			   "mprotect (VMA split per stack)");
		printf_raw("gort: heap: %d NUMA node(s)%s, arenas %s huge pages, "
			   "GORT_GC=%d, GORT_MEMLIMIT=%lld\n", heap.nnodes,
			   heap.numa ? " (mbind, Ms pinned to their P's node)" : "",
			   heap.hugepages == 1 ? "with" : heap.hugepages == 0 ? "without" :
			   "with the system's default for", heap.gcpercent,
			   (long long)heap.memlimit);
	}
	noteclear(&sched.mainnote);
	lock(&sched.lock);
	procresize(procs);
	pp = pidleget();
	unlock(&sched.lock);

	mainarg.fn = fn;
	mainarg.arg = arg;
	id = newproc(runmain, NULL, mainstack, (uintptr_t)fn, pp, NULL, NULL);
	if (id < 0)
		return (int)id;
	sched.started = true;
	if (sysmon_start() || newm(pp, false))
		return -EAGAIN;

	notesleep(&sched.mainnote);
	return sched.mainret;
}

__export const char *gort_version(void)
{
#define STR2(x) #x
#define STR(x) STR2(x)
	return STR(GORT_MAJOR_VERSION) "." STR(GORT_MINOR_VERSION);
}
