/*
 * health — whether the data directory takes our writes (issue 8: a full
 * disk must not lose data silently).
 *
 * Every writer of DATA reports the outcome of each write here: the store
 * (admin changes, commit), the registrar's bindings writer, the guard's
 * worker (bans, trusted networks, credit, events), DATA/security.log and
 * the CDR writer. The record is one per process, not per store: the
 * writers live in several modules on their own threads and share one
 * filesystem, and none of them is handed the store. Thread-safe (own mutex); no I/O, so the loop may read
 * it too.
 *
 * State: "degraded" while any source's last write failed or a source has
 * writes waiting for a retry; "ok" otherwise. A source with nothing to
 * retry (config: the admin got the error) is cleared by the next write to
 * the database that succeeds, from any source. Transitions are counted so
 * that a poller (the guard's sweep) reports each exactly once, even when
 * the state went and came back between two polls.
 */
#ifndef BULWARK_STORE_HEALTH_H
#define BULWARK_STORE_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

enum store_hsrc {
	STORE_HS_CONFIG = 0,  /* the store's own writes */
	STORE_HS_BINDINGS,    /* registrar/persist.c */
	STORE_HS_GUARD,       /* guard/worker.c: SQLite */
	STORE_HS_SECLOG,      /* guard/worker.c: DATA/security.log */
	STORE_HS_CDR,         /* store/cdr_writer.c: call detail records */
	STORE_HS_N
};

/* A write of src failed with err (errno style; ENOSPC for a full disk);
 * detail names what was being written (copied, may be NULL). Counts one
 * failed write. */
void store_health_failed(enum store_hsrc src, int err, const char *detail);
/* A write of src succeeded. Clears src, and the sources that have nothing
 * to retry (config) when src wrote to the database. */
void store_health_ok(enum store_hsrc src);
/* How many changes src holds for a retry now (0 when all are written);
 * lost: changes src had to give up since the last call (bounds), added
 * to its "lost" counter. A source with pending changes is degraded. */
void store_health_pending(enum store_hsrc src, uint64_t pending,
			  uint64_t lost);
/* True while degraded. */
bool store_health_degraded(void);
/* Transitions so far: how many times the state became degraded and how
 * many times it recovered; *detail (may be NULL) gets the last error's
 * text ("bindings: No space left on device (...)"). */
void store_health_transitions(uint64_t *degraded, uint64_t *recovered,
			      char *detail, size_t sz);
/* {state, since, last_error:{source,error,errno,detail,at}|null,
 *  failed_writes:{...}, pending:{...}, lost:{...}, degraded_count,
 *  recovered_count}. New reference (NULL on ENOMEM). */
json_t *store_health_json(void);
/* Back to "ok" with every counter zero (unit tests). */
void store_health_reset(void);

/* errno of a failed SQLite call on db: ENOSPC for SQLITE_FULL (and an
 * I/O error whose system error is ENOSPC or EDQUOT), EROFS, EBUSY, EIO. */
struct sqlite3;
int store_sqlite_errno(struct sqlite3 *db, int rc);

#endif
