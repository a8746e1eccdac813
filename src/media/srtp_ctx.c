/*
 * srtp_ctx — SRTP/SRTCP protection on OpenSSL EVP (API and why:
 * srtp_ctx.h; rules: docs/internals/srtp.md).
 *
 * AES-CM suites: AES-CTR over the payload, HMAC-SHA1 over header,
 * payload and roll-over counter (RTP) or index (RTCP), truncated to 80
 * or 32 bits (SRTCP always 80, RFC 4568 §6.2). AES-GCM suites (RFC
 * 7714): AEAD with the header as associated data, 16-octet tag. Session
 * keys come from the master key and salt through the AES-CM PRF.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

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

size_t srtpc_key_len(enum srtpc_suite suite)
{
	switch (suite) {
	case SRTPC_AES_CM_128_HMAC_SHA1_80:
	case SRTPC_AES_CM_128_HMAC_SHA1_32:
		return 16 + SALT_CM;
	case SRTPC_AEAD_AES_128_GCM:
		return 16 + SALT_GCM;
	case SRTPC_AEAD_AES_256_GCM:
		return 32 + SALT_GCM;
	default:
		return 0;
	}
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* ---- key derivation (RFC 3711 §4.3.1, kdr 0; RFC 7714 §11) ------------ */

static int prf(uint8_t *out, size_t n, uint8_t label, const uint8_t *mkey,
	       size_t klen, const uint8_t *msalt, size_t slen)
{
	static const uint8_t zero[64];
	uint8_t x[16] = {0};
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int ol = 0, ok;

	if (!c || n > sizeof(zero)) {
		EVP_CIPHER_CTX_free(c);
		return ENOMEM;
	}
	/* x = (label || r) XOR salt, salt left-aligned (r = 0 with kdr 0):
	 * the label lands on octet 7; a 96-bit GCM salt is padded with
	 * zeros (as libsrtp and libre do) */
	memcpy(x, msalt, slen);
	x[7] ^= label;
	ok = EVP_EncryptInit_ex(c, klen == 32 ? EVP_aes_256_ctr() :
				EVP_aes_128_ctr(), NULL, mkey, x) == 1 &&
	     EVP_EncryptUpdate(c, out, &ol, zero, (int)n) == 1 &&
	     (size_t)ol == n;
	EVP_CIPHER_CTX_free(c);
	OPENSSL_cleanse(x, sizeof(x));
	return ok ? 0 : EIO;
}

static int keys_init(struct srtpc *c, struct skeys *k, unsigned base,
		     const uint8_t *mkey, size_t klen, const uint8_t *msalt,
		     size_t slen)
{
	uint8_t ek[32], ak[AUTH_KEY];
	const EVP_CIPHER *ciph;
	EVP_MAC *mac = NULL;
	int err;

	err = prf(ek, klen, (uint8_t)(base + 0), mkey, klen, msalt, slen);
	if (!err)
		err = prf(k->salt, slen, (uint8_t)(base + 2), mkey, klen,
			  msalt, slen);
	if (!err && !c->gcm)
		err = prf(ak, sizeof(ak), (uint8_t)(base + 1), mkey, klen,
			  msalt, slen);
	if (err)
		goto out;
	err = EIO;
	ciph = c->gcm ? (klen == 32 ? EVP_aes_256_gcm() : EVP_aes_128_gcm()) :
		EVP_aes_128_ctr();
	k->ciph = EVP_CIPHER_CTX_new();
	if (!k->ciph ||
	    EVP_CipherInit_ex(k->ciph, ciph, NULL, NULL, NULL, c->tx) != 1)
		goto out;
	if (c->gcm && EVP_CIPHER_CTX_ctrl(k->ciph, EVP_CTRL_GCM_SET_IVLEN,
					  SALT_GCM, NULL) != 1)
		goto out;
	if (EVP_CipherInit_ex(k->ciph, NULL, NULL, ek, NULL, c->tx) != 1)
		goto out;
	if (!c->gcm) {
		OSSL_PARAM par[2];

		par[0] = OSSL_PARAM_construct_utf8_string(
			OSSL_MAC_PARAM_DIGEST, (char *)"SHA1", 0);
		par[1] = OSSL_PARAM_construct_end();
		mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		k->mac = mac ? EVP_MAC_CTX_new(mac) : NULL;
		if (!k->mac || EVP_MAC_init(k->mac, ak, sizeof(ak), par) != 1)
			goto out;
	}
	err = 0;
 out:
	EVP_MAC_free(mac);
	OPENSSL_cleanse(ek, sizeof(ek));
	OPENSSL_cleanse(ak, sizeof(ak));
	return err;
}

