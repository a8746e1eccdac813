/*
 * call — the call layer as an application of the stack: its method rows,
 * its transaction tables and their timers, the leg index, the helpers
 * every room writes and sends with, status and the live list.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "call/call_int.h"   /* the libre parts, before re_main.h */
#include <re_main.h>
#include "common/log.h"
#include "guard/guard.h"
#include "store/snapshot.h"
#include "call/toll.h"   /* outbound (issue 15) */
#include "call/toll_save.h"   /* issue 15 */

uint64_t call_now_ms(void)
{
	return tmr_jiffies();
}

int64_t call_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- transactions -------------------------------------------------- */

static void tick(void *arg)
{
	struct call_app *app = arg;
	uint64_t now = call_now_ms();

	app->tick_at = 0;
	strans_tick(app->st, now);
	ctrans_tick(app->ct, now);
	call_tick_schedule(app);
}

void call_tick_schedule(struct call_app *app)
{
	uint64_t a = strans_next(app->st), b = ctrans_next(app->ct);
	uint64_t next = a < b ? a : b, now = call_now_ms();

	if (next == UINT64_MAX) {
		tmr_cancel(&app->tick);
		app->tick_at = 0;
		return;
	}
	if (app->tick_at && app->tick_at <= next && tmr_isrunning(&app->tick))
		return;
	app->tick_at = next;
	tmr_start(&app->tick, next > now ? next - now : 0, tick, app);
}

static void tx_send(enum sipd_tp tp, const struct sa *dst, uint64_t conn,
		    const char *buf, size_t len, void *arg)
{
	struct call_app *app = arg;

	(void)sipd_send(app->sd, tp, dst, conn, buf, len);
}

/* A server transaction ended: forget it wherever it is kept. */
static void st_end(struct strans_tx *tx, enum strans_end why, void *arg)
{
	struct saved_req *s = strans_user(tx);

	(void)arg;
	if (!s)
		return;
	s->tx = NULL;
	(void)why;
}

static void ct_end(struct ctrans_tx *tx, enum ctrans_end why, void *arg)
{
	struct leg *l = ctrans_user(tx);
	struct call_app *app = arg;

	if (!l)
		return;
	if (l->inv == tx) {
		l->inv = NULL;
		if (why == CTRANS_END_TIMEOUT)
			bleg_timeout(app, l);
		return;
	}
	if (l->call && l->call->fwd.live && l->call->fwd.out == tx) {
		struct call *c = l->call;

		c->fwd.out = NULL;
		if (why == CTRANS_END_TIMEOUT) {
			(void)call_respond(app, &c->fwd.in, 408,
					   "Request Timeout", NULL, NULL,
					   NULL, 0);
			saved_req_clear(&c->fwd.in);
			c->fwd.live = false;
		}
	}
}

/* ---- leg index ------------------------------------------------------ */

static bool slice_eq(const char *s, const struct sipmsg_str *p)
{
	/* an absent slice (no From tag) has a NULL pointer: memcmp must
	 * not see it, even for 0 octets */
	return strlen(s) == p->l && (!p->l || !memcmp(s, p->p, p->l));
}

struct leg *leg_find(struct call_app *app, const struct sipmsg *m)
{
	uint32_t k = hash_joaat((const uint8_t *)m->callid.p, m->callid.l);
	struct le *le;

	for (le = hash_list(app->legs, k)->head; le; le = le->next) {
		struct leg *l = le->data;

		if (slice_eq(l->dlg.callid, &m->callid) &&
		    slice_eq(l->dlg.rtag, &m->from.tag) &&
		    slice_eq(l->dlg.ltag, &m->to.tag))
			return l;
	}
	return NULL;
}

void leg_index(struct call_app *app, struct leg *l)
{
	hash_append(app->legs, hash_joaat((const uint8_t *)l->dlg.callid,
					  strlen(l->dlg.callid)),
		    &l->hle, l);
}

/* ---- writing and sending -------------------------------------------- */

int call_laddr(struct call_app *app, const struct leg *l, struct sa *out)
{
	return sipd_local_addr(app->sd, l->dlg.tp, l->dlg.conn, &l->dlg.dst,
			       out);
}

size_t call_contact(struct call_app *app, const struct leg *l,
		    const char *user, size_t off)
{
	struct sa la;
	int n;

	if (off >= sizeof(app->xbuf) || call_laddr(app, l, &la))
		return off;
	n = re_snprintf(app->xbuf + off, sizeof(app->xbuf) - off,
			"Contact: <sip:%s@%J%s>\r\n", user, &la,
			dialog_uri_tp(l->dlg.tp));
	return n > 0 ? off + (size_t)n : off;
}

