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
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "api/api.h"
#include "api/auth.h"
#include "api/gate.h"
#include "api/routes.h"
#include "api/tls.h"
#include "api/web.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "common/report.h"
#include "guard/guard.h"
#include "store/store.h"

#define API_PREFIX      "/api/v1"
#define MAX_TABLES      16
#define MAX_SEGS        8
#define JSON_LIMIT      (1u << 20)     /* 1 MiB */
#define CSV_LIMIT       (32u << 20)    /* 32 MiB */
#define WAV_LIMIT       (2u << 20)     /* 2 MiB: a greeting (wavcheck.h) */
#define CONN_LIMIT      64
#define PER_IP_LIMIT    8     /* per address that logged in (and MHD's cap) */
#define PER_IP_NEW      4     /* per address that did not */
#define CONN_RESERVE    16    /* slots only addresses that logged in get */
#define CONN_TIMEOUT_S  60    /* idle, control.sock */
#define TCP_IDLE_S      15    /* idle, TCP and HTTPS (renewed by a byte) */
#define REQ_DEADLINE_MS 10000 /* accept → authenticated header, in all */
#define AUTH_FAIL_DELAY_MS 1000
#define MHD_LOG_BURST   20    /* libmicrohttpd lines per MHD_LOG_WINDOW_S */
#define AUTH_LOG_BURST  50    /* 401/429 lines per MHD_LOG_WINDOW_S */
#define MHD_LOG_WINDOW_S 10
/* TLS 1.2 and 1.3 only, GnuTLS's NORMAL ciphers otherwise */
#define TLS_PRIORITIES  "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

struct table {
	const struct api_route *routes;
	size_t n;
};

static struct table tables[MAX_TABLES];
static size_t n_tables;

struct listener {
	struct api *api;
	bool need_auth;
	bool plain;              /* TCP without TLS: secrets only to loopback */
	const char *name;        /* "unix", "tcp" or "https", for the log */
};

struct api {
	struct daemon *d;
	struct MHD_Daemon *unix_mhd;
	struct MHD_Daemon *tcp_mhd;
	struct MHD_Daemon *tls_mhd;
	char *tls_cert, *tls_key;  /* PEM, kept while tls_mhd runs */
	int unix_fd;
	bool fd_owned_by_mhd;
	char sock_path[256];
	struct api_auth *auth;
	struct guard_admin *gadmin;     /* failed logins, admin scope */
	struct api_gate *tcp_gate, *tls_gate;
	struct listener unix_l, tcp_l, tls_l;
};

/* The running API, for its own status routes (one per process). */
static struct api *the_api;
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

int api_routes_register(const struct api_route *routes, size_t n)
{
	if (n_tables >= MAX_TABLES)
		return ENOSPC;
	tables[n_tables].routes = routes;
	tables[n_tables].n = n;
	n_tables++;
	return 0;
}

void api_ok(struct api_resp *resp, json_t *body)
{
	resp->status = 200;
	json_decref(resp->body);
	resp->body = body;
}

int api_query_flag(const struct api_req *req, const char *name)
{
	const char *v = req->query ? req->query(req, name) : NULL;

	if (!v)
		return 0;
	return !strcmp(v, "") || !strcmp(v, "1") || !strcasecmp(v, "true") ||
	       !strcasecmp(v, "yes") || !strcasecmp(v, "on");
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

static const char *query_get(const struct api_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
					   name);
}

static void route(struct api *a, struct api_req *req, struct api_resp *resp)
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

/* ---- MHD plumbing ---- */

/* Lines that strangers can cause (libmicrohttpd's one line per refused
 * or broken connection, 401 and 429 lines) must not turn a flood into a
 * flood of log lines: at most burst per MHD_LOG_WINDOW_S; the rest are
 * counted and the count is said with the next line let through. */
struct loglimit {
	pthread_mutex_t lock;
	time_t window;
	unsigned n, dropped;
};

