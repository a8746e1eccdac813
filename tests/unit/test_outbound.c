/*
 * Unit tests of the outbound part of issue 15: dial patterns, the
 * "outbound_routes" section (set, validate, validate_all, decode), the
 * matcher (emergency first, order, strip/prefix), routing (call_route:
 * ROUTE_TRUNK, class of service, emergency never blocked, external
 * forwards, calls from a trunk) and the toll-fraud counters.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "call/outbound.h"
#include "call/route.h"
#include "call/toll.h"
#include "call/toll_save.h"
#include "common/report.h"
#include "model/model.h"
#include "store/snapshot.h"

/* ---- patterns ---- */

static bool M(const char *pat, const char *s)
{
	return outbound_pattern_match(pat, s, strlen(s));
}

static void test_pattern_match(void **state)
{
	(void)state;
	assert_true(M("112", "112"));
	assert_false(M("112", "1120"));
	assert_false(M("112", "11"));
	assert_true(M("_9NXXXXXX", "92345678"));
	assert_false(M("9NXXXXXX", "91345678"));    /* N is 2-9 */
	assert_false(M("9NXXXXXX", "9234567"));     /* one short */
	assert_true(M("Z", "1"));
	assert_false(M("Z", "0"));
	assert_true(M("00.", "0044123"));
	assert_false(M("00.", "00"));               /* . needs one more */
	assert_true(M("00!", "00"));                /* ! zero or more */
	assert_true(M("0[1-5]X", "037"));
	assert_false(M("0[1-5]X", "067"));
	assert_true(M("0[137]X", "077"));
	assert_false(M("0[137]X", "027"));
	assert_true(M("0[0-35-9]", "09"));
	assert_false(M("0[0-35-9]", "04"));
	assert_true(M("+X.", "+4412"));
	assert_false(M("X", "a"));
	assert_false(M("0[1-5", "01"));             /* malformed set */
}

static void test_pattern_ok(void **state)
{
	(void)state;
	assert_true(outbound_pattern_ok("_00."));
	assert_true(outbound_pattern_ok("9NXXXXXX"));
	assert_true(outbound_pattern_ok("0[1-5]X!"));
	assert_false(outbound_pattern_ok(""));
	assert_false(outbound_pattern_ok("_"));
	assert_false(outbound_pattern_ok("."));      /* nothing before */
	assert_false(outbound_pattern_ok("0.1"));    /* . must be last */
	assert_false(outbound_pattern_ok("0[1-5"));
	assert_false(outbound_pattern_ok("0[]"));
	assert_false(outbound_pattern_ok("0[a]"));
	assert_false(outbound_pattern_ok("9Y"));
	assert_false(outbound_pattern_ok("0123456789012345678901234567890123"));
}

/* ---- the section ---- */

static const struct store_section *sec = &outbound_routes_section;

static bool has_rule(const struct report *r, const char *rule)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->item[i].rule, rule))
			return true;
	return false;
}

static int set(json_t *obj, const char *k, const char *v,
	       struct report *r)
{
	return sec->set(obj, k, v, r);
}

