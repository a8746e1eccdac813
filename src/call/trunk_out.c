/*
 * trunk_out — the outbound leg (issue 15, outbound): a call routing sent
 * to a trunk (ROUTE_TRUNK) passes the toll-fraud limits (toll.h), then
 * rings the route's trunks one after the other: an INVITE to the trunk's
 * host (R-URI user: the number after strip/prefix; From: the caller ID
 * callerid_trunk chooses; PAI or RPID as the trunk says), a 401/407
 * answered once with the trunk's credentials (auth/client.h), a 5xx, 408,
 * no answer or a TCP/TLS connection that fails (conn_lost.c) fails over
 * to the next trunk, any other final answer ends the call. Media goes
 * through the relay as for extensions (media.c). Loop thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>

#include "call/call_int.h"
#include "auth/client.h"
#include "call/callerid.h"
#include "call/outbound.h"
#include "call/toll.h"
#include "call/toll_save.h"
#include "common/log.h"
#include "store/snapshot.h"
#include "trunk/trunk.h"
#include "trunk/tresolve.h"

static const char allow_hdr[] =
	"Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO\r\n";

/* The call ends unanswered (side "system" unless a trunk said so). */
static void fail(struct call *c, unsigned code, const char *reason,
		 const char *disp, const char *side, const char *why)
{
	tmr_cancel(&c->ring);
	(void)call_respond(c->app, &c->inv, code, reason, NULL, NULL, NULL,
			   0);
	call_end(c, disp, code, side, why);
}

static const char *domain_of(const struct trunk_conf *t)
{
	return t->domain[0] ? t->domain : t->host;
}

/* What the trunk is told the call is from: a trunk that refuses caller
 * ID rewriting gets its own ANI; otherwise the manual's precedence
 * (callerid_trunk) with the trunk's ANI as the line's. */
static void cid_of(const struct call *c, const struct trunk_conf *t,
		   struct cid *id)
{
	enum cid_kind k = c->out.r->emergency ? CID_EMERGENCY : CID_EXTERNAL;
	struct cid line;

	memset(&line, 0, sizeof(line));
	snprintf(line.number, sizeof(line.number), "%s", t->ani);
	if (!t->cid_rewrite && line.number[0]) {
		*id = line;
		return;
	}
	callerid_trunk(c->out.payer, k, &line, id);
}

/* The INVITE of trunk leg l (again, with authz: "Authorization: ..."). */
static int send_invite(struct call *c, struct leg *l, const char *authz)
{
	struct call_app *app = c->app;
	const struct trunk_conf *t = l->trunk;
	struct cid id;
	size_t off, blen;
	int err;

	cid_of(c, t, &id);
	/* the phone's SSRC/CNAME and tool lines are dropped by the SDP
	 * rewrite for every leg (media/sdp.c) */
	if (media_offer_for(c, l, &blen))
		return EINVAL;
	off = call_contact(app, l, id.number[0] ? id.number : "bulwark", 0);
	if (off + sizeof(allow_hdr) < sizeof(app->xbuf)) {
		memcpy(app->xbuf + off, allow_hdr, sizeof(allow_hdr));
		off += sizeof(allow_hdr) - 1;
	}
	app->xbuf[off] = '\0';
	off = callerid_trunk_hdrs(app->xbuf, sizeof(app->xbuf), off,
				  t->id_header, &id, domain_of(t));
	if (authz) {
		size_t al = strlen(authz);

		if (off + al >= sizeof(app->xbuf))
			return ENOSPC;
		memcpy(app->xbuf + off, authz, al + 1);   /* NUL: the end */
	}
	l->inv_cseq = l->dlg.lcseq + 1;
	err = call_leg_request(app, l, "INVITE", app->xbuf, "application/sdp",
			       app->body, blen, &l->inv, l);
	if (authz)
		sodium_memzero(app->xbuf, sizeof(app->xbuf));
	return err;
}

