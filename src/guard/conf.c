/*
 * conf — the "guard" settings section: one table of keys in the common
 * settings type (common/settings.h: type, default, bounds, where it lands
 * in struct guard_cfg) feeds the defaults, the setter's validation, the
 * commit check, the schema and the loader; the two lists (scanners,
 * trusted) are parsed here.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/report.h"
#include "common/settings.h"
#include "guard/guard_int.h"
#include "store/store.h"

static const char default_scanners[] =
	"friendly-scanner,sipvicious,sipcli,vaxsipuseragent,pplsip,"
	"sundayddr,iwar,sivus,sip-scan,sipscan,voip-scan,mr.scanner";

static int scanners_check(const char *field, const char *v, struct report *r);
static int trusted_check(const char *field, const char *v, struct report *r);

#define C struct guard_cfg
#define U(n, d, lo, hi, h) SETTING_INT_AT(C, n, d, lo, hi, "guard", h)

static const char *const scopes[] = { "sip", "all", NULL };  /* guard_scope */

static const struct setting_def keys[] = {
	U(fail_threshold, 5, 1, GUARD_RING,
	  "failed authentications from one source that trigger a ban"),
	U(fail_window, 60, 1, 86400, "seconds over which failures count"),
	U(credit_hours, 24, 0, 720,
	  "a source that authenticated within these hours is credited"),
	U(credit_threshold, 20, 1, GUARD_RING,
	  "failure threshold for credited sources"),
	U(ban_base, 600, 1, 604800, "first ban, seconds"),
	U(ban_max, 86400, 1, 31536000, "longest ban (bans double up to it)"),
	U(ipv6_prefix, 64, 32, 128, "IPv6 sources are counted by this prefix"),
	U(dist_sources, 10, 2, GUARD_DIST_MAX,
	  "distinct failing sources on one extension = distributed attack"),
	U(dist_window, 600, 10, 86400, "seconds for dist_sources"),
	U(dist_hold, 3600, 10, 604800,
	  "seconds an extension stays in tarpit mode after an attack"),
	U(tarpit_ms, 3000, 0, 30000, "delay of a tarpitted answer, ms"),
	U(rate, 50, 1, 1000000, "requests/s allowed per uncredited source"),
	U(burst, 100, 1, 1000000, "burst per uncredited source"),
	U(rate_auth, 2000, 1, 1000000, "requests/s per credited source"),
	U(burst_auth, 4000, 1, 1000000, "burst per credited source"),
	U(max_tracked, 65536, 64, 4194304,
	  "entries in each accounting table (oldest evicted)"),
	U(max_bans, 65536, 16, 4194304, "ban table size"),
	SETTING_BOOL_AT(C, offload, 1, "guard",
			"put bans into the kernel (nftables)"),
	{ .name = "ban_scope", .type = SETTING_ENUM, .sdef = "sip",
	  .choices = scopes, .rule = "guard.scope",
	  .msg = "guard.ban_scope must be \"sip\" (SIP and RTP ports) or "
		 "\"all\" (every port)",
	  .module = "guard", .off = offsetof(C, scope),
	  .size = sizeof(((C *)0)->scope),
	  .help = "\"sip\" (SIP and RTP ports) or \"all\" (every port, incl. "
		  "admin)" },
	/* the lists are parsed by guard_cfg_load (size 0: not copied) */
	{ .name = "scanners", .type = SETTING_STRING,
	  .sdef = default_scanners, .check = scanners_check,
	  .module = "guard",
	  .help = "comma-separated user-agent substrings (case-insensitive)" },
	{ .name = "trusted", .type = SETTING_STRING, .sdef = "",
	  .check = trusted_check, .module = "guard",
	  .help = "comma-separated networks never banned (CIDR)" },
};

static const struct settings_table guard_settings_table = {
	.section = "guard", .defs = keys, .n = sizeof(keys) / sizeof(keys[0]),
	.struct_size = sizeof(C),
};

