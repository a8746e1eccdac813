/*
 * routes_greet_admin — the administrator's view of an extension's
 * greetings: its recorded name and its unavailable, busy and temporary
 * greetings (the files the phone menu records and the portal uploads;
 * docs/api.md, docs/admin/voicemail.md).
 *
 *   GET    /ext/:number/greetings          which exist: {number,
 *                                          greetings: [{which, exists,
 *                                          bytes, time_ms}]}
 *   GET    /ext/:number/greetings/:which   the recording, audio/wav
 *   PUT    /ext/:number/greetings/:which   replace it with the body
 *                                          (audio/wav, as the portal's)
 *   DELETE /ext/:number/greetings/:which   remove it
 *
 * The number must be an extension (running or staged) with a mailbox the
 * store can hold: 404 otherwise. The checks and the storing are the
 * portal's own (greet.h): the same format, sizes and durations, a
 * temporary file renamed into place, no symbolic link followed (the
 * store's). Admin routes: a portal session gets 403 (web.c, which the
 * request entry in api.c asks first).
 */
#include <stdbool.h>
#include <stddef.h>

#include "api/greet.h"
#include "api/routes.h"
#include "common/report.h"
#include "daemon/daemon.h"
#include "store/vmstore.h"

/* The extension exists (running or staged), or a 404 (routes_vm.c). */
bool api_vm_mailbox(struct daemon *d, const char *number,
		    struct api_resp *resp);

/* An extension whose number the mailbox store can hold; else 404. */
static bool mailbox(struct daemon *d, const char *number,
		    struct api_resp *resp)
{
	char path[600];
	struct report r;

	if (!api_vm_mailbox(d, number, resp))
		return false;
	if (!vmstore_greeting_path(d->vmstore, number, VM_G_NAME, path,
				   sizeof(path)))
		return true;
	report_init(&r);
	report_add(&r, "", "number", "vm.no_mailbox",
		   "This extension has no mailbox.");
	api_error(resp, 404, "This extension has no mailbox.", &r);
	report_reset(&r);
	return false;
}

static void list(struct daemon *d, const struct api_req *req,
		 struct api_resp *resp)
{
	if (mailbox(d, req->param[0], resp))
		api_greet_list(d, req->param[0], resp);
}

static void get(struct daemon *d, const struct api_req *req,
		struct api_resp *resp)
{
	if (mailbox(d, req->param[0], resp))
		api_greet_get(d, req->param[0], req->param[1], resp);
}

static void put(struct daemon *d, const struct api_req *req,
		struct api_resp *resp)
{
	if (mailbox(d, req->param[0], resp))
		api_greet_put(d, req->param[0], req->param[1], req,
			      "the administrator", resp);
}

static void del(struct daemon *d, const struct api_req *req,
		struct api_resp *resp)
{
	if (mailbox(d, req->param[0], resp))
		api_greet_delete(d, req->param[0], req->param[1],
				 "the administrator", resp);
}

const struct api_route api_routes_greet_admin[] = {
	{ "GET",    "/ext/:number/greetings",        list },
	{ "GET",    "/ext/:number/greetings/:which", get },
	{ "PUT",    "/ext/:number/greetings/:which", put },
	{ "DELETE", "/ext/:number/greetings/:which", del },
};
const size_t api_routes_greet_admin_n = API_ROUTES_N(api_routes_greet_admin);
