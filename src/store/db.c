/*
 * db — the store's own connection: transactions, the statement cache, a
 * failed write reported to store/health.h.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

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

/* Give freed heap back to the system after a big operation: glibc keeps
 * it in the (per-thread) arena otherwise, and the admin threads' peaks
 * would stay resident. */
void store_trim(void)
{
	malloc_trim(0);
}
