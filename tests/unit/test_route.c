/*
 * Unit tests of call/route.c: the routing rules in their order, over a
 * hand-built snapshot and live state given by the test.
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

/* sorted by number, as the store builds it */
enum { E201, E202, E203, E204, E205, E300, E400, E500, E600, E700, NEXT };
static struct snap_ext ext[NEXT];
static struct snapshot snap;
static struct snap_feat feat[NEXT];
static char lists[NEXT][3][8][SNAP_NUM];   /* fm, members, black */

/* live state of the test: per number, contacts and calls in/out */
static struct {
	const char *number;
	unsigned contacts, in, out;
} live_tab[NEXT];

static unsigned get(const char *number, int what)
{
	for (size_t i = 0; i < NEXT; i++)
		if (live_tab[i].number && !strcmp(live_tab[i].number, number))
			return what == 0 ? live_tab[i].contacts :
				what == 1 ? live_tab[i].in : live_tab[i].out;
	return 0;
}

static unsigned contacts(const char *n, void *a) { (void)a; return get(n, 0); }
static unsigned calls_in(const char *n, void *a) { (void)a; return get(n, 1); }
static unsigned calls_out(const char *n, void *a) { (void)a; return get(n, 2); }

/* hotdesk: who is logged in where (hotdesk number -> phone) */
static struct { const char *hd, *phone; } hd_tab[4];

static const char *hotdesk_at(const char *n, void *a)
{
	(void)a;
	for (size_t i = 0; i < 4; i++)
		if (hd_tab[i].hd && !strcmp(hd_tab[i].hd, n))
			return hd_tab[i].phone;
	return NULL;
}

static struct route_live live = {
	.contacts = contacts, .calls_in = calls_in, .calls_out = calls_out,
	.calls = 0, .max_calls = 100, .hotdesk_at = hotdesk_at,
};

static struct snap_features features;
static struct snap_cos classes;

static void mk(int i, const char *num, uint8_t type, bool auth,
	       unsigned contacts_n)
{
	struct snap_ext *x = &ext[i];

	memset(x, 0, sizeof(*x));
	strcpy(x->number, num);
	x->type = type;
	x->auth = auth;
	x->limit_in = 2;
	x->limit_out = 2;
	x->ring_time = 20;
	live_tab[i].number = x->number;
	live_tab[i].contacts = contacts_n;
}

/* The routing features of extension i (made on first use). */
static struct snap_feat *F(int i)
{
	if (!ext[i].feat) {
		memset(&feat[i], 0, sizeof(feat[i]));
		feat[i].fm = (const char (*)[SNAP_NUM])lists[i][0];
		feat[i].members = (const char (*)[SNAP_NUM])lists[i][1];
		feat[i].black = (const char (*)[SNAP_NUM])lists[i][2];
		ext[i].feat = &feat[i];
	}
	return &feat[i];
}

static void fwd(int i, enum snap_fwd w, const char *to)
{
	strcpy(F(i)->fwd[w], to);
}

/* list l (0 follow-me, 1 members, 2 blacklist) of i: n numbers */
static void list(int i, int l, size_t n, ...)
{
	va_list ap;
	uint16_t *cnt = l == 0 ? &F(i)->n_fm : l == 1 ? &F(i)->n_members :
		&F(i)->n_black;

	va_start(ap, n);
	for (size_t k = 0; k < n; k++)
		strcpy(lists[i][l][k], va_arg(ap, const char *));
	va_end(ap);
	*cnt = (uint16_t)n;
	if (l == 0)
		F(i)->follow_me = n > 0;
}

static int setup(void **state)
{
	(void)state;
	memset(live_tab, 0, sizeof(live_tab));
	memset(lists, 0, sizeof(lists));
	memset(hd_tab, 0, sizeof(hd_tab));
	live.hotdesk_at = hotdesk_at;
	mk(E201, "201", MODEL_SIP, true, 0);
	mk(E202, "202", MODEL_SIP, true, 1);
	mk(E203, "203", MODEL_SIP, true, 1);
	mk(E204, "204", MODEL_IAX2, true, 1);
	mk(E205, "205", MODEL_SIP, true, 0);
	mk(E300, "300", MODEL_RING_GROUP, false, 0);
	mk(E400, "400", MODEL_SHARED, false, 0);
	mk(E500, "500", MODEL_VIRTUAL, false, 0);
	mk(E600, "600", MODEL_VOICEMAIL, false, 0);
	mk(E700, "700", MODEL_HOTDESK, false, 0);
	ext[E203].ring_time = 15;
	ext[E204].ring_time = 10;
	list(E300, 1, 3, "202", "203", "204");
	list(E400, 1, 2, "202", "203");
	list(E500, 1, 2, "203", "204");
	memset(&snap, 0, sizeof(snap));
	snap.ext = ext;
	snap.n_ext = NEXT;
	/* the built-in classes and codes (store/features.c) */
	memset(&features, 0, sizeof(features));
	strcpy(features.code[SNAP_FEAT_VOICEMAIL], "*97");
	strcpy(features.code[SNAP_FEAT_HOTDESK], "*55");
	memset(&classes, 0, sizeof(classes));
	classes.n = 4;
	strcpy(classes.cls[0].name, "default");
	classes.cls[0].allow = ((1u << SNAP_FEAT__COUNT) - 1) |
		SNAP_COS_DEST(SNAP_DEST_INTERNAL);
	strcpy(classes.cls[1].name, "restricted");
	classes.cls[1].allow = 1u << SNAP_FEAT_VOICEMAIL |
		SNAP_COS_DEST(SNAP_DEST_INTERNAL);
	strcpy(classes.cls[2].name, "nointernal");
	classes.cls[2].allow = SNAP_COS_DEST(SNAP_DEST_LOCAL);
	strcpy(classes.cls[3].name, "codesonly");
	classes.cls[3].allow = 1u << SNAP_FEAT_HOTDESK;
	snap.typed_sec[0] = (struct snap_typed){ "features", &features };
	snap.typed_sec[1] = (struct snap_typed){ "cos", &classes };
	snap.n_typed = 2;
	live.calls = 0;
	live.max_calls = 100;
	live.seed = 0;
	return 0;
}

