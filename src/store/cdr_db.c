/*
 * cdr_db — call detail records in SQL (store/cdr_db.h): the writer
 * thread's inserts on its own connection (cdr_writer.c drives them) and
 * the control plane's list on the store's connection.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>

#include "store/cdr_int.h"
#include "store/store_int.h"

/* The columns in the order both statements use them. */
#define CDR_COLS \
	"id, start_ms, answer_ms, end_ms, caller, callee, dialled," \
	" disposition, cause, hangup_side, reason, codec," \
	" pkts_caller, pkts_callee, lost_caller, lost_callee," \
	" dropped_caller, dropped_callee, forward_rule, forward_from," \
	" forward_to, recording, trunk, route"

enum {
	C_ID, C_START, C_ANSWER, C_END, C_CALLER, C_CALLEE, C_DIALLED,
	C_DISPO, C_CAUSE, C_SIDE, C_REASON, C_CODEC, C_PKTS, C_LOST = C_PKTS
	+ 2, C_DROPPED = C_LOST + 2, C_FWD_RULE = C_DROPPED + 2, C_FWD_FROM,
	C_FWD_TO, C_REC, C_TRUNK, C_ROUTE, C_N   /* trunk, route: issue 15 */
};

#define LIST_MAX 10000u

struct cdr_sql {
	sqlite3 *db;
	sqlite3_stmt *ins, *trim;
};

int cdr_sql_open(struct cdr_sql **qp, const char *path)
{
	struct cdr_sql *q;
	int err;

	if (!qp || !path)
		return EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return ENOMEM;
	err = store_conn_open(path, &q->db);
	if (err) {
		free(q);
		return err;
	}
	/* appends in batches, as the bindings writer: a record may be lost
	 * to a power cut between two checkpoints, never to a crash */
	sqlite3_exec(q->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
	sqlite3_exec(q->db, "PRAGMA cache_size=-1024", NULL, NULL, NULL);
	*qp = q;
	return 0;
}

void cdr_sql_close(struct cdr_sql *q)
{
	if (!q)
		return;
	sqlite3_finalize(q->ins);
	sqlite3_finalize(q->trim);
	sqlite3_close(q->db);
	free(q);
}

void cdr_sql_max_pages(struct cdr_sql *q, unsigned pages)
{
	store_conn_max_pages(q->db, pages);
}

/* A text field of the record: never read past its array, even when the
 * caller left it unterminated. */
static void bind_text(sqlite3_stmt *st, int col, const char *s, size_t cap)
{
	sqlite3_bind_text(st, col + 1, s, (int)strnlen(s, cap), SQLITE_STATIC);
}

#define BIND_TEXT(st, col, field) bind_text(st, col, field, sizeof(field))

static int insert(struct cdr_sql *q, const struct cdr_rec *r)
{
	sqlite3_stmt *st = q->ins;
	int rc;

	BIND_TEXT(st, C_ID, r->id);
	sqlite3_bind_int64(st, C_START + 1, r->start_ms);
	sqlite3_bind_int64(st, C_ANSWER + 1, r->answer_ms);
	sqlite3_bind_int64(st, C_END + 1, r->end_ms);
	BIND_TEXT(st, C_CALLER, r->caller);
	BIND_TEXT(st, C_CALLEE, r->callee);
	BIND_TEXT(st, C_DIALLED, r->dialled);
	BIND_TEXT(st, C_DISPO, r->disposition);
	sqlite3_bind_int64(st, C_CAUSE + 1, r->cause);
	BIND_TEXT(st, C_SIDE, r->hangup_side);
	BIND_TEXT(st, C_REASON, r->reason);
	BIND_TEXT(st, C_CODEC, r->codec);
	BIND_TEXT(st, C_FWD_RULE, r->fwd_rule);
	BIND_TEXT(st, C_FWD_FROM, r->fwd_from);
	BIND_TEXT(st, C_FWD_TO, r->fwd_to);
	BIND_TEXT(st, C_REC, r->recording);
	BIND_TEXT(st, C_TRUNK, r->trunk);   /* outbound (issue 15) */
	BIND_TEXT(st, C_ROUTE, r->route);
	for (int d = 0; d < 2; d++) {
		sqlite3_bind_int64(st, C_PKTS + d + 1, (int64_t)r->pkts[d]);
		sqlite3_bind_int64(st, C_LOST + d + 1, (int64_t)r->lost[d]);
		sqlite3_bind_int64(st, C_DROPPED + d + 1,
				   (int64_t)r->dropped[d]);
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : store_sqlite_errno(q->db, rc);
}

/* The oldest rows beyond keep go, by insertion order. */
static int trim(struct cdr_sql *q, uint64_t keep)
{
	sqlite3_int64 last = sqlite3_last_insert_rowid(q->db);
	int rc;

	if (!keep || last <= (sqlite3_int64)keep)
		return 0;
	if (!q->trim &&
	    (rc = sqlite3_prepare_v2(q->db, "DELETE FROM cdr WHERE seq <= ?",
				     -1, &q->trim, NULL)) != SQLITE_OK)
		return store_sqlite_errno(q->db, rc);
	sqlite3_bind_int64(q->trim, 1, last - (sqlite3_int64)keep);
	rc = sqlite3_step(q->trim);
	sqlite3_reset(q->trim);
	return rc == SQLITE_DONE ? 0 : store_sqlite_errno(q->db, rc);
}

int cdr_sql_write(struct cdr_sql *q, const struct cdr_item *list,
		  uint64_t keep)
{
	int rc;

	if (!q->ins &&
	    (rc = sqlite3_prepare_v2(q->db, "INSERT INTO cdr(" CDR_COLS ")"
				     " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
				     "?,?,?,?,?,?,?,?,?)", -1, &q->ins, NULL))
	    != SQLITE_OK)
		return store_sqlite_errno(q->db, rc);
	rc = store_conn_begin(q->db);
	for (const struct cdr_item *it = list; it && !rc; it = it->next)
		rc = insert(q, &it->r);
	if (!rc)
		rc = trim(q, keep);
	if (!rc)
		rc = store_conn_commit(q->db);
	if (rc)
		store_conn_rollback(q->db);
	return rc;
}

/* ---- control plane ---- */

/* "2026-12-05T14:03:07.250Z" */
static json_t *iso_ms(int64_t ms)
{
	char buf[80];
	int64_t s = ms / 1000, frac = ms % 1000;
	time_t t;
	struct tm tm;

	if (frac < 0) {
		frac += 1000;
		s--;
	}
	t = (time_t)s;
	if (!gmtime_r(&t, &tm))
		return json_null();
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)frac);
	return json_string(buf);
}

