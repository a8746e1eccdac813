/*
 * call — the call layer: a B2BUA application of the SIP stack (sip/).
 * An authenticated INVITE becomes a call with an A leg (the caller's
 * dialog) and B legs to every contact of the callee; media is anchored
 * through the relay (media/relay.h); routing is a pure function
 * (call/route.h); finished calls become CDRs (store/cdr_db.h).
 *
 * Loop thread only.
 */
#ifndef BULWARK_CALL_H
#define BULWARK_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct sipd;
struct registrar;
struct call_app;

struct cdr_rec;
struct sipd_req;
struct strans_tx;
struct snap_ext;
struct callrec;

/* A finished call's record (store/cdr_db.h): the daemon hands it to the
 * CDR writer. */
typedef void (call_cdr_h)(const struct cdr_rec *r, void *arg);

struct call_conf {
	call_cdr_h *cdrh;        /* NULL: no CDRs */
	void *cdr_arg;
	const char *rtp_addr;    /* relay address ("127.0.0.1"); NULL or
				  * unspecified: bound to every address,
				  * the SDP of each leg names the address
				  * the kernel reaches that phone from */
	uint16_t rtp_min, rtp_max; /* 0: the sip section's rtp_start/end */
	unsigned max_calls;      /* global bound, 0: 1000 */
	struct callrec *rec;     /* call recording (media/callrec.h), NULL:
				  * none; the caller frees it after
				  * call_close() */
	const char *moh_dir;     /* music on hold classes: DATA/moh; NULL:
				  * no music on hold */
	const char *moh_default_dir; /* class "default"; NULL: Debian's
				  * /usr/share/asterisk/moh */
	const char *toll_path;   /* toll-fraud hourly counts kept across
				  * restarts: DATA/toll.json; NULL: not
				  * kept (issue 15) */
};

/* Register INVITE, ACK, BYE, CANCEL, INFO, UPDATE with the stack; reg is
 * the location service the callee's contacts come from. 0 or errno. */
int call_alloc(struct call_app **cp, struct sipd *sd, struct registrar *reg,
	       const struct call_conf *conf);

/* Live calls: array of {id, caller, callee, dialled, state ("ringing",
 * "answered", "ending"), start, answer (ISO 8601 UTC or null),
 * duration_s, codec, held, packets {caller, callee}, dropped {caller,
 * callee}}. New reference (loop thread). */
json_t *call_list(struct call_app *c);

/* Counters for status and /metrics: {active, total, answered, failed,
 * refused_limit, rtp_timeouts, strict_drop_events, relay {sessions,
 * ports_free, ports_total, live_packets, live_dropped_source (of live
 * calls, as of the relay's last report: every 2 s), packets_total,
 * dropped_source_total (since start)}}. New reference. */
json_t *call_stats(struct call_app *c);

/* SUBSCRIBE is served by another application (voicemail's MWI) through
 * this hook, so that the call layer does not depend on it. An
 * out-of-dialog SUBSCRIBE is authenticated here like an INVITE (the same
 * 407 for known and unknown users), then handed to h with its server
 * transaction tx (answer it with call_tx_respond) and the authenticated
 * extension x (borrowed from the running snapshot, valid during the
 * call). A SUBSCRIBE inside a dialog (a refresh, an unsubscribe) is
 * offered to owns first: a dialog it does not know gets 481 at once
 * (statelessly, as before); one it owns is authenticated too and handed
 * to h, which checks that x is the subscription's extension. No hook
 * (h NULL): an authenticated SUBSCRIBE gets 489 Bad Event. */
typedef void (call_subscribe_h)(struct sipd_req *rq, struct strans_tx *tx,
				const struct snap_ext *x, void *arg);
typedef bool (call_sub_owns_h)(const struct sipd_req *rq, void *arg);
void call_set_subscribe(struct call_app *app, call_subscribe_h *h,
			call_sub_owns_h *owns, void *arg);

/* Send response buf[0..len) (status code) on server transaction tx of
 * the call layer's table and run its timers. 0, EPROTO (tx already sent
 * a final response), EINVAL, ENOMEM. */
int call_tx_respond(struct call_app *app, struct strans_tx *tx,
		    unsigned code, const char *buf, size_t len);

/* hotdesk (issue 13): who is logged in where, kept by the hotdesk
 * application (src/hotdesk) and asked on the loop thread by routing (a
 * call to a hotdesk number rings the phone its user is at) and by every
 * new call (a phone a hotdesk user is logged in at calls as that user:
 * the call's caller and caller_x become the hotdesk extension; its
 * hotdesk codes stay the phone's). NULL ops: nobody is logged in. */
struct call_hotdesk_ops {
	/* the phone hotdesk extension number is logged in at, NULL none */
	const char *(*phone_of)(const char *number, void *arg);
	/* the hotdesk extension logged in at phone, NULL none */
	const char *(*user_at)(const char *phone, void *arg);
	/* number makes or receives a call now (the idle bound); may be
	 * NULL */
	void (*used)(const char *number, void *arg);
};
void call_set_hotdesk(struct call_app *app,
		      const struct call_hotdesk_ops *ops, void *arg);

/* End every call (BYE), unregister, flush the CDRs; NULL-safe. */
void call_close(struct call_app *c);

#endif
