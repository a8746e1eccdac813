/*
 * outbound — the "outbound_routes" section: text to object, checks,
 * the typed view (outbound.h; issue 15, outbound). The dial patterns and
 * the matcher: outbound_match.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call/outbound.h"
#include "common/report.h"

#define SEC "outbound_routes"
/* route_from decodes committed objects with no report to fill */
#define ADD(rep, ...) do { if (rep) report_add(rep, __VA_ARGS__); } \
	while (0)

static const char *const dest_names[SNAP_DEST__COUNT] = {
	"internal", "local", "national", "international", "premium",
	"emergency",
};

const char *outbound_dest_str(unsigned d)
{
	return d < SNAP_DEST__COUNT ? dest_names[d] : "unknown";
}

static int dest_index(const char *s)
{
	/* "internal" is the extensions' class: no route reaches it */
	for (int i = SNAP_DEST_LOCAL; i < SNAP_DEST__COUNT; i++)
		if (!strcmp(dest_names[i], s))
			return i;
	return -1;
}

/* ---- one route: text -> object, object -> typed ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool name_ok(const char *s, size_t n)
{
	if (!n || n > OUT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || is_digit(s[i]) ||
		      s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

static bool prefix_ok(const char *s)
{
	if (strlen(s) > OUT_PREFIX_MAX)
		return false;
	for (; *s; s++)
		if (!is_digit(*s) && !strchr("+*#", *s))
			return false;
	return true;
}

/* A comma list into a JSON array of strings (spaces trimmed). */
static json_t *list_of(const char *v, size_t vl)
{
	json_t *a = json_array();
	const char *p = v, *e = v + vl;

	while (a && p < e) {
		const char *c = memchr(p, ',', (size_t)(e - p));
		const char *q = c ? c : e;
		const char *b = p;

		while (b < q && *b == ' ')
			b++;
		while (q > b && q[-1] == ' ')
			q--;
		if (q > b)
			json_array_append_new(a, json_stringn(b,
							      (size_t)(q - b)));
		p = c ? c + 1 : e;
	}
	return a;
}

static int int_of(const char *v, size_t vl, long lo, long hi, long *out)
{
	char buf[16];
	char *end;

	if (!vl || vl >= sizeof(buf))
		return EINVAL;
	memcpy(buf, v, vl);
	buf[vl] = '\0';
	errno = 0;
	*out = strtol(buf, &end, 10);
	if (*end || errno || *out < lo || *out > hi)
		return EINVAL;
	return 0;
}

/* Decode (and check) route `name` from its object into *r; errors go to
 * rep (may be NULL: decode only). 0 or EINVAL. */
static int route_from(const char *name, const json_t *o,
		      struct out_route *r, struct report *rep)
{
	const json_t *pats = json_object_get(o, "patterns");
	const json_t *trunks = json_object_get(o, "trunks");
	const char *cls = json_string_value(json_object_get(o, "class"));
	const char *pre = json_string_value(json_object_get(o, "prefix"));
	json_int_t strip = json_integer_value(json_object_get(o, "strip"));
	json_int_t order = json_integer_value(json_object_get(o, "order"));
	const json_t *v;
	size_t i;
	int d, err = 0;

