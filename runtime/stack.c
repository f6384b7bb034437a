// SPDX-License-Identifier: MIT
/*
 * stack.c - goroutine stacks (reserved big, committed lazily, guarded)
 * and the G structs themselves.
 *
 * C code cannot have its stack moved (pointers into it are everywhere),
 * so unlike Go a goroutine gets a fixed-size stack up front.  It costs
 * address space, not memory: stacks are carved from large anonymous
 * MAP_NORESERVE reservations, and the kernel commits a page only when it
 * is first touched.  Creating a goroutine writes nothing to its stack
 * (gort_ctx_launch starts it on the empty stack), so a goroutine that has
 * run costs the stack pages it touched (usually one) plus its struct g.
 *
 * Stack slot layout (default-size slots 64 to a chunk):
 *
 *	guard_lo        stack_lo                                stack_hi
 *	| guard (64 KiB) | stack, grows down <------------------ |
 *
 * The guard is installed with MADV_GUARD_INSTALL (Linux 6.13), which
 * marks page-table entries and does not split the VMA: 100,000
 * goroutines stay one mapping per chunk, far below vm.max_map_count.
 * Without it we fall back to mprotect(PROT_NONE), which splits VMAs (two
 * per stack); stack_guard_mode() reports which is active.  A touch of the
 * guard raises SIGSEGV, and signal.c reports "stack overflow".
 * Chunks are MADV_NOHUGEPAGE: a huge page would commit 2 MiB for the one
 * page a small goroutine uses.
 *
 * struct g lives apart from its stack, densely packed in slabs, as in Go:
 * the scheduler's queues walk Gs, and dense Gs share cache lines and TLB
 * entries where one-G-per-page would miss on every step.  A G is never
 * freed.
 *
 * A goroutine with the default stack size gets its stack when it first
 * runs (stack_attach, from execute) and gives it back when it exits
 * (stack_detach), so goroutines that are created but have not run yet own
 * no stack: 100,000 queued goroutines run one after another on the same
 * few hot stacks instead of touching 100,000 pages.  Free stacks are kept
 * per P (LIFO, STACKCACHE of them, the hot ones) and in a global pool in
 * three generations: warm (freed this second), old (unused for a second)
 * and cold (memory released).  sysmon calls stack_scavenge() once a
 * second: old stacks are released with MADV_DONTNEED and become cold,
 * warm become old.  Goroutines with a custom stack size own their stack
 * for life (proc.c keeps them on their own free list).
 *
 * Shrinking (Go shrinks stacks at GC; C cannot move one, so only the
 * memory goes): a goroutine notes the lowest sp it is seen at
 * (gp->stacklow: preemption points, parks, system calls).  While the GC
 * marks, a goroutine it finds parked whose used part is at most a quarter
 * of what may be resident gets the pages below its sp released with
 * MADV_DONTNEED (stack_shrink).  A free slot carries that depth in the low
 * bits of its address, so the next owner knows it too.  Frames that go
 * deep and come back without calling the runtime are not seen: their
 * pages stay until the slot is freed and scavenged.
 *
 * allgs: an append-only array of chunks of G pointers.  Writers hold
 * allglock; readers (SIGQUIT dump, deadlock check) read allglen with
 * acquire and then only published entries.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define GUARD_SIZE	(64 << 10)
#define SHRINK_MARGIN	(8 << 10)	/* kept below a parked goroutine's sp */
#define SHRINK_MIN	(16 << 10)	/* release no less */
#define CHUNK_SLOTS	64
#define GSLAB		256		/* Gs per slab */
#define ALLG_CHUNK	4096
#define ALLG_CHUNKS	4096		/* 16 M goroutines */

size_t default_stack_size = 256 << 10;

static struct lock stacklock;
static uintptr_t chunk_next, chunk_end;	/* stacklock: unused default slots */
static struct g *gslab_next, *gslab_end;	/* stacklock: unused Gs */
static int guard_mode;			/* 1 madvise guard, 2 mprotect */

static uint64_t stacksys;		/* stacklock: bytes of slots reserved */
static uint64_t stackinuse;		/* atomic: custom-size stacks (for life) */

static struct lock allglock;
static struct g **allgchunks[ALLG_CHUNKS];
static size_t nallg;

size_t allglen(void)
{
	return atomic_load_explicit(&nallg, acquire);
}

struct g *allgat(size_t i)
{
	return allgchunks[i / ALLG_CHUNK][i % ALLG_CHUNK];
}

