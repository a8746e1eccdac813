/* Unit tests: SIP server transactions (sip/strans.c, RFC 3261 17.2 and
 * RFC 6026) driven by a fake clock and a send function that records —
 * no sockets, no libre timers. */
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

#include "sip/sipmsg.h"
#include "sip/strans.h"

static unsigned n_sent, n_end[4];
static char last[4096];
static struct sa last_dst;
static uint64_t last_conn;

static void sendh(enum sipd_tp tp, const struct sa *dst, uint64_t conn,
		  const char *buf, size_t len, void *arg)
{
	(void)tp; (void)arg;
	n_sent++;
	last_dst = *dst;
	last_conn = conn;
	if (len >= sizeof(last))
		len = sizeof(last) - 1;
	memcpy(last, buf, len);
	last[len] = '\0';
}

static void endh(struct strans_tx *tx, enum strans_end why, void *arg)
{
	(void)arg;
	assert_int_equal(strans_state(tx), STRANS_TERMINATED);
	n_end[why]++;
}

static struct strans *s;
static struct sa A, A2, B, C;
static struct sipmsg m;
static char mbuf[2048];

static int setup(void **st)
{
	struct strans_conf c = {.max_total = 8, .max_per_src = 4};

	(void)st;
	n_sent = 0;
	memset(n_end, 0, sizeof(n_end));
	sa_set_str(&A, "192.0.2.1", 5060);
	sa_set_str(&A2, "192.0.2.1", 6000);
	sa_set_str(&B, "2001:db8::2", 5060);
	sa_set_str(&C, "198.51.100.3", 5060);
	assert_int_equal(strans_alloc(&s, &c, sendh, endh, NULL), 0);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	s = mem_deref(s);
	return 0;
}

/* Parse a request met with branch br (NULL: no branch param) and CSeq
 * number cseq into m. */
static void req(const char *met, const char *br, unsigned cseq)
{
	const char *why = NULL;
	char via[400];
	int n;

	if (br)
		snprintf(via, sizeof(via), ";branch=%s", br);
	else
		via[0] = '\0';
	n = snprintf(mbuf, sizeof(mbuf),
		     "%s sip:202@example.com SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 192.0.2.1:5060%s\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:201@example.com>;tag=f1\r\n"
		     "To: <sip:202@example.com>\r\n"
		     "Call-ID: call-1\r\nCSeq: %u %s\r\n"
		     "Content-Length: 0\r\n\r\n", met, via, cseq, met);
	assert_true(n > 0 && (size_t)n < sizeof(mbuf));
	assert_int_equal(sipmsg_parse(&m, mbuf, (size_t)n, true), 0);
	assert_int_equal(sipmsg_check(&m, &why), 0);
}

static enum strans_rx rx(const char *met, const char *br,
			 const struct sa *src, enum sipd_tp tp, uint64_t now,
			 struct strans_tx **tx)
{
	req(met, br, 1);
	return strans_receive(s, &m, tp, src, 0, now, tx);
}

static void respond(struct strans_tx *tx, unsigned code, uint64_t now)
{
	char b[64];
	int n = snprintf(b, sizeof(b), "SIP/2.0 %u X\r\n\r\n", code);

	assert_int_equal(strans_respond(s, tx, code, b, (size_t)n, now), 0);
}

static unsigned last_code(void)
{
	unsigned c = 0;

	assert_int_equal(sscanf(last, "SIP/2.0 %u", &c), 1);
	return c;
}

/* Non-INVITE over UDP: Trying absorbs silently, Proceeding resends the
 * provisional, Completed the final, timer J (64*T1) ends it. */
