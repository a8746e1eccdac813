/* Unit tests: the SIP parser and the stateless reply writer (sip/sipmsg).
 * Each message is copied into a heap buffer of exactly its length, so
 * ASan sees any read past its end. */
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

/* Parse and check s (datagram), then write a 400 reply for a source
 * address; the reply is returned NUL-terminated in out. */
static unsigned reply_to(const char *s, size_t len, char *out, size_t outsz)
{
	char *buf = malloc(len ? len : 1);
	const char *why = NULL;
	struct sa src;
	unsigned code;
	size_t n;

	assert_non_null(buf);
	memcpy(buf, s, len);
	assert_int_equal(sipmsg_parse(&m, buf, len, true), 0);
	code = sipmsg_check(&m, &why);
	sa_set_str(&src, "192.0.2.7", 5071);
	n = sipmsg_reply(&m, &src, code ? code : 200, "X", NULL, 0, NULL,
			 out, outsz - 1);
	assert_true(n > 0);
	out[n] = '\0';
	free(buf);
	return code;
}

/* The 63-byte datagram that killed the daemon (issue 8): the top Via has
 * ";rport;" (an empty parameter after rport) and lines end in bare LF.
 * The via-parm fails after rport was seen; the writer used to subtract
 * offsets that were never set. */
static void test_via_rport_then_bad_param(void **st)
{
	static const char msg[] =
		"R . SIP/2.0\nV:SIP/2.0/U 9;rport;\nF:i:I\nT:R:b\n"
		"Call-ID:1\nCSeq:2 R";
	char out[2048];

	(void)st;
	assert_int_equal(sizeof(msg) - 1, 63);
	assert_int_equal(reply_to(msg, sizeof(msg) - 1, out, sizeof(out)),
			 400);
	/* echoed unchanged: no received=, no rport filled in */
	assert_non_null(strstr(out, "\r\nVia: SIP/2.0/U 9;rport;\r\n"));
	assert_null(strstr(out, "received="));
}

/* A broken top Via is echoed as it came; the second Via is not taken for
 * the top one (it used to get received= glued onto it). */
static void test_bad_top_via_echoed(void **st)
{
	static const char msg[] =
		"OPTIONS sip:201@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP host.example.com;branch=z9hG4bK1;=x\r\n"
		"Via: SIP/2.0/UDP relay.example.com;branch=z9hG4bK2;rport\r\n"
		"From: <sip:a@example.com>;tag=1\r\n"
		"To: <sip:201@example.com>\r\n"
		"Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
		"Content-Length: 0\r\n\r\n";
	char out[2048];

	(void)st;
	assert_int_equal(reply_to(msg, sizeof(msg) - 1, out, sizeof(out)),
			 400);
	assert_non_null(strstr(out, "\r\nVia: SIP/2.0/UDP host.example.com;"
			       "branch=z9hG4bK1;=x\r\n"));
	assert_non_null(strstr(out, "\r\nVia: SIP/2.0/UDP relay.example.com;"
			       "branch=z9hG4bK2;rport\r\n"));
	assert_null(strstr(out, "received="));
}

/* A good top Via gets received= and rport filled in (RFC 3581), the rest
 * of its parameters kept in order. */
static void test_good_via_rport(void **st)
{
	static const char msg[] =
		"OPTIONS sip:201@example.com SIP/2.0\n"
		"Via: SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bKx\n"
		"From: <sip:a@example.com>;tag=1\n"
		"To: <sip:201@example.com>\n"
		"Call-ID: c1\nCSeq: 1 OPTIONS\nMax-Forwards: 70\n\n";
	char out[2048];

	(void)st;
	assert_int_equal(reply_to(msg, sizeof(msg) - 1, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;"
			       "branch=z9hG4bKx;received=192.0.2.7;"
			       "rport=5071\r\n"));
}

/* The reply writer never writes past its buffer, whatever the sizes. */
static void test_reply_bounded(void **st)
{
	static const char msg[] =
		"OPTIONS sip:201@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bKx\r\n"
		"From: <sip:a@example.com>;tag=1\r\n"
		"To: <sip:201@example.com>\r\n"
		"Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\r\n";
	char out[4096];
	const char *why = NULL;
	struct sa src;
	size_t full;

	(void)st;
	assert_int_equal(sipmsg_parse(&m, msg, sizeof(msg) - 1, true), 0);
	assert_int_equal(sipmsg_check(&m, &why), 0);
	sa_set_str(&src, "192.0.2.7", 5071);
	full = sipmsg_reply(&m, &src, 200, "OK", NULL, 0, NULL, out,
			    sizeof(out));
	assert_true(full > 0);
	for (size_t cap = 0; cap < full; cap++) {
		char *b = malloc(cap ? cap : 1);

		assert_non_null(b);
		assert_int_equal(sipmsg_reply(&m, &src, 200, "OK", NULL, 0,
					      NULL, b, cap), 0);
		free(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_via_rport_then_bad_param),
		cmocka_unit_test(test_bad_top_via_echoed),
		cmocka_unit_test(test_good_via_rport),
		cmocka_unit_test(test_reply_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
