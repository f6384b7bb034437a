/* SPDX-License-Identifier: MIT */
/*
 * epoll_httpd.c - a minimal epoll HTTP server in plain C: the floor of
 * bench/run-net, what one hand-written event loop does on the same machine,
 * so the table shows how far gort's samples/httpd and Go's net/http are
 * from it.
 *
 * Threads: -t N (default 1; bench/run-net passes the number of CPUs it
 * gives the servers).  Each thread has its own listening socket, bound to
 * the same address with SO_REUSEPORT (the kernel spreads new connections
 * over them by a hash of the 4-tuple), its own epoll instance and its own
 * connections: nothing is shared, no locks.  Threads are not pinned: the
 * caller's taskset decides where they run.
 *
 * Events: edge-triggered, EPOLLIN | EPOLLOUT | EPOLLRDHUP registered once
 * per connection.  Edge-triggered means every event is drained: accept4()
 * until EAGAIN, read() until EAGAIN, write() until done or EAGAIN (the next
 * EPOLLOUT edge resumes it).  Accept failing with EMFILE drops the event
 * (a minimal server; the next connection retries).
 *
 * HTTP: a request is everything up to and including "\r\n\r\n" (no body is
 * read: GET and HEAD-like requests only); each one, whatever its method or
 * path, is answered in order, as soon as its head is read, with the same
 * static 200 response "Hello, World!\n" (Content-Length and Content-Type,
 * no Date: the bytes never change).  Keep-alive always, HTTP/1.0 included;
 * pipelining works.  At end of file the connection is closed once what it
 * owes is written.  A request head longer than IN_MAX bytes closes it.
 *
 * Responses are written from a per-process buffer of RESP_BATCH copies of
 * the response, so a connection's output state is just how many responses
 * it owes and how much of the first one is already written: no output
 * buffer per connection, and an idle connection holds only struct conn.
 *
 * It makes no gort calls.  The Makefile's bench rule links it with
 * libgort.a; nothing of it is pulled in.
 *
 * Usage: epoll_httpd [-a ADDR] [-t THREADS]
 *	ADDR: host:port or :port, IPv4 (default :8080; port 0 picks one)
 * Prints "epoll_httpd: listening on http://127.0.0.1:PORT/ (netpoll: epoll,
 * N threads)" once every thread's socket listens, then serves until killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROG		"epoll_httpd"
#define IN_MAX		4096	/* longest request head */
#define RESP_BATCH	64	/* responses written by one send() at most */
#define MAX_EVENTS	256
#define MAX_THREADS	256

static const char resp[] =
	"HTTP/1.1 200 OK\r\n"
	"Content-Length: 14\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"\r\n"
	"Hello, World!\n";
#define RESP_LEN	(sizeof(resp) - 1)

/* RESP_BATCH copies of resp, back to back; read-only once main() fills it. */
static char resp_batch[RESP_BATCH * RESP_LEN];

/*
 * One connection, owned by one thread.  in[0, in_len) are bytes read and not
 * yet parsed into a request; owed responses are still to be written, the
 * first of them from byte out_off.  owed == 0 implies out_off == 0.  eof:
 * the peer has shut down its side; close once owed == 0.
 */
struct conn {
	int fd;
	int eof;
	unsigned int in_len;
	unsigned long owed;
	unsigned int out_off;
	char in[IN_MAX];
};

struct worker {
	pthread_t tid;
	int lfd;	/* this thread's SO_REUSEPORT listener */
	int ep;
};

/* The listener's epoll_event.data.ptr; connections point to their conn. */
static char listener_tag;

static void die(const char *what, int err)
{
	fprintf(stderr, PROG ": %s: %s\n", what, strerror(err));
	exit(1);
}

static void conn_close(struct conn *c)
{
	close(c->fd);	/* also drops it from the epoll set */
	free(c);
}

/* conn_flush() - write what @c owes, then close it if its peer is done;
 * 0, or -1 if @c was closed. */
static int conn_flush(struct conn *c)
{
	while (c->owed) {
		size_t n = c->owed < RESP_BATCH ? c->owed : RESP_BATCH;
		ssize_t w = send(c->fd, resp_batch + c->out_off,
				 n * RESP_LEN - c->out_off, MSG_NOSIGNAL);
		size_t done;

		if (w < 0) {
			if (errno == EAGAIN)
				return 0;	/* the next EPOLLOUT edge resumes */
			if (errno == EINTR)
				continue;
			conn_close(c);
			return -1;
		}
		done = c->out_off + (size_t)w;
		c->owed -= done / RESP_LEN;
		c->out_off = done % RESP_LEN;
	}
	if (c->eof) {
		conn_close(c);
		return -1;
	}
	return 0;
}

/*
 * conn_read() - read until EAGAIN or end of file, answering each complete
 * request head as it comes; 0, or -1 if @c was closed (error, head too
 * long, end of file with nothing owed).
 */
