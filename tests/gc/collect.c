/* SPDX-License-Identifier: MIT */
/*
 * Description: the collector frees what is unreachable and nothing else.
 *
 *   shapes		100,000-node structures (singly and doubly linked
 *			lists, a ring, a doubly linked ring, a balanced binary
 *			tree, one with parent pointers) built from a global
 *			root survive cycles intact while it holds them, and
 *			once it lets go, gort_gc() brings heap_objects and
 *			heap_alloc back to where they were (at most 5 % of
 *			what was dropped may stay, for conservative stray
 *			words): cycles of garbage are garbage too.
 *   large		large objects (33 KiB .. 2 MiB, scanned and noscan)
 *			kept in a global array survive with their contents;
 *			dropped, their bytes come back.
 *   roots		every kind of root keeps its objects (mixed sizes,
 *			large ones too) through cycles and garbage, under
 *			gcstress poisoning: a global, a malloc'ed array
 *			registered with gort_gc_add_roots(), interior
 *			pointers, the stack of the thread that called
 *			gort_main(), a parked goroutine's stack, a goroutine
 *			blocked in a system call (GORT_BLOCKING: its frames
 *			and callee-saved registers), the buffer of a reachable
 *			channel.  Then each root lets go (the registered range
 *			is removed, not cleared) and its objects are freed.
 *   noscan		pointers held only by GORT_ALLOC_NOSCAN objects, or in
 *			a GORT_CHAN_NOSCAN channel's buffer, do not keep their
 *			targets (the holders live on); the same pointers in
 *			scanned holders and channels do.
 *   big_live_set	64 MiB of live 1 KiB nodes: heap_alloc holds them
 *			through cycles; dropped, it returns to the baseline.
 *   channels		100,000 unreachable channels (unbuffered, buffered
 *			with separate or inline buffers, scanned and noscan,
 *			some holding elements that point to heap objects) are
 *			freed, elements' targets too; the 1,000 that carry a
 *			finalizer are finalized, each once.
 *   excluded_roots	1,000 objects held only by a global array are kept;
 *			held only by one gort_gc_exclude_roots() left out,
 *			they are freed (all but GC_MARGIN_PCT); the rest of
 *			the same data segment (the kept array, the next to it)
 *			is still scanned.
 *   arena_start_*	an object that happens to start at an arena's base
 *			(the heap's first object, or any object of 64 MiB or
 *			more, which gets fresh arenas) is freed like any other.
 */
#include "gc_test.h"

#include <sys/uio.h>

#define NMAGIC		0x6e0de5eed5ULL

static uint64_t node_check(uint64_t key)
{
	return gc_mix(key ^ NMAGIC);
}

/* ---- shapes ---- */

enum shape { SINGLY, DOUBLY, RING, DOUBLY_RING, TREE, TREE_PARENT };

struct node {
	struct node *a, *b, *c;	/* next/prev, or left/right/parent */
	uint64_t key;
	uint64_t check;		/* node_check(key) */
};

FIXTURE(shapes) {
};

FIXTURE_VARIANT(shapes) {
	enum shape shape;
	int maxprocs;
};

FIXTURE_VARIANT_ADD(shapes, singly) { .shape = SINGLY, .maxprocs = 2 };
FIXTURE_VARIANT_ADD(shapes, doubly) { .shape = DOUBLY, .maxprocs = 2 };
FIXTURE_VARIANT_ADD(shapes, ring) { .shape = RING, .maxprocs = 2 };
FIXTURE_VARIANT_ADD(shapes, doubly_ring) { .shape = DOUBLY_RING, .maxprocs = 2 };
FIXTURE_VARIANT_ADD(shapes, tree) { .shape = TREE, .maxprocs = 2 };
FIXTURE_VARIANT_ADD(shapes, tree_parent) { .shape = TREE_PARENT, .maxprocs = 2 };
FIXTURE_VARIANT_ADD(shapes, tree_parent_1p) { .shape = TREE_PARENT, .maxprocs = 1 };

FIXTURE_SETUP(shapes)
{
}

FIXTURE_TEARDOWN(shapes)
{
}

static struct {
	enum shape shape;
	long n;
	struct node *root;	/* the only root */
} sh;

static struct node *new_node(uint64_t key)
{
	struct node *x = gort_alloc(sizeof(*x), 0);

	if (!GCHECK(x != NULL))
		return NULL;
	x->key = key;
	x->check = node_check(key);
	return x;
}

static bool node_ok(const struct node *x, uint64_t key)
{
	return x && x->key == key && x->check == node_check(key);
}

/* A balanced tree over keys [lo, hi). */
static struct node *build_tree(uint64_t lo, uint64_t hi, struct node *parent, bool up)
{
	uint64_t mid = lo + (hi - lo) / 2;
	struct node *x;

	if (lo >= hi)
		return NULL;
	x = new_node(mid);
	if (!x)
		return NULL;
	if (up)
		x->c = parent;
	x->a = build_tree(lo, mid, x, up);
	x->b = build_tree(mid + 1, hi, x, up);
	return x;
}

