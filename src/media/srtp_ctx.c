/*
 * srtp_ctx — SRTP/SRTCP contexts on OpenSSL EVP (API and why:
 * srtp_ctx.h; rules: docs/internals/srtp.md): session keys from the
 * master key and salt through the AES-CM PRF, and the primitives the
 * packet transforms (srtp_pkt.c) use: AES-CTR, HMAC-SHA1, AES-GCM.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "media/srtp_ctx_int.h"

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

/* ---- primitives -------------------------------------------------------- */

/* AES-CM IV (RFC 3711 §4.1.1): salt * 2^16 ^ ssrc * 2^64 ^ index * 2^16 */
void srtpc_iv_cm(uint8_t iv[16], const uint8_t salt[SALT_CM], uint32_t ssrc,
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
void srtpc_iv_gcm(uint8_t iv[12], const uint8_t *salt, uint32_t ssrc,
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

int srtpc_ctr(struct skeys *k, const uint8_t iv[16], uint8_t *p, size_t n)
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
int srtpc_hmac(struct skeys *k, const uint8_t *a, size_t an,
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
int srtpc_gcm(struct skeys *k, bool tx, const uint8_t iv[12],
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
