/* SPDX-License-Identifier: MIT */
/*
 * http.h - an HTTP/1.1 request-head parser for the samples: header only,
 * no allocation, incremental, strict.
 *
 * The parser is a byte-at-a-time state machine over the request's first
 * bytes.  The caller keeps the bytes received so far in one buffer that
 * starts at the request's first byte and calls http_parse() each time more
 * arrive; the struct http_request remembers where it stopped, so every
 * byte is looked at once however the input is split.  Results are offsets
 * into that buffer (struct http_span), not pointers: the caller may move
 * the bytes between calls (compact its buffer) as long as it keeps them.
 *
 *	0 (HTTP_AGAIN)	the head is not complete: call again with more
 *	> 0		the head is complete and is that many bytes; the body,
 *			r->content_length bytes, follows it
 *	< 0		-status: the request is bad, answer with that status
 *			and close (the byte stream cannot be resynchronised)
 *
 * Invariants, the ones tests/fuzz/http_fuzz.c checks:
 *  - a decision depends only on the bytes before it: once a call returns
 *    non-zero, every later call returns the same, and the result is the
 *    one a single call with the whole input would give;
 *  - no byte at or past @len (nor past HTTP_MAX_HEAD) is ever read;
 *  - a head is at most HTTP_MAX_HEAD bytes and has at most
 *    HTTP_MAX_FIELDS field lines, else -431 (-414 if the limit is hit in
 *    the request-target): a client cannot make the server buffer more.
 *    "Need more" is never returned once HTTP_MAX_HEAD bytes are there.
 *
 * The grammar accepted, a strict subset of RFC 9112 (section numbers):
 *
 *	request     = *( CRLF ) request-line *( field-line CRLF ) CRLF
 *				(2.2: empty lines before the request line
 *				are skipped, as the RFC advises: some clients
 *				send one after a body)
 *	request-line = method SP request-target SP HTTP-version CRLF   (3)
 *	method      = token
 *	request-target = 1*( %x21-7E )	(3.2: any form; the server tells
 *				origin-, absolute-, authority- and
 *				asterisk-form apart)
 *	HTTP-version = "HTTP/" DIGIT "." DIGIT	(2.3, case-sensitive)
 *	field-line  = field-name ":" OWS field-value OWS	(5)
 *	field-name  = token
 *	field-value = *( field-vchar / SP / HTAB ), trimmed of OWS
 *	field-vchar = %x21-7E / %x80-FF		(obs-text allowed, as 5.5)
 *	token       = 1*tchar
 *	tchar       = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" /
 *		      "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
 *	OWS         = *( SP / HTAB )
 *	CRLF        = %x0D %x0A
 *
 * and rejects with 400 what a lenient parser might take, because every
 * leniency is a request-smuggling vector when a proxy parses differently:
 *  - a bare LF or bare CR as a line end (2.2 allows LF; we do not);
 *  - more than one SP between the request line's parts, whitespace before
 *    the request line's end or between a field name and its colon (5.1);
 *  - obs-fold, a field line starting with SP or HTAB (5.2), and
 *    whitespace-led lines after the request line (2.2);
 *  - NUL, other controls and DEL anywhere, bytes >= 0x80 outside values;
 *  - HTTP/0.9 (a request line without a version).
 *
 * Versions: HTTP/1.0 and HTTP/1.1; HTTP/1.x with x > 1 is read as 1.1
 * (RFC 9110 2.5); any other major version gets 505.
 *
 * Semantics of the fields this parser looks at (names case-insensitive):
 *  - Content-Length (RFC 9112 6.3, RFC 9110 8.6): 1*DIGIT, at most
 *    INT64_MAX; repeated with the same value it is accepted, with another
 *    value (or as a list "1, 1", or empty) it is a 400.
 *  - Transfer-Encoding: the parser decodes no transfer coding, so any
 *    Transfer-Encoding is 501 Not Implemented (RFC 9112 6.1: "a server
 *    that receives a request message with a transfer coding it does not
 *    understand SHOULD respond with 501"), in an HTTP/1.0 request a 400.
 *    A chunked body cannot be framed, so the connection must close: no
 *    smuggling through Transfer-Encoding + Content-Length either.
 *  - Connection: a list of tokens; "close" ends the connection after the
 *    response, "keep-alive" keeps an HTTP/1.0 one (whose default is to
 *    close: RFC 9112 9.3); "close" wins over "keep-alive".
 *  - Host: an HTTP/1.1 request needs exactly one, any request at most
 *    one (RFC 9112 3.2), else 400.
 *  - Expect: 100-continue sets expect_continue (the server that answers
 *    before reading the body must then close, the client may not send it).
 *
 * Rejected alternatives: a two-pass parser (find CRLFCRLF, then parse)
 * cannot reject garbage before 8 KiB of it has arrived; re-parsing from
 * the start on every read is quadratic against a client that sends a
 * byte at a time; pointers in the results would forbid compaction.
 */
