/*
 * vmapp — the voicemail application's engine (vmapp.h): sessions on the
 * call layer's service hook, their media endpoint, recordings and worker
 * jobs. The prompt queue and the digits (type-ahead buffered, RFC 4733 /
 * in-band from the endpoint, SIP INFO from the call layer) are the shared
 * voice session engine, media/voicesess.c, fed from here.
 * The flows themselves are in vmdeposit.c and vmaccess.c.
 *
 * A session is held by the call (until closed), by its endpoint (until
 * DESTROYED) and by each worker job; it is freed at the last release, so
 * that a hang-up during a recording still saves the message.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "voicemail/vm_int.h"
#include "voicemail/vmwork.h"
#include "common/log.h"
#include "media/prompt.h"
#include "store/snapshot.h"

#define MOD "voicemail"

static struct vmsess *by_tag(struct vmapp *a, uint64_t tag)
{
	for (struct le *le = list_head(&a->sessions); le; le = le->next) {
		struct vmsess *s = le->data;

		if (s->tag == tag)
			return s;
	}
	return NULL;
}

void vm_hold(struct vmsess *s)
{
	s->refs++;
}

void vm_release(struct vmsess *s)
{
	if (!s || --s->refs)
		return;
	vs_close(&s->vs);
	list_unlink(&s->le);
	s->app->st.live--;
	mem_deref(s->msgs);
	mem_deref(s);
}

/* ---- prompts and digits: the shared engine (media/voicesess.c) -------- */

void vm_q_clear(struct vmsess *s)
{
	vs_q_clear(&s->vs);
}

void vm_q_prompt(struct vmsess *s, const char *name)
{
	vs_q_prompt(&s->vs, name);
}

void vm_q_file(struct vmsess *s, const char *path)
{
	vs_q_file(&s->vs, path);
}

void vm_q_beep(struct vmsess *s)
{
	vs_q_prompt(&s->vs, "beep");
}

void vm_q_digits(struct vmsess *s, const char *d)
{
	char n[16];

	for (; *d; d++) {
		if (*d < '0' || *d > '9')
			continue;
		snprintf(n, sizeof(n), "digits/%c", *d);
		vs_q_prompt(&s->vs, n);
	}
}

/* 0..9999 the way a person says it: "four hundred twenty one" */
void vm_q_number(struct vmsess *s, unsigned n)
{
	char b[24];

	if (n >= 10000) {
		snprintf(b, sizeof(b), "%u", n);
		vm_q_digits(s, b);
		return;
	}
	if (n >= 1000) {
		vm_q_number(s, n / 1000);
		vs_q_prompt(&s->vs, "digits/thousand");
		n %= 1000;
		if (!n)
			return;
	}
	if (n >= 100) {
		snprintf(b, sizeof(b), "digits/%u", n / 100);
		vs_q_prompt(&s->vs, b);
		vs_q_prompt(&s->vs, "digits/hundred");
		n %= 100;
		if (!n)
			return;
	}
	if (n > 20 && n % 10) {
		snprintf(b, sizeof(b), "digits/%u", n - n % 10);
		vs_q_prompt(&s->vs, b);
		n %= 10;
	}
	snprintf(b, sizeof(b), "digits/%u", n);
	vs_q_prompt(&s->vs, b);
}

/* The engine calls back with the session: the flow's typed steps. */
static void step_after(void *arg)
{
	struct vmsess *s = arg;
	vm_step_h *after = s->after;

	s->after = NULL;
	if (after)
		after(s);
}

static void step_input(void *arg, const char *in)
{
	struct vmsess *s = arg;
	vm_input_h *input = s->input;

	s->input = NULL;
	if (input)
		input(s, in);
}

void vm_play(struct vmsess *s, bool barge, vm_step_h *after)
{
	s->after = after;
	vs_play(&s->vs, barge, step_after);
}

