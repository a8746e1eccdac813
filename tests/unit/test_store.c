/* Unit tests of the store: each runs on a fresh temporary data dir. */
#include <errno.h>
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
#include <sodium.h>
#include <sqlite3.h>
#include <openssl/evp.h>

#include "store/health.h"
#include "store/store.h"
#include "store/snapshot.h"
#include "store/extpage.h"
#include "policy/policy.h"

/* store internal (store_int.h): the store's compact JSON writer */
char *store_json_text(const json_t *v, bool sort);
/* store internal: test hook, the database may hold at most pages pages */
void store_test_max_pages(struct store *s, unsigned pages);

#define PW1 "Xq7Zr9kWp"
#define PW2 "Bv3Nj8Qhz"
#define PW3 "Mz4Kp2Wxv"
#define PIN1 "480736"
#define PIN2 "917364"

struct fx {
	char dir[64];
	struct store *s;
};

static int rm_cb(const char *p, const struct stat *st, int fl, struct FTW *f)
{
	return remove(p);
}

/* A "sip" section with a realm, as the SIP module registers it. */
static json_t *sip_defaults(void)
{
	return json_pack("{s:s}", "realm", "bulwark");
}

static int sip_set(json_t *obj, const char *key, const char *value,
		   struct report *r)
{
	if (strcmp(key, "realm")) {
		report_add(r, "sip", key, "section.unknown_key", "no key");
		return ENOENT;
	}
	json_object_set_new(obj, key, json_string(value));
	return 0;
}

static const struct store_section sip_sec = {
	.name = "sip", .defaults = sip_defaults, .set = sip_set,
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/store-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(store_section_register(&sip_sec), 0);
	assert_int_equal(store_open(&f->s, f->dir, "data"), 0);
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

static json_t *sip_ext(const char *num, const char *name, const char *pw,
		       const char *pin)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s}", "number", num, "type", "sip",
			 "name", name, "auth.password", pw,
			 "voicemail.pin", pin);
}

static void add_ok(struct store *s, const char *num, const char *name,
		   const char *pw, const char *pin)
{
	struct report r;
	json_t *e = sip_ext(num, name, pw, pin);
	int err;

	report_init(&r);
	err = store_ext_add(s, e, 0, &r, NULL);
	for (size_t i = 0; err && i < r.n; i++)
		fprintf(stderr, "%s %s %s %s\n", r.item[i].where,
			r.item[i].field, r.item[i].rule, r.item[i].msg);
	assert_int_equal(err, 0);
	report_reset(&r);
	json_decref(e);
}

static void set_ok(struct store *s, const char *sec, const char *key,
		   const char *val)
{
	struct report r;

	report_init(&r);
	assert_int_equal(store_section_set(s, sec, key, val, &r), 0);
	report_reset(&r);
}

static json_t *commit_ok(struct store *s, struct snapshot **snap)
{
	json_t *res = NULL;
	int err = store_commit(s, false, &res, snap);

	if (err) {
		char *d = json_dumps(res, JSON_INDENT(1));

		fprintf(stderr, "commit: %s\n", d);
		free(d);
	}
	assert_int_equal(err, 0);
	assert_true(json_is_true(json_object_get(res, "ok")));
	return res;
}

static bool has_item(const json_t *errs, const char *where, const char *rule)
{
	size_t i;
	json_t *v;

	json_array_foreach(errs, i, v) {
		if ((!where || !strcmp(json_string_value(json_object_get(v,
				"where")), where)) &&
		    !strcmp(json_string_value(json_object_get(v, "rule")),
			    rule))
			return true;
	}
	return false;
}

static bool report_has(const struct report *r, const char *where,
		       const char *rule)
{
	for (size_t i = 0; i < r->n; i++) {
		if ((!where || !strcmp(r->item[i].where, where)) &&
		    !strcmp(r->item[i].rule, rule))
			return true;
	}
	return false;
}

static char *revealed(struct store *s, const char *num, enum store_view v,
		      const char *field)
{
	json_t *o = NULL;
	char *out;

	assert_int_equal(store_ext_get(s, num, v, true, &o), 0);
	out = strdup(json_string_value(json_object_get(o, field)));
	json_decref(o);
	return out;
}

static void hex_digest(const EVP_MD *md, const char *in, char *hex)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(in, strlen(in), d, &n, md, NULL), 1);
	for (unsigned i = 0; i < n; i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
}

static size_t pending_n(struct store *s)
{
	json_t *d = NULL;
	size_t n;

	assert_int_equal(store_pending(s, &d), 0);
	n = json_array_size(d);
	json_decref(d);
	return n;
}

/* ---- tests ---- */

static void test_open_migrate_reopen(void **state)
{
	struct fx *f = *state;
	char path[128];
	struct stat st;
	sqlite3 *db;
	sqlite3_stmt *q;

	snprintf(path, sizeof(path), "%s/secret.key", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 32);
	add_ok(f->s, "201", "Ada Lovelace", PW1, PIN1);
	store_close(f->s);
	assert_int_equal(store_open(&f->s, f->dir, "data"), 0);
	assert_int_equal(pending_n(f->s), 1);   /* staged edit survived */
	assert_int_equal(sqlite3_open(store_db_path(f->s), &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(*), MIN(version)"
		" FROM schema_migrations", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_true(sqlite3_column_int(q, 0) >= 1);
	assert_int_equal(sqlite3_column_int(q, 1), 1);
	sqlite3_finalize(q);
	sqlite3_close(db);
}

static void test_key_perms(void **state)
{
	struct fx *f = *state;
	struct store *s2 = NULL;
	char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/secret.key", f->dir);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(store_open(&s2, f->dir, "data"), EACCES);
	assert_null(s2);
	assert_int_equal(chmod(path, 0600), 0);
	fp = fopen(path, "a");
	fputs("x", fp);
	fclose(fp);
	assert_int_equal(store_open(&s2, f->dir, "data"), EINVAL);
	assert_int_equal(truncate(path, 32), 0);
	assert_int_equal(store_open(&f->s, f->dir, "data"), 0);
}

static void test_stage_pending_discard_commit(void **state)
{
	struct fx *f = *state;
	json_t *d = NULL, *o = NULL, *res;
	struct report r;

	report_init(&r);
	add_ok(f->s, "201", "Ada Lovelace", PW1, PIN1);
	add_ok(f->s, "202", "Alan Turing", PW2, PIN2);
	assert_int_equal(store_ext_get(f->s, "201", STORE_RUNNING, false, &o),
			 ENOENT);
	assert_int_equal(store_pending(f->s, &d), 0);
	assert_int_equal(json_array_size(d), 2);
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(d, 0), "op")), "add");
	json_decref(d);
	res = commit_ok(f->s, NULL);
	assert_int_equal(json_integer_value(json_object_get(res, "version")),
			 1);
	json_decref(res);
	assert_int_equal(pending_n(f->s), 0);

	/* edit, then discard */
	o = json_pack("{s:b}", "phone.nat", 1);
	assert_int_equal(store_ext_edit(f->s, "201", o, 0, &r, NULL), 0);
	json_decref(o);
	assert_int_equal(store_ext_remove(f->s, "202", &r), 0);
	assert_int_equal(store_pending(f->s, &d), 0);
	assert_int_equal(json_array_size(d), 2);
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(d, 0), "op")), "edit");
	assert_string_equal(json_string_value(json_array_get(json_object_get(
		json_array_get(d, 0), "fields"), 0)), "phone.nat");
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(d, 1), "op")), "remove");
	json_decref(d);
	assert_int_equal(store_discard(f->s), 0);
	assert_int_equal(pending_n(f->s), 0);

	/* edit and commit */
	o = json_pack("{s:s}", "phone.nat", "true");   /* text as CLI sends */
	assert_int_equal(store_ext_edit(f->s, "201", o, 0, &r, NULL), 0);
	json_decref(o);
	json_decref(commit_ok(f->s, NULL));
	assert_int_equal(store_ext_get(f->s, "201", STORE_RUNNING, false, &o),
			 0);
	assert_true(json_is_true(json_object_get(o, "phone.nat")));
	json_decref(o);
	report_reset(&r);
}

