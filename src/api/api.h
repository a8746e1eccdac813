/*
 * api — the admin API (control plane): HTTP/1.1 + JSON under /api/v1/, on
 * DATA/control.sock (0600, no further authentication: file permissions are
 * the authentication) and, with --http ADDR:PORT / --https ADDR:PORT, on
 * TCP / TLS with admin authentication.
 *
 * Routes are rows of tables that each module registers (STYLE.md: dispatch
 * tables, not if-chains): store/extension routes in api/routes_config.c,
 * live SIP state in api/routes_sip.c, guard in api/routes_guard.c,
 * firewall and services in api/routes_firewall.c, calls and call records
 * in api/routes_calls.c.
 */
#ifndef BULWARK_API_H
#define BULWARK_API_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct api;
struct daemon;

struct api_req {
	const char *method;      /* "GET", "POST", "PUT", "PATCH", "DELETE" */
	const char *path;        /* below /api/v1, e.g. "/ext/201" */
	const char *param[4];    /* ":name" segments of the pattern, in order */
	json_t *body;            /* parsed JSON body or NULL */
	const char *raw;         /* raw body (for CSV import) or NULL */
	size_t raw_len;
	/* query string value by name, or NULL */
	const char *(*query)(const struct api_req *req, const char *name);
	void *conn;              /* internal */
};

struct api_resp {
	int status;              /* HTTP status, default 200 */
	json_t *body;            /* JSON body (owned), or NULL */
	char *raw;               /* malloc'd non-JSON body (CSV), or NULL */
	size_t raw_len;
	const char *content_type;/* for raw */
	/* (Addition: web GUI, web.c.) A Set-Cookie value, or "". */
	char set_cookie[192];
	bool close;              /* answer with Connection: close */
};

/* A handler fills resp. Errors: status 400/404/409/422 and body
 * {"error": "sentence", "errors": [report items]} (api_error helpers). */
typedef void (api_handler_h)(struct daemon *d, const struct api_req *req,
			     struct api_resp *resp);

struct api_route {
	const char *method;
	const char *pattern;     /* "/ext/:number", "/bans", ... */
	api_handler_h *h;
};

/* Register a table of routes (static storage). Before api_start. */
int api_routes_register(const struct api_route *routes, size_t n);

/* Fill resp with an error: status, a sentence, optional report items. */
struct report;
void api_error(struct api_resp *resp, int status, const char *msg,
	       const struct report *r);

/* Start serving: the control socket always; TCP if http_addr != NULL. */
int api_start(struct api **ap, struct daemon *d, const char *sock_path,
	      const char *http_addr);
/* Also serve the same routes with the same admin authentication over
 * HTTPS on https_addr ("IPV4:PORT" / "[IPV6]:PORT"), after api_start:
 * TLS 1.2 and 1.3 only, certificate and key from DATA/tls/admin.crt and
 * admin.key (api/tls.h: api_tls_ensure makes them first). 0, or an errno
 * code with a sentence in why (ENOTSUP: libmicrohttpd without TLS).
 * (Addition: admin API over HTTPS.) */
int api_https_start(struct api *a, const char *https_addr, char *why,
		    size_t whysz);

void api_stop(struct api *a);   /* NULL-safe */

#endif
