/*
 * svc — calls the PBX answers itself (voicemail deposit and access; later
 * the call password, IVRs). Routing decides (route.h ROUTE_SERVICE); the
 * call layer answers the caller with its relay session kept in place:
 * the relay's B side becomes the service's media endpoint (media/
 * endpoint.h) on the relay's own address, so the caller's description
 * never changes between ringing and voicemail, and strict source and
 * counters apply as on any call (docs/internals/calls.md, "Services").
 *
 * Each kind of service (route.h enum route_svc) registers its operations
 * once; the call layer calls them on the loop thread. Include libre's headers (re_types.h, re_sa.h) first.
 */
#ifndef BULWARK_CALL_SVC_H
#define BULWARK_CALL_SVC_H

#include <stdbool.h>
#include <stdint.h>

#include "call/route.h"

struct call_app;

struct call_svc_info {
	enum route_svc svc;
	uint64_t handle;          /* names the call in call_svc_hangup */
	const char *call_id;      /* the call's id (logs, CDR) */
	const char *caller;       /* the authenticated caller's number */
	const char *caller_name;  /* its display name ("" none) */
	const char *mailbox;      /* DEPOSIT: the mailbox; ACCESS: the
				   * caller's own (*97), "" = ask (*98) */
	enum route_greet greet;   /* DEPOSIT: which greeting */
	const char *src_ip;       /* where the caller's signalling came
				   * from (PIN failures per source) */
	const char *copies_of;    /* DEPOSIT: a ring group whose
				   * ring_group.vm_copies get the message
				   * too; "" none */
	const char *callee;       /* CALLPW, PIVR: the extension dialled
				   * (after forwards); "" none */
	const char *language;     /* the prompt set: the callee's (or for
				   * feature codes the caller's)
				   * user.language, "" = default */
	const char *pivr_dest;    /* PIVR: the destination of its key 3
				   * (issue 13); "" none */
	const char *dialled;      /* hotdesk (issue 13): what the caller
				   * dialled (*55 log in, *56 log out) */
};

struct call_svc_media {
	struct sa rtp;            /* the relay's port to send RTP to */
	struct sa bind;           /* the address the endpoint's socket is
				   * bound on (the relay's) */
	int pt;                   /* 0 PCMU or 8 PCMA */
	int te_pt;                /* telephone-event, -1 none */
};

struct call_svc_ops {
	/* Create the service's media endpoint for a call to be answered:
	 * sets *rtp_port (its RTP port) and *sess. 0, or an errno: the
	 * caller then gets 503. */
	int  (*open)(const struct call_svc_info *info,
		     const struct call_svc_media *md, uint16_t *rtp_port,
		     void **sess, void *arg);
	/* The caller's ACK of our 200 arrived: media flows both ways. */
	void (*answered)(void *sess, void *arg);
	/* A digit from SIP INFO (application/dtmf-relay). */
	void (*digit)(void *sess, char d, void *arg);
	/* The call ended (either side, any reason); the service must not
	 * name its handle any more. */
	void (*closed)(void *sess, void *arg);
};

/* Register the service for calls of kind `kind` (once, at start-up; one
 * set of ops may serve several kinds; NULL removes it: those calls then
 * get 480). */
void call_set_service(struct call_app *app, enum route_svc kind,
		      const struct call_svc_ops *ops, void *arg);

/* The service hangs up (BYE to the caller). Unknown handles are ignored
 * (the call may have ended). */
void call_svc_hangup(struct call_app *app, uint64_t handle);

/* The service hands its answered caller on to extension `number`
 * (issue 13; docs/internals/calls.md, "Services: handing on"): routed
 * as if the caller dialled it, without the gates this service passed
 * (call_route_connect), rung with the codec the caller has; the first
 * phone to answer talks to the caller. On 0 the service's ops->closed
 * has been called (before the return): its session must not name the
 * handle again. ENOENT: no such call answered by a service, or number
 * is no extension; EACCES: routing refused it (blacklist, loop...);
 * ELOOP: too many hand-ons; EPROTO: no codec. On an error the service
 * still has the caller. */
int call_svc_connect(struct call_app *app, uint64_t handle,
		     const char *number);

/* The relay, whose port pool a service's endpoints share
 * (relay_port_take/give). */
struct relay *call_svc_relay(struct call_app *app);

/* svc_ep.c: the media side every PBX-answered service shares (voicemail
 * and its gates, hotdesk, camp-on). */
struct endpoints;
/* The service's endpoints, opened at its first call: bound on the relay's
 * address (md->bind), ports from the relay's pool, the service's prompt
 * directories (NULL: the defaults), at most max_endpoints (0: the
 * endpoint's default); their event fd is on the loop with readable(arg).
 * Returns 0 or an errno (nothing is left open). */
int call_svc_eps_open(struct endpoints **epsp, struct call_app *app,
		      const struct call_svc_media *md, const char *prompt_dir,
		      const char *prompt_override, unsigned max_endpoints,
		      void (*readable)(int flags, void *arg), void *arg);
/* A session's endpoint: RTP to the relay (md->rtp), the call's law and
 * telephone-event; inband: in-band DTMF detection too. */
int call_svc_ep_create(struct endpoints *eps, uint64_t tag,
		       const struct call_svc_media *md, bool inband,
		       uint32_t *ep, uint16_t *rtp_port);
/* The wall clock in ms (times kept at rest). */
int64_t call_unix_ms(void);

#endif
