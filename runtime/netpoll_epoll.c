// SPDX-License-Identifier: MIT
/*
 * netpoll_epoll.c - the fallback poller: one edge-triggered epoll set.
 *
 * Every socket is added once, for EPOLLIN | EPOLLOUT | EPOLLRDHUP, with
 * the connection as its data.  An operation tries its system call first
 * (the descriptor is non-blocking); on EAGAIN it parks in pd_wait() until
 * an edge marks the connection ready (Go's pollDesc).  An edge that
 * arrives between the EAGAIN and the park sets c->ready, which pd_wait
 * consumes instead of parking: no edge is lost.
 *
 * At most one M sleeps in epoll_wait (epollm); an eventfd in the set
 * wakes it.  Running Ms poll without waiting when their run queue is
 * empty, and sysmon polls when nobody has for 10 ms.
 *
 * Files are not pollable: their reads and writes are plain system calls
 * between gort_syscall_enter() and gort_syscall_exit(), so a slow disk
 * costs a thread, not a P (the io_uring poller needs no thread).
 */
#define _GNU_SOURCE
#include "netpoll.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

static int epfd = -1;
static int evfd = -1;
static struct m *epollm;	/* the M sleeping in epoll_wait */
static uint32_t evpending;		/* a wake-up is written, not read */

int epoll_probe(char *why, size_t whylen)
{
	/* Level-triggered: a poll that does not wait sees the wake-up but
	 * leaves it for the sleeper (Go's netpollBreak). */
	struct epoll_event ev = { .events = EPOLLIN };

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0) {
		snprintf(why, whylen, "epoll_create1: %s", strerror(errno));
		return -1;
	}
	evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (evfd < 0) {
		snprintf(why, whylen, "eventfd: %s", strerror(errno));
		return -1;
	}
	ev.data.ptr = NULL;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, evfd, &ev)) {
		snprintf(why, whylen, "epoll_ctl: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int epoll_add(struct gort_conn *c)
{
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.ptr = c,
	};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) ? -errno_get() : 0;
}

void epoll_del(int fd)
{
	/* close() removes it too; this only makes it immediate for dup'ed
	 * descriptors.  A stale event for a recycled conn is harmless. */
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
}

bool epoll_claimed(void)
{
	return atomic_load(&epollm) != NULL;
}

/* One non-blocking attempt. */
static ssize_t try_op(struct gort_conn *c, struct netop *op)
{
	ssize_t r;

	switch (op->kind) {
	case OP_RECV:
		r = recv(c->fd, op->buf, op->n, 0);
		break;
	case OP_SEND:
		r = send(c->fd, op->buf, op->n, MSG_NOSIGNAL);
		break;
	case OP_READV:
		r = readv(c->fd, op->iov, op->iovcnt);
		break;
	case OP_WRITEV: {
		struct msghdr msg = { .msg_iov = (struct iovec *)op->iov,
				      .msg_iovlen = (size_t)op->iovcnt };

		r = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		break;
	}
	case OP_RECVMSG:
		r = recvmsg(c->fd, op->msg, op->flags);
		break;
	case OP_SENDMSG:
		r = sendmsg(c->fd, op->msg, op->flags);
		break;
	case OP_ACCEPT:
		r = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		break;
	case OP_CONNECT:
		r = connect(c->fd, op->sa, op->salen);
		if (r && (errno_get() == EINPROGRESS || errno_get() == EALREADY)) {
			/* Writable means connected or failed: connected() says. */
			op->kind = OP_CONNECTWAIT;
			errno_set(EAGAIN);
		}
		break;
	case OP_CONNECTWAIT:
		return sock_connected(c->fd);
	default:
		return -EINVAL;
	}
	return r < 0 ? -errno_get() : r;
}