static void test_refused_add_changes_nothing(void **state)
{
	struct fx *f = *state;
	struct report r;
	json_t *e = sip_ext("203", "Grace Hopper", "password", PIN1);

	report_init(&r);
	assert_int_equal(store_ext_add(f->s, e, 0, &r, NULL), EINVAL);
	assert_true(report_has(&r, "203", "sip.min_upper"));
	assert_true(report_has(&r, "203", "sip.min_digits"));
	assert_int_equal(pending_n(f->s), 0);
	report_reset(&r);
	json_decref(e);
	/* trivial PIN */
	e = sip_ext("203", "Grace Hopper", PW1, "1234");
	assert_int_equal(store_ext_add(f->s, e, 0, &r, NULL), EINVAL);
	assert_true(r.n > 0);
	assert_int_equal(pending_n(f->s), 0);
	report_reset(&r);
	json_decref(e);
	/* duplicate number */
	add_ok(f->s, "203", "Grace Hopper", PW1, PIN1);
	e = sip_ext("203", "Grace Hopper", PW2, PIN2);
	assert_int_equal(store_ext_add(f->s, e, 0, &r, NULL), EEXIST);
	report_reset(&r);
	json_decref(e);
}

static void test_policy_breach_no_autofix(void **state)
{
	struct fx *f = *state;
	json_t *res = NULL, *o = NULL;
	char *pw;

	add_ok(f->s, "201", "Ada Lovelace", PW1, PIN1);
	add_ok(f->s, "202", "Alan Turing", PW2, PIN2);
	json_decref(commit_ok(f->s, NULL));
	set_ok(f->s, "policy", "sip.min_length", "12");
	set_ok(f->s, "policy", "sip.min_upper", "4");
	assert_int_equal(store_commit(f->s, false, &res, NULL), EINVAL);
	assert_false(json_is_true(json_object_get(res, "ok")));
	o = json_object_get(res, "errors");
	assert_true(has_item(o, "201", "sip.min_length"));
	assert_true(has_item(o, "202", "sip.min_length"));
	assert_true(has_item(o, "201", "sip.min_upper"));
	json_decref(res);
	/* running unchanged */
	pw = revealed(f->s, "201", STORE_RUNNING, "auth.password");
	assert_string_equal(pw, PW1);
	free(pw);
	assert_int_equal(store_section_get(f->s, "policy", STORE_RUNNING, &o),
			 0);
	assert_int_equal(json_integer_value(json_object_get(o,
		"sip.min_length")), 8);
	json_decref(o);
	/* dry run reports too and changes nothing */
	assert_int_equal(store_commit(f->s, true, &res, NULL), EINVAL);
	json_decref(res);
}

static void test_autofix(void **state)
{
	struct fx *f = *state;
	json_t *res, *fixed, *o = NULL;
	struct policy p;
	struct report r;
	size_t i;
	json_t *v;

	report_init(&r);
	add_ok(f->s, "201", "Ada Lovelace", PW1, PIN1);
	add_ok(f->s, "202", "Alan Turing", PW2, PIN2);
	json_decref(commit_ok(f->s, NULL));
	set_ok(f->s, "policy", "sip.min_length", "14");
	set_ok(f->s, "policy", "vm.min_length", "8");
	set_ok(f->s, "policy", "auto_fix", "true");
	/* staging accepts a weak one with a warning */
	o = json_pack("{s:s}", "auth.password", "Weak12AB");
	assert_int_equal(store_ext_edit(f->s, "202", o, 0, &r, NULL), 0);
	assert_true(report_has(&r, "202", "policy.auto_fix"));
	json_decref(o);
	res = commit_ok(f->s, NULL);
	fixed = json_object_get(res, "fixed");
	assert_int_equal(json_array_size(fixed), 4);
	policy_defaults(&p);
	p.sip.min_length = 14;
	p.pin.min_length = 8;
	json_array_foreach(fixed, i, v) {
		const char *num = json_string_value(json_object_get(v,
						    "number"));
		const char *fld = json_string_value(json_object_get(v,
						    "field"));
		const char *sec = json_string_value(json_object_get(v,
						    "secret"));
		char *stored = revealed(f->s, num, STORE_RUNNING, fld);

		assert_string_equal(stored, sec);
		if (!strcmp(fld, "auth.password"))
			assert_int_equal(policy_check_sip(&p, NULL, sec, num,
							  NULL, &r), 0);
		else
			assert_int_equal(policy_check_pin(&p, fld, sec, num,
						  NULL,
						  false, NULL, &r), 0);
		free(stored);
	}
	json_decref(res);
	assert_int_equal(pending_n(f->s), 0);
	report_reset(&r);
}

static void test_unique(void **state)
{
	struct fx *f = *state;
	struct report r;
	json_t *e, *res = NULL;

	report_init(&r);
	add_ok(f->s, "201", "Ada Lovelace", PW1, PIN1);
	e = sip_ext("202", "Alan Turing", PW1, PIN2);
	assert_int_equal(store_ext_add(f->s, e, 0, &r, NULL), EINVAL);
	assert_true(report_has(&r, "202", "sip.unique"));
	report_reset(&r);
	/* allowed while the rule is off, refused at commit once it is on */
	set_ok(f->s, "policy", "sip.unique", "false");
	assert_int_equal(store_ext_add(f->s, e, 0, &r, NULL), 0);
	set_ok(f->s, "policy", "sip.unique", "true");
	assert_int_equal(store_commit(f->s, false, &res, NULL), EINVAL);
	assert_true(has_item(json_object_get(res, "errors"), "201",
			     "sip.unique"));
	assert_true(has_item(json_object_get(res, "errors"), "202",
			     "sip.unique"));
	json_decref(res);
	json_decref(e);
	report_reset(&r);
}

static void test_ha1_and_prev(void **state)
{
	struct fx *f = *state;
	struct snapshot *snap = NULL;
	const struct snap_ext *x;
	char md5[33], sha[65], in[128], old_md5[33], old_sha[65];
	struct report r;
	json_t *o;
	time_t now = time(NULL);

	report_init(&r);
	add_ok(f->s, "201", "Ada Lovelace", PW1, PIN1);
	json_decref(commit_ok(f->s, &snap));
	x = snapshot_find(snap, "201", 3);
	assert_non_null(x);
	assert_true(x->auth);
	snprintf(in, sizeof(in), "201:bulwark:%s", PW1);
	hex_digest(EVP_md5(), in, md5);
	hex_digest(EVP_sha256(), in, sha);
	assert_string_equal(x->ha1_md5, md5);
	assert_string_equal(x->ha1_sha256, sha);
	assert_false(x->has_prev);
	/* the model's default auth.algorithms is "md5" */
	assert_int_equal(x->algs_pref[0], SNAP_ALG_MD5);
	assert_int_equal(x->algs_pref[1], 0);
	snapshot_free(snap);
	memcpy(old_md5, md5, sizeof(md5));
	memcpy(old_sha, sha, sizeof(sha));

	/* password change: new HA1, previous remembered for 7 days */
	o = json_pack("{s:s}", "auth.password", PW2);
	assert_int_equal(store_ext_edit(f->s, "201", o, 0, &r, NULL), 0);
	json_decref(o);
	json_decref(commit_ok(f->s, &snap));
	x = snapshot_find(snap, "201", 3);
	snprintf(in, sizeof(in), "201:bulwark:%s", PW2);
	hex_digest(EVP_md5(), in, md5);
	hex_digest(EVP_sha256(), in, sha);
	assert_string_equal(x->ha1_md5, md5);
	assert_string_equal(x->ha1_sha256, sha);
	assert_true(x->has_prev);
	assert_string_equal(x->prev_ha1_md5, old_md5);
	assert_string_equal(x->prev_ha1_sha256, old_sha);
	assert_true(x->prev_until >= now + 7 * 86400 - 5 &&
		    x->prev_until <= now + 7 * 86400 + 60);
	snapshot_free(snap);

	/* realm change recomputes every HA1 */
	set_ok(f->s, "sip", "realm", "pbx.example");
	json_decref(commit_ok(f->s, &snap));
	x = snapshot_find(snap, "201", 3);
	snprintf(in, sizeof(in), "201:pbx.example:%s", PW2);
	hex_digest(EVP_md5(), in, md5);
	hex_digest(EVP_sha256(), in, sha);
	assert_string_equal(x->ha1_md5, md5);
	assert_string_equal(x->ha1_sha256, sha);
	assert_string_equal(snap->realm, "pbx.example");
	assert_string_equal(json_string_value(json_object_get(
		snapshot_section(snap, "sip"), "realm")), "pbx.example");
	snapshot_free(snap);
	/* the snapshot at start agrees */
	assert_int_equal(store_snapshot(f->s, &snap), 0);
	assert_string_equal(snapshot_find(snap, "201", 3)->ha1_md5, md5);
	assert_int_equal(snap->version, 3);
	snapshot_free(snap);
	report_reset(&r);
}