static void test_section_set(void **state)
{
	json_t *obj = sec->defaults();
	struct report r;
	json_t *o;

	(void)state;
	report_init(&r);
	assert_int_equal(json_object_size(obj), 0);
	assert_int_equal(set(obj, "intl", "patterns=00.; trunks=a,b;"
			     "class=international;strip=2;prefix=+;order=20",
			     &r), 0);
	o = json_object_get(obj, "intl");
	assert_int_equal(json_array_size(json_object_get(o, "patterns")), 1);
	assert_string_equal(json_string_value(json_array_get(
		json_object_get(o, "trunks"), 1)), "b");
	assert_int_equal(json_integer_value(json_object_get(o, "strip")), 2);
	assert_int_equal(report_count(&r), 0);
	/* each refusal names its rule */
	assert_int_equal(set(obj, "x", "patterns=0.;trunks=a;class=moon", &r),
			 EINVAL);
	assert_true(has_rule(&r, "outbound.class"));
	assert_int_equal(set(obj, "x", "patterns=0.1;trunks=a;class=local",
			     &r), EINVAL);
	assert_true(has_rule(&r, "outbound.pattern"));
	assert_int_equal(set(obj, "x", "patterns=0.;class=local", &r),
			 EINVAL);
	assert_true(has_rule(&r, "outbound.trunks"));
	assert_int_equal(set(obj, "x", "patterns=0.;trunks=A!;class=local",
			     &r), EINVAL);
	assert_true(has_rule(&r, "outbound.trunk_name"));
	assert_int_equal(set(obj, "x", "patterns=0.;trunks=a;class=local;"
			     "strip=99", &r), EINVAL);
	assert_true(has_rule(&r, "outbound.strip"));
	assert_int_equal(set(obj, "x", "patterns=0.;trunks=a;class=local;"
			     "prefix=abc", &r), EINVAL);
	assert_true(has_rule(&r, "outbound.prefix"));
	assert_int_equal(set(obj, "x", "patterns=0.;trunks=a;class=local;"
			     "colour=red", &r), EINVAL);
	assert_true(has_rule(&r, "outbound.unknown_key"));
	assert_int_equal(set(obj, "x", "patterns=0.;trunks=a;class=local;"
			     "emergency=yes", &r), EINVAL);
	assert_true(has_rule(&r, "outbound.emergency_class"));
	assert_int_equal(set(obj, "Bad Name", "patterns=0.;trunks=a;"
			     "class=local", &r), EINVAL);
	assert_true(has_rule(&r, "outbound.name_format"));
	assert_int_equal(set(obj, "x", "patterns=0.;trunks=a;class=internal",
			     &r), EINVAL);   /* extensions' class */
	assert_null(json_object_get(obj, "x"));
	/* class=emergency makes it an emergency route */
	assert_int_equal(set(obj, "sos", "patterns=112,911;trunks=a;"
			     "class=emergency", &r), 0);
	report_reset(&r);
	assert_int_equal(sec->validate(obj, &r), 0);
	assert_int_equal(report_count(&r), 0);
	/* removal */
	assert_int_equal(set(obj, "intl", "-", &r), 0);
	assert_null(json_object_get(obj, "intl"));
	report_reset(&r);
	json_decref(obj);
}

static void test_section_validate_all(void **state)
{
	json_t *obj = sec->defaults();
	json_t *all = json_pack("{s:{s:s,s:s,s:n}}", "trunks", "a.host",
			       "192.0.2.1", "a.port", "5060", "gone.host");
	struct report r;

	(void)state;
	report_init(&r);
	assert_int_equal(set(obj, "r1", "patterns=0.;trunks=a;class=national",
			     &r), 0);
	assert_int_equal(sec->validate_all(obj, all, &r), 0);
	assert_int_equal(set(obj, "r2", "patterns=1.;trunks=a,b;"
			     "class=national", &r), 0);
	assert_int_equal(sec->validate_all(obj, all, &r), EINVAL);
	assert_true(has_rule(&r, "outbound.unknown_trunk"));
	assert_non_null(strstr(r.item[0].msg, "'b'"));
	report_reset(&r);
	assert_int_equal(set(obj, "r2", "patterns=1.;trunks=gone;"
			     "class=national", &r), 0);
	assert_int_equal(sec->validate_all(obj, all, &r), EINVAL);
	report_reset(&r);
	/* a stored object damaged by hand is refused at commit too */
	json_object_set_new(obj, "r3", json_pack("{s:[s],s:[s],s:s}",
		"patterns", "0]", "trunks", "a", "class", "local"));
	assert_int_equal(sec->validate(obj, &r), EINVAL);
	report_reset(&r);
	json_decref(all);
	json_decref(obj);
}

static struct out_routes routes;

static void decode_routes(const char *const *kv, size_t n)
{
	json_t *obj = sec->defaults();
	struct report r;

	report_init(&r);
	for (size_t i = 0; i < n; i += 2)
		assert_int_equal(set(obj, kv[i], kv[i + 1], &r), 0);
	memset(&routes, 0xa5, sizeof(routes));
	sec->decode(obj, &routes);
	report_reset(&r);
	json_decref(obj);
}

