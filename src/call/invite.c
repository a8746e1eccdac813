/*
 * invite — a new call: an out-of-dialog INVITE is authenticated (407,
 * the same digest code and guard accounting as REGISTER; no state is
 * kept for a request that has not authenticated), given a server
 * transaction, routed (route.c), its offer anchored (media.c) and the
 * callee's contacts rung (bleg.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "call/call_int.h"
#include "call/trunk_in.h"   /* trunk (issue 15) */
#include "common/log.h"
#include "guard/guard.h"
#include "store/snapshot.h"

/* ---- live state for routing ------------------------------------------ */

unsigned call_calls_of(struct call_app *app, const char *number, bool in)
{
	unsigned n = 0;

	for (struct le *le = list_head(&app->calls); le; le = le->next) {
		const struct call *c = le->data;

		if (c->state == CALL_ENDING)
			continue;
		if (!strcmp(in ? c->callee : c->caller, number))
			n++;
	}
	return n;
}

static unsigned live_contacts(const char *number, void *arg)
{
	struct call_app *app = arg;
	const struct reg_binding *b[1];

	return (unsigned)registrar_contacts(app->reg, number,
					    sipd_now(app->sd), b, 1);
}

static unsigned live_in(const char *number, void *arg)
{
	return call_calls_of(arg, number, true);
}

static unsigned live_out(const char *number, void *arg)
{
	return call_calls_of(arg, number, false);
}

/* ---- nonce counts ------------------------------------------------------ */

static struct auth_nc *nc_get(struct call_app *app, const char *number)
{
	uint32_t k = hash_joaat((const uint8_t *)number, strlen(number));
	struct call_nc *n;

	for (struct le *le = hash_list(app->nc, k)->head; le; le = le->next) {
		n = le->data;
		if (!strcmp(n->number, number))
			return &n->nc;
	}
	n = mem_zalloc(sizeof(*n), NULL);
	if (!n)
		return NULL;
	snprintf(n->number, sizeof(n->number), "%s", number);
	hash_append(app->nc, k, &n->le, n);
	return &n->nc;
}

/* ---- the call object ------------------------------------------------- */

void call_destructor(void *arg)
{
	struct call *c = arg;
	struct le *le;

	tmr_cancel(&c->ring);
	tmr_cancel(&c->retx);
	tmr_cancel(&c->out.resp);   /* outbound (issue 15) */
	list_unlink(&c->le);
	saved_req_clear(&c->inv);
	saved_req_clear(&c->fwd.in);
	if (c->fwd.out)
		ctrans_set_user(c->fwd.out, NULL);
	while ((le = list_head(&c->blegs))) {
		struct leg *l = le->data;

		list_unlink(&l->cle);
		if (l == c->a)
			c->a = NULL;
		mem_deref(l);
	}
	/* the caller's leg is in blegs only when a transfer put it there */
	if (c->a && !c->a->cle.list)
		mem_deref(c->a);
	mem_deref(c->offer_a);
	mem_deref(c->offer_b);
	mem_deref(c->sdp_to[0]);
	mem_deref(c->sdp_to[1]);
	mem_deref(c->ok);
	if (c->snap)
		snapshot_deref(c->snap);
	mem_deref(c->trunk_in);   /* trunk (issue 15) */
	if (c->app && c->app->n_calls)
		c->app->n_calls--;
}

static void leg_destructor(void *arg)
{
	struct leg *l = arg;

	hash_unlink(&l->hle);
	if (l->inv)
		ctrans_set_user(l->inv, NULL);
	dialog_reset(&l->dlg);
	mem_deref(l->ack);
}

struct leg *leg_new(struct call *c, bool is_a)
{
	struct leg *l = mem_zalloc(sizeof(*l), leg_destructor);

	if (!l)
		return NULL;
	l->call = c;
	l->is_a = is_a;
	return l;
}

static struct call *call_new(struct call_app *app, const struct sipd_req *rq,
			     const struct snap_ext *caller)
{
	const struct sipmsg *m = rq->m;
	const char *up;
	size_t ul;
	struct call *c = mem_zalloc(sizeof(*c), call_destructor);
	uint8_t rnd[8];

	if (!c)
		return NULL;
	c->app = app;
	list_init(&c->blegs);
	tmr_init(&c->ring);
	tmr_init(&c->retx);
	c->snap = snapshot_ref((struct snapshot *)sipd_snapshot(app->sd));
	c->caller_x = caller;
	randombytes_buf(rnd, sizeof(rnd));
	c->id[0] = 'c';
	sodium_bin2hex(c->id + 1, sizeof(c->id) - 1, rnd, sizeof(rnd));
	snprintf(c->caller, sizeof(c->caller), "%s", caller->number);
	if (m->from.dname.l && m->from.dname.l < sizeof(c->caller_disp))
		snprintf(c->caller_disp, sizeof(c->caller_disp), "%.*s",
			 (int)m->from.dname.l, m->from.dname.p);
	call_uri_user(&m->ruri, &up, &ul);
	/* a longer string is no number we know: it is refused (404) */
	if (ul >= sizeof(c->dialled))
		ul = 0;
	snprintf(c->dialled, sizeof(c->dialled), "%.*s", (int)ul, up);
	c->start_ms = call_unix_ms();
	list_append(&app->calls, &c->le, c);
	app->n_calls++;
	app->c_total++;
	return c;
}

