/*
 * routes_vmmail — GET /voicemail/mail/status: the voicemail e-mail
 * queue (vmmail_status: configured, queued, sent, failed, given_up,
 * refused, last_error, last_error_at). No secret in it.
 */
#include <jansson.h>

#include "api/routes.h"
#include "daemon/daemon.h"
#include "voicemail/vmmail.h"

static void mail_status(struct daemon *d, const struct api_req *req,
			struct api_resp *resp)
{
	json_t *st = d->vmmail ? vmmail_status(d->vmmail) : NULL;

	if (!st) {
		api_error(resp, 503, "The voicemail e-mail queue is not "
			  "running.", NULL);
		return;
	}
	api_ok(resp, st);
}

const struct api_route api_routes_vmmail[] = {
	{ "GET", "/voicemail/mail/status", mail_status },
};
const size_t api_routes_vmmail_n = API_ROUTES_N(api_routes_vmmail);
