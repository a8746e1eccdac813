/*
 * sipd — the SIP side of bulwarkd: the input pipeline, dispatch by
 * method, the stateless registrar's REGISTER procedure, life cycle and
 * status. Its other rooms (sipd_priv.h): conf.c (the "sip" settings),
 * transport.c (our own UDP and TCP on libre sockets), reply.c (replies,
 * tarpit), qualify.c (qualify, keep-alives, expiry); sipmsg.c is the
 * strict parser.
 *
 * Request flow (DESIGN.md): guard_packet → parse → guard_request →
 * dispatch {method, handler} → REGISTER: digest, guard_auth_result,
 * bindings → stateless reply (or tarpit timer, or nothing).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "common/log.h"
#include "guard/guard.h"
#include "sip/sipd_priv.h"
#include "store/snapshot.h"
#ifdef SIPD_HAVE_MODEL
#include "model/model.h"
#endif

/* Must equal the model's default for auth.algorithms when the model is
 * not linked (unit tests, fuzzing). */
#ifndef SIPD_DEFAULT_ALGS
#define SIPD_DEFAULT_ALGS "md5"
#endif
#define MAX_CONTACTS_REQ 16
#define RETRANS_S 32      /* 64*T1: lifetime of a server transaction */
#define CHAL_SLOTS 131072 /* recent challenges remembered (power of 2) */
#define CHAL_WAYS 4       /* ... in sets of this many */

/* One recent challenge: hash of the request, issue time and counter of
 * its nonce (see challenge_nonce). */
struct chal_slot {
	uint64_t h;
	uint32_t ts;
	uint32_t ctr;
};

void sipd_set_clock(struct sipd *sd, int64_t now)
{
	if (sd)
		sd->fixed_now = now;
}

/* ---- snapshot ------------------------------------------------------- */

const struct snap_ext *sipd_find_ext(const struct snapshot *s,
				     const char *num, size_t len)
{
	size_t lo = 0, hi;

	if (!s || !s->ext || !len || len >= 24)
		return NULL;
	hi = s->n_ext;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const char *n = s->ext[mid].number;
		int c = strncmp(n, num, len);

		if (!c)
			c = n[len] ? 1 : 0;
		if (!c)
			return &s->ext[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void parse_algs(const char *list, uint8_t out[3])
{
	size_t n = 0;
	const char *p = list;

	memset(out, 0, 3);
	while (p && *p && n < 2) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);

		if (l == 7 && !strncasecmp(p, "sha-256", 7))
			out[n++] = AUTH_ALG_SHA256;
		else if (l == 3 && !strncasecmp(p, "md5", 3))
			out[n++] = AUTH_ALG_MD5;
		p = c ? c + 1 : NULL;
	}
	if (!n)
		out[0] = AUTH_ALG_MD5;
}

static void default_algs(struct sipd *sd)
{
	/* Unknown users are challenged exactly like an extension with the
	 * model's default auth.algorithms, so the two look the same. */
	const char *def = SIPD_DEFAULT_ALGS;
#ifdef SIPD_HAVE_MODEL
	const struct model_field *f = model_field_find("auth.algorithms");

	if (f && f->def)
		def = f->def;
#endif
	parse_algs(def, sd->default_algs);
}

/* Count the distinct auth.algorithms lists of extensions that have
 * credentials (at most 4 lists exist: md5, sha-256, and both orders). */
void sipd_mix_load(struct sipd *sd)
{
	sd->n_mix = sd->mix_total = 0;
	for (size_t i = 0; sd->snap && i < sd->snap->n_ext; i++) {
		const struct snap_ext *x = &sd->snap->ext[i];
		size_t j;

		if (!x->auth || !x->algs_pref[0])
			continue;
		for (j = 0; j < sd->n_mix; j++)
			if (!memcmp(sd->mix[j].algs, x->algs_pref, 2))
				break;
		if (j == sd->n_mix) {
			if (sd->n_mix == ARRAY_SIZE(sd->mix))
				continue;
			memset(sd->mix[j].algs, 0, sizeof(sd->mix[j].algs));
			memcpy(sd->mix[j].algs, x->algs_pref, 2);
			sd->mix[j].count = 0;
			sd->n_mix++;
		}
		sd->mix[j].count++;
		sd->mix_total++;
	}
}

/* The challenge for a user without credentials (unknown, deleted, ring
 * group). Answering all of them like the *default* list would tell an
 * attacker that any user challenged differently exists; instead each such
 * name gets a list drawn from the lists real extensions use, in their
 * proportions, chosen by a keyed hash of the name so that asking again
 * gives the same answer, as it would for a real extension. */
static const uint8_t *unknown_algs(const struct sipd *sd, const char *user,
				   size_t len)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;
	size_t pick;

	if (sd->n_mix < 2)
		return sd->n_mix ? sd->mix[0].algs : sd->default_algs;
	crypto_shorthash(h, (const unsigned char *)user, len, sd->chal_key);
	memcpy(&v, h, sizeof(v));
	pick = (size_t)(v % sd->mix_total);
	for (size_t j = 0; j < sd->n_mix; j++) {
		if (pick < sd->mix[j].count)
			return sd->mix[j].algs;
		pick -= sd->mix[j].count;
	}
	return sd->default_algs;
}

