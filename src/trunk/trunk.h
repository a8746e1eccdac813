/*
 * trunk — SIP trunks to an ITSP (issue 15): the "trunks" settings section
 * as the data plane reads it (typed, in the snapshot), the outbound
 * registration client's status, and the DIDs inbound calls are routed by.
 *
 * The section (docs/admin/trunks.md) is one flat object:
 *   "<trunk>.<field>"  one trunk's field (host, port, transport, ...)
 *   "did.<number>"     a DID → destination (extension, ring group or
 *                      mailbox number)
 * Its "<trunk>.password" keys are sealed at rest, masked on reads and
 * opened only for the typed copy below.
 */
#ifndef BULWARK_TRUNK_H
#define BULWARK_TRUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
/* struct sa: libre's headers have no include guards, so this one does
 * not include them: include <re_types.h> and <re_sa.h> (or re.h, or
 * registrar/registrar.h) before it. */

struct snapshot;
struct store_section;

#define TRUNK_MAX 16
#define TRUNK_ADDR_MAX 8
#define TRUNK_DID_MAX 256

enum trunk_id_header { TRUNK_ID_NONE = 0, TRUNK_ID_PAI = 1, TRUNK_ID_RPID = 2 };

struct trunk_conf {            /* one configured trunk */
	char name[33];             /* [a-z0-9_-]+ */
	char host[254]; uint16_t port;      /* next hop */
	uint8_t transport;         /* enum snap_tp bit: UDP/TCP/TLS */
	char domain[254];          /* From/To/R-URI host ("" = host) */
	char username[65], auth_user[65], password[129]; /* clear text,
				      only in the snapshot's typed copy */
	bool reg;                  /* send REGISTER */
	uint32_t reg_expiry;
	uint8_t id_header;         /* 0 none, 1 PAI, 2 RPID */
	bool cid_rewrite;          /* false: trunk refuses caller ID
				      rewriting: its own ANI is sent */
	char ani[22];              /* the trunk's ANI/BTN */
	uint16_t max_calls;        /* 0 = unlimited */
	size_t n_addr; struct sa addr[TRUNK_ADDR_MAX];  /* inbound accepted
				      from (host's address when it is an IP
				      literal + the listed "inbound" ones;
				      port 0: any port) */
	/* the TLS client's trust (transport tls) */
	char tls_ca[256];          /* PEM CA file; "" = the system's store */
	bool tls_verify;           /* check certificate and name */
};

/* One DID: the dialled number a trunk delivers → where it rings. */
struct trunk_did {
	char number[24];           /* digits, optional leading '+' */
	char dest[24];             /* extension, ring group or mailbox */
};

struct trunks_typed {
	size_t n;
	struct trunk_conf t[TRUNK_MAX];
	/* (trunk part) DIDs, after the interface fixed with outbound */
	size_t n_did;
	struct trunk_did did[TRUNK_DID_MAX];
};

/* The "trunks" section of snapshot s, typed (borrowed from s, never NULL:
 * an empty set when s is NULL or has no typed sections). */
const struct trunks_typed *trunks_of(const struct snapshot *s);

/* The trunk called name in s, or NULL. */
const struct trunk_conf *trunk_find(const struct snapshot *s,
				    const char *name);

/* The trunk one of whose inbound addresses is src (address match; port
 * too when the configured one is not 0), or NULL. A host given
 * as a name adds the addresses it last resolved to (tresolve.h; loop
 * thread only). */
const struct trunk_conf *trunk_by_addr(const struct snapshot *s,
				       const struct sa *src);

/* The destination number of DID number in s, or NULL when none. A
 * leading '+' on either side is ignored. */
const char *trunk_did_dest(const struct snapshot *s, const char *number);

/* The section (register with store_section_register before store_open). */
extern const struct store_section trunks_section;

#endif
