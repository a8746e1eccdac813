/*
 * routes_metrics — GET /metrics, the Prometheus text format (version
 * 0.0.4) on the admin listeners, behind the same admin credential as
 * /api/v1 (api.c sends it here before the web GUI's file serving).
 *
 * Everything is read through the modules' own accessors: the guard's and
 * the registrar's live state on the loop thread (loop_call, one trip),
 * the commit version from the store; commits since start are counted
 * here (routes_config.c calls api_metrics_commit); the calls and the
 * media relay from the call layer's counters (call_stats), voicemail
 * e-mail from vmmail_status.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "api/routes.h"
#include "daemon/daemon.h"
#include "guard/guard.h"
#include "registrar/registrar.h"
#include "sip/sipd.h"
#include "call/call.h"
#include "store/store.h"
#include "voicemail/vmmail.h"

/* Bound of the answer: a few dozen series, never per source or per
 * extension (a scrape must not grow with an attack). */
#define METRICS_MAX (16 * 1024)

static _Atomic uint64_t commits_applied, commits_refused, commits_dry;

void api_metrics_commit(bool dry_run, bool ok)
{
	if (!ok)
		atomic_fetch_add(&commits_refused, 1);
	else if (dry_run)
		atomic_fetch_add(&commits_dry, 1);
	else
		atomic_fetch_add(&commits_applied, 1);
}

bool api_metrics_path(const char *url)
{
	return url && !strcmp(url, "/metrics");
}

struct live {
	struct daemon *d;
	json_t *guard;    /* guard_status, or NULL */
	json_t *regs;     /* registrar_registrations, or NULL */
	json_t *calls;    /* call_stats, or NULL */
	json_t *sip;      /* tls: sipd_status, or NULL */
};

static void live_on_loop(void *arg)
{
	struct live *l = arg;

	if (l->d->guard)
		l->guard = guard_status(l->d->guard);
	if (l->d->registrar)
		l->regs = registrar_registrations(l->d->registrar);
	if (l->d->calls)
		l->calls = call_stats(l->d->calls);
	if (l->d->sipd)
		l->sip = sipd_status(l->d->sipd);
}

struct out {
	char *buf;
	size_t len;
	bool full;
};

static void put(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, METRICS_MAX - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= METRICS_MAX - o->len)
		o->full = true;
	else
		o->len += (size_t)n;
}

static void head(struct out *o, const char *name, const char *type,
		 const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct out *o, const char *name, const char *type,
		const char *help, unsigned long long v)
{
	head(o, name, type, help);
	put(o, "%s %llu\n", name, v);
}

static unsigned long long num(const json_t *obj, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(obj, key));

	return v > 0 ? (unsigned long long)v : 0;
}

/* Voicemail to e-mail (vmmail_status: its own lock, any thread). */
static void vm_mail(struct out *o, struct vmmail *vm)
{
	json_t *st = vmmail_status(vm);

	if (!st)
		return;
	one(o, "bulwark_vm_mail_queued", "gauge",
	    "Voicemail e-mails waiting to be sent or retried.",
	    num(st, "queued"));
	head(o, "bulwark_vm_mail_total", "counter",
	     "Voicemail e-mail outcomes since start.");
	put(o, "bulwark_vm_mail_total{result=\"sent\"} %llu\n",
	    num(st, "sent"));
	put(o, "bulwark_vm_mail_total{result=\"failed_attempt\"} %llu\n",
	    num(st, "failed"));
	put(o, "bulwark_vm_mail_total{result=\"given_up\"} %llu\n",
	    num(st, "given_up"));
	put(o, "bulwark_vm_mail_total{result=\"refused\"} %llu\n",
	    num(st, "refused"));
	json_decref(st);
}

/* Toll-fraud refusals by limit (issue 15): call_stats' toll.refused. */
static void toll(struct out *o, const json_t *refused)
{
	static const char *const limits[] = { "ext_concurrent",
		"global_concurrent", "ext_per_hour", "global_per_hour",
		"table_full" };

	head(o, "bulwark_toll_limit_refused_total", "counter",
	     "Calls refused by a toll-fraud limit since start, by limit.");
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		put(o, "bulwark_toll_limit_refused_total{limit=\"%s\"} %llu\n",
		    limits[i], num(refused, limits[i]));
}

