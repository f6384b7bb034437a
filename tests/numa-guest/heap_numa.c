/* SPDX-License-Identifier: MIT */
/*
 * Description: the heap is NUMA-local.  In the numa-guest (2 nodes x 2
 * CPUs, 4 nodes x 1 CPU), with one P per CPU:
 *
 *   nodes		gort_numa_nodes() == $GORT_NUMA_EXPECT_NODES and
 *			gort_current_node() is a valid node, in goroutines and
 *			on a plain thread;
 *   local_small	>= 99 % of the pages behind a goroutine's small
 *			objects (64 B .. 4 KiB, 256 KiB per goroutine, touched)
 *			are on its P's node, as gort_current_node() says when
 *			it allocates (it does not change P meanwhile: the
 *			allocation loop never parks), even after it freed
 *			objects of another node (cross-node frees must not
 *			feed remote memory to the P); move_pages() in query
 *			mode says where each page is;
 *   local_large	the same for large objects;
 *   alloc_node		gort_alloc_node(size, node) puts small and large
 *			objects on @node, for every node, from a goroutine and
 *			from a plain thread; a node that does not exist is
 *			EINVAL;
 *   node_memstats	the per-node MemStats rows add up to the totals and
 *			count each node's allocations and frees there, also
 *			frees made from another node.
 *
 * Outside the guest (no GORT_NUMA_EXPECT_NODES) the checks that mean
 * something on one node still run (everything on node 0); the node count
 * check skips.  Work is kept to a few MiB: the guest runs under TCG.
 */
#include "../gort_test.h"

#include <numa.h>
#include <numaif.h>
#include <pthread.h>

#define OSPAGE		4096
#define PER_G		(256u << 10)	/* bytes of objects per goroutine */
#define MAXOBJ		(PER_G / 64)
#define MAXNODES	8

