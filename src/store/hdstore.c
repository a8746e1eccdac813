/*
 * hdstore — hotdesk log-ins and PIN failure state at rest
 * (store/hdstore.h). Every change is one transaction: a log-in replaces
 * the rows of its number and of its phone together; a PIN failure
 * changes the extension's row and the source's rows together, so a
 * restart finds both or neither. hotdesk_pinfail grows only within the
 * window: each insert first prunes what is older, and beyond
 * HD_PINFAIL_MAX rows (a sweep from very many sources) the oldest go.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "store/hdstore.h"
#include "store/health.h"
#include "store/store_int.h"

#define LOCK_BASE_MS   (60 * 1000LL)
#define LOCK_MAX_MS    (24 * 3600 * 1000LL)
#define HD_PINFAIL_MAX 100000
#define SRC_MAX        64

struct hdstore {
	pthread_mutex_t mtx;
	sqlite3 *db;
};

static bool number_ok(const char *n)
{
	size_t len = n ? strnlen(n, HD_NUM_MAX) : 0;

	if (!len || len >= HD_NUM_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (n[i] < '0' || n[i] > '9')
			return false;
	return true;
}

static bool src_ok(const char *s)
{
	size_t n = s ? strnlen(s, SRC_MAX) : 0;

	if (!n || n >= SRC_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 127)
			return false;
	return true;
}

/* sql with binds: 's' text, 'i' int64. */
static sqlite3_stmt *prep(struct hdstore *h, const char *sql,
			  const char *fmt, va_list ap)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	for (int i = 0; fmt && fmt[i]; i++) {
		int rc = fmt[i] == 's' ?
			sqlite3_bind_text(st, i + 1, va_arg(ap, const char *),
					  -1, SQLITE_TRANSIENT) :
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));

		if (rc != SQLITE_OK) {
			sqlite3_finalize(st);
			return NULL;
		}
	}
	return st;
}

static int exec(struct hdstore *h, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	st = prep(h, sql, fmt, ap);
	va_end(ap);
	if (!st)
		return EIO;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : store_sqlite_errno(h->db, rc);
}

int hdstore_open(struct hdstore **hp, const char *db_path)
{
	struct hdstore *h;
	int err;

	if (!hp || !db_path)
		return EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return ENOMEM;
	pthread_mutex_init(&h->mtx, NULL);
	err = store_conn_open(db_path, &h->db);
	if (err) {
		pthread_mutex_destroy(&h->mtx);
		free(h);
		return err;
	}
	*hp = h;
	return 0;
}

void hdstore_close(struct hdstore *h)
{
	if (!h)
		return;
	sqlite3_close(h->db);
	pthread_mutex_destroy(&h->mtx);
	free(h);
}

/* ---- log-ins ---- */

int hdstore_login_put(struct hdstore *h, const struct hd_login *l)
{
	int err;

	if (!h || !l || !number_ok(l->number) || !number_ok(l->phone))
		return EINVAL;
	pthread_mutex_lock(&h->mtx);
	err = store_conn_begin(h->db);
	if (!err)
		err = exec(h, "DELETE FROM hotdesk_login WHERE number = ? OR "
			   "phone = ?", "ss", l->number, l->phone);
	if (!err)
		err = exec(h, "INSERT INTO hotdesk_login(number, phone, "
			   "login_ms, used_ms) VALUES (?, ?, ?, ?)", "ssii",
			   l->number, l->phone, l->login_ms, l->used_ms);
	if (!err)
		err = store_conn_commit(h->db);
	if (err)
		store_conn_rollback(h->db);
	pthread_mutex_unlock(&h->mtx);
	return err;
}

int hdstore_login_del(struct hdstore *h, const char *number)
{
	int err;

	if (!h || !number_ok(number))
		return EINVAL;
	pthread_mutex_lock(&h->mtx);
	err = exec(h, "DELETE FROM hotdesk_login WHERE number = ?", "s",
		   number);
	pthread_mutex_unlock(&h->mtx);
	return err;
}

int hdstore_login_each(struct hdstore *h,
		       void (*fn)(const struct hd_login *l, void *arg),
		       void *arg)
{
	sqlite3_stmt *st = NULL;
	struct hd_login l;
	int rc, err = 0;

	if (!h || !fn)
		return EINVAL;
	pthread_mutex_lock(&h->mtx);
	if (sqlite3_prepare_v2(h->db, "SELECT number, phone, login_ms, "
			       "used_ms FROM hotdesk_login ORDER BY number",
			       -1, &st, NULL) != SQLITE_OK) {
		pthread_mutex_unlock(&h->mtx);
		return EIO;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *n = (const char *)sqlite3_column_text(st, 0);
		const char *p = (const char *)sqlite3_column_text(st, 1);

		memset(&l, 0, sizeof(l));
		if (!number_ok(n) || !number_ok(p))
			continue;   /* not a row we wrote */
		snprintf(l.number, sizeof(l.number), "%s", n);
		snprintf(l.phone, sizeof(l.phone), "%s", p);
		l.login_ms = sqlite3_column_int64(st, 2);
		l.used_ms = sqlite3_column_int64(st, 3);
		fn(&l, arg);
	}
	if (rc != SQLITE_DONE)
		err = EIO;
	sqlite3_finalize(st);
	pthread_mutex_unlock(&h->mtx);
	return err;
}

