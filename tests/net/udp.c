/* SPDX-License-Identifier: MIT */
/*
 * Description: UDP through the netpoller: datagrams keep their
 * boundaries and their sender's address.
 *
 * - round_trip: gort_listen("udp", "127.0.0.1:0") is the server; a
 *   client from gort_dial("udp") writes datagrams of 1, 1000 and 60000
 *   bytes; gort_recvfrom() gets each whole, from the client's address
 *   (gort_local_addr() of the client); gort_sendto() answers to that
 *   address and the client's gort_read() gets the answer.  An unbound
 *   second socket (another gort_listen) reaches the server with
 *   gort_sendto() and is seen as the sender.  An empty datagram is
 *   received as 0 bytes, from its sender.  A 100-byte datagram read
 *   into 10 bytes is cut, MSG_TRUNC set.
 * - echo: an echo server goroutine; 4 clients each exchange 250
 *   datagrams of seeded random size (1 B .. 60000 B) in lockstep (so
 *   loopback never drops one), checked byte for byte.
 * - deadline_close: a read deadline fails gort_recvfrom with -ETIMEDOUT
 *   on time; a gort_recvfrom pending when another goroutine closes the
 *   socket returns -EBADF.
 * - refused: a connected UDP socket to a port nobody listens on gets
 *   -ECONNREFUSED from the ICMP error, on the write or the next read.
 * - udp6: the round trip over [::1] (SKIPped without IPv6).
 *
 * Variants: io_uring and epoll, on 2 Ps.
 */
#include "net_test.h"

#define NT_SEED		0x7564702d6e743031ULL
#define MAX_DGRAM	60000
#define NR_CLIENTS	4
#define NR_EXCHANGES	250

FIXTURE(udp) {
};

FIXTURE_VARIANT(udp) {
	const char *poller, *mode;
	int maxprocs;
};

FIXTURE_VARIANT_ADD(udp, uring) { .poller = "uring", .mode = "io_uring", .maxprocs = 2, };
FIXTURE_VARIANT_ADD(udp, epoll) { .poller = "epoll", .mode = "epoll", .maxprocs = 2, };

FIXTURE_SETUP(udp)
{
	NT_SETUP_POLLER(variant);
}

FIXTURE_TEARDOWN(udp)
{
}

/* same_addr() - are @a and @b the same IPv4/IPv6 address and port? */
static bool same_addr(const struct sockaddr_storage *a, socklen_t alen,
		      const struct sockaddr_storage *b, socklen_t blen)
{
	if (a->ss_family != b->ss_family || alen != blen)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
	}
	return false;
}

static void show_addr(const char *what, const struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN] = "?";
	const void *p = ss->ss_family == AF_INET6 ?
		(const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr :
		(const void *)&((const struct sockaddr_in *)ss)->sin_addr;

	inet_ntop(ss->ss_family, p, host, sizeof(host));
	fprintf(stderr, "#   %s: family %d %s port %d\n", what, ss->ss_family,
		host, nt_port_of(ss));
}

/* ---- round_trip, udp6 ---- */

static const char *rt_host;	/* "127.0.0.1" or "[::1]" */
static const char *rt_net;	/* "udp" or "udp6" */

