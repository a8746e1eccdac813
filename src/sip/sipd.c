/*
 * sipd — the SIP stack's input pipeline and method table, its
 * applications, life cycle and status. Its other rooms (sipd_priv.h):
 * conf.c (the "sip" settings), transport.c (our own UDP and TCP on libre
 * sockets), reply.c (replies, tarpit); msg.c is the strict parser.
 *
 * Request flow (DESIGN.md): guard_packet → parse → check → method row →
 * guard_request (the row's guard flags) → the row's handler, which an
 * application registered (REGISTER: registrar/register.c) or the stack's
 * own (OPTIONS 200, ACK nothing, 405 for known methods nobody serves,
 * 501 for the rest). Responses go to the applications' response hooks.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/log.h"
#include "guard/guard.h"
#include "sip/sipd_priv.h"   /* the libre parts, before re_tcp.h */
#include "store/snapshot.h"
#include <re_tcp.h>

void sipd_set_clock(struct sipd *sd, int64_t now)
{
	if (sd)
		sd->fixed_now = now;
}

void sipd_set_laddr(struct sipd *sd, const struct sa *laddr)
{
	if (sd && laddr)
		sd->laddr = *laddr;
}

int64_t sipd_now(const struct sipd *sd)
{
	return sd->fixed_now ? sd->fixed_now : (int64_t)time(NULL);
}

const struct snapshot *sipd_snapshot(const struct sipd *sd)
{
	return sd ? sd->snap : NULL;
}

const struct sipd_settings *sipd_settings(const struct sipd *sd)
{
	return &sd->set;
}

const char *sipd_totag_salt(const struct sipd *sd)
{
	return sd->totag_salt;
}

struct guard *sipd_guard(const struct sipd *sd)
{
	return sd ? sd->guard : NULL;
}

/* ---- the stack's own rows ------------------------------------------- */

static void h_options(struct sipd_req *rq, void *arg)
{
	struct sipd *sd = rq->sd;
	static const char acc[] = "Accept: application/sdp\r\n";
	char hdrs[sizeof(sd->allow) + sizeof(acc)];

	(void)arg;
	memcpy(hdrs, sd->allow, sd->allow_len);
	memcpy(hdrs + sd->allow_len, acc, sizeof(acc) - 1);
	sipd_reply(rq, 200, "OK", hdrs, sd->allow_len + sizeof(acc) - 1);
}

static void h_ack(struct sipd_req *rq, void *arg)
{
	(void)rq;   /* never answered */
	(void)arg;
}

static void h_not_allowed(struct sipd_req *rq, void *arg)
{
	(void)arg;
	sipd_reply(rq, 405, "Method Not Allowed", rq->sd->allow,
		   rq->sd->allow_len);
}

/* RFC 3261 8.2.1: known methods nobody serves are answered 405 with
 * Allow; an application's row replaces that answer. */
static const char *const known[] = {
	"INVITE", "BYE", "CANCEL", "SUBSCRIBE", "NOTIFY", "MESSAGE", "INFO",
	"PRACK", "UPDATE", "REFER", "PUBLISH", "REGISTER",
};

static void row_own(struct sipd_row *r, const char *method,
		    void (*h)(struct sipd_req *, void *))
{
	memset(r, 0, sizeof(*r));
	r->method = method;
	r->len = strlen(method);
	r->handler = h;
}

/* The Allow header: the methods applications serve, in the order they
 * were registered, then the stack's own OPTIONS. */
