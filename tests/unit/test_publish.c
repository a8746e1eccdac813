/* Unit tests of the snapshot's lifetime (snapshot_ref/deref) and of
 * store_publish: subscribers in order, the publisher's reference dropped
 * once, failures of the poster. The "loop" here is the test itself: the
 * fake poster keeps the message and the test runs it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "store/publish.h"
#include "store/snapshot.h"
#include "store/store.h"

/* store internal (store_int.h): build a snapshot from rows + sections */
struct ext_row;
int store_snapshot_build(struct ext_row *rows, size_t n, bool cache,
			 const json_t *sections, uint64_t version,
			 struct snapshot **snapp);

static struct snapshot *build(uint64_t version)
{
	struct snapshot *s = NULL;
	json_t *secs = json_pack("{s:{s:s}}", "sip", "realm", "pbx.example");

	assert_int_equal(store_snapshot_build(NULL, 0, false, secs, version,
					      &s), 0);
	json_decref(secs);
	assert_non_null(s);
	return s;
}

static void test_ref_deref(void **state)
{
	struct snapshot *s = build(7), *k;

	(void)state;
	assert_int_equal(atomic_load(&s->refs), 1);
	k = snapshot_ref(s);
	assert_ptr_equal(k, s);
	assert_int_equal(atomic_load(&s->refs), 2);
	assert_null(snapshot_deref(s));
	/* still alive for the second holder (ASan would see a use after
	 * free otherwise) */
	assert_int_equal(k->version, 7);
	assert_string_equal(k->realm, "pbx.example");
	k = snapshot_deref(k);
	assert_null(k);
	assert_null(snapshot_ref(NULL));
	assert_null(snapshot_deref(NULL));
	snapshot_free(NULL);
}

/* A section with a decoder: the snapshot carries it typed, decoded once
 * at build; the sip section is always typed. */
struct demo_typed { long long n; int calls; };
static int decodes;

static json_t *demo_defaults(void)
{
	return json_pack("{s:i}", "n", 1);
}

static void demo_decode(const json_t *obj, void *out)
{
	struct demo_typed *d = out;

	d->n = json_integer_value(json_object_get(obj, "n"));
	d->calls = ++decodes;
}

static const struct store_section demo_section = {
	.name = "demo", .defaults = demo_defaults,
	.typed_size = sizeof(struct demo_typed), .decode = demo_decode,
};

static void test_typed_sections(void **state)
{
	json_t *secs = json_pack("{s:{s:i}, s:{s:i}}", "demo", "n", 42, "sip",
				 "udp_port", 5070);
	struct snapshot *s = NULL, hand;
	const struct demo_typed *d;

	(void)state;
	assert_int_equal(store_section_register(&demo_section), 0);
	assert_int_equal(store_snapshot_build(NULL, 0, false, secs, 1, &s), 0);
	d = snapshot_typed(s, "demo");
	assert_non_null(d);
	assert_int_equal(d->n, 42);
	assert_int_equal(d->calls, 1);
	assert_null(snapshot_typed(s, "nosuch"));
	assert_int_equal(snapshot_sip(s)->udp_port, 5070);
	assert_int_equal(snapshot_sip(s)->tcp_port, 5060);
	assert_int_equal(decodes, 1);   /* once, at build */
	snapshot_free(s);
	json_decref(secs);
	/* built by hand: no typed sections, the sip defaults */
	memset(&hand, 0, sizeof(hand));
	assert_null(snapshot_typed(&hand, "demo"));
	assert_int_equal(snapshot_sip(&hand)->udp_port, 5060);
	assert_int_equal(snapshot_sip(NULL)->rtp_end, 20000);
}

/* ---- publish ------------------------------------------------------ */

static void (*queued_fn)(void *);
static void *queued_arg;
static int post_err;

static int fake_post(void (*fn)(void *arg), void *arg)
{
	if (post_err)
		return post_err;
	queued_fn = fn;
	queued_arg = arg;
	return 0;
}

static void run_queued(void)
{
	void (*fn)(void *) = queued_fn;

	assert_non_null(fn);
	queued_fn = NULL;
	fn(queued_arg);
}

