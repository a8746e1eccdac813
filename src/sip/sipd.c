/*
 * sipd — the SIP side of bulwarkd: our own UDP and TCP transports on
 * libre sockets (so we size buffers and backlogs), a strict parser
 * (sipmsg), dispatch by method, and the stateless registrar.
 *
 * Request flow (DESIGN.md): guard_packet → parse → guard_request →
 * dispatch {method, handler} → REGISTER: digest, guard_auth_result,
 * bindings → stateless reply (or tarpit timer, or nothing).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <sodium.h>

#include "common/log.h"
#include "guard/guard.h"
#include "registrar/registrar.h"   /* brings the libre headers */
#include <re_udp.h>
#include <re_tcp.h>
#include "sip/sipd.h"
#include "sip/sipd_int.h"
#include "sip/sipmsg.h"
#include "store/snapshot.h"
#ifdef SIPD_HAVE_MODEL
#include "model/model.h"
#endif

#define MOD "sip"
/* Must equal the model's default for auth.algorithms when the model is
 * not linked (unit tests, fuzzing). */
#ifndef SIPD_DEFAULT_ALGS
#define SIPD_DEFAULT_ALGS "md5"
#endif
#define MAX_CONTACTS_REQ 16
#define MAX_TARPIT 256
#define MAX_CONNS 4096
#define TCP_IDLE_MS (10 * 60 * 1000)
#define TCP_BUF_MAX (SIPMSG_MAX_LEN + 4096)
#define QUALIFY_TRIES 4
#define QUALIFY_RETRY_MS 1000
#define OBUF 16384
#define RETRANS_S 32      /* 64*T1: lifetime of a server transaction */
#define CHAL_SLOTS 131072 /* recent challenges remembered (power of 2) */
#define CHAL_WAYS 4       /* ... in sets of this many */
#define XBUF 8192

/* ---- settings ("sip" section) --------------------------------------- */

struct sip_key {
	const char *name;
	long def, min, max;   /* ints; realm is the one string */
};

static const struct sip_key sip_keys[] = {
	{"udp_port", 5060, 1, 65535},
	{"tcp_port", 5060, 1, 65535},
	{"tls_port", 5061, 1, 65535},
	{"rtp_start", 10000, 1024, 65535},
	{"rtp_end", 20000, 1024, 65535},
	{"min_expires", 60, 1, 86400},
	{"max_expires", 3600, 1, 604800},
	{"default_expires", 3600, 1, 604800},
	{"qualify_interval", 60, 5, 3600},
	{"keepalive_interval", 30, 5, 3600},
	{"nonce_ttl", 300, 10, 3600},
	{"max_bindings", 200000, 1, 10000000},
	{"udp_rcvbuf", 8388608, 65536, 268435456},
};

#define DEFAULT_REALM "bulwark"

static json_t *sip_defaults(void)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "realm", json_string(DEFAULT_REALM));
	for (size_t i = 0; i < sizeof(sip_keys) / sizeof(sip_keys[0]); i++)
		json_object_set_new(o, sip_keys[i].name,
				    json_integer(sip_keys[i].def));
	return o;
}

static bool realm_ok(const char *v)
{
	size_t n = strlen(v);

	if (!n || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      c == '_'))
			return false;
	}
	return true;
}

static int sip_set(json_t *obj, const char *key, const char *value,
		   struct report *r)
{
	char field[64];

	re_snprintf(field, sizeof(field), "sip.%s", key ? key : "");
	if (!obj || !key || !value)
		return EINVAL;
	if (!strcmp(key, "realm")) {
		if (!realm_ok(value)) {
			report_add(r, "sip", field, "sip.realm_format",
				   "realm must be 1-63 characters of letters, "
				   "digits, '.', '-' or '_'");
			return EINVAL;
		}
		json_object_set_new(obj, key, json_string(value));
		return 0;
	}
	for (size_t i = 0; i < sizeof(sip_keys) / sizeof(sip_keys[0]); i++) {
		char *end = NULL;
		long v;

		if (strcmp(sip_keys[i].name, key))
			continue;
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno || !*value || *end || v < sip_keys[i].min ||
		    v > sip_keys[i].max) {
			report_add(r, "sip", field, "sip.range",
				   "must be an integer from %ld to %ld",
				   sip_keys[i].min, sip_keys[i].max);
			return EINVAL;
		}
		json_object_set_new(obj, key, json_integer(v));
		return 0;
	}
	report_add(r, "sip", field, "sip.unknown_key",
		   "no such setting in section sip");
	return ENOENT;
}

static long jint(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		return (long)json_integer_value(v);
	for (size_t i = 0; i < sizeof(sip_keys) / sizeof(sip_keys[0]); i++)
		if (!strcmp(sip_keys[i].name, key))
			return sip_keys[i].def;
	return 0;
}

