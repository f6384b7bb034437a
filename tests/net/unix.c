/* SPDX-License-Identifier: MIT */
/*
 * Description: unix-domain sockets through the netpoller: stream echo on
 * a path and on an abstract name, datagrams with their sender's path,
 * and a descriptor passed with SCM_RIGHTS.
 *
 * - stream_path, stream_abstract: gort_listen("unix", <path in a temp
 *   dir> or "@name"); 8 client goroutines gort_dial() it and exchange 20
 *   messages each (1 B .. 64 KiB, seeded) with a per-connection echo
 *   goroutine, checked byte for byte.  gort_local_addr() of the listener
 *   is the path, resp. the abstract name (sun_path[0] == 0, no file).
 * - unixgram: two gort_listen("unixgram", path) sockets; one
 *   gort_sendto()s the other, whose gort_recvfrom() names the sender's
 *   path; a gort_dial("unixgram") socket gort_write()s to it.
 * - scm_rights: gort_sendmsg() passes the write end of a pipe with
 *   SCM_RIGHTS; the descriptor gort_recvmsg() gets writes into the pipe.
 * - dial_errors: a path that does not exist (-ENOENT), a path that is
 *   not a listening socket (-ECONNREFUSED), an abstract name nobody
 *   listens on (-ECONNREFUSED).
 *
 * Variants: io_uring and epoll, on 2 Ps.
 */
#include "net_test.h"

#define NT_SEED		0x756e69782d6e7431ULL
#define NR_CLIENTS	8
#define NR_MSGS		20
#define MAX_MSG		(64 << 10)
#define SUN_LEN_MAX	sizeof(((struct sockaddr_un *)0)->sun_path)

FIXTURE(af_unix) {
	char dir[PATH_MAX];
};

FIXTURE_VARIANT(af_unix) {
	const char *poller, *mode;
	int maxprocs;
};

FIXTURE_VARIANT_ADD(af_unix, uring) { .poller = "uring", .mode = "io_uring", .maxprocs = 2, };
FIXTURE_VARIANT_ADD(af_unix, epoll) { .poller = "epoll", .mode = "epoll", .maxprocs = 2, };

static const char *dir;

FIXTURE_SETUP(af_unix)
{
	NT_SETUP_POLLER(variant);
	ASSERT_NE(NULL, nt_mkdtemp(self->dir, sizeof(self->dir)));
	dir = self->dir;
}

FIXTURE_TEARDOWN(af_unix)
{
	nt_rmtree(self->dir);
}

/* ---- stream_path, stream_abstract ---- */

static struct {
	char addr[108];
	struct gort_conn *l;
	_Atomic long bytes;
	uint32_t clients_done, servers_done;
} st;

static void echo_server(void *arg)
{
	struct gort_conn *c = arg;
	char *buf = malloc(MAX_MSG);
	ssize_t r;

	while (GCHECK(buf)) {
		r = gort_read(c, buf, MAX_MSG);
		if (r <= 0) {
			GCHECK_EQ(0, r);
			break;
		}
		if (!GCHECK_EQ(r, gort_write(c, buf, (size_t)r)))
			break;
	}
	GCHECK_EQ(0, gort_close(c));
	free(buf);
	gort_sema_release(&st.servers_done);
}

static void acceptor(void *arg)
{
	struct gort_conn *c;
	int i;

	for (i = 0; i < NR_CLIENTS; i++) {
		if (!GCHECK_EQ(0, gort_accept(st.l, &c)))
			break;
		GCHECK_EQ(0, gort_set_deadline(c, gort_nanotime() + 10 * NT_SEC));
		GCHECK(gort_go(echo_server, c) > 0);
	}
}

