/*
 * Unit tests of the media relay with real UDP sockets on loopback: the
 * test plays both phones (and an attacker on another loopback address)
 * and drives the relay through its owner API, reading its events.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include <re.h>

#include "media/relay.h"
#include "media/callrec.h"
#include "media/g711.h"

/* a range of our own per process: several test runs (plain, ASan) may
 * run at once on this machine */
static uint16_t range_base(unsigned slot)
{
	/* 13 slots of 8 ports in a block of 120 per process */
	return (uint16_t)(40000 + ((unsigned)getpid() % 200) * 120 + slot * 8);
}

static struct sa ip4(const char *ip, uint16_t port)
{
	struct sa a;

	memset(&a, 0, sizeof(a));
	a.u.in.sin_family = AF_INET;
	a.u.in.sin_port = htons(port);
	inet_pton(AF_INET, ip, &a.u.in.sin_addr);
	a.len = sizeof(a.u.in);
	return a;
}

static uint16_t port_of(const struct sa *a)
{
	return ntohs(a->u.in.sin_port);
}

/* A phone's socket: bound on ip, any port; *addr = where it is. */
static int phone(const char *ip, struct sa *addr)
{
	struct sa a = ip4(ip, 0);
	socklen_t len = sizeof(a.u.in);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, &a.u.sa, a.len), 0);
	assert_int_equal(getsockname(fd, &a.u.sa, &len), 0);
	a.len = len;
	if (addr)
		*addr = a;
	return fd;
}

static void send_to(int fd, const void *p, size_t len, const char *ip,
		    uint16_t port)
{
	struct sa to = ip4(ip, port);

	assert_int_equal(sendto(fd, p, len, 0, &to.u.sa, to.len), (ssize_t)len);
}

static void rtp(int fd, uint16_t port, uint16_t seq, uint32_t ssrc)
{
	uint8_t p[172];

	memset(p, 0xd5, sizeof(p));           /* A-law silence */
	p[0] = 0x80;
	p[1] = 8;                             /* PCMA */
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	memset(p + 4, 0, 4);
	p[8] = (uint8_t)(ssrc >> 24);
	p[9] = (uint8_t)(ssrc >> 16);
	p[10] = (uint8_t)(ssrc >> 8);
	p[11] = (uint8_t)ssrc;
	send_to(fd, p, sizeof(p), "127.0.0.1", port);
}

static void rtcp(int fd, uint16_t port, uint32_t ssrc)
{
	uint8_t p[28] = {0x80, 200, 0, 6};    /* SR, no report block */

	p[4] = (uint8_t)(ssrc >> 24);
	p[7] = (uint8_t)ssrc;
	send_to(fd, p, sizeof(p), "127.0.0.1", port);
}

/* Waits up to ms for a datagram; returns its length (-1 = none), its
 * source in *from, the SSRC of an RTP packet in *ssrc. */
static ssize_t recv_wait(int fd, int ms, struct sa *from, uint32_t *ssrc)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	uint8_t p[2048];
	struct sa a;
	socklen_t len = sizeof(a.u);
	ssize_t n;

	if (from)
		memset(from, 0, sizeof(*from));
	if (poll(&pfd, 1, ms) != 1)
		return -1;
	memset(&a, 0, sizeof(a));
	n = recvfrom(fd, p, sizeof(p), 0, &a.u.sa, &len);
	a.len = len;
	if (from)
		*from = a;
	if (ssrc && n >= 12)
		*ssrc = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 |
			(uint32_t)p[10] << 8 | p[11];
	return n;
}

/* Drains what is queued on fd; returns how many datagrams. */
static unsigned drain(int fd, int ms)
{
	unsigned n = 0;

	while (recv_wait(fd, ms, NULL, NULL) >= 0)
		n++;
	return n;
}

/* ---- events ------------------------------------------------------------ */

#define MAXEV 256
static struct relay_event evs[MAXEV];
static unsigned nev;

static void on_event(const struct relay_event *ev, void *arg)
{
	(void)arg;
	if (nev < MAXEV)
		evs[nev++] = *ev;
}

