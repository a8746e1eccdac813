/*
 * call internals shared by the rooms of src/call: call.c (the
 * application: tables, life cycle, timers, status), invite.c (a new call:
 * authenticate, route, fork), bleg.c (the B legs: INVITE out, responses
 * in, ACK, CANCEL), dialog_in.c (requests inside a call: ACK, BYE,
 * CANCEL, re-INVITE, UPDATE, INFO), media.c (SDP and the relay), end.c
 * (tear-down and the CDR). Loop thread only.
 */
#ifndef BULWARK_CALL_INT_H
#define BULWARK_CALL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* the libre parts (libre headers have no include guards) */
#include "registrar/registrar.h"

#include "auth/auth.h"
#include "call/call.h"
#include "call/route.h"
#include "call/svc.h"
#include "media/relay.h"
#include "media/sdp.h"
#include "sip/ctrans.h"
#include "sip/dialog.h"
#include "sip/sipd.h"
#include "sip/strans.h"
#include "store/cdr_db.h"

#define MOD "call"
#define CALL_BUF 16384
#define CALL_MAX_FORK 8          /* contacts rung per call */
#define CALL_MAX_LEGS 32         /* legs a call keeps (transfers add) */
#define CALL_RING_MS 120000      /* nobody answered: 480 */
#define CALL_T1 500
#define CALL_2XX_MAX 64          /* 2xx resent until 64*T1 */
#define CALL_CDR_WAIT_MS 3000    /* wait for the relay's final counters */
#define CALL_TRUNK_RESP_MS 4000  /* outbound (issue 15): a trunk that
				  * answers nothing (not even 100) this long
				  * is passed over */

struct call;
struct leg;
struct campon;

/* Calls the PBX places (originate.c; camp-on, issue 13): how one ended,
 * for whoever placed it. */
struct orig_outcome {
	bool a_answered;        /* the first phone answered */
	bool b_answered;        /* ... then the second: connected */
	bool b_busy;            /* the second was in another call by the
				 * time the first answered */
};
typedef void (orig_done_h)(uint64_t token, const struct orig_outcome *o,
			   void *arg);

/* A request of a phone we answer later (the INVITE, a forwarded
 * re-INVITE/UPDATE/INFO): its bytes are kept to write the responses. */
struct saved_req {
	char *buf;            /* mem */
	size_t len;
	struct sa src;
	enum sipd_tp tp;
	uint64_t conn;
	struct strans_tx *tx; /* NULL once the transaction ended */
};

enum call_state { CALL_RINGING = 0, CALL_ANSWERED, CALL_ENDING };

struct leg {
	struct le hle;          /* app->legs, by Call-ID */
	struct le cle;          /* call->blegs (B legs) */
	struct call *call;
	bool is_a;
	struct dialog dlg;
	const struct snap_ext *x;   /* the phone's extension (call->snap) */
	bool nat;
	struct sa sig;          /* where its signalling comes from */
	/* B legs */
	char uri[REG_URI_MAX + 1];
	struct ctrans_tx *inv;  /* the INVITE, while it lives */
	unsigned code;          /* best response so far */
	bool cancel;            /* cancel once a provisional came */
	bool failed;            /* a final non-2xx (or no answer) */
	bool xfer;              /* rings a transfer target (xfer.c) */
	bool join;              /* ... moved in from another call (attended
				 * transfer): hung up if it refuses */
	unsigned gen;           /* the ring step that started it */
	bool refresh;           /* a re-INVITE of ours is out (xfer.c:
				 * the transferee taken off hold) */
	char *ack;              /* ACK of its 2xx, resent on retransmission */
	size_t ack_len;
	uint32_t inv_cseq;
	bool orig;              /* the A leg of a call the PBX placed: our
				 * INVITE (originate.c) */
	/* outbound (issue 15, trunk_out.c): a B leg to a trunk (borrowed
	 * from call->snap; x is NULL), its INVITE resent with credentials
	 * once already */
	const struct trunk_conf *trunk;
	bool authed;
};

/* A request forwarded from one leg to the other inside a call. */
struct fwd {
	bool live;
	struct saved_req in;
	struct leg *from, *to;
	struct ctrans_tx *out;
	char method[8];
	bool sdp;               /* carried an offer */
	bool hold;              /* the offer puts media on hold */
};

