/* SPDX-License-Identifier: MIT */
/*
 * Description: gort_free() of anything that is not a live object from
 * gort_alloc() is fatal: "fatal error: gort_free: ..." on stderr and exit
 * status 2, from a goroutine and from a plain thread.  Cases: a stack
 * address, libc malloc memory, static data, a pointer inside a small or a
 * large object, a never-allocated slot of a live span, the tail waste of
 * a span, a double free of a small object (right away, and after its
 * span was refilled and the free merged) and of a large object.  A
 * correct free is the control: no message, exit 0.
 *
 * Each case runs in a forked child whose stderr is captured.
 */
#include "../gort_test.h"

#define PAGE	8192

static int static_word[4];

/* Each misuse returns only if gort_free() did not kill the process. */
static void free_stack(void)
{
	volatile int local[4] = { 1, 2, 3, 4 };

	gort_free((void *)&local[1]);
}

static void free_malloc(void)
{
	void *p = malloc(64);

	gort_free(p);
}

static void free_static(void)
{
	gort_free(static_word);
}

static void free_interior_small(void)
{
	char *p = gort_alloc(100, 0);

	gort_free(p + 8);
}

static void free_interior_large(void)
{
	char *p = gort_alloc(200000, 0);

	gort_free(p + PAGE);
}

/* A 24-byte object's span is one page holding 341 objects: slot 200 and
 * the 8 bytes after slot 340 were never handed out. */
static void free_unallocated_slot(void)
{
	char *p = gort_alloc(24, 0);
	uintptr_t span = (uintptr_t)p & ~(uintptr_t)(PAGE - 1);

	gort_free((void *)(span + 200 * 24));
}

static void free_tail_waste(void)
{
	char *p = gort_alloc(24, 0);
	uintptr_t span = (uintptr_t)p & ~(uintptr_t)(PAGE - 1);

	gort_free((void *)(span + 341 * 24));
}

static void double_free_small(void)
{
	void *p = gort_alloc(48, 0);

	gort_free(p);
	gort_free(p);
}

/* The free is merged into the span's bitmap by its next refill: fill
 * the span and more, keeping one neighbour live so the span survives. */
static void double_free_small_merged(void)
{
	void *p = gort_alloc(48, 0), *keep = gort_alloc(48, 0), *q[400];
	int i;

	gort_free(p);
	for (i = 0; i < 400; i++)
		q[i] = gort_alloc(48, 0);
	/* p may have been handed out again: then it is freed here. */
	for (i = 0; i < 400; i++)
		gort_free(q[i]);
	(void)keep;
	gort_free(p);
}

static void double_free_large(void)
{
	void *p = gort_alloc(100000, 0);

	gort_free(p);
	gort_free(p);
}

static void good_free(void)
{
	void *p = gort_alloc(48, 0), *q = gort_alloc(100000, 0);

	gort_free(p);
	gort_free(q);
	gort_free(NULL);
}

struct misuse {
	void (*fn)(void);
	const char *msg;	/* expected after "fatal error: gort_free: " */
	bool goroutine;
};

static int misuse_main(void *arg)
{
	const struct misuse *m = arg;

	m->fn();
	return 0;
}

static int child(void *arg)
{
	const struct misuse *m = arg;

	if (m->goroutine)
		return gt_run(misuse_main, arg, 2);
	return misuse_main(arg);
}

FIXTURE(misuse) {
	int unused;
};

FIXTURE_VARIANT(misuse) {
	void (*fn)(void);
	const char *msg;	/* NULL: a correct free, no error */
	bool goroutine;
};

#define CASE(name, f, m)						\
	FIXTURE_VARIANT_ADD(misuse, name) {				\
		.fn = f, .msg = m, .goroutine = true,			\
	};								\
	FIXTURE_VARIANT_ADD(misuse, name##_thread) {			\
		.fn = f, .msg = m, .goroutine = false,			\
	}

CASE(stack, free_stack, "bad pointer");
CASE(libc_malloc, free_malloc, "bad pointer");
CASE(static_data, free_static, "bad pointer");
CASE(interior_small, free_interior_small, "bad pointer");
CASE(interior_large, free_interior_large, "bad pointer");
CASE(unallocated_slot, free_unallocated_slot, "");
CASE(tail_waste, free_tail_waste, "bad pointer");
CASE(double_free_small, double_free_small, "double free");
CASE(double_free_small_merged, double_free_small_merged, "");
CASE(double_free_large, double_free_large, "");
CASE(control_good_free, good_free, NULL);

FIXTURE_SETUP(misuse) {}
FIXTURE_TEARDOWN(misuse) {}

TEST_F(misuse, gort_free)
{
	struct misuse m = {
		.fn = variant->fn, .msg = variant->msg, .goroutine = variant->goroutine,
	};
	struct gt_child c;
	char want[128];
	bool ok;

	ASSERT_EQ(0, gt_fork_capture(&c, child, &m, 10000));
	if (!variant->msg) {
		ok = !c.timed_out && gt_exit_code(&c) == 0 && !strstr(c.out, "fatal error");
	} else {
		snprintf(want, sizeof(want), "fatal error: gort_free: %s", variant->msg);
		ok = !c.timed_out && gt_exit_code(&c) == 2 && strstr(c.out, want);
	}
	if (!ok)
		gt_child_dump(&c, "child");
	ASSERT_FALSE(c.timed_out);
	if (!variant->msg) {
		ASSERT_EQ(0, gt_exit_code(&c));
		ASSERT_EQ(NULL, strstr(c.out, "fatal error"));
	} else {
		ASSERT_EQ(2, gt_exit_code(&c));
		ASSERT_NE(NULL, strstr(c.out, want)) TH_LOG("want \"%s\"", want);
		/* One message, then the traceback of the offender. */
		ASSERT_EQ(1, gt_count(c.out, "fatal error:"));
		if (variant->goroutine)
			ASSERT_NE(NULL, strstr(c.out, "goroutine 1 ["));
	}
	gt_child_free(&c);
}

TEST_HARNESS_MAIN
