/*
 * routes — the route tables of the admin API, one per file (STYLE.md:
 * dispatch tables). The daemon registers every table listed here with
 * api_routes_register() before api_start().
 *
 * To add routes: add rows to your module's table (routes_guard.c,
 * routes_firewall.c, ...). A table is a plain array; its length is in the
 * matching *_n constant (use API_ROUTES_N). Patterns are below /api/v1 and
 * may contain ":name" segments, delivered in req->param[] in order.
 *
 * Threads: handlers run on libmicrohttpd threads (control plane). They may
 * use the store directly; anything of the data plane (sipd, guard) only
 * through loop_call()/loop_post() (daemon/daemon.h).
 */
#ifndef BULWARK_API_ROUTES_H
#define BULWARK_API_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "api/api.h"

#define API_ROUTES_N(t) (sizeof(t) / sizeof((t)[0]))

extern const struct api_route api_routes_config[];    /* routes_config.c */
extern const size_t api_routes_config_n;
extern const struct api_route api_routes_sip[];       /* routes_sip.c */
extern const size_t api_routes_sip_n;
extern const struct api_route api_routes_guard[];     /* routes_guard.c */
extern const size_t api_routes_guard_n;
extern const struct api_route api_routes_firewall[];  /* routes_firewall.c */
extern const size_t api_routes_firewall_n;
extern const struct api_route api_routes_calls[];     /* routes_calls.c */
extern const size_t api_routes_calls_n;
extern const struct api_route api_routes_vm[];        /* routes_vm.c */
extern const size_t api_routes_vm_n;
extern const struct api_route api_routes_vmmail[];    /* routes_vmmail.c */
extern const size_t api_routes_vmmail_n;
extern const struct api_route api_routes_greet_admin[]; /* routes_greet_admin.c */
extern const size_t api_routes_greet_admin_n;
extern const struct api_route api_routes_hotdesk[];   /* routes_hotdesk.c */
extern const size_t api_routes_hotdesk_n;
extern const struct api_route api_routes_rec[];       /* routes_rec.c */
extern const size_t api_routes_rec_n;
/* trunk (issue 15) */
extern const struct api_route api_routes_trunk[];     /* routes_trunk.c */
extern const size_t api_routes_trunk_n;

/* GET /metrics (routes_metrics.c): Prometheus text, outside /api/v1 but
 * behind the same admin credential (api.c routes it there). */
bool api_metrics_path(const char *url);
void api_metrics_get(struct daemon *d, const char *method,
		     struct api_resp *resp);
/* Count one commit request: ok false = refused (routes_config.c). */
void api_metrics_commit(bool dry_run, bool ok);

/* Helpers for handlers (api_send.c, api_routes.c). */

/* resp := 200 with body (takes the reference). */
void api_ok(struct api_resp *resp, json_t *body);

/* Query flag: "1", "true", "yes", "on" → true. */
int api_query_flag(const struct api_req *req, const char *name);

#endif
