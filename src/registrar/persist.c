/*
 * persist — bindings in SQLite without ever blocking the loop: the loop
 * queues plain-data copies of changes (malloc, no libre mem: they cross
 * threads); a writer thread with its own connection applies them in
 * batches, one transaction per batch.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "registrar/registrar.h"
#include "store/health.h"

const char reg_persist_schema[] =
	"CREATE TABLE IF NOT EXISTS sip_bindings("
	" ext TEXT NOT NULL, uri TEXT NOT NULL, call_id TEXT NOT NULL,"
	" cseq INTEGER NOT NULL, user_agent TEXT NOT NULL,"
	" expires INTEGER NOT NULL, registered INTEGER NOT NULL,"
	" source TEXT NOT NULL, target TEXT NOT NULL,"
	" transport INTEGER NOT NULL, nat INTEGER NOT NULL,"
	" PRIMARY KEY (ext, uri)) WITHOUT ROWID;";

/* One queued change: a single malloc of plain data (it crosses to the
 * writer thread, which never reads loop memory); addresses are formatted
 * and the Call-ID hash written by the writer. */
struct op {
	struct op *next;
	uint8_t kind;              /* enum reg_op */
	uint8_t tp;
	bool nat;
	uint8_t ua_len;
	uint16_t uri_len;
	char ext[24];
	uint32_t cseq;
	uint64_t cid;
	int64_t expires, registered;
	struct sa src, target;
	char s[];                  /* uri NUL ua NUL */
};

struct reg_persist {
	sqlite3 *db;
	pthread_t thr;
	bool started;
	pthread_mutex_t mtx;
	pthread_cond_t cond, idle;
	struct op *head, *tail;
	size_t n, max;
	bool stop, busy;
	uint64_t queued, written, dropped;
	/* Changes of batches that could not be written (a full disk): kept in
	 * order, ahead of anything queued later, and tried again every
	 * PERSIST_RETRY_MS until they are in the database. Writer thread
	 * only; n_retry mirrored under mtx for the status. */
	struct op *retry;
	size_t n_retry;
	uint64_t failed;           /* batches that failed (each attempt) */
	int last_err;
	unsigned max_pages, set_pages;   /* test hook: PRAGMA max_page_count */
};

#define PERSIST_RETRY_MS 1000u

static void op_free(struct op *o)
{
	free(o);
}

static void ops_free(struct op *o)
{
	while (o) {
		struct op *nx = o->next;

		op_free(o);
		o = nx;
	}
}

/* Every result is checked: a batch is written whole or not at all, and
 * the caller keeps what was not written. 0, or the errno of the failure
 * (ENOSPC for a full disk). */
