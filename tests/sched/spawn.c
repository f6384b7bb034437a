/* SPDX-License-Identifier: MIT */
/*
 * Description: spawn and join many goroutines.
 *
 * 100,000 goroutines are started from the main goroutine, each bumps a
 * counter and calls gort_waitgroup_done(); the main goroutine waits on the
 * WaitGroup and the counter must be exact.  A second case builds a fan-out
 * tree (every goroutine spawns ten children, five levels deep) so spawning
 * also happens on every P, not only from the main goroutine.  Both run with
 * the default GOMAXPROCS, 1 and 2 Ps.
 */
#include "../gort_test.h"

#define NR_FLAT		100000
#define TREE_FANOUT	10
#define TREE_DEPTH	5	/* 1 + 10 + ... + 10^5 = 111,111 goroutines */

FIXTURE(spawn) {
	atomic_long count;
	atomic_long spawn_errors;
	atomic_llong max_goid;
	struct gort_waitgroup wg;
};

FIXTURE_VARIANT(spawn) {
	int maxprocs;
};

FIXTURE_VARIANT_ADD(spawn, default_procs) { .maxprocs = 0, };
FIXTURE_VARIANT_ADD(spawn, procs1) { .maxprocs = 1, };
FIXTURE_VARIANT_ADD(spawn, procs2) { .maxprocs = 2, };

FIXTURE_SETUP(spawn)
{
}

FIXTURE_TEARDOWN(spawn)
{
}

static void flat_worker(void *arg)
{
	FIXTURE_DATA(spawn) *self = arg;
	int64_t id = gort_goid();
	long long max = atomic_load(&self->max_goid);

	GCHECK(id > 1);
	while (id > max && !atomic_compare_exchange_weak(&self->max_goid, &max, id))
		;
	atomic_fetch_add(&self->count, 1);
	gort_waitgroup_done(&self->wg);
}

static int flat_main(void *arg)
{
	FIXTURE_DATA(spawn) *self = arg;
	long i;

	GCHECK_EQ(gort_goid(), 1);
	gort_waitgroup_add(&self->wg, NR_FLAT);
	for (i = 0; i < NR_FLAT; i++) {
		int64_t id = gort_go(flat_worker, self);

		if (id <= 0) {
			atomic_fetch_add(&self->spawn_errors, 1);
			gort_waitgroup_done(&self->wg);
		}
	}
	gort_waitgroup_wait(&self->wg);
	return 0;
}

TEST_F(spawn, flat_100k)
{
	ASSERT_EQ(0, gt_run(flat_main, self, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(0, atomic_load(&self->spawn_errors));
	ASSERT_EQ(NR_FLAT, atomic_load(&self->count));
	/* Ids are unique and increasing, so the largest is at least N+1. */
	ASSERT_GE(atomic_load(&self->max_goid), NR_FLAT + 1);
}

struct node {
	FIXTURE_DATA(spawn) *self;
	int depth;
};

static void tree_node(void *arg);

static void tree_spawn(FIXTURE_DATA(spawn) *self, int depth)
{
	int i;

	if (depth >= TREE_DEPTH)
		return;
	gort_waitgroup_add(&self->wg, TREE_FANOUT);
	for (i = 0; i < TREE_FANOUT; i++) {
		struct node *n = malloc(sizeof(*n));

		if (!GCHECK(n != NULL)) {
			gort_waitgroup_done(&self->wg);
			continue;
		}
		n->self = self;
		n->depth = depth + 1;
		if (gort_go(tree_node, n) <= 0) {
			atomic_fetch_add(&self->spawn_errors, 1);
			free(n);
			gort_waitgroup_done(&self->wg);
		}
	}
}

static void tree_node(void *arg)
{
	struct node *n = arg;
	FIXTURE_DATA(spawn) *self = n->self;

	atomic_fetch_add(&self->count, 1);
	/* Add the children before done(), so the counter never hits 0 early. */
	tree_spawn(self, n->depth);
	free(n);
	gort_waitgroup_done(&self->wg);
}

static int tree_main(void *arg)
{
	FIXTURE_DATA(spawn) *self = arg;

	tree_spawn(self, 0);
	gort_waitgroup_wait(&self->wg);
	return 0;
}

TEST_F(spawn, tree_111k)
{
	long expect = 0, level = 1;
	int d;

	for (d = 1; d <= TREE_DEPTH; d++) {
		level *= TREE_FANOUT;
		expect += level;
	}
	ASSERT_EQ(0, gt_run(tree_main, self, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(0, atomic_load(&self->spawn_errors));
	ASSERT_EQ(expect, atomic_load(&self->count));
}

TEST_HARNESS_MAIN