struct trunk_caller;   /* trunk (issue 15): call/trunk_in.h */

struct call {
	struct le le;           /* app->calls */
	struct call_app *app;
	char id[24];
	enum call_state state;
	struct snapshot *snap;  /* referenced for the call's life */
	const struct snap_ext *caller_x, *callee_x;
	char caller[32], callee[32], dialled[64];
	struct leg *a;
	struct list blegs;
	struct leg *win;        /* the B leg that answered */
	struct saved_req inv;   /* A's INVITE */
	/* media */
	uint32_t relay_id;
	bool relay_live;
	struct relay_ports ports[2];
	struct sdp_leg sdpl[2];  /* our origin towards A (0) and B (1) */
	struct sdp_ptset pts;
	char *offer_a;           /* the caller's offer, as received */
	size_t offer_a_len;
	char *offer_b;           /* the offer sent to the B legs */
	size_t offer_b_len;
	char *sdp_to[2];         /* the last body sent to A (0), B (1) */
	size_t sdp_to_len[2];
	bool held;
	char codec[32];
	struct relay_leg_stats st[2];
	/* srtp (issue 15, media_srtp.c): SDES SRTP of each relay side */
	struct call_srtp {
		const struct leg *leg;   /* the phone it was set up with */
		bool on;                 /* SRTP on this side */
		bool rekey;              /* ours is renewed at the next
					  * exchange (music on hold) */
		uint8_t suite;           /* enum srtpc_suite */
		uint32_t tag;            /* a=crypto tag of the exchange */
		bool theirs;             /* their key known */
		uint8_t ours[RELAY_SRTP_KEY], their[RELAY_SRTP_KEY];
	} srtp[2];
	/* timing */
	int64_t start_ms, answer_ms;
	struct tmr ring;         /* the ring step's time ran out */
	/* routing: the plan being carried out (route.h) */
	struct route_result plan;
	size_t step;             /* index in plan.steps */
	unsigned gen;            /* ring steps started (legs carry theirs) */
	enum route_rule fwd_rule;   /* the last forward, for the CDR */
	char fwd_from[24], fwd_to[24];
	struct tmr retx;         /* 2xx to A until its ACK */
	unsigned retx_n;
	char *ok;                /* that 2xx */
	size_t ok_len;
	struct fwd fwd;
	struct {                 /* a blind transfer in progress */
		bool live;
		struct leg *from;        /* the transferor */
		const struct snap_ext *to;
	} xfer;
	/* a service answers (svc.c): the relay's B side is its endpoint */
	bool svc;
	enum route_svc svc_kind; /* which service (app->svc_ops[]) */
	void *svc_sess;          /* the service's, until closed */
	bool svc_started;        /* answered() was called */
	uint64_t svc_handle;
	/* call_svc_connect (svc_connect.c, issue 13): the answered caller
	 * is handed on; B legs ring while the call is ANSWERED */
	bool handon;
	unsigned handons;
	/* caller ID (callerid.c): the display name of the caller's own
	 * From as received, used only when its extension allows override */
	char caller_disp[80];
	/* a call the PBX placed (originate.c): its A leg is our INVITE */
	struct {
		bool live;               /* this call is one */
		bool a_up;               /* its A leg answered */
		bool busy_again;         /* b was in another call by then */
		enum route_rule rule;    /* why (the CDR's fwd_rule) */
		orig_done_h *doneh;      /* told once, as it ends */
		uint64_t token;
		void *arg;
		char reason[64];         /* "camp_on: ..." for the CDR */
	} orig;
	/* call recording (record.c, issue 13) */
	struct callrec_tap *rec_tap;  /* NULL: not recorded */
	char rec_path[64];            /* under DATA/recordings, for the CDR */
	struct {                      /* music on hold (moh.c, issue 13) */
		bool live;
		struct leg *holder;   /* whose side plays the music */
		uint32_t ep;          /* the endpoint playing it */
		uint64_t tag;
		unsigned idx;         /* file of the class playing */
		unsigned errs;        /* files refused in a row */
		char cls[33];
	} moh;
	/* trunk (issue 15): a call from a trunk: its synthetic caller
	 * (caller_x points into it), owned; NULL otherwise */
	struct trunk_caller *trunk_in;
	/* outbound (issue 15, trunk_out.c): a call out through trunks */
	struct {
		bool live;               /* this call is one */
		bool counted;            /* toll_take said yes: toll_end */
		const struct out_route *r;   /* borrowed from snap */
		size_t next;             /* the route's next trunk to try */
		const struct snap_ext *payer;
		char num[33];            /* what is sent (R-URI user) */
		char trunk[33];          /* the trunk tried last / used */
		struct leg *cur;         /* that trunk's leg */
		struct tmr resp;         /* it answered nothing yet */
	} out;
	/* the end, for the CDR */
	const char *disp;
	unsigned cause;
	const char *side;
	const char *reason;
};

