/*
 * auth — digest authentication of SIP requests, the one place a request
 * is challenged or verified (DESIGN.md, "Layers of the data plane"):
 * HTTP digest with MD5 and SHA-256 (RFC 2617, RFC 7616, RFC 8760),
 * stateless nonces bound to the source address, and the nonce-count
 * table that refuses replays.
 *
 * The primitives (digest, nonces, nonce counts) are pure functions. The
 * verifier (struct auth) runs on the loop thread: it challenges a
 * request (401 for REGISTER, 407 otherwise) and verifies its credentials for any method, answering
 * unknown users exactly like known ones (a dummy HA1, the challenge
 * algorithms of real extensions, always two digest computations), and
 * reports every verdict to the guard.
 */
#ifndef BULWARK_AUTH_H
#define BULWARK_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guard/guard.h"

struct sipd_req;
struct snap_ext;
struct snapshot;

/* ---- digest ---------------------------------------------------------- */

/* Algorithms as in snapshot.h (enum snap_alg). */
enum { AUTH_ALG_MD5 = 1u << 0, AUTH_ALG_SHA256 = 1u << 1 };

/* A length-delimited slice of the request (not NUL-terminated). */
struct auth_str {
	const char *p;
	size_t l;
};

/* A parsed "Authorization: Digest ..." header. Slices point into the
 * caller's buffer. */
struct auth_cred {
	struct auth_str username, realm, nonce, uri, response, algorithm,
		cnonce, nc, qop, opaque;
	unsigned alg;       /* AUTH_ALG_*, from algorithm= (MD5 if absent) */
	uint32_t ncv;       /* nc as a number */
};

/* "MD5" / "SHA-256"; NULL for an unknown value. */
const char *auth_alg_name(unsigned alg);
/* Hex length of the hash: 32 or 64; 0 for an unknown algorithm. */
size_t auth_hexlen(unsigned alg);

/* Parse the value of an Authorization header. Returns 0, ENOTSUP when the
 * scheme is not Digest, EBADMSG when the parameters are malformed or a
 * required one (username realm nonce uri response, and for qop=auth also
 * nc and cnonce) is missing, or the algorithm is unknown. */
int auth_digest_parse(struct auth_cred *c, const char *val, size_t len);

/* Hex HA1 = H(user:realm:password) into out (>= 65 bytes). For tests and
 * benchmarks; the daemon reads HA1 from the snapshot. 0 or EINVAL. */
int auth_digest_ha1(unsigned alg, const char *user, const char *realm,
		    const char *password, char *out, size_t outsz);

/* Expected response for qop=auth:
 *   H(HA1:nonce:nc:cnonce:qop:H(method:uri))
 * ha1 is hex of auth_hexlen(alg) chars. Writes hex + NUL to out
 * (>= 65 bytes). 0 or EINVAL. */
int auth_digest_response(unsigned alg, const char *ha1, const char *method,
			 const struct auth_cred *c, char *out, size_t outsz);

/* Constant-time comparison of the client's response (any hex case) with
 * the expected lowercase hex. False when the lengths differ. */
bool auth_digest_equal(const struct auth_str *given, const char *expected);

/* ---- nonces ---------------------------------------------------------- */

#define AUTH_NONCE_HEXLEN 56   /* 8 ts + 4 counter + 16 MAC bytes, hex */

/* Make a nonce for now (unix seconds), bound to the source address bytes
 * (may be NULL/0). out >= AUTH_NONCE_HEXLEN + 1. */
void auth_nonce_make(const uint8_t key[32], uint64_t now, const void *bind,
		     size_t bind_len, char *out);

/* The same with an explicit issue time and counter, so that a stateless
 * server can reproduce the nonce it gave a request when the request is
 * retransmitted. auth_nonce_counter_next() hands out the counter
 * auth_nonce_make uses (process-wide, increasing). */
void auth_nonce_make_at(const uint8_t key[32], uint64_t ts, uint32_t ctr,
			const void *bind, size_t bind_len, char *out);
uint32_t auth_nonce_counter_next(void);

/* Check a nonce: 0 valid and fresh; ESTALE authentic but older than ttl
 * seconds (or from the future); EBADMSG forged, malformed, or bound to
 * another source. *id (if non-NULL) receives the nonce's 64-bit id
 * (issue order: time, then counter) for nonce-count tracking. */
int auth_nonce_check(const uint8_t key[32], const char *nonce, size_t len,
		     const void *bind, size_t bind_len, uint64_t now,
		     uint64_t ttl, uint64_t *id);

/* ---- nonce counts ----------------------------------------------------- */

/* Nonce-count replay table of one user: remembers the highest nc for its
 * last AUTH_NC_SLOTS nonces; a nonce older than the ones forgotten is
 * refused, so the table is bounded without letting replays through. */
