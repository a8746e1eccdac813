/*
 * vmstore — the connection, the paths and the counts of the mailbox
 * store (store/vmstore.h; messages in vmstore_msg.c, mailbox state
 * in vmstore_state.c).
 *
 * Paths are only ever built here, from a number checked to be digits and
 * an id checked to be [0-9a-z-]: nothing a caller sends becomes a path
 * as such. Directories are 0700, files 0600, opened with O_NOFOLLOW; the
 * mailbox directory is refused when it is not a real directory (a
 * symlink planted there). A row is the truth: a file without its row is
 * never listed nor served.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "store/vmstore_int.h"

static const char *const greeting_file[VM_G__COUNT] = {
	[VM_G_NAME] = "name.wav", [VM_G_UNAVAIL] = "unavail.wav",
	[VM_G_BUSY] = "busy.wav", [VM_G_TEMP] = "temp.wav",
	[VM_G_PIVR] = "ivr.wav",
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

bool vmstore_id_ok(const char *id)
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

int64_t vmstore_now_ms(void)
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
sqlite3_stmt *vmstore_query(struct vmstore *v, const char *sql,
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
int vmstore_dir_make(const char *path)
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
	err = vmstore_dir_make(v->root);
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

int vmstore_fmt_path(char *buf, size_t sz, const char *fmt, ...)
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
	err = vmstore_fmt_path(buf, sz, "%s/%s", v->root, number);
	return err ? err : vmstore_dir_make(buf);
}

int vmstore_msg_path(struct vmstore *v, const char *number, const char *id,
		     char *buf, size_t sz)
{
	if (!v || !vmstore_number_ok(number) || !vmstore_id_ok(id))
		return EINVAL;
	return vmstore_fmt_path(buf, sz, "%s/%s/m-%s.wav", v->root, number, id);
}

int vmstore_greeting_path(struct vmstore *v, const char *number,
			  enum vm_greeting g, char *buf, size_t sz)
{
	if (!v || !vmstore_number_ok(number) || (int)g < 0 ||
	    g >= VM_G__COUNT)
		return EINVAL;
	return vmstore_fmt_path(buf, sz, "%s/%s/%s", v->root, number,
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

int vmstore_counts_locked(struct vmstore *v, const char *number,
			  unsigned *n_new, unsigned *n_saved)
{
	sqlite3_stmt *st = vmstore_query(v, "SELECT COALESCE(SUM(folder = 0), 0), "
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
void vmstore_changed(struct vmstore *v, const char *number)
{
	unsigned n_new = 0, n_saved = 0;

	if (v->ch && !vmstore_counts_locked(v, number, &n_new, &n_saved))
		v->ch(number, n_new, n_saved, v->charg);
}

int vmstore_counts(struct vmstore *v, const char *number, unsigned *n_new,
		   unsigned *n_saved)
{
	int err;

	if (!v || !vmstore_number_ok(number) || !n_new || !n_saved)
		return EINVAL;
	pthread_mutex_lock(&v->mtx);
	err = vmstore_counts_locked(v, number, n_new, n_saved);
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
	st = vmstore_query(v, "SELECT number, SUM(folder = 0), SUM(folder = 1) "
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

int vmstore_file_read(const char *path, size_t max, int odd, char **buf,
		      size_t *len)
{
	struct stat st;
	size_t off = 0;
	char *b = NULL;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? ENOENT : errno == ELOOP ? odd : EIO;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		err = odd;
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

		if (n < 0 && errno == EINTR)
			continue;
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
