/*
 * Unit tests of the media endpoint's pure pieces: G.711 round trip, WAV
 * write/read and the temporary-file rule, the WAV header parser, the RTP
 * header parser, RFC 4733 events and the digit receiver, prompt lookup.
 * The endpoint on real sockets is test_endpoint_loop.c.
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
#include <dirent.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "media/dtmfev.h"
#include "media/g711.h"
#include "media/prompt.h"
#include "media/rtppkt.h"
#include "media/tone.h"
#include "media/wav.h"

static char dir[64];

static int setup(void **state)
{
	strcpy(dir, "/tmp/bw-ep-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* Files in dir whose name contains part. */
static unsigned count_files(const char *part)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, part))
			n++;
	closedir(d);
	return n;
}

/* ---- G.711 ------------------------------------------------------------- */

static void test_g711_roundtrip(void **state)
{
	enum g711_law laws[] = {G711_ULAW, G711_ALAW};
	unsigned l, c;

	for (l = 0; l < 2; l++) {
		for (c = 0; c < 256; c++) {
			uint8_t code = (uint8_t)c, back;
			int16_t pcm, pcm2;

			/* every code decodes to a level that encodes to a
			 * code of the same level (µ-law has two zeros) */
			g711x_decode(laws[l], &pcm, &code, 1);
			g711x_encode(laws[l], &back, &pcm, 1);
			g711x_decode(laws[l], &pcm2, &back, 1);
			assert_int_equal(pcm, pcm2);
		}
	}
	/* linear → law → linear stays within the law's step (~1/16) */
	for (l = 0; l < 2; l++) {
		int v;

		for (v = -32767; v <= 32767; v += 37) {
			int16_t in = (int16_t)v, out;
			uint8_t code;
			int err;

			g711x_encode(laws[l], &code, &in, 1);
			g711x_decode(laws[l], &out, &code, 1);
			err = abs(v - out);
			assert_true(err <= abs(v) / 16 + 40);
		}
	}
}

static void test_g711_min_clamped(void **state)
{
	int16_t lo = INT16_MIN, lo1 = -32767, out;
	uint8_t a, b;

	g711x_encode(G711_ULAW, &a, &lo, 1);
	g711x_encode(G711_ULAW, &b, &lo1, 1);
	assert_int_equal(a, b);
	g711x_decode(G711_ULAW, &out, &a, 1);
	assert_true(out < -30000);      /* not silence */
	g711x_encode(G711_ALAW, &a, &lo, 1);
	g711x_decode(G711_ALAW, &out, &a, 1);
	assert_true(out < -30000);
}

/* ---- WAV --------------------------------------------------------------- */

static void test_wav_write_read_rename(void **state)
{
	char path[128];
	struct wav_writer w;
	struct wav_reader r;
	struct tone t;
	int16_t s[1000], back[320];
	size_t got = 0, n;
	struct stat st;

	snprintf(path, sizeof(path), "%s/msg.wav", dir);
	tone_init(&t, 1000, 8000, 8000);
	tone_fill(&t, s, 1000);
	assert_int_equal(wav_create(&w, path), 0);
	assert_int_equal(wav_write(&w, s, 1000), 0);
	/* while it is written: only the temporary file exists */
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(count_files(".tmp"), 1);
	assert_int_equal(wav_finish(&w), 0);
	assert_int_equal(count_files(".tmp"), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, WAV_HDR_OUT + 2000);

	assert_int_equal(wav_open(&r, path), 0);
	assert_int_equal(r.info.fmt, WAV_PCM16);
	assert_int_equal(r.info.srate, 8000);
	while ((n = wav_read(&r, back, 320)) > 0) {
		assert_memory_equal(back, s + got, n * sizeof(*back));
		got += n;
	}
	assert_int_equal(got, 1000);
	wav_close(&r);
}

static void test_wav_abort_leaves_nothing(void **state)
{
	char path[128];
	struct wav_writer w;
	int16_t s[10] = {0};
	struct stat st;

	snprintf(path, sizeof(path), "%s/gone.wav", dir);
	assert_int_equal(wav_create(&w, path), 0);
	assert_int_equal(wav_write(&w, s, 10), 0);
	wav_abort(&w);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(count_files("gone"), 0);
	/* a directory that does not exist: an error, no file */
	snprintf(path, sizeof(path), "%s/nodir/x.wav", dir);
	assert_int_equal(wav_create(&w, path), ENOENT);
}

