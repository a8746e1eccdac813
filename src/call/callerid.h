/*
 * callerid — who a call says it is from: the caller ID an extension
 * presents (internal, external, emergency; the manual's defaults and the
 * "allow extension to override" rule), the identity headers the PBX
 * asserts to a phone (P-Asserted-Identity or Remote-Party-ID, never
 * both) and the Alert-Info of "SIP Alert (Auto Answer/Distinctive Ring)".
 *
 * Pure: reads snapshot extensions (store/snapshot.h, the "caller ID"
 * block of struct snap_ext) and writes into the caller's buffers; no
 * allocation, no logging. Any thread.
 *
 * What a phone sends about itself is never trusted: the B2BUA writes
 * every INVITE it sends from scratch, so a caller's P-Asserted-Identity,
 * Remote-Party-ID or Alert-Info never reaches the callee; the caller's
 * number is always the authenticated extension's. The phone's own From
 * display name is used only when its extension allows override (see
 * callerid_internal). docs/admin/calls.md, "Caller ID, PAI/RPID,
 * Alert-Info".
 */
#ifndef BULWARK_CALL_CALLERID_H
#define BULWARK_CALL_CALLERID_H

#include <stdbool.h>
#include <stddef.h>

#include "store/snapshot.h"

/* Which caller ID (the model's callerid.<kind>.*). */
enum cid_kind {
	CID_INTERNAL = SNAP_CID_INTERNAL,   /* calls between extensions */
	CID_EXTERNAL = SNAP_CID_EXTERNAL,   /* out through a trunk */
	CID_EMERGENCY = SNAP_CID_EMERGENCY, /* emergency calls (trunk) */
};

struct cid {
	char name[65];     /* display name, "" = none */
	char number[22];   /* the number (a SIP URI's user part) */
};

/* The caller ID extension x presents on calls of kind k: its custom
 * callerid.<k>.name/number when use_default is off, else (the manual's
 * default) its own name and number. x NULL: an empty caller ID. This is
 * what trunks (issue 15) call for the external and emergency ones. */
void callerid_for(const struct snap_ext *x, enum cid_kind k,
		  struct cid *out);

/* The caller ID the callee of an internal call sees from caller x: x's
 * internal caller ID. disp/dl is the display name of the caller's own
 * From as received (quoted or not; NULL or 0: none): when x allows
 * override (callerid.allow_override) and it is a valid caller ID name
 * (1..64 printable ASCII characters, no '"' or '\\' inside), it replaces
 * the name. The number is never the phone's. */
void callerid_internal(const struct snap_ext *x, const char *disp,
		       size_t dl, struct cid *out);

/* The caller ID a trunk sends for x on a call of kind k (CID_EXTERNAL or
 * CID_EMERGENCY), given the outgoing line's custom ANI `line` (NULL or
 * an empty number: the line has none). The manual's precedence: an
 * emergency call with x's custom emergency caller ID uses it; otherwise
 * the line's ANI wins unless x allows override; otherwise x's external
 * caller ID. */
void callerid_trunk(const struct snap_ext *x, enum cid_kind k,
		    const struct cid *line, struct cid *out);

/* True when s is safe as one header value: 1..128 printable ASCII
 * characters (no CR, LF or other control), not starting or ending with
 * a space. */
bool callerid_hdr_ok(const char *s);

/* The header lines of the INVITE to the phone of extension `to` for a
 * call presenting `id`: "P-Asserted-Identity" when to has
 * phone.send_pai, else "Remote-Party-ID" (party=calling) when it has
 * phone.send_rpid; "Alert-Info" when to has phone.alert_info. Appended
 * to buf (NUL-terminated) at off; returns the new offset, off when
 * nothing was written or a line did not fit (lines are whole or
 * absent). realm: the SIP domain of the URIs. */
size_t callerid_invite_hdrs(char *buf, size_t sz, size_t off,
			    const struct snap_ext *to, const struct cid *id,
			    const char *realm);

/* Connected line: the identity header for the 2xx to the caller of
 * extension `caller` naming the party that answered (`id`): PAI when
 * caller has phone.send_pai, RPID (party=called) with send_rpid,
 * nothing otherwise. Appended like callerid_invite_hdrs. */
size_t callerid_answer_hdrs(char *buf, size_t sz, size_t off,
			    const struct snap_ext *caller,
			    const struct cid *id, const char *realm);

/* outbound (issue 15): the identity header of an INVITE to a trunk
 * presenting id: id_header 1 P-Asserted-Identity, 2 Remote-Party-ID
 * (party=calling), 0 none (trunk/trunk.h enum trunk_id_header); URIs in
 * domain. Appended like callerid_invite_hdrs. */
size_t callerid_trunk_hdrs(char *buf, size_t sz, size_t off,
			   unsigned id_header, const struct cid *id,
			   const char *domain);

#endif
