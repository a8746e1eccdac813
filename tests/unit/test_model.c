/*
 * test_model — every model rule at its boundary, per type.
 *
 *   test_model                  run the cmocka tests
 *   test_model --doc            print the field reference (Markdown)
 *   test_model --doc-check F    fail if F's generated section is stale
 *   test_model --doc-update F   rewrite F's generated section
 *   test_model --bench N        time model_validate_set over N extensions
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "model/model.h"

/* ---- helpers --------------------------------------------------------- */

static bool has_rule(const struct report *r, const char *field,
		     const char *rule)
{
	for (size_t i = 0; i < r->n; i++) {
		if ((!field || !strcmp(r->item[i].field, field)) &&
		    !strcmp(r->item[i].rule, rule))
			return true;
	}
	return false;
}

static const struct report_item *find_rule(const struct report *r,
					   const char *rule)
{
	for (size_t i = 0; i < r->n; i++) {
		if (!strcmp(r->item[i].rule, rule))
			return &r->item[i];
	}
	print_error("no finding with rule %s\n", rule);
	fail();
	abort();   /* not reached (fail() does not return): never NULL */
}

static void dump(const struct report *r)
{
	for (size_t i = 0; i < r->n; i++)
		fprintf(stderr, "  [%s] %s %s: %s\n", r->item[i].where,
			r->item[i].field, r->item[i].rule, r->item[i].msg);
}

static void set_ok(json_t *ext, const char *name, const char *text)
{
	struct report r;

	report_init(&r);
	if (model_set(ext, name, text, &r)) {
		dump(&r);
		fail_msg("model_set %s=%s refused", name, text);
	}
	report_reset(&r);
}

/* A valid extension of type t alone (references not checked). */
static json_t *mk(enum model_type t, const char *num, const char *name)
{
	json_t *e = NULL;

	assert_int_equal(model_new(&e, num, t, name), 0);
	if (model_type_has(t, model_field_find("auth.password")))
		set_ok(e, "auth.password", "Kx7!pQ2#vLm9");
	if (model_type_has(t, model_field_find("voicemail.pin")))
		set_ok(e, "voicemail.pin", "48261");
	switch (t) {
	case MODEL_HOTDESK:
		set_ok(e, "hotdesk.pin", "7391");
		break;
	case MODEL_RING_GROUP:
		set_ok(e, "ring_group.members", "99");
		break;
	case MODEL_SHARED:
		set_ok(e, "shared.members", "99");
		break;
	case MODEL_ZAP:
		set_ok(e, "zap.channel", "1");
		set_ok(e, "zap.card_vendor", "sangoma");
		break;
	default:
		break;
	}
	return e;
}

static int validate(const json_t *e, struct report *r)
{
	report_reset(r);
	return model_validate(e, r);
}

static void expect_valid(const json_t *e)
{
	struct report r;

	report_init(&r);
	if (model_validate(e, &r)) {
		dump(&r);
		fail_msg("extension should be valid");
	}
	report_reset(&r);
}

/* Set name=text with model_set (must be accepted) and expect validation
 * to report rule on field. */
static void expect_rule(enum model_type t, const char *name, const char *text,
			const char *field, const char *rule)
{
	json_t *e = mk(t, "200", "Ada Lovelace");
	struct report r;

	report_init(&r);
	if (name)
		set_ok(e, name, text);
	assert_int_equal(validate(e, &r), EINVAL);
	if (!has_rule(&r, field, rule)) {
		dump(&r);
		fail_msg("%s=%s: expected %s on %s", name, text, rule, field);
	}
	report_reset(&r);
	json_decref(e);
}

/* model_set must refuse text with rule. */
static void expect_set_refused(enum model_type t, const char *name,
			       const char *text, const char *rule)
{
	json_t *e = mk(t, "200", "Ada Lovelace");
	json_t *before = json_deep_copy(e);
	struct report r;

	report_init(&r);
	if (model_set(e, name, text, &r) != EINVAL)
		fail_msg("%s=%s: accepted, expected %s", name, text, rule);
	if (!has_rule(&r, NULL, rule)) {
		dump(&r);
		fail_msg("%s=%s: expected %s", name, text, rule);
	}
	/* nothing half-written */
	assert_true(json_equal(e, before));
	json_decref(before);
	report_reset(&r);
	json_decref(e);
}

/* ---- the table -------------------------------------------------------- */

