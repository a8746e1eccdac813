/* Unit tests: the SDP parser and per-leg writer (media/sdp.c, API
 * media/sdp.h). Offers shaped like those of baresip, linphone, SIPp and
 * Asterisk; hold and resume in every form; one refusal per rule with the
 * line it names; the bounds (last value accepted, first refused); codec
 * intersection; the rewrite for a leg, checked byte for byte where the
 * shape matters. Every body is copied into a heap buffer of exactly its
 * length, so ASan sees any read past its end. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "media/sdp.h"

#define BOTH (SDP_SERVE_IP4 | SDP_SERVE_IP6)

static struct sdp s;
static struct sdp_err e;
static char *cur;
static char out[SDP_MAX_LEN + 4096];
static size_t outlen;

static int parse_n(const char *txt, size_t len, unsigned serve)
{
	free(cur);
	cur = malloc(len ? len : 1);
	assert_non_null(cur);
	memcpy(cur, txt, len);
	return sdp_parse(&s, cur, len, serve, &e);
}

static int parse(const char *txt)
{
	return parse_n(txt, strlen(txt), BOTH);
}

/* Refused with this rule at this line. */
static void refused(const char *txt, enum sdp_rule rule, unsigned line)
{
	int r = parse(txt);

	if (r != EBADMSG || e.rule != rule || e.line != line)
		fail_msg("got %d rule %d (%s) line %u, want rule %d (%s) "
			 "line %u\n%s", r, e.rule, sdp_rule_str(e.rule),
			 e.line, rule, sdp_rule_str(rule), line, txt);
}

static bool has(const char *needle)
{
	return memmem(out, outlen, needle, strlen(needle)) != NULL;
}

static struct sdp_leg leg_fixed(uint64_t id)
{
	struct sdp_leg l = {.sess_id = id, .version = 1};

	memcpy(l.key, "fedcba9876543210", 16);
	return l;
}

/* ---- offers from real phones ------------------------------------------ */

static const char baresip[] =
	"v=0\r\n"
	"o=- 1852203405 2018440622 IN IP4 192.168.1.20\r\n"
	"s=-\r\n"
	"c=IN IP4 192.168.1.20\r\n"
	"t=0 0\r\n"
	"m=audio 10632 RTP/AVP 96 0 8 9 101\r\n"
	"b=AS:128\r\n"
	"a=rtpmap:96 opus/48000/2\r\n"
	"a=fmtp:96 stereo=1;sprop-stereo=1\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:9 G722/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-15\r\n"
	"a=rtcp-rsize\r\n"
	"a=ptime:20\r\n"
	"a=sendrecv\r\n"
	"a=label:1\r\n";

static const char linphone[] =
	"v=0\r\n"
	"o=alice 3265 1271 IN IP4 10.0.0.7\r\n"
	"s=Talk\r\n"
	"c=IN IP4 10.0.0.7\r\n"
	"t=0 0\r\n"
	"a=ice-pwd:5a1c7e6f0d3b9a8e2f4c6d1b\r\n"
	"a=ice-ufrag:9b2e4d7c\r\n"
	"a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r\n"
	"a=record:off\r\n"
	"a=group:BUNDLE as vs\r\n"
	"m=audio 7078 RTP/AVP 96 97 98 0 8 101 99 100\r\n"
	"c=IN IP4 10.0.0.7\r\n"
	"a=rtpmap:96 opus/48000/2\r\n"
	"a=fmtp:96 useinbandfec=1\r\n"
	"a=rtpmap:97 speex/16000\r\n"
	"a=fmtp:97 vbr=on\r\n"
	"a=rtpmap:98 speex/8000\r\n"
	"a=fmtp:98 vbr=on\r\n"
	"a=rtpmap:101 telephone-event/48000\r\n"
	"a=rtpmap:99 telephone-event/16000\r\n"
	"a=rtpmap:100 telephone-event/8000\r\n"
	"a=rtcp:7079\r\n"
	"a=candidate:1 1 UDP 2130706431 10.0.0.7 7078 typ host\r\n"
	"a=candidate:1 2 UDP 2130706430 10.0.0.7 7079 typ host\r\n"
	"a=candidate:2 1 UDP 1694498815 198.51.100.9 41012 typ srflx raddr 10.0.0.7 rport 7078\r\n"
	"a=rtcp-fb:* trr-int 1000\r\n"
	"a=rtcp-fb:* ccm tmmbr\r\n"
	"a=rtcp-fb:97 nack\r\n"
	"a=ssrc:1983211470 cname:sip:201@10.0.0.7:5060\r\n"
	"a=ssrc:1983211470 msid:lin lin-a\r\n"
	"a=tool:Linphone 5.1\r\n"
	"m=video 9078 RTP/AVP 96 97\r\n"
	"c=IN IP4 10.0.0.7\r\n"
	"a=rtpmap:96 VP8/90000\r\n"
	"a=rtpmap:97 H264/90000\r\n"
	"a=fmtp:97 profile-level-id=42801F\r\n"
	"a=rtcp-fb:* nack pli\r\n";

static const char sipp[] =
	"v=0\n"
	"o=user1 53655765 2353687637 IN IP4 127.0.0.1\n"
	"s=-\n"
	"c=IN IP4 127.0.0.1\n"
	"t=0 0\n"
	"m=audio 6000 RTP/AVP 8 101\n"
	"a=rtpmap:8 PCMA/8000\n"
	"a=rtpmap:101 telephone-event/8000\n"
	"a=fmtp:101 0-11,16\n";

static const char asterisk[] =
	"v=0\r\n"
	"o=- 1806405651 1806405651 IN IP4 203.0.113.10\r\n"
	"s=Asterisk\r\n"
	"c=IN IP4 203.0.113.10\r\n"
	"t=0 0\r\n"
	"m=audio 17554 RTP/AVP 0 8 3 101\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-16\r\n"
	"a=ptime:20\r\n"
	"a=maxptime:150\r\n"
	"a=sendrecv\r\n";

