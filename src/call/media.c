/*
 * media — a call's SDP and its relay session: the caller's offer parsed
 * (strict, media/sdp.c), its audio codecs cut to what both extensions
 * allow, one relay session per call (leg A = the caller's phone, leg B =
 * the callee's), every description rewritten so both phones send their
 * media to the relay; relay events (no media: the call ends; final
 * counters: the CDR).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <ctype.h>
#include <strings.h>

#include <sodium.h>

#include "call/call_int.h"   /* the libre parts, before re_main.h */
#include <re_main.h>
#include "common/log.h"
#include "media/sdp_crypto.h"   /* srtp (issue 15) */
#include "store/snapshot.h"

/* Families of descriptions we accept: the relay's. */
static unsigned serve(const struct call_app *app)
{
	return sa_af(&app->rtp_bind) == AF_INET6 ? SDP_SERVE_IP6 :
		SDP_SERVE_IP4;
}

static enum relay_leg side(const struct call *c, const struct leg *l)
{
	(void)c;
	return l->is_a ? RELAY_LEG_A : RELAY_LEG_B;
}

/* The first audio media we relay, or -1. */
static int audio_index(const struct sdp *sdp)
{
	for (size_t i = 0; i < sdp->n_media; i++)
		if (sdp->media[i].kind == SDP_KIND_AUDIO &&
		    sdp_media_relayable(sdp, i))
			return (int)i;
	return -1;
}

/* The codecs both extensions allow, in the caller's order. */
static void allowed(const struct call *c, struct sdp_codecs *out)
{
	const struct snap_ext *a = c->caller_x, *b = c->callee_x;

	out->n = 0;
	for (size_t i = 0; i < a->n_codecs && out->n < SDP_MAX_CODECS; i++)
		for (size_t j = 0; j < b->n_codecs; j++)
			if (a->codecs[i] == b->codecs[j] &&
			    snap_codec_sdp(a->codecs[i])) {
				out->name[out->n++] =
					snap_codec_sdp(a->codecs[i]);
				break;
			}
}

/* Where media i of sdp says to send RTP (and RTCP). */
static void remote(const struct sdp *sdp, int i, struct relay_leg_conf *lc)
{
	const struct sdp_conn *cn = sdp_media_conn(sdp, (size_t)i);
	const struct sdp_media *md = &sdp->media[i];

	sa_init(&lc->rtp, AF_UNSPEC);
	sa_init(&lc->rtcp, AF_UNSPEC);
	sa_init(&lc->hushed, AF_UNSPEC);
	lc->srtp_suite = 0;      /* srtp: msrtp_lc() sets the side's */
	if (!cn || cn->hold)
		return;
	if (cn->af == SDP_AF_IP4) {
		uint32_t v;

		memcpy(&v, cn->ip, 4);
		sa_set_in(&lc->rtp, ntohl(v), md->port);
	}
	else {
		sa_set_in6(&lc->rtp, cn->ip, md->port);
	}
	if (md->rtcp_port && !md->rtcp_mux) {
		lc->rtcp = lc->rtp;
		sa_set_port(&lc->rtcp, md->rtcp_port);
	}
}

/* Our address towards leg l's phone, as SDP writes it. */
static int our_addr(struct call *c, struct leg *l, char *out, size_t sz)
{
	struct sa la;

	if (!c->app->rtp_any)
		la = c->app->rtp_bind;
	else if (call_laddr(c->app, l, &la))
		return ENOENT;
	return re_snprintf(out, sz, "%j", &la) > 0 ? 0 : ENOSPC;
}

static int keep(char **dst, size_t *dlen, const char *p, size_t l)
{
	char *s = mem_alloc(l ? l : 1, NULL);

	if (!s)
		return ENOMEM;
	memcpy(s, p, l);
	mem_deref(*dst);
	*dst = s;
	*dlen = l;
	return 0;
}

/* Write sdp for leg l into app->body: relayed audio at the relay's ports
 * of that leg, every other media rejected. pts NULL keeps all. */
