/*
 * policy — settings table, consistency, and the SIP password and voicemail
 * PIN checks. See docs/admin/security-policy.md for what each rule means
 * and docs/internals/policy.md for the caller's rules.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "policy/policy.h"
#include "policy/policy_int.h"

#define WHERE_POLICY "policy"
#define FIELD_PASSWORD "auth.password"

/*
 * The one table of settings: key, member of struct policy, kind, bounds
 * (lo_nz: smallest allowed value other than 0, when 0 means "off"), help.
 * Both the public policy_keys[] and the accessors are generated from it.
 */
#define POLICY_KEYS(X)                                                       \
	X("sip.min_length", sip.min_length, POLICY_UINT, 8, 128, 0,           \
	  "Shortest SIP/IAX2 password accepted, in characters (manual: 8).")  \
	X("sip.max_length", sip.max_length, POLICY_UINT, 8, 128, 0,           \
	  "Longest SIP/IAX2 password accepted; phones often stop at 64.")     \
	X("sip.alnum_only", sip.alnum_only, POLICY_BOOL, 0, 1, 0,             \
	  "SIP/IAX2 passwords may contain only letters A-Z, a-z and digits.") \
	X("sip.min_upper", sip.min_upper, POLICY_UINT, 0, 64, 0,              \
	  "Fewest upper-case letters in a SIP/IAX2 password (manual: 2).")    \
	X("sip.min_digits", sip.min_digits, POLICY_UINT, 0, 64, 0,            \
	  "Fewest digits in a SIP/IAX2 password (manual: 2).")                \
	X("sip.dict_min_word", sip.dict_min_word, POLICY_UINT, 0, 32, 3,      \
	  "Refuse passwords containing a dictionary word of this many "       \
	  "letters or more, also spelt with 0 1 3 4 5 7 @ $ for letters; "    \
	  "0 turns the check off, otherwise 3 to 32.")                        \
	X("sip.no_extension", sip.no_extension, POLICY_BOOL, 0, 1, 0,         \
	  "Refuse SIP/IAX2 passwords containing the extension number.")       \
	X("sip.no_name", sip.no_name, POLICY_BOOL, 0, 1, 0,                   \
	  "Refuse SIP/IAX2 passwords containing any part (3+ letters) of "    \
	  "the user's full name.")                                             \
	X("sip.unique", sip.unique, POLICY_BOOL, 0, 1, 0,                     \
	  "Every extension must have a SIP/IAX2 password of its own.")        \
	X("vm.min_length", pin.min_length, POLICY_UINT, 4, 32, 0,             \
	  "Shortest voicemail PIN accepted, in digits (at least 4).")         \
	X("vm.max_length", pin.max_length, POLICY_UINT, 4, 32, 0,             \
	  "Longest voicemail PIN accepted, in digits.")                       \
	X("vm.no_extension", pin.no_extension, POLICY_BOOL, 0, 1, 0,          \
	  "Refuse a voicemail PIN that is or contains the extension number.") \
	X("vm.no_trivial", pin.no_trivial, POLICY_BOOL, 0, 1, 0,              \
	  "Refuse trivial PINs: 0000, 1234, 8901, 4321, 1212, 112233, "       \
	  "123321, 2580 and the like.")                                        \
	X("vm.no_previous", pin.no_previous, POLICY_BOOL, 0, 1, 0,            \
	  "Refuse a new voicemail PIN equal to the previous one.")            \
	X("vm.allow_extension_for_new_user",                                  \
	  pin.allow_extension_for_new_user, POLICY_BOOL, 0, 1, 0,             \
	  "Accept the extension number as the first PIN of a mailbox that "   \
	  "forces a new user to record name and greeting; it must be "        \
	  "changed at first login.")                                           \
	X("web.min_length", web.min_length, POLICY_UINT, 8, 256, 0,           \
	  "Shortest user web GUI password accepted, in characters.")          \
	X("web.dict_min_word", web.dict_min_word, POLICY_UINT, 0, 32, 3,      \
	  "Refuse web passwords containing a dictionary word of this many "   \
	  "letters or more (spellings as sip.dict_min_word); 0 turns the "    \
	  "check off, otherwise 3 to 32.")                                    \
	X("web.no_username", web.no_username, POLICY_BOOL, 0, 1, 0,           \
	  "Refuse web passwords containing the web username or the "          \
	  "extension number.")                                                 \
	X("auto_fix", auto_fix, POLICY_BOOL, 0, 1, 0,                         \
	  "At commit, replace non-compliant SIP/IAX2 passwords and PINs by "  \
	  "generated compliant ones instead of refusing the commit.")

