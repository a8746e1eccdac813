/* Unit tests: the REGISTER decision (registrar/register.c, reg_decide)
 * over a typed request, an extension of a fake snapshot, the bindings and
 * a fake clock — no sockets, no digest: what the credentials are worth
 * is an input (struct auth_check), as auth_verify would fill it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "registrar/reg_priv.h"
#include "store/snapshot.h"

#define NOW 1700000000

static const struct sipd_settings set = {
	.realm = "bulwark",
	.min_expires = 60, .max_expires = 1800, .default_expires = 900,
	.nonce_ttl = 300, .qualify_interval = 60, .keepalive_interval = 30,
	.max_bindings = 100,
};

static struct snap_ext ext;
static struct reg_loc *loc;

static int setup(void **st)
{
	(void)st;
	memset(&ext, 0, sizeof(ext));
	strcpy(ext.number, "201");
	ext.auth = true;
	ext.algs_pref[0] = SNAP_ALG_SHA256;
	ext.max_contacts = 2;
	ext.transports = SNAP_TP_UDP | SNAP_TP_TCP;
	assert_int_equal(reg_loc_alloc(&loc, 100), 0);
	loc->nc_keep = set.nonce_ttl + 60;
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	loc = mem_deref(loc);
	return 0;
}

/* A request from 201 over UDP whose password was right, with a fresh
 * nonce (issued at NOW - 5) and nonce count, and one Contact. */
static void base(struct reg_in *in, int64_t expires)
{
	static const char cid[] = "call-1@phone";

	memset(in, 0, sizeof(*in));
	in->x = &ext;
	in->auth.outcome = AUTH_VERDICT;
	in->auth.res = GUARD_AUTH_OK;
	in->auth.have = true;
	in->auth.nid = (uint64_t)(NOW - 5) << 32 | 7;
	in->auth.nc = 1;
	in->nc_ok = true;
	in->tp = SIPD_UDP;
	in->call_id.p = cid;
	in->call_id.l = sizeof(cid) - 1;
	in->cseq = 1;
	in->tag = reg_req_tag(cid, sizeof(cid) - 1, 1);
	sa_set_str(&in->src, "192.0.2.7", 5062);
	in->c[0].uri.p = "sip:201@192.0.2.7:5062";
	in->c[0].uri.l = strlen(in->c[0].uri.p);
	in->c[0].expires = expires;
	in->n = 1;
}

static void test_no_credentials_challenged(void **st)
{
	struct reg_in in;
	struct reg_decision d;

	(void)st;
	base(&in, 600);
	in.auth.outcome = AUTH_CHALLENGE;
	reg_decide(&in, &set, loc, NOW, &d);
	assert_int_equal(d.what, REG_DO_CHALLENGE);
	assert_false(d.stale);
	assert_false(d.report);
}

/* Unknown user and wrong password get the one failure answer, and both
 * verdicts go to the guard. */
static void test_failures_look_alike(void **st)
{
	static const enum guard_auth bad[] = {
		GUARD_AUTH_BAD_PASSWORD, GUARD_AUTH_UNKNOWN_USER,
		GUARD_AUTH_STALE, GUARD_AUTH_MISMATCH, GUARD_AUTH_MALFORMED,
	};
	struct reg_in in;
	struct reg_decision d;

	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		base(&in, 600);
		in.auth.res = bad[i];
		if (bad[i] == GUARD_AUTH_UNKNOWN_USER)
			in.x = NULL;
		reg_decide(&in, &set, loc, NOW, &d);
		assert_int_equal(d.what, REG_DO_REJECT);
		assert_int_equal(d.code, 403);
		assert_string_equal(d.reason, "Forbidden");
		assert_true(d.report);
		assert_true(d.failed);
		assert_int_equal(d.res, bad[i]);
	}
}

/* Expiry: the default when none is given, clamped to max_expires, 0
 * removes, below min_expires is 423 (after the verdict was reported). */
static void test_expiry(void **st)
{
	struct reg_in in;
	struct reg_decision d;

	(void)st;
	base(&in, -1);
	reg_decide(&in, &set, loc, NOW, &d);
	assert_int_equal(d.what, REG_DO_APPLY);
	assert_true(d.report);
	assert_int_equal(d.res, GUARD_AUTH_OK);
	assert_int_equal(d.rq.n, 1);
	assert_int_equal(d.rq.c[0].expires, 900);
	assert_string_equal(d.rq.number, "201");
	assert_int_equal(d.rq.max_contacts, 2);

	base(&in, 86400);
	reg_decide(&in, &set, loc, NOW, &d);
	assert_int_equal(d.what, REG_DO_APPLY);
	assert_int_equal(d.rq.c[0].expires, 1800);

	base(&in, 0);
	reg_decide(&in, &set, loc, NOW, &d);
	assert_int_equal(d.what, REG_DO_APPLY);
	assert_int_equal(d.rq.c[0].expires, 0);

	base(&in, 59);
	reg_decide(&in, &set, loc, NOW, &d);
	assert_int_equal(d.what, REG_DO_REJECT);
	assert_int_equal(d.code, 423);
	assert_true(d.min_expires);
	assert_true(d.report);
	assert_false(d.failed);
}

