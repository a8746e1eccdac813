/*
 * routes_hotdesk — hotdesk log-ins (issue 13), read on the loop thread
 * (loop_call: the hotdesk application is data plane and never shared).
 * Admin only, as every route outside /me.
 *
 *   GET /hotdesk                 who is logged in where (hotdesk/
 *                                hotdesk.h hotdesk_list): [{number, name,
 *                                phone, login_ms, used_ms, lapses_ms}]
 *   DELETE /hotdesk/:number      log it out: {number, phone}; 404 when
 *                                it is not logged in
 *   POST /hotdesk/:number/unlock end its PIN lock (failures reset), on
 *                                the store directly (store/hdstore.h is
 *                                thread-safe): {number, unlocked}
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "registrar/registrar.h"
#include "api/routes.h"
#include "daemon/daemon.h"
#include "common/report.h"
#include "hotdesk/hotdesk.h"
#include "store/hdstore.h"

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

/* 1-23 digits; else a 400 naming the number and the rule. */
static bool number_ok(const char *n, struct api_resp *resp)
{
	size_t len = n ? strlen(n) : 0;
	struct report r;

	if (len && len < HD_NUM_MAX && strspn(n, "0123456789") == len)
		return true;
	report_init(&r);
	report_add(&r, "", "number", "hotdesk.number",
		   "A hotdesk number is 1 to 23 digits.");
	api_error(resp, 400, "A hotdesk number is 1 to 23 digits.", &r);
	report_reset(&r);
	return false;
}

struct hd_out {
	struct daemon *d;
	const char *number;
	char phone[HD_NUM_MAX];
	int err;
};

static void out_on_loop(void *arg)
{
	struct hd_out *o = arg;

	o->err = o->d->hotdesk ? hotdesk_logout(o->d->hotdesk, o->number,
						o->phone) : ESRCH;
}

static void hotdesk_delete(struct daemon *d, const struct api_req *req,
			   struct api_resp *resp)
{
	struct hd_out o = { .d = d, .number = req->param[0], .err = ESRCH };
	char msg[96];

	if (!number_ok(req->param[0], resp))
		return;
	if (!d->hotdesk || loop_call(out_on_loop, &o) || o.err == ESRCH) {
		api_error(resp, 503, "The hotdesk service is not running.",
			  NULL);
		return;
	}
	if (o.err) {
		snprintf(msg, sizeof(msg), "Hotdesk %s is not logged in.",
			 req->param[0]);
		api_error(resp, 404, msg, NULL);
		return;
	}
	api_ok(resp, json_pack("{s:s,s:s}", "number", req->param[0],
			       "phone", o.phone));
}

static void hotdesk_unlock(struct daemon *d, const struct api_req *req,
			   struct api_resp *resp)
{
	if (!number_ok(req->param[0], resp))
		return;
	if (!d->hdstore || hdstore_pin_ok(d->hdstore, req->param[0])) {
		api_error(resp, 503, "The hotdesk store is not open.", NULL);
		return;
	}
	api_ok(resp, json_pack("{s:s,s:b}", "number", req->param[0],
			       "unlocked", 1));
}

const struct api_route api_routes_hotdesk[] = {
	{ "GET",    "/hotdesk",                hotdesk_get },
	{ "DELETE", "/hotdesk/:number",        hotdesk_delete },
	{ "POST",   "/hotdesk/:number/unlock", hotdesk_unlock },
};
const size_t api_routes_hotdesk_n = API_ROUTES_N(api_routes_hotdesk);
