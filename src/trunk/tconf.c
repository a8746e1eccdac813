/*
 * tconf — the "trunks" settings section: per-trunk keys
 * "<trunk>.<field>" and DIDs "did.<number>", their rules (each refusal
 * names the key and the rule), and the decoder into struct trunks_typed
 * that the snapshot hands out (trunks_of). Pure: no I/O, no DNS — a
 * trunk's inbound addresses are its host when it is an IP literal and
 * the ones listed in "<trunk>.inbound".
 *
 * A trunk exists when its "<trunk>.host" key does: setting any field of
 * a new trunk adds every field with its default; setting its host to ""
 * removes the trunk. "did.<number>" = "" removes a DID.
 * That DID destinations exist is checked at commit by the store
 * (store/trunk_dids.c), which sees the staged extensions. The decoder
 * and the snapshot's view are in tsnap.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <re_types.h>
#include <re_sa.h>

#include "common/report.h"
#include "store/snapshot.h"
#include "store/store.h"
#include "trunk/trunk.h"
#include "trunk/trunk_int.h"

enum fkind { F_STR, F_HOST, F_INT, F_BOOL, F_ENUM, F_ADDRS, F_NUM,
	     F_SECRET, F_PATH };

struct tfield {
	const char *name;
	enum fkind kind;
	const char *sdef;          /* default as text */
	long min, max;             /* F_INT bounds; F_STR/F_NUM max length */
	const char *const *choices;
	const char *help;
};

static const char *const tp_choices[] = { "udp", "tcp", "tls", NULL };
static const char *const id_choices[] = { "none", "pai", "rpid", NULL };

static const struct tfield fields[] = {
	{ "host", F_HOST, "", 0, 253, NULL, "ITSP host name or IP address" },
	{ "port", F_INT, "5060", 1, 65535, NULL, "ITSP port" },
	{ "transport", F_ENUM, "udp", 0, 0, tp_choices, "udp, tcp or tls" },
	{ "domain", F_HOST, "", 0, 253, NULL,
	  "domain of From/To/Request-URI (\"\" = host)" },
	{ "username", F_STR, "", 0, 64, NULL, "account (From/To user)" },
	{ "auth_user", F_STR, "", 0, 64, NULL,
	  "digest user (\"\" = username)" },
	{ "password", F_SECRET, "", 0, 128, NULL,
	  "digest password (sealed at rest, never shown)" },
	{ "register", F_BOOL, "false", 0, 1, NULL, "send REGISTER" },
	{ "expiry", F_INT, "3600", 60, 86400, NULL,
	  "registration expiry asked, seconds" },
	{ "id_header", F_ENUM, "pai", 0, 0, id_choices,
	  "caller identity header: pai, rpid or none" },
	{ "cid_rewrite", F_BOOL, "true", 0, 1, NULL,
	  "the trunk accepts our caller ID (false: its ANI is sent)" },
	{ "ani", F_NUM, "", 0, 21, NULL, "the trunk's ANI/BTN" },
	{ "max_calls", F_INT, "0", 0, 1000, NULL,
	  "concurrent calls (0 = unlimited)" },
	{ "inbound", F_ADDRS, "", 0, TRUNK_ADDR_MAX - 1, NULL,
	  "more addresses calls from the trunk come from (IP list)" },
	/* the TLS client's trust */
	{ "tls_ca", F_PATH, "", 0, 255, NULL,
	  "PEM file of the CAs trusted for this trunk (\"\" = the system's)" },
	{ "tls_verify", F_BOOL, "true", 0, 1, NULL,
	  "check the trunk's TLS certificate and name" },
};
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

static const struct tfield *field_of(const char *name)
{
	for (size_t i = 0; i < N_FIELDS; i++)
		if (!strcmp(fields[i].name, name))
			return &fields[i];
	return NULL;
}

bool trunk_name_ok(const char *s, size_t n)
{
	if (!n || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '-'))
			return false;
	return true;
}

static bool number_ok(const char *s, size_t max, bool empty_ok)
{
	size_t n = strlen(s);

	if (!n)
		return empty_ok;
	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (i == 0 && s[i] == '+')))
			return false;
	return n > (s[0] == '+' ? 1u : 0u);
}

static bool host_ok(const char *v, size_t max)
{
	size_t n = strlen(v);

	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      c == ':'))
			return false;
	}
	return true;
}

static bool text_ok(const char *v, size_t max)
{
	size_t n = strlen(v);

	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x21 || c == 0x7f || c == '"' || c == '\\' ||
		    c == '@' || c == ':' || c == ';' || c == '<' || c == '>')
			return false;
	}
	return true;
}

