/*
 * bleg — the B legs of a call: one INVITE per contact of the callee, in
 * parallel; provisional responses relayed to the caller, the first 2xx
 * wins (ACKed, answered to the caller, the others cancelled), a 2xx that
 * comes too late is ACKed and hung up, and when every leg has failed the
 * caller gets the answer that says the most (busy, declined, no answer).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "call/call_int.h"
#include "call/callerid.h"
#include "common/log.h"
#include "store/snapshot.h"

static const char allow_hdr[] =
	"Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO\r\n";

int bleg_start(struct call *c, const struct snap_ext *x, const char *uri,
	       const struct sa *dst, enum sipd_tp tp, uint64_t conn, bool nat)
{
	struct call_app *app = c->app;
	const struct snapshot *s = c->snap;
	const char *realm = s->realm[0] ? s->realm : SIPD_DEFAULT_REALM;
	char from[128], to[128];
	struct cid id;
	struct leg *l;
	size_t off, blen;
	int err;

	l = leg_new(c, false);
	if (!l)
		return ENOMEM;
	/* the caller's internal caller ID, never what its phone asserts */
	callerid_internal(c->caller_x, c->caller_disp, strlen(c->caller_disp),
			  &id);
	snprintf(from, sizeof(from), "sip:%s@%s", id.number[0] ? id.number :
		 c->caller, realm);
	snprintf(to, sizeof(to), "sip:%s@%s", x->number, realm);
	err = dialog_uac(&l->dlg, id.name, from, to, uri, tp, dst, conn);
	if (err) {
		mem_deref(l);
		return err;
	}
	snprintf(l->uri, sizeof(l->uri), "%s", uri);
	l->x = x;
	l->gen = c->gen;
	l->nat = nat || x->nat;
	l->sig = *dst;
	list_append(&c->blegs, &l->cle, l);
	leg_index(app, l);
	if (media_offer_for(c, l, &blen))
		return EINVAL;   /* the leg stays, failed: freed with the call */
	off = call_contact(app, l, c->caller, 0);
	if (off + sizeof(allow_hdr) < sizeof(app->xbuf)) {
		memcpy(app->xbuf + off, allow_hdr, sizeof(allow_hdr));
		off += sizeof(allow_hdr) - 1;
	}
	app->xbuf[off] = '\0';
	(void)callerid_invite_hdrs(app->xbuf, sizeof(app->xbuf), off, x, &id,
				   realm);
	l->inv_cseq = l->dlg.lcseq + 1;
	err = call_leg_request(app, l, "INVITE", app->xbuf, "application/sdp",
			       app->body, blen, &l->inv, l);
	if (err) {
		l->failed = true;
		l->code = 503;
		return err;
	}
	return 0;
}

static void send_cancel(struct call_app *app, struct leg *l)
{
	struct ctrans_tx *tx;
	size_t n;

	if (!l->inv || ctrans_state(l->inv) != CTRANS_PROCEEDING)
		return;
	n = ctrans_cancel(l->inv, app->buf, sizeof(app->buf));
	if (n && ctrans_send(app->ct, l->dlg.tp, &l->dlg.dst, l->dlg.conn,
			     app->buf, n, call_now_ms(), &tx))
		log_warn(MOD, "call %s: the CANCEL of a leg could not go",
			 l->call->id);
	call_tick_schedule(app);
}

void bleg_cancel_others(struct call *c, struct leg *keep)
{
	for (struct le *le = list_head(&c->blegs); le; le = le->next) {
		struct leg *l = le->data;

		if (l == keep || l->failed || l->ack)
			continue;
		l->cancel = true;
		send_cancel(c->app, l);
	}
}

/* ACK a 2xx of l's INVITE (end to end, a transaction of its own). */
void bleg_ack(struct call_app *app, struct leg *l)
{
	char branch[40];
	struct sa la;
	size_t n;

	if (call_laddr(app, l, &la))
		return;
	ctrans_branch(branch, sizeof(branch));
	n = dialog_request(&l->dlg, "ACK", l->inv_cseq, branch, &la, NULL,
			   NULL, NULL, 0, app->buf, sizeof(app->buf));
	if (!n)
		return;
	mem_deref(l->ack);
	l->ack = mem_alloc(n, NULL);
	if (l->ack) {
		memcpy(l->ack, app->buf, n);
		l->ack_len = n;
	}
	(void)sipd_send(app->sd, l->dlg.tp, &l->dlg.dst, l->dlg.conn,
			app->buf, n);
}

