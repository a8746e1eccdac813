/*
 * sipd's settings: the "sip" section of the configuration (defaults, one
 * key at a time, the whole section) and what the loop reads from it when
 * a snapshot is applied.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sipd_priv.h"
#include "store/snapshot.h"

/* ---- settings ("sip" section) --------------------------------------- */

struct sip_key {
	const char *name;
	long def, min, max;   /* ints; realm is the one string */
};

static const struct sip_key sip_keys[] = {
	{"udp_port", 5060, 1, 65535},
	{"tcp_port", 5060, 1, 65535},
	{"tls_port", 5061, 1, 65535},
	{"rtp_start", 10000, 1024, 65535},
	{"rtp_end", 20000, 1024, 65535},
	{"min_expires", 60, 1, 86400},
	{"max_expires", 3600, 1, 604800},
	{"default_expires", 3600, 1, 604800},
	{"qualify_interval", 60, 5, 3600},
	{"keepalive_interval", 30, 5, 3600},
	{"nonce_ttl", 300, 10, 3600},
	{"max_bindings", 200000, 1, 10000000},
	{"udp_rcvbuf", 8388608, 65536, 268435456},
	{"tcp_per_source", 32, 1, 65535},
};


static json_t *sip_defaults(void)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "realm", json_string(DEFAULT_REALM));
	for (size_t i = 0; i < sizeof(sip_keys) / sizeof(sip_keys[0]); i++)
		json_object_set_new(o, sip_keys[i].name,
				    json_integer(sip_keys[i].def));
	return o;
}

static bool realm_ok(const char *v)
{
	size_t n = strlen(v);

	if (!n || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      c == '_'))
			return false;
	}
	return true;
}

static int sip_set(json_t *obj, const char *key, const char *value,
		   struct report *r)
{
	char field[64];

	re_snprintf(field, sizeof(field), "sip.%s", key ? key : "");
	if (!obj || !key || !value)
		return EINVAL;
	if (!strcmp(key, "realm")) {
		if (!realm_ok(value)) {
			report_add(r, "sip", field, "sip.realm_format",
				   "realm must be 1-63 characters of letters, "
				   "digits, '.', '-' or '_'");
			return EINVAL;
		}
		json_object_set_new(obj, key, json_string(value));
		return 0;
	}
	for (size_t i = 0; i < sizeof(sip_keys) / sizeof(sip_keys[0]); i++) {
		char *end = NULL;
		long v;

		if (strcmp(sip_keys[i].name, key))
			continue;
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno || !*value || *end || v < sip_keys[i].min ||
		    v > sip_keys[i].max) {
			report_add(r, "sip", field, "sip.range",
				   "must be an integer from %ld to %ld",
				   sip_keys[i].min, sip_keys[i].max);
			return EINVAL;
		}
		json_object_set_new(obj, key, json_integer(v));
		return 0;
	}
	report_add(r, "sip", field, "sip.unknown_key",
		   "no such setting in section sip");
	return ENOENT;
}

long sipd_setting(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		return (long)json_integer_value(v);
	for (size_t i = 0; i < sizeof(sip_keys) / sizeof(sip_keys[0]); i++)
		if (!strcmp(sip_keys[i].name, key))
			return sip_keys[i].def;
	return 0;
}

static int sip_validate(const json_t *obj, struct report *r)
{
	int err = 0;

	if (sipd_setting(obj, "rtp_start") >=
	    sipd_setting(obj, "rtp_end")) {
		report_add(r, "sip", "sip.rtp_start", "sip.range",
			   "rtp_start must be below rtp_end");
		err = EINVAL;
	}
	if (sipd_setting(obj, "min_expires") >
	    sipd_setting(obj, "max_expires")) {
		report_add(r, "sip", "sip.min_expires", "sip.range",
			   "min_expires must not exceed max_expires");
		err = EINVAL;
	}
	if (sipd_setting(obj, "default_expires") <
	    sipd_setting(obj, "min_expires") ||
	    sipd_setting(obj, "default_expires") >
	    sipd_setting(obj, "max_expires")) {
		report_add(r, "sip", "sip.default_expires",
			   "sip.range", "default_expires must lie between "
			   "min_expires and max_expires");
		err = EINVAL;
	}
	if (sipd_setting(obj, "udp_port") ==
	    sipd_setting(obj, "tls_port") ||
	    sipd_setting(obj, "tcp_port") ==
	    sipd_setting(obj, "tls_port")) {
		report_add(r, "sip", "sip.tls_port", "sip.port_conflict",
			   "tls_port must differ from udp_port and tcp_port");
		err = EINVAL;
	}
	return err;
}

const struct store_section sipd_section = {
	.name = "sip", .defaults = sip_defaults, .set = sip_set,
	.validate = sip_validate,
};

void sipd_settings_load(struct sipd *sd)
{
	struct sipd_settings *st = &sd->set;
	const json_t *o = NULL;
	const char *realm = NULL;

	if (sd->snap && sd->snap->sections)
		o = json_object_get(sd->snap->sections, "sip");
	if (sd->snap && sd->snap->realm[0])
		realm = sd->snap->realm;
	else if (o && json_is_string(json_object_get(o, "realm")))
		realm = json_string_value(json_object_get(o, "realm"));
	if (!realm || !realm_ok(realm))
		realm = DEFAULT_REALM;
	re_snprintf(st->realm, sizeof(st->realm), "%s", realm);
	st->min_expires = sipd_setting(o, "min_expires");
	st->max_expires = sipd_setting(o, "max_expires");
	st->default_expires = sipd_setting(o, "default_expires");
	if (st->min_expires > st->max_expires)
		st->max_expires = st->min_expires;
	if (st->default_expires < st->min_expires ||
	    st->default_expires > st->max_expires)
		st->default_expires = st->max_expires;
	st->nonce_ttl = sipd_setting(o, "nonce_ttl");
	st->qualify_interval = sipd_setting(o, "qualify_interval");
	st->keepalive_interval = sipd_setting(o, "keepalive_interval");
	st->max_bindings = (size_t)sipd_setting(o, "max_bindings");
	sd->per_src = (size_t)sipd_setting(o, "tcp_per_source");
}
