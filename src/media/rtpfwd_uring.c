/*
 * rtpfwd_uring — the media thread's loop on io_uring. A multishot
 * recvmsg is armed on every socket of the thread's sessions; they draw
 * from one ring of provided buffers. An accepted packet leaves in a
 * sendmsg from the buffer it arrived in, and the buffer goes back to the
 * ring when that send completes. A round is one io_uring_enter (submit
 * what the last round queued, wait for completions) where the epoll loop
 * makes an epoll_wait plus a recvmmsg and a sendmmsg per ready socket.
 * The packet checks and the session state are rtpfwd.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <liburing.h>

#include "common/log.h"
#include "media/rtpfwd_int.h"

#define NBUF     2048u    /* provided buffers, a power of two */
#define NAMELEN  ((unsigned)sizeof(struct sockaddr_in6))
#define BUF_SZ   ((unsigned)sizeof(struct io_uring_recvmsg_out) + NAMELEN + \
		  RELAY_MAX_PKT)
/* srtp: each buffer has RELAY_SRTP_ROOM behind what the kernel may fill
 * (BUF_SZ), for what protecting a packet adds */
#define STRIDE   (BUF_SZ + RELAY_SRTP_ROOM)
#define BGID     0
#define SQ_SIZE  1024u
/* every completion holds a buffer (receives, sends: NBUF at most) or
 * ends a request (one per socket, cancels): the kernel keeps any excess
 * on its overflow list, bounded by the requests in flight */
#define CQ_SIZE  16384u
#define MAX_CQE  4096u    /* completions handled per round */

/* user_data: the kind of request in the top two bits; the session id,
 * the leg and kind of the socket, and for a send its buffer. */
enum { U_CANCEL = 0, U_RECV = 1, U_SEND = 2, U_CMD = 3 };

#define UD(t, id, leg, kind, bid) ((uint64_t)(t) << 62 | \
	(uint64_t)(bid) << 34 | (uint64_t)(id) << 2 | \
	(uint64_t)(leg) << 1 | (uint64_t)(kind))
#define UD_TYPE(u)  ((unsigned)((u) >> 62))
#define UD_BID(u)   ((unsigned)((u) >> 34) & (NBUF - 1))
#define UD_ID(u)    ((uint32_t)((u) >> 2))
#define UD_LEG(u)   ((unsigned)((u) >> 1) & 1)
#define UD_KIND(u)  ((unsigned)(u) & 1)

struct uring {
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	uint8_t *bufs;
	unsigned given;            /* buffers added since the last advance */
	bool cmd_armed;
	struct msghdr rmsg;        /* layout of every receive */
	uint64_t *pend;            /* sockets to (re-)arm, as user_data */
	unsigned npend, pend_cap;
	struct msghdr smsg[NBUF];  /* per buffer, while its send is out */
	struct iovec siov[NBUF];
	struct sa sdst[NBUF];
};

static struct io_uring_sqe *sqe_get(struct uring *u)
{
	struct io_uring_sqe *q = io_uring_get_sqe(&u->ring);

	if (!q) {
		(void)io_uring_submit(&u->ring);
		q = io_uring_get_sqe(&u->ring);
	}
	return q;
}

static void buf_give(struct uring *u, unsigned bid)
{
	io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * STRIDE, BUF_SZ,
			      (unsigned short)bid, io_uring_buf_ring_mask(NBUF),
			      (int)u->given++);
}

static struct msock *sock_of(struct mthread *m, uint64_t ud)
{
	struct msess *s = fwd_find(m, UD_ID(ud));

	return s ? &s->leg[UD_LEG(ud)].sk[UD_KIND(ud)] : NULL;
}

/* ---- requests ---------------------------------------------------------- */

static void pend(struct uring *u, struct msock *k)
{
	if (k->queued || u->npend >= u->pend_cap)
		return;
	k->queued = true;
	u->pend[u->npend++] = UD(U_RECV, k->s->id, k->leg, k->kind, 0);
}

static bool arm(struct uring *u, struct msock *k)
{
	struct io_uring_sqe *q = sqe_get(u);

	if (!q)
		return false;
	io_uring_prep_recvmsg_multishot(q, k->fd, &u->rmsg, 0);
	q->flags |= IOSQE_BUFFER_SELECT;
	q->buf_group = BGID;
	io_uring_sqe_set_data64(q, UD(U_RECV, k->s->id, k->leg, k->kind, 0));
	return true;
}

