/* SPDX-License-Identifier: MIT */
/*
 * echoload.c - the client of bench/run-net's echo and idle-connection
 * benchmarks: a closed-loop load generator for an echo server, and a holder
 * of idle connections.
 *
 * Load (default): -c N connections (default 100), each with one message of
 * -s bytes (default 64) in flight: send it, wait until the same bytes have
 * come back, check them, send the next.  Every message differs (its bytes
 * depend on the connection and a sequence number), so an echo of the wrong
 * message, a stale or a short one is caught: the program then fails.
 * After -w seconds of warm-up (default 1) it counts the messages whose echo
 * completes in the next -d seconds (default 5) and records each one's
 * latency, from just before its send() to the receipt of its last byte
 * (CLOCK_MONOTONIC, the vDSO's), in a histogram.  Then it prints
 *
 *	echo64 rps=<messages/s> p50_us=<us> p99_us=<us> conns=.. threads=.. ...
 *
 * (echo<size> for another -s).  A connection the server closes, an error or
 * a wrong echo exits 1.
 *
 * Idle (-i): opens -c N connections (e.g. 10000) one after the other,
 * blocking connect() each, sends nothing, prints
 *
 *	idle conns=<N> connect_ms=<ms>
 *
 * and holds them -d seconds (0: until killed).  RLIMIT_NOFILE's soft limit
 * is raised to the hard one first.  The sockets have SO_LINGER 0: when the
 * process exits they are reset, not left in TIME_WAIT, so runs in a row do
 * not run out of ephemeral ports.  That the server has accepted them is the
 * caller's to check (bench/run-net watches the listener with ss).
 *
 * Why plain C with epoll and threads, not gort: the client must be the same
 * for gort's server and Go's, and must not share the runtime (or its bugs)
 * with the server it measures.  -t T threads (default 1) each own the
 * connections i with i % T == k and their own epoll instance, level-
 * triggered on EPOLLIN (a message is one send() on an empty socket, which
 * never blocks: a short send is an error).  Threads are not pinned by this
 * program: bench/run-net runs it under taskset on the CPUs the server does
 * not use.  Sockets have TCP_NODELAY.
 *
 * Histogram: log-linear, HIST_SUB buckets per power of two of nanoseconds,
 * so a percentile is within 1/HIST_SUB (1.6%) of the true value; it is
 * reported as the middle of its bucket.  Percentile p is the smallest
 * bucket whose cumulative count reaches ceil(p * count).
 *
 * Usage: echoload [-i] [-c CONNS] [-d SECS] [-w SECS] [-t THREADS]
 *		   [-s BYTES] HOST:PORT
 *	HOST: IPv4 numeric or localhost; ":PORT" means 127.0.0.1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROG		"echoload"
#define MAX_SIZE	4096
#define MAX_EVENTS	256
#define MAX_THREADS	64

#define HIST_SUB_BITS	6
#define HIST_SUB	(1 << HIST_SUB_BITS)
#define HIST_N		(HIST_SUB * 40)	/* up to 2^39 ns, about 9 minutes */

struct conn {
	int fd;
	unsigned int id;
	unsigned int got;	/* bytes of the echo received so far */
	uint64_t seq;		/* messages sent on this connection */
	int64_t sent;		/* nanotime() just before the send */
	unsigned char out[MAX_SIZE];
	unsigned char in[MAX_SIZE];
};

struct worker {
	pthread_t tid;
	int ep;
	struct conn **conns;
	int nconn;
	uint64_t count;		/* echoes completed in the measured window */
	uint64_t hist[HIST_N];
};

/* Set by main() before the workers start, read-only afterwards. */
static struct sockaddr_in server;
static unsigned int size = 64;
static int64_t t_measure;	/* end of the warm-up */
static int64_t t_end;		/* end of the measured window */

static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static int64_t nanotime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Bucket of @v: v itself below HIST_SUB; else, with e the index of v's top
 * bit and shift = e - HIST_SUB_BITS, group shift + 1 and within it the
 * HIST_SUB_BITS bits below the top one.  Groups are contiguous:
 * hist_index(HIST_SUB << g) == (g + 1) * HIST_SUB.
 */
