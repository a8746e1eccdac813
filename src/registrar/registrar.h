/*
 * registrar — the SIP registrar, an application of the stack (sip/):
 * REGISTER (register.c: gather → decide → act), qualify and keep-alives
 * (qualify.c), the location service (bindings.c) with each extension's
 * nonce-count table (auth/auth.h), and the bindings' persistence
 * (persist.c).
 *
 * Loop thread only, except reg_persist_* which hand work to their own
 * writer thread. Pure functions where possible so they can be unit-tested
 * and fuzzed; no logging (the caller logs).
 */
#ifndef BULWARK_REGISTRAR_H
#define BULWARK_REGISTRAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* libre's re.h clashes with jansson (JSON_* enums): include parts */
#include <re_types.h>
#include <re_fmt.h>
#include <re_mem.h>
#include <re_mbuf.h>
#include <re_list.h>
#include <re_hash.h>
#include <re_sa.h>
#include <re_tmr.h>

#include <jansson.h>

#include "auth/auth.h"

struct sipd;

/* A length-delimited slice of the request (not NUL-terminated). */
struct reg_str {
	const char *p;
	size_t l;
};

/* ---- the registrar (loop thread) ------------------------------------ */

struct registrar;

struct registrar_conf {
	const char *db_path;   /* the bindings database; NULL: none */
};

/* Register the registrar's methods (REGISTER) and hooks with the stack
 * sd and restore the stored bindings (before the loop serves traffic).
 * sd must outlive the registrar. 0 or errno (logged). */
int registrar_alloc(struct registrar **rp, struct sipd *sd,
		    const struct registrar_conf *conf);

/* Live registrations: array of {extension, contact, source, transport,
 * user_agent, expires_in, reachable, rtt_ms}. New reference. */
json_t *registrar_registrations(struct registrar *r);

/* The live contacts of an extension, for the call layer: up to max of
 * its bindings not expired at now and not found unreachable by qualify
 * (a binding that never answered OPTIONS is skipped until it answers
 * again), newest first. The pointers are valid
 * until the loop returns (copy what is kept). Returns how many. */
struct reg_binding;
size_t registrar_contacts(struct registrar *r, const char *number,
			  int64_t now, const struct reg_binding **out,
			  size_t max);

/* Unregister from the stack, flush the bindings; NULL-safe. */
void registrar_close(struct registrar *r);

/* ---- bindings (location service) ------------------------------------- */

/* the values of enum sipd_tp (callers cast one to the other) */
enum reg_tp { REG_TP_UDP = 0, REG_TP_TCP, REG_TP_TLS };

/* Bounds of what a binding keeps (see docs/internals/registrar.md):
 * a longer Contact URI is refused (reg_apply → EOVERFLOW); the
 * User-Agent is kept for display only, cut at REG_UA_MAX bytes on a
 * UTF-8 character boundary; the Call-ID is kept as a 64-bit hash
 * (reg_callid_hash), which is all the ordering rule needs. */
#define REG_URI_MAX 256
#define REG_UA_MAX 64

struct reg_ext;

/* A User-Agent string, shared by every binding that sent it (phones of
 * one model send the same one); freed with its last binding. */
struct reg_ua {
	struct reg_ua *hnext;      /* hash chain in reg_loc */
	uint32_t refs;
	uint8_t len;
	char s[];
};

/* One binding: a single allocation (malloc) with its strings inline.
 * Read the variable part through reg_binding_uri / _ua / _target. */
struct reg_binding {
	struct reg_binding *next;  /* the extension's next binding */
	struct reg_ext *ext;
	uint64_t id;               /* unique in this process; low 24 bits:
				    * slot in reg_loc */
	uint64_t conn_id;          /* TCP connection it came on, 0 = none */
	uint64_t cid;              /* reg_callid_hash of the Call-ID */
	int64_t expires;           /* unix seconds */
	struct sa src;             /* where the REGISTER came from */
	uint32_t registered;       /* unix seconds of the last refresh */
	uint32_t cseq;
	uint32_t stored_exp;       /* expiry last handed to the change
				    * handler (unix seconds) */
	uint32_t q_next;           /* unix seconds of next qualify/keepalive */
	uint32_t q_seq;
	uint32_t rtt_ms;
	uint32_t q_sent_ms;        /* (uint32_t)tmr_jiffies of the first try */
	uint32_t q_last_ms;        /* ... of the last try */
	const struct reg_ua *ua;   /* NULL: none */
	uint16_t uri_len;
	uint8_t tp;                /* enum reg_tp */
	uint8_t q_tries : 4;
	bool nat : 1;
	bool has_target : 1;       /* target differs from src: kept inline */
	/* qualify / keepalive state (driven by sipd) */
	bool q_known : 1, reachable : 1, q_pending : 1;
	/* [struct sa target if has_target] uri NUL */
	_Alignas(8) char s[];
};