#ifndef GORT_SAMPLES_HTTP_H
#define GORT_SAMPLES_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HTTP_MAX_HEAD		8192	/* bytes: request line, fields, CRLF */
#define HTTP_MAX_FIELDS		64	/* field lines */

#define HTTP_AGAIN		0
/* Errors: -(the status to answer with). */
#define HTTP_E400		(-400)	/* Bad Request */
#define HTTP_E414		(-414)	/* URI Too Long */
#define HTTP_E431		(-431)	/* Request Header Fields Too Large */
#define HTTP_E501		(-501)	/* Not Implemented (Transfer-Encoding) */
#define HTTP_E505		(-505)	/* HTTP Version Not Supported */

/* Offsets fit: a head is at most HTTP_MAX_HEAD bytes. */
_Static_assert(HTTP_MAX_HEAD <= UINT16_MAX, "http_span offsets are 16 bits");

/* struct http_span - bytes [off, off + len) of the request buffer. */
struct http_span {
	uint16_t off, len;
};

/* struct http_field - one field line; the value is trimmed of OWS. */
struct http_field {
	struct http_span name, value;
};

/*
 * struct http_request - a request head, parsed and being parsed.
 * http_request_init() it, then http_parse() until it returns non-zero.
 * The result fields are valid once http_parse() returned > 0.
 */
struct http_request {
	/* Results. */
	struct http_span method, target;
	uint8_t minor;			/* HTTP/1.<minor>: 0 or 1 */
	bool keep_alive;		/* the connection may carry another request */
	bool expect_continue;		/* Expect: 100-continue */
	uint16_t head_len;		/* bytes, = http_parse()'s return */
	uint16_t nfields;		/* <= HTTP_MAX_FIELDS */
	uint64_t content_length;	/* body bytes, 0 without Content-Length */
	struct http_field fields[HTTP_MAX_FIELDS];

	/*
	 * Parser state.  pos <= HTTP_MAX_HEAD: bytes [0, pos) are parsed,
	 * in enum http_state @state; tok is where the HTTP-version starts;
	 * vend is the end of the field value so far without trailing OWS;
	 * flags are enum http_flags; nhost counts Host fields (up to 2);
	 * err is the result once state is HS_ERROR.  Field nfields is
	 * filled while its line is parsed, and counted at its CR.
	 */
	uint16_t pos, tok, vend;
	uint8_t state, flags;
	uint8_t nhost;
	int err;
};

enum http_state {
	HS_START,	/* before the method, skipping empty lines */
	HS_START_LF,	/* CR of an empty line seen */
	HS_METHOD,
	HS_TARGET,
	HS_VERSION,
	HS_LINE_LF,	/* CR after the version seen */
	HS_FIELD,	/* at the start of a field line or of the final CRLF */
	HS_NAME,
	HS_OWS,		/* after the colon */
	HS_VALUE,
	HS_FIELD_LF,	/* CR after a field value seen */
	HS_END_LF,	/* CR of the empty line seen */
	HS_DONE,
	HS_ERROR,
};

enum http_flags {
	HF_CL = 1 << 0,		/* Content-Length seen */
	HF_TE = 1 << 1,		/* Transfer-Encoding seen */
	HF_CLOSE = 1 << 2,	/* Connection: close */
	HF_KEEP = 1 << 3,	/* Connection: keep-alive */
};

/* tchar (RFC 9110 5.6.2), one bit per byte value. */
static const uint32_t http_tchar_map[8] = {
	0x00000000, 0x03ff6cfa, 0xc7fffffe, 0x57ffffff, 0, 0, 0, 0,
};

static inline bool http_tchar(unsigned char c)
{
	return http_tchar_map[c >> 5] >> (c & 31) & 1;
}

/* VCHAR: visible US-ASCII, what a request-target is made of. */
static inline bool http_vchar(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e;
}

/* field-vchar: VCHAR or obs-text. */
static inline bool http_fvchar(unsigned char c)
{
	return c >= 0x21 && c != 0x7f;
}

static inline bool http_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static inline void http_request_init(struct http_request *r)
{
	memset(r, 0, sizeof(*r));
}

