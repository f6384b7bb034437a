/* SPDX-License-Identifier: MIT */
/*
 * gort_test.h - helpers shared by the gort test suite.
 *
 * Every tests/<area>/<name>.c includes this header first and ends with
 * TEST_HARNESS_MAIN.  The kselftest harness forks one child per TEST, so
 * each test starts the runtime afresh with gort_main().
 *
 * The harness' ASSERT_* and EXPECT_* longjmp to (or report from) the test
 * function's frame: they must only be used in the test body, never inside
 * a goroutine, which runs on its own stack and thread.  Goroutines check
 * with GCHECK() / GCHECK_EQ() instead, which print file:line and count the
 * failure in gt_failures; the test body asserts gt_failed() == 0 once
 * gort_main() has returned (ASSERT_* cannot take _Atomic operands: use
 * atomic_load() on atomic fields):
 *
 *	TEST(foo)
 *	{
 *		struct foo_ctx ctx = { ... };
 *
 *		ASSERT_EQ(0, gt_run(foo_main, &ctx, 2));
 *		ASSERT_EQ(0, gt_failures);
 *		ASSERT_EQ(N, ctx.count);
 *	}
 *
 * Waits that a runtime bug could turn into a hang use a bounded escape
 * (GT_WAIT_UNTIL(), gt_sema_wait()) so the test fails with a message
 * instead of running into the harness timeout.
 *
 * Fatal errors (deadlock, stack overflow, misuse of sync objects, SIGQUIT
 * tracebacks) end the process, so those tests run the runtime in a forked
 * child and inspect its stderr and exit status: gt_child_start(),
 * gt_child_wait_for(), gt_child_finish(), or gt_fork_capture() for all
 * three at once.
 */
#ifndef GORT_TEST_H
#define GORT_TEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gort.h>

/*
 * The harness trips -Wunused-parameter under -Wextra, in its own functions
 * and in every TEST() expansion (the wrapper's unused 'variant'), and, with
 * gcc -O2, -Wclobbered in TEST_F()'s setjmp wrapper once a test body is
 * inlined into it.  Both stay off for the rest of each test file.
 */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wclobbered"
#endif
/*
 * The runtime's fatal errors exit with status 2, as Go's do, and 2 is
 * KSFT_XFAIL to the harness: a test killed by a fatal error would be
 * reported as an expected failure, i.e. a pass.  Renumber it so such an
 * exit is a plain failure (we mark no test XFAIL).
 */
#include "kselftest.h"
#undef KSFT_XFAIL
#define KSFT_XFAIL 9
#include "kselftest_harness.h"

#define GT_MS	1000000LL	/* nanoseconds in a millisecond */
#define GT_US	1000LL		/* nanoseconds in a microsecond */

#define GT_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Failures seen by goroutines.  Each TEST runs in its own forked child, so
 * the counter starts at zero for every test.
 */
static atomic_int gt_failures;

/* gt_failed() - failures recorded so far, for ASSERT_*(). */
static inline int gt_failed(void)
{
	return atomic_load(&gt_failures);
}

/* Only the first few failures are printed, so a broken loop stays readable. */
#define GT_MAX_PRINTED	20

static inline bool gt_check(bool ok, const char *file, int line,
			    const char *expr)
{
	if (!ok && atomic_fetch_add(&gt_failures, 1) < GT_MAX_PRINTED)
		fprintf(stderr, "# %s:%d: check failed: %s\n", file, line, expr);
	return ok;
}

static inline bool gt_check_eq(long long a, long long b, const char *file,
			       int line, const char *ea, const char *eb)
{
	if (a != b && atomic_fetch_add(&gt_failures, 1) < GT_MAX_PRINTED)
		fprintf(stderr, "# %s:%d: check failed: %s == %s (%lld != %lld)\n",
			file, line, ea, eb, a, b);
	return a == b;
}

/*
 * GCHECK(cond) - goroutine-safe check; evaluates to cond, so it can guard
 * an early return: if (!GCHECK(id > 0)) return;
 */
