// SPDX-License-Identifier: MIT
/*
 * traceback.c - fatal errors and goroutine tracebacks.
 *
 * Tracebacks follow the frame-pointer chain (the runtime and the programs
 * using it are built with -fno-omit-frame-pointer), bounded by the
 * goroutine's stack, so a corrupt chain ends the walk instead of faulting.
 * A parked goroutine is walked from the frame its context switch saved;
 * a goroutine running on another thread cannot be walked safely and is
 * reported as such, as Go does ("goroutine running on other thread;
 * stack unavailable").  Symbols come from each module's own ELF symbol
 * table (symtab.c), static functions included, so no -rdynamic is needed;
 * every frame also prints module+offset for addr2line.
 *
 * Output goes straight to fd 2 with write(): no stdio locks, usable from
 * signal handlers and with the runtime in any state.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define MAXFRAMES 64

const char *const waitreasonstrings[waitReasonMax] = {
	[waitReasonZero] = "",
	[waitReasonSleep] = "sleep",
	[waitReasonSemacquire] = "semacquire",
	[waitReasonSyncMutexLock] = "sync.Mutex.Lock",
	[waitReasonSyncRWMutexRLock] = "sync.RWMutex.RLock",
	[waitReasonSyncRWMutexLock] = "sync.RWMutex.Lock",
	[waitReasonSyncCondWait] = "sync.Cond.Wait",
	[waitReasonSyncWaitGroupWait] = "sync.WaitGroup.Wait",
	[waitReasonChanReceive] = "chan receive",
	[waitReasonChanSend] = "chan send",
	[waitReasonSelect] = "select",
	[waitReasonIOWait] = "IO wait",
	[waitReasonPreempted] = "preempted",
	[waitReasonGCWorkerIdle] = "GC worker (idle)",
	[waitReasonPark] = "park",
	[waitReasonStopTheWorld] = "stop the world",
	[waitReasonChanReceiveNilChan] = "chan receive (nil chan)",
	[waitReasonChanSendNilChan] = "chan send (nil chan)",
	[waitReasonSelectNoCases] = "select (no cases)",
	[waitReasonGarbageCollection] = "garbage collection",
	[waitReasonFinalizerWait] = "finalizer wait",
	[waitReasonGCAssistWait] = "GC assist wait",
};

static const char *const gstatusstrings[] = {
	[Gidle] = "idle",
	[Grunnable] = "runnable",
	[Grunning] = "running",
	[Gsyscall] = "syscall",
	[Gwaiting] = "waiting",
	[Gdead] = "dead",
};

void printf_raw(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	if (n > 0 && write(2, buf, (size_t)n) < 0)
		return;
}

static void printpc(int i, uintptr_t pc)
{
	const char *name, *mod, *base;
	uintptr_t off, modoff;

	/* pc - 1: a return address may be past the end of its function. */
	if (!symbolize(pc - 1, &name, &off, &mod, &modoff)) {
		printf_raw("  #%-2d %#014lx in ??\n", i, (unsigned long)pc);
		return;
	}
	base = strrchr(mod, '/');
	base = base ? base + 1 : mod;
	printf_raw("  #%-2d %#014lx in %s+%#lx (%s+%#lx)\n", i, (unsigned long)pc,
		   name ? name : "??", (unsigned long)(name ? off + 1 : 0), base,
		   (unsigned long)(modoff + 1));
}

/* Walk the frame-pointer chain from (pc, fp) within [lo, hi). */
static void traceback1(uintptr_t pc, uintptr_t fp, uintptr_t lo, uintptr_t hi)
{
	int i;

	printpc(0, pc);
	for (i = 1; i < MAXFRAMES; i++) {
		uintptr_t next;

		if (fp < lo || fp + 16 > hi || (fp & 7))
			return;
		pc = ((uintptr_t *)fp)[1];
		next = ((uintptr_t *)fp)[0];
		if (!pc)
			return;
		printpc(i, pc);
		if (next <= fp)
			return;
		fp = next;
	}
	printf_raw("  ...additional frames elided...\n");
}

