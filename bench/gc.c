/* SPDX-License-Identifier: MIT */
/*
 * bench/gc.c - garbage-collector benchmarks for gort: throughput on a
 * classic allocation-heavy program, pause times on a large live heap.
 *
 * A benchmark, not a test: it measures and prints one line per result,
 *
 *	<name> wall_ms=<v> max_pause_us=<v> p99_pause_us=<v> gc_cpu=<v> peak_rss_mb=<v> num_gc=<n> [<key>=<value>...]
 *
 * where the first key=value is the result that bench/run-gc compares with
 * bench/go/gc/main.go (Go 1.19) and bench/gc_boehm.c (libgc 8.2), which
 * run the same cases with the same sizes, the same random sequences and
 * the same checks.  Lines starting with '#' are comments.  Times come from
 * gort_nanotime() (CLOCK_MONOTONIC); wall_ms is the whole case, from
 * before its first allocation to after its last check.
 *
 * Pauses are gort_read_gcstats()'s pause_ns of the cycles that ended
 * during the case: one entry per cycle, the sum of its stop-the-world
 * pauses, in a ring of 256 as Go's MemStats.PauseNs (cycle n's at
 * [(n + 255) % 256]), so at most the last 256 cycles count (pauses= says
 * how many did).  p99 is the nearest-rank 99th percentile.  gc_cpu is
 * gc_cpu_fraction (since the program started), peak_rss_mb getrusage()'s
 * ru_maxrss: run one case per process, as bench/run-gc does, to get the
 * case's own peak.
 *
 * binarytrees [depth]
 *		The Computer Language Benchmarks Game's binary-trees (as its
 *		Go #2 program), depth 21 by default: a stretch tree of
 *		depth + 1, built and checked; a long-lived tree of depth; then
 *		for d = 4, 6, ..., depth one goroutine per d builds and checks
 *		2^(depth - d + 4) trees of depth d, and the results are
 *		printed in order once all are done.  Nodes are 16-byte {left,
 *		right} objects from gort_alloc(16, 0), never freed: the
 *		collector reclaims them.  GOMAXPROCS is the default, all
 *		CPUs.  Every check value is verified (2^(d + 1) - 1 per tree).
 * liveheap [MiB]
 *		A large live heap mutated concurrently.  Build (on the main
 *		goroutine) MiB (default 1024) of nodes: an array of buckets,
 *		each a list of BUCKET_LEN nodes of 64..512 bytes, a 24-byte
 *		header {next, key, size} and payload words derived from the
 *		key.  Then MUTATORS goroutines, each on its own half of the
 *		buckets (b % 2 == id, so no locks), each MiB * OPS_PER_MB
 *		times replace a random node with a fresh one: allocate, fill,
 *		link in, drop the old one (checking its first and last payload
 *		words first).  Finally every node is checked whole, and their
 *		number and the sum of key + size over them are compared with
 *		what the build and the mutators counted: a mismatch (a live
 *		node freed and reused) exits 1.  The work is deterministic,
 *		so check= is the same in all three programs.  mut_max_pause_us
 *		and mut_num_gc cover the mutation phase alone.
 *
 * All objects hold pointers (flags 0).  gort and Boehm scan them whole,
 * conservatively; Go knows the type and scans only a node's first word.
 * Preemption is cooperative: the loops call gort_maybe_yield() (every
 * subtree of depth >= YIELD_DEPTH, every mutation, every bucket) so that
 * stopping the world never waits for a long loop; Go preempts with a
 * signal and Boehm suspends threads with one.
 *
 * Usage: gc [binarytrees [depth]] [liveheap [MiB]]   (default: both)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define BENCH_NAME "gc"
#include "bench.h"

#define GC_YIELD()	gort_maybe_yield()
#include "gc_work.h"

static int depth_arg = DEFAULT_DEPTH;
static long live_arg = DEFAULT_LIVE_MB;

static void *xalloc(size_t n)
{
	void *p = gort_alloc(n, 0);

	if (__builtin_expect(!p, 0))
		die("gort_alloc", ENOMEM);
	return p;
}

/* ---- measuring ---- */

/* ~4 KiB: on the heap, not on a goroutine's stack. */
static struct gort_gcstats *read_gcstats(void)
{
	static struct gort_gcstats st;
	int err;

	st = (struct gort_gcstats){ .sz = sizeof(st) };
	err = gort_read_gcstats(&st);
	if (err)
		die("gort_read_gcstats", -err);
	return &st;
}

static uint32_t num_gc(void)
{
	return read_gcstats()->num_gc;
}

/*
 * The pauses of the cycles after cycle @from (the last 256 at most),
 * sorted, in microseconds, into @v; returns how many; *@max and *@p99
 * (nearest rank) get their maximum and 99th percentile.
 */
