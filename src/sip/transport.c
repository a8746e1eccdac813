/*
 * sipd's transports: our own UDP and TCP on libre sockets (so we size
 * buffers and backlogs), the listeners, the TCP connection table with its
 * per-source caps, deadlines, framing and eviction, and where libre's own
 * error lines go. Every datagram and every framed TCP message goes to
 * sipd_input(); everything sipd sends leaves through sipd_send_raw().
 *
 * UDP is read in batches: one wake-up of the loop reads with recvmmsg()
 * until the socket is empty (or UDP_WAKE_BATCHES batches, so timers and
 * TCP get their turn; the loop's epoll is level-triggered and calls us
 * again), and the replies to a batch leave together with sendmmsg() once
 * the batch is handled. A wake-up that found datagrams switches the
 * socket to polling: out of epoll, read every UDP_POLL_MS on a timer
 * until a poll finds nothing, then back to a wake-up per datagram (as
 * network cards mitigate interrupts). Under load a wake-up, a recvmmsg()
 * and a sendmmsg() serve the datagrams of a millisecond, and the peers
 * are woken once per batch of replies, not per reply; a datagram waits at
 * most UDP_POLL_MS more, and a lone one is read at once.
 */
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "guard/guard.h"
#include "sip/sipd_priv.h"
#include "sip/transport.h"
#include <re_main.h>
#include <re_udp.h>
#include <re_tcp.h>
/* re_dbg.h is here for dbg_handler_set only; these keep its macros off */
#define DEBUG_MODULE "sip"
#define DEBUG_LEVEL 0
#include <re_dbg.h>
#include "store/snapshot.h"

/* TCP (issue 8): the connection table is bounded by the descriptor limit
 * (TCP_FD_RESERVE kept for the store, the admin API, logs) and never by
 * more than TCP_CONNS_MAX; a source may hold tcp_per_source connections
 * that have not registered. A connection that never sent a valid request
 * lives TCP_NEW_MS; one that did, TCP_VALID_MS after its last message;
 * one a phone registered over, max_expires + TCP_REG_SLACK_S. A message
 * must be complete TCP_MSG_MS after its first byte (slowloris): bytes
 * never renew a timer, only complete messages do. */
#define TCP_CONNS_MAX 65536
#define TCP_FD_RESERVE_MIN 256
#define TCP_NEW_MS 10000
#define TCP_VALID_MS 30000
#define TCP_REG_SLACK_S 60
#define TCP_MSG_MS 10000
#define TCP_BUF_MAX (SIPMSG_MAX_LEN + 4096)
/* Partial messages: up to TCP_BUF_FREE bytes per connection are always
 * accepted (a REGISTER is far smaller); more only while every
 * connection's buffers together stay within TCP_BUF_BUDGET. */
#define TCP_BUF_FREE 8192
#define TCP_BUF_BUDGET (16u * 1024 * 1024)
#define TCP_TXQ_MAX (64 * 1024)   /* replies queued for a slow reader */
#define TCP_TRIM_MIN 256          /* connections before a flood counts */
#define LOG_BURST 10              /* rate-limited lines per LOG_WINDOW_MS */
#define LOG_WINDOW_MS 10000
/* UDP batches: datagrams per recvmmsg()/sendmmsg(), read batches per
 * wake-up, octets of replies queued for one sendmmsg(). A datagram is at
 * most 65,527 octets, so UDP_RXSZ never truncates one (the parser refuses
 * anything over SIPMSG_MAX_LEN). The receive buffers are reserved whole
 * but only the pages datagrams touch become resident. */
#define UDP_BATCH 32
#define UDP_WAKE_BATCHES 8
#define UDP_RXSZ (SIPMSG_MAX_LEN + 1)
#define UDP_TXQ_BYTES (128 * 1024)
#define UDP_POLL_MS 1

/* A UDP listener as the loop sees it (0: IPv4 socket, 1: IPv6). */
struct udp_lsn {
	struct sipd *sd;
	int fd;                 /* -1: closed */
	struct tmr poll;        /* running: polling, out of epoll */
};

/* Batched UDP I/O, allocated with the first UDP listener. */
struct udp_batch {
	struct udp_lsn lsn[2];
	uint8_t *rbuf;          /* UDP_BATCH x UDP_RXSZ */
	struct mmsghdr rx[UDP_BATCH];
	struct iovec riov[UDP_BATCH];
	struct sockaddr_storage rsa[UDP_BATCH];
	/* replies to the batch being handled, sent when it is done */
	bool batching;
	int tfd;
	unsigned tn;
	size_t tused;
	struct mmsghdr tx[UDP_BATCH];
	struct iovec tiov[UDP_BATCH];
	struct sockaddr_storage tsa[UDP_BATCH];
	uint8_t tbuf[UDP_TXQ_BYTES];
};

/* Unregistered connections of one source (IPv6: of its /64). */
struct conn_src {
	struct le le;          /* in sd->conn_srcs */
	struct sa key;         /* address, port 0, IPv6 masked */
	uint32_t n;
};

/* v4-mapped IPv6 from a dual-stack socket → plain IPv4 */
void sipd_sa_unmap(struct sa *s)
{
	if (sa_af(s) == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&s->u.in6.sin6_addr)) {
		uint32_t a;

		memcpy(&a, &s->u.in6.sin6_addr.s6_addr[12], 4);
		sa_set_in(s, ntohl(a), sa_port(s));
	}
}

