/*
 * The media endpoint end to end on loopback: the test is the phone (a
 * UDP socket on 127.0.0.1, an attacker on 127.0.0.2), drives endpoints
 * through the owner API and reads their events. Audio is checked with a
 * Goertzel filter: what the endpoint plays arrives as the tone it was
 * told to play, 20 ms apart; what the phone sends is found in the WAV.
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
#include <math.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <re.h>

#include "media/endpoint.h"
#include "media/g711.h"
#include "media/rtppkt.h"
#include "media/tone.h"
#include "media/wav.h"

static char dir[64];

/* a range of our own per process (plain and ASan runs at once) */
static uint16_t range_base(void)
{
	return (uint16_t)(24000 + ((unsigned)getpid() % 200) * 32);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct sa ip4(const char *ip, uint16_t port)
{
	struct sa a;

	memset(&a, 0, sizeof(a));
	a.u.in.sin_family = AF_INET;
	a.u.in.sin_port = htons(port);
	inet_pton(AF_INET, ip, &a.u.in.sin_addr);
	a.len = sizeof(a.u.in);
	return a;
}

static int phone(const char *ip, struct sa *addr)
{
	struct sa a = ip4(ip, 0);
	socklen_t len = sizeof(a.u.in);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, &a.u.sa, a.len), 0);
	assert_int_equal(getsockname(fd, &a.u.sa, &len), 0);
	a.len = len;
	*addr = a;
	return fd;
}

/* ---- events ------------------------------------------------------------ */

#define MAXEV 4096
static struct endpoint_event evlog[MAXEV];
static bool used[MAXEV];   /* returned by wait_ev already */
static unsigned nev;

static void on_event(const struct endpoint_event *ev, void *arg)
{
	if (nev < MAXEV) {
		used[nev] = false;
		evlog[nev++] = *ev;
	}
}

static void pump(struct endpoints *e, int ms)
{
	struct pollfd p = {.fd = endpoint_event_fd(e), .events = POLLIN};

	if (poll(&p, 1, ms) > 0)
		endpoint_events_poll(e, on_event, NULL, 256);
}

/* Waits up to ms for the next event of type on id that no earlier call
 * returned; returns it or NULL. */
static const struct endpoint_event *wait_ev(struct endpoints *e,
					    uint32_t id,
					    enum endpoint_ev_type type,
					    unsigned ms)
{
	uint64_t end = now_ms() + ms;
	unsigned i = 0;

	for (;;) {
		for (; i < nev; i++)
			if (!used[i] && evlog[i].id == id &&
			    evlog[i].type == type) {
				used[i] = true;
				return &evlog[i];
			}
		if (now_ms() >= end)
			return NULL;
		pump(e, 20);
	}
}

static unsigned count_ev(uint32_t id, enum endpoint_ev_type type)
{
	unsigned i, n = 0;

	for (i = 0; i < nev; i++)
		if (evlog[i].id == id && evlog[i].type == type)
			n++;
	return n;
}

/* ---- audio ------------------------------------------------------------- */

/* Relative power of freq in s (Goertzel), normalised by the signal's
 * energy: near 1 for a pure tone at freq, near 0 without it. */
static double goertzel(const int16_t *s, size_t n, double freq)
{
	double w = 2.0 * M_PI * freq / 8000.0, c = 2.0 * cos(w);
	double q0, q1 = 0, q2 = 0, energy = 0, power;
	size_t i;

	for (i = 0; i < n; i++) {
		q0 = c * q1 - q2 + s[i];
		q2 = q1;
		q1 = q0;
		energy += (double)s[i] * s[i];
	}
	power = q1 * q1 + q2 * q2 - c * q1 * q2;
	return energy > 0 ? power / (energy * (double)n / 2.0) : 0;
}

