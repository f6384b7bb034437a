// SPDX-License-Identifier: MIT
/*
 * net.c - the network and file API (gort/net.h) over the netpoller.
 *
 * Every operation is conn_io(): take a reference (fails once closed),
 * then loop { closed? -EBADF; deadline passed? -ETIMEDOUT; ask the poller }
 * while the poller answers NP_RETRY.  The pollers answer NP_RETRY whenever
 * they were woken for something other than a result: a close, a deadline
 * change, a cancelled operation, a spurious readiness edge.  So close and
 * SetDeadline never have to know what is pending where: they bump seq,
 * wake the parked goroutines (epoll) or cancel the fd's operations
 * (io_uring), and each waiter re-checks for itself.
 *
 * Connection memory is never freed (netpoll.h); the descriptor is closed
 * by the last reference.
 */
#define _GNU_SOURCE
#include "netpoll.h"

#ifndef UIO_MAXIOV
#define UIO_MAXIOV 1024
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int netpoll_mode;
int64_t netpoll_nwait;

static struct lock connlock;
static struct gort_conn *connfree;

/* ---- connection objects ---- */

static struct gort_conn *conn_new(int fd, int kind)
{
	struct gort_conn *c;

	lock(&connlock);
	c = connfree;
	if (c)
		connfree = c->next;
	unlock(&connlock);
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return NULL;
	}
	lock(&c->lock);
	c->fd = fd;
	c->kind = (uint8_t)kind;
	c->closing = false;
	c->refs = 1;
	c->deadline[RD] = c->deadline[WR] = 0;
	c->seq[RD]++;
	c->seq[WR]++;
	c->ready[RD] = c->ready[WR] = false;
	c->waitg[RD] = c->waitg[WR] = NULL;
	c->nops = 0;
	c->closewait = false;
	c->closesema = 0;
	c->acceptm = NULL;
	c->accepthead = c->acceptn = 0;
	unlock(&c->lock);
	return c;
}

/* Take a reference for an operation; false once the conn is closed. */
static bool conn_acquire(struct gort_conn *c)
{
	bool ok;

	lock(&c->lock);
	ok = !c->closing;
	if (ok)
		c->refs++;
	unlock(&c->lock);
	return ok;
}

void conn_release(struct gort_conn *c)
{
	uint32_t left;
	int fd;

	bool wake;

	lock(&c->lock);
	left = --c->refs;
	fd = c->fd;
	/* The closer waits for the last operation (gort_close). */
	wake = left == 1 && c->closewait;
	if (wake)
		c->closewait = false;
	if (!left) {
		/* Accepted connections nobody took. */
		while (c->acceptn) {
			int afd = c->acceptq[c->accepthead];

			c->accepthead = (c->accepthead + 1) % c->acceptcap;
			c->acceptn--;
			if (afd >= 0)
				close(afd);
		}
		c->fd = -1;
	}
	unlock(&c->lock);
	if (wake)
		semrelease1(&c->closesema, false);
	if (left)
		return;
	if (netpoll_mode == NP_EPOLL && c->kind != CK_FILE)
		epoll_del(fd);
	close(fd);
	lock(&connlock);
	c->next = connfree;
	connfree = c;
	unlock(&connlock);
}

/*
 * conn_wakeall() - take every goroutine parked on @c in @dir (pd_wait) and
 * add it to @out, to be readied by the caller.  c->lock held.
 */
void conn_wakeall(struct gort_conn *c, int dir, struct glist *out)
{
	struct g *gp = c->waitg[dir], *next;

	c->waitg[dir] = NULL;
	for (; gp; gp = next) {
		next = gp->waitlink;
		gp->waitlink = NULL;
		gp->waitaddr = NULL;
		glist_push(out, gp);
	}
}

static void glist_ready(struct glist *l)
{
	struct g *gp, *next;

	for (gp = l->head; gp; gp = next) {
		next = gp->schedlink;
		gp->schedlink = NULL;
		goready(gp);
		/* After: checkdead() sees it runnable, or still waiting. */
		atomic_fetch_sub(&netpoll_nwait, 1);
	}
	l->head = NULL;
	l->n = 0;
}

