/*
 * mirror — the in-memory copy of ext_staged and ext_running that commit
 * and the write paths work from, so a commit neither reads every row from
 * SQLite nor parses every JSON doc again.
 *
 * Coherence: meta.ext_gen is bumped inside every transaction that writes
 * an extension table (store_gen_bump). The mirror is used only while its
 * gen equals the database's; a write that commits moves its rows in and
 * advances the mirror's gen by one, anything else (a failed write, a
 * discard, another connection's write) makes it invalid, and the next
 * store_mirror_sync reloads it from SQLite — reusing the parsed doc of
 * every row whose text and secrets-present set did not change.
 * Size: exactly the rows of the two tables.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

int store_gen_bump(struct store *s, int64_t *gen)
{
	sqlite3_stmt *st = NULL;
	int err = 0;

	if (store_prep(s, "UPDATE meta SET value = CAST(value AS INTEGER) + 1"
		       " WHERE key = 'ext_gen' RETURNING CAST(value AS INTEGER)",
		       &st))
		return EIO;
	if (sqlite3_step(st) == SQLITE_ROW)
		*gen = sqlite3_column_int64(st, 0);
	else
		err = store_db_fail(s, 0);
	store_unprep(st);
	return err;
}

static int gen_read(struct store *s, int64_t *gen)
{
	sqlite3_stmt *st = NULL;
	int err = 0;

	if (store_prep(s, "SELECT CAST(value AS INTEGER) FROM meta WHERE key ="
		       " 'ext_gen'", &st))
		return EIO;
	if (sqlite3_step(st) == SQLITE_ROW)
		*gen = sqlite3_column_int64(st, 0);
	else
		err = EIO;
	store_unprep(st);
	return err;
}

/* Parse row->doc if needed and mark each secret present with the mask, so
 * model validation counts it as present without its plaintext. */
int store_mirror_mask(struct ext_row *row)
{
	if (!ext_row_obj(row) || !json_is_object(row->obj)) {
		json_decref(row->obj);
		row->obj = json_object();
		if (!row->obj)
			return ENOMEM;
	}
	for (int k = 0; k < SEC_N; k++) {
		if (row->sec[k].p &&
		    json_object_set_new(row->obj, store_secdefs[k].field,
					json_string(MODEL_SECRET_MASK)))
			return ENOMEM;
	}
	return 0;
}

/* Mark the mirror stale; its parsed docs stay for reuse by the reload. */
void store_mirror_drop(struct store *s)
{
	s->mir.valid = false;
}

void store_mirror_free(struct store *s)
{
	store_rows_free(s->mir.st, s->mir.ns);
	store_rows_free(s->mir.ru, s->mir.nr);
	s->mir.st = s->mir.ru = NULL;
	s->mir.ns = s->mir.nr = 0;
	s->mir.valid = false;
}

static bool same_secrets_present(const struct ext_row *a,
				 const struct ext_row *b)
{
	for (int k = 0; k < SEC_N; k++) {
		if (!a->sec[k].p != !b->sec[k].p)
			return false;
	}
	return true;
}

void store_mirror_sync_warm(struct store *s)
{
	if (s->mir.valid || s->mir.ns || s->mir.nr)
		store_mirror_sync(s);
}

