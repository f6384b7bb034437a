// SPDX-License-Identifier: MIT
/*
 * echo - a TCP echo server on gort: one goroutine per connection, each
 * reading into its own buffer and writing back what it read until the
 * peer closes or an error, the Go program
 *
 *	for { c, _ := ln.Accept(); go func() { n, _ := c.Read(buf); c.Write(buf[:n]) ... }() }
 *
 * in C.  The buffer is a gort heap object, allocated unzeroed, and is not
 * touched until the first byte arrives; the goroutine's frames fit in
 * the first page of its stack: an idle connection costs one stack page,
 * its G and the netpoller's bookkeeping (with io_uring, a waiting read
 * pins no buffer: the netpoller's provided buffers are shared by the
 * thread).  A buffer on the stack would lie between the stack's top and
 * the frames of the blocked read, and push those onto a second page.
 *
 * Usage: echo [-a ADDR]	(default :7007; port 0 picks a free one)
 * It prints "echo: listening on 127.0.0.1:PORT (netpoll: MODE)" once it
 * listens, and serves until killed.
 *
 * Try:	build/samples/echo -a :7007 &
 *	python3 -c 'import socket; s = socket.create_connection(("127.0.0.1", 7007));
 *		    s.sendall(b"hi\n"); print(s.recv(9))'
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gort.h>
#include <gort/net.h>

#include "serve.h"

#define BUF_SIZE	16384	/* as the io_uring poller's provided buffers */

static const char *listen_addr = ":7007";

static void serve(void *arg)
{
	struct gort_conn *c = arg;
	char *buf = gort_alloc(BUF_SIZE, GORT_ALLOC_NOSCAN | GORT_ALLOC_NOZERO);
	int one = 1, fd = gort_conn_fd(c);
	ssize_t n;

	if (!buf) {
		gort_close(c);
		return;
	}
	if (fd >= 0)	/* echoes go out at once, as Go's TCPConn does */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (;;) {
		n = gort_read(c, buf, BUF_SIZE);
		if (n <= 0 || gort_write(c, buf, (size_t)n) < 0)
			break;
	}
	gort_close(c);
	gort_free(buf);
}

static int run(void *arg)
{
	(void)arg;
	return serve_listen("echo", listen_addr, "", "", serve);
}

int main(int argc, char **argv)
{
	int opt, ret;

	while ((opt = getopt(argc, argv, "a:h")) != -1) {
		if (opt != 'a') {
			fprintf(stderr, "usage: %s [-a ADDR]   (default :7007)\n", argv[0]);
			return 2;
		}
		listen_addr = optarg;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: %s [-a ADDR]   (default :7007)\n", argv[0]);
		return 2;
	}
	ret = gort_main(run, NULL, NULL);
	if (ret < 0) {
		fprintf(stderr, "echo: gort_main: %s\n", strerror(-ret));
		return 1;
	}
	return ret;
}
