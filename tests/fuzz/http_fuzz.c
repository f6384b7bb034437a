/* SPDX-License-Identifier: MIT */
/*
 * Description: a libFuzzer target for the samples' HTTP/1.1 request
 * parser (samples/http.h).  It needs no runtime: the parser is plain C.
 *
 * Each input is parsed twice over: as raw bytes, and expanded, each byte
 * >= 0xc0 standing for a fragment of HTTP ("GET ", " HTTP/1.1\r\n",
 * "Content-Length: ", "%2e%2e/", ...; 0xff for 2 KiB of 'a', to reach
 * HTTP_MAX_HEAD), so that complete, pipelined and nearly-valid heads come
 * up in the first seconds, not hours.  For each
 * of the two buffers:
 *
 *   whole	one http_parse() call; the result's invariants: a head is
 *		at most the input and HTTP_MAX_HEAD, ends in CRLF CRLF, has
 *		at most HTTP_MAX_FIELDS fields, every span lies inside it
 *		and holds what the grammar allows (tokens, VCHARs, values
 *		without OWS at either end), Content-Length <= INT64_MAX;
 *		"need more" only below HTTP_MAX_HEAD bytes; errors are one
 *		of 400, 414, 431, 501, 505; a final result stays final.
 *   split	the same bytes fed in pieces cut at pseudo-random points
 *		(derived from the input, so a crash reproduces), each call
 *		on a fresh heap copy of exactly the bytes so far (ASan sees
 *		a read past them, and a parser that kept a pointer into
 *		an earlier buffer reads freed memory): the same result,
 *		field for field, and "need more" until then.
 *   bytes	for inputs up to 512 bytes, one byte more per call.
 *   pipeline	as the server does: after a complete head skip its body
 *		and parse the next request from there, up to 64.
 *   path	http_target_path() on each complete head's target (and on
 *		the raw input as a target): the result never starts with
 *		'/', has no "." or ".." segment, no empty segment and no
 *		NUL, and its length is the return value.
 *
 * Any violation aborts, and libFuzzer keeps the input.
 *
 * Built two ways.  With -DGORT_LIBFUZZER (make fuzz: clang
 * -fsanitize=fuzzer,address,undefined) it is a libFuzzer target.  Without
 * it, a kselftest program that runs random inputs for 1.5 s.
 */
#ifndef GORT_LIBFUZZER
#include "../gort_test.h"
#endif

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../samples/http.h"

#define FZ_EXPAND_MAX	(4 * HTTP_MAX_HEAD)	/* expanded input, bytes */
#define FZ_BYTEWISE_MAX	512			/* byte-at-a-time up to this */
#define FZ_PIPELINE_MAX	64			/* requests per buffer */

static const char *const fz_frags[] = {
	"GET ", "HEAD ", "POST ", "OPTIONS ", " HTTP/1.1\r\n", " HTTP/1.0\r\n",
	" HTTP/2.0\r\n", " HTTP/1.", "\r\n", "\r\n\r\n", "Host: h\r\n", "Content-Length: ",
	"Content-Length: 5\r\n", "Content-Length: 6\r\n", "Transfer-Encoding: chunked\r\n",
	"Connection: close\r\n",
	"Connection: keep-alive\r\n", "Expect: 100-continue\r\n", "/", "/static/",
	"%2e%2e/", "%2f", "%00", "../", "./", "//", "?q=..", "9223372036854775807",
	"9223372036854775808", "18446744073709551616", " ", "\t", ":", ", ", "\r", "\n",
	"GET / HTTP/1.1\r\nHost: h\r\n\r\n", "GET /static/a.txt HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc", "X-A: b\r\n",
	"X-Fold: a\r\n b\r\n", "http://h", "*", "\x80\xff", "0", "00", "close",
	"keep-alive", "hello", "Connection: x , \tclose ,, keep-alive\t\r\n",
};

/* Byte 0xff: FZ_PAD_LEN bytes of a field value, to reach the limits. */
#define FZ_PAD		0xff
#define FZ_PAD_LEN	2048
_Static_assert(sizeof(fz_frags) / sizeof(fz_frags[0]) <= FZ_PAD - 0xc0, "fragments overlap FZ_PAD");

static const char *fz_what;	/* "raw" or "expanded", for messages */

static void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fz_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "http_fuzz (%s input): ", fz_what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static uint64_t fz_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* fz_copy_parse() - http_parse() over a heap copy of exactly @n bytes. */
static int fz_copy_parse(struct http_request *r, const uint8_t *d, size_t n)
{
	char *b = malloc(n ? n : 1);
	int ret;

	if (!b)
		abort();
	memcpy(b, d, n);
	ret = http_parse(r, b, n);
	free(b);
	return ret;
}

