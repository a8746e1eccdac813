/* Unit tests: the strict SIP parser (sip/msg.c, API sip/sipmsg.h), one
 * boundary per header and per rule — the last value accepted and the
 * first one refused, so that a bound that moves fails here. Every
 * message is copied into a heap buffer of exactly its length, so ASan
 * sees any read past its end. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <re_types.h>
#include <re_fmt.h>
#include <re_sa.h>

#include "sip/sipmsg.h"

static struct sipmsg m;
static char *cur;          /* the buffer m points into */
static size_t cur_len;

/* Copy s (len octets) into a fresh heap buffer of exactly that size and
 * keep it as the current message buffer. */
static const char *own(const char *s, size_t len)
{
	free(cur);
	cur = malloc(len ? len : 1);
	assert_non_null(cur);
	memcpy(cur, s, len);
	cur_len = len;
	return cur;
}

static int parse_n(const char *s, size_t len, bool dgram)
{
	return sipmsg_parse(&m, own(s, len), len, dgram);
}

static int parse(const char *s, bool dgram)
{
	return parse_n(s, strlen(s), dgram);
}

/* Parse s as a datagram (must succeed) and check it. */
static unsigned check_msg(const char *s, const char **why)
{
	*why = NULL;
	assert_int_equal(parse(s, true), 0);
	return sipmsg_check(&m, why);
}

/* The default request: every header it needs, in this order. */
static const char *const base[][2] = {
	{"Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa;rport"},
	{"From", "\"Ada\" <sip:201@example.com>;tag=f1"},
	{"To", "<sip:201@example.com>"},
	{"Call-ID", "c1@192.0.2.1"},
	{"CSeq", "1 OPTIONS"},
	{"Max-Forwards", "70"},
};

#define NBASE (sizeof(base) / sizeof(base[0]))

/* Build a request from rl (request line, without CRLF; NULL: OPTIONS)
 * and the default headers, changed by the (name, value) pairs that
 * follow (NULL-terminated): a name of the defaults gets that value
 * instead, or is left out when the value is NULL; a name starting with
 * '+' or not among the defaults is appended (as given, without '+').
 * Then parse as a datagram and check; returns the check's code. */
static unsigned req(const char **why, const char *rl, ...)
{
	const char *names[16], *vals[16];
	size_t n = 0, off = 0;
	char buf[8192];
	va_list ap;
	int k;

	va_start(ap, rl);
	for (;;) {
		const char *nm = va_arg(ap, const char *);

		if (!nm)
			break;
		assert_true(n < 16);
		names[n] = nm;
		vals[n] = va_arg(ap, const char *);
		n++;
	}
	va_end(ap);
	k = snprintf(buf, sizeof(buf), "%s\r\n",
		     rl ? rl : "OPTIONS sip:201@example.com SIP/2.0");
	off = (size_t)k;
	for (size_t i = 0; i < NBASE; i++) {
		const char *v = base[i][1];

		for (size_t j = 0; j < n; j++)
			if (!strcmp(names[j], base[i][0]))
				v = vals[j];
		if (!v)
			continue;
		k = snprintf(buf + off, sizeof(buf) - off, "%s: %s\r\n",
			     base[i][0], v);
		assert_true(k > 0 && (size_t)k < sizeof(buf) - off);
		off += (size_t)k;
	}
	for (size_t j = 0; j < n; j++) {
		bool known = false;

		for (size_t i = 0; i < NBASE; i++)
			if (!strcmp(names[j], base[i][0]))
				known = true;
		if (known)
			continue;
		k = snprintf(buf + off, sizeof(buf) - off, "%s: %s\r\n",
			     names[j] + (names[j][0] == '+'), vals[j]);
		assert_true(k > 0 && (size_t)k < sizeof(buf) - off);
		off += (size_t)k;
	}
	k = snprintf(buf + off, sizeof(buf) - off, "\r\n");
	off += (size_t)k;
	*why = NULL;
	assert_int_equal(parse_n(buf, off, true), 0);
	return sipmsg_check(&m, why);
}

/* Expect a 400 with this reason. */
#define BAD(why_want, ...) do {                                       \
		const char *w_;                                        \
		assert_int_equal(req(&w_, __VA_ARGS__, NULL), 400);     \
		assert_non_null(w_);                                   \
		assert_string_equal(w_, why_want);                     \
	} while (0)

#define OK(...) do {                                                  \
		const char *w_;                                        \
		assert_int_equal(req(&w_, __VA_ARGS__, NULL), 0);       \
	} while (0)

static void slice_is(const struct sipmsg_str *s, const char *want)
{
	assert_non_null(s->p);
	assert_int_equal(s->l, strlen(want));
	assert_memory_equal(s->p, want, s->l);
}

static int teardown(void **st)
{
	(void)st;
	cur = (free(cur), NULL);
	return 0;
}

/* ---- sipmsg_parse: the frame of a message ---------------------------- */

static void test_base_ok(void **st)
{
	(void)st;
	OK(NULL);
	assert_true(m.req);
	slice_is(&m.met, "OPTIONS");
	slice_is(&m.ruri, "sip:201@example.com");
	assert_int_equal(m.cseq, 1);
	assert_int_equal(m.maxfwd, 70);
	assert_int_equal(m.expires, -1);
	slice_is(&m.callid, "c1@192.0.2.1");
	slice_is(&m.from.tag, "f1");
	slice_is(&m.from.user, "201");
	assert_int_equal(m.to.tag.l, 0);
	assert_true(m.via_ok);
	slice_is(&m.via_tp, "UDP");
	slice_is(&m.via_host, "192.0.2.1");
	assert_int_equal(m.via_port, 5060);
	slice_is(&m.via_branch, "z9hG4bKa");
	assert_true(m.via_rport);
}

/* The whole message is at most SIPMSG_MAX_LEN octets. */
static void test_max_len(void **st)
{
	static const char head[] =
		"OPTIONS sip:201@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa\r\n"
		"From: <sip:a@example.com>;tag=1\r\n"
		"To: <sip:201@example.com>\r\n"
		"Call-ID: c1\r\nCSeq: 1 OPTIONS\r\n"
		"Content-Type: text/plain\r\n\r\n";
	size_t hl = sizeof(head) - 1;
	char *b = malloc(SIPMSG_MAX_LEN + 1);
	const char *why;

	(void)st;
	assert_non_null(b);
	memcpy(b, head, hl);
	memset(b + hl, 'x', SIPMSG_MAX_LEN + 1 - hl);
	assert_int_equal(parse_n(b, SIPMSG_MAX_LEN, true), 0);
	assert_int_equal(m.body.l, SIPMSG_MAX_LEN - hl);
	assert_int_equal(m.total, SIPMSG_MAX_LEN);
	assert_int_equal(sipmsg_check(&m, &why), 0);
	assert_int_equal(parse_n(b, SIPMSG_MAX_LEN + 1, true), EBADMSG);
	free(b);
}

