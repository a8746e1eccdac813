/*
 * model_set — the checks over a whole configuration (model.h
 * model_validate_set): numbers and web usernames unique, zap channels
 * unique and one card vendor, references to other extensions resolved
 * and of the right type, licences counted against the limits. Pure, like
 * model.c, whose per-value helpers it shares (model_int.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/model_int.h"

/* ---- licences -------------------------------------------------------------- */

static const unsigned user_licence = MODEL_T(MODEL_SIP) | MODEL_T(MODEL_IAX2) |
	MODEL_T(MODEL_ZAP) | MODEL_T(MODEL_VOICEMAIL) | MODEL_T(MODEL_HOTDESK) |
	MODEL_T(MODEL_VIRTUAL);

void model_licences(json_t *const *exts, size_t n,
		    struct model_licence_use *use)
{
	use->user = use->shared = 0;
	for (size_t i = 0; i < n; i++) {
		int t = model_ext_type(exts[i]);

		if (t < 0)
			continue;
		if (user_licence & MODEL_T(t))
			use->user++;
		else if (t == MODEL_SHARED)
			use->shared++;
	}
}

/* ---- validation of a whole configuration -------------------------------- */

struct key_ent {
	const char *s;   /* number / web username; NULL when keyed by n */
	long n;          /* zap channel */
	size_t idx;
};

static int cmp_str_ent(const void *a, const void *b)
{
	const struct key_ent *x = a, *y = b;
	int c = strcmp(x->s, y->s);

	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int cmp_num_ent(const void *a, const void *b)
{
	const struct key_ent *x = a, *y = b;

	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int cmp_find(const void *key, const void *ent)
{
	return strcmp(key, ((const struct key_ent *)ent)->s);
}

struct set_ctx {
	json_t *const *exts;
	size_t n;
	int *types;
	struct key_ent *nums;  /* sorted by number */
	size_t n_nums;
	struct key_ent *web;   /* web usernames */
	size_t n_web;
	struct key_ent *zap;   /* zap channels */
	size_t n_zap;
	long first_vendor[2];  /* first sangoma, first digium extension */
	char (*where)[32];
	struct report *r;
	const struct model_limits *lim;   /* outbound (issue 15): routed */
	struct {                /* indices of the fields read, in vals[] */
		long number, web_user, zap_channel, zap_vendor;
	} idx;
};

static void types_text(unsigned mask, char *buf, size_t sz)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned t = 0; t < MODEL_TYPE_COUNT && off < sz; t++) {
		int k;

		if (!(mask & MODEL_T(t)))
			continue;
		k = snprintf(buf + off, sz - off, "%s%s", off ? ", " : "",
			     model_type_name((enum model_type)t));
		if (k < 0)
			break;
		off += (size_t)k;
	}
}

static bool has_mailbox(const json_t *ext, int t)
{
	const json_t *v;

	if (!(model_field_find("voicemail.enabled")->types & MODEL_T(t)))
		return false;
	v = json_object_get(ext, "voicemail.enabled");
	return !v || json_is_null(v) || json_is_true(v);  /* default true */
}

