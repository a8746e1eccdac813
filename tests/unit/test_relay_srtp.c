/*
 * Unit tests of SRTP in the media relay (media/rtpfwd.c + srtp_leg.c)
 * with real UDP sockets on loopback: phone A plain, phone B SRTP behind
 * NAT (the relay latches onto it). The test plays both phones; phone B
 * protects and unprotects with media/srtp_ctx.c under the keys the SDP
 * would carry. Every test runs on the default I/O (io_uring where
 * available) and on the epoll loop.
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

#include <re_types.h>
#include <re_sa.h>

#include "media/relay.h"
#include "media/srtp_ctx.h"

#define SUITE SRTPC_AES_CM_128_HMAC_SHA1_80

static bool epoll_only;
static uint8_t key_b[SRTPC_KEY_MAX];   /* phone B's (its a=crypto) */
static uint8_t key_r[SRTPC_KEY_MAX];   /* the relay's towards B */

static struct sa lo(uint16_t port)
{
	struct sa a;

	memset(&a, 0, sizeof(a));
	a.u.in.sin_family = AF_INET;
	a.u.in.sin_port = htons(port);
	a.u.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.len = sizeof(a.u.in);
	return a;
}

static int sock(struct sa *addr)
{
	struct sa a = lo(0);
	socklen_t len = sizeof(a.u.in);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, &a.u.sa, a.len), 0);
	assert_int_equal(getsockname(fd, &a.u.sa, &len), 0);
	*addr = a;
	return fd;
}

static void tx(int fd, const uint8_t *p, size_t n, uint16_t port)
{
	struct sa to = lo(port);

	assert_int_equal(sendto(fd, p, n, 0, &to.u.sa, to.len), (ssize_t)n);
}

static ssize_t rx(int fd, uint8_t *p, size_t cap, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	if (poll(&pfd, 1, ms) != 1)
		return -1;
	return recv(fd, p, cap, 0);
}

static size_t rtp_make(uint8_t *p, uint16_t seq, uint32_t ssrc)
{
	p[0] = 0x80;
	p[1] = 0;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	memset(p + 4, 0, 4);
	p[8] = (uint8_t)(ssrc >> 24);
	p[9] = (uint8_t)(ssrc >> 16);
	p[10] = (uint8_t)(ssrc >> 8);
	p[11] = (uint8_t)ssrc;
	for (int i = 0; i < 160; i++)
		p[12 + i] = (uint8_t)(seq * 3 + i);
	return 172;
}

struct rig {
	struct relay *r;
	uint32_t id;
	struct relay_ports p[2];
	int a_rtp, a_rtcp, b_rtp, b_rtcp;
	struct sa a_rtp_addr, a_rtcp_addr, b_rtp_addr, b_rtcp_addr;
	struct srtpc *b_tx, *b_rx;    /* phone B's contexts */
};

static struct relay_event last;

static void on_ev(const struct relay_event *ev, void *arg)
{
	(void)arg;
	if (ev->type == RELAY_EV_COUNTERS)
		last = *ev;
}

/* Counters after the media thread settled (two equal answers). */
static struct relay_event counters(struct rig *g)
{
	struct relay_event prev;

	memset(&prev, 0, sizeof(prev));
	for (int i = 0; i < 60; i++) {
		memset(&last, 0, sizeof(last));
		assert_int_equal(relay_session_query(g->r, g->id), 0);
		for (int w = 0; w < 100 && last.type != RELAY_EV_COUNTERS;
		     w++) {
			usleep(2000);
			relay_events_poll(g->r, on_ev, NULL, 64);
		}
		assert_int_equal(last.type, RELAY_EV_COUNTERS);
		if (i && !memcmp(&prev.stats, &last.stats, sizeof(prev.stats)))
			break;
		prev = last;
		usleep(20000);
	}
	return last;
}

static void set_b(struct rig *g)
{
	struct relay_leg_conf lc;

	memset(&lc, 0, sizeof(lc));
	lc.nat = true;                    /* learns phone B's address */
	lc.srtp_suite = SUITE;
	memcpy(lc.srtp_rx, key_b, srtpc_key_len(SUITE));
	memcpy(lc.srtp_tx, key_r, srtpc_key_len(SUITE));
	assert_int_equal(relay_leg_set(g->r, g->id, RELAY_LEG_B, &lc), 0);
}