/* A CDR waiting for the relay's final counters. */
struct cdr_wait {
	struct le le;
	uint32_t relay_id;
	uint64_t deadline;
	struct cdr_rec rec;
};

/* Nonce counts of INVITEs, per extension (bounded by the extensions
 * that authenticated). */
struct call_nc {
	struct le le;
	char number[24];
	struct auth_nc nc;
};

struct call_app {
	struct sipd *sd;
	struct registrar *reg;
	struct auth *auth;
	struct strans *st;
	struct ctrans *ct;
	struct relay *relay;
	call_cdr_h *cdrh;
	void *cdr_arg;
	struct callrec *rec;      /* call recording; NULL: none (issue 13) */
	struct mohlib *mohlib;    /* music on hold (moh.c); NULL: none */
	struct endpoints *moh_eps;  /* its endpoints, made at first use */
	/* services by kind (route.h enum route_svc); NULL: none */
	const struct call_svc_ops *svc_ops[ROUTE_SVC__COUNT];
	void *svc_arg[ROUTE_SVC__COUNT];
	struct campon *campon;    /* camp-on requests (campon.c), or NULL */
	struct toll *toll;        /* toll-fraud counters (outbound, issue
				   * 15); NULL: no call leaves on a trunk */
	struct toll_save *toll_save;   /* their hours saved (toll_save.h),
					* or NULL */
	call_subscribe_h *subh;   /* SUBSCRIBE served elsewhere (MWI) */
	call_sub_owns_h *sub_owns;
	void *sub_arg;
	/* hotdesk (issue 13): the log-in table's hook (hdcall.c) */
	const struct call_hotdesk_ops *hd_ops;
	void *hd_arg;
	struct tmr tick;         /* transactions' timers */
	uint64_t tick_at;
	struct hash *legs;
	struct hash *nc;
	struct list calls;
	struct list cdr_wait;
	struct tmr cdr_tmr;
	struct tmr counters;     /* live calls' relay counters, every 2 s */
	unsigned n_calls, max_calls;
	struct sa rtp_bind;      /* any address: SDP per leg */
	bool rtp_any;
	uint64_t next_id;
	/* counters */
	uint64_t c_total, c_answered, c_failed, c_limit, c_auth_fail,
		c_strict_drop, c_timeout;
	uint64_t c_pkts, c_dropped;   /* relayed / dropped by strict source,
				       * of calls that ended */
	uint64_t c_srtp_fail, c_srtp_replay; /* srtp: of calls that ended */
	/* scratch */
	struct sipmsg scratch;
	char buf[CALL_BUF];
	char body[CALL_BUF];
	char xbuf[2048];
};

/* ---- call.c ------------------------------------------------------------ */

uint64_t call_now_ms(void);
int64_t call_unix_ms(void);
/* Run the transaction timers again at the earliest they need. */
void call_tick_schedule(struct call_app *app);
/* Our address towards a leg's phone (Via, Contact, SDP). */
int call_laddr(struct call_app *app, const struct leg *l, struct sa *out);
struct leg *leg_find(struct call_app *app, const struct sipmsg *m);
void leg_index(struct call_app *app, struct leg *l);
/* Keep a copy of the request rq with its transaction. */
int saved_req_set(struct saved_req *s, const struct sipd_req *rq,
		  struct strans_tx *tx);
