/*
 * api — the admin API server: libmicrohttpd on DATA/control.sock (file
 * mode is the authentication) and optionally on TCP (--http) and over TLS
 * (--https, certificate from tls.c) with HTTP Basic admin authentication
 * (auth.c). Requests are routed through the tables that
 * modules register (routes.h); handlers get the parsed JSON body.
 *
 * Threads: one MHD thread per connection, so a failed login can be
 * delayed (sleep) without blocking any other client. Connections are
 * bounded per listener; on TCP and HTTPS the gate (gate.c) bounds them per
 * source address, keeps slots for addresses that logged in, and gives an
 * unauthenticated request a total deadline; failed logins are counted in
 * the guard's admin scope (guard/admin.c), which answers 429 to an address
 * that failed too often. control.sock is never throttled: it is the way in
 * that always works.
 *
 * This file starts and stops the server and is the request entry: the
 * admin scope's 429, the web GUI, HTTP Basic, the body and its limits,
 * then dispatch. Its rooms (api_int.h): api_routes.c (route tables and
 * matching), api_send.c (answers and their headers), api_listen.c
 * (listeners, connections, HTTPS, limits).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "api/api.h"
#include "api/api_int.h"
#include "api/auth.h"
#include "api/gate.h"
#include "api/routes.h"
#include "api/web.h"
#include "common/log.h"
#include "guard/guard.h"

#define API_PREFIX      "/api/v1"
#define JSON_LIMIT      (1u << 20)     /* 1 MiB */
#define CSV_LIMIT       (32u << 20)    /* 32 MiB */
#define WAV_LIMIT       (2u << 20)     /* 2 MiB: a greeting (wavcheck.h) */

/* The running API, for its own status routes (one per process). */
struct api *api_running;
static bool access_routes_registered;

/* Per-request state, kept across MHD's calls for one request. */
struct reqstate {
	char *buf;
	size_t len, cap, limit;
	bool too_big;
	bool is_csv;
	bool is_wav;             /* audio/wav: a greeting upload */
	bool authed;
};

enum auth_result { AUTH_OK, AUTH_MISSING, AUTH_WRONG };

static enum auth_result check_auth(struct listener *l,
				   struct MHD_Connection *conn)
{
	char *pass = NULL;
	char *user = MHD_basic_auth_get_username_password(conn, &pass);
	enum auth_result ok = AUTH_MISSING;

	/* No credential at all is how a browser starts: answered 401 but
	 * not a failed login. */
	if (user && pass)
		ok = api_auth_check(l->api->auth, user, pass) ? AUTH_OK :
		     AUTH_WRONG;
	else if (user)
		ok = AUTH_WRONG;
	if (pass) {
		sodium_memzero(pass, strlen(pass));
		MHD_free(pass);
	}
	if (user)
		MHD_free(user);
	return ok;
}

static bool reveal_asked(struct MHD_Connection *conn)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
						    "reveal");

	return v && (!strcmp(v, "") || !strcmp(v, "1") ||
		     !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
		     !strcasecmp(v, "on"));
}

static bool is_csv_type(const char *ct)
{
	return ct && !strncasecmp(ct, "text/csv", 8);
}

/* audio/wav, audio/wave, audio/x-wav (parameters ignored) */
static bool is_wav_type(const char *ct)
{
	size_t n;

	if (!ct || strncasecmp(ct, "audio/", 6))
		return false;
	ct += 6;
	n = strcspn(ct, "; \t");
	return (n == 3 && !strncasecmp(ct, "wav", 3)) ||
	       (n == 4 && !strncasecmp(ct, "wave", 4)) ||
	       (n == 5 && !strncasecmp(ct, "x-wav", 5));
}

static const char *too_big_msg(const struct reqstate *st)
{
	if (st->is_csv)
		return "Request body too large: the limit is 32 MiB for CSV.";
	if (st->is_wav)
		return "Refused: greeting.size: must be at most 2 MiB "
		       "(2097152 octets) (rule greeting.size)";
	return "Request body too large: the limit is 1 MiB for JSON.";
}