static void fz_check_span(struct http_span s, int head, const char *what)
{
	if ((int)s.off + s.len > head)
		fz_fail("%s [%u, +%u) outside the head of %d bytes", what, s.off, s.len, head);
}

/* fz_check_head() - the invariants of one result of http_parse() over
 * @n bytes at @d. */
static void fz_check_head(const uint8_t *d, size_t n, const struct http_request *r, int ret)
{
	unsigned int i, k;

	if (ret == HTTP_AGAIN) {
		if (n >= HTTP_MAX_HEAD)
			fz_fail("need more with %zu bytes", n);
		return;
	}
	if (ret < 0) {
		if (ret != HTTP_E400 && ret != HTTP_E414 && ret != HTTP_E431 &&
		    ret != HTTP_E501 && ret != HTTP_E505)
			fz_fail("error %d", ret);
		return;
	}
	if ((size_t)ret > n || ret > HTTP_MAX_HEAD || r->head_len != ret)
		fz_fail("head of %d bytes (head_len %u) from %zu", ret, r->head_len, n);
	if (ret < 4 || memcmp(d + ret - 4, "\r\n\r\n", 4))
		fz_fail("head does not end in CRLF CRLF");
	if (r->nfields > HTTP_MAX_FIELDS)
		fz_fail("%u fields", r->nfields);
	if (r->minor > 1 || r->content_length > INT64_MAX)
		fz_fail("minor %u, content_length %llu", r->minor,
			(unsigned long long)r->content_length);
	fz_check_span(r->method, ret, "method");
	fz_check_span(r->target, ret, "target");
	if (!r->method.len || !r->target.len)
		fz_fail("empty method or target");
	for (k = 0; k < r->method.len; k++)
		if (!http_tchar(d[r->method.off + k]))
			fz_fail("method byte 0x%02x", d[r->method.off + k]);
	for (k = 0; k < r->target.len; k++)
		if (!http_vchar(d[r->target.off + k]))
			fz_fail("target byte 0x%02x", d[r->target.off + k]);
	for (i = 0; i < r->nfields; i++) {
		const struct http_field *f = &r->fields[i];

		fz_check_span(f->name, ret, "name");
		fz_check_span(f->value, ret, "value");
		if (!f->name.len)
			fz_fail("field %u: empty name", i);
		for (k = 0; k < f->name.len; k++)
			if (!http_tchar(d[f->name.off + k]))
				fz_fail("field %u: name byte 0x%02x", i, d[f->name.off + k]);
		for (k = 0; k < f->value.len; k++) {
			uint8_t c = d[f->value.off + k];

			if (!http_fvchar(c) && !http_ows(c))
				fz_fail("field %u: value byte 0x%02x", i, c);
		}
		if (f->value.len && (http_ows(d[f->value.off]) ||
				     http_ows(d[f->value.off + f->value.len - 1])))
			fz_fail("field %u: value not trimmed", i);
	}
}

/* fz_path() - http_target_path() of @t and the invariants of its result. */
static void fz_path(const char *t, size_t n, size_t skip)
{
	char out[256];
	int ret = http_target_path(t, n, skip, out, sizeof(out));
	size_t i, seg = 0;

	if (ret < 0) {
		if (ret != HTTP_E400 && ret != HTTP_E414)
			fz_fail("http_target_path: error %d", ret);
		return;
	}
	if ((size_t)ret >= sizeof(out) || strlen(out) != (size_t)ret)
		fz_fail("http_target_path: %d, strlen %zu", ret, strlen(out));
	if (out[0] == '/')
		fz_fail("http_target_path: absolute \"%s\"", out);
	for (i = 0; i <= (size_t)ret; i++) {
		if (out[i] != '/' && out[i] != '\0')
			continue;
		/* the segment [seg, i); empty only as the last one */
		if ((i == seg && out[i] == '/') ||
		    (i - seg == 1 && out[seg] == '.') ||
		    (i - seg == 2 && out[seg] == '.' && out[seg + 1] == '.'))
			fz_fail("http_target_path: bad segment in \"%s\"", out);
		seg = i + 1;
	}
}

/*
 * fz_request() - one request at @d (@n bytes, maybe more requests after
 * it): whole, split and byte at a time.  Return: http_parse()'s result
 * over all @n bytes, with @whole filled.
 */
