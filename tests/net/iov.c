/* SPDX-License-Identifier: MIT */
/*
 * Description: the vector and message calls, and the address queries.
 *
 * - writev_readv: 20 rounds: a gort_writev() of up to 64 buffers (seeded
 *   sizes, some empty, up to 512 KiB in all: more than the socket holds,
 *   so the call must resume in the middle of a buffer) against a reader
 *   goroutine doing gort_readv() into 1..16 random-size buffers; the
 *   stream is checked byte for byte.
 * - sendmsg_recvmsg: gort_sendmsg() of two buffers over TCP, received by
 *   gort_recvmsg() with MSG_PEEK (data stays) and then without;
 *   MSG_WAITALL waits for a message written in two halves 50 ms apart;
 *   over UDP, msg_name carries the sender's address.
 * - send_partial: gort_send() of 4 MiB to a peer that reads nothing
 *   writes part of it (0 < n < 4 MiB), returning instead of waiting.
 * - addresses: gort_local_port() of a listener on port 0; a dialed
 *   connection's gort_local_addr() is the accepted one's
 *   gort_remote_addr() and the other way round; the length is an
 *   in/out parameter; gort_conn_fd() is a socket that getsockname(2)
 *   agrees with.
 *
 * Variants: io_uring and epoll, on 1 and 2 Ps.
 */
#include "net_test.h"

#define NT_SEED		0x696f762d6e743031ULL
#define NR_ROUNDS	20
#define MAX_IOV		64
#define MAX_TOTAL	(512 << 10)

FIXTURE(iov) {
};

FIXTURE_VARIANT(iov) {
	const char *poller, *mode;
	int maxprocs;
};

FIXTURE_VARIANT_ADD(iov, uring_procs1) { .poller = "uring", .mode = "io_uring", .maxprocs = 1, };
FIXTURE_VARIANT_ADD(iov, uring_procs2) { .poller = "uring", .mode = "io_uring", .maxprocs = 2, };
FIXTURE_VARIANT_ADD(iov, epoll_procs1) { .poller = "epoll", .mode = "epoll", .maxprocs = 1, };
FIXTURE_VARIANT_ADD(iov, epoll_procs2) { .poller = "epoll", .mode = "epoll", .maxprocs = 2, };

FIXTURE_SETUP(iov)
{
	NT_SETUP_POLLER(variant);
}

FIXTURE_TEARDOWN(iov)
{
}

/* ---- writev_readv ---- */

static struct {
	struct gort_conn *a, *b;
	uint64_t key;
	uint64_t total;			/* bytes the writer sends */
	uint64_t got;
	uint32_t done;
} wv;

static void readv_reader(void *arg)
{
	struct nt_rng rng;
	char *buf = malloc(MAX_TOTAL);
	struct iovec iov[16];
	ssize_t r, bad;

	nt_seed(&rng, NT_SEED, 7);
	while (GCHECK(buf)) {
		int n = 1 + (int)nt_below(&rng, 16), i;
		size_t len = 0, sz;

		for (i = 0; i < n; i++) {
			sz = nt_size(&rng, 16 << 10);
			if (len + sz > MAX_TOTAL)
				sz = 0;
			iov[i] = (struct iovec){ .iov_base = buf + len, .iov_len = sz };
			len += sz;
		}
		r = gort_readv(wv.b, iov, n);
		if (r == 0)
			break;
		if (r < 0) {
			GFAIL("gort_readv after %llu bytes: %zd (%s)",
			      (unsigned long long)wv.got, r, strerror((int)-r));
			break;
		}
		if (!GCHECK((size_t)r <= len))
			break;
		/* The buffers are contiguous in buf: check in one go. */
		if ((bad = nt_check(buf, (size_t)r, wv.key, wv.got)) >= 0) {
			GFAIL("byte %llu wrong (readv of %d buffers, %zu bytes, got %zd)",
			      (unsigned long long)(wv.got + (uint64_t)bad), n, len, r);
			break;
		}
		wv.got += (uint64_t)r;
	}
	free(buf);
	gort_sema_release(&wv.done);
}

