/*
 * test_callrec — the call recording: the stereo timeline (callrec_mix.c:
 * gaps, duplicates, reordering, late packets, a new SSRC, a jump) and the
 * tap + writer end to end (callrec.c: a WAV on disk, temporary then
 * renamed, the global cap, the full ring dropping and counting).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "media/callrec.h"
#include "media/callrec_int.h"
#include "media/callrec_mix.h"
#include "media/g711.h"

/* ---- the timeline ------------------------------------------------------ */

struct sink {
	int16_t *s;        /* stereo frames */
	size_t n, cap;
	int fail_after;    /* frames; -1: never */
};

static int sink_w(const int16_t *f, size_t n, void *arg)
{
	struct sink *k = arg;

	if (k->fail_after >= 0 && k->n + n > (size_t)k->fail_after)
		return ENOSPC;
	if (k->n + n > k->cap) {
		k->cap = (k->n + n) * 2;
		k->s = realloc(k->s, k->cap * 4);
		assert_non_null(k->s);
	}
	memcpy(k->s + 2 * k->n, f, n * 4);
	k->n += n;
	return 0;
}

/* 160 samples of value v */
static const int16_t *frame(int16_t v)
{
	static int16_t f[160];

	for (int i = 0; i < 160; i++)
		f[i] = v;
	return f;
}

static void put(struct crmix *m, unsigned side, uint32_t ssrc, unsigned k,
		uint32_t ts0, uint64_t at_ms, int16_t v)
{
	crmix_put(m, side, ssrc, ts0 + 160u * k, at_ms, frame(v), 160);
}

static void test_mix_two_sides_aligned(void **state)
{
	struct crmix m;
	struct sink k = { .fail_after = -1 };

	(void)state;
	assert_int_equal(crmix_init(&m, 800, 0, sink_w, &k), 0);
	/* caller's stream from 0 ms, callee's arrives 40 ms later with an
	 * unrelated timestamp base */
	for (unsigned i = 0; i < 10; i++) {
		put(&m, 0, 1, i, 1000, 20 * i, 100);
		put(&m, 1, 2, i, 777777, 40 + 20 * i, -200);
	}
	assert_int_equal(crmix_finish(&m), 0);
	assert_int_equal(k.n, 1600 + 320);
	/* left: 1600 frames of 100, then silence; right: 320 of silence */
	assert_int_equal(k.s[0], 100);
	assert_int_equal(k.s[2 * 1599], 100);
	assert_int_equal(k.s[2 * 1600], 0);
	assert_int_equal(k.s[1], 0);
	assert_int_equal(k.s[2 * 319 + 1], 0);
	assert_int_equal(k.s[2 * 320 + 1], -200);
	assert_int_equal(k.s[2 * 1919 + 1], -200);
	crmix_fini(&m);
	free(k.s);
}

static void test_mix_gap_dup_reorder(void **state)
{
	struct crmix m;
	struct sink k = { .fail_after = -1 };

	(void)state;
	assert_int_equal(crmix_init(&m, 8000, 0, sink_w, &k), 0);
	put(&m, 0, 7, 0, 50, 0, 1);
	put(&m, 0, 7, 2, 50, 40, 3);    /* 1 lost for now, 2 early */
	put(&m, 0, 7, 1, 50, 45, 2);    /* 1 arrives late: reordered */
	put(&m, 0, 7, 2, 50, 46, 3);    /* a duplicate */
	put(&m, 0, 7, 5, 50, 100, 6);   /* 3, 4 lost: silence */
	assert_int_equal(crmix_finish(&m), 0);
	assert_int_equal(k.n, 6 * 160);
	assert_int_equal(k.s[2 * 0], 1);
	assert_int_equal(k.s[2 * 160], 2);
	assert_int_equal(k.s[2 * 320], 3);
	assert_int_equal(k.s[2 * 480], 0);
	assert_int_equal(k.s[2 * 799], 0);
	assert_int_equal(k.s[2 * 800], 6);
	assert_int_equal(m.late, 0);
	crmix_fini(&m);
	free(k.s);
}

static void test_mix_late_and_window(void **state)
{
	struct crmix m;
	struct sink k = { .fail_after = -1 };

	(void)state;
	/* a window of 480 frames (3 packets) */
	assert_int_equal(crmix_init(&m, 480, 0, sink_w, &k), 0);
	for (unsigned i = 0; i < 6; i++)
		put(&m, 0, 9, i, 0, 20 * i, (int16_t)(i + 1));
	/* frames 0..479 were written to make room: packet 0 comes again,
	 * too late: dropped, counted, nothing overwritten */
	put(&m, 0, 9, 0, 0, 130, 99);
	assert_int_equal(m.late, 1);
	assert_int_equal(crmix_flush(&m, 160), 0);
	assert_int_equal(k.n, 5 * 160);
	assert_int_equal(crmix_finish(&m), 0);
	assert_int_equal(k.n, 6 * 160);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(k.s[2 * 160 * i], i + 1);
	crmix_fini(&m);
	free(k.s);
}

