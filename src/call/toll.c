/*
 * toll — the "toll" section and the toll-fraud counters (toll.h; issue
 * 15, outbound).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "call/toll.h"
#include "common/settings.h"
#include "store/snapshot.h"

/* ---- the section ---- */

#define S struct toll_limits
static const struct setting_def defs[] = {
	SETTING_INT_AT(S, ext_concurrent, 2, 0, 1000, "call",
		       "external calls (through a trunk) one extension may "
		       "have at a time (0 = none)"),
	SETTING_INT_AT(S, global_concurrent, 10, 0, 100000, "call",
		       "external calls the PBX may have at a time"),
	SETTING_INT_AT(S, ext_international_hour, 10, 0, 100000, "call",
		       "international calls one extension may place in any "
		       "hour"),
	SETTING_INT_AT(S, global_international_hour, 50, 0, 1000000, "call",
		       "international calls the PBX may place in any hour"),
	SETTING_INT_AT(S, ext_premium_hour, 2, 0, 100000, "call",
		       "premium-rate calls one extension may place in any "
		       "hour"),
	SETTING_INT_AT(S, global_premium_hour, 10, 0, 1000000, "call",
		       "premium-rate calls the PBX may place in any hour"),
	SETTING_BOOL_AT(S, inbound_to_outbound, 0, "call",
			"a call that came in on a trunk may leave on a trunk "
			"(a forward to an external number); off: refused"),
};
#undef S

static const struct settings_table table = {
	.section = "toll", .defs = defs,
	.n = sizeof(defs) / sizeof(defs[0]),
	.struct_size = sizeof(struct toll_limits),
};

static json_t *toll_defaults(void)
{
	return settings_defaults(&table);
}

static int toll_set(json_t *obj, const char *key, const char *value,
		    struct report *r)
{
	return settings_set(&table, obj, key, value, r);
}

static int toll_validate(const json_t *obj, struct report *r)
{
	return settings_check(&table, obj, r);
}

static void toll_decode(const json_t *obj, void *out)
{
	settings_decode(&table, obj, out);
}

const struct store_section toll_section = {
	.name = "toll", .defaults = toll_defaults, .set = toll_set,
	.validate = toll_validate,
	.typed_size = sizeof(struct toll_limits), .decode = toll_decode,
	.table = &table,
};

const struct toll_limits *toll_limits_of(const struct snapshot *s)
{
	static struct toll_limits def;
	static bool def_done;   /* loop thread only */
	const struct toll_limits *l = snapshot_typed(s, "toll");

	if (l)
		return l;
	if (!def_done) {
		settings_decode(&table, NULL, &def);
		def_done = true;
	}
	return &def;
}

/* ---- counters ---- */

#define BUCKETS 60           /* one a minute: the sliding hour */
enum { K_INTL = 0, K_PREMIUM, K__COUNT };

struct hour {
	int64_t minute[BUCKETS];   /* the minute each bucket counts */
	uint32_t n[BUCKETS];
};

struct tent {
	char ext[24];              /* "" = free */
	unsigned live;
	struct hour h[K__COUNT];
};

struct toll {
	unsigned live;
	uint64_t refused[TOLL_TABLE_FULL + 1];   /* by verdict */
	struct hour h[K__COUNT];
	struct tent e[TOLL_MAX_EXT];
};

int toll_alloc(struct toll **tp)
{
	struct toll *t = calloc(1, sizeof(*t));

	if (!t)
		return ENOMEM;
	*tp = t;
	return 0;
}

void toll_free(struct toll *t)
{
	free(t);
}

static int kind_of(unsigned dest)
{
	return dest == SNAP_DEST_INTERNATIONAL ? K_INTL :
		dest == SNAP_DEST_PREMIUM ? K_PREMIUM : -1;
}

static unsigned hour_sum(const struct hour *h, int64_t now_s)
{
	int64_t m = now_s / 60;
	unsigned s = 0;

	for (size_t i = 0; i < BUCKETS; i++)
		if (h->n[i] && h->minute[i] > m - BUCKETS)
			s += h->n[i];
	return s;
}

static void hour_add(struct hour *h, int64_t now_s)
{
	int64_t m = now_s / 60;
	size_t i = (size_t)(m % BUCKETS);

	if (h->minute[i] != m) {
		h->minute[i] = m;
		h->n[i] = 0;
	}
	h->n[i]++;
}

static struct tent *find(const struct toll *t, const char *ext)
{
	for (size_t i = 0; i < TOLL_MAX_EXT; i++)
		if (t->e[i].ext[0] && !strcmp(t->e[i].ext, ext))
			return (struct tent *)&t->e[i];
	return NULL;
}

