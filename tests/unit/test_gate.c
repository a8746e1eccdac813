/*
 * Unit tests of the gates (issue 13): where they sit among the routing
 * rules (call/route.c: blacklist, call password, personal IVR, then the
 * forwards; a hand-on does not ask a passed gate again) and the pure
 * rules of the flows (voicemail/gate_rules.c: the personal IVR's keys,
 * what can be a password, wrong passwords per source).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "call/route.h"
#include "model/model.h"
#include "store/snapshot.h"
#include "voicemail/gate_rules.h"

/* sorted by number, as the store builds it */
enum { E201, E202, E203, E204, E600, NEXT };
static struct snap_ext ext[NEXT];
static struct snapshot snap;
static struct snap_feat feat[NEXT];
static char black[NEXT][4][SNAP_NUM];
static unsigned contacts_of[NEXT], in_of[NEXT];

static int idx(const char *n)
{
	for (int i = 0; i < NEXT; i++)
		if (!strcmp(ext[i].number, n))
			return i;
	return -1;
}

static unsigned contacts(const char *n, void *a)
{
	(void)a;
	return idx(n) >= 0 ? contacts_of[idx(n)] : 0;
}

static unsigned calls_in(const char *n, void *a)
{
	(void)a;
	return idx(n) >= 0 ? in_of[idx(n)] : 0;
}

static unsigned calls_out(const char *n, void *a)
{
	(void)n;
	(void)a;
	return 0;
}

static struct route_live live = {
	.contacts = contacts, .calls_in = calls_in, .calls_out = calls_out,
	.calls = 0, .max_calls = 100,
};

static void mk(int i, const char *num, uint8_t type, unsigned c)
{
	memset(&ext[i], 0, sizeof(ext[i]));
	strcpy(ext[i].number, num);
	ext[i].type = type;
	ext[i].auth = type == MODEL_SIP;
	ext[i].limit_in = 2;
	ext[i].limit_out = 2;
	ext[i].ring_time = 20;
	contacts_of[i] = c;
	in_of[i] = 0;
}

static struct snap_feat *F(int i)
{
	if (!ext[i].feat) {
		memset(&feat[i], 0, sizeof(feat[i]));
		feat[i].black = (const char (*)[SNAP_NUM])black[i];
		ext[i].feat = &feat[i];
	}
	return &feat[i];
}

static int setup(void **state)
{
	(void)state;
	memset(black, 0, sizeof(black));
	mk(E201, "201", MODEL_SIP, 1);
	mk(E202, "202", MODEL_SIP, 1);
	mk(E203, "203", MODEL_SIP, 1);
	mk(E204, "204", MODEL_SIP, 0);
	mk(E600, "600", MODEL_VOICEMAIL, 0);
	ext[E202].vm = true;
	memset(&snap, 0, sizeof(snap));
	snap.ext = ext;
	snap.n_ext = NEXT;
	return 0;
}

static void route(const char *to, struct route_result *rr)
{
	call_route(&snap, &ext[E201], to, strlen(to), &live, rr);
}

static void call_password_is_a_service(void **state)
{
	struct route_result rr;

	(void)state;
	ext[E202].call_pw = true;
	route("202", &rr);
	assert_int_equal(rr.kind, ROUTE_SERVICE);
	assert_int_equal(rr.svc, ROUTE_SVC_CALLPW);
	assert_int_equal(rr.rule, ROUTE_R_CALLPW);
	assert_ptr_equal(rr.callee, &ext[E202]);
	assert_null(rr.mailbox);
	assert_string_equal(route_rule_str(rr.rule), "call_password");
	/* without one: the phone rings */
	ext[E202].call_pw = false;
	route("202", &rr);
	assert_int_equal(rr.kind, ROUTE_EXTENSION);
}

