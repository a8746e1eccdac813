/*
 * treg — outbound registration of the trunks (treg.h).
 *
 * One record per configured trunk, rebuilt from each snapshot: a trunk
 * whose registration fields did not change keeps its state; a changed
 * one starts over; a removed one, one turned off or pointed elsewhere
 * un-REGISTERs (Expires: 0) when it was registered, on t->leaving until
 * answered or LEAVE_MS; at daemon stop treg_stop does that for all,
 * bounded by the caller's wait.
 * Each record has one timer for its next action (refresh or retry) and
 * at most one REGISTER transaction in flight. A challenge is answered
 * once per attempt (again only when the server says stale=true): a
 * second 401/407 is a failure, never a loop.
 *
 * The requests and what their answers mean are in treg_msg.c.
 *
 * TCP and TLS trunks register over an outbound connection of
 * the stack (sipd_connect: reused, the TLS certificate checked); a host
 * given as a name is resolved at each attempt (tresolve.h: the hosts
 * file, then DNS). When the connection closes, a REGISTER in flight
 * fails with the reason; a registered trunk registers again over a new
 * one.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <re_types.h>
#include <re_fmt.h>
#include <re_mem.h>
#include <re_mbuf.h>
#include <re_list.h>
#include <re_sa.h>
#include <re_tmr.h>
#include <re_main.h>
#include <sodium.h>

#include "auth/client.h"
#include "common/log.h"
#include "sip/ctrans.h"
#include "sip/sipd.h"
#include "sip/sipmsg.h"
#include "store/snapshot.h"
#include "trunk/treg.h"
#include "trunk/trunk.h"
#include "trunk/treg_int.h"
#include "trunk/tresolve.h"

#define MOD "trunk"

static const char *const state_names[] = { "off", "registering",
	"registered", "failed", "unsupported" };

#define BACKOFF_MIN_S 30
#define BACKOFF_MAX_S 1800
#define LEAVE_MS 5000      /* an un-REGISTER's answer waited for */
#define DNS_WAIT_S 10   /* polls of a DNS lookup in progress */
#define DNS_WARM_MS 60000   /* names looked up again (cached) */

uint64_t treg_now_ms(void)
{
	return tmr_jiffies();
}

/* ---- client transactions: the call layer's pattern ---------------- */

static void ct_tick(void *arg);

void treg_ct_schedule(struct treg *t)
{
	uint64_t next = ctrans_next(t->ct), now = treg_now_ms();

	if (next == UINT64_MAX) {
		tmr_cancel(&t->tick);
		return;
	}
	tmr_start(&t->tick, next > now ? next - now : 0, ct_tick, t);
}

static void ct_tick(void *arg)
{
	struct treg *t = arg;

	ctrans_tick(t->ct, treg_now_ms());
	treg_ct_schedule(t);
}

static void tx_send(enum sipd_tp tp, const struct sa *dst, uint64_t conn,
		    const char *buf, size_t len, void *arg)
{
	struct treg *t = arg;

	(void)sipd_send(t->sd, tp, dst, conn, buf, len);
}

/* ---- one trunk ------------------------------------------------------ */

static void attempt(void *arg);

static void tone_destructor(void *arg)
{
	struct tone *o = arg;

	struct treg *t = o->owner;

	tmr_cancel(&o->tmr);
	if (o->tx)
		ctrans_set_user(o->tx, NULL);
	list_unlink(&o->le);
	sodium_memzero(&o->c, sizeof(o->c));
	if (o->leaving && t->stopping && !list_head(&t->leaving)) {
		t->stopping = false;
		re_cancel();   /* treg_stop: every un-REGISTER answered */
	}
}

void treg_schedule(struct tone *o, uint32_t in_s)
{
	o->next_at = sipd_now(o->owner->sd) + in_s;
	tmr_start(&o->tmr, (uint64_t)in_s * 1000, attempt, o);
}