static void write_tone_wav(const char *path, unsigned freq, unsigned ms)
{
	struct wav_writer w;
	struct tone t;
	int16_t s[160];
	unsigned i;

	tone_init(&t, freq, 8000, 10000);
	assert_int_equal(wav_create(&w, path), 0);
	for (i = 0; i < ms / 20; i++) {
		tone_fill(&t, s, 160);
		assert_int_equal(wav_write(&w, s, 160), 0);
	}
	assert_int_equal(wav_finish(&w), 0);
}

struct sender {
	int fd;
	struct sa to;
	uint16_t seq;
	uint32_t ts;
};

static void send_pcm(struct sender *x, uint8_t pt, const int16_t *pcm)
{
	uint8_t pkt[12 + 160];

	rtppkt_write(pkt, pt, false, x->seq++, x->ts, 0x5eed);
	x->ts += 160;
	g711x_encode(pt == 8 ? G711_ALAW : G711_ULAW, pkt + 12, pcm, 160);
	assert_int_equal(sendto(x->fd, pkt, sizeof(pkt), 0, &x->to.u.sa,
				x->to.len), (ssize_t)sizeof(pkt));
}

static void send_event(struct sender *x, uint32_t ts, uint8_t event,
		       bool end, uint16_t dur)
{
	uint8_t pkt[16];

	rtppkt_write(pkt, 101, false, x->seq++, ts, 0x5eed);
	pkt[12] = event;
	pkt[13] = (uint8_t)((end ? 0x80 : 0) | 10);
	pkt[14] = (uint8_t)(dur >> 8);
	pkt[15] = (uint8_t)dur;
	assert_int_equal(sendto(x->fd, pkt, sizeof(pkt), 0, &x->to.u.sa,
				x->to.len), (ssize_t)sizeof(pkt));
}

/* Sends a digit as RFC 4733 events: three updates, three ends. */
static void send_digit(struct sender *x, uint8_t event)
{
	uint32_t ts = x->ts;
	int i;

	for (i = 1; i <= 3; i++)
		send_event(x, ts, event, false, (uint16_t)(160 * i));
	for (i = 0; i < 3; i++)
		send_event(x, ts, event, true, 640);
	x->ts += 640;
}

/* ---- fixtures ---------------------------------------------------------- */

struct fx {
	struct endpoints *e;
	int ph;                 /* the phone's socket */
	struct sa ph_addr;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct endpoint_conf c;