int saved_req_set(struct saved_req *s, const struct sipd_req *rq,
		  struct strans_tx *tx)
{
	const struct sipmsg *m = rq->m;
	size_t len = (size_t)(m->body.p + m->body.l - m->met.p);

	saved_req_clear(s);
	s->buf = mem_alloc(len, NULL);
	if (!s->buf)
		return ENOMEM;
	memcpy(s->buf, m->met.p, len);
	s->len = len;
	s->src = *rq->src;
	s->tp = rq->tp;
	s->conn = rq->conn;
	s->tx = tx;
	if (tx)
		strans_set_user(tx, s);
	return 0;
}

void saved_req_clear(struct saved_req *s)
{
	if (s->tx)
		strans_set_user(s->tx, NULL);
	s->tx = NULL;
	s->buf = mem_deref(s->buf);
	s->len = 0;
}

size_t call_respond(struct call_app *app, struct saved_req *s,
		    unsigned code, const char *reason, const char *extra,
		    const char *ctype, const char *body, size_t blen)
{
	struct sipmsg *m = &app->scratch;
	const char *why;
	size_t n;

	if (!s->tx || !s->buf)
		return 0;
	if (sipmsg_parse(m, s->buf, s->len, true) || sipmsg_check(m, &why))
		return 0;
	n = sipmsg_reply_body(m, &s->src, code, reason, extra,
			      extra ? strlen(extra) : 0,
			      sipd_totag_salt(app->sd),
			      body ? (ctype ? ctype : "application/sdp") : NULL,
			      body, blen, app->buf, sizeof(app->buf));
	if (!n)
		return 0;
	if (strans_respond(app->st, s->tx, code, app->buf, n, call_now_ms()))
		return 0;
	if (code >= 200) {
		strans_set_user(s->tx, NULL);
		s->tx = NULL;
	}
	call_tick_schedule(app);
	return n;
}

int call_leg_request(struct call_app *app, struct leg *l, const char *method,
		     const char *extra, const char *ctype, const char *body,
		     size_t blen, struct ctrans_tx **txp, void *user)
{
	char branch[40];
	struct sa la;
	struct ctrans_tx *tx;
	size_t n;
	int err;

	if (call_laddr(app, l, &la))
		return ENOENT;
	ctrans_branch(branch, sizeof(branch));
	n = dialog_request(&l->dlg, method, ++l->dlg.lcseq, branch, &la,
			   extra, ctype, body, blen, app->buf,
			   sizeof(app->buf));
	if (!n)
		return ENOSPC;
	err = ctrans_send(app->ct, l->dlg.tp, &l->dlg.dst, l->dlg.conn,
			  app->buf, n, call_now_ms(), &tx);
	if (err)
		return err;
	ctrans_set_user(tx, user);
	if (txp)
		*txp = tx;
	call_tick_schedule(app);
	return 0;
}

void call_answer(struct call_app *app, struct sipd_req *rq,
		 struct strans_tx *tx, unsigned code, const char *reason,
		 const char *extra)
{
	size_t n = sipmsg_reply(rq->m, rq->src, code, reason, extra,
				extra ? strlen(extra) : 0,
				sipd_totag_salt(app->sd), app->buf,
				sizeof(app->buf));

	if (n)
		(void)strans_respond(app->st, tx, code, app->buf, n,
				     call_now_ms());
	call_tick_schedule(app);
}

void call_set_subscribe(struct call_app *app, call_subscribe_h *h,
			call_sub_owns_h *owns, void *arg)
{
	if (!app)
		return;
	app->subh = h;
	app->sub_owns = owns;
	app->sub_arg = arg;
}

int call_tx_respond(struct call_app *app, struct strans_tx *tx,
		    unsigned code, const char *buf, size_t len)
{
	int err;

	if (!app || !tx || !buf)
		return EINVAL;
	err = strans_respond(app->st, tx, code, buf, len, call_now_ms());
	call_tick_schedule(app);
	return err;
}

void call_uri_user(const struct sipmsg_str *u, const char **p, size_t *l)
{
	const char *s = u->p, *e = u->p + u->l, *at;

	*p = "";
	*l = 0;
	if (u->l > 4 && !strncasecmp(s, "sip:", 4))
		s += 4;
	else if (u->l > 5 && !strncasecmp(s, "sips:", 5))
		s += 5;
	else
		return;
	at = memchr(s, '@', (size_t)(e - s));
	if (!at)
		return;
	for (const char *q = s; q < at; q++)
		if (*q == ';' || *q == ':') {
			at = q;
			break;
		}
	*p = s;
	*l = (size_t)(at - s);
}