static const char *const std_routes[] = {
	"local", "patterns=9NXXXXXX;trunks=t1,t2;class=local;strip=1;order=10",
	"intl", ("patterns=900.;trunks=t1;class=international;strip=3;"
		 "prefix=+;order=20"),
	"prem", "patterns=90900X.;trunks=t2;class=premium;strip=1;order=5",
	"sos", "patterns=112,911,999;trunks=t2,t1;class=emergency;order=99",
	"nat", "patterns=90ZX.;trunks=t1;class=national;strip=1;order=30",
};

static void test_match(void **state)
{
	char num[OUT_NUM_MAX + 1];
	const struct out_route *r;

	(void)state;
	decode_routes(std_routes, 10);
	assert_int_equal(routes.n, 5);
	/* sorted by order */
	assert_string_equal(routes.r[0].name, "prem");
	assert_string_equal(routes.r[4].name, "sos");
	r = outbound_match(&routes, "92345678", 8, false, num, sizeof(num));
	assert_non_null(r);
	assert_string_equal(r->name, "local");
	assert_string_equal(num, "2345678");
	assert_int_equal(r->n_trunks, 2);
	r = outbound_match(&routes, "9004420", 7, false, num, sizeof(num));
	assert_string_equal(r->name, "intl");
	assert_string_equal(num, "+4420");
	assert_int_equal(r->dest, SNAP_DEST_INTERNATIONAL);
	/* order decides between overlapping routes: premium (5) before
	 * national (30) */
	r = outbound_match(&routes, "9090012", 7, false, num, sizeof(num));
	assert_string_equal(r->name, "prem");
	r = outbound_match(&routes, "9012345", 7, false, num, sizeof(num));
	assert_string_equal(r->name, "nat");
	/* emergency: first although its order is last */
	r = outbound_match(&routes, "112", 3, false, num, sizeof(num));
	assert_string_equal(r->name, "sos");
	assert_true(r->emergency);
	assert_string_equal(num, "112");
	r = outbound_match(&routes, "911", 3, true, num, sizeof(num));
	assert_non_null(r);
	assert_null(outbound_match(&routes, "92345678", 8, true, num,
				   sizeof(num)));
	assert_null(outbound_match(&routes, "5", 1, false, num, sizeof(num)));
	assert_null(outbound_match(NULL, "112", 3, false, num, sizeof(num)));
	/* a number that would not fit is no match */
	assert_null(outbound_match(&routes, "900123456789012345678901234567890"
				   "12", 35, false, num, sizeof(num)));
}

/* ---- routing ---- */

enum { E201, E202, E203, NEXT };
static struct snap_ext ext[NEXT];
static struct snap_feat feat[NEXT];
static struct snapshot snap;
static struct snap_cos classes;

static unsigned zero(const char *n, void *a) { (void)n; (void)a; return 0; }
static unsigned one(const char *n, void *a) { (void)n; (void)a; return 1; }

static struct route_live live = {
	.contacts = one, .calls_in = zero, .calls_out = zero,
	.calls = 0, .max_calls = 100,
};

static void mk(int i, const char *num, const char *cos)
{
	struct snap_ext *x = &ext[i];

	memset(x, 0, sizeof(*x));
	memset(&feat[i], 0, sizeof(feat[i]));
	strcpy(x->number, num);
	x->type = MODEL_SIP;
	x->auth = true;
	x->limit_in = 2;
	x->limit_out = 2;
	strcpy(feat[i].cos, cos);
	x->feat = &feat[i];
}

