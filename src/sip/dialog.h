/*
 * dialog — the state of one SIP dialog (RFC 3261 §12) and the writer of
 * the requests sent in it, src/sip/dialog.c.
 *
 * A dialog keeps what its requests need, as header values ready to write:
 * From (ours, with our tag), To (theirs, with their tag once known),
 * Call-ID, the remote target (their Contact), the route set, our CSeq and
 * the highest remote CSeq, and where to send (transport, address, TCP
 * connection). The caller matches incoming requests to dialogs (by Call-ID
 * and tags) and checks them with dialog_check_cseq; nothing here owns a
 * socket or a transaction.
 *
 * Include the libre headers (re_types.h, re_sa.h, re_mem.h) first.
 * Loop thread only.
 */
#ifndef BULWARK_DIALOG_H
#define BULWARK_DIALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sip/sipd.h"
#include "sip/sipmsg.h"

#define DIALOG_TAG_MAX 64     /* octets of a tag we keep (longer: refused) */
#define DIALOG_HDR_MAX 512    /* octets of a From/To/target value */
#define DIALOG_ROUTE_MAX 1024 /* octets of the route set */

struct dialog {
	char *callid;          /* mem; NUL-terminated */
	char *from;            /* our From value, with ";tag=" ltag */
	char *to;              /* their To value (with their tag once known) */
	char *target;          /* remote target URI (Contact), no <> */
	char *route;           /* "Route: <...>, <...>\r\n" or NULL */
	char ltag[DIALOG_TAG_MAX + 1];
	char rtag[DIALOG_TAG_MAX + 1];
	uint32_t lcseq;        /* last CSeq we used */
	uint32_t rcseq;        /* highest CSeq of theirs, 0 none yet */
	enum sipd_tp tp;
	struct sa dst;         /* where requests go */
	uint64_t conn;         /* TCP connection, 0 UDP */
};

/* Free the strings; the struct itself is the caller's. NULL-safe. */
void dialog_reset(struct dialog *d);

/* The UAS side: a dialog from request m (an INVITE without To tag) from
 * src, to which we answer with To tag ltag (8 octets from sipmsg_totag):
 * remote target from its Contact, route set from its Record-Route (in
 * order), rcseq its CSeq, requests go back to src over tp/conn. 0,
 * EBADMSG (no usable Contact, a tag or value over the bounds), ENOMEM. */
int dialog_uas(struct dialog *d, const struct sipmsg *m, const char *ltag,
	       size_t ltag_len, enum sipd_tp tp, const struct sa *src,
	       uint64_t conn);

/* The UAC side: a new dialog we start (its tags and Call-ID fresh and
 * random): From "from_name" <from_uri>, To <to_uri>, Request-URI target.
 * 0, EINVAL, ENOMEM. */
int dialog_uac(struct dialog *d, const char *from_name, const char *from_uri,
	       const char *to_uri, const char *target, enum sipd_tp tp,
	       const struct sa *dst, uint64_t conn);

/* The UAC side learns from a response r (1xx with a tag or 2xx) to its
 * INVITE: their tag and To value, the remote target (Contact), the route
 * set (Record-Route, reversed). Only the first such response sets them;
 * a 2xx always sets target and route. 0 or EBADMSG/ENOMEM. */
int dialog_uac_update(struct dialog *d, const struct sipmsg *r, bool final);

/* A request m that names this dialog: its CSeq must be above the last
 * one (RFC 3261 12.2.2); records it. true when accepted. */
bool dialog_check_cseq(struct dialog *d, const struct sipmsg *m);

/* Write request method in dialog d into out: Request-URI the remote
 * target, a Via with branch for laddr over d->tp (";rport"), From, To,
 * Call-ID, CSeq cseq method, the route set, Max-Forwards, extra (header
 * lines ending in CRLF, may be NULL), then the body (ctype NULL: none).
 * Returns the length, 0 when it does not fit. */
size_t dialog_request(const struct dialog *d, const char *method,
		      uint32_t cseq, const char *branch,
		      const struct sa *laddr, const char *extra,
		      const char *ctype, const char *body, size_t blen,
		      char *out, size_t outsz);

/* "SIP/2.0/UDP" etc. for tp. */
const char *dialog_via_tp(enum sipd_tp tp);

/* The URI parameter naming tp in a Contact we write: "" (UDP),
 * ";transport=tcp" or ";transport=tls" (tls). */
const char *dialog_uri_tp(enum sipd_tp tp);

#endif
