/*
 * Unit tests for src/policy: every rule at its boundaries, all findings
 * reported at once, settings table, consistency, dictionary, generators.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"

#ifndef POLICY_DATA_DIR
#define POLICY_DATA_DIR "data"
#endif

static const char small_dict[] =
	"# a comment line\n"
	"summer\nwinter\npassword\nsecret\nmonkey\nhello\ntable\nstone\n"
	"voip\nliberty\ncat\n";

static struct policy_dict *dict;

static int group_setup(void **state)
{
	if (policy_dict_alloc(&dict))
		return -1;
	return policy_dict_add(dict, small_dict, strlen(small_dict)) ? -1 : 0;
}

static int group_teardown(void **state)
{
	policy_dict_free(dict);
	dict = NULL;
	return 0;
}

static bool has_rule(const struct report *r, const char *rule)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->item[i].rule, rule))
			return true;
	return false;
}

/* Check pw under p with the small dictionary; return the report. */
static int sip(const struct policy *p, const char *pw, const char *ext,
	       const char *name, struct report *r)
{
	report_reset(r);
	return policy_check_sip(p, dict, pw, ext, name, r);
}

static void assert_sip_ok(const struct policy *p, const char *pw,
			  const char *ext, const char *name)
{
	struct report r;

	report_init(&r);
	if (sip(p, pw, ext, name, &r)) {
		for (size_t i = 0; i < r.n; i++)
			print_error("unexpected %s: %s\n", r.item[i].rule,
				    r.item[i].msg);
		fail_msg("password unexpectedly refused");
	}
	assert_int_equal(r.n, 0);
	report_reset(&r);
}

/* pw fails exactly with rule (and maybe others when only is false). */
static void assert_sip_rule(const struct policy *p, const char *pw,
			    const char *ext, const char *name,
			    const char *rule, bool only)
{
	struct report r;

	report_init(&r);
	assert_int_equal(sip(p, pw, ext, name, &r), EINVAL);
	if (!has_rule(&r, rule))
		fail_msg("'%s' not reported", rule);
	if (only)
		assert_int_equal(r.n, 1);
	for (size_t i = 0; i < r.n; i++) {
		assert_string_equal(r.item[i].where, "");
		assert_string_equal(r.item[i].field, "auth.password");
		/* never the secret itself */
		assert_null(strstr(r.item[i].msg, pw));
	}
	report_reset(&r);
}

/* ---- defaults and SIP rules ----------------------------------------- */

static void test_defaults(void **state)
{
	struct policy p;

	policy_defaults(&p);
	assert_int_equal(p.sip.min_length, 8);
	assert_int_equal(p.sip.max_length, 64);
	assert_true(p.sip.alnum_only);
	assert_int_equal(p.sip.min_upper, 2);
	assert_int_equal(p.sip.min_digits, 2);
	assert_int_equal(p.sip.dict_min_word, 4);
	assert_true(p.sip.no_extension && p.sip.no_name && p.sip.unique);
	assert_int_equal(p.pin.min_length, 6);
	assert_int_equal(p.pin.max_length, 16);
	assert_true(p.pin.no_extension && p.pin.no_trivial &&
		    p.pin.no_previous && p.pin.allow_extension_for_new_user);
	assert_false(p.auto_fix);
	assert_int_equal(policy_validate(&p, NULL), 0);
}

static void test_sip_length(void **state)
{
	struct policy p;
	char pw[80];

	policy_defaults(&p);
	assert_sip_rule(&p, "Xk9Qm2L", NULL, NULL, "sip.min_length", true);
	assert_sip_ok(&p, "Xk9Qm2Lp", NULL, NULL);
	/* 64 accepted, 65 refused */
	memset(pw, 'x', sizeof(pw));
	memcpy(pw, "QZ86", 4);
	pw[64] = '\0';
	assert_sip_ok(&p, pw, NULL, NULL);
	pw[64] = 'x';
	pw[65] = '\0';
	assert_sip_rule(&p, pw, NULL, NULL, "sip.max_length", true);
	/* a huge input is refused, cheaply, without crashing */
	{
		size_t n = 1u << 20;
		char *big = malloc(n + 1);

		assert_non_null(big);
		memset(big, 'A', n);
		big[n] = '\0';
		assert_sip_rule(&p, big, "201", "John Smith",
				"sip.max_length", false);
		free(big);
	}
}

