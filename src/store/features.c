/*
 * features — feature codes and classes of service as configuration
 * objects: the "features" section (feature → dialled code) and the "cos"
 * section (class name → the features its extensions may use). The
 * call-features work gives them meaning at run time; until then they are
 * checked so that what is committed is already consistent: a code per
 * feature, no two features on one code, classes naming known features,
 * and (commit.c) every extension's class_of_service naming a class.
 */
#include <errno.h>
#include <string.h>

#include "store/store_int.h"

/* The catalogue of features and their default codes. A feature not listed
 * here cannot be configured: each needs code behind it. */
static const struct {
	const char *name;
	const char *code;
} feature_cat[] = {
	{ "voicemail", "*97" },   /* own mailbox */
	{ "hotdesk",   "*55" },   /* log in at this phone (manual) */
	{ "pickup",    "*8" },    /* answer a ringing phone of the group */
	{ "dnd",       "*78" },   /* do not disturb on/off */
	{ "forward",   "*72" },   /* immediate forwarding on/off */
	{ "intercom",  "*80" },   /* auto-answered internal call */
	{ "voicemail_login", "*98" },   /* any mailbox: number, then PIN */
	{ "hotdesk_logout", "*56" },    /* log the hotdesk user out */
	{ "camp_on",   "*82" },   /* call me back when the busy one frees */
};
#define N_FEATURES (sizeof(feature_cat) / sizeof(feature_cat[0]))
_Static_assert(N_FEATURES == SNAP_FEAT__COUNT,
	       "enum snap_feature follows feature_cat");

/* Destination classes a class of service may also list (enum snap_dest
 * order); only "internal" has calls behind it until trunks exist. */
static const char *const dest_cat[SNAP_DEST__COUNT] = {
	"internal", "local", "national", "international", "premium",
	"emergency",
};
#define COS_NAME_MAX 32

static int feature_index(const char *name, size_t len)
{
	for (size_t i = 0; i < N_FEATURES; i++)
		if (strlen(feature_cat[i].name) == len &&
		    !strncmp(feature_cat[i].name, name, len))
			return (int)i;
	return -1;
}

/* A name a class may list: a feature (its index) or a destination
 * class (N_FEATURES + its index); -1 if neither. */
static int cos_item_index(const char *name, size_t len)
{
	int fi = feature_index(name, len);

	if (fi >= 0)
		return fi;
	for (size_t i = 0; i < SNAP_DEST__COUNT; i++)
		if (strlen(dest_cat[i]) == len &&
		    !strncmp(dest_cat[i], name, len))
			return (int)(N_FEATURES + i);
	return -1;
}

static const char *cos_item_name(int i)
{
	return i < (int)N_FEATURES ? feature_cat[i].name :
		dest_cat[i - (int)N_FEATURES];
}

static void feature_list(char *buf, size_t sz)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < N_FEATURES && off < sz; i++) {
		int n = snprintf(buf + off, sz - off, "%s%s", i ? ", " : "",
				 feature_cat[i].name);

		if (n < 0)
			break;
		off += (size_t)n;
	}
}

/* "*" or "#", then 1 to 4 digits: what a phone's keypad dials. */
static bool code_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n > 5 || (s[0] != '*' && s[0] != '#'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* ---- "features" ---- */

static json_t *features_defaults(void)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < N_FEATURES; i++)
		json_object_set_new(o, feature_cat[i].name,
				    json_string(feature_cat[i].code));
	return o;
}

static int features_set(json_t *obj, const char *key, const char *value,
			struct report *r)
{
	char list[160];

	if (feature_index(key, strlen(key)) < 0) {
		feature_list(list, sizeof(list));
		report_add(r, "features", key, "features.unknown",
			   "There is no feature '%.40s' (features: %s).", key,
			   list);
		return ENOENT;
	}
	if (!code_ok(value)) {
		report_add(r, "features", key, "features.code_format",
			   "features.%s: a feature code is * or # and 1 to "
			   "4 digits, e.g. *97.", key);
		return EINVAL;
	}
	json_object_set_new(obj, key, json_string(value));
	return 0;
}

/* Two features on one code: the phone's dial would reach only one. */
static int features_validate(const json_t *obj, struct report *r)
{
	const char *k1, *k2;
	json_t *v1, *v2;
	int err = 0;

	json_object_foreach((json_t *)obj, k1, v1) {
		const char *c1 = json_string_value(v1);

		if (!c1 || !code_ok(c1)) {
			report_add(r, "features", k1, "features.code_format",
				   "features.%s: a feature code is * or # "
				   "and 1 to 4 digits.", k1);
			err = EINVAL;
			continue;
		}
		json_object_foreach((json_t *)obj, k2, v2) {
			if (k2 == k1)
				break;
			if (json_string_value(v2) &&
			    !strcmp(c1, json_string_value(v2))) {
				report_add(r, "features", k1,
					   "features.duplicate_code",
					   "features.%s: code %s is also "
					   "features.%s's.", k1, c1, k2);
				err = EINVAL;
			}
		}
	}
	return err;
}

