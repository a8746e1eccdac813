/*
 * test_mwi — MWI (src/voicemail/): the pure parts (the message-summary
 * body, the Event and Accept values of a SUBSCRIBE, the Expires rule),
 * then the service on an offline stack (sipd without sockets, the
 * registrar, the call layer and its subscribe hook): counts pushed with
 * mwi_set reach a subscriber as NOTIFYs (one in flight at a time), a
 * phone without subscription as unsolicited NOTIFYs, expiry ends a
 * subscription with a terminated NOTIFY. The protocol against the daemon:
 * tests/integration/test_mwi.py.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "registrar/registrar.h"   /* the libre parts */
#include <re_main.h>

#include "auth/auth.h"
#include "call/call.h"
#include "model/model.h"
#include "sip/sipd_int.h"
#include "store/snapshot.h"
#include "voicemail/mwi.h"

struct list *tmrl_get(void);   /* libre: the loop's timers */

static void test_body(void **state)
{
	char b[256];
	size_t n;

	(void)state;
	n = mwi_body(b, sizeof(b), "201", "pbx.example", 0, 0);
	assert_int_equal(n, strlen(b));
	assert_string_equal(b, "Messages-Waiting: no\r\n"
			    "Message-Account: sip:201@pbx.example\r\n"
			    "Voice-Message: 0/0 (0/0)\r\n");
	n = mwi_body(b, sizeof(b), "4711", "bulwark", 2, 13);
	assert_string_equal(b, "Messages-Waiting: yes\r\n"
			    "Message-Account: sip:4711@bulwark\r\n"
			    "Voice-Message: 2/13 (0/0)\r\n");
	assert_int_equal(n, strlen(b));
	/* saved messages only: the lamp is off */
	mwi_body(b, sizeof(b), "201", "r", 0, 5);
	assert_non_null(strstr(b, "Messages-Waiting: no\r\n"));
	assert_non_null(strstr(b, "Voice-Message: 0/5 (0/0)\r\n"));
	/* it does not fit: nothing (never a cut body) */
	assert_int_equal(mwi_body(b, 20, "201", "bulwark", 1, 1), 0);
	assert_int_equal(mwi_body(b, sizeof(b), NULL, "bulwark", 1, 1), 0);
}

static int ev(const char *s, struct mwi_event *e)
{
	return mwi_event_parse(s, strlen(s), e);
}

static void test_event(void **state)
{
	struct mwi_event e;
	char longid[MWI_ID_MAX + 40];

	(void)state;
	assert_int_equal(ev("message-summary", &e), 0);
	assert_true(e.msum);
	assert_string_equal(e.id, "");
	assert_int_equal(ev("Message-Summary", &e), 0);
	assert_true(e.msum);
	assert_int_equal(ev(" message-summary ;id=a7.b ; x=\"q;,\\\"\" ;y",
			    &e), 0);
	assert_true(e.msum);
	assert_string_equal(e.id, "a7.b");
	assert_int_equal(ev("presence", &e), 0);
	assert_false(e.msum);
	assert_int_equal(ev("message-summary.winfo", &e), 0);
	assert_false(e.msum);
	assert_int_equal(ev("message-summaryx", &e), 0);
	assert_false(e.msum);
	/* malformed */
	assert_int_equal(ev("", &e), EBADMSG);
	assert_int_equal(ev("   ", &e), EBADMSG);
	assert_int_equal(ev(";id=1", &e), EBADMSG);
	assert_int_equal(ev("message-summary;", &e), EBADMSG);
	assert_int_equal(ev("message-summary id", &e), EBADMSG);
	assert_int_equal(ev("message-summary;id=", &e), EBADMSG);
	assert_int_equal(ev("message-summary;id", &e), EBADMSG);
	assert_int_equal(ev("message-summary;id=\"x\"", &e), EBADMSG);
	assert_int_equal(ev("message-summary;id=1;id=2", &e), EBADMSG);
	assert_int_equal(ev("message-summary;x=\"open", &e), EBADMSG);
	assert_int_equal(ev("message-summary,presence", &e), EBADMSG);
	assert_int_equal(ev("message summary", &e), EBADMSG);
	/* the id's bound */
	memset(longid, 'a', sizeof(longid));
	memcpy(longid, "message-summary;id=", 19);
	longid[19 + MWI_ID_MAX] = '\0';
	assert_int_equal(ev(longid, &e), 0);
	assert_int_equal(strlen(e.id), MWI_ID_MAX);
	longid[19 + MWI_ID_MAX] = 'a';
	longid[19 + MWI_ID_MAX + 1] = '\0';
	assert_int_equal(ev(longid, &e), EBADMSG);
	/* not NUL-terminated: only l octets are read */
	assert_int_equal(mwi_event_parse("message-summary;id=9zzz", 20, &e),
			 0);
	assert_string_equal(e.id, "9");
	assert_int_equal(mwi_event_parse(NULL, 0, &e), EBADMSG);
	assert_int_equal(mwi_event_parse("x", 1, NULL), EINVAL);
}

