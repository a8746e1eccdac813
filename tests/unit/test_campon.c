/*
 * Unit tests of camp-on: the request table (call/campon_tab.c: add,
 * dedupe, bounds, expiry, order, the last-busy memory) and the routing
 * rule of *82 and *82<number> (call/route.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "call/campon_tab.h"
#include "call/route.h"
#include "model/model.h"
#include "store/snapshot.h"

/* ---- the table ----------------------------------------------------------- */

static struct campon_tab tab;

static void add_dedupe_and_renew(void **state)
{
	uint64_t id1 = 0, id2 = 0, id3 = 0;
	struct campon_req *r;

	(void)state;
	campon_tab_init(&tab, 0, 0, 0, 0);
	assert_int_equal(campon_tab_add(&tab, "201", "202", 1000, &id1),
			 CAMPON_ADDED);
	assert_true(id1 > 0);
	r = campon_tab_get(&tab, id1);
	assert_non_null(r);
	assert_int_equal(r->state, CAMPON_WAITING);
	assert_string_equal(r->caller, "201");
	assert_string_equal(r->callee, "202");
	assert_int_equal(r->expires, 1000 + CAMPON_EXPIRY_S * 1000ull);
	/* the same pair again: one request, a new life */
	assert_int_equal(campon_tab_add(&tab, "201", "202", 5000, &id2),
			 CAMPON_RENEWED);
	assert_int_equal(id2, id1);
	assert_int_equal(campon_tab_count(&tab), 1);
	assert_int_equal(r->expires, 5000 + CAMPON_EXPIRY_S * 1000ull);
	/* another callee: another request */
	assert_int_equal(campon_tab_add(&tab, "201", "203", 6000, &id3),
			 CAMPON_ADDED);
	assert_true(id3 != id1);
	assert_int_equal(campon_tab_count(&tab), 2);
	/* deleting */
	assert_true(campon_tab_del(&tab, id1));
	assert_false(campon_tab_del(&tab, id1));
	assert_null(campon_tab_get(&tab, id1));
	assert_int_equal(campon_tab_count(&tab), 1);
}

static void bad_numbers_refused(void **state)
{
	char longn[64];

	(void)state;
	campon_tab_init(&tab, 0, 0, 0, 0);
	memset(longn, '1', sizeof(longn) - 1);
	longn[sizeof(longn) - 1] = '\0';
	assert_int_equal(campon_tab_add(&tab, "201", "201", 1, NULL),
			 CAMPON_BAD);
	assert_int_equal(campon_tab_add(&tab, "", "202", 1, NULL),
			 CAMPON_BAD);
	assert_int_equal(campon_tab_add(&tab, "201", longn, 1, NULL),
			 CAMPON_BAD);
	assert_int_equal(campon_tab_add(&tab, NULL, "202", 1, NULL),
			 CAMPON_BAD);
	assert_int_equal(campon_tab_count(&tab), 0);
}

static void caps_per_caller_and_global(void **state)
{
	char n[8];

	(void)state;
	campon_tab_init(&tab, 5, 2, 0, 0);
	assert_int_equal(campon_tab_add(&tab, "201", "301", 1, NULL),
			 CAMPON_ADDED);
	assert_int_equal(campon_tab_add(&tab, "201", "302", 1, NULL),
			 CAMPON_ADDED);
	/* a third for the same caller: over its bound */
	assert_int_equal(campon_tab_add(&tab, "201", "303", 1, NULL),
			 CAMPON_CALLER_FULL);
	/* asking again for one it has is still fine */
	assert_int_equal(campon_tab_add(&tab, "201", "302", 2, NULL),
			 CAMPON_RENEWED);
	assert_int_equal(campon_tab_add(&tab, "202", "301", 1, NULL),
			 CAMPON_ADDED);
	assert_int_equal(campon_tab_add(&tab, "203", "301", 1, NULL),
			 CAMPON_ADDED);
	assert_int_equal(campon_tab_add(&tab, "204", "301", 1, NULL),
			 CAMPON_ADDED);
	/* five in all: the global bound */
	assert_int_equal(campon_tab_add(&tab, "205", "301", 1, NULL),
			 CAMPON_FULL);
	assert_int_equal(campon_tab_count(&tab), 5);
	/* a bound above the table's size is the table's size */
	campon_tab_init(&tab, 100000, 1, 0, 0);
	assert_int_equal(tab.max, CAMPON_MAX);
	for (int i = 0; i < CAMPON_MAX; i++) {
		snprintf(n, sizeof(n), "%d", 1000 + i);
		assert_int_equal(campon_tab_add(&tab, n, "301", 1, NULL),
				 CAMPON_ADDED);
	}
	assert_int_equal(campon_tab_add(&tab, "999", "301", 1, NULL),
			 CAMPON_FULL);
}