void treg_fail(struct tone *o, const char *why)
{
	if (o->leaving) {
		log_warn(MOD, "trunk %s: un-REGISTER failed (%s)", o->c.name,
			 why);
		mem_deref(o);
		return;
	}
	o->state = TS_FAILED;
	snprintf(o->last_error, sizeof(o->last_error), "%s", why);
	o->failures++;
	o->backoff_s = o->backoff_s ? o->backoff_s * 2 : BACKOFF_MIN_S;
	if (o->backoff_s > BACKOFF_MAX_S)
		o->backoff_s = BACKOFF_MAX_S;
	o->registered_at = o->expires_at = 0;
	log_warn(MOD, "trunk %s: registration failed (%s); next try in %u s",
		 o->c.name, why, o->backoff_s);
	treg_schedule(o, o->backoff_s);
}

/* Timer: (re)register now. */
static void attempt(void *arg)
{
	struct tone *o = arg;
	int err;

	o->next_at = 0;
	if (o->tx) {
		ctrans_set_user(o->tx, NULL);
		o->tx = NULL;
	}
	if (o->state != TS_REGISTERED)
		o->state = TS_REGISTERING;
	o->answered = false;
	/* a name is resolved at each attempt */
	{
		size_t n = 0;

		err = trunk_resolve(o->c.host, o->c.port, &o->dst, 1, &n);
		if (err == EINPROGRESS && o->dns_wait++ < DNS_WAIT_S) {
			/* a DNS lookup runs on the loop: look again */
			treg_schedule(o, 1);
			return;
		}
		o->dns_wait = 0;
		if (err) {
			char why[320];

			snprintf(why, sizeof(why), "cannot resolve %s: %s",
				 o->c.host, err == EINPROGRESS ?
				 "no DNS answer" : err == ENOENT ?
				 "no address (hosts file, DNS)" :
				 strerror(err));
			treg_fail(o, why);
			return;
		}
	}
	o->why[0] = '\0';
	err = treg_send(o, NULL, NULL);
	if (err) {
		char why[200];

		if (o->why[0])
			snprintf(why, sizeof(why), "%s", o->why);
		else
			snprintf(why, sizeof(why), "cannot send REGISTER: %s",
				 strerror(err));
		treg_fail(o, why);
	}
}

/* ---- the application ------------------------------------------------ */

static void on_response(struct sipd *sd, struct sipmsg *m,
			const struct sa *src, void *arg)
{
	struct treg *t = arg;
	struct ctrans_tx *tx = NULL;
	struct tone *o;

	(void)sd;
	if (sipmsg_check_response(m) || !sipmsg_eq(&m->cseq_met, "REGISTER"))
		return;
	if (ctrans_receive(t->ct, m, src, treg_now_ms(), &tx) != CTRANS_RX_PASS) {
		treg_ct_schedule(t);
		return;
	}
	treg_ct_schedule(t);
	o = tx ? ctrans_user(tx) : NULL;
	if (!o || o->tx != tx || m->scode < 200)
		return;
	ctrans_set_user(tx, NULL);
	o->tx = NULL;
	treg_final(o, m);
}

static void ct_end(struct ctrans_tx *tx, enum ctrans_end why, void *arg)
{
	struct tone *o = ctrans_user(tx);

	(void)arg;
	if (!o || o->tx != tx)
		return;
	o->tx = NULL;
	if (why == CTRANS_END_TIMEOUT)
		treg_fail(o, "no answer (timeout)");
}

static void leave_timeout(void *arg)
{
	struct tone *o = arg;

	log_warn(MOD, "trunk %s: un-REGISTER not answered", o->c.name);
	mem_deref(o);
}

/* o stops being registered: REGISTER Expires: 0 (one challenge
 * answered), the record moved to t->leaving and freed when answered or
 * after LEAVE_MS. Records not registered are freed at once. */
static void leave(struct tone *o)
{
	struct treg *t = o->owner;

	if (o->tx) {
		ctrans_set_user(o->tx, NULL);
		o->tx = NULL;
	}
	tmr_cancel(&o->tmr);
	if (o->state != TS_REGISTERED || o->leaving) {
		if (!o->leaving)
			mem_deref(o);
		return;
	}
	list_unlink(&o->le);
	list_append(&t->leaving, &o->le, o);
	o->leaving = true;
	o->expiry = 0;
	o->answered = false;
	if (treg_send(o, NULL, NULL)) {
		mem_deref(o);
		return;
	}
	log_info(MOD, "trunk %s: un-REGISTERing", o->c.name);
	tmr_start(&o->tmr, LEAVE_MS, leave_timeout, o);
}