/* Split a comma list; calls fn for each trimmed non-empty item. */
static int list_each(const char *s, int (*fn)(const char *item, void *arg),
		     void *arg)
{
	char item[128];

	while (s && *s) {
		const char *e = strchr(s, ',');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		while (n && (*s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (n >= sizeof(item))
			return E2BIG;
		if (n) {
			int err;
			memcpy(item, s, n);
			item[n] = 0;
			err = fn(item, arg);
			if (err)
				return err;
		}
		if (!e)
			break;
		s = e + 1;
	}
	return 0;
}

struct lctx { struct guard_cfg *c; size_t n; const char *bad; char badbuf[128]; };

static int ua_item(const char *item, void *arg)
{
	struct lctx *x = arg;
	size_t len = strlen(item);

	if (len >= GUARD_SCANLEN || x->n >= GUARD_SCANNERS)
		return E2BIG;
	if (x->c) {
		for (size_t i = 0; i <= len; i++)
			x->c->scanner[x->n][i] = (char)((item[i] >= 'A' &&
				item[i] <= 'Z') ? item[i] + 32 : item[i]);
	}
	x->n++;
	return 0;
}

static int net_item(const char *item, void *arg)
{
	struct lctx *x = arg;
	struct gaddr ga;

	if (gaddr_parse(&ga, item, 128)) {
		snprintf(x->badbuf, sizeof(x->badbuf), "%s", item);
		x->bad = x->badbuf;
		return EINVAL;
	}
	if (x->n >= GUARD_TRUST_MAX)
		return E2BIG;
	if (x->c)
		x->c->trusted[x->n] = ga;
	x->n++;
	return 0;
}

static int scanners_check(const char *field, const char *v, struct report *r)
{
	struct lctx x = { 0 };

	if (!list_each(v, ua_item, &x))
		return 0;
	if (r)
		report_add(r, "guard", field, "guard.scanners",
			   "%s: at most %u entries of at most %u characters "
			   "each", field, GUARD_SCANNERS, GUARD_SCANLEN - 1);
	return EINVAL;
}

static int trusted_check(const char *field, const char *v, struct report *r)
{
	struct lctx x = { 0 };
	int err = list_each(v, net_item, &x);

	if (!err || !r)
		return err ? EINVAL : 0;
	if (err == EINVAL)
		report_add(r, "guard", field, "guard.cidr",
			   "%s: \"%s\" is not an address or network (e.g. "
			   "192.0.2.0/24, 2001:db8::/48)", field, x.bad);
	else
		report_add(r, "guard", field, "guard.trusted_max",
			   "%s: at most %u networks", field, GUARD_TRUST_MAX);
	return EINVAL;
}

static json_t *guard_defaults(void)
{
	return settings_defaults(&guard_settings_table);
}

static int guard_set(json_t *obj, const char *key, const char *value,
		     struct report *r)
{
	return settings_set(&guard_settings_table, obj, key, value, r);
}

static int guard_validate(const json_t *obj, struct report *r)
{
	struct guard_cfg c;
	int err = settings_check(&guard_settings_table, obj, r);

	/* the rules between keys, on the values as decoded */
	settings_decode(&guard_settings_table, obj, &c);
	if (c.credit_threshold < c.fail_threshold) {
		report_add(r, "guard", "guard.credit_threshold",
			   "guard.credit_threshold",
			   "guard.credit_threshold must be at least "
			   "guard.fail_threshold");
		err = EINVAL;
	}
	if (c.ban_max < c.ban_base) {
		report_add(r, "guard", "guard.ban_max", "guard.ban_max",
			   "guard.ban_max must be at least guard.ban_base");
		err = EINVAL;
	}
	return err;
}

/* Decoded once per commit into the snapshot (store_section.decode). */
static void guard_decode(const json_t *obj, void *out)
{
	guard_cfg_load(out, obj);
}

const struct store_section guard_section = {
	.name = "guard",
	.defaults = guard_defaults,
	.set = guard_set,
	.validate = guard_validate,
	.typed_size = sizeof(struct guard_cfg),
	.decode = guard_decode,
	.table = &guard_settings_table,
};

void guard_cfg_default(struct guard_cfg *c)
{
	guard_cfg_load(c, NULL);
}

void guard_cfg_load(struct guard_cfg *c, const json_t *sec)
{
	const json_t *v;
	struct lctx x = { .c = c };
	const char *s;

	/* every scalar key: its value, or its default when missing or bad */
	settings_decode(&guard_settings_table, sec, c);
	v = json_object_get(sec, "scanners");
	s = json_is_string(v) ? json_string_value(v) : default_scanners;
	if (list_each(s, ua_item, &x)) {
		x.n = 0;
		list_each(default_scanners, ua_item, &x);
	}
	c->n_scanner = x.n;
	x.n = 0;
	v = json_object_get(sec, "trusted");
	s = json_is_string(v) ? json_string_value(v) : "";
	if (list_each(s, net_item, &x))
		x.n = 0;
	c->n_trusted = x.n;
	if (c->credit_threshold < c->fail_threshold)
		c->credit_threshold = c->fail_threshold;
	if (c->ban_max < c->ban_base)
		c->ban_max = c->ban_base;
}
