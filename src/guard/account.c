/*
 * account — the hooks on the request path: ban check and per-source token
 * bucket before parsing (guard_packet), the scanner filter (guard_request)
 * and failure accounting over sliding windows (guard_auth_result).
 *
 * Only failures and garbage count. A successful authentication never
 * counts, and credits its source (a higher threshold for some hours), so a
 * reconnect storm of real phones bans no one, and an office behind one NAT
 * address is not banned because one phone has a wrong password: for a
 * credited source, repeated failures block that extension from that source
 * instead of the whole address.
 *
 * Only proof moves an address toward a ban. Over UDP anyone can put any
 * source address on a packet, so a failure counts only when its sender
 * shows it receives our packets at that address: it came over an
 * established TCP/TLS connection, or it carries a nonce of ours (bound to
 * the address it was sent to; the registrar checked it). A failure
 * without proof (an Authorization header too broken to reach the nonce
 * check), a scanner user agent on a lone datagram, a plain request from a
 * source on probation: answered or dropped, rate-limited, never counted.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <re_types.h>
#include <re_sa.h>

#include "common/log.h"
#include "guard/guard_int.h"

#define RL_EVENT_MS       10000u    /* aggregate rate-limit events */
#define STALE_EVENT_MS   600000u    /* one stale event per device per 10 min */
#define FAIL_EVENTS_PER_S    100u   /* auth_failure events, global bucket */
#define CREDIT_TOUCH_MS    60000u   /* credit table updated per source */

static inline uint32_t tick(const struct guard *g, uint64_t now)
{
	return (uint32_t)(now - g->epoch);
}

static void key_addr(struct gkey *k, const struct gaddr *a)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->k, a->a, 16);
	k->k[16] = a->plen;
	k->k[17] = a->v4;
}

static void key_pair(struct gkey *k, const struct guard *g,
		     const struct gaddr *a, const char *ext, size_t len)
{
	uint64_t h = gtab_hash(g->ext.seed ^ 0x70a1ULL, ext, len);

	key_addr(k, a);
	memcpy(k->k + 18, &h, 8);
}

static void key_ext(struct gkey *k, const char *ext, size_t len)
{
	memset(k, 0, sizeof(*k));
	if (len > sizeof(k->k) - 1)
		len = sizeof(k->k) - 1;
	memcpy(k->k, ext, len);
	k->k[31] = (uint8_t)len;
}

static void ring_push(uint32_t *ring, uint8_t *n, uint8_t *head, uint32_t t)
{
	ring[*head] = t;
	*head = (uint8_t)((*head + 1) % GUARD_RING);
	if (*n < GUARD_RING)
		(*n)++;
}

static unsigned ring_count(const uint32_t *ring, uint8_t n, uint32_t now,
			   uint32_t window_ms)
{
	unsigned c = 0;

	for (unsigned i = 0; i < n; i++)
		if ((uint32_t)(now - ring[i]) < window_ms)
			c++;
	return c;
}

static bool credited(const struct guard *g, const struct gsrc *s,
		     uint64_t now)
{
	return s->last_ok &&
	       now - s->last_ok < (uint64_t)g->cfg.credit_hours * 3600000u;
}

/* A nonce of ours proves that the sender receives our packets at the
 * address it was bound to — for a while: whoever held the address when it
 * was issued (a DHCP lease, a carrier NAT port) may not hold it now, so an
 * older one is no evidence against today's holder. */
#define PROOF_NONCE_MS (3600u * 1000u)

static bool proven(const struct guard_proof *pf, uint64_t now)
{
	return pf && (pf->conn ||
		      (pf->nonce && pf->nonce_ts * 1000u + PROOF_NONCE_MS >= now));
}

static void str_trunc(char *dst, size_t sz, const char *src, size_t len)
{
	if (!src)
		len = 0;
	if (len >= sz)
		len = sz - 1;
	if (len)
		memcpy(dst, src, len);
	dst[len] = 0;
	for (size_t i = 0; i < len; i++)   /* keep logs and JSON tidy */
		if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
			dst[i] = '?';
}

