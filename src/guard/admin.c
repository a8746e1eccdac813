/*
 * admin — the guard's "admin" scope: failed logins on the admin API's TCP
 * and HTTPS listeners, counted per source address (IPv6 per /64) in a
 * table of their own.
 *
 * The scopes are kept apart on purpose: an address blocked here is only
 * refused by the admin API (429 until the block ends), never banned from
 * SIP or in the kernel; a SIP ban or SIP failures never block the admin
 * API. A TCP peer completed a handshake, so its address is real (unlike a
 * UDP source): counting it is safe.
 *
 * Threads: unlike the SIP scope this table is used from libmicrohttpd's
 * threads under its own mutex, not on the loop thread. The admin API must
 * stay usable when the SIP loop is busy or wedged — that is what an admin
 * interface is for — and a round trip to the loop for every accepted
 * connection would tie the two together. Only the security events go
 * through the loop (guard_admin_report), because the guard's event
 * mechanism (buckets, worker queue) lives there.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <re_types.h>
#include <re_sa.h>

#include "guard/guard_int.h"

#define ADMIN_TRACKED       4096u      /* sources remembered */
#define ADMIN_V6_PREFIX       64u      /* an attacker owns a /64 */
#define ADMIN_FAIL_RING       GUARD_ADMIN_FAIL_MAX
#define ADMIN_FAIL_WINDOW_MS  (600u * 1000u)      /* 10 min */
#define ADMIN_BLOCK_MS        (900u * 1000u)      /* first block: 15 min */
#define ADMIN_BLOCK_MAX_MS    (86400ull * 1000u)  /* doubling, up to 24 h */
#define ADMIN_FORGET_MS       (86400ull * 1000u)  /* offences forgotten */
#define ADMIN_CREDIT_MS       (86400ull * 1000u)  /* success credits 24 h */

struct asrc {
	uint64_t fail[ADMIN_FAIL_RING];   /* failure times, ms */
	uint8_t nfail, head;
	uint32_t offences;                /* blocks so far */
	uint64_t last_block;              /* ms, 0 = never */
	uint64_t blocked_until;           /* ms */
	uint64_t last_ok;                 /* ms, 0 = never */
	uint64_t failures, refused;       /* totals, for status */
};

struct guard_admin {
	pthread_mutex_t lock;
	struct gtab tab;
	guard_clock_h *clock;
	void *clock_arg;
	struct {
		uint64_t failures, blocks, refused, ok;
	} st;
};

