/*
 * Unit tests of the guard's admin scope (guard/admin.c), with a fake
 * clock: the failure threshold and window, blocks and their doubling,
 * credit, IPv6 counted by /64, non-IP addresses never counted, lifting a
 * block, and the events written through the guard.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>

#include "guard/guard_int.h"

static uint64_t fake_now;

static uint64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

static struct sockaddr_storage mk(const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, &in->sin_addr), 1);
	}
	return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

static struct guard_admin *alloc(void)
{
	struct guard_admin *a = NULL;

	fake_now = 1000000;
	assert_int_equal(guard_admin_alloc(&a, fake_clock, NULL), 0);
	return a;
}

static void test_threshold_block_and_retry(void **state)
{
	struct guard_admin *a = alloc();
	struct sockaddr_storage bad = mk("192.0.2.7"), other = mk("192.0.2.8");
	struct guard_admin_fail f;
	unsigned retry;

	(void)state;
	for (unsigned i = 1; i < GUARD_ADMIN_FAIL_MAX; i++) {
		assert_int_equal(guard_admin_failed(a, SA(bad), &f), 0);
		assert_int_equal(f.failures, i);
		assert_int_equal(f.blocked_s, 0);
		assert_string_equal(f.source, "192.0.2.7");
		assert_false(guard_admin_blocked(a, SA(bad), &retry));
		fake_now += 1000;
	}
	assert_int_equal(guard_admin_failed(a, SA(bad), &f), 0);
	assert_int_equal(f.failures, GUARD_ADMIN_FAIL_MAX);
	assert_int_equal(f.blocked_s, 900);
	assert_int_equal(f.offences, 1);
	assert_true(guard_admin_blocked(a, SA(bad), &retry));
	assert_int_equal(retry, 900);
	/* another address is not affected */
	assert_false(guard_admin_blocked(a, SA(other), &retry));
	fake_now += 899 * 1000;
	assert_true(guard_admin_blocked(a, SA(bad), &retry));
	assert_int_equal(retry, 1);
	fake_now += 1000;
	assert_false(guard_admin_blocked(a, SA(bad), &retry));

	/* a second block within a day lasts twice as long */
	for (unsigned i = 0; i < GUARD_ADMIN_FAIL_MAX; i++)
		assert_int_equal(guard_admin_failed(a, SA(bad), &f), 0);
	assert_int_equal(f.blocked_s, 1800);
	assert_int_equal(f.offences, 2);
	guard_admin_free(a);
}

static void test_window_and_success(void **state)
{
	struct guard_admin *a = alloc();
	struct sockaddr_storage s = mk("198.51.100.1");
	struct guard_admin_fail f;

	(void)state;
	/* failures older than the 10-minute window do not add up */
	for (unsigned i = 0; i < 20; i++) {
		assert_int_equal(guard_admin_failed(a, SA(s), &f), 0);
		assert_int_equal(f.blocked_s, 0);
		fake_now += 151 * 1000;
	}
	assert_true(f.failures < GUARD_ADMIN_FAIL_MAX);
	/* a success ends the run and credits the address */
	assert_false(guard_admin_credited(a, SA(s)));
	fake_now += 700 * 1000;
	for (unsigned i = 0; i < GUARD_ADMIN_FAIL_MAX - 1; i++)
		guard_admin_failed(a, SA(s), &f);
	guard_admin_ok(a, SA(s));
	assert_true(guard_admin_credited(a, SA(s)));
	assert_int_equal(guard_admin_failed(a, SA(s), &f), 0);
	assert_int_equal(f.failures, 1);
	/* credit lasts 24 h */
	fake_now += 86399ull * 1000;
	assert_true(guard_admin_credited(a, SA(s)));
	fake_now += 2000;
	assert_false(guard_admin_credited(a, SA(s)));
	guard_admin_free(a);
}

static void test_ipv6_prefix_non_ip_and_unblock(void **state)
{
	struct guard_admin *a = alloc();
	struct sockaddr_storage v6a = mk("2001:db8:1:2::1"),
				v6b = mk("2001:db8:1:2::ffff"),
				v6c = mk("2001:db8:1:3::1");
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct guard_admin_fail f;
	json_t *st;

	(void)state;
	/* one /64 is one source */
	for (unsigned i = 0; i < GUARD_ADMIN_FAIL_MAX; i++)
		guard_admin_failed(a, i % 2 ? SA(v6a) : SA(v6b), &f);
	assert_int_equal(f.blocked_s, 900);
	assert_string_equal(f.source, "2001:db8:1:2::/64");
	assert_true(guard_admin_blocked(a, SA(v6b), NULL));
	assert_false(guard_admin_blocked(a, SA(v6c), NULL));
	/* control.sock: never counted, never blocked */
	assert_int_equal(guard_admin_failed(a, (const struct sockaddr *)&un,
					    &f), EAFNOSUPPORT);
	assert_false(guard_admin_blocked(a, (const struct sockaddr *)&un,
					 NULL));

	st = guard_admin_status(a);
	assert_non_null(st);
	assert_int_equal(json_array_size(json_object_get(st, "blocked")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
		json_object_get(st, "blocked"), 0), "source")),
		"2001:db8:1:2::/64");
	json_decref(st);

	assert_int_equal(guard_admin_unblock(a, "10.0.0.0/8"), EINVAL);
	assert_int_equal(guard_admin_unblock(a, "not an address"), EINVAL);
	assert_int_equal(guard_admin_unblock(a, "2001:db8:1:3::1"), ENOENT);
	assert_int_equal(guard_admin_unblock(a, "2001:db8:1:2::42"), 0);
	assert_false(guard_admin_blocked(a, SA(v6a), NULL));
	assert_int_equal(guard_admin_unblock(a, "2001:db8:1:2::/64"), ENOENT);
	guard_admin_free(a);
}

static uint64_t guard_clock(void *arg)
{
	(void)arg;
	return 1700000000000ull;
}

static void test_report_events(void **state)
{
	struct guard *g = NULL;
	struct guard_admin_fail f = { .source = "192.0.2.7", .failures = 5,
				      .threshold = 5, .blocked_s = 900,
				      .offences = 1 };
	uint64_t before;

	(void)state;
	assert_int_equal(guard_alloc_clock(&g, NULL, guard_clock, NULL, NULL),
			 0);
	before = g->st.events;
	guard_admin_report(g, &f, "https");
	assert_int_equal(g->st.events, before + 2);
	assert_string_equal(g->last_event, "admin_block");
	/* SIP is untouched: no ban, nothing counted against the address */
	assert_int_equal(g->st.bans, 0);
	assert_int_equal(g->st.auth_fail, 0);
	guard_admin_report(NULL, &f, "tcp");    /* NULL-safe */
	guard_close(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threshold_block_and_retry),
		cmocka_unit_test(test_window_and_success),
		cmocka_unit_test(test_ipv6_prefix_non_ip_and_unblock),
		cmocka_unit_test(test_report_events),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
