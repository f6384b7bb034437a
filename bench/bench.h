/* SPDX-License-Identifier: MIT */
/*
 * bench.h - helpers shared by the benchmark programs in bench/ (each
 * defines BENCH_NAME before including it): fatal errors, the median of
 * rounds, starting goroutines and setting GOMAXPROCS, and choosing the
 * benchmarks to run from the command line.
 */
#ifndef GORT_BENCH_H
#define GORT_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gort.h>

#ifndef BENCH_NAME
#error "define BENCH_NAME before including bench.h"
#endif

static inline void die(const char *what, long err)
{
	fprintf(stderr, "%s: %s: %s\n", BENCH_NAME, what, strerror((int)err));
	exit(1);
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts @v in place (so v[0] is then the minimum); returns the median. */
static inline double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline void go(void (*fn)(void *arg), void *arg)
{
	int64_t id = gort_go(fn, arg);

	if (id < 0)
		die("gort_go", -id);
}

/* Sets GOMAXPROCS and returns the previous value. */
static inline int set_procs(int n)
{
	int old = gort_maxprocs(n);

	if (old < 0)
		die("gort_maxprocs", -old);
	return old;
}

/*
 * bench_select() - mark in @run[] the benchmarks named on the command
 * line (all of them with no argument); unknown names print the usage.
 */
static inline void bench_select(int argc, char **argv, const char *const *names,
				int n, int *run, const char *extra_usage)
{
	int i, j;

	for (i = 1; i < argc; i++) {
		for (j = 0; j < n; j++)
			if (!strcmp(argv[i], names[j]))
				break;
		if (j == n) {
			fprintf(stderr, "usage: %s %s[bench...]\nbenches:", BENCH_NAME,
				extra_usage ? extra_usage : "");
			for (j = 0; j < n; j++)
				fprintf(stderr, " %s", names[j]);
			fprintf(stderr, "\n");
			exit(2);
		}
		run[j] = 1;
	}
	if (argc == 1)
		for (j = 0; j < n; j++)
			run[j] = 1;
}

/* bench_gort_main() - run @fn(@arg) as gort's main function; a failure to
 * start the runtime is fatal. */
static inline int bench_gort_main(int (*fn)(void *arg), void *arg)
{
	int ret = gort_main(fn, arg, NULL);

	if (ret < 0)
		die("gort_main", -ret);
	return ret;
}

/* A program's benchmarks: static const struct bench benches[] = {...}. */
struct bench {
	const char *name;
	void (*fn)(void);
};

#define BENCH_MAX	16
#define NBENCH		(int)(sizeof(benches) / sizeof(benches[0]))

/* Which of benches[] the command line named (BENCH_MAIN fills it). */
struct args {
	int run[BENCH_MAX];
};

/* bench_run() - the benchmarks @a names, in table order, each one's
 * output flushed as it ends. */
static inline void bench_run(const struct bench *b, int n, const struct args *a)
{
	int i;

	for (i = 0; i < n; i++) {
		if (!a->run[i])
			continue;
		b[i].fn();
		fflush(stdout);
	}
}

/* bench_header() - the "# gort NAME bench: ..." line the run-* scripts
 * read to tell gort's results from the peer's. */
static inline void bench_header(void)
{
	printf("# gort %s bench: procs=%d ncpu=%d\n", BENCH_NAME, gort_maxprocs(0),
	       gort_num_cpu());
	fflush(stdout);
}

/* bench_sched_footer() - the scheduler's counters after a run. */
static inline void bench_sched_footer(void)
{
	struct gort_sched_stats st = { .sz = sizeof(st) };

	if (gort_sched_stats(&st) == 0)
		printf("# gort threads=%d idle_threads=%d steals=%llu handoffs=%llu guard_mode=%d\n",
		       st.threads, st.idle_threads, (unsigned long long)st.steals,
		       (unsigned long long)st.handoffs, st.guard_mode);
	fflush(stdout);
}

/*
 * BENCH_MAIN() - the main() of a program with a benches[] table and
 * bench_main(struct args *): the benchmarks named on the command line,
 * run as gort's main function.
 */
#define BENCH_MAIN()								\
int main(int argc, char **argv)							\
{										\
	struct args a = { { 0 } };						\
	const char *names[NBENCH];						\
										\
	_Static_assert(NBENCH <= BENCH_MAX, "benches[] too long");		\
	int i;									\
										\
	for (i = 0; i < NBENCH; i++)						\
		names[i] = benches[i].name;					\
	bench_select(argc, argv, names, NBENCH, a.run, NULL);			\
	return bench_gort_main(bench_main, &a);					\
}

#endif /* GORT_BENCH_H */
