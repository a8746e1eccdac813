/*
 * test_callerid — caller ID presentation (defaults, custom, override),
 * the trunk precedence, PAI/RPID and Alert-Info header lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "call/callerid.h"

static void ext(struct snap_ext *x, const char *num, const char *name)
{
	memset(x, 0, sizeof(*x));
	strcpy(x->number, num);
	strcpy(x->name, name);
	x->send_pai = true;
}

/* The custom caller IDs and Alert-Info of the tests' extensions live
 * here (one extension per test at a time: x->cid points at it). */
static struct snap_cid cids;

static struct snap_cid *cid_of(struct snap_ext *x)
{
	if (!x->cid) {
		memset(&cids, 0, sizeof(cids));
		x->cid = &cids;
	}
	return &cids;
}

static void custom(struct snap_ext *x, enum cid_kind k, const char *name,
		   const char *num)
{
	struct snap_cid *c = cid_of(x);

	c->k[k].custom = true;
	strcpy(c->k[k].name, name);
	strcpy(c->k[k].number, num);
}

static void test_defaults(void **state)
{
	struct snap_ext x;
	struct cid c;

	(void)state;
	ext(&x, "2001", "Alice Smith");
	for (int k = CID_INTERNAL; k <= CID_EMERGENCY; k++) {
		callerid_for(&x, (enum cid_kind)k, &c);
		assert_string_equal(c.name, "Alice Smith");
		assert_string_equal(c.number, "2001");
	}
	callerid_for(NULL, CID_INTERNAL, &c);
	assert_string_equal(c.name, "");
	assert_string_equal(c.number, "");
	/* no name: number only */
	ext(&x, "2002", "");
	callerid_for(&x, CID_INTERNAL, &c);
	assert_string_equal(c.name, "");
	assert_string_equal(c.number, "2002");
}

static void test_custom(void **state)
{
	struct snap_ext x;
	struct cid c;

	(void)state;
	ext(&x, "2001", "Alice Smith");
	custom(&x, CID_INTERNAL, "Reception", "2000");
	custom(&x, CID_EXTERNAL, "ACME Inc", "+15145550100");
	callerid_for(&x, CID_INTERNAL, &c);
	assert_string_equal(c.name, "Reception");
	assert_string_equal(c.number, "2000");
	callerid_for(&x, CID_EXTERNAL, &c);
	assert_string_equal(c.name, "ACME Inc");
	assert_string_equal(c.number, "+15145550100");
	/* emergency left at its default */
	callerid_for(&x, CID_EMERGENCY, &c);
	assert_string_equal(c.name, "Alice Smith");
	assert_string_equal(c.number, "2001");
	/* a custom number with no name: no display name */
	custom(&x, CID_INTERNAL, "", "2000");
	callerid_for(&x, CID_INTERNAL, &c);
	assert_string_equal(c.name, "");
	assert_string_equal(c.number, "2000");
}

static void test_override(void **state)
{
	static const char quoted[] = "\"Front Desk\"";
	struct snap_ext x;
	struct cid c;

	(void)state;
	ext(&x, "2001", "Alice Smith");
	/* not allowed: the phone's display is ignored */
	callerid_internal(&x, quoted, strlen(quoted), &c);
	assert_string_equal(c.name, "Alice Smith");
	assert_string_equal(c.number, "2001");
	x.cid_override = true;
	callerid_internal(&x, quoted, strlen(quoted), &c);
	assert_string_equal(c.name, "Front Desk");
	assert_string_equal(c.number, "2001");     /* never the phone's */
	callerid_internal(&x, "Bob", 3, &c);       /* a token, unquoted */
	assert_string_equal(c.name, "Bob");
	/* refused: empty, an escape inside, control, too long */
	callerid_internal(&x, "\"\"", 2, &c);
	assert_string_equal(c.name, "Alice Smith");
	callerid_internal(&x, "\"a\\\"b\"", 6, &c);
	assert_string_equal(c.name, "Alice Smith");
	callerid_internal(&x, "\"a\rb\"", 5, &c);
	assert_string_equal(c.name, "Alice Smith");
	{
		char big[80];

		memset(big, 'x', sizeof(big));
		callerid_internal(&x, big, sizeof(big), &c);
		assert_string_equal(c.name, "Alice Smith");
	}
	callerid_internal(&x, NULL, 0, &c);
	assert_string_equal(c.name, "Alice Smith");
	/* the override applies over a custom internal caller ID too */
	custom(&x, CID_INTERNAL, "Reception", "2000");
	callerid_internal(&x, quoted, strlen(quoted), &c);
	assert_string_equal(c.name, "Front Desk");
	assert_string_equal(c.number, "2000");
}

