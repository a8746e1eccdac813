/*
 * stage — the staging pipeline shared by every write path: secrets checked
 * against the policy, generated, sealed; uniqueness; staged rows written
 * with the mirror kept current.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

/* ---- staging pipeline ---- */

/* Which policy a secret is held to (docs/internals/store.md). */
static const enum check_kind sec_check[SEC_N] = {
	[SEC_SIP_PW] = CHECK_SIP,
	[SEC_VM_PIN] = CHECK_PIN,
	[SEC_CALL_PW] = CHECK_PIN,   /* callers key it in like a PIN */
	[SEC_HOTDESK_PIN] = CHECK_PIN,
	[SEC_WEB_HASH] = CHECK_WEB,
};

enum check_kind store_sec_check(int i)
{
	return sec_check[i];
}

void json_wipe(json_t *v)
{
	const char *p = json_string_value(v);

	if (p)
		sodium_memzero((char *)p, strlen(p));
}

static bool ext_bool(const json_t *ext, const char *name)
{
	return json_is_true(json_object_get(ext, name));
}

bool store_force_new_user(const json_t *ext)
{
	return ext_bool(ext, "voicemail.force_name") &&
		ext_bool(ext, "voicemail.force_greeting");
}

/* Decrypt the running value of a secret for number, or NULL. */
char *store_running_secret(struct store *s, const char *number, int idx)
{
	struct ext_row row;
	char *plain = NULL;

	if (store_row_get(s, STORE_RUNNING, number, &row))
		return NULL;
	if (row.sec[idx].p && !store_secdefs[idx].hashed)
		store_open_blob(s, &row.sec[idx], &plain);
	ext_row_clear(&row);
	return plain;
}

/* Check one new secret against the policy p. Returns 0 when accepted
 * (possibly with an auto-fix warning in warns), EINVAL when refused
 * (findings in errs). */
int store_check_secret(struct store *s, const struct policy *p, int idx,
		       const char *value, const json_t *ext,
		       const char *previous, const char *where,
		       struct report *errs, struct report *warns,
		       bool *must_change)
{
	const char *number = json_string_value(json_object_get(ext, "number"));
	const char *name = json_string_value(json_object_get(ext, "name"));
	struct report tmp;
	int err = 0;

	report_init(&tmp);
	switch (sec_check[idx]) {
	case CHECK_SIP:
		err = policy_check_sip(p, s->dict, value, number, name, &tmp);
		break;
	case CHECK_PIN:
		err = policy_check_pin(p, store_secdefs[idx].field, value,
				       number, previous,
				       idx == SEC_VM_PIN &&
				       store_force_new_user(ext),
				       must_change, &tmp);
		break;
	case CHECK_WEB:
		err = policy_check_web(p, s->dict, value,
				       json_string_value(json_object_get(ext,
							 "web.username")),
				       number, &tmp);
		break;
	default:
		break;
	}
	if (err && !report_count(&tmp))
		report_add(&tmp, "", store_secdefs[idx].field, "policy",
			   "Does not comply with the password policy.");
	if (err && p->auto_fix && sec_check[idx] != CHECK_WEB) {
		char rules[160] = "";
		size_t off = 0;

		for (size_t i = 0; i < tmp.n && off < sizeof(rules); i++)
			off += (size_t)snprintf(rules + off, sizeof(rules) - off,
						"%s%s", i ? ", " : "",
						tmp.item[i].rule);
		report_add(warns, where, store_secdefs[idx].field,
			   "policy.auto_fix", "Does not comply with the "
			   "policy (%s); auto-fix is on, so it will be "
			   "replaced by a generated one at commit.", rules);
		report_reset(&tmp);
		return 0;
	}
	report_merge(errs, &tmp, where);
	return err ? EINVAL : 0;
}

/* Build the staged row for ext. ext holds every non-secret field and the
 * plaintext of each secret that is new in this write (set now or
 * generated); secrets not in ext are kept from old. Runs model_validate
 * (with the kept secrets decrypted) and the policy on the new secrets.
 * Findings: errs (refusing) and warns. */
int store_stage_prepare(struct store *s, const struct policy *p, json_t *ext,
			const struct ext_row *old, const char *where,
			struct report *errs, struct report *warns,
			struct ext_row *row)
{
	const char *number = json_string_value(json_object_get(ext, "number"));
	enum model_type t;
	struct report tmp;
	size_t before = report_count(errs);
	json_t *vext = NULL, *doc = NULL;
	bool must_change = old ? old->must_change : false;
	const char *pw;
	int err = 0;

