/*
 * instance — which bulwarkd this process is on a host that runs several
 * (a test, a staging copy beside the production one). The name decides
 * the nftables table the firewall and the guard own: "inet bulwark" for
 * the default (unnamed) instance, "inet bulwark_NAME" for --instance NAME,
 * so no instance ever touches another one's table.
 *
 * Set once at start, before any thread runs; read-only afterwards.
 */
#ifndef BULWARK_INSTANCE_H
#define BULWARK_INSTANCE_H

#include <stdbool.h>

/* Longest instance name. */
#define INSTANCE_NAME_MAX 16

/* True when name is a valid instance name: 1 to INSTANCE_NAME_MAX of
 * [a-z0-9_]. */
bool instance_name_valid(const char *name);

/* Name this process's instance; NULL or "" is the default instance.
 * 0, or EINVAL (nothing changed) when the name is not valid. */
int instance_set(const char *name);

/* The instance's name; "" for the default instance. */
const char *instance_name(void);

/* The nftables table, family included: "inet bulwark" or
 * "inet bulwark_NAME". Static storage. */
const char *instance_nft_table(void);

#endif