static void sa_map(struct sa *s)
{
	if (sa_af(s) == AF_INET) {
		uint8_t a[16] = {0};
		uint32_t v = htonl(sa_in(s));

		a[10] = a[11] = 0xff;
		memcpy(&a[12], &v, 4);
		sa_set_in6(s, a, sa_port(s));
	}
}

/* ---- UDP output ----------------------------------------------------- */

/* Send every queued reply: one sendmmsg() for the lot; a datagram the
 * kernel refuses is dropped, as a failed sendto() would drop it. */
static void udp_flush(struct udp_batch *ub)
{
	unsigned done = 0;

	while (done < ub->tn) {
		int n = sendmmsg(ub->tfd, &ub->tx[done], ub->tn - done,
				 MSG_DONTWAIT);

		if (n > 0)
			done += (unsigned)n;
		else if (n < 0 && errno == EINTR)
			continue;
		else
			done++;
	}
	ub->tn = 0;
	ub->tused = 0;
}

static void udp_queue(struct udp_batch *ub, int fd, const struct sa *d,
		      const char *buf, size_t len)
{
	unsigned i;

	if (ub->tn && (ub->tfd != fd || ub->tn == UDP_BATCH ||
		       ub->tused + len > sizeof(ub->tbuf)))
		udp_flush(ub);
	i = ub->tn++;
	ub->tfd = fd;
	memcpy(ub->tbuf + ub->tused, buf, len);
	ub->tiov[i].iov_base = ub->tbuf + ub->tused;
	ub->tiov[i].iov_len = len;
	memcpy(&ub->tsa[i], &d->u, d->len);
	memset(&ub->tx[i], 0, sizeof(ub->tx[i]));
	ub->tx[i].msg_hdr.msg_name = &ub->tsa[i];
	ub->tx[i].msg_hdr.msg_namelen = d->len;
	ub->tx[i].msg_hdr.msg_iov = &ub->tiov[i];
	ub->tx[i].msg_hdr.msg_iovlen = 1;
	ub->tused += len;
}

/* A datagram to dst: queued while a read batch is handled (its replies
 * leave together at the end of it), else sent at once (timers: tarpit,
 * qualify, keep-alives). IPv4 goes out of the IPv4 socket when there is
 * one, else v4-mapped out of the dual-stack one. 0 or errno. */
static int udp_out(struct sipd *sd, const struct sa *dst, const char *buf,
		   size_t len)
{
	struct udp_batch *ub = sd->ub;
	struct sa d = *dst;
	int fd = -1;

	if (!ub)
		return EAFNOSUPPORT;
	if (sa_af(&d) == AF_INET && ub->lsn[0].fd >= 0) {
		fd = ub->lsn[0].fd;
	}
	else if (ub->lsn[1].fd >= 0) {
		fd = ub->lsn[1].fd;
		sa_map(&d);
	}
	if (fd < 0)
		return EAFNOSUPPORT;
	if (ub->batching && len <= sizeof(ub->tbuf)) {
		udp_queue(ub, fd, &d, buf, len);
		return 0;
	}
	if (sendto(fd, buf, len, MSG_DONTWAIT, &d.u.sa, d.len) < 0)
		return errno;
	return 0;
}

/* ---- output --------------------------------------------------------- */

static void conn_send_failed(struct sipd_conn *c, int err);

int sipd_send_raw(struct sipd *sd, enum sipd_tp tp, const struct sa *dst,
		  uint64_t conn, const char *buf, size_t len)
{
	struct sipd_conn *c;
	int err;

	sd->c_tx++;
	if (sd->outh) {
		sd->outh(tp, dst, buf, len, sd->outarg);
		return 0;
	}
	if (tp == SIPD_UDP)
		return udp_out(sd, dst, buf, len);
	mbuf_rewind(sd->mb);
	err = mbuf_write_mem(sd->mb, (const uint8_t *)buf, len);
	if (err)
		return err;
	sd->mb->pos = 0;
	c = sipd_tcp_find(sd, conn);
	if (!c || !c->tc)
		return ENOTCONN;
	/* an outbound connection not up yet queues */
	if (c->out && sipd_out_hold(c, buf, len, &err))
		return err;
	err = tcp_send(c->tc, sd->mb);
	/* A peer that went away (EPIPE, ECONNRESET) or stopped reading
	 * (ENOSPC: send queue full) gets nothing more: the connection is
	 * closed at once, so the replies still pending find no connection
	 * and fail silently — one log line, not one per reply. */
	if (err)
		conn_send_failed(c, err);
	return err;
}

/* ---- UDP ------------------------------------------------------------ */

/* libre's own read handler: never called once udp_open() has put
 * udp_readable() in its place, but udp_listen() wants one. */
static void udp_recv(const struct sa *src, struct mbuf *mb, void *arg)
{
	(void)src;
	(void)mb;
	(void)arg;
}

/* One batch: every datagram to sipd_input(), then the replies out.
 * Returns the datagrams read, 0 when the socket was empty. */
