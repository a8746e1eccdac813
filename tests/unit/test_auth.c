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

#include <re_types.h>
#include <re_fmt.h>
#include <re_mem.h>
#include <re_sa.h>
#include <re_main.h>

#include "auth/auth.h"
#include "sip/sipd.h"
#include "sip/sipd_int.h"
#include "sip/sipmsg.h"
#include "store/snapshot.h"

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

/* ---- the verifier on an offline sipd: 401 for REGISTER, 407 for the
 * rest, Proxy-Authorization read for every method but REGISTER ------ */

static char last[4096];
static size_t n_out;

static void out(enum sipd_tp tp, const struct sa *dst, const char *buf,
		size_t len, void *arg)
{
	(void)tp; (void)dst; (void)arg;
	n_out++;
	if (len >= sizeof(last))
		len = sizeof(last) - 1;
	memcpy(last, buf, len);
	last[len] = '\0';
}

struct vctx {
	struct sipd *sd;
	struct auth *a;
	struct snap_ext x;
	struct sa src;
	struct sipmsg m;
	char buf[2048];
	char nonce[AUTH_NONCE_HEXLEN + 1];
	const char *realm;
};

static void build(struct vctx *v, const char *met, const char *hdr)
{
	const char *why = NULL;
	int n = snprintf(v->buf, sizeof(v->buf),
			 "%s sip:202@example.com SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bKa1\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: <sip:201@example.com>;tag=1\r\n"
			 "To: <sip:202@example.com>\r\n"
			 "Call-ID: c1\r\nCSeq: 1 %s\r\n%s"
			 "Content-Length: 0\r\n\r\n", met, met,
			 hdr ? hdr : "");

	assert_true(n > 0 && (size_t)n < sizeof(v->buf));
	assert_int_equal(sipmsg_parse(&v->m, v->buf, (size_t)n, true), 0);
	assert_int_equal(sipmsg_check(&v->m, &why), 0);
}

static struct sipd_req rq_of(struct vctx *v)
{
	struct sipd_req rq = {
		.sd = v->sd, .m = &v->m, .tp = SIPD_UDP, .src = &v->src,
	};

	return rq;
}

/* Challenge met; returns the status code and copies the nonce. */
static unsigned challenge(struct vctx *v, const char *met,
			  const char *want_hdr)
{
	static const uint8_t algs[] = {AUTH_ALG_MD5, 0};
	struct sipd_req rq;
	const char *p, *q;
	unsigned code;

	build(v, met, NULL);
	rq = rq_of(v);
	n_out = 0;
	auth_challenge(v->a, &rq, algs, false);
	assert_int_equal(n_out, 1);
	assert_int_equal(sscanf(last, "SIP/2.0 %u", &code), 1);
	p = strstr(last, want_hdr);
	assert_non_null(p);
	p = strstr(p, "nonce=\"");
	assert_non_null(p);
	p += 7;
	q = strchr(p, '"');
	assert_int_equal(q - p, AUTH_NONCE_HEXLEN);
	memcpy(v->nonce, p, AUTH_NONCE_HEXLEN);
	v->nonce[AUTH_NONCE_HEXLEN] = '\0';
	return code;
}

/* A credential header hname for user, whose response is computed for
 * dmet with password pw. */
static void cred(struct vctx *v, char *out, size_t outsz, const char *hname,
		 const char *user, const char *dmet, const char *pw)
{
	char hdr[512], ha1[65], resp[65];
	struct auth_cred c;
	int n;

	assert_int_equal(auth_digest_ha1(AUTH_ALG_MD5, user, v->realm, pw,
					 ha1, sizeof(ha1)), 0);
	n = snprintf(hdr, sizeof(hdr), "Digest username=\"%s\", "
		     "realm=\"%s\", nonce=\"%s\", "
		     "uri=\"sip:202@example.com\", response=\"%s\", "
		     "algorithm=MD5, qop=auth, nc=00000001, cnonce=\"cn\"",
		     user, v->realm, v->nonce,
		     "00000000000000000000000000000000");
	assert_true(n > 0);
	assert_int_equal(auth_digest_parse(&c, hdr, (size_t)n), 0);
	assert_int_equal(auth_digest_response(AUTH_ALG_MD5, ha1, dmet, &c,
					      resp, sizeof(resp)), 0);
	n = snprintf(out, outsz, "%s: Digest username=\"%s\", "
		     "realm=\"%s\", nonce=\"%s\", "
		     "uri=\"sip:202@example.com\", response=\"%s\", "
		     "algorithm=MD5, qop=auth, nc=00000001, cnonce=\"cn\"\r\n",
		     hname, user, v->realm, v->nonce, resp);
	assert_true(n > 0 && (size_t)n < outsz);
}

static void verify(struct vctx *v, const char *met, const char *hdr,
		   const struct snap_ext *x, struct auth_check *ck)
{
	static const uint8_t algs[] = {AUTH_ALG_MD5, 0};
	struct sipd_req rq;

	build(v, met, hdr);
	rq = rq_of(v);
	auth_verify(v->a, &rq, met, x, algs, ck);
}