#define KEY_ROW(k, m, kind, lo, hi, lonz, help) { k, kind, lo, hi, help },
const struct policy_key policy_keys[] = { POLICY_KEYS(KEY_ROW) };
#undef KEY_ROW
const size_t policy_key_count = sizeof(policy_keys) / sizeof(policy_keys[0]);

struct key_ref {
	size_t off;
	unsigned lo_nz;
};
#define REF_ROW(k, m, kind, lo, hi, lonz, help) \
	{ offsetof(struct policy, m), lonz },
static const struct key_ref key_ref[] = { POLICY_KEYS(REF_ROW) };
#undef REF_ROW
_Static_assert(sizeof(key_ref) / sizeof(key_ref[0]) ==
	       sizeof(policy_keys) / sizeof(policy_keys[0]),
	       "one accessor per key");

void policy_defaults(struct policy *p)
{
	memset(p, 0, sizeof(*p));
	p->sip.min_length = 8;
	p->sip.max_length = 64;
	p->sip.alnum_only = true;
	p->sip.min_upper = 2;
	p->sip.min_digits = 2;
	p->sip.dict_min_word = 4;
	p->sip.no_extension = true;
	p->sip.no_name = true;
	p->sip.unique = true;
	p->pin.min_length = 6;
	p->pin.max_length = 16;
	p->pin.no_extension = true;
	p->pin.no_trivial = true;
	p->pin.no_previous = true;
	p->pin.allow_extension_for_new_user = true;
	p->web.min_length = 10;
	p->web.dict_min_word = 4;
	p->web.no_username = true;
	p->auto_fix = false;
}

static int key_index(const char *key)
{
	if (!key)
		return -1;
	for (size_t i = 0; i < policy_key_count; i++)
		if (!strcmp(policy_keys[i].key, key))
			return (int)i;
	return -1;
}

static bool *bool_at(struct policy *p, size_t i)
{
	return (bool *)(void *)((char *)p + key_ref[i].off);
}

static unsigned *uint_at(struct policy *p, size_t i)
{
	return (unsigned *)(void *)((char *)p + key_ref[i].off);
}

static bool cbool_at(const struct policy *p, size_t i)
{
	return *(const bool *)(const void *)((const char *)p + key_ref[i].off);
}

static unsigned cuint_at(const struct policy *p, size_t i)
{
	return *(const unsigned *)(const void *)((const char *)p +
						 key_ref[i].off);
}

static int parse_bool(const char *v, bool *out)
{
	static const struct { const char *s; bool v; } words[] = {
		{ "true", true }, { "on", true }, { "yes", true }, { "1", true },
		{ "false", false }, { "off", false }, { "no", false },
		{ "0", false },
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (!strcasecmp(v, words[i].s)) {
			*out = words[i].v;
			return 0;
		}
	}
	return EINVAL;
}

/* Plain decimal digits only: no sign, no blanks, no trailing text. */
static int parse_uint(const char *v, unsigned long *out)
{
	unsigned long n = 0;

	if (!*v)
		return EINVAL;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return EINVAL;
		if (n > (ULONG_MAX - 9) / 10)
			return ERANGE;
		n = n * 10 + (unsigned long)(*v - '0');
	}
	*out = n;
	return 0;
}

