/*
 * ban — the ban table (escalating bans, kept apart from the accounting
 * tables so that evicting counters never lifts a ban) and trusted
 * networks. Every ban and unban goes to the worker, which puts it into the
 * kernel set and the database.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "guard/guard_int.h"

static void key_addr(struct gkey *k, const struct gaddr *a)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->k, a->a, 16);
	k->k[16] = a->plen;
	k->k[17] = a->v4;
}

struct gban *guard_ban_find(struct guard *g, const struct gaddr *a,
			    uint64_t now)
{
	struct gkey k;
	struct gban *b;

	if (!g->ban.n)
		return NULL;
	key_addr(&k, a);
	b = gtab_get(&g->ban, &k);
	return (b && b->until > now) ? b : NULL;
}

bool guard_trusted(struct guard *g, const struct gaddr *a, uint64_t now)
{
	for (size_t i = 0; i < g->cfg.n_trusted; i++)
		if (gaddr_contains(&g->cfg.trusted[i], a))
			return true;
	for (size_t i = 0; i < g->n_trust; i++)
		if ((!g->trust[i].until || g->trust[i].until > now) &&
		    gaddr_contains(&g->trust[i].net, a))
			return true;
	return false;
}

static void push_ban(struct guard *g, enum gjob_kind kind,
		     const struct gban *b)
{
	struct gjob *j;

	if (!g->worker)
		return;
	j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->kind = kind;
	j->ban = *b;
	j->nft = g->cfg.offload && !gaddr_loopback(&b->addr);
	gworker_push(g->worker, j);
}

static json_t *ext_array(const struct gban *b)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < b->n_ext; i++)
		json_array_append_new(a, json_string(b->ext[i]));
	return a;
}

int guard_ban_impose(struct guard *g, const struct gaddr *a,
		     const char *reason, const struct gsrc *s,
		     uint64_t secs, bool manual, uint64_t now)
{
	struct gkey k;
	struct gban *b;
	bool created;
	char buf[64];

	if (guard_trusted(g, a, now))
		return EPERM;
	key_addr(&k, a);
	b = gtab_put(&g->ban, &k, &created);
	if (!created && b->until > now && !manual)
		return 0;
	/* Over, but the sweep has not reported it yet: report it before it
	 * is replaced, so that every ban gets its unban. */
	if (!created && !b->ended && b->until <= now)
		guard_ban_expired(g, b);
	if (!created && b->until + (uint64_t)g->cfg.ban_max * 1000u > now)
		b->offences++;
	else
		b->offences = 1;
	if (!secs) {
		secs = g->cfg.ban_base;
		for (uint32_t i = 1; i < b->offences && secs < g->cfg.ban_max; i++)
			secs *= 2;
		if (secs > g->cfg.ban_max)
			secs = g->cfg.ban_max;
	}
	b->addr = *a;
	snprintf(b->reason, sizeof(b->reason), "%s", reason);
	b->n_ext = 0;
	b->count = 0;
	if (s) {
		for (unsigned i = 0; i < s->n_ext; i++)
			memcpy(b->ext[b->n_ext++], s->ext[i], GUARD_EXTLEN);
		b->count = s->failures;
	}
	b->since = now;
	b->until = now + secs * 1000u;
	b->manual = manual;
	b->ended = false;
	g->st.bans++;
	gaddr_str(a, buf, sizeof(buf));
	log_info("guard", "banned %s for %llu s (%s, offence %u)", buf,
		 (unsigned long long)secs, reason, b->offences);
	(manual ? guard_event_always : guard_event)(g, "ban", json_pack("{s:s,s:s,s:o,s:i,s:I,s:i}",
		"source", buf, "reason", reason, "extensions", ext_array(b),
		"count", (int)b->count, "seconds", (json_int_t)secs,
		"offences", (int)b->offences));
	push_ban(g, GJOB_BAN, b);
	return 0;
}

static void clear_source(struct guard *g, const struct gaddr *a)
{
	struct gkey k;
	struct gsrc *s;

	key_addr(&k, a);
	s = gtab_get(&g->src, &k);
	if (s) {
		s->nfail = 0;
		s->tokens = g->cfg.burst * 1000u;
	}
}

int guard_ban_add(struct guard *g, const char *src, unsigned secs)
{
	struct gaddr a;
	struct gkey k;
	uint64_t now;

	if (!g || gaddr_parse(&a, src, g->cfg.ipv6_prefix))
		return EINVAL;
	if (!a.v4 && a.plen != g->cfg.ipv6_prefix)
		return EINVAL;
	if (a.v4 && a.plen != 128)
		return EINVAL;
	now = guard_now(g);
	key_addr(&k, &a);
	return guard_ban_impose(g, &a, "manual", gtab_get(&g->src, &k), secs,
				true, now);
}

/* Lifted before its time by the admin ("admin") or by a trusted network
 * ("trusted"); expiry is reported by guard_sweep ("expired"). Same fields
 * either way: seconds = how long the ban lasted. Admin actions are never
 * rate-limited. */
static void unban(struct guard *g, struct gban *b, const char *why,
		  uint64_t now)
{
	char buf[64];

	gaddr_str(&b->addr, buf, sizeof(buf));
	guard_event_always(g, "unban", json_pack("{s:s,s:s,s:s,s:I,s:i}",
		"source", buf, "reason", why, "ban_reason", b->reason,
		"seconds", (json_int_t)((now - b->since) / 1000),
		"offences", (int)b->offences));
	push_ban(g, GJOB_UNBAN, b);
	clear_source(g, &b->addr);
	gtab_del(&g->ban, b);
}

