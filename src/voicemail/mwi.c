/*
 * mwi — message-waiting indication on the SIP loop: the subscription
 * table, the SUBSCRIBE rules, NOTIFYs in dialog and unsolicited ones.
 * The rules are in mwi.h and docs/internals/mwi.md.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* the libre parts (libre headers have no include guards) */
#include "registrar/registrar.h"

#include "call/call.h"
#include "sip/ctrans.h"
#include "sip/dialog.h"
#include "sip/sipd.h"
#include "sip/strans.h"
#include "store/snapshot.h"
#include "voicemail/mwi.h"

#define MWI_BUF 8192
#define MWI_CTYPE "application/simple-message-summary"
#define MWI_ALLOW_EVENTS "Allow-Events: message-summary\r\n"

/* One mailbox's counts and its subscriptions (a box exists while it has
 * counts set or a subscription: bounded by the mailboxes of the
 * snapshot). */
struct mwi_box {
	struct le le;               /* m->boxes, by number */
	char number[SNAP_NUM];
	unsigned n_new, n_old;
	struct list subs;
	unsigned n_subs;
};

struct mwi_sub {
	struct le hle;              /* m->subs, by Call-ID */
	struct le ble;              /* box->subs */
	struct mwi *m;
	struct mwi_box *box;
	struct dialog dlg;
	char id[MWI_ID_MAX + 1];    /* the Event id parameter */
	struct tmr exp;
	uint64_t until_ms;          /* expiry (tmr_jiffies) */
	struct ctrans_tx *tx;       /* a NOTIFY in flight */
	bool again;                 /* notify once it has its answer */
	bool told;
	unsigned told_new, told_old;
};

struct mwi {
	struct sipd *sd;
	struct call_app *app;
	struct registrar *reg;
	struct ctrans *ct;
	struct tmr tick;
	uint64_t tick_at;
	struct hash *subs;
	struct hash *boxes;
	unsigned n_subs;
	uint64_t c_sent, c_failed, c_full, c_unsol;
	char buf[MWI_BUF];
	char body[512];
	char xbuf[1024];
};

static uint64_t now_ms(void)
{
	return tmr_jiffies();
}

static bool slice_eq(const char *s, const struct sipmsg_str *p)
{
	return strlen(s) == p->l && (!p->l || !memcmp(s, p->p, p->l));
}

/* The user part of a sip:/sips: Request-URI ("" when it has none). */
static void ruri_user(const struct sipmsg_str *u, const char **p, size_t *l)
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

/* ---- client transactions ---------------------------------------------- */

static void tick(void *arg);

static void tick_schedule(struct mwi *m)
{
	uint64_t next = ctrans_next(m->ct), now = now_ms();

	if (next == UINT64_MAX) {
		tmr_cancel(&m->tick);
		m->tick_at = 0;
		return;
	}
	if (m->tick_at && m->tick_at <= next && tmr_isrunning(&m->tick))
		return;
	m->tick_at = next;
	tmr_start(&m->tick, next > now ? next - now : 0, tick, m);
}

static void tick(void *arg)
{
	struct mwi *m = arg;

	m->tick_at = 0;
	ctrans_tick(m->ct, now_ms());
	tick_schedule(m);
}

static void tx_send(enum sipd_tp tp, const struct sa *dst, uint64_t conn,
		    const char *buf, size_t len, void *arg)
{
	struct mwi *m = arg;

	(void)sipd_send(m->sd, tp, dst, conn, buf, len);
}

/* ---- boxes and subscriptions ------------------------------------------ */

static struct mwi_box *box_find(struct mwi *m, const char *number)
{
	uint32_t k = hash_joaat((const uint8_t *)number, strlen(number));

	for (struct le *le = hash_list(m->boxes, k)->head; le; le = le->next) {
		struct mwi_box *b = le->data;

		if (!strcmp(b->number, number))
			return b;
	}
	return NULL;
}

static void box_destructor(void *arg)
{
	struct mwi_box *b = arg;

	hash_unlink(&b->le);
}

static struct mwi_box *box_get(struct mwi *m, const char *number)
{
	struct mwi_box *b = box_find(m, number);