static bool uint_allowed(size_t i, unsigned long v)
{
	const struct policy_key *k = &policy_keys[i];

	if (v < k->min || v > k->max)
		return false;
	if (key_ref[i].lo_nz && v != 0 && v < key_ref[i].lo_nz)
		return false;
	return true;
}

static void report_range(struct report *r, size_t i)
{
	const struct policy_key *k = &policy_keys[i];

	if (!r)
		return;
	if (key_ref[i].lo_nz)
		report_add(r, WHERE_POLICY, k->key, "policy.range",
			   "%s must be 0 (off) or a whole number from %u to %u",
			   k->key, key_ref[i].lo_nz, k->max);
	else
		report_add(r, WHERE_POLICY, k->key, "policy.range",
			   "%s must be a whole number from %u to %u",
			   k->key, k->min, k->max);
}

int policy_set(struct policy *p, const char *key, const char *value,
	       struct report *r)
{
	unsigned long n = 0;
	bool b = false;
	int i, err = 0;

	if (!p)
		return EINVAL;
	i = key_index(key);
	if (i < 0) {
		if (r)
			report_add(r, WHERE_POLICY, key ? key : "",
				   "policy.unknown_key",
				   "unknown policy setting '%.64s'",
				   key ? key : "");
		return EINVAL;
	}
	if (!value)
		value = "";
	switch (policy_keys[i].kind) {
	case POLICY_BOOL:
		if (parse_bool(value, &b)) {
			if (r)
				report_add(r, WHERE_POLICY, policy_keys[i].key,
					   "policy.bad_value",
					   "%s must be true or false (also "
					   "on/off, yes/no, 1/0), not '%.32s'",
					   policy_keys[i].key, value);
			err = EINVAL;
			goto out;
		}
		*bool_at(p, (size_t)i) = b;
		break;
	case POLICY_UINT:
		err = parse_uint(value, &n);
		if (err == EINVAL) {
			if (r)
				report_add(r, WHERE_POLICY, policy_keys[i].key,
					   "policy.bad_value",
					   "%s must be a whole number, not "
					   "'%.32s'", policy_keys[i].key, value);
			goto out;
		}
		if (err || !uint_allowed((size_t)i, n)) {
			report_range(r, (size_t)i);
			err = EINVAL;
			goto out;
		}
		*uint_at(p, (size_t)i) = (unsigned)n;
		break;
	}
 out:
	return err;
}

int policy_get(const struct policy *p, const char *key, char *buf, size_t sz)
{
	int i = key_index(key);
	int n;

	if (i < 0)
		return ENOENT;
	if (!p || !buf || !sz)
		return EINVAL;
	if (policy_keys[i].kind == POLICY_BOOL)
		n = snprintf(buf, sz, "%s",
			     cbool_at(p, (size_t)i) ? "true" : "false");
	else
		n = snprintf(buf, sz, "%u", cuint_at(p, (size_t)i));
	if (n < 0 || (size_t)n >= sz) {
		buf[0] = '\0';
		return ENOSPC;
	}
	return 0;
}

int policy_validate(const struct policy *p, struct report *r)
{
	const struct policy_sip *s;
	size_t bad = 0;

	if (!p)
		return EINVAL;
	s = &p->sip;
	for (size_t i = 0; i < policy_key_count; i++) {
		if (policy_keys[i].kind != POLICY_UINT)
			continue;
		if (!uint_allowed(i, cuint_at(p, i))) {
			report_range(r, i);
			bad++;
		}
	}
	if (s->min_length > s->max_length) {
		bad++;
		if (r)
			report_add(r, WHERE_POLICY, "sip.min_length",
				   "sip.min_length",
				   "sip.min_length (%u) must not exceed "
				   "sip.max_length (%u)",
				   s->min_length, s->max_length);
	}
	if ((unsigned long)s->min_upper + s->min_digits > s->max_length) {
		bad++;
		if (r)
			report_add(r, WHERE_POLICY, "sip.min_upper",
				   "sip.min_upper",
				   "sip.min_upper (%u) plus sip.min_digits (%u) "
				   "must not exceed sip.max_length (%u)",
				   s->min_upper, s->min_digits, s->max_length);
	}
	if (p->pin.min_length > p->pin.max_length) {
		bad++;
		if (r)
			report_add(r, WHERE_POLICY, "vm.min_length",
				   "vm.min_length",
				   "vm.min_length (%u) must not exceed "
				   "vm.max_length (%u)",
				   p->pin.min_length, p->pin.max_length);
	}
	return bad ? EINVAL : 0;
}