/* Whether the binding we hold for a, if any, is still ours under b
 * (else a un-REGISTERs): same registrar, AOR and contact. */
static bool same_binding(const struct trunk_conf *a,
			 const struct trunk_conf *b)
{
	return b && b->reg && !strcmp(a->host, b->host) &&
	       a->port == b->port && a->transport == b->transport &&
	       !strcmp(a->domain, b->domain) &&
	       !strcmp(a->username, b->username);
}

/* The fields whose change restarts a registration. */
static bool same_reg(const struct trunk_conf *a, const struct trunk_conf *b)
{
	return !strcmp(a->host, b->host) && a->port == b->port &&
	       a->transport == b->transport &&
	       !strcmp(a->domain, b->domain) &&
	       !strcmp(a->username, b->username) &&
	       !strcmp(a->auth_user, b->auth_user) &&
	       !strcmp(a->password, b->password) && a->reg == b->reg &&
	       a->reg_expiry == b->reg_expiry &&
	       /* the TLS client's trust */
	       !strcmp(a->tls_ca, b->tls_ca) &&
	       a->tls_verify == b->tls_verify;
}

static struct tone *tone_find(struct treg *t, const char *name)
{
	for (struct le *le = list_head(&t->trunks); le; le = le->next) {
		struct tone *o = le->data;

		if (!strcmp(o->c.name, name))
			return o;
	}
	return NULL;
}

/* A fresh record for c: registering at once when it can. */
static struct tone *tone_new(struct treg *t, const struct trunk_conf *c)
{
	struct tone *o = mem_zalloc(sizeof(*o), tone_destructor);
	unsigned char r[12];

	if (!o)
		return NULL;
	o->owner = t;
	o->c = *c;
	o->expiry = c->reg_expiry ? c->reg_expiry : 3600;
	tmr_init(&o->tmr);
	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(o->ftag, sizeof(o->ftag), r, 8);
	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(o->callid, sizeof(o->callid), r, sizeof(r));
	list_append(&t->trunks, &o->le, o);
	if (!c->reg)
		return o;
	/* every transport; names resolved at each attempt */
	o->tp = c->transport == SNAP_TP_TLS ? SIPD_TLS :
		c->transport == SNAP_TP_TCP ? SIPD_TCP : SIPD_UDP;
	o->state = TS_REGISTERING;
	treg_schedule(o, 0);
	return o;
}

/* every trunk host given as a name is looked up now and every
 * minute (answered from the cache until its TTL runs out), so calls to
 * a trunk that does not register find it resolved, and its addresses
 * are recognised as the trunk's (trunk_by_addr). Never blocks. */
static void dns_warm(void *arg)
{
	struct treg *t = arg;
	const struct trunks_typed *tt = trunks_of(sipd_snapshot(t->sd));
	struct sa a;

	for (size_t i = 0; i < tt->n; i++) {
		size_t n = 0;

		if (tt->t[i].host[0] && sa_set_str(&a, tt->t[i].host, 0))
			(void)trunk_resolve(tt->t[i].host, tt->t[i].port, &a,
					    1, &n);
	}
	tmr_start(&t->dns, DNS_WARM_MS, dns_warm, t);
}

static void on_apply(struct sipd *sd, void *arg)
{
	struct treg *t = arg;
	const struct trunks_typed *tt = trunks_of(sipd_snapshot(sd));
	struct le *le = list_head(&t->trunks);

	/* gone or changed: dropped (a changed one starts over below) */
	while (le) {
		struct tone *o = le->data;
		const struct trunk_conf *c = NULL;

		le = le->next;
		for (size_t i = 0; i < tt->n && !c; i++)
			if (!strcmp(tt->t[i].name, o->c.name))
				c = &tt->t[i];
		if (!c || !same_reg(c, &o->c)) {
			if (same_binding(&o->c, c))
				mem_deref(o);   /* the new record refreshes */
			else
				leave(o);
			continue;
		}
		/* the rest (caller ID, limits) follows without a restart */
		o->c = *c;
	}
	for (size_t i = 0; i < tt->n; i++)
		if (!tone_find(t, tt->t[i].name) && !tone_new(t, &tt->t[i]))
			log_warn(MOD, "trunk %s: out of memory",
				 tt->t[i].name);
	tmr_start(&t->dns, 0, dns_warm, t);
}

