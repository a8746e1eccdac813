/* Unit tests of the CDR store (store/cdr_db.h): the writer thread's
 * round trip of every field to store_cdr_list, its bound (a full queue
 * drops and counts), a full disk (kept, retried, written whole once
 * there is space; counted as lost at close), the table's row bound, and
 * the list's since/limit filter and newest-first order. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "store/cdr_db.h"
#include "store/health.h"
#include "store/store.h"

#define T0 1764936000000LL   /* 2025-12-05T12:00:00.000Z */

struct fx {
	char dir[64];
	struct store *s;
	struct cdr_writer *w;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/bulwark-cdr-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(store_open(&f->s, f->dir, "data"), 0);
	store_health_reset();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	static const char *const files[] = {
		"bulwark.db", "bulwark.db-wal", "bulwark.db-shm", "secret.key",
	};
	struct fx *f = *state;
	char p[128];

	cdr_writer_close(f->w);
	store_close(f->s);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", f->dir, files[i]);
		unlink(p);
	}
	assert_int_equal(rmdir(f->dir), 0);
	store_health_reset();
	free(f);
	return 0;
}

static const char *db(const struct fx *f)
{
	return store_db_path(f->s);
}

/* A record ending at end_ms, every field set. */
static struct cdr_rec rec(unsigned i, int64_t end_ms)
{
	struct cdr_rec r;

	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "c%08x", i);
	r.start_ms = end_ms - 30000;
	r.answer_ms = end_ms - 20000;
	r.end_ms = end_ms;
	snprintf(r.caller, sizeof(r.caller), "201");
	snprintf(r.callee, sizeof(r.callee), "202");
	snprintf(r.dialled, sizeof(r.dialled), "202");
	snprintf(r.disposition, sizeof(r.disposition), "answered");
	r.cause = 200;
	snprintf(r.hangup_side, sizeof(r.hangup_side), "caller");
	snprintf(r.reason, sizeof(r.reason), "bye");
	snprintf(r.codec, sizeof(r.codec), "PCMU/8000");
	r.pkts[CDR_FROM_CALLER] = 1000 + i;
	r.pkts[CDR_FROM_CALLEE] = 990 + i;
	return r;
}

static const char *str(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	assert_non_null(v);
	return v;
}

static long long num(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static long long pair(const json_t *o, const char *k, const char *side)
{
	return num(json_object_get(o, k), side);
}

static long long count_rows(const char *path)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	long long n;

	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, "SELECT count(*) FROM cdr", -1,
					    &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return n;
}

static long long health(const char *what, const char *src)
{
	json_t *h = store_health_json();
	long long v;

	assert_non_null(h);
	v = num(json_object_get(h, what), src);
	json_decref(h);
	return v;
}

/* Every field of struct cdr_rec comes back as the contract shows it;
 * an unanswered call has answer null and duration 0; an unterminated
 * field is cut inside its array; bytes that are not UTF-8 show as '?'. */
