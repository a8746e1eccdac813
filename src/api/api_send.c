/*
 * api_send — the admin API's answers: the JSON (or raw) reply with the
 * headers every answer carries (no-store, the GUI's CSP and framing
 * headers, the session cookie), error bodies, the 401 after a failed or
 * missing credential (a failed one counted in the guard's admin scope and
 * reported as a security event) and the 429 to a blocked address; each
 * logged once, with untrusted text made printable and the 401/429 lines
 * rate-limited. Part of the API server (api_int.h).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>

#include "api/api.h"
#include "api/api_int.h"
#include "api/web.h"
#include "common/log.h"
#include "common/report.h"
#include "daemon/daemon.h"
#include "guard/guard.h"
#include "store/store.h"

#define AUTH_FAIL_DELAY_MS 1000
#define AUTH_LOG_BURST  50    /* 401/429 lines per MHD_LOG_WINDOW_S */

static struct loglimit auth_lines = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };

void api_ok(struct api_resp *resp, json_t *body)
{
	resp->status = 200;
	json_decref(resp->body);
	resp->body = body;
}

void api_error(struct api_resp *resp, int status, const char *msg,
	       const struct report *r)
{
	json_t *errors = r ? store_report_json(r) : NULL;

	resp->status = status;
	json_decref(resp->body);
	free(resp->raw);
	resp->raw = NULL;
	resp->body = json_pack("{s:s,s:o}", "error", msg ? msg : "error",
			       "errors", errors ? errors : json_array());
}

/* Printable copy of untrusted text for the log. */
static void sanitize(char *dst, size_t sz, const char *src)
{
	size_t i;

	for (i = 0; src && src[i] && i + 1 < sz; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = (ch < 0x20 || ch > 0x7e) ? '?' : (char)ch;
	}
	dst[i] = '\0';
}

enum MHD_Result api_send_resp(struct MHD_Connection *conn,
			      struct listener *l, const char *method,
			      const char *url, struct api_resp *resp)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char m[16], u[200];

	if (resp->raw) {
		r = MHD_create_response_from_buffer(resp->raw_len, resp->raw,
						    MHD_RESPMEM_MUST_FREE);
		if (r)
			resp->raw = NULL;
		if (r)
			MHD_add_response_header(r, "Content-Type",
				resp->content_type ? resp->content_type :
				"application/octet-stream");
	} else {
		char *text;
		size_t len;

		if (!resp->body)
			resp->body = json_object();
		text = json_dumps(resp->body, JSON_COMPACT);
		if (!text)
			return MHD_NO;
		len = strlen(text);
		/* JSON replies end with a newline: nicer for curl users. */
		{
			char *t2 = realloc(text, len + 2);

			if (!t2) {
				free(text);
				return MHD_NO;
			}
			text = t2;
			text[len++] = '\n';
			text[len] = '\0';
		}
		r = MHD_create_response_from_buffer(len, text,
						    MHD_RESPMEM_MUST_FREE);
		if (!r)
			free(text);
		if (r)
			MHD_add_response_header(r, "Content-Type",
						"application/json");
	}
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Cache-Control", "no-store");
	/* the GUI's headers (web.c): no framing, no script in API answers */
	api_web_api_headers(r);
	if (resp->set_cookie[0])
		MHD_add_response_header(r, "Set-Cookie", resp->set_cookie);
	if (resp->close)
		MHD_add_response_header(r, "Connection", "close");
	ret = MHD_queue_response(conn, (unsigned)resp->status, r);
	MHD_destroy_response(r);

	sanitize(m, sizeof(m), method);
	sanitize(u, sizeof(u), url);
	log_info("api", "%s %s %d (%s)", m, u, resp->status, l->name);
	return ret;
}

enum MHD_Result api_send_error(struct MHD_Connection *conn,
			       struct listener *l, const char *method,
			       const char *url, int status, const char *msg)
{
	struct api_resp resp = { .status = 200 };
	enum MHD_Result ret;

	api_error(&resp, status, msg, NULL);
	ret = api_send_resp(conn, l, method, url, &resp);
	json_decref(resp.body);
	return ret;
}

/* 401 with WWW-Authenticate, after a delay that holds only this
 * connection's thread. why: what the log line says after the address.
 * The connection is closed after it: a client without the credential
 * must not keep a slot by sending request after request on it. */