/* ---- SIP / IAX2 passwords ---------------------------------------------- */

static bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static bool is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Does the name part (len bytes) occur in the password at position s?
 * ASCII letters of the part match any spelling of the password character
 * (case-insensitive, substitutions undone); other bytes match exactly. */
static bool part_at(const char *pw, const struct policy_cand *cand, size_t s,
		    const char *part, size_t len)
{
	for (size_t j = 0; j < len; j++) {
		unsigned char pc = (unsigned char)part[j];

		if (is_upper(pc) || is_lower(pc)) {
			signed char l = (signed char)((pc | 0x20) - 'a');

			if (cand[s + j].c[0] != l && cand[s + j].c[1] != l)
				return false;
		} else if ((unsigned char)pw[s + j] != pc) {
			return false;
		}
	}
	return true;
}

/* Any part of the name — a run of letters (or non-ASCII bytes, so that
 * "José" stays one part) of 3 or more — inside the password? */
static bool has_name_part(const char *pw, const struct policy_cand *cand,
			  size_t n, const char *name)
{
	size_t nlen = strnlen(name, POLICY_SCAN_MAX);
	size_t i = 0;

	while (i < nlen) {
		size_t st, len;

		while (i < nlen && !is_upper((unsigned char)name[i]) &&
		       !is_lower((unsigned char)name[i]) &&
		       (unsigned char)name[i] < 0x80)
			i++;
		st = i;
		while (i < nlen && (is_upper((unsigned char)name[i]) ||
				    is_lower((unsigned char)name[i]) ||
				    (unsigned char)name[i] >= 0x80))
			i++;
		len = i - st;
		if (len < 3 || len > n)
			continue;
		for (size_t s = 0; s + len <= n; s++)
			if (part_at(pw, cand, s, name + st, len))
				return true;
	}
	return false;
}

