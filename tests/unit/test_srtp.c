/* Unit tests: SRTP/SRTCP protection (media/srtp_ctx.c). Interop both
 * ways with libre's own srtp (what baresip uses) for every suite: packets
 * libre protects unprotect here to the same bytes and the reverse,
 * across a sequence-number wrap; a bad tag, a replay, a forged packet
 * that would move the roll-over counter; the bounds (too short, no
 * room). Packets live in heap buffers of exactly their room, so ASan
 * sees a write past the end. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <re.h>

#include "media/srtp_ctx.h"

#define ROOM 256

struct pair {
	enum srtpc_suite ours;
	enum srtp_suite re;
	bool rtcp;    /* libre's SRTCP tag for _32 is 4 octets where RFC
		       * 4568 says 10: RTCP interop only for the others */
};

static const struct pair pairs[] = {
	{SRTPC_AES_CM_128_HMAC_SHA1_80, SRTP_AES_CM_128_HMAC_SHA1_80, true},
	{SRTPC_AES_CM_128_HMAC_SHA1_32, SRTP_AES_CM_128_HMAC_SHA1_32, false},
	{SRTPC_AEAD_AES_128_GCM, SRTP_AES_128_GCM, true},
	{SRTPC_AEAD_AES_256_GCM, SRTP_AES_256_GCM, true},
};

static uint8_t key[SRTPC_KEY_MAX];

static void key_fill(void)
{
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 3);
}

static size_t rtp_make(uint8_t *p, uint16_t seq, uint32_t ssrc, size_t plen)
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
	for (size_t i = 0; i < plen; i++)
		p[12 + i] = (uint8_t)(seq + i);
	return 12 + plen;
}

static size_t rtcp_make(uint8_t *p, uint32_t ssrc)
{
	memset(p, 0, 28);
	p[0] = 0x80;
	p[1] = 200;          /* SR */
	p[3] = 6;
	p[4] = (uint8_t)(ssrc >> 24);
	p[7] = (uint8_t)ssrc;
	for (size_t i = 8; i < 28; i++)
		p[i] = (uint8_t)i;
	return 28;
}

static struct srtpc *ctx(enum srtpc_suite s, bool tx)
{
	struct srtpc *c = NULL;

	assert_int_equal(srtpc_alloc(&c, s, key, srtpc_key_len(s), tx), 0);
	return c;
}

/* libre protects, we unprotect (RTP across a wrap, RTCP); then we
 * protect, libre unprotects. */
static void test_interop(void **st)
{
	(void)st;
	key_fill();
	for (size_t k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++) {
		const struct pair *pr = &pairs[k];
		size_t kl = srtpc_key_len(pr->ours);
		struct srtp *re_tx = NULL, *re_rx = NULL;
		struct srtpc *rx = ctx(pr->ours, false), *tx = ctx(pr->ours,
								     true);
		struct mbuf *mb = mbuf_alloc(ROOM);
		uint8_t *p = malloc(ROOM), want[ROOM];
		size_t n, wn;

		assert_int_equal(srtp_alloc(&re_tx, pr->re, key, kl, 0), 0);
		assert_int_equal(srtp_alloc(&re_rx, pr->re, key, kl, 0), 0);
		/* 65530 .. 65545: the roll-over counter moves to 1 */
		for (uint32_t i = 0; i < 16; i++) {
			uint16_t seq = (uint16_t)(65530 + i);

			wn = rtp_make(want, seq, 0x1234, 160);
			mbuf_rewind(mb);
			assert_int_equal(mbuf_write_mem(mb, want, wn), 0);
			mb->pos = 0;
			assert_int_equal(srtp_encrypt(re_tx, mb), 0);
			n = mb->end;
			memcpy(p, mb->buf, n);
			assert_int_equal(srtpc_unprotect(rx, p, &n), 0);
			assert_int_equal(n, wn);
			assert_memory_equal(p, want, wn);

			memcpy(p, want, wn);
			n = wn;
			assert_int_equal(srtpc_protect(tx, p, &n, ROOM), 0);
			assert_true(n > wn);
			mbuf_rewind(mb);
			assert_int_equal(mbuf_write_mem(mb, p, n), 0);
			mb->pos = 0;
			assert_int_equal(srtp_decrypt(re_rx, mb), 0);
			assert_int_equal(mb->end, wn);
			assert_memory_equal(mb->buf, want, wn);
		}
		if (pr->rtcp) {
			wn = rtcp_make(want, 0x1234);
			mbuf_rewind(mb);
			assert_int_equal(mbuf_write_mem(mb, want, wn), 0);
			mb->pos = 0;
			assert_int_equal(srtcp_encrypt(re_tx, mb), 0);
			n = mb->end;
			memcpy(p, mb->buf, n);
			assert_int_equal(srtpc_unprotect_rtcp(rx, p, &n), 0);
			assert_int_equal(n, wn);
			assert_memory_equal(p, want, wn);

			memcpy(p, want, wn);
			n = wn;
			assert_int_equal(srtpc_protect_rtcp(tx, p, &n, ROOM),
					 0);
			mbuf_rewind(mb);
			assert_int_equal(mbuf_write_mem(mb, p, n), 0);
			mb->pos = 0;
			assert_int_equal(srtcp_decrypt(re_rx, mb), 0);
			assert_int_equal(mb->end, wn);
			assert_memory_equal(mb->buf, want, wn);
		}
		mem_deref(re_tx);
		mem_deref(re_rx);
		mem_deref(mb);
		free(p);
		srtpc_free(rx);
		srtpc_free(tx);
	}
}