static unsigned int hist_index(uint64_t v)
{
	unsigned int shift, i;

	if (v < HIST_SUB)
		return (unsigned int)v;
	shift = 63 - (unsigned int)__builtin_clzll(v) - HIST_SUB_BITS;
	i = (shift + 1) * HIST_SUB + (unsigned int)(v >> shift) - HIST_SUB;
	return i < HIST_N ? i : HIST_N - 1;
}

/* The middle of bucket @i, in nanoseconds. */
static double hist_value(unsigned int i)
{
	unsigned int g = i / HIST_SUB, m = i % HIST_SUB;
	double lo, width;

	if (g == 0)
		return m;
	lo = (double)((uint64_t)(HIST_SUB + m) << (g - 1));
	width = (double)((uint64_t)1 << (g - 1));
	return lo + (width - 1) / 2;
}

static double hist_percentile(const uint64_t *h, uint64_t count, double p)
{
	double want = p * (double)count;
	uint64_t rank = (uint64_t)want, cum = 0;
	unsigned int i;

	if ((double)rank < want || rank == 0)
		rank++;		/* ceil, at least 1; no libm */
	for (i = 0; i < HIST_N; i++) {
		cum += h[i];
		if (cum >= rank)
			return hist_value(i);
	}
	return 0;
}

/* parse_addr() - "host:port" or ":port"; IPv4 numeric or "localhost". */
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
	if (!colon[1] || *end || port <= 0 || port > 65535)
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (!host[0] || !strcmp(host, "localhost"))
		sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -1;
	return 0;
}

/* dial() - a connected TCP socket, blocking connect(), then non-blocking
 * if @nonblock. */
static int dial(int nonblock, int linger0)
{
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		fail("socket: %s", strerror(errno));
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		fail("setsockopt TCP_NODELAY: %s", strerror(errno));
	if (linger0) {
		struct linger l = { .l_onoff = 1, .l_linger = 0 };

		if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) < 0)
			fail("setsockopt SO_LINGER: %s", strerror(errno));
	}
	while (connect(fd, (struct sockaddr *)&server, sizeof(server)) < 0)
		if (errno != EINTR)
			fail("connect: %s", strerror(errno));
	if (nonblock && ioctl(fd, FIONBIO, &one) < 0)
		fail("ioctl FIONBIO: %s", strerror(errno));
	return fd;
}

/* msg_send() - fill @c's next message and send it. */
static void msg_send(struct conn *c, int64_t now)
{
	unsigned int i;
	ssize_t w;

	for (i = 0; i < size; i++)
		c->out[i] = (unsigned char)(c->id * 131 + c->seq * 7 + i);
	c->sent = now;
	w = send(c->fd, c->out, size, MSG_NOSIGNAL);
	if (w != (ssize_t)size)
		fail("conn %u: send: %s", c->id,
		     w < 0 ? strerror(errno) : "short write");
}

static void *worker_loop(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[MAX_EVENTS];
	int i;

	for (i = 0; i < w->nconn; i++)
		msg_send(w->conns[i], nanotime());
	for (;;) {
		int n = epoll_wait(w->ep, evs, MAX_EVENTS, 100);
		int64_t now = nanotime();

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail("epoll_wait: %s", strerror(errno));
		}
		if (now >= t_end)
			return NULL;
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			ssize_t r = recv(c->fd, c->in + c->got, size - c->got, 0);

			if (r < 0) {
				if (errno == EAGAIN || errno == EINTR)
					continue;
				fail("conn %u: recv: %s", c->id, strerror(errno));
			}
			if (r == 0)
				fail("conn %u: the server closed the connection",
				     c->id);
			c->got += (unsigned int)r;
			if (c->got < size)
				continue;
			now = nanotime();
			if (memcmp(c->in, c->out, size))
				fail("conn %u: message %llu: wrong echo", c->id,
				     (unsigned long long)c->seq);
			if (now >= t_measure && now < t_end) {
				w->hist[hist_index((uint64_t)(now - c->sent))]++;
				w->count++;
			}
			c->got = 0;
			c->seq++;
			msg_send(c, now);
		}
	}
}