/* A B leg to trunk t: its dialog and INVITE. 0 or errno. */
static int leg_start(struct call *c, const struct trunk_conf *t)
{
	struct call_app *app = c->app;
	char uri[320], from[320];
	struct cid id;
	struct sa dst;
	struct leg *l;
	uint16_t port = t->port ? t->port : 5060;
	/* TCP/TLS over the trunk's outbound connection; a host
	 * name resolved (hosts file, DNS cache: a lookup not answered yet
	 * makes this trunk unreachable for this call) */
	enum sipd_tp tp = t->transport == SNAP_TP_TLS ? SIPD_TLS :
		t->transport == SNAP_TP_TCP ? SIPD_TCP : SIPD_UDP;
	uint64_t conn = 0;
	size_t n = 0;
	int err;

	err = trunk_resolve(t->host, port, &dst, 1, &n);
	if (err)
		return err == EINPROGRESS ? EAGAIN : err;
	if (tp != SIPD_UDP) {
		struct sipd_peer p = { .tp = tp, .dst = &dst, .name = t->host,
			.ca_file = t->tls_ca, .verify = t->tls_verify };
		char why[160];

		err = sipd_connect(app->sd, &p, &conn, why, sizeof(why));
		if (err) {
			log_warn(MOD, "call %s: trunk %s: %s", c->id, t->name,
				 why[0] ? why : strerror(err));
			return err;
		}
	}
	if (t->domain[0] || port == 5060)
		snprintf(uri, sizeof(uri), "sip:%s@%s", c->out.num,
			 domain_of(t));
	else
		snprintf(uri, sizeof(uri), "sip:%s@%s:%u", c->out.num, t->host,
			 port);
	if (strlen(uri) >= sizeof(l->uri))
		return ENAMETOOLONG;
	cid_of(c, t, &id);
	snprintf(from, sizeof(from), "sip:%s@%s", id.number[0] ? id.number :
		 "anonymous", domain_of(t));
	l = leg_new(c, false);
	if (!l)
		return ENOMEM;
	err = dialog_uac(&l->dlg, id.name, from, uri, uri, tp, &dst, conn);
	if (err) {
		mem_deref(l);
		return err;
	}
	memcpy(l->uri, uri, strlen(uri) + 1);   /* fits: checked above */
	l->trunk = t;
	l->gen = c->gen;
	l->nat = false;
	l->sig = dst;
	list_append(&c->blegs, &l->cle, l);
	leg_index(app, l);
	c->out.cur = l;
	err = send_invite(c, l, NULL);
	if (err) {
		l->failed = true;   /* stays with the call until it ends */
		l->code = 503;
	}
	return err;
}

/* The trunk rung last answered nothing at all in CALL_TRUNK_RESP_MS:
 * its leg is given up (cancelled once it speaks; a late 2xx is hung up:
 * bleg.c) and the next trunk rings. */
static void try_next(struct call *c);

static void resp_timeout(void *arg)
{
	struct call *c = arg;
	struct leg *l = c->out.cur;

	if (c->state != CALL_RINGING || c->win || !l || l->failed)
		return;
	l->cancel = true;
	l->failed = true;
	l->code = 408;
	log_info(MOD, "call %s: trunk %s answers nothing: the next trunk",
		 c->id, l->trunk->name);
	try_next(c);
}

void trunk_out_heard(struct leg *l)
{
	if (l == l->call->out.cur)
		tmr_cancel(&l->call->out.resp);
}

/* Calls out on trunk name now (its max_calls). */
static unsigned trunk_calls(struct call_app *app, const char *name)
{
	unsigned n = 0;

	for (struct le *le = list_head(&app->calls); le; le = le->next) {
		const struct call *o = le->data;

		n += o->out.live && o->state != CALL_ENDING &&
			!strcmp(o->out.trunk, name);
	}
	return n;
}

/* The route's next usable trunk rings; none left: the call ends. */
static void try_next(struct call *c)
{
	const struct out_route *r = c->out.r;

	while (c->out.next < r->n_trunks) {
		const char *name = r->trunks[c->out.next++];
		const struct trunk_conf *t = trunk_find(c->snap, name);
		int err;

		if (!t) {
			log_warn(MOD, "call %s: route %s names trunk %s, which "
				 "is not configured", c->id, r->name, name);
			continue;
		}
		if (t->max_calls && trunk_calls(c->app, name) >= t->max_calls) {
			log_info(MOD, "call %s: trunk %s is at its %u calls",
				 c->id, name, t->max_calls);
			continue;
		}
		c->gen++;
		snprintf(c->out.trunk, sizeof(c->out.trunk), "%s", name);
		err = leg_start(c, t);
		tmr_cancel(&c->out.resp);
		if (!err) {
			tmr_start(&c->out.resp, CALL_TRUNK_RESP_MS,
				  resp_timeout, c);
			log_info(MOD, "call %s: %s -> trunk %s (route %s, %s)",
				 c->id, c->caller, name, r->name,
				 outbound_dest_str(r->dest));
			return;
		}
		log_warn(MOD, "call %s: trunk %s cannot be reached: %s",
			 c->id, name, strerror(err));
	}
	fail(c, 503, "Service Unavailable", "failed", "system",
	     "no trunk answered");
}

