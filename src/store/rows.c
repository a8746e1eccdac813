/*
 * rows — extension rows as stored (staged or running): read, write, free.
 * Below the mirror (mirror.c), which loads through it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

/* ---- rows ---- */

static const char *ext_table(enum store_view v)
{
	return v == STORE_RUNNING ? "ext_running" : "ext_staged";
}

void ext_row_clear(struct ext_row *row)
{
	free(row->doc);
	json_decref(row->obj);
	if (row->snap)
		snap_feat_deref(row->snap->feat);
	if (row->snap)
		snap_cid_deref(row->snap->cid);   /* caller ID */
	free(row->snap);
	for (int i = 0; i < SEC_N; i++)
		blob_free(&row->sec[i]);
	memset(row, 0, sizeof(*row));
}

void store_rows_free(struct ext_row *rows, size_t n)
{
	if (!rows)
		return;
	for (size_t i = 0; i < n; i++)
		ext_row_clear(&rows[i]);
	free(rows);
}

json_t *ext_row_obj(struct ext_row *row)
{
	if (!row->obj && row->doc)
		row->obj = json_loads(row->doc, 0, NULL);
	return row->obj;
}

static void col_text(sqlite3_stmt *st, int i, char *dst, size_t sz)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	snprintf(dst, sz, "%s", t ? t : "");
}

static int row_read(sqlite3_stmt *st, enum store_view v, struct ext_row *row)
{
	const char *doc = (const char *)sqlite3_column_text(st, 2);

	memset(row, 0, sizeof(*row));
	col_text(st, 0, row->number, sizeof(row->number));
	if (model_type_parse((const char *)sqlite3_column_text(st, 1),
			     &row->type))
		row->type = MODEL_SIP;
	row->doc = strdup(doc ? doc : "{}");
	if (!row->doc)
		return ENOMEM;
	for (int i = 0; i < SEC_N; i++) {
		const void *p = sqlite3_column_blob(st, 3 + i);
		int n = sqlite3_column_bytes(st, 3 + i);

		if (sqlite3_column_type(st, 3 + i) == SQLITE_NULL)
			continue;
		row->sec[i].p = malloc(n ? (size_t)n : 1);
		if (!row->sec[i].p)
			return ENOMEM;
		if (n)
			memcpy(row->sec[i].p, p, (size_t)n);
		row->sec[i].len = (size_t)n;
	}
	row->must_change = sqlite3_column_int(st, 3 + SEC_N) != 0;
	if (sqlite3_column_bytes(st, 4 + SEC_N) == STORE_FP_LEN) {
		memcpy(row->fp, sqlite3_column_blob(st, 4 + SEC_N),
		       STORE_FP_LEN);
		row->has_fp = true;
	}
	if (v == STORE_RUNNING) {
		col_text(st, 5 + SEC_N, row->ha1_md5, sizeof(row->ha1_md5));
		col_text(st, 6 + SEC_N, row->ha1_sha256,
			 sizeof(row->ha1_sha256));
		col_text(st, 7 + SEC_N, row->prev_md5, sizeof(row->prev_md5));
		col_text(st, 8 + SEC_N, row->prev_sha256,
			 sizeof(row->prev_sha256));
		row->prev_until = sqlite3_column_int64(st, 9 + SEC_N);
	}
	return 0;
}

static void select_sql(enum store_view v, const char *where, char *sql,
		       size_t sz)
{
	snprintf(sql, sz, "SELECT number, type, doc, sip_pw, vm_pin, call_pw,"
		 " hotdesk_pin, web_hash, must_change, sip_fp%s FROM %s%s",
		 v == STORE_RUNNING ? ", ha1_md5, ha1_sha256, prev_ha1_md5,"
		 " prev_ha1_sha256, prev_until" : "",
		 ext_table(v), where);
}

int store_rows_load(struct store *s, enum store_view v,
		    struct ext_row **rowsp, size_t *np)
{
	sqlite3_stmt *st = NULL;
	struct ext_row *rows = NULL;
	size_t n = 0, cap = 0;
	char sql[512];
	int rc, err = 0;

	select_sql(v, " ORDER BY number", sql, sizeof(sql));
	if (store_prep(s, sql, &st))
		return EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct ext_row *p = realloc(rows, nc * sizeof(*p));

