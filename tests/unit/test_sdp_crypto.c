/* Unit tests: a=crypto lines (media/sdp_crypto.c) through the SDP parser:
 * rtpengine's six suites, what is kept but never chosen (MKI, session
 * parameters, several keys), every refusal with its rule, the bound; our
 * own line and fresh keys. (Apart from test_srtp.c: libre's re.h has an
 * sdp of its own.) */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "media/sdp.h"
#include "media/sdp_crypto.h"

/* ---- a=crypto (media/sdp_crypto.c) ------------------------------------ */

#define HEAD "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 " \
	"192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n"
#define K30 "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"

static struct sdp sd;
static char *body;

static int parse1(const char *attrs)
{
	struct sdp_err e;
	size_t n = strlen(HEAD) + strlen(attrs);

	free(body);
	body = malloc(n);
	assert_non_null(body);
	memcpy(body, HEAD, strlen(HEAD));
	memcpy(body + strlen(HEAD), attrs, strlen(attrs));
	memset(&e, 0, sizeof(e));
	if (sdp_parse(&sd, body, n, SDP_SERVE_IP4, &e))
		return e.rule;
	return 0;
}

static void test_crypto_parse(void **st)
{
	uint8_t k[SRTPC_KEY_MAX];
	const struct sdp_crypto *c;

	(void)st;
	/* rtpengine's offer: six suites, one we do not know, GCM first */
	assert_int_equal(parse1(
		"a=crypto:1 AEAD_AES_256_GCM inline:"
		"YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYmNkZWZnaGlqa2xtbm9wcXI=\r\n"
		"a=crypto:2 AEAD_AES_128_GCM inline:YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYg==\r\n"
		"a=crypto:3 AES_256_CM_HMAC_SHA1_80 inline:"
		"YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYmNkZWZnaGlqa2xtbm9w\r\n"
		"a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:" K30 "\r\n"
		"a=crypto:5 AES_CM_128_HMAC_SHA1_32 inline:" K30 "|2^31\r\n"
		"a=crypto:6 AES_192_CM_HMAC_SHA1_80 inline:QUJD\r\n"), 0);
	assert_int_equal(sd.media[0].n_crypto, 6);
	assert_int_equal(sd.media[0].crypto[2].suite, SRTPC_NONE);
	assert_int_equal(sd.media[0].crypto[5].suite, SRTPC_NONE);
	c = sdp_crypto_pick(&sd, 0);
	assert_non_null(c);
	assert_int_equal(c->tag, 1);
	assert_int_equal(c->suite, SRTPC_AEAD_AES_256_GCM);
	assert_int_equal(sdp_crypto_key(c, k), 0);
	assert_memory_equal(k, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqr", 44);
	c = sdp_crypto_find(&sd, 0, 5);
	assert_non_null(c);
	assert_int_equal(c->suite, SRTPC_AES_CM_128_HMAC_SHA1_32);
	assert_null(sdp_crypto_find(&sd, 0, 7));
	/* MKI, a session parameter, several keys: kept, never chosen */
	assert_int_equal(parse1(
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|2^20|1:4\r\n"
		"a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:" K30 " UNENCRYPTED_SRTP\r\n"
		"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|1:4;inline:" K30 "|2:4\r\n"), 0);
	assert_null(sdp_crypto_pick(&sd, 0));
	/* a window size hint is fine; a key without padding too */
	assert_int_equal(parse1("a=crypto:9 AEAD_AES_128_GCM inline:"
		"YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYg WSH=64\r\n"), 0);
	assert_int_equal(sdp_crypto_pick(&sd, 0)->tag, 9);
	/* refused, naming the rule */
	static const char *const bad[] = {
		"a=crypto:0 AES_CM_128_HMAC_SHA1_80 inline:" K30 "\r\n",
		"a=crypto:1234567890 AES_CM_128_HMAC_SHA1_80 inline:" K30 "\r\n",
		"a=crypto:x AES_CM_128_HMAC_SHA1_80 inline:" K30 "\r\n",
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80\r\n",
		"a=crypto:1\r\n",
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 " K30 "\r\n",
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUJD\r\n",
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "QUJD\r\n",
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:*" K30 "\r\n",
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|\r\n",
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|2^x\r\n",
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|1:4|2^20\r\n",
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|1:0\r\n",
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|1|2|3\r\n",
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "\r\n"
		"a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:" K30 "\r\n",
		"a=crypto:1 F8_128_HMAC_SHA1_80 inline:\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse1(bad[i]) != SDP_E_CRYPTO)
			fail_msg("accepted or wrong rule: %s", bad[i]);
	/* the bound: SDP_MAX_CRYPTO lines, one more refused */
	{
		char many[2048] = "";

		for (int i = 1; i <= SDP_MAX_CRYPTO + 1; i++) {
			char l[128];

			snprintf(l, sizeof(l), "a=crypto:%d AES_CM_128_HMAC_"
				 "SHA1_80 inline:" K30 "\r\n", i);
			if (i <= SDP_MAX_CRYPTO)
				assert_int_equal(parse1(strcat(many, l)), 0);
			else
				assert_int_equal(parse1(strcat(many, l)),
						 SDP_E_CRYPTO);
		}
	}
	free(body);
	body = NULL;
}

/* Our own line: a fresh key each time, that parses back to itself. */
static void test_crypto_line(void **st)
{
	uint8_t k1[SRTPC_KEY_MAX], k2[SRTPC_KEY_MAX], back[SRTPC_KEY_MAX];
	char line[SDP_CRYPTO_LINE], attr[SDP_CRYPTO_LINE + 16];

	(void)st;
	for (int s = 1; s < SRTPC__COUNT; s++) {
		size_t n = srtpc_key_len((enum srtpc_suite)s);

		assert_int_equal(sdp_crypto_keygen((enum srtpc_suite)s, k1), 0);
		assert_int_equal(sdp_crypto_keygen((enum srtpc_suite)s, k2), 0);
		assert_memory_not_equal(k1, k2, n);
		assert_int_equal(sdp_crypto_line(line, sizeof(line), 7,
						 (enum srtpc_suite)s, k1), 0);
		snprintf(attr, sizeof(attr), "a=crypto:%s\r\n", line);
		assert_int_equal(parse1(attr), 0);
		assert_int_equal(sdp_crypto_pick(&sd, 0)->suite, s);
		assert_int_equal(sdp_crypto_pick(&sd, 0)->tag, 7);
		assert_int_equal(sdp_crypto_key(sdp_crypto_pick(&sd, 0), back),
				 0);
		assert_memory_equal(back, k1, n);
	}
	assert_int_equal(sdp_crypto_line(line, 20, 7,
					 SRTPC_AES_CM_128_HMAC_SHA1_80, k1),
			 ENOSPC);
	assert_int_equal(sdp_crypto_line(line, sizeof(line), 0,
					 SRTPC_AES_CM_128_HMAC_SHA1_80, k1),
			 EINVAL);
	assert_int_equal(sdp_crypto_keygen(SRTPC_NONE, k1), EINVAL);
	assert_string_equal(sdp_crypto_proto(SDP_PROTO_RTP_AVPF, true),
			    "RTP/SAVPF");
	assert_string_equal(sdp_crypto_proto(SDP_PROTO_RTP_SAVP, false),
			    "RTP/AVP");
	free(body);
	body = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crypto_parse),
		cmocka_unit_test(test_crypto_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