#define GCHECK(cond)	gt_check(!!(cond), __FILE__, __LINE__, #cond)
#define GCHECK_EQ(a, b)	gt_check_eq((long long)(a), (long long)(b),	\
				    __FILE__, __LINE__, #a, #b)

/* GFAIL(fmt, ...) - record an unconditional failure with a message. */
#define GFAIL(fmt, ...) do {						\
	if (atomic_fetch_add(&gt_failures, 1) < GT_MAX_PRINTED)		\
		fprintf(stderr, "# %s:%d: " fmt "\n", __FILE__, __LINE__,	\
			##__VA_ARGS__);						\
} while (0)

/* Reads and writes globals' redzones too: not under ASan's eye. */
__attribute__((no_sanitize("address")))
static inline int gt_prefault_cb(struct dl_phdr_info *info, size_t size, void *unused)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), rlo = 0, rhi = 0, p;
	int i;

	(void)size, (void)unused;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_GNU_RELRO) {	/* read-only by now */
			rlo = (info->dlpi_addr + ph->p_vaddr) & ~(pg - 1);
			rhi = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz) & ~(pg - 1);
		}
	}
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
			continue;
		for (p = lo & ~(pg - 1); p < lo + ph->p_memsz; p += pg) {
			volatile char *c = (volatile char *)(p < lo ? lo : p);

			if (p >= rlo && p < rhi)
				continue;
			*c = *c;
		}
	}
	return 0;
}

/*
 * gt_guest_prefault() - in the NUMA guest, write every page of the data
 * segments once, before the runtime starts.  Works around a bug of the
 * guest's emulator (qemu 7.2 TCG, x86): an instruction that computes
 * flags into memory (setg m8 after test, say) and takes a page fault on
 * its store is restarted with stale lazy flags, so it may store the
 * wrong value.  A bool global of the runtime written so right after the
 * harness's fork (a copy-on-write fault) came out true once the code
 * moved (Documentation/build.rst, "Multi-node NUMA").
 */
static inline void gt_guest_prefault(void)
{
	if (getenv("GORT_NUMA_EXPECT_NODES"))
		dl_iterate_phdr(gt_prefault_cb, NULL);
}

/* gt_run() - gort_main(@fn, @arg) with @maxprocs Ps (0 = default). */
static inline int gt_run(int (*fn)(void *arg), void *arg, int maxprocs)
{
	struct gort_opts opts = {
		.sz = sizeof(opts),
		.maxprocs = maxprocs,
	};

	gt_guest_prefault();
	return gort_main(fn, arg, &opts);
}

/* gt_now_ns() - CLOCK_MONOTONIC, usable outside the runtime too. */
static inline int64_t gt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * GT_WAIT_UNTIL(cond, ms) - from a goroutine, re-check @cond every 100 us
 * (parking in gort_sleep in between) until it holds or @ms milliseconds
 * have passed; evaluates to whether @cond held.
 */
#define GT_WAIT_UNTIL(cond, ms) __extension__({				\
	int64_t __gt_end = gort_nanotime() + (int64_t)(ms) * GT_MS;	\
	bool __gt_ok;							\
	while (!(__gt_ok = (cond)) && gort_nanotime() < __gt_end)	\
		gort_sleep(100 * GT_US);				\
	__gt_ok;							\
})

/*
 * gt_sema_wait() - from a goroutine, acquire @sema @n times within @ms
 * milliseconds in total; false (and a printed failure) on timeout.  Used
 * to join goroutines with an escape, where a WaitGroup could hang.
 */
static inline bool gt_sema_wait_at(uint32_t *sema, int n, int64_t ms,
				   const char *file, int line)
{
	int64_t end = gort_nanotime() + ms * GT_MS;
	int i;

	for (i = 0; i < n; i++) {
		int64_t left = end - gort_nanotime();

		if (!gort_sema_acquire_timeout(sema, left > 0 ? left : 0)) {
			gt_check(false, file, line, "joined in time");
			fprintf(stderr, "# %s:%d: only %d of %d goroutines done after %lld ms\n",
				file, line, i, n, (long long)ms);
			return false;
		}
	}
	return true;
}
#define gt_sema_wait(sema, n, ms) \
	gt_sema_wait_at(sema, n, ms, __FILE__, __LINE__)

