/*
 * transport_tls — SIP over TLS (RFC 3261 §26): a TLS listener whose
 * connections are sipd's TCP connections (transport.c) with libre's TLS
 * layer between the socket and the framing. Everything TCP has applies:
 * the connection table's bound, the per-source cap on unregistered
 * connections, idle timers, the deadline of a partial message, CRLF
 * keep-alives; requests to a phone go over the connection it registered
 * on, as over TCP.
 *
 * What TLS adds is the handshake, the expensive part a flood aims at:
 * TLS 1.2 and later only, no renegotiation; at most tls_handshakes
 * handshakes in progress at once (a connection beyond that is closed at
 * accept, before any cryptography), and a handshake not finished within
 * tls_handshake_timeout seconds closes its connection. The loop does the
 * handshake work itself (an ECDSA P-256 signature, well under a
 * millisecond), so the cap bounds what a flood can take from it.
 */
#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "common/sip_settings.h"
#include "sip/sipd_priv.h"
#include "store/snapshot.h"
#include <re_tcp.h>
#include <re_srtp.h>
#include <re_tls.h>

/* The defaults when the snapshot has no sip section (offline tests). */
#define TLS_HS_MAX_DEFAULT 64
#define TLS_HS_S_DEFAULT 5

/* ---- context -------------------------------------------------------- */

int sipd_tls_setup(struct sipd *sd, const char *cert, const char *key)
{
	struct tls *tls = NULL;
	SSL_CTX *ctx;
	int err;

	if (!sd || !cert || !key)
		return EINVAL;
	err = tls_alloc(&tls, TLS_METHOD_SSLV23, NULL, NULL);
	if (err)
		return err;
	err = tls_set_certificate_pem(tls, cert, strlen(cert), key,
				      strlen(key));
	if (err)
		goto out;
	ctx = tls_openssl_context(tls);
	if (!ctx) {
		err = EINVAL;
		goto out;
	}
	/* TLS 1.0 and 1.1 are refused at the handshake; a client may not
	 * renegotiate (a renegotiation costs us a handshake on a connection
	 * the handshake cap no longer counts) */
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		err = EINVAL;
		goto out;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
			    SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* a registered phone's connection is idle nearly always: its read
	 * and write buffers go back between records */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	mem_deref(sd->tls);
	sd->tls = tls;
	tls = NULL;
 out:
	mem_deref(tls);
	return err;
}

/* ---- handshakes ----------------------------------------------------- */

static size_t hs_max(const struct sipd *sd)
{
	const struct sip_settings *ss = sd->snap ? snapshot_sip(sd->snap) :
		NULL;

	return ss && ss->tls_handshakes ? ss->tls_handshakes :
		TLS_HS_MAX_DEFAULT;
}

static uint64_t hs_ms(const struct sipd *sd)
{
	const struct sip_settings *ss = sd->snap ? snapshot_sip(sd->snap) :
		NULL;

	return (ss && ss->tls_handshake_timeout ? ss->tls_handshake_timeout :
		TLS_HS_S_DEFAULT) * 1000u;
}

bool sipd_tls_admit(struct sipd *sd, const char *peer)
{
	if (sd->n_tls_hs < hs_max(sd))
		return true;
	sd->c_tls_refused_hs++;
	sipd_tcp_log(sd, LOG_LVL_WARN, "tls: %zu handshakes in progress "
		     "(tls_handshakes): %s refused", sd->n_tls_hs, peer);
	return false;
}

static void hs_end(struct sipd_conn *c)
{
	if (!c->hs)
		return;
	c->hs = false;
	if (c->sd->n_tls_hs)
		c->sd->n_tls_hs--;
}

static void hs_deadline(void *arg)
{
	struct sipd_conn *c = arg;
	char ps[64];

	c->sd->c_tls_hs_deadline++;
	sipd_peer_str(&c->peer, ps, sizeof(ps));
	sipd_tcp_log(c->sd, LOG_LVL_INFO, "tls: %s did not finish its "
		     "handshake within %llu ms: connection closed", ps,
		     (unsigned long long)hs_ms(c->sd));
	sipd_conn_shut(c);
}

int sipd_tls_attach(struct sipd_conn *c)
{
	struct sipd *sd = c->sd;
	int err, fd, one = 1;

	if (!sd->tls)
		return ENOTSUP;
	err = tls_start_tcp(&c->tlsc, sd->tls, c->tc, 0);
	if (err)
		return err;
	/* OpenSSL writes a handshake flight as several records, each its own
	 * send(): with Nagle the second waits for the peer's delayed ACK
	 * (measured: 26 ms per new connection instead of 1) */
	fd = tcp_conn_fd(c->tc);
	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				 sizeof(one));
	c->hs = true;
	sd->n_tls_hs++;
	/* the partial-message deadline is idle until the first plaintext
	 * octet, which comes after the handshake: it times the handshake */
	tmr_start(&c->deadline, hs_ms(sd), hs_deadline, c);
	return 0;
}