static void setup_rig(struct rig *g)
{
	struct relay_conf c;
	struct relay_leg_conf lc;
	uint16_t base = (uint16_t)(30000 + ((unsigned)getpid() % 250) * 16 +
				   (epoll_only ? 8 : 0));

	memset(g, 0, sizeof(*g));
	for (size_t i = 0; i < sizeof(key_b); i++) {
		key_b[i] = (uint8_t)(i + 1);
		key_r[i] = (uint8_t)(200 - i);
	}
	relay_conf_default(&c);
	c.epoll_only = epoll_only;
	c.local = lo(0);
	c.port_min = base;
	c.port_max = (uint16_t)(base + 7);
	c.threads = 1;
	c.timeout_ms = 0;
	assert_int_equal(relay_alloc(&g->r, &c), 0);
	assert_int_equal(relay_session_create(g->r, 1, &g->id, g->p), 0);
	g->a_rtp = sock(&g->a_rtp_addr);
	g->a_rtcp = sock(&g->a_rtcp_addr);
	g->b_rtp = sock(&g->b_rtp_addr);
	g->b_rtcp = sock(&g->b_rtcp_addr);
	memset(&lc, 0, sizeof(lc));
	lc.rtp = g->a_rtp_addr;
	lc.rtcp = g->a_rtcp_addr;
	assert_int_equal(relay_leg_set(g->r, g->id, RELAY_LEG_A, &lc), 0);
	set_b(g);
	assert_int_equal(srtpc_alloc(&g->b_tx, SUITE, key_b,
				     srtpc_key_len(SUITE), true), 0);
	assert_int_equal(srtpc_alloc(&g->b_rx, SUITE, key_r,
				     srtpc_key_len(SUITE), false), 0);
}

static void teardown_rig(struct rig *g)
{
	relay_free(g->r);
	close(g->a_rtp);
	close(g->a_rtcp);
	close(g->b_rtp);
	close(g->b_rtcp);
	srtpc_free(g->b_tx);
	srtpc_free(g->b_rx);
}

/* plain → SRTP → plain; a bad tag never latches, is dropped and
 * counted; a replay is dropped; the same keys again keep the state. */
static void test_round_trip(void **st)
{
	struct rig g;
	struct relay_event ev;
	uint8_t p[1600], q[1600], saved[1600];
	size_t n, sn;
	ssize_t got;

	(void)st;
	setup_rig(&g);

	/* 1. forged (bad tag) from phone B: no latch, nothing at A */
	n = rtp_make(p, 100, 0xb0b);
	assert_int_equal(srtpc_protect(g.b_tx, p, &n, sizeof(p)), 0);
	memcpy(saved, p, n);
	sn = n;
	p[n - 1] ^= 0x55;
	tx(g.b_rtp, p, n, g.p[RELAY_LEG_B].rtp);
	assert_true(rx(g.a_rtp, q, sizeof(q), 300) < 0);
	ev = counters(&g);
	assert_int_equal(ev.stats[1].srtp_auth_fail, 1);
	assert_int_equal(ev.stats[1].in_pkts, 0);
	assert_int_equal(ev.stats[1].rtp_src.u.sa.sa_family, 0);

	/* 2. the real one: latches, reaches A in the clear */
	tx(g.b_rtp, saved, sn, g.p[RELAY_LEG_B].rtp);
	got = rx(g.a_rtp, q, sizeof(q), 2000);
	n = rtp_make(p, 100, 0xb0b);
	assert_int_equal(got, (ssize_t)n);
	assert_memory_equal(q, p, n);
	ev = counters(&g);
	assert_int_equal(ev.stats[1].rtp_src.u.in.sin_port,
			 g.b_rtp_addr.u.in.sin_port);

	/* 3. replayed: dropped */
	tx(g.b_rtp, saved, sn, g.p[RELAY_LEG_B].rtp);
	assert_true(rx(g.a_rtp, q, sizeof(q), 300) < 0);
	ev = counters(&g);
	assert_int_equal(ev.stats[1].srtp_replay, 1);

	/* 4. plain from A: SRTP at B, under the relay's key */
	n = rtp_make(p, 7, 0xa1);
	tx(g.a_rtp, p, n, g.p[RELAY_LEG_A].rtp);
	got = rx(g.b_rtp, q, sizeof(q), 2000);
	assert_int_equal(got, (ssize_t)(n + 10));
	assert_memory_not_equal(q + 12, p + 12, 160);
	sn = (size_t)got;
	assert_int_equal(srtpc_unprotect(g.b_rx, q, &sn), 0);
	assert_int_equal(sn, n);
	assert_memory_equal(q, p, n);

	/* 5. RTCP both ways: SRTCP from B authenticated, to B protected;
	 * an unauthenticated SRTCP dropped */
	{
		uint8_t r[64] = {0x80, 200, 0, 6, 0, 0, 0x0b, 0x0b};

		n = 28;
		assert_int_equal(srtpc_protect_rtcp(g.b_tx, memcpy(p, r, 28),
						    &n, sizeof(p)), 0);
		p[n - 2] ^= 1;
		tx(g.b_rtcp, p, n, g.p[RELAY_LEG_B].rtcp);
		assert_true(rx(g.a_rtcp, q, sizeof(q), 300) < 0);
		n = 28;
		assert_int_equal(srtpc_protect_rtcp(g.b_tx, memcpy(p, r, 28),
						    &n, sizeof(p)), 0);
		tx(g.b_rtcp, p, n, g.p[RELAY_LEG_B].rtcp);
		got = rx(g.a_rtcp, q, sizeof(q), 2000);
		assert_int_equal(got, 28);
		assert_memory_equal(q, r, 28);
		r[7] = 0xa1;
		tx(g.a_rtcp, r, 28, g.p[RELAY_LEG_A].rtcp);
		got = rx(g.b_rtcp, q, sizeof(q), 2000);
		assert_int_equal(got, 28 + 4 + 10);
		sn = (size_t)got;
		assert_int_equal(srtpc_unprotect_rtcp(g.b_rx, q, &sn), 0);
		assert_memory_equal(q, r, 28);
		ev = counters(&g);
		assert_int_equal(ev.stats[1].srtp_auth_fail, 2);
	}

	/* 6. the same keys again (a re-INVITE): the replay window stays,
	 * the stream goes on */
	set_b(&g);
	n = rtp_make(p, 100, 0xb0b);       /* seq 100 again: a replay */
	assert_int_equal(srtpc_protect(g.b_tx, p, &n, sizeof(p)), 0);
	tx(g.b_rtp, p, n, g.p[RELAY_LEG_B].rtp);
	assert_true(rx(g.a_rtp, q, sizeof(q), 300) < 0);
	n = rtp_make(p, 101, 0xb0b);
	assert_int_equal(srtpc_protect(g.b_tx, p, &n, sizeof(p)), 0);
	tx(g.b_rtp, p, n, g.p[RELAY_LEG_B].rtp);
	assert_int_equal(rx(g.a_rtp, q, sizeof(q), 2000), 172);
	ev = counters(&g);
	assert_int_equal(ev.stats[1].srtp_replay, 2);
	assert_int_equal(ev.stats[1].in_pkts, 3);    /* 2 RTP + 1 RTCP */
	assert_int_equal(ev.stats[0].out_pkts, 3);
	teardown_rig(&g);
}

