/* SPDX-License-Identifier: MIT */
/*
 * Description: allocation stress with content checks, on 1 and 2 Ps
 * (FIXTURE_VARIANT), by goroutines and by plain threads at the same time.
 *
 * Each worker keeps a window of live objects of random sizes, 8 bytes to
 * 64 KiB (log-uniform, so every small class and large objects too), each
 * filled over its whole requested size with a pattern seeded from its
 * address and a serial; it replaces random ones, checking the pattern
 * before each free.  Objects are self-describing (the first word encodes
 * size and serial, xored with a hash of the address), so any worker can
 * check any object: workers also swap objects through shared slots and
 * free what they get, so objects allocated on one P or thread are freed
 * on another (cross-P frees, frees of P-cache objects from plain threads
 * and the other way round).  Plain threads use the node's shared cache.
 * At the end everything is freed and MemStats heap_objects and
 * heap_alloc are back at their baseline.
 */
#include "../gort_test.h"

/*
 * These tests drive the allocator with explicit gort_free() and keep
 * objects where the collector does not look (malloc'ed arrays, the stacks
 * of plain threads): the collector is off, as GORT_GC=off would set it.
 */
__attribute__((constructor)) static void gc_off(void)
{
	setenv("GORT_GC", "off", 1);
}

#include <pthread.h>

#define GOROUTINES	8
#define THREADS		2
#define WINDOW		48
#define OPS		30000
#define SLOTS		64
#define MIN_SIZE	8
#define MAX_SIZE	(64 << 10)

struct stress {
	int procs;
	_Atomic(uintptr_t) slot[SLOTS];	/* objects in transit, 0 = empty */
	atomic_llong allocs, frees, swaps, large;
	uint32_t done;			/* sema: goroutine workers */
	struct gort_memstats before, after;
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return mix(*s);
}

/* Log-uniform in [MIN_SIZE, MAX_SIZE]. */
static size_t rnd_size(uint64_t *s)
{
	int bits = 3 + (int)(rnd(s) % 14);		/* 8 .. 64 KiB */
	size_t lo = (size_t)1 << bits, size = lo + rnd(s) % lo;

	return size > MAX_SIZE ? MAX_SIZE : size;
}

/* Header word: size (24 bits) and serial (40 bits), under an address hash. */
static uint64_t header(uintptr_t p, size_t size, uint64_t serial)
{
	return mix(p) ^ ((uint64_t)size << 40 | (serial & ((1ULL << 40) - 1)));
}

static void fill(void *obj, size_t size, uint64_t serial)
{
	uint64_t *w = obj, s = mix((uintptr_t)obj ^ (serial << 1)), x;
	size_t i, nw = size / 8;
	unsigned char *tail = (unsigned char *)obj + nw * 8;

	w[0] = header((uintptr_t)obj, size, serial);
	for (i = 1; i < nw; i++)
		w[i] = s += 0x9e3779b97f4a7c15ULL;
	x = s;
	for (i = 0; i < size % 8; i++)
		tail[i] = (unsigned char)(x >> (8 * i)) ^ 0x5c;
}

/* check() - the object is intact; then it is freed. */
static void check_free(void *obj, const char *who)
{
	uint64_t *w = obj, h = w[0] ^ mix((uintptr_t)obj), serial, s, x;
	size_t size = (size_t)(h >> 40), i, nw, osize = 0;
	unsigned char *tail;
	void *base = NULL;

	serial = h & ((1ULL << 40) - 1);
	if (size < MIN_SIZE || size > MAX_SIZE) {
		GFAIL("%s: object %p: header %#llx destroyed", who, obj,
		      (unsigned long long)w[0]);
		return;	/* leaked: the heap_objects check will fail too */
	}
	if (!GCHECK_EQ(1, gort_heap_object((char *)obj + size - 1, &base, &osize)) ||
	    !GCHECK(base == obj) || !GCHECK_EQ(gort_roundup_size(size), osize))
		return;
	nw = size / 8;
	s = mix((uintptr_t)obj ^ (serial << 1));
	for (i = 1; i < nw; i++) {
		if (w[i] != (s += 0x9e3779b97f4a7c15ULL)) {
			GFAIL("%s: object %p (%zu bytes, serial %llu): word %zu is %#llx",
			      who, obj, size, (unsigned long long)serial, i,
			      (unsigned long long)w[i]);
			return;
		}
	}
	x = s;
	tail = (unsigned char *)obj + nw * 8;
	for (i = 0; i < size % 8; i++) {
		if (tail[i] != ((unsigned char)(x >> (8 * i)) ^ 0x5c)) {
			GFAIL("%s: object %p: tail byte %zu", who, obj, i);
			return;
		}
	}
	gort_free(obj);
}

struct worker {
	struct stress *st;
	uint64_t seed;
	bool goroutine;
};

