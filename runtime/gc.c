// SPDX-License-Identifier: MIT
/*
 * gc.c - a concurrent tri-color mark-sweep collector, non-moving, with
 * the kernel as the write barrier (Documentation/gc.rst).
 *
 * A cycle, run by the GC goroutine (Go's phases, in Go's names):
 *
 *   sweep termination  finish the previous cycle's sweep; stop the
 *                      world, set gcmarking, start the world.
 *   concurrent mark    start a dirty-page interval (gcdirty.c); scan the
 *                      roots and drain the gray set while goroutines
 *                      run; then rounds: collect the pages
 *                      written since the last look, re-scan the black
 *                      objects on them, drain; until a round finds little
 *                      to do.
 *   mark termination   stop the world; a last round: dirty pages, the
 *                      globals and other roots, the stacks of goroutines
 *                      that ran; drain; gcmarking off; flush every mcache;
 *                      sweepgen += 2; start the world.
 *   concurrent sweep   sweepone() in the background, and in mcentral before
 *                      an mcache takes a span.
 *
 * Tri-color: white = not marked; gray = marked and on the mark stack
 * (or on a page written since it was scanned); black = marked and scanned.
 * The invariant a write barrier keeps (no black object points to a white
 * one) is broken by goroutines between two looks, but only on pages that
 * the next look reports as written: re-scanning the black objects on
 * them restores it.  The last look is made with the world stopped, so
 * nothing can break it again before the marks are used.  Goroutine
 * stacks are not tracked by page: a goroutine that ran, was readied or
 * was created since its stack was scanned is re-scanned at mark
 * termination.
 *
 * Objects allocated while marking are white, unlike Go's (allocate-
 * black): a pointer to one was stored after the interval began, so it is
 * on a page a later look reports, in a stack re-scanned at the end, or
 * in a root scanned at the end; short-lived ones die in the cycle they
 * were born in, and the pages they fill cost no re-scan (only black
 * objects on a written page are re-scanned).
 *
 * Conservative everywhere: any aligned word that points into an
 * allocated object (interior pointers too) keeps it; objects allocated
 * GORT_ALLOC_NOSCAN are not scanned.  The GC goroutine marks, and past
 * the heap goal so do the goroutines that allocate (mark assists, which
 * share gray objects with it through a pool: below).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mgc.h"

#if defined(__clang__) || defined(__GNUC__)
#define __noasan __attribute__((no_sanitize_address))
#else
#define __noasan
#endif

uint32_t gcmarking;
uint64_t gcstressn;		/* GORT_DEBUG=gcstress=N */

/* ---- state ---- */

struct gcstate gc;

/* Per-node sweep statistics: frees the sweeper made (mstats sums them). */
static struct mcache *sweepstats[MAX_NODES];

/* ---- the mark stack ---- */

struct graywork {
	uintptr_t lo, hi;
};

/*
 * struct gcwork - a marker's gray set: the GC goroutine's (bgw) or an
 * assist's (its P's).  New objects are white and sweep is done before
 * marking starts, so markers are the only writers of mark bytes.
 * Goroutines that scan their own stacks (gc_selfscan) only collect the
 * words that may be pointers and hand them over to the GC goroutine.
 */
struct gcwork {
	struct graywork *v;
	size_t n, cap;
	uint64_t marked;		/* bytes shaded this cycle */
};

static struct gcwork bgw;
static struct lock handofflock;		/* leaf */
static uintptr_t *handoff;		/* handofflock: possible pointers */
static size_t nhandoff, caphandoff;

static void *growarray(void *v, size_t n, size_t *cap, size_t esize)
{
	size_t ncap = *cap ? *cap * 2 : 65536;
	void *nv = sysmap(ncap * esize);

	if (!nv)
		throw("gc: out of memory for the mark stack");
	if (v) {
		memcpy(nv, v, n * esize);
		sysunmap(v, *cap * esize);
	}
	*cap = ncap;
	return nv;
}

/* Hand @n possible pointers to the GC goroutine. */
static void handover(const uintptr_t *v, size_t n)
{
	lock(&handofflock);
	while (nhandoff + n > caphandoff)
		handoff = growarray(handoff, nhandoff, &caphandoff, sizeof(*handoff));
	memcpy(handoff + nhandoff, v, n * sizeof(*v));
	__atomic_store_n(&nhandoff, nhandoff + n, __ATOMIC_RELEASE);
	unlock(&handofflock);
}

static void markword(struct gcwork *w, uintptr_t v);

/* Shade what goroutines handed over; GC goroutine only. */
static bool take_handoff(void)
{
	uintptr_t *v;
	size_t n, cap, i;

	if (!__atomic_load_n(&nhandoff, __ATOMIC_ACQUIRE))
		return false;
	lock(&handofflock);
	v = handoff;
	n = nhandoff;
	cap = caphandoff;
	handoff = NULL;
	nhandoff = caphandoff = 0;
	unlock(&handofflock);
	for (i = 0; i < n; i++)
		markword(&bgw, v[i]);
	sysunmap(v, cap * sizeof(*v));
	return true;
}

static void graypush(struct gcwork *w, uintptr_t lo, uintptr_t hi)
{
	if (unlikely(w->n == w->cap))
		w->v = growarray(w->v, w->n, &w->cap, sizeof(*w->v));
	w->v[w->n].lo = lo;
	w->v[w->n].hi = hi;
	w->n++;
}

/*
 * Typed objects (gort_alloc_typed) go on the gray stack with bit 0 of
 * lo set: scanned through their type's pointer mask, not word by word.
 */
static inline uintptr_t typedbit(const struct mspan *s, uint32_t idx)
{
	return __atomic_load_n(&s->typedbits[idx >> 6], __ATOMIC_ACQUIRE) >> (idx & 63) & 1;
}

/*
 * typed_words() - call @fn(@w, word, address) for each word of typed
 * object [@b, @end) in [@lo, @hi) that its type marks as a possible pointer.
 * The type is the object's last word; without one (not set yet) every
 * word is a possible pointer.
 */
static __always_inline void typed_words(struct gcwork *w, uintptr_t b, uintptr_t end,
					uintptr_t lo, uintptr_t hi,
					void (*fn)(struct gcwork *w, uintptr_t v, uintptr_t at))
{
	const struct gort_type *t = *(const struct gort_type *const *)(end - 8);
	uintptr_t e, p, words;

	end -= 8;
	if (hi > end)
		hi = end;
	if (!t) {
		for (p = lo; p + 8 <= hi; p += 8)
			fn(w, __atomic_load_n((uintptr_t *)p, __ATOMIC_RELAXED), p);
		return;
	}
	words = t->size / 8;
	e = lo > b ? b + (lo - b) / t->size * t->size : b;	/* first element */
	for (; e < hi; e += t->size) {
		uintptr_t i;

		for (i = 0; i < words; i++) {
			uint64_t m = t->ptrmask[i / 64] >> (i % 64);

			if (!m) {		/* no more pointers in this word of the mask */
				i |= 63;
				continue;
			}
			if (!(m & 1))
				continue;
			p = e + i * 8;
			if (p >= lo && p + 8 <= hi)
				fn(w, __atomic_load_n((uintptr_t *)p, __ATOMIC_RELAXED), p);
		}
	}
}

/*
 * markspan() - shade the object of small-or-large span @s that @v
 * points into, if it is allocated and white.  A freed object whose
 * freebit is still pending, or one in a free cache, may get marked
 * through a stale pointer: sweep merges frees first and leaves cached
 * objects alone, so the mark only costs a scan of its old contents.
 */
static __always_inline void markspan(struct gcwork *w, struct mspan *s, uintptr_t v)
{
	uint32_t idx;
	uint8_t *mb;

	if ((s->spanclass >> 1) == 0) {
		if (!__atomic_load_n(&s->allocCount, __ATOMIC_ACQUIRE) ||
		    __atomic_load_n(&s->largemark, __ATOMIC_RELAXED) ||
		    __atomic_exchange_n(&s->largemark, 1, __ATOMIC_RELAXED))
			return;		/* or another marker got there first */
		/* Before any scan of it: gc_wb()'s Dekker pair. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		w->marked += s->npages * PAGE_SIZE;
		if (!(s->spanclass & 1))
			graypush(w, s->base | !!__atomic_load_n(&s->largetyped, __ATOMIC_ACQUIRE),
				 s->base + s->npages * PAGE_SIZE);
		return;
	}
	idx = span_objindex(s, v);
	if (idx >= s->nelems)
		return;
	if (!(__atomic_load_n(&s->allocbits[idx >> 6], __ATOMIC_RELAXED) &
	      (1ULL << (idx & 63))))
		return;
	/*
	 * A mark byte, not a bit: a plain store loses no other object's
	 * mark, and costs a fifth of a locked OR.  Two markers may both
	 * see it clear and both scan the object: twice the work, the same
	 * marks (and @marked counts it twice).
	 */
	mb = &s->gcmarkbytes[idx];
	if (__atomic_load_n(mb, __ATOMIC_RELAXED))
		return;
	__atomic_store_n(mb, 1, __ATOMIC_RELAXED);
	w->marked += s->elemsize;
	if (!(s->spanclass & 1)) {
		uintptr_t b = s->base + (uintptr_t)idx * s->elemsize;

		graypush(w, b | typedbit(s, idx), b + s->elemsize);
	}
}

/* The in-use span @v points into, or NULL. */
static inline struct mspan *spanfor(uintptr_t v)
{
	struct mspan *s;

	uintptr_t lo = __atomic_load_n(&arena_lo, __ATOMIC_RELAXED);

	/* Re-read: an arena created while we mark widens them. */
	if ((v >> ARENA_SHIFT) - lo >= __atomic_load_n(&arena_hi, __ATOMIC_RELAXED) - lo)
		return NULL;
	s = spanof(v);
	if (!s || __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != mSpanInUse ||
	    !__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE) ||
	    v >= s->base + s->npages * PAGE_SIZE)
		return NULL;
	return s;
}

/*
 * gc_wb() - @p was just stored at @slot, in an object allocated
 * ALLOC_UNTRACKED, whose pages no look reports.  Dijkstra's insertion
 * barrier: if that object is already gray or black, shade @p (hand it to
 * the GC goroutine, the only marker).  Call only while gcmarking, with no
 * preemption point between the store and the call, so that the store
 * and the call fall in the same phase.
 */
