/*
 * guard internals — shared by the files of src/guard and by the unit tests
 * and the benchmark (which drive the core with a fake clock). Not a public
 * contract: other modules use guard.h only.
 */
#ifndef BULWARK_GUARD_INT_H
#define BULWARK_GUARD_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "guard/guard.h"

#define GUARD_RING        32u    /* max failure threshold (ring size) */
#define GUARD_EXTS         4u    /* extensions remembered per source */
#define GUARD_EXTLEN      24u    /* bytes of an extension name kept */
#define GUARD_DIST_MAX    64u    /* max distinct sources per extension */
#define GUARD_SCANNERS    32u
#define GUARD_SCANLEN     32u
#define GUARD_TRUST_MAX  256u
#define GUARD_RL_SLOTS     8u    /* sources named in a rate-limit event */
#define GUARD_EV_TYPES    12u    /* event types counted when suppressed */
#define GUARD_SWEEP_MS  1000u    /* period of guard_sweep */
#define GUARD_SWEEP_CHUNK 8192u  /* ban entries looked at per sweep */
#define GUARD_SUP_MS   10000u    /* events_suppressed interval */
#define GUARD_CREDIT_SAVE_MS 600000u /* re-save a source's credit */

/* ---- addresses ---- */

/* An address or prefix: IPv4 stored as ::ffff:a.b.c.d/128 (plen 128). */
struct gaddr {
	uint8_t a[16];
	uint8_t plen;     /* prefix length over the 128-bit form */
	bool v4;
};

/* From a libre sa, masked to the IPv6 ban prefix (IPv4: whole address). */
int gaddr_from_sa(struct gaddr *ga, const struct sa *sa, unsigned v6plen);
/* Parse "1.2.3.4", "1.2.3.0/24", "2001:db8::1", "2001:db8::/64". An IPv6
 * address without length gets v6plen. 0 or EINVAL. */
int gaddr_parse(struct gaddr *ga, const char *s, unsigned v6plen);
/* "1.2.3.4" or "2001:db8::/64" (IPv4 /32 without length). */
void gaddr_str(const struct gaddr *ga, char *buf, size_t sz);
bool gaddr_contains(const struct gaddr *net, const struct gaddr *a);
/* 127.0.0.0/8 or ::1: banned in user space only (a kernel ban would cut
 * every local service off from the host itself). */
bool gaddr_loopback(const struct gaddr *a);

/* ---- bounded LRU hash table ---- */

struct gkey {
	uint8_t k[32];
};

struct gtab {
	uint8_t *ent;        /* cap entries of esize bytes */
	uint32_t *bucket;    /* nbucket heads (index+1, 0 = empty) */
	size_t cap, nbucket, esize, vsize, n;
	uint32_t lru_head, lru_tail;   /* index+1; head = most recent */
	uint32_t free_head;            /* index+1 of a deleted entry, 0 none */
	size_t fresh;                  /* entries [fresh, cap) never used:
					* not written, so calloc'd pages of a
					* large table stay non-resident until
					* traffic needs them */
	uint64_t seed;
	uint64_t evicted;
};

int gtab_init(struct gtab *t, size_t cap, size_t vsize, uint64_t seed);
void gtab_free(struct gtab *t);
/* Lookup; moves the entry to the front (most recent). NULL if absent. */
void *gtab_get(struct gtab *t, const struct gkey *k);
/* Lookup or insert (payload zeroed); when full, evicts the least recently
 * used entry first. Never fails once initialised. */
void *gtab_put(struct gtab *t, const struct gkey *k, bool *created);
void gtab_del(struct gtab *t, void *val);
const struct gkey *gtab_key(const struct gtab *t, const void *val);
/* Iterate over live entries: start with i = 0; returns NULL at the end. */
void *gtab_iter(const struct gtab *t, size_t *i);
uint64_t gtab_hash(uint64_t seed, const void *p, size_t n);
/* New capacity, keeping the most recent entries. 0 or ENOMEM. */
int gtab_resize(struct gtab *t, size_t cap);

/* ---- configuration (the "guard" section, parsed) ---- */