/* A call refused before it rang anything: the CDR says why. */
static void refuse(struct call *c, unsigned code, const char *reason,
		   const char *disp, const char *why, const char *extra)
{
	(void)call_respond(c->app, &c->inv, code, reason, extra, NULL, NULL,
			   0);
	call_end(c, disp, code, "system", why);
}

/* ---- authentication --------------------------------------------------- */

/* The caller: the From user, authenticated by its Proxy-Authorization.
 * Returns it, or NULL when the request was answered (challenged, refused
 * or dropped). *retrans: the transaction absorbed it (a retransmission). */
static const struct snap_ext *authenticate(struct call_app *app,
					   struct sipd_req *rq,
					   struct strans_tx **txp,
					   const char *method)
{
	const struct sipmsg *m = rq->m;
	const struct snap_ext *x;
	const uint8_t *algs;
	struct auth_check ck;
	enum guard_auth res;
	enum guard_verdict gv;
	struct auth_nc *nc;

	x = snapshot_find(sipd_snapshot(app->sd), m->from.user.p,
			  m->from.user.l);
	if (x && !(x->auth && x->algs_pref[0]))
		x = NULL;
	algs = auth_algs(app->auth, x, m->from.user.p, m->from.user.l);
	auth_verify(app->auth, rq, method, x, algs, &ck);
	if (ck.outcome == AUTH_CHALLENGE) {
		auth_challenge(app->auth, rq, algs, false);
		return NULL;
	}
	res = ck.res;
	/* auth_verify passes only a known extension; said here so that no
	 * path below reads a missing one */
	if (res == GUARD_AUTH_OK && !x)
		res = GUARD_AUTH_UNKNOWN_USER;
	/* the digest user must be the From user (no calling as another
	 * extension with one's own password) */
	if (res == GUARD_AUTH_OK &&
	    (ck.user.l != strlen(x->number) ||
	     memcmp(ck.user.p, x->number, ck.user.l)))
		res = GUARD_AUTH_MISMATCH;
	if (res == GUARD_AUTH_OK && ck.stale) {
		auth_challenge(app->auth, rq, algs, true);
		return NULL;
	}
	if (res == GUARD_AUTH_OK &&
	    !(x->transports & (rq->tp == SIPD_UDP ? SNAP_TP_UDP :
			       rq->tp == SIPD_TCP ? SNAP_TP_TCP : SNAP_TP_TLS)))
		res = GUARD_AUTH_TRANSPORT;
	if (res == GUARD_AUTH_OK) {
		/* a retransmission is absorbed before its nonce count is
		 * looked at again */
		enum strans_rx rx = strans_receive(app->st, m, rq->tp, rq->src,
						   rq->conn, call_now_ms(),
						   txp);

		call_tick_schedule(app);
		if (rx != STRANS_RX_NEW) {
			if (rx == STRANS_RX_BAD)
				sipd_reply(rq, 400, "Bad Request", NULL, 0);
			return NULL;
		}
		nc = nc_get(app, x->number);
		if (!nc || auth_nc_check(nc, ck.nid, ck.nc)) {
			/* a replayed nonce count: this request was captured
			 * and sent again */
			size_t n = sipmsg_reply(m, rq->src, 403, "Forbidden",
						NULL, 0,
						sipd_totag_salt(app->sd),
						app->buf, sizeof(app->buf));

			if (n)
				(void)strans_respond(app->st, *txp, 403,
						     app->buf, n,
						     call_now_ms());
			return NULL;
		}
	}
	gv = auth_report(app->auth, rq, &ck, res);
	if (gv == GUARD_DROP) {
		sipd_count_drop(app->sd);
		if (res == GUARD_AUTH_OK && *txp) {
			/* the transaction made above gets a final answer */
			size_t n = sipmsg_reply(m, rq->src, 403, "Forbidden",
						NULL, 0,
						sipd_totag_salt(app->sd),
						app->buf, sizeof(app->buf));

			if (n)
				(void)strans_respond(app->st, *txp, 403,
						     app->buf, n,
						     call_now_ms());
		}
		return NULL;
	}
	if (gv == GUARD_TARPIT)
		rq->tarpit = true;
	if (res == GUARD_AUTH_TRANSPORT) {
		sipd_reply(rq, 403, "Forbidden", NULL, 0);
		return NULL;
	}
	if (res != GUARD_AUTH_OK) {
		app->c_auth_fail++;
		auth_challenge(app->auth, rq, algs, false);
		return NULL;
	}
	return x;
}

