/*
 * transport_out — outbound connections (issue 15): sipd connects
 * out over TCP or TLS to a peer that cannot reach us first (a trunk's
 * registrar or proxy). An outbound connection is an entry of sipd's
 * connection table (transport.c) like an accepted one: the same framing,
 * input pipeline and send path, so responses and the peer's requests on
 * it (RFC 5626 flow reuse: inbound calls of a trunk that registered over
 * it) are handled as for phones. What is different:
 *
 * * it is reused: sipd_connect hands out the open connection to the same
 *   transport, address, name and TLS trust settings;
 * * it is counted as "registered" (never evicted for an unregistered
 *   one), bounded by OUT_MAX of them and by the table's own bound;
 * * until it is up (TCP connected; TLS: handshake done and the server's
 *   certificate checked), what is sent waits in a queue (OUT_QUEUE_MAX
 *   octets); OUT_CONNECT_MS bounds the wait. A connection whose
 *   certificate fails the check is closed before anything is sent;
 * * while up, a CRLFCRLF ping (RFC 5626 §4.4.1) every OUT_KA_MS keeps
 *   NAT bindings and detects a dead peer (the send fails); OUT_IDLE_MS
 *   without a message sent closes it;
 * * when it closes, every application's conn_closed hook hears why, from
 *   a timer (never inside a send).
 *
 * TLS client: TLS 1.2 and later, no renegotiation; with verify, the
 * chain is checked against the CA file given (only it) or the system's
 * store, and the name: a DNS name (SNI sent, no partial wildcards) or
 * the IP address (subjectAltName iPAddress). Each connection has its
 * own client context: trunks are few, and their trust settings differ.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "sip/sipd_priv.h"
#include <re_tcp.h>
#include <re_srtp.h>
#include <re_tls.h>

#define OUT_MAX 64
#define OUT_CONNECT_MS 10000
#define OUT_QUEUE_MAX (64 * 1024)
#define OUT_KA_MS 30000
#define OUT_IDLE_MS (2ull * 3600 * 1000)

struct sipd_out {
	struct le le;             /* sd->outs */
	struct sipd *sd;
	struct sipd_conn *c;      /* NULL once shut */
	uint64_t id;
	enum sipd_tp tp;
	struct sa dst;
	char name[256], ca[256];
	bool verify, up;
	struct tls *ctx;          /* TLS: this connection's client context */
	struct mbuf *q;           /* sent before it was up */
	struct tmr tmr;           /* connect deadline, keep-alive; once
				   * shut: the notice to the applications */
	uint64_t last_use;
	char why[160];
};

static const char *tp_name(enum sipd_tp tp)
{
	return tp == SIPD_TLS ? "TLS" : "TCP";
}

static void out_destructor(void *arg)
{
	struct sipd_out *o = arg;

	tmr_cancel(&o->tmr);
	list_unlink(&o->le);
	mem_deref(o->q);
	mem_deref(o->ctx);
}

static void shut(struct sipd_out *o, const char *why)
{
	if (!o->c)
		return;
	if (why && !o->why[0])
		snprintf(o->why, sizeof(o->why), "%s", why);
	sipd_conn_shut(o->c);   /* calls sipd_out_detach */
}

/* ---- TLS client context --------------------------------------------- */

static int ex_idx(void)
{
	static int idx = -1;

	if (idx < 0)
		idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	return idx;
}

/* OpenSSL's verdict on each certificate of the chain: the first failure
 * is kept as the connection's reason. */
static int verify_cb(int ok, X509_STORE_CTX *store)
{
	SSL *ssl;
	struct sipd_out *o;

	if (ok)
		return ok;
	ssl = X509_STORE_CTX_get_ex_data(store,
					 SSL_get_ex_data_X509_STORE_CTX_idx());
	o = ssl ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ex_idx()) : NULL;
	if (o && !o->why[0])
		snprintf(o->why, sizeof(o->why), "TLS: the server's "
			 "certificate failed verification: %s",
			 X509_verify_cert_error_string(
				 X509_STORE_CTX_get_error(store)));
	return ok;
}

