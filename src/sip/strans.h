/*
 * strans — SIP server transactions (RFC 3261 17.2, with the Accepted
 * state of RFC 6026 for a 2xx to an INVITE), src/sip/strans.c.
 *
 * A table of transactions keyed by the top Via's branch (RFC 3261 magic
 * cookie), its sent-by and the method (an ACK is matched to its INVITE;
 * a CANCEL is looked up against the INVITE it cancels with
 * strans_find_invite). Retransmitted requests are absorbed and the last
 * response is sent again; the timers G, H, I (INVITE) and J (non-INVITE)
 * run over UDP, only H over TCP/TLS (the ACK may still never come).
 *
 * Nothing here owns a socket or a timer: time is the caller's (now, in
 * milliseconds, passed in), and what is sent goes through the send
 * function given at creation. The loop calls strans_tick() at or after
 * strans_next() (or on any tick). The table is bounded in total and per
 * source address; when full, a request is answered 503 with Retry-After
 * (statelessly, an ACK never) and no transaction is made.
 *
 * Loop thread only.
 */
#ifndef BULWARK_STRANS_H
#define BULWARK_STRANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sip/sipd.h"

struct sa;
struct sipmsg;

struct strans;
struct strans_tx;

enum strans_state {
	STRANS_TRYING = 0,     /* non-INVITE, no response yet */
	STRANS_PROCEEDING,     /* a provisional was sent (INVITE: from the
				* start) */
	STRANS_COMPLETED,      /* a final response was sent (INVITE:
				* 300-699, waiting for the ACK) */
	STRANS_CONFIRMED,      /* INVITE: the ACK came (timer I) */
	STRANS_ACCEPTED,       /* INVITE: a 2xx was sent (RFC 6026,
				* timer L); INVITE retransmissions absorbed */
	STRANS_TERMINATED,
};

/* Why a transaction ended (the end handler). */
enum strans_end {
	STRANS_END_DONE = 0,    /* its timers ran out normally */
	STRANS_END_NOACK,       /* INVITE: timer H, no ACK for the non-2xx
				 * final response (RFC 3261 17.2.1) */
	STRANS_END_NOANSWER,    /* the TU sent no final response within
				 * the bound (conf.answer_ms / 64*T1) */
	STRANS_END_CLOSED,      /* the table was freed */
};

/* Timers and bounds; 0 takes the default. */
struct strans_conf {
	uint32_t t1_ms;          /* RTT estimate, 500 */
	uint32_t t2_ms;          /* cap of the G interval, 4000 */
	uint32_t t4_ms;          /* network lifetime, 5000 (timer I) */
	uint32_t max_total;      /* transactions in the table, 4096 */
	uint32_t max_per_src;    /* transactions of one source address
				  * (the IP, whatever the port), 64 */
	uint32_t retry_after_s;  /* Retry-After of the 503 when full, 5 */
	uint32_t invite_answer_ms; /* an INVITE with no final response is
				    * ended (STRANS_END_NOANSWER) after
				    * this, 300000 */
};

/* Everything the table sends: a response to dst (the request's source;
 * conn its TCP connection, 0 for UDP). */
typedef void (strans_send_h)(enum sipd_tp tp, const struct sa *dst,
			     uint64_t conn, const char *buf, size_t len,
			     void *arg);

/* A transaction ends and is freed after the call (tx and its user
 * pointer are valid during the call only). */
typedef void (strans_end_h)(struct strans_tx *tx, enum strans_end why,
			    void *arg);

/* A table. sendh required; endh may be NULL. 0, EINVAL or ENOMEM. Free
 * with mem_deref (every live transaction is ended STRANS_END_CLOSED). */
int strans_alloc(struct strans **sp, const struct strans_conf *conf,
		 strans_send_h *sendh, strans_end_h *endh, void *arg);

/* What strans_receive made of a request. */
enum strans_rx {
	STRANS_RX_NEW = 0,   /* a new transaction (*txp): the TU handles the
			      * request and answers with strans_respond */
	STRANS_RX_RETRANS,   /* a retransmission, absorbed (the last
			      * response, if any, was sent again) */
	STRANS_RX_ACK,       /* an ACK for a non-2xx final: absorbed */
	STRANS_RX_PASS,      /* an ACK that matches no transaction in
			      * Completed/Confirmed (the ACK of a 2xx, end
			      * to end): for the TU/dialog layer */
	STRANS_RX_FULL,      /* no room: answered 503 + Retry-After (an ACK:
			      * dropped) */
	STRANS_RX_BAD,       /* no usable key (no top Via branch/sent-by,
			      * or longer than STRANS_KEY_MAX): answer
			      * statelessly (400) or drop */
};

#define STRANS_KEY_MAX 256

/* Match a checked request (sipmsg_check passed) from src against the
 * table at time now (ms), creating a transaction for a new request other
 * than ACK. The request buffer need not outlive the call (the
 * transaction keeps a copy of what it needs). *txp is set for NEW (and
 * for RETRANS/ACK, the matched transaction). */
enum strans_rx strans_receive(struct strans *s, const struct sipmsg *m,
			      enum sipd_tp tp, const struct sa *src,
			      uint64_t conn, uint64_t now,
			      struct strans_tx **txp);

/* Send a response on tx (buf/len, a whole response with status code
 * code, written by the TU) and move the state machine: 1xx keeps it
 * Proceeding, 2xx to an INVITE goes Accepted, any other final
 * Completed with its timers. The response is copied (resent on
 * retransmissions). 0; EINVAL for a bad code; EPROTO when tx already
 * sent a final response (nothing sent); ENOMEM. */
int strans_respond(struct strans *s, struct strans_tx *tx, unsigned code,
		   const char *buf, size_t len, uint64_t now);

/* The INVITE transaction a CANCEL (checked, method CANCEL) cancels:
 * same branch, sent-by, source; NULL when none or it has ended. */
struct strans_tx *strans_find_invite(struct strans *s,
				     const struct sipmsg *cancel,
				     const struct sa *src);

/* The live transaction m (a checked request) belongs to, by its own
 * method, branch, sent-by and source; NULL when none. A lookup only:
 * nothing is created (a request for no dialog is answered statelessly,
 * but its retransmission still finds the answer it had). */
struct strans_tx *strans_find(struct strans *s, const struct sipmsg *m,
			      const struct sa *src);

/* Run the timers due at now: resend responses (G), end transactions
 * (H, I, J, L, the answer bound). */
void strans_tick(struct strans *s, uint64_t now);

/* A time (ms) no later than the earliest at which strans_tick has work
 * (a tick before then does nothing); UINT64_MAX when the table is
 * empty. */
uint64_t strans_next(const struct strans *s);

/* Transactions live in total, and of src's address. */
uint32_t strans_count(const struct strans *s);
uint32_t strans_count_src(const struct strans *s, const struct sa *src);

/* A transaction's state, method ("INVITE"...; the transaction's own
 * NUL-terminated copy), the user pointer the TU may attach, and the
 * status code of the last response sent (0 none). */
enum strans_state strans_state(const struct strans_tx *tx);
const char *strans_method(const struct strans_tx *tx);
void strans_set_user(struct strans_tx *tx, void *user);
void *strans_user(const struct strans_tx *tx);
unsigned strans_code(const struct strans_tx *tx);

/* Counters: requests absorbed as retransmissions, responses resent,
 * requests refused because the table was full. */
struct strans_stats {
	uint64_t absorbed, resent, full;
};
void strans_stats(const struct strans *s, struct strans_stats *st);

#endif