static void test_non_invite_udp(void **st)
{
	struct strans_tx *tx, *tx2;

	(void)st;
	assert_int_equal(rx("OPTIONS", "z9hG4bKo1", &A, SIPD_UDP, 1000, &tx),
			 STRANS_RX_NEW);
	assert_non_null(tx);
	assert_string_equal(strans_method(tx), "OPTIONS");
	assert_int_equal(strans_state(tx), STRANS_TRYING);
	assert_int_equal(rx("OPTIONS", "z9hG4bKo1", &A, SIPD_UDP, 1100, &tx2),
			 STRANS_RX_RETRANS);
	assert_ptr_equal(tx2, tx);
	assert_int_equal(n_sent, 0);

	respond(tx, 100, 1200);
	assert_int_equal(strans_state(tx), STRANS_PROCEEDING);
	assert_int_equal(n_sent, 1);
	assert_int_equal(rx("OPTIONS", "z9hG4bKo1", &A, SIPD_UDP, 1300, NULL),
			 STRANS_RX_RETRANS);
	assert_int_equal(n_sent, 2);
	assert_int_equal(last_code(), 100);

	respond(tx, 200, 2000);
	assert_int_equal(strans_state(tx), STRANS_COMPLETED);
	assert_int_equal(strans_code(tx), 200);
	assert_int_equal(rx("OPTIONS", "z9hG4bKo1", &A, SIPD_UDP, 2100, NULL),
			 STRANS_RX_RETRANS);
	assert_int_equal(n_sent, 4);
	assert_int_equal(last_code(), 200);
	assert_true(sa_cmp(&last_dst, &A, SA_ALL));
	/* one final only */
	assert_int_equal(strans_respond(s, tx, 404, "x", 1, 2100), EPROTO);
	assert_int_equal(strans_respond(s, tx, 99, "x", 1, 2100), EINVAL);

	assert_true(strans_next(s) <= 2000 + 64 * 500);
	strans_tick(s, 1000 + 64 * 500);   /* the answer bound is gone */
	assert_int_equal(strans_count(s), 1);
	strans_tick(s, 2000 + 64 * 500 - 1);
	assert_int_equal(strans_count(s), 1);
	strans_tick(s, 2000 + 64 * 500);
	assert_int_equal(strans_count(s), 0);
	assert_int_equal(n_end[STRANS_END_DONE], 1);
	assert_int_equal(strans_next(s), UINT64_MAX);
	/* after the end the same request is new again */
	assert_int_equal(rx("OPTIONS", "z9hG4bKo1", &A, SIPD_UDP, 40000, NULL),
			 STRANS_RX_NEW);
}

/* Over TCP timer J is zero: the final response ends the transaction. */
static void test_non_invite_tcp(void **st)
{
	struct strans_tx *tx;

	(void)st;
	assert_int_equal(rx("MESSAGE", "z9hG4bKm1", &A, SIPD_TCP, 0, &tx),
			 STRANS_RX_NEW);
	respond(tx, 202, 10);
	assert_int_equal(strans_count(s), 0);
	assert_int_equal(n_end[STRANS_END_DONE], 1);
}

/* The TU must answer: a non-INVITE within 64*T1, an INVITE within
 * invite_answer_ms, else the transaction ends (NOANSWER). */
static void test_no_answer(void **st)
{
	(void)st;
	assert_int_equal(rx("OPTIONS", "z9hG4bKn1", &A, SIPD_UDP, 0, NULL),
			 STRANS_RX_NEW);
	assert_int_equal(rx("INVITE", "z9hG4bKn2", &A, SIPD_UDP, 0, NULL),
			 STRANS_RX_NEW);
	strans_tick(s, 32000);
	assert_int_equal(n_end[STRANS_END_NOANSWER], 1);
	assert_int_equal(strans_count(s), 1);
	strans_tick(s, 300000);
	assert_int_equal(n_end[STRANS_END_NOANSWER], 2);
	assert_int_equal(strans_count(s), 0);
	assert_int_equal(n_sent, 0);
}

/* INVITE, non-2xx over UDP: timer G resends the final at T1, 2T1, ...
 * capped at T2; the ACK stops it (Confirmed), further ACKs are absorbed,
 * timer I (T4) ends it. */
