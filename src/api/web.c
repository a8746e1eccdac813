/*
 * web — static files of the GUI, the login and the session cookie
 * (web.h). Why cookies at all: a browser that logged in with HTTP Basic
 * sends the password with every request and cannot log out; a session
 * id in an HttpOnly cookie is never seen by the page's script, expires,
 * and can be dropped. SameSite=Strict keeps other sites' pages from
 * sending it, and the CSRF token (a header only our own script can set)
 * covers the rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>

#include "api/auth.h"
#include "api/gate.h"
#include "api/routes.h"
#include "api/web.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "guard/guard.h"
#include "store/weblogin.h"

#define API_PREFIX     "/api/v1"
#define FILE_MAX       (4u << 20)   /* the largest file web/ may serve */
#define LOGIN_FAIL_MS  1000         /* as a failed HTTP Basic login */
#define CRED_MAX       256          /* user name or password, bytes */

/* The page's own script and style only: no inline script, no other
 * origin, no framing. media-src blob: for the voicemail player. */
static const char csp_page[] =
	"default-src 'none'; script-src 'self'; style-src 'self'; "
	"img-src 'self' data:; connect-src 'self'; media-src 'self' blob:; "
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
static const char csp_api[] = "default-src 'none'; frame-ancestors 'none'";

static struct {
	struct api_auth *auth;
	struct guard_admin *ga;
	struct daemon *d;
} bound;

void api_web_bind(struct api_auth *auth, struct guard_admin *ga,
		  struct daemon *d)
{
	bound.auth = auth;
	bound.ga = ga;
	bound.d = d;
}

const char *api_web_root(void)
{
	const char *env = getenv("BULWARK_WEB");

	if (env && *env)
		return env;
#ifdef BULWARK_SOURCE_WEB_DIR
	if (access(BULWARK_WEB_DIR "/index.html", R_OK) &&
	    !access(BULWARK_SOURCE_WEB_DIR "/index.html", R_OK))
		return BULWARK_SOURCE_WEB_DIR;
#endif
#ifdef BULWARK_WEB_DIR
	return BULWARK_WEB_DIR;
#else
	return "/usr/share/bulwark/web";
#endif
}

static void common_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

void api_web_api_headers(struct MHD_Response *r)
{
	common_headers(r);
	MHD_add_response_header(r, "Content-Security-Policy", csp_api);
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status,
			      const char *json, bool close)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(json),
		(void *)json, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (close)
		MHD_add_response_header(r, "Connection", "close");
	api_web_api_headers(r);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- static files ---- */

static const struct {
	const char *ext, *type;
} types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js",   "text/javascript; charset=utf-8" },
	{ ".css",  "text/css; charset=utf-8" },
	{ ".svg",  "image/svg+xml" },
	{ ".png",  "image/png" },
	{ ".ico",  "image/x-icon" },
	{ ".json", "application/json" },
	{ ".wav",  "audio/wav" },
};

static const char *type_of(const char *path)
{
	size_t i, pl = strlen(path);

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		size_t el = strlen(types[i].ext);

		if (pl > el && !strcmp(path + pl - el, types[i].ext))
			return types[i].type;
	}
	return NULL;
}

/* Only plain names below the root: letters, digits, '-', '_', '.', '/'
 * and no segment starting with a dot (no "..", no hidden files). */
static bool path_ok(const char *p)
{
	size_t i;

	if (p[0] != '/' || strlen(p) > 200)
		return false;
	for (i = 0; p[i]; i++) {
		char c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.' || c == '/'))
			return false;
		if (c == '/' && (p[i + 1] == '.' || p[i + 1] == '/'))
			return false;
	}
	return true;
}

