/* SPDX-License-Identifier: MIT */
/*
 * Description: gort_close() of a connection or listener that other
 * goroutines are blocked on: each pending operation returns -EBADF at
 * once, and the descriptor is not reused under them.
 *
 * An operation is "pending" once its goroutine announced it is about to
 * start it and 20 ms have passed (it cannot be observed from outside);
 * after gort_close() the handle is never touched again, as the API asks.
 *
 * - pending_reads: 8 goroutines in gort_read() on one TCP connection,
 *   another closes it: all get -EBADF within NT_SLACK; the peer then
 *   reads end of file (the descriptor was really closed).
 * - pending_accepts: 4 goroutines in gort_accept(), the listener is
 *   closed: all get -EBADF; dialing the port is then refused.
 * - relisten: once gort_close() of a listener has returned (nothing
 *   pending, but it accepted before) or its pending accepts have
 *   returned, listening again on the same address works - the socket
 *   is closed, not left to a poller to close later.
 * - pending_write: a gort_write() of 1 MiB blocked on a peer that never
 *   reads gets -EBADF when another goroutine closes the connection.
 * - reads_and_write: readers and a blocked writer on one connection.
 * - no_reuse: 50 rounds of: 4 pending readers, close, and at once open 4
 *   new connections whose peers write to them.  A reader of the closed
 *   connection that got the new connections' data would have been
 *   reading a reused descriptor.  Under ASan, use-after-free shows too.
 * - race: 200 rounds of a single pending read racing a close and a
 *   one-byte write by the peer, with seeded jitter: the read returns the
 *   byte or -EBADF, nothing else, and nothing crashes.
 *
 * Variants: io_uring and epoll, on 1 and 2 Ps.
 */
#include "net_test.h"

#define PARK_TIME	(20 * GT_MS)	/* for pending goroutines to park */
#define NT_SEED		0x636c6f73652d6e74ULL

FIXTURE(close) {
};

FIXTURE_VARIANT(close) {
	const char *poller, *mode;
	int maxprocs;
};

FIXTURE_VARIANT_ADD(close, uring_procs1) { .poller = "uring", .mode = "io_uring", .maxprocs = 1, };
FIXTURE_VARIANT_ADD(close, uring_procs2) { .poller = "uring", .mode = "io_uring", .maxprocs = 2, };
FIXTURE_VARIANT_ADD(close, epoll_procs1) { .poller = "epoll", .mode = "epoll", .maxprocs = 1, };
FIXTURE_VARIANT_ADD(close, epoll_procs2) { .poller = "epoll", .mode = "epoll", .maxprocs = 2, };

FIXTURE_SETUP(close)
{
	NT_SETUP_POLLER(variant);
}

FIXTURE_TEARDOWN(close)
{
}

#define MAX_PENDING	8

enum op { OP_READ, OP_ACCEPT, OP_WRITE };

/* One goroutine blocked in an operation on x.c. */
static struct pending {
	struct gort_conn *c;
	atomic_int started;
	_Atomic int64_t closed_at;
	struct result {
		enum op op;
		long long r;
		int64_t at;
		char data[8];
	} res[MAX_PENDING];
	atomic_int nres;
	uint32_t done;
} x;

static void blocked_op(void *arg)
{
	enum op op = (enum op)(intptr_t)arg;
	struct result res = { .op = op };
	struct gort_conn *nc;
	char *big;

	atomic_fetch_add(&x.started, 1);
	switch (op) {
	case OP_READ:
		res.r = gort_read(x.c, res.data, sizeof(res.data));
		break;
	case OP_ACCEPT:
		res.r = gort_accept(x.c, &nc);
		if (res.r == 0)
			gort_close(nc);
		break;
	case OP_WRITE:
		big = calloc(1, 1 << 20);
		res.r = big ? gort_write(x.c, big, 1 << 20) : -ENOMEM;
		free(big);
		break;
	}
	res.at = gort_nanotime();
	x.res[atomic_fetch_add(&x.nres, 1)] = res;
	gort_sema_release(&x.done);
}

/* start() - @n goroutines blocked in @op on x.c, parked by now. */
static bool start(enum op op, int n)
{
	int i, want = atomic_load(&x.started) + n;

	for (i = 0; i < n; i++)
		if (!GCHECK(gort_go(blocked_op, (void *)(intptr_t)op) > 0))
			return false;
	if (!GCHECK(GT_WAIT_UNTIL(atomic_load(&x.started) == want, 5000)))
		return false;
	gort_sleep(PARK_TIME);
	return GCHECK_EQ(0, atomic_load(&x.nres));	/* still blocked */
}

