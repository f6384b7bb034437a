// SPDX-License-Identifier: MIT
/*
 * httpd - an HTTP/1.1 server on gort, written as a Go programmer would:
 * one goroutine per connection, plain blocking-looking reads and writes
 * that park the goroutine on the netpoller (gort/net.h).
 *
 * Routes (GET and HEAD; any other method is a 405):
 *	/, /hello		"Hello, World!\n", text/plain
 *	/static/<path>		the file <root>/<path> (-r, default samples),
 *				read with gort_open() + gort_pread() through the
 *				netpoller; 400 for traversal ("..", "%2e%2e",
 *				"//", "%2f"), 404 for missing files, directories
 *				and dotfiles, Content-Type by extension
 *	/debug/memstats		gort's MemStats as JSON (Go's field names), the
 *				netpoller's mode, a few scheduler counts, the
 *				requests answered and the connections open
 * anything else is a 404.
 *
 * A connection's goroutine (serve()) loops: parse every complete request
 * in its input buffer (samples/http.h; pipelined requests come several to
 * a read), answer each in order into its output buffer, flush that buffer
 * with one write when the input holds no further complete request (or
 * when it fills), then read more.  So N pipelined requests cost one read
 * and one write, and a keep-alive client that waits for each answer costs
 * one of each per request, as in Go's net/http.
 *
 * Invariants of struct conn:
 *  - in[0, in_len) are received bytes not yet consumed; the request being
 *    parsed starts at in[0] between reads (the buffer is compacted before
 *    each read), and is shorter than HTTP_MAX_HEAD (the parser fails with
 *    431 before that), so a read always has room: IN_CAP > HTTP_MAX_HEAD.
 *  - out[0, out_len) are answers not yet written, in request order.
 *  - err < 0 once a write failed: nothing more is written, the goroutine
 *    closes the connection.
 *
 * Closing: a malformed request gets its 400/414/431/501/505 and the
 * connection closes, as does one that asked for it (Connection: close,
 * HTTP/1.0 without keep-alive), one whose body is too big to skip (1 MiB)
 * and one with Expect: 100-continue and a body (the client may never send
 * it).  A close that follows an answer is a lingering close, as Apache's:
 * shutdown(SHUT_WR), then read and drop what the client still sends (1 s,
 * 256 KiB at most) before close(), so that unread input does not make the
 * kernel answer with a RST that could destroy the answer.
 *
 * Timeouts (-t SECONDS, default 10, 0 = none): a request (head and body)
 * must arrive within it of the first read that waits for it, an idle
 * keep-alive connection is closed after it, and each flush of answers
 * must be taken by the client within it.  Deadlines are moved only when
 * they would move by more than 1/8 of the timeout, so a busy connection
 * does not re-arm its timers for every request: the timeout is thus
 * between 7/8 and all of -t.
 *
 * Memory: a connection's buffers (32 KiB) are one gort heap object,
 * allocated unzeroed, so no page of them is touched until data arrives;
 * the goroutine's own frames are small, so while it waits its stack stays
 * in its first page.  An idle connection thus costs one stack page, its G
 * and the netpoller's bookkeeping.  (Buffers on the stack would lie
 * between the stack's top and the frames of the blocked read, and push
 * those onto a second page.)  The memstats route, the only big one, also
 * takes its memory from the heap.
 *
 * Usage: httpd [-a ADDR] [-r DIR] [-t SECONDS]
 *	-a ADDR		listen address, host:port or :port (default :8080;
 *			port 0 picks a free one)
 *	-r DIR		root of /static/ (default samples)
 *	-t SECONDS	read and write timeout (default 10; 0 = none)
 * It prints "httpd: listening on http://127.0.0.1:PORT/ (netpoll: MODE)"
 * once it listens, and serves until killed (SIGINT, SIGTERM: the default
 * action, the process exits).
 *
 * Try:	build/samples/httpd -a :8080 &
 *	curl -i localhost:8080/ localhost:8080/static/workers.c
 *	curl -s localhost:8080/debug/memstats
 *	wrk -t2 -c50 -d5s http://127.0.0.1:8080/
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gort.h>
#include <gort/net.h>

#include "http.h"
#include "serve.h"

#define IN_CAP		16384		/* input buffer per connection */
#define OUT_CAP		16384		/* output buffer per connection */
#define FILE_CHUNK_MIN	4096		/* flush first if less room than this */
#define BODY_SKIP_MAX	(1 << 20)	/* bigger bodies: answer, then close */
#define JSON_CAP	65536		/* /debug/memstats */
#define LINGER_NS	(1000LL * 1000 * 1000)
#define LINGER_BYTES	(256 << 10)
#define SEC		(1000LL * 1000 * 1000)

