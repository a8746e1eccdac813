/*
 * sdp_crypto — a=crypto (RFC 4568) parsing and writing (API: sdp_crypto.h,
 * rules: docs/internals/srtp.md).
 *
 *   a=crypto:<tag> <suite> inline:<base64 key||salt>[|<lifetime>][|<MKI>:<len>]
 *            [<session parameters>]
 *
 * Nothing is allocated; a parsed line is slices into the SDP buffer. A key
 * is decoded into a caller's buffer only to check its length (then
 * wiped) or when the call layer takes it (sdp_crypto_key).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "media/sdp.h"
#include "media/sdp_crypto.h"

#define B64_MAX 128     /* octets of an inline key we read at all */

static const char *const names[SRTPC__COUNT] = {
	[SRTPC_AES_CM_128_HMAC_SHA1_80] = "AES_CM_128_HMAC_SHA1_80",
	[SRTPC_AES_CM_128_HMAC_SHA1_32] = "AES_CM_128_HMAC_SHA1_32",
	[SRTPC_AEAD_AES_128_GCM] = "AEAD_AES_128_GCM",
	[SRTPC_AEAD_AES_256_GCM] = "AEAD_AES_256_GCM",
};

const char *sdp_crypto_suite_name(enum srtpc_suite suite)
{
	return suite > SRTPC_NONE && suite < SRTPC__COUNT ? names[suite] :
		NULL;
}

static bool eq(struct sdp_str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.l == n && !memcmp(s.p, lit, n);
}

static bool prefix(struct sdp_str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.l >= n && !memcmp(s.p, lit, n);
}

/* Next field separated by spaces or tabs; false at the end. */
static bool next(struct sdp_str *rest, struct sdp_str *f)
{
	const char *p = rest->p, *e = rest->p + rest->l;

	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	if (p == e)
		return false;
	f->p = p;
	while (p < e && *p != ' ' && *p != '\t')
		p++;
	f->l = (size_t)(p - f->p);
	rest->l = (size_t)(e - p);
	rest->p = p;
	return true;
}

/* Splits s at the first c: *head before it, s after it. false: no c
 * (then *head = s, s empty). */
static bool cut(struct sdp_str *s, char c, struct sdp_str *head)
{
	const char *x = s->l ? memchr(s->p, c, s->l) : NULL;

	*head = *s;
	if (!x) {
		s->p += s->l;
		s->l = 0;
		return false;
	}
	head->l = (size_t)(x - s->p);
	s->l -= head->l + 1;
	s->p = x + 1;
	return true;
}

static bool digits(struct sdp_str s, size_t maxd, uint64_t *v)
{
	uint64_t x = 0;

	if (!s.l || s.l > maxd)
		return false;
	for (size_t i = 0; i < s.l; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(s.p[i] - '0');
	}
	*v = x;
	return true;
}

static bool b64char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
}

/* Decodes base64 (padded, or without the padding some phones leave
 * out) into out[size]; *len octets. false: not base64 or too long. */
static bool b64(struct sdp_str s, uint8_t *out, size_t size, size_t *len)
{
	const char *end = NULL;

	if (!s.l || s.l > B64_MAX)
		return false;
	for (size_t i = 0; i < s.l; i++)
		if (!b64char(s.p[i]))
			return false;
	if (!sodium_base642bin(out, size, s.p, s.l, NULL, len, &end,
			       sodium_base64_VARIANT_ORIGINAL) &&
	    end == s.p + s.l)
		return true;
	return !sodium_base642bin(out, size, s.p, s.l, NULL, len, &end,
				  sodium_base64_VARIANT_ORIGINAL_NO_PADDING) &&
	       end == s.p + s.l;
}

static enum srtpc_suite suite_of(struct sdp_str s)
{
	for (int i = 1; i < SRTPC__COUNT; i++)
		if (eq(s, names[i]))
			return (enum srtpc_suite)i;
	return SRTPC_NONE;
}

/* lifetime: decimal or 2^n (RFC 4568 §9.2) */
static bool lifetime(struct sdp_str s)
{
	uint64_t v;

	if (prefix(s, "2^")) {
		s.p += 2;
		s.l -= 2;
		return digits(s, 2, &v) && v <= 64;
	}
	return digits(s, 19, &v);
}

/* "inline:<key>[|lifetime][|mki:len]": *key, *mki (an MKI was given). */
static bool key_param(struct sdp_str kp, struct sdp_str *key, bool *mki)
{
	struct sdp_str part;
	bool bar;
	int n = 0;

	*mki = false;
	if (!prefix(kp, "inline:"))
		return false;
	kp.p += 7;
	kp.l -= 7;
	bar = cut(&kp, '|', key);
	while (bar) {
		bar = cut(&kp, '|', &part);
		if (++n > 2 || !part.l)
			return false;
		if (memchr(part.p, ':', part.l)) {
			struct sdp_str a, b = part;
			uint64_t v;

			if (*mki || !cut(&b, ':', &a) || !digits(a, 10, &v) ||
			    !digits(b, 3, &v) || !v || v > 128)
				return false;
			*mki = true;
		}
		else if (*mki || n > 1 || !lifetime(part)) {
			return false;   /* one lifetime, before the MKI */
		}
	}
	return true;
}