static int fz_request(const uint8_t *d, size_t n, struct http_request *whole)
{
	struct http_request r;
	uint64_t s = 0x9e3779b97f4a7c15ULL;
	size_t i, at;
	int ret, got;

	for (i = 0; i < n && i < 64; i++)	/* seed the cuts from the input */
		s = (s ^ d[i]) * 0x100000001b3ULL;
	s |= 1;

	http_request_init(whole);
	ret = http_parse(whole, (const char *)d, n);
	fz_check_head(d, n, whole, ret);
	if (http_parse(whole, (const char *)d, n) != ret)
		fz_fail("a second call changed the result");

	/* Pieces: 1 to 8 cuts, then the rest. */
	http_request_init(&r);
	for (at = 0, got = 0; !got && at < n;) {
		size_t left = n - at, most = (fz_rand(&s) & 1) ? 64 : left;

		at += 1 + fz_rand(&s) % (most < left ? most : left);
		got = fz_copy_parse(&r, d, at);
		fz_check_head(d, at, &r, got);
		if (got && got != ret)
			fz_fail("split at %zu: %d, at once %d", at, got, ret);
	}
	if (!got && ret)
		fz_fail("split: need more, at once %d", ret);
	if (ret > 0 && !http_request_same(whole, &r))
		fz_fail("split: a different head");

	if (n <= FZ_BYTEWISE_MAX) {
		http_request_init(&r);
		for (at = 0, got = 0; !got && at <= n; at++)
			got = fz_copy_parse(&r, d, at);
		if (got != ret)
			fz_fail("byte at a time: %d, at once %d", got, ret);
		if (ret > 0 && !http_request_same(whole, &r))
			fz_fail("byte at a time: a different head");
	}
	return ret;
}

/* fz_buffer() - every request in @d, one after the other. */
static void fz_buffer(const uint8_t *d, size_t n)
{
	struct http_request r;
	size_t off = 0;
	int i, ret;

	if (n && d[0] == '/')
		fz_path((const char *)d, n, 0);
	for (i = 0; i < FZ_PIPELINE_MAX && off < n; i++) {
		const char *t;

		ret = fz_request(d + off, n - off, &r);
		if (ret <= 0)
			break;
		t = (const char *)d + off + r.target.off;
		if (t[0] == '/')
			fz_path(t, r.target.len, 0);
		if (r.target.len >= 8 && !memcmp(t, "/static/", 8))
			fz_path(t, r.target.len, 8);
		off += (size_t)ret;
		if (r.content_length >= n - off)
			break;
		off += r.content_length;
	}
}

/* fz_expand() - each byte >= 0xc0 becomes a fragment (if there is one). */
static size_t fz_expand(const uint8_t *d, size_t n, uint8_t *out, size_t size)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		const char *f = NULL;
		size_t fl = 1;

		if (d[i] == FZ_PAD) {
			if (o + FZ_PAD_LEN > size)
				break;
			memset(out + o, 'a', FZ_PAD_LEN);
			o += FZ_PAD_LEN;
			continue;
		}
		if (d[i] >= 0xc0 && d[i] - 0xc0u < sizeof(fz_frags) / sizeof(fz_frags[0])) {
			f = fz_frags[d[i] - 0xc0];
			fl = strlen(f);
		}
		if (o + fl > size)
			break;
		if (f)
			memcpy(out + o, f, fl);
		else
			out[o] = d[i];
		o += fl;
	}
	return o;
}

static int fz_one(const uint8_t *data, size_t size)
{
	static uint8_t exp[FZ_EXPAND_MAX];
	uint8_t *copy;
	size_t n;

	fz_what = "raw";
	fz_buffer(data, size);

	n = fz_expand(data, size, exp, sizeof(exp));
	copy = malloc(n ? n : 1);	/* exactly sized, for ASan */
	if (!copy)
		abort();
	memcpy(copy, exp, n);
	fz_what = "expanded";
	fz_buffer(copy, n);
	free(copy);
	return 0;
}

#ifdef GORT_LIBFUZZER

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_one(data, size);
}

#else /* a kselftest program: random inputs */

#define RUN_NS		(1500 * GT_MS)	/* random inputs for 1.5 s */

TEST(random_inputs)
{
	uint64_t s = (uint64_t)gt_now_ns() | 1, seed = s;
	int64_t end = gt_now_ns() + RUN_NS;
	uint8_t buf[1024];
	int n;

	printf("# seed %llu\n", (unsigned long long)seed);
	fflush(stdout);
	for (n = 0; gt_now_ns() < end; n++) {
		size_t len = fz_rand(&s) % sizeof(buf), i;

		/* Mostly fragments, some raw bytes. */
		for (i = 0; i < len; i++) {
			uint64_t r = fz_rand(&s);

			buf[i] = (r >> 8) % 8 ? (uint8_t)(0xc0 + r % 64) : (uint8_t)r;
		}
		fz_one(buf, len);
	}
	printf("# %d random inputs\n", n);
}

TEST_HARNESS_MAIN

#endif
