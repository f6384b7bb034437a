/* SPDX-License-Identifier: MIT */
/*
 * Description: an accept storm: 1,000 TCP dials, as fast as 50 dialing
 * goroutines can make them, are all accepted and each exchanges a byte.
 *
 * Each dialer goroutine makes 20 connections one after the other: dial,
 * write one byte, read the server's answer (the byte inverted), read end
 * of file, close.  Accepting goroutines (1, or 4 sharing the listener)
 * start a goroutine per connection that reads the byte, answers and
 * closes.  Checked: every dial succeeds; exactly 1,000 accepts; every
 * answer is right; and the client ports (gort_local_port() of each
 * dialed connection), counted per port, are the peer ports the server saw
 * (gort_remote_addr() of each accepted one) - no connection lost,
 * duplicated or handed to two accepters.  (Counts, not a set: a port
 * may legitimately be reused once its connection has gone.)
 *
 * Variants: io_uring and epoll, on 1 and 2 Ps.
 */
#include "net_test.h"

#define NR_DIALS	1000
#define NR_DIALERS	50
#define MAX_ACCEPTERS	4

FIXTURE(accept) {
};

FIXTURE_VARIANT(accept) {
	const char *poller, *mode;
	int maxprocs;
};

FIXTURE_VARIANT_ADD(accept, uring_procs1) { .poller = "uring", .mode = "io_uring", .maxprocs = 1, };
FIXTURE_VARIANT_ADD(accept, uring_procs2) { .poller = "uring", .mode = "io_uring", .maxprocs = 2, };
FIXTURE_VARIANT_ADD(accept, epoll_procs1) { .poller = "epoll", .mode = "epoll", .maxprocs = 1, };
FIXTURE_VARIANT_ADD(accept, epoll_procs2) { .poller = "epoll", .mode = "epoll", .maxprocs = 2, };

FIXTURE_SETUP(accept)
{
	NT_SETUP_POLLER(variant);
}

FIXTURE_TEARDOWN(accept)
{
}

static struct storm {
	int accepters;
	struct gort_conn *l;
	int port;
	atomic_int accepted, served, dialed;
	atomic_int stop;			/* accepters: all are in */
	_Atomic uint16_t client_ports[65536];
	_Atomic uint16_t server_ports[65536];
	uint32_t dialers_done, accepters_done, servers_done;
	int64_t elapsed;
} st;


static void serve(void *arg)
{
	struct gort_conn *c = arg;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	unsigned char b;
	ssize_t r;
	int port;

	if (GCHECK_EQ(0, gort_remote_addr(c, (struct sockaddr *)&ss, &len))) {
		port = nt_port_of(&ss);
		if (GCHECK(port > 0))
			atomic_fetch_add(&st.server_ports[port], 1);
	}
	GCHECK_EQ(st.port, gort_local_port(c));
	r = gort_read(c, &b, 1);
	if (GCHECK_EQ(1, r)) {
		b = (unsigned char)~b;
		GCHECK_EQ(1, gort_write(c, &b, 1));
	}
	GCHECK_EQ(0, gort_close(c));
	atomic_fetch_add(&st.served, 1);
	gort_sema_release(&st.servers_done);
}

static void accepter(void *arg)
{
	struct gort_conn *c;
	int err;

	(void)arg;
	while (atomic_load(&st.accepted) < NR_DIALS) {
		err = gort_accept(st.l, &c);
		if (err == -EBADF && atomic_load(&st.stop))
			break;		/* the listener was closed: all are in */
		if (err) {
			GFAIL("gort_accept after %d: %d (%s)",
			      atomic_load(&st.accepted), err, strerror(-err));
			break;
		}
		GCHECK_EQ(0, gort_set_deadline(c, gort_nanotime() + 10 * NT_SEC));
		if (atomic_fetch_add(&st.accepted, 1) >= NR_DIALS)
			GFAIL("more accepts than dials");
		if (!GCHECK(gort_go(serve, c) > 0))
			gort_close(c);
	}
	gort_sema_release(&st.accepters_done);
}