static int writev_readv_main(void *arg)
{
	struct iovec iov[MAX_IOV];
	char *buf = malloc(MAX_TOTAL);
	struct nt_rng rng;
	uint64_t off = 0;
	int round, i, n;
	ssize_t r;

	if (!GCHECK(buf) || !GCHECK_EQ(0, nt_tcp_pair(&wv.a, &wv.b)))
		return 1;
	GCHECK_EQ(0, gort_set_deadline(wv.a, gort_nanotime() + 10 * NT_SEC));
	GCHECK_EQ(0, gort_set_deadline(wv.b, gort_nanotime() + 10 * NT_SEC));
	wv.key = nt_key(NT_SEED, 1);
	nt_seed(&rng, NT_SEED, 2);
	GCHECK(gort_go(readv_reader, NULL) > 0);
	for (round = 0; round < NR_ROUNDS; round++) {
		size_t len = 0;

		n = 1 + (int)nt_below(&rng, MAX_IOV);
		for (i = 0; i < n; i++) {
			/* One in eight empty. */
			size_t sz = nt_below(&rng, 8) ? nt_size(&rng, 64 << 10) : 0;

			if (len + sz > MAX_TOTAL)
				sz = MAX_TOTAL - len;
			iov[i] = (struct iovec){ .iov_base = buf + len, .iov_len = sz };
			len += sz;
		}
		/* Scatter the stream over the buffers, in order. */
		nt_fill(buf, len, wv.key, off);
		r = gort_writev(wv.a, iov, n);
		if (r != (ssize_t)len) {
			GFAIL("round %d: gort_writev(%d buffers, %zu bytes): %zd",
			      round, n, len, r);
			break;
		}
		off += len;
	}
	wv.total = off;
	GCHECK_EQ(0, gort_shutdown(wv.a, SHUT_WR));
	if (!gt_sema_wait(&wv.done, 1, 10000))
		return 1;
	GCHECK_EQ(wv.total, wv.got);
	GCHECK_EQ(0, gort_close(wv.a));
	GCHECK_EQ(0, gort_close(wv.b));
	free(buf);
	return 0;
}