void gc_wb(const void *slot, const void *p)
{
	struct mspan *s = spanfor((uintptr_t)slot), *t;
	uintptr_t v = (uintptr_t)p;
	uint32_t idx;

	/* A small object's page is tracked: a look reports the store. */
	if (!s || (s->spanclass >> 1) != 0)
		return;
	/*
	 * The store before the mark check, as markspan() sets the mark
	 * before the object's scan: either we see the mark, or its scan
	 * sees our store.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&s->largemark, __ATOMIC_RELAXED))
		return;
	t = spanfor(v);
	if (!t)
		return;
	if ((t->spanclass >> 1) == 0) {
		if (__atomic_load_n(&t->largemark, __ATOMIC_RELAXED))
			return;
	} else {
		idx = span_objindex(t, v);
		if (idx >= t->nelems ||
		    __atomic_load_n(&t->gcmarkbytes[idx], __ATOMIC_RELAXED))
			return;
	}
	handover(&v, 1);
}

/* markword() - if @v points into an allocated white object, shade it. */
static void markword(struct gcwork *w, uintptr_t v)
{
	struct mspan *s = spanfor(v);

	if (s)
		markspan(w, s, v);
}

/*
 * Every aligned word of [lo, hi) is a possible pointer.  Reads memory
 * other threads write (and stack redzones): no sanitizer here.  Objects
 * allocated together point near each other: the last span found is
 * tried first (an in-use span keeps its pages until sweep, after mark).
 */
static __noasan void scanrange(struct gcwork *w, uintptr_t lo, uintptr_t hi)
{
	struct mspan *last = NULL;
	uintptr_t p, llo = 0, lhi = 0;	/* empty: v - 0 < 0 never holds */
	/*
	 * The arena bounds once, not per word (most words of data segments
	 * and stacks are not heap addresses: 1.5 -> 0.x ns a word).  An arena
	 * created since holds only objects allocated black.
	 */
	uintptr_t alo = __atomic_load_n(&arena_lo, __ATOMIC_RELAXED);
	uintptr_t alen = __atomic_load_n(&arena_hi, __ATOMIC_RELAXED) - alo;

	for (p = (lo + 7) & ~(uintptr_t)7; p + 8 <= hi; p += 8) {
		uintptr_t v = __atomic_load_n((uintptr_t *)p, __ATOMIC_RELAXED);

		if (v - llo < lhi - llo) {
			markspan(w, last, v);
			continue;
		}
		if ((v >> ARENA_SHIFT) - alo >= alen)
			continue;
		last = spanfor(v);
		if (!last) {
			llo = lhi = 0;
			continue;
		}
		llo = last->base;
		lhi = last->base + last->npages * PAGE_SIZE;
		markspan(w, last, v);
	}
}

static void markword_at(struct gcwork *w, uintptr_t v, uintptr_t at)
{
	(void)at;
	markword(w, v);
}

/* The words of typed object [@b, @end) within [@lo, @hi). */
static __noasan void scantyped(struct gcwork *w, uintptr_t b, uintptr_t end, uintptr_t lo,
			       uintptr_t hi)
{
	typed_words(w, b, end, lo, hi, markword_at);
}

static int64_t yielded;		/* ns the GC goroutine spent preempted */

/* A preemption point for the GC goroutine; counts the time it gave away
 * (the rest of a cycle's wall time is its CPU time). */
static void gcyield(void)
{
	int64_t t = nanotime();

	preemptcheck();
	yielded += nanotime() - t;
}

/*
 * Big objects are scanned a chunk at a time, the rest pushed back gray:
 * a marker shares it, and an assist stops for the world within a chunk
 * (4096 words, each possibly a cache miss: a few hundred microseconds
 * at worst).  Only large objects are chunked (CHUNK is the largest small
 * size): a later chunk of a typed one is {lo | 2, hi}, and its span
 * gives the object's bounds (and so its type).
 */
#define CHUNK	MAX_SMALL_SIZE

static __always_inline void scanwork(struct gcwork *gw, struct graywork w)
{
	uintptr_t b, end, lo, hi = w.hi;

	if (!(w.lo & 3)) {
		if (hi - w.lo > CHUNK) {
			hi = w.lo + CHUNK;
			graypush(gw, hi, w.hi);
		}
		scanrange(gw, w.lo, hi);
		return;
	}
	lo = w.lo & ~(uintptr_t)3;
	if (w.lo & 1) {
		b = lo;
		end = w.hi;
	} else {
		struct mspan *s = spanof(lo);

		b = s->base;
		end = s->base + s->npages * PAGE_SIZE;
	}
	if (hi - lo > CHUNK) {
		hi = lo + CHUNK;
		graypush(gw, hi | 2, w.hi);
	}
	scantyped(gw, b, end, lo, hi);
}

/* ---- mark assists: the gray objects the markers share ---- */

/*
 * A goroutine that allocates past the heap goal while the GC marks helps
 * it mark (Go's mark assist) instead of waiting for the cycle.  Assists
 * take packets of gray objects from a pool and mark with a gray stack of
 * their own, their P's (they hold their P while they have gray objects:
 * marking has no preemption point).  Mark bytes are set with plain
 * stores (markspan): two markers may scan one object.  A marker that
 * holds two gray objects or more puts the oldest half (in a depth-first
 * mark, the roots of the biggest subtrees) in the pool when somebody
 * waits for work; an assist with nothing to take sleeps until some is
 * shared or marking ends.  An assist asked to stop (at a stop-the-world)
 * first puts all its gray objects in the pool: with the world stopped,
 * every gray object is in the pool or with the GC goroutine.
 */
#define PKT	128

struct graypkt {
	struct graypkt *next;
	uint32_t n;
	struct graywork v[PKT];
};

static struct {
	struct lock lock;		/* leaf */
	struct graypkt *full, *free;
	uint32_t nhelping;		/* assists that hold gray objects */
	uint32_t nsleep;		/* assists asleep on sema */
	uint32_t wanted;		/* atomic: markers waiting for work */
	uint32_t sema;
	uint64_t marked;		/* atomic: bytes assists shaded, this cycle */
	int64_t ns;			/* atomic: ns assists marked, this cycle */
	uint64_t nassists;		/* atomic: gort_gc_assist() calls, ever */
	bool parallel;			/* share: GOMAXPROCS > 1, set per cycle */
} pool;

static uint64_t markedsofar(void)
{
	return bgw.marked + __atomic_load_n(&pool.marked, __ATOMIC_RELAXED);
}

/* A free packet; pool.lock held. */
static struct graypkt *pktget(void)
{
	struct graypkt *pk = pool.free;

	if (!pk) {
		size_t i, n = 64;

		pk = sysmap(n * sizeof(*pk));
		if (!pk)
			throw("gc: out of memory for gray packets");
		for (i = 1; i < n - 1; i++)
			pk[i].next = &pk[i + 1];
		pk[n - 1].next = NULL;
		pool.free = &pk[1];
		return pk;
	}
	pool.free = pk->next;
	return pk;
}

/* Put the oldest min(@k, PKT) gray objects of @w in the pool (the lock
 * held), waking an assist that sleeps for want of work. */
static bool putpkt(struct gcwork *w, size_t k)
{
	struct graypkt *pk = pktget();

	if (k > PKT)
		k = PKT;
	memcpy(pk->v, w->v, k * sizeof(*w->v));
	memmove(w->v, w->v + k, (w->n - k) * sizeof(*w->v));
	w->n -= k;
	pk->n = k;
	pk->next = pool.full;
	pool.full = pk;
	if (!pool.nsleep)
		return false;
	pool.nsleep--;
	__atomic_sub_fetch(&pool.wanted, 1, __ATOMIC_RELAXED);
	return true;
}

/* Ready an assist that sleeps for want of work.  Without yielding: a
 * marker holds its P's gray stack and must not lose its P here. */
static void wakeassist(void)
{
	struct m *mp = getm();

	mp->locks++;
	semrelease1(&pool.sema, false);
	mp->locks--;
}

/* Half of @w's gray objects to a marker that waits for work. */
static void share(struct gcwork *w)
{
	bool wake;

	lock(&pool.lock);
	wake = putpkt(w, w->n / 2);
	unlock(&pool.lock);
	if (wake)
		wakeassist();
}

/*
 * Move a packet from the pool to @w.  @held: the caller is an assist and
 * says whether it holds gray objects already (pool.nhelping counts it);
 * updated.  With none to take, an assist holds nothing any more.
 */
static bool takepkt(struct gcwork *w, bool *held)
{
	struct graypkt *pk;
	uint32_t i;

	lock(&pool.lock);
	pk = pool.full;
	if (!pk) {
		if (held && *held) {
			pool.nhelping--;
			*held = false;
		}
		unlock(&pool.lock);
		return false;
	}
	pool.full = pk->next;
	if (held && !*held) {
		pool.nhelping++;
		*held = true;
	}
	for (i = 0; i < pk->n; i++)
		graypush(w, pk->v[i].lo, pk->v[i].hi);
	pk->next = pool.free;
	pool.free = pk;
	unlock(&pool.lock);
	return true;
}

/* No gray object in the pool and none with an assist. */
static bool pooldone(void)
{
	bool done;

	lock(&pool.lock);
	done = !pool.full && !pool.nhelping;
	unlock(&pool.lock);
	return done;
}

/* Marking is over: wake the assists that sleep for want of work. */
static void wakeassists(void)
{
	uint32_t n;

	lock(&pool.lock);
	n = pool.nsleep;
	pool.nsleep = 0;
	__atomic_sub_fetch(&pool.wanted, n, __ATOMIC_RELAXED);
	unlock(&pool.lock);
	while (n--)
		semrelease1(&pool.sema, false);
}

enum drainmode { DRAIN_STW, DRAIN_BG, DRAIN_ASSIST };

/* An assist gives up: asked to stop, or to scan its own stack. */
static bool assist_stop(void)
{
	struct g *gp = getg();

	return atomic_load(&sched.gcwaiting) ||
	       __atomic_load_n(&gp->preempt, __ATOMIC_RELAXED) ||
	       __atomic_load_n(&gp->gcscanreq, __ATOMIC_RELAXED);
}

/*
 * drainlocal() - scan the gray objects of @w until it is empty; false if
 * an assist (@mode) was asked to stop first: its gray objects are then
 * all back in @w.
 *
 * Scanning is a pointer chase: the object popped is usually the one just
 * pushed, not yet in cache.  A popped object is prefetched and queued;
 * the one scanned is the oldest of the queue, PFQ objects later, by when
 * its lines have arrived (Boehm's and Cher et al.'s prefetch-on-grey).
 * Marking a tree of 8 M 16-byte nodes: 116 ms instead of 165 (best of
 * 10 forced cycles, twice each).
 */
#define PFQ	16

static bool drainlocal(struct gcwork *w, enum drainmode mode)
{
	struct graywork q[PFQ];
	unsigned int n = 0, head = 0, nq = 0;

	for (;;) {
		struct graywork x;

		if (!w->n) {
			if (!nq)
				return true;
			/* Nothing new: scan the oldest queued. */
			x = q[head];
			head = (head + 1) % PFQ;
			nq--;
			scanwork(w, x);
			continue;
		}
		x = w->v[--w->n];
		__builtin_prefetch((void *)(x.lo & ~(uintptr_t)3));
		if (nq < PFQ) {
			q[(head + nq++) % PFQ] = x;
			continue;
		}
		{
			struct graywork y = q[head];

			q[head] = x;
			head = (head + 1) % PFQ;
			scanwork(w, y);
		}
		if (++n & 63)
			continue;
		if (unlikely(__atomic_load_n(&pool.wanted, __ATOMIC_RELAXED) || debug.gcassist) &&
		    w->n >= 2 && mode != DRAIN_STW && (pool.parallel || debug.gcassist))
			share(w);
		if (n & 255)
			continue;
		if (mode == DRAIN_BG) {
			gcyield();
		} else if (mode == DRAIN_ASSIST && assist_stop()) {
			for (; nq; nq--, head = (head + 1) % PFQ)
				graypush(w, q[head].lo, q[head].hi);
			return false;
		}
	}
}

/*
 * Drain the gray set: the GC goroutine's, the handed-over words, the
 * pool, and what assists hold, until all are empty.  @concurrent: let
 * other goroutines run now and then (cooperative preemption: we are one
 * of them).
 */
static void drain(bool concurrent)
{
	bool wanting = false;

	for (;;) {
		if (bgw.n) {
			drainlocal(&bgw, concurrent ? DRAIN_BG : DRAIN_STW);
			continue;
		}
		if (take_handoff() || takepkt(&bgw, NULL))
			continue;
		if (pooldone())
			break;
		/* Assists hold the rest: ask them for some. */
		if (!concurrent)
			throw("gc: an assist holds gray objects with the world stopped");
		if (!wanting) {
			__atomic_add_fetch(&pool.wanted, 1, __ATOMIC_RELAXED);
			wanting = true;
		}
		{
			int64_t t = nanotime();

			gort_yield();
			yielded += nanotime() - t;
		}
	}
	if (wanting)
		__atomic_sub_fetch(&pool.wanted, 1, __ATOMIC_RELAXED);
}

/* ---- roots ---- */

struct range {
	uintptr_t lo, hi;
};

static struct lock rootslock;

/*
 * Append [@lo, @hi) to the array *@v of *@n ranges, growing it (in
 * mapped memory, which no cycle scans); false if it cannot grow.
 */
static bool pushrange(struct range **v, size_t *n, size_t *cap, uintptr_t lo, uintptr_t hi)
{
	if (*n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 64;
		struct range *nv = sysmap(ncap * sizeof(*nv));

		if (!nv)
			return false;
		if (*v) {
			memcpy(nv, *v, *n * sizeof(*nv));
			sysunmap(*v, *cap * sizeof(*nv));
		}
		*v = nv;
		*cap = ncap;
	}
	(*v)[*n].lo = lo;
	(*v)[*n].hi = hi;
	(*n)++;
	return true;
}

static struct range *uroots;		/* gort_gc_add_roots, in no order */
static size_t nuroots, capuroots;

static struct range *dataroots;		/* writable PT_LOADs, this cycle */
static size_t ndataroots, capdataroots;
static bool nodata;			/* GORT_DEBUG=gcnodata=1 */

/*
 * Globals that hold no heap pointer, left out of the data segments:
 * mark termination scans those again with the world stopped (0.2 to
 * 0.5 ms a MB here).  The runtime's own big ones (the heap's metadata,
 * arena and page numbers, the table of G chunks: 60 % of a small
 * program's 380 KB) and the program's, gort_gc_exclude_roots().
 * rootslock; the runtime's are added before any goroutine runs.
 */
#define MAXNOSCAN	72
#define MAXNOSCAN_USER	64	/* the other 8 stay the runtime's */
static struct range noscanglobals[MAXNOSCAN];
static size_t nnoscan, nnoscanuser;

/* Exclude [lo, hi); @user: the program's, counted against its 64. */
static int exclude(uintptr_t lo, uintptr_t hi, bool user)
{
	size_t i;

	for (i = 0; i < nnoscan; i++)
		if (lo < noscanglobals[i].hi && noscanglobals[i].lo < hi)
			return -EINVAL;
	if ((user && nnoscanuser == MAXNOSCAN_USER) || nnoscan == MAXNOSCAN)
		return -ENOSPC;
	nnoscanuser += user;
	noscanglobals[nnoscan].lo = lo;
	noscanglobals[nnoscan].hi = hi;
	nnoscan++;
	return 0;
}

/* gc_noscan_global() - [@p, @p + @n), a global, holds no heap pointer. */
void gc_noscan_global(const void *p, size_t n)
{
	lock(&rootslock);
	if (exclude((uintptr_t)p, (uintptr_t)p + n, false))
		throw("gc_noscan_global: table full");
	unlock(&rootslock);
}

/* A root: [lo, hi) less the excluded ranges from the @k-th on. */
static void adddata(uintptr_t lo, uintptr_t hi, size_t k)
{
	for (; k < nnoscan; k++) {
		uintptr_t xlo = noscanglobals[k].lo, xhi = noscanglobals[k].hi;

		if (xhi <= lo || xlo >= hi)
			continue;
		if (xlo > lo)
			adddata(lo, xlo, k + 1);
		if (xhi < hi)
			adddata(xhi, hi, k + 1);
		return;
	}
	/* A root dropped would free live objects. */
	if (lo < hi && !pushrange(&dataroots, &ndataroots, &capdataroots, lo, hi))
		throw("gc: out of memory for the list of data segments");
}

/*
 * The vDSO, and the sanitizers' shared runtimes: their globals (11.5 MB
 * for libasan + libubsan: stack depots, internal allocators) point into
 * their own mappings, never into our heap, and scanning them twice a
 * cycle made an ASan build's every cycle 15 ms longer.
 */
static bool skipobject(const char *name)
{
	static const char *const skip[] = {
		"linux-vdso", "libasan.so", "libubsan.so", "liblsan.so", "libtsan.so",
		"libhwasan.so",
	};
	const char *base;
	size_t i;

	if (!name || !*name)
		return false;		/* the executable */
	base = strrchr(name, '/');
	base = base ? base + 1 : name;
	for (i = 0; i < ARRAY_SIZE(skip); i++)
		if (!strncmp(base, skip[i], strlen(skip[i])))
			return true;
	return false;
}

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *unused)
{
	int i;

	(void)size, (void)unused;
	if (skipobject(info->dlpi_name))
		return 0;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W))
			adddata(info->dlpi_addr + ph->p_vaddr,
				info->dlpi_addr + ph->p_vaddr + ph->p_memsz, 0);
	}
	return 0;
}

