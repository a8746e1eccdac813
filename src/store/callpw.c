/*
 * callpw — the checks of secrets typed on a phone against the sealed
 * secret of the running row: the voicemail PIN (vmpin.c), the call
 * password (the gate of an extension with security.call_password;
 * src/voicemail/vmgate.c) and the hotdesk PIN (hdpin.c). The data plane
 * only knows that a secret exists (snap_ext) and asks here, on a worker
 * thread: opened under the store's lock, compared in constant time over a
 * fixed length, wiped.
 */
#include <errno.h>
#include <string.h>
#include <sodium.h>

#include "store/store_int.h"

#define SECRET_CMP_MAX 64

int store_secret_check(struct store *s, const char *number, int slot,
		       int type, const char *typed, bool *exists, bool *ok)
{
	unsigned char a[SECRET_CMP_MAX], b[SECRET_CMP_MAX];
	struct ext_row row;
	char *cur = NULL;
	size_t la, lb;
	bool kind;
	int err;

	if (!s || !number || !typed || !ok || slot < 0 || slot >= SEC_N)
		return EINVAL;
	*ok = false;
	if (exists)
		*exists = false;
	memset(&row, 0, sizeof(row));
	pthread_mutex_lock(&s->lock);
	err = store_row_get(s, STORE_RUNNING, number, &row);
	kind = !err && (type < 0 || (int)row.type == type);
	if (kind && row.sec[slot].p)
		err = store_open_blob(s, &row.sec[slot], &cur);
	pthread_mutex_unlock(&s->lock);
	ext_row_clear(&row);
	if (err || !kind || !cur) {
		store_wipe(cur);
		return err;
	}
	if (exists)
		*exists = true;
	/* fixed-size buffers: the time taken says nothing of the digits */
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	la = strnlen(cur, sizeof(a));
	lb = strnlen(typed, sizeof(b));
	memcpy(a, cur, la);
	memcpy(b, typed, lb);
	*ok = la == lb && la > 0 && la < sizeof(a) &&
		sodium_memcmp(a, b, sizeof(a)) == 0;
	sodium_memzero(a, sizeof(a));
	sodium_memzero(b, sizeof(b));
	store_wipe(cur);
	return 0;
}

int store_call_pw_check(struct store *s, const char *number, const char *pw,
			bool *ok)
{
	return store_secret_check(s, number, SEC_CALL_PW, -1, pw, NULL, ok);
}
