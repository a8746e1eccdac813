/*
 * commit — validate the whole staged configuration, auto-fix or refuse,
 * then write running := staged in one SQLite transaction and build the
 * snapshot. See docs/admin/commit.md and docs/internals/store.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/types.h>

#include "store/store_int.h"
#include "store/snapshot.h"

struct commit {
	struct store *s;
	struct policy p;
	struct ext_row *st, *ru;
	size_t ns, nr;
	ssize_t *rmap;            /* staged index → running index or -1 */
	json_t **objs;            /* staged extensions with plaintext secrets */
	char *(*plain)[SEC_N];    /* decrypted secrets per staged row */
	bool *fixed_row;          /* staged row changed by auto-fix */
	json_t *stsec, *rusec;
	json_t *fixed;
	struct report errs;
	char realm[64], old_realm[64];
};

static void commit_free(struct commit *c)
{
	for (size_t i = 0; c->plain && i < c->ns; i++) {
		for (int k = 0; k < SEC_N; k++)
			store_wipe(c->plain[i][k]);
	}
	for (size_t i = 0; c->objs && i < c->ns; i++) {
		store_ext_wipe(c->objs[i]);
		json_decref(c->objs[i]);
	}
	free(c->plain);
	free(c->objs);
	free(c->rmap);
	free(c->fixed_row);
	store_rows_free(c->st, c->ns);
	store_rows_free(c->ru, c->nr);
	json_decref(c->stsec);
	json_decref(c->rusec);
	if (c->fixed) {
		size_t i;
		json_t *v;

		json_array_foreach(c->fixed, i, v)
			json_wipe(json_object_get(v, "secret"));
	}
	json_decref(c->fixed);
	report_reset(&c->errs);
}

struct centry {
	struct ext_row row;
	size_t seq;
};

static int centry_cmp(const void *a, const void *b)
{
	const struct centry *x = a, *y = b;
	int c = strcmp(x->row.number, y->row.number);

	return c ? c : (x->seq < y->seq ? -1 : x->seq > y->seq);
}

/* Add the parsed docs of freshly staged rows (row->obj set) to the cache,
 * newest entry winning, so the next commit need not parse them. */
void store_cache_put(struct store *s, const struct ext_row *rows, size_t n)
{
	size_t tot = s->ncache + n, m = 0;
	struct centry *e = calloc(tot + 1, sizeof(*e));
	struct ext_row *cache;

	if (!e)
		return;
	for (size_t i = 0; i < s->ncache; i++) {
		e[m].row = s->cache[i];
		e[m].seq = m;
		m++;
	}
	for (size_t i = 0; i < n; i++) {
		if (!rows[i].obj)
			continue;
		memcpy(e[m].row.number, rows[i].number, sizeof(rows[i].number));
		e[m].row.doc = strdup(rows[i].doc);
		e[m].row.obj = json_incref(rows[i].obj);
		e[m].seq = m;
		m++;
	}
	qsort(e, m, sizeof(*e), centry_cmp);
	cache = calloc(m + 1, sizeof(*cache));
	if (!cache) {
		for (size_t i = 0; i < m; i++)
			ext_row_clear(&e[i].row);
		free(e);
		free(s->cache);
		s->cache = NULL;
		s->ncache = 0;
		return;
	}
	tot = 0;
	for (size_t i = 0; i < m; i++) {
		if (i + 1 < m && !strcmp(e[i].row.number, e[i + 1].row.number)) {
			ext_row_clear(&e[i].row);   /* superseded */
			continue;
		}
		if (!e[i].row.doc) {
			ext_row_clear(&e[i].row);
			continue;
		}
		cache[tot++] = e[i].row;
	}
	free(e);
	free(s->cache);
	s->cache = cache;
	s->ncache = tot;
}

/* Keep the parsed staged docs for the next commit. */
static void cache_keep(struct commit *c)
{
	struct store *s = c->s;
	struct ext_row *cache = calloc(c->ns + 1, sizeof(*cache));
	size_t n = 0;

	if (!cache)
		return;
	for (size_t i = 0; i < c->ns; i++) {
		if (!c->st[i].obj)
			continue;
		memcpy(cache[n].number, c->st[i].number,
		       sizeof(cache[n].number));
		cache[n].doc = c->st[i].doc;
		cache[n].obj = c->st[i].obj;
		c->st[i].doc = strdup("");
		c->st[i].obj = NULL;
		n++;
	}
	store_rows_free(s->cache, s->ncache);
	s->cache = cache;
	s->ncache = n;
}

