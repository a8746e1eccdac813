/*
 * bindings_db — the registrar's bindings (store/bindings_db.h). The two
 * write statements are prepared once per connection and reset after each
 * step, so that a commit never waits on a pending statement.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "store/bindings_db.h"
#include "store/health.h"
#include "store/store_int.h"

struct bindings_db {
	sqlite3 *db;
	sqlite3_stmt *put, *del;
};

int bindings_db_open(struct bindings_db **bp, const char *path)
{
	struct bindings_db *b;
	int err;

	if (!bp || !path)
		return EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return ENOMEM;
	err = store_conn_open(path, &b->db);
	if (err) {
		free(b);
		return err;
	}
	sqlite3_exec(b->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
	/* 1 MiB of page cache is plenty for appending and replacing rows in
	 * batches (the default 2 MiB showed as ~20 bytes per binding at
	 * 100,000 in bench/binding_mem) */
	sqlite3_exec(b->db, "PRAGMA cache_size=-1024", NULL, NULL, NULL);
	*bp = b;
	return 0;
}

void bindings_db_close(struct bindings_db *b)
{
	if (!b)
		return;
	sqlite3_finalize(b->put);
	sqlite3_finalize(b->del);
	sqlite3_close(b->db);
	free(b);
}

static int db_err(struct bindings_db *b, int rc)
{
	return store_sqlite_errno(b->db, rc);
}

int bindings_db_begin(struct bindings_db *b)
{
	return store_conn_begin(b->db);
}

int bindings_db_commit(struct bindings_db *b)
{
	return store_conn_commit(b->db);
}

void bindings_db_rollback(struct bindings_db *b)
{
	store_conn_rollback(b->db);
}

static int step(struct bindings_db *b, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : db_err(b, rc);
}

int bindings_db_put(struct bindings_db *b, const struct binding_row *r)
{
	int rc;

	if (!b->put &&
	    (rc = sqlite3_prepare_v2(b->db, "INSERT OR REPLACE INTO "
				     "sip_bindings(ext, uri, call_id, cseq,"
				     " user_agent, expires, registered,"
				     " source, target, transport, nat)"
				     " VALUES (?,?,?,?,?,?,?,?,?,?,?)", -1,
				     &b->put, NULL)) != SQLITE_OK)
		return db_err(b, rc);
	sqlite3_bind_text(b->put, 1, r->ext, -1, SQLITE_STATIC);
	sqlite3_bind_text(b->put, 2, r->uri, (int)r->uri_len, SQLITE_STATIC);
	sqlite3_bind_text(b->put, 3, r->call_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(b->put, 4, r->cseq);
	sqlite3_bind_text(b->put, 5, r->ua ? r->ua : "", (int)r->ua_len,
			  SQLITE_STATIC);
	sqlite3_bind_int64(b->put, 6, r->expires);
	sqlite3_bind_int64(b->put, 7, r->registered);
	sqlite3_bind_text(b->put, 8, r->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(b->put, 9, r->target, -1, SQLITE_STATIC);
	sqlite3_bind_int(b->put, 10, r->transport);
	sqlite3_bind_int(b->put, 11, r->nat);
	return step(b, b->put);
}

int bindings_db_del(struct bindings_db *b, const char *ext, const char *uri,
		    size_t uri_len)
{
	int rc;

	if (!b->del &&
	    (rc = sqlite3_prepare_v2(b->db, "DELETE FROM sip_bindings WHERE"
				     " ext=? AND uri=?", -1, &b->del, NULL))
	    != SQLITE_OK)
		return db_err(b, rc);
	sqlite3_bind_text(b->del, 1, ext, -1, SQLITE_STATIC);
	sqlite3_bind_text(b->del, 2, uri, (int)uri_len, SQLITE_STATIC);
	return step(b, b->del);
}

int bindings_db_expire(struct bindings_db *b, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(b->db, "DELETE FROM sip_bindings WHERE "
				"expires <= ?", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, now);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_OK || rc == SQLITE_DONE ? 0 : db_err(b, rc);
}

int bindings_db_each(struct bindings_db *b,
		     void (*fn)(const struct binding_row *r, void *arg),
		     void *arg)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(b->db, "SELECT ext, uri, call_id, cseq, "
			       "user_agent, expires, registered, source, "
			       "target, transport, nat FROM sip_bindings",
			       -1, &st, NULL) != SQLITE_OK)
		return EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct binding_row r;

		memset(&r, 0, sizeof(r));
		r.ext = (const char *)sqlite3_column_text(st, 0);
		r.uri = (const char *)sqlite3_column_text(st, 1);
		r.uri_len = (size_t)sqlite3_column_bytes(st, 1);
		r.call_id = (const char *)sqlite3_column_text(st, 2);
		r.cseq = (uint32_t)sqlite3_column_int64(st, 3);
		r.ua = (const char *)sqlite3_column_text(st, 4);
		r.ua_len = (size_t)sqlite3_column_bytes(st, 4);
		r.expires = sqlite3_column_int64(st, 5);
		r.registered = sqlite3_column_int64(st, 6);
		r.source = (const char *)sqlite3_column_text(st, 7);
		r.target = (const char *)sqlite3_column_text(st, 8);
		r.transport = sqlite3_column_int(st, 9);
		r.nat = sqlite3_column_int(st, 10) != 0;
		if (!r.ext || !r.uri || !r.call_id || !r.source || !r.target)
			continue;
		fn(&r, arg);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : EIO;
}

void bindings_db_max_pages(struct bindings_db *b, unsigned pages)
{
	store_conn_max_pages(b->db, pages);
}
