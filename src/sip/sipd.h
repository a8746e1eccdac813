/*
 * sipd — the SIP side of bulwarkd (data plane): transports, dispatch by
 * method, and the registrar behind it. Every function here runs on the
 * loop thread only.
 */
#ifndef BULWARK_SIPD_H
#define BULWARK_SIPD_H

#include <stdbool.h>
#include <jansson.h>

#include "store/store.h"

struct sipd;
struct snapshot;
struct guard;

struct sipd_conf {
	const char *data_dir;   /* for the bindings database */
	const char *db_path;    /* DATA/bulwark.db */
	const char *listen;     /* "ADDR:PORT" (IPv6 as "[::1]:5060") from
				 * --sip, or NULL: the sip section's port on
				 * all addresses */
	struct guard *guard;    /* may be NULL */
};

/* Start listening (UDP and TCP) and restore stored bindings. Takes
 * ownership of snap. Returns 0 or an errno code. */
int sipd_alloc(struct sipd **sp, const struct sipd_conf *conf,
	       struct snapshot *snap);

/* Swap in a newly committed snapshot (takes ownership; frees the previous
 * one when nothing uses it). Deleted extensions lose their bindings. */
void sipd_apply_snapshot(struct sipd *sd, struct snapshot *snap);

/* Live registrations: array of {extension, contact, source, transport,
 * user_agent, expires_in, reachable, rtt_ms}. New reference. */
json_t *sipd_registrations(struct sipd *sd);

/* Status for 'bulwark status': listeners, counters. New reference. */
json_t *sipd_status(struct sipd *sd);

/* The "sip" settings section: realm, ports (udp_port, tcp_port, tls_port),
 * rtp_start/rtp_end, expiry bounds. Registered by the daemon at start. */
extern const struct store_section sipd_section;

/* Start or stop one transport ("udp", "tcp", "tls") — the network services
 * manager drives this. Returns 0, ENOTSUP (tls not built yet) or errno. */
int sipd_transport_set(struct sipd *sd, const char *transport, bool on);

/* Stop listening, flush bindings; NULL-safe. */
void sipd_close(struct sipd *sd);

#endif
