// SPDX-License-Identifier: MIT
/*
 * gcdirty.c - the collector's write barrier, done by the kernel: which
 * pages of the heap were written since we last looked.
 *
 * Modes, best first (gcdirty_init picks the first that works, or the one
 * GORT_DEBUG=gcmode= asks for):
 *
 *   uffd-wp     the arenas are registered with a userfaultfd in
 *               write-protect async mode (UFFD_FEATURE_WP_ASYNC +
 *               WP_UNPOPULATED, Linux 6.7): a write to a protected page
 *               is resolved by the kernel itself, which only clears the
 *               page's uffd-wp bit.  The PAGEMAP_SCAN ioctl on
 *               /proc/self/pagemap lists the pages whose bit is clear
 *               (written, by us or by the kernel: read(), io_uring) and
 *               protects them again, in one pass.
 *   soft-dirty  writing "4" to /proc/self/clear_refs clears every
 *               soft-dirty bit of the process; bit 55 of a page's
 *               /proc/self/pagemap entry says whether it was written
 *               since.  Costs more per round (the clear walks the whole
 *               address space, the read is 8 bytes per page).
 *   stw         nothing: the collector marks with the world stopped.
 *
 * gcdirty_reset() starts a new interval (the world is stopped);
 * gcdirty_collect() reports pages written in it.  With uffd-wp a collect
 * also re-protects what it reports, atomically per page, so the next
 * collect reports only newer writes.  Soft-dirty bits cannot be read and
 * cleared at once (a write between the read and the clear would be
 * lost), so in that mode a collect reports every page written since the
 * reset, and only the reset clears.  Only the GC goroutine calls these.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "mgc.h"

/* UAPI newer than Debian 12's libc headers (Linux 6.1). */
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY		1
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED	(1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC		(1 << 15)
#endif
#ifndef PAGEMAP_SCAN
struct page_region {
	uint64_t start, end, categories;
};

struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN		_IOWR('f', 16, struct pm_scan_arg)
#define PM_SCAN_WP_MATCHING	(1 << 0)
#define PM_SCAN_CHECK_WPASYNC	(1 << 1)
#define PAGE_IS_WRITTEN		(1 << 1)
#endif

#define SOFTDIRTY_BIT	(1ULL << 55)
#define MAXRANGES	4096
#define VECLEN		512

int gcmode = GCMODE_STW;
static int uffd = -1, pagemapfd = -1;
static size_t pgsz;

/* Tracked ranges (arenas), append-only; rangelock for writers.  Page
 * numbers, not addresses: the collector scans our globals. */
static struct lock rangelock;
static struct {
	uintptr_t lo, hi;
} ranges[MAXRANGES];
#define RLO(i)	(ranges[i].lo << 12)
#define RHI(i)	(ranges[i].hi << 12)
static uint32_t nranges;
static uint32_t trackgen;	/* tracked pages made writable without a fault */

const char *gcdirty_name(int mode)
{
	return mode == GCMODE_UFFD ? "uffd-wp" : mode == GCMODE_SOFTDIRTY ? "soft-dirty" : "stw";
}

static int uffd_register(uintptr_t lo, size_t len)
{
	struct uffdio_register reg = {
		.range = { .start = lo, .len = len },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};

	return ioctl(uffd, UFFDIO_REGISTER, &reg) ? -errno_get() : 0;
}

/*
 * One PAGEMAP_SCAN pass over [lo, hi): report written pages to @fn (if
 * any) and write-protect them.  Returns pages reported, or -errno.
 */
static long uffd_scan(uintptr_t lo, uintptr_t hi,
		      void (*fn)(uintptr_t, uintptr_t, void *), void *arg)
{
	struct page_region vec[VECLEN];
	long pages = 0;

	while (lo < hi) {
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
			.start = lo, .end = hi,
			.vec = (uintptr_t)vec, .vec_len = VECLEN,
			.category_mask = PAGE_IS_WRITTEN,
			.return_mask = PAGE_IS_WRITTEN,
		};
		long n = ioctl(pagemapfd, PAGEMAP_SCAN, &a), i;

		if (n < 0)
			return -errno_get();
		for (i = 0; i < n; i++) {
			pages += (long)((vec[i].end - vec[i].start) / pgsz);
			if (fn)
				fn(vec[i].start, vec[i].end, arg);
		}
		if (a.walk_end <= lo)
			break;
		lo = a.walk_end;
	}
	return pages;
}