/* Waits up to ms for an event of type for session id; copies it. */
static bool wait_event(struct relay *r, enum relay_ev_type type, uint32_t id,
		       int ms, struct relay_event *out)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pfd = {.fd = relay_event_fd(r), .events = POLLIN};
		unsigned i;
		long el;

		for (i = 0; i < nev; i++) {
			if (evs[i].type == type && evs[i].id == id) {
				if (out)
					*out = evs[i];
				memmove(&evs[i], &evs[i + 1],
					(nev - i - 1) * sizeof(evs[0]));
				nev--;
				return true;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		el = (t.tv_sec - t0.tv_sec) * 1000 +
		     (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (el >= ms)
			return false;
		(void)poll(&pfd, 1, (int)(ms - el));
		relay_events_poll(r, on_event, NULL, MAXEV);
	}
}

static void counters_once(struct relay *r, uint32_t id,
			  struct relay_event *ev)
{
	assert_int_equal(relay_session_query(r, id), 0);
	assert_true(wait_event(r, RELAY_EV_COUNTERS, id, 5000, ev));
}

/* The counters once the relay's threads are done with what was sent: a
 * datagram may reach its receiver before the thread that sent it has
 * counted it, so ask until two answers 50 ms apart agree (a loaded
 * machine made the exact counts below flaky). */
static void counters(struct relay *r, uint32_t id, struct relay_event *ev)
{
	struct relay_event prev;

	counters_once(r, id, &prev);
	for (int i = 0; i < 40; i++) {
		bool same = true;

		usleep(50000);
		counters_once(r, id, ev);
		for (int k = 0; k < 2; k++)
			same = same &&
			       ev->stats[k].in_pkts == prev.stats[k].in_pkts &&
			       ev->stats[k].out_pkts == prev.stats[k].out_pkts;
		if (same)
			return;
		prev = *ev;
	}
}

/* every test runs twice: the default I/O (io_uring where the build and
 * the kernel have it), then the epoll loop */
static bool epoll_only;

static struct relay *mk_relay(unsigned slot, unsigned pairs, unsigned threads)
{
	struct relay_conf c;
	struct relay *r = NULL;

	relay_conf_default(&c);
	c.epoll_only = epoll_only;
	c.local = ip4("127.0.0.1", 0);
	c.port_min = range_base(slot);
	c.port_max = (uint16_t)(c.port_min + 2 * pairs - 1);
	c.threads = threads;
	c.timeout_ms = 300;
	c.relearn_ms = 300;
	c.notify_ms = 100;
	assert_int_equal(relay_alloc(&r, &c), 0);
	nev = 0;
	return r;
}

static void set_leg(struct relay *r, uint32_t id, enum relay_leg leg,
		    const struct sa *rtp_addr, const struct sa *rtcp_addr,
		    bool nat, const char *latch_from)
{
	struct relay_leg_conf lc;

	memset(&lc, 0, sizeof(lc));
	if (rtp_addr)
		lc.rtp = *rtp_addr;
	if (rtcp_addr)
		lc.rtcp = *rtcp_addr;
	lc.nat = nat;
	if (latch_from)
		lc.latch_from = ip4(latch_from, 0);
	assert_int_equal(relay_leg_set(r, id, leg, &lc), 0);
}

/* A call: two phones (RTP + RTCP sockets each) on 127.0.0.1, no NAT. */
struct call {
	struct relay *r;
	uint32_t id;
	struct relay_ports p[2];
	int rtp[2], rtcp[2];
	struct sa a_rtp[2], a_rtcp[2];
};

static void call_open(struct call *c, struct relay *r, bool nat_a)
{
	unsigned l;

	memset(c, 0, sizeof(*c));
	c->r = r;
	assert_int_equal(relay_session_create(r, 42, &c->id, c->p), 0);
	for (l = 0; l < 2; l++) {
		c->rtp[l] = phone("127.0.0.1", &c->a_rtp[l]);
		c->rtcp[l] = phone("127.0.0.1", &c->a_rtcp[l]);
		assert_int_equal(c->p[l].rtp % 2, 0);
		assert_int_equal(c->p[l].rtcp, c->p[l].rtp + 1);
	}
	if (nat_a) {
		/* the SDP of a phone behind NAT names its private address */
		struct sa priv = ip4("127.0.0.99", 4000);

		set_leg(r, c->id, RELAY_LEG_A, &priv, NULL, true, NULL);
	} else {
		set_leg(r, c->id, RELAY_LEG_A, &c->a_rtp[0], &c->a_rtcp[0],
			false, NULL);
	}
	set_leg(r, c->id, RELAY_LEG_B, &c->a_rtp[1], &c->a_rtcp[1], false,
		NULL);
}

static void call_close(struct call *c)
{
	unsigned l;

	for (l = 0; l < 2; l++) {
		close(c->rtp[l]);
		close(c->rtcp[l]);
	}
}

/* ---- tests ------------------------------------------------------------- */

static void test_conf(void **state)
{
	struct relay_conf c;
	struct relay *r = NULL;

	(void)state;
	relay_conf_default(&c);
	assert_int_equal(c.port_min, 10000);
	assert_int_equal(c.port_max, 20000);
	assert_int_equal(c.timeout_ms, 60000);
	c.port_min = 10001;
	assert_int_equal(relay_alloc(&r, &c), EINVAL);
	c.port_min = 20000;
	c.port_max = 10000;
	assert_int_equal(relay_alloc(&r, &c), EINVAL);
	c.port_min = 10000;
	c.port_max = 10002;                    /* one pair only */
	assert_int_equal(relay_alloc(&r, &c), EINVAL);
	c.port_max = 20000;
	c.threads = 0;
	assert_int_equal(relay_alloc(&r, &c), EINVAL);
	c.threads = RELAY_MAX_THREADS + 1;
	assert_int_equal(relay_alloc(&r, &c), EINVAL);
	assert_null(r);
	assert_null(relay_free(NULL));
}

static void test_forward_both_ways(void **state)
{
	struct relay *r = mk_relay(0, 4, 1);
	struct relay_event ev;
	struct call c;
	struct sa from;
	uint32_t ssrc = 0;
	unsigned i, got;

	(void)state;
	call_open(&c, r, false);
	/* A → B, RTP: arrives from B's relay port */
	for (i = 0; i < 10; i++)
		rtp(c.rtp[0], c.p[0].rtp, (uint16_t)i, 0xa);
	for (got = 0; got < 10; got++) {
		assert_int_equal(recv_wait(c.rtp[1], 1000, &from, &ssrc), 172);
		assert_int_equal(ssrc, 0xa);
		assert_int_equal(port_of(&from), c.p[1].rtp);
	}
	/* B → A */
	for (i = 0; i < 7; i++)
		rtp(c.rtp[1], c.p[1].rtp, (uint16_t)i, 0xb);
	for (got = 0; got < 7; got++) {
		assert_int_equal(recv_wait(c.rtp[0], 1000, &from, &ssrc), 172);
		assert_int_equal(ssrc, 0xb);
		assert_int_equal(port_of(&from), c.p[0].rtp);
	}
	/* RTCP both ways, on the RTCP ports */
	rtcp(c.rtcp[0], c.p[0].rtcp, 0xa);
	assert_int_equal(recv_wait(c.rtcp[1], 1000, &from, NULL), 28);
	assert_int_equal(port_of(&from), c.p[1].rtcp);
	rtcp(c.rtcp[1], c.p[1].rtcp, 0xb);
	assert_int_equal(recv_wait(c.rtcp[0], 1000, &from, NULL), 28);
	assert_int_equal(port_of(&from), c.p[0].rtcp);

	counters(r, c.id, &ev);
	assert_int_equal(ev.tag, 42);
	assert_int_equal(ev.stats[0].in_pkts, 11);
	assert_int_equal(ev.stats[0].in_bytes, 10 * 172 + 28);
	assert_int_equal(ev.stats[0].out_pkts, 8);
	assert_int_equal(ev.stats[1].in_pkts, 8);
	assert_int_equal(ev.stats[1].out_pkts, 11);
	assert_int_equal(ev.stats[0].rtp_expected, 10);
	assert_int_equal(ev.stats[0].rtp_lost, 0);
	assert_true(ev.stats[0].last_seen_ms > 0);
	assert_int_equal(ev.stats[0].drop_source, 0);

	/* destroy: final counters for the CDR */
	assert_int_equal(relay_session_destroy(r, c.id), 0);
	assert_true(wait_event(r, RELAY_EV_DESTROYED, c.id, 2000, &ev));
	assert_int_equal(ev.stats[1].out_pkts, 11);
	assert_int_equal(relay_session_destroy(r, c.id), ENOENT);
	assert_int_equal(relay_session_query(r, c.id), ENOENT);
	call_close(&c);
	relay_free(r);
}

static void test_loss_estimate(void **state)
{
	struct relay *r = mk_relay(1, 4, 1);
	struct relay_event ev;
	struct call c;
	unsigned i;

	(void)state;
	call_open(&c, r, false);
	/* 100 packets with 10 missing, across the 16-bit wrap */
	for (i = 0; i < 100; i++)
		if (i % 10 != 5)
			rtp(c.rtp[0], c.p[0].rtp, (uint16_t)(65500 + i), 7);
	assert_int_equal(drain(c.rtp[1], 300), 90);
	/* a new SSRC (e.g. DTMF from a pcap) starts a new run */
	for (i = 0; i < 5; i++)
		rtp(c.rtp[0], c.p[0].rtp, (uint16_t)(1000 + 2 * i), 8);
	assert_int_equal(drain(c.rtp[1], 300), 5);
	counters(r, c.id, &ev);
	assert_int_equal(ev.stats[0].rtp_expected, 100 + 9);
	assert_int_equal(ev.stats[0].rtp_lost, 10 + 4);
	call_close(&c);
	relay_free(r);
}

static void test_latching(void **state)
{
	struct relay *r = mk_relay(2, 4, 1);
	struct relay_event ev;
	struct call c;
	struct sa other_a, from;
	uint32_t ssrc = 0;
	int other;

	(void)state;
	call_open(&c, r, true);
	/* B speaks first: A's SDP address (private) gets it, A nothing */
	rtp(c.rtp[1], c.p[1].rtp, 1, 0xb);
	assert_int_equal(recv_wait(c.rtp[0], 200, NULL, NULL), -1);
	/* A's first packet: latched onto its real (public) address */
	rtp(c.rtp[0], c.p[0].rtp, 1, 0xa);
	assert_int_equal(recv_wait(c.rtp[1], 1000, NULL, &ssrc), 172);
	assert_int_equal(ssrc, 0xa);
	assert_true(wait_event(r, RELAY_EV_LATCHED, c.id, 1000, &ev));
	assert_int_equal(ev.leg, RELAY_LEG_A);
	assert_false(ev.rtcp);
	assert_int_equal(port_of(&ev.addr), port_of(&c.a_rtp[0]));
	/* now B reaches A */
	rtp(c.rtp[1], c.p[1].rtp, 2, 0xb);
	assert_int_equal(recv_wait(c.rtp[0], 1000, &from, &ssrc), 172);
	assert_int_equal(port_of(&from), c.p[0].rtp);
	/* RTCP latches on its own */
	rtcp(c.rtcp[0], c.p[0].rtcp, 0xa);
	assert_int_equal(recv_wait(c.rtcp[1], 1000, NULL, NULL), 28);
	rtcp(c.rtcp[1], c.p[1].rtcp, 0xb);
	assert_int_equal(recv_wait(c.rtcp[0], 1000, NULL, NULL), 28);

	/* strict source: another port of the same host is refused */
	other = phone("127.0.0.1", &other_a);
	rtp(other, c.p[0].rtp, 3, 0xee);
	assert_int_equal(recv_wait(c.rtp[1], 200, NULL, NULL), -1);
	counters(r, c.id, &ev);
	assert_int_equal(ev.stats[0].drop_source, 1);
	assert_int_equal(port_of(&ev.stats[0].rtp_src), port_of(&c.a_rtp[0]));
	/* a new SDP for the latched leg does not move it */
	set_leg(r, c.id, RELAY_LEG_A, &other_a, NULL, true, NULL);
	rtp(other, c.p[0].rtp, 4, 0xee);
	assert_int_equal(recv_wait(c.rtp[1], 200, NULL, NULL), -1);
	rtp(c.rtp[0], c.p[0].rtp, 5, 0xa);
	assert_int_equal(recv_wait(c.rtp[1], 1000, NULL, NULL), 172);
	close(other);
	call_close(&c);
	relay_free(r);
}

static void test_latch_from(void **state)
{
	struct relay *r = mk_relay(3, 4, 1);
	struct relay_event ev;
	struct call c;
	struct sa good_a;
	int good;
	uint32_t ssrc = 0;

	(void)state;
	call_open(&c, r, false);
	/* A is behind NAT and its SIP came from 127.0.0.2: only that
	 * address may latch, whatever reaches the port first */
	set_leg(r, c.id, RELAY_LEG_A, NULL, NULL, true, "127.0.0.2");
	rtp(c.rtp[0], c.p[0].rtp, 1, 0xee);          /* from 127.0.0.1 */
	assert_int_equal(recv_wait(c.rtp[1], 200, NULL, NULL), -1);
	good = phone("127.0.0.2", &good_a);
	rtp(good, c.p[0].rtp, 2, 0xa);
	assert_int_equal(recv_wait(c.rtp[1], 1000, NULL, &ssrc), 172);
	assert_int_equal(ssrc, 0xa);
	counters(r, c.id, &ev);
	assert_int_equal(ev.stats[0].drop_source, 1);
	assert_true(ev.stats[0].rtp_src.u.in.sin_addr.s_addr ==
		    good_a.u.in.sin_addr.s_addr);
	close(good);
	call_close(&c);
	relay_free(r);
}

static void test_spray_dropped(void **state)
{
	struct relay *r = mk_relay(4, 4, 1);
	struct relay_event ev;
	struct call c;
	struct sa atk_a;
	int atk;
	unsigned i, k, got_a = 0, got_b = 0;
	uint16_t ports[4];

	(void)state;
	call_open(&c, r, true);
	/* the call's audio starts: A latches */
	rtp(c.rtp[0], c.p[0].rtp, 0, 0xa);
	assert_int_equal(recv_wait(c.rtp[1], 1000, NULL, NULL), 172);
	ports[0] = c.p[0].rtp;
	ports[1] = c.p[0].rtcp;
	ports[2] = c.p[1].rtp;
	ports[3] = c.p[1].rtcp;
	atk = phone("127.0.0.3", &atk_a);
	for (i = 1; i <= 50; i++) {
		/* a third address sprays every port of the session (RTP
		 * and RTCP-looking packets), and the whole range, in
		 * between real audio */
		for (k = 0; k < 4; k++) {
			uint8_t p[172] = {0x80, 8};

			p[1] = k % 2 ? 200 : 8;
			p[11] = 0x66;
			send_to(atk, p, sizeof(p), "127.0.0.1", ports[k]);
		}
		for (k = 0; k < 8; k++) {
			uint16_t port = (uint16_t)(range_base(4) + k);

			uint8_t p[12] = {0x80, 8};

			if (port != ports[0] && port != ports[1] &&
			    port != ports[2] && port != ports[3])
				send_to(atk, p, sizeof(p), "127.0.0.1", port);
		}
		rtp(c.rtp[0], c.p[0].rtp, (uint16_t)i, 0xa);
		rtp(c.rtp[1], c.p[1].rtp, (uint16_t)i, 0xb);
	}
	for (;;) {
		uint32_t ssrc = 0;

		if (recv_wait(c.rtp[1], 300, NULL, &ssrc) < 0)
			break;
		assert_int_equal(ssrc, 0xa);
		got_b++;
	}
	for (;;) {
		uint32_t ssrc = 0;

		if (recv_wait(c.rtp[0], 300, NULL, &ssrc) < 0)
			break;
		assert_int_equal(ssrc, 0xb);
		got_a++;
	}
	assert_int_equal(got_b, 50);
	assert_int_equal(got_a, 50);
	assert_int_equal(drain(c.rtcp[0], 50), 0);
	assert_int_equal(drain(c.rtcp[1], 50), 0);
	counters(r, c.id, &ev);
	assert_int_equal(ev.stats[0].drop_source, 100);
	assert_int_equal(ev.stats[1].drop_source, 100);
	assert_int_equal(ev.stats[0].in_pkts, 51);
	assert_int_equal(ev.stats[1].out_pkts, 51);
	/* the owner heard of it, with the attacker's address */
	assert_true(wait_event(r, RELAY_EV_STRICT_DROP, c.id, 1000, &ev));
	assert_true(ev.addr.u.in.sin_addr.s_addr == atk_a.u.in.sin_addr.s_addr);
	close(atk);
	call_close(&c);
	relay_free(r);
}

/* The callee sends before its answer told us its address (the answer
 * and the first RTP race): dropped as early, not counted as injection;
 * once the address is set, the same source goes through. */
static void test_early_not_injection(void **state)
{
	struct relay *r = mk_relay(2, 4, 1);
	struct relay_event ev;
	struct relay_ports p[2];
	struct sa a, b;
	uint32_t id;
	int fa = phone("127.0.0.1", &a), fb = phone("127.0.0.1", &b);

	(void)state;
	assert_int_equal(relay_session_create(r, 7, &id, p), 0);
	set_leg(r, id, RELAY_LEG_A, &a, NULL, false, NULL);
	rtp(fb, p[1].rtp, 1, 0xb);
	rtp(fb, p[1].rtp, 2, 0xb);
	assert_int_equal(recv_wait(fa, 200, NULL, NULL), -1);
	counters(r, id, &ev);
	assert_int_equal(ev.stats[1].drop_early, 2);
	assert_int_equal(ev.stats[1].drop_source, 0);
	set_leg(r, id, RELAY_LEG_B, &b, NULL, false, NULL);
	rtp(fb, p[1].rtp, 3, 0xb);
	assert_int_equal(recv_wait(fa, 1000, NULL, NULL), 172);
	close(fa);
	close(fb);
	relay_free(r);
}

static void test_relearn_window(void **state)
{
	struct relay *r = mk_relay(5, 4, 1);
	struct call c;
	struct sa moved_a, from;
	int moved, late;
	struct timespec wait = {0, 400 * 1000000};

	(void)state;
	call_open(&c, r, true);
	rtp(c.rtp[0], c.p[0].rtp, 0, 0xa);
	assert_int_equal(recv_wait(c.rtp[1], 1000, NULL, NULL), 172);
	/* the phone moves (new NAT binding): refused until a new
	 * offer/answer opens the window */
	moved = phone("127.0.0.1", &moved_a);
	rtp(moved, c.p[0].rtp, 1, 0xa);
	assert_int_equal(recv_wait(c.rtp[1], 200, NULL, NULL), -1);
	assert_int_equal(relay_leg_relearn(r, c.id, RELAY_LEG_A), 0);
	rtp(moved, c.p[0].rtp, 2, 0xa);
	assert_int_equal(recv_wait(c.rtp[1], 1000, NULL, NULL), 172);
	/* B's audio now goes to the new address, not the old one */
	rtp(c.rtp[1], c.p[1].rtp, 1, 0xb);
	assert_int_equal(recv_wait(moved, 1000, &from, NULL), 172);
	assert_int_equal(recv_wait(c.rtp[0], 100, NULL, NULL), -1);
	/* the old address is now a stranger */
	rtp(c.rtp[0], c.p[0].rtp, 3, 0xa);
	assert_int_equal(recv_wait(c.rtp[1], 200, NULL, NULL), -1);
	/* a second window that nobody uses closes: a late mover is refused */
	assert_int_equal(relay_leg_relearn(r, c.id, RELAY_LEG_A), 0);
	nanosleep(&wait, NULL);
	late = phone("127.0.0.1", NULL);
	rtp(late, c.p[0].rtp, 4, 0xa);
	assert_int_equal(recv_wait(c.rtp[1], 200, NULL, NULL), -1);
	rtp(moved, c.p[0].rtp, 5, 0xa);
	assert_int_equal(recv_wait(c.rtp[1], 1000, NULL, NULL), 172);
	/* non-nat legs have no window to open */
	assert_int_equal(relay_leg_relearn(r, 0xdead, RELAY_LEG_A), ENOENT);
	close(late);
	close(moved);
	call_close(&c);
	relay_free(r);
}

static void test_timeout_and_hold(void **state)
{
	struct relay *r = mk_relay(6, 4, 1);
	struct relay_event ev;
	struct call c;
	struct timespec t0, t1;
	long ms;

	(void)state;
	call_open(&c, r, false);
	rtp(c.rtp[0], c.p[0].rtp, 0, 0xa);
	assert_int_equal(recv_wait(c.rtp[1], 1000, NULL, NULL), 172);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_true(wait_event(r, RELAY_EV_TIMEOUT, c.id, 3000, &ev));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 250 && ms < 1500);
	assert_int_equal(ev.tag, 42);
	/* once per idle period */
	assert_false(wait_event(r, RELAY_EV_TIMEOUT, c.id, 600, NULL));
	/* media again, then hold: no timeout however long */
	rtp(c.rtp[0], c.p[0].rtp, 1, 0xa);
	assert_int_equal(recv_wait(c.rtp[1], 1000, NULL, NULL), 172);
	assert_int_equal(relay_session_hold(r, c.id, true), 0);
	assert_false(wait_event(r, RELAY_EV_TIMEOUT, c.id, 900, NULL));
	/* resume: the clock starts again */
	assert_int_equal(relay_session_hold(r, c.id, false), 0);
	assert_true(wait_event(r, RELAY_EV_TIMEOUT, c.id, 3000, NULL));
	call_close(&c);
	relay_free(r);
}

