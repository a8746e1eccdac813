/*
 * store — open/close, extension rows, the staging pipeline shared by every
 * write path, pending diff, discard, licences.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_int.h"

/* ---- transactions ---- */

int store_db_fail(struct store *s, int rc)
{
	int err = store_sqlite_errno(s->db, rc);

	/* a busy database or no memory says nothing about the disk */
	if (err != EBUSY && err != ENOMEM)
		store_health_failed(STORE_HS_CONFIG, err, sqlite3_errmsg(s->db));
	return err;
}

void store_test_max_pages(struct store *s, unsigned pages)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%u", pages);
	pthread_mutex_lock(&s->lock);
	sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	pthread_mutex_unlock(&s->lock);
}

int store_tx_begin(struct store *s)
{
	int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_db_fail(s, rc);
}

int store_tx_commit(struct store *s)
{
	int rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL), err;

	if (rc == SQLITE_OK) {
		store_health_ok(STORE_HS_CONFIG);
		return 0;
	}
	err = store_db_fail(s, rc);
	store_tx_rollback(s);
	return err;
}

void store_tx_rollback(struct store *s)
{
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- prepared statements, kept for the life of the store ---- */

/* The statement for sql, prepared once and reset for reuse. Returns
 * nonzero on error. */
int store_prep(struct store *s, const char *sql, sqlite3_stmt **stp)
{
	for (size_t i = 0; i < s->nstc; i++) {
		if (!strcmp(s->stc[i].sql, sql)) {
			*stp = s->stc[i].st;
			return 0;
		}
	}
	if (s->nstc >= STORE_STMT_CACHE)
		return 1;   /* the store uses far fewer distinct statements */
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, stp,
			       NULL) != SQLITE_OK)
		return 1;
	s->stc[s->nstc].sql = strdup(sql);
	if (!s->stc[s->nstc].sql) {
		sqlite3_finalize(*stp);
		return 1;
	}
	s->stc[s->nstc++].st = *stp;
	return 0;
}

/* Done with a statement from store_prep: reset for the next use. */
void store_unprep(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* ---- open / close ---- */

static int load_file(const char *path, char **bufp, size_t *lenp)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	long sz;
	int err = 0;

	if (!f)
		return errno;
	if (fseek(f, 0, SEEK_END) || (sz = ftell(f)) < 0 ||
	    sz > 64L * 1024 * 1024 || fseek(f, 0, SEEK_SET)) {
		err = EIO;
		goto out;
	}
	buf = malloc((size_t)sz + 1);
	if (!buf) {
		err = ENOMEM;
		goto out;
	}
	if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
		err = EIO;
		goto out;
	}
	buf[sz] = '\0';
	*bufp = buf;
	*lenp = (size_t)sz;
	buf = NULL;
 out:
	free(buf);
	fclose(f);
	return err;
}

/* Both lists are needed for the dictionary rule to mean what the policy
 * page says; a missing one does not stop the daemon (phones must keep
 * working) but is recorded, so that status shows it for as long as it
 * lasts and the daemon can say so loudly (store_dict_status). */
static int dict_load(struct store *s, const char *share_dir)
{
	char path[4096];
	const char *paths[2] = {STORE_SYSTEM_WORDS, path};
	json_t *lists;
	bool degraded = false;
	int err;

	err = policy_dict_alloc(&s->dict);
	if (err)
		return err;
	lists = json_array();
	if (!lists)
		return ENOMEM;
	snprintf(path, sizeof(path), "%s/common-passwords.txt",
		 share_dir ? share_dir : ".");
	for (size_t i = 0; i < 2; i++) {
		size_t before = policy_dict_size(s->dict);
		char *buf = NULL;
		size_t len = 0;
		bool ok = !load_file(paths[i], &buf, &len);

		if (ok) {
			err = policy_dict_add(s->dict, buf, len);
			free(buf);
			if (err) {
				json_decref(lists);
				return err;
			}
		}
		degraded = degraded || !ok;
		json_array_append_new(lists, json_pack("{s:s,s:b,s:I}",
			"path", paths[i], "loaded", ok, "words",
			(json_int_t)(policy_dict_size(s->dict) - before)));
	}
	s->dict_status = json_pack("{s:I,s:b,s:o}", "words",
				   (json_int_t)policy_dict_size(s->dict),
				   "degraded", degraded, "lists", lists);
	return s->dict_status ? 0 : ENOMEM;
}

