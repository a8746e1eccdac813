/* Unit tests of the settings table type (common/settings.c) on a table
 * of every type, and of the "sip" section built on it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "common/report.h"
#include "common/settings.h"
#include "common/sip_settings.h"

struct demo {
	uint16_t port;
	int32_t offset;
	uint64_t big;
	bool on;
	unsigned mode;
	char name[8];
};

static const char *const modes[] = { "sip", "all", NULL };

static int lower_only(const char *field, const char *v, struct report *r)
{
	for (; *v; v++) {
		if (*v < 'a' || *v > 'z') {
			if (r)
				report_add(r, "demo", field, "demo.lower",
					   "%s must be lower-case letters",
					   field);
			return EINVAL;
		}
	}
	return 0;
}

static const struct setting_def demo_defs[] = {
	SETTING_INT_AT(struct demo, port, 5060, 1, 65535, "sip", "a port"),
	SETTING_INT_AT(struct demo, offset, -5, -10, 10, "demo", "signed"),
	SETTING_INT_AT(struct demo, big, 5000000000LL, 0, 9000000000LL,
		       "demo", "64 bits"),
	SETTING_BOOL_AT(struct demo, on, 1, "demo", "a switch"),
	{ .name = "mode", .type = SETTING_ENUM, .sdef = "sip",
	  .choices = modes, .module = "guard",
	  .off = offsetof(struct demo, mode), .size = sizeof(unsigned),
	  .help = "a choice" },
	{ .name = "name", .type = SETTING_STRING, .sdef = "abc",
	  .check = lower_only,
	  .module = "demo", .off = offsetof(struct demo, name),
	  .size = sizeof(((struct demo *)0)->name), .help = "a name" },
};

static const struct settings_table demo = {
	.section = "demo", .defs = demo_defs,
	.n = sizeof(demo_defs) / sizeof(demo_defs[0]),
	.struct_size = sizeof(struct demo),
};

static bool has(const struct report *r, const char *field, const char *rule)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->item[i].field, field) &&
		    !strcmp(r->item[i].rule, rule))
			return true;
	return false;
}

static void test_defaults_and_decode(void **st)
{
	json_t *d = settings_defaults(&demo);
	struct demo x;

	(void)st;
	assert_non_null(d);
	assert_int_equal(json_integer_value(json_object_get(d, "port")), 5060);
	assert_true(json_is_true(json_object_get(d, "on")));
	assert_string_equal(json_string_value(json_object_get(d, "mode")),
			    "sip");
	assert_string_equal(json_string_value(json_object_get(d, "name")),
			    "abc");
	memset(&x, 0xff, sizeof(x));
	settings_decode(&demo, NULL, &x);
	assert_int_equal(x.port, 5060);
	assert_int_equal(x.offset, -5);
	assert_true(x.big == 5000000000ULL);
	assert_true(x.on);
	assert_int_equal(x.mode, 0);
	assert_string_equal(x.name, "abc");
	json_decref(d);
}

static void test_set_and_decode(void **st)
{
	json_t *o = json_object();
	struct report r;
	struct demo x;

	(void)st;
	report_init(&r);
	assert_int_equal(settings_set(&demo, o, "port", "5070", &r), 0);
	assert_int_equal(settings_set(&demo, o, "offset", "-10", &r), 0);
	assert_int_equal(settings_set(&demo, o, "on", "off", &r), 0);
	assert_int_equal(settings_set(&demo, o, "mode", "all", &r), 0);
	assert_int_equal(settings_set(&demo, o, "name", "xyz", &r), 0);
	assert_int_equal(report_count(&r), 0);
	assert_true(json_is_integer(json_object_get(o, "port")));
	assert_true(json_is_false(json_object_get(o, "on")));
	settings_decode(&demo, o, &x);
	assert_int_equal(x.port, 5070);
	assert_int_equal(x.offset, -10);
	assert_false(x.on);
	assert_int_equal(x.mode, 1);
	assert_string_equal(x.name, "xyz");
	assert_int_equal(settings_int(&demo, o, "port"), 5070);
	assert_int_equal(settings_int(&demo, o, "nosuch"), 0);
	assert_int_equal(settings_int(&demo, o, "on"), 0);
	/* text as the CLI stages it decodes too */
	json_object_set_new(o, "port", json_string("5080"));
	settings_decode(&demo, o, &x);
	assert_int_equal(x.port, 5080);
	assert_int_equal(settings_check(&demo, o, &r), 0);
	json_decref(o);
	report_reset(&r);
}

