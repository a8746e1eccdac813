/*
 * hdapp — the hotdesk application's engine (hotdesk.h): the log-in table
 * and its copy at rest, the call layer's hotdesk hook, the service
 * sessions (*55 / *56) on a media endpoint of their own, their prompts and
 * digits (RFC 4733 / in-band from the endpoint, SIP INFO from the call
 * layer), worker jobs and the time bounds. What a session says and does
 * is in hdflow.c.
 *
 * A session is held by the call (until closed), by its endpoint (until
 * DESTROYED) and by each worker job; the last release frees it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hotdesk/hd_int.h"
#include "call/call.h"
#include "common/log.h"
#include "media/relay.h"
#include "model/model.h"
#include "store/snapshot.h"
#include "voicemail/vmwork.h"

#define MOD "hotdesk"
#define EXPIRE_CHECK_MS 30000

int64_t hd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct hdsess *by_tag(struct hotdesk *h, uint64_t tag)
{
	for (struct le *le = list_head(&h->sessions); le; le = le->next) {
		struct hdsess *s = le->data;

		if (s->tag == tag)
			return s;
	}
	return NULL;
}

void hd_hold(struct hdsess *s)
{
	s->refs++;
}

void hd_release(struct hdsess *s)
{
	if (!s || --s->refs)
		return;
	tmr_cancel(&s->tmr);
	list_unlink(&s->le);
	s->h->live--;
	memset(s->pin, 0, sizeof(s->pin));
	mem_deref(s);
}

/* ---- prompts -------------------------------------------------------------- */

static void play_next(struct hdsess *s)
{
	hd_step_h *after;

	while (s->iq < s->nq && !s->closed) {
		if (!endpoint_play_prompt(s->h->eps, s->ep, s->q[s->iq++],
					  s->barge)) {
			s->playing = true;
			return;
		}
		/* a full command queue: the next one */
	}
	s->playing = false;
	s->nq = s->iq = 0;
	after = s->after;
	s->after = NULL;
	if (after && !s->closed)
		after(s);
}

void hd_say(struct hdsess *s, bool barge, hd_step_h *after, ...)
{
	const char *p;
	va_list ap;

	s->nq = s->iq = 0;
	va_start(ap, after);
	while ((p = va_arg(ap, const char *)) && s->nq < HD_Q_MAX)
		s->q[s->nq++] = p;
	va_end(ap);
	s->barge = barge;
	s->info_barge = false;
	s->after = after;
	/* type-ahead: a digit already typed skips what can be skipped */
	if (barge && s->ndig)
		s->iq = s->nq;
	play_next(s);
}

static void on_play_done(struct hdsess *s, enum endpoint_end end)
{
	if (!s->playing)
		return;
	s->playing = false;
	switch (end) {
	case ENDPOINT_END_DONE:
	case ENDPOINT_END_ERROR:   /* a missing prompt is skipped */
		play_next(s);
		return;
	case ENDPOINT_END_STOPPED:
		if (!s->info_barge)
			return;
		/* a SIP INFO digit stopped it */
		/* fall through */
	case ENDPOINT_END_BARGE:
		s->info_barge = false;
		s->iq = s->nq;
		play_next(s);
		return;
	default:
		return;
	}
}

/* ---- digits ------------------------------------------------------------------ */

static void tmr_input(void *arg);

static void finish_input(struct hdsess *s, unsigned take, bool drop_hash)
{
	char in[HD_DIG_MAX + 1];
	hd_input_h *h = s->input;

	memcpy(in, s->dig, take);
	in[take - (drop_hash && take ? 1 : 0)] = '\0';
	memmove(s->dig, s->dig + take, s->ndig - take);
	s->ndig -= take;
	s->dig[s->ndig] = '\0';
	s->collecting = false;
	s->input = NULL;
	tmr_cancel(&s->tmr);
	if (h)
		h(s, in);
	/* the digits may have been a PIN: not kept on the stack */
	memset(in, 0, sizeof(in));
}

static void try_input(struct hdsess *s)
{
	char *hash;

	if (!s->collecting || !s->ndig)
		return;
	hash = memchr(s->dig, '#', s->ndig);
	if (hash) {
		finish_input(s, (unsigned)(hash - s->dig) + 1, true);
		return;
	}
	if (s->ndig >= s->want) {
		finish_input(s, s->want, false);
		return;
	}
	tmr_start(&s->tmr, s->timeout_ms, tmr_input, s);
}

static void tmr_input(void *arg)
{
	struct hdsess *s = arg;

	if (!s->collecting || s->closed)
		return;
	/* quiet: what was typed (maybe nothing) is the input */
	finish_input(s, s->ndig, false);
}