/* ext's entry, a new one in a slot no longer counting anything. */
static struct tent *get(struct toll *t, const char *ext, int64_t now_s)
{
	struct tent *e = find(t, ext);

	if (e)
		return e;
	for (size_t i = 0; i < TOLL_MAX_EXT; i++) {
		e = &t->e[i];
		if (e->ext[0] && (e->live || hour_sum(&e->h[K_INTL], now_s) ||
				  hour_sum(&e->h[K_PREMIUM], now_s)))
			continue;
		memset(e, 0, sizeof(*e));
		if (strlen(ext) >= sizeof(e->ext))
			return NULL;
		strcpy(e->ext, ext);
		return e;
	}
	return NULL;
}

static enum toll_verdict take(struct toll *t, const struct toll_limits *lim,
			      const char *ext, unsigned dest, int64_t now_s)
{
	int k = kind_of(dest);
	struct tent *e;

	if (dest == SNAP_DEST_EMERGENCY)
		return TOLL_OK;
	e = get(t, ext, now_s);
	if (!e)
		return TOLL_TABLE_FULL;
	if (e->live >= lim->ext_concurrent)
		return TOLL_EXT_CONCURRENT;
	if (t->live >= lim->global_concurrent)
		return TOLL_GLOBAL_CONCURRENT;
	if (k >= 0) {
		uint32_t el = k == K_INTL ? lim->ext_international_hour :
			lim->ext_premium_hour;
		uint32_t gl = k == K_INTL ? lim->global_international_hour :
			lim->global_premium_hour;

		if (hour_sum(&e->h[k], now_s) >= el)
			return TOLL_EXT_HOUR;
		if (hour_sum(&t->h[k], now_s) >= gl)
			return TOLL_GLOBAL_HOUR;
		hour_add(&e->h[k], now_s);
		hour_add(&t->h[k], now_s);
	}
	e->live++;
	t->live++;
	return TOLL_OK;
}

enum toll_verdict toll_take(struct toll *t, const struct toll_limits *lim,
			    const char *ext, unsigned dest, int64_t now_s)
{
	enum toll_verdict v = take(t, lim, ext, dest, now_s);

	if (v != TOLL_OK && (size_t)v < sizeof(t->refused) /
	    sizeof(t->refused[0]))
		t->refused[v]++;
	return v;
}

void toll_end(struct toll *t, const char *ext, unsigned dest)
{
	struct tent *e;

	if (dest == SNAP_DEST_EMERGENCY)
		return;
	e = find(t, ext);
	if (e && e->live)
		e->live--;
	if (t->live)
		t->live--;
}

unsigned toll_concurrent(const struct toll *t, const char *ext)
{
	const struct tent *e;

	if (!ext)
		return t->live;
	e = find(t, ext);
	return e ? e->live : 0;
}

unsigned toll_hour(const struct toll *t, const char *ext, unsigned dest,
		   int64_t now_s)
{
	int k = kind_of(dest);
	const struct tent *e;

	if (k < 0)
		return 0;
	if (!ext)
		return hour_sum(&t->h[k], now_s);
	e = find(t, ext);
	return e ? hour_sum(&e->h[k], now_s) : 0;
}

json_t *toll_status(const struct toll *t, int64_t now_s)
{
	size_t n = 0;
	json_t *o, *r;

	for (size_t i = 0; i < TOLL_MAX_EXT; i++)
		n += t->e[i].ext[0] && (t->e[i].live ||
					hour_sum(&t->e[i].h[K_INTL], now_s) ||
					hour_sum(&t->e[i].h[K_PREMIUM], now_s));
	o = json_pack("{s:i,s:i,s:i,s:I}",
		      "external_calls", (int)t->live,
		      "international_hour",
		      (int)hour_sum(&t->h[K_INTL], now_s),
		      "premium_hour", (int)hour_sum(&t->h[K_PREMIUM], now_s),
		      "extensions", (json_int_t)n);
	r = json_object();
	for (int v = TOLL_EXT_CONCURRENT; r && v <= TOLL_TABLE_FULL; v++)
		json_object_set_new(r, toll_verdict_str((enum toll_verdict)v),
				    json_integer((json_int_t)t->refused[v]));
	if (o && r)
		json_object_set_new(o, "refused", r);
	else
		json_decref(r);
	return o;
}

/* ---- saved hours ---- */

