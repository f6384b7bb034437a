/* SPDX-License-Identifier: MIT */
/*
 * bench/heap.c - heap micro-benchmarks for gort, and for malloc(3).
 *
 * A benchmark, not a test: it measures and prints one line per result,
 *
 *	<name> <metric>=<value> [<key>=<value>...]
 *
 * where the first key=value is the result that bench/run-heap compares
 * with the other allocators: this program run with --malloc (glibc, or
 * jemalloc or mimalloc under LD_PRELOAD) and bench/go/heap/main.go, which
 * runs the same cases, with the same counts and the same size sequences,
 * on Go.  Lines starting with '#' are comments; the first one names the
 * allocator ("# heap bench: allocator=gort ...").  Times come from
 * CLOCK_MONOTONIC; timed cases run BENCH_ROUNDS rounds after one untimed
 * warm-up round and report the median (min= is the best).
 *
 * Sizes come from a fixed xorshift64* sequence (the same in Go):
 * log-uniform, i.e. every power-of-two octave equally likely and sizes
 * uniform within it.
 *
 * alloc_small_t1, alloc_small_t2
 *		N = 1 and 2 workers: goroutines at GOMAXPROCS=N for gort (and
 *		Go), pthreads for malloc.  Each worker keeps a ring of
 *		SMALL_RING live objects: it fills the ring, then SMALL_OPS
 *		times frees the oldest object and allocates a new one (16..511
 *		bytes) in its slot, writing its first byte; then it empties
 *		the ring.  ns_per_op = wall time of the timed loops (earliest
 *		start to latest end) / all workers' SMALL_OPS: one alloc+free.
 *		gort allocates with GORT_ALLOC_NOSCAN, zeroed as Go's
 *		make([]byte, n); malloc(3) does not zero.  Go cannot free: it
 *		overwrites the slot and its GC reclaims the object (GOGC=100).
 * rss_mixed, rss_mixed_raw
 *		On the main goroutine (thread).  Allocates objects of 16 B ..
 *		64 KiB (log-uniform) until MIX_LIVE bytes are live, then
 *		churns: frees a random live object and allocates new ones
 *		until MIX_LIVE bytes are live again, until MIX_CHURN * MIX_LIVE
 *		bytes were allocated.  Every object is written once per 4 KiB
 *		page and at its last byte, as a program would use it.  Live
 *		bytes are the requested sizes, so size-class rounding counts
 *		as overhead.  rss_per_live = resident set size (/proc/self/
 *		statm: the whole process) / live bytes, measured right after
 *		the churn (rss_mixed_raw), and again (rss_mixed) after giving
 *		free memory back: gort_scavenge() for gort, malloc_trim(0) for
 *		glibc, mallctl("arena.<all>.purge") for jemalloc,
 *		mi_collect(true) for mimalloc, runtime.GC() and
 *		debug.FreeOSMemory() for Go.
 *
 * Usage: heap [--malloc] [alloc_small|rss_mixed...]   (default: all)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_NAME "heap"
#include "bench.h"

#define BENCH_ROUNDS	5
#define MAX_WORKERS	2

#define SIZES_N		65536		/* size sequence, a power of two */
#define SMALL_RING	4096		/* live objects per worker */
#define SMALL_OPS	4000000		/* alloc+free per worker per round */
#define SMALL_OCTAVES	5		/* 16..31, ..., 256..511 */

#define MIX_LIVE	(64L << 20)
#define MIX_CHURN	8
#define MIX_OCTAVES	12		/* 16..31, ..., 32 KiB..64 KiB-1 */
#define MIX_CAP		(1 << 18)	/* live objects at most */

#define SEED_SMALL	0x9e3779b97f4a7c15ull
#define SEED_MIX	0x2545f4914f6cdd1dull

static bool use_malloc;		/* --malloc: malloc(3) and pthreads */
static const char *allocator = "gort";
static unsigned short small_sizes[SIZES_N];

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* xorshift64*, the same in bench/go/heap/main.go. */
static uint64_t rnd(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dull;
}

/* A log-uniform size in [16, 16 << octaves). */
static size_t rnd_size(uint64_t *x, int octaves)
{
	uint64_t r = rnd(x);
	size_t base = (size_t)16 << (r % octaves);

	return base + (r >> 32) % base;
}

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

/*
 * The allocator under test.  The loops below are instantiated once per
 * allocator (always_inline with a constant @m) so that neither pays for an
 * indirect call.
 */
static inline __attribute__((always_inline)) void *xalloc(bool m, size_t n)
{
	void *p = m ? malloc(n) : gort_alloc(n, GORT_ALLOC_NOSCAN);

	if (__builtin_expect(!p, 0))
		die(m ? "malloc" : "gort_alloc", ENOMEM);
	return p;
}

static inline __attribute__((always_inline)) void xfree(bool m, void *p)
{
	if (m)
		free(p);
	else
		gort_free(p);
}

/* Bookkeeping arrays: gort_alloc()ed (scanned) under gort, so that a
 * collector would see the objects they hold. */
