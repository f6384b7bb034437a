/* SPDX-License-Identifier: MIT */
/*
 * gort/net.h - network and file I/O that parks the goroutine, not the
 * thread (Go's net and os packages over the runtime's netpoller).
 *
 * A goroutine that reads, writes, accepts or dials hands the operation to
 * the netpoller and parks; it is readied with the result.  The netpoller
 * is io_uring (one ring per thread that runs goroutines, submissions
 * batched by the scheduler) or, where io_uring is missing or blocked,
 * epoll with the same semantics.  GORT_NETPOLL=uring|epoll forces one;
 * gort_netpoll_mode() tells which runs.  Documentation/netpoll.rst.
 *
 * Errors are negative errno values, as everywhere in gort:
 *	-EBADF		the connection was closed (also for operations that
 *			were pending when another goroutine closed it)
 *	-ETIMEDOUT	its read or write deadline passed
 *	-EINVAL		bad argument (network name, address syntax, NULL)
 *	-EMFILE ...	what the kernel said
 * A read returns 0 at end of file (the peer shut down its side).
 *
 * All of these must be called from a goroutine, except gort_netpoll_mode().
 */
#ifndef GORT_NET_H
#define GORT_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * struct gort_conn - a socket, listener or file owned by the netpoller.
 * Opaque.  Any number of goroutines may use one connection at once; it
 * stays valid until gort_close() and until every operation on it has
 * returned.
 */
struct gort_conn;

/**
 * gort_listen() - open a listening (stream) or bound (datagram) socket
 * @network: "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6", "unix" (stream)
 *	or "unixgram"
 * @address: "host:port", "[v6host]:port" or ":port" (any address; port 0
 *	picks a free one); for unix networks a path ("@name" = abstract)
 * @out: the new connection
 *
 * TCP listeners get SO_REUSEADDR and a backlog of SOMAXCONN, as Go's.
 * Return: 0, or -errno (-EINVAL: bad network or address).
 */
int gort_listen(const char *network, const char *address, struct gort_conn **out);

/**
 * gort_accept() - wait for and accept a connection on listener @l
 *
 * Return: 0 with *@out set, or -errno (-EBADF once @l is closed,
 * -ETIMEDOUT past @l's read deadline, -EMFILE/-ENFILE out of descriptors:
 * the listener stays usable).
 */
int gort_accept(struct gort_conn *l, struct gort_conn **out);

/**
 * gort_dial() - connect to @address on @network
 * @timeout_ns: give up after this long (-ETIMEDOUT); <= 0 = no timeout
 *
 * Host names are not resolved (no DNS in the runtime): give a numeric
 * address, "localhost" excepted.
 * Return: 0 with *@out set, or -errno (-ECONNREFUSED, -ETIMEDOUT, ...).
 */
int gort_dial(const char *network, const char *address, int64_t timeout_ns,
	      struct gort_conn **out);

/**
 * gort_open() - open a regular file for I/O through the netpoller
 * @path, @flags, @mode: as open(2) (O_CLOEXEC is always added)
 *
 * Return: 0 with *@out set, or -errno.
 */
int gort_open(const char *path, int flags, mode_t mode, struct gort_conn **out);

/**
 * gort_conn_from_fd() - adopt @fd (a socket or file); gort_close() closes
 * it.  A socket's O_NONBLOCK is set as the poller needs it (on for epoll,
 * off for io_uring): do not do blocking system calls on it yourself.
 * Return: 0, or -errno (-EBADF: not an open descriptor).
 */
int gort_conn_from_fd(int fd, struct gort_conn **out);

/**
 * gort_read() - read up to @n bytes
 *
 * Returns as soon as some data is there, as read(2).
 * Return: bytes read (> 0), 0 at end of file, or -errno.
 */
ssize_t gort_read(struct gort_conn *c, void *buf, size_t n);

/**
 * gort_write() - write all @n bytes
 *
 * Loops until every byte is written, as Go's Write; on error, the bytes
 * written before it are lost to the return value, as in Go (which returns
 * both): use gort_send() for partial writes.
 * Return: @n, or -errno (-EPIPE: the peer closed; SIGPIPE is never raised).
 */
