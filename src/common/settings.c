/*
 * settings — defaults, parsing, checking, decoding and the schema of a
 * settings table (settings.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/report.h"
#include "common/settings.h"

const struct setting_def *settings_find(const struct settings_table *t,
					const char *key)
{
	if (!t || !key)
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->defs[i].name, key))
			return &t->defs[i];
	return NULL;
}

static json_t *def_value(const struct setting_def *d)
{
	switch (d->type) {
	case SETTING_INT:
		return json_integer(d->def);
	case SETTING_BOOL:
		return json_boolean(d->def);
	case SETTING_ENUM:
	case SETTING_STRING:
		return json_string(d->sdef ? d->sdef : "");
	}
	return NULL;
}

json_t *settings_defaults(const struct settings_table *t)
{
	json_t *o = json_object();

	if (!o || !t)
		return o;
	for (size_t i = 0; i < t->n; i++) {
		if (json_object_set_new(o, t->defs[i].name,
					def_value(&t->defs[i]))) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static int parse_int(const struct setting_def *d, const char *s,
		     long long *v)
{
	char *end = NULL;

	errno = 0;
	*v = strtoll(s, &end, 10);
	if (!*s || *end || errno || *v < d->min || *v > d->max)
		return EINVAL;
	return 0;
}

static int parse_bool(const char *s, bool *v)
{
	if (!strcasecmp(s, "true") || !strcmp(s, "1") ||
	    !strcasecmp(s, "on") || !strcasecmp(s, "yes")) {
		*v = true;
		return 0;
	}
	if (!strcasecmp(s, "false") || !strcmp(s, "0") ||
	    !strcasecmp(s, "off") || !strcasecmp(s, "no")) {
		*v = false;
		return 0;
	}
	return EINVAL;
}

static int parse_choice(const struct setting_def *d, const char *s,
			unsigned *idx)
{
	for (unsigned i = 0; d->choices && d->choices[i]; i++) {
		if (!strcmp(d->choices[i], s)) {
			*idx = i;
			return 0;
		}
	}
	return EINVAL;
}

static void choices_text(const struct setting_def *d, char *buf, size_t sz)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; d->choices && d->choices[i] && n < sz; i++)
		n += (size_t)snprintf(buf + n, sz - n, "%s\"%s\"",
				      i ? ", " : "", d->choices[i]);
}

static void refuse(const struct settings_table *t,
		   const struct setting_def *d, const char *field,
		   const char *kind, struct report *r, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* One finding: the definition's own rule and sentence, or the section's
 * standard ones. */
static void refuse(const struct settings_table *t,
		   const struct setting_def *d, const char *field,
		   const char *kind, struct report *r, const char *fmt, ...)
{
	char rule[40];
	va_list ap;

	if (!r)
		return;
	if (d->rule && d->msg) {
		report_add(r, t->section, field, d->rule, "%s", d->msg);
		return;
	}
	snprintf(rule, sizeof(rule), "%s.%s", t->section, kind);
	va_start(ap, fmt);
	report_vadd(r, t->section, field, rule, fmt, ap);
	va_end(ap);
}

/* Text acceptable for d? 0, or EINVAL with one finding (r may be NULL). */
static int accept(const struct settings_table *t, const struct setting_def *d,
		  const char *s, struct report *r)
{
	char field[64], list[160];
	long long iv;
	unsigned ix;
	bool bv;

	snprintf(field, sizeof(field), "%s.%s", t->section, d->name);
	switch (d->type) {
	case SETTING_INT:
		if (!parse_int(d, s, &iv))
			return 0;
		refuse(t, d, field, "range", r,
		       "%s must be a whole number from %lld to %lld",
		       field, d->min, d->max);
		return EINVAL;
	case SETTING_BOOL:
		if (!parse_bool(s, &bv))
			return 0;
		refuse(t, d, field, "bool", r, "%s must be true or false",
		       field);
		return EINVAL;
	case SETTING_ENUM:
		if (!parse_choice(d, s, &ix))
			return 0;
		choices_text(d, list, sizeof(list));
		refuse(t, d, field, "choice", r, "%s must be one of %s",
		       field, list);
		return EINVAL;
	case SETTING_STRING:
		/* the section's own rule first: it may bound the length too */
		if (d->check && d->check(field, s, r))
			return EINVAL;
		if (d->size && strlen(s) >= d->size) {
			refuse(t, d, field, "length", r,
			       "%s must be at most %zu characters", field,
			       d->size - 1);
			return EINVAL;
		}
		return 0;
	}
	return EINVAL;
}

