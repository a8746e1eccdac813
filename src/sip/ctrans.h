/*
 * ctrans — SIP client transactions (RFC 3261 17.1, with the Accepted
 * state of RFC 6026 for a 2xx to an INVITE), src/sip/ctrans.c.
 *
 * The TU writes a request (its top Via carries a branch with the magic
 * cookie, ctrans_branch() makes one) and hands it to ctrans_send(); the
 * table sends it, retransmits it over UDP (timers A and E), gives up
 * (B, F: the end handler gets CTRANS_END_TIMEOUT), matches responses by
 * branch and CSeq method (17.1.3), acknowledges a non-2xx final response
 * to an INVITE itself (hop by hop, same branch) and absorbs its
 * retransmissions (D), and absorbs retransmitted finals of a non-INVITE
 * (K). ctrans_cancel() writes the CANCEL of an INVITE (RFC 3261 9.1).
 *
 * As strans: no socket, no timer; the caller passes now (ms), the table
 * sends through the function given at creation, strans_tick-like
 * ctrans_tick() runs the timers. Bounded in total and per destination
 * address; a request over the bound is refused (EOVERFLOW) and the TU
 * answers its own side (503). Loop thread only.
 */
#ifndef BULWARK_CTRANS_H
#define BULWARK_CTRANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sip/sipd.h"

struct sa;
struct sipmsg;

struct ctrans;
struct ctrans_tx;

enum ctrans_state {
	CTRANS_CALLING = 0,    /* INVITE, no response yet (A, B) */
	CTRANS_TRYING,         /* non-INVITE, no response yet (E, F) */
	CTRANS_PROCEEDING,     /* a provisional came */
	CTRANS_COMPLETED,      /* a final came (INVITE: 300-699, ACKed; D,
				* K) */
	CTRANS_ACCEPTED,       /* INVITE: a 2xx came (RFC 6026, timer M);
				* further 2xx go to the TU */
	CTRANS_TERMINATED,
};

enum ctrans_end {
	CTRANS_END_DONE = 0,    /* a final came and the timers ran out */
	CTRANS_END_TIMEOUT,     /* no final response: B, F, or (INVITE in
				 * Proceeding) conf.ring_ms */
	CTRANS_END_CLOSED,      /* the table was freed */
};

/* 0 takes the default. */
struct ctrans_conf {
	uint32_t t1_ms;          /* 500 */
	uint32_t t2_ms;          /* 4000 */
	uint32_t t4_ms;          /* 5000 (timer K) */
	uint32_t d_ms;           /* timer D over UDP, 32000 */
	uint32_t ring_ms;        /* an INVITE in Proceeding with no final
				  * is ended after this, 180000 (the TU
				  * should have sent CANCEL) */
	uint32_t max_total;      /* 4096 */
	uint32_t max_per_dst;    /* per destination address, 256 */
};

typedef void (ctrans_send_h)(enum sipd_tp tp, const struct sa *dst,
			     uint64_t conn, const char *buf, size_t len,
			     void *arg);
/* A transaction ends and is freed after the call. */
typedef void (ctrans_end_h)(struct ctrans_tx *tx, enum ctrans_end why,
			    void *arg);

/* A table; sendh required, endh may be NULL. 0, EINVAL, ENOMEM. Free
 * with mem_deref (live transactions end CTRANS_END_CLOSED). */
int ctrans_alloc(struct ctrans **cp, const struct ctrans_conf *conf,
		 ctrans_send_h *sendh, ctrans_end_h *endh, void *arg);

/* A fresh branch: "z9hG4bK" and 24 random hex digits, NUL-terminated
 * into out (>= 32 bytes). */
void ctrans_branch(char *out, size_t outsz);

/* Send req (a whole request the TU wrote: parsed and checked here; its
 * top Via branch has the magic cookie; not ACK) to dst and start its
 * transaction. The request is copied. 0 and *txp; EINVAL (not a usable
 * request), EEXIST (a live transaction has that branch and method),
 * EOVERFLOW (table full in total or for dst's address), ENOMEM. */
int ctrans_send(struct ctrans *c, enum sipd_tp tp, const struct sa *dst,
		uint64_t conn, const char *req, size_t len, uint64_t now,
		struct ctrans_tx **txp);

enum ctrans_rx {
	CTRANS_RX_PASS = 0,   /* for the TU (*txp the transaction) */
	CTRANS_RX_ABSORBED,   /* a retransmission the transaction handled
			       * (ACK resent for an INVITE's non-2xx) */
	CTRANS_RX_NONE,       /* no transaction (a stray, or a 2xx
			       * retransmitted after timer M): the caller
			       * decides (a dialog may re-ACK a 2xx) */
};

/* Match a response (sipmsg_check_response passed) from src: same
 * branch, same CSeq method, from the address the request went to. */
enum ctrans_rx ctrans_receive(struct ctrans *c, const struct sipmsg *m,
			      const struct sa *src, uint64_t now,
			      struct ctrans_tx **txp);

/* Write the CANCEL of INVITE transaction tx into out: Request-URI,
 * Call-ID, From, To, top Via (the same branch) and Route of the INVITE,
 * CSeq with its number and CANCEL (RFC 3261 9.1). The TU sends it with
 * ctrans_send. Returns the length; 0 when tx is not an INVITE, is no
 * longer Calling/Proceeding, or out is too small. RFC 3261 9.1: send it
 * only once a provisional came (ctrans_state == CTRANS_PROCEEDING). */
size_t ctrans_cancel(const struct ctrans_tx *tx, char *out, size_t outsz);

void ctrans_tick(struct ctrans *c, uint64_t now);
/* No later than the earliest time ctrans_tick has work; UINT64_MAX when
 * the table is empty. */
uint64_t ctrans_next(const struct ctrans *c);

uint32_t ctrans_count(const struct ctrans *c);
uint32_t ctrans_count_dst(const struct ctrans *c, const struct sa *dst);

enum ctrans_state ctrans_state(const struct ctrans_tx *tx);
const char *ctrans_method(const struct ctrans_tx *tx);
/* Last response code the transaction saw, 0 none. */
unsigned ctrans_code(const struct ctrans_tx *tx);
void ctrans_set_user(struct ctrans_tx *tx, void *user);
void *ctrans_user(const struct ctrans_tx *tx);

#endif
