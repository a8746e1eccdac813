/*
 * trunk_in — inbound calls from a trunk (issue 15): an INVITE whose
 * source is one of a trunk's addresses (trunk_by_addr) is not challenged;
 * its Request-URI user (else its To user) is a DID of the "trunks"
 * section, routed to the DID's destination with a synthetic caller:
 *
 *   number    the caller ID the trunk asserts (P-Asserted-Identity, else
 *             From user): [0-9+*#] up to 23, else "anonymous"
 *   name      its display name (shown: cid_override is on)
 *   type      MODEL_SIP, auth false (never an extension: snapshot_find
 *             does not know it; no hotdesk, no feature codes: the dialled
 *             string is the DID's destination, an extension number)
 *   class of service "inbound" (features.cos): a class the admin
 *             defines; undefined, route_cos_allow gives internal calls
 *             only, so a DID reaches no trunk unless a class says so
 *   limit_out 65535 (the trunk's own max_calls is checked here)
 *   codecs    PCMU, PCMA, G722, opus, GSM (the callee's decide)
 *
 * Call-layer internal (call_int.h). Loop thread only.
 */
#ifndef BULWARK_TRUNK_IN_H
#define BULWARK_TRUNK_IN_H

#include <stdbool.h>

#include "store/snapshot.h"

struct call;
struct call_app;
struct sipd_req;
struct strans_tx;

struct trunk_caller {
	struct snap_ext x;         /* what routing and the legs read */
	char trunk[33];            /* the trunk's name (its call count) */
	char did[24];              /* the DID dialled */
	char dest[24];             /* its destination */
};

/* For an INVITE rq outside a dialog: NULL and *handled false when rq does
 * not come from a trunk's address (authenticate it as usual). Otherwise
 * *handled is true and either NULL (answered here: retransmission
 * absorbed, 404 for an unknown DID, 503 beyond the trunk's max_calls) or
 * the caller (mem; the call takes it with trunk_in_attach) with *txp its
 * server transaction. */
struct trunk_caller *trunk_in_caller(struct call_app *app,
				     struct sipd_req *rq,
				     struct strans_tx **txp, bool *handled);

/* The new call c is tc's (c owns it): caller_x, caller and dialled (the
 * DID's destination) are set from it. Returns the caller. */
const struct snap_ext *trunk_in_attach(struct call *c,
				       struct trunk_caller *tc);

#endif