enum MHD_Result api_send_unauthorized(struct MHD_Connection *conn,
				      struct listener *l,
				      const char *method, const char *url,
				      const char *why)
{
	static const char body[] =
		"{\"error\":\"Authentication required: HTTP Basic with user "
		"admin and the password bulwarkd wrote to DATA/admin-password "
		"at first start.\","
		"\"errors\":[]}\n";
	struct timespec ts = { AUTH_FAIL_DELAY_MS / 1000,
			       (AUTH_FAIL_DELAY_MS % 1000) * 1000000L };
	struct MHD_Response *r;
	enum MHD_Result ret;
	char m[16], u[200], addr[64];
	unsigned dropped;

	nanosleep(&ts, NULL);
	r = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body,
					    MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "Connection", "close");
	ret = MHD_queue_basic_auth_fail_response(conn, "bulwark", r);
	MHD_destroy_response(r);
	sanitize(m, sizeof(m), method);
	sanitize(u, sizeof(u), url);
	api_client_str(conn, addr, sizeof(addr));
	if (api_log_allowed(&auth_lines, AUTH_LOG_BURST, &dropped))
		log_warn("api", "%s %s 401 (%s) from %s: %s%s", m, u, l->name,
			 addr, why, dropped ? " (earlier 401/429 lines "
			 "suppressed: see the security events)" : "");
	return ret;
}

/* 429 to an address the admin scope blocked: at once, without looking at
 * the credential (no argon2id for it), then close. */
enum MHD_Result api_send_blocked(struct MHD_Connection *conn,
				 struct listener *l, const char *method,
				 const char *url, unsigned retry_s)
{
	char body[300], retry[24], m[16], u[200], addr[64];
	struct MHD_Response *r;
	enum MHD_Result ret;
	unsigned dropped;
	int n;

	n = snprintf(body, sizeof(body), "{\"error\":\"Too many failed admin "
		     "logins from this address: refused for %u more seconds. "
		     "On the server, 'bulwark' (control.sock) still works.\","
		     "\"errors\":[]}\n", retry_s);
	if (n < 0 || (size_t)n >= sizeof(body))
		return MHD_NO;
	r = MHD_create_response_from_buffer((size_t)n, body,
					    MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	snprintf(retry, sizeof(retry), "%u", retry_s);
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "Retry-After", retry);
	MHD_add_response_header(r, "Connection", "close");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	ret = MHD_queue_response(conn, 429, r);
	MHD_destroy_response(r);
	sanitize(m, sizeof(m), method);
	sanitize(u, sizeof(u), url);
	api_client_str(conn, addr, sizeof(addr));
	if (api_log_allowed(&auth_lines, AUTH_LOG_BURST, &dropped))
		log_info("api", "%s %s 429 (%s) from %s: blocked after failed "
			 "admin logins (%u s left)%s", m, u, l->name, addr,
			 retry_s, dropped ? " (earlier 401/429 lines "
			 "suppressed: see the security events)" : "");
	return ret;
}

struct admin_report {
	struct guard *g;
	struct guard_admin_fail f;
	const char *listener;
};

static void admin_report_on_loop(void *arg)
{
	struct admin_report *r = arg;

	guard_admin_report(r->g, &r->f, r->listener);
	free(r);
}

/* A wrong credential: counted in the admin scope, logged with the
 * address, a security event through the guard (on its loop: the admin
 * never waits for it). */
enum MHD_Result api_auth_failed(struct MHD_Connection *conn,
				struct listener *l, const char *method,
				const char *url)
{
	struct api *a = l->api;
	struct admin_report *r = calloc(1, sizeof(*r));
	struct guard_admin_fail f;
	char why[200];

	if (guard_admin_failed(a->gadmin, api_client_sa(conn), &f)) {
		free(r);
		return api_send_unauthorized(conn, l, method, url,
					     "admin authentication failed");
	}
	if (f.blocked_s)
		snprintf(why, sizeof(why), "admin authentication failed "
			 "(%u of %u): address refused for %u s", f.failures,
			 f.threshold, f.blocked_s);
	else
		snprintf(why, sizeof(why), "admin authentication failed "
			 "(%u of %u)", f.failures, f.threshold);
	if (r && a->d && a->d->guard) {
		r->g = a->d->guard;
		r->f = f;
		r->listener = l->name;
		if (loop_post(admin_report_on_loop, r) == 0)
			r = NULL;
	}
	free(r);
	return api_send_unauthorized(conn, l, method, url, why);
}

