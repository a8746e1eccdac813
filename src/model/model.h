/*
 * model — extension types, their fields, defaults and validation.
 *
 * One declarative table (model_fields[]) describes every field of every tab
 * of "Add a New Phone": its name, kind, default, which extension types have
 * it, and how it validates. The API, the CLI (--set FIELD=VALUE), CSV
 * import/export, the GUI forms and commit validation all read this table;
 * no rule about a field is restated elsewhere (STYLE.md).
 *
 * An extension is a flat jansson object keyed by field name, e.g.
 *   {"number":"201","type":"sip","name":"Ada Lovelace",
 *    "auth.username":"201","auth.password":"...","phone.nat":false, ...}
 * Values are JSON booleans, integers, strings or arrays of strings.
 *
 * Field names other modules rely on (do not rename):
 *   number, type, name, class_of_service,
 *   auth.username, auth.password (secret), auth.algorithms (list:
 *     "sha-256","md5"; order = preference),
 *   voicemail.enabled, voicemail.pin (secret), voicemail.force_name,
 *   voicemail.force_greeting, voicemail.mwi, voicemail.email,
 *   phone.host_mode ("dynamic"|"static"), phone.host_ip, phone.nat,
 *   phone.transports (list: "udp","tcp","tls"), phone.qualify,
 *   phone.max_contacts, phone.call_limit_in, phone.call_limit_out,
 *   web.enabled, web.username, web.password (secret),
 *   security.blacklist (list), security.call_password (secret),
 *   hotdesk.pin (secret), ring_group.members (list), ring_group.strategy,
 *   shared.members (list), zap.channel, zap.card_vendor ("sangoma"|"digium"),
 *   virtual.destinations (list), virtual.vm_copies (list)
 *
 * Secrets (kind MODEL_SECRET) are plaintext only while in flight between
 * the API and the store; the store encrypts them and never returns them
 * unless asked to reveal. Checking a secret against the password policy is
 * the store's job (it knows the policy in force); the model checks only
 * presence and form.
 *
 * Pure: no I/O, no logging. Findings go to a struct report.
 */
#ifndef BULWARK_MODEL_H
#define BULWARK_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "common/report.h"

enum model_type {
	MODEL_SIP = 0,
	MODEL_IAX2,
	MODEL_ZAP,
	MODEL_VOICEMAIL,
	MODEL_HOTDESK,
	MODEL_VIRTUAL,
	MODEL_RING_GROUP,
	MODEL_SHARED,
	MODEL_TYPE_COUNT
};
#define MODEL_T(t) (1u << (t))
#define MODEL_ALL_TYPES ((1u << MODEL_TYPE_COUNT) - 1)

/* "sip", "iax2", "zap", "voicemail", "hotdesk", "virtual", "ring_group",
 * "shared". */
const char *model_type_name(enum model_type t);
int model_type_parse(const char *name, enum model_type *t); /* 0 or EINVAL */

enum model_kind {
	MODEL_BOOL,
	MODEL_INT,
	MODEL_STRING,
	MODEL_ENUM,      /* string, one of choices */
	MODEL_LIST,      /* ordered array of strings (choices if non-NULL) */
	MODEL_SECRET,    /* write-only string */
};

enum model_tab {
	MODEL_TAB_GENERAL,   /* number, name, class of service */
	MODEL_TAB_AUTH,
	MODEL_TAB_VOICEMAIL,
	MODEL_TAB_PHONE,
	MODEL_TAB_CALLERID,
	MODEL_TAB_USER,
	MODEL_TAB_WEB,
	MODEL_TAB_SECURITY,
	MODEL_TAB_TYPE,      /* type-specific: hotdesk, ring group, ... */
	MODEL_TAB_COUNT
};

/* The shape a string value (or each list item) must have, beyond its
 * length. Checked by model_parse_value and model_validate. The *_REF and
 * DEST forms also tell model_validate_set which fields point at other
 * extensions. (Added to the contract by the model: additive.) */
enum model_form {
	MODEL_FORM_NONE = 0,
	MODEL_FORM_NUMBER,      /* extension number: 2..8 digits */
	MODEL_FORM_EXT_REF,     /* number of another extension (ref_types) */
	MODEL_FORM_MAILBOX_REF, /* number of another extension with a mailbox */
	MODEL_FORM_DEST,        /* extension number, or external number:
				 * "+" and 3..15 digits, or 9..20 digits */
	MODEL_FORM_PHONENUM,    /* optional "+", then 1..20 digits */
	MODEL_FORM_NAME,        /* "First Last": ASCII letters, one space */
	MODEL_FORM_CIDNAME,     /* printable ASCII, no '"' or '\\' */
	MODEL_FORM_EMAIL,       /* local@domain.tld */
	MODEL_FORM_IP,          /* IPv4 or IPv6 literal (inet_pton) */
	MODEL_FORM_DIGITS,      /* digits only (PINs) */
	MODEL_FORM_WEBUSER,     /* [a-z0-9._-] */
	MODEL_FORM_TOKEN,       /* [A-Za-z0-9_-] (language, class names) */
	MODEL_FORM_TEXT,        /* no control characters */
	MODEL_FORM_HEADER,      /* one SIP header value: printable ASCII, no
				 * leading or trailing space (Alert-Info) */
};