static const char srtp[] =
	"v=0\r\n"
	"o=- 7 7 IN IP4 192.0.2.44\r\n"
	"s=-\r\n"
	"c=IN IP4 192.0.2.44\r\n"
	"t=0 0\r\n"
	"m=audio 5004 RTP/SAVP 0 101\r\n"
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
	"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n";

static const char ipv6[] =
	"v=0\r\n"
	"o=- 1 1 IN IP6 2001:db8::20\r\n"
	"s=-\r\n"
	"c=IN IP6 2001:db8::20\r\n"
	"t=0 0\r\n"
	"m=audio 4000 RTP/AVP 0\r\n";

static void t_baresip(void **st)
{
	const struct sdp_media *m;

	(void)st;
	assert_int_equal(parse(baresip), 0);
	assert_int_equal(s.n_media, 1);
	assert_int_equal(s.sess_id, 1852203405);
	assert_int_equal(s.sess_ver, 2018440622);
	assert_true(s.conn.set);
	assert_int_equal(s.conn.af, SDP_AF_IP4);
	assert_false(s.conn.hold);
	m = &s.media[0];
	assert_int_equal(m->kind, SDP_KIND_AUDIO);
	assert_int_equal(m->proto, SDP_PROTO_RTP_AVP);
	assert_int_equal(m->port, 10632);
	assert_int_equal(m->n_pt, 5);
	assert_int_equal(m->pt[0].pt, 96);
	assert_true(m->pt[0].rtpmap);
	assert_int_equal(m->pt[0].clock, 48000);
	assert_int_equal(m->pt[0].channels, 2);
	assert_int_equal(m->pt[0].fmtp.l, strlen("stereo=1;sprop-stereo=1"));
	assert_memory_equal(m->pt[4].name.p, "telephone-event", 15);
	assert_int_equal(m->ptime, 20);
	assert_int_equal(m->dir, SDP_DIR_SENDRECV);
	assert_int_equal(sdp_media_dir(&s, 0), SDP_DIR_SENDRECV);
	assert_false(sdp_media_held(&s, 0));
	assert_true(sdp_media_relayable(&s, 0));
	assert_int_equal(m->line, 6);
}

static void t_linphone(void **st)
{
	static const struct sdp_codecs allow = {3, {"PCMU", "PCMA", "opus"}};
	struct sdp_ptset set;
	struct sdp_leg leg = leg_fixed(99);
	struct sdp_rewrite rw = {.af = SDP_AF_IP4, .addr = "198.51.100.1"};

	(void)st;
	assert_int_equal(parse(linphone), 0);
	assert_int_equal(s.n_media, 2);
	assert_true(s.media[0].ice);
	assert_int_equal(s.media[0].rtcp_port, 7079);
	assert_int_equal(s.media[0].n_pt, 8);
	assert_int_equal(s.media[1].kind, SDP_KIND_VIDEO);
	assert_false(sdp_media_relayable(&s, 1));
	assert_int_equal(sdp_codecs_intersect(&s, 0, &allow, true, &set), 0);
	/* opus, PCMU, PCMA and the three telephone-event rates */
	assert_int_equal(sdp_ptset_count(&set), 6);
	assert_true(sdp_ptset_has(&set, 96) && sdp_ptset_has(&set, 0) &&
		    sdp_ptset_has(&set, 8) && sdp_ptset_has(&set, 99));
	assert_false(sdp_ptset_has(&set, 97) || sdp_ptset_has(&set, 98));

	rw.media[0].port = 20000;
	rw.media[0].pts = &set;
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &leg), 0);
	assert_true(has("o=- 99 1 IN IP4 198.51.100.1\r\n"));
	assert_true(has("s=Talk\r\n"));
	assert_true(has("c=IN IP4 198.51.100.1\r\n"));
	assert_true(has("m=audio 20000 RTP/AVP 96 0 8 101 99 100\r\n"));
	assert_true(has("a=rtcp:20001\r\n"));
	assert_true(has("a=rtcp-fb:* ccm tmmbr\r\n"));
	assert_true(has("a=record:off\r\n"));
	assert_true(has("m=video 0 RTP/AVP 96 97\r\n"));
	/* nothing that points past the relay, nothing of dropped codecs */
	assert_false(has("candidate") || has("ice-") || has("BUNDLE") ||
		     has("10.0.0.7") || has("198.51.100.9") || has("speex") ||
		     has("vbr=on") || has("a=rtcp-fb:97") || has("VP8") ||
		     has("7079") || has("a=ssrc") || has("cname") ||
		     has("a=tool"));
	assert_int_equal(parse_n(out, outlen, SDP_SERVE_IP4), 0);
	assert_int_equal(s.media[1].port, 0);
	assert_int_equal(s.media[0].n_pt, 6);
}

static void t_sipp_exact(void **st)
{
	static const struct sdp_codecs pcmu = {1, {"PCMU"}};
	static const struct sdp_codecs pcma = {2, {"G722", "pcma"}};
	static const char want[] =
		"v=0\r\n"
		"o=- 5 1 IN IP4 192.0.2.1\r\n"
		"s=-\r\n"
		"c=IN IP4 192.0.2.1\r\n"
		"t=0 0\r\n"
		"m=audio 10000 RTP/AVP 8 101\r\n"
		"a=rtpmap:8 PCMA/8000\r\n"
		"a=rtpmap:101 telephone-event/8000\r\n"
		"a=fmtp:101 0-11,16\r\n";
	struct sdp_ptset set;
	struct sdp_leg leg = leg_fixed(5);
	struct sdp_rewrite rw = {.af = SDP_AF_IP4, .addr = "192.0.2.1"};

	(void)st;
	/* LF-only line ends are read; CRLF is written */
	assert_int_equal(parse(sipp), 0);
	assert_int_equal(sdp_codecs_intersect(&s, 0, &pcmu, true, &set), ENOENT);
	assert_int_equal(sdp_ptset_count(&set), 0);
	assert_int_equal(sdp_codecs_intersect(&s, 0, &pcma, false, &set), 0);
	assert_int_equal(sdp_ptset_count(&set), 1);
	assert_int_equal(sdp_codecs_intersect(&s, 0, &pcma, true, &set), 0);
	assert_int_equal(sdp_ptset_count(&set), 2);
	rw.media[0].port = 10000;
	rw.media[0].pts = &set;
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &leg), 0);
	assert_int_equal(outlen, strlen(want));
	assert_memory_equal(out, want, outlen);
}

