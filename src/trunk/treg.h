/*
 * treg — outbound registration to the trunks (issue 15): for each trunk
 * with register = true, REGISTER to its host over our client
 * transactions, the 401/407 answered with the client digest
 * (auth/client.h), refreshed at 85 % of the granted expiry, retried on
 * failure after 30 s doubling to 30 min; un-REGISTERed (Expires: 0) when
 * removed, turned off or at stop. A sipd application: its apply hook
 * follows the running snapshot (trunks added, changed, removed), its
 * response hook reads the answers. Loop thread only.
 */
#ifndef BULWARK_TREG_H
#define BULWARK_TREG_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct sipd;
struct treg;

/* Start registering the trunks of sd's running snapshot. 0, EINVAL,
 * ENOMEM or sipd_app_register's error. */
int treg_alloc(struct treg **tp, struct sipd *sd);

/* Daemon stop, after re_main returned: un-REGISTER (Expires: 0) every
 * registered trunk. true when some are in flight: the caller runs
 * re_main again, which is cancelled when all are answered or after
 * wait_ms, whichever comes first. NULL-safe. */
bool treg_stop(struct treg *t, uint32_t wait_ms);

/* Free everything (un-REGISTERs still in flight are forgotten) and wipe
 * the passwords. NULL-safe; returns NULL. */
struct treg *treg_free(struct treg *t);

/* The trunks' registration status (new reference): an array of
 * {name, host, register, state, last_error, registered_at, expires_at,
 *  next_refresh, failures}; state is "off" (register = false),
 * "registering", "registered", "failed" or "unsupported" (a transport or
 * host we cannot register over yet). Times are unix seconds or null. */
json_t *treg_status(const struct treg *t);

#endif
