/* SPDX-License-Identifier: MIT */
/*
 * Description: finalizers (gort_set_finalizer(), Go's SetFinalizer) run
 * once, late enough, and never for a live object.
 *
 *   exactly_once	10,000 objects of mixed sizes (16 B .. 40 KiB, so
 *			small and large spans, scanned and noscan) get a
 *			finalizer and are dropped; gort_gc() is repeated until
 *			every finalizer ran (bounded: 10 s).  Each ran once
 *			(a per-object atomic counter), on a goroutine that is
 *			not the caller, with the object intact (its magic and
 *			payload) and the argument it was given; a few more
 *			cycles run none again; finalizers_run says 10,000;
 *			the objects are freed in the cycles after.  Under
 *			GORT_DEBUG=gcstress (freed memory poisoned with 0xa5)
 *			and on 1 P too.
 *   keeps_referents	an object reachable only from a finalizable object
 *			(two levels deep), and the finalizer's argument, stay
 *			allocated and intact until the finalizer has run (it
 *			checks them, under gcstress poisoning), and are freed
 *			once it has.
 *   resurrection	a finalizer that stores its object in a global: the
 *			object stays valid through more cycles and garbage, is
 *			not finalized again, may get a new finalizer (which
 *			then runs once more), and is freed once dropped again.
 *   reachable_never	objects with finalizers that stay reachable (a
 *			global array, a registered malloc array, an interior
 *			pointer, a parked goroutine's stack) are never
 *			finalized, however many cycles run; their finalizers
 *			run once they are dropped.
 *   errors		-EINVAL for a NULL, stack, static, malloc'ed, freed or
 *			interior pointer (small and large objects); -EEXIST
 *			for a second finalizer; fn NULL removes it (also when
 *			there is none) and it never runs, and a new one may be
 *			set after removal.
 *   context		a finalizer may allocate, send on a channel and
 *			sleep: every one of 1,000 sends its index to a buffered
 *			channel that the test drains.
 *   last_finalized_freed
 *			a finalized object, and the 16 MiB it alone points to,
 *			are freed by the cycles after its finalizer ran even
 *			when no other finalizer runs after it (the finalizer
 *			goroutine, parked, keeps no copy of the last one).
 */
#include "gc_test.h"

#define FMAGIC		0xf17a112e5eed0000ULL

struct fobj {
	uint64_t magic;		/* FMAGIC ^ idx */
	uint64_t idx;
	uint64_t pay[];		/* gc_mix(idx << 16 | k) */
};

static size_t fobj_words(size_t size)
{
	return (size - sizeof(struct fobj)) / 8;
}

static void fobj_fill(struct fobj *o, size_t size, uint64_t idx)
{
	size_t k, n = fobj_words(size);

	o->magic = FMAGIC ^ idx;
	o->idx = idx;
	for (k = 0; k < n; k++)
		o->pay[k] = gc_mix(idx << 16 | k);
}

/* fobj_ok_from() - @o is object @idx of @size, untouched from payload
 * word @k0 on. */
static bool fobj_ok_from(const struct fobj *o, size_t size, uint64_t idx, size_t k0)
{
	size_t k, n = fobj_words(size);

	if (o->magic != (FMAGIC ^ idx) || o->idx != idx)
		return false;
	for (k = k0; k < n; k++)
		if (o->pay[k] != gc_mix(idx << 16 | k))
			return false;
	return true;
}

static bool fobj_ok(const struct fobj *o, size_t size, uint64_t idx)
{
	return fobj_ok_from(o, size, idx, 0);
}

/* ---- exactly_once ---- */

#define NOBJ	10000

static const size_t sizes[] = { 16, 48, 112, 256, 1024, 4096, 16, 64, 512, 2048 };
#define LARGE_EVERY	500		/* every 500th is 40 KiB: a large span */
#define LARGE_SIZE	(40 << 10)

static size_t size_of(long i)
{
	return i % LARGE_EVERY == LARGE_EVERY - 1 ? LARGE_SIZE : sizes[i % GT_ARRAY_SIZE(sizes)];
}

static struct {
	long n;
	int64_t main_goid;
	_Atomic int count[NOBJ];
	_Atomic long total, bad;
	uintptr_t hidden[NOBJ];
} once;