/* At most SIPMSG_MAX_HDRS header lines; folded lines do not count. */
static void test_max_hdrs(void **st)
{
	char buf[8192];
	size_t off;
	int k;

	(void)st;
	off = (size_t)snprintf(buf, sizeof(buf),
			       "OPTIONS sip:a@b SIP/2.0\r\n");
	for (int i = 0; i < SIPMSG_MAX_HDRS; i++) {
		k = snprintf(buf + off, sizeof(buf) - off, "X-%d: v\r\n"
			     " folded\r\n", i);
		off += (size_t)k;
	}
	assert_int_equal(parse_n(buf, off + 0, true), 0);
	assert_int_equal(m.n_hdr, SIPMSG_MAX_HDRS);
	slice_is(&m.hdr[0].val, "v\r\n folded");
	memcpy(buf + off, "\r\n", 2);
	assert_int_equal(parse_n(buf, off + 2, false), 0);
	k = snprintf(buf + off, sizeof(buf) - off, "X-last: v\r\n\r\n");
	assert_int_equal(parse_n(buf, off + (size_t)k, true), EBADMSG);
}

static void test_leading_empty_lines(void **st)
{
	(void)st;
	assert_int_equal(parse("\r\n\n\r\nOPTIONS sip:a@b SIP/2.0\r\n\r\n",
			       false), 0);
	slice_is(&m.met, "OPTIONS");
	assert_int_equal(parse("\r\n\r\n", true), EBADMSG);
	assert_int_equal(parse("", true), EBADMSG);
}

/* A stream message needs its empty line; a datagram does not. */
static void test_head_end(void **st)
{
	static const char s[] = "OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n";

	(void)st;
	assert_int_equal(parse(s, true), 0);
	assert_int_equal(m.n_hdr, 1);
	assert_int_equal(parse(s, false), EBADMSG);
}

static void test_status_line(void **st)
{
	(void)st;
	assert_int_equal(parse("SIP/2.0 100 Trying\r\n\r\n", true), 0);
	assert_false(m.req);
	assert_int_equal(m.scode, 100);
	slice_is(&m.reason, "Trying");
	assert_int_equal(parse("SIP/2.0 699\r\n\r\n", true), 0);
	assert_int_equal(m.scode, 699);
	assert_int_equal(m.reason.l, 0);
	assert_int_equal(parse("SIP/2.0 099 X\r\n\r\n", true), EBADMSG);
	assert_int_equal(parse("SIP/2.0 700 X\r\n\r\n", true), EBADMSG);
	assert_int_equal(parse("SIP/2.0 2000 X\r\n\r\n", true), EBADMSG);
	assert_int_equal(parse("SIP/2.0 20 X\r\n\r\n", true), EBADMSG);
	assert_int_equal(parse("SIP/2.0\r\n\r\n", true), EBADMSG);
	/* a status line is not checked as a request */
	assert_int_equal(parse("SIP/2.0 200 OK\r\n\r\n", true), 0);
	assert_int_equal(sipmsg_check(&m, NULL), 400);
}

static void test_request_line(void **st)
{
	const char *why;

	(void)st;
	/* method: a token, not empty */
	assert_int_equal(parse(" OPTIONS sip:a@b SIP/2.0\r\n\r\n", true),
			 EBADMSG);
	assert_int_equal(parse("OPT@ONS sip:a@b SIP/2.0\r\n\r\n", true),
			 EBADMSG);
	assert_int_equal(parse("OPTIONS\r\n\r\n", true), EBADMSG);
	assert_int_equal(parse("NEWMETHOD-1.x sip:a@b SIP/2.0\r\n\r\n",
			       true), 0);
	slice_is(&m.met, "NEWMETHOD-1.x");
	/* parsed, refused by the check: 400 Bad Request Line */
	assert_int_equal(parse("OPTIONS sip:a@b\r\n\r\n", true), 0);
	assert_true(m.rl_bad);
	assert_int_equal(parse("OPTIONS  sip:a@b SIP/2.0\r\n\r\n", true), 0);
	assert_true(m.rl_bad);
	assert_int_equal(parse("OPTIONS sip:a@b SIP/2.0 \r\n\r\n", true), 0);
	assert_true(m.rl_bad);
	assert_int_equal(parse("OPTIONS sip:a@b HTTP/1.1\r\n\r\n", true), 0);
	assert_true(m.rl_bad);
	BAD("Bad Request Line", "OPTIONS sip:<a>@b SIP/2.0");
	BAD("Bad Request Line", "OPTIONS sip:\"a\"@b SIP/2.0");
	BAD("Bad Request Line", "OPTIONS sip:a@b\tx SIP/2.0");
	/* the version: SIP/2.0 in any case; another digit version 505 */
	OK("OPTIONS sip:201@example.com sip/2.0");
	assert_int_equal(req(&why, "OPTIONS sip:201@example.com SIP/3.0",
			     NULL), 505);
	assert_int_equal(req(&why, "OPTIONS sip:201@example.com SIP/2.01",
			     NULL), 505);
	BAD("Bad Version", "OPTIONS sip:201@example.com SIP/");
	BAD("Bad Version", "OPTIONS sip:201@example.com SIP/2.x");
}

static void test_request_uri(void **st)
{
	const char *why;

	(void)st;
	OK("OPTIONS sips:201@example.com SIP/2.0");
	OK("OPTIONS sip:example.com SIP/2.0");
	OK("OPTIONS sip:201@example.com;transport=tcp SIP/2.0");
	/* '?' in the user part is legal, after the host it is headers */
	OK("OPTIONS sip:a?b@example.com SIP/2.0");
	BAD("Bad Request-URI", "OPTIONS sip:201@example.com?Subject=x "
	    "SIP/2.0");
	BAD("Bad Request-URI", "OPTIONS sip:example.com?x SIP/2.0");
	/* a scheme is letters, digits, + - . and then ':' and something */
	BAD("Bad Request-URI", "OPTIONS 201@example.com SIP/2.0");
	BAD("Bad Request-URI", "OPTIONS sip: SIP/2.0");
	BAD("Bad Request-URI", "OPTIONS 1sip:a@b SIP/2.0");
	assert_int_equal(req(&why, "OPTIONS tel:+15551234 SIP/2.0", NULL),
			 416);
	assert_int_equal(req(&why, "OPTIONS x-y.z+w:q SIP/2.0", NULL), 416);
}

/* Header lines: a token name, ':' (whitespace before it allowed), a
 * value without surrounding whitespace; continuation lines fold. */
