/*
 * conf — the "guard" settings section: one table of keys (type, default,
 * bounds, where it lands in struct guard_cfg) feeds the defaults, the
 * setter's validation, the commit check and the loader.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/report.h"
#include "guard/guard_int.h"

enum ktype { K_UINT, K_BOOL, K_SCOPE, K_LIST_UA, K_LIST_NET };

struct gkeydef {
	const char *name;
	enum ktype type;
	long long def, min, max;
	const char *sdef;
	size_t off;            /* into struct guard_cfg (K_UINT, K_BOOL) */
	const char *help;
};

#define U(n, d, lo, hi, h) { #n, K_UINT, d, lo, hi, NULL, \
	offsetof(struct guard_cfg, n), h }

static const char default_scanners[] =
	"friendly-scanner,sipvicious,sipcli,vaxsipuseragent,pplsip,"
	"sundayddr,iwar,sivus,sip-scan,sipscan,voip-scan,mr.scanner";

static const struct gkeydef keys[] = {
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
	{ "offload", K_BOOL, 1, 0, 1, NULL, offsetof(struct guard_cfg, offload),
	  "put bans into the kernel (nftables)" },
	{ "ban_scope", K_SCOPE, 0, 0, 0, "sip", 0,
	  "\"sip\" (SIP and RTP ports) or \"all\" (every port, incl. admin)" },
	{ "scanners", K_LIST_UA, 0, 0, 0, default_scanners, 0,
	  "comma-separated user-agent substrings (case-insensitive)" },
	{ "trusted", K_LIST_NET, 0, 0, 0, "", 0,
	  "comma-separated networks never banned (CIDR)" },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const struct gkeydef *key_find(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

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

static json_t *guard_defaults(void)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct gkeydef *k = &keys[i];
		switch (k->type) {
		case K_UINT:
			json_object_set_new(o, k->name, json_integer(k->def));
			break;
		case K_BOOL:
			json_object_set_new(o, k->name, json_boolean(k->def));
			break;
		default:
			json_object_set_new(o, k->name, json_string(k->sdef));
			break;
		}
	}
	return o;
}

static int parse_value(const struct gkeydef *k, const char *value,
		       json_t **out, struct report *r)
{
	char where[64];

	snprintf(where, sizeof(where), "guard.%s", k->name);
	switch (k->type) {
	case K_UINT: {
		char *end;
		long long v;
		errno = 0;
		v = strtoll(value, &end, 10);
		if (!*value || *end || errno || v < k->min || v > k->max) {
			report_add(r, "guard", where, "guard.range",
				   "%s must be a whole number from %lld to %lld",
				   where, k->min, k->max);
			return EINVAL;
		}
		*out = json_integer(v);
		return 0;
	}
	case K_BOOL:
		if (!strcasecmp(value, "true") || !strcmp(value, "1") ||
		    !strcasecmp(value, "on") || !strcasecmp(value, "yes")) {
			*out = json_true();
			return 0;
		}
		if (!strcasecmp(value, "false") || !strcmp(value, "0") ||
		    !strcasecmp(value, "off") || !strcasecmp(value, "no")) {
			*out = json_false();
			return 0;
		}
		report_add(r, "guard", where, "guard.bool",
			   "%s must be true or false", where);
		return EINVAL;
	case K_SCOPE:
		if (strcmp(value, "sip") && strcmp(value, "all")) {
			report_add(r, "guard", where, "guard.scope",
				   "%s must be \"sip\" (SIP and RTP ports) or "
				   "\"all\" (every port)", where);
			return EINVAL;
		}
		break;
	case K_LIST_UA: {
		struct lctx x = { 0 };
		if (list_each(value, ua_item, &x)) {
			report_add(r, "guard", where, "guard.scanners",
				   "%s: at most %u entries of at most %u "
				   "characters each", where, GUARD_SCANNERS,
				   GUARD_SCANLEN - 1);
			return EINVAL;
		}
		break;
	}
	case K_LIST_NET: {
		struct lctx x = { 0 };
		int err = list_each(value, net_item, &x);
		if (err == EINVAL) {
			report_add(r, "guard", where, "guard.cidr",
				   "%s: \"%s\" is not an address or network "
				   "(e.g. 192.0.2.0/24, 2001:db8::/48)", where,
				   x.bad);
			return EINVAL;
		}
		if (err) {
			report_add(r, "guard", where, "guard.trusted_max",
				   "%s: at most %u networks", where,
				   GUARD_TRUST_MAX);
			return EINVAL;
		}
		break;
	}
	}
	*out = json_string(value);
	return 0;
}

