/*
 * Unit tests of the guard core, driven by a fake clock: accounting windows,
 * bans and escalation, credit, stale credentials, distributed attacks,
 * scanners, rate limits, trusted networks, table bounds, IPv6 prefixes,
 * the settings section, nft rendering and persistence.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <net/if.h>
#include <ifaddrs.h>
#include <stdbool.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <re_types.h>
#include <re_sa.h>

#include "common/report.h"
#include "guard/guard_int.h"
#include "store/snapshot.h"
#include "store/store.h"   /* guard_section is a struct store_section */

static uint64_t fake_now;

static uint64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

static struct sa mk(const char *ip)
{
	struct sa sa;

	memset(&sa, 0, sizeof(sa));
	if (strchr(ip, ':')) {
		sa.u.in6.sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &sa.u.in6.sin6_addr);
		sa.len = sizeof(sa.u.in6);
	} else {
		sa.u.in.sin_family = AF_INET;
		inet_pton(AF_INET, ip, &sa.u.in.sin_addr);
		sa.len = sizeof(sa.u.in);
	}
	return sa;
}

static struct guard *mkguard(struct guard_cfg *over)
{
	struct guard *g = NULL;
	struct guard_cfg c;

	fake_now = 1700000000000ull;
	if (over) {
		c = *over;
	} else {
		guard_cfg_default(&c);
	}
	c.offload = false;
	assert_int_equal(guard_alloc_clock(&g, NULL, fake_clock, NULL, &c), 0);
	return g;
}

/* A failure that carried one of our nonces, issued 50 minutes before now
 * (older than the failures a test makes, so it does not count as a fresh
 * probation challenge; young enough to prove that the sender receives
 * our packets at that address: the guard takes nonces up to an hour
 * old as proof). */
#define PF (*(const struct guard_proof[]){ \
	{ .nonce = true, .nonce_ts = fake_now / 1000 - 3000 } })
/* Over an established TCP/TLS connection. */
static const struct guard_proof PF_CONN = { .conn = true };

static enum guard_verdict bad(struct guard *g, const char *ip,
			       const char *ext)
{
	struct sa sa = mk(ip);
	return guard_auth_result(g, &sa, ext, strlen(ext),
				 GUARD_AUTH_BAD_PASSWORD, &PF, "UA", 2);
}

static enum guard_verdict ok(struct guard *g, const char *ip,
			     const char *ext)
{
	struct sa sa = mk(ip);
	return guard_auth_result(g, &sa, ext, strlen(ext), GUARD_AUTH_OK,
				 &PF, "Yealink", 7);
}

static enum guard_verdict pkt(struct guard *g, const char *ip)
{
	struct sa sa = mk(ip);
	return guard_packet(g, &sa);
}

static size_t nbans(struct guard *g)
{
	json_t *b = guard_bans(g);
	size_t n = json_array_size(b);
	json_decref(b);
	return n;
}

static void test_ban_after_five(void **st)
{
	struct guard *g = mkguard(NULL);
	json_t *bans, *b;

	for (int i = 0; i < 4; i++) {
		assert_int_equal(bad(g, "198.51.100.7", i % 2 ? "201" : "202"),
				 GUARD_PASS);
		fake_now += 1000;
	}
	assert_int_equal(pkt(g, "198.51.100.7"), GUARD_PASS);
	assert_int_equal(nbans(g), 0);
	assert_int_equal(bad(g, "198.51.100.7", "203"), GUARD_DROP);
	assert_int_equal(pkt(g, "198.51.100.7"), GUARD_DROP);
	assert_int_equal(pkt(g, "198.51.100.8"), GUARD_PASS);
	bans = guard_bans(g);
	assert_int_equal(json_array_size(bans), 1);
	b = json_array_get(bans, 0);
	assert_string_equal(json_string_value(json_object_get(b, "source")),
			    "198.51.100.7");
	assert_string_equal(json_string_value(json_object_get(b, "reason")),
			    "auth_failures");
	assert_int_equal(json_integer_value(json_object_get(b, "count")), 5);
	assert_int_equal(json_array_size(json_object_get(b, "extensions")), 3);
	assert_int_equal(json_integer_value(json_object_get(b, "time_left")),
			 600);
	json_decref(bans);
	guard_close(g);
}

static void test_sliding_window(void **st)
{
	struct guard *g = mkguard(NULL);

	/* One failure every 13 s: at most 5 within any 60 s → the 5th within
	 * 52 s bans; spaced 16 s apart never 5 within 60 s. */
	for (int i = 0; i < 50; i++) {
		assert_int_equal(bad(g, "203.0.113.1", "300"), GUARD_PASS);
		fake_now += 16000;
	}
	assert_int_equal(nbans(g), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(bad(g, "203.0.113.2", "300"), GUARD_PASS);
		fake_now += 13000;
	}
	assert_int_equal(bad(g, "203.0.113.2", "300"), GUARD_DROP);
	guard_close(g);
}

static void ban_now(struct guard *g, const char *ip)
{
	for (int i = 0; i < 5; i++)
		bad(g, ip, "100");
}

static long time_left(struct guard *g)
{
	json_t *b = guard_bans(g);
	long t = (long)json_integer_value(json_object_get(
		json_array_get(b, 0), "time_left"));
	json_decref(b);
	return t;
}

static void test_escalation(void **st)
{
	struct guard *g = mkguard(NULL);
	long expect = 600;

	for (int round = 0; round < 10; round++) {
		ban_now(g, "192.0.2.9");
		assert_int_equal(nbans(g), 1);
		assert_int_equal(time_left(g), expect);
		fake_now += (uint64_t)expect * 1000 + 1000;
		assert_int_equal(nbans(g), 0);
		assert_int_equal(pkt(g, "192.0.2.9"), GUARD_PASS);
		expect = expect * 2 > 86400 ? 86400 : expect * 2;
	}
	/* After a day without offence the next ban starts at 10 min again. */
	fake_now += 2 * 86400000ull;
	ban_now(g, "192.0.2.9");
	assert_int_equal(time_left(g), 600);
	guard_close(g);
}

static void test_refresh_storm_no_ban(void **st)
{
	struct guard *g = mkguard(NULL);
	char ext[16];

	/* 1,000 phones behind one address re-register in the same second,
	 * each REGISTER once unauthenticated then authenticated. */
	for (int i = 0; i < 1000; i++) {
		snprintf(ext, sizeof(ext), "%d", 1000 + i);
		assert_int_equal(pkt(g, "192.0.2.50"), GUARD_PASS);
		assert_int_equal(pkt(g, "192.0.2.50"), GUARD_PASS);
		assert_int_equal(ok(g, "192.0.2.50", ext), GUARD_PASS);
	}
	assert_int_equal(nbans(g), 0);
	assert_int_equal(g->st.dropped_rate, 0);
	guard_close(g);
}