static void keys_fini(struct skeys *k)
{
	EVP_CIPHER_CTX_free(k->ciph);
	EVP_MAC_CTX_free(k->mac);
	OPENSSL_cleanse(k->salt, sizeof(k->salt));
}

int srtpc_alloc(struct srtpc **cp, enum srtpc_suite suite,
		const uint8_t *key, size_t key_len, bool tx)
{
	struct srtpc *c;
	size_t klen, slen;
	int err;

	if (!cp || !key || !srtpc_key_len(suite) ||
	    key_len != srtpc_key_len(suite))
		return EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	c->suite = suite;
	c->tx = tx;
	c->gcm = suite == SRTPC_AEAD_AES_128_GCM ||
		 suite == SRTPC_AEAD_AES_256_GCM;
	c->tag_len = c->gcm ? GCM_TAG :
		suite == SRTPC_AES_CM_128_HMAC_SHA1_32 ? 4 : 10;
	slen = c->gcm ? SALT_GCM : SALT_CM;
	klen = key_len - slen;
	err = keys_init(c, &c->rtp, 0, key, klen, key + klen, slen);
	if (!err)
		err = keys_init(c, &c->rtcp, 3, key, klen, key + klen, slen);
	if (err) {
		srtpc_free(c);
		return err;
	}
	*cp = c;
	return 0;
}

