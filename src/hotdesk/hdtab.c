/*
 * hdtab — the hotdesk log-in table (hdtab.h). A plain array scanned in
 * order: it holds one entry per logged-in hotdesk user, bounded at
 * creation, and is read once per call that involves a phone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotdesk/hdtab.h"

#define HDTAB_MAX 65536

static bool num_ok(const char *n)
{
	size_t len = n ? strnlen(n, HDTAB_NUM) : 0;

	if (!len || len >= HDTAB_NUM)
		return false;
	for (size_t i = 0; i < len; i++)
		if (n[i] < '0' || n[i] > '9')
			return false;
	return true;
}

int hdtab_init(struct hdtab *t, size_t max)
{
	if (!t || !max || max > HDTAB_MAX)
		return EINVAL;
	t->e = calloc(max, sizeof(*t->e));
	if (!t->e)
		return ENOMEM;
	t->n = 0;
	t->max = max;
	return 0;
}

void hdtab_reset(struct hdtab *t)
{
	if (!t)
		return;
	free(t->e);
	t->e = NULL;
	t->n = t->max = 0;
}

static long find(const struct hdtab *t, const char *key, bool phone)
{
	for (size_t i = 0; key && i < t->n; i++)
		if (!strcmp(phone ? t->e[i].phone : t->e[i].number, key))
			return (long)i;
	return -1;
}

static void drop(struct hdtab *t, size_t i, struct hdtab_entry *out)
{
	if (out)
		*out = t->e[i];
	t->e[i] = t->e[--t->n];
	memset(&t->e[t->n], 0, sizeof(t->e[t->n]));
}

int hdtab_login(struct hdtab *t, const char *number, const char *phone,
		int64_t now_ms, struct hdtab_entry gone[2])
{
	struct hdtab_entry tmp[2];
	struct hdtab_entry *g = gone ? gone : tmp;
	long i;

	memset(g, 0, 2 * sizeof(*g));
	if (!t || !t->e || !num_ok(number) || !num_ok(phone))
		return EINVAL;
	/* full, unless this log-in frees a place first */
	if (t->n >= t->max && find(t, number, false) < 0 &&
	    find(t, phone, true) < 0)
		return ENOSPC;
	i = find(t, number, false);
	if (i >= 0)
		drop(t, (size_t)i, &g[0]);
	i = find(t, phone, true);
	if (i >= 0)
		drop(t, (size_t)i, &g[1]);
	/* the same place again is no move */
	if (g[0].number[0] && !strcmp(g[0].phone, phone))
		memset(&g[0], 0, sizeof(g[0]));
	snprintf(t->e[t->n].number, HDTAB_NUM, "%s", number);
	snprintf(t->e[t->n].phone, HDTAB_NUM, "%s", phone);
	t->e[t->n].login_ms = now_ms;
	t->e[t->n].used_ms = now_ms;
	t->n++;
	return 0;
}

const struct hdtab_entry *hdtab_of_number(const struct hdtab *t,
					  const char *number)
{
	long i = t ? find(t, number, false) : -1;

	return i >= 0 ? &t->e[i] : NULL;
}

const struct hdtab_entry *hdtab_at_phone(const struct hdtab *t,
					 const char *phone)
{
	long i = t ? find(t, phone, true) : -1;

	return i >= 0 ? &t->e[i] : NULL;
}

bool hdtab_logout(struct hdtab *t, const char *number,
		  struct hdtab_entry *out)
{
	long i = t ? find(t, number, false) : -1;

	if (i < 0)
		return false;
	drop(t, (size_t)i, out);
	return true;
}

void hdtab_touch(struct hdtab *t, const char *number, int64_t now_ms)
{
	long i = t ? find(t, number, false) : -1;

	if (i >= 0 && now_ms > t->e[i].used_ms)
		t->e[i].used_ms = now_ms;
}

/* When e lapses, 0 never. */
static int64_t lapse(const struct hdtab_entry *e, int64_t max_ms,
		     int64_t idle_ms)
{
	int64_t a = max_ms > 0 ? e->login_ms + max_ms : 0;
	int64_t b = idle_ms > 0 ? e->used_ms + idle_ms : 0;

	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

size_t hdtab_expire(struct hdtab *t, int64_t now_ms, int64_t max_ms,
		    int64_t idle_ms,
		    void (*fn)(const struct hdtab_entry *e, void *arg),
		    void *arg)
{
	size_t n = 0, i = 0;

	while (t && i < t->n) {
		int64_t at = lapse(&t->e[i], max_ms, idle_ms);

		if (at && at <= now_ms) {
			struct hdtab_entry e;

			drop(t, i, &e);
			if (fn)
				fn(&e, arg);
			n++;
			continue;   /* the last entry moved to i */
		}
		i++;
	}
	return n;
}

int64_t hdtab_next_lapse(const struct hdtab *t, int64_t max_ms,
			 int64_t idle_ms)
{
	int64_t next = 0;

	for (size_t i = 0; t && i < t->n; i++) {
		int64_t at = lapse(&t->e[i], max_ms, idle_ms);

		if (at && (!next || at < next))
			next = at;
	}
	return next;
}
