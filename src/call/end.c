/*
 * end — the end of a call: the legs still up are hung up (BYE) or
 * cancelled, the relay session destroyed, and the call's record handed
 * to the CDR writer once the relay has given its final counters (or after
 * CALL_CDR_WAIT_MS without them).
 */
#include <stdio.h>
#include <string.h>

#include "call/call_int.h"
#include "call/outbound.h"   /* outbound (issue 15) */
#include "common/log.h"

static void cdr_put(struct call_app *app, struct cdr_rec *r)
{
	log_info(MOD, "call %s: packets %llu from the caller, %llu from the "
		 "callee; %llu, %llu dropped (wrong source)", r->id,
		 (unsigned long long)r->pkts[0], (unsigned long long)r->pkts[1],
		 (unsigned long long)r->dropped[0],
		 (unsigned long long)r->dropped[1]);
	app->c_pkts += r->pkts[0] + r->pkts[1];
	app->c_dropped += r->dropped[0] + r->dropped[1];
	if (app->cdrh)
		app->cdrh(r, app->cdr_arg);
}

static void fill(struct cdr_rec *r, const struct call *c,
		 const struct relay_leg_stats st[2])
{
	for (int i = 0; i < 2; i++) {
		r->pkts[i] = st[i].in_pkts;
		r->lost[i] = st[i].rtp_lost;
		r->dropped[i] = st[i].drop_source;
	}
	(void)c;
}

static void wait_tick(void *arg)
{
	struct call_app *app = arg;
	uint64_t now = call_now_ms();
	struct le *le = list_head(&app->cdr_wait);

	while (le) {
		struct cdr_wait *w = le->data;

		le = le->next;
		if (w->deadline > now)
			continue;
		list_unlink(&w->le);
		cdr_put(app, &w->rec);
		mem_deref(w);
	}
	if (list_head(&app->cdr_wait))
		tmr_start(&app->cdr_tmr, 1000, wait_tick, app);
}

void cdr_counters(struct call_app *app, uint32_t relay_id,
		  const struct relay_leg_stats st[2])
{
	for (struct le *le = list_head(&app->cdr_wait); le; le = le->next) {
		struct cdr_wait *w = le->data;

		if (w->relay_id != relay_id)
			continue;
		fill(&w->rec, NULL, st);
		list_unlink(&w->le);
		cdr_put(app, &w->rec);
		mem_deref(w);
		return;
	}
}

void cdr_flush_all(struct call_app *app)
{
	struct le *le;

	while ((le = list_head(&app->cdr_wait))) {
		struct cdr_wait *w = le->data;

		list_unlink(&w->le);
		cdr_put(app, &w->rec);
		mem_deref(w);
	}
}

static void record(struct call *c, struct cdr_rec *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", c->id);
	r->start_ms = c->start_ms;
	r->answer_ms = c->answer_ms;
	r->end_ms = call_unix_ms();
	snprintf(r->caller, sizeof(r->caller), "%s", c->caller);
	snprintf(r->callee, sizeof(r->callee), "%s", c->callee);
	snprintf(r->dialled, sizeof(r->dialled), "%s", c->dialled);
	snprintf(r->disposition, sizeof(r->disposition), "%s",
		 c->disp ? c->disp : "failed");
	r->cause = c->cause;
	snprintf(r->hangup_side, sizeof(r->hangup_side), "%s",
		 c->side ? c->side : "system");
	snprintf(r->reason, sizeof(r->reason), "%s",
		 c->reason ? c->reason : "");
	snprintf(r->codec, sizeof(r->codec), "%s", c->codec);
	if (c->fwd_rule != ROUTE_R_NONE) {
		snprintf(r->fwd_rule, sizeof(r->fwd_rule), "%s",
			 route_rule_str(c->fwd_rule));
		snprintf(r->fwd_from, sizeof(r->fwd_from), "%s", c->fwd_from);
		snprintf(r->fwd_to, sizeof(r->fwd_to), "%s", c->fwd_to);
	}
	fill(r, c, c->st);
	snprintf(r->recording, sizeof(r->recording), "%s", c->rec_path);
	if (c->out.live) {   /* outbound (issue 15) */
		snprintf(r->trunk, sizeof(r->trunk), "%s", c->out.trunk);
		snprintf(r->route, sizeof(r->route), "%s", c->out.r->name);
	}
}

static const char *phrase(unsigned code)
{
	switch (code) {
	case 486:
		return "Busy Here";
	case 487:
		return "Request Terminated";
	case 488:
		return "Not Acceptable Here";
	case 480:
		return "Temporarily Unavailable";
	case 404:
		return "Not Found";
	case 403:
		return "Forbidden";
	default:
		return "Service Unavailable";
	}
}

void call_end(struct call *c, const char *disp, unsigned cause,
	      const char *side, const char *reason)
{
	struct call_app *app = c->app;
	bool answered = c->state == CALL_ANSWERED;
	struct cdr_rec rec;

	if (c->state == CALL_ENDING)
		return;
	c->state = CALL_ENDING;
	svc_closed(c);
	c->disp = disp;
	c->cause = cause;
	c->side = side;
	c->reason = reason;
	/* calls the PBX placed; camp-on (issue 13) */
	orig_ending(c, answered);
	trunk_out_ending(c);   /* outbound (issue 15): toll counts */
	if (app->campon)
		campon_ended(app->campon, c);
	/* the caller never goes without a final answer */
	if (c->inv.tx && !answered) {
		unsigned code = cause >= 300 ? cause : 503;

		(void)call_respond(app, &c->inv, code, phrase(code), NULL,
				   NULL, NULL, 0);
	}
	if (answered) {
		bool from_caller = side && !strcmp(side, "caller");
		bool from_callee = side && !strcmp(side, "callee");

		if (!from_caller && c->a)
			(void)call_leg_request(app, c->a, "BYE", NULL, NULL,
					       NULL, 0, NULL, NULL);
		if (!from_callee && c->win)
			(void)call_leg_request(app, c->win, "BYE", NULL, NULL,
					       NULL, 0, NULL, NULL);
	}
	bleg_cancel_others(c, c->win);
	if (!answered)
		app->c_failed++;
	log_info(MOD, "call %s: %s -> %s ended: %s, %u, %s (%s)", c->id,
		 c->caller, c->dialled, disp, cause, side ? side : "system",
		 reason ? reason : "");
	record(c, &rec);
	call_rec_end(c);
	moh_stop(c);
	if (c->relay_live) {
		struct cdr_wait *w = mem_zalloc(sizeof(*w), NULL);

		if (w) {
			w->relay_id = c->relay_id;
			w->deadline = call_now_ms() + CALL_CDR_WAIT_MS;
			w->rec = rec;
			list_append(&app->cdr_wait, &w->le, w);
			if (!tmr_isrunning(&app->cdr_tmr))
				tmr_start(&app->cdr_tmr, 1000, wait_tick,
					  app);
		}
		else {
			cdr_put(app, &rec);
		}
		media_close(c);
	}
	else {
		cdr_put(app, &rec);
	}
	mem_deref(c);
}