/* A long call through a small window, flushed as the writer does: every
 * packet lands once, in order, on both sides. */
static void test_mix_long_stream_window_moves(void **state)
{
	struct crmix m;
	struct sink k = { .fail_after = -1 };

	(void)state;
	assert_int_equal(crmix_init(&m, 800, 0, sink_w, &k), 0);
	for (unsigned i = 0; i < 200; i++) {
		put(&m, 0, 1, i, 0, 20 * i, (int16_t)(i + 1));
		put(&m, 1, 2, i, 99, 20 * i, (int16_t)-(int)(i + 1));
		if (i % 3 == 0)
			assert_int_equal(crmix_flush(&m, 320), 0);
	}
	assert_int_equal(crmix_finish(&m), 0);
	assert_int_equal(k.n, 200 * 160);
	for (unsigned i = 0; i < 200; i++) {
		assert_int_equal(k.s[2 * 160 * i], i + 1);
		assert_int_equal(k.s[2 * (160 * i + 159)], i + 1);
		assert_int_equal(k.s[2 * 160 * i + 1], -(int)(i + 1));
	}
	assert_int_equal(m.late, 0);
	crmix_fini(&m);
	free(k.s);
}

static void test_mix_new_ssrc_and_jump(void **state)
{
	struct crmix m;
	struct sink k = { .fail_after = -1 };

	(void)state;
	assert_int_equal(crmix_init(&m, 16000, 0, sink_w, &k), 0);
	put(&m, 1, 1, 0, 5000, 0, 10);
	/* another source (music on hold) from 200 ms: anchored on its
	 * arrival, whatever its timestamps */
	put(&m, 1, 2, 0, 123456789, 200, 20);
	/* the first stream comes back at 400 ms (a new SSRC run again),
	 * then jumps its timestamp by an hour at 600 ms: not an hour of
	 * silence, anchored again on arrival */
	put(&m, 1, 1, 0, 5000 + 8000u * 3600u, 400, 30);
	put(&m, 1, 1, 0, 5000 + 8000u * 7200u, 600, 40);
	assert_int_equal(crmix_finish(&m), 0);
	assert_int_equal(k.n, 4800 + 160);
	assert_int_equal(k.s[2 * 4800 + 1], 40);
	assert_int_equal(k.s[1], 10);
	assert_int_equal(k.s[2 * 1600 + 1], 20);
	assert_int_equal(k.s[2 * 3200 + 1], 30);
	assert_int_equal(k.s[2 * 2000 + 1], 0);
	assert_int_equal(m.anchors, 4);   /* 1, 2, 1 again, the jump */
	crmix_fini(&m);
	free(k.s);
}

static void test_mix_bound_and_error(void **state)
{
	struct crmix m;
	struct sink k = { .fail_after = 320 };

	(void)state;
	/* at most 400 frames placed */
	assert_int_equal(crmix_init(&m, 160, 400, sink_w, &k), 0);
	for (unsigned i = 0; i < 4; i++)
		put(&m, 0, 1, i, 0, 20 * i, 5);
	/* a window of 160: frames 0..319 written to make room, then the
	 * writer refuses: the error sticks */
	assert_int_equal(crmix_finish(&m), ENOSPC);
	assert_true(m.hi <= 400);
	crmix_fini(&m);
	free(k.s);
	assert_int_equal(crmix_init(&m, 100, 0, sink_w, &k), EINVAL);
}

/* ---- the tap and the writer -------------------------------------------- */