static void test_credit(void **st)
{
	struct guard *g = mkguard(NULL);
	char ext[16];

	ok(g, "192.0.2.60", "201");
	/* Credited: 19 failures on different extensions do not ban. */
	for (int i = 0; i < 19; i++) {
		snprintf(ext, sizeof(ext), "%d", 400 + i);
		assert_int_equal(bad(g, "192.0.2.60", ext), GUARD_PASS);
	}
	assert_int_equal(nbans(g), 0);
	snprintf(ext, sizeof(ext), "%d", 500);
	assert_int_equal(bad(g, "192.0.2.60", ext), GUARD_DROP);
	assert_int_equal(nbans(g), 1);
	guard_close(g);

	/* Credited office NAT, one phone with a wrong password: that
	 * extension is blocked from it, the address is not banned. */
	g = mkguard(NULL);
	ok(g, "192.0.2.61", "201");
	for (int i = 0; i < 4; i++)
		assert_int_equal(bad(g, "192.0.2.61", "202"), GUARD_PASS);
	assert_int_equal(bad(g, "192.0.2.61", "202"), GUARD_DROP);
	assert_string_equal(g->last_event, "extension_blocked");
	assert_int_equal(bad(g, "192.0.2.61", "202"), GUARD_DROP);
	assert_int_equal(nbans(g), 0);
	assert_int_equal(pkt(g, "192.0.2.61"), GUARD_PASS);
	assert_int_equal(ok(g, "192.0.2.61", "203"), GUARD_PASS);

	/* Credit expires after credit_hours. */
	fake_now += 25ull * 3600000;
	for (int i = 0; i < 4; i++)
		assert_int_equal(bad(g, "192.0.2.61", "204"), GUARD_PASS);
	assert_int_equal(bad(g, "192.0.2.61", "204"), GUARD_DROP);
	assert_int_equal(nbans(g), 1);
	guard_close(g);
}

static void test_stale(void **st)
{
	struct guard *g = mkguard(NULL);
	struct sa sa = mk("192.0.2.70");

	for (int i = 0; i < 100; i++) {
		assert_int_equal(guard_auth_result(g, &sa, "201", 3,
			GUARD_AUTH_STALE, &PF, "Yealink", 7), GUARD_PASS);
		assert_int_equal(guard_packet(g, &sa), GUARD_PASS);
	}
	assert_int_equal(nbans(g), 0);
	assert_int_equal(g->st.stale, 100);
	assert_int_equal(g->st.auth_fail, 0);
	assert_string_equal(g->last_event, "stale_credentials");
	/* One event per device per 10 min, not 100. */
	assert_int_equal(g->st.events, 1);
	guard_close(g);
}

static void test_distributed(void **st)
{
	struct guard *g = mkguard(NULL);
	char ip[32];

	ok(g, "192.0.2.80", "201");   /* the real phone */
	for (int i = 0; i < 9; i++) {
		snprintf(ip, sizeof(ip), "198.18.0.%d", i + 1);
		assert_int_equal(bad(g, ip, "201"), GUARD_PASS);
		fake_now += 1000;
	}
	assert_int_equal(g->st.distributed, 0);
	assert_int_equal(bad(g, "198.18.0.10", "201"), GUARD_TARPIT);
	assert_int_equal(g->st.distributed, 1);
	assert_string_equal(g->last_event, "distributed_attack");
	/* Never-authenticated sources are now tarpitted on 201 ... */
	assert_int_equal(bad(g, "198.18.1.1", "201"), GUARD_TARPIT);
	/* ... but not on other extensions, and not the real device. */
	assert_int_equal(bad(g, "198.18.1.2", "202"), GUARD_PASS);
	assert_int_equal(bad(g, "192.0.2.80", "201"), GUARD_PASS);
	assert_int_equal(ok(g, "192.0.2.80", "201"), GUARD_PASS);
	/* Tarpit mode ends dist_hold after the last attack. */
	fake_now += 3601000;
	assert_int_equal(bad(g, "198.18.1.3", "201"), GUARD_PASS);
	guard_close(g);
}

/* Issue 8 (item 4): the tarpit revealed which extensions exist (only
 * failures on real ones started it). Unknown names go the same way. */
static void test_distributed_unknown(void **st)
{
	struct guard *g = mkguard(NULL);
	char ip[32];
	struct sa sa;

	for (int i = 0; i < 9; i++) {
		snprintf(ip, sizeof(ip), "198.18.2.%d", i + 1);
		sa = mk(ip);
		assert_int_equal(guard_auth_result(g, &sa, "299", 3,
			GUARD_AUTH_UNKNOWN_USER, &PF, "UA", 2), GUARD_PASS);
		fake_now += 1000;
	}
	sa = mk("198.18.2.10");
	assert_int_equal(guard_auth_result(g, &sa, "299", 3,
		GUARD_AUTH_UNKNOWN_USER, &PF, "UA", 2), GUARD_TARPIT);
	assert_int_equal(g->st.distributed, 1);
	sa = mk("198.18.3.1");
	assert_int_equal(guard_auth_result(g, &sa, "299", 3,
		GUARD_AUTH_UNKNOWN_USER, &PF, "UA", 2), GUARD_TARPIT);
	/* forged failures (no proof) neither start it nor are delayed */
	for (int i = 0; i < 20; i++) {
		snprintf(ip, sizeof(ip), "198.18.4.%d", i + 1);
		sa = mk(ip);
		assert_int_equal(guard_auth_result(g, &sa, "298", 3,
			GUARD_AUTH_MALFORMED, NULL, "UA", 2), GUARD_PASS);
	}
	assert_int_equal(g->st.distributed, 1);
	guard_close(g);
}

static void test_scanner(void **st)
{
	struct guard *g = mkguard(NULL);
	struct sa sa = mk("192.0.2.90"), sb = mk("192.0.2.91");
	struct guard_cfg c;
	json_t *sec;

	assert_int_equal(guard_request(g, &sb, 0, "Yealink SIP-T46S", 16),
			 GUARD_PASS);
	assert_int_equal(guard_request(g, &sb, 0, NULL, 0), GUARD_PASS);
	/* Over a connection the source address is real: banned at once. */
	assert_int_equal(guard_request(g, &sa, GUARD_REQ_CONN,
				       "friendly-scanner", 16), GUARD_DROP);
	assert_int_equal(guard_packet(g, &sa), GUARD_DROP);
	assert_int_equal(nbans(g), 1);
	sa = mk("192.0.2.92");
	assert_int_equal(guard_request(g, &sa, GUARD_REQ_CONN,
				       "x SIPVicious/0.3", 16), GUARD_DROP);
	sa = mk("192.0.2.93");
	assert_int_equal(guard_request(g, &sa, GUARD_REQ_CONN,
				       "VaxSIPUserAgent/3.1", 19), GUARD_DROP);
	assert_int_equal(nbans(g), 3);
	/* A credited address is not banned by a scanner user agent, only
	 * dropped. */
	ok(g, "192.0.2.94", "201");
	sa = mk("192.0.2.94");
	assert_int_equal(guard_request(g, &sa, GUARD_REQ_CONN,
				       "friendly-scanner", 16), GUARD_DROP);
	assert_int_equal(nbans(g), 3);
	assert_int_equal(guard_packet(g, &sa), GUARD_PASS);
	/* Configurable list, case-insensitive. */
	guard_cfg_default(&c);
	sec = json_pack("{s:s}", "scanners", "EvilDialer, other");
	guard_cfg_load(&c, sec);
	json_decref(sec);
	assert_true(guard_scanner_match(&c, "my evildialer 2", 15));
	assert_false(guard_scanner_match(&c, "friendly-scanner", 16));
	guard_close(g);
}

