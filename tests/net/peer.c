/* SPDX-License-Identifier: MIT */
/*
 * Description: what a reader and a writer see when the peer resets,
 * closes or half-closes the connection.
 *
 * - reset_pending: a goroutine is blocked in gort_read(); the peer sets
 *   SO_LINGER {1, 0} and closes, which sends a RST: the read returns
 *   -ECONNRESET (Go: "connection reset by peer"; Linux read(2) says the
 *   same).  0 is tolerated, as a peer close, but printed.  Seen with
 *   both pollers (6.18 kernel): -ECONNRESET, pending or not.
 * - reset_before_read: the same, with the RST already in when the read
 *   starts.
 * - write_to_closed: the peer closes (a normal close); writing on goes on
 *   until the kernel reports it: -EPIPE or -ECONNRESET, never SIGPIPE
 *   (the default action, left in place here, would kill the test).  The
 *   same for gort_send, gort_writev and gort_sendmsg.
 * - half_close: the peer writes 100 KiB and gort_shutdown(SHUT_WR)s; the
 *   reader gets all of it, then 0, and 0 again; it can still write back
 *   100 KiB, which the peer reads in full before its own end of file.
 * - shutdown_read: gort_shutdown(SHUT_RD) of one's own side wakes a
 *   pending read of it with 0, as read(2) on Linux.
 *
 * Variants: io_uring and epoll, on 2 Ps.
 */
#include "net_test.h"

#define NT_SEED		0x706565722d6e7431ULL
#define HALF		(100 << 10)

FIXTURE(peer) {
};

FIXTURE_VARIANT(peer) {
	const char *poller, *mode;
	int maxprocs;
};

FIXTURE_VARIANT_ADD(peer, uring) { .poller = "uring", .mode = "io_uring", .maxprocs = 2, };
FIXTURE_VARIANT_ADD(peer, epoll) { .poller = "epoll", .mode = "epoll", .maxprocs = 2, };

FIXTURE_SETUP(peer)
{
	NT_SETUP_POLLER(variant);
}

FIXTURE_TEARDOWN(peer)
{
}

static struct {
	struct gort_conn *a, *b;
	atomic_int entering;
	ssize_t r;
	uint32_t done;
} pr;

/* reset() - make @c's close send a RST, and close it. */
static void reset(struct gort_conn *c)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	GCHECK_EQ(0, setsockopt(gort_conn_fd(c), SOL_SOCKET, SO_LINGER, &lg,
				sizeof(lg)));
	GCHECK_EQ(0, gort_close(c));
}

static void check_reset(ssize_t r, const char *when)
{
	if (r == -ECONNRESET)
		return;
	if (r == 0) {
		fprintf(stderr, "# %s: read after a RST returned 0, not -ECONNRESET\n",
			when);
		return;
	}
	GFAIL("%s: read after a RST returned %zd (%s), want -ECONNRESET", when,
	      r, r < 0 ? strerror((int)-r) : "data");
}

static void reader(void *arg)
{
	char buf[16];

	atomic_store(&pr.entering, 1);
	pr.r = gort_read(pr.a, buf, sizeof(buf));
	gort_sema_release(&pr.done);
}

static int reset_pending_main(void *arg)
{
	if (!GCHECK_EQ(0, nt_tcp_pair(&pr.a, &pr.b)))
		return 1;
	GCHECK_EQ(0, gort_set_deadline(pr.a, gort_nanotime() + 5 * NT_SEC));
	GCHECK(gort_go(reader, NULL) > 0);
	if (!GCHECK(GT_WAIT_UNTIL(atomic_load(&pr.entering), 5000)))
		return 1;
	gort_sleep(20 * GT_MS);
	reset(pr.b);
	if (!gt_sema_wait(&pr.done, 1, 5000))
		return 1;
	check_reset(pr.r, "pending");
	GCHECK_EQ(0, gort_close(pr.a));
	return 0;
}