static int sip_validate(const json_t *obj, struct report *r)
{
	int err = 0;

	if (jint(obj, "rtp_start") >= jint(obj, "rtp_end")) {
		report_add(r, "sip", "sip.rtp_start", "sip.range",
			   "rtp_start must be below rtp_end");
		err = EINVAL;
	}
	if (jint(obj, "min_expires") > jint(obj, "max_expires")) {
		report_add(r, "sip", "sip.min_expires", "sip.range",
			   "min_expires must not exceed max_expires");
		err = EINVAL;
	}
	if (jint(obj, "default_expires") < jint(obj, "min_expires") ||
	    jint(obj, "default_expires") > jint(obj, "max_expires")) {
		report_add(r, "sip", "sip.default_expires",
			   "sip.range", "default_expires must lie between "
			   "min_expires and max_expires");
		err = EINVAL;
	}
	if (jint(obj, "udp_port") == jint(obj, "tls_port") ||
	    jint(obj, "tcp_port") == jint(obj, "tls_port")) {
		report_add(r, "sip", "sip.tls_port", "sip.port_conflict",
			   "tls_port must differ from udp_port and tcp_port");
		err = EINVAL;
	}
	return err;
}

const struct store_section sipd_section = {
	.name = "sip", .defaults = sip_defaults, .set = sip_set,
	.validate = sip_validate,
};

/* ---- state ---------------------------------------------------------- */

struct sipd_conn {
	struct le le;          /* in sd->conns (hash by id) */
	struct sipd *sd;
	struct tcp_conn *tc;
	struct mbuf *buf;
	struct sa peer;
	uint64_t id;
	struct tmr idle;
};

struct tarpit {
	struct le le;
	struct sipd *sd;
	struct tmr tmr;
	enum sipd_tp tp;
	struct sa dst;
	uint64_t conn;
	size_t len;
	char buf[];
};

/* One recent challenge: hash of the request, issue time and counter of
 * its nonce (see challenge_nonce). */
struct chal_slot {
	uint64_t h;
	uint32_t ts;
	uint32_t ctr;
};

struct sipd {
	struct snapshot *snap;
	struct guard *guard;
	char *db_path;
	char *listen;
	/* settings from the snapshot */
	char realm[64];
	int64_t min_exp, max_exp, def_exp, nonce_ttl;
	int64_t qualify_iv, keepalive_iv;
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
	char totag_salt[17];
	uint8_t chal_key[crypto_shorthash_KEYBYTES];
	struct chal_slot *chal;    /* CHAL_SLOTS, calloc'd */
	/* network */
	struct udp_sock *us4, *us6;
	struct tcp_sock *ts4, *ts6;
	struct sa laddr;           /* what we bound (any or specific) */
	bool udp_on, tcp_on;
	int rcvbuf;                /* measured SO_RCVBUF */
	struct hash *conns;
	size_t n_conns;
	uint64_t next_conn;
	struct list tarpits;
	size_t n_tarpit;
	struct mbuf *mb;
	sipd_out_h *outh;
	void *outarg;
	/* registrar */
	struct reg_loc *loc;
	struct reg_persist *persist;
	struct tmr sweep;
	int64_t fixed_now;
	/* counters */
	uint64_t c_rx, c_tx, c_bad, c_drop, c_reg_ok, c_reg_fail, c_chal,
		c_tarpit, c_tarpit_drop, c_qualify, c_retrans, c_chal_retrans;
	struct sipmsg msg;
	char obuf[OBUF];
	char xbuf[XBUF];
};

static int64_t now_s(const struct sipd *sd)
{
	return sd->fixed_now ? sd->fixed_now : (int64_t)time(NULL);
}

void sipd_set_clock(struct sipd *sd, int64_t now)
{
	if (sd)
		sd->fixed_now = now;
}

/* v4-mapped IPv6 from a dual-stack socket → plain IPv4 */
static void sa_unmap(struct sa *s)
{
	if (sa_af(s) == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&s->u.in6.sin6_addr)) {
		uint32_t a;

		memcpy(&a, &s->u.in6.sin6_addr.s6_addr[12], 4);
		sa_set_in(s, ntohl(a), sa_port(s));
	}
}

static void sa_map(struct sa *s)
{
	if (sa_af(s) == AF_INET) {
		uint8_t a[16] = {0};
		uint32_t v = htonl(sa_in(s));

		a[10] = a[11] = 0xff;
		memcpy(&a[12], &v, 4);
		sa_set_in6(s, a, sa_port(s));
	}
}

/* ---- snapshot ------------------------------------------------------- */

static const struct snap_ext *find_ext(const struct snapshot *s,
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
			out[n++] = REG_ALG_SHA256;
		else if (l == 3 && !strncasecmp(p, "md5", 3))
			out[n++] = REG_ALG_MD5;
		p = c ? c + 1 : NULL;
	}
	if (!n)
		out[0] = REG_ALG_MD5;
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
static void mix_load(struct sipd *sd)
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

