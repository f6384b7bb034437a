// SPDX-License-Identifier: MIT
/*
 * numa.c - NUMA topology for the heap and the scheduler (libnuma).
 *
 * The heap has one node per NUMA node that holds a CPU this process may
 * run on (affinity mask), so a cpuset-restricted process only uses its
 * own nodes.  Ps are dealt out over those CPUs in node order, so P i
 * belongs to the node of the i-th allowed CPU (mod their number): Ps are
 * spread over nodes in proportion to their CPUs.  An M that takes a P of
 * another node moves itself to that node's CPUs (sched_setaffinity; only
 * when the node changes), so a P's allocations are touched locally.
 * Arenas are bound to their node with mbind(MPOL_BIND) before the first
 * touch.  With one node none of this runs: no mbind, no affinity calls,
 * no cost.
 */
#define _GNU_SOURCE
#include <numa.h>
#include <numaif.h>
#include <sched.h>
#include <sys/syscall.h>

#include "mheap.h"

static int pnode[GORT_MAXPROCS_LIMIT];	/* P id -> heap node index */
static cpu_set_t nodecpus[MAX_NODES];	/* allowed CPUs of each heap node */

void heapnuma_init(void)
{
	cpu_set_t allowed;
	int cpus[CPU_SETSIZE], ncpus = 0, cpu, i, k;

	gc_noscan_global(nodecpus, sizeof(nodecpus));	/* 8 KB of bits */
	heap.nnodes = 1;
	heap.nodeids[0] = 0;
	heap.numa = false;
	for (i = 0; i < GORT_MAXPROCS_LIMIT; i++)
		pnode[i] = 0;
	if (numa_available() < 0 || numa_num_configured_nodes() < 2)
		return;
	CPU_ZERO(&allowed);
	if (rawsyscall(SYS_sched_getaffinity, 0, sizeof(allowed), &allowed) <= 0)
		return;
	heap.nnodes = 0;
	/* Nodes in increasing id order, each with its allowed CPUs. */
	for (k = 0; k <= numa_max_node() && heap.nnodes < MAX_NODES; k++) {
		bool any = false;

		for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
			if (!CPU_ISSET(cpu, &allowed) || numa_node_of_cpu(cpu) != k)
				continue;
			if (!any) {
				CPU_ZERO(&nodecpus[heap.nnodes]);
				any = true;
			}
			CPU_SET(cpu, &nodecpus[heap.nnodes]);
			cpus[ncpus++] = heap.nnodes;
		}
		if (any)
			heap.nodeids[heap.nnodes++] = k;
	}
	if (heap.nnodes < 1) {
		heap.nnodes = 1;
		return;
	}
	heap.numa = heap.nnodes > 1;
	for (i = 0; i < GORT_MAXPROCS_LIMIT; i++)
		pnode[i] = cpus[i % ncpus];
}

int heap_node_of_p(int pid)
{
	return pnode[pid];
}

void heap_mbind(void *addr, size_t len, int osnode)
{
	unsigned long mask[1024 / (8 * sizeof(unsigned long))] = { 0 };

	mask[osnode / (8 * sizeof(unsigned long))] |= 1UL << (osnode % (8 * sizeof(unsigned long)));
	/* Raw syscall: no errno.  On failure the kernel's policy stands. */
	rawsyscall6(SYS_mbind, (long)addr, (long)len, MPOL_BIND, (long)mask, 1024, 0);
}

void heap_pin_m(struct m *mp, int ni)
{
	if (!heap.numa || mp->node == ni)
		return;
	mp->node = ni;
	rawsyscall(SYS_sched_setaffinity, 0, sizeof(nodecpus[ni]), &nodecpus[ni]);
}
