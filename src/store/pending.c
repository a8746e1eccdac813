/*
 * pending — what a commit would change (staged against running), and
 * discard.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/store_int.h"

/* ---- pending / discard ---- */

static json_t *changed_fields(struct ext_row *a, struct ext_row *b)
{
	json_t *fa, *fb;
	json_t *out = json_array();
	const char *key;
	json_t *v;

	if (!out)
		return NULL;
	if (!strcmp(a->doc, b->doc)) {
		/* same document: only secrets can differ */
		for (int k = 0; k < SEC_N; k++) {
			if (!blob_eq(&a->sec[k], &b->sec[k]))
				json_array_append_new(out, json_string(
					store_secdefs[k].field));
		}
		return out;
	}
	fa = ext_row_obj(a);
	fb = ext_row_obj(b);
	/* model_fields order, so the list is stable */
	for (size_t i = 0; i < model_field_count; i++) {
		const char *name = model_fields[i].name;
		int si = store_sec_index(name);
		bool diff;

		if (si >= 0)
			diff = !blob_eq(&a->sec[si], &b->sec[si]);
		else
			diff = !json_equal(json_object_get(fa, name),
					   json_object_get(fb, name)) &&
				(json_object_get(fa, name) ||
				 json_object_get(fb, name));
		if (diff)
			json_array_append_new(out, json_string(name));
	}
	/* keys outside the table (should not happen, but never hide one) */
	json_object_foreach(fa, key, v) {
		if (!model_field_find(key) &&
		    !json_equal(v, json_object_get(fb, key)))
			json_array_append_new(out, json_string(key));
	}
	json_object_foreach(fb, key, v) {
		if (!model_field_find(key) && !json_object_get(fa, key))
			json_array_append_new(out, json_string(key));
	}
	return out;
}