static void settings_load(struct sipd *sd)
{
	const json_t *o = NULL;
	const char *realm = NULL;

	if (sd->snap && sd->snap->sections)
		o = json_object_get(sd->snap->sections, "sip");
	if (sd->snap && sd->snap->realm[0])
		realm = sd->snap->realm;
	else if (o && json_is_string(json_object_get(o, "realm")))
		realm = json_string_value(json_object_get(o, "realm"));
	if (!realm || !realm_ok(realm))
		realm = DEFAULT_REALM;
	re_snprintf(sd->realm, sizeof(sd->realm), "%s", realm);
	sd->min_exp = jint(o, "min_expires");
	sd->max_exp = jint(o, "max_expires");
	sd->def_exp = jint(o, "default_expires");
	if (sd->min_exp > sd->max_exp)
		sd->max_exp = sd->min_exp;
	if (sd->def_exp < sd->min_exp || sd->def_exp > sd->max_exp)
		sd->def_exp = sd->max_exp;
	sd->nonce_ttl = jint(o, "nonce_ttl");
	sd->qualify_iv = jint(o, "qualify_interval");
	sd->keepalive_iv = jint(o, "keepalive_interval");
	if (sd->loc) {
		sd->loc->max_bind = (size_t)jint(o, "max_bindings");
		/* nonce-count tables are forgotten once every nonce they hold
		 * has expired; never sooner than the longest nonce lifetime
		 * this process has used */
		if (sd->loc->nc_keep < sd->nonce_ttl + 60)
			sd->loc->nc_keep = sd->nonce_ttl + 60;
	}
	mix_load(sd);
}

/* ---- output --------------------------------------------------------- */

static struct sipd_conn *conn_find(struct sipd *sd, uint64_t id);

static int send_raw(struct sipd *sd, enum sipd_tp tp, const struct sa *dst,
		    uint64_t conn, const char *buf, size_t len)
{
	int err;

	sd->c_tx++;
	if (sd->outh) {
		sd->outh(tp, dst, buf, len, sd->outarg);
		return 0;
	}
	mbuf_rewind(sd->mb);
	err = mbuf_write_mem(sd->mb, (const uint8_t *)buf, len);
	if (err)
		return err;
	sd->mb->pos = 0;
	if (tp == SIPD_UDP) {
		struct sa d = *dst;
		struct udp_sock *us = NULL;

		if (sa_af(&d) == AF_INET && sd->us4)
			us = sd->us4;
		else if (sd->us6) {
			us = sd->us6;
			sa_map(&d);
		}
		else if (sa_af(&d) == AF_INET6)
			us = NULL;
		if (!us)
			return EAFNOSUPPORT;
		return udp_send(us, &d, sd->mb);
	}
	{
		struct sipd_conn *c = conn_find(sd, conn);

		if (!c)
			return ENOTCONN;
		return tcp_send(c->tc, sd->mb);
	}
}

static void tarpit_destructor(void *arg)
{
	struct tarpit *t = arg;

	tmr_cancel(&t->tmr);
	list_unlink(&t->le);
	if (t->sd && t->sd->n_tarpit)
		t->sd->n_tarpit--;
}

static void tarpit_fire(void *arg)
{
	struct tarpit *t = arg;

	(void)send_raw(t->sd, t->tp, &t->dst, t->conn, t->buf, t->len);
	mem_deref(t);
}

/* A request being handled. */
struct req {
	struct sipd *sd;
	struct sipmsg *m;
	enum sipd_tp tp;
	struct sa src;
	uint64_t conn;
	bool tarpit;      /* guard asked for a delayed answer */
	bool retrans;     /* REGISTER: retransmission of an accepted one */
	bool retrans_mismatch;   /* ... but the bindings do not reflect it */
};

static void reply(struct req *rq, unsigned code, const char *reason,
		  const char *extra, size_t xlen)
{
	struct sipd *sd = rq->sd;
	size_t n = sipmsg_reply(rq->m, &rq->src, code, reason, extra, xlen,
				sd->totag_salt, sd->obuf, sizeof(sd->obuf));
	unsigned tarpit_ms;

	if (!n)
		return;
	/* the guard decides to tarpit, so its setting says how long */
	tarpit_ms = sd->guard ? guard_tarpit_ms(sd->guard) : 0;
	if (rq->tarpit && tarpit_ms > 0) {
		struct tarpit *t;

		if (sd->n_tarpit >= MAX_TARPIT) {
			sd->c_tarpit_drop++;
			return;
		}
		t = mem_zalloc(sizeof(*t) + n, tarpit_destructor);
		if (!t)
			return;
		t->sd = sd;
		t->tp = rq->tp;
		t->dst = rq->src;
		t->conn = rq->conn;
		t->len = n;
		memcpy(t->buf, sd->obuf, n);
		list_append(&sd->tarpits, &t->le, t);
		sd->n_tarpit++;
		sd->c_tarpit++;
		tmr_start(&t->tmr, (uint64_t)tarpit_ms, tarpit_fire, t);
		return;
	}
	(void)send_raw(sd, rq->tp, &rq->src, rq->conn, sd->obuf, n);
}

/* ---- REGISTER ------------------------------------------------------- */

static const char allow_hdr[] = "Allow: REGISTER, OPTIONS\r\n";

static size_t xput(struct sipd *sd, size_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (off >= sizeof(sd->xbuf))
		return off;
	va_start(ap, fmt);
	n = re_vsnprintf(sd->xbuf + off, sizeof(sd->xbuf) - off, fmt, ap);
	va_end(ap);
	if (n < 0)
		return sizeof(sd->xbuf);
	return off + (size_t)n;
}

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
	uint64_t now = (uint64_t)now_s(sd), h;
	uint8_t in[512];
	size_t n = 0;
	struct chal_slot *cs, *old;