/* Every leg has a final non-2xx answer: tell the caller. */
static void all_failed(struct call *c)
{
	bool busy = false, decline = false, timeout = true;
	const char *disp = "unavailable", *reason = "Temporarily Unavailable";
	unsigned code = 480;

	for (struct le *le = list_head(&c->blegs); le; le = le->next) {
		const struct leg *l = le->data;

		if (l->gen != c->gen)
			continue;   /* a step before: cancelled */
		if (!l->failed)
			return;
		busy |= l->code == 486 || l->code == 600;
		decline |= l->code == 603;
		timeout &= l->code == 408;
	}
	if (busy) {
		code = 486;
		reason = "Busy Here";
		disp = "busy";
	}
	else if (decline) {
		code = 603;
		reason = "Decline";
		disp = "rejected";
	}
	else if (timeout) {
		disp = "noanswer";
	}
	ring_step_failed(c, busy || decline, code, reason, disp);
}

void bleg_timeout(struct call_app *app, struct leg *l)
{
	struct call *c = l->call;

	if (l->orig) {   /* a call the PBX placed: its A leg */
		orig_timeout(app, l);
		return;
	}
	if (l->refresh) {
		l->refresh = false;
		return;
	}
	if (l->xfer) {
		xfer_timeout(app, l);
		return;
	}
	if (l->failed || l->ack || (c->state != CALL_RINGING && !c->handon))
		return;
	if (l->trunk) {   /* outbound (issue 15): the next trunk */
		trunk_out_timeout(app, l);
		return;
	}
	l->failed = true;
	l->code = 408;
	if (l->gen == c->gen)
		all_failed(c);
}

static bool has_sdp(const struct sipmsg *m)
{
	const struct sipmsg_hdr *ct = sipmsg_hdr(m, SH_CTYPE);

	return m->body.l && ct && ct->val.l >= 15 &&
		!strncasecmp(ct->val.p, "application/sdp", 15);
}

/* A provisional response of a B leg: relayed to the caller (its SDP, if
 * any, is early media). */
static void provisional(struct call_app *app, struct call *c, struct leg *l,
			const struct sipmsg *m)
{
	size_t off, blen = 0;
	bool early = false;

	(void)dialog_uac_update(&l->dlg, m, false);
	if (l->cancel) {
		send_cancel(app, l);
		return;
	}
	if (c->state != CALL_RINGING || m->scode == 100)
		return;
	if (m->scode == 183 && has_sdp(m))
		early = !media_answer(c, l, m, &blen);
	off = call_contact(app, c->a, c->callee, 0);
	app->xbuf[off < sizeof(app->xbuf) ? off : 0] = '\0';
	if (early)
		(void)call_respond(app, &c->inv, 183, "Session Progress",
				   app->xbuf, NULL, app->body, blen);
	else
		(void)call_respond(app, &c->inv, 180, "Ringing", app->xbuf,
				   NULL, NULL, 0);
}

static void retx_2xx(void *arg)
{
	struct call *c = arg;
	struct leg *a = c->a;

	if (!c->ok)
		return;
	if (++c->retx_n >= 7) {   /* 64*T1 has passed: no ACK came */
		c->ok = mem_deref(c->ok);
		call_end(c, "answered", 408, "system", "no ack");
		return;
	}
	(void)sipd_send(c->app->sd, a->dlg.tp, &a->dlg.dst, a->dlg.conn,
			c->ok, c->ok_len);
	{
		uint64_t t = (uint64_t)CALL_T1 << c->retx_n;

		tmr_start(&c->retx, t > 4000 ? 4000 : t, retx_2xx, c);
	}
}

