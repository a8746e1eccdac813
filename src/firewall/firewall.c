/* Placeholder until the firewall lands (issue 5). */
#include <stddef.h>
#include "firewall/firewall.h"

static json_t *firewall_defaults(void)
{
	return json_object();
}

const struct store_section firewall_section = {
	.name = "firewall", .defaults = firewall_defaults,
};

int firewall_alloc(struct firewall **fp, struct store *st, const char *data_dir)
{
	(void)st;
	(void)data_dir;
	*fp = NULL;
	return 0;
}

void firewall_close(struct firewall *f) {}