static int commit_load(struct commit *c)
{
	struct store *s = c->s;
	size_t j = 0;
	int err;

	err = store_rows_load(s, STORE_STAGED, &c->st, &c->ns);
	if (!err)
		err = store_rows_load(s, STORE_RUNNING, &c->ru, &c->nr);
	if (!err)
		err = store_sections_load(s, STORE_STAGED, &c->stsec);
	if (!err)
		err = store_sections_load(s, STORE_RUNNING, &c->rusec);
	if (err)
		return err;
	store_policy_from(json_object_get(c->stsec, "policy"), &c->p);
	store_realm_from(c->stsec, c->realm, sizeof(c->realm));
	store_realm_from(c->rusec, c->old_realm, sizeof(c->old_realm));

	c->rmap = calloc(c->ns + 1, sizeof(*c->rmap));
	c->objs = calloc(c->ns + 1, sizeof(*c->objs));
	c->plain = calloc(c->ns + 1, sizeof(*c->plain));
	c->fixed_row = calloc(c->ns + 1, sizeof(*c->fixed_row));
	c->fixed = json_array();
	if (!c->rmap || !c->objs || !c->plain || !c->fixed_row || !c->fixed)
		return ENOMEM;

	for (size_t i = 0, ci = 0; i < c->ns; i++) {
		struct ext_row *row = &c->st[i];
		json_t *o;

		/* reuse the parsed doc of the last commit if unchanged */
		while (ci < s->ncache &&
		       strcmp(s->cache[ci].number, row->number) < 0)
			ci++;
		if (ci < s->ncache && !row->obj &&
		    !strcmp(s->cache[ci].number, row->number) &&
		    !strcmp(s->cache[ci].doc, row->doc))
			row->obj = json_incref(s->cache[ci].obj);
		while (j < c->nr && strcmp(c->ru[j].number, row->number) < 0)
			j++;
		c->rmap[i] = j < c->nr && !strcmp(c->ru[j].number, row->number)
			? (ssize_t)j : -1;
		o = ext_row_obj(row);
		c->objs[i] = o ? json_copy(o) : json_object();
		if (!c->objs[i])
			return ENOMEM;
		for (int k = 0; k < SEC_N; k++) {
			if (!row->sec[k].p)
				continue;
			if (store_secdefs[k].hashed) {
				json_object_set_new(c->objs[i],
					store_secdefs[k].field,
					json_string(MODEL_SECRET_MASK));
				continue;
			}
			if (store_open_blob(s, &row->sec[k], &c->plain[i][k])) {
				report_add(&c->errs, row->number,
					   store_secdefs[k].field,
					   "secret.unreadable", "The stored "
					   "secret cannot be decrypted with "
					   "DATA/secret.key; set it again.");
				continue;
			}
			json_object_set_new(c->objs[i], store_secdefs[k].field,
					    json_string(c->plain[i][k]));
		}
	}
	return 0;
}

/* Replace secret k of staged row i by a generated one. */
static int commit_fix(struct commit *c, size_t i, int k, const char *prev)
{
	struct ext_row *row = &c->st[i];
	const json_t *o = c->objs[i];
	char buf[128];
	struct blob b = {NULL, 0};
	int err;

	if (store_sec_check(k) == CHECK_SIP)
		err = policy_generate_sip(&c->p, c->s->dict, row->number,
			json_string_value(json_object_get(o, "name")),
			buf, sizeof(buf));
	else
		err = policy_generate_pin(&c->p, row->number, prev, buf,
					  sizeof(buf));
	if (err) {
		report_add(&c->errs, row->number, store_secdefs[k].field,
			   "policy.auto_fix", "No compliant secret could be "
			   "generated; the policy contradicts itself.");
		return err;
	}
	err = store_seal(c->s, buf, &b);
	if (err)
		goto out;
	blob_free(&row->sec[k]);
	row->sec[k] = b;
	store_wipe(c->plain[i][k]);
	c->plain[i][k] = strdup(buf);
	json_object_set_new(c->objs[i], store_secdefs[k].field,
			    json_string(buf));
	json_array_append_new(c->fixed, json_pack("{s:s,s:s,s:s}",
			      "number", row->number,
			      "field", store_secdefs[k].field, "secret", buf));
	c->fixed_row[i] = true;
	if (k == SEC_VM_PIN)
		row->must_change = false;
 out:
	sodium_memzero(buf, sizeof(buf));
	return err;
}