static void t_asterisk_static(void **st)
{
	static const struct sdp_codecs gsm = {1, {"GSM/8000"}};
	static const struct sdp_codecs opus2 = {2, {"opus/48000/1", "G729"}};
	struct sdp_ptset set;

	(void)st;
	assert_int_equal(parse(asterisk), 0);
	/* 3 has no rtpmap: the static table names it */
	assert_false(s.media[0].pt[2].rtpmap);
	assert_int_equal(s.media[0].pt[2].name.l, 3);
	assert_memory_equal(s.media[0].pt[2].name.p, "GSM", 3);
	assert_int_equal(s.media[0].pt[2].clock, 8000);
	assert_int_equal(s.media[0].maxptime, 150);
	assert_int_equal(sdp_codecs_intersect(&s, 0, &gsm, true, &set), 0);
	assert_true(sdp_ptset_has(&set, 3) && sdp_ptset_has(&set, 101));
	assert_int_equal(sdp_ptset_count(&set), 2);
	assert_int_equal(sdp_codecs_intersect(&s, 0, &opus2, true, &set), ENOENT);

	assert_int_equal(parse(baresip), 0);
	/* opus is offered stereo: a mono-only entry does not match */
	assert_int_equal(sdp_codecs_intersect(&s, 0, &opus2, true, &set), ENOENT);
}

static void t_srtp_ipv6(void **st)
{
	(void)st;
	assert_int_equal(parse(srtp), 0);
	assert_int_equal(s.media[0].proto, SDP_PROTO_RTP_SAVP);
	assert_true(sdp_media_relayable(&s, 0));
	assert_int_equal(parse(ipv6), 0);
	assert_int_equal(s.conn.af, SDP_AF_IP6);
	assert_int_equal(s.conn.ip[0], 0x20);
	assert_int_equal(parse_n(ipv6, strlen(ipv6), SDP_SERVE_IP4), EBADMSG);
	assert_int_equal(e.rule, SDP_E_FAMILY);
	assert_int_equal(e.line, 4);
	assert_int_equal(e.type, 'c');
	assert_int_equal(parse_n(baresip, strlen(baresip), SDP_SERVE_IP6),
			 EBADMSG);
	assert_int_equal(e.rule, SDP_E_FAMILY);
}

/* ---- hold and resume -------------------------------------------------- */

#define HEAD "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\n"

static void t_hold_forms(void **st)
{
	struct sdp_leg leg = leg_fixed(77);
	struct sdp_rewrite rw = {.af = SDP_AF_IP4, .addr = "192.0.2.1"};

	(void)st;
	rw.media[0].port = 10000;
	/* a=sendonly at media level */
	assert_int_equal(parse(HEAD "c=IN IP4 192.0.2.9\r\nt=0 0\r\n"
			       "m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n"), 0);
	assert_true(sdp_media_held(&s, 0));
	assert_int_equal(sdp_media_dir(&s, 0), SDP_DIR_SENDONLY);
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &leg), 0);
	assert_true(has("a=sendonly\r\n") && has("o=- 77 1 "));
	/* inactive at session level applies to the media */
	assert_int_equal(parse(HEAD "c=IN IP4 192.0.2.9\r\nt=0 0\r\n"
			       "a=inactive\r\nm=audio 4000 RTP/AVP 0\r\n"), 0);
	assert_int_equal(sdp_media_dir(&s, 0), SDP_DIR_INACTIVE);
	assert_true(sdp_media_held(&s, 0));
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &leg), 0);
	assert_true(has("a=inactive\r\n") && has("o=- 77 2 "));
	/* recvonly is not hold */
	assert_int_equal(parse(HEAD "c=IN IP4 192.0.2.9\r\nt=0 0\r\n"
			       "m=audio 4000 RTP/AVP 0\r\na=recvonly\r\n"), 0);
	assert_false(sdp_media_held(&s, 0));
	/* RFC 2543 hold: c=0.0.0.0 stays the hold form */
	assert_int_equal(parse(HEAD "c=IN IP4 0.0.0.0\r\nt=0 0\r\n"
			       "m=audio 4000 RTP/AVP 0\r\n"), 0);
	assert_true(s.conn.hold);
	assert_true(sdp_media_held(&s, 0));
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &leg), 0);
	assert_true(has("c=IN IP4 0.0.0.0\r\n"));
	assert_false(has("c=IN IP4 192.0.2.1"));
	assert_true(has("o=- 77 3 IN IP4 192.0.2.1\r\n"));
	/* hold at media level, written for an IPv6 relay */
	assert_int_equal(parse(HEAD "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
			       "c=IN IP4 0.0.0.0\r\n"), 0);
	rw.af = SDP_AF_IP6;
	rw.addr = "2001:db8::1";
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &leg), 0);
	assert_true(has("c=IN IP6 ::\r\n"));
	assert_int_equal(parse_n(out, outlen, BOTH), 0);
	assert_true(sdp_media_held(&s, 0));
}

/* rw.sendrecv: the PBX takes a held description off hold (after a
 * transfer): every direction attribute goes, a hold c= names the relay,
 * and what is written parses as active media. */
static void t_force_sendrecv(void **st)
{
	struct sdp_leg leg = leg_fixed(78);
	struct sdp_rewrite rw = {.af = SDP_AF_IP4, .addr = "192.0.2.1",
				 .sendrecv = true};

	(void)st;
	rw.media[0].port = 10000;
	assert_int_equal(parse(HEAD "c=IN IP4 0.0.0.0\r\nt=0 0\r\n"
			       "a=sendonly\r\nm=audio 4000 RTP/AVP 0\r\n"
			       "a=inactive\r\na=ptime:20\r\n"), 0);
	assert_true(sdp_media_held(&s, 0));
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &leg),
			 0);
	assert_false(has("a=sendonly") || has("a=inactive") ||
		     has("a=recvonly") || has("0.0.0.0"));
	assert_true(has("c=IN IP4 192.0.2.1\r\n") && has("a=ptime:20\r\n"));
	assert_int_equal(parse_n(out, outlen, BOTH), 0);
	assert_false(sdp_media_held(&s, 0));
	assert_int_equal(sdp_media_dir(&s, 0), SDP_DIR_SENDRECV);
}