static void test_round_trip(void **state)
{
	struct fx *f = *state;
	struct cdr_rec a, b;
	uint64_t q = 0, wr = 0, dr = 0;
	json_t *l, *e;

	assert_int_equal(cdr_writer_open(&f->w, db(f), 100), 0);
	memset(&a, 0, sizeof(a));
	strcpy(a.id, "c0123456789abcdef");
	a.start_ms = T0 + 1;
	a.answer_ms = T0 + 4250;
	a.end_ms = T0 + 65999;
	strcpy(a.caller, "201");
	strcpy(a.callee, "202");
	strcpy(a.dialled, "0202");
	strcpy(a.disposition, "answered");
	a.cause = 200;
	strcpy(a.hangup_side, "callee");
	strcpy(a.reason, "bye");
	strcpy(a.codec, "PCMA/8000");
	strcpy(a.fwd_rule, "forward_no_answer");
	strcpy(a.fwd_from, "0202");
	strcpy(a.fwd_to, "202");
	strcpy(a.recording, "2025-12-05/c0123456789abcdef.wav");
	strcpy(a.trunk, "itsp-b");    /* outbound (issue 15) */
	strcpy(a.route, "national");
	a.pkts[CDR_FROM_CALLER] = 3050;
	a.pkts[CDR_FROM_CALLEE] = 3049;
	a.lost[CDR_FROM_CALLER] = 3;
	a.lost[CDR_FROM_CALLEE] = 7;
	a.dropped[CDR_FROM_CALLER] = 11;
	a.dropped[CDR_FROM_CALLEE] = 13;

	memset(&b, 0, sizeof(b));
	strcpy(b.id, "c2");
	b.start_ms = T0 + 100000;
	b.end_ms = T0 + 130000;
	memset(b.caller, 'x', sizeof(b.caller));     /* no NUL */
	strcpy(b.dialled, "99\xff\xfe");
	strcpy(b.disposition, "noanswer");
	b.cause = 408;
	strcpy(b.hangup_side, "system");
	strcpy(b.reason, "ring timeout");

	assert_true(cdr_writer_put(f->w, &a));
	assert_true(cdr_writer_put(f->w, &b));
	assert_int_equal(cdr_writer_flush(f->w, 5000), 0);
	cdr_writer_stats(f->w, &q, &wr, &dr);
	assert_int_equal(q, 2);
	assert_int_equal(wr, 2);
	assert_int_equal(dr, 0);

	l = store_cdr_list(f->s, 0, 100);
	assert_non_null(l);
	assert_int_equal(json_array_size(l), 2);
	e = json_array_get(l, 1);            /* a ended first: second */
	assert_string_equal(str(e, "id"), "c0123456789abcdef");
	assert_string_equal(str(e, "start"), "2025-12-05T12:00:00.001Z");
	assert_int_equal(num(e, "start_ms"), T0 + 1);
	assert_string_equal(str(e, "answer"), "2025-12-05T12:00:04.250Z");
	assert_int_equal(num(e, "answer_ms"), T0 + 4250);
	assert_string_equal(str(e, "end"), "2025-12-05T12:01:05.999Z");
	assert_int_equal(num(e, "end_ms"), T0 + 65999);
	assert_int_equal(num(e, "duration_s"), 61);
	assert_string_equal(str(e, "caller"), "201");
	assert_string_equal(str(e, "callee"), "202");
	assert_string_equal(str(e, "dialled"), "0202");
	assert_string_equal(str(e, "disposition"), "answered");
	assert_int_equal(num(e, "cause"), 200);
	assert_string_equal(str(e, "hangup_side"), "callee");
	assert_string_equal(str(e, "reason"), "bye");
	assert_string_equal(str(e, "codec"), "PCMA/8000");
	assert_int_equal(pair(e, "packets", "caller"), 3050);
	assert_int_equal(pair(e, "packets", "callee"), 3049);
	assert_int_equal(pair(e, "lost", "caller"), 3);
	assert_int_equal(pair(e, "lost", "callee"), 7);
	assert_int_equal(pair(e, "dropped", "caller"), 11);
	assert_int_equal(pair(e, "dropped", "callee"), 13);
	assert_string_equal(str(e, "forward_rule"), "forward_no_answer");
	assert_string_equal(str(e, "forward_from"), "0202");
	assert_string_equal(str(e, "forward_to"), "202");
	assert_string_equal(str(e, "recording"),
			    "2025-12-05/c0123456789abcdef.wav");
	assert_string_equal(str(e, "trunk"), "itsp-b");   /* issue 15 */
	assert_string_equal(str(e, "route"), "national");
	assert_int_equal(json_object_size(e), 25);

	e = json_array_get(l, 0);
	assert_string_equal(str(e, "id"), "c2");
	assert_true(json_is_null(json_object_get(e, "answer")));
	assert_int_equal(num(e, "answer_ms"), 0);
	assert_int_equal(num(e, "duration_s"), 0);
	assert_int_equal(strlen(str(e, "caller")), sizeof(b.caller) - 1);
	assert_string_equal(str(e, "dialled"), "99??");
	assert_string_equal(str(e, "callee"), "");
	assert_string_equal(str(e, "codec"), "");
	assert_int_equal(num(e, "cause"), 408);
	assert_int_equal(pair(e, "packets", "callee"), 0);
	assert_string_equal(str(e, "recording"), "");
	assert_string_equal(str(e, "trunk"), "");
	json_decref(l);
	/* the recording's path by call id (the API's download) */
	{
		char rel[64];

		assert_int_equal(store_cdr_recording(f->s, "c0123456789abcdef",
						     rel, sizeof(rel)), 0);
		assert_string_equal(rel, "2025-12-05/c0123456789abcdef.wav");
		assert_int_equal(store_cdr_recording(f->s, "c2", rel,
						     sizeof(rel)), ENOENT);
		assert_int_equal(store_cdr_recording(f->s, "nope", rel,
						     sizeof(rel)), ENOENT);
		assert_int_equal(store_cdr_recording(f->s, "c0123456789abcdef",
						     rel, 8), ENAMETOOLONG);
	}
	assert_false(store_health_degraded());
}

/* Newest first by end (insertion order does not matter; equal ends:
 * the later record first); since keeps the ends at or after it; limit
 * the newest n. */
