/*
 * dialog_in — requests inside a call: ACK, BYE, CANCEL, and the
 * re-INVITE, UPDATE and INFO that are relayed to the other leg (one at a
 * time per call: a second one meanwhile gets 491). A request must name a
 * leg of a live call by Call-ID and both tags and come from the address
 * that leg's signalling comes from; anything else is 481, the same answer
 * a call that does not exist gets.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "call/call_int.h"
#include "common/log.h"

static bool same_ip(const struct sa *a, const struct sa *b)
{
	return sa_cmp(a, b, SA_ADDR);
}

/* The leg rq names, from the right address; else answered 481. */
static struct leg *named_leg(struct call_app *app, struct sipd_req *rq)
{
	struct leg *l = rq->m->to.tag.l ? leg_find(app, rq->m) : NULL;

	if (!l || !same_ip(&l->sig, rq->src) ||
	    l->call->state == CALL_ENDING) {
		/* the retransmission of a request answered before the call
		 * ended (a BYE whose 200 was lost) gets that answer again */
		if (strans_find(app->st, rq->m, rq->src)) {
			struct strans_tx *tx = NULL;

			(void)strans_receive(app->st, rq->m, rq->tp, rq->src,
					     rq->conn, call_now_ms(), &tx);
			return NULL;
		}
		sipd_reply(rq, 481, "Call/Transaction Does Not Exist", NULL, 0);
		return NULL;
	}
	return l;
}

/* A new server transaction for rq, or NULL (absorbed or answered). */
static struct strans_tx *transaction(struct call_app *app,
				     struct sipd_req *rq)
{
	struct strans_tx *tx = NULL;
	enum strans_rx rx = strans_receive(app->st, rq->m, rq->tp, rq->src,
					   rq->conn, call_now_ms(), &tx);

	call_tick_schedule(app);
	if (rx == STRANS_RX_BAD)
		sipd_reply(rq, 400, "Bad Request", NULL, 0);
	return rx == STRANS_RX_NEW ? tx : NULL;
}

void call_h_ack(struct sipd_req *rq, void *arg)
{
	struct call_app *app = arg;
	struct strans_tx *tx = NULL;
	struct leg *l;

	if (strans_receive(app->st, rq->m, rq->tp, rq->src, rq->conn,
			   call_now_ms(), &tx) != STRANS_RX_PASS)
		return;
	l = rq->m->to.tag.l ? leg_find(app, rq->m) : NULL;
	if (!l || l != l->call->a || !same_ip(&l->sig, rq->src))
		return;   /* an ACK is never answered */
	if (l->call->ok) {
		struct call *c = l->call;

		tmr_cancel(&c->retx);
		c->ok = mem_deref(c->ok);
		svc_acked(c);
	}
}

void call_h_bye(struct sipd_req *rq, void *arg)
{
	struct call_app *app = arg;
	struct strans_tx *tx;
	struct leg *l;
	struct call *c;

	l = named_leg(app, rq);
	if (!l)
		return;
	tx = transaction(app, rq);
	if (!tx)
		return;
	c = l->call;
	call_answer(app, rq, tx, 200, "OK", NULL);
	if (l == c->a) {
		if (c->state == CALL_RINGING)
			(void)call_respond(app, &c->inv, 487,
					   "Request Terminated", NULL, NULL,
					   NULL, 0);
		call_end(c, c->state == CALL_ANSWERED ? "answered" :
			 "cancelled", 200, "caller", "bye");
		return;
	}
	if (l != c->win) {
		/* a leg that lost the race hangs up: nothing else ends */
		l->failed = true;
		return;
	}
	call_end(c, "answered", 200, "callee", "bye");
}

void call_h_cancel(struct sipd_req *rq, void *arg)
{
	struct call_app *app = arg;
	struct strans_tx *tx, *inv;
	struct saved_req *s;
	struct call *c;

	/* no state for a CANCEL that cancels nothing (a forged one) */
	inv = strans_find_invite(app->st, rq->m, rq->src);
	if (!inv) {
		sipd_reply(rq, 481, "Call/Transaction Does Not Exist", NULL, 0);
		return;
	}
	s = strans_user(inv);
	tx = transaction(app, rq);
	if (!tx)
		return;
	call_answer(app, rq, tx, 200, "OK", NULL);
	if (!s)
		return;   /* answered already: the CANCEL changes nothing */
	c = (struct call *)(void *)((char *)s - offsetof(struct call, inv));
	if (s != &c->inv || c->state != CALL_RINGING)
		return;
	(void)call_respond(app, s, 487, "Request Terminated", NULL, NULL,
			   NULL, 0);
	call_end(c, "cancelled", 487, "caller", "cancel");
}