static void t_resume_versions(void **st)
{
	static const struct sdp_codecs allow = {2, {"PCMU", "PCMA"}};
	struct sdp_leg a, b;
	struct sdp_rewrite rw = {.af = SDP_AF_IP4, .addr = "192.0.2.1"};
	struct sdp_ptset set;
	char first[2048];
	size_t first_len;
	uint64_t v0;

	(void)st;
	assert_int_equal(sdp_leg_init(&a), 0);
	assert_int_equal(sdp_leg_init(&b), 0);
	assert_int_not_equal(a.sess_id, b.sess_id);
	assert_true(a.sess_id > 0 && a.sess_id < (1ull << 63));
	v0 = a.version;
	assert_int_equal(parse(asterisk), 0);
	assert_int_equal(sdp_codecs_intersect(&s, 0, &allow, true, &set), 0);
	rw.media[0].port = 12000;
	rw.media[0].pts = &set;
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &a), 0);
	memcpy(first, out, outlen);
	first_len = outlen;
	assert_int_equal(a.version, v0);
	/* a session refresh with the same SDP: same body, same version */
	assert_int_equal(parse(asterisk), 0);
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &a), 0);
	assert_int_equal(a.version, v0);
	assert_int_equal(outlen, first_len);
	assert_memory_equal(out, first, outlen);
	/* hold: one more */
	{
		char held[sizeof(asterisk) + 8];
		char *p;

		memcpy(held, asterisk, sizeof(asterisk));
		p = strstr(held, "a=sendrecv");
		memcpy(p, "a=sendonly", 10);
		assert_int_equal(parse(held), 0);
	}
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &a), 0);
	assert_int_equal(a.version, v0 + 1);
	assert_true(has("a=sendonly"));
	/* resume: one more again, the session id never moves */
	assert_int_equal(parse(asterisk), 0);
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &a), 0);
	assert_int_equal(a.version, v0 + 2);
	assert_true(has("a=sendrecv"));
	assert_int_equal(parse_n(out, outlen, BOTH), 0);
	assert_int_equal(s.sess_id, a.sess_id);
	assert_int_equal(s.sess_ver, v0 + 2);
	/* the other leg has its own id */
	assert_int_equal(parse(asterisk), 0);
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &b), 0);
	assert_int_equal(parse_n(out, outlen, BOTH), 0);
	assert_int_equal(s.sess_id, b.sess_id);
}

/* ---- the writer's refusals -------------------------------------------------- */

static void t_rewrite_refusals(void **st)
{
	struct sdp_leg leg = leg_fixed(3), before;
	struct sdp_rewrite rw = {.af = SDP_AF_IP4, .addr = "192.0.2.1"};
	struct sdp_ptset none, g722;
	char small[64];

	(void)st;
	sdp_ptset_clear(&none);
	sdp_ptset_clear(&g722);
	sdp_ptset_add(&g722, 9);
	assert_int_equal(parse(sipp), 0);
	rw.media[0].port = 10000;
	/* out too small: ENOSPC and the leg untouched */
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &leg), 0);
	rw.media[0].port = 10002;
	before = leg;
	assert_int_equal(sdp_rewrite(small, sizeof(small), &outlen, &s, &rw,
				     &leg), ENOSPC);
	assert_memory_equal(&leg, &before, sizeof(leg));
	/* nothing left to send */
	rw.media[0].pts = &none;
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &leg),
			 EINVAL);
	rw.media[0].pts = &g722;   /* not offered */
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &leg),
			 EINVAL);
	rw.media[0].pts = NULL;
	/* the relay address must be a literal of its family */
	rw.addr = "relay.example.com";
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &leg),
			 EINVAL);
	rw.addr = "2001:db8::1";
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &leg),
			 EINVAL);
	rw.addr = "192.0.2.1";
	rw.media[0].port = 65535;
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &leg),
			 EINVAL);
	rw.media[0].rtcp_port = 65534;
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &leg), 0);
	assert_true(has("m=audio 65535 RTP/AVP 8 101\r\na=rtpmap") &&
		    has("a=rtcp:65534\r\n"));
	assert_memory_equal(&leg.sess_id, &before.sess_id, 8);
	assert_int_equal(sdp_rewrite(NULL, 1, &outlen, &s, &rw, &leg), EINVAL);
	/* a non-RTP media is never relayed */
	assert_int_equal(parse(HEAD "c=IN IP4 192.0.2.9\r\nt=0 0\r\n"
			       "m=image 4000 udptl t38\r\n"), 0);
	assert_int_equal(s.media[0].proto, SDP_PROTO_OTHER);
	assert_false(sdp_media_relayable(&s, 0));
	rw.media[0].rtcp_port = 0;
	rw.media[0].port = 10000;
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &leg),
			 EINVAL);
	rw.media[0].port = 0;
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &leg), 0);
	assert_true(has("m=image 0 udptl t38\r\n"));
	{
		struct sdp_ptset set;
		static const struct sdp_codecs pcmu = {1, {"PCMU"}};

		assert_int_equal(sdp_codecs_intersect(&s, 0, &pcmu, true, &set),
				 EINVAL);
	}
}

/* A body of n lines filling the line bound: E2BIG when the rewrite would
 * add the a=rtcp lines past it. */
