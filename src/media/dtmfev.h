/*
 * dtmfev — DTMF from RFC 4733 telephone-events: the 4-octet payload and
 * a receiver that turns a stream of event packets into digits.
 *
 * All packets of one event carry the RTP timestamp of its start; the
 * sender repeats them while the key is held and sends the end packet
 * (E bit) three times. The receiver reports each digit exactly once:
 *  - at its first end packet; repeats of that end are ignored;
 *  - or when a new event starts while the previous one never ended (its
 *    end packets were lost);
 *  - or when its duration reaches DTMFEV_MAX_DUR (a key "held" for ever
 *    is one digit, not a stream of them); later packets of that event
 *    are ignored.
 * An event other than a DTMF digit (0..15) is ignored. No allocation.
 */
#ifndef BULWARK_MEDIA_DTMFEV_H
#define BULWARK_MEDIA_DTMFEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DTMFEV_LEN     4
/* 8 s at 8 kHz: longer than any real key press, the field's range is
 * 65535 (8.2 s) */
#define DTMFEV_MAX_DUR 64000u

struct dtmfev {
	uint8_t  event;     /* 0..9, 10 = '*', 11 = '#', 12..15 = A..D */
	bool     end;
	uint8_t  volume;    /* -dBm0, 0..63 */
	uint16_t duration;  /* in RTP timestamp units */
};

/* Parses the first event of a payload (a sender may append redundant
 * blocks; they are ignored). Returns 0 or EBADMSG (shorter than 4). */
int dtmfev_parse(struct dtmfev *e, const uint8_t *p, size_t len);

/* The character of a DTMF event ("0123456789*#ABCD"), or 0. */
char dtmfev_digit(uint8_t event);

/* Receiver state of one stream (zero it to start). */
struct dtmfev_rx {
	bool     active;     /* an event is in progress */
	bool     reported;   /* ...and was reported already */
	uint32_t ts;         /* its RTP timestamp */
	uint8_t  event;
	bool     have_last;  /* last reported event, for repeats */
	uint32_t last_ts;
};

/* Feeds one event packet (RTP timestamp ts). Returns the digit now
 * complete, or 0. With a digit that closes an unfinished previous event
 * AND completes a new one in the same packet, *second gets the second
 * digit (else 0). */
char dtmfev_rx_input(struct dtmfev_rx *rx, uint32_t ts,
		     const struct dtmfev *e, char *second);

#endif
