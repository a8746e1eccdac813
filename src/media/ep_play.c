/*
 * ep_play — what an endpoint sends: one G.711 frame every 20 ms tick
 * once the remote address is known (silence when nothing plays, so that
 * NAT bindings and the phone's RTP timeout stay happy), from a WAV
 * prompt or a tone.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "media/ep_int.h"
#include "media/g711.h"
#include "media/rtppkt.h"

void ep_play_end(struct ep_thread *t, struct eps *s, enum endpoint_end end,
		 int err)
{
	struct endpoint_event ev;

	wav_close(&s->wr);   /* no-op without a file */
	s->pl = PL_NONE;
	memset(&ev, 0, sizeof(ev));
	ev.type = ENDPOINT_EV_PLAY_DONE;
	ev.end = end;
	ev.err = err;
	ep_emit(t, s, &ev);
}

void ep_play_start_file(struct ep_thread *t, struct eps *s,
			const char *path, bool barge)
{
	int err;

	if (s->pl != PL_NONE)
		ep_play_end(t, s, ENDPOINT_END_REPLACED, 0);
	err = wav_open(&s->wr, path);
	s->pl = PL_FILE;
	s->barge = barge;
	if (err)
		ep_play_end(t, s, ENDPOINT_END_ERROR, err);
}

void ep_play_start_tone(struct ep_thread *t, struct eps *s,
			const struct ep_cmd *c)
{
	if (s->pl != PL_NONE)
		ep_play_end(t, s, ENDPOINT_END_REPLACED, 0);
	tone_init(&s->tone, c->freq, 8000, c->amp);
	s->tone_left = c->ms * 8u;
	s->pl = PL_TONE;
	s->barge = c->flag;
}

/* Fills one frame from the playback; returns true when it ended. */
static bool fill(struct eps *s, int16_t *pcm)
{
	size_t n;

	memset(pcm, 0, EP_FRAME * sizeof(*pcm));
	if (s->pl == PL_FILE) {
		n = wav_read(&s->wr, pcm, EP_FRAME);
		return n < EP_FRAME;
	}
	if (s->pl == PL_TONE) {
		n = s->tone_left < EP_FRAME ? s->tone_left : EP_FRAME;
		tone_fill(&s->tone, pcm, n);
		s->tone_left -= (uint32_t)n;
		return s->tone_left == 0;
	}
	return false;
}

void ep_play_tick(struct ep_thread *t, struct eps *s, uint64_t skip)
{
	uint8_t pkt[RTPPKT_HDR + EP_FRAME];
	int16_t pcm[EP_FRAME];
	bool ended;

	/* nowhere to send: the playback waits for the address */
	if (!s->peer_ok)
		return;
	ended = fill(s, pcm);
	/* the timestamp follows the clock: ticks given up show up as lost
	 * packets, not as a shifted stream */
	s->ts += (uint32_t)(EP_FRAME * skip);
	s->st.tx_skipped += skip;
	rtppkt_write(pkt, (uint8_t)s->md.law, s->marker, s->seq++, s->ts,
		     s->ssrc);
	s->ts += EP_FRAME;
	s->marker = false;
	g711x_encode(s->md.law, pkt + RTPPKT_HDR, pcm, EP_FRAME);
	if (sendto(s->fd[0], pkt, sizeof(pkt), MSG_DONTWAIT, &s->peer.u.sa,
		   s->peer.len) < 0)
		s->st.send_errors++;
	else
		s->st.out_pkts++;
	if (ended)
		ep_play_end(t, s, ENDPOINT_END_DONE, 0);
}
