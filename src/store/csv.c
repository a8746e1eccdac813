/*
 * csv — import and export of extensions as CSV (RFC 4180).
 *
 * Header row: field names (model.h). Import is all or nothing; findings
 * name the record as "row N", the header being row 1 (as a spreadsheet
 * numbers them). Export omits every secret.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

#define CSV_MAX_BYTES   (32u * 1024 * 1024)
#define CSV_MAX_ROWS    100001u
#define CSV_MAX_COLS    512u
#define CSV_MAX_CELL    4096u

struct csv_rec {
	char **cell;
	size_t n;
};

struct csv {
	struct csv_rec *rec;
	size_t n, cap;
};

static void csv_free(struct csv *c)
{
	for (size_t i = 0; i < c->n; i++) {
		for (size_t k = 0; k < c->rec[i].n; k++) {
			if (c->rec[i].cell[k])
				sodium_memzero(c->rec[i].cell[k],
					       strlen(c->rec[i].cell[k]));
			free(c->rec[i].cell[k]);
		}
		free(c->rec[i].cell);
	}
	free(c->rec);
	memset(c, 0, sizeof(*c));
}

/* Parse buf into records. EINVAL with a report item on malformed input
 * or a bound exceeded. */
static int csv_parse(const char *buf, size_t len, struct csv *c,
		     struct report *r)
{
	char cell[CSV_MAX_CELL + 1];
	size_t pos = 0, cl = 0, row = 1;
	struct csv_rec cur = {NULL, 0};
	bool quoted = false, was_quoted = false, end_rec = false;
	int err = 0;

	if (len > CSV_MAX_BYTES) {
		report_add(r, "row 1", "", "csv.too_large", "The file is "
			   "larger than %u bytes.", CSV_MAX_BYTES);
		return EINVAL;
	}
	while (pos <= len) {
		bool eof = pos == len;
		char ch = eof ? '\0' : buf[pos];
		bool end_cell = false;

		if (quoted && !eof) {
			if (ch == '"') {
				if (pos + 1 < len && buf[pos + 1] == '"') {
					pos++;
				} else {
					quoted = false;
					pos++;
					continue;
				}
			}
			if (cl >= CSV_MAX_CELL)
				goto toolong;
			cell[cl++] = ch;
			pos++;
			continue;
		}
		if (quoted && eof) {
			report_add(r, "", "", "csv.quote", "row %zu: a quoted "
				   "value is not closed.", row);
			snprintf(r->item[r->n - 1].where, 32, "row %zu", row);
			err = EINVAL;
			goto out;
		}
		if (eof) {
			end_cell = end_rec = (cl > 0 || cur.n > 0 ||
					       was_quoted);
			if (!end_cell)
				break;
		} else if (ch == '"' && cl == 0 && !was_quoted) {
			quoted = was_quoted = true;
			pos++;
			continue;
		} else if (ch == ',') {
			end_cell = true;
		} else if (ch == '\r' && pos + 1 < len && buf[pos + 1] == '\n') {
			pos++;
			continue;
		} else if (ch == '\n') {
			end_cell = end_rec = true;
		} else {
			if (was_quoted) {
				report_add(r, "", "", "csv.quote", "Text after "
					   "a closing quote.");
				snprintf(r->item[r->n - 1].where, 32,
					 "row %zu", row);
				err = EINVAL;
				goto out;
			}
			if (cl >= CSV_MAX_CELL)
				goto toolong;
			cell[cl++] = ch;
			pos++;
			continue;
		}
		if (end_cell) {
			char **p;

			if (cur.n >= CSV_MAX_COLS) {
				report_add(r, "", "", "csv.too_large",
					   "More than %u columns.",
					   CSV_MAX_COLS);
				snprintf(r->item[r->n - 1].where, 32,
					 "row %zu", row);
				err = EINVAL;
				goto out;
			}
			p = realloc(cur.cell, (cur.n + 1) * sizeof(*p));
			if (!p) {
				err = ENOMEM;
				goto out;
			}
			cur.cell = p;
			cur.cell[cur.n] = strndup(cell, cl);
			if (!cur.cell[cur.n]) {
				err = ENOMEM;
				goto out;
			}
			cur.n++;
			cl = 0;
			was_quoted = false;
		}
		if (end_rec) {
			/* a blank line is no record */
			if (!(cur.n == 1 && !cur.cell[0][0])) {
				if (c->n >= CSV_MAX_ROWS) {
					report_add(r, "", "", "csv.too_large",
						   "More than %u rows.",
						   CSV_MAX_ROWS);
					snprintf(r->item[r->n - 1].where, 32,
						 "row %zu", row);
					err = EINVAL;
					goto out;
				}
				if (c->n == c->cap) {
					size_t nc = c->cap ? c->cap * 2 : 64;
					struct csv_rec *q = realloc(c->rec,
						nc * sizeof(*q));

					if (!q) {
						err = ENOMEM;
						goto out;
					}
					c->rec = q;
					c->cap = nc;
				}
				c->rec[c->n++] = cur;
				row++;
			} else {
				free(cur.cell[0]);
				free(cur.cell);
			}
			memset(&cur, 0, sizeof(cur));
			end_rec = false;
		}
		pos++;
	}
 out:
	for (size_t k = 0; k < cur.n; k++)
		free(cur.cell[k]);
	free(cur.cell);
	sodium_memzero(cell, sizeof(cell));
	return err;
 toolong:
	report_add(r, "", "", "csv.too_large", "A value is longer than %u "
		   "characters.", CSV_MAX_CELL);
	snprintf(r->item[r->n - 1].where, 32, "row %zu", row);
	err = EINVAL;
	goto out;
}