static void test_invite_udp_ack(void **st)
{
	struct strans_tx *tx;
	unsigned sent;

	(void)st;
	assert_int_equal(rx("INVITE", "z9hG4bKi1", &A, SIPD_UDP, 0, &tx),
			 STRANS_RX_NEW);
	assert_int_equal(strans_state(tx), STRANS_PROCEEDING);
	/* a retransmission before any response: nothing to resend */
	assert_int_equal(rx("INVITE", "z9hG4bKi1", &A, SIPD_UDP, 50, NULL),
			 STRANS_RX_RETRANS);
	assert_int_equal(n_sent, 0);
	respond(tx, 100, 100);
	assert_int_equal(rx("INVITE", "z9hG4bKi1", &A, SIPD_UDP, 150, NULL),
			 STRANS_RX_RETRANS);
	assert_int_equal(n_sent, 2);
	assert_int_equal(last_code(), 100);
	/* an ACK before the final is not the transaction's */
	assert_int_equal(rx("ACK", "z9hG4bKi1", &A, SIPD_UDP, 160, NULL),
			 STRANS_RX_PASS);

	respond(tx, 486, 1000);
	assert_int_equal(strans_state(tx), STRANS_COMPLETED);
	sent = n_sent;
	strans_tick(s, 1499);
	assert_int_equal(n_sent, sent);
	strans_tick(s, 1500);           /* G: T1 */
	assert_int_equal(n_sent, sent + 1);
	assert_int_equal(last_code(), 486);
	strans_tick(s, 2499);
	assert_int_equal(n_sent, sent + 1);
	strans_tick(s, 2500);           /* 2*T1 */
	assert_int_equal(n_sent, sent + 2);
	/* a retransmitted INVITE gets the final too */
	assert_int_equal(rx("INVITE", "z9hG4bKi1", &A, SIPD_UDP, 2600, NULL),
			 STRANS_RX_RETRANS);
	assert_int_equal(n_sent, sent + 3);

	assert_int_equal(rx("ACK", "z9hG4bKi1", &A, SIPD_UDP, 2700, &tx),
			 STRANS_RX_ACK);
	assert_int_equal(strans_state(tx), STRANS_CONFIRMED);
	assert_int_equal(rx("ACK", "z9hG4bKi1", &A, SIPD_UDP, 2800, NULL),
			 STRANS_RX_ACK);
	assert_int_equal(rx("INVITE", "z9hG4bKi1", &A, SIPD_UDP, 2900, NULL),
			 STRANS_RX_RETRANS);
	strans_tick(s, 7000);
	assert_int_equal(n_sent, sent + 3);   /* no G after the ACK */
	assert_int_equal(strans_count(s), 1);
	strans_tick(s, 2700 + 5000);          /* timer I */
	assert_int_equal(strans_count(s), 0);
	assert_int_equal(n_end[STRANS_END_DONE], 1);
}

/* No ACK: G fires at 500, 1500, 3500, 7500, then every T2 (4 s) until
 * timer H (64*T1) ends the transaction (NOACK). */
static void test_invite_udp_noack(void **st)
{
	struct strans_tx *tx;

	(void)st;
	assert_int_equal(rx("INVITE", "z9hG4bKh1", &A, SIPD_UDP, 0, &tx),
			 STRANS_RX_NEW);
	respond(tx, 404, 0);
	n_sent = 0;
	for (uint64_t t = 1; t <= 40000; t++)
		if (strans_next(s) <= t)
			strans_tick(s, t);
	/* 500 1500 3500 7500 11500 15500 19500 23500 27500 31500 */
	assert_int_equal(n_sent, 10);
	assert_int_equal(n_end[STRANS_END_NOACK], 1);
	assert_int_equal(strans_count(s), 0);
}

/* Over TCP: no G; the ACK ends it at once (I = 0); without an ACK,
 * timer H still ends it. */
