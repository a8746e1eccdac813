/*
 * auth — the verifier: challenges (401 for REGISTER, 407 for every
 * other method) and verification of a request's
 * digest credentials, the same for every user and method, and the report
 * of every verdict to the guard. Moved here from the REGISTER handler of
 * sipd.c; the primitives are digest.c and nonce.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

/* libre's re.h clashes with jansson (JSON_* enums): include parts */
#include <re_types.h>
#include <re_fmt.h>
#include <re_mem.h>
#include <re_sa.h>

#include "auth/auth.h"
#include "model/model.h"
#include "sip/sipd.h"
#include "store/snapshot.h"

/* The model's default for auth.algorithms, should the model lack it. */
#define DEFAULT_ALGS "md5"
#define RETRANS_S 32      /* 64*T1: lifetime of a server transaction */
#define CHAL_SLOTS 131072 /* recent challenges remembered (power of 2) */
#define CHAL_WAYS 4       /* ... in sets of this many */
#define CHAL_HDRS 1024    /* the WWW-Authenticate lines of one answer */

/* One recent challenge: hash of the request, issue time and counter of
 * its nonce (see challenge_nonce). */
struct chal_slot {
	uint64_t h;
	uint32_t ts;
	uint32_t ctr;
};

struct auth {
	uint8_t default_algs[3];
	/* The algorithm lists real extensions use, with how many use each:
	 * unknown users are challenged with a list drawn from this mix. */
	struct alg_mix {
		uint8_t algs[3];
		size_t count;
	} mix[4];
	size_t n_mix, mix_total;
	/* secrets */
	uint8_t key[32];
	char dummy_md5[33], dummy_sha256[65];
	uint8_t chal_key[crypto_shorthash_KEYBYTES];
	struct chal_slot *chal;    /* CHAL_SLOTS, calloc'd */
	uint64_t c_chal, c_chal_retrans;
};

static void auth_destructor(void *arg)
{
	struct auth *a = arg;

	sodium_memzero(a->key, sizeof(a->key));
	sodium_memzero(a->chal_key, sizeof(a->chal_key));
	sodium_memzero(a->dummy_md5, sizeof(a->dummy_md5));
	sodium_memzero(a->dummy_sha256, sizeof(a->dummy_sha256));
	free(a->chal);
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
	sodium_memzero(b, sizeof(b));
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

int auth_alloc(struct auth **ap)
{
	const struct model_field *f;
	struct auth *a;

	if (!ap)
		return EINVAL;
	if (sodium_init() < 0)
		return EIO;
	a = mem_zalloc(sizeof(*a), auth_destructor);
	if (!a)
		return ENOMEM;
	randombytes_buf(a->key, sizeof(a->key));
	random_hex(a->dummy_md5, 32);
	random_hex(a->dummy_sha256, 64);
	randombytes_buf(a->chal_key, sizeof(a->chal_key));
	/* calloc: the pages are touched only as challenges fill them */
	a->chal = calloc(CHAL_SLOTS, sizeof(*a->chal));
	/* Unknown users are challenged exactly like an extension with the
	 * model's default auth.algorithms, so the two look the same. */
	f = model_field_find("auth.algorithms");
	parse_algs(f && f->def ? f->def : DEFAULT_ALGS, a->default_algs);
	*ap = a;
	return 0;
}

/* Count the distinct auth.algorithms lists of extensions that have
 * credentials (at most 4 lists exist: md5, sha-256, and both orders). */
void auth_snapshot(struct auth *a, const struct snapshot *s)
{
	a->n_mix = a->mix_total = 0;
	for (size_t i = 0; s && i < s->n_ext; i++) {
		const struct snap_ext *x = &s->ext[i];
		size_t j;

		if (!x->auth || !x->algs_pref[0])
			continue;
		for (j = 0; j < a->n_mix; j++)
			if (!memcmp(a->mix[j].algs, x->algs_pref, 2))
				break;
		if (j == a->n_mix) {
			if (a->n_mix == ARRAY_SIZE(a->mix))
				continue;
			memset(a->mix[j].algs, 0, sizeof(a->mix[j].algs));
			memcpy(a->mix[j].algs, x->algs_pref, 2);
			a->mix[j].count = 0;
			a->n_mix++;
		}
		a->mix[j].count++;
		a->mix_total++;
	}
}

/* The challenge for a user without credentials (unknown, deleted, ring
 * group). Answering all of them like the *default* list would tell an
 * attacker that any user challenged differently exists; instead each such
 * name gets a list drawn from the lists real extensions use, in their
 * proportions, chosen by a keyed hash of the name so that asking again
 * gives the same answer, as it would for a real extension. */
const uint8_t *auth_algs(const struct auth *a, const struct snap_ext *x,
			 const char *user, size_t len)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;
	size_t pick;

	if (x && x->auth && x->algs_pref[0])
		return x->algs_pref;
	if (a->n_mix < 2)
		return a->n_mix ? a->mix[0].algs : a->default_algs;
	crypto_shorthash(h, (const unsigned char *)user, len, a->chal_key);
	memcpy(&v, h, sizeof(v));
	pick = (size_t)(v % a->mix_total);
	for (size_t j = 0; j < a->n_mix; j++) {
		if (pick < a->mix[j].count)
			return a->mix[j].algs;
		pick -= a->mix[j].count;
	}
	return a->default_algs;
}