/* ---- pd_wait: readiness waits, with the deadline as a timer ---- */

static void pd_timeout(void *arg, uint64_t seq)
{
	struct g *gp = arg, **pp;
	struct gort_conn *c = gp->waitaddr;

	if (!c)
		return;
	lock(&c->lock);
	if (gp->timer.seq == seq && gp->waitaddr == c) {
		for (pp = &c->waitg[gp->waitticket]; *pp; pp = &(*pp)->waitlink) {
			if (*pp != gp)
				continue;
			*pp = gp->waitlink;
			gp->waitlink = NULL;
			gp->waitaddr = NULL;
			unlock(&c->lock);
			goready(gp);
			atomic_fetch_sub(&netpoll_nwait, 1);
			return;
		}
	}
	unlock(&c->lock);
}

static bool pd_parkunlock(struct g *gp, void *lk)
{
	bool wake = gp->timer.when && addtimer_nowake(&gp->timer);

	unlock(lk);
	if (wake)
		wakep();
	return true;
}

/*
 * pd_wait() - park until @c is ready in @dir, @c is closed or its
 * deadline changes (c->seq[dir] != @seq), or @deadline passes.  Consumes
 * the readiness edge.  The caller re-checks everything afterwards.
 */
void pd_wait(struct gort_conn *c, int dir, uint32_t seq, int64_t deadline)
{
	struct g *gp = getg();

	lock(&c->lock);
	if (c->ready[dir] || c->closing || c->seq[dir] != seq ||
	    (deadline && nanotime() >= deadline)) {
		c->ready[dir] = false;
		unlock(&c->lock);
		return;
	}
	gp->waitaddr = c;
	gp->waitticket = (uint32_t)dir;
	gp->waitlink = c->waitg[dir];
	c->waitg[dir] = gp;
	gp->timer.when = 0;
	gp->timer.seq++;
	if (deadline) {
		gp->timer.when = deadline;
		gp->timer.period = 0;
		gp->timer.f = pd_timeout;
		gp->timer.arg = gp;
		/* deltimer() below waits for a running pd_timeout(): it reads
		 * gp->waitaddr as a conn, which must not be our next wait's
		 * (a semaphore's) address by then. */
		gp->timer.sync = true;
	}
	atomic_fetch_add(&netpoll_nwait, 1);
	gopark(pd_parkunlock, &c->lock, waitReasonIOWait);
	if (gp->timer.when)
		deltimer(&gp->timer);
	gp->timer.sync = false;
	lock(&c->lock);
	c->ready[dir] = false;
	unlock(&c->lock);
}

/* ---- the operation loop ---- */

static ssize_t conn_io(struct gort_conn *c, struct netop *op)
{
	ssize_t r;

	if (!c)
		return -EINVAL;
	if (!getg())
		fatal("gort: network call outside a goroutine");
	if (!conn_acquire(c))
		return -EBADF;
	for (;;) {
		int64_t dl;
		uint32_t seq;

		lock(&c->lock);
		dl = c->deadline[op->dir];
		seq = c->seq[op->dir];
		r = c->closing ? -EBADF : 0;
		unlock(&c->lock);
		if (r)
			break;
		if (dl && nanotime() >= dl) {
			r = -ETIMEDOUT;
			break;
		}
		if (netpoll_mode == NP_URING)
			r = op->kind == OP_ACCEPT ? uring_accept(c, seq, dl) : uring_io(c, op, seq, dl);
		else
			r = epoll_io(c, op, seq, dl);
		if (r != NP_RETRY)
			break;
	}
	conn_release(c);
	return r;
}

/* Wake or cancel everything pending on @c in @dir (close, deadlines). */
static void conn_kick(struct gort_conn *c, int dir)
{
	struct glist l = { 0 };
	bool cancel;

	lock(&c->lock);
	c->seq[dir]++;
	conn_wakeall(c, dir, &l);
	cancel = c->nops > 0 || c->acceptm;
	unlock(&c->lock);
	glist_ready(&l);
	if (cancel && netpoll_mode == NP_URING)
		uring_cancel(c);
}

