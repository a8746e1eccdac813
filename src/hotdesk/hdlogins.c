/*
 * hdlogins — the hotdesk log-in table on the loop (hotdesk.h, hd_int.h):
 * its changes (each logged, never with a digit), their copy at rest on
 * the worker (store/hdstore.h), the time bounds, the call layer's hook
 * (call/call.h call_set_hotdesk), each snapshot's effect, and the list
 * the API shows.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotdesk/hd_int.h"
#include "call/call.h"
#include "common/log.h"
#include "model/model.h"
#include "store/snapshot.h"

#define MOD "hotdesk"
#define EXPIRE_CHECK_MS 30000

struct rest {
	struct hotdesk *h;
	struct hd_login l;
	bool del;
	int err;
};

static void rest_work(void *arg)
{
	struct rest *r = arg;

	r->err = r->del ? hdstore_login_del(r->h->conf.hs, r->l.number) :
		hdstore_login_put(r->h->conf.hs, &r->l);
}

static void rest_done(void *arg)
{
	struct rest *r = arg;

	if (r->err)
		log_warn(MOD, "hotdesk %s: log-in not kept at rest: %s",
			 r->l.number, strerror(r->err));
	mem_deref(r);
}

static void rest(struct hotdesk *h, const struct hdtab_entry *e, bool del)
{
	struct rest *r;

	if (!h->conf.hs)
		return;
	r = mem_zalloc(sizeof(*r), NULL);
	if (!r)
		return;
	r->h = h;
	r->del = del;
	snprintf(r->l.number, sizeof(r->l.number), "%s", e->number);
	snprintf(r->l.phone, sizeof(r->l.phone), "%s", e->phone);
	r->l.login_ms = e->login_ms;
	r->l.used_ms = e->used_ms;
	if (!hd_job(h, NULL, rest_work, rest_done, r)) {
		log_warn(MOD, "hotdesk %s: worker queue full, log-in not kept "
			 "at rest", e->number);
		mem_deref(r);
	}
}

int hd_login(struct hotdesk *h, const char *number, const char *phone,
	     const char *src)
{
	struct hdtab_entry gone[2];
	const struct hdtab_entry *e;
	int err = hdtab_login(&h->tab, number, phone, call_unix_ms(), gone);

	if (err)
		return err;
	if (gone[0].number[0])
		log_info(MOD, "hotdesk %s logged out at %s (moved to %s)",
			 gone[0].number, gone[0].phone, phone);
	if (gone[1].number[0] && strcmp(gone[1].number, number)) {
		log_info(MOD, "hotdesk %s logged out at %s (%s logged in "
			 "there)", gone[1].number, gone[1].phone, number);
		rest(h, &gone[1], true);
	}
	log_info(MOD, "hotdesk %s logged in at %s (from %s)", number, phone,
		 src);
	e = hdtab_of_number(&h->tab, number);
	if (e)
		rest(h, e, false);   /* replaces number's and phone's rows */
	hd_expire_arm(h);
	return 0;
}

bool hd_logout(struct hotdesk *h, const char *number, const char *why)
{
	struct hdtab_entry e;

	if (!hdtab_logout(&h->tab, number, &e))
		return false;
	log_info(MOD, "hotdesk %s logged out at %s (%s)", e.number, e.phone,
		 why);
	rest(h, &e, true);
	return true;
}

static void lapsed(const struct hdtab_entry *e, void *arg)
{
	struct hotdesk *h = arg;

	log_info(MOD, "hotdesk %s logged out at %s (time bound)", e->number,
		 e->phone);
	rest(h, e, true);
}

static void tmr_expire(void *arg)
{
	struct hotdesk *h = arg;

	(void)hdtab_expire(&h->tab, call_unix_ms(), h->max_ms, h->idle_ms,
			   lapsed, h);
	hd_expire_arm(h);
}

/* The next check: when the next log-in lapses, at most EXPIRE_CHECK_MS
 * away (the idle bound moves with every call). */
void hd_expire_arm(struct hotdesk *h)
{
	int64_t next = hdtab_next_lapse(&h->tab, h->max_ms, h->idle_ms);
	int64_t wait = EXPIRE_CHECK_MS;

	if (!h->tab.n) {
		tmr_cancel(&h->expire);
		return;
	}
	if (next) {
		int64_t d = next - call_unix_ms();

		wait = d < 0 ? 0 : d < wait ? d : wait;
	}
	tmr_start(&h->expire, (uint64_t)wait + 1, tmr_expire, h);
}

/* ---- the call layer's hook ------------------------------------------------------------ */

static const char *hook_phone_of(const char *number, void *arg)
{
	struct hotdesk *h = arg;
	const struct hdtab_entry *e = hdtab_of_number(&h->tab, number);

	return e ? e->phone : NULL;
}

