/*
 * sections — registry of settings sections and the two the store owns:
 * "policy" (every policy key) and "limits" (licence limits).
 *
 * A section is stored as one flat JSON object per view (section_staged,
 * section_running). Reading overlays the stored object on the section's
 * defaults, so keys added by a newer version appear with their default.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/settings.h"
#include "store/store_int.h"

static const struct store_section *sections[STORE_MAX_SECTIONS];
static size_t n_sections;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

char *store_scalar_text(const json_t *v)
{
	char buf[64];

	switch (json_typeof(v)) {
	case JSON_STRING:
		return strdup(json_string_value(v));
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%lld",
			 (long long)json_integer_value(v));
		return strdup(buf);
	case JSON_REAL:
		snprintf(buf, sizeof(buf), "%g", json_real_value(v));
		return strdup(buf);
	case JSON_TRUE:
		return strdup("true");
	case JSON_FALSE:
		return strdup("false");
	default:
		return strdup("");
	}
}

/* ---- "policy" ---- */

void store_policy_from(const json_t *obj, struct policy *p)
{
	struct report tmp;
	const char *key;
	json_t *v;

	policy_defaults(p);
	if (!obj)
		return;
	report_init(&tmp);
	json_object_foreach((json_t *)obj, key, v) {
		char *t = store_scalar_text(v);

		if (t)
			policy_set(p, key, t, &tmp);
		free(t);
	}
	report_reset(&tmp);
}

static json_t *policy_to_json(const struct policy *p)
{
	json_t *o = json_object();
	char buf[32];

	if (!o)
		return NULL;
	for (size_t i = 0; i < policy_key_count; i++) {
		const struct policy_key *k = &policy_keys[i];

		if (policy_get(p, k->key, buf, sizeof(buf)))
			continue;
		if (k->kind == POLICY_BOOL)
			json_object_set_new(o, k->key,
					    json_boolean(!strcmp(buf, "true")));
		else
			json_object_set_new(o, k->key,
					    json_integer(strtoll(buf, NULL, 10)));
	}
	return o;
}

static json_t *policy_sec_defaults(void)
{
	struct policy p;

	policy_defaults(&p);
	return policy_to_json(&p);
}

static int policy_sec_set(json_t *obj, const char *key, const char *value,
			  struct report *r)
{
	struct policy p;
	json_t *n;
	int err;

	store_policy_from(obj, &p);
	err = policy_set(&p, key, value, r);
	if (err)
		return err;
	n = policy_to_json(&p);
	if (!n)
		return ENOMEM;
	json_object_update(obj, n);
	json_decref(n);
	return 0;
}

static int policy_sec_validate(const json_t *obj, struct report *r)
{
	struct policy p;

	store_policy_from(obj, &p);
	return policy_validate(&p, r);
}

/* The policy keeps its own table type (policy/policy.h: the setter and
 * the whole-policy rules are the policy's); the GUI schema reads it as a
 * settings table like every other section's, built once from
 * policy_keys. Its values live in struct policy, not at an offset. */
#define POLICY_KEYS_MAX 64
static struct setting_def policy_defs[POLICY_KEYS_MAX];
static struct settings_table policy_table = {
	.section = "policy", .defs = policy_defs,
};
static pthread_once_t policy_table_once = PTHREAD_ONCE_INIT;

static void policy_table_init(void)
{
	struct policy p;
	char buf[32];
	size_t n = 0;

	policy_defaults(&p);
	for (size_t i = 0; i < policy_key_count && n < POLICY_KEYS_MAX; i++) {
		const struct policy_key *k = &policy_keys[i];
		struct setting_def *d = &policy_defs[n++];

		if (policy_get(&p, k->key, buf, sizeof(buf)))
			buf[0] = '\0';
		*d = (struct setting_def){ .name = k->key, .module = "policy",
					   .help = k->help };
		if (k->kind == POLICY_BOOL) {
			d->type = SETTING_BOOL;
			d->def = !strcmp(buf, "true");
			d->max = 1;
		} else {
			d->type = SETTING_INT;
			d->def = strtoll(buf, NULL, 10);
			d->min = k->min;
			d->max = k->max;
		}
	}
	policy_table.n = n;   /* complete: visible from here on */
}

static json_t *policy_sec_defaults_once(void)
{
	pthread_once(&policy_table_once, policy_table_init);
	return policy_sec_defaults();
}

