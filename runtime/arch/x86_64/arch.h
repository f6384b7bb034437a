/* SPDX-License-Identifier: MIT */
/*
 * arch.h (x86_64) - context switch and the raw syscall boundary.
 *
 * A switch saves only what the SysV ABI says a callee preserves: rbx, rbp,
 * r12-r15, the stack pointer, MXCSR and the x87 control word.  Everything
 * else is dead across the call to gort_ctx_switch() by the calling
 * convention, so the switch is a dozen instructions and no system call.
 */
#ifndef GORT_ARCH_H
#define GORT_ARCH_H

#include <stdint.h>

/* struct gctx - a suspended context: everything else is on its stack. */
struct gctx {
	uintptr_t sp;
};

/*
 * Frame at ctx->sp of a suspended context, lowest address first.  The
 * traceback reads rbp and the return pc from it.
 */
struct gctx_frame {
	uint32_t mxcsr;
	uint16_t fpucw;
	uint16_t pad;
	uintptr_t r15, r14, r13, r12, rbx, rbp;
	uintptr_t pc;
};

/* Save the current context into @from and resume @to. */
void gort_ctx_switch(struct gctx *from, struct gctx *to);

/* First code a new goroutine runs: calls r12(r13), then r14 (exit). */
void gort_ctx_start(void);

/* Build @ctx so that switching to it calls fn(arg) on the stack ending
 * at @top, then exitfn(), which must not return. */
static inline void gctx_init(struct gctx *ctx, uintptr_t top,
			     void (*fn)(void *), void *arg, void (*exitfn)(void))
{
	struct gctx_frame *f;
	uintptr_t sp = top & ~(uintptr_t)15;

	/* gort_ctx_start is entered by ret with rsp 16-byte aligned. */
	sp -= sizeof(*f);
	f = (struct gctx_frame *)sp;
	__asm__ volatile("stmxcsr %0; fnstcw %1" : "=m"(f->mxcsr), "=m"(f->fpucw));
	f->pad = 0;
	f->r15 = 0;
	f->r14 = (uintptr_t)exitfn;
	f->r13 = (uintptr_t)arg;
	f->r12 = (uintptr_t)fn;
	f->rbx = 0;
	f->rbp = 0;		/* ends the frame-pointer chain */
	f->pc = (uintptr_t)gort_ctx_start;
	ctx->sp = sp;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static inline uintptr_t arch_frame_address(void)
{
	return (uintptr_t)__builtin_frame_address(0);
}

/* Raw system calls: 0/positive or -errno; errno is never touched. */
static inline long rawsyscall6(long n, long a1, long a2, long a3, long a4,
			       long a5, long a6)
{
	long ret;
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10),
			   "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define rawsyscall(n, a1, a2, a3) rawsyscall6(n, (long)(a1), (long)(a2), (long)(a3), 0, 0, 0)

#endif /* GORT_ARCH_H */
