/*
 * xfer — blind transfer (REFER, RFC 3515): a party of an answered call
 * (the transferor) asks the PBX to connect the other party (the
 * transferee) to a number. The number is routed as if the transferor
 * dialled it (its limits, later its class of service), rung with the
 * description the transferor's side had, and when it answers it takes the
 * transferor's place in the call: same relay session (only that side's
 * address changes), the transferor hung up. The transferor hears how it
 * went by NOTIFY with a message/sipfrag body (100 Trying, then the final
 * status).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "call/call_int.h"
#include "call/callerid.h"
#include "common/log.h"
#include "store/snapshot.h"

static const char sipfrag[] = "message/sipfrag;version=2.0";

static void failed(struct call_app *app, struct call *c, unsigned code);

/* The URI of the Refer-To header (long or compact form "r"). */
static bool refer_to(const struct sipmsg *m, struct sipmsg_str *uri)
{
	for (size_t i = 0; i < m->n_hdr; i++) {
		const struct sipmsg_hdr *h = &m->hdr[i];
		struct sipmsg_addr a;
		const char *p;

		if (!((h->name.l == 8 && !strncasecmp(h->name.p, "Refer-To",
							8)) ||
		      (h->name.l == 1 && (h->name.p[0] | 0x20) == 'r')))
			continue;
		p = h->val.p;
		if (sipmsg_addr(&a, &p, h->val.p + h->val.l, false) ||
		    !a.uri.l)
			return false;
		*uri = a.uri;
		return true;
	}
	return false;
}

/* NOTIFY the transferor l of the transfer's progress (sipfrag status
 * line); final: the implicit subscription ends. */
static void notify(struct call_app *app, struct leg *l, unsigned code,
		   const char *reason, bool final)
{
	char body[96], extra[160];
	int n;

	n = snprintf(body, sizeof(body), "SIP/2.0 %u %s\r\n", code, reason);
	snprintf(extra, sizeof(extra), "Event: refer\r\n"
		 "Subscription-State: %s\r\n",
		 final ? "terminated;reason=noresource" :
		 "active;expires=60");
	if (n > 0)
		(void)call_leg_request(app, l, "NOTIFY", extra, sipfrag, body,
				       (size_t)n, NULL, NULL);
}

static int xfer_leg(struct call *c, bool side_a, const struct snap_ext *to,
		    const struct reg_binding *b)
{
	struct call_app *app = c->app;
	const struct snapshot *s = c->snap;
	const char *realm = s->realm[0] ? s->realm : SIPD_DEFAULT_REALM;
	/* the transferee keeps its identity: it is who the target talks to */
	const struct snap_ext *who = side_a ? c->callee_x : c->caller_x;
	char from[128], touri[128];
	struct cid id;
	struct leg *l;
	size_t off;
	int err;

	size_t blen;

	if (!c->sdp_to[side_a ? 0 : 1])
		return EINVAL;
	l = leg_new(c, side_a);
	if (!l)
		return ENOMEM;
	callerid_for(who, CID_INTERNAL, &id);   /* caller ID */
	snprintf(from, sizeof(from), "sip:%s@%s", id.number, realm);
	snprintf(touri, sizeof(touri), "sip:%s@%s", to->number, realm);
	err = dialog_uac(&l->dlg, id.name, from, touri,
			 reg_binding_uri(b), (enum sipd_tp)b->tp,
			 reg_binding_target(b), b->conn_id);
	if (err) {
		mem_deref(l);
		return err;
	}
	l->x = to;
	l->nat = b->nat || to->nat;
	l->sig = *reg_binding_target(b);
	l->xfer = true;
	list_append(&c->blegs, &l->cle, l);
	leg_index(app, l);
	/* the transferor may have held the call first: the target gets
	 * the media active */
	if (media_active_for(c, l, side_a ? 0 : 1, &blen)) {
		l->failed = true;
		return EINVAL;
	}
	off = call_contact(app, l, who->number, 0);
	app->xbuf[off < sizeof(app->xbuf) ? off : 0] = '\0';
	if (off < sizeof(app->xbuf))
		(void)callerid_invite_hdrs(app->xbuf, sizeof(app->xbuf), off,
					   to, &id, realm);
	l->inv_cseq = l->dlg.lcseq + 1;
	err = call_leg_request(app, l, "INVITE", app->xbuf, "application/sdp",
			       app->body, blen, &l->inv, l);
	if (err) {
		l->failed = true;
		l->code = 503;
	}
	return err;
}

