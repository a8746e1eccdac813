/*
 * commit_bench — the store's commit at scale (issue 2). Steps, each timed
 * (wall and CPU of this process) with the machine's load average at the
 * time:
 *   1. bulk-stage N SIP extensions (generated password and PIN each)
 *   2. commit the N new extensions
 *   3. edit ONE extension (phone.nat) and commit, N present
 *   4. a policy change (sip.min_length 12): every stored secret re-checked
 *   5. a policy change with auto-fix that replaces every PIN
 * Usage: commit_bench [N] [share_dir]   (N ≤ 10000, default 10000)
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

static char stats[128];   /* what the last commit did */

static void loadavg(char *buf, size_t sz)
{
	FILE *f = fopen("/proc/loadavg", "re");
	double l1 = 0;

	snprintf(buf, sz, "?");
	if (f && fscanf(f, "%lf", &l1) == 1)
		snprintf(buf, sz, "%.2f", l1);
	if (f)
		fclose(f);
}

static void report(const char *what, const struct clk *a, const struct clk *b)
{
	char la[16];

	loadavg(la, sizeof(la));
	printf("%-40s wall %8.1f ms  cpu %8.1f ms  load %s\n", what,
	       ms(&a->w, &b->w), ms(&a->c, &b->c), la);
	if (stats[0])
		printf("%s\n", stats);
	stats[0] = '\0';
}

static int rm_cb(const char *p, const struct stat *st, int fl,
		 struct FTW *f)
{
	return remove(p);
}

/* Commit, then stop the clock *b; what it did goes to stats. */
static int commit(struct store *s, const char *what, struct clk *b)
{
	struct snapshot *snap = NULL;
	json_t *res = NULL;
	int err;

	err = store_commit(s, false, &res, &snap);
	clk_now(b);
	if (err) {
		char *d = json_dumps(json_object_get(res, "errors"), 0);

		fprintf(stderr, "%s: commit failed: %s\n", what, d ? d : "?");
		free(d);
	} else {
		snprintf(stats, sizeof(stats), "%-40s %zu extensions, %zu "
			 "changes, %zu fixed", what, snap->n_ext,
		       json_array_size(json_object_get(res, "changes")),
		       json_array_size(json_object_get(res, "fixed")));
	}
	snapshot_free(snap);
	json_decref(res);
	return err;
}

static int set(struct store *s, const char *key, const char *value)
{
	struct report r;
	int err;

	report_init(&r);
	err = store_section_set(s, "policy", key, value, &r);
	report_reset(&r);
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
	err = store_open(&s, dir, share);
	if (err) {
		fprintf(stderr, "store_open: %s\n", strerror(err));
		goto out;
	}
	printf("N = %u\n", n);

	clk_now(&a);
	err = store_ext_bulk(s, "sip", 10000, 10000 + n - 1, NULL, &r,
			     &created);
	clk_now(&b);
	json_decref(created);
	if (err) {
		fprintf(stderr, "bulk: %s\n", strerror(err));
		goto out;
	}
	report("bulk-stage N extensions", &a, &b);

	clk_now(&a);
	err = commit(s, "", &b);
	if (err)
		goto out;
	report("commit N new extensions", &a, &b);

	o = json_pack("{s:b}", "phone.nat", 1);
	clk_now(&a);
	err = store_ext_edit(s, "10000", o, 0, &r, NULL);
	json_decref(o);
	if (err) {
		fprintf(stderr, "edit: %s\n", strerror(err));
		goto out;
	}
	err = commit(s, "", &b);
	if (err)
		goto out;
	report("edit one extension + commit", &a, &b);

	/* the generated passwords have 16 characters, so nothing is fixed:
	 * a pure re-check of every secret */
	clk_now(&a);
	err = set(s, "sip.min_length", "12");
	if (!err)
		err = commit(s, "", &b);
	if (err)
		goto out;
	report("policy change: re-check every secret", &a, &b);

	/* stricter PINs with auto-fix: every PIN replaced and written */
	clk_now(&a);
	err = set(s, "vm.min_length", "8");
	if (!err)
		err = set(s, "auto_fix", "true");
	if (!err)
		err = commit(s, "", &b);
	if (err)
		goto out;
	report("policy change: re-check + fix every PIN", &a, &b);
 out:
	report_reset(&r);
	store_close(s);
	nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	return err ? 1 : 0;
}
