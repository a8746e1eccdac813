/* Unit tests: the SIP stack's method table (sip/sipd.c) on an offline
 * sipd — the stack's own answers (OPTIONS, ACK, 405, 501), application
 * rows replacing them, the Allow header, the check hook, the response
 * hook, unregistering. */
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
#include <re_main.h>

#include "sip/sipd.h"
#include "sip/sipd_int.h"
#include "store/snapshot.h"

static char last[4096];
static size_t n_out;
static unsigned handled, responses;

static void out(enum sipd_tp tp, const struct sa *dst, const char *buf,
		size_t len, void *arg)
{
	(void)tp; (void)dst; (void)arg;
	n_out++;
	if (len >= sizeof(last))
		len = sizeof(last) - 1;
	memcpy(last, buf, len);
	last[len] = '\0';
}

static struct sipd *sd;

static int setup(void **st)
{
	struct snapshot *s = calloc(1, sizeof(*s));

	(void)st;
	assert_non_null(s);
	assert_int_equal(libre_init(), 0);
	assert_int_equal(sipd_alloc_offline(&sd, s, out, NULL), 0);
	n_out = handled = responses = 0;
	last[0] = '\0';
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	sipd_close(sd);
	sd = NULL;
	libre_close();
	return 0;
}

/* Send a request with method met; returns the status code answered, 0
 * when nothing was sent. */
static unsigned req(const char *met)
{
	char m[1024];
	struct sa src;
	size_t before = n_out;
	int n;

	n = snprintf(m, sizeof(m),
		     "%s sip:201@example.com SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK1\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:201@example.com>;tag=1\r\n"
		     "To: <sip:201@example.com>\r\n"
		     "Call-ID: c1\r\nCSeq: 1 %s\r\n"
		     "Content-Length: 0\r\n\r\n", met, met);
	sa_set_str(&src, "192.0.2.7", 5062);
	sipd_input(sd, SIPD_UDP, &src, 0, m, (size_t)n);
	if (n_out == before)
		return 0;
	return (unsigned)atoi(last + 8);
}

static void h_ok(struct sipd_req *rq, void *arg)
{
	(void)arg;
	handled++;
	sipd_reply(rq, 202, "Taken", NULL, 0);
}

static unsigned c_refuse(const struct sipd_req *rq, const char **reason,
			 void *arg)
{
	(void)rq; (void)arg;
	*reason = "Not Here";
	return 480;
}

static void on_response(struct sipd *s, struct sipmsg *m,
			const struct sa *src, void *arg)
{
	(void)s; (void)m; (void)src; (void)arg;
	responses++;
}

static const struct sipd_method rows_a[] = {
	{ "REGISTER", 0, NULL, h_ok },
	{ "MESSAGE", 0, NULL, h_ok },
};
static const struct sipd_app app_a = {
	.name = "a", .methods = rows_a, .n_methods = 2,
	.response = on_response,
};
static const struct sipd_method rows_b[] = {
	{ "REGISTER", 0, NULL, h_ok },
};
static const struct sipd_app app_b = {
	.name = "b", .methods = rows_b, .n_methods = 1,
};
static const struct sipd_method rows_c[] = {
	{ "SUBSCRIBE", 0, c_refuse, h_ok },
};
static const struct sipd_app app_c = {
	.name = "c", .methods = rows_c, .n_methods = 1,
};

/* Without applications the stack answers by itself. */
static void test_own_answers(void **st)
{
	(void)st;
	assert_int_equal(req("OPTIONS"), 200);
	assert_non_null(strstr(last, "\r\nAllow: OPTIONS\r\n"));
	assert_non_null(strstr(last, "\r\nAccept: application/sdp\r\n"));
	assert_int_equal(req("ACK"), 0);
	assert_int_equal(req("REGISTER"), 405);
	assert_non_null(strstr(last, "\r\nAllow: OPTIONS\r\n"));
	assert_int_equal(req("INVITE"), 405);
	assert_int_equal(req("FOO"), 501);
	assert_non_null(strstr(last, "\r\nAllow: OPTIONS\r\n"));
}

/* An application's rows replace the 405, extend Allow in registration
 * order, and belong to one application only. */
static void test_app_rows(void **st)
{
	(void)st;
	assert_int_equal(sipd_app_register(sd, &app_a, &handled), 0);
	assert_int_equal(req("REGISTER"), 202);
	assert_int_equal(req("MESSAGE"), 202);
	assert_int_equal(handled, 2);
	assert_int_equal(req("register"), 501);   /* tokens are exact */
	assert_int_equal(req("OPTIONS"), 200);
	assert_non_null(strstr(last,
			       "\r\nAllow: REGISTER, MESSAGE, OPTIONS\r\n"));
	assert_int_equal(req("INVITE"), 405);
	assert_non_null(strstr(last,
			       "\r\nAllow: REGISTER, MESSAGE, OPTIONS\r\n"));
	assert_int_equal(sipd_app_register(sd, &app_b, NULL), EEXIST);
	assert_int_equal(sipd_app_register(sd, NULL, NULL), EINVAL);
	/* gone again: the stack's answers come back */
	sipd_app_unregister(sd, &handled);
	assert_int_equal(req("REGISTER"), 405);
	assert_non_null(strstr(last, "\r\nAllow: OPTIONS\r\n"));
	assert_int_equal(req("MESSAGE"), 405);
	assert_int_equal(sipd_app_register(sd, &app_b, NULL), 0);
	assert_int_equal(req("REGISTER"), 202);
}

/* A row's check answers before the handler runs. */
static void test_check(void **st)
{
	(void)st;
	assert_int_equal(sipd_app_register(sd, &app_c, NULL), 0);
	assert_int_equal(req("SUBSCRIBE"), 480);
	assert_non_null(strstr(last, "SIP/2.0 480 Not Here\r\n"));
	assert_int_equal(handled, 0);
}

/* Responses go to the applications' response hooks, never answered. */
static void test_response_hook(void **st)
{
	static const char resp[] =
		"SIP/2.0 200 OK\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx\r\n"
		"From: <sip:a@example.com>;tag=1\r\n"
		"To: <sip:201@example.com>;tag=2\r\n"
		"Call-ID: q1\r\nCSeq: 1 OPTIONS\r\n"
		"Content-Length: 0\r\n\r\n";
	struct sa src;

	(void)st;
	assert_int_equal(sipd_app_register(sd, &app_a, NULL), 0);
	sa_set_str(&src, "192.0.2.7", 5062);
	sipd_input(sd, SIPD_UDP, &src, 0, resp, sizeof(resp) - 1);
	assert_int_equal(responses, 1);
	assert_int_equal(n_out, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_own_answers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_app_rows, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_response_hook, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