static void t_rewrite_bound(void **st)
{
	static char big[SDP_MAX_LEN];
	struct sdp_leg leg = leg_fixed(1);
	struct sdp_rewrite rw = {.af = SDP_AF_IP4, .addr = "192.0.2.1"};
	size_t n = 0, lines = 5;

	(void)st;
	n += (size_t)snprintf(big + n, sizeof(big) - n,
			      HEAD "c=IN IP4 192.0.2.9\r\nt=0 0\r\n");
	for (int i = 0; i < SDP_MAX_MEDIA; i++) {
		n += (size_t)snprintf(big + n, sizeof(big) - n,
				      "m=audio %d RTP/AVP 0\r\n", 4000 + 2 * i);
		lines++;
	}
	while (lines < SDP_MAX_LINES) {
		n += (size_t)snprintf(big + n, sizeof(big) - n, "a=x-pad\r\n");
		lines++;
	}
	assert_int_equal(parse_n(big, n, BOTH), 0);
	for (int i = 0; i < SDP_MAX_MEDIA; i++)
		rw.media[i].port = (uint16_t)(10000 + 2 * i);
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &leg), 0);
	assert_int_equal(parse_n(out, outlen, BOTH), 0);
	rw.media[0].rtcp_port = 30001;
	assert_int_equal(parse_n(big, n, BOTH), 0);
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &leg),
			 E2BIG);
}

/* rtcp-mux only when the relay demuxes; BUNDLE and ICE at any level
 * never; a relay RTCP port that is not port + 1 is stated. */
static void t_rewrite_attrs(void **st)
{
	static const char offer[] =
		HEAD "c=IN IP4 192.0.2.9\r\nt=0 0\r\n"
		"a=group:BUNDLE a\r\na=ice-lite\r\n"
		"m=audio 4000 RTP/SAVPF 0\r\na=mid:a\r\na=rtcp-mux\r\n"
		"a=group:BUNDLE a\r\na=end-of-candidates\r\n"
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
		"inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIz\r\n";
	struct sdp_leg leg = leg_fixed(8);
	struct sdp_rewrite rw = {.af = SDP_AF_IP4, .addr = "192.0.2.1"};

	(void)st;
	assert_int_equal(parse(offer), 0);
	assert_true(s.media[0].rtcp_mux && s.media[0].ice);
	rw.media[0].port = 10000;
	rw.media[0].rtcp_port = 10500;
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &leg), 0);
	assert_false(has("BUNDLE") || has("ice-lite") || has("end-of-cand") ||
		     has("rtcp-mux"));
	/* srtp (issue 15): a leg's key never reaches another leg; a leg
	 * without SRTP gets the plain profile */
	assert_true(has("a=mid:a\r\n") && !has("a=crypto") &&
		    has("m=audio 10000 RTP/AVPF 0\r\n") &&
		    has("a=rtcp:10500\r\n"));
	rw.crypto = "3 AES_CM_128_HMAC_SHA1_80 inline:"
		"WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &leg), 0);
	assert_true(has("m=audio 10000 RTP/SAVPF 0\r\n") &&
		    has("a=rtcp:10500\r\na=crypto:3 AES_CM_128_HMAC_SHA1_80 "
			"inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n") &&
		    !has("QUJDREVG"));
	rw.crypto = NULL;
	rw.rtcp_mux = true;
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &leg), 0);
	assert_true(has("a=rtcp-mux\r\n"));
	assert_int_equal(leg.version, 3)   /* srtp: one more body above */;
	assert_int_equal(parse_n(out, outlen, BOTH), 0);
	assert_true(s.media[0].rtcp_mux && !s.media[0].ice);
	assert_int_equal(s.media[0].rtcp_port, 10500);
}

/* An answer against its offer: what our own rewrite of the offer gives
 * passes; a changed count, media, protocol, payload type or encoding, a
 * revived rejected media do not. */
static void t_answer_check(void **st)
{
	static struct sdp offer, ans;
	static char obuf[sizeof(linphone)];
	struct sdp_leg leg = leg_fixed(4);
	struct sdp_rewrite rw = {.af = SDP_AF_IP4, .addr = "192.0.2.1"};
	static const struct {
		const char *m;
		enum sdp_rule r;
	} cases[] = {
		{"m=audio 5000 RTP/AVP 0 101\r\nm=video 0 RTP/AVP 96\r\n", 0},
		{"m=audio 5000 RTP/AVP 8\r\nm=video 0 RTP/AVP 96\r\n", 0},
		{"m=audio 5000 RTP/AVP 0\r\n", SDP_E_ANSWER},
		{"m=audio 5000 RTP/AVP 0\r\nm=audio 0 RTP/AVP 96\r\n",
		 SDP_E_ANSWER},
		{"m=audio 5000 RTP/SAVP 0\r\nm=video 0 RTP/AVP 96\r\n",
		 SDP_E_ANSWER},
		{"m=audio 5000 RTP/AVP 9\r\nm=video 0 RTP/AVP 96\r\n",
		 SDP_E_ANSWER},
		{"m=audio 5000 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n"
		 "m=video 0 RTP/AVP 96\r\n", 0},
		{"m=audio 5000 RTP/AVP 96\r\na=rtpmap:96 speex/8000\r\n"
		 "m=video 0 RTP/AVP 96\r\n", SDP_E_ANSWER},
		{"m=audio 5000 RTP/AVP 0\r\nm=video 6000 RTP/AVP 96\r\n",
		 SDP_E_ANSWER},
	};
	char buf[512];

	(void)st;
	/* the offer as the callee sees it: audio relayed, video refused */
	assert_int_equal(parse(linphone), 0);
	rw.media[0].port = 10000;
	assert_int_equal(sdp_rewrite(out, sizeof(out), &outlen, &s, &rw, &leg), 0);
	memcpy(obuf, out, outlen);
	assert_int_equal(sdp_parse(&offer, obuf, outlen, BOTH, &e), 0);
	/* the rewrite is itself a valid answer to what it rewrote */
	assert_int_equal(parse(linphone), 0);
	assert_int_equal(sdp_answer_check(&s, &offer, &e), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = snprintf(buf, sizeof(buf), HEAD "c=IN IP4 192.0.2.7\r\n"
				 "t=0 0\r\n%s", cases[i].m);

		assert_int_equal(sdp_parse(&ans, buf, (size_t)n, BOTH, &e), 0);
		if (sdp_answer_check(&offer, &ans, &e) ? e.rule != cases[i].r :
		    cases[i].r != 0)
			fail_msg("case %zu: rule %d line %u", i, e.rule, e.line);
	}
	assert_int_equal(e.line, 7);   /* the m= line named */
	assert_int_equal(sdp_answer_check(NULL, &ans, &e), EINVAL);
}

