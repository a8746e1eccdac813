/*
 * routes_sip — live SIP state, read on the loop thread (loop_call): the
 * data plane owns it and never shares it.
 */
#include <jansson.h>

#include "api/routes.h"
#include "daemon/daemon.h"
#include "registrar/registrar.h"
#include "sip/sipd.h"

/* What to read on the loop: the stack's status, or the registrar's
 * bindings. */
struct sip_call {
	struct daemon *d;
	bool registrations;
	json_t *out;
};

static void on_loop(void *arg)
{
	struct sip_call *c = arg;

	if (c->registrations)
		c->out = c->d->registrar ?
			registrar_registrations(c->d->registrar) : NULL;
	else
		c->out = c->d->sipd ? sipd_status(c->d->sipd) : NULL;
}

static void ask_loop(struct daemon *d, bool registrations,
		     struct api_resp *resp)
{
	struct sip_call c = { .d = d, .registrations = registrations,
			      .out = NULL };

	if (loop_call(on_loop, &c) || !c.out) {
		api_error(resp, 503, "The SIP service is not running.", NULL);
		return;
	}
	api_ok(resp, c.out);
}

static void registrations_get(struct daemon *d, const struct api_req *req,
			      struct api_resp *resp)
{
	ask_loop(d, true, resp);
}

static void sip_status_get(struct daemon *d, const struct api_req *req,
			   struct api_resp *resp)
{
	ask_loop(d, false, resp);
}

const struct api_route api_routes_sip[] = {
	{ "GET", "/registrations", registrations_get },
	{ "GET", "/sip/status",    sip_status_get },
};
const size_t api_routes_sip_n = API_ROUTES_N(api_routes_sip);