	if (b)
		return b;
	b = mem_zalloc(sizeof(*b), box_destructor);
	if (!b)
		return NULL;
	snprintf(b->number, sizeof(b->number), "%s", number);
	list_init(&b->subs);
	hash_append(m->boxes, hash_joaat((const uint8_t *)number,
					 strlen(number)), &b->le, b);
	return b;
}

static void sub_destructor(void *arg)
{
	struct mwi_sub *s = arg;

	tmr_cancel(&s->exp);
	hash_unlink(&s->hle);
	list_unlink(&s->ble);
	if (s->tx)
		ctrans_set_user(s->tx, NULL);
	if (s->box && s->box->n_subs)
		s->box->n_subs--;
	if (s->m && s->m->n_subs)
		s->m->n_subs--;
	dialog_reset(&s->dlg);
}

static struct mwi_sub *sub_find(struct mwi *m, const struct sipmsg *msg)
{
	uint32_t k = hash_joaat((const uint8_t *)msg->callid.p,
				msg->callid.l);

	for (struct le *le = hash_list(m->subs, k)->head; le; le = le->next) {
		struct mwi_sub *s = le->data;

		if (slice_eq(s->dlg.callid, &msg->callid) &&
		    slice_eq(s->dlg.rtag, &msg->from.tag) &&
		    slice_eq(s->dlg.ltag, &msg->to.tag))
			return s;
	}
	return NULL;
}

/* ---- NOTIFY ----------------------------------------------------------- */

/* Send a NOTIFY in dialog d with the counts of box b: state "active"
 * (expires secs) or "terminated" with reason. 0 and *txp, or errno. */
static int notify(struct mwi *m, struct dialog *d, const struct mwi_box *b,
		  const char *id, const char *state, uint32_t secs,
		  const char *reason, struct ctrans_tx **txp)
{
	const struct sipd_settings *ss = sipd_settings(m->sd);
	char branch[40];
	struct sa la;
	size_t blen, n;
	int xl, err;

	*txp = NULL;
	if (sipd_local_addr(m->sd, d->tp, d->conn, &d->dst, &la))
		return ENOENT;
	if (d->tp != SIPD_UDP && !sipd_conn_alive(m->sd, d->conn))
		return ENOTCONN;
	blen = mwi_body(m->body, sizeof(m->body), b->number, ss->realm,
			b->n_new, b->n_old);
	if (!blen)
		return ENOSPC;
	xl = reason ?
		re_snprintf(m->xbuf, sizeof(m->xbuf),
			    "Event: message-summary%s%s\r\n"
			    "Subscription-State: %s;reason=%s\r\n"
			    "Contact: <sip:%s@%J%s>\r\n",
			    *id ? ";id=" : "", id, state, reason, b->number,
			    &la, dialog_uri_tp(d->tp)) :
		re_snprintf(m->xbuf, sizeof(m->xbuf),
			    "Event: message-summary%s%s\r\n"
			    "Subscription-State: %s;expires=%u\r\n"
			    "Contact: <sip:%s@%J%s>\r\n",
			    *id ? ";id=" : "", id, state, secs, b->number,
			    &la, dialog_uri_tp(d->tp));
	if (xl <= 0 || (size_t)xl >= sizeof(m->xbuf))
		return ENOSPC;
	ctrans_branch(branch, sizeof(branch));
	n = dialog_request(d, "NOTIFY", ++d->lcseq, branch, &la, m->xbuf,
			   MWI_CTYPE, m->body, blen, m->buf, sizeof(m->buf));
	if (!n)
		return ENOSPC;
	err = ctrans_send(m->ct, d->tp, &d->dst, d->conn, m->buf, n, now_ms(),
			  txp);
	if (err)
		return err;
	m->c_sent++;
	tick_schedule(m);
	return 0;
}

static uint32_t sub_left(const struct mwi_sub *s)
{
	uint64_t now = now_ms();

	return s->until_ms > now ? (uint32_t)((s->until_ms - now + 999) / 1000)
		: 0;
}

/* Tell subscription s its box's counts (now, or once the NOTIFY in
 * flight has its answer). A NOTIFY that cannot be sent ends it. */
static void sub_notify(struct mwi_sub *s)
{
	struct mwi *m = s->m;

	if (s->tx) {
		s->again = true;
		return;
	}
	s->again = false;
	if (notify(m, &s->dlg, s->box, s->id, "active", sub_left(s), NULL,
		   &s->tx)) {
		m->c_failed++;
		mem_deref(s);
		return;
	}
	ctrans_set_user(s->tx, s);
	s->told = true;
	s->told_new = s->box->n_new;
	s->told_old = s->box->n_old;
}

