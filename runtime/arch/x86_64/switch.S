/* SPDX-License-Identifier: MIT */
/*
 * switch.S (x86_64) - goroutine context switch.
 *
 * void gort_ctx_switch(struct gctx *from, struct gctx *to)
 *   Pushes the callee-saved registers and FP control state on the current
 *   stack, stores rsp in from->sp, loads to->sp and pops the same frame
 *   (struct gctx_frame in arch.h) from there.  The final ret resumes @to
 *   in its own gort_ctx_switch call, or in gort_ctx_start for a new one.
 */
	.text
	.globl	gort_ctx_switch
	.hidden	gort_ctx_switch
	.type	gort_ctx_switch, @function
	.p2align 4
gort_ctx_switch:
	.cfi_startproc
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
 * gort_ctx_start: entered by the ret above with r12 = fn, r13 = arg,
 * r14 = exit function, rbp = 0 and rsp 16-byte aligned.  The undefined
 * return address column makes unwinders stop here.
 */
	.globl	gort_ctx_start
	.hidden	gort_ctx_start
	.type	gort_ctx_start, @function
	.p2align 4
gort_ctx_start:
	.cfi_startproc
	.cfi_undefined rip
	movq	%r13, %rdi
	callq	*%r12
	callq	*%r14
	ud2
	.cfi_endproc
	.size	gort_ctx_start, .-gort_ctx_start

	.section .note.GNU-stack,"",@progbits
