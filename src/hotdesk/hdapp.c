/*
 * hdapp — the hotdesk application's engine (hotdesk.h): the service
 * sessions (*55 / *56) on a media endpoint of their own, worker jobs,
 * start and stop; their prompts and digits (RFC 4733 / in-band from the
 * endpoint, SIP INFO from the call layer) are the shared voice session
 * engine, media/voicesess.c, fed from here. The log-in table is hdlogins.c;
 * what a session says and does is hdflow.c.
 *
 * A session is held by the call (until closed), by its endpoint (until
 * DESTROYED) and by each worker job; the last release frees it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hotdesk/hd_int.h"
#include "call/call.h"
#include "common/log.h"
#include "store/snapshot.h"
#include "voicemail/vmwork.h"

#define MOD "hotdesk"

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
	vs_close(&s->vs);
	list_unlink(&s->le);
	s->h->live--;
	memset(s->pin, 0, sizeof(s->pin));
	mem_deref(s);
}

/* ---- prompts and digits: the shared engine (media/voicesess.c) ------- */

/* The engine calls back with the session: the flow's typed steps. */
static void step_after(void *arg)
{
	struct hdsess *s = arg;
	hd_step_h *after = s->after;

	s->after = NULL;
	if (after)
		after(s);
}

static void step_input(void *arg, const char *in)
{
	struct hdsess *s = arg;
	hd_input_h *input = s->input;

	s->input = NULL;
	if (input)
		input(s, in);
}

void hd_say(struct hdsess *s, bool barge, hd_step_h *after, ...)
{
	const char *p;
	va_list ap;

	vs_q_clear(&s->vs);
	va_start(ap, after);
	while ((p = va_arg(ap, const char *)))
		vs_q_prompt(&s->vs, p);
	va_end(ap);
	s->after = after;
	vs_play(&s->vs, barge, step_after);
}

void hd_collect(struct hdsess *s, unsigned want, unsigned timeout_ms,
		hd_input_h *input)
{
	s->input = input;
	vs_collect(&s->vs, want, timeout_ms, step_input);
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
	vs_close(&s->vs);
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

/* ---- the service ops -------------------------------------------------------------------- */

static void ep_readable(int flags, void *arg);

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
	struct hdsess *s;
	int err;

	if (h->live >= (h->conf.max_sessions ? h->conf.max_sessions : 32))
		return EBUSY;
	if (!h->eps) {
		err = call_svc_eps_open(&h->eps, h->conf.calls, md,
					h->conf.prompt_dir,
					h->conf.prompt_override,
					h->conf.max_sessions ?
					h->conf.max_sessions : 32,
					ep_readable, h);
		if (err) {
			log_err(MOD, "media endpoints: %s", strerror(err));
			return err;
		}
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
	err = call_svc_ep_create(h->eps, s->tag, md, true, &s->ep, rtp_port);
	if (err) {
		mem_deref(s);
		return err;
	}
	s->ep_live = true;
	vs_init(&s->vs, h->eps, s->ep, s);
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
	vs_info_digit(&s->vs, d);
}

static void svc_closed(void *sess, void *arg)
{
	struct hdsess *s = sess;

	(void)arg;
	if (s->closed)
		return;
	s->closed = true;
	vs_close(&s->vs);
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
		vs_play_done(&s->vs, ev->end);
		break;
	case ENDPOINT_EV_DIGIT:
		if (!s->closed)
			vs_digit(&s->vs, ev->digit);
		break;
	case ENDPOINT_EV_DESTROYED:
		s->ep_live = false;
		vs_ep_gone(&s->vs);
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
	hd_logins_load(h);
	call_set_service(conf->calls, ROUTE_SVC_HOTDESK, &ops, h);
	call_set_hotdesk(conf->calls, &hd_hook, h);
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
		vs_close(&s->vs);
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