static int ctx_make(struct sipd_out *o, char *why, size_t wsz)
{
	X509_VERIFY_PARAM *param;
	SSL_CTX *ctx;
	struct sa ip;
	int err;

	err = tls_alloc(&o->ctx, TLS_METHOD_SSLV23, NULL, NULL);
	if (err) {
		snprintf(why, wsz, "TLS: no client context (%s)",
			 strerror(err));
		return err;
	}
	ctx = tls_openssl_context(o->ctx);
	if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		snprintf(why, wsz, "TLS: no client context");
		return EINVAL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	if (!o->verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	if (o->ca[0]) {
		if (SSL_CTX_load_verify_locations(ctx, o->ca, NULL) != 1) {
			snprintf(why, wsz, "TLS: cannot read a PEM certificate "
				 "from the CA file %s", o->ca);
			return ENOENT;
		}
	}
	else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(why, wsz, "TLS: cannot load the system's CA store");
		return ENOENT;
	}
	param = SSL_CTX_get0_param(ctx);
	if (!sa_set_str(&ip, o->name, 0)) {
		err = X509_VERIFY_PARAM_set1_ip_asc(param, o->name) != 1;
	}
	else {
		X509_VERIFY_PARAM_set_hostflags(param,
			X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		err = X509_VERIFY_PARAM_set1_host(param, o->name, 0) != 1;
	}
	if (err || SSL_CTX_set_ex_data(ctx, ex_idx(), o) != 1) {
		snprintf(why, wsz, "TLS: cannot check the name %s", o->name);
		return EINVAL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
	return 0;
}

/* ---- life ----------------------------------------------------------- */

static void keepalive(void *arg)
{
	struct sipd_out *o = arg;
	struct mbuf *mb;
	int err;

	if (!o->c || !o->c->tc)
		return;
	if (tmr_jiffies() - o->last_use > OUT_IDLE_MS) {
		shut(o, "idle: closed");
		return;
	}
	mb = mbuf_alloc(4);
	if (!mb)
		goto again;
	(void)mbuf_write_str(mb, "\r\n\r\n");
	mb->pos = 0;
	err = tcp_send(o->c->tc, mb);
	mem_deref(mb);
	if (err) {
		char w[96];

		snprintf(w, sizeof(w), "keep-alive failed (%s)",
			 strerror(err));
		shut(o, w);
		return;
	}
	o->sd->c_out_ping++;
 again:
	tmr_start(&o->tmr, OUT_KA_MS, keepalive, o);
}

static void connect_deadline(void *arg)
{
	struct sipd_out *o = arg;
	char w[96];

	snprintf(w, sizeof(w), "%s connection not up within %u s",
		 tp_name(o->tp), OUT_CONNECT_MS / 1000);
	shut(o, w);
}

static void shut_now(void *arg)
{
	shut(arg, NULL);
}

static void out_estab(void *arg)
{
	struct sipd_conn *c = arg;
	struct sipd_out *o = c->out;
	char ps[64];
	int err = 0;

	if (!o || o->up)
		return;
	if (o->tp == SIPD_TLS && o->verify && tls_peer_verify(c->tlsc)) {
		/* a second guard (the handshake fails first): closed from a
		 * timer, not inside libre's handler */
		o->sd->c_out_verify_fail++;
		if (!o->why[0])
			snprintf(o->why, sizeof(o->why), "TLS: the server's "
				 "certificate failed verification");
		tmr_start(&o->tmr, 0, shut_now, o);
		return;
	}
	o->up = true;
	o->sd->c_out_ok++;
	sipd_peer_str(&o->dst, ps, sizeof(ps));
	log_info(MOD, "connected to %s over %s%s%s", ps, tp_name(o->tp),
		 o->tp == SIPD_TLS ? " " : "",
		 o->tp == SIPD_TLS ? (o->verify ? "(certificate verified)" :
				      "(certificate NOT verified)") : "");
	if (o->q) {
		o->q->pos = 0;
		err = tcp_send(c->tc, o->q);
		o->q = mem_deref(o->q);
	}
	if (err) {
		if (!o->why[0])
			snprintf(o->why, sizeof(o->why), "sending failed (%s)",
				 strerror(err));
		tmr_start(&o->tmr, 0, shut_now, o);
		return;
	}
	tmr_start(&o->tmr, OUT_KA_MS, keepalive, o);
}

static void out_close(int err, void *arg)
{
	struct sipd_conn *c = arg;
	struct sipd_out *o = c->out;
	char w[128];

	if (!o) {
		sipd_conn_shut(c);
		return;
	}
	if (o->why[0] && !o->up)
		o->sd->c_out_verify_fail++;
	if (o->up)
		snprintf(w, sizeof(w), "%s connection closed%s%s",
			 tp_name(o->tp), err ? ": " : " by the peer",
			 err ? strerror(err) : "");
	else
		snprintf(w, sizeof(w), "cannot connect over %s: %s",
			 tp_name(o->tp), err ? strerror(err) :
			 "closed by the peer");
	shut(o, w);
}

/* The notice to the applications, then the record goes. */
static void notify(void *arg)
{
	struct sipd_out *o = arg;
	struct sipd *sd = o->sd;

	for (size_t i = 0; i < sd->n_apps; i++)
		if (sd->apps[i].app->conn_closed)
			sd->apps[i].app->conn_closed(sd, o->id, o->why,
						     sd->apps[i].arg);
	mem_deref(o);
}

void sipd_out_detach(struct sipd_conn *c)
{
	struct sipd_out *o = c->out;
	char ps[64];

	if (!o)
		return;
	c->out = NULL;
	o->c = NULL;
	if (o->sd->n_out)
		o->sd->n_out--;
	if (!o->up)
		o->sd->c_out_fail++;
	if (!o->why[0])
		snprintf(o->why, sizeof(o->why), "%s connection closed",
			 tp_name(o->tp));
	sipd_peer_str(&o->dst, ps, sizeof(ps));
	sipd_tcp_log(o->sd, o->up ? LOG_LVL_INFO : LOG_LVL_WARN,
		     "outbound %s connection to %s: %s", tp_name(o->tp), ps,
		     o->why);
	o->q = mem_deref(o->q);
	tmr_start(&o->tmr, 0, notify, o);
}

bool sipd_out_hold(struct sipd_conn *c, const char *buf, size_t len,
		   int *err)
{
	struct sipd_out *o = c->out;

	o->last_use = tmr_jiffies();
	*err = 0;
	if (o->up)
		return false;
	if (!o->q)
		o->q = mbuf_alloc(len);
	if (!o->q || o->q->end + len > OUT_QUEUE_MAX)
		*err = ENOBUFS;
	else
		*err = mbuf_write_mem(o->q, (const uint8_t *)buf, len);
	return true;
}

static struct sipd_out *out_find(struct sipd *sd, const struct sipd_peer *p,
				 const char *name, const char *ca)
{
	for (struct le *le = list_head(&sd->outs); le; le = le->next) {
		struct sipd_out *o = le->data;

		if (o->c && o->tp == p->tp &&
		    sa_cmp(&o->dst, p->dst, SA_ALL) &&
		    !strcmp(o->name, name) && !strcmp(o->ca, ca) &&
		    o->verify == p->verify)
			return o;
	}
	return NULL;
}

int sipd_connect(struct sipd *sd, const struct sipd_peer *p,
		 uint64_t *conn, char *why, size_t wsz)
{
	struct sipd_out *o;
	struct sipd_conn *c;
	char name[256];
	const char *ca = p && p->ca_file ? p->ca_file : "";
	int err, fd, one = 1;

	if (!sd || !p || !p->dst || !conn || !why || !wsz ||
	    (p->tp != SIPD_TCP && p->tp != SIPD_TLS) ||
	    !sa_isset(p->dst, SA_ALL))
		return EINVAL;
	why[0] = '\0';
	if (p->name && p->name[0])
		snprintf(name, sizeof(name), "%s", p->name);
	else
		re_snprintf(name, sizeof(name), "%j", p->dst);
	o = out_find(sd, p, name, p->tp == SIPD_TLS ? ca : "");
	if (o) {
		*conn = o->id;
		return 0;
	}
	if (sd->outh) {
		/* offline tests: nothing to connect */
		snprintf(why, wsz, "no network (offline)");
		return ENOTCONN;
	}
	if (sd->n_out >= OUT_MAX || sd->n_conns >= sd->max_conns) {
		snprintf(why, wsz, "%zu outbound connections (the limit)",
			 sd->n_out);
		return EMFILE;
	}
	o = mem_zalloc(sizeof(*o), out_destructor);
	if (!o)
		return ENOMEM;
	o->sd = sd;
	o->tp = p->tp;
	o->dst = *p->dst;
	snprintf(o->name, sizeof(o->name), "%s", name);
	if (p->tp == SIPD_TLS)
		snprintf(o->ca, sizeof(o->ca), "%s", ca);
	o->verify = p->verify;
	o->last_use = tmr_jiffies();
	tmr_init(&o->tmr);
	if (p->tp == SIPD_TLS) {
		err = ctx_make(o, why, wsz);
		if (err)
			goto fail;
	}
	c = sipd_conn_new(sd, p->dst, p->tp == SIPD_TLS);
	if (!c) {
		err = ENOMEM;
		goto fail;
	}
	err = tcp_connect(&c->tc, p->dst, out_estab, sipd_conn_recvh,
			  out_close, c);
	if (!err && p->tp == SIPD_TLS) {
		err = tls_start_tcp(&c->tlsc, o->ctx, c->tc, 0);
		/* SNI for a name (RFC 6066: never an address) */
		if (!err && sa_set_str(&(struct sa){0}, o->name, 0))
			err = tls_set_servername(c->tlsc, o->name);
	}
	if (err) {
		snprintf(why, wsz, "cannot connect over %s: %s",
			 tp_name(o->tp), strerror(err));
		c->tlsc = mem_deref(c->tlsc);
		c->tc = mem_deref(c->tc);
		mem_deref(c);
		goto fail;
	}
	tcp_conn_txqsz_set(c->tc, OUT_QUEUE_MAX);
	fd = tcp_conn_fd(c->tc);
	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				 sizeof(one));
	o->c = c;
	o->id = c->id;
	c->out = o;
	sipd_conn_table_add(c);
	list_append(&sd->outs, &o->le, o);
	sd->n_out++;
	tmr_start(&o->tmr, OUT_CONNECT_MS, connect_deadline, o);
	*conn = o->id;
	return 0;
 fail:
	sd->c_out_fail++;
	mem_deref(o);
	return err;
}

void sipd_out_free(struct sipd *sd)
{
	list_flush(&sd->outs);
}

json_t *sipd_out_status(const struct sipd *sd)
{
	json_t *a = json_array();

	for (struct le *le = list_head(&sd->outs); a && le; le = le->next) {
		const struct sipd_out *o = le->data;
		char ps[64];

		if (!o->c)
			continue;
		sipd_peer_str(&o->dst, ps, sizeof(ps));
		json_array_append_new(a, json_pack(
			"{s:I, s:s, s:s, s:s, s:b, s:b}", "id",
			(json_int_t)o->id, "transport",
			o->tp == SIPD_TLS ? "tls" : "tcp", "peer", ps,
			"name", o->name, "up", o->up, "verify", o->verify));
	}
	return json_pack("{s:I, s:i, s:o, s:{s:I, s:I, s:I, s:I}}",
			 "connections", (json_int_t)sd->n_out, "limit",
			 OUT_MAX, "open", a ? a : json_array(), "counters",
			 "connected", (json_int_t)sd->c_out_ok, "failed",
			 (json_int_t)sd->c_out_fail, "verify_failed",
			 (json_int_t)sd->c_out_verify_fail, "keepalives",
			 (json_int_t)sd->c_out_ping);
}
