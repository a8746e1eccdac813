/*
 * vmstore — the connection, the paths and the messages of the mailbox
 * store (voicemail/vmstore.h; mailbox state in vmstore_state.c).
 *
 * Paths are only ever built here, from a number checked to be digits and
 * an id checked to be [0-9a-z-]: nothing a caller sends becomes a path
 * as such. Directories are 0700, files 0600, opened with O_NOFOLLOW; the
 * mailbox directory is refused when it is not a real directory (a
 * symlink planted there). A row is the truth: a file without its row is
 * never listed nor served.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "voicemail/vmstore_int.h"

/* Most rows one list returns (a mailbox holds at most its
 * voicemail.max_messages; this bounds a database filled otherwise). */
#define VM_LIST_MAX 100000u

static const char *const greeting_file[VM_G__COUNT] = {
	[VM_G_NAME] = "name.wav", [VM_G_UNAVAIL] = "unavail.wav",
	[VM_G_BUSY] = "busy.wav", [VM_G_TEMP] = "temp.wav",
};

bool vmstore_number_ok(const char *number)
{
	size_t i, n = number ? strnlen(number, VM_NUM_MAX) : 0;

	if (n == 0 || n >= VM_NUM_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (number[i] < '0' || number[i] > '9')
			return false;
	return true;
}

static bool id_ok(const char *id)
{
	size_t i, n = id ? strnlen(id, VM_ID_MAX) : 0;

	if (n == 0 || n >= VM_ID_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'z') || id[i] == '-'))
			return false;
	return true;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- SQL helpers ---- */

static int bindv(sqlite3_stmt *st, const char *fmt, va_list ap)
{
	int i;

	for (i = 0; fmt && fmt[i]; i++) {
		int rc;

		if (fmt[i] == 's')
			rc = sqlite3_bind_text(st, i + 1, va_arg(ap,
					       const char *), -1,
					       SQLITE_TRANSIENT);
		else
			rc = sqlite3_bind_int64(st, i + 1, va_arg(ap,
						int64_t));
		if (rc != SQLITE_OK)
			return EIO;
	}
	return 0;
}

int vmstore_exec(struct vmstore *v, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int err;

	if (sqlite3_prepare_v2(v->db, sql, -1, &st, NULL) != SQLITE_OK)
		return EIO;
	va_start(ap, fmt);
	err = bindv(st, fmt, ap);
	va_end(ap);
	if (!err && sqlite3_step(st) != SQLITE_DONE)
		err = sqlite3_extended_errcode(v->db) ==
			SQLITE_CONSTRAINT_PRIMARYKEY ? EEXIST : EIO;
	sqlite3_finalize(st);
	return err;
}

