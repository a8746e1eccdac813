/* Unit tests: SIP client transactions (sip/ctrans.c, RFC 3261 17.1 and
 * RFC 6026) on a fake clock with a recording send function. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <re_types.h>
#include <re_mem.h>
#include <re_sa.h>

#include "sip/ctrans.h"
#include "sip/sipmsg.h"

static unsigned n_sent, n_end[3];
static char last[8192];

static void sendh(enum sipd_tp tp, const struct sa *dst, uint64_t conn,
		  const char *buf, size_t len, void *arg)
{
	(void)tp; (void)dst; (void)conn; (void)arg;
	n_sent++;
	if (len >= sizeof(last))
		len = sizeof(last) - 1;
	memcpy(last, buf, len);
	last[len] = '\0';
}

static void endh(struct ctrans_tx *tx, enum ctrans_end why, void *arg)
{
	(void)arg;
	assert_int_equal(ctrans_state(tx), CTRANS_TERMINATED);
	n_end[why]++;
}

static struct ctrans *c;
static struct sa P, Q;
static struct sipmsg m;
static char rbuf[2048];

static int setup(void **st)
{
	struct ctrans_conf conf = {.max_total = 8, .max_per_dst = 3};

	(void)st;
	n_sent = 0;
	memset(n_end, 0, sizeof(n_end));
	sa_set_str(&P, "192.0.2.9", 5060);
	sa_set_str(&Q, "192.0.2.10", 5060);
	assert_int_equal(ctrans_alloc(&c, &conf, sendh, endh, NULL), 0);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	c = mem_deref(c);
	return 0;
}

static int send_req(const char *met, const char *br, enum sipd_tp tp,
		    const struct sa *dst, uint64_t now,
		    struct ctrans_tx **tx)
{
	char b[1024];
	int n = snprintf(b, sizeof(b),
			 "%s sip:202@192.0.2.9 SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=%s;rport, "
			 "SIP/2.0/UDP 10.0.0.1\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: <sip:201@pbx>;tag=ft\r\n"
			 "To: <sip:202@pbx>\r\n"
			 "Call-ID: cc-1\r\nCSeq: 7 %s\r\n"
			 "Route: <sip:p1;lr>\r\nRoute: <sip:p2;lr>\r\n"
			 "Content-Length: 0\r\n\r\n", met, br, met);

	return ctrans_send(c, tp, dst, 0, b, (size_t)n, now, tx);
}

/* Parse a response code to method met with branch br. */
static void resp(unsigned code, const char *met, const char *br)
{
	int n = snprintf(rbuf, sizeof(rbuf),
			 "SIP/2.0 %u X\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=%s\r\n"
			 "From: <sip:201@pbx>;tag=ft\r\n"
			 "To: <sip:202@pbx>;tag=tt%u\r\n"
			 "Call-ID: cc-1\r\nCSeq: 7 %s\r\n"
			 "Content-Length: 0\r\n\r\n", code, br, code, met);

	assert_int_equal(sipmsg_parse(&m, rbuf, (size_t)n, true), 0);
	assert_int_equal(sipmsg_check_response(&m), 0);
}

static enum ctrans_rx rx(unsigned code, const char *met, const char *br,
			 const struct sa *src, uint64_t now)
{
	resp(code, met, br);
	return ctrans_receive(c, &m, src, now, NULL);
}

static void run(uint64_t from, uint64_t to)
{
	for (uint64_t t = from; t <= to; t++)
		if (ctrans_next(c) <= t)
			ctrans_tick(c, t);
}

/* Non-INVITE over UDP with no answer: E at 500, 1500, 3500, 7500, then
 * every T2; F at 64*T1 ends it (TIMEOUT). */
static void test_non_invite_timeout(void **st)
{
	struct ctrans_tx *tx;

	(void)st;
	assert_int_equal(send_req("OPTIONS", "z9hG4bKe1", SIPD_UDP, &P, 0,
				  &tx), 0);
	assert_int_equal(ctrans_state(tx), CTRANS_TRYING);
	assert_int_equal(n_sent, 1);
	run(1, 40000);
	assert_int_equal(n_sent, 1 + 10);
	assert_int_equal(n_end[CTRANS_END_TIMEOUT], 1);
	assert_int_equal(ctrans_count(c), 0);
	assert_int_equal(ctrans_count_dst(c, &P), 0);
}