/* Issue 8: one forged OPTIONS with a scanner user agent banned an address
 * that had no credit (a trunk, a phone before its first registration).
 * Over UDP a scanner is dropped without an answer and never banned,
 * unless it answers our challenge with its nonce. */
static void test_scanner_forged(void **st)
{
	struct guard *g = mkguard(NULL);
	struct sa sa = mk("192.0.2.95"), sr = mk("192.0.2.96");
	struct guard_proof pf = { .nonce = true };

	for (int i = 0; i < 50; i++) {
		assert_int_equal(guard_packet(g, &sa), GUARD_PASS);
		assert_int_equal(guard_request(g, &sa, 0, "friendly-scanner",
					       16), GUARD_DROP);
	}
	assert_int_equal(nbans(g), 0);
	assert_int_equal(guard_packet(g, &sa), GUARD_PASS);
	assert_string_equal(g->last_event, "scanner");
	/* an event a minute per source, not one per packet */
	assert_int_equal(g->st.events, 1);
	/* A scanner REGISTER is challenged (PASS); a broken Authorization
	 * without our nonce is dropped, not counted. */
	assert_int_equal(guard_request(g, &sr, GUARD_REQ_REGISTER,
				       "friendly-scanner", 16), GUARD_PASS);
	assert_int_equal(guard_auth_result(g, &sr, "201", 3,
		GUARD_AUTH_MALFORMED, NULL, "friendly-scanner", 16),
		GUARD_DROP);
	assert_int_equal(nbans(g), 0);
	/* The scanner that answers the challenge with its nonce has shown
	 * it receives our packets: banned at once. */
	pf.nonce_ts = fake_now / 1000;
	assert_int_equal(guard_request(g, &sr, GUARD_REQ_REGISTER,
				       "friendly-scanner", 16), GUARD_PASS);
	assert_int_equal(guard_auth_result(g, &sr, "201", 3,
		GUARD_AUTH_BAD_PASSWORD, &pf, "friendly-scanner", 16),
		GUARD_DROP);
	assert_int_equal(nbans(g), 1);
	assert_int_equal(guard_packet(g, &sr), GUARD_DROP);
	{
		json_t *b = guard_bans(g);
		assert_string_equal(json_string_value(json_object_get(
			json_array_get(b, 0), "reason")), "scanner");
		json_decref(b);
	}
	/* A credited address: its scanner REGISTER is not even answered. */
	ok(g, "192.0.2.97", "201");
	sa = mk("192.0.2.97");
	assert_int_equal(guard_request(g, &sa, GUARD_REQ_REGISTER,
				       "friendly-scanner", 16), GUARD_DROP);
	assert_int_equal(nbans(g), 1);
	guard_close(g);
}

/* Issue 8: 20 REGISTERs whose Authorization cannot be parsed (no nonce
 * check) banned a credited office, and any uncredited address. */
static void test_malformed_forged(void **st)
{
	struct guard *g = mkguard(NULL);
	struct sa off = mk("192.0.2.110"), ph = mk("192.0.2.111");

	ok(g, "192.0.2.110", "201");
	for (int i = 0; i < 100; i++) {
		assert_int_equal(guard_packet(g, &off), GUARD_PASS);
		assert_int_equal(guard_auth_result(g, &off, "201", 3,
			GUARD_AUTH_MALFORMED, NULL, "UA", 2), GUARD_PASS);
		assert_int_equal(guard_packet(g, &ph), GUARD_PASS);
		assert_int_equal(guard_request(g, &ph, GUARD_REQ_REGISTER,
					       "UA", 2), GUARD_PASS);
		assert_int_equal(guard_auth_result(g, &ph, "202", 3,
			GUARD_AUTH_MALFORMED, NULL, "UA", 2), GUARD_PASS);
		fake_now += 100;
	}
	assert_int_equal(nbans(g), 0);
	assert_int_equal(g->st.unproven, 200);
	/* The same failures over a connection do count. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(guard_auth_result(g, &ph, "202", 3,
			GUARD_AUTH_MALFORMED, &PF_CONN, "UA", 2), GUARD_PASS);
	assert_int_equal(guard_auth_result(g, &ph, "202", 3,
		GUARD_AUTH_MALFORMED, &PF_CONN, "UA", 2), GUARD_DROP);
	assert_int_equal(nbans(g), 1);
	guard_close(g);
}

/* A nonce proves that the sender receives our packets at the address for
 * an hour: one issued two hours ago was answered by whoever held the
 * address then, so failures carrying it never ban today's holder; the
 * same failures with a nonce of this hour do. */
static void test_old_nonce_no_proof(void **st)
{
	struct guard *g = mkguard(NULL);
	struct sa a = mk("192.0.2.112");
	struct guard_proof old = { .nonce = true };

	for (int i = 0; i < 20; i++) {
		old.nonce_ts = fake_now / 1000 - 7200;
		assert_int_equal(guard_auth_result(g, &a, "201", 3,
			GUARD_AUTH_BAD_PASSWORD, &old, "UA", 2), GUARD_PASS);
		fake_now += 100;
	}
	assert_int_equal(nbans(g), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(guard_auth_result(g, &a, "201", 3,
			GUARD_AUTH_BAD_PASSWORD, &PF, "UA", 2), GUARD_PASS);
	assert_int_equal(guard_auth_result(g, &a, "201", 3,
		GUARD_AUTH_BAD_PASSWORD, &PF, "UA", 2), GUARD_DROP);
	assert_int_equal(nbans(g), 1);
	guard_close(g);
}

/* Issue 8: after a 70,000-source forged flood evicted an office's credit
 * from the source table, 8 packets banned it. Credit is a table of its
 * own that only successes enter. */
static void test_credit_survives_flood(void **st)
{
	struct guard_cfg c;
	struct guard *g;
	struct sa off = mk("192.0.2.120");
	int passed = 0;
	char ext[16];

	guard_cfg_default(&c);
	c.max_tracked = 1024;
	g = mkguard(&c);
	ok(g, "192.0.2.120", "201");
	for (unsigned i = 0; i < 70000; i++) {
		struct sa sa;

		memset(&sa, 0, sizeof(sa));
		sa.u.in.sin_family = AF_INET;
		sa.len = sizeof(sa.u.in);
		sa.u.in.sin_addr.s_addr = htonl(0x0e000000u + i);
		guard_packet(g, &sa);
		guard_request(g, &sa, GUARD_REQ_REGISTER, "x", 1);
		guard_auth_result(g, &sa, "201", 3, GUARD_AUTH_MALFORMED, NULL,
				  "x", 1);
	}
	assert_true(g->src.evicted >= 68000);
	assert_int_equal(g->credit.n, 1);
	/* still credited: the allowance of an authenticated source ... */
	fake_now += 60000;
	for (int i = 0; i < 2000; i++)
		passed += guard_packet(g, &off) == GUARD_PASS;
	assert_int_equal(passed, 2000);
	/* ... and its threshold: 19 proven failures do not ban it */
	for (int i = 0; i < 19; i++) {
		snprintf(ext, sizeof(ext), "%d", 400 + i);
		assert_int_equal(bad(g, "192.0.2.120", ext), GUARD_PASS);
	}
	assert_int_equal(nbans(g), 0);
	/* Bounded: at most max_tracked credited sources, the oldest go. */
	for (unsigned i = 0; i < 3000; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "10.1.%u.%u", i / 250, i % 250 + 1);
		ok(g, ip, "201");
	}
	assert_true(g->credit.n <= 1024);
	guard_close(g);
}

/* Issue 8 (item 7): the right password over a transport the extension
 * does not allow is a misconfigured phone: its own event, never counted
 * toward a ban. */
static void test_transport_refused(void **st)
{
	struct guard *g = mkguard(NULL);
	struct sa sa = mk("192.0.2.130");

	for (int i = 0; i < 100; i++) {
		assert_int_equal(guard_request(g, &sa, GUARD_REQ_CONN |
					       GUARD_REQ_REGISTER, "Ph", 2),
				 GUARD_PASS);
		assert_int_equal(guard_auth_result(g, &sa, "201", 3,
			GUARD_AUTH_TRANSPORT, &PF_CONN, "Ph", 2), GUARD_PASS);
		assert_int_equal(guard_packet(g, &sa), GUARD_PASS);
	}
	assert_int_equal(nbans(g), 0);
	assert_int_equal(g->st.transport, 100);
	assert_int_equal(g->st.auth_fail, 0);
	assert_string_equal(g->last_event, "transport_refused");
	assert_int_equal(g->st.events, 1);   /* once per 10 min */
	/* after a real failure (probation over TCP) it still is not one */
	assert_int_equal(bad(g, "192.0.2.130", "201"), GUARD_PASS);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(guard_request(g, &sa, GUARD_REQ_CONN |
					       GUARD_REQ_REGISTER, "Ph", 2),
				 GUARD_PASS);
		assert_int_equal(guard_auth_result(g, &sa, "201", 3,
			GUARD_AUTH_TRANSPORT, &PF_CONN, "Ph", 2), GUARD_PASS);
	}
	assert_int_equal(nbans(g), 0);
	guard_close(g);
}