static void test_table(void **state)
{
	for (size_t i = 0; i < model_field_count; i++) {
		const struct model_field *f = &model_fields[i];

		assert_non_null(f->name);
		assert_true(strlen(f->name) < sizeof(((struct report_item *)0)->field));
		assert_ptr_equal(model_field_find(f->name), f);
		assert_true(f->types != 0);
		assert_non_null(f->label);
		assert_non_null(f->help);
		assert_non_null(model_tab_name(f->tab));
		if (f->kind == MODEL_ENUM)
			assert_non_null(f->choices);
		if (f->kind == MODEL_INT || f->kind == MODEL_LIST)
			assert_true(f->min <= f->max);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(model_fields[j].name, f->name);
	}
	assert_null(model_field_find("phone.nope"));
	assert_null(model_field_find(""));
	assert_null(model_field_find(NULL));
	/* the names other modules rely on */
	static const char *const fixed[] = {
		"number", "type", "name", "class_of_service", "auth.username",
		"auth.password", "auth.algorithms", "voicemail.enabled",
		"voicemail.pin", "voicemail.force_name",
		"voicemail.force_greeting", "voicemail.mwi", "voicemail.email",
		"phone.host_mode", "phone.host_ip", "phone.nat",
		"phone.transports", "phone.qualify", "phone.max_contacts",
		"phone.call_limit_in", "phone.call_limit_out", "web.enabled",
		"web.username", "web.password", "security.blacklist",
		"security.call_password", "hotdesk.pin", "ring_group.members",
		"ring_group.strategy", "shared.members", "zap.channel",
		"zap.card_vendor", "virtual.destinations", "virtual.vm_copies",
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		assert_non_null(model_field_find(fixed[i]));
	assert_int_equal(model_field_find("auth.password")->kind, MODEL_SECRET);
	assert_int_equal(model_field_find("voicemail.pin")->kind, MODEL_SECRET);
	assert_int_equal(model_field_find("web.password")->kind, MODEL_SECRET);
	assert_int_equal(model_field_find("hotdesk.pin")->kind, MODEL_SECRET);
	assert_int_equal(model_field_find("security.call_password")->kind,
			 MODEL_SECRET);
}

static void test_type_names(void **state)
{
	static const char *const names[] = { "sip", "iax2", "zap",
		"voicemail", "hotdesk", "virtual", "ring_group", "shared" };
	enum model_type t;

	for (unsigned i = 0; i < MODEL_TYPE_COUNT; i++) {
		assert_string_equal(model_type_name(i), names[i]);
		assert_int_equal(model_type_parse(names[i], &t), 0);
		assert_int_equal(t, i);
	}
	assert_int_equal(model_type_parse("SIP", &t), EINVAL);
	assert_int_equal(model_type_parse("pots", &t), EINVAL);
	assert_int_equal(model_type_parse(NULL, &t), EINVAL);
	assert_null(model_type_name(MODEL_TYPE_COUNT));
	assert_string_equal(model_tab_name(MODEL_TAB_PHONE), "phone");
	assert_null(model_tab_name(MODEL_TAB_COUNT));
}

/* Which type has which tab: the documented choice. */
static void test_tabs_per_type(void **state)
{
	const struct model_field *pw = model_field_find("auth.password");
	const struct model_field *vm = model_field_find("voicemail.enabled");
	const struct model_field *tp = model_field_find("phone.transports");
	const struct model_field *nat = model_field_find("phone.nat");
	const struct model_field *cid =
		model_field_find("callerid.external.number");

	assert_true(model_type_has(MODEL_SIP, pw));
	assert_true(model_type_has(MODEL_IAX2, pw));
	for (int t = MODEL_ZAP; t < MODEL_TYPE_COUNT; t++)
		assert_false(model_type_has(t, pw));
	for (int t = 0; t < MODEL_TYPE_COUNT; t++)
		assert_int_equal(model_type_has(t, vm),
				 t != MODEL_RING_GROUP && t != MODEL_SHARED);
	assert_true(model_type_has(MODEL_SIP, tp));
	assert_false(model_type_has(MODEL_IAX2, tp));
	assert_true(model_type_has(MODEL_IAX2, nat));
	assert_false(model_type_has(MODEL_ZAP, nat));
	assert_false(model_type_has(MODEL_VOICEMAIL, nat));
	assert_false(model_type_has(MODEL_IAX2,
				    model_field_find("phone.send_pai")));
	assert_false(model_type_has(MODEL_IAX2,
				    model_field_find("phone.alert_info")));
	assert_false(model_type_has(MODEL_VOICEMAIL, cid));
	assert_true(model_type_has(MODEL_HOTDESK, cid));
	assert_false(model_type_has(MODEL_TYPE_COUNT, cid));
	assert_false(model_type_has(MODEL_SIP, NULL));
}

/* ---- defaults --------------------------------------------------------- */

static void test_defaults_each_type(void **state)
{
	for (int t = 0; t < MODEL_TYPE_COUNT; t++) {
		json_t *e = NULL;
		struct report r;

		report_init(&r);
		assert_int_equal(model_new(&e, "201", t, "Ada Lovelace"), 0);
		/* every default of the type is present and valid */
		for (size_t i = 0; i < model_field_count; i++) {
			const struct model_field *f = &model_fields[i];
			json_t *v = json_object_get(e, f->name);

			if (!model_type_has(t, f)) {
				assert_null(v);
				continue;
			}
			if (f->def)
				assert_non_null(v);
		}
		/* what is still missing is exactly the required secrets and
		 * type-specific fields without a default */
		model_validate(e, &r);
		for (size_t i = 0; i < r.n; i++) {
			if (strcmp(r.item[i].rule, "field.required")) {
				dump(&r);
				fail_msg("type %s: unexpected finding",
					 model_type_name(t));
			}
		}
		report_reset(&r);
		json_decref(e);

		e = mk(t, "201", "Ada Lovelace");
		expect_valid(e);
		json_decref(e);
	}
}

static void test_defaults_values(void **state)
{
	json_t *e = NULL;

	assert_int_equal(model_new(&e, "201", MODEL_SIP, "Ada Lovelace"), 0);
	assert_string_equal(json_string_value(json_object_get(e,
		"auth.username")), "201");
	assert_string_equal(json_string_value(json_object_get(e,
		"class_of_service")), "default");
	assert_true(json_is_true(json_object_get(e, "voicemail.enabled")));
	assert_true(json_is_true(json_object_get(e, "voicemail.mwi")));
	assert_true(json_is_true(json_object_get(e, "voicemail.force_name")));
	assert_true(json_is_true(json_object_get(e,
		"voicemail.force_greeting")));
	assert_string_equal(json_string_value(json_object_get(e,
		"phone.host_mode")), "dynamic");
	assert_true(json_is_false(json_object_get(e, "phone.nat")));
	assert_true(json_is_true(json_object_get(e, "phone.send_pai")));
	assert_true(json_is_false(json_object_get(e, "phone.send_rpid")));
	assert_true(json_is_true(json_object_get(e, "phone.qualify")));
	assert_int_equal(json_integer_value(json_object_get(e,
		"phone.call_limit_in")), 8);
	assert_int_equal(json_integer_value(json_object_get(e,
		"phone.call_limit_out")), 8);
	assert_int_equal(json_integer_value(json_object_get(e,
		"phone.max_contacts")), 3);
	assert_int_equal(json_integer_value(json_object_get(e,
		"user.ring_time")), 20);
	assert_true(json_is_false(json_object_get(e, "web.enabled")));
	char *s = model_format_value(model_field_find("phone.transports"),
				     json_object_get(e, "phone.transports"));
	assert_string_equal(s, "udp");
	free(s);
	s = model_format_value(model_field_find("phone.codecs"),
			       json_object_get(e, "phone.codecs"));
	assert_string_equal(s, "ulaw,alaw,g722");
	free(s);
	s = model_format_value(model_field_find("auth.algorithms"),
			       json_object_get(e, "auth.algorithms"));
	assert_string_equal(s, "md5");
	free(s);
	assert_string_equal(json_string_value(json_object_get(e,
		"callerid.external.name")), "Ada Lovelace");
	assert_string_equal(json_string_value(json_object_get(e,
		"callerid.emergency.number")), "201");
	assert_null(json_object_get(e, "auth.password"));
	json_decref(e);

	/* apply_defaults never overwrites */
	assert_int_equal(model_new(&e, "202", MODEL_SIP, "Bo Li"), 0);
	set_ok(e, "phone.nat", "yes");
	assert_int_equal(model_apply_defaults(e), 0);
	assert_true(json_is_true(json_object_get(e, "phone.nat")));
	json_decref(e);

	/* no name yet: {name} defaults are left out, not half-filled */
	assert_int_equal(model_new(&e, "203", MODEL_IAX2, NULL), 0);
	assert_null(json_object_get(e, "callerid.internal.name"));
	assert_string_equal(json_string_value(json_object_get(e,
		"auth.username")), "203");
	assert_null(json_object_get(e, "phone.transports"));
	json_decref(e);

	assert_int_equal(model_new(&e, "203", MODEL_TYPE_COUNT, NULL), EINVAL);
	e = json_object();
	assert_int_equal(model_apply_defaults(e), EINVAL);
	json_object_set_new(e, "type", json_string("pots"));
	assert_int_equal(model_apply_defaults(e), EINVAL);
	json_decref(e);

	/* ring group and shared: no mailbox */
	assert_int_equal(model_new(&e, "300", MODEL_RING_GROUP, "Sales Team"),
			 0);
	assert_null(json_object_get(e, "voicemail.enabled"));
	assert_string_equal(json_string_value(json_object_get(e,
		"ring_group.strategy")), "ringall");
	json_decref(e);
}

/* ---- per-extension rules ----------------------------------------------- */

static void test_not_for_type(void **state)
{
	expect_set_refused(MODEL_ZAP, "auth.password", "x", "field.not_for_type");
	expect_set_refused(MODEL_IAX2, "phone.transports", "udp",
			   "field.not_for_type");
	expect_set_refused(MODEL_IAX2, "phone.send_pai", "true",
			   "field.not_for_type");
	expect_set_refused(MODEL_VOICEMAIL, "phone.nat", "true",
			   "field.not_for_type");
	expect_set_refused(MODEL_SIP, "zap.channel", "3", "field.not_for_type");
	expect_set_refused(MODEL_RING_GROUP, "voicemail.pin", "4826",
			   "mailbox.not_allowed");
	expect_set_refused(MODEL_SHARED, "voicemail.enabled", "true",
			   "mailbox.not_allowed");
	expect_set_refused(MODEL_SIP, "phone.bogus", "1", "field.unknown");

	/* the message names the field and the type */
	json_t *e = mk(MODEL_ZAP, "200", "Ada Lovelace");
	struct report r;

	report_init(&r);
	model_set(e, "phone.nat", "true", &r);
	assert_non_null(strstr(r.item[0].msg, "phone.nat"));
	assert_non_null(strstr(r.item[0].msg, "zap"));
	assert_string_equal(r.item[0].field, "phone.nat");
	/* and validate finds a foreign field put there directly */
	json_object_set_new(e, "phone.nat", json_true());
	assert_int_equal(validate(e, &r), EINVAL);
	assert_true(has_rule(&r, "phone.nat", "field.not_for_type"));
	json_object_del(e, "phone.nat");
	json_object_set_new(e, "phone.whatever", json_true());
	assert_int_equal(validate(e, &r), EINVAL);
	assert_true(has_rule(&r, "phone.whatever", "field.unknown"));
	report_reset(&r);
	json_decref(e);

	for (int t = MODEL_RING_GROUP; t <= MODEL_SHARED; t++) {
		e = mk(t, "300", "Sales Team");
		expect_valid(e);
		json_object_set_new(e, "voicemail.enabled", json_true());
		json_object_set_new(e, "voicemail.pin", json_string("4826"));
		assert_int_equal(validate(e, &r), EINVAL);
		assert_true(has_rule(&r, "voicemail.enabled",
				     "mailbox.not_allowed"));
		assert_true(has_rule(&r, "voicemail.pin",
				     "mailbox.not_allowed"));
		report_reset(&r);
		json_decref(e);
	}
}

static void test_name(void **state)
{
	static const char *const bad[] = {
		"Ada  Lovelace", "Ada Byron Lovelace", "Ada2 Lovelace",
		"Ada-Mary Lovelace", "Ada", " Ada Lovelace", "Ada Lovelace ",
		"Ad\xc3\xa9 Lovelace", "Ada\tLovelace", "O'Brien Pat",
	};

	for (int t = 0; t < MODEL_TYPE_COUNT; t++) {
		json_t *e = mk(t, "200", "A B");
		struct report r;

		report_init(&r);
		expect_valid(e);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			assert_int_equal(model_set(e, "name", bad[i], &r),
					 EINVAL);
			assert_true(has_rule(&r, "name", "name.format"));
			report_reset(&r);
			json_object_set_new(e, "name", json_string(bad[i]));
			assert_int_equal(validate(e, &r), EINVAL);
			assert_true(has_rule(&r, "name", "name.format"));
		}
		/* length: 64 ok, 65 refused */
		char longname[70];

		memset(longname, 'a', sizeof(longname));
		longname[0] = 'A';
		longname[31] = ' ';
		longname[64] = '\0';
		set_ok(e, "name", longname);
		longname[64] = 'a';
		longname[65] = '\0';
		assert_int_equal(model_set(e, "name", longname, &r), EINVAL);
		assert_true(has_rule(&r, "name", "field.length"));
		json_object_del(e, "name");
		assert_int_equal(validate(e, &r), EINVAL);
		assert_true(has_rule(&r, "name", "field.required"));
		report_reset(&r);
		json_decref(e);
	}
}

