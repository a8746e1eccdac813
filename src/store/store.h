/*
 * store — SQLite-backed configuration: staged and running extensions and
 * settings sections, secrets at rest, commit.
 *
 * The control plane owns the store. Every function takes the store's own
 * lock, so API threads may call them concurrently; none may be called from
 * the data-plane loop (they do disk I/O).
 *
 * Staging: every edit (add, edit, remove, bulk, import, setting change)
 * goes to the staged configuration only. Each write path runs the same
 * validation — model rules, and the password/PIN policy in force (staged
 * policy) — and refuses the whole write, changing nothing, if any rule is
 * broken, with every finding in the report. Exception: while the staged
 * policy has auto_fix on, a non-compliant SIP password or PIN is accepted
 * at staging (the report carries a warning, rule "policy.auto_fix") and is
 * replaced at commit.
 *
 * Commit: validates the whole staged configuration (every extension, cross
 * references, licences, policy re-check of every stored secret, settings
 * sections); with auto_fix on, replaces non-compliant secrets by generated
 * ones and lists them (shown once); otherwise fails listing every finding
 * and changes nothing. Then writes running := staged in one SQLite
 * transaction (old or new, never a mix, even if killed), precomputes HA1
 * (MD5, SHA-256) for changed passwords, remembers previous HA1s for 7 days,
 * and builds a fresh snapshot.
 *
 * Secrets at rest: SIP passwords, PINs, call passwords are encrypted with
 * DATA/secret.key (libsodium secretbox); web passwords are stored as
 * argon2id hashes only. Outputs show secrets as "********" unless revealed.
 *
 * Return values: 0; EINVAL refused (report filled); ENOENT no such
 * extension/section/key; EEXIST number already used; EIO database error.
 */
#ifndef BULWARK_STORE_H
#define BULWARK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/report.h"
#include "store/snapshot.h"

struct store;
struct settings_table;   /* common/settings.h */

/* A settings section owned by another module ("policy", "limits", "sip",
 * "guard", "firewall", "services"). Registered before store_open. Values
 * are a flat JSON object of key → scalar. */
struct store_section {
	const char *name;
	/* New object holding every key with its default. */
	json_t *(*defaults)(void);
	/* Parse text value for key into obj (replacing it). 0, or EINVAL/
	 * ENOENT with a report item naming "<name>.<key>" and the rule. */
	int (*set)(json_t *obj, const char *key, const char *value,
		   struct report *r);
	/* Whole-section check at commit; may be NULL. */
	int (*validate)(const json_t *obj, struct report *r);
	/* The same with every staged section at hand (all: name → object),
	 * for rules that read another section — the firewall's ports follow
	 * "sip" — so that commit and dry run refuse what apply would; may be
	 * NULL. Runs after validate. */
	int (*validate_all)(const json_t *obj, const json_t *all,
			    struct report *r);
	/* The section as the data plane reads it: decode the committed
	 * object into typed_size bytes, once, when the snapshot is built
	 * (control-plane thread; pure). snapshot_typed() hands it out.
	 * May be NULL. */
	size_t typed_size;
	void (*decode)(const json_t *obj, void *out);
	/* The section's definition table (common/settings.h) when it has
	 * one: the GUI's schema reads bounds, choices and help from it. May
	 * be NULL. */
	const struct settings_table *table;
	/* Keys whose values are secrets (NULL-terminated; may be NULL):
	 * sealed at rest with DATA/secret.key, shown as "set" or "" by
	 * store_section_get, opened only for decode. A stored sealed value
	 * given back to store_section_set is kept as it is (a rollback). */
	const char *const *secrets;
	/* outbound (issue 15): whether the section (its staged object obj)
	 * routes external number `number` out (a forward destination that
	 * is no extension is accepted then). May be NULL. */
	bool (*routes)(const json_t *obj, const char *number);
};

/* The definition table of a registered section, or NULL. */
const struct settings_table *store_section_table(const char *name);

/* Register a section (static storage; at most 16). Returns 0 or ENOSPC. */
int store_section_register(const struct store_section *sec);

/* Open (creating if needed) DATA/bulwark.db in WAL mode, run the numbered
 * migrations, create DATA/secret.key (0600, 32 random bytes) if absent,
 * load the dictionary (/usr/share/dict/words if present and
 * SHARE/common-passwords.txt). data_dir must exist. */
int store_open(struct store **sp, const char *data_dir, const char *share_dir);
void store_close(struct store *s);   /* NULL-safe */

/* The system word list (Debian's wamerican). */
#define STORE_SYSTEM_WORDS "/usr/share/dict/words"

/* What the dictionary holds, as read at store_open: {"words": N,
 * "degraded": true when a list could not be read, "lists": [{"path",
 * "loaded", "words" (new distinct words it added)}]}. A new reference,
 * or NULL. */
json_t *store_dict_status(const struct store *s);

/* The dictionary itself (read-only after store_open; safe to share
 * between threads), for generators outside the store. */
struct policy_dict;
const struct policy_dict *store_dict(const struct store *s);

enum store_view { STORE_STAGED, STORE_RUNNING };

/* Extensions (staged). 'fields' is a flat object as in model.h; text
 * values are accepted for every kind (as the CLI sends them) as well as
 * typed JSON. For secrets, the value "generate" is not special: use the
 * flags. On success *generated (if non-NULL) is an object of secrets that
 * were generated now, e.g. {"auth.password":"..."} — shown once. */
enum store_gen { STORE_GEN_PASSWORD = 1, STORE_GEN_PIN = 2 };
int store_ext_add(struct store *s, const json_t *fields, unsigned gen,
		  struct report *r, json_t **generated);