_Static_assert(IN_CAP > HTTP_MAX_HEAD, "a partial head must leave room to read");

static const char hello[] = "Hello, World!\n";

/* Configuration: set by main() before the runtime starts, then read-only. */
static const char *listen_addr = ":8080";
static const char *root = "samples";
static int64_t timeout_ns = 10 * SEC;

struct conn {
	struct gort_conn *c;
	char *in, *out;		/* IN_CAP and OUT_CAP bytes, one heap object */
	size_t in_len;		/* bytes in in[] */
	size_t out_len;		/* bytes in out[] */
	int err;		/* first write error, or 0 */
	int64_t rdl, wdl;	/* the deadlines set, 0 = none */
	time_t date_sec;	/* the second date[] shows, 0 = none yet */
	char date[32];		/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
};

/* One request being answered. */
struct req {
	const char *buf;		/* its bytes: spans are offsets in here */
	const struct http_request *h;	/* NULL when it could not be parsed */
	bool head;			/* HEAD: the answer has no body */
	bool close;			/* close the connection after answering */
};

/* ---- output ---- */

/*
 * arm() - move deadline *@cur of @c (gort_set_read_deadline or
 * gort_set_write_deadline) to timeout_ns from now, unless it is within
 * 1/8 of the timeout of that already.
 */
static void arm(struct gort_conn *c, int64_t *cur,
		int (*set)(struct gort_conn *, int64_t))
{
	int64_t want;

	if (!timeout_ns)
		return;
	want = gort_nanotime() + timeout_ns;
	if (*cur && want - *cur < timeout_ns / 8)
		return;
	*cur = want;
	set(c, want);
}

/* out_flush() - write out[] (all of it, or fail for good). */
static void out_flush(struct conn *cn)
{
	ssize_t n;

	if (cn->out_len && !cn->err) {
		arm(cn->c, &cn->wdl, gort_set_write_deadline);
		n = gort_write(cn->c, cn->out, cn->out_len);
		if (n < 0)
			cn->err = (int)n;
	}
	cn->out_len = 0;
}

static void out_put(struct conn *cn, const void *p, size_t n)
{
	const char *s = p;

	while (n) {
		size_t k = OUT_CAP - cn->out_len;

		if (k > n)
			k = n;
		memcpy(cn->out + cn->out_len, s, k);
		cn->out_len += k;
		s += k;
		n -= k;
		if (cn->out_len == OUT_CAP)
			out_flush(cn);
	}
}

static void out_str(struct conn *cn, const char *s)
{
	out_put(cn, s, strlen(s));
}

static void out_u64(struct conn *cn, uint64_t v)
{
	char b[20], *p = b + sizeof(b);

	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	out_put(cn, p, (size_t)(b + sizeof(b) - p));
}

/* date() - the Date header's value, regenerated once a second. */
static const char *date(struct conn *cn)
{
	time_t now = time(NULL);
	struct tm tm;

	if (now != cn->date_sec) {
		cn->date_sec = now;
		gmtime_r(&now, &tm);
		/* The C locale's names: the runtime never calls setlocale(). */
		strftime(cn->date, sizeof(cn->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	}
	return cn->date;
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	default:  return "Internal Server Error";
	}
}

/*
 * put_head() - the status line and header of an answer to @rq, whose body
 * is @len bytes of @ctype; @extra: more header lines (each ending in
 * CRLF), or NULL.
 */
static void put_head(struct conn *cn, const struct req *rq, int status, const char *ctype,
		     uint64_t len, const char *extra)
{
	out_str(cn, "HTTP/1.1 ");
	out_u64(cn, (uint64_t)status);
	out_str(cn, " ");
	out_str(cn, reason(status));
	out_str(cn, "\r\nServer: gort-httpd\r\nDate: ");
	out_str(cn, date(cn));
	out_str(cn, "\r\nContent-Type: ");
	out_str(cn, ctype);
	out_str(cn, "\r\nContent-Length: ");
	out_u64(cn, len);
	out_str(cn, "\r\n");
	if (extra)
		out_str(cn, extra);
	if (rq->close)
		out_str(cn, "Connection: close\r\n");
	else if (rq->h && !rq->h->minor)
		out_str(cn, "Connection: keep-alive\r\n");
	out_str(cn, "\r\n");
}

/* For /debug/memstats (and tools/demo's live table): answers given and
 * connections open.  Relaxed atomics: counters, no ordering. */
static uint64_t nrequests;
static int64_t nconns;

static void respond(struct conn *cn, const struct req *rq, int status, const char *ctype,
		    const void *body, size_t len, const char *extra)
{
	__atomic_fetch_add(&nrequests, 1, __ATOMIC_RELAXED);
	put_head(cn, rq, status, ctype, len, extra);
	if (!rq->head)
		out_put(cn, body, len);
}

/* respond_error() - @status with its reason as a text/plain body. */
static void respond_error(struct conn *cn, const struct req *rq, int status,
			  const char *extra)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", status, reason(status));

	respond(cn, rq, status, "text/plain; charset=utf-8", body, (size_t)n, extra);
}