static bool acc(const char *s)
{
	return mwi_accepts(s, strlen(s));
}

static void test_accept(void **state)
{
	(void)state;
	assert_true(acc("application/simple-message-summary"));
	assert_true(acc("Application/Simple-Message-Summary"));
	assert_true(acc("application/sdp, application/simple-message-summary"
			";q=0.5"));
	assert_true(acc("text/plain;x=\"a,b\", application/*"));
	assert_true(acc("*/*"));
	assert_false(acc("application/pidf+xml"));
	assert_false(acc("text/plain;x=\"application/simple-message-summary"
			 "\""));
	assert_false(acc("application/simple-message-summaryx"));
	assert_false(acc(""));
	assert_false(acc("application"));
	assert_false(acc("application/"));
	assert_false(acc("text/plain;x=\"open"));
	assert_false(mwi_accepts(NULL, 0));
}

static void test_expires(void **state)
{
	uint32_t g = 0;

	(void)state;
	assert_int_equal(mwi_expires(-1, &g), MWI_EXP_OK);
	assert_int_equal(g, MWI_EXPIRES_DEF);
	assert_int_equal(mwi_expires(0, &g), MWI_EXP_END);
	assert_int_equal(mwi_expires(1, &g), MWI_EXP_BRIEF);
	assert_int_equal(mwi_expires(MWI_EXPIRES_MIN - 1, &g), MWI_EXP_BRIEF);
	assert_int_equal(mwi_expires(MWI_EXPIRES_MIN, &g), MWI_EXP_OK);
	assert_int_equal(g, MWI_EXPIRES_MIN);
	assert_int_equal(mwi_expires(600, &g), MWI_EXP_OK);
	assert_int_equal(g, 600);
	assert_int_equal(mwi_expires(MWI_EXPIRES_MAX + 1, &g), MWI_EXP_OK);
	assert_int_equal(g, MWI_EXPIRES_MAX);
	assert_int_equal(mwi_expires(INT64_MAX, &g), MWI_EXP_OK);
	assert_int_equal(g, MWI_EXPIRES_MAX);
}

/* ---- the service on an offline stack ----------------------------------- */

#define PW201 "Xq7mPz9kLw2R"
#define PW202 "Rt5hGv8nQe3W"
#define PW203 "Kp4nWs7tYb2Z"
#define N_SENT 32

static struct {
	struct sipd *sd;
	struct registrar *reg;
	struct call_app *app;
	struct mwi *m;
	char sent[N_SENT][4096];   /* what the stack sent, in order */
	struct sa to[N_SENT];
	size_t n;
	uint32_t nc;
} t;