static void test_sip_classes(void **state)
{
	struct policy p;

	policy_defaults(&p);
	assert_sip_rule(&p, "Xk9qm2lp", NULL, NULL, "sip.min_upper", true);
	assert_sip_ok(&p, "Xk9Qm2lp", NULL, NULL);
	assert_sip_rule(&p, "Xk9Qmzlp", NULL, NULL, "sip.min_digits", true);
	assert_sip_ok(&p, "Xk9Qm2lp", NULL, NULL);
	assert_sip_rule(&p, "Xk9Qm2Lp!", NULL, NULL, "sip.alnum_only", true);
	assert_sip_rule(&p, "Xk9Q m2Lp", NULL, NULL, "sip.alnum_only", true);
	p.sip.alnum_only = false;
	assert_sip_ok(&p, "Xk9Qm2Lp!", NULL, NULL);
	/* control characters stay refused even then */
	assert_sip_rule(&p, "Xk9Qm2Lp\t", NULL, NULL, "sip.charset", true);
	/* stricter minimums */
	policy_defaults(&p);
	p.sip.min_upper = 5;
	p.sip.min_digits = 4;
	assert_sip_rule(&p, "XKQm2L9p", NULL, NULL, "sip.min_upper", false);
	assert_sip_rule(&p, "XKQm2L9p", NULL, NULL, "sip.min_digits", false);
	assert_sip_ok(&p, "XKQMZ2968", NULL, NULL);
	/* zero minimums mean no requirement */
	p.sip.min_upper = 0;
	p.sip.min_digits = 0;
	assert_sip_ok(&p, "xkqmzpwj", NULL, NULL);
}

static void test_sip_dictionary(void **state)
{
	/* Each substitution, alone, turns a word of the dictionary back. */
	static const char *const hits[] = {
		"QZ86m0nkey",   /* 0 -> o   monkey */
		"QZ86he11o",    /* 1 -> l   hello */
		"QZ86w1nter",   /* 1 -> i   winter */
		"QZ86s3cret",   /* 3 -> e   secret */
		"QZ86t4ble",    /* 4 -> a   table */
		"QZ865tone",    /* 5 -> s   stone */
		"QZ86s7one",    /* 7 -> t   stone */
		"QZ86SuMmEr",   /* case-insensitive */
		"QZ86v01p",     /* 0 and 1 together: voip */
		"QZ86PASSWORD", /* upper-case */
	};
	struct policy p;
	struct report r;

	policy_defaults(&p);
	report_init(&r);
	for (size_t i = 0; i < sizeof(hits) / sizeof(hits[0]); i++)
		assert_sip_rule(&p, hits[i], NULL, NULL, "sip.dict_min_word",
				true);
	/* a whole word is needed: "libert" is not "liberty" */
	assert_sip_ok(&p, "QZ86l1bert9", NULL, NULL);
	assert_sip_rule(&p, "QZ86l1berty", NULL, NULL, "sip.dict_min_word",
			true);
	/* @ and $ are not alphanumeric: both rules are reported */
	assert_sip_rule(&p, "QZ86t@ble", NULL, NULL, "sip.dict_min_word",
			false);
	assert_sip_rule(&p, "QZ86t@ble", NULL, NULL, "sip.alnum_only", false);
	assert_sip_rule(&p, "QZ86$tone", NULL, NULL, "sip.dict_min_word",
			false);
	/* digits that stand for no letter break a word */
	assert_sip_ok(&p, "QZ86m9nkey", NULL, NULL);
	assert_sip_ok(&p, "QZ86sum2mer", NULL, NULL);
	/* the message gives place and length, not the word */
	assert_int_equal(sip(&p, "QZ86summerX", NULL, NULL, &r), EINVAL);
	assert_int_equal(r.n, 1);
	assert_non_null(strstr(r.item[0].msg, "6 letters"));
	assert_non_null(strstr(r.item[0].msg, "characters 5-10"));
	assert_null(strstr(r.item[0].msg, "summer"));
	report_reset(&r);
	/* a 3-letter word is allowed with dict_min_word 4, not with 3 */
	assert_sip_ok(&p, "QZ86xcatx", NULL, NULL);
	p.sip.dict_min_word = 3;
	assert_sip_rule(&p, "QZ86xcatx", NULL, NULL, "sip.dict_min_word",
			true);
	/* 0 turns the rule off; so does a NULL dictionary */
	p.sip.dict_min_word = 0;
	assert_sip_ok(&p, "QZ86summer", NULL, NULL);
	policy_defaults(&p);
	assert_int_equal(policy_check_sip(&p, NULL, "QZ86summer", NULL, NULL,
					  NULL), 0);
	/* raised minimum: 6-letter words still caught, 4-letter ones not */
	p.sip.dict_min_word = 6;
	assert_sip_rule(&p, "QZ86summer", NULL, NULL, "sip.dict_min_word",
			true);
	assert_sip_ok(&p, "QZ86voipXX", NULL, NULL);
}

