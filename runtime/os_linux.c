// SPDX-License-Identifier: MIT
/*
 * os_linux.c - the runtime's OS boundary: clocks, CPU counting, memory
 * mappings.  Everything here returns -errno or a sentinel and never
 * touches errno (a goroutine may resume on another thread, see sched.h).
 *
 * CPU count = CPUs in the affinity mask, capped by the cgroup CPU quota
 * (cgroup v2 cpu.max, else v1 cpu.cfs_quota_us/cfs_period_us), rounded up.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

int64_t nanotime(void)
{
	struct timespec ts;

	/* vDSO: no system call. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Coarse (one tick, ~4 ms) but ~5x cheaper: for "how long waiting". */
int64_t nanotime_coarse(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

__export int64_t gort_nanotime(void)
{
	return nanotime();
}

void osyield(void)
{
	rawsyscall(SYS_sched_yield, 0, 0, 0);
}

void usleep_ns(int64_t ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };

	rawsyscall(SYS_nanosleep, &ts, NULL, 0);
}

pid_t gettid_raw(void)
{
	return (pid_t)rawsyscall(SYS_gettid, 0, 0, 0);
}

size_t physpagesize(void)
{
	static size_t pgsz;

	if (!pgsz)
		pgsz = (size_t)sysconf(_SC_PAGESIZE);
	return pgsz;
}

void *sysmap(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void sysunmap(void *p, size_t n)
{
	munmap(p, n);
}

/* Read a small file into buf; returns length or -1. */
static int readsmall(const char *path, char *buf, size_t sz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sz - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return (int)n;
}

/* Quota in CPUs (rounded up), or 0 if unlimited / unknown. */
static int cgroup_cpu_quota(void)
{
	char buf[128];
	long long quota, period;

	if (readsmall("/sys/fs/cgroup/cpu.max", buf, sizeof(buf)) > 0) {
		if (!strncmp(buf, "max", 3))
			return 0;
		if (sscanf(buf, "%lld %lld", &quota, &period) == 2 && quota > 0 && period > 0)
			return (int)((quota + period - 1) / period);
		return 0;
	}
	if (readsmall("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", buf, sizeof(buf)) > 0 &&
	    sscanf(buf, "%lld", &quota) == 1 && quota > 0 &&
	    readsmall("/sys/fs/cgroup/cpu/cpu.cfs_period_us", buf, sizeof(buf)) > 0 &&
	    sscanf(buf, "%lld", &period) == 1 && period > 0)
		return (int)((quota + period - 1) / period);
	return 0;
}

int ncpu_available(void)
{
	cpu_set_t set;
	int n = 1, q;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	if (n < 1)
		n = 1;
	q = cgroup_cpu_quota();
	if (q > 0 && q < n)
		n = q;
	return n;
}

__export int gort_num_cpu(void)
{
	return ncpu_available();
}

/* xorshift64*, seeded per M; fine for scheduling randomness. */
uint32_t fastrand(void)
{
	struct m *mp = getm();
	uint64_t x;
	static _Atomic uint64_t seed = 0x9e3779b97f4a7c15ull;

	if (!mp)
		return (uint32_t)(atomic_fetch_add(&seed, 0x9e3779b97f4a7c15ull) >> 32);
	x = mp->fastrand;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	mp->fastrand = x;
	return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}