TEST_F(peer, reset_pending)
{
	ASSERT_EQ(0, nt_run(reset_pending_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

static int reset_before_main(void *arg)
{
	char buf[16];

	if (!GCHECK_EQ(0, nt_tcp_pair(&pr.a, &pr.b)))
		return 1;
	GCHECK_EQ(0, gort_set_deadline(pr.a, gort_nanotime() + 5 * NT_SEC));
	reset(pr.b);
	gort_sleep(20 * GT_MS);
	check_reset(gort_read(pr.a, buf, sizeof(buf)), "before the read");
	GCHECK_EQ(0, gort_close(pr.a));
	return 0;
}

TEST_F(peer, reset_before_read)
{
	ASSERT_EQ(0, nt_run(reset_before_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- write_to_closed ---- */

enum how { W_WRITE, W_SEND, W_WRITEV, W_SENDMSG };

static ssize_t write_how(struct gort_conn *c, enum how how, char *buf, size_t n)
{
	struct iovec iov[2] = {
		{ .iov_base = buf, .iov_len = n / 2 },
		{ .iov_base = buf + n / 2, .iov_len = n - n / 2 },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	switch (how) {
	case W_WRITE:
		return gort_write(c, buf, n);
	case W_SEND:
		return gort_send(c, buf, n);
	case W_WRITEV:
		return gort_writev(c, iov, 2);
	case W_SENDMSG:
		return gort_sendmsg(c, &msg, 0);
	}
	return -EINVAL;
}

static int write_closed_main(void *arg)
{
	static const char *names[] = { "gort_write", "gort_send", "gort_writev",
				       "gort_sendmsg" };
	char buf[1024] = { 0 };
	enum how how;
	ssize_t r = 0;
	int i;

	for (how = W_WRITE; how <= W_SENDMSG; how++) {
		if (!GCHECK_EQ(0, nt_tcp_pair(&pr.a, &pr.b)))
			return 1;
		GCHECK_EQ(0, gort_set_deadline(pr.a, gort_nanotime() + 5 * NT_SEC));
		GCHECK_EQ(0, gort_close(pr.b));
		/* The first writes may land; the peer's RST ends them. */
		for (i = 0; i < 100; i++) {
			r = write_how(pr.a, how, buf, sizeof(buf));
			if (r < 0)
				break;
			if (!GCHECK(r > 0 && r <= (ssize_t)sizeof(buf)))
				break;
			gort_sleep(GT_MS);
		}
		if (r != -EPIPE && r != -ECONNRESET)
			GFAIL("%s to a closed peer, write %d: %zd (%s), want -EPIPE",
			      names[how], i, r, r < 0 ? strerror((int)-r) : "ok");
		GCHECK_EQ(0, gort_close(pr.a));
	}
	return 0;
}

TEST_F(peer, write_to_closed)
{
	ASSERT_EQ(0, nt_run(write_closed_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- half_close ---- */

static void half_peer(void *arg)
{
	char *buf = malloc(HALF);
	uint64_t key = nt_key(NT_SEED, 1);
	ssize_t r, bad;
	char c;

	if (!GCHECK(buf))
		goto out;
	nt_fill(buf, HALF, nt_key(NT_SEED, 0), 0);
	GCHECK_EQ(HALF, gort_write(pr.b, buf, HALF));
	GCHECK_EQ(0, gort_shutdown(pr.b, SHUT_WR));
	/* The other way still works. */
	memset(buf, 0, HALF);
	r = nt_read_full(pr.b, buf, HALF);
	if (GCHECK_EQ(HALF, r) && (bad = nt_check(buf, HALF, key, 0)) >= 0)
		GFAIL("reply byte %zd is wrong", bad);
	GCHECK_EQ(0, gort_read(pr.b, &c, 1));
out:
	free(buf);
	gort_sema_release(&pr.done);
}

static int half_close_main(void *arg)
{
	char *buf = malloc(HALF + 1);
	ssize_t r, bad;

	if (!GCHECK(buf) || !GCHECK_EQ(0, nt_tcp_pair(&pr.a, &pr.b)))
		return 1;
	GCHECK_EQ(0, gort_set_deadline(pr.a, gort_nanotime() + 5 * NT_SEC));
	GCHECK_EQ(0, gort_set_deadline(pr.b, gort_nanotime() + 5 * NT_SEC));
	GCHECK(gort_go(half_peer, NULL) > 0);
	/* All of it, then end of file (asking for one byte more). */
	r = nt_read_full(pr.a, buf, HALF + 1);
	if (GCHECK_EQ(HALF, r) && (bad = nt_check(buf, HALF, nt_key(NT_SEED, 0), 0)) >= 0)
		GFAIL("byte %zd is wrong", bad);
	GCHECK_EQ(0, gort_read(pr.a, buf, 1));
	GCHECK_EQ(0, gort_read(pr.a, buf, 1));	/* and stays there */
	nt_fill(buf, HALF, nt_key(NT_SEED, 1), 0);
	GCHECK_EQ(HALF, gort_write(pr.a, buf, HALF));
	GCHECK_EQ(0, gort_shutdown(pr.a, SHUT_WR));
	gt_sema_wait(&pr.done, 1, 5000);
	GCHECK_EQ(0, gort_close(pr.a));
	GCHECK_EQ(0, gort_close(pr.b));
	free(buf);
	return 0;
}

TEST_F(peer, half_close)
{
	ASSERT_EQ(0, nt_run(half_close_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- shutdown_read ---- */

static int shutdown_read_main(void *arg)
{
	int64_t t;

	if (!GCHECK_EQ(0, nt_tcp_pair(&pr.a, &pr.b)))
		return 1;
	GCHECK_EQ(0, gort_set_deadline(pr.a, gort_nanotime() + 5 * NT_SEC));
	GCHECK(gort_go(reader, NULL) > 0);
	if (!GCHECK(GT_WAIT_UNTIL(atomic_load(&pr.entering), 5000)))
		return 1;
	gort_sleep(20 * GT_MS);
	t = gort_nanotime();
	GCHECK_EQ(0, gort_shutdown(pr.a, SHUT_RD));
	if (!gt_sema_wait(&pr.done, 1, 5000))
		return 1;
	GCHECK_EQ(0, pr.r);
	if (gort_nanotime() - t > nt_slack())
		GFAIL("the read took %lld ms to see the shutdown",
		      (long long)((gort_nanotime() - t) / GT_MS));
	GCHECK_EQ(0, gort_close(pr.a));
	GCHECK_EQ(0, gort_close(pr.b));
	return 0;
}

TEST_F(peer, shutdown_read)
{
	ASSERT_EQ(0, nt_run(shutdown_read_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

TEST_HARNESS_MAIN
