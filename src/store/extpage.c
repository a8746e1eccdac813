/*
 * extpage — a page of the extension list straight from SQL (extpage.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/extpage.h"
#include "store/store_int.h"

#define MATCH \
	" WHERE ?1 = '' OR substr(number, 1, length(?1)) = ?1" \
	" OR instr(lower(json_extract(doc, '$.name')), lower(?1)) > 0" \
	" OR type = lower(?1)"

/* Numeric order of the digit strings (201 before 1000), as
 * store_number_cmp: leading zeros aside, a shorter number is smaller;
 * equal values ("0201", "201") fall back to the text. */
#define NUMERIC_ORDER \
	" length(ltrim(number, '0')), ltrim(number, '0'), number"

static void bool_col(json_t *e, const char *key, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) != SQLITE_NULL)
		json_object_set_new(e, key,
				    json_boolean(sqlite3_column_int(st, col)));
}

static void text_col(json_t *e, const char *key, sqlite3_stmt *st, int col)
{
	const char *t = (const char *)sqlite3_column_text(st, col);

	if (t)
		json_object_set_new(e, key, json_string(t));
}

int store_ext_page(struct store *s, enum store_view v, const char *q,
		   size_t offset, size_t limit, json_t **out)
{
	const char *table = v == STORE_STAGED ? "ext_staged" : "ext_running";
	char count_sql[400], page_sql[700];
	sqlite3_stmt *st = NULL;
	json_t *items = NULL;
	sqlite3_int64 total = 0;
	int rc, err = 0;

	if (!s || !out)
		return EINVAL;
	if (!q)
		q = "";
	snprintf(count_sql, sizeof(count_sql), "SELECT count(*) FROM %s"
		 MATCH, table);
	snprintf(page_sql, sizeof(page_sql), "SELECT number, type,"
		 " json_extract(doc, '$.name'),"
		 " json_extract(doc, '$.class_of_service'),"
		 " json_extract(doc, '$.\"voicemail.enabled\"'),"
		 " json_extract(doc, '$.\"web.enabled\"')"
		 " FROM %s" MATCH " ORDER BY" NUMERIC_ORDER " LIMIT ?2 OFFSET ?3",
		 table);
	items = json_array();
	if (!items)
		return ENOMEM;
	pthread_mutex_lock(&s->lock);
	if (store_prep(s, count_sql, &st)) {
		err = EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, q, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		total = sqlite3_column_int64(st, 0);
	else
		err = EIO;
	store_unprep(st);
	if (err)
		goto out;
	if (store_prep(s, page_sql, &st)) {
		err = EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, q, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)offset);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *e = json_object();

		if (!e) {
			err = ENOMEM;
			break;
		}
		text_col(e, "number", st, 0);
		text_col(e, "type", st, 1);
		text_col(e, "name", st, 2);
		text_col(e, "class_of_service", st, 3);
		bool_col(e, "voicemail.enabled", st, 4);
		bool_col(e, "web.enabled", st, 5);
		json_array_append_new(items, e);
	}
	if (!err && rc != SQLITE_DONE)
		err = EIO;
	store_unprep(st);
out:
	pthread_mutex_unlock(&s->lock);
	if (!err) {
		*out = json_pack("{s:I,s:o}", "total", (json_int_t)total,
				 "items", items);
		if (*out)
			return 0;
		return ENOMEM;
	}
	json_decref(items);
	return err;
}
