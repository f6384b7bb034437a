/* SPDX-License-Identifier: MIT */
/*
 * gort/sched.h - goroutines and the scheduler.
 *
 * A program hands its main function to gort_main(); from then on any
 * goroutine may start others with gort_go().  Goroutines are multiplexed
 * onto OS threads (Ms) by GOMAXPROCS processors (Ps), as in Go.
 *
 * Thread-local storage and errno: a goroutine may resume on another OS
 * thread after any call that can park it (every gort_* call that blocks,
 * yields or sleeps, and gort_syscall_exit()).  Never keep the *address* of
 * a __thread variable, or of errno, across such a call: compilers cache
 * both (errno is *__errno_location(), declared const), so read errno right
 * after the failing call, before any gort_* call.  Documentation/sched.rst
 * spells out the rule.
 */
#ifndef GORT_SCHED_H
#define GORT_SCHED_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * struct gort_opts - options for gort_main()
 * @sz: sizeof(struct gort_opts), for forward/backward compatibility
 * @maxprocs: number of Ps; 0 = $GORT_MAXPROCS, else the CPUs the process
 *	may use (affinity mask and cgroup CPU quota)
 * @stack_size: usable stack bytes of each goroutine; 0 = $GORT_STACKSIZE,
 *	else 256 KiB.  Rounded up to the page size.  Stacks never move: this
 *	is a hard limit, and overflowing it is a fatal "stack overflow".
 * @main_stack_size: usable stack of the main goroutine; 0 = 8 MiB
 */
struct gort_opts {
	size_t sz;
	int maxprocs;
	size_t stack_size;
	size_t main_stack_size;
	size_t :0;
};
#define gort_opts__last_field main_stack_size

/**
 * struct gort_go_opts - options for gort_go_opts()
 * @sz: sizeof(struct gort_go_opts)
 * @stack_size: usable stack bytes for this goroutine; 0 = the default
 */
struct gort_go_opts {
	size_t sz;
	size_t stack_size;
	size_t :0;
};
#define gort_go_opts__last_field stack_size

/**
 * gort_main() - start the runtime and run @fn(@arg) as goroutine 1
 * @fn: the main goroutine
 * @arg: its argument
 * @opts: NULL for defaults
 *
 * Blocks the calling thread (which never runs goroutines) until @fn
 * returns, then returns @fn's value.  As in Go, other goroutines are not
 * waited for: they keep running until the caller exits the process.  The
 * runtime starts once per process.
 *
 * Return: @fn's return value, or -EINVAL for bad @opts, -EBUSY if the
 * runtime was already started (or failed to start: it is not retried),
 * -EAGAIN if its threads could not be created, -ENOMEM if the main
 * goroutine's stack could not be reserved.
 */
int gort_main(int (*fn)(void *arg), void *arg, const struct gort_opts *opts);

/**
 * gort_go() - start a goroutine running @fn(@arg)
 *
 * Must be called from a goroutine.  The new goroutine is put in the
 * caller's P's runnext slot, as Go does.
 *
 * Return: the new goroutine's id (> 0), or -ENOMEM if no G (or, for a
 * custom size, no stack) could be reserved; errno is not touched.  A
 * default-size stack is taken when the goroutine first runs: failing then
 * is a fatal "out of memory", as in Go.
 */
int64_t gort_go(void (*fn)(void *arg), void *arg);

/** gort_go_opts() - gort_go() with options; NULL @opts = defaults. */
int64_t gort_go_opts(void (*fn)(void *arg), void *arg,
		     const struct gort_go_opts *opts);

/*
 * Park and unpark, the cheapest way to block and wake one goroutine (as
 * Java's LockSupport or Rust's thread::park): each goroutine has one
 * wake-up token.  gort_unpark() makes the token available and readies the
 * goroutine if it is parked; gort_park() consumes the token, or parks
 * until one arrives.  Returns can be spurious (a handle may outlive its
 * goroutine and reach the next one to reuse it): park in a loop that
 * re-checks the condition.
 */
struct gort_g;

/** gort_self() - handle of the calling goroutine, for gort_unpark(). */
struct gort_g *gort_self(void);

/** gort_park() - wait for the calling goroutine's wake-up token. */
void gort_park(void);

