/*
 * test_api_session — the web GUI's session table (src/api/session.c):
 * ids and CSRF tokens, kinds kept apart, idle and absolute timeouts, the
 * bound and who gets evicted.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "api/session.h"

static uint64_t now;

static uint64_t fake_clock(void)
{
	return now;
}

static int setup(void **state)
{
	(void)state;
	now = 1000;
	api_session_test_clock(fake_clock);
	api_session_reset();
	return 0;
}

static void test_open_find_close(void **state)
{
	char id[API_SESSION_TOKEN_SZ], id2[API_SESSION_TOKEN_SZ];
	struct api_session_info a, b;

	(void)state;
	assert_int_equal(api_session_open(API_SESSION_ADMIN, NULL, id, &a), 0);
	assert_int_equal(strlen(id), 43);
	assert_int_equal(strlen(a.csrf), 43);
	assert_string_not_equal(id, a.csrf);
	assert_int_equal(api_session_find(API_SESSION_ADMIN, id, &b), 0);
	assert_string_equal(a.csrf, b.csrf);
	/* the kinds are apart: an admin id is no user session */
	assert_int_equal(api_session_find(API_SESSION_USER, id, NULL), ENOENT);
	assert_int_equal(api_session_open(API_SESSION_USER, "201", id2, &a), 0);
	assert_int_equal(api_session_find(API_SESSION_USER, id2, &b), 0);
	assert_string_equal(b.number, "201");
	assert_int_equal(api_session_find(API_SESSION_ADMIN, id2, NULL),
			 ENOENT);
	assert_int_equal(api_session_close(API_SESSION_ADMIN, id), 0);
	assert_int_equal(api_session_find(API_SESSION_ADMIN, id, NULL), ENOENT);
	assert_int_equal(api_session_find(API_SESSION_ADMIN, "", NULL), ENOENT);
	assert_int_equal(api_session_find(API_SESSION_ADMIN, NULL, NULL),
			 ENOENT);
}

static void test_timeouts(void **state)
{
	char id[API_SESSION_TOKEN_SZ];

	(void)state;
	assert_int_equal(api_session_open(API_SESSION_ADMIN, NULL, id, NULL), 0);
	/* used within the idle time: alive; each use renews it */
	now += API_SESSION_IDLE_S - 1;
	assert_int_equal(api_session_find(API_SESSION_ADMIN, id, NULL), 0);
	now += API_SESSION_IDLE_S - 1;
	assert_int_equal(api_session_find(API_SESSION_ADMIN, id, NULL), 0);
	/* idle too long: gone */
	now += API_SESSION_IDLE_S;
	assert_int_equal(api_session_find(API_SESSION_ADMIN, id, NULL), ENOENT);

	/* absolute: however busy, it ends API_SESSION_ABS_S after login */
	assert_int_equal(api_session_open(API_SESSION_ADMIN, NULL, id, NULL), 0);
	for (uint64_t t = 0; t + 600 < API_SESSION_ABS_S; t += 600) {
		now += 600;
		assert_int_equal(api_session_find(API_SESSION_ADMIN, id, NULL),
				 0);
	}
	now += 600;
	assert_int_equal(api_session_find(API_SESSION_ADMIN, id, NULL), ENOENT);
}

static void test_bound(void **state)
{
	char admin[API_SESSION_TOKEN_SZ], id[API_SESSION_TOKEN_SZ];
	char first[API_SESSION_TOKEN_SZ];
	size_t i;

	(void)state;
	assert_int_equal(api_session_open(API_SESSION_ADMIN, NULL, admin,
					  NULL), 0);
	/* users fill their share, then evict their own oldest, never the
	 * administrator */
	for (i = 0; i < API_SESSION_USER_MAX + 20; i++) {
		now++;
		assert_int_equal(api_session_open(API_SESSION_USER, "201",
						  i ? id : first, NULL), 0);
	}
	assert_int_equal(api_session_count(API_SESSION_USER),
			 API_SESSION_USER_MAX);
	assert_int_equal(api_session_find(API_SESSION_USER, first, NULL),
			 ENOENT);
	assert_int_equal(api_session_find(API_SESSION_USER, id, NULL), 0);
	assert_int_equal(api_session_find(API_SESSION_ADMIN, admin, NULL), 0);
	assert_true(api_session_count(0) <= API_SESSION_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_open_find_close, setup),
		cmocka_unit_test_setup(test_timeouts, setup),
		cmocka_unit_test_setup(test_bound, setup),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