/* ---- REGISTER ------------------------------------------------------- */

static const char allow_hdr[] = "Allow: REGISTER, OPTIONS\r\n";

static void bind_bytes(const struct sa *src, uint8_t out[16], size_t *len)
{
	if (sa_af(src) == AF_INET) {
		uint32_t a = htonl(sa_in(src));

		memcpy(out, &a, 4);
		*len = 4;
	}
	else {
		sa_in6(src, out);
		*len = 16;
	}
}

/* The nonce of a challenge: a retransmitted request (same Call-ID, CSeq,
 * top Via branch and source) within RETRANS_S gets the nonce it got
 * before, so the stateless 401 is byte-identical (RFC 3261 8.2.7) and the
 * phone does not see a second, different challenge. The cache only
 * remembers issue time and counter of recent challenges; it is bounded
 * (CHAL_SLOTS), direct-mapped, and losing an entry only costs a fresh
 * nonce. Verification never reads it. */
static void challenge_nonce(struct req *rq, bool stale, const uint8_t *bb,
			    size_t bl, char *nonce)
{
	struct sipd *sd = rq->sd;
	const struct sipmsg *m = rq->m;
	uint64_t now = (uint64_t)sipd_now(sd), h;
	uint8_t in[512];
	size_t n = 0;
	struct chal_slot *cs, *old;

#define IN_PUT(p, l) do { size_t l_ = (l) > sizeof(in) - n ? \
		sizeof(in) - n : (l); if (l_) memcpy(in + n, (p), l_); \
		n += l_; } while (0)
	IN_PUT(&m->cseq, sizeof(m->cseq));
	IN_PUT(&stale, 1);
	IN_PUT(bb, bl);
	{
		uint16_t port = sa_port(&rq->src);

		IN_PUT(&port, sizeof(port));
	}
	IN_PUT(m->via_branch.p, m->via_branch.l);
	IN_PUT("\n", 1);
	IN_PUT(m->callid.p, m->callid.l);
#undef IN_PUT
	if (!sd->chal) {
		auth_nonce_make(sd->key, now, bb, bl, nonce);
		return;
	}
	crypto_shorthash((uint8_t *)&h, in, n, sd->chal_key);
	if (!h)
		h = 1;
	/* CHAL_WAYS-way set: a hit, else replace the oldest entry */
	cs = &sd->chal[(h & (CHAL_SLOTS / CHAL_WAYS - 1)) * CHAL_WAYS];
	for (unsigned i = 0; i < CHAL_WAYS; i++) {
		if (cs[i].h == h && now >= cs[i].ts &&
		    now - cs[i].ts <= RETRANS_S) {
			sd->c_chal_retrans++;
			auth_nonce_make_at(sd->key, cs[i].ts, cs[i].ctr, bb, bl,
				      nonce);
			return;
		}
	}
	old = cs;
	for (unsigned i = 1; i < CHAL_WAYS; i++)
		if (cs[i].ts < old->ts)
			old = &cs[i];
	old->h = h;
	old->ts = (uint32_t)now;
	old->ctr = auth_nonce_counter_next();
	auth_nonce_make_at(sd->key, old->ts, old->ctr, bb, bl, nonce);
}

static void challenge(struct req *rq, const uint8_t *algs, bool stale)
{
	struct sipd *sd = rq->sd;
	char nonce[AUTH_NONCE_HEXLEN + 1];
	uint8_t bb[16];
	size_t bl, off = 0;

	bind_bytes(&rq->src, bb, &bl);
	challenge_nonce(rq, stale, bb, bl, nonce);
	for (int i = 0; i < 2 && algs[i]; i++)
		off = sipd_xput(sd, off, "WWW-Authenticate: Digest "
				"realm=\"%s\", nonce=\"%s\", algorithm=%s, "
				"qop=\"auth\"%s\r\n",
				sd->realm, nonce, auth_alg_name(algs[i]),
				stale ? ", stale=true" : "");
	if (off >= sizeof(sd->xbuf))
		return;
	sd->c_chal++;
	sipd_reply(rq, 401, "Unauthorized", sd->xbuf, off);
}

static bool alg_allowed(const uint8_t *algs, unsigned alg)
{
	for (int i = 0; i < 2 && algs[i]; i++)
		if (algs[i] == alg)
			return true;
	return false;
}

static bool str_eq(const struct auth_str *a, const char *p, size_t l)
{
	return a->l == l && !memcmp(a->p, p, l);
}

