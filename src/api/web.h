/*
 * web — the web GUI on the admin API's TCP and HTTPS listeners (internal
 * to src/api): the static files of web/, the login that opens a session
 * (session.h) instead of HTTP Basic, the session cookie and its CSRF
 * token, and the headers every answer carries (Content-Security-Policy,
 * frame-ancestors, no caching of the API).
 *
 * api.c (the request entry) calls api_web_admit for every request on a
 * listener that needs authentication, after the admin scope's 429 and
 * before HTTP Basic.
 * control.sock does not serve the GUI.
 */
#ifndef BULWARK_API_WEB_H
#define BULWARK_API_WEB_H

#include <microhttpd.h>

#include "api/api.h"
#include "api/session.h"

struct api_auth;
struct guard_admin;
struct daemon;

#define API_WEB_COOKIE_ADMIN "bw_admin"
#define API_WEB_COOKIE_USER  "bw_user"
#define API_WEB_CSRF_HEADER  "X-CSRF-Token"

enum api_web_verdict {
	API_WEB_BASIC,     /* not the GUI's: HTTP Basic decides, as before */
	API_WEB_ANSWERED,  /* answered (a file, 401, 403): return *ret */
	API_WEB_SESSION,   /* a live session (CSRF checked): authenticated */
	API_WEB_LOGIN,     /* POST /api/v1/session: the handler decides */
};

/* What the login route checks against (api_listen.c, once the
 * credential is loaded; api.c: NULLs when the API stops). */
void api_web_bind(struct api_auth *auth, struct guard_admin *ga,
		  struct daemon *d);

/* Classify (and for files, answer) a request; see the verdicts. */
enum api_web_verdict api_web_admit(struct MHD_Connection *conn,
				   const char *method, const char *url,
				   enum MHD_Result *ret);

/* The security headers of every API answer on every listener. */
void api_web_api_headers(struct MHD_Response *r);

/* The session of kind that the request's cookie names: 0 with info, or
 * ENOENT. For the portal's and the session's handlers. */
int api_web_session_of(const struct api_req *req, enum api_session_kind kind,
		       struct api_session_info *info);

/* The directory the GUI's files are served from: $BULWARK_WEB, else the
 * installed one, else (bulwarkd run from its build tree) the source
 * tree's web/. */
const char *api_web_root(void);

/* Route tables of the GUI, registered by api_start: the login and the
 * admin's session (web.c), the portal (routes_portal.c, routes_greet.c),
 * the schema and the extension page (routes_gui.c). */
extern const struct api_route api_routes_web[];
extern const size_t api_routes_web_n;
extern const struct api_route api_routes_portal[];
extern const size_t api_routes_portal_n;
extern const struct api_route api_routes_gui[];
extern const size_t api_routes_gui_n;
/* the portal's greetings (routes_greet.c) */
extern const struct api_route api_routes_greet[];
extern const size_t api_routes_greet_n;

/* The portal session's extension number into number, or false with a
 * 401 in resp (routes_portal.c). */
bool api_portal_whose(const struct api_req *req, struct api_resp *resp,
		      char *number, size_t sz);

#endif