static void test_malformed(void **state)
{
	struct relay *r = mk_relay(7, 4, 1);
	struct relay_event ev;
	struct call c;
	uint8_t big[2000], p[64];
	unsigned i, bad = 0;

	(void)state;
	call_open(&c, r, false);
	memset(big, 0, sizeof(big));
	big[0] = 0x80;
	send_to(c.rtp[0], big, sizeof(big), "127.0.0.1", c.p[0].rtp); bad++;
	send_to(c.rtp[0], big, RELAY_MAX_PKT + 1, "127.0.0.1", c.p[0].rtp); bad++;
	send_to(c.rtp[0], big, 11, "127.0.0.1", c.p[0].rtp); bad++;   /* short */
	send_to(c.rtp[0], big, 0, "127.0.0.1", c.p[0].rtp); bad++;    /* empty */
	memset(p, 0, sizeof(p));
	p[0] = 0x40;                                                  /* v1 */
	send_to(c.rtp[0], p, 40, "127.0.0.1", c.p[0].rtp); bad++;
	p[0] = 0x8f;                       /* 15 CSRCs in 40 bytes */
	send_to(c.rtp[0], p, 40, "127.0.0.1", c.p[0].rtp); bad++;
	p[0] = 0x80;
	p[1] = 8;                          /* RTP on the RTCP port */
	send_to(c.rtcp[0], p, 40, "127.0.0.1", c.p[0].rtcp); bad++;
	p[1] = 200;
	send_to(c.rtcp[0], p, 7, "127.0.0.1", c.p[0].rtcp); bad++;   /* short */
	/* random garbage from the right source: dropped or relayed, never a
	 * crash */
	srand(11);
	for (i = 0; i < 2000; i++) {
		size_t len = (size_t)(rand() % (int)sizeof(p));
		unsigned j;

		for (j = 0; j < len; j++)
			p[j] = (uint8_t)rand();
		send_to(c.rtp[0], p, len, "127.0.0.1", c.p[0].rtp);
		if (i % 50 == 0) {
			struct timespec ms1 = {0, 1000000};

			nanosleep(&ms1, NULL);   /* no kernel drop */
			(void)drain(c.rtp[1], 0);
		}
	}
	(void)drain(c.rtp[1], 200);
	/* the exact edge passes: 1500 bytes, 12-byte RTP header */
	big[1] = 8;
	send_to(c.rtp[0], big, RELAY_MAX_PKT, "127.0.0.1", c.p[0].rtp);
	assert_int_equal(recv_wait(c.rtp[1], 1000, NULL, NULL), RELAY_MAX_PKT);
	send_to(c.rtp[0], big, 12, "127.0.0.1", c.p[0].rtp);
	assert_int_equal(recv_wait(c.rtp[1], 1000, NULL, NULL), 12);
	counters(r, c.id, &ev);
	assert_true(ev.stats[0].drop_malformed >= bad);
	assert_int_equal(ev.stats[0].in_pkts + ev.stats[0].drop_malformed,
			 2000 + bad + 2);
	call_close(&c);
	relay_free(r);
}