/* Percent-decode the Replaces value (up to '&' or the end) into out. */
static size_t unescape(const char *p, size_t l, char *out, size_t sz)
{
	size_t n = 0;

	for (size_t i = 0; i < l && p[i] != '&' && n + 1 < sz; i++) {
		if (p[i] == '%' && i + 2 < l) {
			unsigned v;
			char h[3] = { p[i + 1], p[i + 2], 0 };

			if (sscanf(h, "%2x", &v) == 1) {
				out[n++] = (char)v;
				i += 2;
				continue;
			}
		}
		out[n++] = p[i];
	}
	out[n] = '\0';
	return n;
}

/* The value of ";name=" in s, into out; false when absent. */
static bool param(const char *s, const char *name, char *out, size_t sz)
{
	size_t nl = strlen(name);

	for (const char *p = strchr(s, ';'); p; p = strchr(p + 1, ';')) {
		size_t n;

		if (strncasecmp(p + 1, name, nl) || p[1 + nl] != '=')
			continue;
		p += 2 + nl;
		n = strcspn(p, ";");
		if (n >= sz)
			return false;
		memcpy(out, p, n);
		out[n] = '\0';
		return true;
	}
	return false;
}

/* The leg of another answered call that Replaces names (Call-ID and the
 * two tags, in either order), or NULL. */
static struct leg *replaced(struct call_app *app, const char *rep)
{
	char cid[DIALOG_HDR_MAX + 1], tt[DIALOG_TAG_MAX + 1],
		ft[DIALOG_TAG_MAX + 1];
	size_t cl = strcspn(rep, ";");
	struct le *le;

	if (!cl || cl >= sizeof(cid) || !param(rep, "to-tag", tt, sizeof(tt))
	    || !param(rep, "from-tag", ft, sizeof(ft)))
		return NULL;
	memcpy(cid, rep, cl);
	cid[cl] = '\0';
	le = hash_list(app->legs, hash_joaat((const uint8_t *)cid, cl))->head;
	for (; le; le = le->next) {
		struct leg *o = le->data;

		if (strcmp(o->dlg.callid, cid))
			continue;
		if ((!strcmp(o->dlg.ltag, tt) && !strcmp(o->dlg.rtag, ft)) ||
		    (!strcmp(o->dlg.ltag, ft) && !strcmp(o->dlg.rtag, tt)))
			return o;
	}
	return NULL;
}

/* Attended transfer: the transferor l asks to join the other party of
 * this call with the other party of its other call (named by Replaces).
 * That party's leg moves into this call, on the transferor's side, and
 * is re-INVITEd to the relay of this call; the other call ends. */
static void attended(struct call_app *app, struct sipd_req *rq,
		     struct strans_tx *tx, struct leg *l, const char *rp,
		     size_t rl)
{
	struct call *c = l->call, *c2;
	struct leg *l2, *o;
	const struct snap_ext *x;
	char rep[DIALOG_HDR_MAX + 2 * DIALOG_TAG_MAX + 32];
	int side = l->is_a ? 0 : 1;
	size_t off, blen;

	unescape(rp, rl, rep, sizeof(rep));
	l2 = replaced(app, rep);
	c2 = l2 ? l2->call : NULL;
	/* only a party of both calls may join them */
	if (!c2 || c2 == c || c2->state != CALL_ANSWERED || !l2->x || !l->x ||
	    strcmp(l2->x->number, l->x->number) || !c->sdp_to[side] ||
	    (l2 != c2->a && l2 != c2->win)) {
		call_answer(app, rq, tx, 403, "Forbidden", NULL);
		return;
	}
	o = l2 == c2->a ? c2->win : c2->a;
	/* its extension as this call's snapshot has it (c2's goes with c2) */
	x = o && o->x ? snapshot_find(c->snap, o->x->number,
				      strlen(o->x->number)) : NULL;
	if (!x) {
		call_answer(app, rq, tx, 403, "Forbidden", NULL);
		return;
	}
	if (c2->fwd.live) {
		call_answer(app, rq, tx, 491, "Request Pending", NULL);
		return;
	}
	call_answer(app, rq, tx, 202, "Accepted", NULL);
	notify(app, l, 100, "Trying", false);
	/* move o out of c2 and into c */
	if (o == c2->a)
		c2->a = NULL;
	else
		c2->win = NULL;
	if (o->cle.list)
		list_unlink(&o->cle);
	if (o->inv) {
		ctrans_set_user(o->inv, NULL);
		o->inv = NULL;
	}
	o->call = c;
	o->x = x;
	o->is_a = l->is_a;
	o->xfer = o->join = true;
	o->failed = false;
	list_append(&c->blegs, &o->cle, o);
	c->xfer.live = true;
	c->xfer.from = l;
	c->xfer.to = o->x;
	call_end(c2, "answered", 200, "system", "transferred");
	off = call_contact(app, o, side ? c->caller : c->callee, 0);
	app->xbuf[off < sizeof(app->xbuf) ? off : 0] = '\0';
	o->inv_cseq = o->dlg.lcseq + 1;
	if (media_active_for(c, o, side, &blen) ||
	    call_leg_request(app, o, "INVITE", app->xbuf, "application/sdp",
			     app->body, blen, &o->inv, o)) {
		o->failed = true;
		(void)call_leg_request(app, o, "BYE", NULL, NULL, NULL, 0,
				       NULL, NULL);
		failed(app, c, 480);
		return;
	}
	log_info(MOD, "call %s: attended transfer joins %s", c->id,
		 o->x ? o->x->number : "?");
}

