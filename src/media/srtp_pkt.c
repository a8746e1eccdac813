/*
 * srtp_pkt — SRTP and SRTCP packets (RFC 3711 §3, RFC 7714 §8–9) with a
 * context of srtp_ctx.c (API: srtp_ctx.h; rules: docs/internals/srtp.md).
 *
 * AES-CM suites: AES-CTR over the payload, HMAC-SHA1 over header,
 * payload and roll-over counter (RTP) or index (RTCP), truncated to 80
 * or 32 bits (SRTCP always 80, RFC 4568 §6.2). AES-GCM suites: AEAD with
 * the header as associated data, 16-octet tag. A stream (SSRC) learns
 * its roll-over counter, highest sequence and replay window only from a
 * packet that authenticated.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include "media/srtp_ctx_int.h"

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
		srtpc_iv_gcm(iv, c->rtp.salt, ssrc, (uint32_t)roc, seq, false);
		err = srtpc_gcm(&c->rtp, true, iv, p, h, NULL, 0, p + h, n - h,
			  p + n);
		if (err)
			return err;
		*len = n + GCM_TAG;
	}
	else {
		uint8_t rb[4];

		srtpc_iv_cm(iv, c->rtp.salt, ssrc, idx);
		err = srtpc_ctr(&c->rtp, iv, p + h, n - h);
		put32(rb, (uint32_t)roc);
		if (!err)
			err = srtpc_hmac(&c->rtp, p, n, rb, 4, tag);
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
		srtpc_iv_gcm(iv, c->rtp.salt, ssrc, (uint32_t)roc, seq, false);
		err = srtpc_gcm(&c->rtp, false, iv, p, h, NULL, 0, p + h, body - h,
			  p + body);
		if (err)
			return err;
	}
	else {
		put32(rb, (uint32_t)roc);
		err = srtpc_hmac(&c->rtp, p, body, rb, 4, tag);
		if (err)
			return err;
		if (CRYPTO_memcmp(tag, p + body, c->tag_len))
			return EACCES;
		srtpc_iv_cm(iv, c->rtp.salt, ssrc, idx);
		err = srtpc_ctr(&c->rtp, iv, p + h, body - h);
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
		srtpc_iv_gcm(iv, c->rtcp.salt, ssrc, ix, 0, true);
		err = srtpc_gcm(&c->rtcp, true, iv, p, 8, e, 4, p + 8, n - 8,
			  p + n);
		if (err)
			return err;
		memcpy(p + n + GCM_TAG, e, 4);
		*len = n + GCM_TAG + 4;
	}
	else {
		srtpc_iv_cm(iv, c->rtcp.salt, ssrc, ix);
		err = srtpc_ctr(&c->rtcp, iv, p + 8, n - 8);
		if (err)
			return err;
		memcpy(p + n, e, 4);
		err = srtpc_hmac(&c->rtcp, p, n + 4, NULL, 0, tag);
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
		srtpc_iv_gcm(iv, c->rtcp.salt, ssrc, ix, 0, true);
		err = srtpc_gcm(&c->rtcp, false, iv, p, 8, eb, 4, p + 8, body - 8,
			  p + body);
		if (err)
			return err;
	}
	else {
		err = srtpc_hmac(&c->rtcp, p, body + 4, NULL, 0, tag);
		if (err)
			return err;
		if (CRYPTO_memcmp(tag, p + body + 4, tl))
			return EACCES;
		if (e & 0x80000000u) {
			srtpc_iv_cm(iv, c->rtcp.salt, ssrc, ix);
			err = srtpc_ctr(&c->rtcp, iv, p + 8, body - 8);
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
