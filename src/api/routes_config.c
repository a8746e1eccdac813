/*
 * routes_config — the configuration routes of the admin API: extensions,
 * policy and settings sections, secrets generator, commit, pending,
 * discard, licences, status. Every write goes to the store's staged
 * configuration; the store runs the validation (one rule set for every
 * write path), these handlers only translate HTTP ↔ store.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sodium.h>

#include "api/routes.h"
#include "common/report.h"
#include "daemon/daemon.h"
#include "daemon/services.h"
#include "guard/guard.h"
#include "policy/policy.h"
#include "sip/sipd.h"
#include "store/health.h"
#include "store/publish.h"
#include "store/store.h"

static struct timespec started;

__attribute__((constructor)) static void note_start(void)
{
	clock_gettime(CLOCK_MONOTONIC, &started);
}

/* ---- helpers ---- */

/* The sentence of a refusal: names the field and the rule of the first
 * finding, and how many more there are. */
static void refusal_sentence(char *buf, size_t sz, const char *what,
			     const struct report *r, int err)
{
	size_t n = r ? report_count(r) : 0;

	if (r && r->n > 0) {
		const struct report_item *it = &r->item[0];
		char more[64] = "";

		if (n > 1)
			snprintf(more, sizeof(more), " (and %zu more finding%s)",
				 n - 1, n > 2 ? "s" : "");
		/* Messages that already start with the field name do not
		 * repeat it. */
		bool named = it->field[0] &&
			     !strncmp(it->msg, it->field, strlen(it->field));

		snprintf(buf, sz, "%s refused: %s%s%s%s%s (rule %s)%s", what,
			 it->where, it->where[0] ? ": " : "",
			 named ? "" : it->field,
			 it->field[0] && !named ? ": " : "", it->msg, it->rule,
			 more);
		return;
	}
	switch (err) {
	case EEXIST:
		snprintf(buf, sz, "%s refused: number: the extension number is "
			 "already in use (rule number.unique)", what);
		break;
	case ENOENT:
		snprintf(buf, sz, "%s refused: no such extension, section or "
			 "key (rule exists)", what);
		break;
	default:
		snprintf(buf, sz, "%s failed: %s", what, strerror(err));
		break;
	}
}

static int status_of(int err)
{
	switch (err) {
	case EINVAL: return 422;
	case EEXIST: return 409;
	case ENOENT: return 404;
	/* the store returns ENOSPC only when the disk (or the database's
	 * size limit) refused the write: nothing was changed */
	case ENOSPC: return 507;
	case EROFS: return 503;
	default: return 500;
	}
}

static void refuse(struct api_resp *resp, int err, const struct report *r,
		   const char *what)
{
	char msg[512];

	if (err == ENOSPC || err == EROFS) {
		snprintf(msg, sizeof(msg), "%s failed: the change could not be "
			 "stored (%s in the data directory); nothing was "
			 "changed. Free space and try again.", what,
			 strerror(err));
		api_error(resp, status_of(err), msg, r);
		json_object_set_new(resp->body, "cause", json_string(
			err == ENOSPC ? "storage_full" : "storage_read_only"));
		return;
	}
	refusal_sentence(msg, sizeof(msg), what, r, err);
	api_error(resp, status_of(err), msg, r);
}

static enum store_view view_of(const struct api_req *req)
{
	return api_query_flag(req, "staged") ? STORE_STAGED : STORE_RUNNING;
}

/* Text of a JSON scalar, as the store's set() functions take it. */
static int scalar_text(const json_t *v, char *buf, size_t sz)
{
	int n;

	switch (json_typeof(v)) {
	case JSON_STRING:
		n = snprintf(buf, sz, "%s", json_string_value(v));
		break;
	case JSON_INTEGER:
		n = snprintf(buf, sz, "%" JSON_INTEGER_FORMAT,
			     json_integer_value(v));
		break;
	case JSON_REAL:
		n = snprintf(buf, sz, "%g", json_real_value(v));
		break;
	case JSON_TRUE:
		n = snprintf(buf, sz, "true");
		break;
	case JSON_FALSE:
		n = snprintf(buf, sz, "false");
		break;
	default:
		return EINVAL;
	}
	return (n < 0 || (size_t)n >= sz) ? ENAMETOOLONG : 0;
}