__export int gort_close(struct gort_conn *c)
{
	if (!c)
		return -EINVAL;
	lock(&c->lock);
	if (c->closing) {
		unlock(&c->lock);
		return -EBADF;
	}
	c->closing = true;
	unlock(&c->lock);
	conn_kick(c, RD);
	conn_kick(c, WR);
	/*
	 * As Go's: wait until the pending operations have returned, so the
	 * descriptor is closed when we return (a listener's port is free to
	 * bind again).  They return promptly: each was woken or cancelled.
	 */
	lock(&c->lock);
	if (c->refs > 1) {
		bool acquired;

		c->closewait = true;
		unlock(&c->lock);
		semacquire1(&c->closesema, false, waitReasonIOWait, -1, &acquired);
	} else {
		unlock(&c->lock);
	}
	conn_release(c);
	return 0;
}

static int set_deadline(struct gort_conn *c, int dir, int64_t ns)
{
	lock(&c->lock);
	if (c->closing) {
		unlock(&c->lock);
		return -EBADF;
	}
	/* Unchanged: nothing pending needs to re-check (the common case of
	 * a server re-arming the same deadline). */
	if (c->deadline[dir] == ns) {
		unlock(&c->lock);
		return 0;
	}
	c->deadline[dir] = ns < 0 ? 1 : ns;
	c->refs++;		/* @c may not be recycled under conn_kick() */
	unlock(&c->lock);
	conn_kick(c, dir);
	conn_release(c);
	return 0;
}

__export int gort_set_read_deadline(struct gort_conn *c, int64_t ns)
{
	return c ? set_deadline(c, RD, ns) : -EINVAL;
}

__export int gort_set_write_deadline(struct gort_conn *c, int64_t ns)
{
	return c ? set_deadline(c, WR, ns) : -EINVAL;
}

__export int gort_set_deadline(struct gort_conn *c, int64_t ns)
{
	int err = gort_set_read_deadline(c, ns);

	return err ? err : gort_set_write_deadline(c, ns);
}

/* ---- reads and writes ---- */

__export ssize_t gort_read(struct gort_conn *c, void *buf, size_t n)
{
	struct netop op = { .kind = c && c->kind == CK_FILE ? OP_PREAD : OP_RECV, .dir = RD,
			    .buf = buf, .n = n, .off = -1 };

	if (!n)
		return 0;
	return conn_io(c, &op);
}

__export ssize_t gort_send(struct gort_conn *c, const void *buf, size_t n)
{
	struct netop op = { .kind = c && c->kind == CK_FILE ? OP_PWRITE : OP_SEND, .dir = WR,
			    .buf = (void *)buf, .n = n, .off = -1 };

	return conn_io(c, &op);
}

__export ssize_t gort_write(struct gort_conn *c, const void *buf, size_t n)
{
	size_t done = 0;

	while (done < n || !n) {
		ssize_t r = gort_send(c, (const char *)buf + done, n - done);

		if (r < 0)
			return r;
		if (!n)
			return 0;
		done += (size_t)r;
	}
	return (ssize_t)n;
}

__export ssize_t gort_readv(struct gort_conn *c, const struct iovec *iov, int iovcnt)
{
	struct netop op = { .kind = OP_READV, .dir = RD, .iov = iov, .iovcnt = iovcnt,
			    .off = -1 };

	if (iovcnt < 0 || iovcnt > UIO_MAXIOV)
		return -EINVAL;
	return conn_io(c, &op);
}

/*
 * struct iovcur - a private copy of an iovec array that partial transfers
 * advance (gort_writev() writes all, MSG_WAITALL reads all): cur[i..i+left)
 * is what remains, the first of them non-empty after iovcur_next().
 */
struct iovcur {
	struct iovec v[64], *cur;
	size_t i, left;
};

/* iovcur_init() - copy @n entries; their total length in *@total. */
static int iovcur_init(struct iovcur *ic, const struct iovec *iov, size_t n, size_t *total)
{
	size_t k;

	ic->cur = ic->v;
	if (n > ARRAY_SIZE(ic->v)) {
		ic->cur = malloc(n * sizeof(*ic->cur));
		if (!ic->cur)
			return -ENOMEM;
	}
	*total = 0;
	for (k = 0; k < n; k++)
		*total += (ic->cur[k] = iov[k]).iov_len;
	ic->i = 0;
	ic->left = n;
	return 0;
}