void call_h_update_info(struct sipd_req *rq, void *arg)
{
	struct call_app *app = arg;
	struct leg *l;

	if (!rq->m->to.tag.l && sipmsg_eq(&rq->m->met, "REFER")) {
		call_refer_outside(app, rq);
		return;
	}
	l = named_leg(app, rq);

	if (l)
		call_indialog(app, rq, l);
}

static bool is_sdp(const struct sipmsg *m)
{
	const struct sipmsg_hdr *ct = sipmsg_hdr(m, SH_CTYPE);

	return m->body.l && ct && ct->val.l >= 15 &&
		!strncasecmp(ct->val.p, "application/sdp", 15);
}

static bool dtmf_body(const struct sipmsg_hdr *ct)
{
	static const char t[] = "application/dtmf-relay";
	size_t n = sizeof(t) - 1;

	return ct->val.l >= n && !strncasecmp(ct->val.p, t, n) &&
		(ct->val.l == n || ct->val.p[n] == ';' || ct->val.p[n] == ' ');
}

void call_indialog(struct call_app *app, struct sipd_req *rq, struct leg *l)
{
	const struct sipmsg *m = rq->m;
	struct call *c = l->call;
	struct strans_tx *tx;
	struct leg *to;
	const char *ctype = NULL, *body = NULL;
	char ctbuf[128];
	size_t off, blen = 0;
	bool invite = sipmsg_eq(&m->met, "INVITE");
	int err;

	if (!same_ip(&l->sig, rq->src) || c->state == CALL_ENDING) {
		sipd_reply(rq, 481, "Call/Transaction Does Not Exist", NULL, 0);
		return;
	}
	tx = transaction(app, rq);
	if (!tx)
		return;
	if (!dialog_check_cseq(&l->dlg, m)) {
		call_answer(app, rq, tx, 500, "Server Internal Error",
		       "Retry-After: 1\r\n");
		return;
	}
	if (c->svc) {
		svc_indialog(app, rq, tx, l);
		return;
	}
	to = l == c->a ? c->win : l == c->win ? c->a : NULL;
	if (!to) {   /* a leg a transfer replaced */
		call_answer(app, rq, tx, 481, "Call/Transaction Does Not Exist",
		       NULL);
		return;
	}
	if (c->state != CALL_ANSWERED) {
		call_answer(app, rq, tx, 491, "Request Pending", NULL);
		return;
	}
	if (c->fwd.live) {
		call_answer(app, rq, tx, 491, "Request Pending", NULL);
		return;
	}
	if (sipmsg_eq(&m->met, "REFER")) {
		xfer_refer(app, rq, tx, l);
		return;
	}
	if (!m->body.l && !sipmsg_eq(&m->met, "INFO")) {
		/* a session refresh without an offer: answered here, with
		 * the description this leg last had from us (an INVITE
		 * must carry one: its ACK brings the answer back) */
		struct saved_req s = { 0 };
		int side = l->is_a ? 0 : 1;

		if (saved_req_set(&s, rq, tx)) {
			call_answer(app, rq, tx, 500, "Server Internal Error", NULL);
			return;
		}
		off = call_contact(app, l, l->is_a ? c->callee : c->caller, 0);
		app->xbuf[off < sizeof(app->xbuf) ? off : 0] = '\0';
		(void)call_respond(app, &s, 200, "OK", app->xbuf, NULL,
				   invite ? c->sdp_to[side] : NULL,
				   invite ? c->sdp_to_len[side] : 0);
		saved_req_clear(&s);
		return;
	}
	/* music on hold (moh.c, issue 13) */
	if (is_sdp(m) && moh_indialog(app, rq, tx, l))
		return;
	memset(&c->fwd, 0, sizeof(c->fwd));
	if (saved_req_set(&c->fwd.in, rq, tx)) {
		call_answer(app, rq, tx, 500, "Server Internal Error", NULL);
		return;
	}
	c->fwd.from = l;
	c->fwd.to = to;
	snprintf(c->fwd.method, sizeof(c->fwd.method), "%.*s",
		 (int)m->met.l, m->met.p);
	if (is_sdp(m) && !sipmsg_eq(&m->met, "INFO")) {
		unsigned code = media_update(c, l, m->body.p, m->body.l, true,
					     &c->fwd.hold, &blen);

		if (code) {
			(void)call_respond(app, &c->fwd.in, 488,
					   "Not Acceptable Here", NULL, NULL,
					   NULL, 0);
			saved_req_clear(&c->fwd.in);
			return;
		}
		c->fwd.sdp = true;
		ctype = "application/sdp";
		body = app->body;
	}
	else if (m->body.l) {
		const struct sipmsg_hdr *ct = sipmsg_hdr(m, SH_CTYPE);

		/* only DTMF crosses as it came (INFO): any other body may
		 * name an address of this leg's (an SDP in an INFO, a
		 * multipart offer) and the relay rewrites SDP alone */
		if (!ct || ct->val.l >= sizeof(ctbuf) ||
		    !sipmsg_eq(&m->met, "INFO") || !dtmf_body(ct)) {
			(void)call_respond(app, &c->fwd.in, 415,
					   "Unsupported Media Type",
					   sipmsg_eq(&m->met, "INFO") ?
					   "Accept: application/dtmf-relay\r\n" :
					   "Accept: application/sdp\r\n",
					   NULL, NULL, 0);
			saved_req_clear(&c->fwd.in);
			return;
		}
		snprintf(ctbuf, sizeof(ctbuf), "%.*s", (int)ct->val.l,
			 ct->val.p);
		ctype = ctbuf;
		body = m->body.p;
		blen = m->body.l;
	}
	off = 0;
	if (!sipmsg_eq(&m->met, "INFO"))
		off = call_contact(app, to, to->is_a ? c->callee : c->caller,
				   0);
	app->xbuf[off < sizeof(app->xbuf) ? off : 0] = '\0';
	c->fwd.live = true;
	err = call_leg_request(app, to, c->fwd.method, app->xbuf, ctype, body,
			       blen, &c->fwd.out, to);
	if (err) {
		(void)call_respond(app, &c->fwd.in, 500,
				   "Server Internal Error", NULL, NULL, NULL,
				   0);
		saved_req_clear(&c->fwd.in);
		c->fwd.live = false;
	}
}

