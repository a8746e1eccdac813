/*
 * rtpfwd — the relay's packet path, on a media thread of its own. Every
 * packet is checked (RTP/RTCP version 2, length, source) and an accepted
 * one leaves through the other leg's socket of the same kind. The I/O is
 * io_uring when the kernel allows it (rtpfwd_uring.c: receives armed on
 * every socket, all sends and receives of a round in one system call),
 * else the epoll loop here: one edge-triggered set over every socket of
 * the thread's sessions plus the command queue, a readable socket gives
 * one recvmmsg batch, the accepted packets leave in one sendmmsg batch.
 * Session state lives here only; the owner reaches it by message.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "common/log.h"
#include "media/callrec.h"
#include "media/rtpfwd_int.h"
#include "media/srtp_leg.h"

#define NEVENTS    128     /* epoll events per wake */
#define TICK_MS    100     /* timeout scan period */
#define MAX_DROPOUT 3000   /* RFC 3550 A.1: a forward jump this large */
#define MAX_MISORDER 100   /* starts a new run; late by less is reorder */

/* ---- events ------------------------------------------------------------ */

static uint64_t run_expected(const struct loss *x)
{
	if (!x->started)
		return 0;
	/* extended highest sequence number - base + 1 */
	return (uint64_t)x->cycles + x->max - x->base + 1;
}

static uint64_t run_lost(const struct loss *x)
{
	uint64_t e = run_expected(x);

	return e > x->received ? e - x->received : 0;
}

static void leg_snapshot(const struct mleg *L, struct relay_leg_stats *out)
{
	*out = L->st;
	out->rtp_expected += run_expected(&L->loss);
	out->rtp_lost += run_lost(&L->loss);
	if (L->sk[K_RTP].peer_ok)
		out->rtp_src = L->sk[K_RTP].peer;
	if (L->sk[K_RTCP].peer_ok)
		out->rtcp_src = L->sk[K_RTCP].peer;
}

static void emit(struct mthread *m, const struct msess *s,
		 enum relay_ev_type type, unsigned leg, bool rtcp,
		 const struct sa *addr)
{
	struct relay_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.id = s->id;
	ev.tag = s->tag;
	ev.leg = leg ? RELAY_LEG_B : RELAY_LEG_A;
	ev.rtcp = rtcp;
	if (addr)
		ev.addr = *addr;
	leg_snapshot(&s->leg[0], &ev.stats[0]);
	leg_snapshot(&s->leg[1], &ev.stats[1]);
	if (ring_push(m->conf.events, &ev, 0))
		atomic_fetch_add(m->conf.events_lost, 1);
}

/* ---- packet checks ----------------------------------------------------- */

static void loss_fold(struct mleg *L)
{
	L->st.rtp_expected += run_expected(&L->loss);
	L->st.rtp_lost += run_lost(&L->loss);
	memset(&L->loss, 0, sizeof(L->loss));
}

static void loss_start(struct loss *x, uint32_t ssrc, uint16_t seq)
{
	x->started = true;
	x->ssrc = ssrc;
	x->base = x->max = seq;
	x->cycles = 0;
	x->received = 1;
}

static void loss_update(struct mleg *L, const uint8_t *p)
{
	struct loss *x = &L->loss;
	uint16_t seq = (uint16_t)(p[2] << 8 | p[3]);
	uint32_t ssrc = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 |
			(uint32_t)p[10] << 8 | p[11];
	uint16_t d;

	if (!x->started || ssrc != x->ssrc) {
		loss_fold(L);
		loss_start(x, ssrc, seq);
		return;
	}
	d = (uint16_t)(seq - x->max);
	if (d == 0) {
		return;                       /* duplicate */
	} else if (d < MAX_DROPOUT) {
		if (seq < x->max)
			x->cycles += 65536;
		x->max = seq;
		x->received++;
	} else if (d <= 65535 - MAX_MISORDER) {
		loss_fold(L);                 /* jump: a new run */
		loss_start(x, ssrc, seq);
	} else {
		x->received++;                /* late, reordered */
	}
}

