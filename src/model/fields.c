/*
 * fields — the one table of every field of every tab of "Add a New Phone",
 * for all eight extension types, and the cross-field rules that need more
 * than one value.
 *
 * Which type has which tab is a deliberate choice, documented in
 * docs/admin/extensions.md (generated from this table by test_model --doc):
 *   general   every type
 *   auth      sip, iax2 (the only types that register with credentials)
 *   voicemail sip, iax2, zap, voicemail, hotdesk, virtual (the types the
 *             manual allows a mailbox; ring_group and shared have none)
 *   phone     sip; iax2 the subset that is not SIP signalling (no
 *             transports, PAI/RPID, DTMF mode, alert info, SRTP, contacts)
 *   callerid  types that place calls: sip, iax2, zap, hotdesk, virtual
 *   user      per field: ringing options for every type that rings,
 *             follow me / camp-on / personal IVR for persons and ring
 *             groups, fax and E911 for physical lines (sip, iax2, zap)
 *   web       types owned by a person (those with a mailbox)
 *   security  every type (every type can be called)
 *   type      hotdesk.*, ring_group.*, shared.*, zap.*, virtual.*
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "model/model.h"

#define T_SIP  MODEL_T(MODEL_SIP)
#define T_IAX  MODEL_T(MODEL_IAX2)
#define T_ZAP  MODEL_T(MODEL_ZAP)
#define T_VM   MODEL_T(MODEL_VOICEMAIL)
#define T_HD   MODEL_T(MODEL_HOTDESK)
#define T_VIRT MODEL_T(MODEL_VIRTUAL)
#define T_RG   MODEL_T(MODEL_RING_GROUP)
#define T_SH   MODEL_T(MODEL_SHARED)

#define T_ALL      MODEL_ALL_TYPES
#define T_IP       (T_SIP | T_IAX)
#define T_LINES    (T_SIP | T_IAX | T_ZAP)
#define T_MAILBOX  (T_SIP | T_IAX | T_ZAP | T_VM | T_HD | T_VIRT)
#define T_CALLERS  (T_SIP | T_IAX | T_ZAP | T_HD | T_VIRT)
#define T_RINGS    (T_ALL & ~T_VM)
#define T_FEATURES (T_SIP | T_IAX | T_ZAP | T_HD | T_VIRT | T_RG)

static const char *const type_choices[] = {
	"sip", "iax2", "zap", "voicemail", "hotdesk", "virtual",
	"ring_group", "shared", NULL
};
static const char *const alg_choices[] = { "sha-256", "md5", NULL };
static const char *const host_choices[] = { "dynamic", "static", NULL };
static const char *const tp_choices[] = { "udp", "tcp", "tls", NULL };
static const char *const dtmf_choices[] = {
	"auto", "rfc2833", "inband", "info", NULL
};
static const char *const codec_choices[] = {
	"ulaw", "alaw", "g722", "g729", "gsm", "opus", "ilbc", "speex", NULL
};
static const char *const rec_choices[] = {
	"never", "always", "on_demand", NULL
};
static const char *const strategy_choices[] = {
	"ringall", "hunt", "memoryhunt", "random", NULL
};
static const char *const vendor_choices[] = { "sangoma", "digium", NULL };
static const char *const fm_choices[] = { "sequence", "together", NULL };

/* Extension numbers are 2 to 8 digits (common plans use 3 or 4; 8 leaves
 * room for site prefixes). NUMBER_MIN also bounds the voicemail PIN from
 * below: the manual's new-mailbox procedure uses the extension number as
 * the first PIN, so the model must let a PIN as short as any extension
 * number through and leave its real length to the PIN policy. */
#define NUMBER_MIN 2
#define NUMBER_MAX 8

/* ---- helpers for cross-field rules ------------------------------------ */

/* A field's value, or its default (as text) when absent. */
static bool get_bool(const json_t *ext, const char *name)
{
	const json_t *v = json_object_get(ext, name);
	const struct model_field *f;

	if (v)
		return json_is_true(v);
	f = model_field_find(name);
	return f && f->def && !strcmp(f->def, "true");
}

static const char *get_str(const json_t *ext, const char *name)
{
	const char *s = json_string_value(json_object_get(ext, name));

	return s ? s : "";
}