static void test_rate_limit(void **st)
{
	struct guard *g = mkguard(NULL);
	int passed = 0;

	for (int i = 0; i < 1000; i++)
		passed += pkt(g, "192.0.2.100") == GUARD_PASS;
	assert_int_equal(passed, 100);   /* burst */
	assert_int_equal(g->st.dropped_rate, 900);
	fake_now += 1000;
	passed = 0;
	for (int i = 0; i < 1000; i++)
		passed += pkt(g, "192.0.2.100") == GUARD_PASS;
	assert_int_equal(passed, 50);    /* rate per second */
	/* An authenticated source gets the higher allowance. */
	ok(g, "192.0.2.101", "201");
	passed = 0;
	for (int i = 0; i < 5000; i++)
		passed += pkt(g, "192.0.2.101") == GUARD_PASS;
	assert_true(passed >= 4000);
	/* The drops are reported, aggregated, after 10 s. */
	fake_now += 11000;
	for (int i = 0; i < 300; i++)
		pkt(g, "192.0.2.100");
	assert_string_equal(g->last_event, "rate_limited");
	guard_close(g);
}

static void test_trusted(void **st)
{
	struct guard_cfg c;
	struct guard *g;
	json_t *sec;

	guard_cfg_default(&c);
	sec = json_pack("{s:s}", "trusted", "10.0.0.0/8, 2001:db8:1::/48");
	guard_cfg_load(&c, sec);
	json_decref(sec);
	assert_int_equal(c.n_trusted, 2);
	g = mkguard(&c);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(bad(g, "10.1.2.3", "201"), GUARD_PASS);
		assert_int_equal(bad(g, "2001:db8:1:5::9", "201"), GUARD_PASS);
	}
	assert_int_equal(nbans(g), 0);
	assert_int_equal(guard_ban_add(g, "10.1.2.3", 0), EPERM);
	/* Live trust with a duration lifts the ban, then expires. */
	ban_now(g, "192.0.2.110");
	assert_int_equal(nbans(g), 1);
	assert_int_equal(guard_trust_add(g, "192.0.2.0/24", 60), 0);
	assert_int_equal(nbans(g), 0);
	assert_int_equal(pkt(g, "192.0.2.110"), GUARD_PASS);
	ban_now(g, "192.0.2.111");
	assert_int_equal(nbans(g), 0);
	fake_now += 61000;
	ban_now(g, "192.0.2.111");
	assert_int_equal(nbans(g), 1);
	assert_int_equal(guard_trust_add(g, "not-a-net", 0), EINVAL);
	guard_close(g);
}

/* First non-loopback interface with an IPv4 address: its name and that
 * address (which lies inside the interface's own network). */
static bool lan_iface(char *name, size_t nsz, char *ip, size_t isz)
{
	struct ifaddrs *ifa = NULL, *it;
	bool found = false;

	if (getifaddrs(&ifa))
		return false;
	for (it = ifa; it && !found; it = it->ifa_next) {
		if (!it->ifa_addr || it->ifa_addr->sa_family != AF_INET ||
		    (it->ifa_flags & IFF_LOOPBACK))
			continue;
		snprintf(name, nsz, "%s", it->ifa_name);
		inet_ntop(AF_INET,
			  &((struct sockaddr_in *)(void *)it->ifa_addr)->sin_addr,
			  ip, (socklen_t)isz);
		found = true;
	}
	freeifaddrs(ifa);
	return found;
}

/* LAN interfaces are never policed: the networks on the interfaces the
 * firewall section designates LAN are trusted by the guard. */
static void test_lan_trusted(void **st)
{
	struct guard *g;
	struct snapshot snap;
	char ifname[32], ip[INET_ADDRSTRLEN];

	if (!lan_iface(ifname, sizeof(ifname), ip, sizeof(ip)))
		skip();
	g = mkguard(NULL);
	for (int i = 0; i < 5; i++)
		bad(g, ip, "201");
	assert_int_equal(nbans(g), 1);
	guard_close(g);

	g = mkguard(NULL);
	memset(&snap, 0, sizeof(snap));
	snap.sections = json_pack("{s:{s:s}}", "firewall", "lan", ifname);
	guard_apply_snapshot(g, &snap);
	for (int i = 0; i < 50; i++)
		assert_int_equal(bad(g, ip, "201"), GUARD_PASS);
	assert_int_equal(nbans(g), 0);
	/* a network that is not on a LAN interface is still policed */
	for (int i = 0; i < 5; i++)
		bad(g, "198.51.100.77", "201");
	assert_int_equal(nbans(g), 1);
	json_decref(snap.sections);
	guard_close(g);
}

