/* SPDX-License-Identifier: MIT */
/*
 * Description: bad arguments and refused connections give the documented
 * -errno, never a crash or a hang.
 *
 * - bad_network: gort_listen() and gort_dial() of "bogus", "", "TCP",
 *   "ip", NULL: -EINVAL.
 * - bad_address: address strings that are not "host:port", "[v6]:port"
 *   or ":port" with a numeric host and a port in 0..65535: -EINVAL, for
 *   gort_listen and gort_dial alike; NULL address or out pointer:
 *   -EINVAL; a unix path longer than sun_path: -EINVAL.  Addresses that
 *   are well formed but cannot be used (a host name, which is not
 *   resolved; an IPv6 address on "tcp4") must fail with some -errno,
 *   which is printed.
 * - good_address: the forms the API promises work: ":0", "[::1]:0"
 *   (when IPv6 is there), "tcp4"/"tcp6", and dialing "localhost:port".
 * - refused: gort_dial to a TCP port nobody listens on: -ECONNREFUSED,
 *   at once; gort_listen on a port in use: -EADDRINUSE.
 * - wrong_kind: operations that make no sense for the connection return
 *   an error instead of parking forever: gort_accept on a connected
 *   socket, gort_read on a listener, gort_pread on a socket,
 *   gort_shutdown with a bad @how, negative or oversized iovcnt.  A
 *   deadline bounds each, in case one parks.
 * - zero_length: gort_write, gort_send of 0 bytes return 0.
 *
 * Variants: io_uring and epoll, on 2 Ps.
 */
#include "net_test.h"

#include <limits.h>

FIXTURE(errors) {
};

FIXTURE_VARIANT(errors) {
	const char *poller, *mode;
	int maxprocs;
};

FIXTURE_VARIANT_ADD(errors, uring) { .poller = "uring", .mode = "io_uring", .maxprocs = 2, };
FIXTURE_VARIANT_ADD(errors, epoll) { .poller = "epoll", .mode = "epoll", .maxprocs = 2, };

FIXTURE_SETUP(errors)
{
	NT_SETUP_POLLER(variant);
}

FIXTURE_TEARDOWN(errors)
{
}

/* expect() - @r must be @want; a successful @c is closed. */
#define expect(want, r, c, fmt, ...) do {				\
	int __r = (r);							\
									\
	if (__r != (want))						\
		GFAIL(fmt ": %d (%s), want %d (%s)", ##__VA_ARGS__, __r,	\
		      __r < 0 ? strerror(-__r) : "success", (want),	\
		      strerror(-(want)));				\
	if (__r == 0)							\
		gort_close(c);						\
} while (0)

/* ---- bad_network ---- */

static int bad_network_main(void *arg)
{
	static const char *nets[] = { "bogus", "", "TCP", "ip", "tcp7", "unixpacket!" };
	struct gort_conn *c = NULL;
	size_t i;

	for (i = 0; i < GT_ARRAY_SIZE(nets); i++) {
		expect(-EINVAL, gort_listen(nets[i], "127.0.0.1:0", &c), c,
		       "gort_listen(\"%s\")", nets[i]);
		expect(-EINVAL, gort_dial(nets[i], "127.0.0.1:1", NT_SEC, &c), c,
		       "gort_dial(\"%s\")", nets[i]);
	}
	expect(-EINVAL, gort_listen(NULL, "127.0.0.1:0", &c), c, "gort_listen(NULL)");
	expect(-EINVAL, gort_dial(NULL, "127.0.0.1:1", NT_SEC, &c), c, "gort_dial(NULL)");
	return 0;
}

