/*
 * media_srtp — SDES SRTP (RFC 4568) of a call's two relay sides: which
 * side is SRTP, the keys both ways, our a=crypto line; the relay does the
 * packet work (media/srtp_leg.c). Rules: docs/internals/srtp.md.
 *
 * A side is SRTP when its phone offers RTP/SAVP(F) with a suite we
 * support, or when its extension has phone.srtp (then a plain offer is
 * refused 488 and we offer it SRTP ourselves). Keys only ever cross TLS:
 * an a=crypto offer over UDP or TCP is refused 488, an extension with
 * phone.srtp is offered nothing over another transport.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "call/call_int.h"   /* the libre parts first */
#include "common/log.h"
#include "media/sdp_crypto.h"
#include "store/snapshot.h"

/* what we offer: the suite every SDES phone has (RFC 4568 §6.2.1) */
#define OFFER_SUITE SRTPC_AES_CM_128_HMAC_SHA1_80
#define OFFER_TAG   1

static int side_of_leg(const struct leg *l)
{
	return l->is_a ? 0 : 1;
}

static bool secure(const struct sdp *sdp, int i)
{
	enum sdp_proto p = sdp->media[i].proto;

	return p == SDP_PROTO_RTP_SAVP || p == SDP_PROTO_RTP_SAVPF;
}

static bool on_tls(const struct leg *l)
{
	return l->dlg.tp == SIPD_TLS;
}

static bool mandatory(const struct leg *l)
{
	return l->x && l->x->srtp;
}

/* The side is for another phone now (a transfer): nothing of the last
 * one's is kept, ours included. */
static void adopt(struct call_srtp *st, const struct leg *l)
{
	if (st->leg == l)
		return;
	sodium_memzero(st, sizeof(*st));
	st->leg = l;
}

static void ours_fresh(struct call_srtp *st, enum srtpc_suite suite)
{
	if (st->on && st->suite == suite && !st->rekey)
		return;
	(void)sdp_crypto_keygen(suite, st->ours);
	st->rekey = false;
}

unsigned msrtp_offer_in(struct call *c, struct leg *l, const struct sdp *sdp,
			int i)
{
	struct call_srtp *st = &c->srtp[side_of_leg(l)];
	const struct sdp_crypto *cr = sdp_crypto_pick(sdp, (size_t)i);
	const char *why = NULL;

	if (secure(sdp, i) || sdp->media[i].n_crypto) {
		if (!on_tls(l))
			why = "SRTP keys offered over a transport other than "
			      "TLS";
		else if (!secure(sdp, i))
			why = "a=crypto on a plain RTP profile";
		else if (!cr)
			why = "no a=crypto suite we support";
	}
	else if (mandatory(l)) {
		why = "plain RTP offered by an extension with phone.srtp";
	}
	if (why) {
		log_info(MOD, "call %s: %s: refused: %s", c->id,
			 l->x ? l->x->number : "?", why);
		return 488;
	}
	adopt(st, l);
	if (!cr) {
		sodium_memzero(st->ours, sizeof(st->ours));
		st->on = st->theirs = false;
		return 0;
	}
	ours_fresh(st, (enum srtpc_suite)cr->suite);
	if (sdp_crypto_key(cr, st->their))
		return 488;
	st->on = true;
	st->theirs = true;
	st->suite = cr->suite;
	st->tag = cr->tag;
	return 0;
}

unsigned msrtp_answer_in(struct call *c, struct leg *l, const struct sdp *sdp,
			 int i)
{
	struct call_srtp *st = &c->srtp[side_of_leg(l)];
	const struct sdp_crypto *cr;

	if (!st->on)
		return secure(sdp, i) ? 488 : 0;
	cr = sdp_crypto_find(sdp, (size_t)i, st->tag);
	if (!secure(sdp, i) || !cr || cr->suite != st->suite ||
	    sdp_crypto_key(cr, st->their)) {
		log_info(MOD, "call %s: %s: answer refused: no a=crypto "
			 "answering ours", c->id, l->x ? l->x->number : "?");
		return 488;
	}
	st->theirs = true;
	st->leg = l;          /* the fork that answered holds the side */
	return 0;
}

int msrtp_offer_out(struct call *c, struct leg *l, int side)
{
	struct call_srtp *st = &c->srtp[side];
	bool kept = st->on && st->leg == l;

	/* the B legs rung at once share the side: one key for all of them
	 * until one answers (ringing, or a service handing its caller on) */
	if (!l->is_a && st->on && st->leg && !st->leg->is_a &&
	    (c->state == CALL_RINGING || !st->theirs))
		kept = true;
	if (!mandatory(l) && !kept) {
		adopt(st, l);
		st->on = false;
		return 0;
	}
	if (!on_tls(l)) {
		log_info(MOD, "call %s: %s: not offered: phone.srtp needs TLS "
			 "(the phone is reached over %s)", c->id,
			 l->x ? l->x->number : "?",
			 l->dlg.tp == SIPD_TCP ? "TCP" : "UDP");
		return EPERM;
	}
	if (!kept) {
		adopt(st, l);
		st->tag = OFFER_TAG;
		st->suite = OFFER_SUITE;
		st->theirs = false;
		st->rekey = true;
	}
	ours_fresh(st, (enum srtpc_suite)st->suite);
	st->on = true;
	return 0;
}

const char *msrtp_line(const struct call *c, int side, char *buf, size_t sz)
{
	const struct call_srtp *st = &c->srtp[side];

	if (!st->on || sdp_crypto_line(buf, sz, st->tag,
				       (enum srtpc_suite)st->suite, st->ours))
		return NULL;
	return buf;
}

void msrtp_lc(const struct call *c, int side, struct relay_leg_conf *lc)
{
	const struct call_srtp *st = &c->srtp[side];

	lc->srtp_suite = 0;
	if (!st->on || !st->theirs)
		return;
	lc->srtp_suite = st->suite;
	memcpy(lc->srtp_rx, st->their, sizeof(lc->srtp_rx));
	memcpy(lc->srtp_tx, st->ours, sizeof(lc->srtp_tx));
}

void msrtp_rekey(struct call *c, int side)
{
	c->srtp[side].rekey = true;
}

void msrtp_wipe(struct call *c)
{
	sodium_memzero(c->srtp, sizeof(c->srtp));
}