/* A wrong tag, a replay, a forged packet far behind (which in libre
 * moves the roll-over counter before the tag is checked): refused, and
 * the stream goes on undisturbed. */
static void test_refusals(void **st)
{
	(void)st;
	key_fill();
	for (size_t k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++) {
		enum srtpc_suite s = pairs[k].ours;
		struct srtpc *tx = ctx(s, true), *rx = ctx(s, false);
		uint8_t *p = malloc(ROOM), saved[ROOM];
		size_t n, sn;

		for (uint16_t seq = 40000; seq < 40010; seq++) {
			n = rtp_make(p, seq, 7, 20);
			assert_int_equal(srtpc_protect(tx, p, &n, ROOM), 0);
			memcpy(saved, p, n);
			sn = n;
			p[n - 1] ^= 1;                 /* bad tag */
			assert_int_equal(srtpc_unprotect(rx, p, &n),
					 EACCES);
			memcpy(p, saved, sn);
			n = sn;
			assert_int_equal(srtpc_unprotect(rx, p, &n), 0);
			memcpy(p, saved, sn);
			n = sn;                        /* replayed */
			assert_int_equal(srtpc_unprotect(rx, p, &n),
					 EALREADY);
		}
		/* forged: seq 1000 would be roll-over counter 1 */
		n = rtp_make(p, 1000, 7, 20);
		memset(p + n, 0xab, 16);
		n += s >= SRTPC_AEAD_AES_128_GCM ? 16 : 10;
		assert_int_equal(srtpc_unprotect(rx, p, &n), EACCES);
		n = rtp_make(p, 40010, 7, 20);
		assert_int_equal(srtpc_protect(tx, p, &n, ROOM), 0);
		assert_int_equal(srtpc_unprotect(rx, p, &n), 0);
		assert_int_equal(n, 32);
		/* a forged new SSRC takes no stream: 20 of them, then the
		 * real one still unprotects */
		for (uint32_t f = 100; f < 120; f++) {
			n = rtp_make(p, 5, f, 20) + 16;
			assert_int_equal(srtpc_unprotect(rx, p, &n), EACCES);
		}
		n = rtp_make(p, 40011, 7, 20);
		assert_int_equal(srtpc_protect(tx, p, &n, ROOM), 0);
		assert_int_equal(srtpc_unprotect(rx, p, &n), 0);
		/* too short, malformed, no room, wrong direction */
		n = 11;
		assert_int_equal(srtpc_unprotect(rx, p, &n), EBADMSG);
		n = 14;
		p[0] = 0x80;
		assert_int_equal(srtpc_unprotect(rx, p, &n), EBADMSG);
		n = rtp_make(p, 1, 7, 20);
		assert_int_equal(srtpc_protect(tx, p, &n, n + 3), ENOSPC);
		assert_int_equal(srtpc_protect(rx, p, &n, ROOM), EINVAL);
		assert_int_equal(srtpc_unprotect(tx, p, &n), EINVAL);
		/* SRTCP: bad tag, replay */
		n = rtcp_make(p, 7);
		assert_int_equal(srtpc_protect_rtcp(tx, p, &n, ROOM), 0);
		memcpy(saved, p, n);
		sn = n;
		p[9] ^= 0x40;
		assert_int_equal(srtpc_unprotect_rtcp(rx, p, &n), EACCES);
		memcpy(p, saved, sn);
		assert_int_equal(srtpc_unprotect_rtcp(rx, p, &n), 0);
		assert_int_equal(n, 28);
		memcpy(p, saved, sn);
		n = sn;
		assert_int_equal(srtpc_unprotect_rtcp(rx, p, &n), EALREADY);
		n = 8;
		assert_int_equal(srtpc_unprotect_rtcp(rx, p, &n), EBADMSG);
		srtpc_free(tx);
		srtpc_free(rx);
		free(p);
	}
}