static void test_since_limit_order(void **state)
{
	static const unsigned order[] = { 3, 0, 9, 5, 1, 8, 2, 7, 4, 6 };
	struct fx *f = *state;
	struct cdr_rec r;
	json_t *l;

	assert_int_equal(cdr_writer_open(&f->w, db(f), 100), 0);
	for (size_t i = 0; i < 10; i++) {
		r = rec(order[i], T0 + 1000 * (int64_t)order[i]);
		assert_true(cdr_writer_put(f->w, &r));
	}
	r = rec(100, T0 + 9000);              /* same end as record 9 */
	assert_true(cdr_writer_put(f->w, &r));
	assert_int_equal(cdr_writer_flush(f->w, 5000), 0);

	l = store_cdr_list(f->s, 0, 100);
	assert_int_equal(json_array_size(l), 11);
	assert_string_equal(str(json_array_get(l, 0), "id"), "c00000064");
	assert_string_equal(str(json_array_get(l, 1), "id"), "c00000009");
	for (size_t i = 1; i < 11; i++)
		assert_int_equal(num(json_array_get(l, i), "end_ms"),
				 T0 + 1000 * (int64_t)(10 - i));
	json_decref(l);

	l = store_cdr_list(f->s, T0 + 5000, 100);   /* ends 5..9 and 100 */
	assert_int_equal(json_array_size(l), 6);
	assert_int_equal(num(json_array_get(l, 5), "end_ms"), T0 + 5000);
	json_decref(l);
	l = store_cdr_list(f->s, T0 + 4999, 100);
	assert_int_equal(json_array_size(l), 6);
	json_decref(l);
	l = store_cdr_list(f->s, T0 + 9001, 100);
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);

	l = store_cdr_list(f->s, 0, 3);
	assert_int_equal(json_array_size(l), 3);
	assert_int_equal(num(json_array_get(l, 2), "end_ms"), T0 + 8000);
	json_decref(l);
	l = store_cdr_list(f->s, T0 + 2000, 2);
	assert_int_equal(json_array_size(l), 2);
	assert_int_equal(num(json_array_get(l, 1), "end_ms"), T0 + 9000);
	json_decref(l);
}

/* While the database is locked by another writer nothing can be
 * written: max_queue records are held — the ones the writer took and
 * waits to write count too — the rest dropped and counted; once the
 * lock goes, exactly the held ones are written. */