static void test_number(void **state)
{
	json_t *e = mk(MODEL_VOICEMAIL, "10", "Ada Lovelace");
	struct report r;

	report_init(&r);
	expect_valid(e);
	set_ok(e, "number", "12345678");
	expect_valid(e);
	assert_int_equal(model_set(e, "number", "1", &r), EINVAL);
	assert_true(has_rule(&r, "number", "field.length"));
	report_reset(&r);
	assert_int_equal(model_set(e, "number", "123456789", &r), EINVAL);
	assert_true(has_rule(&r, "number", "field.length"));
	report_reset(&r);
	assert_int_equal(model_set(e, "number", "12a", &r), EINVAL);
	assert_true(has_rule(&r, "number", "number.format"));
	report_reset(&r);
	json_object_set_new(e, "number", json_integer(201));
	assert_int_equal(validate(e, &r), EINVAL);
	assert_true(has_rule(&r, "number", "field.kind"));
	json_object_del(e, "number");
	assert_int_equal(validate(e, &r), EINVAL);
	assert_true(has_rule(&r, "number", "field.required"));
	report_reset(&r);
	json_decref(e);
}

static void test_type_field(void **state)
{
	json_t *e = json_object();
	struct report r;

	report_init(&r);
	assert_int_equal(model_validate(e, &r), EINVAL);
	assert_true(has_rule(&r, "type", "field.required"));
	assert_int_equal(model_set(e, "phone.nat", "true", &r), EINVAL);
	report_reset(&r);
	assert_int_equal(model_set(e, "type", "pots", &r), EINVAL);
	assert_true(has_rule(&r, "type", "field.choice"));
	report_reset(&r);
	set_ok(e, "type", "SIP");   /* admin text: any case */
	assert_string_equal(json_string_value(json_object_get(e, "type")),
			    "sip");
	json_object_set_new(e, "type", json_string("pots"));
	assert_int_equal(validate(e, &r), EINVAL);
	assert_true(has_rule(&r, "type", "field.choice"));
	report_reset(&r);
	json_t *arr = json_array();

	assert_int_equal(model_validate(arr, &r), EINVAL);
	json_decref(arr);
	report_reset(&r);
	json_decref(e);
}

static void test_auth(void **state)
{
	expect_rule(MODEL_SIP, "auth.username", "201", "auth.username",
		    "auth.username_match");
	expect_rule(MODEL_IAX2, "auth.username", "201", "auth.username",
		    "auth.username_match");
	expect_set_refused(MODEL_SIP, "auth.username", "ada", "number.format");
}

static void test_auth_required(void **state)
{
	json_t *e = mk(MODEL_SIP, "200", "Ada Lovelace");
	struct report r;

	report_init(&r);
	json_object_del(e, "auth.password");
	assert_int_equal(validate(e, &r), EINVAL);
	assert_true(has_rule(&r, "auth.password", "field.required"));
	json_object_set_new(e, "auth.password", json_string(""));
	assert_int_equal(validate(e, &r), EINVAL);
	assert_true(has_rule(&r, "auth.password", "field.required"));
	/* the store's mask counts as present */
	json_object_set_new(e, "auth.password", json_string(MODEL_SECRET_MASK));
	assert_int_equal(validate(e, &r), 0);
	/* but it is never accepted as a new value */
	assert_int_equal(model_set(e, "voicemail.pin", MODEL_SECRET_MASK, &r),
			 EINVAL);
	assert_true(has_rule(&r, "voicemail.pin", "field.format"));
	report_reset(&r);
	/* algorithms: at least one, only known ones, no duplicates */
	assert_int_equal(model_set(e, "auth.algorithms", "", &r), EINVAL);
	assert_true(has_rule(&r, "auth.algorithms", "field.length"));
	report_reset(&r);
	assert_int_equal(model_set(e, "auth.algorithms", "sha1", &r), EINVAL);
	assert_true(has_rule(&r, "auth.algorithms", "field.choice"));
	report_reset(&r);
	assert_int_equal(model_set(e, "auth.algorithms", "md5,md5", &r),
			 EINVAL);
	assert_true(has_rule(&r, "auth.algorithms", "field.duplicate"));
	report_reset(&r);
	set_ok(e, "auth.algorithms", "md5");
	set_ok(e, "auth.algorithms", " MD5 , SHA-256 ");
	char *s = model_format_value(model_field_find("auth.algorithms"),
				     json_object_get(e, "auth.algorithms"));
	assert_string_equal(s, "md5,sha-256");
	free(s);
	json_object_set_new(e, "auth.algorithms", json_array());
	assert_int_equal(validate(e, &r), EINVAL);
	assert_true(has_rule(&r, "auth.algorithms", "field.required") ||
		    has_rule(&r, "auth.algorithms", "field.length"));
	report_reset(&r);
	json_decref(e);
}

/* phone.alert_info goes into a SIP header as is (call/callerid.c): one
 * value of printable ASCII, nothing that starts a second header. */
static void test_alert_info_header_safe(void **state)
{
	static const char *const bad[] = {
		"ring\r\nP-Asserted-Identity: <sip:911@x>", "ring\n", "ring\r",
		"a\tb", " ring", "ring ", "sonnerie-\xc3\xa9", "x\x7f",
	};
	json_t *e = mk(MODEL_SIP, "200", "Ada Lovelace");
	struct report r;

	(void)state;
	report_init(&r);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(model_set(e, "phone.alert_info", bad[i], &r),
				 EINVAL);
		assert_true(has_rule(&r, "phone.alert_info",
				     "sip_header.format"));
		report_reset(&r);
	}
	assert_int_equal(model_set(e, "phone.alert_info",
				   "<http://x.invalid>;info=alert-autoanswer",
				   &r), 0);
	assert_int_equal(model_set(e, "phone.alert_info", "Bellcore-dr2", &r),
			 0);
	assert_int_equal(r.n, 0);
	report_reset(&r);
	json_decref(e);
}

static void test_secrets_not_in_messages(void **state)
{
	json_t *e = mk(MODEL_SIP, "200", "Ada Lovelace");
	struct report r;

	report_init(&r);
	assert_int_equal(model_set(e, "voicemail.pin", "12ab", &r), EINVAL);
	assert_true(has_rule(&r, "voicemail.pin", "pin.format"));
	assert_null(strstr(r.item[0].msg, "12ab"));
	report_reset(&r);
	assert_int_equal(model_set(e, "web.password", "Secret\x01Pass", &r),
			 EINVAL);
	assert_true(has_rule(&r, "web.password", "text.format"));
	assert_null(strstr(r.item[0].msg, "Secret"));
	report_reset(&r);
	/* a SIP password's characters are the policy's (sip.charset), not
	 * the model's: one finding for one problem */
	assert_int_equal(model_set(e, "auth.password", "Secret\x01Pass", &r),
			 0);
	report_reset(&r);
	json_object_set_new(e, "voicemail.pin", json_string("99x9"));
	assert_int_equal(validate(e, &r), EINVAL);
	for (size_t i = 0; i < r.n; i++)
		assert_null(strstr(r.item[i].msg, "99x9"));
	report_reset(&r);
	/* pin length: as short as an extension number (the policy decides
	 * the rest), at most 16 */
	expect_set_refused(MODEL_SIP, "voicemail.pin", "1", "field.length");
	expect_set_refused(MODEL_SIP, "voicemail.pin", "12345678901234567",
			   "field.length");
	set_ok(e, "voicemail.pin", "1234");
	set_ok(e, "voicemail.pin", "1234567890123456");
	json_decref(e);
}