/* iovcur_next() - skip empty entries; the entries left (0: all done). */
static size_t iovcur_next(struct iovcur *ic)
{
	while (ic->left && !ic->cur[ic->i].iov_len) {
		ic->i++;
		ic->left--;
	}
	return ic->left;
}

/* iovcur_advance() - @r bytes of the remaining entries were transferred. */
static void iovcur_advance(struct iovcur *ic, size_t r)
{
	while (r) {
		struct iovec *v = &ic->cur[ic->i];
		size_t k = r < v->iov_len ? r : v->iov_len;

		v->iov_base = (char *)v->iov_base + k;
		v->iov_len -= k;
		r -= k;
		if (!v->iov_len) {
			ic->i++;
			ic->left--;
		}
	}
}

static void iovcur_free(struct iovcur *ic)
{
	if (ic->cur != ic->v)
		free(ic->cur);
}

__export ssize_t gort_writev(struct gort_conn *c, const struct iovec *iov, int iovcnt)
{
	struct iovcur ic;
	size_t total;
	ssize_t r = 0;

	if (iovcnt < 0 || iovcnt > UIO_MAXIOV)
		return -EINVAL;
	if (iovcur_init(&ic, iov, (size_t)iovcnt, &total))
		return -ENOMEM;
	while (iovcur_next(&ic)) {
		struct netop op = { .kind = OP_WRITEV, .dir = WR, .iov = ic.cur + ic.i,
				    .iovcnt = (int)ic.left, .off = -1 };

		r = conn_io(c, &op);
		if (r < 0)
			break;
		iovcur_advance(&ic, (size_t)r);
	}
	iovcur_free(&ic);
	return r < 0 ? r : (ssize_t)total;
}

/*
 * recvmsg_waitall() - MSG_WAITALL on a non-blocking stream socket (epoll)
 * returns what is there; loop until the buffers are full, end of file or
 * an error, as a blocking socket (and io_uring) would.
 */
static ssize_t recvmsg_waitall(struct gort_conn *c, struct msghdr *msg, int flags)
{
	struct iovec *save = msg->msg_iov;
	size_t n = msg->msg_iovlen, want, total = 0;
	struct iovcur ic;
	ssize_t r = 0;

	if (iovcur_init(&ic, save, n, &want))
		return -ENOMEM;
	while (total < want && iovcur_next(&ic)) {
		struct netop op = { .kind = OP_RECVMSG, .dir = RD, .msg = msg,
				    .flags = flags & ~MSG_WAITALL };

		msg->msg_iov = ic.cur + ic.i;
		msg->msg_iovlen = ic.left;
		r = conn_io(c, &op);
		if (r <= 0)
			break;
		total += (size_t)r;
		iovcur_advance(&ic, (size_t)r);
	}
	msg->msg_iov = save;
	msg->msg_iovlen = n;
	iovcur_free(&ic);
	return total ? (ssize_t)total : r;
}

__export ssize_t gort_recvmsg(struct gort_conn *c, struct msghdr *msg, int flags)
{
	struct netop op = { .kind = OP_RECVMSG, .dir = RD, .msg = msg, .flags = flags };

	if (!msg || !c)
		return -EINVAL;
	if ((flags & MSG_WAITALL) && netpoll_mode == NP_EPOLL && c->kind == CK_STREAM)
		return recvmsg_waitall(c, msg, flags);
	return conn_io(c, &op);
}

__export ssize_t gort_sendmsg(struct gort_conn *c, const struct msghdr *msg, int flags)
{
	struct netop op = { .kind = OP_SENDMSG, .dir = WR, .msg = (struct msghdr *)msg,
			    .flags = flags | MSG_NOSIGNAL };

	return msg ? conn_io(c, &op) : -EINVAL;
}

__export ssize_t gort_recvfrom(struct gort_conn *c, void *buf, size_t n,
			       struct sockaddr *from, socklen_t *fromlen)
{
	struct iovec v = { buf, n };
	struct msghdr msg = { .msg_iov = &v, .msg_iovlen = 1 };
	ssize_t r;