json_t *store_dict_status(const struct store *s)
{
	return s && s->dict_status ? json_deep_copy(s->dict_status) : NULL;
}

const struct policy_dict *store_dict(const struct store *s)
{
	return s ? s->dict : NULL;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	store_janitor_stop(s);
	for (size_t i = 0; i < s->nstc; i++) {
		sqlite3_finalize(s->stc[i].st);
		free(s->stc[i].sql);
	}
	if (s->db)
		sqlite3_close_v2(s->db);
	policy_dict_free(s->dict);
	json_decref(s->dict_status);
	store_mirror_free(s);
	free(s->db_path);
	sodium_memzero(s->key, sizeof(s->key));
	sodium_memzero(s->fpkey, sizeof(s->fpkey));
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int store_open(struct store **sp, const char *data_dir, const char *share_dir)
{
	struct store *s;
	char path[4096];
	int err;

	if (!sp || !data_dir)
		return EINVAL;
	if (sodium_init() < 0)
		return EIO;
	store_sections_builtin();
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	pthread_mutex_init(&s->lock, NULL);

	err = store_key_load(data_dir, s->key);
	if (err)
		goto out;
	store_fp_key(s);
	if (snprintf(path, sizeof(path), "%s/bulwark.db", data_dir)
	    >= (int)sizeof(path)) {
		err = ENAMETOOLONG;
		goto out;
	}
	s->db_path = strdup(path);
	if (!s->db_path) {
		err = ENOMEM;
		goto out;
	}
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL)
	    != SQLITE_OK) {
		err = EIO;
		goto out;
	}
	chmod(path, 0600);
	sqlite3_busy_timeout(s->db, 5000);
	if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL;"
			 "PRAGMA synchronous=FULL;"
			 "PRAGMA cache_size=-2048;"
			 "PRAGMA foreign_keys=ON;", NULL, NULL, NULL)
	    != SQLITE_OK) {
		err = EIO;
		goto out;
	}
	err = store_migrate(s->db);
	if (!err)
		err = store_fp_backfill(s);
	if (err)
		goto out;
	err = dict_load(s, share_dir);
	if (!err)
		err = store_janitor_start(s);
 out:
	if (err) {
		store_close(s);
		return err;
	}
	*sp = s;
	return 0;
}

const char *store_db_path(const struct store *s)
{
	return s ? s->db_path : NULL;
}

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

/* ---- rows ---- */

static const char *ext_table(enum store_view v)
{
	return v == STORE_RUNNING ? "ext_running" : "ext_staged";
}