static const char *plural(unsigned n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* The dictionary rule of a password policy (rule = its setting's name):
 * 1 and a finding when the candidates hold a word of min_word or more
 * letters, else 0. */
static size_t dict_finding(const struct policy_dict *d,
			   const struct policy_cand *cand, size_t len,
			   unsigned min_word, const char *field,
			   const char *rule, struct report *r)
{
	size_t pos, wlen;

	if (!d || !min_word ||
	    !policy_dict_find(d, cand, len, min_word, &pos, &wlen))
		return 0;
	if (r)
		report_add(r, "", field, rule,
			   "contains a dictionary word of %zu letters at "
			   "characters %zu-%zu, also when spelt with "
			   "0 1 3 4 5 7 @ $ for letters (%s = %u)", wlen,
			   pos + 1, pos + wlen, rule, min_word);
	return 1;
}

int policy_check_sip(const struct policy *p, const struct policy_dict *d,
		     const char *password, const char *ext_number,
		     const char *full_name, struct report *r)
{
	const struct policy_sip *s;
	struct policy_cand cand[POLICY_SCAN_MAX];
	const char *pw = password ? password : "";
	size_t len = strnlen(pw, POLICY_SCAN_MAX + 1);
	size_t upper = 0, digits = 0, other = 0, ctrl = 0, bad = 0;

	if (!p)
		return EINVAL;
	s = &p->sip;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pw[i];

		if (is_upper(c))
			upper++;
		else if (is_digit(c))
			digits++;
		else if (!is_lower(c))
			other++;
		if (c < 0x20 || c == 0x7f)
			ctrl++;
	}

	if (len < s->min_length) {
		bad++;
		if (r)
			report_add(r, "", FIELD_PASSWORD, "sip.min_length",
				   "must be at least %u characters long "
				   "(sip.min_length = %u)",
				   s->min_length, s->min_length);
	}
	if (len > s->max_length) {
		bad++;
		if (r)
			report_add(r, "", FIELD_PASSWORD, "sip.max_length",
				   "must be at most %u characters long "
				   "(sip.max_length = %u)",
				   s->max_length, s->max_length);
	}
	if (s->alnum_only && other) {
		bad++;
		if (r)
			report_add(r, "", FIELD_PASSWORD, "sip.alnum_only",
				   "may contain only letters A-Z, a-z and "
				   "digits 0-9 (sip.alnum_only = true)");
	} else if (ctrl) {
		/* Not a setting: control characters cannot be typed on a
		 * phone and break provisioning files. */
		bad++;
		if (r)
			report_add(r, "", FIELD_PASSWORD, "sip.charset",
				   "must not contain control characters");
	}
	if (upper < s->min_upper) {
		bad++;
		if (r)
			report_add(r, "", FIELD_PASSWORD, "sip.min_upper",
				   "must contain at least %u upper-case %s "
				   "(sip.min_upper = %u)", s->min_upper,
				   plural(s->min_upper, "letter", "letters"),
				   s->min_upper);
	}
	if (digits < s->min_digits) {
		bad++;
		if (r)
			report_add(r, "", FIELD_PASSWORD, "sip.min_digits",
				   "must contain at least %u %s "
				   "(sip.min_digits = %u)", s->min_digits,
				   plural(s->min_digits, "digit", "digits"),
				   s->min_digits);
	}
	if (s->no_extension && ext_number && *ext_number &&
	    strstr(pw, ext_number)) {
		bad++;
		if (r)
			report_add(r, "", FIELD_PASSWORD, "sip.no_extension",
				   "must not contain the extension number "
				   "(sip.no_extension = true)");
	}

	/* The scans below read at most POLICY_SCAN_MAX characters; a longer
	 * password has already failed sip.max_length (bounded to 128). */
	if (len > POLICY_SCAN_MAX)
		len = POLICY_SCAN_MAX;
	for (size_t i = 0; i < len; i++)
		policy_cand_of((unsigned char)pw[i], &cand[i]);

	if (s->no_name && full_name && has_name_part(pw, cand, len,
						     full_name)) {
		bad++;
		if (r)
			report_add(r, "", FIELD_PASSWORD, "sip.no_name",
				   "must not contain any part of the user's "
				   "name of 3 or more letters, in any case or "
				   "spelling (sip.no_name = true)");
	}
	bad += dict_finding(d, cand, len, s->dict_min_word, FIELD_PASSWORD,
			    "sip.dict_min_word", r);
	sodium_memzero(cand, sizeof(cand));
	return bad ? EINVAL : 0;
}

/* ---- user web GUI passwords ------------------------------------------ */

int policy_check_web(const struct policy *p, const struct policy_dict *d,
		     const char *password, const char *username,
		     const char *ext_number, struct report *r)
{
	const struct policy_web *w;
	struct policy_cand cand[POLICY_SCAN_MAX];
	const char *pw = password ? password : "";
	size_t len = strnlen(pw, POLICY_SCAN_MAX + 1), bad = 0;

	if (!p)
		return EINVAL;
	w = &p->web;
	if (len < w->min_length) {
		bad++;
		if (r)
			report_add(r, "", "web.password", "web.min_length",
				   "must be at least %u characters long "
				   "(web.min_length = %u)",
				   w->min_length, w->min_length);
	}
	/* 3+ characters: a shorter username would forbid too much */
	if (w->no_username &&
	    ((username && strlen(username) >= 3 && strcasestr(pw, username)) ||
	     (ext_number && *ext_number && strstr(pw, ext_number)))) {
		bad++;
		if (r)
			report_add(r, "", "web.password", "web.no_username",
				   "must not contain the web username or the "
				   "extension number (web.no_username = true)");
	}
	if (len > POLICY_SCAN_MAX)
		len = POLICY_SCAN_MAX;
	for (size_t i = 0; i < len; i++)
		policy_cand_of((unsigned char)pw[i], &cand[i]);
	bad += dict_finding(d, cand, len, w->dict_min_word, "web.password",
			    "web.dict_min_word", r);
	sodium_memzero(cand, sizeof(cand));
	return bad ? EINVAL : 0;
}

/* ---- voicemail PINs --------------------------------------------------- */

/* Digits form an arithmetic progression mod 10 with a step a person would
 * use: 0 (1111), ±1 (1234, 8901, 4321, 1098), ±2 (2468, 13579, 8642). */
static bool simple_progression(const unsigned char *d, size_t n)
{
	unsigned step;

	if (n < 2)
		return true;
	step = (d[1] + 10u - d[0]) % 10u;
	if (step > 2 && step < 8)
		return false;
	for (size_t i = 2; i < n; i++)
		if ((d[i] + 10u - d[i - 1]) % 10u != step)
			return false;
	return true;
}

/* A shorter block repeated at least twice (1212, 123123, 12121). */
static bool periodic(const unsigned char *d, size_t n)
{
	for (size_t p = 1; p <= n / 2; p++) {
		size_t i;

		for (i = p; i < n && d[i] == d[i - p]; i++)
			;
		if (i == n)
			return true;
	}
	return false;
}

/* Runs of k equal digits whose sequence is a simple progression
 * (1122, 112233, 111222, 998877, 224466). */
static bool doubled(const unsigned char *d, size_t n)
{
	unsigned char seq[64];

	for (size_t k = 2; k <= n / 2; k++) {
		size_t m = n / k, i;

		if (n % k || m > sizeof(seq))
			continue;
		for (i = 0; i < n && d[i] == d[i - i % k]; i++)
			;
		if (i < n)
			continue;
		for (size_t j = 0; j < m; j++)
			seq[j] = d[j * k];
		if (simple_progression(seq, m))
			return true;
	}
	return false;
}

static bool palindrome(const unsigned char *d, size_t n)
{
	for (size_t i = 0; i < n / 2; i++)
		if (d[i] != d[n - 1 - i])
			return false;
	return true;
}

/* Made only of straight lines on a phone keypad: rows, columns (with 0
 * under the middle column), diagonals, either way (147258, 2580, 159357). */
static bool keypad_lines(const char *pin, size_t n)
{
	static const char *const lines[] = {
		"123", "456", "789", "321", "654", "987",
		"147", "258", "369", "741", "852", "963",
		"2580", "0852", "159", "357", "951", "753",
	};
	bool ok[65] = { true };

	if (n < 3 || n > 64)
		return false;
	for (size_t i = 1; i <= n; i++) {
		for (size_t k = 0; k < sizeof(lines) / sizeof(lines[0]); k++) {
			size_t l = strlen(lines[k]);

			if (l <= i && ok[i - l] &&
			    !memcmp(pin + i - l, lines[k], l)) {
				ok[i] = true;
				break;
			}
		}
	}
	return ok[n];
}

bool policy_pin_trivial(const char *pin)
{
	/* The manual's examples, kept literally so they can never regress. */
	static const char *const manual[] = {
		"0000", "1234", "1111", "4321", "123456", "7654321",
	};
	unsigned char d[64];
	size_t n;

	if (!pin)
		return true;
	n = strnlen(pin, sizeof(d) + 1);
	if (n > sizeof(d))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit((unsigned char)pin[i]))
			return false;
		d[i] = (unsigned char)(pin[i] - '0');
	}
	for (size_t i = 0; i < sizeof(manual) / sizeof(manual[0]); i++)
		if (!strcmp(pin, manual[i]))
			return true;
	return n < 2 || simple_progression(d, n) || periodic(d, n) ||
	       doubled(d, n) || palindrome(d, n) || keypad_lines(pin, n);
}