static void allow_build(struct sipd *sd)
{
	size_t off = 0;
	int n;

	n = snprintf(sd->allow, sizeof(sd->allow), "Allow: ");
	off = (size_t)n;
	for (size_t i = 0; i < sd->n_apps; i++) {
		const struct sipd_app *a = sd->apps[i].app;

		for (size_t j = 0; j < a->n_methods; j++) {
			if (!strcmp(a->methods[j].method, "ACK"))
				continue;
			n = snprintf(sd->allow + off, sizeof(sd->allow) - off,
				     "%s, ", a->methods[j].method);
			if (n < 0 || (size_t)n >= sizeof(sd->allow) - off)
				break;
			off += (size_t)n;
		}
	}
	n = snprintf(sd->allow + off, sizeof(sd->allow) - off,
		     "OPTIONS\r\n");
	if (n < 0 || (size_t)n >= sizeof(sd->allow) - off) {
		/* cannot happen with SIPD_MAX_ROWS short names; stay valid */
		off = (size_t)snprintf(sd->allow, sizeof(sd->allow),
				       "Allow: OPTIONS\r\n");
		n = 0;
	}
	sd->allow_len = off + (size_t)n;
}

static void rows_init(struct sipd *sd)
{
	sd->n_rows = 0;
	row_own(&sd->rows[sd->n_rows++], "OPTIONS", h_options);
	row_own(&sd->rows[sd->n_rows++], "ACK", h_ack);
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		row_own(&sd->rows[sd->n_rows++], known[i], h_not_allowed);
	allow_build(sd);
}

static struct sipd_row *row_find(struct sipd *sd, const char *p, size_t l)
{
	for (size_t i = 0; i < sd->n_rows; i++)
		if (sd->rows[i].len == l && !memcmp(sd->rows[i].method, p, l))
			return &sd->rows[i];
	return NULL;
}

/* The guard flags of a method: those of its row whatever the case of the
 * token (a "register" is flagged as a REGISTER for the guard, though only
 * the exact token reaches the handler). */
static unsigned row_guard(struct sipd *sd, const struct sipmsg_str *met)
{
	for (size_t i = 0; i < sd->n_rows; i++)
		if (sipmsg_eq(met, sd->rows[i].method))
			return sd->rows[i].guard;
	return 0;
}

int sipd_app_register(struct sipd *sd, const struct sipd_app *app,
		      void *arg)
{
	size_t add = 0;

	if (!sd || !app || (app->n_methods && !app->methods))
		return EINVAL;
	if (sd->n_apps == SIPD_MAX_APPS)
		return ENOSPC;
	/* all or nothing: check every row first */
	for (size_t i = 0; i < app->n_methods; i++) {
		const struct sipd_method *mt = &app->methods[i];
		const struct sipd_row *r;

		if (!mt->method || !mt->handler)
			return EINVAL;
		r = row_find(sd, mt->method, strlen(mt->method));
		if (r && r->app)
			return EEXIST;
		if (!r)
			add++;
	}
	if (sd->n_rows + add > SIPD_MAX_ROWS)
		return ENOSPC;
	for (size_t i = 0; i < app->n_methods; i++) {
		const struct sipd_method *mt = &app->methods[i];
		struct sipd_row *r = row_find(sd, mt->method,
					      strlen(mt->method));

		if (!r)
			r = &sd->rows[sd->n_rows++];
		r->method = mt->method;
		r->len = strlen(mt->method);
		r->guard = mt->guard;
		r->check = mt->check;
		r->handler = mt->handler;
		r->arg = arg;
		r->app = app;
	}
	sd->apps[sd->n_apps].app = app;
	sd->apps[sd->n_apps].arg = arg;
	sd->n_apps++;
	allow_build(sd);
	return 0;
}

void sipd_app_unregister(struct sipd *sd, void *arg)
{
	size_t i = 0;

	if (!sd)
		return;
	while (i < sd->n_apps) {
		if (sd->apps[i].arg != arg) {
			i++;
			continue;
		}
		memmove(&sd->apps[i], &sd->apps[i + 1],
			(sd->n_apps - i - 1) * sizeof(sd->apps[0]));
		sd->n_apps--;
	}
	/* the stack's own answers come back */
	rows_init(sd);
	for (i = 0; i < sd->n_apps; i++) {
		const struct sipd_app *a = sd->apps[i].app;

		for (size_t j = 0; j < a->n_methods; j++) {
			struct sipd_row *r = row_find(sd, a->methods[j].method,
						      strlen(a->methods[j].method));

			if (!r)
				r = &sd->rows[sd->n_rows++];
			r->method = a->methods[j].method;
			r->len = strlen(r->method);
			r->guard = a->methods[j].guard;
			r->check = a->methods[j].check;
			r->handler = a->methods[j].handler;
			r->arg = sd->apps[i].arg;
			r->app = a;
		}
	}
	allow_build(sd);
}