/* What routing reads (issue 13): an extension's forwards, follow-me,
 * blacklist, class and ring time, a group's members and strategy, and
 * the typed features and cos sections, the same after a commit that
 * reuses the cached rows and in the snapshot built at start. */
static void check_route_snap(const struct snapshot *snap)
{
	const struct snap_ext *x = snapshot_find(snap, "202", 3);
	const struct snap_cos *cos;
	const struct snap_features *ft;
	bool found = false;

	assert_non_null(x);
	assert_non_null(x->feat);
	assert_int_equal(x->ring_time, 7);
	assert_string_equal(x->feat->fwd[SNAP_FWD_BUSY], "203");
	assert_string_equal(x->feat->fwd[SNAP_FWD_IMMEDIATE], "");
	/* a destination whose rule is off is not kept */
	assert_string_equal(x->feat->fwd[SNAP_FWD_NOANSWER], "");
	assert_true(x->feat->follow_me);
	assert_true(x->feat->fm_together);
	assert_int_equal(x->feat->n_fm, 2);
	assert_string_equal(x->feat->fm[1], "201");
	assert_int_equal(x->feat->n_black, 1);
	assert_string_equal(x->feat->black[0], "5550199");
	assert_string_equal(x->feat->cos, "restricted");
	/* an extension with nothing of it has none */
	x = snapshot_find(snap, "201", 3);
	assert_null(x->feat);
	assert_int_equal(x->ring_time, 20);
	x = snapshot_find(snap, "300", 3);
	assert_non_null(x->feat);
	assert_int_equal(x->feat->n_members, 2);
	assert_string_equal(x->feat->members[0], "201");
	assert_int_equal(x->feat->strategy, SNAP_RING_HUNT);
	ft = snapshot_typed(snap, "features");
	assert_non_null(ft);
	assert_string_equal(ft->code[SNAP_FEAT_VOICEMAIL], "*97");
	cos = snapshot_typed(snap, "cos");
	assert_non_null(cos);
	for (size_t i = 0; i < cos->n; i++) {
		if (strcmp(cos->cls[i].name, "restricted"))
			continue;
		found = true;
		assert_int_equal(cos->cls[i].allow,
				 1u << SNAP_FEAT_VOICEMAIL |
				 SNAP_COS_DEST(SNAP_DEST_INTERNAL) |
				 SNAP_COS_DEST(SNAP_DEST_EMERGENCY));
	}
	assert_true(found);
}

static void test_snapshot_routing(void **state)
{
	struct fx *f = *state;
	struct report r;
	struct snapshot *snap = NULL, *snap2 = NULL;
	json_t *o, *res;

	report_init(&r);
	add_ok(f->s, "201", "Ada Lovelace", PW1, PIN1);
	add_ok(f->s, "202", "Alan Turing", PW2, PIN2);
	add_ok(f->s, "203", "Grace Hopper", PW3, PIN2);
	o = json_pack("{s:b,s:s,s:b,s:s,s:b,s:[ss],s:s,s:[s],s:s,s:i}",
		      "user.forward.busy.enabled", 1,
		      "user.forward.busy.destination", "203",
		      "user.forward.no_answer.enabled", 0,
		      "user.forward.no_answer.destination", "201",
		      "user.follow_me.enabled", 1,
		      "user.follow_me.list", "203", "201",
		      "user.follow_me.strategy", "together",
		      "security.blacklist", "5550199",
		      "class_of_service", "restricted",
		      "user.ring_time", 7);
	assert_int_equal(store_ext_edit(f->s, "202", o, 0, &r, NULL), 0);
	json_decref(o);
	o = json_pack("{s:s,s:s,s:s,s:[ss],s:s}", "number", "300", "type",
		      "ring_group", "name", "Sales Team", "ring_group.members",
		      "201", "202", "ring_group.strategy", "hunt");
	assert_int_equal(store_ext_add(f->s, o, 0, &r, NULL), 0);
	json_decref(o);
	res = commit_ok(f->s, &snap);
	json_decref(res);
	check_route_snap(snap);
	/* a second commit reuses the cached rows: the same features, shared
	 * with the first snapshot, which may go first */
	o = json_pack("{s:s}", "name", "Ada Byron");
	assert_int_equal(store_ext_edit(f->s, "201", o, 0, &r, NULL), 0);
	json_decref(o);
	res = commit_ok(f->s, &snap2);
	json_decref(res);
	snapshot_free(snap);
	check_route_snap(snap2);
	snapshot_free(snap2);
	assert_int_equal(store_snapshot(f->s, &snap), 0);
	check_route_snap(snap);
	snapshot_free(snap);
	report_reset(&r);
}

/* caller ID (issue 13): custom caller IDs and Alert-Info only where
 * set (the defaults are resolved by the call layer), RPID, override;
 * kept across a commit that reuses the cached rows and at start. */
static void check_cid_snap(const struct snapshot *snap)
{
	const struct snap_ext *x = snapshot_find(snap, "202", 3);

	assert_non_null(x);
	assert_non_null(x->cid);
	assert_true(x->cid->k[SNAP_CID_INTERNAL].custom);
	assert_string_equal(x->cid->k[SNAP_CID_INTERNAL].name, "Reception");
	assert_string_equal(x->cid->k[SNAP_CID_INTERNAL].number, "2000");
	assert_false(x->cid->k[SNAP_CID_EXTERNAL].custom);
	assert_true(x->cid->k[SNAP_CID_EMERGENCY].custom);
	assert_string_equal(x->cid->k[SNAP_CID_EMERGENCY].number,
			    "+15145550199");
	assert_string_equal(x->cid->alert_info, "info=alert-autoanswer");
	assert_false(x->send_pai);
	assert_true(x->send_rpid);
	assert_true(x->cid_override);
	/* the defaults: nothing built, PAI on (the model's default) */
	x = snapshot_find(snap, "201", 3);
	assert_null(x->cid);
	assert_true(x->send_pai);
	assert_false(x->send_rpid);
	assert_false(x->cid_override);
}