static void ring_timeout(void *arg)
{
	struct call *c = arg;

	if (c->state != CALL_RINGING)
		return;
	bleg_cancel_others(c, NULL);
	fail(c, 480, "Temporarily Unavailable", "noanswer", "system",
	     "ring timeout");
}

/* A toll-fraud limit refused the call: event, alert, answer. */
static void toll_refused(struct call *c, enum toll_verdict v)
{
	const struct out_route *r = c->out.r;
	bool hour = v == TOLL_EXT_HOUR || v == TOLL_GLOBAL_HOUR;
	unsigned code = hour ? 403 : v == TOLL_TABLE_FULL ? 503 : 486;
	const char *reason = hour ? (r->dest == SNAP_DEST_PREMIUM ?
				     "Forbidden (premium calls per hour limit)"
				     : "Forbidden (international calls per "
				     "hour limit)") :
		v == TOLL_TABLE_FULL ? "Service Unavailable" :
		"Busy Here (external call limit)";

	c->app->c_limit++;
	call_event(c->app, "toll_limit", json_pack(
		"{s:s,s:s,s:s,s:s,s:s,s:s}", "caller", c->caller,
		"extension", c->out.payer->number, "dialled", c->dialled,
		"class", outbound_dest_str(r->dest), "route", r->name,
		"limit", toll_verdict_str(v)));
	log_warn(MOD, "ALERT toll fraud: call %s from %s (%s call, route %s) "
		 "refused by the %s limit", c->id, c->out.payer->number,
		 outbound_dest_str(r->dest), r->name, toll_verdict_str(v));
	fail(c, code, reason, code == 486 ? "busy" : "rejected", "system",
	     "toll limit");
}

/* The hourly counts changed: their text to the writer (toll_save.h). */
static void toll_persist(struct call_app *app)
{
	json_t *d;

	if (!app->toll_save)
		return;
	d = toll_dump(app->toll, call_unix_ms() / 1000);
	toll_save_put(app->toll_save,
		      d ? json_dumps(d, JSON_COMPACT) : NULL);
	json_decref(d);
}

void trunk_out_start(struct call *c, const struct route_result *rr)
{
	struct call_app *app = c->app;
	enum toll_verdict v;

	c->out.live = true;
	c->out.r = rr->oroute;
	c->out.next = 0;
	c->out.payer = rr->payer;
	snprintf(c->out.num, sizeof(c->out.num), "%s", rr->out_num);
	if (rr->fwd_rule != ROUTE_R_NONE)
		snprintf(c->fwd_to, sizeof(c->fwd_to), "%.23s", rr->out_num);
	/* a caller answered by a service (call password) is handed on to
	 * extensions only (svc_connect.c) */
	if (c->handon) {
		svc_connect_failed(c, 480, "unavailable", "system",
				   "external forward after a gate");
		return;
	}
	if (!app->toll) {
		fail(c, 503, "Service Unavailable", "failed", "system",
		     "no memory");
		return;
	}
	v = toll_take(app->toll, toll_limits_of(c->snap),
		      c->out.payer->number, c->out.r->dest,
		      call_unix_ms() / 1000);
	if (v != TOLL_OK) {
		toll_refused(c, v);
		return;
	}
	c->out.counted = c->out.r->dest != SNAP_DEST_EMERGENCY;
	if (c->out.r->dest == SNAP_DEST_INTERNATIONAL ||
	    c->out.r->dest == SNAP_DEST_PREMIUM)   /* an hour counted */
		toll_persist(app);
	tmr_start(&c->ring, CALL_RING_MS, ring_timeout, c);
	try_next(c);
}

/* A challenge of the trunk's answered once: the INVITE again with
 * credentials. 0 when it went. */