/* Re-check every stored secret against the staged policy. */
static void commit_check_secrets(struct commit *c)
{
	for (size_t i = 0; i < c->ns; i++) {
		struct ext_row *row = &c->st[i];
		ssize_t j = c->rmap[i];

		for (int k = 0; k < SEC_N; k++) {
			const char *v = c->plain[i][k];
			enum check_kind ck = store_sec_check(k);
			struct report tmp;
			char *prev = NULL;
			bool must = false;
			int err = 0;

			if (!v || ck == CHECK_NONE)
				continue;
			report_init(&tmp);
			/* "previous": the running value this one replaces */
			if (ck == CHECK_PIN && j >= 0 &&
			    c->ru[j].sec[k].p &&
			    !blob_eq(&c->ru[j].sec[k], &row->sec[k]))
				store_open_blob(c->s, &c->ru[j].sec[k], &prev);
			if (ck == CHECK_SIP)
				err = policy_check_sip(&c->p, c->s->dict, v,
					row->number,
					json_string_value(json_object_get(
						c->objs[i], "name")), &tmp);
			else
				err = policy_check_pin(&c->p, v, row->number,
					prev, k == SEC_VM_PIN &&
					store_force_new_user(c->objs[i]),
					&must, &tmp);
			if (!err && k == SEC_VM_PIN)
				row->must_change = must;
			if (err && c->p.auto_fix) {
				report_reset(&tmp);
				commit_fix(c, i, k, prev);
			} else if (err) {
				if (!report_count(&tmp))
					report_add(&tmp, "",
						   store_secdefs[k].field,
						   "policy", "Does not comply "
						   "with the policy.");
				report_merge(&c->errs, &tmp, row->number);
			}
			store_wipe(prev);
		}
	}
}

/* SIP passwords unique across extensions ("sip.unique"). With auto-fix,
 * the member of a group whose password did not change keeps it (else the
 * first by number); the others get generated ones. */
static int commit_check_unique(struct commit *c)
{
	struct pwent *e;
	unsigned char key[32];
	size_t m = 0;

	if (!c->p.sip.unique)
		return 0;
	e = calloc(c->ns + 1, sizeof(*e));
	if (!e)
		return ENOMEM;
	randombytes_buf(key, sizeof(key));
	for (size_t i = 0; i < c->ns; i++) {
		if (!c->plain[i][SEC_SIP_PW])
			continue;
		store_pw_digest(key, c->plain[i][SEC_SIP_PW], e[m].h);
		snprintf(e[m].number, sizeof(e[m].number), "%s",
			 c->st[i].number);
		snprintf(e[m].where, sizeof(e[m].where), "%s",
			 c->st[i].number);
		e[m].idx = i;
		e[m].fresh = true;
		m++;
	}
	sodium_memzero(key, sizeof(key));
	if (!c->p.auto_fix) {
		store_pw_dups(e, m, &c->errs);
		free(e);
		return 0;
	}
	store_pw_sort(e, m);
	for (size_t a = 0; a < m;) {
		size_t b = a + 1, keep = a;

		while (b < m && !memcmp(e[b].h, e[a].h, sizeof(e[a].h)))
			b++;
		for (size_t k = a; k < b; k++) {
			ssize_t j = c->rmap[e[k].idx];

			if (j >= 0 && blob_eq(&c->ru[j].sec[SEC_SIP_PW],
					      &c->st[e[k].idx].sec[SEC_SIP_PW])) {
				keep = k;
				break;
			}
		}
		for (size_t k = a; b - a > 1 && k < b; k++) {
			if (k != keep)
				commit_fix(c, e[k].idx, SEC_SIP_PW, NULL);
		}
		a = b;
	}
	free(e);
	return 0;
}

static void commit_sections(struct commit *c)
{
	size_t n = store_section_count();

	for (size_t i = 0; i < n; i++) {
		const struct store_section *sec = store_section_at(i);
		struct report tmp;

		if (!sec->validate)
			continue;
		report_init(&tmp);
		if (sec->validate(json_object_get(c->stsec, sec->name), &tmp)
		    && !report_count(&tmp))
			report_add(&tmp, sec->name, "", "section.invalid",
				   "Section %s is not valid.", sec->name);
		report_merge(&c->errs, &tmp, sec->name);
	}
}