/* A bad tag from another source, the leg not latched yet: never
 * latches (the phone's own packets latch afterwards). */
static void test_no_latch_on_forgery(void **st)
{
	struct rig g;
	struct relay_event ev;
	struct sa evil_addr;
	uint8_t p[1600], q[1600];
	size_t n;
	int evil;

	(void)st;
	setup_rig(&g);
	evil = sock(&evil_addr);
	for (uint16_t s = 1; s <= 20; s++) {
		n = rtp_make(p, s, 0xe11);
		memset(p + n, 0x11, 10);
		n += 10;
		tx(evil, p, n, g.p[RELAY_LEG_B].rtp);
	}
	assert_true(rx(g.a_rtp, q, sizeof(q), 300) < 0);
	ev = counters(&g);
	assert_int_equal(ev.stats[1].srtp_auth_fail, 20);
	assert_int_equal(ev.stats[1].rtp_src.u.sa.sa_family, 0);
	/* the phone: latches, and A hears it; B hears A at the phone's
	 * address, not the forger's */
	n = rtp_make(p, 1, 0xb0b);
	assert_int_equal(srtpc_protect(g.b_tx, p, &n, sizeof(p)), 0);
	tx(g.b_rtp, p, n, g.p[RELAY_LEG_B].rtp);
	assert_int_equal(rx(g.a_rtp, q, sizeof(q), 2000), 172);
	n = rtp_make(p, 1, 0xa1);
	tx(g.a_rtp, p, n, g.p[RELAY_LEG_A].rtp);
	assert_int_equal(rx(g.b_rtp, q, sizeof(q), 2000), 182);
	assert_true(rx(evil, q, sizeof(q), 200) < 0);
	close(evil);
	teardown_rig(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_no_latch_on_forgery),
	};
	int r;

	r = cmocka_run_group_tests_name("srtp relay (default I/O)", tests,
					NULL, NULL);
	epoll_only = true;
	r |= cmocka_run_group_tests_name("srtp relay (epoll)", tests, NULL,
					 NULL);
	return r;
}
