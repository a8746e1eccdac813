/*
 * route_trunk — the routing rule for external numbers (issue 15,
 * outbound): an outbound route takes the number, the class of service of
 * the extension that placed it must allow the route's destination class
 * (emergency routes excepted), and a call that came in from a trunk
 * never leaves on one without an explicit rule (route_int.h).
 */
#include <string.h>

#include "call/outbound.h"
#include "call/route.h"
#include "call/route_int.h"
#include "store/snapshot.h"

_Static_assert(sizeof(((struct route_result *)0)->out_num) ==
	       OUT_NUM_MAX + 1, "route_result.out_num holds OUT_NUM_MAX");

/* 403 reason phrases naming the class the caller's class of service
 * lacks (static: the result keeps the pointer). */
static const char *const cos_reason[SNAP_DEST__COUNT] = {
	"Forbidden (class of service: internal)",
	"Forbidden (class of service: local)",
	"Forbidden (class of service: national)",
	"Forbidden (class of service: international)",
	"Forbidden (class of service: premium)",
	"Forbidden (class of service: emergency)",
};

bool route_trunk(struct ctx *c, const struct snap_ext *payer,
		 const char *dialled, size_t len, bool emergency_only)
{
	struct route_result *out = c->out;
	const struct out_route *r;
	uint32_t allow;

	r = outbound_match(outbound_routes_of(c->snap), dialled, len,
			   emergency_only, out->out_num, sizeof(out->out_num));
	if (!r)
		return false;
	out->oroute = r;
	out->payer = payer;
	if (c->live->from_trunk && !c->live->trunk_out_ok) {
		route_reject(out, ROUTE_R_TRUNK_INBOUND, 403, "Forbidden "
			     "(no inbound-to-outbound rule)", "rejected");
		return true;
	}
	allow = route_cos_allow(c->snap, payer);
	if (!r->emergency && !(allow & SNAP_COS_DEST(r->dest))) {
		route_reject(out, ROUTE_R_COS_DEST, 403, cos_reason[r->dest],
			     "rejected");
		return true;
	}
	out->kind = ROUTE_TRUNK;
	out->rule = r->emergency ? ROUTE_R_EMERGENCY : ROUTE_R_TRUNK;
	return true;
}

/* x's forward w: an external number ("" or an extension: NULL). */
static const char *fwd_external(const struct snapshot *snap,
				const struct snap_ext *x, unsigned w)
{
	const char *to;

	if (!x->feat || w >= SNAP_FWD__COUNT)
		return NULL;
	to = x->feat->fwd[w];
	return to[0] && !snapshot_find(snap, to, strlen(to)) ? to : NULL;
}

bool route_fwd_routed(const struct ctx *c, const struct snap_ext *x,
		      unsigned w)
{
	const char *to = fwd_external(c->snap, x, w);
	char num[OUT_NUM_MAX + 1];

	return to && outbound_match(outbound_routes_of(c->snap), to,
				    strlen(to), false, num, sizeof(num));
}

void call_route_fwd_out(const struct snapshot *snap,
			const struct snap_ext *caller,
			const struct snap_ext *from, unsigned w,
			enum route_rule rule, unsigned hops,
			const struct route_live *live,
			struct route_result *out)
{
	struct ctx c = { snap, caller, live, out, NULL, ROUTE_SVC_NONE };
	const char *to = fwd_external(snap, from, w);

	memset(out, 0, sizeof(*out));
	out->callee = from;
	out->fwd_rule = rule;
	out->fwd_from = from;
	out->hops = hops + 1;
	if (!to || !route_trunk(&c, from, to, strlen(to), false))
		route_reject(out, ROUTE_R_UNAVAILABLE, 480,
			     "Temporarily Unavailable", "unavailable");
}
