/*
 * test_vmpin — the owner's own voicemail PIN (store_vm_pin_change,
 * store_vm_pin_check: applied at once, running and staged, the PIN
 * policy in full) and the PIN generated for an extension added with its
 * mailbox on and no PIN.
 */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "store/store.h"

#define STORE_FX_NAME "vmpin"
#include "store_fx.h"

static int add(struct store *s, const char *num, const char *pw,
	       const char *pin, json_t **gen)
{
	struct report r;
	json_t *e = json_pack("{s:s,s:s,s:s,s:s}", "number", num, "type",
			      "sip", "name", "Ada Lovelace", "auth.password",
			      pw);
	int err;

	if (pin)
		json_object_set_new(e, "voicemail.pin", json_string(pin));
	report_init(&r);
	err = store_ext_add(s, e, 0, &r, gen);
	report_reset(&r);
	json_decref(e);
	return err;
}

static char *revealed(struct store *s, const char *num, enum store_view v)
{
	json_t *o = NULL;
	char *out;

	assert_int_equal(store_ext_get(s, num, v, true, &o), 0);
	out = strdup(json_string_value(json_object_get(o, "voicemail.pin")));
	json_decref(o);
	return out;
}

static bool has_rule(const struct report *r, const char *field,
		     const char *rule)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->item[i].field, field) &&
		    !strcmp(r->item[i].rule, rule))
			return true;
	return false;
}

static size_t pending_n(struct store *s)
{
	json_t *d = NULL;
	size_t n;

	assert_int_equal(store_pending(s, &d), 0);
	n = json_array_size(d);
	json_decref(d);
	return n;
}

static void expect_refused(struct store *s, const char *num,
			   const char *pin, const char *rule)
{
	struct report r;

	report_init(&r);
	assert_int_equal(store_vm_pin_change(s, num, pin, &r), EINVAL);
	if (!has_rule(&r, "voicemail.pin", rule))
		fail_msg("PIN refused without rule %s", rule);
	report_reset(&r);
}

static void test_change_applies_at_once(void **state)
{
	struct fx *f = *state;
	struct report r;
	char *p;
	bool ok;

	assert_int_equal(add(f->s, "20468", PW1, PIN1, NULL), 0);
	commit_ok(f->s);
	assert_int_equal(pending_n(f->s), 0);

	assert_int_equal(store_vm_pin_check(f->s, "20468", PIN1, &ok), 0);
	assert_true(ok);
	report_init(&r);
	assert_int_equal(store_vm_pin_change(f->s, "20468", PIN2, &r), 0);
	assert_int_equal(r.n, 0);
	report_reset(&r);
	/* running and staged alike: nothing pending, no commit needed */
	p = revealed(f->s, "20468", STORE_RUNNING);
	assert_string_equal(p, PIN2);
	free(p);
	p = revealed(f->s, "20468", STORE_STAGED);
	assert_string_equal(p, PIN2);
	free(p);
	assert_int_equal(pending_n(f->s), 0);
	assert_int_equal(store_vm_pin_check(f->s, "20468", PIN2, &ok), 0);
	assert_true(ok);
	assert_int_equal(store_vm_pin_check(f->s, "20468", PIN1, &ok), 0);
	assert_false(ok);
	assert_int_equal(store_vm_pin_check(f->s, "20468", "", &ok), 0);
	assert_false(ok);
	assert_int_equal(store_vm_pin_check(f->s, "20468", PIN2 "0", &ok), 0);
	assert_false(ok);
	/* a commit afterwards keeps it */
	commit_ok(f->s);
	assert_int_equal(store_vm_pin_check(f->s, "20468", PIN2, &ok), 0);
	assert_true(ok);
	/* as does a close and open */
	store_close(f->s);
	assert_int_equal(store_open(&f->s, f->dir, "data"), 0);
	p = revealed(f->s, "20468", STORE_RUNNING);
	assert_string_equal(p, PIN2);
	free(p);
}