/* Optional boolean member of the body. */
static bool body_flag(const json_t *body, const char *key)
{
	const json_t *v = body ? json_object_get(body, key) : NULL;

	if (json_is_boolean(v))
		return json_is_true(v);
	if (json_is_string(v))
		return !strcmp(json_string_value(v), "true") ||
		       !strcmp(json_string_value(v), "1");
	if (json_is_integer(v))
		return json_integer_value(v) != 0;
	return false;
}

/* The fields of an add/edit body, without the generate_* options. New
 * reference or NULL if body is not an object. */
static json_t *fields_of(const json_t *body, unsigned *gen)
{
	json_t *f;

	if (!json_is_object(body))
		return NULL;
	f = json_deep_copy(body);
	if (!f)
		return NULL;
	*gen = 0;
	if (body_flag(body, "generate_password"))
		*gen |= STORE_GEN_PASSWORD;
	if (body_flag(body, "generate_pin"))
		*gen |= STORE_GEN_PIN;
	json_object_del(f, "generate_password");
	json_object_del(f, "generate_pin");
	return f;
}

static void set_warnings(json_t *out, const struct report *r)
{
	if (report_count(r) > 0)
		json_object_set_new(out, "warnings", store_report_json(r));
}

/* ---- status ---- */

struct sip_status_call {
	struct sipd *sd;
	struct guard *g;
	json_t *out;
	json_t *guard;
};

static void sip_status_on_loop(void *arg)
{
	struct sip_status_call *c = arg;

	c->out = c->sd ? sipd_status(c->sd) : NULL;
	/* the guard says whether bans reach the kernel or stay in user space */
	c->guard = c->g ? guard_status(c->g) : NULL;
}

static void status_get(struct daemon *d, const struct api_req *req,
		       struct api_resp *resp)
{
	struct sip_status_call c = { .sd = d->sipd, .g = d->guard };
	struct timespec now;
	json_t *out;
	size_t pending = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (loop_call(sip_status_on_loop, &c)) {
		c.out = NULL;
		c.guard = NULL;
	}
	/* counted in SQL: /status is polled and must not load the tables */
	if (store_pending_count(d->store, &pending))
		pending = 0;
	out = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:o,s:o,s:o}",
			"daemon", "bulwarkd", "version", "0.1.0",
			"data_dir", d->data_dir ? d->data_dir : "",
			"pid", (json_int_t)getpid(),
			"uptime_s", (json_int_t)(now.tv_sec - started.tv_sec),
			"pending", (json_int_t)pending,
			"storage", store_health_json(),
			"sip", c.out ? c.out : json_null(),
			"guard", c.guard ? c.guard : json_null());
	/* shown for as long as a word list is missing: the dictionary rule
	 * is weaker than the policy page says until it is installed */
	if (out)
		json_object_set_new(out, "dictionary",
				    store_dict_status(d->store));
	api_ok(resp, out);
}

/* ---- extensions ---- */

static void ext_list(struct daemon *d, const struct api_req *req,
		     struct api_resp *resp)
{
	json_t *out = NULL;
	int err = store_ext_list(d->store, view_of(req), &out);

	if (err) {
		refuse(resp, err, NULL, "Listing extensions");
		return;
	}
	api_ok(resp, out);
}

static void ext_get(struct daemon *d, const struct api_req *req,
		    struct api_resp *resp)
{
	json_t *out = NULL;
	int err = store_ext_get(d->store, req->param[0], view_of(req),
				api_query_flag(req, "reveal"), &out);

	if (err == ENOENT) {
		char msg[160];

		snprintf(msg, sizeof(msg), "No extension %.24s in the %s "
			 "configuration.", req->param[0],
			 view_of(req) == STORE_STAGED ? "staged" : "running");
		api_error(resp, 404, msg, NULL);
		return;
	}
	if (err) {
		refuse(resp, err, NULL, "Reading the extension");
		return;
	}
	api_ok(resp, out);
}

static void ext_add(struct daemon *d, const struct api_req *req,
		    struct api_resp *resp)
{
	struct report r;
	unsigned gen = 0;
	json_t *fields = fields_of(req->body, &gen), *generated = NULL, *out;
	int err;