static int conn_read(struct conn *c)
{
	for (;;) {
		ssize_t r = read(c->fd, c->in + c->in_len, IN_MAX - c->in_len);
		unsigned int start = 0;
		char *end;

		if (r < 0) {
			if (errno == EAGAIN)
				return 0;
			if (errno == EINTR)
				continue;
			conn_close(c);
			return -1;
		}
		if (r == 0) {
			c->eof = 1;
			return conn_flush(c);
		}
		c->in_len += (unsigned int)r;
		/* From 0: a head's "\r\n\r\n" may start in an earlier read. */
		while ((end = memmem(c->in + start, c->in_len - start,
				     "\r\n\r\n", 4))) {
			c->owed++;
			start = (unsigned int)(end - c->in) + 4;
		}
		if (start) {
			c->in_len -= start;
			memmove(c->in, c->in + start, c->in_len);
			if (conn_flush(c) < 0)
				return -1;
		} else if (c->in_len == IN_MAX) {
			conn_close(c);	/* head longer than IN_MAX */
			return -1;
		}
	}
}

static void accept_all(struct worker *w)
{
	for (;;) {
		struct epoll_event ev;
		struct conn *c;
		int one = 1;
		int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				fprintf(stderr, PROG ": accept4: %s\n", strerror(errno));
			return;
		}
		/* As Go's net and (we expect) gort's: small writes go at once. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = malloc(sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->eof = 0;
		c->in_len = 0;
		c->owed = 0;
		c->out_off = 0;
		ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
		ev.data.ptr = c;
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			die("epoll_ctl", errno);
	}
}

static void *worker_loop(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[MAX_EVENTS];

	for (;;) {
		int i, n = epoll_wait(w->ep, evs, MAX_EVENTS, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait", errno);
		}
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			uint32_t e = evs[i].events;

			if (evs[i].data.ptr == &listener_tag) {
				accept_all(w);
				continue;
			}
			/* EOF and errors surface as read() returning 0 or -1. */
			if (!c->eof &&
			    (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) &&
			    conn_read(c) < 0)
				continue;
			if (conn_flush(c) == 0 && c->eof && (e & (EPOLLHUP | EPOLLERR)))
				conn_close(c);	/* the peer is gone: drop what is owed */
		}
	}
	return NULL;
}

/* parse_addr() - "host:port" or ":port", IPv4 numeric or "localhost". */
static int parse_addr(const char *s, struct sockaddr_in *sa)
{
	const char *colon = strrchr(s, ':');
	char host[64];
	char *end;
	long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || port < 0 || port > 65535)
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (!host[0])
		sa->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (!strcmp(host, "localhost"))
		sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -1;
	return 0;
}

static int listen_on(struct sockaddr_in *sa)
{
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket", errno);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		die("setsockopt", errno);
	if (bind(fd, (struct sockaddr *)sa, sizeof(*sa)) < 0)
		die("bind", errno);
	if (listen(fd, SOMAXCONN) < 0)
		die("listen", errno);
	return fd;
}

int main(int argc, char **argv)
{
	static struct worker workers[MAX_THREADS];
	const char *addr = ":8080";
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	char host[INET_ADDRSTRLEN];
	int i, opt, nthreads = 1;

	while ((opt = getopt(argc, argv, "a:t:")) != -1) {
		switch (opt) {
		case 'a':
			addr = optarg;
			break;
		case 't':
			nthreads = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc || nthreads < 1 || nthreads > MAX_THREADS ||
	    parse_addr(addr, &sa) < 0)
		goto usage;

	for (i = 0; i < RESP_BATCH; i++)
		memcpy(resp_batch + i * RESP_LEN, resp, RESP_LEN);

	/* The first bind picks the port if it is 0; the others reuse it. */
	for (i = 0; i < nthreads; i++) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLET,
					  .data.ptr = &listener_tag };

		workers[i].lfd = listen_on(&sa);
		if (i == 0 &&
		    getsockname(workers[0].lfd, (struct sockaddr *)&sa, &salen) < 0)
			die("getsockname", errno);
		workers[i].ep = epoll_create1(EPOLL_CLOEXEC);
		if (workers[i].ep < 0)
			die("epoll_create1", errno);
		if (epoll_ctl(workers[i].ep, EPOLL_CTL_ADD, workers[i].lfd, &ev) < 0)
			die("epoll_ctl", errno);
	}
	if (sa.sin_addr.s_addr == htonl(INADDR_ANY))
		strcpy(host, "127.0.0.1");
	else
		inet_ntop(AF_INET, &sa.sin_addr, host, sizeof(host));
	printf(PROG ": listening on http://%s:%d/ (netpoll: epoll, %d thread%s)\n",
	       host, ntohs(sa.sin_port), nthreads, nthreads == 1 ? "" : "s");
	fflush(stdout);

	signal(SIGPIPE, SIG_IGN);
	for (i = 1; i < nthreads; i++) {
		int err = pthread_create(&workers[i].tid, NULL, worker_loop, &workers[i]);

		if (err)
			die("pthread_create", err);
	}
	worker_loop(&workers[0]);
	return 0;

usage:
	fprintf(stderr, "usage: " PROG " [-a ADDR] [-t THREADS]\n"
		"  ADDR  host:port or :port, IPv4 (default :8080; port 0 picks one)\n");
	return 2;
}