void vm_collect(struct vmsess *s, unsigned want, unsigned timeout_ms,
		vm_input_h *input)
{
	s->input = input;
	vs_collect(&s->vs, want, timeout_ms, step_input);
}

bool vm_typed(const struct vmsess *s)
{
	return s->vs.ndig != 0;
}

void vm_typed_clear(struct vmsess *s)
{
	vs_digits_clear(&s->vs);
}

static void on_digit(struct vmsess *s, char d)
{
	if (s->recording)
		return;   /* the key that ends it, nothing more */
	vs_digit(&s->vs, d);
}

/* ---- recording ------------------------------------------------------------ */

int vm_record(struct vmsess *s, const char *path, unsigned max_ms,
	      bool keep_on_hangup,
	      void (*done)(struct vmsess *s, enum endpoint_end end,
			   uint32_t ms))
{
	struct endpoint_rec rec = {
		.path = path, .max_ms = max_ms, .silence_ms = 10000,
		.stop_on_digit = true,
	};
	int err;

	vs_digits_clear(&s->vs);
	snprintf(s->rec_path, sizeof(s->rec_path), "%s", path);
	s->rec_done = done;
	s->rec_keep_on_hangup = keep_on_hangup;
	err = endpoint_record(s->app->eps, s->ep, &rec);
	if (!err)
		s->recording = true;
	return err;
}

static void on_record_done(struct vmsess *s, const struct endpoint_event *ev)
{
	void (*done)(struct vmsess *, enum endpoint_end, uint32_t) =
		s->rec_done;

	if (!s->recording)
		return;
	s->recording = false;
	s->rec_done = NULL;
	/* the key that ended it is not type-ahead */
	vs_digits_clear(&s->vs);
	if (done)
		done(s, ev->end, ev->end == ENDPOINT_END_ERROR ? 0 :
		     ev->duration_ms);
}

/* ---- ending ------------------------------------------------------------------ */

static void destroy_ep(struct vmsess *s)
{
	if (!s->ep_live)
		return;
	if (s->recording && !s->rec_keep_on_hangup)
		(void)endpoint_record_stop(s->app->eps, s->ep, false);
	(void)endpoint_destroy(s->app->eps, s->ep);
	/* the DESTROYED event releases the endpoint's hold */
}

void vm_hangup(struct vmsess *s)
{
	if (s->closed)
		return;
	s->closed = true;
	vs_close(&s->vs);
	call_svc_hangup(s->app->conf.calls, s->handle);
	destroy_ep(s);
	vm_release(s);   /* the call's hold */
}

static void bye_after(struct vmsess *s)
{
	vm_hangup(s);
}

void vm_goodbye(struct vmsess *s, bool say)
{
	/* what the caller queued before ("saved", "incorrect") is said
	 * first */
	if (say)
		vm_q_prompt(s, "vm-goodbye");
	vs_digits_clear(&s->vs);
	vm_play(s, false, bye_after);
}

/* ---- jobs ------------------------------------------------------------------------ */

bool vm_job(struct vmsess *s, void (*work)(void *), void (*done)(void *),
	    void *job)
{
	if (vmwork_put(s->app->work, work, done, job)) {
		s->app->st.refused++;
		return false;
	}
	vm_hold(s);
	return true;
}

/* Failures on numbers that are no mailbox, per source: they count with
 * the store's distinct mailboxes toward the sweep ban. */
