/* SPDX-License-Identifier: MIT */
/*
 * Description: a goroutine blocked in a system call does not stall the
 * others (sysmon hands its P to another thread).
 *
 * - handoff_1p: with one P, a goroutine blocks reading an empty pipe
 *   inside GORT_BLOCKING().  The main goroutine (sleeping meanwhile) and a
 *   writer it then starts can only run if the P is handed off; the writer
 *   unblocks the reader.  The reader polls with a 5 s timeout, so a
 *   missing hand-off fails instead of hanging.  gort_sched_stats()
 *   .handoffs must have grown.
 * - enter_exit_1p: the same with explicit gort_syscall_enter/exit and
 *   eight readers blocked at once, which needs eight threads.
 * - errno_preserved: GORT_BLOCKING() and gort_syscall_exit() preserve errno.
 * - fast_calls: 100,000 short system calls between enter and exit.
 */
#include "../gort_test.h"

#define BLOCK_LIMIT_MS	5000

struct reader {
	int fd;
	int got;		/* bytes read, or -errno */
	bool timed_out;
	int64_t blocked_at;	/* when it entered the blocking call */
	uint32_t *done;
	bool explicit_calls;	/* gort_syscall_enter/exit vs GORT_BLOCKING */
};

/* Block until @fd is readable (or the escape), then read one byte. */
static int wait_read(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&pfd, 1, BLOCK_LIMIT_MS) == 0)
		return -ETIMEDOUT;
	return read(fd, &c, 1) == 1 ? 1 : -errno;
}

static void reader(void *arg)
{
	struct reader *r = arg;

	r->blocked_at = gort_nanotime();
	if (r->explicit_calls) {
		gort_syscall_enter();
		r->got = wait_read(r->fd);
		gort_syscall_exit();
	} else {
		r->got = GORT_BLOCKING(wait_read(r->fd));
	}
	r->timed_out = r->got == -ETIMEDOUT;
	gort_sema_release(r->done);
}

struct writer {
	int fd;
	atomic_int ran;
	int64_t ran_at;
};

static void writer(void *arg)
{
	struct writer *w = arg;

	w->ran_at = gort_nanotime();
	atomic_store(&w->ran, 1);
	GCHECK_EQ(write(w->fd, "x", 1), 1);
}

struct handoff {
	int pipe[2];
	struct reader r;
	struct writer w;
	uint32_t done;
	struct gort_sched_stats before, after;
};

static int handoff_main(void *arg)
{
	struct handoff *h = arg;

	GCHECK(gt_stats(&h->before));
	h->r.fd = h->pipe[0];
	h->r.done = &h->done;
	h->w.fd = h->pipe[1];
	GCHECK(gort_go(reader, &h->r) > 0);
	/* Our only P runs the reader now, which blocks in the kernel. */
	gort_sleep(20 * GT_MS);
	GCHECK(gort_go(writer, &h->w) > 0);
	gt_sema_wait(&h->done, 1, 2 * BLOCK_LIMIT_MS);
	GCHECK(gt_stats(&h->after));
	return 0;
}

TEST(handoff_1p)
{
	struct handoff h = { 0 };

	ASSERT_EQ(0, pipe(h.pipe));
	ASSERT_EQ(0, gt_run(handoff_main, &h, 1));
	ASSERT_EQ(0, gt_failed());
	ASSERT_FALSE(h.r.timed_out);
	ASSERT_EQ(1, h.r.got);
	ASSERT_EQ(1, atomic_load(&h.w.ran));
	/* The writer ran while the reader was blocked, not before. */
	ASSERT_GT(h.w.ran_at, h.r.blocked_at);
	TH_LOG("handoffs %llu -> %llu",
	       (unsigned long long)h.before.handoffs,
	       (unsigned long long)h.after.handoffs);
	ASSERT_GT(h.after.handoffs, h.before.handoffs);
}

#define NR_READERS	8

struct many {
	int pipes[NR_READERS][2];
	struct reader r[NR_READERS];
	uint32_t done;
	atomic_int others;
	struct gort_sched_stats st;
};

static void counter(void *arg)
{
	struct many *m = arg;

	atomic_fetch_add(&m->others, 1);
}

