/*
 * fuzz_callrec — libFuzzer target for the call recording (src/media/
 * callrec.c, callrec_file.c, callrec_mix.c): the RTP packets of both
 * sides of a recorded call, as the relay's tap gets them.
 *
 * The first octet picks the mode.
 * Tap mode (bit 7 clear): the real path of a recording. A recorder
 * without its writer thread (crrec_init, callrec_int.h) on a temporary
 * directory (/dev/shm when there); callrec_start with the options of the
 * header (bits 0-1 toggle_sides, bit 2 paused, bit 3 no options; octet 1
 * the telephone-event type, 255: -1; octets 2-3 a write that fails, in
 * units of 80 frames, 0: none); crfile_open as the writer's first round
 * does, its frame writer wrapped by the harness; then every packet goes
 * to callrec_tap_put (the relay's entry point) and crrec_round (the
 * writer's round) runs every 100 ms of the input's clock or when a
 * packet asks; at the end both references are dropped and a round
 * completes the file.
 * Mix mode (bit 7 set): the timeline alone (crmix_*) with what the tap
 * cannot choose: a window of 160 + 32 * octet 1 frames, a bound of
 * 400 * octet 4 frames (0: none), a hold of 40 * octet 5 frames, the
 * failing write of octets 2-3.
 *
 * Then records: octet c0 (bit 0 side, bit 1 a writer round after it,
 * bits 2-3 kind, bits 4-7 the arrival delay: a table up to 12 s; the
 * clock stops at 60 s), then
 *  kind 0: a length octet and that many octets of datagram;
 *  kind 3: a 2-octet length (at most 1500) and the datagram;
 *  kind 1: G.711 built from 3 octets (a: bits 0-1 SSRC, bit 2 PCMA,
 *          bits 3-6 timestamp step: in order, duplicate, back, jumps,
 *          wrap; bit 7 marker; b: payload 2b octets, 254: 481, 255: 600;
 *          c: the payload's pattern);
 *  kind 2: an RFC 4733 event from 3 octets (a: bits 0-4 event, bit 5
 *          end, bit 6 a new event, bit 7 PT 101 instead of the call's
 *          type; b, c: duration).
 *
 * Checked (abort): the tap's counters (ring head, dropped, other PT)
 * move exactly as the RTP header and the ring's room say; after a round
 * the ring is empty, the pause state and toggle count are those of the
 * toggle code "*1" seen in the events of the sides that may toggle
 * (dtmfev receiver per side), what the hold lets go is written (frames
 * written = the timeline's base, less than hold + batch left), nothing
 * is placed but audio offered while recording; every write has 1..win
 * frames whose samples are G.711 values, silence on a side that sent no
 * audio, never beyond max_frames, never after a failed write, and a
 * failed write fails the recording. At the end: live back to 0; a
 * failed recording counted failed and no file; no audio: no file; else
 * completed, the WAV's size and data length those of the frames written,
 * no .tmp left.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/log.h"
#include "media/callrec_int.h"
#include "media/dtmfev.h"
#include "media/g711.h"
#include "media/rtppkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_cleanup(void);

#define CLOCK_END_MS 60000u
#define ROUND_MS     100u

static const uint32_t delays[16] = {
	0, 1, 2, 5, 10, 19, 20, 21, 30, 40, 60, 100, 250, 1000, 5500, 12000
};
static const uint32_t steps[16] = {
	160, 160, 160, 80, 240, 320, 0, (uint32_t)-160, (uint32_t)-320,
	1600, 8000, 48000, 0x7fffffffu, 0x80000000u, 0xffffff60u, 4000
};

static bool g711_ok[65536];
static char dir[PATH_MAX - 256];
static unsigned nth;

/* ---- the writer's frames ------------------------------------------------ */

struct wstate {
	uint64_t frames;      /* written */
	uint64_t fail_at;     /* frames: a write beyond fails, 0: never */
	uint64_t max;         /* the timeline's bound, 0: none */
	size_t win;
	bool err;             /* a write failed */
	bool may[2];          /* side offered audio */
	crmix_write_h *next;  /* the recorder's own writer (tap mode) */
	void *next_arg;
};

static int frames_w(const int16_t *f, size_t n, void *arg)
{
	struct wstate *w = arg;
	int err = 0;

	if (w->err || !n || n > w->win)
		abort();
	if (w->max && w->frames + n > w->max)
		abort();
	for (size_t i = 0; i < 2 * n; i++) {
		uint16_t v = (uint16_t)f[i];

		if (v && (!g711_ok[v] || !w->may[i & 1]))
			abort();
	}
	if (w->fail_at && w->frames + n > w->fail_at)
		err = EIO;
	else if (w->next)
		err = w->next(f, n, w->next_arg);
	if (err) {
		w->err = true;
		return err;
	}
	w->frames += n;
	return 0;
}