static void once_fin(void *obj, void *arg)
{
	long idx = (long)(uintptr_t)arg - 1;
	int64_t me = gort_goid();

	if (idx < 0 || idx >= once.n) {
		GFAIL("finalizer called with arg %p", arg);
		return;
	}
	if (obj != GC_UNHIDE(once.hidden[idx]))
		GFAIL("finalizer of object %ld called for %p, not %p", idx, obj,
		      GC_UNHIDE(once.hidden[idx]));
	else if (!fobj_ok(obj, size_of(idx), (uint64_t)idx) &&
		 atomic_fetch_add(&once.bad, 1) < 5)
		GFAIL("object %ld (%zu bytes) damaged when its finalizer ran", idx, size_of(idx));
	if (me <= 0 || me == once.main_goid)
		GFAIL("finalizer ran on goroutine %lld (main is %lld)", (long long)me,
		      (long long)once.main_goid);
	if (atomic_fetch_add(&once.count[idx], 1) != 0)
		GFAIL("finalizer of object %ld ran twice", idx);
	atomic_fetch_add(&once.total, 1);
}

static void once_make(void *arg)
{
	long i;

	(void)arg;
	for (i = 0; i < once.n; i++) {
		size_t sz = size_of(i);
		struct fobj *o = gort_alloc(sz, i % 3 == 2 ? GORT_ALLOC_NOSCAN : 0);

		if (!GCHECK(o != NULL))
			return;
		fobj_fill(o, sz, (uint64_t)i);
		GCHECK_EQ(0, gort_set_finalizer(o, once_fin, (void *)(uintptr_t)(i + 1)));
		once.hidden[i] = GC_HIDE(o);
	}
}

/* Run cycles until @done() or 10 s; true if it got there. */
static bool gc_until(bool (*done)(void))
{
	int64_t end = gort_nanotime() + 10000 * GT_MS;

	while (!done() && gort_nanotime() < end) {
		GCHECK_EQ(0, gort_gc());
		GT_WAIT_UNTIL(done(), 20);
	}
	return done();
}

static bool once_all_ran(void)
{
	return atomic_load(&once.total) >= once.n;
}

static int once_main(void *arg)
{
	struct gort_memstats ms0, ms1;
	struct gort_gcstats st;
	long i, alive;

	(void)arg;
	gc_pad_arena();
	once.n = NOBJ;
	once.main_goid = gort_goid();
	gc_full(1);
	GCHECK(gc_memstats(&ms0));
	if (!gc_in_goroutine(once_make, NULL))
		return 1;
	if (!GCHECK(gc_until(once_all_ran)))
		fprintf(stderr, "# only %ld of %d finalizers ran\n", atomic_load(&once.total),
			NOBJ);
	/* More cycles, more time: nothing runs again. */
	gc_full(3);
	gort_sleep(20 * GT_MS);
	gc_full(2);
	gort_sleep(20 * GT_MS);
	GCHECK_EQ(NOBJ, atomic_load(&once.total));
	for (i = 0; i < NOBJ; i++)
		if (atomic_load(&once.count[i]) != 1)
			GFAIL("object %ld: finalizer ran %d times", i, atomic_load(&once.count[i]));
	GCHECK(gc_stats(&st));
	GCHECK_EQ(NOBJ, st.finalizers_run);
	/* Finalized objects are freed by the cycles after. */
	alive = gc_count_alive(once.hidden, NOBJ);
	if (!GCHECK(alive <= NOBJ * GC_MARGIN_PCT / 100))
		fprintf(stderr, "# %ld of %d finalized objects still allocated\n", alive, NOBJ);
	GCHECK(gc_memstats(&ms1));
	if (!GCHECK(ms1.heap_objects <= ms0.heap_objects + NOBJ * GC_MARGIN_PCT / 100))
		fprintf(stderr, "# heap_objects %llu, was %llu before %d objects\n",
			(unsigned long long)ms1.heap_objects,
			(unsigned long long)ms0.heap_objects, NOBJ);
	printf("# %s: %d finalizers, %u cycles, %ld objects left\n", st.mode, NOBJ,
	       st.num_gc, alive);
	return 0;
}

