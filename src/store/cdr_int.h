/*
 * cdr internals — between the CDR writer's thread (cdr_writer.c) and its
 * SQL (cdr_db.c); not a contract.
 */
#ifndef BULWARK_CDR_INT_H
#define BULWARK_CDR_INT_H

#include <stdint.h>

#include "store/cdr_db.h"

/* One queued record: a single malloc of plain data (it crosses from the
 * loop to the writer thread). */
struct cdr_item {
	struct cdr_item *next;
	struct cdr_rec r;
};

/* The writer's connection with its insert statement. */
struct cdr_sql;

/* Open path (migrated) on a connection of its own. *qp set only on
 * success; 0, EINVAL, ENOMEM or EIO. */
int cdr_sql_open(struct cdr_sql **qp, const char *path);
/* NULL-safe. */
void cdr_sql_close(struct cdr_sql *q);
/* Insert every record of list in one transaction, then delete the oldest
 * rows beyond keep (0: keep all). Whole or nothing: 0, or the errno of
 * the failure (ENOSPC for a full disk), the transaction rolled back. */
int cdr_sql_write(struct cdr_sql *q, const struct cdr_item *list,
		  uint64_t keep);
/* Test hook: at most pages pages in the database (a full disk). */
void cdr_sql_max_pages(struct cdr_sql *q, unsigned pages);

#endif