static int softdirty_clear(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno_get();
	n = write(fd, "4", 1);
	close(fd);
	return n == 1 ? 0 : -EIO;
}

static long softdirty_scan(uintptr_t lo, uintptr_t hi,
			   void (*fn)(uintptr_t, uintptr_t, void *), void *arg)
{
	uint64_t ent[512];
	long pages = 0;
	uintptr_t run = 0;

	while (lo < hi) {
		size_t n = (hi - lo) / pgsz, i;
		ssize_t got;

		if (n > ARRAY_SIZE(ent))
			n = ARRAY_SIZE(ent);
		got = pread(pagemapfd, ent, n * 8, (off_t)(lo / pgsz * 8));
		if (got <= 0)
			return got < 0 ? -errno_get() : -EIO;
		n = (size_t)got / 8;
		for (i = 0; i < n; i++) {
			uintptr_t pg = lo + i * pgsz;

			if (ent[i] & SOFTDIRTY_BIT) {
				pages++;
				if (!run)
					run = pg;
			} else if (run) {
				if (fn)
					fn(run, pg, arg);
				run = 0;
			}
		}
		lo += n * pgsz;
	}
	if (run && fn)
		fn(run, lo, arg);
	return pages;
}

/* Does the kernel really track a write to a protected page? */
static bool uffd_selftest(void)
{
	char *p = sysmap(4 * pgsz);
	long before, after;
	bool ok = false;

	if (!p)
		return false;
	if (uffd_register((uintptr_t)p, 4 * pgsz))
		goto out;
	p[0] = 1;
	before = uffd_scan((uintptr_t)p, (uintptr_t)p + 4 * pgsz, NULL, NULL);
	p[pgsz] = 1;		/* a write after protection must show */
	after = uffd_scan((uintptr_t)p, (uintptr_t)p + 4 * pgsz, NULL, NULL);
	ok = before >= 1 && after == 1;
out:
	sysunmap(p, 4 * pgsz);
	return ok;
}

static int try_uffd(void)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
	};

	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (uffd < 0)
		return -errno_get();
	if (ioctl(uffd, UFFDIO_API, &api) ||
	    (api.features & (UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED)) !=
	    (UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED) || !uffd_selftest()) {
		close(uffd);
		uffd = -1;
		return -EOPNOTSUPP;
	}
	return 0;
}

static bool softdirty_selftest(void)
{
	char *p = sysmap(2 * pgsz);
	bool ok;

	if (!p)
		return false;
	p[0] = 1;
	ok = !softdirty_clear() && softdirty_scan((uintptr_t)p, (uintptr_t)p + 2 * pgsz,
						  NULL, NULL) == 0;
	p[pgsz] = 1;
	ok = ok && softdirty_scan((uintptr_t)p, (uintptr_t)p + 2 * pgsz, NULL, NULL) == 1;
	sysunmap(p, 2 * pgsz);
	return ok;
}

/*
 * gcdirty_init() - pick the best mode up to @want.  Arenas tracked
 * before this call are registered now.  Returns the mode.
 */
int gcdirty_init(int want)
{
	uint32_t i;

	pgsz = physpagesize();
	gc_noscan_global(ranges, sizeof(ranges));
	pagemapfd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	lock(&rangelock);
	if (want >= GCMODE_UFFD && pagemapfd >= 0 && !try_uffd()) {
		for (i = 0; i < nranges; i++)
			if (uffd_register(RLO(i), RHI(i) - RLO(i)))
				break;
		if (i == nranges)
			gcmode = GCMODE_UFFD;
	}
	if (gcmode == GCMODE_STW && want >= GCMODE_SOFTDIRTY && pagemapfd >= 0 &&
	    softdirty_selftest())
		gcmode = GCMODE_SOFTDIRTY;
	unlock(&rangelock);
	return gcmode;
}

/* gcdirty_track() - a new arena; register it if uffd is on. */
void gcdirty_track(uintptr_t lo, size_t len)
{
	lock(&rangelock);
	if (nranges == MAXRANGES)
		throw("gcdirty_track: too many arenas");
	if (gcmode == GCMODE_UFFD && uffd_register(lo, len))
		throw("gcdirty_track: UFFDIO_REGISTER of a new arena failed");
	ranges[nranges].lo = lo >> 12;
	ranges[nranges].hi = (lo + len) >> 12;
	__atomic_store_n(&trackgen, trackgen + 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&nranges, nranges + 1, __ATOMIC_RELEASE);
	unlock(&rangelock);
}

