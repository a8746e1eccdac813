/*
 * fuzz_call — shared by the call harness (fuzz_call.c: the daemon, the
 * script, the invariants) and its message writer (fuzz_call_msg.c: what
 * the harness learns from what the daemon sends, and the placeholders of
 * the script's messages). See tests/fuzz/README.md.
 */
#ifndef BULWARK_FUZZ_CALL_H
#define BULWARK_FUZZ_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "sip/sipmsg.h"

/* The phones of the script: A 201, B 202, C 203 (each registered at its
 * address before every input), X an address with no binding that knows
 * 201's password. */
enum { FC_A = 0, FC_B, FC_C, FC_X, FC_PEERS };

#define FC_VAL 512   /* octets of one learnt value */

/* What the daemon last sent one phone. */
struct fc_seen {
	char nonce401[96], nonce407[96];  /* last challenges */
	char tag[72];        /* our tag in the dialog with it: To of a 1xx
			      * (not 100) / 2xx to INVITE, From of our
			      * request */
	char rtag[72];       /* To tag of the last response of any kind */
	/* the last request (not ACK) we sent it */
	char via[FC_VAL], branch[128], callid[256], cseq[16], method[16];
	char from[FC_VAL], to[FC_VAL];
	char contact[FC_VAL];   /* our Contact URI, request or response */
};

/* A phone's digest credentials (MD5, realm "bulwark"). */
struct fc_cred {
	const char *user;
	const char *ha1;     /* hex */
};

/* Learn from m, a message the daemon sent (parsed; requests checked,
 * responses through sipmsg_check_response when req is false). */
void fc_learn(struct fc_seen *s, const struct sipmsg *m);

/* Write the message of script section in[0..len) as phone self sends it
 * (seen: what every phone was sent; cred: self's password): placeholders
 * replaced, bare LF made CRLF. *nc: the nonce count of the next $AUTH
 * (increased). Returns the length (at most outsz, cut there). */
size_t fc_build(char *out, size_t outsz, const char *in, size_t len,
		const struct fc_seen seen[FC_PEERS], int self,
		const struct fc_cred *cred, uint32_t *nc);

/* ---- the fake service (fuzz_call_svc.c) ---- */

struct call_app;

/* What the service saw during one input. */
struct fc_svc_count {
	unsigned opens, refused, answered, digits, closed, hungup;
};

/* Register the fake service on app (a fresh call layer); the relay's
 * ports are rtp_min..rtp_max. */
void fc_svc_up(struct call_app *app, uint16_t rtp_min, uint16_t rtp_max);

/* A script's service section: 'F' the next open() fails (503), 'h' the
 * next answered() hangs up, 'H' the service hangs up every session it
 * has now, 'N' it is unregistered (480) or registered again (only when
 * no session is open). */
void fc_svc_command(char what);

/* After every call of the input ended: each session opened ended
 * exactly once (aborts otherwise); *cnt (may be NULL) what happened. */
void fc_svc_down(struct fc_svc_count *cnt);

#endif
