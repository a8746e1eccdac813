/*
 * route — where a call goes: a pure function of (caller, dialled string,
 * snapshot, live state), testable without sockets (tests/unit/
 * test_route.c). Each rule is one step of call_route(), in order
 * (docs/internals/calls.md, "Routing"): limits, the caller's class of
 * service (feature codes, destination classes), the number, the callee's
 * blacklist, its call password, its personal IVR (the gates), immediate
 * forwarding, the type (phone, ring group, shared
 * device, virtual), busy and unavailable forwarding, then a ring plan:
 * steps of extensions rung together, each for a ring time, then the
 * no-answer forward. The call layer carries the plan out and asks again
 * (call_route_forward) when a step's outcome says to forward.
 */
#ifndef BULWARK_ROUTE_H
#define BULWARK_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct snapshot;
struct snap_ext;
struct out_route;   /* call/outbound.h */

/* What the loop knows now, asked through these (none may be NULL). */
struct route_live {
	/* live contacts of an extension */
	unsigned (*contacts)(const char *number, void *arg);
	/* calls it is in now, as callee / as caller */
	unsigned (*calls_in)(const char *number, void *arg);
	unsigned (*calls_out)(const char *number, void *arg);
	unsigned calls;       /* calls live in total */
	unsigned max_calls;   /* global bound */
	uint32_t seed;        /* ring group "random": the order's seed */
	void *arg;
	/* camp-on: the extension that was last busy for this caller
	 * (recently), or NULL; the callback itself may be NULL (none
	 * remembered) */
	const char *(*last_busy)(const char *caller, void *arg);
	/* hotdesk (issue 13): the phone number a hotdesk extension is
	 * logged in at now, NULL when nobody is; the callback may itself be
	 * NULL (no hotdesk service: nobody is logged in anywhere) */
	const char *(*hotdesk_at)(const char *number, void *arg);
	/* outbound (issue 15): the call came in from a trunk (no
	 * extension placed it): it never leaves on a trunk unless
	 * trunk_out_ok (an explicit inbound-to-outbound rule) */
	bool from_trunk, trunk_out_ok;
};

enum route_kind {
	ROUTE_REJECT = 0,     /* answer code/reason */
	ROUTE_EXTENSION,      /* carry out the ring plan */
	ROUTE_SERVICE,        /* the PBX answers: svc, mailbox */
	ROUTE_TRUNK,          /* outbound (issue 15): out through the
			       * route's trunks, in order */
};

/* What the PBX answers itself (ROUTE_SERVICE). */
enum route_svc {
	ROUTE_SVC_NONE = 0,
	ROUTE_SVC_DEPOSIT,    /* leave a message in mailbox */
	ROUTE_SVC_ACCESS,     /* mailbox access: mailbox = the caller's own
			       * (*97), NULL = ask for the number (*98) */
	ROUTE_SVC_CALLPW,     /* the callee's call password is asked, then
			       * the call goes on to the callee */
	ROUTE_SVC_PIVR,       /* the callee's personal IVR: a digit picks */
	ROUTE_SVC_HOTDESK,    /* hotdesk log-in / log-out feature code */
	ROUTE_SVC_CAMPON,     /* camp-on feature code */
	ROUTE_SVC__COUNT
};

/* Which greeting a deposit plays. */
enum route_greet { ROUTE_GREET_UNAVAIL = 0, ROUTE_GREET_BUSY };

/* Which rule decided (for the CDR and the log). */
enum route_rule {
	ROUTE_R_NONE = 0,
	ROUTE_R_GLOBAL_LIMIT,   /* 503 + Retry-After */
	ROUTE_R_CALLER_LIMIT,   /* 486: the caller's phone.call_limit_out */
	ROUTE_R_FEATURE_CODE,   /* 404: a code the class allows, not served
				 * yet (or no such code) */
	ROUTE_R_NOT_FOUND,      /* 404 */
	ROUTE_R_NOT_SERVED,     /* 480: a type with no calls yet */
	ROUTE_R_CALLEE_LIMIT,   /* 486: the callee's phone.call_limit_in */
	ROUTE_R_UNAVAILABLE,    /* 480: no contact */
	ROUTE_R_EXTENSION,      /* rang the extension */
	ROUTE_R_BLACKLIST,      /* 603: the callee's security.blacklist */
	ROUTE_R_COS_FEATURE,    /* 403: the caller's class lacks the code */
	ROUTE_R_COS_DEST,       /* 403: the class lacks "internal" */
	ROUTE_R_LOOP,           /* 482: forwards beyond ROUTE_MAX_HOPS */
	ROUTE_R_VOICEMAIL,      /* a mailbox takes a message */
	ROUTE_R_FWD_IMMEDIATE,  /* forwarded: user.forward.immediate */
	ROUTE_R_FWD_BUSY,       /* ... busy */
	ROUTE_R_FWD_NOANSWER,   /* ... no_answer */
	ROUTE_R_FWD_UNAVAILABLE,/* ... unavailable */
	ROUTE_R_RING_GROUP,     /* rang a ring group's members */
	ROUTE_R_SHARED,         /* rang a shared device's free members */
	ROUTE_R_VIRTUAL,        /* rang a virtual extension's destinations */
	ROUTE_R_NO_MEMBER,      /* 480: a group with nobody to ring */
	ROUTE_R_VM_ACCESS,      /* *97 / *98: mailbox access */
	/* gates (issue 13): the PBX answers before the callee rings */
	ROUTE_R_CALLPW,         /* the callee's call password is asked */
	ROUTE_R_PIVR,           /* the callee's personal IVR answers */
	/* camp-on (issue 13) */
	ROUTE_R_CAMPON,         /* *82[number]: the request is taken */
	ROUTE_R_CAMPON_REFUSED, /* 403 camp-on off / own number, 404
				 * nothing to camp on */
	/* hotdesk (issue 13) */
	ROUTE_R_HOTDESK,        /* rang the phone a hotdesk user is logged
				 * in at */
	ROUTE_R_HOTDESK_CODE,   /* *55 / *56: the hotdesk service answers */
	/* outbound (issue 15) */
	ROUTE_R_TRUNK,          /* out through an outbound route's trunks */
	ROUTE_R_EMERGENCY,      /* ... an emergency route's (checked first,
				 * never blocked by class of service) */
	ROUTE_R_TRUNK_INBOUND,  /* 403: a call from a trunk would leave on
				 * a trunk (no inbound-to-outbound rule) */
	ROUTE_R_TOLL_LIMIT,     /* 403/486: a toll-fraud limit (the call
				 * layer's, call/toll.h) */
	ROUTE_R__COUNT
};

