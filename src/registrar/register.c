/*
 * register — the REGISTER procedure (RFC 3261 10.3) of a stateless
 * registrar, in three steps:
 *
 *   gather  the request, typed: the extension To names (snapshot), what
 *           its credentials are worth (auth_verify), the nonce count
 *           recorded, the Contacts parsed (struct reg_in);
 *   decide  a pure function of that, the "sip" settings, the bindings
 *           and the clock (reg_decide; tests/unit/test_register.c);
 *   act     report the verdict to the guard (auth_report), change the
 *           bindings, and answer once.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "guard/guard.h"
#include "registrar/reg_priv.h"
#include "store/snapshot.h"

/* ---- gather --------------------------------------------------------- */

uint32_t reg_req_tag(const char *callid, size_t len, uint32_t cseq)
{
	return hash_joaat((const uint8_t *)callid, len) ^
		(cseq * 2654435761u);
}

static void contact_target(const struct sipmsg_str *uri, struct sa *t,
			   bool *ok)
{
	const char *p = uri->p, *e = uri->p + uri->l, *h, *at;
	char host[64];
	size_t hl;
	uint32_t port = 5060;

	*ok = false;
	h = memchr(p, ':', uri->l);
	if (!h)
		return;
	h++;
	at = memchr(h, '@', (size_t)(e - h));
	if (at)
		h = at + 1;
	if (h < e && *h == '[') {
		const char *q = memchr(h, ']', (size_t)(e - h));

		if (!q)
			return;
		hl = (size_t)(q - h - 1);
		if (hl >= sizeof(host))
			return;
		memcpy(host, h + 1, hl);
		p = q + 1;
	}
	else {
		p = h;
		while (p < e && *p != ':' && *p != ';' && *p != '?')
			p++;
		hl = (size_t)(p - h);
		if (hl >= sizeof(host))
			return;
		memcpy(host, h, hl);
	}
	host[hl] = '\0';
	if (p < e && *p == ':') {
		port = 0;
		for (p++; p < e && *p >= '0' && *p <= '9'; p++)
			port = port * 10 + (uint32_t)(*p - '0');
		if (!port || port > 65535)
			return;
	}
	if (sa_set_str(t, host, (uint16_t)port))
		return;
	*ok = true;
}

/* A Contact's expires= value: 0 or EINVAL. */
static int expires_param(const struct sipmsg_str *v, int64_t *out)
{
	uint64_t n = 0;

	if (!v->l || v->l > 10)
		return EINVAL;
	for (size_t k = 0; k < v->l; k++) {
		char c = v->p[k];

		if (c < '0' || c > '9')
			return EINVAL;
		n = n * 10 + (uint64_t)(c - '0');
	}
	*out = n > 0xffffffffu ? 0xffffffff : (int64_t)n;
	return 0;
}

/* The Contacts in order, up to the first problem. */
static void gather_contacts(const struct sipmsg *m, struct reg_in *in)
{
	for (size_t i = 0; i < m->n_hdr; i++) {
		const char *p, *end;

		if (m->hdr[i].id != SH_CONTACT)
			continue;
		p = m->hdr[i].val.p;
		end = p + m->hdr[i].val.l;
		while (p < end) {
			struct sipmsg_addr a;
			struct reg_contact *c;
			int64_t exp = m->expires >= 0 ? m->expires : -1;

			if (sipmsg_addr(&a, &p, end, true)) {
				in->cerr = REG_CERR_BAD_CONTACT;
				return;
			}
			if (a.star) {
				if (m->expires != 0) {
					in->cerr = REG_CERR_BAD_CONTACT;
					return;
				}
				in->star = true;
				continue;
			}
			if (in->n >= REG_CONTACTS_MAX) {
				in->cerr = REG_CERR_TOO_MANY;
				return;
			}
			if (a.expires.p && expires_param(&a.expires, &exp)) {
				in->cerr = REG_CERR_BAD_EXPIRES;
				return;
			}
			c = &in->c[in->n++];
			c->uri.p = a.uri.p;
			c->uri.l = a.uri.l;
			c->expires = exp;
			contact_target(&a.uri, &c->target, &c->has_target);
		}
	}
}

static void gather(struct registrar *r, struct sipd_req *rq,
		   struct reg_in *in, const uint8_t **algs)
{
	const struct sipmsg *m = rq->m;
	const struct snap_ext *x;

