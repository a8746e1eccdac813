/* Placeholder until the guard lands (issue 4): lets everything pass. */
#include <jansson.h>
#include "guard/guard.h"

static json_t *guard_defaults(void)
{
	return json_object();
}

const struct store_section guard_section = {
	.name = "guard", .defaults = guard_defaults,
};

int guard_alloc(struct guard **gp, const struct guard_conf *conf)
{
	(void)conf;
	*gp = NULL;
	return 0;
}
void guard_apply_snapshot(struct guard *g, const struct snapshot *snap) {}
enum guard_verdict guard_packet(struct guard *g, const struct sa *src)
{
	return GUARD_PASS;
}
enum guard_verdict guard_request(struct guard *g, const struct sa *src,
				 const char *ua, size_t ua_len)
{
	return GUARD_PASS;
}
enum guard_verdict guard_auth_result(struct guard *g, const struct sa *src,
				     const char *ext, size_t ext_len,
				     enum guard_auth res, const char *ua,
				     size_t ua_len)
{
	return GUARD_PASS;
}
json_t *guard_bans(struct guard *g) { return json_array(); }
json_t *guard_status(struct guard *g) { return json_pack("{s:s}", "state", "not built"); }
void guard_close(struct guard *g) {}