static void test_exhaustion_and_free(void **state)
{
	struct relay *r = mk_relay(8, 4, 2);   /* 4 pairs = 2 sessions */
	struct relay_ports p1[2], p2[2], p3[2];
	uint32_t id1, id2, id3;
	unsigned total, nfree;
	struct sa a;
	int fd;

	(void)state;
	relay_ports_count(r, &total, &nfree);
	assert_int_equal(total, 4);
	assert_int_equal(nfree, 4);
	assert_int_equal(relay_session_create(r, 1, &id1, p1), 0);
	assert_int_equal(relay_session_create(r, 2, &id2, p2), 0);
	relay_ports_count(r, &total, &nfree);
	assert_int_equal(nfree, 0);
	/* full: a clear error, nothing half-made */
	assert_int_equal(relay_session_create(r, 3, &id3, p3), ENOSPC);
	/* destroy frees the ports at once... */
	assert_int_equal(relay_session_destroy(r, id1), 0);
	relay_ports_count(r, &total, &nfree);
	assert_int_equal(nfree, 2);
	/* ...and the sockets are closed when the event arrives */
	assert_true(wait_event(r, RELAY_EV_DESTROYED, id1, 5000, NULL));
	a = ip4("127.0.0.1", p1[0].rtp);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(bind(fd, &a.u.sa, a.len), 0);
	close(fd);
	assert_int_equal(relay_session_create(r, 3, &id3, p3), 0);
	assert_true(id3 != id1);
	assert_int_equal(relay_session_destroy(r, id1), ENOENT);
	assert_int_equal(relay_session_destroy(r, id2), 0);
	assert_int_equal(relay_session_destroy(r, id3), 0);
	relay_ports_count(r, &total, &nfree);
	assert_int_equal(nfree, 4);
	relay_free(r);
}