static void test_header_lines(void **st)
{
	(void)st;
	assert_int_equal(parse("OPTIONS sip:a@b SIP/2.0\r\n"
			       "X-A \t: \t v  \t\r\n\r\n", false), 0);
	slice_is(&m.hdr[0].name, "X-A");
	slice_is(&m.hdr[0].val, "v");
	assert_int_equal(parse("OPTIONS sip:a@b SIP/2.0\r\n"
			       "X-A:\r\n\r\n", false), 0);
	assert_int_equal(m.hdr[0].val.l, 0);
	assert_false(m.hdr_bad);
	/* a line without ':', an empty name, a name that is no token */
	assert_int_equal(parse("OPTIONS sip:a@b SIP/2.0\r\nX-A\r\n\r\n",
			       false), 0);
	assert_true(m.hdr_bad);
	assert_int_equal(m.n_hdr, 0);
	assert_int_equal(parse("OPTIONS sip:a@b SIP/2.0\r\n: v\r\n\r\n",
			       false), 0);
	assert_true(m.hdr_bad);
	assert_int_equal(parse("OPTIONS sip:a@b SIP/2.0\r\nX<A>: v\r\n\r\n",
			       false), 0);
	assert_true(m.hdr_bad);
	/* a continuation line before any header */
	assert_int_equal(parse("OPTIONS sip:a@b SIP/2.0\r\n v\r\n\r\n",
			       false), 0);
	assert_true(m.hdr_bad);
	/* bare LF line ends are accepted */
	assert_int_equal(parse("OPTIONS sip:a@b SIP/2.0\nX-A: v\n\tw\n\n",
			       false), 0);
	assert_false(m.hdr_bad);
	slice_is(&m.hdr[0].val, "v\n\tw");
	BAD("Bad Header", NULL, "X (bad)", "1");
}

/* Long and compact names, in any case, are recognised. */
static void test_header_names(void **st)
{
	static const struct {
		const char *name;
		enum sipmsg_hid id;
	} v[] = {
		{"v", SH_VIA}, {"VIA", SH_VIA}, {"f", SH_FROM},
		{"from", SH_FROM}, {"T", SH_TO}, {"i", SH_CALLID},
		{"call-id", SH_CALLID}, {"CSEQ", SH_CSEQ}, {"m", SH_CONTACT},
		{"l", SH_CLEN}, {"content-length", SH_CLEN},
		{"c", SH_CTYPE}, {"max-forwards", SH_MAXFWD},
		{"expires", SH_EXPIRES}, {"authorization", SH_AUTH},
		{"user-agent", SH_UA}, {"require", SH_REQUIRE},
		{"proxy-require", SH_PREQUIRE}, {"k", SH_SUPPORTED},
		{"supported", SH_SUPPORTED}, {"accept", SH_ACCEPT},
		{"x", SH_OTHER}, {"cseqx", SH_OTHER}, {"e", SH_OTHER},
		{"Proxy-Authorization", SH_PAUTH},
		{"proxy-authorization", SH_PAUTH},
		{"PROXY-AUTHORIZATION", SH_PAUTH},
		{"Proxy-Authorizatio", SH_OTHER},
		{"Proxy-Authorizationx", SH_OTHER},
		{"Proxy-Authenticate", SH_OTHER},
	};

	(void)st;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char b[128];
		int n = snprintf(b, sizeof(b), "OPTIONS sip:a@b SIP/2.0\r\n"
				 "%s: 1\r\n\r\n", v[i].name);

		assert_int_equal(parse_n(b, (size_t)n, false), 0);
		assert_int_equal(m.n_hdr, 1);
		assert_int_equal(m.hdr[0].id, v[i].id);
		if (v[i].id != SH_OTHER)
			assert_ptr_equal(sipmsg_hdr(&m, v[i].id), &m.hdr[0]);
	}
	assert_null(sipmsg_hdr(&m, SH__COUNT));
	assert_null(sipmsg_hdr(NULL, SH_VIA));
}

/* Proxy-Authorization is read like Authorization: each header its own
 * slice (folded value kept whole), counted, the first indexed, and no
 * more of them than the header bound. */
static void test_proxy_authorization(void **st)
{
	static const char msg[] =
		"INVITE sip:202@b SIP/2.0\r\n"
		"Authorization: Digest username=\"a\"\r\n"
		"Proxy-Authorization: Digest username=\"201\",\r\n"
		" realm=\"b\"\r\n"
		"proxy-authorization: Basic eA==\r\n\r\n";
	char buf[8192];
	size_t off;

	(void)st;
	assert_int_equal(parse_n(msg, sizeof(msg) - 1, true), 0);
	assert_false(m.hdr_bad);
	assert_int_equal(m.count[SH_PAUTH], 2);
	assert_int_equal(m.count[SH_AUTH], 1);
	assert_int_equal(m.first[SH_PAUTH], 1);
	slice_is(&m.hdr[1].val, "Digest username=\"201\",\r\n realm=\"b\"");
	slice_is(&m.hdr[2].val, "Basic eA==");

	/* one more than the header bound: the parse fails as for any
	 * header kind */
	off = (size_t)snprintf(buf, sizeof(buf), "INVITE sip:a@b SIP/2.0\r\n");
	for (int i = 0; i <= SIPMSG_MAX_HDRS; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
					"Proxy-Authorization: x\r\n");
	off += (size_t)snprintf(buf + off, sizeof(buf) - off, "\r\n");
	assert_int_equal(parse_n(buf, off, true), EBADMSG);
}

/* Headers of a kind are counted and the first one is indexed. */
static void test_header_count(void **st)
{
	char buf[4096];
	size_t off;

	(void)st;
	off = (size_t)snprintf(buf, sizeof(buf), "OPTIONS sip:a@b SIP/2.0\r\n"
			       "X: 1\r\n");
	for (int i = 1; i < SIPMSG_MAX_HDRS; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
					"k: b\r\n");
	assert_int_equal(parse_n(buf, off, true), 0);
	assert_int_equal(m.count[SH_SUPPORTED], SIPMSG_MAX_HDRS - 1);
	assert_int_equal(m.first[SH_SUPPORTED], 1);
	assert_int_equal(m.count[SH_OTHER], 1);
	assert_int_equal(m.count[SH_VIA], 0);
	assert_int_equal(m.first[SH_VIA], -1);
}