static void *table_alloc(size_t n)
{
	void *p = use_malloc ? calloc(1, n) : gort_alloc(n, 0);

	if (!p)
		die("table_alloc", ENOMEM);
	return p;
}

static void table_free(void *p)
{
	if (use_malloc)
		free(p);
	else
		gort_free(p);
}

/* ---- alloc_small ---- */

struct worker {
	int id;
	int64_t t0, t1;		/* the timed loop */
	struct gort_waitgroup *wg;
};

static inline __attribute__((always_inline)) void small_loop(bool m,
							    struct worker *w)
{
	void **ring = table_alloc(SMALL_RING * sizeof(*ring));
	unsigned int k = (unsigned int)w->id * (SIZES_N / MAX_WORKERS);
	unsigned int i;
	char *p;

	for (i = 0; i < SMALL_RING; i++, k++) {
		p = xalloc(m, small_sizes[k % SIZES_N]);
		p[0] = (char)i;
		ring[i] = p;
	}
	w->t0 = now_ns();
	for (i = 0; i < SMALL_OPS; i++, k++) {
		xfree(m, ring[i % SMALL_RING]);
		p = xalloc(m, small_sizes[k % SIZES_N]);
		p[0] = (char)i;
		ring[i % SMALL_RING] = p;
	}
	w->t1 = now_ns();
	for (i = 0; i < SMALL_RING; i++)
		xfree(m, ring[i]);
	table_free(ring);
}

static void small_gort(void *arg)
{
	struct worker *w = arg;

	small_loop(false, w);
	gort_waitgroup_done(w->wg);
}

static void *small_malloc(void *arg)
{
	small_loop(true, arg);
	return NULL;
}

/* One round with @n workers; ns per alloc+free over all of them. */
static double small_round(int n)
{
	struct gort_waitgroup wg = GORT_WAITGROUP_INIT;
	struct worker w[MAX_WORKERS];
	pthread_t th[MAX_WORKERS];
	int64_t t0 = INT64_MAX, t1 = 0, id;
	int i, err;

	if (!use_malloc)
		gort_waitgroup_add(&wg, n);
	for (i = 0; i < n; i++) {
		w[i] = (struct worker){ .id = i, .wg = &wg };
		if (use_malloc) {
			err = pthread_create(&th[i], NULL, small_malloc, &w[i]);
			if (err)
				die("pthread_create", err);
		} else {
			id = gort_go(small_gort, &w[i]);
			if (id < 0)
				die("gort_go", -id);
		}
	}
	if (use_malloc) {
		for (i = 0; i < n; i++)
			pthread_join(th[i], NULL);
	} else {
		gort_waitgroup_wait(&wg);
	}
	for (i = 0; i < n; i++) {
		t0 = w[i].t0 < t0 ? w[i].t0 : t0;
		t1 = w[i].t1 > t1 ? w[i].t1 : t1;
	}
	return (double)(t1 - t0) / ((double)n * SMALL_OPS);
}

static void bench_alloc_small(void)
{
	double v[BENCH_ROUNDS], cold, med;
	int old = 0, n, r;
	uint64_t x = SEED_SMALL;

	for (r = 0; r < SIZES_N; r++)
		small_sizes[r] = (unsigned short)rnd_size(&x, SMALL_OCTAVES);
	if (!use_malloc)
		old = gort_maxprocs(0);
	for (n = 1; n <= MAX_WORKERS; n++) {
		if (!use_malloc && gort_maxprocs(n) < 0)
			die("gort_maxprocs", EINVAL);
		cold = small_round(n);
		for (r = 0; r < BENCH_ROUNDS; r++)
			v[r] = small_round(n);
		med = median(v, BENCH_ROUNDS);
		printf("alloc_small_t%d ns_per_op=%.1f min=%.1f cold=%.1f ops=%d ring=%d threads=%d rounds=%d op=alloc+free zeroed=%s\n",
		       n, med, v[0], cold, n * SMALL_OPS, SMALL_RING, n,
		       BENCH_ROUNDS, use_malloc ? "no" : "yes");
	}
	if (!use_malloc)
		gort_maxprocs(old);
}

/* ---- rss_mixed ---- */

/* Gives free memory back to the OS the allocator's own way; returns how. */
static const char *release_free_memory(void)
{
	int (*mallctl)(const char *, void *, size_t *, void *, size_t);
	void (*mi_collect)(bool);

	if (!use_malloc) {
		gort_scavenge();
		return "gort_scavenge";
	}
	mallctl = (int (*)(const char *, void *, size_t *, void *, size_t))
		dlsym(RTLD_DEFAULT, "mallctl");
	if (mallctl) {
		/* 4096 = MALLCTL_ARENAS_ALL */
		if (mallctl("arena.4096.purge", NULL, NULL, NULL, 0))
			die("mallctl arena.4096.purge", EINVAL);
		return "mallctl_purge";
	}
	mi_collect = (void (*)(bool))dlsym(RTLD_DEFAULT, "mi_collect");
	if (mi_collect) {
		mi_collect(true);
		return "mi_collect";
	}
	malloc_trim(0);
	return "malloc_trim";
}