/*
 * This cycle marks with the world stopped: in stw mode, and in the other
 * modes when the roots and the live heap are small (the data segments and
 * what the last cycle marked under SMALLHEAP_STW, the heap under eight
 * times that; never the first cycle), where
 * a pause marks it all in well under a millisecond and costs less than
 * write-protecting the heap and re-scanning what the program dirties
 * (a map insert loop that churns a 1 MiB heap ran 30% faster).
 */
#define SMALLHEAP_STW	(1 << 20)
static bool cyclestw;

/*
 * Mark termination scans again only the parts of the data segments that
 * may point into the heap.  Each concurrent scandata() copies the
 * segments, a word at a time, scans the copy, and notes each block of
 * BLOCKWORDS words that held a word inside the arenas' range (as the
 * range was when the copy began).  At the stop a block is scanned again
 * if it differs from the copy or held such a word; any other block held
 * no heap address when copied and holds the same words now, so nothing
 * in it points into the heap.  A block that holds the same heap address
 * as when copied is scanned again all the same: the object there may be
 * new (gort_free() and gort_alloc() of one size return the same address,
 * and the new object is white: tests/gc/globals).  If the range grew (a
 * new arena) since the copy began, everything is scanned.  A word torn
 * by a concurrent store only differs.  On liveheap, 1 word in 110 KB of
 * globals is a heap address, and comparing takes about half the time of
 * scanning (both read the memory; the scan looks at every word).
 * User roots and the main stack are scanned whole: they can be big.
 */
#define BLOCKWORDS	32
static struct {
	uintptr_t *copy;		/* the segments end to end (mapped) */
	uint64_t *heapblk;		/* a bit per block: held a heap address */
	size_t cap;			/* bytes mapped at copy */
	uintptr_t alo, ahi;		/* arena_lo, arena_hi when copied: arena
					 * numbers, not addresses (a root) */
	bool valid;			/* copied this cycle */
} snap;

/* The aligned words of [@lo, @hi): the first at *@p; returns how many. */
static size_t segwords(uintptr_t lo, uintptr_t hi, uintptr_t **p)
{
	uintptr_t a = (lo + 7) & ~(uintptr_t)7;
	size_t n = hi >= a + 8 ? (hi - a) / 8 : 0;

	*p = (uintptr_t *)a;
	return n;
}

