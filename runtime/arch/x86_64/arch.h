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

/*
 * Save the current context into @from, then call fn(arg) on a fresh stack
 * whose top is @top (16-byte aligned).  fn must never return.  A new
 * goroutine starts this way, so creating one writes nothing to its stack.
 */
void gort_ctx_launch(struct gctx *from, uintptr_t top, void (*fn)(void *), void *arg);

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