ssize_t gort_write(struct gort_conn *c, const void *buf, size_t n);

/** gort_send() - write once: may write fewer than @n bytes.
 * Return: bytes written (> 0 unless @n == 0), or -errno. */
ssize_t gort_send(struct gort_conn *c, const void *buf, size_t n);

/** gort_readv() - as gort_read(), into @iovcnt buffers. */
ssize_t gort_readv(struct gort_conn *c, const struct iovec *iov, int iovcnt);

/** gort_writev() - as gort_write(), from @iovcnt buffers: all or -errno. */
ssize_t gort_writev(struct gort_conn *c, const struct iovec *iov, int iovcnt);

/** gort_recvmsg() - recvmsg(2) (datagrams with their sender, ancillary
 * data); @flags as recvmsg's.  Return: bytes, or -errno. */
ssize_t gort_recvmsg(struct gort_conn *c, struct msghdr *msg, int flags);

/** gort_sendmsg() - sendmsg(2); MSG_NOSIGNAL is always added.
 * Return: bytes, or -errno. */
ssize_t gort_sendmsg(struct gort_conn *c, const struct msghdr *msg, int flags);

/** gort_recvfrom(), gort_sendto() - datagram conveniences over msg. */
ssize_t gort_recvfrom(struct gort_conn *c, void *buf, size_t n,
		      struct sockaddr *from, socklen_t *fromlen);
ssize_t gort_sendto(struct gort_conn *c, const void *buf, size_t n,
		    const struct sockaddr *to, socklen_t tolen);

/** gort_pread(), gort_pwrite() - file I/O at @off (no thread pool: the
 * ring does it).  gort_pwrite() writes all @n bytes or fails.
 * Return: bytes (0 at end of file for pread), or -errno. */
ssize_t gort_pread(struct gort_conn *c, void *buf, size_t n, off_t off);
ssize_t gort_pwrite(struct gort_conn *c, const void *buf, size_t n, off_t off);

/** gort_fsync() - fsync(2) (@datasync: fdatasync).  Return: 0 or -errno. */
int gort_fsync(struct gort_conn *c, int datasync);

/** gort_shutdown() - shutdown(2): SHUT_RD, SHUT_WR or SHUT_RDWR. */
int gort_shutdown(struct gort_conn *c, int how);

/**
 * gort_close() - close @c
 *
 * Operations pending on it (in other goroutines) return -EBADF.  As Go's
 * Close, it waits until they have returned and closes the descriptor
 * before returning, so a listener's address can be bound again at once
 * and an fd number is never reused under a pending operation.  @c must
 * not be used afterwards.
 * Return: 0, or -EBADF if it was already closed.
 */
int gort_close(struct gort_conn *c);

/**
 * gort_set_deadline() - absolute deadlines, gort_nanotime() clock
 * @ns: 0 = none; a time in the past makes operations fail at once
 *
 * As Go's SetDeadline: it applies to pending operations too (they return
 * -ETIMEDOUT when it passes) and to every later one until changed.
 * Return: 0, or -EBADF if @c is closed.
 */
int gort_set_deadline(struct gort_conn *c, int64_t ns);
int gort_set_read_deadline(struct gort_conn *c, int64_t ns);
int gort_set_write_deadline(struct gort_conn *c, int64_t ns);

/** gort_conn_fd() - the descriptor, for setsockopt() and the like (never
 * close it yourself); -EBADF once closed. */
int gort_conn_fd(struct gort_conn *c);

/** gort_local_addr(), gort_remote_addr() - getsockname/getpeername.
 * @len: in, the size of @sa; out, the address's length.  Return: 0/-errno. */
int gort_local_addr(struct gort_conn *c, struct sockaddr *sa, socklen_t *len);
int gort_remote_addr(struct gort_conn *c, struct sockaddr *sa, socklen_t *len);

/** gort_local_port() - the bound port of a TCP/UDP socket, or -errno. */
int gort_local_port(struct gort_conn *c);

/** gort_netpoll_mode() - "io_uring" or "epoll": the poller in use (it is
 * chosen when the runtime starts). */
const char *gort_netpoll_mode(void);

#ifdef __cplusplus
}
#endif

#endif /* GORT_NET_H */