/* Room for this cycle's copy and its block bits; false: none. */
static bool snap_reserve(void)
{
	size_t words = 0, nblk = 0, bytes, i;
	uintptr_t *p;
	void *m;

	for (i = 0; i < ndataroots; i++) {
		size_t n = segwords(dataroots[i].lo, dataroots[i].hi, &p);

		words += n;
		nblk += (n + BLOCKWORDS - 1) / BLOCKWORDS;
	}
	bytes = (words * 8 + (nblk + 63) / 64 * 8 + PAGE_SIZE - 1) & ~(size_t)(PAGE_SIZE - 1);
	if (bytes <= snap.cap)
		goto carve;
	m = sysmap(bytes);
	if (!m)
		return false;
	if (snap.copy)
		sysunmap(snap.copy, snap.cap);
	snap.copy = m;
	snap.cap = bytes;
carve:
	snap.heapblk = snap.copy + words;
	memset(snap.heapblk, 0, (nblk + 63) / 64 * 8);
	return true;
}

/* Copy the segments, scan the copy, note the blocks with heap addresses;
 * false if there is no room for a copy. */
static __noasan bool snap_scan(void)
{
	uintptr_t *c, *p, lo, len;
	size_t i, j, n, b = 0;

	snap.valid = false;
	if (!snap_reserve())
		return false;
	c = snap.copy;
	snap.alo = __atomic_load_n(&arena_lo, __ATOMIC_RELAXED);
	snap.ahi = __atomic_load_n(&arena_hi, __ATOMIC_RELAXED);
	lo = snap.alo << ARENA_SHIFT;
	len = (snap.ahi - snap.alo) << ARENA_SHIFT;
	for (i = 0; i < ndataroots; i++) {
		n = segwords(dataroots[i].lo, dataroots[i].hi, &p);
		for (j = 0; j < n; j++) {
			c[j] = __atomic_load_n(&p[j], __ATOMIC_RELAXED);
			if (c[j] - lo < len)
				snap.heapblk[(b + j / BLOCKWORDS) / 64] |=
					1ULL << ((b + j / BLOCKWORDS) % 64);
		}
		scanrange(&bgw, (uintptr_t)c, (uintptr_t)(c + n));
		b += (n + BLOCKWORDS - 1) / BLOCKWORDS;
		c += n;
	}
	snap.valid = true;
	return true;
}

/* World stopped: scan the blocks that differ from the copy or held heap
 * addresses; false (nothing done) if there is no copy or the arenas grew. */
static __noasan bool snap_rescan(void)
{
	uintptr_t *c = snap.copy, *p;
	size_t i, j, k, n, m, b = 0;

	if (!snap.valid ||
	    __atomic_load_n(&arena_lo, __ATOMIC_RELAXED) != snap.alo ||
	    __atomic_load_n(&arena_hi, __ATOMIC_RELAXED) != snap.ahi)
		return false;
	for (i = 0; i < ndataroots; i++) {
		n = segwords(dataroots[i].lo, dataroots[i].hi, &p);
		for (j = 0; j < n; j += BLOCKWORDS, b++) {
			uintptr_t x = 0;

			m = n - j < BLOCKWORDS ? n - j : BLOCKWORDS;
			for (k = 0; k < m; k++)
				x |= p[j + k] ^ c[j + k];
			if (x || (snap.heapblk[b / 64] >> (b % 64) & 1))
				scanrange(&bgw, (uintptr_t)(p + j), (uintptr_t)(p + j + m));
		}
		c += n;
	}
	return true;
}

/*
 * The roots outside the heap, but for the stacks.  @term: mark termination of
 * a concurrent mark (the data segments against their copy).
 */
static void scandata(bool term)
{
	size_t i;

	/* In a cycle marked with the world stopped, no copy: a whole scan. */
	if (cyclestw || !(term ? snap_rescan() : snap_scan()))
		for (i = 0; i < ndataroots; i++)
			scanrange(&bgw, dataroots[i].lo, dataroots[i].hi);
	lock(&rootslock);
	for (i = 0; i < nuroots; i++)
		scanrange(&bgw, uroots[i].lo, uroots[i].hi);
	unlock(&rootslock);
	if (gc.mainsp)
		scanrange(&bgw, gc.mainsp, gc.mainhi);
}

/* Timers in P heaps keep their owners (and args) alive, as in Go. */
static void scantimers(void)
{
	int32_t i, j;

	for (i = 0; i < GORT_MAXPROCS_LIMIT; i++) {
		struct p *pp = __atomic_load_n(&allp[i], __ATOMIC_ACQUIRE);

		if (!pp)
			continue;
		lock(&pp->timerlock);
		for (j = 0; j < pp->ntimers; j++) {
			markword(&bgw, (uintptr_t)pp->timers[j]);
			markword(&bgw, (uintptr_t)pp->timers[j]->arg);
		}
		unlock(&pp->timerlock);
	}
}

static uint32_t runningskipped;		/* stacks left: their G was running */

/* Scan @gp's stack from its saved context; false if it is running. */
static bool scanstack(struct g *gp, bool stw)
{
	uint32_t st;

	if (gp == gc.bg)
		return true;	/* holds nothing of the program's */
	__atomic_store_n(&gp->gcstackdirty, false, __ATOMIC_SEQ_CST);
	st = __atomic_load_n(&gp->status, __ATOMIC_SEQ_CST);
	markword(&bgw, (uintptr_t)gp->arg);
	if (st == Gdead || st == Gidle || !gp->stack_hi)
		return true;
	if (st == Grunning && !stw) {
		/* Ask it to scan itself at its next preemption point, so that
		 * mark termination finds little that is new. */
		__atomic_store_n(&gp->gcstackdirty, true, __ATOMIC_RELAXED);
		if (__atomic_load_n(&gp->gcscangen, __ATOMIC_ACQUIRE) != gc.started) {
			__atomic_store_n(&gp->gcscanreq, true, __ATOMIC_RELAXED);
			runningskipped++;
		}
		return false;
	}
	if (st == Gsyscall) {
		int i;

		for (i = 0; i < 6; i++)
			markword(&bgw, gp->syscallregs[i]);
		if (gp->syscallsp)
			scanrange(&bgw, gp->syscallsp, gp->stack_hi);
		return true;
	}
	if (gp->ctx.sp)
		scanrange(&bgw, gp->ctx.sp, gp->stack_hi);
	/* Concurrently (or in a cycle marked with the world stopped, which
	 * has no concurrent mark), never in mark termination's pause. */
	if ((!stw || cyclestw) && !debug.gcshrinkstackoff) {
		size_t n = stack_shrink(gp);

		if (n) {
			__atomic_store_n(&gc.nshrunk, gc.nshrunk + 1, __ATOMIC_RELAXED);
			__atomic_store_n(&gc.shrunkbytes, gc.shrunkbytes + n, __ATOMIC_RELAXED);
		}
	}
	return true;
}

/* Collect the possible pointers of the caller's stack, from our frame
 * up: gc_selfscan's frame holds the callee-saved registers
 * (__builtin_unwind_init). */
static __noasan __attribute__((noinline)) void selfscan_from(struct g *gp)
{
	uintptr_t buf[256], p, lo = __atomic_load_n(&arena_lo, __ATOMIC_RELAXED);
	uintptr_t span = __atomic_load_n(&arena_hi, __ATOMIC_RELAXED) - lo;	/* arenas */
	size_t n = 0;

	buf[n++] = (uintptr_t)gp->arg;
	for (p = (uintptr_t)__builtin_frame_address(0); p + 8 <= gp->stack_hi; p += 8) {
		uintptr_t v = *(uintptr_t *)p;

		if ((v >> ARENA_SHIFT) - lo >= span)
			continue;
		buf[n++] = v;
		if (n == ARRAY_SIZE(buf)) {
			handover(buf, n);
			n = 0;
		}
	}
	handover(buf, n);
}

/*
 * gc_selfscan() - a running goroutine asked to (gp->gcscanreq) shades
 * what its own stack points to, at a preemption point, and hands the
 * gray objects to the GC goroutine.  Its stack stays dirty: it runs on,
 * so mark termination scans it again, but finds what it reaches already
 * marked (Go has the G scan itself at a safe point too).
 */
__attribute__((noinline)) void gc_selfscan(struct g *gp)
{
	__atomic_store_n(&gp->gcscanreq, false, __ATOMIC_RELAXED);
	if (!__atomic_load_n(&gcmarking, __ATOMIC_ACQUIRE) || !gp->stack_hi)
		return;
	__builtin_unwind_init();
	selfscan_from(gp);
	__atomic_store_n(&gp->gcscangen, gc.started, __ATOMIC_RELEASE);
}

/* ---- finalizers ---- */

struct special {
	uintptr_t obj;			/* 0 empty, 1 deleted */
	void (*fn)(void *, void *);
	void *arg;
};

static struct lock finlock;		/* specials table and queue */
static struct special *specials;	/* open addressing, capspecials slots */
static size_t nspecials, usedspecials, capspecials;
static struct special *finq;		/* queued to run, nfinq of them */
static size_t nfinq, capfinq;
static uint32_t finwaiting;		/* the finalizer goroutine sleeps */
static struct special *fincur;		/* sysmap: the finalizer being run */

static size_t hashptr(uintptr_t p)
{
	return (size_t)((p >> 4) * 0x9e3779b97f4a7c15ULL);
}

static struct special *special_find(uintptr_t obj)
{
	size_t i, mask = capspecials - 1;

	if (!capspecials)
		return NULL;
	for (i = hashptr(obj) & mask;; i = (i + 1) & mask) {
		if (specials[i].obj == obj)
			return &specials[i];
		if (!specials[i].obj)
			return NULL;
	}
}

static int special_grow(void)
{
	size_t ncap = capspecials ? capspecials * 2 : 1024, i, j;
	struct special *n = sysmap(ncap * sizeof(*n)), *old = specials;

	if (!n)
		return -ENOMEM;
	for (i = 0; i < capspecials; i++) {
		if (old[i].obj <= 1)
			continue;
		for (j = hashptr(old[i].obj) & (ncap - 1); n[j].obj; j = (j + 1) & (ncap - 1))
			;
		n[j] = old[i];
	}
	if (old)
		sysunmap(old, capspecials * sizeof(*old));
	specials = n;
	usedspecials = nspecials;
	capspecials = ncap;
	return 0;
}