/* What a secret field holds when the store shows it masked. model_validate
 * counts it as present and skips its form check. */
#define MODEL_SECRET_MASK "********"

struct model_field;
typedef void (model_check_h)(const json_t *ext, const struct model_field *f,
			     struct report *r);

struct model_field {
	const char *name;         /* dotted: "phone.nat" */
	enum model_tab tab;
	enum model_kind kind;
	unsigned types;           /* MODEL_T() mask of types that have it */
	const char *def;          /* default as text; "{number}" and "{name}"
				   * are replaced; NULL = no default */
	long min, max;            /* int range; string/list length bounds */
	const char *const *choices; /* NULL-terminated, for ENUM and LIST */
	bool required;
	model_check_h *check;     /* extra rule, may be NULL */
	const char *label;        /* as the GUI shows it */
	const char *help;         /* one sentence */
	enum model_form form;     /* shape of the value / of each list item */
	unsigned ref_types;       /* MODEL_FORM_EXT_REF: MODEL_T() mask of
				   * the types a referenced extension may
				   * have; 0 = any */
};

extern const struct model_field model_fields[];
extern const size_t model_field_count;

const char *model_tab_name(enum model_tab tab);   /* "auth", "phone", ... */

/* Field by name, or NULL. */
const struct model_field *model_field_find(const char *name);

/* Whether extension type t has field f. */
bool model_type_has(enum model_type t, const struct model_field *f);

/* Whether type t has field f; if not, report it (rule "mailbox.not_allowed"
 * for a mailbox field on a ring group or shared device, otherwise
 * "field.not_for_type") with where "". Every write path uses this one rule. */
bool model_check_type_has(enum model_type t, const struct model_field *f,
			  struct report *r);

/* Parse an admin's text value ("true", "8", "udp,tcp", "a b") for field f
 * into a new JSON value. Returns 0 or EINVAL with a report item naming the
 * field and the rule. */
int model_parse_value(const struct model_field *f, const char *text,
		      json_t **out, struct report *r);

/* Render a field's JSON value as text (inverse of model_parse_value), for
 * CSV export and tables. Returns a malloc'd string or NULL. */
char *model_format_value(const struct model_field *f, const json_t *v);

/* New extension object of type t with number, name and every default of
 * the type filled in. Returns 0, EINVAL (bad type) or ENOMEM. */
int model_new(json_t **extp, const char *number, enum model_type t,
	      const char *full_name);

/* Fill in defaults for every field of the extension's type that is absent;
 * never overwrites a present value. Returns 0 or EINVAL (no/bad type). */
int model_apply_defaults(json_t *ext);

/* Set one field from text, refusing fields the type does not have. */
int model_set(json_t *ext, const char *name, const char *text,
	      struct report *r);

/* Validate one extension alone: every field's kind/range/choices, required
 * fields, fields not belonging to the type, number numeric, full name
 * "First Last" (letters only, exactly one space), auth.username equals the
 * number, ring group and shared device have no mailbox, PAI and RPID never
 * both, host_ip required iff static, etc. Reports every finding; where is
 * left "" (the caller merges with the number). Returns 0 or EINVAL. */
int model_validate(const json_t *ext, struct report *r);

/* Licence limits; -1 = unlimited (the default). */
struct model_limits {
	long user;      /* sip, iax2, zap, voicemail, hotdesk, virtual */
	long shared;    /* one per shared device */
	/* outbound (issue 15): whether an external number (a forward
	 * destination that is no extension) has an outbound route; NULL:
	 * none has (refused, dest.external_no_trunk) */
	bool (*routed)(const char *number, void *arg);
	void *routed_arg;
};

struct model_licence_use {
	long user;
	long shared;
};

/* Count licences used by a set of extensions. */
void model_licences(json_t *const *exts, size_t n,
		    struct model_licence_use *use);

/* Validate a whole configuration: each extension (model_validate) plus
 * cross-extension rules: numbers unique, references (ring group / shared
 * members, virtual destinations, forwarding targets that look like
 * extension numbers, hotdesk) point at existing extensions of a suitable
 * type, Sangoma and Digium zap cards never co-exist, licence limits.
 * where = the extension number for per-extension findings. */
int model_validate_set(json_t *const *exts, size_t n,
		       const struct model_limits *lim, struct report *r);

#endif