#define IN_PUT(p, l) do { size_t l_ = (l) > sizeof(in) - n ? \
		sizeof(in) - n : (l); memcpy(in + n, (p), l_); n += l_; } \
	while (0)
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
		nonce_make(sd->key, now, bb, bl, nonce);
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
			nonce_make_at(sd->key, cs[i].ts, cs[i].ctr, bb, bl,
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
	old->ctr = nonce_counter_next();
	nonce_make_at(sd->key, old->ts, old->ctr, bb, bl, nonce);
}

static void challenge(struct req *rq, const uint8_t *algs, bool stale)
{
	struct sipd *sd = rq->sd;
	char nonce[NONCE_HEXLEN + 1];
	uint8_t bb[16];
	size_t bl, off = 0;

	bind_bytes(&rq->src, bb, &bl);
	challenge_nonce(rq, stale, bb, bl, nonce);
	for (int i = 0; i < 2 && algs[i]; i++)
		off = xput(sd, off, "WWW-Authenticate: Digest realm=\"%s\", "
			   "nonce=\"%s\", algorithm=%s, qop=\"auth\"%s\r\n",
			   sd->realm, nonce, digest_alg_name(algs[i]),
			   stale ? ", stale=true" : "");
	if (off >= sizeof(sd->xbuf))
		return;
	sd->c_chal++;
	reply(rq, 401, "Unauthorized", sd->xbuf, off);
}

static bool alg_allowed(const uint8_t *algs, unsigned alg)
{
	for (int i = 0; i < 2 && algs[i]; i++)
		if (algs[i] == alg)
			return true;
	return false;
}

static bool str_eq(const struct reg_str *a, const char *p, size_t l)
{
	return a->l == l && !memcmp(a->p, p, l);
}

/* The one failure answer, whoever the user was. */
static void fail(struct req *rq)
{
	rq->sd->c_reg_fail++;
	reply(rq, 403, "Forbidden", NULL, 0);
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

static void reg_changed(enum reg_op op, const struct reg_binding *b,
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
		off = xput(sd, off, "Contact: <%s>;expires=%lld\r\n",
			   reg_binding_uri(b),
			   (long long)(b->expires > now ? b->expires - now : 0));
	}
	if (off >= sizeof(sd->xbuf))
		off = 0;
	reply(rq, 200, "OK", sd->xbuf, off);
}

static void register_ok(struct req *rq, const struct snap_ext *x)
{
	struct sipd *sd = rq->sd;
	struct sipmsg *m = rq->m;
	struct reg_contact cs[MAX_CONTACTS_REQ];
	struct reg_req r;
	int64_t now = now_s(sd);
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
				reply(rq, 400, "Bad Contact", NULL, 0);
				return;
			}
			if (a.star) {
				if (m->expires != 0) {
					reply(rq, 400, "Bad Contact", NULL, 0);
					return;
				}
				r.star = true;
				continue;
			}
			if (r.n >= MAX_CONTACTS_REQ) {
				reply(rq, 403, "Too Many Contacts", NULL, 0);
				return;
			}
			if (a.expires.p) {
				uint64_t v = 0;

				if (!a.expires.l || a.expires.l > 10) {
					reply(rq, 400, "Bad Expires", NULL, 0);
					return;
				}
				for (size_t k = 0; k < a.expires.l; k++) {
					char c = a.expires.p[k];

					if (c < '0' || c > '9') {
						reply(rq, 400, "Bad Expires",
						      NULL, 0);
						return;
					}
					v = v * 10 + (uint64_t)(c - '0');
				}
				exp = v > 0xffffffffu ? 0xffffffff : (int64_t)v;
			}
			if (exp > 0 && exp < sd->min_exp) {
				off = xput(sd, 0, "Min-Expires: %lld\r\n",
					   (long long)sd->min_exp);
				reply(rq, 423, "Interval Too Brief", sd->xbuf,
				      off);
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
		reply(rq, 400, "Bad Contact", NULL, 0);
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
			reply(rq, 403, "Too Many Contacts", NULL, 0);
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
		err = reg_apply(sd->loc, &r, now, reg_changed, sd);
		switch (err) {
		case 0:
			break;
		case EPROTO:
			reply(rq, 500, "Out Of Order", NULL, 0);
			return;
		case E2BIG:
			reply(rq, 403, "Too Many Contacts", NULL, 0);
			return;
		case EOVERFLOW:
			reply(rq, 400, "Contact URI Too Long", NULL, 0);
			return;
		case ENOSPC:
			reply(rq, 503, "Service Unavailable", NULL, 0);
			return;
		default:
			reply(rq, 500, "Server Internal Error", NULL, 0);
			return;
		}
	}
	sd->c_reg_ok++;
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

