/*
 * sip_settings — the "sip" settings section: its one table (realm, SIP
 * and RTP ports, registration expiry bounds, timers, limits) and the
 * typed struct the snapshot carries. The SIP and RTP ports are defined
 * here and nowhere else: the stack listens on them, the firewall opens
 * them and the guard's bans cover them, each reading this struct.
 */
#ifndef BULWARK_SIP_SETTINGS_H
#define BULWARK_SIP_SETTINGS_H

#include <stdint.h>
#include <jansson.h>

#include "common/settings.h"

struct report;

#define SIP_SETTINGS_REALM_DEFAULT "bulwark"

struct sip_settings {
	char realm[64];              /* 1-63 of [A-Za-z0-9._-] */
	uint16_t udp_port;
	uint16_t tcp_port;
	uint16_t tls_port;
	uint16_t rtp_start;          /* RTP port range, inclusive */
	uint16_t rtp_end;
	uint32_t min_expires;        /* REGISTER expiry bounds, seconds */
	uint32_t max_expires;
	uint32_t default_expires;
	uint32_t qualify_interval;   /* seconds between OPTIONS pings */
	uint32_t keepalive_interval; /* seconds between CRLF keep-alives */
	uint32_t nonce_ttl;          /* digest nonce lifetime, seconds */
	uint32_t max_bindings;       /* bindings in all */
	uint32_t udp_rcvbuf;         /* UDP socket receive buffer, bytes */
	uint32_t tcp_per_source;     /* TCP connections per source address */
	uint32_t max_recordings;     /* calls recorded at once (issue 13) */
	uint32_t tls_handshakes;     /* TLS handshakes in progress (tls) */
	uint32_t tls_handshake_timeout; /* seconds per TLS handshake (tls) */
};

/* The table (section "sip"). */
extern const struct settings_table sip_settings_table;

/* Every key with its default (new object, or NULL). */
json_t *sip_settings_defaults(void);

/* One key from text (settings_set on the table). */
int sip_settings_set(json_t *obj, const char *key, const char *value,
		     struct report *r);

/* The whole section at commit: every key (settings_check) and the rules
 * between keys (rtp_start below rtp_end, expiry bounds in order, the TLS
 * port apart from the others). Reports every finding; 0 or EINVAL. */
int sip_settings_validate(const json_t *obj, struct report *r);

/* Decode the section object (may be NULL: all defaults) into *out. */
void sip_settings_decode(const json_t *obj, struct sip_settings *out);

/* Whether v is an acceptable realm (1-63 of [A-Za-z0-9._-]). */
bool sip_settings_realm_ok(const char *v);

/* The defaults, decoded once (a shared, read-only struct). */
const struct sip_settings *sip_settings_default(void);

#endif
