/* SPDX-License-Identifier: MIT */
/*
 * internal.h - the runtime's private types and cross-file functions.
 *
 * G, M, P and sched are plain C structs, compiled with -g, so BTF can be
 * generated from the library's DWARF (pahole -J) for CO-RE eBPF programs.
 * Field order is not ABI, but field names are what the eBPF tools read:
 * rename with care.
 *
 * Lock order (a lock may only be taken while holding locks above it):
 *
 *	semaroot.lock, cond list lock	a timed wait arms its timer (which
 *	  sched.lock			may start an M) before unlocking
 *	    p->timerlock
 *	    sched.gflock, stack pool lock, stacklock, allglock, symlock
 *	    (leaves: nothing is taken under them)
 *	gort_conn.lock			pd_wait arms its timer under it
 *	  p->timerlock
 *	ring cancellock, connlock, ringslock	(netpoll leaves)
 *
 * No lock is ever held across a goroutine switch, except the one a parking
 * goroutine passes to gopark(), which is released on g0 after the switch.
 */
#ifndef GORT_INTERNAL_H
#define GORT_INTERNAL_H

#include "atomic.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>

#include <gort.h>
#include "arch.h"

struct g;
struct m;
struct p;
struct mcache;
struct sudog;

#if defined(__SANITIZE_ADDRESS__)
#define GORT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORT_ASAN 1
#endif
#endif

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)
#define __noreturn	__attribute__((noreturn))
#define __cold		__attribute__((cold))
#define __aligned(x)	__attribute__((aligned(x)))
#define __export	__attribute__((visibility("default")))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define CACHELINE	64

/*
 * __probe marks a scheduler transition that eBPF tools attach uprobes to
 * (Documentation/probes.rst).  It must stay a real, out-of-line, exported
 * function with its documented signature: noinline, and on gcc noipa so
 * that no .constprop/.isra clone takes the calls away from the symbol.
 */
#if defined(__clang__)
#define __probe __attribute__((noinline, used, visibility("default")))
#else
#define __probe __attribute__((noipa, used, visibility("default")))
#endif

/*
 * PROBE_FRAME() opens every probe function: using the frame address
 * forces a frame even in a leaf, so the first instruction is push %rbp,
 * which uprobes emulate instead of single-stepping (~0.7 us vs ~10 us).
 */
#define PROBE_FRAME() __asm__ volatile("" :: "r"(__builtin_frame_address(0)))

#define relaxed		memory_order_relaxed
#define acquire		memory_order_acquire
#define release		memory_order_release
#define seq_cst		memory_order_seq_cst
#define load_relaxed(p)		atomic_load_explicit(p, relaxed)
#define load_acquire(p)		atomic_load_explicit(p, acquire)
#define store_relaxed(p, v)	atomic_store_explicit(p, v, relaxed)
#define store_release(p, v)	atomic_store_explicit(p, v, release)

/* ---- lock.c: runtime locks and one-shot notes (futex based) ---- */

/*
 * struct lock - a short-held runtime mutex.  key: 0 free, 1 locked,
 * 2 locked with sleepers.  Spins briefly, then sleeps on the futex.  Never
 * held across a goroutine switch (except via gopark's unlock function).
 */
struct lock {
	uint32_t key;
};

void lock_slow(struct lock *l);
void unlock_slow(struct lock *l, uint32_t v);

