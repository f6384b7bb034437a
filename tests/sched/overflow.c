/* SPDX-License-Identifier: MIT */
/*
 * Description: overflowing a goroutine stack is a fatal "stack overflow".
 *
 * Stacks never grow, so unbounded recursion must hit the guard page and
 * the runtime must turn the fault into Go's fatal error: a message naming
 * the stack overflow, a goroutine traceback, and a non-zero exit (Go exits
 * with 2), rather than a silent SIGSEGV or, worse, running into a
 * neighbouring stack.  Table-driven: a goroutine with the default stack,
 * one with a 64 KiB stack from gort_go_opts(), and the main goroutine with
 * a 256 KiB main_stack_size; each on 1 and 2 Ps, and with the guard pages
 * made by the mprotect fallback (GORT_DEBUG=guardmprotect=1) as well as by
 * MADV_GUARD_INSTALL.
 */
#include "../gort_test.h"

enum where { IN_GOROUTINE, IN_SMALL_GOROUTINE, IN_MAIN };

FIXTURE(overflow) {
	struct gt_child child;
};

FIXTURE_VARIANT(overflow) {
	enum where where;
	int maxprocs;
	bool mprotect;
};

FIXTURE_VARIANT_ADD(overflow, goroutine_procs1) { .where = IN_GOROUTINE, .maxprocs = 1, };
FIXTURE_VARIANT_ADD(overflow, goroutine_procs2) { .where = IN_GOROUTINE, .maxprocs = 2, };
FIXTURE_VARIANT_ADD(overflow, small_stack_procs1) { .where = IN_SMALL_GOROUTINE, .maxprocs = 1, };
FIXTURE_VARIANT_ADD(overflow, small_stack_procs2) { .where = IN_SMALL_GOROUTINE, .maxprocs = 2, };
FIXTURE_VARIANT_ADD(overflow, main_procs1) { .where = IN_MAIN, .maxprocs = 1, };
FIXTURE_VARIANT_ADD(overflow, main_procs2) { .where = IN_MAIN, .maxprocs = 2, };
FIXTURE_VARIANT_ADD(overflow, goroutine_mprotect) { .where = IN_GOROUTINE, .maxprocs = 2, .mprotect = true, };
FIXTURE_VARIANT_ADD(overflow, small_stack_mprotect) { .where = IN_SMALL_GOROUTINE, .maxprocs = 1, .mprotect = true, };
FIXTURE_VARIANT_ADD(overflow, main_mprotect) { .where = IN_MAIN, .maxprocs = 1, .mprotect = true, };

FIXTURE_SETUP(overflow)
{
}

FIXTURE_TEARDOWN(overflow)
{
	gt_child_free(&self->child);
}

static volatile long depth_limit = 1L << 40;	/* never reached */
static volatile long reached;

static __attribute__((noinline)) long recurse(long depth)
{
	volatile char frame[512];

	frame[0] = (char)depth;
	frame[sizeof(frame) - 1] = (char)depth;
	reached = depth;
	if (depth >= depth_limit)
		return frame[0];
	return recurse(depth + 1) + frame[sizeof(frame) - 1];
}

static void overflower(void *arg)
{
	(void)arg;
	recurse(0);
	/* Only reached if the recursion somehow ended. */
	fprintf(stderr, "recursion returned\n");
	_exit(0);
}

static const FIXTURE_VARIANT(overflow) *cur;

static int overflow_main(void *arg)
{
	struct gort_go_opts gopts = { .sz = sizeof(gopts), .stack_size = 64 << 10 };
	uint32_t never = 0;

	(void)arg;
	switch (cur->where) {
	case IN_GOROUTINE:
		gort_go(overflower, NULL);
		break;
	case IN_SMALL_GOROUTINE:
		gort_go_opts(overflower, NULL, &gopts);
		break;
	case IN_MAIN:
		overflower(NULL);
		break;
	}
	/* Other goroutines stay alive and parked meanwhile. */
	gort_sema_acquire_timeout(&never, 10000 * GT_MS);
	fprintf(stderr, "no overflow within 10 s\n");
	return 0;
}

static int child_fn(void *arg)
{
	struct gort_opts opts = {
		.sz = sizeof(opts),
		.maxprocs = cur->maxprocs,
		.main_stack_size = 256 << 10,
	};

	(void)arg;
	if (cur->mprotect)
		setenv("GORT_DEBUG", "guardmprotect=1", 1);
	return gort_main(overflow_main, NULL, &opts);
}

/* The id in "runtime: goroutine N stack overflow", or -1. */
static long overflow_goid(const char *out)
{
	const char *s = strstr(out, "runtime: goroutine ");
	char word[16] = "";
	long id = -1;

	if (!s || sscanf(s, "runtime: goroutine %ld %15s", &id, word) != 2 ||
	    strcmp(word, "stack"))
		return -1;
	return id;
}

TEST_F(overflow, fatal)
{
	struct gt_child *c = &self->child;
	int code;

	cur = variant;
	ASSERT_EQ(0, gt_fork_capture(c, child_fn, NULL, 15000));
	code = gt_exit_code(c);
	if (code != 2)
		gt_child_dump(c, "child");
	ASSERT_FALSE(c->timed_out);
	/* Not a plain crash by signal, not a clean exit. */
	ASSERT_TRUE(WIFEXITED(c->status));
	ASSERT_NE(0, code);
	ASSERT_EQ(NULL, strstr(c->out, "recursion returned"));
	ASSERT_NE(NULL, strstr(c->out, "fatal error: stack overflow"));
	/* "runtime: goroutine N stack overflow: stack exceeds ..." */
	ASSERT_LT(0, overflow_goid(c->out));
	/* The traceback shows the recursion (gcc may name it recurse.isra.0). */
	ASSERT_NE(NULL, strstr(c->out, "in recurse"));
	EXPECT_EQ(2, code);
}

TEST_HARNESS_MAIN
