/*
 * store internals — shared by the store's own files only (not a contract).
 */
#ifndef BULWARK_STORE_INT_H
#define BULWARK_STORE_INT_H

#include <pthread.h>
#include <time.h>
#include <stdbool.h>
#include <stdint.h>
#include <sqlite3.h>
#include <sodium.h>
#include <jansson.h>

#include "common/report.h"
#include "policy/policy.h"
#include "model/model.h"
#include "store/health.h"
#include "store/store.h"
#include "store/snapshot.h"

#define STORE_KEY_LEN 32
#define STORE_MASK "********"
#define STORE_PREV_TTL (7 * 24 * 3600)
#define STORE_DEFAULT_REALM "bulwark"
#define STORE_MAX_SECTIONS 16
#define STORE_STMT_CACHE 48
#define STORE_FP_LEN 16          /* keyed SIP-password fingerprint */
#define STORE_LOG_KEEP 1000      /* commit_log rows kept */
#define STORE_MIRROR_IDLE_S 30   /* mirror freed this long after last use */

/* Secret fields and the column that holds each at rest. */
enum store_sec {
	SEC_SIP_PW = 0,    /* auth.password, secretbox */
	SEC_VM_PIN,        /* voicemail.pin, secretbox */
	SEC_CALL_PW,       /* security.call_password, secretbox */
	SEC_HOTDESK_PIN,   /* hotdesk.pin, secretbox */
	SEC_WEB_HASH,      /* web.password, argon2id string */
	SEC_N
};

struct store_secdef {
	const char *field;
	const char *column;
	bool hashed;       /* one-way (argon2id) rather than encrypted */
};
extern const struct store_secdef store_secdefs[SEC_N];

/* The secret in slot (enum above) of number's running row against what
 * was typed, in constant time (callpw.c). type >= 0: only an extension of
 * that model type counts. *exists (may be NULL): the extension is of the
 * type and has the secret; *ok: it matched. 0, or an errno (ENOENT: no
 * such extension). */
int store_secret_check(struct store *s, const char *number, int slot,
		       int type, const char *typed, bool *exists, bool *ok);
int store_sec_index(const char *field);   /* -1 if not a secret */

struct blob {
	unsigned char *p;
	size_t len;
};

/* One extension row as stored (staged or running). */
struct ext_row {
	char number[24];
	enum model_type type;
	char *doc;                 /* JSON text without secrets */
	json_t *obj;               /* parsed doc (lazy) */
	struct blob sec[SEC_N];
	bool must_change;
	bool has_fp;               /* fp of sec[SEC_SIP_PW] is known */
	unsigned char fp[STORE_FP_LEN];
	/* running only */
	char ha1_md5[33];
	char ha1_sha256[65];
	char prev_md5[33];
	char prev_sha256[65];
	int64_t prev_until;
	struct snap_ext *snap;     /* running mirror rows: built once */
};

struct store {
	pthread_mutex_t lock;
	sqlite3 *db;
	char *db_path;
	unsigned char key[STORE_KEY_LEN];
	unsigned char fpkey[STORE_KEY_LEN];  /* subkey for fingerprints */
	struct policy_dict *dict;
	json_t *dict_status;   /* what dict_load read: store_dict_status */
	struct {
		char *sql;
		sqlite3_stmt *st;
	} stc[STORE_STMT_CACHE];   /* prepared statements (store_prep) */
	size_t nstc;
	/* In-memory mirror of ext_staged and ext_running (mirror.c), both
	 * sorted by number, current while valid and gen equals the
	 * database's meta.ext_gen. Staged rows hold their parsed doc with
	 * MODEL_SECRET_MASK for each secret present (never modified once
	 * here; shared by reference); running rows hold doc, obj lazily. */
	struct {
		bool valid;
		int64_t gen;
		struct ext_row *st, *ru;
		size_t ns, nr;
		struct timespec used;   /* CLOCK_MONOTONIC of last use */
	} mir;
	/* The janitor thread frees the mirror STORE_MIRROR_IDLE_S after its
	 * last use (mirror.c). */
	struct {
		pthread_t th;
		pthread_cond_t cv;
		bool on, stop;
	} jan;
};

/* migrate.c */
int store_migrate(sqlite3 *db);

/* conn.c: open path for a writer thread of its own (busy timeout, WAL)
 * and migrate it. *dbp set only on success; 0, EINVAL or EIO. */
int store_conn_open(const char *path, sqlite3 **dbp);
/* One transaction around a writer's batch on such a connection:
 * begin/commit return 0 or the errno of the failure (store_sqlite_errno:
 * ENOSPC for a full disk); roll back after any failure. */
