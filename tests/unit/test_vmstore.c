/*
 * test_vmstore — the mailbox store: ids, limits, messages, counts and
 * their callback, PIN failures and locks, persistence, refused input,
 * the owner's recordings.
 * The store opens the database first (its migrations make the tables).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "store/store.h"
#include "store/vmstore.h"

struct fx {
	char dir[64];
	char db[128];
	struct store *s;
	struct vmstore *v;
	/* the change callback's last call */
	unsigned calls, n_new, n_saved;
	char number[VM_NUM_MAX];
};

static int rm_cb(const char *p, const struct stat *sb, int flag,
		 struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(p);
}

static void on_change(const char *number, unsigned n_new, unsigned n_saved,
		      void *arg)
{
	struct fx *f = arg;

	f->calls++;
	f->n_new = n_new;
	f->n_saved = n_saved;
	snprintf(f->number, sizeof(f->number), "%s", number);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/vmstore-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(store_open(&f->s, f->dir, "data"), 0);
	snprintf(f->db, sizeof(f->db), "%s", store_db_path(f->s));
	assert_int_equal(vmstore_open(&f->v, f->dir, f->db), 0);
	vmstore_on_change(f->v, on_change, f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	vmstore_close(f->v);
	store_close(f->s);
	nftw(f->dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void write_file(const char *path, size_t bytes)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	char buf[256];

	assert_true(fd >= 0);
	memset(buf, 0x55, sizeof(buf));
	while (bytes) {
		size_t n = bytes < sizeof(buf) ? bytes : sizeof(buf);

		assert_int_equal(write(fd, buf, n), (ssize_t)n);
		bytes -= n;
	}
	close(fd);
}

/* A new message of `bytes` in number's mailbox; its id into id. */
static void deposit(struct fx *f, const char *number, size_t bytes,
		    char id[VM_ID_MAX])
{
	struct vm_msg m;
	char path[600];

	assert_int_equal(vmstore_msg_new(f->v, number, 0, id, path,
					 sizeof(path)), 0);
	write_file(path, bytes);
	memset(&m, 0, sizeof(m));
	snprintf(m.id, sizeof(m.id), "%s", id);
	snprintf(m.number, sizeof(m.number), "%s", number);
	snprintf(m.caller, sizeof(m.caller), "202");
	snprintf(m.caller_name, sizeof(m.caller_name), "Grace Hopper");
	m.time_ms = 1700000000000LL;
	m.duration_ms = 4200;
	assert_int_equal(vmstore_msg_add(f->v, &m), 0);
}

static void test_ids_ordered(void **state)
{
	struct fx *f = *state;
	char prev[VM_ID_MAX] = "", id[VM_ID_MAX], path[600];
	struct stat st;
	int i;

	for (i = 0; i < 50; i++) {
		assert_int_equal(vmstore_msg_new(f->v, "201", 0, id, path,
						 sizeof(path)), 0);
		assert_true(strcmp(prev, id) < 0);
		assert_int_equal(strlen(id), 21);
		assert_non_null(strstr(path, "/voicemail/201/m-"));
		assert_non_null(strstr(path, id));
		snprintf(prev, sizeof(prev), "%s", id);
	}
	/* the mailbox directory is there, 0700 */
	snprintf(path, sizeof(path), "%s/voicemail/201", f->dir);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/voicemail", f->dir);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
}

static void test_limit(void **state)
{
	struct fx *f = *state;
	char id[VM_ID_MAX], path[600];

	deposit(f, "201", 100, id);
	deposit(f, "201", 100, id);
	assert_int_equal(vmstore_msg_new(f->v, "201", 3, id, path,
					 sizeof(path)), 0);
	assert_int_equal(vmstore_msg_new(f->v, "201", 2, id, path,
					 sizeof(path)), ENOSPC);
	/* saved messages count too */
	assert_int_equal(vmstore_msg_move(f->v, "201", id, VM_SAVED),
			 ENOENT);   /* id was never added */
	assert_int_equal(vmstore_msg_new(f->v, "201", 0, id, path,
					 sizeof(path)), 0);
}

static void test_messages(void **state)
{
	struct fx *f = *state;
	char a[VM_ID_MAX], b[VM_ID_MAX], path[600], *buf = NULL;
	struct vm_msg *l = NULL, m;
	unsigned nn, ns;
	size_t n, len;
	struct stat st;

	deposit(f, "201", 1000, a);
	assert_int_equal(f->calls, 1);
	assert_string_equal(f->number, "201");
	assert_int_equal(f->n_new, 1);
	assert_int_equal(f->n_saved, 0);
	deposit(f, "201", 2000, b);
	assert_int_equal(f->calls, 2);
	assert_int_equal(f->n_new, 2);

	/* the file is 0600; the row has what the file holds */
	assert_int_equal(vmstore_msg_path(f->v, "201", a, path,
					  sizeof(path)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(vmstore_msg_get(f->v, "201", a, &m), 0);
	assert_int_equal(m.bytes, 1000);
	assert_int_equal(m.folder, VM_NEW);
	assert_int_equal(m.duration_ms, 4200);
	assert_string_equal(m.caller_name, "Grace Hopper");
	assert_string_equal(m.copy_of, "");

	/* the same message twice */
	assert_int_equal(vmstore_msg_add(f->v, &m), EEXIST);

	assert_int_equal(vmstore_msg_list(f->v, "201", VM_ANY, &l, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(l[0].id, a);   /* oldest first */
	assert_string_equal(l[1].id, b);
	free(l);

	assert_int_equal(vmstore_msg_move(f->v, "201", a, VM_SAVED), 0);
	assert_int_equal(f->calls, 3);
	assert_int_equal(f->n_new, 1);
	assert_int_equal(f->n_saved, 1);
	assert_int_equal(vmstore_msg_list(f->v, "201", VM_SAVED, &l, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(l[0].id, a);
	free(l);
	assert_int_equal(vmstore_msg_list(f->v, "201", VM_NEW, &l, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(l[0].id, b);
	free(l);

	/* read */
	assert_int_equal(vmstore_msg_read(f->v, "201", b, 1 << 20, &buf,
					  &len), 0);
	assert_int_equal(len, 2000);
	free(buf);
	assert_int_equal(vmstore_msg_read(f->v, "201", b, 100, &buf, &len),
			 EFBIG);

	/* copy to a group member */
	assert_int_equal(vmstore_msg_copy(f->v, "201", b, "301"), 0);
	assert_int_equal(f->calls, 4);
	assert_string_equal(f->number, "301");
	assert_int_equal(f->n_new, 1);
	assert_int_equal(vmstore_msg_get(f->v, "301", b, &m), 0);
	assert_string_equal(m.copy_of, "201");
	assert_int_equal(m.bytes, 2000);
	assert_int_equal(vmstore_msg_copy(f->v, "201", b, "301"), EEXIST);
	assert_int_equal(vmstore_msg_copy(f->v, "201", "0-0", "301"),
			 ENOENT);

	/* delete: row and file; the copy stays */
	assert_int_equal(vmstore_msg_delete(f->v, "201", b), 0);
	assert_int_equal(f->calls, 5);
	assert_string_equal(f->number, "201");
	assert_int_equal(f->n_new, 0);
	assert_int_equal(f->n_saved, 1);
	assert_int_equal(vmstore_msg_path(f->v, "201", b, path,
					  sizeof(path)), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(vmstore_msg_delete(f->v, "201", b), ENOENT);
	assert_int_equal(vmstore_msg_read(f->v, "201", b, 1 << 20, &buf,
					  &len), ENOENT);
	assert_int_equal(vmstore_msg_read(f->v, "301", b, 1 << 20, &buf,
					  &len), 0);
	assert_int_equal(len, 2000);
	free(buf);

	assert_int_equal(vmstore_counts(f->v, "201", &nn, &ns), 0);
	assert_int_equal(nn, 0);
	assert_int_equal(ns, 1);
	assert_int_equal(vmstore_counts(f->v, "999", &nn, &ns), 0);
	assert_int_equal(nn + ns, 0);

	/* the mailbox goes: rows, files, directory */
	assert_true(vmstore_greeting_exists(f->v, "201", VM_G_NAME) == false);
	assert_int_equal(vmstore_greeting_path(f->v, "201", VM_G_NAME, path,
					       sizeof(path)), 0);
	write_file(path, 10);
	assert_true(vmstore_greeting_exists(f->v, "201", VM_G_NAME));
	assert_int_equal(vmstore_box_remove(f->v, "201"), 0);
	assert_int_equal(f->n_new + f->n_saved, 0);
	assert_int_equal(vmstore_msg_list(f->v, "201", VM_ANY, &l, &n), 0);
	assert_int_equal(n, 0);
	free(l);
	snprintf(path, sizeof(path), "%s/voicemail/201", f->dir);
	assert_int_equal(access(path, F_OK), -1);
}

struct seen { unsigned n; char num[4][VM_NUM_MAX]; unsigned nn[4]; };

static void on_all(const char *number, unsigned n_new, unsigned n_saved,
		   void *arg)
{
	struct seen *s = arg;

	(void)n_saved;
	if (s->n < 4) {
		snprintf(s->num[s->n], VM_NUM_MAX, "%s", number);
		s->nn[s->n] = n_new;
	}
	s->n++;
}

static void test_counts_all(void **state)
{
	struct fx *f = *state;
	char id[VM_ID_MAX];
	struct seen s = { 0 };

	deposit(f, "201", 10, id);
	deposit(f, "201", 10, id);
	deposit(f, "202", 10, id);
	assert_int_equal(vmstore_counts_all(f->v, on_all, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.num[0], "201");
	assert_int_equal(s.nn[0], 2);
	assert_string_equal(s.num[1], "202");
	assert_int_equal(s.nn[1], 1);
}

static void test_pin_lock(void **state)
{
	struct fx *f = *state;
	struct vm_failres r;
	struct vm_boxstate b;
	int64_t now = 1700000000000LL;
	int i;

	assert_int_equal(vmstore_box_get(f->v, "201", &b), 0);
	assert_int_equal(b.fails + b.lock_level, 0);
	assert_int_equal(b.locked_until, 0);
	assert_false(b.initialised);

	assert_int_equal(vmstore_pin_fail(f->v, "201", "192.0.2.1", now, &r),
			 0);
	assert_false(r.locked);
	assert_int_equal(r.fails, 1);
	assert_int_equal(vmstore_pin_fail(f->v, "201", "192.0.2.1", now, &r),
			 0);
	assert_false(r.locked);
	assert_int_equal(vmstore_pin_fail(f->v, "201", "192.0.2.1", now, &r),
			 0);
	assert_true(r.locked);
	assert_int_equal(r.fails, 3);
	assert_int_equal(r.locked_until, now + 60000);
	assert_int_equal(r.src_boxes, 1);
	assert_int_equal(vmstore_box_get(f->v, "201", &b), 0);
	assert_int_equal(b.locked_until, now + 60000);
	assert_int_equal(b.lock_level, 1);

	/* three more: twice as long */
	now += 61000;
	for (i = 0; i < 3; i++)
		assert_int_equal(vmstore_pin_fail(f->v, "201", "192.0.2.1",
						  now, &r), 0);
	assert_true(r.locked);
	assert_int_equal(r.locked_until, now + 120000);

	/* on and on: never beyond 24 h */
	for (i = 0; i < 60; i++)
		assert_int_equal(vmstore_pin_fail(f->v, "201", "192.0.2.1",
						  now, &r), 0);
	assert_true(r.locked);
	assert_int_equal(r.locked_until, now + 24LL * 3600 * 1000);

	/* a right PIN resets the escalation */
	assert_int_equal(vmstore_pin_ok(f->v, "201"), 0);
	assert_int_equal(vmstore_box_get(f->v, "201", &b), 0);
	assert_int_equal(b.fails + b.lock_level, 0);
	assert_int_equal(b.locked_until, 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(vmstore_pin_fail(f->v, "201", "192.0.2.1",
						  now, &r), 0);
	assert_int_equal(r.locked_until, now + 60000);

	/* the admin's unlock */
	assert_int_equal(vmstore_pin_fail(f->v, "201", "192.0.2.1", now, &r),
			 0);
	assert_int_equal(vmstore_unlock(f->v, "201"), 0);
	assert_int_equal(vmstore_box_get(f->v, "201", &b), 0);
	assert_int_equal(b.fails + b.lock_level, 0);
	assert_int_equal(b.locked_until, 0);
}

static void test_src_boxes(void **state)
{
	struct fx *f = *state;
	struct vm_failres r;
	int64_t now = 1700000000000LL;

	assert_int_equal(vmstore_pin_fail(f->v, "201", "2001:db8::7", now, &r),
			 0);
	assert_int_equal(vmstore_pin_fail(f->v, "201", "2001:db8::7", now, &r),
			 0);
	assert_int_equal(r.src_boxes, 1);
	assert_int_equal(vmstore_pin_fail(f->v, "202", "2001:db8::7",
					  now + 1000, &r), 0);
	assert_int_equal(r.src_boxes, 2);
	/* another source does not add to this one */
	assert_int_equal(vmstore_pin_fail(f->v, "203", "192.0.2.9",
					  now + 1000, &r), 0);
	assert_int_equal(r.src_boxes, 1);
	assert_int_equal(vmstore_pin_fail(f->v, "203", "2001:db8::7",
					  now + 2000, &r), 0);
	assert_int_equal(r.src_boxes, VM_SRC_BOXES);
	/* past the window only the new one counts; old rows are pruned */
	assert_int_equal(vmstore_pin_fail(f->v, "204", "2001:db8::7",
		now + 2000 + VM_SRC_WINDOW_MS + 1, &r), 0);
	assert_int_equal(r.src_boxes, 1);
}

static void test_persisted(void **state)
{
	struct fx *f = *state;
	struct vm_failres r;
	struct vm_boxstate b;
	struct vm_msg *l = NULL;
	char id[VM_ID_MAX];
	int64_t now = 1700000000000LL;
	size_t n;
	int i;

	deposit(f, "201", 10, id);
	assert_int_equal(vmstore_box_set_initialised(f->v, "201", true), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(vmstore_pin_fail(f->v, "201", "192.0.2.1",
						  now, &r), 0);
	vmstore_close(f->v);
	f->v = NULL;
	assert_int_equal(vmstore_open(&f->v, f->dir, f->db), 0);
	assert_int_equal(vmstore_box_get(f->v, "201", &b), 0);
	assert_true(b.initialised);
	assert_int_equal(b.lock_level, 1);
	assert_int_equal(b.locked_until, now + 60000);
	assert_int_equal(vmstore_msg_list(f->v, "201", VM_ANY, &l, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(l[0].id, id);
	free(l);
	assert_int_equal(vmstore_pin_fail(f->v, "202", "192.0.2.1", now, &r),
			 0);
	assert_int_equal(r.src_boxes, 2);
}

static void test_bad_input(void **state)
{
	struct fx *f = *state;
	static const char *const bad_num[] = {
		"", "../201", "201/..", "20a", "..", "/etc",
		"123456789012345678901234", "2 1",
	};
	static const char *const bad_id[] = {
		"", "..", "../../bulwark.db", "a/b", "ABC", "m.wav",
		"0123456789012345678901234567890123456789", "a b", "%2e%2e",
	};
	char id[VM_ID_MAX], path[600], *buf = NULL;
	struct vm_failres r;
	struct vm_boxstate b;
	struct vm_msg m, *l;
	unsigned nn, ns;
	size_t i, n, len;

	for (i = 0; i < sizeof(bad_num) / sizeof(bad_num[0]); i++) {
		const char *x = bad_num[i];

		assert_int_equal(vmstore_box_dir(f->v, x, path, sizeof(path)),
				 EINVAL);
		assert_int_equal(vmstore_msg_new(f->v, x, 0, id, path,
						 sizeof(path)), EINVAL);
		assert_int_equal(vmstore_msg_list(f->v, x, VM_ANY, &l, &n),
				 EINVAL);
		assert_int_equal(vmstore_counts(f->v, x, &nn, &ns), EINVAL);
		assert_int_equal(vmstore_box_get(f->v, x, &b), EINVAL);
		assert_int_equal(vmstore_pin_fail(f->v, x, "192.0.2.1", 1, &r),
				 EINVAL);
		assert_int_equal(vmstore_unlock(f->v, x), EINVAL);
		assert_int_equal(vmstore_box_remove(f->v, x), EINVAL);
		assert_int_equal(vmstore_greeting_path(f->v, x, VM_G_BUSY,
						       path, sizeof(path)),
				 EINVAL);
		assert_int_equal(vmstore_msg_copy(f->v, "201", "0-0", x),
				 EINVAL);
	}
	for (i = 0; i < sizeof(bad_id) / sizeof(bad_id[0]); i++) {
		const char *x = bad_id[i];

		assert_int_equal(vmstore_msg_path(f->v, "201", x, path,
						  sizeof(path)), EINVAL);
		assert_int_equal(vmstore_msg_get(f->v, "201", x, &m), EINVAL);
		assert_int_equal(vmstore_msg_delete(f->v, "201", x), EINVAL);
		assert_int_equal(vmstore_msg_move(f->v, "201", x, VM_SAVED),
				 EINVAL);
		assert_int_equal(vmstore_msg_read(f->v, "201", x, 1 << 20,
						  &buf, &len), EINVAL);
		memset(&m, 0, sizeof(m));
		snprintf(m.number, sizeof(m.number), "201");
		snprintf(m.id, sizeof(m.id), "%.39s", x);
		if (strlen(x) < VM_ID_MAX - 1)
			assert_int_equal(vmstore_msg_add(f->v, &m), EINVAL);
	}
	assert_int_equal(vmstore_pin_fail(f->v, "201", "", 1, &r), EINVAL);
	assert_int_equal(vmstore_pin_fail(f->v, "201", "a\nb", 1, &r), EINVAL);
	assert_int_equal(vmstore_msg_list(f->v, "201", 7, &l, &n), EINVAL);
	assert_int_equal(vmstore_greeting_path(f->v, "201", VM_G__COUNT, path,
					       sizeof(path)), EINVAL);
	/* a message whose file is missing is not recorded */
	memset(&m, 0, sizeof(m));
	snprintf(m.number, sizeof(m.number), "201");
	snprintf(m.id, sizeof(m.id), "0-0");
	assert_int_equal(vmstore_msg_add(f->v, &m), ENOENT);
	assert_int_equal(f->calls, 0);
	/* a buffer too small for the path */
	assert_int_equal(vmstore_msg_path(f->v, "201", "0-0", path, 10),
			 ENAMETOOLONG);
}

/* A symlink planted where a message or a mailbox would be is not
 * followed. */
static void test_no_traversal(void **state)
{
	struct fx *f = *state;
	char id[VM_ID_MAX], path[600], target[600], *buf = NULL;
	struct vm_msg m;
	size_t len;

	snprintf(target, sizeof(target), "%s/bulwark.db", f->dir);
	/* a message id whose file is a symlink to the database */
	assert_int_equal(vmstore_msg_new(f->v, "201", 0, id, path,
					 sizeof(path)), 0);
	assert_int_equal(symlink(target, path), 0);
	memset(&m, 0, sizeof(m));
	snprintf(m.number, sizeof(m.number), "201");
	snprintf(m.id, sizeof(m.id), "%s", id);
	assert_int_equal(vmstore_msg_add(f->v, &m), EIO);
	assert_int_equal(vmstore_msg_read(f->v, "201", id, 1 << 30, &buf,
					  &len), ENOENT);
	/* a mailbox directory that is a symlink elsewhere */
	snprintf(path, sizeof(path), "%s/voicemail/202", f->dir);
	assert_int_equal(symlink(f->dir, path), 0);
	assert_int_equal(vmstore_msg_new(f->v, "202", 0, id, path,
					 sizeof(path)), ENOTDIR);
	/* every path stays under DATA/voicemail/NUMBER */
	assert_int_equal(vmstore_msg_path(f->v, "203", "abc-1", path,
					  sizeof(path)), 0);
	snprintf(target, sizeof(target), "%s/voicemail/203/m-abc-1.wav",
		 f->dir);
	assert_string_equal(path, target);
}

/* The owner's recordings: names, written whole (0600, no temporary file
 * left), read, stat, deleted; a symlink planted as one is not one. */
static void test_greetings(void **state)
{
	struct fx *f = *state;
	char path[600], target[600], *buf = NULL, dirpath[600];
	const char hdr[] = "HEAD", data[] = "samples";
	enum vm_greeting g;
	uint64_t bytes = 0;
	int64_t mtime = 0;
	struct stat st;
	size_t len = 0;
	int n = 0;
	DIR *dp;

	assert_int_equal(vmstore_greeting_parse("busy", &g), 0);
	assert_int_equal(g, VM_G_BUSY);
	assert_string_equal(vmstore_greeting_name(VM_G_TEMP), "temp");
	assert_int_equal(vmstore_greeting_parse("busy.wav", &g), EINVAL);
	assert_int_equal(vmstore_greeting_parse("../x", &g), EINVAL);
	assert_int_equal(vmstore_greeting_parse(NULL, &g), EINVAL);
	assert_null(vmstore_greeting_name(VM_G__COUNT));

	assert_int_equal(vmstore_greeting_stat(f->v, "201", VM_G_BUSY, &bytes,
					       &mtime), ENOENT);
	assert_int_equal(vmstore_greeting_delete(f->v, "201", VM_G_BUSY),
			 ENOENT);
	assert_int_equal(vmstore_greeting_write(f->v, "201", VM_G_BUSY, hdr,
						4, data, 7), 0);
	assert_true(vmstore_greeting_exists(f->v, "201", VM_G_BUSY));
	assert_int_equal(vmstore_greeting_stat(f->v, "201", VM_G_BUSY, &bytes,
					       &mtime), 0);
	assert_int_equal(bytes, 11);
	assert_true(mtime > 0);
	assert_int_equal(vmstore_greeting_path(f->v, "201", VM_G_BUSY, path,
					       sizeof(path)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(vmstore_greeting_read(f->v, "201", VM_G_BUSY, 100,
					       &buf, &len), 0);
	assert_int_equal(len, 11);
	assert_memory_equal(buf, "HEADsamples", 11);
	free(buf);
	buf = NULL;
	assert_int_equal(vmstore_greeting_read(f->v, "201", VM_G_BUSY, 10,
					       &buf, &len), EFBIG);
	/* replaced whole; only busy.wav in the directory */
	assert_int_equal(vmstore_greeting_write(f->v, "201", VM_G_BUSY, hdr,
						4, data, 3), 0);
	assert_int_equal(vmstore_greeting_stat(f->v, "201", VM_G_BUSY, &bytes,
					       &mtime), 0);
	assert_int_equal(bytes, 7);
	snprintf(dirpath, sizeof(dirpath), "%s/voicemail/201", f->dir);
	dp = opendir(dirpath);
	assert_non_null(dp);
	for (struct dirent *e; (e = readdir(dp));)
		if (e->d_name[0] != '.') {
			assert_string_equal(e->d_name, "busy.wav");
			n++;
		}
	closedir(dp);
	assert_int_equal(n, 1);
	assert_int_equal(vmstore_greeting_delete(f->v, "201", VM_G_BUSY), 0);
	assert_false(vmstore_greeting_exists(f->v, "201", VM_G_BUSY));
	/* a symlink to the database planted as the name */
	snprintf(target, sizeof(target), "%s/bulwark.db", f->dir);
	assert_int_equal(vmstore_greeting_path(f->v, "201", VM_G_NAME, path,
					       sizeof(path)), 0);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(vmstore_greeting_read(f->v, "201", VM_G_NAME,
					       1 << 30, &buf, &len), ENOENT);
	assert_int_equal(vmstore_greeting_stat(f->v, "201", VM_G_NAME, &bytes,
					       &mtime), ENOENT);
	assert_int_equal(vmstore_greeting_delete(f->v, "201", VM_G_NAME),
			 ENOENT);
	assert_int_equal(lstat(target, &st), 0);
	/* bad numbers */
	assert_int_equal(vmstore_greeting_write(f->v, "../1", VM_G_BUSY, hdr,
						4, data, 3), EINVAL);
	assert_int_equal(vmstore_greeting_read(f->v, "", VM_G_BUSY, 10, &buf,
					       &len), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ids_ordered, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_messages, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_counts_all, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pin_lock, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_src_boxes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_persisted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_no_traversal, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_greetings, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