void call_route_live(struct call_app *app, struct route_live *live)
{
	live->contacts = live_contacts;
	live->calls_in = live_in;
	live->calls_out = live_out;
	live->calls = app->n_calls;
	live->max_calls = app->max_calls;
	live->seed = (uint32_t)app->next_id++;
	live->arg = app;
	live->last_busy = app->campon ? campon_last_busy : NULL; /* camp-on */
	hdcall_live(app, live);   /* hotdesk (issue 13) */
}

void call_refer_outside(struct call_app *app, struct sipd_req *rq)
{
	struct strans_tx *tx = NULL;

	if (!authenticate(app, rq, &tx, "REFER"))
		return;
	call_answer(app, rq, tx, 403, "Forbidden", NULL);
}

void call_h_unserved(struct sipd_req *rq, void *arg)
{
	struct call_app *app = arg;
	struct strans_tx *tx = NULL;
	const struct snap_ext *x;
	bool sub = sipmsg_eq(&rq->m->met, "SUBSCRIBE");

	/* a refresh or an unsubscribe of a subscription the hook keeps is
	 * authenticated like a new one; any other in-dialog request names
	 * nothing of ours */
	if (rq->m->to.tag.l &&
	    !(sub && app->subh && app->sub_owns &&
	      app->sub_owns(rq, app->sub_arg))) {
		sipd_reply(rq, 481, "Call/Transaction Does Not Exist", NULL, 0);
		return;
	}
	x = authenticate(app, rq, &tx, sub ? "SUBSCRIBE" : "MESSAGE");
	if (!x)
		return;
	if (sub && app->subh)
		app->subh(rq, tx, x, app->sub_arg);
	else if (sub)
		call_answer(app, rq, tx, 489, "Bad Event", NULL);
	else
		call_answer(app, rq, tx, 405, "Method Not Allowed",
			    "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, "
			    "INFO, REFER\r\n");
}

/* A live call whose caller's dialog has this request's Call-ID and From
 * tag. */
static bool merged(struct call_app *app, const struct sipmsg *m)
{
	uint32_t k = hash_joaat((const uint8_t *)m->callid.p, m->callid.l);

	for (struct le *le = hash_list(app->legs, k)->head; le;
	     le = le->next) {
		const struct leg *l = le->data;

		if (l == l->call->a && l->call->state != CALL_ENDING &&
		    strlen(l->dlg.callid) == m->callid.l &&
		    !memcmp(l->dlg.callid, m->callid.p, m->callid.l) &&
		    strlen(l->dlg.rtag) == m->from.tag.l &&
		    (!m->from.tag.l ||
		     !memcmp(l->dlg.rtag, m->from.tag.p, m->from.tag.l)))
			return true;
	}
	return false;
}

/* ---- the handler ------------------------------------------------------ */

