/*
 * fuzz_sdp — libFuzzer target for the SDP parser and the per-leg writer
 * (src/media/sdp.c). The bytes are an SDP body as it arrives in an
 * INVITE, re-INVITE, UPDATE or 2xx. A refused body must name a rule and
 * a line inside the body. An accepted one is rewritten for a leg the way
 * the call layer does it (relay address of the family chosen by the
 * first octet, relay ports for audio RTP whose codecs intersect a
 * configured list, port 0 for the rest), and then:
 *  - the rewrite succeeds (or says the result would be too big),
 *  - the result parses again, with every family served,
 *  - media count, kinds, protocols, directions and hold state are kept,
 *    ports are the relay's, payload types are exactly the kept ones in
 *    the offered order with their encodings, every address is the
 *    relay's or the hold form, no ICE attribute is left,
 *  - the rewrite passes sdp_answer_check against its input (when the
 *    profile is kept),
 *  - srtp (issue 15): every a=crypto read is decoded within bounds; none
 *    is written except ours (bit 1 of the length: the leg has SRTP), once
 *    per relayed media, whose profile is then RTP/SAVP(F), else
 *    RTP/AVP(F),
 *  - o= carries the leg's session id and version, and rewriting the same
 *    input again gives the same bytes and the same version, while a new
 *    relay port bumps the version by one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/sdp.h"
#include "media/sdp_crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_cleanup(void);

static struct sdp in, re, re2;
static char out[4 * SDP_MAX_LEN], out2[4 * SDP_MAX_LEN];

static const struct sdp_codecs allow = {
	.n = 5, .name = {"PCMU", "PCMA", "G722", "opus/48000/2", "GSM/8000"},
};

static void inside(struct sdp_str s, const char *b, size_t n)
{
	if (!s.p) {
		if (s.l)
			abort();
		return;
	}
	/* static payload names point at constant strings */
	if ((s.p < b || s.p > b + n) && s.l > 8)
		abort();
	if (s.p >= b && s.p <= b + n && s.l > (size_t)(b + n - s.p))
		abort();
}

static void parsed_ok(const struct sdp *s, const char *b, size_t n)
{
	if (s->n_media > SDP_MAX_MEDIA || s->n_lines > SDP_MAX_LINES ||
	    s->n_lines < 3)
		abort();
	inside(s->o_user, b, n);
	inside(s->o_addr, b, n);
	inside(s->conn.addr, b, n);
	for (size_t i = 0; i < s->n_media; i++) {
		const struct sdp_media *m = &s->media[i];

		if (m->n_pt > SDP_MAX_FMT || m->first > m->last ||
		    m->last >= s->n_lines || !m->fmts.l)
			abort();
		if (m->proto == SDP_PROTO_OTHER && m->n_pt)
			abort();
		if (m->port && !sdp_media_conn(s, i))
			abort();
		inside(m->type, b, n);
		inside(m->protos, b, n);
		inside(m->fmts, b, n);
		inside(m->conn.addr, b, n);
		if (m->n_crypto > SDP_MAX_CRYPTO)
			abort();
		for (size_t k = 0; k < m->n_crypto; k++) {
			const struct sdp_crypto *c = &m->crypto[k];
			uint8_t key[SRTPC_KEY_MAX];

			if (!c->tag || c->tag > 999999999 ||
			    c->suite >= SRTPC__COUNT)
				abort();
			inside(c->key, b, n);
			if (c->suite && sdp_crypto_key(c, key))
				abort();
		}
		for (size_t k = 0; k < m->n_pt; k++) {
			if (m->pt[k].pt > 127)
				abort();
			inside(m->pt[k].name, b, n);
			inside(m->pt[k].fmtp, b, n);
		}
	}
}

/* The relay's view of a held or relayed connection. */
static void conn_ok(const struct sdp_conn *c, const uint8_t *relay,
		    bool hold)
{
	if (!c || c->hold != hold)
		abort();
	if (!hold && memcmp(c->ip, relay, 16))
		abort();
}

static bool str_eq0(struct sdp_str a, const char *lit)
{
	return a.l == strlen(lit) && !memcmp(a.p, lit, a.l);
}

