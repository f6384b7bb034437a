/* SPDX-License-Identifier: MIT */
/*
 * Description: the tests in BUILD/numa-guest/ pass inside a 2-node and a
 * 4-node qemu guest.
 *
 * The host's own topology is whatever the machine has (usually one node),
 * so NUMA behaviour is tested in a guest: tools/numa-guest boots it under
 * TCG with Debian's cloud kernel (downloaded once into BUILD/numa/), runs
 * every test binary from tests/numa-guest/ in it (static, or with the
 * libraries ldd names, for a sanitizer build) and prints their
 * output followed by "guest: N passed, N failed, N skipped".  This test
 * runs the script once per topology, echoes its output and checks the
 * summary.  It skips when the script cannot boot anything (exit 4: no
 * qemu, no busybox-static, kernel not downloadable) or when
 * qemu-system-x86_64 is not installed.
 *
 * The script is found through $GORT_SRCDIR ("make check" sets it), else
 * next to the build directory or in the current directory; the build
 * directory is where this binary lives: BUILD/tests/numa/guest.  A boot
 * takes ~5 s, the script gives up after 120 s; the harness' default 30 s
 * would be too tight for a first run that downloads the kernel.
 */
#include "../gort_test.h"

#include <limits.h>

#define GUEST_MS	170000	/* tools/numa-guest stops qemu at 120 s */

struct guest_run {
	char script[PATH_MAX];
	char build[PATH_MAX];
	char nodes[4];
};

/* on_path() - whether @prog is an executable in $PATH. */
static bool on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)len,
			 len ? path : ".", prog);
		if (!access(buf, X_OK))
			return true;
		path += len;
		if (*path == ':')
			path++;
	}
	return false;
}

/* script_in() - @dir/tools/numa-guest into @out if it is executable. */
static bool script_in(const char *dir, char *out, size_t size)
{
	if (!dir || !*dir)
		return false;
	if ((size_t)snprintf(out, size, "%s/tools/numa-guest", dir) >= size)
		return false;
	return !access(out, X_OK);
}

/*
 * find_paths() - BUILD (three levels above this binary) and the script;
 * false if the script is nowhere to be found.
 */
static bool find_paths(struct guest_run *r)
{
	char exe[PATH_MAX], dir[PATH_MAX], cwd[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int i;

	if (n <= 0)
		return false;
	exe[n] = '\0';
	for (i = 0; i < 3; i++) {
		char *slash = strrchr(exe, '/');

		if (!slash || slash == exe)
			return false;
		*slash = '\0';
	}
	snprintf(r->build, sizeof(r->build), "%s", exe);
	if ((size_t)snprintf(dir, sizeof(dir), "%s/..", r->build) >= sizeof(dir))
		return false;

	return script_in(getenv("GORT_SRCDIR"), r->script, sizeof(r->script)) ||
	       script_in(dir, r->script, sizeof(r->script)) ||
	       (getcwd(cwd, sizeof(cwd)) &&
		script_in(cwd, r->script, sizeof(r->script)));
}

/* In the child: the script's stdout and stderr both into the pipe. */
static int exec_script(void *arg)
{
	struct guest_run *r = arg;

	/* Own process group, so a timeout can signal the whole boot. */
	setpgid(0, 0);
	dup2(STDERR_FILENO, STDOUT_FILENO);
	execl(r->script, r->script, r->build, r->nodes, (char *)NULL);
	fprintf(stderr, "exec %s: %s\n", r->script, strerror(errno));
	return 127;
}

/* Echo @out as "# " lines. */
static void echo(const char *out)
{
	const char *p = out, *eol;

	while (p && *p) {
		eol = strchr(p, '\n');
		fprintf(stderr, "# %.*s\n",
			(int)(eol ? eol - p : (long)strlen(p)), p);
		p = eol ? eol + 1 : NULL;
	}
}

/* last_line() - the last non-empty line of @out, into @buf. */
static const char *last_line(const char *out, char *buf, size_t size)
{
	const char *p = out, *eol, *best = "", *best_end = "";

	while (p && *p) {
		eol = strchr(p, '\n');
		if (!eol)
			eol = p + strlen(p);
		if (eol > p) {
			best = p;
			best_end = eol;
		}
		p = *eol ? eol + 1 : NULL;
	}
	snprintf(buf, size, "%.*s", (int)(best_end - best), best);
	return buf;
}

FIXTURE(guest) {
	struct gt_child child;
};

FIXTURE_VARIANT(guest) {
	int nodes;
};

/* 2 nodes x 2 CPUs */
FIXTURE_VARIANT_ADD(guest, nodes2) {
	.nodes = 2,
};

/* 4 nodes x 1 CPU */
FIXTURE_VARIANT_ADD(guest, nodes4) {
	.nodes = 4,
};

FIXTURE_SETUP(guest)
{
	memset(&self->child, 0, sizeof(self->child));
	self->child.fd = -1;
}

FIXTURE_TEARDOWN(guest)
{
	gt_child_free(&self->child);
}

TEST_F_TIMEOUT(guest, boot, 180)
{
	struct gt_child *c = &self->child;
	static struct guest_run r;
	int64_t end = gt_now_ns() + GUEST_MS * GT_MS;
	int passed = -1, failed = -1, skipped = -1;
	const char *line;
	char buf[512];
	int rc;

	if (!find_paths(&r))
		SKIP(return, "tools/numa-guest not found (set GORT_SRCDIR)");
	if (!on_path("qemu-system-x86_64"))
		SKIP(return, "qemu-system-x86_64 not installed (tools/install-deps test)");
	snprintf(r.nodes, sizeof(r.nodes), "%d", variant->nodes);

	ASSERT_EQ(0, gt_child_start(c, exec_script, &r));
	/* Read until EOF; past the deadline, TERM the group (qemu too). */
	while (c->fd >= 0) {
		int64_t left = (end - gt_now_ns()) / GT_MS;

		if (left <= 0) {
			kill(-c->pid, SIGTERM);
			break;
		}
		gt_child_read(c, (int)left);
	}
	gt_child_finish(c, 5000);
	if (c->timed_out)
		kill(-c->pid, SIGKILL);
	echo(c->out);
	rc = gt_exit_code(c);

	if (rc == 4)
		SKIP(return, "%s", last_line(c->out, buf, sizeof(buf)));
	ASSERT_EQ(0, rc) {
		TH_LOG("tools/numa-guest %s %d: status 0x%x: %s", r.build,
		       variant->nodes, c->status,
		       last_line(c->out, buf, sizeof(buf)));
	}

	line = c->out;
	while (line && strncmp(line, "guest: ", 7)) {
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	ASSERT_NE(NULL, line) {
		TH_LOG("no \"guest: N passed, N failed, N skipped\" line");
	}
	ASSERT_EQ(3, sscanf(line, "guest: %d passed, %d failed, %d skipped",
			    &passed, &failed, &skipped));
	EXPECT_EQ(0, failed);
	EXPECT_LT(0, passed);
}

TEST_HARNESS_MAIN