static void test_snapshot_callerid(void **state)
{
	struct fx *f = *state;
	struct report r;
	struct snapshot *snap = NULL, *snap2 = NULL;
	json_t *o, *res;

	report_init(&r);
	add_ok(f->s, "201", "Ada Lovelace", PW1, PIN1);
	add_ok(f->s, "202", "Alan Turing", PW2, PIN2);
	o = json_pack("{s:b,s:s,s:s,s:b,s:s,s:s,s:b,s:b,s:b,s:s}",
		      "callerid.internal.use_default", 0,
		      "callerid.internal.name", "Reception",
		      "callerid.internal.number", "2000",
		      "callerid.emergency.use_default", 0,
		      "callerid.emergency.name", "Alan 3rd floor",
		      "callerid.emergency.number", "+15145550199",
		      "callerid.allow_override", 1,
		      "phone.send_pai", 0, "phone.send_rpid", 1,
		      "phone.alert_info", "info=alert-autoanswer");
	assert_int_equal(store_ext_edit(f->s, "202", o, 0, &r, NULL), 0);
	json_decref(o);
	res = commit_ok(f->s, &snap);
	json_decref(res);
	check_cid_snap(snap);
	o = json_pack("{s:s}", "name", "Ada Byron");
	assert_int_equal(store_ext_edit(f->s, "201", o, 0, &r, NULL), 0);
	json_decref(o);
	res = commit_ok(f->s, &snap2);
	json_decref(res);
	snapshot_free(snap);
	check_cid_snap(snap2);
	snapshot_free(snap2);
	assert_int_equal(store_snapshot(f->s, &snap), 0);
	check_cid_snap(snap);
	snapshot_free(snap);
	report_reset(&r);
}

static void test_bulk(void **state)
{
	struct fx *f = *state;
	struct report r;
	json_t *o, *created = NULL, *res;
	struct snapshot *snap = NULL;

	report_init(&r);
	add_ok(f->s, "201", "Ada Lovelace", PW1, PIN1);
	o = json_pack("{s:b,s:i}", "phone.nat", 1, "phone.max_contacts", 3);
	assert_int_equal(store_ext_edit(f->s, "201", o, 0, &r, NULL), 0);
	json_decref(o);
	assert_int_equal(store_ext_bulk(f->s, "sip", 300, 349, "201", &r,
					&created), 0);
	assert_int_equal(json_array_size(created), 50);
	assert_non_null(json_string_value(json_object_get(
		json_array_get(created, 0), "auth.password")));
	assert_non_null(json_string_value(json_object_get(
		json_array_get(created, 0), "voicemail.pin")));
	json_decref(created);
	assert_int_equal(store_ext_get(f->s, "349", STORE_STAGED, false, &o),
			 0);
	assert_true(json_is_true(json_object_get(o, "phone.nat")));
	assert_string_equal(json_string_value(json_object_get(o, "name")),
			    "Extension ThreeFourNine");
	assert_string_equal(json_string_value(json_object_get(o,
		"auth.username")), "349");
	json_decref(o);
	res = commit_ok(f->s, &snap);
	assert_int_equal(snap->n_ext, 51);
	assert_int_equal(snapshot_find(snap, "320", 3)->max_contacts, 3);
	snapshot_free(snap);
	json_decref(res);

	/* over an existing number: refused whole */
	assert_int_equal(store_ext_bulk(f->s, "sip", 340, 360, NULL, &r,
					&created), EEXIST);
	assert_true(report_has(&r, "340", "number.unique"));
	assert_int_equal(pending_n(f->s), 0);
	report_reset(&r);
	assert_int_equal(store_ext_bulk(f->s, "sip", 1000, 20999, NULL, &r,
					&created), EINVAL);
	report_reset(&r);
}

