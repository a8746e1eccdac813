/*
 * routes_portal — the user portal: an extension's owner, logged in with
 * its "Enable User Web GUI" username and password (web.c), reaches its own
 * extension and nothing else.
 *
 *   GET   /me               own extension: the fields the owner may
 *                           change, their values and their schema rows
 *   PATCH /me               change some of them (PIN, forwarding,
 *                           follow-me); the store applies the same rules
 *                           and policy as to the administrator
 *   GET   /me/ext/:number   own number only: any other is 403
 *   GET   /me/voicemail     the owner's messages, as the mailbox store
 *                           lists them (store/vmstore.h: rows, files
 *                           DATA/voicemail/NUMBER/m-ID.wav)
 *   GET   /me/voicemail/:id one message, audio/wav, for the browser's
 *                           player
 *   DELETE /me/voicemail/:id delete it
 *   /me/greetings...        the owner's recordings (routes_greet.c)
 *
 * Changes are staged like every edit and take effect at the next commit,
 * except the voicemail PIN: the owner cannot commit, so its own PIN is
 * changed at once (store_vm_pin_change: running and staged, the PIN
 * policy in full); the answer says "applied" for it, "staged" for the
 * rest.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "api/routes.h"
#include "api/web.h"
#include "call/outbound.h"   /* outbound (issue 15) */
#include "common/report.h"
#include "daemon/daemon.h"
#include "model/model.h"
#include "store/store.h"
#include "store/vmstore.h"

json_t *api_gui_field_json(const struct model_field *f);   /* routes_gui.c */

/* What an owner may change: a permission list, not a rule — each field's
 * rules stay in model/fields.c and the policy. */
static const char *const editable[] = {
	"voicemail.pin", "voicemail.email",
	"user.forward.immediate.enabled", "user.forward.immediate.destination",
	"user.forward.busy.enabled", "user.forward.busy.destination",
	"user.forward.no_answer.enabled", "user.forward.no_answer.destination",
	"user.forward.unavailable.enabled",
	"user.forward.unavailable.destination",
	"user.follow_me.enabled", "user.follow_me.list",
};

static bool is_editable(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(editable) / sizeof(editable[0]); i++)
		if (!strcmp(editable[i], name))
			return true;
	return false;
}

/* The session's extension number, or a 401 answer (web.h). */
bool api_portal_whose(const struct api_req *req, struct api_resp *resp,
		      char *number, size_t sz)
{
	struct api_session_info info;

	if (api_web_session_of(req, API_SESSION_USER, &info)) {
		api_error(resp, 401, "Log in to the portal first.", NULL);
		return false;
	}
	snprintf(number, sz, "%s", info.number);
	sodium_memzero(&info, sizeof(info));
	return true;
}

static void own(struct daemon *d, const char *number, struct api_resp *resp)
{
	json_t *ext = NULL, *values, *fields;
	enum model_type t;
	size_t i;

	if (store_ext_get(d->store, number, STORE_STAGED, false, &ext) &&
	    store_ext_get(d->store, number, STORE_RUNNING, false, &ext)) {
		api_error(resp, 404, "Your extension no longer exists.", NULL);
		return;
	}
	values = json_object();
	fields = json_array();
	if (model_type_parse(json_string_value(json_object_get(ext, "type")),
			     &t))
		t = MODEL_SIP;
	for (i = 0; i < sizeof(editable) / sizeof(editable[0]); i++) {
		const struct model_field *f = model_field_find(editable[i]);

		if (!f || !model_type_has(t, f))
			continue;
		json_array_append_new(fields, api_gui_field_json(f));
		if (json_object_get(ext, f->name))
			json_object_set(values, f->name,
					json_object_get(ext, f->name));
	}
	api_ok(resp, json_pack("{s:s,s:O*,s:O*,s:o,s:o}", "number", number,
			       "name", json_object_get(ext, "name"),
			       "type", json_object_get(ext, "type"),
			       "values", values, "fields", fields));
	json_decref(ext);
}

static void me_get(struct daemon *d, const struct api_req *req,
		   struct api_resp *resp)
{
	char number[24];

	if (api_portal_whose(req, resp, number, sizeof(number)))
		own(d, number, resp);
}

static void me_ext_get(struct daemon *d, const struct api_req *req,
		       struct api_resp *resp)
{
	char number[24];