static int apply_batch(struct reg_persist *p, struct op *list)
{
	sqlite3_stmt *put = NULL, *del = NULL;
	int rc = 0, src;

	src = sqlite3_exec(p->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (src != SQLITE_OK)
		return store_sqlite_errno(p->db, src);
	if ((src = sqlite3_prepare_v2(p->db, "INSERT OR REPLACE INTO "
			       "sip_bindings(ext, uri, call_id, cseq,"
			       " user_agent, expires,"
			       " registered, source, target, transport, nat)"
			       " VALUES (?,?,?,?,?,?,?,?,?,?,?)", -1, &put,
			       NULL)) != SQLITE_OK ||
	    (src = sqlite3_prepare_v2(p->db, "DELETE FROM sip_bindings WHERE"
			       " ext=? AND uri=?", -1, &del, NULL))
	    != SQLITE_OK) {
		rc = store_sqlite_errno(p->db, src);
		goto out;
	}
	for (struct op *o = list; o && !rc; o = o->next) {
		sqlite3_stmt *st = o->kind == REG_OP_PUT ? put : del;
		char cid[24], srcs[64], tgt[64];

		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, o->ext, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, o->s, o->uri_len, SQLITE_STATIC);
		if (o->kind == REG_OP_PUT) {
			re_snprintf(cid, sizeof(cid), "#%016llx",
				    (unsigned long long)o->cid);
			re_snprintf(srcs, sizeof(srcs), "%J", &o->src);
			re_snprintf(tgt, sizeof(tgt), "%J", &o->target);
			sqlite3_bind_text(st, 3, cid, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 4, o->cseq);
			sqlite3_bind_text(st, 5, o->s + o->uri_len + 1,
					  o->ua_len, SQLITE_STATIC);
			sqlite3_bind_int64(st, 6, o->expires);
			sqlite3_bind_int64(st, 7, o->registered);
			sqlite3_bind_text(st, 8, srcs, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 9, tgt, -1, SQLITE_STATIC);
			sqlite3_bind_int(st, 10, o->tp);
			sqlite3_bind_int(st, 11, o->nat);
		}
		src = sqlite3_step(st);
		if (src != SQLITE_DONE)
			rc = store_sqlite_errno(p->db, src);
	}
	/* statements go before COMMIT: a pending one would keep a read
	 * transaction open */
	sqlite3_finalize(put);
	sqlite3_finalize(del);
	put = del = NULL;
	if (!rc) {
		src = sqlite3_exec(p->db, "COMMIT", NULL, NULL, NULL);
		if (src != SQLITE_OK)
			rc = store_sqlite_errno(p->db, src);
	}
 out:
	sqlite3_finalize(put);
	sqlite3_finalize(del);
	/* after SQLITE_FULL SQLite may have rolled back already; a second
	 * ROLLBACK then fails harmlessly */
	if (rc)
		sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static uint64_t op_key(const struct op *o)
{
	uint64_t h = 1469598103934665603ull;

	for (const char *c = o->ext; *c && c < o->ext + sizeof(o->ext); c++)
		h = (h ^ (uint8_t)*c) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	for (size_t i = 0; i < o->uri_len; i++)
		h = (h ^ (uint8_t)o->s[i]) * 1099511628211ull;
	return h;
}

static bool op_same(const struct op *a, const struct op *b)
{
	return !strncmp(a->ext, b->ext, sizeof(a->ext)) &&
	       a->uri_len == b->uri_len && !memcmp(a->s, b->s, a->uri_len);
}

/* Keep only the last change of each binding (ext, uri), in order: what
 * waits for a retry is then bounded by the number of bindings, however
 * long the disk stays full. *n is updated. Without memory for the index
 * the list is kept as it is. */
static struct op *coalesce(struct op *list, size_t *n)
{
	size_t cap = 16, mask, kept = 0;
	struct op **tab, *o, *head = NULL, **tail = &head;

	while (cap < *n * 2)
		cap <<= 1;
	tab = calloc(cap, sizeof(*tab));
	if (!tab)
		return list;
	mask = cap - 1;
	for (o = list; o; o = o->next) {
		size_t i = (size_t)op_key(o) & mask;

		while (tab[i] && !op_same(tab[i], o))
			i = (i + 1) & mask;
		tab[i] = o;      /* the later change wins */
	}
	for (o = list; o; ) {
		struct op *nx = o->next;
		size_t i = (size_t)op_key(o) & mask;

		while (tab[i] && !op_same(tab[i], o))
			i = (i + 1) & mask;
		if (tab[i] == o) {
			*tail = o;
			tail = &o->next;
			kept++;
		} else {
			op_free(o);
		}
		o = nx;
	}
	*tail = NULL;
	free(tab);
	*n = kept;
	return head;
}

static void deadline_in(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *writer(void *arg)
{
	struct reg_persist *p = arg;
	struct timespec retry_at = { 0, 0 };
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&p->mtx);
	for (;;) {
		struct op *batch, **end;
		size_t n;
		unsigned pages;
		int err;

		if (p->retry) {
			/* a full disk is not retried at the rate changes
			 * arrive: they wait in the queue for the next try */
			while (!p->stop && pthread_cond_timedwait(&p->cond,
					&p->mtx, &retry_at) != ETIMEDOUT)
				;
		} else {
			while (!p->head && !p->stop)
				pthread_cond_wait(&p->cond, &p->mtx);
			if (!p->head && p->stop)
				break;
		}
		/* retried changes first: a later change of the same binding
		 * must land after them */
		batch = p->retry;
		n = p->n_retry;
		for (end = &batch; *end; end = &(*end)->next)
			;
		*end = p->head;
		n += p->n;
		p->retry = NULL;
		p->head = p->tail = NULL;
		p->n = 0;
		p->busy = true;
		pages = p->max_pages != p->set_pages ? p->max_pages : 0;
		p->set_pages = p->max_pages;
		pthread_mutex_unlock(&p->mtx);

		if (pages) {
			char sql[64];

			snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%u",
				 pages);
			sqlite3_exec(p->db, sql, NULL, NULL, NULL);
		}
		err = batch ? apply_batch(p, batch) : 0;
		if (err) {
			char what[64];

			batch = coalesce(batch, &n);
			snprintf(what, sizeof(what), "%zu binding change%s "
				 "kept for a retry", n, n == 1 ? "" : "s");
			store_health_failed(STORE_HS_BINDINGS, err, what);
		} else if (batch) {
			ops_free(batch);
			store_health_ok(STORE_HS_BINDINGS);
		}
		pthread_mutex_lock(&p->mtx);
		if (err) {
			p->retry = batch;
			p->failed++;
			p->last_err = err;
			deadline_in(&retry_at, PERSIST_RETRY_MS);
		} else {
			p->written += n;
			n = 0;
		}
		p->n_retry = n;
		store_health_pending(STORE_HS_BINDINGS, n, 0);
		p->busy = false;
		pthread_cond_broadcast(&p->idle);
		if (p->stop && p->retry) {
			/* stopping on a full disk: the last try failed; what
			 * is left is lost, and counted */
			size_t lost = p->n_retry + p->n;

			ops_free(p->retry);
			ops_free(p->head);
			p->retry = p->head = p->tail = NULL;
			p->n_retry = p->n = 0;
			p->dropped += lost;
			store_health_pending(STORE_HS_BINDINGS, 0, lost);
			break;
		}
	}
	pthread_mutex_unlock(&p->mtx);
	return NULL;
}

