/* SPDX-License-Identifier: MIT */
/*
 * Description: 200 concurrent TCP connections in one process echo 10,000
 * messages of random sizes (1 B .. 64 KiB) byte-exactly.
 *
 * A listener goroutine accepts the 200 connections and starts one server
 * goroutine per connection, which reads with buffers of random size and
 * writes back what it read (gort_write: all of it) until end of file,
 * then closes.  Each client goroutine dials (gort_dial), and:
 *
 * - duplex: a writer goroutine writes the connection's 50 messages, each
 *   in one gort_write(), then shuts down its side; the client reads with
 *   buffers of random size, concurrently, until end of file.  One
 *   connection used by two goroutines at once, both directions full.
 * - lockstep: the client writes a message, reads exactly that many bytes
 *   back (in random-size reads), and only then writes the next; after the
 *   last it shuts down its side and must read end of file.  Every message
 *   is a full park/wake round trip for both sides.
 *
 * Every byte is checked against its stream (net_test.h: stream = the
 * connection, offset = bytes sent before it) and the byte count must
 * match exactly.  Sizes come from a seeded generator (NT_SEED, per
 * connection and per role); a mismatch prints connection, offset and the
 * read size.  Every connection has a 12 s deadline so a lost wake-up
 * fails the test instead of hanging it; a stall is reported with where
 * each unfinished connection was, and a goroutine dump.
 *
 * Variants: io_uring and epoll, on 1 and 2 Ps.
 */
#include "net_test.h"

#define NR_CONNS	200
#define NR_MSGS		10000		/* in total */
#define MSGS_PER_CONN	(NR_MSGS / NR_CONNS)
#define MAX_MSG		(64 << 10)
#define NT_SEED		0x6563686f2d6e6574ULL
#define CONN_DEADLINE	(12 * NT_SEC)

FIXTURE(echo) {
};

FIXTURE_VARIANT(echo) {
	const char *poller, *mode;
	int maxprocs;
};

FIXTURE_VARIANT_ADD(echo, uring_procs1) { .poller = "uring", .mode = "io_uring", .maxprocs = 1, };
FIXTURE_VARIANT_ADD(echo, uring_procs2) { .poller = "uring", .mode = "io_uring", .maxprocs = 2, };
FIXTURE_VARIANT_ADD(echo, epoll_procs1) { .poller = "epoll", .mode = "epoll", .maxprocs = 1, };
FIXTURE_VARIANT_ADD(echo, epoll_procs2) { .poller = "epoll", .mode = "epoll", .maxprocs = 2, };

FIXTURE_SETUP(echo)
{
	NT_SETUP_POLLER(variant);
}

FIXTURE_TEARDOWN(echo)
{
}

enum { ROLE_SIZES, ROLE_READS, ROLE_SERVER };

/* Where a goroutine is, for the report when a test stalls. */
enum phase { P_START, P_DIAL, P_WRITE, P_READ, P_WAIT_WRITER, P_SHUTDOWN,
	     P_CLOSE, P_DONE };
static const char *const phase_names[] = {
	"start", "dial", "write", "read", "wait-writer", "shutdown", "close", "done",
};

struct client {
	struct echo_ctx *x;
	int id;
	struct gort_conn *c;
	uint64_t key;			/* its data stream */
	uint64_t total;			/* bytes it sends (= gets back) */
	uint32_t writer_done;		/* duplex: sema, its writer finished */
	/* Progress, written by its goroutines, read on a stall. */
	_Atomic int phase, wphase;
	_Atomic uint64_t sent, rcvd;
};

struct server {
	struct echo_ctx *x;
	int id;				/* accept order */
	struct gort_conn *c;
	_Atomic int phase;
	_Atomic uint64_t in, out;
	_Atomic int peer_port;		/* the client's port, to match them */
};

/*
 * Static: each test is a process of its own, and goroutines that are
 * still running when a failed test gives up must not see a dead frame.
 */
static struct echo_ctx {
	bool lockstep;
	int port;
	struct gort_conn *l;
	struct client cl[NR_CONNS];
	struct server sv[NR_CONNS];
	uint32_t clients_done, servers_done, acceptor_done;
	atomic_int accepted;
	_Atomic uint64_t echoed;	/* bytes servers wrote back */
	_Atomic uint64_t checked;	/* bytes clients verified */
	int64_t elapsed;
} ctx;

