/* Unit tests: digest parsing and responses (RFC 2617, RFC 7616 test
 * vectors), stateless nonces and the nonce-count table (auth/). Moved
 * here from test_registrar.c with the code they test. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auth/auth.h"

static void parse_and_respond(const char *hdr, unsigned alg,
			      const char *user_realm_pw[3], const char *want)
{
	struct auth_cred c;
	char ha1[65], resp[65];
	struct auth_str given;

	assert_int_equal(auth_digest_parse(&c, hdr, strlen(hdr)), 0);
	assert_int_equal(c.alg, alg);
	assert_int_equal(auth_digest_ha1(alg, user_realm_pw[0], user_realm_pw[1],
				    user_realm_pw[2], ha1, sizeof(ha1)), 0);
	assert_int_equal(auth_digest_response(alg, ha1, "GET", &c, resp,
					 sizeof(resp)), 0);
	assert_string_equal(resp, want);
	given.p = want;
	given.l = strlen(want);
	assert_true(auth_digest_equal(&given, resp));
	assert_true(auth_digest_equal(&c.response, resp));
}

static void test_rfc2617_md5(void **st)
{
	const char *h = "Digest username=\"Mufasa\", realm=\"testrealm@host.com\","
		" nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\","
		" qop=auth, nc=00000001, cnonce=\"0a4f113b\","
		" response=\"6629fae49393a05397450978507c4ef1\","
		" opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
	const char *urp[3] = {"Mufasa", "testrealm@host.com", "Circle Of Life"};

	(void)st;
	parse_and_respond(h, AUTH_ALG_MD5, urp,
			  "6629fae49393a05397450978507c4ef1");
}

static void test_rfc7616_sha256(void **st)
{
	const char *h = "Digest username=\"Mufasa\", realm=\"http-auth@example.org\","
		" uri=\"/dir/index.html\", algorithm=SHA-256,"
		" nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\","
		" nc=00000001, cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\","
		" qop=auth, response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\","
		" opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
	const char *urp[3] = {"Mufasa", "http-auth@example.org", "Circle of Life"};

	(void)st;
	parse_and_respond(h, AUTH_ALG_SHA256, urp,
		"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
}

static void test_digest_parse_errors(void **st)
{
	struct auth_cred c;
	const char *bad[] = {
		"Digest username=\"a\"",                            /* missing */
		"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\", algorithm=SHA-512",
		"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\", qop=auth", /* no nc */
		"Digest username=\"a\", username=\"b\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\"",
		"Digest username=\"a, realm=\"r\"",                 /* open quote */
	};

	(void)st;
	assert_int_equal(auth_digest_parse(&c, "Basic Zm9vOmJhcg==", 18), ENOTSUP);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(auth_digest_parse(&c, bad[i], strlen(bad[i])),
				 EBADMSG);
	{
		struct auth_str g = {"6629FAE49393A05397450978507C4EF1", 32};

		/* upper-case hex is accepted, other lengths are not */
		assert_true(auth_digest_equal(&g, "6629fae49393a05397450978507c4ef1"));
		g.l = 31;
		assert_false(auth_digest_equal(&g, "6629fae49393a05397450978507c4ef1"));
	}
}

static void test_nonce(void **st)
{
	uint8_t key[32] = {1, 2, 3}, other[32] = {9};
	uint8_t ip[4] = {192, 0, 2, 1}, ip2[4] = {192, 0, 2, 2};
	char n[AUTH_NONCE_HEXLEN + 1];
	uint64_t id = 0, id2 = 0;

	(void)st;
	auth_nonce_make(key, 1000, ip, 4, n);
	assert_int_equal(strlen(n), AUTH_NONCE_HEXLEN);
	assert_int_equal(auth_nonce_check(key, n, strlen(n), ip, 4, 1000, 300, &id), 0);
	assert_int_equal(auth_nonce_check(key, n, strlen(n), ip, 4, 1300, 300, NULL), 0);
	/* expired but authentic → stale */
	assert_int_equal(auth_nonce_check(key, n, strlen(n), ip, 4, 1301, 300, NULL), ESTALE);
	/* other key, other source, tampered → forged */
	assert_int_equal(auth_nonce_check(other, n, strlen(n), ip, 4, 1000, 300, NULL), EBADMSG);
	assert_int_equal(auth_nonce_check(key, n, strlen(n), ip2, 4, 1000, 300, NULL), EBADMSG);
	n[3] = n[3] == '0' ? '1' : '0';
	assert_int_equal(auth_nonce_check(key, n, strlen(n), ip, 4, 1000, 300, NULL), EBADMSG);
	assert_int_equal(auth_nonce_check(key, "abc", 3, ip, 4, 1000, 300, NULL), EBADMSG);
	auth_nonce_make(key, 1000, ip, 4, n);
	assert_int_equal(auth_nonce_check(key, n, strlen(n), ip, 4, 1000, 300, &id2), 0);
	assert_true(id2 > id);
}

