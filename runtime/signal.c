// SPDX-License-Identifier: MIT
/*
 * signal.c - the signals the runtime owns.
 *
 * SIGSEGV/SIGBUS: every M runs its handlers on an alternate signal stack,
 * so a goroutine that overflows into its guard pages can still be
 * reported: "fatal error: stack overflow" with the goroutine's traceback,
 * exit status 2 (as Go).  Faults that are not stack overflows go to the
 * handler that was installed before ours (a sanitizer's, or the default
 * action, so the process dumps core as a C programmer expects).
 *
 * SIGQUIT: "SIGQUIT: quit", then every goroutine with its state, wait
 * reason, time waited and backtrace, then exit status 2 (Go's behaviour).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "internal.h"

#define ALTSTACK_SIZE (64 << 10)

static struct sigaction oldsegv, oldbus;

static void ucontext_pc_fp(void *uc, uintptr_t *pc, uintptr_t *fp)
{
	mcontext_t *mc = &((ucontext_t *)uc)->uc_mcontext;

	*pc = (uintptr_t)mc->gregs[REG_RIP];
	*fp = (uintptr_t)mc->gregs[REG_RBP];
}

static void sigsegv(int sig, siginfo_t *si, void *uc)
{
	struct m *mp = getm();
	struct g *gp = mp ? mp->curg : NULL;
	uintptr_t addr = (uintptr_t)si->si_addr, pc, fp;
	struct sigaction *old = sig == SIGBUS ? &oldbus : &oldsegv;

	if (gp && stack_guard_contains(gp, addr)) {
		ucontext_pc_fp(uc, &pc, &fp);
		printf_raw("runtime: goroutine %lld stack overflow: stack exceeds %zu-byte limit\n"
			   "runtime: fault address %#lx, stack=[%#lx, %#lx]\n"
			   "fatal error: stack overflow\n\n",
			   (long long)gp->goid, (size_t)(gp->stack_hi - gp->stack_lo),
			   (unsigned long)addr, (unsigned long)gp->stack_lo,
			   (unsigned long)gp->stack_hi);
		tracebackall(mp, pc, fp);
		_exit(2);
	}
	/* Not ours: chain to the previous handler, else the default action. */
	if (old->sa_flags & SA_SIGINFO && old->sa_sigaction) {
		old->sa_sigaction(sig, si, uc);
		return;
	}
	if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN && old->sa_handler) {
		old->sa_handler(sig);
		return;
	}
	if (gp) {
		ucontext_pc_fp(uc, &pc, &fp);
		printf_raw("unexpected signal %d (%s) at address %#lx in goroutine %lld\n\n", sig,
			   strsignal(sig), (unsigned long)addr, (long long)gp->goid);
		tracebackall(mp, pc, fp);
	}
	signal(sig, SIG_DFL);	/* re-fault into the default action */
}

static void sigquit(int sig, siginfo_t *si, void *uc)
{
	struct m *mp = getm();
	uintptr_t pc, fp;

	(void)sig, (void)si;
	ucontext_pc_fp(uc, &pc, &fp);
	printf_raw("SIGQUIT: quit\nPC=%#lx m=%lld\n\n", (unsigned long)pc,
		   mp ? (long long)mp->id : -1LL);
	tracebackall(mp, mp && mp->curg ? pc : 0, fp);
	_exit(2);
}

void signals_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sa.sa_sigaction = sigsegv;
	sigaction(SIGSEGV, &sa, &oldsegv);
	sigaction(SIGBUS, &sa, &oldbus);
	sa.sa_sigaction = sigquit;
	sigaction(SIGQUIT, &sa, NULL);
}

/* Per-M set-up on the new thread: the alternate signal stack. */
void signals_minit(struct m *mp)
{
	stack_t ss;

	mp->altstack = sysmap(ALTSTACK_SIZE);
	if (!mp->altstack)
		throw("signals_minit: no memory for the signal stack");
	ss.ss_sp = mp->altstack;
	ss.ss_size = ALTSTACK_SIZE;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL))
		throw("sigaltstack failed");
}