	if (!fields) {
		api_error(resp, 400, "Send the extension as a JSON object of "
			  "fields, e.g. {\"number\":\"201\",\"type\":\"sip\","
			  "\"name\":\"Ada Lovelace\"}.", NULL);
		return;
	}
	report_init(&r);
	err = store_ext_add(d->store, fields, gen, &r, &generated);
	if (err) {
		refuse(resp, err, &r, "Adding the extension");
		goto out;
	}
	out = json_pack("{s:O*,s:o}", "number", json_object_get(fields, "number"),
			"generated", generated ? generated : json_object());
	generated = NULL;
	set_warnings(out, &r);
	api_ok(resp, out);
	resp->status = 201;
out:
	json_decref(generated);
	json_decref(fields);
	report_reset(&r);
}

static void ext_edit(struct daemon *d, const struct api_req *req,
		     struct api_resp *resp)
{
	struct report r;
	unsigned gen = 0;
	json_t *fields = fields_of(req->body, &gen), *generated = NULL, *out;
	int err;

	if (!fields) {
		api_error(resp, 400, "Send the changes as a JSON object of "
			  "fields, e.g. {\"phone.nat\":true}.", NULL);
		return;
	}
	report_init(&r);
	err = store_ext_edit(d->store, req->param[0], fields, gen, &r,
			     &generated);
	if (err) {
		refuse(resp, err, &r, "Editing the extension");
		goto out;
	}
	out = json_pack("{s:s,s:o}", "number", req->param[0],
			"generated", generated ? generated : json_object());
	generated = NULL;
	set_warnings(out, &r);
	api_ok(resp, out);
out:
	json_decref(generated);
	json_decref(fields);
	report_reset(&r);
}

static void ext_remove(struct daemon *d, const struct api_req *req,
		       struct api_resp *resp)
{
	struct report r;
	int err;

	report_init(&r);
	err = store_ext_remove(d->store, req->param[0], &r);
	if (err)
		refuse(resp, err, &r, "Removing the extension");
	else
		api_ok(resp, json_pack("{s:s,s:b}", "number", req->param[0],
				       "removed", 1));
	report_reset(&r);
}

/* "200-299" or first/last members. */
static int bulk_range(const json_t *body, unsigned *first, unsigned *last,
		      struct report *r)
{
	const json_t *range = json_object_get(body, "range");
	const json_t *f = json_object_get(body, "first");
	const json_t *l = json_object_get(body, "last");
	unsigned long a, b;
	char *end;

	if (json_is_string(range)) {
		const char *s = json_string_value(range);

		errno = 0;
		a = strtoul(s, &end, 10);
		if (errno || end == s || *end != '-')
			goto bad;
		s = end + 1;
		b = strtoul(s, &end, 10);
		if (errno || end == s || *end)
			goto bad;
	} else if (json_is_integer(f) && json_is_integer(l) &&
		   json_integer_value(f) >= 0 && json_integer_value(l) >= 0) {
		a = (unsigned long)json_integer_value(f);
		b = (unsigned long)json_integer_value(l);
	} else {
		goto bad;
	}
	if (a > b || b > 999999999ul) {
		report_add(r, "", "range", "range.order",
			   "The range must be FIRST-LAST with FIRST <= LAST "
			   "(numbers of at most 9 digits).");
		return EINVAL;
	}
	if (b - a + 1 > STORE_BULK_MAX) {
		report_add(r, "", "range", "range.max",
			   "A bulk add creates at most %u extensions at once.",
			   STORE_BULK_MAX);
		return EINVAL;
	}
	*first = (unsigned)a;
	*last = (unsigned)b;
	return 0;
bad:
	report_add(r, "", "range", "range.format",
		   "Give the range as \"range\":\"200-299\" (or \"first\" and "
		   "\"last\" numbers).");
	return EINVAL;
}

static void ext_bulk(struct daemon *d, const struct api_req *req,
		     struct api_resp *resp)
{
	struct report r;
	unsigned first = 0, last = 0;
	const json_t *type = json_object_get(req->body, "type");
	const json_t *tmpl = json_object_get(req->body, "template");
	json_t *created = NULL;
	int err;