/* Arms the sockets waiting for it (new, or whose receive ended); an entry
 * whose session is gone is dropped, one that finds no room stays. */
static void arm_pending(struct mthread *m, struct uring *u)
{
	unsigned i, keep = 0;

	for (i = 0; i < u->npend; i++) {
		struct msock *k = sock_of(m, u->pend[i]);

		if (!k || k->fd < 0)
			continue;
		if (arm(u, k))
			k->queued = false;
		else
			u->pend[keep++] = u->pend[i];
	}
	u->npend = keep;
}

static void arm_cmds(struct mthread *m, struct uring *u)
{
	struct io_uring_sqe *q = sqe_get(u);

	if (!q)
		return;
	io_uring_prep_poll_multishot(q, m->cmds->efd, POLLIN);
	io_uring_sqe_set_data64(q, UD(U_CMD, 0, 0, 0, 0));
	u->cmd_armed = true;
}

static void send_from(struct uring *u, struct msock *o, unsigned bid,
		      void *p, size_t len)
{
	struct io_uring_sqe *q = sqe_get(u);
	struct msghdr *mh = &u->smsg[bid];

	if (!q) {
		fwd_sent(o, -ENOBUFS);
		buf_give(u, bid);
		return;
	}
	u->sdst[bid] = o->peer;
	u->siov[bid].iov_base = p;
	u->siov[bid].iov_len = len;
	memset(mh, 0, sizeof(*mh));
	mh->msg_name = &u->sdst[bid].u;
	mh->msg_namelen = o->peer.len;
	mh->msg_iov = &u->siov[bid];
	mh->msg_iovlen = 1;
	io_uring_prep_sendmsg(q, o->fd, mh, 0);
	io_uring_sqe_set_data64(q, UD(U_SEND, o->s->id, o->leg, o->kind, bid));
}

void fwd_uring_arm(struct mthread *m, struct msess *s)
{
	unsigned l, k;

	for (l = 0; l < 2; l++)
		for (k = 0; k < 2; k++)
			pend(m->uring, &s->leg[l].sk[k]);
}

void fwd_uring_cancel(struct mthread *m, struct msess *s)
{
	struct uring *u = m->uring;
	unsigned l, k, n = 0;

	for (l = 0; l < 2; l++)
		for (k = 0; k < 2; k++) {
			struct io_uring_sqe *q;

			if (s->leg[l].sk[k].fd < 0)
				continue;
			q = sqe_get(u);
			if (!q)
				continue;
			io_uring_prep_cancel_fd(q, s->leg[l].sk[k].fd,
						IORING_ASYNC_CANCEL_ALL);
			io_uring_sqe_set_data64(q, UD(U_CANCEL, 0, 0, 0, 0));
			n++;
		}
	/* before the caller closes them: a cancel names the fd */
	if (n)
		(void)io_uring_submit(&u->ring);
}

/* ---- completions ------------------------------------------------------- */

static void on_recv(struct mthread *m, struct uring *u,
		    const struct io_uring_cqe *c)
{
	struct msock *k = sock_of(m, c->user_data), *o;
	struct io_uring_recvmsg_out *out;
	unsigned bid = c->flags >> IORING_CQE_BUFFER_SHIFT;
	struct sa src;
	uint8_t *buf;
	size_t len;

	if (!(c->flags & IORING_CQE_F_MORE) && k && k->fd >= 0 &&
	    c->res != -ECANCELED)
		pend(u, k);             /* ended (no buffer, overflow) */
	if (!(c->flags & IORING_CQE_F_BUFFER))
		return;
	buf = u->bufs + (size_t)bid * STRIDE;
	out = c->res > 0 && k
	      ? io_uring_recvmsg_validate(buf, c->res, &u->rmsg) : NULL;
	if (!out) {
		buf_give(u, bid);
		return;
	}
	memset(&src, 0, sizeof(src));
	src.len = out->namelen < NAMELEN ? out->namelen : NAMELEN;
	memcpy(&src.u, io_uring_recvmsg_name(out), src.len);
	len = io_uring_recvmsg_payload_length(out, c->res, &u->rmsg);
	o = fwd_packet(m, k, io_uring_recvmsg_payload(out, &u->rmsg), &len,
		       out->flags & MSG_TRUNC, &src);
	if (!o) {
		buf_give(u, bid);
		return;
	}
	send_from(u, o, bid, io_uring_recvmsg_payload(out, &u->rmsg), len);
}

