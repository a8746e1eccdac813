/*
 * ep_record — an endpoint's recording: what the leg sends, decoded to
 * 16-bit PCM in RTP timestamp order (a gap of up to one second filled
 * with silence, late and duplicate packets dropped), to a temporary WAV
 * renamed when complete. Ends on its maximum length, on silence
 * (counted in 20 ms ticks without a voiced frame, so a leg that stops
 * sending is silent too), on a digit, or when told.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "media/ep_int.h"

#define GAP_MAX 8000u   /* samples of silence inserted for one gap */

void ep_record_end(struct ep_thread *t, struct eps *s, enum endpoint_end end,
		   int err)
{
	struct endpoint_event ev;
	uint64_t samples = s->ww.samples;

	memset(&ev, 0, sizeof(ev));
	ev.type = ENDPOINT_EV_RECORD_DONE;
	ev.end = end;
	s->rec = false;
	ev.err = err;
	ev.duration_ms = (uint32_t)(samples / 8);
	ev.id = s->id;
	ev.tag = s->tag;
	if (end == ENDPOINT_END_DISCARDED || end == ENDPOINT_END_ERROR) {
		wav_abort(&s->ww);
		ep_emit(t, s, &ev);
		return;
	}
	/* fsync and rename off this thread; RECORD_DONE comes from there */
	ep_fin_post(t->conf.fin, &s->ww, &ev);
}

void ep_record_start(struct ep_thread *t, struct eps *s,
		     const struct ep_cmd *c)
{
	int err;

	if (s->rec)
		ep_record_end(t, s, ENDPOINT_END_REPLACED, 0);
	err = wav_create(&s->ww, c->path);
	if (err) {
		struct endpoint_event ev;

		memset(&ev, 0, sizeof(ev));
		ev.type = ENDPOINT_EV_RECORD_DONE;
		ev.end = ENDPOINT_END_ERROR;
		ev.err = err;
		ep_emit(t, s, &ev);
		return;
	}
	s->rec = true;
	s->rec_max = (uint64_t)c->max_ms * 8u;
	s->rec_ticks = 0;
	s->rec_max_ticks = (c->max_ms + 19) / 20;
	s->rec_silence_ticks = c->silence_ms / 20;
	s->rec_silent = 0;
	s->rec_level = c->silence_level;
	s->rec_digit = c->flag;
	s->rec_heard = false;
	s->rec_ts_ok = false;
}

/* Writes n samples (NULL = silence) within the maximum length; ends the
 * recording on an error or at the maximum. Returns false when it ended. */
static bool put(struct ep_thread *t, struct eps *s, const int16_t *pcm,
		size_t n)
{
	static const int16_t zero[EP_FRAME];
	uint64_t room = s->rec_max - s->ww.samples;
	bool full = n >= room;
	int err = 0;

	if (full)
		n = (size_t)room;
	while (n && !err) {
		size_t k = n > EP_FRAME ? EP_FRAME : n;

		err = wav_write(&s->ww, pcm ? pcm : zero, k);
		if (pcm)
			pcm += k;
		n -= k;
	}
	if (err) {
		ep_record_end(t, s, ENDPOINT_END_ERROR, err);
		return false;
	}
	if (full) {
		ep_record_end(t, s, ENDPOINT_END_MAXLEN, 0);
		return false;
	}
	return true;
}

void ep_record_audio(struct ep_thread *t, struct eps *s, uint32_t ssrc,
		     uint32_t ts, const int16_t *pcm, size_t n)
{
	uint64_t sum = 0;
	size_t i;

	if (!s->rec)
		return;
	if (s->rec_ts_ok && ssrc == s->rec_ssrc) {
		int32_t gap = (int32_t)(ts - s->rec_next_ts);

		if (gap < 0)
			return;           /* late or duplicate */
		if (gap > 0 && (uint32_t)gap <= GAP_MAX &&
		    !put(t, s, NULL, (size_t)gap))
			return;
	}
	s->rec_ts_ok = true;
	s->rec_ssrc = ssrc;
	s->rec_next_ts = ts + (uint32_t)n;
	for (i = 0; i < n; i++)
		sum += (uint64_t)abs(pcm[i]);
	if (n && sum / n >= s->rec_level)
		s->rec_heard = true;
	(void)put(t, s, pcm, n);
}

void ep_record_tick(struct ep_thread *t, struct eps *s, uint64_t missed)
{
	s->rec_ticks += missed;
	if (s->rec_ticks >= s->rec_max_ticks) {
		ep_record_end(t, s, ENDPOINT_END_MAXLEN, 0);
		return;
	}
	if (!s->rec_silence_ticks)
		return;
	if (s->rec_heard)
		s->rec_silent = 0;
	else
		s->rec_silent += (unsigned)(missed > 1000 ? 1000 : missed);
	s->rec_heard = false;
	if (s->rec_silent >= s->rec_silence_ticks)
		ep_record_end(t, s, ENDPOINT_END_SILENCE, 0);
}
