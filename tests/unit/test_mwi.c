/*
 * test_mwi — the pure parts of MWI (src/voicemail/mwi_body.c): the
 * message-summary body, the Event and Accept values of a SUBSCRIBE, the
 * Expires rule. The protocol (SUBSCRIBE, NOTIFY, refresh, expiry, the
 * caps) is tested against the daemon: tests/integration/test_mwi.py.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "voicemail/mwi.h"

static void test_body(void **state)
{
	char b[256];
	size_t n;

	(void)state;
	n = mwi_body(b, sizeof(b), "201", "pbx.example", 0, 0);
	assert_int_equal(n, strlen(b));
	assert_string_equal(b, "Messages-Waiting: no\r\n"
			    "Message-Account: sip:201@pbx.example\r\n"
			    "Voice-Message: 0/0 (0/0)\r\n");
	n = mwi_body(b, sizeof(b), "4711", "bulwark", 2, 13);
	assert_string_equal(b, "Messages-Waiting: yes\r\n"
			    "Message-Account: sip:4711@bulwark\r\n"
			    "Voice-Message: 2/13 (0/0)\r\n");
	assert_int_equal(n, strlen(b));
	/* saved messages only: the lamp is off */
	mwi_body(b, sizeof(b), "201", "r", 0, 5);
	assert_non_null(strstr(b, "Messages-Waiting: no\r\n"));
	assert_non_null(strstr(b, "Voice-Message: 0/5 (0/0)\r\n"));
	/* it does not fit: nothing (never a cut body) */
	assert_int_equal(mwi_body(b, 20, "201", "bulwark", 1, 1), 0);
	assert_int_equal(mwi_body(b, sizeof(b), NULL, "bulwark", 1, 1), 0);
}

static int ev(const char *s, struct mwi_event *e)
{
	return mwi_event_parse(s, strlen(s), e);
}

static void test_event(void **state)
{
	struct mwi_event e;
	char longid[MWI_ID_MAX + 40];

	(void)state;
	assert_int_equal(ev("message-summary", &e), 0);
	assert_true(e.msum);
	assert_string_equal(e.id, "");
	assert_int_equal(ev("Message-Summary", &e), 0);
	assert_true(e.msum);
	assert_int_equal(ev(" message-summary ;id=a7.b ; x=\"q;,\\\"\" ;y",
			    &e), 0);
	assert_true(e.msum);
	assert_string_equal(e.id, "a7.b");
	assert_int_equal(ev("presence", &e), 0);
	assert_false(e.msum);
	assert_int_equal(ev("message-summary.winfo", &e), 0);
	assert_false(e.msum);
	assert_int_equal(ev("message-summaryx", &e), 0);
	assert_false(e.msum);
	/* malformed */
	assert_int_equal(ev("", &e), EBADMSG);
	assert_int_equal(ev("   ", &e), EBADMSG);
	assert_int_equal(ev(";id=1", &e), EBADMSG);
	assert_int_equal(ev("message-summary;", &e), EBADMSG);
	assert_int_equal(ev("message-summary id", &e), EBADMSG);
	assert_int_equal(ev("message-summary;id=", &e), EBADMSG);
	assert_int_equal(ev("message-summary;id", &e), EBADMSG);
	assert_int_equal(ev("message-summary;id=\"x\"", &e), EBADMSG);
	assert_int_equal(ev("message-summary;id=1;id=2", &e), EBADMSG);
	assert_int_equal(ev("message-summary;x=\"open", &e), EBADMSG);
	assert_int_equal(ev("message-summary,presence", &e), EBADMSG);
	assert_int_equal(ev("message summary", &e), EBADMSG);
	/* the id's bound */
	memset(longid, 'a', sizeof(longid));
	memcpy(longid, "message-summary;id=", 19);
	longid[19 + MWI_ID_MAX] = '\0';
	assert_int_equal(ev(longid, &e), 0);
	assert_int_equal(strlen(e.id), MWI_ID_MAX);
	longid[19 + MWI_ID_MAX] = 'a';
	longid[19 + MWI_ID_MAX + 1] = '\0';
	assert_int_equal(ev(longid, &e), EBADMSG);
	/* not NUL-terminated: only l octets are read */
	assert_int_equal(mwi_event_parse("message-summary;id=9zzz", 20, &e),
			 0);
	assert_string_equal(e.id, "9");
	assert_int_equal(mwi_event_parse(NULL, 0, &e), EBADMSG);
	assert_int_equal(mwi_event_parse("x", 1, NULL), EINVAL);
}

static bool acc(const char *s)
{
	return mwi_accepts(s, strlen(s));
}

static void test_accept(void **state)
{
	(void)state;
	assert_true(acc("application/simple-message-summary"));
	assert_true(acc("Application/Simple-Message-Summary"));
	assert_true(acc("application/sdp, application/simple-message-summary"
			";q=0.5"));
	assert_true(acc("text/plain;x=\"a,b\", application/*"));
	assert_true(acc("*/*"));
	assert_false(acc("application/pidf+xml"));
	assert_false(acc("text/plain;x=\"application/simple-message-summary"
			 "\""));
	assert_false(acc("application/simple-message-summaryx"));
	assert_false(acc(""));
	assert_false(acc("application"));
	assert_false(acc("application/"));
	assert_false(acc("text/plain;x=\"open"));
	assert_false(mwi_accepts(NULL, 0));
}

static void test_expires(void **state)
{
	uint32_t g = 0;

	(void)state;
	assert_int_equal(mwi_expires(-1, &g), MWI_EXP_OK);
	assert_int_equal(g, MWI_EXPIRES_DEF);
	assert_int_equal(mwi_expires(0, &g), MWI_EXP_END);
	assert_int_equal(mwi_expires(1, &g), MWI_EXP_BRIEF);
	assert_int_equal(mwi_expires(MWI_EXPIRES_MIN - 1, &g), MWI_EXP_BRIEF);
	assert_int_equal(mwi_expires(MWI_EXPIRES_MIN, &g), MWI_EXP_OK);
	assert_int_equal(g, MWI_EXPIRES_MIN);
	assert_int_equal(mwi_expires(600, &g), MWI_EXP_OK);
	assert_int_equal(g, 600);
	assert_int_equal(mwi_expires(MWI_EXPIRES_MAX + 1, &g), MWI_EXP_OK);
	assert_int_equal(g, MWI_EXPIRES_MAX);
	assert_int_equal(mwi_expires(INT64_MAX, &g), MWI_EXP_OK);
	assert_int_equal(g, MWI_EXPIRES_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_event),
		cmocka_unit_test(test_accept),
		cmocka_unit_test(test_expires),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