int store_conn_begin(sqlite3 *db);
int store_conn_commit(sqlite3 *db);
void store_conn_rollback(sqlite3 *db);
/* Test hook: the database may hold at most pages pages (a full disk;
 * SQLite keeps at least the current size). */
void store_conn_max_pages(sqlite3 *db, unsigned pages);

/* secrets.c */
int store_key_load(const char *data_dir, unsigned char key[STORE_KEY_LEN]);
int store_seal(const struct store *s, const char *plain, struct blob *out);
/* Decrypt into a new NUL-terminated malloc'd string (caller wipes with
 * store_wipe). */
int store_open_blob(const struct store *s, const struct blob *b, char **out);
void store_wipe(char *p);       /* sodium_memzero + free; NULL-safe */
int store_hash_web(const char *plain, struct blob *out);
void store_fp_key(struct store *s);
void store_sip_fp(const struct store *s, const char *pw,
		  unsigned char fp[STORE_FP_LEN]);
void store_ha1(const char *user, const char *realm, const char *pw,
	       char md5[33], char sha256[65]);
void blob_free(struct blob *b);
int blob_copy(struct blob *dst, const struct blob *src);
bool blob_eq(const struct blob *a, const struct blob *b);

/* section_secrets.c: a section's secret keys (store_section.secrets). */
bool store_section_is_secret(const struct store_section *sec,
			     const char *key);
/* Whether v is a sealed value that opens under the store's key. */
bool store_section_sealed_ok(const struct store *s, const char *v);
/* Seal obj[key] in place (a non-empty clear string; a sealed one stays). */
int store_section_seal(const struct store *s, json_t *obj, const char *key);
/* Secrets of one section object / of {"name":{...}} as "set" or "". */
void store_section_mask(const struct store_section *sec, json_t *obj);
void store_sections_mask(json_t *all);
/* A deep copy of {"name":{...}} with every secret opened ("" when it
 * cannot be); free it with store_sections_wipe. */
json_t *store_sections_open(const struct store *s, const json_t *all);
void store_sections_wipe(json_t *opened);

/* trunk_dids.c (trunk, issue 15): each DID of the staged "trunks"
 * section names a staged extension (rows sorted by number; only read:
 * not const because clang's analyzer takes a const pointer for one that
 * does not escape and then reports the commit's rows as leaked). */
void store_trunk_dids_check(const json_t *secs, struct ext_row *rows,
			    size_t n, struct report *r);

/* sections.c */
size_t store_section_count(void);
const struct store_section *store_section_at(size_t i);
const struct store_section *store_section_lookup(const char *name);
void store_sections_builtin(void);
/* Section object (defaults overlaid with stored values). New ref. */
int store_section_load(struct store *s, const char *name, enum store_view v,
		       json_t **out);
/* Every registered section as {"name":{...}}. New ref. */
int store_sections_load(struct store *s, enum store_view v, json_t **out);
int store_sections_init(struct store *s);
/* struct policy from a "policy" section object. */
void store_policy_from(const json_t *obj, struct policy *p);
int store_policy_load(struct store *s, enum store_view v, struct policy *p);
void store_realm_from(const json_t *sections, char *buf, size_t sz);
char *store_scalar_text(const json_t *v);  /* malloc'd */

/* json.c, db.c (transactions, statements), rows.c, stage.c, pending.c */
char *store_json_text(const json_t *v, bool sort);   /* malloc'd */
int store_prep(struct store *s, const char *sql, sqlite3_stmt **stp);
void store_unprep(sqlite3_stmt *st);
/* Transactions. begin/commit return 0 or the errno of the failure
 * (ENOSPC: the disk is full; store_db_fail). A commit that works tells
 * store/health.h the database takes writes again. */
int store_tx_begin(struct store *s);
int store_tx_commit(struct store *s);
void store_tx_rollback(struct store *s);
/* A write on s->db failed with rc (0: the connection's last error):
 * reported to store/health.h (source "config") unless it is about
 * locking or memory; returns the errno (store_sqlite_errno). */
int store_db_fail(struct store *s, int rc);
/* Test hook (unit tests): the database may hold at most pages pages, as
 * if the disk were full beyond them (SQLite keeps at least the current
 * size). */
void store_test_max_pages(struct store *s, unsigned pages);
int store_rows_load(struct store *s, enum store_view v,
		    struct ext_row **rowsp, size_t *np);