void saved_req_clear(struct saved_req *s);
/* Respond to a saved request through its transaction (if it lives):
 * extra header lines, a body (application/sdp when ctype NULL). Returns
 * the length written (what was sent), 0 when nothing was. The response
 * stays in app->buf until the next write. */
size_t call_respond(struct call_app *app, struct saved_req *s,
		    unsigned code, const char *reason, const char *extra,
		    const char *ctype, const char *body, size_t blen);
/* Send request method in leg l's dialog through a client transaction
 * (not ACK): a new CSeq. 0 or errno; *txp may be NULL. */
int call_leg_request(struct call_app *app, struct leg *l, const char *method,
		     const char *extra, const char *ctype, const char *body,
		     size_t blen, struct ctrans_tx **txp, void *user);
/* "Contact: <sip:user@addr[;transport=tcp]>\r\n" for leg l into app->xbuf
 * at off; returns the new offset. */
size_t call_contact(struct call_app *app, const struct leg *l,
		    const char *user, size_t off);
/* Security event (guard), rate-limited. */
void call_event(struct call_app *app, const char *type, json_t *fields);

/* The user part of a sip:/sips: URI (up to ';' or ':'), "" when none. */
void call_uri_user(const struct sipmsg_str *u, const char **p, size_t *l);
/* Answer a server transaction at once (no body). */
void call_answer(struct call_app *app, struct sipd_req *rq,
		 struct strans_tx *tx, unsigned code, const char *reason,
		 const char *extra);

/* ---- invite.c ---------------------------------------------------------- */

void call_h_invite(struct sipd_req *rq, void *arg);
/* What routing asks of the loop's live state. */
void call_route_live(struct call_app *app, struct route_live *live);
/* An out-of-dialog REFER: authenticated (407) like an INVITE, then
 * refused 403 (a transfer happens inside a call). */
void call_refer_outside(struct call_app *app, struct sipd_req *rq);
/* MESSAGE (not served) and SUBSCRIBE: challenged like an INVITE, so
 * that known and unknown users get the same 407; once authenticated, 405
 * (MESSAGE), or SUBSCRIBE goes to the subscribe hook (489 Bad Event
 * without one). Inside a dialog: 481, but a SUBSCRIBE whose dialog the
 * hook owns is authenticated and handed to it. */
void call_h_unserved(struct sipd_req *rq, void *arg);
struct leg *leg_new(struct call *c, bool is_a);
/* A call's destructor (mem), for calls made elsewhere (originate.c). */
void call_destructor(void *arg);
unsigned call_calls_of(struct call_app *app, const char *number, bool in);

/* ---- ring.c ------------------------------------------------------------ */

/* Carry out routing's plan rr (a ROUTE_EXTENSION): ring its first step.
 * The call may have ended when it returns (nothing reachable). */
void ring_plan(struct call *c, const struct route_result *rr);
/* Every leg of the current step failed: busy (all said busy or
 * declined), else the next step or the no-answer forward; with nothing
 * left, the caller gets code/reason/disp. */
void ring_step_failed(struct call *c, bool busy, unsigned code,
		      const char *reason, const char *disp);

/* ---- bleg.c ------------------------------------------------------------ */

/* Ring one contact of extension x: a B leg with its dialog and INVITE.
 * 0 or errno. */
int bleg_start(struct call *c, const struct snap_ext *x, const char *uri,
	       const struct sa *dst, enum sipd_tp tp, uint64_t conn,
	       bool nat);
void bleg_response(struct call_app *app, struct leg *l,
		   const struct sipmsg *m);
/* ACK the 2xx of l's INVITE (kept, resent if the 2xx comes again). */
void bleg_ack(struct call_app *app, struct leg *l);
/* The INVITE transaction of l ended without a final response. */
void bleg_timeout(struct call_app *app, struct leg *l);
/* Cancel every B leg but keep (NULL: all). */
void bleg_cancel_others(struct call *c, struct leg *keep);
/* Answer the caller: 200 with our Contact, Allow and the description in
 * app->body (blen), resent until its ACK. The call is ANSWERED. */
void call_ok_a(struct call *c, size_t blen);

/* ---- trunk_out.c (outbound, issue 15) -------------------------------- */