/* Contact problems found while gathering are answered only to a request
 * whose credentials are right; to anyone else the failure answer. */
static void test_contact_problems(void **st)
{
	static const struct {
		enum reg_cerr cerr;
		unsigned code;
		const char *reason;
	} t[] = {
		{ REG_CERR_BAD_CONTACT, 400, "Bad Contact" },
		{ REG_CERR_BAD_EXPIRES, 400, "Bad Expires" },
		{ REG_CERR_TOO_MANY, 403, "Too Many Contacts" },
	};
	struct reg_in in;
	struct reg_decision d;

	(void)st;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		base(&in, 600);
		in.cerr = t[i].cerr;
		reg_decide(&in, &set, loc, NOW, &d);
		assert_int_equal(d.what, REG_DO_REJECT);
		assert_int_equal(d.code, t[i].code);
		assert_string_equal(d.reason, t[i].reason);
		in.auth.res = GUARD_AUTH_BAD_PASSWORD;
		reg_decide(&in, &set, loc, NOW, &d);
		assert_string_equal(d.reason, "Forbidden");
	}
	/* a contact too brief comes before a later one's syntax error */
	base(&in, 10);
	in.cerr = REG_CERR_BAD_CONTACT;
	reg_decide(&in, &set, loc, NOW, &d);
	assert_int_equal(d.code, 423);
	/* Contact: * with other contacts */
	base(&in, 0);
	in.star = true;
	reg_decide(&in, &set, loc, NOW, &d);
	assert_int_equal(d.code, 400);
	assert_string_equal(d.reason, "Bad Contact");
	in.n = 0;
	reg_decide(&in, &set, loc, NOW, &d);
	assert_int_equal(d.what, REG_DO_APPLY);
	assert_true(d.rq.star);
}

/* The right password over a transport the extension does not allow:
 * the verdict says so, and so does the answer. */
static void test_transport_refused(void **st)
{
	struct reg_in in;
	struct reg_decision d;

	(void)st;
	base(&in, 600);
	in.tp = SIPD_TCP;
	ext.transports = SNAP_TP_UDP;
	reg_decide(&in, &set, loc, NOW, &d);
	assert_int_equal(d.what, REG_DO_REJECT);
	assert_int_equal(d.res, GUARD_AUTH_TRANSPORT);
	assert_string_equal(d.reason, "Transport Not Allowed");
	assert_true(d.failed);
}

/* A stale nonce or a used nonce count: a new challenge, stale=true,
 * nothing reported. */
static void test_stale_and_replay(void **st)
{
	struct reg_in in;
	struct reg_decision d;

	(void)st;
	base(&in, 600);
	in.auth.stale = true;
	reg_decide(&in, &set, loc, NOW, &d);
	assert_int_equal(d.what, REG_DO_CHALLENGE);
	assert_true(d.stale);
	assert_false(d.report);

	base(&in, 600);
	in.nc_ok = false;
	reg_decide(&in, &set, loc, NOW, &d);
	assert_int_equal(d.what, REG_DO_CHALLENGE);
	assert_true(d.stale);
}

/* A retransmission of the accepted REGISTER (same nonce, nc, Call-ID and
 * CSeq) within 64*T1 of the nonce: 200 with the bindings, changed
 * nothing; later, or when the bindings moved on, a new challenge. */
static void test_retransmission(void **st)
{
	struct reg_in in;
	struct reg_decision d;

	(void)st;
	base(&in, 600);
	assert_int_equal(reg_nc_check(loc, "201", 3, in.auth.nid, in.auth.nc,
				      in.tag), 0);
	reg_decide(&in, &set, loc, NOW, &d);
	assert_int_equal(d.what, REG_DO_APPLY);
	assert_int_equal(reg_apply(loc, &d.rq, NOW, NULL, NULL), 0);

	/* the same request again: its nonce count is no longer fresh */
	in.nc_ok = false;
	reg_decide(&in, &set, loc, NOW + 2, &d);
	assert_int_equal(d.what, REG_DO_BINDINGS);
	assert_false(d.report);

	/* past the server transaction's lifetime */
	reg_decide(&in, &set, loc, NOW - 5 + REG_RETRANS_S + 1, &d);
	assert_int_equal(d.what, REG_DO_CHALLENGE);
	assert_true(d.stale);

	/* another request (CSeq) with the same nonce count: a replay */
	in.tag ^= 1;
	reg_decide(&in, &set, loc, NOW + 2, &d);
	assert_int_equal(d.what, REG_DO_CHALLENGE);
	in.tag ^= 1;

	/* the bindings no longer reflect it (cleared meanwhile) */
	reg_ext_clear(loc, reg_ext_find(loc, "201", 3), NULL, NULL);
	reg_decide(&in, &set, loc, NOW + 2, &d);
	assert_int_equal(d.what, REG_DO_CHALLENGE);
	assert_true(d.stale);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_credentials_challenged,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures_look_alike,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_contact_problems,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_and_replay,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_retransmission,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
