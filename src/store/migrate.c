/*
 * migrate — numbered schema migrations.
 *
 * One row per schema change: {version, owner module, SQL}. Versions are
 * strictly increasing; a module that needs tables APPENDS a row with the
 * next number (never edits an applied row). Each migration runs in its own
 * transaction together with its record in schema_migrations, so a crash
 * leaves the database at the previous version or the next one.
 * See docs/internals/store.md.
 */
#include <errno.h>
#include <stddef.h>
#include <sqlite3.h>

#include "store/store_int.h"

struct migration {
	int version;
	const char *owner;
	const char *sql;
	/* A query that returns a row when the change is already there (made
	 * before it was a migration): the version is then recorded without
	 * running sql. NULL: always run. */
	const char *present;
};

static const struct migration migrations[] = {
	{1, "store",
	 /* key/value facts: commit_version */
	 "CREATE TABLE meta("
	 " key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
	 "INSERT INTO meta(key, value) VALUES ('commit_version', '0');"
	 /* staged extensions: doc = JSON of non-secret fields */
	 "CREATE TABLE ext_staged("
	 " number TEXT PRIMARY KEY, type TEXT NOT NULL, doc TEXT NOT NULL,"
	 " sip_pw BLOB, vm_pin BLOB, call_pw BLOB, hotdesk_pin BLOB,"
	 " web_hash TEXT, must_change INTEGER NOT NULL DEFAULT 0);"
	 /* running extensions: as staged plus digest material */
	 "CREATE TABLE ext_running("
	 " number TEXT PRIMARY KEY, type TEXT NOT NULL, doc TEXT NOT NULL,"
	 " sip_pw BLOB, vm_pin BLOB, call_pw BLOB, hotdesk_pin BLOB,"
	 " web_hash TEXT, must_change INTEGER NOT NULL DEFAULT 0,"
	 " ha1_md5 TEXT, ha1_sha256 TEXT,"
	 " prev_ha1_md5 TEXT, prev_ha1_sha256 TEXT,"
	 " prev_until INTEGER NOT NULL DEFAULT 0);"
	 /* settings sections: doc = flat JSON object */
	 "CREATE TABLE section_staged("
	 " name TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID;"
	 "CREATE TABLE section_running("
	 " name TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID;"
	 /* one row per successful commit */
	 "CREATE TABLE commit_log("
	 " version INTEGER PRIMARY KEY, at INTEGER NOT NULL,"
	 " changes TEXT NOT NULL);", NULL},
	{2, "guard",
	 /* bans (re-installed at start), live trusted networks, security
	  * events (store/guard_db.c). IF NOT EXISTS: older guards created
	  * them on databases the store had not migrated. */
	 "CREATE TABLE IF NOT EXISTS guard_bans("
	 " addr TEXT PRIMARY KEY, reason TEXT NOT NULL,"
	 " extensions TEXT NOT NULL DEFAULT '[]',"
	 " count INTEGER NOT NULL DEFAULT 0, since INTEGER NOT NULL,"
	 " until INTEGER NOT NULL, offences INTEGER NOT NULL DEFAULT 1,"
	 " manual INTEGER NOT NULL DEFAULT 0);"
	 "CREATE TABLE IF NOT EXISTS guard_trust("
	 " net TEXT PRIMARY KEY, until INTEGER NOT NULL);"
	 "CREATE TABLE IF NOT EXISTS guard_events("
	 " id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL,"
	 " type TEXT NOT NULL, event TEXT NOT NULL);", NULL},
	{3, "registrar",
	 /* SIP bindings (location service), written by the registrar's
	  * writer thread through store/bindings_db.c. IF NOT EXISTS: older
	  * registrars created it on databases the store had not migrated. */
	 "CREATE TABLE IF NOT EXISTS sip_bindings("
	 " ext TEXT NOT NULL, uri TEXT NOT NULL, call_id TEXT NOT NULL,"
	 " cseq INTEGER NOT NULL, user_agent TEXT NOT NULL,"
	 " expires INTEGER NOT NULL, registered INTEGER NOT NULL,"
	 " source TEXT NOT NULL, target TEXT NOT NULL,"
	 " transport INTEGER NOT NULL, nat INTEGER NOT NULL,"
	 " PRIMARY KEY (ext, uri)) WITHOUT ROWID;", NULL},
	{4, "store",
	 /* keyed fingerprint of each SIP password (docs/internals/store.md):
	  * uniqueness is checked on these without decrypting; filled for
	  * existing rows by store_open. ext_gen: bumped by every write to
	  * the extension tables, so the in-memory mirror knows it is
	  * current. */
	 "ALTER TABLE ext_staged ADD COLUMN sip_fp BLOB;"
	 "ALTER TABLE ext_running ADD COLUMN sip_fp BLOB;"
	 "CREATE INDEX ext_staged_sip_fp ON ext_staged(sip_fp)"
	 " WHERE sip_fp IS NOT NULL;"
	 "INSERT INTO meta(key, value) VALUES ('ext_gen', '0');", NULL},
	{5, "guard",
	 /* credit (source -> last successful authentication) survives a
	  * restart; written by the guard's worker, bounded by it. */
	 "CREATE TABLE IF NOT EXISTS guard_credit("
	 " addr TEXT PRIMARY KEY, last_ok INTEGER NOT NULL);"
	 "CREATE INDEX IF NOT EXISTS guard_credit_last"
	 " ON guard_credit(last_ok);", NULL},
	{6, "guard",
	 /* guard_bans.ended: the expiry of the ban was reported. Bans
	  * already over when the column appears are history: marked
	  * reported, so an upgrade does not replay them. Older guards added
	  * the column themselves: then it is there already. */
	 "ALTER TABLE guard_bans ADD COLUMN ended INTEGER NOT NULL"
	 " DEFAULT 0;"
	 "UPDATE guard_bans SET ended = 1 WHERE until <="
	 " CAST(strftime('%s', 'now') AS INTEGER) * 1000;",
	 "SELECT 1 FROM pragma_table_info('guard_bans')"
	 " WHERE name = 'ended'"},
	{7, "call",
	 /* call detail records (store/cdr_db.h), written by the CDR writer
	  * thread, read newest first by end (the index). seq: insertion
	  * order, the tie-break among equal ends and what the writer trims
	  * the oldest rows by; the call's id is not the key (a duplicate
	  * must not make a whole batch fail). Counters per direction:
	  * _caller = from the caller's phone, _callee = from the callee's. */
	 "CREATE TABLE cdr("
	 " seq INTEGER PRIMARY KEY, id TEXT NOT NULL,"
	 " start_ms INTEGER NOT NULL, answer_ms INTEGER NOT NULL,"
	 " end_ms INTEGER NOT NULL, caller TEXT NOT NULL,"
	 " callee TEXT NOT NULL, dialled TEXT NOT NULL,"
	 " disposition TEXT NOT NULL, cause INTEGER NOT NULL,"
	 " hangup_side TEXT NOT NULL, reason TEXT NOT NULL,"
	 " codec TEXT NOT NULL,"
	 " pkts_caller INTEGER NOT NULL, pkts_callee INTEGER NOT NULL,"
	 " lost_caller INTEGER NOT NULL, lost_callee INTEGER NOT NULL,"
	 " dropped_caller INTEGER NOT NULL,"
	 " dropped_callee INTEGER NOT NULL);"
	 "CREATE INDEX cdr_end ON cdr(end_ms);", NULL},
	{8, "call",
	 /* which forwarding rule a call followed last, from and to which
	  * extension (call/route.h; issue 13) */
	 "ALTER TABLE cdr ADD COLUMN forward_rule TEXT NOT NULL DEFAULT '';"
	 "ALTER TABLE cdr ADD COLUMN forward_from TEXT NOT NULL DEFAULT '';"
	 "ALTER TABLE cdr ADD COLUMN forward_to TEXT NOT NULL DEFAULT '';",
	 NULL},
	{9, "voicemail",
	 /* mailboxes at rest (store/vmstore.h): one row per message
	  * (its file DATA/voicemail/NUMBER/m-ID.wav), each mailbox's state
	  * (first login done, PIN failures in a row, lock escalation) and
	  * the PIN failures per source within the sweep window (rows older
	  * than the window are pruned on every insert) */
	 "CREATE TABLE vm_msg("
	 " number TEXT NOT NULL, id TEXT NOT NULL,"
	 " folder INTEGER NOT NULL DEFAULT 0,"
	 " caller TEXT NOT NULL DEFAULT '',"
	 " caller_name TEXT NOT NULL DEFAULT '',"
	 " time_ms INTEGER NOT NULL, duration_ms INTEGER NOT NULL,"
	 " bytes INTEGER NOT NULL, copy_of TEXT NOT NULL DEFAULT '',"
	 " PRIMARY KEY (number, id)) WITHOUT ROWID;"
	 "CREATE TABLE vm_box("
	 " number TEXT PRIMARY KEY,"
	 " initialised INTEGER NOT NULL DEFAULT 0,"
	 " fails INTEGER NOT NULL DEFAULT 0,"
	 " lock_level INTEGER NOT NULL DEFAULT 0,"
	 " locked_until INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	 "CREATE TABLE vm_pinfail("
	 " src_ip TEXT NOT NULL, number TEXT NOT NULL,"
	 " time INTEGER NOT NULL);"
	 "CREATE INDEX vm_pinfail_src ON vm_pinfail(src_ip, time);"
	 "CREATE INDEX vm_pinfail_time ON vm_pinfail(time);", NULL},
	{10, "hotdesk",
	 /* hotdesk (issue 13, store/hdstore.h): who is logged in at which
	  * phone (one row per hotdesk extension, one per phone), each
	  * hotdesk extension's PIN failures and lock, and the failures per
	  * source within the sweep window, as vm_box / vm_pinfail */
	 "CREATE TABLE hotdesk_login("
	 " number TEXT PRIMARY KEY, phone TEXT NOT NULL UNIQUE,"
	 " login_ms INTEGER NOT NULL, used_ms INTEGER NOT NULL)"
	 " WITHOUT ROWID;"
	 "CREATE TABLE hotdesk_state("
	 " number TEXT PRIMARY KEY,"
	 " fails INTEGER NOT NULL DEFAULT 0,"
	 " lock_level INTEGER NOT NULL DEFAULT 0,"
	 " locked_until INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	 "CREATE TABLE hotdesk_pinfail("
	 " src_ip TEXT NOT NULL, number TEXT NOT NULL,"
	 " time INTEGER NOT NULL);"
	 "CREATE INDEX hotdesk_pinfail_src ON hotdesk_pinfail(src_ip, time);"
	 "CREATE INDEX hotdesk_pinfail_time ON hotdesk_pinfail(time);", NULL},
	{11, "call",
	 /* call recording (issue 13): the recording's path relative to
	  * DATA/recordings ("YYYY-MM-DD/<id>.wav"), '' when not recorded */
	 "ALTER TABLE cdr ADD COLUMN recording TEXT NOT NULL DEFAULT '';",
	 NULL},
	{13, "call",
	 /* outbound (issue 15): the trunk a call left on and the outbound
	  * route that sent it there, '' for calls that stayed inside */
	 "ALTER TABLE cdr ADD COLUMN trunk TEXT NOT NULL DEFAULT '';"
	 "ALTER TABLE cdr ADD COLUMN route TEXT NOT NULL DEFAULT '';", NULL},
	/* Append new migrations here: {12, "<module>", "CREATE TABLE ..."}. */
};

static const size_t migration_count =
	sizeof(migrations) / sizeof(migrations[0]);

static int current_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *st = NULL;
	int err = 0;

	if (sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS schema_migrations("
			 " version INTEGER PRIMARY KEY, owner TEXT NOT NULL,"
			 " applied_at INTEGER NOT NULL)", NULL, NULL, NULL)
	    != SQLITE_OK)
		return EIO;
	if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM "
			       "schema_migrations", -1, &st, NULL) != SQLITE_OK)
		return EIO;
	if (sqlite3_step(st) == SQLITE_ROW)
		*v = sqlite3_column_int(st, 0);
	else
		err = EIO;
	sqlite3_finalize(st);
	return err;
}