/* "ip, ip, ..." with at most max entries; each into out when given. */
int trunk_addrs_parse(const char *v, long max, struct sa *out, size_t *n)
{
	char buf[512];
	char *save = NULL, *tok;
	size_t k = 0;

	if (strlen(v) >= sizeof(buf))
		return EINVAL;
	snprintf(buf, sizeof(buf), "%s", v);
	for (tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		struct sa sa;

		if ((long)k >= max || sa_set_str(&sa, tok, 0))
			return EINVAL;
		if (out)
			out[k] = sa;
		k++;
	}
	if (n)
		*n = k;
	return 0;
}

/* Check text value v of field f; on refusal a report item on key. */
static int value_check(const struct tfield *f, const char *key,
		       const char *v, struct report *r)
{
	const char *rule = NULL, *why = NULL;
	char *end = NULL;
	long n;

	switch (f->kind) {
	case F_HOST:
		if (!host_ok(v, (size_t)f->max)) {
			rule = "trunks.host";
			why = "must be a host name or IP address (letters, "
			      "digits, '.', '-', ':'; at most 253)";
		}
		break;
	case F_STR:
		if (!text_ok(v, (size_t)f->max)) {
			rule = "trunks.text";
			why = "must be at most 64 characters without spaces, "
			      "quotes, '\\', '@', ':', ';', '<', '>'";
		}
		break;
	case F_SECRET:
		if (!strncmp(v, "sealed:", 7) && strlen(v) < 1024)
			break;   /* as sealed at rest (a rollback) */
		if (strlen(v) > (size_t)f->max || strpbrk(v, "\r\n\"\\")) {
			rule = "trunks.password";
			why = "must be at most 128 characters without quotes, "
			      "'\\' or line breaks";
		}
		break;
	case F_NUM:
		if (!number_ok(v, (size_t)f->max, true)) {
			rule = "trunks.number";
			why = "must be digits with an optional leading '+' "
			      "(at most 21), or \"\"";
		}
		break;
	case F_INT:
		errno = 0;
		n = strtol(v, &end, 10);
		if (!*v || *end || errno || n < f->min || n > f->max) {
			rule = "trunks.range";
			why = f->min == 60 ? "must be an integer from 60 to "
				"86400" : f->max == 65535 ? "must be an "
				"integer from 1 to 65535" : "must be an "
				"integer from 0 to 1000";
		}
		break;
	case F_BOOL:
		if (strcmp(v, "true") && strcmp(v, "false") &&
		    strcmp(v, "yes") && strcmp(v, "no")) {
			rule = "trunks.bool";
			why = "must be true or false (yes or no)";
		}
		break;
	case F_ENUM:
		rule = "trunks.choice";
		for (size_t i = 0; f->choices[i]; i++)
			if (!strcmp(f->choices[i], v))
				rule = NULL;
		why = f->choices == tp_choices ? "must be udp, tcp or tls" :
			"must be pai, rpid or none";
		break;
	case F_PATH:
		if (*v && (*v != '/' || strlen(v) > (size_t)f->max ||
			   strpbrk(v, "\r\n\t\"\\"))) {
			rule = "trunks.path";
			why = "must be an absolute file path (at most 255 "
			      "characters, no quotes, '\\' or line breaks), "
			      "or \"\"";
		}
		break;
	case F_ADDRS:
		if (trunk_addrs_parse(v, f->max, NULL, NULL)) {
			rule = "trunks.addresses";
			why = "must be a list of at most 7 IP addresses "
			      "separated by ',' or spaces";
		}
		break;
	}
	if (!rule)
		return 0;
	if (r)
		report_add(r, "trunks", key, rule, "trunks.%s %s.", key, why);
	return EINVAL;
}

static json_t *typed_value(const struct tfield *f, const char *v)
{
	if (f->kind == F_INT)
		return json_integer(strtol(v, NULL, 10));
	if (f->kind == F_BOOL)
		return json_boolean(!strcmp(v, "true") || !strcmp(v, "yes"));
	return json_string(v);
}

static json_t *trunks_defaults(void)
{
	return json_object();   /* no trunk, no DID */
}

/* Remove every key of trunk name (name + '.' prefix). */
static void trunk_remove(json_t *obj, const char *name)
{
	size_t l = strlen(name);
	const char *key;
	json_t *v, *tmp;

	json_object_foreach_safe(obj, tmp, key, v) {
		if (!strncmp(key, name, l) && key[l] == '.')
			json_object_del(obj, key);
	}
}

static int trunks_set(json_t *obj, const char *key, const char *value,
		      struct report *r)
{
	const char *dot = strchr(key, '.');
	const struct tfield *f;
	char name[33], hk[64];
	size_t nl;

