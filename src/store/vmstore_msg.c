/*
 * vmstore_msg — the messages of the mailbox store (store/vmstore.h):
 * ids handed out for a recording, rows recorded, listed, moved, copied to
 * group members, deleted, a mailbox removed whole. Each change of a
 * mailbox's counts is reported (vmstore_changed) before the lock goes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "store/vmstore_int.h"

/* Most rows one list returns (a mailbox holds at most its
 * voicemail.max_messages; this bounds a database filled otherwise). */
#define VM_LIST_MAX 100000u

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
	sqlite3_stmt *st = vmstore_query(v, "SELECT " MSG_COLS " FROM vm_msg WHERE "
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

	if (!v || !vmstore_number_ok(number) || !vmstore_id_ok(id))
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
	err = vmstore_counts_locked(v, number, &n_new, &n_saved);
	if (!err && max_messages && n_new + n_saved >= max_messages)
		err = ENOSPC;
	if (!err) {
		/* strictly increasing within the process: ids sort as the
		 * deposits started */
		ms = vmstore_now_ms();
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

	if (!v || !m || !vmstore_number_ok(m->number) || !vmstore_id_ok(m->id) ||
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
		vmstore_changed(v, m->number);
	pthread_mutex_unlock(&v->mtx);
	return err;
}

/* src's bytes into a new file dst (0600), whole or not at all. */
static int copy_file(const char *src, const char *dst)
{
	char tmp[640], buf[8192];
	int in, out, err = 0;
	ssize_t n;

	if (vmstore_fmt_path(tmp, sizeof(tmp), "%s.part", dst))
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
	    !vmstore_id_ok(id) || !strcmp(from, to))
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
		vmstore_changed(v, to);
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
	st = vmstore_query(v, "SELECT " MSG_COLS " FROM vm_msg WHERE number = ? AND "
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

	if (!v || !vmstore_number_ok(number) || !vmstore_id_ok(id) ||
	    (folder != VM_NEW && folder != VM_SAVED))
		return EINVAL;
	pthread_mutex_lock(&v->mtx);
	err = vmstore_exec(v, "UPDATE vm_msg SET folder = ? WHERE number = ? "
			   "AND id = ?", "iss", (int64_t)folder, number, id);
	if (!err && sqlite3_changes(v->db) == 0)
		err = ENOENT;
	if (!err)
		vmstore_changed(v, number);
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
		vmstore_changed(v, number);
	}
	pthread_mutex_unlock(&v->mtx);
	return err;
}

int vmstore_msg_read(struct vmstore *v, const char *number, const char *id,
		     size_t max, char **buf, size_t *len)
{
	char path[600];
	int err;

	if (!v || !buf || !len)
		return EINVAL;
	err = vmstore_msg_path(v, number, id, path, sizeof(path));
	if (err)
		return err;
	err = vmstore_msg_get(v, number, id, NULL);
	if (err)
		return err;
	/* the row exists: a file that is not a regular one is damage */
	return vmstore_file_read(path, max, EIO, buf, len);
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
	err = vmstore_fmt_path(dir, sizeof(dir), "%s/%s", v->root, number);
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
		vmstore_changed(v, number);
	}
	pthread_mutex_unlock(&v->mtx);
	return err;
}