static void route(const char *d, struct route_result *r)
{
	call_route(&snap, &ext[E201], d, strlen(d), &live, r);
}

/* The plan's steps as text: "202:20 203,204:0" (targets:ring_s). */
static const char *plan(const struct route_result *r)
{
	static char buf[256];
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < r->n_steps; i++) {
		const struct route_step *s = &r->steps[i];

		for (size_t k = 0; k < s->n; k++)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off,
						"%s%s", k ? "," : i ? " " : "",
						r->targets[s->first + k]->number);
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, ":%u",
					s->ring_s);
	}
	return buf;
}

static void rings_an_extension_with_a_contact(void **state)
{
	struct route_result r;

	(void)state;
	route("202", &r);
	assert_int_equal(r.kind, ROUTE_EXTENSION);
	assert_int_equal(r.rule, ROUTE_R_EXTENSION);
	assert_ptr_equal(r.callee, &ext[E202]);
	/* nothing follows: it rings until the call layer's bound */
	assert_string_equal(plan(&r), "202:0");
	assert_null(r.noanswer);
	assert_int_equal(r.fwd_rule, ROUTE_R_NONE);
}

static void unknown_number_404(void **state)
{
	struct route_result r;

	(void)state;
	route("999", &r);
	assert_int_equal(r.kind, ROUTE_REJECT);
	assert_int_equal(r.code, 404);
	assert_int_equal(r.rule, ROUTE_R_NOT_FOUND);
	/* a prefix of a number is not that number */
	route("20", &r);
	assert_int_equal(r.code, 404);
	route("2020", &r);
	assert_int_equal(r.code, 404);
	route("", &r);
	assert_int_equal(r.code, 404);
}

static void no_contact_480(void **state)
{
	struct route_result r;

	(void)state;
	route("205", &r);
	assert_int_equal(r.code, 480);
	assert_int_equal(r.rule, ROUTE_R_UNAVAILABLE);
	assert_string_equal(r.disposition, "unavailable");
}

static void type_not_served_480(void **state)
{
	struct route_result r;

	(void)state;
	/* zap: not served yet */
	ext[E700].type = MODEL_ZAP;
	route("700", &r);
	assert_int_equal(r.code, 480);
	assert_int_equal(r.rule, ROUTE_R_NOT_SERVED);
}

static void callee_limit_486(void **state)
{
	struct route_result r;

	(void)state;
	live_tab[E202].in = 2;   /* == limit_in */
	route("202", &r);
	assert_int_equal(r.code, 486);
	assert_int_equal(r.rule, ROUTE_R_CALLEE_LIMIT);
	live_tab[E202].in = 1;
	route("202", &r);
	assert_int_equal(r.kind, ROUTE_EXTENSION);
}

static void caller_limit_before_routing(void **state)
{
	struct route_result r;

	(void)state;
	live_tab[E201].out = 2;
	route("999", &r);   /* even a wrong number: the limit comes first */
	assert_int_equal(r.code, 486);
	assert_int_equal(r.rule, ROUTE_R_CALLER_LIMIT);
}

static void global_limit_first(void **state)
{
	struct route_result r;

	(void)state;
	live.calls = 100;
	route("202", &r);
	assert_int_equal(r.code, 503);
	assert_int_equal(r.rule, ROUTE_R_GLOBAL_LIMIT);
}