/* ---- PIN failures ---- */

static int state_read(struct hdstore *h, const char *number,
		      struct hd_state *b)
{
	sqlite3_stmt *st = NULL;
	int rc, err = 0;

	memset(b, 0, sizeof(*b));
	if (sqlite3_prepare_v2(h->db, "SELECT fails, lock_level, "
			       "locked_until FROM hotdesk_state WHERE "
			       "number = ?", -1, &st, NULL) != SQLITE_OK)
		return EIO;
	sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		b->fails = (unsigned)sqlite3_column_int64(st, 0);
		b->lock_level = (unsigned)sqlite3_column_int64(st, 1);
		b->locked_until = sqlite3_column_int64(st, 2);
	} else if (rc != SQLITE_DONE) {
		err = EIO;
	}
	sqlite3_finalize(st);
	return err;
}

static int state_write(struct hdstore *h, const char *number,
		       const struct hd_state *b)
{
	return exec(h, "INSERT INTO hotdesk_state(number, fails, lock_level,"
		    " locked_until) VALUES (?, ?, ?, ?) ON CONFLICT(number) "
		    "DO UPDATE SET fails = excluded.fails, lock_level = "
		    "excluded.lock_level, locked_until = "
		    "excluded.locked_until", "siii", number,
		    (int64_t)b->fails, (int64_t)b->lock_level,
		    b->locked_until);
}

int hdstore_state_get(struct hdstore *h, const char *number,
		      struct hd_state *st)
{
	int err;

	if (!h || !number_ok(number) || !st)
		return EINVAL;
	pthread_mutex_lock(&h->mtx);
	err = state_read(h, number, st);
	pthread_mutex_unlock(&h->mtx);
	return err;
}

int hdstore_pin_ok(struct hdstore *h, const char *number)
{
	int err;

	if (!h || !number_ok(number))
		return EINVAL;
	pthread_mutex_lock(&h->mtx);
	err = exec(h, "DELETE FROM hotdesk_state WHERE number = ?", "s",
		   number);
	pthread_mutex_unlock(&h->mtx);
	return err;
}

/* 60 s << level, at most 24 h */
static int64_t lock_ms(unsigned level)
{
	return level >= 11 ? LOCK_MAX_MS :
		(LOCK_BASE_MS << level) > LOCK_MAX_MS ? LOCK_MAX_MS :
		LOCK_BASE_MS << level;
}

static int src_record(struct hdstore *h, const char *number,
		      const char *src, int64_t now, unsigned *numbers)
{
	sqlite3_stmt *st = NULL;
	int err;

	err = exec(h, "DELETE FROM hotdesk_pinfail WHERE time <= ?", "i",
		   now - (int64_t)HD_SRC_WINDOW_MS);
	if (!err)
		err = exec(h, "INSERT INTO hotdesk_pinfail(src_ip, number, "
			   "time) VALUES (?, ?, ?)", "ssi", src, number, now);
	if (!err)
		err = exec(h, "DELETE FROM hotdesk_pinfail WHERE rowid IN "
			   "(SELECT rowid FROM hotdesk_pinfail ORDER BY time "
			   "DESC LIMIT -1 OFFSET ?)", "i",
			   (int64_t)HD_PINFAIL_MAX);
	if (err)
		return err;
	if (sqlite3_prepare_v2(h->db, "SELECT COUNT(DISTINCT number) FROM "
			       "hotdesk_pinfail WHERE src_ip = ? AND "
			       "time > ?", -1, &st, NULL) != SQLITE_OK)
		return EIO;
	sqlite3_bind_text(st, 1, src, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now - (int64_t)HD_SRC_WINDOW_MS);
	if (sqlite3_step(st) == SQLITE_ROW)
		*numbers = (unsigned)sqlite3_column_int64(st, 0);
	else
		err = EIO;
	sqlite3_finalize(st);
	return err;
}

int hdstore_pin_fail(struct hdstore *h, const char *number,
		     const char *src_ip, int64_t now_ms,
		     struct hd_failres *res)
{
	struct hd_state b;
	int err;

	if (!h || !number_ok(number) || !src_ok(src_ip) || !res ||
	    now_ms <= 0)
		return EINVAL;
	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&h->mtx);
	err = store_conn_begin(h->db);
	if (!err)
		err = state_read(h, number, &b);
	if (!err) {
		b.fails++;
		res->fails = b.fails;
		if (b.fails >= HD_PIN_FAILS) {
			/* each lock needs HD_PIN_FAILS new failures */
			b.locked_until = now_ms + lock_ms(b.lock_level);
			if (b.lock_level < 64)
				b.lock_level++;
			b.fails = 0;
			res->locked = true;
		}
		res->locked_until = b.locked_until;
		err = state_write(h, number, &b);
	}
	if (!err)
		err = src_record(h, number, src_ip, now_ms,
				 &res->src_numbers);
	if (!err)
		err = store_conn_commit(h->db);
	if (err) {
		store_conn_rollback(h->db);
		memset(res, 0, sizeof(*res));
	}
	pthread_mutex_unlock(&h->mtx);
	return err;
}