static void test_queue_full_drops(void **state)
{
	struct fx *f = *state;
	struct cdr_rec r;
	uint64_t q, wr, dr;
	sqlite3 *h;

	assert_int_equal(sqlite3_open(db(f), &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL,
				      NULL), SQLITE_OK);
	assert_int_equal(cdr_writer_open(&f->w, db(f), 4), 0);
	for (unsigned i = 0; i < 4; i++) {
		r = rec(i, T0 + i);
		assert_true(cdr_writer_put(f->w, &r));
	}
	usleep(300 * 1000);   /* the writer took them (gathers 100 ms) */
	for (unsigned i = 4; i < 7; i++) {
		r = rec(i, T0 + i);
		assert_false(cdr_writer_put(f->w, &r));
	}
	cdr_writer_stats(f->w, &q, &wr, &dr);
	assert_int_equal(q, 4);
	assert_int_equal(wr, 0);
	assert_int_equal(dr, 3);
	assert_int_equal(health("lost", "cdr"), 3);
	assert_int_equal(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(cdr_writer_flush(f->w, 15000), 0);
	cdr_writer_stats(f->w, &q, &wr, &dr);
	assert_int_equal(wr, 4);
	assert_int_equal(dr, 3);
	assert_int_equal(count_rows(db(f)), 4);
	/* room again */
	r = rec(9, T0 + 9);
	assert_true(cdr_writer_put(f->w, &r));
	assert_int_equal(cdr_writer_flush(f->w, 5000), 0);
	assert_int_equal(count_rows(db(f)), 5);
}

/* A full disk: the batch is kept and retried (storage degraded, records
 * pending), nothing is lost; with space again every record is written
 * once and the state recovers. */
static void test_disk_full_retry(void **state)
{
	struct fx *f = *state;
	struct cdr_rec r;
	uint64_t q, wr, dr;
	json_t *l;

	assert_int_equal(cdr_writer_open(&f->w, db(f), 1000), 0);
	r = rec(0, T0);
	assert_true(cdr_writer_put(f->w, &r));
	assert_int_equal(cdr_writer_flush(f->w, 5000), 0);
	cdr_writer_limit_pages(f->w, 1);
	for (unsigned i = 1; i <= 300; i++) {
		r = rec(i, T0 + i);
		memset(r.reason, 'r', sizeof(r.reason) - 1);
		assert_true(cdr_writer_put(f->w, &r));
	}
	assert_int_equal(cdr_writer_flush(f->w, 1500), ETIMEDOUT);
	assert_true(store_health_degraded());
	assert_true(health("failed_writes", "cdr") >= 1);
	cdr_writer_stats(f->w, &q, &wr, &dr);
	assert_int_equal(q, 301);
	assert_int_equal(dr, 0);
	/* a first small batch may fit in the last page's free space (when
	 * the writer took it before the rest was queued); the rest waits */
	assert_in_range(health("pending", "cdr"), 280, 300);
	assert_int_equal(wr + (uint64_t)health("pending", "cdr"), 301);
	/* queued behind the retry meanwhile */
	r = rec(301, T0 + 301);
	assert_true(cdr_writer_put(f->w, &r));

	cdr_writer_limit_pages(f->w, 1u << 30);
	assert_int_equal(cdr_writer_flush(f->w, 10000), 0);
	cdr_writer_stats(f->w, &q, &wr, &dr);
	assert_int_equal(wr, 302);
	assert_int_equal(dr, 0);
	assert_false(store_health_degraded());
	assert_int_equal(health("pending", "cdr"), 0);
	l = store_cdr_list(f->s, 0, 10000);
	assert_int_equal(json_array_size(l), 302);
	assert_int_equal(num(json_array_get(l, 0), "end_ms"), T0 + 301);
	assert_int_equal(num(json_array_get(l, 301), "end_ms"), T0);
	json_decref(l);
}

/* Closing on a full disk: one last try, what does not fit is counted as
 * lost (store/health.h), and nothing is counted twice. */
static void test_close_full_counts_lost(void **state)
{
	struct fx *f = *state;
	struct cdr_rec r;

	assert_int_equal(cdr_writer_open(&f->w, db(f), 1000), 0);
	r = rec(0, T0);
	assert_true(cdr_writer_put(f->w, &r));
	assert_int_equal(cdr_writer_flush(f->w, 5000), 0);
	cdr_writer_limit_pages(f->w, 1);
	for (unsigned i = 1; i <= 200; i++) {
		r = rec(i, T0 + i);
		memset(r.reason, 'r', sizeof(r.reason) - 1);
		assert_true(cdr_writer_put(f->w, &r));
	}
	cdr_writer_close(f->w);
	f->w = NULL;
	assert_true(health("lost", "cdr") >= 1);
	assert_int_equal(health("lost", "cdr") + count_rows(db(f)), 201);
}

/* The table keeps the newest rows only (by insertion). */
static void test_keep_bound(void **state)
{
	struct fx *f = *state;
	struct cdr_rec r;
	json_t *l;

	assert_int_equal(cdr_writer_open(&f->w, db(f), 100), 0);
	cdr_writer_keep(f->w, 5);
	for (unsigned i = 0; i < 12; i++) {
		r = rec(i, T0 + i);
		assert_true(cdr_writer_put(f->w, &r));
		if (i == 3)
			assert_int_equal(cdr_writer_flush(f->w, 5000), 0);
	}
	assert_int_equal(cdr_writer_flush(f->w, 5000), 0);
	assert_int_equal(count_rows(db(f)), 5);
	l = store_cdr_list(f->s, 0, 100);
	assert_int_equal(json_array_size(l), 5);
	assert_string_equal(str(json_array_get(l, 4), "id"), "c00000007");
	json_decref(l);
}

/* Misuse does not crash; a limit outside 1..10000 is brought into it. */
static void test_edges(void **state)
{
	struct fx *f = *state;
	struct cdr_rec r = rec(1, T0);
	json_t *l;

	assert_int_equal(cdr_writer_open(NULL, db(f), 1), EINVAL);
	assert_int_equal(cdr_writer_open(&f->w, NULL, 1), EINVAL);
	assert_null(f->w);
	assert_false(cdr_writer_put(NULL, &r));
	cdr_writer_close(NULL);
	assert_null(store_cdr_list(NULL, 0, 10));
	assert_int_equal(cdr_writer_open(&f->w, db(f), 10), 0);
	assert_false(cdr_writer_put(f->w, NULL));
	for (unsigned i = 0; i < 3; i++) {
		r = rec(i, T0 + i);
		assert_true(cdr_writer_put(f->w, &r));
	}
	assert_int_equal(cdr_writer_flush(f->w, 5000), 0);
	l = store_cdr_list(f->s, 0, 0);
	assert_int_equal(json_array_size(l), 1);
	json_decref(l);
	l = store_cdr_list(f->s, -5, 1000000);
	assert_int_equal(json_array_size(l), 3);
	json_decref(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_since_limit_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_queue_full_drops, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_disk_full_retry, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_close_full_counts_lost,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_bound, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_edges, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
