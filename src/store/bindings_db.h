/*
 * bindings_db — the registrar's SIP bindings (location service) in
 * DATA/bulwark.db as typed functions. The table is defined by the
 * numbered migrations (store/migrate.c); no SQL outside store/.
 *
 * A struct bindings_db is one connection used by one thread at a time
 * (the registrar's writer, or the loop at start before the writer runs).
 * Addresses are text ("192.0.2.7:5060", "[2001:db8::1]:5060"); times are
 * unix seconds as the registrar keeps them. Writes return 0 or an errno
 * (ENOSPC: the disk is full; store_sqlite_errno).
 */
#ifndef BULWARK_STORE_BINDINGS_DB_H
#define BULWARK_STORE_BINDINGS_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bindings_db;

/* One row of sip_bindings; (ext, uri) is the key. Strings need not be
 * NUL-terminated where a length is given. */
struct binding_row {
	const char *ext;
	const char *uri;
	size_t uri_len;
	const char *call_id;
	uint32_t cseq;
	const char *ua;
	size_t ua_len;
	int64_t expires, registered;
	const char *source, *target;
	int transport;
	bool nat;
};

/* Open the database at path on a connection of its own, migrated and
 * tuned for batched writes. *bp set only on success; 0, EINVAL, ENOMEM
 * or EIO. */
int bindings_db_open(struct bindings_db **bp, const char *path);
/* NULL-safe. */
void bindings_db_close(struct bindings_db *b);

/* One transaction around a batch: begin, put/del..., commit; rollback
 * after any failure (the batch is then written whole or not at all). */
int bindings_db_begin(struct bindings_db *b);
int bindings_db_put(struct bindings_db *b, const struct binding_row *r);
int bindings_db_del(struct bindings_db *b, const char *ext, const char *uri,
		    size_t uri_len);
int bindings_db_commit(struct bindings_db *b);
void bindings_db_rollback(struct bindings_db *b);

/* Delete the rows that expired at or before now (unix s). */
int bindings_db_expire(struct bindings_db *b, int64_t now);
/* Every row: fn per row (strings NUL-terminated, valid during the call;
 * uri_len and ua_len set). 0 when all were read, EIO otherwise. */
int bindings_db_each(struct bindings_db *b,
		     void (*fn)(const struct binding_row *r, void *arg),
		     void *arg);

/* Test hook: the database may hold at most pages pages (a full disk). */
void bindings_db_max_pages(struct bindings_db *b, unsigned pages);

#endif