static void test_voicemail(void **state)
{
	json_t *e = mk(MODEL_SIP, "200", "Ada Lovelace");
	struct report r;

	report_init(&r);
	json_object_del(e, "voicemail.pin");
	assert_int_equal(validate(e, &r), EINVAL);
	assert_true(has_rule(&r, "voicemail.pin", "field.required"));
	set_ok(e, "voicemail.enabled", "off");
	assert_int_equal(validate(e, &r), 0);
	json_decref(e);

	expect_rule(MODEL_VOICEMAIL, "voicemail.enabled", "false",
		    "voicemail.enabled", "voicemail.required");
	expect_rule(MODEL_SIP, "voicemail.email_delete", "true",
		    "voicemail.email_delete", "voicemail.email_delete");

	e = mk(MODEL_SIP, "200", "Ada Lovelace");
	set_ok(e, "voicemail.email", "ada.lovelace+vm@mail.example.com");
	set_ok(e, "voicemail.email_delete", "true");
	expect_valid(e);
	set_ok(e, "voicemail.email_attach", "false");
	assert_int_equal(validate(e, &r), EINVAL);
	assert_true(has_rule(&r, "voicemail.email_delete",
			     "voicemail.email_delete"));
	report_reset(&r);
	json_decref(e);

	static const char *const bad_mail[] = {
		"ada", "ada@", "@example.com", "ada@example", "a..b@example.com",
		"ada@-x.com", "ada@x-.com", "ada@example.c", "ada@exa_mple.com",
		"ada@@example.com", ".ada@example.com", "ada@example.com.",
		"ada@example.c0m",
	};
	for (size_t i = 0; i < sizeof(bad_mail) / sizeof(bad_mail[0]); i++)
		expect_set_refused(MODEL_SIP, "voicemail.email", bad_mail[i],
				   bad_mail[i][1] ? "email.format" :
				   "field.length");
	/* max_messages boundaries */
	expect_set_refused(MODEL_SIP, "voicemail.max_messages", "0",
			   "field.range");
	expect_set_refused(MODEL_SIP, "voicemail.max_messages", "10000",
			   "field.range");
	e = mk(MODEL_SIP, "200", "Ada Lovelace");
	set_ok(e, "voicemail.max_messages", "1");
	set_ok(e, "voicemail.max_messages", "9999");
	set_ok(e, "voicemail.email", "a@b.co");
	expect_valid(e);
	json_decref(e);
}

/* The manual's new-mailbox procedure: the extension number as the first
 * PIN. The model must accept it for every number length it allows
 * (2 to 8 digits), so that the PIN policy's force-new-user exception can
 * decide; "201" used to fail here as "4 to 16 characters". */
static void test_pin_extension_any_length(void **state)
{
	static const char *const nums[] = {
		"20", "201", "2001", "20001", "200001", "2000001", "20000001",
	};

	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		json_t *e = mk(MODEL_SIP, nums[i], "Ada Lovelace");

		set_ok(e, "voicemail.pin", nums[i]);
		expect_valid(e);
		json_decref(e);
	}
}

static void test_phone(void **state)
{
	json_t *e;
	struct report r;

	report_init(&r);
	/* user.language: a language tag, not any token */
	expect_rule(MODEL_SIP, "user.language", "french", "user.language",
		    "language.format");
	expect_rule(MODEL_SIP, "user.language", "pt_", "user.language",
		    "language.format");
	for (size_t i = 0; i < 4; i++) {
		static const char *const ok[] = { "en", "fr", "pt_BR",
						  "fr-CA" };

		e = mk(MODEL_SIP, "200", "Ada Lovelace");
		set_ok(e, "user.language", ok[i]);
		expect_valid(e);
		json_decref(e);
	}
	expect_rule(MODEL_SIP, "phone.send_rpid", "true", "phone.send_rpid",
		    "phone.pai_rpid_exclusive");
	e = mk(MODEL_SIP, "200", "Ada Lovelace");
	set_ok(e, "phone.send_rpid", "true");
	set_ok(e, "phone.send_pai", "false");
	expect_valid(e);
	json_decref(e);

	/* host mode static needs an IP */
	expect_rule(MODEL_SIP, "phone.host_mode", "static", "phone.host_ip",
		    "field.required");
	expect_rule(MODEL_IAX2, "phone.host_mode", "static", "phone.host_ip",
		    "field.required");
	e = mk(MODEL_SIP, "200", "Ada Lovelace");
	set_ok(e, "phone.host_mode", "static");
	set_ok(e, "phone.host_ip", "192.0.2.10");
	expect_valid(e);
	set_ok(e, "phone.host_ip", "2001:db8::1");
	expect_valid(e);
	json_decref(e);
	expect_set_refused(MODEL_SIP, "phone.host_ip", "192.0.2.256",
			   "ip.format");
	expect_set_refused(MODEL_SIP, "phone.host_ip", "host.example.com",
			   "ip.format");
	expect_set_refused(MODEL_SIP, "phone.host_mode", "fixed",
			   "field.choice");
	expect_set_refused(MODEL_SIP, "phone.host_mode", "", "field.choice");

	/* SRTP needs TLS */
	expect_rule(MODEL_SIP, "phone.srtp", "true", "phone.srtp",
		    "phone.srtp_requires_tls");
	e = mk(MODEL_SIP, "200", "Ada Lovelace");
	set_ok(e, "phone.srtp", "on");
	set_ok(e, "phone.transports", "udp,tls");
	expect_valid(e);
	json_decref(e);

	/* transports */
	expect_set_refused(MODEL_SIP, "phone.transports", "", "field.length");
	expect_set_refused(MODEL_SIP, "phone.transports", "udp,sctp",
			   "field.choice");
	expect_set_refused(MODEL_SIP, "phone.transports", "udp,,tcp",
			   "field.format");
	expect_set_refused(MODEL_SIP, "phone.transports", "udp,tcp,udp",
			   "field.duplicate");
	expect_set_refused(MODEL_SIP, "phone.transports", "udp,tcp,tls,udp",
			   "field.length");

	/* codecs: ordered, no duplicates, known only */
	e = mk(MODEL_SIP, "200", "Ada Lovelace");
	set_ok(e, "phone.codecs", "opus,g722,ulaw");
	json_t *c = json_object_get(e, "phone.codecs");
	assert_string_equal(json_string_value(json_array_get(c, 0)), "opus");
	assert_string_equal(json_string_value(json_array_get(c, 2)), "ulaw");
	set_ok(e, "phone.codecs", "ulaw,alaw,g722,g729,gsm,opus,ilbc,speex");
	json_decref(e);
	expect_set_refused(MODEL_SIP, "phone.codecs", "ulaw,h264",
			   "field.choice");
	expect_set_refused(MODEL_SIP, "phone.codecs", "ulaw,ulaw",
			   "field.duplicate");
	expect_set_refused(MODEL_SIP, "phone.dtmf_mode", "sipinfo",
			   "field.choice");

	/* integer boundaries */
	static const struct { const char *f; const char *lo, *lo1, *hi, *hi1; }
	ints[] = {
		{ "phone.call_limit_in", "0", "1", "100", "101" },
		{ "phone.call_limit_out", "0", "1", "100", "101" },
		{ "phone.max_contacts", "0", "1", "20", "21" },
		{ "phone.qualify_ms", "99", "100", "60000", "60001" },
		{ "user.ring_time", "4", "5", "300", "301" },
	};
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		expect_set_refused(MODEL_SIP, ints[i].f, ints[i].lo,
				   "field.range");
		expect_set_refused(MODEL_SIP, ints[i].f, ints[i].hi1,
				   "field.range");
		e = mk(MODEL_SIP, "200", "Ada Lovelace");
		set_ok(e, ints[i].f, ints[i].lo1);
		expect_valid(e);
		set_ok(e, ints[i].f, ints[i].hi);
		expect_valid(e);
		/* validate checks the range of stored JSON too */
		json_object_set_new(e, ints[i].f,
				    json_integer(atoi(ints[i].hi1)));
		assert_int_equal(validate(e, &r), EINVAL);
		assert_true(has_rule(&r, ints[i].f, "field.range"));
		json_decref(e);
	}
	expect_set_refused(MODEL_SIP, "phone.call_limit_in", "8x",
			   "field.format");
	expect_set_refused(MODEL_SIP, "phone.call_limit_in", "",
			   "field.format");
	expect_set_refused(MODEL_SIP, "phone.call_limit_in",
			   "99999999999999999999999", "field.format");
	expect_set_refused(MODEL_SIP, "phone.nat", "maybe", "field.format");

	e = mk(MODEL_SIP, "200", "Ada Lovelace");
	json_object_set_new(e, "phone.nat", json_string("yes"));
	assert_int_equal(validate(e, &r), EINVAL);
	assert_true(has_rule(&r, "phone.nat", "field.kind"));
	report_reset(&r);
	json_decref(e);
}

