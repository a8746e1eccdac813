/* Unit tests (issue 15, trunk): the client digest (auth/client.c)
 * against the RFC 2617 and RFC 7616 examples and malformed challenges,
 * and the "trunks" section (trunk/tconf.c): rules, removal, decoding,
 * DIDs and the inbound address match. */
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
#include <re_sa.h>

#include "auth/client.h"
#include "common/report.h"
#include "store/store.h"
#include "store/store_int.h"
#include "trunk/trunk.h"

/* the "response" value of an Authorization header */
static void response_of(const char *hdr, char *out, size_t sz)
{
	const char *p = strstr(hdr, "response=\"");
	const char *e;

	assert_non_null(p);
	p += 10;
	e = strchr(p, '"');
	assert_non_null(e);
	assert_true((size_t)(e - p) < sz);
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
}

static void rfc2617_md5(void **state)
{
	const char *ch = "Digest realm=\"testrealm@host.com\", "
		"qop=\"auth,auth-int\", "
		"nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
		"opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
	char hdr[1024], resp[80];

	(void)state;
	assert_int_equal(auth_client_answer(ch, strlen(ch), "GET",
		"/dir/index.html", "Mufasa", "Circle Of Life", 1, "0a4f113b",
		hdr, sizeof(hdr)), 0);
	response_of(hdr, resp, sizeof(resp));
	assert_string_equal(resp, "6629fae49393a05397450978507c4ef1");
	assert_non_null(strstr(hdr, "qop=auth, nc=00000001"));
	assert_non_null(strstr(hdr, "cnonce=\"0a4f113b\""));
	assert_non_null(strstr(hdr,
		"opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""));
	assert_non_null(strstr(hdr, "algorithm=MD5"));
}

static const char *rfc7616_ch(const char *alg, char *buf, size_t sz)
{
	snprintf(buf, sz, "Digest realm=\"http-auth@example.org\", "
		 "qop=\"auth, auth-int\", algorithm=%s, "
		 "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", "
		 "opaque=\"FQhe/qaN/ea/Mo2d02dtdPC9iw8QKmHRBpNCCDOAfbTNFhuG\"",
		 alg);
	return buf;
}

static void rfc7616_both(void **state)
{
	const char *cn = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
	char ch[512], hdr[1024], resp[80];

	(void)state;
	rfc7616_ch("SHA-256", ch, sizeof(ch));
	assert_int_equal(auth_client_answer(ch, strlen(ch), "GET",
		"/dir/index.html", "Mufasa", "Circle of Life", 1, cn, hdr,
		sizeof(hdr)), 0);
	response_of(hdr, resp, sizeof(resp));
	assert_string_equal(resp, "753927fa0e85d155564e2e272a28d1802ca10daf"
			    "4496794697cf8db5856cb6c1");
	assert_non_null(strstr(hdr, "algorithm=SHA-256"));
	rfc7616_ch("MD5", ch, sizeof(ch));
	assert_int_equal(auth_client_answer(ch, strlen(ch), "GET",
		"/dir/index.html", "Mufasa", "Circle of Life", 1, cn, hdr,
		sizeof(hdr)), 0);
	response_of(hdr, resp, sizeof(resp));
	assert_string_equal(resp, "8ca523f5e9506fed4657c9700eebdbec");
}

static void no_qop_and_bad(void **state)
{
	/* RFC 2069 form (no qop): H(HA1:nonce:HA2), no nc/cnonce */
	const char *ch = "Digest realm=\"r\", nonce=\"n\"";
	char hdr[512], small[16];
	struct auth_chal c;

	(void)state;
	assert_int_equal(auth_client_answer(ch, strlen(ch), "REGISTER",
		"sip:r", "u", "p", 1, NULL, hdr, sizeof(hdr)), 0);
	assert_null(strstr(hdr, "qop="));
	assert_null(strstr(hdr, "cnonce="));
	assert_int_equal(auth_client_answer(ch, strlen(ch), "REGISTER",
		"sip:r", "u", "p", 1, NULL, small, sizeof(small)), ENOSPC);
	assert_string_equal(small, "");
#define BAD(s, e) assert_int_equal(auth_chal_parse(s, strlen(s), &c), e)
	BAD("Basic realm=\"x\"", EINVAL);
	BAD("Digest realm=\"r\"", EINVAL);              /* no nonce */
	BAD("Digest realm=\"r\", nonce=\"n", EINVAL);   /* unterminated */
	BAD("Digest realm=\"a\\\"b\", nonce=\"n\"", EINVAL);  /* quote */
	BAD("Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess", ENOTSUP);
	BAD("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"", ENOTSUP);
	BAD("Digest realm=\"r\" nonce=\"n\"", EINVAL);  /* no comma */
	BAD("Digestrealm=\"r\", nonce=\"n\"", EINVAL);
	BAD("Digest realm=\"r\", nonce=\"n\r\nX: y\"", EINVAL);
#undef BAD
	{
		char big[600];

		memset(big, 'a', sizeof(big));
		memcpy(big, "Digest nonce=\"", 14);
		big[sizeof(big) - 1] = '"';
		assert_int_equal(auth_chal_parse(big, sizeof(big), &c),
				 EMSGSIZE);
	}
	ch = "digest  REALM=r ,Nonce=\"n\",stale=true, qop=\"auth\", x=y";
	assert_int_equal(auth_chal_parse(ch, strlen(ch), &c), 0);
	assert_string_equal(c.realm, "r");
	assert_true(c.stale);
	assert_true(c.qop_auth);
	/* header injection through our own arguments */
	assert_int_equal(auth_client_answer("Digest realm=\"r\", nonce=\"n\"",
		27, "REGISTER", "sip:r", "u\"x", "p", 1, NULL, hdr,
		sizeof(hdr)), EINVAL);
}

/* ---- the section ---- */

static int set(json_t *o, const char *k, const char *v, const char *rule)
{
	struct report r;
	int err;

	report_init(&r);
	err = trunks_section.set(o, k, v, &r);
	if (rule) {
		assert_int_not_equal(err, 0);
		assert_int_equal(r.n, 1);
		assert_string_equal(r.item[0].rule, rule);
		assert_string_equal(r.item[0].field, k);
	} else {
		assert_int_equal(err, 0);
	}
	report_reset(&r);
	return err;
}

static void section_rules(void **state)
{
	json_t *o = trunks_section.defaults();
	struct report r;

	(void)state;
	set(o, "itsp.host", "sip.carrier.example", NULL);
	/* every field appears with its default */
	assert_int_equal(json_integer_value(json_object_get(o, "itsp.port")),
			 5060);
	assert_string_equal(json_string_value(json_object_get(o,
			    "itsp.id_header")), "pai");
	set(o, "itsp.port", "0", "trunks.range");
	set(o, "itsp.port", "5080", NULL);
	set(o, "itsp.transport", "sctp", "trunks.choice");
	set(o, "itsp.register", "maybe", "trunks.bool");
	set(o, "itsp.register", "yes", NULL);
	set(o, "itsp.expiry", "30", "trunks.range");
	set(o, "itsp.username", "a b", "trunks.text");
	set(o, "itsp.ani", "12a", "trunks.number");
	set(o, "itsp.inbound", "10.0.0.1, nothost", "trunks.addresses");
	set(o, "itsp.inbound", "10.0.0.1, 10.0.0.2", NULL);
	set(o, "itsp.colour", "red", "trunks.field");
	set(o, "Bad.host", "x", "trunks.name");
	set(o, "nodot", "x", "trunks.key");
	set(o, "did.12ab", "200", "trunks.did");
	set(o, "did.5551000", "x", "trunks.did_destination");
	set(o, "did.5551000", "200", NULL);
	set(o, "did.+15551001", "201", NULL);
	report_init(&r);
	assert_int_equal(trunks_section.validate(o, &r), 0);
	report_reset(&r);
	/* a second trunk, removed again with its host */
	set(o, "two.host", "192.0.2.9", NULL);
	assert_non_null(json_object_get(o, "two.expiry"));
	set(o, "two.host", "", NULL);
	assert_null(json_object_get(o, "two.expiry"));
	assert_null(json_object_get(o, "two.host"));
	set(o, "did.5551000", "", NULL);
	assert_null(json_object_get(o, "did.5551000"));
	json_decref(o);
}

static void section_decode(void **state)
{
	json_t *o = trunks_section.defaults();
	struct trunks_typed *tt = calloc(1, sizeof(*tt));
	const struct trunk_conf *t;
	struct sa a;

	(void)state;
	assert_non_null(tt);
	set(o, "itsp.host", "192.0.2.1", NULL);
	set(o, "itsp.transport", "tcp", NULL);
	set(o, "itsp.id_header", "rpid", NULL);
	set(o, "itsp.cid_rewrite", "false", NULL);
	set(o, "itsp.inbound", "198.51.100.7", NULL);
	set(o, "itsp.username", "acct", NULL);
	/* decode gets the password opened (section_secrets.c) */
	json_object_set_new(o, "itsp.password", json_string("pw"));
	set(o, "did.5551000", "200", NULL);
	set(o, "did.+15551001", "201", NULL);
	trunks_section.decode(o, tt);
	assert_int_equal(tt->n, 1);
	t = &tt->t[0];
	assert_string_equal(t->name, "itsp");
	assert_int_equal(t->port, 5060);
	assert_int_equal(t->transport, 2);   /* SNAP_TP_TCP */
	assert_int_equal(t->id_header, TRUNK_ID_RPID);
	assert_false(t->cid_rewrite);
	assert_string_equal(t->password, "pw");
	assert_string_equal(t->username, "acct");
	assert_int_equal(t->n_addr, 2);
	sa_set_str(&a, "198.51.100.7", 5099);
	assert_true(sa_cmp(&t->addr[1], &a, SA_ADDR));
	assert_int_equal(tt->n_did, 2);
	assert_string_equal(tt->did[0].number, "15551001");
	assert_string_equal(tt->did[1].dest, "200");
	/* trunks_of on no snapshot: an empty set, never NULL */
	assert_int_equal(trunks_of(NULL)->n, 0);
	assert_null(trunk_find(NULL, "itsp"));
	json_decref(o);
	free(tt);
}

static void secret_suffix(void **state)
{
	json_t *o = json_object();

	(void)state;
	assert_true(store_section_is_secret(&trunks_section, "x.password"));
	assert_false(store_section_is_secret(&trunks_section, "password"));
	assert_false(store_section_is_secret(&trunks_section, "x.host"));
	json_object_set_new(o, "itsp.password", json_string("pw"));
	json_object_set_new(o, "itsp.host", json_string("h"));
	json_object_set_new(o, "b.password", json_string(""));
	json_t *all = json_object();

	json_object_set(all, "trunks", o);
	store_section_register(&trunks_section);
	store_sections_mask(all);
	json_decref(all);
	assert_string_equal(json_string_value(json_object_get(o,
			    "itsp.password")), "set");
	assert_string_equal(json_string_value(json_object_get(o,
			    "b.password")), "");
	assert_string_equal(json_string_value(json_object_get(o,
			    "itsp.host")), "h");
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc2617_md5),
		cmocka_unit_test(rfc7616_both),
		cmocka_unit_test(no_qop_and_bad),
		cmocka_unit_test(section_rules),
		cmocka_unit_test(section_decode),
		cmocka_unit_test(secret_suffix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
