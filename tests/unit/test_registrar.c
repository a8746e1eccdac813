/* Unit tests: digest (RFC 2617 and RFC 7616 vectors), nonces, nc replay,
 * binding rules. */
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
#include "store/health.h"

static size_t puts_n, dels_n;

static void change(enum reg_op op, const struct reg_binding *b, void *arg)
{
	(void)b; (void)arg;
	if (op == REG_OP_PUT)
		puts_n++;
	else
		dels_n++;
}

static struct reg_req mkreq(const char *num, const char *cid, uint32_t cseq,
			    struct reg_contact *c, size_t n, unsigned max)
{
	struct reg_req r;

	memset(&r, 0, sizeof(r));
	r.number = num;
	r.call_id.p = cid;
	r.call_id.l = strlen(cid);
	r.cseq = cseq;
	r.c = c;
	r.n = n;
	r.max_contacts = max;
	sa_set_str(&r.src, "192.0.2.9", 5060);
	return r;
}

static struct reg_contact ct(const char *uri, int64_t exp)
{
	struct reg_contact c;

	memset(&c, 0, sizeof(c));
	c.uri.p = uri;
	c.uri.l = strlen(uri);
	c.expires = exp;
	return c;
}

static void test_bindings(void **st)
{
	struct reg_loc *l = NULL;
	struct reg_contact c[3] = {ct("sip:a@h1", 100), ct("sip:a@h2", 100),
				   ct("sip:a@h3", 100)};
	struct reg_req r;
	struct reg_ext *e;

	(void)st;
	assert_int_equal(reg_loc_alloc(&l, 4), 0);
	r = mkreq("201", "cid1", 1, c, 1, 2);
	assert_int_equal(reg_apply(l, &r, 1000, change, NULL), 0);
	e = reg_ext_find(l, "201", 3);
	assert_non_null(e);
	assert_int_equal(e->n, 1);
	/* same Call-ID, same CSeq → out of order, nothing changes */
	assert_int_equal(reg_apply(l, &r, 1001, change, NULL), EPROTO);
	/* more contacts in one request than allowed */
	r = mkreq("201", "cid1", 2, c, 3, 2);
	assert_int_equal(reg_apply(l, &r, 1002, change, NULL), E2BIG);
	/* two new contacts with max 2: the oldest is evicted */
	r = mkreq("201", "cid2", 1, &c[1], 2, 2);
	assert_int_equal(reg_apply(l, &r, 1003, change, NULL), 0);
	assert_int_equal(e->n, 2);
	assert_null(NULL);
	{
		bool has_h1 = false;

		for (const struct reg_binding *b = e->bindings; b; b = b->next)
			if (!strcmp(reg_binding_uri(b), "sip:a@h1"))
				has_h1 = true;
		assert_false(has_h1);
	}
	/* global bound */
	{
		struct reg_contact d[3] = {ct("sip:b@1", 50), ct("sip:b@2", 50),
					   ct("sip:b@3", 50)};

		r = mkreq("202", "x", 1, d, 3, 5);
		assert_int_equal(reg_apply(l, &r, 1003, change, NULL), ENOSPC);
	}
	/* expires 0 removes one */
	c[1].expires = 0;
	r = mkreq("201", "cid2", 2, &c[1], 1, 2);
	assert_int_equal(reg_apply(l, &r, 1004, change, NULL), 0);
	assert_int_equal(e->n, 1);
	/* expiry */
	assert_int_equal(reg_expire(l, 1102, change, NULL), 0);
	assert_int_equal(reg_expire(l, 1103, change, NULL), 1);
	assert_int_equal(l->n_bind, 0);
	/* an extension without bindings (nor a nonce-count table) keeps no
	 * state; the refused 202 never got any */
	assert_null(reg_ext_find(l, "201", 3));
	assert_null(reg_ext_find(l, "202", 3));
	assert_int_equal(l->n_ext, 0);
	/* star removes all */
	c[0].expires = 100;
	r = mkreq("201", "cid3", 1, c, 2, 2);
	c[1].expires = 100;
	assert_int_equal(reg_apply(l, &r, 1200, change, NULL), 0);
	e = reg_ext_find(l, "201", 3);
	assert_non_null(e);
	assert_int_equal(e->n, 2);
	r = mkreq("201", "cid3", 2, NULL, 0, 2);
	r.star = true;
	assert_int_equal(reg_apply(l, &r, 1201, change, NULL), 0);
	assert_int_equal(e->n, 0);
	assert_true(puts_n > 0 && dels_n > 0);
	mem_deref(l);
}

