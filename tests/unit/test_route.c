/*
 * Unit tests of call/route.c: the routing rules in their order, over a
 * hand-built snapshot and live state given by the test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "call/route.h"
#include "model/model.h"
#include "store/snapshot.h"

static struct snap_ext ext[4];
static struct snapshot snap;

/* live state of the test: per number, contacts and calls in/out */
static struct {
	const char *number;
	unsigned contacts, in, out;
} live_tab[4];

static unsigned get(const char *number, int what)
{
	for (size_t i = 0; i < 4; i++)
		if (live_tab[i].number && !strcmp(live_tab[i].number, number))
			return what == 0 ? live_tab[i].contacts :
				what == 1 ? live_tab[i].in : live_tab[i].out;
	return 0;
}

static unsigned contacts(const char *n, void *a) { (void)a; return get(n, 0); }
static unsigned calls_in(const char *n, void *a) { (void)a; return get(n, 1); }
static unsigned calls_out(const char *n, void *a) { (void)a; return get(n, 2); }

static struct route_live live = {
	.contacts = contacts, .calls_in = calls_in, .calls_out = calls_out,
	.calls = 0, .max_calls = 100,
};

static void mk(struct snap_ext *x, const char *num, uint8_t type, bool auth)
{
	memset(x, 0, sizeof(*x));
	strcpy(x->number, num);
	x->type = type;
	x->auth = auth;
	x->limit_in = 2;
	x->limit_out = 2;
}

static int setup(void **state)
{
	(void)state;
	/* sorted by number, as the store builds it */
	mk(&ext[0], "201", MODEL_SIP, true);
	mk(&ext[1], "202", MODEL_SIP, true);
	mk(&ext[2], "300", MODEL_RING_GROUP, false);
	mk(&ext[3], "401", MODEL_IAX2, true);
	memset(&snap, 0, sizeof(snap));
	snap.ext = ext;
	snap.n_ext = 4;
	memset(live_tab, 0, sizeof(live_tab));
	live_tab[0].number = "201";
	live_tab[1].number = "202";
	live_tab[1].contacts = 1;
	live_tab[2].number = "401";
	live.calls = 0;
	live.max_calls = 100;
	return 0;
}

static void route(const char *d, struct route_result *r)
{
	call_route(&snap, &ext[0], d, strlen(d), &live, r);
}

static void rings_an_extension_with_a_contact(void **state)
{
	struct route_result r;

	(void)state;
	route("202", &r);
	assert_int_equal(r.kind, ROUTE_EXTENSION);
	assert_int_equal(r.rule, ROUTE_R_EXTENSION);
	assert_ptr_equal(r.callee, &ext[1]);
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
	route("401", &r);
	assert_int_equal(r.code, 480);
	assert_int_equal(r.rule, ROUTE_R_UNAVAILABLE);
	assert_string_equal(r.disposition, "unavailable");
}

static void type_not_served_480(void **state)
{
	struct route_result r;

	(void)state;
	route("300", &r);
	assert_int_equal(r.code, 480);
	assert_int_equal(r.rule, ROUTE_R_NOT_SERVED);
}

static void callee_limit_486(void **state)
{
	struct route_result r;

	(void)state;
	live_tab[1].in = 2;   /* == limit_in */
	route("202", &r);
	assert_int_equal(r.code, 486);
	assert_int_equal(r.rule, ROUTE_R_CALLEE_LIMIT);
	live_tab[1].in = 1;
	route("202", &r);
	assert_int_equal(r.kind, ROUTE_EXTENSION);
}

static void caller_limit_before_routing(void **state)
{
	struct route_result r;

	(void)state;
	live_tab[0].out = 2;
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

static void feature_codes_not_served_yet(void **state)
{
	struct route_result r;

	(void)state;
	route("*97", &r);
	assert_int_equal(r.code, 404);
	assert_int_equal(r.rule, ROUTE_R_FEATURE_CODE);
}

static void rule_names(void **state)
{
	(void)state;
	assert_string_equal(route_rule_str(ROUTE_R_CALLEE_LIMIT),
			    "callee_limit");
	assert_string_equal(route_rule_str((enum route_rule)999), "unknown");
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
		cmocka_unit_test_setup(feature_codes_not_served_yet, setup),
		cmocka_unit_test_setup(rule_names, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