static void test_callerid(void **state)
{
	json_t *e = mk(MODEL_SIP, "200", "Ada Lovelace");
	struct report r;

	report_init(&r);
	set_ok(e, "callerid.external.use_default", "false");
	set_ok(e, "callerid.external.number", "+15145550100");
	set_ok(e, "callerid.external.name", "Acme Inc. (Sales)");
	expect_valid(e);
	set_ok(e, "callerid.external.number", "");
	assert_int_equal(validate(e, &r), EINVAL);
	assert_true(has_rule(&r, "callerid.external.number", "field.required"));
	report_reset(&r);
	json_decref(e);
	expect_set_refused(MODEL_SIP, "callerid.internal.number", "12-34",
			   "phone_number.format");
	expect_set_refused(MODEL_SIP, "callerid.internal.number", "++1",
			   "phone_number.format");
	expect_set_refused(MODEL_SIP, "callerid.internal.name", "Ada \"X\"",
			   "callerid.name_format");
	expect_set_refused(MODEL_VOICEMAIL, "callerid.internal.name", "Ada",
			   "field.not_for_type");
}

static void test_user_options(void **state)
{
	static const char *const fwd[] = { "immediate", "busy", "no_answer",
					   "unavailable" };
	char en[64], dst[64];
	struct report r;
	json_t *e;

	report_init(&r);
	for (size_t i = 0; i < 4; i++) {
		snprintf(en, sizeof(en), "user.forward.%s.enabled", fwd[i]);
		snprintf(dst, sizeof(dst), "user.forward.%s.destination",
			 fwd[i]);
		expect_rule(MODEL_SIP, en, "true", dst, "field.required");
		expect_rule(MODEL_RING_GROUP, en, "true", dst,
			    "field.required");
		e = mk(MODEL_VIRTUAL, "200", "Ada Lovelace");
		set_ok(e, en, "yes");
		set_ok(e, dst, "205");
		expect_valid(e);
		set_ok(e, dst, "+15145550100");
		expect_valid(e);
		set_ok(e, dst, "915145550");   /* 9 digits: external */
		expect_valid(e);
		set_ok(e, dst, "200");
		assert_int_equal(validate(e, &r), EINVAL);
		assert_true(has_rule(&r, dst, "ref.self"));
		json_decref(e);
		expect_set_refused(MODEL_SIP, dst, "12a", "destination.format");
		expect_set_refused(MODEL_SIP, dst, "+12", "destination.format");
		expect_set_refused(MODEL_VOICEMAIL, en, "true",
				   "field.not_for_type");
	}
	expect_rule(MODEL_SIP, "user.follow_me.enabled", "true",
		    "user.follow_me.list", "field.required");
	expect_rule(MODEL_SIP, "user.personal_ivr.enabled", "true",
		    "user.personal_ivr.destination", "field.required");
	e = mk(MODEL_SIP, "200", "Ada Lovelace");
	set_ok(e, "user.follow_me.enabled", "1");
	set_ok(e, "user.follow_me.list", "201, +15145550100 ,202");
	expect_valid(e);
	json_decref(e);
	expect_set_refused(MODEL_SIP, "user.follow_me.list", "201,201",
			   "field.duplicate");
	expect_set_refused(MODEL_SIP, "user.recording", "sometimes",
			   "field.choice");
	expect_set_refused(MODEL_SIP, "user.language", "en us", "token.format");
	expect_set_refused(MODEL_SHARED, "user.follow_me.enabled", "true",
			   "field.not_for_type");
	expect_set_refused(MODEL_VIRTUAL, "user.e911_location", "x",
			   "field.not_for_type");
	report_reset(&r);
}

static void test_web(void **state)
{
	json_t *e;

	expect_rule(MODEL_SIP, "web.enabled", "true", "web.username",
		    "field.required");
	expect_rule(MODEL_SIP, "web.enabled", "true", "web.password",
		    "field.required");
	e = mk(MODEL_VIRTUAL, "200", "Ada Lovelace");
	set_ok(e, "web.enabled", "true");
	set_ok(e, "web.username", "ada.l_2-x");
	set_ok(e, "web.password", "correct horse battery");
	expect_valid(e);
	set_ok(e, "web.username", "abc");
	set_ok(e, "web.username", "abcdefghijklmnopqrstuvwxyz012345");
	json_decref(e);
	expect_set_refused(MODEL_SIP, "web.username", "ab", "field.length");
	expect_set_refused(MODEL_SIP, "web.username",
			   "abcdefghijklmnopqrstuvwxyz0123456", "field.length");
	expect_set_refused(MODEL_SIP, "web.username", "Ada", "web.username_format");
	expect_set_refused(MODEL_SIP, "web.username", "ada l",
			   "web.username_format");
	expect_set_refused(MODEL_RING_GROUP, "web.enabled", "true",
			   "field.not_for_type");
}

static void test_security(void **state)
{
	json_t *e = mk(MODEL_RING_GROUP, "300", "Sales Team");

	set_ok(e, "security.blacklist", "+15145550100,5550199");
	set_ok(e, "security.call_password", "2468");
	expect_valid(e);
	json_decref(e);
	expect_set_refused(MODEL_SIP, "security.blacklist", "anonymous",
			   "phone_number.format");
	expect_set_refused(MODEL_SIP, "security.call_password", "12a4",
			   "pin.format");
	expect_set_refused(MODEL_SIP, "security.call_password", "123",
			   "field.length");
}

static void test_type_specific(void **state)
{
	json_t *e;
	struct report r;

	report_init(&r);
	e = mk(MODEL_HOTDESK, "200", "Ada Lovelace");
	json_object_del(e, "hotdesk.pin");
	assert_int_equal(validate(e, &r), EINVAL);
	assert_true(has_rule(&r, "hotdesk.pin", "field.required"));
	json_decref(e);

	e = mk(MODEL_RING_GROUP, "300", "Sales Team");
	set_ok(e, "ring_group.strategy", "memoryhunt");
	expect_valid(e);
	json_object_set_new(e, "ring_group.members", json_array());
	assert_int_equal(validate(e, &r), EINVAL);
	assert_true(has_rule(&r, "ring_group.members", "field.length"));
	json_object_del(e, "ring_group.members");
	assert_int_equal(validate(e, &r), EINVAL);
	assert_true(has_rule(&r, "ring_group.members", "field.required"));
	set_ok(e, "ring_group.members", "201,300");
	assert_int_equal(validate(e, &r), EINVAL);
	assert_true(has_rule(&r, "ring_group.members", "ref.self"));
	report_reset(&r);
	json_decref(e);
	expect_set_refused(MODEL_RING_GROUP, "ring_group.members", "",
			   "field.length");
	expect_set_refused(MODEL_RING_GROUP, "ring_group.members", "201,+1555",
			   "number.format");
	expect_set_refused(MODEL_RING_GROUP, "ring_group.strategy", "all",
			   "field.choice");

	e = mk(MODEL_ZAP, "200", "Ada Lovelace");
	json_object_del(e, "zap.channel");
	json_object_del(e, "zap.card_vendor");
	assert_int_equal(validate(e, &r), EINVAL);
	assert_true(has_rule(&r, "zap.channel", "field.required"));
	assert_true(has_rule(&r, "zap.card_vendor", "field.required"));
	report_reset(&r);
	json_decref(e);
	expect_set_refused(MODEL_ZAP, "zap.channel", "0", "field.range");
	expect_set_refused(MODEL_ZAP, "zap.channel", "1025", "field.range");
	expect_set_refused(MODEL_ZAP, "zap.card_vendor", "rhino",
			   "field.choice");
	e = mk(MODEL_ZAP, "200", "Ada Lovelace");
	set_ok(e, "zap.channel", "1024");
	set_ok(e, "zap.card_vendor", "Digium");
	expect_valid(e);
	json_decref(e);

	e = mk(MODEL_VIRTUAL, "200", "Ada Lovelace");
	set_ok(e, "virtual.destinations", "201,+15145550100");
	set_ok(e, "virtual.vm_copies", "201,202");
	expect_valid(e);
	json_decref(e);
	expect_set_refused(MODEL_VIRTUAL, "virtual.vm_copies", "+1555",
			   "number.format");
}