static int answer_challenge(struct call *c, struct leg *l,
			    const struct sipmsg *m)
{
	const struct trunk_conf *t = l->trunk;
	const char *want = m->scode == 401 ? "WWW-Authenticate" :
		"Proxy-Authenticate";
	const char *user = t->auth_user[0] ? t->auth_user : t->username;
	char val[1024], line[1100];
	int err = ENOENT;

	if (l->authed || !user[0] || !t->password[0])
		return EPERM;
	for (size_t i = 0; i < m->n_hdr; i++) {
		const struct sipmsg_hdr *h = &m->hdr[i];

		if (h->name.l != strlen(want) ||
		    strncasecmp(h->name.p, want, h->name.l))
			continue;
		err = auth_client_answer(h->val.p, h->val.l, "INVITE", l->uri,
					 user, t->password, 1, NULL, val,
					 sizeof(val));
		break;
	}
	if (err)
		return err;
	snprintf(line, sizeof(line), "%s: %s\r\n", m->scode == 401 ?
		 "Authorization" : "Proxy-Authorization", val);
	l->authed = true;
	/* the challenged INVITE's transaction lives on (Timer D) but is
	 * no longer the leg's: it must not name the leg when it ends (the
	 * leg may be gone by then) */
	if (l->inv) {
		ctrans_set_user(l->inv, NULL);
		l->inv = NULL;
	}
	err = send_invite(c, l, line);
	if (!err)
		tmr_start(&c->out.resp, CALL_TRUNK_RESP_MS, resp_timeout, c);
	sodium_memzero(val, sizeof(val));
	sodium_memzero(line, sizeof(line));
	return err;
}

/* The answer for the caller when a trunk's final ends the call. */
static const char *phrase_of(unsigned code, const char **disp)
{
	switch (code) {
	case 486: case 600:
		*disp = "busy";
		return "Busy Here";
	case 603:
		*disp = "rejected";
		return "Decline";
	case 404: case 604:
		*disp = "notfound";
		return "Not Found";
	case 484:
		*disp = "notfound";
		return "Address Incomplete";
	case 480:
		*disp = "unavailable";
		return "Temporarily Unavailable";
	case 403:
		*disp = "rejected";
		return "Forbidden";
	case 487:
		*disp = "cancelled";
		return "Request Terminated";
	default:
		*disp = "failed";
		return "Call Failed";
	}
}

void trunk_out_final(struct call_app *app, struct leg *l,
		     const struct sipmsg *m)
{
	struct call *c = l->call;
	unsigned code = m->scode;
	const char *disp, *reason;
	int err;

	(void)app;
	l->failed = true;
	l->code = code;
	if (c->state != CALL_RINGING || c->win || l->cancel ||
	    l->gen != c->gen)
		return;
	if (code == 401 || code == 407) {
		err = answer_challenge(c, l, m);
		if (!err) {
			l->failed = false;
			return;
		}
		log_warn(MOD, "call %s: trunk %s asks for credentials (%u): %s",
			 c->id, l->trunk->name, code, l->authed ?
			 "refused them" : strerror(err));
	}
	if ((code >= 500 && code < 600) || code == 408) {
		log_info(MOD, "call %s: trunk %s answered %u: the next trunk",
			 c->id, l->trunk->name, code);
		try_next(c);
		return;
	}
	/* 401/407 again or unanswerable: the trunk refuses us */
	if (code == 401 || code == 407)
		code = 403;
	reason = phrase_of(code, &disp);
	fail(c, code, reason, disp, "callee", "trunk refused");
}

void trunk_out_timeout(struct call_app *app, struct leg *l)
{
	struct call *c = l->call;

	(void)app;
	l->failed = true;
	l->code = 408;
	if (c->state != CALL_RINGING || c->win || l->cancel ||
	    l->gen != c->gen)
		return;
	log_info(MOD, "call %s: trunk %s did not answer: the next trunk",
		 c->id, l->trunk->name);
	try_next(c);
}

void trunk_out_conn_closed(struct call_app *app, struct leg *l,
			   const char *why)
{
	struct call *c = l->call;

	(void)app;
	/* nothing can answer it on a closed stream and nothing is resent:
	 * its timer B ends it unseen (ct_end finds no leg), so the
	 * failover below is the only one */
	if (l->inv) {
		ctrans_set_user(l->inv, NULL);
		l->inv = NULL;
	}
	if (l->failed)
		return;
	l->failed = true;
	l->code = 503;
	if (c->state != CALL_RINGING || c->win || l->cancel ||
	    l->gen != c->gen)
		return;
	log_info(MOD, "call %s: trunk %s: %s: the next trunk", c->id,
		 l->trunk->name, why);
	try_next(c);
}

void trunk_out_live(const struct call *c, struct route_live *live)
{
	live->from_trunk = c->trunk_in != NULL;
	live->trunk_out_ok = toll_limits_of(c->snap)->inbound_to_outbound;
}

void trunk_out_ending(struct call *c)
{
	tmr_cancel(&c->out.resp);
	c->out.cur = NULL;
	if (!c->out.counted)
		return;
	c->out.counted = false;
	toll_end(c->app->toll, c->out.payer->number, c->out.r->dest);
}
