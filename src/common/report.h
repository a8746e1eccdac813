/*
 * report — a bounded list of validation findings.
 *
 * Every check in Bulwark (policy, model, store commit, settings) reports
 * *every* rule broken, not just the first, into one of these. An item names
 * where (an extension number, "policy", a CSV row such as "row 7"), the field
 * (e.g. "auth.password"), a stable machine-readable rule code
 * (e.g. "sip.min_upper") and a sentence an administrator understands.
 *
 * Pure: no I/O. Items are appended in order; the list stops growing at
 * REPORT_MAX items and counts what it dropped.
 */
#ifndef BULWARK_REPORT_H
#define BULWARK_REPORT_H

#include <stddef.h>
#include <stdarg.h>

#define REPORT_MAX 100000u

struct report_item {
	char where[32];   /* extension number, "policy", "row 7", "" */
	char field[48];   /* dotted field name, "" when not about one field */
	char rule[40];    /* stable rule code, e.g. "sip.min_upper" */
	char msg[240];    /* human sentence, no secrets in it */
};

struct report {
	struct report_item *item;
	size_t n, cap;
	size_t dropped;   /* items not stored because REPORT_MAX was reached */
};

/* Initialise an empty report (no allocation until the first item). */
void report_init(struct report *r);

/* Free the items; the report is empty and reusable afterwards. NULL-safe. */
void report_reset(struct report *r);

/* Append one item; printf-style message. Returns 0, or ENOMEM (item lost,
 * counted in dropped). Never logs. */
int report_add(struct report *r, const char *where, const char *field,
	       const char *rule, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

int report_vadd(struct report *r, const char *where, const char *field,
		const char *rule, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

/* Move all items of src to the end of dst, prefixing an empty 'where' with
 * where (may be NULL). src is reset. */
void report_merge(struct report *dst, struct report *src, const char *where);

/* Number of items including dropped ones; 0 means "no finding". */
static inline size_t report_count(const struct report *r)
{
	return r->n + r->dropped;
}

#endif
