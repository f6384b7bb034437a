/* SPDX-License-Identifier: MIT */
/*
 * net_test.h - helpers shared by the network tests in tests/net.
 *
 * Every test runs under both netpollers.  Each file's fixture variant
 * names one ("uring" or "epoll", the value of GORT_NETPOLL) and the mode
 * gort_netpoll_mode() must then report ("io_uring", "epoll"):
 *
 *	FIXTURE_VARIANT(foo) {
 *		const char *poller, *mode;
 *		int maxprocs;
 *	};
 *	FIXTURE_SETUP(foo)
 *	{
 *		NT_SETUP_POLLER(variant);
 *	}
 *
 * NT_SETUP_POLLER() SKIPs the io_uring variant where io_uring_setup(2)
 * is missing or forbidden (ENOSYS, EPERM, EACCES: seccomp, or
 * kernel.io_uring_disabled) and sets GORT_NETPOLL; the harness forks one
 * child per test, so the runtime of each test starts with that poller.
 * nt_run() is gt_run() with a first check, inside the runtime, that the
 * poller asked for is the one that runs: a test silently run under the
 * other poller would test nothing.  It also starts a watchdog goroutine:
 * a test still running after 20 s is ended with a goroutine dump
 * (SIGQUIT), so a hang shows where every goroutine is parked.
 *
 * Data is deterministic: a stream of bytes is named by a 64-bit key and
 * its byte at offset @off is a hash of (key, off / 8), so a writer fills
 * and a reader checks any piece of any stream without keeping a copy,
 * and a mismatch is reported as (stream, offset, expected, got).
 *
 * Timing checks allow NT_SLACK past a deadline (50 ms; GORT_TEST_SLACK_MS
 * overrides it on slow machines) and never allow a deadline to fire early.
 */
#ifndef NET_TEST_H
#define NET_TEST_H

#include "../gort_test.h"

#include <gort/net.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <limits.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup	425
#endif

#define NT_SEC		(1000 * GT_MS)
#define NT_GOLDEN	0x9e3779b97f4a7c15ULL

/* nt_uring_probe() - 0 if io_uring_setup(2) works here, else -errno. */
static inline int nt_uring_probe(void)
{
	struct io_uring_params p;
	long fd;

	memset(&p, 0, sizeof(p));
	fd = syscall(__NR_io_uring_setup, 4, &p);
	if (fd < 0)
		return -errno;
	close((int)fd);
	return 0;
}

static const char *nt_want_mode;	/* what gort_netpoll_mode() must say */

/*
 * NT_SETUP_POLLER(variant) - in FIXTURE_SETUP: SKIP the io_uring variant
 * if io_uring is unusable, else select the variant's poller.
 */
#define NT_SETUP_POLLER(v) do {						\
	int __err = 0;							\
									\
	if (!strcmp((v)->poller, "uring"))				\
		__err = nt_uring_probe();				\
	if (__err == -ENOSYS || __err == -EPERM || __err == -EACCES)	\
		SKIP(return, "io_uring unusable: io_uring_setup: %s",	\
		     strerror(-__err));					\
	ASSERT_EQ(0, __err) TH_LOG("io_uring_setup: %s", strerror(-__err)); \
	ASSERT_EQ(0, setenv("GORT_NETPOLL", (v)->poller, 1));		\
	nt_want_mode = (v)->mode;					\
	/* A test that dies of SIGPIPE fails: never ignore it here. */	\
	signal(SIGPIPE, SIG_DFL);					\
} while (0)

/*
 * nt_dump_and_die() - from a goroutine: say why, then SIGQUIT ourselves:
 * the runtime prints every goroutine with its wait reason and exits
 * with status 2, which the harness counts as a failure.
 */
static inline void nt_dump_and_die(const char *why)
{
	int i;

	fprintf(stderr, "# %s: goroutine dump follows\n", why);
	fflush(stderr);
	kill(getpid(), SIGQUIT);
	for (i = 0; i < 50; i++)
		gort_sleep(100 * GT_MS);
	_exit(1);
}

