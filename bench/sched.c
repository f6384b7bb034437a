/* SPDX-License-Identifier: MIT */
/*
 * bench/sched.c - scheduler micro-benchmarks for gort.
 *
 * A benchmark, not a test: it measures and prints one line per result,
 *
 *	<name> <metric>=<value> [<key>=<value>...]
 *
 * where the first key=value is the result that bench/run-sched compares
 * with bench/go/sched/main.go, which runs the same cases with the same
 * counts on Go.  Lines starting with '#' are comments.  Times come from
 * gort_nanotime() (CLOCK_MONOTONIC); timed cases run BENCH_ROUNDS rounds
 * after one untimed warm-up round and report the median (min= is the best).
 *
 * spawn_join_p1, spawn_join_p2
 *		GOMAXPROCS=1 and 2.  gort_go() SPAWN_N goroutines that only
 *		call gort_waitgroup_done(), then gort_waitgroup_wait().
 *		ns_per_op = elapsed / SPAWN_N (spawn, run, exit and the join,
 *		per goroutine).  cold= is the warm-up round, which also pays
 *		for creating stacks that later rounds may find cached.
 * yield	GOMAXPROCS=1.  Two goroutines each call gort_yield() YIELD_K
 *		times; ns_per_op = elapsed / (2 * YIELD_K).  Go: Gosched().
 * parkunpark_p1, parkunpark_p2
 *		GOMAXPROCS=1 and 2.  Ping-pong between two goroutines with
 *		gort_park()/gort_unpark() and a turn flag: one round trip is
 *		two parks and two unparks.  Go has no public park/unpark; it
 *		uses the standard equivalent, two unbuffered channels.
 * semapingpong_p1, semapingpong_p2
 *		The same over two runtime semaphores (release(a), acquire(b)
 *		against acquire(a), release(b)); gort only, for reference.
 * rss_parked	default GOMAXPROCS.  Resident set size (/proc/self/statm
 *		resident pages * page size) before starting RSS_N goroutines
 *		that each park in gort_sema_acquire() on one shared semaphore,
 *		and again once all of them are parked.  bytes_per_op = growth /
 *		RSS_N: stack pages touched plus runtime bookkeeping.  Then all
 *		are released and joined.  Freed stacks may be cached, which
 *		would hide the cost from a later measurement in the same
 *		process, so it runs first; bench/run-sched runs every case in
 *		a fresh process anyway.
 *
 * Usage: sched [spawn_join|yield|parkunpark|rss_parked...]   (default: all)
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BENCH_NAME "sched"
#include "bench.h"

#define BENCH_ROUNDS	5
#define SPAWN_N		100000
#define YIELD_K		500000
#define PINGPONG_K	100000
#define RSS_N		100000

/* ---- spawn_join ---- */

static void spawn_fn(void *arg)
{
	gort_waitgroup_done(arg);
}

static double spawn_round(void)
{
	struct gort_waitgroup wg = GORT_WAITGROUP_INIT;
	int64_t t0;
	int i;

	t0 = gort_nanotime();
	gort_waitgroup_add(&wg, SPAWN_N);
	for (i = 0; i < SPAWN_N; i++)
		go(spawn_fn, &wg);
	gort_waitgroup_wait(&wg);
	return (double)(gort_nanotime() - t0) / SPAWN_N;
}

static void bench_spawn_join(void)
{
	double v[BENCH_ROUNDS], cold, med;
	int old, procs, r;

	old = gort_maxprocs(0);
	for (procs = 1; procs <= 2; procs++) {
		set_procs(procs);
		cold = spawn_round();
		for (r = 0; r < BENCH_ROUNDS; r++)
			v[r] = spawn_round();
		med = median(v, BENCH_ROUNDS);
		printf("spawn_join_p%d ns_per_op=%.1f min=%.1f cold=%.1f n=%d rounds=%d procs=%d\n",
		       procs, med, v[0], cold, SPAWN_N, BENCH_ROUNDS, gort_maxprocs(0));
	}
	set_procs(old);
}

/* ---- yield ---- */

static void yield_fn(void *arg)
{
	int i;

	for (i = 0; i < YIELD_K; i++)
		gort_yield();
	gort_waitgroup_done(arg);
}

static double yield_round(void)
{
	struct gort_waitgroup wg = GORT_WAITGROUP_INIT;
	int64_t t0;

	t0 = gort_nanotime();
	gort_waitgroup_add(&wg, 2);
	go(yield_fn, &wg);
	go(yield_fn, &wg);
	gort_waitgroup_wait(&wg);
	return (double)(gort_nanotime() - t0) / (2.0 * YIELD_K);
}

static void bench_yield(void)
{
	double v[BENCH_ROUNDS], med;
	int old, r;

	old = set_procs(1);
	yield_round();
	for (r = 0; r < BENCH_ROUNDS; r++)
		v[r] = yield_round();
	med = median(v, BENCH_ROUNDS);
	printf("yield ns_per_op=%.1f min=%.1f k=%d rounds=%d procs=%d\n",
	       med, v[0], 2 * YIELD_K, BENCH_ROUNDS,
	       gort_maxprocs(0));
	set_procs(old);
}

/* ---- parkunpark ---- */