/* Whether query returns a row (0), none (ENOENT), or fails (EIO). */
static int query_row(sqlite3 *db, const char *sql, int bind)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return EIO;
	if (bind >= 0)
		sqlite3_bind_int(st, 1, bind);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? ENOENT : EIO;
}

/* The version is checked again inside the transaction: the guard's and
 * the registrar's connections migrate too (store_conn_open), and another
 * connection may have applied it since current_version read. */
static int apply_one(sqlite3 *db, const struct migration *m)
{
	sqlite3_stmt *st = NULL;
	int err = 0;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return EIO;
	err = query_row(db, "SELECT 1 FROM schema_migrations WHERE"
			" version >= ?", m->version);
	if (!err)
		goto out;      /* applied meanwhile: nothing to do */
	if (err != ENOENT)
		goto out;
	err = m->present ? query_row(db, m->present, -1) : ENOENT;
	if (err == EIO)
		goto out;
	if (err == ENOENT &&
	    sqlite3_exec(db, m->sql, NULL, NULL, NULL) != SQLITE_OK) {
		err = EIO;
		goto out;
	}
	err = 0;
	if (sqlite3_prepare_v2(db, "INSERT INTO schema_migrations(version, "
			       "owner, applied_at) VALUES (?, ?, "
			       "strftime('%s','now'))", -1, &st, NULL)
	    != SQLITE_OK) {
		err = EIO;
		goto out;
	}
	sqlite3_bind_int(st, 1, m->version);
	sqlite3_bind_text(st, 2, m->owner, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = EIO;
 out:
	sqlite3_finalize(st);
	if (!err && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		err = EIO;
	if (err)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

/* Bring the schema up to date. EIO on a database error, a malformed table
 * (versions not increasing) or a database newer than this binary. */
int store_migrate(sqlite3 *db)
{
	int cur = 0, err;

	for (size_t i = 1; i < migration_count; i++) {
		if (migrations[i].version <= migrations[i - 1].version)
			return EIO;
	}
	err = current_version(db, &cur);
	if (err)
		return err;
	if (migration_count && cur > migrations[migration_count - 1].version)
		return EIO;
	for (size_t i = 0; i < migration_count; i++) {
		if (migrations[i].version <= cur)
			continue;
		err = apply_one(db, &migrations[i]);
		if (err)
			return err;
	}
	return 0;
}