static int write_for(struct call *c, struct leg *l, const struct sdp *sdp,
		     const struct sdp_ptset *pts, size_t *len)
{
	struct call_app *app = c->app;
	enum relay_leg s = side(c, l);
	struct sdp_rewrite rw;
	char addr[64], cl[SDP_CRYPTO_LINE];
	int ai = audio_index(sdp), err;

	memset(&rw, 0, sizeof(rw));
	if (ai < 0 || our_addr(c, l, addr, sizeof(addr)))
		return EINVAL;
	rw.crypto = msrtp_line(c, s, cl, sizeof(cl));   /* srtp */
	rw.af = sa_af(&app->rtp_bind) == AF_INET6 ? SDP_AF_IP6 : SDP_AF_IP4;
	rw.addr = addr;
	rw.rtcp_mux = true;
	rw.media[ai].port = c->ports[s].rtp;
	rw.media[ai].rtcp_port = c->ports[s].rtcp;
	rw.media[ai].pts = pts;
	err = sdp_rewrite(app->body, sizeof(app->body), len, sdp, &rw,
			  &c->sdpl[s]);
	sodium_memzero(cl, sizeof(cl));
	if (err)
		return err;
	return keep(&c->sdp_to[s], &c->sdp_to_len[s], app->body, *len);
}

static bool sdp_body(const struct sipmsg *m)
{
	const struct sipmsg_hdr *ct = sipmsg_hdr(m, SH_CTYPE);

	return m->body.l && ct && ct->val.l >= 15 &&
		!strncasecmp(ct->val.p, "application/sdp", 15);
}

unsigned media_offer(struct call *c, const struct sipmsg *m,
		     const char **reason)
{
	struct call_app *app = c->app;
	struct relay_leg_conf lc;
	struct sdp_codecs allow;
	struct sdp sdp;
	struct sdp_err e;
	int ai, err;

	*reason = "Not Acceptable Here";
	/* an INVITE without an offer is refused: every call is anchored
	 * from its first offer (docs/internals/calls.md) */
	if (!sdp_body(m) || sdp_parse(&sdp, m->body.p, m->body.l, serve(app),
				      &e))
		return 488;
	ai = audio_index(&sdp);
	if (ai < 0)
		return 488;
	allowed(c, &allow);
	if (sdp_codecs_intersect(&sdp, (size_t)ai, &allow, true, &c->pts))
		return 488;
	if (msrtp_offer_in(c, c->a, &sdp, ai))          /* srtp */
		return 488;
	if (keep(&c->offer_a, &c->offer_a_len, m->body.p, m->body.l))
		return 500;
	if (sdp_leg_init(&c->sdpl[0]) || sdp_leg_init(&c->sdpl[1]))
		return 500;
	err = relay_session_create(app->relay, (uint64_t)app->next_id++,
				   &c->relay_id, c->ports);
	if (err) {
		*reason = "Service Unavailable";
		log_warn(MOD, "call %s: no relay ports: %s", c->id,
			 strerror(err));
		return 503;
	}
	c->relay_live = true;
	remote(&sdp, ai, &lc);
	msrtp_lc(c, RELAY_LEG_A, &lc);
	lc.nat = c->a->nat;
	lc.latch_from = c->a->sig;
	(void)relay_leg_set(app->relay, c->relay_id, RELAY_LEG_A, &lc);
	sodium_memzero(&lc, sizeof(lc));
	return 0;
}

int media_offer_for(struct call *c, struct leg *l, size_t *len)
{
	struct sdp sdp;

	if (!c->offer_a || sdp_parse(&sdp, c->offer_a, c->offer_a_len,
				     serve(c->app), NULL))
		return EINVAL;
	if (msrtp_offer_out(c, l, RELAY_LEG_B))         /* srtp */
		return EPERM;
	if (write_for(c, l, &sdp, &c->pts, len))
		return EINVAL;
	return keep(&c->offer_b, &c->offer_b_len, c->app->body, *len);
}

/* "PCMU/8000" of the first payload type of the answer's audio. */
static void codec_name(struct call *c, const struct sdp *sdp, int ai)
{
	const struct sdp_media *md = &sdp->media[ai];

	if (!md->n_pt)
		return;
	snprintf(c->codec, sizeof(c->codec), "%.*s/%u",
		 (int)(md->pt[0].name.l > 20 ? 20 : md->pt[0].name.l),
		 md->pt[0].name.p, md->pt[0].clock);
}