__export int gort_set_finalizer(void *objp, void (*fn)(void *, void *), void *arg)
{
	uintptr_t obj = (uintptr_t)objp;
	struct special *sp;
	void *base;
	struct mspan *s;
	size_t i;

	if (!gort_heap_object(objp, &base, NULL) || base != objp)
		return -EINVAL;
	s = spanof(obj);
	lock(&finlock);
	sp = special_find(obj);
	if (!fn) {
		if (sp) {
			sp->obj = 1;
			nspecials--;
			__atomic_fetch_sub(&s->nspecials, 1, __ATOMIC_RELAXED);
		}
		unlock(&finlock);
		return 0;
	}
	if (sp) {
		unlock(&finlock);
		return -EEXIST;
	}
	if ((usedspecials + 1) * 2 > capspecials && special_grow()) {
		unlock(&finlock);
		return -ENOMEM;
	}
	for (i = hashptr(obj) & (capspecials - 1); specials[i].obj > 1;
	     i = (i + 1) & (capspecials - 1))
		;
	if (!specials[i].obj)
		usedspecials++;
	specials[i].obj = obj;
	specials[i].fn = fn;
	specials[i].arg = arg;
	nspecials++;
	__atomic_fetch_add(&s->nspecials, 1, __ATOMIC_RELAXED);
	unlock(&finlock);
	return 0;
}

/*
 * A finalizable object keeps what it points to (and its arg), but not
 * itself: shade its contents, not it (Go's markrootSpans).  Queued
 * finalizers keep their objects.  World stopped or GC goroutine only.
 */
static void scanspecials(void)
{
	size_t i;

	lock(&finlock);
	for (i = 0; i < capspecials; i++) {
		struct special *sp = &specials[i];
		struct mspan *s;
		size_t sz;

		if (sp->obj <= 1)
			continue;
		markword(&bgw, (uintptr_t)sp->arg);
		s = spanof(sp->obj);
		if (s->spanclass & 1)
			continue;
		sz = s->elemsize ? s->elemsize : s->npages * PAGE_SIZE;
		graypush(&bgw, sp->obj, sp->obj + sz);
	}
	for (i = 0; i < nfinq; i++) {
		markword(&bgw, finq[i].obj);
		markword(&bgw, (uintptr_t)finq[i].arg);
	}
	if (fincur) {		/* the one running now */
		markword(&bgw, fincur->obj);
		markword(&bgw, (uintptr_t)fincur->arg);
	}
	unlock(&finlock);
}

/*
 * gc_finalize_dead() - sweep found @dead objects (bits of word @w) of
 * @s unmarked; queue the finalizers of those that have one and keep them
 * (their contents were kept by scanspecials).  Returns the bits to free.
 */
uint64_t gc_finalize_dead(struct mspan *s, uint32_t w, uint64_t dead)
{
	uint64_t keep = 0, d = dead;

	lock(&finlock);
	while (d) {
		uint32_t b = (uint32_t)__builtin_ctzll(d);
		uintptr_t obj = s->base + (uintptr_t)(w * 64 + b) * (s->elemsize ? s->elemsize : 0);
		struct special *sp;

		d &= d - 1;
		if (!s->elemsize)
			obj = s->base;
		sp = special_find(obj);
		if (!sp)
			continue;
		if (nfinq == capfinq) {
			size_t ncap = capfinq ? capfinq * 2 : 256;
			struct special *n = sysmap(ncap * sizeof(*n));

			if (!n)
				throw("gc: out of memory for the finalizer queue");
			if (finq) {
				memcpy(n, finq, nfinq * sizeof(*n));
				sysunmap(finq, capfinq * sizeof(*n));
			}
			finq = n;
			capfinq = ncap;
		}
		finq[nfinq++] = *sp;
		sp->obj = 1;
		nspecials--;
		__atomic_fetch_sub(&s->nspecials, 1, __ATOMIC_RELAXED);
		keep |= 1ULL << b;
	}
	unlock(&finlock);
	/* Not woken from here: sweepers hold an mcentral lock, and waking
	 * takes sched.lock, which is taken before mcentral locks. */
	return dead & ~keep;
}

/* Wake the finalizer goroutine if anything is queued; no lock held. */
static void wakefing(void)
{
	if (__atomic_load_n(&nfinq, __ATOMIC_RELAXED) &&
	    __atomic_load_n(&finwaiting, __ATOMIC_ACQUIRE) && gc.fing)
		unpark_noyield(gc.fing);
}

static __attribute__((noinline)) void runone(struct special *f)
{
	f->fn((void *)f->obj, f->arg);
}

/* Zero the dead stack below us, where a finalizer's frames were: a stale
 * copy of its object there would keep it for as long as we park above. */
static __attribute__((noinline)) void clearstack(void)
{
	volatile char buf[16 << 10];

	memset((char *)buf, 0, sizeof(buf));
	__asm__ volatile("" ::"r"(buf) : "memory");
}

/*
 * The finalizer goroutine.  It never holds a finalized object in its own
 * frame or callee-saved registers: the entry is copied into fincur
 * (sysmap memory, not scanned) and runone() reads it from there; after
 * the call the entry and the dead stack below are zeroed, so the object
 * is freed by the next cycle unless the finalizer stored it somewhere.
 */
static void runfinq(void *unused)
{
	(void)unused;
	for (;;) {
		lock(&finlock);
		if (!nfinq) {
			__atomic_store_n(&finwaiting, 1, __ATOMIC_RELEASE);
			unlock(&finlock);
			park_reason(waitReasonFinalizerWait);
			__atomic_store_n(&finwaiting, 0, __ATOMIC_RELEASE);
			continue;
		}
		*fincur = finq[--nfinq];
		memset(&finq[nfinq], 0, sizeof(finq[nfinq]));
		unlock(&finlock);
		runone(fincur);
		__atomic_fetch_add(&gc.finrun, 1, __ATOMIC_RELAXED);
		lock(&finlock);
		memset(fincur, 0, sizeof(*fincur));
		unlock(&finlock);
		clearstack();
	}
}

/* ---- the cycle ---- */

static uint64_t rescanned;		/* bytes re-scanned this round */

static void rescan_pages(uintptr_t lo, uintptr_t hi, void *unused)
{
	(void)unused;
	while (lo < hi) {
		struct mspan *s = spanof(lo);
		uintptr_t end = (lo | (physpagesize() - 1)) + 1, send;

		if (end > hi)
			end = hi;
		if (s && __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == mSpanInUse &&
		    __atomic_load_n(&s->ready, __ATOMIC_ACQUIRE) && !(s->spanclass & 1)) {
			send = s->base + s->npages * PAGE_SIZE;
			if (!s->elemsize) {
				if (__atomic_load_n(&s->largemark, __ATOMIC_ACQUIRE)) {
					if (__atomic_load_n(&s->largetyped, __ATOMIC_ACQUIRE))
						scantyped(&bgw, s->base, send, lo, end);
					else
						scanrange(&bgw, lo, end);
					rescanned += end - lo;
				}
			} else if (lo < send) {
				uint32_t i = span_objindex(s, lo), i1 = span_objindex(s, end - 1);

				for (; i <= i1 && i < s->nelems; i++) {
					uintptr_t b = s->base + (uintptr_t)i * s->elemsize;

					if (__atomic_load_n(&s->gcmarkbytes[i], __ATOMIC_RELAXED)) {
						uintptr_t a = b < lo ? lo : b;
						uintptr_t z = b + s->elemsize > end ? end : b + s->elemsize;

						if (typedbit(s, i))
							scantyped(&bgw, b, b + s->elemsize, a, z);
						else
							scanrange(&bgw, a, z);
						rescanned += z - a;
					}
				}
			}
		}
		lo = end;
	}
}


/* Stacks of goroutines that ran since their scan, world stopped. */
static void rescanstacks(void)
{
	struct g *gp;

	for_each_g(i, gp)
		if (__atomic_load_n(&gp->gcstackdirty, __ATOMIC_RELAXED))
			scanstack(gp, true);
}

/*
 * ---- GORT_DEBUG=gccheckmark=1 (Go's gccheckmark) ----
 *
 * At mark termination, with the world stopped and the mark done, walk
 * the heap again from every root with a set of its own and report each
 * reachable object the mark left white: a collector bug, which the sweep
 * would turn into a use after free.  Slow (a hash set of every reachable
 * object); for tests and for hunting bugs.
 */
static struct {
	uintptr_t *set;			/* open addressing; 0 = empty */
	size_t cap, n;
	struct graywork *stk;
	size_t nstk, capstk;
	uint64_t bad;
} ck;

static bool ck_insert(uintptr_t b)
{
	size_t i;

	if (2 * (ck.n + 1) > ck.cap) {
		uintptr_t *old = ck.set;
		size_t oldcap = ck.cap, j;

		ck.cap = ck.cap ? 2 * ck.cap : 1 << 16;
		ck.set = sysmap(ck.cap * sizeof(*ck.set));
		if (!ck.set)
			throw("gccheckmark: out of memory");
		ck.n = 0;
		for (j = 0; j < oldcap; j++)
			if (old[j])
				ck_insert(old[j]);
		if (old)
			sysunmap(old, oldcap * sizeof(*old));
	}
	for (i = (b >> 4) * 0x9e3779b97f4a7c15ULL & (ck.cap - 1); ck.set[i];
	     i = (i + 1) & (ck.cap - 1))
		if (ck.set[i] == b)
			return false;
	ck.set[i] = b;
	ck.n++;
	return true;
}

static void ck_word(uintptr_t v, uintptr_t from, const char *what)
{
	struct mspan *s = spanfor(v);
	uintptr_t b, sz;
	bool marked, typed;

	if (!s)
		return;
	if ((s->spanclass >> 1) == 0) {
		if (!__atomic_load_n(&s->allocCount, __ATOMIC_ACQUIRE))
			return;
		b = s->base;
		sz = s->npages * PAGE_SIZE;
		marked = __atomic_load_n(&s->largemark, __ATOMIC_RELAXED);
		typed = __atomic_load_n(&s->largetyped, __ATOMIC_ACQUIRE);
	} else {
		uint32_t idx = span_objindex(s, v);

		if (idx >= s->nelems ||
		    !(s->allocbits[idx >> 6] & (1ULL << (idx & 63))))
			return;
		b = s->base + (uintptr_t)idx * s->elemsize;
		sz = s->elemsize;
		marked = s->gcmarkbytes[idx];
		typed = typedbit(s, idx);
	}
	if (!ck_insert(b))
		return;
	if (!marked && ++ck.bad <= 16)
		printf_raw("gccheckmark: %#lx (%lu bytes, span %#lx) is reachable but not marked: "
			   "word %#lx of %s\n", (unsigned long)b, (unsigned long)sz,
			   (unsigned long)s->base, (unsigned long)from, what);
	if (!(s->spanclass & 1)) {
		if (ck.nstk == ck.capstk)
			ck.stk = growarray(ck.stk, ck.nstk, &ck.capstk, sizeof(*ck.stk));
		ck.stk[ck.nstk].lo = b | typed;
		ck.stk[ck.nstk].hi = b + sz;
		ck.nstk++;
	}
}

