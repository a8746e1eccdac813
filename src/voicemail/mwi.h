/*
 * mwi — message-waiting indication (RFC 3842 message-summary over RFC
 * 6665 SUBSCRIBE/NOTIFY) on the SIP loop.
 *
 * The call layer authenticates a SUBSCRIBE exactly like an INVITE (the
 * same 407 for known and unknown users) and hands it here only then.
 * Subscriptions are kept in bounded tables (per extension, in total),
 * refreshed by the phone, expired by a timer, ended by Expires: 0; each
 * change of counts is NOTIFYed within a second. Extensions whose
 * voicemail.mwi is on and that hold no subscription get unsolicited
 * NOTIFYs (out of dialog) at their registered contacts instead.
 *
 * Counts are pushed in (mwi_set) by the voicemail side; the module keeps
 * them, so a SUBSCRIBE is answered without touching the disk.
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
struct strans;
struct strans_tx;
struct ctrans;
struct registrar;
struct snapshot;
struct snap_ext;

#define MWI_MAX_SUBS      4096   /* in total */
#define MWI_MAX_PER_EXT   8
#define MWI_EXPIRES_DEF   3600
#define MWI_EXPIRES_MIN   60     /* shorter: 423 Interval Too Brief */
#define MWI_EXPIRES_MAX   7200

int mwi_alloc(struct mwi **mp, struct sipd *sd, struct strans *st,
	      struct ctrans *ct, struct registrar *reg);
struct mwi *mwi_free(struct mwi *m);   /* NULL-safe; returns NULL */

/* The running snapshot changed (which extensions exist, voicemail.mwi). */
void mwi_snapshot(struct mwi *m, struct snapshot *snap);

/* An authenticated SUBSCRIBE of extension x, out of dialog or a refresh
 * inside a subscription: Event message-summary gets 200/202 and a NOTIFY,
 * any other event 489 (with Allow-Events). The server transaction tx is
 * answered here. */
void mwi_subscribe(struct mwi *m, struct sipd_req *rq, struct strans_tx *tx,
		   const struct snap_ext *x);
/* Whether an in-dialog SUBSCRIBE belongs to a subscription of ours. */
bool mwi_owns(struct mwi *m, const struct sipd_req *rq);

/* The counts of mailbox `number` now: NOTIFY its subscribers (or its
 * contacts, unsolicited) when they differ from what they were told. */
void mwi_set(struct mwi *m, const char *number, unsigned n_new,
	     unsigned n_saved);

struct mwi_stats {
	unsigned subs;
	uint64_t notify_sent, notify_failed, refused_full;
};
void mwi_stats(const struct mwi *m, struct mwi_stats *st);

#endif