static int udp_read_batch(struct sipd *sd, struct udp_batch *ub, int fd)
{
	int n;

	for (unsigned i = 0; i < UDP_BATCH; i++) {
		ub->riov[i].iov_base = ub->rbuf + (size_t)i * UDP_RXSZ;
		ub->riov[i].iov_len = UDP_RXSZ;
		memset(&ub->rx[i].msg_hdr, 0, sizeof(ub->rx[i].msg_hdr));
		ub->rx[i].msg_hdr.msg_name = &ub->rsa[i];
		ub->rx[i].msg_hdr.msg_namelen = sizeof(ub->rsa[i]);
		ub->rx[i].msg_hdr.msg_iov = &ub->riov[i];
		ub->rx[i].msg_hdr.msg_iovlen = 1;
	}
	do
		n = recvmmsg(fd, ub->rx, UDP_BATCH, MSG_DONTWAIT, NULL);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return 0;
	ub->batching = true;
	for (int i = 0; i < n; i++) {
		struct sa s;

		if (sa_set_sa(&s, (struct sockaddr *)&ub->rsa[i]))
			continue;
		sipd_sa_unmap(&s);
		sipd_input(sd, SIPD_UDP, &s, 0, ub->riov[i].iov_base,
			   ub->rx[i].msg_len);
	}
	ub->batching = false;
	udp_flush(ub);
	return n;
}

/* Batches until the socket is empty, at most UDP_WAKE_BATCHES (what is
 * left is read at the next turn of the loop). Datagrams read; *more when
 * the bound stopped it. */
static unsigned udp_drain(struct udp_lsn *l, bool *more)
{
	unsigned total = 0;

	*more = false;
	for (int round = 0; round < UDP_WAKE_BATCHES; round++) {
		int n = udp_read_batch(l->sd, l->sd->ub, l->fd);

		total += (unsigned)n;
		if (n < UDP_BATCH)
			return total;
	}
	*more = true;
	return total;
}

static void udp_readable(int flags, void *arg);

/* Polling: read what came in since the last poll; when nothing did, the
 * socket goes back into epoll. */
static void udp_poll(void *arg)
{
	struct udp_lsn *l = arg;
	bool more;

	if (l->fd < 0 || !l->sd->ub)
		return;
	if (udp_drain(l, &more) ||
	    fd_listen(l->fd, FD_READ, udp_readable, l))
		tmr_start(&l->poll, more ? 0 : UDP_POLL_MS, udp_poll, l);
}

/* The loop's handler of a UDP socket (not polling). */
static void udp_readable(int flags, void *arg)
{
	struct udp_lsn *l = arg;
	bool more;

	if (!(flags & FD_READ) || l->fd < 0 || !l->sd->ub)
		return;
	if (!udp_drain(l, &more))
		return;
	/* traffic: poll on a timer rather than wake per datagram */
	fd_close(l->fd);
	tmr_start(&l->poll, more ? 0 : UDP_POLL_MS, udp_poll, l);
}

static void udp_lsn_stop(struct udp_lsn *l)
{
	tmr_cancel(&l->poll);
	l->fd = -1;
}

static void udp_batch_free(struct sipd *sd)
{
	if (!sd->ub)
		return;
	udp_lsn_stop(&sd->ub->lsn[0]);
	udp_lsn_stop(&sd->ub->lsn[1]);
	free(sd->ub->rbuf);
	free(sd->ub);
	sd->ub = NULL;
}

static int udp_batch_get(struct sipd *sd)
{
	struct udp_batch *ub;

	if (sd->ub)
		return 0;
	ub = calloc(1, sizeof(*ub));
	if (!ub)
		return ENOMEM;
	ub->rbuf = malloc((size_t)UDP_BATCH * UDP_RXSZ);
	if (!ub->rbuf) {
		free(ub);
		return ENOMEM;
	}
	for (int i = 0; i < 2; i++) {
		ub->lsn[i].sd = sd;
		ub->lsn[i].fd = -1;
		tmr_init(&ub->lsn[i].poll);
	}
	sd->ub = ub;
	return 0;
}

static int measure_rcvbuf(struct udp_sock *us, int af)
{
	int fd = udp_sock_fd(us, af), v = 0;
	socklen_t l = sizeof(v);

	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &l))
		return 0;
	return v;
}