/* Every refusal names the field and the rule; nothing is changed. */
static void test_errors_name_field_and_rule(void **st)
{
	static const struct { const char *key, *val, *field, *rule; int err; }
	cases[] = {
		{ "port", "0", "demo.port", "demo.range", EINVAL },
		{ "port", "65536", "demo.port", "demo.range", EINVAL },
		{ "port", "", "demo.port", "demo.range", EINVAL },
		{ "port", "12a", "demo.port", "demo.range", EINVAL },
		{ "port", "99999999999999999999999", "demo.port", "demo.range",
		  EINVAL },
		{ "offset", "-11", "demo.offset", "demo.range", EINVAL },
		{ "on", "maybe", "demo.on", "demo.bool", EINVAL },
		{ "mode", "some", "demo.mode", "demo.choice", EINVAL },
		{ "name", "ABC", "demo.name", "demo.lower", EINVAL },
		{ "name", "abcdefgh", "demo.name", "demo.length", EINVAL },
		{ "nosuch", "1", "demo.nosuch", "demo.unknown_key", ENOENT },
		{ "port", NULL, "demo.port", "demo.value", EINVAL },
	};
	json_t *o = settings_defaults(&demo), *before = json_deep_copy(o);
	struct report r;

	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		report_init(&r);
		assert_int_equal(settings_set(&demo, o, cases[i].key,
					      cases[i].val, &r), cases[i].err);
		assert_int_equal(report_count(&r), 1);
		if (!has(&r, cases[i].field, cases[i].rule))
			fail_msg("%s=%s: got %s %s", cases[i].key,
				 cases[i].val ? cases[i].val : "(null)",
				 r.item[0].field, r.item[0].rule);
		assert_string_equal(r.item[0].where, "demo");
		report_reset(&r);
	}
	report_init(&r);
	assert_int_equal(settings_set(&demo, o, "port", "0", &r), EINVAL);
	assert_string_equal(r.item[0].msg,
			    "demo.port must be a whole number from 1 to 65535");
	report_reset(&r);
	assert_true(json_equal(o, before));
	json_decref(o);
	json_decref(before);
}

/* A damaged stored object: check reports every finding; decode falls
 * back to the default of each bad key, never leaves a hole. */
static void test_check_and_damaged_decode(void **st)
{
	json_t *o = json_pack("{s:i, s:s, s:i, s:s, s:b, s:i}", "port", 0,
			      "mode", "x", "offset", 3, "name", "Q",
			      "extra", 1, "on", 7);   /* on: not a boolean */
	struct report r;
	struct demo x;

	(void)st;
	report_init(&r);
	assert_int_equal(settings_check(&demo, o, &r), EINVAL);
	assert_true(has(&r, "demo.port", "demo.range"));
	assert_true(has(&r, "demo.mode", "demo.choice"));
	assert_true(has(&r, "demo.name", "demo.lower"));
	assert_true(has(&r, "demo.extra", "demo.unknown_key"));
	assert_true(has(&r, "demo.on", "demo.bool"));
	assert_int_equal(report_count(&r), 5);
	settings_decode(&demo, o, &x);
	assert_int_equal(x.port, 5060);
	assert_int_equal(x.offset, 3);
	assert_int_equal(x.mode, 0);
	assert_string_equal(x.name, "abc");
	assert_true(x.on);
	report_reset(&r);
	json_decref(o);
}

static void test_schema(void **st)
{
	json_t *s = settings_schema(&demo), *k;

	(void)st;
	assert_non_null(s);
	assert_string_equal(json_string_value(json_object_get(s, "section")),
			    "demo");
	assert_int_equal(json_array_size(json_object_get(s, "keys")),
			 demo.n);
	k = json_array_get(json_object_get(s, "keys"), 0);
	assert_string_equal(json_string_value(json_object_get(k, "name")),
			    "port");
	assert_string_equal(json_string_value(json_object_get(k, "type")),
			    "int");
	assert_int_equal(json_integer_value(json_object_get(k, "max")),
			 65535);
	assert_string_equal(json_string_value(json_object_get(k, "module")),
			    "sip");
	k = json_array_get(json_object_get(s, "keys"), 4);
	assert_int_equal(json_array_size(json_object_get(k, "choices")), 2);
	json_decref(s);
}

/* ---- the sip section ---------------------------------------------- */

static void test_sip_defaults(void **st)
{
	const struct sip_settings *d = sip_settings_default();

	(void)st;
	assert_string_equal(d->realm, "bulwark");
	assert_int_equal(d->udp_port, 5060);
	assert_int_equal(d->tcp_port, 5060);
	assert_int_equal(d->tls_port, 5061);
	assert_int_equal(d->rtp_start, 10000);
	assert_int_equal(d->rtp_end, 20000);
	assert_int_equal(d->min_expires, 60);
	assert_int_equal(d->max_bindings, 200000);
	assert_int_equal(d->udp_rcvbuf, 8388608);
}

static void test_sip_rules(void **st)
{
	json_t *o = sip_settings_defaults();
	struct report r;

	(void)st;
	report_init(&r);
	assert_int_equal(sip_settings_validate(o, &r), 0);
	assert_int_equal(sip_settings_set(o, "realm", "bad realm", &r),
			 EINVAL);
	assert_true(has(&r, "sip.realm", "sip.realm_format"));
	assert_int_equal(sip_settings_set(o, "realm", "pbx.example", &r), 0);
	assert_int_equal(sip_settings_set(o, "rtp_start", "20000", &r), 0);
	assert_int_equal(sip_settings_set(o, "tls_port", "5060", &r), 0);
	assert_int_equal(sip_settings_set(o, "min_expires", "7200", &r), 0);
	report_reset(&r);
	assert_int_equal(sip_settings_validate(o, &r), EINVAL);
	assert_true(has(&r, "sip.rtp_start", "sip.range"));
	assert_true(has(&r, "sip.min_expires", "sip.range"));
	assert_true(has(&r, "sip.default_expires", "sip.range"));
	assert_true(has(&r, "sip.tls_port", "sip.port_conflict"));
	assert_int_equal(report_count(&r), 4);
	report_reset(&r);
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_decode),
		cmocka_unit_test(test_set_and_decode),
		cmocka_unit_test(test_errors_name_field_and_rule),
		cmocka_unit_test(test_check_and_damaged_decode),
		cmocka_unit_test(test_schema),
		cmocka_unit_test(test_sip_defaults),
		cmocka_unit_test(test_sip_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