enum MHD_Result api_on_request(void *cls, struct MHD_Connection *conn,
			       const char *url, const char *method,
			       const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	struct listener *l = cls;
	struct reqstate *st = *con_cls;
	struct api_req req;
	struct api_resp resp = { .status = 200 };
	json_error_t jerr;
	enum MHD_Result ret;
	const char *ct;

	if (!st) {
		const char *cl;

		st = calloc(1, sizeof(*st));
		if (!st)
			return MHD_NO;
		*con_cls = st;
		if (l->need_auth) {
			unsigned retry = 0;

			if (guard_admin_blocked(l->api->gadmin,
						api_client_sa(conn), &retry))
				return api_send_blocked(conn, l, method, url,
							retry);
			/* The web GUI (web.c): its files need no credential,
			 * its login and session cookie replace HTTP Basic. */
			switch (api_metrics_path(url) ? API_WEB_BASIC :
				api_web_admit(conn, method, url, &ret)) {
			case API_WEB_ANSWERED:
				return ret;
			case API_WEB_LOGIN:
				goto admitted;
			case API_WEB_SESSION:
				goto authed;
			default:
				break;
			}
			switch (check_auth(l, conn)) {
			case AUTH_OK:
				break;
			case AUTH_MISSING:
				return api_send_unauthorized(conn, l, method,
					url, "no admin credential");
			default:
				return api_auth_failed(conn, l, method, url);
			}
			guard_admin_ok(l->api->gadmin, api_client_sa(conn));
authed:
			api_gate_authed(conn);
			st->authed = true;
		}
admitted:
		/* Secrets in clear text only to this host: on plain HTTP
		 * they would cross the network (HTTPS and control.sock are
		 * fine). */
		if (l->plain && !api_sa_loopback(api_client_sa(conn)) &&
		    reveal_asked(conn))
			return api_send_error(conn, l, method, url, 403,
				"Secrets are not shown over plain HTTP except "
				"to a loopback address: use HTTPS (bulwarkd "
				"--https) or the control socket (bulwark on "
				"the server) for ?reveal=1.");
		ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 "Content-Type");
		st->is_csv = is_csv_type(ct);
		st->is_wav = is_wav_type(ct);
		st->limit = st->is_csv ? CSV_LIMIT : st->is_wav ? WAV_LIMIT :
			    JSON_LIMIT;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 "Content-Length");
		if (cl && strtoull(cl, NULL, 10) > st->limit)
			return api_send_error(conn, l, method, url, 413,
					      too_big_msg(st));
		return MHD_YES;
	}

	if (*upload_size) {
		size_t n = *upload_size;

		*upload_size = 0;
		if (st->too_big || st->len + n > st->limit) {
			st->too_big = true;
			return MHD_YES;     /* discard the rest */
		}
		if (st->len + n + 1 > st->cap) {
			size_t cap = st->cap ? st->cap : 4096;
			char *b;

			while (cap < st->len + n + 1)
				cap *= 2;
			if (cap > st->limit + 1)
				cap = st->limit + 1;
			b = realloc(st->buf, cap);
			if (!b)
				return MHD_NO;
			st->buf = b;
			st->cap = cap;
		}
		memcpy(st->buf + st->len, upload, n);
		st->len += n;
		st->buf[st->len] = '\0';
		return MHD_YES;
	}

	if (st->too_big)
		return api_send_error(conn, l, method, url, 413,
				      too_big_msg(st));

	if (api_metrics_path(url)) {
		api_metrics_get(l->api->d, method, &resp);
		ret = api_send_resp(conn, l, method, url, &resp);
		json_decref(resp.body);
		free(resp.raw);
		return ret;
	}
	if (strncmp(url, API_PREFIX, strlen(API_PREFIX)) ||
	    (url[strlen(API_PREFIX)] != '/' && url[strlen(API_PREFIX)] != '\0'))
		return api_send_error(conn, l, method, url, 404,
				      "No such resource: the API lives under /api/v1/.");

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = url + strlen(API_PREFIX);
	req.query = api_query_get;
	req.conn = conn;
	req.raw = st->buf;
	req.raw_len = st->len;
	if (st->len && !st->is_csv && !st->is_wav) {
		req.body = json_loadb(st->buf, st->len, JSON_REJECT_DUPLICATES,
				      &jerr);
		if (!req.body) {
			char msg[300];

			snprintf(msg, sizeof(msg),
				 "The request body is not valid JSON: %s "
				 "(line %d, column %d).", jerr.text, jerr.line,
				 jerr.column);
			return api_send_error(conn, l, method, url, 400, msg);
		}
	}
	api_route(l->api, &req, &resp);
	ret = api_send_resp(conn, l, method, url, &resp);
	json_decref(req.body);
	json_decref(resp.body);
	free(resp.raw);
	return ret;
}