static void server_main(void *arg)
{
	struct server *s = arg;
	struct nt_rng r;
	char *buf = malloc(MAX_MSG);
	ssize_t n, w;

	nt_seed(&r, NT_SEED, (uint64_t)s->id << 8 | ROLE_SERVER);
	if (!GCHECK(buf))
		goto out;
	for (;;) {
		size_t want = nt_size(&r, MAX_MSG);

		atomic_store(&s->phase, P_READ);
		n = gort_read(s->c, buf, want);
		if (n == 0)
			break;
		if (n < 0) {
			GFAIL("server %d: gort_read(%zu): %zd (%s)", s->id, want,
			      n, strerror((int)-n));
			break;
		}
		atomic_fetch_add(&s->in, (uint64_t)n);
		atomic_store(&s->phase, P_WRITE);
		w = gort_write(s->c, buf, (size_t)n);
		if (w != n) {
			GFAIL("server %d: gort_write(%zd): %zd (%s)", s->id, n, w,
			      w < 0 ? strerror((int)-w) : "short");
			break;
		}
		atomic_fetch_add(&s->out, (uint64_t)n);
		atomic_fetch_add(&ctx.echoed, (uint64_t)n);
	}
out:
	atomic_store(&s->phase, P_CLOSE);
	GCHECK_EQ(0, gort_close(s->c));
	atomic_store(&s->phase, P_DONE);
	free(buf);
	gort_sema_release(&ctx.servers_done);
}

static int peer_port(struct gort_conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	return gort_remote_addr(c, (struct sockaddr *)&ss, &len) ? -1 : nt_port_of(&ss);
}

static void acceptor_main(void *arg)
{
	int i, err;

	(void)arg;
	for (i = 0; i < NR_CONNS; i++) {
		struct server *s = &ctx.sv[i];

		err = gort_accept(ctx.l, &s->c);
		if (err) {
			GFAIL("gort_accept #%d: %d (%s)", i, err, strerror(-err));
			break;
		}
		atomic_fetch_add(&ctx.accepted, 1);
		s->x = &ctx;
		s->id = i;
		atomic_store(&s->peer_port, peer_port(s->c));
		GCHECK_EQ(0, gort_set_deadline(s->c, gort_nanotime() + CONN_DEADLINE));
		if (!GCHECK(gort_go(server_main, s) > 0)) {
			gort_close(s->c);
			break;
		}
	}
	gort_sema_release(&ctx.acceptor_done);
}

/* check() - verify @n received bytes at @off; false (reported) if wrong. */
static bool check(struct client *cl, const char *buf, size_t n, uint64_t off,
		  size_t asked)
{
	ssize_t bad = nt_check(buf, n, cl->key, off);

	if (bad < 0) {
		atomic_fetch_add(&ctx.checked, n);
		return true;
	}
	GFAIL("conn %d: byte %llu of %llu is 0x%02x, want 0x%02x (read of %zu asked %zu; seed %#llx)",
	      cl->id, (unsigned long long)(off + (uint64_t)bad),
	      (unsigned long long)cl->total, (unsigned char)buf[bad],
	      nt_byte(cl->key, off + (uint64_t)bad), n, asked,
	      (unsigned long long)NT_SEED);
	return false;
}

static void writer_main(void *arg)
{
	struct client *cl = arg;
	struct nt_rng r;
	char *buf = malloc(MAX_MSG);
	uint64_t off = 0;
	ssize_t w;
	int m;

	nt_seed(&r, NT_SEED, (uint64_t)cl->id << 8 | ROLE_SIZES);
	if (!GCHECK(buf))
		goto out;
	for (m = 0; m < MSGS_PER_CONN; m++) {
		size_t len = nt_size(&r, MAX_MSG);

		nt_fill(buf, len, cl->key, off);
		atomic_store(&cl->wphase, P_WRITE);
		w = gort_write(cl->c, buf, len);
		if (w > 0)
			atomic_fetch_add(&cl->sent, (uint64_t)w);
		if (w != (ssize_t)len) {
			GFAIL("conn %d: message %d: gort_write(%zu) at %llu: %zd (%s)",
			      cl->id, m, len, (unsigned long long)off, w,
			      w < 0 ? strerror((int)-w) : "short");
			break;
		}
		off += len;
	}
	atomic_store(&cl->wphase, P_SHUTDOWN);
	GCHECK_EQ(0, gort_shutdown(cl->c, SHUT_WR));
out:
	atomic_store(&cl->wphase, P_DONE);
	free(buf);
	gort_sema_release(&cl->writer_done);
}