/* A plain refresh (new Call-ID/CSeq, same contact and source) is not
 * written while the stored expiry still covers half of the new lifetime;
 * a changed source is written at once. reg_reflects tells whether the
 * bindings already show a request. */
static void test_refresh_writes(void **st)
{
	struct reg_loc *l = NULL;
	struct reg_contact c[1] = {ct("sip:a@h1", 3600)};
	struct reg_req r;
	size_t p0;

	(void)st;
	assert_int_equal(reg_loc_alloc(&l, 10), 0);
	r = mkreq("301", "cid1", 1, c, 1, 2);
	assert_false(reg_reflects(l, &r));
	p0 = puts_n;
	assert_int_equal(reg_apply(l, &r, 1000, change, NULL), 0);
	assert_int_equal(puts_n, p0 + 1);                 /* new: written */
	assert_true(reg_reflects(l, &r));
	r = mkreq("301", "cid2", 1, c, 1, 2);
	assert_int_equal(reg_apply(l, &r, 1010, change, NULL), 0);
	assert_int_equal(puts_n, p0 + 1);                 /* refresh: not */
	r = mkreq("301", "cid2", 2, c, 1, 2);
	assert_int_equal(reg_apply(l, &r, 2799, change, NULL), 0);
	assert_int_equal(puts_n, p0 + 1);    /* stored 4600 - 2799 >= 1800 */
	r = mkreq("301", "cid2", 3, c, 1, 2);
	assert_int_equal(reg_apply(l, &r, 2801, change, NULL), 0);
	assert_int_equal(puts_n, p0 + 2);    /* less than half left: write */
	r = mkreq("301", "cid2", 4, c, 1, 2);
	sa_set_str(&r.src, "192.0.2.10", 5060);
	assert_int_equal(reg_apply(l, &r, 2802, change, NULL), 0);
	assert_int_equal(puts_n, p0 + 3);                 /* moved: written */
	/* the ordering rule still uses the live Call-ID/CSeq */
	assert_int_equal(reg_apply(l, &r, 2803, change, NULL), EPROTO);
	c[0].expires = 0;
	r = mkreq("301", "cid2", 5, c, 1, 2);
	assert_false(reg_reflects(l, &r));
	assert_int_equal(reg_apply(l, &r, 2804, change, NULL), 0);
	assert_true(reg_reflects(l, &r));
	mem_deref(l);
}

/* What a binding keeps: one allocation with the URI inline (≤ 256 bytes,
 * longer refused), the target only when it is not the source, the
 * User-Agent shared between bindings and cut at 64 bytes on a UTF-8
 * boundary; found by id until removed, also after it had to move. */
