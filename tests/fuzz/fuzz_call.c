/*
 * fuzz_call — libFuzzer target for the call layer (src/call/) fed by
 * untrusted SIP: a socket-less sipd with three extensions registered
 * (201 at A, 202 at B, 203 at C), the registrar and the call application
 * with a small relay range on 127.0.0.1. The input is a script of SIP
 * messages, each sent by one of the phones, with placeholders for what
 * the daemon sent them (fuzz_call_msg.c), so that a fuzzed dialogue gets
 * through the 407 into live calls: B legs rung, answered, re-INVITEd,
 * hung up, from either side, with wrong tags, CSeqs and SDP.
 *
 * Script: sections separated by lines starting with "----"; the rest of
 * that line says who sends the section: A, B, C or X over UDP, a, b, c or
 * x over TCP, or "T<ms>": that much time passes (the transaction tables'
 * and libre's timers due within it run), or "O": the PBX places a call
 * (camp-on's callback: 201 rung first, then 202). Bytes before the first separator
 * are sent by A. Each input starts from a fresh daemon and ends an hour
 * later; every message the daemon sends must parse (requests must pass
 * our own checks), every SDP it sends must name only the relay, and at
 * the end the transaction tables are empty, no call rings any more,
 * ending the calls frees every relay port, every call left exactly one
 * well-formed CDR, and no timer outlives its owner.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "call/call_int.h"   /* the libre parts, before re_main.h */
#include <re_main.h>
#include "common/log.h"
#include "media/sdp.h"
#include "model/model.h"
#include "sip/sipd_int.h"
#include "store/snapshot.h"
#include "voicemail/mwi.h"
#include "fuzz_call.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_cleanup(void);
/* libre's timer list of this thread: exported by libre 1.1.0 but not in
 * its headers; the harness fires timers from it to let time pass. */
struct list *tmrl_get(void);

#define RTP_SPAN 16          /* four relay sessions */
#define MAX_CALLS 5
#define MAX_SECTIONS 64
#define MAX_STEP_MS 200000   /* one "T" section */
#define FIRES_PER_STEP 32    /* libre timers fired per step */
#define SETTLE_STEPS 12      /* steps of the hour after an input */

static const struct phone {
	const char *ip;
	uint16_t port;
	const char *user, *pw;
	bool reg;
} phones[FC_PEERS] = {
	{ "127.0.0.5", 5062, "201", "Xq7mPz9kLw2R", true },
	{ "127.0.0.6", 5064, "202", "Rt5hGv8nQe3W", true },
	{ "127.0.0.7", 5066, "203", "Kq7vRz2mWp9x", true },
	{ "127.0.0.9", 5070, "201", "Xq7mPz9kLw2R", false },
};

static struct {
	struct sipd *sd;
	struct registrar *reg;
	struct call_app *app;
	struct mwi *mwi;     /* SUBSCRIBE through the call layer's hook */
	struct sa addr[FC_PEERS];
	struct sa laddr;     /* "ours": the sipd's */
	char ha1[FC_PEERS][33];
	struct fc_cred cred[FC_PEERS];
	struct fc_seen seen[FC_PEERS];
	uint32_t nc;
	uint16_t rtp_min, rtp_max;
	size_t cdrs;
	unsigned timers;     /* libre timers running without the calls */
	bool trace;   /* FUZZ_CALL_TRACE set: print the dialogue */
} w;

static void trace(const char *dir, const struct sa *peer, const char *buf,
		  size_t len)
{
	int p = -1;

	for (int i = 0; i < FC_PEERS; i++)
		if (sa_cmp(&w.addr[i], peer, SA_ADDR))
			p = i;
	fprintf(stderr, "%s %c\n%.*s\n", dir, p >= 0 ? "ABCX"[p] : '?',
		(int)len, buf);
}

static void die(const char *what, const char *buf, size_t len)
{
	fprintf(stderr, "fuzz_call: %s\n", what);
	if (buf)
		fprintf(stderr, "%.*s\n", (int)(len > 4000 ? 4000 : len), buf);
	abort();
}

