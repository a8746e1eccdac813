/*
 * rtppkt — the RTP fixed header (RFC 3550 5.1) of packets the media
 * endpoint receives and sends. Parsing is bounded by the datagram: CSRC
 * list, header extension and padding are checked against its length and
 * never read past it. No allocation, no state.
 */
#ifndef BULWARK_MEDIA_RTPPKT_H
#define BULWARK_MEDIA_RTPPKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTPPKT_HDR 12   /* fixed header, what rtppkt_write() writes */

struct rtppkt {
	uint8_t  pt;
	bool     marker;
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	const uint8_t *payload;  /* inside the parsed buffer */
	size_t   plen;
};

/* Parses one datagram. Returns 0, or EBADMSG for anything but a
 * well-formed RTP version 2 packet (too short, CSRC list, extension or
 * padding beyond its end, an RTCP packet type 72..76 in the PT field). */
int rtppkt_parse(struct rtppkt *p, const uint8_t *buf, size_t len);

/* Writes a fixed header (no CSRC, no extension) into buf, which must hold
 * RTPPKT_HDR bytes. */
void rtppkt_write(uint8_t *buf, uint8_t pt, bool marker, uint16_t seq,
		  uint32_t ts, uint32_t ssrc);

#endif