static int udp_open(struct sipd *sd, struct udp_sock **usp,
		    const struct sa *laddr, int want)
{
	struct udp_sock *us = NULL;
	struct udp_lsn *l;
	int err, fd;

	err = udp_batch_get(sd);
	if (err)
		return err;
	err = udp_listen(&us, laddr, udp_recv, sd);
	if (err)
		return err;
	/* libre keeps the socket (and closes it with us); the loop calls
	 * our batch reader for it instead of libre's one-datagram one */
	fd = udp_sock_fd(us, sa_af(laddr));
	l = &sd->ub->lsn[sa_af(laddr) == AF_INET ? 0 : 1];
	if (fd < 0) {
		mem_deref(us);
		return EBADF;
	}
	l->fd = fd;
	err = fd_listen(fd, FD_READ, udp_readable, l);
	if (err) {
		l->fd = -1;
		mem_deref(us);
		return err;
	}
	/* Bursts: size the receive buffer beyond rmem_max when we may
	 * (SO_RCVBUFFORCE needs CAP_NET_ADMIN), else up to rmem_max. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want,
				  sizeof(want)))
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want,
				 sizeof(want));
	sd->rcvbuf = measure_rcvbuf(us, sa_af(laddr));
	*usp = us;
	return 0;
}

/* ---- TCP ------------------------------------------------------------ */

void sipd_peer_str(const struct sa *a, char *buf, size_t sz)
{
	re_snprintf(buf, sz, "%J", a);
}

/* TCP events come from the network at the attacker's pace: at most
 * LOG_BURST lines per LOG_WINDOW_MS; the next line let through says how
 * many were left out. */
void sipd_tcp_log(struct sipd *sd, enum log_level lvl, const char *fmt,
		  ...)
{
	uint64_t now = tmr_jiffies();
	char line[256];
	va_list ap;

	if (!sd->lrl.since || now - sd->lrl.since >= LOG_WINDOW_MS) {
		sd->lrl.since = now;
		sd->lrl.lines = 0;
	}
	if (sd->lrl.lines >= LOG_BURST) {
		sd->lrl.suppressed++;
		return;
	}
	sd->lrl.lines++;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (sd->lrl.suppressed) {
		log_msg(lvl, MOD, "%s (%u similar lines left out before)",
			line, sd->lrl.suppressed);
		sd->lrl.suppressed = 0;
	}
	else {
		log_msg(lvl, MOD, "%s", line);
	}
}

/* libre prints its own errors (e.g. "tcp: send: write(): Broken pipe",
 * once per failing call, with colour codes, to stderr). They carry no
 * context and every one of them is also returned to our code, which logs
 * it once with the peer: libre's lines go to the debug level, rate-
 * limited. libre calls this under its own dbg mutex, which guards the
 * counters (any thread may print). */
static struct {
	uint64_t since;
	unsigned lines, suppressed;
} libre_rl;

static void libre_dbg(int level, const char *p, size_t len, void *arg)
{
	uint64_t now = tmr_jiffies();

	(void)level;
	(void)arg;
	if (!libre_rl.since || now - libre_rl.since >= LOG_WINDOW_MS) {
		if (libre_rl.suppressed)
			log_debug("libre", "%u lines left out",
				  libre_rl.suppressed);
		libre_rl.since = now;
		libre_rl.lines = libre_rl.suppressed = 0;
	}
	if (libre_rl.lines >= LOG_BURST) {
		libre_rl.suppressed++;
		return;
	}
	libre_rl.lines++;
	while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	log_debug("libre", "%.*s", (int)len, p);
}

/* Per-source accounting key: the address (IPv6: its /64, which one
 * subscriber usually holds whole). */
static void src_key(struct sa *k, const struct sa *peer)
{
	*k = *peer;
	sa_set_port(k, 0);
	if (sa_af(k) == AF_INET6)
		memset(&k->u.in6.sin6_addr.s6_addr[8], 0, 8);
}

static bool src_cmp(struct le *le, void *arg)
{
	const struct conn_src *s = le->data;

	return sa_cmp(&s->key, arg, SA_ADDR);
}

static void src_destructor(void *arg)
{
	struct conn_src *s = arg;

	hash_unlink(&s->le);
}

static struct conn_src *src_find(struct sipd *sd, const struct sa *peer)
{
	struct sa k;

	src_key(&k, peer);
	return list_ledata(hash_lookup(sd->conn_srcs, sa_hash(&k, SA_ADDR),
				       src_cmp, &k));
}

static struct conn_src *src_get(struct sipd *sd, const struct sa *peer)
{
	struct conn_src *s = src_find(sd, peer);

	if (s)
		return s;
	s = mem_zalloc(sizeof(*s), src_destructor);
	if (!s)
		return NULL;
	src_key(&s->key, peer);
	hash_append(sd->conn_srcs, sa_hash(&s->key, SA_ADDR), &s->le, s);
	return s;
}

/* The connection no longer counts against its source (registered or
 * closed); the entry goes with the source's last connection. */
static void src_put(struct sipd_conn *c)
{
	struct conn_src *s = c->src;

	c->src = NULL;
	if (s && s->n && !--s->n)
		mem_deref(s);
}

static uint64_t conn_idle_ms(const struct sipd *sd, enum conn_state st)
{
	switch (st) {
	case CONN_NEW:
		return TCP_NEW_MS;
	case CONN_VALID:
		return TCP_VALID_MS;
	default:
		/* a registered phone may stay silent until it refreshes */
		return (uint64_t)(sd->set.max_expires + TCP_REG_SLACK_S) *
			1000u;
	}
}

static void conn_buf_free(struct sipd_conn *c)
{
	if (!c->buf)
		return;
	if (c->sd)
		c->sd->tcp_buffered -= c->buf->size;
	c->buf = mem_deref(c->buf);
}

static void conn_destructor(void *arg)
{
	struct sipd_conn *c = arg;

	tmr_cancel(&c->idle);
	tmr_cancel(&c->deadline);
	hash_unlink(&c->le);
	list_unlink(&c->ole);
	sipd_out_detach(c);
	sipd_tls_detach(c);   /* tls: its layer holds the tcp_conn */
	mem_deref(c->tc);
	conn_buf_free(c);
}

/* Close now: out of every table and count, the socket closed; the
 * memory goes when the last reference does (conn_recv holds one while a
 * message from its buffer is being handled). */
static void conn_shut(struct sipd_conn *c)
{
	struct sipd *sd = c->sd;

	if (!c->tc)
		return;
	tmr_cancel(&c->idle);
	tmr_cancel(&c->deadline);
	hash_unlink(&c->le);
	list_unlink(&c->ole);
	src_put(c);
	if (c->state == CONN_REG && sd->n_conn_reg)
		sd->n_conn_reg--;
	if (sd->n_conns)
		sd->n_conns--;
	sipd_out_detach(c);
	sipd_tls_detach(c);   /* tls: its layer holds the tcp_conn */
	c->tc = mem_deref(c->tc);
	mem_deref(c);   /* the table's reference */
}

void sipd_conn_shut(struct sipd_conn *c)
{
	conn_shut(c);
}

static bool conn_cmp(struct le *le, void *arg)
{
	const struct sipd_conn *c = le->data;

	return c->id == *(uint64_t *)arg;
}

struct sipd_conn *sipd_tcp_find(struct sipd *sd, uint64_t id)
{
	if (!id || !sd->conns)
		return NULL;
	return list_ledata(hash_lookup(sd->conns, (uint32_t)id, conn_cmp, &id));
}

static void conn_idle(void *arg)
{
	struct sipd_conn *c = arg;

	c->sd->c_tcp_idle++;
	conn_shut(c);
}

static void conn_deadline(void *arg)
{
	struct sipd_conn *c = arg;
	char ps[64];

	c->sd->c_tcp_deadline++;
	sipd_peer_str(&c->peer, ps, sizeof(ps));
	sipd_tcp_log(c->sd, LOG_LVL_INFO, "tcp: %s did not complete a message "
		"within %u ms: connection closed", ps, TCP_MSG_MS);
	conn_shut(c);
}

static void conn_close(int err, void *arg)
{
	(void)err;
	conn_shut(arg);
}

static void conn_send_failed(struct sipd_conn *c, int err)
{
	char ps[64];

	c->sd->c_tcp_send_fail++;
	sipd_peer_str(&c->peer, ps, sizeof(ps));
	sipd_tcp_log(c->sd, LOG_LVL_INFO, "tcp: sending to %s failed (%s): "
		"connection closed", ps, strerror(err));
	conn_shut(c);
}

/* What the connection has shown: a valid request, a registration. Only
 * moves forward. */
void sipd_tcp_promote(struct sipd *sd, uint64_t id, enum conn_state st)
{
	struct sipd_conn *c = sipd_tcp_find(sd, id);

	if (!c || !c->tc || st <= c->state)
		return;
	list_unlink(&c->ole);
	if (st == CONN_REG) {
		/* registered phones behind one NAT address are not limited
		 * per source: their credentials bound them */
		src_put(c);
		sd->n_conn_reg++;
	}
	else {
		list_append(&sd->conn_old[st], &c->ole, c);
	}
	c->state = st;
	tmr_start(&c->idle, conn_idle_ms(sd, st), conn_idle, c);
}

/* Room for a new connection when the table is full: close the oldest
 * one that never sent a valid request, else the oldest unregistered one.
 * A registered phone's connection is never taken. */
static bool conn_evict(struct sipd *sd)
{
	for (int st = CONN_NEW; st <= CONN_VALID; st++) {
		struct le *le = list_head(&sd->conn_old[st]);
		struct sipd_conn *c;
		char ps[64];

		if (!le)
			continue;
		c = le->data;
		sd->c_tcp_evicted++;
		sipd_peer_str(&c->peer, ps, sizeof(ps));
		sipd_tcp_log(sd, LOG_LVL_WARN, "tcp: %zu connections "
			"(the limit): closed the oldest unregistered one, "
			"from %s", sd->n_conns, ps);
		conn_shut(c);
		return true;
	}
	return false;
}

/* Append to the connection's partial-message buffer, within the bounds:
 * TCP_BUF_MAX per connection, TCP_BUF_BUDGET for all beyond the first
 * TCP_BUF_FREE octets of each. 0, EOVERFLOW, ENOBUFS or ENOMEM. */
static int conn_buf_put(struct sipd_conn *c, const uint8_t *p, size_t n)
{
	struct sipd *sd = c->sd;
	size_t have = c->buf ? c->buf->end : 0, need = have + n;
	size_t old = c->buf ? c->buf->size : 0;

	/* Nothing to add, nothing to do: without this a connection with no
	 * buffer yet would memcpy zero octets to a NULL buffer (never seen:
	 * conn_recv appends only a non-empty rest; clang's analyzer found
	 * the path). */
	if (!n)
		return 0;
	if (need > TCP_BUF_MAX)
		return EOVERFLOW;
	if (need > old) {
		size_t sz = (need + 1023) & ~(size_t)1023;

		if (sz > TCP_BUF_FREE &&
		    sd->tcp_buffered - old + sz > TCP_BUF_BUDGET)
			return ENOBUFS;
		if (!c->buf) {
			c->buf = mbuf_alloc(sz);
			if (!c->buf)
				return ENOMEM;
		}
		else if (mbuf_resize(c->buf, sz)) {
			return ENOMEM;
		}
		sd->tcp_buffered += c->buf->size - old;
	}
	memcpy(c->buf->buf + have, p, n);
	c->buf->end = need;
	c->buf->pos = 0;
	return 0;
}

enum sipd_frame sipd_tcp_frame(const char *p, size_t len, uint8_t *crlf,
			       size_t *n)
{
	size_t m = 0;
	int err;

	*n = 0;
	if (!len)
		return SIPD_FRAME_MORE;
	if (*p == '\r' || *p == '\n') {
		/* RFC 5626 4.4.1: CRLFCRLF between messages is a ping */
		*n = 1;
		if (++*crlf < 4)
			return SIPD_FRAME_SKIP;
		*crlf = 0;
		return SIPD_FRAME_PONG;
	}
	*crlf = 0;
	err = sipmsg_frame(p, len, &m);
	if (err == EAGAIN)
		return SIPD_FRAME_MORE;
	*n = m;
	return err ? SIPD_FRAME_BAD : SIPD_FRAME_MSG;
}

/* Handle every complete message at the start of p[0..len); returns the
 * octets used. Stops when the connection was shut. */
static size_t conn_feed(struct sipd_conn *c, const char *p, size_t len)
{
	struct sipd *sd = c->sd;
	enum sipd_tp tp = c->tls ? SIPD_TLS : SIPD_TCP;
	size_t pos = 0;

	while (pos < len && c->tc) {
		const char *q = p + pos;
		size_t n = 0;

		switch (sipd_tcp_frame(q, len - pos, &c->crlf, &n)) {
		case SIPD_FRAME_MORE:
			return pos;
		case SIPD_FRAME_SKIP:
			pos += n;
			break;
		case SIPD_FRAME_PONG:
			pos += n;
			sd->c_tcp_pong++;
			(void)sipd_send_raw(sd, tp, &c->peer, c->id,
					    "\r\n", 2);
			if (c->tc && c->state == CONN_REG)
				tmr_start(&c->idle, conn_idle_ms(sd, c->state),
					  conn_idle, c);
			break;
		case SIPD_FRAME_BAD:
			/* unframeable stream: answer the head (400), close */
			if (n)
				sipd_input(sd, tp, &c->peer, c->id, q, n);
			sd->c_bad++;
			conn_shut(c);
			return pos;
		case SIPD_FRAME_MSG:
			sipd_input(sd, tp, &c->peer, c->id, q, n);
			pos += n;
			/* only whole messages renew a connection, and only
			 * one that has sent a valid request */
			if (c->tc && c->state != CONN_NEW)
				tmr_start(&c->idle, conn_idle_ms(sd, c->state),
					  conn_idle, c);
			break;
		}
	}
	return pos;
}

static void conn_recv(struct mbuf *mb, void *arg)
{
	struct sipd_conn *c = arg;
	struct sipd *sd = c->sd;
	const uint8_t *in = mbuf_buf(mb);
	size_t inl = mbuf_get_left(mb), used;
	int err = 0;

	if (!c->tc)
		return;
	mem_ref(c);
	if (c->buf) {
		size_t rest;

		err = conn_buf_put(c, in, inl);
		if (err)
			goto overflow;
		used = conn_feed(c, (const char *)c->buf->buf, c->buf->end);
		if (!c->tc)
			goto out;
		rest = c->buf->end - used;
		if (!rest) {
			conn_buf_free(c);
		}
		else if (used) {
			memmove(c->buf->buf, c->buf->buf + used, rest);
			c->buf->end = rest;
		}
	}
	else {
		/* the usual case, a whole message in one segment: handled in
		 * libre's buffer, nothing kept */
		used = conn_feed(c, (const char *)in, inl);
		if (!c->tc)
			goto out;
		if (used < inl) {
			err = conn_buf_put(c, in + used, inl - used);
			if (err)
				goto overflow;
		}
	}
	/* the deadline runs from a message's first octet: more octets of
	 * the same message never move it */
	if (!c->buf)
		tmr_cancel(&c->deadline);
	else if (used || !tmr_isrunning(&c->deadline))
		tmr_start(&c->deadline, TCP_MSG_MS, conn_deadline, c);
	goto out;

 overflow:
	{
		char ps[64];

		sd->c_tcp_overflow++;
		sipd_peer_str(&c->peer, ps, sizeof(ps));
		sipd_tcp_log(sd, LOG_LVL_INFO, "tcp: %s: %s: connection closed",
			ps, err == EOVERFLOW ? "message too large" :
			"partial messages over their memory budget");
		conn_shut(c);
	}
 out:
	mem_deref(c);
}

static void on_tcp_conn(const struct sa *peer, void *arg)
{
	struct sipd *sd = arg;
	struct tcp_sock *ts = sa_af(peer) == AF_INET && sd->ts4 ? sd->ts4 :
		(sd->ts6 ? sd->ts6 : sd->ts4);

	sipd_conn_accept(sd, ts, peer, false);
}

void sipd_conn_accept(struct sipd *sd, struct tcp_sock *ts,
		      const struct sa *peer, bool tls)
{
	struct sipd_conn *c;
	struct conn_src *s;
	struct sa p = *peer;
	char ps[64];
	int err;

	sipd_sa_unmap(&p);
	if (guard_packet(sd->guard, &p) == GUARD_DROP)
		goto reject;
	sipd_peer_str(&p, ps, sizeof(ps));
	s = src_find(sd, &p);
	if (s && s->n >= sd->per_src) {
		sd->c_tcp_refused_src++;
		sipd_tcp_log(sd, LOG_LVL_WARN, "tcp: %s holds %u unregistered "
			"connections (tcp_per_source): refused", ps, s->n);
		goto reject;
	}
	/* tls: the global cap on handshakes in progress */
	if (tls && !sipd_tls_admit(sd, ps))
		goto reject;
	if (sd->n_conns >= sd->max_conns && !conn_evict(sd)) {
		sd->c_tcp_refused_full++;
		sipd_tcp_log(sd, LOG_LVL_WARN, "tcp: %zu connections, all "
			"registered (the limit): %s refused", sd->n_conns, ps);
		goto reject;
	}
	s = src_get(sd, &p);
	c = s ? mem_zalloc(sizeof(*c), conn_destructor) : NULL;
	if (!c) {
		if (s && !s->n)
			mem_deref(s);
		goto reject;
	}
	c->sd = sd;
	c->peer = p;
	c->id = ++sd->next_conn;
	c->tls = tls;
	err = tcp_accept(&c->tc, ts, tls ? sipd_tls_estab : NULL, conn_recv,
			 conn_close, c);
	if (err) {
		/* e.g. EMFILE: the descriptor limit is shared with the rest
		 * of the daemon */
		sipd_tcp_log(sd, LOG_LVL_WARN, "tcp: cannot accept %s: %s", ps,
			strerror(err));
		c->tc = NULL;
		mem_deref(c);
		if (!s->n)
			mem_deref(s);
		goto reject;
	}
	/* a peer that sends without reading cannot make us queue replies */
	tcp_conn_txqsz_set(c->tc, TCP_TXQ_MAX);
	c->src = s;
	s->n++;
	hash_append(sd->conns, (uint32_t)c->id, &c->le, c);
	list_append(&sd->conn_old[CONN_NEW], &c->ole, c);
	sd->n_conns++;
	if (sd->n_conns > sd->conn_hw)
		sd->conn_hw = sd->n_conns;
	/* not renewed by anything: a valid request must come first */
	tmr_start(&c->idle, TCP_NEW_MS, conn_idle, c);
	/* tls: the layer and the handshake deadline */
	if (tls && sipd_tls_attach(c))
		conn_shut(c);
	return;
 reject:
	tcp_reject(ts);
}

/* outbound connections (transport_out.c) share the table */
struct sipd_conn *sipd_conn_new(struct sipd *sd, const struct sa *peer,
				bool tls)
{
	struct sipd_conn *c = mem_zalloc(sizeof(*c), conn_destructor);

	if (!c)
		return NULL;
	c->sd = sd;
	c->peer = *peer;
	sipd_sa_unmap(&c->peer);
	c->id = ++sd->next_conn;
	c->tls = tls;
	c->state = CONN_REG;
	return c;
}

void sipd_conn_table_add(struct sipd_conn *c)
{
	struct sipd *sd = c->sd;

	hash_append(sd->conns, (uint32_t)c->id, &c->le, c);
	sd->n_conns++;
	sd->n_conn_reg++;
	if (sd->n_conns > sd->conn_hw)
		sd->conn_hw = sd->n_conns;
}

void sipd_conn_recvh(struct mbuf *mb, void *arg)
{
	conn_recv(mb, arg);
}

/* The connection table's bound: below the descriptor limit (raised to
 * the hard limit by the daemon at start, which also sizes libre's
 * descriptor table to it), keeping room for everything else the process
 * opens. */
void sipd_tcp_limits(struct sipd *sd)
{
	struct rlimit rl;
	size_t lim = 1024, reserve;

	if (!getrlimit(RLIMIT_NOFILE, &rl))
		lim = rl.rlim_cur == RLIM_INFINITY ||
			rl.rlim_cur > TCP_CONNS_MAX * 2 ?
			(size_t)TCP_CONNS_MAX * 2 : (size_t)rl.rlim_cur;
	reserve = lim / 8 > TCP_FD_RESERVE_MIN ? lim / 8 : TCP_FD_RESERVE_MIN;
	sd->max_conns = lim > 2 * reserve ? lim - reserve : lim / 2;
	if (sd->max_conns > TCP_CONNS_MAX)
		sd->max_conns = TCP_CONNS_MAX;
}

int sipd_tcp_listen(struct sipd *sd, struct tcp_sock **tsp,
		    const struct sa *laddr,
		    void (*connh)(const struct sa *peer, void *arg))
{
	struct tcp_sock *ts = NULL;
	int err;

	err = tcp_sock_alloc(&ts, laddr, connh, sd);
	if (!err)
		err = tcp_sock_bind(ts, laddr);
	/* tcp_listen() hard-codes a backlog of 5: listen ourselves */
	if (!err)
		err = tcp_sock_listen(ts, 1024);
	if (err) {
		mem_deref(ts);
		return err;
	}
	*tsp = ts;
	return 0;
}

/* Called by the sweep, once a second. */
void sipd_tcp_trim(struct sipd *sd)
{
	/* After a connection flood has drained, hand the freed heap back:
	 * glibc keeps it otherwise (269 MB stayed resident, issue 8). */
	if (sd->conn_hw >= TCP_TRIM_MIN && sd->n_conns <= sd->conn_hw / 4) {
		sd->conn_hw = sd->n_conns;
		sd->c_trim++;
#ifdef __GLIBC__
		(void)malloc_trim(0);
#endif
	}
}

/* ---- listeners ------------------------------------------------------ */

void sipd_listeners_close(struct sipd *sd, bool udp, bool tcp)
{
	if (udp) {
		sd->us4 = mem_deref(sd->us4);
		sd->us6 = mem_deref(sd->us6);
		if (sd->ub) {
			udp_lsn_stop(&sd->ub->lsn[0]);
			udp_lsn_stop(&sd->ub->lsn[1]);
		}
	}
	if (tcp) {
		sd->ts4 = mem_deref(sd->ts4);
		sd->ts6 = mem_deref(sd->ts6);
	}
}

static int listen_addr(struct sipd *sd, const char *key, struct sa *a,
		       bool *any)
{
	const json_t *o = sd->snap && sd->snap->sections ?
		json_object_get(sd->snap->sections, "sip") : NULL;

	*any = false;
	if (sd->listen)
		return sa_decode(a, sd->listen, strlen(sd->listen));
	*any = true;
	return sa_set_str(a, "::", (uint16_t)sipd_setting(o, key));
}

int sipd_listeners_open(struct sipd *sd, bool udp, bool tcp)
{
	const int want = 8 * 1024 * 1024;
	const json_t *o = sd->snap && sd->snap->sections ?
		json_object_get(sd->snap->sections, "sip") : NULL;
	int rcv = (int)sipd_setting(o, "udp_rcvbuf");
	struct sa a;
	bool any;
	int err;

	if (rcv <= 0)
		rcv = want;
	if (udp) {
		err = listen_addr(sd, "udp_port", &a, &any);
		if (err)
			return err;
		if (!any)
			err = udp_open(sd, sa_af(&a) == AF_INET ? &sd->us4 :
				       &sd->us6, &a, rcv);
		else {
			/* dual stack on [::]; plain IPv4 if IPv6 is off */
			err = udp_open(sd, &sd->us6, &a, rcv);
			if (err) {
				sa_set_str(&a, "0.0.0.0", sa_port(&a));
				err = udp_open(sd, &sd->us4, &a, rcv);
			}
		}
		if (err)
			return err;
		sd->laddr = a;
	}
	if (tcp) {
		err = listen_addr(sd, "tcp_port", &a, &any);
		if (err)
			return err;
		if (!any)
			err = sipd_tcp_listen(sd, sa_af(&a) == AF_INET ?
					      &sd->ts4 : &sd->ts6, &a,
					      on_tcp_conn);
		else {
			err = sipd_tcp_listen(sd, &sd->ts6, &a, on_tcp_conn);
			if (err) {
				sa_set_str(&a, "0.0.0.0", sa_port(&a));
				err = sipd_tcp_listen(sd, &sd->ts4, &a,
						      on_tcp_conn);
			}
		}
		if (err)
			return err;
	}
	return 0;
}

static bool conn_free_h(struct le *le, void *arg)
{
	(void)arg;
	conn_shut(le->data);
	return false;
}

/* libre's lines go to our log from now on (sipd_alloc, once listening). */
void sipd_dbg_route(struct sipd *sd)
{
	dbg_handler_set(libre_dbg, NULL);
	sd->dbg_owner = true;
}

/* The transports' part of sipd's destructor: listeners, every
 * connection, the per-source table and libre's print handler. */
void sipd_transport_free(struct sipd *sd)
{
	sipd_listeners_close(sd, true, true);
	sipd_tls_free(sd);   /* tls: listener and context */
	udp_batch_free(sd);
	if (sd->conns) {
		hash_apply(sd->conns, conn_free_h, NULL);
		sd->conns = mem_deref(sd->conns);
	}
	sipd_out_free(sd);   /* notices not delivered yet */
	/* every source entry went with its last connection */
	sd->conn_srcs = mem_deref(sd->conn_srcs);
	if (sd->dbg_owner)
		dbg_handler_set(NULL, NULL);
}

/* ---- status and control --------------------------------------------- */

/* The TCP side of the status: how full, and what the limits did. */
json_t *sipd_tcp_status(const struct sipd *sd)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, "
			 "s:I, s:I, s:I, s:I, s:I}}",
			 "connections", (json_int_t)sd->n_conns,
			 "registered", (json_int_t)sd->n_conn_reg,
			 "limit", (json_int_t)sd->max_conns,
			 "per_source", (json_int_t)sd->per_src,
			 "buffered_bytes", (json_int_t)sd->tcp_buffered,
			 "counters",
			 "refused_per_source",
			 (json_int_t)sd->c_tcp_refused_src,
			 "refused_full", (json_int_t)sd->c_tcp_refused_full,
			 "evicted", (json_int_t)sd->c_tcp_evicted,
			 "closed_idle", (json_int_t)sd->c_tcp_idle,
			 "closed_deadline", (json_int_t)sd->c_tcp_deadline,
			 "closed_overflow", (json_int_t)sd->c_tcp_overflow,
			 "send_failed", (json_int_t)sd->c_tcp_send_fail,
			 "pongs", (json_int_t)sd->c_tcp_pong,
			 "heap_trims", (json_int_t)sd->c_trim);
}

int sipd_transport_set(struct sipd *sd, const char *transport, bool on)
{
	bool udp, tcp;
	int err = 0;

	if (!transport)
		return EINVAL;
	if (!strcmp(transport, "tls"))
		return sd ? sipd_tls_set(sd, on) : EINVAL;   /* tls */
	udp = !strcmp(transport, "udp");
	tcp = !strcmp(transport, "tcp");
	if (!udp && !tcp)
		return EINVAL;
	if (!sd)
		return EINVAL;
	if (!on) {
		sipd_listeners_close(sd, udp, tcp);
		if (udp)
			sd->udp_on = false;
		else
			sd->tcp_on = false;
		return 0;
	}
	if ((udp && sd->udp_on) || (tcp && sd->tcp_on))
		return 0;
	err = sipd_listeners_open(sd, udp, tcp);
	if (err) {
		sipd_listeners_close(sd, udp, tcp);
		return err;
	}
	if (udp)
		sd->udp_on = true;
	else
		sd->tcp_on = true;
	return 0;
}