/* The Contact URI as sent (NUL-terminated, ≤ REG_URI_MAX). */
static inline const char *reg_binding_uri(const struct reg_binding *b)
{
	return b->s + (b->has_target ? sizeof(struct sa) : 0);
}

/* The User-Agent (display, may be ""). */
static inline const char *reg_binding_ua(const struct reg_binding *b)
{
	return b->ua ? b->ua->s : "";
}

/* Where to send: src when behind NAT, else the Contact host:port when it
 * is an IP address. */
static inline const struct sa *reg_binding_target(const struct reg_binding *b)
{
	return b->has_target ? (const struct sa *)(const void *)b->s : &b->src;
}

/* Hash of a Call-ID (SipHash-2-4, fixed key: stable across restarts, it is
 * what the bindings table stores). */
uint64_t reg_callid_hash(const char *p, size_t l);

struct reg_ext {
	struct reg_ext *hnext;     /* hash chain in reg_loc */
	struct reg_binding *bindings;   /* oldest first */
	struct auth_nc *nc;         /* NULL until an authentication; freed
				    * when all its nonces have expired */
	uint16_t n;
	char number[24];
};

struct reg_loc {
	struct reg_ext **ext_tab;  /* hash buckets (power of 2) */
	size_t ext_buckets;
	struct reg_ua **ua_tab;    /* hash buckets (power of 2) */
	size_t ua_buckets, n_ua;
	struct reg_binding **slot; /* by id & 0xffffff; free ones odd */
	size_t n_slot, slot_hi;    /* allocated; used (high water) */
	size_t free_slot;          /* head of the free list + 1, 0 = none */
	size_t n_bind;
	size_t n_ext;
	size_t max_bind;           /* global bound */
	uint64_t next_id;
	/* nonce-count tables unused for longer than this are freed (must be
	 * more than the nonce lifetime; sipd sets nonce_ttl + 60) */
	int64_t nc_keep;
};

/* Create with a global bound on bindings. 0 or ENOMEM. */
int reg_loc_alloc(struct reg_loc **lp, size_t max_bind);
/* Find the state of an extension (NULL if none); create it. */
struct reg_ext *reg_ext_find(struct reg_loc *l, const char *num, size_t len);
int reg_ext_get(struct reg_loc *l, const char *num, size_t len,
		struct reg_ext **ep);
struct reg_binding *reg_binding_by_id(struct reg_loc *l, uint64_t id);

/* Iterate every binding: start with *pos = 0; NULL at the end. The
 * binding returned may be removed before the next call. */
struct reg_binding *reg_binding_next(const struct reg_loc *l, size_t *pos);
/* Iterate every extension's state (*pos = 0 first); the one returned may
 * have its bindings cleared, but is not freed, until the next call. */
struct reg_ext *reg_ext_next(const struct reg_loc *l, size_t *pos,
			     struct reg_ext **cur);

/* Nonce-count check of an extension (auth_nc_check_tag on its table,
 * created on first use): 0, EALREADY, EINVAL, ENOMEM. */
int reg_nc_check(struct reg_loc *l, const char *num, size_t len,
		 uint64_t nonce_id, uint32_t nc, uint32_t tag);
/* auth_nc_seen on the extension's table; false when it has none. */
bool reg_nc_seen(struct reg_loc *l, const char *num, size_t len,
		 uint64_t nonce_id, uint32_t nc, uint32_t tag);

/* One Contact of a REGISTER, already resolved. */
struct reg_contact {
	struct reg_str uri;
	int64_t expires;           /* seconds, already clamped; 0 = remove */
	struct sa target;          /* from the URI host:port when numeric */
	bool has_target;
};

struct reg_req {
	const char *number;
	struct reg_str call_id;
	uint32_t cseq;
	const struct reg_contact *c;
	size_t n;
	bool star;                 /* Contact: * (remove all) */
	struct sa src;
	uint8_t tp;
	uint64_t conn_id;
	struct reg_str ua;
	unsigned max_contacts;
	bool nat;
};

enum reg_op { REG_OP_PUT, REG_OP_DEL };
/* Called when the stored copy of a binding must change (before a removed
 * one is freed) so the caller can persist it: for every new or removed
 * binding, every change of User-Agent, source, target, transport or NAT
 * flag, and for a plain refresh (only expiry, time, Call-ID and CSeq
 * changed) only when the stored expiry has less than half of the new
 * lifetime left — so a phone refreshing every few seconds costs no write,
 * and a restored binding still lives at least half as long as the phone
 * last asked. The stored Call-ID/CSeq may therefore lag behind: after a
 * restart the ordering rule uses the stored pair. */