	memset(r, 0, sizeof(*r));
	if (!name_ok(name, strlen(name))) {
		ADD(rep, SEC, name, "outbound.name_format",
			   "A route is named with 1 to %d of a-z, 0-9, _ "
			   "and -.", OUT_NAME_MAX);
		return EINVAL;
	}
	snprintf(r->name, sizeof(r->name), "%s", name);
	if (!json_is_array(pats) || !json_array_size(pats) ||
	    json_array_size(pats) > OUT_MAX_PATTERNS) {
		ADD(rep, SEC, name, "outbound.patterns",
			   "%s: patterns= lists 1 to %d dial patterns.", name,
			   OUT_MAX_PATTERNS);
		err = EINVAL;
	}
	json_array_foreach(pats, i, v) {
		const char *p = json_string_value(v);

		if (i >= OUT_MAX_PATTERNS)
			break;
		if (!p || !outbound_pattern_ok(p)) {
			ADD(rep, SEC, name, "outbound.pattern",
				   "%s: '%.40s' is not a dial pattern (digits, "
				   "+ * #, X Z N, [1-5], then . or ! last).",
				   name, p ? p : "");
			err = EINVAL;
			continue;
		}
		snprintf(r->pat[r->n_pat++], sizeof(r->pat[0]), "%s", p);
	}
	if (!json_is_array(trunks) || !json_array_size(trunks) ||
	    json_array_size(trunks) > OUT_MAX_TRUNKS) {
		ADD(rep, SEC, name, "outbound.trunks",
			   "%s: trunks= lists 1 to %d trunks, in the order "
			   "they are tried.", name, OUT_MAX_TRUNKS);
		err = EINVAL;
	}
	json_array_foreach(trunks, i, v) {
		const char *t = json_string_value(v);

		if (i >= OUT_MAX_TRUNKS)
			break;
		if (!t || !name_ok(t, strlen(t))) {
			ADD(rep, SEC, name, "outbound.trunk_name",
				   "%s: '%.40s' is not a trunk name.", name,
				   t ? t : "");
			err = EINVAL;
			continue;
		}
		snprintf(r->trunks[r->n_trunks++], sizeof(r->trunks[0]), "%s",
			 t);
	}
	d = cls ? dest_index(cls) : -1;
	if (d < 0) {
		ADD(rep, SEC, name, "outbound.class",
			   "%s: class= is one of local, national, "
			   "international, premium, emergency.", name);
		err = EINVAL;
	}
	r->dest = d < 0 ? SNAP_DEST_LOCAL : (uint8_t)d;
	r->emergency = json_is_true(json_object_get(o, "emergency")) ||
		d == SNAP_DEST_EMERGENCY;
	if (r->emergency && d >= 0 && d != SNAP_DEST_EMERGENCY) {
		ADD(rep, SEC, name, "outbound.emergency_class",
			   "%s: an emergency route reaches class emergency, "
			   "not %s.", name, cls);
		err = EINVAL;
	}
	if (strip < 0 || strip > OUT_PAT_MAX) {
		ADD(rep, SEC, name, "outbound.strip",
			   "%s: strip= is 0 to %d digits.", name, OUT_PAT_MAX);
		err = EINVAL;
	}
	r->strip = strip < 0 || strip > OUT_PAT_MAX ? 0 : (uint8_t)strip;
	if (pre && !prefix_ok(pre)) {
		ADD(rep, SEC, name, "outbound.prefix",
			   "%s: prefix= is up to %d of 0-9 + * #.", name,
			   OUT_PREFIX_MAX);
		err = EINVAL;
	}
	snprintf(r->prefix, sizeof(r->prefix), "%s",
		 pre && prefix_ok(pre) ? pre : "");
	r->order = order < -100000 || order > 100000 ? 0 : (int)order;
	return err;
}

/* "k=v;k=v" into a route object; errors name the key. */
static int route_parse(const char *name, const char *value, json_t *o,
		       struct report *r)
{
	const char *p = value;
	int err = 0;

	while (*p) {
		const char *semi = strchr(p, ';');
		const char *e = semi ? semi : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(e - p));
		size_t kl = eq ? (size_t)(eq - p) : 0;
		const char *v = eq ? eq + 1 : e;
		size_t vl = (size_t)(e - v);
		long n;

		while (kl && *p == ' ')
			p++, kl--;
		if (!eq) {
			if (e > p) {
				report_add(r, SEC, name, "outbound.syntax",
					   "%s: '%.*s' is not key=value.", name,
					   (int)((e - p) > 40 ? 40 : (e - p)),
					   p);
				err = EINVAL;
			}
		} else if (kl == 8 && !strncmp(p, "patterns", 8)) {
			json_object_set_new(o, "patterns", list_of(v, vl));
		} else if (kl == 6 && !strncmp(p, "trunks", 6)) {
			json_object_set_new(o, "trunks", list_of(v, vl));
		} else if (kl == 5 && !strncmp(p, "class", 5)) {
			json_object_set_new(o, "class", json_stringn(v, vl));
		} else if (kl == 6 && !strncmp(p, "prefix", 6)) {
			json_object_set_new(o, "prefix", json_stringn(v, vl));
		} else if ((kl == 5 && !strncmp(p, "strip", 5)) ||
			   (kl == 5 && !strncmp(p, "order", 5))) {
			bool strip = p[0] == 's';

			if (int_of(v, vl, strip ? 0 : -100000,
				   strip ? OUT_PAT_MAX : 100000, &n)) {
				report_add(r, SEC, name, strip ?
					   "outbound.strip" : "outbound.order",
					   strip ? "%s: strip= is 0 to 32 "
					   "digits." : "%s: order= is a whole "
					   "number (-100000 to 100000).", name);
				err = EINVAL;
			} else {
				json_object_set_new(o, strip ? "strip" :
						    "order", json_integer(n));
			}
		} else if (kl == 9 && !strncmp(p, "emergency", 9)) {
			bool yes = (vl == 3 && !strncmp(v, "yes", 3)) ||
				(vl == 4 && !strncmp(v, "true", 4));
			bool no = (vl == 2 && !strncmp(v, "no", 2)) ||
				(vl == 5 && !strncmp(v, "false", 5));

			if (!yes && !no) {
				report_add(r, SEC, name, "outbound.emergency",
					   "%s: emergency= is yes or no.", name);
				err = EINVAL;
			}
			json_object_set_new(o, "emergency", json_boolean(yes));
		} else {
			report_add(r, SEC, name, "outbound.unknown_key",
				   "%s: no key '%.*s' (keys: patterns, trunks, "
				   "class, strip, prefix, order, emergency).",
				   name, (int)(kl > 20 ? 20 : kl), p);
			err = EINVAL;
		}
		p = semi ? semi + 1 : e;
	}
	return err;
}