/* Uncontended paths inline: one atomic each; the rest in lock.c. */
static inline void lock(struct lock *l)
{
	uint32_t v = 0;

	if (!__atomic_compare_exchange_n(&l->key, &v, 1, false, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		lock_slow(l);
}

static inline void unlock(struct lock *l)
{
	/* Pairs with the acquire in lock(). */
	uint32_t v = __atomic_exchange_n(&l->key, 0, __ATOMIC_RELEASE);

	if (v != 1)
		unlock_slow(l, v);
}

/* struct note - one-shot sleep/wakeup between threads (Go's note). */
struct note {
	uint32_t key;
};

void noteclear(struct note *n);
void notewakeup(struct note *n);
void notesleep(struct note *n);
/* Return: true if woken, false on timeout (ns < 0 = forever). */
bool notetsleep(struct note *n, int64_t ns);
bool notespin(struct note *n, int64_t ns);

int futexsleep(uint32_t *addr, uint32_t val, int64_t ns);
void futexwakeup(uint32_t *addr, int cnt);

/* ---- os_linux.c: the OS boundary ---- */

int64_t nanotime(void);
int64_t nanotime_coarse(void);
int ncpu_available(void);
void osyield(void);
void usleep_ns(int64_t ns);
pid_t gettid_raw(void);
void *sysmap(size_t n);		/* anonymous, lazily committed; NULL on failure */
void *sysmap_at(void *at, size_t n);	/* the same, exactly at @at, or NULL */
void sysunmap(void *p, size_t n);
int sysmadvise(void *p, size_t n, int advice);	/* 0 or -errno */
int sysmprotect(void *p, size_t n, int prot);
uint32_t fastrand(void);
size_t physpagesize(void);
int readsmall(const char *path, char *buf, size_t sz);
int errno_get(void);
void errno_set(int e);

/* ---- debug.c: options from the environment ---- */

struct debugvars {
	int schedtrace;		/* ms between SCHED lines, 0 = off */
	int scheddetail;
	int verbose;		/* GORT_DEBUG=verbose=1: report kernel assists */
	int guardmprotect;	/* force the mprotect guard-page fallback */
	int gctrace;		/* a line per GC cycle */
	int gcstress;		/* a GC cycle every N allocations */
	int gcnodata;		/* do not scan data segments */
	int gcforce;		/* seconds between forced cycles (120) */
	int gccheckmark;	/* verify the mark at mark termination */
	int gcshrinkstackoff;	/* never release parked stacks' memory */
	int gcconcurrent;	/* no stop-the-world marking of small heaps */
	int gchelper;		/* the last look's helper: 0 auto, 1 always, -1 never */
	int gcquietoff;		/* always make the last look, even after no fault */
	int gcassist;		/* assist below the goal too; always share */
};
extern struct debugvars debug;

void parsedebugvars(void);
void gc_noscan_global(const void *p, size_t n);	/* gc.c */
long envint(const char *name, long def);
size_t envsize(const char *name, size_t def);

/* ---- print.c / traceback.c: fatal errors and tracebacks ---- */

void printf_raw(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void throw(const char *msg) __noreturn __cold;
void fatal(const char *msg) __noreturn __cold;
void fatalf(const char *fmt, ...) __noreturn __cold __attribute__((format(printf, 1, 2)));
/* Go's panic for misuse (a closed channel, slice bounds): "panic: MSG",
 * every goroutine's traceback, exit 2.  No recover() in C. */
void gopanic(const char *msg) __noreturn __cold;
void gopanicf(const char *fmt, ...) __noreturn __cold __attribute__((format(printf, 1, 2)));
void tracebackall(struct m *curm, uintptr_t pc, uintptr_t fp);
bool symbolize(uintptr_t pc, const char **name, uintptr_t *off, const char **mod,
	       uintptr_t *modoff);
void symtab_init(void);
void signals_init(void);
void signals_minit(struct m *mp);

/* ---- malloc.c: the runtime's own objects ---- */

/* newobject(), newobject_typed() - gort_alloc() and gort_alloc_typed()
 * for objects the runtime needs: out of memory is fatal, never NULL. */
void *newobject(size_t size, unsigned int flags);
void *newobject_typed(const struct gort_type *t, size_t n);

/*
 * ALLOC_UNTRACKED - a large object's pages are left out of dirty-page
 * tracking (no write-protect faults, huge pages kept whole): every
 * pointer store into it after allocation must go through gc_wb().  Only
 * large objects (small ones share their pages); the runtime's own flag.
 */
#define ALLOC_UNTRACKED	(1u << 30)
void *newobject_typed_flags(const struct gort_type *t, size_t n, unsigned int flags);

/* ---- the scheduler (proc.c) ---- */

enum gstatus {
	Gidle,		/* just allocated, not yet initialised */
	Grunnable,	/* on a run queue, not running */
	Grunning,	/* running user code, owns an M and a P */
	Gsyscall,	/* in a blocking call, owns an M, maybe not a P */
	Gwaiting,	/* parked; on some wait list, not on a run queue */
	Gdead,		/* unused: on a free list */
};

/* Why a goroutine is parked.  Names are Go's where Go has one. */
enum waitreason {
	waitReasonZero,
	waitReasonSleep,
	waitReasonSemacquire,
	waitReasonSyncMutexLock,
	waitReasonSyncRWMutexRLock,
	waitReasonSyncRWMutexLock,
	waitReasonSyncCondWait,
	waitReasonSyncWaitGroupWait,
	waitReasonChanReceive,
	waitReasonChanSend,
	waitReasonSelect,
	waitReasonIOWait,
	waitReasonPreempted,
	waitReasonGCWorkerIdle,
	waitReasonPark,
	waitReasonStopTheWorld,
	waitReasonChanReceiveNilChan,
	waitReasonChanSendNilChan,
	waitReasonSelectNoCases,
	waitReasonGarbageCollection,
	waitReasonFinalizerWait,
	waitReasonGCAssistWait,
	waitReasonMax,
};
extern const char *const waitreasonstrings[waitReasonMax];

/*
 * struct timer - one entry of a P's timer heap.  Owned by the P in @pp
 * while in the heap (idx >= 0); all fields are under pp->timerlock then.
 * @f runs on whichever M runs the P's timers, with no lock held.
 */
struct timer {
	int64_t when;
	int64_t period;		/* > 0: re-arm @period after @when */
	void (*f)(void *arg, uint64_t seq);
	void *arg;
	uint64_t seq;
	struct p * pp;
	int32_t idx;		/* heap index, -1 when not in a heap */
	bool sync;		/* deltimer() waits for a running callback */
	uint32_t running;	/* sync: callbacks running now (a count) */
};

/*
 * struct g - a goroutine.  Gs are packed in slabs apart from their stacks
 * (stack.c) and never freed.  ctx.sp == 0 means "never ran": execute()
 * gives it a stack (default size) and launches it on the empty stack.
 * stack_hi == 0: no stack (not started yet, or dead).
 */
struct g {
	struct gctx ctx;		/* saved sp; must stay first (asm) */
	uintptr_t stack_lo;		/* usable stack [stack_lo, stack_hi) */
	uintptr_t stack_hi;
	uintptr_t guard_lo;		/* guard pages [guard_lo, stack_lo) */
	size_t slot_size;		/* guard + stack */
	uintptr_t stacklow;		/* lowest sp seen: pages from here up may
					 * be resident (stack.c, stack shrinking) */
	int64_t goid;
	uint32_t status;	/* enum gstatus */
	uint8_t waitreason;		/* enum waitreason, while Gwaiting */
	bool preempt;			/* yield at the next preemption point */
	int64_t waitsince;		/* sched.coarsenow when parked */
	struct g *schedlink;		/* run queue / free list link */
	struct m *m;			/* M running it, NULL if not running */
	void (*fn)(void *);
	void *arg;
	uintptr_t gopc;			/* pc of the gort_go() call */
	int64_t parentgoid;
	/* Parking: sema.c and sync.c wait lists. */
	struct g *waitlink;
	void *waitaddr;
	uint32_t waitticket;
	int64_t acquiretime;
	bool ticket_handoff;		/* woken by a direct handoff */
	uint32_t parkstate;		/* gort_park: 0, 1 token, 2 parked */
	uint32_t selectdone;		/* a waker claimed this G's select */
	void *param;			/* the sudog that woke it (chan.c) */
	struct sudog *sudogcache;	/* chan.c: this G's spare sudogs */
	int32_t nsudogcache;
	bool timedout;
	bool gcstackdirty;		/* ran or readied since the GC scanned it */
	bool gcscanreq;			/* GC: scan your own stack (preemptcheck) */
	uint32_t gcscangen;		/* cycle it last scanned itself in */
	uint32_t shrinking;		/* GC is releasing its stack's unused part */
	bool system;			/* a runtime goroutine (GC, finalizers) */
	uintptr_t syscallsp;		/* in gort_syscall_enter: caller's sp */
	uintptr_t syscallregs[6];	/*   and callee-saved registers */
	struct timer timer;		/* gort_sleep() and timed waits */
#ifdef GORT_ASAN
	void *asan_fake_stack;
#endif
} __aligned(CACHELINE);

enum pstatus {
	Pidle,
	Prunning,
	Psyscall,
	Pgcstop,
	Pdead,
};

#define RUNQ_SIZE 256
#define GFREE_LOCAL_MAX 64
#define STACKCACHE 32

/*
 * struct p - a processor: the right to run Go code, with a local run
 * queue.  runqhead/runqtail/runq is a single-producer (the owner),
 * multi-consumer (stealers) lock-free ring; runnext is a CAS slot.
 * Everything else is owned by the M holding the P.
 */
struct p {
	int32_t id;
	uint32_t status;	/* enum pstatus */
	struct p *link;			/* idle list, under sched.lock */
	struct m *m;			/* owner, NULL when idle */
	struct m *handto;		/* last M startm() handed it to */
	uint32_t schedtick;	/* incremented on each schedule */
	uint32_t syscalltick;	/* incremented on each syscall */
	struct {			/* sysmon's view, sysmon only */
		uint32_t schedtick, syscalltick;
		int64_t schedwhen, syscallwhen;
	} sysmontick;

	int64_t goidcache, goidcacheend;
	int64_t ngoroutine;		/* goroutines created - exited here */

	int32_t gfreecnt;		/* dead Gs (default size: no stack), LIFO */
	struct g *gfree[GFREE_LOCAL_MAX];
	int32_t node;			/* heap (NUMA) node index */
	struct mcache *mcache;		/* the heap's per-P cache */
	struct gcwork *gcw;		/* mark assists' gray stack (gc.c) */
	int64_t stackinuse;		/* bytes of stacks attached here - detached */
	int32_t nstackcache;		/* free default-size stacks, LIFO */
	uintptr_t stackcache[STACKCACHE];

	struct lock timerlock;		/* guards timers */
	struct timer **timers;		/* min-heap on when */
	int32_t ntimers, ctimers;
	int64_t timer0when;	/* when of timers[0], 0 if none */

	uint32_t runqhead __aligned(CACHELINE);
	uint32_t runqtail;
	struct g * runnext;
	struct g *runq[RUNQ_SIZE];
} __aligned(CACHELINE);

enum mafter {			/* what g0 does after a goroutine switches away */
	mafterNone,
	mafterPark,		/* gopark: status Gwaiting, call unlockf */
	mafterYield,		/* gort_yield: to the global run queue */
	mafterPreempt,		/* preempted: to the global run queue */
	mafterExit,		/* goexit: free the G */
	mafterSyscall,		/* exitsyscall found no P: queue the G */
};

/*
 * struct m - an OS thread.  g0ctx is its scheduler context, running on
 * the thread's own stack; user goroutines switch to it to reschedule.
 */
struct m {
	struct gctx g0ctx;
	int64_t id;
	struct g *curg;
	struct p *p;			/* attached P, NULL if none */
	struct p *nextp;		/* P handed to this M by startm; atomic:
					 * a stop-the-world may take it back */
	struct p *oldp;			/* P before a syscall */
	struct m *schedlink;		/* idle list, under sched.lock */
	struct m *flightlink;		/* sched.mflight, under sched.lock */
	struct m *alllink;
	bool spinning;			/* looking for work, counted in nmspinning */
	bool stwspin;			/* stopped for a stop-the-world: spin
					 * for the restart before sleeping */
	bool inherit;			/* next execute inherits the time slice */
	bool kicknext;			/* a flagged G parked: runnext to the tail */
	struct g *resume;		/* run this G next (park cancelled) */
	struct note park;
	pid_t tid;
	pthread_t thread;
	int node;			/* heap node its CPUs are pinned to, -1 */
	uint32_t syscalltick;
	int locks;			/* >0: inside the runtime, no preemption */
	/* gopark's request, consumed on g0. */
	enum mafter after;
	bool (*waitunlockf)(struct g *gp, void *arg);
	void *waitlock;
	uint8_t waitreason;
	uint64_t fastrand;
	void *altstack;
	void *ring;			/* netpoll_uring.c: this thread's ring */
	uint32_t inpoll;		/* idle in the poller, not on its futex */
#ifdef GORT_ASAN
	void *g0_fake_stack;
	const void *g0_stack_bottom;
	size_t g0_stack_size;
#endif
};

/* struct gqueue - a growable ring of G pointers (proc.c: gq_*). */
struct gqueue {
	struct g **v;
	uint32_t head, n, cap;		/* cap: 0 or a power of two */
};

/*
 * struct schedt - global scheduler state.  Fields under lock are marked;
 * the counters read by sysmon and stealers without the lock are atomic.
 * Groups that different cores write at different rates sit on their own
 * cache lines: gort_go() reads npidle/nmspinning on every call and must
 * not miss because another P just took the lock or the global queue.
 */
struct schedt {
	struct lock lock __aligned(CACHELINE);
	struct m *midle;		/* lock: idle Ms */
	struct m *mflight;		/* lock: Ms waking up whose P a
					 * stop-the-world took (claimhandoff) */
	int32_t nmidle;			/* lock */
	int32_t mnext;			/* lock: next M id, = Ms created */
	struct p *pidle;		/* lock: idle Ps */
	struct gqueue runq;		/* lock: global run queue */
	int64_t ngoroutine_dead;	/* lock: counts of destroyed Ps */
	int32_t stopwait;		/* lock: Ps still to stop */

	int32_t npidle __aligned(CACHELINE);
	int32_t nmspinning;

	int32_t runqsize __aligned(CACHELINE);

	/* Read-mostly flags. */
	uint32_t gcwaiting __aligned(CACHELINE);	/* stop-the-world */
	uint32_t sysmonwait;	/* sysmon sleeps on sysmonnote */
	int64_t pollUntil;	/* when the timer-sleeping M wakes */
	bool exiting;		/* main returned: no deadlock checks */
	int32_t nwakers;		/* gort_external_wakers(): no deadlock checks */
	bool started;
	int64_t starttime;
	int64_t coarsenow;		/* nanotime(), refreshed by sysmon each
					 * round (<= 10 ms old while any P runs) */

	struct lock gflock __aligned(CACHELINE);	/* dead Gs no P wanted: */
	struct gqueue gfree;		/*   default stack size (no stack) */
	struct g *gfree_custom;		/*   other sizes, with their stacks */

	int64_t goidgen __aligned(CACHELINE);

	uint64_t nhandoff __aligned(CACHELINE);
	uint64_t nsteal, npreempt;

	int64_t worldstarted;		/* nanotime() startTheWorld restarted Ps */
	struct note stopnote;
	int32_t stwcpu;			/* the CPU stopTheWorld() runs on */
	int32_t nstwspin;		/* Ms in stwspin(), at most ncpu - 1 */
	struct note sysmonnote;
	struct note mainnote;
	int mainret;
};

extern struct schedt sched;
extern struct p *allp[GORT_MAXPROCS_LIMIT];
extern int32_t gomaxprocs;
extern struct m * allms;
extern size_t default_stack_size;
extern int ncpu;

struct m *getm(void);

/* xorshift64* on the M's state: fastrand() without the getm() call. */
static inline uint32_t fastrand_m(struct m *mp)
{
	uint64_t x = mp->fastrand;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	mp->fastrand = x;
	return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

static inline struct g *getg(void)
{
	struct m *mp = getm();

	return mp ? mp->curg : NULL;
}

/* Park the current goroutine; @unlockf(gp, lock) runs on g0 after the
 * switch and may return false to resume the goroutine at once. */
void gopark(bool (*unlockf)(struct g *, void *), void *lock,
	    enum waitreason reason);
void goparkunlock(struct lock *l, enum waitreason reason);
void gopark_m(struct m *mp, bool (*unlockf)(struct g *, void *), void *lock,
	      enum waitreason reason);
void goparkunlock_m(struct m *mp, struct lock *l, enum waitreason reason);
void goready(struct g *gp);
void wakep(void);
void preemptcheck(void);
void unpark_noyield(struct g *gp);
void park_reason(enum waitreason reason);
void syscall_enter_c(const uintptr_t *regs);
struct g *gosys(void (*fn)(void *), void *arg);
void stopTheWorld(const char *reason);
void startTheWorld(void);

/* Probe points: the scheduler transitions (Documentation/probes.rst). */
void gort_sched_newproc(struct g *newg, struct g *parent, struct p *pp);
void gort_sched_ready(struct g *gp, struct p *pp, bool next);
void gort_sched_execute(struct g *gp, struct m *mp, struct p *pp);
void gort_sched_park(struct g *gp, uint32_t reason);
void gort_sched_goexit(struct g *gp, struct p *pp);
void gort_sched_handoffp(struct p *pp, struct m *from);
void gort_sched_steal(struct p *pp, struct p *victim, uint32_t n);
void gort_sched_stopm(struct m *mp);
void gort_sched_startm(struct m *mp, struct p *pp, bool spinning);
void gort_sched_preempt(struct g *gp, struct p *pp);
void gort_sched_stw(const char *reason, uint32_t stop);

/* ---- stack.c ---- */

/*
 * allgs: every G ever created, in an append-only chunked array that
 * signal handlers may read without locks.
 */
size_t allglen(void);
struct g *allgat(size_t i);
#define for_each_g(i, gp) \
	for (size_t i = 0, __n = allglen(); i < __n && ((gp) = allgat(i)); i++)

void stack_init(void);
void stack_memstats(uint64_t *inuse, uint64_t *sys);
size_t stack_slotsize(size_t stack_size);
struct g *galloc_g(void);			/* new G, no stack yet */
struct g *stackalloc_g(size_t stack_size);	/* new G owning a stack */
int stack_attach(struct p *pp, struct g *gp);	/* default stack, first run */
void stack_detach(struct p *pp, struct g *gp);
void stack_pflush(struct p *pp);
bool stack_scavenge(void);
size_t stack_shrink(struct g *gp);		/* the GC, while marking */
void stack_shrink_wait(struct g *gp);		/* execute(), while marking */

/* A goroutine on its own stack notes how deep it went (stack_shrink). */
static inline void stack_note(struct g *gp, uintptr_t sp)
{
	if (sp < gp->stacklow && sp >= gp->stack_lo)
		gp->stacklow = sp;
}
bool stack_guard_contains(struct g *gp, uintptr_t addr);
int stack_guard_mode(void);

/* ---- time.c: per-P timer heaps ---- */

void addtimer(struct timer *t);
bool addtimer_nowake(struct timer *t);	/* true: caller must wakep() */
bool deltimer(struct timer *t);
int64_t checktimers(struct p *pp, int64_t now, bool *ran);
int64_t nexttimer(void);
int64_t when(int64_t ns);
void movetimers(struct p *to, struct p *from);

/* ---- sysmon.c ---- */

int sysmon_start(void);
void sysmon_wake(void);
void schedtrace(bool detailed);

/* ---- sema.c ---- */

void sema_init(void);
void semacquire1(uint32_t *addr, bool lifo, enum waitreason reason,
		 int64_t timeout_ns, bool *acquired);
void semrelease1(uint32_t *addr, bool handoff);
bool semtryacquire(uint32_t *addr);

#endif /* GORT_INTERNAL_H */