static void persist_free(struct reg_persist *p)
{
	if (p->db)
		sqlite3_close(p->db);
	pthread_mutex_destroy(&p->mtx);
	pthread_cond_destroy(&p->cond);
	pthread_cond_destroy(&p->idle);
	free(p);
}

int reg_persist_open(struct reg_persist **pp, const char *db_path,
		     size_t max_queue)
{
	struct reg_persist *p;
	int err = 0;

	if (!pp || !db_path)
		return EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->max = max_queue ? max_queue : 100000;
	pthread_mutex_init(&p->mtx, NULL);
	pthread_cond_init(&p->cond, NULL);
	pthread_cond_init(&p->idle, NULL);
	if (sqlite3_open_v2(db_path, &p->db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL)
	    != SQLITE_OK) {
		err = EIO;
		goto out;
	}
	sqlite3_busy_timeout(p->db, 5000);
	sqlite3_exec(p->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
	sqlite3_exec(p->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
	/* 1 MiB of page cache is plenty for appending and replacing rows in
	 * batches (the default 2 MiB showed as ~20 bytes per binding at
	 * 100,000 in bench/binding_mem) */
	sqlite3_exec(p->db, "PRAGMA cache_size=-1024", NULL, NULL, NULL);
	if (sqlite3_exec(p->db, reg_persist_schema, NULL, NULL, NULL)
	    != SQLITE_OK) {
		err = EIO;
		goto out;
	}
 out:
	if (err) {
		persist_free(p);
		return err;
	}
	*pp = p;
	return 0;
}

static int start_thread(struct reg_persist *p)
{
	if (p->started)
		return 0;
	if (pthread_create(&p->thr, NULL, writer, p))
		return EAGAIN;
	p->started = true;
	return 0;
}

void reg_persist_change(enum reg_op op, const struct reg_binding *b,
			void *persist)
{
	struct reg_persist *p = persist;
	size_t ual;
	struct op *o;

	if (!p || !b || !b->ext)
		return;
	if (start_thread(p)) {
		pthread_mutex_lock(&p->mtx);
		p->dropped++;
		pthread_mutex_unlock(&p->mtx);
		return;
	}
	ual = op == REG_OP_PUT && b->ua ? b->ua->len : 0;
	o = malloc(sizeof(*o) + b->uri_len + 1 + ual + 1);
	if (!o)
		goto drop;
	memset(o, 0, sizeof(*o));
	o->kind = (uint8_t)op;
	memcpy(o->ext, b->ext->number, sizeof(o->ext));
	o->uri_len = b->uri_len;
	memcpy(o->s, reg_binding_uri(b), b->uri_len + 1u);
	o->ua_len = (uint8_t)ual;
	memcpy(o->s + b->uri_len + 1, reg_binding_ua(b), ual);
	o->s[b->uri_len + 1 + ual] = '\0';
	if (op == REG_OP_PUT) {
		o->cid = b->cid;
		o->cseq = b->cseq;
		o->expires = b->expires;
		o->registered = b->registered;
		o->src = b->src;
		o->target = *reg_binding_target(b);
		o->tp = b->tp;
		o->nat = b->nat;
	}
	pthread_mutex_lock(&p->mtx);
	if (p->n >= p->max) {
		pthread_mutex_unlock(&p->mtx);
		goto drop;
	}
	if (p->tail)
		p->tail->next = o;
	else
		p->head = o;
	p->tail = o;
	p->n++;
	p->queued++;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mtx);
	return;
 drop:
	op_free(o);
	pthread_mutex_lock(&p->mtx);
	p->dropped++;
	pthread_mutex_unlock(&p->mtx);
}

int reg_persist_load(struct reg_persist *p, struct reg_loc *l, int64_t now,
		     reg_keep_h *keep, void *arg, size_t *count)
{
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	int rc;

	if (!p || !l)
		return EINVAL;
	/* Expired rows go first; then read the rest */
	sqlite3_stmt *del = NULL;
	if ((rc = sqlite3_prepare_v2(p->db, "DELETE FROM sip_bindings WHERE "
				     "expires <= ?", -1, &del, NULL))
	    == SQLITE_OK) {
		sqlite3_bind_int64(del, 1, now);
		rc = sqlite3_step(del);
	}
	sqlite3_finalize(del);
	/* Housekeeping only (expired rows are skipped below anyway): a full
	 * disk must not keep the bindings from being restored. */
	if (rc != SQLITE_OK && rc != SQLITE_DONE)
		store_health_failed(STORE_HS_BINDINGS,
				    store_sqlite_errno(p->db, rc),
				    "deleting expired bindings at start");
	if (sqlite3_prepare_v2(p->db, "SELECT ext, uri, call_id, cseq, "
			       "user_agent, expires, registered, source, "
			       "target, transport, nat FROM sip_bindings",
			       -1, &st, NULL) != SQLITE_OK)
		return EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *ext = (const char *)sqlite3_column_text(st, 0);
		const char *uri = (const char *)sqlite3_column_text(st, 1);
		const char *cid = (const char *)sqlite3_column_text(st, 2);
		const char *ua = (const char *)sqlite3_column_text(st, 4);
		const char *src = (const char *)sqlite3_column_text(st, 7);
		const char *tgt = (const char *)sqlite3_column_text(st, 8);
		struct sa s, t;
		struct reg_ext *e;

		if (!ext || !uri || !cid || !src || !tgt)
			continue;
		if (keep && !keep(ext, arg))
			continue;
		if (sa_decode(&s, src, strlen(src)) ||
		    sa_decode(&t, tgt, strlen(tgt)))
			continue;
		e = reg_ext_find(l, ext, strlen(ext));
		if (e && e->n >= 64)
			continue;
		if (!reg_restore(l, ext, uri, cid,
				 (uint32_t)sqlite3_column_int64(st, 3), ua,
				 sqlite3_column_int64(st, 5),
				 sqlite3_column_int64(st, 6), &s, &t,
				 (uint8_t)sqlite3_column_int(st, 9),
				 sqlite3_column_int(st, 10) != 0))
			n++;
	}
	sqlite3_finalize(st);
	if (count)
		*count = n;
	return rc == SQLITE_DONE ? 0 : EIO;
}