/* Make the mirror current. 0, or EIO/ENOMEM (mirror left invalid). */
int store_mirror_sync(struct store *s)
{
	struct ext_row *st = NULL, *ru = NULL;
	size_t ns = 0, nr = 0, j = 0;
	int64_t gen = 0;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &s->mir.used);
	err = gen_read(s, &gen);
	if (err)
		return err;
	if (s->mir.valid && gen == s->mir.gen)
		return 0;
	s->mir.valid = false;
	err = store_rows_load(s, STORE_STAGED, &st, &ns);
	if (!err)
		err = store_rows_load(s, STORE_RUNNING, &ru, &nr);
	for (size_t i = 0; !err && i < ns; i++) {
		struct ext_row *row = &st[i];

		/* reuse the parsed doc of the stale mirror if unchanged */
		while (j < s->mir.ns &&
		       strcmp(s->mir.st[j].number, row->number) < 0)
			j++;
		if (j < s->mir.ns && s->mir.st[j].obj &&
		    !strcmp(s->mir.st[j].number, row->number) &&
		    !strcmp(s->mir.st[j].doc, row->doc) &&
		    same_secrets_present(&s->mir.st[j], row)) {
			row->obj = json_incref(s->mir.st[j].obj);
			continue;
		}
		err = store_mirror_mask(row);
	}
	/* a running row equal to its staged row (after a commit, nearly
	 * all) shares the staged row's parsed doc rather than parsing its
	 * own when the snapshot is built: one parsed copy per extension.
	 * Its masks are harmless there: running docs are read for non-secret
	 * fields only (snapshot entries, changed fields). */
	for (size_t i = 0, k = 0; !err && i < nr; i++) {
		while (k < ns && strcmp(st[k].number, ru[i].number) < 0)
			k++;
		if (k < ns && !strcmp(st[k].number, ru[i].number) &&
		    !strcmp(st[k].doc, ru[i].doc))
			ru[i].obj = json_incref(st[k].obj);
	}
	if (err) {
		store_rows_free(st, ns);
		store_rows_free(ru, nr);
		return err;
	}
	store_mirror_free(s);
	s->mir.st = st;
	s->mir.ns = ns;
	s->mir.ru = ru;
	s->mir.nr = nr;
	s->mir.gen = gen;
	s->mir.valid = true;
	return 0;
}

static int row_cmp(const void *a, const void *b)
{
	const struct ext_row *x = a, *y = b;

	return strcmp(x->number, y->number);
}

/* Move freshly staged rows (committed with ext_gen = gen) into the mirror;
 * each row is left cleared. */
void store_mirror_put(struct store *s, struct ext_row *rows, size_t n,
		      int64_t gen)
{
	struct ext_row *out;
	size_t i = 0, j = 0, k = 0;

	if (!s->mir.valid || gen != s->mir.gen + 1)
		goto stale;
	for (size_t a = 0; a < n; a++) {
		if (store_mirror_mask(&rows[a]))
			goto stale;
	}
	qsort(rows, n, sizeof(*rows), row_cmp);
	for (size_t a = 1; a < n; a++) {
		if (!strcmp(rows[a - 1].number, rows[a].number))
			goto stale;   /* never written twice in one call */
	}
	out = malloc((s->mir.ns + n + 1) * sizeof(*out));
	if (!out)
		goto stale;
	while (i < s->mir.ns || j < n) {
		int c = i >= s->mir.ns ? 1 : j >= n ? -1 :
			strcmp(s->mir.st[i].number, rows[j].number);

		if (c < 0) {
			out[k++] = s->mir.st[i++];
			continue;
		}
		if (c == 0)
			ext_row_clear(&s->mir.st[i++]);
		out[k++] = rows[j];
		memset(&rows[j], 0, sizeof(rows[j]));
		j++;
	}
	free(s->mir.st);
	s->mir.st = out;
	s->mir.ns = k;
	s->mir.gen = gen;
	return;
 stale:
	s->mir.valid = false;
}

/* A staged row was deleted (committed with ext_gen = gen). */
void store_mirror_del(struct store *s, const char *number, int64_t gen)
{
	struct ext_row key, *row;

	if (!s->mir.valid || gen != s->mir.gen + 1) {
		s->mir.valid = false;
		return;
	}
	snprintf(key.number, sizeof(key.number), "%s", number);
	row = bsearch(&key, s->mir.st, s->mir.ns, sizeof(*row), row_cmp);
	if (row) {
		size_t at = (size_t)(row - s->mir.st);

		ext_row_clear(row);
		memmove(row, row + 1, (s->mir.ns - at - 1) * sizeof(*row));
		s->mir.ns--;
	}
	s->mir.gen = gen;
}

struct fpfix {
	char number[24];
	unsigned char fp[STORE_FP_LEN];
};