static int pauses(const struct gort_gcstats *st, uint32_t from, double *v,
		  double *max, double *p99)
{
	uint32_t n, first = from + 1;
	int k = 0;

	if (st->num_gc > GORT_GC_PAUSE_RING &&
	    first < st->num_gc - (GORT_GC_PAUSE_RING - 1))
		first = st->num_gc - (GORT_GC_PAUSE_RING - 1);
	for (n = first; n <= st->num_gc && n > from; n++)
		v[k++] = (double)st->pause_ns[(n + GORT_GC_PAUSE_RING - 1) %
					      GORT_GC_PAUSE_RING] / 1e3;
	qsort(v, (size_t)k, sizeof(*v), cmp_double);
	*max = k ? v[k - 1] : 0;
	*p99 = k ? v[(99 * k + 99) / 100 - 1] : 0;	/* ceil(0.99 k) */
	return k;
}

static double peak_rss_mb(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		die("getrusage", errno);
	return (double)ru.ru_maxrss / 1024;
}

/* The common part of a result line, for the case begun at @t0 after cycle
 * @gc0; the caller prints the rest and the newline. */
static void report(const char *name, int64_t t0, uint32_t gc0)
{
	static double v[GORT_GC_PAUSE_RING];
	int64_t t1 = gort_nanotime();
	struct gort_gcstats *st = read_gcstats();
	double max, p99;
	int k;

	k = pauses(st, gc0, v, &max, &p99);
	printf("%s wall_ms=%.0f max_pause_us=%.1f p99_pause_us=%.1f gc_cpu=%.4f peak_rss_mb=%.0f num_gc=%u pauses=%d mode=%s dirty_pages=%llu mark_rounds=%llu",
	       name, (double)(t1 - t0) / 1e6, max, p99, st->gc_cpu_fraction,
	       peak_rss_mb(), st->num_gc - gc0, k, st->mode ? st->mode : "-",
	       (unsigned long long)st->dirty_pages,
	       (unsigned long long)st->mark_rounds);
}

/* ---- binarytrees ---- */

struct level {
	int depth, max_depth;
	long iterations, check;
	struct gort_waitgroup *wg;
};

static void level_run(void *arg)
{
	struct level *l = arg;
	long i, check = 0;

	l->iterations = 1L << (l->max_depth - l->depth + MIN_DEPTH);
	for (i = 1; i <= l->iterations; i++)
		check += item_check(bottom_up_tree(l->depth), l->depth);
	l->check = check;
	gort_waitgroup_done(l->wg);
}

static void bench_binarytrees(void)
{
	int max_depth = depth_arg < MIN_DEPTH + 2 ? MIN_DEPTH + 2 : depth_arg;
	struct gort_waitgroup wg = GORT_WAITGROUP_INIT;
	int stretch = max_depth + 1, d;
	struct level lv[MAX_DEPTH + 1];
	struct tree *long_lived;
	uint32_t gc0 = num_gc();
	int64_t t0 = gort_nanotime();
	long check;

	check = item_check(bottom_up_tree(stretch), stretch);
	check_tree("stretch tree", stretch, 1, check);
	printf("# stretch tree of depth %d\t check: %ld\n", stretch, check);

	long_lived = bottom_up_tree(max_depth);

	for (d = MIN_DEPTH; d <= max_depth; d += 2) {
		lv[d] = (struct level){ .depth = d, .max_depth = max_depth, .wg = &wg };
		gort_waitgroup_add(&wg, 1);
		go(level_run, &lv[d]);
	}
	gort_waitgroup_wait(&wg);
	for (d = MIN_DEPTH; d <= max_depth; d += 2) {
		check_tree("trees", d, lv[d].iterations, lv[d].check);
		printf("# %ld\t trees of depth %d\t check: %ld\n", lv[d].iterations,
		       d, lv[d].check);
	}
	check = item_check(long_lived, max_depth);
	check_tree("long lived tree", max_depth, 1, check);
	printf("# long lived tree of depth %d\t check: %ld\n", max_depth, check);
	report("binarytrees", t0, gc0);
	printf(" depth=%d procs=%d\n", max_depth, gort_maxprocs(0));
}

/* ---- liveheap ---- */

static struct node **buckets;	/* a global: a root */
static long nbuckets;

struct mutator {
	int id;
	long ops;
	uint64_t delta;		/* of the sum of node_sum() */
	struct gort_waitgroup *wg;
};

/* Replaces @m->ops random nodes of the buckets b with b % 2 == id. */
static void mutate(void *arg)
{
	struct mutator *m = arg;
	uint64_t x = SEED_MUT ^ (uint64_t)(m->id + 1) * GOLDEN, r, delta = 0;
	uint64_t half = (uint64_t)nbuckets / 2, j;
	struct node **pp, *old, *n;
	long i;

	for (i = 0; i < m->ops; i++) {
		r = rnd(&x);
		pp = &buckets[(r % half) * 2 + (uint64_t)m->id];
		for (j = (r >> 40) % BUCKET_LEN; j > 0; j--)
			pp = &(*pp)->next;
		old = *pp;
		check_node(old, false);
		n = new_node(rnd(&x));
		n->next = old->next;
		*pp = n;
		delta += node_sum(n) - node_sum(old);
		gort_maybe_yield();
	}
	m->delta = delta;
	gort_waitgroup_done(m->wg);
}