	strcpy(dir, "/tmp/bw-epl-XXXXXX");
	assert_non_null(mkdtemp(dir));
	endpoint_conf_default(&c);
	c.local = ip4("127.0.0.1", 0);
	c.port_min = range_base();
	c.port_max = (uint16_t)(c.port_min + 31);
	c.max_endpoints = 8;
	c.threads = 2;
	snprintf(c.prompt_dir, sizeof(c.prompt_dir), "%s", dir);
	assert_int_equal(endpoint_alloc(&f->e, &c), 0);
	f->ph = phone("127.0.0.1", &f->ph_addr);
	nev = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	endpoint_free(f->e);
	close(f->ph);
	free(f);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static uint32_t mk(struct fx *f, bool nat, int te_pt, struct sender *x)
{
	struct endpoint_media md;
	uint32_t id;
	uint16_t port;

	memset(&md, 0, sizeof(md));
	if (!nat)
		md.rtp = f->ph_addr;
	md.nat = nat;
	md.law = G711_ULAW;
	md.te_pt = te_pt;
	md.inband = true;
	assert_int_equal(endpoint_create(f->e, 77, &md, &id, &port), 0);
	assert_int_equal(port % 2, 0);
	if (x) {
		memset(x, 0, sizeof(*x));
		x->fd = f->ph;
		x->to = ip4("127.0.0.1", port);
		x->ts = 12345;
	}
	return id;
}

/* ---- tests ------------------------------------------------------------- */

static void test_play_tone_wav_paced(void **state)
{
	struct fx *f = *state;
	char path[128];
	int16_t audio[8000 * 2];
	size_t na = 0;
	uint64_t t_first = 0, t_last = 0;
	unsigned npk = 0, tone_pk = 0;
	uint16_t seq = 0;
	uint32_t id;
	const struct endpoint_event *ev;

	snprintf(path, sizeof(path), "%s/tone1k.wav", dir);
	write_tone_wav(path, 1000, 1000);
	id = mk(f, false, 101, NULL);
	assert_int_equal(endpoint_play_file(f->e, id, path, false), 0);
	/* read 60 packets: ~1.2 s of the stream */
	while (npk < 60) {
		struct pollfd p = {.fd = f->ph, .events = POLLIN};
		uint8_t buf[1500];
		struct rtppkt pk;
		ssize_t n;
		int16_t pcm[160];

		if (poll(&p, 1, 500) != 1)
			fail_msg("no packet for 500 ms after %u", npk);
		n = recv(f->ph, buf, sizeof(buf), 0);
		assert_int_equal(rtppkt_parse(&pk, buf, (size_t)n), 0);
		assert_int_equal(pk.pt, 0);
		assert_int_equal(pk.plen, 160);
		if (npk)
			assert_int_equal(pk.seq, (uint16_t)(seq + 1));
		seq = pk.seq;
		if (!npk)
			t_first = now_ms();
		t_last = now_ms();
		npk++;
		g711x_decode(G711_ULAW, pcm, pk.payload, 160);
		if (goertzel(pcm, 160, 1000) > 0.5) {
			tone_pk++;
			memcpy(audio + na, pcm, sizeof(pcm));
			na += 160;
		}
	}
	/* 59 intervals of 20 ms, give or take the scheduler */
	assert_true(t_last - t_first >= 59 * 20 - 60);
	assert_true(t_last - t_first <= 59 * 20 + 120);
	/* one second of the tone: 50 packets */
	assert_in_range(tone_pk, 49, 51);
	assert_true(goertzel(audio, na, 1000) > 0.9);
	assert_true(goertzel(audio, na, 1500) < 0.01);
	ev = wait_ev(f->e, id, ENDPOINT_EV_PLAY_DONE, 1000);
	assert_non_null(ev);
	assert_int_equal(ev->end, ENDPOINT_END_DONE);
	assert_int_equal(endpoint_destroy(f->e, id), 0);
	assert_non_null(wait_ev(f->e, id, ENDPOINT_EV_DESTROYED, 1000));
}

static void test_record_tone_until_silence(void **state)
{
	struct fx *f = *state;
	struct endpoint_rec rec = {.max_ms = 10000, .silence_ms = 600};
	char path[128];
	struct sender x;
	struct tone t;
	struct wav_reader r;
	int16_t pcm[160], *wav = calloc(8000 * 3, sizeof(*wav));
	size_t nw = 0, n;
	const struct endpoint_event *ev;
	uint32_t id;
	int i;

	snprintf(path, sizeof(path), "%s/msg.wav", dir);
	rec.path = path;
	id = mk(f, false, 101, &x);
	assert_int_equal(endpoint_record(f->e, id, &rec), 0);
	tone_init(&t, 1500, 8000, 8000);
	for (i = 0; i < 50; i++) {
		tone_fill(&t, pcm, 160);
		send_pcm(&x, 0, pcm);
		usleep(20000);
	}
	/* the phone goes quiet: the recording ends on silence */
	ev = wait_ev(f->e, id, ENDPOINT_EV_RECORD_DONE, 3000);
	assert_non_null(ev);
	assert_int_equal(ev->end, ENDPOINT_END_SILENCE);
	assert_in_range(ev->duration_ms, 980, 1020);
	assert_int_equal(wav_open(&r, path), 0);
	while ((n = wav_read(&r, wav + nw, 320)) > 0 && nw < 8000 * 3 - 320)
		nw += n;
	wav_close(&r);
	assert_in_range(nw, 7840, 8160);
	assert_true(goertzel(wav, nw, 1500) > 0.9);
	assert_true(goertzel(wav, nw, 1000) < 0.01);
	free(wav);
	endpoint_destroy(f->e, id);
}

static void test_rfc4733_digits_and_barge_in(void **state)
{
	struct fx *f = *state;
	struct sender x;
	const struct endpoint_event *ev;
	uint32_t id = mk(f, false, 101, &x);
	unsigned i;

	send_digit(&x, 5);
	ev = wait_ev(f->e, id, ENDPOINT_EV_DIGIT, 1000);
	assert_non_null(ev);
	assert_int_equal(ev->digit, '5');
	assert_false(ev->inband);
	pump(f->e, 200);
	assert_int_equal(count_ev(id, ENDPOINT_EV_DIGIT), 1);

	/* a long beep with barge-in: '#' stops it */
	assert_int_equal(endpoint_play_tone(f->e, id, 800, 5000, 8000, true),
			 0);
	pump(f->e, 100);
	send_digit(&x, 11);
	ev = wait_ev(f->e, id, ENDPOINT_EV_PLAY_DONE, 1000);
	assert_non_null(ev);
	assert_int_equal(ev->end, ENDPOINT_END_BARGE);
	assert_int_equal(count_ev(id, ENDPOINT_EV_DIGIT), 2);
	for (i = 0; i < nev; i++)
		if (evlog[i].type == ENDPOINT_EV_DIGIT && evlog[i].digit == '#')
			assert_true(&evlog[i] < ev);   /* digit first */

	/* a flood: 20 digits at once (a fresh second), 10 get through */
	usleep(1100 * 1000);
	for (i = 0; i < 20; i++) {
		send_digit(&x, (uint8_t)(i % 10));
		usleep(2000);   /* 240 datagrams at once overflow a socket */
	}
	pump(f->e, 300);
	endpoint_destroy(f->e, id);
	ev = wait_ev(f->e, id, ENDPOINT_EV_DESTROYED, 1000);
	assert_non_null(ev);
	assert_int_equal(count_ev(id, ENDPOINT_EV_DIGIT), 2 + 10);
	assert_int_equal(ev->stats.digits, 12);
	assert_int_equal(ev->stats.digits_dropped, 10);
	assert_int_equal(ev->stats.drop_source, 0);
}

static void test_inband_dtmf(void **state)
{
	struct fx *f = *state;
	struct sender x;
	struct tone lo, hi;
	int16_t pcm[160], b[160];
	const struct endpoint_event *ev;
	uint32_t id = mk(f, false, -1, &x);
	int i, k;

	memset(pcm, 0, sizeof(pcm));
	for (i = 0; i < 5; i++)
		send_pcm(&x, 0, pcm);
	/* '7': 852 Hz + 1209 Hz for 120 ms */
	tone_init(&lo, 852, 8000, 6000);
	tone_init(&hi, 1209, 8000, 6000);
	for (i = 0; i < 6; i++) {
		tone_fill(&lo, pcm, 160);
		tone_fill(&hi, b, 160);
		for (k = 0; k < 160; k++)
			pcm[k] = (int16_t)(pcm[k] + b[k]);
		send_pcm(&x, 0, pcm);
		usleep(5000);
	}
	memset(pcm, 0, sizeof(pcm));
	for (i = 0; i < 10; i++)
		send_pcm(&x, 0, pcm);
	ev = wait_ev(f->e, id, ENDPOINT_EV_DIGIT, 1000);
	assert_non_null(ev);
	assert_int_equal(ev->digit, '7');
	assert_true(ev->inband);
	pump(f->e, 100);
	assert_int_equal(count_ev(id, ENDPOINT_EV_DIGIT), 1);
	endpoint_destroy(f->e, id);
}

static void test_strict_source_and_latch(void **state)
{
	struct fx *f = *state;
	struct sa bad_addr;
	int bad = phone("127.0.0.2", &bad_addr);
	struct sender x, y;
	int16_t pcm[160];
	const struct endpoint_event *ev;
	uint32_t id = mk(f, false, 101, &x);
	struct endpoint_rec rec = {.max_ms = 400};
	char path[128];
	int i;

	/* an attacker's digits and audio count as drops, nothing else */
	snprintf(path, sizeof(path), "%s/strict.wav", dir);
	rec.path = path;
	assert_int_equal(endpoint_record(f->e, id, &rec), 0);
	y = x;
	y.fd = bad;
	send_digit(&y, 3);
	memset(pcm, 0, sizeof(pcm));
	for (i = 0; i < 5; i++)
		send_pcm(&y, 0, pcm);
	ev = wait_ev(f->e, id, ENDPOINT_EV_STRICT_DROP, 1000);
	assert_non_null(ev);
	assert_int_equal(ev->addr.u.in.sin_addr.s_addr,
			 bad_addr.u.in.sin_addr.s_addr);
	ev = wait_ev(f->e, id, ENDPOINT_EV_RECORD_DONE, 2000);
	assert_non_null(ev);
	assert_int_equal(ev->end, ENDPOINT_END_MAXLEN);
	endpoint_destroy(f->e, id);
	ev = wait_ev(f->e, id, ENDPOINT_EV_DESTROYED, 1000);
	assert_non_null(ev);
	assert_int_equal(ev->stats.drop_source, 11);
	assert_int_equal(ev->stats.in_pkts, 0);
	assert_int_equal(count_ev(id, ENDPOINT_EV_DIGIT), 0);

	/* a nat leg without an address latches onto the first source */
	id = mk(f, true, 101, &x);
	send_pcm(&x, 0, pcm);
	ev = wait_ev(f->e, id, ENDPOINT_EV_LATCHED, 1000);
	assert_non_null(ev);
	assert_int_equal(ev->addr.u.in.sin_port, f->ph_addr.u.in.sin_port);
	/* ...and sends to it; another source is refused now */
	{
		struct pollfd p = {.fd = f->ph, .events = POLLIN};

		assert_int_equal(poll(&p, 1, 500), 1);
	}
	y = x;
	y.fd = bad;
	send_pcm(&y, 0, pcm);
	assert_non_null(wait_ev(f->e, id, ENDPOINT_EV_STRICT_DROP, 1000));
	endpoint_destroy(f->e, id);
	close(bad);
}

static void test_errors_never_crash(void **state)
{
	struct fx *f = *state;
	struct endpoint_rec rec = {.max_ms = 1000};
	const struct endpoint_event *ev;
	char path[128];
	uint32_t id = mk(f, false, 101, NULL);
	struct stat st;

	/* a missing prompt is an error event */
	assert_int_equal(endpoint_play_prompt(f->e, id, "vm-nothing", true),
			 0);
	ev = wait_ev(f->e, id, ENDPOINT_EV_PLAY_DONE, 1000);
	assert_non_null(ev);
	assert_int_equal(ev->end, ENDPOINT_END_ERROR);
	assert_int_equal(ev->err, ENOENT);
	assert_int_equal(endpoint_play_prompt(f->e, id, "../x", true), EINVAL);
	/* a recording into a directory that does not exist */
	snprintf(path, sizeof(path), "%s/none/m.wav", dir);
	rec.path = path;
	assert_int_equal(endpoint_record(f->e, id, &rec), 0);
	ev = wait_ev(f->e, id, ENDPOINT_EV_RECORD_DONE, 1000);
	assert_non_null(ev);
	assert_int_equal(ev->end, ENDPOINT_END_ERROR);
	/* discarded: no file, no temporary */
	snprintf(path, sizeof(path), "%s/d.wav", dir);
	assert_int_equal(endpoint_record(f->e, id, &rec), 0);
	assert_int_equal(endpoint_record_stop(f->e, id, false), 0);
	ev = wait_ev(f->e, id, ENDPOINT_EV_RECORD_DONE, 1000);
	assert_non_null(ev);
	assert_int_equal(ev->end, ENDPOINT_END_DISCARDED);
	assert_int_equal(stat(path, &st), -1);
	/* destroyed while recording: the recording is kept */
	snprintf(path, sizeof(path), "%s/h.wav", dir);
	rec.max_ms = 60000;
	assert_int_equal(endpoint_record(f->e, id, &rec), 0);
	pump(f->e, 100);
	assert_int_equal(endpoint_destroy(f->e, id), 0);
	ev = wait_ev(f->e, id, ENDPOINT_EV_DESTROYED, 1000);
	assert_non_null(ev);
	/* completed on the finisher thread: may come after DESTROYED */
	ev = wait_ev(f->e, id, ENDPOINT_EV_RECORD_DONE, 2000);
	assert_non_null(ev);
	assert_int_equal(ev->end, ENDPOINT_END_HANGUP);
	assert_int_equal(count_ev(id, ENDPOINT_EV_RECORD_DONE), 3);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(endpoint_destroy(f->e, id), ENOENT);
	assert_int_equal(endpoint_play_stop(f->e, id), ENOENT);
}

static void test_pool_bound(void **state)
{
	struct fx *f = *state;
	uint32_t ids[8], id;
	uint16_t port;
	struct endpoint_media md;
	unsigned i;

	memset(&md, 0, sizeof(md));
	md.law = G711_ALAW;
	md.te_pt = -1;
	for (i = 0; i < 8; i++)
		assert_int_equal(endpoint_create(f->e, i, &md, &ids[i], &port),
				 0);
	assert_int_equal(endpoint_count(f->e), 8);
	assert_int_equal(endpoint_create(f->e, 9, &md, &id, &port), ENOSPC);
	md.te_pt = 200;
	assert_int_equal(endpoint_destroy(f->e, ids[0]), 0);
	assert_int_equal(endpoint_create(f->e, 9, &md, &id, &port), EINVAL);
	md.te_pt = 101;
	assert_int_equal(endpoint_create(f->e, 9, &md, &id, &port), 0);
	assert_true(id != ids[0]);
}

/* A pool the caller plugs in (the relay's, in the daemon): the endpoint
 * takes and gives its pairs through it, and only through it. */
struct fake_pool {
	unsigned takes, gives, live;
};

static int fake_take(void *arg, int fds[2], uint16_t *port, unsigned *h)
{
	struct fake_pool *p = arg;
	struct sa a;

	if (p->live >= 2)
		return ENOSPC;
	fds[0] = phone("127.0.0.1", &a);
	*port = ntohs(a.u.in.sin_port);
	fds[1] = phone("127.0.0.1", &a);
	*h = p->takes++;
	p->live++;
	return 0;
}

static void fake_give(void *arg, unsigned h)
{
	struct fake_pool *p = arg;

	p->gives++;
	p->live--;
}

static void test_plugged_pool(void **state)
{
	struct fake_pool pool = {0};
	struct endpoint_conf c;
	struct endpoint_media md;
	struct endpoints *e;
	uint32_t id[3];
	uint16_t port;

	endpoint_conf_default(&c);
	c.src.take = fake_take;
	c.src.arg = &pool;
	assert_int_equal(endpoint_alloc(&e, &c), EINVAL);   /* no give */
	c.src.give = fake_give;
	c.port_min = 1;   /* not used with a plugged pool */
	assert_int_equal(endpoint_alloc(&e, &c), 0);
	memset(&md, 0, sizeof(md));
	md.te_pt = -1;
	assert_int_equal(endpoint_create(e, 1, &md, &id[0], &port), 0);
	assert_int_equal(endpoint_create(e, 2, &md, &id[1], &port), 0);
	assert_int_equal(endpoint_create(e, 3, &md, &id[2], &port), ENOSPC);
	assert_int_equal(endpoint_destroy(e, id[0]), 0);
	assert_int_equal(pool.gives, 1);
	endpoint_free(e);   /* gives back what is live */
	assert_int_equal(pool.takes, 2);
	assert_int_equal(pool.gives, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_play_tone_wav_paced,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_tone_until_silence,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rfc4733_digits_and_barge_in, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inband_dtmf, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_strict_source_and_latch,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_never_crash,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_bound, setup,
						teardown),
		cmocka_unit_test(test_plugged_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