unsigned media_answer(struct call *c, struct leg *l, const struct sipmsg *m,
		      size_t *len)
{
	struct call_app *app = c->app;
	struct sdp offer, ans;
	struct relay_leg_conf lc;
	int ai;

	if (!sdp_body(m) || !c->offer_b ||
	    sdp_parse(&offer, c->offer_b, c->offer_b_len, serve(app), NULL) ||
	    sdp_parse(&ans, m->body.p, m->body.l, serve(app), NULL) ||
	    sdp_answer_check(&offer, &ans, NULL))
		return 488;
	ai = audio_index(&ans);
	if (ai < 0 || msrtp_answer_in(c, l, &ans, ai))  /* srtp */
		return 488;
	remote(&ans, ai, &lc);
	msrtp_lc(c, RELAY_LEG_B, &lc);
	lc.nat = l->nat;
	lc.latch_from = l->sig;
	(void)relay_leg_set(app->relay, c->relay_id, RELAY_LEG_B, &lc);
	sodium_memzero(&lc, sizeof(lc));
	codec_name(c, &ans, ai);
	if (write_for(c, c->a, &ans, NULL, len))
		return 488;
	return 0;
}

unsigned media_update(struct call *c, struct leg *from, const char *body,
		      size_t blen, bool offer, bool *hold, size_t *len)
{
	struct call_app *app = c->app;
	struct leg *to = from == c->a ? c->win : c->a;
	struct relay_leg_conf lc;
	struct sdp sdp;
	int ai;

	if (!to || !c->relay_live ||
	    sdp_parse(&sdp, body, blen, serve(app), NULL))
		return 488;
	ai = audio_index(&sdp);
	if (ai < 0)
		return 488;
	if (offer)
		*hold = sdp_media_held(&sdp, (size_t)ai);
	/* srtp: the sender's keys; an offer we pass on carries ours for
	 * the other side */
	if ((offer ? msrtp_offer_in(c, from, &sdp, ai) :
	     msrtp_answer_in(c, from, &sdp, ai)) ||
	    (offer && msrtp_offer_out(c, to, side(c, to))))
		return 488;
	remote(&sdp, ai, &lc);
	msrtp_lc(c, side(c, from), &lc);
	lc.nat = from->nat;
	lc.latch_from = from->sig;
	/* a held phone (c=0.0.0.0) keeps its learnt address */
	if (sa_isset(&lc.rtp, SA_ALL)) {
		(void)relay_leg_set(app->relay, c->relay_id, side(c, from),
				    &lc);
		if (from->nat)
			(void)relay_leg_relearn(app->relay, c->relay_id,
						side(c, from));
	}
	sodium_memzero(&lc, sizeof(lc));
	if (write_for(c, to, &sdp, offer ? &c->pts : NULL, len))
		return 488;
	return 0;
}

int media_offer_held(struct call *c, const char *body, size_t blen,
		     bool *held)
{
	struct sdp sdp;
	int ai;

	if (sdp_parse(&sdp, body, blen, serve(c->app), NULL))
		return EINVAL;
	ai = audio_index(&sdp);
	if (ai < 0)
		return EINVAL;
	*held = sdp_media_held(&sdp, (size_t)ai);
	return 0;
}

int media_active_for(struct call *c, struct leg *l, int side, size_t *len)
{
	return media_dir_for(c, l, side, NULL, len);
}

int media_dir_for(struct call *c, struct leg *l, int side, const char *dir,
		  size_t *len)
{
	struct call_app *app = c->app;
	struct sdp_rewrite rw;
	struct sdp sdp;
	char addr[64], cl[SDP_CRYPTO_LINE];
	int ai, err;

	if (!c->sdp_to[side] || sdp_parse(&sdp, c->sdp_to[side],
					  c->sdp_to_len[side], serve(app),
					  NULL))
		return EINVAL;
	ai = audio_index(&sdp);
	if (ai < 0 || our_addr(c, l, addr, sizeof(addr)) ||
	    msrtp_offer_out(c, l, side))                 /* srtp */
		return EINVAL;
	memset(&rw, 0, sizeof(rw));
	rw.af = sa_af(&app->rtp_bind) == AF_INET6 ? SDP_AF_IP6 : SDP_AF_IP4;
	rw.addr = addr;
	rw.crypto = msrtp_line(c, side, cl, sizeof(cl));
	rw.rtcp_mux = true;
	rw.sendrecv = true;
	rw.dir = dir;
	rw.media[ai].port = c->ports[side].rtp;
	rw.media[ai].rtcp_port = c->ports[side].rtcp;
	err = sdp_rewrite(app->body, sizeof(app->body), len, &sdp, &rw,
			  &c->sdpl[side]);
	sodium_memzero(cl, sizeof(cl));
	if (err)
		return err;
	return keep(&c->sdp_to[side], &c->sdp_to_len[side], app->body, *len);
}