/* End s with a last NOTIFY (terminated;reason=why), nobody waits for
 * its answer. */
static void sub_end(struct mwi_sub *s, const char *why)
{
	struct ctrans_tx *tx;

	if (s->tx) {
		ctrans_set_user(s->tx, NULL);
		s->tx = NULL;
	}
	if (notify(s->m, &s->dlg, s->box, s->id, "terminated", 0, why, &tx))
		s->m->c_failed++;
	mem_deref(s);
}

static void sub_expired(void *arg)
{
	sub_end(arg, "timeout");
}

static void sub_arm(struct mwi_sub *s, uint32_t secs)
{
	s->until_ms = now_ms() + (uint64_t)secs * 1000;
	tmr_start(&s->exp, (uint64_t)secs * 1000, sub_expired, s);
}

static void ct_end(struct ctrans_tx *tx, enum ctrans_end why, void *arg)
{
	struct mwi_sub *s = ctrans_user(tx);
	struct mwi *m = arg;

	if (!s)
		return;
	s->tx = NULL;
	if (why != CTRANS_END_DONE) {
		/* no answer: the phone is gone (RFC 6665 4.2.2) */
		m->c_failed++;
		mem_deref(s);
		return;
	}
	if (s->again)
		sub_notify(s);
}

static void on_response(struct sipd *sd, struct sipmsg *msg,
			const struct sa *src, void *arg)
{
	struct mwi *m = arg;
	struct ctrans_tx *tx = NULL;
	struct mwi_sub *s;

	(void)sd;
	if (sipmsg_check_response(msg))
		return;
	if (ctrans_receive(m->ct, msg, src, now_ms(), &tx) != CTRANS_RX_PASS) {
		tick_schedule(m);
		return;
	}
	tick_schedule(m);
	s = tx ? ctrans_user(tx) : NULL;
	if (!s || msg->scode < 200)
		return;
	ctrans_set_user(tx, NULL);
	s->tx = NULL;
	if (msg->scode >= 300) {
		/* 481 and every other refusal end the subscription */
		m->c_failed++;
		mem_deref(s);
		return;
	}
	if (s->again)
		sub_notify(s);
}

/* ---- SUBSCRIBE -------------------------------------------------------- */

static void respond(struct mwi *m, struct sipd_req *rq, struct strans_tx *tx,
		    unsigned code, const char *reason, const char *extra)
{
	size_t n = sipmsg_reply(rq->m, rq->src, code, reason, extra,
				extra ? strlen(extra) : 0,
				sipd_totag_salt(m->sd), m->buf,
				sizeof(m->buf));

	if (n)
		(void)call_tx_respond(m->app, tx, code, m->buf, n);
}

/* 200 with Expires and our Contact (RFC 6665 4.2.1.1). */
static void respond_ok(struct mwi *m, struct sipd_req *rq,
		       struct strans_tx *tx, const struct snap_ext *x,
		       uint32_t secs)
{
	struct sa la;
	int n;

	if (sipd_local_addr(m->sd, rq->tp, rq->conn, rq->src, &la))
		sa_init(&la, AF_INET);
	n = re_snprintf(m->xbuf, sizeof(m->xbuf),
			"Expires: %u\r\nContact: <sip:%s@%J%s>\r\n", secs,
			x->number, &la,
			dialog_uri_tp(rq->tp));
	respond(m, rq, tx, 200, "OK", n > 0 ? m->xbuf : NULL);
}

/* The Event value of rq: 0, or the status to answer (400, 489). */
static unsigned event_of(const struct sipmsg *msg, struct mwi_event *ev)
{
	const struct sipmsg_hdr *h = NULL;

	for (size_t i = 0; i < msg->n_hdr; i++) {
		const struct sipmsg_hdr *k = &msg->hdr[i];

		if (!sipmsg_eq(&k->name, "Event") && !sipmsg_eq(&k->name, "o"))
			continue;
		if (h)
			return 400;     /* one subscription per request */
		h = k;
	}
	if (!h)
		return 489;
	if (mwi_event_parse(h->val.p, h->val.l, ev))
		return 400;
	return ev->msum ? 0 : 489;
}

