/*
 * sipd internals shared by the stack's rooms: sipd.c (input pipeline,
 * method table, applications, life cycle), conf.c (the "sip" settings
 * section), transport.c (UDP and TCP), reply.c (replies and the tarpit);
 * msg.c is the parser and writer (sipmsg.h). Nothing outside src/sip
 * includes this; everything not declared here stays static in its room.
 * Every function here runs on the loop thread only.
 */
#ifndef BULWARK_SIPD_PRIV_H
#define BULWARK_SIPD_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* libre's re.h clashes with jansson (JSON_* enums): include parts */
#include <re_types.h>
#include <re_fmt.h>
#include <re_mem.h>
#include <re_mbuf.h>
#include <re_list.h>
#include <re_hash.h>
#include <re_sa.h>
#include <re_tmr.h>

#include "common/log.h"
#include "sip/sipd.h"
#include "sip/sipd_int.h"
#include "sip/sipmsg.h"

#define MOD "sip"
#define OBUF 16384
#define XBUF 8192
#define DEFAULT_REALM SIPD_DEFAULT_REALM
#define SIPD_MAX_ROWS 32   /* method table */
#define SIPD_MAX_APPS 8

struct tcp_conn;
struct tcp_sock;
struct tls;
struct tls_conn;
struct udp_sock;
struct udp_batch;
struct conn_src;

/* ---- state ---------------------------------------------------------- */

/* What a TCP connection has shown of itself: it decides how long it may
 * stay idle, whether it counts against its source's limit and whether it
 * may be closed to make room for a new one. */
enum conn_state {
	CONN_NEW = 0,    /* no valid request yet */
	CONN_VALID,      /* valid requests, no registration */
	CONN_REG,        /* a phone registered over it */
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
	/* tls: accepted on the TLS listener (transport_tls.c) */
	struct tls_conn *tlsc; /* the TLS layer over tc; NULL for TCP */
	bool tls;
	bool hs;               /* handshake in progress (sd->n_tls_hs) */
	/* an outbound connection (transport_out.c); NULL when
	 * accepted */
	struct sipd_out *out;
};

/* One row of the method table: an application's (app set) or the
 * stack's own answer (OPTIONS, ACK, 405 for known methods nobody
 * serves). */
struct sipd_row {
	const char *method;
	size_t len;
	unsigned guard;
	unsigned (*check)(const struct sipd_req *rq, const char **reason,
			  void *arg);
	void (*handler)(struct sipd_req *rq, void *arg);
	void *arg;
	const struct sipd_app *app;   /* NULL: the stack's own row */
};

struct sipd {
	struct snapshot *snap;
	struct guard *guard;
	char *listen;
	/* settings from the snapshot */
	struct sipd_settings set;
	char totag_salt[17];
	/* the method table and the applications */
	struct sipd_row rows[SIPD_MAX_ROWS];
	size_t n_rows;
	struct {
		const struct sipd_app *app;
		void *arg;
	} apps[SIPD_MAX_APPS];
	size_t n_apps;
	char allow[192];           /* "Allow: ...\r\n" of served methods */
	size_t allow_len;
	/* network */
	struct udp_sock *us4, *us6;
	struct udp_batch *ub;      /* transport.c: batched UDP I/O */
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
	/* tls: SIP over TLS (transport_tls.c) */
	struct tcp_sock *tls4, *tls6;
	struct tls *tls;           /* context with our certificate */
	char *tls_listen;          /* --sip-tls, or NULL */
	struct sa tls_laddr;       /* what the TLS listener bound */
	bool tls_on;
	size_t n_tls_hs;           /* handshakes in progress */
	uint64_t c_tls_hs_ok, c_tls_hs_fail, c_tls_hs_deadline,
		c_tls_refused_hs;
	/* outbound connections (transport_out.c) */
	struct list outs;          /* struct sipd_out, open ones */
	size_t n_out;
	uint64_t c_out_ok, c_out_fail, c_out_verify_fail, c_out_ping;
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
	struct tmr trim;           /* once a second: sipd_tcp_trim */
	int64_t fixed_now;
	/* counters */
	uint64_t c_rx, c_tx, c_bad, c_drop, c_tarpit, c_tarpit_drop;
	struct sipmsg msg;
	char obuf[OBUF];
	char xbuf[XBUF];
};

/* ---- conf.c --------------------------------------------------------- */

/* Integer setting key of the "sip" section object o (NULL: none), or its
 * default when o does not set it. */
long sipd_setting(const json_t *o, const char *key);

/* Read realm, expiry bounds, intervals and limits from sd->snap into
 * sd->set (after every new snapshot). */
void sipd_settings_load(struct sipd *sd);

/* ---- reply.c -------------------------------------------------------- */

/* Format (re_vsnprintf) into sd->xbuf at off; returns the new offset,
 * sizeof(sd->xbuf) or more when it did not fit. */
size_t sipd_xput(struct sipd *sd, size_t off, const char *fmt, ...);

/* ---- transport.c ---------------------------------------------------- */