static inline __attribute__((always_inline)) void touch(char *p, size_t n)
{
	size_t off;

	for (off = 0; off < n; off += 4096)
		p[off] = 1;
	p[n - 1] = 1;
}

static inline __attribute__((always_inline)) void mix_loop(bool m,
		void **obj, uint32_t *size, long *nobj, long *nalloc)
{
	uint64_t x = SEED_MIX, allocated = 0;
	long live = 0, n = 0, v, allocs = 0;
	size_t s;

	for (;;) {
		while (live < MIX_LIVE) {
			if (n == MIX_CAP)
				die("rss_mixed: too many objects", ENOSPC);
			s = rnd_size(&x, MIX_OCTAVES);
			obj[n] = xalloc(m, s);
			touch(obj[n], s);
			size[n++] = (uint32_t)s;
			live += (long)s;
			allocated += s;
			allocs++;
		}
		if (allocated >= (uint64_t)(MIX_CHURN + 1) * MIX_LIVE)
			break;
		v = (long)(rnd(&x) % (uint64_t)n);
		xfree(m, obj[v]);
		live -= size[v];
		obj[v] = obj[--n];
		size[v] = size[n];
	}
	*nobj = n;
	*nalloc = allocs;
}

static void bench_rss_mixed(void)
{
	void **obj = table_alloc(MIX_CAP * sizeof(*obj));
	uint32_t *size = table_alloc(MIX_CAP * sizeof(*size));
	long base, raw, rss, live = 0, n, nalloc, i;
	const char *how;
	int64_t t0, t1;

	base = rss_bytes();
	t0 = now_ns();
	if (use_malloc)
		mix_loop(true, obj, size, &n, &nalloc);
	else
		mix_loop(false, obj, size, &n, &nalloc);
	t1 = now_ns();
	for (i = 0; i < n; i++)
		live += size[i];
	raw = rss_bytes();
	how = release_free_memory();
	rss = rss_bytes();
	printf("rss_mixed_raw rss_per_live=%.3f rss_kb=%ld live_kb=%ld base_kb=%ld objects=%ld allocs=%ld ns_per_alloc=%.0f after=churn\n",
	       (double)raw / live, raw / 1024, live / 1024, base / 1024, n,
	       nalloc, (double)(t1 - t0) / nalloc);
	printf("rss_mixed rss_per_live=%.3f rss_kb=%ld live_kb=%ld base_kb=%ld objects=%ld after=%s\n",
	       (double)rss / live, rss / 1024, live / 1024, base / 1024, n,
	       how);
	if (!use_malloc) {
		struct gort_memstats ms = { .sz = sizeof(ms) };

		if (gort_read_memstats(&ms) == 0)
			printf("# gort memstats: heap_alloc_kb=%llu heap_inuse_kb=%llu heap_sys_kb=%llu heap_released_kb=%llu mspan_sys_kb=%llu stack_sys_kb=%llu\n",
			       (unsigned long long)ms.heap_alloc / 1024,
			       (unsigned long long)ms.heap_inuse / 1024,
			       (unsigned long long)ms.heap_sys / 1024,
			       (unsigned long long)ms.heap_released / 1024,
			       (unsigned long long)ms.mspan_sys / 1024,
			       (unsigned long long)ms.stack_sys / 1024);
	}
	for (i = 0; i < n; i++)
		xfree(use_malloc, obj[i]);
	table_free(size);
	table_free(obj);
}

/* ---- driver ---- */

static const struct bench benches[] = {
	/* rss_mixed first: it measures the whole process */
	{ "rss_mixed", bench_rss_mixed },
	{ "alloc_small", bench_alloc_small },
};

static int bench_main(void *arg)
{
	struct args *a = arg;

	if (use_malloc)
		printf("# heap bench: allocator=%s threads=pthreads ncpu=%ld\n",
		       allocator, sysconf(_SC_NPROCESSORS_ONLN));
	else
		printf("# heap bench: allocator=gort procs=%d ncpu=%d\n",
		       gort_maxprocs(0), gort_num_cpu());
	fflush(stdout);
	bench_run(benches, NBENCH, a);
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = { { 0 } };
	const char *names[NBENCH];
	int i, n = 1;

	/* --malloc anywhere: measure malloc(3) instead of gort. */
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--malloc"))
			use_malloc = true;
		else
			argv[n++] = argv[i];
	}
	for (i = 0; i < NBENCH; i++)
		names[i] = benches[i].name;
	bench_select(n, argv, names, NBENCH, a.run, "[--malloc] ");
	if (use_malloc) {
		/* Which malloc(3) is this?  LD_PRELOAD may have replaced it. */
		if (dlsym(RTLD_DEFAULT, "mallctl"))
			allocator = "jemalloc";
		else if (dlsym(RTLD_DEFAULT, "mi_version"))
			allocator = "mimalloc";
		else
			allocator = "glibc";
		return bench_main(&a);
	}
	return bench_gort_main(bench_main, &a);
}