/* ---- the daemon's side ------------------------------------------------ */

static void ext_set(struct snap_ext *x, const char *num, const char *pw,
		    const char *name, uint8_t c1, uint8_t c2)
{
	memset(x, 0, sizeof(*x));
	snprintf(x->number, sizeof(x->number), "%s", num);
	snprintf(x->name, sizeof(x->name), "%s", name);
	x->type = MODEL_SIP;
	x->auth = pw != NULL;
	if (pw) {
		auth_digest_ha1(AUTH_ALG_MD5, num, "bulwark", pw, x->ha1_md5,
				sizeof(x->ha1_md5));
		x->algs_pref[0] = AUTH_ALG_MD5;
		x->vm = x->mwi = true;   /* a mailbox with its lamp */
	}
	x->max_contacts = 3;
	x->nat = true;
	x->transports = SNAP_TP_UDP | SNAP_TP_TCP;
	x->limit_in = 2;
	x->limit_out = 2;
	x->codecs[0] = c1;
	x->codecs[1] = c2;
	x->n_codecs = 2;
}

static struct snapshot *fake_snapshot(void)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	struct snap_features *feat = calloc(1, sizeof(*feat));
	struct snap_feat *fwd = calloc(1, sizeof(*fwd));

	if (!s || !feat || !fwd || !(s->ext = calloc(4, sizeof(*s->ext))))
		abort();
	/* the sipd's reference: a call takes one more (0, as calloc leaves
	 * it, would be freed by the first call's end) */
	atomic_init(&s->refs, 1);
	s->version = 1;
	strcpy(s->realm, "bulwark");
	s->n_ext = 4;
	ext_set(&s->ext[0], "201", phones[FC_A].pw, "Ada",
		SNAP_CODEC_ULAW, SNAP_CODEC_ALAW);
	ext_set(&s->ext[1], "202", phones[FC_B].pw, "Bob",
		SNAP_CODEC_ALAW, SNAP_CODEC_ULAW);
	ext_set(&s->ext[2], "203", phones[FC_C].pw, "Cy",
		SNAP_CODEC_G722, SNAP_CODEC_ULAW);
	ext_set(&s->ext[3], "600", NULL, "Voicemail", SNAP_CODEC_ULAW, 0);
	s->ext[3].type = MODEL_VOICEMAIL;
	/* caller ID (issue 13): 201's phone may name itself (its From
	 * display); 202's phone gets PAI and an Alert-Info; 203's RPID and
	 * a custom internal caller ID when it calls */
	s->ext[0].cid_override = true;
	s->ext[1].send_pai = true;
	s->ext[2].send_rpid = true;
	{
		struct snap_cid *c1 = calloc(1, sizeof(*c1));
		struct snap_cid *c2 = calloc(1, sizeof(*c2));

		if (!c1 || !c2)
			abort();
		atomic_init(&c1->refs, 1);
		strcpy(c1->alert_info, "<http://x.invalid>;info=alert-autoanswer");
		s->ext[1].cid = c1;
		atomic_init(&c2->refs, 1);
		c2->k[SNAP_CID_INTERNAL].custom = true;
		strcpy(c2->k[SNAP_CID_INTERNAL].name, "Reception");
		strcpy(c2->k[SNAP_CID_INTERNAL].number, "2000");
		s->ext[2].cid = c2;
	}
	/* 203 has no mailbox: its busy and no-answer end the call (486,
	 * 480); 202's go to voicemail (deposit), as does 600 */
	s->ext[2].vm = s->ext[2].mwi = false;
	/* ... but after 20 s of ringing it forwards to 600 (a deposit
	 * reached through a forward) */
	atomic_init(&fwd->refs, 1);
	strcpy(fwd->fwd[SNAP_FWD_NOANSWER], "600");
	s->ext[2].feat = fwd;
	s->ext[2].ring_time = 20;
	/* mailbox access (no classes of service: every code allowed) */
	strcpy(feat->code[SNAP_FEAT_VOICEMAIL], "*97");
	strcpy(feat->code[SNAP_FEAT_VOICEMAIL_LOGIN], "*98");
	/* camp-on: *82 and *82<number>; 202 lets callers camp on it */
	strcpy(feat->code[SNAP_FEAT_CAMP_ON], "*82");
	s->ext[1].camp_on = true;
	s->typed_sec[0] = (struct snap_typed){ "features", feat };
	s->n_typed = 1;
	s->sections = json_pack("{s:{s:i}}", "sip", "min_expires", 60);
	return s;
}