void call_ok_a(struct call *c, size_t blen)
{
	static const char allow[] =
		"Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO\r\n";
	struct call_app *app = c->app;
	size_t off, n;

	c->state = CALL_ANSWERED;
	c->answer_ms = call_unix_ms();
	app->c_answered++;
	call_rec_answered(c);
	tmr_cancel(&c->ring);
	off = call_contact(app, c->a, c->callee, 0);
	if (off + sizeof(allow) < sizeof(app->xbuf)) {
		memcpy(app->xbuf + off, allow, sizeof(allow));
		off += sizeof(allow) - 1;
	}
	app->xbuf[off] = '\0';
	if (c->win && c->win->x) {   /* connected line: who answered */
		struct cid id;

		callerid_for(c->callee_x, CID_INTERNAL, &id);
		(void)callerid_answer_hdrs(app->xbuf, sizeof(app->xbuf), off,
					   c->caller_x, &id, c->snap->realm[0] ?
					   c->snap->realm : SIPD_DEFAULT_REALM);
	}
	n = call_respond(app, &c->inv, 200, "OK", app->xbuf, NULL, app->body,
			 blen);
	if (!n)
		return;
	/* resent until the caller's ACK (RFC 3261 13.3.1.4) */
	c->ok = mem_alloc(n, NULL);
	if (c->ok) {
		memcpy(c->ok, app->buf, n);
		c->ok_len = n;
		c->retx_n = 0;
		if (c->a->dlg.tp == SIPD_UDP) {
			tmr_start(&c->retx, CALL_T1, retx_2xx, c);
		}
		else {
			/* a stream delivers it once; no ACK within 64*T1
			 * still ends the call (the last step of retx_2xx) */
			c->retx_n = 6;
			tmr_start(&c->retx, 64 * CALL_T1, retx_2xx, c);
		}
	}
}

static void answered(struct call_app *app, struct call *c, struct leg *l,
		     const struct sipmsg *m)
{
	size_t blen = 0;
	unsigned code;

	code = media_answer(c, l, m, &blen);
	if (code) {
		(void)call_leg_request(app, l, "BYE", NULL, NULL, NULL, 0, NULL,
				       NULL);
		(void)call_respond(app, &c->inv, 488, "Not Acceptable Here",
				   NULL, NULL, NULL, 0);
		call_end(c, "rejected", 488, "callee", "bad sdp answer");
		return;
	}
	c->win = l;
	/* who answered: a member of a group, a forward's target (a trunk
	 * leg, issue 15, has none: the callee stays the number dialled) */
	if (l->x) {
		c->callee_x = l->x;
		snprintf(c->callee, sizeof(c->callee), "%s", l->x->number);
	}
	bleg_cancel_others(c, l);
	call_ok_a(c, blen);
	log_info(MOD, "call %s: %s -> %s answered (%s)", c->id, c->caller,
		 c->callee, c->codec);
}

void bleg_response(struct call_app *app, struct leg *l,
		   const struct sipmsg *m)
{
	struct call *c = l->call;
	unsigned code = m->scode;

	if (l->orig) {   /* a call the PBX placed: its A leg */
		orig_response(app, l, m);
		return;
	}
	if (l->refresh) {
		xfer_refresh_response(app, l, m);
		return;
	}
	if (l->xfer) {
		xfer_response(app, l, m);
		return;
	}
	if (l->trunk)   /* outbound (issue 15): it answers */
		trunk_out_heard(l);
	if (code < 200) {
		provisional(app, c, l, m);
		return;
	}
	if (code < 300) {
		int e_ = dialog_uac_update(&l->dlg, m, true);
		if (e_) {
			l->failed = true;
			l->code = 502;
			return;
		}
		bleg_ack(app, l);
		if (l == c->win || l == c->a)
			return;   /* its 2xx again (our ACK was lost): ACKed */
		if (c->handon && !l->cancel && !c->win &&
		    l->gen == c->gen) {   /* issue 13: svc_connect.c */
			svc_connect_answered(c, l, m);
			return;
		}
		if (l->cancel || c->win || c->state != CALL_RINGING) {
			/* lost the race (or the call is over): hang up */
			l->failed = true;
			(void)call_leg_request(app, l, "BYE", NULL, NULL, NULL,
					       0, NULL, NULL);
			return;
		}
		answered(app, c, l, m);
		return;
	}
	if (l->trunk) {   /* outbound (issue 15): credentials, failover */
		trunk_out_final(app, l, m);
		return;
	}
	l->failed = true;
	l->code = code;
	if ((c->state == CALL_RINGING || c->handon) && !c->win &&
	    l->gen == c->gen)
		all_failed(c);
}