/* Send buf[0..len) to dst over tp (TCP: on connection conn), or hand it
 * to the offline output handler. 0 or errno; a failed TCP send closes
 * the connection. */
int sipd_send_raw(struct sipd *sd, enum sipd_tp tp, const struct sa *dst,
		  uint64_t conn, const char *buf, size_t len);

/* v4-mapped IPv6 from a dual-stack socket -> plain IPv4, in place. */
void sipd_sa_unmap(struct sa *s);

/* "addr:port" of a for log lines. */
void sipd_peer_str(const struct sa *a, char *buf, size_t sz);

/* A log line of an event the network paces (TCP, auth verdicts):
 * rate-limited, says how many were left out. */
void sipd_tcp_log(struct sipd *sd, enum log_level lvl, const char *fmt,
		  ...) __attribute__((format(printf, 3, 4)));

/* The open TCP connection with this id, or NULL (id 0: UDP). */
struct sipd_conn *sipd_tcp_find(struct sipd *sd, uint64_t id);

/* Connection id has shown st (a valid request, a registration); only
 * moves forward. Unknown ids are ignored. */
void sipd_tcp_promote(struct sipd *sd, uint64_t id, enum conn_state st);

/* Size the connection table from the descriptor limit. */
void sipd_tcp_limits(struct sipd *sd);

/* Hand freed heap back after a connection flood (from the sweep). */
void sipd_tcp_trim(struct sipd *sd);

/* The TCP part of sipd_status. New reference. */
json_t *sipd_tcp_status(const struct sipd *sd);

/* Open or close the UDP and/or TCP listeners. 0 or errno. */
int sipd_listeners_open(struct sipd *sd, bool udp, bool tcp);
void sipd_listeners_close(struct sipd *sd, bool udp, bool tcp);

/* tcp_conn's handlers for a connection accepted on ts from peer (TCP or,
 * tls set, TLS): the guard, the per-source cap, the table's bound. */
void sipd_conn_accept(struct sipd *sd, struct tcp_sock *ts,
		      const struct sa *peer, bool tls);

/* Close connection c now (out of every table; see conn_shut). */
void sipd_conn_shut(struct sipd_conn *c);

/* A listening TCP socket on laddr (backlog 1024) whose connections go to
 * connh. 0 or errno. */
int sipd_tcp_listen(struct sipd *sd, struct tcp_sock **tsp,
		    const struct sa *laddr,
		    void (*connh)(const struct sa *peer, void *arg));

/* an outbound connection's table entry (not in the table yet;
 * counted as registered: never evicted, no idle timer of its own), and
 * tcp_conn's receive handler, both for transport_out.c. */
struct sipd_conn *sipd_conn_new(struct sipd *sd, const struct sa *peer,
				bool tls);
void sipd_conn_table_add(struct sipd_conn *c);
void sipd_conn_recvh(struct mbuf *mb, void *arg);

/* ---- transport_out.c --------------------------------------- */

/* A send on outbound connection c: while it is not up, buf is queued
 * (*err: 0, or ENOBUFS beyond the bound) and true is returned; false:
 * send now. */
bool sipd_out_hold(struct sipd_conn *c, const char *buf, size_t len,
		   int *err);

/* c is being shut: its outbound part goes (the applications hear of it
 * from a timer). NULL-safe on c->out. */
void sipd_out_detach(struct sipd_conn *c);

/* Drop the close notices not delivered yet (sipd_transport_free, after
 * every connection is shut). */
void sipd_out_free(struct sipd *sd);

/* The outbound part of sipd_status. New reference. */
json_t *sipd_out_status(const struct sipd *sd);

/* ---- transport_tls.c ------------------------------------------------ */

/* The TLS context from a PEM certificate (chain) and key: TLS 1.2 and
 * later only. 0 or errno. */
int sipd_tls_setup(struct sipd *sd, const char *cert, const char *key);

/* Room for one more handshake (the global cap)? Counts a refusal. */
bool sipd_tls_admit(struct sipd *sd, const char *peer);

/* Put the TLS layer on c's new tcp_conn and start its handshake
 * deadline. 0 or errno (the caller closes c). */
int sipd_tls_attach(struct sipd_conn *c);

/* tcp_conn's estab handler of a TLS connection: the handshake is done. */
void sipd_tls_estab(void *arg);

/* Drop c's TLS layer (before its tcp_conn); NULL-safe on c->tlsc. */
void sipd_tls_detach(struct sipd_conn *c);

/* Open or close the TLS listener. 0, ENOTSUP (no certificate) or errno. */
int sipd_tls_set(struct sipd *sd, bool on);

/* The TLS part of sipd_status. New reference. */
json_t *sipd_tls_status(const struct sipd *sd);

/* Listener and context; from sipd_transport_free. */
void sipd_tls_free(struct sipd *sd);

/* Route libre's own error lines to our log (debug level, rate-limited). */
void sipd_dbg_route(struct sipd *sd);

/* Close listeners and connections, give libre's printing back; from
 * sipd's destructor. */
void sipd_transport_free(struct sipd *sd);

#endif
