/*
 * ep_rx — what arrives on an endpoint's sockets: strict source (the SDP
 * address, or for a nat leg the source latched inside the latch window;
 * everything else counted and dropped), RTP parsed within the datagram,
 * audio to the recorder and the in-band detector, RFC 4733 events to
 * the digit receiver, and the digits' effects (flood bound, event,
 * barge-in, end of a recording).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <rem_dtmf.h>

#include "media/ep_int.h"
#include "media/g711.h"
#include "media/rtppkt.h"

#define RX_BATCH 32   /* datagrams per readable event; the rest next turn */

void ep_digit(struct ep_thread *t, struct eps *s, char d, bool inband)
{
	struct endpoint_event ev;

	if (t->now - s->dig_window >= 1000) {
		s->dig_window = t->now;
		s->dig_count = 0;
	}
	if (s->dig_count >= t->conf.digits_per_s) {
		s->st.digits_dropped++;
		return;
	}
	s->dig_count++;
	s->st.digits++;
	memset(&ev, 0, sizeof(ev));
	ev.type = ENDPOINT_EV_DIGIT;
	ev.digit = d;
	ev.inband = inband;
	ep_emit(t, s, &ev);
	if (s->pl != PL_NONE && s->barge)
		ep_play_end(t, s, ENDPOINT_END_BARGE, 0);
	if (s->rec && s->rec_digit)
		ep_record_end(t, s, ENDPOINT_END_DIGIT, 0);
}

static void notice(struct ep_thread *t, struct eps *s,
		   enum endpoint_ev_type type, const struct sa *src)
{
	struct endpoint_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.addr = *src;
	ep_emit(t, s, &ev);
}

/* Whether a packet from src is the leg's; may latch a nat leg. */
static bool source_ok(struct ep_thread *t, struct eps *s, const struct sa *src,
		      bool wellformed)
{
	if (s->peer_ok && relay_sa_eq(src, &s->peer))
		return true;
	if (!s->peer_ok && !s->md.nat) {
		s->st.drop_early++;
		return false;
	}
	if (wellformed && s->md.nat && t->now < s->latch_until &&
	    (!s->md.latch_from.u.sa.sa_family ||
	     relay_sa_ipeq(src, &s->md.latch_from))) {
		/* learn or move; the move closes the window */
		s->peer = *src;
		s->peer_ok = true;
		s->latched = true;
		s->latch_until = 0;
		notice(t, s, ENDPOINT_EV_LATCHED, src);
		return true;
	}
	s->st.drop_source++;
	if (t->now >= s->next_notify) {
		s->next_notify = t->now + t->conf.notify_ms;
		notice(t, s, ENDPOINT_EV_STRICT_DROP, src);
	}
	return false;
}

static void audio(struct ep_thread *t, struct eps *s, const struct rtppkt *p)
{
	int16_t pcm[EP_FRAME];
	size_t off = 0;

	while (off < p->plen) {
		size_t n = p->plen - off > EP_FRAME ? EP_FRAME : p->plen - off;

		g711x_decode(s->md.law, pcm, p->payload + off, n);
		ep_record_audio(t, s, p->ssrc, p->ts + (uint32_t)off, pcm, n);
		if (s->dec && s->md.inband && !s->te_seen)
			dtmf_dec_probe(s->dec, pcm, n);
		off += n;
	}
}

static void event(struct ep_thread *t, struct eps *s, const struct rtppkt *p)
{
	struct dtmfev e;
	char d, d2;

	s->te_seen = true;
	if (dtmfev_parse(&e, p->payload, p->plen)) {
		s->st.drop_malformed++;
		return;
	}
	d = dtmfev_rx_input(&s->drx, p->ts, &e, &d2);
	if (d)
		ep_digit(t, s, d, false);
	if (d2)
		ep_digit(t, s, d2, false);
}

void ep_rx_rtp(struct ep_thread *t, struct eps *s)
{
	unsigned i;

	for (i = 0; i < RX_BATCH; i++) {
		struct sa src;
		struct rtppkt p;
		ssize_t n;
		bool ok;

		memset(&src, 0, sizeof(src));
		src.len = sizeof(src.u);
		n = recvfrom(s->fd[0], t->buf, sizeof(t->buf), MSG_DONTWAIT,
			     &src.u.sa, &src.len);
		if (n < 0)
			return;
		ok = (size_t)n <= EP_MAX_PKT &&
		     rtppkt_parse(&p, t->buf, (size_t)n) == 0;
		if (!source_ok(t, s, &src, ok))
			continue;
		if (!ok) {
			s->st.drop_malformed++;
			continue;
		}
		s->st.in_pkts++;
		if (p.pt == (uint8_t)s->md.law)
			audio(t, s, &p);
		else if (s->md.te_pt >= 0 && p.pt == (uint8_t)s->md.te_pt)
			event(t, s, &p);
		else
			s->st.drop_pt++;
	}
}

void ep_rx_rtcp(struct ep_thread *t, struct eps *s)
{
	unsigned i;

	for (i = 0; i < RX_BATCH; i++) {
		struct sa src;
		ssize_t n;

		memset(&src, 0, sizeof(src));
		src.len = sizeof(src.u);
		n = recvfrom(s->fd[1], t->buf, sizeof(t->buf), MSG_DONTWAIT,
			     &src.u.sa, &src.len);
		if (n < 0)
			return;
		/* RTCP is read and dropped; only its source is checked */
		if (s->peer_ok && relay_sa_ipeq(&src, &s->peer))
			s->st.rtcp_in++;
		else
			s->st.drop_source++;
	}
}