	memset(in, 0, sizeof(*in));
	x = snapshot_find(sipd_snapshot(r->sd), m->to.user.p, m->to.user.l);
	in->x = x && x->auth && x->algs_pref[0] ? x : NULL;
	*algs = auth_algs(r->auth, in->x, m->to.user.p, m->to.user.l);
	auth_verify(r->auth, rq, "REGISTER", in->x, *algs, &in->auth);
	in->tag = reg_req_tag(m->callid.p, m->callid.l, m->cseq);
	in->tp = rq->tp;
	if (in->auth.outcome != AUTH_VERDICT)
		return;   /* challenged: nothing more to know */
	/* The one change before deciding: a fresh nonce count is recorded
	 * as it is checked, so that no replay can slip in between. */
	if (in->auth.res == GUARD_AUTH_OK && !in->auth.stale)
		in->nc_ok = !reg_nc_check(r->loc, in->x->number,
					  strlen(in->x->number),
					  in->auth.nid, in->auth.nc, in->tag);
	gather_contacts(m, in);
	in->call_id.p = m->callid.p;
	in->call_id.l = m->callid.l;
	in->cseq = m->cseq;
	in->src = *rq->src;
	in->conn = rq->conn;
	{
		const struct sipmsg_hdr *ua = sipmsg_hdr(m, SH_UA);

		if (ua) {
			in->ua.p = ua->val.p;
			in->ua.l = ua->val.l > 128 ? 128 : ua->val.l;
		}
	}
}

/* ---- decide --------------------------------------------------------- */

static void reject(struct reg_decision *d, unsigned code, const char *reason)
{
	d->what = REG_DO_REJECT;
	d->code = code;
	d->reason = reason;
}

/* The change the Contacts ask for, their expiry resolved against the
 * settings; false (d says the answer) when they cannot be taken. */
static bool decide_contacts(const struct reg_in *in,
			    const struct sipd_settings *set,
			    struct reg_decision *d)
{
	struct reg_req *r = &d->rq;

	for (size_t i = 0; i < in->n; i++) {
		int64_t exp = in->c[i].expires >= 0 ? in->c[i].expires :
			set->default_expires;

		if (exp > 0 && exp < set->min_expires) {
			reject(d, 423, "Interval Too Brief");
			d->min_expires = true;
			return false;
		}
		if (exp > set->max_expires)
			exp = set->max_expires;
		d->c[i] = in->c[i];
		d->c[i].expires = exp;
	}
	switch (in->cerr) {
	case REG_CERR_NONE:
		break;
	case REG_CERR_TOO_MANY:
		reject(d, 403, "Too Many Contacts");
		return false;
	case REG_CERR_BAD_EXPIRES:
		reject(d, 400, "Bad Expires");
		return false;
	default:
		reject(d, 400, "Bad Contact");
		return false;
	}
	if (in->star && in->n) {
		reject(d, 400, "Bad Contact");
		return false;
	}
	r->number = in->x->number;
	r->call_id = in->call_id;
	r->cseq = in->cseq;
	r->c = d->c;
	r->n = in->n;
	r->star = in->star;
	r->src = in->src;
	r->tp = (uint8_t)in->tp;
	r->conn_id = in->conn;
	r->ua = in->ua;
	r->max_contacts = in->x->max_contacts ? in->x->max_contacts : 1;
	r->nat = in->x->nat;
	return true;
}

/* A retransmission of an authenticated REGISTER: exactly the nonce,
 * nonce-count, Call-ID and CSeq last accepted for the extension, within
 * the lifetime of a server transaction (64*T1) after the nonce was
 * issued. */
static bool retrans_candidate(const struct reg_in *in, struct reg_loc *loc,
			      int64_t now)
{
	int64_t ts = (int64_t)(in->auth.nid >> 32);

	return reg_nc_seen(loc, in->x->number, strlen(in->x->number),
			   in->auth.nid, in->auth.nc, in->tag) &&
		now >= ts && now - ts <= REG_RETRANS_S;
}

void reg_decide(const struct reg_in *in, const struct sipd_settings *set,
		struct reg_loc *loc, int64_t now, struct reg_decision *d)
{
	enum guard_auth res = in->auth.res;