/* ---- /static/ ---- */

static const struct {
	const char *ext, *type;
} ctypes[] = {
	{ "html", "text/html; charset=utf-8" },
	{ "htm", "text/html; charset=utf-8" },
	{ "txt", "text/plain; charset=utf-8" },
	{ "c", "text/plain; charset=utf-8" },
	{ "h", "text/plain; charset=utf-8" },
	{ "md", "text/markdown; charset=utf-8" },
	{ "rst", "text/plain; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" },
	{ "js", "text/javascript; charset=utf-8" },
	{ "json", "application/json" },
	{ "xml", "text/xml; charset=utf-8" },
	{ "svg", "image/svg+xml" },
	{ "png", "image/png" },
	{ "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" },
	{ "gif", "image/gif" },
	{ "webp", "image/webp" },
	{ "ico", "image/x-icon" },
	{ "pdf", "application/pdf" },
	{ "wasm", "application/wasm" },
	{ "gz", "application/gzip" },
};

/* content_type() - by the extension of @path's last segment. */
static const char *content_type(const char *path)
{
	const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
	size_t i;

	if (dot && (!slash || dot > slash))
		for (i = 0; i < sizeof(ctypes) / sizeof(ctypes[0]); i++)
			if (http_ieq(dot + 1, strlen(dot + 1), ctypes[i].ext))
				return ctypes[i].type;
	return "application/octet-stream";
}

/* send_file() - @size bytes of @f, read into out[] as it drains.
 * Return: false if the file ended early or failed (the answer is cut). */
static bool send_file(struct conn *cn, struct gort_conn *f, uint64_t size)
{
	off_t off = 0;

	while (size) {
		size_t room;
		ssize_t n;

		if (OUT_CAP - cn->out_len < FILE_CHUNK_MIN)
			out_flush(cn);
		if (cn->err)
			return false;
		room = OUT_CAP - cn->out_len;
		n = gort_pread(f, cn->out + cn->out_len, size < room ? size : room, off);
		if (n <= 0)
			return false;
		cn->out_len += (size_t)n;
		off += n;
		size -= (uint64_t)n;
	}
	return true;
}

/* serve_static() - GET /static/<path>: @t, @tn is the origin-form target. */
static void serve_static(struct conn *cn, struct req *rq, const char *t, size_t tn)
{
	char rel[PATH_MAX], path[PATH_MAX];
	struct gort_conn *f;
	struct stat st;
	int n, err, fd;

	n = http_target_path(t, tn, sizeof("/static/") - 1, rel, sizeof(rel));
	if (n < 0) {
		respond_error(cn, rq, -n, NULL);
		return;
	}
	/* No directories, no dotfiles (.git, .htpasswd, ...). */
	if (!n || rel[n - 1] == '/' || rel[0] == '.' || strstr(rel, "/.")) {
		respond_error(cn, rq, 404, NULL);
		return;
	}
	if (snprintf(path, sizeof(path), "%s/%s", root, rel) >= (int)sizeof(path)) {
		respond_error(cn, rq, 414, NULL);
		return;
	}
	err = gort_open(path, O_RDONLY, 0, &f);
	if (err) {
		respond_error(cn, rq, err == -EACCES || err == -EPERM ? 403 :
				      err == -ENOMEM || err == -EMFILE || err == -ENFILE ? 500 :
				      404, NULL);
		return;
	}
	fd = gort_conn_fd(f);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		gort_close(f);
		respond_error(cn, rq, 404, NULL);
		return;
	}
	put_head(cn, rq, 200, content_type(rel), (uint64_t)st.st_size,
		 "X-Content-Type-Options: nosniff\r\n");
	/* A short file breaks the framing we promised: close after it. */
	if (!rq->head && !send_file(cn, f, (uint64_t)st.st_size))
		rq->close = true;
	gort_close(f);
}