#define ROUTE_MAX_TARGETS 16   /* extensions in one plan */
#define ROUTE_MAX_STEPS 16
#define ROUTE_MAX_HOPS 5       /* forwards followed by one call */

/* One step of a plan: targets[first .. first+n-1] rung together for
 * ring_s seconds (0: until the call layer's own bound). */
struct route_step {
	uint8_t first, n;
	uint16_t ring_s;
};

struct route_result {
	enum route_kind kind;
	enum route_rule rule;
	unsigned code;                 /* REJECT */
	const char *reason;            /* REJECT: reason phrase */
	const char *disposition;       /* CDR disposition of a REJECT */
	const struct snap_ext *callee; /* the extension that rings (after
					* forwards; borrowed from snap) */
	/* EXTENSION: the plan */
	size_t n_targets;
	const struct snap_ext *targets[ROUTE_MAX_TARGETS];
	size_t n_steps;
	struct route_step steps[ROUTE_MAX_STEPS];
	const struct snap_ext *noanswer; /* after the last step, or NULL */
	const struct snap_ext *busy;     /* when every leg said busy */
	/* the mailbox that takes the call when the plan ends unanswered
	 * (or busy) with no forward for that outcome; NULL = none */
	const struct snap_ext *vm_noanswer, *vm_busy;
	/* SERVICE */
	enum route_svc svc;
	const struct snap_ext *mailbox;
	enum route_greet greet;
	/* a ring group's message (issue 13): the group whose
	 * ring_group.vm_copies also get it; NULL otherwise */
	const struct snap_ext *copies_of;
	/* forwarding that led here (either kind) */
	enum route_rule fwd_rule;        /* ROUTE_R_FWD_*, or NONE */
	const struct snap_ext *fwd_from; /* who forwarded (last hop) */
	unsigned hops;                   /* forwards followed so far */
	/* TRUNK (issue 15, outbound): the route (borrowed from snap), the
	 * number sent (after strip and prefix) and the extension the call
	 * counts against (the caller, or the one forwarding out) */
	const struct out_route *oroute;
	char out_num[33];
	const struct snap_ext *payer;
	/* EXTENSION: the no-answer / busy forward is an external number an
	 * outbound route takes (call_route_fwd_out when the plan ends) */
	bool noanswer_out, busy_out;
};

/* Camp-on (*82): dialled/len starts with the camp_on code of snap
 * (features): *rest, *rlen is what follows it ("" for the code alone).
 * Only digits may follow. */
bool route_campon_code(const struct snapshot *snap, const char *dialled,
		       size_t len, const char **rest, size_t *rlen);

/* Decide for caller (authenticated, from snap) dialling dialled/len. */
void call_route(const struct snapshot *snap, const struct snap_ext *caller,
		const char *dialled, size_t len, const struct route_live *live,
		struct route_result *out);

/* A ringing call forwards (rule ROUTE_R_FWD_NOANSWER or _BUSY) from
 * `from` to `to`, hops forwards already followed: route again from the
 * callee's rules (blacklist, immediate, type, ...). Past ROUTE_MAX_HOPS:
 * 482 (ROUTE_R_LOOP). */
void call_route_forward(const struct snapshot *snap,
			const struct snap_ext *caller,
			const struct snap_ext *from, const struct snap_ext *to,
			enum route_rule rule, unsigned hops,
			const struct route_live *live,
			struct route_result *out);

/* gates (issue 13): a service that answered for extension `gated`
 * (its call password, its personal IVR) hands the caller on to `to`
 * (call_svc_connect): routed as call_route_forward from the callee's
 * rules, except that gated's gates up to and including `done`
 * (ROUTE_SVC_CALLPW: the password; ROUTE_SVC_PIVR: both) are not asked
 * again. Any other extension's gates apply as on any call. */
void call_route_connect(const struct snapshot *snap,
			const struct snap_ext *caller,
			const struct snap_ext *gated, enum route_svc done,
			const struct snap_ext *to, unsigned hops,
			const struct route_live *live,
			struct route_result *out);

/* outbound (issue 15): a ringing call's plan ended and `from`'s
 * forward w (SNAP_FWD_NOANSWER or _BUSY, rule the matching ROUTE_R_FWD_*)
 * is an external number (route_result.noanswer_out / busy_out): routed
 * out on a trunk as `from`'s call (ROUTE_TRUNK, payer from), or refused
 * (its class of service; 480 when no route takes it any more). */
void call_route_fwd_out(const struct snapshot *snap,
			const struct snap_ext *caller,
			const struct snap_ext *from, unsigned w,
			enum route_rule rule, unsigned hops,
			const struct route_live *live,
			struct route_result *out);

/* Name of a rule ("callee_limit"), for logs and CDR reasons. */
const char *route_rule_str(enum route_rule r);

#endif
