/*
 * rtppkt — RTP header parse and write (see rtppkt.h).
 */
#include <errno.h>

#include "media/rtppkt.h"

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

int rtppkt_parse(struct rtppkt *p, const uint8_t *buf, size_t len)
{
	size_t off, pad = 0;
	unsigned cc;

	if (!p || !buf || len < RTPPKT_HDR || (buf[0] >> 6) != 2)
		return EBADMSG;
	/* PT 72..76 with the marker bit is RTCP sent to the RTP port
	 * (RFC 5761 4): never audio */
	if ((buf[1] & 0x7f) >= 72 && (buf[1] & 0x7f) <= 76)
		return EBADMSG;
	cc = buf[0] & 0x0f;
	off = RTPPKT_HDR + 4u * cc;
	if (off > len)
		return EBADMSG;
	if (buf[0] & 0x10) {
		size_t ext;

		if (len - off < 4)
			return EBADMSG;
		ext = 4u * rd16(buf + off + 2);
		off += 4;
		if (ext > len - off)
			return EBADMSG;
		off += ext;
	}
	if (buf[0] & 0x20) {
		/* the last octet counts the padding, itself included */
		pad = buf[len - 1];
		if (pad == 0 || pad > len - off)
			return EBADMSG;
	}
	p->marker = (buf[1] & 0x80) != 0;
	p->pt = buf[1] & 0x7f;
	p->seq = rd16(buf + 2);
	p->ts = rd32(buf + 4);
	p->ssrc = rd32(buf + 8);
	p->payload = buf + off;
	p->plen = len - off - pad;
	return 0;
}

void rtppkt_write(uint8_t *buf, uint8_t pt, bool marker, uint16_t seq,
		  uint32_t ts, uint32_t ssrc)
{
	buf[0] = 0x80;
	buf[1] = (uint8_t)((marker ? 0x80 : 0) | (pt & 0x7f));
	buf[2] = (uint8_t)(seq >> 8);
	buf[3] = (uint8_t)seq;
	buf[4] = (uint8_t)(ts >> 24);
	buf[5] = (uint8_t)(ts >> 16);
	buf[6] = (uint8_t)(ts >> 8);
	buf[7] = (uint8_t)ts;
	buf[8] = (uint8_t)(ssrc >> 24);
	buf[9] = (uint8_t)(ssrc >> 16);
	buf[10] = (uint8_t)(ssrc >> 8);
	buf[11] = (uint8_t)ssrc;
}
