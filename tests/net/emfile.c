/* SPDX-License-Identifier: MIT */
/*
 * Description: running out of file descriptors is an error return, not
 * a crash, and a listener that hit -EMFILE keeps accepting once
 * descriptors are free again.
 *
 * In a child process (its stderr captured, so a fatal error is seen and
 * shown): the runtime does some I/O on both Ps first, then lowers
 * RLIMIT_NOFILE to what is open plus 48.  An accepting goroutine keeps
 * every connection it accepts and, on -EMFILE or -ENFILE, retries 1 ms
 * later (as Go servers do).  Checked:
 *
 * 1. the main goroutine dials until gort_dial fails: with -EMFILE;
 *    gort_open fails with -EMFILE too while the table is full;
 * 2. four plain sockets, made before the limit was lowered, connect:
 *    the acceptor has no descriptor for them, and gort_accept must
 *    return -EMFILE (it did not crash, it did not hang);
 * 3. the clients are closed: every connection made is then accepted;
 * 4. a new connection is accepted and carries a byte each way.
 *
 * Then everything is closed and the limit restored.
 *
 * Variants: io_uring and epoll, on 2 Ps.
 */
#include "net_test.h"

#define HEADROOM	48
#define MAX_CONNS	256
#define NR_RAW		4	/* sockets connected once the table is full */

FIXTURE(emfile) {
	struct gt_child child;
};

FIXTURE_VARIANT(emfile) {
	const char *poller, *mode;
	int maxprocs;
};

FIXTURE_VARIANT_ADD(emfile, uring) { .poller = "uring", .mode = "io_uring", .maxprocs = 2, };
FIXTURE_VARIANT_ADD(emfile, epoll) { .poller = "epoll", .mode = "epoll", .maxprocs = 2, };

FIXTURE_SETUP(emfile)
{
	NT_SETUP_POLLER(variant);
}

FIXTURE_TEARDOWN(emfile)
{
	gt_child_free(&self->child);
}

static struct {
	int maxprocs;
	struct gort_conn *l;
	struct gort_conn *cli[MAX_CONNS], *srv[MAX_CONNS];
	int ncli;
	atomic_int nsrv;		/* srv[] entries published */
	atomic_int accept_emfile;	/* accepts that failed for want of fds */
	atomic_int stop;
	uint32_t done;
} ef;

static void acceptor(void *arg)
{
	struct gort_conn *c;
	int r;

	for (;;) {
		r = gort_accept(ef.l, &c);
		if (r == 0) {
			int n = atomic_load(&ef.nsrv);

			if (n == MAX_CONNS) {
				GFAIL("more than %d accepted", MAX_CONNS);
				gort_close(c);
				break;
			}
			ef.srv[n] = c;
			atomic_store(&ef.nsrv, n + 1);	/* pairs with main's load */
			continue;
		}
		if (r == -EBADF && atomic_load(&ef.stop))
			break;
		if (r == -EMFILE || r == -ENFILE) {
			atomic_fetch_add(&ef.accept_emfile, 1);
			gort_sleep(GT_MS);
			continue;
		}
		GFAIL("gort_accept: %d (%s)", r, strerror(-r));
		break;
	}
	gort_sema_release(&ef.done);
}

static int count_fds(void)
{
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1;		/* the directory's own */
}

static void warm_up(void *arg)
{
	struct gort_conn *a, *b;
	char c;

	if (GCHECK_EQ(0, nt_tcp_pair(&a, &b))) {
		GCHECK_EQ(1, gort_write(a, "w", 1));
		GCHECK_EQ(1, gort_read(b, &c, 1));
		gort_close(a);
		gort_close(b);
	}
	gort_sema_release(&ef.done);
}

/* raw_connect() - start connecting the plain socket @fd to @port. */
static bool raw_connect(int fd, int port)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};

	return !connect(fd, (struct sockaddr *)&sin, sizeof(sin)) ||
	       errno == EINPROGRESS;
}