static void allgadd(struct g *gp)
{
	size_t n;

	lock(&allglock);
	n = load_relaxed(&nallg);
	if (n / ALLG_CHUNK >= ALLG_CHUNKS)
		throw("allgadd: too many goroutines");
	if (!allgchunks[n / ALLG_CHUNK]) {
		allgchunks[n / ALLG_CHUNK] = sysmap(ALLG_CHUNK * sizeof(struct g *));
		if (!allgchunks[n / ALLG_CHUNK])
			throw("allgadd: out of memory");
	}
	allgchunks[n / ALLG_CHUNK][n % ALLG_CHUNK] = gp;
	/* release: the entry is written before the length covers it. */
	atomic_store_explicit(&nallg, n + 1, release);
	unlock(&allglock);
}

size_t stack_slotsize(size_t stack_size)
{
	size_t pg = physpagesize();

	return GUARD_SIZE + ((stack_size + pg - 1) & ~(pg - 1));
}

int stack_guard_mode(void)
{
	return guard_mode;
}

/*
 * stack_init() - choose how guard pages are made: MADV_GUARD_INSTALL if
 * the kernel has it (probed on a scratch mapping) and GORT_DEBUG does not
 * say guardmprotect=1, else mprotect.
 */
void stack_init(void)
{
	size_t pg = physpagesize();
	void *p;

	gc_noscan_global(allgchunks, sizeof(allgchunks));	/* not heap memory */
	guard_mode = 2;
	if (debug.guardmprotect)
		return;
	p = sysmap(2 * pg);
	if (!p)
		return;
	if (sysmadvise(p, pg, MADV_GUARD_INSTALL) == 0)
		guard_mode = 1;
	sysunmap(p, 2 * pg);
}

/* stacklock held. */
static int guard_install(uintptr_t lo)
{
	if (guard_mode == 1)
		return sysmadvise((void *)lo, GUARD_SIZE, MADV_GUARD_INSTALL) ? -ENOMEM : 0;
	return sysmprotect((void *)lo, GUARD_SIZE, PROT_NONE) ? -ENOMEM : 0;
}

/* A new slot of @slot bytes, guard installed; stacklock held. */
static uintptr_t slotalloc(size_t slot, bool dflt)
{
	uintptr_t base, c, i;

	if (!dflt) {
		base = (uintptr_t)sysmap(slot);
		if (base && guard_install(base)) {
			sysunmap((void *)base, slot);
			base = 0;
		}
		if (base)
			stacksys += slot;
		return base;
	}
	if (chunk_next == chunk_end) {
		c = (uintptr_t)sysmap(slot * CHUNK_SLOTS);
		if (!c)
			return 0;
		sysmadvise((void *)c, slot * CHUNK_SLOTS, MADV_NOHUGEPAGE);
		for (i = 0; i < CHUNK_SLOTS; i++)
			if (guard_install(c + i * slot))
				return 0;	/* VMA limit with mprotect */
		chunk_next = c;
		chunk_end = c + slot * CHUNK_SLOTS;
	}
	base = chunk_next;
	chunk_next += slot;
	stacksys += slot;
	return base;
}

/* A zeroed G from the slab; stacklock held. */
static struct g *galloc(void)
{
	if (gslab_next == gslab_end) {
		gslab_next = sysmap(GSLAB * sizeof(struct g));
		if (!gslab_next)
			return NULL;
		gslab_end = gslab_next + GSLAB;
	}
	return gslab_next++;
}

/* galloc_g() - a new G with no stack yet, registered in allgs. */
struct g *galloc_g(void)
{
	struct g *gp;

	lock(&stacklock);
	gp = galloc();
	unlock(&stacklock);
	if (gp)
		allgadd(gp);
	return gp;
}

static void setstack(struct g *gp, uintptr_t base, size_t slot)
{
	gp->guard_lo = base;
	gp->stack_lo = base + GUARD_SIZE;
	gp->stack_hi = base + slot;
	gp->slot_size = slot;
}

/*
 * A free default-size slot is its base ORed with how many pages under its
 * top may be resident (its last owner's stacklow), 0 once released.
 */
static uintptr_t slot_pack(const struct g *gp)
{
	uintptr_t pg = physpagesize();
	uintptr_t depth = (gp->stack_hi - (gp->stacklow & ~(pg - 1))) / pg;

	return gp->guard_lo | (depth < pg ? depth : pg - 1);
}