/* ---- refusals: one per rule, with the line named --------------------- */

static void t_refusals(void **st)
{
	(void)st;
	refused("", SDP_E_EMPTY, 0);
	refused("v=1\r\n", SDP_E_VERSION, 1);
	refused("v=0\r\ns=-\r\n", SDP_E_ORIGIN, 2);
	refused("v=0\r\n", SDP_E_ORIGIN, 0);
	refused("v=0\r\no=- 1 1 IN IP4 h\r\n", SDP_E_SESSION, 0);
	refused("v=0\r\no=- 1 1 IN IP4 h\r\nt=0 0\r\n", SDP_E_SESSION, 3);
	refused("v=0\r\no=- 1 1 IN IP4 h\r\ns=\r\n", SDP_E_SESSION, 3);
	refused("v=0\r\no=- x1 1 IN IP4 h\r\ns=-\r\n", SDP_E_ORIGIN, 2);
	refused("v=0\r\no=- 1 1 IN IP4\r\ns=-\r\n", SDP_E_ORIGIN, 2);
	refused("v=0\r\no=- 123456789012345678901 1 IN IP4 h\r\ns=-\r\n",
		SDP_E_ORIGIN, 2);
	refused("v=0\r\no=- 1 18446744073709551616 IN IP4 h\r\ns=-\r\n",
		SDP_E_ORIGIN, 2);
	assert_int_equal(parse("v=0\r\no=- 18446744073709551615 0 IN IP4 h\r\n"
			       "s=-\r\n"), 0);
	assert_true(s.sess_id == UINT64_MAX);
	refused("v=0\r\no=- 1 1 IN IP4 h x\r\ns=-\r\n", SDP_E_ORIGIN, 2);
	refused("v=0\r\no=- 1 1 IN IPX h\r\ns=-\r\n", SDP_E_ORIGIN, 2);
	refused(HEAD "t=0\r\n", SDP_E_TIME, 4);
	refused(HEAD "t=a b\r\n", SDP_E_TIME, 4);
	refused(HEAD "x=1\r\n", SDP_E_TYPE, 4);
	refused(HEAD "X=1\r\n", SDP_E_TYPE, 4);
	refused(HEAD "c\r\n", SDP_E_SYNTAX, 4);
	refused(HEAD "c =IN IP4 1.2.3.4\r\n", SDP_E_SYNTAX, 4);
	refused(HEAD "\r\nt=0 0\r\n", SDP_E_SYNTAX, 4);
	refused(HEAD "t=0 0\r\nc=IN IP4 1.2.3.4\r\n", SDP_E_ORDER, 5);
	refused(HEAD "s=again\r\n", SDP_E_ORDER, 4);
	refused(HEAD "c=IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\n", SDP_E_CONN, 5);
	refused(HEAD "r=7d 1h 0 25h\r\n", SDP_E_ORDER, 4);
	refused(HEAD "a=rtpmap:0 PCMU/8000\r\n", SDP_E_ORDER, 4);
	refused(HEAD "c=IN IP4\r\n", SDP_E_CONN, 4);
	refused(HEAD "c=IN IP4 1.2.3.4 5\r\n", SDP_E_CONN, 4);
	refused(HEAD "c=ATM NSAP 47.0091\r\n", SDP_E_FAMILY, 4);
	refused(HEAD "c=IN IPX 1.2.3.4\r\n", SDP_E_FAMILY, 4);
	refused(HEAD "c=IN IP4 pbx.example.com\r\n", SDP_E_ADDR, 4);
	refused(HEAD "c=IN IP4 224.2.1.1/127\r\n", SDP_E_ADDR, 4);
	refused(HEAD "c=IN IP4 224.2.1.1\r\n", SDP_E_ADDR, 4);
	refused(HEAD "c=IN IP4 255.255.255.255\r\n", SDP_E_ADDR, 4);
	refused(HEAD "c=IN IP4 1.2.3.256\r\n", SDP_E_ADDR, 4);
	refused(HEAD "c=IN IP4 2001:db8::1\r\n", SDP_E_ADDR, 4);
	refused(HEAD "c=IN IP6 ff02::1\r\n", SDP_E_ADDR, 4);
	refused(HEAD "c=IN IP6 1.2.3.4\r\n", SDP_E_ADDR, 4);
	refused(HEAD "c=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\n"
		"a=sendonly\r\nc=IN IP4 1.2.3.4\r\n", SDP_E_ORDER, 8);
	refused(HEAD "c=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\n"
		"t=0 0\r\n", SDP_E_ORDER, 7);
	refused(HEAD "c=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\n"
		"c=IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.5\r\n", SDP_E_CONN, 8);
	/* a media with no address at either level (port 0 needs none) */
	refused(HEAD "t=0 0\r\nm=audio 0 RTP/AVP 0\r\nm=audio 4000 RTP/AVP 0\r\n",
		SDP_E_NOCONN, 6);
#define M(x) HEAD "c=IN IP4 192.0.2.9\r\nt=0 0\r\n" x
	refused(M("m=audio\r\n"), SDP_E_MEDIA, 6);
	refused(M("m=audio 4000 RTP/AVP\r\n"), SDP_E_MEDIA, 6);
	refused(M("m=audio 4000 RTP/AVP   \r\n"), SDP_E_MEDIA, 6);
	refused(M("m=au<dio 4000 RTP/AVP 0\r\n"), SDP_E_MEDIA, 6);
	refused(M("m=audio 65536 RTP/AVP 0\r\n"), SDP_E_PORT, 6);
	refused(M("m=audio 100000 RTP/AVP 0\r\n"), SDP_E_PORT, 6);
	refused(M("m=audio -1 RTP/AVP 0\r\n"), SDP_E_PORT, 6);
	refused(M("m=audio +4000 RTP/AVP 0\r\n"), SDP_E_PORT, 6);
	refused(M("m=audio 4000/2 RTP/AVP 0\r\n"), SDP_E_PORT, 6);
	refused(M("m=audio 4000 RTP/AVP 128\r\n"), SDP_E_FMT, 6);
	refused(M("m=audio 4000 RTP/AVP 0 x\r\n"), SDP_E_FMT, 6);
	refused(M("m=audio 4000 RTP/AVP 0008\r\n"), SDP_E_FMT, 6);
	refused(M("m=audio 4000 RTP/AVP 0 8 0\r\n"), SDP_E_FMT, 6);
	refused(M("m=audio 4000 RTP/AVP 0\r\na=rtpmap:0\r\n"), SDP_E_RTPMAP, 7);
	refused(M("m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n"),
		SDP_E_RTPMAP, 7);
	refused(M("m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/0\r\n"),
		SDP_E_RTPMAP, 7);
	refused(M("m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000/0\r\n"),
		SDP_E_RTPMAP, 7);
	refused(M("m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000 x\r\n"),
		SDP_E_RTPMAP, 7);
	refused(M("m=audio 4000 RTP/AVP 0\r\na=rtpmap:200 PCMU/8000\r\n"),
		SDP_E_RTPMAP, 7);
	refused(M("m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
		  "a=rtpmap:0 PCMA/8000\r\n"), SDP_E_RTPMAP, 8);
	refused(M("m=audio 4000 RTP/AVP 0\r\na=fmtp:x a=b\r\n"), SDP_E_FMTP, 7);
	refused(M("m=audio 4000 RTP/AVP 0\r\na=fmtp:0 a\r\na=fmtp:0 b\r\n"),
		SDP_E_FMTP, 8);
	refused(M("m=audio 4000 RTP/AVP 0\r\na=sendonly\r\na=recvonly\r\n"),
		SDP_E_DIR, 8);
	refused(M("m=audio 4000 RTP/AVP 0\r\na=sendonly:x\r\n"), SDP_E_DIR, 7);
	refused(M("a=sendrecv\r\na=inactive\r\n"), SDP_E_DIR, 7);
	refused(M("m=audio 4000 RTP/AVP 0\r\na=rtcp:0\r\n"), SDP_E_RTCP, 7);
	refused(M("m=audio 4000 RTP/AVP 0\r\na=rtcp:65536\r\n"), SDP_E_RTCP, 7);
	refused(M("m=audio 4000 RTP/AVP 0\r\na=rtcp\r\n"), SDP_E_RTCP, 7);
	refused(M("m=audio 4000 RTP/AVP 0\r\na=rtcp:4001 IN IP4 x.example\r\n"),
		SDP_E_ADDR, 7);
	refused(M("m=audio 4000 RTP/AVP 0\r\na=ptime:0\r\n"), SDP_E_PTIME, 7);
	refused(M("m=audio 4000 RTP/AVP 0\r\na=ptime:1001\r\n"), SDP_E_PTIME, 7);
	refused(M("m=audio 4000 RTP/AVP 0\r\na=ptime:abc\r\n"), SDP_E_PTIME, 7);
	refused(M("m=audio 4000 RTP/AVP 0\r\na=ptime:20\r\na=ptime:30\r\n"),
		SDP_E_PTIME, 8);
	refused(M("m=audio 4000 RTP/AVP 0\r\na=\r\n"), SDP_E_ATTR, 7);
	refused(M("m=audio 4000 RTP/AVP 0\r\na=:x\r\n"), SDP_E_ATTR, 7);
	/* octets no line may carry */
	refused(M("m=audio 4000 RTP/AVP 0\r\na=x\ry\r\n"), SDP_E_CHAR, 7);
	refused(M("m=audio 4000 RTP/AVP 0\r\na=x\x01y\r\n"), SDP_E_CHAR, 7);
	{
		static const char nul[] = HEAD "i=a\0b\r\n";

		assert_int_equal(parse_n(nul, sizeof(nul) - 1, BOTH), EBADMSG);
		assert_int_equal(e.rule, SDP_E_CHAR);
		assert_int_equal(e.line, 4);
	}
	assert_int_equal(sdp_parse(NULL, "v=0", 3, BOTH, &e), EINVAL);
	assert_int_equal(e.rule, SDP_E_ARG);
	assert_string_equal(sdp_rule_str(SDP_E_NOCONN),
			    "media without a connection address");
	assert_string_equal(sdp_rule_str(SDP_E__COUNT), "unknown rule");
}

