/*
 * conn — a connection of its own for a writer thread outside the store
 * (the guard's worker, the registrar's bindings writer, the CDR writer):
 * opened on the same database file, schema brought up to date by the
 * numbered migrations, so no other module ever states a table; and the
 * batch transactions those writers run on it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <sqlite3.h>

#include "store/store_int.h"

int store_conn_open(const char *path, sqlite3 **dbp)
{
	sqlite3 *db = NULL;
	int err;

	if (!path || !dbp)
		return EINVAL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return EIO;
	}
	sqlite3_busy_timeout(db, 5000);
	sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
	err = store_migrate(db);
	if (err) {
		sqlite3_close(db);
		return err;
	}
	*dbp = db;
	return 0;
}

int store_conn_begin(sqlite3 *db)
{
	int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_sqlite_errno(db, rc);
}

int store_conn_commit(sqlite3 *db)
{
	int rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_sqlite_errno(db, rc);
}

void store_conn_rollback(sqlite3 *db)
{
	/* after SQLITE_FULL SQLite may have rolled back already; a second
	 * ROLLBACK then fails harmlessly */
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

void store_conn_max_pages(sqlite3 *db, unsigned pages)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%u", pages);
	sqlite3_exec(db, sql, NULL, NULL, NULL);
}