/** gort_unpark() - give @g its wake-up token; ready it if parked.  May be
 * called from any thread, including ones that are not goroutines. */
void gort_unpark(struct gort_g *g);

/** gort_yield() - put the calling goroutine at the back of the run queue
 * and run another (Go's runtime.Gosched). */
void gort_yield(void);

/** gort_maybe_yield() - yield only if the scheduler asked this goroutine to
 * (it ran > 10 ms, or the world is being stopped).  A cheap check for long
 * loops that make no other preemption point: preemption is cooperative,
 * see "Preemption points" in Documentation/sched.rst. */
void gort_maybe_yield(void);

/** gort_exit() - end the calling goroutine (Go's runtime.Goexit). */
void gort_exit(void) __attribute__((noreturn));

/** gort_goid() - id of the calling goroutine; 0 outside a goroutine. */
int64_t gort_goid(void);

/** gort_num_goroutine() - goroutines that exist now (Go's
 * runtime.NumGoroutine); approximate while they are being created. */
int gort_num_goroutine(void);

/** gort_num_cpu() - CPUs this process may use (affinity mask and cgroup
 * CPU quota), as used for the default GOMAXPROCS. */
int gort_num_cpu(void);

/**
 * gort_maxprocs() - get or set GOMAXPROCS
 * @n: new number of Ps (1..GORT_MAXPROCS_LIMIT), or <= 0 to only query
 *
 * Changing it stops the world: every running goroutine must reach a gort
 * call first.
 * Return: the previous value, or -EINVAL if @n is too large.
 */
int gort_maxprocs(int n);
#define GORT_MAXPROCS_LIMIT 256

/** gort_nanotime() - CLOCK_MONOTONIC in nanoseconds. */
int64_t gort_nanotime(void);

/**
 * gort_sleep() - park the calling goroutine for at least @ns nanoseconds
 *
 * The thread runs other goroutines meanwhile; @ns <= 0 just yields.
 */
void gort_sleep(int64_t ns);

/**
 * gort_syscall_enter() - the calling goroutine is about to block in the
 * kernel (or in any long call that makes no gort call)
 *
 * Its P stays attached for a few microseconds; if the call takes longer,
 * sysmon hands the P to another thread so other goroutines keep running
 * (Go's entersyscall).  Between enter and exit make no gort call.
 */
void gort_syscall_enter(void);

/** gort_syscall_exit() - the blocking call returned; reacquire a P, which
 * may park the goroutine until one is free (Go's exitsyscall).  Preserves
 * errno for the caller. */
void gort_syscall_exit(void);

/* GORT_BLOCKING(expr) - evaluate a blocking expression between
 * gort_syscall_enter() and gort_syscall_exit(); errno survives. */
#define GORT_BLOCKING(expr) __extension__({		\
	__typeof__(expr) __gort_r;			\
	gort_syscall_enter();				\
	__gort_r = (expr);				\
	gort_syscall_exit();				\
	__gort_r;					\
})

/**
 * gort_external_wakers() - declare threads outside the runtime that may
 * wake goroutines (gort_unpark, gort_sema_release, ...)
 * @delta: +1 when such a thread starts, -1 when it is done
 *
 * The runtime reports "all goroutines are asleep - deadlock!" when no
 * goroutine, thread in a syscall or timer can wake the others.  It cannot
 * see plain threads: while this count is positive, it assumes they may.
 * Return: the new count.
 */
int gort_external_wakers(int delta);

/**
 * struct gort_sched_stats - scheduler counters, for tests and tools
 * @handoffs: Ps taken from threads blocked in a syscall by sysmon
 * @steals: successful work-stealing runs (each takes half a run queue)
 * @preempt_requests: goroutines flagged for running over 10 ms
 * @threads: OS threads (Ms) created
 * @idle_threads: Ms asleep now
 * @guard_mode: 1 = MADV_GUARD_INSTALL guard pages, 2 = mprotect fallback
 */
struct gort_sched_stats {
	size_t sz;
	uint64_t handoffs;
	uint64_t steals;
	uint64_t preempt_requests;
	int threads;
	int idle_threads;
	int guard_mode;
	size_t :0;
};

/** gort_sched_stats() - fill @st (set st->sz first); 0 or -EINVAL. */
int gort_sched_stats(struct gort_sched_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* GORT_SCHED_H */