	if (!dot) {
		report_add(r, "trunks", key, "trunks.key",
			   "trunks has no key '%.40s': keys are "
			   "<trunk>.<field> and did.<number>.", key);
		return ENOENT;
	}
	nl = (size_t)(dot - key);
	if (nl == 3 && !strncmp(key, "did", 3)) {
		if (!number_ok(dot + 1, 23, false)) {
			report_add(r, "trunks", key, "trunks.did",
				   "trunks.%.40s: a DID must be digits with "
				   "an optional leading '+' (at most 23).",
				   key);
			return EINVAL;
		}
		if (!*value) {
			json_object_del(obj, key);
			return 0;
		}
		if (!number_ok(value, 23, false) || value[0] == '+') {
			report_add(r, "trunks", key, "trunks.did_destination",
				   "trunks.%.40s must be an extension, ring "
				   "group or mailbox number (digits).", key);
			return EINVAL;
		}
		return json_object_set_new(obj, key, json_string(value)) ?
			ENOMEM : 0;
	}
	if (!trunk_name_ok(key, nl)) {
		report_add(r, "trunks", key, "trunks.name",
			   "trunks.%.40s: a trunk name must be 1 to 32 of "
			   "a-z, 0-9, '_', '-' (and not \"did\").", key);
		return EINVAL;
	}
	f = field_of(dot + 1);
	if (!f) {
		report_add(r, "trunks", key, "trunks.field",
			   "trunks.%.40s: a trunk has no field '%.40s' "
			   "(host, port, transport, domain, username, "
			   "auth_user, password, register, expiry, id_header, "
			   "cid_rewrite, ani, max_calls, inbound).", key,
			   dot + 1);
		return ENOENT;
	}
	if (value_check(f, key, value, r))
		return EINVAL;
	memcpy(name, key, nl);
	name[nl] = '\0';
	snprintf(hk, sizeof(hk), "%s.host", name);
	if (f->kind == F_HOST && !strcmp(f->name, "host") && !*value) {
		trunk_remove(obj, name);
		return 0;
	}
	if (!json_object_get(obj, hk)) {
		for (size_t i = 0; i < N_FIELDS; i++) {
			char k[64];

			snprintf(k, sizeof(k), "%s.%s", name, fields[i].name);
			json_object_set_new(obj, k, typed_value(&fields[i],
							fields[i].sdef));
		}
	}
	return json_object_set_new(obj, key, typed_value(f, value)) ?
		ENOMEM : 0;
}

/* The text of a stored value, for value_check. */
static void text_of(const json_t *v, char *buf, size_t sz)
{
	if (json_is_string(v))
		snprintf(buf, sz, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, sz, "%lld", (long long)json_integer_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, sz, "%s", json_is_true(v) ? "true" : "false");
	else
		buf[0] = '\0';
}

static int trunks_validate(const json_t *obj, struct report *r)
{
	const char *key;
	json_t *v;
	size_t n = 0, nd = 0;
	int err = 0;

	json_object_foreach((json_t *)obj, key, v) {
		const char *dot = strchr(key, '.');
		const struct tfield *f;
		char buf[1024];

		if (dot && dot - key == 3 && !strncmp(key, "did", 3)) {
			nd++;
			if (!json_is_string(v) ||
			    !number_ok(json_string_value(v), 23, false)) {
				report_add(r, "trunks", key,
					   "trunks.did_destination", "trunks."
					   "%.40s must be an extension, ring "
					   "group or mailbox number.", key);
				err = EINVAL;
			}
			continue;
		}
		f = dot ? field_of(dot + 1) : NULL;
		if (!f || !trunk_name_ok(key, (size_t)(dot - key))) {
			report_add(r, "trunks", key, "trunks.key",
				   "trunks has no key '%.40s'.", key);
			err = EINVAL;
			continue;
		}
		text_of(v, buf, sizeof(buf));
		if (value_check(f, key, buf, r))
			err = EINVAL;
		if (!strcmp(f->name, "host")) {
			n++;
			if (!buf[0]) {
				report_add(r, "trunks", key, "trunks.host",
					   "trunks.%.40s must be set.", key);
				err = EINVAL;
			}
		}
	}
	if (n > TRUNK_MAX) {
		report_add(r, "trunks", "", "trunks.count",
			   "At most %d trunks.", TRUNK_MAX);
		err = EINVAL;
	}
	if (nd > TRUNK_DID_MAX) {
		report_add(r, "trunks", "", "trunks.did_count",
			   "At most %d DIDs.", TRUNK_DID_MAX);
		err = EINVAL;
	}
	return err;
}

static const char *const trunk_secrets[] = { "*.password", NULL };

const struct store_section trunks_section = {
	.name = "trunks",
	.defaults = trunks_defaults,
	.set = trunks_set,
	.validate = trunks_validate,
	.typed_size = sizeof(struct trunks_typed),
	.decode = trunk_decode,
	.secrets = trunk_secrets,
};