/* Every header the check needs, and those that may appear once. */
static void test_required_and_single(void **st)
{
	static const char *const req_h[] = {"Via", "From", "To", "Call-ID",
		"CSeq"};
	static const char *const once[][2] = {
		{"From", "<sip:b@example.com>"}, {"To", "<sip:b@example.com>"},
		{"Call-ID", "c2"}, {"CSeq", "1 OPTIONS"},
		{"Max-Forwards", "70"}, {"Content-Length", "0"},
		{"Content-Type", "text/plain"}, {"Expires", "60"},
	};

	(void)st;
	for (size_t i = 0; i < sizeof(req_h) / sizeof(req_h[0]); i++)
		BAD("Missing Header", NULL, req_h[i], (const char *)NULL);
	/* Max-Forwards is not required (RFC 3261 8.1.1 says SHOULD) */
	OK(NULL, "Max-Forwards", (const char *)NULL);
	assert_int_equal(m.maxfwd, -1);
	for (size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++) {
		char plus[32];

		snprintf(plus, sizeof(plus), "+%s", once[i][0]);
		if (!strcmp(once[i][0], "Content-Length") ||
		    !strcmp(once[i][0], "Content-Type") ||
		    !strcmp(once[i][0], "Expires")) {
			BAD("Repeated Header", NULL, once[i][0], once[i][1],
			    plus, once[i][1]);
			continue;
		}
		BAD("Repeated Header", NULL, plus, once[i][1]);
	}
	/* Via, Contact, Supported, unknown headers may repeat */
	OK(NULL, "+Via", "SIP/2.0/TCP 192.0.2.9", "X-A", "1", "+X-A", "2",
	   "Supported", "a", "+Supported", "b");
}

static void test_cseq(void **st)
{
	(void)st;
	OK(NULL, "CSeq", "0 OPTIONS");
	assert_int_equal(m.cseq, 0);
	OK(NULL, "CSeq", "2147483647 OPTIONS");
	assert_int_equal(m.cseq, 2147483647u);
	OK(NULL, "CSeq", "0000000001 \t OPTIONS");
	slice_is(&m.cseq_met, "OPTIONS");
	BAD("Bad CSeq", NULL, "CSeq", "2147483648 OPTIONS");
	BAD("Bad CSeq", NULL, "CSeq", "00000000001 OPTIONS");  /* 11 digits */
	BAD("Bad CSeq", NULL, "CSeq", "OPTIONS");
	BAD("Bad CSeq", NULL, "CSeq", "1");
	BAD("Bad CSeq", NULL, "CSeq", "1OPTIONS");
	BAD("Bad CSeq", NULL, "CSeq", "-1 OPTIONS");
	BAD("Bad CSeq", NULL, "CSeq", "1 OPTIONS x");
	BAD("Bad CSeq", NULL, "CSeq", "1 OPT/IONS");
	BAD("Bad CSeq", NULL, "CSeq", "");
	/* the method must be the request line's, case and all */
	BAD("CSeq Method Mismatch", NULL, "CSeq", "1 options");
	BAD("CSeq Method Mismatch", NULL, "CSeq", "1 OPTION");
	BAD("CSeq Method Mismatch", NULL, "CSeq", "1 REGISTER");
}

static void test_call_id(void **st)
{
	(void)st;
	OK(NULL, "Call-ID", "x");
	OK(NULL, "Call-ID", "a!b%c@[::1]:\"q\"");
	BAD("Bad Call-ID", NULL, "Call-ID", "");
	BAD("Bad Call-ID", NULL, "Call-ID", "a b");
	BAD("Bad Call-ID", NULL, "Call-ID", "a\tb");
	/* folded: the line break stays in the value, so it is refused */
	BAD("Bad Call-ID", NULL, "Call-ID", "a\r\n b");
}

static void test_from_to(void **st)
{
	(void)st;
	OK(NULL, "From", "sip:a@example.com;tag=x");
	slice_is(&m.from.uri, "sip:a@example.com");
	slice_is(&m.from.tag, "x");
	assert_int_equal(m.from.dname.l, 0);
	OK(NULL, "From", "Ada  Lovelace <sips:ada:pw@example.com>;tag=\"q\"");
	slice_is(&m.from.dname, "Ada  Lovelace");
	slice_is(&m.from.user, "ada");
	slice_is(&m.from.tag, "\"q\"");
	OK(NULL, "From", "\"A \\\"q\\\" <x>\"<sip:a@b>");
	slice_is(&m.from.dname, "\"A \\\"q\\\" <x>\"");
	OK(NULL, "To", "<tel:+1555>;tag=9");
	assert_int_equal(m.to.user.l, 0);
	slice_is(&m.to.tag, "9");
	OK(NULL, "To", "<sip:b@example.com?Subject=x>");
	BAD("Bad From", NULL, "From", "");
	BAD("Bad From", NULL, "From", "\"unterminated <sip:a@b>");
	BAD("Bad From", NULL, "From", "\"q\" sip:a@b");
	BAD("Bad From", NULL, "From", "<sip:a@b");
	BAD("Bad From", NULL, "From", "<a@b>");
	BAD("Bad From", NULL, "From", "<sip:>");
	BAD("Bad From", NULL, "From", "<sip:a b@c>");
	BAD("Bad From", NULL, "From", "sip:a@b?x=y");   /* addr-spec */
	BAD("Bad From", NULL, "From", "<sip:a@b>;");
	BAD("Bad From", NULL, "From", "<sip:a@b>;tag=");
	BAD("Bad From", NULL, "From", "<sip:a@b>;tag=\"x");
	BAD("Bad From", NULL, "From", "<sip:a@b> x");
	BAD("Bad From", NULL, "From", "<sip:a@b>, <sip:c@d>");
	BAD("Bad From", NULL, "From", "*");
	BAD("Bad To", NULL, "To", "<sip:a@b>>");
	BAD("Bad To", NULL, "To", "sip:a@b,");
}

static void test_via(void **st)
{
	(void)st;
	OK(NULL, "Via", "SIP / 2.0 / TCP host.example.com");
	slice_is(&m.via_tp, "TCP");
	slice_is(&m.via_host, "host.example.com");
	assert_int_equal(m.via_port, 0);
	assert_int_equal(m.via_branch.l, 0);
	assert_false(m.via_rport);
	OK(NULL, "Via", "sip/2.0/udp a_b-c.d:1");
	assert_int_equal(m.via_port, 1);
	OK(NULL, "Via", "SIP/2.0/UDP h:65535");
	assert_int_equal(m.via_port, 65535);
	OK(NULL, "Via", "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKb");
	slice_is(&m.via_host, "[2001:db8::1]");
	slice_is(&m.via_branch, "z9hG4bKb");
	/* the top via-parm is recorded, the others only checked */
	OK(NULL, "Via", "SIP/2.0/UDP h1;branch=b1, SIP/2.0/TCP h2;branch=b2",
	   "+Via", "SIP/2.0/WS h3");
	slice_is(&m.via_host, "h1");
	slice_is(&m.via_branch, "b1");
	assert_int_equal(m.via_top_end, strlen("SIP/2.0/UDP h1;branch=b1"));
	OK(NULL, "Via", "SIP/2.0/UDP h;rport=5;branch=b;received=192.0.2.3");
	assert_true(m.via_rport);
	assert_int_equal(m.via_rport_off, strlen("SIP/2.0/UDP h"));
	assert_int_equal(m.via_rport_len, strlen(";rport=5"));
	BAD("Bad Via", NULL, "Via", "");
	BAD("Bad Via", NULL, "Via", "SIP/2.0/UDP h:0");
	BAD("Bad Via", NULL, "Via", "SIP/2.0/UDP h:65536");
	BAD("Bad Via", NULL, "Via", "SIP/2.0/UDP h:000001");  /* 6 digits */
	BAD("Bad Via", NULL, "Via", "SIP/2.0/UDP h:");
	BAD("Bad Via", NULL, "Via", "SIP/2.1/UDP h");
	BAD("Bad Via", NULL, "Via", "SIPS/2.0/UDP h");
	BAD("Bad Via", NULL, "Via", "SIP/2.0/ h");
	BAD("Bad Via", NULL, "Via", "SIP/2.0 UDP h");
	BAD("Bad Via", NULL, "Via", "SIP/2.0/UDP");
	BAD("Bad Via", NULL, "Via", "SIP/2.0/UDP [::1");
	BAD("Bad Via", NULL, "Via", "SIP/2.0/UDP h;");
	BAD("Bad Via", NULL, "Via", "SIP/2.0/UDP h;=x");
	BAD("Bad Via", NULL, "Via", "SIP/2.0/UDP h;branch=");
	BAD("Bad Via", NULL, "Via", "SIP/2.0/UDP h x");
	BAD("Bad Via", NULL, "Via", "SIP/2.0/UDP h,");
	BAD("Bad Via", NULL, "Via", "SIP/2.0/UDP h, ");
	BAD("Bad Via", NULL, "+Via", "SIP/2.0/UDP h;");  /* a lower one */
}

