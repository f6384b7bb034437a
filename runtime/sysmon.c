// SPDX-License-Identifier: MIT
/*
 * sysmon.c - the system monitor thread (Go's sysmon).
 *
 * A plain thread with no P, waking every 20 us to 10 ms (backing off while
 * nothing happens), that:
 *   - retakes Ps from Ms blocked in a syscall for more than one tick and
 *     hands them to other Ms (gort_sched_handoffp), so goroutines keep
 *     running while one blocks;
 *   - flags a goroutine that has run for more than 10 ms without
 *     rescheduling (p->schedtick unchanged), so it yields at its next gort
 *     call;
 *   - starts an M when a timer is overdue and nobody runs timers;
 *   - releases the memory of free stacks unused for a second
 *     (MADV_DONTNEED, stack_scavenge);
 *   - prints schedtrace lines (GORT_DEBUG=schedtrace=MS).
 * When every P is idle it sleeps on sched.sysmonnote until a P is taken
 * (pidleget) or a goroutine enters a syscall, waking only while memory
 * waits to be given back (heap: every 100 ms, stacks: every second): an
 * idle process with nothing to release stays asleep.
 */
#include <signal.h>
#include <stdio.h>

#include "internal.h"
#include "netpoll.h"
#include "mgc.h"
#include "mheap.h"

#define FORCE_PREEMPT_NS	(10 * 1000 * 1000)

static int64_t lastrelease;
static bool stackspending;	/* the stack pool has warm or old stacks */
static bool heappending;	/* the heap has idle memory to release */

void sysmon_wake(void)
{
	uint32_t one = 1;

	if (atomic_compare_exchange_strong(&sched.sysmonwait, &one, 0))
		notewakeup(&sched.sysmonnote);
}

static void preemptone(struct p *pp)
{
	struct m *mp = pp->m;
	struct g *gp;

	if (!mp)
		return;
	gp = mp->curg;
	if (!gp || atomic_load(&gp->preempt))
		return;
	atomic_store(&gp->preempt, true);
	atomic_fetch_add(&sched.npreempt, 1);
}

static uint32_t retake(int64_t now)
{
	int32_t i, procs = atomic_load(&gomaxprocs);
	uint32_t n = 0;

	for (i = 0; i < procs; i++) {
		struct p *pp = allp[i];
		uint32_t s = atomic_load(&pp->status);
		bool sysretake = false;

		if (s == Prunning || s == Psyscall) {
			uint32_t t = atomic_load(&pp->schedtick);

			if (pp->sysmontick.schedtick != t) {
				pp->sysmontick.schedtick = t;
				pp->sysmontick.schedwhen = now;
			} else if (pp->sysmontick.schedwhen + FORCE_PREEMPT_NS <= now) {
				preemptone(pp);
				sysretake = true;
			}
		}
		if (s == Psyscall) {
			uint32_t t = atomic_load(&pp->syscalltick);

			/* Retake after one full sysmon tick (>= 20 us) in the call. */
			if (!sysretake && pp->sysmontick.syscalltick != t) {
				pp->sysmontick.syscalltick = t;
				pp->sysmontick.syscallwhen = now;
				continue;
			}
			/* No other work and others idle: leave it up to 10 ms. */
			if (!(atomic_load(&pp->runqtail) != atomic_load(&pp->runqhead) ||
			      atomic_load(&pp->runnext)) &&
			    atomic_load(&sched.nmspinning) + atomic_load(&sched.npidle) > 0 &&
			    pp->sysmontick.syscallwhen + FORCE_PREEMPT_NS > now)
				continue;
			if (atomic_compare_exchange_strong(&pp->status, &s, Pidle)) {
				n++;
				atomic_fetch_add(&pp->syscalltick, 1);
				atomic_fetch_add(&sched.nhandoff, 1);
				gort_sched_handoffp(pp, NULL);
			}
		}
	}
	return n;
}

/* Once a second: release the stacks nobody used for a second (stack.c). */
static bool releasestacks(int64_t now)
{
	if (now - lastrelease < 1000 * 1000 * 1000)
		return true;
	lastrelease = now;
	return stack_scavenge();
}