static void slot_unpack(struct g *gp, uintptr_t e, size_t slot)
{
	uintptr_t pg = physpagesize();

	setstack(gp, e & ~(pg - 1), slot);
	gp->stacklow = gp->stack_hi - (e & (pg - 1)) * pg;
}

/* stackalloc_g() - a new G that owns a new stack of @stack_size bytes. */
struct g *stackalloc_g(size_t stack_size)
{
	size_t slot = stack_slotsize(stack_size);
	uintptr_t base;
	struct g *gp;

	lock(&stacklock);
	base = slotalloc(slot, false);
	gp = base ? galloc() : NULL;
	unlock(&stacklock);
	if (!gp) {
		if (base)
			sysunmap((void *)base, slot);
		return NULL;
	}
	setstack(gp, base, slot);
	gp->stacklow = gp->stack_hi;
	__atomic_fetch_add(&stackinuse, slot, __ATOMIC_RELAXED);
	allgadd(gp);
	return gp;
}

/* ---- the default-size stack pool ---- */

struct stackvec {
	uintptr_t *v;
	size_t n, cap;
};

static struct {
	struct lock lock;
	struct stackvec warm, old, cold;
} pool;

/* pool.lock held. */
static bool vec_push(struct stackvec *sv, uintptr_t base)
{
	if (sv->n == sv->cap) {
		size_t cap = sv->cap ? sv->cap * 2 : 1024;
		uintptr_t *v = sysmap(cap * sizeof(*v));

		if (!v)
			return false;
		if (sv->v) {
			memcpy(v, sv->v, sv->n * sizeof(*v));
			sysunmap(sv->v, sv->cap * sizeof(*v));
		}
		sv->v = v;
		sv->cap = cap;
	}
	sv->v[sv->n++] = base;
	return true;
}

/* Refill @pp's cache with up to half of it from the pool, warmest first. */
static void stackcache_refill(struct p *pp)
{
	struct stackvec *order[] = { &pool.warm, &pool.old, &pool.cold };
	size_t i;

	lock(&pool.lock);
	for (i = 0; i < ARRAY_SIZE(order); i++) {
		struct stackvec *sv = order[i];

		while (sv->n && pp->nstackcache < STACKCACHE / 2)
			pp->stackcache[pp->nstackcache++] = sv->v[--sv->n];
	}
	unlock(&pool.lock);
}

/*
 * stack_attach() - give @gp (default stack size, first run) a stack from
 * @pp's cache, the pool, or a new slot.  Runs on g0 holding @pp.
 * Return: 0, or -ENOMEM.
 */
int stack_attach(struct p *pp, struct g *gp)
{
	size_t slot = stack_slotsize(default_stack_size);
	uintptr_t base;

	if (!pp->nstackcache && (pool.warm.n || pool.old.n || pool.cold.n))
		stackcache_refill(pp);
	if (pp->nstackcache) {
		slot_unpack(gp, pp->stackcache[--pp->nstackcache], slot);
	} else {
		lock(&stacklock);
		base = slotalloc(slot, true);
		unlock(&stacklock);
		if (!base)
			return -ENOMEM;
		setstack(gp, base, slot);
		gp->stacklow = gp->stack_hi;
	}
	pp->stackinuse += slot;		/* per P: no shared line on this path */
	return 0;
}

/* stack_detach() - @gp exited: its stack goes back to @pp's cache. */
void stack_detach(struct p *pp, struct g *gp)
{
	uintptr_t base = slot_pack(gp);

	pp->stackinuse -= gp->slot_size;
	gp->guard_lo = gp->stack_lo = gp->stack_hi = 0;
	if (pp->nstackcache == STACKCACHE) {
		/* Keep the hottest half; the rest goes to the pool. */
		int32_t i, half = STACKCACHE / 2;

		lock(&pool.lock);
		for (i = 0; i < half; i++)
			if (!vec_push(&pool.warm, pp->stackcache[i]))
				break;
		unlock(&pool.lock);
		memmove(pp->stackcache, pp->stackcache + i,
			(size_t)(STACKCACHE - i) * sizeof(uintptr_t));
		pp->nstackcache -= i;
		if (pp->nstackcache == STACKCACHE)
			throw("stack_detach: out of memory for the stack pool");
	}
	pp->stackcache[pp->nstackcache++] = base;
}

/* stack_pflush() - a P is destroyed: its cached stacks go to the pool. */
void stack_pflush(struct p *pp)
{
	lock(&pool.lock);
	while (pp->nstackcache && vec_push(&pool.warm, pp->stackcache[pp->nstackcache - 1]))
		pp->nstackcache--;
	unlock(&pool.lock);
}

