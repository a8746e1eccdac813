/*
 * routes_firewall — admin API of the firewall, its wizard, and the network
 * services manager (docs/admin/firewall.md, docs/admin/services.md).
 *
 *   GET  /firewall                  status (type, interfaces, pending)
 *   GET  /firewall/services         inbound services catalogue (?staged)
 *   GET  /firewall/preview          {"ruleset": text} (?staged)
 *   GET  /firewall/lan              {"networks": [...]} trusted LAN nets
 *   POST /firewall/apply            {"rollback": N}: commit confirmed
 *   POST /firewall/confirm          keep what apply installed
 *   POST /firewall/rollback         restore the previous rules now
 *   GET  /firewall/wizard           the steps
 *   GET  /firewall/wizard/:step     a step's data
 *   POST /firewall/wizard/:step     answer a step; "apply" commits+applies
 *   GET  /services                  the registry
 *   POST /services/:name/:action    start|stop|restart|enable|disable
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/routes.h"
#include "common/report.h"
#include "daemon/daemon.h"
#include "daemon/services.h"
#include "firewall/firewall.h"
#include "store/publish.h"
#include "store/store.h"

static int status_of(int err)
{
	switch (err) {
	case ENOENT: return 404;
	case EPERM: return 403;
	case EBUSY: return 409;
	case ENOTSUP: return 409;
	case EINVAL: return 422;
	default: return 500;
	}
}

/* A refusal: the first finding as the sentence, every finding listed. */
static void refuse(struct api_resp *resp, int err, const struct report *r,
		   const char *what)
{
	char msg[400];

	if (r && r->n)
		snprintf(msg, sizeof(msg), "%s refused: %s (rule %s)", what,
			 r->item[0].msg, r->item[0].rule);
	else
		snprintf(msg, sizeof(msg), "%s failed: %s", what,
			 strerror(err));
	api_error(resp, status_of(err), msg, r);
}

static bool staged_of(const struct api_req *req)
{
	return api_query_flag(req, "staged") != 0;
}

/* ---- firewall ---- */

static void fw_status(struct daemon *d, const struct api_req *req,
		      struct api_resp *resp)
{
	json_t *o = NULL;
	int err = firewall_status(d->firewall, &o);

	if (err)
		refuse(resp, err, NULL, "Firewall status");
	else
		api_ok(resp, o);
}

static void fw_services(struct daemon *d, const struct api_req *req,
			struct api_resp *resp)
{
	json_t *o = NULL;
	int err = firewall_catalogue_json(d->firewall, staged_of(req), &o);

	if (err)
		refuse(resp, err, NULL, "Firewall services");
	else
		api_ok(resp, o);
}

static void fw_preview(struct daemon *d, const struct api_req *req,
		       struct api_resp *resp)
{
	struct report r;
	char *text = NULL;
	int err;

	report_init(&r);
	err = firewall_preview(d->firewall, staged_of(req), &text, &r);
	if (err)
		refuse(resp, err, &r, "Firewall preview");
	else
		api_ok(resp, json_pack("{s:s, s:s}", "ruleset", text, "view",
				       staged_of(req) ? "staged" : "running"));
	free(text);
	report_reset(&r);
}

static void fw_lan(struct daemon *d, const struct api_req *req,
		   struct api_resp *resp)
{
	json_t *sec = NULL, *nets;

	if (store_section_get(d->store, "firewall", STORE_RUNNING, &sec)) {
		refuse(resp, EIO, NULL, "LAN networks");
		return;
	}
	nets = firewall_lan_networks(sec);
	json_decref(sec);
	api_ok(resp, json_pack("{s:o}", "networks", nets ? nets :
			       json_array()));
}

static unsigned rollback_of(const json_t *body, struct report *r, int *err)
{
	const json_t *v = json_object_get(body, "rollback");

	*err = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > 3600) {
		report_add(r, "", "rollback", "firewall.bad_rollback",
			   "rollback: must be 1..3600 seconds");
		*err = EINVAL;
		return 0;
	}
	return (unsigned)json_integer_value(v);
}

static void apply_and_answer(struct daemon *d, unsigned rollback,
			     struct api_resp *resp, json_t *extra)
{
	struct report r;
	json_t *res = NULL;
	int err;

	report_init(&r);
	err = firewall_apply(d->firewall, rollback, &r, &res);
	if (err) {
		refuse(resp, err, &r, "Firewall apply");
		json_decref(res);
	} else {
		services_applied(d->services, "firewall");
		if (extra)
			json_object_update(res, extra);
		api_ok(resp, res);
	}
	report_reset(&r);
}

static void fw_apply(struct daemon *d, const struct api_req *req,
		     struct api_resp *resp)
{
	struct report r;
	unsigned rb;
	int err;

	report_init(&r);
	rb = rollback_of(req->body, &r, &err);
	if (err)
		refuse(resp, err, &r, "Firewall apply");
	else
		apply_and_answer(d, rb, resp, NULL);
	report_reset(&r);
}

static void fw_confirm(struct daemon *d, const struct api_req *req,
		       struct api_resp *resp)
{
	int err = firewall_confirm(d->firewall);

	if (err == ENOENT)
		api_error(resp, 409, "Nothing to confirm: no firewall apply "
			  "is waiting (it may have rolled back already)",
			  NULL);
	else if (err)
		refuse(resp, err, NULL, "Firewall confirm");
	else
		api_ok(resp, json_pack("{s:b}", "confirmed", 1));
}