void call_event(struct call_app *app, const char *type, json_t *fields)
{
	guard_report_event(sipd_guard(app->sd), type, fields);
}

/* ---- responses from the B side -------------------------------------- */

static void on_response(struct sipd *sd, struct sipmsg *m,
			const struct sa *src, void *arg)
{
	struct call_app *app = arg;
	struct ctrans_tx *tx = NULL;
	struct leg *l;

	(void)sd;
	if (sipmsg_check_response(m))
		return;
	switch (ctrans_receive(app->ct, m, src, call_now_ms(), &tx)) {
	case CTRANS_RX_PASS:
		break;
	case CTRANS_RX_NONE: {
		/* a 2xx to an INVITE resent after its transaction: the ACK
		 * was lost, send it again (RFC 3261 13.2.2.4) */
		struct le *le;

		if (m->scode < 200 || m->scode > 299 ||
		    !sipmsg_eq(&m->cseq_met, "INVITE"))
			return;
		le = hash_list(app->legs, hash_joaat(
			(const uint8_t *)m->callid.p, m->callid.l))->head;
		for (; le; le = le->next) {
			l = le->data;
			if (l->ack &&
			    slice_eq(l->dlg.callid, &m->callid) &&
			    slice_eq(l->dlg.ltag, &m->from.tag))
				(void)sipd_send(app->sd, l->dlg.tp,
						&l->dlg.dst, l->dlg.conn,
						l->ack, l->ack_len);
		}
		return;
	}
	default:
		call_tick_schedule(app);
		return;
	}
	call_tick_schedule(app);
	l = tx ? ctrans_user(tx) : NULL;
	if (!l)
		return;
	if (l->inv == tx) {
		bleg_response(app, l, m);
		return;
	}
	if (l->call && l->call->fwd.live && l->call->fwd.out == tx)
		fwd_response(app, l->call, m);
}

/* The relay's counters of live calls (the list, status and /metrics
 * show them) are asked for every 2 s; the answers arrive as events. */
static void counters_tick(void *arg)
{
	struct call_app *app = arg;

	for (struct le *le = list_head(&app->calls); le; le = le->next) {
		const struct call *c = le->data;

		if (c->relay_live)
			(void)relay_session_query(app->relay, c->relay_id);
	}
	tmr_start(&app->counters, 2000, counters_tick, app);
}

/* ---- the application ------------------------------------------------ */

/* MESSAGE is not served, but challenged like an INVITE (issue 11: no
 * request is answered differently for a known and an unknown user before
 * authentication); SUBSCRIBE likewise, then handed to the subscribe hook
 * (voicemail's MWI, call_set_subscribe). */
static const struct sipd_method rows[] = {
	{ "INVITE", GUARD_REQ_CHALLENGED, NULL, call_h_invite },
	{ "ACK", 0, NULL, call_h_ack },
	{ "BYE", 0, NULL, call_h_bye },
	{ "CANCEL", 0, NULL, call_h_cancel },
	{ "UPDATE", 0, NULL, call_h_update_info },
	{ "INFO", 0, NULL, call_h_update_info },
	{ "REFER", GUARD_REQ_CHALLENGED, NULL, call_h_update_info },
	{ "MESSAGE", GUARD_REQ_CHALLENGED, NULL, call_h_unserved },
	{ "SUBSCRIBE", GUARD_REQ_CHALLENGED, NULL, call_h_unserved },
};

static void on_apply(struct sipd *sd, void *arg)
{
	struct call_app *app = arg;

	auth_snapshot(app->auth, sipd_snapshot(sd));
}

static void on_status(json_t *o, void *arg)
{
	json_object_set_new(o, "calls", call_stats(arg));
}

static const struct sipd_app call_sipd_app = {
	.name = "call",
	.methods = rows,
	.n_methods = sizeof(rows) / sizeof(rows[0]),
	.response = on_response,
	.apply = on_apply,
	.status = on_status,
	.conn_closed = call_conn_closed,   /* conn_lost.c (issue 15) */
};