/* RTP/RTCP version 2 and the minimum length of what the first two bytes
 * say it is (RFC 5761 demultiplexing on the RTP port). Returns 1 for RTP,
 * 2 for RTCP, 0 to drop. */
static int classify(const uint8_t *p, size_t len, unsigned kind)
{
	unsigned pt;

	if (len < RELAY_MIN_RTCP || (p[0] >> 6) != 2)
		return 0;
	pt = p[1] & 0x7f;
	if (pt >= 64 && pt <= 95)
		return 2;                     /* RTCP types 192..223 */
	if (kind == K_RTCP)
		return 0;
	if (len < RELAY_MIN_RTP + 4u * (p[0] & 0x0f))
		return 0;                     /* CSRC list beyond the end */
	return 1;
}

/* A well-formed packet from a source other than the socket's peer: may
 * it latch (nat leg not latched yet, or inside its re-learning window)? */
static bool may_latch(struct mthread *m, struct mleg *L, struct msock *k,
		      const struct sa *src)
{
	if (!L->nat)
		return false;
	if (k->latched && m->now >= k->relearn_until)
		return false;
	if (L->latch_from_set && !relay_sa_ipeq(src, &L->latch_from))
		return false;
	/* RTP and RTCP of a phone come from one public address: once one
	 * of them is latched, the other may only latch from that IP */
	if (L->sk[!k->kind].latched &&
	    !relay_sa_ipeq(src, &L->sk[!k->kind].peer))
		return false;
	return true;
}

/* The socket latches onto src: learn (first packet) or move (inside the
 * re-learning window, which the move closes). */
static void latch(struct mthread *m, struct msess *s, struct msock *k,
		  const struct sa *src)
{
	k->peer = *src;
	k->peer_ok = true;
	k->latched = true;
	k->relearn_until = 0;
	emit(m, s, RELAY_EV_LATCHED, k->leg, k->kind, src);
}

/* srtp (issue 15): a packet from an SRTP leg authenticated and
 * unprotected in place, else dropped and counted. */
static bool srtp_from(struct mleg *L, uint8_t *p, size_t *len, int what)
{
	int err = L->srtp ? srtp_leg_in(L->srtp, p, len, what == 2) : EACCES;

	if (!err)
		return true;
	if (err == EALREADY)
		L->st.srtp_replay++;
	else if (err == EACCES)
		L->st.srtp_auth_fail++;
	else
		L->st.drop_malformed++;
	return false;
}

struct msock *fwd_packet(struct mthread *m, struct msock *k, uint8_t *p,
			 size_t *lenp, bool trunc, const struct sa *src)
{
	struct msess *s = k->s;
	struct mleg *L = &s->leg[k->leg];
	struct msock *o = &s->leg[!k->leg].sk[k->kind];
	size_t len = *lenp;
	int what = trunc ? 0 : classify(p, len, k->kind);

	/* anything from a wrong source counts as injection; only a
	 * well-formed packet may latch, and from an SRTP leg only one
	 * that authenticated (srtp_from) */
	if (k->peer_ok && relay_sa_eq(src, &k->peer)) {
		if (!what) {
			L->st.drop_malformed++;
			return NULL;
		}
		if (L->srtp_on && !srtp_from(L, p, lenp, what))
			return NULL;
		if (L->nat && !k->latched) {
			k->latched = true;
			emit(m, s, RELAY_EV_LATCHED, k->leg, k->kind, src);
		}
	} else if (what && !k->peer_ok && !L->nat) {
		/* the phone sends before its answer reached us */
		L->st.drop_early++;
		return NULL;
	} else if (what && may_latch(m, L, k, src)) {
		if (L->srtp_on && !srtp_from(L, p, lenp, what))
			return NULL;
		latch(m, s, k, src);
	} else {
		if (L->hushed_set && relay_sa_ipeq(src, &L->hushed)) {
			L->st.drop_hushed++;     /* the holder's phone */
			return NULL;
		}
		L->st.drop_source++;
		if (m->now >= L->next_notify) {
			L->next_notify = m->now + m->conf.notify_ms;
			emit(m, s, RELAY_EV_STRICT_DROP, k->leg, k->kind, src);
		}
		return NULL;
	}
	L->st.in_pkts++;
	L->st.in_bytes += len;
	L->st.last_seen_ms = m->now;
	s->timeout_sent = false;
	if (what == 1) {
		loss_update(L, p);
		if (s->tap)   /* a copy into a bounded ring; never waits */
			callrec_tap_put(s->tap, k->leg, p, *lenp, m->now);
	}
	if (!o->peer_ok) {
		L->st.drop_nodest++;
		return NULL;
	}
	/* srtp: protected towards an SRTP phone (RELAY_BUF of room) */
	if (s->leg[!k->leg].srtp_on &&
	    (!s->leg[!k->leg].srtp ||
	     srtp_leg_out(s->leg[!k->leg].srtp, p, lenp, RELAY_BUF,
			  what == 2))) {
		s->leg[!k->leg].st.send_errors++;
		return NULL;
	}
	return o;
}

