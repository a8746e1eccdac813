/*
 * treg — outbound registration of the trunks (treg.h).
 *
 * One record per configured trunk, rebuilt from each snapshot: a trunk
 * whose registration fields did not change keeps its state; a changed
 * one starts over; a removed one is dropped (its transaction forgotten).
 * Each record has one timer for its next action (refresh or retry) and
 * at most one REGISTER transaction in flight. A challenge is answered
 * once per attempt (again only when the server says stale=true): a
 * second 401/407 is a failure, never a loop.
 *
 * The stack sends over UDP to an IP literal: it never connects out over
 * TCP/TLS and does not resolve names on the loop, so such trunks show
 * "unsupported" with the reason.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <re_types.h>
#include <re_fmt.h>
#include <re_mem.h>
#include <re_mbuf.h>
#include <re_list.h>
#include <re_sa.h>
#include <re_tmr.h>
#include <sodium.h>

#include "auth/client.h"
#include "common/log.h"
#include "sip/ctrans.h"
#include "sip/sipd.h"
#include "sip/sipmsg.h"
#include "store/snapshot.h"
#include "trunk/treg.h"
#include "trunk/trunk.h"

#define MOD "trunk"
#define BACKOFF_MIN_S 30
#define BACKOFF_MAX_S 1800
#define REFRESH_PCT 85

enum treg_state { TS_OFF = 0, TS_REGISTERING, TS_REGISTERED, TS_FAILED,
		  TS_UNSUPPORTED };

static const char *const state_names[] = { "off", "registering",
	"registered", "failed", "unsupported" };

struct treg;

struct tone {
	struct le le;
	struct treg *owner;
	struct trunk_conf c;       /* a copy: wiped when freed */
	enum treg_state state;
	char last_error[128];
	int64_t registered_at, expires_at, next_at;   /* unix s, 0 none */
	uint32_t failures, backoff_s, expiry;
	uint32_t cseq;
	char callid[48], ftag[20];
	bool answered;             /* this attempt answered a challenge */
	struct ctrans_tx *tx;
	struct sa dst;
	struct tmr tmr;
};

struct treg {
	struct sipd *sd;
	struct ctrans *ct;
	struct tmr tick;
	struct list trunks;
	char buf[4096];
	char auth[1024];
};

static uint64_t now_ms(void)
{
	return tmr_jiffies();
}

/* ---- client transactions: the call layer's pattern ---------------- */

static void ct_tick(void *arg);

static void ct_schedule(struct treg *t)
{
	uint64_t next = ctrans_next(t->ct), now = now_ms();

	if (next == UINT64_MAX) {
		tmr_cancel(&t->tick);
		return;
	}
	tmr_start(&t->tick, next > now ? next - now : 0, ct_tick, t);
}

static void ct_tick(void *arg)
{
	struct treg *t = arg;

	ctrans_tick(t->ct, now_ms());
	ct_schedule(t);
}

static void tx_send(enum sipd_tp tp, const struct sa *dst, uint64_t conn,
		    const char *buf, size_t len, void *arg)
{
	struct treg *t = arg;

	(void)sipd_send(t->sd, tp, dst, conn, buf, len);
}

/* ---- one trunk ------------------------------------------------------ */

static void attempt(void *arg);

static void tone_destructor(void *arg)
{
	struct tone *o = arg;

	tmr_cancel(&o->tmr);
	if (o->tx)
		ctrans_set_user(o->tx, NULL);
	list_unlink(&o->le);
	sodium_memzero(&o->c, sizeof(o->c));
}

static void schedule(struct tone *o, uint32_t in_s)
{
	o->next_at = sipd_now(o->owner->sd) + in_s;
	tmr_start(&o->tmr, (uint64_t)in_s * 1000, attempt, o);
}

static void fail(struct tone *o, const char *why)
{
	o->state = TS_FAILED;
	snprintf(o->last_error, sizeof(o->last_error), "%s", why);
	o->failures++;
	o->backoff_s = o->backoff_s ? o->backoff_s * 2 : BACKOFF_MIN_S;
	if (o->backoff_s > BACKOFF_MAX_S)
		o->backoff_s = BACKOFF_MAX_S;
	o->registered_at = o->expires_at = 0;
	log_warn(MOD, "trunk %s: registration failed (%s); next try in %u s",
		 o->c.name, why, o->backoff_s);
	schedule(o, o->backoff_s);
}

static const char *domain_of(const struct trunk_conf *c)
{
	return c->domain[0] ? c->domain : c->host;
}

/* Request-URI: the domain, with the port only when it is the host. */
static void ruri_of(const struct trunk_conf *c, char *buf, size_t sz)
{
	if (c->domain[0] || c->port == 5060)
		snprintf(buf, sz, "sip:%s", domain_of(c));
	else
		snprintf(buf, sz, "sip:%s:%u", c->host, c->port);
}