static struct gsrc *src_get(struct guard *g, const struct gaddr *a,
			    uint64_t now)
{
	struct gkey k;
	bool created;
	struct gsrc *s;

	key_addr(&k, a);
	s = gtab_put(&g->src, &k, &created);
	if (created) {
		/* evicted by a flood, or never seen: the credit table says
		 * whether it authenticated (forged sources never enter it) */
		const struct gcred *c = g->credit.n ?
			gtab_get(&g->credit, &k) : NULL;

		s->last_ok = c ? c->last_ok : 0;
		s->tokens = (credited(g, s, now) ? g->cfg.burst_auth :
			     g->cfg.burst) * 1000u;
		s->tok_ms = now;
	} else if (s->nfail && now - s->last_fail > 7ull * 86400000u) {
		s->nfail = 0;   /* ring ticks are 32-bit: forget old ones */
	}
	return s;
}

static void rl_note(struct guard *g, const struct gaddr *a, uint64_t now)
{
	size_t i, min = 0;

	g->rl_total++;
	for (i = 0; i < GUARD_RL_SLOTS; i++) {
		if (g->rl_top[i].n && !memcmp(&g->rl_top[i].a, a, sizeof(*a))) {
			g->rl_top[i].n++;
			return;
		}
		if (g->rl_top[i].n < g->rl_top[min].n)
			min = i;
	}
	/* Space-saving heavy hitters: replace the smallest slot. */
	g->rl_top[min].a = *a;
	g->rl_top[min].n++;
}

void guard_rl_flush(struct guard *g, uint64_t now, bool force)
{
	json_t *top;

	if (!g->rl_total || (!force && now - g->rl_since < RL_EVENT_MS))
		return;
	top = json_array();
	for (size_t i = 0; i < GUARD_RL_SLOTS; i++) {
		char buf[64];
		if (!g->rl_top[i].n)
			continue;
		gaddr_str(&g->rl_top[i].a, buf, sizeof(buf));
		json_array_append_new(top, json_pack("{s:s,s:I}", "source", buf,
			"dropped", (json_int_t)g->rl_top[i].n));
	}
	guard_event_always(g, "rate_limited", json_pack("{s:I,s:I,s:o}",
		"dropped", (json_int_t)g->rl_total,
		"seconds", (json_int_t)((now - g->rl_since) / 1000),
		"sources", top));
	g->rl_total = 0;
	g->rl_since = now;
	memset(g->rl_top, 0, sizeof(g->rl_top));
}

enum guard_verdict guard_packet(struct guard *g, const struct sa *src)
{
	struct gaddr a;
	struct gsrc *s;
	uint64_t now, el, cap;
	unsigned rate, burst;

	if (!g || gaddr_from_sa(&a, src, g->cfg.ipv6_prefix))
		return GUARD_PASS;
	now = guard_now(g);
	g->st.packets++;
	if (guard_ban_find(g, &a, now)) {
		g->st.dropped_banned++;
		return GUARD_DROP;
	}
	s = src_get(g, &a, now);
	if (credited(g, s, now)) {
		rate = g->cfg.rate_auth;
		burst = g->cfg.burst_auth;
	} else {
		rate = g->cfg.rate;
		burst = g->cfg.burst;
	}
	cap = (uint64_t)burst * 1000u;
	el = now > s->tok_ms ? now - s->tok_ms : 0;
	if (el) {
		uint64_t t = s->tokens + (el > 1000000 ? cap : el * rate);
		s->tokens = (uint32_t)(t > cap ? cap : t);
		s->tok_ms = now;
	}
	if (s->tokens >= 1000) {
		s->tokens -= 1000;
		return GUARD_PASS;
	}
	if (guard_trusted(g, &a, now))
		return GUARD_PASS;
	g->st.dropped_rate++;
	if (!g->rl_total)
		g->rl_since = now;
	rl_note(g, &a, now);
	guard_rl_flush(g, now, false);
	return GUARD_DROP;
}