static long limit_of(const json_t *secs, const char *key)
{
	const json_t *v = json_object_get(json_object_get(secs, "limits"),
					  key);

	return json_is_integer(v) ? (long)json_integer_value(v) : -1;
}

/* The running row that staged row i becomes: digests recomputed when the
 * password or the realm changed, the previous pair kept for 7 days. */
static void commit_ha1(struct commit *c, size_t i, int64_t now)
{
	struct ext_row *row = &c->st[i];
	ssize_t j = c->rmap[i];
	const struct ext_row *old = j >= 0 ? &c->ru[j] : NULL;
	const char *pw = c->plain[i][SEC_SIP_PW];
	bool changed;

	row->ha1_md5[0] = row->ha1_sha256[0] = '\0';
	row->prev_md5[0] = row->prev_sha256[0] = '\0';
	row->prev_until = 0;
	if (!pw)
		return;
	changed = !old || !blob_eq(&old->sec[SEC_SIP_PW],
				   &row->sec[SEC_SIP_PW]);
	if (!changed && old->ha1_md5[0] && !strcmp(c->realm, c->old_realm)) {
		memcpy(row->ha1_md5, old->ha1_md5, sizeof(row->ha1_md5));
		memcpy(row->ha1_sha256, old->ha1_sha256,
		       sizeof(row->ha1_sha256));
	} else {
		store_ha1(row->number, c->realm, pw, row->ha1_md5,
			  row->ha1_sha256);
	}
	if (changed && old && old->ha1_md5[0]) {
		memcpy(row->prev_md5, old->ha1_md5, sizeof(row->prev_md5));
		memcpy(row->prev_sha256, old->ha1_sha256,
		       sizeof(row->prev_sha256));
		row->prev_until = now + STORE_PREV_TTL;
	} else if (!changed && old && old->prev_until > now) {
		memcpy(row->prev_md5, old->prev_md5, sizeof(row->prev_md5));
		memcpy(row->prev_sha256, old->prev_sha256,
		       sizeof(row->prev_sha256));
		row->prev_until = old->prev_until;
	}
}

static bool running_same(const struct ext_row *a, const struct ext_row *b)
{
	if (strcmp(a->doc, b->doc) || a->must_change != b->must_change ||
	    strcmp(a->ha1_md5, b->ha1_md5) ||
	    strcmp(a->ha1_sha256, b->ha1_sha256) ||
	    strcmp(a->prev_md5, b->prev_md5) || a->prev_until != b->prev_until)
		return false;
	for (int k = 0; k < SEC_N; k++) {
		if (!blob_eq(&a->sec[k], &b->sec[k]))
			return false;
	}
	return true;
}

static int exec_stmt(struct store *s, const char *sql, const char *a,
		     const char *b, int64_t n)
{
	sqlite3_stmt *st = NULL;
	int err = 0;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return EIO;
	if (a)
		sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	if (n >= 0)
		sqlite3_bind_int64(st, b ? 3 : a ? 2 : 1, n);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = EIO;
	sqlite3_finalize(st);
	return err;
}