/* ---- for applications ----------------------------------------------- */

int sipd_send(struct sipd *sd, enum sipd_tp tp, const struct sa *dst,
	      uint64_t conn, const char *buf, size_t len)
{
	return sipd_send_raw(sd, tp, dst, conn, buf, len);
}

int sipd_local_addr(struct sipd *sd, enum sipd_tp tp, uint64_t conn,
		    const struct sa *dst, struct sa *out)
{
	struct sa l;

	/* tls: the TLS listener's address (the port of the UDP/TCP one in
	 * a Contact would send the phone's in-dialog requests there) */
	if (tp == SIPD_TLS && sd->tls_on && !sa_is_any(&sd->tls_laddr)) {
		*out = sd->tls_laddr;
		return 0;
	}
	if (tp != SIPD_TLS && sa_isset(&sd->laddr, SA_ADDR) &&
	    !sa_is_any(&sd->laddr)) {
		*out = sd->laddr;
		return 0;
	}
	sa_init(&l, AF_UNSPEC);
	if (tp != SIPD_UDP) {
		struct sipd_conn *c = sipd_tcp_find(sd, conn);

		if (c && c->tc && !tcp_conn_local_get(c->tc, &l)) {
			sipd_sa_unmap(&l);
			*out = l;
			return 0;
		}
		return ENOENT;
	}
	{
		int fd = socket(sa_af(dst), SOCK_DGRAM, 0);

		if (fd >= 0) {
			l.len = sizeof(l.u);
			if (connect(fd, &dst->u.sa, dst->len) ||
			    getsockname(fd, &l.u.sa, &l.len))
				sa_init(&l, AF_UNSPEC);
			(void)close(fd);
		}
	}
	if (!sa_isset(&l, SA_ADDR))
		return ENOENT;
	sa_set_port(&l, sa_port(&sd->laddr));
	*out = l;
	return 0;
}

bool sipd_conn_alive(struct sipd *sd, uint64_t conn)
{
	struct sipd_conn *c;

	if (!conn)
		return true;
	c = sd ? sipd_tcp_find(sd, conn) : NULL;
	return c && c->tc;
}

void sipd_conn_registered(struct sipd *sd, uint64_t conn)
{
	if (sd && conn)
		sipd_tcp_promote(sd, conn, CONN_REG);
}

void sipd_count_drop(struct sipd *sd)
{
	sd->c_drop++;
}

void sipd_log_paced(struct sipd *sd, enum log_level lvl, const char *fmt,
		    ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sipd_tcp_log(sd, lvl, "%s", line);
}

/* ---- input ---------------------------------------------------------- */

static bool crlf_only(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != '\r' && buf[i] != '\n')
			return false;
	return true;
}

/* A request that failed sipmsg_check: answered with code (never an ACK,
 * never without a Via to answer to). */