static void test_invite_tcp(void **st)
{
	struct strans_tx *tx;

	(void)st;
	assert_int_equal(rx("INVITE", "z9hG4bKt1", &A, SIPD_TCP, 0, &tx),
			 STRANS_RX_NEW);
	respond(tx, 603, 0);
	n_sent = 0;
	strans_tick(s, 20000);
	assert_int_equal(n_sent, 0);
	assert_int_equal(rx("ACK", "z9hG4bKt1", &A, SIPD_TCP, 20001, NULL),
			 STRANS_RX_ACK);
	assert_int_equal(strans_count(s), 0);
	assert_int_equal(n_end[STRANS_END_DONE], 1);

	assert_int_equal(rx("INVITE", "z9hG4bKt2", &A, SIPD_TCP, 0, &tx),
			 STRANS_RX_NEW);
	respond(tx, 486, 0);
	n_sent = 0;
	strans_tick(s, 31999);
	assert_int_equal(strans_count(s), 1);
	strans_tick(s, 32000);
	assert_int_equal(n_end[STRANS_END_NOACK], 1);
	assert_int_equal(n_sent, 0);
}

/* A 2xx: Accepted (RFC 6026) absorbs INVITE retransmissions without
 * resending (the TU resends its 2xx), the 2xx's ACK goes to the TU,
 * timer L ends it. */
static void test_invite_2xx(void **st)
{
	struct strans_tx *tx;

	(void)st;
	assert_int_equal(rx("INVITE", "z9hG4bKa1", &A, SIPD_UDP, 0, &tx),
			 STRANS_RX_NEW);
	respond(tx, 180, 10);
	respond(tx, 200, 20);
	assert_int_equal(strans_state(tx), STRANS_ACCEPTED);
	n_sent = 0;
	assert_int_equal(rx("INVITE", "z9hG4bKa1", &A, SIPD_UDP, 30, NULL),
			 STRANS_RX_RETRANS);
	assert_int_equal(n_sent, 0);
	assert_int_equal(rx("ACK", "z9hG4bKother", &A, SIPD_UDP, 40, NULL),
			 STRANS_RX_PASS);
	assert_int_equal(rx("ACK", "z9hG4bKa1", &A, SIPD_UDP, 40, NULL),
			 STRANS_RX_PASS);
	strans_tick(s, 5000);
	assert_int_equal(n_sent, 0);
	strans_tick(s, 20 + 32000);
	assert_int_equal(strans_count(s), 0);
	assert_int_equal(n_end[STRANS_END_DONE], 1);
}

/* A CANCEL finds its INVITE by branch and sent-by (from the same
 * source) and is a transaction of its own. */
static void test_cancel(void **st)
{
	struct strans_tx *inv, *can;

	(void)st;
	assert_int_equal(rx("INVITE", "z9hG4bKc1", &A, SIPD_UDP, 0, &inv),
			 STRANS_RX_NEW);
	req("CANCEL", "z9hG4bKc1", 1);
	assert_ptr_equal(strans_find_invite(s, &m, &A), inv);
	assert_ptr_equal(strans_find_invite(s, &m, &A2), inv);
	assert_null(strans_find_invite(s, &m, &C));
	assert_int_equal(strans_receive(s, &m, SIPD_UDP, &A, 0, 10, &can),
			 STRANS_RX_NEW);
	assert_ptr_not_equal(can, inv);
	assert_string_equal(strans_method(can), "CANCEL");
	req("CANCEL", "z9hG4bKc2", 1);
	assert_null(strans_find_invite(s, &m, &A));
	/* the answers: 200 to the CANCEL, 487 to the INVITE */
	respond(can, 200, 20);
	respond(inv, 487, 20);
	assert_int_equal(strans_state(inv), STRANS_COMPLETED);
	req("CANCEL", "z9hG4bKc1", 1);
	assert_ptr_equal(strans_find_invite(s, &m, &A), inv);
}

/* The key: another source with the same branch is another transaction;
 * so is another method; a peer without the magic cookie (RFC 2543) is
 * matched by Call-ID, CSeq and From tag; a key beyond the bound or a
 * branchless Via without Call-ID is refused (BAD). */
