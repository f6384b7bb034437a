/* SPDX-License-Identifier: MIT */
/*
 * Description: read, write, accept and dial deadlines fire on time, never
 * early, and changes made by another goroutine reach a pending operation.
 *
 * Every -ETIMEDOUT must come at or after the deadline (gort_nanotime()
 * clock) and at most NT_SLACK (50 ms) after it.
 *
 * - read_idle: a read on an idle connection times out; the deadline
 *   sticks (the next read fails at once); cleared, the connection works.
 * - read_many: four goroutines reading one connection all time out.
 * - write_full: a write to a peer that never reads (small buffers, so
 *   the first 64 KiB write blocks) times out; reads are unaffected.
 * - accept: an accept with nobody dialing times out; cleared, it works.
 * - extend_pending, shorten_pending, past_pending, clear_pending: another
 *   goroutine changes the read deadline of a pending read - to later (the
 *   old one must not fire), to sooner, into the past (fails at once), or
 *   to none (the read then gets data written 200 ms later).
 * - past_at_once: a deadline in the past fails read (even with data
 *   waiting, as Go's), write and accept at once; gort_set_deadline sets
 *   both directions; read and write deadlines are independent.
 * - dial_timeout: gort_dial to a listener whose accept queue is full
 *   (backlog 0, never accepted, filled with raw connects: the kernel
 *   drops further SYNs) must return within timeout + slack, with
 *   -ETIMEDOUT or, should the kernel answer after all, success.
 *
 * Variants: io_uring and epoll, on 1 and 2 Ps.
 */
#include "net_test.h"

#define SHORT	(100 * GT_MS)

FIXTURE(deadline) {
	int lfd, cfds[16], ncfd;	/* dial_timeout's raw sockets */
};

FIXTURE_VARIANT(deadline) {
	const char *poller, *mode;
	int maxprocs;
};

FIXTURE_VARIANT_ADD(deadline, uring_procs1) { .poller = "uring", .mode = "io_uring", .maxprocs = 1, };
FIXTURE_VARIANT_ADD(deadline, uring_procs2) { .poller = "uring", .mode = "io_uring", .maxprocs = 2, };
FIXTURE_VARIANT_ADD(deadline, epoll_procs1) { .poller = "epoll", .mode = "epoll", .maxprocs = 1, };
FIXTURE_VARIANT_ADD(deadline, epoll_procs2) { .poller = "epoll", .mode = "epoll", .maxprocs = 2, };

FIXTURE_SETUP(deadline)
{
	self->lfd = -1;
	NT_SETUP_POLLER(variant);
}

FIXTURE_TEARDOWN(deadline)
{
	int i;

	for (i = 0; i < self->ncfd; i++)
		close(self->cfds[i]);
	if (self->lfd >= 0)
		close(self->lfd);
}

/*
 * timed_out() - @r, returned now by @what, must be -ETIMEDOUT at or after
 * @deadline and within the slack past it.
 */
#define timed_out(what, r, deadline) \
	timed_out_at(what, r, deadline, __FILE__, __LINE__)

static bool timed_out_at(const char *what, long long r, int64_t deadline,
			 const char *file, int line)
{
	int64_t now = gort_nanotime();
	bool ok = true;

	if (r != -ETIMEDOUT) {
		GFAIL("%s:%d: %s returned %lld (%s), want -ETIMEDOUT", file,
		      line, what, r, r < 0 ? strerror((int)-r) : "no error");
		ok = false;
	}
	if (now < deadline) {
		GFAIL("%s:%d: %s returned %lld us before its deadline", file,
		      line, what, (long long)((deadline - now) / GT_US));
		ok = false;
	} else if (now - deadline > nt_slack()) {
		GFAIL("%s:%d: %s returned %lld ms after its deadline (slack %lld ms)",
		      file, line, what, (long long)((now - deadline) / GT_MS),
		      (long long)(nt_slack() / GT_MS));
		ok = false;
	}
	return ok;
}

/* ---- read_idle ---- */