unsigned media_xfer_answer(struct call *c, struct leg *l,
			   const struct sipmsg *m)
{
	struct relay_leg_conf lc;
	struct sdp ans;
	int ai, err;

	if (!c->relay_live || !sdp_body(m) ||
	    sdp_parse(&ans, m->body.p, m->body.l, serve(c->app), NULL))
		return 488;
	moh_stop(c);   /* the holder's side goes to the transfer target */
	ai = audio_index(&ans);
	if (ai < 0 || msrtp_answer_in(c, l, &ans, ai))  /* srtp */
		return 488;
	remote(&ans, ai, &lc);
	msrtp_lc(c, side(c, l), &lc);
	lc.nat = l->nat;
	lc.latch_from = l->sig;
	err = relay_leg_set(c->app->relay, c->relay_id, side(c, l), &lc);
	sodium_memzero(&lc, sizeof(lc));
	if (err)
		return 488;
	if (l->nat)
		(void)relay_leg_relearn(c->app->relay, c->relay_id,
					side(c, l));
	return 0;
}

void media_close(struct call *c)
{
	msrtp_wipe(c);                 /* srtp: no key outlives the media */
	if (!c->relay_live)
		return;
	(void)relay_session_destroy(c->app->relay, c->relay_id);
	c->relay_live = false;
}

static struct call *by_relay(struct call_app *app, uint32_t id)
{
	for (struct le *le = list_head(&app->calls); le; le = le->next) {
		struct call *c = le->data;

		if (c->relay_live && c->relay_id == id)
			return c;
	}
	return NULL;
}

static void on_event(const struct relay_event *ev, void *arg)
{
	struct call_app *app = arg;
	struct call *c;

	if (ev->type == RELAY_EV_DESTROYED) {
		/* srtp: totals of calls that ended (call_stats) */
		app->c_srtp_fail += ev->stats[0].srtp_auth_fail +
			ev->stats[1].srtp_auth_fail;
		app->c_srtp_replay += ev->stats[0].srtp_replay +
			ev->stats[1].srtp_replay;
		cdr_counters(app, ev->id, ev->stats);
		return;
	}
	c = by_relay(app, ev->id);
	if (!c)
		return;
	memcpy(c->st, ev->stats, sizeof(c->st));
	switch (ev->type) {
	case RELAY_EV_TIMEOUT:
		if (c->state != CALL_ANSWERED || c->held)
			return;
		app->c_timeout++;
		log_info(MOD, "call %s: no media for the timeout: ended",
			 c->id);
		call_end(c, "answered", 200, "system", "rtp timeout");
		return;
	case RELAY_EV_STRICT_DROP: {
		char a[64];

		app->c_strict_drop++;
		re_snprintf(a, sizeof(a), "%J", &ev->addr);
		call_event(app, "media_injection", json_pack(
			"{s:s,s:s,s:s,s:I}", "call", c->id,
			"leg", ev->leg == RELAY_LEG_A ? "caller" : "callee",
			"source", a, "dropped", (json_int_t)
			c->st[ev->leg].drop_source));
		return;
	}
	default:
		return;
	}
}

void media_events(int flags, void *arg)
{
	struct call_app *app = arg;

	(void)flags;
	while (relay_events_poll(app->relay, on_event, app, 64) == 64)
		;
}

/* ---- calls the PBX places (originate.c; camp-on, issue 13) -------------- */

