/*
 * hdpin — the check of a hotdesk PIN typed at a phone against the sealed
 * hotdesk.pin of the running row (store/hdstore.h), through
 * store_secret_check (callpw.c) as the mailbox PIN. Run on the hotdesk
 * worker, never the SIP loop.
 */
#include <errno.h>

#include "model/model.h"
#include "store/hdstore.h"
#include "store/store_int.h"

int store_hotdesk_pin_check(struct store *s, const char *number,
			    const char *pin, bool *exists, bool *ok)
{
	int err;

	if (!exists)
		return EINVAL;
	err = store_secret_check(s, number, SEC_HOTDESK_PIN, MODEL_HOTDESK,
				 pin, exists, ok);
	return err == ENOENT ? 0 : err;   /* no such extension: not one */
}