static void voicemail_access_codes(void **state)
{
	struct route_result r;

	(void)state;
	/* *97 without a mailbox of one's own: asks for the number */
	route("*97", &r);
	assert_int_equal(r.kind, ROUTE_SERVICE);
	assert_int_equal(r.rule, ROUTE_R_VM_ACCESS);
	assert_int_equal(r.svc, ROUTE_SVC_ACCESS);
	assert_null(r.mailbox);
	/* with one: the caller's own (the PIN is still asked) */
	ext[E201].vm = true;
	route("*97", &r);
	assert_int_equal(r.svc, ROUTE_SVC_ACCESS);
	assert_ptr_equal(r.mailbox, &ext[E201]);
	/* *98: any mailbox, number then PIN */
	strcpy(features.code[SNAP_FEAT_VOICEMAIL_LOGIN], "*98");
	route("*98", &r);
	assert_int_equal(r.kind, ROUTE_SERVICE);
	assert_int_equal(r.svc, ROUTE_SVC_ACCESS);
	assert_null(r.mailbox);
	/* a code the admin cleared is no code */
	features.code[SNAP_FEAT_VOICEMAIL_LOGIN][0] = '\0';
	route("*98", &r);
	assert_int_equal(r.code, 404);
	/* camp-on alone with nothing remembered as busy: 404 (camp_on's
	 * own rules: tests/unit/test_campon.c) */
	strcpy(features.code[SNAP_FEAT_CAMP_ON], "*82");
	route("*82", &r);
	assert_int_equal(r.code, 404);
	assert_int_equal(r.rule, ROUTE_R_CAMPON_REFUSED);
}

static void mailbox_takes_the_call(void **state)
{
	struct route_result r;

	(void)state;
	/* no contact, no forward, a mailbox: unavailable greeting */
	ext[E205].vm = true;
	route("205", &r);
	assert_int_equal(r.kind, ROUTE_SERVICE);
	assert_int_equal(r.rule, ROUTE_R_VOICEMAIL);
	assert_int_equal(r.svc, ROUTE_SVC_DEPOSIT);
	assert_ptr_equal(r.mailbox, &ext[E205]);
	assert_int_equal(r.greet, ROUTE_GREET_UNAVAIL);
	/* busy (limit reached), a mailbox: busy greeting */
	ext[E202].vm = true;
	live_tab[E202].in = 2;
	route("202", &r);
	assert_int_equal(r.kind, ROUTE_SERVICE);
	assert_int_equal(r.greet, ROUTE_GREET_BUSY);
	assert_ptr_equal(r.mailbox, &ext[E202]);
	/* rings: its mailbox follows the ring time, on no answer and on a
	 * busy answer from the phone */
	live_tab[E202].in = 0;
	route("202", &r);
	assert_int_equal(r.kind, ROUTE_EXTENSION);
	assert_string_equal(plan(&r), "202:20");
	assert_ptr_equal(r.vm_noanswer, &ext[E202]);
	assert_ptr_equal(r.vm_busy, &ext[E202]);
	/* a forward wins over the mailbox for its outcome */
	fwd(E202, SNAP_FWD_NOANSWER, "203");
	route("202", &r);
	assert_null(r.vm_noanswer);
	assert_ptr_equal(r.vm_busy, &ext[E202]);
	fwd(E202, SNAP_FWD_UNAVAILABLE, "203");
	live_tab[E202].contacts = 0;
	route("202", &r);
	assert_int_equal(r.kind, ROUTE_EXTENSION);
	assert_ptr_equal(r.callee, &ext[E203]);
	/* without a mailbox nothing follows the phone: rings on */
	route("203", &r);
	assert_null(r.vm_noanswer);
	assert_string_equal(plan(&r), "203:0");
	/* a voicemail extension answers at once */
	route("600", &r);
	assert_int_equal(r.kind, ROUTE_SERVICE);
	assert_int_equal(r.svc, ROUTE_SVC_DEPOSIT);
	assert_ptr_equal(r.mailbox, &ext[E600]);
}


static void feature_codes_and_class_of_service(void **state)
{
	struct route_result r;

	(void)state;
	route("*97", &r);   /* allowed by "default" */
	assert_int_equal(r.rule, ROUTE_R_VM_ACCESS);
	route("*12", &r);   /* no such code */
	assert_int_equal(r.code, 404);
	F(E201);
	strcpy(feat[E201].cos, "restricted");
	route("*55", &r);   /* hotdesk: not in "restricted" */
	assert_int_equal(r.code, 403);
	assert_int_equal(r.rule, ROUTE_R_COS_FEATURE);
	assert_string_equal(r.disposition, "rejected");
	route("*97", &r);
	assert_int_equal(r.rule, ROUTE_R_VM_ACCESS);
	route("202", &r);   /* internal: listed */
	assert_int_equal(r.kind, ROUTE_EXTENSION);
	/* a class naming destination classes but not internal */
	strcpy(feat[E201].cos, "nointernal");
	route("202", &r);
	assert_int_equal(r.code, 403);
	assert_int_equal(r.rule, ROUTE_R_COS_DEST);
	route("999", &r);   /* still a 404 for a number that is none */
	assert_int_equal(r.code, 404);
	/* a class naming no destination class restricts only codes */
	strcpy(feat[E201].cos, "codesonly");
	route("202", &r);
	assert_int_equal(r.kind, ROUTE_EXTENSION);
	route("*97", &r);
	assert_int_equal(r.code, 403);
	/* a class that is not there (refused at commit): internal only */
	strcpy(feat[E201].cos, "gone");
	route("*97", &r);
	assert_int_equal(r.code, 403);
	route("202", &r);
	assert_int_equal(r.kind, ROUTE_EXTENSION);
	/* a snapshot without classes (built by hand): everything; without
	 * the codes section no code is known */
	snap.n_typed = 0;
	route("*55", &r);
	assert_int_equal(r.rule, ROUTE_R_FEATURE_CODE);
}

