/*
 * event — security events: the clock, the rate-limited and the always
 * emitted event, and the aggregate of what the bucket held back. The
 * bottom of the guard: account.c, ban.c and guard.c report through it,
 * and it reaches only the worker (which writes the events out).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guard/guard_int.h"

/* Events other than auth_failure (which has its own 100/s bucket in
 * account.c) share one bucket: a spoofed flood (a ban and a scanner event
 * per forged address) cannot grow security.log or the events table
 * faster than this; the excess is counted and reported. */
#define EVENTS_PER_S   100u
#define EVENTS_BURST   500u

/* Types counted when suppressed; the last slot takes any other. */
static const char *const ev_types[GUARD_EV_TYPES] = {
	"auth_failure", "ban", "unban", "scanner", "stale_credentials",
	"distributed_attack", "extension_blocked", "trust", "rate_limited",
	"events_suppressed", "transport_refused", "other",
};

static size_t ev_type_idx(const char *type)
{
	size_t i;

	for (i = 0; i < GUARD_EV_TYPES - 1 && ev_types[i]; i++)
		if (!strcmp(ev_types[i], type))
			return i;
	return GUARD_EV_TYPES - 1;
}

uint64_t guard_now(const struct guard *g)
{
	return g->clock(g->clock_arg);
}

void guard_events_init(struct guard *g)
{
	g->ev2_tokens = EVENTS_BURST * 1000u;
}

void guard_event_suppressed(struct guard *g, const char *type)
{
	g->st.events_suppressed++;
	g->sup[ev_type_idx(type)]++;
}

static bool event_allowed(struct guard *g, uint64_t now)
{
	static const uint64_t cap = EVENTS_BURST * 1000u;

	if (now > g->ev2_tok_ms) {
		uint64_t t = g->ev2_tokens + (now - g->ev2_tok_ms) *
			EVENTS_PER_S;
		g->ev2_tokens = t > cap ? cap : t;
		g->ev2_tok_ms = now;
	}
	if (g->ev2_tokens < 1000)
		return false;
	g->ev2_tokens -= 1000;
	return true;
}

void guard_event(struct guard *g, const char *type, json_t *fields)
{
	if (!event_allowed(g, guard_now(g))) {
		guard_event_suppressed(g, type);
		json_decref(fields);
		return;
	}
	guard_event_always(g, type, fields);
}

/* One events_suppressed event per interval: how many events of which
 * type the buckets held back, and how many the worker's full queue
 * dropped. */
void guard_events_flush(struct guard *g, uint64_t now, bool force)
{
	uint64_t qd = gworker_dropped(g->worker), total = 0;
	json_t *types;

	if (!force && now - g->sup_since < GUARD_SUP_MS)
		return;
	for (size_t i = 0; i < GUARD_EV_TYPES; i++)
		total += g->sup[i];
	if (!total && qd == g->sup_queue_seen) {
		g->sup_since = now;
		return;
	}
	types = json_object();
	for (size_t i = 0; i < GUARD_EV_TYPES; i++)
		if (g->sup[i] && ev_types[i])
			json_object_set_new(types, ev_types[i],
					    json_integer((json_int_t)g->sup[i]));
	guard_event_always(g, "events_suppressed", json_pack(
		"{s:I,s:o,s:I,s:I}", "count", (json_int_t)total,
		"types", types, "queue_dropped",
		(json_int_t)(qd - g->sup_queue_seen),
		"seconds", (json_int_t)((now - g->sup_since) / 1000)));
	memset(g->sup, 0, sizeof(g->sup));
	g->sup_queue_seen = qd;
	g->sup_since = now;
}

void guard_event_always(struct guard *g, const char *type, json_t *fields)
{
	json_t *ev = fields ? fields : json_object();
	uint64_t now = guard_now(g);
	time_t secs = (time_t)(now / 1000);
	struct tm tm;
	char ts[80];
	struct gjob *j;

	g->st.events++;
	snprintf(g->last_event, sizeof(g->last_event), "%s", type);
	if (!ev)
		return;
	gmtime_r(&secs, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (unsigned)(now % 1000));
	json_object_set_new(ev, "ts", json_string(ts));
	json_object_set_new(ev, "ts_ms", json_integer((json_int_t)now));
	json_object_set_new(ev, "type", json_string(type));
	if (g->worker) {
		j = calloc(1, sizeof(*j));
		if (j) {
			j->kind = GJOB_EVENT;
			j->text = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
			if (j->text)
				gworker_push(g->worker, j);
			else
				free(j);
		}
	}
	json_decref(ev);
}

void guard_report_event(struct guard *g, const char *type, json_t *fields)
{
	if (!g || !type) {
		json_decref(fields);
		return;
	}
	guard_event(g, type, fields ? fields : json_object());
}