	memset(row, 0, sizeof(*row));
	report_init(&tmp);
	if (!number || model_type_parse(json_string_value(
			json_object_get(ext, "type")), &t))
		return EINVAL;

	/* model validation sees every secret the extension will have */
	vext = json_copy(ext);
	if (!vext)
		return ENOMEM;
	for (int i = 0; old && i < SEC_N; i++) {
		char *plain = NULL;

		if (json_object_get(ext, store_secdefs[i].field) ||
		    !old->sec[i].p)
			continue;
		if (store_secdefs[i].hashed) {
			/* stand-in for a stored one-way hash; its form
			 * was checked when it was set */
			json_object_set_new(vext, store_secdefs[i].field,
					    json_string(MODEL_SECRET_MASK));
			continue;
		}
		if (store_open_blob(s, &old->sec[i], &plain))
			continue;
		json_object_set_new(vext, store_secdefs[i].field,
				    json_string(plain));
		store_wipe(plain);
	}
	model_validate(vext, &tmp);
	report_merge(errs, &tmp, where);

	for (int i = 0; i < SEC_N; i++) {
		const char *v = json_string_value(json_object_get(ext,
						  store_secdefs[i].field));
		char *prev = NULL;

		if (!v || !*v || sec_check[i] == CHECK_NONE)
			continue;
		if (sec_check[i] == CHECK_PIN)
			prev = store_running_secret(s, number, i);
		if (i == SEC_VM_PIN)
			must_change = false;
		store_check_secret(s, p, i, v, ext, prev, where, errs, warns,
				   i == SEC_VM_PIN ? &must_change : NULL);
		store_wipe(prev);
	}
	if (report_count(errs) > before) {
		err = EINVAL;
		goto out;
	}

	/* the row: doc without secrets, sealed new secrets, kept old ones */
	doc = json_copy(ext);
	if (!doc) {
		err = ENOMEM;
		goto out;
	}
	snprintf(row->number, sizeof(row->number), "%s", number);
	row->type = t;
	row->must_change = must_change;
	for (int i = 0; i < SEC_N; i++) {
		const char *v = json_string_value(json_object_get(ext,
						  store_secdefs[i].field));

		json_object_del(doc, store_secdefs[i].field);
		if (v && *v)
			err = store_secdefs[i].hashed ?
				store_hash_web(v, &row->sec[i]) :
				store_seal(s, v, &row->sec[i]);
		else if (!v && old)
			err = blob_copy(&row->sec[i], &old->sec[i]);
		if (err)
			goto out;
	}
	/* the password's fingerprint (uniqueness without decrypting) */
	pw = json_string_value(json_object_get(ext, "auth.password"));
	if (pw && *pw) {
		store_sip_fp(s, pw, row->fp);
		row->has_fp = true;
	} else if (!pw && old && row->sec[SEC_SIP_PW].p) {
		char *plain = NULL;

		if (old->has_fp) {
			memcpy(row->fp, old->fp, sizeof(row->fp));
			row->has_fp = true;
		} else if (!store_open_blob(s, &row->sec[SEC_SIP_PW], &plain)) {
			store_sip_fp(s, plain, row->fp);
			row->has_fp = true;
			store_wipe(plain);
		}
	}
	row->doc = store_json_text(doc, true);
	row->obj = json_deep_copy(doc);   /* for the commit cache */
	if (!row->doc)
		err = ENOMEM;
 out:
	json_wipe(json_object_get(vext, "auth.password"));
	for (int i = 0; i < SEC_N; i++)
		json_wipe(json_object_get(vext, store_secdefs[i].field));
	json_decref(vext);
	json_decref(doc);
	if (err)
		ext_row_clear(row);
	return err;
}

/* Wipe every secret held in ext (before it is released). */
void store_ext_wipe(json_t *ext)
{
	for (int i = 0; ext && i < SEC_N; i++)
		json_wipe(json_object_get(ext, store_secdefs[i].field));
}