static int read_idle_main(void *arg)
{
	struct gort_conn *a, *b;
	int64_t d;
	char buf[16];

	if (!GCHECK_EQ(0, nt_tcp_pair(&a, &b)))
		return 1;
	d = gort_nanotime() + SHORT;
	GCHECK_EQ(0, gort_set_read_deadline(a, d));
	timed_out("read on an idle conn", gort_read(a, buf, sizeof(buf)), d);
	/* The deadline stays until changed: the next read fails at once. */
	timed_out("second read", gort_read(a, buf, sizeof(buf)), d);
	/* Cleared, the connection is as good as new. */
	GCHECK_EQ(0, gort_set_read_deadline(a, 0));
	GCHECK_EQ(2, gort_write(b, "hi", 2));
	GCHECK_EQ(0, gort_set_read_deadline(a, gort_nanotime() + 5 * NT_SEC));
	GCHECK_EQ(2, nt_read_full(a, buf, 2));
	GCHECK(!memcmp(buf, "hi", 2));
	/* An extended deadline lets a read wait past the old one. */
	d = gort_nanotime() + SHORT;
	GCHECK_EQ(0, gort_set_read_deadline(a, d));
	timed_out("read after the deadline was reset", gort_read(a, buf, 1), d);
	GCHECK_EQ(0, gort_close(a));
	GCHECK_EQ(0, gort_close(b));
	return 0;
}