void srtpc_free(struct srtpc *c)
{
	if (!c)
		return;
	keys_fini(&c->rtp);
	keys_fini(&c->rtcp);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

/* ---- streams, index, replay -------------------------------------------- */

/* The stream of ssrc, or NULL. */
static struct stream *stream_find(struct srtpc *c, uint32_t ssrc)
{
	for (size_t i = 0; i < SRTPC_MAX_SSRC; i++)
		if (c->st[i].used && c->st[i].ssrc == ssrc)
			return &c->st[i];
	return NULL;
}

/* A slot for a new stream (a free one, else the least recently used):
 * taken only once a packet of it authenticated. */
static struct stream *stream_slot(struct srtpc *c)
{
	struct stream *o = &c->st[0];

	for (size_t i = 0; i < SRTPC_MAX_SSRC; i++) {
		if (!c->st[i].used)
			return &c->st[i];
		if (c->st[i].used_at < o->used_at)
			o = &c->st[i];
	}
	return o;
}

/* RFC 3711 §3.3.1: the roll-over counter a sequence number belongs to,
 * given the highest one seen. -1: before the stream's start. */
static int64_t roc_guess(const struct stream *s, uint16_t seq)
{
	int64_t roc = s->rtp_seen ? s->roc : 0;

	if (!s->rtp_seen)
		return 0;
	if (s->s_l < 32768) {
		if ((int)seq - (int)s->s_l > 32768)
			return roc - 1;
	}
	else if ((int)s->s_l - 32768 > (int)seq) {
		return roc + 1;
	}
	return roc;
}

static bool replay_ok(const struct replay *r, uint64_t idx)
{
	uint64_t d;

	if (!r->init || idx > r->top)
		return true;
	d = r->top - idx;
	if (d >= 128)
		return false;
	return !((r->bits[d / 64] >> (d % 64)) & 1);
}

static void replay_add(struct replay *r, uint64_t idx)
{
	uint64_t d;

	if (!r->init || idx > r->top) {
		d = r->init ? idx - r->top : 128;
		if (d >= 128) {
			r->bits[0] = r->bits[1] = 0;
		}
		else if (d >= 64) {
			r->bits[1] = r->bits[0] << (d - 64);
			r->bits[0] = 0;
		}
		else if (d) {
			r->bits[1] = r->bits[1] << d | r->bits[0] >> (64 - d);
			r->bits[0] <<= d;
		}
		r->init = true;
		r->top = idx;
		d = 0;
	}
	else {
		d = r->top - idx;
	}
	r->bits[d / 64] |= (uint64_t)1 << (d % 64);
}

/* ---- primitives -------------------------------------------------------- */

/* AES-CM IV (RFC 3711 §4.1.1): salt * 2^16 ^ ssrc * 2^64 ^ index * 2^16 */
static void iv_cm(uint8_t iv[16], const uint8_t salt[SALT_CM], uint32_t ssrc,
		  uint64_t idx)
{
	memcpy(iv, salt, SALT_CM);
	iv[14] = iv[15] = 0;
	iv[4] ^= (uint8_t)(ssrc >> 24);
	iv[5] ^= (uint8_t)(ssrc >> 16);
	iv[6] ^= (uint8_t)(ssrc >> 8);
	iv[7] ^= (uint8_t)ssrc;
	for (int i = 0; i < 6; i++)
		iv[13 - i] ^= (uint8_t)(idx >> (8 * i));
}

/* GCM IV (RFC 7714 §8.1, §9.1): 00 00 || ssrc || hi || lo, ^ salt */
static void iv_gcm(uint8_t iv[12], const uint8_t *salt, uint32_t ssrc,
		   uint32_t hi, uint16_t lo, bool rtcp)
{
	memset(iv, 0, 12);
	put32(iv + 2, ssrc);
	if (rtcp) {
		put32(iv + 8, hi);           /* 00 00 || 31-bit index */
	}
	else {
		put32(iv + 6, hi);           /* ROC || SEQ */
		iv[10] = (uint8_t)(lo >> 8);
		iv[11] = (uint8_t)lo;
	}
	for (int i = 0; i < 12; i++)
		iv[i] ^= salt[i];
}

static int ctr(struct skeys *k, const uint8_t iv[16], uint8_t *p, size_t n)
{
	int ol = 0;

	if (EVP_CipherInit_ex(k->ciph, NULL, NULL, NULL, iv, -1) != 1)
		return EIO;
	if (n && (EVP_CipherUpdate(k->ciph, p, &ol, p, (int)n) != 1 ||
		  (size_t)ol != n))
		return EIO;
	return 0;
}

/* HMAC-SHA1 over a[an] || b[bn] into tag[20]. */
static int hmac(struct skeys *k, const uint8_t *a, size_t an,
		const uint8_t *b, size_t bn, uint8_t tag[20])
{
	size_t ol = 0;

	if (EVP_MAC_init(k->mac, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(k->mac, a, an) != 1 ||
	    (bn && EVP_MAC_update(k->mac, b, bn) != 1) ||
	    EVP_MAC_final(k->mac, tag, &ol, 20) != 1 || ol != 20)
		return EIO;
	return 0;
}

/* AEAD in place: aad[an], data p[n]; tx: writes tag; rx: checks it.
 * Returns 0, EACCES (rx: tag mismatch) or EIO. */
static int gcm(struct skeys *k, bool tx, const uint8_t iv[12],
	       const uint8_t *aad, size_t an, const uint8_t *aad2, size_t an2,
	       uint8_t *p, size_t n, uint8_t *tag)
{
	int ol = 0;

	if (EVP_CipherInit_ex(k->ciph, NULL, NULL, NULL, iv, -1) != 1 ||
	    EVP_CipherUpdate(k->ciph, NULL, &ol, aad, (int)an) != 1 ||
	    (an2 && EVP_CipherUpdate(k->ciph, NULL, &ol, aad2, (int)an2) != 1))
		return EIO;
	if (n && (EVP_CipherUpdate(k->ciph, p, &ol, p, (int)n) != 1 ||
		  (size_t)ol != n))
		return EIO;
	if (!tx && EVP_CIPHER_CTX_ctrl(k->ciph, EVP_CTRL_GCM_SET_TAG, GCM_TAG,
				       tag) != 1)
		return EIO;
	if (EVP_CipherFinal_ex(k->ciph, p + n, &ol) != 1)
		return tx ? EIO : EACCES;
	if (tx && EVP_CIPHER_CTX_ctrl(k->ciph, EVP_CTRL_GCM_GET_TAG, GCM_TAG,
				      tag) != 1)
		return EIO;
	return 0;
}

/* Length of the RTP header of p[len] (fixed part, CSRCs, extension), or
 * 0 when it is not RTP version 2 or runs past len. */
static size_t rtp_hlen(const uint8_t *p, size_t len)
{
	size_t h;

	if (len < 12 || (p[0] >> 6) != 2)
		return 0;
	h = 12 + 4u * (p[0] & 0x0f);
	if (p[0] & 0x10) {
		if (len < h + 4)
			return 0;
		h += 4 + 4u * ((size_t)p[h + 2] << 8 | p[h + 3]);
	}
	return h <= len ? h : 0;
}

/* ---- RTP --------------------------------------------------------------- */

int srtpc_protect(struct srtpc *c, uint8_t *p, size_t *len, size_t cap)
{
	size_t h, n = *len;
	uint32_t ssrc;
	uint16_t seq;
	uint64_t idx;
	int64_t roc;
	struct stream *s, fresh;
	uint8_t iv[16], tag[20];
	int err;

	if (!c || !c->tx || !p || !(h = rtp_hlen(p, n)))
		return EINVAL;
	if (cap < n || cap - n < c->tag_len)
		return ENOSPC;
	ssrc = get32(p + 8);
	seq = (uint16_t)(p[2] << 8 | p[3]);
	s = stream_find(c, ssrc);
	if (!s) {
		memset(&fresh, 0, sizeof(fresh));
		s = &fresh;
	}
	roc = roc_guess(s, seq);
	if (roc < 0)
		roc = 0;   /* a late packet from before the first: ours to
			    * send, at index seq (never reused: higher ones
			    * follow) */
	idx = (uint64_t)roc << 16 | seq;
	if (c->gcm) {
		iv_gcm(iv, c->rtp.salt, ssrc, (uint32_t)roc, seq, false);
		err = gcm(&c->rtp, true, iv, p, h, NULL, 0, p + h, n - h,
			  p + n);
		if (err)
			return err;
		*len = n + GCM_TAG;
	}
	else {
		uint8_t rb[4];

		iv_cm(iv, c->rtp.salt, ssrc, idx);
		err = ctr(&c->rtp, iv, p + h, n - h);
		put32(rb, (uint32_t)roc);
		if (!err)
			err = hmac(&c->rtp, p, n, rb, 4, tag);
		if (err)
			return err;
		memcpy(p + n, tag, c->tag_len);
		*len = n + c->tag_len;
	}
	if (s == &fresh) {
		s = stream_slot(c);
		memset(s, 0, sizeof(*s));
		s->used = true;
		s->ssrc = ssrc;
	}
	s->used_at = ++c->clock;
	if (!s->rtp_seen || idx > ((uint64_t)s->roc << 16 | s->s_l)) {
		s->roc = (uint32_t)roc;
		s->s_l = seq;
		s->rtp_seen = true;
	}
	return 0;
}

int srtpc_unprotect(struct srtpc *c, uint8_t *p, size_t *len)
{
	size_t h, n = *len, body;
	uint32_t ssrc;
	uint16_t seq;
	uint64_t idx;
	int64_t roc;
	struct stream *s, fresh;
	uint8_t iv[16], tag[20], rb[4];
	int err;

	if (!c || c->tx || !p)
		return EINVAL;
	h = rtp_hlen(p, n);
	if (!h || n - h < c->tag_len)
		return EBADMSG;
	body = n - c->tag_len;       /* header + payload */
	if (body < h)
		return EBADMSG;
	ssrc = get32(p + 8);
	seq = (uint16_t)(p[2] << 8 | p[3]);
	s = stream_find(c, ssrc);
	if (!s) {
		memset(&fresh, 0, sizeof(fresh));
		s = &fresh;
	}
	roc = roc_guess(s, seq);
	if (roc < 0 || roc > UINT32_MAX)
		return EALREADY;
	idx = (uint64_t)roc << 16 | seq;
	if (s != &fresh && !replay_ok(&s->rtp, idx))
		return EALREADY;
	if (c->gcm) {
		iv_gcm(iv, c->rtp.salt, ssrc, (uint32_t)roc, seq, false);
		err = gcm(&c->rtp, false, iv, p, h, NULL, 0, p + h, body - h,
			  p + body);
		if (err)
			return err;
	}
	else {
		put32(rb, (uint32_t)roc);
		err = hmac(&c->rtp, p, body, rb, 4, tag);
		if (err)
			return err;
		if (CRYPTO_memcmp(tag, p + body, c->tag_len))
			return EACCES;
		iv_cm(iv, c->rtp.salt, ssrc, idx);
		err = ctr(&c->rtp, iv, p + h, body - h);
		if (err)
			return err;
	}
	/* authenticated: from here on the stream may learn */
	if (s == &fresh) {
		s = stream_slot(c);
		memset(s, 0, sizeof(*s));
		s->used = true;
		s->ssrc = ssrc;
	}
	s->used_at = ++c->clock;
	replay_add(&s->rtp, idx);
	if (!s->rtp_seen || idx > ((uint64_t)s->roc << 16 | s->s_l)) {
		s->roc = (uint32_t)roc;
		s->s_l = seq;
		s->rtp_seen = true;
	}
	*len = body;
	return 0;
}

/* ---- RTCP (RFC 3711 §3.4, RFC 7714 §9) --------------------------------- */

int srtpc_protect_rtcp(struct srtpc *c, uint8_t *p, size_t *len, size_t cap)
{
	size_t n = *len;
	uint32_t ssrc, ix;
	uint8_t iv[16], tag[20], e[4];
	int err;

	if (!c || !c->tx || !p || n < 8 || (p[0] >> 6) != 2)
		return EINVAL;
	if (cap < n || cap - n < 4 + (c->gcm ? GCM_TAG : RTCP_TAG_CM))
		return ENOSPC;
	ssrc = get32(p + 4);
	ix = c->rtcp_index & 0x7fffffffu;
	put32(e, 0x80000000u | ix);
	if (c->gcm) {
		iv_gcm(iv, c->rtcp.salt, ssrc, ix, 0, true);
		err = gcm(&c->rtcp, true, iv, p, 8, e, 4, p + 8, n - 8,
			  p + n);
		if (err)
			return err;
		memcpy(p + n + GCM_TAG, e, 4);
		*len = n + GCM_TAG + 4;
	}
	else {
		iv_cm(iv, c->rtcp.salt, ssrc, ix);
		err = ctr(&c->rtcp, iv, p + 8, n - 8);
		if (err)
			return err;
		memcpy(p + n, e, 4);
		err = hmac(&c->rtcp, p, n + 4, NULL, 0, tag);
		if (err)
			return err;
		memcpy(p + n + 4, tag, RTCP_TAG_CM);
		*len = n + 4 + RTCP_TAG_CM;
	}
	c->rtcp_index = (ix + 1) & 0x7fffffffu;
	return 0;
}

int srtpc_unprotect_rtcp(struct srtpc *c, uint8_t *p, size_t *len)
{
	size_t n = *len, tl = c && c->gcm ? GCM_TAG : RTCP_TAG_CM, body;
	uint32_t ssrc, e, ix;
	struct stream *s, fresh;
	uint8_t iv[16], tag[20];
	int err;

	if (!c || c->tx || !p)
		return EINVAL;
	if (n < 8 + 4 + tl || (p[0] >> 6) != 2)
		return EBADMSG;
	ssrc = get32(p + 4);
	if (c->gcm) {
		e = get32(p + n - 4);
		body = n - 4 - GCM_TAG;
	}
	else {
		e = get32(p + n - tl - 4);
		body = n - tl - 4;
	}
	ix = e & 0x7fffffffu;
	s = stream_find(c, ssrc);
	if (!s) {
		memset(&fresh, 0, sizeof(fresh));
		s = &fresh;
	}
	if (!replay_ok(&s->rtcp, ix))
		return EALREADY;
	if (c->gcm) {
		uint8_t eb[4];

		if (!(e & 0x80000000u))
			return EBADMSG;   /* unencrypted SRTCP: not offered */
		put32(eb, e);
		iv_gcm(iv, c->rtcp.salt, ssrc, ix, 0, true);
		err = gcm(&c->rtcp, false, iv, p, 8, eb, 4, p + 8, body - 8,
			  p + body);
		if (err)
			return err;
	}
	else {
		err = hmac(&c->rtcp, p, body + 4, NULL, 0, tag);
		if (err)
			return err;
		if (CRYPTO_memcmp(tag, p + body + 4, tl))
			return EACCES;
		if (e & 0x80000000u) {
			iv_cm(iv, c->rtcp.salt, ssrc, ix);
			err = ctr(&c->rtcp, iv, p + 8, body - 8);
			if (err)
				return err;
		}
	}
	if (s == &fresh) {
		s = stream_slot(c);
		memset(s, 0, sizeof(*s));
		s->used = true;
		s->ssrc = ssrc;
	}
	s->used_at = ++c->clock;
	replay_add(&s->rtcp, ix);
	*len = body;
	return 0;
}