static void work(struct worker *wk)
{
	struct stress *st = wk->st;
	const char *who = wk->goroutine ? "goroutine" : "thread";
	void *win[WINDOW] = { 0 };
	uint64_t s = wk->seed, serial = wk->seed << 24;
	long long allocs = 0, frees = 0, swaps = 0, large = 0;
	int op, i;

	for (op = 0; op < OPS; op++) {
		int k = (int)(rnd(&s) % WINDOW);
		uint64_t r = rnd(&s);

		if (win[k]) {
			if (r % 8 == 0) {
				/* Hand it over; free whatever was in transit. */
				uintptr_t old = atomic_exchange(&st->slot[r / 8 % SLOTS],
								(uintptr_t)win[k]);

				swaps++;
				if (old) {
					check_free((void *)old, who);
					frees++;
				}
			} else {
				check_free(win[k], who);
				frees++;
			}
			win[k] = NULL;
		}
		if (r % 3) {
			size_t size = rnd_size(&s);

			win[k] = gort_alloc(size, r & 16 ? GORT_ALLOC_NOSCAN : 0);
			if (!win[k]) {
				GFAIL("%s: gort_alloc(%zu) failed: %s", who, size, strerror(errno));
				break;
			}
			allocs++;
			large += size > GORT_MAX_SMALL_SIZE;
			fill(win[k], size, ++serial);
		}
		if (wk->goroutine && op % 128 == 0)
			gort_yield();
	}
	for (i = 0; i < WINDOW; i++) {
		if (win[i]) {
			check_free(win[i], who);
			frees++;
		}
	}
	atomic_fetch_add(&st->allocs, allocs);
	atomic_fetch_add(&st->frees, frees);
	atomic_fetch_add(&st->swaps, swaps);
	atomic_fetch_add(&st->large, large);
}

static void g_worker(void *arg)
{
	struct worker *wk = arg;

	work(wk);
	gort_sema_release(&wk->st->done);
}

static void *t_worker(void *arg)
{
	work(arg);
	return NULL;
}

static bool read_ms(struct gort_memstats *ms)
{
	memset(ms, 0, sizeof(*ms));
	ms->sz = sizeof(*ms);
	return gort_read_memstats(ms) == 0;
}

static int stress_main(void *arg)
{
	struct stress *st = arg;
	struct worker gw[GOROUTINES], tw[THREADS];
	pthread_t th[THREADS];
	int i, nth = 0;

	GCHECK(read_ms(&st->before));
	gort_external_wakers(1);
	for (i = 0; i < THREADS; i++) {
		tw[i] = (struct worker){ .st = st, .seed = 1000 + i, .goroutine = false };
		if (GCHECK_EQ(0, pthread_create(&th[i], NULL, t_worker, &tw[i])))
			nth++;
	}
	for (i = 0; i < GOROUTINES; i++) {
		gw[i] = (struct worker){ .st = st, .seed = 1 + i, .goroutine = true };
		GCHECK(gort_go(g_worker, &gw[i]) > 0);
	}
	gt_sema_wait(&st->done, GOROUTINES, 20000);
	for (i = 0; i < nth; i++)
		GORT_BLOCKING(pthread_join(th[i], NULL));
	gort_external_wakers(-1);
	/* What is left in transit. */
	for (i = 0; i < SLOTS; i++) {
		uintptr_t p = atomic_exchange(&st->slot[i], 0);

		if (p) {
			check_free((void *)p, "main");
			atomic_fetch_add(&st->frees, 1);
		}
	}
	GCHECK(read_ms(&st->after));
	return 0;
}

FIXTURE(stress) {
	struct stress st;
};

FIXTURE_VARIANT(stress) {
	int procs;
};

FIXTURE_VARIANT_ADD(stress, one_p) {
	.procs = 1,
};

FIXTURE_VARIANT_ADD(stress, two_ps) {
	.procs = 2,
};

FIXTURE_SETUP(stress)
{
	memset(&self->st, 0, sizeof(self->st));
	self->st.procs = variant->procs;
}

FIXTURE_TEARDOWN(stress) {}

TEST_F(stress, window)
{
	struct stress *st = &self->st;

	ASSERT_EQ(0, gt_run(stress_main, st, variant->procs));
	ASSERT_EQ(0, gt_failed());
	TH_LOG("%lld allocs (%lld large), %lld frees, %lld swaps",
	       atomic_load(&st->allocs), atomic_load(&st->large),
	       atomic_load(&st->frees), atomic_load(&st->swaps));
	ASSERT_EQ(atomic_load(&st->allocs), atomic_load(&st->frees));
	/* The mix really covered large objects and hand-overs. */
	ASSERT_LT(100, atomic_load(&st->large));
	ASSERT_LT(1000, atomic_load(&st->swaps));
	/* Everything freed: the heap is back where it was. */
	EXPECT_EQ(st->before.heap_objects, st->after.heap_objects);
	EXPECT_EQ(st->before.heap_alloc, st->after.heap_alloc);
	EXPECT_EQ(st->before.mallocs + (uint64_t)atomic_load(&st->allocs), st->after.mallocs);
	EXPECT_EQ(st->before.frees + (uint64_t)atomic_load(&st->frees), st->after.frees);
	EXPECT_EQ(st->after.heap_sys, st->after.heap_inuse + st->after.heap_idle);
}

TEST_HARNESS_MAIN