	if (!api_portal_whose(req, resp, number, sizeof(number)))
		return;
	if (strcmp(req->param[0], number)) {
		api_error(resp, 403, "A portal login reaches only its own "
			  "extension.", NULL);
		return;
	}
	own(d, number, resp);
}

/* An extension that exists, staged or running. */
static bool ext_exists(struct daemon *d, const char *number)
{
	json_t *x = NULL;
	bool ok = !store_ext_get(d->store, number, STORE_STAGED, false, &x) ||
		  !store_ext_get(d->store, number, STORE_RUNNING, false, &x);

	json_decref(x);
	return ok;
}

/* The first target of a destination value (a string or a list) that is
 * neither the owner nor an existing extension, or NULL. */
static const char *first_missing(struct daemon *d, const char *self,
				 const json_t *val)
{
	const json_t *it;
	size_t i;

	if (json_is_string(val)) {
		const char *t = json_string_value(val);

		return *t && strcmp(t, self) && !ext_exists(d, t) ? t : NULL;
	}
	json_array_foreach(val, i, it) {
		const char *t = first_missing(d, self, it);

		if (t)
			return t;
	}
	return NULL;
}

/* outbound (issue 15): an external number a staged outbound route takes
 * (a forward out through a trunk, as model_validate_set accepts it) */
static bool routed_out(struct daemon *d, const char *number)
{
	json_t *obj = NULL;
	bool ok = !store_section_get(d->store, "outbound_routes",
				     STORE_STAGED, &obj) &&
		outbound_obj_routes(obj, number);

	json_decref(obj);
	return ok;
}

/* The destinations an owner names must be extensions that exist now: the
 * owner cannot commit, and a reference the commit refuses (ref.missing,
 * dest.external_no_trunk) would block every later commit of the
 * administrator until someone fixed it. The same rules and words as
 * model_validate_set, checked here before anything is staged. */
static int refs_exist(struct daemon *d, const char *self, const json_t *chg,
		      struct report *r)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)chg, key, v) {
		const struct model_field *f = model_field_find(key);
		json_t *val = NULL;
		const char *t;
		int err = 0;

		if (!f || (f->form != MODEL_FORM_DEST &&
			   f->form != MODEL_FORM_EXT_REF))
			continue;
		if (json_is_string(v) && model_parse_value(
			    f, json_string_value(v), &val, r))
			return EINVAL;
		if (!val)
			val = json_incref(v);
		t = first_missing(d, self, val);
		if (t && f->form == MODEL_FORM_DEST && json_is_string(val) &&
		    !strncmp(f->name, "user.forward.", 13) && routed_out(d, t))
			t = NULL;   /* outbound (issue 15) */
		if (t && strspn(t, "0123456789") == strlen(t) &&
		    strlen(t) >= 2 && strlen(t) <= 8) {
			report_add(r, "", f->name, "ref.missing",
				   "extension %.24s does not exist", t);
			err = EINVAL;
		} else if (t) {
			report_add(r, "", f->name, "dest.external_no_trunk",
				   "%.24s is not an extension; calls to "
				   "external numbers need a trunk, and none "
				   "is configured", t);
			err = EINVAL;
		}
		json_decref(val);
		if (err)
			return err;
	}
	return 0;
}

static void me_patch(struct daemon *d, const struct api_req *req,
		     struct api_resp *resp)
{
	struct report r;
	char number[24], msg[400];
	const char *key, *pin;
	json_t *v, *rest;
	bool staged;
	int err;