static void app_destructor(void *arg)
{
	struct call_app *app = arg;
	struct le *le;

	while ((le = list_head(&app->calls)))
		call_end(le->data, "failed", 503, "system", "shutdown");
	cdr_flush_all(app);
	moh_close(app);    /* its endpoints hold relay ports */
	tmr_cancel(&app->tick);
	tmr_cancel(&app->cdr_tmr);
	tmr_cancel(&app->counters);
	if (app->relay)
		fd_close(relay_event_fd(app->relay));
	app->relay = relay_free(app->relay);
	mem_deref(app->st);
	mem_deref(app->ct);
	hash_flush(app->nc);
	mem_deref(app->nc);
	mem_deref(app->legs);
	mem_deref(app->auth);
	toll_save_close(app->toll_save);   /* after its last put */
	toll_free(app->toll);   /* outbound (issue 15) */
}

/* The toll counts a previous run saved, and the writer of ours. */
static void toll_open_saved(struct call_app *app, const char *path)
{
	int err = toll_save_load(path, app->toll, call_unix_ms() / 1000);

	if (err && err != ENOENT)
		log_warn(MOD, "toll counts in %s not restored: %s", path,
			 err == EINVAL ? "not a toll dump" : strerror(err));
	else if (!err)
		log_info(MOD, "toll counts of the last hour restored");
	if (toll_save_open(&app->toll_save, path))
		log_warn(MOD, "toll counts will not be kept across restarts");
}

int call_alloc(struct call_app **cp, struct sipd *sd, struct registrar *reg,
	       const struct call_conf *conf)
{
	const struct sip_settings *ss;
	struct relay_conf rc;
	struct call_app *app;
	int err;

	if (!cp || !sd || !reg || !conf)
		return EINVAL;
	app = mem_zalloc(sizeof(*app), app_destructor);
	if (!app)
		return ENOMEM;
	app->sd = sd;
	app->reg = reg;
	app->cdrh = conf->cdrh;
	app->cdr_arg = conf->cdr_arg;
	app->rec = conf->rec;
	err = moh_open(app, conf->moh_dir, conf->moh_default_dir);
	if (err)
		log_warn(MOD, "music on hold: %s (held calls hear silence)",
			 strerror(err));
	app->max_calls = conf->max_calls ? conf->max_calls : 1000;
	list_init(&app->calls);
	list_init(&app->cdr_wait);
	tmr_init(&app->tick);
	tmr_init(&app->cdr_tmr);
	tmr_init(&app->counters);
	err = auth_alloc(&app->auth);
	err = err ? err : hash_alloc(&app->legs, 1024);
	err = err ? err : hash_alloc(&app->nc, 256);
	err = err ? err : toll_alloc(&app->toll);   /* outbound (issue 15) */
	if (!err && conf->toll_path)
		toll_open_saved(app, conf->toll_path);
	/* A call leaves two transactions on each side for 64*T1 (32 s: the
	 * INVITE's Accepted state, the BYE's Completed one), so a PBX, an
	 * SBC or a trunk behind one address at 50 calls/s holds ~3,200.
	 * Server transactions exist only for authenticated or in-dialog
	 * requests (the challenge, a 481, a CANCEL of nothing are
	 * stateless): the bounds are for load, not for the attacker. */
	{
		struct strans_conf sc = { .max_total = 16384,
					  .max_per_src = 4096 };
		struct ctrans_conf cc = { .max_total = 16384,
					  .max_per_dst = 4096 };

		err = err ? err : strans_alloc(&app->st, &sc, tx_send, st_end,
					       app);
		err = err ? err : ctrans_alloc(&app->ct, &cc, tx_send, ct_end,
					       app);
	}
	if (err)
		goto out;
	ss = snapshot_sip(sipd_snapshot(sd));
	relay_conf_default(&rc);
	rc.port_min = conf->rtp_min ? conf->rtp_min : ss->rtp_start;
	rc.port_max = conf->rtp_max ? conf->rtp_max : ss->rtp_end;
	rc.threads = 1;
	sa_init(&rc.local, AF_INET);
	if (conf->rtp_addr && *conf->rtp_addr) {
		err = sa_set_str(&rc.local, conf->rtp_addr, 0);
		if (err) {
			log_err(MOD, "rtp address %s: not an IP address",
				conf->rtp_addr);
			goto out;
		}
	}
	app->rtp_bind = rc.local;
	app->rtp_any = sa_is_any(&rc.local);
	err = relay_alloc(&app->relay, &rc);
	if (err) {
		log_err(MOD, "relay on ports %u-%u: %s", rc.port_min,
			rc.port_max, strerror(err));
		goto out;
	}
	err = fd_listen(relay_event_fd(app->relay), FD_READ, media_events,
			app);
	if (err)
		goto out;
	auth_snapshot(app->auth, sipd_snapshot(sd));
	err = sipd_app_register(sd, &call_sipd_app, app);
	if (err)
		goto out;
	tmr_start(&app->counters, 2000, counters_tick, app);
	log_info(MOD, "calls: relay on ports %u-%u, at most %u calls",
		 rc.port_min, rc.port_max, app->max_calls);
	*cp = app;
	return 0;
out:
	mem_deref(app);
	return err;
}

