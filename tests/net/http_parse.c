/* SPDX-License-Identifier: MIT */
/*
 * Description: the samples' HTTP/1.1 request parser (samples/http.h),
 * without the runtime.
 *
 *   table		valid and malformed heads: the outcome (complete,
 *			need more, 400/414/431/501/505), the head and body
 *			lengths and keep-alive; each parsed at once and a
 *			byte at a time (every call on a fresh copy of
 *			exactly the bytes given, so ASan sees a read past
 *			them), with the same result both ways
 *   splits		every two-piece split of each valid head gives the
 *			same result as one call
 *   pipelined		three requests (one with a body) in one buffer,
 *			parsed one after the other as the server does
 *   fields		the spans of method, target, names and values
 *			(trimmed of OWS), and http_field_get()
 *   field_limit	64 field lines parse, 65 are a 431
 *   head_limit		a head of exactly HTTP_MAX_HEAD bytes parses, one
 *			byte more is a 431; never "need more" at the limit;
 *			a target across the limit is a 414
 *   target_path	percent-decoding and path traversal refused
 */
#include "../gort_test.h"

#include "../../samples/http.h"

#define DONE	1	/* the head is complete: http_parse() > 0 */

struct pcase {
	const char *name;
	const char *req;
	size_t len;		/* 0: strlen(req) */
	int want;		/* DONE, HTTP_AGAIN or an HTTP_E* */
	uint64_t body;		/* DONE: content_length */
	bool keep_alive;	/* DONE: keep_alive */
	size_t head;		/* DONE: head_len; 0: the whole input */
};

#define H11	"GET / HTTP/1.1\r\nHost: h\r\n"

#define OK(n, r, b, ka)		{ n, r, 0, DONE, b, ka, 0 }
#define OKH(n, r, b, ka, h)	{ n, r, 0, DONE, b, ka, h }
#define AGAIN(n, r)		{ n, r, 0, HTTP_AGAIN, 0, false, 0 }
#define ERR(n, r, e)		{ n, r, 0, e, 0, false, 0 }
#define ERRN(n, r, l, e)	{ n, r, l, e, 0, false, 0 }