void store_rows_free(struct ext_row *rows, size_t n);
int store_rows_each(struct store *s, enum store_view v,
		    int (*fn)(struct ext_row *row, void *arg), void *arg);
void store_trim(void);   /* malloc_trim after a big operation */
void ext_row_clear(struct ext_row *row);
int store_row_write(struct store *s, enum store_view v,
		    const struct ext_row *row);
json_t *ext_row_obj(struct ext_row *row);
bool store_ext_exists(struct store *s, enum store_view v, const char *number);
int store_row_get(struct store *s, enum store_view v, const char *number,
		  struct ext_row *row);

/* CHECK_WEB: checked once, when set (the store keeps only a hash), and
 * never auto-fixed (nothing could hand a generated one to its owner). */
enum check_kind { CHECK_NONE, CHECK_SIP, CHECK_PIN, CHECK_WEB };
enum check_kind store_sec_check(int i);

/* features.c: the "features" and "cos" sections (built in), and the
 * commit's check that every extension's class_of_service names a class
 * of the staged "cos" section (rule cos.unknown). */
extern const struct store_section store_features_section;
extern const struct store_section store_cos_section;
void store_cos_check(const json_t *cos, json_t *const *objs, size_t n,
		     struct report *errs);
void json_wipe(json_t *v);
void store_ext_wipe(json_t *ext);
bool store_force_new_user(const json_t *ext);
char *store_running_secret(struct store *s, const char *number, int idx);
int store_check_secret(struct store *s, const struct policy *p, int idx,
		       const char *value, const json_t *ext,
		       const char *previous, const char *where,
		       struct report *errs, struct report *warns,
		       bool *must_change);
int store_stage_prepare(struct store *s, const struct policy *p, json_t *ext,
			const struct ext_row *old, const char *where,
			struct report *errs, struct report *warns,
			struct ext_row *row);
void store_apply_fields(json_t *ext, enum model_type t, const json_t *fields,
			const char *where, struct report *errs);
int store_ext_from_fields(struct store *s, const json_t *fields,
			  const char *where, struct report *errs,
			  json_t **extp);
int store_generate(struct store *s, const struct policy *p, json_t *ext,
		   unsigned gen, json_t *generated);
/* Write staged rows in one transaction; on success the rows are moved
 * into the mirror (each left cleared). */
int store_rows_stage(struct store *s, struct ext_row *rows, size_t n);
int store_row_delete(struct store *s, const char *number);

struct pwent {
	unsigned char h[16];
	char where[32];
	char number[24];
	size_t idx;
	bool fresh;
};
void store_pw_digest(const unsigned char key[32], const char *pw,
		     unsigned char h[16]);
void store_pw_sort(struct pwent *e, size_t n);
void store_pw_dups(struct pwent *e, size_t n, struct report *errs);
int store_check_unique(struct store *s, const struct policy *p,
		       const struct ext_row *fresh, const char *const *where,
		       size_t nfresh, struct report *errs);
int store_diff(struct ext_row *st, size_t ns, struct ext_row *ru, size_t nr,
	       json_t *stsec, json_t *rusec, json_t *diff, json_t *changed);

/* mirror.c */
int store_gen_bump(struct store *s, int64_t *gen);   /* inside a tx */
int store_mirror_sync(struct store *s);
void store_mirror_drop(struct store *s);   /* mark stale */
void store_mirror_free(struct store *s);
/* Sync if the mirror is resident (or valid); a cold mirror is left to
 * the next commit, so a one-row edit does not load every row. */
void store_mirror_sync_warm(struct store *s);
int store_janitor_start(struct store *s);
void store_janitor_stop(struct store *s);   /* before the lock goes */
/* After a committed write that bumped ext_gen to gen: */
void store_mirror_put(struct store *s, struct ext_row *rows, size_t n,
		      int64_t gen);
void store_mirror_del(struct store *s, const char *number, int64_t gen);
int store_mirror_mask(struct ext_row *row);
int store_fp_backfill(struct store *s);

/* snapshot.c */
/* cache: keep each row's snap_ext in row->snap and reuse it (only for
 * rows the caller owns, i.e. the running mirror). */
int store_snapshot_build(struct ext_row *rows, size_t n, bool cache,
			 const json_t *sections, uint64_t version,
			 struct snapshot **snapp);

/* A growing NUL-terminated string (CSV export, the JSON writer). After a
 * failed allocation err is ENOMEM and further appends are ignored. */
struct store_buf {
	char *p;
	size_t len, cap;
	int err;
};

void store_buf_add(struct store_buf *b, const char *s, size_t n);

#endif