static int unknown(const struct settings_table *t, const char *key,
		   struct report *r)
{
	char field[64], rule[40];

	snprintf(field, sizeof(field), "%s.%s", t->section, key);
	snprintf(rule, sizeof(rule), "%s.unknown_key", t->section);
	report_add(r, t->section, field, rule, "%s has no setting \"%.40s\"",
		   t->section, key);
	return ENOENT;
}

int settings_parse(const struct settings_table *t, const char *key,
		   const char *text, json_t **out, struct report *r)
{
	const struct setting_def *d;
	long long iv = 0;     /* accept() has already parsed both: the */
	bool bv = false;      /* values are set, the analyzer cannot see it */
	int err;

	if (!t || !key || !out)
		return EINVAL;
	d = settings_find(t, key);
	if (!d)
		return unknown(t, key, r);
	if (!text) {
		char field[64], rule[40];

		snprintf(field, sizeof(field), "%s.%s", t->section, key);
		snprintf(rule, sizeof(rule), "%s.value", t->section);
		report_add(r, t->section, field, rule, "%s needs a value",
			   field);
		return EINVAL;
	}
	err = accept(t, d, text, r);
	if (err)
		return err;
	switch (d->type) {
	case SETTING_INT:
		(void)parse_int(d, text, &iv);
		*out = json_integer(iv);
		break;
	case SETTING_BOOL:
		(void)parse_bool(text, &bv);
		*out = json_boolean(bv);
		break;
	default:
		*out = json_string(text);
		break;
	}
	return *out ? 0 : ENOMEM;
}

int settings_set(const struct settings_table *t, json_t *obj,
		 const char *key, const char *text, struct report *r)
{
	json_t *v = NULL;
	int err;

	if (!obj)
		return EINVAL;
	err = settings_parse(t, key, text, &v, r);
	if (err)
		return err;
	return json_object_set_new(obj, key, v) ? ENOMEM : 0;
}

