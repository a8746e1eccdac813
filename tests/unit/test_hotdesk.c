/*
 * Unit tests of hotdesk's pure log-in table (src/hotdesk/hdtab.c) and
 * its copy at rest with the PIN failure rules (src/store/hdstore.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "hotdesk/hdtab.h"
#include "store/hdstore.h"

#define MIN_MS (60 * 1000LL)
#define T0 1700000000000LL

static void login_and_lookup(void **state)
{
	struct hdtab t;
	struct hdtab_entry gone[2];

	(void)state;
	assert_int_equal(hdtab_init(&t, 4), 0);
	assert_null(hdtab_of_number(&t, "700"));
	assert_int_equal(hdtab_login(&t, "700", "202", T0, gone), 0);
	assert_string_equal(gone[0].number, "");
	assert_string_equal(gone[1].number, "");
	assert_string_equal(hdtab_of_number(&t, "700")->phone, "202");
	assert_string_equal(hdtab_at_phone(&t, "202")->number, "700");
	assert_int_equal(hdtab_of_number(&t, "700")->login_ms, T0);
	assert_null(hdtab_at_phone(&t, "203"));
	assert_null(hdtab_of_number(&t, "202"));
	/* bad numbers */
	assert_int_equal(hdtab_login(&t, "", "202", T0, gone), EINVAL);
	assert_int_equal(hdtab_login(&t, "70a", "202", T0, gone), EINVAL);
	assert_int_equal(hdtab_login(&t, "700", "sip:202", T0, gone), EINVAL);
	assert_int_equal(hdtab_login(&t, "700",
				     "123456789012345678901234", T0, gone),
			 EINVAL);
	assert_int_equal(t.n, 1);
	hdtab_reset(&t);
	assert_int_equal(hdtab_init(&t, 0), EINVAL);
}

static void one_phone_one_user(void **state)
{
	struct hdtab t;
	struct hdtab_entry gone[2];

	(void)state;
	assert_int_equal(hdtab_init(&t, 4), 0);
	assert_int_equal(hdtab_login(&t, "700", "202", T0, gone), 0);
	/* a log-in elsewhere moves it */
	assert_int_equal(hdtab_login(&t, "700", "203", T0 + 1, gone), 0);
	assert_string_equal(gone[0].number, "700");
	assert_string_equal(gone[0].phone, "202");
	assert_string_equal(gone[1].number, "");
	assert_int_equal(t.n, 1);
	assert_null(hdtab_at_phone(&t, "202"));
	assert_string_equal(hdtab_of_number(&t, "700")->phone, "203");
	/* another user at that phone replaces it */
	assert_int_equal(hdtab_login(&t, "701", "203", T0 + 2, gone), 0);
	assert_string_equal(gone[0].number, "");
	assert_string_equal(gone[1].number, "700");
	assert_int_equal(t.n, 1);
	assert_null(hdtab_of_number(&t, "700"));
	assert_string_equal(hdtab_at_phone(&t, "203")->number, "701");
	/* the same place again: no move, the time renewed */
	assert_int_equal(hdtab_login(&t, "701", "203", T0 + 3, gone), 0);
	assert_string_equal(gone[0].number, "");
	assert_string_equal(gone[1].number, "");
	assert_int_equal(t.n, 1);
	assert_int_equal(hdtab_of_number(&t, "701")->login_ms, T0 + 3);
	/* log out */
	assert_true(hdtab_logout(&t, "701", gone));
	assert_string_equal(gone[0].phone, "203");
	assert_false(hdtab_logout(&t, "701", NULL));
	assert_int_equal(t.n, 0);
	hdtab_reset(&t);
}

