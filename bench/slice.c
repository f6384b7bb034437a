/* SPDX-License-Identifier: MIT */
/*
 * bench/slice.c - slice append micro-benchmarks for gort.
 *
 * A benchmark, not a test: it measures and prints one line per result,
 *
 *	<name> <metric>=<value> [<key>=<value>...]
 *
 * where the first key=value is the result that bench/run-slice compares
 * with bench/go/slice/main.go, which runs the same cases with the same
 * counts and values on Go.  Lines starting with '#' are comments.  Times
 * come from gort_nanotime() (CLOCK_MONOTONIC); every case runs
 * BENCH_ROUNDS rounds after one untimed warm-up round and reports the
 * median (min= is the best).  GOMAXPROCS=1 throughout (one goroutine
 * appends; the GC goroutine shares the P with it).  Elements are int64_t,
 * appended one at a time with GORT_APPEND() and GORT_ALLOC_NOSCAN (Go's
 * []int64 arrays are noscan too).  After every round, outside the timed
 * part, the length is checked, every element against its index and their
 * sum against APPEND_N * (APPEND_N - 1) / 2; a mismatch exits 1, so a
 * broken runtime cannot report a fast wrong number.  cap= is the final
 * capacity (growslice's, which should be Go's) and num_gc= the cycles
 * completed during the timed rounds.
 *
 * append_10m_int64
 *		From an empty (nil) slice, append 0, 1, ..., APPEND_N - 1;
 *		the array grows as Go 1.19's growslice grows it.
 *		ns_per_op = elapsed / APPEND_N (one append, growth included).
 * append_10m_int64_prealloc
 *		The same into gort_slice_make(8, 0, APPEND_N) (Go's
 *		make([]int64, 0, n)), made inside the timed part: no growth,
 *		every append in place; the final capacity is checked to be
 *		APPEND_N.  ns_per_op = elapsed / APPEND_N.
 *
 * Elapsed time runs from before the first append (prealloc: before the
 * make) to after the last.  The arrays are dropped after the round and
 * left to the collector.
 *
 * Usage: slice [append|prealloc...]   (default: all)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define BENCH_NAME "slice"
#include "bench.h"

#define BENCH_ROUNDS	5
#define BENCH_PROCS	1
#define APPEND_N	10000000

/* A final cap, the same in every round (checked). */
static size_t final_cap;

/* An element or a count is not what was appended: the runtime is broken. */
static void wrong(const char *bench, const char *what, long long got,
		  long long want)
{
	fprintf(stderr, "slice: %s: wrong %s: got %lld, want %lld\n", bench,
		what, got, want);
	fflush(stdout);
	exit(1);
}

static uint32_t num_gc(void)
{
	static struct gort_gcstats st;	/* ~4 KiB: not on the stack */
	int err;

	st = (struct gort_gcstats){ .sz = sizeof(st) };
	err = gort_read_gcstats(&st);
	if (err)
		die("gort_read_gcstats", -err);
	return st.num_gc;
}

/* Checks @s holds 0, 1, ..., APPEND_N - 1 and notes its cap. */
static void check(const char *bench, struct gort_slice s)
{
	const int64_t *e = s.ptr;
	int64_t sum = 0, i;

	if (s.len != APPEND_N)
		wrong(bench, "len", (long long)s.len, APPEND_N);
	if (s.cap < s.len)
		wrong(bench, "cap", (long long)s.cap, (long long)s.len);
	for (i = 0; i < APPEND_N; i++) {
		if (e[i] != i)
			wrong(bench, "element", e[i], i);
		sum += e[i];
	}
	if (sum != (int64_t)APPEND_N * (APPEND_N - 1) / 2)
		wrong(bench, "sum", sum, (int64_t)APPEND_N * (APPEND_N - 1) / 2);
	if (final_cap && s.cap != final_cap)
		wrong(bench, "cap", (long long)s.cap, (long long)final_cap);
	final_cap = s.cap;
}

/* Runs @round once untimed, then BENCH_ROUNDS times; prints the line. */
static void report(const char *name, double (*round)(void), int procs)
{
	double v[BENCH_ROUNDS], med;
	uint32_t gc0;
	int old, r;

	old = set_procs(procs);
	final_cap = 0;
	round();
	gc0 = num_gc();
	for (r = 0; r < BENCH_ROUNDS; r++)
		v[r] = round();
	med = median(v, BENCH_ROUNDS);
	printf("%s ns_per_op=%.2f min=%.2f n=%d cap=%zu num_gc=%u rounds=%d procs=%d\n",
	       name, med, v[0], APPEND_N, final_cap, num_gc() - gc0,
	       BENCH_ROUNDS, gort_maxprocs(0));
	fflush(stdout);
	set_procs(old);
}

/* ---- append ---- */

static double append_round(void)
{
	struct gort_slice s = { NULL, 0, 0 };
	int64_t t0, t1, i;

	t0 = gort_nanotime();
	for (i = 0; i < APPEND_N; i++)
		s = GORT_APPEND(s, int64_t, GORT_ALLOC_NOSCAN, i);
	t1 = gort_nanotime();
	check("append_10m_int64", s);
	return (double)(t1 - t0) / APPEND_N;
}

static void bench_append(void)
{
	report("append_10m_int64", append_round, BENCH_PROCS);
}

/* ---- prealloc ---- */

static double prealloc_round(void)
{
	struct gort_slice s;
	int64_t t0, t1, i;

	t0 = gort_nanotime();
	s = gort_slice_make(sizeof(int64_t), 0, APPEND_N, GORT_ALLOC_NOSCAN);
	for (i = 0; i < APPEND_N; i++)
		s = GORT_APPEND(s, int64_t, GORT_ALLOC_NOSCAN, i);
	t1 = gort_nanotime();
	if (s.cap != APPEND_N)
		wrong("append_10m_int64_prealloc", "cap", (long long)s.cap,
		      APPEND_N);
	check("append_10m_int64_prealloc", s);
	return (double)(t1 - t0) / APPEND_N;
}

static void bench_prealloc(void)
{
	report("append_10m_int64_prealloc", prealloc_round, BENCH_PROCS);
}

/* ---- driver ---- */

static const struct bench benches[] = {
	{ "append", bench_append },
	{ "prealloc", bench_prealloc },
};

static int bench_main(void *arg)
{
	bench_header();
	bench_run(benches, NBENCH, arg);
	return 0;
}

BENCH_MAIN()
