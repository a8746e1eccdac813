/*
 * callrec_mix — two G.711 streams on one stereo timeline (callrec_mix.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "media/callrec_mix.h"

int crmix_init(struct crmix *m, size_t win, uint64_t max_frames,
	       crmix_write_h *wh, void *arg)
{
	memset(m, 0, sizeof(*m));
	if (win < 160 || !wh)
		return EINVAL;
	m->buf = calloc(win, 2 * sizeof(*m->buf));
	if (!m->buf)
		return ENOMEM;
	m->win = win;
	m->max_frames = max_frames;
	m->wh = wh;
	m->arg = arg;
	return 0;
}

void crmix_fini(struct crmix *m)
{
	free(m->buf);
	m->buf = NULL;
}

/* Writes frames [base, target) and moves the window to start at target.
 * Frames beyond the window (a jump) are silence. The window holds audio
 * only below hi (everything from hi - base on is zero): only that part
 * moves, and only the part it leaves is cleared. */
static void flush_to(struct crmix *m, uint64_t target)
{
	static const int16_t zero[2 * 160];
	uint64_t n, inbuf, used, keep;

	if (target <= m->base)
		return;
	n = target - m->base;
	inbuf = n < m->win ? n : m->win;
	used = m->hi > m->base ? m->hi - m->base : 0;
	if (used > m->win)
		used = m->win;
	keep = used > inbuf ? used - inbuf : 0;
	if (!m->err)
		m->err = m->wh(m->buf, (size_t)inbuf, m->arg);
	for (uint64_t left = n - inbuf; left && !m->err;) {
		size_t k = left < 160 ? (size_t)left : 160;

		m->err = m->wh(zero, k, m->arg);
		left -= k;
	}
	if (keep)
		memmove(m->buf, m->buf + 2 * inbuf,
			(size_t)keep * 2 * sizeof(*m->buf));
	if (used > keep)
		memset(m->buf + 2 * keep, 0,
		       (size_t)(used - keep) * 2 * sizeof(*m->buf));
	m->base = target;
	if (m->hi < m->base)
		m->hi = m->base;
}

static void anchor(struct crmix *m, struct crmix_side *s, uint32_t ssrc,
		   uint32_t ts, uint64_t now)
{
	s->anch = true;
	s->ssrc = ssrc;
	s->ts0 = ts;
	s->pos0 = now;
	m->anchors++;
}

void crmix_put(struct crmix *m, unsigned side, uint32_t ssrc, uint32_t ts,
	       uint64_t at_ms, const int16_t *pcm, size_t n)
{
	struct crmix_side *s = &m->side[side & 1];
	uint64_t now = at_ms * (CRMIX_RATE / 1000), pos, end;
	int64_t d;

	if (!n)
		return;
	if (!s->anch || s->ssrc != ssrc)
		anchor(m, s, ssrc, ts, now);
	d = (int64_t)s->pos0 + (int32_t)(ts - s->ts0);
	if (d < 0 || (uint64_t)llabs(d - (int64_t)now) >
	    (uint64_t)CRMIX_STRAY_S * CRMIX_RATE) {
		anchor(m, s, ssrc, ts, now);
		d = (int64_t)now;
	}
	pos = (uint64_t)d;
	end = pos + n;
	if (m->max_frames && end > m->max_frames) {
		if (pos >= m->max_frames)
			return;
		n = (size_t)(m->max_frames - pos);
		end = m->max_frames;
	}
	if (end <= m->base) {
		m->late++;
		return;
	}
	if (end > m->base + m->win)
		flush_to(m, end - m->win);
	/* its head is already written, or it is longer than the window
	 * (win frames before its end are kept) */
	if (pos < m->base) {
		m->late++;
		pcm += m->base - pos;
		n -= (size_t)(m->base - pos);
		pos = m->base;
	}
	for (size_t i = 0; i < n; i++)
		m->buf[2 * (pos - m->base + i) + (side & 1)] = pcm[i];
	if (end > m->hi)
		m->hi = end;
	m->placed++;
}

int crmix_flush(struct crmix *m, size_t hold)
{
	if (m->hi > m->base + hold)
		flush_to(m, m->hi - hold);
	return m->err;
}

int crmix_finish(struct crmix *m)
{
	flush_to(m, m->hi);
	return m->err;
}