/* After a transfer the transferee t is re-INVITEd with the media
 * active: whoever held the call before has left it. */
static void refresh(struct call_app *app, struct call *c, struct leg *t)
{
	size_t off, blen;

	if (!t)
		return;
	/* its first INVITE may still be in its Accepted state (timer M):
	 * that one is answered, a new one can go */
	if (t->inv) {
		if (ctrans_state(t->inv) == CTRANS_CALLING ||
		    ctrans_state(t->inv) == CTRANS_PROCEEDING)
			return;
		ctrans_set_user(t->inv, NULL);
		t->inv = NULL;
	}
	if (media_active_for(c, t, t->is_a ? 0 : 1, &blen))
		return;
	off = call_contact(app, t, t->is_a ? c->callee : c->caller, 0);
	app->xbuf[off < sizeof(app->xbuf) ? off : 0] = '\0';
	t->inv_cseq = t->dlg.lcseq + 1;
	if (!call_leg_request(app, t, "INVITE", app->xbuf, "application/sdp",
			      app->body, blen, &t->inv, t))
		t->refresh = true;
}

void xfer_refer(struct call_app *app, struct sipd_req *rq,
		struct strans_tx *tx, struct leg *l)
{
	const struct reg_binding *b[CALL_MAX_FORK];
	struct call *c = l->call;
	struct sipmsg_str uri;
	struct route_result rr;
	struct route_live live;
	const char *up;
	size_t ul, n, started = 0;

	if (c->xfer.live) {
		call_answer(app, rq, tx, 491, "Request Pending", NULL);
		return;
	}
	if (!l->x) {   /* outbound (issue 15): a trunk transfers nothing */
		call_answer(app, rq, tx, 403, "Forbidden", NULL);
		return;
	}
	/* legs of past transfers stay with the call until it ends: bounded */
	if (list_count(&c->blegs) >= CALL_MAX_LEGS) {
		call_answer(app, rq, tx, 503, "Service Unavailable",
			    "Retry-After: 60\r\n");
		return;
	}
	if (!refer_to(rq->m, &uri)) {
		call_answer(app, rq, tx, 400, "Bad Refer-To", NULL);
		return;
	}
	for (size_t i = 0; i + 9 <= uri.l; i++)
		if (!strncasecmp(uri.p + i, "replaces=", 9)) {
			attended(app, rq, tx, l, uri.p + i + 9, uri.l - i - 9);
			return;
		}
	call_uri_user(&uri, &up, &ul);
	call_route_live(app, &live);
	trunk_out_live(c, &live);   /* outbound (issue 15) */
	call_route(c->snap, l->x, up, ul, &live, &rr);
	if (rr.kind == ROUTE_REJECT) {
		call_answer(app, rq, tx, rr.code, rr.reason, NULL);
		return;
	}
	/* a mailbox (600, *97, *98) answers no transfer: there is no
	 * extension to ring (mailbox access has no callee at all) */
	if (rr.kind == ROUTE_SERVICE ||
	    rr.kind == ROUTE_TRUNK) {   /* outbound (issue 15): no transfer
					 * out to a trunk yet */
		call_answer(app, rq, tx, 403, "Forbidden", NULL);
		return;
	}
	/* the plan's first target: forwards followed; a group's first
	 * member (a transfer rings one extension) */
	if (rr.n_steps)
		rr.callee = rr.targets[rr.steps[0].first];
	call_answer(app, rq, tx, 202, "Accepted", NULL);
	notify(app, l, 100, "Trying", false);
	n = registrar_contacts(app->reg, rr.callee->number, sipd_now(app->sd),
			       b, CALL_MAX_FORK);
	for (size_t i = 0; i < n; i++)
		if ((b[i]->tp == REG_TP_UDP ||
		     sipd_conn_alive(app->sd, b[i]->conn_id)) &&
		    !xfer_leg(c, l->is_a, rr.callee, b[i]))
			started++;
	if (!started) {
		notify(app, l, 480, "Temporarily Unavailable", true);
		return;
	}
	c->xfer.live = true;
	c->xfer.from = l;
	c->xfer.to = rr.callee;
	log_info(MOD, "call %s: %s transfers to %s", c->id,
		 l->x ? l->x->number : "?", rr.callee->number);
}

