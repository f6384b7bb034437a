/* SPDX-License-Identifier: MIT */
/*
 * Description: the default GOMAXPROCS is the number of CPUs the process
 * may use: its affinity mask, capped by the CPU quota of its cgroup (and
 * of the cgroup's ancestors), rounded up.
 *
 * The affinity case pins a child to one CPU.  The quota case needs root
 * and a writable cpu cgroup (v2 cpu.max or v1 cpu.cfs_quota_us): it makes
 * a cgroup limited to one CPU's worth of time, moves a child into it and
 * checks both gort_num_cpu() and the GOMAXPROCS gort_main() chose.
 */
#include "../gort_test.h"

#include <sys/stat.h>

static int report_procs(void *arg)
{
	int *out = arg;

	out[0] = gort_maxprocs(0);
	out[1] = gort_num_cpu();
	return 0;
}

/* In a child: optionally join cgroup @procs_file, then report. */
static int run_child(const char *procs_file, cpu_set_t *pin, int out[2])
{
	int p[2], status;
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int res[2] = { -1, -1 };

		if (procs_file) {
			FILE *f = fopen(procs_file, "w");

			if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f))
				_exit(3);
		}
		if (pin && sched_setaffinity(0, sizeof(*pin), pin))
			_exit(4);
		unsetenv("GORT_MAXPROCS");
		gort_main(report_procs, res, NULL);
		if (write(p[1], res, sizeof(res)) != sizeof(res))
			_exit(5);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], out, 2 * sizeof(int)) != 2 * (ssize_t)sizeof(int))
		out[0] = out[1] = -1;
	close(p[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(affinity_one_cpu)
{
	cpu_set_t set;
	int out[2];

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	ASSERT_EQ(0, run_child(NULL, &set, out));
	ASSERT_EQ(1, out[0]);
	ASSERT_EQ(1, out[1]);
}

TEST(cgroup_quota_one_cpu)
{
	char dir[256], file[300];
	cpu_set_t all;
	int out[2], rc, ncpu;
	bool v2;
	FILE *f;

	if (geteuid() != 0)
		SKIP(return, "needs root to create a cgroup");
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(all), &all));
	ncpu = CPU_COUNT(&all);
	if (ncpu < 2)
		SKIP(return, "needs 2 CPUs to see a quota of 1 take effect");
	v2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
	snprintf(dir, sizeof(dir), "%s/gort-test-%d",
		 v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/cpu", getpid());
	if (mkdir(dir, 0755))
		SKIP(return, "cannot create cgroup %s: %s", dir, strerror(errno));
	snprintf(file, sizeof(file), "%s/%s", dir, v2 ? "cpu.max" : "cpu.cfs_quota_us");
	f = fopen(file, "w");
	if (!f || fprintf(f, v2 ? "100000 100000\n" : "100000\n") < 0 || fclose(f)) {
		rmdir(dir);
		SKIP(return, "cannot set a CPU quota in %s", file);
	}
	if (!v2) {
		snprintf(file, sizeof(file), "%s/cpu.cfs_period_us", dir);
		f = fopen(file, "w");
		ASSERT_NE(NULL, f);
		fprintf(f, "100000\n");
		fclose(f);
	}
	snprintf(file, sizeof(file), "%s/cgroup.procs", dir);
	rc = run_child(file, NULL, out);
	rmdir(dir);
	ASSERT_EQ(0, rc);
	ASSERT_EQ(1, out[1]);	/* gort_num_cpu: min(affinity, quota) */
	ASSERT_EQ(1, out[0]);	/* default GOMAXPROCS follows it */
}

TEST(no_limits_all_cpus)
{
	cpu_set_t all;
	int out[2];

	ASSERT_EQ(0, sched_getaffinity(0, sizeof(all), &all));
	ASSERT_EQ(0, run_child(NULL, NULL, out));
	ASSERT_EQ(CPU_COUNT(&all), out[1]);
	ASSERT_EQ(out[1], out[0]);
}

TEST_HARNESS_MAIN