static void duplex(struct client *cl, char *buf)
{
	struct nt_rng r;
	uint64_t off = 0;
	ssize_t n;

	nt_seed(&r, NT_SEED, (uint64_t)cl->id << 8 | ROLE_READS);
	if (!GCHECK(gort_go(writer_main, cl) > 0))
		return;
	for (;;) {
		size_t want = nt_size(&r, MAX_MSG);

		atomic_store(&cl->phase, P_READ);
		n = gort_read(cl->c, buf, want);
		if (n > 0)
			atomic_fetch_add(&cl->rcvd, (uint64_t)n);
		if (n == 0)
			break;
		if (n < 0) {
			GFAIL("conn %d: gort_read(%zu) at %llu of %llu: %zd (%s)",
			      cl->id, want, (unsigned long long)off,
			      (unsigned long long)cl->total, n, strerror((int)-n));
			break;
		}
		if (!check(cl, buf, (size_t)n, off, want))
			break;
		off += (uint64_t)n;
	}
	if (n == 0 && off != cl->total)
		GFAIL("conn %d: end of file after %llu bytes, want %llu",
		      cl->id, (unsigned long long)off, (unsigned long long)cl->total);
	/* The writer uses the connection until it is done. */
	atomic_store(&cl->phase, P_WAIT_WRITER);
	if (!gort_sema_acquire_timeout(&cl->writer_done, CONN_DEADLINE))
		GFAIL("conn %d: writer not done", cl->id);
}

static void lockstep(struct client *cl, char *buf, char *rbuf)
{
	struct nt_rng sizes, reads;
	uint64_t off = 0;
	ssize_t n, w;
	int m;

	nt_seed(&sizes, NT_SEED, (uint64_t)cl->id << 8 | ROLE_SIZES);
	nt_seed(&reads, NT_SEED, (uint64_t)cl->id << 8 | ROLE_READS);
	for (m = 0; m < MSGS_PER_CONN; m++) {
		size_t len = nt_size(&sizes, MAX_MSG), got = 0;

		nt_fill(buf, len, cl->key, off);
		atomic_store(&cl->phase, P_WRITE);
		w = gort_write(cl->c, buf, len);
		if (w > 0)
			atomic_fetch_add(&cl->sent, (uint64_t)w);
		if (w != (ssize_t)len) {
			GFAIL("conn %d: message %d: gort_write(%zu): %zd (%s)",
			      cl->id, m, len, w, w < 0 ? strerror((int)-w) : "short");
			return;
		}
		while (got < len) {
			size_t want = nt_size(&reads, len - got);

			atomic_store(&cl->phase, P_READ);
			n = gort_read(cl->c, rbuf, want);
			if (n > 0)
				atomic_fetch_add(&cl->rcvd, (uint64_t)n);
			if (n <= 0 || (size_t)n > want) {
				GFAIL("conn %d: message %d (%zu B): gort_read(%zu) after %zu: %zd (%s)",
				      cl->id, m, len, want, got, n,
				      n < 0 ? strerror((int)-n) : "eof/too long");
				return;
			}
			if (!check(cl, rbuf, (size_t)n, off + got, want))
				return;
			got += (size_t)n;
		}
		off += len;
	}
	atomic_store(&cl->phase, P_SHUTDOWN);
	GCHECK_EQ(0, gort_shutdown(cl->c, SHUT_WR));
	atomic_store(&cl->phase, P_READ);
	n = gort_read(cl->c, rbuf, 1);
	if (n != 0)
		GFAIL("conn %d: after the last echo gort_read = %zd, want 0 (eof)",
		      cl->id, n);
}

static void client_main(void *arg)
{
	struct client *cl = arg;
	char addr[32], *buf = malloc(MAX_MSG), *rbuf = malloc(MAX_MSG);
	int err;

	if (!GCHECK(buf && rbuf))
		goto out;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ctx.port);
	atomic_store(&cl->phase, P_DIAL);
	err = gort_dial("tcp", addr, 10 * NT_SEC, &cl->c);
	if (err) {
		GFAIL("conn %d: gort_dial(%s): %d (%s)", cl->id, addr, err,
		      strerror(-err));
		goto out;
	}
	GCHECK_EQ(0, gort_set_deadline(cl->c, gort_nanotime() + CONN_DEADLINE));
	if (ctx.lockstep)
		lockstep(cl, buf, rbuf);
	else
		duplex(cl, buf);
	atomic_store(&cl->phase, P_CLOSE);
	GCHECK_EQ(0, gort_close(cl->c));
