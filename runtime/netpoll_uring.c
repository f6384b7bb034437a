// SPDX-License-Identifier: MIT
/*
 * netpoll_uring.c - the io_uring poller: one ring per M.
 *
 * Why per M and not per P: IORING_SETUP_SINGLE_ISSUER binds a ring to the
 * thread that first submits, and DEFER_TASKRUN posts completions only
 * when that thread enters the kernel to get events.  A P moves between
 * threads (sysmon hands it off during a long syscall; an idle P is taken
 * by whichever M is woken), a thread does not: so the ring follows the
 * thread.  In a server, where goroutines do their I/O here and not in
 * blocking calls, each P keeps its M and so, in effect, its ring.
 *
 * The life of an operation:
 *   1. The goroutine fills an SQE (user_data = its struct uop, on its own
 *	stack), linked to an IORING_OP_LINK_TIMEOUT if it has a deadline,
 *	and parks.  Nothing is submitted yet.
 *   2. Its M, back on g0, submits everything its goroutines queued in one
 *	io_uring_enter when its run queue is empty (or every 16th
 *	schedule), and reaps completions in the same call
 *	(io_uring_submit_and_get_events).  This is the batching that makes
 *	io_uring beat epoll.
 *   3. The M readies the goroutine on its P with the result in the uop.
 * Only the owning M ever touches its ring (SQ, CQ, buffer ring): the
 * goroutine that fills an SQE runs on that M, and completions are reaped
 * by it alone, after the goroutine has parked.
 *
 * An idle M with operations in flight sleeps in io_uring_enter (until a
 * completion, a wake-up or its timer), never on its futex.  Wake-ups:
 * IORING_OP_MSG_RING from a thread that has a ring; otherwise a write to
 * the ring's eventfd, on which a multishot poll is always armed.
 *
 * Cancellation (close, deadline changes) comes from other threads, which
 * may not touch the ring: they post the fd to every ring's mailbox and
 * wake its M, which submits IORING_OP_ASYNC_CANCEL for that fd.  Stale or
 * extra cancellations only make an operation return NP_RETRY.
 *
 * Reads of stream sockets select a buffer from the M's provided buffer
 * ring (IOSQE_BUFFER_SELECT) and copy out on completion, so a goroutine
 * waiting on an idle connection pins no buffer in the kernel; without
 * buffers (-ENOBUFS) the read is retried into the caller's buffer.
 *
 * The blind spot: completions for an M that sits in a long blocking call
 * (gort_syscall_enter) wait until it returns.  Documentation/netpoll.rst.
 */
#define _GNU_SOURCE
/* liburing pulls in <stdatomic.h>, whose names atomic.h reuses for the
 * __atomic builtins on plain types: liburing first, then its macros go. */
#include <liburing.h>

/* liburing's macros that expand to <stdatomic.h> calls, as functions
 * compiled before atomic.h takes the names over. */
static inline unsigned int ring_sqflags(const struct io_uring *r)
{
	return IO_URING_READ_ONCE(*r->sq.kflags);
}

#undef atomic_load
#undef atomic_store
#undef atomic_load_explicit
#undef atomic_store_explicit
#undef atomic_exchange
#undef atomic_exchange_explicit
#undef atomic_fetch_add
#undef atomic_fetch_add_explicit
#undef atomic_fetch_sub
#undef atomic_fetch_sub_explicit
#undef atomic_compare_exchange_strong
#undef atomic_compare_exchange_strong_explicit
#undef atomic_compare_exchange_weak
#undef atomic_compare_exchange_weak_explicit
#include "netpoll.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#define RING_ENTRIES	256
#define RING_CQ		4096
#define NBUFS		128		/* provided buffers per ring */
#define BUFSZ		(16 << 10)
#define BGID		0
#define NCANCEL		32