enum guard_scope { GUARD_SCOPE_SIP = 0, GUARD_SCOPE_ALL };

struct guard_cfg {
	unsigned fail_threshold;   /* failures ... */
	unsigned fail_window;      /* ... within seconds → ban */
	unsigned credit_hours;     /* success within → credited source */
	unsigned credit_threshold; /* threshold for credited sources */
	unsigned ban_base;         /* first ban, seconds */
	unsigned ban_max;          /* cap, seconds */
	unsigned ipv6_prefix;      /* 32..128 */
	unsigned dist_sources;     /* distinct failing sources on one ext */
	unsigned dist_window;      /* ... within seconds → distributed attack */
	unsigned dist_hold;        /* tarpit mode lasts seconds */
	unsigned tarpit_ms;
	unsigned rate, burst;           /* uncredited sources, req/s */
	unsigned rate_auth, burst_auth; /* credited sources */
	unsigned max_tracked;      /* bound of each accounting table */
	unsigned max_bans;
	enum guard_scope scope;
	bool offload;              /* try nftables */
	size_t n_scanner;
	char scanner[GUARD_SCANNERS][GUARD_SCANLEN];
	size_t n_trusted;
	struct gaddr trusted[GUARD_TRUST_MAX];
};

/* Defaults, then overlay a section object (as stored). Unknown or bad
 * values keep the default (the store validated them already). */
void guard_cfg_default(struct guard_cfg *c);
void guard_cfg_load(struct guard_cfg *c, const json_t *sec);

/* ---- per-source, per-pair, per-extension state ---- */

struct gsrc {
	uint32_t fail[GUARD_RING];  /* failure times, ms ticks */
	uint8_t nfail, head;
	uint8_t next_ext, n_ext;
	char ext[GUARD_EXTS][GUARD_EXTLEN];
	uint64_t last_ok;           /* ms, 0 = never authenticated */
	uint64_t tok_ms;            /* last token refill */
	uint32_t tokens;            /* milli-tokens */
	uint32_t failures;          /* total failures seen */
	uint64_t last_fail;         /* last counted (proven) failure */
	uint64_t scan_event;        /* last unproven scanner event */
	bool counted;               /* this request already in fail[] */
	bool scan_req;              /* this request had a scanner user agent
				     * (guard_request; its verdict follows) */
};

/* Credit: a source that authenticated successfully. Kept apart from the
 * source table, which every packet (forged ones too) may enter and evict
 * from: only a success inserts here, so a flood of forged sources cannot
 * evict an office's credit. gsrc.last_ok caches it (a source entry
 * evicted and created again takes it back from here). */
struct gcred {
	uint64_t last_ok;           /* ms */
	uint64_t ok_saved;          /* last_ok as last sent to the database */
};

struct gpair {
	uint32_t fail[GUARD_RING];
	uint8_t nfail, head;
	uint64_t last_ok;
	uint64_t last_stale_event;
	uint64_t last_tp_event;     /* transport_refused throttle */
	uint64_t blocked_until;     /* this ext from this source */
};

struct gext {
	uint64_t src[GUARD_DIST_MAX];   /* hashes of failing sources */
	uint64_t when[GUARD_DIST_MAX];
	uint8_t n, head;
	uint64_t attack_until;
	uint64_t last_alert;
};

struct gban {
	struct gaddr addr;
	char reason[16];
	char ext[GUARD_EXTS][GUARD_EXTLEN];
	uint8_t n_ext;
	uint32_t count;
	uint64_t since, until;      /* ms, unix */
	uint32_t offences;
	bool manual;
	bool ended;                 /* expiry reported (unban "expired") */
};

struct gtrust {
	struct gaddr net;
	uint64_t until;             /* ms, 0 = forever */
};

/* ---- worker (nftables + SQLite + security.log), a thread ---- */

enum gjob_kind {
	GJOB_NFT_SETUP, GJOB_BAN, GJOB_UNBAN, GJOB_EVENT, GJOB_TRUST,
	GJOB_STOP,
	GJOB_BAN_END,   /* mark the ban (addr, until) expired in the db */
	GJOB_CREDIT,    /* source ban.addr authenticated at until */
};

