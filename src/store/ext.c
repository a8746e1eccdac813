/*
 * ext — the extension API of store.h: read one or all, add, edit, remove
 * one (each a single staging write; an extension built from API fields),
 * licences.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

/* ---- reading extensions ---- */

/* Full object of a row; secrets masked, or decrypted if reveal (web
 * password: never, it is a one-way hash). New ref. */
static json_t *row_public(struct store *s, struct ext_row *row, bool reveal)
{
	json_t *o = json_deep_copy(ext_row_obj(row));

	if (!o)
		return NULL;
	for (int i = 0; i < SEC_N; i++) {
		char *plain = NULL;

		if (!row->sec[i].p)
			continue;
		if (reveal && !store_secdefs[i].hashed &&
		    !store_open_blob(s, &row->sec[i], &plain)) {
			json_object_set_new(o, store_secdefs[i].field,
					    json_string(plain));
			store_wipe(plain);
		} else {
			json_object_set_new(o, store_secdefs[i].field,
					    json_string(STORE_MASK));
		}
	}
	return o;
}

int store_ext_get(struct store *s, const char *number, enum store_view v,
		  bool reveal, json_t **out)
{
	struct ext_row row;
	json_t *o;
	int err;

	if (!s || !number || !out)
		return EINVAL;
	pthread_mutex_lock(&s->lock);
	err = store_row_get(s, v, number, &row);
	if (err)
		goto out;
	o = row_public(s, &row, reveal);
	if (o && v == STORE_STAGED && json_object_get(o, "voicemail.pin"))
		json_object_set_new(o, "voicemail.must_change",
				    json_boolean(row.must_change));
	ext_row_clear(&row);
	if (!o) {
		err = ENOMEM;
		goto out;
	}
	*out = o;
 out:
	pthread_mutex_unlock(&s->lock);
	return err;
}

int store_number_cmp(const char *a, const char *b)
{
	const char *x = a, *y = b;
	size_t lx, ly;
	int c;

	while (*x == '0')
		x++;
	while (*y == '0')
		y++;
	lx = strlen(x);
	ly = strlen(y);
	if (lx != ly)
		return lx < ly ? -1 : 1;
	c = strcmp(x, y);
	return c ? c : strcmp(a, b);
}

static int row_number_cmp(const void *a, const void *b)
{
	return store_number_cmp(((const struct ext_row *)a)->number,
				((const struct ext_row *)b)->number);
}

int store_ext_list(struct store *s, enum store_view v, json_t **out)
{
	static const char *const summary[] = {
		"name", "class_of_service", "voicemail.enabled",
		"web.enabled",
	};
	struct ext_row *rows = NULL;
	size_t n = 0;
	json_t *a;
	int err;

	if (!s || !out)
		return EINVAL;
	pthread_mutex_lock(&s->lock);
	err = store_rows_load(s, v, &rows, &n);
	pthread_mutex_unlock(&s->lock);
	if (err)
		return err;
	/* the rows come in text order (the mirror's merge relies on it);
	 * people read numbers */
	if (n > 1)
		qsort(rows, n, sizeof(*rows), row_number_cmp);
	a = json_array();
	for (size_t i = 0; a && i < n; i++) {
		json_t *obj = ext_row_obj(&rows[i]);
		json_t *e = json_pack("{s:s,s:s}", "number", rows[i].number,
				      "type", model_type_name(rows[i].type));

		for (size_t k = 0; e && obj &&
		     k < sizeof(summary) / sizeof(summary[0]); k++) {
			json_t *val = json_object_get(obj, summary[k]);

			if (val)
				json_object_set(e, summary[k], val);
		}
		json_array_append_new(a, e);
	}
	store_rows_free(rows, n);
	if (!a)
		return ENOMEM;
	*out = a;
	return 0;
}

/* ---- public write paths ---- */

static const char *field_text(const json_t *fields, const char *name)
{
	return json_string_value(json_object_get(fields, name));
}

/* Number as text from a string or integer JSON value. */
static bool number_of(const json_t *v, char *buf, size_t sz)
{
	if (json_is_string(v))
		return (size_t)snprintf(buf, sz, "%s", json_string_value(v))
			< sz && buf[0];
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		return (size_t)snprintf(buf, sz, "%lld",
			 (long long)json_integer_value(v)) < sz;
	return false;
}

/* Build a new extension object from admin fields (add/import). where
 * labels findings; returns 0, EINVAL or EEXIST. */