static void client(void *arg)
{
	int id = (int)(intptr_t)arg, m;
	char *buf = malloc(MAX_MSG), *rbuf = malloc(MAX_MSG);
	uint64_t key = nt_key(NT_SEED, (uint64_t)id), off = 0;
	struct gort_conn *c;
	struct nt_rng rng;
	ssize_t r, bad;

	nt_seed(&rng, NT_SEED, (uint64_t)id);
	if (!GCHECK(buf && rbuf) || !GCHECK_EQ(0, gort_dial("unix", st.addr, NT_SEC, &c)))
		goto out;
	GCHECK_EQ(0, gort_set_deadline(c, gort_nanotime() + 10 * NT_SEC));
	for (m = 0; m < NR_MSGS; m++) {
		size_t n = nt_size(&rng, MAX_MSG);

		nt_fill(buf, n, key, off);
		if (!GCHECK_EQ(n, gort_write(c, buf, n)))
			break;
		r = nt_read_full(c, rbuf, n);
		if (r != (ssize_t)n) {
			GFAIL("client %d: message %d of %zu B: read %zd", id, m, n, r);
			break;
		}
		if ((bad = nt_check(rbuf, n, key, off)) >= 0) {
			GFAIL("client %d: message %d of %zu B: byte %zd wrong", id, m, n, bad);
			break;
		}
		off += n;
		atomic_fetch_add(&st.bytes, (long)n);
	}
	GCHECK_EQ(0, gort_close(c));
out:
	free(buf);
	free(rbuf);
	gort_sema_release(&st.clients_done);
}

static int stream_main(void *arg)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);
	bool abstract = st.addr[0] == '@';
	size_t namelen = strlen(st.addr);
	int i;

	if (!GCHECK_EQ(0, gort_listen("unix", st.addr, &st.l)))
		return 1;
	GCHECK_EQ(0, gort_set_deadline(st.l, gort_nanotime() + 10 * NT_SEC));
	memset(&sun, 0, sizeof(sun));
	if (GCHECK_EQ(0, gort_local_addr(st.l, (struct sockaddr *)&sun, &len))) {
		GCHECK_EQ(AF_UNIX, sun.sun_family);
		if (abstract) {
			/* "\0name", no terminating NUL counted. */
			GCHECK_EQ(0, sun.sun_path[0]);
			GCHECK_EQ(offsetof(struct sockaddr_un, sun_path) + namelen, len);
			GCHECK(!memcmp(sun.sun_path + 1, st.addr + 1, namelen - 1));
		} else {
			GCHECK(!strcmp(sun.sun_path, st.addr));
		}
	}
	/* Negative: no port for unix sockets. */
	GCHECK(gort_local_port(st.l) < 0);
	GCHECK(gort_go(acceptor, NULL) > 0);
	for (i = 0; i < NR_CLIENTS; i++)
		GCHECK(gort_go(client, (void *)(intptr_t)i) > 0);
	if (!gt_sema_wait(&st.clients_done, NR_CLIENTS, 15000))
		return 1;
	gt_sema_wait(&st.servers_done, NR_CLIENTS, 5000);
	GCHECK_EQ(0, gort_close(st.l));
	return 0;
}