uint64_t store_version(struct store *s)
{
	sqlite3_stmt *st = NULL;
	uint64_t v = 0;

	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = "
			       "'commit_version'", -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The one write: running := staged (changed rows only), fixed secrets
 * back into staged, sections, version, log. All or nothing. */
static int commit_write(struct commit *c, uint64_t version,
			const json_t *changes, const json_t *changed_secs)
{
	struct store *s = c->s;
	size_t i = 0, j = 0;
	char *log = NULL;
	int err;

	err = store_tx_begin(s);
	if (err)
		return err;
	for (i = 0; i < c->ns && !err; i++) {
		ssize_t r = c->rmap[i];

		if (c->fixed_row[i])
			err = store_row_write(s, STORE_STAGED, &c->st[i]);
		if (!err && (r < 0 || !running_same(&c->st[i], &c->ru[r])))
			err = store_row_write(s, STORE_RUNNING, &c->st[i]);
	}
	/* running rows no longer staged */
	for (i = 0, j = 0; j < c->nr && !err; j++) {
		while (i < c->ns && strcmp(c->st[i].number,
					   c->ru[j].number) < 0)
			i++;
		if (i >= c->ns || strcmp(c->st[i].number, c->ru[j].number))
			err = exec_stmt(s, "DELETE FROM ext_running WHERE "
					"number = ?", c->ru[j].number, NULL,
					-1);
	}
	for (i = 0; i < json_array_size(changed_secs) && !err; i++) {
		const char *name = json_string_value(
			json_array_get(changed_secs, i));
		char *doc = json_dumps(json_object_get(c->stsec, name),
				       JSON_COMPACT | JSON_SORT_KEYS);

		if (!doc) {
			err = ENOMEM;
			break;
		}
		err = exec_stmt(s, "INSERT OR REPLACE INTO section_running"
				"(name, doc) VALUES (?, ?)", name, doc, -1);
		if (!err)
			err = exec_stmt(s, "INSERT OR REPLACE INTO "
					"section_staged(name, doc) VALUES "
					"(?, ?)", name, doc, -1);
		free(doc);
	}
	if (!err) {
		char v[24];

		snprintf(v, sizeof(v), "%llu", (unsigned long long)version);
		err = exec_stmt(s, "UPDATE meta SET value = ? WHERE key = "
				"'commit_version'", v, NULL, -1);
	}
	if (!err) {
		log = json_dumps(changes, JSON_COMPACT);
		err = log ? exec_stmt(s, "INSERT INTO commit_log(changes, "
				      "version, at) VALUES (?, ?, "
				      "strftime('%s','now'))", log, NULL,
				      (int64_t)version) : ENOMEM;
		free(log);
	}
	if (err) {
		store_tx_rollback(s);
		return err;
	}
	return store_tx_commit(s);
}

int store_commit(struct store *s, bool dry_run, json_t **result,
		 struct snapshot **snap)
{
	struct commit c;
	struct model_limits lim;
	json_t *changes = NULL, *changed_secs = NULL, *res = NULL;
	uint64_t version;
	int64_t now = (int64_t)time(NULL);
	int err;

	if (!s || !result)
		return EINVAL;
	memset(&c, 0, sizeof(c));
	c.s = s;
	report_init(&c.errs);
	pthread_mutex_lock(&s->lock);
	err = commit_load(&c);
	if (err)
		goto out;
	version = store_version(s);

	commit_sections(&c);
	commit_check_secrets(&c);
	err = commit_check_unique(&c);
	if (err)
		goto out;
	lim.user = limit_of(c.stsec, "user");
	lim.shared = limit_of(c.stsec, "shared");
	model_validate_set(c.objs, c.ns, &lim, &c.errs);

	changes = json_array();
	changed_secs = json_array();
	if (!changes || !changed_secs) {
		err = ENOMEM;
		goto out;
	}
	if (report_count(&c.errs)) {
		res = json_pack("{s:b,s:I,s:[],s:[],s:o}", "ok", 0,
				"version", (json_int_t)version, "changes",
				"fixed", "errors", store_report_json(&c.errs));
		err = EINVAL;
		goto out;
	}
	for (size_t i = 0; i < c.ns; i++)
		commit_ha1(&c, i, now);
	store_diff(c.st, c.ns, c.ru, c.nr, c.stsec, c.rusec, changes,
		   changed_secs);
	if (json_array_size(changes))
		version++;
	if (dry_run) {
		size_t i;
		json_t *v;

		json_array_foreach(c.fixed, i, v) {
			json_wipe(json_object_get(v, "secret"));
			json_object_del(v, "secret");
		}
	} else if (json_array_size(changes)) {
		err = commit_write(&c, version, changes, changed_secs);
		if (err)
			goto out;
	}
	res = json_pack("{s:b,s:b,s:I,s:O,s:O,s:o,s:[]}", "ok", 1,
			"dry_run", dry_run, "version", (json_int_t)version,
			"changes", changes, "sections", changed_secs,
			"fixed", json_deep_copy(c.fixed), "errors");
	if (!res) {
		err = ENOMEM;
		goto out;
	}
	if (!dry_run && snap) {
		err = store_snapshot_build(c.st, c.ns, c.stsec, version, snap);
		if (err)
			goto out;
	}
 out:
	if (c.st)
		cache_keep(&c);
	pthread_mutex_unlock(&s->lock);
	if (!res && err != EINVAL)
		res = json_pack("{s:b,s:[],s:[],s:[{s:s,s:s,s:s,s:s}]}",
				"ok", 0, "changes", "fixed", "errors",
				"where", "", "field", "", "rule", "store.io",
				"message", "The database could not be read "
				"or written; nothing was changed.");
	*result = res;
	json_decref(changes);
	json_decref(changed_secs);
	commit_free(&c);
	return err;
}
