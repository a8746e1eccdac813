/*
 * json — the store's compact JSON text (stored documents, the diff) and
 * a report as JSON.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

/* ---- compact JSON text ---- */

void store_buf_add(struct store_buf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 2048;
		char *p;

		while (nc < b->len + n + 1)
			nc *= 2;
		p = realloc(b->p, nc);
		if (!p) {
			b->err = ENOMEM;
			return;
		}
		b->p = p;
		b->cap = nc;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* A string as jansson writes it without flags: '"' and '\\' escaped,
 * \b \f \n \r \t short, other control characters as \u00XX, the rest
 * (UTF-8 included) as is. */
static void sb_str(struct store_buf *b, const char *s)
{
	static const char xd[] = "0123456789ABCDEF";   /* as jansson */
	const char *run = s;

	store_buf_add(b, "\"", 1);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[6] = {'\\', 'u', '0', '0', 0, 0};

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		store_buf_add(b, run, (size_t)(s - run));
		run = s + 1;
		switch (ch) {
		case '"': case '\\': esc[1] = (char)ch; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[4] = xd[ch >> 4];
			esc[5] = xd[ch & 15];
			store_buf_add(b, esc, 6);
			continue;
		}
		store_buf_add(b, esc, 2);
	}
	store_buf_add(b, run, (size_t)(s - run));
	store_buf_add(b, "\"", 1);
}

struct kv {
	const char *k;
	const json_t *v;
};

static int kv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kv *)a)->k, ((const struct kv *)b)->k);
}

/* false for a value this writer leaves to jansson (reals). */
static bool sb_json(struct store_buf *b, const json_t *v, bool sort)
{
	char num[32];
	size_t i, n;
	json_t *x;

	switch (json_typeof(v)) {
	case JSON_STRING:
		sb_str(b, json_string_value(v));
		return true;
	case JSON_INTEGER:
		n = (size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
				     json_integer_value(v));
		store_buf_add(b, num, n);
		return true;
	case JSON_TRUE:
		store_buf_add(b, "true", 4);
		return true;
	case JSON_FALSE:
		store_buf_add(b, "false", 5);
		return true;
	case JSON_NULL:
		store_buf_add(b, "null", 4);
		return true;
	case JSON_ARRAY:
		store_buf_add(b, "[", 1);
		json_array_foreach((json_t *)v, i, x) {
			if (i)
				store_buf_add(b, ",", 1);
			if (!sb_json(b, x, sort))
				return false;
		}
		store_buf_add(b, "]", 1);
		return true;
	case JSON_OBJECT: {
		struct kv pairs[128], *k = pairs;
		const char *key;
		bool ok = true;

		n = json_object_size(v);
		if (n > sizeof(pairs) / sizeof(pairs[0])) {
			k = malloc(n * sizeof(*k));
			if (!k)
				return false;
		}
		i = 0;
		json_object_foreach((json_t *)v, key, x) {
			if (i == n)
				break;
			k[i].k = key;
			k[i++].v = x;
		}
		n = i;   /* only what was filled in is read below */
		if (sort)
			qsort(k, n, sizeof(*k), kv_cmp);
		store_buf_add(b, "{", 1);
		for (i = 0; i < n && ok; i++) {
			if (i)
				store_buf_add(b, ",", 1);
			sb_str(b, k[i].k);
			store_buf_add(b, ":", 1);
			ok = sb_json(b, k[i].v, sort);
		}
		store_buf_add(b, "}", 1);
		if (k != pairs)
			free(k);
		return ok;
	}
	default:
		return false;
	}
}

/* json_dumps(v, JSON_COMPACT [| JSON_SORT_KEYS]), byte for byte, several
 * times faster for what the store writes (docs, the changes list). */
char *store_json_text(const json_t *v, bool sort)
{
	struct store_buf b = {NULL, 0, 0, 0};

	if (sb_json(&b, v, sort) && !b.err && b.p)
		return b.p;
	free(b.p);
	return json_dumps(v, JSON_COMPACT | (sort ? JSON_SORT_KEYS : 0));
}

json_t *store_report_json(const struct report *r)
{
	json_t *a = json_array();

	for (size_t i = 0; a && r && i < r->n; i++) {
		const struct report_item *it = &r->item[i];

		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s}",
			"where", it->where, "field", it->field,
			"rule", it->rule, "message", it->msg));
	}
	if (a && r && r->dropped)
		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s}",
			"where", "", "field", "", "rule", "report.truncated",
			"message", "More findings were not listed."));
	return a;
}
