/*
 * mwi — message-waiting indication (RFC 3842 message-summary over RFC
 * 6665 SUBSCRIBE/NOTIFY) on the SIP loop, src/voicemail/mwi.c; the pure
 * parts (Event and Accept values, the body, the Expires rule) in
 * mwi_body.c.
 *
 * The call layer authenticates a SUBSCRIBE exactly like an INVITE (the
 * same 407 for known and unknown users) and hands it here only then
 * (call_set_subscribe, which mwi_alloc installs): an in-dialog one
 * (refresh, Expires: 0) only when mwi_owns knows its dialog, and it must
 * come from the subscription's own extension. Subscriptions are kept in
 * bounded tables (per extension, in total), refreshed by the phone,
 * expired by a timer, ended by Expires: 0, by a NOTIFY that fails (481,
 * any final >= 300, no answer), or when the extension loses its mailbox
 * or its voicemail.mwi. Each change of counts is NOTIFYed at once.
 * Extensions whose voicemail.mwi is on and that hold no subscription get
 * unsolicited NOTIFYs (out of dialog) at their registered contacts
 * instead. docs/internals/mwi.md.
 *
 * Counts are pushed in (mwi_set) by the voicemail side; the module keeps
 * them (in memory), so a SUBSCRIBE is answered without touching the disk.
 * Loop thread only. Include libre's headers first.
 */
#ifndef BULWARK_MWI_H
#define BULWARK_MWI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mwi;
struct sipd;
struct sipd_req;
struct strans_tx;
struct call_app;
struct registrar;
struct snapshot;
struct snap_ext;

#define MWI_MAX_SUBS      4096   /* in total; more: 503 + Retry-After */
#define MWI_MAX_PER_EXT   8      /* per extension; more: 503 too */
#define MWI_EXPIRES_DEF   3600
#define MWI_EXPIRES_MIN   60     /* shorter: 423 Interval Too Brief */
#define MWI_EXPIRES_MAX   7200   /* longer: granted this */
#define MWI_RETRY_AFTER   60     /* seconds, with a 503 */
#define MWI_ID_MAX        64     /* octets of an Event id parameter */

/* The MWI service on stack sd: SUBSCRIBEs come through the call layer's
 * hook (installed on app here, removed by mwi_free) and are answered on
 * app's server transactions; NOTIFYs go through a client transaction
 * table of the module's own; the contacts of unsolicited NOTIFYs come
 * from reg. 0, EINVAL, ENOMEM or sipd_app_register's error. */
int mwi_alloc(struct mwi **mp, struct sipd *sd, struct call_app *app,
	      struct registrar *reg);
/* Unhook, drop every subscription (no NOTIFY: after a restart a refresh
 * gets 481 and the phone subscribes anew). NULL-safe; returns NULL. */
struct mwi *mwi_free(struct mwi *m);

/* The running snapshot changed (snap borrowed for the call): the
 * subscriptions of an extension that is gone, lost its mailbox or its
 * voicemail.mwi end (NOTIFY terminated;reason=noresource). */
void mwi_snapshot(struct mwi *m, struct snapshot *snap);

/* An authenticated SUBSCRIBE of extension x, out of dialog or inside a
 * subscription (mwi_owns): Event message-summary gets 200 and a NOTIFY
 * (Expires: 0: 200 and a terminated NOTIFY), a missing or other event
 * 489 with Allow-Events. The server transaction tx is answered here. */
void mwi_subscribe(struct mwi *m, struct sipd_req *rq, struct strans_tx *tx,
		   const struct snap_ext *x);
/* Whether an in-dialog request names a subscription of ours (Call-ID,
 * From tag = its remote tag, To tag = its local tag). */
bool mwi_owns(struct mwi *m, const struct sipd_req *rq);

/* The counts of mailbox `number` now (an unknown number, or one without
 * a mailbox, is ignored): NOTIFY its subscribers, or its contacts
 * unsolicited, when they differ from what they were told. */
void mwi_set(struct mwi *m, const char *number, unsigned n_new,
	     unsigned n_saved);

struct mwi_stats {
	unsigned subs;
	uint64_t notify_sent, notify_failed, refused_full, unsolicited;
};
void mwi_stats(const struct mwi *m, struct mwi_stats *st);

/* ---- pure parts (mwi_body.c) ------------------------------------------ */

/* An Event header value (RFC 6665 8.4: event-type *(";" event-param)). */
struct mwi_event {
	bool msum;                    /* the type is message-summary */
	char id[MWI_ID_MAX + 1];      /* the id parameter, "" none */
};

/* Parse Event value p[0..l): 0 and *ev; EBADMSG for a value that is not
 * a token with generic parameters, or an id that is not a token of at
 * most MWI_ID_MAX octets. */
int mwi_event_parse(const char *p, size_t l, struct mwi_event *ev);

/* Whether an Accept value p[0..l) takes application/simple-message-
 * summary (that type, application/ * or * / *, any parameters). */
bool mwi_accepts(const char *p, size_t l);

/* What a requested Expires (-1: none) becomes. */
enum mwi_exp {
	MWI_EXP_OK = 0,   /* *granted seconds (clamped to the bounds) */
	MWI_EXP_END,      /* 0: unsubscribe (or fetch) */
	MWI_EXP_BRIEF,    /* under MWI_EXPIRES_MIN: 423 */
};
enum mwi_exp mwi_expires(int64_t asked, uint32_t *granted);

/* The application/simple-message-summary body of mailbox number at
 * realm into out: "Messages-Waiting: yes|no", "Message-Account:
 * sip:NUMBER@REALM", "Voice-Message: NEW/OLD (0/0)" (no urgent
 * messages), CRLF each. Returns its length, 0 when it does not fit. */
size_t mwi_body(char *out, size_t sz, const char *number, const char *realm,
		unsigned n_new, unsigned n_old);

#endif