static int round_trip_main(void *arg)
{
	static const size_t sizes[] = { 1, 1000, MAX_DGRAM };
	struct sockaddr_storage from, want, srvaddr;
	socklen_t fromlen, wantlen, srvlen;
	struct gort_conn *srv, *cli, *other;
	char *buf = malloc(MAX_DGRAM + 1), *rbuf = malloc(MAX_DGRAM + 1);
	char addr[64], small[10];
	struct iovec iov = { .iov_base = small, .iov_len = sizeof(small) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	uint64_t key = nt_key(NT_SEED, 1);
	ssize_t r;
	size_t i;

	if (!GCHECK(buf && rbuf))
		return 1;
	snprintf(addr, sizeof(addr), "%s:0", rt_host);
	if (!GCHECK_EQ(0, gort_listen(rt_net, addr, &srv)))
		return 1;
	GCHECK_EQ(0, gort_set_deadline(srv, gort_nanotime() + 5 * NT_SEC));
	snprintf(addr, sizeof(addr), "%s:%d", rt_host, gort_local_port(srv));
	if (!GCHECK_EQ(0, gort_dial(rt_net, addr, NT_SEC, &cli)))
		return 1;
	GCHECK_EQ(0, gort_set_deadline(cli, gort_nanotime() + 5 * NT_SEC));
	wantlen = sizeof(want);
	GCHECK_EQ(0, gort_local_addr(cli, (struct sockaddr *)&want, &wantlen));

	for (i = 0; i < GT_ARRAY_SIZE(sizes); i++) {
		nt_fill(buf, sizes[i], key, i << 20);
		GCHECK_EQ(sizes[i], gort_write(cli, buf, sizes[i]));
	}
	for (i = 0; i < GT_ARRAY_SIZE(sizes); i++) {
		fromlen = sizeof(from);
		memset(&from, 0, sizeof(from));
		r = gort_recvfrom(srv, rbuf, MAX_DGRAM + 1,
				  (struct sockaddr *)&from, &fromlen);
		if (!GCHECK_EQ(sizes[i], r))
			continue;
		GCHECK_EQ(-1, nt_check(rbuf, sizes[i], key, i << 20));
		if (!GCHECK(same_addr(&from, fromlen, &want, wantlen))) {
			show_addr("recvfrom says", &from);
			show_addr("client is", &want);
		}
		/* Answer to the address it came from. */
		nt_fill(buf, sizes[i], key, i << 20 | 1 << 19);
		GCHECK_EQ(sizes[i], gort_sendto(srv, buf, sizes[i],
						(struct sockaddr *)&from, fromlen));
		r = gort_read(cli, rbuf, MAX_DGRAM + 1);
		if (GCHECK_EQ(sizes[i], r))
			GCHECK_EQ(-1, nt_check(rbuf, sizes[i], key, i << 20 | 1 << 19));
	}

	/* An unconnected socket, gort_sendto() to the server. */
	snprintf(addr, sizeof(addr), "%s:0", rt_host);
	if (GCHECK_EQ(0, gort_listen(rt_net, addr, &other))) {
		srvlen = sizeof(srvaddr);
		GCHECK_EQ(0, gort_local_addr(srv, (struct sockaddr *)&srvaddr, &srvlen));
		wantlen = sizeof(want);
		GCHECK_EQ(0, gort_local_addr(other, (struct sockaddr *)&want, &wantlen));
		GCHECK_EQ(5, gort_sendto(other, "other", 5, (struct sockaddr *)&srvaddr,
					 srvlen));
		fromlen = sizeof(from);
		r = gort_recvfrom(srv, rbuf, MAX_DGRAM, (struct sockaddr *)&from, &fromlen);
		if (GCHECK_EQ(5, r))
			GCHECK(!memcmp(rbuf, "other", 5));
		GCHECK(same_addr(&from, fromlen, &want, wantlen));
		GCHECK_EQ(gort_local_port(other), nt_port_of(&from));

		/* An empty datagram is 0 bytes, not end of file. */
		GCHECK_EQ(0, gort_sendto(other, "", 0, (struct sockaddr *)&srvaddr, srvlen));
		fromlen = sizeof(from);
		memset(&from, 0, sizeof(from));
		GCHECK_EQ(0, gort_recvfrom(srv, rbuf, MAX_DGRAM, (struct sockaddr *)&from,
					   &fromlen));
		GCHECK_EQ(gort_local_port(other), nt_port_of(&from));
		GCHECK_EQ(0, gort_close(other));
	}

	/* Cut to the buffer: MSG_TRUNC. */
	nt_fill(buf, 100, key, 0);
	GCHECK_EQ(100, gort_write(cli, buf, 100));
	r = gort_recvmsg(srv, &msg, 0);
	GCHECK_EQ(sizeof(small), r);
	GCHECK(msg.msg_flags & MSG_TRUNC);
	GCHECK_EQ(-1, nt_check(small, sizeof(small), key, 0));

	GCHECK_EQ(0, gort_close(cli));
	GCHECK_EQ(0, gort_close(srv));
	free(buf);
	free(rbuf);
	return 0;
}

TEST_F(udp, round_trip)
{
	rt_host = "127.0.0.1";
	rt_net = "udp";
	ASSERT_EQ(0, nt_run(round_trip_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

TEST_F(udp, udp6)
{
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	bool ok = fd >= 0 && !bind(fd, (struct sockaddr *)&sin6, sizeof(sin6));

	if (fd >= 0)
		close(fd);
	if (!ok)
		SKIP(return, "no IPv6 loopback: %s", strerror(errno));
	rt_host = "[::1]";
	rt_net = "udp6";
	ASSERT_EQ(0, nt_run(round_trip_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- echo ---- */

static struct {
	struct gort_conn *srv;
	char addr[32];
	atomic_int stop;
	_Atomic long exchanged;
	uint32_t done, srv_done;
} ec;

static void echo_server(void *arg)
{
	struct sockaddr_storage from;
	socklen_t fromlen;
	char *buf = malloc(MAX_DGRAM);
	ssize_t r, w;

	while (GCHECK(buf)) {
		fromlen = sizeof(from);
		r = gort_recvfrom(ec.srv, buf, MAX_DGRAM, (struct sockaddr *)&from,
				  &fromlen);
		if (r == -EBADF && atomic_load(&ec.stop))
			break;
		if (r < 0) {
			GFAIL("server recvfrom: %zd (%s)", r, strerror((int)-r));
			break;
		}
		w = gort_sendto(ec.srv, buf, (size_t)r, (struct sockaddr *)&from, fromlen);
		if (w != r) {
			GFAIL("server sendto(%zd): %zd", r, w);
			break;
		}
	}
	free(buf);
	gort_sema_release(&ec.srv_done);
}

static void echo_client(void *arg)
{
	int id = (int)(intptr_t)arg, i;
	char *buf = malloc(MAX_DGRAM), *rbuf = malloc(MAX_DGRAM + 1);
	uint64_t key = nt_key(NT_SEED, 100 + (uint64_t)id);
	struct gort_conn *c;
	struct nt_rng rng;
	ssize_t r, bad;

	nt_seed(&rng, NT_SEED, (uint64_t)id);
	if (!GCHECK(buf && rbuf) || !GCHECK_EQ(0, gort_dial("udp", ec.addr, NT_SEC, &c)))
		goto out;
	GCHECK_EQ(0, gort_set_deadline(c, gort_nanotime() + 10 * NT_SEC));
	for (i = 0; i < NR_EXCHANGES; i++) {
		size_t n = nt_size(&rng, MAX_DGRAM);
		uint64_t off = (uint64_t)i << 16;

		nt_fill(buf, n, key, off);
		r = gort_write(c, buf, n);
		if (r != (ssize_t)n) {
			GFAIL("client %d: datagram %d (%zu B): write %zd", id, i, n, r);
			break;
		}
		r = gort_read(c, rbuf, MAX_DGRAM + 1);
		if (r != (ssize_t)n) {
			GFAIL("client %d: datagram %d: sent %zu B, got back %zd", id, i, n, r);
			break;
		}
		if ((bad = nt_check(rbuf, n, key, off)) >= 0) {
			GFAIL("client %d: datagram %d (%zu B): byte %zd wrong", id, i, n, bad);
			break;
		}
		atomic_fetch_add(&ec.exchanged, 1);
	}
	GCHECK_EQ(0, gort_close(c));
out:
	free(buf);
	free(rbuf);
	gort_sema_release(&ec.done);
}

static int echo_main(void *arg)
{
	int i;

	if (!GCHECK_EQ(0, gort_listen("udp", "127.0.0.1:0", &ec.srv)))
		return 1;
	snprintf(ec.addr, sizeof(ec.addr), "127.0.0.1:%d", gort_local_port(ec.srv));
	GCHECK(gort_go(echo_server, NULL) > 0);
	for (i = 0; i < NR_CLIENTS; i++)
		GCHECK(gort_go(echo_client, (void *)(intptr_t)i) > 0);
	if (!gt_sema_wait(&ec.done, NR_CLIENTS, 15000))
		return 1;
	atomic_store(&ec.stop, 1);
	GCHECK_EQ(0, gort_close(ec.srv));
	gt_sema_wait(&ec.srv_done, 1, 2000);
	return 0;
}

TEST_F(udp, echo)
{
	ASSERT_EQ(0, nt_run(echo_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(NR_CLIENTS * NR_EXCHANGES, atomic_load(&ec.exchanged));
}

/* ---- deadline_close ---- */

static struct {
	struct gort_conn *c;
	atomic_int entering;
	ssize_t r;
	int64_t at;
	uint32_t done;
} dc;

static void pending_recv(void *arg)
{
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	char buf[16];

	atomic_store(&dc.entering, 1);
	dc.r = gort_recvfrom(dc.c, buf, sizeof(buf), (struct sockaddr *)&from, &fromlen);
	dc.at = gort_nanotime();
	gort_sema_release(&dc.done);
}

static int deadline_close_main(void *arg)
{
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	char buf[16];
	int64_t d, t;
	ssize_t r;

	if (!GCHECK_EQ(0, gort_listen("udp", "127.0.0.1:0", &dc.c)))
		return 1;
	d = gort_nanotime() + 100 * GT_MS;
	GCHECK_EQ(0, gort_set_read_deadline(dc.c, d));
	r = gort_recvfrom(dc.c, buf, sizeof(buf), (struct sockaddr *)&from, &fromlen);
	t = gort_nanotime();
	GCHECK_EQ(-ETIMEDOUT, r);
	GCHECK(t >= d);
	if (t - d > nt_slack())
		GFAIL("recvfrom timed out %lld ms late", (long long)((t - d) / GT_MS));

	GCHECK_EQ(0, gort_set_read_deadline(dc.c, 0));
	GCHECK(gort_go(pending_recv, NULL) > 0);
	if (!GCHECK(GT_WAIT_UNTIL(atomic_load(&dc.entering), 5000)))
		return 1;
	gort_sleep(20 * GT_MS);
	t = gort_nanotime();
	GCHECK_EQ(0, gort_close(dc.c));
	if (!gt_sema_wait(&dc.done, 1, 5000))
		return 1;
	GCHECK_EQ(-EBADF, dc.r);
	if (dc.at - t > nt_slack())
		GFAIL("pending recvfrom returned %lld ms after the close",
		      (long long)((dc.at - t) / GT_MS));
	return 0;
}

TEST_F(udp, deadline_close)
{
	ASSERT_EQ(0, nt_run(deadline_close_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- refused ---- */

static int refused_main(void *arg)
{
	struct gort_conn *l, *c;
	char addr[32], buf[8];
	ssize_t r;
	int i;

	/* A port that was just free: bind one, note it, close it. */
	if (!GCHECK_EQ(0, gort_listen("udp", "127.0.0.1:0", &l)))
		return 1;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", gort_local_port(l));
	GCHECK_EQ(0, gort_close(l));
	if (!GCHECK_EQ(0, gort_dial("udp", addr, NT_SEC, &c)))
		return 1;
	GCHECK_EQ(0, gort_set_deadline(c, gort_nanotime() + 2 * NT_SEC));
	/* The ICMP error comes back after the first write. */
	r = gort_write(c, "ping", 4);
	for (i = 0; r == 4 && i < 2; i++)
		r = gort_read(c, buf, sizeof(buf));
	if (r != -ECONNREFUSED)
		GFAIL("UDP to a closed port: %zd (%s), want -ECONNREFUSED", r,
		      r < 0 ? strerror((int)-r) : "data");
	GCHECK_EQ(0, gort_close(c));
	return 0;
}

TEST_F(udp, refused)
{
	ASSERT_EQ(0, nt_run(refused_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

TEST_HARNESS_MAIN
