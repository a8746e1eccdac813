/*
 * callpw — the check of a call password typed by a caller (the gate of
 * an extension with security.call_password; src/voicemail/vmgate.c).
 * The password is set by the administrator (a sealed secret, held to the
 * PIN policy at commit); the data plane only knows that one exists
 * (snap_ext.call_pw) and asks here, on its worker thread.
 */
#include <errno.h>
#include <string.h>
#include <sodium.h>

#include "store/store_int.h"

#define CALLPW_CMP_MAX 64

int store_call_pw_check(struct store *s, const char *number, const char *pw,
			bool *ok)
{
	unsigned char a[CALLPW_CMP_MAX], b[CALLPW_CMP_MAX];
	struct ext_row row;
	char *cur = NULL;
	size_t la, lb;
	int err;

	if (!s || !number || !pw || !ok)
		return EINVAL;
	*ok = false;
	memset(&row, 0, sizeof(row));
	pthread_mutex_lock(&s->lock);
	err = store_row_get(s, STORE_RUNNING, number, &row);
	if (!err && row.sec[SEC_CALL_PW].p)
		err = store_open_blob(s, &row.sec[SEC_CALL_PW], &cur);
	pthread_mutex_unlock(&s->lock);
	ext_row_clear(&row);
	if (err || !cur) {
		store_wipe(cur);
		return err;
	}
	/* fixed-size buffers: the time taken says nothing of the digits */
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	la = strnlen(cur, sizeof(a));
	lb = strnlen(pw, sizeof(b));
	memcpy(a, cur, la);
	memcpy(b, pw, lb);
	*ok = la == lb && la > 0 && la < sizeof(a) &&
		sodium_memcmp(a, b, sizeof(a)) == 0;
	sodium_memzero(a, sizeof(a));
	sodium_memzero(b, sizeof(b));
	store_wipe(cur);
	return 0;
}