static void test_sip_extension_and_name(void **state)
{
	struct policy p;

	policy_defaults(&p);
	assert_sip_rule(&p, "Xk9Qm201Lp", "201", NULL, "sip.no_extension",
			true);
	assert_sip_rule(&p, "201Xk9QmLp", "201", NULL, "sip.no_extension",
			true);
	assert_sip_ok(&p, "Xk9Qm20Lp1", "201", NULL);
	assert_sip_ok(&p, "Xk9Qm201Lp", NULL, NULL);
	assert_sip_ok(&p, "Xk9Qm201Lp", "", NULL);
	p.sip.no_extension = false;
	assert_sip_ok(&p, "Xk9Qm201Lp", "201", NULL);

	policy_defaults(&p);
	/* first name, last name, any case, and spelt with substitutions */
	assert_sip_rule(&p, "XQjohn86", NULL, "John Smith", "sip.no_name",
			true);
	assert_sip_rule(&p, "XQ86SMITH", NULL, "John Smith", "sip.no_name",
			true);
	assert_sip_rule(&p, "XQj0hn86", NULL, "John Smith", "sip.no_name",
			true);
	assert_sip_rule(&p, "XQ86sm17h", NULL, "John Smith", "sip.no_name",
			true);
	/* a piece of a name part is not a name part */
	assert_sip_ok(&p, "XQsmi86jo", NULL, "John Smith");
	/* parts shorter than 3 letters are ignored */
	assert_sip_ok(&p, "XQli86wu", NULL, "Li Wu");
	assert_sip_rule(&p, "XQ86Ann8", NULL, "Ann-Li Wu", "sip.no_name",
			true);
	p.sip.no_name = false;
	assert_sip_ok(&p, "XQjohn86", NULL, "John Smith");
}

static void test_sip_all_rules_at_once(void **state)
{
	struct policy p;
	struct report r;

	policy_defaults(&p);
	report_init(&r);
	assert_int_equal(sip(&p, "abc", NULL, NULL, &r), EINVAL);
	assert_true(r.n >= 3);
	assert_true(has_rule(&r, "sip.min_length"));
	assert_true(has_rule(&r, "sip.min_upper"));
	assert_true(has_rule(&r, "sip.min_digits"));

	/* one password breaking five rules gets five findings */
	assert_int_equal(sip(&p, "john201summer!", "201", "John Smith", &r),
			 EINVAL);
	assert_int_equal(r.n, 5);
	assert_true(has_rule(&r, "sip.alnum_only"));
	assert_true(has_rule(&r, "sip.min_upper"));
	assert_true(has_rule(&r, "sip.no_extension"));
	assert_true(has_rule(&r, "sip.no_name"));
	assert_true(has_rule(&r, "sip.dict_min_word"));
	/* message names the setting and its value */
	assert_non_null(strstr(r.item[1].msg, "sip.min_upper = 2"));
	assert_non_null(strstr(r.item[1].msg, "at least 2 upper-case letters"));

	/* NULL password is an empty one */
	assert_int_equal(sip(&p, NULL, NULL, NULL, &r), EINVAL);
	assert_true(has_rule(&r, "sip.min_length"));
	report_reset(&r);
	/* the report may be NULL: only the verdict */
	assert_int_equal(policy_check_sip(&p, dict, "abc", NULL, NULL, NULL),
			 EINVAL);
}

/* ---- PINs ------------------------------------------------------------ */

static int pin(const struct policy *p, const char *s, const char *ext,
	       const char *prev, bool force, bool *must, struct report *r)
{
	report_reset(r);
	return policy_check_pin(p, NULL, s, ext, prev, force, must, r);
}

static void test_pin_trivial(void **state)
{
	static const char *const trivial[] = {
		/* the manual */
		"0000", "1234", "1111", "4321", "123456", "7654321",
		/* one digit repeated, runs up and down, wrap-around */
		"999999", "345678", "890123", "8901", "987654", "109876",
		"210987",
		/* steps of 2 */
		"246802", "135791", "864208",
		/* repeated patterns */
		"121212", "123123", "1212", "12121", "505050", "20012001",
		/* doubled runs */
		"112233", "111222", "998877", "1122", "001122", "224466",
		/* palindromes */
		"123321", "12321", "583385",
		/* keypad lines */
		"147258", "2580", "0852", "159357", "369258", "123789",
		/* degenerate */
		"", "7",
	};
	static const char *const fine[] = {
		"583920", "271845", "905716", "3852", "602749", "48150927",
	};

	for (size_t i = 0; i < sizeof(trivial) / sizeof(trivial[0]); i++)
		if (!policy_pin_trivial(trivial[i]))
			fail_msg("'%s' should be trivial", trivial[i]);
	for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++)
		if (policy_pin_trivial(fine[i]))
			fail_msg("'%s' should not be trivial", fine[i]);
	assert_true(policy_pin_trivial(NULL));
	assert_false(policy_pin_trivial("12a4"));
}