void fwd_sent(struct msock *o, long res)
{
	struct mleg *OL = &o->s->leg[o->leg];

	if (res < 0) {
		OL->st.send_errors++;
		return;
	}
	OL->st.out_pkts++;
	OL->st.out_bytes += (uint64_t)res;
}

static void send_batch(struct mthread *m, struct msock *o, unsigned n)
{
	unsigned done = 0, i;
	int r;

	while (done < n) {
		r = sendmmsg(o->fd, &m->tx[done], n - done, MSG_DONTWAIT);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			fwd_sent(o, -1);        /* skip the one that failed */
			done++;
			continue;
		}
		for (i = done; i < done + (unsigned)r; i++)
			fwd_sent(o, (long)m->txiov[i].iov_len);
		done += (unsigned)r;
	}
}

/* One batch from k (edge-triggered: a batch that came back full may have
 * left packets behind, and k goes to the backlog to be read again). */
static void on_readable(struct mthread *m, struct msock *k)
{
	struct msock *o = NULL, *to;
	unsigned i, nout = 0;
	int n;

	for (i = 0; i < BATCH; i++) {
		m->rx[i].msg_hdr.msg_namelen = sizeof(m->rxaddr[i].u);
		m->rx[i].msg_hdr.msg_flags = 0;
	}
	n = recvmmsg(k->fd, m->rx, BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;
	if (n == BATCH && !k->queued) {
		k->queued = true;
		m->backlog[!m->cur][m->nbacklog[!m->cur]++] = k;
	}
	for (i = 0; i < (unsigned)n; i++) {
		struct sa *src = &m->rxaddr[i];

		size_t len = m->rx[i].msg_len;

		src->len = m->rx[i].msg_hdr.msg_namelen;
		to = fwd_packet(m, k, m->buf[i], &len,
				m->rx[i].msg_hdr.msg_flags & MSG_TRUNC, src);
		if (!to)
			continue;
		o = to;
		m->txiov[nout].iov_base = m->buf[i];
		m->txiov[nout].iov_len = len;
		m->tx[nout].msg_hdr.msg_name = &o->peer.u;
		m->tx[nout].msg_hdr.msg_namelen = o->peer.len;
		nout++;
	}
	/* every accepted packet of k leaves through the same o */
	if (nout)
		send_batch(m, o, nout);
}

/* ---- commands ---------------------------------------------------------- */

struct msess *fwd_find(struct mthread *m, uint32_t id)
{
	unsigned slot = RELAY_ID_SLOT(id);
	struct msess *s;

	if (slot >= m->conf.max_sessions)
		return NULL;
	s = m->slots[slot];
	return s && s->id == id ? s : NULL;
}

/* Closes the sockets (the ports are free for the taking from here on)
 * and unlinks the session; the memory waits until the end of the round,
 * as events of this round may still point at its sockets. */
static void sess_close(struct mthread *m, struct msess *s)
{
	unsigned l, k;

#ifdef HAVE_LIBURING
	if (m->uring)
		fwd_uring_cancel(m, s);
#endif
	for (l = 0; l < 2; l++)
		for (k = 0; k < 2; k++) {
			if (s->leg[l].sk[k].fd >= 0)
				close(s->leg[l].sk[k].fd);  /* leaves epoll */
			s->leg[l].sk[k].fd = -1;
		}
	m->slots[RELAY_ID_SLOT(s->id)] = NULL;
	callrec_tap_release(s->tap);
	s->tap = NULL;
	for (l = 0; l < 2; l++) {              /* srtp: keys wiped */
		srtp_leg_free(s->leg[l].srtp);
		s->leg[l].srtp = NULL;
	}
	m->live[s->live_idx] = m->live[--m->nlive];
	m->live[s->live_idx]->live_idx = s->live_idx;
	s->dead = true;
	s->next_dead = m->dead;
	m->dead = s;
}

static void free_dead(struct mthread *m)
{
	while (m->dead) {
		struct msess *s = m->dead;

		m->dead = s->next_dead;
		free(s);
	}
}

static void do_create(struct mthread *m, const struct cmd *c)
{
	unsigned slot = RELAY_ID_SLOT(c->id), l, k;
	struct msess *s = NULL;

	if (slot < m->conf.max_sessions && !m->slots[slot])
		s = calloc(1, sizeof(*s));
	if (!s) {
		struct msess tmp;

		for (l = 0; l < 2; l++)
			for (k = 0; k < 2; k++)
				close(c->fds[l][k]);
		memset(&tmp, 0, sizeof(tmp));
		tmp.id = c->id;
		tmp.tag = c->tag;
		emit(m, &tmp, RELAY_EV_DESTROYED, 0, false, NULL);
		return;
	}
	s->id = c->id;
	s->tag = c->tag;
	s->idle_from = m->now;
	s->live_idx = m->nlive;
	m->live[m->nlive++] = s;
	m->slots[slot] = s;
	for (l = 0; l < 2; l++) {
		for (k = 0; k < 2; k++) {
			struct msock *x = &s->leg[l].sk[k];
			struct epoll_event ev = {
				.events = EPOLLIN | EPOLLET, .data.ptr = x,
			};

			x->fd = c->fds[l][k];
			x->s = s;
			x->leg = (uint8_t)l;
			x->kind = (uint8_t)k;
			if (!m->uring)
				(void)epoll_ctl(m->ep, EPOLL_CTL_ADD, x->fd,
						&ev);
		}
	}
#ifdef HAVE_LIBURING
	if (m->uring)
		fwd_uring_arm(m, s);
#endif
}

static void do_leg_set(struct mthread *m, struct msess *s, const struct cmd *c)
{
	struct mleg *L = &s->leg[c->leg];
	const struct sa *sdp[2] = {&c->lc.rtp, &c->lc.rtcp};
	unsigned k;

	L->nat = c->lc.nat;
	L->latch_from_set = c->lc.latch_from.u.sa.sa_family != 0;
	L->latch_from = c->lc.latch_from;
	L->hushed_set = c->lc.hushed.u.sa.sa_family != 0;
	L->hushed = c->lc.hushed;
	/* srtp (issue 15): contexts kept for the same keys; on failure the
	 * leg stays SRTP without contexts: nothing relayed in the clear */
	L->srtp_on = c->lc.srtp_suite != 0;
	if (srtp_leg_apply(&L->srtp, &c->lc))
		log_warn("relay", "session %u: SRTP contexts failed: the "
			 "leg relays nothing", s->id);
	for (k = 0; k < 2; k++) {
		struct msock *x = &L->sk[k];

		/* a latched nat leg keeps what it learnt: only a
		 * re-learning window moves it */
		if (L->nat && x->latched)
			continue;
		x->latched = false;
		x->peer_ok = sdp[k]->u.sa.sa_family != 0;
		if (x->peer_ok)
			x->peer = *sdp[k];
	}
	(void)m;
}

static void do_cmd(struct mthread *m, const struct cmd *c, bool *stop)
{
	struct msess *s;

	if (c->type == CMD_STOP) {
		*stop = true;
		return;
	}
	if (c->type == CMD_CREATE) {
		do_create(m, c);
		return;
	}
	s = fwd_find(m, c->id);
	if (!s) {
		if (c->type == CMD_TAP)   /* the session went first */
			callrec_tap_release(c->tap);
		return;
	}
	switch (c->type) {
	case CMD_LEG_SET:
		do_leg_set(m, s, c);
		break;
	case CMD_RELEARN:
		s->leg[c->leg].sk[K_RTP].relearn_until =
			s->leg[c->leg].sk[K_RTCP].relearn_until =
			m->now + m->conf.relearn_ms;
		break;
	case CMD_HOLD:
		s->hold = c->flag;
		if (!s->hold) {
			s->idle_from = m->now;
			s->timeout_sent = false;
		}
		break;
	case CMD_TAP:
		callrec_tap_release(s->tap);
		s->tap = c->tap;
		break;
	case CMD_QUERY:
		emit(m, s, RELAY_EV_COUNTERS, 0, false, NULL);
		break;
	case CMD_DESTROY:
		sess_close(m, s);
		emit(m, s, RELAY_EV_DESTROYED, 0, false, NULL);
		break;
	default:
		break;
	}
}

void fwd_drain_cmds(struct mthread *m, bool *stop)
{
	unsigned n, i;

	do {
		n = ring_pop(m->cmds, m->cbuf, 64);
		for (i = 0; i < n; i++) {
			do_cmd(m, &m->cbuf[i], stop);
			/* srtp: no key copy left behind */
			explicit_bzero(&m->cbuf[i].lc, sizeof(m->cbuf[i].lc));
		}
	} while (n == 64 && !*stop);
}

/* ---- timeouts ---------------------------------------------------------- */

static void scan_timeouts(struct mthread *m)
{
	unsigned i;

	if (!m->conf.timeout_ms)
		return;
	for (i = 0; i < m->nlive; i++) {
		struct msess *s = m->live[i];
		uint64_t last = s->idle_from;

		if (s->hold || s->timeout_sent)
			continue;
		if (s->leg[0].st.last_seen_ms > last)
			last = s->leg[0].st.last_seen_ms;
		if (s->leg[1].st.last_seen_ms > last)
			last = s->leg[1].st.last_seen_ms;
		if (m->now - last >= m->conf.timeout_ms) {
			s->timeout_sent = true;
			emit(m, s, RELAY_EV_TIMEOUT, 0, false, NULL);
		}
	}
}

/* ---- the thread -------------------------------------------------------- */

void fwd_round_end(struct mthread *m)
{
	free_dead(m);
	if (m->now >= m->next_tick) {
		scan_timeouts(m);
		m->next_tick = m->now + TICK_MS;
	}
}

void fwd_close_all(struct mthread *m)
{
	while (m->nlive)
		sess_close(m, m->live[0]);
	free_dead(m);
}

static void run_epoll(struct mthread *m)
{
	struct epoll_event evs[NEVENTS];
	bool stop = false;

	while (!stop) {
		bool cmds = false;
		int n, i, wait;

		wait = m->next_tick > m->now ? (int)(m->next_tick - m->now) : 0;
		if (m->nbacklog[!m->cur])
			wait = 0;
		n = epoll_wait(m->ep, evs, NEVENTS, wait);
		m->now = relay_now_ms();
		/* commands first: a re-learning window or a new address
		 * the owner sent before a packet arrived applies to it */
		for (i = 0; i < n; i++)
			if (!evs[i].data.ptr)
				cmds = true;
		if (cmds)
			fwd_drain_cmds(m, &stop);
		/* last round's backlog first (a session closed by a command
		 * above is dead, its memory still here until free_dead) */
		m->cur = !m->cur;
		for (i = 0; i < (int)m->nbacklog[m->cur]; i++) {
			struct msock *k = m->backlog[m->cur][i];

			k->queued = false;
			if (!k->s->dead)
				on_readable(m, k);
		}
		m->nbacklog[m->cur] = 0;
		for (i = 0; i < n; i++) {
			struct msock *k = evs[i].data.ptr;

			if (k && !k->s->dead && !k->queued)
				on_readable(m, k);
		}
		fwd_round_end(m);
	}
}

static void *run(void *arg)
{
	struct mthread *m = arg;

	m->now = relay_now_ms();
	m->next_tick = m->now + TICK_MS;
#ifdef HAVE_LIBURING
	if (!m->epoll_only) {
		int err = fwd_uring_run(m);

		if (!err)
			return NULL;      /* it closed every session */
		/* a seccomp filter (systemd's @system-service) or an old
		 * kernel: said once, so an admin knows which loop runs */
		log_info("relay", "media thread: io_uring unavailable (%s), "
			 "relaying on epoll", strerror(err));
	}
	else {
		log_info("relay", "media thread: relaying on epoll");
	}
#else
	log_info("relay", "media thread: relaying on epoll (built "
		 "without liburing)");
#endif
	run_epoll(m);
	fwd_close_all(m);
	return NULL;
}

int mthread_start(struct mthread **mp, const struct mthread_conf *conf,
		  struct ring *cmds)
{
	struct mthread *m;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	sigset_t all, old;
	unsigned i;
	int err;

	m = calloc(1, sizeof(*m));
	if (!m)
		return ENOMEM;
	m->conf = *conf;
	m->epoll_only = conf->epoll_only;
	m->cmds = cmds;
	m->slots = calloc(conf->max_sessions, sizeof(*m->slots));
	m->live = calloc(conf->max_sessions, sizeof(*m->live));
	/* every socket of every session at most once in each */
	m->backlog[0] = calloc(4u * conf->max_sessions, sizeof(**m->backlog));
	m->backlog[1] = calloc(4u * conf->max_sessions, sizeof(**m->backlog));
	m->ep = epoll_create1(EPOLL_CLOEXEC);
	if (!m->slots || !m->live || !m->backlog[0] || !m->backlog[1] ||
	    m->ep < 0) {
		err = m->ep < 0 ? errno : ENOMEM;
		goto fail;
	}
	if (epoll_ctl(m->ep, EPOLL_CTL_ADD, cmds->efd, &ev) < 0) {
		err = errno;
		goto fail;
	}
	for (i = 0; i < BATCH; i++) {
		m->rxiov[i].iov_base = m->buf[i];
		m->rxiov[i].iov_len = sizeof(m->buf[i]);
		m->rx[i].msg_hdr.msg_iov = &m->rxiov[i];
		m->rx[i].msg_hdr.msg_iovlen = 1;
		m->rx[i].msg_hdr.msg_name = &m->rxaddr[i].u;
		m->tx[i].msg_hdr.msg_iov = &m->txiov[i];
		m->tx[i].msg_hdr.msg_iovlen = 1;
	}
	/* the media thread takes no signal: they are the owner's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&m->tid, NULL, run, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto fail;
	pthread_setname_np(m->tid, "bw-relay");	/* for top, perf, benches */
	if (pthread_getcpuclockid(m->tid, &m->cpu))
		m->cpu = (clockid_t)-1;
	*mp = m;
	return 0;
 fail:
	if (m->ep >= 0)
		close(m->ep);
	free(m->slots);
	free(m->live);
	free(m->backlog[0]);
	free(m->backlog[1]);
	free(m);
	return err;
}

void mthread_stop(struct mthread *m)
{
	struct cmd c;

	if (!m)
		return;
	memset(&c, 0, sizeof(c));
	c.type = CMD_STOP;
	/* a full queue still drains; retry until the stop fits */
	while (ring_push(m->cmds, &c, 0) == EAGAIN) {
		struct timespec ts = {0, 1000000};

		nanosleep(&ts, NULL);
	}
	pthread_join(m->tid, NULL);
	close(m->ep);
	free(m->slots);
	free(m->live);
	free(m->backlog[0]);
	free(m->backlog[1]);
	free(m);
}

int mthread_cpu(const struct mthread *m, uint64_t *ns)
{
	struct timespec ts;

	if (m->cpu == (clockid_t)-1 || clock_gettime(m->cpu, &ts))
		return ENOTSUP;
	*ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return 0;
}