static const char *hook_user_at(const char *phone, void *arg)
{
	struct hotdesk *h = arg;
	const struct hdtab_entry *e = hdtab_at_phone(&h->tab, phone);

	return e ? e->number : NULL;
}

static void hook_used(const char *number, void *arg)
{
	struct hotdesk *h = arg;

	hdtab_touch(&h->tab, number, call_unix_ms());
}

const struct call_hotdesk_ops hd_hook = {
	.phone_of = hook_phone_of, .user_at = hook_user_at,
	.used = hook_used,
};

/* A log-in kept at rest. Last-use times are written with the log-in
 * only (not at every call): a restart counts as a use for the idle
 * bound, so that it ends nobody at once; the absolute bound still counts
 * from the log-in. */
static void load_one(const struct hd_login *l, void *arg)
{
	struct hotdesk *h = arg;

	if (hdtab_login(&h->tab, l->number, l->phone, l->login_ms, NULL))
		return;
	hdtab_touch(&h->tab, l->number, call_unix_ms());
}

void hd_logins_load(struct hotdesk *h)
{
	if (h->conf.hs && hdstore_login_each(h->conf.hs, load_one, h))
		log_warn(MOD, "log-ins at rest could not be read");
}

static void settings_apply(struct hotdesk *h, const struct snapshot *snap)
{
	const struct hotdesk_settings *hs = snap ?
		snapshot_typed(snap, "hotdesk") : NULL;

	h->max_ms = (int64_t)(hs ? hs->max_minutes : 720) * 60000;
	h->idle_ms = (int64_t)(hs ? hs->idle_minutes : 0) * 60000;
}

void hotdesk_snapshot(struct hotdesk *h, const struct snapshot *snap)
{
	size_t i = 0;

	if (!h || !snap)
		return;
	/* the new one first: it may be the one held */
	snapshot_ref((struct snapshot *)snap);
	snapshot_deref(h->snap);
	h->snap = (struct snapshot *)snap;
	settings_apply(h, snap);
	/* log-ins whose number is no hotdesk extension any more, or whose
	 * phone is gone, end */
	while (i < h->tab.n) {
		const struct hdtab_entry *e = &h->tab.e[i];
		const struct snap_ext *x = snapshot_find(snap, e->number,
							 strlen(e->number));
		const struct snap_ext *p = snapshot_find(snap, e->phone,
							 strlen(e->phone));

		if (x && x->type == MODEL_HOTDESK && p && p->auth) {
			i++;
			continue;
		}
		{
			char num[HDTAB_NUM];

			snprintf(num, sizeof(num), "%s", e->number);
			(void)hd_logout(h, num, "configuration changed");
		}
	}
	hd_expire_arm(h);
}

static json_t *ms_or_null(int64_t ms)
{
	return ms ? json_integer(ms) : json_null();
}

int hotdesk_logout(struct hotdesk *h, const char *number, char *phone)
{
	const struct hdtab_entry *e = h ? hdtab_of_number(&h->tab, number) :
		NULL;

	if (!e)
		return ENOENT;
	snprintf(phone, HDTAB_NUM, "%s", e->phone);
	(void)hd_logout(h, number, "administrator");
	return 0;
}

static int by_number(const void *a, const void *b)
{
	const struct hdtab_entry *x = *(const struct hdtab_entry *const *)a;
	const struct hdtab_entry *y = *(const struct hdtab_entry *const *)b;

	return strcmp(x->number, y->number);
}

json_t *hotdesk_list(struct hotdesk *h)
{
	const struct hdtab_entry **v;
	json_t *a = json_array();
	size_t n = h ? h->tab.n : 0;

	if (!a || !n)
		return a;
	v = mem_zalloc(n * sizeof(*v), NULL);
	if (!v) {
		json_decref(a);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = &h->tab.e[i];
	qsort(v, n, sizeof(*v), by_number);
	for (size_t i = 0; i < n; i++) {
		const struct hdtab_entry *e = v[i];
		const struct snap_ext *x = h->snap ?
			snapshot_find(h->snap, e->number,
				      strlen(e->number)) : NULL;
		struct hdtab one = { .e = (struct hdtab_entry *)e, .n = 1,
				     .max = 1 };

		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:I,s:I,s:o}",
			"number", e->number, "name", x ? x->name : "",
			"phone", e->phone, "login_ms", (json_int_t)e->login_ms,
			"used_ms", (json_int_t)e->used_ms, "lapses_ms",
			ms_or_null(hdtab_next_lapse(&one, h->max_ms,
						    h->idle_ms))));
	}
	mem_deref(v);
	return a;
}