int store_ext_edit(struct store *s, const char *number, const json_t *changes,
		   unsigned gen, struct report *r, json_t **generated);
int store_ext_remove(struct store *s, const char *number, struct report *r);

/* One extension, every field; secrets masked unless reveal. New ref. */
int store_ext_get(struct store *s, const char *number, enum store_view v,
		  bool reveal, json_t **out);
/* Array of {number,type,name,...summary}; in numeric order of the
 * number (201 before 1000: store_number_cmp). New ref. */
int store_ext_list(struct store *s, enum store_view v, json_t **out);
/* Numeric order of two extension numbers (digit strings): <0, 0, >0;
 * leading zeros aside a shorter number is smaller, ties by the text. */
int store_number_cmp(const char *a, const char *b);

/* "Add Multiple Extensions": numbers first..last of type, fields copied
 * from template_number (staged; may be NULL), generated name
 * ("Extension NNN" is not valid: use "User Ext" style valid names — the
 * store documents its choice), generated password and PIN each. All or
 * nothing. *created: array of {number, auth.password, voicemail.pin}. */
int store_ext_bulk(struct store *s, const char *type, unsigned first,
		   unsigned last, const char *template_number,
		   struct report *r, json_t **created);

/* Most numbers one store_ext_bulk creates: the one limit the API, the CLI
 * and the docs state (a commit of this many stays well under a second). */
#define STORE_BULK_MAX 10000u

/* CSV import (header row = field names, RFC 4180 quoting). All or nothing:
 * one bad row imports nothing and the report names the row ("row 7").
 * *count = rows staged. */
int store_ext_import_csv(struct store *s, const char *csv, size_t len,
			 struct report *r, size_t *count);

/* The same, and *generated (if non-NULL; set only on success): a new
 * array of {number, auth.password and/or voicemail.pin} for every new
 * extension whose secrets were generated, for the admin to collect once
 * (as store_ext_bulk's *created). */
int store_ext_import_csv_gen(struct store *s, const char *csv, size_t len,
			     struct report *r, size_t *count,
			     json_t **generated);
/* CSV export of every extension (secrets omitted). malloc'd. */
int store_ext_export_csv(struct store *s, enum store_view v, char **csv,
			 size_t *len);

/* Settings sections. */
int store_section_get(struct store *s, const char *section, enum store_view v,
		      json_t **out);
int store_section_set(struct store *s, const char *section, const char *key,
		      const char *value, struct report *r);
/* store_section_get with the secrets as sealed at rest (never shown:
 * only to put a value back with store_section_set, e.g. a rollback). */
int store_section_get_sealed(struct store *s, const char *section,
			     enum store_view v, json_t **out);
/* Names of registered sections, as a JSON array. */
json_t *store_section_names(void);

/* Commit the staged configuration (see top). dry_run validates and
 * reports without writing. *result: {"ok":bool,"version":N,"changes":[...],
 * "fixed":[{"number","field","secret"}], "errors":[report items]}.
 * On a real successful commit, *snap (if non-NULL) is a new snapshot the
 * caller hands to the data plane. */
int store_commit(struct store *s, bool dry_run, json_t **result,
		 struct snapshot **snap);

/* Version of the running configuration: the number of commits ever
 * applied (0 before the first, or when the database cannot be read). */
uint64_t store_version(struct store *s);

/* Pending changes staged vs running: array of {"kind":"ext"|"section",
 * "key","op":"add"|"edit"|"remove","fields":[changed field names]}. */
int store_pending(struct store *s, json_t **diff);

/* How many items store_pending's diff holds, counted in SQL without
 * loading either extension table (for GET /status, which is polled). */
int store_pending_count(struct store *s, size_t *n);

/* Drop every staged change (staged := running). */
int store_discard(struct store *s);

/* Snapshot of the running configuration (at start). */
int store_snapshot(struct store *s, struct snapshot **snap);

/* Licences in use (running and staged) and limits:
 * {"user":{"used":N,"staged":N,"limit":-1},"shared":{...},"ring_group":N}. */
int store_licences(struct store *s, json_t **out);

/* Report → JSON array of {"where","field","rule","message"}. */
json_t *store_report_json(const struct report *r);

/* The mailbox owner changes its own voicemail PIN (the phone's menu, the
 * user portal): nobody commits it, so it applies at once. The running
 * voicemail PIN policy applies in full (digits, length, not the
 * extension — never the force-new-user exception — not trivial, not the
 * previous PIN), without auto-fix. The sealed PIN is written to the
 * running row and to the staged row (if staged) in one transaction;
 * must_change is cleared. 0; EINVAL refused (r names the field and
 * rule: voicemail.pin, or voicemail.enabled "vm.disabled"); ENOENT no
 * such running extension; EIO. Never logs the PIN. */
int store_vm_pin_change(struct store *s, const char *number, const char *pin,
			struct report *r);

/* *ok := pin is the running voicemail PIN of number (compared in
 * constant time; false when there is none). 0, ENOENT, EINVAL, EIO. */
int store_vm_pin_check(struct store *s, const char *number, const char *pin,
		       bool *ok);

/* *ok := pw is the running call password (security.call_password) of
 * number (constant time; false when there is none). 0, ENOENT, EINVAL,
 * EIO. Never logs the password. (callpw.c, issue 13) */
int store_call_pw_check(struct store *s, const char *number, const char *pw,
			bool *ok);

/* Path of the database file (for modules that open their own connection,
 * e.g. the bindings writer thread). Valid while the store is open. */
const char *store_db_path(const struct store *s);

#endif