static void test_max_forwards(void **st)
{
	(void)st;
	OK(NULL, "Max-Forwards", "0");
	assert_int_equal(m.maxfwd, 0);
	OK(NULL, "Max-Forwards", "255");
	assert_int_equal(m.maxfwd, 255);
	OK(NULL, "Max-Forwards", "0000000070");
	assert_int_equal(m.maxfwd, 70);
	BAD("Bad Max-Forwards", NULL, "Max-Forwards", "256");
	BAD("Bad Max-Forwards", NULL, "Max-Forwards", "00000000070");
	BAD("Bad Max-Forwards", NULL, "Max-Forwards", "");
	BAD("Bad Max-Forwards", NULL, "Max-Forwards", "7 0");
	BAD("Bad Max-Forwards", NULL, "Max-Forwards", "-1");
}

static void test_expires(void **st)
{
	(void)st;
	OK(NULL, "Expires", "0");
	assert_int_equal(m.expires, 0);
	OK(NULL, "Expires", "4294967295");
	assert_int_equal(m.expires, 4294967295LL);
	BAD("Bad Expires", NULL, "Expires", "4294967296");
	BAD("Bad Expires", NULL, "Expires", "04294967295");
	BAD("Bad Expires", NULL, "Expires", "");
	BAD("Bad Expires", NULL, "Expires", "60s");
	BAD("Bad Expires", NULL, "Expires",
	    "Thu, 01 Dec 1994 16:00:00 GMT");
}

static void test_content_length(void **st)
{
	static const char head[] =
		"OPTIONS sip:201@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa\r\n"
		"From: <sip:a@example.com>;tag=1\r\n"
		"To: <sip:201@example.com>\r\n"
		"Call-ID: c1\r\nCSeq: 1 OPTIONS\r\n"
		"Content-Type: text/plain\r\n";
	char b[1024];
	const char *why;
	int n;

	(void)st;
	/* the body is Content-Length octets; extra ones are ignored */
	n = snprintf(b, sizeof(b), "%sContent-Length: 4\r\n\r\nbodyXX", head);
	assert_int_equal(check_msg(b, &why), 0);
	slice_is(&m.body, "body");
	assert_int_equal(m.total, (size_t)n - 2);
	snprintf(b, sizeof(b), "%sl: 6\r\n\r\nbodyXX", head);
	assert_int_equal(check_msg(b, &why), 0);
	assert_int_equal(m.body.l, 6);
	/* one octet short */
	snprintf(b, sizeof(b), "%sContent-Length: 7\r\n\r\nbodyXX", head);
	assert_int_equal(check_msg(b, &why), 400);
	assert_string_equal(why, "Content-Length Mismatch");
	assert_true(m.clen_bad);
	assert_int_equal(m.body.l, 6);
	/* without Content-Length a datagram's body is the rest */
	snprintf(b, sizeof(b), "%s\r\nbodyXX", head);
	assert_int_equal(check_msg(b, &why), 0);
	slice_is(&m.body, "bodyXX");
	/* ... and a stream's is empty */
	snprintf(b, sizeof(b), "%s\r\nbodyXX", head);
	assert_int_equal(parse(b, false), 0);
	assert_int_equal(m.body.l, 0);
	/* 10 digits at most; digits only */
	snprintf(b, sizeof(b), "%sContent-Length: 0000000004\r\n\r\nbody",
		 head);
	assert_int_equal(check_msg(b, &why), 0);
	snprintf(b, sizeof(b), "%sContent-Length: 00000000004\r\n\r\nbody",
		 head);
	assert_int_equal(check_msg(b, &why), 400);
	assert_string_equal(why, "Bad Content-Length");
	snprintf(b, sizeof(b), "%sContent-Length: 4x\r\n\r\nbody", head);
	assert_int_equal(check_msg(b, &why), 400);
	assert_string_equal(why, "Bad Content-Length");
	snprintf(b, sizeof(b), "%sContent-Length: -4\r\n\r\nbody", head);
	assert_int_equal(check_msg(b, &why), 400);
	assert_string_equal(why, "Bad Content-Length");
	snprintf(b, sizeof(b), "%sContent-Length: 9999999999\r\n\r\nbody",
		 head);
	assert_int_equal(check_msg(b, &why), 400);
	assert_string_equal(why, "Content-Length Mismatch");
}

static void test_content_type(void **st)
{
	static const char *const ok[] = {"application/sdp",
		"APPLICATION/SDP", "text/plain;charset=utf-8",
		"multipart/mixed ; boundary=x", "message/sipfrag",
		"application/simple-message-summary"};
	static const char *const no[] = {"text/html", "application/sd",
		"application/sdpx", "", "application"};
	const char *why;

	(void)st;
	/* without a body the type is not looked at */
	OK(NULL, "Content-Type", "text/html", "Content-Length", "0");
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		char b[512];

		snprintf(b, sizeof(b), "OPTIONS sip:a@b SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP h\r\nFrom: <sip:a@b>\r\n"
			 "To: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n"
			 "Content-Type: %s\r\n\r\nx", no[i]);
		assert_int_equal(check_msg(b, &why), 415);
	}
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char b[512];

		snprintf(b, sizeof(b), "OPTIONS sip:a@b SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP h\r\nFrom: <sip:a@b>\r\n"
			 "To: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n"
			 "Content-Type: %s\r\n\r\nx", ok[i]);
		assert_int_equal(check_msg(b, &why), 0);
	}
	assert_int_equal(check_msg("OPTIONS sip:a@b SIP/2.0\r\n"
				   "Via: SIP/2.0/UDP h\r\nFrom: <sip:a@b>\r\n"
				   "To: <sip:a@b>\r\nCall-ID: c\r\n"
				   "CSeq: 1 OPTIONS\r\n\r\nx", &why), 415);
}