static bool relay_only(const struct sdp_conn *c)
{
	return !c->set || c->hold ||
		(c->af == SDP_AF_IP4 && c->addr.l == 9 &&
		 !memcmp(c->addr.p, "127.0.0.1", 9));
}

/* An offer or answer we send names the relay and its ports only. An INFO
 * is relayed as it came, whatever its Content-Type says. */
static void check_sdp(const struct sipmsg *m, const char *buf, size_t len)
{
	static struct sdp sdp;
	const struct sipmsg_hdr *ct = sipmsg_hdr(m, SH_CTYPE);

	if (!m->body.l || !ct || ct->val.l < 15 ||
	    strncasecmp(ct->val.p, "application/sdp", 15) ||
	    sipmsg_eq(m->req ? &m->met : &m->cseq_met, "INFO"))
		return;
	if (sdp_parse(&sdp, m->body.p, m->body.l, SDP_SERVE_IP4, NULL))
		die("we sent an SDP body our parser refuses", buf, len);
	if (!relay_only(&sdp.conn))
		die("we sent an SDP naming another address", buf, len);
	for (size_t i = 0; i < sdp.n_media; i++) {
		const struct sdp_media *md = &sdp.media[i];

		if (!relay_only(&md->conn) ||
		    (md->port && (md->port < w.rtp_min || md->port > w.rtp_max)))
			die("we sent an SDP with a port not the relay's", buf,
			    len);
	}
}

static bool names(const struct leg *l, const struct sipmsg *m)
{
	return l && l->dlg.callid && strlen(l->dlg.callid) == m->callid.l &&
		!memcmp(l->dlg.callid, m->callid.p, m->callid.l) &&
		strlen(l->dlg.ltag) == m->from.tag.l &&
		!memcmp(l->dlg.ltag, m->from.tag.p, m->from.tag.l);
}

/* A BYE we send hangs up a call that ends (call_end marks it ending
 * first) or a leg that is no longer in it, never a party of a call that
 * goes on. */
static void check_bye(const struct sipmsg *m, const char *buf, size_t len)
{
	if (!w.app || !sipmsg_eq(&m->met, "BYE"))
		return;
	for (struct le *le = list_head(&w.app->calls); le; le = le->next) {
		const struct call *c = le->data;

		if (c->state == CALL_ANSWERED &&
		    (names(c->a, m) || names(c->win, m)))
			die("we hung up a party of a call that goes on", buf,
			    len);
	}
}

static int phone_at(const struct sa *dst)
{
	for (int i = 0; i < FC_PEERS; i++)
		if (sa_cmp(&w.addr[i], dst, SA_ADDR))
			return i;
	return -1;
}

static bool keepalive(const char *buf, size_t len)
{
	if (!len || len > 4)
		return false;
	for (size_t i = 0; i < len; i++)
		if (buf[i] != '\r' && buf[i] != '\n')
			return false;
	return true;
}

/* Everything the daemon sends: it must be a message our own parser reads
 * back whole; what each phone is sent is learnt for the placeholders. */
static void out(enum sipd_tp tp, const struct sa *dst, const char *buf,
		size_t len, void *arg)
{
	static struct sipmsg m;
	const char *why;
	int p;

	(void)tp;
	(void)arg;
	if (w.trace)
		trace("<<<< to", dst, buf, len);
	if (keepalive(buf, len))
		return;   /* the registrar's, to a NAT binding */
	if (len < 12 || sipmsg_parse(&m, buf, len, true) || m.rl_bad ||
	    m.hdr_bad || m.clen_bad || m.total != len)
		die("we sent a message our parser refuses", buf, len);
	if (m.req ? sipmsg_check(&m, &why) != 0 :
	    m.scode < 100 || m.scode > 699)
		die("we sent a request our checks refuse", buf, len);
	if (!m.req && sipmsg_check_response(&m))
		return;   /* e.g. an answer to an RFC 2543 request */
	check_sdp(&m, buf, len);
	if (m.req)
		check_bye(&m, buf, len);
	p = phone_at(dst);
	if (p >= 0)
		fc_learn(&w.seen[p], &m);
}