/* The one failure answer, whoever the user was. */
static void fail(struct req *rq)
{
	rq->sd->c_reg_fail++;
	sipd_reply(rq, 403, "Forbidden", NULL, 0);
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

void sipd_reg_changed(enum reg_op op, const struct reg_binding *b,
			void *arg)
{
	struct sipd *sd = arg;

	if (sd->persist)
		reg_persist_change(op, b, sd->persist);
}

/* 200 OK listing every binding of the extension with its expiry. */
static void reply_bindings(struct req *rq, const struct snap_ext *x,
			   int64_t now)
{
	struct sipd *sd = rq->sd;
	struct reg_ext *e = reg_ext_find(sd->loc, x->number,
					 strlen(x->number));
	size_t off = 0;

	for (const struct reg_binding *b = e ? e->bindings : NULL; b;
	     b = b->next) {
		off = sipd_xput(sd, off, "Contact: <%s>;expires=%lld\r\n",
				reg_binding_uri(b),
				(long long)(b->expires > now ?
					    b->expires - now : 0));
	}
	if (off >= sizeof(sd->xbuf))
		off = 0;
	sipd_reply(rq, 200, "OK", sd->xbuf, off);
}

static void register_ok(struct req *rq, const struct snap_ext *x)
{
	struct sipd *sd = rq->sd;
	struct sipmsg *m = rq->m;
	struct reg_contact cs[MAX_CONTACTS_REQ];
	struct reg_req r;
	int64_t now = sipd_now(sd);
	size_t off = 0;
	int err;

	memset(&r, 0, sizeof(r));
	for (size_t i = 0; i < m->n_hdr; i++) {
		const char *p, *end;

		if (m->hdr[i].id != SH_CONTACT)
			continue;
		p = m->hdr[i].val.p;
		end = p + m->hdr[i].val.l;
		while (p < end) {
			struct sipmsg_addr a;
			int64_t exp = m->expires >= 0 ? m->expires : sd->def_exp;

			if (sipmsg_addr(&a, &p, end, true)) {
				sipd_reply(rq, 400, "Bad Contact", NULL, 0);
				return;
			}
			if (a.star) {
				if (m->expires != 0) {
					sipd_reply(rq, 400, "Bad Contact",
						   NULL, 0);
					return;
				}
				r.star = true;
				continue;
			}
			if (r.n >= MAX_CONTACTS_REQ) {
				sipd_reply(rq, 403, "Too Many Contacts",
					   NULL, 0);
				return;
			}
			if (a.expires.p) {
				uint64_t v = 0;

				if (!a.expires.l || a.expires.l > 10) {
					sipd_reply(rq, 400, "Bad Expires",
						   NULL, 0);
					return;
				}
				for (size_t k = 0; k < a.expires.l; k++) {
					char c = a.expires.p[k];

					if (c < '0' || c > '9') {
						sipd_reply(rq, 400,
							   "Bad Expires",
							   NULL, 0);
						return;
					}
					v = v * 10 + (uint64_t)(c - '0');
				}
				exp = v > 0xffffffffu ? 0xffffffff : (int64_t)v;
			}
			if (exp > 0 && exp < sd->min_exp) {
				off = sipd_xput(sd, 0, "Min-Expires: %lld\r\n",
						(long long)sd->min_exp);
				sipd_reply(rq, 423, "Interval Too Brief",
					   sd->xbuf, off);
				return;
			}
			if (exp > sd->max_exp)
				exp = sd->max_exp;
			cs[r.n].uri.p = a.uri.p;
			cs[r.n].uri.l = a.uri.l;
			cs[r.n].expires = exp;
			contact_target(&a.uri, &cs[r.n].target,
				       &cs[r.n].has_target);
			r.n++;
		}
	}
	if (r.star && r.n) {
		sipd_reply(rq, 400, "Bad Contact", NULL, 0);
		return;
	}
	r.number = x->number;
	r.call_id.p = m->callid.p;
	r.call_id.l = m->callid.l;
	r.cseq = m->cseq;
	r.c = cs;
	r.src = rq->src;
	r.tp = (uint8_t)rq->tp;
	r.conn_id = rq->conn;
	{
		const struct sipmsg_hdr *ua = sipmsg_hdr(m, SH_UA);

		if (ua) {
			r.ua.p = ua->val.p;
			r.ua.l = ua->val.l > 128 ? 128 : ua->val.l;
		}
	}
	r.max_contacts = x->max_contacts ? x->max_contacts : 1;
	r.nat = x->nat;
	if (rq->retrans) {
		/* A stateless UAS regenerates the response to a retransmission
		 * (RFC 3261 8.2.7) and changes nothing: 200 when the bindings
		 * already reflect this request, else the caller re-challenges.
		 * A replay of the same bytes therefore gains nothing. */
		if (r.n > r.max_contacts) {
			sipd_reply(rq, 403, "Too Many Contacts", NULL, 0);
			return;
		}
		if (!reg_reflects(sd->loc, &r)) {
			rq->retrans_mismatch = true;
			return;
		}
		sd->c_retrans++;
		reply_bindings(rq, x, now);
		return;
	}
	if (r.n || r.star) {
		err = reg_apply(sd->loc, &r, now, sipd_reg_changed, sd);
		switch (err) {
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
	sd->c_reg_ok++;
	/* a phone registered over this connection: it may stay open */
	if (rq->tp == SIPD_TCP)
		sipd_tcp_promote(sd, rq->conn, CONN_REG);
	reply_bindings(rq, x, now);
}

/* A retransmission of an authenticated REGISTER: exactly the nonce,
 * nonce-count, Call-ID and CSeq last accepted for the extension, within
 * the lifetime of a server transaction (64*T1) after the nonce was
 * issued. */
static bool retrans_candidate(struct sipd *sd, const struct snap_ext *x,
			      uint64_t nid, uint32_t nc, uint32_t tag,
			      int64_t now)
{
	int64_t ts = (int64_t)(nid >> 32);

	return reg_nc_seen(sd->loc, x->number, strlen(x->number), nid, nc,
			   tag) && now >= ts &&
		now - ts <= RETRANS_S;
}

/* Which request an accepted nc belongs to: Call-ID and CSeq. */
static uint32_t req_tag(const struct sipmsg *m)
{
	return hash_joaat((const uint8_t *)m->callid.p, m->callid.l) ^
		(m->cseq * 2654435761u);
}

/* Nonce-count replay check for an authenticated extension. */
static int nc_check_ext(struct sipd *sd, const struct snap_ext *x,
			uint64_t nid, uint32_t nc, uint32_t tag)
{
	return reg_nc_check(sd->loc, x->number, strlen(x->number), nid, nc,
			    tag);
}

/* One log line per authentication verdict (issue 10: an admin reads in
 * the log who registered and who failed), through the same rate limit as
 * the TCP events: the network sets the pace. The user name comes from the
 * wire: bounded and reduced to safe characters. Never anything of the
 * credentials. */
static void log_verdict(struct sipd *sd, const struct req *rq,
			const char *user, size_t ul, enum guard_auth res)
{
	static const char *const why[] = {
		[GUARD_AUTH_OK] = "registered",
		[GUARD_AUTH_BAD_PASSWORD] = "authentication failed: wrong "
					    "password",
		[GUARD_AUTH_UNKNOWN_USER] = "authentication failed: unknown "
					    "user",
		[GUARD_AUTH_STALE] = "authentication failed: old password "
				     "(stale credentials)",
		[GUARD_AUTH_MISMATCH] = "authentication failed: user does "
					"not match the extension",
		[GUARD_AUTH_MALFORMED] = "authentication failed: malformed "
					 "credentials",
		[GUARD_AUTH_TRANSPORT] = "authentication failed: transport "
					 "not allowed",
	};
	char u[33], src[64];
	size_t i;

	for (i = 0; user && i < ul && i + 1 < sizeof(u); i++) {
		char ch = user[i];

		u[i] = ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			(ch >= '0' && ch <= '9') || (ch && strchr("._-+", ch))) ?
			ch : '?';
	}
	u[i] = '\0';
	sipd_peer_str(&rq->src, src, sizeof(src));
	sipd_tcp_log(sd, res == GUARD_AUTH_OK ? LOG_LVL_INFO : LOG_LVL_WARN,
		"%s: '%s' from %s", (size_t)res < sizeof(why) / sizeof(why[0])
		&& why[res] ? why[res] : "authentication failed", u, src);
}

static void h_register(struct req *rq)
{
	struct sipd *sd = rq->sd;
	struct sipmsg *m = rq->m;
	const struct snap_ext *x = NULL;
	const uint8_t *algs;
	struct auth_cred c;
	bool have = false, malformed = false, known;
	enum guard_auth res;
	enum guard_verdict gv;
	uint8_t bb[16];
	size_t bl;
	uint64_t nid = 0;
	int64_t now = sipd_now(sd);
	int nr;

	x = sipd_find_ext(sd->snap, m->to.user.p, m->to.user.l);
	known = x && x->auth && x->algs_pref[0];
	if (known)
		algs = x->algs_pref;
	else
		algs = unknown_algs(sd, m->to.user.p, m->to.user.l);

	for (size_t i = 0; i < m->n_hdr && !have; i++) {
		int err;

		if (m->hdr[i].id != SH_AUTH)
			continue;
		err = auth_digest_parse(&c, m->hdr[i].val.p, m->hdr[i].val.l);
		if (err == ENOTSUP)
			continue;
		if (err) {
			malformed = true;
			continue;
		}
		if (!str_eq(&c.realm, sd->realm, strlen(sd->realm)))
			continue;
		have = true;
	}
	if (!have && !malformed) {
		challenge(rq, algs, false);
		return;
	}
	if (!have) {
		res = GUARD_AUTH_MALFORMED;
		memset(&c, 0, sizeof(c));
		goto verdict;
	}
	bind_bytes(&rq->src, bb, &bl);
	nr = auth_nonce_check(sd->key, c.nonce.p, c.nonce.l, bb, bl,
			 (uint64_t)now, (uint64_t)sd->nonce_ttl, &nid);
	if (nr == EBADMSG) {
		/* not one of ours (or from another address): start over */
		challenge(rq, algs, false);
		return;
	}
	{
		/* Always two digest computations whoever the user is, so the
		 * time taken does not tell known users from unknown ones. */
		bool user_ok, alg_ok, ok, prev_ok;
		char exp1[65], exp2[65];
		const char *ha1, *pha1;
		unsigned alg = c.alg;

		user_ok = known && str_eq(&c.username, x->number,
					  strlen(x->number));
		alg_ok = alg_allowed(algs, alg);
		if (alg_ok && known) {
			ha1 = alg == AUTH_ALG_MD5 ? x->ha1_md5 : x->ha1_sha256;
			pha1 = x->has_prev && now < x->prev_until ?
				(alg == AUTH_ALG_MD5 ? x->prev_ha1_md5 :
				 x->prev_ha1_sha256) : NULL;
		}
		else {
			ha1 = alg == AUTH_ALG_MD5 ? sd->dummy_md5 :
				sd->dummy_sha256;
			pha1 = NULL;
		}
		if (strlen(ha1) != auth_hexlen(alg))
			ha1 = alg == AUTH_ALG_MD5 ? sd->dummy_md5 :
				sd->dummy_sha256;
		if (pha1 && strlen(pha1) != auth_hexlen(alg))
			pha1 = NULL;
		(void)auth_digest_response(alg, ha1, "REGISTER", &c, exp1,
				      sizeof(exp1));
		(void)auth_digest_response(alg, pha1 ? pha1 : (alg == AUTH_ALG_MD5 ?
				      sd->dummy_md5 : sd->dummy_sha256),
				      "REGISTER", &c, exp2, sizeof(exp2));
		ok = auth_digest_equal(&c.response, exp1);
		prev_ok = auth_digest_equal(&c.response, exp2) && pha1;
		sodium_memzero(exp1, sizeof(exp1));
		sodium_memzero(exp2, sizeof(exp2));

		if (!c.qop.p || !str_eq(&c.uri, m->ruri.p, m->ruri.l))
			res = GUARD_AUTH_MALFORMED;
		else if (!known)
			res = GUARD_AUTH_UNKNOWN_USER;
		else if (!user_ok)
			res = GUARD_AUTH_MISMATCH;
		else if (!alg_ok)
			res = GUARD_AUTH_MALFORMED;
		else if (ok) {
			if (nr == ESTALE ||
			    nc_check_ext(sd, x, nid, c.ncv, req_tag(m))) {
				if (nr != ESTALE &&
				    (x->transports & (1u << rq->tp)) &&
				    retrans_candidate(sd, x, nid, c.ncv,
						      req_tag(m), now)) {
					rq->retrans = true;
					register_ok(rq, x);
					if (!rq->retrans_mismatch)
						return;
				}
				challenge(rq, algs, true);
				return;
			}
			if (!(x->transports & (1u << rq->tp)))
				res = GUARD_AUTH_TRANSPORT;
			else
				res = GUARD_AUTH_OK;
		}
		else if (prev_ok)
			res = GUARD_AUTH_STALE;
		else
			res = GUARD_AUTH_BAD_PASSWORD;
	}
 verdict:
	{
		const struct sipmsg_hdr *ua = sipmsg_hdr(m, SH_UA);
		const char *user = c.username.p ? c.username.p : m->to.user.p;
		size_t ul = c.username.p ? c.username.l : m->to.user.l;
		/* have: the nonce passed auth_nonce_check (ours, bound to this
		 * source; EBADMSG re-challenged above), fresh or stale */
		struct guard_proof pf = {
			.conn = rq->tp != SIPD_UDP,
			.nonce = have,
			.nonce_ts = nid >> 32,
		};

		gv = guard_auth_result(sd->guard, &rq->src, user ? user : "",
				       user ? ul : 0, res, &pf,
				       ua ? ua->val.p : NULL,
				       ua ? ua->val.l : 0);
		log_verdict(sd, rq, user, user ? ul : 0, res);
	}
	if (gv == GUARD_DROP) {
		sd->c_drop++;
		return;
	}
	if (gv == GUARD_TARPIT)
		rq->tarpit = true;
	if (res == GUARD_AUTH_TRANSPORT) {
		/* Only reached with the right password: saying why tells
		 * nothing to anyone who lacks it, and a misconfigured phone
		 * (or its admin) sees what to fix. */
		sd->c_reg_fail++;
		sipd_reply(rq, 403, "Transport Not Allowed", NULL, 0);
		return;
	}
	if (res != GUARD_AUTH_OK) {
		fail(rq);
		return;
	}
	register_ok(rq, x);
}

/* ---- other methods -------------------------------------------------- */

static void h_options(struct req *rq)
{
	static const char hdrs[] =
		"Allow: REGISTER, OPTIONS\r\n"
		"Accept: application/sdp\r\n";

	sipd_reply(rq, 200, "OK", hdrs, sizeof(hdrs) - 1);
}

static void h_ack(struct req *rq)
{
	(void)rq;   /* never answered */
}

static void h_not_allowed(struct req *rq)
{
	sipd_reply(rq, 405, "Method Not Allowed", allow_hdr,
		   sizeof(allow_hdr) - 1);
}

static const struct {
	const char *method;
	void (*h)(struct req *rq);
} methods[] = {
	{"REGISTER", h_register},
	{"OPTIONS", h_options},
	{"ACK", h_ack},
	/* RFC 3261 8.2.1: known methods we do not serve → 405 with Allow */
	{"INVITE", h_not_allowed}, {"BYE", h_not_allowed},
	{"CANCEL", h_not_allowed}, {"SUBSCRIBE", h_not_allowed},
	{"NOTIFY", h_not_allowed}, {"MESSAGE", h_not_allowed},
	{"INFO", h_not_allowed}, {"PRACK", h_not_allowed},
	{"UPDATE", h_not_allowed}, {"REFER", h_not_allowed},
	{"PUBLISH", h_not_allowed},
};

/* ---- input ---------------------------------------------------------- */

static bool crlf_only(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != '\r' && buf[i] != '\n')
			return false;
	return true;
}

void sipd_input(struct sipd *sd, enum sipd_tp tp, const struct sa *src,
		uint64_t conn, const char *buf, size_t len)
{
	struct sipmsg *m;
	struct req rq;
	enum guard_verdict gv;
	const char *why = NULL;
	unsigned code;

	if (!sd || !src || !buf)
		return;
	sd->c_rx++;
	/* A CRLF keep-alive (RFC 5626 3.5.1; phones send "\r\n\r\n" or
	 * "\r\n" to keep their NAT binding open) or an empty datagram: not
	 * a malformed message, and never answered. Over TCP conn_feed
	 * answers pings before messages are framed. */
	if (tp == SIPD_UDP && crlf_only(buf, len)) {
		sd->c_keepalive++;
		return;
	}
	gv = guard_packet(sd->guard, src);
	if (gv == GUARD_DROP) {
		sd->c_drop++;
		return;
	}
	m = &sd->msg;   /* large: kept in sd, not on the stack */
	if (sipmsg_parse(m, buf, len, tp == SIPD_UDP)) {
		sd->c_bad++;
		return;
	}
	if (!m->req) {
		sipd_qualify_response(sd, m);
		return;
	}
	memset(&rq, 0, sizeof(rq));
	rq.sd = sd;
	rq.m = m;
	rq.tp = tp;
	rq.src = *src;
	rq.conn = conn;
	rq.tarpit = gv == GUARD_TARPIT;
	code = sipmsg_check(m, &why);
	if (code) {
		sd->c_bad++;
		if (!m->count[SH_VIA] || sipmsg_eq(&m->met, "ACK"))
			return;   /* nowhere to answer / never answer ACK */
		switch (code) {
		case 505:
			sipd_reply(&rq, 505, "Version Not Supported", NULL, 0);
			break;
		case 416:
			sipd_reply(&rq, 416, "Unsupported URI Scheme", NULL, 0);
			break;
		case 420: {
			size_t off = sipd_xput(sd, 0, "Unsupported: %b\r\n",
					       m->unsupported.p,
					       m->unsupported.l > 512 ?
					       (size_t)512 :
					       m->unsupported.l);

			if (off < sizeof(sd->xbuf))
				sipd_reply(&rq, 420, "Bad Extension",
					   sd->xbuf, off);
			break;
		}
		case 415: {
			static const char acc[] = "Accept: application/sdp\r\n";

			sipd_reply(&rq, 415, "Unsupported Media Type", acc,
				   sizeof(acc) - 1);
			break;
		}
		default:
			/* Any 400 has one reason phrase: the parser's finer
			 * reason would help fingerprinting, not clients */
			(void)why;
			sipd_reply(&rq, 400, "Bad Request", NULL, 0);
			break;
		}
		return;
	}
	{
		const struct sipmsg_hdr *ua = sipmsg_hdr(m, SH_UA);

		/* a connection proves its source; a lone datagram does
		 * not (guard.h, struct guard_proof) */
		unsigned gf = (tp != SIPD_UDP ? GUARD_REQ_CONN : 0) |
			      (sipmsg_eq(&m->met, "REGISTER") ?
			       GUARD_REQ_REGISTER : 0);

		gv = guard_request(sd->guard, src, gf,
				   ua ? ua->val.p : NULL, ua ? ua->val.l : 0);
		if (gv == GUARD_DROP) {
			sd->c_drop++;
			return;
		}
		if (gv == GUARD_TARPIT)
			rq.tarpit = true;
	}
	if (tp != SIPD_UDP)   /* a valid request: a SIP peer, not a squatter */
		sipd_tcp_promote(sd, conn, CONN_VALID);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (m->met.l == strlen(methods[i].method) &&
		    !memcmp(m->met.p, methods[i].method, m->met.l)) {
			methods[i].h(&rq);
			return;
		}
	}
	sipd_reply(&rq, 501, "Not Implemented", allow_hdr,
		   sizeof(allow_hdr) - 1);
}