static void on_cqe(struct mthread *m, struct uring *u,
		   const struct io_uring_cqe *c)
{
	struct msock *o;

	switch (UD_TYPE(c->user_data)) {
	case U_RECV:
		on_recv(m, u, c);
		break;
	case U_SEND:
		buf_give(u, UD_BID(c->user_data));
		o = sock_of(m, c->user_data);
		if (o)
			fwd_sent(o, c->res);
		break;
	case U_CMD:
		if (!(c->flags & IORING_CQE_F_MORE))
			u->cmd_armed = false;
		break;
	default:
		break;
	}
}

/* One round's completions: the commands first (a re-learning window or a
 * new address the owner sent before a packet arrived applies to it),
 * then the packets. */
static void reap(struct mthread *m, struct uring *u, bool *stop)
{
	struct io_uring_cqe *c;
	unsigned head, n = 0, i = 0;
	bool cmds = false;

	io_uring_for_each_cqe(&u->ring, head, c) {
		if (n == MAX_CQE)
			break;
		if (UD_TYPE(c->user_data) == U_CMD)
			cmds = true;
		n++;
	}
	if (cmds)
		fwd_drain_cmds(m, stop);
	io_uring_for_each_cqe(&u->ring, head, c) {
		if (i == n)
			break;
		on_cqe(m, u, c);
		i++;
	}
	io_uring_cq_advance(&u->ring, n);
}

/* ---- set-up and the loop ----------------------------------------------- */

static void uring_free(struct uring *u, bool ring_up)
{
	if (ring_up)
		io_uring_queue_exit(&u->ring);  /* cancels, waits */
	free(u->br);
	free(u->bufs);
	free(u->pend);
	free(u);
}

static int uring_setup(struct mthread *m, struct uring **up)
{
	struct io_uring_params p;
	struct io_uring_buf_reg reg;
	struct uring *u;
	unsigned i;
	int err;

	u = calloc(1, sizeof(*u));
	if (!u)
		return ENOMEM;
	u->pend_cap = 4u * m->conf.max_sessions;
	u->pend = calloc(u->pend_cap, sizeof(*u->pend));
	u->bufs = malloc((size_t)NBUF * STRIDE);
	if (posix_memalign((void **)&u->br, 4096,
			   NBUF * sizeof(struct io_uring_buf)))
		u->br = NULL;
	if (!u->pend || !u->bufs || !u->br) {
		uring_free(u, false);
		return ENOMEM;
	}
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP |
		  IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
		  IORING_SETUP_DEFER_TASKRUN;
	p.cq_entries = CQ_SIZE;
	err = -io_uring_queue_init_params(SQ_SIZE, &u->ring, &p);
	if (err) {
		uring_free(u, false);
		return err;
	}
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uintptr_t)u->br;
	reg.ring_entries = NBUF;
	reg.bgid = BGID;
	err = -io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (err) {
		uring_free(u, true);
		return err;
	}
	io_uring_buf_ring_init(u->br);
	for (i = 0; i < NBUF; i++)
		buf_give(u, i);
	io_uring_buf_ring_advance(u->br, (int)u->given);
	u->given = 0;
	u->rmsg.msg_namelen = NAMELEN;
	*up = u;
	return 0;
}

int fwd_uring_run(struct mthread *m)
{
	struct uring *u;
	bool stop = false;
	int err;

	err = uring_setup(m, &u);
	if (err)
		return err;
	m->uring = u;
	log_info("relay", "media thread: relaying on io_uring");
	arm_cmds(m, u);
	while (!stop) {
		struct __kernel_timespec ts = {0, 0};
		struct io_uring_cqe *c;

		if (!u->cmd_armed)
			arm_cmds(m, u);
		if (m->next_tick > m->now)
			ts.tv_nsec = (long long)(m->next_tick - m->now) * 1000000;
		(void)io_uring_submit_and_wait_timeout(&u->ring, &c, 1, &ts,
						       NULL);
		m->now = relay_now_ms();
		reap(m, u, &stop);
		/* before the round ends: a session closed in it is still
		 * in memory, its sockets say fd -1 */
		arm_pending(m, u);
		if (u->given) {
			io_uring_buf_ring_advance(u->br, (int)u->given);
			u->given = 0;
		}
		fwd_round_end(m);
	}
	fwd_close_all(m);
	m->uring = NULL;
	uring_free(u, true);
	return 0;
}