/* Routing said ROUTE_TRUNK: the toll-fraud limits, then the route's
 * first usable trunk rings. The call may have ended on return. */
void trunk_out_start(struct call *c, const struct route_result *rr);
/* A final non-2xx of trunk leg l: a 401/407 answered once with the
 * trunk's credentials, 5xx/408 fail over to the next trunk, anything
 * else ends the call with that answer. */
void trunk_out_final(struct call_app *app, struct leg *l,
		     const struct sipmsg *m);
/* Trunk leg l sent a response (any): it is alive. */
void trunk_out_heard(struct leg *l);
/* l's INVITE got no final answer: the next trunk. */
void trunk_out_timeout(struct call_app *app, struct leg *l);
/* The outbound connection l's INVITE went on closed or failed (why: the
 * connection's reason, for the log) before a final response: as a 503
 * from that trunk. l's INVITE transaction is let go (l->inv NULL, its
 * timer ends it unseen: no second failover), then the next trunk rings
 * (none left: 503 to the caller). */
void trunk_out_conn_closed(struct call_app *app, struct leg *l,
			   const char *why);
/* What routing must know of call c for trunks: it came in from a trunk
 * (live->from_trunk) and whether the toll section's inbound_to_outbound
 * lets such a call leave on one. */
void trunk_out_live(const struct call *c, struct route_live *live);
/* call_end of an outbound call: its toll counts end. */
void trunk_out_ending(struct call *c);

/* ---- conn_lost.c (outbound, issue 15) ------------------------------- */

/* The sipd_app conn_closed hook (arg: the call_app): every trunk leg
 * still waiting for a final response to an INVITE sent on outbound
 * connection conn goes to trunk_out_conn_closed. */
void call_conn_closed(struct sipd *sd, uint64_t conn, const char *why,
		      void *arg);

/* ---- svc.c ------------------------------------------------------------- */

/* Routing (or a ringing plan's end) gives the call to a service: answer
 * it on the service's endpoint. The call may have ended on return. */
void svc_start(struct call *c, const struct route_result *rr);
/* A request inside a service call (INFO digits, re-INVITE, REFER). */
void svc_indialog(struct call_app *app, struct sipd_req *rq,
		  struct strans_tx *tx, struct leg *l);
/* The caller's ACK of the service's 200. */
void svc_acked(struct call *c);
/* The call ends: tell the service (once). */
void svc_closed(struct call *c);

/* ---- svc_connect.c (issue 13) ------------------------------------------- */

/* A B leg of a hand-on answered m: it takes the relay's B side. */
void svc_connect_answered(struct call *c, struct leg *l,
			  const struct sipmsg *m);
/* The hand-on's plan ended with nobody: the caller is hung up. */
void svc_connect_failed(struct call *c, unsigned code, const char *disp,
			const char *side, const char *why);
/* ---- hdcall.c (hotdesk, issue 13) ------------------------------------ */

/* Routing's question "where is this hotdesk extension logged in". */
void hdcall_live(struct call_app *app, struct route_live *live);
/* The identity call c places: the hotdesk extension logged in at phone
 * (c->caller and c->caller_x set to it), or phone itself (no one logged
 * in, or c dials a hotdesk code). */
const struct snap_ext *hdcall_caller(struct call *c,
				     const struct snap_ext *phone);

/* ---- dialog_in.c ------------------------------------------------------- */

void call_h_ack(struct sipd_req *rq, void *arg);
void call_h_bye(struct sipd_req *rq, void *arg);
void call_h_cancel(struct sipd_req *rq, void *arg);
/* re-INVITE, UPDATE, INFO inside a call (rq names leg l). */
void call_indialog(struct call_app *app, struct sipd_req *rq, struct leg *l);
void call_h_update_info(struct sipd_req *rq, void *arg);
void fwd_response(struct call_app *app, struct call *c,
		  const struct sipmsg *m);

/* ---- xfer.c ------------------------------------------------------------ */

void xfer_refer(struct call_app *app, struct sipd_req *rq,
		struct strans_tx *tx, struct leg *l);
void xfer_response(struct call_app *app, struct leg *l,
		   const struct sipmsg *m);