	if (from && fromlen) {
		msg.msg_name = from;
		msg.msg_namelen = *fromlen;
	}
	r = gort_recvmsg(c, &msg, 0);
	if (r >= 0 && from && fromlen)
		*fromlen = msg.msg_namelen;
	return r;
}

__export ssize_t gort_sendto(struct gort_conn *c, const void *buf, size_t n,
			     const struct sockaddr *to, socklen_t tolen)
{
	struct iovec v = { (void *)buf, n };
	struct msghdr msg = { .msg_name = (void *)to, .msg_namelen = to ? tolen : 0,
			      .msg_iov = &v, .msg_iovlen = 1 };

	return gort_sendmsg(c, &msg, 0);
}

__export ssize_t gort_pread(struct gort_conn *c, void *buf, size_t n, off_t off)
{
	struct netop op = { .kind = OP_PREAD, .dir = RD, .buf = buf, .n = n, .off = off };

	if (off < 0)
		return -EINVAL;
	return conn_io(c, &op);
}

__export ssize_t gort_pwrite(struct gort_conn *c, const void *buf, size_t n, off_t off)
{
	size_t done = 0;

	if (off < 0)
		return -EINVAL;
	while (done < n) {
		struct netop op = { .kind = OP_PWRITE, .dir = WR,
				    .buf = (char *)buf + done, .n = n - done,
				    .off = off + (off_t)done };
		ssize_t r = conn_io(c, &op);

		if (r < 0)
			return r;
		if (!r)
			return -EIO;
		done += (size_t)r;
	}
	return (ssize_t)n;
}

__export int gort_fsync(struct gort_conn *c, int datasync)
{
	struct netop op = { .kind = OP_FSYNC, .dir = WR, .flags = datasync };

	return (int)conn_io(c, &op);
}

__export int gort_shutdown(struct gort_conn *c, int how)
{
	int r;

	if (!c)
		return -EINVAL;
	if (!conn_acquire(c))
		return -EBADF;
	r = shutdown(c->fd, how) ? -errno_get() : 0;
	conn_release(c);
	return r;
}

__export int gort_conn_fd(struct gort_conn *c)
{
	int fd;

	if (!c)
		return -EINVAL;
	lock(&c->lock);
	fd = c->closing ? -EBADF : c->fd;
	unlock(&c->lock);
	return fd;
}

static int sockname(struct gort_conn *c, struct sockaddr *sa, socklen_t *len, bool peer)
{
	int r;

	if (!c || !sa || !len)
		return -EINVAL;
	if (!conn_acquire(c))
		return -EBADF;
	r = (peer ? getpeername : getsockname)(c->fd, sa, len) ? -errno_get() : 0;
	conn_release(c);
	return r;
}

__export int gort_local_addr(struct gort_conn *c, struct sockaddr *sa, socklen_t *len)
{
	return sockname(c, sa, len, false);
}

__export int gort_remote_addr(struct gort_conn *c, struct sockaddr *sa, socklen_t *len)
{
	return sockname(c, sa, len, true);
}

__export int gort_local_port(struct gort_conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int r = gort_local_addr(c, (struct sockaddr *)&ss, &len);

	if (r)
		return r;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -EAFNOSUPPORT;
}

/* ---- addresses ---- */

struct netspec {
	int family;		/* AF_INET, AF_INET6, AF_UNSPEC (tcp: either), AF_UNIX */
	int type;		/* SOCK_STREAM or SOCK_DGRAM */
};