/* Text as stored. What is not valid UTF-8 (a dialled string is what the
 * phone sent) is shown with '?' for every byte outside printable ASCII
 * rather than dropped. */
static json_t *text_col(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);
	json_t *v;
	char *c;

	if (!t)
		return json_string("");
	v = json_stringn((const char *)t, n);
	if (v)
		return v;
	c = malloc(n + 1);
	if (!c)
		return NULL;
	for (size_t i = 0; i < n; i++)
		c[i] = t[i] >= 0x20 && t[i] < 0x7f ? (char)t[i] : '?';
	v = json_stringn(c, n);
	free(c);
	return v;
}

static json_t *pair_col(sqlite3_stmt *st, int col)
{
	return json_pack("{s:I,s:I}",
			 "caller", (json_int_t)sqlite3_column_int64(st, col),
			 "callee", (json_int_t)sqlite3_column_int64(st, col +
								    1));
}

/* One row as the API shows it; NULL without memory. */
static json_t *row_json(sqlite3_stmt *st)
{
	int64_t start = sqlite3_column_int64(st, C_START);
	int64_t answer = sqlite3_column_int64(st, C_ANSWER);
	int64_t end = sqlite3_column_int64(st, C_END);
	int64_t dur = answer > 0 && end > answer ? (end - answer) / 1000 : 0;

	return json_pack("{s:o,s:o,s:I,s:o,s:I,s:o,s:I,s:I,s:o,s:o,"
			 "s:o,s:o,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,"
			 "s:o,s:o}",
			 "id", text_col(st, C_ID),
			 "start", iso_ms(start), "start_ms", (json_int_t)start,
			 "answer", answer > 0 ? iso_ms(answer) : json_null(),
			 "answer_ms", (json_int_t)answer,
			 "end", iso_ms(end), "end_ms", (json_int_t)end,
			 "duration_s", (json_int_t)dur,
			 "caller", text_col(st, C_CALLER),
			 "callee", text_col(st, C_CALLEE),
			 "dialled", text_col(st, C_DIALLED),
			 "disposition", text_col(st, C_DISPO),
			 "cause", (json_int_t)sqlite3_column_int64(st,
								    C_CAUSE),
			 "hangup_side", text_col(st, C_SIDE),
			 "reason", text_col(st, C_REASON),
			 "codec", text_col(st, C_CODEC),
			 "packets", pair_col(st, C_PKTS),
			 "lost", pair_col(st, C_LOST),
			 "dropped", pair_col(st, C_DROPPED),
			 "forward_rule", text_col(st, C_FWD_RULE),
			 "forward_from", text_col(st, C_FWD_FROM),
			 "forward_to", text_col(st, C_FWD_TO),
			 "recording", text_col(st, C_REC),
			 "trunk", text_col(st, C_TRUNK),   /* issue 15 */
			 "route", text_col(st, C_ROUTE));
}

json_t *store_cdr_list(struct store *s, int64_t since_ms, size_t limit)
{
	sqlite3_stmt *st = NULL;
	json_t *out;
	int rc = SQLITE_ERROR;

	if (!s)
		return NULL;
	if (limit < 1)
		limit = 1;
	if (limit > LIST_MAX)
		limit = LIST_MAX;
	out = json_array();
	if (!out)
		return NULL;
	pthread_mutex_lock(&s->lock);
	if (store_prep(s, "SELECT " CDR_COLS " FROM cdr WHERE end_ms >= ?"
		       " ORDER BY end_ms DESC, seq DESC LIMIT ?", &st))
		goto out;
	sqlite3_bind_int64(st, 1, since_ms > 0 ? since_ms : INT64_MIN);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *e = row_json(st);

		if (!e || json_array_append_new(out, e)) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	store_unprep(st);
 out:
	pthread_mutex_unlock(&s->lock);
	if (rc != SQLITE_DONE) {
		json_decref(out);
		return NULL;
	}
	return out;
}

int store_cdr_recording(struct store *s, const char *id, char *rel,
			size_t sz)
{
	sqlite3_stmt *st = NULL;
	int err = ENOENT, rc;

	if (!s || !id || !rel || !sz)
		return EINVAL;
	rel[0] = '\0';
	pthread_mutex_lock(&s->lock);
	if (store_prep(s, "SELECT recording FROM cdr WHERE id = ? AND"
		       " recording != '' ORDER BY seq DESC LIMIT 1", &st)) {
		err = EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);

		err = t && (size_t)snprintf(rel, sz, "%s", (const char *)t) < sz
			? 0 : ENAMETOOLONG;
	}
	else if (rc != SQLITE_DONE) {
		err = EIO;
	}
	store_unprep(st);
 out:
	pthread_mutex_unlock(&s->lock);
	return err;
}