/*
 * The watchdog: a test whose main goroutine has not returned after
 * NT_WATCHDOG_MS (a lost wake-up, a deadline that never fires) is
 * stopped with a goroutine dump, before the harness' 30 s timeout would
 * kill it without one.
 */
#define NT_WATCHDOG_MS	20000

static int (*nt_main_fn)(void *arg);
static uint32_t nt_main_done;

static void nt_watchdog(void *arg)
{
	if (!gort_sema_acquire_timeout(&nt_main_done, NT_WATCHDOG_MS * GT_MS))
		nt_dump_and_die("watchdog: the test still runs after 20 s");
}

static int nt_trampoline(void *arg)
{
	const char *mode = gort_netpoll_mode();
	int r;

	if (!mode || !nt_want_mode || strcmp(mode, nt_want_mode)) {
		GFAIL("gort_netpoll_mode() is \"%s\", GORT_NETPOLL=%s wants \"%s\"",
		      mode ? mode : "(null)", getenv("GORT_NETPOLL"),
		      nt_want_mode ? nt_want_mode : "(unset)");
		return 1;
	}
	if (!GCHECK(gort_go(nt_watchdog, NULL) > 0))
		return 1;
	r = nt_main_fn(arg);
	gort_sema_release(&nt_main_done);
	return r;
}

/* nt_run() - gt_run() of @fn, after checking the poller in use. */
static inline int nt_run(int (*fn)(void *arg), void *arg, int maxprocs)
{
	nt_main_fn = fn;
	return gt_run(nt_trampoline, arg, maxprocs);
}

/* nt_slack() - how late past a deadline an operation may return. */
static inline int64_t nt_slack(void)
{
	const char *s = getenv("GORT_TEST_SLACK_MS");

	return (s && atoll(s) > 0 ? atoll(s) : 50) * GT_MS;
}

/* ---- deterministic data ---- */