static bool one_of(const char *s, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, set[i]))
			return true;
	return false;
}

static void on_cdr(const struct cdr_rec *r, void *arg)
{
	static const char *const disp[] = { "answered", "busy", "noanswer",
		"unavailable", "cancelled", "rejected", "failed", "notfound" };
	static const char *const side[] = { "caller", "callee", "system" };
	const char *bad = NULL;

	(void)arg;
	if (!one_of(r->disposition, disp, 8))
		bad = "a CDR with an unknown disposition";
	else if (!one_of(r->hangup_side, side, 3))
		bad = "a CDR with an unknown hang-up side";
	else if (r->cause < 100 || r->cause > 699)
		bad = "a CDR whose cause is no SIP status";
	else if (!snapshot_find(sipd_snapshot(w.sd), r->caller,
				strlen(r->caller)))
		bad = "a CDR whose caller is no extension";
	else if ((r->answer_ms != 0) != !strcmp(r->disposition, "answered"))
		bad = "a CDR answered without an answer time, or not";
	if (bad)
		die(bad, r->disposition, strlen(r->disposition));
	w.cdrs++;
}

/* ---- the phones' side ------------------------------------------------- */

static void send_as(int who, bool tcp, const char *sec, size_t len)
{
	static char msg[SIPMSG_MAX_LEN];
	size_t n = fc_build(msg, sizeof(msg), sec, len, w.seen, who,
			    &w.cred[who], &w.nc), pos = 0, fl = 0;

	if (!n)
		return;
	if (w.trace)
		trace(">>>> from", &w.addr[who], msg, n);
	if (!tcp) {
		sipd_input(w.sd, SIPD_UDP, &w.addr[who], 0, msg, n);
		return;
	}
	while (pos < n && !sipmsg_frame(msg + pos, n - pos, &fl) && fl) {
		sipd_input(w.sd, SIPD_TCP, &w.addr[who], (uint64_t)who + 1,
			   msg + pos, fl);
		pos += fl;
	}
}

static void register_phone(int who)
{
	const struct phone *ph = &phones[who];
	const struct reg_binding *b[1];
	char m[1024];

	for (int i = 0; i < 2; i++) {
		int n = snprintf(m, sizeof(m),
			"REGISTER sip:bulwark SIP/2.0\n"
			"Via: SIP/2.0/UDP %s:%u;branch=z9hG4bKreg%d;rport\n"
			"Max-Forwards: 70\n"
			"From: <sip:%s@bulwark>;tag=r%s\n"
			"To: <sip:%s@bulwark>\n"
			"Call-ID: reg-%s\n"
			"CSeq: %d REGISTER\n"
			"Contact: <sip:%s@%s:%u>\n"
			"Expires: 3600\n%s"
			"Content-Length: 0\n\n", ph->ip, ph->port, i,
			ph->user, ph->user, ph->user, ph->user, i + 1,
			ph->user, ph->ip, ph->port, i ? "$AUTH\n" : "");

		send_as(who, false, m, (size_t)n);
	}
	if (registrar_contacts(w.reg, ph->user, sipd_now(w.sd), b, 1) != 1)
		die("harness: the phone did not register", ph->user, 3);
}

/* The first timer due by horizon not fired yet in this step (pointers
 * compared, never followed: a handler may free other timers). */
static struct tmr *due(struct list *tl, uint64_t horizon,
		       struct tmr *const *fired, size_t n)
{
	for (struct le *le = list_head(tl); le; le = le->next) {
		struct tmr *t = le->data;
		size_t i = 0;

		if (t->jfs > horizon)
			return NULL;
		while (i < n && fired[i] != t)
			i++;
		if (i == n)
			return t;
	}
	return NULL;
}

