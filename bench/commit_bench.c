/*
 * commit_bench — time of a commit of N bulk-added SIP extensions, of a
 * policy change that re-checks every stored secret, and of a one-extension
 * edit. Wall and CPU time per step. Usage: commit_bench [N] [share_dir]
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "store/store.h"
#include "store/snapshot.h"

struct clk {
	struct timespec w, c;
};

static void clk_now(struct clk *k)
{
	clock_gettime(CLOCK_MONOTONIC, &k->w);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &k->c);
}

static double ms(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 +
		(double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static void report(const char *what, const struct clk *a, const struct clk *b)
{
	printf("%-44s wall %9.1f ms   cpu %9.1f ms\n", what, ms(&a->w, &b->w),
	       ms(&a->c, &b->c));
}

static int rm_cb(const char *p, const struct stat *st, int fl,
		 struct FTW *f)
{
	return remove(p);
}

static int do_commit(struct store *s, const char *what)
{
	struct snapshot *snap = NULL;
	json_t *res = NULL;
	struct clk a, b;
	int err;

	clk_now(&a);
	err = store_commit(s, false, &res, &snap);
	clk_now(&b);
	if (err) {
		char *d = json_dumps(json_object_get(res, "errors"), 0);

		fprintf(stderr, "commit failed: %s\n", d ? d : "?");
		free(d);
	} else {
		report(what, &a, &b);
		printf("%-44s %zu extensions, %zu changes, %zu fixed\n", "",
		       snap->n_ext,
		       json_array_size(json_object_get(res, "changes")),
		       json_array_size(json_object_get(res, "fixed")));
	}
	snapshot_free(snap);
	json_decref(res);
	return err;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 10000;
	const char *share = argc > 2 ? argv[2] : "data";
	char dir[] = "/tmp/commit-bench-XXXXXX";
	struct store *s = NULL;
	struct report r;
	struct clk a, b;
	json_t *created = NULL, *o;
	int err;

	if (n == 0 || n > 10000 || !mkdtemp(dir))
		return 2;
	report_init(&r);
	clk_now(&a);
	err = store_open(&s, dir, share);
	clk_now(&b);
	if (err) {
		fprintf(stderr, "store_open: %s\n", strerror(err));
		goto out;
	}
	report("open (migrate, key, dictionary)", &a, &b);

	clk_now(&a);
	err = store_ext_bulk(s, "sip", 10000, 10000 + n - 1, NULL, &r,
			     &created);
	clk_now(&b);
	json_decref(created);
	if (err) {
		fprintf(stderr, "bulk: %s\n", strerror(err));
		goto out;
	}
	report("bulk-stage N SIP extensions", &a, &b);
	printf("N = %u\n", n);

	err = do_commit(s, "commit N new extensions");
	if (err)
		goto out;

	/* stricter policy with auto-fix: every secret re-checked; the
	 * generated 16-character passwords still pass min_length 12, the
	 * 6-digit PINs are replaced (vm.min_length 8) */
	store_section_set(s, "policy", "sip.min_length", "12", &r);
	store_section_set(s, "policy", "vm.min_length", "8", &r);
	store_section_set(s, "policy", "auto_fix", "true", &r);
	err = do_commit(s, "policy change: re-check + fix all PINs");
	if (err)
		goto out;
	store_section_set(s, "policy", "sip.min_upper", "3", &r);
	err = do_commit(s, "policy change: re-check, nothing to fix");
	if (err)
		goto out;

	o = json_pack("{s:b}", "phone.nat", 1);
	clk_now(&a);
	err = store_ext_edit(s, "10000", o, 0, &r, NULL);
	clk_now(&b);
	json_decref(o);
	if (err)
		goto out;
	report("edit one extension (staging)", &a, &b);
	err = do_commit(s, "commit one edited extension");
 out:
	report_reset(&r);
	store_close(s);
	nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	return err ? 1 : 0;
}
