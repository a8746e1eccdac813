/*
 * persist — the guard's tables in DATA/bulwark.db: bans (re-installed at
 * start), live trusted networks, security events. The store's migration
 * creates them; the guard also creates them if absent so that it works on
 * a database the store has not migrated yet (tests, benchmarks).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>

#include "guard/guard_int.h"

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS guard_bans ("
	" addr TEXT PRIMARY KEY, reason TEXT NOT NULL,"
	" extensions TEXT NOT NULL DEFAULT '[]',"
	" count INTEGER NOT NULL DEFAULT 0, since INTEGER NOT NULL,"
	" until INTEGER NOT NULL, offences INTEGER NOT NULL DEFAULT 1,"
	" manual INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS guard_trust ("
	" net TEXT PRIMARY KEY, until INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS guard_events ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL,"
	" type TEXT NOT NULL, event TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS guard_credit ("
	" addr TEXT PRIMARY KEY, last_ok INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS guard_credit_last ON guard_credit(last_ok);";

/* guard_bans.ended (the expiry was reported) came after the table: added
 * here rather than in a store migration because ALTER TABLE ADD COLUMN
 * is not idempotent and the guard also creates its tables on databases
 * the store never migrated. Bans already over when the column appears are
 * history: marked reported, so an upgrade does not replay them. */
static int ensure_ended(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	bool have = false;
	int err = 0;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info("
			       "'guard_bans') WHERE name = 'ended'", -1, &st,
			       NULL))
		return EIO;
	have = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	if (have)
		return 0;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE;"
			 "ALTER TABLE guard_bans ADD COLUMN ended INTEGER NOT"
			 " NULL DEFAULT 0;"
			 "UPDATE guard_bans SET ended = 1 WHERE until <="
			 " CAST(strftime('%s', 'now') AS INTEGER) * 1000;"
			 "COMMIT;", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		/* another connection may have added it meanwhile */
		if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info("
				       "'guard_bans') WHERE name = 'ended'",
				       -1, &st, NULL) ||
		    sqlite3_step(st) != SQLITE_ROW)
			err = EIO;
		sqlite3_finalize(st);
	}
	return err;
}

int gpersist_open(sqlite3 **dbp, const char *path)
{
	sqlite3 *db = NULL;
	int err = 0;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		err = EIO;
		goto out;
	}
	sqlite3_busy_timeout(db, 5000);
	sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
	if (sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK ||
	    ensure_ended(db)) {
		err = EIO;
		goto out;
	}
	*dbp = db;
	db = NULL;
 out:
	sqlite3_close(db);
	return err;
}

int gpersist_load_bans(sqlite3 *db, struct gban *out, size_t max, size_t *n)
{
	sqlite3_stmt *st = NULL;
	int err = 0;

	*n = 0;
	if (sqlite3_prepare_v2(db, "SELECT addr, reason, extensions, count,"
			       " since, until, offences, manual, ended"
			       " FROM guard_bans"
			       " ORDER BY until DESC", -1, &st, NULL)) {
		err = EIO;
		goto out;
	}
	while (*n < max && sqlite3_step(st) == SQLITE_ROW) {
		struct gban *b = &out[*n];
		const char *addr = (const char *)sqlite3_column_text(st, 0);
		const char *reason = (const char *)sqlite3_column_text(st, 1);
		const char *exts = (const char *)sqlite3_column_text(st, 2);
		json_t *ja;

		memset(b, 0, sizeof(*b));
		if (!addr || gaddr_parse(&b->addr, addr, 128))
			continue;
		snprintf(b->reason, sizeof(b->reason), "%s",
			 reason ? reason : "");
		ja = exts ? json_loads(exts, 0, NULL) : NULL;
		for (size_t i = 0; i < json_array_size(ja) &&
		     b->n_ext < GUARD_EXTS; i++) {
			const char *e = json_string_value(json_array_get(ja, i));
			if (e)
				snprintf(b->ext[b->n_ext++], GUARD_EXTLEN, "%s",
					 e);
		}
		json_decref(ja);
		b->count = (uint32_t)sqlite3_column_int64(st, 3);
		b->since = (uint64_t)sqlite3_column_int64(st, 4);
		b->until = (uint64_t)sqlite3_column_int64(st, 5);
		b->offences = (uint32_t)sqlite3_column_int64(st, 6);
		b->manual = sqlite3_column_int(st, 7) != 0;
		b->ended = sqlite3_column_int(st, 8) != 0;
		(*n)++;
	}
 out:
	sqlite3_finalize(st);
	return err;
}

int gpersist_load_trust(sqlite3 *db, struct gtrust *out, size_t max,
			size_t *n)
{
	sqlite3_stmt *st = NULL;

	*n = 0;
	if (sqlite3_prepare_v2(db, "SELECT net, until FROM guard_trust", -1,
			       &st, NULL))
		return EIO;
	while (*n < max && sqlite3_step(st) == SQLITE_ROW) {
		const char *net = (const char *)sqlite3_column_text(st, 0);
		if (!net || gaddr_parse(&out[*n].net, net, 128))
			continue;
		out[*n].until = (uint64_t)sqlite3_column_int64(st, 1);
		(*n)++;
	}
	sqlite3_finalize(st);
	return 0;
}

int gpersist_load_credit(sqlite3 *db, uint64_t cutoff, struct gcredit *out,
			 size_t max, size_t *n)
{
	sqlite3_stmt *st = NULL;

	*n = 0;
	if (sqlite3_prepare_v2(db, "SELECT addr, last_ok FROM guard_credit"
			       " WHERE last_ok > ? ORDER BY last_ok DESC"
			       " LIMIT ?", -1, &st, NULL))
		return EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)cutoff);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	while (*n < max && sqlite3_step(st) == SQLITE_ROW) {
		const char *a = (const char *)sqlite3_column_text(st, 0);
		/* keys are stored as gaddr_str wrote them ("192.0.2.7",
		 * "2001:db8::/64"): parse back with their own length */
		if (!a || gaddr_parse(&out[*n].addr, a, 128))
			continue;
		out[*n].last_ok = (uint64_t)sqlite3_column_int64(st, 1);
		(*n)++;
	}
	sqlite3_finalize(st);
	return 0;
}

int guard_events_query(const char *db_path, long long after, unsigned limit,
		       json_t **out)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	json_t *arr = NULL;
	int err = 0;

	if (!db_path || !out)
		return EINVAL;
	if (!limit || limit > 1000)
		limit = 1000;
	arr = json_array();
	if (!arr)
		return ENOMEM;
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL)) {
		err = EIO;
		goto out;
	}
	sqlite3_busy_timeout(db, 2000);
	if (sqlite3_prepare_v2(db, "SELECT id, event FROM guard_events WHERE"
			       " id > ? ORDER BY id LIMIT ?", -1, &st, NULL)) {
		/* No table yet: no event yet. */
		goto done;
	}
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int(st, 2, (int)limit);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *txt = (const char *)sqlite3_column_text(st, 1);
		json_t *ev = txt ? json_loads(txt, 0, NULL) : NULL;
		if (!json_is_object(ev)) {
			json_decref(ev);
			continue;
		}
		json_object_set_new(ev, "id",
				    json_integer(sqlite3_column_int64(st, 0)));
		json_array_append_new(arr, ev);
	}
 done:
	*out = arr;
	arr = NULL;
 out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	json_decref(arr);
	return err;
}