/* user_data tags in the low bits (uops and conns are 8-aligned). */
#define TAG_UOP		0
#define TAG_ACCEPT	1
#define TAG_WAKE	2
#define TAG_IGN		3
#define TAG_WAKEFAIL	4	/* a MSG_RING we sent failed: ptr = target ring */
#define TAG_MASK	7

struct ring {
	struct io_uring ring;
	struct m *m;
	int efd;			/* wake-ups from threads without a ring */
	uint32_t inflight;		/* ops whose last CQE is not reaped */
	uint32_t wakepending;		/* efd written, not yet read */
	struct io_uring_buf_ring *br;
	char *bufs;
	struct lock cancellock;		/* the mailbox: fds to cancel */
	int cancelfd[NCANCEL];
	int ncancel;			/* > NCANCEL: cancel everything */
	struct ring *next;		/* allrings */
};

/* struct uop - one operation of a parked goroutine, on its stack. */
struct uop {
	struct g *g;
	int32_t res;
	uint32_t cflags;
	void *copyto;			/* buffer select: copy here */
	struct __kernel_timespec ts;	/* linked timeout, absolute */
} __aligned(8);

static unsigned int ringflags;		/* what uring_probe found working */
static bool have_msgring, have_bufring;
static struct lock ringslock;
static struct ring *allrings;

static struct io_uring_params ring_params(unsigned int flags)
{
	struct io_uring_params p;

	memset(&p, 0, sizeof(p));
	p.flags = flags | IORING_SETUP_CQSIZE;
	p.cq_entries = RING_CQ;
	return p;
}

/*
 * uring_probe() - can this process use io_uring as its poller?  Tries
 * SINGLE_ISSUER | DEFER_TASKRUN first, then plain rings; checks every
 * opcode the poller issues.  Return: 0 (and what was found in @why) or -1
 * (and why not).
 */
int uring_probe(char *why, size_t whylen)
{
	static const struct {
		unsigned int flags;
		const char *name;
	} tries[] = {
		{ IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_TASKRUN_FLAG, "single issuer, deferred task run" },
		{ IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, "cooperative task run" },
		{ 0, "plain" },
	};
	static const uint8_t ops[] = {
		IORING_OP_RECV, IORING_OP_SEND, IORING_OP_READV, IORING_OP_WRITEV,
		IORING_OP_RECVMSG, IORING_OP_SENDMSG, IORING_OP_ACCEPT,
		IORING_OP_CONNECT, IORING_OP_READ, IORING_OP_WRITE, IORING_OP_FSYNC,
		IORING_OP_LINK_TIMEOUT, IORING_OP_ASYNC_CANCEL, IORING_OP_POLL_ADD,
	};
	struct io_uring_probe *probe;
	struct io_uring ring;
	const char *name = "";
	size_t i;
	int err = -ENOSYS;

	for (i = 0; i < ARRAY_SIZE(tries); i++) {
		struct io_uring_params p = ring_params(tries[i].flags);

		err = io_uring_queue_init_params(8, &ring, &p);
		if (!err) {
			if (!(p.features & IORING_FEAT_EXT_ARG)) {
				io_uring_queue_exit(&ring);
				snprintf(why, whylen, "io_uring: kernel too old (no EXT_ARG)");
				return -1;
			}
			ringflags = tries[i].flags;
			name = tries[i].name;
			break;
		}
		if (err != -EINVAL)
			break;		/* ENOSYS, EPERM (sysctl, seccomp): no use */
	}
	if (err) {
		snprintf(why, whylen, "io_uring_setup: %s", strerror(-err));
		return -1;
	}
	probe = io_uring_get_probe_ring(&ring);
	if (!probe) {
		io_uring_queue_exit(&ring);
		snprintf(why, whylen, "io_uring: no opcode probe");
		return -1;
	}
	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		if (!io_uring_opcode_supported(probe, ops[i])) {
			io_uring_free_probe(probe);
			io_uring_queue_exit(&ring);
			snprintf(why, whylen, "io_uring: opcode %u unsupported", ops[i]);
			return -1;
		}
	}
	have_msgring = io_uring_opcode_supported(probe, IORING_OP_MSG_RING);
	io_uring_free_probe(probe);
	{
		struct io_uring_buf_reg reg = { .ring_entries = 8, .bgid = BGID };
		void *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (mem != MAP_FAILED) {
			reg.ring_addr = (uintptr_t)mem;
			have_bufring = !io_uring_register_buf_ring(&ring, &reg, 0);
			munmap(mem, 4096);
		}
	}
	io_uring_queue_exit(&ring);
	snprintf(why, whylen, "%s%s%s", name,
		 have_msgring ? ", MSG_RING wake-ups" : ", eventfd wake-ups",
		 have_bufring ? ", provided buffer rings" : "");
	return 0;
}