/* What is accepted at the edges. */
static void t_accepted_edges(void **st)
{
	(void)st;
	/* no t=, last line without EOL, trailing blank lines */
	assert_int_equal(parse(HEAD "c=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0"), 0);
	assert_int_equal(s.media[0].n_pt, 1);
	assert_int_equal(parse(M("m=audio 4000 RTP/AVP 0\r\n\r\n\r\n")), 0);
	/* ports and payload types at their bounds */
	assert_int_equal(parse(M("m=audio 65535 RTP/AVP 127 0\r\n")), 0);
	assert_int_equal(s.media[0].port, 65535);
	assert_int_equal(s.media[0].pt[0].clock, 0);   /* dynamic, no rtpmap */
	assert_int_equal(parse(M("m=audio 0 RTP/AVP 0\r\n")), 0);
	assert_false(sdp_media_relayable(&s, 0));
	assert_int_equal(parse(M("m=audio 4000 RTP/AVP 0\r\na=ptime:1000\r\n"
				 "a=maxptime:20.5\r\na=rtcp:4001 IN IP4 1.2.3.4\r\n"
				 "a=rtcp-mux\r\n")), 0);
	assert_int_equal(s.media[0].ptime, 1000);
	assert_int_equal(s.media[0].maxptime, 20);
	assert_int_equal(s.media[0].rtcp_port, 4001);
	assert_true(s.media[0].rtcp_mux);
	/* an rtpmap for a payload type not offered is ignored */
	assert_int_equal(parse(M("m=audio 4000 RTP/AVP 0\r\n"
				 "a=rtpmap:96 opus/48000/2\r\n")), 0);
	assert_int_equal(s.media[0].n_pt, 1);
	/* time blocks, repeat, zone, key, several b= and e= */
	assert_int_equal(parse(HEAD "i=x\r\nu=http://x/\r\ne=a@b\r\ne=c@d\r\n"
			       "p=+1 555\r\nc=IN IP4 1.2.3.4\r\nb=CT:1\r\n"
			       "b=AS:2\r\nt=1 2\r\nr=7d 1h 0 25h\r\nt=3 4\r\n"
			       "z=1 -1h\r\nk=prompt\r\na=tool:x\r\n"
			       "m=audio 4000 RTP/AVP 0\r\ni=y\r\n"
			       "c=IN IP4 1.2.3.5\r\nb=AS:64\r\nk=prompt\r\n"
			       "a=x\r\n"), 0);
	/* a kept but not relayed media */
	assert_int_equal(parse(M("m=application 9 UDP/TLS/RTP/SAVPF webrtc-datachannel\r\n"
				 "a=rtpmap:bogus\r\n")), 0);
	assert_int_equal(s.media[0].proto, SDP_PROTO_OTHER);
	assert_int_equal(s.media[0].n_pt, 0);
}

