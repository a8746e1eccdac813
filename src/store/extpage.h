/*
 * extpage — one page of the extension list, filtered and counted in SQL,
 * for the web GUI's list: loading and parsing 10,000 rows to show 50
 * took a second (store_ext_list), this takes milliseconds.
 */
#ifndef BULWARK_STORE_EXTPAGE_H
#define BULWARK_STORE_EXTPAGE_H

#include <stddef.h>
#include <jansson.h>

#include "store/store.h"

/* Extensions of view v whose number starts with q, whose name contains q
 * (any case) or whose type is q ("" or NULL: all), in numeric order
 * (201 before 1000, store_number_cmp);
 * rows offset .. offset+limit-1. *out: {"total": N matching, "items":
 * [{number, type, name, class_of_service, voicemail.enabled,
 * web.enabled}]} (the summary of store_ext_list). 0, EINVAL, EIO, ENOMEM. */
int store_ext_page(struct store *s, enum store_view v, const char *q,
		   size_t offset, size_t limit, json_t **out);

#endif
