/*
 * routes_greet — the user portal's greetings: the owner's recorded name
 * and its unavailable, busy and temporary greetings (store/vmstore.h,
 * files DATA/voicemail/NUMBER/{name,unavail,busy,temp}.wav), the same
 * files the phone menu records and callers hear.
 *
 *   GET    /me/greetings          which exist: [{which, exists, bytes,
 *                                 time_ms}] in the order name, unavail,
 *                                 busy, temp
 *   GET    /me/greetings/:which   the recording, audio/wav
 *   PUT    /me/greetings/:which   replace it with the body (audio/wav):
 *                                 16-bit PCM, 8000 Hz, mono, 0.1..120 s,
 *                                 at most 2 MiB (media/wavcheck.h)
 *   DELETE /me/greetings/:which   remove it
 *
 * :which is one of name, unavail, busy, temp, ivr. The mailbox is always the
 * session's own extension (a portal session, web.c; the CSRF token and
 * the same-origin rule apply to PUT and DELETE before this runs): no
 * request names a number. An upload is stored as a canonical 44-octet
 * header and its samples (whatever other chunks it had are dropped),
 * written to a temporary file and renamed into place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/routes.h"
#include "api/web.h"
#include "common/log.h"
#include "common/report.h"
#include "daemon/daemon.h"
#include "media/wavcheck.h"
#include "store/vmstore.h"

#define MOD "api"

/* A greeting served: what an upload may be, and a phone recording (at
 * most a minute) with room to spare. */
#define GREET_SERVE_MAX (8u << 20)

static bool ready(struct daemon *d, struct api_resp *resp)
{
	if (d->vmstore)
		return true;
	api_error(resp, 503, "The voicemail store is not open.", NULL);
	return false;
}

/* The session's number and the greeting :which names, or an answer. */
static bool target(struct daemon *d, const struct api_req *req,
		   struct api_resp *resp, char *number, size_t sz,
		   enum vm_greeting *g)
{
	struct report r;

	if (!api_portal_whose(req, resp, number, sz) || !ready(d, resp))
		return false;
	if (!vmstore_greeting_parse(req->param[0], g))
		return true;
	report_init(&r);
	report_add(&r, "", "which", "greeting.which",
		   "must be one of name, unavail, busy, temp, ivr");
	api_error(resp, 404, "No such greeting: which must be one of name, "
		  "unavail, busy, temp, ivr.", &r);
	report_reset(&r);
	return false;
}

static void greet_list(struct daemon *d, const struct api_req *req,
		       struct api_resp *resp)
{
	char number[VM_NUM_MAX];
	json_t *out;
	int g;

	if (!api_portal_whose(req, resp, number, sizeof(number)) ||
	    !ready(d, resp))
		return;
	out = json_array();
	for (g = 0; g < VM_G__COUNT; g++) {
		uint64_t bytes = 0;
		int64_t mtime = 0;
		bool there = !vmstore_greeting_stat(d->vmstore, number, g,
						    &bytes, &mtime);

		json_array_append_new(out, json_pack("{s:s,s:b,s:I,s:I}",
			"which", vmstore_greeting_name(g), "exists", there,
			"bytes", (json_int_t)bytes, "time_ms",
			(json_int_t)mtime));
	}
	api_ok(resp, json_pack("{s:s,s:o}", "number", number,
			       "greetings", out));
}

static void greet_get(struct daemon *d, const struct api_req *req,
		      struct api_resp *resp)
{
	char number[VM_NUM_MAX], *buf = NULL;
	enum vm_greeting g;
	size_t len = 0;
	int err;

	if (!target(d, req, resp, number, sizeof(number), &g))
		return;
	err = vmstore_greeting_read(d->vmstore, number, g, GREET_SERVE_MAX,
				    &buf, &len);
	if (err == ENOENT) {
		api_error(resp, 404, "That greeting has not been recorded.",
			  NULL);
		return;
	}
	if (err) {
		api_error(resp, 500, "The greeting could not be read.", NULL);
		return;
	}
	resp->status = 200;
	resp->raw = buf;
	resp->raw_len = len;
	resp->content_type = "audio/wav";
}

static void greet_put(struct daemon *d, const struct api_req *req,
		      struct api_resp *resp)
{
	char number[VM_NUM_MAX], msg[400];
	uint8_t hdr[WAV_HDR_OUT];
	struct wavcheck c;
	struct report r;
	enum vm_greeting g;
	int err;

	if (!target(d, req, resp, number, sizeof(number), &g))
		return;
	if (req->body || !req->raw || !req->raw_len) {
		report_init(&r);
		report_add(&r, "", "greeting.format", "greeting.format",
			   "must be sent as the request body with "
			   "Content-Type: audio/wav");
		api_error(resp, 415, "Refused: greeting.format: send the WAV "
			  "file as the body with Content-Type: audio/wav "
			  "(rule greeting.format)", &r);
		report_reset(&r);
		return;
	}
	if (wavcheck_greeting((const uint8_t *)req->raw, req->raw_len, &c)) {
		report_init(&r);
		report_add(&r, "", c.field, c.field, "%s", c.msg);
		snprintf(msg, sizeof(msg), "Refused: %s: %s (rule %s)",
			 c.field, c.msg, c.field);
		api_error(resp, 422, msg, &r);
		report_reset(&r);
		return;
	}
	wav_header(hdr, c.wi.data_len);
	err = vmstore_greeting_write(d->vmstore, number, g, hdr, sizeof(hdr),
				     req->raw + c.wi.data_off, c.wi.data_len);
	if (err) {
		log_warn(MOD, "mailbox %s: greeting %s not stored: %s", number,
			 vmstore_greeting_name(g), strerror(err));
		snprintf(msg, sizeof(msg), "The greeting could not be stored: "
			 "%s.", strerror(err));
		api_error(resp, err == ENOSPC ? 507 : 500, msg, NULL);
		return;
	}
	log_info(MOD, "mailbox %s: greeting %s uploaded (%u ms)", number,
		 vmstore_greeting_name(g), c.ms);
	api_ok(resp, json_pack("{s:s,s:s,s:b,s:I,s:I}", "number", number,
			       "which", vmstore_greeting_name(g), "stored", 1,
			       "duration_ms", (json_int_t)c.ms, "bytes",
			       (json_int_t)(sizeof(hdr) + c.wi.data_len)));
}

static void greet_delete(struct daemon *d, const struct api_req *req,
			 struct api_resp *resp)
{
	char number[VM_NUM_MAX];
	enum vm_greeting g;
	int err;

	if (!target(d, req, resp, number, sizeof(number), &g))
		return;
	err = vmstore_greeting_delete(d->vmstore, number, g);
	if (err == ENOENT) {
		api_error(resp, 404, "That greeting has not been recorded.",
			  NULL);
		return;
	}
	if (err) {
		api_error(resp, 500, "The greeting could not be deleted.",
			  NULL);
		return;
	}
	api_ok(resp, json_pack("{s:s,s:s,s:b}", "number", number, "which",
			       vmstore_greeting_name(g), "deleted", 1));
}

const struct api_route api_routes_greet[] = {
	{ "GET",    "/me/greetings",        greet_list },
	{ "GET",    "/me/greetings/:which", greet_get },
	{ "PUT",    "/me/greetings/:which", greet_put },
	{ "DELETE", "/me/greetings/:which", greet_delete },
};
const size_t api_routes_greet_n = API_ROUTES_N(api_routes_greet);