static int many_main(void *arg)
{
	struct many *m = arg;
	int i;

	for (i = 0; i < NR_READERS; i++) {
		m->r[i].fd = m->pipes[i][0];
		m->r[i].done = &m->done;
		m->r[i].explicit_calls = true;
		GCHECK(gort_go(reader, &m->r[i]) > 0);
		/* Let it block before starting the next one. */
		gort_sleep(5 * GT_MS);
	}
	/* All readers are blocked: plain goroutines still run. */
	for (i = 0; i < 100; i++)
		GCHECK(gort_go(counter, m) > 0);
	GT_WAIT_UNTIL(atomic_load(&m->others) == 100, 2000);
	for (i = 0; i < NR_READERS; i++)
		GCHECK_EQ(write(m->pipes[i][1], "x", 1), 1);
	gt_sema_wait(&m->done, NR_READERS, 2 * BLOCK_LIMIT_MS);
	GCHECK(gt_stats(&m->st));
	return 0;
}

TEST(enter_exit_1p)
{
	struct many m = { 0 };
	int i;

	for (i = 0; i < NR_READERS; i++)
		ASSERT_EQ(0, pipe(m.pipes[i]));
	ASSERT_EQ(0, gt_run(many_main, &m, 1));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(100, atomic_load(&m.others));
	for (i = 0; i < NR_READERS; i++) {
		EXPECT_FALSE(m.r[i].timed_out);
		EXPECT_EQ(1, m.r[i].got);
	}
	/* One thread per blocked reader, plus one to run the rest. */
	ASSERT_GE(m.st.threads, NR_READERS + 1);
	ASSERT_GE(m.st.handoffs, (uint64_t)NR_READERS);
}

struct err {
	int pipe[2];
	int ret1, err1, ret2, err2;
};

/*
 * errno as the thread we are on now has it: a plain "errno" after a call
 * that may have moved us to another thread can use the TLS address the
 * compiler computed before the call (Documentation/sched.rst, "Threads,
 * TLS and errno"), and the GC's stop-the-world makes such moves common.
 */
static __attribute__((noinline)) int fresh_errno(void)
{
	__asm__ volatile("" ::: "memory");
	return errno;
}

static int errno_main(void *arg)
{
	struct err *e = arg;
	char c;

	/* Empty non-blocking pipe: EAGAIN. */
	errno = 0;
	e->ret1 = GORT_BLOCKING(read(e->pipe[0], &c, 1));
	e->err1 = fresh_errno();

	errno = 0;
	gort_syscall_enter();
	e->ret2 = close(-1);
	gort_syscall_exit();
	e->err2 = fresh_errno();
	return 0;
}

TEST(errno_preserved)
{
	struct err e = { 0 };

	ASSERT_EQ(0, pipe2(e.pipe, O_NONBLOCK));
	ASSERT_EQ(0, gt_run(errno_main, &e, 1));
	ASSERT_EQ(-1, e.ret1);
	ASSERT_EQ(EAGAIN, e.err1);
	ASSERT_EQ(-1, e.ret2);
	ASSERT_EQ(EBADF, e.err2);
}

#define NR_FAST		100000

struct fast {
	atomic_long calls;
	uint32_t done;
};

static void fast_caller(void *arg)
{
	struct fast *f = arg;
	int i;

	for (i = 0; i < NR_FAST / 4; i++) {
		pid_t pid = GORT_BLOCKING(getppid());

		if (!GCHECK(pid > 0))
			break;
		atomic_fetch_add(&f->calls, 1);
	}
	gort_sema_release(&f->done);
}

static int fast_main(void *arg)
{
	struct fast *f = arg;
	int i;

	for (i = 0; i < 4; i++)
		GCHECK(gort_go(fast_caller, f) > 0);
	gt_sema_wait(&f->done, 4, 20000);
	return 0;
}

TEST(fast_calls)
{
	struct fast f = { 0 };

	ASSERT_EQ(0, gt_run(fast_main, &f, 2));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(NR_FAST, atomic_load(&f.calls));
}

TEST_HARNESS_MAIN
