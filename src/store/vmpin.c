/*
 * vmpin — the mailbox owner's own PIN: changed from the phone (the
 * voicemail menu) or the user portal, where nobody can commit, so the
 * change applies at once; and the check of a PIN typed at the mailbox.
 *
 * The change is held to the running voicemail PIN policy in full
 * (digits, length, not the extension — the force-new-user exception is
 * for the administrator's first PIN, never for the owner's own — not
 * trivial, not the previous PIN), with no auto-fix: a refused PIN is
 * refused to the user. It writes the sealed PIN to the running row and,
 * when the extension is staged too, to the staged row, in one
 * transaction, so a later commit does not bring the old PIN back and the
 * pending diff shows no PIN change. The snapshot the data plane reads
 * carries nothing derived from the PIN (snapshot.c: digest material and
 * fields only), so nothing is republished: the voicemail application
 * asks store_vm_pin_check.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "store/store_int.h"

static int pin_write(struct store *s, enum store_view v, const char *number,
		     const struct blob *b)
{
	sqlite3_stmt *st = NULL;
	int err = 0;

	if (store_prep(s, v == STORE_RUNNING ?
		       "UPDATE ext_running SET vm_pin = ?, must_change = 0 "
		       "WHERE number = ?" :
		       "UPDATE ext_staged SET vm_pin = ?, must_change = 0 "
		       "WHERE number = ?", &st))
		return EIO;
	sqlite3_bind_blob(st, 1, b->p, (int)b->len, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, number, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = store_db_fail(s, 0);
	store_unprep(st);
	return err;
}

int store_vm_pin_change(struct store *s, const char *number, const char *pin,
			struct report *r)
{
	struct ext_row row;
	struct policy p;
	struct blob b = { NULL, 0 };
	const json_t *ext;
	char *prev = NULL;
	bool on = false;
	int64_t gen = 0;
	int err;

	if (!s || !number || !pin || !r)
		return EINVAL;
	memset(&row, 0, sizeof(row));
	pthread_mutex_lock(&s->lock);
	err = store_row_get(s, STORE_RUNNING, number, &row);
	if (err)
		goto out;
	ext = ext_row_obj(&row);
	on = ext && json_is_true(json_object_get(ext, "voicemail.enabled"));
	if (!on) {
		report_add(r, number, "voicemail.enabled", "vm.disabled",
			   "extension %.23s has no mailbox", number);
		err = EINVAL;
		goto out;
	}
	err = store_policy_load(s, STORE_RUNNING, &p);
	if (err)
		goto out;
	if (row.sec[SEC_VM_PIN].p)
		store_open_blob(s, &row.sec[SEC_VM_PIN], &prev);
	/* no force-new-user exception: the owner's own PIN is never the
	 * extension number */
	if (policy_check_pin(&p, "voicemail.pin", pin, number, prev, false,
			     NULL, r)) {
		if (!report_count(r))
			report_add(r, number, "voicemail.pin", "policy",
				   "does not comply with the PIN policy");
		err = EINVAL;
		goto out;
	}
	err = store_seal(s, pin, &b);
	if (err)
		goto out;
	err = store_tx_begin(s);
	if (err)
		goto out;
	err = pin_write(s, STORE_RUNNING, number, &b);
	if (!err)
		err = pin_write(s, STORE_STAGED, number, &b);
	if (!err)
		err = store_gen_bump(s, &gen);
	if (err) {
		store_tx_rollback(s);
		goto out;
	}
	err = store_tx_commit(s);
	/* the rows changed beneath the mirror: reloaded at its next use */
	store_mirror_drop(s);
 out:
	pthread_mutex_unlock(&s->lock);
	store_wipe(prev);
	blob_free(&b);
	ext_row_clear(&row);
	return err;
}

int store_vm_pin_check(struct store *s, const char *number, const char *pin,
		       bool *ok)
{
	return store_secret_check(s, number, SEC_VM_PIN, -1, pin, NULL, ok);
}