static int backfill_table(struct store *s, const char *table, size_t *done)
{
	char sql[160];
	sqlite3_stmt *st = NULL;
	struct fpfix *fx = NULL;
	size_t n = 0, cap = 0;
	int rc, err = 0;

	snprintf(sql, sizeof(sql), "SELECT number, sip_pw FROM %s WHERE sip_pw"
		 " IS NOT NULL AND sip_fp IS NULL", table);
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct blob b = {(unsigned char *)sqlite3_column_blob(st, 1),
				 (size_t)sqlite3_column_bytes(st, 1)};
		const char *num = (const char *)sqlite3_column_text(st, 0);
		char *plain = NULL;

		if (!num || store_open_blob(s, &b, &plain))
			continue;   /* unreadable: reported when re-checked */
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct fpfix *p = realloc(fx, nc * sizeof(*p));

			if (!p) {
				store_wipe(plain);
				err = ENOMEM;
				goto out;
			}
			fx = p;
			cap = nc;
		}
		snprintf(fx[n].number, sizeof(fx[n].number), "%s", num);
		store_sip_fp(s, plain, fx[n].fp);
		store_wipe(plain);
		n++;
	}
	if (rc != SQLITE_DONE)
		err = EIO;
	sqlite3_finalize(st);
	st = NULL;
	if (err || !n)
		goto out;
	snprintf(sql, sizeof(sql), "UPDATE %s SET sip_fp = ? WHERE number = ?",
		 table);
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		err = EIO;
		goto out;
	}
	for (size_t i = 0; i < n && !err; i++) {
		sqlite3_bind_blob(st, 1, fx[i].fp, STORE_FP_LEN, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, fx[i].number, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			err = store_db_fail(s, 0);
		sqlite3_reset(st);
	}
	*done += n;
 out:
	sqlite3_finalize(st);
	free(fx);
	return err;
}

/* Fill sip_fp for rows written before fingerprints existed (once). */
int store_fp_backfill(struct store *s)
{
	int64_t gen = 0;
	size_t done = 0;
	int err = store_tx_begin(s);

	if (err)
		return err;
	err = backfill_table(s, "ext_staged", &done);
	if (!err)
		err = backfill_table(s, "ext_running", &done);
	if (!err && done)
		err = store_gen_bump(s, &gen);
	if (err) {
		store_tx_rollback(s);
		return err;
	}
	return store_tx_commit(s);
}

/* ---- janitor: a cold mirror is freed ----
 * The mirror makes commits fast (no reading and parsing of every row),
 * but 10,000 parsed docs are ~80 MB. STORE_MIRROR_IDLE_S after its last
 * use (any write path or commit) the janitor frees it and trims the heap;
 * the next commit loads it again (~0.5 s for 10,000 extensions). */
static void *janitor(void *arg)
{
	struct store *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->jan.stop) {
		struct timespec now, until;
		bool resident = s->mir.ns || s->mir.nr || s->mir.st ||
			s->mir.ru;

		clock_gettime(CLOCK_MONOTONIC, &now);
		until = resident ? s->mir.used : now;
		until.tv_sec += STORE_MIRROR_IDLE_S;
		if (resident && (now.tv_sec > until.tv_sec ||
				 (now.tv_sec == until.tv_sec &&
				  now.tv_nsec >= until.tv_nsec))) {
			store_mirror_free(s);
			pthread_mutex_unlock(&s->lock);
			store_trim();
			pthread_mutex_lock(&s->lock);
			continue;
		}
		pthread_cond_timedwait(&s->jan.cv, &s->lock, &until);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int store_janitor_start(struct store *s)
{
	pthread_condattr_t ca;
	int err;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	err = pthread_cond_init(&s->jan.cv, &ca);
	pthread_condattr_destroy(&ca);
	if (err)
		return err;
	s->jan.stop = false;
	err = pthread_create(&s->jan.th, NULL, janitor, s);
	if (err) {
		pthread_cond_destroy(&s->jan.cv);
		return err;
	}
	s->jan.on = true;
	return 0;
}

void store_janitor_stop(struct store *s)
{
	if (!s->jan.on)
		return;
	pthread_mutex_lock(&s->lock);
	s->jan.stop = true;
	pthread_cond_signal(&s->jan.cv);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->jan.th, NULL);
	pthread_cond_destroy(&s->jan.cv);
	s->jan.on = false;
}
