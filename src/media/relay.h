/*
 * relay — the RTP/RTCP media relay (media plane).
 *
 * A relay owns a range of UDP ports on one local address and moves the
 * packets of anchored calls between two legs on its own media thread(s)
 * (epoll, recvmmsg/sendmmsg batches). The owner (the SIP loop) drives it
 * through the functions below, which only post messages to the media
 * threads; the media threads answer with events the owner drains from
 * relay_event_fd(). No session structure is ever shared between threads.
 *
 * Include the libre headers first (re_types.h and re_sa.h, or re.h, or
 * registrar/registrar.h which brings them): libre's headers have no
 * include guards, so this one does not include them itself.
 *
 * Threading: every function here must be called from one thread, the
 * owner's (the SIP loop), except relay_threads_cpu(). See
 * docs/internals/relay.md for the rules (latching, strict source, the
 * re-learning window, timeouts, what each counter means).
 */
#ifndef BULWARK_MEDIA_RELAY_H
#define BULWARK_MEDIA_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct relay;

/* Bounds fixed at build time. */
#define RELAY_MAX_THREADS   16
#define RELAY_MAX_PKT       1500    /* larger datagrams are dropped */
#define RELAY_MIN_RTP       12      /* fixed RTP header */
#define RELAY_MIN_RTCP      8       /* RTCP header + sender SSRC */
#define RELAY_SRTP_KEY      44      /* srtp: room for a master key||salt
				     * (media/srtp_ctx.h SRTPC_KEY_MAX) */

struct relay_conf {
	struct sa   local;        /* address the ports are bound on (port
				   * ignored); unset = 0.0.0.0 */
	uint16_t    port_min;     /* first port of the range (even), 10000 */
	uint16_t    port_max;     /* last port of the range, 20000 */
	unsigned    threads;      /* media threads, 1 .. RELAY_MAX_THREADS */
	unsigned    max_sessions; /* bound on live sessions; 0 = what the
				   * range holds (two port pairs each) */
	unsigned    timeout_ms;   /* no media from either leg for this long
				   * (not while on hold) → RELAY_EV_TIMEOUT;
				   * 60,000; 0 = never */
	unsigned    relearn_ms;   /* re-learning window after
				   * relay_leg_relearn(), 2,000 */
	unsigned    notify_ms;    /* at most one RELAY_EV_STRICT_DROP per
				   * leg per this period, 5,000 */
	int         tos;          /* IP TOS/traffic class of relayed
				   * packets; 0xb8 (EF), -1 = leave */
	bool        epoll_only;   /* false: io_uring where the build and
				   * the kernel have it, else epoll;
				   * true: epoll (tests of both paths) */
};

/* The defaults above. */
void relay_conf_default(struct relay_conf *conf);

/* Creates a relay: checks the configuration, starts its media threads.
 * Several relays may live in one process (each with its own range).
 * Returns 0, EINVAL for a bad configuration (odd or reversed range,
 * fewer than two port pairs, thread count), or an errno from
 * pthread/epoll/eventfd. */
int relay_alloc(struct relay **rp, const struct relay_conf *conf);

/* Stops the media threads, closes every socket, frees everything.
 * Pending events are discarded. Accepts NULL; returns NULL. */
struct relay *relay_free(struct relay *r);

enum relay_leg { RELAY_LEG_A = 0, RELAY_LEG_B = 1 };

