/*
 * firewall — firewall model, nftables rendering and apply with rollback
 * ("commit confirmed"), the wizard's steps. Control plane. The table
 * "inet bulwark" is the only one it ever touches; the guard's ban sets
 * live in it.
 */
#ifndef BULWARK_FIREWALL_H
#define BULWARK_FIREWALL_H

#include <stdbool.h>
#include <jansson.h>

#include "store/store.h"

struct firewall;
struct store;

/* The "firewall" settings section (server type, interface roles, inbound
 * services). Registered by the daemon at start. */
extern const struct store_section firewall_section;

int firewall_alloc(struct firewall **fp, struct store *st,
		   const char *data_dir);
void firewall_close(struct firewall *f);   /* NULL-safe; never flushes */

/* --- Additions (issue 5). Control plane only; every function takes the
 * firewall's own lock, so API threads may call them concurrently. --- */

/* Where the daemon listens (--sip, --http "ADDR:PORT"; either may be
 * NULL): the ports of sip-udp/sip-tcp and admin-http follow them instead
 * of the sections. The daemon calls this right after firewall_alloc. */
void firewall_set_listen(struct firewall *f, const char *sip_listen,
			 const char *http_addr);

/* Where the daemon serves the admin API over HTTPS (--https "ADDR:PORT";
 * NULL: not): admin-https's port follows it instead of
 * firewall.admin_https_port. The daemon calls this after
 * firewall_set_listen. (Addition: admin API over HTTPS.) */
void firewall_set_listen_https(struct firewall *f, const char *https_addr);

/* {"type","staged_type","active","pending","rollback_in","confirmed",
 *  "interfaces":[{"name","role","addresses":[...]}],
 *  "permit":{"sip-udp":"any",...}}. New reference in *out. */
int firewall_status(struct firewall *f, json_t **out);

/* The catalogue with the ports in force: array of {name, label, proto,
 * ports, permit, recommended}. */
int firewall_catalogue_json(struct firewall *f, bool staged, json_t **out);

/* Exactly the nftables script that apply would send, for the running
 * (staged=false) or staged configuration, after the whole-model check.
 * 0 with *text malloc'd; EINVAL with every finding in r; or errno. */
int firewall_preview(struct firewall *f, bool staged, char **text,
		     struct report *r);

/* "Commit confirmed": install the running configuration's ruleset in one
 * transaction and restore the previous rules of the firewall's chains
 * after rollback_s seconds (0: the section's rollback_seconds) unless
 * firewall_confirm arrives. *result: {"applied","type","rollback_in",
 * "warnings":[...]}. 0; EINVAL (model refused, nothing applied); EPERM
 * (no CAP_NET_ADMIN, nothing applied); or errno — r says why. */
int firewall_apply(struct firewall *f, unsigned rollback_s,
		   struct report *r, json_t **result);

/* Keep what apply installed (it becomes the boot ruleset). 0 or ENOENT
 * (nothing waiting for confirmation), EIO. */
int firewall_confirm(struct firewall *f);

/* Roll back a pending apply now. 0, ENOENT, or errno (r says why). */
int firewall_rollback(struct firewall *f, struct report *r);

/* Network services manager hooks: start installs the last confirmed
 * ruleset (and finishes a rollback interrupted by a crash); stop empties
 * the firewall's chains (the guard's ban chain and sets stay). */
int firewall_start(struct firewall *f, struct report *r);
int firewall_stop(struct firewall *f, struct report *r);
bool firewall_active(struct firewall *f);

/* Networks of the LAN interfaces (trusted: never policed) for a "firewall"
 * section, e.g. snapshot_section(snap, "firewall"): JSON array of
 * "addr/plen" strings of the addresses on interfaces listed in "lan".
 * Discovers interfaces (getifaddrs; no blocking I/O). New reference, or
 * NULL on error. */
json_t *firewall_lan_networks(const json_t *section);

/* Wizard, step by step (a web GUI drives it through the API): steps
 * "type", "interfaces", "services", "review", "apply". step NULL: the
 * overview. get: the step's data (choices, current staged values,
 * recommended defaults). post ("type", "interfaces", "services"): check
 * the step's answer (body) and stage it in the "firewall" section, all
 * keys or none. 0, ENOENT (no such step), EINVAL (refused: r), errno.
 * The "apply" step is the caller's (it commits, which publishes a
 * snapshot): firewall_wizard_check first, then commit, then
 * firewall_apply. */
int firewall_wizard_get(struct firewall *f, const char *step, json_t **out);
int firewall_wizard_post(struct firewall *f, const char *step,
			 const json_t *body, struct report *r, json_t **out);

/* Ready to commit and apply the staged firewall? 0; EINVAL (the staged
 * model is refused: r); EBUSY (changes other than the firewall section
 * are staged: commit or discard them first). */
int firewall_wizard_check(struct firewall *f, struct report *r);

#endif