bool guard_scanner_match(const struct guard_cfg *c, const char *ua,
			 size_t len)
{
	char low[256];

	if (!ua || !len || !c->n_scanner)
		return false;
	/* Scanners put their name near the start; a User-Agent longer than
	 * the buffer is matched on its first 256 bytes. Patterns are stored
	 * lower-case. */
	if (len > sizeof(low))
		len = sizeof(low);
	for (size_t i = 0; i < len; i++)
		low[i] = (char)((ua[i] >= 'A' && ua[i] <= 'Z') ? ua[i] + 32 :
				ua[i]);
	for (size_t i = 0; i < c->n_scanner; i++) {
		const char *p = c->scanner[i];
		size_t pl = strlen(p);
		if (pl && memmem(low, len, p, pl))
			return true;
	}
	return false;
}

/* Probation: a source that never authenticated and failed within the
 * window has every further request counted like a failure, so that an
 * attacker who interleaves unauthenticated requests (each answered with a
 * challenge) still gets at most fail_threshold answers. A source that
 * authenticated successfully is never on probation. Only requests over a
 * connection are counted here: a plain datagram proves nothing about its
 * source (one forged failure and four forged OPTIONS banned an address).
 * Over UDP the challenges an attacker answers are counted instead, when
 * it uses their nonce (guard_auth_result). */
static enum guard_verdict probation(struct guard *g, const struct sa *src,
				    unsigned flags, uint64_t now)
{
	struct gaddr a, full;
	struct gkey k;
	struct gsrc *s;
	uint32_t t = tick(g, now), win = g->cfg.fail_window * 1000u;

	if (gaddr_from_sa(&a, src, g->cfg.ipv6_prefix))
		return GUARD_PASS;
	key_addr(&k, &a);
	s = gtab_get(&g->src, &k);
	if (!s)
		return GUARD_PASS;
	s->counted = false;
	s->scan_req = false;
	if (!(flags & GUARD_REQ_CONN))
		return GUARD_PASS;
	if (s->last_ok || !s->nfail || now - s->last_fail >= win ||
	    !ring_count(s->fail, s->nfail, t, win))
		return GUARD_PASS;
	if (gaddr_from_sa(&full, src, 128) || guard_trusted(g, &full, now))
		return GUARD_PASS;
	ring_push(s->fail, &s->nfail, &s->head, t);
	s->counted = true;
	if (ring_count(s->fail, s->nfail, t, win) >= g->cfg.fail_threshold) {
		guard_ban_impose(g, &a, "auth_failures", s, 0, false, now);
		return GUARD_DROP;
	}
	return GUARD_PASS;
}

#define SCAN_EVENT_MS 60000u   /* one unproven scanner event per source */

/* A scanner user agent with proof (over a connection, or answering our
 * challenge with its nonce): banned at once, unless the address is
 * trusted or credited (an office NAT is not banned for one machine behind
 * it). Without proof: an event at most once a minute per source, no ban.
 * Returns true if it banned. */
static bool scanner_seen(struct guard *g, const struct gaddr *a,
			 const struct gaddr *full, bool proof,
			 const char *ua, size_t ua_len, uint64_t now)
{
	struct gsrc *s;
	char uab[128], buf[64];

	if (guard_ban_find(g, a, now) || guard_trusted(g, full, now))
		return false;
	s = src_get(g, a, now);
	if (credited(g, s, now))
		return false;
	if (!proof && s->scan_event && now - s->scan_event < SCAN_EVENT_MS)
		return false;
	str_trunc(uab, sizeof(uab), ua, ua_len);
	gaddr_str(a, buf, sizeof(buf));
	guard_event(g, "scanner", json_pack("{s:s,s:s,s:b}", "source", buf,
		"user_agent", uab, "proven", proof));
	if (!proof) {
		s->scan_event = now;
		return false;
	}
	guard_ban_impose(g, a, "scanner", s, 0, false, now);
	return true;
}