static void test_pin_rules(void **state)
{
	static const char *const manual[] = {
		"0000", "1234", "1111", "4321", "123456", "7654321",
	};
	struct policy p;
	struct report r;
	bool must = true;
	char msg[sizeof(r.item[0].msg)];

	policy_defaults(&p);
	report_init(&r);
	assert_int_equal(pin(&p, "583920", "201", NULL, false, &must, &r), 0);
	assert_false(must);
	assert_int_equal(r.n, 0);

	/* length 5 vs 6; 16 vs 17 */
	assert_int_equal(pin(&p, "58392", NULL, NULL, false, NULL, &r),
			 EINVAL);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.item[0].rule, "vm.min_length");
	assert_string_equal(r.item[0].field, "voicemail.pin");
	assert_non_null(strstr(r.item[0].msg, "vm.min_length = 6"));
	assert_int_equal(pin(&p, "5839204715392047", NULL, NULL, false, NULL,
			     &r), 0);
	assert_int_equal(pin(&p, "58392047153920471", NULL, NULL, false, NULL,
			     &r), EINVAL);
	assert_true(has_rule(&r, "vm.max_length"));

	/* digits only */
	assert_int_equal(pin(&p, "58a920", NULL, NULL, false, NULL, &r),
			 EINVAL);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.item[0].rule, "vm.digits_only");

	/* every manual example is refused as trivial (length lowered so that
	 * the 4-digit ones fail for triviality, not only for length) */
	p.pin.min_length = 4;
	assert_int_equal(pin(&p, "505050", NULL, NULL, false, NULL, &r),
			 EINVAL);
	assert_int_equal(r.n, 1);
	snprintf(msg, sizeof(msg), "%s", r.item[0].msg);
	for (size_t i = 0; i < sizeof(manual) / sizeof(manual[0]); i++) {
		assert_int_equal(pin(&p, manual[i], NULL, NULL, false, NULL,
				     &r), EINVAL);
		assert_int_equal(r.n, 1);
		assert_string_equal(r.item[0].rule, "vm.no_trivial");
		/* one fixed sentence: nothing of the PIN is in it */
		assert_string_equal(r.item[0].msg, msg);
	}
	p.pin.no_trivial = false;
	assert_int_equal(pin(&p, "123456", NULL, NULL, false, NULL, &r), 0);
	policy_defaults(&p);

	/* extension: equal, contained; 2-digit extensions only by equality */
	assert_int_equal(pin(&p, "583920", "583920", NULL, false, NULL, &r),
			 EINVAL);
	assert_true(has_rule(&r, "vm.no_extension"));
	assert_int_equal(pin(&p, "820194", "201", NULL, false, NULL, &r),
			 EINVAL);
	assert_true(has_rule(&r, "vm.no_extension"));
	assert_int_equal(pin(&p, "820594", "20", NULL, false, NULL, &r), 0);
	p.pin.no_extension = false;
	assert_int_equal(pin(&p, "820194", "201", NULL, false, NULL, &r), 0);
	policy_defaults(&p);

	/* previous PIN */
	assert_int_equal(pin(&p, "583920", NULL, "583920", false, NULL, &r),
			 EINVAL);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.item[0].rule, "vm.no_previous");
	assert_int_equal(pin(&p, "583920", NULL, "583921", false, NULL, &r),
			 0);
	assert_int_equal(pin(&p, "583920", NULL, "", false, NULL, &r), 0);
	p.pin.no_previous = false;
	assert_int_equal(pin(&p, "583920", NULL, "583920", false, NULL, &r),
			 0);
	policy_defaults(&p);

	/* all at once */
	assert_int_equal(pin(&p, "1a", NULL, NULL, false, NULL, &r), EINVAL);
	assert_int_equal(r.n, 2);
	assert_int_equal(pin(&p, "2012", "2012", "2012", false, NULL, &r),
			 EINVAL);
	assert_true(has_rule(&r, "vm.min_length"));
	assert_true(has_rule(&r, "vm.no_extension"));
	assert_true(has_rule(&r, "vm.no_previous"));
	report_reset(&r);
}