static void test_trunk(void **state)
{
	struct snap_ext x;
	struct cid line = { "Main Line", "+15145550000" }, c;

	(void)state;
	ext(&x, "2001", "Alice Smith");
	/* no line ANI: the extension's external (default) */
	callerid_trunk(&x, CID_EXTERNAL, NULL, &c);
	assert_string_equal(c.number, "2001");
	/* the line's ANI wins without override */
	callerid_trunk(&x, CID_EXTERNAL, &line, &c);
	assert_string_equal(c.number, "+15145550000");
	assert_string_equal(c.name, "Main Line");
	custom(&x, CID_EXTERNAL, "Alice", "+15145550101");
	callerid_trunk(&x, CID_EXTERNAL, &line, &c);
	assert_string_equal(c.number, "+15145550000");
	x.cid_override = true;
	callerid_trunk(&x, CID_EXTERNAL, &line, &c);
	assert_string_equal(c.number, "+15145550101");
	/* emergency: its custom caller ID over everything */
	x.cid_override = false;
	callerid_trunk(&x, CID_EMERGENCY, &line, &c);
	assert_string_equal(c.number, "+15145550000");
	custom(&x, CID_EMERGENCY, "Alice 3rd floor", "+15145550199");
	callerid_trunk(&x, CID_EMERGENCY, &line, &c);
	assert_string_equal(c.number, "+15145550199");
	assert_string_equal(c.name, "Alice 3rd floor");
	/* an empty line ANI is none */
	memset(&line, 0, sizeof(line));
	cids.k[CID_EMERGENCY].custom = false;
	callerid_trunk(&x, CID_EMERGENCY, &line, &c);
	assert_string_equal(c.number, "+15145550101");
}

static void test_hdr_ok(void **state)
{
	char big[140];

	(void)state;
	assert_true(callerid_hdr_ok("<http://x.invalid>;info=alert-autoanswer"));
	assert_true(callerid_hdr_ok("Bellcore-dr2"));
	assert_false(callerid_hdr_ok(""));
	assert_false(callerid_hdr_ok(NULL));
	assert_false(callerid_hdr_ok("ring\r\nP-Asserted-Identity: x"));
	assert_false(callerid_hdr_ok("ring\n"));
	assert_false(callerid_hdr_ok(" ring"));
	assert_false(callerid_hdr_ok("ring "));
	assert_false(callerid_hdr_ok("sonnerie-\xc3\xa9"));
	memset(big, 'a', sizeof(big));
	big[128] = '\0';
	assert_true(callerid_hdr_ok(big));
	big[128] = 'a';
	big[129] = '\0';
	assert_false(callerid_hdr_ok(big));
}