static void h_register(struct req *rq)
{
	struct sipd *sd = rq->sd;
	struct sipmsg *m = rq->m;
	const struct snap_ext *x = NULL;
	const uint8_t *algs = sd->default_algs;
	struct digest_cred c;
	bool have = false, malformed = false, known;
	enum guard_auth res;
	enum guard_verdict gv;
	uint8_t bb[16];
	size_t bl;
	uint64_t nid = 0;
	int64_t now = now_s(sd);
	int nr;

	x = find_ext(sd->snap, m->to.user.p, m->to.user.l);
	known = x && x->auth && x->algs_pref[0];
	if (known)
		algs = x->algs_pref;
	else
		algs = unknown_algs(sd, m->to.user.p, m->to.user.l);

	for (size_t i = 0; i < m->n_hdr && !have; i++) {
		int err;

		if (m->hdr[i].id != SH_AUTH)
			continue;
		err = digest_parse(&c, m->hdr[i].val.p, m->hdr[i].val.l);
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
	nr = nonce_check(sd->key, c.nonce.p, c.nonce.l, bb, bl,
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
			ha1 = alg == REG_ALG_MD5 ? x->ha1_md5 : x->ha1_sha256;
			pha1 = x->has_prev && now < x->prev_until ?
				(alg == REG_ALG_MD5 ? x->prev_ha1_md5 :
				 x->prev_ha1_sha256) : NULL;
		}
		else {
			ha1 = alg == REG_ALG_MD5 ? sd->dummy_md5 :
				sd->dummy_sha256;
			pha1 = NULL;
		}
		if (strlen(ha1) != digest_hexlen(alg))
			ha1 = alg == REG_ALG_MD5 ? sd->dummy_md5 :
				sd->dummy_sha256;
		if (pha1 && strlen(pha1) != digest_hexlen(alg))
			pha1 = NULL;
		(void)digest_response(alg, ha1, "REGISTER", &c, exp1,
				      sizeof(exp1));
		(void)digest_response(alg, pha1 ? pha1 : (alg == REG_ALG_MD5 ?
				      sd->dummy_md5 : sd->dummy_sha256),
				      "REGISTER", &c, exp2, sizeof(exp2));
		ok = digest_equal(&c.response, exp1);
		prev_ok = digest_equal(&c.response, exp2) && pha1;
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
				res = GUARD_AUTH_MISMATCH;
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

		gv = guard_auth_result(sd->guard, &rq->src, user ? user : "",
				       user ? ul : 0, res,
				       ua ? ua->val.p : NULL,
				       ua ? ua->val.l : 0);
	}
	if (gv == GUARD_DROP) {
		sd->c_drop++;
		return;
	}
	if (gv == GUARD_TARPIT)
		rq->tarpit = true;
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

	reply(rq, 200, "OK", hdrs, sizeof(hdrs) - 1);
}

static void h_ack(struct req *rq)
{
	(void)rq;   /* never answered */
}

static void h_not_allowed(struct req *rq)
{
	reply(rq, 405, "Method Not Allowed", allow_hdr, sizeof(allow_hdr) - 1);
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

/* ---- responses (qualify) -------------------------------------------- */

#define QBRANCH "z9hG4bKbwq"

static void handle_response(struct sipd *sd, struct sipmsg *m)
{
	const struct sipmsg_str *b = &m->via_branch;
	size_t pl = sizeof(QBRANCH) - 1;
	uint64_t id = 0;
	struct reg_binding *rb;

	if (sipmsg_check_response(m) || b->l != pl + 16 ||
	    strncmp(b->p, QBRANCH, pl) || !sipmsg_eq(&m->cseq_met, "OPTIONS"))
		return;
	for (size_t i = 0; i < 16; i++) {
		char c = b->p[pl + i];
		int v = (c >= '0' && c <= '9') ? c - '0' :
			(c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;

		if (v < 0)
			return;
		id = id << 4 | (uint64_t)v;
	}
	rb = reg_binding_by_id(sd->loc, id >> 16);
	if (!rb || !rb->q_pending || (uint16_t)id != (uint16_t)rb->q_seq)
		return;
	if (m->scode < 200)
		return;
	rb->q_pending = false;
	rb->q_known = true;
	rb->reachable = true;
	rb->rtt_ms = (uint32_t)tmr_jiffies() - rb->q_sent_ms;
}

/* ---- input ---------------------------------------------------------- */

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
		handle_response(sd, m);
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
			reply(&rq, 505, "Version Not Supported", NULL, 0);
			break;
		case 416:
			reply(&rq, 416, "Unsupported URI Scheme", NULL, 0);
			break;
		case 420: {
			size_t off = xput(sd, 0, "Unsupported: %b\r\n",
					  m->unsupported.p,
					  m->unsupported.l > 512 ? (size_t)512 :
					  m->unsupported.l);

			if (off < sizeof(sd->xbuf))
				reply(&rq, 420, "Bad Extension", sd->xbuf,
				      off);
			break;
		}
		case 415: {
			static const char acc[] = "Accept: application/sdp\r\n";

			reply(&rq, 415, "Unsupported Media Type", acc,
			      sizeof(acc) - 1);
			break;
		}
		default:
			/* Any 400 has one reason phrase: the parser's finer
			 * reason would help fingerprinting, not clients */
			(void)why;
			reply(&rq, 400, "Bad Request", NULL, 0);
			break;
		}
		return;
	}
	{
		const struct sipmsg_hdr *ua = sipmsg_hdr(m, SH_UA);

		gv = guard_request(sd->guard, src, ua ? ua->val.p : NULL,
				   ua ? ua->val.l : 0);
		if (gv == GUARD_DROP) {
			sd->c_drop++;
			return;
		}
		if (gv == GUARD_TARPIT)
			rq.tarpit = true;
	}
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (m->met.l == strlen(methods[i].method) &&
		    !memcmp(m->met.p, methods[i].method, m->met.l)) {
			methods[i].h(&rq);
			return;
		}
	}
	reply(&rq, 501, "Not Implemented", allow_hdr, sizeof(allow_hdr) - 1);
}

