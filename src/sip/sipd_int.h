/*
 * sipd internals shared with the fuzz harness and unit tests: run the
 * request handling without sockets, capturing what would be sent.
 */
#ifndef BULWARK_SIPD_INT_H
#define BULWARK_SIPD_INT_H

#include <stddef.h>
#include <stdint.h>

#include "sip/sipd.h"

struct sa;
struct snapshot;

typedef void (sipd_out_h)(enum sipd_tp tp, const struct sa *dst,
			  const char *buf, size_t len, void *arg);

/* A sipd without sockets: everything it would send goes to outh.
 * Applications register on it as on any sipd. Takes ownership of snap.
 * 0 or errno. */
int sipd_alloc_offline(struct sipd **sp, struct snapshot *snap,
		       sipd_out_h *outh, void *arg);

/* The transport entry point: one datagram (UDP) or one framed stream
 * message (TCP), as received from src. conn identifies the TCP connection
 * (0 for UDP). */
void sipd_input(struct sipd *sd, enum sipd_tp tp, const struct sa *src,
		uint64_t conn, const char *buf, size_t len);

/* Fixed clock for tests (unix seconds); 0 = real time. */
void sipd_set_clock(struct sipd *sd, int64_t now);

/* The address an offline sipd says it listens on (sipd_local_addr: Via,
 * Contact and SDP of what applications send); unset, a request an
 * application writes names port 0 and our own checks refuse it. */
void sipd_set_laddr(struct sipd *sd, const struct sa *laddr);

#endif