/* Time passes: the transaction timers due within ms run, and libre's
 * (ring, 2xx resend, the registrar's sweep), each at most once per step:
 * libre restarts a periodic timer from the real clock. */
static void advance(uint64_t ms)
{
	uint64_t horizon = tmr_jiffies() + ms;
	struct list *tl = tmrl_get();
	struct tmr *fired[FIRES_PER_STEP], *t;
	size_t n = 0;

	strans_tick(w.app->st, horizon);
	ctrans_tick(w.app->ct, horizon);
	while (n < FIRES_PER_STEP && (t = due(tl, horizon, fired, n))) {
		fired[n++] = t;
		tmr_start(t, 0, t->th, t->arg);
		tmr_poll(tl);
	}
	call_tick_schedule(w.app);
}

/* The stack and the registrar with the phones registered: kept from one
 * input to the next (they are the costly part) unless an input may have
 * changed the bindings (it names REGISTER). */
static void stack_up(void)
{
	if (w.sd)
		return;
	if (sipd_alloc_offline(&w.sd, fake_snapshot(), out, NULL) ||
	    registrar_alloc(&w.reg, w.sd, NULL))
		abort();
	sipd_set_clock(w.sd, 1700000000);
	sipd_set_laddr(w.sd, &w.laddr);
	memset(w.seen, 0, sizeof(w.seen));
	for (int i = 0; i < FC_PEERS; i++)
		if (phones[i].reg)
			register_phone(i);
}

static void stack_down(void)
{
	registrar_close(w.reg);
	w.reg = NULL;
	sipd_close(w.sd);
	w.sd = NULL;
	if (list_head(tmrl_get()))
		die("a timer outlived its owner", NULL, 0);
}

static bool names_register(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i + 8 <= size; i++)
		if (!strncasecmp((const char *)data + i, "register", 8))
			return true;
	return false;
}

/* A fresh call application for every input. */
static void calls_up(void)
{
	struct call_conf cc;

	memset(w.seen, 0, sizeof(w.seen));
	w.nc = 0;
	w.cdrs = 0;
	w.timers = list_count(tmrl_get());
	memset(&cc, 0, sizeof(cc));
	cc.cdrh = on_cdr;
	cc.rtp_addr = "127.0.0.1";
	cc.rtp_min = w.rtp_min;
	cc.rtp_max = w.rtp_max;
	cc.max_calls = MAX_CALLS;
	if (call_alloc(&w.app, w.sd, w.reg, &cc))
		die("harness: call_alloc failed", NULL, 0);
	if (mwi_alloc(&w.mwi, w.sd, w.app, w.reg))
		die("harness: mwi_alloc failed", NULL, 0);
	fc_svc_up(w.app, w.rtp_min, w.rtp_max);
}

static void calls_down(void)
{
	int total = 0, nfree = 0;
	struct fc_svc_count sv;
	uint64_t calls;
	struct le *le;
	json_t *st;

	/* an hour later: every transaction has ended, nothing rings */
	for (int k = 1; k <= SETTLE_STEPS; k++)
		advance((uint64_t)k * 3600000 / SETTLE_STEPS);
	if (strans_count(w.app->st) || ctrans_count(w.app->ct))
		die("a transaction outlived the hour", NULL, 0);
	for (le = list_head(&w.app->calls); le; le = le->next)
		if (((struct call *)le->data)->state != CALL_ANSWERED)
			die("a call still rings (or is ending) after an hour",
			    NULL, 0);
	while ((le = list_head(&w.app->calls))) {
		struct call *c = le->data;

		call_end(c, "answered", 200, "system", "fuzz teardown");
		if (list_head(&w.app->calls) == le)
			die("call_end left the call in the list", NULL, 0);
	}
	/* every session the service opened ended once */
	fc_svc_down(&sv);
	if (w.trace)
		fprintf(stderr, "service: %u opened, %u refused, %u answered, "
			"%u digits, %u closed, %u hung up by it\n", sv.opens,
			sv.refused, sv.answered, sv.digits, sv.closed,
			sv.hungup);
	st = call_stats(w.app);
	if (w.app->n_calls || !st ||
	    json_unpack(st, "{s:{s:i,s:i}}", "relay", "ports_free", &nfree,
			"ports_total", &total) || nfree != total || !total)
		die("the relay's ports did not all come back", NULL, 0);
	json_decref(st);
	calls = w.app->c_total;
	w.mwi = mwi_free(w.mwi);
	call_close(w.app);
	w.app = NULL;
	if (w.cdrs != calls)
		die("not one CDR per call", NULL, 0);
	if (list_count(tmrl_get()) != w.timers)
		die("the call layer left a timer running", NULL, 0);
}