static const struct pcase cases[] = {
	/* complete */
	OK("minimal 1.1", H11 "\r\n", 0, true),
	OK("1.0 closes", "GET / HTTP/1.0\r\n\r\n", 0, false),
	OK("1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, true),
	OK("1.0 Keep-Alive any case", "GET / HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n", 0, true),
	OK("1.0 keep-alive and close",
	   "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", 0, false),
	OK("1.1 close", H11 "Connection: close\r\n\r\n", 0, false),
	OK("1.1 close in a list", H11 "Connection: Upgrade ,\t CLOSE \r\n\r\n", 0, false),
	OK("1.1 closed not close", H11 "Connection: closed\r\n\r\n", 0, true),
	OK("1.2 reads as 1.1", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", 0, true),
	ERR("1.9 needs Host", "GET / HTTP/1.9\r\n\r\n", HTTP_E400),
	OK("empty lines first", "\r\n\r\n" H11 "\r\n", 0, true),
	OKH("content-length", H11 "Content-Length: 5\r\n\r\nhello", 5, true,
	   sizeof(H11 "Content-Length: 5\r\n\r\n") - 1),
	OK("content-length twice, same", H11 "Content-Length: 5\r\ncontent-length: 005\r\n\r\n",
	   5, true),
	OK("content-length 0", H11 "Content-Length: 0\r\n\r\n", 0, true),
	OK("content-length INT64_MAX", H11 "Content-Length: 9223372036854775807\r\n\r\n",
	   INT64_MAX, true),
	OK("obs-text in a value", H11 "X: caf\xc3\xa9\r\n\r\n", 0, true),
	OK("empty values", H11 "X:\r\nY:   \t\r\n\r\n", 0, true),
	OK("tabs as OWS", H11 "X:\tv\t\r\n\r\n", 0, true),
	OK("odd tokens", "M-SEARCH * HTTP/1.1\r\nHost: h\r\nX-!#$%&'*+.^_`|~: 1\r\n\r\n", 0, true),
	OK("absolute-form", "GET http://h/p?q HTTP/1.1\r\nHost: h\r\n\r\n", 0, true),
	OK("Expect", H11 "Expect: 100-continue\r\nContent-Length: 3\r\n\r\n", 3, true),
	OKH("1.0 two requests' worth", "GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n", 0, false,
	   sizeof("GET / HTTP/1.0\r\n\r\n") - 1),

	/* need more */
	AGAIN("nothing", ""),
	AGAIN("an empty line", "\r\n"),
	AGAIN("a method", "GET"),
	AGAIN("no final CRLF", H11),
	AGAIN("half the final CRLF", H11 "\r"),
	AGAIN("in a version", "GET / HTTP/1."),

	/* 400 */
	ERR("bare LF", "GET / HTTP/1.1\nHost: h\n\n", HTTP_E400),
	ERR("bare LF after a field", H11 "X: 1\n\r\n", HTTP_E400),
	ERR("bare CR in a value", H11 "X: a\rb\r\n\r\n", HTTP_E400),
	ERR("CR CR", "GET / HTTP/1.1\r\r\n", HTTP_E400),
	ERR("CR then garbage first", "\r\rGET", HTTP_E400),
	ERR("control first", "\x01GET / HTTP/1.1\r\n", HTTP_E400),
	ERR("space first", " GET / HTTP/1.1\r\n", HTTP_E400),
	ERR("two spaces", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E400),
	ERR("space before CRLF", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", HTTP_E400),
	ERR("HTTP/0.9", "GET /\r\n\r\n", HTTP_E400),
	ERR("lower-case version", "GET / http/1.1\r\n", HTTP_E400),
	ERR("version 1.10", "GET / HTTP/1.10\r\n", HTTP_E400),
	ERR("version 11", "GET / HTTP/11\r\n", HTTP_E400),
	ERR("version x.1", "GET / HTTP/x.1\r\n", HTTP_E400),
	ERR("slash in method", "GE/T / HTTP/1.1\r\n", HTTP_E400),
	ERR("tab separator", "GET\t/ HTTP/1.1\r\n", HTTP_E400),
	ERR("UTF-8 target", "GET /caf\xc3\xa9 HTTP/1.1\r\n", HTTP_E400),
	ERR("DEL in target", "GET /\x7f HTTP/1.1\r\n", HTTP_E400),
	ERRN("NUL in target", "GET /\0 HTTP/1.1\r\n", 17, HTTP_E400),
	ERRN("NUL in a value", H11 "X: a\0b\r\n\r\n", sizeof(H11 "X: a\0b\r\n\r\n") - 1, HTTP_E400),
	ERR("DEL in a value", H11 "X: \x7f\r\n\r\n", HTTP_E400),
	ERR("space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", HTTP_E400),
	ERR("empty name", H11 ": v\r\n\r\n", HTTP_E400),
	ERR("no colon", H11 "X\r\n\r\n", HTTP_E400),
	ERR("obs-fold", H11 "X: a\r\n b\r\n\r\n", HTTP_E400),
	ERR("tab fold", H11 "X: a\r\n\tb\r\n\r\n", HTTP_E400),
	ERR("whitespace after request line", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", HTTP_E400),
	ERR("missing Host", "GET / HTTP/1.1\r\n\r\n", HTTP_E400),
	ERR("two Hosts", H11 "Host: h\r\n\r\n", HTTP_E400),
	ERR("two Hosts in 1.0", "GET / HTTP/1.0\r\nHost: a\r\nHOST: b\r\n\r\n", HTTP_E400),
	ERR("content-length empty", H11 "Content-Length:\r\n\r\n", HTTP_E400),
	ERR("content-length letters", H11 "Content-Length: abc\r\n\r\n", HTTP_E400),
	ERR("content-length signed", H11 "Content-Length: +5\r\n\r\n", HTTP_E400),
	ERR("content-length negative", H11 "Content-Length: -1\r\n\r\n", HTTP_E400),
	ERR("content-length hex", H11 "Content-Length: 0x10\r\n\r\n", HTTP_E400),
	ERR("content-length inner space", H11 "Content-Length: 1 2\r\n\r\n", HTTP_E400),
	ERR("content-length list", H11 "Content-Length: 5, 5\r\n\r\n", HTTP_E400),
	ERR("content-length conflict", H11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
	   HTTP_E400),
	ERR("content-length > INT64_MAX", H11 "Content-Length: 9223372036854775808\r\n\r\n",
	   HTTP_E400),
	ERR("content-length overflow", H11 "Content-Length: 184467440737095516160\r\n\r\n",
	   HTTP_E400),
	ERR("transfer-encoding in 1.0", "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	   HTTP_E400),
	ERRN("garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11, HTTP_E400),

	/* 501 */
	ERR("chunked", H11 "Transfer-Encoding: chunked\r\n\r\n", HTTP_E501),
	ERR("gzip", H11 "transfer-encoding: gzip, chunked\r\n\r\n", HTTP_E501),
	ERR("chunked and length", H11 "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
	   HTTP_E501),

	/* 505 */
	ERR("HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", HTTP_E505),
	ERR("HTTP/0.9 spelled out", "GET / HTTP/0.9\r\n", HTTP_E505),
	ERR("HTTP/3.1", "GET / HTTP/3.1\r\n", HTTP_E505),
};

static size_t case_len(const struct pcase *c)
{
	return c->len ? c->len : strlen(c->req);
}

/* parse_copy() - one http_parse() call on a fresh copy of exactly @len
 * bytes, so a read past them is a heap overflow to ASan. */
static int parse_copy(struct http_request *r, const char *s, size_t len)
{
	char *b = malloc(len ? len : 1);
	int ret;

	if (!b)
		abort();
	memcpy(b, s, len);
	ret = http_parse(r, b, len);
	free(b);
	return ret;
}

/* parse_bytewise() - feed one byte more per call; the first final
 * result, or HTTP_AGAIN once all @len bytes were fed. */
static int parse_bytewise(struct http_request *r, const char *s, size_t len)
{
	size_t n;
	int ret;

	http_request_init(r);
	for (n = 0; n <= len; n++) {
		ret = parse_copy(r, s, n);
		if (ret)
			return ret;
	}
	return HTTP_AGAIN;
}

static int outcome(int ret)
{
	return ret > 0 ? DONE : ret;
}

TEST(table)
{
	struct http_request whole, bytewise;
	unsigned int i;

	for (i = 0; i < GT_ARRAY_SIZE(cases); i++) {
		const struct pcase *c = &cases[i];
		size_t len = case_len(c);
		int r1, r2;

		http_request_init(&whole);
		r1 = parse_copy(&whole, c->req, len);
		r2 = parse_bytewise(&bytewise, c->req, len);
		EXPECT_EQ(c->want, outcome(r1)) TH_LOG("case \"%s\" (at once)", c->name);
		EXPECT_EQ(r1, r2) TH_LOG("case \"%s\": byte at a time", c->name);
		/* A final result stays. */
		EXPECT_EQ(r1 ? r1 : HTTP_AGAIN, parse_copy(&whole, c->req, len));
		if (r1 <= 0 || c->want != DONE)
			continue;
		EXPECT_TRUE(http_request_same(&whole, &bytewise)) TH_LOG("case \"%s\"", c->name);
		EXPECT_EQ(c->head ? c->head : len, (size_t)r1) TH_LOG("case \"%s\"", c->name);
		EXPECT_EQ(c->body, whole.content_length) TH_LOG("case \"%s\"", c->name);
		EXPECT_EQ(c->keep_alive, whole.keep_alive) TH_LOG("case \"%s\"", c->name);
	}
}

TEST(splits)
{
	struct http_request whole, split;
	unsigned int i;
	size_t k;

	for (i = 0; i < GT_ARRAY_SIZE(cases); i++) {
		const struct pcase *c = &cases[i];
		size_t len = case_len(c);
		int r1, r2;

		http_request_init(&whole);
		r1 = parse_copy(&whole, c->req, len);
		for (k = 0; k <= len; k++) {
			http_request_init(&split);
			r2 = parse_copy(&split, c->req, k);
			if (!r2)
				r2 = parse_copy(&split, c->req, len);
			ASSERT_EQ(r1, r2) TH_LOG("case \"%s\" split at %zu", c->name, k);
			if (r1 > 0)
				ASSERT_TRUE(http_request_same(&whole, &split))
					TH_LOG("case \"%s\" split at %zu", c->name, k);
		}
	}
}

TEST(pipelined)
{
	static const char buf[] =
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
		"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
		"\r\n"	/* a stray CRLF after a body, which the parser skips */
		"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	static const struct {
		const char *target;
		uint64_t body;
		bool keep_alive;
	} want[] = { { "/a", 0, true }, { "/b", 5, true }, { "/c", 0, false } };
	struct http_request r;
	size_t off = 0, len = sizeof(buf) - 1;
	unsigned int i;
	int ret;

	for (i = 0; i < GT_ARRAY_SIZE(want); i++) {
		http_request_init(&r);
		ret = http_parse(&r, buf + off, len - off);
		ASSERT_LT(0, ret) TH_LOG("request %u", i);
		EXPECT_TRUE(http_span_eq(buf + off, r.target, want[i].target))
			TH_LOG("request %u", i);
		EXPECT_EQ(want[i].body, r.content_length);
		EXPECT_EQ(want[i].keep_alive, r.keep_alive);
		off += (size_t)ret + r.content_length;
	}
	EXPECT_EQ(len, off);
	/* Nothing left: a new request needs more. */
	http_request_init(&r);
	EXPECT_EQ(HTTP_AGAIN, http_parse(&r, buf + off, len - off));
}

TEST(fields)
{
	static const char req[] = "PATCH /x?y=1 HTTP/1.1\r\n"
				  "Host:h\r\n"
				  "X-Pad:  \t a  b \t\r\n"
				  "X-Empty:\r\n"
				  "x-case: 1\r\n"
				  "\r\n";
	struct http_request r;
	struct http_span v;

	http_request_init(&r);
	ASSERT_EQ((int)sizeof(req) - 1, http_parse(&r, req, sizeof(req) - 1));
	EXPECT_TRUE(http_span_eq(req, r.method, "PATCH"));
	EXPECT_TRUE(http_span_eq(req, r.target, "/x?y=1"));
	EXPECT_EQ(1, r.minor);
	ASSERT_EQ(4, r.nfields);
	EXPECT_TRUE(http_span_eq(req, r.fields[0].name, "Host"));
	EXPECT_TRUE(http_span_eq(req, r.fields[0].value, "h"));
	EXPECT_TRUE(http_span_eq(req, r.fields[1].value, "a  b"));
	EXPECT_EQ(0, r.fields[2].value.len);
	ASSERT_TRUE(http_field_get(&r, req, "x-case", &v));
	EXPECT_TRUE(http_span_eq(req, v, "1"));
	ASSERT_TRUE(http_field_get(&r, req, "x-pad", &v));
	EXPECT_TRUE(http_span_eq(req, v, "a  b"));
	EXPECT_FALSE(http_field_get(&r, req, "x-none", &v));
}

/* build_fields() - a 1.1 head with @n fields "X-i: i" after Host. */
static size_t build_fields(char *buf, size_t size, int n)
{
	size_t o = (size_t)snprintf(buf, size, "GET / HTTP/1.1\r\n");
	int i;

	o += (size_t)snprintf(buf + o, size - o, "Host: h\r\n");
	for (i = 1; i < n; i++)
		o += (size_t)snprintf(buf + o, size - o, "X-%d: %d\r\n", i, i);
	o += (size_t)snprintf(buf + o, size - o, "\r\n");
	return o;
}

TEST(field_limit)
{
	struct http_request r;
	char buf[4096];
	size_t len;

	len = build_fields(buf, sizeof(buf), HTTP_MAX_FIELDS);
	http_request_init(&r);
	EXPECT_EQ((int)len, http_parse(&r, buf, len));
	EXPECT_EQ(HTTP_MAX_FIELDS, r.nfields);
	EXPECT_EQ((int)len, parse_bytewise(&r, buf, len));

	len = build_fields(buf, sizeof(buf), HTTP_MAX_FIELDS + 1);
	http_request_init(&r);
	EXPECT_EQ(HTTP_E431, http_parse(&r, buf, len));
	EXPECT_EQ(HTTP_E431, parse_bytewise(&r, buf, len));
}

/* build_head() - a complete 1.1 head of exactly @len bytes, padded with
 * one long field value; @len >= 64. */
static void build_head(char *buf, size_t len)
{
	static const char pre[] = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ";
	size_t n = sizeof(pre) - 1;

	memcpy(buf, pre, n);
	memset(buf + n, 'p', len - n - 4);
	memcpy(buf + len - 4, "\r\n\r\n", 4);
}

TEST(head_limit)
{
	static char buf[2 * HTTP_MAX_HEAD];
	struct http_request r;
	size_t i;

	build_head(buf, HTTP_MAX_HEAD);
	http_request_init(&r);
	EXPECT_EQ(HTTP_MAX_HEAD, http_parse(&r, buf, HTTP_MAX_HEAD));
	EXPECT_EQ(HTTP_MAX_HEAD, parse_bytewise(&r, buf, HTTP_MAX_HEAD));

	build_head(buf, HTTP_MAX_HEAD + 1);
	http_request_init(&r);
	EXPECT_EQ(HTTP_E431, http_parse(&r, buf, HTTP_MAX_HEAD + 1));
	EXPECT_EQ(HTTP_E431, parse_bytewise(&r, buf, HTTP_MAX_HEAD + 1));
	/* The limit is reached before the end is seen: 431 already. */
	http_request_init(&r);
	EXPECT_EQ(HTTP_AGAIN, http_parse(&r, buf, HTTP_MAX_HEAD - 1));
	EXPECT_EQ(HTTP_E431, http_parse(&r, buf, HTTP_MAX_HEAD));

	/* A request-target across the limit. */
	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'a', sizeof(buf) - 5);
	http_request_init(&r);
	EXPECT_EQ(HTTP_E414, http_parse(&r, buf, sizeof(buf)));

	/* Empty lines count too: a client cannot send them forever. */
	for (i = 0; i < sizeof(buf); i += 2)
		memcpy(buf + i, "\r\n", 2);
	http_request_init(&r);
	EXPECT_EQ(HTTP_E431, http_parse(&r, buf, sizeof(buf)));
}

struct tcase {
	const char *target;
	size_t skip;
	int want;		/* length, or HTTP_E* */
	const char *path;	/* want >= 0 */
};

#define PATH(t, s, w, p)	{ t, s, w, p }
#define NOPATH(t, s, e)		{ t, s, e, NULL }

static const struct tcase tcases[] = {
	PATH("/static/a.txt", 8, 5, "a.txt"),
	PATH("/static/sub/b.html?x=../..", 8, 10, "sub/b.html"),
	PATH("/static/%41%62c", 8, 3, "Abc"),
	PATH("/static/a%20b", 8, 3, "a b"),
	PATH("/static/...", 8, 3, "..."),
	PATH("/static/.hidden", 8, 7, ".hidden"),
	PATH("/static/dir/", 8, 4, "dir/"),
	PATH("/static/", 8, 0, ""),
	PATH("/a/b", 0, 3, "a/b"),
	PATH("/", 0, 0, ""),
	NOPATH("/static/../etc/passwd", 8, HTTP_E400),
	NOPATH("/static/a/../../x", 8, HTTP_E400),
	NOPATH("/static/..", 8, HTTP_E400),
	NOPATH("/static/.", 8, HTTP_E400),
	NOPATH("/static/a/./b", 8, HTTP_E400),
	NOPATH("/static/%2e%2e/x", 8, HTTP_E400),
	NOPATH("/static/%2E%2e", 8, HTTP_E400),
	NOPATH("/static/.%2e/x", 8, HTTP_E400),
	NOPATH("/static//etc/passwd", 8, HTTP_E400),
	NOPATH("/static/a//b", 8, HTTP_E400),
	NOPATH("/static/%2fetc/passwd", 8, HTTP_E400),
	NOPATH("/static/..%2f..%2fetc", 8, HTTP_E400),
	NOPATH("/static/a%00.txt", 8, HTTP_E400),
	NOPATH("/static/a%zz", 8, HTTP_E400),
	NOPATH("/static/a%2", 8, HTTP_E400),
	NOPATH("/static/a%", 8, HTTP_E400),
	NOPATH("static/a", 7, HTTP_E400),
	NOPATH("/staticx", 7, HTTP_E400),
	NOPATH("//etc/passwd", 0, HTTP_E400),
};

TEST(target_path)
{
	char out[64], tiny[4];
	unsigned int i;

	for (i = 0; i < GT_ARRAY_SIZE(tcases); i++) {
		const struct tcase *c = &tcases[i];
		int ret = http_target_path(c->target, strlen(c->target), c->skip, out, sizeof(out));

		EXPECT_EQ(c->want, ret) TH_LOG("target \"%s\"", c->target);
		if (c->want >= 0 && ret == c->want)
			EXPECT_STREQ(c->path, out) TH_LOG("target \"%s\"", c->target);
	}
	EXPECT_EQ(HTTP_E414, http_target_path("/abcd", 5, 0, tiny, sizeof(tiny)));
	EXPECT_EQ(3, http_target_path("/abc", 4, 0, tiny, sizeof(tiny)));
}

TEST_HARNESS_MAIN