static size_t mkhdr(uint8_t *b, uint16_t tag, uint16_t ch, uint32_t rate,
		    uint16_t bits, uint32_t data_len)
{
	uint32_t v;
	uint16_t h;

	memcpy(b, "RIFF\0\0\0\0WAVEfmt ", 16);
	v = 16; memcpy(b + 16, &v, 4);
	memcpy(b + 20, &tag, 2);
	memcpy(b + 22, &ch, 2);
	memcpy(b + 24, &rate, 4);
	v = rate * ch * bits / 8; memcpy(b + 28, &v, 4);
	h = (uint16_t)(ch * bits / 8); memcpy(b + 32, &h, 2);
	memcpy(b + 34, &bits, 2);
	memcpy(b + 36, "data", 4);
	memcpy(b + 40, &data_len, 4);
	return 44;
}

static void test_wav_parse(void **state)
{
	uint8_t b[128];
	struct wav_info wi;
	size_t n;

	n = mkhdr(b, 7, 1, 8000, 8, 100);
	assert_int_equal(wav_parse(&wi, b, n), 0);
	assert_int_equal(wi.fmt, WAV_ULAW);
	assert_int_equal(wi.data_off, 44);
	n = mkhdr(b, 6, 1, 8000, 8, 100);
	assert_int_equal(wav_parse(&wi, b, n), 0);
	assert_int_equal(wi.fmt, WAV_ALAW);
	n = mkhdr(b, 1, 2, 8000, 16, 100);
	assert_int_equal(wav_parse(&wi, b, n), ENOTSUP);   /* stereo */
	n = mkhdr(b, 3, 1, 8000, 32, 100);
	assert_int_equal(wav_parse(&wi, b, n), ENOTSUP);   /* float */
	n = mkhdr(b, 1, 1, 16000, 16, 100);
	assert_int_equal(wav_parse(&wi, b, n), 0);
	assert_int_equal(wi.srate, 16000);
	/* truncated inside fmt, a chunk larger than the buffer, no fmt */
	assert_int_equal(wav_parse(&wi, b, 30), EBADMSG);
	b[16] = 0xff;
	assert_int_equal(wav_parse(&wi, b, n), EBADMSG);
	memcpy(b + 12, "data", 4);
	assert_int_equal(wav_parse(&wi, b, n), EBADMSG);
	assert_int_equal(wav_parse(&wi, (const uint8_t *)"RIFX", 4), EBADMSG);
}

static void test_wav_open_refuses(void **state)
{
	char path[128];
	uint8_t b[64];
	struct wav_reader r;
	FILE *f;

	snprintf(path, sizeof(path), "%s/wb.wav", dir);
	f = fopen(path, "wb");
	fwrite(b, 1, mkhdr(b, 1, 1, 16000, 16, 0), f);
	fclose(f);
	assert_int_equal(wav_open(&r, path), EPROTO);
	assert_null(r.f);
	snprintf(path, sizeof(path), "%s/none.wav", dir);
	assert_int_equal(wav_open(&r, path), ENOENT);
}

static void test_wav_read_ulaw(void **state)
{
	char path[128];
	uint8_t b[64 + 10];
	int16_t out[20];
	struct wav_reader r;
	FILE *f;
	size_t n = mkhdr(b, 7, 1, 8000, 8, 20);   /* declares 20, has 10 */

	memset(b + n, 0x80, 10);   /* µ-law 0x80: the largest positive */
	snprintf(path, sizeof(path), "%s/u.wav", dir);
	f = fopen(path, "wb");
	fwrite(b, 1, n + 10, f);
	fclose(f);
	assert_int_equal(wav_open(&r, path), 0);
	assert_int_equal(wav_read(&r, out, 20), 10);
	assert_true(out[0] > 30000);
	assert_int_equal(wav_read(&r, out, 20), 0);
	wav_close(&r);
}

/* ---- RTP --------------------------------------------------------------- */

