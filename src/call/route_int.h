/*
 * route internals shared by route.c (the rules over an extension) and
 * route_codes.c (feature codes). Not for other modules: route.h is the
 * interface.
 */
#ifndef BULWARK_ROUTE_INT_H
#define BULWARK_ROUTE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "call/route.h"

struct snapshot;
struct snap_ext;

struct ctx {
	const struct snapshot *snap;
	const struct snap_ext *caller;
	const struct route_live *live;
	struct route_result *out;
	/* gates (issue 13): gated's gates up to gate_done were passed */
	const struct snap_ext *gated;
	enum route_svc gate_done;
};

void route_reject(struct route_result *out, enum route_rule rule,
		  unsigned code, const char *reason, const char *disp);
/* An extension a call can ring today: a phone with SIP credentials. */
bool route_rings(const struct snap_ext *x);
/* number is on x's blacklist. */
bool route_blacklisted(const struct snap_ext *x, const char *number);
/* Route to extension x after hops forwards (every rule of x). */
void route_ext(struct ctx *c, const struct snap_ext *x, unsigned hops);
/* What the caller's class of service allows (snap_cos bits); all when
 * the snapshot has no classes (built by hand). */
uint32_t route_cos_allow(const struct snapshot *snap,
			 const struct snap_ext *caller);
/* A dialled feature code (dialled[0] is '*' or '#'). */
void route_code(struct ctx *c, const char *dialled, size_t len,
		uint32_t allow);

/* outbound (issue 15, route_trunk.c): dialled/len is an external
 * number placed by payer (the caller, or the extension forwarding):
 * the outbound route that takes it (emergency routes only, or all),
 * payer's class of service checked (not for emergency routes). true
 * when that decided the call (c->out set: ROUTE_TRUNK or a refusal);
 * false when no route takes it. */
bool route_trunk(struct ctx *c, const struct snap_ext *payer,
		 const char *dialled, size_t len, bool emergency_only);
/* x's forward w (enum snap_fwd) is an external number an outbound route
 * takes (decided when the plan ends: call_route_fwd_out). */
bool route_fwd_routed(const struct ctx *c, const struct snap_ext *x,
		      unsigned w);

#endif