static __noasan void ck_range(uintptr_t lo, uintptr_t hi, const char *what)
{
	uintptr_t p;

	for (p = (lo + 7) & ~(uintptr_t)7; p + 8 <= hi; p += 8)
		ck_word(*(uintptr_t *)p, p, what);
}

static void ck_heapword(struct gcwork *w, uintptr_t v, uintptr_t at)
{
	(void)w;
	ck_word(v, at, "a typed heap object");
}

static void checkmark(void)
{
	struct g *gp;
	size_t i;
	int32_t k, j;

	ck.bad = 0;
	if (ck.set)
		memset(ck.set, 0, ck.cap * sizeof(*ck.set));
	ck.n = 0;
	for (i = 0; i < ndataroots; i++)
		ck_range(dataroots[i].lo, dataroots[i].hi, "a data segment");
	for (i = 0; i < nuroots; i++)
		ck_range(uroots[i].lo, uroots[i].hi, "a gort_gc_add_roots range");
	if (gc.mainsp)
		ck_range(gc.mainsp, gc.mainhi, "the main thread's stack");
	for_each_g(n, gp) {
		uint32_t st = __atomic_load_n(&gp->status, __ATOMIC_RELAXED);

		if (gp == gc.bg)
			continue;
		ck_word((uintptr_t)gp->arg, 0, "a goroutine's argument");
		if (st == Gdead || st == Gidle || !gp->stack_hi)
			continue;
		if (st == Gsyscall) {
			for (k = 0; k < 6; k++)
				ck_word(gp->syscallregs[k], 0, "a goroutine's registers");
			if (gp->syscallsp)
				ck_range(gp->syscallsp, gp->stack_hi, "a goroutine stack (syscall)");
		} else if (gp->ctx.sp) {
			ck_range(gp->ctx.sp, gp->stack_hi, "a goroutine stack");
		}
	}
	for (k = 0; k < GORT_MAXPROCS_LIMIT; k++) {
		struct p *pp = allp[k];

		if (!pp)
			continue;
		for (j = 0; j < pp->ntimers; j++) {
			ck_word((uintptr_t)pp->timers[j], 0, "a timer heap");
			ck_word((uintptr_t)pp->timers[j]->arg, 0, "a timer heap");
		}
	}
	for (i = 0; i < capspecials; i++) {
		if (specials[i].obj <= 1)
			continue;
		ck_word((uintptr_t)specials[i].arg, 0, "a finalizer");
		/* The object itself is only kept by its finalizer's queueing. */
		if (!(spanof(specials[i].obj)->spanclass & 1)) {
			struct mspan *s = spanof(specials[i].obj);

			ck_range(specials[i].obj, specials[i].obj +
				 (s->elemsize ? s->elemsize : s->npages * PAGE_SIZE),
				 "an object with a finalizer");
		}
	}
	for (i = 0; i < nfinq; i++) {
		ck_word(finq[i].obj, 0, "the finalizer queue");
		ck_word((uintptr_t)finq[i].arg, 0, "the finalizer queue");
	}
	while (ck.nstk) {
		struct graywork w = ck.stk[--ck.nstk];
		uintptr_t b = w.lo & ~(uintptr_t)1;

		if (w.lo & 1)
			typed_words(NULL, b, w.hi, b, w.hi, ck_heapword);
		else
			ck_range(w.lo, w.hi, "a heap object");
	}
	if (ck.bad)
		fatalf("gccheckmark: cycle %u left %llu reachable objects white",
		       gc.started, (unsigned long long)ck.bad);
}

static void flushcaches(void)
{
	int32_t i;

	for (i = 0; i < GORT_MAXPROCS_LIMIT; i++) {
		struct p *pp = allp[i];

		if (pp && pp->mcache)
			mcache_flushall(pp->mcache);
	}
	for (i = 0; i < heap.nnodes; i++) {
		lock(&heap.extlock[i]);
		mcache_flushall(&heap.extcache[i]);
		unlock(&heap.extlock[i]);
	}
}

static int64_t unixnow(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/**
 * gort_gc_phase() - probe point: the collector enters phase @phase
 * (0 off, 1 mark, 2 mark termination) of cycle @g->started; the world is
 * stopped (the phase changes inside a stop-the-world).
 */
__probe void gort_gc_phase(struct gcstate *g, uint32_t phase)
{
	PROBE_FRAME();
	__atomic_store_n(&g->phase, phase, __ATOMIC_SEQ_CST);
}

static void setgoal(void)
{
	uint64_t base = gc.marked < (4 << 20) / 2 ? (4 << 20) / 2 : gc.marked;
	int pct = __atomic_load_n(&heap.gcpercent, __ATOMIC_RELAXED);

	gc.goal = pct < 0 ? UINT64_MAX / 2 : base + base * (uint64_t)pct / 100;
	if (heap.memlimit > 0 && gc.goal > (uint64_t)heap.memlimit)
		gc.goal = (uint64_t)heap.memlimit > gc.marked ? (uint64_t)heap.memlimit :
								gc.marked + (1 << 20);
	/* Start early enough for concurrent mark to finish near the goal. */
	gc.trigger = gc.marked + (gc.goal - gc.marked) * 5 / 8;
	if (pct < 0)
		gc.trigger = UINT64_MAX / 2;
}

/* Bytes of the data segments found as roots this cycle. */
static uint64_t databytes(void)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < ndataroots; i++)
		n += dataroots[i].hi - dataroots[i].lo;
	return n;
}

/*
 * A marker finds spans by address, without a lock, and reads and writes
 * their bitmaps: no span may go back to the page heap while it marks
 * (its bitmaps go back to the pool, the pointers to NULL).  The sweep
 * never runs then.  mcentral_trim(), on sysmon, which no stop-the-world
 * stops, frees empty small spans: it asks first.  (gort_free() of a
 * large object frees its span at once, but a large span has no bitmaps
 * to lose.)  Each side
 * stores, then loads the other's flag (sequentially consistent): either
 * the trim sees the cycle and does nothing, or the cycle sees the trim
 * and waits for it, before the pause.
 */
static uint32_t notrim, trimmers;

bool gc_trim_begin(void)
{
	__atomic_fetch_add(&trimmers, 1, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&notrim, __ATOMIC_SEQ_CST))
		return true;
	gc_trim_end();
	return false;
}

void gc_trim_end(void)
{
	__atomic_fetch_sub(&trimmers, 1, __ATOMIC_RELEASE);
}

static void trimoff(bool off)
{
	__atomic_store_n(&notrim, off, __ATOMIC_SEQ_CST);
	while (off && __atomic_load_n(&trimmers, __ATOMIC_SEQ_CST))
		osyield();		/* sysmon, a few microseconds */
}

