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
 *   GET   /me/voicemail     the owner's messages: DATA/voicemail/NUMBER/
 *                           *.wav (the layout DESIGN.md gives the
 *                           voicemail service; until it lands, messages
 *                           put there by hand or by the tests)
 *   GET   /me/voicemail/:id one message, audio/wav, for the browser's
 *                           player
 *   DELETE /me/voicemail/:id delete it
 *
 * Changes are staged like every edit and take effect at the next commit.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "api/routes.h"
#include "api/web.h"
#include "common/report.h"
#include "daemon/daemon.h"
#include "model/model.h"
#include "store/store.h"

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

/* The session's extension number, or a 401 answer. */
static bool whose(const struct api_req *req, struct api_resp *resp,
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

	if (whose(req, resp, number, sizeof(number)))
		own(d, number, resp);
}

static void me_ext_get(struct daemon *d, const struct api_req *req,
		       struct api_resp *resp)
{
	char number[24];

	if (!whose(req, resp, number, sizeof(number)))
		return;
	if (strcmp(req->param[0], number)) {
		api_error(resp, 403, "A portal login reaches only its own "
			  "extension.", NULL);
		return;
	}
	own(d, number, resp);
}

static void me_patch(struct daemon *d, const struct api_req *req,
		     struct api_resp *resp)
{
	struct report r;
	char number[24], msg[400];
	const char *key;
	json_t *v;
	int err;

	if (!whose(req, resp, number, sizeof(number)))
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
	err = store_ext_edit(d->store, number, req->body, 0, &r, NULL);
	if (!err) {
		api_ok(resp, json_pack("{s:s,s:b}", "number", number,
				       "staged", 1));
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

/* ---- voicemail messages ---- */

#define VM_MAX_MESSAGES 1000
#define VM_MAX_BYTES    (16u << 20)   /* 16 MiB: over 30 min of G.711 */

/* A message id is a file name without ".wav": letters, digits, '-', '_'
 * (never a path). */
static bool vm_id_ok(const char *id)
{
	size_t i, n = id ? strlen(id) : 0;

	if (n == 0 || n > 64)
		return false;
	for (i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') ||
		      (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9') || id[i] == '-' ||
		      id[i] == '_'))
			return false;
	return true;
}

static bool vm_dir(const struct daemon *d, const char *number, char *buf,
		   size_t sz)
{
	int n = snprintf(buf, sz, "%s/voicemail/%s",
			 d->data_dir ? d->data_dir : ".", number);

	return n > 0 && (size_t)n < sz;
}

static bool vm_path(const struct daemon *d, const char *number,
		    const char *id, char *buf, size_t sz)
{
	int n = snprintf(buf, sz, "%s/voicemail/%s/%s.wav",
			 d->data_dir ? d->data_dir : ".", number, id);

	return vm_id_ok(id) && n > 0 && (size_t)n < sz;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a),
		      json_string_value(*(json_t *const *)b));
}

static void vm_list(struct daemon *d, const struct api_req *req,
		    struct api_resp *resp)
{
	char number[24], dir[512], path[600];
	json_t *ids = json_array(), *out = json_array(), *id;
	struct dirent *e;
	DIR *dp;
	size_t i;

	if (!whose(req, resp, number, sizeof(number)) ||
	    !vm_dir(d, number, dir, sizeof(dir))) {
		if (resp->status == 200)
			api_error(resp, 500, "The mailbox's path is too long.",
				  NULL);
		json_decref(ids);
		json_decref(out);
		return;
	}
	dp = opendir(dir);
	while (dp && (e = readdir(dp)) && json_array_size(ids) < VM_MAX_MESSAGES) {
		size_t n = strlen(e->d_name);
		char base[65];

		if (n <= 4 || n - 4 >= sizeof(base) ||
		    strcmp(e->d_name + n - 4, ".wav"))
			continue;
		memcpy(base, e->d_name, n - 4);
		base[n - 4] = '\0';
		if (vm_id_ok(base))
			json_array_append_new(ids, json_string(base));
	}
	if (dp)
		closedir(dp);
	/* oldest first: ids are the names the recorder gives, in order */
	if (json_array_size(ids) > 1) {
		json_t **v = calloc(json_array_size(ids), sizeof(*v));

		for (i = 0; v && i < json_array_size(ids); i++)
			v[i] = json_array_get(ids, i);
		if (v)
			qsort(v, json_array_size(ids), sizeof(*v), cmp_str);
		for (i = 0; v && i < json_array_size(ids); i++)
			json_array_append(out, v[i]);
		free(v);
	} else {
		json_array_extend(out, ids);
	}
	json_decref(ids);
	ids = json_array();
	json_array_foreach(out, i, id) {
		struct stat st;

		if (!vm_path(d, number, json_string_value(id), path,
			     sizeof(path)) || stat(path, &st) ||
		    !S_ISREG(st.st_mode))
			continue;
		json_array_append_new(ids, json_pack("{s:O,s:I,s:I}", "id", id,
			"bytes", (json_int_t)st.st_size,
			"time", (json_int_t)st.st_mtime));
	}
	json_decref(out);
	api_ok(resp, json_pack("{s:s,s:o}", "number", number, "messages", ids));
}

static void vm_get(struct daemon *d, const struct api_req *req,
		   struct api_resp *resp)
{
	char number[24], path[600];
	struct stat st;
	char *buf = NULL;
	size_t off = 0;
	int fd;

	if (!whose(req, resp, number, sizeof(number)))
		return;
	if (!vm_path(d, number, req->param[0], path, sizeof(path))) {
		api_error(resp, 404, "No such message.", NULL);
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > VM_MAX_BYTES ||
	    !(buf = malloc((size_t)st.st_size + 1))) {
		if (fd >= 0)
			close(fd);
		api_error(resp, 404, "No such message.", NULL);
		return;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	resp->status = 200;
	resp->raw = buf;
	resp->raw_len = off;
	resp->content_type = "audio/wav";
}

static void vm_delete(struct daemon *d, const struct api_req *req,
		      struct api_resp *resp)
{
	char number[24], path[600];

	if (!whose(req, resp, number, sizeof(number)))
		return;
	if (!vm_path(d, number, req->param[0], path, sizeof(path)) ||
	    unlink(path)) {
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
