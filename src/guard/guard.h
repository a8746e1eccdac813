/*
 * guard — brute-force, enumeration and flood protection (data plane).
 * Runs on the loop thread; the registrar and the SIP transport call the
 * hooks below at fixed points of request handling (DESIGN.md, request
 * flow).
 */
#ifndef BULWARK_GUARD_H
#define BULWARK_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct sa;
struct store_section;   /* store/store.h: only the registering code needs it */
struct guard;
struct snapshot;

enum guard_verdict {
	GUARD_PASS = 0,   /* handle normally */
	GUARD_DROP,       /* drop silently, no answer */
	GUARD_TARPIT,     /* answer, but only after a delay (timer) */
};

enum guard_auth {
	GUARD_AUTH_OK = 0,
	GUARD_AUTH_BAD_PASSWORD,   /* known extension, wrong response */
	GUARD_AUTH_UNKNOWN_USER,   /* no such extension / no credentials */
	GUARD_AUTH_STALE,          /* matched the previous password's HA1 */
	GUARD_AUTH_MISMATCH,       /* auth user != To user / != number */
	GUARD_AUTH_MALFORMED,      /* broken Authorization header */
	GUARD_AUTH_TRANSPORT,      /* right password, transport not allowed
				    * for the extension: a misconfigured
				    * phone, never counted toward a ban */
};

/* What a request proves about its source address. Over UDP a source
 * address can be forged; only a request whose sender demonstrably
 * receives our packets at that address may move the address toward a
 * ban: one over an established TCP/TLS connection, or one carrying a
 * nonce of ours (nonces are bound to the address they were sent to).
 * Everything else may be dropped or rate-limited, never banned. */
struct guard_proof {
	bool conn;            /* over an established TCP/TLS connection */
	bool nonce;           /* carried an authentic nonce of ours bound to
			       * the source address (fresh or stale) */
	uint64_t nonce_ts;    /* with nonce: when it was issued, unix s */
};

/* Flags of guard_request. */
#define GUARD_REQ_CONN     0x1u   /* over an established TCP/TLS connection */
#define GUARD_REQ_REGISTER 0x2u   /* a REGISTER: the registrar answers it
				   * with a challenge whose nonce, if used,
				   * proves the source */
/* Any request the application challenges (INVITE, 407): treated as a
 * REGISTER is (a scanner that answers with our nonce is banned). */
#define GUARD_REQ_CHALLENGED GUARD_REQ_REGISTER

struct guard_conf {
	const char *data_dir;      /* security.log */
	const char *db_path;       /* bans persist here */
	/* Added: the SIP listen address "ADDR:PORT" from --sip (may be NULL),
	 * so the kernel ban scope covers the port actually in use as well as
	 * the "sip" section's ports. */
	const char *sip_listen;
};

/* The "guard" settings section (thresholds, windows, ban times, scanner
 * list, trusted networks, ban scope). Registered by the daemon at start. */
extern const struct store_section guard_section;

int guard_alloc(struct guard **gp, const struct guard_conf *conf);
void guard_apply_snapshot(struct guard *g, const struct snapshot *snap);

/* Every datagram / stream message, before parsing. */
enum guard_verdict guard_packet(struct guard *g, const struct sa *src);

/* After parsing: scanner filter on the User-Agent (may be NULL) and
 * probation. flags: GUARD_REQ_*. A scanner user agent over UDP is never
 * banned here (the source may be forged): a REGISTER passes (to be
 * challenged; guard_auth_result bans a scanner that answers with our
 * nonce), anything else is dropped without an answer. */
enum guard_verdict guard_request(struct guard *g, const struct sa *src,
				 unsigned flags, const char *ua,
				 size_t ua_len);

/* Outcome of one authentication attempt. ext is the attempted user (may be
 * a non-existent one). pf: what the request proves about its source (NULL
 * = nothing: a failure is then answered but never counted). Returns how
 * to answer it. */
enum guard_verdict guard_auth_result(struct guard *g, const struct sa *src,
				     const char *ext, size_t ext_len,
				     enum guard_auth res,
				     const struct guard_proof *pf,
				     const char *ua, size_t ua_len);

/* A security event of another module (the call layer: call refused at a
 * limit, media injection dropped) into the event stream; rate-limited
 * like the guard's own. Takes fields (a JSON object, may be NULL). */
void guard_report_event(struct guard *g, const char *type, json_t *fields);

/* Live bans and status, for the API (loop thread). New references. */
json_t *guard_bans(struct guard *g);
json_t *guard_status(struct guard *g);

/* Live operations for the API (loop thread, via loop_call). src is an
 * address or prefix ("192.0.2.7", "2001:db8::/64"); secs 0 = the default
 * ban time. 0, EINVAL (not an address), EPERM (trusted: never banned),
 * ENOENT (no such ban). */
