/* Unit tests of the store's typed rows for other modules (guard_db,
 * bindings_db) and of the migrations they bring their connections to. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "store/bindings_db.h"
#include "store/guard_db.h"

struct fx {
	char dir[64];
	char path[96];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/bulwark-storedb-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/bulwark.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	struct fx *f = *state;
	char p[128];

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void sql(const char *path, const char *q)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, q, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static long long sql_int(const char *path, const char *q)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* ---- guard_db ---- */

struct seen {
	char addr[64];
	char ext0[24];
	unsigned n, n_ext;
	bool ended;
	uint64_t until;
};

static int ban_cb(const struct guard_db_ban *b, void *arg)
{
	struct seen *s = arg;

	if (!s->n++) {
		snprintf(s->addr, sizeof(s->addr), "%s", b->addr);
		snprintf(s->ext0, sizeof(s->ext0), "%s",
			 b->n_ext ? b->ext[0] : "");
		s->n_ext = b->n_ext;
		s->ended = b->ended;
		s->until = b->until;
	}
	return 0;
}

static int credit_cb(const char *addr, uint64_t last_ok, void *arg)
{
	unsigned *n = arg;

	(*n)++;
	return 0;
}

static void test_guard_db_rows(void **state)
{
	struct fx *f = *state;
	struct guard_db *g = NULL;
	struct guard_db_ban b = {
		.addr = "192.0.2.7", .reason = "auth", .ext = { "201", "202" },
		.n_ext = 2, .count = 5, .offences = 1, .since = 1000,
		.until = 2000,
	};
	struct seen s = { 0 };
	unsigned nc = 0;
	json_t *ev = NULL;

	assert_int_equal(guard_db_open(&g, f->path), 0);
	assert_int_equal(guard_db_begin(g), 0);
	assert_int_equal(guard_db_ban_put(g, &b), 0);
	assert_int_equal(guard_db_ban_ended(g, "192.0.2.7", 2000), 0);
	assert_int_equal(guard_db_credit_put(g, "192.0.2.8", 50), 0);
	assert_int_equal(guard_db_credit_put(g, "192.0.2.8", 40), 0);
	assert_int_equal(guard_db_credit_put(g, "192.0.2.9", 10), 0);
	assert_int_equal(guard_db_event_add(g, "{\"type\":\"ban\","
					    "\"ts_ms\":7}", 100000), 0);
	assert_int_equal(guard_db_commit(g), 0);
	assert_int_equal(guard_db_bans_each(g, ban_cb, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.addr, "192.0.2.7");
	assert_int_equal(s.n_ext, 2);
	assert_string_equal(s.ext0, "201");
	assert_true(s.ended);
	assert_int_equal(guard_db_credit_each(g, 20, 10, credit_cb, &nc), 0);
	assert_int_equal(nc, 1);   /* 192.0.2.8 kept its later 50 */
	assert_int_equal(guard_db_credit_trim(g, 0, 0), 0);
	nc = 0;
	assert_int_equal(guard_db_credit_each(g, 0, 10, credit_cb, &nc), 0);
	assert_int_equal(nc, 0);
	assert_int_equal(guard_db_bans_prune(g, 3000), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(guard_db_bans_each(g, ban_cb, &s), 0);
	assert_int_equal(s.n, 0);
	guard_db_close(g);
	assert_int_equal(guard_db_events_query(f->path, 0, 10, &ev), 0);
	assert_int_equal(json_array_size(ev), 1);
	json_decref(ev);
}

/* The guard added guard_bans.ended itself before it was migration 6: on
 * such a database the migration records its version and changes
 * nothing; on one without the column it adds it and marks the bans that
 * are over as reported. */
#define LATEST 13  /* migrate.c: the last migration (outbound: 13) */
/* What the migrations after 6 made (a database at version 5 has none) */
#define DROP_AFTER_6 "DROP TABLE cdr; DROP TABLE vm_msg; DROP TABLE vm_box;" \
	" DROP TABLE vm_pinfail; DROP TABLE hotdesk_login;" \
	" DROP TABLE hotdesk_state; DROP TABLE hotdesk_pinfail;"

static void test_migration_ended(void **state)
{
	struct fx *f = *state;
	struct guard_db *g = NULL;
	struct seen s = { 0 };

	assert_int_equal(guard_db_open(&g, f->path), 0);
	guard_db_close(g);
	assert_int_equal(sql_int(f->path, "SELECT MAX(version) FROM"
				 " schema_migrations"), LATEST);
	/* as an older guard left it: column there, version 5 (and nothing
	 * of the later migrations) */
	sql(f->path, "DELETE FROM schema_migrations WHERE version >= 6;"
	    DROP_AFTER_6
	    "INSERT INTO guard_bans (addr, reason, since, until, ended)"
	    " VALUES ('192.0.2.1', 'auth', 1, 2, 0)");
	assert_int_equal(guard_db_open(&g, f->path), 0);
	guard_db_close(g);
	assert_int_equal(sql_int(f->path, "SELECT MAX(version) FROM"
				 " schema_migrations"), LATEST);
	assert_int_equal(sql_int(f->path, "SELECT ended FROM guard_bans"), 0);
	/* as the store alone left it: no column, version 5 */
	sql(f->path, "DELETE FROM schema_migrations WHERE version >= 6;"
	    DROP_AFTER_6
	    "ALTER TABLE guard_bans DROP COLUMN ended");
	assert_int_equal(guard_db_open(&g, f->path), 0);
	assert_int_equal(guard_db_bans_each(g, ban_cb, &s), 0);
	assert_int_equal(s.n, 1);
	assert_true(s.ended);
	guard_db_close(g);
}

/* ---- bindings_db ---- */

static void bind_cb(const struct binding_row *r, void *arg)
{
	unsigned *n = arg;

	assert_string_equal(r->ext, "201");
	assert_int_equal(r->uri_len, strlen(r->uri));
	assert_string_equal(r->ua, "phone/1");
	(*n)++;
}

static void test_bindings_db_rows(void **state)
{
	struct fx *f = *state;
	struct bindings_db *b = NULL;
	const char uri[] = "sip:201@192.0.2.5:5060;x";
	struct binding_row r = {
		.ext = "201", .uri = uri, .uri_len = 22, .call_id = "#01",
		.cseq = 3, .ua = "phone/1xx", .ua_len = 7, .expires = 100,
		.registered = 40, .source = "192.0.2.5:5060",
		.target = "192.0.2.5:5060", .transport = 0, .nat = false,
	};
	unsigned n = 0;

	assert_int_equal(bindings_db_open(&b, f->path), 0);
	assert_int_equal(bindings_db_begin(b), 0);
	assert_int_equal(bindings_db_put(b, &r), 0);
	r.uri_len = 24;
	r.expires = 50;
	assert_int_equal(bindings_db_put(b, &r), 0);
	assert_int_equal(bindings_db_commit(b), 0);
	assert_int_equal(bindings_db_each(b, bind_cb, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(bindings_db_expire(b, 60), 0);
	n = 0;
	assert_int_equal(bindings_db_each(b, bind_cb, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(bindings_db_begin(b), 0);
	assert_int_equal(bindings_db_del(b, "201", uri, 22), 0);
	assert_int_equal(bindings_db_commit(b), 0);
	n = 0;
	assert_int_equal(bindings_db_each(b, bind_cb, &n), 0);
	assert_int_equal(n, 0);
	bindings_db_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_guard_db_rows, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_migration_ended, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bindings_db_rows, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
