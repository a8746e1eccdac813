/*
 * relay internals shared by relay.c (control side, owner thread),
 * ports.c (port pool, owner thread) and rtpfwd.c (media threads).
 * Nothing here is public API.
 */
#ifndef BULWARK_MEDIA_RELAY_INT_H
#define BULWARK_MEDIA_RELAY_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <re_types.h>
#include <re_sa.h>

#include "media/relay.h"

/* ---- port pool (ports.c): owner thread only ---------------------------- */

/* Pairs (even RTP port, odd RTCP port) of [min, max], handed out in FIFO
 * order so that a pair just freed is the last to be reused (its sockets
 * are closed by a media thread a moment later; a pair whose bind fails
 * is skipped). */
struct ports {
	uint16_t  base;      /* first even port */
	unsigned  npairs;
	uint16_t *fifo;      /* free pair indexes, ring */
	unsigned  head, count;
	uint8_t  *used;      /* per pair: 1 = handed out */
	struct sa local;
	int       tos;
};

int  ports_init(struct ports *p, const struct sa *local, uint16_t min,
		uint16_t max, int tos);
void ports_fini(struct ports *p);
/* Takes a free pair and binds its two sockets (non-blocking). Sets
 * *pairp, fds[0] (RTP) and fds[1] (RTCP). Returns 0 or ENOSPC. */
int  ports_take(struct ports *p, unsigned *pairp, int fds[2]);
void ports_give(struct ports *p, unsigned pair);
uint16_t ports_port(const struct ports *p, unsigned pair);
/* The same as the callbacks of struct endpoint_portsrc (arg = the pool):
 * the endpoint takes its pairs through these, from its own pool or from
 * another one (the relay's) on the same owner thread. */
int  ports_src_take(void *arg, int fds[2], uint16_t *rtp_port,
		    unsigned *handle);
void ports_src_give(void *arg, unsigned handle);

/* ---- messages owner → media thread ------------------------------------- */

enum cmd_type {
	CMD_CREATE = 1, CMD_LEG_SET, CMD_RELEARN, CMD_HOLD, CMD_QUERY,
	CMD_DESTROY, CMD_STOP,
	CMD_TAP,                   /* call recording (callrec.h) */
};

struct cmd {
	enum cmd_type type;
	uint32_t id;
	uint64_t tag;
	int fds[2][2];             /* CREATE: [leg][rtp/rtcp] */
	enum relay_leg leg;
	bool flag;                 /* HOLD */
	struct relay_leg_conf lc;  /* LEG_SET */
	struct callrec_tap *tap;   /* TAP */
};

/* A bounded queue between threads (mutex + ring + eventfd). The mutex
 * guards only the ring's indexes and slots, for a few instructions; no
 * session state is ever behind it. */
struct ring {
	pthread_mutex_t mtx;
	void    *slots;
	size_t   size;       /* element size */
	unsigned cap, head, count;
	int      efd;        /* eventfd: readable while not empty */
};

int  ring_init(struct ring *q, size_t size, unsigned cap);
void ring_fini(struct ring *q);
/* Pushes a copy of *elem unless more than cap - reserve are queued.
 * Returns 0 or EAGAIN. */
int  ring_push(struct ring *q, const void *elem, unsigned reserve);
/* Pops up to max elements into out; returns how many. */
unsigned ring_pop(struct ring *q, void *out, unsigned max);

/* ---- media thread (rtpfwd.c) ------------------------------------------- */

struct mthread;

struct mthread_conf {
	unsigned index;
	unsigned max_sessions;   /* slots of the id space */
	unsigned timeout_ms, relearn_ms, notify_ms;
	bool epoll_only;         /* relay_conf.epoll_only */
	struct ring *events;     /* shared event ring (MPSC) */
	atomic_uint_fast64_t *events_lost;
};

int  mthread_start(struct mthread **mp, const struct mthread_conf *conf,
		   struct ring *cmds);
/* Sends CMD_STOP (bypassing bounds), joins, frees. */
void mthread_stop(struct mthread *m);
int  mthread_cpu(const struct mthread *m, uint64_t *ns);

/* Session ids: slot in the low 16 bits, generation above. */
#define RELAY_ID_SLOT(id) ((id) & 0xffffu)

/* Monotonic milliseconds (the clock of last_seen_ms). */
uint64_t relay_now_ms(void);

/* Same family, address and port. */
bool relay_sa_eq(const struct sa *a, const struct sa *b);
/* Same family and address (port ignored). */
bool relay_sa_ipeq(const struct sa *a, const struct sa *b);

#endif