static void test_pin_new_user_exception(void **state)
{
	struct policy p;
	struct report r;
	bool must = false;

	policy_defaults(&p);
	report_init(&r);
	/* on: accepted despite length 3, must change at first login */
	assert_int_equal(pin(&p, "201", "201", NULL, true, &must, &r), 0);
	assert_true(must);
	assert_int_equal(r.n, 0);
	/* also for a trivial-looking extension number */
	assert_int_equal(pin(&p, "1111", "1111", NULL, true, &must, &r), 0);
	assert_true(must);
	/* NULL must_change is fine */
	assert_int_equal(pin(&p, "201", "201", NULL, true, NULL, &r), 0);

	/* mailbox without force-new-user: refused, with the reason */
	assert_int_equal(pin(&p, "201", "201", NULL, false, &must, &r),
			 EINVAL);
	assert_false(must);
	assert_true(has_rule(&r, "vm.no_extension"));
	assert_true(has_rule(&r, "vm.min_length"));

	/* setting off: refused even with force-new-user */
	p.pin.allow_extension_for_new_user = false;
	assert_int_equal(pin(&p, "201", "201", NULL, true, &must, &r),
			 EINVAL);
	assert_false(must);
	assert_true(has_rule(&r, "vm.no_extension"));
	policy_defaults(&p);

	/* only the exact extension number, not something containing it */
	assert_int_equal(pin(&p, "201555", "201", NULL, true, &must, &r),
			 EINVAL);
	assert_false(must);
	/* the previous-PIN rule still applies */
	assert_int_equal(pin(&p, "201", "201", "201", true, &must, &r),
			 EINVAL);
	assert_false(must);
	assert_true(has_rule(&r, "vm.no_previous"));
	/* a normal PIN with force-new-user on does not need changing */
	assert_int_equal(pin(&p, "583920", "201", NULL, true, &must, &r), 0);
	assert_false(must);
	report_reset(&r);
}

/* Secrets held to the PIN rules other than the mailbox's are named as
 * themselves in every finding. */
static void test_pin_field_named(void **state)
{
	struct policy p;
	struct report r;

	policy_defaults(&p);
	report_init(&r);
	assert_int_equal(policy_check_pin(&p, "hotdesk.pin", "1234", "301",
					  NULL, false, NULL, &r), EINVAL);
	assert_true(r.n >= 2);
	for (size_t i = 0; i < r.n; i++)
		assert_string_equal(r.item[i].field, "hotdesk.pin");
	report_reset(&r);
	assert_int_equal(policy_check_pin(&p, NULL, "1234", "301", NULL,
					  false, NULL, &r), EINVAL);
	assert_string_equal(r.item[0].field, "voicemail.pin");
	report_reset(&r);
}

/* Web GUI passwords: length, dictionary, not the username/number. */
static void test_web(void **state)
{
	struct policy p;
	struct report r;

	policy_defaults(&p);
	report_init(&r);
	/* the manual's weak examples */
	assert_int_equal(policy_check_web(&p, dict, "password", "ada", "201",
					  &r), EINVAL);
	assert_true(has_rule(&r, "web.min_length"));
	assert_true(has_rule(&r, "web.dict_min_word"));
	assert_string_equal(r.item[0].field, "web.password");
	report_reset(&r);
	assert_int_equal(policy_check_web(&p, dict, "1234", NULL, NULL, &r),
			 EINVAL);
	assert_true(has_rule(&r, "web.min_length"));
	report_reset(&r);
	/* disguised words too */
	assert_int_equal(policy_check_web(&p, dict, "xq86P4ssw0rdzz", NULL,
					  NULL, &r), EINVAL);
	assert_true(has_rule(&r, "web.dict_min_word"));
	report_reset(&r);
	/* the username (any case) and the extension number */
	assert_int_equal(policy_check_web(&p, dict, "qzADA.L86kv", "ada.l",
					  "201", &r), EINVAL);
	assert_true(has_rule(&r, "web.no_username"));
	report_reset(&r);
	assert_int_equal(policy_check_web(&p, dict, "qz201xk86kv", "ada.l",
					  "201", &r), EINVAL);
	assert_true(has_rule(&r, "web.no_username"));
	report_reset(&r);
	/* a long passphrase without dictionary words passes; no classes */
	assert_int_equal(policy_check_web(&p, dict, "qzxk86vbnmjr", "ada.l",
					  "201", &r), 0);
	assert_int_equal(r.n, 0);
	p.web.no_username = false;
	p.web.dict_min_word = 0;
	assert_int_equal(policy_check_web(&p, dict, "ada.lpassword", "ada.l",
					  "201", &r), 0);
	report_reset(&r);
}

/* ---- settings -------------------------------------------------------- */