/* What one leg tells the relay (from its SDP and its signalling). */
struct relay_leg_conf {
	struct sa rtp;      /* remote RTP address from SDP (c= and m=);
			     * unset = not known yet: nothing is sent to
			     * the leg and, without nat, nothing from it
			     * is accepted */
	struct sa rtcp;     /* remote RTCP address (a=rtcp); unset = the
			     * RTP address with port + 1 */
	bool      nat;      /* the extension is behind NAT: latch onto the
			     * source of its first packets, then strict
			     * source on that address */
	struct sa latch_from; /* with nat: only latch from this IP (port
			     * ignored), e.g. the source of the leg's SIP
			     * messages; unset = any IP */
	struct sa hushed;   /* packets from this IP (port ignored) that the
			     * leg does not accept are dropped quietly:
			     * counted in drop_hushed, not drop_source, no
			     * event. Music on hold (issue 13): the holder's
			     * phone while an endpoint plays on its side.
			     * unset = none */
	/* srtp (issue 15): SRTP on this leg (docs/internals/srtp.md).
	 * srtp_suite 0 (enum srtpc_suite): plain RTP. srtp_rx: the master
	 * key||salt the phone sends with (its a=crypto); srtp_tx: ours
	 * (the a=crypto the PBX sent it). Every packet from the phone is
	 * authenticated before it may latch or be forwarded; every packet
	 * towards it is protected. The same suite and keys again keep the
	 * contexts (roll-over counters, replay windows). */
	uint8_t   srtp_suite;
	uint8_t   srtp_rx[RELAY_SRTP_KEY];
	uint8_t   srtp_tx[RELAY_SRTP_KEY];
};

/* Counters of one leg. "in" = from the leg's phone to the relay, "out" =
 * from the relay to the leg's phone. RTP and RTCP together, except
 * rtp_* (the stream the phone sends, from RTP sequence numbers). */
struct relay_leg_stats {
	uint64_t in_pkts, in_bytes;     /* accepted from the phone */
	uint64_t out_pkts, out_bytes;   /* sent to the phone */
	uint64_t drop_source;    /* wrong source (strict source, injection) */
	uint64_t drop_early;     /* a leg without nat whose address is not
				  * known yet (its answer is still on the
				  * way): dropped, not counted as injection */
	uint64_t drop_malformed; /* too short, too long, not RTP/RTCP v2 */
	uint64_t drop_hushed;    /* from the leg conf's hushed address */
	uint64_t drop_nodest;    /* accepted but the other leg has no address
				  * yet: not forwarded */
	uint64_t send_errors;    /* sendmmsg refused (counted, not retried);
				  * srtp: also a packet that could not be
				  * protected towards the phone */
	uint64_t srtp_auth_fail; /* srtp: from an SRTP phone, a packet whose
				  * tag failed (forged, wrong key):
				  * dropped, never latched */
	uint64_t srtp_replay;    /* srtp: replayed or older than the replay
				  * window (128): dropped */
	uint64_t rtp_expected;   /* packets expected from sequence numbers */
	uint64_t rtp_lost;       /* expected - received, per SSRC run, >= 0 */
	uint64_t last_seen_ms;   /* monotonic ms of the last accepted packet,
				  * 0 = never */
	struct sa rtp_src;       /* latched (or SDP) source of RTP, RTCP */
	struct sa rtcp_src;
};

/* The ports of one leg: what goes into the SDP sent to that leg. */
struct relay_ports {
	uint16_t rtp;   /* even */
	uint16_t rtcp;  /* rtp + 1 */
};

/* Creates a session with two legs, each given a local port pair from the
 * range. tag is the owner's, echoed in every event of the session.
 * On success sets *idp and ports[RELAY_LEG_A], ports[RELAY_LEG_B].
 * Returns 0; ENOSPC when the range has no two free pairs (or
 * max_sessions live sessions exist); EAGAIN when the media thread's
 * queue is full; an errno from socket/bind. */
int relay_session_create(struct relay *r, uint64_t tag, uint32_t *idp,
			 struct relay_ports ports[2]);

/* Sets or updates what a leg's SDP (and signalling) says. For a nat leg
 * already latched, the latched addresses stay: call relay_leg_relearn()
 * to allow a move. Returns 0, ENOENT (no such session), EINVAL (address
 * family other than the relay's), EAGAIN (queue full). */
int relay_leg_set(struct relay *r, uint32_t id, enum relay_leg leg,
		  const struct relay_leg_conf *lc);