/* ---- the input ---------------------------------------------------------- */

struct in {
	const uint8_t *p;
	size_t left;
};

static bool take(struct in *in, void *out, size_t n)
{
	if (in->left < n)
		return false;
	memcpy(out, in->p, n);
	in->p += n;
	in->left -= n;
	return true;
}

struct gen {                  /* per side: the synthesized stream */
	uint16_t seq;
	uint32_t ts, ev_ts;
};

/* Builds the next datagram into pkt (>= 1500 octets): its length, or
 * -1 at the end of the input. */
static long next_pkt(struct in *in, uint8_t c0, struct gen *g, int te_pt,
		     uint8_t *pkt)
{
	unsigned side = c0 & 1, kind = (c0 >> 2) & 3;
	uint8_t a[3];
	size_t len;

	if (kind == 0 || kind == 3) {
		uint8_t l[2] = { 0, 0 };

		if (!take(in, l, kind == 0 ? 1 : 2))
			return -1;
		len = kind == 0 ? l[0] : ((size_t)l[0] << 8 | l[1]);
		if (len > 1500)
			len = 1500;
		if (len > in->left)
			len = in->left;
		(void)take(in, pkt, len);
		return (long)len;
	}
	if (!take(in, a, 3))
		return -1;
	if (kind == 1) {
		static const uint32_t ssrc[4] = {
			0x11110000u, 0x22220000u, 0x33330000u, 0xffffffffu
		};
		size_t plen = a[1] == 255 ? 600 : a[1] == 254 ? 481 :
			2u * a[1];

		g[side].ts += steps[(a[0] >> 3) & 15];
		rtppkt_write(pkt, (a[0] & 4) ? 8 : 0, a[0] & 0x80,
			     g[side].seq++, g[side].ts,
			     ssrc[a[0] & 3] + side);
		for (size_t i = 0; i < plen; i++)
			pkt[RTPPKT_HDR + i] = (uint8_t)(a[2] ^ (i * 29u));
		return (long)(RTPPKT_HDR + plen);
	}
	/* kind 2: telephone-event */
	if (a[0] & 0x40)
		g[side].ev_ts = g[side].ts + 800u * (g[side].seq & 7) + 1;
	rtppkt_write(pkt, (a[0] & 0x80) || te_pt < 0 ? 101 : (uint8_t)te_pt,
		     false, g[side].seq++, g[side].ev_ts, 0x44440000u + side);
	pkt[RTPPKT_HDR] = a[0] & 31;
	pkt[RTPPKT_HDR + 1] = (uint8_t)((a[0] & 0x20 ? 0x80 : 0) | 10);
	pkt[RTPPKT_HDR + 2] = a[1];
	pkt[RTPPKT_HDR + 3] = a[2];
	return RTPPKT_HDR + 4;
}

/* ---- tap mode ----------------------------------------------------------- */

struct model {                /* what the tap and the writer must do */
	unsigned head, dropped, other, inring;
	bool paused;
	unsigned toggles, offered;
	struct dtmfev_rx rx[2];
	char last[2];
};

static void model_digit(struct model *mo, unsigned side, char d)
{
	if (mo->last[side] == '*' && d == '1') {
		mo->paused = !mo->paused;
		mo->toggles++;
		d = 0;
	}
	mo->last[side] = d;
}

/* The packet put into the tap: what its counters must show. */
static void model_put(struct model *mo, struct wstate *w,
		      const struct callrec_tap *t, unsigned side,
		      const uint8_t *pkt, size_t len)
{
	struct rtppkt p;
	struct dtmfev e;
	char d, d2 = 0;

	if (rtppkt_parse(&p, pkt, len))
		return;
	if (p.pt != 0 && p.pt != 8 && (int)p.pt != t->te_pt) {
		mo->other++;
		return;
	}
	if (!p.plen)
		return;
	if (mo->inring >= CALLREC_SLOTS || p.plen > CALLREC_MAX_PAYLOAD) {
		mo->dropped++;
		return;
	}
	mo->head++;
	mo->inring++;
	if ((int)p.pt != t->te_pt) {
		if (!mo->paused) {
			mo->offered++;
			w->may[side] = true;
		}
		return;
	}
	if (!(t->toggle_sides & (1u << side)) ||
	    dtmfev_parse(&e, p.payload, p.plen))
		return;
	d = dtmfev_rx_input(&mo->rx[side], p.ts, &e, &d2);
	if (d)
		model_digit(mo, side, d);
	if (d2)
		model_digit(mo, side, d2);
}

static void check_put(const struct model *mo, const struct callrec_tap *t)
{
	if (atomic_load(&t->head) != mo->head ||
	    atomic_load(&t->dropped) != mo->dropped ||
	    atomic_load(&t->other_pt) != mo->other)
		abort();
}