static void gccycle(bool forced)
{
	int64_t t0, t1, t2, t4, stw1, stw2;
	/* gctrace=2's breakdown of the pauses, printed once the world runs
	 * (a write() with the world stopped would lengthen the pause). */
	int64_t tstop1, tstop2 = 0, tlook = 0, troots = 0, tdrain;
	uint64_t heap0, heapterm, pages = 0, dirty = 0;
	int procs = atomic_load(&gomaxprocs);
	int64_t markcpu, assistcpu;
	uint32_t cycle = gc.started + 1, rounds = 0;
	struct gcdirty_stamp stamp = { .ok = false };
	bool quiet = false;
	struct g *gp;

	/* Sweep termination. */
	sweep_finish();
	heap0 = heap_alloc_bytes();
	trimoff(true);
	ndataroots = 0;
	snap.valid = false;
	if (!nodata) {
		lock(&rootslock);
		dl_iterate_phdr(phdr_cb, NULL);
		unlock(&rootslock);
	}
	/* What a pause would mark is at most heap0, likely about what the
	 * last cycle found live (the first cycle has no such estimate). */
	cyclestw = gcmode == GCMODE_STW ||
		   (!debug.gcconcurrent && gc.started && heap0 < 8 * SMALLHEAP_STW &&
		    gc.marked + databytes() < SMALLHEAP_STW);
	t0 = nanotime();
	stopTheWorld("GC sweep termination");
	tstop1 = nanotime();
	gc.started = cycle;
	bgw.marked = 0;
	/* On one P, an assist and the GC goroutine never mark at once:
	 * sharing would only cost; assists sleep to the end of the mark. */
	pool.parallel = procs > 1;
	__atomic_store_n(&pool.marked, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&pool.ns, 0, __ATOMIC_RELAXED);
	yielded = 0;
	if (!cyclestw) {
		__atomic_store_n(&gcmarking, 1, __ATOMIC_SEQ_CST);
		gc.heapstart = heap0;
		gort_gc_phase(&gc, _GCmark);
		startTheWorld();
		t1 = sched.worldstarted;
		if (debug.gctrace > 1)
			printf_raw("gc %u: sweep termination: stopped in %.3f ms, restarted in %.3f ms\n",
				   cycle, (tstop1 - t0) / 1e6, (t1 - tstop1) / 1e6);
	} else {
		t1 = nanotime();
	}
	stw1 = t1 - t0;

	/* Concurrent mark; in stw mode the world stays stopped. */
	if (!cyclestw) {
		/*
		 * The dirty interval starts before the first scan: a store
		 * into an object after it is scanned must be on a page a look
		 * reports.  After the pause, not before: the first writes to
		 * the pages it protects fault, and each fault that flushes
		 * the TLB of the other CPUs made the mutators reach their
		 * next preemption point 50-100 us late.
		 */
		gcdirty_reset();
		scandata(false);
		scantimers();
		scanspecials();
		runningskipped = 0;
		for_each_g(i, gp) {
			scanstack(gp, false);
			if (!(i & 63)) {
				drain(true);
				gcyield();
			}
		}
		drain(true);
		/*
		 * Until a round re-scans little and every stack was scanned
		 * at least once while its goroutine was stopped: what is left
		 * is done with the world stopped.
		 */
		for (rounds = 0; rounds < 16; rounds++) {
			uint64_t before = markedsofar();
			bool unscanned = runningskipped;

			rescanned = 0;
			runningskipped = 0;
			/* Stacks that ran since: now, while they are not running,
			 * so that little is left for mark termination. */
			for_each_g(i, gp) {
				if (__atomic_load_n(&gp->gcstackdirty, __ATOMIC_RELAXED))
					scanstack(gp, false);
				if (!(i & 255))
					drain(true);
			}
			gcdirty_stamp(&stamp);		/* before the look begins */
			pages = gcdirty_collect(rescan_pages, NULL, false);
			if (debug.gctrace > 1)
				printf_raw("gc %u: round %u: %llu dirty pages, %llu KB re-scanned\n", cycle, rounds,
					   (unsigned long long)pages, (unsigned long long)(rescanned >> 10));
			dirty += pages;
			scandata(false);
			drain(true);
			if (rescanned + (markedsofar() - before) < (256 << 10) && !unscanned)
				break;
		}
	}
	t2 = nanotime();

	/* Mark termination. */
	if (!cyclestw) {
		stopTheWorld("GC mark termination");
		tstop2 = nanotime();
	}
	heapterm = heap_alloc_bytes();
	gc.heapterm = heapterm;
	gort_gc_phase(&gc, _GCmarktermination);
	if (cyclestw) {
		scandata(false);
		scantimers();
		scanspecials();
		for_each_g(i, gp)
			scanstack(gp, true);
	} else {
		int64_t a = nanotime(), b, c2;

		rescanned = 0;
		quiet = gcdirty_quiet(&stamp);
		pages = quiet ? 0 : gcdirty_collect(rescan_pages, NULL, true);
		b = nanotime();
		dirty += pages;
		scandata(true);
		scantimers();
		scanspecials();
		rescanstacks();
		c2 = nanotime();
		tlook = b - a;
		troots = c2 - b;
	}
	tdrain = nanotime();
	drain(false);
	tdrain = nanotime() - tdrain;
	if (unlikely(debug.gccheckmark))
		checkmark();
	__atomic_store_n(&gcmarking, 0, __ATOMIC_SEQ_CST);
	trimoff(false);
	flushcaches();
	gc.marked = markedsofar();
	__atomic_store_n(&heap.sweepgen, heap.sweepgen + 2, __ATOMIC_SEQ_CST);
	setgoal();
	__atomic_store_n(&gc.heaplive, gc.marked, __ATOMIC_RELAXED);
	gort_gc_phase(&gc, _GCoff);
	startTheWorld();
	stw2 = sched.worldstarted - t2;
	wakeassists();
	t4 = nanotime();
	if (debug.gctrace > 1 && !cyclestw)
		printf_raw("gc %u: mark termination: stopped in %.3f ms, %llu dirty pages in %.3f ms%s, "
			   "%llu KB re-scanned, roots %.3f ms, drain %.3f ms, restarted after %.3f ms\n",
			   cycle, (tstop2 - t2) / 1e6, (unsigned long long)pages, tlook / 1e6,
			   quiet ? " (no fault since the last round: no look)" : "",
			   (unsigned long long)(rescanned >> 10), troots / 1e6, tdrain / 1e6,
			   (sched.worldstarted - tstop2 - tlook - troots - tdrain) / 1e6);
	gc.lastgc = t4;
	/* CPU: a pause costs every P (as Go counts it); marking, the wall
	 * time the GC goroutine was not preempted. */
	markcpu = (t2 - t1) - yielded;
	if (markcpu < 0)
		markcpu = 0;
	assistcpu = __atomic_load_n(&pool.ns, __ATOMIC_RELAXED);
	lock(&gc.lock);
	gc.gccpu += (stw1 + stw2) * procs + markcpu + assistcpu;
	unlock(&gc.lock);
	if (debug.gctrace) {
		uint64_t stk = 0, stksys, glob = 0;
		size_t i;

		stack_memstats(&stk, &stksys);
		for (i = 0; i < ndataroots; i++)
			glob += dataroots[i].hi - dataroots[i].lo;
		/* Go's format; "ms cpu" is STW + assist/background/idle + STW
		 * (no idle workers here: 0). */
		printf_raw("gc %u @%.3fs %d%%: %.3f+%.3f+%.3f ms clock, "
			   "%.3f+%.3f/%.3f/0+%.3f ms cpu, %llu->%llu->%llu MB, %llu MB goal, "
			   "%llu MB stacks, %llu MB globals, %d P%s; %s: %llu dirty pages, %u rounds%s\n",
			   cycle, (double)(t0 - sched.starttime) / 1e9,
			   (int)(100.0 * (double)gc.gccpu / ((double)(t4 - sched.starttime) * procs) + 0.5),
			   stw1 / 1e6, (t2 - t1) / 1e6, stw2 / 1e6,
			   stw1 * procs / 1e6, assistcpu / 1e6, markcpu / 1e6, stw2 * procs / 1e6,
			   (unsigned long long)(heap0 >> 20), (unsigned long long)(heapterm >> 20),
			   (unsigned long long)(gc.marked >> 20), (unsigned long long)(gc.goal >> 20),
			   (unsigned long long)(stk >> 20), (unsigned long long)(glob >> 20),
			   procs, forced ? " (forced)" : "",
			   cyclestw ? "stw" : gcdirty_name(gcmode), (unsigned long long)dirty, rounds,
			   quiet ? ", quiet" : "");
	}
	/* Last: a gort_gc() caller woken here may exit the program. */
	{
		uint32_t k = (cycle - 1) % GORT_GC_PAUSE_RING, n;

		lock(&gc.lock);
		gc.done = cycle;
		gc.pausens[k] = (uint64_t)(stw1 + stw2);
		gc.pauseend[k] = (uint64_t)unixnow();
		gc.lastgc_unix = gc.pauseend[k];
		gc.pausetotal += (uint64_t)(stw1 + stw2);
		if (forced)
			gc.numforced++;
		gc.dirtypages += dirty;
		gc.rounds += rounds;
		gc.quietlooks += quiet;
		gc.assistbytes += __atomic_load_n(&pool.marked, __ATOMIC_RELAXED);
		n = gc.nwaiters;
		gc.nwaiters = 0;
		unlock(&gc.lock);
		while (n--)
			semrelease1(&gc.donesema, false);
	}
}

/* Wake the GC goroutine without yielding (callers may hold an mcache). */
void gc_wake(void)
{
	if (gc.bg)
		unpark_noyield(gc.bg);
}

/* The pacer's trigger is reached (heaplive is cheap, the sum exact). */
static bool cycle_due(void)
{
	return __atomic_load_n(&gc.heaplive, __ATOMIC_RELAXED) >= gc.trigger &&
	       heap_alloc_bytes() >= gc.trigger;
}

static void bgsweep_and_cycles(void *unused)
{
	(void)unused;
	for (;;) {
		bool forced;
		unsigned int n = 0;

		lock(&gc.lock);
		if (gc.done == gc.requested && cycle_due())
			gc.requested = gc.done + 1;
		if (gc.done == gc.requested) {
			unlock(&gc.lock);
			/* Sweep in the background, then sleep; a cycle that
			 * is due meanwhile goes first (it finishes the sweep). */
			while (sweepone()) {
				if (++n & 63)
					continue;
				wakefing();
				preemptcheck();
				if (cycle_due() || gc.requested != gc.done)
					break;
			}
			wakefing();
			if (!cycle_due() && gc.requested == gc.done)
				park_reason(waitReasonGCWorkerIdle);
			continue;
		}
		forced = gc.forced;
		gc.forced = 0;
		unlock(&gc.lock);
		gccycle(forced);
	}
}

/*
 * gc_alloc_hook() - an mcache took @bytes of fresh space (a span refill,
 * a large object).  Sets c->gcwake when a cycle should start; the
 * allocator wakes the GC goroutine once it has let go of its locks.
 */
void gc_alloc_hook(uint64_t bytes, struct mcache *c)
{
	uint64_t live = __atomic_add_fetch(&gc.heaplive, bytes, __ATOMIC_RELAXED);

	if (!gc.inited || gcstressn ||
	    live < gc.trigger || __atomic_load_n(&gc.phase, __ATOMIC_RELAXED) != _GCoff)
		return;
	/* heaplive counts whole spans handed out and no frees: check. */
	live = heap_alloc_bytes();
	if (live < gc.trigger) {
		__atomic_store_n(&gc.heaplive, live, __ATOMIC_RELAXED);
		return;
	}
	c->gcwake = true;
}

/* The gray stack of the assists that run on @pp. */
static struct gcwork *assistwork(struct p *pp)
{
	if (!pp->gcw) {
		pp->gcw = sysmap(sizeof(struct gcwork));
		if (!pp->gcw)
			throw("gc: out of memory for an assist's gray stack");
	}
	return pp->gcw;
}

/* An assist that holds gray objects puts them all in the pool. */
static void flushwork(struct gcwork *w, bool *held)
{
	unsigned int wake = 0;

	lock(&pool.lock);
	while (w->n)
		wake += putpkt(w, w->n);
	pool.nhelping--;
	*held = false;
	unlock(&pool.lock);
	while (wake--)
		wakeassist();
}

/**
 * gort_gc_assist() - probe point: goroutine @gp allocated past the heap
 * goal (@heaplive bytes in use) while cycle @g->started marks, and helps
 * mark until the mark is over: it takes gray objects from the pool the
 * markers share, and sleeps when there are none to take.  (Below the
 * goal, with GORT_DEBUG=gcassist=1: it marks what it can take, and goes
 * back to its work when there is none.)
 */