static void connect_does_not_ask_again(void **state)
{
	struct route_result rr;

	(void)state;
	ext[E202].call_pw = true;
	call_route_connect(&snap, &ext[E201], &ext[E202], ROUTE_SVC_CALLPW,
			   &ext[E202], 0, &live, &rr);
	assert_int_equal(rr.kind, ROUTE_EXTENSION);
	assert_int_equal(rr.rule, ROUTE_R_EXTENSION);
	assert_ptr_equal(rr.targets[0], &ext[E202]);
	/* the password passed, the personal IVR is still to come */
	ext[E202].pivr = true;
	strcpy(ext[E202].pivr_dest, "203");
	call_route_connect(&snap, &ext[E201], &ext[E202], ROUTE_SVC_CALLPW,
			   &ext[E202], 0, &live, &rr);
	assert_int_equal(rr.kind, ROUTE_SERVICE);
	assert_int_equal(rr.svc, ROUTE_SVC_PIVR);
	/* past the personal IVR: nothing more is asked */
	call_route_connect(&snap, &ext[E201], &ext[E202], ROUTE_SVC_PIVR,
			   &ext[E202], 0, &live, &rr);
	assert_int_equal(rr.kind, ROUTE_EXTENSION);
	/* another extension's gate is its own: 203's password is asked */
	ext[E203].call_pw = true;
	call_route_connect(&snap, &ext[E201], &ext[E202], ROUTE_SVC_PIVR,
			   &ext[E203], 0, &live, &rr);
	assert_int_equal(rr.kind, ROUTE_SERVICE);
	assert_int_equal(rr.svc, ROUTE_SVC_CALLPW);
	assert_ptr_equal(rr.callee, &ext[E203]);
	/* a hand-on to an extension that cannot ring: its own plan (the
	 * mailbox), or the refusal */
	ext[E204].vm = true;
	call_route_connect(&snap, &ext[E201], &ext[E202], ROUTE_SVC_PIVR,
			   &ext[E204], 0, &live, &rr);
	assert_int_equal(rr.kind, ROUTE_SERVICE);
	assert_int_equal(rr.svc, ROUTE_SVC_DEPOSIT);
	assert_ptr_equal(rr.mailbox, &ext[E204]);
	ext[E204].vm = false;
	call_route_connect(&snap, &ext[E201], &ext[E202], ROUTE_SVC_PIVR,
			   &ext[E204], 0, &live, &rr);
	assert_int_equal(rr.kind, ROUTE_REJECT);
	assert_int_equal(rr.code, 480);
}

static void blacklist_comes_first(void **state)
{
	struct route_result rr;

	(void)state;
	ext[E202].call_pw = true;
	ext[E202].pivr = true;
	strcpy(black[E202][0], "201");
	F(E202)->n_black = 1;
	route("202", &rr);
	assert_int_equal(rr.kind, ROUTE_REJECT);
	assert_int_equal(rr.rule, ROUTE_R_BLACKLIST);
	assert_int_equal(rr.code, 603);
	/* no way round it by a hand-on either */
	call_route_connect(&snap, &ext[E201], &ext[E203], ROUTE_SVC_PIVR,
			   &ext[E202], 0, &live, &rr);
	assert_int_equal(rr.kind, ROUTE_REJECT);
	assert_int_equal(rr.rule, ROUTE_R_BLACKLIST);
}

static void password_before_ivr_before_forwards(void **state)
{
	struct route_result rr;

	(void)state;
	ext[E202].call_pw = true;
	ext[E202].pivr = true;
	strcpy(ext[E202].pivr_dest, "203");
	strcpy(F(E202)->fwd[SNAP_FWD_IMMEDIATE], "203");
	route("202", &rr);
	assert_int_equal(rr.svc, ROUTE_SVC_CALLPW);
	ext[E202].call_pw = false;
	route("202", &rr);
	assert_int_equal(rr.kind, ROUTE_SERVICE);
	assert_int_equal(rr.svc, ROUTE_SVC_PIVR);
	assert_int_equal(rr.rule, ROUTE_R_PIVR);
	assert_ptr_equal(rr.callee, &ext[E202]);
	assert_string_equal(route_rule_str(rr.rule), "personal_ivr");
	/* key 1 after the IVR: the immediate forward applies then */
	call_route_connect(&snap, &ext[E201], &ext[E202], ROUTE_SVC_PIVR,
			   &ext[E202], 0, &live, &rr);
	assert_int_equal(rr.kind, ROUTE_EXTENSION);
	assert_int_equal(rr.fwd_rule, ROUTE_R_FWD_IMMEDIATE);
	assert_ptr_equal(rr.callee, &ext[E203]);
}