static void test_rtppkt(void **state)
{
	uint8_t b[64];
	struct rtppkt p;

	memset(b, 0, sizeof(b));
	rtppkt_write(b, 8, true, 0x1234, 0xdeadbeef, 42);
	assert_int_equal(rtppkt_parse(&p, b, 12), 0);
	assert_int_equal(p.pt, 8);
	assert_true(p.marker);
	assert_int_equal(p.seq, 0x1234);
	assert_int_equal(p.ts, 0xdeadbeef);
	assert_int_equal(p.ssrc, 42);
	assert_int_equal(p.plen, 0);
	assert_int_equal(rtppkt_parse(&p, b, 11), EBADMSG);
	b[0] = 0x40;                               /* version 1 */
	assert_int_equal(rtppkt_parse(&p, b, 20), EBADMSG);
	b[0] = 0x82;                               /* 2 CSRC */
	assert_int_equal(rtppkt_parse(&p, b, 19), EBADMSG);
	assert_int_equal(rtppkt_parse(&p, b, 20), 0);
	assert_int_equal(p.plen, 0);
	b[0] = 0x90;                               /* extension of 1 word */
	b[14] = 0; b[15] = 1;
	assert_int_equal(rtppkt_parse(&p, b, 19), EBADMSG);
	assert_int_equal(rtppkt_parse(&p, b, 24), 0);
	assert_int_equal(p.payload - b, 20);
	assert_int_equal(p.plen, 4);
	b[0] = 0xa0;                               /* padding */
	b[19] = 8;
	assert_int_equal(rtppkt_parse(&p, b, 20), 0);
	assert_int_equal(p.plen, 0);
	b[19] = 9;
	assert_int_equal(rtppkt_parse(&p, b, 20), EBADMSG);
	b[19] = 0;
	assert_int_equal(rtppkt_parse(&p, b, 20), EBADMSG);
	b[0] = 0x80;
	b[1] = 0xc8;                               /* RTCP SR on RTP */
	assert_int_equal(rtppkt_parse(&p, b, 20), EBADMSG);
}

/* ---- RFC 4733 ---------------------------------------------------------- */

static struct dtmfev ev(uint8_t event, bool end, uint16_t dur)
{
	struct dtmfev e = {.event = event, .end = end, .duration = dur};

	return e;
}

static void test_dtmfev_parse(void **state)
{
	const uint8_t p[] = {11, 0x80 | 10, 0x03, 0x20, 0xff};
	struct dtmfev e;

	assert_int_equal(dtmfev_parse(&e, p, 5), 0);
	assert_int_equal(e.event, 11);
	assert_true(e.end);
	assert_int_equal(e.volume, 10);
	assert_int_equal(e.duration, 800);
	assert_int_equal(dtmfev_parse(&e, p, 3), EBADMSG);
	assert_int_equal(dtmfev_digit(11), '#');
	assert_int_equal(dtmfev_digit(10), '*');
	assert_int_equal(dtmfev_digit(0), '0');
	assert_int_equal(dtmfev_digit(15), 'D');
	assert_int_equal(dtmfev_digit(16), 0);
}

static void test_dtmfev_once_per_digit(void **state)
{
	struct dtmfev_rx rx;
	struct dtmfev e;
	char d2;
	int i;

	memset(&rx, 0, sizeof(rx));
	/* key held: no digit until the end; three ends give one digit */
	for (i = 1; i <= 5; i++) {
		e = ev(5, false, (uint16_t)(160 * i));
		assert_int_equal(dtmfev_rx_input(&rx, 1000, &e, &d2), 0);
	}
	e = ev(5, true, 960);
	assert_int_equal(dtmfev_rx_input(&rx, 1000, &e, &d2), '5');
	assert_int_equal(d2, 0);
	assert_int_equal(dtmfev_rx_input(&rx, 1000, &e, &d2), 0);
	assert_int_equal(dtmfev_rx_input(&rx, 1000, &e, &d2), 0);
	/* a late start packet of the same event: still nothing */
	e = ev(5, false, 160);
	assert_int_equal(dtmfev_rx_input(&rx, 1000, &e, &d2), 0);
	/* the same key again is a new event (new timestamp) */
	e = ev(5, true, 800);
	assert_int_equal(dtmfev_rx_input(&rx, 2000, &e, &d2), '5');
}