static char order[8];

struct holder {
	size_t *pos;
	char id;
	struct snapshot *kept;
	uint64_t seen;
};

static void apply_borrow(void *arg, struct snapshot *snap)
{
	struct holder *h = arg;

	order[(*h->pos)++] = h->id;
	h->seen = snap->version;
}

static void apply_keep(void *arg, struct snapshot *snap)
{
	struct holder *h = arg;

	apply_borrow(arg, snap);
	snapshot_free(h->kept);
	h->kept = snapshot_ref(snap);
}

static int setup(void **state)
{
	(void)state;
	store_publish_reset();
	queued_fn = NULL;
	post_err = 0;
	memset(order, 0, sizeof(order));
	return 0;
}

static void test_publish_order_and_refs(void **state)
{
	size_t pos = 0;
	struct holder a = { .pos = &pos, .id = 'g' };
	struct holder b = { .pos = &pos, .id = 's' };
	struct snapshot *s1 = build(1), *s2 = build(2);

	(void)state;
	store_publish_init(fake_post);
	assert_int_equal(store_subscribe("guard", apply_borrow, &a), 0);
	assert_int_equal(store_subscribe("sip", apply_keep, &b), 0);

	assert_int_equal(store_publish(s1), 0);
	assert_int_equal(a.seen, 0);      /* nothing runs before the loop */
	run_queued();
	assert_int_equal(a.seen, 1);
	assert_int_equal(b.seen, 1);
	assert_ptr_equal(b.kept, s1);
	/* the publisher's reference is gone; the keeper's is the only one */
	assert_int_equal(atomic_load(&s1->refs), 1);

	assert_int_equal(store_publish(s2), 0);
	run_queued();                     /* the keeper drops s1 (freed) */
	assert_ptr_equal(b.kept, s2);
	assert_int_equal(atomic_load(&s2->refs), 1);
	/* subscription order, every time */
	assert_string_equal(order, "gsgs");
	snapshot_free(b.kept);
}

static void test_publish_failures(void **state)
{
	struct holder a = { .pos = &(size_t){ 0 }, .id = 'g' };

	(void)state;
	assert_int_equal(store_publish(NULL), EINVAL);
	/* no poster: refused, the snapshot dropped (ASan: no leak) */
	assert_int_equal(store_publish(build(3)), ENODEV);
	store_publish_init(fake_post);
	post_err = ENOMEM;
	assert_int_equal(store_subscribe("guard", apply_borrow, &a), 0);
	assert_int_equal(store_publish(build(4)), ENOMEM);
	assert_null(queued_fn);
	assert_int_equal(a.seen, 0);
	assert_int_equal(store_subscribe(NULL, apply_borrow, &a), EINVAL);
	assert_int_equal(store_subscribe("x", NULL, &a), EINVAL);
}

static void test_subscriber_bound(void **state)
{
	struct holder a = { .pos = &(size_t){ 0 }, .id = 'g' };
	size_t i;

	(void)state;
	for (i = 0; i < STORE_SUBSCRIBERS_MAX; i++)
		assert_int_equal(store_subscribe("s", apply_borrow, &a), 0);
	assert_int_equal(store_subscribe("s", apply_borrow, &a), ENOSPC);
}

static void test_publish_apply_now(void **state)
{
	size_t pos = 0;
	struct holder a = { .pos = &pos, .id = 'g' };
	struct snapshot *s = build(9);

	(void)state;
	assert_int_equal(store_subscribe("guard", apply_borrow, &a), 0);
	store_publish_apply(s);           /* start-up: no loop hop */
	assert_int_equal(a.seen, 9);
	assert_int_equal(atomic_load(&s->refs), 1);   /* still the caller's */
	store_publish_apply(NULL);
	snapshot_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref_deref),
		cmocka_unit_test(test_typed_sections),
		cmocka_unit_test_setup(test_publish_order_and_refs, setup),
		cmocka_unit_test_setup(test_publish_failures, setup),
		cmocka_unit_test_setup(test_subscriber_bound, setup),
		cmocka_unit_test_setup(test_publish_apply_now, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
