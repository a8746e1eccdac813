/*
 * store_fx — the fixture the store's secret tests share (test_vmpin.c,
 * test_callpw.c): a store in a temporary directory with a "sip" section
 * and the voicemail PIN policy set, a section setter and a commit that
 * must succeed. Include after cmocka.h and store/store.h, with
 * STORE_FX_NAME defined (the temporary directory's prefix).
 */
#ifndef BULWARK_TEST_STORE_FX_H
#define BULWARK_TEST_STORE_FX_H

#define PW1  "Xq7Zr9kWp"
#define PW2  "Bv3Nj8Qhz"
#define PIN1 "480736"
#define PIN2 "917364"
#define PIN3 "529071"

struct fx {
	char dir[64];
	struct store *s;
};

static int rm_cb(const char *p, const struct stat *st, int fl, struct FTW *f)
{
	(void)st; (void)fl; (void)f;
	return remove(p);
}

static json_t *sip_defaults(void)
{
	return json_pack("{s:s}", "realm", "bulwark");
}

static int sip_set(json_t *obj, const char *key, const char *value,
		   struct report *r)
{
	(void)r;
	json_object_set_new(obj, key, json_string(value));
	return 0;
}

static const struct store_section sip_sec = {
	.name = "sip", .defaults = sip_defaults, .set = sip_set,
};

static void set_ok(struct store *s, const char *sec, const char *key,
		   const char *val)
{
	struct report r;

	report_init(&r);
	assert_int_equal(store_section_set(s, sec, key, val, &r), 0);
	report_reset(&r);
}

static void commit_ok(struct store *s)
{
	json_t *res = NULL;

	assert_int_equal(store_commit(s, false, &res, NULL), 0);
	assert_true(json_is_true(json_object_get(res, "ok")));
	json_decref(res);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/%s-test-XXXXXX", STORE_FX_NAME);
	assert_non_null(mkdtemp(f->dir));
	store_section_register(&sip_sec);
	assert_int_equal(store_open(&f->s, f->dir, "data"), 0);
	set_ok(f->s, "policy", "vm.min_length", "6");
	set_ok(f->s, "policy", "vm.no_extension", "true");
	set_ok(f->s, "policy", "vm.no_trivial", "true");
	set_ok(f->s, "policy", "vm.no_previous", "true");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	nftw(f->dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

#endif