static void calls(struct out *o, const json_t *c)
{
	const json_t *r = json_object_get(c, "relay");

	one(o, "bulwark_calls_active", "gauge", "Calls up or ringing now.",
	    num(c, "active"));
	head(o, "bulwark_calls_total", "counter",
	     "Calls since start, by outcome.");
	put(o, "bulwark_calls_total{result=\"answered\"} %llu\n",
	    num(c, "answered"));
	put(o, "bulwark_calls_total{result=\"failed\"} %llu\n",
	    num(c, "failed"));
	one(o, "bulwark_calls_refused_limit_total", "counter",
	    "Calls refused at a call limit (extension or global).",
	    num(c, "refused_limit"));
	toll(o, json_object_get(json_object_get(c, "toll"), "refused"));
	one(o, "bulwark_calls_rtp_timeout_total", "counter",
	    "Calls ended because no media came for the timeout.",
	    num(c, "rtp_timeouts"));
	one(o, "bulwark_relay_packets_total", "counter",
	    "RTP/RTCP packets the relay accepted from phones.",
	    num(r, "packets_total"));
	one(o, "bulwark_relay_dropped_source_total", "counter",
	    "Packets dropped by strict source (injection, RTP bleed).",
	    num(r, "dropped_source_total"));
	/* srtp (issue 15) */
	one(o, "bulwark_relay_srtp_auth_fail_total", "counter",
	    "SRTP/SRTCP packets dropped because their tag failed.",
	    num(r, "srtp_auth_fail_total"));
	one(o, "bulwark_relay_srtp_replay_total", "counter",
	    "SRTP/SRTCP packets dropped as replayed or too old.",
	    num(r, "srtp_replay_total"));
	one(o, "bulwark_relay_ports_free", "gauge",
	    "Relay port pairs free now.", num(r, "ports_free"));
	one(o, "bulwark_relay_ports", "gauge",
	    "Relay port pairs in the range.", num(r, "ports_total"));
}

static void registrations(struct out *o, const json_t *regs)
{
	json_t *seen = json_object();
	size_t i;
	json_t *r;

	json_array_foreach(regs, i, r) {
		const char *e = json_string_value(json_object_get(r,
								  "extension"));
		if (e && seen)
			json_object_set_new(seen, e, json_true());
	}
	one(o, "bulwark_registrations", "gauge",
	    "Live registration bindings (contacts).",
	    (unsigned long long)json_array_size(regs));
	one(o, "bulwark_registered_extensions", "gauge",
	    "Extensions with at least one live binding.",
	    (unsigned long long)json_object_size(seen));
	json_decref(seen);
}

static void guard(struct out *o, const json_t *st)
{
	const json_t *c = json_object_get(st, "counters");
	const json_t *f = json_object_get(st, "auth_failures");
	static const char *const reasons[] = {
		"bad_password", "unknown_user", "user_mismatch", "malformed",
	};
	size_t i;

	one(o, "bulwark_bans", "gauge", "Sources banned now.",
	    num(st, "bans"));
	one(o, "bulwark_bans_total", "counter",
	    "Bans imposed since start (automatic and by hand).",
	    num(c, "bans"));
	one(o, "bulwark_sip_auth_successes_total", "counter",
	    "SIP authentications that succeeded.", num(c, "auth_ok"));
	head(o, "bulwark_sip_auth_failures_total", "counter",
	     "SIP authentications that failed, by reason.");
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		put(o, "bulwark_sip_auth_failures_total{reason=\"%s\"} %llu\n",
		    reasons[i], num(f, reasons[i]));
	put(o, "bulwark_sip_auth_failures_total{reason=\"stale_credentials\"}"
	    " %llu\n", num(c, "stale"));
	put(o, "bulwark_sip_auth_failures_total{reason=\"transport_refused\"}"
	    " %llu\n", num(c, "transport_refused"));
	one(o, "bulwark_sip_auth_failures_unproven_total", "counter",
	    "Failures not counted toward a ban: the source address was not "
	    "proven.", num(c, "auth_fail_unproven"));
	one(o, "bulwark_guard_packets_total", "counter",
	    "SIP packets seen by the guard.", num(c, "packets"));
	head(o, "bulwark_guard_dropped_total", "counter",
	     "Packets the guard dropped, by reason.");
	put(o, "bulwark_guard_dropped_total{reason=\"banned\"} %llu\n",
	    num(c, "dropped_banned"));
	put(o, "bulwark_guard_dropped_total{reason=\"rate\"} %llu\n",
	    num(c, "dropped_rate"));
	one(o, "bulwark_guard_scanners_total", "counter",
	    "Requests recognised as a scanner's.", num(c, "scanner"));
	one(o, "bulwark_guard_tarpit_total", "counter",
	    "Failures answered late (tarpit).", num(c, "tarpit"));
	one(o, "bulwark_guard_distributed_attacks_total", "counter",
	    "Distributed attacks on one extension detected.",
	    num(c, "distributed_attacks"));
	one(o, "bulwark_guard_events_total", "counter",
	    "Security events recorded.", num(c, "events"));
}