/* Files: a blocking call that gives up the P while it runs. */
static ssize_t file_op(struct gort_conn *c, struct netop *op)
{
	ssize_t r;

	gort_syscall_enter();
	switch (op->kind) {
	case OP_PREAD:
		r = op->off < 0 ? read(c->fd, op->buf, op->n) : pread(c->fd, op->buf, op->n, op->off);
		break;
	case OP_PWRITE:
		r = op->off < 0 ? write(c->fd, op->buf, op->n) : pwrite(c->fd, op->buf, op->n, op->off);
		break;
	case OP_READV:
		r = readv(c->fd, op->iov, op->iovcnt);
		break;
	case OP_WRITEV:
		r = writev(c->fd, op->iov, op->iovcnt);
		break;
	case OP_FSYNC:
		r = op->flags ? fdatasync(c->fd) : fsync(c->fd);
		break;
	default:
		errno_set(EINVAL);
		r = -1;
		break;
	}
	if (r < 0)
		r = -errno_get();
	gort_syscall_exit();
	return r;
}

ssize_t epoll_io(struct gort_conn *c, struct netop *op, uint32_t seq, int64_t deadline)
{
	ssize_t r;

	if (c->kind == CK_FILE)
		return file_op(c, op);
	if (op->kind == OP_PREAD || op->kind == OP_PWRITE || op->kind == OP_FSYNC)
		return -ESPIPE;
	r = try_op(c, op);
	if (r == -EINTR)
		return NP_RETRY;
	if (r != -EAGAIN && r != -EWOULDBLOCK)
		return r;
	pd_wait(c, op->dir, seq, deadline);
	return NP_RETRY;
}

/* Turn @n events into readied goroutines; c->lock per connection. */
static int collect(struct epoll_event *ev, int n, bool sleeper, struct glist *out)
{
	int i;

	for (i = 0; i < n; i++) {
		struct gort_conn *c = ev[i].data.ptr;
		uint32_t e = ev[i].events;

		if (!c) {
			uint64_t v;

			if (!sleeper)
				continue;
			if (read(evfd, &v, sizeof(v)) < 0) {
				/* EAGAIN: nothing to read after all */
			}
			atomic_store(&evpending, 0);
			continue;
		}
		lock(&c->lock);
		if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
			c->ready[RD] = true;
			conn_wakeall(c, RD, out);
		}
		if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
			c->ready[WR] = true;
			conn_wakeall(c, WR, out);
		}
		unlock(&c->lock);
	}
	if (out->n)
		gort_netpoll_reap(&epfd, (uint32_t)out->n);
	return out->n;
}

int epoll_check(struct glist *out)
{
	struct epoll_event ev[64];
	int n = epoll_wait(epfd, ev, ARRAY_SIZE(ev), 0);

	return n > 0 ? collect(ev, n, false, out) : 0;
}

bool epoll_claim(struct m *mp)
{
	struct m *none = NULL;

	return atomic_compare_exchange_strong(&epollm, &none, mp);
}

void epoll_unclaim(struct m *mp)
{
	struct m *me = mp;

	atomic_compare_exchange_strong(&epollm, &me, NULL);
}

int epoll_wait_m(struct m *mp, int64_t ns, struct glist *out)
{
	struct epoll_event ev[64];
	int ms, n;

	(void)mp;
	if (ns < 0)
		ms = -1;
	else
		ms = (int)((ns + 999999) / 1000000 > 1000000 ? 1000000 : (ns + 999999) / 1000000);
	n = epoll_wait(epfd, ev, ARRAY_SIZE(ev), ms);
	return n > 0 ? collect(ev, n, true, out) : 0;
}

void epoll_wake(struct m *mp)
{
	uint32_t zero = 0;
	uint64_t one = 1;

	if (atomic_load(&epollm) != mp)
		return;
	/* One write per wake-up round is enough: the sleeper reads it. */
	if (!atomic_compare_exchange_strong(&evpending, &zero, 1))
		return;
	if (write(evfd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full, so a wake-up is pending */
	}
}