void call_close(struct call_app *c)
{
	if (!c)
		return;
	sipd_app_unregister(c->sd, c);
	mem_deref(c);
}

/* ---- status ----------------------------------------------------------- */

static void iso(char *out, size_t sz, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, sz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *state_str(enum call_state s)
{
	switch (s) {
	case CALL_RINGING:
		return "ringing";
	case CALL_ANSWERED:
		return "answered";
	default:
		return "ending";
	}
}

json_t *call_list(struct call_app *app)
{
	json_t *a = json_array();
	int64_t now = call_unix_ms();
	struct le *le;

	if (!app || !a)
		return a;
	for (le = list_head(&app->calls); le; le = le->next) {
		const struct call *c = le->data;
		char st[32], an[32];
		json_t *o;

		iso(st, sizeof(st), c->start_ms);
		iso(an, sizeof(an), c->answer_ms);
		o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:I,s:s,s:b,"
			      "s:{s:I,s:I},s:{s:I,s:I}}",
			      "id", c->id, "caller", c->caller,
			      "callee", c->callee, "dialled", c->dialled,
			      "state", state_str(c->state), "start", st,
			      "answer", c->answer_ms ? json_string(an) :
			      json_null(),
			      "duration_s", (json_int_t)(c->answer_ms ?
				(now - c->answer_ms) / 1000 : 0),
			      "codec", c->codec, "held", c->held,
			      "packets", "caller", (json_int_t)c->st[0].in_pkts,
			      "callee", (json_int_t)c->st[1].in_pkts,
			      "dropped", "caller",
			      (json_int_t)c->st[0].drop_source,
			      "callee", (json_int_t)c->st[1].drop_source);
		if (o)
			json_array_append_new(a, o);
	}
	return a;
}

json_t *call_stats(struct call_app *app)
{
	unsigned total = 0, nfree = 0;
	uint64_t pk = 0, dr = 0;
	json_t *o;

	if (!app)
		return json_object();
	relay_ports_count(app->relay, &total, &nfree);
	for (struct le *le = list_head(&app->calls); le; le = le->next) {
		const struct call *c = le->data;

		pk += c->st[0].in_pkts + c->st[1].in_pkts;
		dr += c->st[0].drop_source + c->st[1].drop_source;
	}
	o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
			 "s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I}}",
			 "active", (json_int_t)app->n_calls,
			 "total", (json_int_t)app->c_total,
			 "answered", (json_int_t)app->c_answered,
			 "failed", (json_int_t)app->c_failed,
			 "refused_limit", (json_int_t)app->c_limit,
			 "rtp_timeouts", (json_int_t)app->c_timeout,
			 "strict_drop_events", (json_int_t)app->c_strict_drop,
			 "relay", "sessions", (json_int_t)app->n_calls,
			 "ports_free", (json_int_t)nfree,
			 "ports_total", (json_int_t)total,
			 "live_packets", (json_int_t)pk,
			 "live_dropped_source", (json_int_t)dr,
			 "packets_total", (json_int_t)(app->c_pkts + pk),
			 "dropped_source_total",
			 (json_int_t)(app->c_dropped + dr));
	/* srtp (issue 15): packets dropped for a bad tag or a replay */
	if (o) {
		uint64_t sf = app->c_srtp_fail, sr = app->c_srtp_replay;

		for (struct le *le = list_head(&app->calls); le;
		     le = le->next) {
			const struct call *c = le->data;

			sf += c->st[0].srtp_auth_fail + c->st[1].srtp_auth_fail;
			sr += c->st[0].srtp_replay + c->st[1].srtp_replay;
		}
		json_object_set_new(json_object_get(o, "relay"),
				    "srtp_auth_fail_total", json_integer(
					    (json_int_t)sf));
		json_object_set_new(json_object_get(o, "relay"),
				    "srtp_replay_total", json_integer(
					    (json_int_t)sr));
	}
	/* camp-on (issue 13) */
	if (o && app->campon)
		json_object_set_new(o, "camp_on", campon_status(app->campon));
	if (o && app->toll)   /* outbound (issue 15) */
		json_object_set_new(o, "toll", toll_status(app->toll,
							   call_unix_ms() / 1000));
	return o;
}
