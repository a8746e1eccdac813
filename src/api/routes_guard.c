/*
 * routes_guard — admin API of the guard (bans, security events).
 * Placeholder: the guard engineer owns and fills this file (issue 4).
 * Shows the pattern: data-plane state is read on the loop thread through
 * loop_call().
 */
#include <errno.h>
#include <jansson.h>

#include "api/routes.h"
#include "daemon/daemon.h"
#include "guard/guard.h"

struct bans_call {
	struct guard *g;
	json_t *out;
};

static void bans_on_loop(void *arg)
{
	struct bans_call *c = arg;

	c->out = guard_bans(c->g);
}

static void bans_list(struct daemon *d, const struct api_req *req,
		      struct api_resp *resp)
{
	struct bans_call c = { .g = d->guard, .out = NULL };

	if (loop_call(bans_on_loop, &c) || !c.out) {
		api_error(resp, 503, "The SIP loop is not running.", NULL);
		return;
	}
	api_ok(resp, c.out);
}

const struct api_route api_routes_guard[] = {
	{ "GET", "/bans", bans_list },
};
const size_t api_routes_guard_n = API_ROUTES_N(api_routes_guard);
