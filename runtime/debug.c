// SPDX-License-Identifier: MIT
/*
 * debug.c - options from the environment.
 *
 * GORT_DEBUG is a comma-separated list of name=value, as GODEBUG:
 *   schedtrace=MS   print a SCHED line every MS milliseconds (sysmon)
 *   scheddetail=1   with schedtrace, one more line per P
 *   verbose=1       report which kernel assists are active at start-up
 *   guardmprotect=1 make stack guards with mprotect even if the kernel
 *                   has MADV_GUARD_INSTALL (tests the fallback)
 *   gctrace=1       a line per GC cycle on stderr, as Go's
 *   gcstress=N      a GC cycle every N allocations; freed memory poisoned
 *   gcnodata=1      do not scan the program's data segments for roots
 *   gcforce=N       force a GC cycle after N s without one (default 120)
 *   gccheckmark=1   at each mark termination, walk the heap again and die
 *                   if the mark left a reachable object white
 *   gcshrinkstackoff=1  the GC does not release the unused part of parked
 *                   goroutines' stacks (Go's name)
 *   gcconcurrent=1  mark concurrently even when the heap is small (by
 *                   default a cycle whose roots and live heap are under
 *                   1 MiB marks with the world stopped)
 *   gchelper=N      a helper thread shares the last dirty-page look (the
 *                   stop-the-world one): 0 on a heap of 256 MiB or more
 *                   (default), 1 always, -1 never
 *   gcquietoff=1    make the stop-the-world dirty-page look even when no
 *                   page fault since the last concurrent look says it
 *                   would find nothing (gcdirty.c)
 *   gcassist=1      every allocation's slow path while the GC marks
 *                   assists, below the goal too, and the markers always
 *                   share gray objects (tests parallel marking)
 * Unknown names are ignored, as Go does.  Other variables: GORT_MAXPROCS,
 * GORT_STACKSIZE (bytes, K/M suffix allowed), GORT_GC (percent or off),
 * GORT_MEMLIMIT, GORT_GCMODE (uffd, softdirty or stw: the best the kernel
 * has, at most this).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct debugvars debug;

static const struct {
	const char *name;
	int *val;
} dbgvars[] = {
	{ "schedtrace", &debug.schedtrace },
	{ "scheddetail", &debug.scheddetail },
	{ "verbose", &debug.verbose },
	{ "guardmprotect", &debug.guardmprotect },
	{ "gctrace", &debug.gctrace },
	{ "gcstress", &debug.gcstress },
	{ "gcnodata", &debug.gcnodata },
	{ "gcforce", &debug.gcforce },
	{ "gccheckmark", &debug.gccheckmark },
	{ "gcshrinkstackoff", &debug.gcshrinkstackoff },
	{ "gchelper", &debug.gchelper },
	{ "gcquietoff", &debug.gcquietoff },
	{ "gcconcurrent", &debug.gcconcurrent },
	{ "gcassist", &debug.gcassist },
};

void parsedebugvars(void)
{
	const char *s = getenv("GORT_DEBUG");

	while (s && *s) {
		const char *eq = strchr(s, '='), *end = strchr(s, ',');
		size_t i;

		if (!end)
			end = s + strlen(s);
		if (eq && eq < end) {
			for (i = 0; i < ARRAY_SIZE(dbgvars); i++) {
				size_t n = strlen(dbgvars[i].name);

				if ((size_t)(eq - s) == n && !strncmp(s, dbgvars[i].name, n))
					*dbgvars[i].val = atoi(eq + 1);
			}
		}
		s = *end ? end + 1 : end;
	}
}

long envint(const char *name, long def)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (!s || !*s)
		return def;
	v = strtol(s, &end, 10);
	if (*end) {
		printf_raw("gort: ignoring %s=%s: not a number\n", name, s);
		return def;
	}
	return v;
}

size_t envsize(const char *name, size_t def)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return def;
	v = strtoull(s, &end, 10);
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end || v < 4096) {
		printf_raw("gort: ignoring %s=%s: want a size >= 4096\n", name, s);
		return def;
	}
	return (size_t)v;
}