/* tls: the stream transports' bounds (sipd_status "tcp" and "tls"). */
static void sip_streams(struct out *o, const json_t *st)
{
	const json_t *tcp = json_object_get(st, "tcp");
	const json_t *tc = json_object_get(tcp, "counters");
	const json_t *tls = json_object_get(st, "tls");
	const json_t *lc = json_object_get(tls, "counters");

	one(o, "bulwark_sip_stream_connections", "gauge",
	    "Open SIP connections (TCP and TLS).", num(tcp, "connections"));
	head(o, "bulwark_sip_stream_refused_total", "counter",
	     "SIP connections (TCP and TLS) closed at accept, by bound.");
	put(o, "bulwark_sip_stream_refused_total{reason=\"per_source\"} "
	    "%llu\n", num(tc, "refused_per_source"));
	put(o, "bulwark_sip_stream_refused_total{reason=\"full\"} %llu\n",
	    num(tc, "refused_full"));
	put(o, "bulwark_sip_stream_refused_total{reason=\"tls_handshakes\"} "
	    "%llu\n", num(lc, "refused_handshakes"));
	one(o, "bulwark_sip_tls_handshakes_in_progress", "gauge",
	    "TLS handshakes begun and not finished (bounded by "
	    "sip.tls_handshakes).", num(tls, "handshakes"));
	head(o, "bulwark_sip_tls_handshakes_total", "counter",
	     "TLS handshakes since start, by outcome (timeout: closed at "
	     "sip.tls_handshake_timeout; failed counts those too).");
	put(o, "bulwark_sip_tls_handshakes_total{result=\"ok\"} %llu\n",
	    num(lc, "handshakes_ok"));
	put(o, "bulwark_sip_tls_handshakes_total{result=\"failed\"} %llu\n",
	    num(lc, "handshakes_failed"));
	put(o, "bulwark_sip_tls_handshakes_total{result=\"timeout\"} %llu\n",
	    num(lc, "handshake_timeouts"));
}

void api_metrics_get(struct daemon *d, const char *method,
		     struct api_resp *resp)
{
	struct live l = { .d = d };
	struct out o = { 0 };

	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		api_error(resp, 405, "/metrics answers GET only.", NULL);
		return;
	}
	o.buf = malloc(METRICS_MAX);
	if (!o.buf) {
		api_error(resp, 503, "Out of memory.", NULL);
		return;
	}
	o.buf[0] = '\0';
	/* the loop may be gone (shutting down): then no live series */
	if (loop_call(live_on_loop, &l))
		l.guard = l.regs = l.calls = l.sip = NULL;
	one(&o, "bulwark_up", "gauge",
	    "1 while the SIP loop answers (live series below), else 0.",
	    l.guard || l.regs ? 1 : 0);
	if (l.regs)
		registrations(&o, l.regs);
	if (l.guard)
		guard(&o, l.guard);
	if (l.calls)
		calls(&o, l.calls);
	if (l.sip)
		sip_streams(&o, l.sip);
	if (d->store)
		one(&o, "bulwark_commit_version", "gauge",
		    "Version of the running configuration (commits ever "
		    "applied).", (unsigned long long)store_version(d->store));
	head(&o, "bulwark_commits_total", "counter",
	     "Commit requests since start, by result.");
	put(&o, "bulwark_commits_total{result=\"applied\"} %llu\n",
	    (unsigned long long)atomic_load(&commits_applied));
	put(&o, "bulwark_commits_total{result=\"refused\"} %llu\n",
	    (unsigned long long)atomic_load(&commits_refused));
	put(&o, "bulwark_commits_total{result=\"dry_run\"} %llu\n",
	    (unsigned long long)atomic_load(&commits_dry));
	if (d->vmmail)
		vm_mail(&o, d->vmmail);
	json_decref(l.guard);
	json_decref(l.regs);
	json_decref(l.calls);
	json_decref(l.sip);
	if (o.full) {
		free(o.buf);
		api_error(resp, 500, "The metrics outgrew their bound.", NULL);
		return;
	}
	resp->raw = o.buf;
	resp->raw_len = o.len;
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