/* ---- parse / format ------------------------------------------------------ */

static void round_trip(const char *field, const char *text, const char *canon)
{
	const struct model_field *f = model_field_find(field);
	json_t *v = NULL, *v2 = NULL;
	struct report r;
	char *s;

	report_init(&r);
	assert_non_null(f);
	if (model_parse_value(f, text, &v, &r)) {
		dump(&r);
		fail_msg("parse %s=%s", field, text);
	}
	s = model_format_value(f, v);
	assert_non_null(s);
	assert_string_equal(s, canon);
	assert_int_equal(model_parse_value(f, s, &v2, &r), 0);
	assert_true(json_equal(v, v2));
	free(s);
	json_decref(v);
	json_decref(v2);
	report_reset(&r);
}

static void test_parse_format(void **state)
{
	static const char *const t[] = { "true", "TRUE", "on", "Yes", "1",
					 " true " };
	static const char *const f[] = { "false", "Off", "no", "0" };

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		round_trip("phone.nat", t[i], "true");
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		round_trip("phone.nat", f[i], "false");
	round_trip("phone.call_limit_in", "8", "8");
	round_trip("phone.call_limit_in", " +12 ", "12");
	round_trip("zap.channel", "1024", "1024");
	round_trip("name", "Ada Lovelace", "Ada Lovelace");
	round_trip("phone.dtmf_mode", "RFC2833", "rfc2833");
	round_trip("phone.transports", "udp, TCP ,tls", "udp,tcp,tls");
	round_trip("phone.codecs", "g722", "g722");
	round_trip("security.blacklist", "", "");
	round_trip("auth.password", "p@ss w0rd", "p@ss w0rd");
	round_trip("voicemail.email", "", "");

	/* every field of the table: its default round-trips */
	for (size_t i = 0; i < model_field_count; i++) {
		const struct model_field *fl = &model_fields[i];
		json_t *e = NULL;

		if (!fl->def)
			continue;
		for (int ty = 0; ty < MODEL_TYPE_COUNT; ty++) {
			if (!model_type_has(ty, fl))
				continue;
			assert_int_equal(model_new(&e, "201", ty,
						   "Ada Lovelace"), 0);
			char *s = model_format_value(fl,
				json_object_get(e, fl->name));
			assert_non_null(s);
			json_t *v = NULL;
			struct report r;

			report_init(&r);
			assert_int_equal(model_parse_value(fl, s, &v, &r), 0);
			assert_true(json_equal(v, json_object_get(e,
								  fl->name)));
			json_decref(v);
			free(s);
			json_decref(e);
			break;
		}
	}

	/* wrong JSON kind: no text */
	json_t *bad = json_string("x");

	assert_null(model_format_value(model_field_find("phone.nat"), bad));
	json_decref(bad);
	bad = json_pack("[i]", 1);
	assert_null(model_format_value(model_field_find("phone.codecs"), bad));
	json_decref(bad);
	assert_null(model_format_value(model_field_find("zap.channel"), NULL));

	/* not UTF-8 */
	struct report r;
	json_t *v = NULL;

	report_init(&r);
	assert_int_equal(model_parse_value(model_field_find("phone.alert_info"),
					   "\xff\xfe", &v, &r), EINVAL);
	assert_int_equal(model_parse_value(model_field_find("phone.codecs"),
					   "ulaw,\xff", &v, &r), EINVAL);
	report_reset(&r);
	/* a huge list is refused without growing past the bound */
	size_t big = 1 << 20;
	char *txt = malloc(big);

	assert_non_null(txt);
	for (size_t i = 0; i + 1 < big; i += 2) {
		txt[i] = '1';
		txt[i + 1] = ',';
	}
	txt[big - 1] = '\0';
	assert_int_equal(model_parse_value(
		model_field_find("security.blacklist"), txt, &v, &r), EINVAL);
	assert_true(has_rule(&r, "security.blacklist", "field.length"));
	report_reset(&r);
	memset(txt, 'a', big - 1);
	assert_int_equal(model_parse_value(
		model_field_find("phone.alert_info"), txt, &v, &r), EINVAL);
	assert_true(has_rule(&r, "phone.alert_info", "field.length"));
	report_reset(&r);
	free(txt);
}

/* ---- whole configuration ----------------------------------------------- */

struct cfg {
	json_t *e[64];
	size_t n;
};

static json_t *add(struct cfg *c, enum model_type t, const char *num)
{
	json_t *e = mk(t, num, t == MODEL_RING_GROUP || t == MODEL_SHARED ?
		       "Team Name" : "Ada Lovelace");

	c->e[c->n++] = e;
	return e;
}

static void cfg_free(struct cfg *c)
{
	for (size_t i = 0; i < c->n; i++)
		json_decref(c->e[i]);
	c->n = 0;
}

static int vset(struct cfg *c, long user, long shared, struct report *r)
{
	struct model_limits lim = { .user = user, .shared = shared };

	report_reset(r);
	return model_validate_set(c->e, c->n, &lim, r);
}

/* outbound (issue 15): the routes of the test: "+1..." goes out */
static bool routes_plus1(const char *number, void *arg)
{
	(void)arg;
	return !strncmp(number, "+1", 2);
}

static int vset_routed(struct cfg *c, struct report *r)
{
	struct model_limits lim = { .user = -1, .shared = -1,
				    .routed = routes_plus1 };

	report_reset(r);
	return model_validate_set(c->e, c->n, &lim, r);
}

static void test_set_valid(void **state)
{
	struct cfg c = { 0 };
	struct report r;

	report_init(&r);
	add(&c, MODEL_SIP, "201");
	add(&c, MODEL_IAX2, "202");
	add(&c, MODEL_ZAP, "203");
	add(&c, MODEL_VOICEMAIL, "204");
	add(&c, MODEL_HOTDESK, "205");
	json_t *v = add(&c, MODEL_VIRTUAL, "206");
	set_ok(v, "virtual.destinations", "201,300");
	set_ok(v, "virtual.vm_copies", "204,201");
	set_ok(v, "user.forward.busy.enabled", "true");
	set_ok(v, "user.forward.busy.destination", "204");
	json_t *g = add(&c, MODEL_RING_GROUP, "300");
	set_ok(g, "ring_group.members", "201,202,203,205,206");
	json_t *s = add(&c, MODEL_SHARED, "400");
	set_ok(s, "shared.members", "201,202,203");
	if (vset(&c, 6, 1, &r)) {
		dump(&r);
		fail_msg("valid configuration refused");
	}
	assert_int_equal(vset(&c, -1, -1, &r), 0);
	assert_int_equal(model_validate_set(c.e, c.n, NULL, &r), 0);

	struct model_licence_use use;

	model_licences(c.e, c.n, &use);
	assert_int_equal(use.user, 6);     /* ring group needs none */
	assert_int_equal(use.shared, 1);

	/* licences: at the limit ok, one more refused */
	assert_int_equal(vset(&c, 5, 1, &r), EINVAL);
	const struct report_item *it = find_rule(&r, "licence.user");
	assert_non_null(it);
	assert_non_null(strstr(it->msg, "6"));
	assert_non_null(strstr(it->msg, "5"));
	assert_int_equal(vset(&c, 6, 0, &r), EINVAL);
	assert_true(has_rule(&r, NULL, "licence.shared"));
	assert_false(has_rule(&r, NULL, "licence.user"));
	cfg_free(&c);
	report_reset(&r);
}