/* Non-INVITE answered: a provisional (E goes on at T2), the final, its
 * retransmissions absorbed, timer K. */
static void test_non_invite_answered(void **st)
{
	struct ctrans_tx *tx, *t2;

	(void)st;
	assert_int_equal(send_req("BYE", "z9hG4bKb1", SIPD_UDP, &P, 0, &tx),
			 0);
	resp(100, "BYE", "z9hG4bKb1");
	assert_int_equal(ctrans_receive(c, &m, &P, 100, &t2), CTRANS_RX_PASS);
	assert_ptr_equal(t2, tx);
	assert_int_equal(ctrans_state(tx), CTRANS_PROCEEDING);
	n_sent = 0;
	run(101, 4099);
	assert_int_equal(n_sent, 0);
	run(4100, 4100);
	assert_int_equal(n_sent, 1);
	assert_int_equal(rx(200, "BYE", "z9hG4bKb1", &P, 5000),
			 CTRANS_RX_PASS);
	assert_int_equal(ctrans_code(tx), 200);
	assert_int_equal(ctrans_state(tx), CTRANS_COMPLETED);
	assert_int_equal(rx(200, "BYE", "z9hG4bKb1", &P, 5100),
			 CTRANS_RX_ABSORBED);
	run(5001, 9999);
	assert_int_equal(n_sent, 1);
	assert_int_equal(ctrans_count(c), 1);
	run(10000, 10000);
	assert_int_equal(ctrans_count(c), 0);
	assert_int_equal(n_end[CTRANS_END_DONE], 1);
}

/* INVITE, no answer: A doubles without a cap (500 1500 3500 7500 15500
 * 31500), B at 64*T1. */
static void test_invite_timeout(void **st)
{
	struct ctrans_tx *tx;

	(void)st;
	assert_int_equal(send_req("INVITE", "z9hG4bKi1", SIPD_UDP, &P, 0,
				  &tx), 0);
	assert_int_equal(ctrans_state(tx), CTRANS_CALLING);
	run(1, 40000);
	assert_int_equal(n_sent, 1 + 6);
	assert_int_equal(n_end[CTRANS_END_TIMEOUT], 1);
}

/* INVITE, 180 then 486: A stops; the ACK (same branch, top Via only,
 * To with the response's tag, CSeq 7 ACK, Route kept) is sent and sent
 * again for each retransmitted 486; D ends it. */
static void test_invite_non2xx(void **st)
{
	struct ctrans_tx *tx;

	(void)st;
	assert_int_equal(send_req("INVITE", "z9hG4bKi2", SIPD_UDP, &P, 0,
				  &tx), 0);
	assert_int_equal(rx(180, "INVITE", "z9hG4bKi2", &P, 100),
			 CTRANS_RX_PASS);
	assert_int_equal(ctrans_state(tx), CTRANS_PROCEEDING);
	run(101, 20000);
	assert_int_equal(n_sent, 1);
	/* more provisionals do not move the ring bound */
	assert_int_equal(rx(183, "INVITE", "z9hG4bKi2", &P, 20000),
			 CTRANS_RX_PASS);
	assert_true(ctrans_next(c) <= 100 + 180000);
	assert_int_equal(rx(486, "INVITE", "z9hG4bKi2", &P, 20000),
			 CTRANS_RX_PASS);
	assert_int_equal(ctrans_state(tx), CTRANS_COMPLETED);
	assert_int_equal(n_sent, 2);
	assert_string_equal(last,
		"ACK sip:202@192.0.2.9 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKi2;rport\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:201@pbx>;tag=ft\r\n"
		"To: <sip:202@pbx>;tag=tt486\r\n"
		"Call-ID: cc-1\r\nCSeq: 7 ACK\r\n"
		"Route: <sip:p1;lr>\r\nRoute: <sip:p2;lr>\r\n"
		"Content-Length: 0\r\n\r\n");
	assert_int_equal(rx(486, "INVITE", "z9hG4bKi2", &P, 20100),
			 CTRANS_RX_ABSORBED);
	assert_int_equal(n_sent, 3);
	assert_non_null(strstr(last, "CSeq: 7 ACK\r\n"));
	run(20001, 51999);
	assert_int_equal(ctrans_count(c), 1);
	run(52000, 52000);
	assert_int_equal(n_end[CTRANS_END_DONE], 1);
}