static void test_bounded_tables(void **st)
{
	struct guard_cfg c;
	struct guard *g;
	char ip[32];

	guard_cfg_default(&c);
	c.max_tracked = 1024;
	c.max_bans = 4096;
	g = mkguard(&c);
	ban_now(g, "192.0.2.200");
	/* A spoofed flood from 1,000,000 sources, with failures. */
	for (unsigned i = 0; i < 1000000; i++) {
		struct sa sa;
		memset(&sa, 0, sizeof(sa));
		sa.u.in.sin_family = AF_INET;
		sa.u.in.sin_addr.s_addr = htonl(0x0b000000u + i);
		guard_packet(g, &sa);
		if (i % 10 == 0)
			guard_auth_result(g, &sa, "201", 3,
					  GUARD_AUTH_BAD_PASSWORD, &PF, NULL,
					  0);
	}
	assert_true(g->src.n <= 1024);
	assert_true(g->pair.n <= 1024);
	assert_true(g->ext.n <= 1024 / 4 + 16);
	assert_true(g->src.evicted > 900000);
	/* The ban survives the eviction of its counters. */
	assert_int_equal(pkt(g, "192.0.2.200"), GUARD_DROP);
	snprintf(ip, sizeof(ip), "192.0.2.201");
	ban_now(g, ip);
	assert_int_equal(pkt(g, ip), GUARD_DROP);
	/* Shrinking a table keeps the most recent entries. */
	c.max_tracked = 128;
	guard_set_cfg(g, &c);
	assert_true(g->src.n <= 128);
	guard_close(g);
}

static void test_ipv6_prefix(void **st)
{
	struct guard *g = mkguard(NULL);
	struct guard_cfg c;

	/* Five addresses of one /64 count as one source. */
	assert_int_equal(bad(g, "2001:db8:0:1::1", "201"), GUARD_PASS);
	assert_int_equal(bad(g, "2001:db8:0:1::2", "201"), GUARD_PASS);
	assert_int_equal(bad(g, "2001:db8:0:1::3", "201"), GUARD_PASS);
	assert_int_equal(bad(g, "2001:db8:0:1:aaaa::4", "201"), GUARD_PASS);
	assert_int_equal(bad(g, "2001:db8:0:2::1", "201"), GUARD_PASS);
	assert_int_equal(bad(g, "2001:db8:0:1::5", "201"), GUARD_DROP);
	assert_int_equal(pkt(g, "2001:db8:0:1:ffff::9"), GUARD_DROP);
	assert_int_equal(pkt(g, "2001:db8:0:2::1"), GUARD_PASS);
	{
		json_t *b = guard_bans(g);
		assert_string_equal(json_string_value(json_object_get(
			json_array_get(b, 0), "source")), "2001:db8:0:1::/64");
		json_decref(b);
	}
	assert_int_equal(guard_ban_remove(g, "2001:db8:0:1::77"), 0);
	assert_int_equal(pkt(g, "2001:db8:0:1::1"), GUARD_PASS);
	guard_close(g);

	guard_cfg_default(&c);
	c.ipv6_prefix = 128;
	g = mkguard(&c);
	for (int i = 1; i <= 5; i++) {
		char ip[64];
		snprintf(ip, sizeof(ip), "2001:db8::%d", i);
		assert_int_equal(bad(g, ip, "201"), GUARD_PASS);
	}
	guard_close(g);
}

/* svcrack's pattern over TCP: an unauthenticated REGISTER (answered with
 * a challenge) between guesses. At most 5 answers in all, then dropped. */
static void test_probation(void **st)
{
	struct guard *g = mkguard(NULL);
	struct sa sa = mk("198.51.100.50");
	const unsigned cr = GUARD_REQ_CONN | GUARD_REQ_REGISTER;
	int answers = 0;

	for (int i = 0; i < 50; i++) {
		bool with_auth = i % 3 != 0;
		enum guard_verdict v;

		if (guard_packet(g, &sa) == GUARD_DROP)
			continue;
		v = guard_request(g, &sa, cr, "svcrack", 7);
		if (v == GUARD_PASS && with_auth)
			v = guard_auth_result(g, &sa, "201", 3,
					      GUARD_AUTH_BAD_PASSWORD,
					      &PF_CONN, NULL, 0);
		if (v == GUARD_PASS)
			answers++;
		fake_now += 10;
	}
	assert_true(answers <= 5);
	assert_true(answers >= 3);
	assert_int_equal(nbans(g), 1);
	/* Exactly five failures (no extra requests) still ban on the 5th. */
	sa = mk("198.51.100.51");
	for (int i = 0; i < 4; i++) {
		assert_int_equal(guard_request(g, &sa, cr, NULL, 0),
				 GUARD_PASS);
		assert_int_equal(guard_auth_result(g, &sa, "201", 3,
			GUARD_AUTH_BAD_PASSWORD, &PF_CONN, NULL, 0),
			GUARD_PASS);
	}
	assert_int_equal(guard_request(g, &sa, cr, NULL, 0), GUARD_DROP);
	/* An authenticated source is never on probation. */
	sa = mk("198.51.100.52");
	ok(g, "198.51.100.52", "201");
	assert_int_equal(guard_auth_result(g, &sa, "202", 3,
		GUARD_AUTH_BAD_PASSWORD, &PF_CONN, NULL, 0), GUARD_PASS);
	for (int i = 0; i < 100; i++)
		assert_int_equal(guard_request(g, &sa, cr, NULL, 0),
				 GUARD_PASS);
	/* Stale credentials never start or feed probation. */
	sa = mk("198.51.100.53");
	for (int i = 0; i < 100; i++) {
		assert_int_equal(guard_request(g, &sa, cr, NULL, 0),
				 GUARD_PASS);
		assert_int_equal(guard_auth_result(g, &sa, "201", 3,
			GUARD_AUTH_STALE, &PF_CONN, NULL, 0), GUARD_PASS);
	}
	assert_int_equal(nbans(g), 2);
	guard_close(g);
}

/* The same cracker over UDP: the plain REGISTERs prove nothing and are
 * not counted, but each challenge it answers with its nonce is: still at
 * most 5 answers (401s and 403s) before the ban. */
static void test_probation_udp(void **st)
{
	struct guard *g = mkguard(NULL);
	struct sa sa = mk("198.51.100.60");
	int answers = 0, guesses = 0;

	for (int i = 0; i < 50; i++) {
		struct guard_proof pf = { .nonce = true };

		if (guard_packet(g, &sa) == GUARD_DROP)
			continue;
		/* REGISTER without credentials: challenged */
		if (guard_request(g, &sa, GUARD_REQ_REGISTER, "svcrack", 7) !=
		    GUARD_PASS)
			continue;
		answers++;
		pf.nonce_ts = fake_now / 1000;   /* the nonce of that 401 */
		fake_now += 5;
		if (guard_packet(g, &sa) == GUARD_DROP)
			continue;
		if (guard_request(g, &sa, GUARD_REQ_REGISTER, "svcrack", 7) !=
		    GUARD_PASS)
			continue;
		guesses++;
		if (guard_auth_result(g, &sa, "201", 3,
				      GUARD_AUTH_BAD_PASSWORD, &pf, NULL,
				      0) == GUARD_PASS)
			answers++;
		fake_now += 5;
	}
	print_message("udp cracker: %d answers, %d guesses\n", answers,
		      guesses);
	assert_int_equal(answers, 5);
	assert_int_equal(guesses, 3);
	assert_int_equal(nbans(g), 1);
	assert_int_equal(guard_packet(g, &sa), GUARD_DROP);
	guard_close(g);
}