			if (!p) {
				err = ENOMEM;
				goto out;
			}
			rows = p;
			cap = nc;
		}
		err = row_read(st, v, &rows[n]);
		n++;
		if (err)
			goto out;
	}
	if (rc != SQLITE_DONE)
		err = EIO;
 out:
	store_unprep(st);
	if (err) {
		store_rows_free(rows, n);
		return err;
	}
	*rowsp = rows;
	*np = n;
	return 0;
}

/* Call fn for each row of a table in number order, one row in memory at
 * a time (the row is cleared after fn). Stops at fn's first error. */
int store_rows_each(struct store *s, enum store_view v,
		    int (*fn)(struct ext_row *row, void *arg), void *arg)
{
	sqlite3_stmt *st = NULL;
	struct ext_row row;
	char sql[512];
	int rc, err = 0;

	select_sql(v, " ORDER BY number", sql, sizeof(sql));
	if (store_prep(s, sql, &st))
		return EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		err = row_read(st, v, &row);
		if (!err)
			err = fn(&row, arg);
		ext_row_clear(&row);
		if (err)
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = EIO;
	store_unprep(st);
	return err;
}

/* One row by number: 0, ENOENT or EIO. */
int store_row_get(struct store *s, enum store_view v, const char *number,
		  struct ext_row *row)
{
	sqlite3_stmt *st = NULL;
	char sql[512];
	int rc, err;

	select_sql(v, " WHERE number = ?", sql, sizeof(sql));
	if (store_prep(s, sql, &st))
		return EIO;
	sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		err = row_read(st, v, row);
		if (err)
			ext_row_clear(row);
	} else {
		err = rc == SQLITE_DONE ? ENOENT : EIO;
	}
	store_unprep(st);
	return err;
}

bool store_ext_exists(struct store *s, enum store_view v, const char *number)
{
	sqlite3_stmt *st = NULL;
	char sql[96];
	bool found = false;

	snprintf(sql, sizeof(sql), "SELECT 1 FROM %s WHERE number = ?",
		 ext_table(v));
	if (store_prep(s, sql, &st))
		return false;
	sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	store_unprep(st);
	return found;
}

int store_row_write(struct store *s, enum store_view v,
		    const struct ext_row *row)
{
	sqlite3_stmt *st = NULL;
	char sql[512];
	int err = 0;

	snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO %s(number, type,"
		 " doc, sip_pw, vm_pin, call_pw, hotdesk_pin, web_hash,"
		 " must_change, sip_fp%s) VALUES (?,?,?,?,?,?,?,?,?,?%s)",
		 ext_table(v),
		 v == STORE_RUNNING ? ", ha1_md5, ha1_sha256, prev_ha1_md5,"
		 " prev_ha1_sha256, prev_until" : "",
		 v == STORE_RUNNING ? ",?,?,?,?,?" : "");
	if (store_prep(s, sql, &st))
		return EIO;
	sqlite3_bind_text(st, 1, row->number, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, model_type_name(row->type), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, row->doc, -1, SQLITE_STATIC);
	for (int i = 0; i < SEC_N; i++) {
		if (!row->sec[i].p)
			sqlite3_bind_null(st, 4 + i);
		else if (store_secdefs[i].hashed)
			sqlite3_bind_text(st, 4 + i, (const char *)row->sec[i].p,
					  (int)row->sec[i].len, SQLITE_STATIC);
		else
			sqlite3_bind_blob(st, 4 + i, row->sec[i].p,
					  (int)row->sec[i].len, SQLITE_STATIC);
	}
	sqlite3_bind_int(st, 4 + SEC_N, row->must_change);
	if (row->has_fp && row->sec[SEC_SIP_PW].p)
		sqlite3_bind_blob(st, 5 + SEC_N, row->fp, STORE_FP_LEN,
				  SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 5 + SEC_N);
	if (v == STORE_RUNNING) {
		const char *h[4] = {row->ha1_md5, row->ha1_sha256,
				    row->prev_md5, row->prev_sha256};

		for (int i = 0; i < 4; i++) {
			if (h[i][0])
				sqlite3_bind_text(st, 6 + SEC_N + i, h[i], -1,
						  SQLITE_STATIC);
			else
				sqlite3_bind_null(st, 6 + SEC_N + i);
		}
		sqlite3_bind_int64(st, 10 + SEC_N, row->prev_until);
	}
	if (sqlite3_step(st) != SQLITE_DONE)
		err = store_db_fail(s, 0);
	store_unprep(st);
	return err;
}
