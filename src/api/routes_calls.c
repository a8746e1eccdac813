/*
 * routes_calls — calls: the live ones, read on the loop thread
 * (loop_call: the call layer is data plane and never shared), and the
 * finished ones (call detail records) from the store.
 *
 *   GET /calls                     live calls (call_list, call/call.h)
 *   GET /cdr?since=WHEN&limit=N    call records, newest first
 *
 * WHEN is unix milliseconds or an ISO 8601 time (UTC unless it carries
 * an offset): 2026-12-05, 2026-12-05T14:00, 2026-12-05T14:00:30.250Z,
 * 2026-12-05T15:00+01:00. N is 1..10000 (default 100).
 */
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "api/routes.h"
#include "call/call.h"
#include "common/report.h"
#include "daemon/daemon.h"
#include "store/cdr_db.h"

#define CDR_LIMIT_DEF 100
#define CDR_LIMIT_MAX 10000
/* 9999-12-31T23:59:59.999Z: what an ISO time can say, and the bound of
 * a number of milliseconds */
#define WHEN_MAX_MS 253402300799999LL

/* ---- live calls ---- */

struct calls_ask {
	struct daemon *d;
	json_t *out;
};

static void calls_on_loop(void *arg)
{
	struct calls_ask *c = arg;

	c->out = c->d->calls ? call_list(c->d->calls) : NULL;
}

static void calls_get(struct daemon *d, const struct api_req *req,
		      struct api_resp *resp)
{
	struct calls_ask c = { .d = d, .out = NULL };

	if (d->calls && !loop_call(calls_on_loop, &c) && c.out) {
		api_ok(resp, c.out);
		return;
	}
	api_error(resp, 503, "The call service is not running.", NULL);
}

/* ---- call records ---- */

/* n digits at *p as a number; false unless there are exactly n. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char ch = (*p)[i];

		if (ch < '0' || ch > '9')
			return false;
		v = v * 10 + (ch - '0');
	}
	*p += n;
	*out = v;
	return true;
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar
 * (eras of 400 years, March-based years so that the leap day is last). */
static int64_t days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int month_days(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
				      30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* The time part after 'T': HH:MM[:SS[.fff]][Z|+HH:MM|-HH:MM|+HHMM]; ms
 * of the day, shifted by the offset. */
static bool parse_clock(const char *p, int64_t *ms)
{
	int hh, mi, ss = 0, frac = 0, oh = 0, om = 0, sign = 0;

	if (!digits(&p, 2, &hh) || *p++ != ':' || !digits(&p, 2, &mi))
		return false;
	if (*p == ':') {
		p++;
		if (!digits(&p, 2, &ss))
			return false;
		if (*p == '.' || *p == ',') {
			int n = 0;

			for (p++; *p >= '0' && *p <= '9'; p++, n++)
				if (n < 3)
					frac = frac * 10 + (*p - '0');
			if (n == 0 || n > 9)
				return false;
			for (; n < 3; n++)
				frac *= 10;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (!digits(&p, 2, &oh))
			return false;
		if (*p == ':')
			p++;
		if (!digits(&p, 2, &om) || oh > 23 || om > 59)
			return false;
	}
	if (*p || hh > 23 || mi > 59 || ss > 59)
		return false;
	*ms = ((int64_t)hh * 3600 + mi * 60 + ss) * 1000 + frac -
	      (int64_t)sign * (oh * 3600 + om * 60) * 1000;
	return true;
}

/* since=: unix ms, or ISO 8601 YYYY-MM-DD[THH:MM...] (see the top). */
static bool parse_when(const char *v, int64_t *out)
{
	const char *p = v;
	int64_t ms = 0, clock = 0;
	int y, m, d;

	if (*p >= '0' && *p <= '9' && strspn(p, "0123456789") == strlen(p)) {
		if (strlen(p) > 15)
			return false;
		for (; *p; p++)
			ms = ms * 10 + (*p - '0');
		if (ms > WHEN_MAX_MS)
			return false;
		*out = ms;
		return true;
	}
	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &m) ||
	    *p++ != '-' || !digits(&p, 2, &d))
		return false;
	if (y < 1970 || m < 1 || m > 12 || d < 1 || d > month_days(y, m))
		return false;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		if (!parse_clock(p + 1, &clock))
			return false;
	} else if (*p) {
		return false;
	}
	ms = days_from_civil(y, m, d) * 86400000 + clock;
	if (ms < 0 || ms > WHEN_MAX_MS)
		return false;
	*out = ms;
	return true;
}

static bool parse_limit(const char *v, size_t *out)
{
	size_t n = 0;

	if (!*v || strlen(v) > 5 || strspn(v, "0123456789") != strlen(v))
		return false;
	for (; *v; v++)
		n = n * 10 + (size_t)(*v - '0');
	if (n < 1 || n > CDR_LIMIT_MAX)
		return false;
	*out = n;
	return true;
}

/* 400 naming the parameter and its rule. */
static void bad_param(struct api_resp *resp, const char *name,
		      const char *rule, const char *must)
{
	struct report r;
	char msg[300];

	report_init(&r);
	report_add(&r, "", name, rule, "'%s' must be %s.", name, must);
	snprintf(msg, sizeof(msg), "Bad query parameter '%s': it must be %s "
		 "(rule %s).", name, must, rule);
	api_error(resp, 400, msg, &r);
	report_reset(&r);
}

static void cdr_get(struct daemon *d, const struct api_req *req,
		    struct api_resp *resp)
{
	const char *since = req->query ? req->query(req, "since") : NULL;
	const char *limit = req->query ? req->query(req, "limit") : NULL;
	int64_t since_ms = 0;
	size_t lim = CDR_LIMIT_DEF;
	json_t *out;

	if (since && *since && !parse_when(since, &since_ms)) {
		bad_param(resp, "since", "cdr.since", "unix milliseconds or "
			  "an ISO 8601 time such as 2026-12-05, "
			  "2026-12-05T14:00Z or 2026-12-05T15:00:00+01:00, "
			  "UTC unless it has an offset");
		return;
	}
	if (limit && *limit && !parse_limit(limit, &lim)) {
		bad_param(resp, "limit", "cdr.limit", "a whole number from 1 "
			  "to 10000");
		return;
	}
	if (!d->store) {
		api_error(resp, 503, "The store is not open.", NULL);
		return;
	}
	out = store_cdr_list(d->store, since_ms, lim);
	if (!out) {
		api_error(resp, 500, "Reading the call records failed.", NULL);
		return;
	}
	api_ok(resp, out);
}

const struct api_route api_routes_calls[] = {
	{ "GET", "/calls", calls_get },
	{ "GET", "/cdr",   cdr_get },
};
const size_t api_routes_calls_n = API_ROUTES_N(api_routes_calls);