/* ---- the script --------------------------------------------------------- */

static void init(void)
{
	unsigned base = 10000 + (unsigned)(getpid() % 1000) * RTP_SPAN;

	if (libre_init())
		abort();
	w.trace = getenv("FUZZ_CALL_TRACE") != NULL;
	log_setup(w.trace ? LOG_LVL_DEBUG : LOG_LVL_ERR, 0);
	w.rtp_min = (uint16_t)base;
	w.rtp_max = (uint16_t)(base + RTP_SPAN - 1);
	if (sa_set_str(&w.laddr, "127.0.0.1", 5060))
		abort();
	for (int i = 0; i < FC_PEERS; i++) {
		if (sa_set_str(&w.addr[i], phones[i].ip, phones[i].port) ||
		    auth_digest_ha1(AUTH_ALG_MD5, phones[i].user, "bulwark",
				    phones[i].pw, w.ha1[i], sizeof(w.ha1[i])))
			abort();
		w.cred[i].user = phones[i].user;
		w.cred[i].ha1 = w.ha1[i];
	}
}

/* Offset of the next line starting with "----" at or after i (len if
 * none). */
static size_t next_sep(const char *in, size_t len, size_t i)
{
	for (; i + 4 <= len; i++)
		if ((i == 0 || in[i - 1] == '\n') && !memcmp(in + i, "----", 4))
			return i;
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char senders[] = "ABCXabcx";
	const char *in = (const char *)data;
	size_t i = 0, sections = 0;
	int who = FC_A;
	bool tcp = false;

	if (!w.rtp_min)
		init();
	stack_up();
	calls_up();
	while (i < size && sections++ < MAX_SECTIONS) {
		size_t j = next_sep(in, size, i), e;
		const char *d;

		if (j > i && who >= 0)
			send_as(who, tcp, in + i, j - i);
		if (j >= size)
			break;
		d = memchr(in + j, '\n', size - j);
		e = d ? (size_t)(d - in) + 1 : size;
		who = -1;
		if (j + 4 < e && in[j + 4] == 'T') {
			char num[8] = "";
			unsigned long ms;

			memcpy(num, in + j + 5, e - j - 5 < 7 ? e - j - 5 : 7);
			ms = strtoul(num, NULL, 10);
			advance(ms > MAX_STEP_MS ? MAX_STEP_MS : ms);
		}
		else if (j + 4 < e && memchr("FHhN", in[j + 4], 4)) {
			fc_svc_command(in[j + 4]);
		}
		else if (j + 4 < e && in[j + 4] == 'O' && w.app) {
			/* a call the PBX places (originate.c) */
			(void)call_originate(w.app, "201", "202",
					     ROUTE_R_CAMPON, NULL, 0, NULL);
		}
		else if (j + 4 < e) {
			const char *p = memchr(senders, in[j + 4], 8);

			if (p) {
				who = (int)(p - senders) % FC_PEERS;
				tcp = p - senders >= FC_PEERS;
			}
		}
		i = e;
	}
	calls_down();
	if (names_register(data, size))
		stack_down();
	return 0;
}

void fuzz_cleanup(void)
{
	if (w.sd)
		stack_down();
	if (w.rtp_min)
		libre_close();
}
