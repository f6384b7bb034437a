/* SPDX-License-Identifier: MIT */
/*
 * Description: regression tests, one per bug found in review, named
 * after the bug.
 *
 * concurrent_maxprocs_deadlock	two goroutines changing GOMAXPROCS at
 *				once each waited for the other's P
 *				(stop-the-world was not serialised)
 * syscall_enter_during_stw	a goroutine entering a syscall as a
 *				stop-the-world ended could stop its P for
 *				good, and the next one hung
 * stale_sema_timeout		the timeout of a satisfied timed wait,
 *				still firing, woke the next untimed wait
 *				without a count
 * foreign_unpark_*		wakeups from plain threads were lost or
 *				reported as a deadlock
 * pingpong_starves_yielder	a park/ready pair on one P never honoured
 *				sysmon's preemption request
 * chan_pingpong_starves_yielder  the same over channels, whose
 *				operations are not preemption points: the
 *				pair inherited runnext's time slice forever
 * huge_timeouts		nanotime() + INT64_MAX overflowed: the
 *				sleep or wait ended at once
 */
#include "../gort_test.h"

#include <pthread.h>

/* ---- concurrent_maxprocs_deadlock ---- */

static void flip_procs(void *arg)
{
	struct gort_waitgroup *wg = arg;
	int i;

	for (i = 0; i < 200; i++)
		gort_maxprocs(1 + i % 3);
	gort_waitgroup_done(wg);
}

static int concurrent_maxprocs_main(void *arg)
{
	struct gort_waitgroup wg = GORT_WAITGROUP_INIT;

	(void)arg;
	gort_waitgroup_add(&wg, 2);
	gort_go(flip_procs, &wg);
	gort_go(flip_procs, &wg);
	gort_waitgroup_wait(&wg);
	return 0;
}

static int concurrent_maxprocs_child(void *arg)
{
	(void)arg;
	return gt_run(concurrent_maxprocs_main, NULL, 2) || gt_failed();
}

TEST(concurrent_maxprocs_deadlock)
{
	struct gt_child c;

	ASSERT_EQ(0, gt_fork_capture(&c, concurrent_maxprocs_child, NULL, 20000));
	if (c.timed_out || gt_exit_code(&c))
		gt_child_dump(&c, "child");
	EXPECT_FALSE(c.timed_out);
	EXPECT_EQ(0, gt_exit_code(&c));
	gt_child_free(&c);
}

/* ---- syscall_enter_during_stw ---- */

static _Atomic int stw_stop;

static void syscaller(void *arg)
{
	struct gort_waitgroup *wg = arg;

	while (!atomic_load(&stw_stop))
		GORT_BLOCKING(usleep(50));
	gort_waitgroup_done(wg);
}

static int stw_main(void *arg)
{
	struct gort_waitgroup wg = GORT_WAITGROUP_INIT;
	int64_t end = gort_nanotime() + 1500 * GT_MS;
	int i, n = 0;

	(void)arg;
	gort_waitgroup_add(&wg, 8);
	for (i = 0; i < 8; i++)
		gort_go(syscaller, &wg);
	while (gort_nanotime() < end) {
		gort_maxprocs(1 + n % 3);
		n++;
	}
	atomic_store(&stw_stop, 1);
	gort_waitgroup_wait(&wg);
	GCHECK(n > 10);
	return 0;
}

static int stw_child(void *arg)
{
	(void)arg;
	return gt_run(stw_main, NULL, 3) || gt_failed();
}

TEST(syscall_enter_during_stw)
{
	struct gt_child c;

	ASSERT_EQ(0, gt_fork_capture(&c, stw_child, NULL, 20000));
	if (c.timed_out || gt_exit_code(&c))
		gt_child_dump(&c, "child");
	EXPECT_FALSE(c.timed_out);
	EXPECT_EQ(0, gt_exit_code(&c));
	gt_child_free(&c);
}

/* ---- stale_sema_timeout ---- */

struct stale {
	uint32_t s1, s2;
	_Atomic int64_t start;
	_Atomic int released2;
	_Atomic int done;
};

#define STALE_TIMEOUT_NS (200 * GT_US)