/* Apply an admin's fields (text or typed JSON) to ext of type t. */
void store_apply_fields(json_t *ext, enum model_type t, const json_t *fields,
			const char *where, struct report *errs)
{
	const char *key;
	json_t *val;

	json_object_foreach((json_t *)fields, key, val) {
		const struct model_field *f;
		struct report tmp;
		json_t *parsed = NULL;

		if (!strcmp(key, "number") || !strcmp(key, "type"))
			continue;
		f = model_field_find(key);
		if (!f) {
			report_add(errs, where, key, "field.unknown",
				   "There is no field '%.40s'.", key);
			continue;
		}
		if (!model_type_has(t, f)) {
			struct report one;

			report_init(&one);
			model_check_type_has(t, f, &one);
			report_merge(errs, &one, where);
			continue;
		}
		if (json_is_null(val)) {
			/* secrets: "" clears the stored one */
			if (f->kind == MODEL_SECRET)
				json_object_set_new(ext, key, json_string(""));
			else
				json_object_del(ext, key);
			continue;
		}
		/* a form posting back the mask means "keep the secret" */
		if (f->kind == MODEL_SECRET && json_is_string(val) &&
		    !strcmp(json_string_value(val), STORE_MASK))
			continue;
		/* choices too: admin text names them in any case
		 * ("RFC2833"), parsing stores the canonical one */
		if (json_is_string(val) && f->kind != MODEL_STRING &&
		    f->kind != MODEL_SECRET) {
			report_init(&tmp);
			if (model_parse_value(f, json_string_value(val),
					      &parsed, &tmp)) {
				if (!report_count(&tmp))
					report_add(&tmp, "", key,
						   "field.value",
						   "Invalid value for %.40s.",
						   key);
				report_merge(errs, &tmp, where);
				continue;
			}
			report_reset(&tmp);
			json_object_set_new(ext, key, parsed);
		} else if (f->kind == MODEL_SECRET && json_is_string(val)) {
			/* our own copy: it is wiped after use, the
			 * caller's object is not ours to touch */
			json_object_set_new(ext, key,
				json_string(json_string_value(val)));
		} else {
			json_object_set(ext, key, val);
		}
	}
}

static int pwent_cmp(const void *a, const void *b)
{
	const struct pwent *x = a, *y = b;
	int c = memcmp(x->h, y->h, sizeof(x->h));

	return c ? c : strcmp(x->number, y->number);
}

/* Report every fresh entry whose password another entry shares. */
void store_pw_sort(struct pwent *e, size_t n)
{
	qsort(e, n, sizeof(*e), pwent_cmp);
}

void store_pw_dups(struct pwent *e, size_t n, struct report *errs)
{
	store_pw_sort(e, n);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		while (j < n && !memcmp(e[j].h, e[i].h, sizeof(e[i].h)))
			j++;
		for (size_t k = i; j - i > 1 && k < j; k++) {
			if (e[k].fresh)
				report_add(errs, e[k].where, "auth.password",
					   "sip.unique", "The SIP password is "
					   "already used by another "
					   "extension; passwords must be "
					   "unique.");
		}
		i = j;
	}
}

static int num_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Uniqueness of new SIP passwords among the staged extensions, on keyed
 * fingerprints (nothing is decrypted). fresh/nfresh: the rows about to be
 * written; a staged row they replace does not count. */
int store_check_unique(struct store *s, const struct policy *p,
		       const struct ext_row *fresh, const char *const *where,
		       size_t nfresh, struct report *errs)
{
	struct pwent *e = NULL;
	const char **nums = NULL;
	sqlite3_stmt *st = NULL;
	size_t m = 0;
	int err = 0;

	if (!p->sip.unique || !nfresh)
		return 0;
	e = calloc(nfresh, sizeof(*e));
	nums = calloc(nfresh, sizeof(*nums));
	if (!e || !nums) {
		err = ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nfresh; i++) {
		const struct ext_row *row = &fresh[i];

		nums[i] = row->number;
		if (!row->sec[SEC_SIP_PW].p || !row->has_fp)
			continue;
		memcpy(e[m].h, row->fp, sizeof(e[m].h));
		snprintf(e[m].number, sizeof(e[m].number), "%s", row->number);
		snprintf(e[m].where, sizeof(e[m].where), "%s",
			 where ? where[i] : row->number);
		e[m].idx = i;
		m++;
	}
	qsort(nums, nfresh, sizeof(*nums), num_cmp);
	store_pw_sort(e, m);
	/* shared among the fresh rows themselves */
	for (size_t i = 0; i < m;) {
		size_t j = i + 1;

		while (j < m && !memcmp(e[j].h, e[i].h, sizeof(e[i].h)))
			j++;
		for (size_t k = i; j - i > 1 && k < j; k++)
			e[k].fresh = true;   /* here: "already a duplicate" */
		i = j;
	}
	/* shared with a staged row that stays */
	if (store_prep(s, "SELECT number FROM ext_staged WHERE sip_fp = ?",
		       &st)) {
		err = EIO;
		goto out;
	}
	for (size_t i = 0; i < m && !err; i++) {
		int rc;

		if (e[i].fresh)
			continue;
		sqlite3_bind_blob(st, 1, e[i].h, sizeof(e[i].h),
				  SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *n = (const char *)sqlite3_column_text(st,
									  0);

			if (n && !bsearch(&n, nums, nfresh, sizeof(*nums),
					  num_cmp)) {
				e[i].fresh = true;
				break;
			}
		}
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			err = EIO;
		store_unprep(st);
	}
	for (size_t i = 0; i < m && !err; i++) {
		if (e[i].fresh)
			report_add(errs, e[i].where, "auth.password",
				   "sip.unique", "The SIP password is already "
				   "used by another extension; passwords must "
				   "be unique.");
	}
 out:
	free(e);
	free(nums);
	return err;
}