static void test_keys_table(void **state)
{
	struct policy p, q;
	char buf[32];

	policy_defaults(&p);
	assert_int_equal(policy_key_count, 19);
	for (size_t i = 0; i < policy_key_count; i++) {
		const struct policy_key *k = &policy_keys[i];

		assert_non_null(k->help);
		assert_true(strlen(k->help) > 10);
		assert_int_equal(policy_get(&p, k->key, buf, sizeof(buf)), 0);
		/* every key round-trips through set */
		q = p;
		assert_int_equal(policy_set(&q, k->key, buf, NULL), 0);
		assert_memory_equal(&p, &q, sizeof(p));
		if (k->kind == POLICY_UINT) {
			unsigned long v = strtoul(buf, NULL, 10);

			assert_true(v >= k->min && v <= k->max);
		} else {
			assert_true(!strcmp(buf, "true") ||
				    !strcmp(buf, "false"));
		}
	}
	assert_int_equal(policy_get(&p, "sip.min_length", buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "8");
	assert_int_equal(policy_get(&p, "vm.no_trivial", buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "true");
	assert_int_equal(policy_get(&p, "auto_fix", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "false");
	assert_int_equal(policy_get(&p, "nope", buf, sizeof(buf)), ENOENT);
	assert_int_equal(policy_get(&p, "sip.alnum_only", buf, 3), ENOSPC);
}

static void test_set(void **state)
{
	static const struct { const char *key, *val, *rule; } bad[] = {
		{ "sip.nope", "1", "policy.unknown_key" },
		{ "", "1", "policy.unknown_key" },
		{ "sip.min_length", "abc", "policy.bad_value" },
		{ "sip.min_length", "-1", "policy.bad_value" },
		{ "sip.min_length", " 12", "policy.bad_value" },
		{ "sip.min_length", "12x", "policy.bad_value" },
		{ "sip.min_length", "", "policy.bad_value" },
		{ "sip.min_length", "7", "policy.range" },
		{ "sip.min_length", "129", "policy.range" },
		{ "sip.min_length", "99999999999999999999999", "policy.range" },
		{ "sip.dict_min_word", "1", "policy.range" },
		{ "sip.dict_min_word", "2", "policy.range" },
		{ "sip.dict_min_word", "33", "policy.range" },
		{ "vm.min_length", "3", "policy.range" },
		{ "sip.alnum_only", "maybe", "policy.bad_value" },
		{ "sip.alnum_only", "2", "policy.bad_value" },
		{ "auto_fix", "", "policy.bad_value" },
	};
	static const struct { const char *val; bool b; } bools[] = {
		{ "true", true }, { "false", false }, { "on", true },
		{ "OFF", false }, { "yes", true }, { "no", false },
		{ "1", true }, { "0", false }, { "True", true },
	};
	struct policy p, before;
	struct report r;

	policy_defaults(&p);
	report_init(&r);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		before = p;
		report_reset(&r);
		assert_int_equal(policy_set(&p, bad[i].key, bad[i].val, &r),
				 EINVAL);
		assert_memory_equal(&p, &before, sizeof(p));
		assert_int_equal(r.n, 1);
		if (strcmp(r.item[0].rule, bad[i].rule))
			fail_msg("%s=%s: %s, want %s", bad[i].key, bad[i].val,
				 r.item[0].rule, bad[i].rule);
		assert_string_equal(r.item[0].where, "policy");
		assert_string_equal(r.item[0].field, bad[i].key);
		if (bad[i].key[0])
			assert_non_null(strstr(r.item[0].msg, bad[i].key));
	}
	assert_int_equal(policy_set(&p, NULL, "1", NULL), EINVAL);
	assert_int_equal(policy_set(&p, "sip.min_length", NULL, NULL), EINVAL);

	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		p.auto_fix = !bools[i].b;
		assert_int_equal(policy_set(&p, "auto_fix", bools[i].val, &r),
				 0);
		assert_int_equal(p.auto_fix, bools[i].b);
	}
	assert_int_equal(policy_set(&p, "sip.min_length", "12", &r), 0);
	assert_int_equal(p.sip.min_length, 12);
	assert_int_equal(policy_set(&p, "sip.min_length", "128", &r), 0);
	assert_int_equal(policy_set(&p, "sip.min_length", "8", &r), 0);
	assert_int_equal(policy_set(&p, "sip.dict_min_word", "0", &r), 0);
	assert_int_equal(p.sip.dict_min_word, 0);
	assert_int_equal(policy_set(&p, "sip.dict_min_word", "3", &r), 0);
	assert_int_equal(policy_set(&p, "vm.min_length", "4", &r), 0);
	assert_int_equal(p.pin.min_length, 4);
	assert_int_equal(policy_set(&p, "vm.no_trivial", "off", &r), 0);
	assert_false(p.pin.no_trivial);
	assert_int_equal(policy_set(&p, "sip.unique", "false", &r), 0);
	assert_false(p.sip.unique);
	report_reset(&r);
}

static void test_validate(void **state)
{
	struct policy p;
	struct report r;

	report_init(&r);
	policy_defaults(&p);
	assert_int_equal(policy_validate(&p, &r), 0);
	assert_int_equal(r.n, 0);

	p.sip.min_length = 20;
	p.sip.max_length = 16;
	assert_int_equal(policy_validate(&p, &r), EINVAL);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.item[0].rule, "sip.min_length");
	assert_string_equal(r.item[0].where, "policy");
	report_reset(&r);

	policy_defaults(&p);
	p.sip.min_upper = 40;
	p.sip.min_digits = 30;
	assert_int_equal(policy_validate(&p, &r), EINVAL);
	assert_true(has_rule(&r, "sip.min_upper"));
	report_reset(&r);
	p.sip.min_digits = 24;  /* 64 exactly: fine */
	assert_int_equal(policy_validate(&p, &r), 0);

	/* everything at once, including bounds set behind policy_set's back */
	policy_defaults(&p);
	p.pin.min_length = 10;
	p.pin.max_length = 8;
	p.sip.dict_min_word = 2;
	p.sip.min_length = 4;
	assert_int_equal(policy_validate(&p, &r), EINVAL);
	assert_true(has_rule(&r, "vm.min_length"));
	assert_true(has_rule(&r, "policy.range"));
	assert_int_equal(r.n, 3);
	report_reset(&r);
	p.pin.min_length = 3;
	p.pin.max_length = 8;
	p.sip.dict_min_word = 4;
	p.sip.min_length = 8;
	assert_int_equal(policy_validate(&p, &r), EINVAL);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.item[0].field, "vm.min_length");
	report_reset(&r);
}