static int send_register(struct tone *o, const char *auth_name,
			 const char *auth_val)
{
	struct treg *t = o->owner;
	struct ctrans_tx *tx = NULL;
	char branch[40], ruri[300], local[80], authl[1100] = "";
	const char *user = o->c.username[0] ? o->c.username : "bulwark";
	struct sa l;
	int n, err;

	if (sipd_local_addr(t->sd, SIPD_UDP, 0, &o->dst, &l))
		return ENOENT;
	re_snprintf(local, sizeof(local), "%J", &l);
	ruri_of(&o->c, ruri, sizeof(ruri));
	ctrans_branch(branch, sizeof(branch));
	if (auth_val)
		snprintf(authl, sizeof(authl), "%s: %s\r\n", auth_name,
			 auth_val);
	o->cseq++;
	n = snprintf(t->buf, sizeof(t->buf),
		     "REGISTER %s SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP %s;branch=%s;rport\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:%s@%s>;tag=%s\r\n"
		     "To: <sip:%s@%s>\r\n"
		     "Call-ID: %s\r\n"
		     "CSeq: %u REGISTER\r\n"
		     "Contact: <sip:%s@%s>\r\n"
		     "Expires: %u\r\n"
		     "%s"
		     "User-Agent: Bulwark\r\n"
		     "Content-Length: 0\r\n\r\n",
		     ruri, local, branch, user, domain_of(&o->c), o->ftag,
		     user, domain_of(&o->c), o->callid, o->cseq, user, local,
		     o->expiry, authl);
	sodium_memzero(authl, sizeof(authl));
	if (n < 0 || (size_t)n >= sizeof(t->buf))
		return ENOSPC;
	err = ctrans_send(t->ct, SIPD_UDP, &o->dst, 0, t->buf, (size_t)n,
			  now_ms(), &tx);
	if (err)
		return err;
	ctrans_set_user(tx, o);
	o->tx = tx;
	ct_schedule(t);
	return 0;
}

/* Timer: (re)register now. */
static void attempt(void *arg)
{
	struct tone *o = arg;
	int err;

	o->next_at = 0;
	if (o->tx) {
		ctrans_set_user(o->tx, NULL);
		o->tx = NULL;
	}
	if (o->state != TS_REGISTERED)
		o->state = TS_REGISTERING;
	o->answered = false;
	err = send_register(o, NULL, NULL);
	if (err) {
		char why[80];

		snprintf(why, sizeof(why), "cannot send REGISTER: %s",
			 strerror(err));
		fail(o, why);
	}
}

/* The challenge header value of a 401 (WWW-Authenticate) or 407
 * (Proxy-Authenticate); NULL when absent. */
static const struct sipmsg_str *challenge_of(const struct sipmsg *m)
{
	const char *want = m->scode == 407 ? "Proxy-Authenticate" :
		"WWW-Authenticate";

	for (size_t i = 0; i < m->n_hdr; i++) {
		const struct sipmsg_hdr *h = &m->hdr[i];

		if (h->name.l == strlen(want) &&
		    !strncasecmp(h->name.p, want, h->name.l))
			return &h->val;
	}
	return NULL;
}

static bool stale_of(const struct sipmsg_str *v)
{
	struct auth_chal c;

	return !auth_chal_parse(v->p, v->l, &c) && c.stale;
}

static void on_challenge(struct tone *o, const struct sipmsg *m)
{
	const struct sipmsg_str *v = challenge_of(m);
	char ruri[300], why[96];
	int err;

	if (!v) {
		snprintf(why, sizeof(why), "%u without a challenge", m->scode);
		fail(o, why);
		return;
	}
	if (o->answered && !stale_of(v)) {
		snprintf(why, sizeof(why), "%u: credentials refused",
			 m->scode);
		fail(o, why);
		return;
	}
	if (!o->c.password[0]) {
		fail(o, "challenged, and the trunk has no password");
		return;
	}
	ruri_of(&o->c, ruri, sizeof(ruri));
	err = auth_client_answer(v->p, v->l, "REGISTER", ruri,
				 o->c.auth_user[0] ? o->c.auth_user :
				 o->c.username, o->c.password, 1, NULL,
				 o->owner->auth, sizeof(o->owner->auth));
	if (err) {
		snprintf(why, sizeof(why), "challenge not answerable: %s",
			 err == ENOTSUP ? "unsupported algorithm or qop" :
			 "malformed");
		fail(o, why);
		return;
	}
	o->answered = true;
	err = send_register(o, m->scode == 407 ? "Proxy-Authorization" :
			    "Authorization", o->owner->auth);
	sodium_memzero(o->owner->auth, sizeof(o->owner->auth));
	if (err) {
		snprintf(why, sizeof(why), "cannot send REGISTER: %s",
			 strerror(err));
		fail(o, why);
	}
}