/* ---- UDP ------------------------------------------------------------ */

static void udp_recv(const struct sa *src, struct mbuf *mb, void *arg)
{
	struct sipd *sd = arg;
	struct sa s = *src;

	sa_unmap(&s);
	sipd_input(sd, SIPD_UDP, &s, 0, (const char *)mbuf_buf(mb),
		   mbuf_get_left(mb));
}

static int measure_rcvbuf(struct udp_sock *us, int af)
{
	int fd = udp_sock_fd(us, af), v = 0;
	socklen_t l = sizeof(v);

	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &l))
		return 0;
	return v;
}

static int udp_open(struct sipd *sd, struct udp_sock **usp,
		    const struct sa *laddr, int want)
{
	struct udp_sock *us = NULL;
	int err, fd;

	err = udp_listen(&us, laddr, udp_recv, sd);
	if (err)
		return err;
	udp_rxsz_set(us, SIPMSG_MAX_LEN + 1);
	/* Bursts: size the receive buffer beyond rmem_max when we may
	 * (SO_RCVBUFFORCE needs CAP_NET_ADMIN), else up to rmem_max. */
	fd = udp_sock_fd(us, sa_af(laddr));
	if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want,
				  sizeof(want)))
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want,
				 sizeof(want));
	sd->rcvbuf = measure_rcvbuf(us, sa_af(laddr));
	*usp = us;
	return 0;
}

/* ---- TCP ------------------------------------------------------------ */

static void conn_destructor(void *arg)
{
	struct sipd_conn *c = arg;

	tmr_cancel(&c->idle);
	hash_unlink(&c->le);
	mem_deref(c->tc);
	mem_deref(c->buf);
	if (c->sd && c->sd->n_conns)
		c->sd->n_conns--;
}

static bool conn_cmp(struct le *le, void *arg)
{
	const struct sipd_conn *c = le->data;

	return c->id == *(uint64_t *)arg;
}

static struct sipd_conn *conn_find(struct sipd *sd, uint64_t id)
{
	if (!id || !sd->conns)
		return NULL;
	return list_ledata(hash_lookup(sd->conns, (uint32_t)id, conn_cmp, &id));
}

static void conn_idle(void *arg)
{
	mem_deref(arg);
}

static void conn_close(int err, void *arg)
{
	(void)err;
	mem_deref(arg);
}

static void conn_recv(struct mbuf *mb, void *arg)
{
	struct sipd_conn *c = arg;
	struct sipd *sd = c->sd;
	size_t pos = 0;

	tmr_start(&c->idle, TCP_IDLE_MS, conn_idle, c);
	if (mbuf_get_left(mb) + c->buf->end > TCP_BUF_MAX ||
	    mbuf_write_mem(c->buf, mbuf_buf(mb), mbuf_get_left(mb))) {
		mem_deref(c);
		return;
	}
	mem_ref(c);
	for (;;) {
		const char *p = (const char *)c->buf->buf + pos;
		size_t left = c->buf->end - pos, n = 0, ws = 0;
		int err;

		/* RFC 5626 keepalive: CRLFCRLF ping → CRLF pong */
		while (ws < left && (p[ws] == '\r' || p[ws] == '\n'))
			ws++;
		if (ws) {
			if (ws >= 4 && !memcmp(p, "\r\n\r\n", 4))
				(void)send_raw(sd, SIPD_TCP, &c->peer, c->id,
					       "\r\n", 2);
			pos += ws;
			continue;
		}
		if (!left)
			break;
		err = sipmsg_frame(p, left, &n);
		if (err == EAGAIN)
			break;
		if (err) {
			/* unframeable stream: answer the head (400), close */
			if (n)
				sipd_input(sd, SIPD_TCP, &c->peer, c->id, p, n);
			sd->c_bad++;
			mem_deref(c);
			break;
		}
		sipd_input(sd, SIPD_TCP, &c->peer, c->id, p, n);
		pos += n;
		if (!c->tc)
			break;
	}
	if (c->buf && pos) {
		size_t left = c->buf->end - pos;

		memmove(c->buf->buf, c->buf->buf + pos, left);
		c->buf->end = left;
		c->buf->pos = left;
	}
	mem_deref(c);
}