enum guard_verdict guard_request(struct guard *g, const struct sa *src,
				 unsigned flags, const char *ua,
				 size_t ua_len)
{
	struct gaddr a, full;
	uint64_t now;
	bool conn = flags & GUARD_REQ_CONN;

	if (!g)
		return GUARD_PASS;
	now = guard_now(g);
	if (!guard_scanner_match(&g->cfg, ua, ua_len))
		return probation(g, src, flags, now);
	if (gaddr_from_sa(&a, src, g->cfg.ipv6_prefix) ||
	    gaddr_from_sa(&full, src, 128))
		return GUARD_DROP;
	g->st.scanner++;
	/* A lone datagram with a scanner user agent may carry a forged
	 * source: one such OPTIONS must not ban a trunk or a phone that has
	 * not registered yet. A REGISTER from an address that could be
	 * banned goes on to be challenged: a scanner that really receives
	 * our answers comes back with the nonce, and that bans it
	 * (guard_auth_result). Anything else gets no answer at all. */
	if (!conn && (flags & GUARD_REQ_REGISTER) &&
	    !guard_ban_find(g, &a, now) && !guard_trusted(g, &full, now) &&
	    !credited(g, src_get(g, &a, now), now)) {
		enum guard_verdict v;

		(void)scanner_seen(g, &a, &full, false, ua, ua_len, now);
		v = probation(g, src, flags, now);
		/* the verdict of this request (if any) decides: it knows
		 * whether the scanner answered with our nonce */
		src_get(g, &a, now)->scan_req = true;
		return v;
	}
	(void)scanner_seen(g, &a, &full, conn, ua, ua_len, now);
	return GUARD_DROP;
}

static bool fail_event_allowed(struct guard *g, uint64_t now)
{
	static const uint64_t cap = FAIL_EVENTS_PER_S * 1000u;

	if (now > g->ev_tok_ms) {
		uint64_t t = g->ev_tokens + (now - g->ev_tok_ms) *
			FAIL_EVENTS_PER_S;
		g->ev_tokens = t > cap ? cap : t;
		g->ev_tok_ms = now;
	}
	if (g->ev_tokens >= 1000) {
		g->ev_tokens -= 1000;
		return true;
	}
	guard_event_suppressed(g, "auth_failure");
	return false;
}

static const char *const auth_reason[] = {
	[GUARD_AUTH_OK] = "ok",
	[GUARD_AUTH_BAD_PASSWORD] = "bad_password",
	[GUARD_AUTH_UNKNOWN_USER] = "unknown_user",
	[GUARD_AUTH_STALE] = "stale_credentials",
	[GUARD_AUTH_MISMATCH] = "user_mismatch",
	[GUARD_AUTH_MALFORMED] = "malformed",
	[GUARD_AUTH_TRANSPORT] = "transport_refused",
};

static void remember_ext(struct gsrc *s, const char *ext)
{
	if (!*ext)
		return;
	for (unsigned i = 0; i < s->n_ext; i++)
		if (!strcmp(s->ext[i], ext))
			return;
	memcpy(s->ext[s->next_ext], ext, GUARD_EXTLEN);
	s->next_ext = (uint8_t)((s->next_ext + 1) % GUARD_EXTS);
	if (s->n_ext < GUARD_EXTS)
		s->n_ext++;
}

/* Failure on an existing extension: distinct sources within dist_window
 * reaching dist_sources start (or prolong) its tarpit mode. */