static void run_load(int nconn, int nthreads, double secs, double warm)
{
	static struct worker workers[MAX_THREADS];
	static uint64_t hist[HIST_N];
	uint64_t count = 0;
	int i, j;

	for (i = 0; i < nthreads; i++) {
		workers[i].ep = epoll_create1(EPOLL_CLOEXEC);
		if (workers[i].ep < 0)
			fail("epoll_create1: %s", strerror(errno));
		workers[i].conns = calloc((size_t)nconn / nthreads + 1,
					  sizeof(*workers[i].conns));
		if (!workers[i].conns)
			fail("out of memory");
	}
	for (i = 0; i < nconn; i++) {
		struct worker *w = &workers[i % nthreads];
		struct conn *c = calloc(1, sizeof(*c));
		struct epoll_event ev = { .events = EPOLLIN };

		if (!c)
			fail("out of memory");
		c->id = (unsigned int)i;
		c->fd = dial(1, 0);
		ev.data.ptr = c;
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
			fail("epoll_ctl: %s", strerror(errno));
		w->conns[w->nconn++] = c;
	}

	t_measure = nanotime() + (int64_t)(warm * 1e9);
	t_end = t_measure + (int64_t)(secs * 1e9);
	for (i = 0; i < nthreads; i++) {
		int err = pthread_create(&workers[i].tid, NULL, worker_loop,
					 &workers[i]);

		if (err)
			fail("pthread_create: %s", strerror(err));
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(workers[i].tid, NULL);
		count += workers[i].count;
		for (j = 0; j < HIST_N; j++)
			hist[j] += workers[i].hist[j];
	}
	if (!count)
		fail("no echo completed in %.1f s", secs);
	printf("echo%u rps=%.0f p50_us=%.1f p99_us=%.1f conns=%d threads=%d"
	       " secs=%.1f warm=%.1f echoes=%llu\n", size,
	       (double)count / secs, hist_percentile(hist, count, 0.50) / 1e3,
	       hist_percentile(hist, count, 0.99) / 1e3, nconn, nthreads, secs,
	       warm, (unsigned long long)count);
}

static void run_idle(int nconn, double secs)
{
	struct rlimit rl;
	int64_t t0;
	int i;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		fail("getrlimit: %s", strerror(errno));
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		fail("setrlimit: %s", strerror(errno));
	if (rl.rlim_cur < (rlim_t)nconn + 16)
		fail("%d connections need %d descriptors; RLIMIT_NOFILE is %llu",
		     nconn, nconn + 16, (unsigned long long)rl.rlim_cur);

	t0 = nanotime();
	for (i = 0; i < nconn; i++)
		dial(0, 1);
	printf("idle conns=%d connect_ms=%.0f\n", nconn,
	       (double)(nanotime() - t0) / 1e6);
	fflush(stdout);
	if (secs > 0) {
		struct timespec ts = { (time_t)secs,
				       (long)((secs - (double)(time_t)secs) * 1e9) };

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	} else {
		for (;;)
			pause();
	}
}

int main(int argc, char **argv)
{
	double secs = -1, warm = 1;
	int opt, idle = 0, nconn = 100, nthreads = 1;

	while ((opt = getopt(argc, argv, "ic:d:w:t:s:")) != -1) {
		switch (opt) {
		case 'i':
			idle = 1;
			break;
		case 'c':
			nconn = atoi(optarg);
			break;
		case 'd':
			secs = atof(optarg);
			break;
		case 'w':
			warm = atof(optarg);
			break;
		case 't':
			nthreads = atoi(optarg);
			break;
		case 's':
			size = (unsigned int)atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || parse_addr(argv[optind], &server) < 0 ||
	    nconn < 1 || nthreads < 1 || nthreads > MAX_THREADS ||
	    size < 1 || size > MAX_SIZE || warm < 0)
		goto usage;
	if (nthreads > nconn)
		nthreads = nconn;

	signal(SIGPIPE, SIG_IGN);
	if (idle) {
		run_idle(nconn, secs < 0 ? 0 : secs);
		return 0;
	}
	if (secs <= 0)
		secs = 5;
	run_load(nconn, nthreads, secs, warm);
	return 0;

usage:
	fprintf(stderr,
		"usage: " PROG " [-i] [-c CONNS] [-d SECS] [-w SECS] [-t THREADS]"
		" [-s BYTES] HOST:PORT\n"
		"  load (default): CONNS (100) connections, one BYTES (64) message"
		" in flight each,\n"
		"      -w SECS (1) of warm-up, then -d SECS (5) measured\n"
		"  -i: open CONNS idle connections, hold them -d SECS (0: until"
		" killed)\n");
	return 2;
}
