/*
 * originate — calls the PBX places itself (camp-on's callback): the A
 * leg is an INVITE from us to the first phone (its newest live contact),
 * with our own offer from the relay; when that phone answers, its answer
 * becomes the offer the second extension's contacts are rung with (the
 * normal ring plan, ring.c, bleg.c), and the call goes on like any other:
 * media anchored, in-dialog requests relayed, the CDR written
 * (docs/internals/calls.md, "Calls the PBX places (originate)").
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "call/call_int.h"
#include "common/log.h"
#include "store/snapshot.h"

#define ORIG_A_RING_S 30         /* the first phone, when it has no
				  * ring time */
#define ORIG_B_RING_S 30         /* the second, when it has no ring time */

static const char allow_hdr[] =
	"Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO\r\n";

/* The first live contact of extension number that can be reached now. */
static const struct reg_binding *contact_of(struct call_app *app,
					    const char *number)
{
	const struct reg_binding *b[CALL_MAX_FORK];
	size_t n = registrar_contacts(app->reg, number, sipd_now(app->sd), b,
				      CALL_MAX_FORK);

	for (size_t i = 0; i < n; i++) {
		/* a phone on TCP is reached only over its own connection */
		if (b[i]->tp != REG_TP_UDP &&
		    !sipd_conn_alive(app->sd, b[i]->conn_id))
			continue;
		return b[i];
	}
	return NULL;
}

static struct call *orig_new(struct call_app *app, const struct snapshot *s,
			     const struct snap_ext *a,
			     const struct snap_ext *b)
{
	struct call *c = mem_zalloc(sizeof(*c), call_destructor);
	uint8_t rnd[8];

	if (!c)
		return NULL;
	c->app = app;
	list_init(&c->blegs);
	tmr_init(&c->ring);
	tmr_init(&c->retx);
	c->snap = snapshot_ref((struct snapshot *)s);
	c->caller_x = a;
	c->callee_x = b;
	randombytes_buf(rnd, sizeof(rnd));
	c->id[0] = 'c';
	sodium_bin2hex(c->id + 1, sizeof(c->id) - 1, rnd, sizeof(rnd));
	snprintf(c->caller, sizeof(c->caller), "%s", a->number);
	snprintf(c->callee, sizeof(c->callee), "%s", b->number);
	snprintf(c->dialled, sizeof(c->dialled), "%s", b->number);
	c->start_ms = call_unix_ms();
	list_append(&app->calls, &c->le, c);
	app->n_calls++;
	app->c_total++;
	return c;
}

/* The first phone did not answer in time. */
static void a_timeout(void *arg)
{
	struct call *c = arg;

	if (c->state == CALL_RINGING && !c->orig.a_up)
		call_end(c, "noanswer", 480, "caller", "no answer");
}

/* The A leg: our INVITE to a's contact bnd, caller ID b. */
static int a_leg(struct call *c, const struct reg_binding *bnd)
{
	struct call_app *app = c->app;
	const struct snapshot *s = c->snap;
	const char *realm = s->realm[0] ? s->realm : SIPD_DEFAULT_REALM;
	enum sipd_tp tp = (enum sipd_tp)bnd->tp;   /* tls: as REG_TP_* */
	char from[128], to[128];
	struct leg *l;
	size_t off, blen = 0;
	int err;

	l = leg_new(c, true);
	if (!l)
		return ENOMEM;
	c->a = l;
	snprintf(from, sizeof(from), "sip:%s@%s", c->callee, realm);
	snprintf(to, sizeof(to), "sip:%s@%s", c->caller, realm);
	err = dialog_uac(&l->dlg, c->callee_x->name, from, to,
			 reg_binding_uri(bnd), tp, reg_binding_target(bnd),
			 bnd->conn_id);
	if (err)
		return err;
	snprintf(l->uri, sizeof(l->uri), "%s", reg_binding_uri(bnd));
	l->x = c->caller_x;
	l->orig = true;
	l->nat = bnd->nat || c->caller_x->nat;
	l->sig = *reg_binding_target(bnd);
	leg_index(app, l);
	err = media_orig_offer(c, &blen);
	if (err)
		return err;
	/* the Contact names the extension being called back */
	off = call_contact(app, l, c->callee, 0);
	if (off + sizeof(allow_hdr) < sizeof(app->xbuf)) {
		memcpy(app->xbuf + off, allow_hdr, sizeof(allow_hdr));
		off += sizeof(allow_hdr) - 1;
	}
	app->xbuf[off] = '\0';
	l->inv_cseq = l->dlg.lcseq + 1;
	return call_leg_request(app, l, "INVITE", app->xbuf,
				"application/sdp", app->body, blen, &l->inv,
				l);
}

