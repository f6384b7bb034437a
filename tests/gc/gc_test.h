/* SPDX-License-Identifier: MIT */
/*
 * gc_test.h - helpers shared by the collector's tests in tests/gc.
 *
 * The collector is conservative: any word on a scanned stack, in the
 * data segments or in a scanned heap object that looks like a pointer
 * into an object keeps it.  A test that wants an object to die must
 * therefore leave no copy of its address anywhere the collector looks:
 *
 *   - it keeps the address hidden, GC_HIDE(p) = ~p, which points nowhere
 *     (a non-canonical address), and looks the object up again with
 *     GC_UNHIDE() only to ask gort_heap_object() whether it still exists;
 *   - it creates the garbage, and later looks at it, in goroutines of
 *     their own that then exit (gc_in_goroutine()): a dead goroutine's
 *     stack and registers are not scanned, so stale copies in its frames
 *     do not count.  The goroutine that calls gort_gc() never handles
 *     the addresses: a dead slot of its stack may lie inside the frames
 *     it is parked in during the next cycle.
 *
 * Even so a stray word (a register the scheduler saved, a libc buffer)
 * may hold an address: tests that count freed objects allow a small
 * margin, GC_MARGIN_PCT of what they dropped, rather than demand every one.
 */
#ifndef GC_TEST_H
#define GC_TEST_H

#include "../gort_test.h"

#define MiB		(1ULL << 20)
#define GC_MARGIN_PCT	5	/* of the dropped objects may survive */

#define GC_HIDE(p)	(~(uintptr_t)(p))
#define GC_UNHIDE(h)	((void *)~(uintptr_t)(h))

/* gc_alive() - is @p the start of an allocated heap object? */
static inline bool gc_alive(const void *p)
{
	void *base = NULL;

	return gort_heap_object(p, &base, NULL) == 1 && base == p;
}

/* gc_alive_hidden() - the same for a hidden address. */
static inline bool gc_alive_hidden(uintptr_t h)
{
	return gc_alive(GC_UNHIDE(h));
}

static inline bool gc_stats(struct gort_gcstats *st)
{
	memset(st, 0, sizeof(*st));
	st->sz = sizeof(*st);
	return gort_read_gcstats(st) == 0;
}

static inline bool gc_memstats(struct gort_memstats *ms)
{
	memset(ms, 0, sizeof(*ms));
	ms->sz = sizeof(*ms);
	return gort_read_memstats(ms) == 0;
}

static inline uint32_t gc_num(void)
{
	struct gort_gcstats st;

	return gc_stats(&st) ? st.num_gc : 0;
}

/* gc_mode() - the dirty-tracking mode the collector runs in. */
static inline const char *gc_mode(void)
{
	struct gort_gcstats st;

	return gc_stats(&st) && st.mode ? st.mode : "?";
}

/* gc_full() - @n collections; each one frees what the one before left
 * for finalizers or found still referenced from a stale word. */
static inline void gc_full(int n)
{
	while (n-- > 0)
		GCHECK_EQ(0, gort_gc());
}

/*
 * gc_cycles_beside() - start @fn(@arg) on a goroutine, run @n cycles back
 * to back, then set *@stop and wait (20 s at most) for @fn to release
 * *@done.  False if it did not start or did not end.
 */
static inline bool gc_cycles_beside(void (*fn)(void *arg), void *arg, int n,
				    _Atomic bool *stop, uint32_t *done)
{
	if (!GCHECK(gort_go(fn, arg) > 0))
		return false;
	gc_full(n);
	atomic_store(stop, true);
	return gt_sema_wait(done, 1, 20000);
}

struct gc_job {
	void (*fn)(void *arg);
	void *arg;
	uint32_t done;
};

static inline void gc_job_run(void *arg)
{
	struct gc_job *j = arg;

	j->fn(j->arg);
	gort_sema_release(&j->done);
}

/*
 * gc_in_goroutine() - run @fn(@arg) on a goroutine of its own and wait
 * (at most 60 s) for it to finish; its stack is dead afterwards.
 */
static inline bool gc_in_goroutine(void (*fn)(void *arg), void *arg)
{
	struct gc_job j = { .fn = fn, .arg = arg };

	if (!GCHECK(gort_go(gc_job_run, &j) > 0))
		return false;
	return gt_sema_wait(&j.done, 1, 60000);
}

struct gc_count {
	const uintptr_t *hidden;
	long n, alive;
};

static inline void gc_count_fn(void *arg)
{
	struct gc_count *c = arg;
	long i;

	for (i = 0; i < c->n; i++)
		if (c->hidden[i] && gc_alive_hidden(c->hidden[i]))
			c->alive++;
}

/*
 * gc_count_alive() - how many of the @n hidden addresses still are
 * objects.  Counted on a goroutine of its own: the lookups leave the
 * addresses in dead slots of the stack they run on, which the caller's
 * next gort_gc() could find inside its own frames and keep.
 */
static inline long gc_count_alive(const uintptr_t *hidden, long n)
{
	struct gc_count c = { .hidden = hidden, .n = n };

	if (!gc_in_goroutine(gc_count_fn, &c))
		return -1;
	return c.alive;
}

/* gc_scale() - $GT_GC_SCALE percent of @n (default 100), at least 1:
 * lets a slow build (sanitizers) run the same tests with less work. */
static inline long gc_scale(long n)
{
	const char *s = getenv("GT_GC_SCALE");
	long pct = s ? atol(s) : 100;

	if (pct <= 0)
		pct = 100;
	n = n * pct / 100;
	return n > 0 ? n : 1;
}

/* A cheap deterministic generator (xorshift64*), one state per goroutine. */
static inline uint64_t gc_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* gc_mix() - a 64-bit hash (splitmix64's finalizer). */
static inline uint64_t gc_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/*
 * gc_pad_arena() - allocate one object and keep it for good.  An object
 * at an arena's base was once never collected (the runtime's globals
 * held arena base addresses, and data segments are scanned): collect.c's
 * arena_start_* tests check that.  The other tests that count objects
 * dying allocate this pad first, so that none of their own objects is
 * the heap's first and each test checks one thing.
 */
static void *gc_arena_pad;

static inline void gc_pad_arena(void)
{
	if (!gc_arena_pad)
		gc_arena_pad = gort_alloc(8, GORT_ALLOC_NOSCAN);
}

#endif /* GC_TEST_H */