static inline uint64_t nt_fmix(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* nt_key() - the key of stream @b of test seed @a. */
static inline uint64_t nt_key(uint64_t a, uint64_t b)
{
	return nt_fmix(a + NT_GOLDEN * (nt_fmix(b + NT_GOLDEN) | 1));
}

/* struct nt_rng - splitmix64. */
struct nt_rng {
	uint64_t s;
};

static inline void nt_seed(struct nt_rng *r, uint64_t a, uint64_t b)
{
	r->s = nt_key(a, b);
}

static inline uint64_t nt_rand(struct nt_rng *r)
{
	r->s += NT_GOLDEN;
	return nt_fmix(r->s);
}

/* nt_below() - uniform in [0, n), n > 0 (bias negligible here). */
static inline uint64_t nt_below(struct nt_rng *r, uint64_t n)
{
	return nt_rand(r) % n;
}

/*
 * nt_size() - a size in [1, max], log-uniform: a power of two 2^e, e
 * uniform over the bits of @max, plus a uniform part below it.  Small
 * and large sizes are both common (the mean for 64 KiB is ~10 KiB), and
 * exactly @max comes up about once in 17 draws.
 */
static inline size_t nt_size(struct nt_rng *r, size_t max)
{
	int bits = 64 - __builtin_clzll(max);
	size_t lo = (size_t)1 << nt_below(r, (uint64_t)bits);
	size_t sz = lo + (size_t)nt_below(r, lo);

	return sz > max ? max : sz;
}

static inline unsigned char nt_byte(uint64_t key, uint64_t off)
{
	return (unsigned char)(nt_fmix(key + (off >> 3) * NT_GOLDEN) >> ((off & 7) * 8));
}

/* nt_fill() - bytes [@off, @off + @n) of stream @key into @buf. */
static inline void nt_fill(void *buf, size_t n, uint64_t key, uint64_t off)
{
	unsigned char *p = buf;
	uint64_t w = 0;
	size_t i;

	for (i = 0; i < n; i++, off++) {
		if (i == 0 || (off & 7) == 0)
			w = nt_fmix(key + (off >> 3) * NT_GOLDEN);
		p[i] = (unsigned char)(w >> ((off & 7) * 8));
	}
}

/*
 * nt_check() - is @buf bytes [@off, @off + @n) of stream @key?  Returns
 * the index of the first wrong byte, or -1.
 */
static inline ssize_t nt_check(const void *buf, size_t n, uint64_t key,
			       uint64_t off)
{
	const unsigned char *p = buf;
	uint64_t w = 0;
	size_t i;

	for (i = 0; i < n; i++, off++) {
		if (i == 0 || (off & 7) == 0)
			w = nt_fmix(key + (off >> 3) * NT_GOLDEN);
		if (p[i] != (unsigned char)(w >> ((off & 7) * 8)))
			return (ssize_t)i;
	}
	return -1;
}

/* ---- connections ---- */

/* nt_read_full() - read exactly @n bytes: @n, fewer at EOF, or -errno. */
static inline ssize_t nt_read_full(struct gort_conn *c, void *buf, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = gort_read(c, (char *)buf + got, n - got);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/*
 * nt_dial_addr() - the address to dial for listener @l opened on
 * @network, @laddr: the same host with the port picked, for TCP and UDP;
 * the same path for unix networks.
 */
static inline int nt_dial_addr(struct gort_conn *l, const char *network,
			       const char *laddr, char *out, size_t size)
{
	const char *colon;
	int port;

	if (!strncmp(network, "unix", 4)) {
		if (strlen(laddr) >= size)
			return -ENAMETOOLONG;
		memcpy(out, laddr, strlen(laddr) + 1);
		return 0;
	}
	colon = strrchr(laddr, ':');
	port = gort_local_port(l);
	if (!colon || port <= 0)
		return port < 0 ? port : -EINVAL;
	snprintf(out, size, "%.*s:%d", (int)(colon - laddr), laddr, port);
	return 0;
}

/*
 * nt_pair() - a connected stream pair on @network: listen on @laddr,
 * dial it, accept, close the listener.  Bounded: 5 s for each step.
 * Return: 0 or -errno of the step that failed.
 */
static inline int nt_pair(const char *network, const char *laddr,
			  struct gort_conn **client, struct gort_conn **server)
{
	struct gort_conn *l;
	char daddr[160];
	int err;

	err = gort_listen(network, laddr, &l);
	if (err)
		return err;
	err = nt_dial_addr(l, network, laddr, daddr, sizeof(daddr));
	if (!err)
		err = gort_set_deadline(l, gort_nanotime() + 5 * NT_SEC);
	if (!err)
		err = gort_dial(network, daddr, 5 * NT_SEC, client);
	if (!err) {
		err = gort_accept(l, server);
		if (err)
			gort_close(*client);
	}
	gort_close(l);
	return err;
}

/* nt_tcp_pair() - a connected TCP pair over 127.0.0.1. */
static inline int nt_tcp_pair(struct gort_conn **client,
			      struct gort_conn **server)
{
	return nt_pair("tcp", "127.0.0.1:0", client, server);
}

/* nt_small_buffers() - shrink the kernel buffers so writes block soon. */
static inline void nt_small_buffers(struct gort_conn *writer,
				    struct gort_conn *reader)
{
	int sz = 4096;

	setsockopt(gort_conn_fd(writer), SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(gort_conn_fd(reader), SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

/* nt_port_of() - the port of an AF_INET/AF_INET6 address, or -1. */
static inline int nt_port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return -1;
}

/* ---- temporary directories ---- */

/* nt_mkdtemp() - a fresh directory under $TMPDIR (or /tmp) in @buf. */
static inline char *nt_mkdtemp(char *buf, size_t size)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(buf, size, "%s/gort-net-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	return mkdtemp(buf);
}

/* nt_rmtree() - remove the flat directory @dir and what it holds. */
static inline void nt_rmtree(const char *dir)
{
	struct dirent *de;
	DIR *d;

	if (!dir || !*dir)
		return;
	d = opendir(dir);
	if (d) {
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			unlinkat(dirfd(d), de->d_name, 0);
		}
		closedir(d);
	}
	rmdir(dir);
}

#endif /* NET_TEST_H */
