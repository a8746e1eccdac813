/*
 * fuzz_tcpframe — libFuzzer target for the TCP framer (sipd_tcp_frame in
 * src/sip/transport.c): how a byte stream from the network is cut into
 * SIP messages, CRLF keep-alives and the point where a connection is
 * given up. The input is the stream; it is framed twice — whole, and
 * delivered in pieces whose sizes the input itself decides, the way a
 * connection buffers partial messages — and both must cut it the same.
 * Every verdict must cover octets that are there: a message never
 * empty, a CR/LF exactly one octet.
 *
 * An input that starts with 0x01 is the rest repeated to STREAM_BIG
 * octets, beyond SIPMSG_MAX_LEN: the oversized-head path.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip/transport.h"

#define STREAM_BIG 70000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_cleanup(void);

struct cut {
	enum sipd_frame kind;
	size_t off, n;
};

struct run {
	struct cut *cuts;
	size_t n_cuts, max_cuts;
	size_t limit;           /* octets + 1 */
	bool closed;
};

static void record(struct run *r, enum sipd_frame kind, size_t off,
		   size_t n)
{
	if (r->n_cuts >= r->limit)
		abort();   /* every verdict but MORE consumes an octet */
	if (r->n_cuts == r->max_cuts) {
		size_t m = r->max_cuts ? 2 * r->max_cuts : 64;
		struct cut *c = realloc(r->cuts, m * sizeof(*c));

		if (!c)
			abort();
		r->cuts = c;
		r->max_cuts = m;
	}
	r->cuts[r->n_cuts].kind = kind;
	r->cuts[r->n_cuts].off = off;
	r->cuts[r->n_cuts].n = n;
	r->n_cuts++;
}

/* Frame buf[0..len) (starting at stream offset base) until MORE or BAD;
 * returns the octets consumed. */
static size_t frame(struct run *r, const char *buf, size_t len, size_t base,
		    uint8_t *crlf)
{
	size_t pos = 0;

	while (pos < len && !r->closed) {
		size_t n = 99;
		enum sipd_frame k = sipd_tcp_frame(buf + pos, len - pos, crlf,
						   &n);

		if (n > len - pos || *crlf > 3)
			abort();
		switch (k) {
		case SIPD_FRAME_MORE:
			if (n)
				abort();
			return pos;
		case SIPD_FRAME_SKIP:
		case SIPD_FRAME_PONG:
			if (n != 1 || (buf[pos] != '\r' && buf[pos] != '\n'))
				abort();
			break;
		case SIPD_FRAME_MSG:
			if (!n)
				abort();
			break;
		case SIPD_FRAME_BAD:
			r->closed = true;
			break;
		default:
			abort();
		}
		record(r, k, base + pos, n);
		if (k != SIPD_FRAME_BAD)
			pos += n;
	}
	return pos;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole = { 0 }, parts = { 0 };
	const uint8_t *seed = data;
	size_t len = size, seedn = size, off, have = 0;
	char *s, *buf;
	uint8_t crlf = 0;
	uint32_t h = 2166136261u;

	if (!size)
		return 0;
	if (size > 1 && data[0] == 0x01) {
		seed = data + 1;
		seedn = size - 1;
		len = STREAM_BIG;
	}
	s = malloc(len);
	buf = malloc(len);
	whole.limit = parts.limit = len + 1;
	if (!s || !buf)
		abort();
	for (size_t i = 0; i < len; i++)
		s[i] = (char)seed[i % seedn];

	(void)frame(&whole, s, len, 0, &crlf);

	/* the same stream in pieces: a connection's buffer keeps what is
	 * not framed yet and the next piece is appended to it */
	crlf = 0;
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	off = 0;
	for (size_t pos = 0; pos < len && !parts.closed;) {
		size_t piece, used;

		h = h * 1103515245u + 12345u;
		piece = 1 + (h >> 16) % (len > 4096 ? 9000 : 97);
		if (piece > len - pos)
			piece = len - pos;
		memcpy(buf + have, s + pos, piece);
		have += piece;
		pos += piece;
		used = frame(&parts, buf, have, off, &crlf);
		memmove(buf, buf + used, have - used);
		have -= used;
		off += used;
	}

	if (whole.n_cuts != parts.n_cuts || whole.closed != parts.closed)
		abort();
	for (size_t i = 0; i < whole.n_cuts; i++)
		if (whole.cuts[i].kind != parts.cuts[i].kind ||
		    whole.cuts[i].off != parts.cuts[i].off ||
		    whole.cuts[i].n != parts.cuts[i].n)
			abort();
	free(whole.cuts);
	free(parts.cuts);
	free(buf);
	free(s);
	return 0;
}

void fuzz_cleanup(void)
{
}
