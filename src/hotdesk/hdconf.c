/*
 * hdconf — the "hotdesk" settings section: how long a hotdesk log-in
 * lasts (max_minutes after it, idle_minutes after the last call made or
 * received there). Pure (common/settings.h); registered by the daemon.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <jansson.h>

#include "common/report.h"
#include "common/settings.h"
#include "hotdesk/hotdesk.h"
#include "store/store.h"

#define S struct hotdesk_settings
static const struct setting_def defs[] = {
	SETTING_INT_AT(S, max_minutes, 720, 1, 43200, "hotdesk",
		       "a hotdesk log-in ends this many minutes after it "
		       "(720 = 12 h; at most 30 days)"),
	SETTING_INT_AT(S, idle_minutes, 0, 0, 43200, "hotdesk",
		       "... or this many minutes after the last call made "
		       "or received at that phone (0 = off)"),
};
#undef S

static const struct settings_table table = {
	.section = "hotdesk", .defs = defs,
	.n = sizeof(defs) / sizeof(defs[0]),
	.struct_size = sizeof(struct hotdesk_settings),
};

static json_t *hd_defaults(void)
{
	return settings_defaults(&table);
}

static int hd_set(json_t *obj, const char *key, const char *value,
		  struct report *r)
{
	return settings_set(&table, obj, key, value, r);
}

static int hd_validate(const json_t *obj, struct report *r)
{
	return settings_check(&table, obj, r);
}

static void hd_decode(const json_t *obj, void *out)
{
	settings_decode(&table, obj, out);
}

const struct store_section hotdesk_section = {
	.name = "hotdesk",
	.defaults = hd_defaults,
	.set = hd_set,
	.validate = hd_validate,
	.typed_size = sizeof(struct hotdesk_settings),
	.decode = hd_decode,
	.table = &table,
};