TEST_F(iov, writev_readv)
{
	ASSERT_EQ(0, nt_run(writev_readv_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	TH_LOG("%llu bytes in %d gort_writev calls", (unsigned long long)wv.total,
	       NR_ROUNDS);
}

/* ---- sendmsg_recvmsg ---- */

static struct {
	struct gort_conn *a;
	uint32_t done;
} half;

static void late_halves(void *arg)
{
	GCHECK_EQ(5, gort_write(half.a, "01234", 5));
	gort_sleep(50 * GT_MS);
	GCHECK_EQ(5, gort_write(half.a, "56789", 5));
	gort_sema_release(&half.done);
}

static int sendmsg_recvmsg_main(void *arg)
{
	struct sockaddr_storage from, want;
	socklen_t wantlen = sizeof(want);
	struct gort_conn *a, *b, *u1, *u2;
	char r1[4], r2[8], buf[16];
	struct iovec out[2] = {
		{ .iov_base = "head", .iov_len = 4 },
		{ .iov_base = "-body", .iov_len = 5 },
	};
	struct iovec in[2] = {
		{ .iov_base = r1, .iov_len = sizeof(r1) },
		{ .iov_base = r2, .iov_len = sizeof(r2) },
	};
	struct msghdr msg = { .msg_iov = out, .msg_iovlen = 2 };
	struct iovec one = { .iov_base = buf, .iov_len = sizeof(buf) };
	ssize_t r;

	if (!GCHECK_EQ(0, nt_tcp_pair(&a, &b)))
		return 1;
	GCHECK_EQ(0, gort_set_deadline(b, gort_nanotime() + 5 * NT_SEC));
	GCHECK_EQ(9, gort_sendmsg(a, &msg, 0));
	gort_sleep(10 * GT_MS);
	/* Peek: the data stays. */
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = in;
	msg.msg_iovlen = 2;
	r = gort_recvmsg(b, &msg, MSG_PEEK);
	GCHECK_EQ(9, r);
	GCHECK(!memcmp(r1, "head", 4) && !memcmp(r2, "-body", 5));
	memset(r1, 0, sizeof(r1));
	memset(r2, 0, sizeof(r2));
	r = gort_recvmsg(b, &msg, 0);
	GCHECK_EQ(9, r);
	GCHECK(!memcmp(r1, "head", 4) && !memcmp(r2, "-body", 5));

	/* MSG_WAITALL: all 10 bytes, though they come in two writes. */
	half.a = a;
	GCHECK(gort_go(late_halves, NULL) > 0);
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &one;
	msg.msg_iovlen = 1;
	one.iov_len = 10;
	r = gort_recvmsg(b, &msg, MSG_WAITALL);
	if (GCHECK_EQ(10, r))
		GCHECK(!memcmp(buf, "0123456789", 10));
	gt_sema_wait(&half.done, 1, 5000);
	GCHECK_EQ(0, gort_close(a));
	GCHECK_EQ(0, gort_close(b));

	/* UDP: msg_name both ways. */
	if (!GCHECK_EQ(0, gort_listen("udp", "127.0.0.1:0", &u1)) ||
	    !GCHECK_EQ(0, gort_listen("udp", "127.0.0.1:0", &u2)))
		return 1;
	GCHECK_EQ(0, gort_set_deadline(u2, gort_nanotime() + 5 * NT_SEC));
	GCHECK_EQ(0, gort_local_addr(u2, (struct sockaddr *)&want, &wantlen));
	memset(&msg, 0, sizeof(msg));
	msg.msg_name = &want;
	msg.msg_namelen = wantlen;
	msg.msg_iov = out;
	msg.msg_iovlen = 2;
	GCHECK_EQ(9, gort_sendmsg(u1, &msg, 0));
	memset(&msg, 0, sizeof(msg));
	memset(&from, 0, sizeof(from));
	msg.msg_name = &from;
	msg.msg_namelen = sizeof(from);
	one.iov_len = sizeof(buf);
	msg.msg_iov = &one;
	msg.msg_iovlen = 1;
	r = gort_recvmsg(u2, &msg, 0);
	if (GCHECK_EQ(9, r))
		GCHECK(!memcmp(buf, "head-body", 9));
	GCHECK_EQ(sizeof(struct sockaddr_in), msg.msg_namelen);
	GCHECK_EQ(gort_local_port(u1), nt_port_of(&from));
	GCHECK_EQ(0, gort_close(u1));
	GCHECK_EQ(0, gort_close(u2));
	return 0;
}

TEST_F(iov, sendmsg_recvmsg)
{
	ASSERT_EQ(0, nt_run(sendmsg_recvmsg_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- send_partial ---- */

#define BIG	(4 << 20)

static int send_partial_main(void *arg)
{
	struct gort_conn *a, *b;
	char *buf = calloc(1, BIG);
	ssize_t r;

	if (!GCHECK(buf) || !GCHECK_EQ(0, nt_tcp_pair(&a, &b)))
		return 1;
	nt_small_buffers(a, b);
	/* Bounded: a gort_send that waited for all would time out. */
	GCHECK_EQ(0, gort_set_write_deadline(a, gort_nanotime() + 2 * NT_SEC));
	r = gort_send(a, buf, BIG);
	if (!GCHECK(r > 0 && r < BIG))
		fprintf(stderr, "# gort_send(4 MiB) to a peer not reading: %zd\n", r);
	GCHECK_EQ(0, gort_close(a));
	GCHECK_EQ(0, gort_close(b));
	free(buf);
	return 0;
}

TEST_F(iov, send_partial)
{
	ASSERT_EQ(0, nt_run(send_partial_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- addresses ---- */

static bool same_in(const struct sockaddr_storage *x, const struct sockaddr_storage *y)
{
	const struct sockaddr_in *a = (const void *)x, *b = (const void *)y;

	return a->sin_family == AF_INET && b->sin_family == AF_INET &&
	       a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
}

static int addresses_main(void *arg)
{
	struct sockaddr_storage cl, cr, sl, sr, k;
	socklen_t cll = sizeof(cl), crl = sizeof(cr), sll = sizeof(sl),
		  srl = sizeof(sr), kl = sizeof(k), tiny = 4;
	struct gort_conn *l, *a, *b;
	char addr[32];
	int port;

	if (!GCHECK_EQ(0, gort_listen("tcp", "127.0.0.1:0", &l)))
		return 1;
	port = gort_local_port(l);
	if (!GCHECK(port > 0 && port < 65536))
		return 1;
	GCHECK_EQ(0, gort_set_deadline(l, gort_nanotime() + 5 * NT_SEC));
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	if (!GCHECK_EQ(0, gort_dial("tcp", addr, NT_SEC, &a)) ||
	    !GCHECK_EQ(0, gort_accept(l, &b)))
		return 1;
	GCHECK_EQ(0, gort_local_addr(a, (struct sockaddr *)&cl, &cll));
	GCHECK_EQ(0, gort_remote_addr(a, (struct sockaddr *)&cr, &crl));
	GCHECK_EQ(0, gort_local_addr(b, (struct sockaddr *)&sl, &sll));
	GCHECK_EQ(0, gort_remote_addr(b, (struct sockaddr *)&sr, &srl));
	GCHECK_EQ(sizeof(struct sockaddr_in), cll);
	GCHECK_EQ(sizeof(struct sockaddr_in), srl);
	GCHECK(same_in(&cl, &sr));
	GCHECK(same_in(&cr, &sl));
	GCHECK_EQ(port, nt_port_of(&cr));
	GCHECK_EQ(port, gort_local_port(b));
	GCHECK_EQ(nt_port_of(&cl), gort_local_port(a));
	GCHECK_EQ(htonl(INADDR_LOOPBACK), ((struct sockaddr_in *)&cr)->sin_addr.s_addr);
	/* The descriptor is the socket. */
	GCHECK_EQ(0, getsockname(gort_conn_fd(a), (struct sockaddr *)&k, &kl));
	GCHECK(same_in(&k, &cl));
	/* Too small a buffer: truncated, the full length reported. */
	memset(&k, 0, sizeof(k));
	GCHECK_EQ(0, gort_remote_addr(a, (struct sockaddr *)&k, &tiny));
	GCHECK_EQ(sizeof(struct sockaddr_in), tiny);
	/* A listener has no peer. */
	kl = sizeof(k);
	GCHECK_EQ(-ENOTCONN, gort_remote_addr(l, (struct sockaddr *)&k, &kl));
	GCHECK_EQ(0, gort_close(a));
	GCHECK_EQ(0, gort_close(b));
	GCHECK_EQ(0, gort_close(l));
	return 0;
}

TEST_F(iov, addresses)
{
	ASSERT_EQ(0, nt_run(addresses_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

TEST_HARNESS_MAIN