static void test_csv(void **state)
{
	struct fx *f = *state;
	struct report r;
	size_t count = 0, len = 0, len2 = 0;
	char *csv = NULL, *csv2 = NULL;
	struct store *s2 = NULL;
	char dir2[64] = "/tmp/store-test2-XXXXXX";
	const char *bad =
		"number,type,name,auth.password,voicemail.pin,phone.nat\r\n"
		"401,sip,Ada Lovelace," PW1 "," PIN1 ",true\r\n"
		"402,sip,\"Alan, Turing\"," PW2 "," PIN2 ",false\r\n";
	const char *good =
		"number,type,name,auth.password,voicemail.pin,phone.nat\r\n"
		"401,sip,Ada Lovelace," PW1 "," PIN1 ",true\r\n"
		"402,sip,\"Alan Turing\"," PW2 "," PIN2 ",false\n";

	report_init(&r);
	assert_int_equal(store_ext_import_csv(f->s, bad, strlen(bad), &r,
					      &count), EINVAL);
	assert_true(r.n > 0);
	for (size_t i = 0; i < r.n; i++)
		assert_string_equal(r.item[i].where, "row 3");
	assert_int_equal(pending_n(f->s), 0);
	report_reset(&r);
	assert_int_equal(store_ext_import_csv(f->s, good, strlen(good), &r,
					      &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(store_ext_export_csv(f->s, STORE_STAGED, &csv, &len),
			 0);
	assert_null(strstr(csv, PW1));
	assert_null(strstr(csv, PIN1));
	assert_null(strstr(csv, "auth.password"));
	assert_non_null(strstr(csv, "Alan Turing"));

	/* round trip into a fresh store (secrets generated there) */
	assert_non_null(mkdtemp(dir2));
	assert_int_equal(store_open(&s2, dir2, "data"), 0);
	assert_int_equal(store_ext_import_csv(s2, csv, len, &r, &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(store_ext_export_csv(s2, STORE_STAGED, &csv2, &len2),
			 0);
	assert_string_equal(csv, csv2);
	/* re-import over existing numbers edits them: nothing changes */
	assert_int_equal(store_ext_import_csv(f->s, csv, len, &r, &count), 0);
	free(csv2);
	csv2 = NULL;
	assert_int_equal(store_ext_export_csv(f->s, STORE_STAGED, &csv2, &len2),
			 0);
	assert_string_equal(csv, csv2);
	store_close(s2);
	nftw(dir2, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	free(csv);
	free(csv2);
	report_reset(&r);
}

static void test_web_password_and_reveal(void **state)
{
	struct fx *f = *state;
	struct report r;
	json_t *e, *o = NULL;
	sqlite3 *db;
	sqlite3_stmt *q;

	report_init(&r);
	e = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:s}", "number", "201",
		      "type", "sip", "name", "Ada Lovelace",
		      "auth.password", PW1, "voicemail.pin", PIN1,
		      "web.enabled", 1, "web.username", "ada",
		      "web.password", "qz86 vbnm jrkx xt");
	assert_int_equal(store_ext_add(f->s, e, 0, &r, NULL), 0);
	json_decref(e);
	assert_int_equal(sqlite3_open(store_db_path(f->s), &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT web_hash, sip_pw FROM"
		" ext_staged WHERE number = '201'", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(strncmp((const char *)sqlite3_column_text(q, 0),
				 "$argon2id$", 10), 0);
	assert_int_equal(crypto_pwhash_str_verify(
		(const char *)sqlite3_column_text(q, 0),
		"qz86 vbnm jrkx xt", 17), 0);
	/* SIP password not stored in clear */
	assert_null(memmem(sqlite3_column_blob(q, 1),
			   (size_t)sqlite3_column_bytes(q, 1), PW1,
			   strlen(PW1)));
	sqlite3_finalize(q);
	sqlite3_close(db);

	assert_int_equal(store_ext_get(f->s, "201", STORE_STAGED, false, &o),
			 0);
	assert_string_equal(json_string_value(json_object_get(o,
		"auth.password")), "********");
	assert_string_equal(json_string_value(json_object_get(o,
		"voicemail.pin")), "********");
	assert_string_equal(json_string_value(json_object_get(o,
		"web.password")), "********");
	json_decref(o);
	assert_int_equal(store_ext_get(f->s, "201", STORE_STAGED, true, &o),
			 0);
	assert_string_equal(json_string_value(json_object_get(o,
		"auth.password")), PW1);
	assert_string_equal(json_string_value(json_object_get(o,
		"voicemail.pin")), PIN1);
	assert_string_equal(json_string_value(json_object_get(o,
		"web.password")), "********");
	json_decref(o);
	/* edits keep the stored hash valid for model checks */
	o = json_pack("{s:b}", "phone.nat", 1);
	assert_int_equal(store_ext_edit(f->s, "201", o, 0, &r, NULL), 0);
	json_decref(o);
	json_decref(commit_ok(f->s, NULL));
	report_reset(&r);
}

static void test_snapshot_sorted(void **state)
{
	struct fx *f = *state;
	struct snapshot *snap = NULL;

	add_ok(f->s, "30", "Ada Lovelace", PW1, PIN1);
	add_ok(f->s, "201", "Alan Turing", PW2, PIN2);
	add_ok(f->s, "2010", "Grace Hopper", PW3, "583920");
	json_decref(commit_ok(f->s, &snap));
	assert_int_equal(snap->n_ext, 3);
	for (size_t i = 1; i < snap->n_ext; i++)
		assert_true(strcmp(snap->ext[i - 1].number,
				   snap->ext[i].number) < 0);
	assert_non_null(snapshot_find(snap, "2010xyz", 4));
	assert_non_null(snapshot_find(snap, "30", 2));
	assert_null(snapshot_find(snap, "20", 2));
	assert_null(snapshot_find(snap, "3", 1));
	assert_non_null(snapshot_section(snap, "nosuch"));
	assert_int_equal(snap->policy.sip.min_length, 8);
	snapshot_free(snap);
}

/* People read extension numbers as numbers: 201 before 1000, in the
 * list and in every page of it (the snapshot keeps text order). */
static void test_list_numeric(void **state)
{
	static const char *const want[] = { "30", "201", "1000", "2010" };
	struct fx *f = *state;
	json_t *list = NULL, *page = NULL;

	add_ok(f->s, "1000", "Ada Lovelace", PW1, PIN1);
	add_ok(f->s, "201", "Alan Turing", PW2, PIN2);
	add_ok(f->s, "2010", "Grace Hopper", PW3, "583920");
	add_ok(f->s, "30", "Edsger Dijkstra", "Hw6Tc3Ryq", "604172");
	assert_int_equal(store_ext_list(f->s, STORE_STAGED, &list), 0);
	assert_int_equal(json_array_size(list), 4);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(json_string_value(json_object_get(
			json_array_get(list, i), "number")), want[i]);
	/* a page from the middle */
	assert_int_equal(store_ext_page(f->s, STORE_STAGED, "", 1, 2, &page),
			 0);
	assert_int_equal(json_integer_value(json_object_get(page, "total")),
			 4);
	for (size_t i = 0; i < 2; i++)
		assert_string_equal(json_string_value(json_object_get(
			json_array_get(json_object_get(page, "items"), i),
			"number")), want[i + 1]);
	json_decref(list);
	json_decref(page);
	assert_true(store_number_cmp("201", "1000") < 0);
	assert_true(store_number_cmp("1000", "201") > 0);
	assert_true(store_number_cmp("30", "201") < 0);
	assert_true(store_number_cmp("0201", "201") < 0);
	assert_true(store_number_cmp("0201", "1000") < 0);
	assert_int_equal(store_number_cmp("201", "201"), 0);
}

static void test_licences_and_refs(void **state)
{
	struct fx *f = *state;
	json_t *res = NULL, *lic = NULL, *e;
	struct report r;

	report_init(&r);
	set_ok(f->s, "limits", "user", "1");
	assert_int_equal(store_section_set(f->s, "limits", "user", "-2", &r),
			 EINVAL);
	report_reset(&r);
	add_ok(f->s, "201", "Ada Lovelace", PW1, PIN1);
	add_ok(f->s, "202", "Alan Turing", PW2, PIN2);
	assert_int_equal(store_commit(f->s, false, &res, NULL), EINVAL);
	assert_true(has_item(json_object_get(res, "errors"), NULL,
			     "licence.user"));
	json_decref(res);
	assert_int_equal(store_licences(f->s, &lic), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
		lic, "user"), "staged")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
		lic, "user"), "limit")), 1);
	json_decref(lic);
	set_ok(f->s, "limits", "user", "-1");

	/* a referenced extension cannot be removed (refused at commit) */
	e = json_pack("{s:s,s:s,s:s,s:s}", "number", "600", "type",
		      "ring_group", "name", "Sales Team",
		      "ring_group.members", "201,202");
	assert_int_equal(store_ext_add(f->s, e, 0, &r, NULL), 0);
	json_decref(e);
	json_decref(commit_ok(f->s, NULL));
	assert_int_equal(store_ext_remove(f->s, "201", &r), 0);
	assert_int_equal(store_commit(f->s, true, &res, NULL), EINVAL);
	assert_true(has_item(json_object_get(res, "errors"), "600",
			     "ref.missing"));
	json_decref(res);
	report_reset(&r);
}

static void test_pin_previous(void **state)
{
	struct fx *f = *state;
	struct report r;
	json_t *o;

	report_init(&r);
	add_ok(f->s, "201", "Ada Lovelace", PW1, PIN1);
	json_decref(commit_ok(f->s, NULL));
	o = json_pack("{s:s}", "voicemail.pin", PIN1);
	assert_int_equal(store_ext_edit(f->s, "201", o, 0, &r, NULL), EINVAL);
	assert_true(report_has(&r, "201", "vm.no_previous"));
	json_decref(o);
	report_reset(&r);
	assert_int_equal(pending_n(f->s), 0);
}

