/*
 * sdp_bench — time per SDP body of what the call layer does with each
 * offer and answer: sdp_parse, sdp_codecs_intersect on the audio, and
 * sdp_rewrite for one leg (then parsing the result again, as the next
 * hop does). Bodies: a baresip-shaped offer (1 audio, 5 codecs) and a
 * linphone-shaped one (ICE candidates, 8 audio codecs, video rejected).
 * CPU time of this process (not wall time: the box may be busy).
 * Usage: sdp_bench [iterations]   (default 200000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "media/sdp.h"

static const char baresip[] =
	"v=0\r\no=- 1852203405 2018440622 IN IP4 192.168.1.20\r\ns=-\r\n"
	"c=IN IP4 192.168.1.20\r\nt=0 0\r\n"
	"m=audio 10632 RTP/AVP 96 0 8 9 101\r\nb=AS:128\r\n"
	"a=rtpmap:96 opus/48000/2\r\na=fmtp:96 stereo=1;sprop-stereo=1\r\n"
	"a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-15\r\na=rtcp-rsize\r\na=ptime:20\r\na=sendrecv\r\n";

static const char linphone[] =
	"v=0\r\no=alice 3265 1271 IN IP4 10.0.0.7\r\ns=Talk\r\n"
	"c=IN IP4 10.0.0.7\r\nt=0 0\r\na=ice-pwd:5a1c7e6f0d3b9a8e2f4c6d1b\r\n"
	"a=ice-ufrag:9b2e4d7c\r\na=record:off\r\n"
	"m=audio 7078 RTP/AVP 96 97 98 0 8 101 99 100\r\nc=IN IP4 10.0.0.7\r\n"
	"a=rtpmap:96 opus/48000/2\r\na=fmtp:96 useinbandfec=1\r\n"
	"a=rtpmap:97 speex/16000\r\na=fmtp:97 vbr=on\r\n"
	"a=rtpmap:98 speex/8000\r\na=fmtp:98 vbr=on\r\n"
	"a=rtpmap:101 telephone-event/48000\r\n"
	"a=rtpmap:99 telephone-event/16000\r\n"
	"a=rtpmap:100 telephone-event/8000\r\na=rtcp:7079\r\n"
	"a=candidate:1 1 UDP 2130706431 10.0.0.7 7078 typ host\r\n"
	"a=candidate:1 2 UDP 2130706430 10.0.0.7 7079 typ host\r\n"
	"a=rtcp-fb:* trr-int 1000\r\na=rtcp-fb:* ccm tmmbr\r\n"
	"m=video 9078 RTP/AVP 96 97\r\nc=IN IP4 10.0.0.7\r\n"
	"a=rtpmap:96 VP8/90000\r\na=rtpmap:97 H264/90000\r\n"
	"a=fmtp:97 profile-level-id=42801F\r\na=rtcp-fb:* nack pli\r\n";

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(const char *name, const char *body, long n)
{
	static const struct sdp_codecs allow = {3, {"PCMU", "PCMA", "opus"}};
	static struct sdp in, re;
	static char out[SDP_MAX_LEN];
	struct sdp_rewrite rw = {.af = SDP_AF_IP4, .addr = "192.0.2.1"};
	struct sdp_ptset set;
	struct sdp_leg leg;
	size_t len = strlen(body), outlen = 0;
	double t0, t1, t2;

	if (sdp_leg_init(&leg))
		return 1;
	rw.media[0].port = 10000;
	rw.media[0].pts = &set;
	t0 = now();
	for (long i = 0; i < n; i++)
		if (sdp_parse(&in, body, len, SDP_SERVE_IP4, NULL))
			return 1;
	t1 = now();
	for (long i = 0; i < n; i++) {
		if (sdp_parse(&in, body, len, SDP_SERVE_IP4, NULL) ||
		    sdp_codecs_intersect(&in, 0, &allow, true, &set) ||
		    sdp_rewrite(out, sizeof(out), &outlen, &in, &rw, &leg) ||
		    sdp_parse(&re, out, outlen, SDP_SERVE_IP4, NULL))
			return 1;
	}
	t2 = now();
	printf("%-9s %4zu octets in, %4zu out: parse %.2f us, "
	       "parse+intersect+rewrite+reparse %.2f us\n", name, len, outlen,
	       (t1 - t0) / (double)n * 1e6, (t2 - t1) / (double)n * 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;

	if (n <= 0)
		return 2;
	return run("baresip", baresip, n) || run("linphone", linphone, n);
}