static void expiry_spares_callbacks(void **state)
{
	uint64_t a = 0, b = 0, c = 0;

	(void)state;
	campon_tab_init(&tab, 0, 0, 60, 0);
	assert_int_equal(campon_tab_add(&tab, "201", "202", 1000, &a),
			 CAMPON_ADDED);
	assert_int_equal(campon_tab_add(&tab, "203", "202", 30000, &b),
			 CAMPON_ADDED);
	assert_int_equal(campon_tab_add(&tab, "204", "202", 1000, &c),
			 CAMPON_ADDED);
	/* c's callback is under way: it ends on its own */
	campon_tab_get(&tab, c)->state = CAMPON_CALLING;
	assert_int_equal(campon_tab_expire(&tab, 60999), 0);
	assert_int_equal(campon_tab_expire(&tab, 61000), 1);
	assert_null(campon_tab_get(&tab, a));
	assert_non_null(campon_tab_get(&tab, b));
	assert_non_null(campon_tab_get(&tab, c));
	assert_true(campon_tab_calling(&tab, "202"));
	assert_false(campon_tab_calling(&tab, "201"));
	assert_int_equal(campon_tab_expire(&tab, 90000), 1);
	assert_null(campon_tab_get(&tab, b));
	assert_int_equal(campon_tab_count(&tab), 1);
}

static void oldest_first(void **state)
{
	uint64_t ids[4];
	struct campon_req *r;
	size_t n = 0;

	(void)state;
	campon_tab_init(&tab, 0, 0, 0, 0);
	assert_int_equal(campon_tab_add(&tab, "201", "202", 1, &ids[0]), 0);
	assert_int_equal(campon_tab_add(&tab, "203", "202", 2, &ids[1]), 0);
	assert_int_equal(campon_tab_add(&tab, "204", "202", 3, &ids[2]), 0);
	/* a freed slot reused keeps the age order (by id) */
	assert_true(campon_tab_del(&tab, ids[0]));
	assert_int_equal(campon_tab_add(&tab, "205", "202", 4, &ids[3]), 0);
	campon_tab_get(&tab, ids[2])->state = CAMPON_CALLING;
	for (r = campon_tab_next(&tab, NULL); r; r = campon_tab_next(&tab, r))
		assert_int_equal(r->id, ids[n == 0 ? 1 : 3]), n++;
	assert_int_equal(n, 2);
}

static void last_busy_memory(void **state)
{
	char n[8];

	(void)state;
	campon_tab_init(&tab, 0, 0, 0, 60);
	assert_null(campon_tab_last_busy(&tab, "201", 1000));
	campon_tab_note_busy(&tab, "201", "202", 1000);
	assert_string_equal(campon_tab_last_busy(&tab, "201", 61000), "202");
	assert_null(campon_tab_last_busy(&tab, "201", 61001));
	/* the latest one counts */
	campon_tab_note_busy(&tab, "201", "203", 70000);
	assert_string_equal(campon_tab_last_busy(&tab, "201", 70000), "203");
	assert_null(campon_tab_last_busy(&tab, "204", 70000));
	/* bounded: the oldest callers are forgotten first */
	for (int i = 0; i < CAMPON_LAST_MAX; i++) {
		snprintf(n, sizeof(n), "%d", 1000 + i);
		campon_tab_note_busy(&tab, n, "202", 80000 + (uint64_t)i);
	}
	assert_null(campon_tab_last_busy(&tab, "201", 80000));
	assert_string_equal(campon_tab_last_busy(&tab, "1000", 80000), "202");
	assert_string_equal(campon_tab_last_busy(&tab, "1127", 80200),
			    "202");
}

/* ---- the routing rule ------------------------------------------------------ */

enum { E201, E202, E203, E204, NEXT };
static struct snap_ext ext[NEXT];
static struct snap_feat feat[NEXT];
static char black[NEXT][4][SNAP_NUM];
static struct snapshot snap;
static struct snap_features features;
static struct snap_cos classes;
static unsigned in_calls[NEXT], out_calls[NEXT];
static const char *last;

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
	return idx(n) >= 0;
}

static unsigned calls_in(const char *n, void *a)
{
	(void)a;
	return idx(n) >= 0 ? in_calls[idx(n)] : 0;
}

static unsigned calls_out(const char *n, void *a)
{
	(void)a;
	return idx(n) >= 0 ? out_calls[idx(n)] : 0;
}

static const char *last_busy(const char *caller, void *a)
{
	(void)a;
	return !strcmp(caller, "201") ? last : NULL;
}

static struct route_live live = {
	.contacts = contacts, .calls_in = calls_in, .calls_out = calls_out,
	.calls = 0, .max_calls = 100, .last_busy = last_busy,
};