static char dir[256];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_callrec.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown_dir(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

static size_t rtp(uint8_t *b, uint8_t pt, uint16_t seq, uint32_t ts,
		  uint32_t ssrc, uint8_t fill)
{
	b[0] = 0x80;
	b[1] = pt;
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	for (int i = 0; i < 4; i++) {
		b[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
		b[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
	}
	memset(b + 12, fill, 160);
	return 172;
}

static void wait_live0(struct callrec *r)
{
	struct callrec_stats st;

	for (int i = 0; i < 300; i++) {
		callrec_stats(r, &st);
		if (!st.live)
			return;
		usleep(10000);
	}
	fail_msg("the recording did not complete");
}

static void test_tap_writes_stereo_wav(void **state)
{
	struct callrec_conf conf = { .dir = dir, .max_live = 2,
				     .flush_ms = 10 };
	struct callrec *r;
	struct callrec_tap *t;
	struct callrec_stats st;
	char rel[128], path[512];
	uint8_t pkt[200], enc[1], hdr[44];
	int16_t want_l, want_r, pcm[4];
	uint64_t t0 = callrec_now_ms();
	struct stat sb;
	FILE *f;

	(void)state;
	assert_int_equal(callrec_alloc(&r, &conf), 0);
	assert_int_equal(callrec_start(r, "bad/id", 0, NULL, &t, rel, sizeof(rel)),
			 EINVAL);
	assert_int_equal(callrec_start(r, "c0123abc", 0, NULL, &t, rel, sizeof(rel)),
			 0);
	assert_non_null(strstr(rel, "/c0123abc.wav"));
	assert_int_equal(strlen(rel), 10 + strlen("/c0123abc.wav"));
	/* µ-law 0x9f from the caller, A-law 0x2a from the callee; a
	 * telephone-event packet is not audio */
	for (unsigned i = 0; i < 50; i++) {
		callrec_tap_put(t, 0, pkt, rtp(pkt, 0, (uint16_t)i, 160 * i,
					       11, 0x9f), t0 + 20 * i);
		callrec_tap_put(t, 1, pkt, rtp(pkt, 8, (uint16_t)(900 + i),
					       4000 + 160 * i, 22, 0x2a),
				t0 + 20 * i);
	}
	callrec_tap_put(t, 1, pkt, rtp(pkt, 101, 5, 5, 22, 0), t0);
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	callrec_tap_release(t);          /* the relay's */
	usleep(50000);
	assert_int_equal(stat(path, &sb), -1);   /* not before the end */
	callrec_stop(t);                  /* the owner's */
	wait_live0(r);
	callrec_stats(r, &st);
	assert_int_equal(st.completed, 1);
	assert_int_equal(st.dropped, 0);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(hdr, 1, 44, f), 44);
	assert_memory_equal(hdr, "RIFF", 4);
	assert_int_equal(hdr[22], 2);                   /* stereo */
	assert_int_equal(hdr[24] | hdr[25] << 8, 8000);
	assert_int_equal(hdr[34], 16);
	enc[0] = 0x9f;
	g711x_decode(G711_ULAW, &want_l, enc, 1);
	enc[0] = 0x2a;
	g711x_decode(G711_ALAW, &want_r, enc, 1);
	assert_int_equal(fseek(f, 44 + 4 * 800, SEEK_SET), 0);
	assert_int_equal(fread(pcm, 2, 2, f), 2);
	assert_int_equal(pcm[0], want_l);
	assert_int_equal(pcm[1], want_r);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(sb.st_size >= 44 + 4 * 8000 - 4 * 160);
	assert_true(sb.st_size <= 44 + 4 * 8000 + 4 * 400);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s.tmp", dir, rel);
	assert_int_equal(stat(path, &sb), -1);
	callrec_free(r);
}

static void test_tap_cap_full_ring_and_no_audio(void **state)
{
	struct callrec_conf conf = { .dir = dir, .max_live = 1,
				     .flush_ms = 1000 };
	struct callrec *r;
	struct callrec_tap *t, *t2;
	struct callrec_stats st;
	char rel[128], path[512];
	uint8_t pkt[200];
	uint64_t t0 = callrec_now_ms();
	struct stat sb;

	(void)state;
	assert_int_equal(callrec_alloc(&r, &conf), 0);
	assert_int_equal(callrec_start(r, "c1", 0, NULL, &t, rel, sizeof(rel)), 0);
	assert_int_equal(callrec_start(r, "c2", 0, NULL, &t2, NULL, 0), EBUSY);
	/* the writer sleeps for a second: the ring fills, then drops */
	for (unsigned i = 0; i < CALLREC_SLOTS + 40; i++)
		callrec_tap_put(t, 0, pkt, rtp(pkt, 0, (uint16_t)i, 160 * i,
					       1, 0xff), t0 + 20 * i);
	callrec_tap_release(t);
	callrec_stop(t);
	wait_live0(r);
	callrec_stats(r, &st);
	assert_int_equal(st.dropped, 40);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.completed, 1);
	/* a call of another codec: no file */
	assert_int_equal(callrec_start(r, "c3", 5, NULL, &t, rel, sizeof(rel)), 0);
	callrec_tap_put(t, 0, pkt, rtp(pkt, 9, 1, 1, 1, 0), t0);
	callrec_tap_release(t);
	callrec_stop(t);
	wait_live0(r);
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_int_equal(stat(path, &sb), -1);
	callrec_stats(r, &st);
	assert_int_equal(st.completed, 1);
	assert_int_equal(st.failed, 0);
	callrec_free(r);
}

/* an RFC 4733 end packet of event ev (PT 101) at timestamp ts */
static size_t te(uint8_t *b, uint16_t seq, uint32_t ts, uint8_t ev)
{
	size_t n = rtp(b, 101, seq, ts, 11, 0);

	(void)n;
	b[12] = ev;
	b[13] = 0x80 | 10;        /* end, volume 10 */
	b[14] = 0x03;             /* duration 800 */
	b[15] = 0x20;
	return 16;
}

static void test_on_demand_toggle(void **state)
{
	struct callrec_conf conf = { .dir = dir, .flush_ms = 10 };
	struct callrec_opts o = { .paused = true, .toggle_sides = 1,
				  .te_pt = 101 };
	struct callrec *r;
	struct callrec_tap *t;
	struct callrec_stats st;
	char rel[128], path[512];
	uint8_t pkt[200];
	int16_t s[2];
	uint64_t t0;
	unsigned k = 0;
	struct stat sb;
	FILE *f;

	(void)state;
	assert_int_equal(callrec_alloc(&r, &conf), 0);
	assert_int_equal(callrec_start(r, "cdemand", 0, &o, &t, rel,
				       sizeof(rel)), 0);
	/* the tap's own clock origin: arrival times are relative to it (a
	 * t0 read before the start, on a loaded box, moved the anchor) */
	t0 = t->t0_ms;
	/* 0.2 s paused; the callee's "*1" does not count (not its side);
	 * the caller's "*1" starts it; 0.2 s; "*" "1" again pauses it;
	 * 0.2 s more */
	for (; k < 10; k++)
		callrec_tap_put(t, 0, pkt, rtp(pkt, 0, (uint16_t)k, 160 * k,
					       11, 0x9f), t0 + 20 * k);
	callrec_tap_put(t, 1, pkt, te(pkt, 1, 5000, 10), t0 + 200);
	callrec_tap_put(t, 1, pkt, te(pkt, 2, 5800, 1), t0 + 200);
	callrec_tap_put(t, 0, pkt, te(pkt, 50, 1600, 10), t0 + 200);
	callrec_tap_put(t, 0, pkt, te(pkt, 51, 1600, 10), t0 + 200);
	callrec_tap_put(t, 0, pkt, te(pkt, 52, 2400, 1), t0 + 200);
	for (; k < 20; k++)
		callrec_tap_put(t, 0, pkt, rtp(pkt, 0, (uint16_t)k, 160 * k,
					       11, 0x9f), t0 + 20 * k);
	callrec_tap_put(t, 0, pkt, te(pkt, 53, 3200, 10), t0 + 400);
	callrec_tap_put(t, 0, pkt, te(pkt, 54, 4000, 1), t0 + 400);
	for (; k < 30; k++)
		callrec_tap_put(t, 0, pkt, rtp(pkt, 0, (uint16_t)k, 160 * k,
					       11, 0x9f), t0 + 20 * k);
	callrec_tap_release(t);
	callrec_stop(t);
	wait_live0(r);
	callrec_stats(r, &st);
	assert_int_equal(st.completed, 1);
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "rb");
	assert_non_null(f);
	/* frames 0..1599 silent, 1600..3199 the caller's, then nothing
	 * more was placed: the file ends there */
	assert_int_equal(fseek(f, 44 + 4 * 1599, SEEK_SET), 0);
	assert_int_equal(fread(s, 2, 2, f), 2);
	assert_int_equal(s[0], 0);
	assert_int_equal(fread(s, 2, 2, f), 2);
	assert_true(s[0] != 0);
	assert_int_equal(s[1], 0);
	assert_int_equal(fseek(f, 44 + 4 * 3199, SEEK_SET), 0);
	assert_int_equal(fread(s, 2, 2, f), 2);
	assert_true(s[0] != 0);
	assert_int_equal(fread(s, 2, 2, f), 0);
	fclose(f);
	/* never started: no file */
	assert_int_equal(callrec_start(r, "cnever", 0, &o, &t, rel,
				       sizeof(rel)), 0);
	for (k = 0; k < 10; k++)
		callrec_tap_put(t, 0, pkt, rtp(pkt, 0, (uint16_t)k, 160 * k,
					       11, 0x9f), t0 + 20 * k);
	callrec_tap_release(t);
	callrec_stop(t);
	wait_live0(r);
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_int_equal(stat(path, &sb), -1);
	callrec_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mix_two_sides_aligned),
		cmocka_unit_test(test_mix_gap_dup_reorder),
		cmocka_unit_test(test_mix_late_and_window),
		cmocka_unit_test(test_mix_long_stream_window_moves),
		cmocka_unit_test(test_mix_new_ssrc_and_jump),
		cmocka_unit_test(test_mix_bound_and_error),
		cmocka_unit_test(test_tap_writes_stereo_wav),
		cmocka_unit_test(test_tap_cap_full_ring_and_no_audio),
		cmocka_unit_test(test_on_demand_toggle),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