/* ---- hotdesk (issue 13) ---- */

static void hotdesk_codes_are_a_service(void **state)
{
	struct route_result r;

	(void)state;
	strcpy(features.code[SNAP_FEAT_HOTDESK_LOGOUT], "*56");
	route("*55", &r);
	assert_int_equal(r.kind, ROUTE_SERVICE);
	assert_int_equal(r.svc, ROUTE_SVC_HOTDESK);
	assert_int_equal(r.rule, ROUTE_R_HOTDESK_CODE);
	assert_null(r.mailbox);
	assert_null(r.callee);
	route("*56", &r);
	assert_int_equal(r.kind, ROUTE_SERVICE);
	assert_int_equal(r.svc, ROUTE_SVC_HOTDESK);
	/* a class without them: 403 before any service */
	F(E201);
	strcpy(feat[E201].cos, "restricted");
	route("*55", &r);
	assert_int_equal(r.code, 403);
	assert_int_equal(r.rule, ROUTE_R_COS_FEATURE);
	route("*56", &r);
	assert_int_equal(r.code, 403);
	/* "codesonly" lists hotdesk but not hotdesk_logout */
	strcpy(feat[E201].cos, "codesonly");
	route("*55", &r);
	assert_int_equal(r.svc, ROUTE_SVC_HOTDESK);
	route("*56", &r);
	assert_int_equal(r.code, 403);
	/* the route_rule names */
	assert_string_equal(route_rule_str(ROUTE_R_HOTDESK), "hotdesk");
	assert_string_equal(route_rule_str(ROUTE_R_HOTDESK_CODE),
			    "hotdesk_code");
}

static void hotdesk_not_logged_in_is_unavailable(void **state)
{
	struct route_result r;

	(void)state;
	route("700", &r);
	assert_int_equal(r.kind, ROUTE_REJECT);
	assert_int_equal(r.code, 480);
	assert_int_equal(r.rule, ROUTE_R_UNAVAILABLE);
	assert_ptr_equal(r.callee, &ext[E700]);
	/* no hotdesk service at all: the same */
	live.hotdesk_at = NULL;
	route("700", &r);
	assert_int_equal(r.code, 480);
	live.hotdesk_at = hotdesk_at;
	/* logged in at a number that is gone, or at no phone */
	hd_tab[0].hd = "700";
	hd_tab[0].phone = "999";
	route("700", &r);
	assert_int_equal(r.code, 480);
	hd_tab[0].phone = "300";
	route("700", &r);
	assert_int_equal(r.code, 480);
	/* its mailbox takes the call (unavailable greeting) */
	ext[E700].vm = true;
	route("700", &r);
	assert_int_equal(r.kind, ROUTE_SERVICE);
	assert_int_equal(r.svc, ROUTE_SVC_DEPOSIT);
	assert_ptr_equal(r.mailbox, &ext[E700]);
	assert_int_equal(r.greet, ROUTE_GREET_UNAVAIL);
	/* its unavailable forward before the mailbox */
	fwd(E700, SNAP_FWD_UNAVAILABLE, "203");
	route("700", &r);
	assert_int_equal(r.kind, ROUTE_EXTENSION);
	assert_int_equal(r.fwd_rule, ROUTE_R_FWD_UNAVAILABLE);
	assert_string_equal(plan(&r), "203:0");
}

static void hotdesk_logged_in_rings_that_phone(void **state)
{
	struct route_result r;

	(void)state;
	hd_tab[0].hd = "700";
	hd_tab[0].phone = "202";
	route("700", &r);
	assert_int_equal(r.kind, ROUTE_EXTENSION);
	assert_int_equal(r.rule, ROUTE_R_HOTDESK);
	/* the hotdesk extension is the callee; its user's phone rings */
	assert_ptr_equal(r.callee, &ext[E700]);
	assert_string_equal(plan(&r), "202:0");
	/* its own mailbox after its own ring time */
	ext[E700].vm = true;
	ext[E700].ring_time = 12;
	route("700", &r);
	assert_string_equal(plan(&r), "202:12");
	assert_ptr_equal(r.vm_noanswer, &ext[E700]);
	assert_ptr_equal(r.vm_busy, &ext[E700]);
	/* its no-answer forward and follow-me apply, not the phone's */
	fwd(E202, SNAP_FWD_NOANSWER, "204");
	fwd(E700, SNAP_FWD_NOANSWER, "203");
	route("700", &r);
	assert_ptr_equal(r.noanswer, &ext[E203]);
	/* moved to another phone: that one rings */
	hd_tab[0].phone = "204";
	route("700", &r);
	assert_string_equal(plan(&r), "204:12");
	/* the phone it is at has no contact: unavailable, its mailbox */
	hd_tab[0].phone = "205";
	route("700", &r);
	assert_int_equal(r.kind, ROUTE_SERVICE);
	assert_int_equal(r.svc, ROUTE_SVC_DEPOSIT);
	assert_int_equal(r.greet, ROUTE_GREET_UNAVAIL);
	/* its blacklist and immediate forward first, as for anyone */
	hd_tab[0].phone = "202";
	list(E700, 2, 1, "201");
	route("700", &r);
	assert_int_equal(r.code, 603);
	F(E700)->n_black = 0;
	fwd(E700, SNAP_FWD_IMMEDIATE, "203");
	route("700", &r);
	assert_int_equal(r.fwd_rule, ROUTE_R_FWD_IMMEDIATE);
	assert_string_equal(plan(&r), "203:0");
}