void vm_src_fail(struct vmapp *a, const char *ip, unsigned boxes)
{
	uint64_t now = (uint64_t)call_unix_ms();
	unsigned i, slot = 0, n = 0;

	for (i = 0; i < VM_SRC_MAX; i++) {
		if (a->src[i].ip[0] && now - a->src[i].first_ms >
		    VM_SRC_WINDOW_MS)
			a->src[i].ip[0] = '\0';
		if (!strcmp(a->src[i].ip, ip)) {
			slot = i;
			break;
		}
		if (!a->src[i].ip[0] ||
		    a->src[i].first_ms < a->src[slot].first_ms)
			slot = i;
	}
	if (i == VM_SRC_MAX || !a->src[slot].ip[0] ||
	    strcmp(a->src[slot].ip, ip)) {
		snprintf(a->src[slot].ip, sizeof(a->src[slot].ip), "%s", ip);
		a->src[slot].n = 0;
		a->src[slot].first_ms = now;
	}
	if (boxes == 0)
		a->src[slot].n++;
	n = a->src[slot].n + boxes;
	if (n >= VM_SRC_BOXES && a->conf.ban) {
		log_warn(MOD, "source %s failed PINs on %u mailboxes: banned",
			 ip, n);
		a->conf.ban(ip, a->conf.arg);
		a->src[slot].ip[0] = '\0';
	}
}

/* ---- the call layer's service ops ------------------------------------------------- */

static void ep_readable(int flags, void *arg);
static void svc_loaded(struct vmsess *s);

static int svc_open(const struct call_svc_info *info,
		    const struct call_svc_media *md, uint16_t *rtp_port,
		    void **sessp, void *arg)
{
	struct vmapp *a = arg;
	struct vmsess *s;
	int err;

	if (a->st.live >= (a->conf.max_sessions ? a->conf.max_sessions : 128)) {
		a->st.refused++;
		return EBUSY;
	}
	if (!a->eps) {
		err = call_svc_eps_open(&a->eps, a->conf.calls, md,
					a->conf.prompt_dir,
					a->conf.prompt_override, 0,
					ep_readable, a);
		if (err) {
			log_err(MOD, "media endpoints: %s", strerror(err));
			return err;
		}
	}
	s = mem_zalloc(sizeof(*s), NULL);
	if (!s)
		return ENOMEM;
	s->app = a;
	s->tag = ++a->next_tag;
	s->handle = info->handle;
	s->svc = info->svc;
	s->greet = info->greet;
	snprintf(s->mailbox, sizeof(s->mailbox), "%s", info->mailbox);
	snprintf(s->copies_of, sizeof(s->copies_of), "%s",
		 info->copies_of ? info->copies_of : "");
	snprintf(s->caller, sizeof(s->caller), "%s", info->caller);
	snprintf(s->caller_name, sizeof(s->caller_name), "%s",
		 info->caller_name ? info->caller_name : "");
	snprintf(s->src_ip, sizeof(s->src_ip), "%s", info->src_ip);
	s->own = info->svc == ROUTE_SVC_ACCESS && info->mailbox[0];
	vm_gate_open(s, info);   /* issue 13 */
	err = call_svc_ep_create(a->eps, s->tag, md, true, &s->ep, rtp_port);
	if (err) {
		a->st.refused++;
		mem_deref(s);
		return err;
	}
	s->ep_live = true;
	vs_init(&s->vs, a->eps, s->ep, s);
	/* the prompt set: the mailbox's (or caller's) language; a bad tag
	 * or a full queue leaves the default set */
	(void)endpoint_set_language(a->eps, s->ep, info->language);
	s->refs = 2;              /* the call, the endpoint */
	list_append(&a->sessions, &s->le, s);
	a->st.live++;
	*sessp = s;
	s->start_ms = call_unix_ms();
	if (s->svc == ROUTE_SVC_DEPOSIT || s->svc == ROUTE_SVC_PIVR)
		vm_load(s, s->mailbox, svc_loaded);
	else
		s->loaded = true;
	return 0;
}

/* Both the caller's ACK and the mailbox's settings are needed to start. */
static void maybe_start(struct vmsess *s)
{
	if (!s->answered || !s->loaded || s->closed)
		return;
	if (s->svc == ROUTE_SVC_DEPOSIT)
		vm_deposit_start(s);
	else if (s->svc == ROUTE_SVC_CALLPW || s->svc == ROUTE_SVC_PIVR)
		vm_gate_start(s);   /* issue 13 */
	else
		vm_access_start(s);
}