static void forward_to_a_gated_extension(void **state)
{
	struct route_result rr;

	(void)state;
	/* 202 forwards everything to 203, which has a password: asked */
	strcpy(F(E202)->fwd[SNAP_FWD_IMMEDIATE], "203");
	ext[E203].call_pw = true;
	route("202", &rr);
	assert_int_equal(rr.kind, ROUTE_SERVICE);
	assert_int_equal(rr.svc, ROUTE_SVC_CALLPW);
	assert_ptr_equal(rr.callee, &ext[E203]);
	assert_int_equal(rr.fwd_rule, ROUTE_R_FWD_IMMEDIATE);
	/* a busy 202 with a password: the password first, then busy */
	strcpy(F(E202)->fwd[SNAP_FWD_IMMEDIATE], "");
	ext[E202].call_pw = true;
	in_of[E202] = 2;
	route("202", &rr);
	assert_int_equal(rr.svc, ROUTE_SVC_CALLPW);
	call_route_connect(&snap, &ext[E201], &ext[E202], ROUTE_SVC_CALLPW,
			   &ext[E202], 0, &live, &rr);
	assert_int_equal(rr.kind, ROUTE_SERVICE);
	assert_int_equal(rr.svc, ROUTE_SVC_DEPOSIT);
	assert_int_equal(rr.greet, ROUTE_GREET_BUSY);
}

static void mailbox_extension_with_password(void **state)
{
	struct route_result rr;

	(void)state;
	ext[E600].call_pw = true;
	route("600", &rr);
	assert_int_equal(rr.svc, ROUTE_SVC_CALLPW);
	call_route_connect(&snap, &ext[E201], &ext[E600], ROUTE_SVC_CALLPW,
			   &ext[E600], 0, &live, &rr);
	assert_int_equal(rr.svc, ROUTE_SVC_DEPOSIT);
	assert_ptr_equal(rr.mailbox, &ext[E600]);
}

/* ---- gate_rules ---------------------------------------------------------- */

static void pivr_keys(void **state)
{
	(void)state;
	assert_int_equal(gate_pivr_pick('\0'), GATE_PIVR_RING);
	assert_int_equal(gate_pivr_pick('0'), GATE_PIVR_RING);
	assert_int_equal(gate_pivr_pick('1'), GATE_PIVR_RING);
	assert_int_equal(gate_pivr_pick('2'), GATE_PIVR_VOICEMAIL);
	assert_int_equal(gate_pivr_pick('3'), GATE_PIVR_DEST);
	for (const char *k = "456789*#ABCD"; *k; k++)
		assert_int_equal(gate_pivr_pick(*k), GATE_PIVR_INVALID);
}

static void pw_wellformed(void **state)
{
	(void)state;
	assert_true(gate_pw_wellformed("1234"));
	assert_true(gate_pw_wellformed("0"));
	assert_true(gate_pw_wellformed("1234567890123456"));
	assert_false(gate_pw_wellformed("12345678901234567"));
	assert_false(gate_pw_wellformed(""));
	assert_false(gate_pw_wellformed(NULL));
	assert_false(gate_pw_wellformed("12*4"));
	assert_false(gate_pw_wellformed("12A4"));
}

static void src_failures_ban(void **state)
{
	static struct gate_src t;
	uint64_t now = 1000000;

	(void)state;
	memset(&t, 0, sizeof(t));
	for (unsigned i = 1; i < GATE_SRC_FAILS; i++)
		assert_int_equal(gate_src_fail(&t, "192.0.2.1", now + i), i);
	/* another source counts on its own */
	assert_int_equal(gate_src_fail(&t, "192.0.2.2", now), 1);
	/* the one that reaches the bound: ban, then counted afresh */
	assert_int_equal(gate_src_fail(&t, "192.0.2.1", now + 10),
			 GATE_SRC_FAILS);
	assert_int_equal(gate_src_fail(&t, "192.0.2.1", now + 11), 1);
	/* outside the window a count starts again */
	assert_int_equal(gate_src_fail(&t, "192.0.2.2",
					now + GATE_SRC_WINDOW_MS + 1), 1);
	/* a full table: the oldest gives way, never grows */
	memset(&t, 0, sizeof(t));
	for (unsigned i = 0; i < GATE_SRC_MAX + 10; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "198.51.100.%u", i);
		assert_int_equal(gate_src_fail(&t, ip, now + i), 1);
	}
	assert_int_equal(gate_src_fail(&t, "198.51.100.73", now + 100), 2);
	assert_int_equal(gate_src_fail(&t, "198.51.100.0", now + 101), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(call_password_is_a_service, setup),
		cmocka_unit_test_setup(connect_does_not_ask_again, setup),
		cmocka_unit_test_setup(blacklist_comes_first, setup),
		cmocka_unit_test_setup(password_before_ivr_before_forwards,
				       setup),
		cmocka_unit_test_setup(forward_to_a_gated_extension, setup),
		cmocka_unit_test_setup(mailbox_extension_with_password, setup),
		cmocka_unit_test(pivr_keys),
		cmocka_unit_test(pw_wellformed),
		cmocka_unit_test(src_failures_ban),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