	memset(d, 0, sizeof(*d));
	if (in->auth.outcome != AUTH_VERDICT) {
		d->what = REG_DO_CHALLENGE;
		return;
	}
	if (res == GUARD_AUTH_OK) {
		bool tp_ok = in->x->transports & (1u << in->tp);

		if (in->auth.stale || !in->nc_ok) {
			/* A stateless UAS regenerates the response to a
			 * retransmission (RFC 3261 8.2.7) and changes
			 * nothing: 200 when the bindings already reflect
			 * this request, else a new challenge. A replay of
			 * the same bytes therefore gains nothing. */
			if (!in->auth.stale && tp_ok &&
			    retrans_candidate(in, loc, now)) {
				if (!decide_contacts(in, set, d))
					return;
				if (d->rq.n > d->rq.max_contacts) {
					reject(d, 403, "Too Many Contacts");
					return;
				}
				if (reg_reflects(loc, &d->rq)) {
					d->what = REG_DO_BINDINGS;
					return;
				}
			}
			memset(d, 0, sizeof(*d));
			d->what = REG_DO_CHALLENGE;
			d->stale = true;
			return;
		}
		if (!tp_ok)
			res = GUARD_AUTH_TRANSPORT;
	}
	d->report = true;
	d->res = res;
	if (res == GUARD_AUTH_TRANSPORT) {
		/* Only reached with the right password: saying why tells
		 * nothing to anyone who lacks it, and a misconfigured phone
		 * (or its admin) sees what to fix. */
		reject(d, 403, "Transport Not Allowed");
		d->failed = true;
		return;
	}
	if (res != GUARD_AUTH_OK) {
		/* the one failure answer, whoever the user was */
		reject(d, 403, "Forbidden");
		d->failed = true;
		return;
	}
	if (decide_contacts(in, set, d))
		d->what = REG_DO_APPLY;
}

/* ---- act ------------------------------------------------------------ */

static size_t xput(struct registrar *r, size_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (off >= sizeof(r->xbuf))
		return off;
	va_start(ap, fmt);
	n = re_vsnprintf(r->xbuf + off, sizeof(r->xbuf) - off, fmt, ap);
	va_end(ap);
	if (n < 0)
		return sizeof(r->xbuf);
	return off + (size_t)n;
}

/* 200 OK listing every binding of the extension with its expiry. */
static void reply_bindings(struct registrar *r, struct sipd_req *rq,
			   const char *number, int64_t now)
{
	struct reg_ext *e = reg_ext_find(r->loc, number, strlen(number));
	size_t off = 0;

	for (const struct reg_binding *b = e ? e->bindings : NULL; b;
	     b = b->next) {
		off = xput(r, off, "Contact: <%s>;expires=%lld\r\n",
			   reg_binding_uri(b),
			   (long long)(b->expires > now ?
				       b->expires - now : 0));
	}
	if (off >= sizeof(r->xbuf))
		off = 0;
	sipd_reply(rq, 200, "OK", r->xbuf, off);
}

static void apply(struct registrar *r, struct sipd_req *rq,
		  const struct reg_decision *d, int64_t now)
{
	if (d->rq.n || d->rq.star) {
		switch (reg_apply(r->loc, &d->rq, now, reg_persist_change, r->persist)) {
		case 0:
			break;
		case EPROTO:
			sipd_reply(rq, 500, "Out Of Order", NULL, 0);
			return;
		case E2BIG:
			sipd_reply(rq, 403, "Too Many Contacts", NULL, 0);
			return;
		case EOVERFLOW:
			sipd_reply(rq, 400, "Contact URI Too Long", NULL, 0);
			return;
		case ENOSPC:
			sipd_reply(rq, 503, "Service Unavailable", NULL, 0);
			return;
		default:
			sipd_reply(rq, 500, "Server Internal Error", NULL, 0);
			return;
		}
	}
	r->c_reg_ok++;
	/* a phone registered over this connection: it may stay open */
	if (rq->tp != SIPD_UDP)   /* TCP or TLS */
		sipd_conn_registered(r->sd, rq->conn);
	reply_bindings(r, rq, d->rq.number, now);
}

void reg_register(struct sipd_req *rq, void *arg)
{
	struct registrar *r = arg;
	const struct sipd_settings *set = sipd_settings(r->sd);
	int64_t now = sipd_now(r->sd);
	const uint8_t *algs;
	struct reg_decision d;
	struct reg_in in;

	gather(r, rq, &in, &algs);
	reg_decide(&in, set, r->loc, now, &d);

	if (d.what == REG_DO_CHALLENGE) {
		auth_challenge(r->auth, rq, algs, d.stale);
		return;
	}
	if (d.report) {
		enum guard_verdict gv = auth_report(r->auth, rq, &in.auth,
						    d.res);

		if (gv == GUARD_DROP) {
			sipd_count_drop(r->sd);
			return;
		}
		if (gv == GUARD_TARPIT)
			rq->tarpit = true;
	}
	switch (d.what) {
	case REG_DO_REJECT:
		if (d.failed)
			r->c_reg_fail++;
		if (d.min_expires) {
			size_t off = xput(r, 0, "Min-Expires: %lld\r\n",
					  (long long)set->min_expires);

			sipd_reply(rq, d.code, d.reason, r->xbuf, off);
			return;
		}
		sipd_reply(rq, d.code, d.reason, NULL, 0);
		return;
	case REG_DO_BINDINGS:
		r->c_retrans++;
		reply_bindings(r, rq, d.rq.number, now);
		return;
	default:
		apply(r, rq, &d, now);
		return;
	}
}
