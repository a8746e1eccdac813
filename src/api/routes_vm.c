/*
 * routes_vm — the administrator's view of the mailboxes (voicemail/
 * vmstore.h; docs/admin/voicemail.md):
 *
 *   GET    /voicemail/:number          its messages (oldest first) and
 *                                      its state: initialised, fails,
 *                                      lock_level, locked_until
 *   GET    /voicemail/:number/:id      one message, audio/wav
 *   DELETE /voicemail/:number/:id      delete it (MWI follows)
 *   POST   /voicemail/:number/unlock   end a PIN lock, reset the failures
 *
 * The number must be an extension (running or staged): 404 otherwise,
 * as for an unknown message. The vmstore refuses any number or id that
 * is not of its form, so no request ever names a path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "api/routes.h"
#include "common/report.h"
#include "daemon/daemon.h"
#include "store/store.h"
#include "store/vmstore.h"

/* Largest message served: over an hour of 8 kHz 16-bit PCM. */
#define VM_SERVE_MAX (64u << 20)

json_t *api_vm_msg_json(const struct vm_msg *m);
bool api_vm_mailbox(struct daemon *d, const char *number,
		    struct api_resp *resp);

static const char *const folder_name[] = { "new", "saved" };

/* One message as the API shows it (also the portal's, routes_portal.c). */
json_t *api_vm_msg_json(const struct vm_msg *m)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:s*}",
		"id", m->id,
		"folder", m->folder == VM_SAVED ? folder_name[1] :
			folder_name[0],
		"caller", m->caller, "caller_name", m->caller_name,
		"time_ms", (json_int_t)m->time_ms,
		"duration_ms", (json_int_t)m->duration_ms,
		"bytes", (json_int_t)m->bytes,
		"copy_of", m->copy_of[0] ? m->copy_of : NULL);
}

static void not_found(struct api_resp *resp, const char *field,
		      const char *rule, const char *msg)
{
	struct report r;

	report_init(&r);
	report_add(&r, "", field, rule, "%s", msg);
	api_error(resp, 404, msg, &r);
	report_reset(&r);
}

/* The extension exists (running or staged); else a 404 answer (also
 * the greetings', routes_greet_admin.c). */
bool api_vm_mailbox(struct daemon *d, const char *number,
		    struct api_resp *resp)
{
	json_t *ext = NULL;
	char msg[96];

	if (!d->vmstore) {
		api_error(resp, 503, "The voicemail store is not open.", NULL);
		return false;
	}
	if (!store_ext_get(d->store, number, STORE_RUNNING, false, &ext) ||
	    !store_ext_get(d->store, number, STORE_STAGED, false, &ext)) {
		json_decref(ext);
		return true;
	}
	snprintf(msg, sizeof(msg), "There is no extension %.24s.", number);
	not_found(resp, "number", "ext.not_found", msg);
	return false;
}

static void failed(struct api_resp *resp, int err, const char *what)
{
	char msg[160];

	if (err == ENOENT || err == EINVAL) {
		not_found(resp, "id", "vm.no_message", "There is no such "
			  "message in this mailbox.");
		return;
	}
	snprintf(msg, sizeof(msg), "%s failed: %s.", what, strerror(err));
	api_error(resp, err == EFBIG ? 413 : 500, msg, NULL);
}

static void vm_box_get(struct daemon *d, const struct api_req *req,
		       struct api_resp *resp)
{
	const char *number = req->param[0];
	struct vm_boxstate st;
	struct vm_msg *l = NULL;
	unsigned n_new = 0, n_saved = 0;
	json_t *msgs;
	size_t n = 0, i;
	int err;

	if (!api_vm_mailbox(d, number, resp))
		return;
	err = vmstore_box_get(d->vmstore, number, &st);
	if (err == EINVAL) {
		/* an extension number the mailbox store cannot hold */
		not_found(resp, "number", "vm.no_mailbox", "This extension "
			  "has no mailbox.");
		return;
	}
	if (!err)
		err = vmstore_msg_list(d->vmstore, number, VM_ANY, &l, &n);
	if (err) {
		failed(resp, err, "Reading the mailbox");
		return;
	}
	msgs = json_array();
	for (i = 0; i < n; i++) {
		json_array_append_new(msgs, api_vm_msg_json(&l[i]));
		if (l[i].folder == VM_SAVED)
			n_saved++;
		else
			n_new++;
	}
	free(l);
	api_ok(resp, json_pack("{s:s,s:o,s:{s:b,s:I,s:I,s:I,s:b},"
			       "s:I,s:I}", "number", number,
			       "messages", msgs, "state",
			       "initialised", st.initialised,
			       "fails", (json_int_t)st.fails,
			       "lock_level", (json_int_t)st.lock_level,
			       "locked_until", (json_int_t)st.locked_until,
			       "locked", st.locked_until >
					(int64_t)time(NULL) * 1000,
			       "new", (json_int_t)n_new,
			       "saved", (json_int_t)n_saved));
}

static void vm_msg_get(struct daemon *d, const struct api_req *req,
		       struct api_resp *resp)
{
	char *buf = NULL;
	size_t len = 0;
	int err;

	if (!api_vm_mailbox(d, req->param[0], resp))
		return;
	err = vmstore_msg_read(d->vmstore, req->param[0], req->param[1],
			       VM_SERVE_MAX, &buf, &len);
	if (err) {
		failed(resp, err, "Reading the message");
		return;
	}
	resp->status = 200;
	resp->raw = buf;
	resp->raw_len = len;
	resp->content_type = "audio/wav";
}

static void vm_msg_delete(struct daemon *d, const struct api_req *req,
			  struct api_resp *resp)
{
	int err;

	if (!api_vm_mailbox(d, req->param[0], resp))
		return;
	err = vmstore_msg_delete(d->vmstore, req->param[0], req->param[1]);
	if (err) {
		failed(resp, err, "Deleting the message");
		return;
	}
	api_ok(resp, json_pack("{s:s,s:s,s:b}", "number", req->param[0],
			       "id", req->param[1], "deleted", 1));
}

static void vm_unlock(struct daemon *d, const struct api_req *req,
		      struct api_resp *resp)
{
	int err;

	if (!api_vm_mailbox(d, req->param[0], resp))
		return;
	err = vmstore_unlock(d->vmstore, req->param[0]);
	if (err == EINVAL) {
		not_found(resp, "number", "vm.no_mailbox", "This extension "
			  "has no mailbox.");
		return;
	}
	if (err) {
		failed(resp, err, "Unlocking the mailbox");
		return;
	}
	api_ok(resp, json_pack("{s:s,s:b}", "number", req->param[0],
			       "unlocked", 1));
}

const struct api_route api_routes_vm[] = {
	{ "GET",    "/voicemail/:number",        vm_box_get },
	{ "GET",    "/voicemail/:number/:id",    vm_msg_get },
	{ "DELETE", "/voicemail/:number/:id",    vm_msg_delete },
	{ "POST",   "/voicemail/:number/unlock", vm_unlock },
};
const size_t api_routes_vm_n = API_ROUTES_N(api_routes_vm);