static int setup(void **state)
{
	(void)state;
	mk(E201, "201", "default");
	mk(E202, "202", "restricted");
	mk(E203, "203", "nothing");
	memset(&classes, 0, sizeof(classes));
	classes.n = 3;
	strcpy(classes.cls[0].name, "default");
	classes.cls[0].allow = SNAP_COS_DEST(SNAP_DEST_INTERNAL) |
		SNAP_COS_DEST(SNAP_DEST_LOCAL) |
		SNAP_COS_DEST(SNAP_DEST_NATIONAL) |
		SNAP_COS_DEST(SNAP_DEST_INTERNATIONAL);
	strcpy(classes.cls[1].name, "restricted");
	classes.cls[1].allow = SNAP_COS_DEST(SNAP_DEST_INTERNAL) |
		SNAP_COS_DEST(SNAP_DEST_LOCAL);
	strcpy(classes.cls[2].name, "nothing");
	classes.cls[2].allow = 0;
	decode_routes(std_routes, 10);
	memset(&snap, 0, sizeof(snap));
	snap.ext = ext;
	snap.n_ext = NEXT;
	snap.typed_sec[0] = (struct snap_typed){ "cos", &classes };
	snap.typed_sec[1] = (struct snap_typed){ "outbound_routes", &routes };
	snap.n_typed = 2;
	live.from_trunk = false;
	live.trunk_out_ok = false;
	live.calls = 0;
	live.calls_out = zero;
	return 0;
}

static void route(int caller, const char *d, struct route_result *rr)
{
	call_route(&snap, &ext[caller], d, strlen(d), &live, rr);
}

static void test_route_trunk(void **state)
{
	struct route_result rr;

	(void)state;
	route(E201, "92345678", &rr);
	assert_int_equal(rr.kind, ROUTE_TRUNK);
	assert_int_equal(rr.rule, ROUTE_R_TRUNK);
	assert_string_equal(rr.oroute->name, "local");
	assert_string_equal(rr.out_num, "2345678");
	assert_ptr_equal(rr.payer, &ext[E201]);
	route(E201, "9004420", &rr);
	assert_int_equal(rr.kind, ROUTE_TRUNK);
	assert_string_equal(rr.out_num, "+4420");
	/* an extension still wins over a route */
	route(E201, "202", &rr);
	assert_int_equal(rr.kind, ROUTE_EXTENSION);
	/* nothing takes it: 404 as before */
	route(E201, "5555", &rr);
	assert_int_equal(rr.kind, ROUTE_REJECT);
	assert_int_equal(rr.code, 404);
}

static void test_route_cos(void **state)
{
	struct route_result rr;

	(void)state;
	/* the class lacks international: 403 naming it */
	route(E202, "9004420", &rr);
	assert_int_equal(rr.kind, ROUTE_REJECT);
	assert_int_equal(rr.code, 403);
	assert_int_equal(rr.rule, ROUTE_R_COS_DEST);
	assert_non_null(strstr(rr.reason, "international"));
	route(E202, "92345678", &rr);
	assert_int_equal(rr.kind, ROUTE_TRUNK);
	/* premium: in no class here */
	route(E201, "9090012", &rr);
	assert_int_equal(rr.code, 403);
	assert_non_null(strstr(rr.reason, "premium"));
	/* a class naming nothing reaches no trunk */
	route(E203, "92345678", &rr);
	assert_int_equal(rr.code, 403);
}

static void test_route_emergency(void **state)
{
	struct route_result rr;

	(void)state;
	/* never blocked by class of service */
	route(E203, "112", &rr);
	assert_int_equal(rr.kind, ROUTE_TRUNK);
	assert_int_equal(rr.rule, ROUTE_R_EMERGENCY);
	assert_string_equal(rr.out_num, "112");
	/* nor by the caller's own call limit or the PBX's */
	live.calls_out = one;
	ext[E203].limit_out = 1;
	live.calls = 100;
	route(E203, "911", &rr);
	assert_int_equal(rr.kind, ROUTE_TRUNK);
	route(E203, "92345678", &rr);
	assert_int_equal(rr.kind, ROUTE_REJECT);
	assert_int_equal(rr.rule, ROUTE_R_GLOBAL_LIMIT);
	/* an emergency route wins over an extension of the same number */
	live.calls = 0;
	live.calls_out = zero;
	strcpy(ext[E201].number, "112");   /* (201 sorts first still) */
	route(E202, "112", &rr);
	assert_int_equal(rr.kind, ROUTE_TRUNK);
	strcpy(ext[E201].number, "201");
}