static bool parse_u32(const struct sipmsg_str *s, uint32_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	while (i < s->l && (s->p[i] == ' ' || s->p[i] == '\t'))
		i++;
	if (i == s->l)
		return false;
	for (; i < s->l && s->p[i] >= '0' && s->p[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(s->p[i] - '0');
		if (v > 0xffffffffu)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

/* What the registrar granted: our Contact's expires= (the first Contact
 * when several), else Expires, else what we asked. */
static uint32_t granted(const struct tone *o, const struct sipmsg *m)
{
	uint32_t v = o->expiry;

	for (size_t i = 0; i < m->n_hdr; i++) {
		const struct sipmsg_hdr *h = &m->hdr[i];
		const char *p = h->val.p, *e = h->val.p + h->val.l;
		struct sipmsg_addr a;

		if (h->id != SH_CONTACT)
			continue;
		memset(&a, 0, sizeof(a));
		if (!sipmsg_addr(&a, &p, e, true) && a.expires.p &&
		    parse_u32(&a.expires, &v))
			return v;
		break;
	}
	for (size_t i = 0; i < m->n_hdr; i++)
		if (m->hdr[i].id == SH_EXPIRES &&
		    parse_u32(&m->hdr[i].val, &v))
			return v;
	return v;
}

/* 423 Interval Too Brief: ask again with its Min-Expires. */
static bool on_too_brief(struct tone *o, const struct sipmsg *m)
{
	for (size_t i = 0; i < m->n_hdr; i++) {
		const struct sipmsg_hdr *h = &m->hdr[i];
		uint32_t v;

		if (h->name.l == 11 && !strncasecmp(h->name.p, "Min-Expires",
						    11) &&
		    parse_u32(&h->val, &v) && v > o->expiry && v <= 86400) {
			o->expiry = v;
			return send_register(o, NULL, NULL) == 0;
		}
	}
	return false;
}

static void on_final(struct tone *o, const struct sipmsg *m)
{
	int64_t now = sipd_now(o->owner->sd);
	char why[96];
	uint32_t g, in;

	if (m->scode == 401 || m->scode == 407) {
		on_challenge(o, m);
		return;
	}
	if (m->scode == 423 && on_too_brief(o, m))
		return;
	if (m->scode < 200 || m->scode > 299) {
		snprintf(why, sizeof(why), "%u %.*s", m->scode,
			 (int)(m->reason.l < 60 ? m->reason.l : 60),
			 m->reason.p ? m->reason.p : "");
		fail(o, why);
		return;
	}
	g = granted(o, m);
	if (!g) {
		fail(o, "200 with expires 0: the registrar removed us");
		return;
	}
	if (o->state != TS_REGISTERED)
		log_info(MOD, "trunk %s: registered for %u s", o->c.name, g);
	o->state = TS_REGISTERED;
	o->last_error[0] = '\0';
	o->failures = 0;
	o->backoff_s = 0;
	o->registered_at = now;
	o->expires_at = now + g;
	in = (uint32_t)((uint64_t)g * REFRESH_PCT / 100);
	schedule(o, in ? in : 1);
}

/* ---- the application ------------------------------------------------ */

static void on_response(struct sipd *sd, struct sipmsg *m,
			const struct sa *src, void *arg)
{
	struct treg *t = arg;
	struct ctrans_tx *tx = NULL;
	struct tone *o;

	(void)sd;
	if (sipmsg_check_response(m) || !sipmsg_eq(&m->cseq_met, "REGISTER"))
		return;
	if (ctrans_receive(t->ct, m, src, now_ms(), &tx) != CTRANS_RX_PASS) {
		ct_schedule(t);
		return;
	}
	ct_schedule(t);
	o = tx ? ctrans_user(tx) : NULL;
	if (!o || o->tx != tx || m->scode < 200)
		return;
	ctrans_set_user(tx, NULL);
	o->tx = NULL;
	on_final(o, m);
}

static void ct_end(struct ctrans_tx *tx, enum ctrans_end why, void *arg)
{
	struct tone *o = ctrans_user(tx);

	(void)arg;
	if (!o || o->tx != tx)
		return;
	o->tx = NULL;
	if (why == CTRANS_END_TIMEOUT)
		fail(o, "no answer (timeout)");
}

/* The fields whose change restarts a registration. */
static bool same_reg(const struct trunk_conf *a, const struct trunk_conf *b)
{
	return !strcmp(a->host, b->host) && a->port == b->port &&
	       a->transport == b->transport &&
	       !strcmp(a->domain, b->domain) &&
	       !strcmp(a->username, b->username) &&
	       !strcmp(a->auth_user, b->auth_user) &&
	       !strcmp(a->password, b->password) && a->reg == b->reg &&
	       a->reg_expiry == b->reg_expiry;
}

static struct tone *tone_find(struct treg *t, const char *name)
{
	for (struct le *le = list_head(&t->trunks); le; le = le->next) {
		struct tone *o = le->data;

		if (!strcmp(o->c.name, name))
			return o;
	}
	return NULL;
}

/* A fresh record for c: registering at once when it can. */
static struct tone *tone_new(struct treg *t, const struct trunk_conf *c)
{
	struct tone *o = mem_zalloc(sizeof(*o), tone_destructor);
	unsigned char r[12];

	if (!o)
		return NULL;
	o->owner = t;
	o->c = *c;
	o->expiry = c->reg_expiry ? c->reg_expiry : 3600;
	tmr_init(&o->tmr);
	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(o->ftag, sizeof(o->ftag), r, 8);
	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(o->callid, sizeof(o->callid), r, sizeof(r));
	list_append(&t->trunks, &o->le, o);
	if (!c->reg)
		return o;
	if (c->transport != SNAP_TP_UDP) {
		o->state = TS_UNSUPPORTED;
		snprintf(o->last_error, sizeof(o->last_error),
			 "registration over TCP/TLS is not supported yet "
			 "(UDP only)");
	} else if (sa_set_str(&o->dst, c->host, c->port)) {
		o->state = TS_UNSUPPORTED;
		snprintf(o->last_error, sizeof(o->last_error),
			 "host must be an IP address for registration "
			 "(no DNS on the SIP loop yet)");
	} else {
		o->state = TS_REGISTERING;
		schedule(o, 0);
	}
	return o;
}

static void on_apply(struct sipd *sd, void *arg)
{
	struct treg *t = arg;
	const struct trunks_typed *tt = trunks_of(sipd_snapshot(sd));
	struct le *le = list_head(&t->trunks);

	/* gone or changed: dropped (a changed one starts over below) */
	while (le) {
		struct tone *o = le->data;
		const struct trunk_conf *c = NULL;

		le = le->next;
		for (size_t i = 0; i < tt->n && !c; i++)
			if (!strcmp(tt->t[i].name, o->c.name))
				c = &tt->t[i];
		if (!c || !same_reg(c, &o->c)) {
			mem_deref(o);
			continue;
		}
		/* the rest (caller ID, limits) follows without a restart */
		o->c = *c;
	}
	for (size_t i = 0; i < tt->n; i++)
		if (!tone_find(t, tt->t[i].name) && !tone_new(t, &tt->t[i]))
			log_warn(MOD, "trunk %s: out of memory",
				 tt->t[i].name);
}

static const struct sipd_app treg_app = {
	.name = "trunk",
	.response = on_response,
	.apply = on_apply,
};

static void treg_destructor(void *arg)
{
	struct treg *t = arg;

	sipd_app_unregister(t->sd, t);
	list_flush(&t->trunks);
	tmr_cancel(&t->tick);
	mem_deref(t->ct);
	sodium_memzero(t->auth, sizeof(t->auth));
}

int treg_alloc(struct treg **tp, struct sipd *sd)
{
	struct ctrans_conf cc = { .max_total = 64, .max_per_dst = 16 };
	struct treg *t;
	int err;

	if (!tp || !sd)
		return EINVAL;
	t = mem_zalloc(sizeof(*t), treg_destructor);
	if (!t)
		return ENOMEM;
	t->sd = sd;
	list_init(&t->trunks);
	tmr_init(&t->tick);
	err = ctrans_alloc(&t->ct, &cc, tx_send, ct_end, t);
	if (!err)
		err = sipd_app_register(sd, &treg_app, t);
	if (err) {
		mem_deref(t);
		return err;
	}
	on_apply(sd, t);
	*tp = t;
	return 0;
}

struct treg *treg_free(struct treg *t)
{
	mem_deref(t);
	return NULL;
}

static json_t *time_or_null(int64_t v)
{
	return v ? json_integer(v) : json_null();
}

json_t *treg_status(const struct treg *t)
{
	json_t *a = json_array();

	for (struct le *le = t ? list_head(&t->trunks) : NULL; a && le;
	     le = le->next) {
		const struct tone *o = le->data;

		json_array_append_new(a, json_pack(
			"{s:s, s:s, s:b, s:s, s:s, s:o, s:o, s:o, s:I}",
			"name", o->c.name, "host", o->c.host,
			"register", o->c.reg, "state", state_names[o->state],
			"last_error", o->last_error,
			"registered_at", time_or_null(o->registered_at),
			"expires_at", time_or_null(o->expires_at),
			"next_refresh", time_or_null(o->next_at),
			"failures", (json_int_t)o->failures));
	}
	return a;
}