static struct loglimit mhd_lines = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };
static struct loglimit auth_lines = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };

/* True if a line may be written now; *dropped: lines held back before. */
static bool log_allowed(struct loglimit *ll, unsigned burst,
			unsigned *dropped)
{
	struct timespec ts;
	bool ok = false;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	pthread_mutex_lock(&ll->lock);
	if (ts.tv_sec - ll->window >= MHD_LOG_WINDOW_S) {
		ll->window = ts.tv_sec;
		ll->n = 0;
	}
	*dropped = 0;
	if (ll->n < burst) {
		ll->n++;
		*dropped = ll->dropped;
		ll->dropped = 0;
		ok = true;
	} else {
		ll->dropped++;
	}
	pthread_mutex_unlock(&ll->lock);
	return ok;
}

__attribute__((format(printf, 2, 0)))
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	unsigned dropped = 0;

	(void)cls;
	if (!log_allowed(&mhd_lines, MHD_LOG_BURST, &dropped))
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\r\n")] = '\0';
	if (dropped)
		log_warn("api", "http: %s (and %u similar lines suppressed)",
			 buf, dropped);
	else
		log_warn("api", "http: %s", buf);
}

/* The client's address as text ("192.0.2.7", "2001:db8::1"; "local" for
 * control.sock). */
static const struct sockaddr *client_sa(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
		MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	return ci ? ci->client_addr : NULL;
}

static void client_str(struct MHD_Connection *conn, char *buf, size_t sz)
{
	const struct sockaddr *sa = client_sa(conn);

	if (sa && sa->sa_family == AF_INET &&
	    inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		      buf, (socklen_t)sz))
		return;
	if (sa && sa->sa_family == AF_INET6 &&
	    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		      buf, (socklen_t)sz))
		return;
	snprintf(buf, sz, "local");
}