static void dialer(void *arg)
{
	int id = (int)(intptr_t)arg, i, err, port;
	char addr[32];
	struct gort_conn *c;
	unsigned char b, ans;
	ssize_t r;

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", st.port);
	for (i = 0; i < NR_DIALS / NR_DIALERS; i++) {
		err = gort_dial("tcp", addr, 5 * NT_SEC, &c);
		if (err) {
			GFAIL("dialer %d: dial %d: %d (%s)", id, i, err, strerror(-err));
			break;
		}
		atomic_fetch_add(&st.dialed, 1);
		GCHECK_EQ(0, gort_set_deadline(c, gort_nanotime() + 10 * NT_SEC));
		port = gort_local_port(c);
		if (GCHECK(port > 0))
			atomic_fetch_add(&st.client_ports[port], 1);
		b = (unsigned char)(id * NR_DIALS + i);
		GCHECK_EQ(1, gort_write(c, &b, 1));
		r = gort_read(c, &ans, 1);
		if (GCHECK_EQ(1, r))
			GCHECK_EQ((unsigned char)~b, ans);
		GCHECK_EQ(0, gort_read(c, &ans, 1));	/* the server closed */
		GCHECK_EQ(0, gort_close(c));
	}
	gort_sema_release(&st.dialers_done);
}

static int storm_main(void *arg)
{
	int64_t t0 = gort_nanotime();
	int i;

	(void)arg;
	if (!GCHECK_EQ(0, gort_listen("tcp", "127.0.0.1:0", &st.l)))
		return 1;
	st.port = gort_local_port(st.l);
	if (!GCHECK(st.port > 0))
		return 1;
	for (i = 0; i < st.accepters; i++)
		GCHECK(gort_go(accepter, NULL) > 0);
	for (i = 0; i < NR_DIALERS; i++)
		GCHECK(gort_go(dialer, (void *)(intptr_t)i) > 0);
	if (!gt_sema_wait(&st.dialers_done, NR_DIALERS, 20000))
		return 1;
	/* Accepters still waiting leave with -EBADF. */
	atomic_store(&st.stop, 1);
	GCHECK_EQ(0, gort_close(st.l));
	gt_sema_wait(&st.accepters_done, st.accepters, 2000);
	gt_sema_wait(&st.servers_done, atomic_load(&st.accepted), 5000);
	st.elapsed = gort_nanotime() - t0;
	return 0;
}

static void run_storm(struct __test_metadata *_metadata, int maxprocs,
		      int accepters)
{
	int i, diff = 0;

	st.accepters = accepters;
	ASSERT_EQ(0, nt_run(storm_main, NULL, maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(NR_DIALS, atomic_load(&st.dialed));
	ASSERT_EQ(NR_DIALS, atomic_load(&st.accepted));
	ASSERT_EQ(NR_DIALS, atomic_load(&st.served));
	for (i = 0; i < 65536; i++) {
		if (atomic_load(&st.client_ports[i]) == atomic_load(&st.server_ports[i]))
			continue;
		if (diff++ < 5)
			TH_LOG("port %d: dialed %d times, accepted %d times", i,
			       atomic_load(&st.client_ports[i]),
			       atomic_load(&st.server_ports[i]));
	}
	ASSERT_EQ(0, diff);
	TH_LOG("%d dials, %d accepters: %lld ms", NR_DIALS, accepters,
	       (long long)(st.elapsed / GT_MS));
}

TEST_F(accept, storm)
{
	run_storm(_metadata, variant->maxprocs, 1);
}

TEST_F(accept, storm_4_accepters)
{
	run_storm(_metadata, variant->maxprocs, MAX_ACCEPTERS);
}

TEST_HARNESS_MAIN
