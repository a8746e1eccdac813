/*
 * sipd's settings: the "sip" section of the configuration (defaults, one
 * key at a time, the whole section) and what the loop reads from it when
 * a snapshot is applied.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/sip_settings.h"
#include "sip/sipd_priv.h"
#include "store/snapshot.h"
#include "store/store.h"   /* struct store_section */

/* ---- settings ("sip" section) --------------------------------------- */

/* The section's table, rules and typed struct are common/sip_settings.c;
 * the daemon registers it under this name. */
const struct store_section sipd_section = {
	.name = "sip", .defaults = sip_settings_defaults,
	.set = sip_settings_set, .validate = sip_settings_validate,
	.table = &sip_settings_table,
};

long sipd_setting(const json_t *o, const char *key)
{
	return (long)settings_int(&sip_settings_table, o, key);
}

void sipd_settings_load(struct sipd *sd)
{
	struct sipd_settings *st = &sd->set;
	/* typed, decoded when the snapshot was built: no JSON here */
	const struct sip_settings *ss = snapshot_sip(sd->snap);
	const char *realm = sd->snap && sd->snap->realm[0] ?
		sd->snap->realm : ss->realm;

	if (!sip_settings_realm_ok(realm))
		realm = DEFAULT_REALM;
	re_snprintf(st->realm, sizeof(st->realm), "%s", realm);
	st->min_expires = ss->min_expires;
	st->max_expires = ss->max_expires;
	st->default_expires = ss->default_expires;
	if (st->min_expires > st->max_expires)
		st->max_expires = st->min_expires;
	if (st->default_expires < st->min_expires ||
	    st->default_expires > st->max_expires)
		st->default_expires = st->max_expires;
	st->nonce_ttl = ss->nonce_ttl;
	st->qualify_interval = ss->qualify_interval;
	st->keepalive_interval = ss->keepalive_interval;
	st->max_bindings = ss->max_bindings;
	sd->per_src = ss->tcp_per_source;
}