/* Releases s1 right at the other side's deadline, then s2 later. */
static void stale_releaser(void *arg)
{
	struct stale *st = arg;

	while (!atomic_load(&st->done)) {
		int64_t t0 = atomic_load(&st->start), t;

		if (!t0) {
			gort_maybe_yield();
			continue;
		}
		while (gort_nanotime() < t0 + STALE_TIMEOUT_NS)
			;
		gort_sema_release(&st->s1);
		t = gort_nanotime();
		while (gort_nanotime() < t + 300 * GT_US)
			;
		atomic_store(&st->start, 0);
		atomic_fetch_add(&st->released2, 1);
		gort_sema_release(&st->s2);
	}
}

static int stale_main(void *arg)
{
	struct stale *st = arg;
	int i;

	gort_go(stale_releaser, st);
	for (i = 0; i < 300; i++) {
		while (gort_sema_acquire_timeout(&st->s1, 0))
			;	/* drain */
		atomic_store(&st->start, gort_nanotime());
		gort_sema_acquire_timeout(&st->s1, STALE_TIMEOUT_NS);
		gort_sema_acquire(&st->s2);
		/* s2 was released exactly once per round before we got it. */
		if (!GCHECK_EQ(i + 1, atomic_load(&st->released2)))
			break;
	}
	atomic_store(&st->done, 1);
	return 0;
}

TEST(stale_sema_timeout)
{
	struct stale st = { 0 };

	ASSERT_EQ(0, gt_run(stale_main, &st, 3));
	ASSERT_EQ(0, gt_failed());
}

/* ---- foreign_unpark_* ---- */

struct foreign {
	struct gort_g *g;
	_Atomic int turn;		/* 1: the goroutine may go on */
	int rounds;
	int64_t worst;
};

static void *foreign_thread(void *arg)
{
	struct foreign *f = arg;
	struct timespec d = { 0, 200 * 1000 };
	int i;

	for (i = 0; i < f->rounds; i++) {
		nanosleep(&d, NULL);
		while (atomic_load(&f->turn))
			nanosleep(&d, NULL);
		atomic_store(&f->turn, 1);
		gort_unpark(f->g);
	}
	return NULL;
}

static int foreign_main(void *arg)
{
	struct foreign *f = arg;
	pthread_t t;
	int i;

	f->g = gort_self();
	gort_external_wakers(1);
	GCHECK_EQ(0, pthread_create(&t, NULL, foreign_thread, f));
	for (i = 0; i < f->rounds; i++) {
		int64_t t0 = gort_nanotime(), dt;

		while (!atomic_load(&f->turn))
			gort_park();
		dt = gort_nanotime() - t0;
		if (dt > f->worst)
			f->worst = dt;
		atomic_store(&f->turn, 0);
	}
	pthread_join(t, NULL);
	gort_external_wakers(-1);
	return 0;
}

TEST(foreign_unpark_declared)
{
	struct foreign f = { .rounds = 2000 };

	ASSERT_EQ(0, gt_run(foreign_main, &f, 2));
	ASSERT_EQ(0, gt_failed());
	TH_LOG("worst wake from a plain thread: %lld us", (long long)f.worst / 1000);
	/* Lost wakeups showed up as seconds (until some timer fired). */
	EXPECT_LT(f.worst, 500 * GT_MS);
}

static void *late_unpark(void *arg)
{
	usleep(100 * 1000);
	gort_unpark(arg);
	return NULL;
}

static int undeclared_main(void *arg)
{
	pthread_t t;

	(void)arg;
	pthread_create(&t, NULL, late_unpark, gort_self());
	gort_park();
	return 0;
}

static int undeclared_child(void *arg)
{
	(void)arg;
	return gt_run(undeclared_main, NULL, 1);
}

/* Without the declaration the runtime cannot know: Go's verdict. */
TEST(foreign_unpark_undeclared_is_deadlock)
{
	struct gt_child c;

	ASSERT_EQ(0, gt_fork_capture(&c, undeclared_child, NULL, 10000));
	EXPECT_EQ(2, gt_exit_code(&c));
	EXPECT_NE(NULL, strstr(c.out, "all goroutines are asleep - deadlock!"));
	gt_child_free(&c);
}

/* ---- pingpong_starves_yielder ---- */

struct starve {
	uint32_t sa, sb;
	_Atomic long yields;
	_Atomic int stop;
};

static void ping(void *arg)
{
	struct starve *s = arg;

	while (!atomic_load(&s->stop)) {
		gort_sema_release(&s->sb);
		gort_sema_acquire(&s->sa);
	}
	gort_sema_release(&s->sb);
}

