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
	/*
	 * Restore MXCSR and the x87 control word only if they differ: the
	 * loads are slow (serializing-ish) and almost never needed.  The
	 * current values are in the frame we just saved on the old stack.
	 */
	movq	(%rdi), %rax
	movl	(%rax), %ecx
	cmpl	(%rsp), %ecx
	jne	1f
2:	movzwl	4(%rax), %ecx
	cmpw	4(%rsp), %cx
	jne	3f
4:	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
1:	ldmxcsr	(%rsp)
	jmp	2b
3:	fldcw	4(%rsp)
	jmp	4b
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

/*
 * void gort_syscall_enter(void)
 *   Pushes the callee-saved registers (still the caller's values) and
 *   calls syscall_enter_c(regs) with their address, regs[0..5] = r15,
 *   r14, r13, r12, rbx, rbp; regs + 7 is the caller's stack pointer after
 *   the call.  The collector scans them while the goroutine is out.
 */
	.globl	gort_syscall_enter
	.type	gort_syscall_enter, @function
	.p2align 4
gort_syscall_enter:
	.cfi_startproc
	pushq	%rbp
	.cfi_def_cfa_offset 16
	.cfi_offset rbp, -16
	movq	%rsp, %rbp
	.cfi_def_cfa_register rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rdi
	subq	$8, %rsp
	call	syscall_enter_c
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	.cfi_def_cfa rsp, 8
	ret
	.cfi_endproc
	.size	gort_syscall_enter, .-gort_syscall_enter

	.section .note.GNU-stack,"",@progbits