static int vsetup(void **st)
{
	struct vctx *v = calloc(1, sizeof(*v));
	struct snapshot *s = calloc(1, sizeof(*s));

	assert_non_null(v);
	assert_non_null(s);
	assert_int_equal(libre_init(), 0);
	assert_int_equal(sipd_alloc_offline(&v->sd, s, out, NULL), 0);
	assert_int_equal(auth_alloc(&v->a), 0);
	sa_set_str(&v->src, "192.0.2.7", 5062);
	v->realm = sipd_settings(v->sd)->realm;
	snprintf(v->x.number, sizeof(v->x.number), "201");
	v->x.auth = true;
	v->x.algs_pref[0] = AUTH_ALG_MD5;
	assert_int_equal(auth_digest_ha1(AUTH_ALG_MD5, "201", v->realm,
					 "secret", v->x.ha1_md5,
					 sizeof(v->x.ha1_md5)), 0);
	*st = v;
	return 0;
}

static int vteardown(void **st)
{
	struct vctx *v = *st;

	mem_deref(v->a);
	sipd_close(v->sd);
	libre_close();
	free(v);
	return 0;
}

/* REGISTER is challenged 401 with WWW-Authenticate, every other method
 * 407 with Proxy-Authenticate (the same nonce rules). */
static void test_challenge_codes(void **st)
{
	struct vctx *v = *st;

	assert_int_equal(challenge(v, "REGISTER", "\r\nWWW-Authenticate: "
				   "Digest realm="), 401);
	assert_null(strstr(last, "Proxy-Authenticate"));
	assert_non_null(strstr(last, "401 Unauthorized\r\n"));
	assert_int_equal(challenge(v, "INVITE", "\r\nProxy-Authenticate: "
				   "Digest realm="), 407);
	assert_null(strstr(last, "WWW-Authenticate"));
	assert_non_null(strstr(last,
			       "407 Proxy Authentication Required\r\n"));
	for (const char *const *m = (const char *const[]){"MESSAGE",
	     "SUBSCRIBE", "REFER", NULL}; *m; m++)
		assert_int_equal(challenge(v, *m, "\r\nProxy-Authenticate: "),
				 407);
}

/* An INVITE's Proxy-Authorization is verified with the method INVITE:
 * the right password passes, a wrong one, a digest made for another
 * method, an unknown user and another user each get their verdict; an
 * Authorization header on an INVITE (and a Proxy-Authorization on a
 * REGISTER) is not read: challenge afresh. */
static void test_verify_proxy(void **st)
{
	struct vctx *v = *st;
	struct auth_check ck;
	char h[1024];

	assert_int_equal(challenge(v, "INVITE", "Proxy-Authenticate"), 407);

	cred(v, h, sizeof(h), "Proxy-Authorization", "201", "INVITE",
	     "secret");
	verify(v, "INVITE", h, &v->x, &ck);
	assert_int_equal(ck.outcome, AUTH_VERDICT);
	assert_int_equal(ck.res, GUARD_AUTH_OK);
	assert_true(ck.have);
	assert_false(ck.stale);
	assert_int_equal(ck.nc, 1);
	assert_int_equal(ck.user.l, 3);
	assert_memory_equal(ck.user.p, "201", 3);

	cred(v, h, sizeof(h), "Proxy-Authorization", "201", "INVITE",
	     "wrong");
	verify(v, "INVITE", h, &v->x, &ck);
	assert_int_equal(ck.outcome, AUTH_VERDICT);
	assert_int_equal(ck.res, GUARD_AUTH_BAD_PASSWORD);

	/* a digest over REGISTER replayed on an INVITE */
	cred(v, h, sizeof(h), "Proxy-Authorization", "201", "REGISTER",
	     "secret");
	verify(v, "INVITE", h, &v->x, &ck);
	assert_int_equal(ck.res, GUARD_AUTH_BAD_PASSWORD);

	/* unknown user: the dummy HA1, same outcome kind */
	cred(v, h, sizeof(h), "Proxy-Authorization", "299", "INVITE",
	     "secret");
	verify(v, "INVITE", h, NULL, &ck);
	assert_int_equal(ck.outcome, AUTH_VERDICT);
	assert_int_equal(ck.res, GUARD_AUTH_UNKNOWN_USER);

	/* another extension's credentials for this one */
	cred(v, h, sizeof(h), "Proxy-Authorization", "203", "INVITE",
	     "secret");
	verify(v, "INVITE", h, &v->x, &ck);
	assert_int_equal(ck.res, GUARD_AUTH_MISMATCH);

	/* the wrong header kind for the method is not read */
	cred(v, h, sizeof(h), "Authorization", "201", "INVITE", "secret");
	verify(v, "INVITE", h, &v->x, &ck);
	assert_int_equal(ck.outcome, AUTH_CHALLENGE);
	assert_false(ck.have);

	assert_int_equal(challenge(v, "REGISTER", "WWW-Authenticate"), 401);
	cred(v, h, sizeof(h), "Proxy-Authorization", "201", "REGISTER",
	     "secret");
	verify(v, "REGISTER", h, &v->x, &ck);
	assert_int_equal(ck.outcome, AUTH_CHALLENGE);
	cred(v, h, sizeof(h), "Authorization", "201", "REGISTER", "secret");
	verify(v, "REGISTER", h, &v->x, &ck);
	assert_int_equal(ck.res, GUARD_AUTH_OK);

	/* a malformed Proxy-Authorization is a verdict, not a challenge */
	verify(v, "INVITE", "Proxy-Authorization: Digest username=\r\n",
	       &v->x, &ck);
	assert_int_equal(ck.outcome, AUTH_VERDICT);
	assert_int_equal(ck.res, GUARD_AUTH_MALFORMED);
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
		cmocka_unit_test_setup_teardown(test_challenge_codes, vsetup,
						vteardown),
		cmocka_unit_test_setup_teardown(test_verify_proxy, vsetup,
						vteardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