static void hotdesk_busy(void **state)
{
	struct route_result r;

	(void)state;
	hd_tab[0].hd = "700";
	hd_tab[0].phone = "202";
	/* the phone at its own limit */
	live_tab[E202].in = 2;
	route("700", &r);
	assert_int_equal(r.code, 486);
	assert_int_equal(r.rule, ROUTE_R_CALLEE_LIMIT);
	/* the hotdesk extension at its limit */
	live_tab[E202].in = 0;
	live_tab[E700].in = 2;
	route("700", &r);
	assert_int_equal(r.code, 486);
	/* its mailbox with the busy greeting, or its busy forward */
	ext[E700].vm = true;
	route("700", &r);
	assert_int_equal(r.svc, ROUTE_SVC_DEPOSIT);
	assert_int_equal(r.greet, ROUTE_GREET_BUSY);
	fwd(E700, SNAP_FWD_BUSY, "203");
	route("700", &r);
	assert_int_equal(r.fwd_rule, ROUTE_R_FWD_BUSY);
	assert_string_equal(plan(&r), "203:0");
}

static void hotdesk_in_groups_and_follow_me(void **state)
{
	struct route_result r;

	(void)state;
	/* a ring group member that is a hotdesk extension: its phone */
	list(E300, 1, 2, "700", "203");
	route("300", &r);
	assert_string_equal(plan(&r), "203:0");   /* nobody logged in */
	hd_tab[0].hd = "700";
	hd_tab[0].phone = "204";
	route("300", &r);
	assert_string_equal(plan(&r), "204,203:0");
	/* a follow-me entry */
	list(E202, 0, 1, "700");
	route("202", &r);
	assert_string_equal(plan(&r), "202:20 204:0");
	/* the caller is a hotdesk user (a phone calling as one): its class
	 * and limits */
	ext[E700].limit_out = 0;
	call_route(&snap, &ext[E700], "202", 3, &live, &r);
	assert_int_equal(r.code, 486);
	assert_int_equal(r.rule, ROUTE_R_CALLER_LIMIT);
	ext[E700].limit_out = 2;
	F(E700);
	strcpy(feat[E700].cos, "nointernal");
	call_route(&snap, &ext[E700], "202", 3, &live, &r);
	assert_int_equal(r.code, 403);
}

static void blacklist_603_before_anything(void **state)
{
	struct route_result r;

	(void)state;
	list(E202, 2, 2, "5550199", "201");
	fwd(E202, SNAP_FWD_IMMEDIATE, "203");
	route("202", &r);
	assert_int_equal(r.code, 603);
	assert_int_equal(r.rule, ROUTE_R_BLACKLIST);
	assert_string_equal(r.disposition, "rejected");
	/* another caller's number is not refused */
	list(E202, 2, 1, "5550199");
	route("202", &r);
	assert_int_equal(r.kind, ROUTE_EXTENSION);
	assert_ptr_equal(r.callee, &ext[E203]);
	/* the forward's target refuses the caller too */
	list(E203, 2, 1, "201");
	route("202", &r);
	assert_int_equal(r.code, 603);
	/* a group's blacklist */
	list(E300, 2, 1, "201");
	route("300", &r);
	assert_int_equal(r.code, 603);
}

static void forward_immediate_and_chain(void **state)
{
	struct route_result r;

	(void)state;
	fwd(E202, SNAP_FWD_IMMEDIATE, "203");
	route("202", &r);
	assert_int_equal(r.kind, ROUTE_EXTENSION);
	assert_ptr_equal(r.callee, &ext[E203]);
	assert_int_equal(r.fwd_rule, ROUTE_R_FWD_IMMEDIATE);
	assert_ptr_equal(r.fwd_from, &ext[E202]);
	assert_int_equal(r.hops, 1);
	assert_string_equal(plan(&r), "203:0");
	/* even when 202 has no contact and is busy: immediate comes first */
	live_tab[E202].contacts = 0;
	live_tab[E202].in = 5;
	route("202", &r);
	assert_ptr_equal(r.callee, &ext[E203]);
	/* a chain: 202 -> 203 -> 204 */
	fwd(E203, SNAP_FWD_IMMEDIATE, "204");
	route("202", &r);
	assert_ptr_equal(r.callee, &ext[E204]);
	assert_ptr_equal(r.fwd_from, &ext[E203]);
	assert_int_equal(r.hops, 2);
	/* to a ring group */
	fwd(E203, SNAP_FWD_IMMEDIATE, "300");
	route("202", &r);
	assert_int_equal(r.rule, ROUTE_R_RING_GROUP);
	assert_ptr_equal(r.callee, &ext[E300]);
	/* 202 itself is busy: the group rings the others */
	assert_string_equal(plan(&r), "203,204:0");
}