static void check_ref(struct set_ctx *c, size_t i, const char *self,
		      const struct model_field *f, const char *target)
{
	const struct key_ent *e;
	char buf[160];
	int tt;

	/* an external number needs a trunk to be reached, and there are
	 * none yet (issue 15): refused, so that no call is promised that
	 * cannot be placed. Bad forms and self references were reported by
	 * validate_one. */
	if (f->form == MODEL_FORM_DEST && !model_is_ext_number(target) && *target) {
		/* outbound (issue 15): a forward that a route takes: the
		 * call leaves on a trunk, counted against this extension
		 * (follow-me lists and group members ring extensions only) */
		if (!strncmp(f->name, "user.forward.", 13) &&
		    c->lim && c->lim->routed &&
		    c->lim->routed(target, c->lim->routed_arg))
			return;
		report_add(c->r, c->where[i], f->name, "dest.external_no_trunk",
			   "%s: %.24s is an external number; calls to external "
			   "numbers need a trunk, and none is configured",
			   f->name, target);
		return;
	}
	if (!model_is_ext_number(target) || !strcmp(target, self))
		return;
	e = bsearch(target, c->nums, c->n_nums, sizeof(*c->nums), cmp_find);
	if (!e) {
		report_add(c->r, c->where[i], f->name, "ref.missing",
			   "%s: extension %s does not exist", f->name, target);
		return;
	}
	tt = c->types[e->idx];
	if (tt < 0)
		return;   /* the target's own findings say why */
	if (f->form == MODEL_FORM_EXT_REF && f->ref_types &&
	    !(f->ref_types & MODEL_T(tt))) {
		types_text(f->ref_types, buf, sizeof(buf));
		report_add(c->r, c->where[i], f->name, "ref.type",
			   "%s: extension %s is a %s extension; it must be "
			   "one of: %s", f->name, target, model_type_name((enum model_type)tt), buf);
	} else if (f->form == MODEL_FORM_MAILBOX_REF &&
		   !has_mailbox(c->exts[e->idx], tt)) {
		report_add(c->r, c->where[i], f->name, "ref.no_mailbox",
			   "%s: extension %s has no mailbox", f->name,
			   target);
	}
}

/* Cross-extension facts of extension i, from its checked values. */
static void collect(struct set_ctx *c, size_t i, int t, const json_t **vals)
{
	const json_t *web = vals[c->idx.web_user];
	const char *self = json_string_value(vals[c->idx.number]);

	if (!self)
		return;
	for (size_t k = 0; k < model_field_count; k++) {
		const struct model_field *f = &model_fields[k];
		const json_t *it;
		size_t j;

		if (!vals[k] || !model_is_ref_form(f->form))
			continue;
		if (json_is_string(vals[k]))
			check_ref(c, i, self, f, json_string_value(vals[k]));
		json_array_foreach(vals[k], j, it)
			check_ref(c, i, self, f, json_string_value(it));
	}
	if (web && json_string_length(web))
		c->web[c->n_web++] = (struct key_ent){
			json_string_value(web), 0, i };
	if (t == MODEL_ZAP) {
		const char *vendor =
			json_string_value(vals[c->idx.zap_vendor]);
		const json_t *chan = vals[c->idx.zap_channel];

		if (vendor && !strcmp(vendor, "sangoma") &&
		    c->first_vendor[0] < 0)
			c->first_vendor[0] = (long)i;
		if (vendor && !strcmp(vendor, "digium") &&
		    c->first_vendor[1] < 0)
			c->first_vendor[1] = (long)i;
		if (chan)
			c->zap[c->n_zap++] = (struct key_ent){ NULL,
				(long)json_integer_value(chan), i };
	}
}

static void check_duplicates(struct set_ctx *c)
{
	qsort(c->zap, c->n_zap, sizeof(*c->zap), cmp_num_ent);
	for (size_t k = 1; k < c->n_zap; k++) {
		if (c->zap[k].n == c->zap[k - 1].n)
			report_add(c->r, c->where[c->zap[k].idx],
				   "zap.channel", "zap.channel_duplicate",
				   "zap.channel %ld is already used by "
				   "extension %s", c->zap[k].n,
				   c->where[c->zap[k - 1].idx]);
	}
	if (c->first_vendor[0] >= 0 && c->first_vendor[1] >= 0) {
		long a = c->first_vendor[0], b = c->first_vendor[1];

		report_add(c->r, c->where[a > b ? a : b], "zap.card_vendor",
			   "zap.vendor_mixed",
			   "Sangoma (extension %s) and Digium (extension %s) "
			   "cards cannot co-exist in one server",
			   c->where[a], c->where[b]);
	}
	qsort(c->web, c->n_web, sizeof(*c->web), cmp_str_ent);
	for (size_t k = 1; k < c->n_web; k++) {
		char buf[40];

		if (!strcmp(c->web[k].s, c->web[k - 1].s))
			report_add(c->r, c->where[c->web[k].idx],
				   "web.username", "web.username_duplicate",
				   "web.username '%s' is already used by "
				   "extension %s",
				   model_shown(buf, sizeof(buf), c->web[k].s),
				   c->where[c->web[k - 1].idx]);
	}
}