static void test_keys(void **st)
{
	char big[300];

	(void)st;
	assert_int_equal(rx("OPTIONS", "z9hG4bKk1", &A, SIPD_UDP, 0, NULL),
			 STRANS_RX_NEW);
	assert_int_equal(rx("OPTIONS", "z9hG4bKk1", &C, SIPD_UDP, 0, NULL),
			 STRANS_RX_NEW);
	assert_int_equal(rx("OPTIONS", "z9hG4bKk1", &A2, SIPD_UDP, 0, NULL),
			 STRANS_RX_RETRANS);
	assert_int_equal(rx("INFO", "z9hG4bKk1", &A, SIPD_UDP, 0, NULL),
			 STRANS_RX_NEW);
	assert_int_equal(rx("OPTIONS", "z9hG4bKK1", &A, SIPD_UDP, 0, NULL),
			 STRANS_RX_NEW);
	/* RFC 2543 */
	req("OPTIONS", "old1", 7);
	assert_int_equal(strans_receive(s, &m, SIPD_UDP, &B, 0, 0, NULL),
			 STRANS_RX_NEW);
	req("OPTIONS", "old1", 7);
	assert_int_equal(strans_receive(s, &m, SIPD_UDP, &B, 0, 0, NULL),
			 STRANS_RX_RETRANS);
	req("OPTIONS", NULL, 8);
	assert_int_equal(strans_receive(s, &m, SIPD_UDP, &B, 0, 0, NULL),
			 STRANS_RX_NEW);
	assert_int_equal(strans_count(s), 6);
	/* RFC 2543 without a From tag: the absent slice is keyed as empty
	 * (fuzz_trans: memcpy was handed its NULL pointer) */
	{
		const char *why;
		static const char r[] =
			"OPTIONS sip:a@b SIP/2.0\r\n"
			"Via: SIP/2.0/UDP 192.0.2.1\r\n"
			"From: <sip:c@d>\r\nTo: <sip:a@b>\r\n"
			"Call-ID: x\r\nCSeq: 1 OPTIONS\r\n"
			"Max-Forwards: 70\r\n\r\n";
		char *b = malloc(sizeof(r) - 1);

		assert_non_null(b);
		memcpy(b, r, sizeof(r) - 1);
		assert_int_equal(sipmsg_parse(&m, b, sizeof(r) - 1, true), 0);
		assert_int_equal(sipmsg_check(&m, &why), 0);
		assert_null(m.from.tag.p);
		assert_int_equal(strans_receive(s, &m, SIPD_UDP, &C, 0, 0,
						NULL), STRANS_RX_NEW);
		assert_int_equal(strans_receive(s, &m, SIPD_UDP, &C, 0, 0,
						NULL), STRANS_RX_RETRANS);
		free(b);
	}
	assert_int_equal(strans_count(s), 7);
	memset(big, 'x', sizeof(big) - 1);
	memcpy(big, "z9hG4bK", 7);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(rx("OPTIONS", big, &A, SIPD_UDP, 0, NULL),
			 STRANS_RX_BAD);
	assert_int_equal(strans_count(s), 7);
}

/* Bounded per source (the address, whatever the port) and in total:
 * the request over the bound gets 503 with Retry-After and makes
 * nothing; an ACK over the bound is not answered. */
static void test_bounds(void **st)
{
	struct strans_stats sts;
	char br[32];
	unsigned sent;

	(void)st;
	for (int i = 0; i < 4; i++) {
		snprintf(br, sizeof(br), "z9hG4bKa%d", i);
		assert_int_equal(rx("OPTIONS", br, i & 1 ? &A2 : &A, SIPD_UDP,
				    0, NULL), STRANS_RX_NEW);
	}
	assert_int_equal(strans_count_src(s, &A), 4);
	assert_int_equal(n_sent, 0);
	assert_int_equal(rx("OPTIONS", "z9hG4bKa9", &A2, SIPD_UDP, 0, NULL),
			 STRANS_RX_FULL);
	assert_int_equal(n_sent, 1);
	assert_int_equal(last_code(), 503);
	assert_non_null(strstr(last, "\r\nRetry-After: 5\r\n"));
	assert_true(sa_cmp(&last_dst, &A2, SA_ALL));
	sent = n_sent;
	assert_int_equal(rx("ACK", "z9hG4bKa9", &A, SIPD_UDP, 0, NULL),
			 STRANS_RX_PASS);
	assert_int_equal(n_sent, sent);
	for (int i = 0; i < 4; i++) {
		snprintf(br, sizeof(br), "z9hG4bKb%d", i);
		assert_int_equal(rx("OPTIONS", br, &B, SIPD_UDP, 0, NULL),
				 STRANS_RX_NEW);
	}
	assert_int_equal(strans_count(s), 8);
	assert_int_equal(rx("OPTIONS", "z9hG4bKc0", &C, SIPD_UDP, 0, NULL),
			 STRANS_RX_FULL);
	assert_int_equal(strans_count_src(s, &C), 0);
	/* a retransmission of a live one is still absorbed when full */
	assert_int_equal(rx("OPTIONS", "z9hG4bKb0", &B, SIPD_UDP, 0, NULL),
			 STRANS_RX_RETRANS);
	strans_stats(s, &sts);
	assert_int_equal(sts.full, 2);
	assert_int_equal(sts.absorbed, 1);
	strans_tick(s, 32000);    /* unanswered: ended */
	assert_int_equal(strans_count(s), 0);
	assert_int_equal(strans_count_src(s, &A), 0);
	assert_int_equal(rx("OPTIONS", "z9hG4bKc0", &C, SIPD_UDP, 32000,
			    NULL), STRANS_RX_NEW);
}