static int guard_set(json_t *obj, const char *key, const char *value,
		     struct report *r)
{
	const struct gkeydef *k = key_find(key);
	json_t *v = NULL;
	int err;

	if (!k) {
		report_add(r, "guard", key, "guard.unknown_key",
			   "guard has no setting \"%s\"", key);
		return ENOENT;
	}
	if (!value) {
		report_add(r, "guard", key, "guard.value", "guard.%s needs a "
			   "value", key);
		return EINVAL;
	}
	err = parse_value(k, value, &v, r);
	if (err)
		return err;
	if (!v)
		return ENOMEM;
	json_object_set_new(obj, key, v);
	return 0;
}

static long long num(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	const struct gkeydef *k = key_find(key);

	if (json_is_integer(v))
		return json_integer_value(v);
	return k ? k->def : 0;
}

static int guard_validate(const json_t *obj, struct report *r)
{
	int err = 0;
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		const struct gkeydef *k = key_find(key);
		json_t *tmp = NULL;
		char text[32];
		const char *s = text;

		if (!k) {
			report_add(r, "guard", key, "guard.unknown_key",
				   "guard has no setting \"%s\"", key);
			err = EINVAL;
			continue;
		}
		if (json_is_integer(v))
			snprintf(text, sizeof(text), "%lld",
				 (long long)json_integer_value(v));
		else if (json_is_boolean(v))
			s = json_is_true(v) ? "true" : "false";
		else if (json_is_string(v))
			s = json_string_value(v);
		else
			s = "";
		if (parse_value(k, s, &tmp, r))
			err = EINVAL;
		json_decref(tmp);
	}
	if (num(obj, "credit_threshold") < num(obj, "fail_threshold")) {
		report_add(r, "guard", "guard.credit_threshold",
			   "guard.credit_threshold",
			   "guard.credit_threshold must be at least "
			   "guard.fail_threshold");
		err = EINVAL;
	}
	if (num(obj, "ban_max") < num(obj, "ban_base")) {
		report_add(r, "guard", "guard.ban_max", "guard.ban_max",
			   "guard.ban_max must be at least guard.ban_base");
		err = EINVAL;
	}
	return err;
}

const struct store_section guard_section = {
	.name = "guard",
	.defaults = guard_defaults,
	.set = guard_set,
	.validate = guard_validate,
};

void guard_cfg_default(struct guard_cfg *c)
{
	json_t *d = guard_defaults();

	memset(c, 0, sizeof(*c));
	guard_cfg_load(c, d);
	json_decref(d);
}

void guard_cfg_load(struct guard_cfg *c, const json_t *sec)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct gkeydef *k = &keys[i];
		const json_t *v = json_object_get(sec, k->name);
		const char *s;

		switch (k->type) {
		case K_UINT: {
			long long x = json_is_integer(v) ?
				json_integer_value(v) : k->def;
			if (x < k->min || x > k->max)
				x = k->def;
			*(unsigned *)(void *)((char *)c + k->off) = (unsigned)x;
			break;
		}
		case K_BOOL:
			*(bool *)(void *)((char *)c + k->off) =
				json_is_boolean(v) ? json_is_true(v) : k->def;
			break;
		case K_SCOPE:
			s = json_is_string(v) ? json_string_value(v) : k->sdef;
			c->scope = !strcmp(s, "all") ? GUARD_SCOPE_ALL :
						      GUARD_SCOPE_SIP;
			break;
		case K_LIST_UA: {
			struct lctx x = { .c = c };
			s = json_is_string(v) ? json_string_value(v) : k->sdef;
			if (list_each(s, ua_item, &x)) {
				x.n = 0;
				list_each(k->sdef, ua_item, &x);
			}
			c->n_scanner = x.n;
			break;
		}
		case K_LIST_NET: {
			struct lctx x = { .c = c };
			s = json_is_string(v) ? json_string_value(v) : k->sdef;
			if (list_each(s, net_item, &x))
				x.n = 0;
			c->n_trusted = x.n;
			break;
		}
		}
	}
	if (c->credit_threshold < c->fail_threshold)
		c->credit_threshold = c->fail_threshold;
	if (c->ban_max < c->ban_base)
		c->ban_max = c->ban_base;
}