/* sip_fp of one row, from the database (empty = NULL). */
static size_t db_fp(struct store *s, const char *table, const char *num,
		    unsigned char *fp)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	char sql[128];
	size_t n = 0;

	snprintf(sql, sizeof(sql), "SELECT sip_fp FROM %s WHERE number = ?",
		 table);
	assert_int_equal(sqlite3_open(store_db_path(s), &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	sqlite3_bind_text(q, 1, num, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	n = (size_t)sqlite3_column_bytes(q, 0);
	if (n)
		memcpy(fp, sqlite3_column_blob(q, 0), n);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return n;
}

static void db_exec(struct store *s, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(store_db_path(s), &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* Fingerprints: equal for equal passwords, different otherwise, never
 * the password, keyed (another data dir gives another one); staging
 * refuses a duplicate through them. */
static void test_fingerprints(void **state)
{
	struct fx *f = *state;
	unsigned char a[64], b[64], c[64];
	struct store *s2 = NULL;
	char dir2[64] = "/tmp/store-test2-XXXXXX";
	struct report r;
	json_t *o;

	report_init(&r);
	add_ok(f->s, "201", "Ada Lovelace", PW1, PIN1);
	add_ok(f->s, "202", "Alan Turing", PW2, PIN2);
	assert_int_equal(db_fp(f->s, "ext_staged", "201", a), 16);
	assert_int_equal(db_fp(f->s, "ext_staged", "202", b), 16);
	assert_memory_not_equal(a, b, 16);
	assert_null(memmem(a, 16, PW1, 4));
	json_decref(commit_ok(f->s, NULL));
	assert_int_equal(db_fp(f->s, "ext_running", "201", c), 16);
	assert_memory_equal(a, c, 16);
	/* an edit to another extension's password: refused at staging */
	o = json_pack("{s:s}", "auth.password", PW1);
	assert_int_equal(store_ext_edit(f->s, "202", o, 0, &r, NULL), EINVAL);
	assert_true(report_has(&r, "202", "sip.unique"));
	report_reset(&r);
	/* ... but not against itself */
	json_object_set_new(o, "auth.password", json_string(PW2));
	assert_int_equal(store_ext_edit(f->s, "202", o, 0, &r, NULL), 0);
	json_decref(o);
	report_reset(&r);
	/* keyed: the same password in another data dir differs */
	assert_non_null(mkdtemp(dir2));
	assert_int_equal(store_open(&s2, dir2, "data"), 0);
	add_ok(s2, "201", "Ada Lovelace", PW1, PIN1);
	assert_int_equal(db_fp(s2, "ext_staged", "201", c), 16);
	assert_memory_not_equal(a, c, 16);
	store_close(s2);
	nftw(dir2, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

/* A duplicate reaches the commit with the policy section unchanged
 * (sip.unique switched off and on again while staging): the commit finds
 * it on fingerprints, though no policy change forces a re-check. */
static void test_unique_without_policy_change(void **state)
{
	struct fx *f = *state;
	json_t *res = NULL, *e;
	struct report r;

	report_init(&r);
	add_ok(f->s, "201", "Ada Lovelace", PW1, PIN1);
	json_decref(commit_ok(f->s, NULL));
	set_ok(f->s, "policy", "sip.unique", "false");
	e = sip_ext("202", "Alan Turing", PW1, PIN2);
	assert_int_equal(store_ext_add(f->s, e, 0, &r, NULL), 0);
	json_decref(e);
	set_ok(f->s, "policy", "sip.unique", "true");
	assert_int_equal(store_commit(f->s, false, &res, NULL), EINVAL);
	assert_true(has_item(json_object_get(res, "errors"), "201",
			     "sip.unique"));
	assert_true(has_item(json_object_get(res, "errors"), "202",
			     "sip.unique"));
	json_decref(res);
	/* with auto-fix the unchanged 201 keeps its password */
	set_ok(f->s, "policy", "auto_fix", "true");
	res = commit_ok(f->s, NULL);
	assert_int_equal(json_array_size(json_object_get(res, "fixed")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
		json_object_get(res, "fixed"), 0), "number")), "202");
	json_decref(res);
	report_reset(&r);
}

/* A policy change re-checks every stored secret, also of extensions that
 * did not change; without one, an unchanged secret is not re-checked (a
 * commit of an unrelated edit succeeds). */
static void test_policy_change_rechecks_all(void **state)
{
	struct fx *f = *state;
	json_t *res = NULL, *o;
	struct report r;
	char num[8];

	report_init(&r);
	for (int i = 0; i < 20; i++) {
		char name[32];
		json_t *e, *gens = NULL;

		snprintf(num, sizeof(num), "%d", 300 + i);
		snprintf(name, sizeof(name), "Ada Lovelace");
		e = json_pack("{s:s,s:s,s:s}", "number", num, "type", "sip",
			      "name", name);
		assert_int_equal(store_ext_add(f->s, e, STORE_GEN_PASSWORD |
					       STORE_GEN_PIN, &r, &gens), 0);
		json_decref(e);
		json_decref(gens);
	}
	json_decref(commit_ok(f->s, NULL));
	o = json_pack("{s:b}", "phone.nat", 1);
	assert_int_equal(store_ext_edit(f->s, "300", o, 0, &r, NULL), 0);
	json_decref(o);
	json_decref(commit_ok(f->s, NULL));
	/* generated PINs have 6 digits: all 20 now fail */
	set_ok(f->s, "policy", "vm.min_length", "8");
	assert_int_equal(store_commit(f->s, true, &res, NULL), EINVAL);
	for (int i = 0; i < 20; i++) {
		snprintf(num, sizeof(num), "%d", 300 + i);
		assert_true(has_item(json_object_get(res, "errors"), num,
				     "vm.min_length"));
	}
	json_decref(res);
	report_reset(&r);
}

/* Another connection's write (a second store on the same data dir) is
 * seen by the next commit: the mirror checks meta.ext_gen. */
static void test_mirror_sees_other_writer(void **state)
{
	struct fx *f = *state;
	struct store *s2 = NULL;
	struct snapshot *snap = NULL;
	json_t *o;
	struct report r;

	report_init(&r);
	add_ok(f->s, "201", "Ada Lovelace", PW1, PIN1);
	json_decref(commit_ok(f->s, NULL));
	assert_int_equal(store_open(&s2, f->dir, "data"), 0);
	add_ok(s2, "202", "Alan Turing", PW2, PIN2);
	/* srtp (issue 15): phone.srtp reaches the snapshot */
	o = json_pack("{s:b,s:b,s:[s]}", "phone.nat", 1, "phone.srtp", 1,
		      "phone.transports", "tls");
	assert_int_equal(store_ext_edit(s2, "201", o, 0, &r, NULL), 0);
	json_decref(o);
	store_close(s2);
	json_decref(commit_ok(f->s, &snap));
	assert_int_equal(snap->n_ext, 2);
	assert_true(snapshot_find(snap, "201", 3)->nat);
	assert_true(snapshot_find(snap, "201", 3)->srtp);
	assert_false(snapshot_find(snap, "202", 3)->srtp);
	assert_non_null(snapshot_find(snap, "202", 3));
	snapshot_free(snap);
	/* and a duplicate staged by the other writer is caught */
	assert_int_equal(store_open(&s2, f->dir, "data"), 0);
	set_ok(s2, "policy", "sip.unique", "false");
	add_ok(s2, "203", "Grace Hopper", PW1, "583920");
	set_ok(s2, "policy", "sip.unique", "true");
	store_close(s2);
	assert_int_equal(store_commit(f->s, true, &o, NULL), EINVAL);
	assert_true(has_item(json_object_get(o, "errors"), "203",
			     "sip.unique"));
	json_decref(o);
	report_reset(&r);
}

/* A dry run with auto-fix, and a refused commit, change nothing: not the
 * database, not what the next commit starts from. */
static void test_dry_run_autofix_changes_nothing(void **state)
{
	struct fx *f = *state;
	json_t *res = NULL;
	char *before, *after;

	add_ok(f->s, "201", "Ada Lovelace", PW1, PIN1);
	json_decref(commit_ok(f->s, NULL));
	set_ok(f->s, "policy", "vm.min_length", "8");
	set_ok(f->s, "policy", "auto_fix", "true");
	before = revealed(f->s, "201", STORE_STAGED, "voicemail.pin");
	assert_int_equal(store_commit(f->s, true, &res, NULL), 0);
	assert_int_equal(json_array_size(json_object_get(res, "fixed")), 1);
	assert_null(json_object_get(json_array_get(json_object_get(res,
		"fixed"), 0), "secret"));
	json_decref(res);
	after = revealed(f->s, "201", STORE_STAGED, "voicemail.pin");
	assert_string_equal(before, after);
	free(after);
	/* the real commit fixes it, and staged and running agree after */
	res = commit_ok(f->s, NULL);
	assert_int_equal(json_array_size(json_object_get(res, "fixed")), 1);
	after = revealed(f->s, "201", STORE_RUNNING, "voicemail.pin");
	assert_string_equal(after, json_string_value(json_object_get(
		json_array_get(json_object_get(res, "fixed"), 0), "secret")));
	assert_string_not_equal(before, after);
	free(after);
	free(before);
	json_decref(res);
	assert_int_equal(pending_n(f->s), 0);
	/* a second commit has nothing to do */
	res = commit_ok(f->s, NULL);
	assert_int_equal(json_array_size(json_object_get(res, "changes")), 0);
	json_decref(res);
}

/* Rows from before fingerprints get one when the store opens. */
static void test_fingerprint_backfill(void **state)
{
	struct fx *f = *state;
	unsigned char a[64], b[64];
	json_t *res = NULL, *e;
	struct report r;

	report_init(&r);
	add_ok(f->s, "201", "Ada Lovelace", PW1, PIN1);
	json_decref(commit_ok(f->s, NULL));
	assert_int_equal(db_fp(f->s, "ext_staged", "201", a), 16);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(&f->s, f->dir, "data"), 0);
	db_exec(f->s, "UPDATE ext_staged SET sip_fp = NULL;"
		"UPDATE ext_running SET sip_fp = NULL;");
	store_close(f->s);
	assert_int_equal(store_open(&f->s, f->dir, "data"), 0);
	assert_int_equal(db_fp(f->s, "ext_staged", "201", b), 16);
	assert_memory_equal(a, b, 16);
	assert_int_equal(db_fp(f->s, "ext_running", "201", b), 16);
	e = sip_ext("202", "Alan Turing", PW1, PIN2);
	assert_int_equal(store_ext_add(f->s, e, 0, &r, NULL), EINVAL);
	assert_true(report_has(&r, "202", "sip.unique"));
	json_decref(e);
	assert_int_equal(store_commit(f->s, false, &res, NULL), 0);
	json_decref(res);
	report_reset(&r);
}

/* store_pending_count (what GET /status reports, counted in SQL) and
 * store_pending (only differing rows read) equal the diff a commit
 * computes over both whole tables (dry run), at every step. */
static void expect_pending(struct store *s, size_t want)
{
	json_t *d = NULL, *res = NULL;
	size_t n = 99;

	assert_int_equal(store_pending_count(s, &n), 0);
	assert_int_equal(n, want);
	assert_int_equal(store_pending(s, &d), 0);
	assert_int_equal(json_array_size(d), want);
	assert_int_equal(store_commit(s, true, &res, NULL), 0);
	assert_true(json_equal(d, json_object_get(res, "changes")));
	json_decref(res);
	json_decref(d);
}

static void test_pending_count(void **state)
{
	struct fx *f = *state;
	struct report r;
	json_t *o, *d = NULL;

	report_init(&r);
	expect_pending(f->s, 0);
	add_ok(f->s, "201", "Ada Lovelace", PW1, PIN1);
	add_ok(f->s, "2010", "Alan Turing", PW2, PIN2);
	add_ok(f->s, "203", "Grace Hopper", PW3, "593817");
	expect_pending(f->s, 3);
	json_decref(commit_ok(f->s, NULL));
	expect_pending(f->s, 0);

	/* a field, a secret only (same doc), a removal, an addition, a
	 * section */
	o = json_pack("{s:b}", "phone.nat", 1);
	assert_int_equal(store_ext_edit(f->s, "201", o, 0, &r, NULL), 0);
	json_decref(o);
	expect_pending(f->s, 1);
	o = json_pack("{s:s}", "voicemail.pin", "720394");
	assert_int_equal(store_ext_edit(f->s, "2010", o, 0, &r, NULL), 0);
	json_decref(o);
	assert_int_equal(store_ext_remove(f->s, "203", &r), 0);
	add_ok(f->s, "20", "Edsger Dijkstra", "Tc6Lm3Rvd", "846215");
	set_ok(f->s, "sip", "realm", "example");
	expect_pending(f->s, 5);
	assert_int_equal(store_pending(f->s, &d), 0);
	/* number order, byte-wise: 20 < 201 < 2010 < 203, sections last */
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(d, 0), "op")), "add");
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(d, 2), "key")), "2010");
	assert_string_equal(json_string_value(json_array_get(json_object_get(
		json_array_get(d, 2), "fields"), 0)), "voicemail.pin");
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(d, 3), "op")), "remove");
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(d, 4), "kind")), "section");
	json_decref(d);

	/* edited back to the running value: no longer pending */
	o = json_pack("{s:b}", "phone.nat", 0);
	assert_int_equal(store_ext_edit(f->s, "201", o, 0, &r, NULL), 0);
	json_decref(o);
	expect_pending(f->s, 4);
	assert_int_equal(store_discard(f->s), 0);
	expect_pending(f->s, 0);
	set_ok(f->s, "sip", "realm", "example");
	o = json_pack("{s:b}", "phone.nat", 1);
	assert_int_equal(store_ext_edit(f->s, "203", o, 0, &r, NULL), 0);
	json_decref(o);
	expect_pending(f->s, 2);
	json_decref(commit_ok(f->s, NULL));
	expect_pending(f->s, 0);
	report_reset(&r);
}

