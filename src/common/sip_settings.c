/*
 * sip_settings — the "sip" section's table and its cross-key rules.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "common/report.h"
#include "common/sip_settings.h"

#define S struct sip_settings

bool sip_settings_realm_ok(const char *v)
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

static int realm_check(const char *field, const char *v, struct report *r)
{
	if (sip_settings_realm_ok(v))
		return 0;
	if (r)
		report_add(r, "sip", field, "sip.realm_format",
			   "realm must be 1-63 characters of letters, digits, "
			   "'.', '-' or '_'");
	return EINVAL;
}

static const struct setting_def defs[] = {
	{ .name = "realm", .type = SETTING_STRING,
	  .sdef = SIP_SETTINGS_REALM_DEFAULT, .check = realm_check,
	  .module = "sip", .off = offsetof(S, realm),
	  .size = sizeof(((S *)0)->realm),
	  .help = "digest realm of every challenge (changing it invalidates "
		  "every stored password hash)" },
	SETTING_INT_AT(S, udp_port, 5060, 1, 65535, "sip",
		       "SIP over UDP listens on this port"),
	SETTING_INT_AT(S, tcp_port, 5060, 1, 65535, "sip",
		       "SIP over TCP listens on this port"),
	SETTING_INT_AT(S, tls_port, 5061, 1, 65535, "sip",
		       "SIP over TLS listens on this port"),
	SETTING_INT_AT(S, rtp_start, 10000, 1024, 65535, "media",
		       "first port of the RTP range"),
	SETTING_INT_AT(S, rtp_end, 20000, 1024, 65535, "media",
		       "last port of the RTP range"),
	SETTING_INT_AT(S, min_expires, 60, 1, 86400, "registrar",
		       "shortest registration accepted, seconds"),
	SETTING_INT_AT(S, max_expires, 3600, 1, 604800, "registrar",
		       "longest registration granted, seconds"),
	SETTING_INT_AT(S, default_expires, 3600, 1, 604800, "registrar",
		       "registration granted when the phone asks for none"),
	SETTING_INT_AT(S, qualify_interval, 60, 5, 3600, "registrar",
		       "seconds between OPTIONS pings of qualified contacts"),
	SETTING_INT_AT(S, keepalive_interval, 30, 5, 3600, "sip",
		       "seconds between keep-alives on idle connections"),
	SETTING_INT_AT(S, nonce_ttl, 300, 10, 3600, "auth",
		       "lifetime of a digest nonce, seconds"),
	SETTING_INT_AT(S, max_bindings, 200000, 1, 10000000, "registrar",
		       "registrations held in all"),
	SETTING_INT_AT(S, udp_rcvbuf, 8388608, 65536, 268435456, "sip",
		       "receive buffer of the UDP sockets, bytes"),
	SETTING_INT_AT(S, tcp_per_source, 32, 1, 65535, "sip",
		       "TCP connections allowed per source address"),
	/* tls: bounds of the TLS handshake (src/sip/transport_tls.c) */
	SETTING_INT_AT(S, tls_handshakes, 64, 1, 65535, "sip",
		       "TLS handshakes in progress at once; a connection "
		       "beyond is closed at accept"),
	SETTING_INT_AT(S, tls_handshake_timeout, 5, 1, 60, "sip",
		       "seconds a TLS handshake may take before its "
		       "connection is closed"),
	SETTING_INT_AT(S, max_recordings, 32, 1, 1024, "media",
		       "calls recorded at once (user.recording); beyond, a "
		       "call is not recorded and the log says so"),
};

const struct settings_table sip_settings_table = {
	.section = "sip", .defs = defs, .n = sizeof(defs) / sizeof(defs[0]),
	.struct_size = sizeof(S),
};

json_t *sip_settings_defaults(void)
{
	return settings_defaults(&sip_settings_table);
}

int sip_settings_set(json_t *obj, const char *key, const char *value,
		     struct report *r)
{
	return settings_set(&sip_settings_table, obj, key, value, r);
}

void sip_settings_decode(const json_t *obj, struct sip_settings *out)
{
	settings_decode(&sip_settings_table, obj, out);
}

static struct sip_settings dflt;
static pthread_once_t dflt_once = PTHREAD_ONCE_INIT;

static void dflt_init(void)
{
	sip_settings_decode(NULL, &dflt);
}

const struct sip_settings *sip_settings_default(void)
{
	pthread_once(&dflt_once, dflt_init);
	return &dflt;
}

int sip_settings_validate(const json_t *obj, struct report *r)
{
	struct sip_settings s;
	int err = settings_check(&sip_settings_table, obj, r);

	sip_settings_decode(obj, &s);
	if (s.rtp_start >= s.rtp_end) {
		report_add(r, "sip", "sip.rtp_start", "sip.range",
			   "rtp_start must be below rtp_end");
		err = EINVAL;
	}
	if (s.min_expires > s.max_expires) {
		report_add(r, "sip", "sip.min_expires", "sip.range",
			   "min_expires must not exceed max_expires");
		err = EINVAL;
	}
	if (s.default_expires < s.min_expires ||
	    s.default_expires > s.max_expires) {
		report_add(r, "sip", "sip.default_expires", "sip.range",
			   "default_expires must lie between min_expires and "
			   "max_expires");
		err = EINVAL;
	}
	if (s.udp_port == s.tls_port || s.tcp_port == s.tls_port) {
		report_add(r, "sip", "sip.tls_port", "sip.port_conflict",
			   "tls_port must differ from udp_port and tcp_port");
		err = EINVAL;
	}
	return err;
}
