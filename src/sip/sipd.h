/*
 * sipd — the SIP stack of bulwarkd (data plane): transports, the strict
 * parser (msg.c), the input pipeline and the method table, replies and
 * the tarpit. It knows no application: the registrar (and, next, the
 * call layer and voicemail) register their methods as rows
 * {method, guard flags, check, handler} with sipd_app_register.
 *
 * Every function here runs on the loop thread only. This header includes
 * no libre header (theirs have no include guards): the caller includes
 * the parts it uses once.
 */
#ifndef BULWARK_SIPD_H
#define BULWARK_SIPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/log.h"
#include "sip/sipmsg.h"

struct sa;
struct sipd;
struct store_section;   /* store/store.h: only the registering code needs it */
struct snapshot;
struct guard;

enum sipd_tp { SIPD_UDP = 0, SIPD_TCP = 1, SIPD_TLS = 2 };

/* The realm when none is configured (not a host name). */
#define SIPD_DEFAULT_REALM "bulwark"

struct sipd_conf {
	const char *listen;     /* "ADDR:PORT" (IPv6 as "[::1]:5060") from
				 * --sip, or NULL: the sip section's port on
				 * all addresses */
	struct guard *guard;    /* may be NULL */
	/* tls: SIP over TLS. tls_cert/tls_key (PEM, read at start; NULL: no
	 * TLS) make the context; tls_listen ("ADDR:PORT", --sip-tls) opens
	 * the listener at once (else the services manager may, on the
	 * --sip address or every address, port tls_port) */
	const char *tls_listen;
	const char *tls_cert, *tls_key;
};

/* Start listening (UDP and TCP). Takes ownership of snap. Returns 0 or an
 * errno code. */
int sipd_alloc(struct sipd **sp, const struct sipd_conf *conf,
	       struct snapshot *snap);

/* Swap in a newly committed snapshot (takes ownership; frees the previous
 * one after every application has applied the new one). */
void sipd_apply_snapshot(struct sipd *sd, struct snapshot *snap);

/* Status for 'bulwark status': listeners, counters, and what every
 * application adds (struct sipd_app status). New reference. */
json_t *sipd_status(struct sipd *sd);

/* The "sip" settings section: realm, ports (udp_port, tcp_port, tls_port),
 * rtp_start/rtp_end, expiry bounds. Registered by the daemon at start. */
extern const struct store_section sipd_section;

/* Start or stop one transport ("udp", "tcp", "tls") — the network services
 * manager drives this. Returns 0, ENOTSUP (tls without a certificate) or
 * errno. */
int sipd_transport_set(struct sipd *sd, const char *transport, bool on);

/* Stop listening; NULL-safe. Applications are closed before. */
void sipd_close(struct sipd *sd);

/* ---- for applications ------------------------------------------------ */

/* The "sip" settings as the stack read them from the running snapshot
 * (decoded once per snapshot). */
struct sipd_settings {
	char realm[64];
	int64_t min_expires, max_expires, default_expires;
	int64_t nonce_ttl;
	int64_t qualify_interval, keepalive_interval;
	size_t max_bindings;
};

/* A request handed to a method handler: valid during the call only. */
struct sipd_req {
	struct sipd *sd;
	struct sipmsg *m;      /* parsed and checked (sipmsg_check) */
	enum sipd_tp tp;
	const struct sa *src;  /* where it came from */
	uint64_t conn;         /* TCP connection id, 0 for UDP */
	bool tarpit;           /* the guard asked for a delayed answer */
};

/* One row of the method table. guard: GUARD_REQ_* flags the guard sees
 * with the request (guard_request). check (may be NULL) runs before the
 * guard: 0 lets the request through, a status code >= 400 is answered
 * with reason. handler answers (or not) with sipd_reply. */
struct sipd_method {
	const char *method;
	unsigned guard;
	unsigned (*check)(const struct sipd_req *rq, const char **reason,
			  void *arg);
	void (*handler)(struct sipd_req *rq, void *arg);
};

/* An application of the stack: its method rows and hooks (each may be
 * NULL). response: a response (from src) to a request an application
 * sent: every application sees every response and ignores what is not
 * its own.
 * apply: a new snapshot is in place (sipd_snapshot) and the settings are
 * read (sipd_settings); the previous snapshot is freed after the call.
 * status: add the application's part to sipd_status's object. */
