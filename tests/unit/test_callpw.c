/*
 * test_callpw — the check of a call password typed at the gate
 * (store_call_pw_check: the running secret, constant-time compare) and
 * what the snapshot tells the data plane (that there is one, never the
 * secret), with the personal IVR's fields (issue 13).
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

#define STORE_FX_NAME "callpw"
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
		json_object_set_new(e, "security.call_password",
				    json_string(pin));
	report_init(&r);
	err = store_ext_add(s, e, 0, &r, gen);
	report_reset(&r);
	json_decref(e);
	return err;
}

static void test_check(void **state)
{
	struct fx *f = *state;
	struct report r;
	json_t *e;
	bool ok = true;

	assert_int_equal(add(f->s, "20468", PW1, PIN1, NULL), 0);
	assert_int_equal(add(f->s, "20469", PW2, NULL, NULL), 0);
	/* staged only: nothing to check against yet */
	assert_int_equal(store_call_pw_check(f->s, "20468", PIN1, &ok),
			 ENOENT);
	assert_false(ok);
	commit_ok(f->s);
	assert_int_equal(store_call_pw_check(f->s, "20468", PIN1, &ok), 0);
	assert_true(ok);
	assert_int_equal(store_call_pw_check(f->s, "20468", PIN2, &ok), 0);
	assert_false(ok);
	/* a prefix, a longer string, nothing: wrong */
	assert_int_equal(store_call_pw_check(f->s, "20468", "4807", &ok), 0);
	assert_false(ok);
	assert_int_equal(store_call_pw_check(f->s, "20468", PIN1 "0", &ok),
			 0);
	assert_false(ok);
	assert_int_equal(store_call_pw_check(f->s, "20468", "", &ok), 0);
	assert_false(ok);
	/* the voicemail PIN is another secret */
	assert_int_equal(store_call_pw_check(f->s, "20469", PIN1, &ok), 0);
	assert_false(ok);
	assert_int_equal(store_call_pw_check(f->s, "999", PIN1, &ok), ENOENT);
	assert_false(ok);
	assert_int_equal(store_call_pw_check(NULL, "20468", PIN1, &ok),
			 EINVAL);
	/* a new password applies at the commit */
	e = json_pack("{s:s}", "security.call_password", PIN2);
	report_init(&r);
	assert_int_equal(store_ext_edit(f->s, "20468", e, 0, &r, NULL), 0);
	report_reset(&r);
	json_decref(e);
	assert_int_equal(store_call_pw_check(f->s, "20468", PIN2, &ok), 0);
	assert_false(ok);
	commit_ok(f->s);
	assert_int_equal(store_call_pw_check(f->s, "20468", PIN2, &ok), 0);
	assert_true(ok);
}

static void test_snapshot(void **state)
{
	struct fx *f = *state;
	struct snapshot *snap = NULL;
	const struct snap_ext *x;
	struct report r;
	json_t *e;

	assert_int_equal(add(f->s, "20468", PW1, PIN1, NULL), 0);
	assert_int_equal(add(f->s, "20469", PW2, NULL, NULL), 0);
	e = json_pack("{s:b,s:s}", "user.personal_ivr.enabled", 1,
		      "user.personal_ivr.destination", "20468");
	report_init(&r);
	assert_int_equal(store_ext_edit(f->s, "20469", e, 0, &r, NULL), 0);
	report_reset(&r);
	json_decref(e);
	commit_ok(f->s);
	assert_int_equal(store_snapshot(f->s, &snap), 0);
	x = snapshot_find(snap, "20468", 5);
	assert_non_null(x);
	assert_true(x->call_pw);
	assert_false(x->pivr);
	/* nothing of the secret in what the data plane reads */
	assert_null(memmem(x, sizeof(*x), PIN1, strlen(PIN1)));
	x = snapshot_find(snap, "20469", 5);
	assert_non_null(x);
	assert_false(x->call_pw);
	assert_true(x->pivr);
	assert_string_equal(x->pivr_dest, "20468");
	snapshot_free(snap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