/* Every Accept header takes message-summary (none: it is the default). */
static bool accepted(const struct sipmsg *msg)
{
	for (size_t i = 0; i < msg->n_hdr; i++) {
		const struct sipmsg_hdr *k = &msg->hdr[i];

		if (k->id == SH_ACCEPT && !mwi_accepts(k->val.p, k->val.l))
			return false;
	}
	return true;
}

static void refresh(struct mwi *m, struct sipd_req *rq, struct strans_tx *tx,
		    const struct snap_ext *x, const struct mwi_event *ev)
{
	struct mwi_sub *s = sub_find(m, rq->m);
	uint32_t secs = 0;
	char mx[40];

	if (!s) {
		respond(m, rq, tx, 481, "Subscription Does Not Exist", NULL);
		return;
	}
	/* another extension's credentials do not touch this one */
	if (strcmp(s->box->number, x->number)) {
		respond(m, rq, tx, 403, "Forbidden", NULL);
		return;
	}
	if (strcmp(s->id, ev->id)) {
		respond(m, rq, tx, 481, "Subscription Does Not Exist", NULL);
		return;
	}
	if (!dialog_check_cseq(&s->dlg, rq->m)) {
		respond(m, rq, tx, 500, "Server Internal Error",
			"Retry-After: 1\r\n");
		return;
	}
	switch (mwi_expires(rq->m->expires, &secs)) {
	case MWI_EXP_BRIEF:
		snprintf(mx, sizeof(mx), "Min-Expires: %u\r\n",
			 MWI_EXPIRES_MIN);
		respond(m, rq, tx, 423, "Interval Too Brief", mx);
		return;
	case MWI_EXP_END:
		respond_ok(m, rq, tx, x, 0);
		sub_end(s, "timeout");
		return;
	default:
		break;
	}
	respond_ok(m, rq, tx, x, secs);
	sub_arm(s, secs);
	sub_notify(s);
}

/* A SUBSCRIBE with Expires: 0 outside a dialog (a fetch): 200 and one
 * terminated NOTIFY with the counts; nothing is kept. */
static void fetch(struct mwi *m, struct sipd_req *rq, struct strans_tx *tx,
		  const struct snap_ext *x, struct mwi_box *b,
		  const struct mwi_event *ev)
{
	struct ctrans_tx *ntx;
	struct dialog d;
	char tag[9];

	sipmsg_totag(rq->m, sipd_totag_salt(m->sd), tag);
	tag[8] = '\0';
	if (dialog_uas(&d, rq->m, tag, 8, rq->tp, rq->src, rq->conn)) {
		respond(m, rq, tx, 400, "Bad Request", NULL);
		return;
	}
	respond_ok(m, rq, tx, x, 0);
	if (notify(m, &d, b, ev->id, "terminated", 0, "timeout", &ntx))
		m->c_failed++;
	dialog_reset(&d);
}

