/* SPDX-License-Identifier: MIT */
/*
 * switch.S (x86_64) - goroutine context switch.
 *
 * void gort_ctx_switch(struct gctx *from, struct gctx *to)
 *   Pushes the callee-saved registers and FP control state on the current
 *   stack, stores rsp in from->sp, loads to->sp and pops the same frame
 *   (struct gctx_frame in arch.h) from there.  The final ret resumes @to
 *   in its own gort_ctx_switch (or gort_ctx_launch) call.
 */
/* Push what a callee must preserve, and store rsp into from->sp (rdi). */
.macro SAVE_CONTEXT
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
.endm

	.text
	.globl	gort_ctx_switch
	.hidden	gort_ctx_switch
	.type	gort_ctx_switch, @function
	.p2align 4
gort_ctx_switch:
	.cfi_startproc
	SAVE_CONTEXT
	movq	(%rsi), %rsp
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	gort_ctx_switch, .-gort_ctx_switch

/*
 * void gort_ctx_launch(struct gctx *from, uintptr_t top, void (*fn)(void *),
 *			void *arg)
 *   Saves the current context exactly as gort_ctx_switch does, then calls
 *   fn(arg) on the empty stack at @top with rbp = 0, which ends the
 *   frame-pointer chain for tracebacks.  fn never returns.
 */
	.globl	gort_ctx_launch
	.hidden	gort_ctx_launch
	.type	gort_ctx_launch, @function
	.p2align 4
gort_ctx_launch:
	.cfi_startproc
	SAVE_CONTEXT
	movq	%rsi, %rsp
	.cfi_undefined rip
	xorl	%ebp, %ebp
	movq	%rcx, %rdi
	callq	*%rdx
	ud2
	.cfi_endproc
	.size	gort_ctx_launch, .-gort_ctx_launch

	.section .note.GNU-stack,"",@progbits