static void shape_build(void *unused)
{
	struct node *head = NULL, *tail = NULL, *x;
	long i;

	(void)unused;
	if (sh.shape == TREE || sh.shape == TREE_PARENT) {
		sh.root = build_tree(0, (uint64_t)sh.n, NULL, sh.shape == TREE_PARENT);
		return;
	}
	for (i = 0; i < sh.n; i++) {
		x = new_node((uint64_t)i);
		if (!x)
			return;
		if (!head)
			head = x;
		else
			tail->a = x;
		if (sh.shape == DOUBLY || sh.shape == DOUBLY_RING)
			x->b = tail;
		tail = x;
	}
	if (sh.shape == RING || sh.shape == DOUBLY_RING)
		tail->a = head;
	if (sh.shape == DOUBLY_RING)
		head->b = tail;
	sh.root = head;
}

static long walk_tree(const struct node *x, const struct node *parent, uint64_t lo,
		      uint64_t hi, bool up)
{
	uint64_t mid = lo + (hi - lo) / 2;

	if (lo >= hi)
		return x ? -1000000000L : 0;
	if (!node_ok(x, mid) || (up && x->c != parent)) {
		GFAIL("tree node for key %llu damaged", (unsigned long long)mid);
		return -1000000000L;
	}
	return 1 + walk_tree(x->a, x, lo, mid, up) + walk_tree(x->b, x, mid + 1, hi, up);
}

static void shape_verify(void *unused)
{
	const struct node *x = sh.root, *prev = NULL;
	long i;

	(void)unused;
	if (sh.shape == TREE || sh.shape == TREE_PARENT) {
		GCHECK_EQ(sh.n, walk_tree(x, NULL, 0, (uint64_t)sh.n, sh.shape == TREE_PARENT));
		return;
	}
	for (i = 0; i < sh.n; i++) {
		if (!node_ok(x, (uint64_t)i)) {
			GFAIL("list node %ld damaged", i);
			return;
		}
		if ((sh.shape == DOUBLY || (sh.shape == DOUBLY_RING && i)) && x->b != prev) {
			GFAIL("list node %ld: prev link damaged", i);
			return;
		}
		prev = x;
		x = x->a;
	}
	if (sh.shape == RING || sh.shape == DOUBLY_RING)
		GCHECK(x == sh.root);
	else
		GCHECK(x == NULL);
	if (sh.shape == DOUBLY_RING)
		GCHECK(sh.root->b == prev);
}

/* garbage() - @n small objects nobody keeps, on a goroutine of its own. */
static void garbage_fn(void *arg)
{
	long i, n = (long)(uintptr_t)arg;

	for (i = 0; i < n; i++)
		GCHECK(gort_alloc(16 + (size_t)(i % 700), i & 1 ? GORT_ALLOC_NOSCAN : 0) != NULL);
}

static void garbage(long n)
{
	gc_in_goroutine(garbage_fn, (void *)(uintptr_t)n);
}

static void drop_root(void *unused)
{
	(void)unused;
	sh.root = NULL;
}

static int shapes_main(void *arg)
{
	struct gort_memstats ms0, ms1, ms2;
	uint64_t bytes, left_obj, left_bytes;
	int k;

	(void)arg;
	gc_pad_arena();
	gc_full(1);
	GCHECK(gc_memstats(&ms0));
	if (!gc_in_goroutine(shape_build, NULL))
		return 1;
	/* Held: cycles and garbage change nothing. */
	for (k = 0; k < 3; k++) {
		garbage(20000);
		gc_full(1);
	}
	gc_in_goroutine(shape_verify, NULL);
	GCHECK(gc_memstats(&ms1));
	GCHECK(ms1.heap_objects >= ms0.heap_objects + (uint64_t)sh.n);
	bytes = (uint64_t)sh.n * gort_roundup_size(sizeof(struct node));
	GCHECK(ms1.heap_alloc >= ms0.heap_alloc + bytes);
	/* Dropped: all of it goes, cycles included. */
	gc_in_goroutine(drop_root, NULL);
	gc_full(2);
	GCHECK(gc_memstats(&ms2));
	left_obj = ms2.heap_objects > ms0.heap_objects ? ms2.heap_objects - ms0.heap_objects : 0;
	left_bytes = ms2.heap_alloc > ms0.heap_alloc ? ms2.heap_alloc - ms0.heap_alloc : 0;
	if (!GCHECK(left_obj <= (uint64_t)sh.n * GC_MARGIN_PCT / 100) ||
	    !GCHECK(left_bytes <= bytes * GC_MARGIN_PCT / 100))
		fprintf(stderr, "# %lld of %ld nodes (%llu of %llu KiB) survive their drop\n",
			(long long)left_obj, sh.n, (unsigned long long)(left_bytes >> 10),
			(unsigned long long)(bytes >> 10));
	printf("# %s: %ld nodes, %llu objects / %llu KiB left after the drop\n", gc_mode(),
	       sh.n, (unsigned long long)left_obj, (unsigned long long)(left_bytes >> 10));
	return 0;
}