/* Issue 8: one forged malformed REGISTER and four forged OPTIONS banned
 * an address through probation. A proven failure (a phone's typo) and
 * any number of forged datagrams after it do not ban either. */
static void test_probation_forged(void **st)
{
	struct guard *g = mkguard(NULL);
	struct sa a = mk("198.51.100.70"), b = mk("198.51.100.71");

	assert_int_equal(guard_auth_result(g, &a, "201", 3,
		GUARD_AUTH_MALFORMED, NULL, NULL, 0), GUARD_PASS);
	assert_int_equal(bad(g, "198.51.100.71", "201"), GUARD_PASS);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(guard_request(g, &a, 0, NULL, 0), GUARD_PASS);
		assert_int_equal(guard_request(g, &b, 0, NULL, 0), GUARD_PASS);
		assert_int_equal(guard_request(g, &b, GUARD_REQ_REGISTER,
					       NULL, 0), GUARD_PASS);
		assert_int_equal(guard_auth_result(g, &b, "201", 3,
			GUARD_AUTH_MALFORMED, NULL, NULL, 0), GUARD_PASS);
		fake_now += 100;
	}
	assert_int_equal(nbans(g), 0);
	assert_int_equal(guard_packet(g, &a), GUARD_PASS);
	assert_int_equal(guard_packet(g, &b), GUARD_PASS);
	guard_close(g);
}

static void test_manual(void **st)
{
	struct guard *g = mkguard(NULL);

	assert_int_equal(guard_ban_add(g, "198.51.100.1", 120), 0);
	assert_int_equal(pkt(g, "198.51.100.1"), GUARD_DROP);
	assert_int_equal(time_left(g), 120);
	assert_int_equal(guard_ban_add(g, "garbage", 0), EINVAL);
	assert_int_equal(guard_ban_remove(g, "198.51.100.2"), ENOENT);
	assert_int_equal(guard_ban_remove(g, "198.51.100.1"), 0);
	assert_int_equal(pkt(g, "198.51.100.1"), GUARD_PASS);
	assert_int_equal(nbans(g), 0);
	guard_close(g);
}

static void test_section(void **st)
{
	struct report r;
	json_t *o = guard_section.defaults();

	report_init(&r);
	assert_int_equal(json_integer_value(json_object_get(o,
		"fail_threshold")), 5);
	assert_int_equal(guard_section.set(o, "fail_threshold", "0", &r),
			 EINVAL);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.item[0].field, "guard.fail_threshold");
	assert_int_equal(guard_section.set(o, "nope", "1", &r), ENOENT);
	assert_int_equal(guard_section.set(o, "trusted", "10.0.0.0/8,bad",
					   &r), EINVAL);
	assert_non_null(strstr(r.item[2].msg, "bad"));
	assert_int_equal(guard_section.set(o, "ban_scope", "everything", &r),
			 EINVAL);
	assert_int_equal(guard_section.set(o, "ban_scope", "all", &r), 0);
	assert_int_equal(guard_section.set(o, "offload", "off", &r), 0);
	assert_true(json_is_false(json_object_get(o, "offload")));
	assert_int_equal(guard_section.set(o, "fail_threshold", "30", &r), 0);
	report_reset(&r);
	/* credit_threshold (20) < fail_threshold (30): refused at commit. */
	assert_int_equal(guard_section.validate(o, &r), EINVAL);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.item[0].field, "guard.credit_threshold");
	report_reset(&r);
	assert_int_equal(guard_section.set(o, "credit_threshold", "32", &r),
			 0);
	assert_int_equal(guard_section.validate(o, &r), 0);
	json_decref(o);
}

static void test_nft_render(void **st)
{
	char buf[2048];
	unsigned ports[] = { 5060, 5060, 5061, 15060 };
	struct gaddr a;

	assert_int_equal(gnft_setup_script(buf, sizeof(buf), GUARD_SCOPE_SIP,
					   ports, 4, 10000, 20000), 0);
	assert_non_null(strstr(buf, "add set inet bulwark ban4 { type "
			       "ipv4_addr; flags interval, timeout; }"));
	assert_non_null(strstr(buf, "flush chain inet bulwark guard_in"));
	assert_non_null(strstr(buf, "ip saddr @ban4 meta l4proto { tcp, udp }"
			       " th dport { 5060, 5061, 10000-20000 } counter "
			       "drop"));
	assert_null(strstr(buf, "15060"));   /* inside the RTP range */
	assert_null(strstr(buf, "flush ruleset"));
	assert_null(strstr(buf, "delete table"));
	assert_int_equal(gnft_setup_script(buf, sizeof(buf), GUARD_SCOPE_ALL,
					   ports, 4, 10000, 20000), 0);
	assert_non_null(strstr(buf, "ip saddr @ban4 counter drop"));
	gaddr_parse(&a, "2001:db8::/64", 64);
	assert_int_equal(gnft_ban_script(buf, sizeof(buf), &a, 600), 0);
	assert_non_null(strstr(buf, "add element inet bulwark ban6 { "
			       "2001:db8::/64 timeout 600s }"));
	gaddr_parse(&a, "192.0.2.1", 64);
	assert_int_equal(gnft_unban_script(buf, sizeof(buf), &a), 0);
	assert_non_null(strstr(buf, "delete element inet bulwark ban4 { "
			       "192.0.2.1 }"));
}

static void test_persistence(void **st)
{
	char dir[] = "/tmp/guardtestXXXXXX", db[128], logp[128];
	struct guard_conf conf = { 0 };
	struct guard_cfg c;
	struct guard *g = NULL;
	json_t *ev = NULL;
	FILE *f;
	char line[1024];
	bool saw_ban = false;

	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/bulwark.db", dir);
	snprintf(logp, sizeof(logp), "%s/security.log", dir);
	conf.data_dir = dir;
	conf.db_path = db;
	guard_cfg_default(&c);
	c.offload = false;
	fake_now = 1700000000000ull;
	assert_int_equal(guard_alloc_clock(&g, &conf, fake_clock, NULL, &c), 0);
	ban_now(g, "198.51.100.33");
	{
		struct sa sa = mk("198.51.100.34");
		guard_auth_result(g, &sa, "201", 3, GUARD_AUTH_BAD_PASSWORD,
				  &PF, "UA\"x", 4);
	}
	gworker_flush(g->worker, 5000);
	guard_close(g);

	/* Restart: the ban is back, with its remaining time. */
	fake_now += 100000;
	g = NULL;
	assert_int_equal(guard_alloc_clock(&g, &conf, fake_clock, NULL, &c), 0);
	assert_int_equal(nbans(g), 1);
	assert_int_equal(time_left(g), 500);
	assert_int_equal(pkt(g, "198.51.100.33"), GUARD_DROP);
	guard_close(g);

	/* Events: JSON lines in security.log and rows in the database. */
	f = fopen(logp, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		json_t *j = json_loads(line, 0, NULL);
		assert_non_null(j);
		assert_non_null(json_object_get(j, "type"));
		if (!strcmp(json_string_value(json_object_get(j, "type")), "ban"))
			saw_ban = true;
		json_decref(j);
	}
	fclose(f);
	assert_true(saw_ban);
	assert_int_equal(guard_events_query(db, 0, 100, &ev), 0);
	assert_true(json_array_size(ev) >= 7);   /* 6 failures + ban */
	assert_true(json_integer_value(json_object_get(json_array_get(ev, 0),
						       "id")) > 0);
	json_decref(ev);
	assert_int_equal(guard_events_query(db, 1000000, 100, &ev), 0);
	assert_int_equal(json_array_size(ev), 0);
	json_decref(ev);
	unlink(logp);
	unlink(db);
	snprintf(line, sizeof(line), "%s-wal", db);
	unlink(line);
	snprintf(line, sizeof(line), "%s-shm", db);
	unlink(line);
	rmdir(dir);
}

