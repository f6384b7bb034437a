/* SPDX-License-Identifier: MIT */
/*
 * gc_work.h - the work bench/gc.c (gort) and bench/gc_boehm.c (Boehm GC)
 * share, so that both collectors face the same objects: the parameters,
 * the random sequence (xorshift64*, as bench/go/gc/main.go), the binary
 * trees and the liveheap nodes with their checks.  Each program defines
 * BENCH_NAME, xalloc(size) (a pointer-holding, zeroed object; never NULL)
 * and GC_YIELD() (a preemption point, or nothing) before including it.
 */
#ifndef GORT_GC_WORK_H
#define GORT_GC_WORK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef BENCH_NAME
#error "define BENCH_NAME, xalloc() and GC_YIELD() before including gc_work.h"
#endif

#define MIN_DEPTH	4
#define DEFAULT_DEPTH	21
#define MAX_DEPTH	30
#define YIELD_DEPTH	6		/* subtrees of 127 nodes, a few us */

#define DEFAULT_LIVE_MB	1024
#define BUCKET_LEN	8
#define OPS_PER_MB	3200		/* per mutator: ~10 s with Go at 1 GiB */
#define MUTATORS	2
#define HDR_SIZE	24

#define SEED_BUILD	0x9e3779b97f4a7c15ull
#define SEED_MUT	0x2545f4914f6cdd1dull
#define GOLDEN		0x9e3779b97f4a7c15ull

/* Chosen uniformly; all are size classes of gort and Go. */
static const uint32_t node_sizes[] = { 64, 96, 128, 192, 256, 384, 512 };
#define NSIZES		(sizeof(node_sizes) / sizeof(node_sizes[0]))

static void *xalloc(size_t n);

/* Something is wrong with what the collector left: say what, exit 1. */
static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, BENCH_NAME ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

/* xorshift64*, the same in bench/go/gc/main.go. */
static uint64_t rnd(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dull;
}

/* ---- binarytrees ---- */

struct tree {
	struct tree *left, *right;
};

static struct tree *bottom_up_tree(int depth)
{
	struct tree *t = xalloc(sizeof(*t));

	if (depth > 0) {
		if (depth >= YIELD_DEPTH)
			GC_YIELD();
		t->left = bottom_up_tree(depth - 1);
		t->right = bottom_up_tree(depth - 1);
	}
	return t;
}

static long item_check(const struct tree *t, int depth)
{
	if (!t->left)
		return 1;
	if (depth >= YIELD_DEPTH)
		GC_YIELD();
	return 1 + item_check(t->left, depth - 1) + item_check(t->right, depth - 1);
}

/* Dies unless @n trees of depth @d checked to @got. */
static void check_tree(const char *what, int d, long n, long got)
{
	long want = n * ((1L << (d + 1)) - 1);

	if (got != want)
		fail("binarytrees: %s of depth %d: check %ld, want %ld", what, d,
		     got, want);
}

/* ---- liveheap ---- */

/* A node: this header, then (size - HDR_SIZE) / 8 payload words. */
struct node {
	struct node *next;
	uint64_t key;
	uint32_t size;
	uint32_t pad;
	uint64_t data[];
};
_Static_assert(sizeof(struct node) == HDR_SIZE, "node header");

/* The node that random number @r describes: key @r, size
 * node_sizes[(r >> 32) % 7], payload word i key ^ (i + 1) * GOLDEN. */
static struct node *new_node(uint64_t r)
{
	uint32_t size = node_sizes[(r >> 32) % NSIZES], i;
	struct node *n = xalloc(size);

	n->key = r;
	n->size = size;
	for (i = 0; i < (size - HDR_SIZE) / 8; i++)
		n->data[i] = r ^ (i + 1) * GOLDEN;
	return n;
}

static uint64_t node_sum(const struct node *n)
{
	return n->key + n->size;
}

/* Dies unless @n's payload is what new_node() wrote; @full checks every
 * word, else only the first and the last. */
static void check_node(const struct node *n, bool full)
{
	uint32_t i, words;
	size_t s;

	for (s = 0; s < NSIZES; s++)
		if (n->size == node_sizes[s])
			break;
	if (s == NSIZES)
		fail("liveheap: node %p: bad size %u", (void *)n, n->size);
	words = (n->size - HDR_SIZE) / 8;
	for (i = 0; i < words; i++) {
		if (!full && i == 1)
			i = words - 1;
		if (n->data[i] != (n->key ^ (i + 1) * GOLDEN))
			fail("liveheap: node %p: payload word %u is %#llx, want %#llx",
			     (void *)n, i, (unsigned long long)n->data[i],
			     (unsigned long long)(n->key ^ (i + 1) * GOLDEN));
	}
}

#endif /* GORT_GC_WORK_H */