/* A stored value as the text a setter would have been given. */
static const char *as_text(const json_t *v, char *buf, size_t sz)
{
	if (json_is_integer(v)) {
		snprintf(buf, sz, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "true" : "false";
	if (json_is_string(v))
		return json_string_value(v);
	return NULL;
}

int settings_check(const struct settings_table *t, const json_t *obj,
		   struct report *r)
{
	const char *key;
	json_t *v;
	int err = 0;

	if (!t)
		return EINVAL;
	json_object_foreach((json_t *)obj, key, v) {
		const struct setting_def *d = settings_find(t, key);
		char buf[32];
		const char *s = as_text(v, buf, sizeof(buf));

		if (!d) {
			unknown(t, key, r);
			err = EINVAL;
			continue;
		}
		if (accept(t, d, s ? s : "", r))
			err = EINVAL;
	}
	return err;
}

static void put_int(void *p, size_t size, bool sgn, long long v)
{
	switch (size) {
	case 1:
		if (sgn)
			*(int8_t *)p = (int8_t)v;
		else
			*(uint8_t *)p = (uint8_t)v;
		break;
	case 2:
		if (sgn)
			*(int16_t *)p = (int16_t)v;
		else
			*(uint16_t *)p = (uint16_t)v;
		break;
	case 4:
		if (sgn)
			*(int32_t *)p = (int32_t)v;
		else
			*(uint32_t *)p = (uint32_t)v;
		break;
	case 8:
		if (sgn)
			*(int64_t *)p = (int64_t)v;
		else
			*(uint64_t *)p = (uint64_t)v;
		break;
	}
}

static long long int_of(const struct setting_def *d, const json_t *v)
{
	char buf[32];
	const char *s = as_text(v, buf, sizeof(buf));
	long long x;

	if (json_is_boolean(v) || !s || parse_int(d, s, &x))
		return d->def;
	return x;
}

static void decode_one(const struct setting_def *d, const json_t *v,
		       char *base)
{
	void *p = base + d->off;
	char buf[32];
	const char *s = as_text(v, buf, sizeof(buf));
	unsigned ix = 0;
	bool bv;

	switch (d->type) {
	case SETTING_INT:
		put_int(p, d->size, d->min < 0, int_of(d, v));
		break;
	case SETTING_BOOL:
		if (!s || parse_bool(s, &bv))
			bv = d->def != 0;
		*(bool *)p = bv;
		break;
	case SETTING_ENUM:
		if (!s || parse_choice(d, s, &ix))
			(void)parse_choice(d, d->sdef ? d->sdef : "", &ix);
		put_int(p, d->size, false, ix);
		break;
	case SETTING_STRING:
		if (!d->size)
			break;   /* not in the struct: the section decodes it */
		if (!json_is_string(v) || strlen(s) >= d->size ||
		    (d->check && d->check("", s, NULL)))
			s = d->sdef ? d->sdef : "";
		snprintf((char *)p, d->size, "%s", s);
		break;
	}
}

void settings_decode(const struct settings_table *t, const json_t *obj,
		     void *out)
{
	if (!t || !out)
		return;
	memset(out, 0, t->struct_size);
	for (size_t i = 0; i < t->n; i++)
		decode_one(&t->defs[i], json_object_get(obj, t->defs[i].name),
			   out);
}

long long settings_int(const struct settings_table *t, const json_t *obj,
		       const char *key)
{
	const struct setting_def *d = settings_find(t, key);

	if (!d || d->type != SETTING_INT)
		return 0;
	return int_of(d, json_object_get(obj, key));
}

static const char *type_name(enum setting_type ty)
{
	switch (ty) {
	case SETTING_INT: return "int";
	case SETTING_BOOL: return "bool";
	case SETTING_ENUM: return "enum";
	case SETTING_STRING: return "string";
	}
	return "?";
}

json_t *settings_schema(const struct settings_table *t)
{
	json_t *keys = json_array(), *o;

	if (!t || !keys) {
		json_decref(keys);
		return NULL;
	}
	for (size_t i = 0; i < t->n; i++) {
		const struct setting_def *d = &t->defs[i];
		json_t *k = json_pack("{s:s, s:s, s:o, s:s?, s:s?}",
				      "name", d->name,
				      "type", type_name(d->type),
				      "default", def_value(d),
				      "module", d->module,
				      "help", d->help);

		if (k && d->type == SETTING_INT) {
			json_object_set_new(k, "min", json_integer(d->min));
			json_object_set_new(k, "max", json_integer(d->max));
		}
		if (k && d->type == SETTING_STRING && d->size)
			json_object_set_new(k, "max_length",
					    json_integer((json_int_t)
							 (d->size - 1)));
		if (k && d->type == SETTING_ENUM) {
			json_t *c = json_array();

			for (size_t j = 0; d->choices && d->choices[j]; j++)
				json_array_append_new(c,
					json_string(d->choices[j]));
			json_object_set_new(k, "choices", c);
		}
		if (!k || json_array_append_new(keys, k)) {
			json_decref(keys);
			return NULL;
		}
	}
	o = json_pack("{s:s, s:o}", "section", t->section, "keys", keys);
	return o;
}