static void arm_wake(struct ring *r);

static void ring_setup_bufs(struct ring *r)
{
	struct io_uring_buf_reg reg = { .ring_entries = NBUFS, .bgid = BGID };
	size_t brsz = NBUFS * sizeof(struct io_uring_buf);
	int i;

	if (!have_bufring)
		return;
	r->br = sysmap(brsz);
	r->bufs = sysmap((size_t)NBUFS * BUFSZ);
	if (!r->br || !r->bufs)
		goto fail;
	reg.ring_addr = (uintptr_t)r->br;
	if (io_uring_register_buf_ring(&r->ring, &reg, 0))
		goto fail;
	io_uring_buf_ring_init(r->br);
	for (i = 0; i < NBUFS; i++)
		io_uring_buf_ring_add(r->br, r->bufs + (size_t)i * BUFSZ, BUFSZ,
				      (unsigned short)i, io_uring_buf_ring_mask(NBUFS), i);
	io_uring_buf_ring_advance(r->br, NBUFS);
	return;
fail:
	if (r->br)
		sysunmap(r->br, brsz);
	if (r->bufs)
		sysunmap(r->bufs, (size_t)NBUFS * BUFSZ);
	r->br = NULL;
	r->bufs = NULL;
}

/* ring_get() - the calling M's ring, created on its first use. */
static struct ring *ring_get(struct m *mp)
{
	struct io_uring_params p = ring_params(ringflags);
	struct ring *r = mp->ring;
	int err;

	if (likely(r))
		return r;
	r = calloc(1, sizeof(*r));
	if (!r)
		fatal("runtime: out of memory creating an io_uring");
	err = io_uring_queue_init_params(RING_ENTRIES, &r->ring, &p);
	if (err)
		fatalf("runtime: io_uring_setup failed on a new thread: %s", strerror(-err));
	r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->efd < 0)
		fatalf("runtime: eventfd: %s", strerror(errno));
	r->m = mp;
	ring_setup_bufs(r);
	arm_wake(r);
	lock(&ringslock);
	r->next = allrings;
	atomic_store(&allrings, r);
	unlock(&ringslock);
	mp->ring = r;
	return r;
}

/* sqe_get() - @n free SQEs in a row (a linked pair must not be split by
 * a submission); submits what is queued if the SQ is too full. */
static struct io_uring_sqe *sqe_get(struct ring *r, unsigned int n)
{
	struct io_uring_sqe *sqe;

	if (io_uring_sq_space_left(&r->ring) < n)
		io_uring_submit(&r->ring);
	sqe = io_uring_get_sqe(&r->ring);
	if (!sqe)
		throw("io_uring: no SQE after submit");
	return sqe;
}

static void arm_wake(struct ring *r)
{
	struct io_uring_sqe *sqe = sqe_get(r, 1);

	io_uring_prep_poll_multishot(sqe, r->efd, POLLIN);
	io_uring_sqe_set_data64(sqe, TAG_WAKE);
}

static void prep(struct ring *r, struct io_uring_sqe *sqe, struct gort_conn *c,
		 struct netop *op, struct uop *u)
{
	int fd = c->fd;

