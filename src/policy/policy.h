/*
 * policy — the global security policy (manual: "Security | Password
 * Policies"): the SIP/IAX2 password policy and the voicemail PIN policy,
 * set independently, plus a generator of compliant secrets.
 *
 * Pure: no file or network I/O, no logging. The caller loads the
 * dictionary text and hands it over. Every check reports *every* rule a
 * secret breaks into a struct report (common/report.h); rule codes are the
 * setting keys below (e.g. "sip.min_upper") so an admin sees which setting
 * a secret fails. Messages never contain the secret itself.
 */
#ifndef BULWARK_POLICY_H
#define BULWARK_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/report.h"

/* SIP and IAX2 passwords. Defaults are the manual's recommended values. */
struct policy_sip {
	unsigned min_length;    /* "sip.min_length", default 8 */
	unsigned max_length;    /* "sip.max_length", default 64 */
	bool alnum_only;        /* "sip.alnum_only", default true */
	unsigned min_upper;     /* "sip.min_upper", default 2 */
	unsigned min_digits;    /* "sip.min_digits", default 2 */
	unsigned dict_min_word; /* "sip.dict_min_word", default 4; 0 = no
				 * dictionary check. Words of this many letters
				 * or more may not appear in the password after
				 * lower-casing and undoing 0→o 1→l/i 3→e 4→a
				 * 5→s 7→t @→a $→s */
	bool no_extension;      /* "sip.no_extension", default true */
	bool no_name;           /* "sip.no_name", default true: no part (3+
				 * letters) of the user's full name */
	bool unique;            /* "sip.unique", default true: enforced across
				 * extensions by the store, rule code here */
};

/* Voicemail PINs: digits only, a separate policy. */
struct policy_pin {
	unsigned min_length;    /* "vm.min_length", default 6 */
	unsigned max_length;    /* "vm.max_length", default 16 */
	bool no_extension;      /* "vm.no_extension", default true */
	bool no_trivial;        /* "vm.no_trivial", default true */
	bool no_previous;       /* "vm.no_previous", default true */
	bool allow_extension_for_new_user; /* "vm.allow_extension_for_new_user",
				 * default true: the manual's exception — a PIN
				 * equal to the extension number is accepted
				 * while the force-new-user options are on and
				 * the mailbox must change it at first login */
};

/* User web GUI passwords: typed on a keyboard, so length beats character
 * classes; stored as one-way hashes, so they are checked once, when set. */
struct policy_web {
	unsigned min_length;    /* "web.min_length", default 10 */
	unsigned dict_min_word; /* "web.dict_min_word", default 4; 0 = off;
				 * the same dictionary and spellings as
				 * sip.dict_min_word */
	bool no_username;       /* "web.no_username", default true: not the
				 * web username nor the extension number */
};

struct policy {
	struct policy_sip sip;
	struct policy_pin pin;
	struct policy_web web;
	bool auto_fix;          /* "auto_fix", default false: "Automatically
				 * fix invalid passwords" at commit */
};

/* Fill p with the manual's defaults. */
void policy_defaults(struct policy *p);

/* One row per setting: the API, CLI ('policy show/set') and docs read it. */
enum policy_kind { POLICY_BOOL, POLICY_UINT };
struct policy_key {
	const char *key;         /* "sip.min_length" */
	enum policy_kind kind;
	unsigned min, max;       /* bounds for POLICY_UINT */
	const char *help;        /* one sentence for admins */
};
extern const struct policy_key policy_keys[];
extern const size_t policy_key_count;

/* Set one key from its text value ("true"/"false"/"on"/"off"/"1"/"0" or a
 * number). Returns 0; EINVAL with a report item naming the key and the rule
 * (unknown key, not a number, out of range). p is unchanged on error. */
int policy_set(struct policy *p, const char *key, const char *value,
	       struct report *r);

/* Text value of one key into buf ("true", "8"). Returns 0 or ENOENT. */
int policy_get(const struct policy *p, const char *key, char *buf, size_t sz);

/* Whole-policy consistency (e.g. min_upper + min_digits <= max_length,
 * min_length <= max_length). Reports every problem; returns 0 if none. */
int policy_validate(const struct policy *p, struct report *r);

/* Dictionary of forbidden words (system dictionary + common passwords). */
struct policy_dict;

/* Allocate an empty dictionary. Returns 0 or ENOMEM. */
int policy_dict_alloc(struct policy_dict **dp);

/* Add newline-separated words from a buffer (e.g. /usr/share/dict/words or
 * data/common-passwords.txt read by the caller). Words are lower-cased;
 * words with non-letters after normalisation (e.g. "o'clock") are split or
 * skipped; words shorter than 3 letters are ignored. Returns 0 or ENOMEM. */
int policy_dict_add(struct policy_dict *d, const char *buf, size_t len);

/* Number of distinct words held. */
size_t policy_dict_size(const struct policy_dict *d);

/* Free; NULL-safe. */
void policy_dict_free(struct policy_dict *d);

/* Check a SIP/IAX2 password against p->sip (and d, which may be NULL to
 * skip the dictionary rule). ext_number and full_name may be NULL.
 * Reports every broken rule into r with where = "" (the caller merges with
 * the extension number) and field = "auth.password".
 * Returns 0 if compliant, EINVAL otherwise. */
int policy_check_sip(const struct policy *p, const struct policy_dict *d,
		     const char *password, const char *ext_number,
		     const char *full_name, struct report *r);

/* Check a user web GUI password against p->web (and d, which may be NULL
 * to skip the dictionary rule). username and ext_number may be NULL.
 * field = "web.password", rules "web.*". Returns 0 or EINVAL. */
int policy_check_web(const struct policy *p, const struct policy_dict *d,
		     const char *password, const char *username,
		     const char *ext_number, struct report *r);

/* Check a PIN against p->pin: the voicemail PIN, and every other secret
 * held to the PIN rules (hotdesk PIN, call password). field names it in
 * the findings ("hotdesk.pin"; NULL = "voicemail.pin"). previous may be
 * NULL. force_new_user: the mailbox has "force new user to record
 * name/greeting" on (only ever true for the voicemail PIN). If the PIN
 * equals the extension number and the exception applies, the PIN is
 * accepted and *must_change (if non-NULL) is set true.
 * Returns 0 if acceptable, EINVAL otherwise. */
int policy_check_pin(const struct policy *p, const char *field,
		     const char *pin,
		     const char *ext_number, const char *previous,
		     bool force_new_user, bool *must_change, struct report *r);

/* True if the PIN is trivial: one digit repeated, ascending or descending
 * run (with wrap-around 8901), a repeated short pattern (1212, 123123),
 * or one of the manual's examples (0000 1234 1111 4321 123456 7654321). */
bool policy_pin_trivial(const char *pin);

/* Generate a compliant SIP password (CSPRNG: libsodium randombytes) of
 * max(p->sip.min_length, 16) characters that passes policy_check_sip with
 * the same arguments. Returns 0, ENOSPC if sz is too small, or EAGAIN if
 * no compliant password was found within a bounded number of tries (only
 * possible with a contradictory policy). */
int policy_generate_sip(const struct policy *p, const struct policy_dict *d,
			const char *ext_number, const char *full_name,
			char *out, size_t sz);

/* Generate a compliant PIN of p->pin.min_length digits that passes
 * policy_check_pin (never trivial, never the extension, never previous). */
int policy_generate_pin(const struct policy *p, const char *ext_number,
			const char *previous, char *out, size_t sz);

#endif