void mwi_subscribe(struct mwi *m, struct sipd_req *rq, struct strans_tx *tx,
		   const struct snap_ext *x)
{
	const struct sipmsg *msg;
	struct mwi_event ev;
	struct mwi_box *b;
	struct mwi_sub *s;
	const char *up;
	size_t ul;
	uint32_t secs = 0;
	unsigned code;
	char tag[9], mx[48];

	if (!m || !rq || !tx || !x)
		return;
	msg = rq->m;
	code = event_of(msg, &ev);
	if (code == 489) {
		respond(m, rq, tx, 489, "Bad Event", MWI_ALLOW_EVENTS);
		return;
	}
	if (code) {
		respond(m, rq, tx, 400, "Bad Request", NULL);
		return;
	}
	if (!accepted(msg)) {
		respond(m, rq, tx, 406, "Not Acceptable", NULL);
		return;
	}
	if (msg->to.tag.l) {
		refresh(m, rq, tx, x, &ev);
		return;
	}
	/* one's own mailbox only: the Request-URI names it (or no one) */
	ruri_user(&msg->ruri, &up, &ul);
	if (ul && (ul != strlen(x->number) || memcmp(up, x->number, ul))) {
		respond(m, rq, tx, 403, "Forbidden", NULL);
		return;
	}
	if (!x->vm || !x->mwi) {
		respond(m, rq, tx, 404, "Not Found", NULL);
		return;
	}
	switch (mwi_expires(msg->expires, &secs)) {
	case MWI_EXP_BRIEF:
		snprintf(mx, sizeof(mx), "Min-Expires: %u\r\n",
			 MWI_EXPIRES_MIN);
		respond(m, rq, tx, 423, "Interval Too Brief", mx);
		return;
	case MWI_EXP_END:
		b = box_get(m, x->number);
		if (!b)
			respond(m, rq, tx, 500, "Server Internal Error", NULL);
		else
			fetch(m, rq, tx, x, b, &ev);
		return;
	default:
		break;
	}
	b = box_get(m, x->number);
	if (!b) {
		respond(m, rq, tx, 500, "Server Internal Error", NULL);
		return;
	}
	if (m->n_subs >= MWI_MAX_SUBS || b->n_subs >= MWI_MAX_PER_EXT) {
		m->c_full++;
		snprintf(mx, sizeof(mx), "Retry-After: %u\r\n",
			 MWI_RETRY_AFTER);
		respond(m, rq, tx, 503, "Service Unavailable", mx);
		return;
	}
	s = mem_zalloc(sizeof(*s), sub_destructor);
	if (!s) {
		respond(m, rq, tx, 500, "Server Internal Error", NULL);
		return;
	}
	tmr_init(&s->exp);
	sipmsg_totag(msg, sipd_totag_salt(m->sd), tag);
	tag[8] = '\0';
	if (dialog_uas(&s->dlg, msg, tag, 8, rq->tp, rq->src, rq->conn)) {
		mem_deref(s);
		respond(m, rq, tx, 400, "Bad Request", NULL);
		return;
	}
	s->m = m;
	s->box = b;
	memcpy(s->id, ev.id, sizeof(s->id));
	hash_append(m->subs, hash_joaat((const uint8_t *)s->dlg.callid,
					strlen(s->dlg.callid)), &s->hle, s);
	list_append(&b->subs, &s->ble, s);
	b->n_subs++;
	m->n_subs++;
	respond_ok(m, rq, tx, x, secs);
	sub_arm(s, secs);
	sub_notify(s);
}

bool mwi_owns(struct mwi *m, const struct sipd_req *rq)
{
	return m && rq && sub_find(m, rq->m) != NULL;
}

/* ---- counts ----------------------------------------------------------- */

/* NOTIFY out of dialog to every registered contact of box b. */
static void unsolicited(struct mwi *m, const struct mwi_box *b)
{
	const struct sipd_settings *ss = sipd_settings(m->sd);
	const struct reg_binding *bd[MWI_MAX_PER_EXT];
	size_t n = registrar_contacts(m->reg, b->number, sipd_now(m->sd), bd,
				      MWI_MAX_PER_EXT);
	char aor[SNAP_NUM + 80];

	snprintf(aor, sizeof(aor), "sip:%s@%s", b->number, ss->realm);
	for (size_t i = 0; i < n; i++) {
		enum sipd_tp tp = bd[i]->tp == REG_TP_TCP ? SIPD_TCP :
			bd[i]->tp == REG_TP_TLS ? SIPD_TLS : SIPD_UDP;
		struct ctrans_tx *tx;
		struct dialog d;

		if (dialog_uac(&d, NULL, aor, aor, reg_binding_uri(bd[i]), tp,
			       reg_binding_target(bd[i]), bd[i]->conn_id))
			continue;
		if (notify(m, &d, b, "", "active", MWI_EXPIRES_DEF, NULL,
			   &tx))
			m->c_failed++;
		else
			m->c_unsol++;
		dialog_reset(&d);
	}
}

void mwi_set(struct mwi *m, const char *number, unsigned n_new,
	     unsigned n_saved)
{
	const struct snap_ext *x;
	struct mwi_box *b;
	struct le *le;

	if (!m || !number)
		return;
	x = snapshot_find(sipd_snapshot(m->sd), number, strlen(number));
	if (!x || !x->vm)
		return;
	b = box_find(m, number);
	if (b && b->n_new == n_new && b->n_old == n_saved)
		return;
	if (!b && !n_new && !n_saved)
		return;   /* nothing was said and nothing waits */
	b = b ? b : box_get(m, number);
	if (!b)
		return;
	b->n_new = n_new;
	b->n_old = n_saved;
	if (!b->n_subs) {
		if (x->mwi)
			unsolicited(m, b);
		return;
	}
	for (le = list_head(&b->subs); le;) {
		struct mwi_sub *s = le->data;

		le = le->next;   /* a failed send frees s */
		if (!s->told || s->told_new != n_new || s->told_old != n_saved)
			sub_notify(s);
	}
}

