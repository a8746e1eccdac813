/*
 * settings — one declarative table type for every settings section.
 *
 * A section ("sip", "guard", ...) is a table of setting definitions: the
 * key, its type, default and bounds, the module that applies it, a help
 * sentence, and where the value lands in the section's typed struct. The
 * same table feeds the defaults, the setter (text from the CLI, the API,
 * the GUI), the commit check, the schema the GUI reads, and the decoder
 * that turns the committed JSON object into the typed struct the data
 * plane reads (once, at commit: the loop never parses JSON).
 * Rules that relate two keys (rtp_start < rtp_end) stay with the section,
 * as a validate function over the decoded struct or the object.
 *
 * Findings name the field ("sip.udp_port") and a stable rule code built
 * from the section name: <section>.range, .bool, .choice, .length,
 * .unknown_key, .value, or the definition's own rule.
 *
 * Pure: no I/O, no logging. Tables are static and read-only.
 */
#ifndef BULWARK_SETTINGS_H
#define BULWARK_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct report;

enum setting_type {
	SETTING_INT,     /* whole number in [min, max]; struct: a signed or
			  * unsigned integer of size 1, 2, 4 or 8 bytes
			  * (unsigned when min >= 0) */
	SETTING_BOOL,    /* true/false (also 1/0, on/off, yes/no as text);
			  * struct: bool */
	SETTING_ENUM,    /* one of choices; struct: its index, an unsigned
			  * integer (or enum) of size 1, 2, 4 or 8 */
	SETTING_STRING,  /* text of at most size - 1 bytes; struct: char
			  * array of size bytes */
};

struct setting_def {
	const char *name;          /* key within the section: "udp_port" */
	enum setting_type type;
	long long def, min, max;   /* INT: default and bounds; BOOL: 0/1 */
	const char *sdef;          /* STRING, ENUM: default text */
	const char *const *choices; /* ENUM: NULL-terminated */
	/* STRING: the section's own format rule (NULL: any text that fits).
	 * Returns 0, or EINVAL after one report item naming field (r may
	 * be NULL: only the verdict is wanted). */
	int (*check)(const char *field, const char *v, struct report *r);
	/* INT, BOOL, ENUM: the refusal's rule code and sentence, when the
	 * section keeps its own (NULL: <section>.range/.bool/.choice and
	 * the standard sentence). */
	const char *rule;
	const char *msg;
	const char *module;        /* the module that applies it: "sip" */
	size_t off, size;          /* the value's place in the typed struct */
	const char *help;          /* one sentence for the GUI and the docs */
};

struct settings_table {
	const char *section;       /* "sip" */
	const struct setting_def *defs;
	size_t n;
	size_t struct_size;        /* sizeof the typed struct */
};

/* Definition helpers: the struct member decides offset and size. */
#define SETTING_INT_AT(st, m, d, lo, hi, mod, h) \
	{ .name = #m, .type = SETTING_INT, .def = (d), .min = (lo), \
	  .max = (hi), .module = (mod), .off = offsetof(st, m), \
	  .size = sizeof(((st *)0)->m), .help = (h) }
#define SETTING_BOOL_AT(st, m, d, mod, h) \
	{ .name = #m, .type = SETTING_BOOL, .def = (d), .max = 1, \
	  .module = (mod), .off = offsetof(st, m), \
	  .size = sizeof(((st *)0)->m), .help = (h) }

/* Definition of key, or NULL. */
const struct setting_def *settings_find(const struct settings_table *t,
					const char *key);

/* New object holding every key with its default (JSON integer, boolean
 * or string), or NULL (ENOMEM). */
json_t *settings_defaults(const struct settings_table *t);

/* Parse text for key into a new JSON value (*out). Returns 0, ENOENT
 * (unknown key) or EINVAL (refused), with one report item naming the
 * field and the rule; ENOMEM. */
int settings_parse(const struct settings_table *t, const char *key,
		   const char *text, json_t **out, struct report *r);

/* settings_parse, then set obj[key] (replacing it). Same returns. Fits
 * struct store_section's set (through a one-line wrapper). */
int settings_set(const struct settings_table *t, json_t *obj,
		 const char *key, const char *text, struct report *r);

/* Whole stored object at commit: every key known and every value
 * acceptable (typed, or text as staged). Reports every finding; returns
 * 0 or EINVAL. */
int settings_check(const struct settings_table *t, const json_t *obj,
		   struct report *r);

/* Fill the typed struct out (t->struct_size bytes) from obj: each key's
 * value when it is acceptable, else its default (a missing or damaged
 * key never leaves a hole). obj may be NULL (all defaults). */
void settings_decode(const struct settings_table *t, const json_t *obj,
		     void *out);

/* INT key's value in obj when acceptable, else its default; 0 for a key
 * not in the table or not an INT. */
long long settings_int(const struct settings_table *t, const json_t *obj,
		       const char *key);

/* The table as JSON for the GUI and the docs: {"section", "keys":[{"name",
 * "type", "default", "min", "max", "choices", "module", "help"}]}. A new
 * reference, or NULL. */
json_t *settings_schema(const struct settings_table *t);

#endif