static void bounded(void **state)
{
	struct hdtab t;
	char n[8], p[8];

	(void)state;
	assert_int_equal(hdtab_init(&t, 3), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(n, sizeof(n), "70%d", i);
		snprintf(p, sizeof(p), "20%d", i);
		assert_int_equal(hdtab_login(&t, n, p, T0, NULL), 0);
	}
	/* full: a new pair is refused, nothing evicted */
	assert_int_equal(hdtab_login(&t, "799", "299", T0, NULL), ENOSPC);
	assert_int_equal(t.n, 3);
	assert_string_equal(hdtab_at_phone(&t, "200")->number, "700");
	/* a move within the table still works when full */
	assert_int_equal(hdtab_login(&t, "700", "299", T0, NULL), 0);
	assert_int_equal(hdtab_login(&t, "799", "201", T0, NULL), 0);
	assert_null(hdtab_of_number(&t, "701"));
	assert_int_equal(t.n, 3);
	hdtab_reset(&t);
}

struct seen {
	int n;
	char last[HDTAB_NUM];
};

static void on_lapse(const struct hdtab_entry *e, void *arg)
{
	struct seen *s = arg;

	s->n++;
	snprintf(s->last, sizeof(s->last), "%s", e->number);
}

static void time_bounds(void **state)
{
	struct hdtab t;
	struct seen s = { 0 };

	(void)state;
	assert_int_equal(hdtab_init(&t, 4), 0);
	assert_int_equal(hdtab_next_lapse(&t, 720 * MIN_MS, 0), 0);
	assert_int_equal(hdtab_login(&t, "700", "202", T0, NULL), 0);
	assert_int_equal(hdtab_login(&t, "701", "203", T0 + MIN_MS, NULL), 0);
	/* the absolute bound: 12 h after each log-in */
	assert_int_equal(hdtab_next_lapse(&t, 720 * MIN_MS, 0),
			 T0 + 720 * MIN_MS);
	assert_int_equal(hdtab_expire(&t, T0 + 720 * MIN_MS - 1, 720 * MIN_MS,
				      0, on_lapse, &s), 0);
	assert_int_equal(hdtab_expire(&t, T0 + 720 * MIN_MS, 720 * MIN_MS, 0,
				      on_lapse, &s), 1);
	assert_string_equal(s.last, "700");
	assert_null(hdtab_of_number(&t, "700"));
	assert_non_null(hdtab_of_number(&t, "701"));
	/* the idle bound: a call keeps it alive */
	assert_int_equal(hdtab_login(&t, "700", "202", T0, NULL), 0);
	hdtab_touch(&t, "700", T0 + 50 * MIN_MS);
	hdtab_touch(&t, "700", T0 + 10 * MIN_MS);   /* never backwards */
	assert_int_equal(hdtab_of_number(&t, "700")->used_ms,
			 T0 + 50 * MIN_MS);
	assert_int_equal(hdtab_expire(&t, T0 + 100 * MIN_MS, 720 * MIN_MS,
				      60 * MIN_MS, on_lapse, &s), 1);
	assert_string_equal(s.last, "701");   /* idle since T0 + 1 min */
	assert_int_equal(hdtab_next_lapse(&t, 720 * MIN_MS, 60 * MIN_MS),
			 T0 + 110 * MIN_MS);
	assert_int_equal(hdtab_expire(&t, T0 + 110 * MIN_MS, 720 * MIN_MS,
				      60 * MIN_MS, on_lapse, &s), 1);
	assert_int_equal(t.n, 0);
	assert_int_equal(s.n, 3);
	/* both bounds off: never */
	assert_int_equal(hdtab_login(&t, "700", "202", T0, NULL), 0);
	assert_int_equal(hdtab_expire(&t, T0 + 1000000 * MIN_MS, 0, 0, NULL,
				      NULL), 0);
	assert_int_equal(hdtab_next_lapse(&t, 0, 0), 0);
	hdtab_reset(&t);
}

/* ---- at rest ---- */

static char dir[64], db[96];

static int db_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_hotdesk.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(db, sizeof(db), "%s/bulwark.db", dir);
	return 0;
}

static int db_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void collect(const struct hd_login *l, void *arg)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 256 - n, "%s@%s;", l->number, l->phone);
}