/* gt_rss() - resident set size of this process in bytes, or 0. */
static inline size_t gt_rss(void)
{
	unsigned long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%lu %lu", &size, &resident);
	fclose(f);
	if (n != 2)
		return 0;
	return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* gt_cpu_ns() - user + system CPU time of the whole process. */
static inline int64_t gt_cpu_ns(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return -1;
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
	       ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

/* gt_count() - occurrences of @needle in @hay. */
static inline int gt_count(const char *hay, const char *needle)
{
	size_t len = strlen(needle);
	int n = 0;

	if (!hay || !len)
		return 0;
	while ((hay = strstr(hay, needle))) {
		n++;
		hay += len;
	}
	return n;
}

/*
 * gt_goroutine_header() - the "goroutine <id> [reason...]:" line for @id
 * in a traceback, copied to @line (NUL-terminated); false if absent.
 */
static inline bool gt_goroutine_header(const char *out, long long id,
				       char *line, size_t size)
{
	char pat[48];
	const char *p = out, *eol;
	size_t len;

	snprintf(pat, sizeof(pat), "goroutine %lld [", id);
	while (p && (p = strstr(p, pat))) {
		if (p == out || p[-1] == '\n') {
			eol = strchr(p, '\n');
			len = eol ? (size_t)(eol - p) : strlen(p);
			if (len >= size)
				len = size - 1;
			memcpy(line, p, len);
			line[len] = '\0';
			return true;
		}
		p += strlen(pat);
	}
	return false;
}

/* gt_count_headers() - "goroutine N [" lines at the start of a line. */
static inline int gt_count_headers(const char *out)
{
	const char *p = out;
	int n = 0;

	while (p && *p) {
		const char *q = p;

		if (!strncmp(q, "goroutine ", 10)) {
			q += 10;
			if (*q >= '0' && *q <= '9') {
				while (*q >= '0' && *q <= '9')
					q++;
				if (!strncmp(q, " [", 2))
					n++;
			}
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return n;
}

/*
 * A forked child running @fn(@arg) with its stderr captured through a
 * pipe (stdout goes to /dev/null so it cannot corrupt the TAP stream).
 * The child exits with @fn's return value if @fn returns.
 */
struct gt_child {
	pid_t pid;
	int fd;			/* read end of the child's stderr */
	int status;		/* waitpid() status, once finished */
	bool timed_out;		/* killed by gt_child_finish() */
	char *out;		/* captured stderr, NUL-terminated */
	size_t len, cap;
};

#define GT_CHILD_MAX_OUT	(4u << 20)

static inline int gt_child_start(struct gt_child *c, int (*fn)(void *arg),
				 void *arg)
{
	int p[2], null;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	fflush(stdout);
	fflush(stderr);
	c->pid = fork();
	if (c->pid < 0) {
		int err = -errno;

		close(p[0]);
		close(p[1]);
		return err;
	}
	if (c->pid == 0) {
		dup2(p[1], STDERR_FILENO);
		null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		_exit(fn(arg));
	}
	close(p[1]);
	c->fd = p[0];
	c->cap = 4096;
	c->out = calloc(1, c->cap);
	return c->out ? 0 : -ENOMEM;
}

/* Read what is available within @ms; 0 on EOF, 1 if data, -1 timeout. */
static inline int gt_child_read(struct gt_child *c, int ms)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	char buf[4096];
	ssize_t n;
	int r;

	if (c->fd < 0)
		return 0;
	r = poll(&pfd, 1, ms < 0 ? 0 : ms);
	if (r < 0 && errno == EINTR)
		return 1;
	if (r <= 0)
		return -1;
	n = read(c->fd, buf, sizeof(buf));
	if (n < 0 && errno == EINTR)
		return 1;
	if (n <= 0) {
		close(c->fd);
		c->fd = -1;
		return 0;
	}
	if (c->len + (size_t)n + 1 > c->cap && c->cap < GT_CHILD_MAX_OUT) {
		size_t cap = c->cap * 2;
		char *p;

		while (cap < c->len + (size_t)n + 1)
			cap *= 2;
		p = realloc(c->out, cap);
		if (p) {
			c->out = p;
			c->cap = cap;
		}
	}
	if (c->len + (size_t)n + 1 > c->cap)
		n = (ssize_t)(c->cap - c->len - 1);
	memcpy(c->out + c->len, buf, (size_t)n);
	c->len += (size_t)n;
	c->out[c->len] = '\0';
	return 1;
}

/*
 * gt_child_wait_for() - read the child's stderr until it contains @str;
 * false if it did not within @ms or the child closed stderr first.
 */
static inline bool gt_child_wait_for(struct gt_child *c, const char *str,
				     int ms)
{
	int64_t end = gt_now_ns() + (int64_t)ms * GT_MS;

	while (!strstr(c->out, str)) {
		int64_t left = (end - gt_now_ns()) / GT_MS;

		if (left <= 0 || gt_child_read(c, (int)left) == 0)
			return strstr(c->out, str) != NULL;
	}
	return true;
}

/*
 * gt_child_finish() - read the child's stderr to EOF and reap it; if it
 * has not exited within @ms it is killed and ->timed_out set.
 */
static inline void gt_child_finish(struct gt_child *c, int ms)
{
	int64_t end = gt_now_ns() + (int64_t)ms * GT_MS;
	pid_t r;

	/* stderr first: the child may block writing a long traceback. */
	while (c->fd >= 0) {
		int64_t left = (end - gt_now_ns()) / GT_MS;

		if (left <= 0)
			break;
		gt_child_read(c, (int)left);
	}
	/* stderr closed (or out of time): wait for the exit, then kill. */
	while ((r = waitpid(c->pid, &c->status, WNOHANG)) == 0 &&
	       gt_now_ns() < end)
		usleep(1000);
	if (r == 0) {
		c->timed_out = true;
		kill(c->pid, SIGKILL);
		waitpid(c->pid, &c->status, 0);
	}
	/* Whatever was written before the end. */
	while (c->fd >= 0 && gt_child_read(c, 0) > 0)
		;
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

static inline void gt_child_free(struct gt_child *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	c->out = NULL;
}

/* gt_fork_capture() - start, wait up to @ms, and reap in one call. */
static inline int gt_fork_capture(struct gt_child *c, int (*fn)(void *arg),
				  void *arg, int ms)
{
	int ret = gt_child_start(c, fn, arg);

	if (ret)
		return ret;
	gt_child_finish(c, ms);
	return 0;
}

/* Exit code of a child that exited normally, or -1 (signal, timeout). */
static inline int gt_exit_code(const struct gt_child *c)
{
	if (c->timed_out || !WIFEXITED(c->status))
		return -1;
	return WEXITSTATUS(c->status);
}

/* Print a child's captured stderr, as harness log lines. */
static inline void gt_child_dump(const struct gt_child *c, const char *what)
{
	const char *p = c->out, *eol;
	int lines = 0;

	fprintf(stderr, "# --- %s: status 0x%x%s, stderr:\n", what, c->status,
		c->timed_out ? " (timed out)" : "");
	while (p && *p && lines++ < 60) {
		eol = strchr(p, '\n');
		fprintf(stderr, "# | %.*s\n",
			(int)(eol ? eol - p : (long)strlen(p)), p);
		p = eol ? eol + 1 : NULL;
	}
	if (p && *p)
		fprintf(stderr, "# | ...\n");
}

/* gt_stats() - gort_sched_stats() into @st; false on error. */
static inline bool gt_stats(struct gort_sched_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->sz = sizeof(*st);
	return gort_sched_stats(st) == 0;
}

#endif /* GORT_TEST_H */