static void distributed(struct guard *g, const char *ext, size_t len,
			const struct gaddr *a, uint64_t now)
{
	struct gkey k;
	struct gext *e;
	uint64_t h = gtab_hash(g->src.seed, a, sizeof(*a));
	uint64_t win = (uint64_t)g->cfg.dist_window * 1000u;
	unsigned i, n = 0;
	bool found = false;

	key_ext(&k, ext, len);
	e = gtab_put(&g->ext, &k, NULL);
	for (i = 0; i < e->n; i++) {
		if (e->src[i] == h) {
			e->when[i] = now;
			found = true;
		}
	}
	if (!found) {
		e->src[e->head] = h;
		e->when[e->head] = now;
		e->head = (uint8_t)((e->head + 1) % GUARD_DIST_MAX);
		if (e->n < GUARD_DIST_MAX)
			e->n++;
	}
	for (i = 0; i < e->n; i++)
		if (now - e->when[i] < win)
			n++;
	if (n < g->cfg.dist_sources)
		return;
	if (e->attack_until <= now) {
		char eb[GUARD_EXTLEN];
		str_trunc(eb, sizeof(eb), ext, len);
		g->st.distributed++;
		log_warn("guard", "distributed attack on extension %s: %u "
			 "sources failed within %u s; tarpitting unknown "
			 "sources", eb, n, g->cfg.dist_window);
		guard_event(g, "distributed_attack", json_pack(
			"{s:s,s:i,s:i,s:b,s:s}", "extension", eb,
			"sources", (int)n, "window", (int)g->cfg.dist_window,
			"alert", 1, "message",
			"many sources are guessing this extension's password"));
	}
	e->attack_until = now + (uint64_t)g->cfg.dist_hold * 1000u;
}

/* Credit survives a restart: the worker writes (source, last success) to
 * the database, batched with its other jobs; at most once per source per
 * GUARD_CREDIT_SAVE_MS, so a refresh storm costs a few rows, not one per
 * REGISTER. The worker forgets rows older than credit_hours and keeps at
 * most max_tracked. */
static void save_credit(struct guard *g, struct gcred *c,
			const struct gaddr *a, uint64_t now)
{
	struct gjob *j;
	uint64_t span = (uint64_t)g->cfg.credit_hours * 3600000u;

	if (!g->worker || !g->cfg.credit_hours)
		return;
	j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->kind = GJOB_CREDIT;
	j->ban.addr = *a;
	j->until = now;
	j->cutoff = now > span ? now - span : 0;
	j->keep = g->cfg.max_tracked;
	c->ok_saved = now;
	gworker_push(g->worker, j);
}

/* A success: into the credit table (bounded; only successes enter it). */
static void credit(struct guard *g, struct gsrc *s, const struct gaddr *a,
		   uint64_t now)
{
	struct gkey k;
	struct gcred *c;

	key_addr(&k, a);
	c = gtab_put(&g->credit, &k, NULL);
	c->last_ok = now;
	s->last_ok = now;
	if (!c->ok_saved || now - c->ok_saved >= GUARD_CREDIT_SAVE_MS)
		save_credit(g, c, a, now);
}

static bool ext_under_attack(struct guard *g, const char *ext, size_t len,
			     uint64_t now)
{
	struct gkey k;
	struct gext *e;

	key_ext(&k, ext, len);
	e = gtab_get(&g->ext, &k);
	return e && e->attack_until > now;
}

/* The right password over a transport the extension does not allow: a
 * misconfigured phone, not an attack. Never counted; one event and log
 * line per (source, extension) per STALE_EVENT_MS. */
static void transport_refused(struct guard *g, struct gsrc *s,
			      struct gpair *p, const struct gaddr *full,
			      const char *eb, const char *ua, size_t ua_len,
			      uint64_t now)
{
	char uab[128], srcb[64];

	g->st.transport++;
	if (s->counted) {   /* not an attack: undo the probation count */
		s->head = (uint8_t)((s->head + GUARD_RING - 1) % GUARD_RING);
		if (s->nfail)
			s->nfail--;
		s->counted = false;
	}
	if (p && p->last_tp_event && now - p->last_tp_event < STALE_EVENT_MS)
		return;
	if (p)
		p->last_tp_event = now;
	gaddr_str(full, srcb, sizeof(srcb));
	str_trunc(uab, sizeof(uab), ua, ua_len);
	log_warn("guard", "extension %s: right password from %s over a "
		 "transport the extension does not allow (user agent \"%s\")",
		 eb, srcb, uab);
	guard_event(g, "transport_refused", json_pack(
		"{s:s,s:s,s:s,s:s}", "extension", eb, "source", srcb,
		"user_agent", uab, "message", "right password over a transport "
		"this extension does not allow (phone.transports)"));
}

