/*
 * sdp_crypto — SDES key exchange in SDP (RFC 4568 a=crypto; suites of
 * RFC 4568 §6.2 and RFC 7714 §12): the parser of one a=crypto line,
 * called by the SDP parser (sdp.c) for every RTP media, and what the
 * call layer needs to answer or offer: the first supported suite of a
 * media, a fresh key, our own line, the profile name.
 *
 * Include media/sdp.h first. Rules: docs/internals/srtp.md.
 */
#ifndef BULWARK_MEDIA_SDP_CRYPTO_H
#define BULWARK_MEDIA_SDP_CRYPTO_H

#include "media/srtp_ctx.h"

/* Longest a=crypto value we write: tag, suite name, inline: and the
 * base64 of SRTPC_KEY_MAX octets. */
#define SDP_CRYPTO_LINE 128

/* Decodes the value of one a=crypto attribute of media m (after
 * "crypto:") into m->crypto[m->n_crypto++]. A suite we do not know, a
 * key with an MKI, several keys, or a session parameter is kept as
 * unsupported (suite 0), not refused. Returns SDP_OK or SDP_E_CRYPTO
 * (tag not 1..999999999 or repeated, no inline: key, a key of a known
 * suite that is not base64 of its exact length, a lifetime that is not
 * a number or 2^n, more than SDP_MAX_CRYPTO lines). */
enum sdp_rule sdp_crypto_attr(struct sdp_media *m, struct sdp_str val);

/* The profile written for a relayed media: "RTP/SAVP" or "RTP/SAVPF"
 * when secure, else "RTP/AVP" or "RTP/AVPF" (the feedback flavour of
 * proto kept). */
const char *sdp_crypto_proto(enum sdp_proto proto, bool secure);

/* The suite name of RFC 4568 / RFC 7714 ("AES_CM_128_HMAC_SHA1_80"),
 * NULL for SRTPC_NONE. */
const char *sdp_crypto_suite_name(enum srtpc_suite suite);

/* The first a=crypto of media i we support (the offerer's preference),
 * NULL when none. */
const struct sdp_crypto *sdp_crypto_pick(const struct sdp *sdp, size_t i);

/* The a=crypto of media i with this tag, NULL when none. */
const struct sdp_crypto *sdp_crypto_find(const struct sdp *sdp, size_t i,
					 uint32_t tag);

/* Decodes the key of a supported crypto line into key (room for
 * SRTPC_KEY_MAX). Returns 0 or EINVAL. The caller wipes key. */
int sdp_crypto_key(const struct sdp_crypto *c, uint8_t key[SRTPC_KEY_MAX]);

/* A fresh random master key||salt for suite into key (room for
 * SRTPC_KEY_MAX). Returns 0 or EINVAL. */
int sdp_crypto_keygen(enum srtpc_suite suite, uint8_t key[SRTPC_KEY_MAX]);

/* Our a=crypto value "<tag> <suite> inline:<base64>" into out (size
 * SDP_CRYPTO_LINE or more). Returns 0, EINVAL or ENOSPC. */
int sdp_crypto_line(char *out, size_t size, uint32_t tag,
		    enum srtpc_suite suite, const uint8_t *key);

#endif
