/*
 * vmstore_state — each mailbox's state (first login done, PIN failures,
 * lock) and the PIN failures per source (store/vmstore.h; the rules
 * in docs/internals/voicemail.md).
 *
 * Every failure is one transaction: the mailbox's row and the source's
 * row change together, so a restart finds both or neither. vm_pinfail
 * grows only within the window: each insert first prunes what is older,
 * and beyond VM_PINFAIL_MAX rows (a sweep from very many sources) the
 * oldest go.
 */
#include <errno.h>
#include <string.h>

#include "store/vmstore_int.h"

#define LOCK_BASE_MS  (60 * 1000LL)
#define LOCK_MAX_MS   (24 * 3600 * 1000LL)
#define VM_PINFAIL_MAX 100000
#define SRC_MAX       64      /* an address as text, with room to spare */

static int box_read(struct vmstore *v, const char *number,
		    struct vm_boxstate *b)
{
	sqlite3_stmt *st = NULL;
	int rc, err = 0;

	memset(b, 0, sizeof(*b));
	if (sqlite3_prepare_v2(v->db, "SELECT initialised, fails, lock_level,"
			       " locked_until FROM vm_box WHERE number = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return EIO;
	sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		b->initialised = sqlite3_column_int(st, 0) != 0;
		b->fails = (unsigned)sqlite3_column_int64(st, 1);
		b->lock_level = (unsigned)sqlite3_column_int64(st, 2);
		b->locked_until = sqlite3_column_int64(st, 3);
	} else if (rc != SQLITE_DONE) {
		err = EIO;
	}
	sqlite3_finalize(st);
	return err;
}

static int box_write(struct vmstore *v, const char *number,
		     const struct vm_boxstate *b)
{
	return vmstore_exec(v, "INSERT INTO vm_box(number, initialised, "
			    "fails, lock_level, locked_until) VALUES "
			    "(?, ?, ?, ?, ?) ON CONFLICT(number) DO UPDATE "
			    "SET initialised = excluded.initialised, "
			    "fails = excluded.fails, lock_level = "
			    "excluded.lock_level, locked_until = "
			    "excluded.locked_until", "siiii", number,
			    (int64_t)b->initialised, (int64_t)b->fails,
			    (int64_t)b->lock_level, b->locked_until);
}

int vmstore_box_get(struct vmstore *v, const char *number,
		    struct vm_boxstate *st)
{
	int err;

	if (!v || !vmstore_number_ok(number) || !st)
		return EINVAL;
	pthread_mutex_lock(&v->mtx);
	err = box_read(v, number, st);
	pthread_mutex_unlock(&v->mtx);
	return err;
}

/* Read, change, write one mailbox's row in one transaction. */
typedef void (box_edit_h)(struct vm_boxstate *b, void *arg);

static int box_update(struct vmstore *v, const char *number, box_edit_h *h,
		      void *arg)
{
	struct vm_boxstate b;
	int err;

	if (!v || !vmstore_number_ok(number))
		return EINVAL;
	pthread_mutex_lock(&v->mtx);
	err = vmstore_begin(v);
	if (!err)
		err = box_read(v, number, &b);
	if (!err) {
		h(&b, arg);
		err = box_write(v, number, &b);
	}
	if (!err)
		err = vmstore_commit(v);
	if (err)
		vmstore_rollback(v);
	pthread_mutex_unlock(&v->mtx);
	return err;
}

static void set_init(struct vm_boxstate *b, void *arg)
{
	b->initialised = *(bool *)arg;
}

int vmstore_box_set_initialised(struct vmstore *v, const char *number,
				bool on)
{
	return box_update(v, number, set_init, &on);
}

static void reset(struct vm_boxstate *b, void *arg)
{
	(void)arg;
	b->fails = 0;
	b->lock_level = 0;
	b->locked_until = 0;
}

int vmstore_pin_ok(struct vmstore *v, const char *number)
{
	return box_update(v, number, reset, NULL);
}

int vmstore_unlock(struct vmstore *v, const char *number)
{
	return box_update(v, number, reset, NULL);
}

/* 60 s << level, at most 24 h */
static int64_t lock_ms(unsigned level)
{
	return level >= 11 ? LOCK_MAX_MS :
		(LOCK_BASE_MS << level) > LOCK_MAX_MS ? LOCK_MAX_MS :
		LOCK_BASE_MS << level;
}

struct fail_arg {
	int64_t now;
	struct vm_failres *res;
};

static void fail(struct vm_boxstate *b, void *arg)
{
	struct fail_arg *a = arg;

	b->fails++;
	a->res->fails = b->fails;
	if (b->fails >= VM_PIN_FAILS) {
		/* each lock needs VM_PIN_FAILS new failures after it */
		b->locked_until = a->now + lock_ms(b->lock_level);
		if (b->lock_level < 64)
			b->lock_level++;
		b->fails = 0;
		a->res->locked = true;
	}
	a->res->locked_until = b->locked_until;
}

static bool src_ok(const char *s)
{
	size_t i, n = s ? strnlen(s, SRC_MAX) : 0;

	if (n == 0 || n >= SRC_MAX)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 127)
			return false;
	return true;
}

static int src_record(struct vmstore *v, const char *number,
		      const char *src, int64_t now, unsigned *boxes)
{
	sqlite3_stmt *st = NULL;
	int err;

	err = vmstore_exec(v, "DELETE FROM vm_pinfail WHERE time <= ?", "i",
			   now - (int64_t)VM_SRC_WINDOW_MS);
	if (!err)
		err = vmstore_exec(v, "INSERT INTO vm_pinfail(src_ip, number,"
				   " time) VALUES (?, ?, ?)", "ssi", src,
				   number, now);
	if (!err)
		err = vmstore_exec(v, "DELETE FROM vm_pinfail WHERE rowid IN "
				   "(SELECT rowid FROM vm_pinfail ORDER BY "
				   "time DESC LIMIT -1 OFFSET ?)", "i",
				   (int64_t)VM_PINFAIL_MAX);
	if (err)
		return err;
	if (sqlite3_prepare_v2(v->db, "SELECT COUNT(DISTINCT number) FROM "
			       "vm_pinfail WHERE src_ip = ? AND time > ?",
			       -1, &st, NULL) != SQLITE_OK)
		return EIO;
	sqlite3_bind_text(st, 1, src, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now - (int64_t)VM_SRC_WINDOW_MS);
	if (sqlite3_step(st) == SQLITE_ROW)
		*boxes = (unsigned)sqlite3_column_int64(st, 0);
	else
		err = EIO;
	sqlite3_finalize(st);
	return err;
}

int vmstore_pin_fail(struct vmstore *v, const char *number,
		     const char *src_ip, int64_t now_ms,
		     struct vm_failres *res)
{
	struct fail_arg a = { .now = now_ms, .res = res };
	struct vm_boxstate b;
	int err;

	if (!v || !vmstore_number_ok(number) || !src_ok(src_ip) || !res ||
	    now_ms <= 0)
		return EINVAL;
	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&v->mtx);
	err = vmstore_begin(v);
	if (!err)
		err = box_read(v, number, &b);
	if (!err) {
		fail(&b, &a);
		err = box_write(v, number, &b);
	}
	if (!err)
		err = src_record(v, number, src_ip, now_ms, &res->src_boxes);
	if (!err)
		err = vmstore_commit(v);
	if (err) {
		vmstore_rollback(v);
		memset(res, 0, sizeof(*res));
	}
	pthread_mutex_unlock(&v->mtx);
	return err;
}