	report_init(&r);
	if (!json_is_object(req->body)) {
		api_error(resp, 400, "Send {\"range\":\"200-299\",\"type\":"
			  "\"sip\",\"template\":\"201\"} as JSON.", NULL);
		goto out;
	}
	err = bulk_range(req->body, &first, &last, &r);
	if (!json_is_string(type)) {
		report_add(&r, "", "type", "type.required",
			   "The extension type is required (sip, iax2, zap, "
			   "voicemail, hotdesk, virtual, ring_group, shared).");
		err = EINVAL;
	}
	if (tmpl && !json_is_string(tmpl) && !json_is_null(tmpl)) {
		report_add(&r, "", "template", "template.format",
			   "The template is an extension number, as a string.");
		err = EINVAL;
	}
	if (err) {
		refuse(resp, err, &r, "Bulk add");
		goto out;
	}
	err = store_ext_bulk(d->store, json_string_value(type), first, last,
			     json_is_string(tmpl) ? json_string_value(tmpl) : NULL,
			     &r, &created);
	if (err) {
		refuse(resp, err, &r, "Bulk add");
		goto out;
	}
	api_ok(resp, json_pack("{s:I,s:o}", "count",
			       (json_int_t)json_array_size(created),
			       "created", created ? created : json_array()));
	resp->status = 201;
out:
	report_reset(&r);
}

static void ext_import(struct daemon *d, const struct api_req *req,
		       struct api_resp *resp)
{
	struct report r;
	size_t count = 0;
	json_t *generated = NULL;
	int err;

	if (!req->raw || req->body) {
		api_error(resp, 400, "Send the CSV file as the request body "
			  "with Content-Type: text/csv.", NULL);
		return;
	}
	report_init(&r);
	err = store_ext_import_csv_gen(d->store, req->raw, req->raw_len, &r,
				       &count, &generated);
	if (err) {
		refuse(resp, err, &r, "CSV import");
	} else {
		/* the secrets generated for new rows, shown this once (as
		 * bulk's "created"), so the admin need not reveal them one
		 * extension at a time */
		json_t *out = json_pack("{s:I,s:o}", "staged",
					(json_int_t)count, "generated",
					generated ? generated : json_array());

		set_warnings(out, &r);
		api_ok(resp, out);
	}
	report_reset(&r);
}

static void ext_export(struct daemon *d, const struct api_req *req,
		       struct api_resp *resp)
{
	char *csv = NULL;
	size_t len = 0;
	int err = store_ext_export_csv(d->store, view_of(req), &csv, &len);

	if (err) {
		refuse(resp, err, NULL, "CSV export");
		return;
	}
	resp->status = 200;
	resp->raw = csv;
	resp->raw_len = len;
	resp->content_type = "text/csv; charset=utf-8";
}

/* ---- settings sections (policy is one) ---- */

static json_t *policy_keys_json(void)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < policy_key_count; i++) {
		const struct policy_key *k = &policy_keys[i];
		json_t *o = json_pack("{s:s,s:s,s:s}", "key", k->key,
				      "kind", k->kind == POLICY_BOOL ?
				      "bool" : "uint", "help",
				      k->help ? k->help : "");

		if (k->kind == POLICY_UINT) {
			json_object_set_new(o, "min", json_integer(k->min));
			json_object_set_new(o, "max", json_integer(k->max));
		}
		json_array_append_new(a, o);
	}
	return a;
}

static void section_get_named(struct daemon *d, const char *name,
			      struct api_resp *resp)
{
	json_t *staged = NULL, *running = NULL, *out;
	int err = store_section_get(d->store, name, STORE_STAGED, &staged);

	if (!err)
		err = store_section_get(d->store, name, STORE_RUNNING, &running);
	if (err) {
		char msg[160];

		json_decref(staged);
		if (err == ENOENT) {
			snprintf(msg, sizeof(msg), "No settings section "
				 "'%.40s'.", name);
			api_error(resp, 404, msg, NULL);
		} else {
			refuse(resp, err, NULL, "Reading settings");
		}
		return;
	}
	out = json_pack("{s:s,s:o,s:o}", "section", name, "staged", staged,
			"running", running);
	if (!strcmp(name, "policy"))
		json_object_set_new(out, "keys", policy_keys_json());
	api_ok(resp, out);
}

/* Set every key of the body; all or nothing: on any refusal the keys
 * already set are put back to their previous staged values. */
