/*
 * routes_sip — live SIP state, read on the loop thread (loop_call): the
 * data plane owns it and never shares it.
 */
#include <jansson.h>

#include "api/routes.h"
#include "daemon/daemon.h"
#include "sip/sipd.h"

struct sip_call {
	struct sipd *sd;
	json_t *(*fn)(struct sipd *sd);
	json_t *out;
};

static void on_loop(void *arg)
{
	struct sip_call *c = arg;

	c->out = c->sd ? c->fn(c->sd) : NULL;
}

static void ask_loop(struct daemon *d, json_t *(*fn)(struct sipd *),
		     struct api_resp *resp)
{
	struct sip_call c = { .sd = d->sipd, .fn = fn, .out = NULL };

	if (loop_call(on_loop, &c) || !c.out) {
		api_error(resp, 503, "The SIP service is not running.", NULL);
		return;
	}
	api_ok(resp, c.out);
}

static void registrations_get(struct daemon *d, const struct api_req *req,
			      struct api_resp *resp)
{
	ask_loop(d, sipd_registrations, resp);
}

static void sip_status_get(struct daemon *d, const struct api_req *req,
			   struct api_resp *resp)
{
	ask_loop(d, sipd_status, resp);
}

const struct api_route api_routes_sip[] = {
	{ "GET", "/registrations", registrations_get },
	{ "GET", "/sip/status",    sip_status_get },
};
const size_t api_routes_sip_n = API_ROUTES_N(api_routes_sip);
