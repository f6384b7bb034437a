/* SPDX-License-Identifier: MIT */
/*
 * Description: the scheduler's probe points are real, exported, uprobe-
 * friendly functions, and libgort.so exports nothing else but gort_*.
 *
 * Every function in Documentation/probes.rst must be reachable by name in
 * the static program (eBPF tools attach by symbol) and in libgort.so, and
 * on x86_64 must start with "push %rbp" (0x55): an entry uprobe on that
 * instruction is emulated (~0.7 us) instead of single-stepped (~10 us),
 * which needs -fno-omit-frame-pointer and no -fcf-protection (endbr64).
 * Internal functions must not leak from libgort.so (version script) nor
 * from libgort.a (one relocatable object with hidden symbols localized),
 * so a program may define its own lock() or debug.
 */
#include "../gort_test.h"

#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>

/* Link the scheduler in: this test calls nothing else of it. */
int (*volatile keep_main)(int (*)(void *), void *, const struct gort_opts *) = gort_main;

static const char *const probes[] = {
	"gort_sched_newproc", "gort_sched_ready", "gort_sched_execute",
	"gort_sched_park", "gort_sched_goexit", "gort_sched_handoffp",
	"gort_sched_steal", "gort_sched_stopm", "gort_sched_startm",
	"gort_sched_preempt", "gort_sched_stw",
	"gort_chan_park", "gort_chan_wake", "gort_chan_doclose", "gort_select_park",
	"gort_gc_phase", "gort_gc_assist",
	"gort_map_grow_start", "gort_map_grow_done",
	"gort_netpoll_reap",
};

static const char *const internals[] = {
	"schedule", "findrunnable", "runqput", "lock", "unlock", "gopark",
	"goready", "getm", "throw", "stackalloc_g", "checktimers",
};

static void check_prologue(struct __test_metadata *_metadata, void *fn, const char *name)
{
#if defined(__x86_64__)
	const unsigned char *code = fn;

	if (code[0] != 0x55)
		TH_LOG("%s starts with %02x %02x %02x %02x", name, code[0], code[1], code[2], code[3]);
	EXPECT_EQ(0x55, code[0]);
#else
	(void)fn, (void)name;
#endif
}

TEST(static_program)
{
	size_t i;

	for (i = 0; i < GT_ARRAY_SIZE(probes); i++) {
		void *fn = dlsym(RTLD_DEFAULT, probes[i]);

		if (!fn)
			TH_LOG("%s not found", probes[i]);
		ASSERT_NE(NULL, fn);
		check_prologue(_metadata, fn, probes[i]);
	}
	/* libgort.a holds one object whose hidden symbols are local. */
	for (i = 0; i < GT_ARRAY_SIZE(internals); i++) {
		if (dlsym(RTLD_DEFAULT, internals[i]))
			TH_LOG("%s leaks from libgort.a", internals[i]);
		EXPECT_EQ(NULL, dlsym(RTLD_DEFAULT, internals[i]));
	}
}

TEST(shared_library)
{
	char exe[PATH_MAX], so[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	size_t i;
	void *h;

	ASSERT_LT(0, n);
	exe[n] = 0;
	/* BUILD/tests/<area>/probes -> BUILD/libgort.so */
	snprintf(so, sizeof(so), "%s/../../libgort.so", dirname(exe));
	h = dlopen(so, RTLD_NOW | RTLD_LOCAL);

	if (!h)
		SKIP(return, "libgort.so not built next to the tests: %s", dlerror());
	for (i = 0; i < GT_ARRAY_SIZE(probes); i++) {
		void *fn = dlsym(h, probes[i]);

		if (!fn)
			TH_LOG("%s not exported", probes[i]);
		ASSERT_NE(NULL, fn);
		check_prologue(_metadata, fn, probes[i]);
	}
	ASSERT_NE(NULL, dlsym(h, "gort_main"));
	for (i = 0; i < GT_ARRAY_SIZE(internals); i++) {
		if (dlsym(h, internals[i]))
			TH_LOG("%s leaks from libgort.so", internals[i]);
		EXPECT_EQ(NULL, dlsym(h, internals[i]));
	}
	dlclose(h);
}

TEST_HARNESS_MAIN
