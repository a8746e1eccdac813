/*
 * api_routes — the admin API's route tables and matching: the tables
 * modules register (routes.h), a request path matched against their
 * patterns (the most literal segments win; 405 when only the method
 * differs), and the API's own routes: who is refused, and lifting it.
 * Part of the API server (api_int.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <microhttpd.h>

#include "api/api.h"
#include "api/api_int.h"
#include "api/gate.h"
#include "api/routes.h"
#include "guard/guard.h"

#define MAX_TABLES      16
#define MAX_SEGS        8

struct table {
	const struct api_route *routes;
	size_t n;
};

static struct table tables[MAX_TABLES];
static size_t n_tables;

int api_routes_register(const struct api_route *routes, size_t n)
{
	if (n_tables >= MAX_TABLES)
		return ENOSPC;
	tables[n_tables].routes = routes;
	tables[n_tables].n = n;
	n_tables++;
	return 0;
}

int api_query_flag(const struct api_req *req, const char *name)
{
	const char *v = req->query ? req->query(req, name) : NULL;

	if (!v)
		return 0;
	return !strcmp(v, "") || !strcmp(v, "1") || !strcasecmp(v, "true") ||
	       !strcasecmp(v, "yes") || !strcasecmp(v, "on");
}

/* ---- routing ---- */

static size_t split(char *path, char **seg, size_t max)
{
	size_t n = 0;
	char *save = NULL, *t;

	for (t = strtok_r(path, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (n == max)
			return max + 1;
		seg[n++] = t;
	}
	return n;
}

/* Match path against pattern; params filled in order. Returns the number
 * of literal segments matched (higher wins), or -1. */
static int match(const char *pattern, char **seg, size_t nseg,
		 const char **param)
{
	char pbuf[256];
	char *pseg[MAX_SEGS];
	size_t np, i, k = 0;
	int lit = 0;

	if (strlen(pattern) >= sizeof(pbuf))
		return -1;
	memcpy(pbuf, pattern, strlen(pattern) + 1);
	np = split(pbuf, pseg, MAX_SEGS);
	if (np != nseg)
		return -1;
	for (i = 0; i < np; i++) {
		if (pseg[i][0] == ':') {
			if (k < 4)
				param[k++] = seg[i];
			continue;
		}
		if (strcmp(pseg[i], seg[i]))
			return -1;
		lit++;
	}
	return lit;
}

const char *api_query_get(const struct api_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
					   name);
}

void api_route(struct api *a, struct api_req *req, struct api_resp *resp)
{
	char pbuf[1024];
	char *seg[MAX_SEGS];
	size_t nseg, t, i;
	const struct api_route *best = NULL;
	const char *best_param[4] = { NULL };
	int best_score = -1;
	bool path_known = false;

	if (strlen(req->path) >= sizeof(pbuf)) {
		api_error(resp, 404, "No such resource.", NULL);
		return;
	}
	memcpy(pbuf, req->path, strlen(req->path) + 1);
	nseg = split(pbuf, seg, MAX_SEGS);
	if (nseg > MAX_SEGS) {
		api_error(resp, 404, "No such resource.", NULL);
		return;
	}
	for (t = 0; t < n_tables; t++) {
		for (i = 0; i < tables[t].n; i++) {
			const struct api_route *r = &tables[t].routes[i];
			const char *param[4] = { NULL };
			int score = match(r->pattern, seg, nseg, param);

			if (score < 0)
				continue;
			path_known = true;
			if (strcmp(r->method, req->method))
				continue;
			if (score > best_score) {
				best = r;
				best_score = score;
				memcpy(best_param, param, sizeof(param));
			}
		}
	}
	if (!best) {
		if (path_known)
			api_error(resp, 405, "Method not allowed on this resource.",
				  NULL);
		else
			api_error(resp, 404, "No such resource.", NULL);
		return;
	}
	memcpy(req->param, best_param, sizeof(best_param));
	best->h(a->d, req, resp);
}

/* ---- the API's own routes: who is being refused, and lifting it ---- */

static void access_get(struct daemon *d, const struct api_req *req,
		       struct api_resp *resp)
{
	struct api *a = api_running;
	json_t *gs;

	(void)d;
	(void)req;
	if (!a) {
		api_error(resp, 503, "The admin API is stopping.", NULL);
		return;
	}
	gs = a->gadmin ? guard_admin_status(a->gadmin) : NULL;
	api_ok(resp, json_pack("{s:o,s:o,s:o}",
		"admin_scope", gs ? gs : json_null(),
		"tcp", a->tcp_gate ? api_gate_status(a->tcp_gate) : json_null(),
		"https", a->tls_gate ? api_gate_status(a->tls_gate) :
			 json_null()));
}

static void access_unblock(struct daemon *d, const struct api_req *req,
			   struct api_resp *resp)
{
	struct api *a = api_running;
	char msg[200];
	int err;

	(void)d;
	err = a ? guard_admin_unblock(a->gadmin, req->param[0]) : ENOENT;
	if (!err) {
		api_ok(resp, json_pack("{s:b,s:s}", "ok", 1, "source",
				       req->param[0]));
		return;
	}
	if (err == ENOENT)
		snprintf(msg, sizeof(msg), "%.64s is not blocked from the "
			 "admin API.", req->param[0]);
	else
		snprintf(msg, sizeof(msg), "'%.64s' is not an IPv4 or IPv6 "
			 "address.", req->param[0]);
	api_error(resp, err == ENOENT ? 404 : 422, msg, NULL);
}

const struct api_route api_routes_access[] = {
	{ "GET",    "/admin/access",                 access_get },
	{ "DELETE", "/admin/access/blocks/:source",  access_unblock },
};
const size_t api_routes_access_n = API_ROUTES_N(api_routes_access);