/* Opens the re-learning window of a nat leg (after a new offer/answer):
 * for relearn_ms, the first packet from a new source (within latch_from)
 * moves the latch. Outside the window a latched leg never moves.
 * Returns 0, ENOENT, EAGAIN. */
int relay_leg_relearn(struct relay *r, uint32_t id, enum relay_leg leg);

/* Hold on/off: no timeout while on hold (packets still relayed). Resume
 * restarts the inactivity clock. Returns 0, ENOENT, EAGAIN. */
int relay_session_hold(struct relay *r, uint32_t id, bool hold);

/* Call recording (media/callrec.h): the session's accepted RTP of both
 * legs is copied to tap on its media thread (callrec_tap_put; leg A is
 * side 0, leg B side 1) from this command on. The relay holds the tap's
 * relay reference and releases it (callrec_tap_release) when a later
 * relay_session_tap() replaces it (tap NULL: stop copying) or the
 * session closes. On an error the relay took nothing: the caller
 * releases the reference itself. Returns 0, ENOENT, EAGAIN. */
struct callrec_tap;
int relay_session_tap(struct relay *r, uint32_t id, struct callrec_tap *tap);

/* Asks for the counters: answered by a RELAY_EV_COUNTERS event.
 * Returns 0, ENOENT, EAGAIN. */
int relay_session_query(struct relay *r, uint32_t id);

/* Destroys a session: its port pairs return to the range at once (the
 * media thread closes the sockets when it reads the message, before the
 * RELAY_EV_DESTROYED event carrying the final counters). Returns 0 or
 * ENOENT. Never fails for a live session (the message has a reserved
 * place). */
int relay_session_destroy(struct relay *r, uint32_t id);

enum relay_ev_type {
	RELAY_EV_TIMEOUT = 1,  /* no media for timeout_ms (once per idle
				* period); the owner decides (ends the call) */
	RELAY_EV_DESTROYED,    /* sockets closed; final counters (CDR) */
	RELAY_EV_COUNTERS,     /* answer to relay_session_query() */
	RELAY_EV_LATCHED,      /* a nat leg latched (or moved): addr, rtcp */
	RELAY_EV_STRICT_DROP,  /* packets from a wrong source were dropped:
				* addr = the last such source, rate-limited
				* (notify_ms); the counters carry totals */
};

struct relay_event {
	enum relay_ev_type type;
	uint32_t id;
	uint64_t tag;
	enum relay_leg leg;              /* LATCHED, STRICT_DROP */
	bool rtcp;                       /* LATCHED, STRICT_DROP */
	struct sa addr;                  /* LATCHED, STRICT_DROP */
	struct relay_leg_stats stats[2]; /* every event */
};

/* A file descriptor that is readable while events are pending (an
 * eventfd): the owner adds it to its loop (libre fd_listen) and calls
 * relay_events_poll() when it fires. */
int relay_event_fd(const struct relay *r);

typedef void (relay_event_h)(const struct relay_event *ev, void *arg);

/* Calls h for up to max pending events, oldest first; returns how many.
 * Events that found the queue full were dropped and are counted in
 * relay_events_lost(). */
size_t relay_events_poll(struct relay *r, relay_event_h *h, void *arg,
			 size_t max);
uint64_t relay_events_lost(const struct relay *r);

/* Port pairs of the range: total and free now. */
void relay_ports_count(const struct relay *r, unsigned *total,
		       unsigned *nfree);

/* The relay's port pool lent to a media endpoint (endpoint.h, struct
 * endpoint_portsrc: take/give with arg = the relay), so that the PBX's
 * own legs use the one configured range. Owner thread only. take: 0 or
 * ENOSPC. */
int  relay_port_take(void *relay, int fds[2], uint16_t *rtp_port,
		     unsigned *handle);
void relay_port_give(void *relay, unsigned handle);

/* CPU time used so far by the relay's media threads, in ns (any thread
 * may call it). Returns 0 or an errno. */
int relay_threads_cpu(const struct relay *r, uint64_t *ns);

#endif
