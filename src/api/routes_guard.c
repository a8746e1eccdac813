/*
 * routes_guard — admin API of the guard: bans, trusted networks, security
 * events, guard status. Live ban operations run on the loop thread
 * through loop_call() (the guard is data-plane state); events are read
 * from the database on this (control-plane) thread. The "guard" settings
 * section is edited through /settings/guard like every other section.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "api/routes.h"
#include "daemon/daemon.h"
#include "guard/guard.h"
#include "store/health.h"
#include "store/store.h"

struct gcall {
	struct guard *g;
	const char *arg;
	unsigned secs;
	int err;
	uint64_t ticket;            /* its database write (guard_persist_*) */
	json_t *out;
	json_t *(*get)(struct guard *g);
	int (*op)(struct guard *g, const char *s, unsigned secs);
};

static void get_on_loop(void *arg)
{
	struct gcall *c = arg;

	c->out = c->get(c->g);
}

static void op_on_loop(void *arg)
{
	struct gcall *c = arg;

	c->err = c->op(c->g, c->arg, c->secs);
	c->ticket = c->err ? 0 : guard_persist_ticket(c->g);
}

/* A live change holds at once; this says whether it is also stored. Not
 * stored (a full disk): it stays in force in memory — refusing a ban
 * would leave an attacker in while the admin frees space — and the
 * worker writes it as soon as the disk takes it, but the answer is an
 * error so that nobody takes it as stored (a restart before that would
 * lose it). 0 if stored, else the response is filled. */
static int stored(struct daemon *d, struct api_resp *resp,
		  const struct gcall *c, const char *what)
{
	json_t *st;
	char msg[512];
	int err = guard_persist_wait(d->guard, c->ticket, 5000);

	if (!err)
		return 0;
	st = store_health_json();
	if (err == EAGAIN) {
		json_t *le = json_object_get(st, "last_error");
		const char *why = json_string_value(json_object_get(le,
								    "error"));

		snprintf(msg, sizeof(msg), "%s %.64s: in force now, but not "
			 "stored (%s in the data directory). It is kept in "
			 "memory and written as soon as space is freed; a "
			 "restart before that would lose it.", what, c->arg,
			 why ? why : "write failed");
		api_error(resp, 507, msg, NULL);
		json_object_set_new(resp->body, "cause",
				    json_string("storage_full"));
	} else {
		snprintf(msg, sizeof(msg), "%s %.64s: in force now; the "
			 "database did not confirm the write within 5 s.",
			 what, c->arg);
		api_error(resp, 503, msg, NULL);
		json_object_set_new(resp->body, "cause",
				    json_string("storage_slow"));
	}
	json_object_set_new(resp->body, "applied", json_true());
	json_object_set_new(resp->body, "stored", json_false());
	json_object_set_new(resp->body, "source", json_string(c->arg));
	json_object_set_new(resp->body, "storage", st);
	return err;
}

static int remove_op(struct guard *g, const char *s, unsigned secs)
{
	return guard_ban_remove(g, s);
}

static void get_route(struct daemon *d, struct api_resp *resp,
		      json_t *(*get)(struct guard *g))
{
	struct gcall c = { .g = d->guard, .get = get };

	if (!d->guard) {
		api_error(resp, 503, "The guard is not running.", NULL);
		return;
	}
	if (loop_call(get_on_loop, &c) || !c.out) {
		api_error(resp, 503, "The SIP loop is not running.", NULL);
		return;
	}
	api_ok(resp, c.out);
}

/* "90", "90s", "10m", "2h", "7d" → seconds; 0 on error. */
static unsigned duration(const json_t *v, bool *bad)
{
	const char *s;
	char *end;
	unsigned long long n, mul = 1;

	*bad = false;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		if (json_integer_value(v) <= 0 ||
		    json_integer_value(v) > 31536000)
			goto bad;
		return (unsigned)json_integer_value(v);
	}
	if (!json_is_string(v))
		goto bad;
	s = json_string_value(v);
	errno = 0;
	n = strtoull(s, &end, 10);
	if (end == s || errno)
		goto bad;
	switch (*end) {
	case 0: case 's': mul = 1; break;
	case 'm': mul = 60; break;
	case 'h': mul = 3600; break;
	case 'd': mul = 86400; break;
	default: goto bad;
	}
	if (*end && end[1])
		goto bad;
	if (!n || n * mul > 31536000)
		goto bad;
	return (unsigned)(n * mul);
 bad:
	*bad = true;
	return 0;
}