void api_on_completed(void *cls, struct MHD_Connection *conn,
		      void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct reqstate *st = *con_cls;

	(void)cls;
	(void)toe;
	api_gate_request_done(conn);
	if (!st)
		return;
	free(st->buf);
	free(st);
	*con_cls = NULL;
}

int api_start(struct api **ap, struct daemon *d, const char *sock_path,
	      const char *http_addr)
{
	struct api *a;
	int err = 0;

	if (!ap || !sock_path)
		return EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return ENOMEM;
	a->d = d;
	a->unix_fd = -1;
	a->unix_l = (struct listener){ a, false, false, "unix" };
	a->tcp_l = (struct listener){ a, true, true, "tcp" };
	a->tls_l = (struct listener){ a, true, false, "https" };
	/* before any listener serves a request that may read it */
	api_running = a;
	if (!access_routes_registered) {
		err = api_routes_register(api_routes_access,
					  api_routes_access_n);
		if (err)
			goto out;
		/* the GUI's tables (web.h) */
		if (!err)
			err = api_routes_register(api_routes_web,
						  api_routes_web_n);
		if (!err)
			err = api_routes_register(api_routes_portal,
						  api_routes_portal_n);
		if (!err)
			err = api_routes_register(api_routes_greet,
						  api_routes_greet_n);
		if (!err)
			err = api_routes_register(api_routes_gui,
						  api_routes_gui_n);
		if (err)
			goto out;
		access_routes_registered = true;
	}

	err = api_unix_listen(a, sock_path);
	if (err)
		goto out;
	a->unix_mhd = api_mhd_start(&a->unix_l, &(struct mhd_spec){
		.fd = a->unix_fd, .idle_s = CONN_TIMEOUT_S });
	if (!a->unix_mhd) {
		err = EIO;
		goto out;
	}
	a->fd_owned_by_mhd = true;   /* MHD_stop_daemon closes it */

	if (http_addr) {
		struct sockaddr_storage ss;
		bool v6 = false;

		err = api_parse_addr(http_addr, &ss, &v6);
		if (err)
			goto out;
		if (!api_is_loopback(&ss))
			log_warn("api", "--http %s is not a loopback address: "
				 "the admin password crosses the network in "
				 "clear text; prefer --https", http_addr);
		err = api_auth_once(a);
		if (!err)
			err = api_gate_once(a, &a->tcp_gate, "tcp");
		if (err)
			goto out;
		a->tcp_mhd = api_mhd_start(&a->tcp_l, &(struct mhd_spec){
			.fd = -1, .ss = &ss, .v6 = v6, .idle_s = TCP_IDLE_S,
			.gate = a->tcp_gate });
		if (!a->tcp_mhd) {
			err = EADDRNOTAVAIL;
			goto out;
		}
	}
	*ap = a;
out:
	if (err)
		api_stop(a);
	return err;
}

void api_stop(struct api *a)
{
	if (!a)
		return;
	if (a->tls_mhd)
		MHD_stop_daemon(a->tls_mhd);
	api_tls_pem_free(a);
	if (a->tcp_mhd)
		MHD_stop_daemon(a->tcp_mhd);
	if (a->unix_mhd)
		MHD_stop_daemon(a->unix_mhd);
	if (api_running == a) {
		api_running = NULL;
		api_web_bind(NULL, NULL, NULL);
	}
	/* after the daemons: they report every connection closed */
	api_gate_free(a->tcp_gate);
	api_gate_free(a->tls_gate);
	guard_admin_free(a->gadmin);
	if (a->unix_fd >= 0) {
		if (!a->fd_owned_by_mhd)
			close(a->unix_fd);
		unlink(a->sock_path);
	}
	api_auth_free(a->auth);
	free(a);
}