static bool str_same(struct sdp_str a, struct sdp_str b)
{
	return a.l == b.l && !memcmp(a.p, b.p, a.l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *b = (const char *)data;
	struct sdp_err err;
	struct sdp_leg leg = {.sess_id = 4242, .version = 7};
	struct sdp_rewrite rw = {0};
	struct sdp_ptset sets[SDP_MAX_MEDIA];
	uint8_t relay[16] = {0};
	size_t len, len2, relayed = 0, ncrypto = 0;
	bool same_proto = true;
	uint64_t ver;
	int r;

	r = sdp_parse(&in, b, size, SDP_SERVE_IP4 | SDP_SERVE_IP6, &err);
	if (r) {
		if (r != EBADMSG || err.rule == SDP_OK ||
		    err.rule >= SDP_E__COUNT || err.line > SDP_MAX_LINES + 1 ||
		    !sdp_rule_str(err.rule))
			abort();
		return 0;
	}
	parsed_ok(&in, b, size);
	/* served families: IPv4 alone refuses exactly the IPv6 bodies */
	if (!sdp_parse(&re, b, size, SDP_SERVE_IP4, &err)) {
		if (re.conn.af == SDP_AF_IP6)
			abort();
		for (size_t i = 0; i < re.n_media; i++)
			if (re.media[i].conn.af == SDP_AF_IP6)
				abort();
	} else if (err.rule != SDP_E_FAMILY) {
		abort();
	}

	memcpy(leg.key, "0123456789abcdef", 16);
	rw.af = size && (data[0] & 1) ? SDP_AF_IP6 : SDP_AF_IP4;
	rw.addr = rw.af == SDP_AF_IP6 ? "2001:db8::5" : "192.0.2.5";
	rw.rtcp_mux = size > 1 && (data[1] & 1);
	if (size & 2)   /* the length: the first octets are "v=" */
		rw.crypto = "1 AES_CM_128_HMAC_SHA1_80 inline:"
			"WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";
	inet_pton(rw.af == SDP_AF_IP6 ? AF_INET6 : AF_INET, rw.addr, relay);
	for (size_t i = 0; i < in.n_media; i++) {
		if (sdp_media_relayable(&in, i) &&
		    !sdp_codecs_intersect(&in, i, &allow, true, &sets[i])) {
			rw.media[i].port = (uint16_t)(10000 + 2 * i);
			rw.media[i].rtcp_port = i & 1 ? 0 :
				(uint16_t)(30001 + 2 * i);
			rw.media[i].pts = &sets[i];
		}
	}
	r = sdp_rewrite(out, sizeof(out), &len, &in, &rw, &leg);
	if (r == E2BIG)
		return 0;
	if (r || len > SDP_MAX_LEN || leg.version != 7)
		abort();
	if (sdp_parse(&re, out, len, SDP_SERVE_IP4 | SDP_SERVE_IP6, &err))
		abort();
	parsed_ok(&re, out, len);
	if (re.n_media != in.n_media || re.sess_id != 4242 ||
	    re.sess_ver != 7 || re.conn.set != in.conn.set)
		abort();
	if (re.conn.set)
		conn_ok(&re.conn, relay, in.conn.hold);
	if (memmem(out, len, "\na=group:BUNDLE ", 16) ||
	    memmem(out, len, "\na=group:BUNDLE\r", 16) ||
	    memmem(out, len, "\na=candidate:", 13))
		abort();
	for (size_t i = 0; i < in.n_media; i++) {
		const struct sdp_media *a = &in.media[i], *z = &re.media[i];
		size_t k = 0;

		if (!str_same(a->type, z->type) ||
		    z->port != rw.media[i].port || z->ice)
			abort();
		if (!z->port) {
			if (a->proto != z->proto || z->n_crypto)
				abort();
			continue;
		}
		relayed++;
		if (!str_eq0(z->protos, sdp_crypto_proto(a->proto,
							 rw.crypto != NULL)) ||
		    z->n_crypto != (rw.crypto ? 1u : 0u) ||
		    (rw.crypto && (z->crypto[0].tag != 1 ||
				   z->crypto[0].suite !=
				   SRTPC_AES_CM_128_HMAC_SHA1_80)))
			abort();
		same_proto = same_proto && a->proto == z->proto;
		if (sdp_media_dir(&in, i) != sdp_media_dir(&re, i) ||
		    sdp_media_held(&in, i) != sdp_media_held(&re, i))
			abort();
		conn_ok(sdp_media_conn(&re, i), relay,
			sdp_media_conn(&in, i)->hold);
		if (z->rtcp_mux != (a->rtcp_mux && rw.rtcp_mux))
			abort();
		if (rw.media[i].rtcp_port && z->rtcp_port != rw.media[i].rtcp_port)
			abort();
		if (!rw.media[i].rtcp_port && z->rtcp_port &&
		    z->rtcp_port != z->port + 1)
			abort();
		for (size_t j = 0; j < a->n_pt; j++) {
			const struct sdp_pt *p = &a->pt[j];

			if (!sdp_ptset_has(&sets[i], p->pt))
				continue;
			if (k >= z->n_pt || z->pt[k].pt != p->pt ||
			    !str_same(z->pt[k].name, p->name) ||
			    z->pt[k].clock != p->clock ||
			    z->pt[k].channels != p->channels ||
			    !!z->pt[k].fmtp.p != !!p->fmtp.p)
				abort();
			k++;
		}
		if (k != z->n_pt || !k)
			abort();
	}
	/* no a=crypto written but ours */
	for (const char *q = out; (q = memmem(q, len - (size_t)(q - out),
					      "\na=crypto:", 10)); q += 10)
		ncrypto++;
	if (ncrypto != (rw.crypto ? relayed : 0))
		abort();
	/* what we write answers what we read (RFC 3264 §6) */
	if (same_proto && sdp_answer_check(&in, &re, &err))
		abort();
	/* the same input again: same bytes, same version */
	if (sdp_rewrite(out2, sizeof(out2), &len2, &in, &rw, &leg) ||
	    len2 != len || memcmp(out, out2, len) || leg.version != 7)
		abort();
	/* the written body rewritten with the same relay: still parses */
	r = sdp_rewrite(out2, sizeof(out2), &len2, &re, &rw, &leg);
	if (r && r != E2BIG)
		abort();
	if (!r && sdp_parse(&re2, out2, len2, SDP_SERVE_IP4 | SDP_SERVE_IP6,
			    &err))
		abort();
	/* a moved relay port is a change: the version moves by one */
	ver = leg.version;
	for (size_t i = 0; i < in.n_media; i++)
		if (rw.media[i].port) {
			rw.media[i].port += 100;
			r = sdp_rewrite(out2, sizeof(out2), &len2, &in, &rw,
					&leg);
			if ((r && r != E2BIG) || (!r && leg.version != ver + 1))
				abort();
			break;
		}
	return 0;
}

void fuzz_cleanup(void)
{
}