/* INVITE, 2xx: Accepted (RFC 6026); each 2xx goes to the TU (it ACKs
 * end to end), timer M ends it, a 2xx later matches nothing. */
static void test_invite_2xx(void **st)
{
	struct ctrans_tx *tx;

	(void)st;
	assert_int_equal(send_req("INVITE", "z9hG4bKi3", SIPD_UDP, &P, 0,
				  &tx), 0);
	assert_int_equal(rx(200, "INVITE", "z9hG4bKi3", &P, 300),
			 CTRANS_RX_PASS);
	assert_int_equal(ctrans_state(tx), CTRANS_ACCEPTED);
	assert_int_equal(n_sent, 1);     /* no ACK from the transaction */
	assert_int_equal(rx(200, "INVITE", "z9hG4bKi3", &P, 800),
			 CTRANS_RX_PASS);
	assert_int_equal(rx(180, "INVITE", "z9hG4bKi3", &P, 800),
			 CTRANS_RX_ABSORBED);
	run(301, 40000);
	assert_int_equal(n_sent, 1);
	assert_int_equal(n_end[CTRANS_END_DONE], 1);
	assert_int_equal(rx(200, "INVITE", "z9hG4bKi3", &P, 40001),
			 CTRANS_RX_NONE);
}

/* CANCEL: written from the INVITE (same branch, CSeq 7 CANCEL, To without
 * a tag), its own transaction; 200 (CANCEL) and 487 (INVITE) go each to
 * its own. */
static void test_cancel(void **st)
{
	struct ctrans_tx *inv, *can, *t;
	char b[2048];
	size_t n;

	(void)st;
	assert_int_equal(send_req("INVITE", "z9hG4bKc1", SIPD_UDP, &P, 0,
				  &inv), 0);
	assert_int_equal(rx(180, "INVITE", "z9hG4bKc1", &P, 10),
			 CTRANS_RX_PASS);
	n = ctrans_cancel(inv, b, sizeof(b));
	assert_true(n > 0);
	b[n] = '\0';
	assert_string_equal(b,
		"CANCEL sip:202@192.0.2.9 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKc1;rport\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:201@pbx>;tag=ft\r\n"
		"To: <sip:202@pbx>\r\n"
		"Call-ID: cc-1\r\nCSeq: 7 CANCEL\r\n"
		"Route: <sip:p1;lr>\r\nRoute: <sip:p2;lr>\r\n"
		"Content-Length: 0\r\n\r\n");
	assert_int_equal(ctrans_cancel(inv, b, 20), 0);
	assert_int_equal(ctrans_send(c, SIPD_UDP, &P, 0, b, n, 20, &can), 0);
	assert_string_equal(ctrans_method(can), "CANCEL");
	resp(200, "CANCEL", "z9hG4bKc1");
	assert_int_equal(ctrans_receive(c, &m, &P, 30, &t), CTRANS_RX_PASS);
	assert_ptr_equal(t, can);
	resp(487, "INVITE", "z9hG4bKc1");
	assert_int_equal(ctrans_receive(c, &m, &P, 40, &t), CTRANS_RX_PASS);
	assert_ptr_equal(t, inv);
	assert_non_null(strstr(last, "ACK sip:202@192.0.2.9"));
	/* completed: no CANCEL any more */
	assert_int_equal(ctrans_cancel(inv, b, sizeof(b)), 0);
	assert_int_equal(ctrans_cancel(can, b, sizeof(b)), 0);
}

/* Matching and refusals: a response from another address, for another
 * method or branch matches nothing; the same branch and method twice is
 * EEXIST; ACK, a branch without the cookie or garbage is EINVAL; the
 * bound per destination and in total is EOVERFLOW. */
