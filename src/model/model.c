/*
 * model — the functions over the field table in fields.c: lookup, parse and
 * format of admin text, defaults, per-extension and whole-configuration
 * validation. Pure: no I/O, no logging; findings go to a struct report.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/model.h"
#include "model/model_int.h"

#define NUM_MIN 2              /* extension numbers: 2..8 digits */
#define NUM_MAX 8

static const char *const type_names[MODEL_TYPE_COUNT] = {
	[MODEL_SIP] = "sip", [MODEL_IAX2] = "iax2", [MODEL_ZAP] = "zap",
	[MODEL_VOICEMAIL] = "voicemail", [MODEL_HOTDESK] = "hotdesk",
	[MODEL_VIRTUAL] = "virtual", [MODEL_RING_GROUP] = "ring_group",
	[MODEL_SHARED] = "shared",
};

static const char *const tab_names[MODEL_TAB_COUNT] = {
	[MODEL_TAB_GENERAL] = "general", [MODEL_TAB_AUTH] = "auth",
	[MODEL_TAB_VOICEMAIL] = "voicemail", [MODEL_TAB_PHONE] = "phone",
	[MODEL_TAB_CALLERID] = "callerid", [MODEL_TAB_USER] = "user",
	[MODEL_TAB_WEB] = "web", [MODEL_TAB_SECURITY] = "security",
	[MODEL_TAB_TYPE] = "type",
};

const char *model_type_name(enum model_type t)
{
	return (unsigned)t < MODEL_TYPE_COUNT ? type_names[t] : NULL;
}

int model_type_parse(const char *name, enum model_type *t)
{
	if (!name)
		return EINVAL;
	for (unsigned i = 0; i < MODEL_TYPE_COUNT; i++) {
		if (!strcmp(name, type_names[i])) {
			if (t)
				*t = (enum model_type)i;
			return 0;
		}
	}
	return EINVAL;
}

const char *model_tab_name(enum model_tab tab)
{
	return (unsigned)tab < MODEL_TAB_COUNT ? tab_names[tab] : NULL;
}

/* ---- lookup: an open-addressing hash of field names, built at load ---- */

#define HASH_SIZE 512u         /* power of two, >= 2 * MODEL_FIELDS_MAX */

static uint16_t by_name[HASH_SIZE];   /* field index + 1; 0 = empty */
static long field_index(const char *name);

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;   /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* A constructor, not a lazy init: the API calls us from several threads. */
__attribute__((constructor)) static void build_index(void)
{
	for (size_t i = 0; i < model_field_count; i++) {
		uint32_t h = name_hash(model_fields[i].name) & (HASH_SIZE - 1);

		while (by_name[h])
			h = (h + 1) & (HASH_SIZE - 1);
		by_name[h] = (uint16_t)(i + 1);
	}
}

static long field_index(const char *name)
{
	uint32_t h;

	if (!name)
		return -1;
	for (h = name_hash(name) & (HASH_SIZE - 1); by_name[h];
	     h = (h + 1) & (HASH_SIZE - 1)) {
		if (!strcmp(name, model_fields[by_name[h] - 1].name))
			return by_name[h] - 1;
	}
	return -1;
}

const struct model_field *model_field_find(const char *name)
{
	long i = field_index(name);

	return i < 0 ? NULL : &model_fields[i];
}

bool model_type_has(enum model_type t, const struct model_field *f)
{
	return f && (unsigned)t < MODEL_TYPE_COUNT && (f->types & MODEL_T(t));
}

/* Type of an extension object, or -1. */
int model_ext_type(const json_t *ext)
{
	enum model_type t;

	if (model_type_parse(json_string_value(json_object_get(ext, "type")),
			     &t))
		return -1;
	return (int)t;
}

/* ---- forms -------------------------------------------------------------- */

static bool all_digits(const char *s, size_t min, size_t max)
{
	size_t n = 0;

	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9')
			return false;
	}
	return n >= min && n <= max;
}

bool model_is_ext_number(const char *s)
{
	return all_digits(s, NUM_MIN, NUM_MAX);
}

static bool is_external(const char *s)
{
	if (s[0] == '+')
		return all_digits(s + 1, 3, 15);
	return all_digits(s, NUM_MAX + 1, 20);
}

