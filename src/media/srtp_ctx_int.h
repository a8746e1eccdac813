/*
 * srtp_ctx internals shared by srtp_ctx.c (context, keys, the cipher and
 * MAC primitives) and srtp_pkt.c (SRTP/SRTCP packets, streams, index,
 * replay window). Nothing here is public API.
 */
#ifndef BULWARK_MEDIA_SRTP_CTX_INT_H
#define BULWARK_MEDIA_SRTP_CTX_INT_H

#include <openssl/evp.h>

#include "media/srtp_ctx.h"

#define SALT_CM   14
#define SALT_GCM  12
#define AUTH_KEY  20
#define GCM_TAG   16
#define RTCP_TAG_CM 10

struct replay {
	bool init;
	uint64_t top;          /* highest index accepted */
	uint64_t bits[2];      /* bit d: top - d was accepted (d < 128) */
};

struct stream {
	bool used;
	uint32_t ssrc;
	uint32_t roc;          /* RTP roll-over counter */
	uint16_t s_l;          /* highest RTP sequence number */
	bool rtp_seen;
	struct replay rtp, rtcp;
	uint64_t used_at;      /* LRU clock */
};

struct skeys {
	EVP_CIPHER_CTX *ciph;
	EVP_MAC_CTX *mac;      /* AES-CM suites */
	uint8_t salt[SALT_CM];
};

struct srtpc {
	enum srtpc_suite suite;
	bool tx, gcm;
	size_t tag_len;        /* RTP */
	struct skeys rtp, rtcp;
	struct stream st[SRTPC_MAX_SSRC];
	uint64_t clock;
	uint32_t rtcp_index;   /* next SRTCP index (tx) */
};

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* AES-CM IV (RFC 3711 §4.1.1) of ssrc and a 48-bit index. */
void srtpc_iv_cm(uint8_t iv[16], const uint8_t salt[SALT_CM], uint32_t ssrc,
		 uint64_t idx);
/* GCM IV (RFC 7714 §8.1, §9.1): hi = ROC (RTP) or the SRTCP index. */
void srtpc_iv_gcm(uint8_t iv[12], const uint8_t *salt, uint32_t ssrc,
		  uint32_t hi, uint16_t lo, bool rtcp);
/* AES-CTR over p[n] in place. 0 or EIO. */
int srtpc_ctr(struct skeys *k, const uint8_t iv[16], uint8_t *p, size_t n);
/* HMAC-SHA1 over a[an] || b[bn] into tag[20]. 0 or EIO. */
int srtpc_hmac(struct skeys *k, const uint8_t *a, size_t an,
	       const uint8_t *b, size_t bn, uint8_t tag[20]);
/* AEAD in place: aad[an] || aad2[an2], data p[n]; tx writes tag, rx
 * checks it. 0, EACCES (rx: tag mismatch) or EIO. */
int srtpc_gcm(struct skeys *k, bool tx, const uint8_t iv[12],
	      const uint8_t *aad, size_t an, const uint8_t *aad2, size_t an2,
	      uint8_t *p, size_t n, uint8_t *tag);

#endif