void sipd_tls_estab(void *arg)
{
	struct sipd_conn *c = arg;

	if (!c->hs)
		return;
	hs_end(c);
	c->sd->c_tls_hs_ok++;
	tmr_cancel(&c->deadline);
}

void sipd_tls_detach(struct sipd_conn *c)
{
	if (c->hs) {
		/* closed during its handshake: the peer gave up, failed
		 * (a refused version, garbage) or the deadline struck */
		c->sd->c_tls_hs_fail++;
		hs_end(c);
	}
	c->tlsc = mem_deref(c->tlsc);
}

/* ---- listener ------------------------------------------------------- */

static void on_tls_conn(const struct sa *peer, void *arg)
{
	struct sipd *sd = arg;
	struct tcp_sock *ts = sa_af(peer) == AF_INET && sd->tls4 ? sd->tls4 :
		(sd->tls6 ? sd->tls6 : sd->tls4);

	sipd_conn_accept(sd, ts, peer, true);
}

/* Where TLS listens: --sip-tls; else the --sip address with the sip
 * section's tls_port; else tls_port on every address (*any). */
static int tls_addr(struct sipd *sd, struct sa *a, bool *any)
{
	const struct sip_settings *ss = snapshot_sip(sd->snap);
	uint16_t port = ss && ss->tls_port ? ss->tls_port : 5061;
	int err;

	*any = false;
	if (sd->tls_listen)
		return sa_decode(a, sd->tls_listen, strlen(sd->tls_listen));
	if (sd->listen) {
		err = sa_decode(a, sd->listen, strlen(sd->listen));
		if (!err)
			sa_set_port(a, port);
		return err;
	}
	*any = true;
	return sa_set_str(a, "::", port);
}

static void tls_close(struct sipd *sd)
{
	sd->tls4 = mem_deref(sd->tls4);
	sd->tls6 = mem_deref(sd->tls6);
	sd->tls_on = false;
}

int sipd_tls_set(struct sipd *sd, bool on)
{
	struct sa a;
	bool any;
	int err;

	if (!on) {
		tls_close(sd);
		return 0;
	}
	if (sd->tls_on)
		return 0;
	if (!sd->tls)
		return ENOTSUP;
	err = tls_addr(sd, &a, &any);
	if (err)
		return err;
	if (!any) {
		err = sipd_tcp_listen(sd, sa_af(&a) == AF_INET ? &sd->tls4 :
				      &sd->tls6, &a, on_tls_conn);
	}
	else {
		/* dual stack on [::]; plain IPv4 if IPv6 is off */
		err = sipd_tcp_listen(sd, &sd->tls6, &a, on_tls_conn);
		if (err) {
			sa_set_str(&a, "0.0.0.0", sa_port(&a));
			err = sipd_tcp_listen(sd, &sd->tls4, &a, on_tls_conn);
		}
	}
	if (err) {
		tls_close(sd);
		return err;
	}
	sd->tls_laddr = a;
	sd->tls_on = true;
	return 0;
}

json_t *sipd_tls_status(const struct sipd *sd)
{
	char addr[64] = "";

	if (sd->tls_on)
		re_snprintf(addr, sizeof(addr), "%J", &sd->tls_laddr);
	return json_pack("{s:b, s:s, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I}}",
			 "listening", sd->tls_on, "address", addr,
			 "handshakes", (json_int_t)sd->n_tls_hs,
			 "handshake_limit", (json_int_t)hs_max(sd),
			 "handshake_timeout_ms", (json_int_t)hs_ms(sd),
			 "counters",
			 "handshakes_ok", (json_int_t)sd->c_tls_hs_ok,
			 "handshakes_failed", (json_int_t)sd->c_tls_hs_fail,
			 "handshake_timeouts",
			 (json_int_t)sd->c_tls_hs_deadline,
			 "refused_handshakes",
			 (json_int_t)sd->c_tls_refused_hs);
}

void sipd_tls_free(struct sipd *sd)
{
	tls_close(sd);
	sd->tls = mem_deref(sd->tls);
	sd->tls_listen = mem_deref(sd->tls_listen);
}

bool sipd_transport_on(const struct sipd *sd, const char *transport)
{
	if (!sd || !transport)
		return false;
	if (!strcmp(transport, "udp"))
		return sd->udp_on;
	if (!strcmp(transport, "tcp"))
		return sd->tcp_on;
	return !strcmp(transport, "tls") && sd->tls_on;
}