/*
 * Large pointer-free objects need no tracking: nothing in them is ever
 * scanned.  Nor do large ALLOC_UNTRACKED objects (map buckets with
 * string keys): whoever stores a pointer into them calls gc_wb().  Their
 * pages are left out of every look, and in uffd-wp mode
 * un-protected when the object is allocated, so filling a big array of
 * bytes or numbers takes no write-protect faults (a 10 M-element append
 * took 880 k page faults with them, 200 k without).  Once the object is
 * freed its pages are looked at again before they can hold anything
 * else (gcdirty_retrack, from mheap_free); a page left unprotected then
 * just reports as written.  Sorted page-number ranges in mapped memory,
 * not in a global: an object's address would be a root.  rangelock.
 */
struct prange {
	uintptr_t lo, hi;
};

static struct prange *untracked;
static size_t nuntracked, capuntracked;
static struct prange *snap;		/* the GC goroutine's copy */
static size_t capsnap;

static bool grow_pranges(struct prange **v, size_t n, size_t *cap)
{
	size_t ncap = *cap ? 2 * *cap : 256;
	struct prange *nv = sysmap(ncap * sizeof(*nv));

	if (!nv)
		return false;
	if (*v) {
		memcpy(nv, *v, n * sizeof(*nv));
		sysunmap(*v, *cap * sizeof(*nv));
	}
	*v = nv;
	*cap = ncap;
	return true;
}

/* gcdirty_untrack() - large untracked object [@lo, @lo + @len). */
void gcdirty_untrack(uintptr_t lo, size_t len)
{
	struct prange r = { lo >> 12, (lo + len) >> 12 };
	size_t i;

	lock(&rangelock);
	if (nuntracked == capuntracked && !grow_pranges(&untracked, nuntracked, &capuntracked)) {
		unlock(&rangelock);
		return;		/* tracked then: only slower */
	}
	for (i = nuntracked; i > 0 && untracked[i - 1].lo > r.lo; i--)
		untracked[i] = untracked[i - 1];
	untracked[i] = r;
	nuntracked++;
	unlock(&rangelock);
	if (gcmode == GCMODE_UFFD) {
		struct uffdio_writeprotect wp = { .range = { .start = lo, .len = len }, .mode = 0 };

		ioctl(uffd, UFFDIO_WRITEPROTECT, &wp);	/* best effort */
	}
}

/* gcdirty_retrack() - the object at @lo is freed: look at its pages again. */
void gcdirty_retrack(uintptr_t lo)
{
	size_t i = 0, n;

	lock(&rangelock);
	/* Sorted by lo: the first range not below @lo. */
	for (n = nuntracked; n > 0;) {
		size_t half = n / 2;

		if (untracked[i + half].lo < lo >> 12) {
			i += half + 1;
			n -= half + 1;
		} else {
			n = half;
		}
	}
	if (i < nuntracked && untracked[i].lo == lo >> 12) {
		memmove(untracked + i, untracked + i + 1, (nuntracked - i - 1) * sizeof(*untracked));
		nuntracked--;
		/* Its pages are writable: the next look reports them. */
		__atomic_store_n(&trackgen, trackgen + 1, __ATOMIC_SEQ_CST);
	}
	unlock(&rangelock);
}

static long scan_range(uintptr_t lo, uintptr_t hi, void (*fn)(uintptr_t, uintptr_t, void *),
		       void *arg)
{
	return gcmode == GCMODE_SOFTDIRTY ? softdirty_scan(lo, hi, fn, arg) :
					    uffd_scan(lo, hi, fn, arg);
}

/* Look at [lo, hi) less the untracked ranges (sorted) that overlap it. */
static long scan_tracked(uintptr_t lo, uintptr_t hi, size_t nsnap,
			 void (*fn)(uintptr_t, uintptr_t, void *), void *arg)
{
	long pages = 0, r;
	size_t k;

	for (k = 0; k < nsnap && lo < hi; k++) {
		uintptr_t ulo = snap[k].lo << 12, uhi = snap[k].hi << 12;

		if (uhi <= lo)
			continue;
		if (ulo >= hi)
			break;
		if (ulo > lo) {
			r = scan_range(lo, ulo, fn, arg);
			if (r < 0)
				return r;
			pages += r;
		}
		lo = uhi;
	}
	if (lo < hi) {
		r = scan_range(lo, hi, fn, arg);
		if (r < 0)
			return r;
		pages += r;
	}
	return pages;
}