int media_orig_offer(struct call *c, size_t *len)
{
	struct call_app *app = c->app;
	struct sdp_codecs allow;
	struct sdp sdp;
	char desc[768], addr[64], fmts[16] = "", maps[96] = "";
	const char *fam = sa_af(&app->rtp_bind) == AF_INET6 ? "IP6" : "IP4";
	int n, err;

	/* G.711 both extensions allow, in the first one's order: what a
	 * phone answers, the second one is offered (and services speak) */
	allowed(c, &allow);
	for (size_t i = 0; i < allow.n; i++) {
		int pt = !strcasecmp(allow.name[i], "PCMU/8000") ? 0 :
			!strcasecmp(allow.name[i], "PCMA/8000") ? 8 : -1;
		size_t fl = strlen(fmts), ml = strlen(maps);

		if (pt < 0)
			continue;
		(void)snprintf(fmts + fl, sizeof(fmts) - fl, "%d ", pt);
		(void)snprintf(maps + ml, sizeof(maps) - ml,
			       "a=rtpmap:%d %s\r\n", pt, pt ? "PCMA/8000" :
			       "PCMU/8000");
	}
	if (!fmts[0])
		return ENOTSUP;
	if (our_addr(c, c->a, addr, sizeof(addr)))
		return EINVAL;
	if (sdp_leg_init(&c->sdpl[0]) || sdp_leg_init(&c->sdpl[1]))
		return EIO;
	err = relay_session_create(app->relay, (uint64_t)app->next_id++,
				   &c->relay_id, c->ports);
	if (err)
		return err;
	c->relay_live = true;
	n = snprintf(desc, sizeof(desc), "v=0\r\no=- 0 0 IN %s %s\r\ns=-\r\n"
		     "c=IN %s %s\r\nt=0 0\r\nm=audio %u RTP/AVP %s101\r\n"
		     "%sa=rtpmap:101 telephone-event/8000\r\n"
		     "a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
		     fam, addr, fam, addr, c->ports[RELAY_LEG_A].rtp, fmts,
		     maps);
	if (n <= 0 || (size_t)n >= sizeof(desc) ||
	    sdp_parse(&sdp, desc, (size_t)n, serve(app), NULL))
		return EINVAL;
	if (msrtp_offer_out(c, c->a, RELAY_LEG_A))     /* srtp */
		return EPERM;
	/* written like every description towards the phone: our o= */
	return write_for(c, c->a, &sdp, NULL, len);
}

unsigned media_orig_answer(struct call *c, const struct sipmsg *m)
{
	struct call_app *app = c->app;
	struct relay_leg_conf lc;
	struct sdp_codecs allow;
	struct sdp offer, ans;
	int ai, err;

	if (!sdp_body(m) || !c->sdp_to[0] ||
	    sdp_parse(&offer, c->sdp_to[0], c->sdp_to_len[0], serve(app),
		      NULL) ||
	    sdp_parse(&ans, m->body.p, m->body.l, serve(app), NULL) ||
	    sdp_answer_check(&offer, &ans, NULL))
		return 488;
	ai = audio_index(&ans);
	if (ai < 0 || msrtp_answer_in(c, c->a, &ans, ai))  /* srtp */
		return 488;
	allowed(c, &allow);
	if (sdp_codecs_intersect(&ans, (size_t)ai, &allow, true, &c->pts))
		return 488;
	/* the B legs are offered what the first phone answered */
	if (keep(&c->offer_a, &c->offer_a_len, m->body.p, m->body.l))
		return 488;
	memset(&lc, 0, sizeof(lc));
	remote(&ans, ai, &lc);
	msrtp_lc(c, RELAY_LEG_A, &lc);
	lc.nat = c->a->nat;
	lc.latch_from = c->a->sig;
	err = relay_leg_set(app->relay, c->relay_id, RELAY_LEG_A, &lc);
	sodium_memzero(&lc, sizeof(lc));
	if (err)
		return 488;
	codec_name(c, &ans, ai);
	return 0;
}

/* ---- services: the relay's B side is a local endpoint ------------------ */

void media_svc_addr(const struct call *c, struct sa *out)
{
	const struct call_app *app = c->app;

	if (!app->rtp_any) {
		*out = app->rtp_bind;
		sa_set_port(out, 0);
		return;
	}
	if (sa_af(&app->rtp_bind) == AF_INET6)
		(void)sa_set_str(out, "::1", 0);
	else
		sa_set_in(out, INADDR_LOOPBACK, 0);
}

