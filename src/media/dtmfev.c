/*
 * dtmfev — RFC 4733 DTMF events (see dtmfev.h).
 */
#include <errno.h>

#include "media/dtmfev.h"

int dtmfev_parse(struct dtmfev *e, const uint8_t *p, size_t len)
{
	if (!e || !p || len < DTMFEV_LEN)
		return EBADMSG;
	e->event = p[0];
	e->end = (p[1] & 0x80) != 0;
	e->volume = p[1] & 0x3f;
	e->duration = (uint16_t)(p[2] << 8 | p[3]);
	return 0;
}

char dtmfev_digit(uint8_t event)
{
	static const char digits[] = "0123456789*#ABCD";

	return event < 16 ? digits[event] : 0;
}

/* Marks the event in progress reported; returns its digit. */
static char report(struct dtmfev_rx *rx)
{
	rx->reported = true;
	rx->have_last = true;
	rx->last_ts = rx->ts;
	return dtmfev_digit(rx->event);
}

char dtmfev_rx_input(struct dtmfev_rx *rx, uint32_t ts,
		     const struct dtmfev *e, char *second)
{
	char first = 0;

	*second = 0;
	if (!dtmfev_digit(e->event))
		return 0;
	if (rx->active && ts == rx->ts) {
		/* more of the event in progress */
		if (rx->reported)
			return 0;
		if (e->end || e->duration >= DTMFEV_MAX_DUR) {
			rx->active = false;
			return report(rx);
		}
		return 0;
	}
	/* repeats of an end already reported (its event no longer in
	 * progress) */
	if (rx->have_last && ts == rx->last_ts)
		return 0;
	/* a new event: the previous one lost its end packets */
	if (rx->active && !rx->reported)
		first = report(rx);
	rx->active = true;
	rx->reported = false;
	rx->ts = ts;
	rx->event = e->event;
	if (e->end || e->duration >= DTMFEV_MAX_DUR) {
		char d;

		rx->active = false;
		d = report(rx);
		if (first) {
			*second = d;
			return first;
		}
		return d;
	}
	return first;
}
