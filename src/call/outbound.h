/*
 * outbound — outbound routes (issue 15, outbound): which trunks a dialled
 * number that is no extension leaves on, what it becomes on the way
 * (strip, prefix) and which destination class it reaches (the class of
 * service must allow it). The "outbound_routes" settings section, its
 * checks and its typed view, and the pure matcher call_route uses.
 *
 * Pure: no allocation after decode, no logging; any thread.
 * docs/admin/trunks-outbound.md (the grammar), docs/internals/calls.md
 * (where routing asks).
 */
#ifndef BULWARK_CALL_OUTBOUND_H
#define BULWARK_CALL_OUTBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/snapshot.h"
#include "store/store.h"

#define OUT_MAX_ROUTES 32     /* routes in the section */
#define OUT_MAX_PATTERNS 8    /* dial patterns of one route */
#define OUT_MAX_TRUNKS 4      /* trunks of one route, in order */
#define OUT_PAT_MAX 32        /* characters of one pattern */
#define OUT_NAME_MAX 32       /* route and trunk names */
#define OUT_PREFIX_MAX 16
#define OUT_NUM_MAX 32        /* the number sent to the trunk */

/* One route, as decoded (the section's typed view). */
struct out_route {
	char name[OUT_NAME_MAX + 1];
	int order;                        /* lower first; then by name */
	size_t n_pat;
	char pat[OUT_MAX_PATTERNS][OUT_PAT_MAX + 1];
	uint8_t strip;                    /* leading digits removed */
	char prefix[OUT_PREFIX_MAX + 1];  /* then put in front */
	size_t n_trunks;
	char trunks[OUT_MAX_TRUNKS][OUT_NAME_MAX + 1];
	uint8_t dest;                     /* enum snap_dest */
	bool emergency;                   /* checked first, never blocked by
					   * class of service */
};

/* The "outbound_routes" section, typed: routes sorted by (order, name). */
struct out_routes {
	size_t n;
	struct out_route r[OUT_MAX_ROUTES];
};

/* The section (registered by the daemon). Key: the route's name; value
 * (text): "patterns=P[,P...];trunks=T[,T...];class=C[;strip=N]
 * [;prefix=D][;order=N][;emergency=yes]", or "-" to remove it. */
extern const struct store_section outbound_routes_section;

/* Whether pattern pat matches the whole of s/len. Grammar: digits, '+',
 * '*', '#' match themselves; X any digit, Z 1-9, N 2-9, [..] one digit
 * of a set ("[1-5]", "[137]", "[0-35-9]"); '.' one or more characters
 * more, '!' zero or more (either ends the pattern). A leading '_' is
 * ignored (Asterisk's marker). */
bool outbound_pattern_match(const char *pat, const char *s, size_t len);

/* Whether pat is a pattern of that grammar (1..OUT_PAT_MAX). */
bool outbound_pattern_ok(const char *pat);

/* The route dialled/len takes, or NULL: emergency routes first (only
 * them when emergency_only), then the others, each in order (order,
 * name); within a route, any pattern. num (nsz bytes) gets the number to
 * send: strip leading characters, then the prefix; NULL result when it
 * would not fit or would be empty. */
const struct out_route *outbound_match(const struct out_routes *rs,
				       const char *dialled, size_t len,
				       bool emergency_only, char *num,
				       size_t nsz);

/* Whether one of route r's patterns matches d/len. */
bool outbound_route_matches(const struct out_route *r, const char *d,
			    size_t len);

/* The typed section of snapshot s (NULL when absent: no routes). */
const struct out_routes *outbound_routes_of(const struct snapshot *s);

/* Whether an external number (not an extension) has a route in the
 * committed object obj of the section (commit-time checks of forward
 * destinations: model_set, the portal). */
bool outbound_obj_routes(const json_t *obj, const char *number);

/* The name of destination class d ("international"). */
const char *outbound_dest_str(unsigned d);

#endif
