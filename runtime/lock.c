// SPDX-License-Identifier: MIT
/*
 * lock.c - runtime locks and notes on futexes (Go's lock_futex.go).
 *
 * struct lock is for short critical sections inside the runtime: a few
 * rounds of spinning with pause, a few sched_yield()s, then sleep on the
 * futex with key = 2 ("contended") so unlock knows to wake.
 *
 * struct note is a one-shot event: notewakeup sets key 0 -> 1 and wakes;
 * notesleep waits until key is 1.  Exactly one sleeper and exactly one
 * wakeup per arming (a second notewakeup throws); noteclear re-arms it,
 * only when nobody can be sleeping or waking.
 *
 * Both sleep the *thread*: they are for g0 / non-goroutine code and for
 * critical sections too short to be worth parking a goroutine.
 */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>

#include "internal.h"

enum { UNLOCKED, LOCKED, SLEEPING };
enum { ACTIVE_SPIN = 4, ACTIVE_SPIN_CNT = 30, PASSIVE_SPIN = 1 };

int futexsleep(uint32_t *addr, uint32_t val, int64_t ns)
{
	struct timespec ts, *tsp = NULL;

	if (ns >= 0) {
		ts.tv_sec = ns / 1000000000;
		ts.tv_nsec = ns % 1000000000;
		tsp = &ts;
	}
	return (int)rawsyscall6(SYS_futex, (long)addr, FUTEX_WAIT_PRIVATE, val,
				(long)tsp, 0, 0);
}

void futexwakeup(uint32_t *addr, int cnt)
{
	long ret = rawsyscall6(SYS_futex, (long)addr, FUTEX_WAKE_PRIVATE, cnt,
			       0, 0, 0);

	if (ret < 0)
		throw("futexwakeup failed");
}

/* lock_slow() - the uncontended CAS in lock() failed. */
void lock_slow(struct lock *l)
{
	uint32_t v, wait;
	int i;

	/*
	 * wait is what we store when we take the lock: if we ever slept, we
	 * must assume others sleep too and leave SLEEPING so unlock wakes.
	 */
	wait = atomic_exchange_explicit(&l->key, LOCKED, acquire);
	if (wait == UNLOCKED)
		return;
	for (;;) {
		for (i = 0; i < ACTIVE_SPIN; i++) {
			int j;

			while (load_relaxed(&l->key) == UNLOCKED) {
				v = UNLOCKED;
				if (atomic_compare_exchange_weak_explicit(&l->key, &v, wait,
									  acquire, relaxed))
					return;
			}
			for (j = 0; j < ACTIVE_SPIN_CNT; j++)
				cpu_relax();
		}
		for (i = 0; i < PASSIVE_SPIN; i++) {
			while (load_relaxed(&l->key) == UNLOCKED) {
				v = UNLOCKED;
				if (atomic_compare_exchange_weak_explicit(&l->key, &v, wait,
									  acquire, relaxed))
					return;
			}
			osyield();
		}
		/* Sleep: mark the lock contended. */
		v = atomic_exchange_explicit(&l->key, SLEEPING, acquire);
		if (v == UNLOCKED)
			return;
		wait = SLEEPING;
		futexsleep(&l->key, SLEEPING, -1);
	}
}

/* unlock_slow() - unlock() found @v (not LOCKED) in the lock word. */
void unlock_slow(struct lock *l, uint32_t v)
{
	if (unlikely(v == UNLOCKED))
		throw("unlock of unlocked lock");
	if (v == SLEEPING)
		futexwakeup(&l->key, 1);
}

void noteclear(struct note *n)
{
	store_relaxed(&n->key, 0);
}

void notewakeup(struct note *n)
{
	/* release: what the waker wrote before is visible to the sleeper. */
	uint32_t old = atomic_exchange_explicit(&n->key, 1, release);

	if (old != 0)
		throw("notewakeup - double wakeup");
	futexwakeup(&n->key, 1);
}

void notesleep(struct note *n)
{
	while (load_acquire(&n->key) == 0)
		futexsleep(&n->key, 0, -1);
}

/*
 * notespin() - spin up to @ns for a wake-up of @n that is most likely a
 * few microseconds away; true if it came.  On a virtual machine a futex
 * sleep costs 50-200 us more than that before the sleeper runs again
 * (the idle vCPU must be woken), which stopping the world would pay.
 */
bool notespin(struct note *n, int64_t ns)
{
	int64_t end = nanotime() + ns;
	int i;

	do {
		for (i = 0; i < 64; i++) {
			if (load_acquire(&n->key))
				return true;
			cpu_relax();
		}
	} while (nanotime() < end);
	return load_acquire(&n->key) != 0;
}

bool notetsleep(struct note *n, int64_t ns)
{
	int64_t deadline;

	if (ns < 0) {
		notesleep(n);
		return true;
	}
	deadline = when(ns);	/* saturates: a timer at INT64_MAX is "never" */
	while (load_acquire(&n->key) == 0) {
		futexsleep(&n->key, 0, ns);
		if (load_acquire(&n->key) != 0)
			break;
		ns = deadline - nanotime();
		if (ns <= 0)
			return false;
	}
	return true;
}
