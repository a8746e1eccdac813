/*
 * bulk — the "Add Multiple Extensions" wizard: a range of numbers, fields
 * copied from a template extension, a generated name, password and PIN
 * each. All or nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

/* Fields a template never passes on: identity, secrets, and values that
 * belong to one extension only. Fields whose default is derived from the
 * number or name ("{number}", "{name}") are skipped too. */
static const char *const not_copied[] = {
	"number", "name", "type", "phone.host_ip", "phone.host_mode",
	"voicemail.email", "web.username", "web.enabled",
};

static bool copied(const struct model_field *f)
{
	if (f->kind == MODEL_SECRET)
		return false;
	if (f->def && (strstr(f->def, "{number}") || strstr(f->def, "{name}")))
		return false;
	for (size_t i = 0; i < sizeof(not_copied) / sizeof(not_copied[0]); i++)
		if (!strcmp(f->name, not_copied[i]))
			return false;
	return true;
}

/* "Extension " + the digits spelled as one word, each capitalised so the
 * digits can be read back: 201 → "Extension TwoZeroOne" ("Twozeroone"
 * could not). Letters only with exactly one space, so it passes the full
 * name rule (8 digits: at most 50 characters), and it is unique per
 * number. */
static void store_bulk_name(const char *number, char *buf, size_t sz)
{
	static const char *const words[] = {"Zero", "One", "Two", "Three",
		"Four", "Five", "Six", "Seven", "Eight", "Nine"};
	size_t off = (size_t)snprintf(buf, sz, "Extension ");

	for (const char *p = number; *p && off < sz; p++) {
		if (*p < '0' || *p > '9')
			continue;
		off += (size_t)snprintf(buf + off, sz - off, "%s",
					words[*p - '0']);
	}
}

int store_ext_bulk(struct store *s, const char *type, unsigned first,
		   unsigned last, const char *template_number,
		   struct report *r, json_t **created)
{
	struct report errs, warns;
	struct policy p;
	struct ext_row tmpl, *rows = NULL;
	json_t *tobj = NULL, *out = NULL;
	enum model_type t;
	size_t n = 0, cnt;
	int err = 0;

	if (!s || !type || !r)
		return EINVAL;
	report_init(&errs);
	report_init(&warns);
	memset(&tmpl, 0, sizeof(tmpl));
	if (model_type_parse(type, &t)) {
		report_add(r, "", "type", "type.invalid", "Unknown extension "
			   "type '%.20s'.", type);
		return EINVAL;
	}
	if (last < first || last - first >= STORE_BULK_MAX) {
		report_add(r, "", "number", "bulk.range", "The range must run "
			   "from first to last, at most %u numbers.",
			   STORE_BULK_MAX);
		return EINVAL;
	}
	cnt = (size_t)(last - first) + 1;
	pthread_mutex_lock(&s->lock);
	err = store_policy_load(s, STORE_STAGED, &p);
	if (err)
		goto out;
	if (template_number && *template_number) {
		err = store_row_get(s, STORE_STAGED, template_number, &tmpl);
		if (err) {
			if (err == ENOENT)
				report_add(&errs, template_number, "template",
					   "number.exists", "There is no "
					   "extension %.23s to copy.",
					   template_number);
			goto out;
		}
		tobj = ext_row_obj(&tmpl);
	}
	for (size_t i = 0; i < cnt; i++) {
		char num[24];

		snprintf(num, sizeof(num), "%u", first + (unsigned)i);
		if (store_ext_exists(s, STORE_STAGED, num))
			report_add(&errs, num, "number", "number.unique",
				   "Extension %s already exists.", num);
	}
	if (report_count(&errs)) {
		err = EEXIST;
		goto out;
	}
	rows = calloc(cnt, sizeof(*rows));
	out = json_array();
	if (!rows || !out) {
		err = ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < cnt; i++) {
		char num[24], name[80];
		json_t *ext = NULL, *gens = json_object(), *item;
		const char *key;
		json_t *v;

		snprintf(num, sizeof(num), "%u", first + (unsigned)i);
		store_bulk_name(num, name, sizeof(name));
		if (!gens || model_new(&ext, num, t, name)) {
			json_decref(gens);
			err = ENOMEM;
			goto out;
		}
		json_object_foreach(tobj, key, v) {
			const struct model_field *f = model_field_find(key);

			if (f && copied(f) && model_type_has(t, f))
				json_object_set(ext, key, v);
		}
		err = store_generate(s, &p, ext, STORE_GEN_PASSWORD |
				     STORE_GEN_PIN, gens);
		if (!err)
			err = store_stage_prepare(s, &p, ext, NULL, num, &errs,
						  &warns, &rows[n]);
		store_ext_wipe(ext);
		json_decref(ext);
		if (!err) {
			n++;
			json_t *shown = json_deep_copy(gens);

			/* the reply gets its own copies: gens is wiped below */
			item = json_pack("{s:s}", "number", num);
			json_object_update(item, shown);
			json_decref(shown);
			json_array_append_new(out, item);
		}
		store_ext_wipe(gens);
		json_decref(gens);
		if (err)
			goto out;
	}
	err = store_rows_stage(s, rows, n);
 out:
	pthread_mutex_unlock(&s->lock);
	store_rows_free(rows, n);
	ext_row_clear(&tmpl);
	report_merge(r, &errs, NULL);
	report_merge(r, &warns, NULL);
	if (!err && created) {
		*created = out;
		out = NULL;
	}
	if (out) {
		size_t i;
		json_t *v;

		json_array_foreach(out, i, v)
			store_ext_wipe(v);
	}
	json_decref(out);
	store_trim();
	return err;
}
