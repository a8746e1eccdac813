/*
 * callrec — the recording of calls (callrec.h): a bounded ring per call
 * filled by the relay's media thread, drained by one writer thread that
 * owns every file. The relay never waits: a full ring drops and counts.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "media/callrec_int.h"
#include "media/g711.h"
#include "media/rtppkt.h"

uint64_t callrec_now_ms(void)
{
	struct timespec ts;

	/* the relay's clock (relay_now_ms): the tap's times come from it */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- relay side -------------------------------------------------------- */

void callrec_tap_put(struct callrec_tap *t, unsigned side,
		     const uint8_t *pkt, size_t len, uint64_t now_ms)
{
	struct rtppkt p;
	struct crslot *s;
	unsigned h, tl;

	if (rtppkt_parse(&p, pkt, len))
		return;
	if (p.pt != 0 && p.pt != 8 && (int)p.pt != t->te_pt) {
		atomic_fetch_add_explicit(&t->other_pt, 1,
					  memory_order_relaxed);
		return;
	}
	if (!p.plen)
		return;
	h = atomic_load_explicit(&t->head, memory_order_relaxed);
	tl = atomic_load_explicit(&t->tail, memory_order_acquire);
	if (h - tl >= CALLREC_SLOTS || p.plen > CALLREC_MAX_PAYLOAD) {
		atomic_fetch_add_explicit(&t->dropped, 1,
					  memory_order_relaxed);
		return;
	}
	s = &t->slots[h % CALLREC_SLOTS];
	s->side = (uint8_t)(side & 1);
	s->pt = p.pt;
	s->len = (uint16_t)p.plen;
	s->ts = p.ts;
	s->ssrc = p.ssrc;
	s->at_ms = now_ms > t->t0_ms ? (uint32_t)(now_ms - t->t0_ms) : 0;
	memcpy(s->data, p.payload, p.plen);
	atomic_store_explicit(&t->head, h + 1, memory_order_release);
}

static void tap_unref(struct callrec_tap *t)
{
	struct callrec *r = t->r;

	if (atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	/* the last one: the writer completes it on its next round */
	pthread_mutex_lock(&r->mtx);
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mtx);
}

void callrec_tap_release(struct callrec_tap *t)
{
	if (t)
		tap_unref(t);
}

void callrec_stop(struct callrec_tap *t)
{
	if (t)
		tap_unref(t);
}

/* ---- owner side -------------------------------------------------------- */

static bool id_ok(const char *id)
{
	size_t n = strlen(id);

	if (!n || n >= sizeof(((struct callrec_tap *)0)->id))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = id[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return false;
	}
	return true;
}

int callrec_start(struct callrec *r, const char *id, unsigned max_live,
		  const struct callrec_opts *opts, struct callrec_tap **tapp,
		  char *rel, size_t relsz)
{
	struct callrec_tap *t;
	struct tm tm;
	time_t now = time(NULL);
	unsigned live;

	if (!r || !id || !id_ok(id))
		return EINVAL;
	live = atomic_load(&r->live);
	if (!max_live || max_live > CALLREC_MAX_LIVE)
		max_live = r->max_live;
	if (live >= max_live || live >= CALLREC_MAX_LIVE) {
		atomic_fetch_add(&r->refused, 1);
		return EBUSY;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return ENOMEM;
	t->r = r;
	t->fd = -1;
	atomic_init(&t->refs, 2);
	t->t0_ms = callrec_now_ms();
	t->te_pt = -1;
	if (opts) {
		t->paused = opts->paused;
		t->toggle_sides = opts->toggle_sides & 3;
		if (opts->te_pt >= 96 && opts->te_pt <= 127 &&
		    t->toggle_sides)
			t->te_pt = opts->te_pt;
	}
	snprintf(t->id, sizeof(t->id), "%s", id);
	gmtime_r(&now, &tm);
	strftime(t->day, sizeof(t->day), "%Y-%m-%d", &tm);
	snprintf(t->path, sizeof(t->path), "%s/%s/%s.wav", r->dir, t->day, id);
	snprintf(t->tmp, sizeof(t->tmp), "%s.tmp", t->path);
	if (rel)
		snprintf(rel, relsz, "%s/%s.wav", t->day, id);
	atomic_fetch_add(&r->live, 1);
	atomic_fetch_add(&r->started, 1);
	pthread_mutex_lock(&r->mtx);
	t->next = r->list;
	r->list = t;
	pthread_mutex_unlock(&r->mtx);
	*tapp = t;
	return 0;
}

void callrec_stats(struct callrec *r, struct callrec_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!r)
		return;
	st->live = atomic_load(&r->live);
	st->started = atomic_load(&r->started);
	st->refused = atomic_load(&r->refused);
	st->completed = atomic_load(&r->completed);
	st->failed = atomic_load(&r->failed);
	st->dropped = atomic_load(&r->dropped);
}

/* ---- the writer -------------------------------------------------------- */

/* A digit from side: the feature code toggles the recording (the
 * digits themselves are never logged). */