static void test_route_forward_out(void **state)
{
	struct route_result rr;

	(void)state;
	/* 202 forwards everything to an international number: counted
	 * against 202, whose class lacks international */
	strcpy(feat[E202].fwd[SNAP_FWD_IMMEDIATE], "9004420");
	route(E201, "202", &rr);
	assert_int_equal(rr.kind, ROUTE_REJECT);
	assert_int_equal(rr.code, 403);
	assert_ptr_equal(rr.payer, &ext[E202]);
	/* to a local number: allowed, out through the trunk, 202 pays */
	strcpy(feat[E202].fwd[SNAP_FWD_IMMEDIATE], "92345678");
	route(E203, "202", &rr);
	assert_int_equal(rr.kind, ROUTE_TRUNK);
	assert_ptr_equal(rr.payer, &ext[E202]);
	assert_int_equal(rr.fwd_rule, ROUTE_R_FWD_IMMEDIATE);
	assert_ptr_equal(rr.fwd_from, &ext[E202]);
	assert_string_equal(rr.out_num, "2345678");
	/* a call from a trunk never leaves on one by a forward ... */
	live.from_trunk = true;
	route(E203, "202", &rr);
	assert_int_equal(rr.kind, ROUTE_REJECT);
	assert_int_equal(rr.rule, ROUTE_R_TRUNK_INBOUND);
	/* ... unless the inbound-to-outbound rule allows it */
	live.trunk_out_ok = true;
	route(E203, "202", &rr);
	assert_int_equal(rr.kind, ROUTE_TRUNK);
	/* busy forward to an external number */
	live.from_trunk = false;
	feat[E202].fwd[SNAP_FWD_IMMEDIATE][0] = '\0';
	strcpy(feat[E202].fwd[SNAP_FWD_UNAVAILABLE], "92345678");
	live.contacts = zero;
	route(E201, "202", &rr);
	live.contacts = one;
	assert_int_equal(rr.kind, ROUTE_TRUNK);
	assert_int_equal(rr.fwd_rule, ROUTE_R_FWD_UNAVAILABLE);
	/* a forward to a number no route takes is ignored, as before */
	strcpy(feat[E202].fwd[SNAP_FWD_IMMEDIATE], "5555");
	route(E201, "202", &rr);
	assert_int_equal(rr.kind, ROUTE_EXTENSION);
}

static void test_route_plan_forward_out(void **state)
{
	struct route_result rr, out;

	(void)state;
	/* 202 rings; its no-answer forward is a local number a route
	 * takes: the plan says so, and its mailbox does not take over */
	strcpy(feat[E202].fwd[SNAP_FWD_NOANSWER], "92345678");
	ext[E202].vm = true;
	ext[E202].ring_time = 7;
	route(E201, "202", &rr);
	assert_int_equal(rr.kind, ROUTE_EXTENSION);
	assert_true(rr.noanswer_out);
	assert_false(rr.busy_out);
	assert_null(rr.noanswer);
	assert_null(rr.vm_noanswer);
	assert_non_null(rr.vm_busy);
	/* the phone rings for its ring time, then the forward goes out */
	assert_int_equal(rr.n_steps, 1);
	assert_int_equal(rr.steps[0].ring_s, ext[E202].ring_time);
	/* the plan ended unanswered: out as 202's call */
	call_route_fwd_out(&snap, &ext[E201], &ext[E202], SNAP_FWD_NOANSWER,
			   ROUTE_R_FWD_NOANSWER, rr.hops, &live, &out);
	assert_int_equal(out.kind, ROUTE_TRUNK);
	assert_ptr_equal(out.payer, &ext[E202]);
	assert_string_equal(out.out_num, "2345678");
	assert_int_equal(out.fwd_rule, ROUTE_R_FWD_NOANSWER);
	assert_int_equal(out.hops, 1);
	/* busy forward to an international number: 202's class lacks it */
	strcpy(feat[E202].fwd[SNAP_FWD_BUSY], "9004420");
	route(E201, "202", &rr);
	assert_true(rr.busy_out);
	assert_null(rr.vm_busy);
	call_route_fwd_out(&snap, &ext[E201], &ext[E202], SNAP_FWD_BUSY,
			   ROUTE_R_FWD_BUSY, 0, &live, &out);
	assert_int_equal(out.kind, ROUTE_REJECT);
	assert_int_equal(out.code, 403);
	/* a call from a trunk: refused on its way out */
	live.from_trunk = true;
	call_route_fwd_out(&snap, &ext[E201], &ext[E202], SNAP_FWD_NOANSWER,
			   ROUTE_R_FWD_NOANSWER, 0, &live, &out);
	assert_int_equal(out.rule, ROUTE_R_TRUNK_INBOUND);
	live.from_trunk = false;
	/* a forward no route takes: not external-routed, the mailbox */
	strcpy(feat[E202].fwd[SNAP_FWD_NOANSWER], "5555");
	route(E201, "202", &rr);
	assert_false(rr.noanswer_out);
	assert_non_null(rr.vm_noanswer);
	call_route_fwd_out(&snap, &ext[E201], &ext[E202], SNAP_FWD_NOANSWER,
			   ROUTE_R_FWD_NOANSWER, 0, &live, &out);
	assert_int_equal(out.code, 480);
	ext[E202].vm = false;
}