__probe void gort_gc_assist(struct gcstate *g, struct g *gp, uint64_t heaplive)
{
	uint32_t cycle = g->started;

	PROBE_FRAME();
	(void)gp, (void)heaplive;
	__atomic_add_fetch(&pool.nassists, 1, __ATOMIC_RELAXED);
	while (__atomic_load_n(&gcmarking, __ATOMIC_ACQUIRE) &&
	       __atomic_load_n(&g->started, __ATOMIC_RELAXED) == cycle) {
		/* Our P, and so our gray stack, may change at each stop. */
		struct gcwork *w = assistwork(getm()->p);
		bool held = false, got;
		int64_t t;

		if (takepkt(w, &held)) {
			t = nanotime();
			for (;;) {
				if (!drainlocal(w, DRAIN_ASSIST)) {
					flushwork(w, &held);
					break;
				}
				if (!takepkt(w, &held))
					break;
			}
			__atomic_add_fetch(&pool.marked, w->marked, __ATOMIC_RELAXED);
			w->marked = 0;
			__atomic_add_fetch(&pool.ns, nanotime() - t, __ATOMIC_RELAXED);
			preemptcheck();
			continue;
		}
		if (__atomic_load_n(&g->heaplive, __ATOMIC_RELAXED) <= g->goal)
			break;		/* gcassist=1 */
		lock(&pool.lock);
		if (pool.full || !__atomic_load_n(&gcmarking, __ATOMIC_RELAXED) ||
		    __atomic_load_n(&g->started, __ATOMIC_RELAXED) != cycle) {
			unlock(&pool.lock);
			continue;
		}
		pool.nsleep++;
		__atomic_add_fetch(&pool.wanted, 1, __ATOMIC_RELAXED);
		unlock(&pool.lock);
		semacquire1(&pool.sema, false, waitReasonGCAssistWait, -1, &got);
	}
}

/* gc_assist() - from gort_alloc's slow path: over the goal while marking. */
void gc_assist(void)
{
	uint64_t live = __atomic_load_n(&gc.heaplive, __ATOMIC_RELAXED);
	struct g *gp = getg();

	if (((live > gc.goal && gc.goal) || debug.gcassist) &&
	    __atomic_load_n(&gcmarking, __ATOMIC_ACQUIRE) && gp && gp != gc.bg)
		gort_gc_assist(&gc, gp, live);
}

/* gcstress=N: every Nth allocation asks for a cycle (gort_alloc). */
void gc_stress_tick(void)
{
	if (!gc.inited || __atomic_add_fetch(&gc.stresscount, 1, __ATOMIC_RELAXED) % gcstressn)
		return;
	lock(&gc.lock);
	if (gc.requested == gc.done)
		gc.requested = gc.done + 1;
	unlock(&gc.lock);
	gc_wake();
	gort_yield();		/* let it run: stress means many cycles */
}

void gc_poison(void *p, size_t n)
{
	memset(p, 0xa5, n);
}

/* Go's forcegcperiod: 2 minutes, or GORT_DEBUG=gcforce=N seconds. */
static int64_t forceperiod(void)
{
	return (debug.gcforce > 0 ? debug.gcforce : 120) * 1000000000LL;
}

/* gc_force_in() - ns until sysmon must force a cycle, -1 if never. */
int64_t gc_force_in(int64_t now)
{
	int64_t left;

	if (!gc.inited || heap.gcpercent < 0)
		return -1;
	left = gc.lastgc + forceperiod() - now;
	return left < 0 ? 0 : left;
}

void gc_sysmon_tick(int64_t now)
{
	/* A cycle at least every forceperiod(), as Go's sysmon does. */
	if (!gc.inited || heap.gcpercent < 0 || now - gc.lastgc < forceperiod())
		return;
	lock(&gc.lock);
	if (gc.requested == gc.done) {
		gc.requested = gc.done + 1;
		gc.forced = 1;
	}
	gc.lastgc = now;
	unlock(&gc.lock);
	gc_wake();
}

__export int gort_gc(void)
{
	uint32_t want;
	struct g *gp = getg();

	if (!gp || !gc.inited)
		return -EPERM;
	lock(&gc.lock);
	/* A cycle under way may have marked what is now garbage: one more. */
	want = (gc.started != gc.done ? gc.started : gc.done) + 1;
	if (gc.requested < want)
		gc.requested = want;
	gc.forced = 1;
	unlock(&gc.lock);
	gc_wake();
	for (;;) {
		bool got;

		lock(&gc.lock);
		if ((int32_t)(gc.done - want) >= 0) {
			unlock(&gc.lock);
			break;
		}
		gc.nwaiters++;
		unlock(&gc.lock);
		semacquire1(&gc.donesema, false, waitReasonGarbageCollection, -1, &got);
	}
	/* As runtime.GC: the sweep is finished before we return. */
	while (sweepone())
		;
	wakefing();
	return 0;
}

__export int gort_gc_percent(int percent)
{
	int old;

	lock(&gc.lock);
	old = heap.gcpercent;
	heap.gcpercent = percent;
	setgoal();
	unlock(&gc.lock);
	gc_wake();
	return old;
}

__export int gort_gc_add_roots(void *addr, size_t len)
{
	uintptr_t lo = (uintptr_t)addr, hi = lo + len;
	size_t i;

	if (!addr || !len || hi < lo)
		return -EINVAL;
	lock(&rootslock);
	for (i = 0; i < nuroots; i++) {
		if (lo < uroots[i].hi && uroots[i].lo < hi) {
			unlock(&rootslock);
			return -EINVAL;
		}
	}
	if (!pushrange(&uroots, &nuroots, &capuroots, lo, hi)) {
		unlock(&rootslock);
		return -ENOMEM;
	}
	unlock(&rootslock);
	return 0;
}

__export int gort_gc_exclude_roots(const void *addr, size_t len)
{
	uintptr_t lo = (uintptr_t)addr, hi = lo + len;
	int err;

	if (!addr || !len || hi < lo)
		return -EINVAL;
	lock(&rootslock);
	err = exclude(lo, hi, true);
	unlock(&rootslock);
	return err;
}

__export int gort_gc_remove_roots(void *addr)
{
	size_t i;

	lock(&rootslock);
	for (i = 0; i < nuroots; i++) {
		if (uroots[i].lo == (uintptr_t)addr) {
			uroots[i] = uroots[--nuroots];
			unlock(&rootslock);
			return 0;
		}
	}
	unlock(&rootslock);
	return -ENOENT;
}

void gc_stats_free(int node, uint8_t sc, uint64_t n, uint64_t bytes)
{
	struct mcache *c = sweepstats[node];

	__atomic_fetch_add(&c->nfree[sc], n, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->bytesfree[node], bytes, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->nfreenode[node], n, __ATOMIC_RELAXED);
}

struct mcache *gc_sweepstats(int node)
{
	return sweepstats[node];
}

__export int gort_read_gcstats(struct gort_gcstats *out)
{
	struct gort_gcstats st;
	int64_t now = nanotime();
	size_t sz;

	if (!out || out->sz < sizeof(size_t))
		return -EINVAL;
	memset(&st, 0, sizeof(st));
	lock(&gc.lock);
	st.num_gc = gc.done;
	st.num_forced_gc = gc.numforced;
	st.pause_total_ns = gc.pausetotal;
	memcpy(st.pause_ns, gc.pausens, sizeof(st.pause_ns));
	memcpy(st.pause_end, gc.pauseend, sizeof(st.pause_end));
	st.last_gc = gc.lastgc_unix;
	st.next_gc = gc.goal;
	if (sched.started && now > sched.starttime)
		st.gc_cpu_fraction = (double)gc.gccpu /
				     ((double)(now - sched.starttime) * atomic_load(&gomaxprocs));
	st.mode = gcdirty_name(gcmode);
	st.dirty_pages = gc.dirtypages;
	st.mark_rounds = gc.rounds;
	st.quiet_looks = gc.quietlooks;
	st.assists = __atomic_load_n(&pool.nassists, __ATOMIC_RELAXED);
	st.assist_bytes = gc.assistbytes;
	st.finalizers_run = __atomic_load_n(&gc.finrun, __ATOMIC_RELAXED);
	st.stacks_shrunk = __atomic_load_n(&gc.nshrunk, __ATOMIC_RELAXED);
	st.stack_bytes_released = __atomic_load_n(&gc.shrunkbytes, __ATOMIC_RELAXED);
	unlock(&gc.lock);
	sz = out->sz < sizeof(st) ? out->sz : sizeof(st);
	st.sz = sz;
	memcpy(out, &st, sz);
	return 0;
}

/* The stack of the thread that called gort_main: main's args live there. */
void gc_mainstack(uintptr_t sp)
{
	pthread_attr_t a;
	void *lo;
	size_t len;

	if (pthread_getattr_np(pthread_self(), &a))
		return;
	if (!pthread_attr_getstack(&a, &lo, &len)) {
		gc.mainsp = sp & ~(uintptr_t)7;
		gc.mainhi = (uintptr_t)lo + len;
	}
	pthread_attr_destroy(&a);
}

/*
 * gcinit() - from the main goroutine, before the program's main: pick
 * the dirty-page mode and start the GC and finalizer goroutines.
 */
void gcinit(void)
{
	const char *m = getenv("GORT_GCMODE");
	int want = GCMODE_UFFD, i;

	if (m && !strcmp(m, "stw"))
		want = GCMODE_STW;
	else if (m && !strcmp(m, "softdirty"))
		want = GCMODE_SOFTDIRTY;
	nodata = debug.gcnodata > 0;
	gcstressn = debug.gcstress > 0 ? (uint64_t)debug.gcstress : 0;
	for (i = 0; i < heap.nnodes; i++) {
		sweepstats[i] = allocmcache(i);
	}
	gcdirty_init(want);
	fincur = sysmap(sizeof(*fincur));
	if (!fincur)
		fatal("gcinit: out of memory");
	gc.lastgc = nanotime();
	setgoal();
	gc.bg = gosys(bgsweep_and_cycles, NULL);
	gc.fing = gosys(runfinq, NULL);
	if (!gc.bg || !gc.fing)
		fatal("gcinit: cannot start the GC goroutines");
	gc.inited = true;
	if (debug.verbose)
		printf_raw("gort: gc: %s dirty-page tracking, GORT_GC=%d%s\n", gcdirty_name(gcmode),
			   heap.gcpercent, nodata ? ", data segments not scanned" : "");
}