static void test_invite_hdrs(void **state)
{
	struct snap_ext to;
	struct cid id = { "Alice Smith", "2001" };
	char buf[512];
	size_t off;

	(void)state;
	ext(&to, "2002", "Bob");
	off = callerid_invite_hdrs(buf, sizeof(buf), 0, &to, &id, "pbx.test");
	assert_string_equal(buf, "P-Asserted-Identity: \"Alice Smith\" "
			    "<sip:2001@pbx.test>\r\n");
	assert_int_equal(off, strlen(buf));
	to.send_pai = false;
	to.send_rpid = true;
	strcpy(cid_of(&to)->alert_info, "<http://x.invalid>;info=alert-autoanswer");
	off = callerid_invite_hdrs(buf, sizeof(buf), 0, &to, &id, "pbx.test");
	assert_int_equal(off, strlen(buf));
	assert_string_equal(buf, "Remote-Party-ID: \"Alice Smith\" "
			    "<sip:2001@pbx.test>;party=calling;screen=yes;"
			    "privacy=off\r\nAlert-Info: <http://x.invalid>;"
			    "info=alert-autoanswer\r\n");
	/* neither: nothing */
	to.send_rpid = false;
	cid_of(&to)->alert_info[0] = '\0';
	buf[0] = '\0';
	assert_int_equal(callerid_invite_hdrs(buf, sizeof(buf), 0, &to, &id,
					      "pbx.test"), 0);
	/* a stored value that would inject a header is left out */
	to.send_pai = true;
	strcpy(cid_of(&to)->alert_info, "x\r\nFoo: bar");
	off = callerid_invite_hdrs(buf, sizeof(buf), 0, &to, &id, "pbx.test");
	assert_int_equal(off, strlen(buf));
	assert_null(strstr(buf, "Alert-Info"));
	assert_null(strstr(buf, "Foo"));
	/* appended at off; a line that does not fit is absent, whole */
	strcpy(buf, "X: y\r\n");
	off = callerid_invite_hdrs(buf, sizeof(buf), 6, &to, &id, "pbx.test");
	assert_true(!strncmp(buf, "X: y\r\nP-Asserted-Identity:", 26));
	assert_int_equal(off, strlen(buf));
	off = callerid_invite_hdrs(buf, 30, 6, &to, &id, "pbx.test");
	assert_int_equal(off, 6);
	assert_string_equal(buf, "X: y\r\n");
	/* no name: no display part; a bad number: no identity */
	id.name[0] = '\0';
	off = callerid_invite_hdrs(buf, sizeof(buf), 0, &to, &id, "pbx.test");
	assert_int_equal(off, strlen(buf));
	assert_string_equal(buf, "P-Asserted-Identity: <sip:2001@pbx.test>\r\n");
	strcpy(id.number, "20 01>");
	buf[0] = '\0';
	assert_int_equal(callerid_invite_hdrs(buf, sizeof(buf), 0, &to, &id,
					      "pbx.test"), 0);
}

static void test_answer_hdrs(void **state)
{
	struct snap_ext a;
	struct cid id = { "Bob", "2002" };
	char buf[256];

	(void)state;
	ext(&a, "2001", "Alice");
	strcpy(cid_of(&a)->alert_info, "ring2");   /* not for the caller's 200 */
	callerid_answer_hdrs(buf, sizeof(buf), 0, &a, &id, "pbx.test");
	assert_string_equal(buf, "P-Asserted-Identity: \"Bob\" "
			    "<sip:2002@pbx.test>\r\n");
	a.send_pai = false;
	a.send_rpid = true;
	callerid_answer_hdrs(buf, sizeof(buf), 0, &a, &id, "pbx.test");
	assert_string_equal(buf, "Remote-Party-ID: \"Bob\" <sip:2002@pbx.test>"
			    ";party=called;screen=yes;privacy=off\r\n");
	a.send_rpid = false;
	assert_int_equal(callerid_answer_hdrs(buf, sizeof(buf), 0, &a, &id,
					      "pbx.test"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_custom),
		cmocka_unit_test(test_override),
		cmocka_unit_test(test_trunk),
		cmocka_unit_test(test_hdr_ok),
		cmocka_unit_test(test_invite_hdrs),
		cmocka_unit_test(test_answer_hdrs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