/* an outbound connection closed: a REGISTER in flight on it
 * fails with the reason; a registered trunk registers again soon (its
 * calls would come over that connection). */
static void on_conn_closed(struct sipd *sd, uint64_t conn, const char *why,
			   void *arg)
{
	struct treg *t = arg;

	(void)sd;
	for (struct le *le = list_head(&t->trunks); le; le = le->next) {
		struct tone *o = le->data;

		if (!conn || o->conn != conn)
			continue;
		o->conn = 0;
		if (o->tx) {
			ctrans_set_user(o->tx, NULL);
			o->tx = NULL;
			treg_fail(o, why);
		}
		else if (o->state == TS_REGISTERED) {
			log_info(MOD, "trunk %s: %s; registering again",
				 o->c.name, why);
			treg_schedule(o, 2);
		}
	}
}

static const struct sipd_app treg_app = {
	.name = "trunk",
	.response = on_response,
	.apply = on_apply,
	.conn_closed = on_conn_closed,
};

static void treg_destructor(void *arg)
{
	struct treg *t = arg;

	sipd_app_unregister(t->sd, t);
	t->stopping = false;
	tmr_cancel(&t->stop);
	list_flush(&t->trunks);
	list_flush(&t->leaving);
	tmr_cancel(&t->dns);
	trunk_dns_close();
	tmr_cancel(&t->tick);
	mem_deref(t->ct);
	sodium_memzero(t->auth, sizeof(t->auth));
}

int treg_alloc(struct treg **tp, struct sipd *sd)
{
	struct ctrans_conf cc = { .max_total = 64, .max_per_dst = 16 };
	struct treg *t;
	int err;

	if (!tp || !sd)
		return EINVAL;
	t = mem_zalloc(sizeof(*t), treg_destructor);
	if (!t)
		return ENOMEM;
	t->sd = sd;
	list_init(&t->trunks);
	list_init(&t->leaving);
	tmr_init(&t->tick);
	tmr_init(&t->stop);
	tmr_init(&t->dns);
	err = ctrans_alloc(&t->ct, &cc, tx_send, ct_end, t);
	if (!err)
		err = sipd_app_register(sd, &treg_app, t);
	if (err) {
		mem_deref(t);
		return err;
	}
	on_apply(sd, t);
	*tp = t;
	return 0;
}

static void stop_timeout(void *arg)
{
	struct treg *t = arg;

	t->stopping = false;
	log_warn(MOD, "%u un-REGISTER(s) not answered at stop",
		 list_count(&t->leaving));
	re_cancel();
}

bool treg_stop(struct treg *t, uint32_t wait_ms)
{
	struct le *le;

	if (!t)
		return false;
	le = list_head(&t->trunks);
	while (le) {
		struct tone *o = le->data;

		le = le->next;
		leave(o);
	}
	if (!list_head(&t->leaving))
		return false;
	t->stopping = true;
	tmr_start(&t->stop, wait_ms, stop_timeout, t);
	return true;
}

struct treg *treg_free(struct treg *t)
{
	mem_deref(t);
	return NULL;
}

static json_t *time_or_null(int64_t v)
{
	return v ? json_integer(v) : json_null();
}

json_t *treg_status(const struct treg *t)
{
	json_t *a = json_array();

	for (struct le *le = t ? list_head(&t->trunks) : NULL; a && le;
	     le = le->next) {
		const struct tone *o = le->data;

		json_array_append_new(a, json_pack(
			"{s:s, s:s, s:s, s:b, s:s, s:s, s:o, s:o, s:o, s:I}",
			"name", o->c.name, "host", o->c.host, "transport",
			o->tp == SIPD_TLS ? "tls" : o->tp == SIPD_TCP ?
			"tcp" : "udp",
			"register", o->c.reg, "state", state_names[o->state],
			"last_error", o->last_error,
			"registered_at", time_or_null(o->registered_at),
			"expires_at", time_or_null(o->expires_at),
			"next_refresh", time_or_null(o->next_at),
			"failures", (json_int_t)o->failures));
	}
	return a;
}
