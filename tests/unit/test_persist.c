/* Unit tests of the registrar's bindings writer (registrar/persist.c):
 * how often registrations wake it, at a paced rate, and that what it
 * batches reaches the database. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "registrar/registrar.h"

#define N_REG    12000u   /* one second at RATE */
#define RATE     12000u    /* registrations per second */

static void db_path(char *db, size_t sz)
{
	char path[] = "/tmp/test_persist_XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	snprintf(db, sz, "%s.db", path);
}

static void db_unlink(const char *db)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char p[96];

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", db, sfx[i]);
		unlink(p);
	}
}

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* N_REG new registrations (one binding each) at RATE per second, as
 * the loop would apply them, then a flush; the writer's wake-ups and
 * batches. */
static void run(struct reg_persist *p, struct reg_loc *l, uint64_t *wake,
		uint64_t *batches)
{
	struct timespec t0;
	int64_t now = (int64_t)time(NULL);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < N_REG; i++) {
		char num[16], uri[64], cid[32];
		struct reg_contact c;
		struct reg_req r;
		double due = (double)i / RATE, el = since(&t0);

		if (due > el)
			usleep((useconds_t)((due - el) * 1e6));
		snprintf(num, sizeof(num), "%u", 10000 + i);
		snprintf(uri, sizeof(uri), "sip:%s@192.0.2.%u:5060", num,
			 1 + i % 250);
		snprintf(cid, sizeof(cid), "call-%u@x", i);
		memset(&c, 0, sizeof(c));
		c.uri.p = uri;
		c.uri.l = strlen(uri);
		c.expires = 3600;
		memset(&r, 0, sizeof(r));
		r.number = num;
		r.call_id.p = cid;
		r.call_id.l = strlen(cid);
		r.cseq = 1;
		r.c = &c;
		r.n = 1;
		r.max_contacts = 4;
		sa_set_str(&r.src, "192.0.2.9", 5060);
		assert_int_equal(reg_apply(l, &r, now, reg_persist_change, p),
				 0);
	}
	assert_int_equal(reg_persist_flush(p, 10000), 0);
	reg_persist_wake_stats(p, wake, batches);
}

static void test_writer_wakeups(void **st)
{
	struct reg_persist *p = NULL;
	struct reg_loc *l = NULL, *l2 = NULL;
	uint64_t wake = 0, batches = 0, q, w, d;
	char db[64];
	size_t n = 0;

	(void)st;
	db_path(db, sizeof(db));
	assert_int_equal(reg_persist_open(&p, db, 100000), 0);
	assert_int_equal(reg_loc_alloc(&l, N_REG), 0);
	run(p, l, &wake, &batches);
	reg_persist_stats(p, &q, &w, &d);
	printf("# writer: %.1f wake-ups, %.1f batches per 1,000 registrations"
	       " (%u at %u/s)\n", (double)wake * 1000 / N_REG,
	       (double)batches * 1000 / N_REG, N_REG, RATE);
	/* batched: about two per PERSIST_BATCH changes (one per change
	 * before); generous for a loaded machine */
	assert_true(wake * 1000 / N_REG <= 20);
	assert_int_equal(q, N_REG);
	assert_int_equal(w, N_REG);
	assert_int_equal(d, 0);
	reg_persist_close(p);
	p = NULL;
	/* all of them in the database */
	assert_int_equal(reg_persist_open(&p, db, 100), 0);
	assert_int_equal(reg_loc_alloc(&l2, N_REG), 0);
	assert_int_equal(reg_persist_load(p, l2, time(NULL), NULL, NULL, &n),
			 0);
	assert_int_equal(n, N_REG);
	reg_persist_close(p);
	mem_deref(l);
	mem_deref(l2);
	db_unlink(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_writer_wakeups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