static void on_tcp_conn(const struct sa *peer, void *arg)
{
	struct tcp_sock *ts = NULL;
	struct sipd *sd = arg;
	struct sipd_conn *c;
	struct sa p = *peer;

	(void)ts;
	sa_unmap(&p);
	if (sd->n_conns >= MAX_CONNS || guard_packet(sd->guard, &p) ==
	    GUARD_DROP) {
		tcp_reject(sa_af(peer) == AF_INET && sd->ts4 ? sd->ts4 :
			   (sd->ts6 ? sd->ts6 : sd->ts4));
		return;
	}
	c = mem_zalloc(sizeof(*c), conn_destructor);
	if (!c)
		goto reject;
	c->sd = sd;
	c->peer = p;
	c->id = ++sd->next_conn;
	c->buf = mbuf_alloc(4096);
	if (!c->buf ||
	    tcp_accept(&c->tc, sa_af(peer) == AF_INET && sd->ts4 ? sd->ts4 :
		       (sd->ts6 ? sd->ts6 : sd->ts4), NULL, conn_recv,
		       conn_close, c)) {
		mem_deref(c);
		goto reject;
	}
	hash_append(sd->conns, (uint32_t)c->id, &c->le, c);
	sd->n_conns++;
	tmr_start(&c->idle, TCP_IDLE_MS, conn_idle, c);
	return;
 reject:
	tcp_reject(sa_af(peer) == AF_INET && sd->ts4 ? sd->ts4 :
		   (sd->ts6 ? sd->ts6 : sd->ts4));
}

static int tcp_open(struct sipd *sd, struct tcp_sock **tsp,
		    const struct sa *laddr)
{
	struct tcp_sock *ts = NULL;
	int err;

	err = tcp_sock_alloc(&ts, laddr, on_tcp_conn, sd);
	if (!err)
		err = tcp_sock_bind(ts, laddr);
	/* tcp_listen() hard-codes a backlog of 5: listen ourselves */
	if (!err)
		err = tcp_sock_listen(ts, 1024);
	if (err) {
		mem_deref(ts);
		return err;
	}
	*tsp = ts;
	return 0;
}

/* ---- qualify, keepalive, expiry ------------------------------------- */

static void qualify_send(struct sipd *sd, struct reg_binding *b)
{
	char host[80];
	uint64_t id = b->id << 16 | (b->q_seq & 0xffff);
	int n;

	if (sa_isset(&sd->laddr, SA_ADDR) && !sa_is_any(&sd->laddr))
		re_snprintf(host, sizeof(host), "%J", &sd->laddr);
	else
		re_snprintf(host, sizeof(host), "%s", sd->realm);
	n = re_snprintf(sd->obuf, sizeof(sd->obuf),
			"OPTIONS %s SIP/2.0\r\n"
			"Via: SIP/2.0/%s %s;branch=" QBRANCH "%016llx;rport\r\n"
			"Max-Forwards: 70\r\n"
			"From: <sip:bulwark@%s>;tag=%08x\r\n"
			"To: <%s>\r\n"
			"Call-ID: bwq%016llx@%s\r\n"
			"CSeq: 1 OPTIONS\r\n"
			"Content-Length: 0\r\n\r\n",
			reg_binding_uri(b), b->tp == REG_TP_TCP ? "TCP" : "UDP",
			host,
			(unsigned long long)id, sd->realm,
			(unsigned)(id * 2654435761u), reg_binding_uri(b),
			(unsigned long long)id, sd->realm);
	if (n <= 0)
		return;
	sd->c_qualify++;
	(void)send_raw(sd, b->tp == REG_TP_TCP ? SIPD_TCP : SIPD_UDP,
		       reg_binding_target(b), b->conn_id, sd->obuf, (size_t)n);
}

static void sweep(void *arg)
{
	struct sipd *sd = arg;
	int64_t now = now_s(sd);
	uint32_t jif = (uint32_t)tmr_jiffies();
	struct reg_binding *b;
	size_t pos = 0;

	tmr_start(&sd->sweep, 1000, sweep, sd);
	reg_expire(sd->loc, now, reg_changed, sd);
	while ((b = reg_binding_next(sd->loc, &pos))) {
		const struct snap_ext *x;

		if (b->q_pending) {
			if ((uint32_t)(jif - b->q_last_ms) < QUALIFY_RETRY_MS)
				continue;
			if (b->q_tries >= QUALIFY_TRIES) {
				b->q_pending = false;
				b->q_known = true;
				b->reachable = false;
				continue;
			}
			b->q_tries++;
			b->q_last_ms = jif;
			qualify_send(sd, b);
			continue;
		}
		if (b->q_next > now)
			continue;
		x = find_ext(sd->snap, b->ext->number, strlen(b->ext->number));
		if (x && x->qualify) {
			b->q_seq++;
			b->q_pending = true;
			b->q_tries = 1;
			b->q_sent_ms = b->q_last_ms = jif;
			b->q_next = (uint32_t)(now + sd->qualify_iv);
			qualify_send(sd, b);
		}
		else if (b->nat) {
			/* keep the NAT binding open */
			(void)send_raw(sd, b->tp == REG_TP_TCP ? SIPD_TCP :
				       SIPD_UDP, reg_binding_target(b), b->conn_id,
				       "\r\n\r\n", 4);
			b->q_next = (uint32_t)(now + sd->keepalive_iv);
		}
		else {
			b->q_next = (uint32_t)(now + sd->keepalive_iv);
		}
	}
}

/* ---- life cycle ----------------------------------------------------- */

