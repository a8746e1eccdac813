/*
 * treg_msg — the REGISTER requests of the registration client and what
 * their answers mean (treg.h): the request itself, a 401/407 answered
 * once with the client digest, 423's Min-Expires, the expiry granted,
 * and the refresh at 85 % of it.
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
#include "trunk/treg_int.h"

#define MOD "trunk"
#define REFRESH_PCT 85

/* The host part of our URIs: the domain, else the host; an IPv6
 * literal in brackets (RFC 3261 25.1). */
static const char *domain_of(const struct trunk_conf *c, char *buf,
			     size_t sz)
{
	const char *h = c->domain[0] ? c->domain : c->host;

	snprintf(buf, sz, strchr(h, ':') ? "[%s]" : "%s", h);
	return buf;
}

/* Request-URI: the domain, with the port only when it is the host. */
static void ruri_of(const struct trunk_conf *c, char *buf, size_t sz)
{
	char d[260];

	domain_of(c, d, sizeof(d));
	if (c->domain[0] || c->port == 5060)
		snprintf(buf, sz, "sip:%s", d);
	else
		snprintf(buf, sz, "sip:%s:%u", d, c->port);
}

int treg_send(struct tone *o, const char *auth_name,
			 const char *auth_val)
{
	struct treg *t = o->owner;
	struct ctrans_tx *tx = NULL;
	char branch[40], ruri[300], local[80], authl[1100] = "", dom[260];
	const char *user = o->c.username[0] ? o->c.username : "bulwark";
	struct sa l;
	int n, err;
	/* TCP/TLS over the trunk's outbound connection */
	static const char *const vtp[] = { "UDP", "TCP", "TLS" };
	static const char *const ctp[] = { "", ";transport=tcp",
					   ";transport=tls" };

	if (o->tp != SIPD_UDP) {
		struct sipd_peer p = { .tp = o->tp, .dst = &o->dst,
			.name = o->c.host, .ca_file = o->c.tls_ca,
			.verify = o->c.tls_verify };

		err = sipd_connect(t->sd, &p, &o->conn, o->why,
				   sizeof(o->why));
		if (err)
			return err;
	}
	if (sipd_local_addr(t->sd, o->tp, o->conn, &o->dst, &l))
		return ENOENT;
	re_snprintf(local, sizeof(local), "%J", &l);
	domain_of(&o->c, dom, sizeof(dom));
	ruri_of(&o->c, ruri, sizeof(ruri));
	ctrans_branch(branch, sizeof(branch));
	if (auth_val)
		snprintf(authl, sizeof(authl), "%s: %s\r\n", auth_name,
			 auth_val);
	o->cseq++;
	n = snprintf(t->buf, sizeof(t->buf),
		     "REGISTER %s SIP/2.0\r\n"
		     "Via: SIP/2.0/%s %s;branch=%s;rport\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:%s@%s>;tag=%s\r\n"
		     "To: <sip:%s@%s>\r\n"
		     "Call-ID: %s\r\n"
		     "CSeq: %u REGISTER\r\n"
		     "Contact: <sip:%s@%s%s>\r\n"
		     "Expires: %u\r\n"
		     "%s"
		     "User-Agent: Bulwark\r\n"
		     "Content-Length: 0\r\n\r\n",
		     ruri, vtp[o->tp], local, branch, user, dom, o->ftag,
		     user, dom, o->callid, o->cseq, user, local,
		     ctp[o->tp], o->expiry, authl);
	sodium_memzero(authl, sizeof(authl));
	if (n < 0 || (size_t)n >= sizeof(t->buf))
		return ENOSPC;
	err = ctrans_send(t->ct, o->tp, &o->dst, o->conn, t->buf, (size_t)n,
			  treg_now_ms(), &tx);
	if (err)
		return err;
	ctrans_set_user(tx, o);
	o->tx = tx;
	treg_ct_schedule(t);
	return 0;
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
		treg_fail(o, why);
		return;
	}
	if (o->answered && !stale_of(v)) {
		snprintf(why, sizeof(why), "%u: credentials refused",
			 m->scode);
		treg_fail(o, why);
		return;
	}
	if (!o->c.password[0]) {
		treg_fail(o, "challenged, and the trunk has no password");
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
		treg_fail(o, why);
		return;
	}
	o->answered = true;
	err = treg_send(o, m->scode == 407 ? "Proxy-Authorization" :
			    "Authorization", o->owner->auth);
	sodium_memzero(o->owner->auth, sizeof(o->owner->auth));
	if (err) {
		snprintf(why, sizeof(why), "cannot send REGISTER: %s",
			 strerror(err));
		treg_fail(o, why);
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
			return treg_send(o, NULL, NULL) == 0;
		}
	}
	return false;
}

void treg_final(struct tone *o, const struct sipmsg *m)
{
	int64_t now = sipd_now(o->owner->sd);
	char why[96];
	uint32_t g, in;

	if (m->scode == 401 || m->scode == 407) {
		on_challenge(o, m);
		return;
	}
	if (o->leaving) {   /* un-REGISTER answered: done either way */
		if (m->scode >= 300)
			log_warn(MOD, "trunk %s: un-REGISTER refused: %u",
				 o->c.name, m->scode);
		else
			log_info(MOD, "trunk %s: unregistered", o->c.name);
		mem_deref(o);
		return;
	}
	if (m->scode == 423 && on_too_brief(o, m))
		return;
	if (m->scode < 200 || m->scode > 299) {
		snprintf(why, sizeof(why), "%u %.*s", m->scode,
			 (int)(m->reason.l < 60 ? m->reason.l : 60),
			 m->reason.p ? m->reason.p : "");
		treg_fail(o, why);
		return;
	}
	g = granted(o, m);
	if (!g) {
		treg_fail(o, "200 with expires 0: the registrar removed us");
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
	treg_schedule(o, in ? in : 1);
}

