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

/* The commit works on shallow copies of the mirror's staged rows: doc and
 * obj are borrowed (never modified), a secret blob is borrowed until
 * auto-fix replaces it (then "owned"). The running rows are the mirror's
 * own, read-only. So a refused or dry-run commit leaves the mirror as it
 * was, and nothing is copied per row. */
struct commit {
	struct store *s;
	struct policy p;
	struct ext_row *st, *ru;
	size_t ns, nr;
	ssize_t *rmap;            /* staged index → running index or -1 */
	json_t **objs;            /* borrowed parsed docs (secrets masked) */
	char *(*plain)[SEC_N];    /* decrypted on demand (plain_of) */
	unsigned char *owned;     /* bit k: st[i].sec[k] allocated here */
	unsigned char *unread;    /* bit k: st[i].sec[k] cannot be opened */
	bool *fixed_row;          /* staged row changed by auto-fix */
	bool *recheck;            /* re-check every secret of the row */
	bool *same;               /* staged row equals its running row */
	bool policy_changed;
	int64_t gen;              /* ext_gen the commit was validated at */
	json_t *stsec, *rusec;
	json_t *fixed;
	struct report errs;
	char realm[64], old_realm[64];
	size_t n_checked;         /* secrets checked against the policy */
};

static void commit_free(struct commit *c)
{
	for (size_t i = 0; c->plain && i < c->ns; i++) {
		for (int k = 0; k < SEC_N; k++)
			store_wipe(c->plain[i][k]);
	}
	for (size_t i = 0; c->owned && c->st && i < c->ns; i++) {
		for (int k = 0; k < SEC_N; k++) {
			if (c->owned[i] & (1u << k))
				blob_free(&c->st[i].sec[k]);
		}
	}
	free(c->st);   /* shallow copies: nothing else of theirs is ours */
	free(c->plain);
	free(c->objs);
	free(c->rmap);
	free(c->owned);
	free(c->unread);
	free(c->fixed_row);
	free(c->recheck);
	free(c->same);
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

/* Plaintext of secret k of staged row i, decrypted the first time it is
 * needed; NULL (reported once) if it cannot be decrypted. */
static const char *plain_of(struct commit *c, size_t i, int k)
{
	const struct ext_row *row = &c->st[i];

	if (c->plain[i][k] || !row->sec[k].p || store_secdefs[k].hashed ||
	    (c->unread[i] & (1u << k)))
		return c->plain[i][k];
	if (store_open_blob(c->s, &row->sec[k], &c->plain[i][k])) {
		c->plain[i][k] = NULL;
		c->unread[i] |= (unsigned char)(1u << k);
		report_add(&c->errs, row->number, store_secdefs[k].field,
			   "secret.unreadable", "The stored secret cannot be "
			   "decrypted with DATA/secret.key; set it again.");
	}
	return c->plain[i][k];
}

static int commit_load(struct commit *c)
{
	struct store *s = c->s;
	size_t j = 0;
	int err;

	err = store_mirror_sync(s);
	if (!err)
		err = store_sections_load(s, STORE_STAGED, &c->stsec);
	if (!err)
		err = store_sections_load(s, STORE_RUNNING, &c->rusec);
	if (err)
		return err;
	store_policy_from(json_object_get(c->stsec, "policy"), &c->p);
	store_realm_from(c->stsec, c->realm, sizeof(c->realm));
	store_realm_from(c->rusec, c->old_realm, sizeof(c->old_realm));
	c->policy_changed = !json_equal(json_object_get(c->stsec, "policy"),
					json_object_get(c->rusec, "policy"));

	c->gen = s->mir.gen;
	c->ns = s->mir.ns;
	c->nr = s->mir.nr;
	c->ru = s->mir.ru;
	c->st = malloc((c->ns + 1) * sizeof(*c->st));
	c->rmap = calloc(c->ns + 1, sizeof(*c->rmap));
	c->objs = calloc(c->ns + 1, sizeof(*c->objs));
	c->plain = calloc(c->ns + 1, sizeof(*c->plain));
	c->owned = calloc(c->ns + 1, 1);
	c->unread = calloc(c->ns + 1, 1);
	c->fixed_row = calloc(c->ns + 1, sizeof(*c->fixed_row));
	c->recheck = calloc(c->ns + 1, sizeof(*c->recheck));
	c->same = calloc(c->ns + 1, sizeof(*c->same));
	c->fixed = json_array();
	if (!c->st || !c->rmap || !c->objs || !c->plain || !c->owned ||
	    !c->unread || !c->fixed_row || !c->recheck || !c->same ||
	    !c->fixed) {
		free(c->st);
		c->st = NULL;
		return ENOMEM;
	}
	if (c->ns)
		memcpy(c->st, s->mir.st, c->ns * sizeof(*c->st));

	for (size_t i = 0; i < c->ns; i++) {
		struct ext_row *row = &c->st[i];

		while (j < c->nr && strcmp(c->ru[j].number, row->number) < 0)
			j++;
		c->rmap[i] = j < c->nr && !strcmp(c->ru[j].number, row->number)
			? (ssize_t)j : -1;
		c->objs[i] = row->obj;
		/* what a secret's check depends on besides the secret: the
		 * policy, and the row's own fields (number, name, flags) */
		c->recheck[i] = c->policy_changed || c->rmap[i] < 0 ||
			strcmp(row->doc, c->ru[c->rmap[i]].doc) != 0;
	}
	return 0;
}

/* Replace secret k of staged row i by a generated one. */
static int commit_fix(struct commit *c, size_t i, int k, const char *prev)
{
	struct ext_row *row = &c->st[i];
	const json_t *o = c->objs[i];
	const struct model_field *f = model_field_find(store_secdefs[k].field);
	json_t *parsed = NULL;
	struct report tmp;
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
	/* the model's form rules for the field (length, digits): a secret
	 * set by an admin met them at staging, a generated one is held to
	 * them here */
	report_init(&tmp);
	err = f ? model_parse_value(f, buf, &parsed, &tmp) : 0;
	json_wipe(parsed);
	json_decref(parsed);
	if (err) {
		report_merge(&c->errs, &tmp, row->number);
		goto out;
	}
	err = store_seal(c->s, buf, &b);
	if (err)
		goto out;
	if (c->owned[i] & (1u << k))
		blob_free(&row->sec[k]);
	row->sec[k] = b;
	c->owned[i] |= (unsigned char)(1u << k);
	store_wipe(c->plain[i][k]);
	c->plain[i][k] = strdup(buf);   /* NULL: plain_of decrypts it */
	if (k == SEC_SIP_PW) {
		store_sip_fp(c->s, buf, row->fp);
		row->has_fp = true;
	}
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

/* Check secrets against the staged policy: every secret of a row that is
 * new or whose fields changed, every secret that changed, and — when the
 * policy section changed in this commit — every stored secret. */
static void commit_check_secrets(struct commit *c)
{
	for (size_t i = 0; i < c->ns; i++) {
		struct ext_row *row = &c->st[i];
		ssize_t j = c->rmap[i];

		for (int k = 0; k < SEC_N; k++) {
			enum check_kind ck = store_sec_check(k);
			const char *v;
			struct report tmp;
			char *prev = NULL;
			bool must = false, changed;
			int err = 0;

			/* web passwords: only a hash is left, checked when
			 * set */
			if (ck == CHECK_NONE || ck == CHECK_WEB ||
			    !row->sec[k].p)
				continue;
			changed = j < 0 || !blob_eq(&c->ru[j].sec[k],
						    &row->sec[k]);
			if (!changed && !c->recheck[i])
				continue;
			v = plain_of(c, i, k);
			if (!v)
				continue;
			c->n_checked++;
			report_init(&tmp);
			/* "previous": the running value this one replaces */
			if (ck == CHECK_PIN && j >= 0 && c->ru[j].sec[k].p &&
			    changed)
				store_open_blob(c->s, &c->ru[j].sec[k], &prev);
			if (ck == CHECK_SIP)
				err = policy_check_sip(&c->p, c->s->dict, v,
					row->number,
					json_string_value(json_object_get(
						c->objs[i], "name")), &tmp);
			else
				err = policy_check_pin(&c->p,
					store_secdefs[k].field, v, row->number,
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

/* SIP passwords unique across extensions ("sip.unique"), on the keyed
 * fingerprints (no password is decrypted unless its row predates them).
 * With auto-fix, the member of a group whose password did not change
 * keeps it (else the first by number); the others get generated ones. */
static int commit_check_unique(struct commit *c)
{
	struct pwent *e;
	size_t m = 0;
	bool need = c->policy_changed;

	if (!c->p.sip.unique)
		return 0;
	/* The running set passed this rule at its commit (the rule was on
	 * then, or the policy changed now): only a new or changed password
	 * can break it. */
	for (size_t i = 0; i < c->ns && !need; i++) {
		const struct ext_row *row = &c->st[i];
		ssize_t j = c->rmap[i];

		need = row->sec[SEC_SIP_PW].p && (j < 0 || !row->has_fp ||
			!c->ru[j].has_fp ||
			memcmp(row->fp, c->ru[j].fp, sizeof(row->fp)));
	}
	if (!need)
		return 0;
	e = calloc(c->ns + 1, sizeof(*e));
	if (!e)
		return ENOMEM;
	for (size_t i = 0; i < c->ns; i++) {
		struct ext_row *row = &c->st[i];

		if (!row->sec[SEC_SIP_PW].p)
			continue;
		if (!row->has_fp) {
			const char *v = plain_of(c, i, SEC_SIP_PW);

			if (!v)
				continue;
			store_sip_fp(c->s, v, row->fp);
			row->has_fp = true;
		}
		memcpy(e[m].h, row->fp, sizeof(e[m].h));
		snprintf(e[m].number, sizeof(e[m].number), "%s", row->number);
		snprintf(e[m].where, sizeof(e[m].where), "%s", row->number);
		e[m].idx = i;
		e[m].fresh = true;
		m++;
	}
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
		for (size_t k = a; b - a > 1 && k < b; k++) {
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

		if (!sec->validate && !sec->validate_all)
			continue;
		report_init(&tmp);
		if (((sec->validate &&
		      sec->validate(json_object_get(c->stsec, sec->name),
				    &tmp)) ||
		     (sec->validate_all &&
		      sec->validate_all(json_object_get(c->stsec, sec->name),
					c->stsec, &tmp)))
		    && !report_count(&tmp))
			report_add(&tmp, sec->name, "", "section.invalid",
				   "Section %s is not valid.", sec->name);
		report_merge(&c->errs, &tmp, sec->name);
	}
}

/* outbound (issue 15): a staged section routes external number out */
static bool commit_routed(const char *number, void *arg)
{
	const json_t *stsec = arg;
	size_t n = store_section_count();

	for (size_t i = 0; i < n; i++) {
		const struct store_section *sec = store_section_at(i);

		if (sec->routes &&
		    sec->routes(json_object_get(stsec, sec->name), number))
			return true;
	}
	return false;
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
	const char *pw;
	bool changed;

	row->ha1_md5[0] = row->ha1_sha256[0] = '\0';
	row->prev_md5[0] = row->prev_sha256[0] = '\0';
	row->prev_until = 0;
	if (!row->sec[SEC_SIP_PW].p)
		return;
	changed = !old || !blob_eq(&old->sec[SEC_SIP_PW],
				   &row->sec[SEC_SIP_PW]);
	if (!changed && old->ha1_md5[0] && !strcmp(c->realm, c->old_realm)) {
		memcpy(row->ha1_md5, old->ha1_md5, sizeof(row->ha1_md5));
		memcpy(row->ha1_sha256, old->ha1_sha256,
		       sizeof(row->ha1_sha256));
	} else {
		pw = plain_of(c, i, SEC_SIP_PW);
		if (!pw)
			return;   /* reported: the commit is refused */
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
	    a->type != b->type || a->has_fp != b->has_fp ||
	    (a->has_fp && memcmp(a->fp, b->fp, sizeof(a->fp))) ||
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

	if (store_prep(s, sql, &st))
		return EIO;
	if (a)
		sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	if (n >= 0)
		sqlite3_bind_int64(st, b ? 3 : a ? 2 : 1, n);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = store_db_fail(s, 0);
	store_unprep(st);
	return err;
}

/* The one write: running := staged (changed rows only), fixed secrets
 * back into staged, sections, version, log (the last STORE_LOG_KEEP
 * kept). All or nothing. *gen: the extension tables' new generation. */
static int commit_write(struct commit *c, uint64_t version,
			const json_t *changes, const json_t *changed_secs,
			int64_t *gen)
{
	struct store *s = c->s;
	size_t i = 0, j = 0;
	char *log = NULL;
	int err;

	err = store_tx_begin(s);
	if (err)
		return err;
	for (i = 0; i < c->ns && !err; i++) {
		if (c->fixed_row[i])
			err = store_row_write(s, STORE_STAGED, &c->st[i]);
		if (!err && !c->same[i])
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
		log = store_json_text(changes, false);
		err = log ? exec_stmt(s, "INSERT INTO commit_log(changes, "
				      "version, at) VALUES (?, ?, "
				      "strftime('%s','now'))", log, NULL,
				      (int64_t)version) : ENOMEM;
		free(log);
	}
	if (!err && version > STORE_LOG_KEEP)
		err = exec_stmt(s, "DELETE FROM commit_log WHERE version <= ?",
				NULL, NULL, (int64_t)(version - STORE_LOG_KEEP));
	if (!err)
		err = store_gen_bump(s, gen);
	/* another connection wrote an extension table since the rows were
	 * validated: write nothing rather than a configuration nobody
	 * checked */
	if (!err && *gen != c->gen + 1)
		err = EAGAIN;
	if (err) {
		store_tx_rollback(s);
		return err;
	}
	return store_tx_commit(s);
}

/* After the write: the mirror becomes what was written. Staged rows that
 * auto-fix changed take the new secrets; running rows that did not change
 * are kept, the others rebuilt from the staged ones. */
static void mirror_commit(struct commit *c, int64_t gen)
{
	struct store *s = c->s;
	struct ext_row *ru;
	bool *kept = NULL;

	if (!s->mir.valid || gen != s->mir.gen + 1)
		goto stale;
	ru = calloc(c->ns + 1, sizeof(*ru));
	kept = calloc(c->nr + 1, sizeof(*kept));
	if (!ru || !kept) {
		free(ru);
		goto stale;
	}
	for (size_t i = 0; i < c->ns; i++) {
		struct ext_row *src = &c->st[i], *dst = &ru[i];
		ssize_t r = c->rmap[i];
		int err = 0;

		if (c->same[i]) {
			*dst = c->ru[r];
			kept[r] = true;
			continue;
		}
		memcpy(dst->number, src->number, sizeof(dst->number));
		dst->type = src->type;
		dst->doc = strdup(src->doc);
		dst->obj = json_incref(src->obj);   /* immutable, shared */
		for (int k = 0; k < SEC_N && !err; k++)
			err = blob_copy(&dst->sec[k], &src->sec[k]);
		dst->must_change = src->must_change;
		dst->has_fp = src->has_fp;
		memcpy(dst->fp, src->fp, sizeof(dst->fp));
		memcpy(dst->ha1_md5, src->ha1_md5, sizeof(dst->ha1_md5));
		memcpy(dst->ha1_sha256, src->ha1_sha256,
		       sizeof(dst->ha1_sha256));
		memcpy(dst->prev_md5, src->prev_md5, sizeof(dst->prev_md5));
		memcpy(dst->prev_sha256, src->prev_sha256,
		       sizeof(dst->prev_sha256));
		dst->prev_until = src->prev_until;
		if (err || !dst->doc) {
			/* give back the kept rows, drop the new ones */
			for (size_t a = 0; a <= i; a++) {
				if (c->same[a])
					memset(&ru[a], 0, sizeof(ru[a]));
			}
			store_rows_free(ru, i + 1);
			goto stale;
		}
	}
	for (size_t j = 0; j < c->nr; j++) {
		if (!kept[j])
			ext_row_clear(&c->ru[j]);
	}
	free(s->mir.ru);
	s->mir.ru = ru;
	s->mir.nr = c->ns;
	c->ru = NULL;
	c->nr = 0;
	/* auto-fixed staged rows: their new secrets move into the mirror */
	for (size_t i = 0; i < c->ns; i++) {
		struct ext_row *m = &s->mir.st[i];

		if (!c->fixed_row[i])
			continue;
		for (int k = 0; k < SEC_N; k++) {
			if (!(c->owned[i] & (1u << k)))
				continue;
			blob_free(&m->sec[k]);
			m->sec[k] = c->st[i].sec[k];
			c->owned[i] &= (unsigned char)~(1u << k);
		}
		m->must_change = c->st[i].must_change;
		m->has_fp = c->st[i].has_fp;
		memcpy(m->fp, c->st[i].fp, sizeof(m->fp));
	}
	s->mir.gen = gen;
	free(kept);
	return;
 stale:
	free(kept);
	s->mir.valid = false;
}

int store_commit(struct store *s, bool dry_run, json_t **result,
		 struct snapshot **snap)
{
	struct commit c;
	struct model_limits lim;
	json_t *changes = NULL, *changed_secs = NULL, *res = NULL;
	uint64_t version;
	int64_t now = (int64_t)time(NULL), gen = 0;
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
	store_trunk_dids_check(c.stsec, c.st, c.ns, &c.errs);   /* trunk (issue 15) */
	store_cos_check(json_object_get(c.stsec, "cos"), c.objs, c.ns,
			&c.errs);
	commit_check_secrets(&c);
	err = commit_check_unique(&c);
	if (err)
		goto out;
	lim.user = limit_of(c.stsec, "user");
	lim.shared = limit_of(c.stsec, "shared");
	lim.routed = commit_routed;   /* outbound (issue 15) */
	lim.routed_arg = c.stsec;
	model_validate_set(c.objs, c.ns, &lim, &c.errs);
	if (!report_count(&c.errs)) {
		for (size_t i = 0; i < c.ns; i++)
			commit_ha1(&c, i, now);
	}

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
		c.same[i] = c.rmap[i] >= 0 &&
			running_same(&c.st[i], &c.ru[c.rmap[i]]);
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
		err = commit_write(&c, version, changes, changed_secs, &gen);
		if (err) {
			store_mirror_drop(s);
			goto out;
		}
		mirror_commit(&c, gen);
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
		/* the decoders read the sections' secrets opened */
		json_t *open = store_sections_open(s, c.stsec);

		/* the running mirror is now exactly what was committed; its
		 * rows keep their snapshot entries for the next commit */
		if (!open)
			err = ENOMEM;
		else if (s->mir.valid && s->mir.nr == c.ns)
			err = store_snapshot_build(s->mir.ru, s->mir.nr, true,
						   open, version, snap);
		else
			err = store_snapshot_build(c.st, c.ns, false, open,
						   version, snap);
		store_sections_wipe(open);
		if (err)
			goto out;
	}
 out:
	pthread_mutex_unlock(&s->lock);
	if (!res && err == EAGAIN)
		res = json_pack("{s:b,s:[],s:[],s:[{s:s,s:s,s:s,s:s}]}",
				"ok", 0, "changes", "fixed", "errors",
				"where", "", "field", "", "rule", "store.busy",
				"message", "Extensions were changed through "
				"another connection during the commit; nothing "
				"was changed. Commit again.");
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
	store_trim();
	return err;
}