int guard_ban_remove(struct guard *g, const char *src)
{
	struct gaddr a;
	struct gban *b;

	if (!g || gaddr_parse(&a, src, g->cfg.ipv6_prefix))
		return EINVAL;
	if (!a.v4 && a.plen > g->cfg.ipv6_prefix)
		a.plen = (uint8_t)g->cfg.ipv6_prefix;
	{
		/* Re-mask: "2001:db8::1" names the /64 it is in. */
		struct gaddr m;
		char tmp[64];
		gaddr_str(&a, tmp, sizeof(tmp));
		if (!gaddr_parse(&m, tmp, g->cfg.ipv6_prefix))
			a = m;
	}
	b = guard_ban_find(g, &a, guard_now(g));
	if (!b)
		return ENOENT;
	unban(g, b, "admin", guard_now(g));
	return 0;
}

int guard_trust_add(struct guard *g, const char *cidr, unsigned secs)
{
	struct gaddr a;
	uint64_t now;
	size_t i, slot = SIZE_MAX;

	if (!g || gaddr_parse(&a, cidr, 128))
		return EINVAL;
	now = guard_now(g);
	for (i = 0; i < g->n_trust; i++) {
		if (!memcmp(&g->trust[i].net, &a, sizeof(a)) ||
		    (g->trust[i].until && g->trust[i].until <= now)) {
			slot = i;
			break;
		}
	}
	if (slot == SIZE_MAX) {
		if (g->n_trust >= GUARD_TRUST_MAX)
			return ENOSPC;
		slot = g->n_trust++;
	}
	g->trust[slot].net = a;
	g->trust[slot].until = secs ? now + secs * 1000ull : 0;
	if (g->worker) {
		struct gjob *j = calloc(1, sizeof(*j));
		if (j) {
			j->kind = GJOB_TRUST;
			j->ban.addr = a;
			j->until = g->trust[slot].until;
			gworker_push(g->worker, j);
		}
	}
	{
		char buf[64];
		gaddr_str(&a, buf, sizeof(buf));
		guard_event_always(g, "trust", json_pack("{s:s,s:I}", "network", buf,
			"seconds", (json_int_t)secs));
	}
	/* Lift bans inside the trusted network. */
	{
		size_t it = 0;
		struct gban *b;
		while ((b = gtab_iter(&g->ban, &it)) != NULL) {
			if (b->until > now && gaddr_contains(&a, &b->addr))
				unban(g, b, "trusted", now);
		}
	}
	return 0;
}

json_t *guard_trusts(struct guard *g)
{
	json_t *arr = json_array();
	uint64_t now;
	char buf[64];

	if (!g || !arr)
		return arr;
	now = guard_now(g);
	for (size_t i = 0; i < g->cfg.n_trusted; i++) {
		gaddr_str(&g->cfg.trusted[i], buf, sizeof(buf));
		json_array_append_new(arr, json_pack("{s:s,s:n,s:s}",
			"network", buf, "expires_in", "source", "config"));
	}
	for (size_t i = 0; i < g->n_trust; i++) {
		if (g->trust[i].until && g->trust[i].until <= now)
			continue;
		gaddr_str(&g->trust[i].net, buf, sizeof(buf));
		json_array_append_new(arr, g->trust[i].until ?
			json_pack("{s:s,s:I,s:s}", "network", buf,
				  "expires_in", (json_int_t)
				  ((g->trust[i].until - now) / 1000), "source",
				  "live") :
			json_pack("{s:s,s:n,s:s}", "network", buf,
				  "expires_in", "source", "live"));
	}
	return arr;
}

json_t *guard_bans(struct guard *g)
{
	json_t *arr = json_array();
	size_t it = 0;
	struct gban *b;
	uint64_t now;

	if (!g || !arr)
		return arr;
	now = guard_now(g);
	while ((b = gtab_iter(&g->ban, &it)) != NULL) {
		char buf[64];
		if (b->until <= now)
			continue;
		gaddr_str(&b->addr, buf, sizeof(buf));
		json_array_append_new(arr, json_pack(
			"{s:s,s:s,s:o,s:i,s:I,s:I,s:i}",
			"source", buf, "reason", b->reason,
			"extensions", ext_array(b), "count", (int)b->count,
			"since", (json_int_t)(b->since / 1000),
			"time_left", (json_int_t)((b->until - now + 999) / 1000),
			"offences", (int)b->offences));
	}
	return arr;
}

void guard_ban_expired(struct guard *g, struct gban *b)
{
	char buf[64];
	struct gjob *j;

	b->ended = true;
	gaddr_str(&b->addr, buf, sizeof(buf));
	log_info("guard", "ban on %s expired after %llu s (%s, offence %u)",
		 buf, (unsigned long long)((b->until - b->since) / 1000),
		 b->reason, b->offences);
	guard_event(g, "unban", json_pack("{s:s,s:s,s:s,s:I,s:i}",
		"source", buf, "reason", "expired", "ban_reason", b->reason,
		"seconds", (json_int_t)((b->until - b->since) / 1000),
		"offences", (int)b->offences));
	if (!g->worker)
		return;
	/* The kernel element expires by its own timeout; only the database
	 * learns that the expiry was reported. */
	j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->kind = GJOB_BAN_END;
	j->ban = *b;
	gworker_push(g->worker, j);
}