static void test_require(void **st)
{
	const char *why;

	(void)st;
	assert_int_equal(req(&why, NULL, "Require", "100rel", NULL), 420);
	slice_is(&m.unsupported, "100rel");
	OK(NULL, "Require", "");
	/* ACK and CANCEL do not get a 420 */
	OK("ACK sip:201@example.com SIP/2.0", "CSeq", "1 ACK",
	   "Require", "100rel");
	OK("CANCEL sip:201@example.com SIP/2.0", "CSeq", "1 CANCEL",
	   "Require", "100rel");
	/* Proxy-Require is for proxies: not our business */
	OK(NULL, "Proxy-Require", "foo");
}

static void test_contact_header(void **st)
{
	static const char *rl = "REGISTER sip:example.com SIP/2.0";

	(void)st;
	OK(rl, "CSeq", "1 REGISTER", "Contact", "*", "Expires", "0");
	OK(rl, "CSeq", "1 REGISTER", "Contact", "<sip:a@192.0.2.1>;expires=60,"
	   " \"B\" <sips:b@h>, sip:c@h;q=0.5", "m", "<sip:d@h>");
	BAD("Bad Contact", rl, "CSeq", "1 REGISTER", "Contact", "");
	BAD("Bad Contact", rl, "CSeq", "1 REGISTER", "Contact", "*, <sip:a@h>");
	BAD("Bad Contact", rl, "CSeq", "1 REGISTER", "Contact", "<sip:a@h>, *");
	BAD("Bad Contact", rl, "CSeq", "1 REGISTER", "Contact", "*",
	    "m", "*");
	BAD("Bad Contact", rl, "CSeq", "1 REGISTER", "Contact", "*",
	    "m", "<sip:a@h>");
	BAD("Bad Contact", rl, "CSeq", "1 REGISTER", "Contact", "<sip:a@h>,");
	BAD("Bad Contact", rl, "CSeq", "1 REGISTER", "Contact", "<sip:a@h>, ");
	BAD("Bad Contact", rl, "CSeq", "1 REGISTER", "Contact", ",<sip:a@h>");
	BAD("Bad Contact", rl, "CSeq", "1 REGISTER", "Contact", "sip:a@h?x");
	BAD("Bad Contact", rl, "CSeq", "1 REGISTER", "Contact", "<sip:a@h");
	/* a parameter without a value is fine here (the registrar
	 * decides about expires) */
	OK(rl, "CSeq", "1 REGISTER", "Contact", "<sip:a@h>;expires");
}

/* ---- sipmsg_addr ------------------------------------------------------ */

static int addr(struct sipmsg_addr *a, const char *s, bool list,
		size_t *used)
{
	const char *b = own(s, strlen(s)), *p = b;
	int err = sipmsg_addr(a, &p, b + cur_len, list);

	*used = err ? 0 : (size_t)(p - b);
	return err;
}

static void test_addr(void **st)
{
	struct sipmsg_addr a;
	size_t used;

	(void)st;
	assert_int_equal(addr(&a, " * ", true, &used), 0);
	assert_true(a.star);
	assert_int_equal(used, 3);
	assert_int_equal(addr(&a, "*", false, &used), EBADMSG);
	assert_int_equal(addr(&a, "", true, &used), EBADMSG);
	assert_int_equal(addr(&a, "   ", true, &used), EBADMSG);
	/* one entry of a list: stops after its ',' */
	assert_int_equal(addr(&a, "<sip:a@h>;expires=5 , <sip:b@h>", true,
			      &used), 0);
	slice_is(&a.uri, "sip:a@h");
	slice_is(&a.expires, "5");
	slice_is(&a.params, ";expires=5");
	assert_int_equal(used, strlen("<sip:a@h>;expires=5 ,"));
	assert_int_equal(addr(&a, "<sip:a@h>, <sip:b@h>", false, &used),
			 EBADMSG);
	/* expires= and tag= are found among other params, any case */
	assert_int_equal(addr(&a, "sip:a@h;q=1;EXPIRES=7;x;Tag=t", true,
			      &used), 0);
	slice_is(&a.expires, "7");
	slice_is(&a.tag, "t");
	/* an empty value is not a value */
	assert_int_equal(addr(&a, "<sip:a@h>;expires=", true, &used),
			 EBADMSG);
	/* a param without value: present, empty */
	assert_int_equal(addr(&a, "<sip:a@h>;expires", true, &used), 0);
	assert_non_null(a.params.p);
	assert_null(a.expires.p);
	/* quoted and bracketed values */
	assert_int_equal(addr(&a, "<sip:a@h>;x=\"a;b,c\";y=[::1]", true,
			      &used), 0);
	assert_int_equal(used, cur_len);
	assert_int_equal(addr(&a, "<sip:a@h>;y=[::1", true, &used), EBADMSG);
	/* a quoted param value ending in an escape, at the very end of the
	 * buffer: refused, without stepping past its end */
	assert_int_equal(addr(&a, "<sip:a@h>;x=\"a\\", true, &used), EBADMSG);
	assert_int_equal(addr(&a, "<sip:a@h>;x=\"\\", true, &used), EBADMSG);
	assert_int_equal(addr(&a, "<sip:a@h>;x=\"a\\\"\"", true, &used), 0);
	assert_int_equal(used, cur_len);
	/* user part: up to ':' (password) or '@' */
	assert_int_equal(addr(&a, "<sip:alice:secret@h>", false, &used), 0);
	slice_is(&a.user, "alice");
	assert_int_equal(addr(&a, "<SIPS:@h>", false, &used), 0);
	assert_int_equal(a.user.l, 0);
	assert_int_equal(addr(&a, "<sip:h>", false, &used), 0);
	assert_null(a.user.p);
	assert_int_equal(addr(&a, "<mailto:a@h>", false, &used), 0);
	assert_null(a.user.p);
	/* '>' missing, a display name without '<' */
	assert_int_equal(addr(&a, "<sip:a@h", false, &used), EBADMSG);
	assert_int_equal(addr(&a, "\"A\"", false, &used), EBADMSG);
	assert_int_equal(addr(&a, "\"A\" ", false, &used), EBADMSG);
	assert_int_equal(addr(&a, "\"A\\", false, &used), EBADMSG);
	/* escaped quote inside a display name */
	assert_int_equal(addr(&a, "\"a\\\"b\" <sip:x@h>", false, &used), 0);
	slice_is(&a.dname, "\"a\\\"b\"");
	/* token display name with inner whitespace kept, trailing cut */
	assert_int_equal(addr(&a, "  Bob  B  <sip:x@h>", false, &used), 0);
	slice_is(&a.dname, "Bob  B");
	/* an empty name-addr <> */
	assert_int_equal(addr(&a, "<>", false, &used), EBADMSG);
}

