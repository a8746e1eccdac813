/*
 * moh — music on hold (issue 13; docs/admin/calls.md "Music on hold").
 *
 * When a party of an answered call holds it (a re-INVITE or UPDATE whose
 * offer is sendonly, inactive or c=0.0.0.0), the PBX answers the holder
 * itself (200, the description it had, "inactive": the holder stops
 * sending) and points the holder's side of the relay session at a media
 * endpoint (media/endpoint.h) that plays the holding extension's class
 * (user.moh_class; call/mohlib.h) file after file, in a loop. The held
 * party is not re-INVITEd: it goes on sending and receiving through the
 * relay as before and hears the music from the holder's ports. The
 * holder's next offer that is not a hold ends the music and goes to the
 * other party as usual (the relay's side moves back to the holder's
 * phone, re-learning when it is behind NAT).
 *
 * Only G.711 calls get music (the endpoint plays PCMU/PCMA); any other
 * codec, or no file at all, and the hold is relayed as before.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "call/call_int.h"   /* the libre parts, before re_main.h */
#include <re_main.h>
#include "call/mohlib.h"
#include "common/log.h"
#include "media/endpoint.h"
#include "store/snapshot.h"

static int side_of(const struct leg *l)
{
	return l->is_a ? 0 : 1;
}

static struct call *by_tag(struct call_app *app, uint64_t tag)
{
	for (struct le *le = list_head(&app->calls); le; le = le->next) {
		struct call *c = le->data;

		if (c->moh.live && c->moh.tag == tag)
			return c;
	}
	return NULL;
}

static void play_next(struct call *c)
{
	struct call_app *app = c->app;
	char path[ENDPOINT_PATH_MAX];
	bool fell;

	if (mohlib_path(app->mohlib, c->moh.cls, c->moh.idx, path,
			sizeof(path), &fell))
		return;
	(void)endpoint_play_file(app->moh_eps, c->moh.ep, path, false);
}

static void on_ep_event(const struct endpoint_event *ev, void *arg)
{
	struct call_app *app = arg;
	struct call *c;

	if (ev->type != ENDPOINT_EV_PLAY_DONE)
		return;
	c = by_tag(app, ev->tag);
	if (!c)
		return;
	if (ev->end == ENDPOINT_END_ERROR) {
		/* a file the endpoint refuses (not 8 kHz, not a WAV):
		 * skipped, and the loop gives up after a round of them */
		if (++c->moh.errs >= MOHLIB_MAX_FILES) {
			log_warn(MOD, "call %s: no music on hold file of "
				 "class '%s' plays: silence", c->id,
				 c->moh.cls);
			return;
		}
	}
	else if (ev->end == ENDPOINT_END_DONE) {
		c->moh.errs = 0;
	}
	else {
		return;     /* stopped, replaced: not ours to go on */
	}
	c->moh.idx++;
	play_next(c);
}

static void ep_readable(int flags, void *arg)
{
	struct call_app *app = arg;

	(void)flags;
	while (endpoint_events_poll(app->moh_eps, on_ep_event, app, 64) == 64)
		;
}

static int eps_open(struct call *c)
{
	struct call_app *app = c->app;
	struct endpoint_conf ec;
	int err;

	if (app->moh_eps)
		return 0;
	endpoint_conf_default(&ec);
	media_svc_addr(c, &ec.local);
	ec.src.take = relay_port_take;
	ec.src.give = relay_port_give;
	ec.src.arg = app->relay;
	err = endpoint_alloc(&app->moh_eps, &ec);
	if (err)
		return err;
	err = fd_listen(endpoint_event_fd(app->moh_eps), FD_READ, ep_readable,
			app);
	if (err)
		app->moh_eps = endpoint_free(app->moh_eps);
	return err;
}

/* Answer the request rq of leg l ourselves: 200 with body (SDP). */
static void answer(struct call *c, struct leg *l, struct sipd_req *rq,
		   struct strans_tx *tx, const char *body, size_t blen)
{
	struct call_app *app = c->app;
	struct saved_req s = { 0 };
	char *copy;
	size_t off;

	/* body may be app->body or c->sdp_to[]: a copy of its own, as
	 * call_respond and call_contact write the app's scratch buffers */
	copy = mem_alloc(blen ? blen : 1, NULL);
	if (!copy || saved_req_set(&s, rq, tx)) {
		mem_deref(copy);
		call_answer(app, rq, tx, 500, "Server Internal Error", NULL);
		return;
	}
	memcpy(copy, body, blen);
	off = call_contact(app, l, l->is_a ? c->callee : c->caller, 0);
	app->xbuf[off < sizeof(app->xbuf) ? off : 0] = '\0';
	(void)call_respond(app, &s, 200, "OK", app->xbuf, NULL, copy, blen);
	saved_req_clear(&s);
	mem_deref(copy);
}

static bool law_of(const struct call *c, enum g711_law *law)
{
	if (!strncasecmp(c->codec, "PCMU/", 5))
		*law = G711_ULAW;
	else if (!strncasecmp(c->codec, "PCMA/", 5))
		*law = G711_ALAW;
	else
		return false;
	return true;
}

static bool start(struct call *c, struct leg *h, struct sipd_req *rq,
		  struct strans_tx *tx)
{
	struct call_app *app = c->app;
	int side = side_of(h), err;
	const char *cls = h->x && h->x->moh_class[0] ? h->x->moh_class :
		"default";
	char path[ENDPOINT_PATH_MAX];
	struct endpoint_media em;
	struct relay_leg_conf lc;
	uint16_t port;
	uint32_t ep;
	size_t len;
	bool fell;

