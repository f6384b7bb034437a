/* SPDX-License-Identifier: MIT */
/*
 * netpoll.h - the network poller's private interface: the connection
 * object shared by net.c and the two pollers, and the scheduler's hooks.
 *
 * Two pollers, one chosen at start-up (netpoll_init):
 *
 *   io_uring (netpoll_uring.c)  one ring per M, created on the M's first
 *	I/O.  A goroutine fills an SQE and parks; the M submits the SQEs
 *	its goroutines queued in one io_uring_enter when its run queue is
 *	empty (or every 16th schedule), reaps the completions, and readies
 *	the goroutines on its P.  An idle M with operations in flight sleeps
 *	in its ring, not on its futex.  Per M, not per P: SINGLE_ISSUER and
 *	DEFER_TASKRUN bind a ring to the thread that submits, and a P moves
 *	between threads (syscall hand-off, idle Ms).
 *
 *   epoll (netpoll_epoll.c)  one epoll instance, edge-triggered; an
 *	operation tries the system call first and, on EAGAIN, parks on the
 *	connection's wait list until the fd is ready.  One idle M at a time
 *	sleeps in epoll_wait; running Ms and sysmon poll it without waiting.
 *
 * Deadlines, close and cancellation are the same for both: an operation
 * is a loop in net.c that re-checks "closed?" and "deadline passed?"
 * every time the poller returns NP_RETRY, so a spurious wake-up or a
 * stray cancellation is never wrong, only a retry.
 */
#ifndef GORT_NETPOLL_H
#define GORT_NETPOLL_H

#include "internal.h"
#include <sys/socket.h>
#include <sys/uio.h>

enum { NP_NONE, NP_EPOLL, NP_URING };
extern int netpoll_mode;

/* Returned by a poller's operation: woken to re-check, not a result. */
#define NP_RETRY	(-100000)

enum conn_kind { CK_STREAM, CK_DGRAM, CK_LISTEN, CK_FILE };
enum { RD, WR };

/*
 * struct gort_conn - a descriptor owned by the netpoller.  Never freed:
 * closed connections go to a free list and are reused, so a late epoll
 * event or completion that names one is harmless (a spurious wake-up).
 *
 * @refs counts the user's handle (until gort_close) and each operation
 * in progress, plus an armed multishot accept; the fd is closed when it
 * drops to zero, never under a pending operation.
 */
struct gort_conn {
	struct lock lock;		/* everything below but fd/kind */
	int fd;
	uint8_t kind;			/* enum conn_kind */
	bool closing;			/* gort_close() was called */
	bool closewait;			/* gort_close() waits on closesema */
	uint32_t refs;
	uint32_t closesema;
	int64_t deadline[2];		/* absolute, 0 = none */
	uint32_t seq[2];		/* bumped by deadline changes and close */
	/* Parked goroutines (pd_wait): a list through g->waitlink. */
	struct g *waitg[2];
	bool ready[2];			/* an edge arrived since the last wait */
	uint32_t nops;			/* io_uring operations in flight */
	/* io_uring multishot accept: results queued for gort_accept(). */
	struct m *acceptm;		/* the M whose ring holds it, or NULL */
	int *acceptq;			/* fds or -errno, a ring of acceptcap */
	uint32_t accepthead, acceptn, acceptcap;
	struct gort_conn *next;		/* free list */
};

/*
 * struct netop - one operation, described for either poller.  The
 * buffers are the caller's: they live until the operation returns.
 */
enum netop_kind {
	OP_RECV, OP_SEND, OP_READV, OP_WRITEV, OP_RECVMSG, OP_SENDMSG,
	OP_ACCEPT, OP_CONNECT, OP_PREAD, OP_PWRITE, OP_FSYNC,
	OP_CONNECTWAIT,		/* a connect in progress: wait, then SO_ERROR */
};

struct netop {
	uint8_t kind;
	uint8_t dir;			/* RD or WR: which deadline applies */
	int flags;			/* msg flags, or fsync's datasync */
	void *buf;
	size_t n;
	const struct iovec *iov;
	int iovcnt;
	struct msghdr *msg;
	off_t off;			/* file offset, -1 = the file position */
	const struct sockaddr *sa;	/* connect */
	socklen_t salen;
};

/* A list of goroutines readied by the poller, through g->schedlink. */
struct glist {
	struct g *head;
	int n;
};

static inline void glist_push(struct glist *l, struct g *gp)
{
	gp->schedlink = l->head;
	l->head = gp;
	l->n++;
}

/* ---- net.c: shared by both pollers ---- */
void conn_wakeall(struct gort_conn *c, int dir, struct glist *out);
void conn_release(struct gort_conn *c);
/* pd_wait() - park until c->ready[dir], a wake-up, or @deadline. */
void pd_wait(struct gort_conn *c, int dir, uint32_t seq, int64_t deadline);
extern int64_t netpoll_nwait;	/* goroutines parked on I/O */
/* 0 connected, -EAGAIN still connecting, else -errno. */
ssize_t sock_connected(int fd);

/* ---- the pollers ---- */
int uring_probe(char *why, size_t whylen);
ssize_t uring_io(struct gort_conn *c, struct netop *op, uint32_t seq, int64_t deadline);
int uring_accept(struct gort_conn *c, uint32_t seq, int64_t deadline);
void uring_cancel(struct gort_conn *c);
int uring_check(struct m *mp, struct glist *out);
bool uring_needs_sleep(struct m *mp);
int uring_wait(struct m *mp, int64_t ns, struct glist *out);
void uring_wake(struct m *mp);
bool uring_pending(struct m *mp);
bool uring_busy(void);

int epoll_probe(char *why, size_t whylen);
int epoll_add(struct gort_conn *c);
void epoll_del(int fd);
bool epoll_claimed(void);
ssize_t epoll_io(struct gort_conn *c, struct netop *op, uint32_t seq, int64_t deadline);
int epoll_check(struct glist *out);
bool epoll_claim(struct m *mp);
void epoll_unclaim(struct m *mp);
int epoll_wait_m(struct m *mp, int64_t ns, struct glist *out);
void epoll_wake(struct m *mp);

/* ---- proc.c's view ---- */
void netpoll_init(void);
/* Submit and reap without waiting; ready what completed on mp->p. */
void netpoll_check(struct m *mp);
/* Something this M queued is waiting to be submitted. */
bool netpoll_pending(struct m *mp);
/* msleep(): may this M sleep in the poller?  (then netpoll_release) */
bool netpoll_claim(struct m *mp);
void netpoll_release(struct m *mp);
int netpoll_wait(struct m *mp, int64_t ns, struct glist *out);
void netpoll_wake(struct m *mp);
/* checkdead: may the poller still wake somebody? */
bool netpoll_busy(void);
bool netpoll_needs_poller(void);
/* sysmon: poll if nobody did for 10 ms (epoll only). */
void netpoll_sysmon(int64_t now);

/* probe point: a batch of @n completions or events reaped from @ring
 * (the M's ring, or the epoll instance) readies @n goroutines. */
void gort_netpoll_reap(void *ring, uint32_t n);

#endif /* GORT_NETPOLL_H */
