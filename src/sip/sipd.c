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
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/log.h"
#include "guard/guard.h"
#include "registrar/registrar.h"   /* brings the libre headers */
#include <re_udp.h>
#include <re_tcp.h>
/* re_dbg.h is here for dbg_handler_set only; these keep its macros off */
#define DEBUG_MODULE "sip"
#define DEBUG_LEVEL 0
#include <re_dbg.h>
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
/* TCP (issue 8): the connection table is bounded by the descriptor limit
 * (TCP_FD_RESERVE kept for the store, the admin API, logs) and never by
 * more than TCP_CONNS_MAX; a source may hold tcp_per_source connections
 * that have not registered. A connection that never sent a valid request
 * lives TCP_NEW_MS; one that did, TCP_VALID_MS after its last message;
 * one a phone registered over, max_expires + TCP_REG_SLACK_S. A message
 * must be complete TCP_MSG_MS after its first byte (slowloris): bytes
 * never renew a timer, only complete messages do. */
#define TCP_CONNS_MAX 65536
#define TCP_FD_RESERVE_MIN 256
#define TCP_NEW_MS 10000
#define TCP_VALID_MS 30000
#define TCP_REG_SLACK_S 60
#define TCP_MSG_MS 10000
#define TCP_BUF_MAX (SIPMSG_MAX_LEN + 4096)
/* Partial messages: up to TCP_BUF_FREE bytes per connection are always
 * accepted (a REGISTER is far smaller); more only while every
 * connection's buffers together stay within TCP_BUF_BUDGET. */
#define TCP_BUF_FREE 8192
#define TCP_BUF_BUDGET (16u * 1024 * 1024)
#define TCP_TXQ_MAX (64 * 1024)   /* replies queued for a slow reader */
#define TCP_TRIM_MIN 256          /* connections before a flood counts */
#define LOG_BURST 10              /* rate-limited lines per LOG_WINDOW_MS */
#define LOG_WINDOW_MS 10000
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
	{"tcp_per_source", 32, 1, 65535},
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

/* What a TCP connection has shown of itself: it decides how long it may
 * stay idle, whether it counts against its source's limit and whether it
 * may be closed to make room for a new one. */
enum conn_state {
	CONN_NEW = 0,    /* no valid request yet */
	CONN_VALID,      /* valid requests, no registration */
	CONN_REG,        /* a phone registered over it */
};

/* Unregistered connections of one source (IPv6: of its /64). */
struct conn_src {
	struct le le;          /* in sd->conn_srcs */
	struct sa key;         /* address, port 0, IPv6 masked */
	uint32_t n;
};

struct sipd_conn {
	struct le le;          /* in sd->conns (hash by id) */
	struct le ole;         /* unregistered: in sd->conn_old[state] */
	struct sipd *sd;
	struct tcp_conn *tc;   /* NULL once shut */
	struct mbuf *buf;      /* partial message; NULL when none */
	size_t bufsz;          /* counted in sd->tcp_buffered */
	struct conn_src *src;  /* while unregistered */
	struct sa peer;
	uint64_t id;
	struct tmr idle;
	struct tmr deadline;   /* running while a message is incomplete */
	enum conn_state state;
	uint8_t crlf;          /* CR/LF octets since the last message */
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
	struct hash *conn_srcs;    /* struct conn_src */
	struct list conn_old[2];   /* NEW, VALID: oldest first (eviction) */
	size_t max_conns, per_src, n_conn_reg, conn_hw;
	size_t tcp_buffered;       /* bytes of partial messages */
	uint64_t c_tcp_refused_src, c_tcp_refused_full, c_tcp_evicted,
		c_tcp_deadline, c_tcp_idle, c_tcp_send_fail, c_tcp_overflow,
		c_tcp_pong, c_keepalive, c_trim;
	bool dbg_owner;            /* installed libre's print handler */
	struct {                   /* rate limit of TCP log lines */
		uint64_t since;
		unsigned lines, suppressed;
	} lrl;
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
	sd->per_src = (size_t)jint(o, "tcp_per_source");
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
static void conn_send_failed(struct sipd_conn *c, int err);
static void conn_promote(struct sipd *sd, uint64_t id, enum conn_state st);

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