static bool list_has(const json_t *ext, const char *name, const char *item)
{
	const json_t *a = json_object_get(ext, name);
	size_t i;
	json_t *v;

	if (!json_is_array(a)) {
		const struct model_field *f = model_field_find(name);

		/* absent: the default decides ("udp" has no tls) */
		return f && f->def && strstr(f->def, item);
	}
	json_array_foreach(a, i, v) {
		if (json_is_string(v) && !strcmp(json_string_value(v), item))
			return true;
	}
	return false;
}

static bool filled(const json_t *ext, const char *name)
{
	const json_t *v = json_object_get(ext, name);

	if (json_is_string(v))
		return json_string_length(v) > 0;
	if (json_is_array(v))
		return json_array_size(v) > 0;
	return v != NULL;
}

/* "user.forward.busy.enabled" -> "user.forward.busy.<leaf>" */
static void sibling(char *buf, size_t sz, const char *name, const char *leaf)
{
	const char *dot = strrchr(name, '.');
	size_t n = dot ? (size_t)(dot - name) : strlen(name);

	if (n + 1 + strlen(leaf) + 1 > sz) {
		buf[0] = '\0';
		return;
	}
	memcpy(buf, name, n);
	buf[n] = '.';
	memcpy(buf + n + 1, leaf, strlen(leaf) + 1);
}

/* ---- cross-field rules (run by model_validate only) ------------------- */

static void chk_username(const json_t *ext, const struct model_field *f,
			 struct report *r)
{
	const char *u = get_str(ext, f->name), *num = get_str(ext, "number");

	if (*u && *num && strcmp(u, num))
		report_add(r, "", f->name, "auth.username_match",
			   "auth.username '%.16s' must equal the extension "
			   "number '%.16s'", u, num);
}

static void chk_voicemail(const json_t *ext, const struct model_field *f,
			  struct report *r)
{
	bool on = get_bool(ext, f->name);

	if (!on && !strcmp(get_str(ext, "type"), "voicemail"))
		report_add(r, "", f->name, "voicemail.required",
			   "a voicemail extension is a mailbox: "
			   "voicemail.enabled must be true");
	if (on && !filled(ext, "voicemail.pin"))
		report_add(r, "", "voicemail.pin", "field.required",
			   "voicemail.pin is required when voicemail is "
			   "enabled");
}

static void chk_email_delete(const json_t *ext, const struct model_field *f,
			     struct report *r)
{
	if (!get_bool(ext, f->name))
		return;
	if (!filled(ext, "voicemail.email") ||
	    !get_bool(ext, "voicemail.email_attach"))
		report_add(r, "", f->name, "voicemail.email_delete",
			   "voicemail.email_delete needs voicemail.email and "
			   "voicemail.email_attach, or messages would be lost");
}

static void chk_host(const json_t *ext, const struct model_field *f,
		     struct report *r)
{
	if (!strcmp(get_str(ext, f->name), "static") &&
	    !filled(ext, "phone.host_ip"))
		report_add(r, "", "phone.host_ip", "field.required",
			   "phone.host_ip is required when phone.host_mode "
			   "is static");
}

static void chk_pai_rpid(const json_t *ext, const struct model_field *f,
			 struct report *r)
{
	if (get_bool(ext, "phone.send_pai") && get_bool(ext, "phone.send_rpid"))
		report_add(r, "", "phone.send_rpid", "phone.pai_rpid_exclusive",
			   "phone.send_pai and phone.send_rpid cannot both be "
			   "enabled; P-Asserted-Identity is recommended");
}

/* A language tag: 2 or 3 letters, then optionally '_' or '-' and 2 to 8
 * letters or digits ("en", "fr", "pt_BR", "fr-CA"); media/prompt.c
 * prompt_lang_ok applies the same rule to what it is given. A word such
 * as "french" would otherwise be taken and speak English. */
static void chk_language(const json_t *ext, const struct model_field *f,
			 struct report *r)
{
	const char *v = json_string_value(json_object_get(ext, f->name));
	size_t i = 0, n = 0;
	bool ok;

	if (!v)
		return;
	while (isalpha((unsigned char)v[i]))
		i++;
	ok = i >= 2 && i <= 3;
	if (ok && v[i]) {
		ok = v[i] == '_' || v[i] == '-';
		for (i++; ok && v[i]; i++, n++)
			ok = isalnum((unsigned char)v[i]);
		ok = ok && n >= 2 && n <= 8;
	}
	if (!ok)
		report_add(r, "", f->name, "language.format",
			   "%s must be a language tag: 2 or 3 letters, "
			   "optionally '_' or '-' and a region or variant "
			   "(en, fr, pt_BR, fr-CA)", f->name);
}