TEST_F(af_unix, stream_path)
{
	snprintf(st.addr, sizeof(st.addr), "%.60s/stream.sock", self->dir);
	ASSERT_EQ(0, nt_run(stream_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_LT(0, atomic_load(&st.bytes));
}

TEST_F(af_unix, stream_abstract)
{
	snprintf(st.addr, sizeof(st.addr), "@gort-net-test-%d", (int)getpid());
	ASSERT_EQ(0, nt_run(stream_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_LT(0, atomic_load(&st.bytes));
	/* Nothing was created under that name in the file system. */
	ASSERT_NE(0, access(st.addr, F_OK));
}

/* ---- unixgram ---- */

static int unixgram_main(void *arg)
{
	char pa[SUN_LEN_MAX], pb[SUN_LEN_MAX], buf[64];
	struct gort_conn *a, *b, *c;
	struct sockaddr_un to, from;
	socklen_t tolen = sizeof(to), fromlen;
	ssize_t r;

	snprintf(pa, sizeof(pa), "%.60s/a.sock", dir);
	snprintf(pb, sizeof(pb), "%.60s/b.sock", dir);
	if (!GCHECK_EQ(0, gort_listen("unixgram", pa, &a)) ||
	    !GCHECK_EQ(0, gort_listen("unixgram", pb, &b)))
		return 1;
	GCHECK_EQ(0, gort_set_deadline(b, gort_nanotime() + 5 * NT_SEC));
	GCHECK_EQ(0, gort_local_addr(b, (struct sockaddr *)&to, &tolen));
	GCHECK(!strcmp(to.sun_path, pb));
	GCHECK_EQ(5, gort_sendto(a, "hello", 5, (struct sockaddr *)&to, tolen));
	GCHECK_EQ(3, gort_sendto(a, "abc", 3, (struct sockaddr *)&to, tolen));
	fromlen = sizeof(from);
	memset(&from, 0, sizeof(from));
	r = gort_recvfrom(b, buf, sizeof(buf), (struct sockaddr *)&from, &fromlen);
	if (GCHECK_EQ(5, r))
		GCHECK(!memcmp(buf, "hello", 5));
	GCHECK_EQ(AF_UNIX, from.sun_family);
	GCHECK(!strcmp(from.sun_path, pa));
	/* Boundaries kept. */
	GCHECK_EQ(3, gort_read(b, buf, sizeof(buf)));
	/* A connected datagram socket. */
	if (GCHECK_EQ(0, gort_dial("unixgram", pb, NT_SEC, &c))) {
		GCHECK_EQ(4, gort_write(c, "dial", 4));
		r = gort_read(b, buf, sizeof(buf));
		if (GCHECK_EQ(4, r))
			GCHECK(!memcmp(buf, "dial", 4));
		GCHECK_EQ(0, gort_close(c));
	}
	GCHECK_EQ(0, gort_close(a));
	GCHECK_EQ(0, gort_close(b));
	return 0;
}

TEST_F(af_unix, unixgram)
{
	ASSERT_EQ(0, nt_run(unixgram_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- scm_rights ---- */

static int scm_rights_main(void *arg)
{
	char path[SUN_LEN_MAX], data = 'D', got, buf[8];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	struct gort_conn *a, *b;
	struct cmsghdr *cm;
	int p[2], fd = -1;

	snprintf(path, sizeof(path), "%.60s/scm.sock", dir);
	if (!GCHECK_EQ(0, nt_pair("unix", path, &a, &b)))
		return 1;
	GCHECK_EQ(0, gort_set_deadline(b, gort_nanotime() + 5 * NT_SEC));
	if (!GCHECK_EQ(0, pipe2(p, O_CLOEXEC)))
		return 1;
	memset(&ctl, 0, sizeof(ctl));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &p[1], sizeof(int));
	GCHECK_EQ(1, gort_sendmsg(a, &msg, 0));
	close(p[1]);

	memset(&ctl, 0, sizeof(ctl));
	iov.iov_base = &got;
	msg.msg_controllen = sizeof(ctl.buf);
	msg.msg_flags = 0;
	GCHECK_EQ(1, gort_recvmsg(b, &msg, MSG_CMSG_CLOEXEC));
	GCHECK_EQ('D', got);
	cm = CMSG_FIRSTHDR(&msg);
	if (GCHECK(cm) && GCHECK_EQ(SCM_RIGHTS, cm->cmsg_type)) {
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		/* The received descriptor is the pipe's write end. */
		if (GCHECK_EQ(2, write(fd, "ok", 2))) {
			GCHECK_EQ(2, read(p[0], buf, sizeof(buf)));
			GCHECK(!memcmp(buf, "ok", 2));
		}
		close(fd);
	}
	close(p[0]);
	GCHECK_EQ(0, gort_close(a));
	GCHECK_EQ(0, gort_close(b));
	return 0;
}

TEST_F(af_unix, scm_rights)
{
	ASSERT_EQ(0, nt_run(scm_rights_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- dial_errors ---- */

static int dial_errors_main(void *arg)
{
	char path[SUN_LEN_MAX], name[64];
	struct gort_conn *c;
	int fd;

	snprintf(path, sizeof(path), "%.60s/nobody-here", dir);
	GCHECK_EQ(-ENOENT, gort_dial("unix", path, NT_SEC, &c));
	/* A socket file nobody listens on any more. */
	snprintf(path, sizeof(path), "%.60s/stale.sock", dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (GCHECK(fd >= 0)) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		memcpy(sun.sun_path, path, strlen(path) + 1);
		GCHECK_EQ(0, bind(fd, (struct sockaddr *)&sun, sizeof(sun)));
		close(fd);
		GCHECK_EQ(-ECONNREFUSED, gort_dial("unix", path, NT_SEC, &c));
	}
	snprintf(name, sizeof(name), "@gort-net-nobody-%d", (int)getpid());
	GCHECK_EQ(-ECONNREFUSED, gort_dial("unix", name, NT_SEC, &c));
	return 0;
}

TEST_F(af_unix, dial_errors)
{
	ASSERT_EQ(0, nt_run(dial_errors_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

TEST_HARNESS_MAIN