/*
 * The last look is made with the world stopped, and PAGEMAP_SCAN walks
 * every page table entry of the heap whether written or not (about
 * 0.35 ms a GiB here): on a big heap that walk is the whole pause.  A
 * helper thread (not an M: it runs no Go code and takes no runtime lock)
 * shares the walk: both take arenas from one counter, the helper records
 * what it finds, the GC goroutine re-scans its own finds as it goes, then
 * the helper's.  A helper that wakes too late to take any arena is not
 * waited for.  Started with the first cycle whose heap is big enough, if
 * there are two CPUs; parked on a futex in between.
 */
#define HELPER_MIN	(256UL << 20)	/* tracked bytes worth a helper */

enum { HELPER_OPEN, HELPER_JOINED, HELPER_CLOSED };

static struct {
	pthread_t thread;
	int state;			/* 0 not tried, 1 running, -1 failed */
	uint32_t go, done;		/* futexes: the round asked, finished */
	uint32_t n;			/* arenas of the round */
	uint32_t next;			/* the next arena to walk */
	uint32_t claim;			/* round << 2 | HELPER_OPEN, _JOINED, _CLOSED */
	size_t nsnap;
	struct prange *out;		/* ranges found written (addresses) */
	size_t nout, capout;
	long pages;
	int err;
} helper;

static void helper_record(uintptr_t lo, uintptr_t hi, void *arg)
{
	(void)arg;
	if (helper.nout == helper.capout &&
	    !grow_pranges(&helper.out, helper.nout, &helper.capout)) {
		helper.err = -ENOMEM;
		return;
	}
	helper.out[helper.nout].lo = lo;
	helper.out[helper.nout].hi = hi;
	helper.nout++;
}