static void out(enum sipd_tp tp, const struct sa *dst, const char *buf,
		size_t len, void *arg)
{
	(void)tp;
	(void)arg;
	if (len <= 4 || t.n >= N_SENT)
		return;   /* a keep-alive */
	if (len >= sizeof(t.sent[0]))
		len = sizeof(t.sent[0]) - 1;
	memcpy(t.sent[t.n], buf, len);
	t.sent[t.n][len] = '\0';
	t.to[t.n] = *dst;
	t.n++;
}

static void ext_set(struct snap_ext *x, const char *num, const char *pw,
		    bool mwi)
{
	memset(x, 0, sizeof(*x));
	snprintf(x->number, sizeof(x->number), "%s", num);
	x->type = MODEL_SIP;
	x->auth = true;
	assert_int_equal(auth_digest_ha1(AUTH_ALG_MD5, num, "bulwark", pw,
					 x->ha1_md5, sizeof(x->ha1_md5)), 0);
	x->algs_pref[0] = AUTH_ALG_MD5;
	x->max_contacts = 3;
	x->transports = SNAP_TP_UDP;
	x->limit_in = x->limit_out = 2;
	x->codecs[0] = SNAP_CODEC_ULAW;
	x->n_codecs = 1;
	x->vm = true;
	x->mwi = mwi;
}

static struct snapshot *fake_snapshot(void)
{
	struct snapshot *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->ext = calloc(3, sizeof(*s->ext));
	assert_non_null(s->ext);
	atomic_init(&s->refs, 1);
	s->version = 1;
	strcpy(s->realm, "bulwark");
	s->n_ext = 3;
	ext_set(&s->ext[0], "201", PW201, true);
	ext_set(&s->ext[1], "202", PW202, true);
	ext_set(&s->ext[2], "203", PW203, false);
	s->sections = json_pack("{s:{s:i}}", "sip", "min_expires", 60);
	return s;
}

static int stack_up(void **state)
{
	struct call_conf cc = { .rtp_addr = "127.0.0.1", .rtp_min = 47100,
				.rtp_max = 47109, .max_calls = 4 };
	struct sa la;

	(void)state;
	memset(&t, 0, sizeof(t));
	assert_int_equal(libre_init(), 0);
	assert_int_equal(sipd_alloc_offline(&t.sd, fake_snapshot(), out,
					    NULL), 0);
	sipd_set_clock(t.sd, 1700000000);
	assert_int_equal(sa_set_str(&la, "127.0.0.1", 5060), 0);
	sipd_set_laddr(t.sd, &la);
	assert_int_equal(registrar_alloc(&t.reg, t.sd, NULL), 0);
	assert_int_equal(call_alloc(&t.app, t.sd, t.reg, &cc), 0);
	assert_int_equal(mwi_alloc(&t.m, t.sd, t.app, t.reg), 0);
	return 0;
}

static int stack_down(void **state)
{
	(void)state;
	t.m = mwi_free(t.m);
	assert_null(t.m);
	call_close(t.app);
	registrar_close(t.reg);
	sipd_close(t.sd);
	libre_close();
	return 0;
}

static const char *last(void)
{
	assert_true(t.n > 0);
	return t.sent[t.n - 1];
}

static unsigned status(const char *msg)
{
	return strncmp(msg, "SIP/2.0 ", 8) ? 0 : (unsigned)atoi(msg + 8);
}

/* The value of header name in msg into out ("" when none). */
static const char *hval(const char *msg, const char *name, char *out,
			size_t sz)
{
	char key[64];
	const char *p, *e;

	snprintf(key, sizeof(key), "\r\n%s:", name);
	out[0] = '\0';
	p = strstr(msg, key);
	if (!p)
		return out;
	p += strlen(key);
	while (*p == ' ')
		p++;
	e = strstr(p, "\r\n");
	snprintf(out, sz, "%.*s", (int)(e ? e - p : 0), p);
	return out;
}