static void svc_loaded(struct vmsess *s)
{
	s->loaded = true;
	maybe_start(s);
}

static void svc_answered(void *sess, void *arg)
{
	struct vmsess *s = sess;

	(void)arg;
	s->answered = true;
	maybe_start(s);
}

static void svc_digit(void *sess, char d, void *arg)
{
	struct vmsess *s = sess;

	(void)arg;
	if (s->closed)
		return;
	if (s->recording) {
		/* a SIP INFO key ends a recording as an RTP one does */
		(void)endpoint_record_stop(s->app->eps, s->ep, true);
		return;
	}
	vs_info_digit(&s->vs, d);
}

static void svc_closed(void *sess, void *arg)
{
	struct vmsess *s = sess;

	(void)arg;
	if (s->closed)
		return;
	s->closed = true;
	vs_close(&s->vs);
	destroy_ep(s);
	/* a first login abandoned: what was recorded goes */
	if (s->first)
		vm_pending_drop(s);
	vm_release(s);
}

static const struct call_svc_ops ops = {
	.open = svc_open, .answered = svc_answered, .digit = svc_digit,
	.closed = svc_closed,
};

/* ---- endpoint events ---------------------------------------------------------------- */

static void on_event(const struct endpoint_event *ev, void *arg)
{
	struct vmsess *s = by_tag(arg, ev->tag);

	if (!s)
		return;
	switch (ev->type) {
	case ENDPOINT_EV_PLAY_DONE:
		vs_play_done(&s->vs, ev->end);
		break;
	case ENDPOINT_EV_RECORD_DONE:
		on_record_done(s, ev);
		if (s->rec_holds) {
			/* the endpoint's hold, kept for this event */
			s->rec_holds = false;
			vm_release(s);
		}
		break;
	case ENDPOINT_EV_DIGIT:
		if (!s->closed)
			on_digit(s, ev->digit);
		break;
	case ENDPOINT_EV_DESTROYED:
		s->ep_live = false;
		vs_ep_gone(&s->vs);
		/* a recording is finished (fsync, rename) after the endpoint
		 * is gone: its RECORD_DONE comes later and needs s */
		if (s->recording)
			s->rec_holds = true;
		else
			vm_release(s);
		break;
	default:
		break;
	}
}

static void ep_readable(int flags, void *arg)
{
	struct vmapp *a = arg;

	(void)flags;
	endpoint_events_poll(a->eps, on_event, a, 256);
}

static void work_readable(int flags, void *arg)
{
	struct vmapp *a = arg;

	(void)flags;
	vmwork_drain(a->work);
}

int vmapp_alloc(struct vmapp **ap, const struct vmapp_conf *conf)
{
	struct vmapp *a;
	int err;

	if (!ap || !conf || !conf->calls || !conf->store || !conf->vs)
		return EINVAL;
	a = mem_zalloc(sizeof(*a), NULL);
	if (!a)
		return ENOMEM;
	a->conf = *conf;
	list_init(&a->sessions);
	err = vmwork_alloc(&a->work, 1024);
	if (!err)
		err = fd_listen(vmwork_fd(a->work), FD_READ, work_readable, a);
	if (err) {
		vmwork_free(a->work, NULL);
		mem_deref(a);
		return err;
	}
	call_set_service(conf->calls, ROUTE_SVC_DEPOSIT, &ops, a);
	call_set_service(conf->calls, ROUTE_SVC_ACCESS, &ops, a);
	/* issue 13: the gates run on the same engine (vmgate.c) */
	call_set_service(conf->calls, ROUTE_SVC_CALLPW, &ops, a);
	call_set_service(conf->calls, ROUTE_SVC_PIVR, &ops, a);
	*ap = a;
	return 0;
}

/* A job dropped at shutdown: its argument only (sessions are freed by
 * vmapp_free itself). */
static void job_cancel(void *job)
{
	mem_deref(job);
}