static void test_two_instances_threads(void **state)
{
	struct relay *r1 = mk_relay(9, 8, 2);
	struct relay *r2 = mk_relay(10, 8, 1);
	struct call c[4];
	unsigned i;
	uint64_t cpu = 0;

	(void)state;
	/* two relays, own ranges; r1's sessions spread on two threads */
	call_open(&c[0], r1, false);
	call_open(&c[1], r1, false);
	call_open(&c[2], r2, false);
	call_open(&c[3], r2, true);
	for (i = 0; i < 4; i++) {
		uint16_t lo = range_base(i < 2 ? 9 : 10);

		assert_true(c[i].p[0].rtp >= lo && c[i].p[1].rtcp < lo + 16);
		rtp(c[i].rtp[0], c[i].p[0].rtp, 1, i);
		assert_int_equal(recv_wait(c[i].rtp[1], 1000, NULL, NULL), 172);
		rtp(c[i].rtp[1], c[i].p[1].rtp, 1, i);
		assert_int_equal(recv_wait(c[i].rtp[0], 1000, NULL, NULL), 172);
	}
	assert_int_equal(relay_threads_cpu(r1, &cpu), 0);
	/* free with live sessions closes everything */
	for (i = 0; i < 4; i++)
		call_close(&c[i]);
	relay_free(r1);
	relay_free(r2);
}

