/*
 * guard_db — the guard's rows in DATA/bulwark.db as typed functions: bans
 * (re-installed at start), live trusted networks, credit (source -> last
 * successful authentication), security events. The tables are defined by
 * the numbered migrations (store/migrate.c); no SQL outside store/.
 *
 * A struct guard_db is one connection, used by one thread at a time (the
 * guard's worker, or the guard at start). Addresses are text as the guard
 * writes them ("192.0.2.7", "2001:db8::/64"); times are unix ms. Writes
 * return 0 or an errno (ENOSPC: the disk is full; store_sqlite_errno).
 */
#ifndef BULWARK_STORE_GUARD_DB_H
#define BULWARK_STORE_GUARD_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define GUARD_DB_EXTS 8u   /* extensions handed back per ban (at most) */

struct guard_db;

/* One row of guard_bans. */
struct guard_db_ban {
	const char *addr;
	const char *reason;
	const char *ext[GUARD_DB_EXTS];   /* extensions named by the ban */
	unsigned n_ext;
	uint32_t count, offences;
	uint64_t since, until;
	bool manual;
	bool ended;        /* read only: the expiry was reported */
};

/* Open the database at path on a connection of its own, migrated.
 * *dbp set only on success; 0, EINVAL, ENOMEM or EIO. */
int guard_db_open(struct guard_db **dbp, const char *path);
/* NULL-safe. */
void guard_db_close(struct guard_db *db);

/* One transaction around a batch of writes. */
int guard_db_begin(struct guard_db *db);
int guard_db_commit(struct guard_db *db);
void guard_db_rollback(struct guard_db *db);

/* Insert or replace the ban of b->addr (ended cleared). */
int guard_db_ban_put(struct guard_db *db, const struct guard_db_ban *b);
int guard_db_ban_del(struct guard_db *db, const char *addr);
/* The ban of addr that ends at until was reported as ended. */
int guard_db_ban_ended(struct guard_db *db, const char *addr,
		       uint64_t until);
/* Forget bans that ended before before (escalation history kept). */
int guard_db_bans_prune(struct guard_db *db, uint64_t before);
int guard_db_trust_put(struct guard_db *db, const char *net,
		       uint64_t until);
/* Raise addr's last success to last_ok (never lowers it). */
int guard_db_credit_put(struct guard_db *db, const char *addr,
			uint64_t last_ok);
/* Drop credit older than cutoff and all but the keep most recent. */
int guard_db_credit_trim(struct guard_db *db, uint64_t cutoff,
			 uint64_t keep);
/* Append a security event (line: its JSON text, type and ts_ms read from
 * it); every 1,000th row, rows older than the last keep go. */
int guard_db_event_add(struct guard_db *db, const char *line, int64_t keep);

/* Readers: fn is called per row (strings valid during the call only) and
 * stops the walk by returning non-zero. 0 or EIO. */
/* Bans, the latest until first. */
int guard_db_bans_each(struct guard_db *db,
		       int (*fn)(const struct guard_db_ban *b, void *arg),
		       void *arg);
int guard_db_trust_each(struct guard_db *db,
			int (*fn)(const char *net, uint64_t until, void *arg),
			void *arg);
/* Credit after cutoff, most recent first, at most max rows. */
int guard_db_credit_each(struct guard_db *db, uint64_t cutoff, size_t max,
			 int (*fn)(const char *addr, uint64_t last_ok,
				   void *arg),
			 void *arg);

/* Events with id > after, oldest first, at most limit (1..1000), each
 * the stored object with its "id", read on a read-only connection of its
 * own (any thread). *out: a new array (empty when there is no table
 * yet). 0, EINVAL, ENOMEM or EIO. */
int guard_db_events_query(const char *path, long long after,
			  unsigned limit, json_t **out);

#endif