/* Sessions still recording; their endpoints are destroyed (once). */
static bool recording_left(struct vmapp *a)
{
	bool any = false;

	for (struct le *le = list_head(&a->sessions); le; le = le->next) {
		struct vmsess *s = le->data;

		if (!s->recording)
			continue;
		destroy_ep(s);
		s->ep_live = false;   /* destroy only once */
		any = true;
	}
	return any;
}

struct vmapp *vmapp_free(struct vmapp *a)
{
	struct le *le;

	if (!a)
		return NULL;
	call_set_service(a->conf.calls, ROUTE_SVC_DEPOSIT, NULL, NULL);
	call_set_service(a->conf.calls, ROUTE_SVC_ACCESS, NULL, NULL);
	call_set_service(a->conf.calls, ROUTE_SVC_CALLPW, NULL, NULL);
	call_set_service(a->conf.calls, ROUTE_SVC_PIVR, NULL, NULL);
	for (le = list_head(&a->sessions); le; le = le->next) {
		struct vmsess *s = le->data;

		if (!s->closed) {
			s->closed = true;
			call_svc_hangup(a->conf.calls, s->handle);
		}
		vs_close(&s->vs);
	}
	/* a message being recorded is finished and saved: its endpoint is
	 * destroyed, its RECORD_DONE awaited (at most 2 s) and handled, so
	 * that the save job is queued before the worker stops */
	for (int i = 0; a->eps && i < 100 && recording_left(a); i++) {
		struct pollfd p = {
			.fd = endpoint_event_fd(a->eps), .events = POLLIN,
		};

		if (poll(&p, 1, 20) > 0)
			endpoint_events_poll(a->eps, on_event, a, 256);
	}
	/* the worker finishes what it was given (a message being saved is
	 * saved), then stops */
	fd_close(vmwork_fd(a->work));
	vmwork_free(a->work, job_cancel);
	if (a->eps) {
		fd_close(endpoint_event_fd(a->eps));
		a->eps = endpoint_free(a->eps);
	}
	while ((le = list_head(&a->sessions))) {
		struct vmsess *s = le->data;

		list_unlink(le);
		mem_deref(s->msgs);
		mem_deref(s);
	}
	mem_deref(a->boxes);
	mem_deref(a);
	return NULL;
}

static bool has_number(const struct snapshot *snap, const char *n)
{
	for (size_t i = 0; i < snap->n_ext; i++)
		if (!strcmp(snap->ext[i].number, n))
			return true;
	return false;
}

void vmapp_snapshot(struct vmapp *a, const struct snapshot *snap)
{
	char (*now)[VM_NUM_MAX], (*gone)[VM_NUM_MAX];
	size_t n = 0, ng = 0;

	if (!a || !snap)
		return;
	now = mem_zalloc((snap->n_ext + 1) * VM_NUM_MAX, NULL);
	gone = mem_zalloc((a->n_boxes + 1) * VM_NUM_MAX, NULL);
	if (!now || !gone) {
		mem_deref(now);
		mem_deref(gone);
		return;
	}
	for (size_t i = 0; i < snap->n_ext; i++)
		snprintf(now[n++], VM_NUM_MAX, "%s", snap->ext[i].number);
	/* a deleted extension: its mailbox goes; one whose voicemail was
	 * only switched off keeps its messages */
	for (size_t i = 0; a->seen_snap && i < a->n_boxes; i++)
		if (!has_number(snap, a->boxes[i]))
			snprintf(gone[ng++], VM_NUM_MAX, "%s", a->boxes[i]);
	vm_boxes_remove(a, (const char (*)[VM_NUM_MAX])gone, ng);
	mem_deref(gone);
	mem_deref(a->boxes);
	a->boxes = now;
	a->n_boxes = n;
	a->seen_snap = true;
}

void vmapp_stats(const struct vmapp *a, struct vmapp_stats *st)
{
	if (!a) {
		memset(st, 0, sizeof(*st));
		return;
	}
	*st = a->st;
}