/* http_lower() - ASCII tolower, locale-free. */
static inline unsigned char http_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* http_ieq() - do @n bytes at @s equal lower-case @lit, ignoring case? */
static inline bool http_ieq(const char *s, size_t n, const char *lit)
{
	size_t i;

	if (n != strlen(lit))
		return false;
	for (i = 0; i < n; i++)
		if (http_lower((unsigned char)s[i]) != (unsigned char)lit[i])
			return false;
	return true;
}

/* http_span_ieq() - does span @s of @buf equal lower-case @lit, any case? */
static inline bool http_span_ieq(const char *buf, struct http_span s, const char *lit)
{
	return http_ieq(buf + s.off, s.len, lit);
}

/* http_span_eq() - does span @s of @buf equal @lit exactly? */
static inline bool http_span_eq(const char *buf, struct http_span s, const char *lit)
{
	return s.len == strlen(lit) && !memcmp(buf + s.off, lit, s.len);
}

/**
 * http_field_get() - the value of the first field named @name (lower case)
 * Return: true with *@value set, false if the request has no such field.
 */
static inline bool http_field_get(const struct http_request *r, const char *buf,
				  const char *name, struct http_span *value)
{
	unsigned int i;

	for (i = 0; i < r->nfields; i++) {
		if (http_span_ieq(buf, r->fields[i].name, name)) {
			*value = r->fields[i].value;
			return true;
		}
	}
	return false;
}

static inline int http_fail(struct http_request *r, int err)
{
	r->state = HS_ERROR;
	r->err = err;
	return err;
}

/*
 * Content-Length = 1*DIGIT, <= INT64_MAX (so it fits an off_t).  Digits
 * only: no sign, no OWS inside (the value is trimmed already), no list.
 */
static inline int http_content_length(struct http_request *r, const char *v, size_t n)
{
	uint64_t x = 0;
	size_t i;

	if (!n)
		return HTTP_E400;
	for (i = 0; i < n; i++) {
		unsigned int d = (unsigned char)v[i] - '0';

		if (d > 9 || x > ((uint64_t)INT64_MAX - d) / 10)
			return HTTP_E400;
		x = x * 10 + d;
	}
	if ((r->flags & HF_CL) && x != r->content_length)
		return HTTP_E400;	/* conflicting lengths: smuggling */
	r->flags |= HF_CL;
	r->content_length = x;
	return 0;
}