static int emfile_main(void *arg)
{
	struct rlimit old, low;
	struct gort_conn *c, *f;
	int raw[NR_RAW], i, r = 0, nopen, port, ndialed, nsrv;
	char addr[32], ch;

	/* Every P's thread has done I/O (an io_uring ring each) first. */
	for (i = 0; i < 2 * ef.maxprocs; i++)
		GCHECK(gort_go(warm_up, NULL) > 0);
	if (!gt_sema_wait(&ef.done, 2 * ef.maxprocs, 5000))
		return 1;
	/* Sockets made now, connected once the table is full. */
	for (i = 0; i < NR_RAW; i++)
		if (!GCHECK((raw[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
					     SOCK_CLOEXEC, 0)) >= 0))
			return 1;
	nopen = count_fds();
	if (!GCHECK(nopen > 0) || !GCHECK_EQ(0, getrlimit(RLIMIT_NOFILE, &old)))
		return 1;
	low = old;
	low.rlim_cur = (rlim_t)(nopen + HEADROOM);
	if (!GCHECK_EQ(0, setrlimit(RLIMIT_NOFILE, &low)))
		return 1;
	fprintf(stderr, "# %d descriptors open, limit lowered to %d\n", nopen,
		nopen + HEADROOM);
	/*
	 * The listener and its first accept only now: io_uring takes the
	 * limit an accept obeys when the request is prepared, so a
	 * multishot accept armed before setrlimit() would go on under the
	 * old limit (the kernel's rule, not the runtime's).
	 */
	if (!GCHECK_EQ(0, gort_listen("tcp", "127.0.0.1:0", &ef.l)))
		return 1;
	port = gort_local_port(ef.l);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	GCHECK(gort_go(acceptor, NULL) > 0);
	gort_sleep(10 * GT_MS);

	/* 1. Dial until it fails: -EMFILE, on either side. */
	for (ef.ncli = 0; ef.ncli < MAX_CONNS; ef.ncli++) {
		r = gort_dial("tcp", addr, 2 * NT_SEC, &c);
		if (r)
			break;
		ef.cli[ef.ncli] = c;
	}
	fprintf(stderr, "# %d dials succeeded, then %d (%s); %d accepted, %d accepts failed for fds\n",
		ef.ncli, r, strerror(-r), atomic_load(&ef.nsrv),
		atomic_load(&ef.accept_emfile));
	if (r != -EMFILE)
		GFAIL("gort_dial #%d: %d (%s), want -EMFILE", ef.ncli, r, strerror(-r));
	if (!GCHECK(ef.ncli >= 10))
		return 1;
	/* The table is full: gort_open fails the same way. */
	r = gort_open("/dev/null", O_RDONLY, 0, &f);
	if (r == 0)
		gort_close(f);
	else if (r != -EMFILE)
		GFAIL("gort_open at the limit: %d (%s), want -EMFILE", r, strerror(-r));

	/*
	 * 2. Connections the acceptor has no descriptor for: the sockets
	 * made before connect now, needing none.  gort_accept must say so.
	 */
	for (i = 0; i < NR_RAW; i++)
		GCHECK(raw_connect(raw[i], port));
	if (!GT_WAIT_UNTIL(atomic_load(&ef.accept_emfile) > 0, 2000))
		GFAIL("gort_accept never failed for want of descriptors (%d accepted of %d)",
		      atomic_load(&ef.nsrv), ef.ncli + NR_RAW);

	/* 3. Free descriptors: every connection made gets accepted. */
	ndialed = ef.ncli + NR_RAW;
	for (i = 0; i < ef.ncli; i++)
		GCHECK_EQ(0, gort_close(ef.cli[i]));
	ef.ncli = 0;
	for (i = 0; i < NR_RAW; i++)
		close(raw[i]);
	if (!GT_WAIT_UNTIL(atomic_load(&ef.nsrv) == ndialed, 5000))
		GFAIL("%d connected, %d accepted after descriptors were freed",
		      ndialed, atomic_load(&ef.nsrv));
	nsrv = atomic_load(&ef.nsrv);
	for (i = 0; i < nsrv; i++)
		GCHECK_EQ(0, gort_close(ef.srv[i]));

	/* 4. And a new one, with a byte each way. */
	if (GCHECK_EQ(0, gort_dial("tcp", addr, 2 * NT_SEC, &c))) {
		if (GT_WAIT_UNTIL(atomic_load(&ef.nsrv) == nsrv + 1, 5000)) {
			struct gort_conn *s = ef.srv[nsrv];

			GCHECK_EQ(0, gort_set_deadline(s, gort_nanotime() + 2 * NT_SEC));
			GCHECK_EQ(0, gort_set_deadline(c, gort_nanotime() + 2 * NT_SEC));
			GCHECK_EQ(1, gort_write(c, "?", 1));
			if (GCHECK_EQ(1, gort_read(s, &ch, 1)))
				GCHECK_EQ('?', ch);
			GCHECK_EQ(1, gort_write(s, "!", 1));
			if (GCHECK_EQ(1, gort_read(c, &ch, 1)))
				GCHECK_EQ('!', ch);
			GCHECK_EQ(0, gort_close(s));
		} else {
			GFAIL("the listener accepts nothing after -EMFILE");
		}
		GCHECK_EQ(0, gort_close(c));
	}

	atomic_store(&ef.stop, 1);
	GCHECK_EQ(0, gort_close(ef.l));
	gt_sema_wait(&ef.done, 1, 5000);
	GCHECK_EQ(0, setrlimit(RLIMIT_NOFILE, &old));
	return 0;
}

static int emfile_child(void *arg)
{
	int r = nt_run(emfile_main, NULL, ef.maxprocs);

	if (r)
		return 10 + (r & 0x3f);
	return gt_failed() ? 1 : 0;
}

TEST_F(emfile, dial_until_emfile)
{
	struct gt_child *c = &self->child;

	ef.maxprocs = variant->maxprocs;
	ASSERT_EQ(0, gt_fork_capture(c, emfile_child, NULL, 20000));
	if (gt_exit_code(c) != 0)
		gt_child_dump(c, "child");
	else
		fprintf(stderr, "%s", c->out);
	ASSERT_FALSE(c->timed_out);
	ASSERT_EQ(0, gt_exit_code(c));
}

TEST_HARNESS_MAIN
