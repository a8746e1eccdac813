/*
 * route — where a call goes: a pure function of (caller, dialled string,
 * snapshot, live state), testable without sockets (tests/unit/
 * test_route.c). Each rule is one step of call_route(), in order; the
 * features of later issues (feature codes, forwarding, groups, trunks)
 * are further steps at the places marked in route.c.
 */
#ifndef BULWARK_ROUTE_H
#define BULWARK_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct snapshot;
struct snap_ext;

/* What the loop knows now, asked through these (none may be NULL). */
struct route_live {
	/* live contacts of an extension */
	unsigned (*contacts)(const char *number, void *arg);
	/* calls it is in now, as callee / as caller */
	unsigned (*calls_in)(const char *number, void *arg);
	unsigned (*calls_out)(const char *number, void *arg);
	unsigned calls;       /* calls live in total */
	unsigned max_calls;   /* global bound */
	void *arg;
};

enum route_kind {
	ROUTE_REJECT = 0,     /* answer code/reason */
	ROUTE_EXTENSION,      /* ring every contact of callee */
};

/* Which rule decided (for the CDR and the log). */
enum route_rule {
	ROUTE_R_NONE = 0,
	ROUTE_R_GLOBAL_LIMIT,   /* 503 + Retry-After */
	ROUTE_R_CALLER_LIMIT,   /* 486: the caller's phone.call_limit_out */
	ROUTE_R_FEATURE_CODE,   /* 404: no feature code is served yet */
	ROUTE_R_NOT_FOUND,      /* 404 */
	ROUTE_R_NOT_SERVED,     /* 480: a type with no calls yet (issue 13) */
	ROUTE_R_CALLEE_LIMIT,   /* 486: the callee's phone.call_limit_in */
	ROUTE_R_UNAVAILABLE,    /* 480: no contact */
	ROUTE_R_EXTENSION,      /* rang the extension */
};

struct route_result {
	enum route_kind kind;
	enum route_rule rule;
	unsigned code;                 /* REJECT */
	const char *reason;            /* REJECT: reason phrase */
	const char *disposition;       /* CDR disposition of a REJECT */
	const struct snap_ext *callee; /* EXTENSION (borrowed from snap) */
};

/* Decide for caller (authenticated, from snap) dialling dialled/len. */
void call_route(const struct snapshot *snap, const struct snap_ext *caller,
		const char *dialled, size_t len, const struct route_live *live,
		struct route_result *out);

/* Name of a rule ("callee_limit"), for logs and CDR reasons. */
const char *route_rule_str(enum route_rule r);

#endif