TEST_F(deadline, read_idle)
{
	ASSERT_EQ(0, nt_run(read_idle_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- read_many ---- */

#define NR_READERS	4

static struct {
	struct gort_conn *c;
	int64_t d;
	uint32_t done;
} many;

static void many_reader(void *arg)
{
	char buf[8];

	timed_out("one of several pending reads",
		  gort_read(many.c, buf, sizeof(buf)), many.d);
	gort_sema_release(&many.done);
}

static int read_many_main(void *arg)
{
	struct gort_conn *b;
	int i;

	if (!GCHECK_EQ(0, nt_tcp_pair(&many.c, &b)))
		return 1;
	many.d = gort_nanotime() + 2 * SHORT;
	GCHECK_EQ(0, gort_set_read_deadline(many.c, many.d));
	for (i = 0; i < NR_READERS; i++)
		GCHECK(gort_go(many_reader, NULL) > 0);
	if (!gt_sema_wait(&many.done, NR_READERS, 5000))
		return 1;
	GCHECK_EQ(0, gort_close(many.c));
	GCHECK_EQ(0, gort_close(b));
	return 0;
}

TEST_F(deadline, read_many)
{
	ASSERT_EQ(0, nt_run(read_many_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- write_full ---- */

#define CHUNK	(64 << 10)

static int write_full_main(void *arg)
{
	struct gort_conn *a, *b;
	char *buf = calloc(1, CHUNK), c;
	ssize_t r = 0;
	int64_t d;
	int i;

	if (!GCHECK(buf) || !GCHECK_EQ(0, nt_tcp_pair(&a, &b)))
		return 1;
	nt_small_buffers(a, b);
	d = gort_nanotime() + 2 * SHORT;
	GCHECK_EQ(0, gort_set_write_deadline(a, d));
	/* Bounded: 64 MiB would fill any loopback buffer many times. */
	for (i = 0; i < 1024; i++) {
		r = gort_write(a, buf, CHUNK);
		if (r != CHUNK)
			break;
	}
	if (!timed_out("write to a peer that never reads", r, d))
		fprintf(stderr, "# wrote %d x %d bytes before\n", i, CHUNK);
	timed_out("next write", gort_write(a, "x", 1), d);
	/* Reads of the same connection have no deadline. */
	GCHECK_EQ(1, gort_write(b, "y", 1));
	GCHECK_EQ(0, gort_set_read_deadline(a, gort_nanotime() + 5 * NT_SEC));
	GCHECK_EQ(1, gort_read(a, &c, 1));
	GCHECK_EQ('y', c);
	GCHECK_EQ(0, gort_close(a));
	GCHECK_EQ(0, gort_close(b));
	free(buf);
	return 0;
}

TEST_F(deadline, write_full)
{
	ASSERT_EQ(0, nt_run(write_full_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- accept ---- */

static int accept_main(void *arg)
{
	struct gort_conn *l, *a = NULL, *b = NULL;
	char addr[32];
	int64_t d;

	if (!GCHECK_EQ(0, gort_listen("tcp", "127.0.0.1:0", &l)))
		return 1;
	d = gort_nanotime() + SHORT;
	GCHECK_EQ(0, gort_set_deadline(l, d));
	timed_out("accept with nobody dialing", gort_accept(l, &a), d);
	/* Cleared, it accepts. */
	GCHECK_EQ(0, gort_set_deadline(l, 0));
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", gort_local_port(l));
	if (GCHECK_EQ(0, gort_dial("tcp", addr, 5 * NT_SEC, &a))) {
		GCHECK_EQ(0, gort_set_deadline(l, gort_nanotime() + 5 * NT_SEC));
		if (GCHECK_EQ(0, gort_accept(l, &b)))
			GCHECK_EQ(0, gort_close(b));
		GCHECK_EQ(0, gort_close(a));
	}
	GCHECK_EQ(0, gort_close(l));
	return 0;
}

TEST_F(deadline, accept)
{
	ASSERT_EQ(0, nt_run(accept_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- deadlines changed under a pending read ---- */

enum change { EXTEND, SHORTEN, PAST, CLEAR };

static struct pending {
	enum change how;
	struct gort_conn *a, *b;
	_Atomic int64_t want;		/* the deadline that must fire */
	uint32_t done;
} pd;

/* Changes the deadline 50 ms into the read (the read started first). */
static void changer(void *arg)
{
	int64_t d;

	gort_sleep(50 * GT_MS);
	switch (pd.how) {
	case EXTEND:		/* was +100 ms: now +250 ms */
	case SHORTEN:		/* was +10 s: now +100 ms */
		d = gort_nanotime() + (pd.how == EXTEND ? 200 : 50) * GT_MS;
		atomic_store(&pd.want, d);
		GCHECK_EQ(0, gort_set_read_deadline(pd.a, d));
		break;
	case PAST:
		d = gort_nanotime();
		atomic_store(&pd.want, d);
		GCHECK_EQ(0, gort_set_read_deadline(pd.a, d - GT_MS));
		break;
	case CLEAR:		/* was +100 ms: none; data at +200 ms */
		GCHECK_EQ(0, gort_set_read_deadline(pd.a, 0));
		gort_sleep(150 * GT_MS);
		GCHECK_EQ(1, gort_write(pd.b, "z", 1));
		break;
	}
	gort_sema_release(&pd.done);
}

static int pending_main(void *arg)
{
	int64_t first;
	ssize_t r;
	char c;

	if (!GCHECK_EQ(0, nt_tcp_pair(&pd.a, &pd.b)))
		return 1;
	first = gort_nanotime() + (pd.how == SHORTEN ? 10 * NT_SEC : SHORT);
	atomic_store(&pd.want, first);
	GCHECK_EQ(0, gort_set_read_deadline(pd.a, first));
	if (!GCHECK(gort_go(changer, NULL) > 0))
		return 1;
	r = gort_read(pd.a, &c, 1);
	if (pd.how == CLEAR) {
		if (GCHECK_EQ(1, r))
			GCHECK_EQ('z', c);
	} else {
		timed_out("pending read", r, atomic_load(&pd.want));
	}
	gt_sema_wait(&pd.done, 1, 5000);
	GCHECK_EQ(0, gort_close(pd.a));
	GCHECK_EQ(0, gort_close(pd.b));
	return 0;
}

static void run_pending(struct __test_metadata *_metadata, int maxprocs,
			enum change how)
{
	pd.how = how;
	ASSERT_EQ(0, nt_run(pending_main, NULL, maxprocs));
	ASSERT_EQ(0, gt_failed());
}

TEST_F(deadline, extend_pending)
{
	run_pending(_metadata, variant->maxprocs, EXTEND);
}

TEST_F(deadline, shorten_pending)
{
	run_pending(_metadata, variant->maxprocs, SHORTEN);
}

TEST_F(deadline, past_pending)
{
	run_pending(_metadata, variant->maxprocs, PAST);
}

TEST_F(deadline, clear_pending)
{
	run_pending(_metadata, variant->maxprocs, CLEAR);
}

/* ---- past_at_once ---- */

/*
 * at_once() - run @op and check it fails with -ETIMEDOUT within the
 * slack of its start (the deadline passed before it began).
 */
#define at_once(what, op) do {						\
	int64_t __t = gort_nanotime();					\
	long long __r = (op);						\
									\
	timed_out(what, __r, __t);					\
} while (0)

static int past_main(void *arg)
{
	struct gort_conn *a, *b, *l, *x;
	int64_t past;
	char buf[8];

	if (!GCHECK_EQ(0, nt_tcp_pair(&a, &b)))
		return 1;
	/* Data is waiting, yet a passed deadline wins (Go's rule). */
	GCHECK_EQ(3, gort_write(b, "abc", 3));
	gort_sleep(10 * GT_MS);
	past = gort_nanotime() - GT_MS;
	GCHECK_EQ(0, gort_set_read_deadline(a, past));
	at_once("read, deadline in the past, data waiting",
		gort_read(a, buf, sizeof(buf)));
	/* The write direction is not affected. */
	GCHECK_EQ(1, gort_write(a, "w", 1));
	/* Write deadline in the past: fails at once, reads work again. */
	GCHECK_EQ(0, gort_set_read_deadline(a, 0));
	GCHECK_EQ(0, gort_set_write_deadline(a, past));
	at_once("write, deadline in the past", gort_write(a, "w", 1));
	GCHECK_EQ(0, gort_set_read_deadline(a, gort_nanotime() + 5 * NT_SEC));
	GCHECK_EQ(3, nt_read_full(a, buf, 3));
	GCHECK(!memcmp(buf, "abc", 3));
	/* gort_set_deadline() sets both. */
	GCHECK_EQ(0, gort_set_deadline(a, past));
	at_once("read after gort_set_deadline(past)", gort_read(a, buf, 1));
	at_once("write after gort_set_deadline(past)", gort_write(a, "w", 1));
	GCHECK_EQ(0, gort_set_deadline(a, 0));
	GCHECK_EQ(1, gort_write(a, "v", 1));
	GCHECK_EQ(0, gort_set_read_deadline(b, gort_nanotime() + 5 * NT_SEC));
	GCHECK_EQ(2, nt_read_full(b, buf, 2));
	GCHECK(!memcmp(buf, "wv", 2));
	/* Accept, with a connection waiting in the queue. */
	if (GCHECK_EQ(0, gort_listen("tcp", "127.0.0.1:0", &l))) {
		struct gort_conn *c = NULL;
		char addr[32];
		int64_t t;
		int r;

		snprintf(addr, sizeof(addr), "127.0.0.1:%d", gort_local_port(l));
		GCHECK_EQ(0, gort_dial("tcp", addr, 5 * NT_SEC, &c));
		gort_sleep(10 * GT_MS);
		GCHECK_EQ(0, gort_set_deadline(l, past));
		t = gort_nanotime();
		r = gort_accept(l, &x);
		timed_out("accept, deadline in the past, connection waiting", r, t);
		if (r == 0)
			gort_close(x);
		GCHECK_EQ(0, gort_close(l));
		if (c)
			GCHECK_EQ(0, gort_close(c));
	}
	GCHECK_EQ(0, gort_close(a));
	GCHECK_EQ(0, gort_close(b));
	return 0;
}

TEST_F(deadline, past_at_once)
{
	ASSERT_EQ(0, nt_run(past_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- dial_timeout ---- */

#define DIAL_TIMEOUT	(200 * GT_MS)

static struct {
	int port;
	int r;
	int64_t took;
} dt;

static int dial_timeout_main(void *arg)
{
	struct gort_conn *c;
	char addr[32];
	int64_t t0;

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", dt.port);
	t0 = gort_nanotime();
	dt.r = gort_dial("tcp", addr, DIAL_TIMEOUT, &c);
	dt.took = gort_nanotime() - t0;
	if (dt.r == 0)
		GCHECK_EQ(0, gort_close(c));
	else if (!GCHECK_EQ(-ETIMEDOUT, dt.r))
		GFAIL("gort_dial: %s", strerror(-dt.r));
	if (dt.r == -ETIMEDOUT && dt.took < DIAL_TIMEOUT)
		GFAIL("gort_dial timed out after %lld ms of %lld",
		      (long long)(dt.took / GT_MS), (long long)(DIAL_TIMEOUT / GT_MS));
	if (dt.took > DIAL_TIMEOUT + nt_slack())
		GFAIL("gort_dial returned after %lld ms, timeout %lld ms",
		      (long long)(dt.took / GT_MS), (long long)(DIAL_TIMEOUT / GT_MS));
	return 0;
}

TEST_F(deadline, dial_timeout)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	bool full = false;
	int c, err;

	/* A listener with backlog 0 that never accepts: its queue holds one. */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	self->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, self->lfd);
	ASSERT_EQ(0, bind(self->lfd, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(0, listen(self->lfd, 0));
	ASSERT_EQ(0, getsockname(self->lfd, (struct sockaddr *)&sin, &len));
	dt.port = ntohs(sin.sin_port);
	while (!full && self->ncfd < (int)GT_ARRAY_SIZE(self->cfds)) {
		struct pollfd pfd = { .events = POLLOUT };

		c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		ASSERT_LE(0, c);
		self->cfds[self->ncfd++] = c;
		if (!connect(c, (struct sockaddr *)&sin, sizeof(sin)))
			continue;
		ASSERT_EQ(EINPROGRESS, errno);
		pfd.fd = c;
		/* Still connecting after 200 ms: its SYN was dropped. */
		if (poll(&pfd, 1, 200) == 0)
			full = true;
	}
	ASSERT_EQ(0, nt_run(dial_timeout_main, NULL, variant->maxprocs));
	err = dt.r;
	TH_LOG("accept queue %s after %d connects: gort_dial = %d (%s) after %lld ms",
	       full ? "full" : "NOT full", self->ncfd, err,
	       err ? strerror(-err) : "connected", (long long)(dt.took / GT_MS));
	ASSERT_EQ(0, gt_failed());
}

TEST_HARNESS_MAIN
