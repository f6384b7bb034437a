/* SPDX-License-Identifier: MIT */
/*
 * Description: the NUMA guest that tools/numa-guest boots has the topology
 * it was asked for, and memory policy works in it: libnuma is available,
 * there are $GORT_NUMA_EXPECT_NODES nodes with memory, the
 * $GORT_NUMA_EXPECT_CPUS CPUs are split evenly and in order across them
 * (qemu's -numa node,cpus=), a thread pinned to a CPU runs on that CPU's
 * node, and an anonymous region bound to a node with mbind(MPOL_BIND)
 * lands there once touched (move_pages in query mode).
 *
 * This checks the test bed, not gort: the runtime's NUMA tests rely on
 * it.  It runs only inside the guest (static, no gort runtime); on a host
 * without the environment variables it skips.
 */
#include "../gort_test.h"

#include <numa.h>
#include <numaif.h>
#include <sys/mman.h>

#define REGION		(16u << 20)	/* bytes bound to each node */

/* expect() - integer value of environment variable @name, or -1. */
static int expect(const char *name)
{
	const char *s = getenv(name);

	return s && *s ? atoi(s) : -1;
}

#define NEED_GUEST(nodes) do {						\
	if ((nodes) < 1)						\
		SKIP(return, "not in a numa-guest (no GORT_NUMA_EXPECT_NODES)"); \
	ASSERT_LE(0, numa_available());					\
} while (0)

TEST(available)
{
	ASSERT_LE(0, numa_available());
}

TEST(nodes)
{
	int nodes = expect("GORT_NUMA_EXPECT_NODES");
	long long size, avail;
	int node;

	NEED_GUEST(nodes);
	ASSERT_EQ(nodes, numa_num_configured_nodes());
	ASSERT_EQ(nodes - 1, numa_max_node());
	for (node = 0; node < nodes; node++) {
		ASSERT_TRUE(numa_bitmask_isbitset(numa_all_nodes_ptr, node));
		size = numa_node_size64(node, &avail);
		TH_LOG("node %d: %lld MiB, %lld MiB free", node, size >> 20, avail >> 20);
		/* 512 MiB per node, less what the kernel keeps. */
		ASSERT_LT(256LL << 20, size);
		ASSERT_LT(64LL << 20, avail);
	}
}

TEST(cpus)
{
	int nodes = expect("GORT_NUMA_EXPECT_NODES");
	int ncpus = expect("GORT_NUMA_EXPECT_CPUS");
	struct bitmask *mask;
	int cpu, node, per;

	NEED_GUEST(nodes);
	if (ncpus < 1)
		ncpus = numa_num_configured_cpus();
	ASSERT_EQ(ncpus, numa_num_configured_cpus());
	ASSERT_EQ(0, ncpus % nodes);
	per = ncpus / nodes;

	/* Every CPU on a node, CPUs 0..per-1 on node 0 and so on. */
	for (cpu = 0; cpu < ncpus; cpu++)
		ASSERT_EQ(cpu / per, numa_node_of_cpu(cpu)) {
			TH_LOG("cpu %d", cpu);
		}

	mask = numa_allocate_cpumask();
	ASSERT_NE(NULL, mask);
	for (node = 0; node < nodes; node++) {
		ASSERT_EQ(0, numa_node_to_cpus(node, mask));
		ASSERT_EQ(per, (int)numa_bitmask_weight(mask)) {
			TH_LOG("node %d", node);
		}
		for (cpu = node * per; cpu < (node + 1) * per; cpu++)
			ASSERT_TRUE(numa_bitmask_isbitset(mask, cpu));
	}
	numa_free_cpumask(mask);
}

/* Pinned to a CPU, getcpu() reports that CPU and its node. */
TEST(pinned_node)
{
	int nodes = expect("GORT_NUMA_EXPECT_NODES");
	int ncpus = numa_num_configured_cpus();
	unsigned int got_cpu, got_node;
	cpu_set_t set;
	int cpu;

	NEED_GUEST(nodes);
	for (cpu = 0; cpu < ncpus; cpu++) {
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set));
		ASSERT_EQ(0, getcpu(&got_cpu, &got_node));
		ASSERT_EQ(cpu, (int)got_cpu);
		ASSERT_EQ(numa_node_of_cpu(cpu), (int)got_node);
	}
}

/*
 * mbind(MPOL_BIND) a fresh region to each node in turn, touch it, and ask
 * move_pages() (nodes == NULL: query only) where its pages are.
 */
TEST(bind_pages)
{
	int nodes = expect("GORT_NUMA_EXPECT_NODES");
	long page = sysconf(_SC_PAGESIZE);
	unsigned long count = REGION / page;
	unsigned long mask[4];
	void **pages;
	int *status;
	int node;

	NEED_GUEST(nodes);
	pages = calloc(count, sizeof(*pages));
	status = calloc(count, sizeof(*status));
	ASSERT_NE(NULL, pages);
	ASSERT_NE(NULL, status);

	for (node = 0; node < nodes; node++) {
		unsigned long i, on = 0, other = 0;
		char *p;

		p = mmap(NULL, REGION, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, p);
		memset(mask, 0, sizeof(mask));
		mask[node / (8 * sizeof(long))] |= 1UL << (node % (8 * sizeof(long)));
		ASSERT_EQ(0, mbind(p, REGION, MPOL_BIND, mask, 8 * sizeof(mask), 0)) {
			TH_LOG("mbind node %d: %s", node, strerror(errno));
		}
		for (i = 0; i < count; i++) {
			p[i * page] = 1;
			pages[i] = p + i * page;
			status[i] = -1;
		}
		ASSERT_EQ(0, move_pages(0, count, pages, NULL, status, 0)) {
			TH_LOG("move_pages: %s", strerror(errno));
		}
		for (i = 0; i < count; i++) {
			if (status[i] == node)
				on++;
			else
				other++;
		}
		TH_LOG("node %d: %lu/%lu pages there", node, on, count);
		ASSERT_LE(count * 99, on * 100) {
			TH_LOG("%lu pages elsewhere (first status %d)", other, status[0]);
		}
		ASSERT_EQ(0, munmap(p, REGION));
	}
	free(pages);
	free(status);
}

TEST_HARNESS_MAIN
