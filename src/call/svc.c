/*
 * svc — a call the PBX answers itself (svc.h): the caller's offer keeps
 * its relay session, the relay's B side is pointed at the service's
 * media endpoint on the relay's own address, and the caller gets a 200
 * whose description is the relay's (the same ports it may already have
 * had in early media). Digits sent as SIP INFO reach the service; a
 * transfer is refused (no way out of a mailbox); a re-offer is answered
 * with the description the caller has.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "call/call_int.h"
#include "call/callerid.h"
#include "common/log.h"
#include "store/snapshot.h"

void call_set_service(struct call_app *app, enum route_svc kind,
		      const struct call_svc_ops *ops, void *arg)
{
	if (!app || kind <= ROUTE_SVC_NONE || kind >= ROUTE_SVC__COUNT)
		return;
	app->svc_ops[kind] = ops;
	app->svc_arg[kind] = arg;
}

/* The ops of c's service (NULL: none registered) and their argument. */
static const struct call_svc_ops *ops_of(const struct call *c, void **arg)
{
	const struct call_app *app = c->app;

	if (c->svc_kind <= ROUTE_SVC_NONE || c->svc_kind >= ROUTE_SVC__COUNT)
		return NULL;
	*arg = app->svc_arg[c->svc_kind];
	return app->svc_ops[c->svc_kind];
}

struct relay *call_svc_relay(struct call_app *app)
{
	return app ? app->relay : NULL;
}

static struct call *by_handle(struct call_app *app, uint64_t h)
{
	for (struct le *le = list_head(&app->calls); le; le = le->next) {
		struct call *c = le->data;

		if (c->svc && c->svc_handle == h)
			return c;
	}
	return NULL;
}

void call_svc_hangup(struct call_app *app, uint64_t handle)
{
	struct call *c = app ? by_handle(app, handle) : NULL;

	if (!c || c->state == CALL_ENDING)
		return;
	/* the service said it is done: it is not told again */
	c->svc_sess = NULL;
	call_end(c, "answered", 200, "callee", "service ended");
}

void svc_closed(struct call *c)
{
	void *sess = c->svc_sess, *arg = NULL;
	const struct call_svc_ops *ops = ops_of(c, &arg);

	if (!sess)
		return;
	c->svc_sess = NULL;
	if (ops)
		ops->closed(sess, arg);
}

void svc_acked(struct call *c)
{
	void *arg = NULL;
	const struct call_svc_ops *ops = ops_of(c, &arg);

	if (!c->svc || c->svc_started || !c->svc_sess || !ops)
		return;
	c->svc_started = true;
	ops->answered(c->svc_sess, arg);
}

static void fail(struct call *c, unsigned code, const char *reason,
		 const char *why)
{
	(void)call_respond(c->app, &c->inv, code, reason, NULL, NULL, NULL,
			   0);
	call_end(c, code == 488 ? "rejected" : "failed", code, "system", why);
}

/* The prompt set: the extension the service speaks for (a mailbox, the
 * callee) or, for feature codes, the caller. */
static const char *svc_language(const struct call *c,
				const struct route_result *rr)
{
	const struct snap_ext *x = rr->mailbox ? rr->mailbox :
		rr->callee ? rr->callee : c->caller_x;

	return x ? x->language : "";
}

static const char *svc_name(enum route_svc k)
{
	switch (k) {
	case ROUTE_SVC_DEPOSIT:
		return "voicemail";
	case ROUTE_SVC_ACCESS:
		return "mailbox access";
	case ROUTE_SVC_CALLPW:
		return "call password";
	case ROUTE_SVC_PIVR:
		return "personal IVR";
	case ROUTE_SVC_HOTDESK:
		return "hotdesk";
	default:
		return "a service";
	}
}

