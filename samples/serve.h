/* SPDX-License-Identifier: MIT */
/*
 * serve.h - what every sample server does the same way: listen, say
 * where (serve_listen), and accept forever with a goroutine per connection (Go's
 * net/http Server.Serve loop).  Header-only, shared by samples/echo.c and
 * samples/httpd.c.
 */
#ifndef SAMPLES_SERVE_H
#define SAMPLES_SERVE_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <gort.h>
#include <gort/net.h>

/* serve_name() - "127.0.0.1:PORT" for a wildcard address (as the Go
 * peers print), else the bound address, "[v6]:PORT" for IPv6. */
static void serve_name(struct gort_conn *l, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN + 2] = "127.0.0.1";

	if (!gort_local_addr(l, (struct sockaddr *)&ss, &len)) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;

			if (in->sin_addr.s_addr != htonl(INADDR_ANY))
				inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
			char a[INET6_ADDRSTRLEN];

			if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
				inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host, sizeof(host));
			} else if (!IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr)) {
				inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
				snprintf(host, sizeof(host), "[%s]", a);
			}
		}
	}
	snprintf(buf, size, "%s:%d", host, gort_local_port(l));
}

/* Accept errors that pass (Go's "temporary" ones): back off and retry. */
static bool serve_temporary(int err)
{
	return err == -EMFILE || err == -ENFILE || err == -ENOBUFS || err == -ENOMEM ||
	       err == -ECONNABORTED || err == -EINTR || err == -EPROTO || err == -EPERM ||
	       err == -ETIMEDOUT;
}

/*
 * serve_forever() - accept on @l and run @fn(conn) in a new goroutine for
 * each connection, forever.  Temporary errors (out of descriptors, an
 * aborted connection) back off as Go's Serve does: 5 ms, doubling, at
 * most 1 s, saying so when descriptors ran out.
 * Return: the accept error that is not temporary (-EBADF, ...).
 */
static int serve_forever(const char *prog, struct gort_conn *l, void (*fn)(void *conn))
{
	const int64_t sec = 1000LL * 1000 * 1000;
	int64_t backoff = 0;
	struct gort_conn *c;
	int err;

	for (;;) {
		err = gort_accept(l, &c);
		if (err) {
			if (!serve_temporary(err)) {
				fprintf(stderr, "%s: accept: %s\n", prog, strerror(-err));
				return err;
			}
			backoff = !backoff ? 5000000 : backoff < sec / 2 ? 2 * backoff : sec;
			if (err == -EMFILE || err == -ENFILE)
				fprintf(stderr, "%s: accept: %s; retrying in %lld ms\n", prog,
					strerror(-err), (long long)(backoff / 1000000));
			gort_sleep(backoff);
			continue;
		}
		backoff = 0;
		if (gort_go(fn, c) < 0)
			gort_close(c);
	}
}

/*
 * serve_listen() - listen on TCP @addr, print "<prog>: listening on
 * <scheme><host:port><path> (netpoll: ...)" (tools/demo and bench/run-net
 * read that line), then serve_forever().  Returns 1: a sample's exit
 * status once it stops serving.
 */
static int serve_listen(const char *prog, const char *addr, const char *scheme,
			const char *path, void (*fn)(void *conn))
{
	struct gort_conn *l;
	char name[INET6_ADDRSTRLEN + 16];
	int err;

	err = gort_listen("tcp", addr, &l);
	if (err) {
		fprintf(stderr, "%s: listen %s: %s\n", prog, addr, strerror(-err));
		return 1;
	}
	serve_name(l, name, sizeof(name));
	printf("%s: listening on %s%s%s (netpoll: %s)\n", prog, scheme, name, path,
	       gort_netpoll_mode());
	fflush(stdout);
	serve_forever(prog, l, fn);
	return 1;
}

#endif /* SAMPLES_SERVE_H */