/* Connection = #connection-option: a comma list of tokens, OWS around. */
static inline void http_connection(struct http_request *r, const char *v, size_t n)
{
	size_t i = 0, s, e;

	while (i < n) {
		while (i < n && (http_ows(v[i]) || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && http_ows(v[e - 1]))
			e--;
		if (http_ieq(v + s, e - s, "close"))
			r->flags |= HF_CLOSE;
		else if (http_ieq(v + s, e - s, "keep-alive"))
			r->flags |= HF_KEEP;
	}
}

/* http_field_end() - a field line is complete: look at its meaning. */
static inline int http_field_end(struct http_request *r, const char *buf)
{
	const struct http_field *f = &r->fields[r->nfields++];
	const char *v = buf + f->value.off;

	switch (f->name.len) {
	case 4:
		if (http_span_ieq(buf, f->name, "host") && r->nhost < 2)
			r->nhost++;
		break;
	case 6:
		if (http_span_ieq(buf, f->name, "expect") &&
		    http_ieq(v, f->value.len, "100-continue"))
			r->expect_continue = true;
		break;
	case 10:
		if (http_span_ieq(buf, f->name, "connection"))
			http_connection(r, v, f->value.len);
		break;
	case 14:
		if (http_span_ieq(buf, f->name, "content-length"))
			return http_content_length(r, v, f->value.len);
		break;
	case 17:
		if (http_span_ieq(buf, f->name, "transfer-encoding"))
			r->flags |= HF_TE;
		break;
	}
	return 0;
}

/*
 * http_value_end() - the CR after a field value is at @cr: set the
 * value's span (empty if no byte but OWS came) and look at the field.
 */
static inline int http_value_end(struct http_request *r, const char *buf, size_t cr)
{
	struct http_field *f = &r->fields[r->nfields];

	if (r->state == HS_OWS) {
		f->value.off = (uint16_t)cr;
		f->value.len = 0;
	} else {
		f->value.len = (uint16_t)(r->vend - f->value.off);
	}
	return http_field_end(r, buf);
}

/* http_head_end() - the empty line is in: the checks across fields. */
static inline int http_head_end(struct http_request *r, size_t len)
{
	if (r->flags & HF_TE)
		return r->minor ? HTTP_E501 : HTTP_E400;
	if (r->nhost > 1 || (r->minor && r->nhost != 1))
		return HTTP_E400;
	if (r->minor)
		r->keep_alive = !(r->flags & HF_CLOSE);
	else
		r->keep_alive = (r->flags & HF_KEEP) && !(r->flags & HF_CLOSE);
	r->head_len = (uint16_t)len;
	r->state = HS_DONE;
	return (int)len;
}

/*
 * http_version() - the HTTP-version token, @tok its first byte, is
 * complete (its CR is next).  Return: 0, -400 or -505.
 */
static inline int http_version(struct http_request *r, const unsigned char *p, size_t end)
{
	const unsigned char *v = p + r->tok;

	if (end - r->tok != 8 || memcmp(v, "HTTP/", 5) || v[6] != '.' ||
	    v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
		return HTTP_E400;
	if (v[5] != '1')
		return HTTP_E505;
	r->minor = v[7] > '0';	/* 1.x, x > 1, is 1.1 */
	return 0;
}

/* http_request_same() - do two complete parses of one head agree (fields
 * are spans, so the same offsets)?  The incremental-parsing tests' oracle. */
static inline bool http_request_same(const struct http_request *a, const struct http_request *b)
{
	unsigned int i;

	if (a->head_len != b->head_len || a->minor != b->minor ||
	    a->keep_alive != b->keep_alive || a->expect_continue != b->expect_continue ||
	    a->content_length != b->content_length || a->nfields != b->nfields ||
	    memcmp(&a->method, &b->method, sizeof(a->method)) ||
	    memcmp(&a->target, &b->target, sizeof(a->target)))
		return false;
	for (i = 0; i < a->nfields; i++)
		if (memcmp(&a->fields[i], &b->fields[i], sizeof(a->fields[i])))
			return false;
	return true;
}

/**
 * http_parse() - parse (more of) a request head
 * @r: state, from http_request_init() and earlier calls for this request
 * @buf: the request's bytes received so far, from its first byte: the
 *	bytes of earlier calls, unchanged (they may have moved), then more
 * @len: bytes at @buf (may include the body and later requests)
 *
 * Return: HTTP_AGAIN (0), the head's length (> 0), or -status (400, 414,
 * 431, 501, 505).  A non-zero result is final: later calls return it.
 */
static inline int http_parse(struct http_request *r, const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf;
	size_t end = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
	size_t i;
	int err;

	if (r->state == HS_DONE)
		return r->head_len;
	if (r->state == HS_ERROR)
		return r->err;
	for (i = r->pos; i < end; i++) {
		unsigned char c = p[i];

		switch (r->state) {
		case HS_START:
			if (c == '\r') {
				r->state = HS_START_LF;
			} else if (http_tchar(c)) {
				r->method.off = (uint16_t)i;
				r->state = HS_METHOD;
			} else {
				return http_fail(r, HTTP_E400);
			}
			break;
		case HS_START_LF:
			if (c != '\n')
				return http_fail(r, HTTP_E400);
			r->state = HS_START;
			break;
		case HS_METHOD:
			if (c == ' ') {
				r->method.len = (uint16_t)(i - r->method.off);
				r->target.off = (uint16_t)(i + 1);
				r->state = HS_TARGET;
			} else if (!http_tchar(c)) {
				return http_fail(r, HTTP_E400);
			}
			break;
		case HS_TARGET:
			/* The hot loops: no state switch per byte. */
			while (http_vchar(c)) {
				if (++i == end)
					goto again;
				c = p[i];
			}
			if (c != ' ' || i == r->target.off)
				return http_fail(r, HTTP_E400);
			r->target.len = (uint16_t)(i - r->target.off);
			r->tok = (uint16_t)(i + 1);
			r->state = HS_VERSION;
			break;
		case HS_VERSION:
			if (c == '\r') {
				err = http_version(r, p, i);
				if (err)
					return http_fail(r, err);
				r->state = HS_LINE_LF;
			} else if (i - r->tok >= 8 || !http_vchar(c)) {
				return http_fail(r, HTTP_E400);
			}
			break;
		case HS_LINE_LF:
		case HS_FIELD_LF:
			if (c != '\n')
				return http_fail(r, HTTP_E400);
			r->state = HS_FIELD;
			break;
		case HS_FIELD:
			if (c == '\r') {
				r->state = HS_END_LF;
			} else if (http_tchar(c)) {
				if (r->nfields == HTTP_MAX_FIELDS)
					return http_fail(r, HTTP_E431);
				r->fields[r->nfields].name.off = (uint16_t)i;
				r->state = HS_NAME;
			} else {
				/* obs-fold, whitespace-led lines, garbage */
				return http_fail(r, HTTP_E400);
			}
			break;
		case HS_NAME:
			if (c == ':') {
				struct http_field *f = &r->fields[r->nfields];

				f->name.len = (uint16_t)(i - f->name.off);
				f->value.off = (uint16_t)(i + 1);
				r->vend = (uint16_t)(i + 1);
				r->state = HS_OWS;
			} else if (!http_tchar(c)) {
				return http_fail(r, HTTP_E400);
			}
			break;
		case HS_OWS:
		case HS_VALUE:
			while (http_fvchar(c) || http_ows(c)) {
				if (!http_ows(c)) {
					if (r->state == HS_OWS) {
						r->fields[r->nfields].value.off = (uint16_t)i;
						r->state = HS_VALUE;
					}
					r->vend = (uint16_t)(i + 1);
				}
				if (++i == end)
					goto again;
				c = p[i];
			}
			if (c != '\r')
				return http_fail(r, HTTP_E400);
			err = http_value_end(r, buf, i);
			if (err)
				return http_fail(r, err);
			r->state = HS_FIELD_LF;
			break;
		case HS_END_LF:
			if (c != '\n')
				return http_fail(r, HTTP_E400);
			err = http_head_end(r, i + 1);
			if (err < 0)
				return http_fail(r, err);
			return err;
		default:	/* HS_DONE and HS_ERROR returned above */
			return http_fail(r, HTTP_E400);
		}
	}
again:
	r->pos = (uint16_t)i;
	if (i == HTTP_MAX_HEAD)
		return http_fail(r, r->state == HS_TARGET ? HTTP_E414 : HTTP_E431);
	return HTTP_AGAIN;
}

/* http_dot_segment() - is [@s, @s + @n) "." or ".."? */
static inline bool http_dot_segment(const char *s, size_t n)
{
	return (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.');
}

/* http_hex() - the value of hex digit @c, or 16. */
static inline unsigned int http_hex(unsigned char c)
{
	c = http_lower(c);
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return 16;
}

/**
 * http_target_path() - the path of an origin-form request-target as a
 * relative file path: percent-decoded, without its query, safe to append
 * to a root directory and a '/'
 * @t, @n: the target (its first byte must be '/')
 * @skip: bytes of the raw target to drop first, a route prefix such as
 *	"/static/" that the caller matched: it must end in '/'; 0 = just
 *	the leading '/'
 * @dst, @size: where the NUL-terminated result goes
 *
 * Rejected with -400: a byte that is not a VCHAR (the parser lets none
 * through), a bad escape (not '%' and two hex digits), an escaped
 * control (NUL, LF, ...) or '/' ("%2f" would hide a segment boundary),
 * a "." or ".." segment (also spelled "%2e%2e"), an empty segment ("//":
 * after the prefix it would make an absolute path).  The result thus never starts
 * with '/', never has a ".." segment and never has a NUL.  A trailing
 * '/' is kept: it names a directory, for the caller to refuse.
 *
 * Return: the length of the result (>= 0), -400, or -414 if it does not
 * fit @size.
 */
static inline int http_target_path(const char *t, size_t n, size_t skip, char *dst,
				   size_t size)
{
	size_t i, o = 0, seg = 0;

	if (!n || t[0] != '/' || skip > n || (skip && t[skip - 1] != '/'))
		return HTTP_E400;
	if (!size)
		return HTTP_E414;
	for (i = skip ? skip : 1; i < n && t[i] != '?' && t[i] != '#'; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c == '%') {
			unsigned int hi, lo;

			if (n - i < 3)
				return HTTP_E400;
			hi = http_hex((unsigned char)t[i + 1]);
			lo = http_hex((unsigned char)t[i + 2]);
			if (hi > 15 || lo > 15)
				return HTTP_E400;
			c = (unsigned char)(hi << 4 | lo);
			if (c < 0x20 || c == 0x7f || c == '/')
				return HTTP_E400;
			i += 2;
		} else if (!http_vchar(c)) {
			return HTTP_E400;
		} else if (c == '/') {
			/* the segment [seg, o) ends */
			if (o == seg || http_dot_segment(dst + seg, o - seg))
				return HTTP_E400;
			seg = o + 1;
		}
		if (o + 1 >= size)
			return HTTP_E414;
		dst[o++] = (char)c;
	}
	/* the last segment, empty after a trailing '/' */
	if (http_dot_segment(dst + seg, o - seg))
		return HTTP_E400;
	dst[o] = '\0';
	return (int)o;
}

#endif /* GORT_SAMPLES_HTTP_H */