static bool same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	return la == lb && sodium_memcmp(a, b, la) == 0;
}

int policy_check_pin(const struct policy *p, const char *field,
		     const char *pin,
		     const char *ext_number, const char *previous,
		     bool force_new_user, bool *must_change, struct report *r)
{
	const char *fld = field ? field : "voicemail.pin";
	const struct policy_pin *v;
	const char *s = pin ? pin : "";
	size_t n = strlen(s), elen = ext_number ? strlen(ext_number) : 0;
	bool digits = true, is_ext, has_ext, exception;
	size_t bad = 0;

	if (must_change)
		*must_change = false;
	if (!p)
		return EINVAL;
	v = &p->pin;
	for (size_t i = 0; i < n; i++)
		if (!is_digit((unsigned char)s[i]))
			digits = false;
	is_ext = elen && n == elen && !strcmp(s, ext_number);
	/* Containment only for numbers of 3+ digits: a 1- or 2-digit
	 * extension would forbid a tenth of all PINs and gain nothing. */
	has_ext = !is_ext && elen >= 3 && strstr(s, ext_number);
	exception = is_ext && v->allow_extension_for_new_user &&
		    force_new_user;

	if (!digits) {
		bad++;
		if (r)
			report_add(r, "", fld, "vm.digits_only",
				   "must contain digits 0-9 only");
	}
	/* The manual's exception: the extension number as the first PIN of a
	 * mailbox whose new user must change it. It is short and guessable
	 * by design, so length and triviality do not apply to it. */
	if (!exception) {
		if (n < v->min_length) {
			bad++;
			if (r)
				report_add(r, "", fld, "vm.min_length",
					   "must be at least %u digits long "
					   "(vm.min_length = %u)",
					   v->min_length, v->min_length);
		}
		if (n > v->max_length) {
			bad++;
			if (r)
				report_add(r, "", fld, "vm.max_length",
					   "must be at most %u digits long "
					   "(vm.max_length = %u)",
					   v->max_length, v->max_length);
		}
		if (v->no_extension && is_ext) {
			bad++;
			if (r)
				report_add(r, "", fld, "vm.no_extension",
					   "must not be the extension number "
					   "(vm.no_extension = true)%s",
					   v->allow_extension_for_new_user ?
					   "; it is accepted only as the first "
					   "PIN of a mailbox that forces a new "
					   "user to record name and greeting" :
					   "");
		} else if (v->no_extension && has_ext) {
			bad++;
			if (r)
				report_add(r, "", fld, "vm.no_extension",
					   "must not contain the extension "
					   "number (vm.no_extension = true)");
		}
		if (v->no_trivial && digits && policy_pin_trivial(s)) {
			bad++;
			if (r)
				report_add(r, "", fld, "vm.no_trivial",
					   "is trivial: a repeated digit, a "
					   "run such as 1234 or 8901, a "
					   "repeated pattern such as 1212, a "
					   "palindrome or a keypad line "
					   "(vm.no_trivial = true)");
		}
	}
	if (v->no_previous && previous && *previous &&
	    same_secret(s, previous)) {
		bad++;
		if (r)
			report_add(r, "", fld, "vm.no_previous",
				   "must differ from the previous PIN "
				   "(vm.no_previous = true)");
	}
	if (bad)
		return EINVAL;
	if (exception && must_change)
		*must_change = true;
	return 0;
}