static void test_nc_replay(void **st)
{
	struct auth_nc t;

	(void)st;
	memset(&t, 0, sizeof(t));
	assert_int_equal(auth_nc_check(&t, 10, 1), 0);
	assert_int_equal(auth_nc_check(&t, 10, 1), EALREADY);   /* replay */
	assert_int_equal(auth_nc_check(&t, 10, 2), 0);
	assert_int_equal(auth_nc_check(&t, 10, 2), EALREADY);
	/* fill past AUTH_NC_SLOTS: the forgotten nonce is refused, not reset */
	for (uint64_t i = 11; i < 11 + AUTH_NC_SLOTS; i++)
		assert_int_equal(auth_nc_check(&t, i, 1), 0);
	assert_int_equal(auth_nc_check(&t, 10, 3), EALREADY);
	assert_int_equal(auth_nc_check(&t, 5, 1), EALREADY);     /* older */
	assert_int_equal(auth_nc_check(&t, 100, 1), 0);          /* newer */
}

/* A retransmission is recognised by (nonce, nc, tag); a replay with
 * another tag (other Call-ID/CSeq) or a lower nc is not. */
static void test_nc_seen(void **st)
{
	struct auth_nc t;

	(void)st;
	memset(&t, 0, sizeof(t));
	assert_false(auth_nc_seen(&t, 10, 1, 77));
	assert_int_equal(auth_nc_check_tag(&t, 10, 1, 77), 0);
	assert_true(auth_nc_seen(&t, 10, 1, 77));
	assert_false(auth_nc_seen(&t, 10, 1, 78));    /* same nc, other request */
	assert_false(auth_nc_seen(&t, 10, 2, 77));
	assert_false(auth_nc_seen(&t, 11, 1, 77));    /* other nonce */
	assert_int_equal(auth_nc_check_tag(&t, 10, 1, 77), EALREADY);
	assert_int_equal(auth_nc_check_tag(&t, 10, 2, 79), 0);
	assert_false(auth_nc_seen(&t, 10, 1, 77));    /* superseded */
	assert_true(auth_nc_seen(&t, 10, 2, 79));
}

/* auth_nonce_make_at reproduces a nonce exactly (retransmitted challenges). */
static void test_nonce_at(void **st)
{
	uint8_t key[32] = {3};
	const uint8_t ip[4] = {192, 0, 2, 1};
	char a[AUTH_NONCE_HEXLEN + 1], b[AUTH_NONCE_HEXLEN + 1];
	uint64_t id = 0;
	uint32_t ctr = auth_nonce_counter_next();

	(void)st;
	auth_nonce_make_at(key, 5000, ctr, ip, 4, a);
	auth_nonce_make_at(key, 5000, ctr, ip, 4, b);
	assert_string_equal(a, b);
	assert_int_equal(auth_nonce_check(key, a, strlen(a), ip, 4, 5010, 300, &id), 0);
	assert_true(id == ((uint64_t)5000 << 32 | ctr));
	auth_nonce_make_at(key, 5000, ctr + 1, ip, 4, b);
	assert_string_not_equal(a, b);
	assert_true(auth_nonce_counter_next() > ctr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc2617_md5),
		cmocka_unit_test(test_rfc7616_sha256),
		cmocka_unit_test(test_digest_parse_errors),
		cmocka_unit_test(test_nonce),
		cmocka_unit_test(test_nc_replay),
		cmocka_unit_test(test_nc_seen),
		cmocka_unit_test(test_nonce_at),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