static int parse_network(const char *network, struct netspec *ns)
{
	static const struct {
		const char *name;
		struct netspec ns;
	} tab[] = {
		{ "tcp", { AF_UNSPEC, SOCK_STREAM } },
		{ "tcp4", { AF_INET, SOCK_STREAM } },
		{ "tcp6", { AF_INET6, SOCK_STREAM } },
		{ "udp", { AF_UNSPEC, SOCK_DGRAM } },
		{ "udp4", { AF_INET, SOCK_DGRAM } },
		{ "udp6", { AF_INET6, SOCK_DGRAM } },
		{ "unix", { AF_UNIX, SOCK_STREAM } },
		{ "unixgram", { AF_UNIX, SOCK_DGRAM } },
	};
	size_t i;

	if (!network)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(tab); i++) {
		if (!strcmp(network, tab[i].name)) {
			*ns = tab[i].ns;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * parse_addr() - "host:port", "[v6]:port", ":port", "localhost:port" or a
 * unix path into @ss.  An empty host is the wildcard for listen and the
 * loopback for dial (Go's rule).  No name resolution.
 */
static int parse_addr(const struct netspec *ns, const char *address, bool listen,
		      struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon, *h, *p;
	size_t hl;
	char *end;
	unsigned long port;
	int fam = ns->family;

	memset(ss, 0, sizeof(*ss));
	if (!address)
		return -EINVAL;
	if (fam == AF_UNIX) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		size_t n = strlen(address);

		if (!n || n >= sizeof(un->sun_path))
			return -EINVAL;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, address, n);
		if (address[0] == '@')
			un->sun_path[0] = '\0';		/* abstract */
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
				   (address[0] == '@' ? 0 : 1));
		return 0;
	}
	colon = strrchr(address, ':');
	if (!colon)
		return -EINVAL;
	h = address;
	hl = (size_t)(colon - address);
	if (hl && h[0] == '[') {
		if (hl < 2 || h[hl - 1] != ']')
			return -EINVAL;
		h++;
		hl -= 2;
		if (fam == AF_INET)
			return -EINVAL;
		fam = AF_INET6;
	} else if (memchr(h, ':', hl)) {
		return -EINVAL;		/* a v6 host needs brackets */
	}
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	p = colon + 1;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	errno_set(0);
	port = strtoul(p, &end, 10);
	if (*end || port > 65535)
		return -EINVAL;

	if (!strcmp(host, "localhost"))
		strcpy(host, fam == AF_INET6 ? "::1" : "127.0.0.1");
	if (!host[0]) {
		if (!listen)
			strcpy(host, fam == AF_INET6 ? "::1" : "127.0.0.1");
		else if (fam == AF_UNSPEC)
			fam = AF_INET6;		/* dual stack, as Go */
	}
	if (fam != AF_INET6 && (fam == AF_INET || !strchr(host, ':'))) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		if (host[0] && inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return -EINVAL;
		*len = sizeof(*in);
		return 0;
	}
	{
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		/* "tcp6" with an IPv4 literal: no suitable address, as Go. */
		if (host[0] && inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -EINVAL;
		*len = sizeof(*in6);
	}
	return 0;
}

/*
 * sock_connected() - after a connect that did not complete at once
 * (either poller): 0 when connected, -EAGAIN while in progress, else the
 * error.  SO_ERROR alone is 0 both when
 * connected and while still connecting (a fresh socket is "writable" as
 * soon as it is in the epoll set), so ask getpeername, as Go does.
 */
ssize_t sock_connected(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int err = 0;
	socklen_t elen = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen))
		return -errno_get();
	if (err)
		return err == EINPROGRESS || err == EALREADY ? -EAGAIN : -err;
	if (getpeername(fd, (struct sockaddr *)&ss, &len))
		return errno_get() == ENOTCONN ? -EAGAIN : -errno_get();
	return 0;
}

/* newsocket() - a socket configured for the poller in use. */
static int newsocket(int family, int type)
{
	int fl = SOCK_CLOEXEC | (netpoll_mode == NP_EPOLL ? SOCK_NONBLOCK : 0);
	int fd = socket(family, type | fl, 0);

	return fd < 0 ? -errno_get() : fd;
}

/* conn_wrap() - register @fd with the poller; closes @fd on failure. */
static int conn_wrap(int fd, int kind, struct gort_conn **out)
{
	struct gort_conn *c = conn_new(fd, kind);
	int err;

	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	if (netpoll_mode == NP_EPOLL && kind != CK_FILE) {
		err = epoll_add(c);
		if (err) {
			conn_release(c);
			return err;
		}
	}
	*out = c;
	return 0;
}

static int listen_on(const struct netspec *ns, struct sockaddr_storage *ss, socklen_t len,
		     struct gort_conn **out)
{
	int fd, one = 1, zero = 0;

