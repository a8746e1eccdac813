/*
 * campon — the camp-on application (campon.h): the *82 service (a short
 * confirmation on a media endpoint, then the PBX hangs up), the request
 * table (campon_tab.c), and the callbacks: every call that ends and a
 * one-second tick look at the waiting requests; a request whose callee
 * is free (no call at all) and whose caller is idle and registered gets
 * its callback (call_originate). One callback per callee at a time, the
 * oldest request first.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "call/call_int.h"
#include <re_main.h>
#include "call/campon.h"
#include "call/campon_tab.h"
#include "common/log.h"
#include "media/endpoint.h"
#include "media/prompt.h"
#include "media/relay.h"
#include "store/snapshot.h"

#define CAMPON_TICK_MS 1000
#define CAMPON_SOON_MS 200       /* after a call ended */
#define CAMPON_CONFIRM_MS 15000  /* a confirmation lasts at most this */
#define CAMPON_SESSIONS 32       /* confirmations at a time */

/* What the caller hears: taken, or not (table full). */
#define PROMPT_TAKEN "auth-thankyou"
#define PROMPT_FULL "please-try-call-later"

struct campon_stats {
	uint64_t taken, refused, expired, callbacks, connected;
};

struct campon {
	struct campon_conf conf;
	struct call_app *calls;
	struct campon_tab tab;
	struct endpoints *eps;
	struct list sess;
	unsigned n_sess;
	uint64_t next_tag;
	struct tmr tick;
	struct campon_stats st;
};

/* One confirmation call. */
struct cosess {
	struct le le;
	struct campon *cp;
	uint64_t tag, handle;
	uint32_t ep;
	bool ep_live, closed;
	const char *prompt;
	struct tmr tmr;
};

static void check(void *arg);

static void schedule(struct campon *cp, uint64_t ms)
{
	uint64_t left = tmr_get_expire(&cp->tick);

	if (!tmr_isrunning(&cp->tick) || left > ms)
		tmr_start(&cp->tick, ms, check, cp);
}

/* ---- the callbacks ------------------------------------------------------ */

static unsigned calls_of(struct campon *cp, const char *n)
{
	return call_calls_of(cp->calls, n, true) +
		call_calls_of(cp->calls, n, false);
}

static bool registered(struct campon *cp, const char *n)
{
	const struct reg_binding *b[1];

	return registrar_contacts(cp->calls->reg, n, sipd_now(cp->calls->sd),
				  b, 1) > 0;
}

static void done(uint64_t token, const struct orig_outcome *o, void *arg)
{
	struct campon *cp = arg;
	struct campon_req *r = campon_tab_get(&cp->tab, token);

	if (!r)
		return;
	if (o->b_busy) {
		/* busy again by the time the caller answered: wait again */
		log_info(MOD, "camp-on %s -> %s: busy again, waiting",
			 r->caller, r->callee);
		r->state = CAMPON_WAITING;
	}
	else {
		log_info(MOD, "camp-on %s -> %s: callback %s", r->caller,
			 r->callee, o->b_answered ? "connected" :
			 o->a_answered ? "not answered by the callee" :
			 "not answered by the caller: dropped");
		if (o->b_answered)
			cp->st.connected++;
		campon_tab_del(&cp->tab, token);
	}
	schedule(cp, CAMPON_SOON_MS);
}

static void check(void *arg)
{
	struct campon *cp = arg;
	const struct snapshot *s = sipd_snapshot(cp->calls->sd);
	uint64_t now = call_now_ms();
	unsigned n = campon_tab_expire(&cp->tab, now);

	if (n) {
		cp->st.expired += n;
		log_info(MOD, "camp-on: %u request(s) expired", n);
	}
	for (struct campon_req *r = campon_tab_next(&cp->tab, NULL); r;
	     r = campon_tab_next(&cp->tab, r)) {
		const struct snap_ext *b = snapshot_find(s, r->callee,
							 strlen(r->callee));

		if (!b || !b->camp_on ||
		    !snapshot_find(s, r->caller, strlen(r->caller))) {
			log_info(MOD, "camp-on %s -> %s: dropped (no longer "
				 "allowed)", r->caller, r->callee);
			campon_tab_del(&cp->tab, r->id);
			continue;
		}
		if (campon_tab_calling(&cp->tab, r->callee) ||
		    calls_of(cp, r->callee) || calls_of(cp, r->caller) ||
		    !registered(cp, r->caller) || !registered(cp, r->callee))
			continue;
		r->state = CAMPON_CALLING;
		cp->st.callbacks++;
		if (call_originate(cp->calls, r->caller, r->callee,
				   ROUTE_R_CAMPON, done, r->id, cp)) {
			log_warn(MOD, "camp-on %s -> %s: the callback could "
				 "not start: dropped", r->caller, r->callee);
			campon_tab_del(&cp->tab, r->id);
		}
	}
	if (campon_tab_count(&cp->tab))
		tmr_start(&cp->tick, CAMPON_TICK_MS, check, cp);
}