	switch (op->kind) {
	case OP_RECV:
		if (r->br && !op->flags && op->n <= BUFSZ) {
			io_uring_prep_recv(sqe, fd, NULL, op->n, 0);
			sqe->flags |= IOSQE_BUFFER_SELECT;
			sqe->buf_group = BGID;
			u->copyto = op->buf;
		} else {
			io_uring_prep_recv(sqe, fd, op->buf, op->n, 0);
		}
		break;
	case OP_SEND:
		io_uring_prep_send(sqe, fd, op->buf, op->n, MSG_NOSIGNAL);
		break;
	case OP_READV:
		io_uring_prep_readv(sqe, fd, op->iov, (unsigned int)op->iovcnt,
				    c->kind == CK_FILE ? (uint64_t)op->off : 0);
		break;
	case OP_WRITEV:
		if (c->kind == CK_FILE) {
			io_uring_prep_writev(sqe, fd, op->iov, (unsigned int)op->iovcnt,
					     (uint64_t)op->off);
		} else {
			/* sendmsg, not writev: no SIGPIPE.  The msghdr lives in
			 * the uop's frame until completion (see uring_io). */
			io_uring_prep_sendmsg(sqe, fd, op->msg, MSG_NOSIGNAL);
		}
		break;
	case OP_RECVMSG:
		io_uring_prep_recvmsg(sqe, fd, op->msg, (unsigned int)op->flags);
		break;
	case OP_SENDMSG:
		io_uring_prep_sendmsg(sqe, fd, op->msg, (unsigned int)op->flags);
		break;
	case OP_CONNECT:
		io_uring_prep_connect(sqe, fd, op->sa, op->salen);
		break;
	case OP_CONNECTWAIT:
		io_uring_prep_poll_add(sqe, fd, POLLOUT);
		break;
	case OP_PREAD:
		io_uring_prep_read(sqe, fd, op->buf, (unsigned int)(op->n > 0x7ffff000 ? 0x7ffff000 : op->n),
				   (uint64_t)op->off);
		break;
	case OP_PWRITE:
		io_uring_prep_write(sqe, fd, op->buf, (unsigned int)(op->n > 0x7ffff000 ? 0x7ffff000 : op->n),
				    (uint64_t)op->off);
		break;
	case OP_FSYNC:
		io_uring_prep_fsync(sqe, fd, op->flags ? IORING_FSYNC_DATASYNC : 0);
		break;
	default:
		throw("uring: bad op");
	}
	io_uring_sqe_set_data(sqe, u);
}

/*
 * connect_result() - a connect that was cancelled (a deadline change, or a
 * stale cancellation of the fd number) is still in progress in the
 * kernel: issuing it again would fail with EALREADY.  Wait for POLLOUT
 * instead (OP_CONNECTWAIT) and read the outcome, as after a non-blocking
 * connect.
 */
static ssize_t connect_result(struct gort_conn *c, struct netop *op, int32_t res)
{
	if (op->kind == OP_CONNECTWAIT && res >= 0)
		res = (int32_t)sock_connected(c->fd);
	switch (res) {
	case -ECANCELED:
	case -EINTR:
	case -EALREADY:
	case -EINPROGRESS:
	case -EAGAIN:
		op->kind = OP_CONNECTWAIT;
		return NP_RETRY;
	case -EISCONN:
		return 0;
	}
	return res;
}

