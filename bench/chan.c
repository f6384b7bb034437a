/* SPDX-License-Identifier: MIT */
/*
 * bench/chan.c - channel and select micro-benchmarks for gort.
 *
 * A benchmark, not a test: it measures and prints one line per result,
 *
 *	<name> <metric>=<value> [<key>=<value>...]
 *
 * where the first key=value is the result that bench/run-chan compares
 * with bench/go/chan/main.go, which runs the same cases with the same
 * counts, capacities and values on Go.  Lines starting with '#' are
 * comments.  Times come from gort_nanotime() (CLOCK_MONOTONIC); every case
 * runs BENCH_ROUNDS rounds after one untimed warm-up round and reports the
 * median (min= is the best).  Channels carry int64_t (made NOSCAN) and are
 * made afresh for every round.  Every round checks what was received
 * (values, order, counts, sums) and exits 1 on a mismatch, so a broken
 * runtime cannot report a fast wrong number.
 *
 * pingpong_p1, pingpong_p2
 *		GOMAXPROCS=1 and 2.  Two goroutines (the main one and a peer),
 *		two unbuffered channels: main sends i on ping, the peer checks
 *		it and sends back i + 1 on pong, main checks that.
 *		ns_per_op = elapsed / PINGPONG_K (one round trip).
 * spsc_cap1024_p1, spsc_cap1024_p2
 *		GOMAXPROCS=1 and 2.  One sender sends 1..SPSC_N on a channel of
 *		capacity 1024; the main goroutine receives them and checks
 *		they come in order.  ns_per_op = elapsed / SPSC_N (one value,
 *		sent and received).
 * mpmc_4x4_p2	GOMAXPROCS=2.  MPMC_SENDERS senders each send their own
 *		MPMC_N / MPMC_SENDERS consecutive values of 1..MPMC_N on one
 *		channel of capacity MPMC_CAP (100, as Go's own
 *		BenchmarkChanProdCons100); once all have sent, the main
 *		goroutine closes it.  MPMC_RECEIVERS receivers receive until
 *		it is closed and drained, each checking that every sender's
 *		values reach it in increasing order; the count, the sum and
 *		the sum of squares of all received values are checked.
 *		ns_per_op = elapsed / MPMC_N.
 * select2_p1, select2_p2
 *		GOMAXPROCS=1 and 2.  Two senders, one per channel of capacity
 *		SELECT_CAP, each send SELECT_N / 2 values (sender k: k, k + 2,
 *		k + 4, ...); the main goroutine does SELECT_N blocking
 *		two-way selects receiving from both, checking that each
 *		channel's values come in order on the case that names it.
 *		ns_per_op = elapsed / SELECT_N (one select).
 *
 * Elapsed time runs from before the goroutines are started to after they
 * are all joined (pingpong: from the first send to the last reply).
 *
 * Usage: chan [pingpong|spsc|mpmc|select2...]   (default: all)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_NAME "chan"
#include "bench.h"

#define BENCH_ROUNDS	5
#define PINGPONG_K	100000
#define SPSC_N		1000000
#define SPSC_CAP	1024
#define MPMC_N		1000000
#define MPMC_CAP	100
#define MPMC_SENDERS	4
#define MPMC_RECEIVERS	4
#define SELECT_N	1000000
#define SELECT_CAP	128

/* A received value is not what was sent: the runtime is broken. */
static void wrong(const char *bench, const char *what, long long got,
		  long long want)
{
	fprintf(stderr, "chan: %s: wrong %s: got %lld, want %lld\n", bench,
		what, got, want);
	fflush(stdout);
	exit(1);
}

static struct gort_chan *mkchan(size_t cap)
{
	struct gort_chan *c = gort_chan_make(sizeof(int64_t), cap,
					     GORT_CHAN_NOSCAN);

	if (!c)
		die("gort_chan_make", errno);
	return c;
}

/* Runs @round once untimed, then BENCH_ROUNDS times; prints the line. */
static void report(const char *name, double (*round)(void), int procs,
		   const char *extra)
{
	double v[BENCH_ROUNDS], med;
	int old, r;

	old = set_procs(procs);
	round();
	for (r = 0; r < BENCH_ROUNDS; r++)
		v[r] = round();
	med = median(v, BENCH_ROUNDS);
	printf("%s ns_per_op=%.1f min=%.1f %s rounds=%d procs=%d\n", name,
	       med, v[0], extra, BENCH_ROUNDS, gort_maxprocs(0));
	fflush(stdout);
	set_procs(old);
}

/* ---- pingpong ---- */

struct pingpong {
	struct gort_chan *ping, *pong;
	struct gort_waitgroup wg;
};