static void test_binding_layout(void **st)
{
	struct reg_loc *l = NULL;
	char longuri[300], ua[100];
	struct reg_contact c[1];
	struct reg_req r;
	struct reg_binding *b, *b2;
	struct reg_ext *e;
	uint64_t id;

	(void)st;
	assert_int_equal(reg_loc_alloc(&l, 10), 0);
	/* 62 ASCII bytes then "é" (2 bytes) straddling byte 64 */
	memset(ua, 'u', 62);
	memcpy(ua + 62, "\x20\xc3\xa9xyz", 6);
	ua[68] = '\0';
	c[0] = ct("sip:a@192.0.2.9:5060", 100);
	assert_int_equal(sa_set_str(&c[0].target, "192.0.2.9", 5060), 0);
	c[0].has_target = true;
	r = mkreq("501", "cid", 1, c, 1, 2);
	r.ua.p = ua;
	r.ua.l = strlen(ua);
	assert_int_equal(reg_apply(l, &r, 1000, change, NULL), 0);
	e = reg_ext_find(l, "501", 3);
	assert_non_null(e);
	b = e->bindings;
	assert_string_equal(reg_binding_uri(b), "sip:a@192.0.2.9:5060");
	assert_int_equal(strlen(reg_binding_ua(b)), 63);   /* not 64: é */
	assert_memory_equal(reg_binding_ua(b), ua, 63);
	assert_false(b->has_target);           /* contact = source */
	assert_ptr_equal(reg_binding_target(b), &b->src);
	/* another extension, same User-Agent: one shared copy */
	r.number = "502";
	assert_int_equal(reg_apply(l, &r, 1000, change, NULL), 0);
	b2 = reg_ext_find(l, "502", 3)->bindings;
	assert_ptr_equal(b2->ua, b->ua);
	assert_int_equal(l->n_ua, 1);
	/* contact elsewhere: the target is kept, the binding moves */
	id = b->id;
	assert_int_equal(sa_set_str(&c[0].target, "198.51.100.7", 5070), 0);
	r = mkreq("501", "cid", 2, c, 1, 2);
	r.ua.p = "Other/1.0";
	r.ua.l = 9;
	assert_int_equal(reg_apply(l, &r, 1001, change, NULL), 0);
	b = reg_binding_by_id(l, id);
	assert_non_null(b);
	assert_ptr_equal(e->bindings, b);
	assert_true(b->has_target);
	assert_int_equal(sa_port(reg_binding_target(b)), 5070);
	assert_string_equal(reg_binding_uri(b), "sip:a@192.0.2.9:5060");
	assert_string_equal(reg_binding_ua(b), "Other/1.0");
	assert_int_equal(l->n_ua, 2);
	/* removed: not found by id, its User-Agent released */
	reg_ext_clear(l, e, change, NULL);
	assert_null(reg_binding_by_id(l, id));
	assert_int_equal(l->n_ua, 1);
	/* Contact URI bound */
	memset(longuri, 'x', sizeof(longuri));
	memcpy(longuri, "sip:", 4);
	longuri[REG_URI_MAX + 1] = '\0';
	c[0] = ct(longuri, 100);
	r = mkreq("503", "cid", 1, c, 1, 2);
	assert_int_equal(reg_apply(l, &r, 1002, change, NULL), EOVERFLOW);
	assert_null(reg_ext_find(l, "503", 3));
	longuri[REG_URI_MAX] = '\0';
	c[0] = ct(longuri, 100);
	r = mkreq("503", "cid", 1, c, 1, 2);
	assert_int_equal(reg_apply(l, &r, 1002, change, NULL), 0);
	assert_int_equal(strlen(reg_binding_uri(reg_ext_find(l, "503", 3)
						->bindings)), REG_URI_MAX);
	mem_deref(l);
}

/* A nonce-count table exists only after an authentication and is
 * forgotten (with the extension's state, when it has no bindings) once
 * every nonce it holds is older than nc_keep. */
static void test_nc_lifecycle(void **st)
{
	struct reg_loc *l = NULL;
	uint64_t id = (uint64_t)1000 << 32 | 1;

	(void)st;
	assert_int_equal(reg_loc_alloc(&l, 10), 0);
	l->nc_keep = 360;
	assert_false(reg_nc_seen(l, "601", 3, id, 1, 7));
	assert_null(reg_ext_find(l, "601", 3));
	assert_int_equal(reg_nc_check(l, "601", 3, id, 1, 7), 0);
	assert_int_equal(reg_nc_check(l, "601", 3, id, 1, 7), EALREADY);
	assert_true(reg_nc_seen(l, "601", 3, id, 1, 7));
	assert_int_equal(reg_expire(l, 1000 + 360, NULL, NULL), 0);
	assert_non_null(reg_ext_find(l, "601", 3));        /* still used */
	assert_int_equal(reg_nc_check(l, "601", 3, id, 1, 7), EALREADY);
	reg_expire(l, 1000 + 361, NULL, NULL);
	assert_null(reg_ext_find(l, "601", 3));
	assert_int_equal(l->n_ext, 0);
	mem_deref(l);
}