/* Over UDP, the challenges an attacker on probation answers are counted
 * when it uses them: a failure whose nonce was issued at or after the
 * source's previous counted failure proves that the sender received that
 * challenge too, so it counts twice (the challenge and the failure). This
 * keeps a cracker alternating REGISTER/guess at fail_threshold answers,
 * like the request-counting probation over TCP, without counting a single
 * unproven datagram. */
static bool probation_challenge(const struct guard *g, const struct gsrc *s,
				const struct guard_proof *pf, uint32_t t,
				uint64_t now, uint64_t prev_fail)
{
	uint32_t win = g->cfg.fail_window * 1000u;

	return !pf->conn && pf->nonce && !s->last_ok && prev_fail &&
	       now - prev_fail < win &&
	       ring_count(s->fail, s->nfail, t, win) &&
	       pf->nonce_ts >= prev_fail / 1000u;
}

enum guard_verdict guard_auth_result(struct guard *g, const struct sa *src,
				     const char *ext, size_t ext_len,
				     enum guard_auth res,
				     const struct guard_proof *pf,
				     const char *ua, size_t ua_len)
{
	struct gaddr a, full;
	struct gsrc *s;
	struct gpair *p = NULL;
	struct gkey k;
	uint64_t now, prev_fail;
	uint32_t t;
	char eb[GUARD_EXTLEN], srcb[64];
	bool cred, proof;

	if (!g || gaddr_from_sa(&a, src, g->cfg.ipv6_prefix) ||
	    gaddr_from_sa(&full, src, 128))
		return GUARD_PASS;
	if (!ext)
		ext_len = 0;
	now = guard_now(g);
	proof = proven(pf, now);
	t = tick(g, now);
	s = src_get(g, &a, now);
	str_trunc(eb, sizeof(eb), ext, ext_len);

	/* A scanner user agent that reached the registrar (a REGISTER over
	 * UDP, flagged by guard_request, which matched the user agent
	 * already): with our nonce it has shown it receives our answers,
	 * and is banned at once; without, it gets no answer. */
	if (s->scan_req) {
		s->scan_req = false;
		s->counted = false;
		(void)scanner_seen(g, &a, &full, proof, ua, ua_len, now);
		return GUARD_DROP;
	}
	/* A forged source must not create per-pair state either: pairs
	 * carry credited offices' extension blocks. */
	if (ext_len && (proof || res == GUARD_AUTH_OK)) {
		key_pair(&k, g, &a, ext, ext_len);
		p = gtab_put(&g->pair, &k, NULL);
	}

	switch (res) {
	case GUARD_AUTH_OK:
		g->st.auth_ok++;
		if (!credited(g, s, now) &&
		    s->tokens < g->cfg.burst_auth * 1000u)
			s->tokens = g->cfg.burst_auth * 1000u;
		/* a refresh storm touches the credit table once a minute per
		 * source, not per REGISTER (a minute is nothing to
		 * credit_hours) */
		if (!s->last_ok || now - s->last_ok >= CREDIT_TOUCH_MS)
			credit(g, s, &a, now);
		else
			s->last_ok = now;
		s->counted = false;
		if (p) {
			p->last_ok = now;
			p->nfail = 0;
			p->blocked_until = 0;
		}
		return GUARD_PASS;
	case GUARD_AUTH_TRANSPORT:
		transport_refused(g, s, p, &full, eb, ua, ua_len, now);
		return GUARD_PASS;
	case GUARD_AUTH_STALE:
		g->st.stale++;
		if (s->counted) {   /* not an attack: undo the probation count */
			s->head = (uint8_t)((s->head + GUARD_RING - 1) %
					    GUARD_RING);
			if (s->nfail)
				s->nfail--;
			s->counted = false;
		}
		if (p && p->last_stale_event &&
		    now - p->last_stale_event < STALE_EVENT_MS)
			return GUARD_PASS;
		if (p)
			p->last_stale_event = now;
		gaddr_str(&full, srcb, sizeof(srcb));
		{
			char uab[128], msg[160];
			str_trunc(uab, sizeof(uab), ua, ua_len);
			snprintf(msg, sizeof(msg), "stale credentials on a "
				 "device at %s", srcb);
			log_warn("guard", "extension %s: %s (user agent \"%s\")",
				 eb, msg, uab);
			guard_event(g, "stale_credentials", json_pack(
				"{s:s,s:s,s:s,s:b,s:s}", "extension", eb,
				"source", srcb, "user_agent", uab, "alert", 1,
				"message", msg));
		}
		return GUARD_PASS;
	default:
		break;
	}
	if ((unsigned)res >= sizeof(auth_reason) / sizeof(auth_reason[0]))
		res = GUARD_AUTH_MALFORMED;

	/* A failure (or garbage). */
	g->st.auth_fail++;
	g->st.fail_by[res]++;
	if (fail_event_allowed(g, now)) {
		char uab[128];
		gaddr_str(&full, srcb, sizeof(srcb));
		str_trunc(uab, sizeof(uab), ua, ua_len);
		/* own bucket (fail_event_allowed), not the shared one: a
		 * flood of failures must not starve ban events */
		guard_event_always(g, "auth_failure", json_pack(
			"{s:s,s:s,s:s,s:s,s:b}", "extension", eb,
			"source", srcb, "user_agent", uab,
			"reason", auth_reason[res], "proven", proof));
	}
	if (!proof) {
		/* answered like any failure, never counted: the source
		 * address may be someone else's */
		g->st.unproven++;
		s->counted = false;
		return GUARD_PASS;
	}
	cred = credited(g, s, now);
	prev_fail = s->last_fail;
	s->failures++;
	remember_ext(s, eb);
	if (s->counted) {
		s->counted = false;   /* guard_request counted it already */
	} else {
		if (probation_challenge(g, s, pf, t, now, prev_fail))
			ring_push(s->fail, &s->nfail, &s->head, t);
		ring_push(s->fail, &s->nfail, &s->head, t);
	}
	s->last_fail = now;
	if (p)
		ring_push(p->fail, &p->nfail, &p->head, t);
	/* Unknown names count like real ones: if only real extensions went
	 * into tarpit mode, the delay itself would tell an attacker which
	 * extensions exist. */
	if (ext_len && (res == GUARD_AUTH_BAD_PASSWORD ||
			res == GUARD_AUTH_MISMATCH ||
			res == GUARD_AUTH_UNKNOWN_USER))
		distributed(g, ext, ext_len, &a, now);

	if (guard_trusted(g, &full, now))
		return GUARD_PASS;
	if (ring_count(s->fail, s->nfail, t, g->cfg.fail_window * 1000u) >=
	    (cred ? g->cfg.credit_threshold : g->cfg.fail_threshold)) {
		guard_ban_impose(g, &a, "auth_failures", s, 0, false, now);
		return GUARD_DROP;
	}
	if (p && cred) {
		if (p->blocked_until > now)
			return GUARD_DROP;
		if (ring_count(p->fail, p->nfail, t,
			       g->cfg.fail_window * 1000u) >=
		    g->cfg.fail_threshold) {
			p->blocked_until = now + g->cfg.ban_base * 1000ull;
			p->nfail = 0;
			gaddr_str(&a, srcb, sizeof(srcb));
			guard_event(g, "extension_blocked", json_pack(
				"{s:s,s:s,s:i,s:s}", "extension", eb,
				"source", srcb, "seconds", (int)g->cfg.ban_base,
				"message", "repeated failures for one extension "
				"from a credited address: that extension is "
				"blocked from it, the address is not banned"));
			return GUARD_DROP;
		}
	}
	if (ext_len && !s->last_ok && ext_under_attack(g, ext, ext_len, now)) {
		g->st.tarpit++;
		return GUARD_TARPIT;
	}
	return GUARD_PASS;
}