static void section_patch_named(struct daemon *d, const char *name,
				const json_t *body, struct api_resp *resp)
{
	struct report r;
	json_t *before = NULL, *changed = json_array();
	const char *key;
	json_t *val;
	char text[1024], what[80];
	int err, first_err = 0;
	size_t i;

	report_init(&r);
	snprintf(what, sizeof(what), "Setting %.40s", name);
	if (!json_is_object(body) || json_object_size(body) == 0) {
		api_error(resp, 400, "Send the settings as a JSON object, e.g. "
			  "{\"sip.min_length\":10}.", NULL);
		goto out;
	}
	/* secrets as sealed: the rollback puts them back exactly */
	err = store_section_get_sealed(d->store, name, STORE_STAGED, &before);
	if (err) {
		char msg[160];

		snprintf(msg, sizeof(msg), "No settings section '%.40s'.", name);
		api_error(resp, err == ENOENT ? 404 : 500, msg, NULL);
		goto out;
	}
	json_object_foreach((json_t *)body, key, val) {
		if (scalar_text(val, text, sizeof(text))) {
			report_add(&r, name, key, "value.scalar",
				   "The value of %.40s must be a string, number "
				   "or boolean.", key);
			err = EINVAL;
		} else {
			err = store_section_set(d->store, name, key, text, &r);
		}
		if (err) {
			if (!first_err)
				first_err = err;
			continue;
		}
		json_array_append_new(changed, json_string(key));
	}
	if (first_err) {
		/* put back what was set */
		for (i = 0; i < json_array_size(changed); i++) {
			const char *k = json_string_value(json_array_get(changed, i));
			const json_t *old = json_object_get(before, k);
			struct report ignore;

			report_init(&ignore);
			if (old && !scalar_text(old, text, sizeof(text)))
				store_section_set(d->store, name, k, text,
						  &ignore);
			report_reset(&ignore);
		}
		refuse(resp, first_err == ENOENT ? EINVAL : first_err, &r, what);
		goto out;
	}
	section_get_named(d, name, resp);
out:
	json_decref(before);
	json_decref(changed);
	report_reset(&r);
}

static void policy_route_get(struct daemon *d, const struct api_req *req,
		       struct api_resp *resp)
{
	section_get_named(d, "policy", resp);
}

static void policy_route_patch(struct daemon *d, const struct api_req *req,
			 struct api_resp *resp)
{
	section_patch_named(d, "policy", req->body, resp);
}

static void settings_list(struct daemon *d, const struct api_req *req,
			  struct api_resp *resp)
{
	api_ok(resp, store_section_names());
}

static void settings_get(struct daemon *d, const struct api_req *req,
			 struct api_resp *resp)
{
	section_get_named(d, req->param[0], resp);
}

static void settings_patch(struct daemon *d, const struct api_req *req,
			   struct api_resp *resp)
{
	section_patch_named(d, req->param[0], req->body, resp);
}

/* ---- password / PIN generator ---- */

/* The staged policy as a struct. */
static int staged_policy(struct store *st, struct policy *p)
{
	json_t *sec = NULL, *v;
	const char *key;
	char text[64];
	int err = store_section_get(st, "policy", STORE_STAGED, &sec);

	policy_defaults(p);
	if (err)
		return err;
	json_object_foreach(sec, key, v) {
		struct report ignore;

		report_init(&ignore);
		if (!scalar_text(v, text, sizeof(text)))
			policy_set(p, key, text, &ignore);
		report_reset(&ignore);
	}
	json_decref(sec);
	return 0;
}

static void passwd_generate(struct daemon *d, const struct api_req *req,
			    struct api_resp *resp)
{
	struct policy p;
	char out[128];
	const char *kind = req->query(req, "kind");
	const char *number = req->query(req, "number");
	const char *name = req->query(req, "name");
	int err;

	if (!kind && json_is_string(json_object_get(req->body, "kind")))
		kind = json_string_value(json_object_get(req->body, "kind"));
	if (!kind || (strcmp(kind, "sip") && strcmp(kind, "vm"))) {
		api_error(resp, 400, "Say which secret: ?kind=sip (SIP/IAX2 "
			  "password) or ?kind=vm (voicemail PIN).", NULL);
		return;
	}
	err = staged_policy(d->store, &p);
	if (err) {
		refuse(resp, err, NULL, "Reading the policy");
		return;
	}
	if (!strcmp(kind, "sip")) {
		/* the store's dictionary: the one the commit checks with */
		err = policy_generate_sip(&p, store_dict(d->store), number,
					  name, out, sizeof(out));
	} else {
		err = policy_generate_pin(&p, number, NULL, out, sizeof(out));
	}
	if (err) {
		api_error(resp, 422, "No compliant secret could be generated: "
			  "the policy in force contradicts itself (rule "
			  "policy.consistent).", NULL);
		return;
	}
	api_ok(resp, json_pack("{s:s,s:s}", "kind", kind, "secret", out));
	sodium_memzero(out, sizeof(out));
}

