/*
 * test_instance — instance names and the nftables table they give: the
 * default instance keeps "inet bulwark", a named one gets
 * "inet bulwark_NAME" in every script the firewall and the guard render,
 * and no script of a named instance names the default table.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/instance.h"
#include "firewall/fw.h"
#include "guard/guard_int.h"

static void test_names(void **st)
{
	(void)st;
	assert_true(instance_name_valid("a"));
	assert_true(instance_name_valid("staging_2"));
	assert_true(instance_name_valid("abcdefghijklmnop"));       /* 16 */
	assert_false(instance_name_valid("abcdefghijklmnopq"));     /* 17 */
	assert_false(instance_name_valid(""));
	assert_false(instance_name_valid(NULL));
	assert_false(instance_name_valid("Prod"));
	assert_false(instance_name_valid("a-b"));
	assert_false(instance_name_valid("a b"));
	assert_false(instance_name_valid("a;flush ruleset"));
	assert_false(instance_name_valid("\xc3\xa9t\xc3\xa9"));
	assert_int_equal(instance_set("Bad"), EINVAL);
	assert_string_equal(instance_nft_table(), "inet bulwark");
	assert_int_equal(instance_set("t1"), 0);
	assert_string_equal(instance_name(), "t1");
	assert_string_equal(instance_nft_table(), "inet bulwark_t1");
	assert_int_equal(instance_set("bad-name"), EINVAL);   /* unchanged */
	assert_string_equal(instance_nft_table(), "inet bulwark_t1");
	assert_int_equal(instance_set(NULL), 0);
	assert_string_equal(instance_name(), "");
	assert_string_equal(instance_nft_table(), "inet bulwark");
}

/* Every "inet bulwark" in s is "inet bulwark_NAME". */
static void only_table(const char *s, const char *table)
{
	size_t n = 0;

	for (const char *p = strstr(s, "inet bulwark"); p;
	     p = strstr(p + 1, "inet bulwark")) {
		assert_memory_equal(p, table, strlen(table));
		assert_true(p[strlen(table)] == ' ' ||
			    p[strlen(table)] == '\n');
		n++;
	}
	assert_true(n > 0);
}

static void test_scripts(void **st)
{
	char buf[4096], *fw = NULL;
	unsigned ports[] = { 5060, 5061 };
	struct fw_conf c;
	struct fw_ports fp;
	struct gaddr a;

	(void)st;
	assert_int_equal(instance_set("two"), 0);
	assert_int_equal(gnft_setup_script(buf, sizeof(buf), GUARD_SCOPE_SIP,
					   ports, 2, 10000, 20000), 0);
	assert_non_null(strstr(buf, "add table inet bulwark_two\n"));
	only_table(buf, "inet bulwark_two");
	gaddr_parse(&a, "192.0.2.1", 64);
	assert_int_equal(gnft_ban_script(buf, sizeof(buf), &a, 60), 0);
	only_table(buf, "inet bulwark_two");
	assert_int_equal(gnft_unban_script(buf, sizeof(buf), &a), 0);
	only_table(buf, "inet bulwark_two");
	assert_int_equal(gnft_withdraw_script(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "flush chain inet bulwark_two guard_in\n"
			    "flush set inet bulwark_two ban4\n"
			    "flush set inet bulwark_two ban6\n");
	memset(&c, 0, sizeof(c));
	memset(&fp, 0, sizeof(fp));
	c.type = FW_TYPE_NONE;
	assert_int_equal(firewall_render(&c, NULL, 0, &fp, &fw), 0);
	assert_non_null(strstr(fw, "add table inet bulwark_two\n"));
	only_table(fw, "inet bulwark_two");
	free(fw);

	assert_int_equal(instance_set(NULL), 0);
	assert_int_equal(gnft_withdraw_script(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "flush chain inet bulwark guard_in\n"
			    "flush set inet bulwark ban4\n"
			    "flush set inet bulwark ban6\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_scripts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