static void pong(void *arg)
{
	struct starve *s = arg;

	while (!atomic_load(&s->stop)) {
		gort_sema_acquire(&s->sb);
		gort_sema_release(&s->sa);
	}
	gort_sema_release(&s->sa);
}

static void yielder(void *arg)
{
	struct starve *s = arg;

	while (!atomic_load(&s->stop)) {
		atomic_fetch_add(&s->yields, 1);
		gort_yield();
	}
}

static int starve_main(void *arg)
{
	struct starve *s = arg;
	int64_t end;

	gort_go(yielder, s);
	gort_go(ping, s);
	gort_go(pong, s);
	/* Spin, not sleep: main's own timer must not be what lets it run. */
	end = gort_nanotime() + 300 * GT_MS;
	while (gort_nanotime() < end)
		gort_maybe_yield();
	atomic_store(&s->stop, 1);
	return 0;
}

TEST(pingpong_starves_yielder)
{
	struct starve s = { 0 };

	ASSERT_EQ(0, gt_run(starve_main, &s, 1));
	TH_LOG("yielder ran %ld times in 300 ms beside a ping-pong pair", atomic_load(&s.yields));
	/* Sysmon asks every 10 ms: at least a few dozen turns. */
	EXPECT_GT(atomic_load(&s.yields), 20);
}

/* ---- chan_pingpong_starves_yielder ---- */

struct cstarve {
	struct gort_chan *a, *b;
	_Atomic long yields, rounds;
	_Atomic int stop;
};

static void cping(void *arg)
{
	struct cstarve *s = arg;
	long v = 0;

	while (!atomic_load(&s->stop)) {
		gort_chan_send(s->a, &v);
		gort_chan_recv(s->b, &v);
		atomic_fetch_add(&s->rounds, 1);
	}
	gort_chan_close(s->a);
}

static void cpong(void *arg)
{
	struct cstarve *s = arg;
	long v;

	while (gort_chan_recv(s->a, &v))
		gort_chan_send(s->b, &v);
}

static void cyielder(void *arg)
{
	struct cstarve *s = arg;

	while (!atomic_load(&s->stop)) {
		atomic_fetch_add(&s->yields, 1);
		gort_yield();
	}
}

static int cstarve_main(void *arg)
{
	struct cstarve *s = arg;
	int64_t end;

	s->a = gort_chan_make(sizeof(long), 0, 0);
	s->b = gort_chan_make(sizeof(long), 0, 0);
	gort_go(cyielder, s);
	gort_go(cping, s);
	gort_go(cpong, s);
	/* main itself must get the P back to end the test at all */
	end = gort_nanotime() + 500 * GT_MS;
	while (gort_nanotime() < end)
		gort_maybe_yield();
	atomic_store(&s->stop, 1);
	return 0;
}

TEST(chan_pingpong_starves_yielder)
{
	struct cstarve s = { 0 };

	ASSERT_EQ(0, gt_run(cstarve_main, &s, 1));
	TH_LOG("yielder ran %ld times in 500 ms beside a channel ping-pong (%ld rounds)",
	       atomic_load(&s.yields), atomic_load(&s.rounds));
	/* Sysmon asks every 10-20 ms: the yielder gets a turn each time. */
	EXPECT_GE(atomic_load(&s.yields), 3);
	EXPECT_GT(atomic_load(&s.rounds), 1000);
}

/* ---- huge_timeouts ---- */

static void release_fn(void *arg)
{
	gort_sema_release(arg);
}

static void sleep_forever(void *arg)
{
	_Atomic int *woke = arg;

	gort_sleep(INT64_MAX);
	atomic_store(woke, 1);
}

static int huge_main(void *arg)
{
	_Atomic int woke = 0;
	uint32_t never = 0;
	int64_t t0;

	(void)arg;
	gort_go(sleep_forever, &woke);
	t0 = gort_nanotime();
	GCHECK(!gort_sema_acquire_timeout(&never, 50 * GT_MS));
	GCHECK(gort_nanotime() - t0 >= 50 * GT_MS);
	GCHECK(!atomic_load(&woke));
	/* A timed wait with an enormous timeout still waits (for a release). */
	gort_go(release_fn, &never);
	GCHECK(gort_sema_acquire_timeout(&never, INT64_MAX));
	return 0;
}

TEST(huge_timeouts)
{
	ASSERT_EQ(0, gt_run(huge_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

TEST_HARNESS_MAIN