static bool header_ok(const struct csv_rec *h, struct report *r)
{
	bool ok = true, has_number = false;

	for (size_t i = 0; i < h->n; i++) {
		const char *name = h->cell[i];

		if (!strcmp(name, "number"))
			has_number = true;
		if (!model_field_find(name)) {
			report_add(r, "row 1", name, "csv.header", "Column "
				   "'%.40s' is not a field name.", name);
			ok = false;
		}
		for (size_t k = 0; k < i; k++) {
			if (!strcmp(h->cell[k], name)) {
				report_add(r, "row 1", name, "csv.header",
					   "Column '%.40s' appears twice.",
					   name);
				ok = false;
			}
		}
	}
	if (!has_number) {
		report_add(r, "row 1", "number", "csv.header", "The header "
			   "must have a 'number' column.");
		ok = false;
	}
	return ok;
}

int store_ext_import_csv(struct store *s, const char *csvtext, size_t len,
			 struct report *r, size_t *count)
{
	return store_ext_import_csv_gen(s, csvtext, len, r, count, NULL);
}

int store_ext_import_csv_gen(struct store *s, const char *csvtext,
			     size_t len, struct report *r, size_t *count,
			     json_t **generated)
{
	json_t *gen_all = generated ? json_array() : NULL;
	struct report errs, warns;
	struct policy p;
	struct csv c;
	struct ext_row *rows = NULL;
	char (*where)[32] = NULL;
	const char **wp = NULL;
	size_t n = 0;
	int err = 0;

	if (!s || (!csvtext && len) || !r)
		return EINVAL;
	memset(&c, 0, sizeof(c));
	report_init(&errs);
	report_init(&warns);
	err = csv_parse(csvtext ? csvtext : "", len, &c, &errs);
	if (err)
		goto done;
	if (c.n == 0 || !header_ok(&c.rec[0], &errs)) {
		if (c.n == 0)
			report_add(&errs, "row 1", "", "csv.header",
				   "The file has no header row.");
		err = EINVAL;
		goto done;
	}
	rows = calloc(c.n, sizeof(*rows));
	where = calloc(c.n, sizeof(*where));
	wp = calloc(c.n, sizeof(*wp));
	if (!rows || !where || !wp) {
		err = ENOMEM;
		goto done;
	}
	pthread_mutex_lock(&s->lock);
	err = store_policy_load(s, STORE_STAGED, &p);
	for (size_t i = 1; i < c.n && !err; i++) {
		const struct csv_rec *rec = &c.rec[i];
		const struct csv_rec *h = &c.rec[0];
		struct ext_row old;
		json_t *fields = json_object(), *ext = NULL;
		const char *num;
		bool exists;
		int e;

		memset(&old, 0, sizeof(old));
		snprintf(where[n], sizeof(where[n]), "row %zu", i + 1);
		if (!fields) {
			err = ENOMEM;
			break;
		}
		if (rec->n != h->n) {
			report_add(&errs, where[n], "", "csv.columns",
				   "The row has %zu values; the header has "
				   "%zu.", rec->n, h->n);
			json_decref(fields);
			continue;
		}
		for (size_t k = 0; k < rec->n; k++) {
			if (rec->cell[k][0])
				json_object_set_new(fields, h->cell[k],
					json_string(rec->cell[k]));
		}
		num = json_string_value(json_object_get(fields, "number"));
		for (size_t k = 0; num && k < n; k++) {
			if (!strcmp(rows[k].number, num)) {
				report_add(&errs, where[n], "number",
					   "number.unique", "Number %.23s "
					   "appears twice in the file.", num);
				num = NULL;
			}
		}
		if (!num) {
			if (!json_object_get(fields, "number"))
				report_add(&errs, where[n], "number",
					   "number.required", "The number is "
					   "empty.");
			store_ext_wipe(fields);
			json_decref(fields);
			continue;
		}
		exists = !store_row_get(s, STORE_STAGED, num, &old);
		if (exists) {
			/* an existing number: the row edits it */
			const char *t = json_string_value(json_object_get(
						fields, "type"));

			if (t && strcmp(t, model_type_name(old.type))) {
				report_add(&errs, where[n], "type",
					   "type.immutable", "The type of "
					   "extension %.23s cannot be changed.",
					   num);
				e = EINVAL;
			} else {
				ext = json_deep_copy(ext_row_obj(&old));
				size_t before = report_count(&errs);

				store_apply_fields(ext, old.type, fields,
						   where[n], &errs);
				model_apply_defaults(ext);
				e = report_count(&errs) > before ? EINVAL : 0;
			}
		} else {
			unsigned gen = 0;

			e = store_ext_from_fields(s, fields, where[n], &errs,
						  &ext);
			if (!e && !json_object_get(ext, "auth.password"))
				gen |= STORE_GEN_PASSWORD;
			if (!e && !json_object_get(ext, "voicemail.pin"))
				gen |= STORE_GEN_PIN;
			if (!e && gen && gen_all) {
				json_t *g = json_pack("{s:s}", "number",
						      num);

				e = g ? store_generate(s, &p, ext, gen, g) :
					ENOMEM;
				if (!e)
					json_array_append(gen_all, g);
				else
					store_ext_wipe(g);
				json_decref(g);
			} else if (!e) {
				e = store_generate(s, &p, ext, gen, NULL);
			}
		}
		if (!e)
			e = store_stage_prepare(s, &p, ext,
						exists ? &old : NULL, where[n],
						&errs, &warns, &rows[n]);
		if (!e) {
			wp[n] = where[n];
			n++;
		} else if (e == ENOMEM || e == EIO) {
			err = e;
		}
		ext_row_clear(&old);
		store_ext_wipe(ext);
		json_decref(ext);
		store_ext_wipe(fields);
		json_decref(fields);
	}
	if (!err && !report_count(&errs))
		err = store_check_unique(s, &p, rows, wp, n, &errs);
	if (!err && report_count(&errs))
		err = EINVAL;
	if (!err)
		err = store_rows_stage(s, rows, n);
	pthread_mutex_unlock(&s->lock);
 done:
	store_rows_free(rows, n);
	free(where);
	free(wp);
	csv_free(&c);
	report_merge(r, &errs, NULL);
	report_merge(r, &warns, NULL);
	if (!err && count)
		*count = n;
	/* the secrets leave only with a staged import */
	if (gen_all && !err) {
		*generated = gen_all;
	} else if (gen_all) {
		size_t i;
		json_t *g;

		json_array_foreach(gen_all, i, g)
			store_ext_wipe(g);
		json_decref(gen_all);
	}
	store_trim();
	return err;
}