void xfer_timeout(struct call_app *app, struct leg *l);
/* The answer to our re-INVITE of l (refresh). */
void xfer_refresh_response(struct call_app *app, struct leg *l,
			   const struct sipmsg *m);

/* ---- originate.c: calls the PBX places (camp-on) ----------------------- */

/* Ring extension a (its newest live contact, for its user.ring_time;
 * caller ID b); when it
 * answers, ring b's contacts (caller ID a); when b answers the two talk
 * through the relay. rule names why (CDR fwd_rule, reason prefix); doneh
 * (may be NULL) hears the outcome once, as the call ends. 0, or an errno
 * with nothing started (doneh not called). */
int call_originate(struct call_app *app, const char *a, const char *b,
		   enum route_rule rule, orig_done_h *doneh, uint64_t token,
		   void *arg);
/* A response to the INVITE of an originated call's A leg. */
void orig_response(struct call_app *app, struct leg *l,
		   const struct sipmsg *m);
/* That INVITE's transaction ended without a final response. */
void orig_timeout(struct call_app *app, struct leg *l);
/* call_end of an originated call (answered: the B side answered): the A
 * leg is cancelled or hung up as needed, the reason prefixed, doneh
 * told. Nothing for other calls. */
void orig_ending(struct call *c, bool answered);

/* ---- campon.c ---------------------------------------------------------- */

/* route_live.last_busy: the extension last busy for caller (arg: the
 * call_app). */
const char *campon_last_busy(const char *caller, void *arg);
/* Every call that ends (call_end): a busy outcome is remembered for *82
 * alone, and waiting requests are looked at again soon. */
void campon_ended(struct campon *cp, const struct call *c);
/* Its counters for the call layer's status ("camp_on"): requests kept
 * now, taken, refused (bounds), expired, callbacks placed, connected. */
json_t *campon_status(const struct campon *cp);

/* ---- media.c ----------------------------------------------------------- */

/* The caller's offer: parse, intersect codecs, open a relay session and
 * write the offer for the B legs (c->offer_b). 0, or the SIP status to
 * answer (488, 503) with *reason. */
unsigned media_offer(struct call *c, const struct sipmsg *m,
		     const char **reason);
/* Write the offer for B leg l (the caller's, rewritten: our address
 * towards l's phone, the relay's B ports, the codecs kept) into
 * app->body (*len); kept as c->offer_b. 0 or errno. */
int media_offer_for(struct call *c, struct leg *l, size_t *len);
/* B leg l's answer m (a 2xx or 183 with SDP): check it, set the relay's
 * B leg, write the answer for A into app->body (*len). 0 or 488. */
unsigned media_answer(struct call *c, struct leg *l, const struct sipmsg *m,
		      size_t *len);
/* A re-offer/answer inside the call from leg `from`: rewrite body for
 * the other side into app->body; updates the relay (addresses, hold,
 * re-learning). offer: it is an offer (else an answer). 0 or 488. */
unsigned media_update(struct call *c, struct leg *from, const char *body,
		      size_t blen, bool offer, bool *hold, size_t *len);
/* The description last sent to side (0 A, 1 B), written again for
 * leg l with the media active (sendrecv, no hold) into app->body (*len).
 * 0 or errno. */
int media_active_for(struct call *c, struct leg *l, int side, size_t *len);
/* The same with direction dir ("inactive") instead of sendrecv (music
 * on hold answering a hold). */
int media_dir_for(struct call *c, struct leg *l, int side, const char *dir,
		  size_t *len);
/* A transfer target l answered m: its side of the relay moves to it.
 * 0 or 488. */
unsigned media_xfer_answer(struct call *c, struct leg *l,
			   const struct sipmsg *m);
void media_close(struct call *c);
/* srtp (issue 15, media_srtp.c; docs/internals/srtp.md): SDES SRTP per
 * relay side. A side is SRTP when its phone offered RTP/SAVP with a
 * suite we support, or its extension has phone.srtp; keys travel only
 * over TLS. side = 0 (A) or 1 (B). */
/* An offer from leg l (media i of sdp): decides its side. 0, or 488
 * (SRTP over a transport other than TLS, no supported suite, a plain
 * offer from an extension with phone.srtp). */