struct gjob {
	enum gjob_kind kind;
	char *text;                 /* malloc'd: nft script, event line */
	struct gban ban;            /* GJOB_BAN/UNBAN, GJOB_TRUST(addr) */
	uint64_t until;             /* GJOB_TRUST, GJOB_CREDIT */
	uint64_t cutoff;            /* GJOB_CREDIT: forget credit older */
	uint32_t keep;              /* GJOB_CREDIT: rows kept at most */
	bool nft;                   /* also change the kernel set */
	uint64_t seq;               /* set by gworker_push */
	struct gjob *next;
};

struct tmr;
struct gworker;
int gworker_start(struct gworker **wp, const char *data_dir,
		  const char *db_path, bool offload);
/* Queue a job (takes ownership); never blocks beyond a short mutex. If the
 * queue is full the job is dropped and counted. */
void gworker_push(struct gworker *w, struct gjob *j);
void gworker_stop(struct gworker *w);
/* Offload state for guard_status: "active", "unavailable (reason)",
 * "disabled", "starting". Copies into buf. */
void gworker_offload(struct gworker *w, char *buf, size_t sz, bool *active);
uint64_t gworker_dropped(struct gworker *w);
/* Storage (a full disk): the database part of a batch is written in one
 * transaction; if it fails its jobs wait, in order, and are tried again
 * every second with the jobs that came since (their kernel and log parts
 * are done at once). Each outcome goes to store/health.h (sources
 * "guard" and "security_log").
 * gworker_seq: the number of the last job pushed (loop thread, right
 * after the push it follows). gworker_wait: block until the database part
 * of every job up to seq was attempted (at most timeout_ms): 0 written,
 * EAGAIN waiting for a retry, ETIMEDOUT. gworker_storage: jobs waiting,
 * failed transactions, jobs given up (bounds), security.log lines lost. */
uint64_t gworker_seq(struct gworker *w);
int gworker_wait(struct gworker *w, uint64_t seq, unsigned timeout_ms);
void gworker_storage(struct gworker *w, uint64_t *pending, uint64_t *failed,
		     uint64_t *lost, uint64_t *log_lost);
/* Test hook: block until the queue is empty (bounded by timeout_ms). */
void gworker_flush(struct gworker *w, unsigned timeout_ms);

/* Rendering of nft commands (pure, unit-tested). */
int gnft_setup_script(char *buf, size_t sz, enum guard_scope scope,
		      const unsigned *ports, size_t n_ports,
		      unsigned rtp_start, unsigned rtp_end);
int gnft_ban_script(char *buf, size_t sz, const struct gaddr *a,
		    uint64_t timeout_s);
int gnft_unban_script(char *buf, size_t sz, const struct gaddr *a);
int gnft_withdraw_script(char *buf, size_t sz);

/* Persistence (called on the worker thread and at start): the guard's
 * types over the store's typed rows (store/guard_db.h). Loads keep what
 * was read before a failure and return 0. */
struct guard_db;
int gpersist_load_bans(struct guard_db *db, struct gban *out, size_t max,
		       size_t *n);
int gpersist_load_trust(struct guard_db *db, struct gtrust *out, size_t max,
			size_t *n);
/* Credit: sources with a success after cutoff (unix ms), most recent
 * first, at most max. */
struct gcredit {
	struct gaddr addr;
	uint64_t last_ok;
};
int gpersist_load_credit(struct guard_db *db, uint64_t cutoff,
			 struct gcredit *out, size_t max, size_t *n);
/* Insert or replace b's row. 0 or an errno (ENOSPC: disk full). */
int gpersist_put_ban(struct guard_db *db, const struct gban *b);

/* ---- the guard ---- */

typedef uint64_t (guard_clock_h)(void *arg);   /* unix ms */