/* commit_log keeps the last STORE_LOG_KEEP (1000) commits. */
static void test_commit_log_bounded(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;
	sqlite3_stmt *q;

	db_exec(f->s, "WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1"
		" FROM n WHERE v < 1500) INSERT INTO commit_log(version, at,"
		" changes) SELECT v, 0, '[]' FROM n;"
		"UPDATE meta SET value = '1500' WHERE key = 'commit_version';");
	json_t *res;
	char *want;

	add_ok(f->s, "201", "Ada Lovelace", PW1, PIN1);
	add_ok(f->s, "202", "Alan Turing", PW2, PIN2);
	set_ok(f->s, "policy", "sip.min_length", "9");
	res = commit_ok(f->s, NULL);
	want = json_dumps(json_object_get(res, "changes"), JSON_COMPACT);
	json_decref(res);
	assert_int_equal(sqlite3_open(store_db_path(f->s), &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(*), MIN(version),"
		" MAX(version) FROM commit_log", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 1000);
	assert_int_equal(sqlite3_column_int(q, 1), 502);
	assert_int_equal(sqlite3_column_int(q, 2), 1501);
	sqlite3_finalize(q);
	/* the logged changes are exactly the commit's, as compact JSON */
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT changes FROM commit_log"
		" WHERE version = 1501", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_non_null(strstr(want, "sip.min_length"));
	assert_string_equal((const char *)sqlite3_column_text(q, 0), want);
	sqlite3_finalize(q);
	sqlite3_close(db);
	free(want);
}

/* The store's JSON writer gives json_dumps' text byte for byte (docs are
 * compared as text). */
static void test_json_text(void **state)
{
	const char *const cases[] = {
		"{\"b\":1,\"a\":[\"x\",\"y\"],\"c\":{\"z\":true,\"y\":false,"
		"\"x\":null},\"d\":-42,\"e\":\"\"}",
		"[\"q\\\"uote\",\"back\\\\slash\",\"nl\\n tab\\t cr\\r bs\\b "
		"ff\\f\",\"ctl\\u0001\\u001f del\\u007f\",\"utf8 \\u00e9\\u20ac"
		"\",\"slash/\"]",
		"{}", "[]", "{\"k\":[[],{}]}",
		"{\"phone.nat\":true,\"auth.algorithms\":[\"md5\"],"
		"\"name\":\"Ada Lovelace\",\"number\":\"201\","
		"\"phone.max_contacts\":3}",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = json_loads(cases[i], 0, NULL);

		assert_non_null(v);
		for (int sort = 0; sort < 2; sort++) {
			char *want = json_dumps(v, JSON_COMPACT |
						(sort ? JSON_SORT_KEYS : 0));
			char *got = store_json_text(v, sort);

			assert_string_equal(got, want);
			free(want);
			free(got);
		}
		json_decref(v);
	}
}

/* ---- storage health (issue 8: a full disk must not lose data silently) */

static void test_health_states(void **state)
{
	uint64_t deg = 0, rec = 0;
	char why[256];
	json_t *j;

	store_health_reset();
	assert_false(store_health_degraded());
	/* a failed admin write: degraded, named, counted */
	store_health_failed(STORE_HS_CONFIG, ENOSPC, "ext_staged");
	assert_true(store_health_degraded());
	store_health_transitions(&deg, &rec, why, sizeof(why));
	assert_int_equal(deg, 1);
	assert_int_equal(rec, 0);
	assert_non_null(strstr(why, "config"));
	assert_non_null(strstr(why, strerror(ENOSPC)));
	/* the bindings writer fails and keeps 3 changes */
	store_health_failed(STORE_HS_BINDINGS, ENOSPC, "3 changes");
	store_health_pending(STORE_HS_BINDINGS, 3, 0);
	j = store_health_json();
	assert_string_equal(json_string_value(json_object_get(j, "state")),
			    "degraded");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
		j, "failed_writes"), "bindings")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
		j, "pending"), "bindings")), 3);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
		j, "last_error"), "source")), "bindings");
	json_decref(j);
	/* a write that works but leaves changes waiting is still degraded */
	store_health_ok(STORE_HS_BINDINGS);
	assert_true(store_health_degraded());
	/* everything written: ok again, and config (nothing to retry) was
	 * cleared by the database write that worked */
	store_health_pending(STORE_HS_BINDINGS, 0, 0);
	assert_false(store_health_degraded());
	store_health_transitions(&deg, &rec, NULL, 0);
	assert_int_equal(deg, 1);
	assert_int_equal(rec, 1);
	/* security.log is not the database: a database write does not clear
	 * it, only its own */
	store_health_failed(STORE_HS_SECLOG, ENOSPC, "security.log");
	store_health_ok(STORE_HS_GUARD);
	assert_true(store_health_degraded());
	store_health_ok(STORE_HS_SECLOG);
	assert_false(store_health_degraded());
	store_health_transitions(&deg, &rec, NULL, 0);
	assert_int_equal(deg, 2);
	assert_int_equal(rec, 2);
	j = store_health_json();
	/* counters are totals, the state is now */
	assert_string_equal(json_string_value(json_object_get(j, "state")),
			    "ok");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
		j, "failed_writes"), "security_log")), 1);
	assert_int_equal(json_integer_value(json_object_get(j,
		"recovered_count")), 2);
	json_decref(j);
	store_health_reset();
}