static void check_licences(struct set_ctx *c,
			   const struct model_limits *lim)
{
	struct model_licence_use use = { 0, 0 };

	if (!lim)
		return;
	for (size_t i = 0; i < c->n; i++) {
		if (c->types[i] < 0)
			continue;
		if (user_licence & MODEL_T(c->types[i]))
			use.user++;
		else if (c->types[i] == MODEL_SHARED)
			use.shared++;
	}
	if (lim->user >= 0 && use.user > lim->user)
		report_add(c->r, "licence", "type", "licence.user",
			   "the configuration needs %ld User licences; the "
			   "limit is %ld", use.user, lim->user);
	if (lim->shared >= 0 && use.shared > lim->shared)
		report_add(c->r, "licence", "type", "licence.shared",
			   "the configuration needs %ld Shared Device "
			   "licences; the limit is %ld", use.shared,
			   lim->shared);
}

int model_validate_set(json_t *const *exts, size_t n,
		       const struct model_limits *lim, struct report *r)
{
	struct set_ctx c = { .exts = exts, .n = n, .r = r,
			     .first_vendor = { -1, -1 }, .lim = lim };
	const json_t *vals[MODEL_FIELDS_MAX];
	size_t before = report_count(r), cnt = n ? n : 1;
	int err = 0;

	if (n && !exts)
		return EINVAL;
	c.idx.number = model_idx("number");
	c.idx.web_user = model_idx("web.username");
	c.idx.zap_channel = model_idx("zap.channel");
	c.idx.zap_vendor = model_idx("zap.card_vendor");
	c.types = calloc(cnt, sizeof(*c.types));
	c.nums = calloc(cnt, sizeof(*c.nums));
	c.web = calloc(cnt, sizeof(*c.web));
	c.zap = calloc(cnt, sizeof(*c.zap));
	c.where = calloc(cnt, sizeof(*c.where));
	if (!c.types || !c.nums || !c.web || !c.zap || !c.where) {
		err = ENOMEM;
		goto out;
	}

	/* pass 1: numbers and types, so that references can be resolved */
	for (size_t i = 0; i < n; i++) {
		const char *num = json_string_value(json_object_get(exts[i],
								    "number"));

		if (num && *num) {
			model_shown(c.where[i], sizeof(c.where[i]), num);
			c.nums[c.n_nums++] = (struct key_ent){ num, 0, i };
		} else {
			snprintf(c.where[i], sizeof(c.where[i]), "item %zu",
				 i + 1);
		}
		c.types[i] = model_ext_type(exts[i]);
	}
	qsort(c.nums, c.n_nums, sizeof(*c.nums), cmp_str_ent);
	for (size_t k = 1; k < c.n_nums; k++) {
		if (!strcmp(c.nums[k].s, c.nums[k - 1].s))
			report_add(r, c.where[c.nums[k].idx], "number",
				   "number.unique",
				   "extension number %s is used more than "
				   "once (items %zu and %zu)",
				   c.where[c.nums[k].idx], c.nums[k - 1].idx + 1,
				   c.nums[k].idx + 1);
	}

	/* pass 2: each extension alone, then its references */
	for (size_t i = 0; i < n; i++) {
		struct report one;
		int t;

		report_init(&one);
		t = model_validate_one(exts[i], &one, vals);
		report_merge(r, &one, c.where[i]);
		if (t >= 0)
			collect(&c, i, t, vals);
	}

	check_duplicates(&c);
	check_licences(&c, lim);
	err = report_count(r) > before ? EINVAL : 0;
out:
	free(c.types);
	free(c.nums);
	free(c.web);
	free(c.zap);
	free(c.where);
	return err;
}