int guard_ban_add(struct guard *g, const char *src, unsigned secs);
int guard_ban_remove(struct guard *g, const char *src);
/* Trust a network ("10.0.0.0/8") for secs (0 = until restart of the trust
 * table: persisted, forever). Lifts bans inside it. 0, EINVAL, ENOSPC. */
int guard_trust_add(struct guard *g, const char *cidr, unsigned secs);
/* Array of {network, until, source:"config"|"live"}. New reference. */
json_t *guard_trusts(struct guard *g);

/* Whether a live operation reached the database (a full disk must not be
 * acknowledged as stored). guard_persist_ticket: on the loop thread right
 * after guard_ban_add/_remove/guard_trust_add, a ticket for its write.
 * guard_persist_wait: any thread but the loop; waits at most timeout_ms
 * for that write: 0 stored (or nothing to store: no database), EAGAIN
 * not stored yet — the change holds in memory and is retried every
 * second until the disk takes it — or ETIMEDOUT. */
uint64_t guard_persist_ticket(struct guard *g);
int guard_persist_wait(struct guard *g, uint64_t ticket, unsigned timeout_ms);

/* Delay before a GUARD_TARPIT answer, milliseconds (from the section). */
unsigned guard_tarpit_ms(const struct guard *g);

/* Security events stored in db_path with id > after, oldest first, at most
 * limit (≤ 1000). Control plane (disk I/O; any thread but the loop).
 * *out: array of event objects each with "id". 0 or EIO. */
int guard_events_query(const char *db_path, long long after, unsigned limit,
		       json_t **out);

void guard_close(struct guard *g);   /* NULL-safe */

/* ---- admin scope (admin.c): failed logins on the admin API ----
 * Counted per source address (IPv6 per /64) apart from SIP: an address
 * with GUARD_ADMIN_FAIL_MAX failed logins within 10 minutes is refused by
 * the admin API's TCP/HTTPS listeners for 15 minutes (doubling per repeat
 * within a day, at most 24 h); it is never banned from SIP or in the
 * kernel, and SIP bans never block the admin API. control.sock is never
 * counted. Thread-safe (own mutex), for libmicrohttpd's threads; only
 * guard_admin_report runs on the loop thread. */
#include <stdbool.h>
#include <stdint.h>

#define GUARD_ADMIN_FAIL_MAX 5u

struct sockaddr;
struct guard_admin;
typedef uint64_t (guard_admin_clock_h)(void *arg);   /* monotonic ms */

/* What one failed login did to its source. */
struct guard_admin_fail {
	char source[64];       /* address as counted ("2001:db8::/64") */
	unsigned failures;     /* within the window, this one included */
	unsigned threshold;    /* failures that block */
	unsigned blocked_s;    /* > 0: this failure blocked it, seconds */
	unsigned offences;     /* blocks so far (with blocked_s) */
};

/* Allocate the admin scope; clock NULL = CLOCK_MONOTONIC (tests pass
 * their own). 0 or ENOMEM. */
int guard_admin_alloc(struct guard_admin **ap, guard_admin_clock_h *clock,
		      void *arg);
void guard_admin_free(struct guard_admin *a);   /* NULL-safe */
/* True if sa is blocked now (count it as refused); *retry_s: seconds
 * left. Non-IP addresses (control.sock) are never blocked. */
bool guard_admin_blocked(struct guard_admin *a, const struct sockaddr *sa,
			 unsigned *retry_s);
/* True if an admin logged in from sa within 24 h and it is not blocked:
 * such sources may use the connections kept in reserve. */
bool guard_admin_credited(struct guard_admin *a, const struct sockaddr *sa);
/* A successful login from sa: credit, and its failure run ends. */
void guard_admin_ok(struct guard_admin *a, const struct sockaddr *sa);
/* A failed login from sa: counted; *out says what it did (for the log
 * line and guard_admin_report). 0, EINVAL or EAFNOSUPPORT (not IP). */
int guard_admin_failed(struct guard_admin *a, const struct sockaddr *sa,
		       struct guard_admin_fail *out);
/* Lift the block of an address ("192.0.2.7", an IPv6 address or its
 * /64). 0, EINVAL, ENOENT (not blocked). */
int guard_admin_unblock(struct guard_admin *a, const char *src);
/* {blocked:[{source,time_left_s,failures,offences,refused}],counters,
 * settings}. New reference (NULL on ENOMEM). */
json_t *guard_admin_status(struct guard_admin *a);
/* Loop thread: write the security events of one failed login
 * (admin_auth_failure, and admin_block when it blocked) through the
 * guard's rate-limited event mechanism. g NULL-safe. */
void guard_admin_report(struct guard *g, const struct guard_admin_fail *f,
			const char *listener);

#endif
