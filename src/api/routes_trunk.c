/*
 * routes_trunk — the trunks' live state (issue 15): GET /trunks reads
 * the registration client's status on the loop thread (loop_call), which
 * owns it. The configuration itself is the "trunks" settings section
 * (GET/PUT /settings/trunks).
 */
#include <jansson.h>

#include "api/routes.h"
#include "daemon/daemon.h"
#include "trunk/treg.h"

struct trunk_call {
	struct daemon *d;
	json_t *out;
};

static void on_loop(void *arg)
{
	struct trunk_call *c = arg;

	c->out = c->d->treg ? treg_status(c->d->treg) : NULL;
}

static void trunks_get(struct daemon *d, const struct api_req *req,
		       struct api_resp *resp)
{
	struct trunk_call c = { .d = d, .out = NULL };

	(void)req;
	if (loop_call(on_loop, &c) || !c.out) {
		api_error(resp, 503, "The SIP service is not running.", NULL);
		return;
	}
	api_ok(resp, json_pack("{s:o}", "trunks", c.out));
}

const struct api_route api_routes_trunk[] = {
	{ "GET", "/trunks", trunks_get },
};
const size_t api_routes_trunk_n = API_ROUTES_N(api_routes_trunk);
