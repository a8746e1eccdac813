/*
 * guard — brute-force, enumeration and flood protection (data plane).
 * Runs on the loop thread; the registrar and the SIP transport call the
 * hooks below at fixed points of request handling (DESIGN.md, request
 * flow).
 */
#ifndef BULWARK_GUARD_H
#define BULWARK_GUARD_H

#include <stddef.h>
#include <jansson.h>

#include "store/store.h"

struct sa;
struct guard;
struct snapshot;

enum guard_verdict {
	GUARD_PASS = 0,   /* handle normally */
	GUARD_DROP,       /* drop silently, no answer */
	GUARD_TARPIT,     /* answer, but only after a delay (timer) */
};

enum guard_auth {
	GUARD_AUTH_OK = 0,
	GUARD_AUTH_BAD_PASSWORD,   /* known extension, wrong response */
	GUARD_AUTH_UNKNOWN_USER,   /* no such extension / no credentials */
	GUARD_AUTH_STALE,          /* matched the previous password's HA1 */
	GUARD_AUTH_MISMATCH,       /* auth user != To user / != number */
	GUARD_AUTH_MALFORMED,      /* broken Authorization header */
};

struct guard_conf {
	const char *data_dir;      /* security.log */
	const char *db_path;       /* bans persist here */
};

/* The "guard" settings section (thresholds, windows, ban times, scanner
 * list, trusted networks, ban scope). Registered by the daemon at start. */
extern const struct store_section guard_section;

int guard_alloc(struct guard **gp, const struct guard_conf *conf);
void guard_apply_snapshot(struct guard *g, const struct snapshot *snap);

/* Every datagram / stream message, before parsing. */
enum guard_verdict guard_packet(struct guard *g, const struct sa *src);

/* After parsing: scanner filter on the User-Agent (may be NULL). */
enum guard_verdict guard_request(struct guard *g, const struct sa *src,
				 const char *ua, size_t ua_len);

/* Outcome of one authentication attempt. ext is the attempted user (may be
 * a non-existent one). Returns how to answer it. */
enum guard_verdict guard_auth_result(struct guard *g, const struct sa *src,
				     const char *ext, size_t ext_len,
				     enum guard_auth res, const char *ua,
				     size_t ua_len);

/* Live bans and status, for the API (loop thread). New references. */
json_t *guard_bans(struct guard *g);
json_t *guard_status(struct guard *g);

void guard_close(struct guard *g);   /* NULL-safe */

#endif