TEST_F(shapes, dropped_freed)
{
	sh.shape = variant->shape;
	sh.n = gc_scale(100000);
	ASSERT_EQ(0, gt_run(shapes_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- large ---- */

#define NLARGE	80

static struct {
	char *p[NLARGE];
	size_t size[NLARGE];
} lg;

static size_t large_size(int i)
{
	static const size_t s[] = { 33 << 10, 40 << 10, 100000, 256 << 10, 1 << 20, 2 << 20 };

	return s[i % GT_ARRAY_SIZE(s)] + (size_t)(i % 7) * 4096;
}

static uint8_t large_byte(int i, size_t off)
{
	return (uint8_t)gc_mix((uint64_t)i << 32 | off);
}

static void large_make(void *unused)
{
	int i;

	(void)unused;
	for (i = 0; i < NLARGE; i++) {
		size_t sz = large_size(i), off;
		char *p = gort_alloc(sz, i & 1 ? GORT_ALLOC_NOSCAN : 0);

		if (!GCHECK(p != NULL))
			return;
		/* A byte per page, and the last one. */
		for (off = 0; off < sz; off += 4096)
			p[off] = (char)large_byte(i, off);
		p[sz - 1] = (char)large_byte(i, sz - 1);
		lg.p[i] = p;
		lg.size[i] = sz;
	}
}

static void large_check(void *unused)
{
	int i;

	(void)unused;
	for (i = 0; i < NLARGE; i++) {
		size_t off, sz = lg.size[i];
		const char *p = lg.p[i];

		if (!gc_alive(p)) {
			GFAIL("large object %d (%zu bytes) freed while referenced", i, sz);
			continue;
		}
		for (off = 0; off < sz; off += 4096)
			if ((uint8_t)p[off] != large_byte(i, off))
				break;
		if (off < sz || (uint8_t)p[sz - 1] != large_byte(i, sz - 1))
			GFAIL("large object %d (%zu bytes) damaged at %zu", i, sz, off);
	}
}

static void large_drop(void *unused)
{
	(void)unused;
	memset(lg.p, 0, sizeof(lg.p));
}

static int large_main(void *arg)
{
	struct gort_memstats ms0, ms1, ms2;
	uint64_t bytes = 0, left;
	int i;

	(void)arg;
	gc_pad_arena();
	gc_full(1);
	GCHECK(gc_memstats(&ms0));
	if (!gc_in_goroutine(large_make, NULL))
		return 1;
	for (i = 0; i < NLARGE; i++)
		bytes += gort_roundup_size(lg.size[i]);
	garbage(10000);
	gc_full(2);
	gc_in_goroutine(large_check, NULL);
	GCHECK(gc_memstats(&ms1));
	GCHECK(ms1.heap_alloc >= ms0.heap_alloc + bytes);
	gc_in_goroutine(large_drop, NULL);
	gc_full(2);
	GCHECK(gc_memstats(&ms2));
	left = ms2.heap_alloc > ms0.heap_alloc ? ms2.heap_alloc - ms0.heap_alloc : 0;
	if (!GCHECK(left <= bytes * GC_MARGIN_PCT / 100))
		fprintf(stderr, "# %llu of %llu KiB of large objects survive their drop\n",
			(unsigned long long)(left >> 10), (unsigned long long)(bytes >> 10));
	printf("# %s: %d large objects, %llu MiB, %llu KiB left\n", gc_mode(), NLARGE,
	       (unsigned long long)(bytes >> 20), (unsigned long long)(left >> 10));
	return 0;
}

TEST(large)
{
	ASSERT_EQ(0, gt_run(large_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

/* ---- excluded_roots ---- */

#define NEXCL	1000

static struct {
	void *kept[NEXCL];		/* scanned */
	void *excluded[NEXCL];		/* gort_gc_exclude_roots() */
	uintptr_t hid[2][NEXCL];	/* their addresses, hidden */
} ex;

static void excl_make(void *unused)
{
	int i;

	(void)unused;
	for (i = 0; i < NEXCL; i++) {
		ex.kept[i] = gort_alloc(64, 0);
		ex.excluded[i] = gort_alloc(64, 0);
		ex.hid[0][i] = GC_HIDE(ex.kept[i]);
		ex.hid[1][i] = GC_HIDE(ex.excluded[i]);
	}
}

static int excl_main(void *arg)
{
	int i, kept = 0, freed = 0;

	(void)arg;
	GCHECK_EQ(0, gort_gc_exclude_roots(ex.excluded, sizeof(ex.excluded)));
	if (!gc_in_goroutine(excl_make, NULL))
		return 1;
	garbage(10000);
	gc_full(2);
	for (i = 0; i < NEXCL; i++) {
		kept += gc_alive_hidden(ex.hid[0][i]);
		freed += !gc_alive_hidden(ex.hid[1][i]);
	}
	printf("# %s: %d of %d kept by the global, %d of %d freed when it is excluded\n",
	       gc_mode(), kept, NEXCL, freed, NEXCL);
	GCHECK_EQ(NEXCL, kept);
	GCHECK(freed >= NEXCL * (100 - GC_MARGIN_PCT) / 100);
	return 0;
}

TEST(excluded_roots)
{
	ASSERT_EQ(0, gt_run(excl_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

/* ---- roots ---- */

enum rootkind {
	R_GLOBAL, R_ADDROOTS, R_INTERIOR, R_MAINSTACK, R_PARKED, R_SYSCALL, R_CHAN, NKINDS
};

static const char *const rootname[NKINDS] = {
	"global", "gort_gc_add_roots", "interior pointer", "gort_main caller's stack",
	"parked goroutine", "goroutine in a syscall", "channel buffer",
};

#define NR	256

struct robj {
	uint64_t magic, kind, idx;
	uint64_t pay[];		/* gc_mix(kind << 40 | idx << 20 | k) */
};

static size_t robj_size(long i)
{
	return i % 64 == 63 ? 40000 : i % 3 ? 48 : 500;
}

static struct {
	uintptr_t hidden[NKINDS][NR];
	struct robj *global[NR];
	char *interior[NR];
	struct robj **rooted;		/* malloc'ed, registered */
	struct robj **mainstack;	/* the array in the TEST body */
	struct gort_chan *chan;		/* scanned, cap NR */
	uint32_t parked_go, parked_done;
	int pipe[2];
	uint32_t sys_in, sys_done;
} rt;

static struct robj *robj_new(int kind, long i)
{
	size_t sz = robj_size(i), k;
	struct robj *o = gort_alloc(sz, i & 1 ? GORT_ALLOC_NOSCAN : 0);

	if (!GCHECK(o != NULL))
		return NULL;
	o->magic = NMAGIC;
	o->kind = (uint64_t)kind;
	o->idx = (uint64_t)i;
	for (k = 0; k < (sz - sizeof(*o)) / 8; k++)
		o->pay[k] = gc_mix((uint64_t)kind << 40 | (uint64_t)i << 20 | k);
	rt.hidden[kind][i] = GC_HIDE(o);
	return o;
}

static bool robj_ok(const struct robj *o, int kind, long i)
{
	size_t sz = robj_size(i), k;

	if (o != GC_UNHIDE(rt.hidden[kind][i]) || !gc_alive(o) || o->magic != NMAGIC ||
	    o->kind != (uint64_t)kind || o->idx != (uint64_t)i)
		return false;
	for (k = 0; k < (sz - sizeof(*o)) / 8; k++)
		if (o->pay[k] != gc_mix((uint64_t)kind << 40 | (uint64_t)i << 20 | k))
			return false;
	return true;
}

static void roots_make(void *unused)
{
	long i;

	(void)unused;
	for (i = 0; i < NR; i++) {
		struct robj *o;

		rt.global[i] = robj_new(R_GLOBAL, i);
		rt.rooted[i] = robj_new(R_ADDROOTS, i);
		o = robj_new(R_INTERIOR, i);
		rt.interior[i] = o ? (char *)o + robj_size(i) - 1 : NULL;	/* last byte */
		rt.mainstack[i] = robj_new(R_MAINSTACK, i);
		o = robj_new(R_CHAN, i);
		GCHECK(gort_chan_trysend(rt.chan, &o));
	}
}

/* R_PARKED: the only copies are in this goroutine's frame. */
static void roots_parked(void *unused)
{
	struct robj *mine[NR];
	long i;

	(void)unused;
	for (i = 0; i < NR; i++)
		mine[i] = robj_new(R_PARKED, i);
	gort_sema_release(&rt.parked_done);
	gort_sema_acquire(&rt.parked_go);
	for (i = 0; i < NR; i++)
		if (!robj_ok(mine[i], R_PARKED, i))
			GFAIL("parked goroutine's object %ld damaged", i);
	gort_sema_release(&rt.parked_done);
}

/*
 * R_SYSCALL: the same, blocked in read() between gort_syscall_enter()
 * and exit; a few more live in locals that the compiler may keep in
 * callee-saved registers across the call.
 */
static void roots_syscall(void *unused)
{
	struct robj *mine[NR - 4];
	struct robj *r0, *r1, *r2, *r3;
	char c;
	long i;

	(void)unused;
	for (i = 0; i < NR - 4; i++)
		mine[i] = robj_new(R_SYSCALL, i);
	r0 = robj_new(R_SYSCALL, NR - 4);
	r1 = robj_new(R_SYSCALL, NR - 3);
	r2 = robj_new(R_SYSCALL, NR - 2);
	r3 = robj_new(R_SYSCALL, NR - 1);
	gort_sema_release(&rt.sys_in);
	GCHECK_EQ(1, GORT_BLOCKING(read(rt.pipe[0], &c, 1)));
	for (i = 0; i < NR - 4; i++)
		if (!robj_ok(mine[i], R_SYSCALL, i))
			GFAIL("object %ld of a goroutine in a syscall damaged", i);
	if (!robj_ok(r0, R_SYSCALL, NR - 4) || !robj_ok(r1, R_SYSCALL, NR - 3) ||
	    !robj_ok(r2, R_SYSCALL, NR - 2) || !robj_ok(r3, R_SYSCALL, NR - 1))
		GFAIL("register-held objects of a goroutine in a syscall damaged");
	gort_sema_release(&rt.sys_done);
}

static void roots_check(void *unused)
{
	int kind;
	long i;

	(void)unused;
	for (kind = 0; kind < NKINDS; kind++)
		for (i = 0; i < NR; i++)
			if (!robj_ok(GC_UNHIDE(rt.hidden[kind][i]), kind, i))
				GFAIL("object %ld kept by the %s freed or damaged", i,
				      rootname[kind]);
}

static void roots_drop(void *unused)
{
	struct robj *o;
	long i;

	(void)unused;
	memset(rt.global, 0, sizeof(rt.global));
	memset(rt.interior, 0, sizeof(rt.interior));
	memset(rt.mainstack, 0, NR * sizeof(*rt.mainstack));
	while (gort_chan_tryrecv(rt.chan, &o) == 1)
		;
	o = NULL;
	/* Registered range: forgotten, not cleared. */
	GCHECK_EQ(0, gort_gc_remove_roots(rt.rooted));
	for (i = 0; i < NR; i++)
		GCHECK(rt.rooted[i] == GC_UNHIDE(rt.hidden[R_ADDROOTS][i]));
}

static int roots_main(void *arg)
{
	long alive[NKINDS];
	int kind, k;

	rt.mainstack = arg;
	gc_pad_arena();
	rt.rooted = malloc(NR * sizeof(*rt.rooted));
	if (!GCHECK(rt.rooted != NULL) || !GCHECK_EQ(0, pipe(rt.pipe)))
		return 1;
	GCHECK_EQ(0, gort_gc_add_roots(rt.rooted, NR * sizeof(*rt.rooted)));
	rt.chan = gort_chan_make(sizeof(void *), NR, 0);
	if (!GCHECK(rt.chan != NULL) || !gc_in_goroutine(roots_make, NULL))
		return 1;
	if (!GCHECK(gort_go(roots_parked, NULL) > 0) || !gt_sema_wait(&rt.parked_done, 1, 10000))
		return 1;
	if (!GCHECK(gort_go(roots_syscall, NULL) > 0) || !gt_sema_wait(&rt.sys_in, 1, 10000))
		return 1;
	gort_sleep(GT_MS);	/* let it get into read() */
	for (k = 0; k < 5; k++) {
		garbage(20000);
		gc_full(1);
	}
	gc_in_goroutine(roots_check, NULL);
	/* Every root lets go. */
	gort_sema_release(&rt.parked_go);
	GCHECK_EQ(1, write(rt.pipe[1], "x", 1));
	if (!gt_sema_wait(&rt.parked_done, 1, 10000) || !gt_sema_wait(&rt.sys_done, 1, 10000))
		return 1;
	gc_in_goroutine(roots_drop, NULL);
	gc_full(2);
	for (kind = 0; kind < NKINDS; kind++) {
		alive[kind] = gc_count_alive(rt.hidden[kind], NR);
		if (!GCHECK(alive[kind] <= NR * GC_MARGIN_PCT / 100))
			fprintf(stderr, "# %ld of %d objects survive their %s letting go\n",
				alive[kind], NR, rootname[kind]);
	}
	printf("# %s: left after letting go: %ld %ld %ld %ld %ld %ld %ld (of %d each)\n",
	       gc_mode(), alive[0], alive[1], alive[2], alive[3], alive[4], alive[5], alive[6],
	       NR);
	free(rt.rooted);
	close(rt.pipe[0]);
	close(rt.pipe[1]);
	return 0;
}

TEST(roots)
{
	struct robj *mainstack[NR];	/* scanned: above gort_main's frame */

	memset(mainstack, 0, sizeof(mainstack));
	ASSERT_EQ(0, gt_run(roots_main, mainstack, 2));
	ASSERT_EQ(0, gt_failed());
}

TEST(roots_gcstress)
{
	struct robj *mainstack[NR];

	memset(mainstack, 0, sizeof(mainstack));
	setenv("GORT_DEBUG", "gcstress=100", 1);
	ASSERT_EQ(0, gt_run(roots_main, mainstack, 2));
	ASSERT_EQ(0, gt_failed());
}

TEST(roots_stw_1p)
{
	struct robj *mainstack[NR];

	memset(mainstack, 0, sizeof(mainstack));
	setenv("GORT_DEBUG", "gcstress=100", 1);
	setenv("GORT_GCMODE", "stw", 1);
	ASSERT_EQ(0, gt_run(roots_main, mainstack, 1));
	ASSERT_EQ(0, gt_failed());
}

/* ---- noscan ---- */

#define NH	1000

struct holder {
	uint64_t magic;
	void *target;
};

static struct {
	struct holder *scan[NH], *noscan[NH];
	struct gort_chan *cscan, *cnoscan;
	uintptr_t tscan[NH], tnoscan[NH], tcscan[NH], tcnoscan[NH], hnoscan[NH];
} ns;

static void *target_new(uintptr_t *hidden)
{
	uint64_t *t = gort_alloc(64, 0);

	if (!GCHECK(t != NULL))
		return NULL;
	t[0] = NMAGIC;
	*hidden = GC_HIDE(t);
	return t;
}

static void noscan_make(void *unused)
{
	long i;

	(void)unused;
	for (i = 0; i < NH; i++) {
		void *t;

		ns.scan[i] = gort_alloc(sizeof(struct holder), 0);
		ns.noscan[i] = gort_alloc(sizeof(struct holder), GORT_ALLOC_NOSCAN);
		if (!GCHECK(ns.scan[i] && ns.noscan[i]))
			return;
		ns.scan[i]->magic = ns.noscan[i]->magic = NMAGIC;
		ns.scan[i]->target = target_new(&ns.tscan[i]);
		ns.noscan[i]->target = target_new(&ns.tnoscan[i]);
		ns.hnoscan[i] = GC_HIDE(ns.noscan[i]);
		t = target_new(&ns.tcscan[i]);
		GCHECK(gort_chan_trysend(ns.cscan, &t));
		t = target_new(&ns.tcnoscan[i]);
		GCHECK(gort_chan_trysend(ns.cnoscan, &t));
	}
}

static void noscan_check(void *unused)
{
	long i;

	(void)unused;
	for (i = 0; i < NH; i++) {
		uint64_t *t = GC_UNHIDE(ns.tscan[i]);

		if (!gc_alive(t) || t[0] != NMAGIC || ns.scan[i]->target != t)
			GFAIL("target %ld of a scanned holder freed", i);
		t = GC_UNHIDE(ns.tcscan[i]);
		if (!gc_alive(t) || t[0] != NMAGIC)
			GFAIL("target %ld in a scanned channel freed", i);
		if (!gc_alive(ns.noscan[i]) || ns.noscan[i]->magic != NMAGIC)
			GFAIL("noscan holder %ld freed", i);
	}
}

static int noscan_main(void *arg)
{
	long a_scan, a_noscan, a_cscan, a_cnoscan, a_holders;

	(void)arg;
	gc_pad_arena();
	ns.cscan = gort_chan_make(sizeof(void *), NH, 0);
	ns.cnoscan = gort_chan_make(sizeof(void *), NH, GORT_CHAN_NOSCAN);
	if (!GCHECK(ns.cscan && ns.cnoscan) || !gc_in_goroutine(noscan_make, NULL))
		return 1;
	garbage(20000);
	gc_full(2);
	gc_in_goroutine(noscan_check, NULL);
	a_scan = gc_count_alive(ns.tscan, NH);
	a_noscan = gc_count_alive(ns.tnoscan, NH);
	a_cscan = gc_count_alive(ns.tcscan, NH);
	a_cnoscan = gc_count_alive(ns.tcnoscan, NH);
	a_holders = gc_count_alive(ns.hnoscan, NH);
	GCHECK_EQ(NH, a_scan);
	GCHECK_EQ(NH, a_cscan);
	GCHECK_EQ(NH, a_holders);
	if (!GCHECK(a_noscan <= NH * GC_MARGIN_PCT / 100))
		fprintf(stderr, "# %ld of %d targets of noscan holders survive\n", a_noscan, NH);
	if (!GCHECK(a_cnoscan <= NH * GC_MARGIN_PCT / 100))
		fprintf(stderr, "# %ld of %d targets in a noscan channel survive\n", a_cnoscan, NH);
	printf("# %s: targets alive: scanned holders %ld, noscan holders %ld, "
	       "scanned chan %ld, noscan chan %ld (of %d)\n", gc_mode(), a_scan, a_noscan,
	       a_cscan, a_cnoscan, NH);
	return 0;
}

TEST(noscan)
{
	ASSERT_EQ(0, gt_run(noscan_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

/* ---- big_live_set ---- */

#define BIG_BYTES	(64 * MiB)
#define BIG_NODE	1024
#define BIG_PER_LEAF	4096	/* node pointers per leaf array (32 KiB) */

static struct {
	void ***leaves;		/* gort heap: array of leaf arrays of nodes */
	long nleaves, nodes;
} big;

static void big_make(void *unused)
{
	long i, l;

	(void)unused;
	big.nodes = BIG_BYTES / BIG_NODE;
	big.nleaves = (big.nodes + BIG_PER_LEAF - 1) / BIG_PER_LEAF;
	big.leaves = gort_alloc((size_t)big.nleaves * sizeof(void **), 0);
	if (!GCHECK(big.leaves != NULL))
		return;
	for (l = 0; l < big.nleaves; l++) {
		big.leaves[l] = gort_alloc(BIG_PER_LEAF * sizeof(void *), 0);
		if (!GCHECK(big.leaves[l] != NULL))
			return;
		for (i = 0; i < BIG_PER_LEAF && l * BIG_PER_LEAF + i < big.nodes; i++) {
			uint64_t *x = gort_alloc(BIG_NODE, GORT_ALLOC_NOSCAN);

			if (!GCHECK(x != NULL))
				return;
			x[0] = (uint64_t)(l * BIG_PER_LEAF + i);
			x[BIG_NODE / 8 - 1] = ~x[0];
			big.leaves[l][i] = x;
			if (!(i & 255))
				gort_maybe_yield();
		}
	}
}

static void big_check(void *unused)
{
	long i, bad = 0;

	(void)unused;
	for (i = 0; i < big.nodes; i++) {
		uint64_t *x = big.leaves[i / BIG_PER_LEAF][i % BIG_PER_LEAF];

		if (!gc_alive(x) || x[0] != (uint64_t)i || x[BIG_NODE / 8 - 1] != ~(uint64_t)i)
			bad++;
	}
	if (bad)
		GFAIL("%ld of %ld live nodes freed or damaged", bad, big.nodes);
}

static void big_drop(void *unused)
{
	(void)unused;
	big.leaves = NULL;
}

static int big_main(void *arg)
{
	struct gort_memstats ms0, ms1, ms2;
	uint64_t left;

	(void)arg;
	gc_pad_arena();
	gc_full(1);
	GCHECK(gc_memstats(&ms0));
	if (!gc_in_goroutine(big_make, NULL))
		return 1;
	gc_full(2);
	gc_in_goroutine(big_check, NULL);
	GCHECK(gc_memstats(&ms1));
	if (!GCHECK(ms1.heap_alloc >= ms0.heap_alloc + BIG_BYTES))
		fprintf(stderr, "# live set: heap_alloc %llu MiB\n",
			(unsigned long long)(ms1.heap_alloc / MiB));
	gc_in_goroutine(big_drop, NULL);
	gc_full(2);
	GCHECK(gc_memstats(&ms2));
	left = ms2.heap_alloc > ms0.heap_alloc ? ms2.heap_alloc - ms0.heap_alloc : 0;
	if (!GCHECK(left <= BIG_BYTES * GC_MARGIN_PCT / 100))
		fprintf(stderr, "# %llu KiB of the %llu MiB live set survive its drop\n",
			(unsigned long long)(left >> 10), (unsigned long long)(BIG_BYTES / MiB));
	printf("# %s: live set %llu MiB -> heap_alloc %llu MiB held, %llu KiB after the drop\n",
	       gc_mode(), (unsigned long long)(BIG_BYTES / MiB),
	       (unsigned long long)(ms1.heap_alloc / MiB), (unsigned long long)(left >> 10));
	return 0;
}

TEST(big_live_set)
{
	ASSERT_EQ(0, gt_run(big_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

/* ---- channels ---- */

#define NCHAN		100000
#define FIN_EVERY	100

static struct {
	long n;
	_Atomic int *fin_count;
	_Atomic long fin_ran;
	uintptr_t *hidden;		/* channels with finalizers */
	uintptr_t *targets;		/* objects their elements point to */
	long ntargets, nfin;
	uint64_t objects;		/* heap objects made */
} ch;

static void chan_fin(void *obj, void *arg)
{
	long k = (long)(uintptr_t)arg;

	if (k < 0 || k >= ch.nfin || obj != GC_UNHIDE(ch.hidden[k])) {
		GFAIL("channel finalizer: %p, arg %ld", obj, k);
		return;
	}
	if (atomic_fetch_add(&ch.fin_count[k], 1))
		GFAIL("channel %ld finalized twice", k);
	atomic_fetch_add(&ch.fin_ran, 1);
}

static void chan_make(void *unused)
{
	long i;

	(void)unused;
	for (i = 0; i < ch.n; i++) {
		struct gort_chan *c;
		uint64_t v[8] = { 0 };
		void *t;

		switch (i % 5) {
		case 0:		/* unbuffered */
			c = gort_chan_make(8, 0, 0);
			ch.objects += 1;
			break;
		case 1:		/* noscan, inline buffer, some elements */
			c = gort_chan_make(8, 16, GORT_CHAN_NOSCAN);
			ch.objects += 1;
			if (c)
				for (v[0] = 0; v[0] < (uint64_t)(i % 7); v[0]++)
					GCHECK(gort_chan_trysend(c, v));
			break;
		case 2:		/* scanned, separate buffer, a pointer in it */
			c = gort_chan_make(sizeof(void *), 4, 0);
			ch.objects += 2;
			t = gort_alloc(48, 0);
			if (c && GCHECK(t != NULL)) {
				GCHECK(gort_chan_trysend(c, &t));
				if (ch.ntargets < ch.n)
					ch.targets[ch.ntargets++] = GC_HIDE(t);
				ch.objects++;
			}
			t = NULL;
			break;
		case 3:		/* 64-byte elements, separate buffer */
			c = gort_chan_make(sizeof(v), 8, 0);
			ch.objects += 2;
			if (c && i % 2)
				GCHECK(gort_chan_trysend(c, v));
			break;
		default:	/* closed, with something left in it */
			c = gort_chan_make(8, 2, GORT_CHAN_NOSCAN);
			ch.objects += 1;
			if (c) {
				GCHECK(gort_chan_trysend(c, v));
				gort_chan_close(c);
			}
			break;
		}
		if (!GCHECK(c != NULL))
			return;
		if (i % FIN_EVERY == 0 && ch.nfin < ch.n / FIN_EVERY + 1) {
			ch.hidden[ch.nfin] = GC_HIDE(c);
			GCHECK_EQ(0, gort_set_finalizer(c, chan_fin, (void *)(uintptr_t)ch.nfin));
			ch.nfin++;
		}
	}
}

static bool chan_fin_done(void)
{
	return atomic_load(&ch.fin_ran) >= ch.nfin;
}

static int chan_main(void *arg)
{
	struct gort_memstats ms0, ms1, ms2;
	int64_t end;
	uint64_t left;
	long i, alive;

	(void)arg;
	gc_pad_arena();
	gc_full(1);
	GCHECK(gc_memstats(&ms0));
	/* Automatic cycles would free them as they come: count them first. */
	GCHECK_EQ(100, gort_gc_percent(-1));
	if (!gc_in_goroutine(chan_make, NULL))
		return 1;
	GCHECK(gc_memstats(&ms1));
	if (!GCHECK(ms1.heap_objects >= ms0.heap_objects + ch.objects))
		fprintf(stderr, "# heap_objects %llu -> %llu for %llu channel objects\n",
			(unsigned long long)ms0.heap_objects,
			(unsigned long long)ms1.heap_objects, (unsigned long long)ch.objects);
	gort_gc_percent(100);
	end = gort_nanotime() + 10000 * GT_MS;
	while (!chan_fin_done() && gort_nanotime() < end) {
		gc_full(1);
		GT_WAIT_UNTIL(chan_fin_done(), 20);
	}
	if (!GCHECK(chan_fin_done()))
		fprintf(stderr, "# %ld of %ld channel finalizers ran\n", atomic_load(&ch.fin_ran),
			ch.nfin);
	gc_full(2);
	GCHECK(gc_memstats(&ms2));
	left = ms2.heap_objects > ms0.heap_objects ? ms2.heap_objects - ms0.heap_objects : 0;
	if (!GCHECK(left <= ch.objects * GC_MARGIN_PCT / 100))
		fprintf(stderr, "# %llu of %llu channel objects survive\n",
			(unsigned long long)left, (unsigned long long)ch.objects);
	alive = gc_count_alive(ch.targets, ch.ntargets);
	if (!GCHECK(alive <= ch.ntargets * GC_MARGIN_PCT / 100))
		fprintf(stderr, "# %ld of %ld objects sent into dropped channels survive\n",
			alive, ch.ntargets);
	for (i = 0; i < ch.nfin; i++)
		if (atomic_load(&ch.fin_count[i]) > 1)
			GFAIL("channel %ld finalized %d times", i, atomic_load(&ch.fin_count[i]));
	printf("# %s: %ld channels (%llu objects): %llu objects left, %ld/%ld finalized\n",
	       gc_mode(), ch.n, (unsigned long long)ch.objects, (unsigned long long)left,
	       atomic_load(&ch.fin_ran), ch.nfin);
	return 0;
}

TEST(channels)
{
	unsetenv("GORT_GC");
	ch.n = gc_scale(NCHAN);
	ch.fin_count = calloc((size_t)ch.n / FIN_EVERY + 1, sizeof(*ch.fin_count));
	ch.hidden = calloc((size_t)ch.n / FIN_EVERY + 1, sizeof(*ch.hidden));
	ch.targets = calloc((size_t)ch.n, sizeof(*ch.targets));
	ASSERT_NE(NULL, ch.fin_count);
	ASSERT_NE(NULL, ch.hidden);
	ASSERT_NE(NULL, ch.targets);
	ASSERT_EQ(0, gt_run(chan_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

/* ---- arena_start ---- */

static struct {
	size_t size;
	int n;
	uintptr_t hidden[4];
} as;

static void as_make(void *unused)
{
	int i;

	(void)unused;
	for (i = 0; i < as.n; i++) {
		char *p = gort_alloc(as.size, GORT_ALLOC_NOSCAN);

		if (!GCHECK(p != NULL))
			return;
		p[0] = 1;
		as.hidden[i] = GC_HIDE(p);
	}
}

static int as_main(void *arg)
{
	long alive;
	int i;

	(void)arg;
	/* No gc_pad_arena() here: the first object is the point. */
	if (!gc_in_goroutine(as_make, NULL))
		return 1;
	gc_full(3);
	alive = gc_count_alive(as.hidden, as.n);
	if (!GCHECK_EQ(0, alive))
		for (i = 0; i < as.n; i++)
			fprintf(stderr, "# object %d of %zu bytes at %p (arena offset %#lx): %s\n",
				i, as.size, GC_UNHIDE(as.hidden[i]),
				(unsigned long)(~as.hidden[i] & ((64UL << 20) - 1)),
				gc_alive_hidden(as.hidden[i]) ? "never freed" : "freed");
	return 0;
}

/*
 * Regression: the runtime's own globals (the arena list, the lowest
 * arena address, the dirty tracker's ranges) held each arena's base
 * address, and the data segments are scanned conservatively, so the
 * object at an arena's base was never freed: the heap's first object,
 * and every object of 64 MiB or more (fixed by 9527c15, which keeps
 * arena numbers there instead).
 */
TEST(arena_start_first_object)
{
	as.size = 64;
	as.n = 4;
	ASSERT_EQ(0, gt_run(as_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

TEST(arena_start_huge_objects)
{
	as.size = 80 * MiB;	/* more than an arena: each gets fresh ones */
	as.n = 3;
	ASSERT_EQ(0, gt_run(as_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

TEST_HARNESS_MAIN
