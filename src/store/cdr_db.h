/*
 * cdr_db — call detail records: one row per call, written off the SIP
 * loop by a writer thread of its own (the loop only queues), and read by
 * the control plane (API, CLI). The table comes from the store's
 * migrations (owner "call").
 *
 * cdr_writer_* : the loop hands finished calls to the writer (never
 * blocks: a full queue drops and counts). store_cdr_list: control plane.
 */
#ifndef BULWARK_CDR_DB_H
#define BULWARK_CDR_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* Directions of the per-leg counters: [0] from the caller's phone (what
 * the caller sent the relay), [1] from the callee's phone. */
enum { CDR_FROM_CALLER = 0, CDR_FROM_CALLEE = 1 };

struct cdr_rec {
	char id[40];            /* the call's id ("c" + hex), unique */
	int64_t start_ms;       /* unix ms: the caller's INVITE accepted */
	int64_t answer_ms;      /* unix ms: 200 OK, 0 = never answered */
	int64_t end_ms;         /* unix ms: the call ended */
	char caller[32];        /* authenticated extension that called */
	char callee[32];        /* extension that answered or was rung,
				 * "" when none */
	char dialled[64];       /* Request-URI user as dialled */
	char disposition[16];   /* "answered", "busy", "noanswer",
				 * "unavailable", "cancelled", "rejected",
				 * "failed", "notfound" */
	unsigned cause;         /* SIP status that ended it (200 = BYE after
				 * answer; else the final response sent to
				 * the caller) */
	char hangup_side[8];    /* "caller", "callee", "system" */
	char reason[48];        /* short text: "bye", "cancel", "rtp
				 * timeout", "no ack", "call limit", ... */
	char codec[32];         /* encoding of the answer ("PCMU/8000"), "" */
	char fwd_rule[24];      /* the last forward the call followed
				 * ("forward_busy", "forward_no_answer",
				 * "forward_immediate", "forward_unavailable"),
				 * "" when none (call/route.h) */
	char fwd_from[24];      /* the extension that forwarded */
	char fwd_to[24];        /* where to */
	uint64_t pkts[2];       /* RTP+RTCP packets accepted, per direction */
	uint64_t lost[2];       /* RTP packets lost (sequence gaps) */
	uint64_t dropped[2];    /* packets dropped by strict source (wrong
				 * source: injection) at that leg */
	/* call recording (issue 13) */
	char recording[64];     /* "YYYY-MM-DD/<id>.wav" under
				 * DATA/recordings, "" when not recorded */
	/* outbound (issue 15) */
	char trunk[33];         /* the trunk it left on (the last tried),
				 * "" when none */
	char route[33];         /* the outbound route, "" when none */
};

struct cdr_writer;

/* Open db_path (already migrated by the store) with a writer thread and
 * its own connection; max_queue records may wait. 0 or errno. */
int cdr_writer_open(struct cdr_writer **wp, const char *db_path,
		    size_t max_queue);
/* Queue a copy of r (loop thread; never blocks on disk; text fields are
 * cut at their last byte if the caller left them unterminated). false
 * when dropped (queue full: counted, and as "lost" in store/health.h).
 * At most max_queue records are held at once, counting those being
 * written and those kept for a retry after a failed write (a full disk,
 * retried every second; source "cdr" of store/health.h). */
bool cdr_writer_put(struct cdr_writer *w, const struct cdr_rec *r);
/* Wait until everything queued is written (at most timeout_ms): 0 or
 * ETIMEDOUT. */
int cdr_writer_flush(struct cdr_writer *w, unsigned timeout_ms);
/* Counters: queued, written, dropped. */
void cdr_writer_stats(struct cdr_writer *w, uint64_t *queued,
		      uint64_t *written, uint64_t *dropped);
/* Flush, stop the thread, close; NULL-safe. What still cannot be
 * written then is counted as dropped (and lost, store/health.h). */
void cdr_writer_close(struct cdr_writer *w);
/* Test hooks: the database may hold at most pages pages (a full disk);
 * the table keeps at most rows rows, the oldest (by insertion) deleted
 * in the batch that passes it (default 1,000,000; 0: no bound). */
void cdr_writer_limit_pages(struct cdr_writer *w, unsigned pages);
void cdr_writer_keep(struct cdr_writer *w, uint64_t rows);

/* Control plane: the records that ended at or after since_ms (0: all),
 * newest first (by end, then by insertion), at most limit (brought into
 * 1..10000). A JSON array of objects with the fields of struct cdr_rec
 * (start/answer/end as ISO 8601 UTC strings and as *_ms integers, answer
 * null when not answered, duration_s = end - answer in whole seconds (0
 * when not answered), per-direction counters packets (field pkts)/lost/dropped as
 * {"caller": n, "callee": n}; text that is not UTF-8 shown with '?').
 * NULL on a database error. */
struct store;
json_t *store_cdr_list(struct store *st, int64_t since_ms, size_t limit);

/* The recording of call id (cdr_rec.recording, relative to
 * DATA/recordings) into rel. 0, ENOENT (no such call, or not recorded),
 * EINVAL, ENAMETOOLONG, EIO. */
int store_cdr_recording(struct store *st, const char *id, char *rel,
			size_t sz);

#endif