static void on_digit(struct callrec_tap *t, unsigned side, char d)
{
	static const char code[] = CALLREC_TOGGLE_CODE;

	if (t->last[side] == code[0] && d == code[1]) {
		t->paused = !t->paused;
		t->toggles++;
		d = 0;
		log_info(MOD, "call %s: recording %s by the %s (feature code)",
			 t->id, t->paused ? "paused" : "started",
			 side ? "callee" : "caller");
	}
	t->last[side] = d;
}

static void event(struct callrec_tap *t, const struct crslot *s)
{
	struct dtmfev e;
	char d, second = 0;

	if (!(t->toggle_sides & (1u << s->side)) ||
	    dtmfev_parse(&e, s->data, s->len))
		return;
	d = dtmfev_rx_input(&t->dtmf[s->side], s->ts, &e, &second);
	if (d)
		on_digit(t, s->side, d);
	if (second)
		on_digit(t, s->side, second);
}

static void drain(struct callrec_tap *t)
{
	unsigned h = atomic_load_explicit(&t->head, memory_order_acquire);
	unsigned tl = atomic_load_explicit(&t->tail, memory_order_relaxed);
	int16_t pcm[CALLREC_MAX_PAYLOAD];

	for (; tl != h; tl++) {
		const struct crslot *s = &t->slots[tl % CALLREC_SLOTS];

		if ((int)s->pt == t->te_pt)
			event(t, s);
		else if (!t->failed && t->mix.buf && !t->paused) {
			g711x_decode(s->pt == 0 ? G711_ULAW : G711_ALAW, pcm,
				     s->data, s->len);
			crmix_put(&t->mix, s->side, s->ssrc, s->ts, s->at_ms,
				  pcm, s->len);
		}
		atomic_store_explicit(&t->tail, tl + 1, memory_order_release);
	}
}

void crrec_round(struct callrec *r, bool final)
{
	struct callrec_tap **pp, *t;
	unsigned n = 0;

	pthread_mutex_lock(&r->mtx);
	for (t = r->list; t && n < CALLREC_MAX_LIVE; t = t->next)
		r->work[n++] = t;
	pthread_mutex_unlock(&r->mtx);
	for (unsigned i = 0; i < n; i++) {
		t = r->work[i];
		if (!t->tried)
			crfile_open(r, t);
		drain(t);
		if (!t->failed && t->mix.buf && t->mix.hi >=
		    t->mix.base + HOLD_FRAMES + BATCH_FRAMES) {
			int err = crmix_flush(&t->mix, HOLD_FRAMES);

			if (err)
				crfile_fail(t, "write", err);
		}
	}
	pthread_mutex_lock(&r->mtx);
	for (pp = &r->list; (t = *pp);) {
		bool done = final || atomic_load(&t->refs) == 0;
		unsigned i;

		for (i = 0; i < n && r->work[i] != t; i++)
			;
		if (i == n || !done) {    /* new since the copy, or alive */
			pp = &t->next;
			continue;
		}
		*pp = t->next;
		pthread_mutex_unlock(&r->mtx);
		drain(t);
		crfile_complete(r, t);
		pthread_mutex_lock(&r->mtx);
	}
	pthread_mutex_unlock(&r->mtx);
}

static void *writer(void *arg)
{
	struct callrec *r = arg;
	bool stop = false;

	while (!stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)r->flush_ms * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&r->mtx);
		if (!r->stop)
			(void)pthread_cond_timedwait(&r->cv, &r->mtx, &ts);
		stop = r->stop;
		pthread_mutex_unlock(&r->mtx);
		crrec_round(r, stop);
	}
	return NULL;
}

int crrec_init(struct callrec **rp, const struct callrec_conf *conf)
{
	struct callrec *r;

	if (!conf || !conf->dir || !*conf->dir ||
	    strlen(conf->dir) >= sizeof(r->dir))
		return EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return ENOMEM;
	snprintf(r->dir, sizeof(r->dir), "%s", conf->dir);
	r->max_live = conf->max_live ? conf->max_live : 32;
	r->flush_ms = conf->flush_ms ? conf->flush_ms : 100;
	if (r->max_live > CALLREC_MAX_LIVE)
		r->max_live = CALLREC_MAX_LIVE;
	r->work = calloc(CALLREC_MAX_LIVE, sizeof(*r->work));
	if (!r->work) {
		free(r);
		return ENOMEM;
	}
	pthread_mutex_init(&r->mtx, NULL);
	pthread_cond_init(&r->cv, NULL);
	*rp = r;
	return 0;
}

void crrec_fini(struct callrec *r)
{
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mtx);
	free(r->work);
	free(r);
}

int callrec_alloc(struct callrec **rp, const struct callrec_conf *conf)
{
	struct callrec *r;
	sigset_t all, old;
	int err;

	err = crrec_init(&r, conf);
	if (err)
		return err;
	/* the writer takes no signal: they are the owner's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&r->tid, NULL, writer, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		crrec_fini(r);
		return err;
	}
	pthread_setname_np(r->tid, "bw-callrec");
	*rp = r;
	return 0;
}

struct callrec *callrec_free(struct callrec *r)
{
	if (!r)
		return NULL;
	pthread_mutex_lock(&r->mtx);
	r->stop = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mtx);
	pthread_join(r->tid, NULL);
	crrec_fini(r);
	return NULL;
}