static bool is_name(const char *s)
{
	size_t i = 0, first = 0, second = 0;

	while (isascii((unsigned char)s[i]) && isalpha((unsigned char)s[i]))
		i++, first++;
	if (s[i] != ' ')
		return false;
	i++;
	while (isascii((unsigned char)s[i]) && isalpha((unsigned char)s[i]))
		i++, second++;
	return !s[i] && first && second;
}

static bool is_charset(const char *s, const char *extra, bool upper)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    (upper && c >= 'A' && c <= 'Z') || (c && strchr(extra, c)))
			continue;
		return false;
	}
	return true;
}

static bool is_cidname(const char *s)
{
	for (; *s; s++) {
		if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\')
			return false;
	}
	return true;
}

static bool is_text(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	}
	return true;
}

static bool is_email(const char *s)
{
	const char *at = strchr(s, '@'), *d, *label;
	size_t llen = at ? (size_t)(at - s) : 0;
	bool tld_alpha = true;
	int labels = 0;

	if (!at || strchr(at + 1, '@') || llen < 1 || llen > 64)
		return false;
	if (s[0] == '.' || at[-1] == '.' || strstr(s, ".."))
		return false;
	for (const char *p = s; p < at; p++) {
		if (!isascii((unsigned char)*p) ||
		    (!isalnum((unsigned char)*p) &&
		     !strchr(".!#$%&'*+/=?^_`{|}~-", *p)))
			return false;
	}
	/* domain: dot-separated labels of [A-Za-z0-9-], no edge hyphen,
	 * at least two, the last alphabetic and 2+ long */
	label = d = at + 1;
	for (;; d++) {
		if (*d == '.' || !*d) {
			size_t n = (size_t)(d - label);

			if (n < 1 || n > 63 || label[0] == '-' || d[-1] == '-')
				return false;
			labels++;
			tld_alpha = n >= 2;
			for (const char *p = label; p < d; p++)
				tld_alpha = tld_alpha &&
					    isalpha((unsigned char)*p);
			if (!*d)
				break;
			label = d + 1;
			continue;
		}
		if (!isascii((unsigned char)*d) ||
		    (!isalnum((unsigned char)*d) && *d != '-'))
			return false;
	}
	return labels >= 2 && tld_alpha;
}

static bool is_ip(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 ||
	       inet_pton(AF_INET6, s, buf) == 1;
}

struct form_rule {
	const char *rule;
	const char *what;
};

static const struct form_rule form_rules[] = {
	[MODEL_FORM_NONE] = { NULL, NULL },
	[MODEL_FORM_NUMBER] = { "number.format",
				"an extension number of 2 to 8 digits" },
	[MODEL_FORM_EXT_REF] = { "number.format",
				 "an extension number of 2 to 8 digits" },
	[MODEL_FORM_MAILBOX_REF] = { "number.format",
				     "an extension number of 2 to 8 digits" },
	[MODEL_FORM_DEST] = { "destination.format",
			      "an extension number (2 to 8 digits) or an "
			      "external number (+ and 3 to 15 digits, or 9 "
			      "to 20 digits)" },
	[MODEL_FORM_PHONENUM] = { "phone_number.format",
				  "digits (1 to 20) with an optional "
				  "leading +" },
	[MODEL_FORM_NAME] = { "name.format",
			      "\"First Last\": ASCII letters only and "
			      "exactly one space" },
	[MODEL_FORM_CIDNAME] = { "callerid.name_format",
				 "printable ASCII without \" or \\" },
	[MODEL_FORM_EMAIL] = { "email.format", "an address like "
			       "name@example.com" },
	[MODEL_FORM_IP] = { "ip.format", "an IPv4 or IPv6 address" },
	[MODEL_FORM_DIGITS] = { "pin.format", "digits only" },
	[MODEL_FORM_WEBUSER] = { "web.username_format",
				 "made of a-z, 0-9, '.', '_' and '-'" },
	[MODEL_FORM_TOKEN] = { "token.format",
			       "made of letters, digits, '_' and '-'" },
	[MODEL_FORM_TEXT] = { "text.format",
			      "free of control characters" },
};