/* ---- dictionary ------------------------------------------------------ */

static void test_dict(void **state)
{
	static const char text[] =
		"Summer\nsummer\nSUMMER\r\n"     /* one word */
		"cat's\n"                        /* possessive: cat */
		"o'clock\n"                      /* other apostrophes: skipped */
		"ab\nx\n\n"                      /* too short */
		"  padded  \n"                   /* trimmed */
		"# comment\n"
		"\xc3\x85ngstr\xc3\xb6m\n"        /* not ASCII: skipped */
		"w1nter\n"                       /* wlnter and winter */
		"p@ssw0rd\n"                     /* password */
		"ice-cream\n"                    /* skipped */
		"last";                          /* no final newline */
	struct policy_dict *d = NULL;
	struct policy p;
	char longw[100];

	assert_int_equal(policy_dict_alloc(&d), 0);
	assert_int_equal(policy_dict_size(d), 0);
	assert_int_equal(policy_dict_add(d, text, strlen(text)), 0);
	/* summer cat padded wlnter winter password last */
	assert_int_equal(policy_dict_size(d), 7);
	/* adding the same again changes nothing */
	assert_int_equal(policy_dict_add(d, text, strlen(text)), 0);
	assert_int_equal(policy_dict_size(d), 7);
	assert_int_equal(policy_dict_add(d, "", 0), 0);
	assert_int_equal(policy_dict_size(d), 7);
	/* too long a word is skipped */
	memset(longw, 'q', sizeof(longw));
	assert_int_equal(policy_dict_add(d, longw, sizeof(longw)), 0);
	assert_int_equal(policy_dict_size(d), 7);

	policy_defaults(&p);
	p.sip.dict_min_word = 3;
	assert_int_equal(policy_check_sip(&p, d, "QZ86xcatx", NULL, NULL,
					  NULL), EINVAL);
	assert_int_equal(policy_check_sip(&p, d, "QZ86Password", NULL, NULL,
					  NULL), EINVAL);
	assert_int_equal(policy_check_sip(&p, d, "QZ86clockX", NULL, NULL,
					  NULL), 0);
	assert_int_equal(policy_check_sip(&p, d, "QZ86creamX", NULL, NULL,
					  NULL), 0);
	assert_int_equal(policy_check_sip(&p, d, "QZ86lastX", NULL, NULL,
					  NULL), EINVAL);
	assert_int_equal(policy_check_sip(&p, d, "QZ86paddedX", NULL, NULL,
					  NULL), EINVAL);
	policy_dict_free(d);
	policy_dict_free(NULL);
	assert_int_equal(policy_dict_size(NULL), 0);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET))
		goto out;
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	*len = (size_t)n;
 out:
	fclose(f);
	return buf;
}

static void test_system_dictionary(void **state)
{
	struct policy_dict *d = NULL;
	struct policy p;
	char out[80], *buf;
	size_t len = 0;

	buf = slurp("/usr/share/dict/words", &len);
	if (!buf)
		skip();
	assert_int_equal(policy_dict_alloc(&d), 0);
	assert_int_equal(policy_dict_add(d, buf, len), 0);
	free(buf);
	assert_true(policy_dict_size(d) > 50000);
	buf = slurp(POLICY_DATA_DIR "/common-passwords.txt", &len);
	assert_non_null(buf);
	{
		size_t before = policy_dict_size(d);

		assert_int_equal(policy_dict_add(d, buf, len), 0);
		assert_true(policy_dict_size(d) > before);
	}
	free(buf);

	policy_defaults(&p);
	assert_int_equal(policy_check_sip(&p, d, "Xq8Sunshine26", NULL, NULL,
					  NULL), EINVAL);
	assert_int_equal(policy_check_sip(&p, d, "QZ86qwertyXX", NULL, NULL,
					  NULL), EINVAL);
	assert_int_equal(policy_check_sip(&p, d, "QZ86Asterisk", NULL, NULL,
					  NULL), EINVAL);
	assert_int_equal(policy_check_sip(&p, d, "Xk9Qm2Lp", NULL, NULL,
					  NULL), 0);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(policy_generate_sip(&p, d, "201", "John Smith",
						     out, sizeof(out)), 0);
		assert_int_equal(policy_check_sip(&p, d, out, "201",
						  "John Smith", NULL), 0);
	}
	policy_dict_free(d);
}

