/*
 * The registrar's internals, shared by its rooms: registrar.c (life
 * cycle, snapshot, status), register.c (REGISTER), qualify.c (qualify,
 * keep-alives, expiry) — and by tests/unit/test_register.c, which drives
 * the decide step with a fake clock. Loop thread only.
 */
#ifndef BULWARK_REG_PRIV_H
#define BULWARK_REG_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "registrar/registrar.h"
#include "sip/sipd.h"

#define REG_MOD "registrar"
#define REG_CONTACTS_MAX 16   /* Contacts in one REGISTER */
#define REG_RETRANS_S 32      /* 64*T1: lifetime of a server transaction */
#define REG_XBUF 8192         /* extra header lines of one answer */

struct registrar {
	struct sipd *sd;
	struct auth *auth;
	struct reg_loc *loc;
	struct reg_persist *persist;
	struct tmr sweep;
	uint64_t c_reg_ok, c_reg_fail, c_retrans, c_qualify;
	char xbuf[REG_XBUF];
	char obuf[4096];          /* a qualify OPTIONS */
};

/* ---- register.c: gather → decide → act ------------------------------ */

/* A Contact problem found while gathering, answered after the
 * authentication says the request may change bindings. */
enum reg_cerr {
	REG_CERR_NONE = 0,
	REG_CERR_BAD_CONTACT,     /* 400 Bad Contact */
	REG_CERR_BAD_EXPIRES,     /* 400 Bad Expires */
	REG_CERR_TOO_MANY,        /* 403 Too Many Contacts */
};

/* One REGISTER, typed (gather): everything decide needs, nothing of the
 * wire left to parse. */
struct reg_in {
	const struct snap_ext *x;     /* the extension To names; NULL:
				       * none with credentials */
	struct auth_check auth;       /* auth_verify's findings */
	bool nc_ok;                   /* the nonce count was fresh (and is
				       * now recorded); only looked at when
				       * auth.res is OK and not stale */
	uint32_t tag;                 /* the request (Call-ID, CSeq) */
	enum sipd_tp tp;
	/* Contacts in order, up to the first problem (cerr): expires -1
	 * means "none given" (the default applies) */
	struct reg_contact c[REG_CONTACTS_MAX];
	size_t n;
	bool star;                    /* Contact: * */
	enum reg_cerr cerr;
	/* the rest of the request for the bindings */
	struct reg_str call_id, ua;
	uint32_t cseq;
	struct sa src;
	uint64_t conn;
};

enum reg_do {
	REG_DO_CHALLENGE = 0,   /* 401, a fresh nonce (stale=true if so) */
	REG_DO_REJECT,          /* answer code/reason, change nothing */
	REG_DO_BINDINGS,        /* 200 with the bindings as they are (a
				 * retransmission of an accepted one) */
	REG_DO_APPLY,           /* apply rq to the bindings, then 200 */
};

/* What to do with one REGISTER (decide). */
struct reg_decision {
	enum reg_do what;
	bool stale;             /* CHALLENGE: stale=true */
	bool report;            /* report res to the guard first (it may
				 * drop or tarpit the answer) */
	enum guard_auth res;
	unsigned code;          /* REJECT */
	const char *reason;
	bool min_expires;       /* REJECT 423: add Min-Expires */
	bool failed;            /* counts as a failed registration */
	struct reg_req rq;      /* APPLY, BINDINGS: the change (its
				 * contacts are c, its strings point into
				 * reg_in) */
	struct reg_contact c[REG_CONTACTS_MAX];   /* expiry resolved */
};

/* Which request an accepted nonce count belongs to: Call-ID and CSeq. */
uint32_t reg_req_tag(const char *callid, size_t len, uint32_t cseq);

/* The pure step: what a REGISTER gets, from the typed request in, the
 * "sip" settings, the bindings (read only) and the clock. Fills d. */
void reg_decide(const struct reg_in *in, const struct sipd_settings *set,
		struct reg_loc *loc, int64_t now, struct reg_decision *d);

/* The REGISTER row's handler (arg: the registrar). */
void reg_register(struct sipd_req *rq, void *arg);

/* ---- qualify.c ------------------------------------------------------ */

/* A response: the answer to one of our qualify OPTIONS, or ignored. arg
 * is the registrar. */
void reg_qualify_response(struct sipd *sd, struct sipmsg *m,
			  const struct sa *src, void *arg);

/* The once-a-second timer: expiry, qualify, keep-alives. arg is the
 * registrar. */
void reg_sweep(void *arg);

#endif