static const struct store_section policy_section = {
	.name = "policy", .defaults = policy_sec_defaults_once,
	.set = policy_sec_set, .validate = policy_sec_validate,
	.table = &policy_table,
};

/* ---- "limits" ---- */

static json_t *limits_defaults(void)
{
	return json_pack("{s:I,s:I}", "user", (json_int_t)-1,
			 "shared", (json_int_t)-1);
}

static int limits_set(json_t *obj, const char *key, const char *value,
		      struct report *r)
{
	char *end = NULL;
	long long v;

	if (strcmp(key, "user") && strcmp(key, "shared")) {
		report_add(r, "limits", key, "section.unknown_key",
			   "limits has no key '%.40s' (keys: user, shared).",
			   key);
		return ENOENT;
	}
	errno = 0;
	v = strtoll(value, &end, 10);
	if (!*value || *end || errno || v < -1 || v > 1000000000) {
		report_add(r, "limits", key, "limits.range",
			   "limits.%s must be an integer from -1 (unlimited) "
			   "up.", key);
		return EINVAL;
	}
	json_object_set_new(obj, key, json_integer(v));
	return 0;
}

static int limits_validate(const json_t *obj, struct report *r)
{
	const char *keys[] = {"user", "shared"};
	int err = 0;

	for (size_t i = 0; i < 2; i++) {
		json_t *v = json_object_get(obj, keys[i]);

		if (!json_is_integer(v) || json_integer_value(v) < -1) {
			report_add(r, "limits", keys[i], "limits.range",
				   "limits.%s must be an integer from -1 "
				   "(unlimited) up.", keys[i]);
			err = EINVAL;
		}
	}
	return err;
}

static const struct store_section limits_section = {
	.name = "limits", .defaults = limits_defaults,
	.set = limits_set, .validate = limits_validate,
};

/* ---- registry ---- */

static int reg_locked(const struct store_section *sec)
{
	for (size_t i = 0; i < n_sections; i++) {
		if (!strcmp(sections[i]->name, sec->name)) {
			sections[i] = sec;
			return 0;
		}
	}
	if (n_sections >= STORE_MAX_SECTIONS)
		return ENOSPC;
	sections[n_sections++] = sec;
	return 0;
}

static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

static void builtin_init(void)
{
	pthread_mutex_lock(&reg_lock);
	reg_locked(&policy_section);
	reg_locked(&limits_section);
	reg_locked(&store_features_section);
	reg_locked(&store_cos_section);
	pthread_mutex_unlock(&reg_lock);
}

void store_sections_builtin(void)
{
	pthread_once(&builtin_once, builtin_init);
}

int store_section_register(const struct store_section *sec)
{
	int err;

	if (!sec || !sec->name || !sec->defaults)
		return EINVAL;
	store_sections_builtin();
	pthread_mutex_lock(&reg_lock);
	err = reg_locked(sec);
	pthread_mutex_unlock(&reg_lock);
	return err;
}

size_t store_section_count(void)
{
	size_t n;

	store_sections_builtin();
	pthread_mutex_lock(&reg_lock);
	n = n_sections;
	pthread_mutex_unlock(&reg_lock);
	return n;
}

const struct store_section *store_section_at(size_t i)
{
	const struct store_section *sec = NULL;

	pthread_mutex_lock(&reg_lock);
	if (i < n_sections)
		sec = sections[i];
	pthread_mutex_unlock(&reg_lock);
	return sec;
}

const struct store_section *store_section_lookup(const char *name)
{
	size_t n = store_section_count();

	for (size_t i = 0; i < n; i++) {
		const struct store_section *sec = store_section_at(i);

		if (sec && !strcmp(sec->name, name))
			return sec;
	}
	return NULL;
}

const struct settings_table *store_section_table(const char *name)
{
	const struct store_section *sec = store_section_lookup(name);

	return sec ? sec->table : NULL;
}

json_t *store_section_names(void)
{
	size_t n = store_section_count();
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(store_section_at(i)->name));
	return a;
}

/* ---- storage ---- */

static const char *sec_table(enum store_view v)
{
	return v == STORE_RUNNING ? "section_running" : "section_staged";
}