unsigned msrtp_offer_in(struct call *c, struct leg *l, const struct sdp *sdp,
			int i);
/* An answer from leg l to what we offered it: its key. 0 or 488. */
unsigned msrtp_answer_in(struct call *c, struct leg *l, const struct sdp *sdp,
			 int i);
/* Before we offer to leg l on side: SRTP when the extension has
 * phone.srtp (then the leg must be on TLS: else EPERM), or the side
 * already has it with this phone. 0 or EPERM. */
int msrtp_offer_out(struct call *c, struct leg *l, int side);
/* Our a=crypto value for side into buf, or NULL when the side is plain. */
const char *msrtp_line(const struct call *c, int side, char *buf, size_t sz);
/* The side's suite and keys into a relay leg configuration (nothing
 * when plain or their key is not known yet). */
void msrtp_lc(const struct call *c, int side, struct relay_leg_conf *lc);
/* Our key of side is renewed at its next exchange. */
void msrtp_rekey(struct call *c, int side);
/* Forget every key of the call (wiped). */
void msrtp_wipe(struct call *c);
/* Originated calls (originate.c): open the relay session and write our
 * offer for the A leg (G.711 of both extensions, telephone-event) into
 * app->body (*len). 0, ENOTSUP (no G.711 in common) or an errno. */
int media_orig_offer(struct call *c, size_t *len);
/* The A leg's answer m to that offer: checked, the relay's A side set,
 * kept as the offer the B legs get rewritten (c->offer_a). 0 or 488. */
unsigned media_orig_answer(struct call *c, const struct sipmsg *m);
/* A service answers: the codec it serves from the caller's offer (the
 * first of PCMU, PCMA kept for the call) and telephone-event. 0 or 488. */
unsigned media_svc_pick(struct call *c, int *pt, int *te_pt);
/* The relay's B side becomes the service's endpoint at ep; the answer
 * for A (the caller's m-lines, audio at the relay) into app->body
 * (*len). 0 or 488. */
unsigned media_svc_answer(struct call *c, const struct sa *ep, int pt,
			  int te_pt, size_t *len);
/* Whether the offer body of leg traffic in call c puts its audio on
 * hold (sendonly, inactive, c=0.0.0.0). 0 or EINVAL (not a description
 * we relay). */
int media_offer_held(struct call *c, const char *body, size_t blen,
		     bool *held);
/* The relay's address a local endpoint sends to and binds on. */
void media_svc_addr(const struct call *c, struct sa *out);
/* Relay events (TIMEOUT ends the call, DESTROYED completes its CDR). */
void media_events(int flags, void *arg);

/* ---- record.c (call recording, issue 13) ------------------------------- */

/* The call was answered: record it when an extension of it says so. */
void call_rec_answered(struct call *c);
/* The call ends: the recording completes once the relay lets go. */
void call_rec_end(struct call *c);

/* ---- moh.c (music on hold, issue 13) ---------------------------------- */

/* A re-INVITE/UPDATE with SDP from leg l of an answered call: true when
 * music on hold answered it (a hold starts the music; the held party's
 * offer while it plays); false to relay it as usual (a resume ends the
 * music first). */
bool moh_indialog(struct call_app *app, struct sipd_req *rq,
		  struct strans_tx *tx, struct leg *l);
/* Ends the music (the call ends, a transfer replaces the holder). */
void moh_stop(struct call *c);
/* The library of classes (data_dir DATA/moh; NULL: no music on hold),
 * and its end (after every call ended, before the relay is freed). */
int moh_open(struct call_app *app, const char *data_dir,
	     const char *default_dir);
void moh_close(struct call_app *app);

/* ---- end.c ------------------------------------------------------------- */

/* End call c: BYE or CANCEL its legs as needed, destroy the relay
 * session, queue the CDR, free the call. */
void call_end(struct call *c, const char *disp, unsigned cause,
	      const char *side, const char *reason);
/* The relay's final counters of a session arrived. */
void cdr_counters(struct call_app *app, uint32_t relay_id,
		  const struct relay_leg_stats st[2]);
void cdr_flush_all(struct call_app *app);

#endif
