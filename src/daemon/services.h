/*
 * services — the network services manager: a registry of Bulwark's
 * services (SIP UDP/TCP/TLS, admin API HTTP/HTTPS, guard, firewall, ...),
 * each with "start at boot" (persisted in the "services" settings section),
 * running state, and the configuration sections it reads, so a commit can
 * mark what needs a restart. Control plane.
 */
#ifndef BULWARK_SERVICES_H
#define BULWARK_SERVICES_H

#include <jansson.h>

#include "store/store.h"

struct services;
struct daemon;

/* The "services" settings section ("<name>.boot" = true/false). */
extern const struct store_section services_section;

/* Build the registry and start every service whose "start at boot" is on. */
int services_alloc(struct services **sp, struct daemon *d);

/* Where the daemon listens (--sip, --http "ADDR:PORT"; either may be
 * NULL): shows admin-http as running or not, and tells the firewall
 * (firewall_set_listen) so its ports follow the listeners. The daemon
 * calls this right after services_alloc. (Addition, issue 5.) */
void services_set_listen(struct services *s, const char *sip_listen,
			 const char *http_addr);

/* Where the daemon serves the admin API over HTTPS (--https "ADDR:PORT";
 * NULL: not): shows admin-https as running or stopped and tells the
 * firewall (firewall_set_listen_https). The daemon calls this once the
 * HTTPS listener runs (or with NULL). (Addition: admin API over HTTPS.) */
void services_set_listen_https(struct services *s, const char *https_addr);

/* After a successful commit: mark services whose sections changed
 * (changed = JSON array of section names) and reload those that can. */
void services_committed(struct services *s, const json_t *changed);

/* The service took its new configuration by another way than restart
 * (e.g. `bulwark firewall apply`): clear its "restart required" and mark
 * it running. (Addition, issue 5.) */
void services_applied(struct services *s, const char *name);

/* Array of {name, description, boot, state, restart_required}. */
json_t *services_list(struct services *s);

/* "start", "stop", "restart", "enable", "disable". 0, ENOENT (no such
 * service), EPERM (e.g. disabling the admin API), or errno. */
int services_action(struct services *s, const char *name, const char *action,
		    struct report *r);

void services_close(struct services *s);   /* NULL-safe */

#endif