static void input(const char *port, const char *msg)
{
	struct sa src;

	assert_int_equal(sa_set_str(&src, "127.0.0.7", (uint16_t)atoi(port)),
			 0);
	sipd_input(t.sd, SIPD_UDP, &src, 0, msg, strlen(msg));
}

/* A Proxy-Authorization (or Authorization) line for method uri of user
 * against the nonce of the challenge chal. */
static void auth_line(char *out, size_t sz, const char *chal,
		      const char *method, const char *uri, const char *user,
		      const char *pw, bool reg)
{
	char nonce[128], ha1[33], resp[65], ncs[9];
	const char *p = strstr(chal, "nonce=\"");
	struct auth_cred c;
	size_t nl;

	assert_non_null(p);
	p += 7;
	nl = strcspn(p, "\"");
	assert_true(nl < sizeof(nonce));
	snprintf(nonce, sizeof(nonce), "%.*s", (int)nl, p);
	assert_int_equal(auth_digest_ha1(AUTH_ALG_MD5, user, "bulwark", pw,
					 ha1, sizeof(ha1)), 0);
	snprintf(ncs, sizeof(ncs), "%08x", ++t.nc);
	memset(&c, 0, sizeof(c));
	c.nonce.p = nonce;
	c.nonce.l = strlen(nonce);
	c.uri.p = uri;
	c.uri.l = strlen(uri);
	c.nc.p = ncs;
	c.nc.l = 8;
	c.cnonce.p = "c0ffee";
	c.cnonce.l = 6;
	c.qop.p = "auth";
	c.qop.l = 4;
	c.alg = AUTH_ALG_MD5;
	assert_int_equal(auth_digest_response(AUTH_ALG_MD5, ha1, method, &c,
					      resp, sizeof(resp)), 0);
	snprintf(out, sz, "%s: Digest username=\"%s\", realm=\"bulwark\", "
		 "nonce=\"%s\", uri=\"%s\", response=\"%s\", algorithm=MD5, "
		 "qop=auth, nc=%s, cnonce=\"c0ffee\"\r\n",
		 reg ? "Authorization" : "Proxy-Authorization", user, nonce,
		 uri, resp, ncs);
}

#define SUB_FMT \
	"SUBSCRIBE %s SIP/2.0\r\n" \
	"Via: SIP/2.0/UDP 127.0.0.7:%s;branch=z9hG4bKs%u;rport\r\n" \
	"Max-Forwards: 70\r\n" \
	"From: <sip:%s@bulwark>;tag=ft%s\r\n" \
	"To: <sip:%s@bulwark>\r\n" \
	"Call-ID: sub-%s-%s\r\n" \
	"CSeq: %u SUBSCRIBE\r\n" \
	"Contact: <sip:%s@127.0.0.7:%s>\r\n" \
	"Event: message-summary\r\n" \
	"Expires: %u\r\n%s" \
	"Content-Length: 0\r\n\r\n"

/* SUBSCRIBE of user from 127.0.0.7:port (407, then with credentials):
 * the final answer is the message before the first NOTIFY. */
static void subscribe(const char *user, const char *pw, const char *port,
		      unsigned expires)
{
	char m[2048], a[512], uri[64];

	snprintf(uri, sizeof(uri), "sip:%s@127.0.0.1:5060", user);
	snprintf(m, sizeof(m), SUB_FMT, uri, port, 1u, user, port, user, user,
		 port, 1u, user, port, expires, "");
	input(port, m);
	assert_int_equal(status(last()), 407);
	auth_line(a, sizeof(a), last(), "SUBSCRIBE", uri, user, pw, false);
	snprintf(m, sizeof(m), SUB_FMT, uri, port, 2u, user, port, user, user,
		 port, 2u, user, port, expires, a);
	input(port, m);
}