out:
	atomic_store(&cl->phase, P_DONE);
	free(buf);
	free(rbuf);
	gort_sema_release(&ctx.clients_done);
}

/* stalled() - print where the goroutines that did not finish are. */
static void stalled(void)
{
	int i, shown = 0, ph;

	for (i = 0; i < NR_CONNS && shown < 10; i++) {
		struct client *cl = &ctx.cl[i];
		int port = -1;

		ph = atomic_load(&cl->phase);
		if (ph == P_DONE)
			continue;
		shown++;
		/* While its goroutine still uses it, the handle is valid. */
		if (ph > P_DIAL && ph < P_CLOSE)
			port = gort_local_port(cl->c);
		fprintf(stderr, "# client %d (port %d) in %s, its writer in %s: sent %llu, received %llu of %llu\n",
			i, port, phase_names[ph],
			ctx.lockstep ? "-" : phase_names[atomic_load(&cl->wphase)],
			(unsigned long long)atomic_load(&cl->sent),
			(unsigned long long)atomic_load(&cl->rcvd),
			(unsigned long long)cl->total);
	}
	for (i = 0, shown = 0; i < atomic_load(&ctx.accepted) && shown < 10; i++) {
		struct server *s = &ctx.sv[i];

		ph = atomic_load(&s->phase);
		if (ph == P_DONE)
			continue;
		shown++;
		fprintf(stderr, "# server %d (peer port %d) in %s: in %llu, out %llu\n",
			i, atomic_load(&s->peer_port), phase_names[ph],
			(unsigned long long)atomic_load(&s->in),
			(unsigned long long)atomic_load(&s->out));
	}
}

static int echo_main(void *arg)
{
	int64_t t0 = gort_nanotime();
	int i, err;

	(void)arg;
	err = gort_listen("tcp", "127.0.0.1:0", &ctx.l);
	if (!GCHECK_EQ(0, err))
		return 1;
	ctx.port = gort_local_port(ctx.l);
	if (!GCHECK(ctx.port > 0))
		return 1;
	GCHECK_EQ(0, gort_set_deadline(ctx.l, gort_nanotime() + CONN_DEADLINE));
	if (!GCHECK(gort_go(acceptor_main, NULL) > 0))
		return 1;
	for (i = 0; i < NR_CONNS; i++)
		if (!GCHECK(gort_go(client_main, &ctx.cl[i]) > 0))
			return 1;
	if (!gt_sema_wait(&ctx.clients_done, NR_CONNS, 15000) ||
	    !gt_sema_wait(&ctx.acceptor_done, 1, 1000)) {
		stalled();
		nt_dump_and_die("echo stalled");
	}
	gt_sema_wait(&ctx.servers_done, atomic_load(&ctx.accepted), 5000);
	GCHECK_EQ(0, gort_close(ctx.l));
	ctx.elapsed = gort_nanotime() - t0;
	return 0;
}

static void run_echo(struct __test_metadata *_metadata, int maxprocs,
		     bool lockstep)
{
	uint64_t total = 0;
	int i, m;

	ctx.lockstep = lockstep;
	for (i = 0; i < NR_CONNS; i++) {
		struct client *cl = &ctx.cl[i];
		struct nt_rng r;

		cl->x = &ctx;
		cl->id = i;
		cl->key = nt_key(NT_SEED, (uint64_t)i);
		nt_seed(&r, NT_SEED, (uint64_t)i << 8 | ROLE_SIZES);
		for (m = 0; m < MSGS_PER_CONN; m++)
			cl->total += nt_size(&r, MAX_MSG);
		total += cl->total;
	}
	ASSERT_EQ(0, nt_run(echo_main, NULL, maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(NR_CONNS, atomic_load(&ctx.accepted));
	ASSERT_EQ(total, atomic_load(&ctx.echoed));
	ASSERT_EQ(total, atomic_load(&ctx.checked));
	TH_LOG("%d conns, %d messages, %llu bytes each way, %lld ms",
	       NR_CONNS, NR_CONNS * MSGS_PER_CONN, (unsigned long long)total,
	       (long long)(ctx.elapsed / GT_MS));
}

TEST_F(echo, duplex)
{
	run_echo(_metadata, variant->maxprocs, false);
}

TEST_F(echo, lockstep)
{
	run_echo(_metadata, variant->maxprocs, true);
}

TEST_HARNESS_MAIN