static void test_change_policy(void **state)
{
	struct fx *f = *state;
	struct report r;
	char *p;
	bool ok;

	assert_int_equal(add(f->s, "20468", PW1, PIN1, NULL), 0);
	commit_ok(f->s);
	expect_refused(f->s, "20468", "48a736", "vm.digits_only");
	expect_refused(f->s, "20468", "4807", "vm.min_length");
	expect_refused(f->s, "20468", "123456", "vm.no_trivial");
	expect_refused(f->s, "20468", "204689", "vm.no_extension");
	expect_refused(f->s, "20468", PIN1, "vm.no_previous");
	/* nothing changed */
	assert_int_equal(store_vm_pin_check(f->s, "20468", PIN1, &ok), 0);
	assert_true(ok);
	/* after a change the previous is the one just replaced */
	report_init(&r);
	assert_int_equal(store_vm_pin_change(f->s, "20468", PIN3, &r), 0);
	report_reset(&r);
	expect_refused(f->s, "20468", PIN3, "vm.no_previous");
	/* no running extension: ENOENT; a staged-only one as well */
	report_init(&r);
	assert_int_equal(store_vm_pin_change(f->s, "999", PIN2, &r), ENOENT);
	assert_int_equal(add(f->s, "30468", PW2, PIN1, NULL), 0);
	assert_int_equal(store_vm_pin_change(f->s, "30468", PIN2, &r),
			 ENOENT);
	report_reset(&r);
	p = revealed(f->s, "30468", STORE_STAGED);
	assert_string_equal(p, PIN1);
	free(p);
	assert_int_equal(store_vm_pin_check(f->s, "999", PIN1, &ok), ENOENT);
	assert_false(ok);
}

/* The staged row's pending PIN edit is overtaken by the owner's own. */
static void test_change_overrides_staged(void **state)
{
	struct fx *f = *state;
	struct report r;
	json_t *e;
	char *p;

	assert_int_equal(add(f->s, "20468", PW1, PIN1, NULL), 0);
	commit_ok(f->s);
	e = json_pack("{s:s}", "voicemail.pin", PIN3);
	report_init(&r);
	assert_int_equal(store_ext_edit(f->s, "20468", e, 0, &r, NULL), 0);
	json_decref(e);
	assert_int_equal(store_vm_pin_change(f->s, "20468", PIN2, &r), 0);
	report_reset(&r);
	commit_ok(f->s);
	p = revealed(f->s, "20468", STORE_RUNNING);
	assert_string_equal(p, PIN2);
	free(p);
}

static void test_add_generates_pin(void **state)
{
	struct fx *f = *state;
	json_t *gen = NULL, *e;
	struct report r;
	const char *pin;
	char *p;

	/* mailbox on (the default), no PIN: one is generated, shown once */
	assert_int_equal(add(f->s, "20468", PW1, NULL, &gen), 0);
	pin = json_string_value(json_object_get(gen, "voicemail.pin"));
	assert_non_null(pin);
	assert_true(strlen(pin) >= 6);
	assert_true(strspn(pin, "0123456789") == strlen(pin));
	assert_null(strstr(pin, "20468"));
	p = revealed(f->s, "20468", STORE_STAGED);
	assert_string_equal(p, pin);
	free(p);
	json_decref(gen);
	gen = NULL;
	commit_ok(f->s);

	/* a PIN given is kept, nothing generated */
	assert_int_equal(add(f->s, "30468", PW2, PIN2, &gen), 0);
	assert_null(json_object_get(gen, "voicemail.pin"));
	json_decref(gen);

	/* clearing the PIN of a mailbox is still refused */
	e = json_pack("{s:s}", "voicemail.pin", "");
	report_init(&r);
	assert_int_equal(store_ext_edit(f->s, "20468", e, 0, &r, NULL),
			 EINVAL);
	assert_true(has_rule(&r, "voicemail.pin", "field.required"));
	report_reset(&r);
	json_decref(e);
}

static void test_add_no_mailbox_no_pin(void **state)
{
	struct fx *f = *state;
	json_t *gen = NULL, *e;
	struct report r;

	e = json_pack("{s:s,s:s,s:s,s:s,s:s}", "number", "20468", "type",
		      "sip", "name", "Ada Lovelace", "auth.password", PW1,
		      "voicemail.enabled", "false");
	report_init(&r);
	assert_int_equal(store_ext_add(f->s, e, 0, &r, &gen), 0);
	assert_null(json_object_get(gen, "voicemail.pin"));
	report_reset(&r);
	json_decref(e);
	json_decref(gen);
	commit_ok(f->s);
	/* no mailbox: the owner has no PIN to change */
	report_init(&r);
	assert_int_equal(store_vm_pin_change(f->s, "20468", PIN2, &r),
			 EINVAL);
	assert_true(has_rule(&r, "voicemail.enabled", "vm.disabled"));
	report_reset(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_change_applies_at_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_change_policy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_change_overrides_staged,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_generates_pin, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_add_no_mailbox_no_pin,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
