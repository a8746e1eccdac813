/*
 * transport — the pure parts of sipd's transports, shared with the fuzz
 * harness (tests/fuzz/fuzz_tcpframe.c) and unit tests: how a TCP byte
 * stream is cut into SIP messages. No sockets, no state beyond what the
 * caller passes in.
 */
#ifndef BULWARK_SIP_TRANSPORT_H
#define BULWARK_SIP_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

/* What the start of a TCP stream holds (sipd_tcp_frame). */
enum sipd_frame {
	SIPD_FRAME_MORE = 0,  /* no whole message yet: keep the octets */
	SIPD_FRAME_SKIP,      /* one CR or LF between messages: drop it */
	SIPD_FRAME_PONG,      /* one CR or LF that completes a CRLFCRLF
			       * keep-alive ping (RFC 5626 4.4.1): drop it,
			       * answer CRLF */
	SIPD_FRAME_MSG,       /* the first *n octets are one message */
	SIPD_FRAME_BAD,       /* unframeable (head over SIPMSG_MAX_LEN, bad
			       * or too large Content-Length): answer the
			       * first *n octets (the head; 0: nothing) with
			       * 400, then close the connection */
};

/* Classify the start of the stream p[0..len). *crlf counts the CR/LF
 * octets seen since the last message (start at 0, kept by the caller per
 * connection); *n is set to the octets the result covers (0 for MORE).
 * A caller drops *n octets after SKIP, PONG and MSG and calls again;
 * never reads beyond p[len). Same input, same answer, whatever was
 * received before: a stream cut anywhere frames the same. */
enum sipd_frame sipd_tcp_frame(const char *p, size_t len, uint8_t *crlf,
			       size_t *n);

#endif