struct guard {
	struct guard_cfg cfg;
	guard_clock_h *clock;
	void *clock_arg;
	uint64_t epoch;             /* ms; ring ticks are relative to it */
	struct gtab src, pair, ext, ban;
	struct gtab credit;         /* struct gcred, max_tracked entries */
	size_t n_trust;
	struct gtrust trust[GUARD_TRUST_MAX];
	struct gworker *worker;     /* NULL: no persistence, no offload */
	char sip_listen[64];
	unsigned ports[8];
	size_t n_ports;
	unsigned rtp_start, rtp_end;
	/* rate-limit aggregation */
	uint64_t rl_since;
	uint64_t rl_total;
	struct { struct gaddr a; uint64_t n; } rl_top[GUARD_RL_SLOTS];
	/* counters */
	struct {
		uint64_t packets, dropped_banned, dropped_rate;
		uint64_t scanner, auth_fail, auth_ok, stale, bans, tarpit;
		uint64_t distributed, events, events_suppressed;
		uint64_t unproven;     /* failures not counted: no proof */
		uint64_t transport;    /* right password, wrong transport */
		/* failures (auth_fail) by enum guard_auth, for /metrics */
		uint64_t fail_by[GUARD_AUTH_TRANSPORT + 1];
	} st;
	uint64_t ev_tokens, ev_tok_ms;   /* auth_failure event bucket */
	uint64_t ev2_tokens, ev2_tok_ms; /* every other limited event */
	/* events dropped by the buckets (per type, see guard.c) and by the
	 * worker's full queue, since sup_since: reported as one
	 * events_suppressed event per interval */
	uint64_t sup_since;
	uint64_t sup[GUARD_EV_TYPES];
	uint64_t sup_queue_seen;
	/* periodic sweep (guard_sweep): cursor into the ban table */
	size_t sweep_at;
	struct tmr *sweep_tmr;           /* NULL: tests call guard_sweep */
	/* storage transitions already reported (store_health_transitions) */
	uint64_t storage_deg, storage_rec;
	/* last events, for tests and status (ring of type names) */
	char last_event[32];
};

/* Alloc with an explicit clock (tests, bench) and an initial
 * configuration (NULL: defaults). conf may be NULL (no persistence, no
 * offload). */
int guard_alloc_clock(struct guard **gp, const struct guard_conf *conf,
		      guard_clock_h *clock, void *arg,
		      const struct guard_cfg *cfg);
/* Apply a parsed configuration directly (tests). */
void guard_set_cfg(struct guard *g, const struct guard_cfg *cfg);

/* event.c: the guard's clock (unix ms) and its events. */
uint64_t guard_now(const struct guard *g);
bool guard_trusted(struct guard *g, const struct gaddr *a, uint64_t now);
struct gban *guard_ban_find(struct guard *g, const struct gaddr *a,
			    uint64_t now);
int guard_ban_impose(struct guard *g, const struct gaddr *a,
		     const char *reason, const struct gsrc *s,
		     uint64_t secs, bool manual, uint64_t now);
/* Emit a security event (takes fields). guard_event is rate-limited
 * (a global bucket; the excess is counted per type and reported as one
 * events_suppressed event per GUARD_SUP_MS); guard_event_always is for
 * admin actions and the aggregated events themselves. */
void guard_event(struct guard *g, const char *type, json_t *fields);
void guard_event_always(struct guard *g, const char *type, json_t *fields);
/* Count one suppressed event of type (auth_failure's own bucket). */
void guard_event_suppressed(struct guard *g, const char *type);
/* A full bucket for a new guard. */
void guard_events_init(struct guard *g);
/* One events_suppressed event per GUARD_SUP_MS (force: now) with what
 * the buckets held back and the worker's full queue dropped. */
void guard_events_flush(struct guard *g, uint64_t now, bool force);
/* Periodic work, on the loop every GUARD_SWEEP_MS (a timer in
 * guard_alloc; tests call it directly): unban events for bans whose time
 * has passed (each once), the events_suppressed and rate_limited
 * aggregates. Looks at most GUARD_SWEEP_CHUNK ban entries per call. */
void guard_sweep(struct guard *g);
/* ban.c: report a ban whose time has passed (once: sets ended). */
void guard_ban_expired(struct guard *g, struct gban *b);
void guard_rl_flush(struct guard *g, uint64_t now, bool force);
void guard_nft_setup(struct guard *g);
bool guard_scanner_match(const struct guard_cfg *c, const char *ua,
			 size_t len);

#endif