enum sdp_rule sdp_crypto_attr(struct sdp_media *m, struct sdp_str val)
{
	struct sdp_str f, kp, key, rest = val;
	struct sdp_crypto *c;
	uint8_t buf[B64_MAX];
	uint64_t tag;
	size_t len = 0;
	bool mki, ok;

	if (m->n_crypto >= SDP_MAX_CRYPTO)
		return SDP_E_CRYPTO;
	c = &m->crypto[m->n_crypto];
	memset(c, 0, sizeof(*c));
	if (!next(&rest, &f) || !digits(f, 9, &tag) || !tag)
		return SDP_E_CRYPTO;
	for (size_t i = 0; i < m->n_crypto; i++)
		if (m->crypto[i].tag == tag)
			return SDP_E_CRYPTO;
	c->tag = (uint32_t)tag;
	if (!next(&rest, &f) || f.l > 64)
		return SDP_E_CRYPTO;
	c->suite = (uint8_t)suite_of(f);
	if (!next(&rest, &kp))
		return SDP_E_CRYPTO;
	/* several keys (';'), each needs an MKI: not supported, but the
	 * first must still be a key */
	if (memchr(kp.p, ';', kp.l)) {
		struct sdp_str k1, r2 = kp;

		(void)cut(&r2, ';', &k1);
		kp = k1;
		c->suite = SRTPC_NONE;
	}
	if (!key_param(kp, &key, &mki))
		return SDP_E_CRYPTO;
	c->key = key;
	ok = b64(key, buf, sizeof(buf), &len);
	sodium_memzero(buf, sizeof(buf));
	if (!ok || (c->suite && len != srtpc_key_len(c->suite)))
		return SDP_E_CRYPTO;
	if (mki)
		c->suite = SRTPC_NONE;   /* no MKI in our packets */
	/* session parameters: a window size hint is harmless; any other
	 * (UNENCRYPTED_SRTP, KDR, FEC_ORDER, …) is one we do not do */
	while (next(&rest, &f)) {
		if (f.l > 64)
			return SDP_E_CRYPTO;
		if (!prefix(f, "WSH="))
			c->suite = SRTPC_NONE;
	}
	m->n_crypto++;
	return SDP_OK;
}

const char *sdp_crypto_proto(enum sdp_proto proto, bool secure)
{
	bool fb = proto == SDP_PROTO_RTP_AVPF || proto == SDP_PROTO_RTP_SAVPF;

	if (secure)
		return fb ? "RTP/SAVPF" : "RTP/SAVP";
	return fb ? "RTP/AVPF" : "RTP/AVP";
}

const struct sdp_crypto *sdp_crypto_pick(const struct sdp *sdp, size_t i)
{
	if (!sdp || i >= sdp->n_media)
		return NULL;
	for (size_t k = 0; k < sdp->media[i].n_crypto; k++)
		if (sdp->media[i].crypto[k].suite)
			return &sdp->media[i].crypto[k];
	return NULL;
}

const struct sdp_crypto *sdp_crypto_find(const struct sdp *sdp, size_t i,
					 uint32_t tag)
{
	if (!sdp || i >= sdp->n_media)
		return NULL;
	for (size_t k = 0; k < sdp->media[i].n_crypto; k++)
		if (sdp->media[i].crypto[k].tag == tag)
			return &sdp->media[i].crypto[k];
	return NULL;
}

int sdp_crypto_key(const struct sdp_crypto *c, uint8_t key[SRTPC_KEY_MAX])
{
	uint8_t buf[B64_MAX];
	size_t len = 0;
	bool ok;

	if (!c || !key || !srtpc_key_len(c->suite))
		return EINVAL;
	ok = b64(c->key, buf, sizeof(buf), &len) &&
	     len == srtpc_key_len(c->suite);
	if (ok)
		memcpy(key, buf, len);
	sodium_memzero(buf, sizeof(buf));
	return ok ? 0 : EINVAL;
}

int sdp_crypto_keygen(enum srtpc_suite suite, uint8_t key[SRTPC_KEY_MAX])
{
	size_t n = srtpc_key_len(suite);

	if (!n || !key)
		return EINVAL;
	randombytes_buf(key, n);
	return 0;
}

int sdp_crypto_line(char *out, size_t size, uint32_t tag,
		    enum srtpc_suite suite, const uint8_t *key)
{
	char b[sodium_base64_ENCODED_LEN(SRTPC_KEY_MAX,
					 sodium_base64_VARIANT_ORIGINAL)];
	const char *name = sdp_crypto_suite_name(suite);
	int n;

	if (!out || !name || !key || !tag || tag > 999999999)
		return EINVAL;
	sodium_bin2base64(b, sizeof(b), key, srtpc_key_len(suite),
			  sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(out, size, "%u %s inline:%s", tag, name, b);
	sodium_memzero(b, sizeof(b));
	if (n < 0 || (size_t)n >= size) {
		if (size)
			out[0] = 0;
		return ENOSPC;
	}
	return 0;
}