static void check_round(const struct model *mo, const struct wstate *w,
			const struct callrec_tap *t)
{
	const struct crmix *m = &t->mix;

	if (atomic_load(&t->tail) != atomic_load(&t->head))
		abort();
	if (t->paused != mo->paused || t->toggles != mo->toggles)
		abort();
	if (t->failed != w->err || m->placed > mo->offered)
		abort();
	if (m->hi < m->base || m->hi - m->base > m->win)
		abort();
	if (!t->failed && (w->frames != m->base ||
			   m->hi - m->base >= HOLD_FRAMES + BATCH_FRAMES))
		abort();
	if (w->frames > m->base)
		abort();
}

static void check_file(const char *rel, bool want, uint64_t frames)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	uint8_t h[CALLREC_HDR];
	struct stat st;
	uint32_t riff, dlen;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!stat(tmp, &st))
		abort();
	if (!want) {
		if (!stat(path, &st))
			abort();
		return;
	}
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) ||
	    read(fd, h, sizeof(h)) != (ssize_t)sizeof(h))
		abort();
	close(fd);
	memcpy(&riff, h + 4, 4);
	memcpy(&dlen, h + 40, 4);
	if ((uint64_t)st.st_size != CALLREC_HDR + 4 * frames ||
	    memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVEfmt ", 8) ||
	    memcmp(h + 36, "data", 4) || dlen != 4 * frames ||
	    riff != 36 + dlen)
		abort();
	unlink(path);
}

static void tap_mode(struct callrec *r, const uint8_t hdr[4], struct in *in)
{
	struct callrec_opts o = {
		.paused = hdr[0] & 4, .toggle_sides = hdr[0] & 3,
		.te_pt = hdr[1] == 255 ? -1 : hdr[1],
	};
	struct callrec_stats s0, s1;
	struct callrec_tap *t;
	struct wstate w = { .win = WIN_FRAMES };
	struct model mo = { 0 };
	struct gen g[2] = { { 1, 1000, 1000 }, { 7000, 0xfffff000u, 5 } };
	char id[16], rel[64];
	uint8_t pkt[1500];
	uint32_t now = 0, last_round = 0;
	uint8_t c0;
	long len;
	bool want;

	snprintf(id, sizeof(id), "fz%u", nth++);
	callrec_stats(r, &s0);
	if (callrec_start(r, id, 0, (hdr[0] & 8) ? NULL : &o, &t, rel,
			  sizeof(rel)))
		abort();
	/* what callrec_start must have made of the options */
	if ((hdr[0] & 8) ? (t->paused || t->toggle_sides || t->te_pt != -1) :
	    (t->paused != o.paused || t->toggle_sides != o.toggle_sides ||
	     t->te_pt != (o.toggle_sides && o.te_pt >= 96 &&
			  o.te_pt <= 127 ? o.te_pt : -1)))
		abort();
	mo.paused = t->paused;
	/* the writer's first round opens the file before it drains */
	crfile_open(r, t);
	if (t->failed || !t->mix.buf || t->mix.max_frames == 0)
		abort();
	w.max = t->mix.max_frames;
	w.fail_at = (uint64_t)(hdr[2] << 8 | hdr[3]) * 80u;
	w.next = t->mix.wh;
	w.next_arg = t->mix.arg;
	t->mix.wh = frames_w;
	t->mix.arg = &w;
	while (take(in, &c0, 1)) {
		unsigned side = c0 & 1;

		len = next_pkt(in, c0, g, t->te_pt, pkt);
		if (len < 0)
			break;
		now += delays[c0 >> 4];
		if (now > CLOCK_END_MS)
			now = CLOCK_END_MS;
		model_put(&mo, &w, t, side, pkt, (size_t)len);
		callrec_tap_put(t, side, pkt, (size_t)len, t->t0_ms + now);
		check_put(&mo, t);
		if ((c0 & 2) || now - last_round >= ROUND_MS) {
			crrec_round(r, false);
			mo.inring = 0;
			last_round = now;
			check_round(&mo, &w, t);
		}
	}
	/* the call ends: the relay lets go, the owner stops, a round ends
	 * the recording */
	callrec_tap_release(t);
	callrec_stop(t);
	crrec_round(r, false);
	callrec_stats(r, &s1);
	if (s1.live != 0 || s1.started != s0.started + 1 ||
	    s1.dropped != s0.dropped + mo.dropped)
		abort();
	want = !w.err && mo.offered;
	if (s1.failed != s0.failed + w.err ||
	    s1.completed != s0.completed + want)
		abort();
	if (want && !w.frames)
		abort();
	if (getenv("FUZZ_CALLREC_TRACE"))
		fprintf(stderr, "tap: head %u dropped %u other %u toggles %u "
			"offered %u frames %llu%s%s\n", mo.head, mo.dropped,
			mo.other, mo.toggles, mo.offered,
			(unsigned long long)w.frames, w.err ? " failed" : "",
			want ? " file" : " no file");
	check_file(rel, want, w.frames);
}