static void forward_loop_482(void **state)
{
	struct route_result r;

	(void)state;
	fwd(E202, SNAP_FWD_IMMEDIATE, "203");
	fwd(E203, SNAP_FWD_IMMEDIATE, "202");
	route("202", &r);
	assert_int_equal(r.kind, ROUTE_REJECT);
	assert_int_equal(r.code, 482);
	assert_int_equal(r.rule, ROUTE_R_LOOP);
	assert_int_equal(r.hops, ROUTE_MAX_HOPS + 1);
	/* a long chain without a loop stops at the same bound */
	fwd(E203, SNAP_FWD_IMMEDIATE, "204");
	fwd(E204, SNAP_FWD_IMMEDIATE, "205");
	fwd(E205, SNAP_FWD_IMMEDIATE, "500");
	fwd(E500, SNAP_FWD_IMMEDIATE, "202");
	route("202", &r);
	assert_int_equal(r.code, 482);
	/* busy forwards loop the same way */
	memset(F(E203)->fwd, 0, sizeof(F(E203)->fwd));
	memset(F(E202)->fwd, 0, sizeof(F(E202)->fwd));
	fwd(E202, SNAP_FWD_BUSY, "203");
	fwd(E203, SNAP_FWD_BUSY, "202");
	live_tab[E202].in = 2;
	live_tab[E203].in = 2;
	route("202", &r);
	assert_int_equal(r.code, 482);
	/* a forward at run time past the bound */
	call_route_forward(&snap, &ext[E201], &ext[E202], &ext[E204],
			   ROUTE_R_FWD_NOANSWER, ROUTE_MAX_HOPS, &live, &r);
	assert_int_equal(r.code, 482);
	memset(F(E204)->fwd, 0, sizeof(F(E204)->fwd));
	call_route_forward(&snap, &ext[E201], &ext[E202], &ext[E204],
			   ROUTE_R_FWD_NOANSWER, 0, &live, &r);
	assert_int_equal(r.kind, ROUTE_EXTENSION);
	assert_int_equal(r.fwd_rule, ROUTE_R_FWD_NOANSWER);
	assert_ptr_equal(r.callee, &ext[E204]);
}

static void forward_busy_and_unavailable(void **state)
{
	struct route_result r;

	(void)state;
	fwd(E202, SNAP_FWD_BUSY, "203");
	fwd(E202, SNAP_FWD_UNAVAILABLE, "204");
	route("202", &r);   /* free and reachable: rings, busy kept */
	assert_string_equal(plan(&r), "202:0");
	assert_ptr_equal(r.busy, &ext[E203]);
	live_tab[E202].in = 2;
	route("202", &r);
	assert_ptr_equal(r.callee, &ext[E203]);
	assert_int_equal(r.fwd_rule, ROUTE_R_FWD_BUSY);
	live_tab[E202].in = 0;
	live_tab[E202].contacts = 0;
	route("202", &r);
	assert_ptr_equal(r.callee, &ext[E204]);
	assert_int_equal(r.fwd_rule, ROUTE_R_FWD_UNAVAILABLE);
	/* the target unavailable in turn, without rules of its own */
	live_tab[E204].contacts = 0;
	route("202", &r);
	assert_int_equal(r.code, 480);
	assert_int_equal(r.rule, ROUTE_R_UNAVAILABLE);
	assert_int_equal(r.fwd_rule, ROUTE_R_FWD_UNAVAILABLE);
	/* to a voicemail extension: its mailbox takes a message */
	fwd(E202, SNAP_FWD_UNAVAILABLE, "600");
	route("202", &r);
	assert_int_equal(r.kind, ROUTE_SERVICE);
	assert_int_equal(r.rule, ROUTE_R_VOICEMAIL);
	assert_int_equal(r.fwd_rule, ROUTE_R_FWD_UNAVAILABLE);
	assert_ptr_equal(r.callee, &ext[E600]);
	assert_ptr_equal(r.mailbox, &ext[E600]);
}

static void forward_no_answer_after_ring_time(void **state)
{
	struct route_result r;

	(void)state;
	fwd(E202, SNAP_FWD_NOANSWER, "203");
	route("202", &r);
	assert_int_equal(r.kind, ROUTE_EXTENSION);
	assert_string_equal(plan(&r), "202:20");
	assert_ptr_equal(r.noanswer, &ext[E203]);
	ext[E202].ring_time = 7;
	route("202", &r);
	assert_string_equal(plan(&r), "202:7");
}