ssize_t uring_io(struct gort_conn *c, struct netop *op, uint32_t seq, int64_t deadline)
{
	struct m *mp = getm();
	struct ring *r = ring_get(mp);
	struct io_uring_sqe *sqe;
	struct uop u = { .g = mp->curg };
	struct msghdr wmsg;

	if (c->kind != CK_FILE && (op->kind == OP_PREAD || op->kind == OP_PWRITE ||
			   op->kind == OP_FSYNC))
		return -ESPIPE;
	if (op->kind == OP_WRITEV && c->kind != CK_FILE) {
		memset(&wmsg, 0, sizeof(wmsg));
		wmsg.msg_iov = (struct iovec *)op->iov;
		wmsg.msg_iovlen = (size_t)op->iovcnt;
		op->msg = &wmsg;
	}
	/*
	 * Counted under c->lock, and the close/deadline check repeated: a
	 * gort_close() after this point sees nops > 0 and posts a cancel,
	 * which this M handles after the SQE below is queued.
	 */
	lock(&c->lock);
	/* A deadline changed since conn_io() read it, with nothing in
	 * flight to cancel: re-read it. */
	if (c->closing || c->seq[op->dir] != seq) {
		unlock(&c->lock);
		return NP_RETRY;
	}
	c->nops++;
	unlock(&c->lock);

	sqe = sqe_get(r, deadline ? 2 : 1);
	prep(r, sqe, c, op, &u);
	if (deadline) {
		struct io_uring_sqe *t;

		sqe->flags |= IOSQE_IO_LINK;
		t = io_uring_get_sqe(&r->ring);
		u.ts.tv_sec = deadline / 1000000000;
		u.ts.tv_nsec = deadline % 1000000000;
		io_uring_prep_link_timeout(t, &u.ts, IORING_TIMEOUT_ABS);
		io_uring_sqe_set_data64(t, TAG_IGN);
	}
	store_relaxed(&r->inflight, r->inflight + 1);
	atomic_fetch_add(&netpoll_nwait, 1);
	gopark(NULL, NULL, waitReasonIOWait);

	lock(&c->lock);
	c->nops--;
	if (c->seq[op->dir] != seq && u.res == -ECANCELED)
		u.res = NP_RETRY;
	unlock(&c->lock);
	if (op->kind == OP_CONNECT || op->kind == OP_CONNECTWAIT)
		return connect_result(c, op, u.res);
	switch (u.res) {
	case -ECANCELED:
	case -EINTR:
	case -EAGAIN:
		return NP_RETRY;
	case -ENOBUFS:
		if (!u.copyto)
			break;
		op->flags = 1;		/* no buffer select this time */
		return NP_RETRY;
	}
	if (op->kind == OP_RECV)
		op->flags = 0;
	return u.res;
}

/*
 * uring_accept() - take an accepted connection, arming a multishot accept
 * on this M's ring if none is armed.  Waiters park in pd_wait(); the
 * completions queue fds (or errors) in c->acceptq and wake them.
 */
int uring_accept(struct gort_conn *c, uint32_t seq, int64_t deadline)
{
	struct m *mp = getm();
	/* Before c->acceptm is set: a gort_close() that sees it must find
	 * this ring on allrings to cancel the accept. */
	struct ring *r = ring_get(mp);

	lock(&c->lock);
	if (c->acceptn) {
		int fd = c->acceptq[c->accepthead];

		c->accepthead = (c->accepthead + 1) % c->acceptcap;
		c->acceptn--;
		unlock(&c->lock);
		return fd;
	}
	if (!c->acceptm && !c->closing) {
		c->acceptm = mp;
		c->refs++;		/* the armed accept's reference */
		unlock(&c->lock);
		{
			struct io_uring_sqe *sqe = sqe_get(r, 1);

			io_uring_prep_multishot_accept(sqe, c->fd, NULL, NULL, SOCK_CLOEXEC);
			io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | TAG_ACCEPT);
		}
		store_relaxed(&r->inflight, r->inflight + 1);
		/* Submitted by g0 when this goroutine parks below. */
	} else {
		unlock(&c->lock);
	}
	pd_wait(c, RD, seq, deadline);
	return NP_RETRY;
}

/* The accept's completion: queue the result, wake the acceptors. */
static void accept_done(struct ring *r, struct gort_conn *c, struct io_uring_cqe *cqe,
			struct glist *out)
{
	bool last = !(cqe->flags & IORING_CQE_F_MORE);

