/* SPDX-License-Identifier: MIT */
/*
 * bench/gc_boehm.c - the garbage-collector benchmarks of bench/gc.c on the
 * Boehm-Demers-Weiser collector (libgc 8.2), the usual collector for C.
 *
 * The same cases as bench/gc.c and bench/go/gc/main.go, with the same
 * sizes, random sequences, checks and output,
 *
 *	<name> wall_ms=<v> max_pause_us=<v> p99_pause_us=<v> gc_cpu=<v> peak_rss_mb=<v> num_gc=<n> [<key>=<value>...]
 *
 * (bench/gc.c describes the cases); goroutines are pthreads here, created
 * through libgc (GC_THREADS redirects pthread_create to GC_pthread_create,
 * which registers them).  libgc is used as it comes: GC_MALLOC, default
 * settings (non-incremental, parallel marking on every CPU, interior
 * pointers recognised, which costs one extra byte per object: a 16-byte
 * tree node takes 32), GC_INIT first.
 *
 * Pauses.  libgc stops the world for the whole mark phase.  The
 * collection-event callback stamps GC_EVENT_PRE_STOP_WORLD and
 * GC_EVENT_POST_START_WORLD with CLOCK_MONOTONIC; the stopped time of one
 * collection (GC_EVENT_START .. GC_EVENT_END) is its pause, kept in a ring
 * of 256 with Go's semantics (collection n's at [(n + 255) % 256]).
 * After the world restarts the collector still holds the allocation lock
 * to set up sweeping and finalization: threads that allocate from their
 * thread-local free lists go on, the others wait.  That part is not a
 * pause; max_cycle_us= reports the longest whole collection.
 *
 * gc_cpu.  Go's GCCPUFraction charges a stop-the-world pause to every
 * processor.  Here: (stopped time * ncpu + rest of the collections * 1) /
 * (wall time since main() * ncpu), i.e. the world-stopped part costs all
 * CPUs (the markers run on all of them while the program cannot) and the
 * rest one; lazy sweeping done inside GC_MALLOC is not counted (Go does
 * not count its sweeping either).  GC_get_full_gc_total_time(), which is
 * in milliseconds and counts only full collections, is printed as
 * boehm_full_gc_ms= for comparison.
 *
 * Build: cc -O2 bench/gc_boehm.c -lgc -lpthread -o gc-boehm
 * Usage: gc-boehm [binarytrees [depth]] [liveheap [MiB]]   (default: both)
 */
#define _GNU_SOURCE
#define GC_THREADS
#include <gc.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define BENCH_NAME	"gc-boehm"
#define GC_YIELD()	do { } while (0)	/* threads, preempted by the kernel */
#include "gc_work.h"

#define PAUSE_RING	256

static int depth_arg = DEFAULT_DEPTH;
static long live_arg = DEFAULT_LIVE_MB;
static long ncpu;
static int64_t prog_t0;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *xalloc(size_t n)
{
	void *p = GC_MALLOC(n);

	if (__builtin_expect(!p, 0))
		fail("GC_MALLOC(%zu): out of memory", n);
	return p;
}

static void xthread(pthread_t *th, void *(*fn)(void *), void *arg)
{
	int err = pthread_create(th, NULL, fn, arg);	/* GC_pthread_create */

	if (err)
		fail("pthread_create: %s", strerror(err));
}

/* ---- measuring: the collection-event callback ---- */

/*
 * Written by the callback, which libgc calls with its allocation lock
 * held, so by one thread at a time; read by the main thread after the
 * others are joined, or under GC_call_with_alloc_lock().
 */
static struct {
	uint32_t num_gc;
	uint64_t pause_ns[PAUSE_RING];	/* collection n's at [(n+255)%256] */
	uint64_t stopped_total_ns;	/* world stopped */
	uint64_t cycle_total_ns;	/* GC_EVENT_START .. GC_EVENT_END */
	uint64_t max_cycle_ns;
	int64_t cycle_t0, stop_t0;
	uint64_t cycle_stopped;
	bool saw_stop;			/* the stop-world events come */
} gcs;

static void on_event(GC_EventType ev)
{
	int64_t t = now_ns();
	uint64_t d;

	switch (ev) {
	case GC_EVENT_START:
		gcs.cycle_t0 = t;
		gcs.cycle_stopped = 0;
		break;
	case GC_EVENT_PRE_STOP_WORLD:
		gcs.stop_t0 = t;
		gcs.saw_stop = true;
		break;
	case GC_EVENT_POST_START_WORLD:
		gcs.cycle_stopped += (uint64_t)(t - gcs.stop_t0);
		break;
	case GC_EVENT_END:
		d = (uint64_t)(t - gcs.cycle_t0);
		/* No stop events: count the whole collection as the pause. */
		if (!gcs.saw_stop)
			gcs.cycle_stopped = d;
		gcs.num_gc++;
		gcs.pause_ns[(gcs.num_gc + PAUSE_RING - 1) % PAUSE_RING] = gcs.cycle_stopped;
		gcs.stopped_total_ns += gcs.cycle_stopped;
		gcs.cycle_total_ns += d;
		if (d > gcs.max_cycle_ns)
			gcs.max_cycle_ns = d;
		break;
	default:
		break;
	}
}