static void listeners_close(struct sipd *sd, bool udp, bool tcp)
{
	if (udp) {
		sd->us4 = mem_deref(sd->us4);
		sd->us6 = mem_deref(sd->us6);
	}
	if (tcp) {
		sd->ts4 = mem_deref(sd->ts4);
		sd->ts6 = mem_deref(sd->ts6);
	}
}

static int listen_addr(struct sipd *sd, const char *key, struct sa *a,
		       bool *any)
{
	const json_t *o = sd->snap && sd->snap->sections ?
		json_object_get(sd->snap->sections, "sip") : NULL;

	*any = false;
	if (sd->listen)
		return sa_decode(a, sd->listen, strlen(sd->listen));
	*any = true;
	return sa_set_str(a, "::", (uint16_t)jint(o, key));
}

static int listeners_open(struct sipd *sd, bool udp, bool tcp)
{
	const int want = 8 * 1024 * 1024;
	const json_t *o = sd->snap && sd->snap->sections ?
		json_object_get(sd->snap->sections, "sip") : NULL;
	int rcv = (int)jint(o, "udp_rcvbuf");
	struct sa a;
	bool any;
	int err;

	if (rcv <= 0)
		rcv = want;
	if (udp) {
		err = listen_addr(sd, "udp_port", &a, &any);
		if (err)
			return err;
		if (!any)
			err = udp_open(sd, sa_af(&a) == AF_INET ? &sd->us4 :
				       &sd->us6, &a, rcv);
		else {
			/* dual stack on [::]; plain IPv4 if IPv6 is off */
			err = udp_open(sd, &sd->us6, &a, rcv);
			if (err) {
				sa_set_str(&a, "0.0.0.0", sa_port(&a));
				err = udp_open(sd, &sd->us4, &a, rcv);
			}
		}
		if (err)
			return err;
		sd->laddr = a;
	}
	if (tcp) {
		err = listen_addr(sd, "tcp_port", &a, &any);
		if (err)
			return err;
		if (!any)
			err = tcp_open(sd, sa_af(&a) == AF_INET ? &sd->ts4 :
				       &sd->ts6, &a);
		else {
			err = tcp_open(sd, &sd->ts6, &a);
			if (err) {
				sa_set_str(&a, "0.0.0.0", sa_port(&a));
				err = tcp_open(sd, &sd->ts4, &a);
			}
		}
		if (err)
			return err;
	}
	return 0;
}

static bool conn_free_h(struct le *le, void *arg)
{
	(void)arg;
	mem_deref(le->data);
	return false;
}

static void sipd_destructor(void *arg)
{
	struct sipd *sd = arg;

	tmr_cancel(&sd->sweep);
	listeners_close(sd, true, true);
	if (sd->conns) {
		hash_apply(sd->conns, conn_free_h, NULL);
		sd->conns = mem_deref(sd->conns);
	}
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
		sd->loc->nc_keep = 0;   /* settings_load sets it */
	if (!err)
		err = hash_alloc(&sd->conns, 1024);
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
	settings_load(sd);
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
	const struct snap_ext *x = find_ext(sd->snap, number, strlen(number));

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
					       now_s(sd), keep_ext, sd,
					       &restored);
		if (err)
			log_err(MOD, "bindings database %s: %s",
				conf->db_path, strerror(err));
	}
	if (!err)
		err = listeners_open(sd, true, true);
	if (err) {
		log_err(MOD, "cannot listen on %s: %s",
			conf->listen ? conf->listen : "the sip ports",
			strerror(err));
		sd->snap = NULL;   /* not taken on failure */
		mem_deref(sd);
		return err;
	}
	sd->udp_on = sd->tcp_on = true;
	tmr_start(&sd->sweep, 1000, sweep, sd);
	{
		char a[64];

		re_snprintf(a, sizeof(a), "%J", &sd->laddr);
		log_info(MOD, "listening on %s (udp, tcp), realm %s, udp "
			 "receive buffer %d bytes, %zu bindings restored", a,
			 sd->realm, sd->rcvbuf, restored);
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
		const struct snap_ext *x = find_ext(sd->snap, e->number,
						    strlen(e->number));

		if (!x || !x->auth)
			reg_ext_clear(sd->loc, e, reg_changed, sd);
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
	settings_load(sd);
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
	now = now_s(sd);

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
	return o;
}

int sipd_transport_set(struct sipd *sd, const char *transport, bool on)
{
	bool udp, tcp;
	int err = 0;

	if (!transport)
		return EINVAL;
	if (!strcmp(transport, "tls"))
		return ENOTSUP;
	udp = !strcmp(transport, "udp");
	tcp = !strcmp(transport, "tcp");
	if (!udp && !tcp)
		return EINVAL;
	if (!sd)
		return EINVAL;
	if (!on) {
		listeners_close(sd, udp, tcp);
		if (udp)
			sd->udp_on = false;
		else
			sd->tcp_on = false;
		return 0;
	}
	if ((udp && sd->udp_on) || (tcp && sd->tcp_on))
		return 0;
	err = listeners_open(sd, udp, tcp);
	if (err) {
		listeners_close(sd, udp, tcp);
		return err;
	}
	if (udp)
		sd->udp_on = true;
	else
		sd->tcp_on = true;
	return 0;
}

void sipd_close(struct sipd *sd)
{
	mem_deref(sd);
}
