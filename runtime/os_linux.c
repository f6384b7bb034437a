// SPDX-License-Identifier: MIT
/*
 * os_linux.c - the runtime's OS boundary: clocks, CPU counting, memory
 * mappings.  Everything here makes raw system calls and returns -errno or
 * a sentinel: it never reads or writes errno, which belongs to the user's
 * code (and whose address a parked goroutine must not keep, see sched.h).
 *
 * CPU count = CPUs in the affinity mask, capped by the cgroup CPU quota
 * (cgroup v2 cpu.max, else v1 cpu.cfs_quota_us/cfs_period_us), rounded up.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
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

/*
 * errno_get()/errno_set() - read or write the calling thread's errno for
 * user code.  Out of line with an asm barrier: errno's address
 * (__errno_location(), declared const) must be recomputed on every use,
 * because a goroutine may have moved to another thread since.
 */
__attribute__((noinline)) int errno_get(void)
{
	__asm__ volatile("");
	return errno;
}

__attribute__((noinline)) void errno_set(int e)
{
	__asm__ volatile("");
	errno = e;
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
	long p = rawsyscall6(SYS_mmap, 0, (long)n, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p < 0 && p > -4096 ? NULL : (void *)p;
}

/*
 * sysmap_at() - as sysmap(), but exactly at @at or not at all (NULL).
 * Kernels before 4.17 take MAP_FIXED_NOREPLACE for a mere hint: a
 * mapping placed elsewhere is undone.
 */
void *sysmap_at(void *at, size_t n)
{
	long p = rawsyscall6(SYS_mmap, (long)at, (long)n, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			     MAP_FIXED_NOREPLACE, -1, 0);

	if (p < 0 && p > -4096)
		return NULL;
	if ((void *)p != at) {
		sysunmap((void *)p, n);
		return NULL;
	}
	return at;
}

void sysunmap(void *p, size_t n)
{
	rawsyscall(SYS_munmap, p, n, 0);
}

int sysmadvise(void *p, size_t n, int advice)
{
	return (int)rawsyscall(SYS_madvise, p, n, advice);
}

int sysmprotect(void *p, size_t n, int prot)
{
	return (int)rawsyscall(SYS_mprotect, p, n, prot);
}

/* Read a small file into buf; returns length or -1.  No errno. */
int readsmall(const char *path, char *buf, size_t sz)
{
	int fd = (int)rawsyscall6(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0, 0, 0);
	long n;

	if (fd < 0)
		return -1;
	n = rawsyscall(SYS_read, fd, buf, sz - 1);
	rawsyscall(SYS_close, fd, 0, 0);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return (int)n;
}

/* Quota in CPUs of one cgroup directory, rounded up; 0 = none/unknown. */
static int quota_at(const char *dir, bool v2)
{
	char path[1600], buf[128];
	long long quota, period;

	if (v2) {
		snprintf(path, sizeof(path), "%s/cpu.max", dir);
		if (readsmall(path, buf, sizeof(buf)) <= 0 || !strncmp(buf, "max", 3))
			return 0;
		if (sscanf(buf, "%lld %lld", &quota, &period) != 2)
			return 0;
	} else {
		snprintf(path, sizeof(path), "%s/cpu.cfs_quota_us", dir);
		if (readsmall(path, buf, sizeof(buf)) <= 0 || sscanf(buf, "%lld", &quota) != 1)
			return 0;
		snprintf(path, sizeof(path), "%s/cpu.cfs_period_us", dir);
		if (readsmall(path, buf, sizeof(buf)) <= 0 || sscanf(buf, "%lld", &period) != 1)
			return 0;
	}
	if (quota <= 0 || period <= 0)
		return 0;
	return (int)((quota + period - 1) / period);
}

/*
 * cgroup_cpu_quota() - the tightest CPU quota on the process's cgroup and
 * its ancestors (a parent's limit binds its children), in CPUs rounded
 * up; 0 if none.  The cgroup comes from /proc/self/cgroup: "0::/path" for
 * cgroup v2, "N:...cpu...:/path" for v1, under the usual mount points.
 */
static int cgroup_cpu_quota(void)
{
	static const char *const v1mounts[] = {
		"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuacct,cpu",
	};
	char buf[4096], rel[1024] = "", dir[1536], *line, *save = NULL;
	bool v2 = false, found = false;
	int best = 0;
	size_t i;

	if (readsmall("/proc/self/cgroup", buf, sizeof(buf)) <= 0)
		return 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		char ctl[256];
		size_t n;

		if (!c2)
			continue;
		n = (size_t)(c2 - c1 - 1);
		if (n >= sizeof(ctl))
			continue;
		memcpy(ctl, c1 + 1, n);
		ctl[n] = 0;
		if (n == 0 && !found) {			/* v2: "0::/path" */
			v2 = true;
			snprintf(rel, sizeof(rel), "%s", c2 + 1);
		} else {
			char *tok, *s2 = NULL;

			for (tok = strtok_r(ctl, ",", &s2); tok; tok = strtok_r(NULL, ",", &s2)) {
				if (!strcmp(tok, "cpu")) {	/* v1 wins: it has the cpu controller */
					v2 = false;
					found = true;
					snprintf(rel, sizeof(rel), "%s", c2 + 1);
				}
			}
		}
	}
	for (i = 0; i < (v2 ? 1 : ARRAY_SIZE(v1mounts)); i++) {
		const char *mnt = v2 ? "/sys/fs/cgroup" : v1mounts[i];
		char *slash;

		snprintf(dir, sizeof(dir), "%s%s", mnt, strcmp(rel, "/") ? rel : "");
		/* From the process's cgroup up to the mount point. */
		for (;;) {
			int q = quota_at(dir, v2);

			if (q > 0 && (best == 0 || q < best))
				best = q;
			if (strlen(dir) <= strlen(mnt))
				break;
			slash = strrchr(dir, '/');
			if (!slash)
				break;
			*slash = 0;
		}
		if (best)
			break;
	}
	return best;
}

int ncpu_available(void)
{
	cpu_set_t set;
	int n = 1, q;

	CPU_ZERO(&set);
	if (rawsyscall(SYS_sched_getaffinity, 0, sizeof(set), &set) > 0)
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
	static uint64_t seed = 0x9e3779b97f4a7c15ull;

	if (!mp)
		return (uint32_t)(atomic_fetch_add(&seed, 0x9e3779b97f4a7c15ull) >> 32);
	return fastrand_m(mp);
}