void hd_collect(struct hdsess *s, unsigned want, unsigned timeout_ms,
		hd_input_h *input)
{
	s->collecting = true;
	s->want = want ? want : 1;
	s->timeout_ms = timeout_ms;
	s->input = input;
	tmr_start(&s->tmr, timeout_ms, tmr_input, s);
	try_input(s);
}

static void on_digit(struct hdsess *s, char d)
{
	if (s->ndig >= HD_DIG_MAX)
		return;   /* a flood: the endpoint bounds the rate too */
	s->dig[s->ndig++] = d;
	s->dig[s->ndig] = '\0';
	try_input(s);
}

/* ---- ending -------------------------------------------------------------------- */

static void destroy_ep(struct hdsess *s)
{
	if (!s->ep_live)
		return;
	(void)endpoint_destroy(s->h->eps, s->ep);
	/* the DESTROYED event releases the endpoint's hold */
}

void hd_bye(struct hdsess *s)
{
	if (s->closed)
		return;
	s->closed = true;
	tmr_cancel(&s->tmr);
	memset(s->pin, 0, sizeof(s->pin));
	call_svc_hangup(s->h->conf.calls, s->handle);
	destroy_ep(s);
	hd_release(s);   /* the call's hold */
}

/* ---- jobs ------------------------------------------------------------------------ */

bool hd_job(struct hotdesk *h, struct hdsess *s, void (*work)(void *),
	    void (*done)(void *), void *job)
{
	if (vmwork_put(h->work, work, done, job))
		return false;
	if (s)
		hd_hold(s);
	return true;
}

void hd_src_fail(struct hotdesk *h, const char *ip, unsigned numbers)
{
	int64_t now = hd_now_ms();
	unsigned i, slot = 0, n;

	for (i = 0; i < HD_SRC_MAX; i++) {
		if (h->src[i].ip[0] && now - h->src[i].first_ms >
		    HD_SRC_WINDOW_MS)
			h->src[i].ip[0] = '\0';
		if (!strcmp(h->src[i].ip, ip)) {
			slot = i;
			break;
		}
		if (!h->src[i].ip[0] ||
		    h->src[i].first_ms < h->src[slot].first_ms)
			slot = i;
	}
	if (i == HD_SRC_MAX || !h->src[slot].ip[0] ||
	    strcmp(h->src[slot].ip, ip)) {
		snprintf(h->src[slot].ip, sizeof(h->src[slot].ip), "%s", ip);
		h->src[slot].n = 0;
		h->src[slot].first_ms = now;
	}
	if (numbers == 0)
		h->src[slot].n++;
	n = h->src[slot].n + numbers;
	if (n >= HD_SRC_NUMBERS && h->conf.ban) {
		log_warn(MOD, "source %s failed hotdesk PINs on %u numbers: "
			 "banned", ip, n);
		h->conf.ban(ip, h->conf.arg);
		h->src[slot].ip[0] = '\0';
	}
}

/* ---- the table and its copy at rest -------------------------------------------------- */

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

static void expire_arm(struct hotdesk *h);

int hd_login(struct hotdesk *h, const char *number, const char *phone,
	     const char *src)
{
	struct hdtab_entry gone[2];
	const struct hdtab_entry *e;
	int err = hdtab_login(&h->tab, number, phone, hd_now_ms(), gone);

	if (err)
		return err;
	if (gone[0].number[0])
		log_info(MOD, "hotdesk %s logged out at %s (moved to %s)",
			 gone[0].number, gone[0].phone, phone);
	if (gone[1].number[0] && strcmp(gone[1].number, number))
		log_info(MOD, "hotdesk %s logged out at %s (%s logged in "
			 "there)", gone[1].number, gone[1].phone, number);
	if (gone[1].number[0] && strcmp(gone[1].number, number))
		rest(h, &gone[1], true);
	log_info(MOD, "hotdesk %s logged in at %s (from %s)", number, phone,
		 src);
	e = hdtab_of_number(&h->tab, number);
	if (e)
		rest(h, e, false);   /* replaces number's and phone's rows */
	expire_arm(h);
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

	(void)hdtab_expire(&h->tab, hd_now_ms(), h->max_ms, h->idle_ms,
			   lapsed, h);
	expire_arm(h);
}

/* The next check: when the next log-in lapses, at most EXPIRE_CHECK_MS
 * away (the idle bound moves with every call). */