void reg_persist_stats(struct reg_persist *p, uint64_t *queued,
		       uint64_t *written, uint64_t *dropped)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mtx);
	if (queued)
		*queued = p->queued;
	if (written)
		*written = p->written;
	if (dropped)
		*dropped = p->dropped;
	pthread_mutex_unlock(&p->mtx);
}

void reg_persist_retry_stats(struct reg_persist *p, uint64_t *pending,
			     uint64_t *failed)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mtx);
	if (pending)
		*pending = p->n_retry;
	if (failed)
		*failed = p->failed;
	pthread_mutex_unlock(&p->mtx);
}

void reg_persist_limit_pages(struct reg_persist *p, unsigned pages)
{
	if (!p || !pages)
		return;
	pthread_mutex_lock(&p->mtx);
	p->max_pages = pages;
	if (!p->started)
		p->set_pages = 0;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mtx);
}

int reg_persist_flush(struct reg_persist *p, unsigned timeout_ms)
{
	struct timespec ts;
	int err = 0;

	if (!p)
		return EINVAL;
	deadline_in(&ts, timeout_ms);
	pthread_mutex_lock(&p->mtx);
	while ((p->head || p->busy) && !err)
		err = pthread_cond_timedwait(&p->idle, &p->mtx, &ts);
	if (!err && p->retry)
		err = EAGAIN;
	pthread_mutex_unlock(&p->mtx);
	return err;
}

void reg_persist_close(struct reg_persist *p)
{
	if (!p)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->mtx);
		p->stop = true;
		pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->mtx);
		pthread_join(p->thr, NULL);
	}
	persist_free(p);
}