static void mk(int i, const char *num, bool camp_on)
{
	memset(&ext[i], 0, sizeof(ext[i]));
	strcpy(ext[i].number, num);
	ext[i].type = MODEL_SIP;
	ext[i].auth = true;
	ext[i].limit_in = 1;
	ext[i].limit_out = 2;
	ext[i].ring_time = 20;
	ext[i].camp_on = camp_on;
}

static int setup(void **state)
{
	(void)state;
	memset(in_calls, 0, sizeof(in_calls));
	memset(out_calls, 0, sizeof(out_calls));
	last = NULL;
	mk(E201, "201", false);
	mk(E202, "202", true);
	mk(E203, "203", false);
	mk(E204, "204", true);
	memset(&snap, 0, sizeof(snap));
	snap.ext = ext;
	snap.n_ext = NEXT;
	memset(&features, 0, sizeof(features));
	strcpy(features.code[SNAP_FEAT_VOICEMAIL], "*97");
	strcpy(features.code[SNAP_FEAT_CAMP_ON], "*82");
	memset(&classes, 0, sizeof(classes));
	classes.n = 3;
	strcpy(classes.cls[0].name, "default");
	classes.cls[0].allow = ((1u << SNAP_FEAT__COUNT) - 1) |
		SNAP_COS_DEST(SNAP_DEST_INTERNAL);
	strcpy(classes.cls[1].name, "nocampon");
	classes.cls[1].allow = 1u << SNAP_FEAT_VOICEMAIL |
		SNAP_COS_DEST(SNAP_DEST_INTERNAL);
	strcpy(classes.cls[2].name, "codesonly");
	classes.cls[2].allow = 1u << SNAP_FEAT_CAMP_ON |
		SNAP_COS_DEST(SNAP_DEST_LOCAL);
	snap.typed_sec[0] = (struct snap_typed){ "features", &features };
	snap.typed_sec[1] = (struct snap_typed){ "cos", &classes };
	snap.n_typed = 2;
	return 0;
}

static void route(const char *d, struct route_result *r)
{
	call_route(&snap, &ext[E201], d, strlen(d), &live, r);
}

static void the_code_parsed(void **state)
{
	const char *rest = NULL;
	size_t rl = 99;

	(void)state;
	assert_true(route_campon_code(&snap, "*82", 3, &rest, &rl));
	assert_int_equal(rl, 0);
	assert_true(route_campon_code(&snap, "*82202", 6, &rest, &rl));
	assert_int_equal(rl, 3);
	assert_memory_equal(rest, "202", 3);
	assert_false(route_campon_code(&snap, "*8", 2, &rest, &rl));
	assert_false(route_campon_code(&snap, "*83", 3, &rest, &rl));
	assert_false(route_campon_code(&snap, "*82*1", 5, &rest, &rl));
	/* no code configured: no camp-on */
	features.code[SNAP_FEAT_CAMP_ON][0] = '\0';
	assert_false(route_campon_code(&snap, "*82", 3, &rest, &rl));
}

static void busy_callee_taken(void **state)
{
	struct route_result r;

	(void)state;
	in_calls[E202] = 1;
	route("*82202", &r);
	assert_int_equal(r.kind, ROUTE_SERVICE);
	assert_int_equal(r.svc, ROUTE_SVC_CAMPON);
	assert_int_equal(r.rule, ROUTE_R_CAMPON);
	assert_ptr_equal(r.callee, &ext[E202]);
	assert_string_equal(route_rule_str(r.rule), "camp_on");
	/* in a call of its own making counts as busy too */
	in_calls[E202] = 0;
	out_calls[E202] = 1;
	route("*82202", &r);
	assert_int_equal(r.svc, ROUTE_SVC_CAMPON);
}

static void last_busy_alone(void **state)
{
	struct route_result r;

	(void)state;
	/* nothing remembered: 404 */
	route("*82", &r);
	assert_int_equal(r.kind, ROUTE_REJECT);
	assert_int_equal(r.code, 404);
	assert_int_equal(r.rule, ROUTE_R_CAMPON_REFUSED);
	last = "202";
	in_calls[E202] = 1;
	route("*82", &r);
	assert_int_equal(r.svc, ROUTE_SVC_CAMPON);
	assert_ptr_equal(r.callee, &ext[E202]);
	/* no callback: the same as nothing remembered */
	live.last_busy = NULL;
	route("*82", &r);
	assert_int_equal(r.code, 404);
	live.last_busy = last_busy;
}