static json_t *pending_item(const char *kind, const char *key, const char *op,
			    json_t *fields)
{
	/* built directly: json_pack parses its format for each of what may
	 * be 10,000 items */
	json_t *o = json_object();

	if (!fields)
		fields = json_array();
	if (!o || !fields ||
	    json_object_set_new_nocheck(o, "kind", json_string(kind)) ||
	    json_object_set_new_nocheck(o, "key", json_string(key)) ||
	    json_object_set_new_nocheck(o, "op", json_string(op)) ||
	    json_object_set_new_nocheck(o, "fields", fields)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static bool row_same(const struct ext_row *a, const struct ext_row *b)
{
	if (strcmp(a->doc, b->doc) || a->must_change != b->must_change)
		return false;
	for (int k = 0; k < SEC_N; k++) {
		if (!blob_eq(&a->sec[k], &b->sec[k]))
			return false;
	}
	return true;
}

/* Diff staged vs running (rows sorted by number, sections in registry
 * order) into diff. Used by store_pending and store_commit. changed (may
 * be NULL) collects the changed section names. */
int store_diff(struct ext_row *st, size_t ns, struct ext_row *ru, size_t nr,
	       json_t *stsec, json_t *rusec, json_t *diff, json_t *changed)
{
	size_t i = 0, j = 0, n = store_section_count();

	while (i < ns || j < nr) {
		int c = i >= ns ? 1 : j >= nr ? -1 :
			strcmp(st[i].number, ru[j].number);

		if (c < 0) {
			json_array_append_new(diff, pending_item("ext",
					      st[i].number, "add", NULL));
			i++;
		} else if (c > 0) {
			json_array_append_new(diff, pending_item("ext",
					      ru[j].number, "remove", NULL));
			j++;
		} else {
			if (!row_same(&st[i], &ru[j]))
				json_array_append_new(diff, pending_item("ext",
					st[i].number, "edit",
					changed_fields(&st[i], &ru[j])));
			i++;
			j++;
		}
	}
	for (size_t k = 0; k < n; k++) {
		const char *name = store_section_at(k)->name;
		json_t *a = json_object_get(stsec, name);
		json_t *b = json_object_get(rusec, name);
		json_t *f;
		const char *key;
		json_t *v;

		if (json_equal(a, b))
			continue;
		f = json_array();
		json_object_foreach(a, key, v) {
			if (!json_equal(v, json_object_get(b, key)))
				json_array_append_new(f, json_string(key));
		}
		json_object_foreach(b, key, v) {
			if (!json_object_get(a, key))
				json_array_append_new(f, json_string(key));
		}
		json_array_append_new(diff, pending_item("section", name,
						       "edit", f));
		if (changed)
			json_array_append_new(changed, json_string(name));
	}
	return 0;
}

/* Extension rows that differ between the tables, in number order (the
 * byte order of SQLite's BINARY collation, i.e. strcmp's), with the op:
 * the same rows and order as store_diff over both tables (row_same: doc,
 * must_change and every sealed secret). Only indexed lookups by number
 * and one pass over each table; nothing is loaded into memory. */
#define PENDING_EXT_SQL \
	"SELECT s.number, CASE WHEN r.number IS NULL THEN 'add' ELSE 'edit'" \
	" END FROM ext_staged s LEFT JOIN ext_running r" \
	" ON r.number = s.number WHERE r.number IS NULL OR s.doc IS NOT r.doc" \
	" OR s.must_change IS NOT r.must_change OR s.sip_pw IS NOT r.sip_pw" \
	" OR s.vm_pin IS NOT r.vm_pin OR s.call_pw IS NOT r.call_pw" \
	" OR s.hotdesk_pin IS NOT r.hotdesk_pin" \
	" OR s.web_hash IS NOT r.web_hash" \
	" UNION ALL SELECT r.number, 'remove' FROM ext_running r" \
	" WHERE NOT EXISTS (SELECT 1 FROM ext_staged s" \
	" WHERE s.number = r.number)"

/* Names of the sections whose staged object differs from the running
 * one, in registry order, appended to diff as pending items (the section
 * part of store_diff). */
static int pending_sections(struct store *s, json_t *diff, size_t *count)
{
	json_t *stsec = NULL, *rusec = NULL;
	int err;

	err = store_sections_load(s, STORE_STAGED, &stsec);
	if (!err)
		err = store_sections_load(s, STORE_RUNNING, &rusec);
	if (!err && diff)
		store_diff(NULL, 0, NULL, 0, stsec, rusec, diff, NULL);
	if (!err && count) {
		size_t n = store_section_count();

		for (size_t k = 0; k < n; k++) {
			const char *name = store_section_at(k)->name;

			if (!json_equal(json_object_get(stsec, name),
					json_object_get(rusec, name)))
				(*count)++;
		}
	}
	json_decref(stsec);
	json_decref(rusec);
	return err;
}

int store_pending_count(struct store *s, size_t *np)
{
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	int err = 0;

	if (!s || !np)
		return EINVAL;
	pthread_mutex_lock(&s->lock);
	if (store_prep(s, "SELECT count(*) FROM (" PENDING_EXT_SQL ")", &st)) {
		err = EIO;
		goto out;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		n = (size_t)sqlite3_column_int64(st, 0);
	else
		err = EIO;
	store_unprep(st);
	if (!err)
		err = pending_sections(s, NULL, &n);
	if (!err)
		*np = n;
 out:
	pthread_mutex_unlock(&s->lock);
	return err;
}

/* The pending edit of one extension: its changed fields, from the two
 * rows (only this row is read). */
static json_t *pending_edit(struct store *s, const char *number)
{
	struct ext_row a, b;
	json_t *item = NULL;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	if (!store_row_get(s, STORE_STAGED, number, &a) &&
	    !store_row_get(s, STORE_RUNNING, number, &b))
		item = pending_item("ext", number, "edit",
				    changed_fields(&a, &b));
	ext_row_clear(&a);
	ext_row_clear(&b);
	return item;
}

/* Only the rows that differ are read (PENDING_EXT_SQL), so a listing of
 * a few changes among 10,000 extensions loads a few rows. */
int store_pending(struct store *s, json_t **diffp)
{
	sqlite3_stmt *st = NULL;
	json_t *diff = NULL;
	int rc, err = 0;

	if (!s || !diffp)
		return EINVAL;
	diff = json_array();
	if (!diff)
		return ENOMEM;
	pthread_mutex_lock(&s->lock);
	if (store_prep(s, PENDING_EXT_SQL " ORDER BY 1", &st)) {
		err = EIO;
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *num = (const char *)sqlite3_column_text(st, 0);
		const char *op = (const char *)sqlite3_column_text(st, 1);
		json_t *item;

		if (!num || !op)
			continue;
		if (!strcmp(op, "edit")) {
			char number[24];

			/* a second statement runs inside: copy the key */
			snprintf(number, sizeof(number), "%s", num);
			item = pending_edit(s, number);
		} else {
			item = pending_item("ext", num, op, NULL);
		}
		if (!item || json_array_append_new(diff, item)) {
			err = ENOMEM;
			break;
		}
	}
	if (!err && rc != SQLITE_DONE)
		err = EIO;
	store_unprep(st);
	if (!err)
		err = pending_sections(s, diff, NULL);
 out:
	pthread_mutex_unlock(&s->lock);
	if (err) {
		json_decref(diff);
		return err;
	}
	*diffp = diff;
	return 0;
}

int store_discard(struct store *s)
{
	int64_t gen = 0;
	int err;

	if (!s)
		return EINVAL;
	pthread_mutex_lock(&s->lock);
	err = store_tx_begin(s);
	if (err)
		goto out;
	if (sqlite3_exec(s->db,
			 "DELETE FROM ext_staged;"
			 "INSERT INTO ext_staged(number, type, doc, sip_pw,"
			 " vm_pin, call_pw, hotdesk_pin, web_hash, must_change,"
			 " sip_fp)"
			 " SELECT number, type, doc, sip_pw, vm_pin, call_pw,"
			 " hotdesk_pin, web_hash, must_change, sip_fp"
			 " FROM ext_running;"
			 "DELETE FROM section_staged;"
			 "INSERT INTO section_staged(name, doc)"
			 " SELECT name, doc FROM section_running;",
			 NULL, NULL, NULL) != SQLITE_OK)
		err = store_db_fail(s, 0);
	else
		err = store_gen_bump(s, &gen);
	if (err) {
		store_tx_rollback(s);
		goto out;
	}
	err = store_tx_commit(s);
	/* staged rows are reloaded (their parsed docs reused) on next use */
	store_mirror_drop(s);
 out:
	pthread_mutex_unlock(&s->lock);
	return err;
}