static void chk_srtp(const json_t *ext, const struct model_field *f,
		     struct report *r)
{
	if (get_bool(ext, f->name) && !list_has(ext, "phone.transports", "tls"))
		report_add(r, "", f->name, "phone.srtp_requires_tls",
			   "phone.srtp needs \"tls\" in phone.transports (SRTP "
			   "keys travel in the signalling)");
}

static void chk_callerid(const json_t *ext, const struct model_field *f,
			 struct report *r)
{
	char num[48];

	if (get_bool(ext, f->name))
		return;
	sibling(num, sizeof(num), f->name, "number");
	if (num[0] && !filled(ext, num))
		report_add(r, "", num, "field.required",
			   "%s is required when %s is false", num, f->name);
}

static void chk_enabled_needs(const json_t *ext, const struct model_field *f,
			      const char *leaf, struct report *r)
{
	char dep[48];

	if (!get_bool(ext, f->name))
		return;
	sibling(dep, sizeof(dep), f->name, leaf);
	if (dep[0] && !filled(ext, dep))
		report_add(r, "", dep, "field.required",
			   "%s is required when %s is true", dep, f->name);
}

static void chk_destination(const json_t *ext, const struct model_field *f,
			    struct report *r)
{
	chk_enabled_needs(ext, f, "destination", r);
}

static void chk_follow_me(const json_t *ext, const struct model_field *f,
			  struct report *r)
{
	chk_enabled_needs(ext, f, "list", r);
}

static void chk_web(const json_t *ext, const struct model_field *f,
		    struct report *r)
{
	chk_enabled_needs(ext, f, "username", r);
	chk_enabled_needs(ext, f, "password", r);
}

/* ---- the table --------------------------------------------------------- */

#define CID(which, Which)                                                    \
	{ .name = "callerid." which ".use_default", .tab = MODEL_TAB_CALLERID, \
	  .kind = MODEL_BOOL, .types = T_CALLERS, .def = "true",             \
	  .check = chk_callerid, .label = Which " call: use default",        \
	  .help = "Show the extension's own name and number on " which       \
		  " calls; uncheck to customise (the number is then "         \
		  "required)." },                                             \
	{ .name = "callerid." which ".name", .tab = MODEL_TAB_CALLERID,      \
	  .kind = MODEL_STRING, .types = T_CALLERS, .def = "{name}",         \
	  .min = 1, .max = 64, .form = MODEL_FORM_CIDNAME,                   \
	  .label = Which " call: name",                                      \
	  .help = "Caller ID name on " which " calls." },                    \
	{ .name = "callerid." which ".number", .tab = MODEL_TAB_CALLERID,    \
	  .kind = MODEL_STRING, .types = T_CALLERS, .def = "{number}",       \
	  .min = 1, .max = 21, .form = MODEL_FORM_PHONENUM,                  \
	  .label = Which " call: number",                                    \
	  .help = "Caller ID number on " which " calls (BTN or DID for "     \
		  "external and emergency calls)." }

#define FWD(which, Which, when)                                              \
	{ .name = "user.forward." which ".enabled", .tab = MODEL_TAB_USER,   \
	  .kind = MODEL_BOOL, .types = T_RINGS, .def = "false",              \
	  .check = chk_destination, .label = "Forward " Which,               \
	  .help = "Forward calls " when "; needs a destination." },          \
	{ .name = "user.forward." which ".destination", .tab = MODEL_TAB_USER, \
	  .kind = MODEL_STRING, .types = T_RINGS, .min = 2, .max = 21,       \
	  .form = MODEL_FORM_DEST, .label = "Forward " Which ": destination", \
	  .help = "Extension number or external number to forward to " when \
		  "." }

