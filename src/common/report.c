#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/report.h"

void report_init(struct report *r)
{
	memset(r, 0, sizeof(*r));
}

void report_reset(struct report *r)
{
	if (!r)
		return;
	free(r->item);
	memset(r, 0, sizeof(*r));
}

static void copy_field(char *dst, size_t dsz, const char *src)
{
	snprintf(dst, dsz, "%s", src ? src : "");
}

int report_vadd(struct report *r, const char *where, const char *field,
		const char *rule, const char *fmt, va_list ap)
{
	struct report_item *it;

	if (r->n >= REPORT_MAX) {
		r->dropped++;
		return 0;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 8;
		struct report_item *p;

		if (cap > REPORT_MAX)
			cap = REPORT_MAX;
		p = realloc(r->item, cap * sizeof(*p));
		if (!p) {
			r->dropped++;
			return ENOMEM;
		}
		r->item = p;
		r->cap = cap;
	}
	it = &r->item[r->n++];
	copy_field(it->where, sizeof(it->where), where);
	copy_field(it->field, sizeof(it->field), field);
	copy_field(it->rule, sizeof(it->rule), rule);
	vsnprintf(it->msg, sizeof(it->msg), fmt, ap);
	return 0;
}

int report_add(struct report *r, const char *where, const char *field,
	       const char *rule, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = report_vadd(r, where, field, rule, fmt, ap);
	va_end(ap);
	return err;
}

void report_merge(struct report *dst, struct report *src, const char *where)
{
	for (size_t i = 0; i < src->n; i++) {
		struct report_item *it = &src->item[i];

		report_add(dst, it->where[0] ? it->where : where, it->field,
			   it->rule, "%s", it->msg);
	}
	dst->dropped += src->dropped;
	report_reset(src);
}