		if (!c || !c->tc)
			return ENOTCONN;
		err = tcp_send(c->tc, sd->mb);
		/* A peer that went away (EPIPE, ECONNRESET) or stopped reading
		 * (ENOSPC: send queue full) gets nothing more: the connection
		 * is closed at once, so the replies still pending find no
		 * connection and fail silently — one log line, not one per
		 * reply. */
		if (err)
			conn_send_failed(c, err);
		return err;
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
	/* a phone registered over this connection: it may stay open */
	if (rq->tp == SIPD_TCP)
		conn_promote(sd, rq->conn, CONN_REG);
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

static void peer_str(const struct sa *a, char *buf, size_t sz);
static void tcp_log(struct sipd *sd, enum log_level lvl, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

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
	peer_str(&rq->src, src, sizeof(src));
	tcp_log(sd, res == GUARD_AUTH_OK ? LOG_LVL_INFO : LOG_LVL_WARN,
		"%s: '%s' from %s", (size_t)res < sizeof(why) / sizeof(why[0])
		&& why[res] ? why[res] : "authentication failed", u, src);
}

static void h_register(struct req *rq)
{
	struct sipd *sd = rq->sd;
	struct sipmsg *m = rq->m;
	const struct snap_ext *x = NULL;
	const uint8_t *algs;
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
		/* have: the nonce passed nonce_check (ours, bound to this
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
		reply(rq, 403, "Transport Not Allowed", NULL, 0);
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
		conn_promote(sd, conn, CONN_VALID);
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

static void peer_str(const struct sa *a, char *buf, size_t sz)
{
	re_snprintf(buf, sz, "%J", a);
}

/* TCP events come from the network at the attacker's pace: at most
 * LOG_BURST lines per LOG_WINDOW_MS; the next line let through says how
 * many were left out. */
static void tcp_log(struct sipd *sd, enum log_level lvl, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));
static void tcp_log(struct sipd *sd, enum log_level lvl, const char *fmt,
		    ...)
{
	uint64_t now = tmr_jiffies();
	char line[256];
	va_list ap;

	if (!sd->lrl.since || now - sd->lrl.since >= LOG_WINDOW_MS) {
		sd->lrl.since = now;
		sd->lrl.lines = 0;
	}
	if (sd->lrl.lines >= LOG_BURST) {
		sd->lrl.suppressed++;
		return;
	}
	sd->lrl.lines++;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (sd->lrl.suppressed) {
		log_msg(lvl, MOD, "%s (%u similar lines left out before)",
			line, sd->lrl.suppressed);
		sd->lrl.suppressed = 0;
	}
	else {
		log_msg(lvl, MOD, "%s", line);
	}
}

/* libre prints its own errors (e.g. "tcp: send: write(): Broken pipe",
 * once per failing call, with colour codes, to stderr). They carry no
 * context and every one of them is also returned to our code, which logs
 * it once with the peer: libre's lines go to the debug level, rate-
 * limited. libre calls this under its own dbg mutex, which guards the
 * counters (any thread may print). */
static struct {
	uint64_t since;
	unsigned lines, suppressed;
} libre_rl;

static void libre_dbg(int level, const char *p, size_t len, void *arg)
{
	uint64_t now = tmr_jiffies();

	(void)level;
	(void)arg;
	if (!libre_rl.since || now - libre_rl.since >= LOG_WINDOW_MS) {
		if (libre_rl.suppressed)
			log_debug("libre", "%u lines left out",
				  libre_rl.suppressed);
		libre_rl.since = now;
		libre_rl.lines = libre_rl.suppressed = 0;
	}
	if (libre_rl.lines >= LOG_BURST) {
		libre_rl.suppressed++;
		return;
	}
	libre_rl.lines++;
	while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	log_debug("libre", "%.*s", (int)len, p);
}

/* Per-source accounting key: the address (IPv6: its /64, which one
 * subscriber usually holds whole). */
static void src_key(struct sa *k, const struct sa *peer)
{
	*k = *peer;
	sa_set_port(k, 0);
	if (sa_af(k) == AF_INET6)
		memset(&k->u.in6.sin6_addr.s6_addr[8], 0, 8);
}

static bool src_cmp(struct le *le, void *arg)
{
	const struct conn_src *s = le->data;

	return sa_cmp(&s->key, arg, SA_ADDR);
}

static void src_destructor(void *arg)
{
	struct conn_src *s = arg;

	hash_unlink(&s->le);
}

static struct conn_src *src_find(struct sipd *sd, const struct sa *peer)
{
	struct sa k;