/* ---- sipmsg_frame: the TCP framer ------------------------------------- */

static int frame(const char *s, size_t *ml)
{
	const char *b = own(s, strlen(s));

	return sipmsg_frame(b, cur_len, ml);
}

static void test_frame(void **st)
{
	size_t ml = 99;

	(void)st;
	assert_int_equal(sipmsg_frame(NULL, 0, &ml), EINVAL);
	assert_int_equal(frame("", &ml), EAGAIN);
	assert_int_equal(ml, 0);
	assert_int_equal(frame("OPTIONS sip:a@b SIP/2.0\r\n", &ml), EAGAIN);
	assert_int_equal(frame("OPTIONS sip:a@b SIP/2.0\r\n\r", &ml), EAGAIN);
	assert_int_equal(frame("OPTIONS sip:a@b SIP/2.0\r\n\r\n", &ml), 0);
	assert_int_equal(ml, cur_len);
	/* bare LF */
	assert_int_equal(frame("O s SIP/2.0\n\nNEXT", &ml), 0);
	assert_int_equal(ml, strlen("O s SIP/2.0\n\n"));
	/* the body */
	assert_int_equal(frame("O s SIP/2.0\r\nl: 3\r\n\r\nab", &ml), EAGAIN);
	assert_int_equal(frame("O s SIP/2.0\r\nl: 3\r\n\r\nabcO s", &ml), 0);
	assert_int_equal(ml, cur_len - 3);
	assert_int_equal(frame("O s SIP/2.0\r\nContent-Length:  0000000003 "
			       "\r\n\r\nabc", &ml), 0);
	/* malformed or repeated Content-Length: the head, to answer 400 */
	assert_int_equal(frame("O s SIP/2.0\r\nl: 3x\r\n\r\nabc", &ml),
			 EBADMSG);
	assert_int_equal(ml, cur_len - 3);
	assert_int_equal(frame("O s SIP/2.0\r\nl: 00000000003\r\n\r\nabc",
			       &ml), EBADMSG);
	assert_int_equal(frame("O s SIP/2.0\r\nl: 1\r\nl: 1\r\n\r\na", &ml),
			 EBADMSG);
	assert_int_equal(ml, cur_len - 1);
	/* a body that would make the message longer than the bound */
	{
		static const char h[] = "O s SIP/2.0\r\nl: %u\r\n\r\n";
		char b[64];
		unsigned hl;

		snprintf(b, sizeof(b), h, 65535u);
		hl = (unsigned)strlen(b);
		snprintf(b, sizeof(b), h, (unsigned)SIPMSG_MAX_LEN - hl);
		assert_int_equal((unsigned)strlen(b), hl);
		assert_int_equal(frame(b, &ml), EAGAIN);
		snprintf(b, sizeof(b), h, (unsigned)SIPMSG_MAX_LEN - hl + 1);
		assert_int_equal(frame(b, &ml), EBADMSG);
		assert_int_equal(ml, hl);
	}
}

/* No empty line within SIPMSG_MAX_LEN octets: give up. */
static void test_frame_no_head_end(void **st)
{
	char *b = malloc(SIPMSG_MAX_LEN + 10);
	size_t ml;

	(void)st;
	assert_non_null(b);
	memset(b, 'a', SIPMSG_MAX_LEN + 10);
	b[1] = '\n';
	assert_int_equal(sipmsg_frame(b, SIPMSG_MAX_LEN - 1, &ml), EAGAIN);
	assert_int_equal(sipmsg_frame(b, SIPMSG_MAX_LEN, &ml), EBADMSG);
	assert_int_equal(ml, 0);
	/* an empty line past the bound does not count */
	memcpy(b + SIPMSG_MAX_LEN - 1, "\n\n", 2);
	assert_int_equal(sipmsg_frame(b, SIPMSG_MAX_LEN + 10, &ml), EBADMSG);
	/* ... one just inside it does */
	memcpy(b + SIPMSG_MAX_LEN - 2, "\n\n", 2);
	assert_int_equal(sipmsg_frame(b, SIPMSG_MAX_LEN + 10, &ml), 0);
	assert_int_equal(ml, SIPMSG_MAX_LEN);
	free(b);
}

/* ---- the reply writer ------------------------------------------------ */

/* Write a reply with code to the current message; NUL-terminated. */
static size_t reply(unsigned code, const char *extra, const char *salt,
		    char *out, size_t outsz)
{
	struct sa src;
	size_t n;

	sa_set_str(&src, "192.0.2.7", 5071);
	n = sipmsg_reply(&m, &src, code, "R", extra, extra ? strlen(extra) : 0,
			 salt, out, outsz - 1);
	out[n] = '\0';
	return n;
}

/* A To without a tag gets one above 100, the same for the same
 * request, another with another salt; a To with a tag keeps it. */
static void test_reply_to_tag(void **st)
{
	char a[2048], b[2048];
	const char *t;

	(void)st;
	OK(NULL);
	assert_true(reply(100, NULL, "s1", a, sizeof(a)) > 0);
	assert_non_null(strstr(a, "\r\nTo: <sip:201@example.com>\r\n"));
	assert_true(reply(200, NULL, "s1", a, sizeof(a)) > 0);
	t = strstr(a, "\r\nTo: <sip:201@example.com>;tag=");
	assert_non_null(t);
	t += strlen("\r\nTo: <sip:201@example.com>;tag=");
	for (int i = 0; i < 8; i++)
		assert_non_null(strchr("0123456789abcdef", t[i]));
	assert_memory_equal(t + 8, "\r\n", 2);
	assert_true(reply(200, NULL, "s1", b, sizeof(b)) > 0);
	assert_string_equal(a, b);
	assert_true(reply(200, NULL, "s2", b, sizeof(b)) > 0);
	assert_string_not_equal(a, b);
	OK(NULL, "To", "<sip:201@example.com>;tag=given");
	assert_true(reply(200, NULL, "s1", a, sizeof(a)) > 0);
	assert_non_null(strstr(a, "\r\nTo: <sip:201@example.com>;tag=given"
			       "\r\n"));
}

/* Status line, the headers in order, extra lines, Content-Length: 0;
 * a folded value on one line. */