static void features_decode(const json_t *obj, void *out)
{
	struct snap_features *f = out;

	for (size_t i = 0; i < N_FEATURES; i++) {
		const json_t *v = json_object_get(obj, feature_cat[i].name);
		const char *c = v ? json_string_value(v) : feature_cat[i].code;

		if (c && code_ok(c))
			snprintf(f->code[i], sizeof(f->code[i]), "%s", c);
	}
}

const struct store_section store_features_section = {
	.name = "features", .defaults = features_defaults,
	.set = features_set, .validate = features_validate,
	.typed_size = sizeof(struct snap_features), .decode = features_decode,
};

/* ---- "cos" ---- */

static json_t *cos_defaults(void)
{
	char all[160] = "";
	size_t off = 0;

	for (size_t i = 0; i < N_FEATURES; i++) {
		int n = snprintf(all + off, sizeof(all) - off, "%s%s",
				 i ? "," : "", feature_cat[i].name);

		if (n > 0 && (size_t)n < sizeof(all) - off)
			off += (size_t)n;
	}
	/* "default" is every extension's class (model default) */
	/* every internal call stays allowed: "internal" in both; the other
	 * destination classes wait for trunks */
	return json_pack("{s:s+,s:s}", "default", all,
			 ",internal,local,national,international,emergency",
			 "restricted", "voicemail,internal,emergency");
}

static bool cos_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > COS_NAME_MAX)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return false;
	return true;
}

/* NAME=feature,feature (or empty: no features); NAME=- removes the class
 * (kept as null, so that a default class stays removed). */
static int cos_set(json_t *obj, const char *key, const char *value,
		   struct report *r)
{
	char out[256] = "", list[160];
	size_t off = 0;
	const char *p = value;
	unsigned seen = 0;      /* a feature named twice is kept once */
	int err = 0;

	if (!cos_name_ok(key)) {
		report_add(r, "cos", key, "cos.name_format",
			   "A class of service is named with 1 to %d "
			   "letters, digits, _ and -.", COS_NAME_MAX);
		return EINVAL;
	}
	if (!strcmp(value, "-")) {
		json_object_set_new(obj, key, json_null());
		return 0;
	}
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		int fi;

		while (len && *p == ' ')
			p++, len--;
		while (len && p[len - 1] == ' ')
			len--;
		fi = cos_item_index(p, len);
		if (fi < 0) {
			feature_list(list, sizeof(list));
			report_add(r, "cos", key, "cos.unknown_feature",
				   "cos.%s: '%.*s' is not a feature (features: "
				   "%s) nor a destination class (internal, "
				   "local, national, international, premium, "
				   "emergency).", key,
				   (int)(len > 40 ? 40 : len), p, list);
			err = EINVAL;
		} else if (!(seen & (1u << fi))) {
			int n = snprintf(out + off, sizeof(out) - off, "%s%s",
					 off ? "," : "", cos_item_name(fi));

			if (n > 0 && (size_t)n < sizeof(out) - off)
				off += (size_t)n;
			seen |= 1u << fi;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	if (err)
		return err;
	json_object_set_new(obj, key, json_string(out));
	return 0;
}

/* Each class as a bit mask of what it lists (struct snap_cos). */
static void cos_decode(const json_t *obj, void *out)
{
	struct snap_cos *c = out;
	json_t *def = obj ? NULL : cos_defaults();
	const char *k;
	json_t *v;

	json_object_foreach(obj ? (json_t *)obj : def, k, v) {
		const char *p = json_string_value(v);
		uint32_t allow = 0;

		if (!p || strlen(k) >= sizeof(c->cls[0].name) ||
		    c->n >= SNAP_COS_MAX)
			continue;   /* removed (null) or beyond the bound */
		while (*p) {
			const char *comma = strchr(p, ',');
			size_t len = comma ? (size_t)(comma - p) : strlen(p);
			int i = cos_item_index(p, len);

			if (i >= 0)
				allow |= 1u << i;
			if (!comma)
				break;
			p = comma + 1;
		}
		snprintf(c->cls[c->n].name, sizeof(c->cls[0].name), "%s", k);
		c->cls[c->n++].allow = allow;
	}
	json_decref(def);
}

const struct store_section store_cos_section = {
	.name = "cos", .defaults = cos_defaults, .set = cos_set,
	.typed_size = sizeof(struct snap_cos), .decode = cos_decode,
};

/* ---- commit: every extension's class must exist ---- */

void store_cos_check(const json_t *cos, json_t *const *objs, size_t n,
		     struct report *errs)
{
	for (size_t i = 0; i < n; i++) {
		const char *num = json_string_value(json_object_get(objs[i],
							"number"));
		const json_t *c = json_object_get(objs[i], "class_of_service");
		const char *name = json_string_value(c);
		const json_t *v;

		if (!name)      /* absent: the model's default, "default" */
			name = "default";
		v = json_object_get(cos, name);
		if (v && !json_is_null(v))
			continue;
		report_add(errs, num ? num : "", "class_of_service",
			   "cos.unknown", "class_of_service: there is no "
			   "class of service '%.32s' (see 'bulwark settings "
			   "show cos')", name);
	}
}