/* ---- generators ------------------------------------------------------ */

static bool no_lookalikes(const char *s)
{
	return !strpbrk(s, "0O1lI");
}

static void gen_many(const struct policy *p, size_t want_len)
{
	static char seen[1000][130];
	struct report r;

	report_init(&r);
	for (int i = 0; i < 1000; i++) {
		char *out = seen[i];

		assert_int_equal(policy_generate_sip(p, dict, "201",
						     "Jane Summerfield", out,
						     sizeof(seen[i])), 0);
		assert_int_equal(strlen(out), want_len);
		assert_true(no_lookalikes(out));
		if (policy_check_sip(p, dict, out, "201", "Jane Summerfield",
				     &r))
			fail_msg("generated password refused: %s",
				 r.item[0].rule);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(seen[j], out);
	}
	report_reset(&r);
}

static void test_generate_sip(void **state)
{
	struct policy p;
	char out[20];

	policy_defaults(&p);
	gen_many(&p, 16);
	p.sip.min_length = 20;
	p.sip.min_upper = 5;
	p.sip.min_digits = 5;
	gen_many(&p, 20);
	/* the class minimums are met by construction, even when they fill
	 * the whole password */
	p.sip.min_upper = 10;
	p.sip.min_digits = 10;
	gen_many(&p, 20);
	/* max_length below 16 caps the length */
	policy_defaults(&p);
	p.sip.max_length = 10;
	gen_many(&p, 10);

	policy_defaults(&p);
	assert_int_equal(policy_generate_sip(&p, dict, NULL, NULL, out, 16),
			 ENOSPC);
	assert_int_equal(policy_generate_sip(&p, dict, NULL, NULL, out, 17),
			 0);
	assert_int_equal(strlen(out), 16);
	/* contradictory policy: more upper-case letters than characters */
	p.sip.min_upper = 17;
	assert_int_equal(policy_generate_sip(&p, dict, NULL, NULL, out,
					     sizeof(out)), EAGAIN);
	assert_string_equal(out, "");
}

static void test_generate_pin(void **state)
{
	struct policy p;
	struct report r;
	char out[40];

	report_init(&r);
	policy_defaults(&p);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 1000; i++) {
			assert_int_equal(policy_generate_pin(&p, "201",
							     "583920", out,
							     sizeof(out)), 0);
			assert_int_equal(strlen(out), p.pin.min_length);
			assert_int_equal(strspn(out, "0123456789"),
					 p.pin.min_length);
			assert_false(policy_pin_trivial(out));
			assert_null(strstr(out, "201"));
			if (policy_check_pin(&p, NULL, out, "201", "583920", false,
					     NULL, &r))
				fail_msg("generated PIN refused: %s",
					 r.item[0].rule);
		}
		p.pin.min_length = 10;
	}
	policy_defaults(&p);
	assert_int_equal(policy_generate_pin(&p, NULL, NULL, out, 6), ENOSPC);
	assert_int_equal(policy_generate_pin(&p, NULL, NULL, out, 7), 0);
	/* contradictory: shorter maximum than minimum */
	p.pin.max_length = 4;
	assert_int_equal(policy_generate_pin(&p, NULL, NULL, out,
					     sizeof(out)), EAGAIN);
	report_reset(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_sip_length),
		cmocka_unit_test(test_sip_classes),
		cmocka_unit_test(test_sip_dictionary),
		cmocka_unit_test(test_sip_extension_and_name),
		cmocka_unit_test(test_sip_all_rules_at_once),
		cmocka_unit_test(test_pin_trivial),
		cmocka_unit_test(test_pin_rules),
		cmocka_unit_test(test_pin_new_user_exception),
		cmocka_unit_test(test_keys_table),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_dict),
		cmocka_unit_test(test_system_dictionary),
		cmocka_unit_test(test_generate_sip),
		cmocka_unit_test(test_generate_pin),
		cmocka_unit_test(test_pin_field_named),
		cmocka_unit_test(test_web),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