/* ---- toll-fraud counters ---- */

static void test_toll(void **state)
{
	struct toll_limits lim = {
		.ext_concurrent = 2, .global_concurrent = 3,
		.ext_international_hour = 2, .global_international_hour = 3,
		.ext_premium_hour = 0, .global_premium_hour = 10,
	};
	struct toll *t = NULL;
	int64_t now = 1700000000;

	(void)state;
	assert_int_equal(toll_alloc(&t), 0);
	/* concurrent, per extension then global */
	assert_int_equal(toll_take(t, &lim, "201", SNAP_DEST_LOCAL, now),
			 TOLL_OK);
	assert_int_equal(toll_take(t, &lim, "201", SNAP_DEST_LOCAL, now),
			 TOLL_OK);
	assert_int_equal(toll_take(t, &lim, "201", SNAP_DEST_LOCAL, now),
			 TOLL_EXT_CONCURRENT);
	assert_int_equal(toll_take(t, &lim, "202", SNAP_DEST_NATIONAL, now),
			 TOLL_OK);
	assert_int_equal(toll_take(t, &lim, "203", SNAP_DEST_LOCAL, now),
			 TOLL_GLOBAL_CONCURRENT);
	/* emergency is never refused nor counted */
	assert_int_equal(toll_take(t, &lim, "201", SNAP_DEST_EMERGENCY, now),
			 TOLL_OK);
	assert_int_equal(toll_concurrent(t, NULL), 3);
	{
		json_t *st = toll_status(t, now);

		assert_int_equal(json_integer_value(json_object_get(st,
					"external_calls")), 3);
		assert_int_equal(json_integer_value(json_object_get(st,
					"extensions")), 2);
		json_decref(st);
	}
	assert_int_equal(toll_concurrent(t, "201"), 2);
	toll_end(t, "201", SNAP_DEST_LOCAL);
	toll_end(t, "201", SNAP_DEST_LOCAL);
	toll_end(t, "202", SNAP_DEST_NATIONAL);
	assert_int_equal(toll_concurrent(t, NULL), 0);
	/* international per hour: 2 for 201, then refused; the window
	 * slides */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(toll_take(t, &lim, "201",
					   SNAP_DEST_INTERNATIONAL, now + i),
				 TOLL_OK);
		toll_end(t, "201", SNAP_DEST_INTERNATIONAL);
	}
	assert_int_equal(toll_take(t, &lim, "201", SNAP_DEST_INTERNATIONAL,
				   now + 1800), TOLL_EXT_HOUR);
	assert_int_equal(toll_hour(t, "201", SNAP_DEST_INTERNATIONAL,
				   now + 1800), 2);
	/* the PBX's hour: 202 takes the third, 203 is refused */
	assert_int_equal(toll_take(t, &lim, "202", SNAP_DEST_INTERNATIONAL,
				   now + 10), TOLL_OK);
	toll_end(t, "202", SNAP_DEST_INTERNATIONAL);
	assert_int_equal(toll_take(t, &lim, "203", SNAP_DEST_INTERNATIONAL,
				   now + 20), TOLL_GLOBAL_HOUR);
	/* an hour later, all free again */
	assert_int_equal(toll_hour(t, NULL, SNAP_DEST_INTERNATIONAL,
				   now + 3700), 0);
	assert_int_equal(toll_take(t, &lim, "201", SNAP_DEST_INTERNATIONAL,
				   now + 3700), TOLL_OK);
	toll_end(t, "201", SNAP_DEST_INTERNATIONAL);
	/* a limit of 0: no such call */
	assert_int_equal(toll_take(t, &lim, "201", SNAP_DEST_PREMIUM, now),
			 TOLL_EXT_HOUR);
	toll_free(t);
}