static void test_dtmfev_lost_end_and_long(void **state)
{
	struct dtmfev_rx rx;
	struct dtmfev e;
	char d2;

	memset(&rx, 0, sizeof(rx));
	/* '1' never ends; '#' starts: '1' is reported then */
	e = ev(1, false, 160);
	assert_int_equal(dtmfev_rx_input(&rx, 100, &e, &d2), 0);
	e = ev(11, false, 160);
	assert_int_equal(dtmfev_rx_input(&rx, 900, &e, &d2), '1');
	assert_int_equal(d2, 0);
	/* '#' lost its end too and '9' arrives as a single end packet */
	e = ev(9, true, 400);
	assert_int_equal(dtmfev_rx_input(&rx, 1700, &e, &d2), '#');
	assert_int_equal(d2, '9');
	/* a key held past the bound is one digit, later packets ignored */
	e = ev(10, false, DTMFEV_MAX_DUR);
	assert_int_equal(dtmfev_rx_input(&rx, 5000, &e, &d2), '*');
	e = ev(10, false, 65535);
	assert_int_equal(dtmfev_rx_input(&rx, 5000, &e, &d2), 0);
	e = ev(10, true, 65535);
	assert_int_equal(dtmfev_rx_input(&rx, 5000, &e, &d2), 0);
	/* not a DTMF event (flash, 16): ignored */
	e = ev(16, true, 800);
	assert_int_equal(dtmfev_rx_input(&rx, 9000, &e, &d2), 0);
}

/* ---- prompts ----------------------------------------------------------- */

static void touch(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fclose(f);
}

static void test_prompt_lookup(void **state)
{
	char sys[128], adm[128], p[256], out[256];

	assert_true(prompt_name_ok("vm-intro"));
	assert_true(prompt_name_ok("digits/7"));
	assert_false(prompt_name_ok("../etc/passwd"));
	assert_false(prompt_name_ok("/etc/passwd"));
	assert_false(prompt_name_ok("a/b/c"));
	assert_false(prompt_name_ok("a/"));
	assert_false(prompt_name_ok("a b"));
	assert_false(prompt_name_ok(""));
	assert_false(prompt_name_ok("vm.wav"));

	snprintf(sys, sizeof(sys), "%s/sys", dir);
	snprintf(adm, sizeof(adm), "%s/adm", dir);
	assert_int_equal(mkdir(sys, 0700), 0);
	assert_int_equal(mkdir(adm, 0700), 0);
	snprintf(p, sizeof(p), "%s/beep.wav", sys);
	touch(p);
	snprintf(p, sizeof(p), "%s/vm-intro.wav", sys);
	touch(p);
	snprintf(p, sizeof(p), "%s/vm-intro.wav", adm);
	touch(p);
	/* the admin's copy wins; the system's serves the rest */
	assert_int_equal(prompt_path(out, sizeof(out), adm, sys, "vm-intro"),
			 0);
	assert_int_equal(strncmp(out, adm, strlen(adm)), 0);
	assert_int_equal(prompt_path(out, sizeof(out), adm, sys, "beep"), 0);
	assert_int_equal(strncmp(out, sys, strlen(sys)), 0);
	assert_int_equal(prompt_path(out, sizeof(out), "", sys, "beep"), 0);
	assert_int_equal(prompt_path(out, sizeof(out), adm, sys, "nope"),
			 ENOENT);
	assert_int_equal(prompt_path(out, sizeof(out), adm, sys, "../x"),
			 EINVAL);
	assert_int_equal(prompt_path(out, 10, adm, sys, "beep"),
			 ENAMETOOLONG);
}

/* The prompts Debian installs (scripts/deps.sh) are what the reader
 * takes: 16-bit PCM, 8 kHz, mono. Skipped where the package is not. */
static void test_debian_prompt(void **state)
{
	char path[256];
	struct wav_reader r;
	int16_t s[320];
	size_t n, total = 0;

	if (prompt_path(path, sizeof(path), NULL, PROMPT_DIR_DEFAULT,
			"vm-intro")) {
		skip();
		return;
	}
	assert_int_equal(wav_open(&r, path), 0);
	assert_int_equal(r.info.fmt, WAV_PCM16);
	while ((n = wav_read(&r, s, 320)) > 0)
		total += n;
	wav_close(&r);
	assert_true(total > 8000);   /* more than a second of speech */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_g711_roundtrip),
		cmocka_unit_test(test_g711_min_clamped),
		cmocka_unit_test(test_wav_write_read_rename),
		cmocka_unit_test(test_wav_abort_leaves_nothing),
		cmocka_unit_test(test_wav_parse),
		cmocka_unit_test(test_wav_open_refuses),
		cmocka_unit_test(test_wav_read_ulaw),
		cmocka_unit_test(test_rtppkt),
		cmocka_unit_test(test_dtmfev_parse),
		cmocka_unit_test(test_dtmfev_once_per_digit),
		cmocka_unit_test(test_dtmfev_lost_end_and_long),
		cmocka_unit_test(test_prompt_lookup),
		cmocka_unit_test(test_debian_prompt),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