/*
 * stack_scavenge() - sysmon, once a second: release the memory of the
 * stacks nobody took for a whole second, and age the rest.
 * Return: true if stacks wait to be released next time.
 */
bool stack_scavenge(void)
{
	size_t slot = stack_slotsize(default_stack_size), i, n;
	uintptr_t mask = ~(uintptr_t)(physpagesize() - 1);
	struct stackvec rel;
	bool more;

	lock(&pool.lock);
	rel = pool.old;
	pool.old = pool.warm;
	pool.warm = (struct stackvec){ 0 };
	unlock(&pool.lock);
	/* madvise outside the lock; rel is private meanwhile. */
	for (i = 0; i < rel.n; i++) {
		rel.v[i] &= mask;	/* nothing resident any more */
		sysmadvise((void *)(rel.v[i] + GUARD_SIZE), slot - GUARD_SIZE, MADV_DONTNEED);
	}
	lock(&pool.lock);
	n = rel.n;
	for (i = 0; i < n; i++)
		if (!vec_push(&pool.cold, rel.v[i]))
			break;	/* keep the rest reserved; they are only lost to reuse */
	more = pool.old.n > 0 || pool.warm.n > 0;
	unlock(&pool.lock);
	if (rel.v)
		sysunmap(rel.v, rel.cap * sizeof(*rel.v));
	return more;
}

/*
 * stack_memstats() - MemStats' StackInuse and StackSys: bytes of stack
 * slots that goroutines own (default size; custom ones count as in use
 * for life) and of all slots reserved.  Address space, not resident
 * memory: a stack costs only the pages it touched.
 */
void stack_memstats(uint64_t *inuse, uint64_t *sys)
{
	lock(&stacklock);
	*sys = stacksys;
	unlock(&stacklock);
	int64_t sum = (int64_t)__atomic_load_n(&stackinuse, __ATOMIC_RELAXED);
	int i;

	/* Default-size stacks are counted per P (a G may exit on another P
	 * than the one it started on, so one P's count can go negative). */
	for (i = 0; i < GORT_MAXPROCS_LIMIT; i++) {
		struct p *pp = __atomic_load_n(&allp[i], __ATOMIC_ACQUIRE);

		if (pp)
			sum += __atomic_load_n(&pp->stackinuse, __ATOMIC_RELAXED);
	}
	*inuse = sum < 0 ? 0 : (uint64_t)sum;
}

/*
 * stack_shrink() - @gp is parked or waits to run again, and the GC marks:
 * if its used part (down to SHRINK_MARGIN below its sp) is at most a
 * quarter of what may be resident, release the pages below it.  execute()
 * waits while gp->shrinking is set (it reads it after storing Grunning;
 * we read the status after setting it: one of us sees the other).
 * Return: bytes that may have been resident and were released, or 0.
 */
size_t stack_shrink(struct g *gp)
{
	uintptr_t pg = physpagesize(), sp = gp->ctx.sp, keep, low;
	size_t released = 0;
	uint32_t st;

	if (!sp || !gp->stack_hi)
		return 0;
	keep = (sp & ~(pg - 1)) - SHRINK_MARGIN;
	low = gp->stacklow & ~(pg - 1);
	if (keep <= gp->stack_lo || low + SHRINK_MIN > keep ||
	    (gp->stack_hi - keep) * 4 > gp->stack_hi - low)
		return 0;
	__atomic_store_n(&gp->shrinking, 1, __ATOMIC_SEQ_CST);
	st = __atomic_load_n(&gp->status, __ATOMIC_SEQ_CST);
	if ((st == Gwaiting || st == Grunnable) && gp->ctx.sp == sp &&
	    !sysmadvise((void *)gp->stack_lo, keep - gp->stack_lo, MADV_DONTNEED)) {
		released = keep - low;
		gp->stacklow = keep;
	}
	__atomic_store_n(&gp->shrinking, 0, __ATOMIC_RELEASE);
	return released;
}

/* stack_shrink_wait() - execute(), while the GC marks: @gp is ours now,
 * but the GC may be releasing its stack below the saved sp. */
void stack_shrink_wait(struct g *gp)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);	/* Grunning, then this */
	while (__atomic_load_n(&gp->shrinking, __ATOMIC_ACQUIRE))
		cpu_relax();
}

bool stack_guard_contains(struct g *gp, uintptr_t addr)
{
	return addr >= gp->guard_lo && addr < gp->stack_lo;
}
