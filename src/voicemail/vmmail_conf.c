/*
 * vmmail_conf — the "smtp" settings section: its table (host, port,
 * security, user, password, from, verify_peer), its rules and its decoder
 * into struct vmmail_conf. Pure (common/settings.h).
 *
 * The password is a secret key of the section (store_section.secrets):
 * sealed at rest, shown as "set" or "", opened for the decoder only.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/report.h"
#include "common/settings.h"
#include "store/store.h"
#include "voicemail/vmmail.h"
#include "voicemail/vmmail_int.h"

struct smtp_typed {
	char host[256];
	uint16_t port;
	unsigned security;         /* index in choices */
	char user[128];
	char from[256];
	bool verify_peer;
};

static const char *const security_choices[] = { "none", "starttls",
						 "smtps", NULL };

static int host_check(const char *field, const char *v, struct report *r)
{
	size_t n = strlen(v);
	bool ok = n < 254;

	for (size_t i = 0; ok && i < n; i++) {
		char c = v[i];

		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		     (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		     c == ':';
	}
	if (ok)
		return 0;
	if (r)
		report_add(r, "smtp", field, "smtp.host",
			   "%s must be a host name or IP address (letters, "
			   "digits, '.', '-', ':'), or \"\" for off", field);
	return EINVAL;
}

static int text_check(const char *field, const char *v, struct report *r)
{
	if (!vmmail_hdr_ok(v))
		return 0;
	if (r)
		report_add(r, "smtp", field, "smtp.control",
			   "%s must not contain control characters", field);
	return EINVAL;
}

static int from_check(const char *field, const char *v, struct report *r)
{
	if (!*v || !vmmail_addr_ok(v))
		return 0;
	if (r)
		report_add(r, "smtp", field, "smtp.address",
			   "%s must be an address like voicemail@example.org "
			   "(or \"\" for voicemail@<hostname>)", field);
	return EINVAL;
}

static int password_check(const char *field, const char *v,
			  struct report *r)
{
	/* as sealed at rest (store/section_secrets.c) */
	if (!strncmp(v, "sealed:", 7) && strlen(v) < 512)
		return text_check(field, v, r);
	if (strlen(v) > 127) {
		if (r)
			report_add(r, "smtp", field, "smtp.length",
				   "%s must be at most 127 characters", field);
		return EINVAL;
	}
	return text_check(field, v, r);
}

#define S struct smtp_typed
static const struct setting_def defs[] = {
	{ .name = "host", .type = SETTING_STRING, .sdef = "",
	  .check = host_check, .module = "vmmail", .off = offsetof(S, host),
	  .size = sizeof(((S *)0)->host),
	  .help = "SMTP smart relay (host name or IP address); empty: "
		  "voicemail to e-mail off" },
	SETTING_INT_AT(S, port, 587, 1, 65535, "vmmail",
		       "relay port (587 submission, 465 smtps, 25)"),
	{ .name = "security", .type = SETTING_ENUM, .sdef = "starttls",
	  .choices = security_choices, .module = "vmmail",
	  .off = offsetof(S, security), .size = sizeof(((S *)0)->security),
	  .help = "none, starttls (required, not opportunistic) or smtps" },
	{ .name = "user", .type = SETTING_STRING, .sdef = "",
	  .check = text_check, .module = "vmmail", .off = offsetof(S, user),
	  .size = sizeof(((S *)0)->user),
	  .help = "relay login; empty: no authentication" },
	{ .name = "password", .type = SETTING_STRING, .sdef = "",
	  .check = password_check, .module = "vmmail",
	  .help = "relay password (sealed at rest, never shown)" },
	{ .name = "from", .type = SETTING_STRING, .sdef = "",
	  .check = from_check, .module = "vmmail", .off = offsetof(S, from),
	  .size = sizeof(((S *)0)->from),
	  .help = "sender address; empty: voicemail@<hostname>" },
	SETTING_BOOL_AT(S, verify_peer, 1, "vmmail",
			"check the relay's TLS certificate and name"),
};
#undef S

const struct settings_table vmmail_smtp_table = {
	.section = "smtp", .defs = defs, .n = sizeof(defs) / sizeof(defs[0]),
	.struct_size = sizeof(struct smtp_typed),
};

json_t *vmmail_smtp_defaults(void)
{
	return settings_defaults(&vmmail_smtp_table);
}

int vmmail_smtp_set(json_t *obj, const char *key, const char *value,
		    struct report *r)
{
	return settings_set(&vmmail_smtp_table, obj, key, value, r);
}

int vmmail_smtp_validate(const json_t *obj, struct report *r)
{
	return settings_check(&vmmail_smtp_table, obj, r);
}

void vmmail_smtp_decode(const json_t *obj, void *out)
{
	struct vmmail_conf *c = out;
	struct smtp_typed t;
	const char *pw = json_string_value(json_object_get(obj, "password"));

	settings_decode(&vmmail_smtp_table, obj, &t);
	memset(c, 0, sizeof(*c));
	snprintf(c->host, sizeof(c->host), "%s", t.host);
	c->port = t.port;
	snprintf(c->security, sizeof(c->security), "%s",
		 security_choices[t.security < 3 ? t.security : 1]);
	snprintf(c->user, sizeof(c->user), "%s", t.user);
	if (pw && strlen(pw) < sizeof(c->password) &&
	    strncmp(pw, "sealed:", 7) && !vmmail_hdr_ok(pw))
		snprintf(c->password, sizeof(c->password), "%s", pw);
	snprintf(c->from, sizeof(c->from), "%s", t.from);
	c->verify_peer = t.verify_peer;
}

static const char *const smtp_secrets[] = { "password", NULL };

const struct store_section vmmail_smtp_section = {
	.name = "smtp",
	.defaults = vmmail_smtp_defaults,
	.set = vmmail_smtp_set,
	.validate = vmmail_smtp_validate,
	.typed_size = sizeof(struct vmmail_conf),
	.decode = vmmail_smtp_decode,
	.table = &vmmail_smtp_table,
	.secrets = smtp_secrets,
};