void svc_start(struct call *c, const struct route_result *rr)
{
	struct call_app *app = c->app;
	const struct call_svc_ops *ops;
	void *arg = NULL;
	struct call_svc_info info;
	struct cid cid;
	struct call_svc_media md;
	char src[64];
	uint16_t port = 0;
	size_t blen = 0;
	struct sa ep;
	int pt, te;

	tmr_cancel(&c->ring);
	bleg_cancel_others(c, NULL);
	c->handon = false;   /* issue 13: a hand-on's plan ends here */
	if (rr->mailbox) {
		c->callee_x = rr->mailbox;
		snprintf(c->callee, sizeof(c->callee), "%s",
			 rr->mailbox->number);
	}
	else if (rr->callee) {   /* issue 13: a gate of the callee */
		c->callee_x = rr->callee;
		snprintf(c->callee, sizeof(c->callee), "%s",
			 rr->callee->number);
	}
	c->svc_kind = rr->svc;
	ops = ops_of(c, &arg);
	if (!ops) {
		fail(c, 480, "Temporarily Unavailable", "service not served");
		return;
	}
	if (media_svc_pick(c, &pt, &te)) {
		/* the endpoint speaks G.711 only */
		fail(c, 488, "Not Acceptable Here", "no g711 for voicemail");
		return;
	}
	memset(&info, 0, sizeof(info));
	c->svc = true;
	c->svc_handle = app->next_id++;
	info.svc = rr->svc;
	info.handle = c->svc_handle;
	info.call_id = c->id;
	info.caller = c->caller;
	callerid_internal(c->caller_x, c->caller_disp,
			  strlen(c->caller_disp), &cid);   /* caller ID */
	info.caller_name = cid.name;
	info.mailbox = rr->mailbox ? rr->mailbox->number : "";
	info.greet = rr->greet;
	re_snprintf(src, sizeof(src), "%j", &c->a->sig);
	info.src_ip = src;
	info.callee = rr->callee ? rr->callee->number : "";
	info.copies_of = rr->copies_of ? rr->copies_of->number : "";
	info.language = svc_language(c, rr);
	info.pivr_dest = rr->callee ? rr->callee->pivr_dest : "";
	info.dialled = c->dialled;   /* hotdesk (issue 13) */
	memset(&md, 0, sizeof(md));
	media_svc_addr(c, &md.bind);
	md.rtp = md.bind;
	sa_set_port(&md.rtp, c->ports[RELAY_LEG_B].rtp);
	md.pt = pt;
	md.te_pt = te;
	if (ops->open(&info, &md, &port, &c->svc_sess, arg)) {
		c->svc_sess = NULL;
		fail(c, 503, "Service Unavailable", "voicemail busy");
		return;
	}
	ep = md.bind;
	sa_set_port(&ep, port);
	if (media_svc_answer(c, &ep, pt, te, &blen)) {
		fail(c, 488, "Not Acceptable Here", "voicemail sdp");
		return;
	}
	/* issue 13: the gates, in the CDR */
	if (rr->svc == ROUTE_SVC_CALLPW || rr->svc == ROUTE_SVC_PIVR) {
		c->fwd_rule = rr->rule;
		snprintf(c->fwd_from, sizeof(c->fwd_from), "%.23s",
			 c->callee);
		c->fwd_to[0] = '\0';
	}
	log_info(MOD, "call %s: %s -> %s answered by %s (%s)", c->id,
		 c->caller, c->dialled, svc_name(rr->svc), c->codec);
	if (c->state == CALL_ANSWERED) {
		/* handed on (svc_connect.c): the caller has our 200 and
		 * its ACK came long ago: the new service starts now */
		c->svc_started = false;
		svc_acked(c);
		return;
	}
	call_ok_a(c, blen);
}

/* "Signal=5" (or "Signal= 5") of an application/dtmf-relay body. */
static char info_digit(const struct sipmsg *m)
{
	const char *p = m->body.p, *end = m->body.p + m->body.l;

	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		if (le - p > 7 && !strncasecmp(p, "Signal=", 7)) {
			const char *v = p + 7;

			while (v < le && (*v == ' ' || *v == '\t'))
				v++;
			if (v < le && strchr("0123456789*#ABCDabcd", *v) &&
			    *v)
				return (char)(*v >= 'a' ? *v - 32 : *v);
			return 0;
		}
		p = nl ? nl + 1 : NULL;
	}
	return 0;
}

void svc_indialog(struct call_app *app, struct sipd_req *rq,
		  struct strans_tx *tx, struct leg *l)
{
	const struct sipmsg *m = rq->m;
	struct call *c = l->call;
	const struct sipmsg_hdr *ct = sipmsg_hdr(m, SH_CTYPE);
	bool invite = sipmsg_eq(&m->met, "INVITE");
	struct saved_req s = { 0 };
	size_t off;

	if (l != c->a || c->state != CALL_ANSWERED) {
		call_answer(app, rq, tx, 481, "Call/Transaction Does Not "
			    "Exist", NULL);
		return;
	}
	if (sipmsg_eq(&m->met, "REFER")) {
		/* no way out of a mailbox: no transfer, no dial-out */
		call_answer(app, rq, tx, 403, "Forbidden", NULL);
		return;
	}
	if (sipmsg_eq(&m->met, "INFO")) {
		static const char t[] = "application/dtmf-relay";
		char d;

		if (!m->body.l) {
			call_answer(app, rq, tx, 200, "OK", NULL);
			return;
		}
		if (!ct || ct->val.l < sizeof(t) - 1 ||
		    strncasecmp(ct->val.p, t, sizeof(t) - 1)) {
			call_answer(app, rq, tx, 415, "Unsupported Media Type",
				    "Accept: application/dtmf-relay\r\n");
			return;
		}
		d = info_digit(m);
		call_answer(app, rq, tx, d ? 200 : 400, d ? "OK" :
			    "Bad Request", NULL);
		if (d && c->svc_sess) {
			void *arg = NULL;
			const struct call_svc_ops *ops = ops_of(c, &arg);

			if (ops)
				ops->digit(c->svc_sess, d, arg);
		}
		return;
	}
	/* re-INVITE, UPDATE: the description the caller has (a session
	 * refresh, a hold: the service goes on either way) */
	if (m->body.l && (!ct || ct->val.l < 15 ||
			  strncasecmp(ct->val.p, "application/sdp", 15))) {
		call_answer(app, rq, tx, 415, "Unsupported Media Type",
			    "Accept: application/sdp\r\n");
		return;
	}
	if (saved_req_set(&s, rq, tx)) {
		call_answer(app, rq, tx, 500, "Server Internal Error", NULL);
		return;
	}
	off = call_contact(app, l, c->callee, 0);
	app->xbuf[off < sizeof(app->xbuf) ? off : 0] = '\0';
	(void)call_respond(app, &s, 200, "OK", app->xbuf, NULL,
			   invite || m->body.l ? c->sdp_to[0] : NULL,
			   invite || m->body.l ? c->sdp_to_len[0] : 0);
	saved_req_clear(&s);
}