	src_key(&k, peer);
	return list_ledata(hash_lookup(sd->conn_srcs, sa_hash(&k, SA_ADDR),
				       src_cmp, &k));
}

static struct conn_src *src_get(struct sipd *sd, const struct sa *peer)
{
	struct conn_src *s = src_find(sd, peer);

	if (s)
		return s;
	s = mem_zalloc(sizeof(*s), src_destructor);
	if (!s)
		return NULL;
	src_key(&s->key, peer);
	hash_append(sd->conn_srcs, sa_hash(&s->key, SA_ADDR), &s->le, s);
	return s;
}

/* The connection no longer counts against its source (registered or
 * closed); the entry goes with the source's last connection. */
static void src_put(struct sipd_conn *c)
{
	struct conn_src *s = c->src;

	c->src = NULL;
	if (s && s->n && !--s->n)
		mem_deref(s);
}

static uint64_t conn_idle_ms(const struct sipd *sd, enum conn_state st)
{
	switch (st) {
	case CONN_NEW:
		return TCP_NEW_MS;
	case CONN_VALID:
		return TCP_VALID_MS;
	default:
		/* a registered phone may stay silent until it refreshes */
		return (uint64_t)(sd->max_exp + TCP_REG_SLACK_S) * 1000u;
	}
}

static void conn_buf_free(struct sipd_conn *c)
{
	if (!c->buf)
		return;
	if (c->sd)
		c->sd->tcp_buffered -= c->buf->size;
	c->buf = mem_deref(c->buf);
}

static void conn_destructor(void *arg)
{
	struct sipd_conn *c = arg;

	tmr_cancel(&c->idle);
	tmr_cancel(&c->deadline);
	hash_unlink(&c->le);
	list_unlink(&c->ole);
	mem_deref(c->tc);
	conn_buf_free(c);
}

/* Close now: out of every table and count, the socket closed; the
 * memory goes when the last reference does (conn_recv holds one while a
 * message from its buffer is being handled). */
static void conn_shut(struct sipd_conn *c)
{
	struct sipd *sd = c->sd;

	if (!c->tc)
		return;
	tmr_cancel(&c->idle);
	tmr_cancel(&c->deadline);
	hash_unlink(&c->le);
	list_unlink(&c->ole);
	src_put(c);
	if (c->state == CONN_REG && sd->n_conn_reg)
		sd->n_conn_reg--;
	if (sd->n_conns)
		sd->n_conns--;
	c->tc = mem_deref(c->tc);
	mem_deref(c);   /* the table's reference */
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
	struct sipd_conn *c = arg;

	c->sd->c_tcp_idle++;
	conn_shut(c);
}

static void conn_deadline(void *arg)
{
	struct sipd_conn *c = arg;
	char ps[64];

	c->sd->c_tcp_deadline++;
	peer_str(&c->peer, ps, sizeof(ps));
	tcp_log(c->sd, LOG_LVL_INFO, "tcp: %s did not complete a message "
		"within %u ms: connection closed", ps, TCP_MSG_MS);
	conn_shut(c);
}

static void conn_close(int err, void *arg)
{
	(void)err;
	conn_shut(arg);
}

static void conn_send_failed(struct sipd_conn *c, int err)
{
	char ps[64];

	c->sd->c_tcp_send_fail++;
	peer_str(&c->peer, ps, sizeof(ps));
	tcp_log(c->sd, LOG_LVL_INFO, "tcp: sending to %s failed (%s): "
		"connection closed", ps, strerror(err));
	conn_shut(c);
}

/* What the connection has shown: a valid request, a registration. Only
 * moves forward. */
static void conn_promote(struct sipd *sd, uint64_t id, enum conn_state st)
{
	struct sipd_conn *c = conn_find(sd, id);

	if (!c || !c->tc || st <= c->state)
		return;
	list_unlink(&c->ole);
	if (st == CONN_REG) {
		/* registered phones behind one NAT address are not limited
		 * per source: their credentials bound them */
		src_put(c);
		sd->n_conn_reg++;
	}
	else {
		list_append(&sd->conn_old[st], &c->ole, c);
	}
	c->state = st;
	tmr_start(&c->idle, conn_idle_ms(sd, st), conn_idle, c);
}

/* Room for a new connection when the table is full: close the oldest
 * one that never sent a valid request, else the oldest unregistered one.
 * A registered phone's connection is never taken. */
static bool conn_evict(struct sipd *sd)
{
	for (int st = CONN_NEW; st <= CONN_VALID; st++) {
		struct le *le = list_head(&sd->conn_old[st]);
		struct sipd_conn *c;
		char ps[64];

		if (!le)
			continue;
		c = le->data;
		sd->c_tcp_evicted++;
		peer_str(&c->peer, ps, sizeof(ps));
		tcp_log(sd, LOG_LVL_WARN, "tcp: %zu connections (the limit): "
			"closed the oldest unregistered one, from %s",
			sd->n_conns, ps);
		conn_shut(c);
		return true;
	}
	return false;
}

/* Append to the connection's partial-message buffer, within the bounds:
 * TCP_BUF_MAX per connection, TCP_BUF_BUDGET for all beyond the first
 * TCP_BUF_FREE octets of each. 0, EOVERFLOW, ENOBUFS or ENOMEM. */
static int conn_buf_put(struct sipd_conn *c, const uint8_t *p, size_t n)
{
	struct sipd *sd = c->sd;
	size_t have = c->buf ? c->buf->end : 0, need = have + n;
	size_t old = c->buf ? c->buf->size : 0;

	if (need > TCP_BUF_MAX)
		return EOVERFLOW;
	if (need > old) {
		size_t sz = (need + 1023) & ~(size_t)1023;

		if (sz > TCP_BUF_FREE &&
		    sd->tcp_buffered - old + sz > TCP_BUF_BUDGET)
			return ENOBUFS;
		if (!c->buf) {
			c->buf = mbuf_alloc(sz);
			if (!c->buf)
				return ENOMEM;
		}
		else if (mbuf_resize(c->buf, sz)) {
			return ENOMEM;
		}
		sd->tcp_buffered += c->buf->size - old;
	}
	memcpy(c->buf->buf + have, p, n);
	c->buf->end = need;
	c->buf->pos = 0;
	return 0;
}

/* Handle every complete message at the start of p[0..len); returns the
 * octets used. Stops when the connection was shut. */
static size_t conn_feed(struct sipd_conn *c, const char *p, size_t len)
{
	struct sipd *sd = c->sd;
	size_t pos = 0;

	while (pos < len && c->tc) {
		const char *q = p + pos;
		size_t n = 0;
		int err;

		if (*q == '\r' || *q == '\n') {
			/* RFC 5626 4.4.1: a CRLFCRLF ping between messages
			 * is answered with a CRLF pong */
			pos++;
			if (++c->crlf < 4)
				continue;
			c->crlf = 0;
			sd->c_tcp_pong++;
			(void)send_raw(sd, SIPD_TCP, &c->peer, c->id, "\r\n", 2);
			if (c->tc && c->state == CONN_REG)
				tmr_start(&c->idle, conn_idle_ms(sd, c->state),
					  conn_idle, c);
			continue;
		}
		c->crlf = 0;
		err = sipmsg_frame(q, len - pos, &n);
		if (err == EAGAIN)
			break;
		if (err) {
			/* unframeable stream: answer the head (400), close */
			if (n)
				sipd_input(sd, SIPD_TCP, &c->peer, c->id, q, n);
			sd->c_bad++;
			conn_shut(c);
			break;
		}
		sipd_input(sd, SIPD_TCP, &c->peer, c->id, q, n);
		pos += n;
		/* only whole messages renew a connection, and only one that
		 * has sent a valid request */
		if (c->tc && c->state != CONN_NEW)
			tmr_start(&c->idle, conn_idle_ms(sd, c->state),
				  conn_idle, c);
	}
	return pos;
}

static void conn_recv(struct mbuf *mb, void *arg)
{
	struct sipd_conn *c = arg;
	struct sipd *sd = c->sd;
	const uint8_t *in = mbuf_buf(mb);
	size_t inl = mbuf_get_left(mb), used;
	int err = 0;

	if (!c->tc)
		return;
	mem_ref(c);
	if (c->buf) {
		size_t rest;

		err = conn_buf_put(c, in, inl);
		if (err)
			goto overflow;
		used = conn_feed(c, (const char *)c->buf->buf, c->buf->end);
		if (!c->tc)
			goto out;
		rest = c->buf->end - used;
		if (!rest) {
			conn_buf_free(c);
		}
		else if (used) {
			memmove(c->buf->buf, c->buf->buf + used, rest);
			c->buf->end = rest;
		}
	}
	else {
		/* the usual case, a whole message in one segment: handled in
		 * libre's buffer, nothing kept */
		used = conn_feed(c, (const char *)in, inl);
		if (!c->tc)
			goto out;
		if (used < inl) {
			err = conn_buf_put(c, in + used, inl - used);
			if (err)
				goto overflow;
		}
	}
	/* the deadline runs from a message's first octet: more octets of
	 * the same message never move it */
	if (!c->buf)
		tmr_cancel(&c->deadline);
	else if (used || !tmr_isrunning(&c->deadline))
		tmr_start(&c->deadline, TCP_MSG_MS, conn_deadline, c);
	goto out;

 overflow:
	{
		char ps[64];

		sd->c_tcp_overflow++;
		peer_str(&c->peer, ps, sizeof(ps));
		tcp_log(sd, LOG_LVL_INFO, "tcp: %s: %s: connection closed",
			ps, err == EOVERFLOW ? "message too large" :
			"partial messages over their memory budget");
		conn_shut(c);
	}
 out:
	mem_deref(c);
}

static void on_tcp_conn(const struct sa *peer, void *arg)
{
	struct sipd *sd = arg;
	struct tcp_sock *ts = sa_af(peer) == AF_INET && sd->ts4 ? sd->ts4 :
		(sd->ts6 ? sd->ts6 : sd->ts4);
	struct sipd_conn *c;
	struct conn_src *s;
	struct sa p = *peer;
	char ps[64];
	int err;

	sa_unmap(&p);
	if (guard_packet(sd->guard, &p) == GUARD_DROP)
		goto reject;
	peer_str(&p, ps, sizeof(ps));
	s = src_find(sd, &p);
	if (s && s->n >= sd->per_src) {
		sd->c_tcp_refused_src++;
		tcp_log(sd, LOG_LVL_WARN, "tcp: %s holds %u unregistered "
			"connections (tcp_per_source): refused", ps, s->n);
		goto reject;
	}
	if (sd->n_conns >= sd->max_conns && !conn_evict(sd)) {
		sd->c_tcp_refused_full++;
		tcp_log(sd, LOG_LVL_WARN, "tcp: %zu connections, all "
			"registered (the limit): %s refused", sd->n_conns, ps);
		goto reject;
	}
	s = src_get(sd, &p);
	c = s ? mem_zalloc(sizeof(*c), conn_destructor) : NULL;
	if (!c) {
		if (s && !s->n)
			mem_deref(s);
		goto reject;
	}
	c->sd = sd;
	c->peer = p;
	c->id = ++sd->next_conn;
	err = tcp_accept(&c->tc, ts, NULL, conn_recv, conn_close, c);
	if (err) {
		/* e.g. EMFILE: the descriptor limit is shared with the rest
		 * of the daemon */
		tcp_log(sd, LOG_LVL_WARN, "tcp: cannot accept %s: %s", ps,
			strerror(err));
		c->tc = NULL;
		mem_deref(c);
		if (!s->n)
			mem_deref(s);
		goto reject;
	}
	/* a peer that sends without reading cannot make us queue replies */
	tcp_conn_txqsz_set(c->tc, TCP_TXQ_MAX);
	c->src = s;
	s->n++;
	hash_append(sd->conns, (uint32_t)c->id, &c->le, c);
	list_append(&sd->conn_old[CONN_NEW], &c->ole, c);
	sd->n_conns++;
	if (sd->n_conns > sd->conn_hw)
		sd->conn_hw = sd->n_conns;
	/* not renewed by anything: a valid request must come first */
	tmr_start(&c->idle, TCP_NEW_MS, conn_idle, c);
	return;
 reject:
	tcp_reject(ts);
}

/* The connection table's bound: below the descriptor limit (raised to
 * the hard limit by the daemon at start, which also sizes libre's
 * descriptor table to it), keeping room for everything else the process
 * opens. */
static void tcp_limits(struct sipd *sd)
{
	struct rlimit rl;
	size_t lim = 1024, reserve;

	if (!getrlimit(RLIMIT_NOFILE, &rl))
		lim = rl.rlim_cur == RLIM_INFINITY ||
			rl.rlim_cur > TCP_CONNS_MAX * 2 ?
			(size_t)TCP_CONNS_MAX * 2 : (size_t)rl.rlim_cur;
	reserve = lim / 8 > TCP_FD_RESERVE_MIN ? lim / 8 : TCP_FD_RESERVE_MIN;
	sd->max_conns = lim > 2 * reserve ? lim - reserve : lim / 2;
	if (sd->max_conns > TCP_CONNS_MAX)
		sd->max_conns = TCP_CONNS_MAX;
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

/* Where qualify OPTIONS and keep-alives go. Over TCP: the registration's
 * own connection (send_raw finds it by id; when it is gone nothing is
 * sent). Over UDP: the Contact's address only when it is the address the
 * REGISTER came from (a phone listening on another port than it sends
 * from); a Contact naming any other host is reached at the source
 * address, NAT-style, so that a registered user cannot aim our requests
 * at other machines. The source is proven: the REGISTER answered a nonce
 * bound to it. */
static const struct sa *probe_dst(const struct reg_binding *b)
{
	const struct sa *t = reg_binding_target(b);

	if (b->tp == REG_TP_UDP && sa_cmp(t, &b->src, SA_ADDR))
		return t;
	return &b->src;
}

/* Our address as the phone sees it, for Via and (without a configured
 * realm) From: the listen address when bound to one, else the local end
 * of the registration's TCP connection, else the address the kernel
 * would send from to the phone (a connected UDP socket sends nothing). */
static void local_host(struct sipd *sd, const struct reg_binding *b,
		       const struct sa *dst, char *host, size_t sz)
{
	struct sa l;

	if (sa_isset(&sd->laddr, SA_ADDR) && !sa_is_any(&sd->laddr)) {
		re_snprintf(host, sz, "%J", &sd->laddr);
		return;
	}
	sa_init(&l, AF_UNSPEC);
	if (b->tp != REG_TP_UDP) {
		struct sipd_conn *c = conn_find(sd, b->conn_id);

		if (c && c->tc && !tcp_conn_local_get(c->tc, &l)) {
			sa_unmap(&l);
			re_snprintf(host, sz, "%J", &l);
			return;
		}
	}
	else {
		int fd = socket(sa_af(dst), SOCK_DGRAM, 0);

		if (fd >= 0) {
			l.len = sizeof(l.u);
			if (connect(fd, &dst->u.sa, dst->len) ||
			    getsockname(fd, &l.u.sa, &l.len))
				sa_init(&l, AF_UNSPEC);
			(void)close(fd);
		}
		if (sa_isset(&l, SA_ADDR)) {
			sa_set_port(&l, sa_port(&sd->laddr));
			re_snprintf(host, sz, "%J", &l);
			return;
		}
	}
	re_snprintf(host, sz, "%s", sd->realm);
}

static void qualify_send(struct sipd *sd, struct reg_binding *b)
{
	const struct sa *dst = probe_dst(b);
	char host[80], from[80];
	uint64_t id = b->id << 16 | (b->q_seq & 0xffff);
	int n;

	local_host(sd, b, dst, host, sizeof(host));
	/* From names the PBX: its domain when the admin set a realm, else
	 * its address ("bulwark" is no host) */
	if (strcmp(sd->realm, DEFAULT_REALM))
		re_snprintf(from, sizeof(from), "%s", sd->realm);
	else
		re_snprintf(from, sizeof(from), "%s", host);
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
			(unsigned long long)id, from,
			(unsigned)(id * 2654435761u), reg_binding_uri(b),
			(unsigned long long)id, sd->realm);
	if (n <= 0)
		return;
	sd->c_qualify++;
	(void)send_raw(sd, b->tp == REG_TP_TCP ? SIPD_TCP : SIPD_UDP, dst,
		       b->conn_id, sd->obuf, (size_t)n);
}

static void sweep(void *arg)
{
	struct sipd *sd = arg;
	int64_t now = now_s(sd);
	uint32_t jif = (uint32_t)tmr_jiffies();
	struct reg_binding *b;
	size_t pos = 0;

	tmr_start(&sd->sweep, 1000, sweep, sd);
	/* After a connection flood has drained, hand the freed heap back:
	 * glibc keeps it otherwise (269 MB stayed resident, issue 8). */
	if (sd->conn_hw >= TCP_TRIM_MIN && sd->n_conns <= sd->conn_hw / 4) {
		sd->conn_hw = sd->n_conns;
		sd->c_trim++;
#ifdef __GLIBC__
		(void)malloc_trim(0);
#endif
	}
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
				       SIPD_UDP, probe_dst(b), b->conn_id,
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
	conn_shut(le->data);
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
	/* every source entry went with its last connection */
	sd->conn_srcs = mem_deref(sd->conn_srcs);
	if (sd->dbg_owner)
		dbg_handler_set(NULL, NULL);
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
	if (!err)
		err = hash_alloc(&sd->conn_srcs, 1024);
	list_init(&sd->conn_old[CONN_NEW]);
	list_init(&sd->conn_old[CONN_VALID]);
	tcp_limits(sd);
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
	dbg_handler_set(libre_dbg, NULL);
	sd->dbg_owner = true;
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

/* The TCP side of the status: how full, and what the limits did. */
static json_t *tcp_status(const struct sipd *sd)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, "
			 "s:I, s:I, s:I, s:I, s:I}}",
			 "connections", (json_int_t)sd->n_conns,
			 "registered", (json_int_t)sd->n_conn_reg,
			 "limit", (json_int_t)sd->max_conns,
			 "per_source", (json_int_t)sd->per_src,
			 "buffered_bytes", (json_int_t)sd->tcp_buffered,
			 "counters",
			 "refused_per_source",
			 (json_int_t)sd->c_tcp_refused_src,
			 "refused_full", (json_int_t)sd->c_tcp_refused_full,
			 "evicted", (json_int_t)sd->c_tcp_evicted,
			 "closed_idle", (json_int_t)sd->c_tcp_idle,
			 "closed_deadline", (json_int_t)sd->c_tcp_deadline,
			 "closed_overflow", (json_int_t)sd->c_tcp_overflow,
			 "send_failed", (json_int_t)sd->c_tcp_send_fail,
			 "pongs", (json_int_t)sd->c_tcp_pong,
			 "heap_trims", (json_int_t)sd->c_trim);
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
		json_object_set_new(o, "tcp", tcp_status(sd));
	}
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