int store_ext_from_fields(struct store *s, const json_t *fields,
			  const char *where, struct report *errs,
			  json_t **extp)
{
	char number[24];
	enum model_type t;
	json_t *ext = NULL;
	const char *type = field_text(fields, "type");
	size_t before = report_count(errs);

	if (!number_of(json_object_get(fields, "number"), number,
		       sizeof(number))) {
		report_add(errs, where, "number", "number.required",
			   "An extension number (digits, at most 23) is "
			   "required.");
		return EINVAL;
	}
	if (!where)
		where = number;
	if (!type || model_type_parse(type, &t)) {
		report_add(errs, where, "type", "type.invalid",
			   "Type must be one of sip, iax2, zap, voicemail, "
			   "hotdesk, virtual, ring_group, shared.");
		return EINVAL;
	}
	if (store_ext_exists(s, STORE_STAGED, number)) {
		report_add(errs, where, "number", "number.unique",
			   "Extension %s already exists.", number);
		return EEXIST;
	}
	if (model_new(&ext, number, t, field_text(fields, "name")))
		return ENOMEM;
	store_apply_fields(ext, t, fields, where, errs);
	model_apply_defaults(ext);
	if (report_count(errs) > before) {
		store_ext_wipe(ext);
		json_decref(ext);
		return EINVAL;
	}
	*extp = ext;
	return 0;
}

/* The common end of a single-extension write (add, edit), lock already
 * released: the findings go to the caller's report, and the secrets
 * generated now are handed over only on success, wiped otherwise. */
static int single_write_done(int err, struct report *errs,
			     struct report *warns, struct report *r,
			     json_t *gens, json_t **generated)
{
	report_merge(r, errs, NULL);
	report_merge(r, warns, NULL);
	if (!err && generated) {
		*generated = gens;
		gens = NULL;
	}
	store_ext_wipe(gens);
	json_decref(gens);
	return err;
}

/* A new extension with its mailbox on and no PIN gets a generated one
 * (shown once in *generated) rather than a refusal: a new administrator
 * should not have to invent a PIN to add a phone. Edits that clear the
 * PIN are still refused by the model (field.required). */
static bool needs_pin(const json_t *ext)
{
	const json_t *on = json_object_get(ext, "voicemail.enabled");
	const char *pin = json_string_value(json_object_get(ext,
							    "voicemail.pin"));

	return (json_is_true(on) || (json_is_string(on) &&
		!strcmp(json_string_value(on), "true"))) && (!pin || !*pin);
}

int store_ext_add(struct store *s, const json_t *fields, unsigned gen,
		  struct report *r, json_t **generated)
{
	struct report errs, warns;
	struct policy p;
	struct ext_row row;
	json_t *ext = NULL, *gens = NULL;
	const char *wh;
	int err;

	if (!s || !json_is_object(fields) || !r)
		return EINVAL;
	report_init(&errs);
	report_init(&warns);
	memset(&row, 0, sizeof(row));
	pthread_mutex_lock(&s->lock);
	err = store_policy_load(s, STORE_STAGED, &p);
	if (err)
		goto out;
	err = store_ext_from_fields(s, fields, NULL, &errs, &ext);
	if (err)
		goto out;
	wh = json_string_value(json_object_get(ext, "number"));
	if (needs_pin(ext))
		gen |= STORE_GEN_PIN;
	gens = json_object();
	err = gens ? store_generate(s, &p, ext, gen, gens) : ENOMEM;
	if (err)
		goto out;
	err = store_stage_prepare(s, &p, ext, NULL, wh, &errs, &warns, &row);
	if (err)
		goto out;
	err = store_check_unique(s, &p, &row, &wh, 1, &errs);
	if (!err && report_count(&errs))
		err = EINVAL;
	if (!err)
		err = store_rows_stage(s, &row, 1);
 out:
	pthread_mutex_unlock(&s->lock);
	ext_row_clear(&row);
	store_ext_wipe(ext);
	json_decref(ext);
	return single_write_done(err, &errs, &warns, r, gens, generated);
}