/* The source address bytes a nonce is bound to. */
static void bind_bytes(const struct sa *src, uint8_t out[16], size_t *len)
{
	if (sa_af(src) == AF_INET) {
		uint32_t v = htonl(sa_in(src));

		memcpy(out, &v, 4);
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
static void challenge_nonce(struct auth *a, const struct sipd_req *rq,
			    bool stale, const uint8_t *bb, size_t bl,
			    char *nonce)
{
	const struct sipmsg *m = rq->m;
	uint64_t now = (uint64_t)sipd_now(rq->sd), h;
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
		uint16_t port = sa_port(rq->src);

		IN_PUT(&port, sizeof(port));
	}
	IN_PUT(m->via_branch.p, m->via_branch.l);
	IN_PUT("\n", 1);
	IN_PUT(m->callid.p, m->callid.l);
#undef IN_PUT
	if (!a->chal) {
		auth_nonce_make(a->key, now, bb, bl, nonce);
		return;
	}
	crypto_shorthash((uint8_t *)&h, in, n, a->chal_key);
	if (!h)
		h = 1;
	/* CHAL_WAYS-way set: a hit, else replace the oldest entry */
	cs = &a->chal[(h & (CHAL_SLOTS / CHAL_WAYS - 1)) * CHAL_WAYS];
	for (unsigned i = 0; i < CHAL_WAYS; i++) {
		if (cs[i].h == h && now >= cs[i].ts &&
		    now - cs[i].ts <= RETRANS_S) {
			a->c_chal_retrans++;
			auth_nonce_make_at(a->key, cs[i].ts, cs[i].ctr, bb, bl,
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
	auth_nonce_make_at(a->key, old->ts, old->ctr, bb, bl, nonce);
}

void auth_challenge(struct auth *a, struct sipd_req *rq,
		    const uint8_t *algs, bool stale)
{
	const char *realm = sipd_settings(rq->sd)->realm;
	char nonce[AUTH_NONCE_HEXLEN + 1], hdrs[CHAL_HDRS];
	uint8_t bb[16];
	size_t bl, off = 0;
	bool reg = sipmsg_eq(&rq->m->met, "REGISTER");

	bind_bytes(rq->src, bb, &bl);
	challenge_nonce(a, rq, stale, bb, bl, nonce);
	for (int i = 0; i < 2 && algs[i]; i++) {
		int n = re_snprintf(hdrs + off, sizeof(hdrs) - off,
				    "%s: Digest realm=\"%s\", "
				    "nonce=\"%s\", algorithm=%s, "
				    "qop=\"auth\"%s\r\n",
				    reg ? "WWW-Authenticate" :
				    "Proxy-Authenticate", realm, nonce,
				    auth_alg_name(algs[i]),
				    stale ? ", stale=true" : "");

		if (n < 0 || (size_t)n >= sizeof(hdrs) - off)
			return;
		off += (size_t)n;
	}
	a->c_chal++;
	if (reg)
		sipd_reply(rq, 401, "Unauthorized", hdrs, off);
	else
		sipd_reply(rq, 407, "Proxy Authentication Required", hdrs,
			   off);
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

/* The digest-uri names the request's target: the Request-URI itself, or
 * (some clients, SIPp among them, sign the server rather than the user)
 * "sip:" with the Request-URI's host and port. Nonces are bound to the
 * source and counted, so the signed URI only has to name this server. */
static bool uri_ok(const struct auth_str *u, const struct sipmsg_str *ruri)
{
	const char *at;
	size_t hp;

	if (str_eq(u, ruri->p, ruri->l))
		return true;
	if (ruri->l < 5 || strncasecmp(ruri->p, "sip:", 4))
		return false;
	at = memchr(ruri->p, '@', ruri->l);
	if (!at)
		return false;
	hp = ruri->l - (size_t)(at + 1 - ruri->p);
	for (size_t i = 0; i < hp; i++)
		if (at[1 + i] == ';') {
			hp = i;
			break;
		}
	return u->l == 4 + hp && !strncasecmp(u->p, "sip:", 4) &&
		!memcmp(u->p + 4, at + 1, hp);
}

void auth_verify(struct auth *a, const struct sipd_req *rq,
		 const char *method, const struct snap_ext *x,
		 const uint8_t *algs, struct auth_check *out)
{
	const struct sipmsg *m = rq->m;
	const struct sipd_settings *set = sipd_settings(rq->sd);
	int64_t now = sipd_now(rq->sd);
	struct auth_cred c;
	bool have = false, malformed = false, known = x != NULL;
	/* Always two digest computations whoever the user is, so the time
	 * taken does not tell known users from unknown ones. */
	bool user_ok, alg_ok, ok, prev_ok;
	char exp1[65], exp2[65];
	const char *ha1, *pha1;
	uint8_t bb[16];
	size_t bl;
	int nr;

	/* a registrar is the request's UAS (Authorization, RFC 3261 22.2);
	 * every other request meets us as a proxy would (Proxy-
	 * Authorization, 22.3): a credential sent in the other header is
	 * not read, as if absent */
	enum sipmsg_hid hid = !strcmp(method, "REGISTER") ? SH_AUTH :
		SH_PAUTH;

	memset(out, 0, sizeof(*out));
	out->user.p = m->to.user.p;
	out->user.l = m->to.user.l;
	for (size_t i = 0; i < m->n_hdr && !have; i++) {
		int err;

		if (m->hdr[i].id != hid)
			continue;
		err = auth_digest_parse(&c, m->hdr[i].val.p, m->hdr[i].val.l);
		if (err == ENOTSUP)
			continue;
		if (err) {
			malformed = true;
			continue;
		}
		if (!str_eq(&c.realm, set->realm, strlen(set->realm)))
			continue;
		have = true;
	}
	if (!have) {
		out->outcome = malformed ? AUTH_VERDICT : AUTH_CHALLENGE;
		out->res = GUARD_AUTH_MALFORMED;
		return;
	}
	out->user = c.username;
	bind_bytes(rq->src, bb, &bl);
	nr = auth_nonce_check(a->key, c.nonce.p, c.nonce.l, bb, bl,
			      (uint64_t)now, (uint64_t)set->nonce_ttl,
			      &out->nid);
	if (nr == EBADMSG) {
		/* not one of ours (or from another address): start over */
		out->outcome = AUTH_CHALLENGE;
		return;
	}
	out->outcome = AUTH_VERDICT;
	out->have = true;
	out->stale = nr == ESTALE;
	out->nc = c.ncv;

	user_ok = known && str_eq(&c.username, x->number, strlen(x->number));
	alg_ok = alg_allowed(algs, c.alg);
	if (alg_ok && known) {
		ha1 = c.alg == AUTH_ALG_MD5 ? x->ha1_md5 : x->ha1_sha256;
		pha1 = x->has_prev && now < x->prev_until ?
			(c.alg == AUTH_ALG_MD5 ? x->prev_ha1_md5 :
			 x->prev_ha1_sha256) : NULL;
	}
	else {
		ha1 = c.alg == AUTH_ALG_MD5 ? a->dummy_md5 : a->dummy_sha256;
		pha1 = NULL;
	}
	if (strlen(ha1) != auth_hexlen(c.alg))
		ha1 = c.alg == AUTH_ALG_MD5 ? a->dummy_md5 : a->dummy_sha256;
	if (pha1 && strlen(pha1) != auth_hexlen(c.alg))
		pha1 = NULL;
	(void)auth_digest_response(c.alg, ha1, method, &c, exp1,
				   sizeof(exp1));
	(void)auth_digest_response(c.alg, pha1 ? pha1 :
				   (c.alg == AUTH_ALG_MD5 ? a->dummy_md5 :
				    a->dummy_sha256), method, &c, exp2,
				   sizeof(exp2));
	ok = auth_digest_equal(&c.response, exp1);
	prev_ok = auth_digest_equal(&c.response, exp2) && pha1;
	sodium_memzero(exp1, sizeof(exp1));
	sodium_memzero(exp2, sizeof(exp2));

	if (!c.qop.p || !uri_ok(&c.uri, &m->ruri))
		out->res = GUARD_AUTH_MALFORMED;
	else if (!known)
		out->res = GUARD_AUTH_UNKNOWN_USER;
	else if (!user_ok)
		out->res = GUARD_AUTH_MISMATCH;
	else if (!alg_ok)
		out->res = GUARD_AUTH_MALFORMED;
	else if (ok)
		out->res = GUARD_AUTH_OK;
	else if (prev_ok)
		out->res = GUARD_AUTH_STALE;
	else
		out->res = GUARD_AUTH_BAD_PASSWORD;
}

/* One log line per authentication verdict (issue 10: an admin reads in
 * the log who registered and who failed), through the stack's paced log:
 * the network sets the pace. The user name comes from the wire: bounded
 * and reduced to safe characters. Never anything of the credentials. */
static void log_verdict(const struct sipd_req *rq, const char *user,
			size_t ul, enum guard_auth res)
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
	re_snprintf(src, sizeof(src), "%J", rq->src);
	const char *w = (size_t)res < ARRAY_SIZE(why) && why[res] ?
		why[res] : "authentication failed";

	if (res == GUARD_AUTH_OK && !sipmsg_eq(&rq->m->met, "REGISTER"))
		w = "authenticated";
	sipd_log_paced(rq->sd, res == GUARD_AUTH_OK ? LOG_LVL_INFO :
		       LOG_LVL_WARN, "%s: '%s' from %s (%.*s)", w, u, src,
		       rq->m->met.l > 16 ? 16 : (int)rq->m->met.l,
		       rq->m->met.p);
}

enum guard_verdict auth_report(struct auth *a, const struct sipd_req *rq,
			       const struct auth_check *ck,
			       enum guard_auth res)
{
	const struct sipmsg_hdr *ua = sipmsg_hdr(rq->m, SH_UA);
	const char *user = ck->user.p;
	size_t ul = user ? ck->user.l : 0;
	/* have: the nonce passed auth_nonce_check (ours, bound to this
	 * source), fresh or stale */
	struct guard_proof pf = {
		.conn = rq->tp != SIPD_UDP,
		.nonce = ck->have,
		.nonce_ts = ck->nid >> 32,
	};
	enum guard_verdict gv;

	(void)a;
	gv = guard_auth_result(sipd_guard(rq->sd), rq->src, user ? user : "",
			       ul, res, &pf, ua ? ua->val.p : NULL,
			       ua ? ua->val.l : 0);
	log_verdict(rq, user, ul, res);
	return gv;
}

void auth_stats(const struct auth *a, uint64_t *challenges,
		uint64_t *retransmitted)
{
	*challenges = a ? a->c_chal : 0;
	*retransmitted = a ? a->c_chal_retrans : 0;
}