static void op_route(struct daemon *d, struct api_resp *resp,
		     int (*op)(struct guard *g, const char *s, unsigned secs),
		     const char *what, const char *arg, const json_t *dur)
{
	struct gcall c = { .g = d->guard, .op = op, .arg = arg };
	char msg[400];
	bool bad;

	if (!d->guard) {
		api_error(resp, 503, "The guard is not running.", NULL);
		return;
	}
	if (!arg || !*arg) {
		snprintf(msg, sizeof(msg), "%s needs an address or network.",
			 what);
		api_error(resp, 400, msg, NULL);
		return;
	}
	c.secs = duration(dur, &bad);
	if (bad) {
		api_error(resp, 422, "'for' must be a duration such as 90, "
			  "90s, 10m, 2h or 7d (at most a year).", NULL);
		return;
	}
	if (loop_call(op_on_loop, &c)) {
		api_error(resp, 503, "The SIP loop is not running.", NULL);
		return;
	}
	switch (c.err) {
	case 0:
		if (stored(d, resp, &c, what))
			return;
		api_ok(resp, json_pack("{s:b,s:s}", "ok", 1, "source", arg));
		return;
	case EPERM:
		snprintf(msg, sizeof(msg), "%.64s is in a trusted network: "
			 "trusted networks are never banned.", arg);
		api_error(resp, 409, msg, NULL);
		return;
	case ENOENT:
		snprintf(msg, sizeof(msg), "%.64s is not banned.", arg);
		api_error(resp, 404, msg, NULL);
		return;
	case ENOSPC:
		api_error(resp, 409, "The list of trusted networks is full "
			  "(256).", NULL);
		return;
	default:
		snprintf(msg, sizeof(msg), "%s: '%.64s' is not an IPv4 address "
			 "or IPv6 address/prefix (bans: one IPv4 address or an "
			 "IPv6 prefix of the guard's ipv6_prefix length; trust: "
			 "any CIDR network).", what, arg);
		api_error(resp, 422, msg, NULL);
		return;
	}
}

static void bans_list(struct daemon *d, const struct api_req *req,
		      struct api_resp *resp)
{
	get_route(d, resp, guard_bans);
}

static void bans_add(struct daemon *d, const struct api_req *req,
		     struct api_resp *resp)
{
	op_route(d, resp, guard_ban_add, "Ban",
		 json_string_value(json_object_get(req->body, "source")),
		 json_object_get(req->body, "for"));
}

static void bans_remove(struct daemon *d, const struct api_req *req,
			struct api_resp *resp)
{
	op_route(d, resp, remove_op, "Unban", req->param[0], NULL);
}

static void bans_remove_body(struct daemon *d, const struct api_req *req,
			     struct api_resp *resp)
{
	op_route(d, resp, remove_op, "Unban",
		 json_string_value(json_object_get(req->body, "source")), NULL);
}

static void trust_list(struct daemon *d, const struct api_req *req,
		       struct api_resp *resp)
{
	get_route(d, resp, guard_trusts);
}

static void trust_add(struct daemon *d, const struct api_req *req,
		      struct api_resp *resp)
{
	op_route(d, resp, guard_trust_add, "Trust",
		 json_string_value(json_object_get(req->body, "network")),
		 json_object_get(req->body, "for"));
}

static void guard_status_get(struct daemon *d, const struct api_req *req,
			     struct api_resp *resp)
{
	get_route(d, resp, guard_status);
}

static void events_get(struct daemon *d, const struct api_req *req,
		       struct api_resp *resp)
{
	const char *after = req->query ? req->query(req, "after") : NULL;
	const char *limit = req->query ? req->query(req, "limit") : NULL;
	const char *type = req->query ? req->query(req, "type") : NULL;
	long long a = after ? strtoll(after, NULL, 10) : 0;
	long l = limit ? strtol(limit, NULL, 10) : 200;
	json_t *out = NULL;

	if (!d->store) {
		api_error(resp, 503, "The store is not open.", NULL);
		return;
	}
	if (l <= 0 || l > 1000)
		l = 1000;
	if (guard_events_query(store_db_path(d->store), a, (unsigned)l,
			       &out)) {
		api_error(resp, 500, "Reading the security events failed.",
			  NULL);
		return;
	}
	if (type && *type) {
		json_t *f = json_array();
		size_t i;
		json_t *ev;
		json_array_foreach(out, i, ev) {
			const char *t = json_string_value(
				json_object_get(ev, "type"));
			if (t && !strcmp(t, type))
				json_array_append(f, ev);
		}
		json_decref(out);
		out = f;
	}
	api_ok(resp, out);
}

const struct api_route api_routes_guard[] = {
	{ "GET",    "/bans",           bans_list },
	{ "POST",   "/bans",           bans_add },
	{ "POST",   "/bans/remove",    bans_remove_body },
	{ "DELETE", "/bans/:source",   bans_remove },
	{ "GET",    "/trust",          trust_list },
	{ "POST",   "/trust",          trust_add },
	{ "GET",    "/events",         events_get },
	{ "GET",    "/guard/status",   guard_status_get },
};
const size_t api_routes_guard_n = API_ROUTES_N(api_routes_guard);