typedef void (reg_change_h)(enum reg_op op, const struct reg_binding *b,
			    void *arg);

/* Apply a REGISTER to the bindings of one extension, all or nothing.
 * Rules: same URI + same Call-ID needs a higher CSeq (else EPROTO, RFC 3261
 * 10.3 step 7); expires 0 removes; new bindings beyond max_contacts evict
 * the extension's oldest ones; more contacts in one request than
 * max_contacts → E2BIG; the global bound → ENOSPC; a Contact URI longer
 * than REG_URI_MAX → EOVERFLOW. Returns 0 or those. */
int reg_apply(struct reg_loc *l, const struct reg_req *rq, int64_t now,
	      reg_change_h *ch, void *arg);

/* True when the extension's bindings already reflect rq: with Contact: *
 * none is left; otherwise every contact with expires > 0 is bound and
 * every one with expires 0 is not. Changes nothing (used to answer a
 * retransmitted REGISTER statelessly). */
bool reg_reflects(struct reg_loc *l, const struct reg_req *rq);

/* Remove one binding / every binding of an extension / expired ones. */
void reg_binding_remove(struct reg_loc *l, struct reg_binding *b,
			reg_change_h *ch, void *arg);
void reg_ext_clear(struct reg_loc *l, struct reg_ext *e, reg_change_h *ch,
		   void *arg);
/* reg_expire also frees nonce-count tables unused for nc_keep seconds and
 * the state of extensions left with neither bindings nor such a table. */
size_t reg_expire(struct reg_loc *l, int64_t now, reg_change_h *ch,
		  void *arg);

/* Insert a restored binding (from the database). call_id is the text of
 * the stored column: "#" and 16 hex digits (a reg_callid_hash, what is
 * written) or a Call-ID (older rows). 0, ENOSPC, ENOMEM, EOVERFLOW. */
int reg_restore(struct reg_loc *l, const char *number, const char *uri,
		const char *call_id, uint32_t cseq, const char *ua,
		int64_t expires, int64_t registered, const struct sa *src,
		const struct sa *target, uint8_t tp, bool nat);

/* ---- persistence (writer thread) ------------------------------------ */

struct reg_persist;

/* Open DB at path with a writer thread and its own connection
 * (store/bindings_db.h; the table comes from the store's migrations).
 * 0 or errno. */
int reg_persist_open(struct reg_persist **pp, const char *db_path,
		     size_t max_queue);
/* Queue a change (never blocks on disk; drops and counts when the queue
 * is full). */
void reg_persist_change(enum reg_op op, const struct reg_binding *b,
			void *persist);
/* Read every stored binding not yet expired at now (start-up, before the
 * loop serves traffic). Calls reg_restore() via keep(). 0 or EIO. */
typedef bool (reg_keep_h)(const char *number, void *arg);
int reg_persist_load(struct reg_persist *p, struct reg_loc *l, int64_t now,
		     reg_keep_h *keep, void *arg, size_t *count);
/* Ops queued/written/dropped. written counts only changes that reached
 * the database; dropped those given up (full queue, or still unwritten
 * at close). */
void reg_persist_stats(struct reg_persist *p, uint64_t *queued,
		       uint64_t *written, uint64_t *dropped);
/* A batch that cannot be written (a full disk) is kept, in order and with
 * only the last change of each binding, and tried again every second;
 * changes queued meanwhile wait behind it. pending: changes waiting for
 * that retry; failed: write attempts that failed. Each outcome is also
 * reported to store/health.h (source "bindings"). */
void reg_persist_retry_stats(struct reg_persist *p, uint64_t *pending,
			     uint64_t *failed);
/* How often the writer thread woke and how many batches (transactions)
 * it wrote since open. */
void reg_persist_wake_stats(struct reg_persist *p, uint64_t *wakeups,
			    uint64_t *batches);
/* Wait until the writer is idle with an empty queue (at most timeout_ms).
 * 0: everything queued is in the database; EAGAIN: changes wait for a
 * retry; ETIMEDOUT. */
int reg_persist_flush(struct reg_persist *p, unsigned timeout_ms);
/* Test hook: PRAGMA max_page_count of the writer's connection, applied
 * before its next batch (SQLite keeps it at least the current size, so a
 * small value means "the disk is full"; a large one frees it). */
void reg_persist_limit_pages(struct reg_persist *p, unsigned pages);
/* Flush the queue, stop the thread, close. NULL-safe. */
void reg_persist_close(struct reg_persist *p);

#endif