/* close_and_check() - close x.c; the @n blocked ops get -EBADF promptly. */
static void close_and_check(int n)
{
	static const char *names[] = { "read", "accept", "write" };
	int64_t t = gort_nanotime();
	int i;

	GCHECK_EQ(0, gort_close(x.c));
	if (!gt_sema_wait(&x.done, n, 5000))
		return;
	for (i = 0; i < n; i++) {
		struct result *r = &x.res[i];

		if (r->r != -EBADF)
			GFAIL("pending %s #%d returned %lld (%s), want -EBADF",
			      names[r->op], i, r->r,
			      r->r < 0 ? strerror((int)-r->r) : "data");
		if (r->at - t > nt_slack())
			GFAIL("pending %s #%d returned %lld ms after the close",
			      names[r->op], i, (long long)((r->at - t) / GT_MS));
	}
}

/* ---- pending_reads ---- */

static int pending_reads_main(void *arg)
{
	struct gort_conn *b;
	char c;

	if (!GCHECK_EQ(0, nt_tcp_pair(&x.c, &b)))
		return 1;
	if (!start(OP_READ, MAX_PENDING))
		return 1;
	close_and_check(MAX_PENDING);
	/* Every read has returned: the descriptor is closed, the peer sees it. */
	GCHECK_EQ(0, gort_set_read_deadline(b, gort_nanotime() + 2 * NT_SEC));
	GCHECK_EQ(0, gort_read(b, &c, 1));
	GCHECK_EQ(0, gort_close(b));
	return 0;
}