static void test_toll_bounded(void **state)
{
	struct toll_limits lim = {
		.ext_concurrent = 1, .global_concurrent = 100000,
		.ext_international_hour = 5, .global_international_hour = 100000,
	};
	struct toll *t = NULL;
	char num[16];
	int64_t now = 1700000000;

	(void)state;
	assert_int_equal(toll_alloc(&t), 0);
	for (int i = 0; i < TOLL_MAX_EXT; i++) {
		snprintf(num, sizeof(num), "%d", 1000 + i);
		assert_int_equal(toll_take(t, &lim, num, SNAP_DEST_LOCAL, now),
				 TOLL_OK);
	}
	/* the table is full of live calls: refused, never grown */
	assert_int_equal(toll_take(t, &lim, "99999", SNAP_DEST_LOCAL, now),
			 TOLL_TABLE_FULL);
	/* an entry that counts nothing any more is reused */
	toll_end(t, "1000", SNAP_DEST_LOCAL);
	assert_int_equal(toll_take(t, &lim, "99999", SNAP_DEST_LOCAL, now),
			 TOLL_OK);
	assert_string_equal(toll_verdict_str(TOLL_EXT_HOUR), "ext_per_hour");
	toll_free(t);
}

/* The hours survive a restart: dump, file (toll_save), restore. */
static void test_toll_persist(void **state)
{
	struct toll_limits lim = {
		.ext_concurrent = 5, .global_concurrent = 50,
		.ext_international_hour = 2, .global_international_hour = 3,
		.ext_premium_hour = 1, .global_premium_hour = 10,
	};
	struct toll *t = NULL, *u = NULL;
	struct toll_save *s = NULL;
	int64_t now = 1700000000;
	char path[] = "/tmp/test_toll_XXXXXX";
	char file[64];
	json_t *d, *st, *r;

	(void)state;
	assert_non_null(mkdtemp(path));
	snprintf(file, sizeof(file), "%s/toll.json", path);
	assert_int_equal(toll_alloc(&t), 0);
	assert_int_equal(toll_take(t, &lim, "201", SNAP_DEST_INTERNATIONAL,
				   now - 3000), TOLL_OK);
	assert_int_equal(toll_take(t, &lim, "201", SNAP_DEST_INTERNATIONAL,
				   now), TOLL_OK);
	assert_int_equal(toll_take(t, &lim, "202", SNAP_DEST_PREMIUM, now),
			 TOLL_OK);
	assert_int_equal(toll_take(t, &lim, "201", SNAP_DEST_INTERNATIONAL,
				   now), TOLL_EXT_HOUR);
	assert_int_equal(toll_take(t, &lim, "202", SNAP_DEST_PREMIUM, now),
			 TOLL_EXT_HOUR);
	/* refusals counted by limit */
	st = toll_status(t, now);
	r = json_object_get(st, "refused");
	assert_int_equal(json_integer_value(json_object_get(r,
				"ext_per_hour")), 2);
	assert_int_equal(json_integer_value(json_object_get(r,
				"global_per_hour")), 0);
	json_decref(st);

	/* written by the thread, read back into a fresh table */
	assert_int_equal(toll_save_load(file, t, now), ENOENT);
	assert_int_equal(toll_save_open(&s, file), 0);
	d = toll_dump(t, now);
	assert_non_null(d);
	toll_save_put(s, json_dumps(d, JSON_COMPACT));
	json_decref(d);
	toll_save_close(s);
	assert_int_equal(toll_alloc(&u), 0);
	assert_int_equal(toll_save_load(file, u, now + 60), 0);
	assert_int_equal(toll_hour(u, "201", SNAP_DEST_INTERNATIONAL,
				   now + 60), 2);
	assert_int_equal(toll_hour(u, "202", SNAP_DEST_PREMIUM, now + 60), 1);
	assert_int_equal(toll_hour(u, NULL, SNAP_DEST_INTERNATIONAL,
				   now + 60), 2);
	assert_int_equal(toll_concurrent(u, NULL), 0);   /* calls ended */
	/* still refused after the "restart"; the old call slides out */
	assert_int_equal(toll_take(u, &lim, "201", SNAP_DEST_INTERNATIONAL,
				   now + 60), TOLL_EXT_HOUR);
	assert_int_equal(toll_take(u, &lim, "202", SNAP_DEST_PREMIUM,
				   now + 60), TOLL_EXT_HOUR);
	assert_int_equal(toll_take(u, &lim, "201", SNAP_DEST_INTERNATIONAL,
				   now + 700), TOLL_OK);
	toll_free(u);

	/* a dump restored an hour later counts nothing */
	assert_int_equal(toll_alloc(&u), 0);
	assert_int_equal(toll_save_load(file, u, now + 3700), 0);
	assert_int_equal(toll_hour(u, NULL, SNAP_DEST_INTERNATIONAL,
				   now + 3700), 0);
	toll_free(u);

	/* not a dump: EINVAL, nothing taken */
	{
		FILE *f = fopen(file, "w");

		assert_non_null(f);
		fputs("{\"version\": 2, \"global\": {}}", f);
		fclose(f);
	}
	assert_int_equal(toll_alloc(&u), 0);
	assert_int_equal(toll_save_load(file, u, now), EINVAL);
	d = json_pack("{s:i,s:{s:[[I,i],[s,i],[I,i]]},s:{s:{s:[[I,i]]}}}",
		      "version", 1, "global", "international",
		      (json_int_t)(now / 60), 7, "x", 1,
		      (json_int_t)(now / 60 + 5), 9,
		      "extensions", "", "premium", (json_int_t)(now / 60), 1);
	assert_int_equal(toll_restore(u, d, now), 0);
	json_decref(d);
	/* the future and malformed buckets and the empty number skipped */
	assert_int_equal(toll_hour(u, NULL, SNAP_DEST_INTERNATIONAL, now), 7);
	assert_int_equal(toll_hour(u, "", SNAP_DEST_PREMIUM, now), 0);
	toll_free(u);
	toll_free(t);
	unlink(file);
	rmdir(path);
}