static void test_sqlite_errno(void **state)
{
	assert_int_equal(store_sqlite_errno(NULL, SQLITE_FULL), ENOSPC);
	assert_int_equal(store_sqlite_errno(NULL, SQLITE_READONLY), EROFS);
	assert_int_equal(store_sqlite_errno(NULL, SQLITE_BUSY), EBUSY);
	assert_int_equal(store_sqlite_errno(NULL, SQLITE_IOERR_WRITE), EIO);
	assert_int_equal(store_sqlite_errno(NULL, SQLITE_CONSTRAINT), EIO);
}

/* The database refuses to grow (as on a full disk): every write path
 * answers ENOSPC, changes nothing, and the health record says so; once
 * it may grow the same write works and the state is ok again. */
static void test_disk_full_write(void **state)
{
	struct fx *f = *state;
	struct snapshot *snap = NULL;
	json_t *res = NULL;
	struct report r;
	char num[8];
	size_t pending = 0, before;
	int err = 0, i;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t pages = 0;

	store_health_reset();
	add_ok(f->s, "200", "Ann Lee", PW1, PIN1);
	/* enough staged rows that their commit needs pages of its own */
	for (i = 0; i < 40; i++) {
		json_t *e;

		snprintf(num, sizeof(num), "%d", 1000 + i);
		e = json_pack("{s:s,s:s,s:s}", "number", num, "type", "sip",
			      "name", "Cy Filler");
		report_init(&r);
		assert_int_equal(store_ext_add(f->s, e, STORE_GEN_PASSWORD |
					       STORE_GEN_PIN, &r, NULL), 0);
		report_reset(&r);
		json_decref(e);
	}
	/* a second connection says how big the database is now */
	assert_int_equal(sqlite3_open(store_db_path(f->s), &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &st,
					    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	pages = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	store_test_max_pages(f->s, (unsigned)pages);
	assert_int_equal(store_pending_count(f->s, &before), 0);
	/* fill what is left of the last pages */
	for (i = 0; i < 400 && !err; i++) {
		json_t *e;

		snprintf(num, sizeof(num), "%d", 300 + i);
		e = json_pack("{s:s,s:s,s:s}", "number", num, "type", "sip",
			      "name", "Bob Filler");
		report_init(&r);
		err = store_ext_add(f->s, e, STORE_GEN_PASSWORD |
				    STORE_GEN_PIN, &r, NULL);
		report_reset(&r);
		json_decref(e);
	}
	assert_int_equal(err, ENOSPC);
	assert_true(store_health_degraded());
	/* the refused row is not there; the ones before are */
	{
		json_t *got = NULL;

		assert_int_equal(store_ext_get(f->s, num, STORE_STAGED, false,
					       &got), ENOENT);
		json_decref(got);
	}
	assert_int_equal(store_pending_count(f->s, &pending), 0);
	assert_int_equal(pending, before + (size_t)i - 1);
	/* a commit is refused the same way, and changes nothing */
	err = store_commit(f->s, false, &res, &snap);
	assert_int_equal(err, ENOSPC);
	json_decref(res);
	res = NULL;
	snapshot_free(snap);
	snap = NULL;
	assert_int_equal(store_pending_count(f->s, &pending), 0);
	assert_int_equal(pending, before + (size_t)i - 1);
	/* space again */
	store_test_max_pages(f->s, 1u << 30);
	add_ok(f->s, num, "Bob Filler", PW2, PIN2);
	assert_false(store_health_degraded());
	json_decref(commit_ok(f->s, &snap));
	snapshot_free(snap);
	assert_int_equal(store_pending_count(f->s, &pending), 0);
	assert_int_equal(pending, 0);
	store_health_reset();
}

/* Issue 10: a class of service is a configuration object; an extension
 * naming one that does not exist is refused at commit (cos.unknown). */
static void test_cos_unknown_refused(void **state)
{
	struct fx *f = *state;
	struct report r;
	json_t *e = sip_ext("201", "Ada Lovelace", PW1, PIN1), *res = NULL;

	report_init(&r);
	json_object_set_new(e, "class_of_service", json_string("sales"));
	assert_int_equal(store_ext_add(f->s, e, 0, &r, NULL), 0);
	json_decref(e);
	assert_int_equal(store_commit(f->s, true, &res, NULL), EINVAL);
	assert_true(has_item(json_object_get(res, "errors"), "201",
			     "cos.unknown"));
	json_decref(res);
	assert_int_equal(store_section_set(f->s, "cos", "sales", "teleport",
					   &r), EINVAL);
	assert_true(report_has(&r, NULL, "cos.unknown_feature"));
	report_reset(&r);
	set_ok(f->s, "cos", "sales", "voicemail,hotdesk");
	json_decref(commit_ok(f->s, NULL));
	/* removing a class still used is refused at commit */
	set_ok(f->s, "cos", "sales", "-");
	res = NULL;
	assert_int_equal(store_commit(f->s, false, &res, NULL), EINVAL);
	assert_true(has_item(json_object_get(res, "errors"), "201",
			     "cos.unknown"));
	json_decref(res);
	/* two features on one code */
	set_ok(f->s, "cos", "sales", "voicemail");
	set_ok(f->s, "features", "pickup", "*97");
	res = NULL;
	assert_int_equal(store_commit(f->s, false, &res, NULL), EINVAL);
	assert_true(has_item(json_object_get(res, "errors"), NULL,
			     "features.duplicate_code"));
	json_decref(res);
	report_reset(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_open_migrate_reopen),
		T(test_key_perms),
		T(test_stage_pending_discard_commit),
		T(test_refused_add_changes_nothing),
		T(test_policy_breach_no_autofix),
		T(test_autofix),
		T(test_unique),
		T(test_ha1_and_prev),
		T(test_snapshot_routing),
		T(test_snapshot_callerid),
		T(test_bulk),
		T(test_csv),
		T(test_web_password_and_reveal),
		T(test_snapshot_sorted),
		T(test_list_numeric),
		T(test_licences_and_refs),
		T(test_pin_previous),
		T(test_fingerprints),
		T(test_unique_without_policy_change),
		T(test_policy_change_rechecks_all),
		T(test_mirror_sees_other_writer),
		T(test_dry_run_autofix_changes_nothing),
		T(test_fingerprint_backfill),
		T(test_commit_log_bounded),
		T(test_pending_count),
		T(test_cos_unknown_refused),
		T(test_disk_full_write),
		cmocka_unit_test(test_health_states),
		cmocka_unit_test(test_sqlite_errno),
		cmocka_unit_test(test_json_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