static void test_match_and_bounds(void **st)
{
	struct ctrans_tx *tx;
	char br[32];

	(void)st;
	assert_int_equal(send_req("OPTIONS", "z9hG4bKm1", SIPD_UDP, &P, 0,
				  &tx), 0);
	assert_int_equal(rx(200, "OPTIONS", "z9hG4bKm1", &Q, 1),
			 CTRANS_RX_NONE);
	assert_int_equal(rx(200, "INFO", "z9hG4bKm1", &P, 1),
			 CTRANS_RX_NONE);
	assert_int_equal(rx(200, "OPTIONS", "z9hG4bKm2", &P, 1),
			 CTRANS_RX_NONE);
	assert_int_equal(ctrans_state(tx), CTRANS_TRYING);
	assert_int_equal(send_req("OPTIONS", "z9hG4bKm1", SIPD_UDP, &P, 0,
				  &tx), EEXIST);
	assert_int_equal(send_req("ACK", "z9hG4bKm3", SIPD_UDP, &P, 0, &tx),
			 EINVAL);
	assert_int_equal(send_req("OPTIONS", "old", SIPD_UDP, &P, 0, &tx),
			 EINVAL);
	assert_int_equal(ctrans_send(c, SIPD_UDP, &P, 0, "x", 1, 0, &tx),
			 EINVAL);
	assert_int_equal(send_req("OPTIONS", "z9hG4bKm4", SIPD_UDP, &P, 0,
				  &tx), 0);
	assert_int_equal(send_req("OPTIONS", "z9hG4bKm5", SIPD_UDP, &P, 0,
				  &tx), 0);
	assert_int_equal(send_req("OPTIONS", "z9hG4bKm6", SIPD_UDP, &P, 0,
				  &tx), EOVERFLOW);
	assert_int_equal(ctrans_count_dst(c, &P), 3);
	for (int i = 0; i < 5; i++) {
		struct sa d;
		char ip[32];

		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
		sa_set_str(&d, ip, 5060);
		ctrans_branch(br, sizeof(br));
		assert_int_equal(strncmp(br, "z9hG4bK", 7), 0);
		assert_int_equal(strlen(br), 31);
		assert_int_equal(send_req("OPTIONS", br, SIPD_UDP, &d, 0,
					  &tx), 0);
	}
	ctrans_branch(br, sizeof(br));
	assert_int_equal(send_req("OPTIONS", br, SIPD_UDP, &Q, 0, &tx),
			 EOVERFLOW);
	assert_int_equal(ctrans_count(c), 8);
	assert_int_equal(ctrans_count_dst(c, &Q), 0);
	c = mem_deref(c);
	assert_int_equal(n_end[CTRANS_END_CLOSED], 8);
}

/* An INVITE answered 180 and nothing more ends at the ring bound, however
 * many provisionals follow. */
static void test_ring_bound(void **st)
{
	struct ctrans_tx *tx;

	(void)st;
	assert_int_equal(send_req("INVITE", "z9hG4bKr1", SIPD_UDP, &P, 0,
				  &tx), 0);
	assert_int_equal(rx(180, "INVITE", "z9hG4bKr1", &P, 1000),
			 CTRANS_RX_PASS);
	for (uint64_t t = 60000; t < 181000; t += 60000)
		assert_int_equal(rx(180, "INVITE", "z9hG4bKr1", &P, t),
				 CTRANS_RX_PASS);
	ctrans_tick(c, 180999);
	assert_int_equal(ctrans_count(c), 1);
	ctrans_tick(c, 181000);
	assert_int_equal(n_end[CTRANS_END_TIMEOUT], 1);
	assert_int_equal(ctrans_count(c), 0);
}

/* Over TCP nothing is retransmitted; B still applies; the ACK of a
 * non-2xx is sent once and the transaction ends at the next tick. */
static void test_tcp(void **st)
{
	struct ctrans_tx *tx;

	(void)st;
	assert_int_equal(send_req("INVITE", "z9hG4bKt1", SIPD_TCP, &P, 0,
				  &tx), 0);
	run(1, 31999);
	assert_int_equal(n_sent, 1);
	assert_int_equal(rx(503, "INVITE", "z9hG4bKt1", &P, 31999),
			 CTRANS_RX_PASS);
	assert_int_equal(n_sent, 2);
	ctrans_tick(c, 31999);
	assert_int_equal(ctrans_count(c), 0);
	assert_int_equal(n_end[CTRANS_END_DONE], 1);
	assert_int_equal(send_req("INVITE", "z9hG4bKt2", SIPD_TCP, &P, 0,
				  &tx), 0);
	run(1, 32000);
	assert_int_equal(n_end[CTRANS_END_TIMEOUT], 1);
	assert_int_equal(n_sent, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_non_invite_timeout),
		T(test_non_invite_answered),
		T(test_invite_timeout),
		T(test_invite_non2xx),
		T(test_invite_2xx),
		T(test_cancel),
		T(test_match_and_bounds),
		T(test_ring_bound),
		T(test_tcp),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
