/* Placeholder until the network services manager lands (issue 5). */
#include <errno.h>
#include "daemon/services.h"

static json_t *services_defaults(void)
{
	return json_object();
}

const struct store_section services_section = {
	.name = "services", .defaults = services_defaults,
};

int services_alloc(struct services **sp, struct daemon *d)
{
	(void)d;
	*sp = NULL;
	return 0;
}

void services_committed(struct services *s, const json_t *changed) {}
json_t *services_list(struct services *s) { return json_array(); }

int services_action(struct services *s, const char *name, const char *action,
		    struct report *r)
{
	return ENOSYS;
}

void services_close(struct services *s) {}