static void test_set_rules(void **state)
{
	struct cfg c = { 0 };
	struct report r;
	json_t *e;

	report_init(&r);

	/* duplicate number */
	add(&c, MODEL_SIP, "201");
	add(&c, MODEL_VOICEMAIL, "201");
	assert_int_equal(vset(&c, -1, -1, &r), EINVAL);
	assert_true(has_rule(&r, "number", "number.unique"));
	assert_string_equal(find_rule(&r, "number.unique")->where, "201");
	cfg_free(&c);

	/* dangling ring group member, member of the wrong type */
	add(&c, MODEL_SIP, "201");
	add(&c, MODEL_VOICEMAIL, "204");
	e = add(&c, MODEL_RING_GROUP, "300");
	set_ok(e, "ring_group.members", "201,299");
	assert_int_equal(vset(&c, -1, -1, &r), EINVAL);
	assert_true(has_rule(&r, "ring_group.members", "ref.missing"));
	assert_string_equal(find_rule(&r, "ref.missing")->where, "300");
	assert_non_null(strstr(find_rule(&r, "ref.missing")->msg, "299"));
	set_ok(e, "ring_group.members", "201,204");
	assert_int_equal(vset(&c, -1, -1, &r), EINVAL);
	assert_true(has_rule(&r, "ring_group.members", "ref.type"));
	set_ok(e, "ring_group.members", "201");
	assert_int_equal(vset(&c, -1, -1, &r), 0);
	cfg_free(&c);

	/* shared members must be sip/iax2/zap */
	add(&c, MODEL_VIRTUAL, "206");
	e = add(&c, MODEL_SHARED, "400");
	set_ok(e, "shared.members", "206");
	assert_int_equal(vset(&c, -1, -1, &r), EINVAL);
	assert_true(has_rule(&r, "shared.members", "ref.type"));
	cfg_free(&c);

	/* voicemail copies need a mailbox */
	e = add(&c, MODEL_SIP, "201");
	set_ok(e, "voicemail.enabled", "false");
	set_ok(add(&c, MODEL_RING_GROUP, "300"), "ring_group.members", "201");
	json_t *v = add(&c, MODEL_VIRTUAL, "206");
	set_ok(v, "virtual.vm_copies", "201");
	assert_int_equal(vset(&c, -1, -1, &r), EINVAL);
	assert_true(has_rule(&r, "virtual.vm_copies", "ref.no_mailbox"));
	set_ok(v, "virtual.vm_copies", "300");
	assert_int_equal(vset(&c, -1, -1, &r), EINVAL);
	assert_true(has_rule(&r, "virtual.vm_copies", "ref.no_mailbox"));
	set_ok(e, "voicemail.enabled", "true");
	set_ok(v, "virtual.vm_copies", "201");
	assert_int_equal(vset(&c, -1, -1, &r), 0);
	/* forwarding to a missing extension */
	set_ok(v, "user.forward.immediate.enabled", "true");
	set_ok(v, "user.forward.immediate.destination", "777");
	assert_int_equal(vset(&c, -1, -1, &r), EINVAL);
	assert_true(has_rule(&r, "user.forward.immediate.destination",
			     "ref.missing"));
	/* an external number needs a trunk: none exists yet (issue 15) */
	set_ok(v, "user.forward.immediate.destination", "+15145550100");
	assert_int_equal(vset(&c, -1, -1, &r), EINVAL);
	assert_true(has_rule(&r, "user.forward.immediate.destination",
			     "dest.external_no_trunk"));
	/* outbound (issue 15): accepted once an outbound route takes it */
	assert_int_equal(vset_routed(&c, &r), 0);
	set_ok(v, "user.forward.immediate.destination", "+445550100");
	assert_int_equal(vset_routed(&c, &r), EINVAL);
	assert_true(has_rule(&r, "user.forward.immediate.destination",
			     "dest.external_no_trunk"));
	set_ok(v, "user.forward.immediate.destination", "201");
	set_ok(v, "virtual.destinations", "201,+15145550100");
	assert_int_equal(vset(&c, -1, -1, &r), EINVAL);
	assert_true(has_rule(&r, "virtual.destinations",
			     "dest.external_no_trunk"));
	/* ... a route or not: members ring extensions only (issue 15) */
	assert_int_equal(vset_routed(&c, &r), EINVAL);
	assert_true(has_rule(&r, "virtual.destinations",
			     "dest.external_no_trunk"));
	set_ok(v, "virtual.destinations", "201");
	assert_int_equal(vset(&c, -1, -1, &r), 0);
	cfg_free(&c);

	/* zap: vendors never mixed, channels unique */
	add(&c, MODEL_ZAP, "301");
	e = add(&c, MODEL_ZAP, "302");
	set_ok(e, "zap.channel", "2");
	assert_int_equal(vset(&c, -1, -1, &r), 0);
	set_ok(e, "zap.card_vendor", "digium");
	assert_int_equal(vset(&c, -1, -1, &r), EINVAL);
	assert_true(has_rule(&r, "zap.card_vendor", "zap.vendor_mixed"));
	assert_string_equal(find_rule(&r, "zap.vendor_mixed")->where, "302");
	set_ok(e, "zap.card_vendor", "sangoma");
	set_ok(e, "zap.channel", "1");
	assert_int_equal(vset(&c, -1, -1, &r), EINVAL);
	assert_true(has_rule(&r, "zap.channel", "zap.channel_duplicate"));
	assert_non_null(strstr(find_rule(&r, "zap.channel_duplicate")->msg,
			       "301"));
	cfg_free(&c);

	/* web usernames unique */
	e = add(&c, MODEL_SIP, "201");
	set_ok(e, "web.username", "ada");
	e = add(&c, MODEL_VIRTUAL, "206");
	set_ok(e, "web.username", "bob");
	assert_int_equal(vset(&c, -1, -1, &r), 0);
	set_ok(e, "web.username", "ada");
	assert_int_equal(vset(&c, -1, -1, &r), EINVAL);
	assert_true(has_rule(&r, "web.username", "web.username_duplicate"));
	assert_string_equal(find_rule(&r, "web.username_duplicate")->where,
			    "206");
	cfg_free(&c);

	/* per-extension findings carry the number as where */
	e = add(&c, MODEL_SIP, "201");
	set_ok(e, "phone.send_rpid", "true");
	e = add(&c, MODEL_SIP, "202");
	json_object_del(e, "number");
	assert_int_equal(vset(&c, -1, -1, &r), EINVAL);
	assert_string_equal(find_rule(&r, "phone.pai_rpid_exclusive")->where,
			    "201");
	assert_string_equal(find_rule(&r, "field.required")->where, "item 2");
	cfg_free(&c);

	assert_int_equal(model_validate_set(NULL, 0, NULL, &r), 0);
	report_reset(&r);
}

/* ---- scale --------------------------------------------------------------- */