TEST_F(close, pending_reads)
{
	ASSERT_EQ(0, nt_run(pending_reads_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- pending_accepts ---- */

static int pending_accepts_main(void *arg)
{
	struct gort_conn *c;
	char addr[32];
	int r;

	if (!GCHECK_EQ(0, gort_listen("tcp", "127.0.0.1:0", &x.c)))
		return 1;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", gort_local_port(x.c));
	if (!start(OP_ACCEPT, 4))
		return 1;
	close_and_check(4);
	/*
	 * Every accept has returned, so the listening socket is closed:
	 * dials are refused.
	 */
	r = gort_dial("tcp", addr, NT_SEC, &c);
	if (r != -ECONNREFUSED)
		GFAIL("dial %s after closing its listener: %d, want -ECONNREFUSED",
		      addr, r);
	if (r == 0)
		gort_close(c);
	return 0;
}

TEST_F(close, pending_accepts)
{
	ASSERT_EQ(0, nt_run(pending_accepts_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- relisten ---- */

static int relisten_main(void *arg)
{
	struct gort_conn *l, *c, *s;
	char addr[32];
	int r, round;

	/* Round 0: after an accept, nothing pending; 1: accepts pending. */
	for (round = 0; round < 2; round++) {
		if (!GCHECK_EQ(0, gort_listen("tcp", "127.0.0.1:0", &l)))
			return 1;
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", gort_local_port(l));
		if (!GCHECK_EQ(0, gort_dial("tcp", addr, NT_SEC, &c)))
			return 1;
		GCHECK_EQ(0, gort_set_deadline(l, gort_nanotime() + 2 * NT_SEC));
		if (GCHECK_EQ(0, gort_accept(l, &s)))
			GCHECK_EQ(0, gort_close(s));
		GCHECK_EQ(0, gort_close(c));
		if (round == 0) {
			GCHECK_EQ(0, gort_close(l));
		} else {
			x.c = l;
			atomic_store(&x.started, 0);
			atomic_store(&x.nres, 0);
			if (!start(OP_ACCEPT, 2))
				return 1;
			close_and_check(2);
		}
		r = gort_listen("tcp", addr, &l);
		if (r)
			GFAIL("%s: listen on %s again after closing it: %d (%s)",
			      round ? "accepts were pending" : "nothing pending",
			      addr, r, strerror(-r));
		else
			GCHECK_EQ(0, gort_close(l));
	}
	return 0;
}

TEST_F(close, relisten)
{
	ASSERT_EQ(0, nt_run(relisten_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- pending_write, reads_and_write ---- */

static int pending_write_main(void *arg)
{
	bool readers = arg != NULL;
	struct gort_conn *b;

	if (!GCHECK_EQ(0, nt_tcp_pair(&x.c, &b)))
		return 1;
	nt_small_buffers(x.c, b);
	if (!start(OP_WRITE, 1) || (readers && !start(OP_READ, 3)))
		return 1;
	close_and_check(readers ? 4 : 1);
	GCHECK_EQ(0, gort_close(b));
	return 0;
}

TEST_F(close, pending_write)
{
	ASSERT_EQ(0, nt_run(pending_write_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

TEST_F(close, reads_and_write)
{
	ASSERT_EQ(0, nt_run(pending_write_main, (void *)1, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- no_reuse ---- */

#define NR_ROUNDS	50
#define NR_NEW		4

static int no_reuse_main(void *arg)
{
	struct gort_conn *b, *nc[NR_NEW], *nd[NR_NEW];
	int round, i, n;

	for (round = 0; round < NR_ROUNDS; round++) {
		atomic_store(&x.started, 0);
		atomic_store(&x.nres, 0);
		if (!GCHECK_EQ(0, nt_tcp_pair(&x.c, &b)))
			return 1;
		if (!start(OP_READ, 4))
			return 1;
		GCHECK_EQ(0, gort_close(x.c));
		/* New descriptors, at once, while the reads may still be in flight. */
		for (n = 0; n < NR_NEW; n++) {
			if (!GCHECK_EQ(0, nt_tcp_pair(&nc[n], &nd[n])))
				break;
			GCHECK_EQ(4, gort_write(nd[n], "NEW!", 4));
			GCHECK_EQ(4, gort_write(nc[n], "new!", 4));
		}
		if (!gt_sema_wait(&x.done, 4, 5000))
			return 1;
		for (i = 0; i < 4; i++)
			if (x.res[i].r != -EBADF)
				GFAIL("round %d: pending read of a closed conn returned %lld (%.*s)",
				      round, x.res[i].r,
				      x.res[i].r > 0 ? (int)x.res[i].r : 0, x.res[i].data);
		/* The new connections got their data, all of it. */
		for (i = 0; i < n; i++) {
			char buf[4];

			GCHECK_EQ(0, gort_set_deadline(nc[i], gort_nanotime() + 2 * NT_SEC));
			GCHECK_EQ(0, gort_set_deadline(nd[i], gort_nanotime() + 2 * NT_SEC));
			if (GCHECK_EQ(4, nt_read_full(nc[i], buf, 4)))
				GCHECK(!memcmp(buf, "NEW!", 4));
			if (GCHECK_EQ(4, nt_read_full(nd[i], buf, 4)))
				GCHECK(!memcmp(buf, "new!", 4));
			GCHECK_EQ(0, gort_close(nc[i]));
			GCHECK_EQ(0, gort_close(nd[i]));
		}
		GCHECK_EQ(0, gort_close(b));
		if (gt_failed())
			break;
	}
	return 0;
}

TEST_F(close, no_reuse)
{
	ASSERT_EQ(0, nt_run(no_reuse_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- race ---- */

#define NR_RACES	200

static struct racer {
	struct gort_conn *a, *b;
	atomic_int entering;
	int64_t write_delay;
	long long r;
	char c;
	uint32_t read_done, write_done;
} rc;

static void race_reader(void *arg)
{
	atomic_store(&rc.entering, 1);
	rc.r = gort_read(rc.a, &rc.c, 1);
	gort_sema_release(&rc.read_done);
}

static void race_writer(void *arg)
{
	ssize_t r;

	gort_sleep(rc.write_delay);
	r = gort_write(rc.b, "r", 1);
	/* The peer may be closed and gone already. */
	if (r != 1 && r != -EPIPE && r != -ECONNRESET)
		GFAIL("peer write: %zd (%s)", r, r < 0 ? strerror((int)-r) : "?");
	gort_sema_release(&rc.write_done);
}

static int race_main(void *arg)
{
	struct nt_rng rng;
	int round, got_data = 0, got_ebadf = 0;

	nt_seed(&rng, NT_SEED, 0);
	for (round = 0; round < NR_RACES; round++) {
		int64_t close_delay = 50 * GT_US + (int64_t)nt_below(&rng, 1000) * GT_US;

		rc.write_delay = 50 * GT_US + (int64_t)nt_below(&rng, 1000) * GT_US;
		atomic_store(&rc.entering, 0);
		if (!GCHECK_EQ(0, nt_tcp_pair(&rc.a, &rc.b)))
			return 1;
		GCHECK(gort_go(race_reader, NULL) > 0);
		GCHECK(gort_go(race_writer, NULL) > 0);
		if (!GCHECK(GT_WAIT_UNTIL(atomic_load(&rc.entering), 5000)))
			return 1;
		gort_sleep(close_delay);
		GCHECK_EQ(0, gort_close(rc.a));
		if (!gt_sema_wait(&rc.read_done, 1, 5000) ||
		    !gt_sema_wait(&rc.write_done, 1, 5000))
			return 1;
		if (rc.r == 1 && rc.c == 'r')
			got_data++;
		else if (rc.r == -EBADF)
			got_ebadf++;
		else
			GFAIL("round %d (close at %lld us, write at %lld us): read returned %lld",
			      round, (long long)(close_delay / GT_US),
			      (long long)(rc.write_delay / GT_US), rc.r);
		GCHECK_EQ(0, gort_close(rc.b));
	}
	fprintf(stderr, "# race: %d reads got the byte, %d got -EBADF\n",
		got_data, got_ebadf);
	return 0;
}

TEST_F(close, race)
{
	ASSERT_EQ(0, nt_run(race_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

TEST_HARNESS_MAIN