static void follow_me_in_sequence(void **state)
{
	struct route_result r;

	(void)state;
	list(E202, 0, 3, "203", "205", "204");   /* 205: no contact */
	route("202", &r);
	assert_int_equal(r.kind, ROUTE_EXTENSION);
	assert_string_equal(plan(&r), "202:20 203:15 204:0");
	/* then the final destination */
	fwd(E202, SNAP_FWD_NOANSWER, "300");
	route("202", &r);
	assert_string_equal(plan(&r), "202:20 203:15 204:10");
	assert_ptr_equal(r.noanswer, &ext[E300]);
	/* a busy destination is skipped */
	live_tab[E203].in = 2;
	route("202", &r);
	assert_string_equal(plan(&r), "202:20 204:10");
	/* together: the list at once, for the extension's ring time */
	live_tab[E203].in = 0;
	F(E202)->fm_together = true;
	route("202", &r);
	assert_string_equal(plan(&r), "202:20 203,204:20");
	fwd(E202, SNAP_FWD_NOANSWER, "");
	route("202", &r);
	assert_string_equal(plan(&r), "202:20 203,204:0");
	assert_null(r.noanswer);
	F(E202)->fm_together = false;
	/* the extension itself unreachable: its unavailable rule */
	live_tab[E202].contacts = 0;
	route("202", &r);
	assert_int_equal(r.code, 480);
	fwd(E202, SNAP_FWD_UNAVAILABLE, "204");
	route("202", &r);
	assert_ptr_equal(r.callee, &ext[E204]);
}

static void ring_group_strategies(void **state)
{
	struct route_result r;

	(void)state;
	route("300", &r);
	assert_int_equal(r.rule, ROUTE_R_RING_GROUP);
	assert_ptr_equal(r.callee, &ext[E300]);
	assert_string_equal(plan(&r), "202,203,204:0");
	F(E300)->strategy = SNAP_RING_HUNT;
	route("300", &r);
	assert_string_equal(plan(&r), "202:20 203:15 204:0");
	F(E300)->strategy = SNAP_RING_MEMORYHUNT;
	route("300", &r);
	assert_string_equal(plan(&r), "202:20 202,203:15 202,203,204:0");
	F(E300)->strategy = SNAP_RING_RANDOM;
	live.seed = 4;   /* 4 % 3: starts at the second */
	route("300", &r);
	assert_string_equal(plan(&r), "203:15 204:10 202:0");
	/* a no-answer forward after the group */
	F(E300)->strategy = SNAP_RING_ALL;
	fwd(E300, SNAP_FWD_NOANSWER, "205");
	ext[E300].ring_time = 30;
	route("300", &r);
	assert_string_equal(plan(&r), "202,203,204:30");
	assert_ptr_equal(r.noanswer, &ext[E205]);
	/* members busy or unreachable are skipped; none left: 480/486 */
	live_tab[E202].in = 2;
	live_tab[E203].contacts = 0;
	route("300", &r);
	assert_string_equal(plan(&r), "204:30");
	live_tab[E204].contacts = 0;
	route("300", &r);
	assert_int_equal(r.code, 486);
	live_tab[E202].in = 0;
	live_tab[E202].contacts = 0;
	route("300", &r);
	assert_int_equal(r.code, 480);
	assert_int_equal(r.rule, ROUTE_R_NO_MEMBER);
	fwd(E300, SNAP_FWD_UNAVAILABLE, "205");
	route("300", &r);
	assert_int_equal(r.fwd_rule, ROUTE_R_FWD_UNAVAILABLE);
	assert_int_equal(r.code, 480);   /* 205 has no contact either */
}

static void ring_group_members_ignore_their_forwards(void **state)
{
	struct route_result r;

	(void)state;
	/* a member's own forwarding does not take the group's call away */
	fwd(E202, SNAP_FWD_IMMEDIATE, "205");
	route("300", &r);
	assert_string_equal(plan(&r), "202,203,204:0");
	/* a virtual member brings its destinations, once each */
	list(E300, 1, 2, "202", "500");
	route("300", &r);
	assert_string_equal(plan(&r), "202,203,204:0");
}

/* A ring group has no mailbox: ring_group.vm_copies' first mailbox takes
 * its messages (the copies are the voicemail application's), when nobody
 * answers, when all are busy, and when nobody can ring at all. */