	lock(&c->lock);
	if (cqe->res != -ECANCELED) {
		if (c->acceptn == c->acceptcap) {
			uint32_t cap = c->acceptcap ? c->acceptcap * 2 : 16, i;
			int *q = malloc(cap * sizeof(*q));

			if (!q)
				throw("out of memory queueing accepted connections");
			for (i = 0; i < c->acceptn; i++)
				q[i] = c->acceptq[(c->accepthead + i) % c->acceptcap];
			free(c->acceptq);
			c->acceptq = q;
			c->acceptcap = cap;
			c->accepthead = 0;
		}
		c->acceptq[(c->accepthead + c->acceptn++) % c->acceptcap] =
			c->closing && cqe->res >= 0 ? (close(cqe->res), -EBADF) : cqe->res;
	}
	if (last)
		c->acceptm = NULL;
	c->ready[RD] = true;
	conn_wakeall(c, RD, out);
	unlock(&c->lock);
	if (last) {
		store_relaxed(&r->inflight, r->inflight - 1);
		conn_release(c);
	}
}

static void drain_cancels(struct ring *r)
{
	int fds[NCANCEL], n, i;

	if (!load_relaxed(&r->ncancel))
		return;
	lock(&r->cancellock);
	n = r->ncancel;
	if (n <= NCANCEL)
		memcpy(fds, r->cancelfd, (size_t)n * sizeof(fds[0]));
	r->ncancel = 0;
	unlock(&r->cancellock);
	if (n > NCANCEL) {
		struct io_uring_sqe *sqe = sqe_get(r, 1);

		io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data64(sqe, TAG_IGN);
		return;
	}
	for (i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = sqe_get(r, 1);

		io_uring_prep_cancel_fd(sqe, fds[i], IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data64(sqe, TAG_IGN);
	}
}

/* reap() - every CQE there is; goroutines to ready go to @out. */
static int reap(struct ring *r, struct glist *out)
{
	struct io_uring_cqe *cqes[64];
	unsigned int i, n;
	int before = out->n;

more:
	n = io_uring_peek_batch_cqe(&r->ring, cqes, ARRAY_SIZE(cqes));
	for (i = 0; i < n; i++) {
		struct io_uring_cqe *cqe = cqes[i];
		uint64_t ud = cqe->user_data;

		switch (ud & TAG_MASK) {
		case TAG_UOP: {
			struct uop *u = (struct uop *)(uintptr_t)ud;

			u->res = cqe->res;
			u->cflags = cqe->flags;
			if (cqe->flags & IORING_CQE_F_BUFFER) {
				unsigned short bid = (unsigned short)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
				char *b = r->bufs + (size_t)bid * BUFSZ;

				if (cqe->res > 0)
					memcpy(u->copyto, b, (size_t)cqe->res);
				io_uring_buf_ring_add(r->br, b, BUFSZ, bid,
						      io_uring_buf_ring_mask(NBUFS), 0);
				io_uring_buf_ring_advance(r->br, 1);
			}
			store_relaxed(&r->inflight, r->inflight - 1);
			glist_push(out, u->g);
			break;
		}
		case TAG_ACCEPT:
			accept_done(r, (struct gort_conn *)(uintptr_t)(ud & ~(uint64_t)TAG_MASK),
				    cqe, out);
			break;
		case TAG_WAKEFAIL: {
			struct ring *t = (struct ring *)(uintptr_t)(ud & ~(uint64_t)TAG_MASK);
			uint64_t one = 1;

			if (write(t->efd, &one, sizeof(one)) < 0) {
				/* EAGAIN: a wake-up is pending there */
			}
			break;
		}
		case TAG_WAKE: {
			uint64_t v;

			if (read(r->efd, &v, sizeof(v)) < 0) {
				/* EAGAIN: a MSG_RING wake-up, nothing written */
			}
			atomic_store(&r->wakepending, 0);
			if (!(cqe->flags & IORING_CQE_F_MORE) && ud == TAG_WAKE)
				arm_wake(r);
			break;
		}
		default:
			break;
		}
	}
	io_uring_cq_advance(&r->ring, n);
	if (n == ARRAY_SIZE(cqes))
		goto more;
	if (out->n > before)
		gort_netpoll_reap(r, (uint32_t)(out->n - before));
	return out->n - before;
}

/* Deferred completions wait for us to enter the kernel. */
static bool taskrun_pending(struct ring *r)
{
	return ring_sqflags(&r->ring) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW);
}