/* ---- life cycle ----------------------------------------------------- */

static void sipd_destructor(void *arg)
{
	struct sipd *sd = arg;

	tmr_cancel(&sd->sweep);
	sipd_transport_free(sd);
	list_flush(&sd->tarpits);
	reg_persist_close(sd->persist);
	sd->persist = NULL;
	mem_deref(sd->loc);
	snapshot_free(sd->snap);
	mem_deref(sd->mb);
	mem_deref(sd->db_path);
	mem_deref(sd->listen);
	sodium_memzero(sd->key, sizeof(sd->key));
	free(sd->chal);
}

static void random_hex(char *out, size_t hexlen)
{
	static const char hx[] = "0123456789abcdef";
	uint8_t b[64];

	randombytes_buf(b, hexlen / 2);
	for (size_t i = 0; i < hexlen / 2; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[hexlen] = '\0';
}

static int sipd_new(struct sipd **sp, struct snapshot *snap)
{
	struct sipd *sd;
	int err;

	if (sodium_init() < 0)
		return EIO;
	sd = mem_zalloc(sizeof(*sd), sipd_destructor);
	if (!sd)
		return ENOMEM;
	sd->snap = snap;
	randombytes_buf(sd->key, sizeof(sd->key));
	random_hex(sd->dummy_md5, 32);
	random_hex(sd->dummy_sha256, 64);
	random_hex(sd->totag_salt, 16);
	randombytes_buf(sd->chal_key, sizeof(sd->chal_key));
	/* calloc: the pages are touched only as challenges fill them */
	sd->chal = calloc(CHAL_SLOTS, sizeof(*sd->chal));
	tmr_init(&sd->sweep);
	list_init(&sd->tarpits);
	err = reg_loc_alloc(&sd->loc, 200000);
	if (!err)
		sd->loc->nc_keep = 0;   /* sipd_settings_load sets it */
	if (!err)
		err = hash_alloc(&sd->conns, 1024);
	if (!err)
		err = hash_alloc(&sd->conn_srcs, 1024);
	list_init(&sd->conn_old[CONN_NEW]);
	list_init(&sd->conn_old[CONN_VALID]);
	sipd_tcp_limits(sd);
	if (!err) {
		sd->mb = mbuf_alloc(OBUF);
		if (!sd->mb)
			err = ENOMEM;
	}
	if (err) {
		sd->snap = NULL;   /* not taken on failure */
		mem_deref(sd);
		return err;
	}
	sipd_settings_load(sd);
	default_algs(sd);
	*sp = sd;
	return 0;
}

int sipd_alloc_offline(struct sipd **sp, struct snapshot *snap,
		       sipd_out_h *outh, void *arg)
{
	struct sipd *sd;
	int err;

	if (!sp || !outh)
		return EINVAL;
	err = sipd_new(&sd, snap);
	if (err)
		return err;
	sd->outh = outh;
	sd->outarg = arg;
	*sp = sd;
	return 0;
}

static bool keep_ext(const char *number, void *arg)
{
	const struct sipd *sd = arg;
	const struct snap_ext *x = sipd_find_ext(sd->snap, number,
						 strlen(number));

	return x && x->auth;
}

int sipd_alloc(struct sipd **sp, const struct sipd_conf *conf,
	       struct snapshot *snap)
{
	struct sipd *sd = NULL;
	size_t restored = 0;
	int err;

	if (!sp || !conf)
		return EINVAL;
	err = sipd_new(&sd, snap);
	if (err)
		return err;
	sd->guard = conf->guard;
	if (conf->listen)
		err = str_dup(&sd->listen, conf->listen);
	if (!err && conf->db_path) {
		err = str_dup(&sd->db_path, conf->db_path);
		if (!err)
			err = reg_persist_open(&sd->persist, conf->db_path,
					       200000);
		if (!err)
			err = reg_persist_load(sd->persist, sd->loc,
					       sipd_now(sd), keep_ext, sd,
					       &restored);
		if (err)
			log_err(MOD, "bindings database %s: %s",
				conf->db_path, strerror(err));
	}
	if (!err)
		err = sipd_listeners_open(sd, true, true);
	if (err) {
		log_err(MOD, "cannot listen on %s: %s",
			conf->listen ? conf->listen : "the sip ports",
			strerror(err));
		sd->snap = NULL;   /* not taken on failure */
		mem_deref(sd);
		return err;
	}
	sd->udp_on = sd->tcp_on = true;
	tmr_start(&sd->sweep, 1000, sipd_sweep, sd);
	sipd_dbg_route(sd);
	{
		char a[64];

		re_snprintf(a, sizeof(a), "%J", &sd->laddr);
		log_info(MOD, "listening on %s (udp, tcp), realm %s, udp "
			 "receive buffer %d bytes, %zu bindings restored", a,
			 sd->realm, sd->rcvbuf, restored);
		log_info(MOD, "tcp: at most %zu connections (below the "
			 "descriptor limit), %zu unregistered per source",
			 sd->max_conns, sd->per_src);
	}
	*sp = sd;
	return 0;
}

/* A deleted extension (or one without credentials) loses its bindings. */
static void exts_gone(struct sipd *sd)
{
	struct reg_ext *e, *cur = NULL;
	size_t pos = 0;

	while ((e = reg_ext_next(sd->loc, &pos, &cur))) {
		const struct snap_ext *x = sipd_find_ext(sd->snap, e->number,
							 strlen(e->number));

		if (!x || !x->auth)
			reg_ext_clear(sd->loc, e, sipd_reg_changed, sd);
	}
}

void sipd_apply_snapshot(struct sipd *sd, struct snapshot *snap)
{
	struct snapshot *old;

	if (!sd || !snap) {
		snapshot_free(snap);
		return;
	}
	old = sd->snap;
	sd->snap = snap;
	sipd_settings_load(sd);
	exts_gone(sd);
	snapshot_free(old);
}

static const char *tp_name(uint8_t tp)
{
	switch (tp) {
	case REG_TP_UDP: return "udp";
	case REG_TP_TCP: return "tcp";
	default:         return "tls";
	}
}

json_t *sipd_registrations(struct sipd *sd)
{
	json_t *a = json_array();
	const struct reg_binding *b;
	size_t pos = 0;
	int64_t now;

	if (!sd || !a)
		return a;
	now = sipd_now(sd);

	while ((b = reg_binding_next(sd->loc, &pos))) {
		char src[64];

		re_snprintf(src, sizeof(src), "%J", &b->src);
		json_array_append_new(a, json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:o}",
			"extension", b->ext->number,
			"contact", reg_binding_uri(b),
			"source", src,
			"transport", tp_name(b->tp),
			"user_agent", reg_binding_ua(b),
			"expires_in", (json_int_t)(b->expires > now ?
						   b->expires - now : 0),
			"reachable", b->q_known ? json_boolean(b->reachable) :
				json_null(),
			"rtt_ms", b->q_known && b->reachable ?
				json_integer(b->rtt_ms) : json_null()));
	}
	return a;
}