void call_h_invite(struct sipd_req *rq, void *arg)
{
	struct call_app *app = arg;
	const struct sipmsg *m = rq->m;
	const struct snap_ext *caller;
	struct strans_tx *tx = NULL;
	struct route_result rr;
	struct route_live live;
	struct call *c;
	const char *reason = NULL;
	unsigned code;
	size_t n;
	struct trunk_caller *tin;   /* trunk (issue 15) */
	bool from_trunk;

	if (m->to.tag.l) {
		struct leg *l = leg_find(app, m);

		if (!l) {
			sipd_reply(rq, 481, "Call/Transaction Does Not Exist",
				   NULL, 0);
			return;
		}
		call_indialog(app, rq, l);
		return;
	}
	/* trunk (issue 15): from a trunk's address, not challenged: the
	 * DID says where it goes (trunk_in.h); else the caller authenticates */
	tin = trunk_in_caller(app, rq, &tx, &from_trunk);
	caller = from_trunk ? (tin ? &tin->x : NULL) :
		authenticate(app, rq, &tx, "INVITE");
	if (!caller)
		return;
	/* RFC 3261 16.3, 8.2.2.2: no hops left; a second INVITE of a call
	 * we already have (another branch: a loop or a fork merged back) */
	if (m->maxfwd == 0) {
		call_answer(app, rq, tx, 483, "Too Many Hops", NULL);
		mem_deref(tin);
		return;
	}
	if (merged(app, m)) {
		call_answer(app, rq, tx, 482, "Loop Detected", NULL);
		mem_deref(tin);
		return;
	}
	/* 100 Trying at once: the phone stops retransmitting */
	n = sipmsg_reply(m, rq->src, 100, "Trying", NULL, 0, NULL, app->buf,
			 sizeof(app->buf));
	if (n)
		(void)strans_respond(app->st, tx, 100, app->buf, n,
				     call_now_ms());
	c = call_new(app, rq, caller);
	if (c && tin)   /* trunk (issue 15): the call owns its caller */
		caller = trunk_in_attach(c, tin);
	else
		mem_deref(tin);
	if (!c || saved_req_set(&c->inv, rq, tx)) {
		if (c)
			call_end(c, "failed", 500, "system", "no memory");
		n = sipmsg_reply(m, rq->src, 500, "Server Internal Error",
				 NULL, 0, sipd_totag_salt(app->sd), app->buf,
				 sizeof(app->buf));
		if (n)
			(void)strans_respond(app->st, tx, 500, app->buf, n,
					     call_now_ms());
		return;
	}
	/* the A leg: our side of the caller's dialog */
	c->a = leg_new(c, true);
	if (c->a) {
		char tag[9];

		sipmsg_totag(m, sipd_totag_salt(app->sd), tag);
		tag[8] = '\0';
		if (dialog_uas(&c->a->dlg, m, tag, 8, rq->tp, rq->src,
			       rq->conn)) {
			refuse(c, 400, "Bad Request", "failed",
			       "bad dialog headers", NULL);
			return;
		}
		c->a->x = caller;
		c->a->nat = caller->nat;
		c->a->sig = *rq->src;
		leg_index(app, c->a);
	}
	else {
		refuse(c, 500, "Server Internal Error", "failed", "no memory",
		       NULL);
		return;
	}
	/* hotdesk (issue 13): a phone a hotdesk user is logged in at calls
	 * as that user (c->caller, c->caller_x: identity, class of service,
	 * limits) */
	if (!c->trunk_in)   /* trunk (issue 15): no phone of ours */
		caller = hdcall_caller(c, caller);
	/* where does it go */
	call_route_live(app, &live);
	trunk_out_live(c, &live);   /* outbound (issue 15) */
	live.calls--;   /* this one is counted already */
	c->caller[0] = '\0';   /* not counted against its own limit yet */
	call_route(c->snap, caller, c->dialled, strlen(c->dialled), &live,
		   &rr);
	snprintf(c->caller, sizeof(c->caller), "%s", caller->number);
	if (rr.kind == ROUTE_REJECT) {
		const char *extra = rr.code == 503 ? "Retry-After: 5\r\n" :
			NULL;

		if (rr.rule == ROUTE_R_CALLER_LIMIT ||
		    rr.rule == ROUTE_R_CALLEE_LIMIT ||
		    rr.rule == ROUTE_R_GLOBAL_LIMIT) {
			app->c_limit++;
			call_event(app, "call_limit", json_pack(
				"{s:s,s:s,s:s}", "caller", c->caller,
				"dialled", c->dialled,
				"rule", route_rule_str(rr.rule)));
		}
		if (rr.fwd_rule != ROUTE_R_NONE) {
			c->fwd_rule = rr.fwd_rule;
			snprintf(c->fwd_from, sizeof(c->fwd_from), "%s",
				 rr.fwd_from->number);
			snprintf(c->fwd_to, sizeof(c->fwd_to), "%s",
				 rr.callee ? rr.callee->number : "");
		}
		if (rr.callee)
			snprintf(c->callee, sizeof(c->callee), "%s",
				 rr.callee->number);
		refuse(c, rr.code, rr.reason, rr.disposition,
		       route_rule_str(rr.rule), extra);
		return;
	}
	/* a service's codecs: the mailbox's, or the caller's own (mailbox
	 * access) */
	c->callee_x = rr.callee ? rr.callee : rr.mailbox ? rr.mailbox :
		caller;
	/* *98 has neither: the code dialled (cut to fit, as a CDR field) */
	snprintf(c->callee, sizeof(c->callee), "%.*s",
		 (int)sizeof(c->callee) - 1, rr.callee ?
		 rr.callee->number : rr.mailbox ? rr.mailbox->number :
		 c->dialled);
	code = media_offer(c, m, &reason);
	if (code) {
		refuse(c, code, reason, code == 488 ? "rejected" : "failed",
		       "sdp", code == 488 ? "Warning: 304 bulwark \"Media "
		       "type not available\"\r\n" : NULL);
		return;
	}
	ring_plan(c, &rr);
}
