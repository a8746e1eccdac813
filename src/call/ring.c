/*
 * ring — carrying out routing's plan (route.h): each step rings the
 * contacts of its extensions together for the step's ring time; when the
 * time runs out or every leg of the step failed, the next step rings;
 * after the last, the no-answer forward (or, when every leg said busy,
 * the busy forward) is routed again (call_route_forward) and its plan
 * replaces this one. Legs of a step that ended are cancelled; their late
 * answers are ignored (leg.gen).
 */
#include <stdio.h>
#include <string.h>

#include "call/call_int.h"
#include "common/log.h"
#include "store/snapshot.h"

static void step_start(struct call *c);

/* The call ends with code (nothing more to ring). */
static void give_up(struct call *c, unsigned code, const char *reason,
		    const char *disp, const char *side, const char *why)
{
	if (c->handon) {   /* issue 13: the caller was answered already */
		svc_connect_failed(c, code, disp, side, why);
		return;
	}
	(void)call_respond(c->app, &c->inv, code, reason, NULL, NULL, NULL,
			   0);
	call_end(c, disp, code, side, why);
}

static void note_forward(struct call *c, const struct route_result *rr)
{
	if (rr->fwd_rule == ROUTE_R_NONE)
		return;
	c->fwd_rule = rr->fwd_rule;
	snprintf(c->fwd_from, sizeof(c->fwd_from), "%s",
		 rr->fwd_from ? rr->fwd_from->number : "");
	snprintf(c->fwd_to, sizeof(c->fwd_to), "%s",
		 rr->callee ? rr->callee->number : "");
	log_info(MOD, "call %s: %s forwards to %s (%s)", c->id, c->fwd_from,
		 c->fwd_to, route_rule_str(rr->fwd_rule));
}

/* Forward the ringing call (rule: busy or no answer) to `to`. */
static void forward(struct call *c, const struct snap_ext *to,
		    enum route_rule rule)
{
	struct route_result rr;
	struct route_live live;

	bleg_cancel_others(c, NULL);
	call_route_live(c->app, &live);
	trunk_out_live(c, &live);   /* outbound (issue 15) */
	call_route_forward(c->snap, c->caller_x, c->plan.callee, to, rule,
			   c->plan.hops, &live, &rr);
	note_forward(c, &rr);
	if (rr.kind == ROUTE_REJECT) {
		if (rr.callee)
			snprintf(c->callee, sizeof(c->callee), "%s",
				 rr.callee->number);
		give_up(c, rr.code, rr.reason, rr.disposition, "system",
			route_rule_str(rr.rule));
		return;
	}
	ring_plan(c, &rr);
}

/* Nothing of the plan is left to ring: the forward that applies, or the
 * answer (side and why for the CDR). */
/* outbound (issue 15): the forward of the plan's callee for the
 * outcome is an external number: out on a trunk, as the callee's call. */
static void forward_out(struct call *c, unsigned w, enum route_rule rule)
{
	struct route_result rr;
	struct route_live live;

	bleg_cancel_others(c, NULL);
	call_route_live(c->app, &live);
	trunk_out_live(c, &live);
	call_route_fwd_out(c->snap, c->caller_x, c->plan.callee, w, rule,
			   c->plan.hops, &live, &rr);
	note_forward(c, &rr);
	if (rr.kind == ROUTE_REJECT) {
		give_up(c, rr.code, rr.reason, rr.disposition, "system",
			route_rule_str(rr.rule));
		return;
	}
	ring_plan(c, &rr);
}

static void plan_done(struct call *c, bool busy, unsigned code,
		      const char *reason, const char *disp, const char *side,
		      const char *why)
{
	if (busy && c->plan.busy) {
		forward(c, c->plan.busy, ROUTE_R_FWD_BUSY);
		return;
	}
	if (!busy && c->plan.noanswer) {
		forward(c, c->plan.noanswer, ROUTE_R_FWD_NOANSWER);
		return;
	}
	if (busy ? c->plan.busy_out : c->plan.noanswer_out) {   /* issue 15 */
		forward_out(c, busy ? SNAP_FWD_BUSY : SNAP_FWD_NOANSWER,
			    busy ? ROUTE_R_FWD_BUSY : ROUTE_R_FWD_NOANSWER);
		return;
	}
	/* no forward for the outcome: the callee's own mailbox */
	if (busy ? c->plan.vm_busy : c->plan.vm_noanswer) {
		struct route_result rr = c->plan;

		rr.kind = ROUTE_SERVICE;
		rr.svc = ROUTE_SVC_DEPOSIT;
		rr.mailbox = busy ? c->plan.vm_busy : c->plan.vm_noanswer;
		rr.greet = busy ? ROUTE_GREET_BUSY : ROUTE_GREET_UNAVAIL;
		c->fwd_rule = ROUTE_R_VOICEMAIL;
		snprintf(c->fwd_from, sizeof(c->fwd_from), "%s",
			 rr.mailbox->number);
		snprintf(c->fwd_to, sizeof(c->fwd_to), "voicemail");
		svc_start(c, &rr);
		return;
	}
	give_up(c, code, reason, disp, side, why);
}