static void *helper_main(void *unused)
{
	uint32_t seen = 0;

	(void)unused;
	for (;;) {
		uint32_t i, go;
		long pages = 0, r;

		while ((go = __atomic_load_n(&helper.go, __ATOMIC_ACQUIRE)) == seen)
			futexsleep(&helper.go, seen, -1);
		seen = go;
		{
			uint32_t open = go << 2 | HELPER_OPEN;

			/* Too late: the GC goroutine walked everything (or
			 * has moved on to a later round: we look again). */
			if (!__atomic_compare_exchange_n(&helper.claim, &open, go << 2 | HELPER_JOINED,
							 false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				continue;
		}
		helper.nout = 0;
		helper.err = 0;
		while ((i = __atomic_fetch_add(&helper.next, 1, __ATOMIC_RELAXED)) < helper.n) {
			r = scan_tracked(RLO(i), RHI(i), helper.nsnap, helper_record, NULL);
			if (r < 0) {
				helper.err = (int)r;
				break;
			}
			pages += r;
		}
		helper.pages = pages;
		__atomic_store_n(&helper.done, seen, __ATOMIC_RELEASE);
		futexwakeup(&helper.done, 1);
	}
	return NULL;
}

static void helper_start(void)
{
	sigset_t all, old;

	helper.state = -1;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (!pthread_create(&helper.thread, NULL, helper_main, NULL))
		helper.state = 1;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void collect_fail(long r)
{
	fatalf("gc: %s: %s", gcmode == GCMODE_SOFTDIRTY ? "reading /proc/self/pagemap" :
	       "PAGEMAP_SCAN", strerror((int)-r));
}

/*
 * Written pages of every range to @fn; start a new interval.  @stw: the
 * world is stopped (the last look), so a helper may share the walk.
 */
uint64_t gcdirty_collect(void (*fn)(uintptr_t lo, uintptr_t hi, void *arg), void *arg,
			 bool stw)
{
	uint32_t i, n = __atomic_load_n(&nranges, __ATOMIC_ACQUIRE), gen;
	bool shared = false;
	uint64_t pages = 0, bytes = 0;
	size_t nsnap, k;
	long r;

	if (gcmode == GCMODE_STW)
		return 0;
	lock(&rangelock);
	while (capsnap < nuntracked)
		if (!grow_pranges(&snap, 0, &capsnap))
			throw("gc: out of memory for the untracked ranges");
	nsnap = nuntracked;
	if (nsnap)
		memcpy(snap, untracked, nsnap * sizeof(*snap));
	unlock(&rangelock);
	for (i = 0; i < n; i++)
		bytes += RHI(i) - RLO(i);
	if (gcmode == GCMODE_UFFD && debug.gchelper >= 0 &&
	    ((bytes >= HELPER_MIN && ncpu >= 2) || debug.gchelper > 0)) {
		if (!helper.state)
			helper_start();		/* outside the pause, at a reset */
		shared = stw && helper.state > 0;
	}
	gen = helper.go + 1;
	helper.n = n;
	helper.nsnap = nsnap;
	__atomic_store_n(&helper.next, 0, __ATOMIC_RELAXED);
	if (shared) {
		__atomic_store_n(&helper.claim, gen << 2 | HELPER_OPEN, __ATOMIC_RELAXED);
		__atomic_store_n(&helper.go, gen, __ATOMIC_RELEASE);
		futexwakeup(&helper.go, 1);
	}
	while ((i = __atomic_fetch_add(&helper.next, 1, __ATOMIC_RELAXED)) < n) {
		r = scan_tracked(RLO(i), RHI(i), nsnap, fn, arg);
		if (r < 0)
			collect_fail(r);
		pages += (uint64_t)r;
	}
	if (shared) {
		uint32_t d, open = gen << 2 | HELPER_OPEN;

		if (__atomic_compare_exchange_n(&helper.claim, &open, gen << 2 | HELPER_CLOSED, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return pages;	/* it never joined */
		while ((d = __atomic_load_n(&helper.done, __ATOMIC_ACQUIRE)) != gen)
			futexsleep(&helper.done, d, -1);
		if (helper.err)
			collect_fail(helper.err);
		for (k = 0; fn && k < helper.nout; k++)
			fn(helper.out[k].lo, helper.out[k].hi, arg);
		pages += (uint64_t)helper.pages;
	}
	return pages;
}

/*
 * The last look, with the world stopped, walks every page table entry of
 * the heap, and on a big heap finds nothing far more often than not: the
 * program did not write to the heap between the last concurrent look and
 * the stop.  The kernel can say so without the walk.  In uffd-wp mode a
 * look leaves every tracked page either write-protected or reported, and
 * the first write to a protected page is a page fault, whoever writes:
 * our threads, the kernel copying for read() or io_uring (in our threads
 * or io_uring's workers, which belong to the process), a page touched for
 * the first time.  The kernel counts each one in the faulting thread's
 * min_flt, and getrusage(RUSAGE_SELF) sums those over the process, the
 * exited threads included.  So if the sum has not moved since just before
 * the last concurrent look began, every page written since was written
 * before the look reached it, and that look reported it; the last look
 * can be skipped.  A fault anywhere else (the GC's own buffers, a stack
 * growing, libc) only costs the skip.
 *
 * Two ways make a tracked page writable without a fault, both ours: a new
 * arena is registered unprotected (gcdirty_track), and a freed untracked
 * object's pages were un-protected when it was allocated
 * (gcdirty_retrack).  Both bump trackgen, which must not have moved
 * either.  What neither the walk nor this sees: writes through another
 * mapping of the pages (process_vm_writev from another process, counted
 * as that process's fault; pages pinned for DMA).  Soft-dirty mode keeps
 * the walk: untested here (this kernel has no soft-dirty bits).
 */
void gcdirty_stamp(struct gcdirty_stamp *st)
{
	struct rusage ru;

	st->gen = __atomic_load_n(&trackgen, __ATOMIC_SEQ_CST);
	st->ok = gcmode == GCMODE_UFFD && !debug.gcquietoff && !getrusage(RUSAGE_SELF, &ru);
	st->faults = st->ok ? (uint64_t)ru.ru_minflt + (uint64_t)ru.ru_majflt : 0;
}

/* gcdirty_quiet() - nothing written since @st, the world stopped: no look. */
bool gcdirty_quiet(const struct gcdirty_stamp *st)
{
	struct gcdirty_stamp now;

	if (!st->ok)
		return false;
	gcdirty_stamp(&now);
	return now.ok && now.faults == st->faults && now.gen == st->gen;
}

void gcdirty_reset(void)
{
	if (gcmode == GCMODE_SOFTDIRTY && softdirty_clear())
		throw("gc: cannot write /proc/self/clear_refs");
	if (gcmode == GCMODE_UFFD)
		gcdirty_collect(NULL, NULL, false);
}