int store_ext_edit(struct store *s, const char *number, const json_t *changes,
		   unsigned gen, struct report *r, json_t **generated)
{
	struct report errs, warns;
	struct policy p;
	struct ext_row old, row;
	json_t *ext = NULL, *gens = NULL, *v;
	char num[24];
	int err;

	if (!s || !number || !json_is_object(changes) || !r)
		return EINVAL;
	report_init(&errs);
	report_init(&warns);
	memset(&row, 0, sizeof(row));
	memset(&old, 0, sizeof(old));
	pthread_mutex_lock(&s->lock);
	err = store_policy_load(s, STORE_STAGED, &p);
	if (err)
		goto out;
	err = store_row_get(s, STORE_STAGED, number, &old);
	if (err) {
		if (err == ENOENT)
			report_add(&errs, number, "number", "number.exists",
				   "There is no extension %.23s.", number);
		goto out;
	}
	v = json_object_get(changes, "number");
	if (v && (!number_of(v, num, sizeof(num)) || strcmp(num, number))) {
		report_add(&errs, number, "number", "number.immutable",
			   "The number of an extension cannot be changed; "
			   "add a new one and remove this one.");
		err = EINVAL;
		goto out;
	}
	v = json_object_get(changes, "type");
	if (v && (!json_is_string(v) ||
		  strcmp(json_string_value(v), model_type_name(old.type)))) {
		report_add(&errs, number, "type", "type.immutable",
			   "The type of an extension cannot be changed.");
		err = EINVAL;
		goto out;
	}
	ext = json_deep_copy(ext_row_obj(&old));
	if (!ext) {
		err = ENOMEM;
		goto out;
	}
	store_apply_fields(ext, old.type, changes, old.number, &errs);
	model_apply_defaults(ext);
	if (report_count(&errs)) {
		err = EINVAL;
		goto out;
	}
	gens = json_object();
	err = gens ? store_generate(s, &p, ext, gen, gens) : ENOMEM;
	if (err)
		goto out;
	err = store_stage_prepare(s, &p, ext, &old, old.number, &errs, &warns,
				  &row);
	if (err)
		goto out;
	if (json_object_get(ext, "auth.password")) {
		const char *wh = old.number;

		err = store_check_unique(s, &p, &row, &wh, 1, &errs);
	}
	if (!err && report_count(&errs))
		err = EINVAL;
	if (!err)
		err = store_rows_stage(s, &row, 1);
 out:
	pthread_mutex_unlock(&s->lock);
	ext_row_clear(&row);
	ext_row_clear(&old);
	store_ext_wipe(ext);
	json_decref(ext);
	return single_write_done(err, &errs, &warns, r, gens, generated);
}

/* Removal is staged unconditionally; an extension still referenced by
 * others (ring group / shared members, virtual destinations) makes the
 * *commit* fail through model_validate_set, naming the referrer. */
int store_ext_remove(struct store *s, const char *number, struct report *r)
{
	int err = 0;

	if (!s || !number)
		return EINVAL;
	pthread_mutex_lock(&s->lock);
	if (!store_ext_exists(s, STORE_STAGED, number)) {
		if (r)
			report_add(r, number, "number", "number.exists",
				   "There is no extension %.23s.", number);
		err = ENOENT;
	} else {
		err = store_row_delete(s, number);
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}

/* ---- licences ---- */

static int licences_of(struct store *s, enum store_view v,
		       struct model_licence_use *use, long *rings)
{
	struct ext_row *rows = NULL;
	json_t **objs = NULL;
	size_t n = 0;
	int err;

	memset(use, 0, sizeof(*use));
	*rings = 0;
	err = store_rows_load(s, v, &rows, &n);
	if (err)
		return err;
	objs = calloc(n + 1, sizeof(*objs));
	if (!objs) {
		err = ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		objs[i] = ext_row_obj(&rows[i]);
		if (rows[i].type == MODEL_RING_GROUP)
			(*rings)++;
	}
	model_licences(objs, n, use);
 out:
	free(objs);
	store_rows_free(rows, n);
	return err;
}

int store_licences(struct store *s, json_t **out)
{
	struct model_licence_use ru, su;
	long rr = 0, sr = 0;
	json_t *lim = NULL;
	int err;

	if (!s || !out)
		return EINVAL;
	pthread_mutex_lock(&s->lock);
	err = licences_of(s, STORE_RUNNING, &ru, &rr);
	if (!err)
		err = licences_of(s, STORE_STAGED, &su, &sr);
	if (!err)
		err = store_section_load(s, "limits", STORE_STAGED, &lim);
	pthread_mutex_unlock(&s->lock);
	if (err)
		return err;
	*out = json_pack("{s:{s:I,s:I,s:O},s:{s:I,s:I,s:O},s:I}",
			 "user", "used", (json_int_t)ru.user,
			 "staged", (json_int_t)su.user,
			 "limit", json_object_get(lim, "user"),
			 "shared", "used", (json_int_t)ru.shared,
			 "staged", (json_int_t)su.shared,
			 "limit", json_object_get(lim, "shared"),
			 "ring_group", (json_int_t)sr);
	json_decref(lim);
	return *out ? 0 : ENOMEM;
}