static bool form_ok(enum model_form form, const char *s)
{
	switch (form) {
	case MODEL_FORM_NONE:        return true;
	case MODEL_FORM_NUMBER:
	case MODEL_FORM_EXT_REF:
	case MODEL_FORM_MAILBOX_REF: return model_is_ext_number(s);
	case MODEL_FORM_DEST:        return model_is_ext_number(s) ||
					    is_external(s);
	case MODEL_FORM_PHONENUM:    return all_digits(s[0] == '+' ? s + 1 : s,
						       1, 20);
	case MODEL_FORM_NAME:        return is_name(s);
	case MODEL_FORM_CIDNAME:     return is_cidname(s);
	case MODEL_FORM_EMAIL:       return is_email(s);
	case MODEL_FORM_IP:          return is_ip(s);
	case MODEL_FORM_DIGITS:      return all_digits(s, 1, SIZE_MAX);
	case MODEL_FORM_WEBUSER:     return is_charset(s, "._-", false);
	case MODEL_FORM_TOKEN:       return is_charset(s, "_-", true);
	case MODEL_FORM_TEXT:        return is_text(s);
	}
	return false;
}

/* A printable, bounded copy of a user value for a message. */
const char *model_shown(char *buf, size_t sz, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < sz; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

/* ---- value checks (shared by parse and validate) ----------------------- */

static const char *kind_name(enum model_kind k)
{
	switch (k) {
	case MODEL_BOOL:   return "true or false";
	case MODEL_INT:    return "an integer";
	case MODEL_STRING: return "a string";
	case MODEL_ENUM:   return "one of its choices";
	case MODEL_LIST:   return "a list of strings";
	case MODEL_SECRET: return "a string";
	}
	return "?";
}

static void choices_text(const char *const *c, char *buf, size_t sz)
{
	size_t off = 0;

	buf[0] = '\0';
	for (; c && *c && off < sz; c++) {
		int n = snprintf(buf + off, sz - off, "%s%s",
				 off ? ", " : "", *c);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

/* Admin text is matched without case (parse); stored values exactly. */
static int choice_index(const char *const *c, const char *s)
{
	for (int i = 0; c && c[i]; i++) {
		if (!strcasecmp(c[i], s))
			return i;
	}
	return -1;
}

static bool is_choice(const char *const *c, const char *s)
{
	for (; c && *c; c++) {
		if (!strcmp(*c, s))
			return true;
	}
	return false;
}

static bool is_secret(const struct model_field *f)
{
	return f->kind == MODEL_SECRET;
}

/* One string (a STRING/SECRET/ENUM value or a list item): length, choice,
 * form. Empty strings mean "not set" and are left to the required rule. */
static int check_text(const struct model_field *f, const char *s, bool item,
		      struct report *r)
{
	size_t len = strlen(s);
	char buf[48], ch[160];
	int err = 0;

	if (!len) {
		if (item) {
			report_add(r, "", f->name, "field.format",
				   "%s: a list entry is empty", f->name);
			return EINVAL;
		}
		return 0;
	}
	if (is_secret(f) && !strcmp(s, MODEL_SECRET_MASK))
		return 0;
	if (f->choices) {
		if (!is_choice(f->choices, s)) {
			choices_text(f->choices, ch, sizeof(ch));
			report_add(r, "", f->name, "field.choice",
				   "%s: '%s' is not one of: %s", f->name,
				   model_shown(buf, sizeof(buf), s), ch);
			return EINVAL;
		}
		return 0;
	}
	if (!item && f->max && (len < (size_t)f->min || len > (size_t)f->max)) {
		report_add(r, "", f->name, "field.length",
			   "%s must be %ld to %ld characters long", f->name,
			   f->min, f->max);
		err = EINVAL;
	}
	if (!form_ok(f->form, s)) {
		const struct form_rule *fr = &form_rules[f->form];

		if (is_secret(f))
			report_add(r, "", f->name, fr->rule,
				   "%s must be %s", f->name, fr->what);
		else
			report_add(r, "", f->name, fr->rule,
				   "%s: '%s' must be %s", f->name,
				   model_shown(buf, sizeof(buf), s), fr->what);
		err = EINVAL;
	}
	return err;
}

static int check_list(const struct model_field *f, const json_t *v,
		      struct report *r)
{
	size_t n = json_array_size(v), i, j;
	int err = 0;
	json_t *it;

	if ((long)n > f->max || (long)n < f->min) {
		report_add(r, "", f->name, "field.length",
			   "%s must have %ld to %ld entries, not %zu", f->name,
			   f->min, f->max, n);
		return EINVAL;
	}
	json_array_foreach(v, i, it) {
		if (!json_is_string(it)) {
			report_add(r, "", f->name, "field.kind",
				   "%s: every entry must be a string", f->name);
			return EINVAL;
		}
		if (check_text(f, json_string_value(it), true, r))
			err = EINVAL;
	}
	if (err)
		return err;
	/* bounded by f->max above, so quadratic is fine */
	for (i = 0; i < n; i++) {
		const char *a = json_string_value(json_array_get(v, i));

		for (j = 0; j < i; j++) {
			const char *b = json_string_value(json_array_get(v, j));
			char buf[48];

			if (!strcmp(a, b)) {
				report_add(r, "", f->name, "field.duplicate",
					   "%s lists '%s' twice", f->name,
					   model_shown(buf, sizeof(buf), a));
				return EINVAL;
			}
		}
	}
	return 0;
}

static int check_value(const struct model_field *f, const json_t *v,
		       struct report *r)
{
	bool ok;

	switch (f->kind) {
	case MODEL_BOOL:   ok = json_is_boolean(v); break;
	case MODEL_INT:    ok = json_is_integer(v); break;
	case MODEL_LIST:   ok = json_is_array(v); break;
	default:           ok = json_is_string(v); break;
	}
	if (!ok) {
		report_add(r, "", f->name, "field.kind", "%s must be %s",
			   f->name, kind_name(f->kind));
		return EINVAL;
	}
	switch (f->kind) {
	case MODEL_BOOL:
		return 0;
	case MODEL_INT: {
		json_int_t n = json_integer_value(v);

		if (n < f->min || n > f->max) {
			report_add(r, "", f->name, "field.range",
				   "%s must be between %ld and %ld, not %lld",
				   f->name, f->min, f->max, (long long)n);
			return EINVAL;
		}
		return 0;
	}
	case MODEL_LIST:
		return check_list(f, v, r);
	default:
		if (f->kind == MODEL_ENUM && !json_string_length(v))
			break;
		return check_text(f, json_string_value(v), false, r);
	}
	/* empty enum: not a choice */
	{
		char ch[160];

		choices_text(f->choices, ch, sizeof(ch));
		report_add(r, "", f->name, "field.choice",
			   "%s must be one of: %s", f->name, ch);
	}
	return EINVAL;
}

/* ---- parse / format ------------------------------------------------------ */

/* Copy s without surrounding blanks into buf; false if it does not fit. */
static bool trimmed(char *buf, size_t sz, const char *s, size_t len)
{
	while (len && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len >= sz)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return true;
}

static int parse_bool(const struct model_field *f, const char *t,
		      json_t **out, struct report *r)
{
	static const char *const yes[] = { "true", "on", "yes", "1" };
	static const char *const no[] = { "false", "off", "no", "0" };
	char buf[16], sh[48];

	if (trimmed(buf, sizeof(buf), t, strlen(t))) {
		for (size_t i = 0; i < 4; i++) {
			if (!strcasecmp(buf, yes[i])) {
				*out = json_true();
				return 0;
			}
			if (!strcasecmp(buf, no[i])) {
				*out = json_false();
				return 0;
			}
		}
	}
	report_add(r, "", f->name, "field.format",
		   "%s: '%s' is not a boolean (use true/false, on/off, "
		   "yes/no or 1/0)", f->name, model_shown(sh, sizeof(sh), t));
	return EINVAL;
}

static int parse_int(const struct model_field *f, const char *t,
		     json_t **out, struct report *r)
{
	char buf[32], sh[48], *end;
	long long n;

	if (!trimmed(buf, sizeof(buf), t, strlen(t)) || !buf[0])
		goto bad;
	errno = 0;
	n = strtoll(buf, &end, 10);
	if (*end || errno)
		goto bad;
	if (n < f->min || n > f->max) {
		report_add(r, "", f->name, "field.range",
			   "%s must be between %ld and %ld, not %lld",
			   f->name, f->min, f->max, n);
		return EINVAL;
	}
	*out = json_integer(n);
	return *out ? 0 : ENOMEM;
bad:
	report_add(r, "", f->name, "field.format",
		   "%s: '%s' is not an integer", f->name,
		   model_shown(sh, sizeof(sh), t));
	return EINVAL;
}

static int parse_list(const struct model_field *f, const char *t,
		      json_t **out, struct report *r)
{
	json_t *a = json_array();
	const char *p = t;
	char item[256];
	int err = 0;

	if (!a)
		return ENOMEM;
	if (!trimmed(item, sizeof(item), t, strlen(t)) || item[0]) {
		for (;;) {
			const char *comma = strchr(p, ',');
			size_t len = comma ? (size_t)(comma - p) : strlen(p);
			int ci;

			if ((long)json_array_size(a) >= f->max) {
				report_add(r, "", f->name, "field.length",
					   "%s must have at most %ld entries",
					   f->name, f->max);
				err = EINVAL;
				goto out;
			}
			if (!trimmed(item, sizeof(item), p, len)) {
				report_add(r, "", f->name, "field.format",
					   "%s: an entry is too long", f->name);
				err = EINVAL;
				goto out;
			}
			ci = choice_index(f->choices, item);
			if (json_array_append_new(a, json_string(
				    ci >= 0 ? f->choices[ci] : item))) {
				/* not UTF-8 or out of memory */
				report_add(r, "", f->name, "field.format",
					   "%s: an entry is not valid text",
					   f->name);
				err = EINVAL;
				goto out;
			}
			if (!comma)
				break;
			p = comma + 1;
		}
	}
	err = check_value(f, a, r);
out:
	if (err)
		json_decref(a);
	else
		*out = a;
	return err;
}

int model_parse_value(const struct model_field *f, const char *text,
		      json_t **out, struct report *r)
{
	json_t *v = NULL;
	int err;

	if (!f || !text || !out)
		return EINVAL;
	switch (f->kind) {
	case MODEL_BOOL:
		return parse_bool(f, text, out, r);
	case MODEL_INT:
		return parse_int(f, text, out, r);
	case MODEL_LIST:
		return parse_list(f, text, out, r);
	case MODEL_ENUM: {
		char buf[64];
		int ci = -1;

		if (trimmed(buf, sizeof(buf), text, strlen(text)))
			ci = choice_index(f->choices, buf);
		v = json_string(ci >= 0 ? f->choices[ci] : text);
		break;
	}
	case MODEL_STRING:
	case MODEL_SECRET:
		/* bound before allocating: the value may come from anyone */
		if (f->max && strlen(text) > (size_t)f->max) {
			report_add(r, "", f->name, "field.length",
				   "%s must be %ld to %ld characters long",
				   f->name, f->min, f->max);
			return EINVAL;
		}
		/* the mask stands for a hidden value; it is never one */
		if (f->kind == MODEL_SECRET && !strcmp(text, MODEL_SECRET_MASK)) {
			report_add(r, "", f->name, "field.format",
				   "%s: " MODEL_SECRET_MASK " stands for a hidden "
				   "secret and cannot be set as its value",
				   f->name);
			return EINVAL;
		}
		v = json_string(text);
		break;
	}
	if (!v) {
		report_add(r, "", f->name, "field.format",
			   "%s is not valid UTF-8 text", f->name);
		return EINVAL;
	}
	err = check_value(f, v, r);
	if (err) {
		json_decref(v);
		return err;
	}
	*out = v;
	return 0;
}

char *model_format_value(const struct model_field *f, const json_t *v)
{
	char buf[32], *s;
	size_t len = 0, i;
	json_t *it;

	if (!f || !v)
		return NULL;
	switch (f->kind) {
	case MODEL_BOOL:
		return json_is_boolean(v) ?
		       strdup(json_is_true(v) ? "true" : "false") : NULL;
	case MODEL_INT:
		if (!json_is_integer(v))
			return NULL;
		snprintf(buf, sizeof(buf), "%lld",
			 (long long)json_integer_value(v));
		return strdup(buf);
	case MODEL_LIST:
		if (!json_is_array(v))
			return NULL;
		json_array_foreach(v, i, it) {
			if (!json_is_string(it))
				return NULL;
			len += json_string_length(it) + 1;
		}
		s = malloc(len + 1);
		if (!s)
			return NULL;
		s[0] = '\0';
		len = 0;
		json_array_foreach(v, i, it) {
			size_t n = json_string_length(it);

			if (i)
				s[len++] = ',';
			memcpy(s + len, json_string_value(it), n);
			len += n;
			s[len] = '\0';
		}
		return s;
	default:
		return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
	}
}

/* ---- defaults, new, set -------------------------------------------------- */

/* Expand "{number}" and "{name}" in def; false if a needed value is
 * missing or the result does not fit. */
static bool expand(char *buf, size_t sz, const char *def, const json_t *ext)
{
	static const char *const keys[] = { "number", "name" };
	size_t off = 0;

	while (*def) {
		bool done = false;

		for (size_t k = 0; k < 2 && *def == '{'; k++) {
			size_t kl = strlen(keys[k]);
			const char *v;

			if (strncmp(def + 1, keys[k], kl) || def[kl + 1] != '}')
				continue;
			v = json_string_value(json_object_get(ext, keys[k]));
			if (!v || !*v || off + strlen(v) >= sz)
				return false;
			memcpy(buf + off, v, strlen(v));
			off += strlen(v);
			def += kl + 2;
			done = true;
		}
		if (done)
			continue;
		if (off + 1 >= sz)
			return false;
		buf[off++] = *def++;
	}
	buf[off] = '\0';
	return true;
}

int model_apply_defaults(json_t *ext)
{
	struct report tmp;
	int t = model_ext_type(ext);
	int err = 0;

	if (t < 0)
		return EINVAL;
	report_init(&tmp);
	for (size_t i = 0; i < model_field_count; i++) {
		const struct model_field *f = &model_fields[i];
		const json_t *cur;
		char buf[256];
		json_t *v;

		if (!f->def || !(f->types & MODEL_T(t)))
			continue;
		cur = json_object_get(ext, f->name);
		if (cur && !json_is_null(cur))
			continue;
		/* a default that cannot apply (no number yet, or a value that
		 * does not fit the field) is left for validation to report */
		if (!expand(buf, sizeof(buf), f->def, ext) ||
		    model_parse_value(f, buf, &v, &tmp))
			continue;
		if (json_object_set_new(ext, f->name, v)) {
			err = ENOMEM;
			break;
		}
	}
	report_reset(&tmp);
	return err;
}

int model_new(json_t **extp, const char *number, enum model_type t,
	      const char *full_name)
{
	json_t *ext;
	int err = ENOMEM;

	if (!extp || (unsigned)t >= MODEL_TYPE_COUNT)
		return EINVAL;
	ext = json_object();
	if (!ext)
		return ENOMEM;
	if (json_object_set_new(ext, "type", json_string(type_names[t])))
		goto out;
	if (number && json_object_set_new(ext, "number", json_string(number)))
		goto out;
	if (full_name &&
	    json_object_set_new(ext, "name", json_string(full_name)))
		goto out;
	err = model_apply_defaults(ext);
out:
	if (err)
		json_decref(ext);
	else
		*extp = ext;
	return err;
}

static bool is_mailbox_field(const struct model_field *f)
{
	return f->tab == MODEL_TAB_VOICEMAIL;
}

bool model_check_type_has(enum model_type t, const struct model_field *f,
			  struct report *r)
{
	if ((unsigned)t >= MODEL_TYPE_COUNT || !f)
		return false;
	if (f->types & MODEL_T(t))
		return true;
	if (is_mailbox_field(f) &&
	    (t == MODEL_RING_GROUP || t == MODEL_SHARED))
		report_add(r, "", f->name, "mailbox.not_allowed",
			   "a %s extension has no mailbox: %s is not allowed",
			   type_names[t], f->name);
	else
		report_add(r, "", f->name, "field.not_for_type",
			   "field %s does not exist for type %s", f->name,
			   type_names[t]);
	return false;
}

int model_set(json_t *ext, const char *name, const char *text,
	      struct report *r)
{
	const struct model_field *f = model_field_find(name);
	json_t *v;
	int t, err;

	if (!json_is_object(ext) || !name || !text)
		return EINVAL;
	if (!f) {
		char buf[48];

		report_add(r, "", model_shown(buf, sizeof(buf), name), "field.unknown",
			   "there is no field named '%s'", buf);
		return EINVAL;
	}
	t = model_ext_type(ext);
	if (t < 0 && strcmp(f->name, "type")) {
		report_add(r, "", "type", "field.required",
			   "set the extension type before %s", f->name);
		return EINVAL;
	}
	if (t >= 0 && !model_check_type_has(t, f, r))
		return EINVAL;
	err = model_parse_value(f, text, &v, r);
	if (err)
		return err;
	return json_object_set_new(ext, f->name, v) ? ENOMEM : 0;
}

/* ---- validation of one extension ---------------------------------------- */

static bool value_filled(const json_t *v)
{
	if (!v || json_is_null(v))
		return false;
	if (json_is_string(v))
		return json_string_length(v) > 0;
	if (json_is_array(v))
		return json_array_size(v) > 0;
	return true;
}

bool model_is_ref_form(enum model_form form)
{
	return form == MODEL_FORM_EXT_REF || form == MODEL_FORM_MAILBOX_REF ||
	       form == MODEL_FORM_DEST;
}

static void check_self(const struct model_field *f, const json_t *v,
		       const char *num, struct report *r)
{
	size_t i;
	json_t *it;

	if (json_is_string(v) && !strcmp(json_string_value(v), num)) {
		report_add(r, "", f->name, "ref.self",
			   "%s points at the extension itself", f->name);
		return;
	}
	json_array_foreach(v, i, it) {
		if (json_is_string(it) && !strcmp(json_string_value(it), num)) {
			report_add(r, "", f->name, "ref.self",
				   "%s lists the extension itself", f->name);
			return;
		}
	}
}

/* Validate one extension; vals (MODEL_FIELDS_MAX entries) receives each
 * field's value when it is of the type and passed its own checks, so that
 * model_validate_set need not look anything up again. Returns the type, or
 * -1 when there is none. */
int model_validate_one(const json_t *ext, struct report *r,
			const json_t **vals)
{
	const json_t *present[MODEL_FIELDS_MAX] = { 0 };
	long hint = -1;
	const json_t *tv, *v;
	const char *key, *num;
	int t;

	memset(vals, 0, MODEL_FIELDS_MAX * sizeof(*vals));
	if (!json_is_object(ext)) {
		report_add(r, "", "", "field.kind",
			   "an extension must be a JSON object");
		return -1;
	}
	tv = json_object_get(ext, "type");
	t = model_ext_type(ext);
	if (t < 0) {
		if (!value_filled(tv))
			report_add(r, "", "type", "field.required",
				   "type is required");
		else
			check_value(model_field_find("type"), tv, r);
		return -1;
	}

	json_object_foreach((json_t *)ext, key, v) {
		long i;

		if (json_is_null(v))
			continue;
		/* objects built by model_new keep table order (jansson keeps
		 * insertion order): try the next few fields first, hash only
		 * when that guess is wrong */
		i = -1;
		for (long k = hint + 1; k < hint + 5 &&
		     (size_t)k < model_field_count; k++) {
			if (!strcmp(key, model_fields[k].name)) {
				i = k;
				break;
			}
		}
		if (i < 0)
			i = field_index(key);
		if (i < 0) {
			char buf[48];

			report_add(r, "", model_shown(buf, sizeof(buf), key),
				   "field.unknown",
				   "there is no field named '%s'", buf);
			continue;
		}
		hint = i;
		if (!(model_fields[i].types & MODEL_T(t))) {
			model_check_type_has(t, &model_fields[i], r);
			continue;
		}
		present[i] = v;
		if (!check_value(&model_fields[i], v, r))
			vals[i] = v;
	}

	num = json_string_value(vals[model_idx("number")]);
	for (size_t i = 0; i < model_field_count; i++) {
		const struct model_field *f = &model_fields[i];

		if (!(f->types & MODEL_T(t)))
			continue;
		v = present[i];
		/* an empty list is present: its length rule reports it */
		if (f->required && !value_filled(v) && !json_is_array(v))
			report_add(r, "", f->name, "field.required",
				   "%s is required for a %s extension",
				   f->name, type_names[t]);
		if (num && vals[i] && model_is_ref_form(f->form))
			check_self(f, vals[i], num, r);
		if (f->check)
			f->check(ext, f, r);
	}
	return t;
}

int model_validate(const json_t *ext, struct report *r)
{
	const json_t *vals[MODEL_FIELDS_MAX];
	size_t before = report_count(r);

	if (model_validate_one(ext, r, vals) < 0)
		return EINVAL;
	return report_count(r) > before ? EINVAL : 0;
}
