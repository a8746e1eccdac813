/*
 * trunk_dids — the commit rule of the "trunks" section that reads the
 * extensions (trunk, issue 15): every DID ("did.<number>") names an
 * extension, ring group or mailbox that the staged configuration has.
 * The section's own rules are in trunk/tconf.c; this one lives here
 * because only the commit sees the staged extensions.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

static int row_cmp(const void *key, const void *row)
{
	return strcmp(key, ((const struct ext_row *)row)->number);
}

void store_trunk_dids_check(const json_t *secs, struct ext_row *rows,
			    size_t n, struct report *r)
{
	const json_t *obj = json_object_get(secs, "trunks");
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		const char *dest = json_string_value(v);
		const struct ext_row *x;

		if (strncmp(key, "did.", 4) || !dest)
			continue;
		x = bsearch(dest, rows, n, sizeof(*rows), row_cmp);
		if (!x)
			report_add(r, "trunks", key, "trunks.did_unknown",
				   "trunks.%.40s: there is no extension, ring "
				   "group or mailbox %.23s.", key, dest);
		else if (x->type == MODEL_ZAP)
			report_add(r, "trunks", key, "trunks.did_type",
				   "trunks.%.40s: %.23s is a zap extension, "
				   "which takes no calls.", key, dest);
	}
}
