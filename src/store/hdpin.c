/*
 * hdpin — the check of a hotdesk PIN typed at a phone against the sealed
 * hotdesk.pin of the running row (store/hdstore.h), as store_vm_pin_check
 * does for the mailbox PIN: opened under the store's lock, compared in
 * constant time over a fixed length, wiped. Run on the hotdesk worker,
 * never the SIP loop.
 */
#include <errno.h>
#include <string.h>
#include <sodium.h>

#include "model/model.h"
#include "store/hdstore.h"
#include "store/store_int.h"

#define PIN_CMP_MAX 64

int store_hotdesk_pin_check(struct store *s, const char *number,
			    const char *pin, bool *exists, bool *ok)
{
	unsigned char a[PIN_CMP_MAX], b[PIN_CMP_MAX];
	struct ext_row row;
	char *cur = NULL;
	size_t la, lb;
	bool hd;
	int err;

	if (!s || !number || !pin || !exists || !ok)
		return EINVAL;
	*ok = false;
	*exists = false;
	memset(&row, 0, sizeof(row));
	pthread_mutex_lock(&s->lock);
	err = store_row_get(s, STORE_RUNNING, number, &row);
	hd = !err && row.type == MODEL_HOTDESK;
	if (hd && row.sec[SEC_HOTDESK_PIN].p)
		err = store_open_blob(s, &row.sec[SEC_HOTDESK_PIN], &cur);
	pthread_mutex_unlock(&s->lock);
	ext_row_clear(&row);
	if (err == ENOENT)
		err = 0;           /* no such extension: not one */
	if (err || !hd || !cur) {
		store_wipe(cur);
		return err;
	}
	*exists = true;
	/* fixed-size buffers: the time taken says nothing of the digits */
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	la = strnlen(cur, sizeof(a));
	lb = strnlen(pin, sizeof(b));
	memcpy(a, cur, la);
	memcpy(b, pin, lb);
	*ok = la == lb && la > 0 && la < sizeof(a) &&
		sodium_memcmp(a, b, sizeof(a)) == 0;
	sodium_memzero(a, sizeof(a));
	sodium_memzero(b, sizeof(b));
	store_wipe(cur);
	return 0;
}