json_t *sipd_status(struct sipd *sd)
{
	json_t *o, *l;
	char addr[64];
	uint64_t q = 0, w = 0, d = 0, pend = 0, fail = 0;

	if (!sd)
		return json_pack("{s:s}", "state", "stopped");
	l = json_array();
	re_snprintf(addr, sizeof(addr), "%J", &sd->laddr);
	if (sd->us4 || sd->us6)
		json_array_append_new(l, json_pack("{s:s,s:s}", "transport",
						   "udp", "address", addr));
	if (sd->ts4 || sd->ts6)
		json_array_append_new(l, json_pack("{s:s,s:s}", "transport",
						   "tcp", "address", addr));
	reg_persist_stats(sd->persist, &q, &w, &d);
	reg_persist_retry_stats(sd->persist, &pend, &fail);
	o = json_pack("{s:s, s:s, s:o, s:i, s:I, s:I, s:I, s:{s:I,s:I,s:I,"
		      "s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}, s:{s:I,s:I,s:I,s:I,s:I}}",
		      "state", "running", "realm", sd->realm, "listen", l,
		      "udp_rcvbuf", sd->rcvbuf,
		      "bindings", (json_int_t)sd->loc->n_bind,
		      "tcp_connections", (json_int_t)sd->n_conns,
		      "tarpit_pending", (json_int_t)sd->n_tarpit,
		      "counters",
		      "received", (json_int_t)sd->c_rx,
		      "sent", (json_int_t)sd->c_tx,
		      "malformed", (json_int_t)sd->c_bad,
		      "dropped", (json_int_t)sd->c_drop,
		      "challenges", (json_int_t)sd->c_chal,
		      "register_ok", (json_int_t)sd->c_reg_ok,
		      "register_failed", (json_int_t)sd->c_reg_fail,
		      "tarpitted", (json_int_t)sd->c_tarpit,
		      "tarpit_overflow", (json_int_t)sd->c_tarpit_drop,
		      "qualify_sent", (json_int_t)sd->c_qualify,
		      "retransmissions", (json_int_t)sd->c_retrans,
		      "challenge_retransmissions",
		      (json_int_t)sd->c_chal_retrans,
		      "persist", "queued", (json_int_t)q, "written",
		      (json_int_t)w, "dropped", (json_int_t)d,
		      "pending", (json_int_t)pend, "failed", (json_int_t)fail);
	if (o) {
		json_object_set_new(json_object_get(o, "counters"),
				    "keepalives", json_integer(
					    (json_int_t)sd->c_keepalive));
		json_object_set_new(o, "tcp", sipd_tcp_status(sd));
	}
	return o;
}

void sipd_close(struct sipd *sd)
{
	mem_deref(sd);
}
