/*
 * trunk_int — what the trunk module's files share (not for others).
 */
#ifndef BULWARK_TRUNK_INT_H
#define BULWARK_TRUNK_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct sa;

/* A trunk name: 1 to 32 of a-z 0-9 '_' '-'. */
bool trunk_name_ok(const char *s, size_t n);

/* "ip, ip, ..." (',' or spaces) with at most max entries, each into
 * out[] when out is not NULL, their count into *n. 0 or EINVAL. */
int trunk_addrs_parse(const char *v, long max, struct sa *out, size_t *n);

/* The section's decoder (store_section.decode): obj opened (passwords in
 * clear) into out, a struct trunks_typed. */
void trunk_decode(const json_t *obj, void *out);

#endif
