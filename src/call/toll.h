/*
 * toll — toll-fraud limits on calls that leave on a trunk (issue 15,
 * outbound): concurrent external calls per extension and in total, and
 * international and premium calls per hour per extension and in total.
 * The "toll" settings section, and the counters the call layer keeps on
 * the SIP loop (a sliding hour of one-minute buckets per extension and
 * class, a bounded table). Emergency calls are neither limited nor
 * counted. Pure: the caller passes the time; no logging.
 * docs/admin/trunks-outbound.md, "Toll-fraud limits".
 */
#ifndef BULWARK_CALL_TOLL_H
#define BULWARK_CALL_TOLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"

/* The "toll" section, typed. 0 in a limit: no such call at all. */
struct toll_limits {
	uint32_t ext_concurrent;          /* external calls of one extension
					   * at a time (2) */
	uint32_t global_concurrent;       /* ... of the PBX (10) */
	uint32_t ext_international_hour;  /* international calls one
					   * extension places in an hour (10) */
	uint32_t global_international_hour;   /* ... the PBX (50) */
	uint32_t ext_premium_hour;        /* premium (2) */
	uint32_t global_premium_hour;     /* (10) */
	bool inbound_to_outbound;         /* a call from a trunk may leave
					   * on a trunk (false) */
};
extern const struct store_section toll_section;

/* The limits of snapshot s: its section, or the defaults. */
const struct toll_limits *toll_limits_of(const struct snapshot *s);

#define TOLL_MAX_EXT 1024   /* extensions counted at once */

enum toll_verdict {
	TOLL_OK = 0,
	TOLL_EXT_CONCURRENT,     /* 486 */
	TOLL_GLOBAL_CONCURRENT,  /* 486 */
	TOLL_EXT_HOUR,           /* 403 */
	TOLL_GLOBAL_HOUR,        /* 403 */
	TOLL_TABLE_FULL,         /* 503: more extensions than the table */
};

struct toll;

/* A counter table (malloc). 0 or ENOMEM; *tp set only on success. */
int toll_alloc(struct toll **tp);
void toll_free(struct toll *t);   /* NULL-safe */

/* Whether extension ext may place one more call of destination class
 * dest (enum snap_dest) at now_s (unix seconds) under lim; when TOLL_OK
 * the call is counted (concurrent and hourly) and must be ended with
 * toll_end. Emergency: always TOLL_OK, not counted. */
enum toll_verdict toll_take(struct toll *t, const struct toll_limits *lim,
			    const char *ext, unsigned dest, int64_t now_s);

/* A counted call of ext ended (not for emergency calls). */
void toll_end(struct toll *t, const char *ext, unsigned dest);

/* Counts now: concurrent calls of ext (NULL: the PBX), its calls of
 * class dest in the last hour. */
unsigned toll_concurrent(const struct toll *t, const char *ext);
unsigned toll_hour(const struct toll *t, const char *ext, unsigned dest,
		   int64_t now_s);

/* {"external_calls": N, "international_hour": N, "premium_hour": N,
 * "extensions": N (counted now), "refused": {"ext_concurrent": N,
 * "global_concurrent": N, "ext_per_hour": N, "global_per_hour": N,
 * "table_full": N} (calls refused since start, by limit)}: the PBX's
 * counts at now_s. New ref. */
json_t *toll_status(const struct toll *t, int64_t now_s);

/* The hourly counts that still matter at now_s (the PBX's and each
 * extension's international and premium buckets; not the concurrent
 * calls, which end with the process): {"version": 1, "saved": now_s,
 * "global": {"international": [[minute, n], ...], "premium": [...]},
 * "extensions": {"201": {...}, ...}}. New reference, NULL on ENOMEM. */
json_t *toll_dump(const struct toll *t, int64_t now_s);

/* Add the counts of a toll_dump (a restart) into t: buckets older than
 * an hour at now_s or malformed are skipped. 0, EINVAL (not a version-1
 * dump) or ENOSPC (more extensions than the table). */
int toll_restore(struct toll *t, const json_t *o, int64_t now_s);

/* "ext_concurrent", ... : the limit a verdict names. */
const char *toll_verdict_str(enum toll_verdict v);

#endif