	fd = newsocket(ss->ss_family, ns->type);
	if (fd < 0)
		return fd;
	if (ss->ss_family != AF_UNIX && ns->type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6 && ns->family == AF_UNSPEC)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)ss, len) ||
	    (ns->type == SOCK_STREAM && listen(fd, SOMAXCONN))) {
		int err = -errno_get();

		close(fd);
		return err;
	}
	return conn_wrap(fd, ns->type == SOCK_STREAM ? CK_LISTEN : CK_DGRAM, out);
}

__export int gort_listen(const char *network, const char *address, struct gort_conn **out)
{
	struct sockaddr_storage ss;
	struct netspec ns;
	socklen_t len;
	int err;

	if (!out || !getg())
		return -EINVAL;
	err = parse_network(network, &ns);
	if (!err)
		err = parse_addr(&ns, address, true, &ss, &len);
	if (err)
		return err;
	err = listen_on(&ns, &ss, len, out);
	/* No IPv6 on this host: the wildcard falls back to IPv4. */
	if (err == -EAFNOSUPPORT && ns.family == AF_UNSPEC && ss.ss_family == AF_INET6) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		uint16_t port = ((struct sockaddr_in6 *)&ss)->sin6_port;

		memset(&ss, 0, sizeof(ss));
		in->sin_family = AF_INET;
		in->sin_port = port;
		err = listen_on(&ns, &ss, sizeof(*in), out);
	}
	return err;
}

__export int gort_accept(struct gort_conn *l, struct gort_conn **out)
{
	struct netop op = { .kind = OP_ACCEPT, .dir = RD };
	ssize_t fd;

	if (!l || !out)
		return -EINVAL;
	if (l->kind != CK_LISTEN)
		return -EINVAL;
	fd = conn_io(l, &op);
	if (fd < 0)
		return (int)fd;
	return conn_wrap((int)fd, CK_STREAM, out);
}

__export int gort_dial(const char *network, const char *address, int64_t timeout_ns,
		       struct gort_conn **out)
{
	struct sockaddr_storage ss;
	struct gort_conn *c;
	struct netspec ns;
	socklen_t len;
	int fd, err;

	if (!out || !getg())
		return -EINVAL;
	err = parse_network(network, &ns);
	if (!err)
		err = parse_addr(&ns, address, false, &ss, &len);
	if (err)
		return err;
	fd = newsocket(ss.ss_family, ns.type);
	if (fd < 0)
		return fd;
	err = conn_wrap(fd, ns.type == SOCK_STREAM ? CK_STREAM : CK_DGRAM, &c);
	if (err)
		return err;
	{
		struct netop op = { .kind = OP_CONNECT, .dir = WR,
				    .sa = (struct sockaddr *)&ss, .salen = len };

		if (timeout_ns > 0)
			c->deadline[WR] = when(timeout_ns);
		err = (int)conn_io(c, &op);
		c->deadline[WR] = 0;
	}
	if (err) {
		gort_close(c);
		return err;
	}
	*out = c;
	return 0;
}

__export int gort_open(const char *path, int flags, mode_t mode, struct gort_conn **out)
{
	int fd;

	if (!path || !out)
		return -EINVAL;
	fd = open(path, flags | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno_get();
	return conn_wrap(fd, CK_FILE, out);
}

__export int gort_conn_from_fd(int fd, struct gort_conn **out)
{
	struct stat st;
	int type = 0, kind = CK_FILE, fl;
	socklen_t len = sizeof(type);

	if (!out)
		return -EINVAL;
	if (fstat(fd, &st))
		return -errno_get();
	if (S_ISSOCK(st.st_mode)) {
		int acc = 0;
		socklen_t alen = sizeof(acc);

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len))
			return -errno_get();
		getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen);
		kind = acc ? CK_LISTEN : type == SOCK_STREAM ? CK_STREAM : CK_DGRAM;
		fl = fcntl(fd, F_GETFL);
		if (fl >= 0)
			fcntl(fd, F_SETFL, netpoll_mode == NP_EPOLL ? fl | O_NONBLOCK :
					   fl & ~O_NONBLOCK);
	}
	return conn_wrap(fd, kind, out);
}

/* ---- start-up ---- */

__export const char *gort_netpoll_mode(void)
{
	if (!netpoll_mode)
		netpoll_init();
	return netpoll_mode == NP_URING ? "io_uring" : "epoll";
}