/* ---- /debug/memstats ---- */

struct jbuf {
	char *p;
	size_t len, cap;
	bool full;
};

static void jprintf(struct jbuf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void jprintf(struct jbuf *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (j->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(j->p + j->len, j->cap - j->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= j->cap - j->len)
		j->full = true;
	else
		j->len += (size_t)n;
}

static void json_u64s(struct jbuf *j, const char *name, const uint64_t *v, size_t n)
{
	size_t i;

	jprintf(j, "\"%s\": [", name);
	for (i = 0; i < n; i++)
		jprintf(j, "%s%llu", i ? "," : "", (unsigned long long)v[i]);
	jprintf(j, "],\n");
}

struct stats {
	struct gort_memstats ms;
	struct gort_gcstats gs;
	struct gort_sched_stats ss;
};

static void json_memstats(struct jbuf *j, const struct stats *s)
{
	const struct gort_memstats *m = &s->ms;
	double frac = isfinite(m->gc_cpu_fraction) ? m->gc_cpu_fraction : 0;
	int i;

#define U(name, v)	jprintf(j, "  \"%s\": %llu,\n", name, (unsigned long long)(v))
	jprintf(j, "{\n");
	U("Alloc", m->alloc);
	U("TotalAlloc", m->total_alloc);
	U("Sys", m->sys);
	U("Mallocs", m->mallocs);
	U("Frees", m->frees);
	U("HeapAlloc", m->heap_alloc);
	U("HeapSys", m->heap_sys);
	U("HeapIdle", m->heap_idle);
	U("HeapInuse", m->heap_inuse);
	U("HeapReleased", m->heap_released);
	U("HeapObjects", m->heap_objects);
	U("StackInuse", m->stack_inuse);
	U("StackSys", m->stack_sys);
	U("MSpanInuse", m->mspan_inuse);
	U("MSpanSys", m->mspan_sys);
	U("NextGC", m->next_gc);
	U("LastGC", m->last_gc);
	U("PauseTotalNs", m->pause_total_ns);
	json_u64s(j, "PauseNs", m->pause_ns, sizeof(m->pause_ns) / sizeof(m->pause_ns[0]));
	json_u64s(j, "PauseEnd", m->pause_end, sizeof(m->pause_end) / sizeof(m->pause_end[0]));
	U("NumGC", m->num_gc);
	U("NumForcedGC", m->num_forced_gc);
	jprintf(j, "\"GCCPUFraction\": %.17g,\n", frac);
	jprintf(j, "\"BySize\": [");
	for (i = 0; i < GORT_NUM_SIZE_CLASSES; i++)
		jprintf(j, "%s\n  {\"Size\": %u, \"Mallocs\": %llu, \"Frees\": %llu}", i ? "," : "",
			m->by_size[i].size, (unsigned long long)m->by_size[i].mallocs,
			(unsigned long long)m->by_size[i].frees);
	jprintf(j, "\n],\n\"Nodes\": [");
	for (i = 0; i < m->nnodes && i < GORT_MEMSTATS_MAX_NODES; i++)
		jprintf(j, "%s\n  {\"HeapAlloc\": %llu, \"HeapSys\": %llu, \"HeapInuse\": %llu, "
			"\"HeapIdle\": %llu, \"HeapReleased\": %llu, \"Mallocs\": %llu, "
			"\"Frees\": %llu}", i ? "," : "",
			(unsigned long long)m->node[i].heap_alloc,
			(unsigned long long)m->node[i].heap_sys,
			(unsigned long long)m->node[i].heap_inuse,
			(unsigned long long)m->node[i].heap_idle,
			(unsigned long long)m->node[i].heap_released,
			(unsigned long long)m->node[i].mallocs,
			(unsigned long long)m->node[i].frees);
	jprintf(j, "\n],\n");
	/* gort's own, not Go's MemStats */
	jprintf(j, "\"GCMode\": \"%s\",\n", s->gs.mode ? s->gs.mode : "");
	U("NumGoroutine", gort_num_goroutine());
	U("GOMAXPROCS", gort_maxprocs(0));
	U("Threads", s->ss.threads);
	U("Requests", __atomic_load_n(&nrequests, __ATOMIC_RELAXED));
	U("Connections", __atomic_load_n(&nconns, __ATOMIC_RELAXED));
	jprintf(j, "\"NetpollMode\": \"%s\"\n}\n", gort_netpoll_mode());
#undef U
}

static void serve_memstats(struct conn *cn, struct req *rq)
{
	struct stats *s = gort_alloc(sizeof(*s), GORT_ALLOC_NOSCAN);
	struct jbuf j = { .cap = JSON_CAP };

	j.p = gort_alloc(JSON_CAP, GORT_ALLOC_NOSCAN | GORT_ALLOC_NOZERO);
	if (s && j.p) {
		s->ms.sz = sizeof(s->ms);
		s->gs.sz = sizeof(s->gs);
		s->ss.sz = sizeof(s->ss);
		if (gort_read_memstats(&s->ms) || gort_read_gcstats(&s->gs) ||
		    gort_sched_stats(&s->ss))
			j.full = true;
		else
			json_memstats(&j, s);
	}
	if (!s || !j.p || j.full)
		respond_error(cn, rq, 500, NULL);
	else
		respond(cn, rq, 200, "application/json", j.p, j.len, NULL);
	gort_free(j.p);
	gort_free(s);
}

/* ---- routing ---- */

/*
 * origin_form() - reduce an absolute-form target ("http://host/p?q") to
 * its origin form ("/p?q"); false for a target that is neither.  The
 * asterisk and authority forms belong to OPTIONS and CONNECT, answered
 * with 405 before this.
 */
static bool origin_form(const char **t, size_t *n)
{
	size_t i, skip;

	if (*n && (*t)[0] == '/')
		return true;
	if (*n >= 7 && http_ieq(*t, 7, "http://"))
		skip = 7;
	else if (*n >= 8 && http_ieq(*t, 8, "https://"))
		skip = 8;
	else
		return false;
	for (i = skip; i < *n && (*t)[i] != '/' && (*t)[i] != '?'; i++)
		;
	if (i == *n || (*t)[i] == '?') {
		*t = "/";
		*n = 1;
	} else {
		*t += i;
		*n -= i;
	}
	return true;
}

static bool path_is(const char *t, size_t pn, const char *path)
{
	return pn == strlen(path) && !memcmp(t, path, pn);
}

static void handle(struct conn *cn, struct req *rq)
{
	const struct http_request *h = rq->h;
	const char *t = rq->buf + h->target.off;
	size_t tn = h->target.len, pn;

	if (http_span_eq(rq->buf, h->method, "HEAD")) {
		rq->head = true;
	} else if (!http_span_eq(rq->buf, h->method, "GET")) {
		respond_error(cn, rq, 405, "Allow: GET, HEAD\r\n");
		return;
	}
	if (!origin_form(&t, &tn)) {
		respond_error(cn, rq, 400, NULL);
		return;
	}
	for (pn = 0; pn < tn && t[pn] != '?'; pn++)
		;
	if (path_is(t, pn, "/") || path_is(t, pn, "/hello"))
		respond(cn, rq, 200, "text/plain; charset=utf-8", hello, sizeof(hello) - 1, NULL);
	else if (path_is(t, pn, "/debug/memstats"))
		serve_memstats(cn, rq);
	else if (pn >= 8 && !memcmp(t, "/static/", 8))
		serve_static(cn, rq, t, tn);
	else
		respond_error(cn, rq, 404, NULL);
}

/* ---- connections ---- */

/*
 * linger() - after the last answer: no more output, then drop what the
 * client still sends until it closes (or 1 s, 256 KiB), so our close()
 * does not reset the connection under the answer.
 */
static void linger(struct conn *cn)
{
	size_t total = 0;
	ssize_t n;

	if (cn->err || gort_shutdown(cn->c, SHUT_WR))
		return;
	gort_set_read_deadline(cn->c, gort_nanotime() + LINGER_NS);
	while (total < LINGER_BYTES) {
		n = gort_read(cn->c, cn->in, IN_CAP);
		if (n <= 0)
			break;
		total += (size_t)n;
	}
}

/*
 * answer() - every complete request in in[] from *@off on, in order.
 * Return: false once the connection is to close (its last answer is in
 * out[]).  *@skip: body bytes still to drop before the next request.
 */
static bool answer(struct conn *cn, struct http_request *h, size_t *off, uint64_t *skip)
{
	while (*off < cn->in_len) {
		struct req rq = { .buf = cn->in + *off, .h = h };
		int ret;

		if (*skip) {
			size_t k = cn->in_len - *off;

			if (k > *skip)
				k = (size_t)*skip;
			*off += k;
			*skip -= k;
			continue;
		}
		ret = http_parse(h, cn->in + *off, cn->in_len - *off);
		if (ret == HTTP_AGAIN)
			return true;
		if (ret < 0) {
			rq.h = NULL;
			rq.close = true;
			respond_error(cn, &rq, -ret, NULL);
			return false;
		}
		rq.close = !h->keep_alive || h->content_length > BODY_SKIP_MAX ||
			   (h->expect_continue && h->content_length);
		handle(cn, &rq);
		if (rq.close || cn->err)
			return false;
		*off += (size_t)ret;
		*skip = h->content_length;
		http_request_init(h);
	}
	return true;
}

static void serve(void *arg)
{
	struct conn cn = { .c = arg };
	struct http_request h;
	uint64_t skip = 0;
	size_t off = 0;
	int one = 1, fd;
	ssize_t n;

	/* Unzeroed: the pages stay untouched until data comes. */
	cn.in = gort_alloc(IN_CAP + OUT_CAP, GORT_ALLOC_NOSCAN | GORT_ALLOC_NOZERO);
	if (!cn.in) {
		gort_close(cn.c);
		return;
	}
	__atomic_fetch_add(&nconns, 1, __ATOMIC_RELAXED);
	cn.out = cn.in + IN_CAP;
	fd = gort_conn_fd(cn.c);
	if (fd >= 0)	/* answers are written whole: no Nagle delay */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	http_request_init(&h);
	for (;;) {
		if (!answer(&cn, &h, &off, &skip)) {
			out_flush(&cn);
			linger(&cn);
			break;
		}
		out_flush(&cn);
		if (cn.err)
			break;
		/* Compact: the request in progress moves to in[0]. */
		if (off) {
			memmove(cn.in, cn.in + off, cn.in_len - off);
			cn.in_len -= off;
			off = 0;
		}
		/* A new request's time starts with the read that waits for it. */
		if (!cn.in_len && !skip)
			arm(cn.c, &cn.rdl, gort_set_read_deadline);
		n = gort_read(cn.c, cn.in + cn.in_len, IN_CAP - cn.in_len);
		if (n <= 0)	/* EOF, -ETIMEDOUT, -ECONNRESET, ... */
			break;
		cn.in_len += (size_t)n;
	}
	gort_close(cn.c);
	gort_free(cn.in);
	__atomic_fetch_sub(&nconns, 1, __ATOMIC_RELAXED);
}

/* ---- listening ---- */

static int run(void *arg)
{
	(void)arg;
	return serve_listen("httpd", listen_addr, "http://", "/", serve);
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [-a ADDR] [-r DIR] [-t SECONDS]\n"
		"  -a ADDR     listen on host:port or :port (default :8080)\n"
		"  -r DIR      serve /static/ from DIR (default samples)\n"
		"  -t SECONDS  read and write timeout, 0 = none (default 10)\n", argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	struct stat st;
	char *end;
	double t;
	int opt, ret;

	while ((opt = getopt(argc, argv, "a:r:t:h")) != -1) {
		switch (opt) {
		case 'a':
			listen_addr = optarg;
			break;
		case 'r':
			root = optarg;
			break;
		case 't':
			errno = 0;
			t = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(t >= 0 && t <= 1e6))
				usage(argv[0]);
			timeout_ns = (int64_t)(t * SEC);
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc)
		usage(argv[0]);
	if (stat(root, &st) || !S_ISDIR(st.st_mode))
		fprintf(stderr, "httpd: warning: -r %s is not a directory: /static/ will 404\n",
			root);
	ret = gort_main(run, NULL, NULL);
	if (ret < 0) {
		fprintf(stderr, "httpd: gort_main: %s\n", strerror(-ret));
		return 1;
	}
	return ret;
}
