/*
 * tresolve — a trunk host name to addresses (tlsout, issue 15): the
 * hosts file (pure parser + a read), DNS on the loop (tdns.c).
 * Include <re_types.h> and <re_sa.h> first.
 */
#ifndef BULWARK_TRUNK_TRESOLVE_H
#define BULWARK_TRUNK_TRESOLVE_H

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

#endif