static void logins_at_rest(void **state)
{
	struct hdstore *h = NULL;
	struct hd_login l = { "700", "202", T0, T0 };
	char out[256] = "";

	(void)state;
	assert_int_equal(hdstore_open(&h, db), 0);
	assert_int_equal(hdstore_login_put(h, &l), 0);
	snprintf(l.number, sizeof(l.number), "701");
	snprintf(l.phone, sizeof(l.phone), "203");
	assert_int_equal(hdstore_login_put(h, &l), 0);
	/* 700 moves to 203: 701 is logged out there, 202 is free */
	snprintf(l.number, sizeof(l.number), "700");
	assert_int_equal(hdstore_login_put(h, &l), 0);
	hdstore_close(h);
	/* a restart finds it */
	assert_int_equal(hdstore_open(&h, db), 0);
	assert_int_equal(hdstore_login_each(h, collect, out), 0);
	assert_string_equal(out, "700@203;");
	assert_int_equal(hdstore_login_del(h, "700"), 0);
	out[0] = '\0';
	assert_int_equal(hdstore_login_each(h, collect, out), 0);
	assert_string_equal(out, "");
	snprintf(l.phone, sizeof(l.phone), "x");
	assert_int_equal(hdstore_login_put(h, &l), EINVAL);
	hdstore_close(h);
}

static void pin_failures_lock(void **state)
{
	struct hdstore *h = NULL;
	struct hd_failres r;
	struct hd_state st;

	(void)state;
	assert_int_equal(hdstore_open(&h, db), 0);
	assert_int_equal(hdstore_pin_fail(h, "700", "192.0.2.1", T0, &r), 0);
	assert_false(r.locked);
	assert_int_equal(r.fails, 1);
	assert_int_equal(r.src_numbers, 1);
	assert_int_equal(hdstore_pin_fail(h, "700", "192.0.2.1", T0, &r), 0);
	assert_int_equal(hdstore_pin_fail(h, "700", "192.0.2.1", T0, &r), 0);
	/* the third in a row locks for 60 s */
	assert_true(r.locked);
	assert_int_equal(r.locked_until, T0 + MIN_MS);
	assert_int_equal(hdstore_state_get(h, "700", &st), 0);
	assert_int_equal(st.locked_until, T0 + MIN_MS);
	assert_int_equal(st.lock_level, 1);
	/* the next lock is twice as long */
	for (int i = 0; i < 3; i++)
		assert_int_equal(hdstore_pin_fail(h, "700", "192.0.2.1",
						  T0 + 2 * MIN_MS, &r), 0);
	assert_true(r.locked);
	assert_int_equal(r.locked_until, T0 + 4 * MIN_MS);
	/* distinct numbers per source */
	assert_int_equal(hdstore_pin_fail(h, "701", "192.0.2.1",
					  T0 + 2 * MIN_MS, &r), 0);
	assert_int_equal(r.src_numbers, 2);
	assert_int_equal(hdstore_pin_fail(h, "702", "192.0.2.9",
					  T0 + 2 * MIN_MS, &r), 0);
	assert_int_equal(r.src_numbers, 1);
	/* a right PIN resets the extension */
	assert_int_equal(hdstore_pin_ok(h, "700"), 0);
	assert_int_equal(hdstore_state_get(h, "700", &st), 0);
	assert_int_equal(st.fails + st.lock_level, 0);
	assert_int_equal(st.locked_until, 0);
	/* bad input */
	assert_int_equal(hdstore_pin_fail(h, "7x", "192.0.2.1", T0, &r),
			 EINVAL);
	assert_int_equal(hdstore_pin_fail(h, "700", "", T0, &r), EINVAL);
	hdstore_close(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(login_and_lookup),
		cmocka_unit_test(one_phone_one_user),
		cmocka_unit_test(bounded),
		cmocka_unit_test(time_bounds),
		cmocka_unit_test_setup_teardown(logins_at_rest, db_setup,
						db_teardown),
		cmocka_unit_test_setup_teardown(pin_failures_lock, db_setup,
						db_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