/* ---- commit, pending, discard, licences ---- */

static void commit_post(struct daemon *d, const struct api_req *req,
			struct api_resp *resp)
{
	bool dry = api_query_flag(req, "dry_run") ||
		   body_flag(req->body, "dry_run");
	json_t *result = NULL;
	struct snapshot *snap = NULL;
	int err;

	err = store_commit(d->store, dry, &result, dry ? NULL : &snap);
	if (result && !json_is_true(json_object_get(result, "ok"))) {
		const json_t *errors = json_object_get(result, "errors");
		const json_t *e0 = json_array_get(errors, 0);
		char msg[600];

		snprintf(msg, sizeof(msg),
			 "Commit refused, nothing changed: %s%s%s%s%s (rule %s)%s",
			 json_string_value(json_object_get(e0, "where")) ?: "",
			 json_string_value(json_object_get(e0, "where")) ? ": " : "",
			 json_string_value(json_object_get(e0, "field")) ?: "",
			 json_string_value(json_object_get(e0, "field")) ? ": " : "",
			 json_string_value(json_object_get(e0, "message")) ?: "",
			 json_string_value(json_object_get(e0, "rule")) ?: "?",
			 json_array_size(errors) > 1 ? "; every finding is in errors" : "");
		json_object_set_new(result, "error", json_string(msg));
		if (!errors)
			json_object_set_new(result, "errors", json_array());
		api_ok(resp, result);
		resp->status = 422;
		snapshot_free(snap);
		api_metrics_commit(dry, false);
		return;
	}
	if (err) {
		api_metrics_commit(dry, false);
		json_decref(result);
		snapshot_free(snap);
		refuse(resp, err, NULL, "Commit");
		return;
	}
	if (!dry && snap) {
		store_publish(snap);
		/* the sections this commit changed, as the store wrote them */
		services_committed(d->services,
				   json_object_get(result, "sections"));
	}
	json_object_set_new(result, "dry_run", json_boolean(dry));
	api_metrics_commit(dry, true);
	api_ok(resp, result);
}

static void pending_get(struct daemon *d, const struct api_req *req,
			struct api_resp *resp)
{
	json_t *out = NULL;
	int err = store_pending(d->store, &out);

	if (err)
		refuse(resp, err, NULL, "Pending changes");
	else
		api_ok(resp, out);
}

static void discard_post(struct daemon *d, const struct api_req *req,
			 struct api_resp *resp)
{
	int err = store_discard(d->store);

	if (err)
		refuse(resp, err, NULL, "Discard");
	else
		api_ok(resp, json_pack("{s:b}", "discarded", 1));
}

static void licences_get(struct daemon *d, const struct api_req *req,
			 struct api_resp *resp)
{
	json_t *out = NULL;
	int err = store_licences(d->store, &out);

	if (err)
		refuse(resp, err, NULL, "Licences");
	else
		api_ok(resp, out);
}

const struct api_route api_routes_config[] = {
	{ "GET",    "/status",             status_get },
	{ "GET",    "/ext",                ext_list },
	{ "POST",   "/ext",                ext_add },
	{ "POST",   "/ext/bulk",           ext_bulk },
	{ "POST",   "/ext/import",         ext_import },
	{ "GET",    "/ext/export",         ext_export },
	{ "GET",    "/ext/:number",        ext_get },
	{ "PATCH",  "/ext/:number",        ext_edit },
	{ "DELETE", "/ext/:number",        ext_remove },
	{ "GET",    "/policy",             policy_route_get },
	{ "PATCH",  "/policy",             policy_route_patch },
	{ "GET",    "/settings",           settings_list },
	{ "GET",    "/settings/:section",  settings_get },
	{ "PATCH",  "/settings/:section",  settings_patch },
	{ "POST",   "/passwd/generate",    passwd_generate },
	{ "POST",   "/commit",             commit_post },
	{ "GET",    "/pending",            pending_get },
	{ "POST",   "/discard",            discard_post },
	{ "GET",    "/licences",           licences_get },
};
const size_t api_routes_config_n = API_ROUTES_N(api_routes_config);
