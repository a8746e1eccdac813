/*
 * routes_hotdesk — hotdesk log-ins (issue 13), read on the loop thread
 * (loop_call: the hotdesk application is data plane and never shared).
 * Admin only, as every route outside /me.
 *
 *   GET /hotdesk     who is logged in where (hotdesk/hotdesk.h
 *                    hotdesk_list): [{number, name, phone, login_ms,
 *                    used_ms, lapses_ms}]
 */
#include <jansson.h>

#include "registrar/registrar.h"
#include "api/routes.h"
#include "daemon/daemon.h"
#include "hotdesk/hotdesk.h"

struct hd_ask {
	struct daemon *d;
	json_t *out;
};

static void hd_on_loop(void *arg)
{
	struct hd_ask *a = arg;

	a->out = a->d->hotdesk ? hotdesk_list(a->d->hotdesk) : NULL;
}

static void hotdesk_get(struct daemon *d, const struct api_req *req,
			struct api_resp *resp)
{
	struct hd_ask a = { .d = d, .out = NULL };

	(void)req;
	if (d->hotdesk && !loop_call(hd_on_loop, &a) && a.out) {
		api_ok(resp, a.out);
		return;
	}
	api_error(resp, 503, "The hotdesk service is not running.", NULL);
}

const struct api_route api_routes_hotdesk[] = {
	{ "GET", "/hotdesk", hotdesk_get },
};
const size_t api_routes_hotdesk_n = API_ROUTES_N(api_routes_hotdesk);