static void gheader(struct g *gp, int64_t now)
{
	uint32_t st = atomic_load(&gp->status);
	const char *what = st < ARRAY_SIZE(gstatusstrings) ? gstatusstrings[st] : "?";

	if (st == Gwaiting) {
		int64_t waited = now - gp->waitsince;

		what = gp->waitreason < waitReasonMax ? waitreasonstrings[gp->waitreason] : "?";
		if (waited >= 60LL * 1000000000)
			printf_raw("goroutine %lld [%s, %lld minutes]:\n", (long long)gp->goid, what,
				   (long long)(waited / 60000000000LL));
		else
			printf_raw("goroutine %lld [%s, %lld ms]:\n", (long long)gp->goid, what,
				   (long long)(waited / 1000000));
		return;
	}
	printf_raw("goroutine %lld [%s]:\n", (long long)gp->goid, what);
}

static void gcreatedby(struct g *gp)
{
	const char *name = NULL, *mod;
	uintptr_t off, modoff;

	if (!gp->gopc || !gp->parentgoid)
		return;
	if (symbolize(gp->gopc - 1, &name, &off, &mod, &modoff) && name)
		printf_raw("created by %s+%#lx in goroutine %lld\n", name, (unsigned long)(off + 1),
			   (long long)gp->parentgoid);
	else
		printf_raw("created by %#lx in goroutine %lld\n", (unsigned long)gp->gopc,
			   (long long)gp->parentgoid);
}

/*
 * tracebackall() - print the current goroutine from (pc, fp), if any, then
 * every other live goroutine.
 */
void tracebackall(struct m *curm, uintptr_t pc, uintptr_t fp)
{
	struct g *cur = curm ? curm->curg : NULL, *gp;
	int64_t now = nanotime();

	if (cur) {
		gheader(cur, now);
		traceback1(pc, fp, cur->stack_lo, cur->stack_hi);
		gcreatedby(cur);
		printf_raw("\n");
	} else if (pc) {
		printf_raw("goroutine 0 [%s]:\n", curm ? "scheduler" : "non-gort thread");
		traceback1(pc, fp, fp, fp + (1 << 20));
		printf_raw("\n");
	}
	for_each_g(i, gp) {
		uint32_t st = atomic_load(&gp->status);

		if (gp == cur || st == Gidle || st == Gdead)
			continue;
		gheader(gp, now);
		if (st == Gwaiting || st == Grunnable) {
			struct gctx_frame *f = (struct gctx_frame *)gp->ctx.sp;

			if (!gp->ctx.sp)
				printf_raw("\tnot started yet\n");
			else if (gp->ctx.sp >= gp->stack_lo && gp->ctx.sp + sizeof(*f) <= gp->stack_hi)
				traceback1(f->pc, f->rbp, gp->stack_lo, gp->stack_hi);
		} else {
			printf_raw("\tgoroutine running on other thread; stack unavailable\n");
		}
		gcreatedby(gp);
		printf_raw("\n");
	}
}

static int dying;

static void __noreturn die(const char *msg, bool isthrow)
{
	struct m *mp = getm();

	/* A second fatal error while printing the first: just exit. */
	if (atomic_fetch_add(&dying, 1))
		_exit(2);
	if (isthrow)
		printf_raw("runtime: internal error\n");
	printf_raw("fatal error: %s\n\n", msg);
	/* Start at our caller: its pc, and its frame (our saved rbp). */
	tracebackall(mp, (uintptr_t)__builtin_return_address(0),
		     *(uintptr_t *)__builtin_frame_address(0));
	_exit(2);
}

static __noreturn void panicmsg(const char *msg, uintptr_t pc, uintptr_t fp)
{
	printf_raw("panic: %s\n\n", msg);
	tracebackall(getm(), pc, fp);
	_exit(2);
}

/* Tracebacks start at our caller: its pc, and its frame (our saved rbp). */
void gopanic(const char *msg)
{
	panicmsg(msg, (uintptr_t)__builtin_return_address(0),
		 *(uintptr_t *)__builtin_frame_address(0));
}

void gopanicf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	panicmsg(buf, (uintptr_t)__builtin_return_address(0),
		 *(uintptr_t *)__builtin_frame_address(0));
}

void throw(const char *msg)
{
	die(msg, true);
}

void fatal(const char *msg)
{
	die(msg, false);
}

void fatalf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	die(buf, false);
}