/* A prepared statement with its binds (NULL on failure). */
static sqlite3_stmt *query(struct vmstore *v, const char *sql,
			   const char *fmt, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int err;

	if (sqlite3_prepare_v2(v->db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	va_start(ap, fmt);
	err = bindv(st, fmt, ap);
	va_end(ap);
	if (err) {
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

int vmstore_begin(struct vmstore *v)
{
	return sqlite3_exec(v->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
		SQLITE_OK ? 0 : EIO;
}

int vmstore_commit(struct vmstore *v)
{
	return sqlite3_exec(v->db, "COMMIT", NULL, NULL, NULL) ==
		SQLITE_OK ? 0 : EIO;
}

void vmstore_rollback(struct vmstore *v)
{
	sqlite3_exec(v->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- open, close ---- */

/* mkdir 0700 unless there; then it must be a real directory. */
static int dir_make(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) && errno != EEXIST)
		return errno;
	if (lstat(path, &st))
		return errno;
	return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

int vmstore_open(struct vmstore **vp, const char *data_dir,
		 const char *db_path)
{
	struct vmstore *v;
	sqlite3_stmt *st = NULL;
	int n, err;

	if (!vp || !data_dir || !db_path)
		return EINVAL;
	if (sodium_init() < 0)
		return EIO;
	v = calloc(1, sizeof(*v));
	if (!v)
		return ENOMEM;
	pthread_mutex_init(&v->mtx, NULL);
	n = snprintf(v->root, sizeof(v->root), "%s/voicemail", data_dir);
	if (n < 0 || (size_t)n >= sizeof(v->root)) {
		err = ENAMETOOLONG;
		goto out;
	}
	err = dir_make(v->root);
	if (err)
		goto out;
	if (sqlite3_open_v2(db_path, &v->db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		err = EIO;
		goto out;
	}
	sqlite3_busy_timeout(v->db, 5000);
	sqlite3_exec(v->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
	/* the store's migration 9 must have run */
	if (sqlite3_prepare_v2(v->db, "SELECT 1 FROM vm_msg, vm_box, "
			       "vm_pinfail LIMIT 0", -1, &st, NULL) !=
	    SQLITE_OK)
		err = EIO;
	sqlite3_finalize(st);
 out:
	if (err) {
		vmstore_close(v);
		return err;
	}
	*vp = v;
	return 0;
}

void vmstore_close(struct vmstore *v)
{
	if (!v)
		return;
	sqlite3_close(v->db);
	pthread_mutex_destroy(&v->mtx);
	free(v);
}

void vmstore_on_change(struct vmstore *v, vmstore_change_h *h, void *arg)
{
	if (!v)
		return;
	pthread_mutex_lock(&v->mtx);
	v->ch = h;
	v->charg = arg;
	pthread_mutex_unlock(&v->mtx);
}

/* ---- paths ---- */

static int fmt_path(char *buf, size_t sz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fmt_path(char *buf, size_t sz, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!buf || !sz)
		return EINVAL;
	va_start(ap, fmt);
	n = vsnprintf(buf, sz, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= sz ? ENAMETOOLONG : 0;
}

int vmstore_box_dir(struct vmstore *v, const char *number, char *buf,
		    size_t sz)
{
	int err;

	if (!v || !vmstore_number_ok(number))
		return EINVAL;
	err = fmt_path(buf, sz, "%s/%s", v->root, number);
	return err ? err : dir_make(buf);
}

int vmstore_msg_path(struct vmstore *v, const char *number, const char *id,
		     char *buf, size_t sz)
{
	if (!v || !vmstore_number_ok(number) || !id_ok(id))
		return EINVAL;
	return fmt_path(buf, sz, "%s/%s/m-%s.wav", v->root, number, id);
}

int vmstore_greeting_path(struct vmstore *v, const char *number,
			  enum vm_greeting g, char *buf, size_t sz)
{
	if (!v || !vmstore_number_ok(number) || (int)g < 0 ||
	    g >= VM_G__COUNT)
		return EINVAL;
	return fmt_path(buf, sz, "%s/%s/%s", v->root, number,
			greeting_file[g]);
}

bool vmstore_greeting_exists(struct vmstore *v, const char *number,
			     enum vm_greeting g)
{
	char path[600];
	struct stat st;

	return !vmstore_greeting_path(v, number, g, path, sizeof(path)) &&
		!lstat(path, &st) && S_ISREG(st.st_mode);
}

/* ---- counts and the change callback ---- */

static int counts_locked(struct vmstore *v, const char *number,
			 unsigned *n_new, unsigned *n_saved)
{
	sqlite3_stmt *st = query(v, "SELECT COALESCE(SUM(folder = 0), 0), "
				 "COALESCE(SUM(folder = 1), 0) FROM vm_msg "
				 "WHERE number = ?", "s", number);
	int err = EIO;

	if (st && sqlite3_step(st) == SQLITE_ROW) {
		*n_new = (unsigned)sqlite3_column_int64(st, 0);
		*n_saved = (unsigned)sqlite3_column_int64(st, 1);
		err = 0;
	}
	sqlite3_finalize(st);
	return err;
}

/* Under v->mtx, so that two changes of one mailbox are reported in the
 * order they were made (the callback must not call back into vmstore). */
static void changed(struct vmstore *v, const char *number)
{
	unsigned n_new = 0, n_saved = 0;

	if (v->ch && !counts_locked(v, number, &n_new, &n_saved))
		v->ch(number, n_new, n_saved, v->charg);
}

int vmstore_counts(struct vmstore *v, const char *number, unsigned *n_new,
		   unsigned *n_saved)
{
	int err;

	if (!v || !vmstore_number_ok(number) || !n_new || !n_saved)
		return EINVAL;
	pthread_mutex_lock(&v->mtx);
	err = counts_locked(v, number, n_new, n_saved);
	pthread_mutex_unlock(&v->mtx);
	return err;
}

int vmstore_counts_all(struct vmstore *v, vmstore_change_h *h, void *arg)
{
	sqlite3_stmt *st;
	int rc = SQLITE_DONE, err = 0;

	if (!v || !h)
		return EINVAL;
	pthread_mutex_lock(&v->mtx);
	st = query(v, "SELECT number, SUM(folder = 0), SUM(folder = 1) "
		   "FROM vm_msg GROUP BY number", NULL);
	if (!st)
		err = EIO;
	while (st && (rc = sqlite3_step(st)) == SQLITE_ROW)
		h((const char *)sqlite3_column_text(st, 0),
		  (unsigned)sqlite3_column_int64(st, 1),
		  (unsigned)sqlite3_column_int64(st, 2), arg);
	if (st && rc != SQLITE_DONE)
		err = EIO;
	sqlite3_finalize(st);
	pthread_mutex_unlock(&v->mtx);
	return err;
}

/* ---- messages ---- */

#define MSG_COLS "number, id, folder, caller, caller_name, time_ms, " \
	"duration_ms, bytes, copy_of"

static void copy_col(char *dst, size_t sz, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, sz, "%s", t ? (const char *)t : "");
}

static void row_msg(sqlite3_stmt *st, struct vm_msg *m)
{
	memset(m, 0, sizeof(*m));
	copy_col(m->number, sizeof(m->number), st, 0);
	copy_col(m->id, sizeof(m->id), st, 1);
	m->folder = sqlite3_column_int(st, 2);
	copy_col(m->caller, sizeof(m->caller), st, 3);
	copy_col(m->caller_name, sizeof(m->caller_name), st, 4);
	m->time_ms = sqlite3_column_int64(st, 5);
	m->duration_ms = (uint32_t)sqlite3_column_int64(st, 6);
	m->bytes = (uint64_t)sqlite3_column_int64(st, 7);
	copy_col(m->copy_of, sizeof(m->copy_of), st, 8);
}

static int get_locked(struct vmstore *v, const char *number,
		      const char *id, struct vm_msg *m)
{
	sqlite3_stmt *st = query(v, "SELECT " MSG_COLS " FROM vm_msg WHERE "
				 "number = ? AND id = ?", "ss", number, id);
	int rc, err;

	if (!st)
		return EIO;
	rc = sqlite3_step(st);
	err = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? ENOENT : EIO;
	if (!err && m)
		row_msg(st, m);
	sqlite3_finalize(st);
	return err;
}

int vmstore_msg_get(struct vmstore *v, const char *number, const char *id,
		    struct vm_msg *m)
{
	int err;

	if (!v || !vmstore_number_ok(number) || !id_ok(id))
		return EINVAL;
	pthread_mutex_lock(&v->mtx);
	err = get_locked(v, number, id, m);
	pthread_mutex_unlock(&v->mtx);
	return err;
}

int vmstore_msg_new(struct vmstore *v, const char *number,
		    unsigned max_messages, char id[VM_ID_MAX], char *path,
		    size_t sz)
{
	unsigned n_new = 0, n_saved = 0;
	uint32_t rnd;
	int64_t ms;
	int err;

	if (!v || !vmstore_number_ok(number) || !id)
		return EINVAL;
	err = vmstore_box_dir(v, number, path, sz);
	if (err)
		return err;
	pthread_mutex_lock(&v->mtx);
	err = counts_locked(v, number, &n_new, &n_saved);
	if (!err && max_messages && n_new + n_saved >= max_messages)
		err = ENOSPC;
	if (!err) {
		/* strictly increasing within the process: ids sort as the
		 * deposits started */
		ms = now_ms();
		if (ms <= v->last_ms)
			ms = v->last_ms + 1;
		v->last_ms = ms;
		randombytes_buf(&rnd, sizeof(rnd));
		snprintf(id, VM_ID_MAX, "%012" PRIx64 "-%08" PRIx32,
			 (uint64_t)ms, rnd);
	}
	pthread_mutex_unlock(&v->mtx);
	return err ? err : vmstore_msg_path(v, number, id, path, sz);
}

static bool text_ok(const char *s, size_t sz)
{
	return strnlen(s, sz) < sz;
}

int vmstore_msg_add(struct vmstore *v, const struct vm_msg *m)
{
	char path[600];
	struct stat st;
	int fd, err;

	if (!v || !m || !vmstore_number_ok(m->number) || !id_ok(m->id) ||
	    !text_ok(m->caller, sizeof(m->caller)) ||
	    !text_ok(m->caller_name, sizeof(m->caller_name)) ||
	    (m->copy_of[0] && !vmstore_number_ok(m->copy_of)))
		return EINVAL;
	err = vmstore_msg_path(v, m->number, m->id, path, sizeof(path));
	if (err)
		return err;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? ENOENT : EIO;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return EIO;
	}
	(void)fchmod(fd, 0600);
	close(fd);
	pthread_mutex_lock(&v->mtx);
	err = vmstore_exec(v, "INSERT INTO vm_msg(" MSG_COLS ") VALUES "
			   "(?, ?, 0, ?, ?, ?, ?, ?, ?)", "ssssiiis",
			   m->number, m->id, m->caller, m->caller_name,
			   (int64_t)m->time_ms, (int64_t)m->duration_ms,
			   (int64_t)st.st_size, m->copy_of);
	if (!err)
		changed(v, m->number);
	pthread_mutex_unlock(&v->mtx);
	return err;
}

/* src's bytes into a new file dst (0600), whole or not at all. */
static int copy_file(const char *src, const char *dst)
{
	char tmp[640], buf[8192];
	int in, out = -1, err = 0;
	ssize_t n;

	if (fmt_path(tmp, sizeof(tmp), "%s.part", dst))
		return ENAMETOOLONG;
	in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return errno;
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
		   O_CLOEXEC, 0600);
	if (out < 0) {
		err = errno;
		goto out;
	}
	while (!err && (n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 || write(out, buf, (size_t)n) != n)
			err = EIO;
	}
	if (!err && fsync(out))
		err = errno;
	if (close(out) && !err)
		err = errno;
	out = -1;
	if (!err && rename(tmp, dst))
		err = errno;
	if (err)
		unlink(tmp);
 out:
	close(in);
	return err;
}

int vmstore_msg_copy(struct vmstore *v, const char *from, const char *id,
		     const char *to)
{
	char src[600], dst[600];
	struct vm_msg m;
	int err;

	if (!v || !vmstore_number_ok(from) || !vmstore_number_ok(to) ||
	    !id_ok(id) || !strcmp(from, to))
		return EINVAL;
	err = vmstore_box_dir(v, to, dst, sizeof(dst));
	if (!err)
		err = vmstore_msg_path(v, from, id, src, sizeof(src));
	if (!err)
		err = vmstore_msg_path(v, to, id, dst, sizeof(dst));
	if (err)
		return err;
	pthread_mutex_lock(&v->mtx);
	err = get_locked(v, from, id, &m);
	if (!err && !get_locked(v, to, id, NULL))
		err = EEXIST;
	if (err)
		goto out;
	if (link(src, dst)) {
		err = errno == EEXIST ? EEXIST : copy_file(src, dst);
		if (err)
			goto out;
	}
	err = vmstore_exec(v, "INSERT INTO vm_msg(" MSG_COLS ") VALUES "
			   "(?, ?, 0, ?, ?, ?, ?, ?, ?)", "ssssiiis",
			   to, id, m.caller, m.caller_name,
			   (int64_t)m.time_ms, (int64_t)m.duration_ms,
			   (int64_t)m.bytes, from);
	if (err)
		unlink(dst);
	else
		changed(v, to);
 out:
	pthread_mutex_unlock(&v->mtx);
	return err;
}

int vmstore_msg_list(struct vmstore *v, const char *number, int folder,
		     struct vm_msg **out, size_t *n)
{
	struct vm_msg *a = NULL, *na;
	size_t len = 0, cap = 0;
	sqlite3_stmt *st;
	int rc = SQLITE_DONE, err = 0;

	if (!v || !vmstore_number_ok(number) || !out || !n ||
	    (folder != VM_ANY && folder != VM_NEW && folder != VM_SAVED))
		return EINVAL;
	pthread_mutex_lock(&v->mtx);
	st = query(v, "SELECT " MSG_COLS " FROM vm_msg WHERE number = ? AND "
		   "(? < 0 OR folder = ?) ORDER BY time_ms, id", "sii",
		   number, (int64_t)folder, (int64_t)folder);
	if (!st)
		err = EIO;
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW &&
	       len < VM_LIST_MAX) {
		if (len == cap) {
			cap = cap ? cap * 2 : 16;
			na = realloc(a, cap * sizeof(*a));
			if (!na) {
				err = ENOMEM;
				break;
			}
			a = na;
		}
		row_msg(st, &a[len++]);
	}
	if (!err && rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = EIO;
	sqlite3_finalize(st);
	pthread_mutex_unlock(&v->mtx);
	if (err) {
		free(a);
		return err;
	}
	*out = a;
	*n = len;
	return 0;
}

int vmstore_msg_move(struct vmstore *v, const char *number, const char *id,
		     int folder)
{
	int err;

	if (!v || !vmstore_number_ok(number) || !id_ok(id) ||
	    (folder != VM_NEW && folder != VM_SAVED))
		return EINVAL;
	pthread_mutex_lock(&v->mtx);
	err = vmstore_exec(v, "UPDATE vm_msg SET folder = ? WHERE number = ? "
			   "AND id = ?", "iss", (int64_t)folder, number, id);
	if (!err && sqlite3_changes(v->db) == 0)
		err = ENOENT;
	if (!err)
		changed(v, number);
	pthread_mutex_unlock(&v->mtx);
	return err;
}

int vmstore_msg_delete(struct vmstore *v, const char *number, const char *id)
{
	char path[600];
	int err;

	if (!v)
		return EINVAL;
	err = vmstore_msg_path(v, number, id, path, sizeof(path));
	if (err)
		return err;
	pthread_mutex_lock(&v->mtx);
	err = vmstore_exec(v, "DELETE FROM vm_msg WHERE number = ? AND "
			   "id = ?", "ss", number, id);
	if (!err && sqlite3_changes(v->db) == 0)
		err = ENOENT;
	if (!err) {
		/* the row is gone: a file left by a failed unlink is
		 * never listed nor served */
		(void)unlink(path);
		changed(v, number);
	}
	pthread_mutex_unlock(&v->mtx);
	return err;
}

int vmstore_msg_read(struct vmstore *v, const char *number, const char *id,
		     size_t max, char **buf, size_t *len)
{
	char path[600], *b = NULL;
	struct stat st;
	size_t off = 0;
	int fd, err;

	if (!v || !buf || !len)
		return EINVAL;
	err = vmstore_msg_path(v, number, id, path, sizeof(path));
	if (err)
		return err;
	err = vmstore_msg_get(v, number, id, NULL);
	if (err)
		return err;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? ENOENT : EIO;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		err = EIO;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		err = EFBIG;
		goto out;
	}
	b = malloc((size_t)st.st_size + 1);
	if (!b) {
		err = ENOMEM;
		goto out;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, b + off, (size_t)st.st_size - off);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	*buf = b;
	*len = off;
 out:
	close(fd);
	return err;
}

/* Every entry of the mailbox directory, then the directory. */
static void box_files_remove(const char *dir)
{
	struct dirent *e;
	DIR *dp;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return;
	dp = fdopendir(fd);
	if (!dp) {
		close(fd);
		return;
	}
	while ((e = readdir(dp)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			(void)unlinkat(fd, e->d_name, 0);
	closedir(dp);
	(void)rmdir(dir);
}

int vmstore_box_remove(struct vmstore *v, const char *number)
{
	char dir[600];
	int err;

	if (!v || !vmstore_number_ok(number))
		return EINVAL;
	err = fmt_path(dir, sizeof(dir), "%s/%s", v->root, number);
	if (err)
		return err;
	pthread_mutex_lock(&v->mtx);
	err = vmstore_begin(v);
	if (!err)
		err = vmstore_exec(v, "DELETE FROM vm_msg WHERE number = ?",
				   "s", number);
	if (!err)
		err = vmstore_exec(v, "DELETE FROM vm_box WHERE number = ?",
				   "s", number);
	if (!err)
		err = vmstore_commit(v);
	if (err) {
		vmstore_rollback(v);
	} else {
		box_files_remove(dir);
		changed(v, number);
	}
	pthread_mutex_unlock(&v->mtx);
	return err;
}
