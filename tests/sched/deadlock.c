/* SPDX-License-Identifier: MIT */
/*
 * Description: a program whose goroutines are all blocked dies with Go's
 * "fatal error: all goroutines are asleep - deadlock!" and exit code 2.
 *
 * Each case runs the runtime in a forked child and checks its stderr and
 * exit status.  Deadlocks: the main goroutine on a semaphore nobody
 * releases, on a mutex it already holds, on a WaitGroup nobody finishes,
 * and with other goroutines parked on a Cond too.  Not deadlocks (the
 * child must exit 0 without the message): a goroutine that is sleeping
 * and will release the semaphore, and one blocked in a system call that
 * will.  Each on 1 and 2 Ps.
 */
#include "../gort_test.h"

#define DEADLOCK_MSG	"fatal error: all goroutines are asleep - deadlock!"

enum kind {
	SEMA,		/* main: sema_acquire, nobody releases */
	SELF_LOCK,	/* main: lock a mutex it holds */
	WAITGROUP,	/* main: wait, counter stays 1 */
	COND_CROWD,	/* main + 10 goroutines parked on a Cond */
	SLEEPER,	/* not a deadlock: a sleeping goroutine releases */
	SYSCALL,	/* not a deadlock: a goroutine in a syscall releases */
};

FIXTURE(deadlock) {
	struct gt_child child;
};

FIXTURE_VARIANT(deadlock) {
	enum kind kind;
	int maxprocs;
	bool deadlock;
};

#define CASE(name, k, procs, dl)					\
	FIXTURE_VARIANT_ADD(deadlock, name) {				\
		.kind = k, .maxprocs = procs, .deadlock = dl,		\
	}

CASE(sema_procs1, SEMA, 1, true);
CASE(sema_procs2, SEMA, 2, true);
CASE(self_lock_procs1, SELF_LOCK, 1, true);
CASE(self_lock_procs2, SELF_LOCK, 2, true);
CASE(waitgroup_procs1, WAITGROUP, 1, true);
CASE(waitgroup_procs2, WAITGROUP, 2, true);
CASE(cond_crowd_procs1, COND_CROWD, 1, true);
CASE(cond_crowd_procs2, COND_CROWD, 2, true);
CASE(sleeper_procs1, SLEEPER, 1, false);
CASE(sleeper_procs2, SLEEPER, 2, false);
CASE(syscall_procs1, SYSCALL, 1, false);
CASE(syscall_procs2, SYSCALL, 2, false);

FIXTURE_SETUP(deadlock)
{
}

FIXTURE_TEARDOWN(deadlock)
{
	gt_child_free(&self->child);
}

static const FIXTURE_VARIANT(deadlock) *cur;
static uint32_t sema;
static struct gort_mutex mu;
static struct gort_cond cond = GORT_COND_INIT(&mu);
static struct gort_waitgroup wg;
static int pipefd[2];

static void cond_waiter(void *arg)
{
	(void)arg;
	gort_mutex_lock(&mu);
	for (;;)
		gort_cond_wait(&cond);
}

static void sleeper(void *arg)
{
	(void)arg;
	gort_sleep(100 * GT_MS);
	gort_sema_release(&sema);
}

static void syscaller(void *arg)
{
	struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };

	(void)arg;
	/* Times out after 100 ms: nobody writes. */
	GORT_BLOCKING(poll(&pfd, 1, 100));
	gort_sema_release(&sema);
}

static int deadlock_main(void *arg)
{
	int i;

	(void)arg;
	switch (cur->kind) {
	case SEMA:
		gort_sema_acquire(&sema);
		break;
	case SELF_LOCK:
		gort_mutex_lock(&mu);
		gort_mutex_lock(&mu);
		break;
	case WAITGROUP:
		gort_waitgroup_add(&wg, 1);
		gort_waitgroup_wait(&wg);
		break;
	case COND_CROWD:
		for (i = 0; i < 10; i++)
			gort_go(cond_waiter, NULL);
		gort_sleep(10 * GT_MS);
		gort_sema_acquire(&sema);
		break;
	case SLEEPER:
		gort_go(sleeper, NULL);
		gort_sema_acquire(&sema);
		return 0;
	case SYSCALL:
		if (pipe(pipefd))
			return 3;
		gort_go(syscaller, NULL);
		gort_sema_acquire(&sema);
		return 0;
	}
	fprintf(stderr, "main goroutine was not blocked\n");
	return 4;
}

static int child_fn(void *arg)
{
	(void)arg;
	return gt_run(deadlock_main, NULL, cur->maxprocs);
}

TEST_F(deadlock, detect)
{
	struct gt_child *c = &self->child;
	int code;

	cur = variant;
	ASSERT_EQ(0, gt_fork_capture(c, child_fn, NULL, 10000));
	code = gt_exit_code(c);
	if (code != (variant->deadlock ? 2 : 0))
		gt_child_dump(c, "child");
	ASSERT_FALSE(c->timed_out);
	if (variant->deadlock) {
		ASSERT_NE(NULL, strstr(c->out, DEADLOCK_MSG));
		ASSERT_EQ(2, code);
	} else {
		ASSERT_EQ(NULL, strstr(c->out, "deadlock"));
		ASSERT_EQ(0, code);
	}
}

TEST_HARNESS_MAIN