/* A full disk (the writer's database may not grow): nothing acknowledged
 * is lost. The failed batch is kept, later changes wait behind it with
 * only the last change of each binding, status and health say so, and
 * once the disk takes writes again everything is written and survives a
 * restart. */
static void test_persist_disk_full(void **st)
{
	struct reg_loc *l = NULL, *l2 = NULL;
	struct reg_persist *p = NULL;
	struct reg_contact c[1];
	struct reg_req r;
	char path[] = "/tmp/test_registrar_XXXXXX";
	char db[64], num[16], cid[32], aux[80];
	static char uri[200][220];
	uint64_t pending = 0, failed = 0, written = 0, dropped = 0, before;
	size_t n = 0;
	int fd, err = 0;

	(void)st;
	store_health_reset();
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	snprintf(db, sizeof(db), "%s.db", path);
	assert_int_equal(reg_persist_open(&p, db, 100000), 0);
	assert_int_equal(reg_loc_alloc(&l, 1000), 0);
	c[0] = ct("sip:first@192.0.2.1", 3600);
	r = mkreq("800", "cid-0@x", 1, c, 1, 4);
	assert_int_equal(reg_apply(l, &r, time(NULL), reg_persist_change, p),
			 0);
	assert_int_equal(reg_persist_flush(p, 5000), 0);
	/* the disk is full from now on */
	reg_persist_limit_pages(p, 1);
	for (int k = 0; k < 200; k++) {
		snprintf(num, sizeof(num), "9%03d", k);
		snprintf(cid, sizeof(cid), "cid-%d@x", k);
		snprintf(uri[k], sizeof(uri[k]), "sip:phone-%03d-%0180d@"
			 "192.0.2.1", k, 0);
		c[0] = ct(uri[k], 3600);
		r = mkreq(num, cid, 1, c, 1, 4);
		r.ua.p = "Phone/1";
		r.ua.l = 7;
		assert_int_equal(reg_apply(l, &r, time(NULL),
					   reg_persist_change, p), 0);
		/* a second change of the same binding (new User-Agent) */
		r.cseq = 2;
		r.ua.p = "Phone/2";
		assert_int_equal(reg_apply(l, &r, time(NULL),
					   reg_persist_change, p), 0);
	}
	assert_int_equal(reg_persist_flush(p, 10000), EAGAIN);
	reg_persist_retry_stats(p, &pending, &failed);
	assert_true(failed >= 1);
	reg_persist_stats(p, NULL, &written, &dropped);
	/* The first few rows may still fit in the free space of the last
	 * page (when the writer takes them alone, as under ASan); the rest
	 * waits, one change per binding, not two (400 were queued) */
	assert_in_range(written, 1, 30);
	assert_in_range(pending, 170, 200);
	assert_int_equal(dropped, 0);
	assert_true(store_health_degraded());
	before = written + pending;
	/* space again: the next retry writes everything */
	reg_persist_limit_pages(p, 1u << 30);
	for (int t = 0; t < 50 && (err = reg_persist_flush(p, 5000)) ==
	     EAGAIN; t++)
		usleep(100000);
	assert_int_equal(err, 0);
	reg_persist_retry_stats(p, &pending, NULL);
	assert_int_equal(pending, 0);
	reg_persist_stats(p, NULL, &written, NULL);
	assert_int_equal(written, before);  /* exactly what waited */
	assert_false(store_health_degraded());
	reg_persist_close(p);
	p = NULL;
	/* a restart finds every binding, with its last User-Agent */
	assert_int_equal(reg_persist_open(&p, db, 100), 0);
	assert_int_equal(reg_loc_alloc(&l2, 1000), 0);
	assert_int_equal(reg_persist_load(p, l2, time(NULL), NULL, NULL, &n),
			 0);
	assert_int_equal(n, 201);
	assert_string_equal(reg_binding_ua(reg_ext_find(l2, "9123",
							4)->bindings),
			    "Phone/2");
	reg_persist_close(p);
	mem_deref(l);
	mem_deref(l2);
	unlink(db);
	snprintf(aux, sizeof(aux), "%s-wal", db);
	unlink(aux);
	snprintf(aux, sizeof(aux), "%s-shm", db);
	unlink(aux);
	store_health_reset();
}