static enum MHD_Result serve_file(struct MHD_Connection *conn,
				  const char *method, const char *url)
{
	char path[512];
	const char *rel = url, *type;
	struct MHD_Response *r;
	struct stat st;
	enum MHD_Result ret;
	int fd, n;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return answer(conn, 405, "{\"error\":\"The GUI's files are "
			      "only read (GET).\",\"errors\":[]}", false);
	/* the GUI is one page; its screens are #fragments */
	if (!strcmp(rel, "/") || !strcmp(rel, "/portal") ||
	    !strcmp(rel, "/portal/"))
		rel = "/index.html";
	type = path_ok(rel) ? type_of(rel) : NULL;
	n = snprintf(path, sizeof(path), "%s%s", api_web_root(), rel);
	if (!type || n < 0 || (size_t)n >= sizeof(path))
		return answer(conn, 404, "{\"error\":\"No such page.\","
			      "\"errors\":[]}", false);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return answer(conn, 404, "{\"error\":\"No such page.\","
			      "\"errors\":[]}", false);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > FILE_MAX) {
		close(fd);
		return answer(conn, 404, "{\"error\":\"No such page.\","
			      "\"errors\":[]}", false);
	}
	r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
	if (!r) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	/* revalidated each time: an upgrade shows at the next load */
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	common_headers(r);
	MHD_add_response_header(r, "Content-Security-Policy", csp_page);
	ret = MHD_queue_response(conn, 200, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- sessions ---- */

static bool is_read(const char *method)
{
	return !strcmp(method, "GET") || !strcmp(method, "HEAD");
}

/* Below /api/v1/me: the portal's, reached with the user's cookie. */
static bool portal_path(const char *url)
{
	size_t n = strlen(API_PREFIX "/me");

	return !strncmp(url, API_PREFIX "/me", n) &&
	       (url[n] == '\0' || url[n] == '/');
}

enum api_web_verdict api_web_admit(struct MHD_Connection *conn,
				   const char *method, const char *url,
				   enum MHD_Result *ret)
{
	size_t pl = strlen(API_PREFIX);
	const char *site, *cookie, *token;
	struct api_session_info info;
	bool portal;

	if (strncmp(url, API_PREFIX, pl) ||
	    (url[pl] != '/' && url[pl] != '\0')) {
		*ret = serve_file(conn, method, url);
		return API_WEB_ANSWERED;
	}
	/* A browser says where a request comes from: another site's page
	 * may not change anything here, whatever credential the browser
	 * would attach (a cached HTTP Basic one included). */
	site = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					   "Sec-Fetch-Site");
	if (!is_read(method) && site && strcmp(site, "same-origin") &&
	    strcmp(site, "none")) {
		*ret = answer(conn, 403, "{\"error\":\"Refused: a state change "
			      "sent by another site's page (CSRF).\","
			      "\"errors\":[]}", true);
		return API_WEB_ANSWERED;
	}
	if (!strcmp(method, "POST") && !strcmp(url, API_PREFIX "/session"))
		return API_WEB_LOGIN;
	portal = portal_path(url);
	cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND,
		portal ? API_WEB_COOKIE_USER : API_WEB_COOKIE_ADMIN);
	if (!cookie) {
		/* a portal user on an admin route: theirs is only /me */
		const char *u = portal ? NULL :
			MHD_lookup_connection_value(conn, MHD_COOKIE_KIND,
						    API_WEB_COOKIE_USER);

		if (u && !api_session_find(API_SESSION_USER, u, NULL)) {
			*ret = answer(conn, 403, "{\"error\":\"A portal login "
				      "reaches only its own extension, under "
				      "/api/v1/me.\",\"errors\":[]}", false);
			return API_WEB_ANSWERED;
		}
		/* the GUI's own requests get a plain 401: with
		 * WWW-Authenticate the browser would ask for a password in
		 * its own dialog */
		if (!portal && (!MHD_lookup_connection_value(conn,
				MHD_HEADER_KIND, "X-Bulwark-GUI") ||
				MHD_lookup_connection_value(conn,
				MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION)))
			return API_WEB_BASIC;
		*ret = answer(conn, 401, "{\"error\":\"Log in first.\","
			      "\"session\":\"none\",\"errors\":[]}", true);
		return API_WEB_ANSWERED;
	}
	if (api_session_find(portal ? API_SESSION_USER : API_SESSION_ADMIN,
			     cookie, &info)) {
		*ret = answer(conn, 401, "{\"error\":\"The session has ended "
			      "(idle too long, too old, or logged out): log "
			      "in again.\",\"session\":\"expired\","
			      "\"errors\":[]}", true);
		return API_WEB_ANSWERED;
	}
	if (!is_read(method)) {
		token = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						    API_WEB_CSRF_HEADER);
		if (!token || strlen(token) != strlen(info.csrf) ||
		    sodium_memcmp(token, info.csrf, strlen(info.csrf))) {
			sodium_memzero(&info, sizeof(info));
			*ret = answer(conn, 403, "{\"error\":\"Refused: the "
				      "request lacks this session's CSRF token "
				      "(header X-CSRF-Token).\",\"errors\":[]}",
				      false);
			return API_WEB_ANSWERED;
		}
	}
	sodium_memzero(&info, sizeof(info));
	return API_WEB_SESSION;
}

