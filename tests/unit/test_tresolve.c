/* Unit tests (issue 15, tlsout): the hosts-file reader of trunk host
 * names (trunk/tresolve.c) and the cache of resolved addresses that the
 * inbound address match uses (trunk/tdns.c, trunk_dns_note/has). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <re_types.h>
#include <re_fmt.h>
#include <re_sa.h>

#include "trunk/tresolve.h"

static const char HOSTS[] =
	"# a comment line\n"
	"127.0.0.1\tlocalhost vm\n"
	"\n"
	"   ::1 localhost ip6-localhost   # trailing comment\n"
	"192.0.2.7 carrier.example Carrier-Alias\n"
	"192.0.2.8 other.example # carrier.example in a comment\n"
	"garbage carrier.example\n"
	"192.0.2.7 carrier.example\n"      /* a duplicate */
	"198.51.100.9 carrier.example";    /* no final newline */

static void hosts_find_names(void **state)
{
	struct sa a[4];
	size_t n = 9;
	char buf[64];

	(void)state;
	assert_int_equal(trunk_hosts_find(HOSTS, strlen(HOSTS), "localhost",
					  5061, a, 4, &n), 0);
	assert_int_equal(n, 2);
	re_snprintf(buf, sizeof(buf), "%J", &a[0]);
	assert_string_equal(buf, "127.0.0.1:5061");
	re_snprintf(buf, sizeof(buf), "%J", &a[1]);
	assert_string_equal(buf, "[::1]:5061");

	/* case-insensitive, an alias, in file order, duplicates and
	 * garbage addresses dropped, the last line without a newline */
	assert_int_equal(trunk_hosts_find(HOSTS, strlen(HOSTS),
					  "CARRIER.example", 5060, a, 4, &n),
			 0);
	assert_int_equal(n, 2);
	re_snprintf(buf, sizeof(buf), "%j", &a[0]);
	assert_string_equal(buf, "192.0.2.7");
	re_snprintf(buf, sizeof(buf), "%j", &a[1]);
	assert_string_equal(buf, "198.51.100.9");
	assert_int_equal(trunk_hosts_find(HOSTS, strlen(HOSTS),
					  "carrier-alias", 5060, a, 4, &n), 0);
	assert_int_equal(n, 1);

	/* max bounds the answer */
	assert_int_equal(trunk_hosts_find(HOSTS, strlen(HOSTS),
					  "carrier.example", 5060, a, 1, &n),
			 0);
	assert_int_equal(n, 1);
}

static void hosts_find_misses(void **state)
{
	struct sa a[2];
	size_t n = 9;

	(void)state;
	/* only in a comment; a prefix of a name; the address column */
	assert_int_equal(trunk_hosts_find(HOSTS, strlen(HOSTS), "comment",
					  1, a, 2, &n), ENOENT);
	assert_int_equal(n, 0);
	assert_int_equal(trunk_hosts_find(HOSTS, strlen(HOSTS), "carrier",
					  1, a, 2, &n), ENOENT);
	assert_int_equal(trunk_hosts_find(HOSTS, strlen(HOSTS), "192.0.2.8",
					  1, a, 2, &n), ENOENT);
	/* a cut text never reads beyond len */
	assert_int_equal(trunk_hosts_find(HOSTS, 38, "vm", 1, a, 2, &n),
			 ENOENT);
	assert_int_equal(trunk_hosts_find(HOSTS, 39, "vm", 1, a, 2, &n), 0);
	assert_int_equal(trunk_hosts_find(HOSTS, strlen(HOSTS), "", 1, a, 2,
					  &n), EINVAL);
	assert_int_equal(trunk_hosts_find(NULL, 0, "vm", 1, a, 2, &n),
			 EINVAL);
}

static void resolve_literal_and_cache(void **state)
{
	struct sa a[2], src;
	size_t n = 0;

	(void)state;
	assert_int_equal(trunk_resolve("192.0.2.1", 5070, a, 2, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sa_port(&a[0]), 5070);

	/* an address noted for a name matches whatever the source port */
	sa_set_str(&a[0], "203.0.113.5", 5060);
	trunk_dns_note("itsp.example", a, 1);
	sa_set_str(&src, "203.0.113.5", 40000);
	assert_true(trunk_dns_has("itsp.example", &src));
	assert_true(trunk_dns_has("ITSP.example", &src));
	sa_set_str(&src, "203.0.113.6", 5060);
	assert_false(trunk_dns_has("itsp.example", &src));
	assert_false(trunk_dns_has("other.example", &src));
	/* a noted name answers from the cache, with the port asked */
	assert_int_equal(trunk_dns_lookup("itsp.example", 5080, a, 2, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sa_port(&a[0]), 5080);
	trunk_dns_close();
	assert_false(trunk_dns_has("itsp.example", &a[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hosts_find_names),
		cmocka_unit_test(hosts_find_misses),
		cmocka_unit_test(resolve_literal_and_cache),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
