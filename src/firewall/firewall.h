/*
 * firewall — firewall model, nftables rendering and apply with rollback
 * ("commit confirmed"), the wizard's steps. Control plane. The table
 * "inet bulwark" is the only one it ever touches; the guard's ban sets
 * live in it.
 */
#ifndef BULWARK_FIREWALL_H
#define BULWARK_FIREWALL_H

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

#endif