/* ---- a guard with a data directory (worker, database, security.log) */

struct pdir {
	char dir[64], db[128], log[128];
};

static struct guard *pguard(struct pdir *p, const struct guard_cfg *over)
{
	struct guard_conf conf = { 0 };
	struct guard_cfg c;
	struct guard *g = NULL;

	if (!p->dir[0]) {
		snprintf(p->dir, sizeof(p->dir), "/tmp/guardtestXXXXXX");
		assert_non_null(mkdtemp(p->dir));
		snprintf(p->db, sizeof(p->db), "%s/bulwark.db", p->dir);
		snprintf(p->log, sizeof(p->log), "%s/security.log", p->dir);
	}
	conf.data_dir = p->dir;
	conf.db_path = p->db;
	if (over)
		c = *over;
	else
		guard_cfg_default(&c);
	c.offload = false;
	assert_int_equal(guard_alloc_clock(&g, &conf, fake_clock, NULL, &c), 0);
	return g;
}

static void pclose_dir(struct pdir *p)
{
	const char *suf[] = { "bulwark.db", "bulwark.db-wal", "bulwark.db-shm",
			      "security.log", "security.log.1" };
	char path[160];

	for (size_t i = 0; i < sizeof(suf) / sizeof(suf[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", p->dir, suf[i]);
		unlink(path);
	}
	rmdir(p->dir);
}

static long long db_count(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *q = NULL;
	long long n = -1;

	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &q, NULL), SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(h);
	return n;
}

/* Events of one type in the database (all of them: pages of 1000). */
static json_t *events_of(const char *db, const char *type)
{
	json_t *out = json_array(), *ev = NULL, *e;
	long long after = 0;
	size_t i;

	do {
		json_decref(ev);
		assert_int_equal(guard_events_query(db, after, 1000, &ev), 0);
		json_array_foreach(ev, i, e) {
			after = json_integer_value(json_object_get(e, "id"));
			if (!strcmp(json_string_value(json_object_get(e, "type")),
				    type))
				json_array_append(out, e);
		}
	} while (json_array_size(ev) == 1000);
	json_decref(ev);
	return out;
}

/* A ban whose time passes is reported once, as unban "expired" (how long
 * it lasted, offence level), by the sweep; the database marks it, so a
 * restart does not report it again; a ban that expired while the daemon
 * was down is reported once after the restart. Admin removal: "admin". */
static void test_ban_expiry_event(void **st)
{
	struct pdir p = { 0 };
	struct guard *g;
	json_t *ev, *e;
	size_t i;

	fake_now = 1700000000000ull;
	g = pguard(&p, NULL);
	ban_now(g, "198.51.100.61");
	ban_now(g, "198.51.100.62");
	fake_now += 300000;
	guard_sweep(g);
	assert_int_equal(g->st.events_suppressed, 0);
	assert_string_equal(g->last_event, "ban");   /* nothing over yet */
	assert_int_equal(guard_ban_add(g, "198.51.100.63", 60), 0);
	fake_now += 301000;                          /* 601 s after the bans */
	guard_sweep(g);
	guard_sweep(g);                              /* no second report */
	gworker_flush(g->worker, 5000);
	ev = events_of(p.db, "unban");
	assert_int_equal(json_array_size(ev), 3);
	json_array_foreach(ev, i, e) {
		assert_string_equal(json_string_value(json_object_get(e,
			"reason")), "expired");
	}
	e = json_array_get(ev, 0);
	assert_int_equal(json_integer_value(json_object_get(e, "seconds")),
			 strcmp(json_string_value(json_object_get(e, "source")),
				"198.51.100.63") ? 600 : 60);
	assert_int_equal(json_integer_value(json_object_get(e, "offences")), 1);
	assert_non_null(json_object_get(e, "ban_reason"));
	json_decref(ev);
	assert_int_equal(db_count(p.db, "SELECT COUNT(*) FROM guard_bans "
				  "WHERE ended = 1"), 3);
	/* An escalated second ban, lifted by the admin: reason "admin". */
	ban_now(g, "198.51.100.61");
	assert_int_equal(time_left(g), 1200);
	fake_now += 5000;
	assert_int_equal(guard_ban_remove(g, "198.51.100.61"), 0);
	/* One ban left running across the restart, expiring while down. */
	ban_now(g, "198.51.100.64");
	gworker_flush(g->worker, 5000);
	ev = events_of(p.db, "unban");
	assert_int_equal(json_array_size(ev), 4);
	e = json_array_get(ev, 3);
	assert_string_equal(json_string_value(json_object_get(e, "reason")),
			    "admin");
	assert_int_equal(json_integer_value(json_object_get(e, "seconds")), 5);
	assert_int_equal(json_integer_value(json_object_get(e, "offences")), 2);
	json_decref(ev);
	guard_close(g);

	fake_now += 3600000;
	g = pguard(&p, NULL);
	guard_sweep(g);
	guard_sweep(g);
	gworker_flush(g->worker, 5000);
	ev = events_of(p.db, "unban");
	assert_int_equal(json_array_size(ev), 5);   /* only .64, once */
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(ev, 4), "source")), "198.51.100.64");
	json_decref(ev);
	/* Banned again the moment the last ban ran out, before a sweep:
	 * the old ban's expiry is still reported, once. */
	ban_now(g, "198.51.100.65");
	fake_now += 600000;
	{
		uint64_t before = g->st.events;
		ban_now(g, "198.51.100.65");
		/* 5 auth_failure + unban + ban */
		assert_int_equal(g->st.events - before, 7);
	}
	guard_sweep(g);
	gworker_flush(g->worker, 5000);
	ev = events_of(p.db, "unban");
	assert_int_equal(json_array_size(ev), 6);
	json_decref(ev);
	guard_close(g);
	pclose_dir(&p);
}

/* Credit survives a restart: an office NAT where one phone has a stale
 * password is not banned right after a restart, while a source whose
 * success is older than credit_hours is a stranger again. The credit
 * table is bounded. */