struct pingpong {
	uint32_t ping;
	uint32_t pong;
	_Atomic int turn;		/* park/unpark: 1 = pong's turn */
	struct gort_g *main, *peer;
	struct gort_waitgroup wg;
};

static void pong_sema(void *arg)
{
	struct pingpong *pp = arg;
	int i;

	for (i = 0; i < PINGPONG_K; i++) {
		gort_sema_acquire(&pp->ping);
		gort_sema_release(&pp->pong);
	}
	gort_waitgroup_done(&pp->wg);
}

static void pong_park(void *arg)
{
	struct pingpong *pp = arg;
	int i;

	for (i = 0; i < PINGPONG_K; i++) {
		while (atomic_load(&pp->turn) != 1)
			gort_park();
		atomic_store(&pp->turn, 0);
		gort_unpark(pp->main);
	}
	gort_waitgroup_done(&pp->wg);
}

static void peer_start(void *arg)
{
	struct pingpong *pp = arg;

	pp->peer = gort_self();
	pong_park(pp);
}

static double pingpong_round(bool sema)
{
	struct pingpong pp = { .wg = GORT_WAITGROUP_INIT };
	int64_t t0, t1;
	int i;

	pp.main = gort_self();
	gort_waitgroup_add(&pp.wg, 1);
	if (sema) {
		go(pong_sema, &pp);
		t0 = gort_nanotime();
		for (i = 0; i < PINGPONG_K; i++) {
			gort_sema_release(&pp.ping);
			gort_sema_acquire(&pp.pong);
		}
	} else {
		go(peer_start, &pp);
		while (!__atomic_load_n(&pp.peer, __ATOMIC_ACQUIRE))
			gort_yield();
		t0 = gort_nanotime();
		for (i = 0; i < PINGPONG_K; i++) {
			atomic_store(&pp.turn, 1);
			gort_unpark(pp.peer);
			while (atomic_load(&pp.turn) != 0)
				gort_park();
		}
	}
	t1 = gort_nanotime();
	gort_waitgroup_wait(&pp.wg);
	return (double)(t1 - t0) / PINGPONG_K;
}

static void bench_parkunpark(void)
{
	static const char *const prim[] = { "park", "sema" };
	double v[BENCH_ROUNDS], med;
	int old, procs, r, k;

	old = gort_maxprocs(0);
	for (k = 0; k < 2; k++) {
		for (procs = 1; procs <= 2; procs++) {
			set_procs(procs);
			pingpong_round(k);
			for (r = 0; r < BENCH_ROUNDS; r++)
				v[r] = pingpong_round(k);
			med = median(v, BENCH_ROUNDS);
			printf("%s_p%d ns_per_op=%.1f min=%.1f k=%d rounds=%d procs=%d prim=%s\n",
			       k ? "semapingpong" : "parkunpark", procs, med, v[0],
			       PINGPONG_K, BENCH_ROUNDS, gort_maxprocs(0), prim[k]);
		}
	}
	set_procs(old);
}

/* ---- rss_parked ---- */

/* Resident set size in bytes, from /proc/self/statm. */
static long rss_bytes(void)
{
	char buf[128];
	long size, resident;
	ssize_t n;
	int fd;

	fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("/proc/self/statm", errno);
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		die("/proc/self/statm", errno);
	close(fd);
	buf[n] = '\0';
	if (sscanf(buf, "%ld %ld", &size, &resident) != 2)
		die("/proc/self/statm", EINVAL);
	return resident * sysconf(_SC_PAGESIZE);
}

struct parked {
	uint32_t sema;
	int started;
	struct gort_waitgroup wg;
};

static void parked_fn(void *arg)
{
	struct parked *p = arg;

	__atomic_add_fetch(&p->started, 1, __ATOMIC_RELAXED);
	gort_sema_acquire(&p->sema);
	gort_waitgroup_done(&p->wg);
}

static void bench_rss_parked(void)
{
	struct parked p = { 0, 0, GORT_WAITGROUP_INIT };
	long before, after;
	int i;

	before = rss_bytes();
	gort_waitgroup_add(&p.wg, RSS_N);
	for (i = 0; i < RSS_N; i++)
		go(parked_fn, &p);
	/* Every goroutine has run up to its acquire; let the last ones park. */
	while (__atomic_load_n(&p.started, __ATOMIC_RELAXED) < RSS_N)
		gort_sleep(1000000);
	gort_sleep(10000000);
	after = rss_bytes();
	for (i = 0; i < RSS_N; i++)
		gort_sema_release(&p.sema);
	gort_waitgroup_wait(&p.wg);
	printf("rss_parked bytes_per_op=%.1f before_kb=%ld after_kb=%ld n=%d procs=%d prim=sema\n",
	       (double)(after - before) / RSS_N, before / 1024, after / 1024,
	       RSS_N, gort_maxprocs(0));
}

/* ---- driver ---- */

static const struct bench benches[] = {
	/* rss_parked first: see the header comment */
	{ "rss_parked", bench_rss_parked },
	{ "spawn_join", bench_spawn_join },
	{ "yield", bench_yield },
	{ "parkunpark", bench_parkunpark },
};

static int bench_main(void *arg)
{
	bench_header();
	bench_run(benches, NBENCH, arg);
	bench_sched_footer();
	return 0;
}

BENCH_MAIN()