/* ---- export ---- */

static void buf_cell(struct store_buf *b, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		store_buf_add(b, s, strlen(s));
		return;
	}
	store_buf_add(b, "\"", 1);
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			store_buf_add(b, "\"", 1);
		store_buf_add(b, p, 1);
	}
	store_buf_add(b, "\"", 1);
}

int store_ext_export_csv(struct store *s, enum store_view v, char **csvp,
			 size_t *lenp)
{
	struct ext_row *rows = NULL;
	const struct model_field **cols = NULL;
	struct store_buf b = {NULL, 0, 0, 0};
	size_t n = 0, nc = 0;
	int err;

	if (!s || !csvp)
		return EINVAL;
	pthread_mutex_lock(&s->lock);
	err = store_rows_load(s, v, &rows, &n);
	pthread_mutex_unlock(&s->lock);
	if (err)
		return err;
	cols = calloc(model_field_count + 1, sizeof(*cols));
	if (!cols) {
		err = ENOMEM;
		goto out;
	}
	/* number and type first, then each non-secret field some row has */
	cols[nc++] = model_field_find("number");
	cols[nc++] = model_field_find("type");
	for (size_t i = 0; i < model_field_count; i++) {
		const struct model_field *f = &model_fields[i];
		bool used = false;

		if (f->kind == MODEL_SECRET || !strcmp(f->name, "number") ||
		    !strcmp(f->name, "type"))
			continue;
		for (size_t k = 0; k < n && !used; k++)
			used = json_object_get(ext_row_obj(&rows[k]), f->name);
		if (used)
			cols[nc++] = f;
	}
	for (size_t k = 0; k < nc; k++) {
		if (k)
			store_buf_add(&b, ",", 1);
		buf_cell(&b, cols[k] ? cols[k]->name : "");
	}
	store_buf_add(&b, "\r\n", 2);
	for (size_t i = 0; i < n; i++) {
		json_t *o = ext_row_obj(&rows[i]);

		for (size_t k = 0; k < nc; k++) {
			json_t *val = cols[k] ? json_object_get(o,
						cols[k]->name) : NULL;
			char *t = NULL;

			if (k)
				store_buf_add(&b, ",", 1);
			if (k == 0)
				t = strdup(rows[i].number);
			else if (k == 1)
				t = strdup(model_type_name(rows[i].type));
			else if (val)
				t = model_format_value(cols[k], val);
			if (t)
				buf_cell(&b, t);
			free(t);
		}
		store_buf_add(&b, "\r\n", 2);
	}
	err = b.err;
	if (!err) {
		*csvp = b.p;
		if (lenp)
			*lenp = b.len;
		b.p = NULL;
	}
 out:
	free(b.p);
	free(cols);
	store_rows_free(rows, n);
	return err;
}
