/* SPDX-License-Identifier: MIT */
/*
 * gort/sync.h - synchronization primitives that park goroutines, never
 * the thread: Go's sync.Mutex, RWMutex, WaitGroup, Once, Cond, and the
 * runtime semaphore they are built on.
 *
 * Every object is ready when zeroed (or initialised with its *_INIT) and
 * must not be copied after first use.  They may only be used from
 * goroutines.  Misuse is fatal in Go's words, with a goroutine traceback:
 *   "fatal error: sync: unlock of unlocked mutex"
 *   "fatal error: sync: RUnlock of unlocked RWMutex"
 *   "fatal error: sync: Unlock of unlocked RWMutex"
 *   "fatal error: sync: negative WaitGroup counter"
 *   "fatal error: sync: WaitGroup is reused before previous Wait has returned"
 *   "fatal error: sync: WaitGroup misuse: Add called concurrently with Wait"
 *   "fatal error: sync: inconsistent mutex state"
 *   "fatal error: sync: Cond used without a Locker"
 */
#ifndef GORT_SYNC_H
#define GORT_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Semaphore: a counter goroutines wait on.  acquire waits until *addr > 0
 * and decrements it; release increments it and wakes one waiter (FIFO).
 */
void gort_sema_acquire(uint32_t *addr);
/* Return: true if acquired, false if @timeout_ns passed first. */
bool gort_sema_acquire_timeout(uint32_t *addr, int64_t timeout_ns);
void gort_sema_release(uint32_t *addr);

/*
 * Mutex, as Go's sync.Mutex: spins briefly, then parks; a waiter that has
 * waited over 1 ms switches the mutex to starvation mode, where ownership
 * is handed directly to the oldest waiter.
 */
struct gort_mutex {
	int32_t state;
	uint32_t sema;
};
#define GORT_MUTEX_INIT { 0, 0 }

void gort_mutex_lock(struct gort_mutex *m);
bool gort_mutex_trylock(struct gort_mutex *m);
void gort_mutex_unlock(struct gort_mutex *m);

/* RWMutex, as Go's sync.RWMutex: a blocked Lock stops new readers. */
struct gort_rwmutex {
	struct gort_mutex w;
	uint32_t writer_sem;
	uint32_t reader_sem;
	int32_t reader_count;
	int32_t reader_wait;
};
#define GORT_RWMUTEX_INIT { GORT_MUTEX_INIT, 0, 0, 0, 0 }

void gort_rwmutex_rlock(struct gort_rwmutex *rw);
bool gort_rwmutex_tryrlock(struct gort_rwmutex *rw);
void gort_rwmutex_runlock(struct gort_rwmutex *rw);
void gort_rwmutex_lock(struct gort_rwmutex *rw);
bool gort_rwmutex_trylock(struct gort_rwmutex *rw);
void gort_rwmutex_unlock(struct gort_rwmutex *rw);

/* WaitGroup, as Go's sync.WaitGroup. */
struct gort_waitgroup {
	uint64_t state;		/* high 32 bits: counter, low 32: waiters */
	uint32_t sema;
};
#define GORT_WAITGROUP_INIT { 0, 0 }

void gort_waitgroup_add(struct gort_waitgroup *wg, int delta);
void gort_waitgroup_done(struct gort_waitgroup *wg);
void gort_waitgroup_wait(struct gort_waitgroup *wg);

/* Once, as Go's sync.Once: @fn runs once; every caller returns after it. */
struct gort_once {
	uint32_t done;
	struct gort_mutex m;
};
#define GORT_ONCE_INIT { 0, GORT_MUTEX_INIT }

void gort_once_do(struct gort_once *o, void (*fn)(void *arg), void *arg);

/*
 * Cond, as Go's sync.Cond: wait atomically unlocks @l and parks; it
 * relocks @l before returning.  @l is the mutex given to gort_cond_init
 * (or set in the initializer).
 */
struct gort_cond {
	struct gort_mutex *l;
	uint32_t wait;		/* next ticket to hand out */
	uint32_t notify;	/* next ticket to wake */
	uint32_t lock;		/* runtime lock word for the waiter list */
	void *head, *tail;	/* parked waiters, owned by the runtime */
};
#define GORT_COND_INIT(mutex) { (mutex), 0, 0, 0, 0, 0 }

void gort_cond_init(struct gort_cond *c, struct gort_mutex *l);
void gort_cond_wait(struct gort_cond *c);
void gort_cond_signal(struct gort_cond *c);
void gort_cond_broadcast(struct gort_cond *c);

#ifdef __cplusplus
}
#endif

#endif /* GORT_SYNC_H */