int api_web_session_of(const struct api_req *req, enum api_session_kind kind,
		       struct api_session_info *info)
{
	const char *cookie = req->conn ? MHD_lookup_connection_value(
		req->conn, MHD_COOKIE_KIND, kind == API_SESSION_USER ?
		API_WEB_COOKIE_USER : API_WEB_COOKIE_ADMIN) : NULL;

	return cookie ? api_session_find(kind, cookie, info) : ENOENT;
}

/* ---- the login ---- */

static bool over_tls(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
		MHD_CONNECTION_INFO_GNUTLS_SESSION);

	return ci && ci->tls_session;
}

static void set_cookie(struct api_resp *resp, struct MHD_Connection *conn,
		       const char *name, const char *value)
{
	/* no Max-Age: gone with the browser; the server ends it anyway */
	snprintf(resp->set_cookie, sizeof(resp->set_cookie),
		 "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s", name,
		 value ? value : "", over_tls(conn) ? "; Secure" : "",
		 value ? "" : "; Max-Age=0");
}

struct login_report {
	struct guard *g;
	struct guard_admin_fail f;
};

static void login_report_on_loop(void *arg)
{
	struct login_report *r = arg;

	guard_admin_report(r->g, &r->f, "web");
	free(r);
}

/* A failed GUI login counts like a failed HTTP Basic one: the same admin
 * scope, the same events, the same delay; the connection is closed. */
static void login_failed(struct MHD_Connection *conn, struct api_resp *resp)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
		MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct timespec ts = { LOGIN_FAIL_MS / 1000,
			       (LOGIN_FAIL_MS % 1000) * 1000000L };
	struct guard_admin_fail f;
	struct login_report *r;
	char msg[200];

	memset(&f, 0, sizeof(f));
	if (bound.ga && ci &&
	    !guard_admin_failed(bound.ga, ci->client_addr, &f)) {
		r = calloc(1, sizeof(*r));
		if (r && bound.d && bound.d->guard) {
			r->g = bound.d->guard;
			r->f = f;
			if (loop_post(login_report_on_loop, r) == 0)
				r = NULL;
		}
		free(r);
		log_warn("api", "POST /api/v1/session 401 from %s: web login "
			 "failed (%u of %u)%s", f.source, f.failures,
			 f.threshold, f.blocked_s ? ": address refused" : "");
	}
	nanosleep(&ts, NULL);
	if (f.blocked_s)
		snprintf(msg, sizeof(msg), "Wrong user name or password. Too "
			 "many failed logins: this address is refused for %u "
			 "seconds.", f.blocked_s);
	else
		snprintf(msg, sizeof(msg), "Wrong user name or password.");
	api_error(resp, 401, msg, NULL);
	if (f.threshold)
		json_object_set_new(resp->body, "failures",
				    json_pack("{s:I,s:I}", "count",
					      (json_int_t)f.failures,
					      "threshold",
					      (json_int_t)f.threshold));
	resp->close = true;
}

static json_t *session_json(const struct api_session_info *info)
{
	return json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I}",
		"kind", info->kind == API_SESSION_ADMIN ? "admin" : "user",
		"number", info->number, "csrf", info->csrf,
		"idle_timeout_s", (json_int_t)API_SESSION_IDLE_S,
		"absolute_timeout_s", (json_int_t)API_SESSION_ABS_S,
		"idle_left_s", (json_int_t)info->idle_left_s,
		"absolute_left_s", (json_int_t)info->abs_left_s);
}