static void test_bad_args(void **state)
{
	struct relay *r = mk_relay(11, 4, 1);
	struct relay_leg_conf lc;
	struct relay_ports p[2];
	uint32_t id;

	(void)state;
	assert_int_equal(relay_session_create(r, 1, &id, p), 0);
	memset(&lc, 0, sizeof(lc));
	lc.rtp.u.in6.sin6_family = AF_INET6;   /* not this relay's family */
	lc.rtp.u.in6.sin6_port = htons(5000);
	assert_int_equal(relay_leg_set(r, id, RELAY_LEG_A, &lc), EINVAL);
	memset(&lc, 0, sizeof(lc));
	assert_int_equal(relay_leg_set(r, id, (enum relay_leg)2, &lc), EINVAL);
	assert_int_equal(relay_leg_set(r, id, RELAY_LEG_A, NULL), EINVAL);
	assert_int_equal(relay_leg_set(r, id ^ 0x10000, RELAY_LEG_A, &lc),
			 ENOENT);
	assert_int_equal(relay_leg_set(r, id, RELAY_LEG_A, &lc), 0);
	assert_int_equal(relay_session_hold(r, 0, true), ENOENT);
	assert_int_equal(relay_session_create(NULL, 1, &id, p), EINVAL);
	relay_free(r);
}

