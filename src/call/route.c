/*
 * route — the routing rules, in the order they apply (route.h).
 */
#include <string.h>

#include "call/route.h"
#include "model/model.h"
#include "store/snapshot.h"

static const char *const rule_names[] = {
	[ROUTE_R_NONE] = "none",
	[ROUTE_R_GLOBAL_LIMIT] = "global_limit",
	[ROUTE_R_CALLER_LIMIT] = "caller_limit",
	[ROUTE_R_FEATURE_CODE] = "feature_code",
	[ROUTE_R_NOT_FOUND] = "not_found",
	[ROUTE_R_NOT_SERVED] = "not_served",
	[ROUTE_R_CALLEE_LIMIT] = "callee_limit",
	[ROUTE_R_UNAVAILABLE] = "unavailable",
	[ROUTE_R_EXTENSION] = "extension",
};

const char *route_rule_str(enum route_rule r)
{
	return (size_t)r < sizeof(rule_names) / sizeof(rule_names[0]) ?
		rule_names[r] : "unknown";
}

static void reject(struct route_result *out, enum route_rule rule,
		   unsigned code, const char *reason, const char *disp)
{
	out->kind = ROUTE_REJECT;
	out->rule = rule;
	out->code = code;
	out->reason = reason;
	out->disposition = disp;
}

/* An extension a call can ring today: a phone with SIP credentials. */
static bool rings(const struct snap_ext *x)
{
	return x->auth && (x->type == MODEL_SIP || x->type == MODEL_IAX2);
}

void call_route(const struct snapshot *snap, const struct snap_ext *caller,
		const char *dialled, size_t len, const struct route_live *live,
		struct route_result *out)
{
	const struct snap_ext *x;

	memset(out, 0, sizeof(*out));
	if (live->calls >= live->max_calls) {
		reject(out, ROUTE_R_GLOBAL_LIMIT, 503, "Service Unavailable",
		       "failed");
		return;
	}
	if (live->calls_out(caller->number, live->arg) >= caller->limit_out) {
		reject(out, ROUTE_R_CALLER_LIMIT, 486, "Busy Here", "busy");
		return;
	}
	/* feature codes (*97 voicemail, hotdesk, camp-on: issues 12, 13)
	 * are decided here, before extensions */
	if (len && (dialled[0] == '*' || dialled[0] == '#')) {
		reject(out, ROUTE_R_FEATURE_CODE, 404, "Not Found",
		       "notfound");
		return;
	}
	x = snapshot_find(snap, dialled, len);
	if (!x) {
		/* trunks' outbound routes (issue 15) go here */
		reject(out, ROUTE_R_NOT_FOUND, 404, "Not Found", "notfound");
		return;
	}
	if (!rings(x)) {
		/* ring groups, virtual, shared device, hotdesk, voicemail
		 * (issues 12, 13) go here */
		reject(out, ROUTE_R_NOT_SERVED, 480, "Temporarily Unavailable",
		       "unavailable");
		return;
	}
	/* forwarding (immediate, busy, unavailable) applies here (issue 13) */
	if (live->calls_in(x->number, live->arg) >= x->limit_in) {
		reject(out, ROUTE_R_CALLEE_LIMIT, 486, "Busy Here", "busy");
		return;
	}
	if (!live->contacts(x->number, live->arg)) {
		reject(out, ROUTE_R_UNAVAILABLE, 480, "Temporarily Unavailable",
		       "unavailable");
		return;
	}
	out->kind = ROUTE_EXTENSION;
	out->rule = ROUTE_R_EXTENSION;
	out->callee = x;
}
