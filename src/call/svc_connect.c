/*
 * svc_connect — a service that answered a caller hands it on to an
 * extension (svc.h call_svc_connect): the call password once the right
 * password was typed, the personal IVR's choices. The caller's side is
 * already answered (our 200, its ACK), so nothing is said to it while
 * the target rings: the service's endpoint is closed, the number is
 * routed as if the caller had dialled it (call_route_connect: the gates
 * the service just passed are not asked again) and rung with the offer
 * narrowed to the codec the caller already has; the first B leg that
 * answers takes the relay's B side (as a transfer target does, xfer.c).
 * When nobody answers, the plan's own end applies (no-answer or busy
 * forward, the mailbox through svc_start, which then serves an answered
 * call), else the caller is hung up with a log line saying why.
 * docs/internals/calls.md, "Services: handing on".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "call/call_int.h"
#include "common/log.h"
#include "store/snapshot.h"

#define SVC_CONNECT_MAX 4   /* hand-ons one call may make */

static struct call *answered_svc(struct call_app *app, uint64_t h)
{
	for (struct le *le = list_head(&app->calls); le; le = le->next) {
		struct call *c = le->data;

		if (c->svc && c->svc_sess && c->svc_handle == h)
			return c->state == CALL_ANSWERED && c->svc_started ?
				c : NULL;
	}
	return NULL;
}

/* The offer to the target carries only what the caller has now: the
 * service's codec and telephone-event. */
static int narrow(struct call *c)
{
	int pt, te;

	if (media_svc_pick(c, &pt, &te))
		return EPROTO;
	sdp_ptset_clear(&c->pts);
	sdp_ptset_add(&c->pts, (unsigned)pt);
	if (te >= 0)
		sdp_ptset_add(&c->pts, (unsigned)te);
	return 0;
}

int call_svc_connect(struct call_app *app, uint64_t handle,
		     const char *number)
{
	struct call *c = app && number ? answered_svc(app, handle) : NULL;
	const struct snap_ext *to, *gated;
	struct route_result rr;
	struct route_live live;
	enum route_rule gate;
	char callee[sizeof(c->callee)];

	if (!c)
		return ENOENT;
	to = snapshot_find(c->snap, number, strlen(number));
	if (!to)
		return ENOENT;   /* not an extension (external: trunks) */
	if (c->handons >= SVC_CONNECT_MAX)
		return ELOOP;
	gated = c->callee_x;
	gate = c->svc_kind == ROUTE_SVC_CALLPW ? ROUTE_R_CALLPW :
		ROUTE_R_PIVR;
	/* this call is not a call in to the extension it is leaving */
	snprintf(callee, sizeof(callee), "%s", c->callee);
	c->callee[0] = '\0';
	call_route_live(app, &live);
	trunk_out_live(c, &live);   /* outbound (issue 15) */
	call_route_connect(c->snap, c->caller_x, gated, c->svc_kind, to,
			   c->plan.hops, &live, &rr);
	snprintf(c->callee, sizeof(c->callee), "%s", callee);
	if (rr.kind == ROUTE_REJECT) {
		log_info(MOD, "call %s: %s hands %s on to %s: refused (%s)",
			 c->id, route_rule_str(gate), c->caller, number,
			 route_rule_str(rr.rule));
		return EACCES;   /* the service goes on: it says so */
	}
	if (rr.kind == ROUTE_TRUNK) {   /* outbound (issue 15): a caller a
					 * service answered is handed on to
					 * extensions only */
		log_info(MOD, "call %s: %s hands %s on to %s: refused "
			 "(external)", c->id, route_rule_str(gate), c->caller,
			 number);
		return EACCES;
	}
	if (narrow(c))
		return EPROTO;
	c->handons++;
	/* the service is done with this caller */
	svc_closed(c);
	c->svc_handle = 0;
	c->fwd_rule = gate;
	snprintf(c->fwd_from, sizeof(c->fwd_from), "%s",
		 gated ? gated->number : "");
	snprintf(c->fwd_to, sizeof(c->fwd_to), "%s",
		 rr.callee ? rr.callee->number : number);
	log_info(MOD, "call %s: %s hands %s on to %s", c->id,
		 route_rule_str(gate), c->caller, c->fwd_to);
	if (rr.kind == ROUTE_SERVICE) {
		/* another gate, a mailbox: a service again, on the answered
		 * call */
		svc_start(c, &rr);
		return 0;
	}
	c->handon = true;
	ring_plan(c, &rr);
	return 0;
}

void svc_connect_answered(struct call *c, struct leg *l,
			  const struct sipmsg *m)
{
	struct call_app *app = c->app;
	size_t blen = 0;

	/* the answer is checked against our offer; the body written for
	 * the caller is not sent: it has the relay's description already */
	if (media_answer(c, l, m, &blen)) {
		(void)call_leg_request(app, l, "BYE", NULL, NULL, NULL, 0, NULL,
				       NULL);
		l->failed = true;
		log_warn(MOD, "call %s: %s answered with an unusable "
			 "description: the caller is hung up", c->id,
			 l->x->number);
		call_end(c, "failed", 488, "callee", "bad sdp answer");
		return;
	}
	if (l->nat)
		(void)relay_leg_relearn(app->relay, c->relay_id, RELAY_LEG_B);
	c->handon = false;
	c->svc = false;   /* a call between two phones from now on */
	c->win = l;
	c->callee_x = l->x;
	snprintf(c->callee, sizeof(c->callee), "%s", l->x->number);
	snprintf(c->fwd_to, sizeof(c->fwd_to), "%s", l->x->number);
	tmr_cancel(&c->ring);
	bleg_cancel_others(c, l);
	log_info(MOD, "call %s: %s -> %s answered after %s (%s)", c->id,
		 c->caller, c->callee, route_rule_str(c->fwd_rule), c->codec);
}

void svc_connect_failed(struct call *c, unsigned code, const char *disp,
			const char *side, const char *why)
{
	c->handon = false;
	log_info(MOD, "call %s: handed on by %s, %s did not take it (%s): "
		 "the caller is hung up", c->id, route_rule_str(c->fwd_rule),
		 c->callee, why ? why : disp);
	call_end(c, disp, code, side, why);
}