static void pong_fn(void *arg)
{
	struct pingpong *pp = arg;
	int64_t i, v;

	for (i = 0; i < PINGPONG_K; i++) {
		gort_chan_recv(pp->ping, &v);
		if (v != i)
			wrong("pingpong", "ping", v, i);
		v++;
		gort_chan_send(pp->pong, &v);
	}
	gort_waitgroup_done(&pp->wg);
}

static double pingpong_round(void)
{
	struct pingpong pp = { mkchan(0), mkchan(0), GORT_WAITGROUP_INIT };
	int64_t t0, t1, i, v;

	gort_waitgroup_add(&pp.wg, 1);
	go(pong_fn, &pp);
	t0 = gort_nanotime();
	for (i = 0; i < PINGPONG_K; i++) {
		gort_chan_send(pp.ping, &i);
		gort_chan_recv(pp.pong, &v);
		if (v != i + 1)
			wrong("pingpong", "pong", v, i + 1);
	}
	t1 = gort_nanotime();
	gort_waitgroup_wait(&pp.wg);
	gort_chan_free(pp.ping);
	gort_chan_free(pp.pong);
	return (double)(t1 - t0) / PINGPONG_K;
}

static void bench_pingpong(void)
{
	char extra[64];

	snprintf(extra, sizeof(extra), "k=%d cap=0", PINGPONG_K);
	report("pingpong_p1", pingpong_round, 1, extra);
	report("pingpong_p2", pingpong_round, 2, extra);
}

/* ---- spsc ---- */

struct spsc {
	struct gort_chan *c;
	struct gort_waitgroup wg;
};

static void spsc_sender(void *arg)
{
	struct spsc *s = arg;
	int64_t v;

	for (v = 1; v <= SPSC_N; v++)
		gort_chan_send(s->c, &v);
	gort_waitgroup_done(&s->wg);
}

static double spsc_round(void)
{
	struct spsc s = { mkchan(SPSC_CAP), GORT_WAITGROUP_INIT };
	int64_t t0, t1, i, v;

	t0 = gort_nanotime();
	gort_waitgroup_add(&s.wg, 1);
	go(spsc_sender, &s);
	for (i = 1; i <= SPSC_N; i++) {
		if (!gort_chan_recv(s.c, &v))
			wrong("spsc", "ok", 0, 1);
		if (v != i)
			wrong("spsc", "value", v, i);
	}
	gort_waitgroup_wait(&s.wg);
	t1 = gort_nanotime();
	if (gort_chan_len(s.c) != 0)
		wrong("spsc", "len", (long long)gort_chan_len(s.c), 0);
	gort_chan_free(s.c);
	return (double)(t1 - t0) / SPSC_N;
}

static void bench_spsc(void)
{
	char extra[64];

	snprintf(extra, sizeof(extra), "n=%d cap=%d", SPSC_N, SPSC_CAP);
	report("spsc_cap1024_p1", spsc_round, 1, extra);
	report("spsc_cap1024_p2", spsc_round, 2, extra);
}

/* ---- mpmc ---- */

#define MPMC_PER	(MPMC_N / MPMC_SENDERS)

struct mpmc {
	struct gort_chan *c;
	struct gort_waitgroup senders, receivers;
	int next_sender;
	uint64_t count, sum, sumsq;	/* atomically added to */
};

static void mpmc_sender(void *arg)
{
	struct mpmc *m = arg;
	int s = __atomic_fetch_add(&m->next_sender, 1, __ATOMIC_RELAXED);
	int64_t v, first = (int64_t)s * MPMC_PER + 1;

	for (v = first; v < first + MPMC_PER; v++)
		gort_chan_send(m->c, &v);
	gort_waitgroup_done(&m->senders);
}

static void mpmc_receiver(void *arg)
{
	struct mpmc *m = arg;
	int64_t last[MPMC_SENDERS] = { 0 }, v;
	uint64_t count = 0, sum = 0, sumsq = 0;
	int s;

	while (gort_chan_recv(m->c, &v)) {
		if (v < 1 || v > MPMC_N)
			wrong("mpmc", "value", v, 1);
		s = (int)((v - 1) / MPMC_PER);
		if (v <= last[s])
			wrong("mpmc", "order", v, last[s] + 1);
		last[s] = v;
		count++;
		sum += (uint64_t)v;
		sumsq += (uint64_t)v * (uint64_t)v;
	}
	if (v != 0)
		wrong("mpmc", "value after close", v, 0);
	__atomic_add_fetch(&m->count, count, __ATOMIC_RELAXED);
	__atomic_add_fetch(&m->sum, sum, __ATOMIC_RELAXED);
	__atomic_add_fetch(&m->sumsq, sumsq, __ATOMIC_RELAXED);
	gort_waitgroup_done(&m->receivers);
}