static void reply_check(struct sipd_req *rq, unsigned code)
{
	struct sipd *sd = rq->sd;
	struct sipmsg *m = rq->m;

	if (!m->count[SH_VIA] || sipmsg_eq(&m->met, "ACK"))
		return;
	switch (code) {
	case 505:
		sipd_reply(rq, 505, "Version Not Supported", NULL, 0);
		break;
	case 416:
		sipd_reply(rq, 416, "Unsupported URI Scheme", NULL, 0);
		break;
	case 420: {
		size_t off = sipd_xput(sd, 0, "Unsupported: %b\r\n",
				       m->unsupported.p,
				       m->unsupported.l > 512 ? (size_t)512 :
				       m->unsupported.l);

		if (off < sizeof(sd->xbuf))
			sipd_reply(rq, 420, "Bad Extension", sd->xbuf, off);
		break;
	}
	case 415: {
		static const char acc[] = "Accept: application/sdp\r\n";

		sipd_reply(rq, 415, "Unsupported Media Type", acc,
			   sizeof(acc) - 1);
		break;
	}
	default:
		/* Any 400 has one reason phrase: the parser's finer reason
		 * would help fingerprinting, not clients */
		sipd_reply(rq, 400, "Bad Request", NULL, 0);
		break;
	}
}

void sipd_input(struct sipd *sd, enum sipd_tp tp, const struct sa *src,
		uint64_t conn, const char *buf, size_t len)
{
	struct sipmsg *m;
	struct sipd_req rq;
	const struct sipd_row *row;
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
		for (size_t i = 0; i < sd->n_apps; i++)
			if (sd->apps[i].app->response)
				sd->apps[i].app->response(sd, m, src,
							  sd->apps[i].arg);
		return;
	}
	memset(&rq, 0, sizeof(rq));
	rq.sd = sd;
	rq.m = m;
	rq.tp = tp;
	rq.src = src;
	rq.conn = conn;
	rq.tarpit = gv == GUARD_TARPIT;
	code = sipmsg_check(m, &why);
	if (code) {
		sd->c_bad++;
		reply_check(&rq, code);
		return;
	}
	row = row_find(sd, m->met.p, m->met.l);
	if (row && row->check) {
		const char *reason = "Forbidden";

		code = row->check(&rq, &reason, row->arg);
		if (code) {
			sipd_reply(&rq, code, reason, NULL, 0);
			return;
		}
	}
	{
		const struct sipmsg_hdr *ua = sipmsg_hdr(m, SH_UA);
		/* a connection proves its source; a lone datagram does
		 * not (guard.h, struct guard_proof) */
		unsigned gf = (tp != SIPD_UDP ? GUARD_REQ_CONN : 0) |
			      (row ? row->guard : row_guard(sd, &m->met));

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
	if (row) {
		row->handler(&rq, row->arg);
		return;
	}
	sipd_reply(&rq, 501, "Not Implemented", sd->allow, sd->allow_len);
}

/* ---- life cycle ----------------------------------------------------- */