static int expect_nodes(void)
{
	const char *s = getenv("GORT_NUMA_EXPECT_NODES");

	return s && *s ? atoi(s) : -1;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * pages_on() - of the OS pages covering [obj[i], obj[i] + size[i]), how
 * many move_pages() puts on @node; *total gets the number of pages.  -1 if
 * move_pages() itself fails.
 */
static long pages_on(void *const *obj, const size_t *size, int n, int node,
		     long *total, int *other)
{
	uintptr_t *pg;
	void **addr;
	int *status;
	long np = 0, i, on = 0;
	int k;

	for (k = 0; k < n; k++)
		np += (long)((size[k] + 2 * OSPAGE - 1) / OSPAGE);
	pg = calloc((size_t)np, sizeof(*pg));
	addr = calloc((size_t)np, sizeof(*addr));
	status = calloc((size_t)np, sizeof(*status));
	if (!pg || !addr || !status) {
		free(pg);
		free(addr);
		free(status);
		return -1;
	}
	np = 0;
	for (k = 0; k < n; k++) {
		uintptr_t p = (uintptr_t)obj[k] & ~(uintptr_t)(OSPAGE - 1);

		for (; p < (uintptr_t)obj[k] + size[k]; p += OSPAGE)
			pg[np++] = p;
	}
	qsort(pg, (size_t)np, sizeof(*pg), cmp_ptr);
	for (i = 0, k = 0; i < np; i++)
		if (i == 0 || pg[i] != pg[i - 1])
			addr[k++] = (void *)pg[i];
	np = k;
	for (i = 0; i < np; i++)
		status[i] = -1000;
	if (move_pages(0, (unsigned long)np, addr, NULL, status, 0)) {
		free(pg);
		free(addr);
		free(status);
		return -1;
	}
	*other = -1;
	for (i = 0; i < np; i++) {
		if (status[i] == node)
			on++;
		else if (*other == -1)
			*other = status[i];
	}
	*total = np;
	free(pg);
	free(addr);
	free(status);
	return on;
}

TEST(nodes)
{
	int want = expect_nodes();

	if (want < 1) {
		ASSERT_LE(1, gort_numa_nodes());
		ASSERT_LE(0, gort_current_node());
		ASSERT_GT(gort_numa_nodes(), gort_current_node());
		SKIP(return, "not in a numa-guest (no GORT_NUMA_EXPECT_NODES)");
	}
	ASSERT_LE(0, numa_available());
	ASSERT_EQ(want, gort_numa_nodes());
	ASSERT_LE(0, gort_current_node());
	ASSERT_GT(want, gort_current_node());
}

/* ---- P-local allocation ---- */

struct local {
	bool large;
	uint32_t done;
	atomic_long pages, on;
	atomic_int moved, failed_mp;
	atomic_int per_node[MAXNODES];
	_Atomic int64_t start;		/* workers allocate from then on */
	int nnodes;
};

#define REMOTE	64	/* objects of another node each worker frees */

static void local_worker(void *arg)
{
	struct local *l = arg;
	void **obj = calloc(MAXOBJ, sizeof(*obj));
	size_t *size = calloc(MAXOBJ, sizeof(*size));
	size_t bytes = 0;
	int n = 0, node, other = -1, k;
	long total = 0, on;

	if (!GCHECK(obj && size))
		goto out;
	/* Runnable until the start time, so that idle Ps steal some. */
	while (gort_nanotime() < atomic_load(&l->start))
		gort_yield();
	node = gort_current_node();
	/* Every allocation below is checked against this node. */
	if (l->nnodes > 1) {
		/*
		 * Objects of another node freed here, on this P: they must
		 * not come back as this P's memory.
		 */
		void *remote[REMOTE];

		for (k = 0; k < REMOTE; k++)
			remote[k] = gort_alloc_node((size_t)64 << (k % 7), (node + 1) % l->nnodes, 0);
		for (k = 0; k < REMOTE; k++)
			gort_free(remote[k]);
	}
	while (bytes < PER_G) {
		size_t s = l->large ? 40000 + (size_t)n * 9000 : (size_t)64 << (n % 7);

		/*
		 * gort_alloc() allocates first and may park after (a preemption
		 * point, as Go's malloc), so each object comes from the P seen
		 * just before its call.  A check only before and after the loop
		 * would miss a round trip to another node's P and back.
		 */
		if (gort_current_node() != node) {
			atomic_fetch_add(&l->moved, 1);	/* changed P: not countable */
			goto out;
		}
		obj[n] = gort_alloc(s, GORT_ALLOC_NOZERO);
		if (!GCHECK(obj[n] != NULL))
			goto out;
		memset(obj[n], n, s);
		size[n++] = s;
		bytes += s;
	}
	on = pages_on(obj, size, n, node, &total, &other);
	if (on < 0) {
		atomic_fetch_add(&l->failed_mp, 1);
		goto out;
	}
	if (on * 100 < total * 99)
		GFAIL("goroutine on node %d: %ld of %ld pages there (another on %d)",
		      node, on, total, other);
	atomic_fetch_add(&l->pages, total);
	atomic_fetch_add(&l->on, on);
	if (node >= 0 && node < MAXNODES)
		atomic_fetch_add(&l->per_node[node], 1);
out:
	for (k = 0; k < n; k++)
		gort_free(obj[k]);
	free(obj);
	free(size);
	gort_sema_release(&l->done);
}

/* Nodes that ran at least one counted worker so far. */
static int nodes_used(struct local *l)
{
	int i, used = 0;

	for (i = 0; i < MAXNODES; i++)
		used += atomic_load(&l->per_node[i]) > 0;
	return used;
}

/*
 * Spread the workers over every P (see local_worker's start).  Whether
 * idle Ps steal in time is up to the scheduler (and slow under TCG), so
 * run batches until the workers have covered two nodes (or six batches):
 * every batch's placement is checked all the same.
 */
static int local_main(void *arg)
{
	struct local *l = arg;
	int i, round, n = 4 * gort_maxprocs(0);

	for (round = 0; round < 6; round++) {
		atomic_store(&l->start, gort_nanotime() + 100 * GT_MS);
		for (i = 0; i < n; i++)
			gort_go(local_worker, l);
		gt_sema_wait(&l->done, n, 15000);
		if (l->nnodes < 2 || nodes_used(l) >= 2)
			break;
	}
	return 0;
}

static void run_local(struct __test_metadata *_metadata, bool large)
{
	struct local l = { .large = large, .nnodes = gort_numa_nodes() };
	int i, used = 0;

	ASSERT_EQ(0, gt_run(local_main, &l, gort_num_cpu()));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(0, atomic_load(&l.failed_mp)) TH_LOG("move_pages failed: %s", strerror(errno));
	for (i = 0; i < MAXNODES; i++) {
		if (atomic_load(&l.per_node[i])) {
			TH_LOG("node %d: %d goroutines", i, atomic_load(&l.per_node[i]));
			used++;
		}
	}
	TH_LOG("%ld of %ld pages local, %d goroutines changed P", atomic_load(&l.on),
	       atomic_load(&l.pages), atomic_load(&l.moved));
	ASSERT_LT(0, atomic_load(&l.pages));
	ASSERT_LE(atomic_load(&l.pages) * 99, atomic_load(&l.on) * 100);
	if (expect_nodes() > 1)
		ASSERT_LE(2, used) TH_LOG("the goroutines ran on one node only");
}

TEST(local_small)
{
	run_local(_metadata, false);
}

TEST(local_large)
{
	run_local(_metadata, true);
}

/* ---- gort_alloc_node ---- */

static const size_t node_sizes[] = { 8, 64, 1000, 4096, 32768, 40000, 300000 };
#define NODE_OBJS	16

/* alloc_on_nodes() - for every node, objects of every size land there. */
static void alloc_on_nodes(void)
{
	int nnodes = gort_numa_nodes(), node, i, k;

	for (node = 0; node < nnodes; node++) {
		for (i = 0; i < (int)GT_ARRAY_SIZE(node_sizes); i++) {
			void *obj[NODE_OBJS];
			size_t size[NODE_OBJS];
			long total = 0, on;
			int other = -1;

			for (k = 0; k < NODE_OBJS; k++) {
				size[k] = node_sizes[i];
				obj[k] = gort_alloc_node(size[k], node, 0);
				if (!GCHECK(obj[k] != NULL))
					return;
				memset(obj[k], 0x33, size[k]);
			}
			on = pages_on(obj, size, NODE_OBJS, node, &total, &other);
			if (on < 0)
				GFAIL("move_pages: %s", strerror(errno));
			else if (on * 100 < total * 99)
				GFAIL("gort_alloc_node(%zu, %d): %ld of %ld pages there (another on %d)",
				      node_sizes[i], node, on, total, other);
			for (k = 0; k < NODE_OBJS; k++)
				gort_free(obj[k]);
		}
	}
}

static int alloc_node_main(void *arg)
{
	(void)arg;
	alloc_on_nodes();
	return 0;
}

TEST(alloc_node_goroutine)
{
	ASSERT_EQ(0, gt_run(alloc_node_main, NULL, gort_num_cpu()));
	ASSERT_EQ(0, gt_failed());
}

static void *alloc_node_pthread(void *arg)
{
	(void)arg;
	alloc_on_nodes();
	return NULL;
}

TEST(alloc_node_thread)
{
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, alloc_node_pthread, NULL));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, gt_failed());
}