static void login(struct daemon *d, const struct api_req *req,
		  struct api_resp *resp)
{
	const char *user = json_string_value(json_object_get(req->body, "user"));
	const char *pass = json_string_value(json_object_get(req->body,
							     "password"));
	const char *ct = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
						     "Content-Type");
	const union MHD_ConnectionInfo *ci;
	struct api_session_info info;
	char id[API_SESSION_TOKEN_SZ], number[24] = "";
	enum api_session_kind kind;
	bool ok;
	int err;

	/* JSON only: a form on another site cannot send this type without
	 * the browser asking first (CORS), and we never say yes */
	if (!ct || strncasecmp(ct, "application/json", 16)) {
		api_error(resp, 415, "Send the login as application/json.",
			  NULL);
		resp->close = true;
		return;
	}
	if (!user || !pass || !*user || strlen(user) > CRED_MAX ||
	    strlen(pass) > CRED_MAX) {
		api_error(resp, 400, "Send {\"user\": NAME, \"password\": "
			  "PASSWORD}.", NULL);
		resp->close = true;
		return;
	}
	if (!strcmp(user, API_AUTH_USER)) {
		kind = API_SESSION_ADMIN;
		ok = bound.auth && api_auth_check(bound.auth, user, pass);
	} else {
		kind = API_SESSION_USER;
		err = d && d->store ? store_web_login(d->store, user, pass,
						      number, sizeof(number)) :
		      EIO;
		ok = !err;
		if (err && err != EACCES) {
			api_error(resp, 503, "The portal's logins cannot be "
				  "checked now (database error).", NULL);
			return;
		}
	}
	if (!ok) {
		login_failed(req->conn, resp);
		return;
	}
	err = api_session_open(kind, number, id, &info);
	if (err) {
		api_error(resp, 503, "Too many open sessions: try again "
			  "later.", NULL);
		return;
	}
	ci = MHD_get_connection_info(req->conn,
				     MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	/* only the administrator's address earns the reserved slots */
	if (kind == API_SESSION_ADMIN && bound.ga && ci)
		guard_admin_ok(bound.ga, ci->client_addr);
	api_gate_authed(req->conn);
	set_cookie(resp, req->conn, kind == API_SESSION_ADMIN ?
		   API_WEB_COOKIE_ADMIN : API_WEB_COOKIE_USER, id);
	sodium_memzero(id, sizeof(id));
	api_ok(resp, session_json(&info));
	sodium_memzero(&info, sizeof(info));
	log_info("api", "web login: %s%s", kind == API_SESSION_ADMIN ?
		 "admin" : "portal user of extension ", number);
}

static void session_get(struct daemon *d, const struct api_req *req,
			struct api_resp *resp)
{
	struct api_session_info info;

	(void)d;
	if (api_web_session_of(req, API_SESSION_ADMIN, &info)) {
		/* HTTP Basic (a script): no session, nothing to refresh */
		api_ok(resp, json_pack("{s:s,s:n}", "kind", "admin", "csrf"));
		return;
	}
	api_ok(resp, session_json(&info));
	sodium_memzero(&info, sizeof(info));
}

static void session_delete(struct daemon *d, const struct api_req *req,
			   struct api_resp *resp)
{
	const char *c = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND,
						    API_WEB_COOKIE_ADMIN);

	(void)d;
	api_ok(resp, json_pack("{s:b}", "closed",
			       c && !api_session_close(API_SESSION_ADMIN, c)));
	set_cookie(resp, req->conn, API_WEB_COOKIE_ADMIN, NULL);
}

/* The portal's own session: its cookie is only read below /me. */
static void me_session_get(struct daemon *d, const struct api_req *req,
			   struct api_resp *resp)
{
	struct api_session_info info;

	(void)d;
	if (api_web_session_of(req, API_SESSION_USER, &info)) {
		api_error(resp, 401, "Log in to the portal first.", NULL);
		return;
	}
	api_ok(resp, session_json(&info));
	sodium_memzero(&info, sizeof(info));
}

static void me_session_delete(struct daemon *d, const struct api_req *req,
			      struct api_resp *resp)
{
	const char *c = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND,
						    API_WEB_COOKIE_USER);

	(void)d;
	api_ok(resp, json_pack("{s:b}", "closed",
			       c && !api_session_close(API_SESSION_USER, c)));
	set_cookie(resp, req->conn, API_WEB_COOKIE_USER, NULL);
}

const struct api_route api_routes_web[] = {
	{ "POST",   "/session",    login },
	{ "GET",    "/session",    session_get },
	{ "DELETE", "/session",    session_delete },
	{ "GET",    "/me/session", me_session_get },
	{ "DELETE", "/me/session", me_session_delete },
};
const size_t api_routes_web_n = API_ROUTES_N(api_routes_web);