static void *read_num_gc(void *arg)
{
	*(uint32_t *)arg = gcs.num_gc;
	return NULL;
}

static uint32_t num_gc(void)
{
	uint32_t n;

	GC_call_with_alloc_lock(read_num_gc, &n);
	return n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * The pauses of the collections after collection @from (the last 256 at
 * most), sorted, in microseconds, into @v; returns how many; *@max and
 * *@p99 (nearest rank) get their maximum and 99th percentile.
 */
static int pauses(uint32_t from, double *v, double *max, double *p99)
{
	uint32_t n, first = from + 1;
	int k = 0;

	if (gcs.num_gc > PAUSE_RING && first < gcs.num_gc - (PAUSE_RING - 1))
		first = gcs.num_gc - (PAUSE_RING - 1);
	for (n = first; n <= gcs.num_gc && n > from; n++)
		v[k++] = (double)gcs.pause_ns[(n + PAUSE_RING - 1) % PAUSE_RING] / 1e3;
	qsort(v, (size_t)k, sizeof(*v), cmp_double);
	*max = k ? v[k - 1] : 0;
	*p99 = k ? v[(99 * k + 99) / 100 - 1] : 0;	/* ceil(0.99 k) */
	return k;
}

static double peak_rss_mb(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		fail("getrusage: %s", strerror(errno));
	return (double)ru.ru_maxrss / 1024;
}

/* The common part of a result line, for the benchmark begun at @t0 after
 * collection @gc0; the caller prints the rest and the newline. */
static void report(const char *name, int64_t t0, uint32_t gc0)
{
	double v[PAUSE_RING], max, p99, cpu;
	int64_t t1 = now_ns();
	int k;

	k = pauses(gc0, v, &max, &p99);
	cpu = ((double)gcs.stopped_total_ns * (double)ncpu +
	       (double)(gcs.cycle_total_ns - gcs.stopped_total_ns)) /
	      ((double)(t1 - prog_t0) * (double)ncpu);
	printf("%s wall_ms=%.0f max_pause_us=%.1f p99_pause_us=%.1f gc_cpu=%.4f peak_rss_mb=%.0f num_gc=%u pauses=%d pause_src=%s max_cycle_us=%.1f boehm_full_gc_ms=%lu markers=%d",
	       name, (double)(t1 - t0) / 1e6, max, p99, cpu, peak_rss_mb(),
	       gcs.num_gc - gc0, k, gcs.saw_stop ? "stw" : "cycle",
	       (double)gcs.max_cycle_ns / 1e3, GC_get_full_gc_total_time(),
	       GC_get_parallel() + 1);
}

/* ---- binarytrees ---- */

struct level {
	int depth, max_depth;
	long iterations, check;
	pthread_t th;
};

static void *level_thread(void *arg)
{
	struct level *l = arg;
	long i, check = 0;

	l->iterations = 1L << (l->max_depth - l->depth + MIN_DEPTH);
	for (i = 1; i <= l->iterations; i++)
		check += item_check(bottom_up_tree(l->depth), l->depth);
	l->check = check;
	return NULL;
}

static void bench_binarytrees(void)
{
	int max_depth = depth_arg < MIN_DEPTH + 2 ? MIN_DEPTH + 2 : depth_arg;
	int stretch = max_depth + 1, d;
	struct level lv[MAX_DEPTH + 1];
	struct tree *long_lived;
	uint32_t gc0 = num_gc();
	int64_t t0 = now_ns();
	long check;

	check = item_check(bottom_up_tree(stretch), stretch);
	check_tree("stretch tree", stretch, 1, check);
	printf("# stretch tree of depth %d\t check: %ld\n", stretch, check);

	long_lived = bottom_up_tree(max_depth);

	for (d = MIN_DEPTH; d <= max_depth; d += 2) {
		lv[d] = (struct level){ .depth = d, .max_depth = max_depth };
		xthread(&lv[d].th, level_thread, &lv[d]);
	}
	for (d = MIN_DEPTH; d <= max_depth; d += 2)
		pthread_join(lv[d].th, NULL);
	for (d = MIN_DEPTH; d <= max_depth; d += 2) {
		check_tree("trees", d, lv[d].iterations, lv[d].check);
		printf("# %ld\t trees of depth %d\t check: %ld\n", lv[d].iterations,
		       d, lv[d].check);
	}
	check = item_check(long_lived, max_depth);
	check_tree("long lived tree", max_depth, 1, check);
	printf("# long lived tree of depth %d\t check: %ld\n", max_depth, check);
	report("binarytrees", t0, gc0);
	printf(" depth=%d procs=%ld\n", max_depth, ncpu);
}

/* ---- liveheap ---- */

static struct node **buckets;	/* a global: a root */
static long nbuckets;

struct mutator {
	int id;
	long ops;
	uint64_t delta;		/* of the sum of node_sum() */
	pthread_t th;
};

/* Replaces @m->ops random nodes of the buckets b with b % 2 == id. */
static void *mutate(void *arg)
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
	}
	m->delta = delta;
	return NULL;
}

