/*
 * guard_db — the guard's rows (store/guard_db.h). Statements are prepared
 * once per connection and reset after each use.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "store/guard_db.h"
#include "store/health.h"
#include "store/store_int.h"

enum gstmt {
	GS_BAN_PUT, GS_BAN_DEL, GS_BAN_ENDED, GS_BANS_PRUNE, GS_TRUST_PUT,
	GS_CREDIT_PUT, GS_CREDIT_TRIM, GS_EVENT_ADD, GS_EVENTS_CUT, GS_N
};

static const char *const gsql[GS_N] = {
	[GS_BAN_PUT] = "INSERT OR REPLACE INTO guard_bans (addr, reason,"
		" extensions, count, since, until, offences, manual) VALUES"
		" (?,?,?,?,?,?,?,?)",
	[GS_BAN_DEL] = "DELETE FROM guard_bans WHERE addr = ?",
	[GS_BAN_ENDED] = "UPDATE guard_bans SET ended = 1 WHERE addr = ?"
		" AND until = ?",
	[GS_BANS_PRUNE] = "DELETE FROM guard_bans WHERE until < ?",
	[GS_TRUST_PUT] = "INSERT OR REPLACE INTO guard_trust (net, until)"
		" VALUES (?, ?)",
	[GS_CREDIT_PUT] = "INSERT INTO guard_credit (addr, last_ok) VALUES"
		" (?, ?) ON CONFLICT(addr) DO UPDATE SET"
		" last_ok = MAX(last_ok, excluded.last_ok)",
	[GS_CREDIT_TRIM] = "DELETE FROM guard_credit WHERE last_ok < ? OR"
		" addr IN (SELECT addr FROM guard_credit ORDER BY last_ok"
		" DESC LIMIT -1 OFFSET ?)",
	[GS_EVENT_ADD] = "INSERT INTO guard_events (ts, type, event)"
		" VALUES (?,?,?)",
	[GS_EVENTS_CUT] = "DELETE FROM guard_events WHERE id <= ?",
};

struct guard_db {
	sqlite3 *db;
	sqlite3_stmt *st[GS_N];
};

int guard_db_open(struct guard_db **dbp, const char *path)
{
	struct guard_db *g;
	int err;

	if (!dbp || !path)
		return EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return ENOMEM;
	err = store_conn_open(path, &g->db);
	if (err) {
		free(g);
		return err;
	}
	*dbp = g;
	return 0;
}

void guard_db_close(struct guard_db *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < GS_N; i++)
		sqlite3_finalize(g->st[i]);
	sqlite3_close(g->db);
	free(g);
}

/* SQLite result -> errno (0 for the ok codes). */
static int db_rc(struct guard_db *g, int rc)
{
	if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	return store_sqlite_errno(g->db, rc);
}

static sqlite3_stmt *stmt(struct guard_db *g, enum gstmt i, int *rc)
{
	if (!g->st[i])
		*rc = sqlite3_prepare_v2(g->db, gsql[i], -1, &g->st[i], NULL);
	else
		*rc = SQLITE_OK;
	return *rc == SQLITE_OK ? g->st[i] : NULL;
}

/* Step a bound statement to its end; reset it for the next use. */
static int run(struct guard_db *g, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return db_rc(g, rc);
}

static int exec(struct guard_db *g, const char *sql)
{
	return db_rc(g, sqlite3_exec(g->db, sql, NULL, NULL, NULL));
}

int guard_db_begin(struct guard_db *g)
{
	return exec(g, "BEGIN");
}

int guard_db_commit(struct guard_db *g)
{
	return exec(g, "COMMIT");
}

void guard_db_rollback(struct guard_db *g)
{
	/* after SQLITE_FULL SQLite may have rolled back already */
	sqlite3_exec(g->db, "ROLLBACK", NULL, NULL, NULL);
}

int guard_db_ban_put(struct guard_db *g, const struct guard_db_ban *b)
{
	json_t *ja = json_array();
	char *exts = NULL;
	sqlite3_stmt *st;
	int rc;

	for (unsigned i = 0; i < b->n_ext && i < GUARD_DB_EXTS; i++)
		json_array_append_new(ja, json_string(b->ext[i]));
	exts = json_dumps(ja, JSON_COMPACT);
	json_decref(ja);
	st = stmt(g, GS_BAN_PUT, &rc);
	if (st) {
		sqlite3_bind_text(st, 1, b->addr, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, b->reason, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, exts ? exts : "[]", -1,
				  SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 4, b->count);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)b->since);
		sqlite3_bind_int64(st, 6, (sqlite3_int64)b->until);
		sqlite3_bind_int64(st, 7, b->offences);
		sqlite3_bind_int(st, 8, b->manual);
		rc = run(g, st);
	} else {
		rc = db_rc(g, rc);
	}
	free(exts);
	return rc;
}

/* A statement of one text and, when it takes one, one integer. */
static int text_int(struct guard_db *g, enum gstmt i, const char *a,
		    uint64_t n)
{
	sqlite3_stmt *st;
	int rc;

	st = stmt(g, i, &rc);
	if (!st)
		return db_rc(g, rc);
	sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, (sqlite3_int64)n);
	return run(g, st);
}

