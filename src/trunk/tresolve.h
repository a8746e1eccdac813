/*
 * tresolve — a trunk host name to addresses (issue 15): the
 * hosts file (pure parser + a read), DNS on the loop (tdns.c).
 * Include <re_types.h> and <re_sa.h> first.
 */
#ifndef BULWARK_TRUNK_TRESOLVE_H
#define BULWARK_TRUNK_TRESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The addresses (port set) hosts-file text[0..len) gives name (case
 * insensitive; comments, blank lines, several names per line), at most
 * max, duplicates dropped, in file order. 0, ENOENT (none) or EINVAL. */
int trunk_hosts_find(const char *text, size_t len, const char *name,
		     uint16_t port, struct sa *out, size_t max, size_t *n);

/* The same from the file at path (its first 64 kB). 0 or errno. */
int trunk_hosts_lookup(const char *path, const char *name, uint16_t port,
		       struct sa *out, size_t max, size_t *n);

/* ---- tdns.c: DNS on the loop ---- */

/* The cached A/AAAA addresses of name (port set), at most max: 0;
 * EINPROGRESS (a lookup runs: ask again later), ENOENT (no address; a
 * failure is kept 30 s), ENOSPC (too many names) or errno. Never blocks. */
int trunk_dns_lookup(const char *name, uint16_t port, struct sa *out,
		     size_t max, size_t *n);

/* Whether a (any port) is one of name's cached addresses. */
bool trunk_dns_has(const char *name, const struct sa *a);

/* Remember name's addresses found elsewhere (the hosts file), for
 * trunk_dns_has. */
void trunk_dns_note(const char *name, const struct sa *addr, size_t n);

/* Forget the cache and the client (the daemon's end). */
void trunk_dns_close(void);

/* A trunk host to its next-hop addresses: an IP literal, else the hosts
 * file, else DNS (trunk_dns_lookup's answers). */
int trunk_resolve(const char *host, uint16_t port, struct sa *out,
		  size_t max, size_t *n);

#endif