TEST(alloc_node_einval)
{
	const int bad[] = { -1, -1000, GORT_MEMSTATS_MAX_NODES, 1 << 20 };
	size_t i;

	for (i = 0; i < GT_ARRAY_SIZE(bad); i++) {
		errno = 0;
		ASSERT_EQ(NULL, gort_alloc_node(64, bad[i], 0)) TH_LOG("node %d", bad[i]);
		ASSERT_EQ(EINVAL, errno);
		errno = 0;
		ASSERT_EQ(NULL, gort_alloc_node(100000, bad[i], 0)) TH_LOG("node %d", bad[i]);
		ASSERT_EQ(EINVAL, errno);
	}
	/* One past the last node. */
	errno = 0;
	ASSERT_EQ(NULL, gort_alloc_node(64, gort_numa_nodes(), 0));
	ASSERT_EQ(EINVAL, errno);
}

/* ---- per-node MemStats ---- */

static bool read_ms(struct gort_memstats *ms)
{
	memset(ms, 0, sizeof(*ms));
	ms->sz = sizeof(*ms);
	return gort_read_memstats(ms) == 0;
}

static void check_sums(const struct gort_memstats *ms, const char *what)
{
	uint64_t a = 0, s = 0, u = 0, i = 0, r = 0, m = 0, f = 0;
	int n;

	GCHECK_EQ(gort_numa_nodes(), ms->nnodes);
	for (n = 0; n < ms->nnodes && n < GORT_MEMSTATS_MAX_NODES; n++) {
		a += ms->node[n].heap_alloc;
		s += ms->node[n].heap_sys;
		u += ms->node[n].heap_inuse;
		i += ms->node[n].heap_idle;
		r += ms->node[n].heap_released;
		m += ms->node[n].mallocs;
		f += ms->node[n].frees;
		GCHECK_EQ(ms->node[n].heap_sys, ms->node[n].heap_inuse + ms->node[n].heap_idle);
		GCHECK(ms->node[n].heap_released <= ms->node[n].heap_idle);
	}
	if (a != ms->heap_alloc || s != ms->heap_sys || u != ms->heap_inuse ||
	    i != ms->heap_idle || r != ms->heap_released || m != ms->mallocs ||
	    f != ms->frees)
		GFAIL("%s: node rows do not add up: alloc %llu/%llu sys %llu/%llu inuse %llu/%llu idle %llu/%llu released %llu/%llu mallocs %llu/%llu frees %llu/%llu",
		      what, (unsigned long long)a, (unsigned long long)ms->heap_alloc,
		      (unsigned long long)s, (unsigned long long)ms->heap_sys,
		      (unsigned long long)u, (unsigned long long)ms->heap_inuse,
		      (unsigned long long)i, (unsigned long long)ms->heap_idle,
		      (unsigned long long)r, (unsigned long long)ms->heap_released,
		      (unsigned long long)m, (unsigned long long)ms->mallocs,
		      (unsigned long long)f, (unsigned long long)ms->frees);
}

