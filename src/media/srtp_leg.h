/*
 * srtp_leg — the SRTP state of one relay leg on its media thread: a
 * receive context (the phone's key) and a send context (ours), both for
 * RTP and RTCP. Media thread only (rtpfwd.c); nothing here is public
 * API. Rules: docs/internals/srtp.md.
 */
#ifndef BULWARK_MEDIA_SRTP_LEG_H
#define BULWARK_MEDIA_SRTP_LEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct srtp_leg;
struct relay_leg_conf;

/* Applies what a leg's configuration says about SRTP to *slp: plain
 * (suite 0) frees it (*slp = NULL); another suite replaces it; for the
 * same suite, a direction whose key is the same keeps its context, one
 * whose key changed gets a fresh one. Returns 0, or an
 * errno from srtpc_alloc (then *slp is NULL: the leg drops everything,
 * never relays in the clear what was to be protected). */
int srtp_leg_apply(struct srtp_leg **slp, const struct relay_leg_conf *lc);

/* Frees the state and wipes its keys. Accepts NULL. */
void srtp_leg_free(struct srtp_leg *sl);

/* From the phone: unprotects p[*len] in place (rtcp: SRTCP). Returns 0,
 * EACCES (bad tag), EALREADY (replay) or another errno (malformed). */
int srtp_leg_in(struct srtp_leg *sl, uint8_t *p, size_t *len, bool rtcp);

/* Towards the phone: protects p[*len] in place, cap octets of room.
 * Returns 0 or an errno. */
int srtp_leg_out(struct srtp_leg *sl, uint8_t *p, size_t *len, size_t cap,
		 bool rtcp);

#endif