	if (!api_portal_whose(req, resp, number, sizeof(number)))
		return;
	if (!json_is_object(req->body) || !json_object_size(req->body)) {
		api_error(resp, 400, "Send the changes as a JSON object, e.g. "
			  "{\"voicemail.pin\":\"482913\"}.", NULL);
		return;
	}
	json_object_foreach(req->body, key, v) {
		if (is_editable(key))
			continue;
		snprintf(msg, sizeof(msg), "%.64s is changed by the "
			 "administrator only.", key);
		api_error(resp, 403, msg, NULL);
		return;
	}
	report_init(&r);
	rest = json_copy(req->body);
	pin = json_string_value(json_object_get(req->body, "voicemail.pin"));
	if (refs_exist(d, number, req->body, &r)) {
		err = EINVAL;
		pin = NULL;
	} else if (json_object_get(req->body, "voicemail.pin") && !pin) {
		report_add(&r, "", "voicemail.pin", "field.type",
			   "must be a string of digits");
		err = EINVAL;
	} else if (pin) {
		/* the owner cannot commit: its own PIN applies at once */
		err = store_vm_pin_change(d->store, number, pin, &r);
		json_object_del(rest, "voicemail.pin");
	} else {
		err = 0;
	}
	staged = !err && rest && json_object_size(rest) > 0;
	if (staged)
		err = store_ext_edit(d->store, number, rest, 0, &r, NULL);
	json_decref(rest);
	if (!err) {
		api_ok(resp, json_pack("{s:s,s:b,s:b}", "number", number,
				       "staged", staged, "applied", pin != NULL));
	} else if (r.n > 0) {
		snprintf(msg, sizeof(msg), "Refused: %s: %s (rule %s)",
			 r.item[0].field, r.item[0].msg, r.item[0].rule);
		api_error(resp, err == EINVAL ? 422 : 500, msg, &r);
	} else {
		snprintf(msg, sizeof(msg), "The change could not be made: %s.",
			 strerror(err));
		api_error(resp, err == ENOSPC ? 507 : 500, msg, NULL);
	}
	report_reset(&r);
}

/* ---- voicemail messages (store/vmstore.h) ---- */

/* Largest message served: over an hour of 8 kHz 16-bit PCM. */
#define VM_SERVE_MAX (64u << 20)

json_t *api_vm_msg_json(const struct vm_msg *m);   /* routes_vm.c */

static bool vm_ready(struct daemon *d, struct api_resp *resp)
{
	if (d->vmstore)
		return true;
	api_error(resp, 503, "The voicemail store is not open.", NULL);
	return false;
}

static void vm_list(struct daemon *d, const struct api_req *req,
		    struct api_resp *resp)
{
	char number[24];
	struct vm_msg *l = NULL;
	json_t *out;
	size_t n = 0, i;
	int err;

	if (!api_portal_whose(req, resp, number, sizeof(number)) ||
	    !vm_ready(d, resp))
		return;
	err = vmstore_msg_list(d->vmstore, number, VM_ANY, &l, &n);
	if (err && err != EINVAL) {
		api_error(resp, 500, "The mailbox could not be read.", NULL);
		return;
	}
	out = json_array();
	for (i = 0; !err && i < n; i++)
		json_array_append_new(out, api_vm_msg_json(&l[i]));
	free(l);
	api_ok(resp, json_pack("{s:s,s:o}", "number", number, "messages", out));
}

static void vm_get(struct daemon *d, const struct api_req *req,
		   struct api_resp *resp)
{
	char number[24], *buf = NULL;
	size_t len = 0;

	if (!api_portal_whose(req, resp, number, sizeof(number)) ||
	    !vm_ready(d, resp))
		return;
	/* the session's own mailbox only: the number is never the
	 * request's */
	if (vmstore_msg_read(d->vmstore, number, req->param[0], VM_SERVE_MAX,
			     &buf, &len)) {
		api_error(resp, 404, "No such message.", NULL);
		return;
	}
	resp->status = 200;
	resp->raw = buf;
	resp->raw_len = len;
	resp->content_type = "audio/wav";
}

static void vm_delete(struct daemon *d, const struct api_req *req,
		      struct api_resp *resp)
{
	char number[24];

	if (!api_portal_whose(req, resp, number, sizeof(number)) ||
	    !vm_ready(d, resp))
		return;
	if (vmstore_msg_delete(d->vmstore, number, req->param[0])) {
		api_error(resp, 404, "No such message.", NULL);
		return;
	}
	api_ok(resp, json_pack("{s:s,s:b}", "id", req->param[0], "deleted", 1));
}

const struct api_route api_routes_portal[] = {
	{ "GET",   "/me",             me_get },
	{ "PATCH", "/me",             me_patch },
	{ "GET",   "/me/ext/:number", me_ext_get },
	{ "GET",   "/me/voicemail",   vm_list },
	{ "GET",   "/me/voicemail/:id", vm_get },
	{ "DELETE", "/me/voicemail/:id", vm_delete },
};
const size_t api_routes_portal_n = API_ROUTES_N(api_routes_portal);
