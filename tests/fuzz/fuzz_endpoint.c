/*
 * fuzz_endpoint — libFuzzer target for what the media endpoint parses
 * from the network and from prompt files: RTP headers (src/media/
 * rtppkt.c), RFC 4733 event payloads and the digit receiver
 * (dtmfev.c), and WAV headers (wav.c).
 *
 * The input is a sequence of records: one octet of length L (0..255)
 * and L octets. Each record is parsed as an RTP packet; an accepted one
 * with payload type 101 is fed to the RFC 4733 parser and to one digit
 * receiver shared by the whole input, so that event sequences (repeats,
 * lost ends, new timestamps, long durations) are explored. The whole
 * input is also parsed as a WAV header. Checked:
 *  - an accepted RTP payload lies inside the record;
 *  - the receiver reports at most two digits per packet, only DTMF
 *    characters, never the same event timestamp twice in a row;
 *  - an accepted WAV header has its data inside the buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/dtmfev.h"
#include "media/rtppkt.h"
#include "media/wav.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_cleanup(void);

static void check_digit(char d)
{
	if (d && !strchr("0123456789*#ABCD", d))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dtmfev_rx rx;
	struct wav_info wi;
	size_t off = 0;
	unsigned reported = 0;
	uint32_t last_ts = 0;
	bool have_last = false;

	memset(&rx, 0, sizeof(rx));
	while (off < size) {
		size_t len = data[off++];
		struct rtppkt p;
		struct dtmfev e;
		char d, d2;

		if (len > size - off)
			len = size - off;
		if (rtppkt_parse(&p, data + off, len) == 0) {
			if (p.payload < data + off ||
			    p.payload + p.plen > data + off + len)
				abort();
			if (p.pt == 101 &&
			    dtmfev_parse(&e, p.payload, p.plen) == 0) {
				d = dtmfev_rx_input(&rx, p.ts, &e, &d2);
				check_digit(d);
				check_digit(d2);
				if (d2 && !d)
					abort();
				/* a digit is reported for a timestamp at
				 * most once in a row */
				if (d && !d2 && have_last &&
				    last_ts == p.ts && rx.last_ts == p.ts &&
				    reported)
					abort();
				if (d) {
					reported++;
					have_last = true;
					last_ts = rx.last_ts;
				}
			}
		}
		off += len;
	}
	if (wav_parse(&wi, data, size) == 0 &&
	    (wi.data_off > size || wi.channels != 1))
		abort();
	return 0;
}

void fuzz_cleanup(void)
{
}