int uring_check(struct m *mp, struct glist *out)
{
	struct ring *r = mp->ring;

	if (!r)
		return 0;
	drain_cancels(r);
	if (io_uring_sq_ready(&r->ring) || taskrun_pending(r)) {
		if (ringflags & IORING_SETUP_DEFER_TASKRUN)
			io_uring_submit_and_get_events(&r->ring);
		else
			io_uring_submit(&r->ring);
	}
	if (!io_uring_cq_ready(&r->ring))
		return 0;
	return reap(r, out);
}

bool uring_pending(struct m *mp)
{
	struct ring *r = mp->ring;

	return r && (io_uring_sq_ready(&r->ring) || load_relaxed(&r->ncancel) ||
		     (r->inflight && (taskrun_pending(r) || io_uring_cq_ready(&r->ring))));
}

bool uring_needs_sleep(struct m *mp)
{
	struct ring *r = mp->ring;

	/* The multishot poll on the eventfd does not count. */
	return r && r->inflight > 0;
}

int uring_wait(struct m *mp, int64_t ns, struct glist *out)
{
	struct ring *r = mp->ring;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts;

	drain_cancels(r);
	if (!io_uring_cq_ready(&r->ring)) {
		if (ns >= 0) {
			ts.tv_sec = ns / 1000000000;
			ts.tv_nsec = ns % 1000000000;
		}
		io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, ns >= 0 ? &ts : NULL, NULL);
	}
	return reap(r, out);
}

/* uring_wake() - make @mp's io_uring_enter return. */
void uring_wake(struct m *mp)
{
	struct ring *r = mp->ring, *mine;
	struct m *self = getm();
	uint32_t zero = 0;
	uint64_t one = 1;

	if (!r)
		return;
	if (!atomic_compare_exchange_strong(&r->wakepending, &zero, 1))
		return;
	mine = self && self != mp ? self->ring : NULL;
	if (have_msgring && mine && io_uring_sq_space_left(&mine->ring) >= 1) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&mine->ring);

		io_uring_prep_msg_ring(sqe, r->ring.ring_fd, 0, TAG_WAKE | 8, 0);
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
		/* Only a failure posts a CQE: then the eventfd (reap()). */
		io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)r | TAG_WAKEFAIL);
		if (io_uring_submit(&mine->ring) >= 1)
			return;
	}
	if (write(r->efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full, a wake-up is pending */
	}
}

/* uring_cancel() - cancel whatever is in flight on @c's fd, anywhere. */
void uring_cancel(struct gort_conn *c)
{
	struct ring *r;

	for (r = atomic_load(&allrings); r; r = r->next) {
		lock(&r->cancellock);
		if (r->ncancel < NCANCEL)
			r->cancelfd[r->ncancel] = c->fd;
		if (r->ncancel <= NCANCEL)
			r->ncancel++;
		unlock(&r->cancellock);
		if (atomic_load(&r->m->inpoll))
			uring_wake(r->m);
	}
}

/* uring_busy() - any operation in flight on any ring (checkdead: slow
 * path, so the counts are read without the owners' cooperation). */
bool uring_busy(void)
{
	struct ring *r;

	for (r = atomic_load(&allrings); r; r = r->next)
		if (load_relaxed(&r->inflight))
			return true;
	return false;
}