static void bench_liveheap(void)
{
	long b, j, nodes = 0, avg = 0, ops = live_arg * OPS_PER_MB;
	struct gort_waitgroup wg = GORT_WAITGROUP_INIT;
	static double v[GORT_GC_PAUSE_RING];
	uint64_t x = SEED_BUILD, sum = 0, got = 0;
	struct mutator mut[MUTATORS];
	int64_t t0, t_build, t_mut;
	uint32_t gc0, mid, mut_gc;
	double mut_max, p99;
	struct node *n;
	size_t s;
	int i;

	for (s = 0; s < NSIZES; s++)
		avg += node_sizes[s];
	nbuckets = ((live_arg << 20) * (long)NSIZES / (BUCKET_LEN * avg)) & ~1L;
	if (nbuckets < 2)
		nbuckets = 2;
	gc0 = num_gc();
	t0 = gort_nanotime();

	/* Build: each bucket a list of BUCKET_LEN nodes, pushed at the head. */
	buckets = xalloc((size_t)nbuckets * sizeof(*buckets));
	for (b = 0; b < nbuckets; b++) {
		for (j = 0; j < BUCKET_LEN; j++) {
			n = new_node(rnd(&x));
			n->next = buckets[b];
			buckets[b] = n;
			sum += node_sum(n);
		}
		gort_maybe_yield();
	}
	t_build = gort_nanotime();
	mid = num_gc();

	gort_waitgroup_add(&wg, MUTATORS);
	for (i = 0; i < MUTATORS; i++) {
		mut[i] = (struct mutator){ .id = i, .ops = ops, .wg = &wg };
		go(mutate, &mut[i]);
	}
	gort_waitgroup_wait(&wg);
	t_mut = gort_nanotime();
	for (i = 0; i < MUTATORS; i++)
		sum += mut[i].delta;
	mut_gc = num_gc() - mid;
	pauses(read_gcstats(), mid, v, &mut_max, &p99);

	/* Verify: every node whole, their number and the sum. */
	for (b = 0; b < nbuckets; b++) {
		for (n = buckets[b]; n; n = n->next) {
			check_node(n, true);
			got += node_sum(n);
			nodes++;
		}
		gort_maybe_yield();
	}
	if (nodes != nbuckets * BUCKET_LEN)
		fail("liveheap: %ld nodes, want %ld", nodes, nbuckets * BUCKET_LEN);
	if (got != sum)
		fail("liveheap: checksum %#016llx, want %#016llx",
		     (unsigned long long)got, (unsigned long long)sum);
	report("liveheap", t0, gc0);
	printf(" live_mb=%ld buckets=%ld nodes=%ld ops=%ld build_ms=%.0f mutate_ms=%.0f mut_max_pause_us=%.1f mut_num_gc=%u procs=%d check=%016llx\n",
	       live_arg, nbuckets, nodes, MUTATORS * ops,
	       (double)(t_build - t0) / 1e6, (double)(t_mut - t_build) / 1e6,
	       mut_max, mut_gc, gort_maxprocs(0), (unsigned long long)got);
	buckets = NULL;
}

/* ---- driver ---- */

static const struct bench benches[] = {
	{ "binarytrees", bench_binarytrees },
	{ "liveheap", bench_liveheap },
};

static int bench_main(void *arg)
{
	const char *mode = read_gcstats()->mode;
	struct args *a = arg;

	printf("# gc bench: collector=gort procs=%d ncpu=%d mode=%s\n",
	       gort_maxprocs(0), gort_num_cpu(), mode ? mode : "-");
	fflush(stdout);
	bench_run(benches, NBENCH, a);
	return 0;
}

/* A number after a benchmark's name is its parameter; a bad one falls
 * through to bench_select(), which prints the usage. */
static bool take_param(const char *name, const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end)
		return false;
	if (!strcmp(name, "binarytrees") && v <= MAX_DEPTH) {
		depth_arg = (int)v;
		return true;
	}
	if (!strcmp(name, "liveheap") && v > 0 && v <= 1L << 20) {
		live_arg = v;
		return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	struct args a = { { 0 } };
	const char *names[NBENCH];
	int i, n = 1;

	for (i = 1; i < argc; i++)
		if (n == 1 || !take_param(argv[n - 1], argv[i]))
			argv[n++] = argv[i];
	for (i = 0; i < NBENCH; i++)
		names[i] = benches[i].name;
	bench_select(n, argv, names, NBENCH, a.run, NULL);

	return bench_gort_main(bench_main, &a);
}
