// SPDX-License-Identifier: MIT
/*
 * stack.c - goroutine stacks: reserved big, committed lazily, guarded.
 *
 * C code cannot have its stack moved (pointers into it are everywhere),
 * so unlike Go a goroutine gets a fixed-size stack up front.  It costs
 * address space, not memory: stacks are carved from large anonymous
 * MAP_NORESERVE reservations, and the kernel commits a page only when it
 * is first touched, so a new goroutine costs about one page of RSS.
 *
 * Slot layout (one per goroutine, default-size slots 64 to a chunk):
 *
 *	guard_lo        stack_lo                          stack_hi     slot end
 *	| guard (64 KiB) | stack, grows down <------------ | struct g |
 *
 * struct g sits at the top of its own slot, so the G and the first stack
 * frames share one page.  The guard is installed with MADV_GUARD_INSTALL
 * (Linux 6.13), which marks page-table entries and does not split the VMA:
 * 100,000 goroutines stay one mapping per chunk, far below
 * vm.max_map_count.  Without it we fall back to mprotect(PROT_NONE), which
 * splits VMAs (two per stack); guard_mode() reports which is active.
 * A touch of the guard raises SIGSEGV, and signal.c turns it into the
 * fatal "stack overflow" with a traceback.
 *
 * Reuse: dead Gs keep their slot on free lists (proc.c); sysmon releases
 * the memory of slots that sat on the global free list with
 * MADV_DONTNEED (stack_release), which also zeroes the G; stack_reinit
 * rebuilds it from its address.
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
#define CHUNK_SLOTS	64
#define ALLG_CHUNK	4096
#define ALLG_CHUNKS	4096		/* 16 M goroutines */

size_t default_stack_size = 256 << 10;

static struct lock stacklock;
static uintptr_t chunk_next, chunk_end;	/* stacklock: unused default slots */
static int guard_mode;			/* 1 madvise guard, 2 mprotect */

static struct lock allglock;
static struct g **allgchunks[ALLG_CHUNKS];
static _Atomic size_t nallg;

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

static size_t gsize(void)
{
	return (sizeof(struct g) + CACHELINE - 1) & ~(size_t)(CACHELINE - 1);
}

size_t stack_slotsize(size_t stack_size)
{
	size_t pg = physpagesize();

	return GUARD_SIZE + ((stack_size + gsize() + pg - 1) & ~(pg - 1));
}

int stack_guard_mode(void)
{
	return guard_mode;
}

static int guard_install(uintptr_t lo)
{
	if (guard_mode != 2 && madvise((void *)lo, GUARD_SIZE, MADV_GUARD_INSTALL) == 0) {
		guard_mode = 1;
		return 0;
	}
	if (guard_mode != 2) {
		guard_mode = 2;
		if (debug.verbose)
			printf_raw("gort: MADV_GUARD_INSTALL unavailable; guard pages via mprotect\n");
	}
	return mprotect((void *)lo, GUARD_SIZE, PROT_NONE) ? -ENOMEM : 0;
}

/* Lay out @gp's fields from the slot that starts at @base. */
static struct g *slot_g(uintptr_t base, size_t slot, size_t stack_size)
{
	struct g *gp = (struct g *)(base + slot - gsize());

	gp->guard_lo = base;
	gp->stack_lo = base + GUARD_SIZE;
	gp->stack_hi = (uintptr_t)gp;
	gp->slot_size = slot;
	(void)stack_size;
	return gp;
}

void stack_reinit(struct g *gp)
{
	size_t slot = stack_slotsize(default_stack_size);
	uintptr_t base = (uintptr_t)gp + gsize() - slot;

	slot_g(base, slot, default_stack_size);
}

struct g *stackalloc_g(size_t stack_size)
{
	size_t slot = stack_slotsize(stack_size);
	uintptr_t base;
	struct g *gp;

	if (stack_size == default_stack_size) {
		lock(&stacklock);
		if (chunk_next == chunk_end) {
			uintptr_t c = (uintptr_t)sysmap(slot * CHUNK_SLOTS), i;

			if (!c) {
				unlock(&stacklock);
				return NULL;
			}
			/* A huge page would commit 2 MiB for one goroutine. */
			madvise((void *)c, slot * CHUNK_SLOTS, MADV_NOHUGEPAGE);
			for (i = 0; i < CHUNK_SLOTS; i++) {
				if (guard_install(c + i * slot)) {
					unlock(&stacklock);
					return NULL;	/* VMA limit with mprotect */
				}
			}
			chunk_next = c;
			chunk_end = c + slot * CHUNK_SLOTS;
		}
		base = chunk_next;
		chunk_next += slot;
		unlock(&stacklock);
	} else {
		base = (uintptr_t)sysmap(slot);
		if (!base)
			return NULL;
		lock(&stacklock);
		if (guard_install(base)) {
			unlock(&stacklock);
			sysunmap((void *)base, slot);
			return NULL;
		}
		unlock(&stacklock);
	}
	gp = slot_g(base, slot, stack_size);
	allgadd(gp);
	return gp;
}

void stack_release(struct g *gp)
{
	uintptr_t lo = gp->stack_lo, hi = gp->guard_lo + gp->slot_size;

	/* The G itself is in the range: it reads back as zeroes. */
	madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

bool stack_guard_contains(struct g *gp, uintptr_t addr)
{
	return addr >= gp->guard_lo && addr < gp->stack_lo;
}