/* Bindings written by the writer thread come back at start: URI, UA,
 * source, target, and the Call-ID (stored as its hash) for the ordering
 * rule; an older row with a plain Call-ID works too. */
static void test_persist_roundtrip(void **st)
{
	struct reg_loc *l = NULL, *l2 = NULL;
	struct reg_persist *p = NULL;
	struct reg_contact c[2] = {ct("sip:a@192.0.2.50:5062", 3600),
				   ct("sip:b@h", 3600)};
	struct reg_binding *b;
	struct reg_req r;
	struct sa s1;
	char path[] = "/tmp/test_registrar_XXXXXX";
	char db[64];
	size_t n = 0;
	int fd;

	(void)st;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	snprintf(db, sizeof(db), "%s.db", path);
	assert_int_equal(reg_persist_open(&p, db, 100), 0);
	assert_int_equal(reg_loc_alloc(&l, 10), 0);
	assert_int_equal(sa_set_str(&c[0].target, "192.0.2.50", 5062), 0);
	c[0].has_target = true;
	r = mkreq("701", "call-1@x", 7, c, 2, 4);
	r.ua.p = "Phone/2";
	r.ua.l = 7;
	assert_int_equal(reg_apply(l, &r, time(NULL), reg_persist_change, p),
			 0);
	reg_persist_close(p);
	p = NULL;

	assert_int_equal(reg_persist_open(&p, db, 100), 0);
	assert_int_equal(reg_loc_alloc(&l2, 10), 0);
	assert_int_equal(reg_persist_load(p, l2, time(NULL), NULL, NULL, &n),
			 0);
	assert_int_equal(n, 2);
	b = reg_ext_find(l2, "701", 3)->bindings;
	assert_string_equal(reg_binding_uri(b), "sip:a@192.0.2.50:5062");
	assert_string_equal(reg_binding_ua(b), "Phone/2");
	assert_int_equal(sa_set_str(&s1, "192.0.2.9", 5060), 0);
	assert_true(sa_cmp(&b->src, &s1, SA_ALL));
	assert_int_equal(sa_port(reg_binding_target(b)), 5062);
	assert_int_equal(b->cseq, 7);
	/* same Call-ID, same CSeq after the restart: out of order */
	assert_int_equal(reg_apply(l2, &r, time(NULL), NULL, NULL), EPROTO);
	r = mkreq("701", "call-2@x", 1, c, 2, 4);
	assert_int_equal(reg_apply(l2, &r, time(NULL), NULL, NULL), 0);
	/* an older row: plain Call-ID text */
	assert_int_equal(reg_restore(l2, "702", "sip:c@h", "old@x", 5, NULL,
				     time(NULL) + 100, time(NULL), &s1, &s1,
				     REG_TP_UDP, false), 0);
	c[0] = ct("sip:c@h", 100);
	r = mkreq("702", "old@x", 5, c, 1, 4);
	assert_int_equal(reg_apply(l2, &r, time(NULL), NULL, NULL), EPROTO);
	reg_persist_close(p);
	mem_deref(l);
	mem_deref(l2);
	unlink(db);
	{
		char aux[80];

		snprintf(aux, sizeof(aux), "%s-wal", db);
		unlink(aux);
		snprintf(aux, sizeof(aux), "%s-shm", db);
		unlink(aux);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bindings),
		cmocka_unit_test(test_refresh_writes),
		cmocka_unit_test(test_binding_layout),
		cmocka_unit_test(test_nc_lifecycle),
		cmocka_unit_test(test_persist_roundtrip),
		cmocka_unit_test(test_persist_disk_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