static void *sysmon(void *unused)
{
	int64_t delay = 0, lasttrace = 0;
	int idle = 0;
	sigset_t all;

	(void)unused;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	for (;;) {
		int64_t now;

		if (idle == 0)
			delay = 20 * 1000;
		else if (idle > 50)
			delay *= 2;
		if (delay > 10 * 1000 * 1000)
			delay = 10 * 1000 * 1000;
		usleep_ns(delay);
		now = nanotime();
		store_relaxed(&sched.coarsenow, now);
		/* Memory first, busy or idle: both are rate-limited inside. */
		stackspending = releasestacks(now);
		heappending = mheap_scavenge_tick();
		gc_sysmon_tick(now);		/* Go's forcegc */

		if (!debug.schedtrace &&
		    (atomic_load(&sched.gcwaiting) ||
		     atomic_load(&sched.npidle) == atomic_load(&gomaxprocs))) {
			lock(&sched.lock);
			if (atomic_load(&sched.gcwaiting) ||
			    atomic_load(&sched.npidle) == atomic_load(&gomaxprocs)) {
				/*
				 * Everything idle: sleep until a P is taken, but
				 * wake every 100 ms while the heap has memory to
				 * give back, every second while stacks do.
				 */
				int64_t ns;

				/* Fresh, not the tick's cached answer: frees may
				 * have happened since. */
				heappending = heap_scavenge_pending();
				ns = heappending ? 100 * 1000 * 1000 :
				     stackspending ? 1000 * 1000 * 1000 : -1;
				/* And no later than the next forced GC cycle. */
				{
					int64_t f = gc_force_in(now);

					if (f >= 0 && (ns < 0 || f < ns))
						ns = f;
				}

				noteclear(&sched.sysmonnote);
				atomic_store(&sched.sysmonwait, 1);
				unlock(&sched.lock);
				if (!notetsleep(&sched.sysmonnote, ns)) {
					uint32_t one = 1;

					/* Lost the race with a waker: take its wakeup. */
					if (!atomic_compare_exchange_strong(&sched.sysmonwait, &one, 0))
						notesleep(&sched.sysmonnote);
				}
				idle = 0;
				delay = 20 * 1000;
				continue;
			}
			unlock(&sched.lock);
		}

		/* Readiness nobody polled for (epoll; rings poll themselves). */
		netpoll_sysmon(now);
		/* Overdue timers with nobody to run them. */
		{
			int64_t next = nexttimer();

			if (next && next < now)
				wakep();
		}
		if (retake(now))
			idle = 0;
		else
			idle++;
		if (debug.schedtrace > 0 &&
		    now - lasttrace >= (int64_t)debug.schedtrace * 1000000) {
			lasttrace = now;
			schedtrace(debug.scheddetail);
		}
	}
	return NULL;
}

int sysmon_start(void)
{
	pthread_t t;
	pthread_attr_t attr;
	int err;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	err = pthread_create(&t, &attr, sysmon, NULL);
	pthread_attr_destroy(&attr);
	return -err;
}

/*
 * schedtrace() - Go's schedtrace line:
 * SCHED 1004ms: gomaxprocs=2 idleprocs=2 threads=4 spinningthreads=0
 * idlethreads=2 runqueue=0 [0 0]
 */
void schedtrace(bool detailed)
{
	char buf[4096];
	int32_t i, procs = atomic_load(&gomaxprocs);
	int n;

	n = snprintf(buf, sizeof(buf),
		     "SCHED %lldms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d idlethreads=%d runqueue=%d [",
		     (long long)((nanotime() - sched.starttime) / 1000000), procs,
		     atomic_load(&sched.npidle), sched.mnext + 1,
		     atomic_load(&sched.nmspinning), sched.nmidle,
		     atomic_load(&sched.runqsize));
	for (i = 0; i < procs && n < (int)sizeof(buf) - 32; i++) {
		struct p *pp = allp[i];
		uint32_t q = atomic_load(&pp->runqtail) - atomic_load(&pp->runqhead);

		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s%u", i ? " " : "", q);
	}
	printf_raw("%s]\n", buf);
	if (detailed && netpoll_mode)
		printf_raw("  netpoll: %s, %lld goroutines waiting\n",
			   netpoll_mode == NP_URING ? "io_uring" : "epoll",
			   (long long)atomic_load(&netpoll_nwait));
	if (detailed) {
		for (i = 0; i < procs; i++) {
			struct p *pp = allp[i];

			printf_raw("  P%d: status=%u schedtick=%u syscalltick=%u m=%lld runqsize=%u timers=%d\n",
				   i, atomic_load(&pp->status), atomic_load(&pp->schedtick),
				   atomic_load(&pp->syscalltick), pp->m ? (long long)pp->m->id : -1LL,
				   atomic_load(&pp->runqtail) - atomic_load(&pp->runqhead),
				   pp->ntimers);
		}
	}
}