TEST_F(errors, bad_network)
{
	ASSERT_EQ(0, nt_run(bad_network_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- bad_address ---- */

static int bad_address_main(void *arg)
{
	static const char *addrs[] = {
		"127.0.0.1",		/* no port */
		"127.0.0.1:65536",	/* port out of range */
		"127.0.0.1:99999999999999999999",
		"127.0.0.1:-1",
		"127.0.0.1:12ab",
		"127.0.0.1: 80",
		"256.0.0.1:80",		/* not an IPv4 address */
		"1.2.3.4.5:80",
		"[::1:80",		/* unclosed bracket */
		"::1:80",		/* IPv6 without brackets */
		"[::1]80",		/* no colon after the bracket */
		"[::g]:80",
		"127.0.0.1:80:80",
	};
	struct gort_conn *c = NULL;
	char longpath[200];
	size_t i;
	int r;

	for (i = 0; i < GT_ARRAY_SIZE(addrs); i++) {
		expect(-EINVAL, gort_listen("tcp", addrs[i], &c), c,
		       "gort_listen(tcp, \"%s\")", addrs[i]);
		expect(-EINVAL, gort_dial("tcp", addrs[i], NT_SEC, &c), c,
		       "gort_dial(tcp, \"%s\")", addrs[i]);
		expect(-EINVAL, gort_listen("udp", addrs[i], &c), c,
		       "gort_listen(udp, \"%s\")", addrs[i]);
	}
	expect(-EINVAL, gort_listen("tcp", NULL, &c), c, "gort_listen(tcp, NULL)");
	expect(-EINVAL, gort_dial("tcp", NULL, NT_SEC, &c), c, "gort_dial(tcp, NULL)");
	expect(-EINVAL, gort_listen("tcp", "127.0.0.1:0", NULL), c, "gort_listen(out NULL)");
	expect(-EINVAL, gort_dial("tcp", "127.0.0.1:1", NT_SEC, NULL), c, "gort_dial(out NULL)");
	expect(-EINVAL, gort_listen("unix", "", &c), c, "gort_listen(unix, \"\")");
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	expect(-EINVAL, gort_listen("unix", longpath, &c), c, "gort_listen(unix, 199 bytes)");
	expect(-EINVAL, gort_dial("unix", longpath, NT_SEC, &c), c, "gort_dial(unix, 199 bytes)");

	/* Well formed, not usable: some error, which one is printed. */
	r = gort_dial("tcp", "no-such-host.invalid:80", NT_SEC, &c);
	fprintf(stderr, "# gort_dial(tcp, host name) = %d (%s)\n", r, strerror(-r));
	if (!GCHECK(r < 0))
		gort_close(c);
	r = gort_listen("tcp4", "[::1]:0", &c);
	fprintf(stderr, "# gort_listen(tcp4, \"[::1]:0\") = %d (%s)\n", r, strerror(-r));
	if (!GCHECK(r < 0))
		gort_close(c);
	/* Go: "no suitable address". */
	expect(-EINVAL, gort_listen("tcp6", "127.0.0.1:0", &c), c, "gort_listen(tcp6, 127.0.0.1:0)");
	return 0;
}

TEST_F(errors, bad_address)
{
	ASSERT_EQ(0, nt_run(bad_address_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- good_address ---- */

/* exchange() - one byte each way over a fresh pair on @net, @laddr. */
static void exchange(const char *net, const char *laddr)
{
	struct gort_conn *a, *b;
	char c;
	int r = nt_pair(net, laddr, &a, &b);

	if (r) {
		GFAIL("pair on %s \"%s\": %d (%s)", net, laddr, r, strerror(-r));
		return;
	}
	GCHECK_EQ(0, gort_set_deadline(a, gort_nanotime() + 2 * NT_SEC));
	GCHECK_EQ(0, gort_set_deadline(b, gort_nanotime() + 2 * NT_SEC));
	GCHECK_EQ(1, gort_write(a, "a", 1));
	GCHECK_EQ(1, gort_read(b, &c, 1));
	GCHECK_EQ(1, gort_write(b, "b", 1));
	GCHECK_EQ(1, gort_read(a, &c, 1));
	GCHECK_EQ('b', c);
	GCHECK_EQ(0, gort_close(a));
	GCHECK_EQ(0, gort_close(b));
}

static bool have_ipv6;

static int good_address_main(void *arg)
{
	struct gort_conn *l, *a, *b;
	char addr[64];
	int port;

	exchange("tcp", "127.0.0.1:0");
	exchange("tcp4", "127.0.0.1:0");
	if (have_ipv6) {
		exchange("tcp", "[::1]:0");
		exchange("tcp6", "[::1]:0");
	}
	/* ":port": every address; reachable over loopback. */
	if (GCHECK_EQ(0, gort_listen("tcp", ":0", &l))) {
		port = gort_local_port(l);
		GCHECK(port > 0);
		GCHECK_EQ(0, gort_set_deadline(l, gort_nanotime() + 2 * NT_SEC));
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
		if (GCHECK_EQ(0, gort_dial("tcp", addr, NT_SEC, &a))) {
			if (GCHECK_EQ(0, gort_accept(l, &b)))
				gort_close(b);
			gort_close(a);
		}
		/* "localhost" is the one name dialed without DNS. */
		snprintf(addr, sizeof(addr), "localhost:%d", port);
		if (GCHECK_EQ(0, gort_dial("tcp", addr, NT_SEC, &a))) {
			if (GCHECK_EQ(0, gort_accept(l, &b)))
				gort_close(b);
			gort_close(a);
		}
		GCHECK_EQ(0, gort_close(l));
	}
	return 0;
}

TEST_F(errors, good_address)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };

	have_ipv6 = fd >= 0 && !bind(fd, (struct sockaddr *)&sin6, sizeof(sin6));
	if (fd >= 0)
		close(fd);
	if (!have_ipv6)
		TH_LOG("no IPv6 loopback: [::1] not tried");
	ASSERT_EQ(0, nt_run(good_address_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- refused ---- */

static int refused_main(void *arg)
{
	struct gort_conn *l, *c = NULL;
	char addr[32];
	int64_t t;

	if (!GCHECK_EQ(0, gort_listen("tcp", "127.0.0.1:0", &l)))
		return 1;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", gort_local_port(l));
	/* In use. */
	expect(-EADDRINUSE, gort_listen("tcp", addr, &c), c, "gort_listen(%s) again", addr);
	GCHECK_EQ(0, gort_close(l));
	/* Nobody there now. */
	t = gort_nanotime();
	expect(-ECONNREFUSED, gort_dial("tcp", addr, 5 * NT_SEC, &c), c,
	       "gort_dial(%s), closed port", addr);
	if (gort_nanotime() - t > nt_slack())
		GFAIL("refusal took %lld ms", (long long)((gort_nanotime() - t) / GT_MS));
	/* With no timeout at all, too. */
	expect(-ECONNREFUSED, gort_dial("tcp", addr, 0, &c), c,
	       "gort_dial(%s, no timeout), closed port", addr);
	return 0;
}

TEST_F(errors, refused)
{
	ASSERT_EQ(0, nt_run(refused_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- wrong_kind ---- */

static int wrong_kind_main(void *arg)
{
	struct gort_conn *l, *a, *b, *x = NULL;
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	char buf[8];
	ssize_t r;

	if (!GCHECK_EQ(0, nt_tcp_pair(&a, &b)) ||
	    !GCHECK_EQ(0, gort_listen("tcp", "127.0.0.1:0", &l)))
		return 1;
	/* Bounded, should any of these park. */
	GCHECK_EQ(0, gort_set_deadline(a, gort_nanotime() + NT_SEC));
	GCHECK_EQ(0, gort_set_deadline(l, gort_nanotime() + NT_SEC));

	r = gort_accept(a, &x);
	fprintf(stderr, "# gort_accept on a connected socket = %zd (%s)\n", r, strerror((int)-r));
	GCHECK(r < 0 && r != -ETIMEDOUT);
	if (r == 0)
		gort_close(x);
	r = gort_read(l, buf, sizeof(buf));
	fprintf(stderr, "# gort_read on a listener = %zd (%s)\n", r, strerror((int)-r));
	GCHECK(r < 0 && r != -ETIMEDOUT);
	r = gort_write(l, "x", 1);
	fprintf(stderr, "# gort_write on a listener = %zd (%s)\n", r, strerror((int)-r));
	GCHECK(r < 0 && r != -ETIMEDOUT);
	GCHECK_EQ(-ESPIPE, gort_pread(a, buf, 1, 0));
	GCHECK_EQ(-ESPIPE, gort_pwrite(a, "x", 1, 0));
	GCHECK_EQ(-EINVAL, gort_shutdown(a, 42));
	GCHECK_EQ(-EINVAL, gort_writev(a, &iov, -1));
	GCHECK_EQ(-EINVAL, gort_readv(a, &iov, -1));
	GCHECK_EQ(-EINVAL, gort_writev(a, &iov, IOV_MAX + 1));
	/* Still a working connection afterwards. */
	GCHECK_EQ(1, gort_write(a, "k", 1));
	GCHECK_EQ(0, gort_set_deadline(b, gort_nanotime() + NT_SEC));
	GCHECK_EQ(1, gort_read(b, buf, 1));
	GCHECK_EQ('k', buf[0]);
	GCHECK_EQ(0, gort_close(l));
	GCHECK_EQ(0, gort_close(a));
	GCHECK_EQ(0, gort_close(b));
	return 0;
}

TEST_F(errors, wrong_kind)
{
	ASSERT_EQ(0, nt_run(wrong_kind_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- zero_length ---- */

static int zero_length_main(void *arg)
{
	struct gort_conn *a, *b;
	char c;

	if (!GCHECK_EQ(0, nt_tcp_pair(&a, &b)))
		return 1;
	GCHECK_EQ(0, gort_write(a, "", 0));
	GCHECK_EQ(0, gort_send(a, "", 0));
	GCHECK_EQ(0, gort_writev(a, NULL, 0));
	/* Nothing was sent: the next byte is the first. */
	GCHECK_EQ(1, gort_write(a, "1", 1));
	GCHECK_EQ(0, gort_set_deadline(b, gort_nanotime() + NT_SEC));
	GCHECK_EQ(1, gort_read(b, &c, 1));
	GCHECK_EQ('1', c);
	GCHECK_EQ(0, gort_close(a));
	GCHECK_EQ(0, gort_close(b));
	return 0;
}

TEST_F(errors, zero_length)
{
	ASSERT_EQ(0, nt_run(zero_length_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

TEST_HARNESS_MAIN