static void test_credit_persisted(void **st)
{
	struct pdir p = { 0 };
	struct guard_cfg c;
	struct guard *g;
	char ip[32];

	fake_now = 1700000000000ull;
	g = pguard(&p, NULL);
	ok(g, "192.0.2.120", "201");                /* goes stale */
	fake_now += 23ull * 3600000;
	ok(g, "192.0.2.121", "201");                /* the office */
	ok(g, "2001:db8:7:1::5", "201");            /* an IPv6 office */
	ok(g, "192.0.2.121", "203");                /* saved once, not twice */
	gworker_flush(g->worker, 5000);
	assert_int_equal(db_count(p.db, "SELECT COUNT(*) FROM guard_credit"),
			 3);
	guard_close(g);

	fake_now += 2ull * 3600000;                 /* restart 2 h later */
	g = pguard(&p, NULL);
	for (int i = 0; i < 4; i++)
		assert_int_equal(bad(g, "192.0.2.121", "202"), GUARD_PASS);
	assert_int_equal(bad(g, "192.0.2.121", "202"), GUARD_DROP);
	assert_string_equal(g->last_event, "extension_blocked");
	assert_int_equal(nbans(g), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(bad(g, "2001:db8:7:1::9", "202"), i < 4 ?
				 GUARD_PASS : GUARD_DROP);
	assert_string_equal(g->last_event, "extension_blocked");
	assert_int_equal(nbans(g), 0);
	/* 25 h since its success: no credit left. */
	for (int i = 0; i < 5; i++)
		bad(g, "192.0.2.120", "202");
	assert_int_equal(nbans(g), 1);
	guard_close(g);

	/* Bounded: at most max_tracked rows plus one trim batch. */
	guard_cfg_default(&c);
	c.max_tracked = 64;
	g = pguard(&p, &c);
	for (int i = 0; i < 3000; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.1", i / 200, i % 200);
		ok(g, ip, "201");
		if (i % 100 == 99)
			gworker_flush(g->worker, 5000);
	}
	gworker_flush(g->worker, 5000);
	assert_true(db_count(p.db, "SELECT COUNT(*) FROM guard_credit") <=
		    64 + 1024);
	guard_close(g);
	pclose_dir(&p);
}

/* A flood of failures and scanner requests from 40,000 forged sources in
 * 20 s: events written stay within the buckets (auth_failure 100/s, all
 * others 100/s with a burst of 500), the rest is counted and reported as
 * events_suppressed, and security.log holds exactly what the database
 * holds. */
static void test_event_flood_bounded(void **st)
{
	struct pdir p = { 0 };
	struct guard *g;
	json_t *sup, *e;
	long long rows, lines = 0, suppressed = 0, qdropped = 0, generated;
	size_t i;
	FILE *f;
	char line[2048];

	fake_now = 1700000000000ull;
	g = pguard(&p, NULL);
	for (unsigned n = 0; n < 20000; n++) {
		struct sa sa;

		memset(&sa, 0, sizeof(sa));
		sa.u.in.sin_family = AF_INET;
		sa.len = sizeof(sa.u.in);
		sa.u.in.sin_addr.s_addr = htonl(0x0c000000u + n);
		for (int k = 0; k < 5; k++)
			guard_auth_result(g, &sa, "201", 3,
					  GUARD_AUTH_BAD_PASSWORD, &PF, "x", 1);
		/* a scanner over a connection: proven, banned at once */
		sa.u.in.sin_addr.s_addr = htonl(0x0d000000u + n);
		guard_request(g, &sa, GUARD_REQ_CONN, "friendly-scanner", 16);
		fake_now += 1;
		if (n % 20 == 0)
			guard_sweep(g);
		/* the fake second passes in real time for the worker too
		 * (2,000 bans a second, each a row and an nft element) */
		if (n % 1000 == 999)
			gworker_flush(g->worker, 10000);
	}
	assert_int_equal(g->st.bans, 40000);
	fake_now += GUARD_SUP_MS;
	guard_sweep(g);
	generated = (long long)(g->st.events + g->st.events_suppressed);
	gworker_flush(g->worker, 10000);
	rows = db_count(p.db, "SELECT COUNT(*) FROM guard_events");
	/* 2 buckets × 100/s over ~30 s, plus bursts and aggregates */
	assert_true(rows <= 2 * 100 * 31 + 100 + 500 + 20);
	assert_true(rows >= 200);
	sup = events_of(p.db, "events_suppressed");
	assert_true(json_array_size(sup) >= 1);
	json_array_foreach(sup, i, e) {
		suppressed += json_integer_value(json_object_get(e, "count"));
		qdropped += json_integer_value(json_object_get(e,
							       "queue_dropped"));
		assert_non_null(json_object_get(json_object_get(e, "types"),
						"ban"));
	}
	json_decref(sup);
	assert_int_equal(suppressed, g->st.events_suppressed);
	print_message("flood: %lld events written, %lld suppressed, %lld "
		      "generated\n", rows, suppressed, generated);
	assert_int_equal(qdropped, 0);
	assert_int_equal(rows + suppressed, generated);
	assert_true(suppressed > 100000);
	f = fopen(p.log, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		lines++;
	fclose(f);
	assert_int_equal(lines, rows);
	guard_close(g);
	pclose_dir(&p);
}

static void test_addr(void **st)
{
	struct gaddr n, a;
	char buf[64];

	assert_int_equal(gaddr_parse(&n, "192.0.2.0/24", 64), 0);
	assert_int_equal(gaddr_parse(&a, "192.0.2.77", 64), 0);
	assert_true(gaddr_contains(&n, &a));
	assert_int_equal(gaddr_parse(&a, "192.0.3.1", 64), 0);
	assert_false(gaddr_contains(&n, &a));
	gaddr_str(&n, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.0/24");
	assert_int_equal(gaddr_parse(&a, "192.0.2.1/33", 64), EINVAL);
	assert_int_equal(gaddr_parse(&a, "", 64), EINVAL);
	assert_int_equal(gaddr_parse(&a, "::1", 64), 0);
	gaddr_str(&a, buf, sizeof(buf));
	assert_string_equal(buf, "::/64");
	assert_int_equal(gaddr_parse(&a, "127.0.0.9", 64), 0);
	assert_true(gaddr_loopback(&a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ban_after_five),
		cmocka_unit_test(test_sliding_window),
		cmocka_unit_test(test_escalation),
		cmocka_unit_test(test_refresh_storm_no_ban),
		cmocka_unit_test(test_credit),
		cmocka_unit_test(test_stale),
		cmocka_unit_test(test_distributed),
		cmocka_unit_test(test_scanner),
		cmocka_unit_test(test_scanner_forged),
		cmocka_unit_test(test_malformed_forged),
		cmocka_unit_test(test_old_nonce_no_proof),
		cmocka_unit_test(test_credit_survives_flood),
		cmocka_unit_test(test_transport_refused),
		cmocka_unit_test(test_distributed_unknown),
		cmocka_unit_test(test_probation_udp),
		cmocka_unit_test(test_probation_forged),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_trusted),
		cmocka_unit_test(test_lan_trusted),
		cmocka_unit_test(test_bounded_tables),
		cmocka_unit_test(test_ipv6_prefix),
		cmocka_unit_test(test_probation),
		cmocka_unit_test(test_manual),
		cmocka_unit_test(test_section),
		cmocka_unit_test(test_nft_render),
		cmocka_unit_test(test_persistence),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_ban_expiry_event),
		cmocka_unit_test(test_credit_persisted),
		cmocka_unit_test(test_event_flood_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