static void ring_group_voicemail(void **state)
{
	struct route_result r;

	(void)state;
	/* none set: as before, no mailbox */
	route("300", &r);
	assert_null(r.vm_noanswer);
	assert_null(r.copies_of);
	assert_string_equal(plan(&r), "202,203,204:0");
	strcpy(ext[E300].rg_vm, "205");
	ext[E205].vm = true;
	route("300", &r);
	assert_ptr_equal(r.vm_noanswer, &ext[E205]);
	assert_ptr_equal(r.vm_busy, &ext[E205]);
	assert_ptr_equal(r.copies_of, &ext[E300]);
	/* the group's ring time now ends in the mailbox */
	assert_string_equal(plan(&r), "202,203,204:20");
	/* a no-answer forward wins over the mailbox */
	fwd(E300, SNAP_FWD_NOANSWER, "203");
	route("300", &r);
	assert_null(r.vm_noanswer);
	assert_ptr_equal(r.vm_busy, &ext[E205]);
	F(E300)->fwd[SNAP_FWD_NOANSWER][0] = '\0';
	/* every member busy: a message at once, the busy greeting */
	live_tab[E202].in = live_tab[E203].in = live_tab[E204].in = 2;
	route("300", &r);
	assert_int_equal(r.kind, ROUTE_SERVICE);
	assert_int_equal(r.svc, ROUTE_SVC_DEPOSIT);
	assert_ptr_equal(r.mailbox, &ext[E205]);
	assert_int_equal(r.greet, ROUTE_GREET_BUSY);
	assert_ptr_equal(r.copies_of, &ext[E300]);
	/* the first mailbox named is not one: as if none were set */
	ext[E205].vm = false;
	route("300", &r);
	assert_int_equal(r.kind, ROUTE_REJECT);
	assert_int_equal(r.code, 486);
	assert_null(r.copies_of);
}

static void shared_device_skips_busy(void **state)
{
	struct route_result r;

	(void)state;
	route("400", &r);
	assert_int_equal(r.rule, ROUTE_R_SHARED);
	assert_string_equal(plan(&r), "202,203:0");
	live_tab[E202].in = 2;
	route("400", &r);
	assert_string_equal(plan(&r), "203:0");
	live_tab[E203].in = 2;
	route("400", &r);
	assert_int_equal(r.code, 486);
	fwd(E400, SNAP_FWD_BUSY, "204");
	route("400", &r);
	assert_int_equal(r.fwd_rule, ROUTE_R_FWD_BUSY);
	assert_ptr_equal(r.callee, &ext[E204]);
}

static void virtual_rings_destinations_keeps_forwarding(void **state)
{
	struct route_result r;

	(void)state;
	route("500", &r);
	assert_int_equal(r.rule, ROUTE_R_VIRTUAL);
	assert_string_equal(plan(&r), "203,204:0");
	fwd(E500, SNAP_FWD_NOANSWER, "202");
	route("500", &r);
	assert_string_equal(plan(&r), "203,204:20");
	assert_ptr_equal(r.noanswer, &ext[E202]);
	list(E500, 0, 1, "202");   /* follow-me after its destinations */
	route("500", &r);
	assert_string_equal(plan(&r), "203,204:20 202:20");
	fwd(E500, SNAP_FWD_IMMEDIATE, "205");
	fwd(E205, SNAP_FWD_UNAVAILABLE, "202");
	route("500", &r);
	assert_ptr_equal(r.callee, &ext[E202]);
	assert_int_equal(r.hops, 2);
}

static void rule_names(void **state)
{
	(void)state;
	assert_string_equal(route_rule_str(ROUTE_R_CALLEE_LIMIT),
			    "callee_limit");
	assert_string_equal(route_rule_str((enum route_rule)999), "unknown");
	for (int i = 0; i < ROUTE_R__COUNT; i++)
		assert_string_not_equal(route_rule_str((enum route_rule)i),
					"unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(rings_an_extension_with_a_contact, setup),
		cmocka_unit_test_setup(unknown_number_404, setup),
		cmocka_unit_test_setup(no_contact_480, setup),
		cmocka_unit_test_setup(type_not_served_480, setup),
		cmocka_unit_test_setup(callee_limit_486, setup),
		cmocka_unit_test_setup(caller_limit_before_routing, setup),
		cmocka_unit_test_setup(global_limit_first, setup),
		cmocka_unit_test_setup(voicemail_access_codes, setup),
		cmocka_unit_test_setup(mailbox_takes_the_call, setup),
		cmocka_unit_test_setup(feature_codes_and_class_of_service,
				       setup),
		cmocka_unit_test_setup(blacklist_603_before_anything, setup),
		cmocka_unit_test_setup(forward_immediate_and_chain, setup),
		cmocka_unit_test_setup(forward_loop_482, setup),
		cmocka_unit_test_setup(forward_busy_and_unavailable, setup),
		cmocka_unit_test_setup(forward_no_answer_after_ring_time,
				       setup),
		cmocka_unit_test_setup(follow_me_in_sequence, setup),
		cmocka_unit_test_setup(ring_group_strategies, setup),
		cmocka_unit_test_setup(ring_group_voicemail, setup),
		cmocka_unit_test_setup(ring_group_members_ignore_their_forwards,
				       setup),
		cmocka_unit_test_setup(shared_device_skips_busy, setup),
		cmocka_unit_test_setup(virtual_rings_destinations_keeps_forwarding,
				       setup),
		cmocka_unit_test_setup(rule_names, setup),
		cmocka_unit_test_setup(hotdesk_codes_are_a_service, setup),
		cmocka_unit_test_setup(hotdesk_not_logged_in_is_unavailable,
				       setup),
		cmocka_unit_test_setup(hotdesk_logged_in_rings_that_phone,
				       setup),
		cmocka_unit_test_setup(hotdesk_busy, setup),
		cmocka_unit_test_setup(hotdesk_in_groups_and_follow_me, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