static json_t **big_config(size_t n)
{
	json_t **e = calloc(n, sizeof(*e));
	char num[32];

	assert_non_null(e);
	for (size_t i = 0; i < n; i++) {
		enum model_type t = i % 10 == 9 ? MODEL_RING_GROUP :
				    i % 10 == 8 ? MODEL_VIRTUAL : MODEL_SIP;

		snprintf(num, sizeof(num), "%zu", 10000 + i);
		e[i] = mk(t, num, "Ada Lovelace");
		if (t == MODEL_RING_GROUP) {
			char m[64];

			snprintf(m, sizeof(m), "%zu,%zu,%zu", 10000 + i - 1,
				 10000 + i - 2, 10000 + i - 3);
			set_ok(e[i], "ring_group.members", m);
		} else {
			snprintf(num, sizeof(num), "user%zu", i);
			set_ok(e[i], "web.username", num);
		}
		if (t == MODEL_VIRTUAL) {
			snprintf(num, sizeof(num), "%zu", 10000 + i - 1);
			set_ok(e[i], "virtual.vm_copies", num);
		}
	}
	return e;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double time_set(json_t **e, size_t n, struct report *r)
{
	struct model_limits lim = { .user = -1, .shared = -1 };
	double t0 = now_ms();
	int err = model_validate_set(e, n, &lim, r);

	if (err)
		dump(r);
	assert_int_equal(err, 0);
	return now_ms() - t0;
}

static void test_scale(void **state)
{
	size_t n = 10000;
	json_t **e = big_config(n);
	struct report r;
	double ms;

	report_init(&r);
	ms = time_set(e, n, &r);
	/* generous bound: this also runs under ASan/UBSan; the measured
	 * figure (test_model --bench) is in docs/internals/model.md */
	assert_true(ms < 3000);
	for (size_t i = 0; i < n; i++)
		json_decref(e[i]);
	free(e);
	report_reset(&r);
}

/* ---- the generated field reference --------------------------------------- */

static const char *kind_text(enum model_kind k)
{
	switch (k) {
	case MODEL_BOOL:   return "bool";
	case MODEL_INT:    return "int";
	case MODEL_STRING: return "text";
	case MODEL_ENUM:   return "choice";
	case MODEL_LIST:   return "list";
	case MODEL_SECRET: return "secret";
	}
	return "?";
}

static const char *form_text(enum model_form f)
{
	switch (f) {
	case MODEL_FORM_NONE:        return "";
	case MODEL_FORM_NUMBER:      return "extension number";
	case MODEL_FORM_EXT_REF:     return "existing extension";
	case MODEL_FORM_MAILBOX_REF: return "existing extension with a mailbox";
	case MODEL_FORM_DEST:        return "extension or external number";
	case MODEL_FORM_PHONENUM:    return "digits, optional +";
	case MODEL_FORM_NAME:        return "First Last";
	case MODEL_FORM_CIDNAME:     return "printable, no \" or \\";
	case MODEL_FORM_EMAIL:       return "email address";
	case MODEL_FORM_IP:          return "IPv4/IPv6 address";
	case MODEL_FORM_DIGITS:      return "digits";
	case MODEL_FORM_WEBUSER:     return "a-z 0-9 . _ -";
	case MODEL_FORM_TOKEN:       return "letters, digits, _ -";
	case MODEL_FORM_TEXT:        return "no control characters";
	case MODEL_FORM_HEADER:      return "one SIP header value (ASCII)";
	}
	return "?";
}

static void doc_print(FILE *o)
{
	fprintf(o, "Generated from `model_fields[]` by "
		"`test_model --doc`; do not edit by hand.\n");
	for (int tab = 0; tab < MODEL_TAB_COUNT; tab++) {
		fprintf(o, "\n### Tab: %s\n\n", model_tab_name(tab));
		fprintf(o, "| field | kind | types | default | rule | "
			"label: help |\n|---|---|---|---|---|---|\n");
		for (size_t i = 0; i < model_field_count; i++) {
			const struct model_field *f = &model_fields[i];
			char types[128] = "", rule[256] = "";
			size_t off = 0;

			if ((int)f->tab != tab)
				continue;
			if (f->types == MODEL_ALL_TYPES)
				snprintf(types, sizeof(types), "all");
			else
				for (int t = 0; t < MODEL_TYPE_COUNT; t++)
					if (f->types & MODEL_T(t))
						off += snprintf(types + off,
							sizeof(types) - off,
							"%s%s", off ? ", " : "",
							model_type_name(t));
			off = 0;
			if (f->required)
				off += snprintf(rule + off, sizeof(rule) - off,
						"required; ");
			if (f->kind == MODEL_INT)
				off += snprintf(rule + off, sizeof(rule) - off,
						"%ld..%ld; ", f->min, f->max);
			else if (f->kind == MODEL_LIST)
				off += snprintf(rule + off, sizeof(rule) - off,
						"%ld..%ld entries; ", f->min,
						f->max);
			else if (f->kind != MODEL_BOOL && f->max)
				off += snprintf(rule + off, sizeof(rule) - off,
						"%ld..%ld chars; ", f->min,
						f->max);
			if (f->choices) {
				off += snprintf(rule + off, sizeof(rule) - off,
						"one of ");
				for (int c = 0; f->choices[c]; c++)
					off += snprintf(rule + off,
						sizeof(rule) - off, "%s%s",
						c ? "/" : "", f->choices[c]);
				off += snprintf(rule + off, sizeof(rule) - off,
						"; ");
			}
			if (f->form)
				off += snprintf(rule + off, sizeof(rule) - off,
						"%s; ", form_text(f->form));
			if (f->ref_types) {
				off += snprintf(rule + off, sizeof(rule) - off,
						"type ");
				for (int t = 0, k = 0; t < MODEL_TYPE_COUNT;
				     t++)
					if (f->ref_types & MODEL_T(t))
						off += snprintf(rule + off,
							sizeof(rule) - off,
							"%s%s", k++ ? "/" : "",
							model_type_name(t));
				off += snprintf(rule + off, sizeof(rule) - off,
						"; ");
			}
			if (f->check)
				off += snprintf(rule + off, sizeof(rule) - off,
						"cross-field rule (see help); ");
			if (off >= 2 && off < sizeof(rule))
				rule[off - 2] = '\0';
			fprintf(o, "| `%s` | %s | %s | %s%s%s | %s | %s: %s |\n",
				f->name, kind_text(f->kind), types,
				f->def ? "`" : "", f->def ? f->def : "",
				f->def ? "`" : "", rule, f->label, f->help);
		}
	}
}

#define DOC_BEGIN "<!-- BEGIN FIELDS -->\n"
#define DOC_END "<!-- END FIELDS -->"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1))) {
		*len = fread(buf, 1, (size_t)n, f);
		buf[*len] = '\0';
	}
	fclose(f);
	return buf;
}

static int doc_mode(const char *mode, const char *path)
{
	char *gen = NULL, *doc;
	size_t glen = 0, dlen = 0;
	FILE *m = open_memstream(&gen, &glen);
	char *b, *e;
	int rc = 1;

	if (!m)
		return 1;
	doc_print(m);
	fclose(m);
	doc = slurp(path, &dlen);
	if (!doc || !(b = strstr(doc, DOC_BEGIN)) || !(e = strstr(b, DOC_END))) {
		fprintf(stderr, "%s: no %s...%s section\n", path,
			"BEGIN FIELDS", "END FIELDS");
		goto out;
	}
	b += strlen(DOC_BEGIN);
	if (!strcmp(mode, "--doc-check")) {
		rc = ((size_t)(e - b) == glen && !memcmp(b, gen, glen)) ? 0 : 1;
		if (rc)
			fprintf(stderr, "%s is stale: run test_model "
				"--doc-update %s\n", path, path);
	} else {
		FILE *o = fopen(path, "wb");

		if (!o)
			goto out;
		fwrite(doc, 1, (size_t)(b - doc), o);
		fwrite(gen, 1, glen, o);
		fputs(e, o);
		rc = fclose(o) ? 1 : 0;
	}
out:
	free(doc);
	free(gen);
	return rc;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_tabs_per_type),
		cmocka_unit_test(test_defaults_each_type),
		cmocka_unit_test(test_defaults_values),
		cmocka_unit_test(test_not_for_type),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_number),
		cmocka_unit_test(test_type_field),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_auth_required),
		cmocka_unit_test(test_alert_info_header_safe),
		cmocka_unit_test(test_secrets_not_in_messages),
		cmocka_unit_test(test_voicemail),
		cmocka_unit_test(test_pin_extension_any_length),
		cmocka_unit_test(test_phone),
		cmocka_unit_test(test_callerid),
		cmocka_unit_test(test_user_options),
		cmocka_unit_test(test_web),
		cmocka_unit_test(test_security),
		cmocka_unit_test(test_type_specific),
		cmocka_unit_test(test_parse_format),
		cmocka_unit_test(test_set_valid),
		cmocka_unit_test(test_set_rules),
		cmocka_unit_test(test_scale),
	};

	if (argc >= 2 && !strcmp(argv[1], "--doc")) {
		doc_print(stdout);
		return 0;
	}
	if (argc >= 3 && (!strcmp(argv[1], "--doc-check") ||
			  !strcmp(argv[1], "--doc-update")))
		return doc_mode(argv[1], argv[2]);
	if (argc >= 2 && !strcmp(argv[1], "--bench")) {
		size_t n = argc >= 3 ? strtoul(argv[2], NULL, 10) : 10000;
		json_t **e = big_config(n);
		struct report r;
		double best = 1e9;
		const char *reps_s = getenv("BENCH_REPS");
		int reps = reps_s ? atoi(reps_s) : 5;

		report_init(&r);
		for (int i = 0; i < reps; i++) {
			double ms = time_set(e, n, &r);

			best = ms < best ? ms : best;
		}
		printf("model_validate_set: %zu extensions in %.2f ms "
		       "(best of 5)\n", n, best);
		for (size_t i = 0; i < n; i++)
			json_decref(e[i]);
		free(e);
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