const struct model_field model_fields[] = {
	/* general */
	{ .name = "number", .tab = MODEL_TAB_GENERAL, .kind = MODEL_STRING,
	  .types = T_ALL, .min = NUMBER_MIN, .max = NUMBER_MAX,
	  .required = true,
	  .form = MODEL_FORM_NUMBER, .label = "Extension number",
	  .help = "An unused extension number: 2 to 8 digits." },
	{ .name = "type", .tab = MODEL_TAB_GENERAL, .kind = MODEL_ENUM,
	  .types = T_ALL, .choices = type_choices, .required = true,
	  .label = "Type", .help = "The extension type; decides its tabs, "
	  "fields and licence." },
	{ .name = "name", .tab = MODEL_TAB_GENERAL, .kind = MODEL_STRING,
	  .types = T_ALL, .min = 3, .max = 64, .required = true,
	  .form = MODEL_FORM_NAME, .label = "Full name",
	  .help = "\"First Last\": letters only, exactly one space." },
	{ .name = "class_of_service", .tab = MODEL_TAB_GENERAL,
	  .kind = MODEL_STRING, .types = T_ALL, .def = "default", .min = 1,
	  .max = 32, .form = MODEL_FORM_TOKEN, .label = "Class of service",
	  .help = "Which feature codes and routes the extension may use: a "
	  "class of the cos settings section (checked at commit)." },

	/* auth */
	{ .name = "auth.username", .tab = MODEL_TAB_AUTH, .kind = MODEL_STRING,
	  .types = T_IP, .def = "{number}", .min = NUMBER_MIN, .max = NUMBER_MAX,
	  .required = true, .form = MODEL_FORM_NUMBER, .check = chk_username,
	  .label = "Username", .help = "Authentication username; must equal "
	  "the extension number." },
	{ .name = "auth.password", .tab = MODEL_TAB_AUTH, .kind = MODEL_SECRET,
	  .types = T_IP, .min = 1, .max = 128, .required = true,
	  /* no form: what a password may contain (letters and digits,
	   * never control characters) is the policy's, rule sip.alnum_only
	   * or sip.charset; a form here reported the same tab twice */
	  .label = "Password",
	  .help = "SIP/IAX2 password; must satisfy the security policy "
	  "(checked by the store)." },
	{ .name = "auth.algorithms", .tab = MODEL_TAB_AUTH, .kind = MODEL_LIST,
	  .types = T_IP, .def = "md5", .min = 1, .max = 2,
	  .choices = alg_choices, .label = "Digest algorithms",
	  .help = "Digest algorithms offered, in order of preference. "
		  "Default md5: the only list SIPp 3.6, baresip 1.0 and "
		  "linphonec 5.1 all accept; add sha-256 for phones that "
		  "support RFC 8760." },

	/* voicemail */
	{ .name = "voicemail.enabled", .tab = MODEL_TAB_VOICEMAIL,
	  .kind = MODEL_BOOL, .types = T_MAILBOX, .def = "true",
	  .check = chk_voicemail, .label = "Enable voicemail",
	  .help = "Give the extension its own mailbox (always on for a "
	  "voicemail extension); needs voicemail.pin when on." },
	{ .name = "voicemail.pin", .tab = MODEL_TAB_VOICEMAIL,
	  .kind = MODEL_SECRET, .types = T_MAILBOX, .min = NUMBER_MIN,
	  .max = 16, .form = MODEL_FORM_DIGITS, .label = "Voicemail password",
	  .help = "Mailbox PIN, digits; required when voicemail is enabled; "
	  "its length and strength are the PIN policy's (vm.min_length, "
	  "checked by the store), which accepts the extension number itself "
	  "only on a mailbox forcing a new user to record name and "
	  "greeting." },
	{ .name = "voicemail.mwi", .tab = MODEL_TAB_VOICEMAIL,
	  .kind = MODEL_BOOL, .types = T_MAILBOX, .def = "true",
	  .label = "Message waiting indicator",
	  .help = "Light the phone's voicemail lamp when messages wait." },
	{ .name = "voicemail.email", .tab = MODEL_TAB_VOICEMAIL,
	  .kind = MODEL_STRING, .types = T_MAILBOX, .min = 3, .max = 254,
	  .form = MODEL_FORM_EMAIL, .label = "Email notification address",
	  .help = "Send voicemail notifications to this address (needs an "
	  "SMTP relay)." },
	{ .name = "voicemail.email_attach", .tab = MODEL_TAB_VOICEMAIL,
	  .kind = MODEL_BOOL, .types = T_MAILBOX, .def = "true",
	  .label = "Attach message to email",
	  .help = "Attach the recording to the notification email." },
	{ .name = "voicemail.email_delete", .tab = MODEL_TAB_VOICEMAIL,
	  .kind = MODEL_BOOL, .types = T_MAILBOX, .def = "false",
	  .check = chk_email_delete, .label = "Delete after email",
	  .help = "Delete the message once emailed; needs voicemail.email "
	  "and voicemail.email_attach." },
	{ .name = "voicemail.force_name", .tab = MODEL_TAB_VOICEMAIL,
	  .kind = MODEL_BOOL, .types = T_MAILBOX, .def = "true",
	  .label = "Force a new user to record their name",
	  .help = "On first login the owner must record their name." },
	{ .name = "voicemail.force_greeting", .tab = MODEL_TAB_VOICEMAIL,
	  .kind = MODEL_BOOL, .types = T_MAILBOX, .def = "true",
	  .label = "Force a new user to record their greeting",
	  .help = "On first login the owner must record their greeting." },
	{ .name = "voicemail.max_messages", .tab = MODEL_TAB_VOICEMAIL,
	  .kind = MODEL_INT, .types = T_MAILBOX, .def = "100", .min = 1,
	  .max = 9999, .label = "Maximum messages",
	  .help = "Messages kept before the mailbox counts as full." },
	{ .name = "voicemail.max_message_secs", .tab = MODEL_TAB_VOICEMAIL,
	  .kind = MODEL_INT, .types = T_MAILBOX, .def = "180", .min = 10,
	  .max = 3600, .label = "Maximum message length (s)",
	  .help = "Longest message a caller may leave, in seconds." },
	{ .name = "voicemail.max_minutes", .tab = MODEL_TAB_VOICEMAIL,
	  .kind = MODEL_INT, .types = T_MAILBOX, .def = "0", .min = 0,
	  .max = 6000, .label = "Maximum mailbox minutes",
	  .help = "Total length of the messages kept, in minutes, before "
	  "the mailbox counts as full; a message is cut at what is left. "
	  "0: no bound but the number of messages." },
	{ .name = "voicemail.say_callerid", .tab = MODEL_TAB_VOICEMAIL,
	  .kind = MODEL_BOOL, .types = T_MAILBOX, .def = "false",
	  .label = "Say caller ID",
	  .help = "Read out the caller's number before each message." },
	{ .name = "voicemail.review", .tab = MODEL_TAB_VOICEMAIL,
	  .kind = MODEL_BOOL, .types = T_MAILBOX, .def = "false",
	  .label = "Caller may review message",
	  .help = "Let the caller listen to and re-record a message." },

	/* phone */
	{ .name = "phone.host_mode", .tab = MODEL_TAB_PHONE, .kind = MODEL_ENUM,
	  .types = T_IP, .def = "dynamic", .choices = host_choices,
	  .check = chk_host, .label = "Host mode",
	  .help = "dynamic: the phone registers; static: it lives at "
	  "phone.host_ip. Leave dynamic unless told otherwise." },
	{ .name = "phone.host_ip", .tab = MODEL_TAB_PHONE, .kind = MODEL_STRING,
	  .types = T_IP, .min = 2, .max = 45, .form = MODEL_FORM_IP,
	  .label = "IP address",
	  .help = "IPv4 or IPv6 address; required when host mode is "
	  "static, ignored otherwise." },
	{ .name = "phone.nat", .tab = MODEL_TAB_PHONE, .kind = MODEL_BOOL,
	  .types = T_IP, .def = "false", .label = "Phone behind NAT",
	  .help = "Check for remote extensions behind a NAT router; leave "
	  "unchecked on the LAN." },
	{ .name = "phone.transports", .tab = MODEL_TAB_PHONE,
	  .kind = MODEL_LIST, .types = T_SIP, .def = "udp", .min = 1, .max = 3,
	  .choices = tp_choices, .label = "Transport modes",
	  .help = "SIP transports the phone may use; UDP is recommended as "
	  "a baseline." },
	{ .name = "phone.send_pai", .tab = MODEL_TAB_PHONE, .kind = MODEL_BOOL,
	  .types = T_SIP, .def = "true", .check = chk_pai_rpid,
	  .label = "Send P-Asserted-Identity",
	  .help = "Recommended; needed for connected line updates. "
	  "Exclusive with RPID." },
	{ .name = "phone.send_rpid", .tab = MODEL_TAB_PHONE, .kind = MODEL_BOOL,
	  .types = T_SIP, .def = "false", .label = "Send Remote-Party-ID",
	  .help = "Legacy; exclusive with P-Asserted-Identity." },
	{ .name = "phone.qualify", .tab = MODEL_TAB_PHONE, .kind = MODEL_BOOL,
	  .types = T_IP, .def = "true", .label = "Qualify",
	  .help = "Monitor reachability and latency with OPTIONS; uncheck for "
	  "devices that do not answer OPTIONS." },
	{ .name = "phone.qualify_ms", .tab = MODEL_TAB_PHONE, .kind = MODEL_INT,
	  .types = T_IP, .def = "2000", .min = 100, .max = 60000,
	  .label = "Qualify limit (ms)",
	  .help = "Round-trip time above which the phone counts as "
	  "unreachable." },
	{ .name = "phone.dtmf_mode", .tab = MODEL_TAB_PHONE, .kind = MODEL_ENUM,
	  .types = T_SIP, .def = "auto", .choices = dtmf_choices,
	  .label = "DTMF mode",
	  .help = "Normally auto (RFC 2833, else inband)." },
	{ .name = "phone.codecs", .tab = MODEL_TAB_PHONE, .kind = MODEL_LIST,
	  .types = T_IP, .def = "ulaw,alaw,g722", .min = 1, .max = 8,
	  .choices = codec_choices, .label = "Codecs",
	  .help = "Codecs the phone supports, in order of preference." },
	{ .name = "phone.call_limit_in", .tab = MODEL_TAB_PHONE,
	  .kind = MODEL_INT, .types = T_IP, .def = "8", .min = 1, .max = 100,
	  .label = "Incoming call limit",
	  .help = "Simultaneous incoming calls allowed." },
	{ .name = "phone.call_limit_out", .tab = MODEL_TAB_PHONE,
	  .kind = MODEL_INT, .types = T_IP, .def = "8", .min = 1, .max = 100,
	  .label = "Outgoing call limit",
	  .help = "Simultaneous outgoing calls allowed." },
	{ .name = "phone.alert_info", .tab = MODEL_TAB_PHONE,
	  .kind = MODEL_STRING, .types = T_SIP, .min = 1, .max = 128,
	  .form = MODEL_FORM_HEADER,
	  .label = "SIP Alert (Auto Answer/Distinctive Ring)",
	  .help = "Alert-Info value sent to the phone on calls to it "
	  "(distinctive ring or auto answer, e.g. info=alert-autoanswer), if "
	  "the device supports it." },
	{ .name = "phone.srtp", .tab = MODEL_TAB_PHONE, .kind = MODEL_BOOL,
	  .types = T_SIP, .def = "false", .check = chk_srtp,
	  .label = "Enable SRTP", .help = "Encrypt media; needs the TLS "
	  "transport." },
	{ .name = "phone.max_contacts", .tab = MODEL_TAB_PHONE,
	  .kind = MODEL_INT, .types = T_SIP, .def = "3", .min = 1, .max = 20,
	  .label = "Maximum registrations",
	  .help = "Devices that may register as this extension at once." },

	/* caller ID */
	CID("internal", "Internal"),
	CID("external", "External"),
	CID("emergency", "Emergency"),
	{ .name = "callerid.allow_override", .tab = MODEL_TAB_CALLERID,
	  .kind = MODEL_BOOL, .types = T_CALLERS, .def = "false",
	  .label = "Allow extension to override outgoing caller ID",
	  .help = "The extension's external caller ID overrides the outgoing "
	  "line's." },

	/* user options */
	{ .name = "user.language", .tab = MODEL_TAB_USER, .kind = MODEL_STRING,
	  .types = T_ALL, .def = "en", .min = 2, .max = 16,
	  .form = MODEL_FORM_TOKEN, .check = chk_language, .label = "Language",
	  .help = "Language of prompts, e.g. en, fr, pt_BR." },
	{ .name = "user.moh_class", .tab = MODEL_TAB_USER, .kind = MODEL_STRING,
	  .types = T_RINGS, .def = "default", .min = 1, .max = 32,
	  .form = MODEL_FORM_TOKEN, .label = "Music on hold",
	  .help = "Music on hold class (source directory)." },
	{ .name = "user.ring_time", .tab = MODEL_TAB_USER, .kind = MODEL_INT,
	  .types = T_RINGS, .def = "20", .min = 5, .max = 300,
	  .label = "Ring time (s)",
	  .help = "Seconds to ring before no-answer handling." },
	{ .name = "user.recording", .tab = MODEL_TAB_USER, .kind = MODEL_ENUM,
	  .types = T_RINGS, .def = "never", .choices = rec_choices,
	  .label = "Call recording", .help = "Record calls never, always or "
	  "on demand." },
	{ .name = "user.fax_detect", .tab = MODEL_TAB_USER, .kind = MODEL_BOOL,
	  .types = T_LINES, .def = "false", .label = "Fax detection",
	  .help = "Detect fax tones on calls to this line." },
	FWD("immediate", "immediate", "always"),
	FWD("busy", "busy", "when busy"),
	FWD("no_answer", "no answer", "when not answered in time"),
	FWD("unavailable", "unavailable", "when the device is offline"),
	{ .name = "user.follow_me.enabled", .tab = MODEL_TAB_USER,
	  .kind = MODEL_BOOL, .types = T_FEATURES, .def = "false",
	  .check = chk_follow_me, .label = "Follow me",
	  .help = "Ring the follow-me list in turn; needs a list." },
	{ .name = "user.follow_me.list", .tab = MODEL_TAB_USER,
	  .kind = MODEL_LIST, .types = T_FEATURES, .min = 0, .max = 16,
	  .form = MODEL_FORM_DEST, .label = "Follow me list",
	  .help = "Extension or external numbers, in the order to ring "
	  "them." },
	{ .name = "user.follow_me.strategy", .tab = MODEL_TAB_USER,
	  .kind = MODEL_ENUM, .types = T_FEATURES, .def = "sequence",
	  .choices = fm_choices, .label = "Follow me: ring",
	  .help = "sequence: each destination in turn for its own ring "
	  "time; together: all at once for this extension's ring time." },
	{ .name = "user.camp_on", .tab = MODEL_TAB_USER, .kind = MODEL_BOOL,
	  .types = T_FEATURES, .def = "false", .label = "Camp-on",
	  .help = "Let callers camp on this extension when it is busy." },
	{ .name = "user.personal_ivr.enabled", .tab = MODEL_TAB_USER,
	  .kind = MODEL_BOOL, .types = T_FEATURES, .def = "false",
	  .check = chk_destination, .label = "Personal IVR",
	  .help = "Answer calls with the owner's personal IVR; needs a "
	  "destination." },
	{ .name = "user.personal_ivr.destination", .tab = MODEL_TAB_USER,
	  .kind = MODEL_STRING, .types = T_FEATURES, .min = 2, .max = 21,
	  .form = MODEL_FORM_DEST, .label = "Personal IVR destination",
	  .help = "Where the personal IVR's option sends the caller." },
	{ .name = "user.e911_location", .tab = MODEL_TAB_USER,
	  .kind = MODEL_STRING, .types = T_LINES, .min = 1, .max = 128,
	  .form = MODEL_FORM_TEXT, .label = "E911 location",
	  .help = "Civic location sent with emergency calls." },

	/* web authentication */
	{ .name = "web.enabled", .tab = MODEL_TAB_WEB, .kind = MODEL_BOOL,
	  .types = T_MAILBOX, .def = "false", .check = chk_web,
	  .label = "Enable User Web GUI",
	  .help = "Let the owner log in to the user web GUI; needs "
	  "web.username and web.password." },
	{ .name = "web.username", .tab = MODEL_TAB_WEB, .kind = MODEL_STRING,
	  .types = T_MAILBOX, .min = 3, .max = 32, .form = MODEL_FORM_WEBUSER,
	  .label = "Web username",
	  .help = "3 to 32 of a-z 0-9 . _ -; unique across extensions; "
	  "required when web login is enabled." },
	{ .name = "web.password", .tab = MODEL_TAB_WEB, .kind = MODEL_SECRET,
	  .types = T_MAILBOX, .min = 8, .max = 256, .form = MODEL_FORM_TEXT,
	  .label = "Web password",
	  .help = "Required when web login is enabled; must satisfy the web "
	  "password policy (web.min_length, web.dict_min_word, "
	  "web.no_username; checked by the store, which keeps only a "
	  "hash)." },

	/* security */
	{ .name = "security.blacklist", .tab = MODEL_TAB_SECURITY,
	  .kind = MODEL_LIST, .types = T_ALL, .min = 0, .max = 100,
	  .form = MODEL_FORM_PHONENUM, .label = "Blacklist",
	  .help = "Caller numbers refused when calling this extension." },
	{ .name = "security.call_password", .tab = MODEL_TAB_SECURITY,
	  .kind = MODEL_SECRET, .types = T_ALL, .min = 4, .max = 16,
	  .form = MODEL_FORM_DIGITS, .label = "Call password",
	  .help = "If set, callers must enter these digits to reach the "
	  "extension; held to the PIN policy like a voicemail PIN (checked "
	  "by the store)." },

	/* type-specific */
	{ .name = "hotdesk.pin", .tab = MODEL_TAB_TYPE, .kind = MODEL_SECRET,
	  .types = T_HD, .min = 4, .max = 16, .required = true,
	  .form = MODEL_FORM_DIGITS, .label = "Hotdesk password",
	  .help = "Digits entered with the hotdesk feature code to log in "
	  "at a phone; held to the PIN policy (checked by the store)." },
	{ .name = "ring_group.members", .tab = MODEL_TAB_TYPE,
	  .kind = MODEL_LIST, .types = T_RG, .min = 1, .max = 64,
	  .required = true, .form = MODEL_FORM_EXT_REF,
	  .ref_types = T_SIP | T_IAX | T_ZAP | T_HD | T_VIRT,
	  .label = "Members",
	  .help = "Extensions that ring (sip, iax2, zap, hotdesk or virtual), "
	  "in hunt order." },
	{ .name = "ring_group.strategy", .tab = MODEL_TAB_TYPE,
	  .kind = MODEL_ENUM, .types = T_RG, .def = "ringall",
	  .choices = strategy_choices, .label = "Ring strategy",
	  .help = "ringall, hunt (in order), memoryhunt (growing) or "
	  "random." },
	{ .name = "ring_group.vm_copies", .tab = MODEL_TAB_TYPE,
	  .kind = MODEL_LIST, .types = T_RG, .min = 0, .max = 32,
	  .form = MODEL_FORM_MAILBOX_REF, .label = "Voicemail to",
	  .help = "A ring group has no mailbox of its own: when nobody "
	  "answers (and no forward is set), the caller leaves a message in "
	  "the first of these mailboxes (its greeting plays) and every "
	  "other one gets a copy. Empty: the caller gets 480." },
	{ .name = "shared.members", .tab = MODEL_TAB_TYPE, .kind = MODEL_LIST,
	  .types = T_SH, .min = 1, .max = 32, .required = true,
	  .form = MODEL_FORM_EXT_REF, .ref_types = T_SIP | T_IAX | T_ZAP,
	  .label = "Devices",
	  .help = "sip, iax2 or zap extensions that share this number; busy "
	  "ones are skipped." },
	{ .name = "zap.channel", .tab = MODEL_TAB_TYPE, .kind = MODEL_INT,
	  .types = T_ZAP, .min = 1, .max = 1024, .required = true,
	  .label = "Channel",
	  .help = "FXS channel; unique among zap extensions." },
	{ .name = "zap.card_vendor", .tab = MODEL_TAB_TYPE, .kind = MODEL_ENUM,
	  .types = T_ZAP, .choices = vendor_choices, .required = true,
	  .label = "Card vendor",
	  .help = "sangoma or digium; the two never co-exist in one "
	  "server." },
	{ .name = "virtual.destinations", .tab = MODEL_TAB_TYPE,
	  .kind = MODEL_LIST, .types = T_VIRT, .min = 0, .max = 32,
	  .form = MODEL_FORM_DEST, .label = "Ring destinations",
	  .help = "Extension or external numbers rung when the virtual "
	  "extension is called." },
	{ .name = "virtual.vm_copies", .tab = MODEL_TAB_TYPE,
	  .kind = MODEL_LIST, .types = T_VIRT, .min = 0, .max = 32,
	  .form = MODEL_FORM_MAILBOX_REF, .label = "Copy voicemail to",
	  .help = "Extensions with a mailbox that get a copy of each "
	  "message." },
};

const size_t model_field_count = sizeof(model_fields) / sizeof(model_fields[0]);

/* model.c and model_set.c keep per-call arrays of this many values
 * (model_int.h MODEL_FIELDS_MAX). */
_Static_assert(sizeof(model_fields) / sizeof(model_fields[0]) <= 256,
	       "model_int.h MODEL_FIELDS_MAX");