static void fw_rollback(struct daemon *d, const struct api_req *req,
			struct api_resp *resp)
{
	struct report r;
	int err;

	report_init(&r);
	err = firewall_rollback(d->firewall, &r);
	if (err == ENOENT)
		api_error(resp, 409, "Nothing to roll back: no firewall apply "
			  "is waiting", NULL);
	else if (err)
		refuse(resp, err, &r, "Firewall rollback");
	else
		api_ok(resp, json_pack("{s:b}", "rolled_back", 1));
	report_reset(&r);
}

/* ---- wizard ---- */

static void wiz_overview(struct daemon *d, const struct api_req *req,
			 struct api_resp *resp)
{
	json_t *o = NULL;
	int err = firewall_wizard_get(d->firewall, NULL, &o);

	if (err)
		refuse(resp, err, NULL, "Firewall wizard");
	else
		api_ok(resp, o);
}

static void wiz_get(struct daemon *d, const struct api_req *req,
		    struct api_resp *resp)
{
	json_t *o = NULL;
	int err = firewall_wizard_get(d->firewall, req->param[0], &o);

	if (err == ENOENT)
		api_error(resp, 404, "No such wizard step (type, interfaces, "
			  "services, review, apply)", NULL);
	else if (err)
		refuse(resp, err, NULL, "Firewall wizard");
	else
		api_ok(resp, o);
}

/* The wizard's last step: check, commit (only the firewall is staged),
 * publish the snapshot, then apply with the rollback timer. */
static void wiz_apply(struct daemon *d, const struct api_req *req,
		      struct api_resp *resp)
{
	struct report r;
	struct snapshot *snap = NULL;
	json_t *result = NULL, *extra;
	unsigned rb;
	int err;

	report_init(&r);
	rb = rollback_of(req->body, &r, &err);
	if (!err)
		err = firewall_wizard_check(d->firewall, &r);
	if (err) {
		refuse(resp, err, &r, "Firewall wizard apply");
		goto out;
	}
	err = store_commit(d->store, false, &result, &snap);
	if (err || !json_is_true(json_object_get(result, "ok"))) {
		const json_t *e0 = json_array_get(json_object_get(result,
							"errors"), 0);
		char msg[400];

		snprintf(msg, sizeof(msg), "Commit refused, nothing applied: "
			 "%s", json_string_value(json_object_get(e0,
			 "message")) ?: strerror(err ? err : EINVAL));
		api_error(resp, 422, msg, NULL);
		if (resp->body && json_object_get(result, "errors"))
			json_object_set(resp->body, "errors",
					json_object_get(result, "errors"));
		snapshot_free(snap);
		goto out;
	}
	if (snap) {
		store_publish(snap);
		services_committed(d->services,
				   json_object_get(result, "sections"));
	}
	extra = json_pack("{s:b, s:O?}", "committed", 1, "version",
			  json_object_get(result, "version"));
	apply_and_answer(d, rb, resp, extra);
	json_decref(extra);
out:
	json_decref(result);
	report_reset(&r);
}

static void wiz_post(struct daemon *d, const struct api_req *req,
		     struct api_resp *resp)
{
	struct report r;
	json_t *o = NULL;
	int err;

	if (req->param[0] && !strcmp(req->param[0], "apply")) {
		wiz_apply(d, req, resp);
		return;
	}
	report_init(&r);
	err = firewall_wizard_post(d->firewall, req->param[0], req->body, &r,
				   &o);
	if (err == ENOENT && !r.n)
		api_error(resp, 404, "No such wizard step to answer (type, "
			  "interfaces, services, apply)", NULL);
	else if (err)
		refuse(resp, err, &r, "Firewall wizard");
	else
		api_ok(resp, o);
	report_reset(&r);
}

/* ---- services ---- */

static void services_get(struct daemon *d, const struct api_req *req,
			 struct api_resp *resp)
{
	api_ok(resp, services_list(d->services));
}

static void services_post(struct daemon *d, const struct api_req *req,
			  struct api_resp *resp)
{
	const char *name = req->param[0], *action = req->param[1];
	struct report r;
	int err;

	report_init(&r);
	err = services_action(d->services, name, action, &r);
	if (err) {
		refuse(resp, err, &r, "Service action");
	} else {
		bool boot = !strcmp(action, "enable") ||
			    !strcmp(action, "disable");

		api_ok(resp, json_pack("{s:s, s:s, s:b, s:s}", "name", name,
			"action", action, "ok", 1, "message", boot ?
			"start at boot staged: commit to make it permanent" :
			!strcmp(name, "firewall") && !strcmp(action, "restart") ?
			"done; a new firewall configuration waits for "
			"'bulwark firewall confirm'" : "done"));
	}
	report_reset(&r);
}

const struct api_route api_routes_firewall[] = {
	{ "GET", "/firewall", fw_status },
	{ "GET", "/firewall/services", fw_services },
	{ "GET", "/firewall/preview", fw_preview },
	{ "GET", "/firewall/lan", fw_lan },
	{ "POST", "/firewall/apply", fw_apply },
	{ "POST", "/firewall/confirm", fw_confirm },
	{ "POST", "/firewall/rollback", fw_rollback },
	{ "GET", "/firewall/wizard", wiz_overview },
	{ "GET", "/firewall/wizard/:step", wiz_get },
	{ "POST", "/firewall/wizard/:step", wiz_post },
	{ "GET", "/services", services_get },
	{ "POST", "/services/:name/:action", services_post },
};
const size_t api_routes_firewall_n = API_ROUTES_N(api_routes_firewall);