const char *campon_last_busy(const char *caller, void *arg)
{
	struct call_app *app = arg;

	if (!app || !app->campon)
		return NULL;
	return campon_tab_last_busy(&app->campon->tab, caller,
				    call_now_ms());
}

void campon_ended(struct campon *cp, const struct call *c)
{
	/* a caller who found the callee busy: *82 alone names it */
	if (!c->orig.live && c->disp && !strcmp(c->disp, "busy") &&
	    c->callee[0] && c->caller[0] && c->callee_x != c->caller_x)
		campon_tab_note_busy(&cp->tab, c->caller, c->callee,
				     call_now_ms());
	if (campon_tab_count(&cp->tab))
		schedule(cp, CAMPON_SOON_MS);
}

/* ---- the confirmation (the *82 service) --------------------------------- */

static void sess_free(struct cosess *x)
{
	tmr_cancel(&x->tmr);
	list_unlink(&x->le);
	x->cp->n_sess--;
	mem_deref(x);
}

static struct cosess *by_tag(struct campon *cp, uint64_t tag)
{
	for (struct le *le = list_head(&cp->sess); le; le = le->next) {
		struct cosess *x = le->data;

		if (x->tag == tag)
			return x;
	}
	return NULL;
}

/* The session is over: its endpoint goes, then the session. */
static void sess_close(struct cosess *x)
{
	x->closed = true;
	tmr_cancel(&x->tmr);
	if (x->ep_live)
		(void)endpoint_destroy(x->cp->eps, x->ep);
	else
		sess_free(x);
}

/* The PBX hangs up (the call layer does not call closed() then). */
static void hang_up(struct cosess *x)
{
	if (x->closed)
		return;
	call_svc_hangup(x->cp->calls, x->handle);
	sess_close(x);
}

static void too_long(void *arg)
{
	hang_up(arg);
}

static void on_event(const struct endpoint_event *ev, void *arg)
{
	struct campon *cp = arg;
	struct cosess *x = by_tag(cp, ev->tag);

	if (!x)
		return;
	switch (ev->type) {
	case ENDPOINT_EV_PLAY_DONE:
		/* said: the PBX hangs up */
		hang_up(x);
		break;
	case ENDPOINT_EV_DESTROYED:
		x->ep_live = false;
		if (x->closed)
			sess_free(x);
		break;
	default:
		break;
	}
}

static void ep_readable(int flags, void *arg)
{
	struct campon *cp = arg;

	(void)flags;
	endpoint_events_poll(cp->eps, on_event, cp, 64);
}

