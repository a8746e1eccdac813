/*
 * sipd internals shared by its rooms (issue 9, step one): sipd.c (input
 * pipeline, method table, REGISTER, life cycle), conf.c (the "sip"
 * settings section), transport.c (UDP and TCP), reply.c (replies and the
 * tarpit), qualify.c (qualify, keep-alives, expiry). Nothing outside
 * src/sip includes this; everything not declared here stays static in
 * its room. Every function here runs on the loop thread only.
 */
#ifndef BULWARK_SIPD_PRIV_H
#define BULWARK_SIPD_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <sodium.h>

#include "common/log.h"
#include "registrar/registrar.h"   /* brings the libre headers */
#include "sip/sipd.h"
#include "sip/sipd_int.h"
#include "sip/sipmsg.h"

#define MOD "sip"
#define OBUF 16384
#define XBUF 8192
#define DEFAULT_REALM "bulwark"

struct tcp_conn;
struct tcp_sock;
struct udp_sock;
struct udp_batch;
struct conn_src;
struct chal_slot;

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
};

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

/* Unix seconds: the fixed clock of tests (sipd_set_clock), else now. */
static inline int64_t sipd_now(const struct sipd *sd)
{
	return sd->fixed_now ? sd->fixed_now : (int64_t)time(NULL);
}

/* ---- sipd.c --------------------------------------------------------- */

/* The extension numbered num[0..len) in the snapshot, or NULL. */
const struct snap_ext *sipd_find_ext(const struct snapshot *s,
				     const char *num, size_t len);

/* Recount the auth.algorithms lists real extensions use (the mix that
 * unknown users are challenged from). */
void sipd_mix_load(struct sipd *sd);

/* reg_loc's change handler: passes every binding change on to the
 * persistence writer. arg is the sipd. */
void sipd_reg_changed(enum reg_op op, const struct reg_binding *b,
		      void *arg);

/* ---- conf.c --------------------------------------------------------- */

/* Integer setting key of the "sip" section object o (NULL: none), or its
 * default when o does not set it. */
long sipd_setting(const json_t *o, const char *key);

/* Read realm, expiry bounds, intervals and limits from sd->snap into sd
 * (after every new snapshot). */
void sipd_settings_load(struct sipd *sd);

/* ---- reply.c -------------------------------------------------------- */

/* Answer rq with code and reason, extra header lines extra[0..xlen)
 * (may be NULL), at once or on a tarpit timer when rq->tarpit. */
void sipd_reply(struct req *rq, unsigned code, const char *reason,
		const char *extra, size_t xlen);

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

/* Route libre's own error lines to our log (debug level, rate-limited). */
void sipd_dbg_route(struct sipd *sd);

/* Close listeners and connections, give libre's printing back; from
 * sipd's destructor. */
void sipd_transport_free(struct sipd *sd);

/* ---- qualify.c ------------------------------------------------------ */

/* A response: the answer to one of our qualify OPTIONS, or ignored. */
void sipd_qualify_response(struct sipd *sd, struct sipmsg *m);

/* The once-a-second timer: expiry, qualify, keep-alives. arg is the
 * sipd. */
void sipd_sweep(void *arg);

#endif