static uint64_t mono_ms(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int guard_admin_alloc(struct guard_admin **ap, guard_admin_clock_h *clock,
		      void *arg)
{
	struct guard_admin *a;
	uint64_t seed = 0;
	int err;

	if (!ap)
		return EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return ENOMEM;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = mono_ms(NULL) ^ (uint64_t)(uintptr_t)a;
	err = gtab_init(&a->tab, ADMIN_TRACKED, sizeof(struct asrc), seed);
	if (err) {
		free(a);
		return err;
	}
	pthread_mutex_init(&a->lock, NULL);
	a->clock = clock ? clock : mono_ms;
	a->clock_arg = arg;
	*ap = a;
	return 0;
}

void guard_admin_free(struct guard_admin *a)
{
	if (!a)
		return;
	gtab_free(&a->tab);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

static int key_of(const struct sockaddr *sa, struct gkey *k, struct gaddr *ga)
{
	struct sa s;

	if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return EAFNOSUPPORT;
	sa_set_sa(&s, sa);
	if (gaddr_from_sa(ga, &s, ADMIN_V6_PREFIX))
		return EINVAL;
	memset(k, 0, sizeof(*k));
	memcpy(k->k, ga->a, 16);
	k->k[16] = ga->plen;
	k->k[17] = ga->v4;
	return 0;
}

/* Failures of s within the window ending at now. */
static unsigned recent(const struct asrc *s, uint64_t now)
{
	unsigned n = 0;

	for (unsigned i = 0; i < s->nfail; i++)
		if (now - s->fail[i] < ADMIN_FAIL_WINDOW_MS)
			n++;
	return n;
}

bool guard_admin_blocked(struct guard_admin *a, const struct sockaddr *sa,
			 unsigned *retry_s)
{
	struct gkey k;
	struct gaddr ga;
	struct asrc *s;
	bool blocked = false;
	uint64_t now;

	if (retry_s)
		*retry_s = 0;
	if (!a || key_of(sa, &k, &ga))
		return false;
	pthread_mutex_lock(&a->lock);
	now = a->clock(a->clock_arg);
	s = gtab_get(&a->tab, &k);
	if (s && s->blocked_until > now) {
		blocked = true;
		s->refused++;
		a->st.refused++;
		if (retry_s)
			*retry_s = (unsigned)((s->blocked_until - now + 999) /
					      1000);
	}
	pthread_mutex_unlock(&a->lock);
	return blocked;
}

bool guard_admin_credited(struct guard_admin *a, const struct sockaddr *sa)
{
	struct gkey k;
	struct gaddr ga;
	struct asrc *s;
	bool ok = false;
	uint64_t now;

	if (!a || key_of(sa, &k, &ga))
		return false;
	pthread_mutex_lock(&a->lock);
	now = a->clock(a->clock_arg);
	s = gtab_get(&a->tab, &k);
	ok = s && s->last_ok && now - s->last_ok < ADMIN_CREDIT_MS &&
	     s->blocked_until <= now;
	pthread_mutex_unlock(&a->lock);
	return ok;
}

void guard_admin_ok(struct guard_admin *a, const struct sockaddr *sa)
{
	struct gkey k;
	struct gaddr ga;
	struct asrc *s;

	if (!a || key_of(sa, &k, &ga))
		return;
	pthread_mutex_lock(&a->lock);
	s = gtab_put(&a->tab, &k, NULL);
	s->last_ok = a->clock(a->clock_arg);
	/* The right password ends a run of typos: only consecutive
	 * failures move an address toward a block. */
	s->nfail = 0;
	s->head = 0;
	a->st.ok++;
	pthread_mutex_unlock(&a->lock);
}

int guard_admin_failed(struct guard_admin *a, const struct sockaddr *sa,
		       struct guard_admin_fail *out)
{
	struct gkey k;
	struct gaddr ga;
	struct asrc *s;
	uint64_t now, dur;
	int err;

	memset(out, 0, sizeof(*out));
	if (!a)
		return EINVAL;
	err = key_of(sa, &k, &ga);
	if (err)
		return err;
	gaddr_str(&ga, out->source, sizeof(out->source));
	pthread_mutex_lock(&a->lock);
	now = a->clock(a->clock_arg);
	s = gtab_put(&a->tab, &k, NULL);
	s->fail[s->head] = now;
	s->head = (uint8_t)((s->head + 1) % ADMIN_FAIL_RING);
	if (s->nfail < ADMIN_FAIL_RING)
		s->nfail++;
	s->failures++;
	a->st.failures++;
	out->failures = recent(s, now);
	out->threshold = ADMIN_FAIL_RING;
	if (out->failures >= ADMIN_FAIL_RING && s->blocked_until <= now) {
		if (s->last_block && now - s->last_block > ADMIN_FORGET_MS)
			s->offences = 0;
		dur = (uint64_t)ADMIN_BLOCK_MS << (s->offences < 8 ?
						   s->offences : 8);
		if (dur > ADMIN_BLOCK_MAX_MS)
			dur = ADMIN_BLOCK_MAX_MS;
		s->offences++;
		s->last_block = now;
		s->blocked_until = now + dur;
		s->nfail = 0;
		s->head = 0;
		a->st.blocks++;
		out->blocked_s = (unsigned)(dur / 1000);
		out->offences = s->offences;
	}
	pthread_mutex_unlock(&a->lock);
	return 0;
}

int guard_admin_unblock(struct guard_admin *a, const char *src)
{
	struct gkey k;
	struct gaddr ga;
	struct asrc *s;
	int err = ENOENT;

	if (!a || !src || gaddr_parse(&ga, src, ADMIN_V6_PREFIX))
		return EINVAL;
	if (ga.plen != (ga.v4 ? 128 : ADMIN_V6_PREFIX)) {
		/* "2001:db8::1" parses as a /64 already; anything else names
		 * a network, which is never what a block is kept for */
		if (ga.v4 || ga.plen < ADMIN_V6_PREFIX)
			return EINVAL;
		ga.plen = ADMIN_V6_PREFIX;
		for (unsigned i = ADMIN_V6_PREFIX / 8; i < 16; i++)
			ga.a[i] = 0;
	}
	memset(&k, 0, sizeof(k));
	memcpy(k.k, ga.a, 16);
	k.k[16] = ga.plen;
	k.k[17] = ga.v4;
	pthread_mutex_lock(&a->lock);
	s = gtab_get(&a->tab, &k);
	if (s && s->blocked_until > a->clock(a->clock_arg)) {
		s->blocked_until = 0;
		s->nfail = 0;
		s->head = 0;
		err = 0;
	}
	pthread_mutex_unlock(&a->lock);
	return err;
}

json_t *guard_admin_status(struct guard_admin *a)
{
	json_t *blocked = json_array();
	size_t it = 0;
	struct asrc *s;
	uint64_t now;
	json_t *out;

	if (!a || !blocked) {
		json_decref(blocked);
		return NULL;
	}
	pthread_mutex_lock(&a->lock);
	now = a->clock(a->clock_arg);
	while ((s = gtab_iter(&a->tab, &it)) != NULL) {
		const struct gkey *k;
		struct gaddr ga;
		char buf[64];

		if (s->blocked_until <= now)
			continue;
		k = gtab_key(&a->tab, s);
		memset(&ga, 0, sizeof(ga));
		memcpy(ga.a, k->k, 16);
		ga.plen = k->k[16];
		ga.v4 = k->k[17];
		gaddr_str(&ga, buf, sizeof(buf));
		json_array_append_new(blocked, json_pack(
			"{s:s,s:I,s:I,s:i,s:I}", "source", buf,
			"time_left_s",
			(json_int_t)((s->blocked_until - now + 999) / 1000),
			"failures", (json_int_t)s->failures,
			"offences", (int)s->offences,
			"refused", (json_int_t)s->refused));
	}
	out = json_pack("{s:o,s:{s:I,s:I,s:I,s:I},s:{s:i,s:i,s:i,s:i}}",
		"blocked", blocked,
		"counters",
		"failures", (json_int_t)a->st.failures,
		"blocks", (json_int_t)a->st.blocks,
		"refused", (json_int_t)a->st.refused,
		"logins", (json_int_t)a->st.ok,
		"settings",
		"fail_threshold", (int)ADMIN_FAIL_RING,
		"fail_window", (int)(ADMIN_FAIL_WINDOW_MS / 1000),
		"block_base", (int)(ADMIN_BLOCK_MS / 1000),
		"block_max", (int)(ADMIN_BLOCK_MAX_MS / 1000));
	pthread_mutex_unlock(&a->lock);
	return out;
}

void guard_admin_report(struct guard *g, const struct guard_admin_fail *f,
			const char *listener)
{
	if (!g || !f || !f->source[0])
		return;
	/* Rate-limited like every other event: each failure costs the
	 * client a TCP handshake and a one-second delay, and blocks bound
	 * how many one address can make. */
	guard_event(g, "admin_auth_failure", json_pack("{s:s,s:s,s:i,s:i}",
		"source", f->source, "listener", listener ? listener : "tcp",
		"failures", (int)f->failures, "threshold", (int)f->threshold));
	if (f->blocked_s)
		guard_event(g, "admin_block", json_pack(
			"{s:s,s:s,s:i,s:i,s:s}", "source", f->source,
			"listener", listener ? listener : "tcp",
			"seconds", (int)f->blocked_s,
			"offences", (int)f->offences, "scope", "admin"));
}