void ext_row_clear(struct ext_row *row)
{
	free(row->doc);
	json_decref(row->obj);
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

/* Give freed heap back to the system after a big operation: glibc keeps
 * it in the (per-thread) arena otherwise, and the admin threads' peaks
 * would stay resident. */
void store_trim(void)
{
	malloc_trim(0);
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

/* Remove a staged row (one transaction, mirror kept current). */
int store_row_delete(struct store *s, const char *number)
{
	sqlite3_stmt *st = NULL;
	int64_t gen = 0;
	int err;

	store_mirror_sync_warm(s);
	err = store_tx_begin(s);
	if (err)
		return err;
	if (store_prep(s, "DELETE FROM ext_staged WHERE number = ?", &st)) {
		err = EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = store_db_fail(s, 0);
	store_unprep(st);
	if (!err)
		err = store_gen_bump(s, &gen);
 out:
	if (err) {
		store_tx_rollback(s);
		return err;
	}
	err = store_tx_commit(s);
	if (err)
		store_mirror_drop(s);
	else
		store_mirror_del(s, number, gen);
	return err;
}

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

/* ---- staging pipeline ---- */

/* Which policy a secret is held to (docs/internals/store.md). */
static const enum check_kind sec_check[SEC_N] = {
	[SEC_SIP_PW] = CHECK_SIP,
	[SEC_VM_PIN] = CHECK_PIN,
	[SEC_CALL_PW] = CHECK_PIN,   /* callers key it in like a PIN */
	[SEC_HOTDESK_PIN] = CHECK_PIN,
	[SEC_WEB_HASH] = CHECK_WEB,
};

enum check_kind store_sec_check(int i)
{
	return sec_check[i];
}

void json_wipe(json_t *v)
{
	const char *p = json_string_value(v);

	if (p)
		sodium_memzero((char *)p, strlen(p));
}

static bool ext_bool(const json_t *ext, const char *name)
{
	return json_is_true(json_object_get(ext, name));
}

bool store_force_new_user(const json_t *ext)
{
	return ext_bool(ext, "voicemail.force_name") &&
		ext_bool(ext, "voicemail.force_greeting");
}

/* Decrypt the running value of a secret for number, or NULL. */
char *store_running_secret(struct store *s, const char *number, int idx)
{
	struct ext_row row;
	char *plain = NULL;

	if (store_row_get(s, STORE_RUNNING, number, &row))
		return NULL;
	if (row.sec[idx].p && !store_secdefs[idx].hashed)
		store_open_blob(s, &row.sec[idx], &plain);
	ext_row_clear(&row);
	return plain;
}

/* Check one new secret against the policy p. Returns 0 when accepted
 * (possibly with an auto-fix warning in warns), EINVAL when refused
 * (findings in errs). */
int store_check_secret(struct store *s, const struct policy *p, int idx,
		       const char *value, const json_t *ext,
		       const char *previous, const char *where,
		       struct report *errs, struct report *warns,
		       bool *must_change)
{
	const char *number = json_string_value(json_object_get(ext, "number"));
	const char *name = json_string_value(json_object_get(ext, "name"));
	struct report tmp;
	int err = 0;

	report_init(&tmp);
	switch (sec_check[idx]) {
	case CHECK_SIP:
		err = policy_check_sip(p, s->dict, value, number, name, &tmp);
		break;
	case CHECK_PIN:
		err = policy_check_pin(p, store_secdefs[idx].field, value,
				       number, previous,
				       idx == SEC_VM_PIN &&
				       store_force_new_user(ext),
				       must_change, &tmp);
		break;
	case CHECK_WEB:
		err = policy_check_web(p, s->dict, value,
				       json_string_value(json_object_get(ext,
							 "web.username")),
				       number, &tmp);
		break;
	default:
		break;
	}
	if (err && !report_count(&tmp))
		report_add(&tmp, "", store_secdefs[idx].field, "policy",
			   "Does not comply with the password policy.");
	if (err && p->auto_fix && sec_check[idx] != CHECK_WEB) {
		char rules[160] = "";
		size_t off = 0;

		for (size_t i = 0; i < tmp.n && off < sizeof(rules); i++)
			off += (size_t)snprintf(rules + off, sizeof(rules) - off,
						"%s%s", i ? ", " : "",
						tmp.item[i].rule);
		report_add(warns, where, store_secdefs[idx].field,
			   "policy.auto_fix", "Does not comply with the "
			   "policy (%s); auto-fix is on, so it will be "
			   "replaced by a generated one at commit.", rules);
		report_reset(&tmp);
		return 0;
	}
	report_merge(errs, &tmp, where);
	return err ? EINVAL : 0;
}

/* Build the staged row for ext. ext holds every non-secret field and the
 * plaintext of each secret that is new in this write (set now or
 * generated); secrets not in ext are kept from old. Runs model_validate
 * (with the kept secrets decrypted) and the policy on the new secrets.
 * Findings: errs (refusing) and warns. */
int store_stage_prepare(struct store *s, const struct policy *p, json_t *ext,
			const struct ext_row *old, const char *where,
			struct report *errs, struct report *warns,
			struct ext_row *row)
{
	const char *number = json_string_value(json_object_get(ext, "number"));
	enum model_type t;
	struct report tmp;
	size_t before = report_count(errs);
	json_t *vext = NULL, *doc = NULL;
	bool must_change = old ? old->must_change : false;
	const char *pw;
	int err = 0;

	memset(row, 0, sizeof(*row));
	report_init(&tmp);
	if (!number || model_type_parse(json_string_value(
			json_object_get(ext, "type")), &t))
		return EINVAL;

	/* model validation sees every secret the extension will have */
	vext = json_copy(ext);
	if (!vext)
		return ENOMEM;
	for (int i = 0; old && i < SEC_N; i++) {
		char *plain = NULL;

		if (json_object_get(ext, store_secdefs[i].field) ||
		    !old->sec[i].p)
			continue;
		if (store_secdefs[i].hashed) {
			/* stand-in for a stored one-way hash; its form
			 * was checked when it was set */
			json_object_set_new(vext, store_secdefs[i].field,
					    json_string(MODEL_SECRET_MASK));
			continue;
		}
		if (store_open_blob(s, &old->sec[i], &plain))
			continue;
		json_object_set_new(vext, store_secdefs[i].field,
				    json_string(plain));
		store_wipe(plain);
	}
	model_validate(vext, &tmp);
	report_merge(errs, &tmp, where);

	for (int i = 0; i < SEC_N; i++) {
		const char *v = json_string_value(json_object_get(ext,
						  store_secdefs[i].field));
		char *prev = NULL;

		if (!v || !*v || sec_check[i] == CHECK_NONE)
			continue;
		if (sec_check[i] == CHECK_PIN)
			prev = store_running_secret(s, number, i);
		if (i == SEC_VM_PIN)
			must_change = false;
		store_check_secret(s, p, i, v, ext, prev, where, errs, warns,
				   i == SEC_VM_PIN ? &must_change : NULL);
		store_wipe(prev);
	}
	if (report_count(errs) > before) {
		err = EINVAL;
		goto out;
	}

	/* the row: doc without secrets, sealed new secrets, kept old ones */
	doc = json_copy(ext);
	if (!doc) {
		err = ENOMEM;
		goto out;
	}
	snprintf(row->number, sizeof(row->number), "%s", number);
	row->type = t;
	row->must_change = must_change;
	for (int i = 0; i < SEC_N; i++) {
		const char *v = json_string_value(json_object_get(ext,
						  store_secdefs[i].field));

		json_object_del(doc, store_secdefs[i].field);
		if (v && *v)
			err = store_secdefs[i].hashed ?
				store_hash_web(v, &row->sec[i]) :
				store_seal(s, v, &row->sec[i]);
		else if (!v && old)
			err = blob_copy(&row->sec[i], &old->sec[i]);
		if (err)
			goto out;
	}
	/* the password's fingerprint (uniqueness without decrypting) */
	pw = json_string_value(json_object_get(ext, "auth.password"));
	if (pw && *pw) {
		store_sip_fp(s, pw, row->fp);
		row->has_fp = true;
	} else if (!pw && old && row->sec[SEC_SIP_PW].p) {
		char *plain = NULL;

		if (old->has_fp) {
			memcpy(row->fp, old->fp, sizeof(row->fp));
			row->has_fp = true;
		} else if (!store_open_blob(s, &row->sec[SEC_SIP_PW], &plain)) {
			store_sip_fp(s, plain, row->fp);
			row->has_fp = true;
			store_wipe(plain);
		}
	}
	row->doc = store_json_text(doc, true);
	row->obj = json_deep_copy(doc);   /* for the commit cache */
	if (!row->doc)
		err = ENOMEM;
 out:
	json_wipe(json_object_get(vext, "auth.password"));
	for (int i = 0; i < SEC_N; i++)
		json_wipe(json_object_get(vext, store_secdefs[i].field));
	json_decref(vext);
	json_decref(doc);
	if (err)
		ext_row_clear(row);
	return err;
}

/* Wipe every secret held in ext (before it is released). */
void store_ext_wipe(json_t *ext)
{
	for (int i = 0; ext && i < SEC_N; i++)
		json_wipe(json_object_get(ext, store_secdefs[i].field));
}

/* Apply an admin's fields (text or typed JSON) to ext of type t. */
void store_apply_fields(json_t *ext, enum model_type t, const json_t *fields,
			const char *where, struct report *errs)
{
	const char *key;
	json_t *val;

	json_object_foreach((json_t *)fields, key, val) {
		const struct model_field *f;
		struct report tmp;
		json_t *parsed = NULL;

		if (!strcmp(key, "number") || !strcmp(key, "type"))
			continue;
		f = model_field_find(key);
		if (!f) {
			report_add(errs, where, key, "field.unknown",
				   "There is no field '%.40s'.", key);
			continue;
		}
		if (!model_type_has(t, f)) {
			struct report one;

			report_init(&one);
			model_check_type_has(t, f, &one);
			report_merge(errs, &one, where);
			continue;
		}
		if (json_is_null(val)) {
			/* secrets: "" clears the stored one */
			if (f->kind == MODEL_SECRET)
				json_object_set_new(ext, key, json_string(""));
			else
				json_object_del(ext, key);
			continue;
		}
		/* a form posting back the mask means "keep the secret" */
		if (f->kind == MODEL_SECRET && json_is_string(val) &&
		    !strcmp(json_string_value(val), STORE_MASK))
			continue;
		/* choices too: admin text names them in any case
		 * ("RFC2833"), parsing stores the canonical one */
		if (json_is_string(val) && f->kind != MODEL_STRING &&
		    f->kind != MODEL_SECRET) {
			report_init(&tmp);
			if (model_parse_value(f, json_string_value(val),
					      &parsed, &tmp)) {
				if (!report_count(&tmp))
					report_add(&tmp, "", key,
						   "field.value",
						   "Invalid value for %.40s.",
						   key);
				report_merge(errs, &tmp, where);
				continue;
			}
			report_reset(&tmp);
			json_object_set_new(ext, key, parsed);
		} else if (f->kind == MODEL_SECRET && json_is_string(val)) {
			/* our own copy: it is wiped after use, the
			 * caller's object is not ours to touch */
			json_object_set_new(ext, key,
				json_string(json_string_value(val)));
		} else {
			json_object_set(ext, key, val);
		}
	}
}

static int pwent_cmp(const void *a, const void *b)
{
	const struct pwent *x = a, *y = b;
	int c = memcmp(x->h, y->h, sizeof(x->h));

	return c ? c : strcmp(x->number, y->number);
}

/* Report every fresh entry whose password another entry shares. */
void store_pw_sort(struct pwent *e, size_t n)
{
	qsort(e, n, sizeof(*e), pwent_cmp);
}

void store_pw_dups(struct pwent *e, size_t n, struct report *errs)
{
	store_pw_sort(e, n);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		while (j < n && !memcmp(e[j].h, e[i].h, sizeof(e[i].h)))
			j++;
		for (size_t k = i; j - i > 1 && k < j; k++) {
			if (e[k].fresh)
				report_add(errs, e[k].where, "auth.password",
					   "sip.unique", "The SIP password is "
					   "already used by another "
					   "extension; passwords must be "
					   "unique.");
		}
		i = j;
	}
}

static int num_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Uniqueness of new SIP passwords among the staged extensions, on keyed
 * fingerprints (nothing is decrypted). fresh/nfresh: the rows about to be
 * written; a staged row they replace does not count. */
int store_check_unique(struct store *s, const struct policy *p,
		       const struct ext_row *fresh, const char *const *where,
		       size_t nfresh, struct report *errs)
{
	struct pwent *e = NULL;
	const char **nums = NULL;
	sqlite3_stmt *st = NULL;
	size_t m = 0;
	int err = 0;

	if (!p->sip.unique || !nfresh)
		return 0;
	e = calloc(nfresh, sizeof(*e));
	nums = calloc(nfresh, sizeof(*nums));
	if (!e || !nums) {
		err = ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nfresh; i++) {
		const struct ext_row *row = &fresh[i];

		nums[i] = row->number;
		if (!row->sec[SEC_SIP_PW].p || !row->has_fp)
			continue;
		memcpy(e[m].h, row->fp, sizeof(e[m].h));
		snprintf(e[m].number, sizeof(e[m].number), "%s", row->number);
		snprintf(e[m].where, sizeof(e[m].where), "%s",
			 where ? where[i] : row->number);
		e[m].idx = i;
		m++;
	}
	qsort(nums, nfresh, sizeof(*nums), num_cmp);
	store_pw_sort(e, m);
	/* shared among the fresh rows themselves */
	for (size_t i = 0; i < m;) {
		size_t j = i + 1;

		while (j < m && !memcmp(e[j].h, e[i].h, sizeof(e[i].h)))
			j++;
		for (size_t k = i; j - i > 1 && k < j; k++)
			e[k].fresh = true;   /* here: "already a duplicate" */
		i = j;
	}
	/* shared with a staged row that stays */
	if (store_prep(s, "SELECT number FROM ext_staged WHERE sip_fp = ?",
		       &st)) {
		err = EIO;
		goto out;
	}
	for (size_t i = 0; i < m && !err; i++) {
		int rc;

		if (e[i].fresh)
			continue;
		sqlite3_bind_blob(st, 1, e[i].h, sizeof(e[i].h),
				  SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *n = (const char *)sqlite3_column_text(st,
									  0);

			if (n && !bsearch(&n, nums, nfresh, sizeof(*nums),
					  num_cmp)) {
				e[i].fresh = true;
				break;
			}
		}
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			err = EIO;
		store_unprep(st);
	}
	for (size_t i = 0; i < m && !err; i++) {
		if (e[i].fresh)
			report_add(errs, e[i].where, "auth.password",
				   "sip.unique", "The SIP password is already "
				   "used by another extension; passwords must "
				   "be unique.");
	}
 out:
	free(e);
	free(nums);
	return err;
}

/* Write staged rows in one transaction; then move them into the mirror. */
int store_rows_stage(struct store *s, struct ext_row *rows, size_t n)
{
	int64_t gen = 0;
	int err;

	/* current before, so the rows can move in; a cold mirror is loaded
	 * for a bulk or import (about to be committed: its rows move in
	 * parsed) but not for one row */
	if (n > 1)
		store_mirror_sync(s);
	else
		store_mirror_sync_warm(s);
	err = store_tx_begin(s);

	if (err)
		return err;
	for (size_t i = 0; i < n && !err; i++)
		err = store_row_write(s, STORE_STAGED, &rows[i]);
	if (!err)
		err = store_gen_bump(s, &gen);
	if (err) {
		store_tx_rollback(s);
		return err;
	}
	err = store_tx_commit(s);
	if (err)
		store_mirror_drop(s);
	else
		store_mirror_put(s, rows, n, gen);
	return err;
}

/* Generate the secrets asked for by gen into ext and *generated. */
int store_generate(struct store *s, const struct policy *p, json_t *ext,
		   unsigned gen, json_t *generated)
{
	const char *number = json_string_value(json_object_get(ext, "number"));
	const char *name = json_string_value(json_object_get(ext, "name"));
	enum model_type t;
	char buf[128];
	int err = 0;

	if (model_type_parse(json_string_value(json_object_get(ext, "type")),
			     &t))
		return EINVAL;
	if ((gen & STORE_GEN_PASSWORD) &&
	    model_type_has(t, model_field_find("auth.password"))) {
		err = policy_generate_sip(p, s->dict, number, name, buf,
					  sizeof(buf));
		if (err)
			goto out;
		json_object_set_new(ext, "auth.password", json_string(buf));
		if (generated)
			json_object_set_new(generated, "auth.password",
					    json_string(buf));
	}
	if ((gen & STORE_GEN_PIN) &&
	    model_type_has(t, model_field_find("voicemail.pin"))) {
		char *prev = store_running_secret(s, number, SEC_VM_PIN);

		err = policy_generate_pin(p, number, prev, buf, sizeof(buf));
		store_wipe(prev);
		if (err)
			goto out;
		json_object_set_new(ext, "voicemail.pin", json_string(buf));
		if (generated)
			json_object_set_new(generated, "voicemail.pin",
					    json_string(buf));
	}
 out:
	sodium_memzero(buf, sizeof(buf));
	return err;
}

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

/* ---- public write paths ---- */

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

/* ---- pending / discard ---- */

static json_t *changed_fields(struct ext_row *a, struct ext_row *b)
{
	json_t *fa, *fb;
	json_t *out = json_array();
	const char *key;
	json_t *v;

	if (!out)
		return NULL;
	if (!strcmp(a->doc, b->doc)) {
		/* same document: only secrets can differ */
		for (int k = 0; k < SEC_N; k++) {
			if (!blob_eq(&a->sec[k], &b->sec[k]))
				json_array_append_new(out, json_string(
					store_secdefs[k].field));
		}
		return out;
	}
	fa = ext_row_obj(a);
	fb = ext_row_obj(b);
	/* model_fields order, so the list is stable */
	for (size_t i = 0; i < model_field_count; i++) {
		const char *name = model_fields[i].name;
		int si = store_sec_index(name);
		bool diff;

		if (si >= 0)
			diff = !blob_eq(&a->sec[si], &b->sec[si]);
		else
			diff = !json_equal(json_object_get(fa, name),
					   json_object_get(fb, name)) &&
				(json_object_get(fa, name) ||
				 json_object_get(fb, name));
		if (diff)
			json_array_append_new(out, json_string(name));
	}
	/* keys outside the table (should not happen, but never hide one) */
	json_object_foreach(fa, key, v) {
		if (!model_field_find(key) &&
		    !json_equal(v, json_object_get(fb, key)))
			json_array_append_new(out, json_string(key));
	}
	json_object_foreach(fb, key, v) {
		if (!model_field_find(key) && !json_object_get(fa, key))
			json_array_append_new(out, json_string(key));
	}
	return out;
}

static json_t *pending_item(const char *kind, const char *key, const char *op,
			    json_t *fields)
{
	/* built directly: json_pack parses its format for each of what may
	 * be 10,000 items */
	json_t *o = json_object();

	if (!fields)
		fields = json_array();
	if (!o || !fields ||
	    json_object_set_new_nocheck(o, "kind", json_string(kind)) ||
	    json_object_set_new_nocheck(o, "key", json_string(key)) ||
	    json_object_set_new_nocheck(o, "op", json_string(op)) ||
	    json_object_set_new_nocheck(o, "fields", fields)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static bool row_same(const struct ext_row *a, const struct ext_row *b)
{
	if (strcmp(a->doc, b->doc) || a->must_change != b->must_change)
		return false;
	for (int k = 0; k < SEC_N; k++) {
		if (!blob_eq(&a->sec[k], &b->sec[k]))
			return false;
	}
	return true;
}

/* Diff staged vs running (rows sorted by number, sections in registry
 * order) into diff. Used by store_pending and store_commit. changed (may
 * be NULL) collects the changed section names. */
int store_diff(struct ext_row *st, size_t ns, struct ext_row *ru, size_t nr,
	       json_t *stsec, json_t *rusec, json_t *diff, json_t *changed)
{
	size_t i = 0, j = 0, n = store_section_count();

	while (i < ns || j < nr) {
		int c = i >= ns ? 1 : j >= nr ? -1 :
			strcmp(st[i].number, ru[j].number);

		if (c < 0) {
			json_array_append_new(diff, pending_item("ext",
					      st[i].number, "add", NULL));
			i++;
		} else if (c > 0) {
			json_array_append_new(diff, pending_item("ext",
					      ru[j].number, "remove", NULL));
			j++;
		} else {
			if (!row_same(&st[i], &ru[j]))
				json_array_append_new(diff, pending_item("ext",
					st[i].number, "edit",
					changed_fields(&st[i], &ru[j])));
			i++;
			j++;
		}
	}
	for (size_t k = 0; k < n; k++) {
		const char *name = store_section_at(k)->name;
		json_t *a = json_object_get(stsec, name);
		json_t *b = json_object_get(rusec, name);
		json_t *f;
		const char *key;
		json_t *v;

		if (json_equal(a, b))
			continue;
		f = json_array();
		json_object_foreach(a, key, v) {
			if (!json_equal(v, json_object_get(b, key)))
				json_array_append_new(f, json_string(key));
		}
		json_object_foreach(b, key, v) {
			if (!json_object_get(a, key))
				json_array_append_new(f, json_string(key));
		}
		json_array_append_new(diff, pending_item("section", name,
						       "edit", f));
		if (changed)
			json_array_append_new(changed, json_string(name));
	}
	return 0;
}

/* Extension rows that differ between the tables, in number order (the
 * byte order of SQLite's BINARY collation, i.e. strcmp's), with the op:
 * the same rows and order as store_diff over both tables (row_same: doc,
 * must_change and every sealed secret). Only indexed lookups by number
 * and one pass over each table; nothing is loaded into memory. */
#define PENDING_EXT_SQL \
	"SELECT s.number, CASE WHEN r.number IS NULL THEN 'add' ELSE 'edit'" \
	" END FROM ext_staged s LEFT JOIN ext_running r" \
	" ON r.number = s.number WHERE r.number IS NULL OR s.doc IS NOT r.doc" \
	" OR s.must_change IS NOT r.must_change OR s.sip_pw IS NOT r.sip_pw" \
	" OR s.vm_pin IS NOT r.vm_pin OR s.call_pw IS NOT r.call_pw" \
	" OR s.hotdesk_pin IS NOT r.hotdesk_pin" \
	" OR s.web_hash IS NOT r.web_hash" \
	" UNION ALL SELECT r.number, 'remove' FROM ext_running r" \
	" WHERE NOT EXISTS (SELECT 1 FROM ext_staged s" \
	" WHERE s.number = r.number)"

/* Names of the sections whose staged object differs from the running
 * one, in registry order, appended to diff as pending items (the section
 * part of store_diff). */
static int pending_sections(struct store *s, json_t *diff, size_t *count)
{
	json_t *stsec = NULL, *rusec = NULL;
	int err;

	err = store_sections_load(s, STORE_STAGED, &stsec);
	if (!err)
		err = store_sections_load(s, STORE_RUNNING, &rusec);
	if (!err && diff)
		store_diff(NULL, 0, NULL, 0, stsec, rusec, diff, NULL);
	if (!err && count) {
		size_t n = store_section_count();

		for (size_t k = 0; k < n; k++) {
			const char *name = store_section_at(k)->name;

			if (!json_equal(json_object_get(stsec, name),
					json_object_get(rusec, name)))
				(*count)++;
		}
	}
	json_decref(stsec);
	json_decref(rusec);
	return err;
}

int store_pending_count(struct store *s, size_t *np)
{
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	int err = 0;

	if (!s || !np)
		return EINVAL;
	pthread_mutex_lock(&s->lock);
	if (store_prep(s, "SELECT count(*) FROM (" PENDING_EXT_SQL ")", &st)) {
		err = EIO;
		goto out;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		n = (size_t)sqlite3_column_int64(st, 0);
	else
		err = EIO;
	store_unprep(st);
	if (!err)
		err = pending_sections(s, NULL, &n);
	if (!err)
		*np = n;
 out:
	pthread_mutex_unlock(&s->lock);
	return err;
}

/* The pending edit of one extension: its changed fields, from the two
 * rows (only this row is read). */
static json_t *pending_edit(struct store *s, const char *number)
{
	struct ext_row a, b;
	json_t *item = NULL;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	if (!store_row_get(s, STORE_STAGED, number, &a) &&
	    !store_row_get(s, STORE_RUNNING, number, &b))
		item = pending_item("ext", number, "edit",
				    changed_fields(&a, &b));
	ext_row_clear(&a);
	ext_row_clear(&b);
	return item;
}

/* Only the rows that differ are read (PENDING_EXT_SQL), so a listing of
 * a few changes among 10,000 extensions loads a few rows. */
int store_pending(struct store *s, json_t **diffp)
{
	sqlite3_stmt *st = NULL;
	json_t *diff = NULL;
	int rc, err = 0;

	if (!s || !diffp)
		return EINVAL;
	diff = json_array();
	if (!diff)
		return ENOMEM;
	pthread_mutex_lock(&s->lock);
	if (store_prep(s, PENDING_EXT_SQL " ORDER BY 1", &st)) {
		err = EIO;
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *num = (const char *)sqlite3_column_text(st, 0);
		const char *op = (const char *)sqlite3_column_text(st, 1);
		json_t *item;

		if (!num || !op)
			continue;
		if (!strcmp(op, "edit")) {
			char number[24];

			/* a second statement runs inside: copy the key */
			snprintf(number, sizeof(number), "%s", num);
			item = pending_edit(s, number);
		} else {
			item = pending_item("ext", num, op, NULL);
		}
		if (!item || json_array_append_new(diff, item)) {
			err = ENOMEM;
			break;
		}
	}
	if (!err && rc != SQLITE_DONE)
		err = EIO;
	store_unprep(st);
	if (!err)
		err = pending_sections(s, diff, NULL);
 out:
	pthread_mutex_unlock(&s->lock);
	if (err) {
		json_decref(diff);
		return err;
	}
	*diffp = diff;
	return 0;
}

int store_discard(struct store *s)
{
	int64_t gen = 0;
	int err;

	if (!s)
		return EINVAL;
	pthread_mutex_lock(&s->lock);
	err = store_tx_begin(s);
	if (err)
		goto out;
	if (sqlite3_exec(s->db,
			 "DELETE FROM ext_staged;"
			 "INSERT INTO ext_staged(number, type, doc, sip_pw,"
			 " vm_pin, call_pw, hotdesk_pin, web_hash, must_change,"
			 " sip_fp)"
			 " SELECT number, type, doc, sip_pw, vm_pin, call_pw,"
			 " hotdesk_pin, web_hash, must_change, sip_fp"
			 " FROM ext_running;"
			 "DELETE FROM section_staged;"
			 "INSERT INTO section_staged(name, doc)"
			 " SELECT name, doc FROM section_running;",
			 NULL, NULL, NULL) != SQLITE_OK)
		err = store_db_fail(s, 0);
	else
		err = store_gen_bump(s, &gen);
	if (err) {
		store_tx_rollback(s);
		goto out;
	}
	err = store_tx_commit(s);
	/* staged rows are reloaded (their parsed docs reused) on next use */
	store_mirror_drop(s);
 out:
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