static bool sa_loopback(const struct sockaddr *sa)
{
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
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

static enum MHD_Result send_resp(struct MHD_Connection *conn,
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

static enum MHD_Result send_error(struct MHD_Connection *conn,
				  struct listener *l, const char *method,
				  const char *url, int status, const char *msg)
{
	struct api_resp resp = { .status = 200 };
	enum MHD_Result ret;

	api_error(&resp, status, msg, NULL);
	ret = send_resp(conn, l, method, url, &resp);
	json_decref(resp.body);
	return ret;
}

/* 401 with WWW-Authenticate, after a delay that holds only this
 * connection's thread. why: what the log line says after the address.
 * The connection is closed after it: a client without the credential
 * must not keep a slot by sending request after request on it. */
static enum MHD_Result send_unauthorized(struct MHD_Connection *conn,
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
	client_str(conn, addr, sizeof(addr));
	if (log_allowed(&auth_lines, AUTH_LOG_BURST, &dropped))
		log_warn("api", "%s %s 401 (%s) from %s: %s%s", m, u, l->name,
			 addr, why, dropped ? " (earlier 401/429 lines "
			 "suppressed: see the security events)" : "");
	return ret;
}

/* 429 to an address the admin scope blocked: at once, without looking at
 * the credential (no argon2id for it), then close. */
static enum MHD_Result send_blocked(struct MHD_Connection *conn,
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
	client_str(conn, addr, sizeof(addr));
	if (log_allowed(&auth_lines, AUTH_LOG_BURST, &dropped))
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
static enum MHD_Result auth_failed(struct MHD_Connection *conn,
				   struct listener *l, const char *method,
				   const char *url)
{
	struct api *a = l->api;
	struct admin_report *r = calloc(1, sizeof(*r));
	struct guard_admin_fail f;
	char why[200];

	if (guard_admin_failed(a->gadmin, client_sa(conn), &f)) {
		free(r);
		return send_unauthorized(conn, l, method, url,
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
	return send_unauthorized(conn, l, method, url, why);
}

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

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
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

			if (guard_admin_blocked(l->api->gadmin, client_sa(conn),
						&retry))
				return send_blocked(conn, l, method, url, retry);
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
				return send_unauthorized(conn, l, method, url,
					"no admin credential");
			default:
				return auth_failed(conn, l, method, url);
			}
			guard_admin_ok(l->api->gadmin, client_sa(conn));
authed:
			api_gate_authed(conn);
			st->authed = true;
		}
admitted:
		/* Secrets in clear text only to this host: on plain HTTP
		 * they would cross the network (HTTPS and control.sock are
		 * fine). */
		if (l->plain && !sa_loopback(client_sa(conn)) &&
		    reveal_asked(conn))
			return send_error(conn, l, method, url, 403,
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
			return send_error(conn, l, method, url, 413,
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
		return send_error(conn, l, method, url, 413, too_big_msg(st));

	if (api_metrics_path(url)) {
		api_metrics_get(l->api->d, method, &resp);
		ret = send_resp(conn, l, method, url, &resp);
		json_decref(resp.body);
		free(resp.raw);
		return ret;
	}
	if (strncmp(url, API_PREFIX, strlen(API_PREFIX)) ||
	    (url[strlen(API_PREFIX)] != '/' && url[strlen(API_PREFIX)] != '\0'))
		return send_error(conn, l, method, url, 404,
				  "No such resource: the API lives under /api/v1/.");

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = url + strlen(API_PREFIX);
	req.query = query_get;
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
			return send_error(conn, l, method, url, 400, msg);
		}
	}
	route(l->api, &req, &resp);
	ret = send_resp(conn, l, method, url, &resp);
	json_decref(req.body);
	json_decref(resp.body);
	free(resp.raw);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn,
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

/* ---- listeners ---- */

static int unix_listen(struct api *a, const char *path)
{
	struct sockaddr_un sun;
	struct stat stt;
	int fd, err;

	if (strlen(path) >= sizeof(sun.sun_path) ||
	    strlen(path) >= sizeof(a->sock_path))
		return ENAMETOOLONG;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (lstat(path, &stt) == 0) {
		if (!S_ISSOCK(stt.st_mode)) {
			err = EEXIST;
			goto out;
		}
		/* A live daemon answers; a stale socket refuses. */
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			err = EADDRINUSE;
			goto out;
		}
		close(fd);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return errno;
		unlink(path);
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) ||
	    chmod(path, 0600) || listen(fd, 64)) {
		err = errno;
		unlink(path);
		goto out;
	}
	memcpy(a->sock_path, path, strlen(path) + 1);
	a->unix_fd = fd;
	return 0;
out:
	close(fd);
	return err;
}

static int parse_addr(const char *text, struct sockaddr_storage *ss,
		      bool *v6)
{
	char host[64];
	const char *colon;
	unsigned long port;
	char *end;
	size_t hl;

	if (text[0] == '[') {
		const char *rb = strchr(text, ']');

		if (!rb || rb[1] != ':')
			return EINVAL;
		hl = (size_t)(rb - text - 1);
		if (hl >= sizeof(host))
			return EINVAL;
		memcpy(host, text + 1, hl);
		colon = rb + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return EINVAL;
		hl = (size_t)(colon - text);
		if (hl >= sizeof(host))
			return EINVAL;
		memcpy(host, text, hl);
	}
	host[hl] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port == 0 || port > 65535 || colon[1] == '\0')
		return EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*v6 = false;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*v6 = true;
		return 0;
	}
	return EINVAL;
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	return IN6_IS_ADDR_LOOPBACK(
		&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static int auth_once(struct api *a)
{
	int err;

	if (a->auth)
		return 0;
	err = api_auth_alloc(&a->auth, a->d && a->d->data_dir ?
			     a->d->data_dir : ".");
	if (!err && !a->gadmin)
		err = guard_admin_alloc(&a->gadmin, NULL, NULL);
	if (!err)
		api_web_bind(a->auth, a->gadmin, a->d);
	return err;
}

static bool gate_credited(void *arg, const struct sockaddr *sa)
{
	struct api *a = arg;

	return guard_admin_credited(a->gadmin, sa);
}

static int gate_once(struct api *a, struct api_gate **gp, const char *name)
{
	const struct api_gate_conf gc = {
		.name = name, .limit = CONN_LIMIT, .reserve = CONN_RESERVE,
		.per_source = PER_IP_LIMIT, .per_source_new = PER_IP_NEW,
		.deadline_ms = REQ_DEADLINE_MS, .credited = gate_credited,
		.arg = a,
	};

	return *gp ? 0 : api_gate_alloc(gp, &gc);
}

/* ---- the API's own routes: who is being refused, and lifting it ---- */

static void access_get(struct daemon *d, const struct api_req *req,
		       struct api_resp *resp)
{
	struct api *a = the_api;
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
	struct api *a = the_api;
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

static const struct api_route api_routes_access[] = {
	{ "GET",    "/admin/access",                 access_get },
	{ "DELETE", "/admin/access/blocks/:source",  access_unblock },
};

/* How one listener differs from the others; everything else about an
 * MHD daemon is the same for all three and set in mhd_start. */
struct mhd_spec {
	int fd;                               /* a bound socket, or -1 */
	const struct sockaddr_storage *ss;    /* else the address to bind */
	bool v6;
	unsigned idle_s;                      /* idle connection timeout */
	struct api_gate *gate;                /* TCP/HTTPS: the gate, or NULL */
	const char *tls_key, *tls_cert;       /* HTTPS: the PEM pair */
};

#define MHD_OPT(opt, val, ptr) \
	((struct MHD_OptionItem){ (opt), (intptr_t)(val), (ptr) })

/* The one libmicrohttpd start block: a thread per connection, our
 * logger and completion hook, the global connection cap; then the
 * socket or address, the per-address cap and the gate for TCP, the
 * certificate for HTTPS. NULL when MHD refuses (it logged why). */
static struct MHD_Daemon *mhd_start(struct listener *l,
				    const struct mhd_spec *sp)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
			 MHD_USE_ERROR_LOG;
	struct MHD_OptionItem o[12];
	size_t n = 0;

	o[n++] = MHD_OPT(MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL);
	if (sp->fd >= 0) {
		o[n++] = MHD_OPT(MHD_OPTION_LISTEN_SOCKET, sp->fd, NULL);
	}
	else {
		o[n++] = MHD_OPT(MHD_OPTION_SOCK_ADDR, 0,
				 (struct sockaddr *)sp->ss);
		o[n++] = MHD_OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT,
				 PER_IP_LIMIT, NULL);
	}
	o[n++] = MHD_OPT(MHD_OPTION_CONNECTION_LIMIT, CONN_LIMIT, NULL);
	o[n++] = MHD_OPT(MHD_OPTION_CONNECTION_TIMEOUT, sp->idle_s, NULL);
	o[n++] = MHD_OPT(MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL);
	if (sp->gate)
		o[n++] = MHD_OPT(MHD_OPTION_NOTIFY_CONNECTION,
				 api_gate_notify, sp->gate);
	if (sp->tls_key) {
		flags |= MHD_USE_TLS;
		o[n++] = MHD_OPT(MHD_OPTION_HTTPS_MEM_KEY, 0,
				 (void *)sp->tls_key);
		o[n++] = MHD_OPT(MHD_OPTION_HTTPS_MEM_CERT, 0,
				 (void *)sp->tls_cert);
		o[n++] = MHD_OPT(MHD_OPTION_HTTPS_PRIORITIES, 0,
				 (void *)TLS_PRIORITIES);
	}
	o[n++] = MHD_OPT(MHD_OPTION_END, 0, NULL);
	if (sp->v6)
		flags |= MHD_USE_IPv6;
	return MHD_start_daemon(flags, 0, sp->gate ? api_gate_accept : NULL,
				sp->gate, on_request, l,
				MHD_OPTION_ARRAY, o, MHD_OPTION_END);
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
	the_api = a;
	if (!access_routes_registered) {
		err = api_routes_register(api_routes_access,
					  API_ROUTES_N(api_routes_access));
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

	err = unix_listen(a, sock_path);
	if (err)
		goto out;
	a->unix_mhd = mhd_start(&a->unix_l, &(struct mhd_spec){
		.fd = a->unix_fd, .idle_s = CONN_TIMEOUT_S });
	if (!a->unix_mhd) {
		err = EIO;
		goto out;
	}
	a->fd_owned_by_mhd = true;   /* MHD_stop_daemon closes it */

	if (http_addr) {
		struct sockaddr_storage ss;
		bool v6 = false;

		err = parse_addr(http_addr, &ss, &v6);
		if (err)
			goto out;
		if (!is_loopback(&ss))
			log_warn("api", "--http %s is not a loopback address: "
				 "the admin password crosses the network in "
				 "clear text; prefer --https", http_addr);
		err = auth_once(a);
		if (!err)
			err = gate_once(a, &a->tcp_gate, "tcp");
		if (err)
			goto out;
		a->tcp_mhd = mhd_start(&a->tcp_l, &(struct mhd_spec){
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

static void tls_pem_free(struct api *a)
{
	if (a->tls_key) {
		sodium_memzero(a->tls_key, strlen(a->tls_key));
		free(a->tls_key);
		a->tls_key = NULL;
	}
	free(a->tls_cert);
	a->tls_cert = NULL;
}

int api_https_start(struct api *a, const char *https_addr, char *why,
		    size_t whysz)
{
	struct sockaddr_storage ss;
	bool v6 = false;
	int err;

	if (why && whysz)
		why[0] = '\0';
	if (!a || !https_addr)
		return EINVAL;
	if (a->tls_mhd) {
		snprintf(why, whysz, "HTTPS is already being served");
		return EALREADY;
	}
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		snprintf(why, whysz, "this libmicrohttpd was built without "
			 "TLS (GnuTLS) support: use a build with it, or "
			 "--http on a loopback address behind a TLS proxy");
		return ENOTSUP;
	}
	err = parse_addr(https_addr, &ss, &v6);
	if (err) {
		snprintf(why, whysz, "'%.80s' is not IPV4:PORT or [IPV6]:PORT",
			 https_addr);
		return err;
	}
	err = auth_once(a);
	if (!err)
		err = gate_once(a, &a->tls_gate, "https");
	if (err) {
		snprintf(why, whysz, "admin credential: %s", strerror(err));
		return err;
	}
	err = api_tls_load(a->d && a->d->data_dir ? a->d->data_dir : ".",
			   &a->tls_cert, &a->tls_key, NULL, why, whysz);
	if (err)
		return err;
	a->tls_mhd = mhd_start(&a->tls_l, &(struct mhd_spec){
		.fd = -1, .ss = &ss, .v6 = v6, .idle_s = TCP_IDLE_S,
		.gate = a->tls_gate, .tls_key = a->tls_key,
		.tls_cert = a->tls_cert });
	if (!a->tls_mhd) {
		tls_pem_free(a);
		snprintf(why, whysz, "cannot serve HTTPS on %.80s (address "
			 "in use or not on this host, or the TLS setup failed: "
			 "see the 'http:' lines above)", https_addr);
		return EADDRNOTAVAIL;
	}
	return 0;
}

void api_stop(struct api *a)
{
	if (!a)
		return;
	if (a->tls_mhd)
		MHD_stop_daemon(a->tls_mhd);
	tls_pem_free(a);
	if (a->tcp_mhd)
		MHD_stop_daemon(a->tcp_mhd);
	if (a->unix_mhd)
		MHD_stop_daemon(a->unix_mhd);
	if (the_api == a) {
		the_api = NULL;
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