TEST(exactly_once)
{
	ASSERT_EQ(0, gt_run(once_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

TEST(exactly_once_1p)
{
	ASSERT_EQ(0, gt_run(once_main, NULL, 1));
	ASSERT_EQ(0, gt_failed());
}

TEST(exactly_once_gcstress)
{
	setenv("GORT_DEBUG", "gcstress=100", 1);
	ASSERT_EQ(0, gt_run(once_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

TEST(exactly_once_stw)
{
	setenv("GORT_GCMODE", "stw", 1);
	ASSERT_EQ(0, gt_run(once_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

/* ---- keeps_referents ---- */

#define NREF	1000

struct parent {
	uint64_t magic;
	uint64_t idx;
	struct fobj *child;	/* -> child, which -> grandchild */
};

static struct {
	_Atomic long ran;
	uintptr_t parent[NREF], child[NREF], grand[NREF], arg[NREF];
} ref;

#define CHILD_SIZE	200
#define GRAND_SIZE	3000
#define ARG_SIZE	64

static void ref_fin(void *obj, void *arg)
{
	struct parent *p = obj;
	struct fobj *a = arg, *c, *g;
	uint64_t i = p->idx;

	if (p->magic != (FMAGIC ^ i) || i >= NREF) {
		GFAIL("finalizable parent %p damaged (magic %#llx)", obj,
		      (unsigned long long)p->magic);
		return;
	}
	c = p->child;
	/* The child's first payload word is the grandchild. */
	if (c != GC_UNHIDE(ref.child[i]) || !gc_alive(c) || !fobj_ok_from(c, CHILD_SIZE, i, 1)) {
		GFAIL("parent %llu: child %p freed or damaged before the finalizer ran",
		      (unsigned long long)i, (void *)c);
		return;
	}
	g = (struct fobj *)c->pay[0];
	if (g != GC_UNHIDE(ref.grand[i]) || !gc_alive(g) || !fobj_ok(g, GRAND_SIZE, i))
		GFAIL("parent %llu: grandchild %p freed or damaged before the finalizer ran",
		      (unsigned long long)i, (void *)g);
	if (a != GC_UNHIDE(ref.arg[i]) || !gc_alive(a) || !fobj_ok(a, ARG_SIZE, i))
		GFAIL("parent %llu: finalizer argument %p freed or damaged",
		      (unsigned long long)i, (void *)a);
	atomic_fetch_add(&ref.ran, 1);
}

static void ref_make(void *unused)
{
	uint64_t i;

	(void)unused;
	for (i = 0; i < NREF; i++) {
		struct parent *p = gort_alloc(sizeof(*p), 0);
		struct fobj *c = gort_alloc(CHILD_SIZE, 0);
		struct fobj *g = gort_alloc(GRAND_SIZE, GORT_ALLOC_NOSCAN);
		struct fobj *a = gort_alloc(ARG_SIZE, GORT_ALLOC_NOSCAN);

		if (!GCHECK(p && c && g && a))
			return;
		fobj_fill(c, CHILD_SIZE, i);
		fobj_fill(g, GRAND_SIZE, i);
		fobj_fill(a, ARG_SIZE, i);
		/* The child's first payload word is the grandchild. */
		ref.grand[i] = GC_HIDE(g);
		c->pay[0] = (uint64_t)(uintptr_t)g;
		p->magic = FMAGIC ^ i;
		p->idx = i;
		p->child = c;
		ref.parent[i] = GC_HIDE(p);
		ref.child[i] = GC_HIDE(c);
		ref.arg[i] = GC_HIDE(a);
		GCHECK_EQ(0, gort_set_finalizer(p, ref_fin, a));
	}
}

static bool ref_all_ran(void)
{
	return atomic_load(&ref.ran) >= NREF;
}

static int ref_main(void *arg)
{
	long alive[4];
	int k;

	(void)arg;
	gc_pad_arena();
	if (!gc_in_goroutine(ref_make, NULL))
		return 1;
	/*
	 * Cycles and garbage (gcstress poisons freed memory) while the
	 * finalizers are pending: the children must survive all of it.
	 */
	for (k = 0; k < 20; k++) {
		int j;

		for (j = 0; j < 2000; j++)
			GCHECK(gort_alloc(64 + j % 512, 0) != NULL);
		GCHECK_EQ(0, gort_gc());
	}
	if (!GCHECK(gc_until(ref_all_ran)))
		fprintf(stderr, "# only %ld of %d finalizers ran\n", atomic_load(&ref.ran), NREF);
	/* Now nothing holds any of them: all four kinds go. */
	gc_full(3);
	alive[0] = gc_count_alive(ref.parent, NREF);
	alive[1] = gc_count_alive(ref.child, NREF);
	alive[2] = gc_count_alive(ref.grand, NREF);
	alive[3] = gc_count_alive(ref.arg, NREF);
	for (k = 0; k < 4; k++)
		if (!GCHECK(alive[k] <= NREF * GC_MARGIN_PCT / 100))
			fprintf(stderr, "# %s: %ld of %d still allocated after their finalizers\n",
				(const char *[]){ "parents", "children", "grandchildren",
						  "arguments" }[k], alive[k], NREF);
	printf("# %s: left %ld parents, %ld children, %ld grandchildren, %ld args\n",
	       gc_mode(), alive[0], alive[1], alive[2], alive[3]);
	return 0;
}

TEST(keeps_referents)
{
	setenv("GORT_DEBUG", "gcstress=50", 1);
	ASSERT_EQ(0, gt_run(ref_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

TEST(keeps_referents_1p)
{
	setenv("GORT_DEBUG", "gcstress=50", 1);
	ASSERT_EQ(0, gt_run(ref_main, NULL, 1));
	ASSERT_EQ(0, gt_failed());
}

/* ---- resurrection ---- */

#define NRES	1000
#define RES_SIZE	96

static struct {
	struct fobj *saved[NRES];	/* where finalizers resurrect them */
	uintptr_t hidden[NRES];
	_Atomic int count[NRES];
	_Atomic long ran;
} res;

static void res_fin(void *obj, void *arg)
{
	struct fobj *o = obj;
	uint64_t i = (uint64_t)(uintptr_t)arg;

	if (i >= NRES || o != GC_UNHIDE(res.hidden[i]) || !fobj_ok(o, RES_SIZE, i)) {
		GFAIL("resurrecting finalizer: object %p (arg %llu) damaged", obj,
		      (unsigned long long)i);
		return;
	}
	/* Resurrect it: a global now holds it. */
	res.saved[i] = o;
	atomic_fetch_add(&res.count[i], 1);
	atomic_fetch_add(&res.ran, 1);
}

static void res_make(void *unused)
{
	uint64_t i;

	(void)unused;
	for (i = 0; i < NRES; i++) {
		struct fobj *o = gort_alloc(RES_SIZE, 0);

		if (!GCHECK(o != NULL))
			return;
		fobj_fill(o, RES_SIZE, i);
		res.hidden[i] = GC_HIDE(o);
		GCHECK_EQ(0, gort_set_finalizer(o, res_fin, (void *)(uintptr_t)i));
	}
}

static bool res_first_round(void)
{
	return atomic_load(&res.ran) >= NRES;
}

static bool res_second_round(void)
{
	return atomic_load(&res.ran) >= NRES + NRES / 2;
}

/* All resurrected and intact; a new finalizer on the even ones. */
static void res_check(void *unused)
{
	long i;

	(void)unused;
	for (i = 0; i < NRES; i++) {
		struct fobj *o = res.saved[i];

		if (o != GC_UNHIDE(res.hidden[i]) || !gc_alive(o) || !fobj_ok(o, RES_SIZE, i)) {
			GFAIL("resurrected object %ld (%p) freed or damaged", i, (void *)o);
			continue;
		}
		GCHECK_EQ(1, atomic_load(&res.count[i]));
		/* Its finalizer is gone: a new one may be set, on half of them. */
		if (i % 2 == 0)
			GCHECK_EQ(0, gort_set_finalizer(o, res_fin, (void *)(uintptr_t)i));
	}
}

/* The even ones, resurrected twice, are intact. */
static void res_check_again(void *unused)
{
	long i;

	(void)unused;
	for (i = 0; i < NRES; i += 2)
		if (res.saved[i] != GC_UNHIDE(res.hidden[i]) ||
		    !fobj_ok(res.saved[i], RES_SIZE, (uint64_t)i))
			GFAIL("object %ld, resurrected twice, freed or damaged", i);
}

static void res_drop(void *unused)
{
	long i;

	(void)unused;
	for (i = 0; i < NRES; i++)
		res.saved[i] = NULL;
}

static int res_main(void *arg)
{
	static uintptr_t odd[NRES / 2];
	long i, alive;
	int k;

	(void)arg;
	gc_pad_arena();
	if (!gc_in_goroutine(res_make, NULL))
		return 1;
	if (!GCHECK(gc_until(res_first_round)))
		fprintf(stderr, "# only %ld of %d finalizers ran\n", atomic_load(&res.ran), NRES);
	/* Cycles and garbage: the resurrected objects live on, unfinalized. */
	for (k = 0; k < 10; k++) {
		int j;

		for (j = 0; j < 5000; j++)
			GCHECK(gort_alloc(RES_SIZE, 0) != NULL);
		GCHECK_EQ(0, gort_gc());
	}
	gort_sleep(20 * GT_MS);
	if (!gc_in_goroutine(res_check, NULL))
		return 1;
	GCHECK_EQ(NRES, atomic_load(&res.ran));
	/*
	 * Drop them (from a goroutine of its own, so no copy stays in this
	 * stack): the even ones are finalized once more, and resurrected
	 * again; the odd ones just go.
	 */
	if (!gc_in_goroutine(res_drop, NULL))
		return 1;
	if (!GCHECK(gc_until(res_second_round)))
		fprintf(stderr, "# only %ld of %d second finalizers ran\n",
			atomic_load(&res.ran) - NRES, NRES / 2);
	gc_full(3);
	gort_sleep(20 * GT_MS);
	GCHECK_EQ(NRES + NRES / 2, atomic_load(&res.ran));
	for (i = 0; i < NRES; i++)
		if (atomic_load(&res.count[i]) != (i % 2 == 0 ? 2 : 1))
			GFAIL("object %ld finalized %d times, want %d", i,
			      atomic_load(&res.count[i]), i % 2 == 0 ? 2 : 1);
	for (i = 0; i < NRES / 2; i++)
		odd[i] = res.hidden[2 * i + 1];
	alive = gc_count_alive(odd, NRES / 2);
	if (!GCHECK(alive <= NRES / 2 * GC_MARGIN_PCT / 100))
		fprintf(stderr, "# %ld of %d dropped objects still allocated\n", alive, NRES / 2);
	gc_in_goroutine(res_check_again, NULL);
	return 0;
}

TEST(resurrection)
{
	setenv("GORT_DEBUG", "gcstress=200", 1);
	ASSERT_EQ(0, gt_run(res_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

/* ---- reachable_never ---- */

#define NREACH	500

static struct {
	struct fobj *global[NREACH];	/* kept by the data segment */
	char *interior[NREACH];		/* kept by an interior pointer */
	struct fobj **rooted;		/* malloc'ed, registered */
	uintptr_t hidden[4][NREACH];
	_Atomic int count[4][NREACH];
	_Atomic long ran;
	uint32_t parked_sema, parked_done;
} rch;

static size_t rch_size(int kind, long i)
{
	return kind == 1 ? (i % 50 == 0 ? 40000 : 256) : 48;
}

static void rch_fin(void *obj, void *arg)
{
	uintptr_t a = (uintptr_t)arg;
	int kind = (int)(a >> 32);
	long i = (long)(a & 0xffffffff);

	if (kind > 3 || i >= NREACH || obj != GC_UNHIDE(rch.hidden[kind][i])) {
		GFAIL("finalizer for %p with arg %#lx", obj, (unsigned long)a);
		return;
	}
	atomic_fetch_add(&rch.count[kind][i], 1);
	atomic_fetch_add(&rch.ran, 1);
}

static struct fobj *rch_new(int kind, long i)
{
	size_t sz = rch_size(kind, i);
	struct fobj *o = gort_alloc(sz, 0);

	if (!GCHECK(o != NULL))
		return NULL;
	fobj_fill(o, sz, (uint64_t)i);
	rch.hidden[kind][i] = GC_HIDE(o);
	GCHECK_EQ(0, gort_set_finalizer(o, rch_fin,
					(void *)((uintptr_t)kind << 32 | (uintptr_t)i)));
	return o;
}

/* Kind 3: a goroutine's locals, while it is parked. */
static void rch_parked(void *unused)
{
	struct fobj *mine[NREACH];
	long i;

	(void)unused;
	for (i = 0; i < NREACH; i++)
		mine[i] = rch_new(3, i);
	gort_sema_release(&rch.parked_done);
	gort_sema_acquire(&rch.parked_sema);
	for (i = 0; i < NREACH; i++)
		if (mine[i] != GC_UNHIDE(rch.hidden[3][i]) || !fobj_ok(mine[i], 48, (uint64_t)i))
			GFAIL("parked goroutine's object %ld damaged", i);
	gort_sema_release(&rch.parked_done);
}

static void rch_make(void *unused)
{
	long i;

	(void)unused;
	for (i = 0; i < NREACH; i++) {
		rch.global[i] = rch_new(0, i);
		rch.interior[i] = (char *)rch_new(1, i) + rch_size(1, i) / 2 + 8;
		rch.rooted[i] = rch_new(2, i);
	}
}

static void rch_check(void *unused)
{
	int kind;
	long i;

	(void)unused;
	for (kind = 0; kind < 4; kind++) {
		for (i = 0; i < NREACH; i++) {
			struct fobj *o = GC_UNHIDE(rch.hidden[kind][i]);

			if (!gc_alive(o) || !fobj_ok(o, rch_size(kind, i), (uint64_t)i))
				GFAIL("reachable object %ld (root kind %d) freed or damaged",
				      i, kind);
		}
	}
}

static void rch_drop(void *unused)
{
	long i;

	(void)unused;
	for (i = 0; i < NREACH; i++) {
		rch.global[i] = NULL;
		rch.interior[i] = NULL;
		rch.rooted[i] = NULL;
	}
}

static bool rch_all_ran(void)
{
	return atomic_load(&rch.ran) >= 4 * NREACH;
}

static int rch_main(void *arg)
{
	int kind, k;
	long i;

	(void)arg;
	gc_pad_arena();
	rch.rooted = malloc(NREACH * sizeof(*rch.rooted));
	if (!GCHECK(rch.rooted != NULL))
		return 1;
	GCHECK_EQ(0, gort_gc_add_roots(rch.rooted, NREACH * sizeof(*rch.rooted)));
	if (!gc_in_goroutine(rch_make, NULL))
		return 1;
	if (!GCHECK(gort_go(rch_parked, NULL) > 0) || !gt_sema_wait(&rch.parked_done, 1, 10000))
		return 1;
	for (k = 0; k < 10; k++) {
		int j;

		for (j = 0; j < 3000; j++)
			GCHECK(gort_alloc(48, 0) != NULL);
		GCHECK_EQ(0, gort_gc());
	}
	gort_sleep(20 * GT_MS);
	GCHECK_EQ(0, atomic_load(&rch.ran));
	if (!gc_in_goroutine(rch_check, NULL))
		return 1;
	/* Let go of all four kinds of roots. */
	gort_sema_release(&rch.parked_sema);
	if (!gt_sema_wait(&rch.parked_done, 1, 10000) || !gc_in_goroutine(rch_drop, NULL))
		return 1;
	if (!GCHECK(gc_until(rch_all_ran)))
		fprintf(stderr, "# only %ld of %d finalizers ran once the roots were dropped\n",
			atomic_load(&rch.ran), 4 * NREACH);
	for (kind = 0; kind < 4; kind++)
		for (i = 0; i < NREACH; i++)
			if (atomic_load(&rch.count[kind][i]) > 1)
				GFAIL("object %ld (root kind %d) finalized %d times", i, kind,
				      atomic_load(&rch.count[kind][i]));
	GCHECK_EQ(0, gort_gc_remove_roots(rch.rooted));
	free(rch.rooted);
	return 0;
}

TEST(reachable_never)
{
	ASSERT_EQ(0, gt_run(rch_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

/* ---- errors ---- */

static _Atomic int err_ran;
static int err_static;

static void err_fin(void *obj, void *arg)
{
	(void)obj, (void)arg;
	atomic_fetch_add(&err_ran, 1);
}

static uintptr_t err_hidden[3];

static void err_make(void *unused)
{
	int local = 0;
	char *m = malloc(64);
	char *small = gort_alloc(64, 0), *large = gort_alloc(100000, 0);
	char *gone = gort_alloc(64, 0), *noscan = gort_alloc(64, GORT_ALLOC_NOSCAN);

	(void)unused;
	if (!GCHECK(m && small && large && gone && noscan))
		return;
	GCHECK_EQ(-EINVAL, gort_set_finalizer(NULL, err_fin, NULL));
	GCHECK_EQ(-EINVAL, gort_set_finalizer(&local, err_fin, NULL));
	GCHECK_EQ(-EINVAL, gort_set_finalizer(&err_static, err_fin, NULL));
	GCHECK_EQ(-EINVAL, gort_set_finalizer(m, err_fin, NULL));
	GCHECK_EQ(-EINVAL, gort_set_finalizer(small + 8, err_fin, NULL));
	GCHECK_EQ(-EINVAL, gort_set_finalizer(small + 63, err_fin, NULL));
	GCHECK_EQ(-EINVAL, gort_set_finalizer(large + 1, err_fin, NULL));
	GCHECK_EQ(-EINVAL, gort_set_finalizer(large + 50000, err_fin, NULL));
	gort_free(gone);
	GCHECK_EQ(-EINVAL, gort_set_finalizer(gone, err_fin, NULL));
	free(m);
	/* Removing where there is none is fine, as in Go. */
	GCHECK_EQ(0, gort_set_finalizer(small, NULL, NULL));
	/* One at a time. */
	GCHECK_EQ(0, gort_set_finalizer(small, err_fin, NULL));
	GCHECK_EQ(-EEXIST, gort_set_finalizer(small, err_fin, NULL));
	GCHECK_EQ(-EEXIST, gort_set_finalizer(small, err_fin, (void *)1));
	GCHECK_EQ(0, gort_set_finalizer(large, err_fin, NULL));
	GCHECK_EQ(-EEXIST, gort_set_finalizer(large, err_fin, NULL));
	GCHECK_EQ(0, gort_set_finalizer(noscan, err_fin, NULL));
	/* Removed, set again, removed: none of them will run. */
	GCHECK_EQ(0, gort_set_finalizer(small, NULL, NULL));
	GCHECK_EQ(0, gort_set_finalizer(small, err_fin, NULL));
	GCHECK_EQ(0, gort_set_finalizer(small, NULL, NULL));
	GCHECK_EQ(0, gort_set_finalizer(large, NULL, NULL));
	GCHECK_EQ(0, gort_set_finalizer(noscan, NULL, NULL));
	err_hidden[0] = GC_HIDE(small);
	err_hidden[1] = GC_HIDE(large);
	err_hidden[2] = GC_HIDE(noscan);
}

static int err_main(void *arg)
{
	long alive;

	(void)arg;
	gc_pad_arena();
	if (!gc_in_goroutine(err_make, NULL))
		return 1;
	gc_full(3);
	gort_sleep(50 * GT_MS);
	gc_full(1);
	GCHECK_EQ(0, atomic_load(&err_ran));
	/* And without a finalizer they are simply freed. */
	alive = gc_count_alive(err_hidden, 3);
	if (!GCHECK_EQ(0, alive))
		fprintf(stderr, "# %ld of small, large, noscan still allocated\n", alive);
	return 0;
}

TEST(errors)
{
	ASSERT_EQ(0, gt_run(err_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

/* ---- context ---- */

#define NCTX	1000

static struct {
	struct gort_chan *c;
	_Atomic long ran;
} ctxf;

static void ctx_fin(void *obj, void *arg)
{
	long i = (long)(uintptr_t)arg;
	char *p = gort_alloc(100, 0);

	(void)obj;
	GCHECK(p != NULL);
	if (i % 100 == 0)
		gort_sleep(100 * GT_US);
	gort_chan_send(ctxf.c, &i);
	atomic_fetch_add(&ctxf.ran, 1);
}

static void ctx_make(void *unused)
{
	long i;

	(void)unused;
	for (i = 0; i < NCTX; i++) {
		void *o = gort_alloc(32, 0);

		if (!GCHECK(o != NULL))
			return;
		GCHECK_EQ(0, gort_set_finalizer(o, ctx_fin, (void *)(uintptr_t)i));
	}
}

static bool ctx_all_ran(void)
{
	return atomic_load(&ctxf.ran) >= NCTX;
}

static int ctx_main(void *arg)
{
	static uint8_t got[NCTX];
	long i, v, n = 0;

	(void)arg;
	gc_pad_arena();
	ctxf.c = gort_chan_make(sizeof(long), NCTX, GORT_CHAN_NOSCAN);
	if (!GCHECK(ctxf.c != NULL) || !gc_in_goroutine(ctx_make, NULL))
		return 1;
	if (!GCHECK(gc_until(ctx_all_ran)))
		fprintf(stderr, "# only %ld of %d finalizers ran\n", atomic_load(&ctxf.ran), NCTX);
	while (gort_chan_tryrecv(ctxf.c, &v) == 1) {
		if (!GCHECK(v >= 0 && v < NCTX) || !GCHECK_EQ(0, got[v]))
			continue;
		got[v] = 1;
		n++;
	}
	GCHECK_EQ(NCTX, n);
	for (i = 0; i < NCTX; i++)
		GCHECK_EQ(1, got[i]);
	return 0;
}

TEST(context)
{
	ASSERT_EQ(0, gt_run(ctx_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

/* ---- last_finalized_freed ---- */

#define BIG_CHILD	(16 << 20)

static struct {
	uintptr_t obj, child;
	_Atomic int ran;
} last;

struct holder {
	uint64_t magic;
	char *child;		/* the only pointer to 16 MiB */
};

static void last_fin(void *obj, void *arg)
{
	struct holder *h = obj;

	(void)arg;
	GCHECK_EQ(FMAGIC, h->magic);
	GCHECK(h->child == GC_UNHIDE(last.child));
	atomic_fetch_add(&last.ran, 1);
}

static void last_make(void *unused)
{
	struct holder *h = gort_alloc(sizeof(*h), 0);

	(void)unused;
	if (!GCHECK(h != NULL))
		return;
	h->magic = FMAGIC;
	h->child = gort_alloc(BIG_CHILD, GORT_ALLOC_NOSCAN);
	if (!GCHECK(h->child != NULL))
		return;
	memset(h->child, 0x5a, 4096);
	last.obj = GC_HIDE(h);
	last.child = GC_HIDE(h->child);
	GCHECK_EQ(0, gort_set_finalizer(h, last_fin, h->child));
}

static bool last_ran(void)
{
	return atomic_load(&last.ran) >= 1;
}

static int last_main(void *arg)
{
	struct gort_memstats ms0, ms1;
	uintptr_t both[2];
	long alive;

	(void)arg;
	gc_pad_arena();
	gc_full(1);
	GCHECK(gc_memstats(&ms0));
	if (!gc_in_goroutine(last_make, NULL))
		return 1;
	if (!GCHECK(gc_until(last_ran)))
		return 1;
	/* It ran: the object and what it held are garbage now. */
	gc_full(3);
	gort_sleep(10 * GT_MS);
	gc_full(2);
	GCHECK_EQ(1, atomic_load(&last.ran));
	both[0] = last.obj;
	both[1] = last.child;
	alive = gc_count_alive(both, 2);
	GCHECK(gc_memstats(&ms1));
	if (!GCHECK_EQ(0, alive))
		fprintf(stderr, "# finalized object %s, its 16 MiB child %s; "
			"heap_alloc %llu -> %llu KiB\n",
			gc_alive_hidden(last.obj) ? "still allocated" : "freed",
			gc_alive_hidden(last.child) ? "still allocated" : "freed",
			(unsigned long long)(ms0.heap_alloc >> 10),
			(unsigned long long)(ms1.heap_alloc >> 10));
	return 0;
}

/*
 * Regression: the finalizer goroutine kept the object it finalized last
 * (and all it pointed to) until another finalizer ran: runfinq's
 * "f.obj = 0" was a dead store the compiler dropped, and the object and
 * the argument stayed in callee-saved registers that the park saved on
 * its stack, which the collector scans (fixed by 9527c15).
 */
TEST(last_finalized_freed)
{
	ASSERT_EQ(0, gt_run(last_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

TEST_HARNESS_MAIN