static void refused_and_unknown(void **state)
{
	struct route_result r;

	(void)state;
	in_calls[E203] = 1;
	/* camp-on off at the callee */
	route("*82203", &r);
	assert_int_equal(r.code, 403);
	assert_int_equal(r.rule, ROUTE_R_CAMPON_REFUSED);
	assert_string_equal(r.disposition, "rejected");
	assert_string_equal(route_rule_str(r.rule), "camp_on_refused");
	/* not a number we have */
	route("*82999", &r);
	assert_int_equal(r.code, 404);
	assert_int_equal(r.rule, ROUTE_R_NOT_FOUND);
	/* one's own number */
	ext[E201].camp_on = true;
	in_calls[E201] = 1;
	route("*82201", &r);
	assert_int_equal(r.code, 403);
	/* the callee's blacklist applies */
	in_calls[E204] = 1;
	memset(&feat[E204], 0, sizeof(feat[E204]));
	strcpy(black[E204][0], "201");
	feat[E204].black = (const char (*)[SNAP_NUM])black[E204];
	feat[E204].n_black = 1;
	ext[E204].feat = &feat[E204];
	route("*82204", &r);
	assert_int_equal(r.code, 403);
	assert_int_equal(r.rule, ROUTE_R_CAMPON_REFUSED);
	/* a call password: the callback would ring it without one */
	in_calls[E202] = 1;
	ext[E202].call_pw = true;
	route("*82202", &r);
	assert_int_equal(r.code, 403);
	assert_int_equal(r.rule, ROUTE_R_CAMPON_REFUSED);
	ext[E202].call_pw = false;
	/* not a phone */
	ext[E202].type = MODEL_VOICEMAIL;
	in_calls[E202] = 1;
	route("*82202", &r);
	assert_int_equal(r.rule, ROUTE_R_CAMPON_REFUSED);
}

static void free_callee_rung(void **state)
{
	struct route_result r;

	(void)state;
	route("*82202", &r);
	assert_int_equal(r.kind, ROUTE_EXTENSION);
	assert_int_equal(r.rule, ROUTE_R_EXTENSION);
	assert_ptr_equal(r.targets[0], &ext[E202]);
}

static void forwards_combined(void **state)
{
	struct route_result r;

	(void)state;
	memset(&feat[E202], 0, sizeof(feat[E202]));
	ext[E202].feat = &feat[E202];
	/* busy with a busy forward: the camp-on is still taken (the caller
	 * asks for 202 itself, not for where its calls go) */
	strcpy(feat[E202].fwd[SNAP_FWD_BUSY], "204");
	in_calls[E202] = 1;
	route("*82202", &r);
	assert_int_equal(r.svc, ROUTE_SVC_CAMPON);
	assert_ptr_equal(r.callee, &ext[E202]);
	/* free with an immediate forward: rung as dialled, so forwarded */
	in_calls[E202] = 0;
	strcpy(feat[E202].fwd[SNAP_FWD_IMMEDIATE], "204");
	route("*82202", &r);
	assert_int_equal(r.kind, ROUTE_EXTENSION);
	assert_int_equal(r.fwd_rule, ROUTE_R_FWD_IMMEDIATE);
	assert_ptr_equal(r.targets[0], &ext[E204]);
}

static void class_of_service(void **state)
{
	struct route_result r;

	(void)state;
	in_calls[E202] = 1;
	memset(&feat[E201], 0, sizeof(feat[E201]));
	ext[E201].feat = &feat[E201];
	strcpy(feat[E201].cos, "nocampon");
	route("*82202", &r);
	assert_int_equal(r.code, 403);
	assert_int_equal(r.rule, ROUTE_R_COS_FEATURE);
	route("*82", &r);
	assert_int_equal(r.rule, ROUTE_R_COS_FEATURE);
	/* camp-on allowed, internal calls not: taken while busy, but a
	 * free callee is not rung */
	strcpy(feat[E201].cos, "codesonly");
	route("*82202", &r);
	assert_int_equal(r.svc, ROUTE_SVC_CAMPON);
	in_calls[E202] = 0;
	route("*82202", &r);
	assert_int_equal(r.code, 403);
	assert_int_equal(r.rule, ROUTE_R_COS_DEST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(add_dedupe_and_renew),
		cmocka_unit_test(bad_numbers_refused),
		cmocka_unit_test(caps_per_caller_and_global),
		cmocka_unit_test(expiry_spares_callbacks),
		cmocka_unit_test(oldest_first),
		cmocka_unit_test(last_busy_memory),
		cmocka_unit_test_setup(the_code_parsed, setup),
		cmocka_unit_test_setup(busy_callee_taken, setup),
		cmocka_unit_test_setup(last_busy_alone, setup),
		cmocka_unit_test_setup(refused_and_unknown, setup),
		cmocka_unit_test_setup(free_callee_rung, setup),
		cmocka_unit_test_setup(forwards_combined, setup),
		cmocka_unit_test_setup(class_of_service, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