/* Write staged rows in one transaction; then move them into the mirror. */
int store_rows_stage(struct store *s, struct ext_row *rows, size_t n)
{
	int64_t gen = 0;
	int err;

	/* current before, so the rows can move in; a cold mirror is loaded
	 * for a bulk or import (about to be committed: its rows move in
	 * parsed) but not for one row */
	if (n > 1)
		store_mirror_sync(s);
	else
		store_mirror_sync_warm(s);
	err = store_tx_begin(s);

	if (err)
		return err;
	for (size_t i = 0; i < n && !err; i++)
		err = store_row_write(s, STORE_STAGED, &rows[i]);
	if (!err)
		err = store_gen_bump(s, &gen);
	if (err) {
		store_tx_rollback(s);
		return err;
	}
	err = store_tx_commit(s);
	if (err)
		store_mirror_drop(s);
	else
		store_mirror_put(s, rows, n, gen);
	return err;
}

/* Generate the secrets asked for by gen into ext and *generated. */
int store_generate(struct store *s, const struct policy *p, json_t *ext,
		   unsigned gen, json_t *generated)
{
	const char *number = json_string_value(json_object_get(ext, "number"));
	const char *name = json_string_value(json_object_get(ext, "name"));
	enum model_type t;
	char buf[128];
	int err = 0;

	if (model_type_parse(json_string_value(json_object_get(ext, "type")),
			     &t))
		return EINVAL;
	if ((gen & STORE_GEN_PASSWORD) &&
	    model_type_has(t, model_field_find("auth.password"))) {
		err = policy_generate_sip(p, s->dict, number, name, buf,
					  sizeof(buf));
		if (err)
			goto out;
		json_object_set_new(ext, "auth.password", json_string(buf));
		if (generated)
			json_object_set_new(generated, "auth.password",
					    json_string(buf));
	}
	if ((gen & STORE_GEN_PIN) &&
	    model_type_has(t, model_field_find("voicemail.pin"))) {
		char *prev = store_running_secret(s, number, SEC_VM_PIN);

		err = policy_generate_pin(p, number, prev, buf, sizeof(buf));
		store_wipe(prev);
		if (err)
			goto out;
		json_object_set_new(ext, "voicemail.pin", json_string(buf));
		if (generated)
			json_object_set_new(generated, "voicemail.pin",
					    json_string(buf));
	}
 out:
	sodium_memzero(buf, sizeof(buf));
	return err;
}

/* Remove a staged row (one transaction, mirror kept current). */
int store_row_delete(struct store *s, const char *number)
{
	sqlite3_stmt *st = NULL;
	int64_t gen = 0;
	int err;

	store_mirror_sync_warm(s);
	err = store_tx_begin(s);
	if (err)
		return err;
	if (store_prep(s, "DELETE FROM ext_staged WHERE number = ?", &st)) {
		err = EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = store_db_fail(s, 0);
	store_unprep(st);
	if (!err)
		err = store_gen_bump(s, &gen);
 out:
	if (err) {
		store_tx_rollback(s);
		return err;
	}
	err = store_tx_commit(s);
	if (err)
		store_mirror_drop(s);
	else
		store_mirror_del(s, number, gen);
	return err;
}