static int int_int(struct guard_db *g, enum gstmt i, int64_t a, int64_t b)
{
	sqlite3_stmt *st;
	int rc;

	st = stmt(g, i, &rc);
	if (!st)
		return db_rc(g, rc);
	sqlite3_bind_int64(st, 1, a);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, b);
	return run(g, st);
}

int guard_db_ban_del(struct guard_db *g, const char *addr)
{
	return text_int(g, GS_BAN_DEL, addr, 0);
}

int guard_db_ban_ended(struct guard_db *g, const char *addr, uint64_t until)
{
	return text_int(g, GS_BAN_ENDED, addr, until);
}

int guard_db_bans_prune(struct guard_db *g, uint64_t before)
{
	return int_int(g, GS_BANS_PRUNE, (int64_t)before, 0);
}

int guard_db_trust_put(struct guard_db *g, const char *net, uint64_t until)
{
	return text_int(g, GS_TRUST_PUT, net, until);
}

int guard_db_credit_put(struct guard_db *g, const char *addr,
			uint64_t last_ok)
{
	return text_int(g, GS_CREDIT_PUT, addr, last_ok);
}

int guard_db_credit_trim(struct guard_db *g, uint64_t cutoff, uint64_t keep)
{
	return int_int(g, GS_CREDIT_TRIM, (int64_t)cutoff, (int64_t)keep);
}

int guard_db_event_add(struct guard_db *g, const char *line, int64_t keep)
{
	json_t *ev = json_loads(line, 0, NULL);
	const char *type = json_string_value(json_object_get(ev, "type"));
	sqlite3_int64 ts = json_integer_value(json_object_get(ev, "ts_ms"));
	sqlite3_int64 id;
	sqlite3_stmt *st;
	int rc;

	st = stmt(g, GS_EVENT_ADD, &rc);
	if (!st) {
		json_decref(ev);
		return db_rc(g, rc);
	}
	sqlite3_bind_int64(st, 1, ts);
	sqlite3_bind_text(st, 2, type ? type : "?", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, line, -1, SQLITE_TRANSIENT);
	rc = run(g, st);
	json_decref(ev);
	id = sqlite3_last_insert_rowid(g->db);
	if (!rc && id % 1000 == 0)
		rc = int_int(g, GS_EVENTS_CUT, id - keep, 0);
	return rc;
}

int guard_db_bans_each(struct guard_db *g,
		       int (*fn)(const struct guard_db_ban *b, void *arg),
		       void *arg)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(g->db, "SELECT addr, reason, extensions,"
			       " count, since, until, offences, manual, ended"
			       " FROM guard_bans ORDER BY until DESC", -1,
			       &st, NULL))
		return EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *exts = (const char *)sqlite3_column_text(st, 2);
		json_t *ja = exts ? json_loads(exts, 0, NULL) : NULL;
		struct guard_db_ban b;
		int stop;

		memset(&b, 0, sizeof(b));
		b.addr = (const char *)sqlite3_column_text(st, 0);
		b.reason = (const char *)sqlite3_column_text(st, 1);
		for (size_t i = 0; i < json_array_size(ja) &&
		     b.n_ext < GUARD_DB_EXTS; i++) {
			const char *e = json_string_value(json_array_get(ja, i));
			if (e)
				b.ext[b.n_ext++] = e;
		}
		b.count = (uint32_t)sqlite3_column_int64(st, 3);
		b.since = (uint64_t)sqlite3_column_int64(st, 4);
		b.until = (uint64_t)sqlite3_column_int64(st, 5);
		b.offences = (uint32_t)sqlite3_column_int64(st, 6);
		b.manual = sqlite3_column_int(st, 7) != 0;
		b.ended = sqlite3_column_int(st, 8) != 0;
		stop = b.addr ? fn(&b, arg) : 0;
		json_decref(ja);
		if (stop) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : EIO;
}

int guard_db_trust_each(struct guard_db *g,
			int (*fn)(const char *net, uint64_t until, void *arg),
			void *arg)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(g->db, "SELECT net, until FROM guard_trust",
			       -1, &st, NULL))
		return EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *net = (const char *)sqlite3_column_text(st, 0);

		if (net && fn(net, (uint64_t)sqlite3_column_int64(st, 1),
			      arg)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : EIO;
}

int guard_db_credit_each(struct guard_db *g, uint64_t cutoff, size_t max,
			 int (*fn)(const char *addr, uint64_t last_ok,
				   void *arg),
			 void *arg)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(g->db, "SELECT addr, last_ok FROM"
			       " guard_credit WHERE last_ok > ?"
			       " ORDER BY last_ok DESC LIMIT ?", -1, &st,
			       NULL))
		return EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)cutoff);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *a = (const char *)sqlite3_column_text(st, 0);

		if (a && fn(a, (uint64_t)sqlite3_column_int64(st, 1), arg)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : EIO;
}

int guard_db_events_query(const char *path, long long after, unsigned limit,
			  json_t **out)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	json_t *arr = NULL;
	int err = 0;

	if (!path || !out)
		return EINVAL;
	if (!limit || limit > 1000)
		limit = 1000;
	arr = json_array();
	if (!arr)
		return ENOMEM;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL)) {
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