unsigned media_svc_pick(struct call *c, int *pt, int *te_pt)
{
	struct sdp sdp;
	int ai;

	*pt = -1;
	*te_pt = -1;
	if (!c->offer_a || sdp_parse(&sdp, c->offer_a, c->offer_a_len,
				     serve(c->app), NULL))
		return 488;
	ai = audio_index(&sdp);
	if (ai < 0)
		return 488;
	for (size_t i = 0; i < sdp.media[ai].n_pt; i++) {
		const struct sdp_pt *p = &sdp.media[ai].pt[i];

		if (!sdp_ptset_has(&c->pts, p->pt) || p->clock != 8000)
			continue;
		if (*pt < 0 && ((p->name.l == 4 &&
				 !strncasecmp(p->name.p, "PCMU", 4)) ||
				(p->name.l == 4 &&
				 !strncasecmp(p->name.p, "PCMA", 4))))
			*pt = toupper((unsigned char)p->name.p[3]) == 'U' ?
				0 : 8;
		if (*te_pt < 0 && p->pt >= 96 && p->name.l == 15 &&
		    !strncasecmp(p->name.p, "telephone-event", 15))
			*te_pt = p->pt;
	}
	return *pt < 0 ? 488 : 0;
}

unsigned media_svc_answer(struct call *c, const struct sa *ep, int pt,
			  int te_pt, size_t *len)
{
	struct call_app *app = c->app;
	struct relay_leg_conf lc;
	struct sdp offer, ans;
	char desc[2048], te[128] = "";
	const char *fam = sa_af(ep) == AF_INET6 ? "IP6" : "IP4";
	int ai, n, off;

	if (!c->offer_a || sdp_parse(&offer, c->offer_a, c->offer_a_len,
				     serve(app), NULL))
		return 488;
	ai = audio_index(&offer);
	if (ai < 0)
		return 488;
	if (te_pt >= 0)
		(void)snprintf(te, sizeof(te), "a=rtpmap:%d telephone-event/8000"
			       "\r\na=fmtp:%d 0-16\r\n", te_pt, te_pt);
	off = re_snprintf(desc, sizeof(desc), "v=0\r\no=- 1 1 IN %s %j\r\n"
			  "s=-\r\nc=IN %s %j\r\nt=0 0\r\n", fam, ep, fam, ep);
	if (off <= 0)
		return 488;
	/* the caller's m-lines in order: ours for the audio, the others
	 * refused (port 0, the formats as offered) */
	for (size_t i = 0; i < offer.n_media; i++) {
		const struct sdp_media *md = &offer.media[i];

		if ((int)i == ai) {
			char tp[16] = "";

			if (te_pt >= 0)
				(void)snprintf(tp, sizeof(tp), " %d", te_pt);
			n = snprintf(desc + off, sizeof(desc) - (size_t)off,
				     "m=audio %u RTP/AVP %d%s\r\n"
				     "a=rtpmap:%d %s/8000\r\n%s"
				     "a=ptime:20\r\na=sendrecv\r\n",
				     sa_port(ep), pt, tp, pt,
				     pt == 0 ? "PCMU" : "PCMA", te);
		}
		else {
			n = snprintf(desc + off, sizeof(desc) - (size_t)off,
				     "m=%.*s 0 %.*s %.*s\r\n",
				     (int)md->type.l, md->type.p,
				     (int)md->protos.l, md->protos.p,
				     (int)md->fmts.l, md->fmts.p);
		}
		if (n >= (int)sizeof(desc) - off)
			return 488;
		if (n <= 0)
			return 488;
		off += n;
	}
	if (sdp_parse(&ans, desc, (size_t)off, serve(app), NULL))
		return 488;
	memset(&lc, 0, sizeof(lc));
	remote(&ans, ai, &lc);
	lc.nat = false;
	sa_init(&lc.latch_from, AF_UNSPEC);
	if (relay_leg_set(app->relay, c->relay_id, RELAY_LEG_B, &lc))
		return 488;
	codec_name(c, &ans, ai);
	if (write_for(c, c->a, &ans, NULL, len))
		return 488;
	return 0;
}