/* ---- mix mode ----------------------------------------------------------- */

static void mix_mode(const uint8_t hdr[6], struct in *in)
{
	struct wstate w = { .win = 160u + 32u * hdr[1] };
	struct gen g[2] = { { 1, 1000, 1000 }, { 7000, 0xfffff000u, 5 } };
	struct crmix m;
	struct rtppkt p;
	int16_t pcm[CALLREC_MAX_PAYLOAD];
	uint8_t pkt[1500];
	size_t hold = 40u * hdr[5];
	uint32_t now = 0;
	uint64_t placed = 0;
	uint8_t c0;
	long len;
	int err;

	w.max = 400u * hdr[4];
	w.fail_at = (uint64_t)(hdr[2] << 8 | hdr[3]) * 80u;
	if (crmix_init(&m, w.win, w.max, frames_w, &w))
		abort();
	while (take(in, &c0, 1)) {
		unsigned side = c0 & 1;
		size_t n;

		len = next_pkt(in, c0, g, -1, pkt);
		if (len < 0)
			break;
		now += delays[c0 >> 4];
		if (now > CLOCK_END_MS)
			now = CLOCK_END_MS;
		if (rtppkt_parse(&p, pkt, (size_t)len) || !p.plen)
			continue;
		n = p.plen < CALLREC_MAX_PAYLOAD ? p.plen : CALLREC_MAX_PAYLOAD;
		g711x_decode(p.pt == 8 ? G711_ALAW : G711_ULAW, pcm,
			     p.payload, n);
		w.may[side] = true;
		crmix_put(&m, side, p.ssrc, p.ts, now, pcm, n);
		placed++;
		if (m.placed > placed || m.late > placed ||
		    m.anchors > placed || m.hi < m.base ||
		    m.hi - m.base > m.win || (w.max && m.hi > w.max))
			abort();
		if (c0 & 2) {
			err = crmix_flush(&m, hold);
			if (err != m.err || (err != 0) != w.err ||
			    (!err && (w.frames != m.base ||
				      m.hi - m.base > hold)))
				abort();
		}
	}
	err = crmix_finish(&m);
	if ((err != 0) != w.err || (!err && (w.frames != m.hi ||
					      m.base != m.hi)))
		abort();
	if (w.max && m.base > w.max)
		abort();
	if (getenv("FUZZ_CALLREC_TRACE"))
		fprintf(stderr, "mix: placed %llu late %llu anchors %llu "
			"frames %llu%s\n", (unsigned long long)m.placed,
			(unsigned long long)m.late,
			(unsigned long long)m.anchors,
			(unsigned long long)w.frames, w.err ? " failed" : "");
	crmix_fini(&m);
}

/* ---- set-up ------------------------------------------------------------- */

static void rm_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char p[PATH_MAX];

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		if (!lstat(p, &st) && S_ISDIR(st.st_mode))
			rm_dir(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(path);
}

void fuzz_cleanup(void)
{
	if (dir[0])
		rm_dir(dir);
	dir[0] = '\0';
}

static struct callrec *setup(void)
{
	static struct callrec *r;
	struct callrec_conf conf = { 0 };
	uint8_t b[256];
	int16_t v[256];

	if (r)
		return r;
	log_setup(LOG_LVL_ERR, 0);
	for (unsigned i = 0; i < 256; i++)
		b[i] = (uint8_t)i;
	g711x_decode(G711_ULAW, v, b, 256);
	for (unsigned i = 0; i < 256; i++)
		g711_ok[(uint16_t)v[i]] = true;
	g711x_decode(G711_ALAW, v, b, 256);
	for (unsigned i = 0; i < 256; i++)
		g711_ok[(uint16_t)v[i]] = true;
	snprintf(dir, sizeof(dir), "%s/fuzz-callrec-XXXXXX",
		 access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm");
	if (!mkdtemp(dir))
		abort();
	atexit(fuzz_cleanup);
	conf.dir = dir;
	if (crrec_init(&r, &conf))
		abort();
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct callrec *r = setup();
	struct in in = { data, size };
	uint8_t hdr[6] = { 0 };

	if (!take(&in, hdr, 1))
		return 0;
	if (hdr[0] & 0x80) {
		if (!take(&in, hdr + 1, 5))
			return 0;
		mix_mode(hdr, &in);
	}
	else {
		if (!take(&in, hdr + 1, 3))
			return 0;
		tap_mode(r, hdr, &in);
	}
	return 0;
}