static void sipd_destructor(void *arg)
{
	struct sipd *sd = arg;

	tmr_cancel(&sd->trim);
	sipd_transport_free(sd);
	list_flush(&sd->tarpits);
	snapshot_free(sd->snap);
	mem_deref(sd->mb);
	mem_deref(sd->listen);
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
	{
		uint8_t salt[(sizeof(sd->totag_salt) - 1) / 2];

		randombytes_buf(salt, sizeof(salt));
		sodium_bin2hex(sd->totag_salt, sizeof(sd->totag_salt), salt,
			       sizeof(salt));
	}
	tmr_init(&sd->trim);
	list_init(&sd->tarpits);
	rows_init(sd);
	err = hash_alloc(&sd->conns, 1024);
	if (!err)
		err = hash_alloc(&sd->conn_srcs, 1024);
	list_init(&sd->conn_old[CONN_NEW]);
	list_init(&sd->conn_old[CONN_VALID]);
	list_init(&sd->outs);
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

/* Once a second: hand freed heap back after a connection flood. */
static void trim_tick(void *arg)
{
	struct sipd *sd = arg;

	tmr_start(&sd->trim, 1000, trim_tick, sd);
	sipd_tcp_trim(sd);
}

int sipd_alloc(struct sipd **sp, const struct sipd_conf *conf,
	       struct snapshot *snap)
{
	struct sipd *sd = NULL;
	int err;

	if (!sp || !conf)
		return EINVAL;
	err = sipd_new(&sd, snap);
	if (err)
		return err;
	sd->guard = conf->guard;
	if (conf->listen)
		err = str_dup(&sd->listen, conf->listen);
	/* tls: the context, and the listener when --sip-tls names one */
	if (!err && conf->tls_listen)
		err = str_dup(&sd->tls_listen, conf->tls_listen);
	if (!err && conf->tls_cert && conf->tls_key) {
		err = sipd_tls_setup(sd, conf->tls_cert, conf->tls_key);
		if (err)
			log_err(MOD, "tls: the certificate or key was refused "
				"(%s): no SIP over TLS", strerror(err));
		/* fatal only when --sip-tls asked for TLS */
		if (!conf->tls_listen)
			err = 0;
	}
	if (!err)
		err = sipd_listeners_open(sd, true, true);
	if (!err && conf->tls_listen) {
		err = sipd_tls_set(sd, true);
		if (err)
			log_err(MOD, "tls: cannot listen on %s: %s",
				conf->tls_listen, strerror(err));
		else
			log_info(MOD, "tls: listening on %s (TLS 1.2+)",
				 conf->tls_listen);
	}
	if (err) {
		log_err(MOD, "cannot listen on %s: %s",
			conf->listen ? conf->listen : "the sip ports",
			strerror(err));
		sd->snap = NULL;   /* not taken on failure */
		mem_deref(sd);
		return err;
	}
	sd->udp_on = sd->tcp_on = true;
	tmr_start(&sd->trim, 1000, trim_tick, sd);
	sipd_dbg_route(sd);
	{
		char a[64];

		re_snprintf(a, sizeof(a), "%J", &sd->laddr);
		log_info(MOD, "listening on %s (udp, tcp), realm %s, udp "
			 "receive buffer %d bytes", a, sd->set.realm,
			 sd->rcvbuf);
		log_info(MOD, "tcp: at most %zu connections (below the "
			 "descriptor limit), %zu unregistered per source",
			 sd->max_conns, sd->per_src);
	}
	*sp = sd;
	return 0;
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
	for (size_t i = 0; i < sd->n_apps; i++)
		if (sd->apps[i].app->apply)
			sd->apps[i].app->apply(sd, sd->apps[i].arg);
	snapshot_free(old);
}

json_t *sipd_status(struct sipd *sd)
{
	json_t *o, *l;
	char addr[64];

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
	if (sd->tls_on) {
		re_snprintf(addr, sizeof(addr), "%J", &sd->tls_laddr);
		json_array_append_new(l, json_pack("{s:s,s:s}", "transport",
						   "tls", "address", addr));
	}
	o = json_pack("{s:s, s:s, s:o, s:i, s:I, s:I, "
		      "s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I}}",
		      "state", "running", "realm", sd->set.realm, "listen", l,
		      "udp_rcvbuf", sd->rcvbuf,
		      "tcp_connections", (json_int_t)sd->n_conns,
		      "tarpit_pending", (json_int_t)sd->n_tarpit,
		      "counters",
		      "received", (json_int_t)sd->c_rx,
		      "sent", (json_int_t)sd->c_tx,
		      "malformed", (json_int_t)sd->c_bad,
		      "dropped", (json_int_t)sd->c_drop,
		      "tarpitted", (json_int_t)sd->c_tarpit,
		      "tarpit_overflow", (json_int_t)sd->c_tarpit_drop,
		      "keepalives", (json_int_t)sd->c_keepalive);
	if (!o)
		return NULL;
	json_object_set_new(o, "tcp", sipd_tcp_status(sd));
	json_object_set_new(o, "tls", sipd_tls_status(sd));
	json_object_set_new(o, "outbound", sipd_out_status(sd));
	for (size_t i = 0; i < sd->n_apps; i++)
		if (sd->apps[i].app->status)
			sd->apps[i].app->status(o, sd->apps[i].arg);
	return o;
}

void sipd_close(struct sipd *sd)
{
	mem_deref(sd);
}