static const char *const kind_key[K__COUNT] = { "international",
						"premium" };

/* [[minute, n], ...] of h's buckets still in the hour at now_s. */
static json_t *hour_dump(const struct hour *h, int64_t now_s)
{
	int64_t m = now_s / 60;
	json_t *a = json_array();

	for (size_t i = 0; a && i < BUCKETS; i++)
		if (h->n[i] && h->minute[i] > m - BUCKETS &&
		    h->minute[i] <= m)
			json_array_append_new(a, json_pack(
				"[I,I]", (json_int_t)h->minute[i],
				(json_int_t)h->n[i]));
	return a;
}

static bool hour_empty(const struct hour *h, int64_t now_s)
{
	return !hour_sum(h, now_s);
}

json_t *toll_dump(const struct toll *t, int64_t now_s)
{
	json_t *o = json_object(), *g = json_object(), *x = json_object();

	if (!o || !g || !x) {
		json_decref(o);
		json_decref(g);
		json_decref(x);
		return NULL;
	}
	json_object_set_new(o, "version", json_integer(1));
	json_object_set_new(o, "saved", json_integer((json_int_t)now_s));
	for (int k = 0; k < K__COUNT; k++)
		json_object_set_new(g, kind_key[k], hour_dump(&t->h[k], now_s));
	json_object_set_new(o, "global", g);
	for (size_t i = 0; i < TOLL_MAX_EXT; i++) {
		const struct tent *e = &t->e[i];
		json_t *eo;

		if (!e->ext[0] || (hour_empty(&e->h[K_INTL], now_s) &&
				   hour_empty(&e->h[K_PREMIUM], now_s)))
			continue;
		eo = json_object();
		for (int k = 0; eo && k < K__COUNT; k++)
			json_object_set_new(eo, kind_key[k],
					    hour_dump(&e->h[k], now_s));
		json_object_set_new(x, e->ext, eo);
	}
	json_object_set_new(o, "extensions", x);
	return o;
}

/* h from a = [[minute, n], ...]: entries outside the hour at now_s or
 * malformed ones are skipped. The number of entries taken. */
static size_t hour_load(struct hour *h, const json_t *a, int64_t now_s)
{
	int64_t m = now_s / 60;
	size_t i, n = 0;
	const json_t *b;

	json_array_foreach(a, i, b) {
		json_int_t bm = json_integer_value(json_array_get(b, 0));
		json_int_t bn = json_integer_value(json_array_get(b, 1));
		size_t slot;

		if (json_array_size(b) != 2 ||
		    !json_is_integer(json_array_get(b, 0)) ||
		    !json_is_integer(json_array_get(b, 1)) ||
		    bm <= m - BUCKETS || bm > m || bn <= 0 || bn > 1000000)
			continue;
		slot = (size_t)(bm % BUCKETS);
		if (h->minute[slot] != bm) {
			h->minute[slot] = bm;
			h->n[slot] = 0;
		}
		h->n[slot] += (uint32_t)bn;
		n++;
	}
	return n;
}

int toll_restore(struct toll *t, const json_t *o, int64_t now_s)
{
	const json_t *g = json_object_get(o, "global"), *x, *eo;
	const char *ext;

	if (!json_is_object(o) ||
	    json_integer_value(json_object_get(o, "version")) != 1 ||
	    !json_is_object(g))
		return EINVAL;
	for (int k = 0; k < K__COUNT; k++)
		hour_load(&t->h[k], json_object_get(g, kind_key[k]), now_s);
	x = json_object_get(o, "extensions");
	json_object_foreach((json_t *)x, ext, eo) {
		struct tent *e;

		if (!*ext || strlen(ext) >= sizeof(e->ext))
			continue;
		e = get(t, ext, now_s);
		if (!e)
			return ENOSPC;
		for (int k = 0; k < K__COUNT; k++)
			hour_load(&e->h[k], json_object_get(eo, kind_key[k]),
				  now_s);
	}
	return 0;
}

const char *toll_verdict_str(enum toll_verdict v)
{
	static const char *const s[] = {
		[TOLL_OK] = "ok",
		[TOLL_EXT_CONCURRENT] = "ext_concurrent",
		[TOLL_GLOBAL_CONCURRENT] = "global_concurrent",
		[TOLL_EXT_HOUR] = "ext_per_hour",
		[TOLL_GLOBAL_HOUR] = "global_per_hour",
		[TOLL_TABLE_FULL] = "table_full",
	};

	return (size_t)v < sizeof(s) / sizeof(s[0]) ? s[v] : "unknown";
}
