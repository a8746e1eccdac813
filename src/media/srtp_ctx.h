/*
 * srtp_ctx — SRTP and SRTCP packet protection (RFC 3711, SDES suites of
 * RFC 4568, AES-GCM of RFC 7714) for the relay's media threads, on
 * OpenSSL EVP.
 *
 * Why not libre's srtp: its srtp_decrypt() moves the roll-over counter
 * from a packet's sequence number BEFORE the tag is checked, so one
 * forged packet can desynchronise a stream (every later packet then
 * fails), and it compares tags with memcmp. Here nothing of a stream's
 * state (roll-over counter, highest sequence, replay window, a new SSRC)
 * changes until the packet authenticated, and tags compare in constant
 * time. The wire format is the standard one: libre (baresip) and this
 * code talk to each other (tests/unit/test_srtp.c checks both ways).
 *
 * One context protects ONE direction: a receive context only
 * unprotects, a send context only protects. A context belongs to one
 * thread at a time (no locking).
 */
#ifndef BULWARK_MEDIA_SRTP_CTX_H
#define BULWARK_MEDIA_SRTP_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum srtpc_suite {
	SRTPC_NONE = 0,
	SRTPC_AES_CM_128_HMAC_SHA1_80,
	SRTPC_AES_CM_128_HMAC_SHA1_32,
	SRTPC_AEAD_AES_128_GCM,
	SRTPC_AEAD_AES_256_GCM,
	SRTPC__COUNT
};

#define SRTPC_KEY_MAX   44   /* master key + salt: 32 + 12 (AES-256-GCM) */
#define SRTPC_OVERHEAD  24   /* most octets protecting adds (GCM tag 16 +
			      * SRTCP index 4, rounded up) */
#define SRTPC_MAX_SSRC  8    /* streams tracked per context; the least
			      * recently used authenticated one makes room */

/* Octets of master key + master salt of a suite (30, 30, 28, 44), 0 for
 * SRTPC_NONE or an unknown value. */
size_t srtpc_key_len(enum srtpc_suite suite);

struct srtpc;

/* A context for one direction (tx: protects; else unprotects) from the
 * master key||salt of the suite (key_len must be srtpc_key_len()).
 * Derives the session keys (RFC 3711 §4.3, key derivation rate 0).
 * Returns 0, EINVAL (suite, length) or ENOMEM/EIO (OpenSSL). The caller
 * wipes its copy of the key. */
int srtpc_alloc(struct srtpc **cp, enum srtpc_suite suite,
		const uint8_t *key, size_t key_len, bool tx);

/* Frees a context and wipes its keys. Accepts NULL. */
void srtpc_free(struct srtpc *c);

/* RTP packet p[*len] (room for cap octets) into SRTP, in place: *len
 * grows by the tag. Returns 0, EINVAL (not RTP, wrong direction),
 * ENOSPC (cap too small) or EIO. */
int srtpc_protect(struct srtpc *c, uint8_t *p, size_t *len, size_t cap);

/* SRTP packet p[*len] back into RTP, in place (*len shrinks), after its
 * tag authenticated and its index passed the replay window (128).
 * Returns 0, EBADMSG (malformed, too short), EACCES (bad tag: nothing
 * of the context changed), EALREADY (replayed or too old) or EIO. */
int srtpc_unprotect(struct srtpc *c, uint8_t *p, size_t *len);

/* The same for RTCP (SRTCP index, E flag: always encrypted). */
int srtpc_protect_rtcp(struct srtpc *c, uint8_t *p, size_t *len, size_t cap);
int srtpc_unprotect_rtcp(struct srtpc *c, uint8_t *p, size_t *len);

#endif
