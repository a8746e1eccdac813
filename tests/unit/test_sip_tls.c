/* Unit tests: SIP over TLS's certificate and context (issue 15) — the
 * shared generator makes DATA/tls/sip.crt + sip.key beside (not over)
 * the admin pair and only once; the stack's TLS context takes the pair,
 * refuses a key of another certificate, negotiates TLS 1.2 at least
 * and releases idle connections' buffers; the transport names a Contact
 * carries. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/ssl.h>

#include "api/tls.h"
#include "sip/sipd_priv.h"
#include "sip/dialog.h"
#include "store/snapshot.h"
#include <re_main.h>
#include <re_srtp.h>
#include <re_tls.h>

static char dir[64];

static void out(enum sipd_tp tp, const struct sa *dst, const char *buf,
		size_t len, void *arg)
{
	(void)tp; (void)dst; (void)buf; (void)len; (void)arg;
}

static int setup(void **st)
{
	(void)st;
	snprintf(dir, sizeof(dir), "/tmp/bw-tls-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return libre_init();
}

static int teardown(void **st)
{
	char cmd[128];

	(void)st;
	libre_close();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *path_of(const char *name)
{
	static char p[128];

	snprintf(p, sizeof(p), "%s/tls/%s", dir, name);
	return p;
}

static void test_pair_generated_once_beside_admin(void **st)
{
	char why[256] = "", *c1 = NULL, *k1 = NULL, *c2 = NULL, *k2 = NULL;
	struct api_tls_info ti;
	struct stat sb;
	bool created;

	(void)st;
	assert_int_equal(api_tls_ensure_pair(dir, "sip", "127.0.0.1:5061",
					     &created, &ti, why, sizeof(why)),
			 0);
	assert_true(created);
	assert_int_equal(stat(path_of("sip.key"), &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(stat(path_of("sip.crt"), &sb), 0);
	assert_int_not_equal(access(path_of("admin.crt"), F_OK), 0);
	assert_int_equal(api_tls_load_pair(dir, "sip", &c1, &k1, NULL, why,
					   sizeof(why)), 0);
	/* a second start keeps the pair */
	assert_int_equal(api_tls_ensure_pair(dir, "sip", NULL, &created, NULL,
					     why, sizeof(why)), 0);
	assert_false(created);
	assert_int_equal(api_tls_load_pair(dir, "sip", &c2, &k2, NULL, why,
					   sizeof(why)), 0);
	assert_string_equal(c1, c2);
	assert_string_equal(k1, k2);
	free(c1); free(k1); free(c2); free(k2);
	/* half a pair is an error naming the file, not a new certificate */
	assert_int_equal(unlink(path_of("sip.key")), 0);
	assert_int_equal(api_tls_ensure_pair(dir, "sip", NULL, &created, NULL,
					     why, sizeof(why)), ENOENT);
	assert_non_null(strstr(why, "sip.crt exists without"));
}

static void test_context_tls12_min_and_key_checked(void **st)
{
	char why[256] = "", *c = NULL, *k = NULL, *ca = NULL, *ka = NULL;
	struct snapshot *s = calloc(1, sizeof(*s));
	struct sipd *sd = NULL;
	bool created;

	(void)st;
	assert_non_null(s);
	assert_int_equal(api_tls_ensure_pair(dir, "sip", NULL, &created, NULL,
					     why, sizeof(why)), 0);
	assert_int_equal(api_tls_ensure_pair(dir, "other", NULL, &created,
					     NULL, why, sizeof(why)), 0);
	assert_int_equal(api_tls_load_pair(dir, "sip", &c, &k, NULL, why,
					   sizeof(why)), 0);
	assert_int_equal(api_tls_load_pair(dir, "other", &ca, &ka, NULL, why,
					   sizeof(why)), 0);
	assert_int_equal(sipd_alloc_offline(&sd, s, out, NULL), 0);
	/* another certificate's key is refused; no context is left */
	assert_int_not_equal(sipd_tls_setup(sd, c, ka), 0);
	assert_null(sd->tls);
	assert_int_equal(sipd_tls_setup(sd, c, k), 0);
	assert_non_null(sd->tls);
	assert_int_equal(SSL_CTX_get_min_proto_version(
				 tls_openssl_context(sd->tls)), TLS1_2_VERSION);
	assert_true(SSL_CTX_get_options(tls_openssl_context(sd->tls)) &
		    SSL_OP_NO_RENEGOTIATION);
	assert_true(SSL_CTX_get_mode(tls_openssl_context(sd->tls)) &
		    SSL_MODE_RELEASE_BUFFERS);
	/* no listener yet: offline, nothing listens */
	assert_false(sipd_transport_on(sd, "tls"));
	sipd_close(sd);
	free(c); free(k); free(ca); free(ka);
}

static void test_contact_transport_param(void **st)
{
	(void)st;
	assert_string_equal(dialog_uri_tp(SIPD_UDP), "");
	assert_string_equal(dialog_uri_tp(SIPD_TCP), ";transport=tcp");
	assert_string_equal(dialog_uri_tp(SIPD_TLS), ";transport=tls");
	assert_string_equal(dialog_via_tp(SIPD_TLS), "SIP/2.0/TLS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_pair_generated_once_beside_admin, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_context_tls12_min_and_key_checked, setup,
			teardown),
		cmocka_unit_test(test_contact_transport_param),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