void fwd_response(struct call_app *app, struct call *c,
		  const struct sipmsg *m)
{
	struct fwd *f = &c->fwd;
	char reason[64];
	size_t off = 0, blen = 0;
	const char *body = NULL;
	bool hold = false;

	if (m->scode < 200)
		return;
	if (m->scode < 300 && sipmsg_eq(&m->cseq_met, "INVITE")) {
		/* ACK the other side's 2xx at once */
		char branch[40];
		struct sa la;
		size_t n;

		if (!call_laddr(app, f->to, &la)) {
			ctrans_branch(branch, sizeof(branch));
			n = dialog_request(&f->to->dlg, "ACK", m->cseq, branch,
					   &la, NULL, NULL, NULL, 0, app->buf,
					   sizeof(app->buf));
			if (n)
				(void)sipd_send(app->sd, f->to->dlg.tp,
						&f->to->dlg.dst,
						f->to->dlg.conn, app->buf, n);
		}
	}
	if (m->scode < 300 && is_sdp(m) && f->sdp) {
		if (media_update(c, f->to, m->body.p, m->body.l, false, &hold,
				 &blen)) {
			(void)call_respond(app, &f->in, 488,
					   "Not Acceptable Here", NULL, NULL,
					   NULL, 0);
			goto done;
		}
		body = app->body;
		if (c->held != f->hold) {
			c->held = f->hold;
			(void)relay_session_hold(app->relay, c->relay_id,
						 c->held);
		}
	}
	if (m->scode < 300 && !sipmsg_eq(&m->cseq_met, "INFO"))
		off = call_contact(app, f->from, f->from->is_a ? c->callee :
				   c->caller, 0);
	app->xbuf[off < sizeof(app->xbuf) ? off : 0] = '\0';
	snprintf(reason, sizeof(reason), "%.*s", (int)m->reason.l,
		 m->reason.p);
	(void)call_respond(app, &f->in, m->scode, reason, app->xbuf, NULL,
			   body, blen);
done:
	saved_req_clear(&f->in);
	f->live = false;
	/* the transaction lives on (retransmissions, timer K): it must not
	 * name a leg that may be freed before it ends */
	if (f->out)
		ctrans_set_user(f->out, NULL);
	f->out = NULL;
}