/* One relay serves one family: an IPv6 relay on ::1 forwards between
 * IPv6 phones and refuses an IPv4 address for a leg. */
static void test_ipv6(void **state)
{
	struct relay_conf c;
	struct relay *r = NULL;
	struct relay_leg_conf lc;
	struct relay_ports p[2];
	struct sockaddr_in6 a6[2];
	uint8_t pkt[172] = {0x80, 8};
	uint32_t id;
	int fd[2];
	unsigned l;

	(void)state;
	relay_conf_default(&c);
	c.epoll_only = epoll_only;
	memset(&c.local, 0, sizeof(c.local));
	c.local.u.in6.sin6_family = AF_INET6;
	c.local.u.in6.sin6_addr = in6addr_loopback;
	c.port_min = range_base(12);
	c.port_max = (uint16_t)(c.port_min + 7);
	assert_int_equal(relay_alloc(&r, &c), 0);
	assert_int_equal(relay_session_create(r, 6, &id, p), 0);
	for (l = 0; l < 2; l++) {
		socklen_t len = sizeof(a6[l]);

		fd[l] = socket(AF_INET6, SOCK_DGRAM, 0);
		memset(&a6[l], 0, sizeof(a6[l]));
		a6[l].sin6_family = AF_INET6;
		a6[l].sin6_addr = in6addr_loopback;
		assert_int_equal(bind(fd[l], (struct sockaddr *)&a6[l],
				      sizeof(a6[l])), 0);
		assert_int_equal(getsockname(fd[l], (struct sockaddr *)&a6[l],
					     &len), 0);
		memset(&lc, 0, sizeof(lc));
		memcpy(&lc.rtp.u.in6, &a6[l], sizeof(a6[l]));
		lc.rtp.len = sizeof(a6[l]);
		assert_int_equal(relay_leg_set(r, id, (enum relay_leg)l, &lc), 0);
	}
	a6[0].sin6_port = htons(p[0].rtp);
	assert_int_equal(sendto(fd[0], pkt, sizeof(pkt), 0,
				(struct sockaddr *)&a6[0], sizeof(a6[0])),
			 (ssize_t)sizeof(pkt));
	assert_int_equal(recv_wait(fd[1], 1000, NULL, NULL), 172);
	memset(&lc, 0, sizeof(lc));
	lc.rtp = ip4("127.0.0.1", 5000);
	assert_int_equal(relay_leg_set(r, id, RELAY_LEG_A, &lc), EINVAL);
	close(fd[0]);
	close(fd[1]);
	relay_free(r);
}

/* The owner's side in libre's loop, as the SIP loop wires it: the event
 * fd under fd_listen, events drained in its handler. */
struct loopctx {
	struct relay *r;
	uint32_t id;
	bool destroyed, timed_out;
	uint64_t b_out;
};

static void loop_event(const struct relay_event *ev, void *arg)
{
	struct loopctx *x = arg;

	if (ev->id != x->id)
		return;
	if (ev->type == RELAY_EV_TIMEOUT) {
		/* the owner ends the call */
		x->timed_out = true;
		assert_int_equal(relay_session_destroy(x->r, x->id), 0);
	} else if (ev->type == RELAY_EV_DESTROYED) {
		x->destroyed = true;
		x->b_out = ev->stats[1].out_pkts;
		re_cancel();
	}
}

static void loop_ready(int flags, void *arg)
{
	struct loopctx *x = arg;

	(void)flags;
	relay_events_poll(x->r, loop_event, x, 256);
}

static void loop_guard(void *arg)
{
	(void)arg;
	re_cancel();                      /* never hang the test */
}

/* Call recording (issue 13): a tap copies what both legs send, and the
 * relay lets go of it when the session closes (the recording completes).
 * Music on hold: leg A moves to another source (an endpoint) with the
 * phone's IP hushed: the phone's packets are dropped quietly (not
 * injection, no event), a third address's still count. */