static void expire_arm(struct hotdesk *h)
{
	int64_t next = hdtab_next_lapse(&h->tab, h->max_ms, h->idle_ms);
	int64_t wait = EXPIRE_CHECK_MS;

	if (!h->tab.n) {
		tmr_cancel(&h->expire);
		return;
	}
	if (next) {
		int64_t d = next - hd_now_ms();

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

	hdtab_touch(&h->tab, number, hd_now_ms());
}

static const struct call_hotdesk_ops hook = {
	.phone_of = hook_phone_of, .user_at = hook_user_at,
	.used = hook_used,
};

/* ---- the service ops -------------------------------------------------------------------- */

static void ep_readable(int flags, void *arg);

static int eps_open(struct hotdesk *h, const struct call_svc_media *md)
{
	struct endpoint_conf ec;
	int err;

	endpoint_conf_default(&ec);
	ec.local = md->bind;
	ec.src.take = relay_port_take;
	ec.src.give = relay_port_give;
	ec.src.arg = call_svc_relay(h->conf.calls);
	ec.max_endpoints = h->conf.max_sessions ? h->conf.max_sessions : 32;
	if (h->conf.prompt_dir)
		snprintf(ec.prompt_dir, sizeof(ec.prompt_dir), "%s",
			 h->conf.prompt_dir);
	if (h->conf.prompt_override)
		snprintf(ec.prompt_override, sizeof(ec.prompt_override), "%s",
			 h->conf.prompt_override);
	err = endpoint_alloc(&h->eps, &ec);
	if (err) {
		log_err(MOD, "media endpoints: %s", strerror(err));
		return err;
	}
	err = fd_listen(endpoint_event_fd(h->eps), FD_READ, ep_readable, h);
	if (err)
		h->eps = endpoint_free(h->eps);
	return err;
}

/* The code dialled: the hotdesk_logout one is a log-out. */
static bool is_logout(const struct hotdesk *h, const char *dialled)
{
	const struct snap_features *f = h->snap ?
		snapshot_typed(h->snap, "features") : NULL;

	return f && dialled && dialled[0] &&
		!strcmp(f->code[SNAP_FEAT_HOTDESK_LOGOUT], dialled);
}

static int svc_open(const struct call_svc_info *info,
		    const struct call_svc_media *md, uint16_t *rtp_port,
		    void **sessp, void *arg)
{
	struct hotdesk *h = arg;
	struct endpoint_media em;
	struct hdsess *s;
	int err;

	if (h->live >= (h->conf.max_sessions ? h->conf.max_sessions : 32))
		return EBUSY;
	if (!h->eps) {
		err = eps_open(h, md);
		if (err)
			return err;
	}
	s = mem_zalloc(sizeof(*s), NULL);
	if (!s)
		return ENOMEM;
	s->h = h;
	s->tag = ++h->next_tag;
	s->handle = info->handle;
	s->logout = is_logout(h, info->dialled);
	snprintf(s->phone, sizeof(s->phone), "%s", info->caller);
	snprintf(s->src_ip, sizeof(s->src_ip), "%s", info->src_ip);
	tmr_init(&s->tmr);
	memset(&em, 0, sizeof(em));
	em.rtp = md->rtp;
	em.law = md->pt == 8 ? G711_ALAW : G711_ULAW;
	em.te_pt = md->te_pt;
	em.inband = true;
	err = endpoint_create(h->eps, s->tag, &em, &s->ep, rtp_port);
	if (err) {
		mem_deref(s);
		return err;
	}
	s->ep_live = true;
	s->refs = 2;              /* the call, the endpoint */
	list_append(&h->sessions, &s->le, s);
	h->live++;
	*sessp = s;
	return 0;
}

static void svc_answered(void *sess, void *arg)
{
	struct hdsess *s = sess;

	(void)arg;
	if (s->answered || s->closed)
		return;
	s->answered = true;
	hd_flow_start(s);
}

static void svc_digit(void *sess, char d, void *arg)
{
	struct hdsess *s = sess;

	(void)arg;
	if (s->closed)
		return;
	if (s->playing && s->barge) {
		s->info_barge = true;
		(void)endpoint_play_stop(s->h->eps, s->ep);
	}
	on_digit(s, d);
}

static void svc_closed(void *sess, void *arg)
{
	struct hdsess *s = sess;

	(void)arg;
	if (s->closed)
		return;
	s->closed = true;
	tmr_cancel(&s->tmr);
	memset(s->pin, 0, sizeof(s->pin));
	destroy_ep(s);
	hd_release(s);
}

static const struct call_svc_ops ops = {
	.open = svc_open, .answered = svc_answered, .digit = svc_digit,
	.closed = svc_closed,
};

/* ---- endpoint events and the worker ------------------------------------------------------- */

static void on_event(const struct endpoint_event *ev, void *arg)
{
	struct hdsess *s = by_tag(arg, ev->tag);

	if (!s)
		return;
	switch (ev->type) {
	case ENDPOINT_EV_PLAY_DONE:
		on_play_done(s, ev->end);
		break;
	case ENDPOINT_EV_DIGIT:
		if (!s->closed)
			on_digit(s, ev->digit);
		break;
	case ENDPOINT_EV_DESTROYED:
		s->ep_live = false;
		s->playing = false;
		hd_release(s);
		break;
	default:
		break;
	}
}

static void ep_readable(int flags, void *arg)
{
	struct hotdesk *h = arg;

	(void)flags;
	endpoint_events_poll(h->eps, on_event, h, 256);
}

static void work_readable(int flags, void *arg)
{
	struct hotdesk *h = arg;

	(void)flags;
	vmwork_drain(h->work);
}

/* ---- life ------------------------------------------------------------------------------------ */

static void load_one(const struct hd_login *l, void *arg)
{
	struct hotdesk *h = arg;
	struct hdtab_entry gone[2];

	if (hdtab_login(&h->tab, l->number, l->phone, l->login_ms, gone))
		return;
	hdtab_touch(&h->tab, l->number, l->used_ms);
}

static void settings_apply(struct hotdesk *h, const struct snapshot *snap)
{
	const struct hotdesk_settings *hs = snap ?
		snapshot_typed(snap, "hotdesk") : NULL;

	h->max_ms = (int64_t)(hs ? hs->max_minutes : 720) * 60000;
	h->idle_ms = (int64_t)(hs ? hs->idle_minutes : 0) * 60000;
}

int hotdesk_alloc(struct hotdesk **hp, const struct hotdesk_conf *conf,
		  const struct snapshot *snap)
{
	struct hotdesk *h;
	int err;

	if (!hp || !conf || !conf->calls || !conf->store)
		return EINVAL;
	h = mem_zalloc(sizeof(*h), NULL);
	if (!h)
		return ENOMEM;
	h->conf = *conf;
	list_init(&h->sessions);
	tmr_init(&h->expire);
	err = hdtab_init(&h->tab, conf->max_logins ? conf->max_logins :
			 4096);
	if (!err)
		err = vmwork_alloc(&h->work, 256);
	if (!err)
		err = fd_listen(vmwork_fd(h->work), FD_READ, work_readable, h);
	if (err) {
		vmwork_free(h->work, NULL);
		hdtab_reset(&h->tab);
		mem_deref(h);
		return err;
	}
	/* the log-ins kept at rest: a restart keeps them (the loop does
	 * not run yet) */
	if (conf->hs && hdstore_login_each(conf->hs, load_one, h))
		log_warn(MOD, "log-ins at rest could not be read");
	call_set_service(conf->calls, ROUTE_SVC_HOTDESK, &ops, h);
	call_set_hotdesk(conf->calls, &hook, h);
	hotdesk_snapshot(h, snap);
	if (h->tab.n)
		log_info(MOD, "%zu hotdesk log-ins kept from before", h->tab.n);
	*hp = h;
	return 0;
}

static void job_cancel(void *job)
{
	mem_deref(job);
}

struct hotdesk *hotdesk_free(struct hotdesk *h)
{
	struct le *le;

	if (!h)
		return NULL;
	call_set_service(h->conf.calls, ROUTE_SVC_HOTDESK, NULL, NULL);
	call_set_hotdesk(h->conf.calls, NULL, NULL);
	tmr_cancel(&h->expire);
	for (le = list_head(&h->sessions); le; le = le->next) {
		struct hdsess *s = le->data;

		if (!s->closed) {
			s->closed = true;
			call_svc_hangup(h->conf.calls, s->handle);
		}
		tmr_cancel(&s->tmr);
	}
	/* the worker finishes what it was given (a log-in being kept is
	 * kept), then stops; jobs done but not drained are dropped */
	fd_close(vmwork_fd(h->work));
	vmwork_free(h->work, job_cancel);
	if (h->eps) {
		fd_close(endpoint_event_fd(h->eps));
		h->eps = endpoint_free(h->eps);
	}
	while ((le = list_head(&h->sessions))) {
		struct hdsess *s = le->data;

		list_unlink(le);
		mem_deref(s);
	}
	hdtab_reset(&h->tab);
	snapshot_deref(h->snap);
	mem_deref(h);
	return NULL;
}

void hotdesk_snapshot(struct hotdesk *h, const struct snapshot *snap)
{
	size_t i = 0;

	if (!h || !snap)
		return;
	snapshot_deref(h->snap);
	h->snap = snapshot_ref((struct snapshot *)snap);
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
	expire_arm(h);
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
	if (!v)
		return json_decref(a), NULL;
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