/* Freeing the table ends what is live (CLOSED). */
static void test_close(void **st)
{
	struct strans_tx *tx;

	(void)st;
	assert_int_equal(rx("INVITE", "z9hG4bKz1", &A, SIPD_UDP, 0, &tx),
			 STRANS_RX_NEW);
	respond(tx, 500, 0);
	assert_int_equal(rx("OPTIONS", "z9hG4bKz2", &B, SIPD_UDP, 0, NULL),
			 STRANS_RX_NEW);
	s = mem_deref(s);
	assert_int_equal(n_end[STRANS_END_CLOSED], 2);
}

/* Churn: random requests, answers and ACKs from a few sources over a
 * minute of fake time; the bounds hold throughout and everything ends. */
static void test_churn(void **st)
{
	static const char *const mets[] = {"INVITE", "OPTIONS", "ACK",
					   "BYE", "CANCEL"};
	const struct sa *srcs[] = {&A, &A2, &B, &C};
	uint32_t r = 12345;
	uint64_t now = 0;

	(void)st;
	for (int i = 0; i < 20000; i++) {
		char br[32];
		struct strans_tx *tx = NULL;
		enum strans_rx res;

		r = r * 1103515245u + 12345u;
		now += (r >> 8) % 7;
		snprintf(br, sizeof(br), "z9hG4bK%u", (r >> 12) % 40);
		req(mets[(r >> 20) % 5], br, 1);
		res = strans_receive(s, &m, (r >> 25) & 1 ? SIPD_TCP : SIPD_UDP,
				     srcs[(r >> 27) % 4], 0, now, &tx);
		/* tx is valid now (returned by this call): answer it
		 * sometimes, with a provisional, a 2xx or a failure */
		if (tx && (res == STRANS_RX_NEW || res == STRANS_RX_RETRANS) &&
		    (r >> 16) % 3) {
			static const unsigned codes[] = {100, 180, 200, 486};
			char b[32];
			unsigned code = codes[(r >> 5) % 4];
			int n = snprintf(b, sizeof(b), "SIP/2.0 %u X\r\n\r\n",
					 code);
			int err = strans_respond(s, tx, code, b, (size_t)n,
						 now);

			assert_true(err == 0 || err == EPROTO);
		}
		assert_true(strans_count(s) <= 8);
		for (int k = 0; k < 4; k++)
			assert_true(strans_count_src(s, srcs[k]) <= 4);
		if (strans_next(s) <= now)
			strans_tick(s, now);
	}
	strans_tick(s, now + 400000);
	assert_int_equal(strans_count(s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_non_invite_udp),
		T(test_non_invite_tcp),
		T(test_no_answer),
		T(test_invite_udp_ack),
		T(test_invite_udp_noack),
		T(test_invite_tcp),
		T(test_invite_2xx),
		T(test_cancel),
		T(test_keys),
		T(test_bounds),
		T(test_close),
		T(test_churn),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
