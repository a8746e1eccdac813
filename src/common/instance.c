/*
 * instance — the instance name and the nftables table it gives.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/instance.h"

#define TABLE_BASE "inet bulwark"

static char name_buf[INSTANCE_NAME_MAX + 1];
static char table_buf[sizeof(TABLE_BASE) + 1 + INSTANCE_NAME_MAX] =
	TABLE_BASE;

bool instance_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n < 1 || n > INSTANCE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return true;
}

int instance_set(const char *name)
{
	if (!name || !*name) {
		name_buf[0] = '\0';
		snprintf(table_buf, sizeof(table_buf), "%s", TABLE_BASE);
		return 0;
	}
	if (!instance_name_valid(name))
		return EINVAL;
	snprintf(name_buf, sizeof(name_buf), "%s", name);
	snprintf(table_buf, sizeof(table_buf), "%s_%s", TABLE_BASE, name);
	return 0;
}

const char *instance_name(void)
{
	return name_buf;
}

const char *instance_nft_table(void)
{
	return table_buf;
}
