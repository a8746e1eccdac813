/* Unit tests: common/atomicfile — content, mode whatever the umask, a
 * stale or planted PATH.tmp, failures that leave the old file alone. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/atomicfile.h"

static char dir[] = "/tmp/bulwark-atomicfile-XXXXXX";
static char path[256], tmp[256];

static void content_is(const char *p, const char *want)
{
	char buf[256];
	int fd = open(p, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(n, (ssize_t)strlen(want));
	assert_memory_equal(buf, want, (size_t)n);
}

static mode_t mode_of(const char *p)
{
	struct stat st;

	assert_int_equal(lstat(p, &st), 0);
	return st.st_mode & 07777;
}

static int setup(void **st)
{
	(void)st;
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/f", dir);
	snprintf(tmp, sizeof(tmp), "%s/f.tmp", dir);
	return 0;
}

static int teardown(void **st)
{
	char p[300];

	(void)st;
	unlink(path);
	unlink(tmp);
	snprintf(p, sizeof(p), "%s/target", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/sub", dir);
	rmdir(p);
	rmdir(dir);
	return 0;
}

static void test_write_replace(void **st)
{
	mode_t old = umask(0);

	(void)st;
	assert_int_equal(atomicfile_write(path, "one\n", 4, 0644), 0);
	content_is(path, "one\n");
	assert_int_equal(mode_of(path), 0644);
	/* the mode is the one asked for, whatever the umask */
	umask(077);
	assert_int_equal(atomicfile_write(path, "two", 3, 0644), 0);
	content_is(path, "two");
	assert_int_equal(mode_of(path), 0644);
	umask(0);
	assert_int_equal(atomicfile_write(path, "three", 5, 0600), 0);
	content_is(path, "three");
	assert_int_equal(mode_of(path), 0600);
	assert_int_equal(access(tmp, F_OK), -1);
	/* an empty file is a file */
	assert_int_equal(atomicfile_write(path, NULL, 0, 0600), 0);
	content_is(path, "");
	umask(old);
}

/* A PATH.tmp left by a crash, or a link planted there, is replaced,
 * never written through. */
static void test_stale_tmp(void **st)
{
	char target[300];
	int fd;

	(void)st;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "stale-and-longer", 16), 16);
	close(fd);
	assert_int_equal(atomicfile_write(path, "new", 3, 0600), 0);
	content_is(path, "new");
	assert_int_equal(access(tmp, F_OK), -1);

	snprintf(target, sizeof(target), "%s/target", dir);
	fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	assert_int_equal(symlink(target, tmp), 0);
	assert_int_equal(atomicfile_write(path, "mine", 4, 0600), 0);
	content_is(path, "mine");
	content_is(target, "keep");
	assert_false(S_ISLNK(mode_of(path)));
}

/* Failures leave the old file as it was and no PATH.tmp. */
static void test_failures(void **st)
{
	char p[PATH_MAX + 16], sub[300];

	(void)st;
	assert_int_equal(atomicfile_write(path, "old", 3, 0600), 0);
	/* rename onto a directory fails after the write */
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_not_equal(atomicfile_write(sub, "x", 1, 0600), 0);
	snprintf(p, sizeof(p), "%s/sub.tmp", dir);
	assert_int_equal(access(p, F_OK), -1);
	/* no such directory */
	snprintf(p, sizeof(p), "%s/none/f", dir);
	assert_int_equal(atomicfile_write(p, "x", 1, 0600), ENOENT);
	/* PATH.tmp too long */
	memset(p, 'a', PATH_MAX - 2);
	p[PATH_MAX - 2] = '\0';
	assert_int_equal(atomicfile_write(p, "x", 1, 0600), ENAMETOOLONG);
	assert_int_equal(atomicfile_write(NULL, "x", 1, 0600), EINVAL);
	assert_int_equal(atomicfile_write(path, NULL, 1, 0600), EINVAL);
	content_is(path, "old");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_replace),
		cmocka_unit_test(test_stale_tmp),
		cmocka_unit_test(test_failures),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