static int co_open(const struct call_svc_info *info,
		    const struct call_svc_media *md, uint16_t *rtp_port,
		    void **sessp, void *arg)
{
	struct campon *cp = arg;
	enum campon_add res;
	struct cosess *x;
	int err;

	if (cp->n_sess >= CAMPON_SESSIONS)
		return EBUSY;
	if (!cp->eps) {
		err = call_svc_eps_open(&cp->eps, cp->calls, md,
					cp->conf.prompt_dir,
					cp->conf.prompt_override,
					CAMPON_SESSIONS, ep_readable, cp);
		if (err) {
			log_err(MOD, "camp-on media endpoints: %s",
				strerror(err));
			return EIO;
		}
	}
	x = mem_zalloc(sizeof(*x), NULL);
	if (!x)
		return ENOMEM;
	x->cp = cp;
	x->tag = ++cp->next_tag;
	x->handle = info->handle;
	tmr_init(&x->tmr);
	err = call_svc_ep_create(cp->eps, x->tag, md, false, &x->ep,
				 rtp_port);
	if (err) {
		mem_deref(x);
		return err;
	}
	x->ep_live = true;
	list_append(&cp->sess, &x->le, x);
	cp->n_sess++;
	*sessp = x;
	res = campon_tab_add(&cp->tab, info->caller, info->callee,
			     call_now_ms(), NULL);
	if (res == CAMPON_ADDED || res == CAMPON_RENEWED) {
		cp->st.taken++;
		log_info(MOD, "camp-on %s -> %s: %s", info->caller,
			 info->callee, res == CAMPON_ADDED ? "taken" :
			 "asked again");
		schedule(cp, CAMPON_TICK_MS);
	}
	else {
		cp->st.refused++;
		log_info(MOD, "camp-on %s -> %s: refused (%s)", info->caller,
			 info->callee, res == CAMPON_CALLER_FULL ?
			 "the caller's requests are at the bound" :
			 res == CAMPON_FULL ? "the table is full" :
			 "bad numbers");
	}
	x->prompt = res == CAMPON_ADDED || res == CAMPON_RENEWED ?
		PROMPT_TAKEN : PROMPT_FULL;
	return 0;
}

static void co_answered(void *sess, void *arg)
{
	struct cosess *x = sess;

	(void)arg;
	if (x->closed)
		return;
	tmr_start(&x->tmr, CAMPON_CONFIRM_MS, too_long, x);
	if (endpoint_play_prompt(x->cp->eps, x->ep, x->prompt, false))
		hang_up(x);
}

static void co_digit(void *sess, char d, void *arg)
{
	(void)sess;
	(void)d;
	(void)arg;
}

static void co_closed(void *sess, void *arg)
{
	(void)arg;
	sess_close(sess);
}

static const struct call_svc_ops ops = {
	.open = co_open, .answered = co_answered, .digit = co_digit,
	.closed = co_closed,
};

/* ---- the application ---------------------------------------------------- */

int campon_alloc(struct campon **cpp, const struct campon_conf *conf)
{
	struct campon *cp;

	if (!cpp || !conf || !conf->calls)
		return EINVAL;
	cp = mem_zalloc(sizeof(*cp), NULL);
	if (!cp)
		return ENOMEM;
	cp->conf = *conf;
	cp->calls = conf->calls;
	campon_tab_init(&cp->tab, conf->max, conf->per_caller,
			conf->expiry_s, conf->last_s);
	list_init(&cp->sess);
	tmr_init(&cp->tick);
	call_set_service(conf->calls, ROUTE_SVC_CAMPON, &ops, cp);
	conf->calls->campon = cp;
	*cpp = cp;
	return 0;
}

struct campon *campon_free(struct campon *cp)
{
	struct le *le;

	if (!cp)
		return NULL;
	call_set_service(cp->calls, ROUTE_SVC_CAMPON, NULL, NULL);
	cp->calls->campon = NULL;
	tmr_cancel(&cp->tick);
	/* callbacks under way go on without us (call_close ends them) */
	for (le = list_head(&cp->calls->calls); le; le = le->next) {
		struct call *c = le->data;

		if (c->orig.live && c->orig.arg == cp)
			c->orig.doneh = NULL;
	}
	for (le = list_head(&cp->sess); le;) {
		struct cosess *x = le->data;

		le = le->next;
		hang_up(x);
	}
	if (cp->eps) {
		fd_close(endpoint_event_fd(cp->eps));
		cp->eps = endpoint_free(cp->eps);
	}
	while ((le = list_head(&cp->sess)))
		sess_free(le->data);
	mem_deref(cp);
	return NULL;
}

json_t *campon_status(const struct campon *cp)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}",
			 "requests", (json_int_t)campon_tab_count(&cp->tab),
			 "taken", (json_int_t)cp->st.taken,
			 "refused", (json_int_t)cp->st.refused,
			 "expired", (json_int_t)cp->st.expired,
			 "callbacks", (json_int_t)cp->st.callbacks,
			 "connected", (json_int_t)cp->st.connected);
}