#define AUTH_NC_SLOTS 8
struct auth_nc {
	uint64_t id[AUTH_NC_SLOTS];
	uint32_t nc[AUTH_NC_SLOTS];
	uint32_t tag[AUTH_NC_SLOTS];   /* request the nc was last accepted
					* for */
	uint64_t floor;        /* ids <= floor not in the table are refused */
	uint8_t next;
};

/* 0: accepted and recorded (nc strictly greater than any seen for this
 * nonce); EALREADY: replayed or too old. */
int auth_nc_check(struct auth_nc *t, uint64_t nonce_id, uint32_t nc);
/* The same, remembering tag (e.g. a hash of Call-ID and CSeq) with the
 * accepted nc so that auth_nc_seen() can recognise a retransmission. */
int auth_nc_check_tag(struct auth_nc *t, uint64_t nonce_id, uint32_t nc,
		      uint32_t tag);

/* True when exactly this (nonce, nc, tag) is the last one recorded for the
 * nonce: the request is a retransmission of the one that was accepted
 * (or a byte-for-byte replay of it). The caller decides what it gets. */
bool auth_nc_seen(const struct auth_nc *t, uint64_t nonce_id, uint32_t nc,
		  uint32_t tag);

/* True when the newest nonce of t was issued more than keep seconds
 * before now: every nonce it could refuse has expired anyway (nonce ids
 * are ordered by issue time), so forgetting the table (and its floor)
 * lets nothing through. */
bool auth_nc_unused(const struct auth_nc *t, int64_t now, int64_t keep);

/* ---- the verifier (loop thread) ------------------------------------- */

struct auth;

/* Keys, dummy HA1s and the challenge cache. 0 or ENOMEM/EIO. Free with
 * mem_deref (the keys are wiped). */
int auth_alloc(struct auth **ap);

/* Recount the algorithm lists real extensions of s use (unknown users
 * are challenged from that mix): after every new snapshot. */
void auth_snapshot(struct auth *a, const struct snapshot *s);

/* The algorithms (0-terminated, at most 2) to challenge user with: x's
 * own when x (the extension the request names) has credentials, else a
 * list drawn from the mix for that name. */
const uint8_t *auth_algs(const struct auth *a, const struct snap_ext *x,
			 const char *user, size_t len);

/* Challenge rq: a REGISTER gets 401 Unauthorized with a WWW-Authenticate
 * per algorithm, any other method 407 Proxy Authentication Required with
 * a Proxy-Authenticate per algorithm (stale=true when stale). A retransmitted request gets the nonce it got
 * before, so the stateless answer is byte-identical (RFC 3261 8.2.7). */
void auth_challenge(struct auth *a, struct sipd_req *rq,
		    const uint8_t *algs, bool stale);

enum auth_outcome {
	AUTH_CHALLENGE = 0,   /* no credentials for our realm, or a nonce
			       * not ours (or bound to another source):
			       * challenge afresh */
	AUTH_VERDICT,         /* res says what the credentials are worth */
};

/* What a request's credentials say (auth_verify). */
struct auth_check {
	enum auth_outcome outcome;
	/* GUARD_AUTH_OK: the response matches the extension's password;
	 * nonce count and transport are the caller's to check */
	enum guard_auth res;
	bool have;           /* credentials with a nonce of ours for this
			      * source (fresh or stale) */
	bool stale;          /* ... issued longer ago than nonce_ttl */
	uint64_t nid;        /* the nonce's id (issue time << 32 | counter) */
	uint32_t nc;         /* the nonce count used */
	struct auth_str user;   /* who: the credentials' user, else the To
				 * user (from the wire, for the guard) */
};

/* Verify the credentials of rq for method against x: for "REGISTER" the
 * Authorization headers, for any other method the Proxy-Authorization
 * headers (the other kind is ignored, as if absent); method is the one
 * the digest covers (the request's own). x: the extension the request
 * names, NULL when there is none with credentials; algs: the ones
 * offered. Constant work whoever the user is; the expected responses are
 * wiped. */
void auth_verify(struct auth *a, const struct sipd_req *rq,
		 const char *method, const struct snap_ext *x,
		 const uint8_t *algs, struct auth_check *out);

/* Report the final verdict res of ck to the guard and log it (paced).
 * Returns the guard's verdict: GUARD_DROP (answer nothing), GUARD_TARPIT
 * (answer late) or GUARD_PASS. */
enum guard_verdict auth_report(struct auth *a, const struct sipd_req *rq,
			       const struct auth_check *ck,
			       enum guard_auth res);

/* Challenges sent, and of those the retransmitted ones (same nonce). */
void auth_stats(const struct auth *a, uint64_t *challenges,
		uint64_t *retransmitted);

#endif