/* Answer the NOTIFY msg with code (as the phone at port). */
static void answer(const char *msg, unsigned code, const char *port)
{
	char via[256], from[256], to[256], cid[128], cseq[64], r[1200];

	snprintf(r, sizeof(r), "SIP/2.0 %u %s\r\nVia: %s\r\nFrom: %s\r\n"
		 "To: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n"
		 "Content-Length: 0\r\n\r\n", code,
		 code == 200 ? "OK" : "Gone",
		 hval(msg, "Via", via, sizeof(via)),
		 hval(msg, "From", from, sizeof(from)),
		 hval(msg, "To", to, sizeof(to)),
		 hval(msg, "Call-ID", cid, sizeof(cid)),
		 hval(msg, "CSeq", cseq, sizeof(cseq)));
	input(port, r);
}

static void assert_notify(const char *msg, const char *state,
			  const char *body)
{
	char v[256];

	assert_int_equal(strncmp(msg, "NOTIFY sip:", 11), 0);
	assert_string_equal(hval(msg, "Event", v, sizeof(v)),
			    "message-summary");
	assert_string_equal(hval(msg, "Content-Type", v, sizeof(v)),
			    "application/simple-message-summary");
	assert_string_equal(hval(msg, "Subscription-State", v, sizeof(v)),
			    state);
	assert_non_null(strstr(msg, "\r\n\r\n"));
	assert_string_equal(strstr(msg, "\r\n\r\n") + 4, body);
}

#define BODY(w, acc, n, o) "Messages-Waiting: " w "\r\n" \
	"Message-Account: sip:" acc "@bulwark\r\n" \
	"Voice-Message: " n "/" o " (0/0)\r\n"

static void test_counts_reach_subscriber(void **state)
{
	struct mwi_stats st;
	size_t n;

	(void)state;
	subscribe("201", PW201, "5071", 600);
	assert_true(t.n >= 3);
	assert_int_equal(status(t.sent[t.n - 2]), 200);
	assert_notify(last(), "active;expires=600", BODY("no", "201", "0",
							  "0"));
	answer(last(), 200, "5071");
	mwi_stats(t.m, &st);
	assert_int_equal(st.subs, 1);

	/* counts change: NOTIFYed at once */
	n = t.n;
	mwi_set(t.m, "201", 2, 1);
	assert_int_equal(t.n, n + 1);
	assert_notify(last(), "active;expires=600", BODY("yes", "201", "2",
							  "1"));
	/* changed again while that NOTIFY waits: held until its answer */
	mwi_set(t.m, "201", 0, 3);
	assert_int_equal(t.n, n + 1);
	answer(last(), 200, "5071");
	assert_int_equal(t.n, n + 2);
	assert_notify(last(), "active;expires=600", BODY("no", "201", "0",
							  "3"));
	answer(last(), 200, "5071");
	/* the same counts: nothing sent; another mailbox: nothing here */
	mwi_set(t.m, "201", 0, 3);
	mwi_set(t.m, "2999", 4, 4);
	mwi_set(t.m, NULL, 4, 4);
	assert_int_equal(t.n, n + 2);

	/* the phone refuses a NOTIFY: the subscription ends */
	mwi_set(t.m, "201", 1, 3);
	assert_int_equal(t.n, n + 3);
	answer(last(), 481, "5071");
	mwi_stats(t.m, &st);
	assert_int_equal(st.subs, 0);
	assert_int_equal(st.notify_failed, 1);
	/* no subscription left, no binding: nothing sent */
	mwi_set(t.m, "201", 5, 3);
	assert_int_equal(t.n, n + 3);
}

#define REG_FMT \
	"REGISTER sip:bulwark SIP/2.0\r\n" \
	"Via: SIP/2.0/UDP 127.0.0.7:5072;branch=z9hG4bKr%u;rport\r\n" \
	"Max-Forwards: 70\r\n" \
	"From: <sip:202@bulwark>;tag=r1\r\n" \
	"To: <sip:202@bulwark>\r\n" \
	"Call-ID: reg-202\r\n" \
	"CSeq: %u REGISTER\r\n" \
	"Contact: <sip:202@127.0.0.7:5072>\r\n" \
	"Expires: 3600\r\n%s" \
	"Content-Length: 0\r\n\r\n"