/* The replay window: 127 behind the highest is accepted once, 128 is
 * too old; out of order inside the window is fine. */
static void test_window(void **st)
{
	struct srtpc *tx, *rx;
	uint8_t pk[300][64];
	size_t len[300], n;
	uint8_t p[64];

	(void)st;
	key_fill();
	tx = ctx(SRTPC_AES_CM_128_HMAC_SHA1_80, true);
	rx = ctx(SRTPC_AES_CM_128_HMAC_SHA1_80, false);
	for (unsigned i = 0; i < 300; i++) {
		len[i] = rtp_make(pk[i], (uint16_t)(100 + i), 9, 8);
		assert_int_equal(srtpc_protect(tx, pk[i], &len[i], 64), 0);
	}
	memcpy(p, pk[299], len[299]);
	n = len[299];
	assert_int_equal(srtpc_unprotect(rx, p, &n), 0);
	memcpy(p, pk[299 - 127], len[299 - 127]);
	n = len[299 - 127];
	assert_int_equal(srtpc_unprotect(rx, p, &n), 0);
	memcpy(p, pk[299 - 127], len[299 - 127]);
	n = len[299 - 127];
	assert_int_equal(srtpc_unprotect(rx, p, &n), EALREADY);
	memcpy(p, pk[299 - 128], len[299 - 128]);
	n = len[299 - 128];
	assert_int_equal(srtpc_unprotect(rx, p, &n), EALREADY);
	memcpy(p, pk[250], len[250]);
	n = len[250];
	assert_int_equal(srtpc_unprotect(rx, p, &n), 0);
	srtpc_free(tx);
	srtpc_free(rx);
}

static void test_alloc(void **st)
{
	struct srtpc *c = NULL;

	(void)st;
	assert_int_equal(srtpc_key_len(SRTPC_AES_CM_128_HMAC_SHA1_80), 30);
	assert_int_equal(srtpc_key_len(SRTPC_AEAD_AES_128_GCM), 28);
	assert_int_equal(srtpc_key_len(SRTPC_AEAD_AES_256_GCM), 44);
	assert_int_equal(srtpc_key_len(SRTPC_NONE), 0);
	assert_int_equal(srtpc_alloc(&c, SRTPC_AES_CM_128_HMAC_SHA1_80, key,
				     29, true), EINVAL);
	assert_int_equal(srtpc_alloc(&c, SRTPC_NONE, key, 0, true), EINVAL);
	assert_null(c);
	srtpc_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc),
		cmocka_unit_test(test_interop),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_window),
	};
	int r;

	libre_init();
	r = cmocka_run_group_tests(tests, NULL, NULL);
	libre_close();
	return r;
}