struct sipd_app {
	const char *name;
	const struct sipd_method *methods;
	size_t n_methods;
	void (*response)(struct sipd *sd, struct sipmsg *m,
			 const struct sa *src, void *arg);
	void (*apply)(struct sipd *sd, void *arg);
	void (*status)(json_t *o, void *arg);
	/* outbound connection conn (sipd_connect) closed or
	 * failed (why: a sentence for a status/log); called from a timer,
	 * never from inside a send */
	void (*conn_closed)(struct sipd *sd, uint64_t conn, const char *why,
			    void *arg);
};

/* Register app (static; not copied) with arg for its hooks. A method row
 * replaces the stack's own answer for that method (405 for a known
 * method nobody serves); the methods apps serve, in registration order,
 * make the Allow header. 0, EEXIST (a method already served by another
 * application), ENOSPC (table full) or EINVAL. */
int sipd_app_register(struct sipd *sd, const struct sipd_app *app,
		      void *arg);

/* Remove every row and hook registered with arg; NULL-safe. */
void sipd_app_unregister(struct sipd *sd, void *arg);

/* The running snapshot (borrowed: valid until the next apply hook) and
 * the stack's reading of its "sip" section. */
const struct snapshot *sipd_snapshot(const struct sipd *sd);
const struct sipd_settings *sipd_settings(const struct sipd *sd);

/* The salt of the To tags the stack writes (sipmsg_totag). */
const char *sipd_totag_salt(const struct sipd *sd);

/* The guard the stack was given (may be NULL). */
struct guard *sipd_guard(const struct sipd *sd);

/* Unix seconds: the fixed clock of tests (sipd_set_clock), else now. */
int64_t sipd_now(const struct sipd *sd);

/* Answer rq with code and reason, extra header lines extra[0..xlen)
 * (may be NULL), at once or on a tarpit timer when rq->tarpit. */
void sipd_reply(struct sipd_req *rq, unsigned code, const char *reason,
		const char *extra, size_t xlen);

/* Send buf[0..len) (a request of ours, a keep-alive) to dst over tp (TCP:
 * on connection conn only; nothing when it is gone). 0 or errno. */
int sipd_send(struct sipd *sd, enum sipd_tp tp, const struct sa *dst,
	      uint64_t conn, const char *buf, size_t len);

/* Our address as dst sees it, for a request we send: the listen address
 * when bound to one, else the local end of TCP connection conn, else the
 * address the kernel would send from over UDP. 0 or ENOENT. */
int sipd_local_addr(struct sipd *sd, enum sipd_tp tp, uint64_t conn,
		    const struct sa *dst, struct sa *out);

/* TCP connection conn is open (a request to a phone that registered
 * over it can go; there is no other way to reach it: we never connect
 * out). UDP (conn 0) is always true. */
bool sipd_conn_alive(struct sipd *sd, uint64_t conn);

/* ---- outbound connections (transport_out.c) ------------------ */

/* Where an outbound connection goes. */
struct sipd_peer {
	enum sipd_tp tp;        /* SIPD_TCP or SIPD_TLS */
	const struct sa *dst;   /* the address (port set) */
	const char *name;       /* TLS: the host name for SNI and the
				 * certificate's name check; NULL or "":
				 * dst's address is checked instead */
	const char *ca_file;    /* TLS: PEM file of trusted CAs; NULL or
				 * "": the system's CA store */
	bool verify;            /* TLS: check the server's certificate */
};

/* The open outbound connection to p (same transport, address, name, CA
 * file and verify), else a new one, connecting: what is sent on it
 * before it is up (TLS: handshake done, certificate checked) waits,
 * bounded. *conn is its id for sipd_send. 0, EMFILE (the cap on
 * outbound connections) or errno; why[0..wsz) then says what failed
 * (e.g. the CA file cannot be read). */
int sipd_connect(struct sipd *sd, const struct sipd_peer *p,
		 uint64_t *conn, char *why, size_t wsz);

/* Whether transport ("udp", "tcp", "tls") is listening. */
bool sipd_transport_on(const struct sipd *sd, const char *transport);

/* A phone registered over TCP connection conn: it may stay open
 * (unknown ids and UDP are ignored). */
void sipd_conn_registered(struct sipd *sd, uint64_t conn);

/* Count a request dropped on the guard's verdict. */
void sipd_count_drop(struct sipd *sd);

/* A log line of an event the network paces (auth verdicts, TCP events):
 * rate-limited, says how many were left out. */
void sipd_log_paced(struct sipd *sd, enum log_level lvl, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

#endif