static double mpmc_round(void)
{
	struct mpmc m = {
		mkchan(MPMC_CAP), GORT_WAITGROUP_INIT, GORT_WAITGROUP_INIT,
		0, 0, 0, 0
	};
	uint64_t sum = 0, sumsq = 0, v;
	int64_t t0, t1;
	int i;

	t0 = gort_nanotime();
	gort_waitgroup_add(&m.senders, MPMC_SENDERS);
	gort_waitgroup_add(&m.receivers, MPMC_RECEIVERS);
	for (i = 0; i < MPMC_RECEIVERS; i++)
		go(mpmc_receiver, &m);
	for (i = 0; i < MPMC_SENDERS; i++)
		go(mpmc_sender, &m);
	gort_waitgroup_wait(&m.senders);
	gort_chan_close(m.c);
	gort_waitgroup_wait(&m.receivers);
	t1 = gort_nanotime();
	for (v = 1; v <= MPMC_N; v++) {
		sum += v;
		sumsq += v * v;
	}
	if (m.count != MPMC_N)
		wrong("mpmc", "count", (long long)m.count, MPMC_N);
	if (m.sum != sum)
		wrong("mpmc", "sum", (long long)m.sum, (long long)sum);
	if (m.sumsq != sumsq)
		wrong("mpmc", "sum of squares", (long long)m.sumsq,
		      (long long)sumsq);
	gort_chan_free(m.c);
	return (double)(t1 - t0) / MPMC_N;
}

static void bench_mpmc(void)
{
	char extra[64];

	snprintf(extra, sizeof(extra), "n=%d cap=%d senders=%d receivers=%d",
		 MPMC_N, MPMC_CAP, MPMC_SENDERS, MPMC_RECEIVERS);
	report("mpmc_4x4_p2", mpmc_round, 2, extra);
}

/* ---- select2 ---- */

struct sel {
	struct gort_chan *c[2];
	struct gort_waitgroup wg;
	int next_sender;
};

static void sel_sender(void *arg)
{
	struct sel *s = arg;
	int k = __atomic_fetch_add(&s->next_sender, 1, __ATOMIC_RELAXED);
	int64_t v;

	for (v = k; v < SELECT_N; v += 2)
		gort_chan_send(s->c[k], &v);
	gort_waitgroup_done(&s->wg);
}

static double select2_round(void)
{
	struct sel s = { { mkchan(SELECT_CAP), mkchan(SELECT_CAP) },
			 GORT_WAITGROUP_INIT, 0 };
	int64_t elem[2], want[2] = { 0, 1 }, t0, t1;
	struct gort_select_case cases[2] = {
		{ s.c[0], GORT_SELECT_RECV, &elem[0], false },
		{ s.c[1], GORT_SELECT_RECV, &elem[1], false },
	};
	int i, k;

	t0 = gort_nanotime();
	gort_waitgroup_add(&s.wg, 2);
	go(sel_sender, &s);
	go(sel_sender, &s);
	for (i = 0; i < SELECT_N; i++) {
		k = gort_select(cases, 2, true);
		if (k != 0 && k != 1)
			wrong("select2", "case", k, 0);
		if (!cases[k].ok)
			wrong("select2", "ok", 0, 1);
		if (elem[k] != want[k])
			wrong("select2", "value", elem[k], want[k]);
		want[k] += 2;
	}
	gort_waitgroup_wait(&s.wg);
	t1 = gort_nanotime();
	if (want[0] != SELECT_N || want[1] != SELECT_N + 1)
		wrong("select2", "count", want[0] / 2, SELECT_N / 2);
	gort_chan_free(s.c[0]);
	gort_chan_free(s.c[1]);
	return (double)(t1 - t0) / SELECT_N;
}

static void bench_select2(void)
{
	char extra[64];

	snprintf(extra, sizeof(extra), "n=%d cap=%d", SELECT_N, SELECT_CAP);
	report("select2_p1", select2_round, 1, extra);
	report("select2_p2", select2_round, 2, extra);
}

/* ---- driver ---- */

static const struct bench benches[] = {
	{ "pingpong", bench_pingpong },
	{ "spsc", bench_spsc },
	{ "mpmc", bench_mpmc },
	{ "select2", bench_select2 },
};

static int bench_main(void *arg)
{
	bench_header();
	bench_run(benches, NBENCH, arg);
	bench_sched_footer();
	return 0;
}

BENCH_MAIN()