static void test_unsolicited(void **state)
{
	char m[1024], a[512], v[256];
	struct mwi_stats st;
	size_t n;

	(void)state;
	snprintf(m, sizeof(m), REG_FMT, 1u, 1u, "");
	input("5072", m);
	assert_int_equal(status(last()), 401);
	auth_line(a, sizeof(a), last(), "REGISTER", "sip:bulwark", "202",
		  PW202, true);
	snprintf(m, sizeof(m), REG_FMT, 2u, 2u, a);
	input("5072", m);
	assert_int_equal(status(last()), 200);

	n = t.n;
	mwi_set(t.m, "202", 1, 0);
	assert_int_equal(t.n, n + 1);
	assert_int_equal(strncmp(last(), "NOTIFY sip:202@127.0.0.7:5072 ",
				 30), 0);
	assert_int_equal(sa_port(&t.to[t.n - 1]), 5072);
	assert_notify(last(), "active;expires=3600", BODY("yes", "202", "1",
							   "0"));
	/* out of dialog: no To tag */
	assert_null(strstr(hval(last(), "To", v, sizeof(v)), "tag="));
	answer(last(), 200, "5072");
	/* the same counts: nothing; a change: again */
	mwi_set(t.m, "202", 1, 0);
	assert_int_equal(t.n, n + 1);
	mwi_set(t.m, "202", 0, 1);
	assert_int_equal(t.n, n + 2);
	assert_notify(last(), "active;expires=3600", BODY("no", "202", "0",
							   "1"));
	mwi_stats(t.m, &st);
	assert_int_equal(st.unsolicited, 2);
	/* 203 has voicemail.mwi off: never unsolicited, never subscribed */
	n = t.n;
	mwi_set(t.m, "203", 3, 0);
	assert_int_equal(t.n, n);
	subscribe("203", PW203, "5073", 600);
	assert_int_equal(status(last()), 404);
}

/* The first libre timer due within ms, fired now (the expiry timer of
 * the subscription is the only one that far). */
static void fire_within(uint64_t ms)
{
	uint64_t horizon = tmr_jiffies() + ms;
	struct tmr *due = NULL;

	for (struct le *le = list_head(tmrl_get()); le; le = le->next) {
		struct tmr *k = le->data;

		if (k->th && k->jfs <= horizon && k->jfs > horizon - 1000)
			due = k;
	}
	if (!due) {
		/* fail_msg does not return; the analyzer sees the return */
		fail_msg("no timer due within %llu ms", (unsigned long long)ms);
		return;
	}
	tmr_start(due, 0, due->th, due->arg);
	tmr_poll(tmrl_get());
}

static void test_expiry(void **state)
{
	struct mwi_stats st;
	size_t n;
	char v[64];

	(void)state;
	subscribe("201", PW201, "5074", 60);
	assert_int_equal(status(t.sent[t.n - 2]), 200);
	assert_string_equal(hval(t.sent[t.n - 2], "Expires", v, sizeof(v)),
			    "60");
	answer(last(), 200, "5074");
	n = t.n;
	fire_within(60000);
	assert_int_equal(t.n, n + 1);
	assert_notify(last(), "terminated;reason=timeout",
		      BODY("no", "201", "0", "0"));
	mwi_stats(t.m, &st);
	assert_int_equal(st.subs, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_event),
		cmocka_unit_test(test_accept),
		cmocka_unit_test(test_expires),
		cmocka_unit_test_setup_teardown(test_counts_reach_subscriber,
						stack_up, stack_down),
		cmocka_unit_test_setup_teardown(test_unsolicited, stack_up,
						stack_down),
		cmocka_unit_test_setup_teardown(test_expiry, stack_up,
						stack_down),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