/* ---- hostile bodies ------------------------------------------------------- */

static void t_hostile(void **st)
{
	static char big[4 * SDP_MAX_LEN];
	size_t n;

	(void)st;
	/* thousands of lines: refused at the first line past the bound */
	n = (size_t)snprintf(big, sizeof(big), M(""));
	while (n + 8 < SDP_MAX_LEN)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "a=x\r\n");
	assert_int_equal(parse_n(big, n, BOTH), EBADMSG);
	assert_int_equal(e.rule, SDP_E_LINES);
	assert_int_equal(e.line, SDP_MAX_LINES + 1);
	/* more octets than the bound, whatever they are */
	memset(big, 'a', sizeof(big));
	assert_int_equal(parse_n(big, SDP_MAX_LEN + 1, BOTH), EBADMSG);
	assert_int_equal(e.rule, SDP_E_TOOBIG);
	/* exactly the bound of octets and lines: accepted (the padding
	 * lines share what the first five leave, the last one takes the
	 * rest and has no EOL) */
	n = (size_t)snprintf(big, sizeof(big), M(""));
	{
		size_t pad = (SDP_MAX_LEN - n) / (SDP_MAX_LINES - 5);

		for (size_t l = 5; l < SDP_MAX_LINES - 1; l++) {
			memcpy(big + n, "a=x:", 4);
			memset(big + n + 4, 'y', pad - 6);
			memcpy(big + n + pad - 2, "\r\n", 2);
			n += pad;
		}
	}
	memcpy(big + n, "a=x:", 4);
	memset(big + n + 4, 'y', SDP_MAX_LEN - n - 4);
	assert_true(SDP_MAX_LEN - n <= SDP_MAX_LINE);
	assert_int_equal(parse_n(big, SDP_MAX_LEN, BOTH), 0);
	assert_int_equal(s.n_lines, SDP_MAX_LINES);
	/* a line of exactly SDP_MAX_LINE octets, then one more */
	n = (size_t)snprintf(big, sizeof(big), M("a=x:"));
	memset(big + n, 'z', SDP_MAX_LINE - 4);
	assert_int_equal(parse_n(big, n + SDP_MAX_LINE - 4, BOTH), 0);
	memset(big + n, 'z', SDP_MAX_LINE - 3);
	assert_int_equal(parse_n(big, n + SDP_MAX_LINE - 3, BOTH), EBADMSG);
	assert_int_equal(e.rule, SDP_E_LINELEN);
	assert_int_equal(e.line, 6);
	/* nine media lines */
	n = (size_t)snprintf(big, sizeof(big), M(""));
	for (int i = 0; i < SDP_MAX_MEDIA + 1; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n,
				      "m=audio %d RTP/AVP 0\r\n", 4000 + i);
	assert_int_equal(parse_n(big, n, BOTH), EBADMSG);
	assert_int_equal(e.rule, SDP_E_TOOMANY);
	assert_int_equal(e.line, 6 + SDP_MAX_MEDIA);
	/* 32 payload types, then 33 */
	n = (size_t)snprintf(big, sizeof(big), M("m=audio 4000 RTP/AVP"));
	for (int i = 0; i < SDP_MAX_FMT; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, " %d", 96 + i);
	assert_int_equal(parse_n(big, n, BOTH), 0);
	assert_int_equal(s.media[0].n_pt, SDP_MAX_FMT);
	n += (size_t)snprintf(big + n, sizeof(big) - n, " 0");
	assert_int_equal(parse_n(big, n, BOTH), EBADMSG);
	assert_int_equal(e.rule, SDP_E_FMT);
	/* a long address in c= */
	n = (size_t)snprintf(big, sizeof(big), HEAD "c=IN IP6 ");
	memset(big + n, ':', 200);
	assert_int_equal(parse_n(big, n + 200, BOTH), EBADMSG);
	assert_int_equal(e.rule, SDP_E_ADDR);
	/* SIP headers handed in as SDP */
	refused("INVITE sip:1@x SIP/2.0\r\n", SDP_E_SYNTAX, 1);
	refused("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nv=0\r\n", SDP_E_ORDER, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_baresip),
		cmocka_unit_test(t_linphone),
		cmocka_unit_test(t_sipp_exact),
		cmocka_unit_test(t_asterisk_static),
		cmocka_unit_test(t_srtp_ipv6),
		cmocka_unit_test(t_hold_forms),
		cmocka_unit_test(t_force_sendrecv),
		cmocka_unit_test(t_resume_versions),
		cmocka_unit_test(t_rewrite_refusals),
		cmocka_unit_test(t_rewrite_bound),
		cmocka_unit_test(t_rewrite_attrs),
		cmocka_unit_test(t_answer_check),
		cmocka_unit_test(t_refusals),
		cmocka_unit_test(t_accepted_edges),
		cmocka_unit_test(t_hostile),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);

	free(cur);
	return r;
}