/* ---- the section ---- */

static json_t *or_defaults(void)
{
	return json_object();   /* no trunks, no routes */
}

static int or_set(json_t *obj, const char *key, const char *value,
		  struct report *r)
{
	struct out_route tmp;
	json_t *o;
	int err;

	if (!name_ok(key, strlen(key))) {
		report_add(r, SEC, key, "outbound.name_format",
			   "A route is named with 1 to %d of a-z, 0-9, _ "
			   "and -.", OUT_NAME_MAX);
		return EINVAL;
	}
	if (!strcmp(value, "-")) {
		json_object_del(obj, key);
		return 0;
	}
	o = json_pack("{s:[],s:[],s:s,s:i,s:s,s:i,s:b}", "patterns", "trunks",
		      "class", "", "strip", 0, "prefix", "", "order", 0,
		      "emergency", 0);
	if (!o)
		return ENOMEM;
	err = route_parse(key, value, o, r);
	if (!err)
		err = route_from(key, o, &tmp, r);
	if (err) {
		json_decref(o);
		return err;
	}
	json_object_set_new(obj, key, o);
	return 0;
}

static int or_validate(const json_t *obj, struct report *r)
{
	struct out_route tmp;
	const char *k;
	json_t *v;
	int err = 0;

	if (json_object_size(obj) > OUT_MAX_ROUTES) {
		report_add(r, SEC, "", "outbound.too_many",
			   "At most %d outbound routes.", OUT_MAX_ROUTES);
		err = EINVAL;
	}
	json_object_foreach((json_t *)obj, k, v)
		if (route_from(k, v, &tmp, r))
			err = EINVAL;
	return err;
}

/* Every trunk a route names must be configured: the "trunks" section
 * (trunk/trunk.h) holds "<trunk>.<field>" keys; a trunk exists when its
 * "<trunk>.host" does. */
static bool trunk_exists(const json_t *trunks, const char *name)
{
	char key[OUT_NAME_MAX + 8];
	const json_t *v;

	snprintf(key, sizeof(key), "%s.host", name);
	v = json_object_get(trunks, key);
	return v && !json_is_null(v);
}

static int or_validate_all(const json_t *obj, const json_t *all,
			   struct report *r)
{
	const json_t *trunks = json_object_get(all, "trunks");
	const char *k;
	json_t *v;
	int err = 0;

	json_object_foreach((json_t *)obj, k, v) {
		size_t i;
		json_t *t;

		json_array_foreach(json_object_get(v, "trunks"), i, t) {
			const char *tn = json_string_value(t);

			if (tn && strlen(tn) <= OUT_NAME_MAX &&
			    trunk_exists(trunks, tn))
				continue;
			report_add(r, SEC, k, "outbound.unknown_trunk",
				   "%s: there is no trunk '%.32s' (see "
				   "'bulwark settings show trunks').", k,
				   tn ? tn : "");
			err = EINVAL;
		}
	}
	return err;
}

static int route_cmp(const void *a, const void *b)
{
	const struct out_route *x = a, *y = b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void or_decode(const json_t *obj, void *out)
{
	struct out_routes *rs = out;
	const char *k;
	json_t *v;

	rs->n = 0;
	json_object_foreach((json_t *)obj, k, v) {
		if (rs->n >= OUT_MAX_ROUTES)
			break;
		/* committed objects were checked; a bad one is left out */
		if (!route_from(k, v, &rs->r[rs->n], NULL))
			rs->n++;
	}
	qsort(rs->r, rs->n, sizeof(rs->r[0]), route_cmp);
}

const struct store_section outbound_routes_section = {
	.name = SEC, .defaults = or_defaults, .set = or_set,
	.validate = or_validate, .validate_all = or_validate_all,
	.typed_size = sizeof(struct out_routes), .decode = or_decode,
	.routes = outbound_obj_routes,
};

const struct out_routes *outbound_routes_of(const struct snapshot *s)
{
	return snapshot_typed(s, SEC);
}

bool outbound_obj_routes(const json_t *obj, const char *number)
{
	struct out_route r;
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v)
		if (!route_from(k, v, &r, NULL) &&
		    outbound_route_matches(&r, number, strlen(number)))
			return true;
	return false;
}