static void test_reply_shape(void **st)
{
	static const char want[] =
		"SIP/2.0 404 R\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa;"
		"received=192.0.2.7;rport=5071\r\n"
		"Via: SIP/2.0/TCP h2\r\n"
		"From: \"Ada\" <sip:201@example.com>;tag=f1\r\n"
		"To: <sip:201@example.com>;tag=t\r\n"
		"Call-ID: c1@192.0.2.1\r\n"
		"CSeq: 1   OPTIONS\r\n"
		"X-Extra: 1\r\n"
		"Content-Length: 0\r\n\r\n";
	char out[2048];

	(void)st;
	OK(NULL, "To", "<sip:201@example.com>;tag=t", "CSeq", "1\r\n OPTIONS",
	   "+Via", "SIP/2.0/TCP h2");
	assert_int_equal(reply(404, "X-Extra: 1\r\n", NULL, out, sizeof(out)),
			 sizeof(want) - 1);
	assert_string_equal(out, want);
	/* no source address: the top Via is echoed as it came */
	assert_true(sipmsg_reply(&m, NULL, 404, "R", NULL, 0, NULL, out,
				 sizeof(out) - 1) > 0);
	assert_non_null(strstr(out, "\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;"
			       "branch=z9hG4bKa;rport\r\n"));
}

/* tlsout: a response that may create a dialog (101-299 to a request
 * without a To tag) copies the Record-Route values in order (RFC 3261
 * 12.1.1); 100, failures and in-dialog responses do not. */
static void test_reply_record_route(void **st)
{
	char out[2048];
	const char *a, *b;

	(void)st;
	OK(NULL, "+Record-Route", "<sip:p1.example;lr>",
	   "+Record-Route", "<sip:p2.example;lr;transport=tls>");
	assert_true(reply(200, NULL, "s", out, sizeof(out)) > 0);
	a = strstr(out, "\r\nRecord-Route: <sip:p1.example;lr>\r\n");
	b = strstr(out, "\r\nRecord-Route: <sip:p2.example;lr;"
		   "transport=tls>\r\n");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
	assert_true(reply(180, NULL, "s", out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "Record-Route: <sip:p1.example;lr>"));
	assert_true(reply(100, NULL, "s", out, sizeof(out)) > 0);
	assert_null(strstr(out, "Record-Route"));
	assert_true(reply(486, NULL, "s", out, sizeof(out)) > 0);
	assert_null(strstr(out, "Record-Route"));
	OK(NULL, "To", "<sip:201@example.com>;tag=t", "+Record-Route",
	   "<sip:p1.example;lr>");
	assert_true(reply(200, NULL, "s", out, sizeof(out)) > 0);
	assert_null(strstr(out, "Record-Route"));
}

/* ---- responses -------------------------------------------------------- */

static void test_check_response(void **st)
{
	static const char *const ok =
		"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
		"CSeq: 7 OPTIONS\r\n\r\n";

	(void)st;
	assert_int_equal(parse(ok, true), 0);
	assert_int_equal(sipmsg_check_response(&m), 0);
	assert_int_equal(m.cseq, 7);
	slice_is(&m.via_branch, "z9hG4bK1");
	assert_int_equal(parse("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\n"
			       "CSeq: 7 OPTIONS\r\n\r\n", true), 0);
	assert_int_equal(sipmsg_check_response(&m), EBADMSG);
	assert_int_equal(parse("SIP/2.0 200 OK\r\nCSeq: 7 OPTIONS\r\n\r\n",
			       true), 0);
	assert_int_equal(sipmsg_check_response(&m), EBADMSG);
	assert_int_equal(parse("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;"
			       "branch=b\r\n\r\n", true), 0);
	assert_int_equal(sipmsg_check_response(&m), EBADMSG);
	assert_int_equal(parse("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;"
			       "branch=b\r\nCSeq: 1 A\r\nCSeq: 1 A\r\n\r\n",
			       true), 0);
	assert_int_equal(sipmsg_check_response(&m), EBADMSG);
	assert_int_equal(parse("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;"
			       "branch=b\r\nCSeq: x A\r\n\r\n", true), 0);
	assert_int_equal(sipmsg_check_response(&m), EBADMSG);
	assert_int_equal(parse("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;"
			       "branch=b\r\nCSeq: 1 A\r\nX\r\n\r\n", true), 0);
	assert_int_equal(sipmsg_check_response(&m), EBADMSG);
	assert_int_equal(parse("OPTIONS sip:a@b SIP/2.0\r\n\r\n", true), 0);
	assert_int_equal(sipmsg_check_response(&m), EBADMSG);
	assert_int_equal(sipmsg_check_response(NULL), EBADMSG);
}

/* NULL in, EINVAL or a refusal out: never a crash. */
static void test_null_args(void **st)
{
	const char *why = NULL;
	size_t ml;

	(void)st;
	assert_int_equal(sipmsg_parse(NULL, "x", 1, true), EINVAL);
	assert_int_equal(sipmsg_parse(&m, NULL, 0, true), EINVAL);
	assert_int_equal(sipmsg_frame("x", 1, NULL), EINVAL);
	assert_int_equal(sipmsg_frame(NULL, 1, &ml), EINVAL);
	assert_int_equal(sipmsg_check(NULL, &why), 400);
}

static void test_eq(void **st)
{
	struct sipmsg_str s = {"Via-x", 3};

	(void)st;
	assert_true(sipmsg_eq(&s, "via"));
	assert_true(sipmsg_eq(&s, "VIA"));
	assert_false(sipmsg_eq(&s, "vi"));
	assert_false(sipmsg_eq(&s, "via-"));
	s.l = 0;
	assert_true(sipmsg_eq(&s, ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_ok),
		cmocka_unit_test(test_max_len),
		cmocka_unit_test(test_max_hdrs),
		cmocka_unit_test(test_leading_empty_lines),
		cmocka_unit_test(test_head_end),
		cmocka_unit_test(test_status_line),
		cmocka_unit_test(test_request_line),
		cmocka_unit_test(test_request_uri),
		cmocka_unit_test(test_header_lines),
		cmocka_unit_test(test_header_names),
		cmocka_unit_test(test_proxy_authorization),
		cmocka_unit_test(test_header_count),
		cmocka_unit_test(test_required_and_single),
		cmocka_unit_test(test_cseq),
		cmocka_unit_test(test_call_id),
		cmocka_unit_test(test_from_to),
		cmocka_unit_test(test_via),
		cmocka_unit_test(test_max_forwards),
		cmocka_unit_test(test_expires),
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_require),
		cmocka_unit_test(test_contact_header),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_frame),
		cmocka_unit_test(test_frame_no_head_end),
		cmocka_unit_test(test_reply_to_tag),
		cmocka_unit_test(test_reply_shape),
		cmocka_unit_test(test_reply_record_route),
		cmocka_unit_test(test_check_response),
		cmocka_unit_test(test_null_args),
		cmocka_unit_test(test_eq),
	};

	return cmocka_run_group_tests(tests, NULL, teardown);
}