#define NM_OBJS	32

/*
 * For each node: allocate there (gort_alloc_node), check that only its
 * row grew, by exactly the objects' bytes, and that its sys covers them;
 * free them from this goroutine (whatever its node) and check that the
 * frees are counted on the object's node.
 */
static int node_memstats_main(void *arg)
{
	int nnodes = gort_numa_nodes(), node, k, j;
	struct gort_memstats a, b, c;
	void *obj[NM_OBJS];

	(void)arg;
	for (node = 0; node < nnodes; node++) {
		uint64_t bytes = 0;

		GCHECK(read_ms(&a));
		check_sums(&a, "before");
		for (k = 0; k < NM_OBJS; k++) {
			size_t s = k % 4 == 3 ? 50000 : 256;

			obj[k] = gort_alloc_node(s, node, 0);
			if (!GCHECK(obj[k] != NULL))
				return 1;
			bytes += gort_roundup_size(s);
		}
		GCHECK(read_ms(&b));
		check_sums(&b, "allocated");
		for (j = 0; j < nnodes; j++) {
			uint64_t dm = b.node[j].mallocs - a.node[j].mallocs;
			uint64_t da = b.node[j].heap_alloc - a.node[j].heap_alloc;

			if (j == node && (dm != NM_OBJS || da != bytes))
				GFAIL("node %d: mallocs +%llu heap_alloc +%llu, want +%d, +%llu",
				      j, (unsigned long long)dm, (unsigned long long)da, NM_OBJS,
				      (unsigned long long)bytes);
			if (j != node && (dm || da))
				GFAIL("allocating on node %d changed node %d: mallocs +%llu heap_alloc +%llu",
				      node, j, (unsigned long long)dm, (unsigned long long)da);
		}
		GCHECK(b.node[node].heap_inuse >= bytes);
		for (k = 0; k < NM_OBJS; k++)
			gort_free(obj[k]);
		GCHECK(read_ms(&c));
		check_sums(&c, "freed");
		for (j = 0; j < nnodes; j++) {
			uint64_t df = c.node[j].frees - b.node[j].frees;

			if (df != (j == node ? NM_OBJS : 0u) ||
			    c.node[j].heap_alloc != a.node[j].heap_alloc)
				GFAIL("freeing node %d's objects: node %d frees +%llu, heap_alloc %llu (was %llu)",
				      node, j, (unsigned long long)df,
				      (unsigned long long)c.node[j].heap_alloc,
				      (unsigned long long)a.node[j].heap_alloc);
		}
	}
	return 0;
}

TEST(node_memstats)
{
	ASSERT_EQ(0, gt_run(node_memstats_main, NULL, gort_num_cpu()));
	ASSERT_EQ(0, gt_failed());
}

TEST_HARNESS_MAIN