static void step_next(struct call *c, bool busy, unsigned code,
		      const char *reason, const char *disp, const char *side,
		      const char *why)
{
	if (c->step + 1 < c->plan.n_steps) {
		bleg_cancel_others(c, NULL);
		c->step++;
		step_start(c);
		return;
	}
	plan_done(c, busy, code, reason, disp, side, why);
}

static void step_timeout(void *arg)
{
	struct call *c = arg;

	if (c->state != CALL_RINGING && !c->handon)
		return;
	step_next(c, false, 480, "Temporarily Unavailable", "noanswer",
		  "system", "ring timeout");
}

void ring_step_failed(struct call *c, bool busy, unsigned code,
		      const char *reason, const char *disp)
{
	tmr_cancel(&c->ring);
	/* a busy step goes on to the next one too (a hunt's next member,
	 * the follow-me list); the busy forward applies when the last step
	 * was busy */
	step_next(c, busy, code, reason, disp, "callee", reason);
}

/* Ring every contact of x; returns how many legs started. */
static size_t ring_ext(struct call *c, const struct snap_ext *x)
{
	struct call_app *app = c->app;
	const struct reg_binding *b[CALL_MAX_FORK];
	size_t n = registrar_contacts(app->reg, x->number, sipd_now(app->sd),
				      b, CALL_MAX_FORK);
	size_t started = 0;

	for (size_t i = 0; i < n; i++) {
		/* legs a call keeps are bounded */
		if (list_count(&c->blegs) >= CALL_MAX_LEGS)
			break;
		/* a phone on TCP is reached only over its own connection */
		if (b[i]->tp != REG_TP_UDP &&
		    !sipd_conn_alive(app->sd, b[i]->conn_id))
			continue;
		/* tls: only over a transport the extension allows (a
		 * binding made before phone.transports changed) */
		if (!(x->transports & (1u << b[i]->tp)))
			continue;
		if (!bleg_start(c, x, reg_binding_uri(b[i]),
				reg_binding_target(b[i]),
				(enum sipd_tp)b[i]->tp,
				b[i]->conn_id, b[i]->nat))
			started++;
	}
	return started;
}

static void step_start(struct call *c)
{
	for (;;) {
		const struct route_step *s = &c->plan.steps[c->step];
		size_t started = 0;

		c->gen++;
		for (size_t i = 0; i < s->n; i++)
			started += ring_ext(c, c->plan.targets[s->first + i]);
		if (started) {
			tmr_start(&c->ring, s->ring_s ? s->ring_s * 1000u :
				  CALL_RING_MS, step_timeout, c);
			return;
		}
		if (c->step + 1 >= c->plan.n_steps)
			break;
		c->step++;
	}
	plan_done(c, false, 480, "Temporarily Unavailable", "unavailable",
		  "system", "no contact reachable");
}

void ring_plan(struct call *c, const struct route_result *rr)
{
	if (rr->kind == ROUTE_SERVICE) {
		note_forward(c, rr);
		svc_start(c, rr);
		return;
	}
	if (rr->kind == ROUTE_TRUNK) {   /* outbound (issue 15) */
		note_forward(c, rr);
		trunk_out_start(c, rr);
		return;
	}
	c->plan = *rr;
	c->step = 0;
	note_forward(c, rr);
	c->callee_x = rr->callee;
	snprintf(c->callee, sizeof(c->callee), "%s", rr->callee->number);
	if (!c->plan.n_steps) {
		give_up(c, 480, "Temporarily Unavailable", "unavailable",
			"system", "nothing to ring");
		return;
	}
	step_start(c);
}
