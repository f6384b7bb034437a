// SPDX-License-Identifier: MIT
/*
 * workers - a job queue served by a pool of goroutines, observed live.
 *
 * A producer goroutine pushes jobs into a queue guarded by a gort_mutex
 * and a gort_cond; WORKERS goroutines pop and "process" them (a little
 * CPU, then a gort_sleep that stands in for I/O).  One worker in ten does
 * its wait as a real blocking read() on a pipe, wrapped in GORT_BLOCKING,
 * to show sysmon handing its P to another thread.  A monitor goroutine
 * prints the scheduler's state four times a second.
 *
 * Usage: workers [seconds] [workers]     (defaults: 5 s, 1000 workers)
 * Try:   GORT_DEBUG=schedtrace=1000 build/samples/workers
 *        kill -QUIT <pid>   (dumps every goroutine, as a Go program does)
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <gort.h>

#define QCAP 4096

static struct {
	struct gort_mutex mu;
	struct gort_cond nonempty, nonfull;
	long jobs[QCAP];
	int head, len;
	bool closed;
} q = { .mu = GORT_MUTEX_INIT };

static _Atomic long done, sum;
static int pipefd[2];
static int seconds = 5, nworkers = 1000;
static struct gort_waitgroup wg;

static void push(long job)
{
	gort_mutex_lock(&q.mu);
	while (q.len == QCAP)
		gort_cond_wait(&q.nonfull);
	q.jobs[(q.head + q.len++) % QCAP] = job;
	gort_cond_signal(&q.nonempty);
	gort_mutex_unlock(&q.mu);
}

static bool pop(long *job)
{
	gort_mutex_lock(&q.mu);
	while (q.len == 0 && !q.closed)
		gort_cond_wait(&q.nonempty);
	if (q.len == 0) {
		gort_mutex_unlock(&q.mu);
		return false;
	}
	*job = q.jobs[q.head];
	q.head = (q.head + 1) % QCAP;
	q.len--;
	gort_cond_signal(&q.nonfull);
	gort_mutex_unlock(&q.mu);
	return true;
}

static void worker(void *arg)
{
	long id = (long)arg, job;

	while (pop(&job)) {
		long x = job;

		for (int i = 0; i < 1000; i++)	/* some CPU work */
			x = x * 6364136223846793005L + 1442695040888963407L;
		if (id % 10 == 0) {
			char c;

			/* Blocks this thread; sysmon hands the P on. */
			if (GORT_BLOCKING(read(pipefd[0], &c, 1)) != 1)
				break;
		} else {
			gort_sleep(200 * 1000);	/* "I/O" */
		}
		atomic_fetch_add(&sum, x & 0xff);
		atomic_fetch_add(&done, 1);
	}
	gort_waitgroup_done(&wg);
}

/* Feeds the pipe readers: one byte per 50 us. */
static void ticker(void *arg)
{
	int64_t end = gort_nanotime() + (int64_t)seconds * 1000000000;

	(void)arg;
	while (gort_nanotime() < end) {
		if (write(pipefd[1], "x", 1) != 1)
			break;
		gort_sleep(50 * 1000);
	}
}

static void producer(void *arg)
{
	int64_t end = gort_nanotime() + (int64_t)seconds * 1000000000;
	long n = 0;

	(void)arg;
	while (gort_nanotime() < end) {
		push(n++);
		if (n % 64 == 0)
			gort_yield();
	}
	gort_mutex_lock(&q.mu);
	q.closed = true;
	gort_cond_broadcast(&q.nonempty);
	gort_mutex_unlock(&q.mu);
	/* Unblock pipe readers for good. */
	close(pipefd[1]);
}

static int run(void *arg)
{
	struct gort_sched_stats st = { .sz = sizeof(st) };
	int64_t start = gort_nanotime(), last = 0;

	(void)arg;
	gort_cond_init(&q.nonempty, &q.mu);
	gort_cond_init(&q.nonfull, &q.mu);
	printf("workers: pid %d, %d workers, %d s, GOMAXPROCS=%d\n", getpid(), nworkers,
	       seconds, gort_maxprocs(0));
	printf("%6s %10s %10s %8s %8s %9s %7s\n", "t(s)", "jobs/s", "goroutines", "threads",
	       "idle", "handoffs", "steals");
	gort_waitgroup_add(&wg, nworkers);
	for (long i = 0; i < nworkers; i++)
		gort_go(worker, (void *)i);
	gort_go(ticker, NULL);
	gort_go(producer, NULL);
	for (int tick = 1; tick <= seconds * 4; tick++) {
		long d;

		gort_sleep(250 * 1000 * 1000);
		d = atomic_load(&done);
		gort_sched_stats(&st);
		printf("%6.2f %10ld %10d %8d %8d %9llu %7llu\n",
		       (gort_nanotime() - start) / 1e9, (d - last) * 4, gort_num_goroutine(),
		       st.threads, st.idle_threads, (unsigned long long)st.handoffs,
		       (unsigned long long)st.steals);
		fflush(stdout);
		last = d;
	}
	gort_waitgroup_wait(&wg);
	printf("workers: %ld jobs in %.2f s (checksum %ld)\n", atomic_load(&done),
	       (gort_nanotime() - start) / 1e9, atomic_load(&sum));
	return 0;
}

int main(int argc, char **argv)
{
	int ret;

	if (argc > 1)
		seconds = atoi(argv[1]);
	if (argc > 2)
		nworkers = atoi(argv[2]);
	if (seconds < 1 || nworkers < 1) {
		fprintf(stderr, "usage: %s [seconds >= 1] [workers >= 1]\n", argv[0]);
		return 2;
	}
	if (pipe(pipefd)) {
		perror("pipe");
		return 1;
	}
	ret = gort_main(run, NULL, NULL);
	if (ret < 0) {
		fprintf(stderr, "workers: gort_main: error %d\n", ret);
		return 1;
	}
	return ret;
}