/*
 * netpoll_init() - choose the poller: GORT_NETPOLL=uring|epoll forces one
 * (a forced io_uring that cannot work is fatal); by default io_uring when
 * it can be set up, else epoll.  GORT_DEBUG=verbose=1 reports the choice.
 */
void netpoll_init(void)
{
	static struct lock initlock;
	const char *env = getenv("GORT_NETPOLL");
	char why[128] = "";

	lock(&initlock);
	if (netpoll_mode) {
		unlock(&initlock);
		return;
	}
	if (env && *env && strcmp(env, "uring") && strcmp(env, "io_uring") &&
	    strcmp(env, "epoll"))
		fatalf("GORT_NETPOLL=%s: want uring or epoll", env);
	if (!env || !*env || strcmp(env, "epoll")) {
		if (!uring_probe(why, sizeof(why))) {
			store_release(&netpoll_mode, NP_URING);
			unlock(&initlock);
			if (debug.verbose)
				printf_raw("gort: netpoll: io_uring (%s)\n", why);
			return;
		}
		if (env && *env)
			fatalf("GORT_NETPOLL=%s: io_uring is not usable: %s", env, why);
	}
	if (epoll_probe(why + strlen(why), sizeof(why) - strlen(why)))
		fatalf("gort: netpoll: neither io_uring nor epoll works: %s", why);
	store_release(&netpoll_mode, NP_EPOLL);
	unlock(&initlock);
	if (debug.verbose)
		printf_raw("gort: netpoll: epoll (%s)\n", why[0] ? why : "forced");
}

/* ---- the scheduler's hooks ---- */

void netpoll_check(struct m *mp)
{
	struct glist l = { 0 };

	if (netpoll_mode == NP_URING) {
		if (!uring_check(mp, &l))
			return;
	} else if (netpoll_mode == NP_EPOLL) {
		if (!atomic_load(&netpoll_nwait) || !epoll_check(&l))
			return;
	} else {
		return;
	}
	glist_ready(&l);
}

bool netpoll_pending(struct m *mp)
{
	return netpoll_mode == NP_URING && uring_pending(mp);
}

bool netpoll_claim(struct m *mp)
{
	if (netpoll_mode == NP_URING)
		return uring_needs_sleep(mp);
	if (netpoll_mode == NP_EPOLL && atomic_load(&netpoll_nwait))
		return epoll_claim(mp);
	return false;
}

void netpoll_release(struct m *mp)
{
	if (netpoll_mode == NP_EPOLL)
		epoll_unclaim(mp);
}

/* The caller readies @out's goroutines, then takes them off netpoll_nwait. */
int netpoll_wait(struct m *mp, int64_t ns, struct glist *out)
{
	return netpoll_mode == NP_URING ? uring_wait(mp, ns, out) : epoll_wait_m(mp, ns, out);
}

/* handoffp(): goroutines wait on epoll and no M sleeps in epoll_wait. */
bool netpoll_needs_poller(void)
{
	return netpoll_mode == NP_EPOLL && atomic_load(&netpoll_nwait) > 0 && !epoll_claimed();
}

bool netpoll_busy(void)
{
	return atomic_load(&netpoll_nwait) > 0 || (netpoll_mode == NP_URING && uring_busy());
}

void netpoll_wake(struct m *mp)
{
	if (netpoll_mode == NP_URING)
		uring_wake(mp);
	else if (netpoll_mode == NP_EPOLL)
		epoll_wake(mp);
}

void netpoll_sysmon(int64_t now)
{
	static int64_t last;
	struct glist l = { 0 };

	(void)now;
	if (netpoll_mode != NP_EPOLL || !atomic_load(&netpoll_nwait))
		return;
	if (now - last < 10 * 1000 * 1000)
		return;
	last = now;
	if (epoll_check(&l))
		glist_ready(&l);
}

/**
 * gort_netpoll_reap() - probe point: @n goroutines readied by one batch
 * of completions (or events) reaped from @ring.
 */
__probe void gort_netpoll_reap(void *ring, uint32_t n)
{
	PROBE_FRAME();
	(void)ring;
	(void)n;
}