int store_section_load(struct store *s, const char *name, enum store_view v,
		       json_t **out)
{
	const struct store_section *sec = store_section_lookup(name);
	sqlite3_stmt *st = NULL;
	char sql[96];
	json_t *obj;
	int rc, err = 0;

	if (!sec)
		return ENOENT;
	obj = sec->defaults();
	if (!obj)
		return ENOMEM;
	snprintf(sql, sizeof(sql), "SELECT doc FROM %s WHERE name = ?",
		 sec_table(v));
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		err = EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *doc = (const char *)sqlite3_column_text(st, 0);
		json_t *stored = doc ? json_loads(doc, 0, NULL) : NULL;

		if (json_is_object(stored))
			json_object_update(obj, stored);
		json_decref(stored);
	} else if (rc != SQLITE_DONE) {
		err = EIO;
	}
 out:
	sqlite3_finalize(st);
	if (err) {
		json_decref(obj);
		return err;
	}
	*out = obj;
	return 0;
}

int store_sections_load(struct store *s, enum store_view v, json_t **out)
{
	size_t n = store_section_count();
	json_t *all = json_object();
	int err = 0;

	if (!all)
		return ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct store_section *sec = store_section_at(i);
		json_t *o = NULL;

		err = store_section_load(s, sec->name, v, &o);
		if (err)
			break;
		json_object_set_new(all, sec->name, o);
	}
	if (err) {
		json_decref(all);
		return err;
	}
	*out = all;
	return 0;
}

int store_policy_load(struct store *s, enum store_view v, struct policy *p)
{
	json_t *o = NULL;
	int err = store_section_load(s, "policy", v, &o);

	if (err)
		return err;
	store_policy_from(o, p);
	json_decref(o);
	return 0;
}

void store_realm_from(const json_t *secs, char *buf, size_t sz)
{
	const json_t *r = json_object_get(json_object_get(secs, "sip"),
					  "realm");
	const char *v = json_string_value(r);

	snprintf(buf, sz, "%s", v && *v ? v : STORE_DEFAULT_REALM);
}

static int section_write(struct store *s, const char *name, const json_t *obj)
{
	sqlite3_stmt *st = NULL;
	char *doc = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	int err = 0;

	if (!doc)
		return ENOMEM;
	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO section_staged"
			       "(name, doc) VALUES (?, ?)", -1, &st, NULL)
	    != SQLITE_OK) {
		err = EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, doc, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = store_db_fail(s, 0);
	else
		store_health_ok(STORE_HS_CONFIG);   /* autocommit: written */
 out:
	sqlite3_finalize(st);
	free(doc);
	return err;
}

int store_section_get_sealed(struct store *s, const char *section,
			     enum store_view v, json_t **out)
{
	int err;

	if (!s || !section || !out)
		return EINVAL;
	pthread_mutex_lock(&s->lock);
	err = store_section_load(s, section, v, out);
	pthread_mutex_unlock(&s->lock);
	return err;
}

int store_section_get(struct store *s, const char *section, enum store_view v,
		      json_t **out)
{
	int err = store_section_get_sealed(s, section, v, out);

	if (!err)
		store_section_mask(store_section_lookup(section), *out);
	return err;
}

int store_section_set(struct store *s, const char *section, const char *key,
		      const char *value, struct report *r)
{
	const struct store_section *sec;
	struct report tmp;
	json_t *obj = NULL;
	int err;

	if (!s || !section || !key || !value || !r)
		return EINVAL;
	sec = store_section_lookup(section);
	if (!sec) {
		report_add(r, section, "", "section.unknown",
			   "There is no settings section '%.40s'.", section);
		return ENOENT;
	}
	if (!sec->set) {
		report_add(r, section, key, "section.unknown_key",
			   "Section %.40s has no settable key '%.40s'.",
			   section, key);
		return ENOENT;
	}
	report_init(&tmp);
	pthread_mutex_lock(&s->lock);
	err = store_section_load(s, section, STORE_STAGED, &obj);
	if (err)
		goto out;
	if (store_section_is_secret(sec, key) &&
	    store_section_sealed_ok(s, value)) {
		/* a value as sealed at rest, put back as it was */
		err = json_object_set_new(obj, key, json_string(value)) ?
			ENOMEM : 0;
		goto write;
	}
	err = sec->set(obj, key, value, &tmp);
	if (!err && store_section_is_secret(sec, key))
		err = store_section_seal(s, obj, key);
	if (err) {
		if (!report_count(&tmp))
			report_add(&tmp, section, key, "section.set",
				   "%.40s.%.40s: value refused.", section, key);
		goto out;
	}
 write:
	if (!err)
		err = section_write(s, section, obj);
 out:
	pthread_mutex_unlock(&s->lock);
	report_merge(r, &tmp, section);
	json_decref(obj);
	return err;
}