static void test_toll_section(void **state)
{
	const struct store_section *ts = &toll_section;
	json_t *obj = ts->defaults();
	struct toll_limits l;
	struct report r;

	(void)state;
	report_init(&r);
	ts->decode(obj, &l);
	assert_int_equal(l.ext_concurrent, 2);
	assert_int_equal(l.ext_international_hour, 10);
	assert_false(l.inbound_to_outbound);
	assert_int_equal(ts->set(obj, "ext_concurrent", "-1", &r), EINVAL);
	assert_int_equal(ts->set(obj, "global_premium_hour", "7", &r), 0);
	ts->decode(obj, &l);
	assert_int_equal(l.global_premium_hour, 7);
	/* the snapshot without the section: defaults */
	assert_int_equal(toll_limits_of(NULL)->global_concurrent, 10);
	report_reset(&r);
	json_decref(obj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pattern_match),
		cmocka_unit_test(test_pattern_ok),
		cmocka_unit_test(test_section_set),
		cmocka_unit_test(test_section_validate_all),
		cmocka_unit_test(test_match),
		cmocka_unit_test_setup(test_route_trunk, setup),
		cmocka_unit_test_setup(test_route_cos, setup),
		cmocka_unit_test_setup(test_route_emergency, setup),
		cmocka_unit_test_setup(test_route_forward_out, setup),
		cmocka_unit_test_setup(test_route_plan_forward_out, setup),
		cmocka_unit_test(test_toll),
		cmocka_unit_test(test_toll_bounded),
		cmocka_unit_test(test_toll_persist),
		cmocka_unit_test(test_toll_section),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