int call_originate(struct call_app *app, const char *a_num,
		   const char *b_num, enum route_rule rule,
		   orig_done_h *doneh, uint64_t token, void *arg)
{
	const struct snapshot *s = sipd_snapshot(app->sd);
	const struct snap_ext *a, *b;
	const struct reg_binding *bnd;
	struct call *c;
	int err;

	a = snapshot_find(s, a_num, strlen(a_num));
	b = snapshot_find(s, b_num, strlen(b_num));
	if (!a || !b)
		return ENOENT;
	if (app->n_calls >= app->max_calls)
		return EBUSY;
	bnd = contact_of(app, a->number);
	if (!bnd)
		return ENOENT;
	c = orig_new(app, s, a, b);
	if (!c)
		return ENOMEM;
	c->orig.live = true;
	c->orig.rule = rule;
	c->fwd_rule = rule;
	snprintf(c->fwd_from, sizeof(c->fwd_from), "%s", b->number);
	snprintf(c->fwd_to, sizeof(c->fwd_to), "%s", a->number);
	err = a_leg(c, bnd);
	if (err) {
		/* nothing started: the caller hears it from the errno */
		call_end(c, "failed", 503, "system", "originate failed");
		return err;
	}
	c->orig.doneh = doneh;
	c->orig.token = token;
	c->orig.arg = arg;
	/* the first phone rings for its own ring time */
	tmr_start(&c->ring, (a->ring_time ? a->ring_time : ORIG_A_RING_S) *
		  1000u, a_timeout, c);
	log_info(MOD, "call %s: the PBX calls %s for %s (%s)", c->id,
		 c->caller, c->callee, route_rule_str(rule));
	return 0;
}

/* The first phone answered: ring the second (unless it is busy again:
 * then this call ends and whoever placed it is told). */
static void ring_b(struct call *c)
{
	const struct snap_ext *b = c->callee_x;
	struct route_result rr;

	/* this call counts as one of b's */
	if (call_calls_of(c->app, b->number, true) +
	    call_calls_of(c->app, b->number, false) > 1) {
		c->orig.busy_again = true;
		call_end(c, "busy", 486, "callee", "busy again");
		return;
	}
	memset(&rr, 0, sizeof(rr));
	rr.kind = ROUTE_EXTENSION;
	rr.rule = c->orig.rule;
	rr.callee = b;
	rr.n_targets = 1;
	rr.targets[0] = b;
	rr.n_steps = 1;
	rr.steps[0] = (struct route_step){ 0, 1, (uint16_t)(b->ring_time ?
		b->ring_time : ORIG_B_RING_S) };
	ring_plan(c, &rr);
}

static void hang_up_a(struct call_app *app, struct leg *l)
{
	(void)call_leg_request(app, l, "BYE", NULL, NULL, NULL, 0, NULL,
			       NULL);
}

void orig_response(struct call_app *app, struct leg *l,
		   const struct sipmsg *m)
{
	struct call *c = l->call;
	unsigned code = m->scode;
	bool again;

	if (code < 200) {
		(void)dialog_uac_update(&l->dlg, m, false);
		return;
	}
	if (code < 300) {
		if (dialog_uac_update(&l->dlg, m, true)) {
			l->failed = true;
			if (c->state == CALL_RINGING && !c->orig.a_up)
				call_end(c, "failed", 502, "caller",
					 "bad dialog headers");
			return;
		}
		again = l->ack != NULL;
		bleg_ack(app, l);
		if (again)
			return;   /* its 2xx again (our ACK was lost) */
		if (c->state != CALL_RINGING || c->orig.a_up) {
			hang_up_a(app, l);
			return;
		}
		tmr_cancel(&c->ring);
		c->orig.a_up = true;
		if (media_orig_answer(c, m)) {
			call_end(c, "rejected", 488, "caller", "bad sdp answer");
			return;
		}
		log_info(MOD, "call %s: %s answered (%s); ringing %s", c->id,
			 c->caller, c->codec, c->callee);
		ring_b(c);
		return;
	}
	l->failed = true;
	l->code = code;
	if (c->state != CALL_RINGING || c->orig.a_up)
		return;
	call_end(c, code == 486 || code == 600 ? "busy" : code == 603 ?
		 "rejected" : "noanswer", code, "caller", "refused");
}

void orig_timeout(struct call_app *app, struct leg *l)
{
	struct call *c = l->call;

	(void)app;
	if (l->failed || l->ack || c->state != CALL_RINGING ||
	    c->orig.a_up)
		return;
	l->failed = true;
	l->code = 408;
	call_end(c, "noanswer", 408, "caller", "no answer");
}

static void cancel_a(struct call_app *app, struct leg *l)
{
	struct ctrans_tx *tx;
	size_t n;

	if (!l->inv || ctrans_state(l->inv) != CTRANS_PROCEEDING)
		return;
	n = ctrans_cancel(l->inv, app->buf, sizeof(app->buf));
	if (n && ctrans_send(app->ct, l->dlg.tp, &l->dlg.dst, l->dlg.conn,
			     app->buf, n, call_now_ms(), &tx))
		log_warn(MOD, "call %s: the CANCEL of the first phone could "
			 "not go", l->call->id);
	call_tick_schedule(app);
}

void orig_ending(struct call *c, bool answered)
{
	struct leg *l = c->a;
	struct orig_outcome o;
	orig_done_h *h = c->orig.doneh;

	if (!c->orig.live)
		return;
	/* answered: call_end hangs both up, as for any call */
	if (!answered && l && !(c->side && !strcmp(c->side, "caller") &&
				l->ack)) {
		if (l->ack)
			hang_up_a(c->app, l);
		else if (!l->failed)
			cancel_a(c->app, l);
	}
	snprintf(c->orig.reason, sizeof(c->orig.reason), "%s: %s",
		 route_rule_str(c->orig.rule), c->reason ? c->reason : "");
	c->reason = c->orig.reason;
	memset(&o, 0, sizeof(o));
	o.a_answered = c->orig.a_up;
	o.b_answered = answered;
	/* in another call by then; its phone answering busy is not this
	 * (the phone may be busy outside the PBX: no call to wait for) */
	o.b_busy = c->orig.busy_again;
	c->orig.doneh = NULL;
	if (h)
		h(c->orig.token, &o, c->orig.arg);
}