	memset(&em, 0, sizeof(em));
	if (!law_of(c, &em.law)) {
		log_info(MOD, "call %s: held; its codec (%s) is not G.711: "
			 "no music on hold, the hold is relayed", c->id,
			 c->codec);
		return false;
	}
	if (mohlib_path(app->mohlib, cls, 0, path, sizeof(path), &fell)) {
		log_warn(MOD, "call %s: held; no music on hold file (class "
			 "'%s', nor default): the hold is relayed", c->id,
			 cls);
		return false;
	}
	if (fell)
		log_info(MOD, "call %s: music on hold class '%s' has no file "
			 "(DATA/moh/%s): playing default", c->id, cls,
			 cls);
	err = eps_open(c);
	if (err) {
		log_warn(MOD, "call %s: music on hold: endpoints: %s", c->id,
			 strerror(err));
		return false;
	}
	media_svc_addr(c, &em.rtp);
	sa_set_port(&em.rtp, c->ports[side].rtp);
	em.te_pt = -1;
	c->moh.tag = app->next_id++;
	err = endpoint_create(app->moh_eps, c->moh.tag, &em, &ep, &port);
	if (err) {
		log_warn(MOD, "call %s: music on hold: endpoint: %s", c->id,
			 strerror(err));
		return false;
	}
	/* the holder's side now comes from the endpoint; its phone's RTCP
	 * (still sent while inactive) is accepted where it came from */
	memset(&lc, 0, sizeof(lc));
	media_svc_addr(c, &lc.rtp);
	sa_set_port(&lc.rtp, port);
	if (sa_isset(&c->st[side].rtcp_src, SA_ALL))
		lc.rtcp = c->st[side].rtcp_src;
	else
		sa_init(&lc.rtcp, AF_UNSPEC);
	sa_init(&lc.latch_from, AF_UNSPEC);
	lc.nat = false;
	/* what the holder's phone still sends (until our answer reaches
	 * it, or RTCP) is its own, not an injection */
	lc.hushed = h->sig;
	if (sa_isset(&c->st[side].rtp_src, SA_ADDR))
		lc.hushed = c->st[side].rtp_src;
	/* srtp (issue 15): the holder's relay contexts end here; it gets a
	 * fresh key of ours when it resumes (no index reused under one) */
	msrtp_rekey(c, side);
	if (media_dir_for(c, h, side, "inactive", &len) ||
	    relay_leg_set(app->relay, c->relay_id, side ? RELAY_LEG_B :
			  RELAY_LEG_A, &lc)) {
		(void)endpoint_destroy(app->moh_eps, ep);
		return false;
	}
	c->moh.live = true;
	c->held = true;          /* as `bulwark calls` shows it */
	c->moh.holder = h;
	c->moh.ep = ep;
	c->moh.idx = 0;
	c->moh.errs = 0;
	snprintf(c->moh.cls, sizeof(c->moh.cls), "%s", fell ? "default" : cls);
	(void)endpoint_play_file(app->moh_eps, ep, path, false);
	answer(c, h, rq, tx, app->body, len);
	log_info(MOD, "call %s: %s holds: music on hold (class %s)", c->id,
		 h->x ? h->x->number : "?", c->moh.cls);
	return true;
}

void moh_stop(struct call *c)
{
	if (!c->moh.live)
		return;
	c->moh.live = false;
	c->held = false;
	if (c->app->moh_eps)
		(void)endpoint_destroy(c->app->moh_eps, c->moh.ep);
	log_info(MOD, "call %s: music on hold ends", c->id);
}

bool moh_indialog(struct call_app *app, struct sipd_req *rq,
		  struct strans_tx *tx, struct leg *l)
{
	const struct sipmsg *m = rq->m;
	struct call *c = l->call;
	bool held = false;
	size_t len;

	if (!m->body.l || sipmsg_eq(&m->met, "INFO") ||
	    media_offer_held(c, m->body.p, m->body.l, &held))
		return false;
	if (c->moh.live) {
		int side = side_of(l);

		if (l != c->moh.holder) {
			/* the held party's offer (a refresh, a hold of
			 * its own): it keeps what it has while the music
			 * plays */
			if (!c->sdp_to[side])
				return false;
			answer(c, l, rq, tx, c->sdp_to[side],
			       c->sdp_to_len[side]);
			return true;
		}
		if (held) {           /* the hold again (a refresh) */
			if (media_dir_for(c, l, side, "inactive", &len))
				return false;
			answer(c, l, rq, tx, app->body, len);
			return true;
		}
		moh_stop(c);          /* resumed: relayed as usual */
		return false;
	}
	if (!held || !app->mohlib || !c->relay_live || c->svc ||
	    c->state != CALL_ANSWERED)
		return false;
	return start(c, l, rq, tx);
}

int moh_open(struct call_app *app, const char *data_dir,
	     const char *default_dir)
{
	if (!data_dir)
		return 0;
	return mohlib_alloc(&app->mohlib, data_dir, default_dir, 0);
}

void moh_close(struct call_app *app)
{
	if (app->moh_eps) {
		fd_close(endpoint_event_fd(app->moh_eps));
		app->moh_eps = endpoint_free(app->moh_eps);
	}
	app->mohlib = mohlib_free(app->mohlib);
}