void mwi_snapshot(struct mwi *m, struct snapshot *snap)
{
	struct le *le;

	if (!m || !snap)
		return;
	for (uint32_t i = 0; i < hash_bsize(m->boxes); i++) {
		le = list_head(hash_list(m->boxes, i));
		while (le) {
			struct mwi_box *b = le->data;
			const struct snap_ext *x = snapshot_find(
				snap, b->number, strlen(b->number));
			struct le *sl;

			le = le->next;
			if (x && x->vm && x->mwi)
				continue;
			while ((sl = list_head(&b->subs)))
				sub_end(sl->data, "noresource");
			if (!x || !x->vm)
				mem_deref(b);
		}
	}
}

void mwi_stats(const struct mwi *m, struct mwi_stats *st)
{
	if (!st)
		return;
	memset(st, 0, sizeof(*st));
	if (!m)
		return;
	st->subs = m->n_subs;
	st->notify_sent = m->c_sent;
	st->notify_failed = m->c_failed;
	st->refused_full = m->c_full;
	st->unsolicited = m->c_unsol;
}

/* ---- the application -------------------------------------------------- */

static void on_status(json_t *o, void *arg)
{
	struct mwi_stats st;

	mwi_stats(arg, &st);
	json_object_set_new(o, "mwi", json_pack(
		"{s:I,s:I,s:I,s:I,s:I}", "subscriptions", (json_int_t)st.subs,
		"notify_sent", (json_int_t)st.notify_sent,
		"notify_failed", (json_int_t)st.notify_failed,
		"refused_full", (json_int_t)st.refused_full,
		"unsolicited", (json_int_t)st.unsolicited));
}

/* No method rows: SUBSCRIBE comes through the call layer's hook; the
 * responses to our NOTIFYs come here. */
static const struct sipd_app mwi_sipd_app = {
	.name = "mwi",
	.response = on_response,
	.status = on_status,
};

static void hook_subscribe(struct sipd_req *rq, struct strans_tx *tx,
			   const struct snap_ext *x, void *arg)
{
	mwi_subscribe(arg, rq, tx, x);
}

static bool hook_owns(const struct sipd_req *rq, void *arg)
{
	return mwi_owns(arg, rq);
}

static void mwi_destructor(void *arg)
{
	struct mwi *m = arg;

	call_set_subscribe(m->app, NULL, NULL, NULL);
	sipd_app_unregister(m->sd, m);
	tmr_cancel(&m->tick);
	/* the subscriptions first: they point into the boxes */
	hash_flush(m->subs);
	m->subs = mem_deref(m->subs);
	hash_flush(m->boxes);
	m->boxes = mem_deref(m->boxes);
	m->ct = mem_deref(m->ct);
}

int mwi_alloc(struct mwi **mp, struct sipd *sd, struct call_app *app,
	      struct registrar *reg)
{
	/* NOTIFYs: one per subscription at a time, plus the unsolicited
	 * ones and the last NOTIFYs of ended subscriptions */
	struct ctrans_conf cc = { .max_total = 2 * MWI_MAX_SUBS,
				  .max_per_dst = 64 };
	struct mwi *m;
	int err;

	if (!mp || !sd || !app || !reg)
		return EINVAL;
	m = mem_zalloc(sizeof(*m), mwi_destructor);
	if (!m)
		return ENOMEM;
	m->sd = sd;
	m->app = app;
	m->reg = reg;
	tmr_init(&m->tick);
	err = hash_alloc(&m->subs, 1024);
	err = err ? err : hash_alloc(&m->boxes, 256);
	err = err ? err : ctrans_alloc(&m->ct, &cc, tx_send, ct_end, m);
	err = err ? err : sipd_app_register(sd, &mwi_sipd_app, m);
	if (err) {
		m->app = NULL;
		mem_deref(m);
		return err;
	}
	call_set_subscribe(app, hook_subscribe, hook_owns, m);
	*mp = m;
	return 0;
}

struct mwi *mwi_free(struct mwi *m)
{
	return mem_deref(m);
}
