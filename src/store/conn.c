/*
 * conn — a connection of its own for a writer thread outside the store
 * (the guard's worker, the registrar's bindings writer): opened on the
 * same database file, schema brought up to date by the numbered
 * migrations, so no other module ever states a table.
 */
#include <errno.h>
#include <stddef.h>
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