/* Every transfer leg failed: the call goes on as it was. */
static void failed(struct call_app *app, struct call *c, unsigned code)
{
	for (struct le *le = list_head(&c->blegs); le; le = le->next) {
		const struct leg *l = le->data;

		if (l->xfer && !l->failed)
			return;
	}
	c->xfer.live = false;
	notify(app, c->xfer.from, code, code == 486 ? "Busy Here" :
	       "Temporarily Unavailable", true);
}

void xfer_timeout(struct call_app *app, struct leg *l)
{
	if (l->failed || l->ack || !l->call->xfer.live)
		return;
	l->failed = true;
	l->code = 408;
	if (l->join)
		(void)call_leg_request(app, l, "BYE", NULL, NULL, NULL, 0,
				       NULL, NULL);
	failed(app, l->call, 480);
}

void xfer_response(struct call_app *app, struct leg *l,
		   const struct sipmsg *m)
{
	struct call *c = l->call;
	struct leg *old;
	unsigned code;

	if (m->scode < 200) {
		(void)dialog_uac_update(&l->dlg, m, false);
		return;
	}
	if (m->scode >= 300) {
		l->failed = true;
		l->code = m->scode;
		if (l->join)   /* its old call is gone: hang it up */
			(void)call_leg_request(app, l, "BYE", NULL, NULL,
					       NULL, 0, NULL, NULL);
		if (c->xfer.live)
			failed(app, c, m->scode == 486 || m->scode == 600 ?
			       486 : 480);
		return;
	}
	if (dialog_uac_update(&l->dlg, m, true)) {
		l->failed = true;
		return;
	}
	bleg_ack(app, l);
	if (l == c->win || l == c->a)
		return;   /* it took its place already: its 2xx again, ACKed */
	code = c->xfer.live && c->state == CALL_ANSWERED ?
		media_xfer_answer(c, l, m) : 1;
	if (code) {
		l->failed = true;
		(void)call_leg_request(app, l, "BYE", NULL, NULL, NULL, 0,
				       NULL, NULL);
		if (c->xfer.live)
			failed(app, c, 480);
		return;
	}
	/* the target takes the transferor's place */
	old = c->xfer.from;
	if (l->is_a)
		c->a = l;
	else
		c->win = l;
	if (!l->is_a)
		snprintf(c->callee, sizeof(c->callee), "%s", l->x->number);
	c->xfer.live = false;
	notify(app, old, 200, "OK", true);
	(void)call_leg_request(app, old, "BYE", NULL, NULL, NULL, 0, NULL,
			       NULL);
	hash_unlink(&old->hle);      /* its requests now get 481 */
	old->failed = true;
	if (!old->cle.list)          /* the caller's leg: kept with the others */
		list_append(&c->blegs, &old->cle, old);
	bleg_cancel_others(c, l);
	refresh(app, c, l->is_a ? c->win : c->a);
	log_info(MOD, "call %s: transferred to %s", c->id, l->x->number);
}

void xfer_refresh_response(struct call_app *app, struct leg *l,
			   const struct sipmsg *m)
{
	struct call *c = l->call;

	if (m->scode < 200)
		return;
	l->refresh = false;
	if (m->scode >= 300)
		return;   /* the call goes on as it was */
	(void)dialog_uac_update(&l->dlg, m, true);
	bleg_ack(app, l);
	if (c->state == CALL_ANSWERED)
		(void)media_xfer_answer(c, l, m);
	if (c->held) {
		c->held = false;
		(void)relay_session_hold(app->relay, c->relay_id, false);
	}
}