static void test_tap_and_hushed(void **state)
{
	struct relay *r = mk_relay(5, 4, 1);
	struct callrec_conf rc = { .flush_ms = 10 };
	struct callrec *rec;
	struct callrec_tap *tap;
	struct callrec_stats st;
	struct relay_leg_conf lc;
	struct relay_event ev;
	struct call c;
	struct sa moh_a, atk_a;
	char dir[64] = "/tmp/test_relay_rec.XXXXXX", rel[128], path[256];
	int16_t want, s[2];
	uint8_t law = 0xd5, hdr[44];
	bool got_l, got_r;
	unsigned i;
	int moh, atk;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	rc.dir = dir;
	assert_int_equal(callrec_alloc(&rec, &rc), 0);
	call_open(&c, r, false);
	assert_int_equal(callrec_start(rec, "ctap", 0, NULL, &tap, rel, sizeof(rel)),
			 0);
	assert_int_equal(relay_session_tap(r, c.id, tap), 0);
	assert_int_equal(relay_session_tap(r, c.id ^ 0x10000, tap), ENOENT);
	for (i = 0; i < 5; i++) {
		rtp(c.rtp[0], c.p[0].rtp, (uint16_t)i, 0xa);
		rtp(c.rtp[1], c.p[1].rtp, (uint16_t)i, 0xb);
	}
	assert_int_equal(drain(c.rtp[1], 300), 5);
	assert_int_equal(drain(c.rtp[0], 300), 5);
	/* music on hold on A's side */
	moh = phone("127.0.0.1", &moh_a);
	atk = phone("127.0.0.3", &atk_a);
	memset(&lc, 0, sizeof(lc));
	lc.rtp = moh_a;
	lc.rtcp = c.a_rtcp[0];
	lc.hushed = ip4("127.0.0.1", 0);
	assert_int_equal(relay_leg_set(r, c.id, RELAY_LEG_A, &lc), 0);
	for (i = 0; i < 5; i++) {
		rtp(moh, c.p[0].rtp, (uint16_t)i, 0xc);          /* music */
		rtp(c.rtp[0], c.p[0].rtp, (uint16_t)(10 + i), 0xa); /* held */
		rtp(atk, c.p[0].rtp, (uint16_t)i, 0x66);         /* other */
	}
	for (i = 0; i < 5; i++) {
		uint32_t ssrc = 0;

		assert_int_equal(recv_wait(c.rtp[1], 1000, NULL, &ssrc), 172);
		assert_int_equal(ssrc, 0xc);
	}
	assert_int_equal(drain(c.rtp[1], 200), 0);
	rtcp(c.rtcp[0], c.p[0].rtcp, 0xa);     /* the phone's RTCP still */
	assert_int_equal(recv_wait(c.rtcp[1], 1000, NULL, NULL), 28);
	counters(r, c.id, &ev);
	assert_int_equal(ev.stats[0].drop_hushed, 5);
	assert_int_equal(ev.stats[0].drop_source, 5);
	assert_true(wait_event(r, RELAY_EV_STRICT_DROP, c.id, 1000, &ev));
	assert_true(ev.addr.u.in.sin_addr.s_addr == atk_a.u.in.sin_addr.s_addr);
	/* the session ends: the relay lets go, the owner too: a file */
	assert_int_equal(relay_session_destroy(r, c.id), 0);
	assert_true(wait_event(r, RELAY_EV_DESTROYED, c.id, 2000, NULL));
	callrec_stop(tap);
	for (i = 0; i < 300; i++) {
		callrec_stats(rec, &st);
		if (!st.live)
			break;
		usleep(10000);
	}
	assert_int_equal(st.completed, 1);
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(hdr, 1, sizeof(hdr), f), sizeof(hdr));
	assert_int_equal(hdr[22], 2);
	/* both channels carry the phones' A-law (after the silence before
	 * their first packet arrived) */
	g711x_decode(G711_ALAW, &want, &law, 1);
	got_l = got_r = false;
	while (fread(s, 2, 2, f) == 2) {
		got_l |= s[0] == want;
		got_r |= s[1] == want;
		assert_true(s[0] == want || s[0] == 0);
	}
	assert_true(got_l && got_r);
	fclose(f);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%.10s", dir, rel);
	rmdir(path);
	rmdir(dir);
	close(moh);
	close(atk);
	callrec_free(rec);
	call_close(&c);
	relay_free(r);
}

static void test_libre_loop(void **state)
{
	struct relay *r = mk_relay(1, 4, 1);
	struct loopctx x;
	struct tmr guard;
	struct call c;

	(void)state;
	memset(&x, 0, sizeof(x));
	assert_int_equal(libre_init(), 0);
	tmr_init(&guard);
	call_open(&c, r, false);
	x.r = r;
	x.id = c.id;
	rtp(c.rtp[0], c.p[0].rtp, 1, 0xa);
	assert_int_equal(recv_wait(c.rtp[1], 1000, NULL, NULL), 172);
	assert_int_equal(fd_listen(relay_event_fd(r), FD_READ, loop_ready, &x),
			 0);
	tmr_start(&guard, 5000, loop_guard, NULL);
	/* silence: timeout (300 ms) → destroy → destroyed, all in the loop */
	assert_int_equal(re_main(NULL), 0);
	assert_true(x.timed_out);
	assert_true(x.destroyed);
	assert_int_equal(x.b_out, 1);
	tmr_cancel(&guard);
	fd_close(relay_event_fd(r));
	libre_close();
	call_close(&c);
	relay_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_forward_both_ways),
		cmocka_unit_test(test_loss_estimate),
		cmocka_unit_test(test_latching),
		cmocka_unit_test(test_latch_from),
		cmocka_unit_test(test_spray_dropped),
		cmocka_unit_test(test_early_not_injection),
		cmocka_unit_test(test_relearn_window),
		cmocka_unit_test(test_timeout_and_hold),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_exhaustion_and_free),
		cmocka_unit_test(test_two_instances_threads),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_libre_loop),
		cmocka_unit_test(test_tap_and_hushed),
	};

	int fails;

	fails = cmocka_run_group_tests_name("relay (default I/O)", tests,
					    NULL, NULL);
	epoll_only = true;
	fails += cmocka_run_group_tests_name("relay (epoll)", tests, NULL,
					     NULL);
	return fails;
}