static void bench_liveheap(void)
{
	double v[PAUSE_RING], mut_max, p99;
	long b, j, nodes = 0, avg = 0, ops = live_arg * OPS_PER_MB;
	struct mutator mut[MUTATORS];
	uint64_t x = SEED_BUILD, sum = 0, got = 0;
	int64_t t0, t_build, t_mut;
	uint32_t gc0, mid, mut_gc;
	struct node *n;
	size_t s;
	int i;

	for (s = 0; s < NSIZES; s++)
		avg += node_sizes[s];
	nbuckets = ((live_arg << 20) * (long)NSIZES / (BUCKET_LEN * avg)) & ~1L;
	if (nbuckets < 2)
		nbuckets = 2;
	gc0 = num_gc();
	t0 = now_ns();

	/* Build: each bucket a list of BUCKET_LEN nodes, pushed at the head.
	 * The array is only pointed to at its start. */
	buckets = GC_MALLOC_IGNORE_OFF_PAGE((size_t)nbuckets * sizeof(*buckets));
	if (!buckets)
		fail("GC_MALLOC_IGNORE_OFF_PAGE: out of memory");
	for (b = 0; b < nbuckets; b++) {
		for (j = 0; j < BUCKET_LEN; j++) {
			n = new_node(rnd(&x));
			n->next = buckets[b];
			buckets[b] = n;
			sum += node_sum(n);
		}
	}
	t_build = now_ns();
	mid = num_gc();

	for (i = 0; i < MUTATORS; i++) {
		mut[i] = (struct mutator){ .id = i, .ops = ops };
		xthread(&mut[i].th, mutate, &mut[i]);
	}
	for (i = 0; i < MUTATORS; i++) {
		pthread_join(mut[i].th, NULL);
		sum += mut[i].delta;
	}
	t_mut = now_ns();
	mut_gc = num_gc() - mid;
	pauses(mid, v, &mut_max, &p99);

	/* Verify: every node whole, their number and the sum. */
	for (b = 0; b < nbuckets; b++) {
		for (n = buckets[b]; n; n = n->next) {
			check_node(n, true);
			got += node_sum(n);
			nodes++;
		}
	}
	if (nodes != nbuckets * BUCKET_LEN)
		fail("liveheap: %ld nodes, want %ld", nodes, nbuckets * BUCKET_LEN);
	if (got != sum)
		fail("liveheap: checksum %#016llx, want %#016llx",
		     (unsigned long long)got, (unsigned long long)sum);
	report("liveheap", t0, gc0);
	printf(" live_mb=%ld buckets=%ld nodes=%ld ops=%ld build_ms=%.0f mutate_ms=%.0f mut_max_pause_us=%.1f mut_num_gc=%u procs=%ld check=%016llx\n",
	       live_arg, nbuckets, nodes, MUTATORS * ops,
	       (double)(t_build - t0) / 1e6, (double)(t_mut - t_build) / 1e6,
	       mut_max, mut_gc, ncpu, (unsigned long long)got);
	buckets = NULL;
}

/* ---- driver ---- */

static const struct bench {
	const char *name;
	void (*fn)(void);
	void *arg;		/* its parameter, or NULL */
	long min, max;
} benches[] = {
	{ "binarytrees", bench_binarytrees, &depth_arg, 0, MAX_DEPTH },
	{ "liveheap", bench_liveheap, &live_arg, 1, 1L << 20 },
};
#define NBENCH	(int)(sizeof(benches) / sizeof(benches[0]))

static void usage(void)
{
	fprintf(stderr, "usage: gc-boehm [binarytrees [depth]] [liveheap [MiB]]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int run[NBENCH] = { 0 }, i, j, any = 0;
	char *end;
	long v;

	prog_t0 = now_ns();
	GC_INIT();
	GC_set_on_collection_event(on_event);
	GC_start_performance_measurement();
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	/* Names, each optionally followed by its parameter. */
	for (i = 1; i < argc; i++) {
		for (j = 0; j < NBENCH; j++)
			if (!strcmp(argv[i], benches[j].name))
				break;
		if (j == NBENCH)
			usage();
		run[j] = any = 1;
		if (i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9') {
			errno = 0;
			v = strtol(argv[++i], &end, 10);
			if (errno || *end || v < benches[j].min || v > benches[j].max)
				usage();
			if (benches[j].arg == &depth_arg)
				depth_arg = (int)v;
			else
				live_arg = v;
		}
	}
	for (j = 0; j < NBENCH; j++)
		run[j] |= !any;

	printf("# gc bench: collector=boehm-%d.%d.%d threads=pthreads ncpu=%ld\n",
	       GC_VERSION_MAJOR, GC_VERSION_MINOR, GC_VERSION_MICRO, ncpu);
	fflush(stdout);
	for (j = 0; j < NBENCH; j++) {
		if (!run[j])
			continue;
		benches[j].fn();
		fflush(stdout);
	}
	return 0;
}
