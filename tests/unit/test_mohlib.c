/*
 * test_mohlib — the music on hold library: a class directory's files
 * (only .wav, sorted, bounded), the loop over them (file i modulo the
 * count: the call plays i = 0, 1, 2, ...), class names, and
 * the fallback of a class without files to "default".
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "call/mohlib.h"

static char root[256];

static void touch(const char *dir, const char *name)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("x", f);
	fclose(f);
}

static void mkd(char *out, size_t sz, const char *rel)
{
	snprintf(out, sz, "%s/%s", root, rel);
	assert_true(mkdir(out, 0700) == 0 || errno == EEXIST);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/test_mohlib.XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) ? -1 : 0;
}

static void test_scan_dir_sorted_wav_only(void **state)
{
	struct mohlib_class c;
	char d[300], sub[320];
	bool more;

	(void)state;
	mkd(d, sizeof(d), "a");
	touch(d, "b.wav");
	touch(d, "a.WAV");
	touch(d, "c.wav");
	touch(d, ".hidden.wav");
	touch(d, "notes.txt");
	touch(d, "wav");
	snprintf(sub, sizeof(sub), "%s/dir.wav", d);
	assert_int_equal(mkdir(sub, 0700), 0);      /* not a file */
	assert_int_equal(mohlib_scan_dir(d, &c, &more), 0);
	assert_false(more);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.files[0], "a.WAV");
	assert_string_equal(c.files[1], "b.wav");
	assert_string_equal(c.files[2], "c.wav");
	assert_string_equal(c.dir, d);
	snprintf(sub, sizeof(sub), "%s/none", root);
	assert_int_equal(mohlib_scan_dir(sub, &c, &more), ENOENT);
	assert_int_equal(c.n, 0);
}

static void test_scan_dir_bounded_keeps_first_names(void **state)
{
	struct mohlib_class c;
	char d[300], name[32];
	bool more;

	(void)state;
	mkd(d, sizeof(d), "many");
	/* created in reverse: the directory order is not the name order */
	for (int i = MOHLIB_MAX_FILES + 9; i >= 0; i--) {
		snprintf(name, sizeof(name), "f%03d.wav", i);
		touch(d, name);
	}
	assert_int_equal(mohlib_scan_dir(d, &c, &more), 0);
	assert_true(more);
	assert_int_equal(c.n, MOHLIB_MAX_FILES);
	assert_string_equal(c.files[0], "f000.wav");
	snprintf(name, sizeof(name), "f%03d.wav", MOHLIB_MAX_FILES - 1);
	assert_string_equal(c.files[MOHLIB_MAX_FILES - 1], name);
}

static void test_class_names(void **state)
{
	(void)state;
	assert_true(mohlib_class_ok("default"));
	assert_true(mohlib_class_ok("Sales_2-b"));
	assert_false(mohlib_class_ok(""));
	assert_false(mohlib_class_ok(".."));
	assert_false(mohlib_class_ok("a/b"));
	assert_false(mohlib_class_ok("a b"));
	assert_false(mohlib_class_ok("123456789012345678901234567890123"));
}

static void test_library_classes_and_fallback(void **state)
{
	struct mohlib *l;
	char data[300], def[300], d[320], path[600];
	bool fell;

	(void)state;
	mkd(def, sizeof(def), "debian");
	touch(def, "z.wav");
	touch(def, "y.wav");
	mkd(data, sizeof(data), "moh");
	snprintf(d, sizeof(d), "%s/jazz", data);
	assert_int_equal(mkdir(d, 0700), 0);
	touch(d, "2.wav");
	touch(d, "1.wav");
	snprintf(d, sizeof(d), "%s/empty", data);
	assert_int_equal(mkdir(d, 0700), 0);
	snprintf(d, sizeof(d), "%s/bad name", data);
	assert_int_equal(mkdir(d, 0700), 0);
	touch(d, "x.wav");
	assert_int_equal(mohlib_alloc(&l, data, def, 1), 0);
	/* a class: its files in order, looping */
	assert_int_equal(mohlib_path(l, "jazz", 0, path, sizeof(path), &fell),
			 0);
	assert_false(fell);
	snprintf(d, sizeof(d), "%s/jazz/1.wav", data);
	assert_string_equal(path, d);
	assert_int_equal(mohlib_path(l, "jazz", 3, path, sizeof(path), &fell),
			 0);
	snprintf(d, sizeof(d), "%s/jazz/2.wav", data);
	assert_string_equal(path, d);
	/* default, by name or "" */
	assert_int_equal(mohlib_path(l, "", 0, path, sizeof(path), &fell), 0);
	assert_false(fell);
	snprintf(d, sizeof(d), "%s/y.wav", def);
	assert_string_equal(path, d);
	/* no files, no directory, a name no directory may have: default */
	assert_int_equal(mohlib_path(l, "empty", 1, path, sizeof(path), &fell),
			 0);
	assert_true(fell);
	snprintf(d, sizeof(d), "%s/z.wav", def);
	assert_string_equal(path, d);
	assert_int_equal(mohlib_path(l, "nosuch", 0, path, sizeof(path),
				     &fell), 0);
	assert_true(fell);
	assert_int_equal(mohlib_path(l, "bad name", 0, path, sizeof(path),
				     &fell), 0);
	assert_true(fell);
	assert_int_equal(mohlib_path(l, "jazz", 0, path, 8, &fell),
			 ENAMETOOLONG);
	/* a class added later appears at the next scan (1 s here) */
	snprintf(d, sizeof(d), "%s/late", data);
	assert_int_equal(mkdir(d, 0700), 0);
	touch(d, "a.wav");
	for (int i = 0; i < 40; i++) {
		assert_int_equal(mohlib_path(l, "late", 0, path, sizeof(path),
					     &fell), 0);
		if (!fell)
			break;
		usleep(100000);
	}
	assert_false(fell);
	mohlib_free(l);
	/* no default and no class: nothing to play */
	snprintf(d, sizeof(d), "%s/nothing", root);
	assert_int_equal(mohlib_alloc(&l, d, d, 0), 0);
	assert_int_equal(mohlib_path(l, "", 0, path, sizeof(path), &fell),
			 ENOENT);
	mohlib_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_dir_sorted_wav_only),
		cmocka_unit_test(test_scan_dir_bounded_keeps_first_names),
		cmocka_unit_test(test_class_names),
		cmocka_unit_test(test_library_classes_and_fallback),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
