/*
 * rtpfwd internals shared by the media thread's core (rtpfwd.c: session
 * state, packet checks, commands, the epoll loop) and its io_uring loop
 * (rtpfwd_uring.c). Media thread only; nothing here is public API.
 */
#ifndef BULWARK_MEDIA_RTPFWD_INT_H
#define BULWARK_MEDIA_RTPFWD_INT_H

#include <sys/socket.h>

#include "media/relay_int.h"

#define BATCH      32      /* packets per recvmmsg/sendmmsg */
/* srtp (issue 15): room behind a received packet for what protecting it
 * adds (media/srtp_ctx.h SRTPC_OVERHEAD); receives stay RELAY_MAX_PKT */
#define RELAY_SRTP_ROOM 24
#define RELAY_BUF  (RELAY_MAX_PKT + RELAY_SRTP_ROOM)

enum { K_RTP = 0, K_RTCP = 1 };

struct msess;

struct msock {
	int fd;
	struct msess *s;
	uint8_t leg, kind;
	bool peer_ok;             /* peer is where to send and the only
				   * source accepted (unless learning) */
	bool latched;             /* nat leg: peer learnt from a packet */
	bool queued;              /* in the thread's backlog */
	struct sa peer;
	uint64_t relearn_until;   /* ms; window after relay_leg_relearn */
};

/* One SSRC run of the stream a phone sends (RFC 3550 A.1, simplified). */
struct loss {
	bool started;
	uint32_t ssrc;
	uint16_t base, max;
	uint32_t cycles;
	uint64_t received;
};

struct mleg {
	struct msock sk[2];
	bool nat;
	bool latch_from_set;
	struct sa latch_from;
	bool hushed_set;             /* music on hold (relay_leg_conf) */
	struct sa hushed;
	struct relay_leg_stats st;   /* rtp_* hold the finished runs */
	struct loss loss;
	uint64_t next_notify;
	/* srtp (issue 15): srtp_on = the leg is SRTP; srtp NULL with
	 * srtp_on (contexts failed): nothing from or to it is relayed */
	bool srtp_on;
	struct srtp_leg *srtp;
};

struct msess {
	struct msess *next_dead;     /* closed, freed at the end of a round */
	bool dead;
	uint32_t id;
	uint64_t tag;
	unsigned live_idx;
	bool hold;
	bool timeout_sent;
	uint64_t idle_from;          /* creation or resume */
	struct mleg leg[2];
	struct callrec_tap *tap;     /* call recording, NULL: none */
};

struct mthread {
	pthread_t tid;
	clockid_t cpu;
	int ep;
	struct ring *cmds;
	struct mthread_conf conf;
	struct msess **slots;        /* by id slot */
	struct msess **live;         /* dense, for the timeout scan */
	unsigned nlive;
	struct msess *dead;          /* closed this round */
	uint64_t now, next_tick;
	/* edge-triggered sockets a full batch did not drain: read again
	 * next round (one batch each per round, so that a flooded socket
	 * cannot starve the others); [cur] is being read, [!cur] fills */
	struct msock **backlog[2];
	unsigned nbacklog[2], cur;
	struct mmsghdr rx[BATCH], tx[BATCH];
	struct iovec rxiov[BATCH], txiov[BATCH];
	struct sa rxaddr[BATCH];
	uint8_t buf[BATCH][RELAY_BUF];          /* srtp: with room */
	struct cmd cbuf[64];
	bool epoll_only;             /* relay_conf.epoll_only */
	struct uring *uring;         /* rtpfwd_uring.c; NULL: epoll */
};

struct uring;

/* Checks one datagram p[*len] that arrived on k from src (trunc: it was
 * larger than RELAY_MAX_PKT) and counts it: returns the socket it leaves
 * through (its peer is the destination), or NULL when it is dropped.
 * srtp: p has room for RELAY_BUF octets; a packet from or to an SRTP leg
 * is transformed in place and *len is what leaves. */
struct msock *fwd_packet(struct mthread *m, struct msock *k, uint8_t *p,
			 size_t *len, bool trunc, const struct sa *src);
/* Counts the result of a send through o (bytes, or -errno). */
void fwd_sent(struct msock *o, long res);
/* The live session of this id, or NULL. */
struct msess *fwd_find(struct mthread *m, uint32_t id);
/* Commands queued by the owner; *stop when told to stop. */
void fwd_drain_cmds(struct mthread *m, bool *stop);
/* End of a round: frees the sessions closed in it, scans the timeouts
 * when their tick is due. */
void fwd_round_end(struct mthread *m);
/* Closes every session (the thread is stopping). */
void fwd_close_all(struct mthread *m);

#ifdef HAVE_LIBURING
/* Runs the thread on io_uring until CMD_STOP. Returns 0 once stopped, or
 * an errno when io_uring cannot be set up (nothing done: the caller runs
 * the epoll loop instead). */
int  fwd_uring_run(struct mthread *m);
/* Starts receiving on the four sockets of a new session. */
void fwd_uring_arm(struct mthread *m, struct msess *s);
/* Cancels what is in flight on the session's sockets, before they are
 * closed (an armed receive would keep a closed socket's port bound). */
void fwd_uring_cancel(struct mthread *m, struct msess *s);
#endif

#endif
